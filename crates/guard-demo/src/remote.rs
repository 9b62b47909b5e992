//! The harness's requests sent to a live proxy (nginx + ModSecurity + CRS, or the gate) over
//! HTTP/1.1 keep-alive: a request counts as flagged when the proxy answers 403.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::har::Req;
use crate::harness::{Count, Report, Traffic};

/// How a live proxy answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Forbidden,
    Passed,
    /// Any other status (400 from the proxy's parser, 413, 5xx) or no answer.
    Other(u16),
}

/// Sends `reqs` with `concurrency` connections; answers in input order.
pub async fn send(addr: SocketAddr, reqs: &[Req], concurrency: usize) -> Vec<Answer> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build_http();
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::with_capacity(reqs.len());
    for r in reqs {
        let mut b = hyper::Request::builder()
            .method(r.method)
            .uri(format!("http://{addr}{}", r.target));
        for (k, v) in &r.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b = b.header("X-Forwarded-For", r.client.as_str());
        let body = r
            .body
            .as_ref()
            .map_or_else(Bytes::new, |(_, t)| Bytes::from(t.clone()));
        let req = b.body(Full::new(body));
        let client = client.clone();
        let sem = sem.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(req) = req else {
                return Answer::Other(0);
            };
            let _permit = sem.acquire().await;
            match client.request(req).await {
                Ok(resp) => {
                    let s = resp.status().as_u16();
                    let _ = resp.into_body().collect().await;
                    match s {
                        403 => Answer::Forbidden,
                        200..=299 => Answer::Passed,
                        s => Answer::Other(s),
                    }
                }
                Err(_) => Answer::Other(0),
            }
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap_or(Answer::Other(0)));
    }
    out
}

/// The harness's held-out benign requests and attacks judged by a live proxy. Requests the
/// proxy answered with another status are counted apart (`other`), neither flagged nor passed.
pub async fn judge(addr: SocketAddr, t: &Traffic, concurrency: usize) -> (Report, Count) {
    let mut rep = Report::default();
    let mut other = Count::default();
    for (req, a) in t
        .holdout
        .iter()
        .zip(send(addr, &t.holdout, concurrency).await)
    {
        let _ = req;
        match a {
            Answer::Other(_) => other.add(true),
            a => rep.benign.add(a == Answer::Forbidden),
        }
    }
    for (req, a) in t
        .attacks
        .iter()
        .zip(send(addr, &t.attacks, concurrency).await)
    {
        let Some(tag) = &req.tag else { continue };
        if let Answer::Other(_) = a {
            other.add(true);
            continue;
        }
        rep.count_attack(tag, a == Answer::Forbidden);
    }
    (rep, other)
}
