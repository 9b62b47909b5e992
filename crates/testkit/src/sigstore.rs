//! Signing for tests, in the formats cosign writes: a key pair signing an image's
//! simple-signing payload (`cosign sign --key`), and a private sigstore instance — a Fulcio-like
//! CA issuing short-lived code-signing certificates with an identity and an OIDC issuer, and a
//! Rekor-like log key signing entry timestamps (SETs) over `hashedrekord` entries — for keyless
//! signatures (`cosign sign` with an identity). Keys are made fresh per run; nothing here is
//! trusted outside a test.

use std::collections::BTreeMap;

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SigningKey,
};
use serde_json::json;

fn b64(data: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
    )
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn public_pem(key: &KeyPair) -> String {
    let der = key.subject_public_key_info();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64(der)
    )
}

/// One signature as cosign stores it: the simple-signing payload (the layer) and the layer's
/// annotations.
#[derive(Debug, Clone)]
pub struct SignedPayload {
    pub payload: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

/// cosign's simple-signing payload for `reference` (`registry/repository`) at `digest`.
pub fn payload(reference: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": null
    }))
    .unwrap()
}

/// A signing key (ECDSA P-256, as `cosign generate-key-pair` makes).
pub struct TestKey {
    key: KeyPair,
}

impl TestKey {
    pub fn generate() -> Self {
        Self {
            key: KeyPair::generate().unwrap(),
        }
    }

    /// A key saved with [`TestKey::private_pem`].
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        KeyPair::from_pem(pem)
            .map(|key| Self { key })
            .map_err(|e| e.to_string())
    }

    /// The private key, PKCS#8 PEM (unencrypted: test keys only).
    pub fn private_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// The public key, PEM (`cosign.pub`).
    pub fn public_pem(&self) -> String {
        public_pem(&self.key)
    }

    /// Signs `payload` as `cosign sign --key --tlog-upload=false` does.
    pub fn sign(&self, payload: Vec<u8>) -> SignedPayload {
        let signature = self.key.sign(&payload).unwrap();
        SignedPayload {
            annotations: BTreeMap::from([(
                "dev.cosignproject.cosign/signature".to_string(),
                b64(signature),
            )]),
            payload,
        }
    }
}

/// A private sigstore instance: a CA (Fulcio) and a log key (Rekor).
pub struct TestInstance {
    ca_params: CertificateParams,
    ca_key: KeyPair,
    ca_pem: String,
    rekor: KeyPair,
    log_index: std::sync::atomic::AtomicI64,
}

/// What a keyless signing certificate asserts.
#[derive(Debug, Clone)]
pub struct Identity {
    /// An email (`alice@example.com`) or a URI (a CI workflow).
    pub subject: String,
    /// The OIDC issuer.
    pub issuer: String,
}

impl TestInstance {
    pub fn generate() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "rampart test fulcio");
        ca_params
            .distinguished_name
            .push(DnType::OrganizationName, "sigstore.dev");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        ca_params.not_after = rcgen::date_time_ymd(2100, 1, 1);
        let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
        Self {
            ca_params,
            ca_key,
            ca_pem,
            rekor: KeyPair::generate().unwrap(),
            log_index: std::sync::atomic::AtomicI64::new(1000),
        }
    }

    /// The CA certificate, PEM (`fulcio-roots.pem`).
    pub fn fulcio_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// The log's public key, PEM (`rekor.pub`).
    pub fn rekor_pem(&self) -> String {
        public_pem(&self.rekor)
    }

    /// The instance as a sigstore `trusted_root.json`.
    pub fn trusted_root_json(&self) -> String {
        let ca_der = pem_body(&self.ca_pem);
        let rekor_der = self.rekor.subject_public_key_info();
        let log_id = ring::digest::digest(&ring::digest::SHA256, &rekor_der);
        serde_json::to_string_pretty(&json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": "https://rekor.test.invalid",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": b64(&rekor_der), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                              "validFor": {"start": "2020-01-01T00:00:00Z"}},
                "logId": {"keyId": b64(log_id.as_ref())}
            }],
            "certificateAuthorities": [{
                "subject": {"organization": "sigstore.dev", "commonName": "rampart test fulcio"},
                "uri": "https://fulcio.test.invalid",
                "certChain": {"certificates": [{"rawBytes": b64(ca_der)}]},
                "validFor": {"start": "2020-01-01T00:00:00Z"}
            }],
            "ctlogs": [],
            "timestampAuthorities": []
        }))
        .unwrap()
    }

    /// Signs `payload` keylessly at `now` (Unix seconds): a fresh key, a 10-minute certificate
    /// for `identity`, the signature, and the log's entry timestamp for it.
    pub fn sign(&self, payload: Vec<u8>, identity: &Identity, now: i64) -> SignedPayload {
        self.sign_logged_at(payload, identity, now, now)
    }

    /// [`TestInstance::sign`] with the certificate issued at `issued` and the log recording
    /// the signature at `logged` (outside the certificate's 10 minutes: an expired signing).
    pub fn sign_logged_at(
        &self,
        payload: Vec<u8>,
        identity: &Identity,
        issued: i64,
        logged: i64,
    ) -> SignedPayload {
        let now = issued;
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![if identity.subject.contains('@')
            && !identity.subject.contains("://")
        {
            SanType::Rfc822Name(identity.subject.clone().try_into().unwrap())
        } else {
            SanType::URI(identity.subject.clone().try_into().unwrap())
        }];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = time::OffsetDateTime::from_unix_timestamp(now - 60).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(now + 540).unwrap();
        // Fulcio's issuer extension (1.3.6.1.4.1.57264.1.8), a DER UTF8String.
        let issuer = identity.issuer.as_bytes();
        let mut der = vec![0x0c];
        der.extend(der_len(issuer.len()));
        der.extend(issuer);
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
                der,
            ));
        let ca = Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert_pem = params.signed_by(&key, &ca).unwrap().pem();
        let signature = key.sign(&payload).unwrap();
        let rekor_bundle = self.entry(&payload, &signature, &cert_pem, logged);
        SignedPayload {
            annotations: BTreeMap::from([
                (
                    "dev.cosignproject.cosign/signature".to_string(),
                    b64(&signature),
                ),
                ("dev.sigstore.cosign/certificate".to_string(), cert_pem),
                ("dev.sigstore.cosign/bundle".to_string(), rekor_bundle),
            ]),
            payload,
        }
    }

    /// The Rekor bundle annotation: a `hashedrekord` entry of the signature, and the log's
    /// signature over the canonical JSON of its payload.
    fn entry(&self, payload: &[u8], signature: &[u8], signer_pem: &str, now: i64) -> String {
        let body = json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256",
                                  "value": sha256_digest(payload).trim_start_matches("sha256:")}},
                "signature": {"content": b64(signature), "publicKey": {"content": b64(signer_pem)}}
            }
        });
        let log_id = hex(ring::digest::digest(
            &ring::digest::SHA256,
            &self.rekor.subject_public_key_info(),
        )
        .as_ref());
        let index = self
            .log_index
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Canonical JSON (RFC 8785): keys sorted, no spaces; these values need no escapes.
        let entry = BTreeMap::from([
            ("body", json!(b64(serde_json::to_vec(&body).unwrap()))),
            ("integratedTime", json!(now)),
            ("logID", json!(log_id)),
            ("logIndex", json!(index)),
        ]);
        let canonical = serde_json::to_vec(&entry).unwrap();
        let set = self.rekor.sign(&canonical).unwrap();
        serde_json::to_string(&json!({"SignedEntryTimestamp": b64(set), "Payload": entry})).unwrap()
    }
}

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else if n < 0x100 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

fn pem_body(pem: &str) -> Vec<u8> {
    let text: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}
