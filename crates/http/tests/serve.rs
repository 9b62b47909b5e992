//! The serving layer under hostile clients, on loopback: idle and silent connections, slow
//! bodies, slot exhaustion. Each case held a connection (or every slot) for minutes before the
//! layer existed; the waits below are bounds that turn a hang into a failure, not speed
//! assertions.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rampart_http::serve::{CloseLabels, CloseReason, Limits, ServeMetrics, Server};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

mod common;
use common::client_config;

/// Bound on every wait: a server that does not act within it has hung.
const BOUND: Duration = Duration::from_secs(10);

/// The test app; `started` is notified whenever `/echo` starts: a request is then in flight
/// (no sleeps to guess it).
fn app(started: Arc<tokio::sync::Notify>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/echo",
            post(|b: axum::body::Body| async move {
                started.notify_one();
                match axum::body::to_bytes(b, 32 << 20).await {
                    Ok(b) => b.len().to_string(),
                    Err(e) => e.to_string(),
                }
            }),
        )
        .layer(DefaultBodyLimit::max(32 << 20))
}

struct Running {
    addr: SocketAddr,
    server: Server,
    metrics: ServeMetrics,
    started: Arc<tokio::sync::Notify>,
    cancel: CancellationToken,
    trust: Option<CertificateDer<'static>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn start(limits: Limits, tls: bool) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let metrics = ServeMetrics::default();
    let server = Server::new(limits, None, metrics.clone());
    let cancel = CancellationToken::new();
    let (config, trust) = if tls {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let dir = std::env::temp_dir().join(format!(
            "rampart-serve-{}-{}",
            std::process::id(),
            addr.port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("c.pem"), c.cert.pem()).unwrap();
        std::fs::write(dir.join("k.pem"), c.signing_key.serialize_pem()).unwrap();
        let cert = Arc::new(
            rampart_http::tls::ReloadingCert::load(&dir.join("c.pem"), &dir.join("k.pem")).unwrap(),
        );
        let _ = std::fs::remove_dir_all(&dir);
        (
            Some(rampart_http::tls::server_config(cert).unwrap()),
            Some(c.cert.der().clone()),
        )
    } else {
        (None, None)
    };
    let (s, stop) = (server.clone(), cancel.clone());
    let started = Arc::new(tokio::sync::Notify::new());
    let app = app(started.clone());
    tokio::spawn(async move { s.serve(listener, config, app, stop).await });
    Running {
        addr,
        server,
        metrics,
        started,
        cancel,
        trust,
    }
}

async fn tls_connect(r: &Running, alpn: &[u8]) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(r.addr).await.unwrap();
    tokio_rustls::TlsConnector::from(client_config(r.trust.as_ref().unwrap(), alpn))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// Reads until the peer closes (or `BOUND` passes: then the test fails).
async fn read_to_close<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    let mut out = Vec::new();
    let r = tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(r.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&out).into_owned()
}

/// One `GET /healthz` on a fresh plain connection.
async fn get_health(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    read_to_close(&mut s).await
}

/// Connections the server closed for `reason`.
fn closed(r: &Running, reason: CloseReason) -> u64 {
    r.metrics
        .closed
        .get_or_create(&CloseLabels {
            reason: reason.as_str(),
        })
        .get()
}

#[tokio::test]
async fn idle_tls_connections_cannot_take_every_slot() {
    let limits = Limits {
        max_connections: 16,
        header_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let r = start(limits, true).await;
    // Every slot taken by a completed handshake that never sends a byte.
    let mut idle = Vec::new();
    for _ in 0..16 {
        idle.push(tls_connect(&r, b"http/1.1").await);
    }
    // A fresh client still gets through: the longest-idle connection makes room.
    let tls = tokio::time::timeout(BOUND, tls_connect(&r, b"h2"))
        .await
        .expect("the handshake of a fresh client completes");
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get("https://localhost/healthz")
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .unwrap();
    let resp = tokio::time::timeout(BOUND, h2.send_request(req))
        .await
        .expect("a fresh request is answered")
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(r.server.open_connections() <= 16);
    assert_eq!(closed(&r, CloseReason::Evicted), 1);
    // The oldest idle connection was the one closed.
    let first = read_to_close(&mut idle[0]).await;
    assert!(first.is_empty(), "{first}");
}

#[tokio::test]
async fn silent_connections_are_closed_after_the_header_timeout() {
    let limits = Limits {
        header_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    for tls in [false, true] {
        let r = start(limits, tls).await;
        if tls {
            // Handshake done, then nothing: hyper's auto builder waits for the preface.
            let mut s = tls_connect(&r, b"http/1.1").await;
            read_to_close(&mut s).await;
        } else {
            let mut nothing = TcpStream::connect(r.addr).await.unwrap();
            let mut one_byte = TcpStream::connect(r.addr).await.unwrap();
            one_byte.write_all(b"G").await.unwrap();
            read_to_close(&mut nothing).await;
            read_to_close(&mut one_byte).await;
        }
        assert_eq!(
            closed(&r, CloseReason::HeaderTimeout),
            if tls { 1 } else { 2 }
        );
        assert_eq!(r.server.open_connections(), 0);
    }
}

#[tokio::test]
async fn a_tls_handshake_that_never_finishes_is_dropped() {
    let limits = Limits {
        handshake_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let r = start(limits, true).await;
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    // A ClientHello record header announcing bytes that never come.
    s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).await.unwrap();
    read_to_close(&mut s).await;
    assert_eq!(closed(&r, CloseReason::HandshakeTimeout), 1);
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408() {
    let limits = Limits {
        request_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let r = start(limits, false).await;
    // Announces 10 MB, sends 1 KB.
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
        .await
        .unwrap();
    s.write_all(&[b'a'; 1024]).await.unwrap();
    let out = read_to_close(&mut s).await;
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    assert_eq!(closed(&r, CloseReason::RequestTimeout), 1);
}

#[tokio::test]
async fn a_trickled_chunked_body_gets_408() {
    let limits = Limits {
        request_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let r = start(limits, false).await;
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    // One byte every 50 ms, for longer than the request timeout; the writer stops once the
    // server has answered and closed.
    let (mut rd, mut wr) = s.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..200 {
            if wr.write_all(b"1\r\na\r\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let out = read_to_close(&mut rd).await;
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    trickle.abort();
}

#[tokio::test]
async fn idle_http2_connections_get_a_goaway() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let r = start(limits, true).await;
    let tls = tls_connect(&r, b"h2").await;
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get("https://localhost/healthz")
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .unwrap();
    assert_eq!(h2.send_request(req).await.unwrap().status(), 200);
    // Nothing more is sent: the server ends the connection cleanly.
    let ended = tokio::time::timeout(BOUND, conn).await;
    assert!(ended.is_ok(), "the idle HTTP/2 connection was kept");
    assert_eq!(closed(&r, CloseReason::Idle), 1);
}

#[tokio::test]
async fn a_flood_of_half_open_plain_connections_leaves_room_for_a_request() {
    let limits = Limits {
        max_connections: 32,
        header_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let r = start(limits, false).await;
    let mut flood = Vec::new();
    for _ in 0..100 {
        let mut s = TcpStream::connect(r.addr).await.unwrap();
        let _ = s.write_all(b"G").await;
        flood.push(s);
    }
    let out = tokio::time::timeout(BOUND, get_health(r.addr))
        .await
        .expect("a fresh request is answered");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(r.server.open_connections() <= 32);
    assert!(closed(&r, CloseReason::Evicted) >= 68);
}

#[tokio::test]
async fn requests_in_flight_are_never_evicted() {
    let limits = Limits {
        max_connections: 2,
        header_timeout: Duration::from_secs(60),
        request_timeout: Duration::from_millis(1500),
        ..Limits::default()
    };
    let r = start(limits, false).await;
    // A request in flight (its body still coming) and an idle connection fill both slots.
    let mut busy = TcpStream::connect(r.addr).await.unwrap();
    let started = r.started.notified();
    busy.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .unwrap();
    tokio::time::timeout(BOUND, started).await.unwrap();
    let mut idle = TcpStream::connect(r.addr).await.unwrap();
    // The idle connection is in the table once the server answers on another connection
    // after it (accepts are handled in order).
    let _ = get_health_keep(&r).await;
    // A fresh request evicts the idle one, not the busy one.
    let out = get_health(r.addr).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(read_to_close(&mut idle).await.is_empty());
    // The busy request ends by its own timeout, with an answer rather than a reset.
    let out = read_to_close(&mut busy).await;
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    assert!(closed(&r, CloseReason::Evicted) >= 1);
    assert_eq!(closed(&r, CloseReason::RequestTimeout), 1);
}

/// A request on a connection kept for the caller (it takes a slot like any other).
async fn get_health_keep(r: &Running) -> TcpStream {
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(BOUND, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    s
}

#[tokio::test]
async fn a_flood_from_one_address_displaces_only_its_own_connections() {
    let limits = Limits {
        max_connections: 64,
        max_connections_per_peer: 8,
        header_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let r = start(limits, false).await;
    // Four connections from 127.0.0.1 that have not sent anything yet (the most evictable
    // kind), then a flood from 127.0.0.2.
    let mut mine = Vec::new();
    for _ in 0..4 {
        mine.push(TcpStream::connect(r.addr).await.unwrap());
    }
    let flooder = "127.0.0.2:0".parse::<SocketAddr>().unwrap();
    let mut flood = Vec::new();
    for _ in 0..50 {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(flooder).unwrap();
        flood.push(sock.connect(r.addr).await.unwrap());
    }
    // The server has taken every connection in once it answers a request after them.
    drop(get_health_keep(&r).await);
    assert!(closed(&r, CloseReason::Evicted) >= 42);
    // Ours are all still open: a read would block rather than see the end.
    for s in &mut mine {
        let mut buf = [0u8; 1];
        let r = tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await;
        assert!(r.is_err(), "a connection of another peer was closed");
    }
    assert!(r.server.open_connections() <= 4 + 8 + 1);
}

#[tokio::test]
async fn a_slow_http2_stream_ends_its_connection() {
    let limits = Limits {
        request_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let r = start(limits, true).await;
    let tls = tls_connect(&r, b"h2").await;
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    // A body that never ends: the stream times out, and the connection gets a GOAWAY instead
    // of living on (HTTP/2 has no `Connection: close`).
    let (_tx, body) = futures_channel_body();
    let req = hyper::Request::post("https://localhost/echo")
        .body(body)
        .unwrap();
    let resp = tokio::time::timeout(BOUND, h2.send_request(req))
        .await
        .expect("answered")
        .unwrap();
    assert_eq!(resp.status(), 408);
    assert!(
        tokio::time::timeout(BOUND, conn).await.is_ok(),
        "the connection was kept"
    );
}

/// One frame of a streamed request body.
type Chunk = Result<hyper::body::Frame<hyper::body::Bytes>, std::io::Error>;

/// A request body that stays open until its sender is dropped.
fn futures_channel_body() -> (
    tokio::sync::mpsc::Sender<Chunk>,
    http_body_util::StreamBody<tokio_stream_shim::Receiver<Chunk>>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    (
        tx,
        http_body_util::StreamBody::new(tokio_stream_shim::Receiver(rx)),
    )
}

/// `mpsc::Receiver` as a `Stream` (what tokio-stream's wrapper does, in a few lines).
mod tokio_stream_shim {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub struct Receiver<T>(pub tokio::sync::mpsc::Receiver<T>);

    impl<T> futures_util::Stream for Receiver<T> {
        type Item = T;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.0.poll_recv(cx)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_client_is_served_while_1100_idle_tls_connections_are_held() {
    // 1,100 client sockets here and up to 1,024 in the server: raise the soft descriptor
    // limit as the binary does.
    let budget = rampart_http::serve::fd_budget().unwrap_or(0);
    assert!(
        budget >= 2_048,
        "this test needs a descriptor limit of 4,096 or more (half is {budget})"
    );
    let limits = Limits {
        // Idle connections must be shed for being idle, not for timing out, and by the
        // process-wide cap (all of them come from 127.0.0.1).
        header_timeout: Duration::from_secs(60),
        max_connections_per_peer: 4_096,
        ..Limits::default()
    };
    let r = start(limits, true).await;
    let mut held = Vec::new();
    for _ in 0..1_100 {
        held.push(tls_connect(&r, b"http/1.1").await);
    }
    let tls = tokio::time::timeout(BOUND, tls_connect(&r, b"h2"))
        .await
        .expect("the handshake of a fresh client completes");
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get("https://localhost/healthz")
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .unwrap();
    let resp = tokio::time::timeout(BOUND, h2.send_request(req))
        .await
        .expect("a fresh request is answered")
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(r.server.open_connections() <= Limits::default().max_connections);
    // 1,101 connections for 1,024 slots: the longest-idle ones made room.
    assert!(closed(&r, CloseReason::Evicted) >= 77);
    let first = read_to_close(&mut held[0]).await;
    assert!(first.is_empty(), "{first}");
}
