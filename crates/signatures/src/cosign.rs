//! cosign's image signatures as registries hold them under the `sha256-<digest>.sig` tag: a
//! simple-signing payload (the layer) naming the image's digest, the signature over it (an
//! annotation), and for keyless signing the Fulcio certificate, its chain and the Rekor
//! bundle (the log's signed entry timestamp, SET).

use serde::Deserialize;
use sigstore_verify::crypto::sha256;
use sigstore_verify::types::{DerCertificate, SignatureBytes};

use crate::attestor::Attestor;
use crate::{Digest, Rejection, Signer, TrustRoot, Verified};

/// The media type of the simple-signing layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotations cosign writes.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// The largest payload, and the largest annotation, read. cosign's payloads are ~250 bytes,
/// certificates ~1 KB, Rekor bundles ~4 KB.
pub const MAX_PAYLOAD_LEN: usize = 64 * 1024;
pub const MAX_ANNOTATION_LEN: usize = 64 * 1024;

/// How far in the future a log's integrated time may lie (clock skew) before it is refused.
const MAX_SKEW_SECONDS: i64 = 60;

/// One cosign signature: the signed payload and the annotations of its layer.
#[derive(Debug, Clone, Default)]
pub struct CosignSignature {
    pub payload: Vec<u8>,
    /// Base64 of the signature over `payload`.
    pub signature: String,
    /// PEM of the signing certificate (keyless).
    pub certificate: Option<String>,
    /// PEM of the certificates between it and the root.
    pub chain: Option<String>,
    /// The Rekor bundle (JSON): the log's promise that it recorded the signature.
    pub rekor_bundle: Option<String>,
}

#[derive(Deserialize)]
struct SimpleSigning {
    critical: Critical,
}

#[derive(Deserialize)]
struct Critical {
    image: SignedImage,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct SignedImage {
    #[serde(rename = "docker-manifest-digest")]
    digest: String,
}

#[derive(Deserialize)]
struct RekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    set: String,
    #[serde(rename = "Payload")]
    payload: RekorPayload,
}

#[derive(Deserialize, serde::Serialize)]
struct RekorPayload {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logIndex")]
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// A `hashedrekord` or `rekord` 0.0.1 entry: both record the payload's hash, the signature
/// and the key or certificate that made it.
#[derive(Deserialize)]
struct Entry {
    kind: String,
    spec: EntrySpec,
}

#[derive(Deserialize)]
struct EntrySpec {
    data: EntryData,
    signature: EntrySignature,
}

#[derive(Deserialize)]
struct EntryData {
    hash: EntryHash,
}

#[derive(Deserialize)]
struct EntryHash {
    algorithm: String,
    value: String,
}

#[derive(Deserialize)]
struct EntrySignature {
    content: String,
    #[serde(rename = "publicKey")]
    public_key: EntryKey,
}

#[derive(Deserialize)]
struct EntryKey {
    content: String,
}

impl CosignSignature {
    /// Verifies this signature of the image `digest` against `attestor`, at `now` (Unix
    /// seconds: only to refuse a log entry from the future).
    pub fn verify(
        &self,
        digest: &Digest,
        attestor: &Attestor,
        now: i64,
    ) -> Result<Verified, Rejection> {
        self.check_sizes()?;
        let payload: SimpleSigning = serde_json::from_slice(&self.payload)
            .map_err(|e| Rejection::Malformed(format!("signature payload: {e}")))?;
        if !payload
            .critical
            .kind
            .eq_ignore_ascii_case("cosign container image signature")
        {
            return Err(Rejection::Malformed(format!(
                "signature payload type {:?} is not a cosign container image signature",
                payload.critical.kind
            )));
        }
        if payload.critical.image.digest != digest.to_string() {
            return Err(Rejection::DigestMismatch {
                signed: payload.critical.image.digest,
            });
        }
        let signature = SignatureBytes::from_base64(self.signature.trim())
            .map_err(|_| Rejection::Malformed("signature is not base64".into()))?;
        match attestor {
            Attestor::Key { key, log } => {
                if !key.verifies(&self.payload, &signature) {
                    return Err(Rejection::BadSignature(
                        "the signature was not made by the policy's key".into(),
                    ));
                }
                if let Some(root) = log {
                    self.logged(root, &signature, key.der().as_bytes(), now)?;
                }
                Ok(Verified {
                    digest: digest.clone(),
                    signer: Signer::Key,
                })
            }
            Attestor::Keyless {
                subject,
                issuer,
                root,
            } => {
                let Some(pem) = &self.certificate else {
                    return Err(Rejection::BadSignature(
                        "signed with a key, not a keyless certificate".into(),
                    ));
                };
                let leaf = DerCertificate::from_pem(pem)
                    .map_err(|e| Rejection::Malformed(format!("signing certificate: {e}")))?;
                let info = sigstore_verify::crypto::parse_certificate_info(&leaf)
                    .map_err(|e| Rejection::Malformed(format!("signing certificate: {e}")))?;
                let key = crate::PublicKey::from_der(info.public_key.clone())
                    .map_err(|e| Rejection::Malformed(format!("signing certificate's key: {e}")))?;
                if !key.verifies(&self.payload, &signature) {
                    return Err(Rejection::BadSignature(
                        "the signature was not made by its certificate's key".into(),
                    ));
                }
                let time = self.logged(root, &signature, leaf.as_bytes(), now)?;
                let intermediates = match &self.chain {
                    Some(chain) => pem::parse_many(chain)
                        .map_err(|e| Rejection::Malformed(format!("certificate chain: {e}")))?
                        .into_iter()
                        .map(|block| DerCertificate::new(block.contents().to_vec()))
                        .collect(),
                    None => Vec::new(),
                };
                root.verify_certificate(&leaf, &intermediates, time)?;
                let identity = info.identity.as_ref().map(|i| i.as_str().to_string());
                let signer = crate::attestor::keyless_signer(
                    attestor,
                    subject,
                    issuer.as_ref(),
                    identity.unwrap_or_default(),
                    info.issuer.clone(),
                )?;
                Ok(Verified {
                    digest: digest.clone(),
                    signer,
                })
            }
        }
    }

    fn check_sizes(&self) -> Result<(), Rejection> {
        if self.payload.len() > MAX_PAYLOAD_LEN {
            return Err(Rejection::Malformed(format!(
                "signature payload is {} bytes; at most {MAX_PAYLOAD_LEN} are read",
                self.payload.len()
            )));
        }
        let annotations = [
            Some(&self.signature),
            self.certificate.as_ref(),
            self.chain.as_ref(),
            self.rekor_bundle.as_ref(),
        ];
        for a in annotations.into_iter().flatten() {
            if a.len() > MAX_ANNOTATION_LEN {
                return Err(Rejection::Malformed(format!(
                    "a signature annotation is {} bytes; at most {MAX_ANNOTATION_LEN} are read",
                    a.len()
                )));
            }
        }
        Ok(())
    }

    /// Checks the Rekor bundle: the log's signature over the entry (SET) with a key of
    /// `root` valid then, and that the entry records this payload, signature and signer.
    /// Returns when the log integrated the entry.
    fn logged(
        &self,
        root: &TrustRoot,
        signature: &SignatureBytes,
        signer_der: &[u8],
        now: i64,
    ) -> Result<jiff::Timestamp, Rejection> {
        let Some(text) = &self.rekor_bundle else {
            return Err(Rejection::TransparencyLog(
                "the signature carries no transparency-log entry (Rekor bundle)".into(),
            ));
        };
        let bundle: RekorBundle = serde_json::from_str(text)
            .map_err(|e| Rejection::Malformed(format!("Rekor bundle: {e}")))?;
        let set = SignatureBytes::from_base64(&bundle.set)
            .map_err(|_| Rejection::Malformed("Rekor bundle's SET is not base64".into()))?;
        let canonical = serde_json_canonicalizer::to_vec(&bundle.payload)
            .map_err(|e| Rejection::Malformed(format!("Rekor bundle: {e}")))?;
        let time = jiff::Timestamp::from_second(bundle.payload.integrated_time)
            .map_err(|_| Rejection::Malformed("Rekor bundle's integrated time".into()))?;
        if bundle.payload.integrated_time > now + MAX_SKEW_SECONDS {
            return Err(Rejection::TransparencyLog(format!(
                "the log entry is dated {time}, in the future"
            )));
        }
        let log_id = sigstore_verify::types::Sha256Hash::from_hex(&bundle.payload.log_id)
            .map_err(|_| Rejection::Malformed("Rekor bundle's logID".into()))?;
        root.rekor()
            .verify_with_key_id_at(&log_id, time, &canonical, &set)
            .map_err(|_| {
                Rejection::TransparencyLog(format!(
                    "the log's signed entry timestamp does not verify with a trusted Rekor key (log {})",
                    bundle.payload.log_id
                ))
            })?;
        self.entry_matches(&bundle.payload.body, signature, signer_der)?;
        Ok(time)
    }

    fn entry_matches(
        &self,
        body: &str,
        signature: &SignatureBytes,
        signer_der: &[u8],
    ) -> Result<(), Rejection> {
        let mismatch = |what: &str| {
            Rejection::TransparencyLog(format!("the log entry records another {what}"))
        };
        let body = SignatureBytes::from_base64(body)
            .map_err(|_| Rejection::Malformed("Rekor entry body is not base64".into()))?;
        let entry: Entry = serde_json::from_slice(body.as_bytes())
            .map_err(|e| Rejection::Malformed(format!("Rekor entry: {e}")))?;
        if entry.kind != "hashedrekord" && entry.kind != "rekord" {
            return Err(Rejection::TransparencyLog(format!(
                "the log entry is a {:?}, not a signature record",
                entry.kind
            )));
        }
        let hash = &entry.spec.data.hash;
        if hash.algorithm != "sha256"
            || !hash
                .value
                .eq_ignore_ascii_case(&sha256(&self.payload).to_hex())
        {
            return Err(mismatch("payload"));
        }
        let logged = SignatureBytes::from_base64(&entry.spec.signature.content)
            .map_err(|_| Rejection::Malformed("Rekor entry's signature".into()))?;
        if logged.as_bytes() != signature.as_bytes() {
            return Err(mismatch("signature"));
        }
        let key = SignatureBytes::from_base64(&entry.spec.signature.public_key.content)
            .map_err(|_| Rejection::Malformed("Rekor entry's public key".into()))?;
        let key = std::str::from_utf8(key.as_bytes())
            .ok()
            .and_then(|pem| pem::parse(pem).ok())
            .ok_or_else(|| Rejection::Malformed("Rekor entry's public key is not PEM".into()))?;
        if key.contents() != signer_der {
            return Err(mismatch("signer"));
        }
        Ok(())
    }
}
