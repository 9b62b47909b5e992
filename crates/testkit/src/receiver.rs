//! A notification receiver: real HTTP, every request recorded (path, headers, body). Paths
//! under `/reject` answer `400`; the first `fail_first` requests of every other path answer
//! `503` (so that each sender's retries show, whichever sends first), the rest `200`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The path.
    pub path: String,
    /// Headers, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    got: Mutex<Vec<Received>>,
    fail_first: usize,
    /// Requests refused so far, per path.
    failed: Mutex<BTreeMap<String, usize>>,
}

/// A running receiver.
#[derive(Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    inner: Arc<Inner>,
}

impl Receiver {
    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner
            .got
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

async fn take(
    State(inner): State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = uri.path().to_string();
    let refuse = {
        let mut failed = inner.failed.lock().unwrap_or_else(|e| e.into_inner());
        let n = failed.entry(path.clone()).or_default();
        *n += 1;
        *n <= inner.fail_first
    };
    let status = if path.starts_with("/reject") {
        StatusCode::BAD_REQUEST
    } else if refuse {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    inner
        .got
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Received {
            path,
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: body.to_vec(),
            status: status.as_u16(),
        });
    status
}

/// Starts a receiver on 127.0.0.1.
pub async fn start(fail_first: usize) -> Receiver {
    let inner = Arc::new(Inner {
        got: Mutex::default(),
        fail_first,
        failed: Mutex::default(),
    });
    let app = Router::new()
        .fallback(axum::routing::post(take))
        .with_state(inner.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("binding the receiver: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("the receiver's address: {e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url: format!("http://{addr}"),
        inner,
    }
}
