//! The network layer of the graph: per reachability class a sending and a receiving vertex, one
//! hub for "any destination whose ingress is open", the workloads' membership edges, and what
//! NetworkPolicy semantics allow between classes.
//!
//! Traffic a policy admits is routed through what admits it, never materialised per pair of
//! classes: a vertex per peer set (the pods a rule's peer selects, shared by every rule naming
//! the same pods) and one per ingress rule, so a rule admitting a team's namespaces costs one
//! edge per class that sends as the team and one per class the policy selects, not their
//! product. `NetSrc(s) → NetPeer → NetRule → NetDst(d)` exists exactly when `s`'s egress is
//! open, `d`'s ingress admits only what its rules name, and one of those rules names a peer
//! selecting `s` on a port `d` listens on — the pair edge it replaces existed exactly when some
//! such rule did. Sources whose egress is restricted need both sides to agree, which no shared
//! vertex can express: they keep pair edges, to the destinations their egress rules name.
//!
//! AdminNetworkPolicies and the baseline decide per pair of classes, before and after the
//! NetworkPolicies. Sources whose NetworkPolicy egress is open are grouped by what the admin
//! policies see of them (an admin group: the admin peers they match and, when admin policies
//! judge their egress, those policies), so every admin verdict is the group's. A class whose
//! ingress admin policies judge admits nothing through the hub or the rules' vertices: each
//! group has one edge into it with what the admin policies — and the NetworkPolicy rules naming
//! no peer, or the baseline — admit. A group whose egress admin policies judge sends nowhere
//! through the hub either: it has one edge into every class, its verdict met by the class's
//! ingress. Only the sources a NetworkPolicy rule names keep a pair edge to its classes (the
//! rule may admit them more), and a source whose egress both kinds restrict keeps pair edges.
//! Groups are few (cluster-wide admin policies make one or two), so this stays linear in the
//! classes.
//!
//! Each part is one function over one class, one rule or one workload, so the layer's edges
//! can be reasoned about (and patched) piece by piece; [`layer`] adds them in the graph's fixed
//! order, [`patch`] again for the classes one workload moved between.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use petgraph::Direction;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use rampart_model::{Workload, WorkloadId, Workloads};

use super::{Builder, SecurityGraph, add_edge, remove_edges, rule_evidence, workload_ref};
use crate::cost;
use crate::model::{Cost, Edge, EdgeKind, Evidence, ObjRef, Vertex};
use crate::netpol::{ClassId, JudgedCut, NetModel, RuleRef};
use crate::ports::PortSet;

/// Where the layer's vertices are.
pub(super) struct Layer {
    /// Sending and receiving vertex per class with members.
    pub class_ix: HashMap<ClassId, (NodeIndex, NodeIndex)>,
    /// The hub.
    pub hub: NodeIndex,
    /// Vertex per peer set an ingress rule names.
    pub peer_ix: HashMap<u32, NodeIndex>,
    /// Vertex per ingress rule naming a pod-selecting peer: (policy, rule).
    pub rule_ix: HashMap<(u32, u32), NodeIndex>,
    /// The admin groups.
    pub admin_groups: AdminGroups,
}

/// Sources whose egress is open, grouped by the admin peers they match (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct AdminGroups {
    /// Per group: a class of it (its admin verdicts stand for the group's) and its vertex.
    pub groups: Vec<(ClassId, NodeIndex)>,
    /// Group per admin signature ([`NetModel::admin_signature`]).
    of: HashMap<(Vec<u32>, Vec<u32>), u32>,
    /// Whether any admin policy has ingress rules or egress rules naming pods (groups exist
    /// only then).
    pub active: bool,
    /// The ingress rules (policy, rule) naming each peer set.
    rules_of_set: HashMap<u32, Vec<(u32, u32)>>,
    /// Whether a group's admin egress verdict lets through all that the rules naming a peer
    /// set admit (then its members may send as the peer): per (group, set), worked out once.
    passes: HashMap<(u32, u32), bool>,
    /// A group's admin egress verdict towards a class, worked out once.
    sends: HashMap<(u32, ClassId), crate::ports::PortSet>,
    /// Per (group, peer set): whether the rules naming the peer admit the group's members
    /// otherwise than the rules' vertices carry ([`AdminGroups::needs_peer`]), worked out once.
    needed: HashMap<(u32, u32), bool>,
    /// Per peer set: whether the rules' vertices carry what every rule naming it admits, into
    /// every class its policy selects ([`NetModel::rule_carries`]), worked out once.
    carried: HashMap<u32, bool>,
    /// The vertices of the (group, peer set) pairs that need one.
    pub peers: BTreeMap<(u32, u32), NodeIndex>,
}

impl AdminGroups {
    /// The group of class `c` (its NetworkPolicy egress open), made with its vertex when new:
    /// `(group, new)`.
    fn group_of(&mut self, g: &mut Graph, net: &NetModel, c: ClassId) -> (u32, bool) {
        let key = net.admin_signature(net.class(c));
        if let Some(&i) = self.of.get(&key) {
            return (i, false);
        }
        let i = u32::try_from(self.groups.len()).unwrap_or(u32::MAX);
        let v = g.add_node(Vertex::NetAdmin(i));
        self.groups.push((c, v));
        self.of.insert(key, i);
        (i, true)
    }

    /// Whether the rules naming peer set `set` admit group `group`'s members otherwise than
    /// the peer's and the rules' vertices carry: a rule whose destination admin policies judge
    /// and may deny what it admits, or a group whose admin egress verdict does not pass the
    /// peer.
    fn needs_peer(&mut self, net: &NetModel, group: u32, set: u32) -> bool {
        if let Some(&b) = self.needed.get(&(group, set)) {
            return b;
        }
        let rules = &self.rules_of_set;
        let carried = *self.carried.entry(set).or_insert_with(|| {
            rules.get(&set).is_none_or(|rules| {
                rules.iter().all(|&(p, r)| {
                    net.policy_classes(p)
                        .iter()
                        .all(|&dc| net.rule_carries(p, r, dc))
                })
            })
        });
        let needed = !carried || !self.passes(net, group, set);
        self.needed.insert((group, set), needed);
        needed
    }

    /// Whether group `group`'s members may send as peer set `set`: for every ingress rule
    /// naming it, into every class its policy selects, the group's admin egress verdict lets
    /// through every port the rule admits there.
    fn passes(&mut self, net: &NetModel, group: u32, set: u32) -> bool {
        if let Some(&b) = self.passes.get(&(group, set)) {
            return b;
        }
        let like = net.class(self.groups[group as usize].0);
        // A member of a group whose egress admin policies judge sends through the rule's
        // vertices only: every class the rule leads to must take it from there (one that any
        // pod reaches is fed by the hub, which such a member has no edge to).
        let through_rules = grouped(like);
        let sends = &mut self.sends;
        let ok = self.rules_of_set.get(&set).is_none_or(|rules| {
            rules.iter().all(|&(p, r)| {
                net.policy_classes(p).iter().all(|&dc| {
                    if through_rules && !net.class(dc).admin_ingress() && !admits_by_peers(net, dc)
                    {
                        return false;
                    }
                    let sent = sends
                        .entry((group, dc))
                        .or_insert_with(|| net.admin_sends(like, net.class(dc)));
                    net.rule_ports_into(p, r, dc).subtract(sent).is_empty()
                })
            })
        });
        self.passes.insert((group, set), ok);
        ok
    }
}

/// What the layer's edges are worked out from.
struct At<'a> {
    net: &'a NetModel,
    workloads: &'a Workloads,
    class_ix: &'a HashMap<ClassId, (NodeIndex, NodeIndex)>,
    hub: NodeIndex,
    peer_ix: &'a HashMap<u32, NodeIndex>,
    rule_ix: &'a HashMap<(u32, u32), NodeIndex>,
    /// The Exfiltration objective.
    exfil: NodeIndex,
    /// Per class (by index), the atoms one of which a source needs for a mesh to admit it
    /// ([`NetModel::mesh_requirements`]): groups with none of them get no edge into it.
    mesh_req: &'a [Option<Vec<u32>>],
}

type Graph = DiGraph<Vertex, Box<Edge>>;

/// Adds the network layer: vertices, then membership edges workload by workload, then each
/// class's open edges, then the rules and the classes they admit, then what each class sends
/// through the peers that select it, then the pair edges of restricted egress.
pub(super) fn layer(b: &mut Builder<'_>, net: &NetModel) -> Layer {
    let workloads = b.workloads;
    let mut class_ix: HashMap<ClassId, (NodeIndex, NodeIndex)> = HashMap::new();
    for c in &net.classes {
        if !c.members.is_empty() {
            let s = b.g.add_node(Vertex::NetSrc(c.id));
            let d = b.g.add_node(Vertex::NetDst(c.id));
            class_ix.insert(c.id, (s, d));
        }
    }
    let hub = b.g.add_node(Vertex::NetHub);
    let rules = net.ingress_peer_rules();
    let mut peer_ix: HashMap<u32, NodeIndex> = HashMap::new();
    let mut rule_ix: HashMap<(u32, u32), NodeIndex> = HashMap::new();
    for (policy, rule, sets) in &rules {
        let r = b.g.add_node(Vertex::NetRule {
            policy: *policy,
            rule: *rule,
        });
        rule_ix.insert((*policy, *rule), r);
        for &set in sets {
            let g = &mut b.g;
            peer_ix
                .entry(set)
                .or_insert_with(|| g.add_node(Vertex::NetPeer(set)));
        }
    }
    let mesh_req = net.mesh_requirements();
    let at = At {
        net,
        workloads,
        class_ix: &class_ix,
        hub,
        peer_ix: &peer_ix,
        rule_ix: &rule_ix,
        exfil: b.exfiltration,
        mesh_req: &mesh_req,
    };
    let g = &mut b.g;
    let mut used: Vec<ClassId> = class_ix.keys().copied().collect();
    used.sort();
    for w in &workloads.list {
        membership(g, &at, w, b.workload_ix[w.id.index()]);
    }
    for &c in &used {
        open_edges(g, &at, c);
    }
    for (policy, rule, sets) in &rules {
        for &set in sets {
            rule_admits(g, &at, set, *policy, *rule);
        }
        for &dc in net.policy_classes(*policy) {
            if at.class_ix.contains_key(&dc) {
                admits_into(g, &at, *policy, *rule, dc);
            }
        }
    }
    for &sc in &used {
        let class = net.class(sc);
        if class.egress_open() {
            peer_member(g, &at, sc);
        } else if !grouped(class) {
            for dc in egress_candidates(net, sc, &used) {
                if class_ix.contains_key(&dc) {
                    pair_edge(g, &at, sc, dc);
                }
            }
        }
    }
    let mut rules_of_set: HashMap<u32, Vec<(u32, u32)>> = HashMap::new();
    for (policy, rule, sets) in &rules {
        for &set in sets {
            rules_of_set.entry(set).or_default().push((*policy, *rule));
        }
    }
    let mut admin_groups = AdminGroups {
        rules_of_set,
        // A mesh judges sources one identity at a time, like an admin policy.
        active: net.mesh.is_some()
            || net
                .admin
                .iter()
                .any(|p| !p.ingress.is_empty() || p.egress_names_pods()),
        ..AdminGroups::default()
    };
    if admin_groups.active {
        for &sc in &used {
            if net.class(sc).egress_policies.is_empty() {
                let (i, new) = admin_groups.group_of(g, net, sc);
                if new {
                    for &dc in &used {
                        group_edge(g, &at, &admin_groups, i, dc);
                    }
                }
                admin_member(g, &at, &mut admin_groups, sc, i, &used, &|_| false);
            }
        }
    }
    Layer {
        class_ix,
        hub,
        peer_ix,
        rule_ix,
        admin_groups,
    }
}

/// Whether a class sends through its admin group only ([`NetClass::admin_egress_only`]).
fn grouped(class: &crate::netpol::NetClass) -> bool {
    class.admin_egress_only()
}

/// A class whose NetworkPolicy egress is open sends as its admin group; one whose egress
/// only admin policies judge also as each peer set its group passes ([`AdminGroups::passes`]);
/// and as the group's member of each peer set that needs one ([`AdminGroups::needs_peer`]),
/// made with its edges into the classes among `live` (sorted) but those `skip` skips when new.
fn admin_member(
    g: &mut Graph,
    at: &At<'_>,
    groups: &mut AdminGroups,
    c: ClassId,
    group: u32,
    live: &[ClassId],
    skip: &dyn Fn(ClassId) -> bool,
) {
    let s = at.class_ix[&c].0;
    if let Some(&(_, v)) = groups.groups.get(group as usize) {
        add_edge(g, s, v, EdgeKind::PeerMember, Vec::new(), None, Cost::Never);
    }
    let grouped = grouped(at.net.class(c));
    for set in at.net.peer_sets_of(c) {
        if !at.peer_ix.contains_key(&set) {
            continue;
        }
        if grouped && groups.passes(at.net, group, set) {
            add_edge(
                g,
                s,
                at.peer_ix[&set],
                EdgeKind::PeerMember,
                Vec::new(),
                None,
                Cost::Never,
            );
        }
        if groups.needs_peer(at.net, group, set) {
            let v = match groups.peers.get(&(group, set)) {
                Some(&v) => v,
                None => {
                    let v = g.add_node(Vertex::NetAdminPeer { group, set });
                    groups.peers.insert((group, set), v);
                    for &dc in live {
                        if !skip(dc) {
                            admin_peer_edge(g, at, groups, group, set, dc);
                        }
                    }
                    v
                }
            };
            add_edge(g, s, v, EdgeKind::PeerMember, Vec::new(), None, Cost::Never);
        }
    }
}

/// What the rules naming peer set `set` admit from admin group `group`'s members into class
/// `dc` ([`NetModel::named_allows`]), from the pair's vertex.
fn admin_peer_edge(
    g: &mut Graph,
    at: &At<'_>,
    groups: &AdminGroups,
    group: u32,
    set: u32,
    dc: ClassId,
) {
    let net = at.net;
    let (Some(&v), Some(&(like, _)), Some(rules)) = (
        groups.peers.get(&(group, set)),
        groups.groups.get(group as usize),
        groups.rules_of_set.get(&set),
    ) else {
        return;
    };
    let (src, dst) = (net.class(like), net.class(dc));
    let mut ports = crate::ports::PortSet::empty();
    let mut why = Vec::new();
    for &(p, r) in rules {
        if net.policy_classes(p).contains(&dc) {
            let admitted = net.named_allows(src, dst, &net.rule_ports_into(p, r, dc));
            if !admitted.is_empty() {
                ports.union_with(&admitted);
                why.push(RuleRef {
                    policy: p,
                    ingress: true,
                    rule: r,
                });
            }
        }
    }
    if ports.is_empty() {
        return;
    }
    let mut ev = rule_evidence(net, &why, first_member(at, dc), "ingress");
    mesh_evidence(net, Some(src), dst, &mut ev);
    let e = add_edge(
        g,
        v,
        at.class_ix[&dc].1,
        EdgeKind::AdmitsInto,
        ev,
        Some(ports),
        istio_cut(net, src, dc),
    );
    g[e].rules = why.into();
}

/// Evidence naming the mesh rules that judged traffic from `src` (`None`: outside the cluster)
/// into `dst`, when a mesh judges it.
pub(crate) fn mesh_evidence(
    net: &NetModel,
    src: Option<&crate::netpol::NetClass>,
    dst: &crate::netpol::NetClass,
    ev: &mut Vec<Evidence>,
) {
    if !dst.mesh {
        return;
    }
    for m in net.mesh_reasons(src, dst) {
        ev.push(Evidence::new(
            ObjRef::new(m.kind, &m.namespace, &m.name),
            m.field,
            None,
        ));
    }
}

/// What admin group `group` sends into class `dc` ([`NetModel::group_allows`]), when the
/// group's egress is judged or `dc`'s ingress is (otherwise the hub and the rules' vertices
/// carry it).
fn group_edge(g: &mut Graph, at: &At<'_>, groups: &AdminGroups, group: u32, dc: ClassId) {
    let net = at.net;
    let Some(&(like, v)) = groups.groups.get(group as usize) else {
        return;
    };
    let (src, dst) = (net.class(like), net.class(dc));
    if !(grouped(src) || dst.admin_ingress()) || !at.class_ix.contains_key(&dc) {
        return;
    }
    if !mesh_may_admit(at, src, dc) {
        return;
    }
    let (ports, egress_rules, ingress_rules) = net.group_allows(src, dst);
    if ports.is_empty() {
        return;
    }
    let mut ev = Vec::new();
    admin_evidence(net, &egress_rules, "egress", &mut ev);
    admin_evidence(net, &ingress_rules, "ingress", &mut ev);
    mesh_evidence(net, Some(src), dst, &mut ev);
    if ev.is_empty() {
        ev.push(Evidence::new(
            first_member(at, dc),
            "no admin rule matched: left to the NetworkPolicies and the baseline",
            None,
        ));
    }
    add_edge(
        g,
        v,
        at.class_ix[&dc].1,
        EdgeKind::AdmitsInto,
        ev,
        Some(ports),
        istio_cut(net, src, dc),
    );
}

/// Whether a mesh may admit sources like `src` into `dc` at all (a cheap necessary test: the
/// exact verdict follows).
fn mesh_may_admit(at: &At<'_>, src: &crate::netpol::NetClass, dc: ClassId) -> bool {
    match at.mesh_req.get(dc.index()) {
        Some(Some(atoms)) => at.net.mesh_unknown(src) || atoms.iter().any(|&a| src.has_atom(a)),
        _ => true,
    }
}

/// The cost of cutting what a group (or a group's peer) sends into `dc`
/// ([`NetModel::judged_cut`]: the group's egress judged when its class sends through it alone).
fn istio_cut(net: &NetModel, src: &crate::netpol::NetClass, dc: ClassId) -> Cost {
    judged_cost(net, grouped(src), dc)
}

/// The cost of cutting a step into `dc` that admin policies or a mesh judge, in the layer
/// [`NetModel::judged_cut`] names; not cut here where none can.
fn judged_cost(net: &NetModel, egress_judged: bool, dc: ClassId) -> Cost {
    match net.judged_cut(dc, egress_judged) {
        Some(JudgedCut::Istio) => Cost::Finite(cost::NARROW_POLICY),
        Some(JudgedCut::AdminDeny { .. }) => Cost::Finite(cost::ADMIN_DENY),
        None => Cost::Never,
    }
}

/// Evidence naming the admin rules that decided: (policy, rule) in the `dir` rules.
fn admin_evidence(net: &NetModel, rules: &[(u32, u32)], dir: &str, ev: &mut Vec<Evidence>) {
    for &(p, r) in rules {
        if let Some(policy) = net.admin.get(p as usize) {
            ev.push(Evidence::new(
                ObjRef::new(policy.kind(), &policy.namespace, &policy.name),
                policy.rule_field(dir == "ingress", r),
                None,
            ));
        }
    }
}

impl SecurityGraph {
    /// The receiving class vertices (`NetDst`) the sending class vertex `src` (`NetSrc`)
    /// reaches through the layer's plumbing: the hub, policy pair edges, peers and rules.
    pub fn net_destinations(&self, src: NodeIndex) -> Vec<NodeIndex> {
        let mut out = Vec::new();
        let mut stack = vec![src];
        let mut seen: HashSet<NodeIndex> = HashSet::from([src]);
        while let Some(v) = stack.pop() {
            for next in self.graph.neighbors_directed(v, Direction::Outgoing) {
                match self.graph[next] {
                    Vertex::NetDst(_) => out.push(next),
                    Vertex::NetHub
                    | Vertex::NetPeer(_)
                    | Vertex::NetRule { .. }
                    | Vertex::NetAdmin(_)
                    | Vertex::NetAdminPeer { .. }
                        if seen.insert(next) =>
                    {
                        stack.push(next);
                    }
                    _ => {}
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Whether a class admits in-cluster traffic only from the peers its NetworkPolicies select
/// (its ingress is restricted, no rule admits every pod, no admin policy judges its sources).
fn admits_by_peers(net: &NetModel, c: ClassId) -> bool {
    let class = net.class(c);
    !class.ingress_open() && !class.admin_ingress() && !net.admits_any_pod(c).0
}

/// The classes an egress-restricted class may send to, as its egress rules name them (every
/// class in `all` when a rule names no peer).
fn egress_candidates(net: &NetModel, sc: ClassId, all: &[ClassId]) -> Vec<ClassId> {
    net.egress_candidates(sc).unwrap_or_else(|| all.to_vec())
}

/// Brings the layer up to date after workload `w`'s pod groups moved between classes
/// (`touched`: the classes that gained or lost one, as [`NetModel::reclass`] reports them):
/// the same edges as [`layer`] would add for the patched model, in another order. A class that
/// gains its first members gets its vertices; one that loses its last keeps them, without
/// edges (nothing reaches or leaves it, as if it were not there). Peer and rule vertices stay:
/// a class move changes no policy.
pub(crate) fn patch(sg: &mut SecurityGraph, w: WorkloadId, touched: &[ClassId]) {
    for &c in touched {
        if sg.net.is_live(c) && !sg.class_ix.contains_key(&c) {
            let s = sg.graph.add_node(Vertex::NetSrc(c));
            let d = sg.graph.add_node(Vertex::NetDst(c));
            sg.class_ix.insert(c, (s, d));
        }
    }
    let wi = sg.workload_ix[w.index()];
    let class_vertices: HashSet<NodeIndex> = touched
        .iter()
        .filter_map(|c| sg.class_ix.get(c))
        .flat_map(|(s, d)| [*s, *d])
        .collect();
    // Every edge the touched classes' vertices have, but other workloads' membership.
    let mut stale: Vec<EdgeIndex> = Vec::new();
    for &v in &class_vertices {
        for dir in [Direction::Outgoing, Direction::Incoming] {
            for e in sg.graph.edges_directed(v, dir) {
                let membership =
                    matches!(e.weight().kind, EdgeKind::SendsAs | EdgeKind::ReceivesAs);
                let other = if dir == Direction::Outgoing {
                    e.target()
                } else {
                    e.source()
                };
                if !membership || other == wi {
                    stale.push(e.id());
                }
            }
        }
    }
    for e in sg.graph.edges_directed(wi, Direction::Outgoing) {
        if e.weight().kind == EdgeKind::SendsAs {
            stale.push(e.id());
        }
    }
    for e in sg.graph.edges_directed(wi, Direction::Incoming) {
        if e.weight().kind == EdgeKind::ReceivesAs {
            stale.push(e.id());
        }
    }
    remove_edges(&mut sg.graph, stale);

    let mesh_req = sg.net.mesh_requirements();
    let at = At {
        net: &sg.net,
        workloads: &sg.workloads,
        class_ix: &sg.class_ix,
        hub: sg.hub,
        peer_ix: &sg.peer_ix,
        rule_ix: &sg.rule_ix,
        exfil: sg.exfiltration,
        mesh_req: &mesh_req,
    };
    let g = &mut sg.graph;
    let groups = &mut sg.admin_groups;
    let net = at.net;
    membership(g, &at, &at.workloads.list[w.index()], wi);
    let live: Vec<ClassId> = {
        let mut v: Vec<ClassId> = at
            .class_ix
            .keys()
            .copied()
            .filter(|c| net.is_live(*c))
            .collect();
        v.sort();
        v
    };
    let is_touched = |c: ClassId| touched.contains(&c);
    // Admin groups first: a touched source joins its group and the group's peers (a new
    // one with its edges into the untouched classes here; the touched ones take every
    // group's and peer's below).
    if groups.active {
        for &c in touched.iter().filter(|c| net.is_live(**c)) {
            if net.class(c).egress_policies.is_empty() {
                let (i, new) = groups.group_of(g, net, c);
                if new {
                    for &dc in &live {
                        if !is_touched(dc) {
                            group_edge(g, &at, groups, i, dc);
                        }
                    }
                }
                admin_member(g, &at, groups, c, i, &live, &is_touched);
            }
        }
    }
    for &c in touched.iter().filter(|c| net.is_live(**c)) {
        open_edges(g, &at, c);
        // Into `c`: from the rules of the policies selecting it, and from every source whose
        // egress is restricted (touched or not).
        for &p in &net.class(c).ingress_policies {
            let rules = net.policies[p as usize].ingress.iter().flatten().count();
            for r in 0..u32::try_from(rules).unwrap_or(u32::MAX) {
                admits_into(g, &at, p, r, c);
            }
        }
        for &sc in &live {
            let source = net.class(sc);
            if !source.egress_open() && !grouped(source) {
                pair_edge(g, &at, sc, c);
            }
        }
        if groups.active {
            for i in 0..u32::try_from(groups.groups.len()).unwrap_or(u32::MAX) {
                group_edge(g, &at, groups, i, c);
            }
            let named: Vec<(u32, u32)> = groups
                .peers
                .keys()
                .copied()
                .filter(|(_, set)| {
                    groups.rules_of_set.get(set).is_some_and(|rules| {
                        rules
                            .iter()
                            .any(|&(p, _)| net.policy_classes(p).contains(&c))
                    })
                })
                .collect();
            for (group, set) in named {
                admin_peer_edge(g, &at, groups, group, set, c);
            }
        }
        // Out of `c`: through the peers selecting it (its admin group's, above), or to what
        // its egress rules name (but the touched classes, which took theirs above).
        let class = net.class(c);
        if class.egress_open() {
            peer_member(g, &at, c);
        } else if !grouped(class) {
            for dc in egress_candidates(net, c, &live) {
                if !is_touched(dc) && net.is_live(dc) && at.class_ix.contains_key(&dc) {
                    pair_edge(g, &at, c, dc);
                }
            }
        }
    }
}

/// The workload every class's evidence names: its first member.
fn first_member(at: &At<'_>, c: ClassId) -> ObjRef {
    at.net
        .class(c)
        .members
        .first()
        .map(|(w, _)| workload_ref(&at.workloads.list[w.index()]))
        .unwrap_or_else(|| ObjRef::new("Pod", "", "?"))
}

/// A workload sends and receives as each of its classes; the cluster's DNS only sends. Every
/// pod must reach DNS (contained egress keeps it), and answering queries hands a sender
/// nothing: rampart models no exploit of the resolver, so DNS pods are no foothold reached
/// over the network (a foothold there by other means still walks on).
fn membership(g: &mut Graph, at: &At<'_>, w: &Workload, wi: NodeIndex) {
    let mut seen = BTreeSet::new();
    let receives = !super::is_dns(w);
    for &c in &at.net.member_class[w.id.index()] {
        if seen.insert(c) {
            let (s, d) = at.class_ix[&c];
            add_edge(g, wi, s, EdgeKind::SendsAs, Vec::new(), None, Cost::Never);
            if !receives {
                continue;
            }
            add_edge(
                g,
                d,
                wi,
                EdgeKind::ReceivesAs,
                Vec::new(),
                None,
                Cost::Never,
            );
        }
    }
}

/// A class's open egress (to the hub), its egress to the internet (to the Exfiltration
/// objective) and open ingress (from the hub).
fn open_edges(g: &mut Graph, at: &At<'_>, c: ClassId) {
    let net = at.net;
    let class = net.class(c);
    let (s, d) = at.class_ix[&c];
    let (out, why) = net.egress_to_internet(c);
    if !out.is_empty() {
        let mut ev = rule_evidence(
            net,
            &why,
            first_member(at, c),
            if class.egress_open() {
                "no NetworkPolicy restricts egress to the internet"
            } else {
                "egress to the internet allowed"
            },
        );
        if class.admin_egress_any() {
            ev.push(Evidence::new(
                first_member(at, c),
                "admin network policies leave egress to the internet allowed",
                None,
            ));
        }
        let e = add_edge(
            g,
            s,
            at.exfil,
            EdgeKind::Exfiltrates,
            ev,
            Some(out),
            Cost::Finite(crate::cost::DENY_INTERNET_EGRESS),
        );
        g[e].rules = why.into();
    }
    if class.egress_open() {
        let ev = vec![Evidence::new(
            first_member(at, c),
            "no NetworkPolicy restricts egress",
            None,
        )];
        add_edge(
            g,
            s,
            at.hub,
            EdgeKind::EgressOpen,
            ev,
            Some(PortSet::all()),
            Cost::Finite(0),
        );
    }
    let (admits, why) = net.admits_any_pod(c);
    if admits {
        let ev = rule_evidence(
            net,
            &why,
            first_member(at, c),
            "no NetworkPolicy isolates ingress",
        );
        let ports = if class.ingress_open() {
            class.listening()
        } else {
            net.ingress_from_controller(c)
                .0
                .intersect(&class.listening())
        };
        let e = add_edge(
            g,
            at.hub,
            d,
            EdgeKind::IngressOpen,
            ev,
            Some(ports),
            Cost::Finite(0),
        );
        g[e].rules = why.into();
    }
}

/// A class whose egress is open sends as each peer set an ingress rule names that selects it.
fn peer_member(g: &mut Graph, at: &At<'_>, c: ClassId) {
    let s = at.class_ix[&c].0;
    for set in at.net.peer_sets_of(c) {
        if let Some(&v) = at.peer_ix.get(&set) {
            add_edge(g, s, v, EdgeKind::PeerMember, Vec::new(), None, Cost::Never);
        }
    }
}

/// Rule `rule` of policy `policy` names peer set `set`: narrowing the rule's peer is the cut.
fn rule_admits(g: &mut Graph, at: &At<'_>, set: u32, policy: u32, rule: u32) {
    let (Some(&from), Some(&to)) = (at.peer_ix.get(&set), at.rule_ix.get(&(policy, rule))) else {
        return;
    };
    let why = vec![RuleRef {
        policy,
        ingress: true,
        rule,
    }];
    let ev = rule_evidence(at.net, &why, ObjRef::new("NetworkPolicy", "", "?"), "");
    let e = add_edge(
        g,
        from,
        to,
        EdgeKind::RuleAdmits,
        ev,
        None,
        Cost::Finite(cost::NARROW_POLICY),
    );
    g[e].rules = why.into();
}

/// What rule `rule` of policy `policy` admits reaches class `dc` (selected by the policy)
/// when `dc` admits by peers and listens on a port the rule names.
fn admits_into(g: &mut Graph, at: &At<'_>, policy: u32, rule: u32, dc: ClassId) {
    let net = at.net;
    let Some(&r) = at.rule_ix.get(&(policy, rule)) else {
        return;
    };
    let judged = net.class(dc).admin_ingress();
    if judged && !net.rule_carries(policy, rule, dc) || !judged && !admits_by_peers(net, dc) {
        return;
    }
    let ports = net.rule_ports_into(policy, rule, dc);
    if ports.is_empty() {
        return;
    }
    let p = &net.policies[policy as usize];
    let selector = if p.is_network_policy() {
        "podSelector"
    } else {
        "endpointSelector"
    };
    let ev = vec![Evidence::new(
        ObjRef::new(p.kind, &p.namespace, &p.name),
        format!("{}.{selector}", p.path),
        None,
    )];
    add_edge(
        g,
        r,
        at.class_ix[&dc].1,
        EdgeKind::AdmitsInto,
        ev,
        Some(ports),
        Cost::Never,
    );
}

/// What `sc` (its egress restricted) may send to `dc` on the ports `dc` listens on, with the
/// egress and ingress rules that allow it.
fn pair_edge(g: &mut Graph, at: &At<'_>, sc: ClassId, dc: ClassId) {
    let net = at.net;
    let (sclass, dclass) = (net.class(sc), net.class(dc));
    let ports = net.allowed(sc, dc).intersect(&dclass.listening());
    if ports.is_empty() {
        return;
    }
    let mut why = net.egress_to(sclass, dclass).1;
    why.extend(net.ingress_from(sclass, dclass).1);
    let mut ev = rule_evidence(net, &why, first_member(at, dc), "ingress");
    // Admin policies decide before (and after) the NetworkPolicies: narrowing a NetworkPolicy
    // rule may not cut such a pair, so it is cut in their layer (or a mesh's), where one can.
    let egress = net.admin_egress_verdict(sclass, dclass);
    let ingress = net.admin_ingress_verdict(sclass, dclass);
    let cost = if egress.is_some() || ingress.is_some() {
        judged_cost(net, egress.is_some(), dc)
    } else {
        Cost::Finite(cost::NARROW_POLICY)
    };
    for (verdict, dir) in [(egress, "egress"), (ingress, "ingress")] {
        if let Some(verdict) = verdict {
            admin_evidence(net, &verdict.rules, dir, &mut ev);
        }
    }
    mesh_evidence(net, Some(sclass), dclass, &mut ev);
    let e = add_edge(
        g,
        at.class_ix[&sc].0,
        at.class_ix[&dc].1,
        EdgeKind::PolicyAllows,
        ev,
        Some(ports),
        cost,
    );
    g[e].rules = why.into();
}

#[cfg(test)]
mod tests {
    use super::super::tests::{graph, pod, try_vertex};
    use super::*;

    /// Whether workload `from` sends to workload `to` through the layer (by the hub or a
    /// policy edge).
    fn reaches(g: &SecurityGraph, from: &str, to: &str) -> bool {
        let (Some(a), Some(b)) = (try_vertex(g, from), try_vertex(g, to)) else {
            return false;
        };
        g.graph
            .neighbors_directed(a, Direction::Outgoing)
            .flat_map(|src| g.net_destinations(src))
            .any(|d| {
                g.graph
                    .neighbors_directed(d, Direction::Outgoing)
                    .any(|w| w == b)
            })
    }

    fn two_pods() -> String {
        let ports = "  containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]";
        format!("{}{}", pod("a", ports), pod("b", ports))
    }

    #[test]
    fn without_policies_every_pod_reaches_every_other() {
        let g = graph(&two_pods());
        assert!(reaches(&g, "Pod/app/a", "Pod/app/b"));
    }

    #[test]
    fn a_default_deny_on_ingress_cuts_the_layer() {
        let g = graph(&format!(
            "{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny, namespace: app}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress]}}\n",
            two_pods()
        ));
        assert!(!reaches(&g, "Pod/app/a", "Pod/app/b"));
    }

    #[test]
    fn a_policy_admitting_one_peer_admits_that_peer_only() {
        let ports = "  containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]";
        let g = graph(&format!(
            "{}{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: from-a, namespace: app}}\nspec: {{podSelector: {{matchLabels: {{app: b}}}}, ingress: [{{from: [{{podSelector: {{matchLabels: {{app: a}}}}}}]}}]}}\n",
            two_pods(),
            pod("c", ports)
        ));
        assert!(reaches(&g, "Pod/app/a", "Pod/app/b"));
        assert!(!reaches(&g, "Pod/app/c", "Pod/app/b"));
        // Through the rule: one cuttable edge, the rule naming its peer; no pair edge.
        let kinds: Vec<EdgeKind> = g.graph.edge_references().map(|e| e.weight().kind).collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == EdgeKind::RuleAdmits).count(),
            1
        );
        assert!(!kinds.contains(&EdgeKind::PolicyAllows));
    }

    fn count(g: &SecurityGraph, kind: EdgeKind) -> usize {
        g.graph
            .edge_references()
            .filter(|e| e.weight().kind == kind)
            .count()
    }

    /// The admin groups' vertices.
    fn admin_groups(g: &SecurityGraph) -> usize {
        g.graph
            .node_indices()
            .filter(|v| matches!(g.graph[*v], Vertex::NetAdmin(_)))
            .count()
    }

    /// `n` namespaces labelled `team: x`, each with two workloads and a policy admitting the
    /// whole team into its `db`.
    fn team(n: usize) -> String {
        let mut y = String::new();
        for i in 0..n {
            y.push_str(&format!(
                "apiVersion: v1\nkind: Namespace\nmetadata: {{name: ns{i}, labels: {{team: x}}}}\n---\n\
                 apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: ns{i}, labels: {{app: web}}}}\nspec: {{containers: [{{name: c, image: x, ports: [{{containerPort: 8080}}]}}]}}\n---\n\
                 apiVersion: v1\nkind: Pod\nmetadata: {{name: db, namespace: ns{i}, labels: {{app: db}}}}\nspec: {{containers: [{{name: c, image: x, ports: [{{containerPort: 5432}}]}}]}}\n---\n\
                 apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: team, namespace: ns{i}}}\nspec: {{podSelector: {{matchLabels: {{app: db}}}}, ingress: [{{from: [{{namespaceSelector: {{matchLabels: {{team: x}}}}}}]}}]}}\n---\n"
            ));
        }
        y
    }

    #[test]
    fn rules_naming_the_same_pods_share_one_peer_and_grow_linearly() {
        let small = graph(&team(4));
        let big = graph(&team(8));
        // Every db admits every pod of the team (and web of ns0 reaches db of ns3).
        assert!(reaches(&big, "Pod/ns0/web", "Pod/ns7/db"));
        assert!(reaches(&big, "Pod/ns7/db", "Pod/ns0/db"));
        for g in [&small, &big] {
            let peers = g
                .graph
                .node_indices()
                .filter(|v| matches!(g.graph[*v], Vertex::NetPeer(_)))
                .count();
            assert_eq!(peers, 1);
        }
        // Into the one peer from each class (every web is one class, each db one of its own),
        // one rule edge per policy, one edge into each db: linear (pair edges: (n + 1) × n).
        assert_eq!(count(&small, EdgeKind::PeerMember), 4 + 1);
        assert_eq!(count(&big, EdgeKind::PeerMember), 8 + 1);
        assert_eq!(count(&big, EdgeKind::RuleAdmits), 8);
        assert_eq!(count(&big, EdgeKind::AdmitsInto), 8);
    }

    #[test]
    fn a_rule_on_a_port_the_destination_does_not_listen_on_admits_nothing() {
        let y = team(2).replace(
            "ingress: [{from: [{namespaceSelector: {matchLabels: {team: x}}}]}]",
            "ingress: [{from: [{namespaceSelector: {matchLabels: {team: x}}}], ports: [{port: 9999}]}]",
        );
        let g = graph(&y);
        assert_eq!(count(&g, EdgeKind::AdmitsInto), 0);
        assert!(!reaches(&g, "Pod/ns0/web", "Pod/ns1/db"));
    }

    #[test]
    fn restricted_egress_keeps_pair_edges_to_what_its_rules_name() {
        // web of every namespace may only send to db of ns0: one pair edge per web, none to
        // the other dbs (their rules admit the team, but web's egress does not).
        let y = format!(
            "{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: out, namespace: ns0}}\nspec: {{podSelector: {{matchLabels: {{app: web}}}}, policyTypes: [Egress], egress: [{{to: [{{podSelector: {{matchLabels: {{app: db}}}}}}]}}]}}\n",
            team(3)
        );
        let g = graph(&y);
        assert!(reaches(&g, "Pod/ns0/web", "Pod/ns0/db"));
        assert!(!reaches(&g, "Pod/ns0/web", "Pod/ns1/db"));
        assert!(reaches(&g, "Pod/ns1/web", "Pod/ns0/db"));
        assert_eq!(count(&g, EdgeKind::PolicyAllows), 1);
    }

    const ANP: &str = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n";
    const BANP: &str =
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\n";

    #[test]
    fn an_admin_deny_cuts_what_no_network_policy_restricts() {
        let deny = format!(
            "{ANP}metadata: {{name: no-a}}\nspec: {{priority: 5, subject: {{pods: {{namespaceSelector: {{}}, podSelector: {{matchLabels: {{app: b}}}}}}}}, ingress: [{{name: d, action: Deny, from: [{{pods: {{namespaceSelector: {{}}, podSelector: {{matchLabels: {{app: a}}}}}}}}]}}]}}\n"
        );
        let g = graph(&format!("{}{deny}", two_pods()));
        assert!(!reaches(&g, "Pod/app/a", "Pod/app/b"));
        assert!(reaches(&g, "Pod/app/b", "Pod/app/a"));
        // Twin: the same rule allowing.
        let g = graph(&format!("{}{}", two_pods(), deny.replace("Deny", "Allow")));
        assert!(reaches(&g, "Pod/app/a", "Pod/app/b"));
        // Through the sources' admin group: not cut by narrowing a NetworkPolicy, but by an
        // AdminNetworkPolicy Deny ahead of the Allow.
        let judged = g
            .graph
            .edge_references()
            .find(|e| {
                e.weight().kind == EdgeKind::AdmitsInto
                    && matches!(g.graph[e.source()], Vertex::NetAdmin(_))
            })
            .expect("the admin group's edge into the judged class");
        assert_eq!(judged.weight().cost, Cost::Finite(cost::ADMIN_DENY));
        let Vertex::NetDst(dc) = g.graph[judged.target()] else {
            panic!("into a class");
        };
        assert_eq!(g.net.admin_deny_priority(dc), Some(4));
        assert!(
            judged
                .weight()
                .evidence
                .iter()
                .any(|e| e.object.kind == "AdminNetworkPolicy" && e.object.name == "no-a")
        );
    }

    #[test]
    fn an_admin_allow_overrides_a_default_deny_and_pass_leaves_it_standing() {
        let deny_all = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: app}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n---\n";
        let allow = |action: &str| {
            format!(
                "{ANP}metadata: {{name: a-to-b}}\nspec: {{priority: 1, subject: {{namespaces: {{}}}}, ingress: [{{name: r, action: {action}, from: [{{namespaces: {{}}}}], ports: [{{portNumber: {{protocol: TCP, port: 8080}}}}]}}]}}\n"
            )
        };
        let g = graph(&format!("{}{deny_all}{}", two_pods(), allow("Allow")));
        assert!(reaches(&g, "Pod/app/a", "Pod/app/b"));
        let g = graph(&format!("{}{deny_all}{}", two_pods(), allow("Pass")));
        assert!(!reaches(&g, "Pod/app/a", "Pod/app/b"));
    }

    #[test]
    fn the_baseline_applies_only_where_no_network_policy_isolates() {
        let banp = format!(
            "{BANP}metadata: {{name: default}}\nspec: {{subject: {{namespaces: {{}}}}, ingress: [{{name: d, action: Deny, from: [{{namespaces: {{}}}}]}}]}}\n---\n"
        );
        let g = graph(&format!("{}{banp}", two_pods()));
        assert!(!reaches(&g, "Pod/app/a", "Pod/app/b"));
        // A NetworkPolicy selecting b decides for it: its rule admits a.
        let np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-a, namespace: app}\nspec: {podSelector: {matchLabels: {app: b}}, ingress: [{from: [{podSelector: {matchLabels: {app: a}}}]}]}\n";
        let g = graph(&format!("{}{banp}{np}", two_pods()));
        assert!(reaches(&g, "Pod/app/a", "Pod/app/b"));
        assert!(!reaches(&g, "Pod/app/b", "Pod/app/a"));
    }

    #[test]
    fn a_cluster_wide_baseline_keeps_the_layer_linear() {
        // The baseline judges every pod no NetworkPolicy isolates (the webs, one class); the
        // dbs' own policies decide for them alone. The sources form one admin group with one
        // edge into the web class, and there are no pair edges.
        let banp = format!(
            "{BANP}metadata: {{name: default}}\nspec: {{subject: {{namespaces: {{}}}}, ingress: [{{name: d, action: Deny, from: [{{namespaces: {{matchLabels: {{team: other}}}}}}]}}]}}\n---\n"
        );
        for n in [4, 8] {
            let g = graph(&format!("{}{banp}", team(n)));
            assert!(reaches(&g, "Pod/ns0/web", &format!("Pod/ns{}/web", n - 1)));
            assert_eq!(admin_groups(&g), 1);
            assert_eq!(count(&g, EdgeKind::PolicyAllows), 0);
            assert_eq!(
                g.graph
                    .edge_references()
                    .filter(|e| e.weight().kind == EdgeKind::AdmitsInto
                        && matches!(g.graph[e.source()], Vertex::NetAdmin(_)))
                    .count(),
                1
            );
            // The dbs still admit the team through their rule's vertices.
            assert_eq!(count(&g, EdgeKind::AdmitsInto), n + 1);
        }
    }

    #[test]
    fn a_cluster_wide_admin_egress_rule_keeps_the_layer_linear() {
        // Every pod's egress is judged (another team's namespaces denied); the sources form
        // one group with an edge into every class, and still send as the team's peer: its
        // verdict lets through all the dbs' rule admits. No pair edges.
        let anp = format!(
            "{ANP}metadata: {{name: sealed}}\nspec: {{priority: 1, subject: {{namespaces: {{}}}}, egress: [{{name: d, action: Deny, to: [{{namespaces: {{matchLabels: {{team: other}}}}}}]}}]}}\n---\n"
        );
        for n in [4, 8] {
            let g = graph(&format!("{}{anp}", team(n)));
            assert!(reaches(&g, "Pod/ns0/web", &format!("Pod/ns{}/db", n - 1)));
            assert!(reaches(&g, "Pod/ns1/db", "Pod/ns0/web"));
            assert_eq!(admin_groups(&g), 1);
            assert_eq!(count(&g, EdgeKind::PolicyAllows), 0);
            assert_eq!(count(&g, EdgeKind::PeerMember), n + 1 + (n + 1));
        }
        // Twin: the rule denies the team itself, so the peer is not passed: pair edges, and
        // nothing reaches a db.
        let g = graph(&format!(
            "{}{}",
            team(4),
            anp.replace("team: other", "team: x")
        ));
        assert!(!reaches(&g, "Pod/ns0/web", "Pod/ns1/db"));
    }

    /// `app/web` and `app/db` (ports 80 and 5432), the NetworkPolicy `np` on db, and `extra`.
    fn web_db(np_rules: &str, extra: &str) -> String {
        let pod = |name: &str| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: app, labels: {{role: {name}}}}}\nspec: {{containers: [{{name: c, image: x, ports: [{{containerPort: 80}}, {{containerPort: 5432}}]}}]}}\n---\n"
            )
        };
        format!(
            "{}{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: np, namespace: app}}\nspec: {{podSelector: {{matchLabels: {{role: db}}}}, ingress: [{np_rules}]}}\n---\n{extra}",
            pod("web"),
            pod("db")
        )
    }

    #[test]
    fn a_source_judged_by_admin_egress_reaches_through_a_named_rule_beside_an_open_one() {
        // db admits any pod on 80 and web on 5432; web's egress to db on 80 is denied by an
        // AdminNetworkPolicy: web reaches db on 5432 only, through the named rule.
        let anp = format!(
            "{ANP}metadata: {{name: p}}\nspec: {{priority: 1, subject: {{pods: {{namespaceSelector: {{}}, podSelector: {{matchLabels: {{role: web}}}}}}}}, egress: [{{name: r, action: Deny, to: [{{pods: {{namespaceSelector: {{}}, podSelector: {{matchLabels: {{role: db}}}}}}}}], ports: [{{portNumber: {{port: 80}}}}]}}]}}\n"
        );
        let rules = "{ports: [{port: 80}]}, {from: [{podSelector: {matchLabels: {role: web}}}], ports: [{port: 5432}]}";
        let g = graph(&web_db(rules, &anp));
        assert!(reaches(&g, "Pod/app/web", "Pod/app/db"));
        // Twin: without the named rule nothing is left.
        let g = graph(&web_db("{ports: [{port: 80}]}", &anp));
        assert!(!reaches(&g, "Pod/app/web", "Pod/app/db"));
    }

    #[test]
    fn a_pod_moving_to_a_new_class_admin_policies_judge_is_re_proved() {
        use crate::relabel::Reprove;
        use rampart_model::{Change, Kind, Object, ParseLimits, Snapshot, parse_source};
        // api becomes a db: a class no pod had, which the admin groups' peers did not count.
        let api = "apiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: app, labels: {role: api}}\nspec: {containers: [{name: c, image: x}]}\n---\n";
        let anp = format!(
            "{api}{ANP}metadata: {{name: p}}\nspec: {{priority: 1, subject: {{pods: {{namespaceSelector: {{}}, podSelector: {{matchLabels: {{role: web}}}}}}}}, egress: [{{name: r, action: Deny, to: [{{pods: {{namespaceSelector: {{}}, podSelector: {{matchLabels: {{role: db}}}}}}}}]}}]}}\n"
        );
        let relabel = |y: &str| {
            let parsed = parse_source("t.yaml", y, &ParseLimits::default());
            assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
            let mut s = Snapshot::from_objects(parsed.objects);
            let options = crate::Options::default();
            let mut a = crate::analyze(&s, &options);
            let mut o = s.get(Kind::Pod, "app", "api").cloned().expect("api");
            let Object::Pod(old) = o.object.clone() else {
                unreachable!()
            };
            o.object
                .meta_mut()
                .labels
                .insert("role".into(), "db".into());
            let Object::Pod(new) = o.object.clone() else {
                unreachable!()
            };
            s.apply(Change::Upsert(Box::new(o)));
            crate::reclass::update_pod(&mut a, &s, &old, &new, &options).map(|_| ())
        };
        let rules = "{from: [{podSelector: {}}]}";
        let np = web_db(rules, &anp).replace("matchLabels: {role: db}}, ingress", "}, ingress");
        assert_eq!(relabel(&np), Err(Reprove::AdminClass));
    }

    /// The class of `app/web`'s pods.
    fn web_class(g: &SecurityGraph) -> ClassId {
        let w = g
            .workloads
            .list
            .iter()
            .find(|w| w.name == "web")
            .expect("web");
        g.net.member_class[w.id.index()][0]
    }

    #[test]
    fn networks_holding_every_address_hold_every_pod_and_part_of_the_internet_is_part() {
        let deny_to = |cidr: &str| {
            format!(
                "{ANP}metadata: {{name: p}}\nspec: {{priority: 2, subject: {{pods: {{namespaceSelector: {{}}, podSelector: {{matchLabels: {{role: web}}}}}}}}, egress: [{{name: r, action: Deny, to: [{{networks: [{cidr}]}}]}}]}}\n---\n"
            )
        };
        let open = "{from: [{podSelector: {}}]}";
        // 0.0.0.0/0 holds every pod's address: web reaches nothing, in or out of the cluster
        // (with ::/0, which holds the IPv6 internet).
        let g = graph(&web_db(open, &deny_to("0.0.0.0/0, \"::/0\"")));
        assert!(!reaches(&g, "Pod/app/web", "Pod/app/db"));
        let web = web_class(&g);
        assert!(g.net.egress_to_external(web, None).is_empty());
        // A narrower range holds no pod (their addresses are not modelled).
        let g = graph(&web_db(open, &deny_to("10.0.0.0/8")));
        assert!(reaches(&g, "Pod/app/web", "Pod/app/db"));
        // Passing part of the internet before denying all of it: that part may still be reached.
        let pass = format!(
            "{ANP}metadata: {{name: first}}\nspec: {{priority: 1, subject: {{pods: {{namespaceSelector: {{}}, podSelector: {{matchLabels: {{role: web}}}}}}}}, egress: [{{name: r, action: Pass, to: [{{networks: [0.0.0.0/1]}}]}}]}}\n---\n"
        );
        let g = graph(&web_db(
            open,
            &format!("{pass}{}", deny_to("0.0.0.0/0, \"::/0\"")),
        ));
        let web = web_class(&g);
        assert!(!g.net.egress_to_external(web, None).is_empty());
    }

    mod differential {
        use super::*;
        use proptest::prelude::*;

        fn selector(i: usize) -> &'static str {
            [
                "{}",
                "{matchLabels: {role: web}}",
                "{matchLabels: {role: db}}",
                "{matchLabels: {role: cache}}",
            ][i % 4]
        }

        /// An egress peer: pods, or `networks` holding every address (every pod too) or part.
        fn admin_egress_peer(kind: usize, ns: usize, pods: usize) -> String {
            match kind % 5 {
                3 => "{networks: [0.0.0.0/0]}".into(),
                4 => "{networks: [10.0.0.0/8]}".into(),
                _ => admin_pods(kind, ns, pods),
            }
        }

        /// A NetworkPolicy rule's ports: every port, or one the pods listen on.
        fn np_ports(i: usize) -> &'static str {
            ["", ", ports: [{port: 8080}]", ", ports: [{port: 5432}]"][i % 3]
        }

        fn ns_selector(i: usize) -> &'static str {
            ["{}", "{matchLabels: {team: a}}", "{matchLabels: {team: b}}"][i % 3]
        }

        /// `namespaces` or `pods` peer/subject from two indices.
        fn admin_pods(kind: usize, ns: usize, pods: usize) -> String {
            if kind.is_multiple_of(2) {
                format!("{{namespaces: {}}}", ns_selector(ns))
            } else {
                format!(
                    "{{pods: {{namespaceSelector: {}, podSelector: {}}}}}",
                    ns_selector(ns),
                    selector(pods)
                )
            }
        }

        fn ports(i: usize) -> &'static str {
            [
                "",
                ", ports: [{portNumber: {protocol: TCP, port: 8080}}]",
                ", ports: [{namedPort: http}]",
                ", ports: [{portRange: {protocol: TCP, start: 1, end: 9000}}]",
            ][i % 4]
        }

        /// Three namespaces (two teams), a web and a db pod in each, NetworkPolicies and admin
        /// policies picked by `picks`.
        fn cluster(picks: &[usize]) -> String {
            let mut y = String::new();
            for (i, team) in ["a", "a", "b"].iter().enumerate() {
                y.push_str(&format!(
                    "apiVersion: v1\nkind: Namespace\nmetadata: {{name: ns{i}, labels: {{team: {team}}}}}\n---\n"
                ));
                for role in ["web", "db"] {
                    y.push_str(&format!(
                        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {role}, namespace: ns{i}, labels: {{role: {role}}}}}\nspec: {{containers: [{{name: c, image: x, ports: [{{containerPort: 8080, name: http}}, {{containerPort: 5432}}]}}]}}\n---\n"
                    ));
                }
            }
            let mut at = picks.iter().copied().cycle();
            let mut next = move || at.next().unwrap_or(0);
            for n in 0..next() % 3 {
                let ns = next() % 3;
                let dir = if next().is_multiple_of(2) {
                    "Ingress"
                } else {
                    "Egress"
                };
                let rule = if dir == "Ingress" {
                    "ingress"
                } else {
                    "egress"
                };
                let peers = match next() % 3 {
                    0 => String::new(),
                    1 => format!("from: [{{podSelector: {}}}]", selector(next())),
                    _ => format!("from: [{{namespaceSelector: {}}}]", ns_selector(next())),
                }
                .replace("from:", if dir == "Ingress" { "from:" } else { "to:" });
                // Sometimes a second rule: one naming no peer, on one port.
                let second = if next().is_multiple_of(2) {
                    format!(", {{ports: [{{port: {}}}]}}", [8080, 5432][next() % 2])
                } else {
                    String::new()
                };
                let ports = np_ports(next());
                let peers = if peers.is_empty() {
                    ports.trim_start_matches(", ").to_string()
                } else {
                    format!("{peers}{ports}")
                };
                y.push_str(&format!(
                    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: np{n}, namespace: ns{ns}}}\nspec: {{podSelector: {}, policyTypes: [{dir}], {rule}: [{{{peers}}}{second}]}}\n---\n",
                    selector(next())
                ));
            }
            for n in 0..next() % 4 {
                let baseline = n == 3;
                let action = if baseline {
                    ["Allow", "Deny"][next() % 2]
                } else {
                    ["Allow", "Deny", "Pass"][next() % 3]
                };
                let (rule, peer_key) = if next().is_multiple_of(2) {
                    ("ingress", "from")
                } else {
                    ("egress", "to")
                };
                let subject = admin_pods(next(), next(), next());
                let peer = if rule == "egress" {
                    admin_egress_peer(next(), next(), next())
                } else {
                    admin_pods(next(), next(), next())
                };
                let ports = ports(next());
                let head = if baseline {
                    format!("{BANP}metadata: {{name: default}}\nspec: {{")
                } else {
                    format!(
                        "{ANP}metadata: {{name: anp{n}}}\nspec: {{priority: {}, ",
                        next() % 3
                    )
                };
                y.push_str(&format!(
                    "{head}subject: {subject}, {rule}: [{{name: r, action: {action}, {peer_key}: [{peer}]{ports}}}]}}\n---\n"
                ));
            }
            y
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            /// What the layer's plumbing (hub, peers, rules, pair edges) lets a workload reach is
            /// exactly what the model allows between their classes on a port the destination
            /// listens on.
            #[test]
            fn the_layer_reaches_exactly_what_the_model_allows(picks in proptest::collection::vec(0usize..12, 24..48)) {
                let y = cluster(&picks);
                let g = graph(&y);
                let net = &g.net;
                let names: Vec<String> = g.workloads.list.iter().map(|w| format!("Pod/{}/{}", w.namespace, w.name)).collect();
                for (a, wa) in g.workloads.list.iter().enumerate() {
                    for (b, wb) in g.workloads.list.iter().enumerate() {
                        let want = net.member_class[wa.id.index()].iter().any(|&ca| {
                            net.member_class[wb.id.index()].iter().any(|&cb| {
                                net.allowed(ca, cb).overlaps(&net.class(cb).listening())
                            })
                        });
                        prop_assert_eq!(reaches(&g, &names[a], &names[b]), want, "{} → {}\n{}", names[a], names[b], y);
                    }
                }
            }

            /// A pod relabelled (its class patched in, not built again) reaches exactly what
            /// it and every other pod reach in a fresh build.
            #[test]
            fn a_patched_layer_reaches_what_a_fresh_build_does(
                picks in proptest::collection::vec(0usize..12, 24..48),
                pod in 0usize..6,
                role in 0usize..3,
            ) {
                use rampart_model::{Change, Kind, Object, ParseLimits, Snapshot, parse_source};
                let y = cluster(&picks);
                let parsed = parse_source("t.yaml", &y, &ParseLimits::default());
                let mut s = Snapshot::from_objects(parsed.objects);
                let options = crate::Options::default();
                let mut a = crate::analyze(&s, &options);
                let (ns, name) = (format!("ns{}", pod / 2), ["web", "db"][pod % 2]);
                let mut o = s.get(Kind::Pod, &ns, name).cloned().expect("the pod");
                let Object::Pod(old) = o.object.clone() else { unreachable!() };
                o.object.meta_mut().labels.insert("role".into(), ["web", "db", "cache"][role].into());
                let Object::Pod(new) = o.object.clone() else { unreachable!() };
                s.apply(Change::Upsert(Box::new(o)));
                if crate::reclass::update_pod(&mut a, &s, &old, &new, &options).is_err() {
                    return Ok(());
                }
                let fresh = crate::analyze(&s, &options);
                let (g, f) = (&a.graph, &fresh.graph);
                let names: Vec<String> = f.workloads.list.iter().map(|w| format!("Pod/{}/{}", w.namespace, w.name)).collect();
                for x in &names {
                    for z in &names {
                        prop_assert_eq!(reaches(g, x, z), reaches(f, x, z), "{} → {} after {}/{} role={}\n{}", x, z, ns, name, role, y);
                    }
                }
            }
        }
    }
}
