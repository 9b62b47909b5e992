//! The webhook over real TLS: HTTP/1.1 and HTTP/2 (by ALPN), and a certificate rotated under a
//! running server without dropping the connections already open.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rampart_http::admission::{AdmissionState, router};
use rampart_http::metrics::Metrics;
use rampart_http::serve::{Limits, Server};
use rampart_http::tls::{ReloadingCert, server_config};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("rampart-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Pki { dir }
    }
    fn cert(&self) -> PathBuf {
        self.dir.join("tls.crt")
    }
    fn key(&self) -> PathBuf {
        self.dir.join("tls.key")
    }
    /// Writes a fresh self-signed pair; returns the certificate (DER).
    fn issue(&self) -> CertificateDer<'static> {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        // Write to temporary names and rename, as kubelet's atomic writer does.
        let (tc, tk) = (self.dir.join(".crt.tmp"), self.dir.join(".key.tmp"));
        std::fs::write(&tc, c.cert.pem()).unwrap();
        std::fs::write(&tk, c.signing_key.serialize_pem()).unwrap();
        std::fs::rename(&tk, self.key()).unwrap();
        std::fs::rename(&tc, self.cert()).unwrap();
        c.cert.der().clone()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start(pki: &Pki) -> (std::net::SocketAddr, Arc<ReloadingCert>, CancellationToken) {
    let cert = Arc::new(ReloadingCert::load(&pki.cert(), &pki.key()).unwrap());
    let config = server_config(cert.clone()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cancel = CancellationToken::new();
    let state = Arc::new(AdmissionState::default());
    let server = Server::new(Limits::default(), None, Default::default());
    let stop = cancel.clone();
    tokio::spawn(async move {
        server
            .serve(listener, Some(config), router(state), stop)
            .await
    });
    (addr, cert, cancel)
}

type Conn = (
    tokio_rustls::client::TlsStream<TcpStream>,
    CertificateDer<'static>,
);

async fn connect(addr: std::net::SocketAddr, trust: &CertificateDer<'static>, alpn: &[u8]) -> Conn {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(common::client_config(trust, alpn))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (_, session) = tls.get_ref();
    assert_eq!(session.alpn_protocol(), Some(alpn));
    let peer = session.peer_certificates().unwrap()[0].clone().into_owned();
    (tls, peer)
}

fn review_body() -> String {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "default", "name": "p", "operation": "CREATE", "userInfo": {"username": "bob"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    .to_string()
}

fn post() -> hyper::Request<Full<Bytes>> {
    hyper::Request::post("https://localhost/validate")
        .header("content-type", "application/json")
        .header("host", "localhost")
        .body(Full::new(Bytes::from(review_body())))
        .unwrap()
}

async fn read(resp: hyper::Response<hyper::body::Incoming>) -> Value {
    assert_eq!(resp.status(), 200);
    serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

#[tokio::test]
async fn http1_and_http2_over_tls() {
    let pki = Pki::new("proto");
    let der = pki.issue();
    let (addr, _, cancel) = start(&pki).await;

    let (tls, _) = connect(addr, &der, b"http/1.1").await;
    let (mut h1, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let v = read(h1.send_request(post()).await.unwrap()).await;
    assert_eq!(v["response"]["uid"], "u-1");
    assert_eq!(v["response"]["allowed"], true);

    let (tls, _) = connect(addr, &der, b"h2").await;
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    // Several requests multiplexed on one connection.
    let (a, b) = tokio::join!(h2.send_request(post()), h2.send_request(post()));
    assert_eq!(read(a.unwrap()).await["response"]["uid"], "u-1");
    assert_eq!(read(b.unwrap()).await["response"]["uid"], "u-1");
    cancel.cancel();
}

#[tokio::test]
async fn rotated_certificates_are_served_without_dropping_connections() {
    let pki = Pki::new("rotate");
    let first = pki.issue();
    let (addr, cert, cancel) = start(&pki).await;
    let (tls, seen) = connect(addr, &first, b"http/1.1").await;
    assert_eq!(seen, first);
    let (mut old_conn, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    read(old_conn.send_request(post()).await.unwrap()).await;

    // A broken pair is refused and the current certificate stays.
    std::fs::write(pki.key(), "not a key").unwrap();
    assert!(cert.reload().is_err());
    let second = pki.issue();
    assert!(cert.reload().unwrap(), "the new pair is installed");
    assert!(!cert.reload().unwrap(), "unchanged files are not reloaded");
    let (_, seen) = connect(addr, &second, b"h2").await;
    assert_eq!(seen, second, "new handshakes get the new certificate");
    // The connection opened before the rotation still works.
    read(old_conn.send_request(post()).await.unwrap()).await;
    cancel.cancel();
}

#[tokio::test]
async fn the_watcher_picks_up_new_files() {
    let pki = Pki::new("watch");
    let first = pki.issue();
    let (addr, cert, cancel) = start(&pki).await;
    let metrics = Arc::new(Metrics::default());
    tokio::spawn(
        cert.clone()
            .watch(Duration::from_millis(20), metrics.clone(), cancel.clone()),
    );
    let second = pki.issue();
    assert_ne!(first, second);
    // Wait (bounded) for the watcher to notice; this is a condition, not a timing assertion.
    for _ in 0..500 {
        if metrics.cert_reloads.get() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(metrics.cert_reloads.get(), 1);
    let (_, seen) = connect(addr, &second, b"http/1.1").await;
    assert_eq!(seen, second);
    cancel.cancel();
}

#[test]
fn unusable_files_say_why() {
    let pki = Pki::new("errors");
    pki.issue();
    let missing = ReloadingCert::load(Path::new("/nonexistent/tls.crt"), &pki.key()).unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/tls.crt"),
        "{missing}"
    );
    std::fs::write(pki.cert(), "garbage").unwrap();
    let e = ReloadingCert::load(&pki.cert(), &pki.key()).unwrap_err();
    assert!(e.to_string().contains("no PEM certificate"), "{e}");
    let other = Pki::new("errors-other");
    other.issue();
    pki.issue();
    let e = ReloadingCert::load(&pki.cert(), &other.key()).unwrap_err();
    assert!(e.to_string().contains("does not match"), "{e}");
}
