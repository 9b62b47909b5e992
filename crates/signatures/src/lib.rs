//! rampart's image signatures: whether an image an admitted pod runs carries a valid sigstore
//! signature from an identity a policy trusts.
//!
//! The crate owns the decision and no I/O: the webhook's registry adapter fetches what the
//! registry holds for an image digest ([`Signature`]s: cosign's tag-scheme signatures and
//! sigstore bundles) and this crate says whether one of them verifies against a policy's
//! [`Attestor`]s under a [`TrustRoot`] — and if none does, why ([`Rejection`]: no signature,
//! wrong identity, bad signature, untrusted root, expired certificate, …). Verdicts are kept
//! in a bounded [`VerdictCache`] so a Deployment scaling out costs one verification.
//!
//! The cryptography is sigstore's own (`sigstore-verify`, which passes the sigstore
//! conformance suite): bundles go to it whole; cosign's older tag-scheme signatures are
//! checked here with its primitives (the signature, the Rekor SET and entry, the Fulcio chain
//! at the log's time).

mod attestor;
mod bundle;
mod cache;
mod cosign;
mod reference;
mod trust;

pub use attestor::{Attestor, MAX_PATTERN_LEN, Matcher, PublicKey};
pub use bundle::{Artifact, MAX_BUNDLE_LEN, verify_bundle, verify_parsed};
pub use cache::{CacheKey, VerdictCache};
pub use cosign::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, CosignSignature,
    MAX_ANNOTATION_LEN, MAX_PAYLOAD_LEN, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE,
};
pub use reference::{ImageGlob, ImageRef, MAX_REFERENCE_LEN, ReferenceError};
pub use sigstore_verify::types::Bundle;
pub use trust::{MAX_TRUSTED_ROOT_LEN, TrustError, TrustRoot};

/// A SHA-256 image digest (`sha256:<64 hex>`), the only kind cosign signs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    pub fn parse(text: &str) -> Result<Self, DigestError> {
        let hex = text
            .strip_prefix("sha256:")
            .ok_or_else(|| DigestError(format!("{text:.80}: only sha256 digests are verified")))?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DigestError(format!("{text:.80}: not 64 hex digits")));
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|_| DigestError(format!("{text:.80}: not hex")))?;
        }
        Ok(Self(bytes))
    }

    pub fn sha256_of(data: &[u8]) -> Self {
        Self(*sigstore_verify::crypto::sha256(data).as_bytes())
    }

    pub fn bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The tag cosign stores this digest's signatures under: `sha256-<hex>.sig`.
    pub fn signature_tag(&self) -> String {
        format!("sha256-{}.sig", self.hex())
    }

    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

/// A digest that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("digest {0}")]
pub struct DigestError(String);

/// One signature the registry holds for an image.
#[derive(Debug, Clone)]
pub enum Signature {
    /// cosign's tag scheme (`sha256-<digest>.sig`): one per layer of that manifest.
    Cosign(CosignSignature),
    /// A sigstore bundle (cosign 3, or an OCI referrer), as JSON.
    Bundle(Vec<u8>),
}

/// Who signed a verified image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    Key,
    Certificate {
        subject: String,
        issuer: Option<String>,
    },
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Key => f.write_str("the policy's key"),
            Self::Certificate {
                subject,
                issuer: Some(issuer),
            } => write!(f, "{subject} ({issuer})"),
            Self::Certificate { subject, .. } => f.write_str(subject),
        }
    }
}

/// An image digest whose signature verified, and who signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub digest: Digest,
    pub signer: Signer,
}

/// Why no signature of an image verified. The order is how telling a reason is — how far
/// verification got (signature, then log, then certificate chain, then identity): when several
/// signatures fail for different reasons, the most telling one is reported, so an image signed
/// by others besides is denied for what is wrong with the signature the policy wants.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum Rejection {
    #[error("no signature found")]
    NoSignature,
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("the signature is for another image: it names {signed}")]
    DigestMismatch { signed: String },
    #[error("bad signature: {0}")]
    BadSignature(String),
    #[error("transparency log: {0}")]
    TransparencyLog(String),
    #[error("untrusted root: {0}")]
    UntrustedRoot(String),
    #[error("expired certificate: {0}")]
    ExpiredCertificate(String),
    #[error("wrong identity: {0}")]
    WrongIdentity(String),
}

impl Rejection {
    /// A short machine-readable reason (metrics labels, audit annotations).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoSignature => "no-signature",
            Self::Malformed(_) => "malformed",
            Self::DigestMismatch { .. } => "digest-mismatch",
            Self::TransparencyLog(_) => "transparency-log",
            Self::BadSignature(_) => "bad-signature",
            Self::UntrustedRoot(_) => "untrusted-root",
            Self::ExpiredCertificate(_) => "expired-certificate",
            Self::WrongIdentity(_) => "wrong-identity",
        }
    }
}

/// Whether any of `signatures` of the image `digest` verifies against `attestor`. `now` is
/// the time in Unix seconds (a log entry dated after it is refused); `keyed_root` as for
/// [`verify_bundle`].
pub fn verify_image(
    digest: &Digest,
    signatures: &[Signature],
    attestor: &Attestor,
    keyed_root: &TrustRoot,
    now: i64,
) -> Result<Verified, Rejection> {
    let mut worst = Rejection::NoSignature;
    for signature in signatures {
        let outcome = match signature {
            Signature::Cosign(s) => s.verify(digest, attestor, now),
            Signature::Bundle(json) => verify_bundle(json, digest, attestor, keyed_root),
        };
        match outcome {
            Ok(verified) => return Ok(verified),
            Err(rejection) => worst = worst.max(rejection),
        }
    }
    Err(worst)
}

/// How a rule's attestors combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Combine {
    /// One attestor's signature is enough.
    #[default]
    AnyOf,
    /// Every attestor must have signed.
    AllOf,
}

/// Whether the image `digest` is signed as `attestors` (combined by `combine`) require.
/// Returns who signed (every attestor's signer for [`Combine::AllOf`]).
pub fn verify_attestors(
    digest: &Digest,
    signatures: &[Signature],
    attestors: &[Attestor],
    combine: Combine,
    keyed_root: &TrustRoot,
    now: i64,
) -> Result<Vec<Verified>, Rejection> {
    let mut verified = Vec::new();
    let mut worst = Rejection::NoSignature;
    for attestor in attestors {
        match verify_image(digest, signatures, attestor, keyed_root, now) {
            Ok(v) => {
                verified.push(v);
                if combine == Combine::AnyOf {
                    return Ok(verified);
                }
            }
            Err(rejection) if combine == Combine::AllOf => return Err(rejection),
            Err(rejection) => worst = worst.max(rejection),
        }
    }
    if verified.is_empty() {
        Err(worst)
    } else {
        Ok(verified)
    }
}
