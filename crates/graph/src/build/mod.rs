//! Builds the security graph from a snapshot: every vertex and edge kind of DESIGN.md, each edge
//! with its evidence. [`SecurityGraph::build`] is the sequence; each edge family is one module
//! over one shared builder context:
//!
//! * `network`: the network layer (classes, hub, membership, policy edges) and its patch;
//! * `routes`: endpoints of exposed Services, Ingresses and OpenShift Routes, and their routes
//!   into workloads;
//! * `entries`: the ways in a workload opens itself (hostPort, hostNetwork, declared exposed);
//! * `escape`: the nodes, and escapes to them;
//! * `identity`: ServiceAccounts, tokens mounted and held, the kubelet's credentials;
//! * `secrets`: Secrets mounted and held, stored Secrets, legacy token Secrets;
//! * `grants`: RBAC grants and escalation.
//!
//! Each rule's unit tests (the rule and its negative twin) sit beside it.

mod entries;
mod escape;
mod grants;
mod identity;
mod network;
mod routes;
mod secrets;

pub use escape::{escape_reasons, sensitive_host_path};
pub(crate) use escape::{node_vertex, rehost};
pub use identity::token_mounted;
pub(crate) use network::patch as patch_network;
pub use routes::Route;
pub(crate) use routes::{is_ingress_controller, reroute};
pub use secrets::secret_refs;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use rampart_model::objects::Kind;
use rampart_model::{CROWN_JEWEL_LABEL, EXPOSED_ANNOTATION, Labels, Snapshot, Workload, Workloads};

use crate::cost;
use crate::model::{
    Cost, Edge, EdgeKind, Endpoint, Evidence, NodeVertex, ObjRef, SecretVertex, Vertex,
};
use crate::netpol::{ClassId, NetModel, RuleRef};
use crate::objective::{ObjectiveVertex, Objectives, Technique};
use crate::ports::PortSet;
use crate::rbac::{Rbac, SubjectKey};

/// The security graph of one snapshot, with the derived models it was built from.
#[derive(Debug)]
pub struct SecurityGraph {
    /// Vertices and edges. An edge's weight is boxed: the searches of every re-proof walk the
    /// adjacency records alone, and with ~170-byte weights inline they missed the cache at
    /// every step.
    pub graph: DiGraph<Vertex, Box<Edge>>,
    /// The `Internet` vertex.
    pub internet: NodeIndex,
    /// The `ClusterAdmin` vertex.
    pub cluster_admin: NodeIndex,
    /// Endpoints by index.
    pub endpoints: Vec<Endpoint>,
    /// Identities by index.
    pub identities: Vec<SubjectKey>,
    /// Secrets by index.
    pub secrets: Vec<SecretVertex>,
    /// Nodes by index.
    pub nodes: Vec<NodeVertex>,
    /// Workloads. Shared with the next analysis when its pods and controllers did not change
    /// ([`Models::reusing`]); the incremental paths patch it in place (`Arc::make_mut`, which
    /// copies only while a retired analysis still shares it).
    pub workloads: Arc<Workloads>,
    /// Network model, shared and patched likewise.
    pub net: Arc<NetModel>,
    /// Sinks: every Secret, Node, ClusterAdmin and crown-jewel-labelled workload, and of the
    /// objectives selected ([`SecurityGraph::select_objectives`]), their vertices and the
    /// workloads that hold data.
    pub jewels: Vec<NodeIndex>,
    /// Objective vertices by index.
    pub objectives: Vec<ObjectiveVertex>,
    /// The Exfiltration objective (every pod that may send to the internet reaches it).
    pub exfiltration: NodeIndex,
    /// Vertex of each workload.
    pub workload_ix: Vec<NodeIndex>,
    /// Source and destination vertices per class.
    pub class_ix: HashMap<ClassId, (NodeIndex, NodeIndex)>,
    /// The network hub ("any destination whose ingress is open").
    pub hub: NodeIndex,
    /// Vertex per peer set an ingress rule names.
    pub peer_ix: HashMap<u32, NodeIndex>,
    /// Vertex per ingress rule naming a pod-selecting peer: (policy, rule).
    pub rule_ix: HashMap<(u32, u32), NodeIndex>,
    /// Sources grouped by the admin policies' peers they match, each a vertex.
    pub admin_groups: network::AdminGroups,
    /// Exposed ports and the Service selectors behind them.
    pub routes: Vec<Route>,
    /// The classes of the ingress controllers' pods (routes through a controller are admitted
    /// when a policy admits these).
    pub controller_classes: Vec<ClassId>,
    /// Relations counted, for the threat diff of a patch ([`crate::diff::Baseline`]; built by
    /// [`crate::diff::diff_indexing`] or on a patch's first use).
    pub relations: Option<crate::diff::RelationIndex>,
    /// Problems found while building.
    pub warnings: Vec<String>,
    /// Permission vertices, described.
    pub grants: Vec<String>,
}

/// Labels that differ per pod or per rollout, useless in a stable selector.
pub const VOLATILE_LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "statefulset.kubernetes.io/pod-name",
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "pod-template-generation",
    "apps.kubernetes.io/pod-index",
    "batch.kubernetes.io/job-completion-index",
];

/// Stable labels shared by every pod of the workload (for selectors that target it).
pub fn stable_labels(w: &Workload) -> Labels {
    let mut it = w.groups.iter();
    let mut common: Labels = it.next().map(|g| g.labels.clone()).unwrap_or_default();
    for g in it {
        common.retain(|k, v| g.labels.get(k) == Some(v));
    }
    common.retain(|k, _| !VOLATILE_LABELS.contains(&k.as_str()));
    common
}

/// Whether [`stable_labels`] has any (without building them).
pub fn has_stable_labels(w: &Workload) -> bool {
    let Some((first, rest)) = w.groups.split_first() else {
        return false;
    };
    first.labels.iter().any(|(k, v)| {
        !VOLATILE_LABELS.contains(&k.as_str()) && rest.iter().all(|g| g.labels.get(k) == Some(v))
    })
}

/// Workload reference for evidence.
pub fn workload_ref(w: &Workload) -> ObjRef {
    ObjRef::new(w.kind.as_str(), &w.namespace, &w.name)
}

fn rule_evidence(
    net: &NetModel,
    why: &[RuleRef],
    fallback: ObjRef,
    fallback_field: &str,
) -> Vec<Evidence> {
    if why.is_empty() {
        return vec![Evidence::new(fallback, fallback_field, None)];
    }
    why.iter()
        .map(|r| {
            let p = &net.policies[r.policy as usize];
            let mut field = p.rule_field(r.ingress, r.rule);
            if p.rule_l7(r.ingress, r.rule) {
                field.push_str(" (further restricted at L7)");
            }
            Evidence::new(ObjRef::new(p.kind, &p.namespace, &p.name), field, None)
        })
        .collect()
}

/// Every pod label key the analysis reads by name rather than through a selector (ingress
/// controllers, cluster DNS, rampart's markers). [`crate::relabel`] re-proves in full when one
/// of them changes, so a new by-name read belongs here.
pub const KEYS_READ_BY_NAME: &[&str] = &[
    rampart_model::INGRESS_CONTROLLER_LABEL,
    "app.kubernetes.io/name",
    "app",
    "k8s-app",
    "istio",
    CROWN_JEWEL_LABEL,
    EXPOSED_ANNOTATION,
    // Mesh membership (crate::netpol::mesh).
    "sidecar.istio.io/inject",
    "istio.io/dataplane-mode",
];

/// Whether pods with these labels are selected as DNS by a contained egress (namespace aside).
pub(crate) fn is_dns_pod(labels: &Labels) -> bool {
    labels
        .get(crate::fix::DNS_LABEL.0)
        .is_some_and(|v| v == crate::fix::DNS_LABEL.1)
}

/// Whether a workload is the cluster's DNS: what contained egress keeps reaching, and what the
/// network layer never walks into (`network::membership`).
pub(crate) fn is_dns(w: &Workload) -> bool {
    w.namespace == "kube-system" && w.groups.iter().any(|g| is_dns_pod(&g.labels))
}

/// What every edge rule builds on: the snapshot and the models derived from it, the graph so
/// far, and the vertices it has by what they stand for.
struct Builder<'a> {
    snapshot: &'a Snapshot,
    workloads: &'a Workloads,
    g: DiGraph<Vertex, Box<Edge>>,
    internet: NodeIndex,
    cluster_admin: NodeIndex,
    /// Vertex of each workload.
    workload_ix: Vec<NodeIndex>,
    endpoints: Vec<Endpoint>,
    identities: Vec<SubjectKey>,
    identity_ix: HashMap<SubjectKey, NodeIndex>,
    secrets: Vec<SecretVertex>,
    /// Secret vertices by namespace, then name (looked up without building a key).
    secret_ix: HashMap<String, HashMap<String, NodeIndex>>,
    nodes: Vec<NodeVertex>,
    node_ix: HashMap<Option<String>, NodeIndex>,
    /// ServiceAccounts per namespace (namespace order is the RBAC rules' cluster scope).
    sas_by_ns: BTreeMap<String, BTreeSet<String>>,
    warnings: Vec<String>,
    grants: Vec<String>,
    /// The current ability's permission vertex per relation (`grants`).
    grant_vertices: HashMap<EdgeKind, NodeIndex>,
    /// The evidence of edges that carry none (shared: an empty `Arc<[_]>` still allocates).
    no_evidence: Arc<[Evidence]>,
    /// `runs as` edges whose cost waits for the effective RBAC ([`identity::runs_as_costs`]).
    runs_as: Vec<EdgeIndex>,
    objectives: Vec<ObjectiveVertex>,
    objective_ix: HashMap<ObjectiveVertex, NodeIndex>,
    exfiltration: NodeIndex,
}

impl<'a> Builder<'a> {
    /// The `Internet`, `ClusterAdmin` and workload vertices: the prefix every part of the
    /// graph starts from ([`SecurityGraph::build_from`]).
    fn new(snapshot: &'a Snapshot, workloads: &'a Workloads) -> Builder<'a> {
        let mut g = DiGraph::new();
        let internet = g.add_node(Vertex::Internet);
        let cluster_admin = g.add_node(Vertex::ClusterAdmin);
        let workload_ix = workloads
            .list
            .iter()
            .map(|w| g.add_node(Vertex::Workload(w.id)))
            .collect();
        let exfiltration = g.add_node(Vertex::Objective(0));
        let exfil = ObjectiveVertex {
            technique: Technique::ExfiltrationOverC2,
            namespace: None,
        };
        Builder {
            snapshot,
            workloads,
            g,
            internet,
            cluster_admin,
            workload_ix,
            endpoints: Vec::new(),
            identities: Vec::new(),
            identity_ix: HashMap::new(),
            secrets: Vec::new(),
            secret_ix: HashMap::new(),
            nodes: Vec::new(),
            node_ix: HashMap::new(),
            sas_by_ns: BTreeMap::new(),
            warnings: Vec::new(),
            grants: Vec::new(),
            grant_vertices: HashMap::new(),
            no_evidence: Arc::new([]),
            runs_as: Vec::new(),
            objectives: vec![exfil.clone()],
            objective_ix: HashMap::from([(exfil, exfiltration)]),
            exfiltration,
        }
    }
}

impl Builder<'_> {
    fn edge(
        &mut self,
        a: NodeIndex,
        b: NodeIndex,
        kind: EdgeKind,
        evidence: impl Into<Arc<[Evidence]>>,
        ports: Option<PortSet>,
        cost: Cost,
    ) -> EdgeIndex {
        add_edge(&mut self.g, a, b, kind, evidence, ports, cost)
    }

    fn identity(&mut self, s: SubjectKey) -> NodeIndex {
        if let Some(ix) = self.identity_ix.get(&s) {
            return *ix;
        }
        self.new_identity(s)
    }

    /// [`Builder::identity`], copying the key only when the identity is new.
    fn identity_of(&mut self, s: &SubjectKey) -> NodeIndex {
        match self.identity_ix.get(s) {
            Some(ix) => *ix,
            None => self.new_identity(s.clone()),
        }
    }

    fn new_identity(&mut self, s: SubjectKey) -> NodeIndex {
        let ix = self.g.add_node(Vertex::Identity(
            u32::try_from(self.identities.len()).unwrap_or(u32::MAX),
        ));
        self.identities.push(s.clone());
        self.identity_ix.insert(s, ix);
        ix
    }

    /// The vertex of an objective (technique, namespace or cluster-wide).
    fn objective(&mut self, technique: Technique, namespace: Option<&str>) -> NodeIndex {
        let key = ObjectiveVertex {
            technique,
            namespace: namespace.map(str::to_string),
        };
        if let Some(ix) = self.objective_ix.get(&key) {
            return *ix;
        }
        let ix = self.g.add_node(Vertex::Objective(
            u32::try_from(self.objectives.len()).unwrap_or(u32::MAX),
        ));
        self.objectives.push(key.clone());
        self.objective_ix.insert(key, ix);
        ix
    }

    fn secret(&mut self, ns: &str, name: &str) -> NodeIndex {
        if let Some(ix) = self.secret_ix.get(ns).and_then(|m| m.get(name)) {
            return *ix;
        }
        let present = self.snapshot.get(Kind::Secret, ns, name).is_some();
        let ix = self.g.add_node(Vertex::Secret(
            u32::try_from(self.secrets.len()).unwrap_or(u32::MAX),
        ));
        self.secrets.push(SecretVertex {
            namespace: ns.to_string(),
            name: name.to_string(),
            present,
        });
        self.secret_ix
            .entry(ns.to_string())
            .or_default()
            .insert(name.to_string(), ix);
        ix
    }

    /// Every Node vertex, in the order they were added (not the hash map's: the graph's edge
    /// order must not change from run to run).
    fn node_vertices(&self) -> Vec<NodeIndex> {
        let mut v: Vec<NodeIndex> = self.node_ix.values().copied().collect();
        v.sort();
        v
    }

    fn node(&mut self, name: Option<String>) -> NodeIndex {
        if let Some(ix) = self.node_ix.get(&name) {
            return *ix;
        }
        let ix = self.g.add_node(Vertex::Node(
            u32::try_from(self.nodes.len()).unwrap_or(u32::MAX),
        ));
        self.nodes.push(NodeVertex { name: name.clone() });
        self.node_ix.insert(name, ix);
        ix
    }

    /// An endpoint vertex, exposed to the internet (`Internet → Endpoint`).
    fn endpoint(&mut self, e: Endpoint, field: &str) -> NodeIndex {
        let ix = self.g.add_node(Vertex::Endpoint(
            u32::try_from(self.endpoints.len()).unwrap_or(u32::MAX),
        ));
        let ev = vec![Evidence::new(e.object.clone(), field, e.source.as_ref())];
        self.endpoints.push(e);
        self.edge(
            self.internet,
            ix,
            EdgeKind::Exposes,
            ev,
            None,
            Cost::Finite(cost::EXPOSURE_DURABLE),
        );
        ix
    }
}

/// Adds an edge with no rules or grants yet.
fn add_edge(
    g: &mut DiGraph<Vertex, Box<Edge>>,
    a: NodeIndex,
    b: NodeIndex,
    kind: EdgeKind,
    evidence: impl Into<Arc<[Evidence]>>,
    ports: Option<PortSet>,
    cost: Cost,
) -> EdgeIndex {
    g.add_edge(
        a,
        b,
        Box::new(Edge {
            kind,
            evidence: evidence.into(),
            ports,
            cost,
            rules: Box::default(),
            grants: Box::default(),
        }),
    )
}

/// Removes edges, highest index first: removing an edge moves the last one into its place, so
/// the indices still to remove stay valid.
fn remove_edges(g: &mut DiGraph<Vertex, Box<Edge>>, mut edges: Vec<EdgeIndex>) {
    edges.sort_unstable();
    edges.dedup();
    for e in edges.into_iter().rev() {
        g.remove_edge(e);
    }
}

/// The sinks: `ClusterAdmin`, then every Secret, Node, objective, crown-jewel workload and
/// workload holding data, in vertex order (all objectives: [`SecurityGraph::select_objectives`]
/// keeps those chosen).
fn sinks(b: &Builder<'_>) -> Vec<NodeIndex> {
    let mut jewels: Vec<NodeIndex> = vec![b.cluster_admin];
    for ix in b.g.node_indices() {
        match b.g[ix] {
            Vertex::Secret(_) | Vertex::Node(_) | Vertex::Objective(_) => jewels.push(ix),
            Vertex::Workload(w) if workload_jewel(&b.workloads.list[w.index()]) => jewels.push(ix),
            _ => {}
        }
    }
    jewels
}

/// Whether a workload is a sink: labelled a crown jewel, or holding data (Collection).
fn workload_jewel(w: &Workload) -> bool {
    w.has_marker(CROWN_JEWEL_LABEL, "true") || crate::objective::collection(w).is_some()
}

/// The models a graph is built from and an analysis keeps: the workloads and the network model
/// of one snapshot. (The effective RBAC is built with the graph, beside it: see
/// [`SecurityGraph::build_from`].)
#[derive(Debug, Clone)]
pub struct Models {
    /// Workloads.
    pub workloads: Arc<Workloads>,
    /// Network model.
    pub net: Arc<NetModel>,
}

/// Kinds the workloads are derived from.
fn workload_input(k: Kind) -> bool {
    rampart_model::WorkloadKind::from_kind(k).is_some()
}

impl Models {
    /// Every model built from `snapshot`.
    pub fn build(snapshot: &Snapshot) -> Models {
        let workloads = Arc::new(Workloads::build(snapshot));
        let net = Arc::new(NetModel::build(snapshot, &workloads));
        Models { workloads, net }
    }

    /// The models of `snapshot`, which differs from the snapshot `previous` was built from in
    /// objects of the `changed` kinds only: a model none of whose inputs changed is shared,
    /// the others are built again. Workloads read pods and controllers; the network model the
    /// workloads, Namespaces, NetworkPolicies, admin network policies and which namespaces exist (any object's
    /// namespace counts, so a Service in a new namespace rebuilds it).
    pub fn reusing(
        previous: &SecurityGraph,
        snapshot: &Snapshot,
        changed: &BTreeSet<Kind>,
    ) -> Models {
        let workloads = Models::workloads_reusing(previous, snapshot, changed);
        let net = Models::net_reusing(previous, snapshot, changed, &workloads);
        Models { workloads, net }
    }

    /// The workloads of [`Models::reusing`].
    pub(crate) fn workloads_reusing(
        previous: &SecurityGraph,
        snapshot: &Snapshot,
        changed: &BTreeSet<Kind>,
    ) -> Arc<Workloads> {
        if changed.iter().any(|k| workload_input(*k)) {
            Arc::new(Workloads::build(snapshot))
        } else {
            Arc::clone(&previous.workloads)
        }
    }

    /// The network model of [`Models::reusing`], over its `workloads`.
    pub(crate) fn net_reusing(
        previous: &SecurityGraph,
        snapshot: &Snapshot,
        changed: &BTreeSet<Kind>,
        workloads: &Arc<Workloads>,
    ) -> Arc<NetModel> {
        if !Arc::ptr_eq(workloads, &previous.workloads)
            || changed.iter().any(|k| k.shapes_network())
            || !previous.net.same_namespaces(snapshot, workloads)
        {
            Arc::new(NetModel::build(snapshot, workloads))
        } else {
            Arc::clone(&previous.net)
        }
    }
}

/// The first part of the graph: the ways in.
struct WaysIn<'a> {
    builder: Builder<'a>,
    class_ix: HashMap<ClassId, (NodeIndex, NodeIndex)>,
    hub: NodeIndex,
    peer_ix: HashMap<u32, NodeIndex>,
    rule_ix: HashMap<(u32, u32), NodeIndex>,
    admin_groups: network::AdminGroups,
    routes: Vec<Route>,
    controllers: Vec<ClassId>,
}

/// The network layer, then exposed endpoints and where they route, then the ways in a
/// workload opens itself.
fn ways_in_part<'a>(
    snapshot: &'a Snapshot,
    workloads: &'a Workloads,
    net: &NetModel,
) -> WaysIn<'a> {
    let mut b = Builder::new(snapshot, workloads);
    let network::Layer {
        class_ix,
        hub,
        peer_ix,
        rule_ix,
        admin_groups,
    } = network::layer(&mut b, net);
    let routes = routes::exposed(&mut b);
    let controllers = routes::controller_classes(net, workloads);
    routes::edges(&mut b, net, &routes, &controllers);
    for w in &workloads.list {
        entries::workload_entries(&mut b, net, w);
    }
    WaysIn {
        builder: b,
        class_ix,
        hub,
        peer_ix,
        rule_ix,
        admin_groups,
        routes,
        controllers,
    }
}

/// The second part of the graph: what a workload holds, workload by workload (its identity,
/// its Secrets, its nodes), then, once `rbac` gives the effective RBAC, what identities may
/// do. `None` when `rbac` gives none (the thread building it failed).
fn held_part<'a>(
    snapshot: &'a Snapshot,
    workloads: &'a Workloads,
    rbac: impl FnOnce() -> Option<Rbac>,
) -> Option<(Builder<'a>, Rbac)> {
    let mut b = Builder::new(snapshot, workloads);
    let hosts = escape::hosts(&mut b);
    identity::service_accounts(&mut b);
    for w in &workloads.list {
        let on_nodes = escape::nodes_of(&mut b, &hosts, w);
        identity::runs_as(&mut b, w, &on_nodes);
        secrets::mounts(&mut b, w, &on_nodes);
        escape::escapes(&mut b, w, &on_nodes);
    }
    secrets::stored(&mut b);
    let rbac = rbac()?;
    identity::runs_as_costs(&mut b, &rbac);
    identity::node_credentials(&mut b, &rbac);
    grants::rbac(&mut b, &rbac, &hosts);
    Some((b, rbac))
}

/// Appends the second part's vertices (after the shared prefix) and edges to the first's, as
/// if one builder had made both.
fn append(b: &mut Builder<'_>, held: Builder<'_>) {
    // Internet, ClusterAdmin, the workloads and the Exfiltration objective.
    let prefix = 3 + held.workload_ix.len();
    let base = b.g.node_count();
    let at = |v: NodeIndex| {
        if v.index() < prefix {
            v
        } else {
            NodeIndex::new(v.index() - prefix + base)
        }
    };
    let (vertices, edges) = held.g.into_nodes_edges();
    for v in vertices.into_iter().skip(prefix) {
        b.g.add_node(v.weight);
    }
    for e in edges {
        b.g.add_edge(at(e.source()), at(e.target()), e.weight);
    }
    // The ways in make none of these vertices (they would be lost here).
    debug_assert!(
        b.identities.is_empty()
            && b.secrets.is_empty()
            && b.nodes.is_empty()
            && b.grants.is_empty()
    );
    debug_assert_eq!(b.objectives.len(), 1, "the ways in add no objective");
    b.identities = held.identities;
    b.secrets = held.secrets;
    b.nodes = held.nodes;
    b.objectives = held.objectives;
    b.grants = held.grants;
    b.warnings.extend(held.warnings);
}

impl SecurityGraph {
    /// Builds the graph: the vertices every rule starts from, then each edge family in the
    /// graph's fixed order.
    pub fn build(snapshot: &Snapshot) -> SecurityGraph {
        SecurityGraph::build_from(snapshot, Models::build(snapshot))
    }

    /// [`SecurityGraph::build`] over models already built from `snapshot`.
    pub fn build_from(snapshot: &Snapshot, models: Models) -> SecurityGraph {
        let Models { workloads, net } = models;
        SecurityGraph::build_in_parts(snapshot, workloads, |_| net).0
    }

    /// [`SecurityGraph::build_from`], the network model from `net` (given the workloads), built
    /// in two parts on two threads; the effective RBAC it read is returned for the caller to
    /// drop where it costs least (off the path that waits for the graph).
    ///
    /// The ways in (the network layer, exposed endpoints, their routes) read the network model;
    /// what workloads hold and what identities may do (nodes, tokens, Secrets, grants) never
    /// read it, nor a vertex of the first part, and read the effective RBAC only at the end.
    /// So the second part is built on a second thread from the start, while this one builds
    /// the RBAC model (sent to it when done), the network model and the first part. Each part
    /// starts from the same prefix of vertices (`Internet`, `ClusterAdmin`, the workloads) and
    /// the second is appended to the first: the graph has the vertices and edges, in the same
    /// order, that one thread building the first part and then the second makes. The RBAC model
    /// is not kept between analyses (the engine's memory matters more than the ~5 ms that would
    /// save a re-proof).
    pub(crate) fn build_in_parts(
        snapshot: &Snapshot,
        workloads: Arc<Workloads>,
        net: impl FnOnce(&Arc<Workloads>) -> Arc<NetModel>,
    ) -> (SecurityGraph, Rbac) {
        let (ways_in, held, rbac, net) = std::thread::scope(|s| {
            let (send, receive) = std::sync::mpsc::channel();
            let w = &*workloads;
            let held = s.spawn(move || held_part(snapshot, w, || receive.recv().ok()));
            // Sent first: the second part waits for it only at its end. (A failed send means
            // that thread panicked; joining it below says so.)
            let _ = send.send(Rbac::build(snapshot));
            let net = net(&workloads);
            let ways_in = ways_in_part(snapshot, w, &net);
            let (held, rbac) = held
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                .expect("the RBAC model was sent before the part that reads it was joined");
            (ways_in, held, rbac, net)
        });
        let WaysIn {
            builder: mut b,
            class_ix,
            hub,
            peer_ix,
            rule_ix,
            admin_groups,
            routes,
            controllers,
        } = ways_in;
        // The models' warnings first, then the RBAC model's, then what the parts found.
        let mut warnings: Vec<String> = workloads
            .warnings
            .iter()
            .chain(&net.warnings)
            .chain(&rbac.warnings)
            .cloned()
            .collect();
        warnings.append(&mut b.warnings);
        b.warnings = warnings;
        append(&mut b, held);

        let jewels = sinks(&b);
        let Builder {
            g,
            internet,
            cluster_admin,
            objectives,
            exfiltration,
            workload_ix,
            endpoints,
            identities,
            secrets,
            nodes,
            warnings,
            grants,
            ..
        } = b;
        // The edge and vertex lists grew by doubling; the analysis is kept while the cluster
        // is, so what it does not use is given back (patches that add edges grow them again).
        let mut g = g;
        g.shrink_to_fit();
        let graph = SecurityGraph {
            graph: g,
            internet,
            cluster_admin,
            endpoints,
            identities,
            secrets,
            nodes,
            workloads,
            net,
            jewels,
            objectives,
            exfiltration,
            workload_ix,
            class_ix,
            hub,
            peer_ix,
            rule_ix,
            admin_groups,
            routes,
            controller_classes: controllers,
            relations: None,
            warnings,
            grants,
        };
        (graph, rbac)
    }

    /// The workload behind a vertex, if it is one.
    pub fn workload_at(&self, ix: NodeIndex) -> Option<&Workload> {
        match self.graph[ix] {
            Vertex::Workload(w) => self.workloads.list.get(w.index()),
            _ => None,
        }
    }

    /// A printable reference for a vertex.
    pub fn vertex_ref(&self, ix: NodeIndex) -> ObjRef {
        match self.graph[ix] {
            Vertex::Internet => ObjRef::new("Internet", "", "internet"),
            Vertex::Endpoint(e) => self.endpoints[e as usize].object.clone(),
            Vertex::Workload(w) => workload_ref(&self.workloads.list[w.index()]),
            Vertex::NetSrc(c) | Vertex::NetDst(c) => {
                let name = self.class_name(c);
                ObjRef::new(
                    if matches!(self.graph[ix], Vertex::NetSrc(_)) {
                        "PodsFrom"
                    } else {
                        "PodsTo"
                    },
                    "",
                    name,
                )
            }
            Vertex::NetHub => ObjRef::new("NetHub", "", "any-open-destination"),
            Vertex::NetPeer(set) => {
                let (namespaces, selector) = self.net.peer_set_key(set);
                let selector = selector.map(ToString::to_string).unwrap_or_default();
                ObjRef::new(
                    "PolicyPeer",
                    "",
                    format!("{selector} in {}", namespaces.join(",")),
                )
            }
            Vertex::NetAdmin(i) => ObjRef::new("AdminPolicyGroup", "", format!("group {i}")),
            Vertex::NetAdminPeer { group, set } => {
                let (namespaces, selector) = self.net.peer_set_key(set);
                let selector = selector.map(ToString::to_string).unwrap_or_default();
                ObjRef::new(
                    "AdminPolicyGroupPeer",
                    "",
                    format!("group {group} as {selector} in {}", namespaces.join(",")),
                )
            }
            Vertex::NetRule { policy, rule } => {
                let p = &self.net.policies[policy as usize];
                ObjRef::new(
                    if p.is_network_policy() {
                        "NetworkPolicyRule"
                    } else {
                        "CiliumPolicyRule"
                    },
                    &p.namespace,
                    if p.is_network_policy() {
                        format!("{}/ingress[{rule}]", p.name)
                    } else {
                        format!("{}/{}", p.name, p.rule_field(true, rule))
                    },
                )
            }
            Vertex::Identity(i) => match &self.identities[i as usize] {
                SubjectKey::ServiceAccount { namespace, name } => {
                    ObjRef::new("ServiceAccount", namespace, name)
                }
                SubjectKey::User(u) => ObjRef::new("User", "", u),
                SubjectKey::Group(g) => ObjRef::new("Group", "", g),
            },
            Vertex::Secret(s) => {
                let s = &self.secrets[s as usize];
                ObjRef::new("Secret", &s.namespace, &s.name)
            }
            Vertex::Node(n) => ObjRef::new(
                "Node",
                "",
                self.nodes[n as usize]
                    .name
                    .clone()
                    .unwrap_or_else(|| "(any node)".into()),
            ),
            Vertex::ClusterAdmin => ObjRef::new("ClusterAdmin", "", "cluster-admin"),
            Vertex::Grant(i) => ObjRef::new("Permission", "", self.grants[i as usize].clone()),
            Vertex::Objective(i) => {
                let o = &self.objectives[i as usize];
                ObjRef::new(
                    o.technique.tactic(),
                    o.namespace.as_deref().unwrap_or_default(),
                    o.technique.slug(),
                )
            }
        }
    }

    /// The ATT&CK technique a sink stands for (`None` for a crown jewel that holds no data).
    pub fn technique(&self, ix: NodeIndex) -> Option<Technique> {
        match self.graph[ix] {
            Vertex::Objective(i) => Some(self.objectives[i as usize].technique),
            Vertex::Secret(_) => Some(Technique::ContainerApiCredentials),
            Vertex::Node(_) => Some(Technique::EscapeToHost),
            Vertex::ClusterAdmin => Some(Technique::ValidAccounts),
            Vertex::Workload(w) => crate::objective::collection(&self.workloads.list[w.index()]),
            _ => None,
        }
    }

    /// Keeps as sinks only the classic targets and the objectives chosen: what an analysis
    /// proves chains to and cuts.
    pub fn select_objectives(&mut self, chosen: Objectives) {
        if chosen == Objectives::all() {
            return;
        }
        let jewels = std::mem::take(&mut self.jewels);
        self.jewels = jewels
            .into_iter()
            .filter(|&j| {
                crate::prove::target_kind(self, j)
                    .objective()
                    .is_none_or(|o| chosen.includes(o))
            })
            .collect();
    }

    /// A class's name: its first three member workloads as `namespace/name[Kind]` in that
    /// text's order, joined by commas, then `,+N` for the others. Linear in the members (a
    /// class may hold thousands, and every diff names every class).
    fn class_name(&self, c: ClassId) -> String {
        let mut ids: Vec<u32> = self.net.class(c).members.iter().map(|(w, _)| w.0).collect();
        ids.sort_unstable();
        ids.dedup();
        // The display's order without formatting each: `namespace/name[Kind]`.
        let key = |id: &u32| {
            let w = &self.workloads.list[*id as usize];
            [
                w.namespace.as_bytes(),
                b"/",
                w.name.as_bytes(),
                b"[",
                w.kind.as_str().as_bytes(),
                b"]",
            ]
        };
        let cmp = |a: &u32, b: &u32| {
            let (ka, kb) = (key(a), key(b));
            ka.iter()
                .flat_map(|p| p.iter())
                .cmp(kb.iter().flat_map(|p| p.iter()))
        };
        let mut first: Vec<u32> = Vec::with_capacity(4);
        for id in &ids {
            let at = first.partition_point(|x| cmp(x, id).is_lt());
            if at < 3 {
                first.insert(at, *id);
                first.truncate(3);
            }
        }
        let mut name = first
            .iter()
            .map(|id| self.workloads.list[*id as usize].display())
            .collect::<Vec<_>>()
            .join(",");
        if ids.len() > 3 {
            name.push_str(&format!(",+{}", ids.len() - 3));
        }
        name
    }
}

#[cfg(test)]
pub(super) mod tests {
    //! Small-manifest helpers for the edge rules' unit tests.

    use petgraph::Direction;
    use petgraph::graph::NodeIndex;
    use petgraph::visit::EdgeRef;
    use rampart_model::parse::{ParseLimits, parse_source};

    use super::*;
    use crate::model::EndpointKind;

    /// The graph of the objects in `yaml`.
    pub(crate) fn graph(yaml: &str) -> SecurityGraph {
        let p = parse_source("t.yaml", yaml, &ParseLimits::default());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        SecurityGraph::build(&Snapshot::from_objects(p.objects))
    }

    /// Pod `app/{name}` with the spec lines `spec` (one container when they name none).
    pub(crate) fn pod(name: &str, spec: &str) -> String {
        let containers = if spec.contains("containers:") {
            ""
        } else {
            "  containers: [{name: c, image: x}]\n"
        };
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: app, labels: {{app: {name}}}}}\nspec:\n{containers}{spec}\n---\n"
        )
    }

    /// The vertex (not a permission) whose reference prints as `r`; workloads come before the
    /// endpoints they open.
    pub(crate) fn try_vertex(g: &SecurityGraph, r: &str) -> Option<NodeIndex> {
        g.graph.node_indices().find(|ix| {
            !matches!(g.graph[*ix], Vertex::Grant(_)) && g.vertex_ref(*ix).to_string() == r
        })
    }

    /// Whether `from` has an edge of `kind` to `to` (through a permission vertex for RBAC).
    pub(crate) fn has_edge(g: &SecurityGraph, from: &str, kind: EdgeKind, to: &str) -> bool {
        let (Some(a), Some(b)) = (try_vertex(g, from), try_vertex(g, to)) else {
            return false;
        };
        g.graph.edges_directed(a, Direction::Outgoing).any(|e| {
            e.weight().kind == kind
                && (e.target() == b
                    || (matches!(g.graph[e.target()], Vertex::Grant(_))
                        && g.graph
                            .edges_directed(e.target(), Direction::Outgoing)
                            .any(|e2| e2.target() == b)))
        })
    }

    /// The endpoints that route into workload `w` (exposed to the internet), by kind and
    /// detail.
    pub(crate) fn entries_into(g: &SecurityGraph, w: &str) -> Vec<(EndpointKind, String)> {
        let Some(wi) = try_vertex(g, w) else {
            return Vec::new();
        };
        g.graph
            .edges_directed(wi, Direction::Incoming)
            .filter(|e| e.weight().kind == EdgeKind::RoutesTo)
            .filter_map(|e| match g.graph[e.source()] {
                Vertex::Endpoint(i) => {
                    let ep = &g.endpoints[i as usize];
                    let exposed = g
                        .graph
                        .edges_directed(e.source(), Direction::Incoming)
                        .any(|x| x.source() == g.internet && x.weight().kind == EdgeKind::Exposes);
                    exposed.then(|| (ep.kind, ep.detail.clone()))
                }
                _ => None,
            })
            .collect()
    }
}
