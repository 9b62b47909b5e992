//! `policy.networking.k8s.io/v1alpha1` AdminNetworkPolicy and BaselineAdminNetworkPolicy: the
//! cluster administrator's network rules, evaluated before (ANP) and after (BANP) the
//! namespaces' own NetworkPolicies.

use serde::Deserialize;

use super::ObjectMeta;
use crate::de::null_default;
use crate::selector::LabelSelector;

/// An AdminNetworkPolicy or (with `baseline`) the BaselineAdminNetworkPolicy. Cluster-scoped.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AdminNetworkPolicy {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: AdminNetworkPolicySpec,
    /// A BaselineAdminNetworkPolicy (no priority, no `Pass`, after the NetworkPolicies).
    #[serde(skip)]
    pub baseline: bool,
}

/// The spec both kinds share (`priority` is the ANP's alone).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct AdminNetworkPolicySpec {
    /// Lower is evaluated first (0–1000 in the API).
    pub priority: Option<i64>,
    /// The pods the rules apply to.
    pub subject: AdminSubject,
    /// Ingress rules, in order: the first matching rule decides.
    #[serde(deserialize_with = "null_default")]
    pub ingress: Vec<AdminRule>,
    /// Egress rules, in order.
    #[serde(deserialize_with = "null_default")]
    pub egress: Vec<AdminRule>,
}

/// `subject`: every pod of the selected namespaces, or the selected pods of them. Neither set
/// (an invalid object) selects nothing.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AdminSubject {
    /// Every pod in the namespaces selected.
    pub namespaces: Option<LabelSelector>,
    /// Some pods of some namespaces.
    pub pods: Option<NamespacedPods>,
}

/// Pods selected by a namespace selector and a pod selector.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct NamespacedPods {
    /// The namespaces.
    pub namespace_selector: LabelSelector,
    /// The pods in them.
    pub pod_selector: LabelSelector,
}

/// An ingress or egress rule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AdminRule {
    /// Name (for messages).
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// `Allow`, `Deny`, or (ANP only) `Pass`.
    #[serde(deserialize_with = "null_default")]
    pub action: String,
    /// `from` (ingress) or `to` (egress).
    #[serde(alias = "from", alias = "to", deserialize_with = "null_default")]
    pub peers: Vec<AdminPeer>,
    /// Ports; `None` means every port and protocol.
    pub ports: Option<Vec<AdminPort>>,
}

/// A rule's peer: exactly one field is set.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AdminPeer {
    /// Every pod of the namespaces selected.
    pub namespaces: Option<LabelSelector>,
    /// Some pods of some namespaces.
    pub pods: Option<NamespacedPods>,
    /// Nodes (egress only).
    pub nodes: Option<LabelSelector>,
    /// CIDRs (egress only).
    pub networks: Option<Vec<String>>,
}

/// A rule's port: exactly one field is set.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct AdminPort {
    /// One port.
    pub port_number: Option<AdminPortNumber>,
    /// A container port's name, resolved against the destination pod.
    pub named_port: Option<String>,
    /// A range of ports.
    pub port_range: Option<AdminPortRange>,
}

/// `portNumber`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AdminPortNumber {
    /// Protocol (TCP when unset).
    pub protocol: Option<String>,
    /// Port.
    pub port: i64,
}

/// `portRange`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AdminPortRange {
    /// Protocol (TCP when unset).
    pub protocol: Option<String>,
    /// First port.
    pub start: i64,
    /// Last port.
    pub end: i64,
}
