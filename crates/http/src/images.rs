//! The webhook's image signature verification: for the images a review's `verifyImages`
//! conditions gate ([`ImageCheck`]s from `rampart-policy`), resolve tags to digests, fetch the
//! signatures from the registry and verify them against the rule's attestors
//! (`rampart-signatures`), with verdicts cached per digest and rule so a Deployment scaling
//! from 1 to 100 pods costs one verification. The registry client bounds every call in time;
//! one review's verification as a whole stays within [`ImageService::deadline`], below the
//! API server's 10 s.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rampart_policy::images::{
    AttestorSpec, ImageCheck, ImageRule, ImageVerdict, ImageVerdicts, KeySource,
};
use rampart_registry::{Credentials, FetchError, Registry};
use rampart_signatures::{
    Attestor, CacheKey, Digest, ImageRef, PublicKey, Signature, TrustRoot, VerdictCache,
    verify_attestors,
};

use crate::metrics::{ImageLabels, Metrics};

/// Verdicts kept, and for how long (a failure is retried sooner: a signature may be pushed a
/// moment after the image).
pub const CACHE_ENTRIES: usize = 10_000;
pub const CACHE_TTL: Duration = Duration::from_secs(600);
pub const NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// How long a tag's digest is trusted without asking again (mutate, then validate, then the
/// ReplicaSet's pods).
pub const TAG_TTL: Duration = Duration::from_secs(30);

/// The verification service: a registry client, the trusted roots by name, the caches.
pub struct ImageService {
    registry: Registry,
    /// Pull secrets by namespace and name, parsed (never the Secrets themselves).
    pull_secrets: std::sync::RwLock<BTreeMap<(String, String), Credentials>>,
    /// The public keys of the key Secrets policies name, by namespace, name and data key.
    key_secrets: std::sync::RwLock<BTreeMap<(String, String), BTreeMap<String, PublicKey>>>,
    roots: BTreeMap<String, Arc<TrustRoot>>,
    empty: TrustRoot,
    verdicts: Mutex<VerdictCache>,
    tags: Mutex<HashMap<String, (Digest, Instant)>>,
    /// One review's verification, all images together.
    pub deadline: Duration,
}

impl std::fmt::Debug for ImageService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageService")
            .field("registry", &self.registry)
            .field("roots", &self.roots.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

type Fetched = Result<(Digest, Vec<Signature>), ImageVerdict>;

impl ImageService {
    /// A service over `registry` (its own credentials inside), with `roots` by name (the
    /// public-good root is added as `public-good` unless given).
    pub fn new(
        registry: Registry,
        mut roots: BTreeMap<String, Arc<TrustRoot>>,
    ) -> Result<Self, rampart_signatures::TrustError> {
        if !roots.contains_key(rampart_api::PUBLIC_GOOD_ROOT) {
            roots.insert(
                rampart_api::PUBLIC_GOOD_ROOT.to_string(),
                Arc::new(TrustRoot::production()?),
            );
        }
        Ok(Self {
            registry,
            pull_secrets: std::sync::RwLock::default(),
            key_secrets: std::sync::RwLock::default(),
            roots,
            empty: TrustRoot::empty()?,
            verdicts: Mutex::new(VerdictCache::new(CACHE_ENTRIES, CACHE_TTL, NEGATIVE_TTL)),
            tags: Mutex::default(),
            deadline: Duration::from_secs(8),
        })
    }

    /// Keeps the pull secret `namespace/name` (a docker config); one that does not parse is
    /// dropped, and the error names only the Secret.
    pub fn set_pull_secret(
        &self,
        namespace: &str,
        name: &str,
        config: &[u8],
    ) -> Result<(), String> {
        let parsed = Credentials::from_docker_config(config);
        let mut secrets = self.pull_secrets.write().unwrap_or_else(|e| e.into_inner());
        let key = (namespace.to_string(), name.to_string());
        match parsed {
            Ok(c) => {
                secrets.insert(key, c);
                Ok(())
            }
            Err(e) => {
                secrets.remove(&key);
                Err(format!("pull secret {namespace}/{name}: {e}"))
            }
        }
    }

    /// Forgets the pull secret `namespace/name`.
    pub fn remove_pull_secret(&self, namespace: &str, name: &str) {
        self.pull_secrets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(namespace.to_string(), name.to_string()));
    }

    /// Replaces every pull secret (after a relist); the errors of those that do not parse.
    pub fn replace_pull_secrets(&self, all: Vec<(String, String, Vec<u8>)>) -> Vec<String> {
        self.pull_secrets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        all.into_iter()
            .filter_map(|(ns, name, config)| self.set_pull_secret(&ns, &name, &config).err())
            .collect()
    }

    /// The credentials of the pull secrets `names` in `namespace` (those known).
    pub fn credentials(&self, namespace: &str, names: &[String]) -> Credentials {
        let secrets = self.pull_secrets.read().unwrap_or_else(|e| e.into_inner());
        names
            .iter()
            .filter_map(|n| secrets.get(&(namespace.to_string(), n.clone())))
            .fold(Credentials::none(), |all, c| all.merged(c))
    }

    /// Keeps the public keys of a key Secret (as the watch delivers it: `data` base64); the
    /// entries that are no PEM public key are left out. Every kept verdict is forgotten: it may
    /// have been made with the key this replaces.
    pub fn set_key_secret(&self, secret: &serde_json::Value) {
        use base64::Engine;
        let s = |f: &str| {
            secret
                .pointer(&format!("/metadata/{f}"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let keys = secret
            .get("data")
            .and_then(serde_json::Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(entry, v)| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v.as_str()?)
                    .ok()?;
                let key = PublicKey::from_pem(std::str::from_utf8(&bytes).ok()?).ok()?;
                Some((entry.clone(), key))
            })
            .collect();
        self.key_secrets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((s("namespace"), s("name")), keys);
        self.clear();
    }

    /// Forgets a key Secret (and every kept verdict).
    pub fn remove_key_secret(&self, namespace: &str, name: &str) {
        self.key_secrets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(namespace.to_string(), name.to_string()));
        self.clear();
    }

    /// Forgets every kept verdict and tag (the next review of each image asks the registry).
    pub fn clear(&self) {
        if let Ok(mut v) = self.verdicts.lock() {
            *v = VerdictCache::new(CACHE_ENTRIES, CACHE_TTL, NEGATIVE_TTL);
        }
        if let Ok(mut t) = self.tags.lock() {
            t.clear();
        }
    }

    /// The trusted roots' names.
    pub fn roots(&self) -> impl Iterator<Item = &str> {
        self.roots.keys().map(String::as_str)
    }

    /// The verdict of every check; all within [`Self::deadline`] (what is not done by then
    /// is `Unavailable`).
    pub async fn verify(
        &self,
        checks: &[ImageCheck],
        credentials: &Credentials,
        metrics: &Metrics,
    ) -> ImageVerdicts {
        let start = Instant::now();
        let mut verdicts = ImageVerdicts::new();
        if checks.is_empty() {
            return verdicts;
        }
        let work = self.verify_all(checks, credentials, metrics);
        match tokio::time::timeout(self.deadline, work).await {
            Ok(done) => verdicts = done,
            Err(_) => {
                for c in checks {
                    verdicts.insert(
                        c,
                        ImageVerdict::Unavailable(format!(
                            "verification did not finish within {:.1} s",
                            self.deadline.as_secs_f64()
                        )),
                    );
                }
            }
        }
        metrics.image_latency.observe(start.elapsed().as_secs_f64());
        verdicts
    }

    async fn verify_all(
        &self,
        checks: &[ImageCheck],
        credentials: &Credentials,
        metrics: &Metrics,
    ) -> ImageVerdicts {
        let mut verdicts = ImageVerdicts::new();
        // One registry round per image, whatever number of rules gate it.
        let mut fetched: HashMap<&str, Fetched> = HashMap::new();
        for check in checks {
            let now = Instant::now();
            let cached = self.cached(check, now);
            let verdict = match cached {
                Some(v) => {
                    count(metrics, &v, true);
                    v
                }
                None => {
                    if !fetched.contains_key(check.image.as_str()) {
                        let f = self.fetch(&check.image, credentials).await;
                        fetched.insert(&check.image, f);
                    }
                    let v = match &fetched[check.image.as_str()] {
                        Err(v) => v.clone(),
                        Ok((digest, signatures)) => self.judge(&check.rule, digest, signatures),
                    };
                    self.remember(check, &v, now);
                    count(metrics, &v, false);
                    v
                }
            };
            verdicts.insert(check, verdict);
        }
        verdicts
    }

    /// A kept verdict for the check's image: pinned images directly, tags through the kept
    /// digest of the tag.
    fn cached(&self, check: &ImageCheck, now: Instant) -> Option<ImageVerdict> {
        let digest = self.known_digest(&check.image, now)?;
        let cache = self.verdicts.lock().ok()?;
        let kept = cache.get(&cache_key(check, &digest), now)?;
        Some(match kept {
            Ok(v) => ImageVerdict::Verified(v.clone()),
            Err(r) => ImageVerdict::Rejected(r.clone()),
        })
    }

    fn known_digest(&self, image: &str, now: Instant) -> Option<Digest> {
        let parsed = ImageRef::parse(image).ok()?;
        if let Some(d) = parsed.digest() {
            return Some(d.clone());
        }
        let tags = self.tags.lock().ok()?;
        tags.get(image)
            .filter(|(_, expires)| *expires > now)
            .map(|(d, _)| d.clone())
    }

    /// Verified and rejected verdicts are kept; an image that could not be checked is asked
    /// about again next time.
    fn remember(&self, check: &ImageCheck, verdict: &ImageVerdict, now: Instant) {
        let Some(digest) = self.known_digest(&check.image, now) else {
            return;
        };
        let kept = match verdict {
            ImageVerdict::Verified(v) => Ok(v.clone()),
            ImageVerdict::Rejected(r) => Err(r.clone()),
            _ => return,
        };
        if let Ok(mut cache) = self.verdicts.lock() {
            cache.insert(cache_key(check, &digest), kept, now);
        }
    }

    /// The image's digest and the signatures stored for it.
    async fn fetch(&self, image: &str, credentials: &Credentials) -> Fetched {
        let parsed =
            ImageRef::parse(image).map_err(|e| ImageVerdict::BadReference(e.to_string()))?;
        let digest = match self.registry.resolve(&parsed, credentials).await {
            Ok(d) => d,
            Err(FetchError::NotFound { .. }) => {
                return Err(ImageVerdict::BadReference(format!(
                    "{} has no such image",
                    parsed.registry()
                )));
            }
            Err(e) => return Err(ImageVerdict::Unavailable(e.to_string())),
        };
        if parsed.digest().is_none()
            && let Ok(mut tags) = self.tags.lock()
        {
            let now = Instant::now();
            if tags.len() >= CACHE_ENTRIES {
                tags.retain(|_, (_, expires)| *expires > now);
            }
            if tags.len() < CACHE_ENTRIES {
                tags.insert(image.to_string(), (digest.clone(), now + TAG_TTL));
            }
        }
        match self
            .registry
            .signatures(&parsed, &digest, credentials)
            .await
        {
            Ok(signatures) => Ok((digest, signatures)),
            Err(e @ (FetchError::Malformed { .. } | FetchError::TooLarge { .. })) => Err(
                ImageVerdict::Rejected(rampart_signatures::Rejection::Malformed(e.to_string())),
            ),
            Err(e) => Err(ImageVerdict::Unavailable(e.to_string())),
        }
    }

    /// The rule's verdict on the signatures of `digest`.
    fn judge(&self, rule: &ImageRule, digest: &Digest, signatures: &[Signature]) -> ImageVerdict {
        let mut attestors = Vec::new();
        for spec in &rule.attestors {
            let attestor = match spec {
                AttestorSpec::Key {
                    key,
                    transparency_log,
                } => Attestor::Key {
                    key: match self.key(key) {
                        Ok(k) => k,
                        Err(v) => return v,
                    },
                    log: match transparency_log {
                        Some(name) => match self.root(name) {
                            Ok(root) => Some(root),
                            Err(v) => return v,
                        },
                        None => None,
                    },
                },
                AttestorSpec::Keyless {
                    subject,
                    issuer,
                    trusted_root,
                } => Attestor::Keyless {
                    subject: subject.clone(),
                    issuer: Some(issuer.clone()),
                    root: match self.root(trusted_root) {
                        Ok(root) => root,
                        Err(v) => return v,
                    },
                },
            };
            attestors.push(attestor);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        match verify_attestors(
            digest,
            signatures,
            &attestors,
            rule.combine,
            &self.empty,
            now,
        ) {
            Ok(v) => ImageVerdict::Verified(v),
            Err(r) => ImageVerdict::Rejected(r),
        }
    }

    fn key(&self, source: &KeySource) -> Result<PublicKey, ImageVerdict> {
        match source {
            KeySource::Inline(key) => Ok(key.clone()),
            KeySource::Secret {
                namespace,
                name,
                entry,
            } => self
                .key_secrets
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&(namespace.clone(), name.clone()))
                .and_then(|keys| keys.get(entry))
                .cloned()
                .ok_or_else(|| {
                    ImageVerdict::Unavailable(format!(
                        "no public key {entry:?} in Secret {namespace}/{name} (missing, not a PEM \
                         public key, or not readable by the webhook)"
                    ))
                }),
        }
    }

    fn root(&self, name: &str) -> Result<Arc<TrustRoot>, ImageVerdict> {
        self.roots.get(name).cloned().ok_or_else(|| {
            ImageVerdict::Unavailable(format!(
                "the trusted root {name:?} is not loaded (rampart webhook --trusted-root {name}=FILE)"
            ))
        })
    }
}

fn cache_key(check: &ImageCheck, digest: &Digest) -> CacheKey {
    CacheKey {
        digest: digest.clone(),
        rule: format!("{}#{:x}", check.key, check.rule.fingerprint),
    }
}

fn count(metrics: &Metrics, verdict: &ImageVerdict, cached: bool) {
    let result = match verdict {
        ImageVerdict::Verified(_) => "verified",
        ImageVerdict::Rejected(r) => r.reason(),
        ImageVerdict::Unavailable(_) => "unavailable",
        ImageVerdict::BadReference(_) => "bad-reference",
    };
    metrics
        .image_verifications
        .get_or_create(&ImageLabels { result, cached })
        .inc();
}
