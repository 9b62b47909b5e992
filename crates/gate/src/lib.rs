//! The gate of `rampart guard`: a reverse proxy in front of one service (`127.0.0.1:<port>`).
//! Each request is read up to the inspection cap, extracted, judged by `rampart-guard`, and
//! then forwarded (pass, alert) or refused with 403 and a request id (block). What passes is
//! learned into a pile; criteria are re-learned from it periodically.
//!
//! Connection handling (HTTP/1.1, HTTP/2 with and without TLS, header and request timeouts,
//! connection caps, HTTP/2 stream and window limits) is `rampart-http`'s serving layer, the
//! same the webhook uses. In a cluster, [`sync`] sends the pile to `rampart learner` and puts
//! the criteria it learned from every replica in force.

mod body;
mod learner;
mod metrics;
mod proxy;
pub mod sync;

pub use metrics::GateMetrics;
pub use proxy::{Config, Gate, router};
