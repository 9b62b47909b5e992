//! The request guard's listeners as the binaries serve them: `rampart learner`'s sync (TLS) and
//! admin ports, and the gate's read-only metrics port each answer a fresh client while 1,100
//! idle connections are held — the serving layer closes never-served and idle connections
//! first (and times them out); an attacker holding sockets does not lock gates or operators
//! out.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rampart_testkit::{kubeconfig, new_fake, start};

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `rampart ARGS` and reads its stderr until `marker` lines have all appeared; the
/// addresses after each marker (`… on http://ADDR`), in the markers' order.
fn spawn(args: &[&str], env: &[(&str, &str)], markers: &[&str]) -> (Running, Vec<SocketAddr>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(args)
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut found: Vec<Option<SocketAddr>> = vec![None; markers.len()];
    let mut early = String::new();
    while found.iter().any(Option::is_none) {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "rampart exited: {early}"
        );
        early.push_str(&line);
        for (i, m) in markers.iter().enumerate() {
            if let Some(rest) = line.split(m).nth(1) {
                let addr = rest
                    .split("://")
                    .nth(1)
                    .and_then(|a| a.split([',', ' ', '\n']).next())
                    .unwrap_or("");
                found[i] = Some(addr.parse().unwrap_or_else(|_| panic!("{line}")));
            }
        }
    }
    // Keep the pipe drained: a child blocked on a full pipe would stop serving.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stderr.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    (Running(child), found.into_iter().flatten().collect())
}

/// 1,100 connections to `addr` that never send a byte.
fn hold(addr: SocketAddr) -> Vec<TcpStream> {
    (0..1_100)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect()
}

/// `GET path` over plain HTTP: the status (0 when no answer came within 2 s — well before the
/// held connections' own 5 s timeouts, so only shedding them can make room).
fn get(addr: SocketAddr, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guards_listeners_serve_a_fresh_client_while_1100_idle_connections_are_held() {
    // 2,200 client sockets at most here: raise the soft descriptor limit as the binary does.
    let budget = rampart_http::serve::fd_budget().unwrap_or(0);
    assert!(
        budget >= 2_048,
        "this test needs a descriptor limit of 4,096 or more (half is {budget})"
    );
    let dir = std::env::temp_dir().join(format!("rampart-guard-listeners-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = new_fake();
    let api = start(fake).await;
    std::fs::write(dir.join("kubeconfig"), kubeconfig(&api)).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    let d = |f: &str| dir.join(f).to_string_lossy().into_owned();

    let (_learner, addrs) = spawn(
        &[
            "learner",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--tls-cert",
            &d("tls.crt"),
            "--tls-key",
            &d("tls.key"),
        ],
        &[("KUBECONFIG", &d("kubeconfig"))],
        &["sync on ", "admin on "],
    );
    let (sync, admin) = (addrs[0], addrs[1]);
    // The sync port (TLS): a gate arriving now is answered within 2 s (401: no token).
    let held = hold(sync);
    let gate = rampart_http::client::Poster::new(
        &format!("https://localhost:{}/sync", sync.port()),
        Some(cert.pem().as_bytes()),
        None,
        Duration::from_secs(2),
    )
    .unwrap();
    let (status, body) = gate.post(b"{}".to_vec(), 1 << 16).await.unwrap();
    assert_eq!(status.as_u16(), 401, "{body:?}");
    drop(held);
    // The admin port: probes and Prometheus still get through.
    let held = hold(admin);
    let probe = tokio::task::spawn_blocking(move || get(admin, "/metrics"))
        .await
        .unwrap();
    assert_eq!(probe, 200);
    drop(held);

    // The gate's read-only metrics port.
    let (_gate, addrs) = spawn(
        &[
            "guard",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:9",
            "--peers-interval",
            "0s",
        ],
        &[],
        &["metrics on "],
    );
    let metrics = addrs[0];
    let held = hold(metrics);
    let scrape = tokio::task::spawn_blocking(move || get(metrics, "/metrics"))
        .await
        .unwrap();
    assert_eq!(scrape, 200);
    drop(held);
    let _ = std::fs::remove_dir_all(&dir);
}
