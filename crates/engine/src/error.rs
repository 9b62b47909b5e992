//! What can stop the engine before or while it starts. Every message reads as the flag or file
//! it is about; the binary prints the chain (`context: cause`).

use std::net::SocketAddr;
use std::path::PathBuf;

/// An engine error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file the configuration names could not be read.
    #[error("reading {what}{}", path.display())]
    Read {
        /// What the file holds, with a trailing space (`"the ingest token "`), or empty.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rampart_files::ReadError,
    },
    /// An invalid setting.
    #[error("{0}")]
    Config(String),
    /// The Falco rule → behaviour mapping is invalid.
    #[error(transparent)]
    Behaviours(#[from] rampart_signals::behaviour::MappingError),
    /// The observation → pod action mapping is invalid.
    #[error(transparent)]
    Responses(#[from] rampart_respond::infected::ResponseMappingError),
    /// The audit allow-list is invalid.
    #[error(transparent)]
    AuditAllow(#[from] rampart_signals::audit::AuditError),
    /// The KEV catalogue is invalid.
    #[error("{}", path.display())]
    Kev {
        /// The catalogue.
        path: PathBuf,
        /// Why.
        #[source]
        source: rampart_signals::kev::KevError,
    },
    /// The ingest certificate or key could not be loaded.
    #[error("loading the ingest certificate")]
    IngestCert(#[source] rampart_http::tls::TlsError),
    /// The ingest TLS configuration could not be built.
    #[error("ingest TLS configuration")]
    IngestTls(#[source] rustls::Error),
    /// The async runtime did not start.
    #[error("starting the runtime")]
    Runtime(#[source] std::io::Error),
    /// No API server client.
    #[error("connecting to the API server")]
    Connect(#[source] kube::Error),
    /// A listener could not bind.
    #[error("binding {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Leader election did not start.
    #[error("starting leader election")]
    Leader(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Any other I/O failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
