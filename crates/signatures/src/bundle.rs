//! Sigstore bundles (`application/vnd.dev.sigstore.bundle…+json`), the format cosign 3 and
//! OCI referrers carry: verified by sigstore's own verifier against the image digest (for an
//! image, the bundle's DSSE statement names the digest as its subject).

use sigstore_verify::types::{Bundle, Sha256Hash};
use sigstore_verify::{CertificateError, Error, PublicKeyVerificationPolicy, VerificationPolicy};

use crate::attestor::Attestor;
use crate::{Digest, Rejection, Signer, TrustRoot, Verified};

/// The largest bundle read (one with a certificate chain, an inclusion proof and timestamps
/// is ~10 KB).
pub const MAX_BUNDLE_LEN: usize = 256 * 1024;

/// Verifies the bundle `json` for the artifact with SHA-256 `digest` against `attestor`.
/// `keyed_root` is the root a key-signed bundle is checked under when the attestor names no
/// log (an empty one: only the signature is checked).
pub fn verify_bundle(
    json: &[u8],
    digest: &Digest,
    attestor: &Attestor,
    keyed_root: &TrustRoot,
) -> Result<Verified, Rejection> {
    if json.len() > MAX_BUNDLE_LEN {
        return Err(Rejection::Malformed(format!(
            "sigstore bundle is {} bytes; at most {MAX_BUNDLE_LEN} are read",
            json.len()
        )));
    }
    let bundle: Bundle = serde_json::from_slice(json)
        .map_err(|e| Rejection::Malformed(format!("sigstore bundle: {e}")))?;
    verify_parsed(&bundle, Artifact::Digest(digest), attestor, keyed_root)
}

/// What a bundle signs: the bytes themselves, or their SHA-256.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    Bytes(&'a [u8]),
    Digest(&'a Digest),
}

/// Verifies a parsed bundle for `artifact` against `attestor`.
pub fn verify_parsed(
    bundle: &Bundle,
    artifact: Artifact<'_>,
    attestor: &Attestor,
    keyed_root: &TrustRoot,
) -> Result<Verified, Rejection> {
    let digest = match artifact {
        Artifact::Digest(d) => d.clone(),
        Artifact::Bytes(b) => Digest::sha256_of(b),
    };
    let input: sigstore_verify::types::Artifact<'_> = match artifact {
        Artifact::Bytes(b) => b.into(),
        Artifact::Digest(d) => Sha256Hash::from(d.bytes()).into(),
    };
    match attestor {
        Attestor::Key { key, log } => {
            let policy = PublicKeyVerificationPolicy::new(key.der().clone());
            let (root, policy) = match log {
                Some(root) => (root.as_ref(), policy),
                None => (keyed_root, policy.skip_tlog_unsafe()),
            };
            root.verifier()
                .verify(input, bundle, &policy)
                .map_err(rejection)?;
            Ok(Verified {
                digest,
                signer: Signer::Key,
            })
        }
        Attestor::Keyless {
            subject,
            issuer,
            root,
        } => {
            let result = root
                .verifier()
                .verify(input, bundle, &VerificationPolicy::any_identity())
                .map_err(rejection)?;
            let identity = result.identity().map(|i| i.as_str().to_string());
            let signer = crate::attestor::keyless_signer(
                attestor,
                subject,
                issuer.as_ref(),
                identity.unwrap_or_default(),
                result.issuer().map(str::to_string),
            )?;
            Ok(Verified { digest, signer })
        }
    }
}

/// sigstore's verification errors, sorted into the reasons a denial gives.
fn rejection(e: Error) -> Rejection {
    let text = e.to_string();
    match e {
        Error::IdentityMismatch { .. } | Error::IssuerMismatch { .. } => {
            Rejection::WrongIdentity(text)
        }
        Error::SignatureInvalid(_) => Rejection::BadSignature(text),
        Error::ArtifactMismatch(_) => Rejection::BadSignature(text),
        Error::Certificate(CertificateError::Expired { .. })
        | Error::Certificate(CertificateError::NotYetValid { .. }) => {
            Rejection::ExpiredCertificate(text)
        }
        Error::Certificate(CertificateError::Malformed(_)) => Rejection::Malformed(text),
        Error::Certificate(_) => Rejection::UntrustedRoot(text),
        Error::TransparencyLog(_) | Error::Timestamp(_) => Rejection::TransparencyLog(text),
        _ => Rejection::Malformed(text),
    }
}
