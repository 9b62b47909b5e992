//! Image references as the admitted pod spells them, normalised the way the container runtime
//! reads them (`nginx` is `docker.io/library/nginx:latest`), and the reference globs a policy
//! gates (`ghcr.io/acme/*`).

use std::str::FromStr;

use oci_spec::distribution::Reference;

use crate::Digest;

/// The longest image reference read. Docker's own grammar caps a repository name at 255
/// characters and a tag at 128; a registry host, a digest and separators fit well inside this.
pub const MAX_REFERENCE_LEN: usize = 1024;

/// An image reference, parsed and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    reference: Reference,
    digest: Option<Digest>,
}

/// Why an image reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("image reference is {len} bytes; at most {MAX_REFERENCE_LEN} are read")]
    TooLong { len: usize },
    #[error("image reference {reference:?} is not valid: {reason}")]
    Invalid { reference: String, reason: String },
}

impl ImageRef {
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        if text.len() > MAX_REFERENCE_LEN {
            return Err(ReferenceError::TooLong { len: text.len() });
        }
        let invalid = |reason: String| ReferenceError::Invalid {
            reference: text.to_string(),
            reason,
        };
        let reference = Reference::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let digest = match reference.digest() {
            Some(d) => Some(Digest::parse(d).map_err(|e| invalid(e.to_string()))?),
            None => None,
        };
        Ok(Self { reference, digest })
    }

    /// The registry host, `docker.io` for Docker Hub.
    pub fn registry(&self) -> &str {
        self.reference.registry()
    }

    /// The repository within the registry (`library/nginx`).
    pub fn repository(&self) -> &str {
        self.reference.repository()
    }

    /// The tag, when the reference names one (`latest` when it names neither tag nor digest).
    pub fn tag(&self) -> Option<&str> {
        self.reference.tag()
    }

    /// The digest the reference pins, if it pins one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, what signatures are stored beside.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry(), self.repository())
    }

    /// The normalised reference: `registry/repository[:tag][@digest]`.
    pub fn whole(&self) -> String {
        self.reference.whole()
    }

    /// The same image pinned to `digest` (its tag dropped): what `mutateDigest` writes back.
    pub fn pinned(&self, digest: &Digest) -> String {
        format!("{}@{}", self.name(), digest)
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.whole())
    }
}

/// A reference glob: `*` stands for any run of characters (slashes included), `?` for one.
/// A glob is matched against the normalised reference, so `docker.io/library/*` covers `nginx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageGlob(String);

impl ImageGlob {
    pub fn new(glob: &str) -> Result<Self, ReferenceError> {
        if glob.len() > MAX_REFERENCE_LEN {
            return Err(ReferenceError::TooLong { len: glob.len() });
        }
        if glob.is_empty() || glob.chars().any(char::is_whitespace) {
            return Err(ReferenceError::Invalid {
                reference: glob.to_string(),
                reason: "a reference glob is a non-empty string without spaces".into(),
            });
        }
        Ok(Self(glob.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the glob covers `image`: its normalised reference whole, or its name (so
    /// `ghcr.io/acme/app` covers every tag and digest of that repository).
    pub fn matches(&self, image: &ImageRef) -> bool {
        glob_match(self.0.as_bytes(), image.whole().as_bytes())
            || glob_match(self.0.as_bytes(), image.name().as_bytes())
    }

    /// Whether the glob covers `text` as written (a reference that does not parse).
    pub fn matches_text(&self, text: &str) -> bool {
        glob_match(self.0.as_bytes(), text.as_bytes())
    }
}

/// Iterative wildcard match with one backtrack point: linear in practice, never exponential,
/// whatever a policy or a pod writes.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_normalised() {
        let r = ImageRef::parse("nginx").unwrap();
        assert_eq!(r.whole(), "docker.io/library/nginx:latest");
        assert_eq!(r.name(), "docker.io/library/nginx");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("ghcr.io/acme/app:v1@{d}")).unwrap();
        assert_eq!(r.digest().map(|d| d.to_string()), Some(d.clone()));
        assert_eq!(
            r.pinned(r.digest().unwrap()),
            format!("ghcr.io/acme/app@{d}")
        );
        assert_eq!(r.registry(), "ghcr.io");
        assert_eq!(r.tag(), Some("v1"));
    }

    #[test]
    fn bad_references_are_errors() {
        let long = format!("ghcr.io/{}", "a".repeat(10_240));
        assert!(matches!(
            ImageRef::parse(&long),
            Err(ReferenceError::TooLong { .. })
        ));
        for bad in [
            "",
            "ghcr.io/UPPER",
            "a b",
            "ghcr.io/x@sha256:zz",
            "ghcr.io/x:",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn globs() {
        let img = ImageRef::parse("ghcr.io/acme/app:v1").unwrap();
        for yes in [
            "ghcr.io/acme/*",
            "ghcr.io/*",
            "*",
            "ghcr.io/acme/app",
            "ghcr.io/acme/app:v?",
        ] {
            assert!(ImageGlob::new(yes).unwrap().matches(&img), "{yes}");
        }
        for no in [
            "ghcr.io/other/*",
            "docker.io/*",
            "ghcr.io/acme/app:v2",
            "ghcr.io/acme",
        ] {
            assert!(!ImageGlob::new(no).unwrap().matches(&img), "{no}");
        }
        assert!(
            ImageGlob::new("docker.io/library/*")
                .unwrap()
                .matches(&ImageRef::parse("nginx:1.27").unwrap())
        );
        // A pathological glob stays linear.
        let text = "a".repeat(1000);
        assert!(!glob_match("*a*a*a*a*a*a*a*b".as_bytes(), text.as_bytes()));
    }
}
