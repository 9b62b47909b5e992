//! rampart's request guard, pure: everything the gate decides, with no I/O, no clock and no
//! async, so the proxy, `rampart guard replay`, the detection harness and the fuzz targets run
//! the same code.
//!
//! * [`exchange`]: a request (and response) and the values extracted from it, by location
//!   (`query.q`, `json.user.name`, `header.user-agent`, ...), bounded;
//! * [`profile`]: one string value's character classes, punctuation, sequences, Unicode
//!   blocks and formats;
//! * [`route`]: route templates (`/users/{int}`);
//! * [`sketch`] and [`pile`]: fixed-size summaries of what was seen, with a merge that is
//!   associative, commutative and idempotent;
//! * [`learn`]: criteria ([`rampart_api::Criteria`], the Guardian's format) from piles, with
//!   support thresholds and quantile limits;
//! * [`lookup`]: which Guardian a service follows (its own, the namespace's, the cluster's);
//! * [`judge`]: a request against compiled criteria; [`detect`]: structural injection
//!   detectors for values whose learned profile admits what an injection needs;
//! * [`sync`]: the message a gate sends the learner, read as untrusted input;
//! * [`learner`]: the learner's state: piles merged per service, learned and persisted on
//!   the original's cadence, rebuilt after a restart without narrowing criteria;
//! * [`words`]: criteria in words, for the people who review them;
//! * [`peers`]: the pod's public outbound peers from `/proc/net/*`;
//! * [`cadence`]: when a gate syncs with the learner, and when the learner learns and persists;
//! * [`check`]: what makes a Guardian's spec invalid (the admission webhook's answer);
//! * [`har`]: HAR 1.2 input for offline learning and judging ([`replay`]).

pub mod cadence;
pub mod check;
pub mod detect;
pub mod exchange;
pub mod har;
pub mod hash;
pub mod judge;
pub mod learn;
pub mod learner;
pub mod lookup;
pub mod peers;
pub mod pile;
pub mod profile;
pub mod route;
pub mod sketch;
pub mod sync;
pub mod words;

pub mod replay;

pub use judge::{Judge, Reason, Verdict};
pub use pile::{Origin, ServicePile};
use rampart_api::GuardMode;

/// What the gate does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pass,
    /// Passed, and recorded as an alert.
    Alert,
    /// Refused with 403.
    Block,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Alert => "alert",
            Self::Block => "block",
        }
    }
}

/// The decision for a verdict under a mode. `learn` never alerts.
pub fn decide(mode: GuardMode, verdict: &Verdict) -> Decision {
    match (mode, verdict.passed()) {
        (_, true) | (GuardMode::Learn, _) => Decision::Pass,
        (GuardMode::Alert, false) => Decision::Alert,
        (GuardMode::Block, false) => Decision::Block,
    }
}

/// Test traffic: `n` requests `GET /items/{i}?q=red+shoes` numbered from `from`, each in its own
/// session, from `clients` clients, piled.
#[cfg(test)]
pub(crate) fn shop_pile(from: u64, n: u64, clients: u64) -> ServicePile {
    let mut p = ServicePile::default();
    for i in from..from + n {
        let x = exchange::Exchange {
            method: "GET".into(),
            target: format!("/items/{i}?q=red+shoes"),
            headers: vec![("user-agent".into(), "curl/8".into())],
            ..exchange::Exchange::default()
        };
        p.observe(
            &exchange::extract(&x),
            None,
            None,
            Origin {
                session: i,
                client: i % clients.max(1),
                request: hash::stable(&i.to_le_bytes()),
            },
        );
    }
    p
}
