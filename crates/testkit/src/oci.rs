//! A real OCI registry for tests — Debian's `docker-registry` (distribution 2.8) on
//! 127.0.0.1, storage in a temporary directory, stopped when dropped — and the pushes a test
//! needs: blobs, image manifests, and cosign's signature manifests (`sha256-<digest>.sig`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::sigstore::{SignedPayload, sha256_digest};

/// The registry binary (`apt-get install docker-registry`; `.ci/run` installs it).
pub const REGISTRY_BIN: &str = "docker-registry";

/// A running registry. Dropping it stops it and removes its storage.
pub struct LocalRegistry {
    child: Child,
    dir: PathBuf,
    host: String,
}

impl LocalRegistry {
    /// Starts one on a free loopback port and waits until `/v2/` answers. Panics, saying what
    /// to install, when the binary is missing: a test that needs it must not pass without it.
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "rampart-registry-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {REGISTRY_BIN} ({e}): apt-get install docker-registry")
            });
        let registry = Self { child, dir, host };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&registry.host).is_err() {
            assert!(
                Instant::now() < deadline,
                "{REGISTRY_BIN} did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Pushes to a registry over plain HTTP.
pub struct Pusher {
    client: Client<HttpConnector, Full<Bytes>>,
    host: String,
}

impl Pusher {
    pub fn new(host: &str) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            host: host.to_string(),
        }
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, hyper::HeaderMap) {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("http://{}{url}", self.host)
        };
        let req = Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let resp = self.client.request(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let _ = resp.into_body().collect().await;
        (status, headers)
    }

    /// Uploads a blob (POST, then PUT with its digest); returns the digest.
    pub async fn blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256_digest(data);
        let (status, headers) = self
            .send(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/"),
                "application/octet-stream",
                vec![],
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "starting an upload");
        let location = headers["location"].to_str().unwrap().to_string();
        let sep = if location.contains('?') { '&' } else { '?' };
        let (status, _) = self
            .send(
                Method::PUT,
                &format!("{location}{sep}digest={digest}"),
                "application/octet-stream",
                data.to_vec(),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "finishing an upload");
        digest
    }

    /// Puts a manifest under `reference` (a tag or digest); returns its digest.
    pub async fn manifest(&self, repo: &str, reference: &str, manifest: &Value) -> String {
        let body = serde_json::to_vec(manifest).unwrap();
        let media = manifest["mediaType"]
            .as_str()
            .unwrap_or("application/vnd.oci.image.manifest.v1+json")
            .to_string();
        let digest = sha256_digest(&body);
        let (status, _) = self
            .send(
                Method::PUT,
                &format!("/v2/{repo}/manifests/{reference}"),
                &media,
                body,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "putting manifest {reference}");
        digest
    }

    /// An image of one layer holding `content`, tagged `tag`; returns its digest.
    pub async fn image(&self, repo: &str, tag: &str, content: &[u8]) -> String {
        let config = serde_json::to_vec(&json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(content)]}
        }))
        .unwrap();
        let config_digest = self.blob(repo, &config).await;
        let layer_digest = self.blob(repo, content).await;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest, "size": content.len()}]
        });
        self.manifest(repo, tag, &manifest).await
    }

    /// cosign's signature manifest for `digest`: one simple-signing layer per signature,
    /// under the tag `sha256-<hex>.sig`.
    pub async fn signatures(&self, repo: &str, digest: &str, signatures: &[SignedPayload]) {
        let config = b"{}".to_vec();
        let config_digest = self.blob(repo, &config).await;
        let mut layers = Vec::new();
        for s in signatures {
            let d = self.blob(repo, &s.payload).await;
            layers.push(json!({
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "digest": d, "size": s.payload.len(), "annotations": s.annotations
            }));
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": config.len()},
            "layers": layers
        });
        let tag = format!("{}.sig", digest.replace(':', "-"));
        self.manifest(repo, &tag, &manifest).await;
    }
}
