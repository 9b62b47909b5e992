//! The ledger entry of a live, reversible action: `Mitigation` (rampart.dev/v1alpha1).
//!
//! A Mitigation says which chains it cuts, what it applied (the object, kept verbatim so it can
//! be re-applied or deleted exactly), why, and when it expires. Its status moves through
//! [`MitigationPhase`]; the transitions live in `rampart-respond`.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What kind of action a mitigation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ActionKind {
    /// An additive deny realised with networking.k8s.io/v1 NetworkPolicies.
    NetworkPolicy,
    /// A policy.networking.k8s.io AdminNetworkPolicy with an explicit Deny rule.
    AdminNetworkPolicy,
    /// An infected pod moved out of its selectors behind a deny-all NetworkPolicy (the object);
    /// deleted on expiry.
    Isolate,
    /// An infected pod deleted (its controller recreates it); nothing to revert.
    Terminate,
    /// A least-privilege NetworkPolicy of a verified rollout step made from observed flows
    /// (an allow-list or a namespace default-deny); reverted at once when traffic is seen
    /// dropped under it, and with the steps after it.
    ObservedPolicy,
}

/// The object a mitigation protects or changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TargetRef {
    /// Kind.
    pub kind: String,
    /// Namespace (empty for cluster-scoped).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID, when the target is one object instance (an infected pod): actions on it are
    /// conditional on it, so a same-named successor is never touched.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

/// A mitigation: proposed, applied, or ended.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "rampart.dev",
    version = "v1alpha1",
    kind = "Mitigation",
    namespaced,
    status = "MitigationStatus",
    shortname = "mit",
    doc = "A reversible, self-expiring action rampart proposed or applied to cut attack chains.",
    printcolumn = r#"{"name":"Action","type":"string","jsonPath":".spec.action"}"#,
    printcolumn = r#"{"name":"Target","type":"string","jsonPath":".spec.target.name"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    // A string: kubectl renders a `date` column in the future as `<invalid>`.
    printcolumn = r#"{"name":"Expires","type":"string","jsonPath":".spec.expiresAt"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MitigationSpec {
    /// Ids of the chains (scan contract) this mitigation breaks.
    pub chains: Vec<String>,
    /// The action.
    pub action: ActionKind,
    /// The workload (or other object) it protects.
    pub target: TargetRef,
    /// The object applied, verbatim (a NetworkPolicy or AdminNetworkPolicy manifest).
    #[schemars(schema_with = "preserve_unknown")]
    pub object: serde_json::Value,
    /// Why, in words (the cut, its evidence, the bar it passed).
    pub reason: String,
    /// When it reverts itself (RFC 3339).
    pub expires_at: String,
    /// For a `Pending` mitigation (the class is armed `actWithApproval`): set to true to
    /// have it applied (`kubectl patch`, or the dashboard's approve button).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approved: bool,
}

pub(crate) fn preserve_unknown(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// Lifecycle phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum MitigationPhase {
    /// Recorded, not applied (shadow mode, or waiting for the bar).
    #[default]
    Proposed,
    /// Recorded, waiting for approval (`spec.approved: true`) before it is applied.
    Pending,
    /// The object is in the cluster.
    Applied,
    /// Expired or withdrawn: the object was removed.
    Reverted,
    /// The durable fix landed (the chains no longer prove without it): the object was removed.
    Retired,
    /// Applying or removing failed; see the message.
    Failed,
}

/// Status of a mitigation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MitigationStatus {
    /// Phase.
    pub phase: MitigationPhase,
    /// When it was proposed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposed_at: Option<String>,
    /// When it was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<String>,
    /// When it ended (reverted, retired or failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Human-readable detail of the last transition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}
