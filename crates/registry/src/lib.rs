//! rampart's OCI registry client, for image signatures: a tag resolved to its digest, and the
//! signatures stored for a digest — cosign's tag scheme (`sha256-<digest>.sig`: one
//! simple-signing layer per signature, the signature and certificate in its annotations) and
//! OCI 1.1 referrers carrying sigstore bundles.
//!
//! Written on the hyper client stack rampart's other clients use rather than `oci-client`,
//! which reads every manifest and blob whole with no bound: a registry answering with a
//! gigabyte would take the webhook's memory. Here every answer is read up to a limit of its
//! own ([`MAX_MANIFEST_LEN`], the signature limits of `rampart-signatures`), every exchange
//! within [`RegistryConfig::timeout`], at most [`MAX_REDIRECTS`] redirects are followed, and a
//! blob must hash to the digest it was asked for. Credentials go only to the registry they are
//! for, and to its token realm over HTTPS; they are never logged.

mod auth;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{ACCEPT, AUTHORIZATION, LOCATION, WWW_AUTHENTICATE};
use hyper::{Method, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rampart_signatures::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, CosignSignature, Digest, ImageRef,
    MAX_ANNOTATION_LEN, MAX_BUNDLE_LEN, MAX_PAYLOAD_LEN, SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE, Signature,
};
use serde::Deserialize;

pub use auth::{Credentials, CredentialsError, MAX_CONFIG_LEN};

/// The largest manifest or index read (signature manifests are ~1 KB; the spec suggests
/// registries accept up to 4 MiB, which no signature needs).
pub const MAX_MANIFEST_LEN: usize = 1024 * 1024;
/// Layers of one signature manifest read, and referrers followed.
pub const MAX_LAYERS: usize = 32;
pub const MAX_REFERRERS: usize = 16;
/// Redirects followed for one request (blob stores redirect once).
pub const MAX_REDIRECTS: usize = 3;
const MAX_TOKEN_LEN: usize = 64 * 1024;
const MAX_ERROR_BODY: usize = 4 * 1024;

const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";
const ANY_MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";
const BUNDLE_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Each exchange (connect, request, answer) must finish within it; the admission webhook
    /// has 10 s in all.
    pub timeout: Duration,
    /// Registries (`host:port`) reached over plain HTTP: local test registries only.
    pub insecure: Vec<String>,
    /// A CA (PEM) trusted besides the system's roots: a private registry's.
    pub extra_ca: Option<Vec<u8>>,
    /// The webhook's own credentials (a mounted pull secret).
    pub credentials: Credentials,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            insecure: Vec::new(),
            extra_ca: None,
            credentials: Credentials::none(),
        }
    }
}

/// Why the registry could not tell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("could not reach {registry} within {seconds} s")]
    Timeout { registry: String, seconds: u64 },
    #[error("could not reach {registry}: {reason}")]
    Unreachable { registry: String, reason: String },
    #[error(
        "{registry} refused access to {what} (HTTP {status}): are the registry credentials right?"
    )]
    Denied {
        registry: String,
        what: String,
        status: u16,
    },
    #[error("{registry} has no {what}")]
    NotFound { registry: String, what: String },
    #[error("{registry} answered HTTP {status} for {what}")]
    Status {
        registry: String,
        what: String,
        status: u16,
    },
    #[error("{what} from {registry} is over {limit} bytes")]
    TooLarge {
        registry: String,
        what: String,
        limit: usize,
    },
    #[error("{what} from {registry} is malformed: {reason}")]
    Malformed {
        registry: String,
        what: String,
        reason: String,
    },
    #[error("{registry}: more than {MAX_REDIRECTS} redirects for {what}")]
    Redirects { registry: String, what: String },
    #[error("registry client: {0}")]
    Config(String),
}

/// A manifest, as much of it as signatures need.
#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    layers: Vec<Descriptor>,
}

/// An index (the referrers API's answer).
#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    annotations: HashMap<String, String>,
}

#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

struct Answer {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: Bytes,
}

/// The client. Cheap to share (`Arc` inside); bearer tokens are kept per repository until
/// they expire.
#[derive(Clone)]
pub struct Registry {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    config: Arc<RegistryConfig>,
    tokens: Arc<Mutex<HashMap<String, (String, Instant)>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Registry {
    pub fn new(config: RegistryConfig) -> Result<Self, FetchError> {
        let mut roots = rustls::RootCertStore::empty();
        // Unreadable system certificates are skipped, as every TLS client does.
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if let Some(pem) = &config.extra_ca {
            let mut reader = std::io::Cursor::new(pem);
            let mut added = 0;
            for cert in rustls_pemfile_certs(&mut reader) {
                roots
                    .add(cert)
                    .map_err(|e| FetchError::Config(format!("registry CA: {e}")))?;
                added += 1;
            }
            if added == 0 {
                return Err(FetchError::Config(
                    "registry CA: no certificate in it".into(),
                ));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| FetchError::Config(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            config: Arc::new(config),
            tokens: Arc::default(),
        })
    }

    /// The digest `image` names: its own when it pins one, else what its tag points at now
    /// (the manifest's bytes hashed here, never the registry's word for it).
    pub async fn resolve(
        &self,
        image: &ImageRef,
        credentials: &Credentials,
    ) -> Result<Digest, FetchError> {
        if let Some(d) = image.digest() {
            return Ok(d.clone());
        }
        let tag = image.tag().unwrap_or("latest");
        let what = format!("manifest {}:{tag}", image.repository());
        let answer = self
            .get(
                image,
                &format!("manifests/{tag}"),
                ANY_MANIFEST_TYPES,
                MAX_MANIFEST_LEN,
                &what,
                credentials,
            )
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Err(FetchError::NotFound {
                registry: image.registry().to_string(),
                what,
            });
        }
        self.expect_ok(image, &answer, &what)?;
        Ok(Digest::sha256_of(&answer.body))
    }

    /// The signatures stored for `digest` of `image`'s repository: cosign's tag-scheme ones,
    /// then sigstore bundles among its OCI referrers (a registry without the referrers API
    /// has none of those).
    pub async fn signatures(
        &self,
        image: &ImageRef,
        digest: &Digest,
        credentials: &Credentials,
    ) -> Result<Vec<Signature>, FetchError> {
        let mut out = Vec::new();
        let tag = digest.signature_tag();
        let what = format!("signature manifest {}:{tag}", image.repository());
        let answer = self
            .get(
                image,
                &format!("manifests/{tag}"),
                MANIFEST_TYPES,
                MAX_MANIFEST_LEN,
                &what,
                credentials,
            )
            .await?;
        if answer.status != StatusCode::NOT_FOUND {
            self.expect_ok(image, &answer, &what)?;
            let manifest: Manifest = self.json(image, &answer.body, &what)?;
            for layer in manifest.layers.iter().take(MAX_LAYERS) {
                if let Some(s) = self.layer_signature(image, layer, credentials).await? {
                    out.push(s);
                }
            }
        }
        let what = format!("referrers of {}@{digest}", image.repository());
        let answer = self
            .get(
                image,
                &format!("referrers/{digest}"),
                "application/vnd.oci.image.index.v1+json",
                MAX_MANIFEST_LEN,
                &what,
                credentials,
            )
            .await?;
        // 404: no referrers API (the tag scheme above is all there is).
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(out);
        }
        self.expect_ok(image, &answer, &what)?;
        let index: Index = self.json(image, &answer.body, &what)?;
        let bundles = index.manifests.iter().filter(|d| {
            d.artifact_type
                .as_deref()
                .is_some_and(|t| t.starts_with(BUNDLE_TYPE_PREFIX))
        });
        for referrer in bundles.take(MAX_REFERRERS) {
            let what = format!("referrer manifest {}", referrer.digest);
            let answer = self
                .get(
                    image,
                    &format!("manifests/{}", referrer.digest),
                    MANIFEST_TYPES,
                    MAX_MANIFEST_LEN,
                    &what,
                    credentials,
                )
                .await?;
            self.expect_ok(image, &answer, &what)?;
            self.check_digest(image, &answer.body, &referrer.digest, &what)?;
            let manifest: Manifest = self.json(image, &answer.body, &what)?;
            for layer in manifest.layers.iter().take(MAX_LAYERS) {
                if let Some(s) = self.layer_signature(image, layer, credentials).await? {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }

    /// One layer of a signature manifest as a signature (`None`: not a kind rampart reads).
    async fn layer_signature(
        &self,
        image: &ImageRef,
        layer: &Descriptor,
        credentials: &Credentials,
    ) -> Result<Option<Signature>, FetchError> {
        let (limit, bundle) = if layer.media_type == SIMPLE_SIGNING_MEDIA_TYPE {
            (MAX_PAYLOAD_LEN, false)
        } else if layer.media_type.starts_with(BUNDLE_TYPE_PREFIX) {
            (MAX_BUNDLE_LEN, true)
        } else {
            return Ok(None);
        };
        let what = format!("signature layer {}", layer.digest);
        if layer.size < 0 || layer.size as u64 > limit as u64 {
            return Err(FetchError::TooLarge {
                registry: image.registry().to_string(),
                what,
                limit,
            });
        }
        if layer.annotations.values().map(String::len).sum::<usize>() > 4 * MAX_ANNOTATION_LEN {
            return Err(FetchError::TooLarge {
                registry: image.registry().to_string(),
                what: format!("annotations of {what}"),
                limit: 4 * MAX_ANNOTATION_LEN,
            });
        }
        let answer = self
            .get(
                image,
                &format!("blobs/{}", layer.digest),
                "*/*",
                limit,
                &what,
                credentials,
            )
            .await?;
        self.expect_ok(image, &answer, &what)?;
        self.check_digest(image, &answer.body, &layer.digest, &what)?;
        if bundle {
            return Ok(Some(Signature::Bundle(answer.body.to_vec())));
        }
        let annotation = |k: &str| layer.annotations.get(k).cloned();
        Ok(Some(Signature::Cosign(CosignSignature {
            payload: answer.body.to_vec(),
            signature: annotation(SIGNATURE_ANNOTATION).unwrap_or_default(),
            certificate: annotation(CERTIFICATE_ANNOTATION).filter(|s| !s.is_empty()),
            chain: annotation(CHAIN_ANNOTATION).filter(|s| !s.is_empty()),
            rekor_bundle: annotation(BUNDLE_ANNOTATION).filter(|s| !s.is_empty()),
        })))
    }

    fn json<T: for<'de> Deserialize<'de>>(
        &self,
        image: &ImageRef,
        body: &[u8],
        what: &str,
    ) -> Result<T, FetchError> {
        serde_json::from_slice(body).map_err(|e| FetchError::Malformed {
            registry: image.registry().to_string(),
            what: what.to_string(),
            reason: e.to_string(),
        })
    }

    fn check_digest(
        &self,
        image: &ImageRef,
        body: &[u8],
        expected: &str,
        what: &str,
    ) -> Result<(), FetchError> {
        let malformed = |reason: String| FetchError::Malformed {
            registry: image.registry().to_string(),
            what: what.to_string(),
            reason,
        };
        let expected = Digest::parse(expected).map_err(|e| malformed(e.to_string()))?;
        if Digest::sha256_of(body) != expected {
            return Err(malformed(format!(
                "its content does not hash to {expected}"
            )));
        }
        Ok(())
    }

    fn expect_ok(&self, image: &ImageRef, answer: &Answer, what: &str) -> Result<(), FetchError> {
        let registry = image.registry().to_string();
        let what = what.to_string();
        let status = answer.status.as_u16();
        match answer.status {
            s if s.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(FetchError::Denied {
                registry,
                what,
                status,
            }),
            StatusCode::NOT_FOUND => Err(FetchError::NotFound { registry, what }),
            _ => Err(FetchError::Status {
                registry,
                what,
                status,
            }),
        }
    }

    /// `GET /v2/<repository>/<path>` on `image`'s registry: the token handshake when the
    /// registry asks for it, redirects followed, the body read up to `limit`.
    async fn get(
        &self,
        image: &ImageRef,
        path: &str,
        accept: &str,
        limit: usize,
        what: &str,
        credentials: &Credentials,
    ) -> Result<Answer, FetchError> {
        let registry = image.registry();
        let base = self.base(registry);
        let url = format!("{base}/v2/{}/{path}", image.repository());
        let scope = format!("repository:{}:pull", image.repository());
        let token_key = format!("{registry} {scope}");
        let cached = self
            .tokens
            .lock()
            .ok()
            .and_then(|t| t.get(&token_key).cloned())
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(token, _)| format!("Bearer {token}"));
        let answer = self
            .fetch(registry, &url, accept, cached.as_deref(), limit, what)
            .await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        let credentials = self.config.credentials.merged(credentials);
        let challenge = answer
            .headers
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(auth::parse_challenge);
        let authorization = match challenge {
            Some(c) if c.scheme == "bearer" => {
                let token = self
                    .token(registry, &base, &c, &scope, &credentials)
                    .await?;
                if let Ok(mut tokens) = self.tokens.lock() {
                    tokens.retain(|_, (_, expires)| *expires > Instant::now());
                    if tokens.len() < 1024 {
                        tokens.insert(token_key, (token.0.clone(), token.1));
                    }
                }
                format!("Bearer {}", token.0)
            }
            Some(c) if c.scheme == "basic" => match credentials.basic(registry) {
                Some(basic) => basic,
                None => return Ok(answer),
            },
            _ => return Ok(answer),
        };
        self.fetch(registry, &url, accept, Some(&authorization), limit, what)
            .await
    }

    /// A bearer token from the challenge's realm for `scope`. Credentials go along only over
    /// HTTPS, or to the registry's own host.
    async fn token(
        &self,
        registry: &str,
        base: &str,
        challenge: &auth::Challenge,
        scope: &str,
        credentials: &Credentials,
    ) -> Result<(String, Instant), FetchError> {
        let realm = challenge
            .params
            .get("realm")
            .ok_or_else(|| FetchError::Malformed {
                registry: registry.to_string(),
                what: "authentication challenge".into(),
                reason: "no realm".into(),
            })?;
        let mut url = format!("{realm}?scope={}", auth::encode(scope));
        if let Some(service) = challenge.params.get("service") {
            url.push_str(&format!("&service={}", auth::encode(service)));
        }
        let realm_uri: Uri = realm.parse().map_err(|_| FetchError::Malformed {
            registry: registry.to_string(),
            what: "authentication challenge".into(),
            reason: "the realm is not a URL".into(),
        })?;
        let same_host = base
            .parse::<Uri>()
            .ok()
            .is_some_and(|b| b.authority() == realm_uri.authority());
        let basic = (realm_uri.scheme_str() == Some("https") || same_host)
            .then(|| credentials.basic(registry))
            .flatten();
        let what = "a token".to_string();
        let answer = self
            .fetch(
                registry,
                &url,
                "application/json",
                basic.as_deref(),
                MAX_TOKEN_LEN,
                &what,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(FetchError::Denied {
                registry: registry.to_string(),
                what,
                status: answer.status.as_u16(),
            });
        }
        let token: Token =
            serde_json::from_slice(&answer.body).map_err(|e| FetchError::Malformed {
                registry: registry.to_string(),
                what: what.clone(),
                reason: e.to_string(),
            })?;
        let value = token
            .token
            .or(token.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| FetchError::Malformed {
                registry: registry.to_string(),
                what,
                reason: "no token in it".into(),
            })?;
        let ttl = Duration::from_secs(token.expires_in.unwrap_or(60).clamp(10, 3600) - 5);
        Ok((value, Instant::now() + ttl))
    }

    /// One request and its redirects, bounded in time and size.
    async fn fetch(
        &self,
        registry: &str,
        url: &str,
        accept: &str,
        authorization: Option<&str>,
        limit: usize,
        what: &str,
    ) -> Result<Answer, FetchError> {
        let timeout = self.config.timeout;
        let exchange = async {
            let mut url = url.to_string();
            let mut authorization = authorization.map(str::to_string);
            let first_host = url.parse::<Uri>().ok().and_then(|u| u.authority().cloned());
            for _ in 0..=MAX_REDIRECTS {
                let uri: Uri = url.parse().map_err(|_| FetchError::Malformed {
                    registry: registry.to_string(),
                    what: what.to_string(),
                    reason: format!("{url:.200} is not a URL"),
                })?;
                let mut req = hyper::Request::builder()
                    .method(Method::GET)
                    .uri(uri.clone())
                    .header(ACCEPT, accept)
                    .header(hyper::header::USER_AGENT, "rampart");
                if let Some(a) = &authorization {
                    req = req.header(AUTHORIZATION, a);
                }
                let req = req
                    .body(Empty::new())
                    .map_err(|e| FetchError::Config(e.to_string()))?;
                let resp = self
                    .client
                    .request(req)
                    .await
                    .map_err(|e| FetchError::Unreachable {
                        registry: registry.to_string(),
                        reason: rampart_model::error_chain(&e),
                    })?;
                let status = resp.status();
                if status.is_redirection() {
                    let location = resp
                        .headers()
                        .get(LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .ok_or_else(|| FetchError::Malformed {
                            registry: registry.to_string(),
                            what: what.to_string(),
                            reason: "a redirect without a location".into(),
                        })?;
                    url = resolve_location(&uri, location);
                    // Credentials never follow a redirect to another host (a blob store).
                    let host = url.parse::<Uri>().ok().and_then(|u| u.authority().cloned());
                    if host != first_host {
                        authorization = None;
                    }
                    continue;
                }
                let headers = resp.headers().clone();
                let max = if status.is_success() {
                    limit
                } else {
                    MAX_ERROR_BODY
                };
                let body = match Limited::new(resp.into_body(), max).collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(_) if !status.is_success() => Bytes::new(),
                    Err(_) => {
                        return Err(FetchError::TooLarge {
                            registry: registry.to_string(),
                            what: what.to_string(),
                            limit,
                        });
                    }
                };
                return Ok(Answer {
                    status,
                    headers,
                    body,
                });
            }
            Err(FetchError::Redirects {
                registry: registry.to_string(),
                what: what.to_string(),
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| FetchError::Timeout {
                registry: registry.to_string(),
                seconds: timeout.as_secs().max(1),
            })?
    }

    /// `https://host` (Docker Hub's API host for `docker.io`), `http://` for the registries
    /// configured insecure.
    fn base(&self, registry: &str) -> String {
        let host = if registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            registry
        };
        if self.config.insecure.iter().any(|r| r == registry) {
            format!("http://{host}")
        } else {
            format!("https://{host}")
        }
    }
}

/// A `Location` against the URL it answered: absolute, or a path on the same origin.
fn resolve_location(base: &Uri, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let scheme = base.scheme_str().unwrap_or("https");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        format!("{scheme}://{authority}{dir}{location}")
    }
}

/// PEM certificates in `reader` (no `rustls-pemfile`: `rustls-pki-types` parses PEM itself).
fn rustls_pemfile_certs(
    reader: &mut std::io::Cursor<&Vec<u8>>,
) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(reader.get_ref())
        .filter_map(Result::ok)
        .collect()
}
