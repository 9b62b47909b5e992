//! Offline learning and judging of recorded traffic, with exactly the gate's code:
//! `rampart guard replay` and the detection harness use it.

use rampart_api::{Criteria, GuardControl};
use serde::Serialize;

use crate::exchange::{extract, extract_response};
use crate::har::Recorded;
use crate::hash;
use crate::judge::{Judge, Reason};
use crate::learn;
use crate::pile::{Origin, ServicePile};

/// The origin of a recorded request: its session (or its own index when it has none), its
/// client address (or one shared "unknown" client) and its index.
pub fn origin(r: &Recorded, index: usize, salt: &str) -> Origin {
    let request = hash::stable(format!("{salt}#{index}").as_bytes());
    let session = match &r.session {
        Some(s) => hash::stable(format!("{salt}/s/{s}").as_bytes()),
        None => request,
    };
    let client = match r.client {
        Some(ip) => hash::stable(ip.to_string().as_bytes()),
        None => hash::stable(b"unknown client"),
    };
    Origin {
        session,
        client,
        request,
    }
}

/// Learns a pile from recorded requests.
pub fn pile(records: &[Recorded], salt: &str) -> ServicePile {
    let mut pile = ServicePile::default();
    for (i, r) in records.iter().enumerate() {
        let x = extract(&r.exchange);
        let resp = r.exchange.response.as_ref().map(extract_response);
        pile.observe(&x, resp.as_ref(), r.client, origin(r, i, salt));
    }
    pile
}

/// What learning produced.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Learned {
    pub routes: usize,
    pub samples: u64,
    /// Distinct clients seen (saturating at 8), to explain an empty result.
    #[serde(skip)]
    pub clients: usize,
}

/// Learns criteria from recorded requests.
pub fn learn(records: &[Recorded], control: &GuardControl) -> (Criteria, Learned) {
    let p = pile(records, "learn");
    let criteria = learn::learn(&p, control);
    let clients = p
        .routes
        .values()
        .map(|r| r.support.clients.len())
        .max()
        .unwrap_or(0);
    let learned = Learned {
        routes: criteria.routes.len(),
        samples: records.len() as u64,
        clients,
    };
    (criteria, learned)
}

/// One judged request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Judged {
    pub index: usize,
    pub method: String,
    pub url: String,
    /// `pass` or `alert`.
    pub decision: &'static str,
    pub reasons: Vec<Reason>,
}

/// Judges one recorded request (and its response, when recorded).
pub fn judge(judge: &Judge, index: usize, r: &Recorded) -> Judged {
    let x = extract(&r.exchange);
    let mut v = judge.request(&x, r.client);
    if let (Some(route), Some(resp)) = (&v.route, &r.exchange.response) {
        let more = judge.response(route, &extract_response(resp));
        v.reasons.extend(more);
    }
    Judged {
        index,
        method: x.method,
        url: crate::exchange::clean_target(&r.exchange.target),
        decision: if v.reasons.is_empty() {
            "pass"
        } else {
            "alert"
        },
        reasons: v.reasons,
    }
}
