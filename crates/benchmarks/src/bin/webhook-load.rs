//! HTTPS load generator for `rampart webhook` (see `scripts/bench-webhook.sh`).
//!
//! `webhook-load fixtures DIR` writes a self-signed certificate, the benchmark policy and the
//! namespace file into DIR. `webhook-load run ADDR CA_CERT [CONNECTIONS] [SECONDS] [RATE]` posts
//! the benchmark AdmissionReview over CONNECTIONS keep-alive HTTP/1.1 connections and prints
//! throughput and latency percentiles. Without RATE every connection sends as fast as it can
//! (closed loop: the maximum throughput, latency then is mostly queueing). With RATE (reviews/s
//! in total) requests are sent on a fixed schedule and latency is measured from the scheduled
//! send time, so a slow response also counts against the requests queued behind it (no
//! coordinated omission, as wrk2 measures).

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rampart_benchmarks::{percentiles, pod, policy, review};

fn fixtures(dir: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .map_err(std::io::Error::other)?;
    std::fs::write(format!("{dir}/tls.crt"), c.cert.pem())?;
    std::fs::write(format!("{dir}/tls.key"), c.signing_key.serialize_pem())?;
    std::fs::write(format!("{dir}/policy.json"), policy().to_string())?;
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop",
        "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}});
    std::fs::write(format!("{dir}/namespaces.json"), ns.to_string())?;
    Ok(())
}

async fn run(
    addr: String,
    ca: String,
    connections: usize,
    seconds: u64,
    rate: Option<f64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let pem = std::fs::read(&ca)?;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
        let c: rustls::pki_types::CertificateDer<'static> = c?;
        roots.add(c)?;
    }
    let config = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let body = Bytes::from(review(&pod()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    // Per-connection interval for the open-loop mode, staggered so sends spread evenly.
    let interval = rate.map(|r| Duration::from_secs_f64(connections as f64 / r));
    let begin = Instant::now() + Duration::from_millis(200);
    for i in 0..connections {
        let (config, body, addr) = (config.clone(), body.clone(), addr.clone());
        let offset = interval.map(|iv| iv.mul_f64(i as f64 / connections as f64));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let tcp = tokio::net::TcpStream::connect(&addr).await?;
            tcp.set_nodelay(true)?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(rustls::pki_types::ServerName::try_from("localhost")?, tcp)
                .await?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
            tokio::spawn(conn);
            let mut k = 0u32;
            while Instant::now() < deadline {
                // Latency starts at the scheduled time when the previous response made us late
                // (the server's delay counts), at the actual send when we waited for the
                // schedule (the timer's ~1 ms granularity is not the server's).
                let scheduled = match (interval, offset) {
                    (Some(iv), Some(off)) => {
                        let at = begin + off + iv * k;
                        k += 1;
                        if Instant::now() < at {
                            tokio::time::sleep_until(at.into()).await;
                            Some(Instant::now())
                        } else {
                            Some(at)
                        }
                    }
                    _ => None,
                };
                let req = hyper::Request::post("/validate")
                    .header("host", "localhost")
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()))?;
                let t = scheduled.unwrap_or_else(Instant::now);
                match sender.send_request(req).await {
                    Ok(resp) if resp.status() == 200 => {
                        let b = resp.into_body().collect().await?.to_bytes();
                        if b.windows(14).any(|w| w == b"\"allowed\":true") {
                            lat.push(t.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                    _ => errors += 1,
                }
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((lat, errors))
        }));
    }
    let start = Instant::now();
    let mut all = Vec::new();
    let _ = begin;
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await?.map_err(|e| e.to_string())?;
        all.extend(lat);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64().max(seconds as f64);
    let n = all.len();
    let (p50, p99) = percentiles(all);
    match rate {
        Some(r) => println!(
            "{connections} connections, {seconds} s, HTTP/1.1 keep-alive over TLS, fixed rate {r:.0}/s"
        ),
        None => println!(
            "{connections} connections, {seconds} s, HTTP/1.1 keep-alive over TLS, as fast as possible"
        ),
    }
    println!(
        "reviews: {n} ok, {errors} errors; {:.0} reviews/s; latency p50 {p50:.2?}, p99 {p99:.2?}",
        n as f64 / elapsed
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("fixtures") if args.len() == 2 => Ok(fixtures(&args[1])?),
        Some("run") if args.len() >= 3 => {
            let connections = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(64);
            let seconds = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(10);
            let rate = args.get(5).and_then(|a| a.parse().ok());
            // One thread: the load generator should not take both cores from the server.
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(run(
                    args[1].clone(),
                    args[2].clone(),
                    connections,
                    seconds,
                    rate,
                ))
        }
        _ => {
            eprintln!(
                "usage: webhook-load fixtures DIR | webhook-load run ADDR CA_CERT [CONNECTIONS] [SECONDS] [RATE]"
            );
            std::process::exit(2);
        }
    }
}
