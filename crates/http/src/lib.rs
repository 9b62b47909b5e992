//! rampart's HTTP surfaces, as adapters over the pure core: the admission webhook router
//! ([`admission`]), the engine's read-only dashboard ([`dashboard`]), its metrics ([`metrics`]), the one serving layer every listener
//! shares, with its connection limits and timeouts ([`serve`]), and TLS with certificate reload
//! ([`tls`]), and the client rampart's components post to each other with ([`client`]).
//! Handlers parse, call `rampart-policy`, and write; they hold no policy logic.

pub mod admission;
pub mod auth;
pub mod client;
pub mod dashboard;
pub mod guard_page;
pub mod images;
pub mod ingest;
pub mod metrics;
pub mod netpol_page;
mod percent;
pub mod serve;
pub mod tls;
