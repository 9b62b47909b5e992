//! Vertex, edge and evidence types of the security graph.

use std::sync::Arc;

use rampart_model::{Source, WorkloadId};
use serde::Serialize;

use crate::netpol::ClassId;
use crate::ports::PortSet;
use crate::rbac::SubjectKey;

/// A reference to a Kubernetes object (or a pseudo-object such as "any node").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjRef {
    /// Kind.
    pub kind: String,
    /// Namespace (empty when cluster-scoped).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjRef {
    /// Builds a reference.
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> ObjRef {
        ObjRef {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ObjRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Why an edge exists: an object, the field that proves it, and where it was read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Evidence {
    /// The object.
    pub object: ObjRef,
    /// The field (JSON-path-like) or rule.
    pub field: String,
    /// File and line, when known.
    #[serde(skip)]
    pub source: Option<Source>,
}

impl Evidence {
    /// Builds evidence.
    pub fn new(object: ObjRef, field: impl Into<String>, source: Option<&Source>) -> Evidence {
        Evidence {
            object,
            field: field.into(),
            source: source.cloned(),
        }
    }
}

/// How an endpoint exposes a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum EndpointKind {
    /// `Service` of type LoadBalancer.
    LoadBalancer,
    /// `Service` of type NodePort.
    NodePort,
    /// `Service` with `externalIPs`.
    ExternalIp,
    /// An Ingress rule.
    Ingress,
    /// An OpenShift Route.
    Route,
    /// A container `hostPort`.
    HostPort,
    /// A `hostNetwork` pod.
    HostNetwork,
    /// Declared with the `rampart.dev/exposed` annotation.
    Declared,
}

/// A way in from the internet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// How.
    pub kind: EndpointKind,
    /// The exposing object.
    pub object: ObjRef,
    /// What identifies the way in besides its object: port, host and path. Part of chain and
    /// cut ids, so it holds nothing the API server assigns.
    pub detail: String,
    /// The node port of a NodePort or LoadBalancer Service: shown, never part of an id (the API
    /// server assigns it, and assigns another when the Service is re-created).
    pub node_port: Option<i64>,
    /// Where the object was defined.
    pub source: Option<Source>,
}

impl Endpoint {
    /// The detail as people read it: with the node port, when there is one.
    pub fn shown(&self) -> String {
        match self.node_port {
            Some(np) => format!("{} (nodePort {np})", self.detail),
            None => self.detail.clone(),
        }
    }
}

/// A vertex of the security graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vertex {
    /// The attacker's starting point.
    Internet,
    /// A way in (index into [`crate::SecurityGraph::endpoints`]).
    Endpoint(u32),
    /// A workload.
    Workload(WorkloadId),
    /// Pods of a reachability class, as traffic sources.
    NetSrc(ClassId),
    /// Every destination that accepts any in-cluster source.
    NetHub,
    /// Pods of a reachability class, as traffic destinations.
    NetDst(ClassId),
    /// The pods a NetworkPolicy peer selects (index into the network model's peer sets), as
    /// sources of the rules that name it.
    NetPeer(u32),
    /// Sources whose egress is open and that every admin policy (AdminNetworkPolicy,
    /// BaselineAdminNetworkPolicy) treats alike (index into the graph's admin groups): what
    /// the admin policies admit flows through it to the pods they judge.
    NetAdmin(u32),
    /// An admin group's members among the pods a NetworkPolicy peer selects (group, peer set),
    /// where the rules naming the peer admit the group otherwise than the rules' vertices say.
    NetAdminPeer {
        /// The admin group.
        group: u32,
        /// The peer set.
        set: u32,
    },
    /// An ingress rule of a NetworkPolicy: what it admits flows through it to the pods the
    /// policy selects.
    NetRule {
        /// Policy index in the network model.
        policy: u32,
        /// Rule index in the policy's `ingress`.
        rule: u32,
    },
    /// An identity (index into [`crate::SecurityGraph::identities`]).
    Identity(u32),
    /// A Secret (index into [`crate::SecurityGraph::secrets`]).
    Secret(u32),
    /// A node (index into [`crate::SecurityGraph::nodes`]).
    Node(u32),
    /// Full control of the cluster.
    ClusterAdmin,
    /// What one identity can do through one RBAC ability (index into
    /// [`crate::SecurityGraph::grants`]): narrowing the binding cuts the edge into it.
    Grant(u32),
    /// An objective beyond the classic targets: a technique, cluster-wide or in a namespace
    /// (index into [`crate::SecurityGraph::objectives`]).
    Objective(u32),
}

impl Vertex {
    /// Whether this vertex is plumbing of the network layer (condensed away in chains).
    pub fn is_network_plumbing(self) -> bool {
        matches!(
            self,
            Vertex::NetSrc(_)
                | Vertex::NetHub
                | Vertex::NetDst(_)
                | Vertex::NetPeer(_)
                | Vertex::NetRule { .. }
                | Vertex::NetAdmin(_)
                | Vertex::NetAdminPeer { .. }
        )
    }
}

/// Edge kinds. Each names the relation it proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// Internet → Endpoint.
    Exposes,
    /// Endpoint → Workload (selector, port and NetworkPolicy admit external sources).
    RoutesTo,
    /// Workload → NetSrc (membership).
    SendsAs,
    /// NetSrc → NetHub: no NetworkPolicy restricts the source's egress.
    EgressOpen,
    /// NetHub → NetDst: the destination accepts every in-cluster source.
    IngressOpen,
    /// NetSrc → NetDst: the source's egress rules and the destination's ingress admit the flow
    /// (sources whose egress a NetworkPolicy restricts, and pairs an AdminNetworkPolicy or the
    /// baseline judges).
    PolicyAllows,
    /// NetSrc → NetPeer: the pods are among those a NetworkPolicy peer selects.
    PeerMember,
    /// NetPeer → NetRule: an ingress rule names the peer (narrowing the rule's peer cuts it).
    RuleAdmits,
    /// NetRule → NetDst: the rule's policy selects the destination, which listens on a port the
    /// rule admits; NetAdmin → NetDst: the admin policies admit the group there.
    AdmitsInto,
    /// NetDst → Workload (membership).
    ReceivesAs,
    /// Workload → Identity: the pod runs as the ServiceAccount with a token mounted.
    RunsAs,
    /// Workload → Secret: the pod mounts or references the Secret.
    MountsSecret,
    /// Workload → Node: container escape.
    EscapesToNode,
    /// Node → Identity: the node holds the tokens of its pods (and its own credentials).
    HoldsToken,
    /// Node → Secret: the node holds the Secrets of its pods.
    HoldsSecret,
    /// Secret → Identity: a legacy ServiceAccount token Secret.
    IsTokenOf,
    /// Identity → Secret: `get`/`list`/`watch` secrets.
    ReadsSecret,
    /// Identity → Identity: create pods (or pod controllers) running as that ServiceAccount.
    CreatesPodAs,
    /// Identity → Node: create a privileged pod (no enforcing Pod Security level).
    CreatesPodOnNode,
    /// Identity → Workload: `pods/exec`, `pods/attach`, ephemeral containers.
    ExecsInto,
    /// Identity → Identity: `serviceaccounts/token` create.
    MintsToken,
    /// Identity → Identity or ClusterAdmin: impersonation.
    Impersonates,
    /// Identity → ClusterAdmin: bind/escalate roles, CSR approval, webhook configuration writes.
    Escalates,
    /// Identity → Node: `nodes/proxy`.
    ProxiesNode,
    /// Identity → ClusterAdmin: `*` on `*` cluster-wide (cluster-admin).
    IsClusterAdmin,
    /// Identity → Impact objective: delete the volumes that hold data, or delete or scale down
    /// the controllers that run services.
    Destroys,
    /// Identity → Persistence objective: create CronJobs or DaemonSets, write mutating
    /// webhooks; Workload → Persistence: a writable host path that plants static pods.
    Persists,
    /// NetSrc → Exfiltration objective: the pods may send to some public address.
    Exfiltrates,
}

impl EdgeKind {
    /// Kebab-case name, as in the JSON contract.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Exposes => "exposes",
            EdgeKind::RoutesTo => "routes-to",
            EdgeKind::SendsAs => "sends-as",
            EdgeKind::EgressOpen => "egress-open",
            EdgeKind::IngressOpen => "ingress-open",
            EdgeKind::PolicyAllows => "policy-allows",
            EdgeKind::PeerMember => "peer-member",
            EdgeKind::RuleAdmits => "rule-admits",
            EdgeKind::AdmitsInto => "admits-into",
            EdgeKind::ReceivesAs => "receives-as",
            EdgeKind::RunsAs => "runs-as",
            EdgeKind::MountsSecret => "mounts-secret",
            EdgeKind::EscapesToNode => "escapes-to-node",
            EdgeKind::HoldsToken => "holds-token",
            EdgeKind::HoldsSecret => "holds-secret",
            EdgeKind::IsTokenOf => "is-token-of",
            EdgeKind::ReadsSecret => "reads-secret",
            EdgeKind::CreatesPodAs => "creates-pod-as",
            EdgeKind::CreatesPodOnNode => "creates-pod-on-node",
            EdgeKind::ExecsInto => "execs-into",
            EdgeKind::MintsToken => "mints-token",
            EdgeKind::Impersonates => "impersonates",
            EdgeKind::Escalates => "escalates",
            EdgeKind::ProxiesNode => "proxies-node",
            EdgeKind::IsClusterAdmin => "is-cluster-admin",
            EdgeKind::Destroys => "destroys",
            EdgeKind::Persists => "persists",
            EdgeKind::Exfiltrates => "exfiltrates",
        }
    }
}

/// How disruptive cutting an edge is; `Never` for what cannot be undone live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Cost {
    /// A finite cost (see [`crate::cut`] for the scale).
    Finite(u32),
    /// Not cuttable (membership plumbing, container escape, what a node holds).
    Never,
}

/// An edge: relation, evidence, the ports it carries (network edges), and its cut cost.
#[derive(Debug, Clone)]
pub struct Edge {
    /// Relation.
    pub kind: EdgeKind,
    /// Proof. Shared by the edges one fact proves (a mounted Secret: the workload's edge and
    /// each of its nodes'), so a graph holds one copy of it.
    pub evidence: Arc<[Evidence]>,
    /// Ports, for network edges.
    pub ports: Option<PortSet>,
    /// Cut cost.
    pub cost: Cost,
    /// NetworkPolicy rules that admit the flow (network edges). Boxed slices, not vectors:
    /// most edges have none, and a graph has tens of thousands of edges.
    pub rules: Box<[crate::netpol::RuleRef]>,
    /// Bindings and the subjects they name (RBAC edges).
    pub grants: Box<[(ObjRef, SubjectKey)]>,
}

/// What an identity vertex stands for.
pub type Identity = SubjectKey;

/// A Secret vertex (metadata only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretVertex {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Whether the Secret object is in the input (else it is only referenced).
    pub present: bool,
}

/// A node vertex: a named node, or "any node" when scheduling is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeVertex {
    /// `None`: any node.
    pub name: Option<String>,
}
