//! `cilium.io/v2` CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy: the Cilium CNI's own
//! L3/L4 (and L7) policies, enforced together with the Kubernetes NetworkPolicies.
//!
//! Only the fields reachability depends on are kept; fields rampart does not model (`toGroups`,
//! `icmps`, L7 `rules`, …) are kept as "present" markers so the analysis can say what it left
//! out instead of silently widening or narrowing a rule.

use serde::Deserialize;

use super::ObjectMeta;
use crate::de::{IntOrString, null_default};
use crate::selector::LabelSelector;

/// A CiliumNetworkPolicy or (with `clusterwide`) a CiliumClusterwideNetworkPolicy.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct CiliumNetworkPolicy {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// The one rule (`spec`).
    pub spec: Option<CiliumRule>,
    /// Further rules (`specs`), each on its own.
    #[serde(deserialize_with = "null_default")]
    pub specs: Vec<CiliumRule>,
    /// A CiliumClusterwideNetworkPolicy: its selectors are not confined to a namespace.
    #[serde(skip)]
    pub clusterwide: bool,
}

impl CiliumNetworkPolicy {
    /// `spec` then `specs`.
    pub fn rules(&self) -> impl Iterator<Item = &CiliumRule> {
        self.spec.iter().chain(&self.specs)
    }

    /// `CiliumNetworkPolicy` or `CiliumClusterwideNetworkPolicy`.
    pub fn kind_name(&self) -> &'static str {
        if self.clusterwide {
            "CiliumClusterwideNetworkPolicy"
        } else {
            "CiliumNetworkPolicy"
        }
    }
}

/// One rule: the endpoints it selects and what they may receive and send.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CiliumRule {
    /// The pods the rule applies to (in the policy's namespace, for a CiliumNetworkPolicy).
    pub endpoint_selector: Option<LabelSelector>,
    /// Nodes the rule applies to (host policies; not modelled).
    pub node_selector: Option<LabelSelector>,
    /// Ingress allow rules.
    #[serde(deserialize_with = "null_default")]
    pub ingress: Vec<CiliumIngress>,
    /// Ingress deny rules: denied whatever any policy allows.
    #[serde(deserialize_with = "null_default")]
    pub ingress_deny: Vec<CiliumIngress>,
    /// Egress allow rules.
    #[serde(deserialize_with = "null_default")]
    pub egress: Vec<CiliumEgress>,
    /// Egress deny rules.
    #[serde(deserialize_with = "null_default")]
    pub egress_deny: Vec<CiliumEgress>,
    /// Whether the rule puts its endpoints in default deny, per direction (default: for each
    /// direction it has rules for).
    #[serde(deserialize_with = "null_default")]
    pub enable_default_deny: DefaultDeny,
}

/// `enableDefaultDeny`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct DefaultDeny {
    /// Ingress.
    pub ingress: Option<bool>,
    /// Egress.
    pub egress: Option<bool>,
}

/// An ingress rule (allow or deny).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CiliumIngress {
    /// Source endpoints.
    pub from_endpoints: Option<Vec<LabelSelector>>,
    /// Further label requirements of the source (deprecated; only narrows).
    pub from_requires: Option<Vec<LabelSelector>>,
    /// Source addresses.
    #[serde(rename = "fromCIDR")]
    pub from_cidr: Option<Vec<String>>,
    /// Source address ranges with exceptions.
    #[serde(rename = "fromCIDRSet")]
    pub from_cidr_set: Option<Vec<CidrRule>>,
    /// Source entities (`world`, `cluster`, `all`, `host`, …).
    pub from_entities: Option<Vec<String>>,
    /// Source nodes (not modelled).
    pub from_nodes: Option<serde_json::Value>,
    /// Source cloud groups (not modelled).
    pub from_groups: Option<serde_json::Value>,
    /// Ports, and L7 rules on them.
    pub to_ports: Option<Vec<CiliumPortRule>>,
    /// ICMP types (not modelled: a rule of ICMP alone admits no port).
    pub icmps: Option<serde_json::Value>,
    /// Mutual authentication requirement (not modelled).
    pub authentication: Option<serde_json::Value>,
}

/// An egress rule (allow or deny).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CiliumEgress {
    /// Destination endpoints.
    pub to_endpoints: Option<Vec<LabelSelector>>,
    /// Further label requirements of the destination (deprecated; only narrows).
    pub to_requires: Option<Vec<LabelSelector>>,
    /// Destination addresses.
    #[serde(rename = "toCIDR")]
    pub to_cidr: Option<Vec<String>>,
    /// Destination address ranges with exceptions.
    #[serde(rename = "toCIDRSet")]
    pub to_cidr_set: Option<Vec<CidrRule>>,
    /// Destination entities.
    pub to_entities: Option<Vec<String>>,
    /// Destination DNS names (addresses outside the cluster).
    #[serde(rename = "toFQDNs")]
    pub to_fqdns: Option<Vec<FqdnSelector>>,
    /// Destination Services.
    pub to_services: Option<Vec<CiliumService>>,
    /// Destination nodes (not modelled).
    pub to_nodes: Option<serde_json::Value>,
    /// Destination cloud groups (not modelled).
    pub to_groups: Option<serde_json::Value>,
    /// Ports, and L7 rules on them.
    pub to_ports: Option<Vec<CiliumPortRule>>,
    /// ICMP types (not modelled).
    pub icmps: Option<serde_json::Value>,
    /// Mutual authentication requirement (not modelled).
    pub authentication: Option<serde_json::Value>,
}

/// `fromCIDRSet` / `toCIDRSet` entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CidrRule {
    /// The range.
    pub cidr: Option<String>,
    /// Sub-ranges taken out.
    #[serde(deserialize_with = "null_default")]
    pub except: Vec<String>,
    /// A CiliumCIDRGroup by name (not modelled).
    pub cidr_group_ref: Option<String>,
    /// CiliumCIDRGroups by label (not modelled).
    pub cidr_group_selector: Option<serde_json::Value>,
}

/// `toFQDNs` entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct FqdnSelector {
    /// An exact name.
    pub match_name: Option<String>,
    /// A pattern (`*` wildcards).
    pub match_pattern: Option<String>,
}

/// `toServices` entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CiliumService {
    /// A Service by name.
    pub k8s_service: Option<ServiceName>,
    /// Services by label (not modelled).
    pub k8s_service_selector: Option<serde_json::Value>,
}

/// `k8sService`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceName {
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub service_name: String,
    /// Namespace (the policy's when unset).
    pub namespace: Option<String>,
}

/// `toPorts` entry: ports, and the L7 rules that further restrict them.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CiliumPortRule {
    /// Ports; none means every port.
    #[serde(deserialize_with = "null_default")]
    pub ports: Vec<CiliumPort>,
    /// L7 rules (HTTP, Kafka, DNS, …): not modelled, only noted.
    pub rules: Option<serde_json::Value>,
    /// TLS SNI names the connection must carry (not modelled, noted like L7).
    pub server_names: Option<serde_json::Value>,
}

/// A port: a number, a range or a container port's name, and a protocol.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CiliumPort {
    /// Number (`"0"`: every port) or name.
    pub port: Option<IntOrString>,
    /// Last port of a range.
    pub end_port: Option<i64>,
    /// `TCP`, `UDP`, `SCTP` or `ANY` (the default).
    pub protocol: Option<String>,
}
