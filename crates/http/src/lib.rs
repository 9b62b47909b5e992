//! rampart's HTTP surfaces, as adapters over the pure core: the admission webhook router
//! ([`admission`]), the engine's read-only dashboard ([`dashboard`]), its metrics ([`metrics`]) and TLS serving with certificate reload
//! ([`tls`]). Handlers parse, call `rampart-policy`, and write; they hold no policy logic.

pub mod admission;
pub mod dashboard;
pub mod ingest;
pub mod metrics;
pub mod tls;
