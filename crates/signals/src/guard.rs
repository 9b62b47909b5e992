//! Request-guard events (`rampart.dev/guard-event/v1`), sent by `rampart learner` to the
//! engine's `POST /guard`: a gate's alerts on one pod (`request-anomaly`: requests that broke
//! the learned criteria) and a gate's pod alert (`compromise`: the pod connected to a public
//! peer never learned). The learner verified the gate's identity before sending; the engine
//! still reads the body as untrusted input: bounded, strictly typed, names checked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::behaviour::Behaviour;
use crate::bounded::{MAX_TEXT, MAX_TOKEN, truncate};
use crate::falco::Priority;
use crate::observe::{Observation, Origin, Subject};

/// The body's schema name.
pub const SCHEMA: &str = "rampart.dev/guard-event/v1";
/// Most events in one body.
pub const MAX_EVENTS: usize = 1000;
/// Most reason classes in one event (the gate has a fixed, small set).
pub const MAX_REASONS: usize = 64;

/// What a gate saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// Requests that broke the learned criteria (alerted or blocked).
    RequestAnomaly,
    /// The pod connected out to a public peer never learned.
    Compromise,
}

impl EventKind {
    /// The event's name as a rule, for the response mapping's `rule` condition.
    pub fn rule(self) -> &'static str {
        match self {
            Self::RequestAnomaly => "rampart guard request anomaly",
            Self::Compromise => "rampart guard compromise",
        }
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuardEvent {
    pub kind: EventKind,
    pub namespace: String,
    pub pod: String,
    /// The service the gate guards.
    pub service: String,
    /// Alerts by reason class (`punctuation`, `injection`, `route`, ...).
    #[serde(default)]
    pub reasons: BTreeMap<String, u64>,
    /// `alert` or `block`: what the gate did with the requests.
    #[serde(default)]
    pub mode: String,
    /// One line (location and reason of the latest alert).
    #[serde(default)]
    pub summary: String,
}

/// A body of events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuardEvents {
    pub schema: String,
    pub events: Vec<GuardEvent>,
}

impl GuardEvents {
    pub fn new(events: Vec<GuardEvent>) -> Self {
        GuardEvents {
            schema: SCHEMA.into(),
            events,
        }
    }
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardEventError {
    #[error("guard events are not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("guard events have schema {0:?}, expected {SCHEMA:?}")]
    Schema(String),
    #[error("{0} guard events in one body; at most {MAX_EVENTS}")]
    TooMany(usize),
}

/// The events a body holds; `refused` counts events with an invalid name or too many reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub events: Vec<GuardEvent>,
    pub refused: usize,
}

/// Reads a body (its size was bounded by the caller).
pub fn parse_body(body: &[u8]) -> Result<Batch, GuardEventError> {
    let all: GuardEvents = serde_json::from_slice(body)
        .map_err(|e| GuardEventError::Malformed(truncate(&e.to_string(), MAX_TOKEN)))?;
    if all.schema != SCHEMA {
        return Err(GuardEventError::Schema(truncate(&all.schema, MAX_TOKEN)));
    }
    if all.events.len() > MAX_EVENTS {
        return Err(GuardEventError::TooMany(all.events.len()));
    }
    let mut batch = Batch::default();
    for mut e in all.events {
        let names_ok = [&e.namespace, &e.pod, &e.service]
            .iter()
            .all(|n| rampart_model::names::is_dns_subdomain(n));
        if !names_ok || e.reasons.len() > MAX_REASONS {
            batch.refused += 1;
            continue;
        }
        e.reasons = e
            .reasons
            .into_iter()
            .map(|(k, v)| (truncate(&k, MAX_TOKEN), v))
            .collect();
        e.summary = truncate(&e.summary, MAX_TEXT);
        e.mode = truncate(&e.mode, MAX_TOKEN);
        batch.events.push(e);
    }
    Ok(batch)
}

/// The observation an event makes: a request anomaly on the pod (corroborates the chains that
/// enter through its workload), or for a compromise an unexpected outbound connection at
/// `critical` (which the default response mapping isolates).
pub fn observation(e: &GuardEvent) -> Observation {
    let (behaviour, priority) = match e.kind {
        EventKind::RequestAnomaly => (Behaviour::RequestAnomaly, Priority::Warning),
        EventKind::Compromise => (Behaviour::UnexpectedOutbound, Priority::Critical),
    };
    let alerts: u64 = e.reasons.values().fold(0, |a, b| a.saturating_add(*b));
    let summary = match e.kind {
        EventKind::RequestAnomaly => format!(
            "rampart guard ({}): {alerts} request(s) to service {} broke the learned criteria ({}){}",
            if e.mode.is_empty() { "alert" } else { &e.mode },
            e.service,
            e.reasons.keys().cloned().collect::<Vec<_>>().join(", "),
            if e.summary.is_empty() {
                String::new()
            } else {
                format!(": {}", e.summary)
            }
        ),
        EventKind::Compromise => format!(
            "rampart guard: pod of service {} connected to a public peer never learned",
            e.service
        ),
    };
    Observation {
        behaviour,
        subject: Subject::Pod {
            namespace: e.namespace.clone(),
            name: e.pod.clone(),
        },
        origin: Origin::Guard {
            kind: e.kind,
            service: e.service.clone(),
            priority,
            reasons: e.reasons.keys().cloned().collect(),
        },
        summary: truncate(&summary, MAX_TEXT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind) -> GuardEvent {
        GuardEvent {
            kind,
            namespace: "shop".into(),
            pod: "api-7d9-x2".into(),
            service: "api".into(),
            reasons: BTreeMap::from([("injection".into(), 3), ("punctuation".into(), 1)]),
            mode: "block".into(),
            summary: "query.q: injection (SQL)".into(),
        }
    }

    #[test]
    fn events_round_trip_and_become_observations() {
        let body = serde_json::to_vec(&GuardEvents::new(vec![
            event(EventKind::RequestAnomaly),
            event(EventKind::Compromise),
        ]))
        .expect("json");
        let b = parse_body(&body).expect("parses");
        assert_eq!((b.events.len(), b.refused), (2, 0));
        let o = observation(&b.events[0]);
        assert_eq!(o.behaviour, Behaviour::RequestAnomaly);
        assert!(o.summary.contains("4 request(s)"), "{}", o.summary);
        assert!(
            o.summary.contains("injection, punctuation"),
            "{}",
            o.summary
        );
        let c = observation(&b.events[1]);
        assert_eq!(c.behaviour, Behaviour::UnexpectedOutbound);
        assert!(matches!(
            c.origin,
            Origin::Guard {
                priority: Priority::Critical,
                ..
            }
        ));
    }

    #[test]
    fn bad_bodies_and_bad_events_are_refused_with_a_reason() {
        assert!(matches!(
            parse_body(b"{"),
            Err(GuardEventError::Malformed(_))
        ));
        assert!(matches!(
            parse_body(br#"{"schema": "v0", "events": []}"#),
            Err(GuardEventError::Schema(_))
        ));
        let mut unknown = serde_json::to_value(GuardEvents::new(vec![])).expect("json");
        unknown["token"] = "x".into();
        assert!(matches!(
            parse_body(&serde_json::to_vec(&unknown).expect("json")),
            Err(GuardEventError::Malformed(m)) if m.contains("unknown field")
        ));
        let many = GuardEvents::new(vec![event(EventKind::RequestAnomaly); MAX_EVENTS + 1]);
        assert_eq!(
            parse_body(&serde_json::to_vec(&many).expect("json")),
            Err(GuardEventError::TooMany(MAX_EVENTS + 1))
        );
        let mut bad = event(EventKind::Compromise);
        bad.pod = "../../etc".into();
        let mut wide = event(EventKind::RequestAnomaly);
        wide.reasons = (0..100).map(|i| (format!("r{i}"), 1)).collect();
        let body = serde_json::to_vec(&GuardEvents::new(vec![
            bad,
            wide,
            event(EventKind::RequestAnomaly),
        ]))
        .expect("json");
        let b = parse_body(&body).expect("parses");
        assert_eq!((b.events.len(), b.refused), (1, 2));
    }
}
