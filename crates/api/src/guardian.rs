//! The request guard's per-service rules: a [`Guardian`] (namespaced) holds how the gate acts
//! ([`GuardControl`]) and criteria an operator wrote ([`GuardianSpec::configured`]) in its
//! `spec`, and the criteria the learner wrote ([`GuardianStatus::learned`]) in its `status`.
//! The spec is the operator's and the status the learner's: the learner patches only the
//! status subresource, so a human edit of the spec is never overwritten, and a `kubectl apply`
//! of the spec never erases what was learned.
//!
//! Criteria are keyed per route (method + template), then per value location, so one route's
//! query keys never widen another's (the original security-guard's single map per service did).

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the gate treats a request that breaks the criteria.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum GuardMode {
    /// Profile only; never alert or block.
    Learn,
    /// Pass the request and record an alert.
    #[default]
    Alert,
    /// Refuse the request with 403 and a request id.
    Block,
}

impl GuardMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Learn => "learn",
            Self::Alert => "alert",
            Self::Block => "block",
        }
    }
}

/// The operator's part of a Guardian: mode and learning policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuardControl {
    /// `learn`, `alert` (default) or `block`.
    #[serde(default)]
    pub mode: GuardMode,
    /// Keep learning while alerting or blocking.
    #[serde(default = "yes")]
    pub learn: bool,
    /// Learn from requests that raised an alert too. Off by default: one malicious request
    /// learned is otherwise accepted for good.
    #[serde(default)]
    pub learn_alerted: bool,
    /// A shape (a character, a key, a route) counts as normal only once seen in this many
    /// distinct sessions ...
    #[serde(default = "default_min_sessions")]
    #[schemars(schema_with = "count32")]
    pub min_sessions: u32,
    /// ... from this many distinct clients.
    #[serde(default = "default_min_clients")]
    #[schemars(schema_with = "count32")]
    pub min_clients: u32,
    /// Learn for this long after the criteria were first learned (`72h`, `14d`), then freeze
    /// them: nothing more is learned, judging goes on. Unset: learn while `learn` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_window: Option<String>,
}

fn yes() -> bool {
    true
}
fn default_min_sessions() -> u32 {
    3
}
fn default_min_clients() -> u32 {
    2
}

impl Default for GuardControl {
    fn default() -> Self {
        Self {
            mode: GuardMode::default(),
            learn: true,
            learn_alerted: false,
            min_sessions: default_min_sessions(),
            min_clients: default_min_clients(),
            learning_window: None,
        }
    }
}

/// The criteria of one service.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "rampart.dev",
    version = "v1alpha1",
    kind = "Guardian",
    namespaced,
    shortname = "guardian",
    doc = "What normal requests to one service look like, and what the request guard does with the others.",
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.control.mode"}"#,
    status = "GuardianStatus",
    printcolumn = r#"{"name":"Samples","type":"integer","jsonPath":".status.samples"}"#,
    printcolumn = r#"{"name":"Learned","type":"string","jsonPath":".status.lastLearned"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq", derive = "Default")]
#[serde(rename_all = "camelCase")]
pub struct GuardianSpec {
    /// Mode and learning policy; unset, the namespace's default Guardian's (or the cluster
    /// default: learn and alert, never block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<GuardControl>,
    /// Criteria written by hand; they widen what was learned (a value passes when either admits
    /// it). Unset, the namespace default's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured: Option<Criteria>,
}

impl GuardianSpec {
    /// A spec that sets `control`.
    pub fn with_control(control: GuardControl) -> GuardianSpec {
        GuardianSpec {
            control: Some(control),
            configured: None,
        }
    }

    /// The control in force: this spec's, or the defaults (a Guardian from `lookup` has its
    /// namespace default's filled in already).
    pub fn control(&self) -> GuardControl {
        self.control.clone().unwrap_or_default()
    }

    /// The control, set to the defaults first when unset.
    pub fn control_mut(&mut self) -> &mut GuardControl {
        self.control.get_or_insert_with(GuardControl::default)
    }
}

/// What the learner wrote: only ever changed through the status subresource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuardianStatus {
    /// Criteria learned from the service's traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<Criteria>,
    /// How many requests the learned criteria were learned from.
    #[serde(default)]
    #[schemars(schema_with = "count64")]
    pub samples: u64,
    /// When the criteria were last learned (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_learned: Option<String>,
    /// When they were first learned (RFC 3339): where the learning window starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_since: Option<String>,
}

impl Guardian {
    /// The learned criteria, when there are any.
    pub fn learned(&self) -> Option<&Criteria> {
        self.status.as_ref().and_then(|s| s.learned.as_ref())
    }

    /// Requests the learned criteria come from.
    pub fn samples(&self) -> u64 {
        self.status.as_ref().map_or(0, |s| s.samples)
    }

    /// Puts newly learned criteria in the status (`at`: RFC 3339, passed in).
    pub fn set_learned(&mut self, criteria: Criteria, samples: u64, at: Option<String>) {
        let status = self.status.get_or_insert_with(GuardianStatus::default);
        status.learned = Some(criteria);
        status.samples = samples;
        if at.is_some() {
            status.last_learned = at;
        }
    }
}

/// What normal traffic of one service looks like.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Criteria {
    /// One entry per learned route.
    #[serde(default)]
    pub routes: Vec<RouteCriteria>,
    /// Client addresses seen (CIDRs, IPv4 widened to /24, IPv6 to /64); empty = not judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<String>,
    /// Public peers the pod connects out to (CIDRs as above); empty = not judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<String>,
}

/// What normal requests to one route (method + path template) look like.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteCriteria {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path with variable segments as `{int}`, `{uuid}`, `{hex}`, `{token}` or `{name}`:
    /// `/users/{int}/orders`.
    pub template: String,
    /// Criteria per value location: `path.2`, `query.q`, `header.user-agent`,
    /// `cookie.session`, `json.user.name`, `json.items[].id`, `form.email`, `body`, and the
    /// fold buckets `header.*` / `cookie.*` for names not learned one by one.
    #[serde(default)]
    pub values: BTreeMap<String, ValueCriteria>,
    /// Media types of request bodies (`application/json`, ...); `none` for no body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content_types: Vec<String>,
    /// Body faults that are normal here (`too-large`, `unknown-size`, `bad-json`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
    /// Request body size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_bytes: Option<Limit>,
    /// Response statuses seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "statuses")]
    pub statuses: Vec<u16>,
    /// Response time in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_ms: Option<Limit>,
    /// Response values (`response.header.content-type`, `response.json.id`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response: BTreeMap<String, ValueCriteria>,
}

/// An upper limit learned from a distribution: `max` is what the gate enforces; the
/// quantiles say where it came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Limit {
    #[schemars(schema_with = "count32")]
    pub p50: u32,
    #[schemars(schema_with = "count32")]
    pub p99: u32,
    #[schemars(schema_with = "count32")]
    pub max: u32,
}

/// What one value at one location may look like.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValueCriteria {
    /// `string`, `number`, `bool`, `null`, `object`, `array` — the JSON kinds seen (query,
    /// header, path and form values are strings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// The ASCII punctuation allowed, as one string (`"-.'"`).
    #[serde(default)]
    pub specials: String,
    /// Character sequences allowed: `comment` (`/*` `*/` `--`), `hex` (`0x`), `dotdot`
    /// (`../`), `expression` (`${` `#{` `{{` `<%`), `scheme` (`://`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sequences: Vec<String>,
    /// Unicode blocks of 128 code points allowed besides ASCII, by number (`2` = U+0100..U+017F).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "blocks")]
    pub blocks: Vec<u32>,
    /// When set, the value must have one of these formats: `integer`, `decimal`, `uuid`,
    /// `hex`, `base64`, `email`, `date`, `url`, `word`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<String>,
    /// When set, the value must be one of these: the learned values' hashes (FNV-1a 64 with
    /// a finaliser, hex), so a learned Guardian never holds a value (one may be a credential).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<String>,
    /// Integer range (integers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
    /// Length in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<Limit>,
    /// Letters, digits, spaces, punctuation, non-ASCII characters, and character-class runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub letters: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digits: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spaces: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub punctuation: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_ascii: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<Limit>,
}

/// An inclusive integer range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Range {
    pub min: i64,
    pub max: i64,
}

// The API server knows `int32` and `int64`, not `uint32` (it warns on unknown formats).
pub(crate) fn count32(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295_u64})
}

fn count64(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "integer", "format": "int64", "minimum": 0})
}

fn statuses(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "array", "items": {"type": "integer", "format": "int32", "minimum": 100, "maximum": 599}})
}

fn blocks(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "array", "items": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 8703}})
}
