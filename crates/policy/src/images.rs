//! Image signature rules (`verifyImages` conditions), the pure half: which images of an
//! admitted pod each rule gates ([`ImageCheck`]s, what the webhook's registry adapter must
//! verify), and what the verdicts it brings back ([`ImageVerdicts`]) mean for the decision —
//! violations with the reason, or a digest to pin the image to.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rampart_api::{AttestorsRequired, PUBLIC_GOOD_ROOT, SpecError, VerifyImages};
use rampart_signatures::{
    Combine, Digest, ImageGlob, ImageRef, Matcher, PublicKey, Rejection, Verified,
};

/// One `verifyImages` condition, compiled.
#[derive(Debug)]
pub struct ImageRule {
    /// `rules[0].conditions[1]`: where it sits in its policy.
    pub path: String,
    /// The rule's name (denials name it).
    pub rule: String,
    pub globs: Vec<ImageGlob>,
    pub attestors: Vec<AttestorSpec>,
    pub combine: Combine,
    pub mutate_digest: bool,
    pub required: bool,
    /// Changes whenever the condition does: verdicts cached under an older one are not reused.
    pub fingerprint: u64,
}

/// An attestor as the policy writes it; trusted roots are named, the webhook holds them.
#[derive(Debug, Clone)]
pub enum AttestorSpec {
    Key {
        key: KeySource,
        transparency_log: Option<String>,
    },
    Keyless {
        subject: Matcher,
        issuer: Matcher,
        trusted_root: String,
    },
}

/// Where a key attestor's public key is.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Written in the policy.
    Inline(PublicKey),
    /// In a Secret the webhook watches: its namespace, name and data key.
    Secret {
        namespace: String,
        name: String,
        entry: String,
    },
}

impl ImageRule {
    /// Compiles the condition at `path` of rule `rule` of a policy in `namespace` (`None`: a
    /// ClusterSecurityPolicy); errors name the field.
    pub fn compile(
        path: String,
        rule: &str,
        v: &VerifyImages,
        namespace: Option<&str>,
    ) -> Result<ImageRule, Vec<SpecError>> {
        let mut errors = Vec::new();
        let mut error = |field: String, message: String| {
            errors.push(SpecError {
                path: format!("{path}.verifyImages.{field}"),
                message,
            })
        };
        let mut globs = Vec::new();
        for (i, g) in v.image_references.iter().enumerate() {
            match ImageGlob::new(g) {
                Ok(g) => globs.push(g),
                Err(e) => error(format!("imageReferences[{i}]"), e.to_string()),
            }
        }
        let mut attestors = Vec::new();
        for (i, a) in v.attestors.iter().enumerate() {
            if let Some(k) = &a.key {
                let key = match (&k.public_key, &k.secret_ref) {
                    (Some(pem), _) => PublicKey::from_pem(pem)
                        .map(KeySource::Inline)
                        .map_err(|e| (format!("attestors[{i}].key.publicKey"), e)),
                    (None, Some(r)) => match r.namespace.as_deref().or(namespace) {
                        Some(ns) => Ok(KeySource::Secret {
                            namespace: ns.to_string(),
                            name: r.name.clone(),
                            entry: r
                                .key
                                .clone()
                                .unwrap_or_else(|| rampart_api::DEFAULT_PUBLIC_KEY_ENTRY.into()),
                        }),
                        None => Err((
                            format!("attestors[{i}].key.secretRef.namespace"),
                            "a ClusterSecurityPolicy names the key Secret's namespace".into(),
                        )),
                    },
                    (None, None) => Err((
                        format!("attestors[{i}].key"),
                        "set publicKey or secretRef".into(),
                    )),
                };
                match key {
                    Ok(key) => attestors.push(AttestorSpec::Key {
                        key,
                        transparency_log: k.transparency_log.clone(),
                    }),
                    Err((field, e)) => error(field, e),
                }
            } else if let Some(k) = &a.keyless {
                let matcher =
                    |exact: &Option<String>, pattern: &Option<String>| match (exact, pattern) {
                        (Some(e), _) => Ok(Matcher::exact(e)),
                        (None, Some(p)) => Matcher::pattern(p),
                        (None, None) => Err("missing".to_string()),
                    };
                match (
                    matcher(&k.subject, &k.subject_reg_exp),
                    matcher(&k.issuer, &k.issuer_reg_exp),
                ) {
                    (Ok(subject), Ok(issuer)) => attestors.push(AttestorSpec::Keyless {
                        subject,
                        issuer,
                        trusted_root: k
                            .trusted_root
                            .clone()
                            .unwrap_or_else(|| PUBLIC_GOOD_ROOT.to_string()),
                    }),
                    (Err(e), _) => error(format!("attestors[{i}].keyless.subject"), e),
                    (_, Err(e)) => error(format!("attestors[{i}].keyless.issuer"), e),
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        serde_json::to_string(v)
            .unwrap_or_default()
            .hash(&mut hasher);
        path.hash(&mut hasher);
        Ok(ImageRule {
            path,
            rule: rule.to_string(),
            globs,
            attestors,
            combine: match v.attestors_required {
                AttestorsRequired::AnyOf => Combine::AnyOf,
                AttestorsRequired::AllOf => Combine::AllOf,
            },
            mutate_digest: v.mutate_digest,
            required: v.required,
            fingerprint: hasher.finish(),
        })
    }

    /// Whether the rule gates `image`.
    pub fn covers(&self, image: &ImageRef) -> bool {
        self.globs.iter().any(|g| g.matches(image))
    }

    /// The key Secrets the rule's attestors read (namespace, name).
    pub fn key_secrets(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attestors.iter().filter_map(|a| match a {
            AttestorSpec::Key {
                key: KeySource::Secret {
                    namespace, name, ..
                },
                ..
            } => Some((namespace.as_str(), name.as_str())),
            _ => None,
        })
    }

    /// The trusted roots the rule's attestors name.
    pub fn roots(&self) -> impl Iterator<Item = &str> {
        self.attestors.iter().filter_map(|a| match a {
            AttestorSpec::Key {
                transparency_log, ..
            } => transparency_log.as_deref(),
            AttestorSpec::Keyless { trusted_root, .. } => Some(trusted_root.as_str()),
        })
    }
}

/// What the webhook must verify for one request: one image under one rule.
#[derive(Debug, Clone)]
pub struct ImageCheck {
    /// Which policy's rule (`SecurityPolicy ns/name rules[0].conditions[1]`): verdicts are
    /// looked up by it and the image.
    pub key: String,
    pub rule: Arc<ImageRule>,
    /// The image as the pod spells it.
    pub image: String,
}

/// The verdict on one image under one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageVerdict {
    /// A signature verified: the digest checked, and who signed (one per attestor for
    /// `AllOf`).
    Verified(Vec<Verified>),
    /// No signature verified, and why.
    Rejected(Rejection),
    /// The registry could not be asked, or a trusted root is not loaded: the policy's
    /// `failurePolicy` decides.
    Unavailable(String),
    /// The image reference is no valid reference.
    BadReference(String),
}

impl ImageVerdict {
    /// The digest that was verified, when one was.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            Self::Verified(v) => v.first().map(|v| &v.digest),
            _ => None,
        }
    }
}

/// The verdicts of one request, by (rule key, image).
#[derive(Debug, Clone, Default)]
pub struct ImageVerdicts {
    map: HashMap<(String, String), ImageVerdict>,
}

impl ImageVerdicts {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, check: &ImageCheck, verdict: ImageVerdict) {
        self.map
            .insert((check.key.clone(), check.image.clone()), verdict);
    }

    pub fn get(&self, key: &str, image: &str) -> Option<&ImageVerdict> {
        self.map.get(&(key.to_string(), image.to_string()))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The key of a policy's image rule in [`ImageVerdicts`].
pub fn rule_key(policy: &str, rule: &ImageRule) -> String {
    format!("{policy} {}", rule.path)
}
