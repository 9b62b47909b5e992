//! The message a gate sends the learner (`POST /sync`): its pile, its pending counts and
//! whether it raised a pod alert. The learner reads it as untrusted input: bounded in size,
//! strictly typed, the pile normalized (every sketch rebuilt, every bound re-applied, routes,
//! locations and networks no gate would make dropped), and the service it names checked
//! against the identity the learner verified — a gate cannot pile into another service.

use serde::{Deserialize, Serialize};

use crate::ServicePile;

/// The message's schema name.
pub const SCHEMA: &str = "rampart.dev/guard-sync/v1";

/// The largest message a learner reads (a full pile of the fixed-size summaries is well
/// under this).
pub const MAX_BYTES: usize = 8 << 20;

/// One gate's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncMessage {
    /// [`SCHEMA`].
    pub schema: String,
    /// The service the gate guards, as the gate believes; the learner compares it with the
    /// identity it verified and refuses a mismatch.
    pub service: String,
    /// Everything the gate piled since it last synced.
    pub pile: ServicePile,
    /// Samples in the pile.
    pub samples: u64,
    /// Alerts raised since the last sync, by reason class.
    #[serde(default)]
    pub alerts: std::collections::BTreeMap<String, u64>,
    /// The gate saw the pod connect to a public peer never learned.
    #[serde(default)]
    pub pod_alert: bool,
    /// The latest alert since the last sync: route, location and reason (never a value), at
    /// most [`MAX_NOTE`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_alert: Option<String>,
}

/// The longest alert note kept.
pub const MAX_NOTE: usize = 512;

/// An alert note within [`MAX_NOTE`] bytes, control characters replaced.
pub fn note(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_NOTE));
    for c in raw.chars() {
        if out.len() + c.len_utf8() > MAX_NOTE {
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}

/// Why a sync message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("sync message of {size} bytes is over the {cap}-byte limit")]
    TooLarge { size: usize, cap: usize },
    #[error("sync message is not valid: {0}")]
    Invalid(String),
    #[error("sync message has an unknown schema {found:?}")]
    Schema { found: String },
    #[error("sync message names service {claimed:?}, but the gate is {verified:?}")]
    WrongService { claimed: String, verified: String },
    #[error("sync message has {0} alert classes; a gate has at most {MAX_ALERT_CLASSES}")]
    TooManyAlertClasses(usize),
}

/// Reason classes are a fixed, small set (see `judge::Reason::class`).
pub const MAX_ALERT_CLASSES: usize = 64;

impl SyncMessage {
    /// A message carrying `pile`.
    pub fn new(service: &str, pile: ServicePile, samples: u64) -> Self {
        SyncMessage {
            schema: SCHEMA.into(),
            service: service.into(),
            pile,
            samples,
            alerts: Default::default(),
            pod_alert: false,
            last_alert: None,
        }
    }

    /// Alerts in the message, all classes.
    pub fn alert_count(&self) -> u64 {
        self.alerts.values().fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// Refuses a message that names a service other than the one the learner verified the
    /// gate to be (from its ServiceAccount token and pod labels, never from the message).
    pub fn check_claim(&self, verified: &str) -> Result<(), SyncError> {
        if self.service == verified {
            Ok(())
        } else {
            Err(SyncError::WrongService {
                claimed: crate::exchange::clean_name(&self.service),
                verified: verified.into(),
            })
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Reads a message from outside: bounded, strictly typed, its pile normalized.
pub fn decode(bytes: &[u8], cap: usize) -> Result<SyncMessage, SyncError> {
    if bytes.len() > cap {
        return Err(SyncError::TooLarge {
            size: bytes.len(),
            cap,
        });
    }
    // serde_json stops at 128 levels of nesting; a pile is 8 deep.
    let mut m: SyncMessage =
        serde_json::from_slice(bytes).map_err(|e| SyncError::Invalid(e.to_string()))?;
    if m.schema != SCHEMA {
        return Err(SyncError::Schema {
            found: crate::exchange::clean_name(&m.schema),
        });
    }
    if m.alerts.len() > MAX_ALERT_CLASSES {
        return Err(SyncError::TooManyAlertClasses(m.alerts.len()));
    }
    m.pile = m.pile.normalized();
    m.last_alert = m.last_alert.map(|n| note(&n));
    Ok(m)
}

/// The schema name of the learner's answer.
pub const REPLY_SCHEMA: &str = "rampart.dev/guard-sync-reply/v1";

/// The learner's answer to a sync: the Guardian the gate follows now (its service's own, or
/// one made from the namespace or cluster default, see [`crate::lookup`]), with the criteria
/// learned from every replica's traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncReply {
    /// [`REPLY_SCHEMA`].
    pub schema: String,
    pub guardian: rampart_api::Guardian,
    /// Where the control came from: `service`, `namespace-default`, `cluster-default`.
    pub source: String,
}

impl SyncReply {
    pub fn new(guardian: rampart_api::Guardian, source: crate::lookup::Source) -> Self {
        SyncReply {
            schema: REPLY_SCHEMA.into(),
            guardian,
            source: source.as_str().into(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Reads the learner's answer: bounded, strictly typed.
pub fn decode_reply(bytes: &[u8], cap: usize) -> Result<SyncReply, SyncError> {
    if bytes.len() > cap {
        return Err(SyncError::TooLarge {
            size: bytes.len(),
            cap,
        });
    }
    let r: SyncReply =
        serde_json::from_slice(bytes).map_err(|e| SyncError::Invalid(e.to_string()))?;
    if r.schema != REPLY_SCHEMA {
        return Err(SyncError::Schema {
            found: crate::exchange::clean_name(&r.schema),
        });
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn;

    fn pile(n: u64) -> ServicePile {
        crate::shop_pile(0, n, 5)
    }

    #[test]
    fn a_message_round_trips_and_its_pile_is_already_normal() {
        let m = SyncMessage::new("api", pile(50), 50);
        let back = decode(&m.encode(), MAX_BYTES).expect("decodes");
        assert_eq!(back, m);
        assert_eq!(learn::samples(&back.pile), 50);
    }

    #[test]
    fn bad_messages_are_refused_with_a_reason() {
        let m = SyncMessage::new("api", pile(3), 3);
        let bytes = m.encode();
        assert!(matches!(
            decode(&bytes, 10),
            Err(SyncError::TooLarge { cap: 10, .. })
        ));
        assert!(matches!(
            decode(b"{\"schema\": 1}", MAX_BYTES),
            Err(SyncError::Invalid(_))
        ));
        let mut other = m.clone();
        other.schema = "v0".into();
        assert!(matches!(
            decode(&other.encode(), MAX_BYTES),
            Err(SyncError::Schema { .. })
        ));
        let mut extra: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        extra["namespace"] = "kube-system".into();
        let e = decode(&serde_json::to_vec(&extra).expect("json"), MAX_BYTES);
        assert!(
            matches!(&e, Err(SyncError::Invalid(s)) if s.contains("unknown field `namespace`")),
            "the identity never comes from the message: {e:?}"
        );
        assert_eq!(
            m.check_claim("payments"),
            Err(SyncError::WrongService {
                claimed: "api".into(),
                verified: "payments".into()
            })
        );
        assert!(m.check_claim("api").is_ok());
    }

    #[test]
    fn a_forged_pile_is_cut_back_to_what_a_gate_could_send() {
        let m = SyncMessage::new("api", pile(20), 20);
        let mut v: serde_json::Value = serde_json::from_slice(&m.encode()).expect("json");
        // Oversized, unsorted, duplicated sketches; a route and a location no gate makes; a
        // client that is no network.
        let hashes: Vec<u64> = (0..5000u64).rev().chain(0..10).collect();
        v["pile"]["requests"]["hashes"] = serde_json::json!(hashes);
        v["pile"]["clients"]["not a network"] =
            serde_json::json!({"sessions": {"hashes": [1]}, "clients": {"hashes": [1]}});
        let route = v["pile"]["routes"][0].clone();
        let mut evil = route.clone();
        evil[0] = serde_json::json!(["get", "no-slash\u{7}"]);
        let mut bad_location = route.clone();
        bad_location[1]["values"]["query.\"q\""] = route[1]["values"]["query.q"].clone();
        v["pile"]["routes"] = serde_json::json!([route, evil, bad_location]);
        let back = decode(&serde_json::to_vec(&v).expect("json"), MAX_BYTES).expect("decodes");
        assert_eq!(back.pile.requests.len(), 256, "cut to the sketch's size");
        assert_eq!(back.pile.routes.len(), 1, "the forged route is dropped");
        assert!(back.pile.clients.is_empty());
        let route = back.pile.routes.values().next().expect("route");
        assert!(!route.values.contains_key("query.\"q\""));
        // Normalizing twice changes nothing, and merging the message twice counts it once.
        assert_eq!(back.pile.normalized(), back.pile);
        let mut once = ServicePile::default();
        once.merge(&back.pile);
        let mut twice = once.clone();
        twice.merge(&back.pile);
        assert_eq!(once, twice);
    }
}
