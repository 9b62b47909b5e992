//! The roots a keyless signature is checked against: Fulcio's certificate authorities, the
//! transparency logs' keys (Rekor), CT logs and timestamp authorities — a sigstore
//! `trusted_root.json`, read offline (no TUF mirror is asked for anything).

use std::time::Duration;

use rustls_pki_types::TrustAnchor;
use rustls_pki_types::{CertificateDer, UnixTime};
use sigstore_trust_root::TrustedRoot;
use sigstore_verify::Verifier;
use sigstore_verify::crypto::{Keyring, WEBPKI_VERIFICATION_ALGS, sha256};
use sigstore_verify::types::{DerCertificate, DerPublicKey, TimeRange};
use webpki::{EndEntityCert, KeyUsage};

use crate::Rejection;

/// The largest trusted root read (the public-good instance's is ~7 KB).
pub const MAX_TRUSTED_ROOT_LEN: usize = 1024 * 1024;

/// `id-kp-codeSigning`, the extended key usage every Fulcio certificate carries.
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// Why a trusted root was refused.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("trusted root is {len} bytes; at most {MAX_TRUSTED_ROOT_LEN} are read")]
    TooLarge { len: usize },
    #[error("trusted root is not a sigstore trusted_root.json: {0}")]
    Parse(String),
    #[error("trusted root holds unusable material: {0}")]
    Material(String),
    #[error("PEM block {index}: {reason}")]
    Pem { index: usize, reason: String },
}

/// A trusted root, prepared once: the bundle verifier, the Rekor keys and the Fulcio anchors
/// (each with the window its authority was valid in).
pub struct TrustRoot {
    verifier: Verifier,
    rekor: Keyring,
    fulcio: Vec<(TrustAnchor<'static>, Option<TimeRange>)>,
}

impl std::fmt::Debug for TrustRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustRoot")
            .field("rekor_keys", &self.rekor.len())
            .field("fulcio_anchors", &self.fulcio.len())
            .finish()
    }
}

impl TrustRoot {
    /// The public-good Sigstore instance's root, as `sigstore-trust-root` embeds it.
    pub fn production() -> Result<Self, TrustError> {
        Self::from_json(sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT)
    }

    /// A `trusted_root.json` (sigstore's protobuf-specs `TrustedRoot` in JSON).
    pub fn from_json(text: &str) -> Result<Self, TrustError> {
        if text.len() > MAX_TRUSTED_ROOT_LEN {
            return Err(TrustError::TooLarge { len: text.len() });
        }
        let root = TrustedRoot::from_json(text).map_err(|e| TrustError::Parse(e.to_string()))?;
        Self::prepare(&root)
    }

    /// A root made of PEM files, as cosign takes them for a private instance: the Fulcio
    /// certificates (roots and intermediates) and the Rekor public keys. Every authority and
    /// key is valid for all time; prefer a `trusted_root.json`, which says when.
    pub fn from_pem(fulcio_certificates: &str, rekor_keys: &str) -> Result<Self, TrustError> {
        let len = fulcio_certificates.len() + rekor_keys.len();
        if len > MAX_TRUSTED_ROOT_LEN {
            return Err(TrustError::TooLarge { len });
        }
        let mut certificates = Vec::new();
        for (index, block) in pem_blocks(fulcio_certificates)?.into_iter().enumerate() {
            if block.tag() != "CERTIFICATE" {
                return Err(TrustError::Pem {
                    index,
                    reason: format!("a {} where a CERTIFICATE belongs", block.tag()),
                });
            }
            certificates.push(serde_json::json!({
                "rawBytes": DerCertificate::new(block.contents().to_vec()).to_base64()
            }));
        }
        let mut tlogs = Vec::new();
        for (index, block) in pem_blocks(rekor_keys)?.into_iter().enumerate() {
            if block.tag() != "PUBLIC KEY" {
                return Err(TrustError::Pem {
                    index,
                    reason: format!("a {} where a PUBLIC KEY belongs", block.tag()),
                });
            }
            let der = DerPublicKey::new(block.contents().to_vec());
            let scheme = sigstore_verify::crypto::VerificationKey::from_spki(&der)
                .map_err(|e| TrustError::Pem {
                    index,
                    reason: e.to_string(),
                })?
                .scheme();
            tlogs.push(serde_json::json!({
                "baseUrl": "",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": der.to_base64(),
                    "keyDetails": key_details(scheme),
                    "validFor": {"start": "1970-01-01T00:00:00Z"}
                },
                "logId": {"keyId": DerPublicKey::new(sha256(der.as_bytes()).as_bytes().to_vec()).to_base64()}
            }));
        }
        let authorities = if certificates.is_empty() {
            vec![]
        } else {
            vec![serde_json::json!({
                "subject": {},
                "uri": "",
                "certChain": {"certificates": certificates},
                "validFor": {"start": "1970-01-01T00:00:00Z"}
            })]
        };
        let root = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": tlogs,
            "certificateAuthorities": authorities,
            "ctlogs": [],
            "timestampAuthorities": []
        });
        let root: TrustedRoot =
            serde_json::from_value(root).map_err(|e| TrustError::Parse(e.to_string()))?;
        Self::prepare(&root)
    }

    /// A root with no authority and no log: what a key-signed image checked without a
    /// transparency log is verified under.
    pub fn empty() -> Result<Self, TrustError> {
        Self::from_json(
            r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
        )
    }

    fn prepare(root: &TrustedRoot) -> Result<Self, TrustError> {
        let verifier = Verifier::new(root).map_err(|e| TrustError::Material(e.to_string()))?;
        let rekor = root
            .rekor_keys()
            .map_err(|e| TrustError::Material(e.to_string()))?;
        let mut fulcio = Vec::new();
        for authority in &root.certificate_authorities {
            for cert in &authority.cert_chain.certificates {
                let der = CertificateDer::from(cert.raw_bytes.as_bytes());
                let anchor = webpki::anchor_from_trusted_cert(&der)
                    .map_err(|e| TrustError::Material(format!("Fulcio certificate: {e}")))?
                    .to_owned();
                fulcio.push((anchor, authority.valid_for));
            }
        }
        Ok(Self {
            verifier,
            rekor,
            fulcio,
        })
    }

    pub(crate) fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    pub(crate) fn rekor(&self) -> &Keyring {
        &self.rekor
    }

    /// Checks that `leaf` chains to a Fulcio authority valid at `time`, was itself valid then,
    /// and is meant for code signing.
    pub(crate) fn verify_certificate(
        &self,
        leaf: &DerCertificate,
        intermediates: &[DerCertificate],
        time: jiff::Timestamp,
    ) -> Result<(), Rejection> {
        let anchors: Vec<TrustAnchor<'static>> = self
            .fulcio
            .iter()
            .filter(|(_, window)| window.is_none_or(|w| w.contains(time)))
            .map(|(anchor, _)| anchor.clone())
            .collect();
        if anchors.is_empty() {
            return Err(Rejection::UntrustedRoot(format!(
                "no trusted certificate authority was valid at {time}"
            )));
        }
        let der = CertificateDer::from(leaf.as_bytes());
        let leaf = EndEntityCert::try_from(&der)
            .map_err(|e| Rejection::Malformed(format!("signing certificate: {e}")))?;
        let intermediates: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|c| CertificateDer::from(c.as_bytes()))
            .collect();
        let at = UnixTime::since_unix_epoch(Duration::from_secs(time.as_second().max(0) as u64));
        leaf.verify_for_usage(
            WEBPKI_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            at,
            KeyUsage::required(CODE_SIGNING),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| match e {
            webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => {
                Rejection::ExpiredCertificate(format!(
                    "the signing certificate was not valid when the log recorded the signature ({time})"
                ))
            }
            other => Rejection::UntrustedRoot(format!(
                "the signing certificate does not chain to a trusted Fulcio root: {other}"
            )),
        })
    }
}

fn pem_blocks(text: &str) -> Result<Vec<pem::Pem>, TrustError> {
    pem::parse_many(text).map_err(|e| TrustError::Pem {
        index: 0,
        reason: e.to_string(),
    })
}

fn key_details(scheme: sigstore_verify::crypto::SigningScheme) -> &'static str {
    use sigstore_verify::crypto::SigningScheme as S;
    match scheme {
        S::EcdsaP384Sha384 => "PKIX_ECDSA_P384_SHA_384",
        S::Ed25519 => "PKIX_ED25519",
        S::RsaPkcs1Sha256 => "PKIX_RSA_PKCS1V15_2048_SHA256",
        _ => "PKIX_ECDSA_P256_SHA_256",
    }
}
