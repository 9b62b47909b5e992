//! Who a policy trusts to have signed an image: a public key, or a keyless identity (the
//! certificate's subject and OIDC issuer, exact or a regular expression) under a trusted root.

use std::sync::Arc;

use sigstore_verify::crypto::{SigningScheme, VerificationKey};
use sigstore_verify::types::{DerPublicKey, SignatureBytes};

use crate::TrustRoot;

/// The longest regular expression a policy may give for an identity or issuer.
pub const MAX_PATTERN_LEN: usize = 1024;

/// An exact value, or a regular expression that must match the whole value.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Pattern(regex::Regex),
}

impl Matcher {
    pub fn exact(value: impl Into<String>) -> Self {
        Self::Exact(value.into())
    }

    /// A regular expression, anchored at both ends (`.*@acme\.com` matches the whole
    /// identity, never a part of one), with its compiled size bounded.
    pub fn pattern(expression: &str) -> Result<Self, String> {
        if expression.len() > MAX_PATTERN_LEN {
            return Err(format!(
                "regular expression is {} bytes; at most {MAX_PATTERN_LEN}",
                expression.len()
            ));
        }
        regex::RegexBuilder::new(&format!("^(?:{expression})$"))
            .size_limit(1 << 20)
            .build()
            .map(Self::Pattern)
            .map_err(|e| e.to_string())
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(expected) => expected == value,
            Self::Pattern(re) => re.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(v) => write!(f, "{v:?}"),
            Self::Pattern(re) => {
                let s = re.as_str();
                let inner = s
                    .strip_prefix("^(?:")
                    .and_then(|s| s.strip_suffix(")$"))
                    .unwrap_or(s);
                write!(f, "/{inner}/")
            }
        }
    }
}

/// A public key a policy trusts, checked when it is written: ECDSA P-256 or P-384, Ed25519,
/// or RSA.
#[derive(Debug, Clone)]
pub struct PublicKey {
    der: DerPublicKey,
    /// The schemes a signature by this key may use, most likely first: cosign hashes with
    /// SHA-256 whatever the curve, other signers with the curve's own hash; RSA signers use
    /// PKCS#1 v1.5 or PSS.
    schemes: Vec<SigningScheme>,
}

impl PublicKey {
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        if pem.len() > 16 * 1024 {
            return Err(format!(
                "public key PEM is {} bytes; at most 16384",
                pem.len()
            ));
        }
        let der = DerPublicKey::from_pem(pem).map_err(|e| e.to_string())?;
        Self::from_der(der)
    }

    /// A DER SubjectPublicKeyInfo (a certificate's key).
    pub fn from_der(der: DerPublicKey) -> Result<Self, String> {
        use sigstore_verify::crypto::KeyAlgorithm as K;
        use sigstore_verify::crypto::SigningScheme as S;
        let algorithm = K::from_spki(&der).map_err(|e| {
            format!("not a supported public key (ECDSA P-256/P-384, Ed25519, RSA): {e}")
        })?;
        let schemes = match algorithm {
            K::EcdsaP256 => vec![S::EcdsaP256Sha256],
            K::EcdsaP384 => vec![S::EcdsaP384Sha256, S::EcdsaP384Sha384],
            K::Ed25519 => vec![S::Ed25519],
            K::Rsa => vec![
                S::RsaPkcs1Sha256,
                S::RsaPssSha256,
                S::RsaPkcs1Sha384,
                S::RsaPkcs1Sha512,
            ],
            other => vec![other.default_signing_scheme()],
        };
        // Checked now: a key that cannot verify would only fail later, in every review.
        VerificationKey::from_spki_with_scheme(&der, schemes[0])
            .map_err(|e| format!("not a usable public key: {e}"))?;
        Ok(Self { der, schemes })
    }

    pub fn der(&self) -> &DerPublicKey {
        &self.der
    }

    /// Whether `signature` over `data` is this key's, in any scheme it may use.
    pub fn verifies(&self, data: &[u8], signature: &SignatureBytes) -> bool {
        self.schemes.iter().any(|scheme| {
            VerificationKey::from_spki_with_scheme(&self.der, *scheme)
                .is_ok_and(|k| k.verify(data, signature).is_ok())
        })
    }
}

/// One attestor: what must have signed the image for it to verify.
#[derive(Debug, Clone)]
pub enum Attestor {
    /// Signed with this key. With a `log`, the signature must also be in that root's
    /// transparency log (Rekor); without one the log is not consulted.
    Key {
        key: PublicKey,
        log: Option<Arc<TrustRoot>>,
    },
    /// Signed keylessly: a Fulcio certificate under `root` whose subject matches `subject`
    /// and whose OIDC issuer matches `issuer` (a certificate from before Fulcio recorded the
    /// issuer has none; `None` accepts any), recorded in the root's transparency log while
    /// the certificate was valid.
    Keyless {
        subject: Matcher,
        issuer: Option<Matcher>,
        root: Arc<TrustRoot>,
    },
}

impl std::fmt::Display for Attestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Key { .. } => f.write_str("the policy's key"),
            Self::Keyless {
                subject, issuer, ..
            } => match issuer {
                Some(issuer) => write!(f, "subject {subject} from issuer {issuer}"),
                None => write!(f, "subject {subject}"),
            },
        }
    }
}

/// Who signed, when the certificate's `identity` and `issuer` are what the keyless `attestor`
/// (`subject`, `issuer_matcher`) requires; otherwise the wrong-identity rejection naming both.
pub(crate) fn keyless_signer(
    attestor: &Attestor,
    subject: &Matcher,
    issuer_matcher: Option<&Matcher>,
    identity: String,
    issuer: Option<String>,
) -> Result<crate::Signer, crate::Rejection> {
    let issuer_ok = match (issuer_matcher, &issuer) {
        (None, _) => true,
        (Some(m), Some(found)) => m.matches(found),
        (Some(_), None) => false,
    };
    if !subject.matches(&identity) || !issuer_ok {
        return Err(crate::Rejection::WrongIdentity(format!(
            "signed by {identity:?} from issuer {}, the policy requires {attestor}",
            issuer.as_deref().unwrap_or("(none)")
        )));
    }
    Ok(crate::Signer::Certificate {
        subject: identity,
        issuer,
    })
}
