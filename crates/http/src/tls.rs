//! TLS for the serving layer ([`crate::serve`]): HTTP/1.1 and HTTP/2 by ALPN, with a certificate that is reloaded when its
//! files change. cert-manager and kubelet secret mounts replace files atomically (symlink swap),
//! so the files are polled by content: a new handshake gets the new certificate, connections
//! already open keep theirs and are never dropped. A broken new pair is ignored (logged and
//! counted) and the previous certificate stays in use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// A certificate or key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rampart_files::ReadError,
    },
    /// No certificate in the PEM file.
    #[error("{0}: no PEM certificate found")]
    NoCertificate(PathBuf),
    /// No private key in the PEM file.
    #[error("{0}: no PEM private key found")]
    NoKey(PathBuf),
    /// The key is not usable with rustls' providers.
    #[error("{path}: unusable private key: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key does not belong to the certificate.
    #[error("{0}: the private key does not match the certificate")]
    Mismatch(PathBuf),
}

/// Largest certificate or key file read: a chain of a few certificates is a few KB.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    rampart_files::read_bounded(path, MAX_PEM_BYTES).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses a PEM certificate chain and private key into a rustls key.
pub fn certified_key(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_path: &Path,
    key_path: &Path,
) -> Result<CertifiedKey, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert_path.to_path_buf()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|_| TlsError::NoKey(key_path.to_path_buf()))?;
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Key {
            path: key_path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let ck = CertifiedKey::new(certs, signing);
    match ck.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(ck),
        Err(_) => Err(TlsError::Mismatch(key_path.to_path_buf())),
    }
}

/// The serving certificate, swapped in place on reload.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<(Vec<u8>, Arc<CertifiedKey>)>,
}

impl ReloadingCert {
    /// Loads the pair now; fails when it is unusable (start-up must not serve without one).
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<ReloadingCert, TlsError> {
        let (c, k) = (read(cert_path)?, read(key_path)?);
        let ck = certified_key(&c, &k, cert_path, key_path)?;
        Ok(ReloadingCert {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            current: RwLock::new(([c, k].concat(), Arc::new(ck))),
        })
    }

    /// Re-reads the files; installs them if they changed and are valid. `Ok(true)` when a new
    /// certificate is now served.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let (c, k) = (read(&self.cert_path)?, read(&self.key_path)?);
        let fingerprint = [c.as_slice(), k.as_slice()].concat();
        if self
            .current
            .read()
            .map(|g| g.0 == fingerprint)
            .unwrap_or(false)
        {
            return Ok(false);
        }
        let ck = certified_key(&c, &k, &self.cert_path, &self.key_path)?;
        if let Ok(mut g) = self.current.write() {
            *g = (fingerprint, Arc::new(ck));
        }
        Ok(true)
    }

    /// Polls the files every `every` until cancelled.
    pub async fn watch(
        self: Arc<Self>,
        every: Duration,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
    ) {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            match self.reload() {
                Ok(true) => {
                    metrics.cert_reloads.inc();
                    tracing::info!(cert = %self.cert_path.display(), "TLS certificate reloaded");
                }
                Ok(false) => {}
                Err(e) => {
                    metrics.cert_reload_errors.inc();
                    tracing::warn!(
                        "TLS certificate not reloaded, the previous one stays in use: {e}"
                    );
                }
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|g| g.1.clone())
    }
}

/// The CA certificates in `pem` (`what` names the file in errors); none is an error.
pub fn root_store(pem: &[u8], what: &str) -> Result<rustls::RootCertStore, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_slice_iter(pem) {
        let der = der.map_err(|e| rustls::Error::General(format!("reading {what}: {e}")))?;
        roots.add(der)?;
    }
    if roots.is_empty() {
        return Err(rustls::Error::General(format!(
            "{what} holds no certificate"
        )));
    }
    Ok(roots)
}

/// A rustls server configuration over the reloading certificate, offering h2 and http/1.1.
pub fn server_config(cert: Arc<ReloadingCert>) -> Result<Arc<ServerConfig>, rustls::Error> {
    server_config_with_clients(cert, None)
}

/// Like [`server_config`]; with `client_ca` (PEM certificates), a client may also present a
/// certificate, verified against those CAs — what an API server's audit webhook kubeconfig
/// can present. Presenting none is allowed (the bearer token still works); presenting one that
/// does not verify fails the handshake. The serving layer marks a verified client's requests
/// with [`crate::serve::VerifiedClient`].
pub fn server_config_with_clients(
    cert: Arc<ReloadingCert>,
    client_ca: Option<&[u8]>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let roots = root_store(pem, "the client CA")?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| rustls::Error::General(format!("client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(cert);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
