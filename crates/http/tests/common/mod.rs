//! Helpers shared by the HTTP integration tests.

#![allow(clippy::unwrap_used, dead_code)] // test helpers; not every test file uses each one

use std::sync::Arc;

use rustls::pki_types::CertificateDer;

/// A TLS client that trusts only `trust` and offers one ALPN protocol (`h2`, `http/1.1`).
pub fn client_config(trust: &CertificateDer<'static>, alpn: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trust.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(config)
}
