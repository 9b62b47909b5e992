//! The one HTTP client rampart's components talk to each other with (a gate to the learner,
//! the learner to the engine's ingest): JSON over HTTP/1.1, TLS verified against a CA the
//! operator names (no system roots: these are in-cluster services with their own CA), a
//! bearer token read fresh from its file on every request (a projected ServiceAccount token
//! is rotated by the kubelet), the reply bounded in size and the whole exchange in time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{StatusCode, Uri, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}: not an http:// or https:// URL")]
    Url(String),
    #[error("{0}: an https:// URL needs the CA that signed its certificate")]
    NoCa(String),
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: rampart_files::ReadError,
    },
    #[error("{0}")]
    Tls(#[from] rustls::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Transport(String),
    #[error("the answer is over {0} bytes")]
    TooLarge(usize),
}

/// One answer.
#[derive(Debug)]
pub struct Reply {
    /// Its status.
    pub status: StatusCode,
    /// `Retry-After`, when given in seconds.
    pub retry_after: Option<Duration>,
    /// At most the asked-for number of bytes of its body.
    pub body: Bytes,
}

/// Where to send, and how.
#[derive(Clone)]
pub struct Poster {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    token_file: Option<PathBuf>,
    timeout: Duration,
}

impl std::fmt::Debug for Poster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poster")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

/// Largest CA or token file read.
const MAX_FILE: u64 = 1 << 20;

/// Reads a CA file (PEM) for [`Poster::new`].
pub fn read_ca(path: &Path) -> Result<Vec<u8>, ClientError> {
    rampart_files::read_bounded(path, MAX_FILE).map_err(|source| ClientError::Read {
        path: path.into(),
        source,
    })
}

impl Poster {
    /// Posts to `url` (`http://` or `https://`, the latter verified against `ca`, PEM
    /// certificates), with the bearer token in `token_file` when given.
    pub fn new(
        url: &str,
        ca: Option<&[u8]>,
        token_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<Poster, ClientError> {
        Self::build(url, ca, false, token_file, timeout)
    }

    /// Like [`Poster::new`] for a service outside the cluster (a hosted model API): without
    /// `ca`, an `https://` URL is verified against the system's trusted roots.
    pub fn new_external(
        url: &str,
        ca: Option<&[u8]>,
        token_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<Poster, ClientError> {
        Self::build(url, ca, true, token_file, timeout)
    }

    fn build(
        url: &str,
        ca: Option<&[u8]>,
        system_roots: bool,
        token_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<Poster, ClientError> {
        let uri: Uri = url.parse().map_err(|_| ClientError::Url(url.into()))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(ClientError::Url(url.into())),
        };
        if uri.host().is_none() {
            return Err(ClientError::Url(url.into()));
        }
        let roots = match ca {
            Some(pem) => crate::tls::root_store(pem, "the CA")?,
            None if https && system_roots => {
                let mut roots = rustls::RootCertStore::empty();
                // Unreadable system certificates are skipped, as every TLS client does.
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                if roots.is_empty() {
                    return Err(ClientError::NoCa(url.into()));
                }
                roots
            }
            None if https => return Err(ClientError::NoCa(url.into())),
            None => rustls::RootCertStore::empty(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Poster {
            client: Client::builder(TokioExecutor::new()).build(connector),
            uri,
            token_file: token_file.map(Path::to_path_buf),
            timeout,
        })
    }

    /// Posts `body` (JSON); the status and at most `max_reply` bytes of the answer.
    pub async fn post(
        &self,
        body: Vec<u8>,
        max_reply: usize,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        self.exchange(body, max_reply)
            .await
            .map(|r| (r.status, r.body))
    }

    /// Like [`Poster::post`], with the answer's `Retry-After` (seconds; an HTTP date is not
    /// honoured: the caller's backoff applies).
    pub async fn exchange(&self, body: Vec<u8>, max_reply: usize) -> Result<Reply, ClientError> {
        self.send(body, "application/json", &[], max_reply).await
    }

    /// Like [`Poster::exchange`] with another content type and extra headers (a signature).
    pub async fn send(
        &self,
        body: Vec<u8>,
        content_type: &str,
        headers: &[(&str, String)],
        max_reply: usize,
    ) -> Result<Reply, ClientError> {
        let mut req =
            axum::http::Request::post(self.uri.clone()).header(header::CONTENT_TYPE, content_type);
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        if let Some(path) = &self.token_file {
            let token = rampart_files::read_bounded(path, MAX_FILE).map_err(|source| {
                ClientError::Read {
                    path: path.clone(),
                    source,
                }
            })?;
            let token = String::from_utf8_lossy(&token).trim().to_string();
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| ClientError::Transport(rampart_model::error_chain(&e)))?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = Limited::new(resp.into_body(), max_reply)
                .collect()
                .await
                .map_err(|_| ClientError::TooLarge(max_reply))?
                .to_bytes();
            Ok(Reply {
                status,
                retry_after,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))?
    }
}
