//! The minimal cut: the least disruptive set of changes that breaks every proven chain.
//!
//! A minimum-cost s–t cut (max-flow, Dinic) from `Internet` to a super-sink fed by every jewel,
//! over the edges that lie on some Internet → jewel path. Costs come from [`crate::cost`];
//! class-level network edges cost the sum of what realising them would touch. Every cut edge is
//! turned into [`Fix`]es; network fixes become NetworkPolicies, merged per workload, and are
//! verified by re-running the NetworkPolicy analysis with them applied.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use petgraph::Direction;
use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use rampart_model::objects::NetworkPolicy;
use rampart_model::{Kind, Labels, ObjectKey, Snapshot, Workload, WorkloadId};

use crate::build::{SecurityGraph, has_stable_labels, stable_labels};
use crate::cost;
use crate::fix::{Fix, NetIntent, WorkloadKey, network_policies};
use crate::flow::{Flow, INF, Network};
use crate::model::{Cost, EdgeKind, EndpointKind, Vertex};
use crate::netpol::{ClassId, JudgedCut, NetModel};
use crate::ports::PortSet;
use crate::prove::{ChainId, Proof, stable_id};

/// One cut edge and how to realise it.
#[derive(Debug, Clone)]
pub struct Cut {
    /// Stable id.
    pub id: String,
    /// The edge cut.
    pub edge: EdgeIndex,
    /// Further edges cut by the same fixes (cuts realised by the very same NetworkPolicies,
    /// merged into this one).
    pub also: Vec<EdgeIndex>,
    /// Its relation.
    pub kind: EdgeKind,
    /// Where the cut edge starts and ends, in words.
    pub from: String,
    /// End of the edge.
    pub to: String,
    /// Disruption cost.
    pub cost: u32,
    /// Realised by live, reversible NetworkPolicies that rampart verified; otherwise a durable
    /// configuration change to propose.
    pub live: bool,
    /// The changes.
    pub fixes: Vec<Fix>,
    /// The chains it breaks, sorted: every listed chain that, with the rest of the cut in
    /// place, still connects only across this edge, every listed chain whose path crosses it,
    /// and at most [`MAX_UNLISTED_BREAKS`] of the unlisted ones that connect only across it.
    /// Never empty for a cut of a minimal plan.
    pub breaks: Vec<ChainId>,
    /// Chains (entry → jewel pairs) it breaks beyond those named in `breaks`.
    pub breaks_unnamed: usize,
    /// Anything worth knowing (side effects, why a network cut is not live).
    pub notes: Vec<String>,
}

/// The plan: the cuts, their total cost, and per chain its cheapest single edge.
#[derive(Debug, Clone, Default)]
pub struct CutPlan {
    /// Cuts, cheapest first.
    pub cuts: Vec<Cut>,
    /// Sum of the cut costs (the max-flow value).
    pub total_cost: u64,
    /// Per chain id: its cheapest finite edge and that edge's cost.
    pub cheapest: BTreeMap<String, (EdgeIndex, u32)>,
    /// Vertices on some Internet → jewel path.
    pub relevant_vertices: usize,
    /// What the cut of a patched graph starts from (no part of what the plan says).
    pub state: Option<CutState>,
}

/// What one cut leaves for the next, after a patch: its maximum flow, the network model the
/// live cuts were verified against (with the NetworkPolicies the plan added) and what each
/// claim came to, and per workload the facts its costs read.
#[derive(Clone, Default)]
pub struct CutState {
    flow: Flow,
    verified: Option<Verified>,
    /// Per workload: whether it has stable labels, whether a Service selects it.
    facts: Vec<(bool, bool)>,
    /// Workloads moved since (their facts and claims are worked out again).
    moved: Vec<WorkloadId>,
    /// What each cut edge broke, by its ends: a patch that leaves an edge's entries and jewels
    /// as they were names its chains again without hashing them.
    broken: BrokenByEnds,
    /// The flow network those were found in: when a patch leaves it as it was (it changed
    /// edges no chain can use), the cut breaks what it broke.
    network: Vec<(u32, u32, u64)>,
}

/// What each cut edge broke, by the edge's tail and head.
type BrokenByEnds = HashMap<(NodeIndex, NodeIndex), Broken>;

/// The chains one cut edge breaks ([`breaks_of`]): the entries reaching its tail and the jewels
/// its head reaches, the ids of the chains they make (at most [`MAX_UNLISTED_BREAKS`]) and how
/// many more.
#[derive(Clone, Debug, Default)]
struct Broken {
    entries: Vec<NodeIndex>,
    jewels: Vec<NodeIndex>,
    ids: Vec<ChainId>,
    more: usize,
}

/// The verification model and what each claim came to.
#[derive(Clone)]
struct Verified {
    policies: Vec<serde_json::Value>,
    net: NetModel,
    outcomes: HashMap<Claim, Result<(), String>>,
}

impl CutState {
    /// What the cut of a graph built again from the same network model and workloads keeps:
    /// the verification model and what each claim came to, which read those two alone, and the
    /// workloads moved since (a swap that moved one into another class in the verification
    /// model ran no cut: claims naming it are checked again). The flow, the facts and what was
    /// broken are the old graph's: a new graph numbers its vertices afresh, and its Services
    /// may differ.
    pub(crate) fn verification_only(self) -> CutState {
        CutState {
            verified: self.verified,
            moved: self.moved,
            ..CutState::default()
        }
    }

    /// Moves a workload's pod groups to their classes in the verification model, as
    /// [`NetModel::reclass`] does for the analysis's own (one pod's labels changed).
    pub(crate) fn reclass(&mut self, w: &Workload) {
        if let Some(v) = &mut self.verified {
            v.net.reclass(w);
        }
        if !self.moved.contains(&w.id) {
            self.moved.push(w.id);
        }
    }
}

impl std::fmt::Debug for CutState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CutState")
            .field(
                "policies",
                &self.verified.as_ref().map_or(0, |v| v.policies.len()),
            )
            .finish_non_exhaustive()
    }
}

/// Most ids of unlisted chains one cut names in `breaks`. The listed chains it breaks are all
/// named; of the others, entries × jewels that can number millions in a big cluster, a few
/// name the kind and the rest are counted (`breaks_unnamed`): naming up to 10,000 a cut made a
/// 100k-pod report 5 million ids long, growing with the square of the cluster.
pub const MAX_UNLISTED_BREAKS: usize = 100;

/// Live cuts realised by the very same NetworkPolicies (two cut edges on one workload share
/// its merged policy) become one cut: one action, one Mitigation owning one object. The
/// cheapest keeps its id; the others' edges, chains and costs fold into it. `cuts` is sorted
/// cheapest first.
fn merge_identical(cuts: Vec<Cut>) -> Vec<Cut> {
    let mut out: Vec<Cut> = Vec::with_capacity(cuts.len());
    let mut by_fixes: HashMap<String, usize> = HashMap::new();
    for cut in cuts {
        let manifests: Option<Vec<String>> = (cut.live && !cut.fixes.is_empty())
            .then(|| {
                cut.fixes
                    .iter()
                    .map(|f| f.manifest().map(|m| m.to_string()))
                    .collect()
            })
            .flatten();
        let Some(mut key) = manifests else {
            out.push(cut);
            continue;
        };
        key.sort();
        let key = key.join("\n");
        match by_fixes.get(&key) {
            Some(&i) => {
                let kept = &mut out[i];
                kept.also.push(cut.edge);
                kept.also.extend(cut.also);
                kept.cost = kept.cost.saturating_add(cut.cost);
                kept.notes.push(format!(
                    "also cuts {} → {} ({}, realised by the same NetworkPolicies)",
                    cut.from, cut.to, cut.id
                ));
                let mut breaks: BTreeSet<ChainId> = kept.breaks.drain(..).collect();
                breaks.extend(cut.breaks);
                kept.breaks = breaks.into_iter().collect();
                kept.breaks_unnamed = kept.breaks_unnamed.saturating_add(cut.breaks_unnamed);
            }
            None => {
                by_fixes.insert(key, out.len());
                out.push(cut);
            }
        }
    }
    out
}

/// The chains each cut edge breaks: the entry → jewel pairs that, with every other edge of the
/// cut removed, still connect — so every path they have left crosses this edge (a minimal cut
/// leaves each of its edges at least one). Those are the entries reaching the edge's tail and
/// the jewels its head reaches in the graph without the cut's edges (a path that crossed the
/// edge itself to reach its tail would have reached it before). Reachability from every tail
/// and head is propagated at once, as bit sets, a batch of sources at a time.
fn breaks_of(
    g: &SecurityGraph,
    edges: &[EdgeIndex],
    relevant: &[bool],
    before: &BrokenByEnds,
    same_network: bool,
) -> (Vec<(Vec<ChainId>, usize)>, BrokenByEnds) {
    // The same network cut at the same places breaks the same chains: no search.
    let ends: Vec<(NodeIndex, NodeIndex)> = edges
        .iter()
        .filter_map(|e| g.graph.edge_endpoints(*e))
        .collect();
    if same_network && ends.len() == edges.len() && ends.iter().all(|k| before.contains_key(k)) {
        let out = ends
            .iter()
            .map(|k| (before[k].ids.clone(), before[k].more))
            .collect();
        let kept = ends.iter().map(|k| (*k, before[k].clone())).collect();
        return (out, kept);
    }
    let cut: HashSet<EdgeIndex> = edges.iter().copied().collect();
    let mut entries: Vec<NodeIndex> = g
        .graph
        .edges_directed(g.internet, Direction::Outgoing)
        .map(|e| e.target())
        .filter(|e| relevant[e.index()])
        .collect();
    entries.sort();
    entries.dedup();
    // Hashed when first needed: most cut edges break what they broke before a patch.
    let mut entry_hash: Vec<Option<crate::prove::Fnv>> = vec![None; entries.len()];
    let mut jewel_names: Vec<Option<String>> = vec![None; g.jewels.len()];
    let mut out = Vec::with_capacity(edges.len());
    let mut now: BrokenByEnds = HashMap::new();
    // A batch of cut edges at a time: its reachability is dropped before the next.
    for chunk in edges.chunks(BATCH) {
        let ends: Vec<(NodeIndex, NodeIndex)> = chunk
            .iter()
            .map(|e| {
                g.graph
                    .edge_endpoints(*e)
                    .unwrap_or((g.internet, g.internet))
            })
            .collect();
        let tails: Vec<NodeIndex> = ends.iter().map(|(a, _)| *a).collect();
        let heads: Vec<NodeIndex> = ends.iter().map(|(_, b)| *b).collect();
        // Which tails each entry reaches, which heads reach each jewel.
        let from_entries = Reach::new(g, &tails, Direction::Incoming, &cut, relevant);
        let to_jewels = Reach::new(g, &heads, Direction::Outgoing, &cut, relevant);
        for (i, &(a, b)) in ends.iter().enumerate() {
            if let Some(done) = now.get(&(a, b)) {
                out.push((done.ids.clone(), done.more));
                continue;
            }
            let jewels: Vec<usize> = (0..g.jewels.len())
                .filter(|&k| to_jewels.has(g.jewels[k], i))
                .collect();
            let reaching: Vec<usize> = (0..entries.len())
                .filter(|&ei| {
                    if a == g.internet {
                        entries[ei] == b
                    } else {
                        from_entries.has(entries[ei], i)
                    }
                })
                .collect();
            let mut broken = Broken {
                entries: reaching.iter().map(|&ei| entries[ei]).collect(),
                jewels: {
                    // Sorted: the listed chains it separates are looked up in them.
                    let mut j: Vec<NodeIndex> = jewels.iter().map(|&k| g.jewels[k]).collect();
                    j.sort_unstable();
                    j
                },
                ..Broken::default()
            };
            match before.get(&(a, b)) {
                Some(old) if old.entries == broken.entries && old.jewels == broken.jewels => {
                    broken.ids.clone_from(&old.ids);
                    broken.more = old.more;
                }
                _ => {
                    for &ei in &reaching {
                        let e = entries[ei];
                        let h =
                            *entry_hash[ei].get_or_insert_with(|| crate::prove::entry_hash(g, e));
                        let mut to = jewels.iter().filter(|&&k| g.jewels[k] != e);
                        let room = MAX_UNLISTED_BREAKS.saturating_sub(broken.ids.len());
                        for &k in to.by_ref().take(room) {
                            let name = jewel_names[k]
                                .get_or_insert_with(|| crate::prove::jewel_name(g, g.jewels[k]));
                            broken.ids.push(h.part(name).chain());
                        }
                        // Past the cap, only counted.
                        broken.more += to.count();
                    }
                    broken.ids.sort_unstable();
                    broken.ids.dedup();
                }
            }
            out.push((broken.ids.clone(), broken.more));
            now.insert((a, b), broken);
        }
    }
    (out, now)
}

/// Multi-source reachability over the graph without some edges, through relevant vertices:
/// for each vertex, which sources it is reached from walking `dir` (`Incoming`: the vertices
/// that reach the source). At most [`BATCH`] sources: [`WORDS`] words per vertex.
struct Reach {
    bits: Vec<u64>,
}

const BATCH: usize = 256;
const WORDS: usize = BATCH / 64;

impl Reach {
    fn new(
        g: &SecurityGraph,
        sources: &[NodeIndex],
        dir: Direction,
        skip: &HashSet<EdgeIndex>,
        relevant: &[bool],
    ) -> Reach {
        let n = g.graph.node_count();
        let mut bits = vec![0u64; n * WORDS];
        let mut queued = vec![false; n];
        let mut q: VecDeque<NodeIndex> = VecDeque::new();
        for (i, s) in sources.iter().take(BATCH).enumerate() {
            bits[s.index() * WORDS + i / 64] |= 1 << (i % 64);
            if !queued[s.index()] {
                queued[s.index()] = true;
                q.push_back(*s);
            }
        }
        // A source's bit flows to every vertex reached from it walking `dir`; a vertex is
        // visited again only when it gains bits.
        while let Some(u) = q.pop_front() {
            queued[u.index()] = false;
            let mut mine = [0u64; WORDS];
            mine.copy_from_slice(&bits[u.index() * WORDS..(u.index() + 1) * WORDS]);
            for e in g.graph.edges_directed(u, dir) {
                let v = if dir == Direction::Outgoing {
                    e.target()
                } else {
                    e.source()
                };
                if !relevant[v.index()] || skip.contains(&e.id()) {
                    continue;
                }
                let theirs = &mut bits[v.index() * WORDS..(v.index() + 1) * WORDS];
                let mut grew = false;
                for w in 0..WORDS {
                    let merged = theirs[w] | mine[w];
                    grew |= merged != theirs[w];
                    theirs[w] = merged;
                }
                if grew && !queued[v.index()] {
                    queued[v.index()] = true;
                    q.push_back(v);
                }
            }
        }
        Reach { bits }
    }

    /// Whether source `i` reaches vertex `v`.
    fn has(&self, v: NodeIndex, i: usize) -> bool {
        self.bits
            .get(v.index() * WORDS + i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

fn reach(g: &SecurityGraph, from: &[NodeIndex], dir: Direction) -> Vec<bool> {
    let mut seen = vec![false; g.graph.node_count()];
    let mut q: VecDeque<NodeIndex> = VecDeque::new();
    for &f in from {
        if !seen[f.index()] {
            seen[f.index()] = true;
            q.push_back(f);
        }
    }
    while let Some(u) = q.pop_front() {
        for e in g.graph.edges_directed(u, dir) {
            let v = if dir == Direction::Outgoing {
                e.target()
            } else {
                e.source()
            };
            if !seen[v.index()] {
                seen[v.index()] = true;
                q.push_back(v);
            }
        }
    }
    seen
}

/// The non-empty Service selectors of each namespace (the workloads they select have declared
/// clients).
fn service_selectors(snapshot: &Snapshot) -> HashMap<&str, Vec<&Labels>> {
    let mut out: HashMap<&str, Vec<&Labels>> = HashMap::new();
    for (_, s) in snapshot.services() {
        if let Some(sel) = s.spec.selector.as_ref().filter(|s| !s.is_empty()) {
            out.entry(s.metadata.namespace.as_str())
                .or_default()
                .push(sel);
        }
    }
    out
}

/// The workloads with pods in a class, each once, among those `mask` holds (members are
/// sorted by workload).
fn class_workloads<'a>(
    g: &'a SecurityGraph,
    class: crate::netpol::ClassId,
    mask: &'a [bool],
) -> impl Iterator<Item = &'a Workload> + 'a {
    let members = &g.net.class(class).members;
    members
        .iter()
        .enumerate()
        .filter(move |(i, (w, _))| *i == 0 || members[*i - 1].0 != *w)
        .map(|(_, (w, _))| &g.workloads.list[w.index()])
        .filter(move |w| mask[g.workload_ix[w.id.index()].index()])
}

/// The workloads (among `mask`) that send as the peer set at vertex `peer`: the members of
/// the classes with an edge into it, each once, in workload order.
fn peer_workloads<'a>(
    g: &'a SecurityGraph,
    peer: NodeIndex,
    mask: &'a [bool],
) -> Vec<&'a Workload> {
    let mut out: Vec<&Workload> = g
        .graph
        .neighbors_directed(peer, Direction::Incoming)
        .filter(|v| mask[v.index()])
        .filter_map(|v| match g.graph[v] {
            Vertex::NetSrc(c) => Some(c),
            _ => None,
        })
        .flat_map(|c| class_workloads(g, c, mask))
        .collect();
    out.sort_by_key(|w| w.id);
    out.dedup_by_key(|w| w.id);
    out
}

/// A Cilium deny rule's peer field naming the pods of `ws` (their stable labels, in their
/// namespace); `None` when one has no stable labels.
fn endpoints_rule(ws: &[&Workload], ingress: bool) -> Option<serde_json::Value> {
    let mut selectors = Vec::new();
    for w in ws {
        if !has_stable_labels(w) {
            return None;
        }
        let mut labels = serde_json::Map::new();
        for (k, v) in &stable_labels(w) {
            labels.insert(k.clone(), v.clone().into());
        }
        labels.insert(
            "k8s:io.kubernetes.pod.namespace".into(),
            w.namespace.clone().into(),
        );
        let s = serde_json::json!({ "matchLabels": labels });
        if !selectors.contains(&s) {
            selectors.push(s);
        }
    }
    let key = if ingress {
        "fromEndpoints"
    } else {
        "toEndpoints"
    };
    Some(serde_json::json!({ key: selectors }))
}

/// Where a Cilium policy admits a step, its cut in that layer: a CiliumNetworkPolicy deny rule
/// (`rule`: what it names) for each of `subjects`, on `ports`. Proposed, never applied.
fn propose_cilium_deny(
    subjects: &[&Workload],
    ingress: bool,
    rule: Option<serde_json::Value>,
    ports: Option<&PortSet>,
    what: &str,
    cut: &mut Cut,
) {
    let Some(rule) = rule else {
        cut.notes.push(format!(
            "a Cilium policy admits this step; a workload it connects has no stable labels for a deny rule to name ({what})"
        ));
        return;
    };
    per_workload(subjects, "a CiliumNetworkPolicy", cut, |w, labels| {
        Fix::AddCiliumPolicy(crate::fix::cilium_deny(
            w,
            labels,
            ingress,
            rule.clone(),
            ports,
            what,
        ))
    });
    cut.notes.push("a Cilium policy admits this step: the cut is a CiliumNetworkPolicy deny rule (a deny wins over every allow, NetworkPolicies' too), proposed for review: rampart does not apply Cilium objects".into());
}

/// Where Istio judges a step, its cut in that layer: an AuthorizationPolicy DENY on each of
/// `dsts` naming the identities of `srcs` (and every unauthenticated source, when one of them
/// is outside the mesh), on `ports`. Proposed, never applied.
fn propose_istio_deny(
    g: &SecurityGraph,
    srcs: &[&Workload],
    dsts: &[&Workload],
    ports: Option<&PortSet>,
    cut: &mut Cut,
) {
    // Nothing to name (the ingress controller's step), nothing on TCP (the mesh judges TCP
    // alone), or a destination in the root namespace (a DENY there applies mesh-wide): a
    // DENY would cut more than the step, or nothing.
    if srcs.is_empty() {
        cut.notes.push("Istio judges this step from a source rampart cannot name (the ingress controller): no DENY is proposed".into());
        return;
    }
    if ports.is_some_and(|p| p.ranges(crate::ports::Protocol::Tcp).is_empty()) {
        cut.notes
            .push("the step is not TCP, which Istio does not judge: no DENY is proposed".into());
        return;
    }
    if dsts
        .iter()
        .any(|w| w.namespace == crate::netpol::mesh::ISTIO_ROOT)
    {
        cut.notes.push(format!(
            "a DENY in {} would apply mesh-wide: none is proposed",
            crate::netpol::mesh::ISTIO_ROOT
        ));
        return;
    }
    let mut principals: Vec<String> = Vec::new();
    let mut unauthenticated = false;
    for w in srcs {
        let meshed = g.net.member_class[w.id.index()].iter().all(|c| {
            g.net
                .mesh
                .as_ref()
                .is_some_and(|m| m.is_istio(g.net.class(*c)))
        });
        if meshed {
            principals.push(format!(
                "cluster.local/ns/{}/sa/{}",
                w.namespace,
                w.template.spec.service_account()
            ));
        } else {
            unauthenticated = true;
        }
    }
    principals.sort();
    principals.dedup();
    let what = format!("DENY: {} from {}", join_names(dsts), join_names(srcs));
    per_workload(dsts, "an AuthorizationPolicy", cut, |w, labels| {
        Fix::AddIstioPolicy(crate::fix::istio_deny(
            w,
            labels,
            &principals,
            unauthenticated,
            ports,
            &what,
        ))
    });
    if unauthenticated {
        cut.notes.push("a source outside the mesh has no identity: the DENY names every source without one (notPrincipals: [\"*\"])".into());
    }
    cut.notes.push("Istio judges this step: the cut is an AuthorizationPolicy DENY (a DENY wins over every ALLOW), proposed for review: rampart does not apply mesh objects".into());
}

/// Whether admin policies or a mesh judge what class `sc` sends class `dc` (a pair edge's
/// NetworkPolicy rules then do not decide alone).
fn judged(g: &SecurityGraph, sc: ClassId, dc: ClassId) -> bool {
    g.net.class(sc).admin_egress() || g.net.class(dc).admin_ingress()
}

/// The layer a step from vertex `a` into `b` that admin policies or a mesh judge is cut in
/// ([`NetModel::judged_cut`]): an admin group's (or its peer's) step, or a judged pair edge;
/// `None` for any other edge or where no layer can cut it.
fn judged_layer(g: &SecurityGraph, a: NodeIndex, b: NodeIndex) -> Option<JudgedCut> {
    let Vertex::NetDst(dc) = g.graph[b] else {
        return None;
    };
    let egress_judged = match g.graph[a] {
        Vertex::NetAdmin(group) | Vertex::NetAdminPeer { group, .. } => g
            .admin_groups
            .groups
            .get(group as usize)
            .is_some_and(|&(like, _)| g.net.class(like).admin_egress_only()),
        Vertex::NetSrc(sc) if judged(g, sc, dc) => g.net.class(sc).admin_egress(),
        _ => return None,
    };
    g.net.judged_cut(dc, egress_judged)
}

/// A step that admin policies or a mesh judge, cut in the layer `judged` names
/// ([`NetModel::judged_cut`]): the live cut's claim, for an AdminNetworkPolicy Deny every
/// workload it names can be named in.
fn judged_deny(
    g: &SecurityGraph,
    judged: Option<JudgedCut>,
    srcs: &[&Workload],
    dsts: &[&Workload],
    ports: Option<&PortSet>,
    cut: &mut Cut,
) -> Option<Claim> {
    match judged? {
        JudgedCut::Istio => {
            propose_istio_deny(g, srcs, dsts, ports, cut);
            None
        }
        JudgedCut::AdminDeny { priority } => admin_deny(srcs, dsts, priority, cut),
    }
}

/// Where admin policies judge a step, its cut in their layer: an AdminNetworkPolicy Deny, at
/// `priority`, of everything `srcs` send each of `dsts` (every port: NetworkPolicies cannot
/// re-allow it, and the claim is that the sources reach the pods no longer). Live — the
/// `adminnetworkpolicy` actuator applies it — when every workload it names has stable labels.
fn admin_deny(
    srcs: &[&Workload],
    dsts: &[&Workload],
    priority: u32,
    cut: &mut Cut,
) -> Option<Claim> {
    if srcs.is_empty() || dsts.is_empty() {
        cut.notes.push("admin policies judge this step from a source an AdminNetworkPolicy cannot name (the ingress controller): no Deny is proposed".into());
        return None;
    }
    let mut sources: Vec<(String, Labels)> = Vec::new();
    for w in srcs {
        if !has_stable_labels(w) {
            cut.notes.push(format!(
                "{} has no stable labels for an AdminNetworkPolicy peer to name: no Deny is proposed",
                w.display()
            ));
            return None;
        }
        let s = (w.namespace.clone(), stable_labels(w));
        if !sources.contains(&s) {
            sources.push(s);
        }
    }
    let what = format!("Deny: {} from {}", join_names(dsts), join_names(srcs));
    let before = cut.fixes.len();
    per_workload(dsts, "an AdminNetworkPolicy", cut, |w, labels| {
        Fix::AddAdminNetworkPolicy(crate::fix::admin_deny(w, labels, &sources, priority, &what))
    });
    cut.notes.push(format!("admin policies judge this step: the cut is an AdminNetworkPolicy Deny at priority {priority}, ahead of every AdminNetworkPolicy judging the destination (a NetworkPolicy cannot re-allow it); the adminnetworkpolicy actuator applies it"));
    (cut.fixes.len() - before == dsts.len()).then(|| {
        cut.live = true;
        Claim::Pairs {
            srcs: srcs.iter().map(|w| key(w)).collect(),
            dsts: dsts.iter().map(|w| key(w)).collect(),
        }
    })
}

/// A proposed object per workload of `subjects`, selecting it by its stable labels (`object`
/// names the kind in the note for one without any).
fn per_workload(
    subjects: &[&Workload],
    object: &str,
    cut: &mut Cut,
    fix: impl Fn(&Workload, &Labels) -> Fix,
) {
    for w in subjects {
        if has_stable_labels(w) {
            cut.fixes.push(fix(w, &stable_labels(w)));
        } else {
            cut.notes.push(format!(
                "{} has no stable labels for {object} to select",
                w.display()
            ));
        }
    }
}

/// The workloads behind the classes an ingress rule of each of `rules`' policies admits into.
fn rule_destinations<'a>(
    g: &'a SecurityGraph,
    rules: &[crate::netpol::RuleRef],
    bwd: &'a [bool],
) -> Vec<&'a Workload> {
    let mut out: Vec<&Workload> = Vec::new();
    for r in rules {
        for &c in g.net.policy_classes(r.policy) {
            for w in class_workloads(g, c, bwd) {
                if !out.iter().any(|x| x.id == w.id) {
                    out.push(w);
                }
            }
        }
    }
    out
}

/// Realises a cut policy edge, a durable change: each NetworkPolicy rule admitting the step
/// excludes the chain's sources (ingress) or destinations (egress) by a label they share; a
/// Cilium rule gets a deny beside it (once per direction).
fn narrow_rules(
    g: &SecurityGraph,
    rules: &[crate::netpol::RuleRef],
    srcs: &[&Workload],
    dsts: &[&Workload],
    ports: Option<&PortSet>,
    cut: &mut Cut,
) {
    // One deny breaks the step: on the receiving side when a Cilium ingress rule admits it
    // (it guards the destination), else on the sending side.
    let cilium = |ingress: bool| {
        rules
            .iter()
            .any(|r| r.ingress == ingress && !g.net.narrowable(r.policy))
    };
    if cilium(true) || cilium(false) {
        let ingress = cilium(true);
        let (subjects, peers) = if ingress { (dsts, srcs) } else { (srcs, dsts) };
        let what = if ingress {
            format!(
                "ingressDeny: {} from {}",
                join_names(subjects),
                join_names(peers)
            )
        } else {
            format!(
                "egressDeny: {} to {}",
                join_names(subjects),
                join_names(peers)
            )
        };
        propose_cilium_deny(
            subjects,
            ingress,
            endpoints_rule(peers, ingress),
            ports,
            &what,
            cut,
        );
    }
    for r in rules {
        let p = &g.net.policies[r.policy as usize];
        if !p.is_network_policy() {
            continue;
        }
        let excluded = if r.ingress {
            exclusion_label(srcs)
        } else {
            exclusion_label(dsts)
        };
        match excluded {
            Some((key, values)) => cut.fixes.push(Fix::ExcludeFromRule {
                namespace: p.namespace.clone(),
                name: p.name.clone(),
                ingress: r.ingress,
                rule: r.rule,
                key,
                values,
            }),
            None => cut.notes.push(format!(
                "no common label to exclude in NetworkPolicy {}/{}",
                p.namespace, p.name
            )),
        }
    }
}

/// Workloads' names, joined.
fn join_names(ws: &[&Workload]) -> String {
    ws.iter()
        .map(|w| w.display())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The workloads an ingress rule admits the pods of source vertex `src` into (through the
/// peers that select them): with selectable ones, then those without stable labels (named).
pub(crate) fn declared_destinations(
    g: &SecurityGraph,
    src: NodeIndex,
) -> (Vec<&Workload>, Vec<String>) {
    let out = |v: NodeIndex, kind: EdgeKind| {
        g.graph
            .edges_directed(v, Direction::Outgoing)
            .filter(move |e| e.weight().kind == kind)
            .map(|e| e.target())
    };
    let mut ids: Vec<WorkloadId> = Vec::new();
    for peer in out(src, EdgeKind::PeerMember) {
        for rule in out(peer, EdgeKind::RuleAdmits) {
            for dst in out(rule, EdgeKind::AdmitsInto) {
                for w in out(dst, EdgeKind::ReceivesAs) {
                    if let Vertex::Workload(id) = g.graph[w] {
                        ids.push(id);
                    }
                }
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let (mut keep, mut unselectable) = (Vec::new(), Vec::new());
    for id in ids {
        let w = &g.workloads.list[id.index()];
        if has_stable_labels(w) {
            keep.push(w);
        } else {
            unselectable.push(w.display());
        }
    }
    (keep, unselectable)
}

/// A label that tells these workloads apart from their neighbours, for `NotIn` exclusions.
fn exclusion_label(ws: &[&Workload]) -> Option<(String, Vec<String>)> {
    let labels: Vec<Labels> = ws.iter().map(|w| stable_labels(w)).collect();
    let preferred = [
        "app.kubernetes.io/name",
        "app",
        "k8s-app",
        "name",
        "component",
    ];
    let mut keys: Vec<String> = preferred.iter().map(|s| s.to_string()).collect();
    if let Some(first) = labels.first() {
        keys.extend(first.keys().cloned());
    }
    for k in keys {
        if labels.iter().all(|l| l.contains_key(&k)) {
            let mut values: Vec<String> =
                labels.iter().filter_map(|l| l.get(&k).cloned()).collect();
            values.sort();
            values.dedup();
            return Some((k, values));
        }
    }
    None
}

fn exposure_fix(g: &SecurityGraph, endpoint: u32) -> Vec<Fix> {
    let ep = &g.endpoints[endpoint as usize];
    let o = &ep.object;
    let wk = || {
        g.workloads
            .list
            .iter()
            .find(|w| w.namespace == o.namespace && w.name == o.name && w.kind.as_str() == o.kind)
            .map(WorkloadKey::of)
    };
    match ep.kind {
        EndpointKind::LoadBalancer | EndpointKind::NodePort | EndpointKind::ExternalIp => {
            vec![Fix::ServiceToClusterIp {
                namespace: o.namespace.clone(),
                name: o.name.clone(),
            }]
        }
        EndpointKind::Declared if o.kind == "Service" => vec![Fix::ServiceToClusterIp {
            namespace: o.namespace.clone(),
            name: o.name.clone(),
        }],
        EndpointKind::Ingress => vec![Fix::Delete(ObjectKey {
            kind: Kind::Ingress,
            namespace: o.namespace.clone(),
            name: o.name.clone(),
        })],
        EndpointKind::Route => vec![Fix::Delete(ObjectKey {
            kind: Kind::Route,
            namespace: o.namespace.clone(),
            name: o.name.clone(),
        })],
        EndpointKind::HostPort => wk().map(Fix::RemoveHostPorts).into_iter().collect(),
        EndpointKind::HostNetwork => wk().map(Fix::DisableHostNetwork).into_iter().collect(),
        EndpointKind::Declared => wk().map(Fix::RemoveExposedMarker).into_iter().collect(),
    }
}

/// Computes the minimal cut and its realisation (`proof`: the chains of `g`).
pub fn min_cut(snapshot: &Snapshot, g: &mut SecurityGraph, proof: &Proof) -> CutPlan {
    // The proof searched what the internet reaches already.
    let fwd = proof
        .reachable()
        .filter(|r| r.len() == g.graph.node_count());
    cut_of(snapshot, g, fwd, None).finish(g, proof)
}

/// A cut worked out over a graph without its proof ([`cut_of`]): what [`Uncosted::finish`]
/// completes once the chains are known.
pub(crate) struct Uncosted {
    cuts: Vec<Cut>,
    total_cost: u64,
    relevant_vertices: usize,
    state: CutState,
    /// The class edges' costs, which depend on what their cut would touch: written into the
    /// graph by [`Uncosted::finish`] (the graph is shared while the chains are proven).
    costs: Vec<(EdgeIndex, Cost)>,
}

/// The cut of `g` but for what needs its chains: everything [`min_cut`] works out from the
/// graph alone (`fwd`: what the internet reaches, when known), so that it can run while the
/// chains are proven. A patched graph's cut starts from `reuse`, the state of the cut before the
/// patch: its maximum flow, and its verification model when the plan adds the same
/// NetworkPolicies (the caller guarantees that `reuse` was patched like the graph: same policies
/// and namespaces, workloads moved with [`CutState::reclass`]).
pub(crate) fn cut_of(
    snapshot: &Snapshot,
    g: &SecurityGraph,
    fwd: Option<&[bool]>,
    reuse: Option<CutState>,
) -> Uncosted {
    let CutState {
        flow: start,
        verified: reuse,
        facts,
        moved,
        broken,
        network,
    } = reuse.unwrap_or_default();
    let fwd = match fwd {
        Some(r) => r.to_vec(),
        None => reach(g, &[g.internet], Direction::Outgoing),
    };
    let bwd = reach(g, &g.jewels.clone(), Direction::Incoming);

    // Costs of class-level edges depend on which workloads they would touch.
    let selectors = service_selectors(snapshot);
    let fact = |w: &Workload| {
        let served = selectors.get(w.namespace.as_str()).is_some_and(|sels| {
            sels.iter().any(|sel| {
                w.groups
                    .iter()
                    .any(|gr| sel.iter().all(|(k, v)| gr.labels.get(k) == Some(v)))
            })
        });
        (has_stable_labels(w), served)
    };
    // Kept from the last cut but for the workloads moved since.
    let facts: Vec<(bool, bool)> = if facts.len() == g.workloads.list.len() {
        let mut facts = facts;
        for w in &moved {
            facts[w.index()] = fact(&g.workloads.list[w.index()]);
        }
        facts
    } else {
        g.workloads.list.iter().map(fact).collect()
    };
    let stable = |w: &Workload| facts[w.id.index()].0;
    let served = |w: &Workload| facts[w.id.index()].1;
    // Every edge's cost, the class edges' worked out below.
    let mut costs: Vec<Cost> = g.graph.edge_weights().map(|e| e.cost).collect();
    let mut class_costs: Vec<(EdgeIndex, Cost)> = Vec::new();
    let mut class_edges: Vec<EdgeIndex> = Vec::new();
    for &(src, dst) in g.class_ix.values() {
        class_edges.extend(
            g.graph
                .edges_directed(src, Direction::Outgoing)
                .filter(|e| {
                    matches!(
                        e.weight().kind,
                        EdgeKind::EgressOpen | EdgeKind::Exfiltrates
                    )
                })
                .map(|e| e.id()),
        );
        class_edges.extend(
            g.graph
                .edges_directed(dst, Direction::Incoming)
                .filter(|e| e.weight().kind == EdgeKind::IngressOpen)
                .map(|e| e.id()),
        );
    }
    for e in class_edges {
        let Some((a, b)) = g.graph.edge_endpoints(e) else {
            continue;
        };
        let new_cost = match (g.graph[a], g.graph[b]) {
            (Vertex::NetSrc(c), _) => {
                let (mut count, mut selectable) = (0u32, true);
                for w in class_workloads(g, c, &fwd) {
                    count += 1;
                    selectable &= stable(w);
                }
                let exfil = g.graph[e].kind == EdgeKind::Exfiltrates;
                let each = if exfil {
                    cost::DENY_INTERNET_EGRESS
                } else {
                    cost::CONTAIN_EGRESS
                };
                if exfil && g.net.class(c).admin_egress_any() {
                    // What the admin policies allow, no NetworkPolicy denies: not cut here
                    // (an admin-layer deny is not proposed yet).
                    Cost::Never
                } else if exfil && !g.graph[e].rules.is_empty() {
                    // The pods' own egress rules admit the internet: NetworkPolicies only
                    // add, so the rules themselves must be narrowed.
                    Cost::Finite(cost::NARROW_POLICY)
                } else if selectable {
                    Cost::Finite(each.saturating_mul(count.max(1)))
                } else {
                    Cost::Never
                }
            }
            (_, Vertex::NetDst(c)) if g.net.class(c).ingress_open() => {
                let (mut sum, mut selectable) = (0u32, true);
                for w in class_workloads(g, c, &bwd) {
                    sum += if served(w) {
                        cost::ISOLATE_SERVED
                    } else {
                        cost::ISOLATE_UNSERVED
                    };
                    selectable &= stable(w);
                }
                if selectable {
                    Cost::Finite(sum.max(1))
                } else {
                    Cost::Never
                }
            }
            _ => Cost::Finite(cost::NARROW_POLICY),
        };
        costs[e.index()] = new_cost;
        class_costs.push((e, new_cost));
    }
    // A step cut by an AdminNetworkPolicy Deny is cut there only where the Deny can name every
    // workload it separates (a peer and a subject select by stable labels): else elsewhere.
    let mut nameable: HashMap<NodeIndex, bool> = HashMap::new();
    let admin_steps: Vec<EdgeIndex> = g
        .graph
        .edge_indices()
        .filter(|&e| {
            matches!(costs[e.index()], Cost::Finite(_))
                && g.graph.edge_endpoints(e).is_some_and(|(a, b)| {
                    fwd[a.index()]
                        && bwd[b.index()]
                        && matches!(judged_layer(g, a, b), Some(JudgedCut::AdminDeny { .. }))
                })
        })
        .collect();
    for e in admin_steps {
        let Some((a, b)) = g.graph.edge_endpoints(e) else {
            continue;
        };
        let mut named = |v: NodeIndex, mask: &[bool]| {
            *nameable.entry(v).or_insert_with(|| {
                let ws: Vec<&Workload> = match g.graph[v] {
                    Vertex::NetSrc(c) | Vertex::NetDst(c) => class_workloads(g, c, mask).collect(),
                    _ => peer_workloads(g, v, mask),
                };
                !ws.is_empty() && ws.iter().all(|w| stable(w))
            })
        };
        if !(named(a, &fwd) && named(b, &bwd)) {
            costs[e.index()] = Cost::Never;
            class_costs.push((e, Cost::Never));
        }
    }

    // Flow network over relevant edges, parallel edges merged (the cut is a set of vertices),
    // every jewel feeding a sink.
    let n = g.graph.node_count();
    let index = |v: NodeIndex| u32::try_from(v.index()).unwrap_or(u32::MAX);
    let sink = u32::try_from(n).unwrap_or(u32::MAX);
    let relevant_edge =
        |a: NodeIndex, b: NodeIndex| fwd[a.index()] && bwd[b.index()] && fwd[b.index()];
    let mut jewel = vec![false; n];
    for &j in &g.jewels {
        jewel[j.index()] = fwd[j.index()];
    }
    let mut relevant = vec![false; n];
    relevant[g.internet.index()] = true;
    let mut pairs: Vec<(u32, u32, u64)> = Vec::new();
    let mut out: Vec<(u32, u64)> = Vec::new();
    for a in g.graph.node_indices() {
        if !fwd[a.index()] {
            continue;
        }
        out.clear();
        for e in g.graph.edges_directed(a, Direction::Outgoing) {
            let b = e.target();
            if relevant_edge(a, b) {
                let cap = match costs[e.id().index()] {
                    Cost::Finite(c) => u64::from(c.max(1)),
                    Cost::Never => INF,
                };
                out.push((index(b), cap));
            }
        }
        if jewel[a.index()] {
            out.push((sink, INF));
        }
        if out.is_empty() {
            continue;
        }
        relevant[a.index()] = true;
        out.sort_unstable();
        for &(b, cap) in &out {
            match pairs.last_mut() {
                Some(last) if (last.0, last.1) == (index(a), b) => {
                    last.2 = (last.2 + cap).min(INF);
                }
                _ => {
                    pairs.push((index(a), b, cap));
                    if b != sink {
                        relevant[b as usize] = true;
                    }
                }
            }
        }
    }
    let relevant_vertices = relevant.iter().filter(|r| **r).count();
    // The network decides the cut and what it breaks (the source side of a minimum cut is
    // unique, and the entries and jewels are its vertices).
    let same_network = pairs == network;
    let (value, side, flow) = max_flow(n, index(g.internet), sink, &pairs, start);
    let mut cut_edges: Vec<EdgeIndex> = g
        .graph
        .node_indices()
        .filter(|a| side[a.index()])
        .flat_map(|a| g.graph.edges_directed(a, Direction::Outgoing))
        .filter(|e| {
            relevant_edge(e.source(), e.target())
                && !side[e.target().index()]
                && matches!(costs[e.id().index()], Cost::Finite(_))
        })
        .map(|e| e.id())
        .collect();
    cut_edges.sort();

    // Realise each cut edge.
    let mut intents: BTreeMap<WorkloadKey, (NetIntent, Labels, Vec<String>, Key)> = BTreeMap::new();
    let mut cuts: Vec<Cut> = Vec::new();
    let mut claims: Vec<(usize, Claim)> = Vec::new();
    for e in cut_edges {
        let Some((a, b)) = g.graph.edge_endpoints(e) else {
            continue;
        };
        let edge = &g.graph[e];
        let cost = match costs[e.index()] {
            Cost::Finite(c) => c,
            Cost::Never => continue,
        };
        let idx = cuts.len();
        let mut cut = Cut {
            id: String::new(),
            edge: e,
            also: Vec::new(),
            kind: edge.kind,
            from: describe(g, a, &fwd, &bwd),
            to: describe(g, b, &fwd, &bwd),
            cost,
            live: false,
            fixes: Vec::new(),
            breaks: Vec::new(),
            breaks_unnamed: 0,
            notes: Vec::new(),
        };
        let mut want =
            |w: &Workload, f: &dyn Fn(&mut NetIntent), reason: &str, cut: &mut Cut| -> bool {
                let labels = stable_labels(w);
                if labels.is_empty() {
                    cut.notes.push(format!(
                        "{} has no stable labels to select it by",
                        w.display()
                    ));
                    return false;
                }
                let entry = intents
                    .entry(WorkloadKey::of(w))
                    .or_insert_with(|| (NetIntent::default(), labels, Vec::new(), w.id));
                f(&mut entry.0);
                entry.2.push(reason.to_string());
                true
            };
        match (edge.kind, g.graph[a], g.graph[b]) {
            (EdgeKind::Exposes, _, Vertex::Endpoint(ep)) => cut.fixes = exposure_fix(g, ep),
            (EdgeKind::RoutesTo, Vertex::Endpoint(ep), Vertex::Workload(wid)) => {
                let w = g.workloads.list[wid.index()].clone();
                let kind = g.endpoints[ep as usize].kind;
                // Traffic that enters through the Service itself (not through an ingress
                // controller) keeps its external source address, so an ipBlock deny works.
                let service_side = matches!(
                    kind,
                    EndpointKind::LoadBalancer
                        | EndpointKind::NodePort
                        | EndpointKind::ExternalIp
                        | EndpointKind::Declared
                );
                let open = g.net.member_class[wid.index()]
                    .iter()
                    .all(|c| g.net.class(*c).ingress_open());
                if service_side
                    && open
                    && want(
                        &w,
                        &|i| i.deny_external = true,
                        "deny sources outside the cluster",
                        &mut cut,
                    )
                {
                    cut.live = true;
                    claims.push((
                        idx,
                        Claim::Internet {
                            dst: key(&w),
                            ports: edge.ports.clone().unwrap_or_else(PortSet::all),
                        },
                    ));
                } else if service_side && !edge.rules.is_empty() {
                    let mut cilium = false;
                    for r in &edge.rules {
                        let p = &g.net.policies[r.policy as usize];
                        if !p.is_network_policy() {
                            cilium = true;
                            continue;
                        }
                        cut.fixes.push(Fix::RemoveIpBlocks {
                            namespace: p.namespace.clone(),
                            name: p.name.clone(),
                            rule: r.rule,
                        });
                    }
                    if cilium {
                        propose_cilium_deny(
                            &[&w],
                            true,
                            Some(serde_json::json!({"fromEntities": ["world"]})),
                            edge.ports.as_ref(),
                            &format!("ingressDeny: {} from the world", w.display()),
                            &mut cut,
                        );
                    } else {
                        cut.notes.push("the workload's NetworkPolicies already admit external sources; NetworkPolicies only add, so the rule itself must be narrowed".into());
                    }
                } else {
                    cut.fixes = exposure_fix(g, ep);
                }
            }
            (EdgeKind::EgressOpen, Vertex::NetSrc(c), _) => {
                let ws: Vec<Workload> = class_workloads(g, c, &fwd).cloned().collect();
                // What an ingress rule admits these pods into is no open egress: the cut
                // leaves it (the graph keeps those edges), so the policy keeps it too.
                let (declared, unselectable) = declared_destinations(g, a);
                for d in &unselectable {
                    cut.notes.push(format!(
                        "{d} has no stable labels to keep it reachable: contained egress cuts it too"
                    ));
                }
                let keep: BTreeSet<(String, Labels)> = declared
                    .iter()
                    .map(|d| (d.namespace.clone(), stable_labels(d)))
                    .collect();
                let mut all = true;
                for w in &ws {
                    all &= want(
                        w,
                        &|i| {
                            i.contain_egress = true;
                            i.keep_egress_to.extend(keep.iter().cloned());
                        },
                        "contain in-cluster egress",
                        &mut cut,
                    );
                }
                cut.live = all;
                let dsts: Vec<Key> = g
                    .workloads
                    .list
                    .iter()
                    .filter(|d| {
                        bwd[g.workload_ix[d.id.index()].index()]
                            && !crate::build::is_dns(d)
                            && !declared.iter().any(|k| k.id == d.id)
                    })
                    .map(key)
                    .collect();
                claims.push((
                    idx,
                    Claim::Pairs {
                        srcs: ws.iter().map(key).collect(),
                        dsts,
                    },
                ));
            }
            (EdgeKind::Exfiltrates, Vertex::NetSrc(c), _) if !edge.rules.is_empty() => {
                if !g.net.all_narrowable(&edge.rules) {
                    let ws: Vec<&Workload> = class_workloads(g, c, &fwd).collect();
                    propose_cilium_deny(
                        &ws,
                        false,
                        Some(serde_json::json!({"toEntities": ["world"]})),
                        None,
                        &format!("egressDeny: {} to the world", join_names(&ws)),
                        &mut cut,
                    );
                }
                for r in &edge.rules {
                    let p = &g.net.policies[r.policy as usize];
                    if !p.is_network_policy() {
                        continue;
                    }
                    cut.fixes.push(Fix::RestrictRuleToNamespace {
                        namespace: p.namespace.clone(),
                        name: p.name.clone(),
                        ingress: false,
                        rule: r.rule,
                    });
                }
                cut.notes.push("the pods' NetworkPolicies already allow the internet; NetworkPolicies only add, so the egress rule itself must be narrowed (a rule that also carries DNS needs a DNS rule of its own first)".into());
            }
            (EdgeKind::Exfiltrates, Vertex::NetSrc(c), _) => {
                let ws: Vec<Workload> = class_workloads(g, c, &fwd).cloned().collect();
                let mut all = true;
                for w in &ws {
                    all &= want(
                        w,
                        &|i| i.deny_internet_egress = true,
                        "deny egress to the internet",
                        &mut cut,
                    );
                }
                cut.live = all;
                claims.push((
                    idx,
                    Claim::Exfil {
                        srcs: ws.iter().map(key).collect(),
                    },
                ));
            }
            (EdgeKind::IngressOpen, _, Vertex::NetDst(c)) => {
                if g.net.class(c).ingress_open() {
                    let ws: Vec<Workload> = class_workloads(g, c, &bwd).cloned().collect();
                    let mut all = true;
                    for w in &ws {
                        // A workload nothing exposes gets no ingress at all.
                        let exposed = g
                            .graph
                            .edges_directed(g.workload_ix[w.id.index()], Direction::Incoming)
                            .any(|e| e.weight().kind == EdgeKind::RoutesTo);
                        all &= if exposed {
                            want(
                                w,
                                &|i| i.deny_in_cluster = true,
                                "deny in-cluster sources",
                                &mut cut,
                            )
                        } else {
                            want(
                                w,
                                &|i| {
                                    i.deny_in_cluster = true;
                                    i.deny_external = true;
                                },
                                "deny all ingress (not exposed)",
                                &mut cut,
                            )
                        };
                    }
                    cut.live = all;
                    let srcs: Vec<Key> = g
                        .workloads
                        .list
                        .iter()
                        .filter(|s| fwd[g.workload_ix[s.id.index()].index()])
                        .map(key)
                        .collect();
                    claims.push((
                        idx,
                        Claim::Pairs {
                            srcs,
                            dsts: ws.iter().map(key).collect(),
                        },
                    ));
                } else {
                    if !g.net.all_narrowable(&edge.rules) {
                        // The Cilium analogue of narrowing the rule to its own namespace.
                        for w in class_workloads(g, c, &bwd) {
                            // `Exists` keeps identities that are no pod (the host, the world)
                            // out of the `NotIn`.
                            let rule = serde_json::json!({"fromEndpoints": [{"matchExpressions": [
                                {"key": "k8s:io.kubernetes.pod.namespace", "operator": "Exists"},
                                {"key": "k8s:io.kubernetes.pod.namespace", "operator": "NotIn", "values": [w.namespace]}
                            ]}]});
                            propose_cilium_deny(
                                &[w],
                                true,
                                Some(rule),
                                None,
                                &format!("ingressDeny: {} from other namespaces", w.display()),
                                &mut cut,
                            );
                        }
                    }
                    for r in &edge.rules {
                        let p = &g.net.policies[r.policy as usize];
                        if !p.is_network_policy() {
                            continue;
                        }
                        cut.fixes.push(Fix::RestrictRuleToNamespace {
                            namespace: p.namespace.clone(),
                            name: p.name.clone(),
                            ingress: r.ingress,
                            rule: r.rule,
                        });
                    }
                }
            }
            (EdgeKind::PolicyAllows, Vertex::NetSrc(sc), Vertex::NetDst(dc)) => {
                let srcs: Vec<&Workload> = class_workloads(g, sc, &fwd).collect();
                let dsts: Vec<&Workload> = class_workloads(g, dc, &bwd).collect();
                if judged(g, sc, dc) {
                    let layer = judged_layer(g, a, b);
                    if let Some(claim) =
                        judged_deny(g, layer, &srcs, &dsts, edge.ports.as_ref(), &mut cut)
                    {
                        claims.push((idx, claim));
                    }
                } else {
                    narrow_rules(g, &edge.rules, &srcs, &dsts, edge.ports.as_ref(), &mut cut);
                }
            }
            (
                EdgeKind::AdmitsInto,
                Vertex::NetAdmin(_) | Vertex::NetAdminPeer { .. },
                Vertex::NetDst(dc),
            ) => {
                let srcs = peer_workloads(g, a, &fwd);
                let dsts: Vec<&Workload> = class_workloads(g, dc, &bwd).collect();
                let layer = judged_layer(g, a, b);
                if let Some(claim) =
                    judged_deny(g, layer, &srcs, &dsts, edge.ports.as_ref(), &mut cut)
                {
                    claims.push((idx, claim));
                }
            }
            (EdgeKind::RuleAdmits, Vertex::NetPeer(_), Vertex::NetRule { .. }) => {
                let srcs = peer_workloads(g, a, &fwd);
                let dsts = rule_destinations(g, &edge.rules, &bwd);
                narrow_rules(g, &edge.rules, &srcs, &dsts, None, &mut cut);
            }
            (EdgeKind::RunsAs, Vertex::Workload(w), _) => cut.fixes.push(Fix::DisableAutomount(
                WorkloadKey::of(&g.workloads.list[w.index()]),
            )),
            (EdgeKind::MountsSecret, Vertex::Workload(w), Vertex::Secret(s)) => {
                cut.fixes.push(Fix::RemoveSecretRefs(
                    WorkloadKey::of(&g.workloads.list[w.index()]),
                    g.secrets[s as usize].name.clone(),
                ))
            }
            (EdgeKind::IsTokenOf, Vertex::Secret(s), _) => {
                let s = &g.secrets[s as usize];
                cut.fixes.push(Fix::Delete(ObjectKey {
                    kind: Kind::Secret,
                    namespace: s.namespace.clone(),
                    name: s.name.clone(),
                }));
            }
            _ if !edge.grants.is_empty() => {
                let mut seen = BTreeSet::new();
                for (b, subject) in &edge.grants {
                    if b.name.is_empty()
                        || b.name == "cluster-admin"
                            && b.kind == "ClusterRoleBinding"
                            && matches!(subject, crate::rbac::SubjectKey::Group(g) if g == "system:masters")
                    {
                        continue;
                    }
                    if seen.insert((b.clone(), subject.clone())) {
                        cut.fixes.push(Fix::RemoveBindingSubject {
                            kind: b.kind.clone(),
                            namespace: b.namespace.clone(),
                            name: b.name.clone(),
                            subject: subject.clone(),
                        });
                    }
                }
            }
            _ => {}
        }
        cut.id = stable_id("cut", &[edge.kind.as_str(), &cut.from, &cut.to]);
        cuts.push(cut);
    }

    // Merge network intents per workload into NetworkPolicies.
    let mut policy_of: BTreeMap<WorkloadKey, Vec<serde_json::Value>> = BTreeMap::new();
    for (wk, (intent, labels, reasons, _)) in &intents {
        // In a fixed order, not the order of the cut edges' indices (a patched graph numbers
        // its edges differently).
        let mut reasons = reasons.clone();
        reasons.sort();
        reasons.dedup();
        let reason = reasons.join("; ");
        policy_of.insert(wk.clone(), network_policies(wk, labels, intent, &reason));
    }
    let policy_by_key: HashMap<Key, &Vec<serde_json::Value>> = intents
        .iter()
        .filter_map(|(wk, (.., id))| Some((*id, policy_of.get(wk)?)))
        .collect();
    for (idx, cut) in cuts.iter_mut().enumerate() {
        if !matches!(
            cut.kind,
            EdgeKind::RoutesTo
                | EdgeKind::EgressOpen
                | EdgeKind::IngressOpen
                | EdgeKind::Exfiltrates
        ) || !cut.fixes.is_empty()
        {
            continue;
        }
        let touched = touched_workloads(g, cut, &claims, idx);
        let mut seen = BTreeSet::new();
        for wk in touched {
            for np in policy_by_key.get(&wk).into_iter().flat_map(|v| v.iter()) {
                let name = np["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if seen.insert(name) {
                    cut.fixes.push(Fix::AddNetworkPolicy(np.clone()));
                }
            }
        }
        // Say what else the selector catches.
        for f in &cut.fixes {
            if let Some(np) = f.manifest() {
                let ns = np["metadata"]["namespace"].as_str().unwrap_or_default();
                let sel: Labels =
                    serde_json::from_value(np["spec"]["podSelector"]["matchLabels"].clone())
                        .unwrap_or_default();
                let target = np["metadata"]["annotations"]["rampart.dev/workload"]
                    .as_str()
                    .unwrap_or_default();
                let others: Vec<String> = g
                    .workloads
                    .in_namespace(ns)
                    .iter()
                    .filter(|w| {
                        w.groups
                            .iter()
                            .any(|gr| sel.iter().all(|(k, v)| gr.labels.get(k) == Some(v)))
                    })
                    .map(Workload::display)
                    .filter(|d| d != target)
                    .collect();
                if !others.is_empty() {
                    cut.notes.push(format!(
                        "the selector of {} also selects {}",
                        np["metadata"]["name"].as_str().unwrap_or_default(),
                        others.join(", ")
                    ));
                }
            }
        }
    }

    // Verify live network cuts: the analysis itself must agree the flows are gone.
    let mut added: Vec<serde_json::Value> = policy_of.values().flatten().cloned().collect();
    for f in cuts.iter().filter(|c| c.live).flat_map(|c| &c.fixes) {
        if let Fix::AddAdminNetworkPolicy(v) = f
            && !added.contains(v)
        {
            added.push(v.clone());
        }
    }
    let verified = (!added.is_empty()).then(|| {
        let (net, mut known) = match reuse {
            Some(v) if v.policies == added => (v.net, v.outcomes),
            Some(v) => match changed_policies(v, &added, &g.net, &g.workloads) {
                Some(net) => (net, HashMap::new()),
                None => (what_if(snapshot, g, &added), HashMap::new()),
            },
            None => (what_if(snapshot, g, &added), HashMap::new()),
        };
        let mut outcomes = HashMap::new();
        for (idx, claim) in claims {
            // A claim checked against this model before holds as it did, unless a workload it
            // names moved: then only the pairs with a moved workload are checked again (when
            // it held, every other pair passed).
            let outcome = match known.remove(&claim) {
                Some(old) if !claim.names_any(&moved) => old,
                Some(Ok(())) => claim.holds(&g.workloads.list, &net, Some(&moved)),
                _ => claim.holds(&g.workloads.list, &net, None),
            };
            if let Err(why) = &outcome {
                let cut = &mut cuts[idx];
                if cut.live {
                    cut.live = false;
                    cut.notes.push(format!("not verified as a live cut: {why}"));
                }
            }
            outcomes.insert(claim, outcome);
        }
        Verified {
            policies: added,
            net,
            outcomes,
        }
    });

    // Chains each cut breaks: the entry → jewel pairs that only it separates (listed or not;
    // a chain's listed path is one shortest path, the cut edge may lie on another), and the
    // listed chains whose path crosses it.
    let on_paths: Vec<bool> = (0..g.graph.node_count())
        .map(|i| fwd[i] && bwd[i])
        .collect();
    let cut_edges: Vec<EdgeIndex> = cuts.iter().map(|c| c.edge).collect();
    let (breaks, broken) = breaks_of(g, &cut_edges, &on_paths, &broken, same_network);
    for (cut, (ids, more)) in cuts.iter_mut().zip(breaks) {
        cut.breaks = ids;
        cut.breaks_unnamed = more;
    }
    Uncosted {
        cuts,
        total_cost: value,
        relevant_vertices,
        state: CutState {
            flow,
            verified,
            facts,
            moved: Vec::new(),
            broken,
            network: pairs,
        },
        costs: class_costs,
    }
}

impl Uncosted {
    /// The plan: the class edges' costs written into `g`, the listed chains of `proof` (the
    /// chains of `g`) each cut breaks, and each chain's cheapest edge.
    pub(crate) fn finish(self, g: &mut SecurityGraph, proof: &Proof) -> CutPlan {
        let Uncosted {
            mut cuts,
            total_cost,
            relevant_vertices,
            state,
            costs,
        } = self;
        for (e, c) in costs {
            g.graph[e].cost = c;
        }
        listed_breaks(g, proof, &state.broken, &mut cuts);
        let mut cheapest = BTreeMap::new();
        for c in &proof.chains {
            let mut best: Option<(EdgeIndex, u32)> = None;
            for e in &c.edges {
                if let Cost::Finite(x) = g.graph[*e].cost
                    && best.is_none_or(|(_, b)| x < b)
                {
                    best = Some((*e, x));
                }
            }
            if let Some(b) = best {
                cheapest.insert(c.id.clone(), b);
            }
        }
        // Parallel edges can share an id (a Route over several ports of one Service): what
        // they break then orders them, not their indices.
        cuts.sort_by(|a, b| (a.cost, &a.id, &a.breaks).cmp(&(b.cost, &b.id, &b.breaks)));
        let mut cuts = merge_identical(cuts);
        cuts.sort_by(|a, b| (a.cost, &a.id, &a.breaks).cmp(&(b.cost, &b.id, &b.breaks)));
        for cut in &mut cuts {
            if cut.breaks_unnamed > 0 {
                cut.notes.push(format!(
                    "breaks {} more unlisted chains than named (all listed ones and at most \
                     {MAX_UNLISTED_BREAKS} others are)",
                    cut.breaks_unnamed
                ));
            }
        }
        CutPlan {
            cuts,
            total_cost,
            cheapest,
            relevant_vertices,
            state: Some(state),
        }
    }
}

/// The listed chains of `proof` each cut breaks, added to the unlisted ones it names: those
/// whose entry and jewel only it separates (`broken`, by the cut edges' ends) and those whose
/// path crosses it. A separated chain named already is no longer counted as unnamed.
fn listed_breaks(g: &SecurityGraph, proof: &Proof, broken: &BrokenByEnds, cuts: &mut [Cut]) {
    let cut_at: HashMap<EdgeIndex, usize> =
        cuts.iter().enumerate().map(|(i, c)| (c.edge, i)).collect();
    // Per entry, the cuts that separate it from some jewel, with those jewels.
    let mut by_entry: HashMap<NodeIndex, Vec<(usize, &[NodeIndex])>> = HashMap::new();
    for (i, cut) in cuts.iter().enumerate() {
        let Some(b) = g
            .graph
            .edge_endpoints(cut.edge)
            .and_then(|k| broken.get(&k))
        else {
            continue;
        };
        for &e in &b.entries {
            by_entry.entry(e).or_default().push((i, &b.jewels));
        }
    }
    let mut added: Vec<Vec<ChainId>> = vec![Vec::new(); cuts.len()];
    let mut separated: Vec<Vec<ChainId>> = vec![Vec::new(); cuts.len()];
    for c in &proof.chains {
        let Some(id) = ChainId::parse(&c.id) else {
            continue;
        };
        for e in &c.edges {
            if let Some(&i) = cut_at.get(e) {
                added[i].push(id);
            }
        }
        for &(i, jewels) in by_entry.get(&c.entry).into_iter().flatten() {
            if c.entry != c.target && jewels.binary_search(&c.target).is_ok() {
                separated[i].push(id);
            }
        }
    }
    for ((cut, mut ids), sep) in cuts.iter_mut().zip(added).zip(separated) {
        // Separated chains past the cap were counted, not named: named now, no longer counted.
        let newly = sep
            .iter()
            .filter(|id| cut.breaks.binary_search(id).is_err())
            .count();
        cut.breaks_unnamed = cut.breaks_unnamed.saturating_sub(newly);
        ids.extend(sep);
        cut.breaks.extend(ids);
        cut.breaks.sort();
        cut.breaks.dedup();
    }
}

/// The verification model `v` brought to the NetworkPolicies `added` in place, when the plan
/// changed which it adds (a route cut appeared or went): those no longer added are taken out,
/// the new ones compiled in. `None` when one taken out has the name of a policy of the
/// cluster (`base`, the analysis's model): adding it had replaced that one, which taking it out
/// does not bring back.
fn changed_policies(
    v: Verified,
    added: &[serde_json::Value],
    base: &NetModel,
    workloads: &rampart_model::Workloads,
) -> Option<NetModel> {
    fn name(np: &serde_json::Value) -> (&str, &str) {
        let meta = &np["metadata"];
        (
            meta["namespace"].as_str().unwrap_or_default(),
            meta["name"].as_str().unwrap_or_default(),
        )
    }
    if !only_network_policies(&v.policies) || !only_network_policies(added) {
        return None;
    }
    let before: HashMap<_, _> = v.policies.iter().map(|np| (name(np), np)).collect();
    let after: HashMap<_, _> = added.iter().map(|np| (name(np), np)).collect();
    let gone: Vec<(&str, &str)> = before
        .iter()
        .filter(|(k, np)| after.get(*k) != Some(*np))
        .map(|(k, _)| *k)
        .collect();
    if base
        .policies
        .iter()
        .any(|p| !p.retired && gone.contains(&(p.namespace.as_str(), p.name.as_str())))
    {
        return None;
    }
    let new = typed(added.iter().filter(|np| before.get(&name(np)) != Some(np)))?;
    let mut net = v.net;
    (net.remove_policies(&gone) && net.add_policies(&new, workloads)).then_some(net)
}

/// Whether every object of a plan is a NetworkPolicy (none an AdminNetworkPolicy).
fn only_network_policies(objects: &[serde_json::Value]) -> bool {
    objects.iter().all(|o| o["kind"] == "NetworkPolicy")
}

/// The plan's NetworkPolicies as typed objects (`None` when one is not one, or does not read
/// as one).
fn typed<'a>(policies: impl Iterator<Item = &'a serde_json::Value>) -> Option<Vec<NetworkPolicy>> {
    policies
        .map(|np| {
            (np["kind"] == "NetworkPolicy")
                .then(|| serde_json::from_value(np.clone()).ok())
                .flatten()
        })
        .collect()
}

/// The network model with the objects `added` (NetworkPolicies, AdminNetworkPolicies), to
/// verify live cuts against: the analysis's own model with them added when all are
/// NetworkPolicies ([`NetModel::with_policies`] keeps it equal to a fresh build, and adding is
/// linear where building again matches every pod anew), else built afresh (an
/// AdminNetworkPolicy, or a name that repeats one of the cluster's).
fn what_if(snapshot: &Snapshot, g: &SecurityGraph, added: &[serde_json::Value]) -> NetModel {
    if let Some(net) = typed(added.iter()).and_then(|t| g.net.with_policies(&t, &g.workloads)) {
        return net;
    }
    // Adding policies changes no workload: only the network model is rebuilt, from the
    // objects it reads (a full snapshot clone would dominate a large scan).
    let mut what_if = Snapshot::from_objects(
        snapshot
            .iter()
            .filter(|o| o.object.kind().shapes_network())
            .cloned(),
    );
    for o in added {
        let fix = if o["kind"] == "AdminNetworkPolicy" {
            Fix::AddAdminNetworkPolicy(o.clone())
        } else {
            Fix::AddNetworkPolicy(o.clone())
        };
        fix.apply(&mut what_if);
    }
    NetModel::build(&what_if, &g.workloads)
}

/// Maximum flow from `s` to `t`, from the flow `start` when it can be repaired to fit (else
/// from zero): its value, the source side of the residual network, and the flow.
fn max_flow(
    n: usize,
    s: u32,
    t: u32,
    pairs: &[(u32, u32, u64)],
    start: Flow,
) -> (u64, Vec<bool>, Flow) {
    let mut net = Network::new(n + 1, s, t, pairs, start);
    // A repair longer than a few hundred paths costs more than starting from zero.
    if net.repair(256).is_err() {
        net = Network::new(n + 1, s, t, pairs, Flow::default());
    }
    let value = net.max_flow();
    let side = net.source_side();
    (value, side, net.flow_state())
}

/// The workloads a network cut's policies select, by namespace, kind and name.
fn touched_workloads(
    g: &SecurityGraph,
    cut: &Cut,
    claims: &[(usize, Claim)],
    idx: usize,
) -> Vec<Key> {
    let mut v = Vec::new();
    for (i, c) in claims {
        if *i != idx {
            continue;
        }
        match c {
            Claim::Internet { dst, .. } => v.push(*dst),
            Claim::Exfil { srcs } => v.extend(srcs.iter().copied()),
            Claim::Pairs { srcs, dsts } => {
                if cut.kind == EdgeKind::EgressOpen {
                    v.extend(srcs.iter().copied());
                } else {
                    v.extend(dsts.iter().copied());
                }
            }
        }
    }
    v.sort();
    v.dedup();
    let list = &g.workloads.list;
    v.sort_by(|a, b| {
        let (x, y) = (&list[a.index()], &list[b.index()]);
        (&x.namespace, x.kind, &x.name).cmp(&(&y.namespace, y.kind, &y.name))
    });
    v
}

/// A workload in the analysis (the verification model is built over the same workloads).
type Key = rampart_model::WorkloadId;

fn key(w: &Workload) -> Key {
    w.id
}

fn key_str(list: &[Workload], k: &Key) -> String {
    let w = &list[k.index()];
    format!("{}/{}[{}]", w.namespace, w.name, w.kind)
}

/// What a live network cut promises, checked against the re-analysed model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Claim {
    Internet {
        dst: Key,
        ports: PortSet,
    },
    Pairs {
        srcs: Vec<Key>,
        dsts: Vec<Key>,
    },
    /// The workloads send to no public address.
    Exfil {
        srcs: Vec<Key>,
    },
}

impl Claim {
    /// Whether the claim names any of these workloads.
    fn names_any(&self, ws: &[WorkloadId]) -> bool {
        match self {
            Claim::Internet { dst, .. } => ws.contains(dst),
            Claim::Exfil { srcs } => srcs.iter().any(|w| ws.contains(w)),
            Claim::Pairs { srcs, dsts } => {
                !ws.is_empty() && srcs.iter().chain(dsts).any(|w| ws.contains(w))
            }
        }
    }

    /// Whether the claim holds in `net`; with `only`, checking just the pairs that name one of
    /// those workloads (in the same order, so the first failure named is the same).
    fn holds(
        &self,
        list: &[Workload],
        net: &NetModel,
        only: Option<&[WorkloadId]>,
    ) -> Result<(), String> {
        let checked = |s: &Key, d: &Key| only.is_none_or(|ws| ws.contains(s) || ws.contains(d));
        let classes = |k: &Key| -> &[crate::netpol::ClassId] {
            net.member_class.get(k.index()).map_or(&[], Vec::as_slice)
        };
        match self {
            Claim::Internet { dst, ports } => {
                for &c in classes(dst) {
                    if net.ingress_from_external(None, c).0.overlaps(ports) {
                        return Err(format!("{} still admits the internet", key_str(list, dst)));
                    }
                }
                Ok(())
            }
            Claim::Exfil { srcs } => {
                for s in srcs.iter().filter(|s| only.is_none_or(|ws| ws.contains(s))) {
                    for &c in classes(s) {
                        if !net.egress_to_internet(c).0.is_empty() {
                            return Err(format!(
                                "{} still sends to the internet",
                                key_str(list, s)
                            ));
                        }
                    }
                }
                Ok(())
            }
            Claim::Pairs { srcs, dsts } => {
                let reaches = |sc: ClassId, dc: ClassId| {
                    !net.allowed(sc, dc)
                        .intersect(&net.class(dc).listening())
                        .is_empty()
                };
                // First over distinct classes (a superset of the pairs to check: a workload's
                // pairs with itself included): when none reaches, the claim holds.
                let distinct = |ws: &mut dyn Iterator<Item = &Key>| {
                    let mut v: Vec<crate::netpol::ClassId> =
                        ws.flat_map(|w| classes(w).iter().copied()).collect();
                    v.sort_unstable();
                    v.dedup();
                    v
                };
                let moved = |w: &&Key| only.is_none_or(|ws| ws.contains(*w));
                let (all_s, all_d) = (distinct(&mut srcs.iter()), distinct(&mut dsts.iter()));
                let (moved_s, moved_d) = (
                    distinct(&mut srcs.iter().filter(moved)),
                    distinct(&mut dsts.iter().filter(moved)),
                );
                let any = |ss: &[crate::netpol::ClassId], ds: &[crate::netpol::ClassId]| {
                    ss.iter().any(|&sc| ds.iter().any(|&dc| reaches(sc, dc)))
                };
                let holds = if only.is_some() {
                    !any(&moved_s, &all_d) && !any(&all_s, &moved_d)
                } else {
                    !any(&all_s, &all_d)
                };
                if holds {
                    return Ok(());
                }
                // Then pair by pair in the order of the claim's workloads, never of class ids
                // (a patched model numbers its classes differently): the first failure named
                // is the same.
                let mut pairs = HashSet::new();
                let dclasses: Vec<(&Key, &[crate::netpol::ClassId])> =
                    dsts.iter().map(|d| (d, classes(d))).collect();
                for s in srcs {
                    let mut scs = classes(s).to_vec();
                    scs.sort_unstable();
                    scs.dedup();
                    for (d, dcs) in &dclasses {
                        if s == *d || !checked(s, d) {
                            continue;
                        }
                        for &sc in &scs {
                            for &dc in *dcs {
                                if !pairs.insert((sc, dc)) {
                                    continue;
                                }
                                if reaches(sc, dc) {
                                    return Err(format!(
                                        "{} still reaches {}",
                                        key_str(list, s),
                                        key_str(list, d)
                                    ));
                                }
                            }
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

fn describe(g: &SecurityGraph, v: NodeIndex, fwd: &[bool], bwd: &[bool]) -> String {
    match g.graph[v] {
        Vertex::NetSrc(c) => {
            let ws: Vec<String> = class_workloads(g, c, fwd).map(Workload::display).collect();
            format!("pods of {}", ws.join(", "))
        }
        Vertex::NetDst(c) => {
            let ws: Vec<String> = class_workloads(g, c, bwd).map(Workload::display).collect();
            format!("pods of {}", ws.join(", "))
        }
        Vertex::NetHub => "in-cluster network".into(),
        Vertex::NetPeer(set) => {
            let ws: Vec<String> = peer_workloads(g, v, fwd)
                .into_iter()
                .map(Workload::display)
                .collect();
            let shown = 5;
            let more = ws.len().saturating_sub(shown);
            let mut list = ws.into_iter().take(shown).collect::<Vec<_>>().join(", ");
            if more > 0 {
                list.push_str(&format!(" and {more} more"));
            }
            let (namespaces, selector) = g.net.peer_set_key(set);
            let selector = selector.map(ToString::to_string).unwrap_or_default();
            let placed = if namespaces.len() <= 3 {
                namespaces.join(",")
            } else {
                format!("{} namespaces", namespaces.len())
            };
            format!("pods of {list} (peer {selector} in {placed})")
        }
        Vertex::NetRule { policy, rule } => {
            let p = &g.net.policies[policy as usize];
            format!(
                "{} {} {}",
                p.kind,
                g.net.policy_name(policy),
                p.rule_field(true, rule)
            )
        }
        Vertex::Endpoint(e) => {
            let ep = &g.endpoints[e as usize];
            format!("{} ({})", ep.object, ep.detail)
        }
        _ => g.vertex_ref(v).to_string(),
    }
}

/// Applies every fix of the plan to a copy of the snapshot (`--apply-cuts`).
pub fn apply_plan(snapshot: &Snapshot, plan: &CutPlan) -> Snapshot {
    let mut s = snapshot.clone();
    for c in &plan.cuts {
        for f in &c.fixes {
            f.apply(&mut s);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::parse::{ParseLimits, parse_source};
    use rampart_model::{WorkloadId, Workloads};
    use serde_json::json;

    /// A pod whose ingress a policy of the cluster closes, under a name a plan could give.
    const CLUSTER: &str = "\
apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: app, labels: {app: web}}\nspec: {containers: [{name: c, ports: [{containerPort: 8080}]}]}\n---\n\
apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: rampart-ingress-web, namespace: app}\nspec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}\n";

    fn verified(s: &Snapshot, workloads: &Workloads, plan: serde_json::Value) -> Verified {
        let mut what_if = s.clone();
        Fix::AddNetworkPolicy(plan.clone()).apply(&mut what_if);
        Verified {
            policies: vec![plan],
            net: NetModel::build(&what_if, workloads),
            outcomes: HashMap::new(),
        }
    }

    fn open_to_all(name: &str) -> serde_json::Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": name, "namespace": "app"},
               "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}]}})
    }

    #[test]
    fn a_plan_policy_that_replaced_one_of_the_cluster_is_not_taken_out_in_place() {
        let parsed = parse_source("c.yaml", CLUSTER, &ParseLimits::default());
        let s = Snapshot::from_objects(parsed.objects);
        let workloads = Workloads::build(&s);
        let base = NetModel::build(&s, &workloads);
        let web = |net: &NetModel| net.class_of(WorkloadId(0), 0).expect("a class");
        assert!(!base.class(web(&base)).ingress_open());

        // Adding the plan's policy replaced the cluster's: taking it out must bring that back,
        // which only a fresh build does.
        let replaced = verified(&s, &workloads, open_to_all("rampart-ingress-web"));
        assert!(changed_policies(replaced, &[], &base, &workloads).is_none());

        // A plan policy of a name of its own is taken out in place: the cluster's closes again.
        let own = verified(&s, &workloads, open_to_all("rampart-ingress-web-2"));
        assert!(!own.net.ingress_from_controller(web(&own.net)).0.is_empty());
        let net = changed_policies(own, &[], &base, &workloads).expect("taken out in place");
        assert!(net.ingress_from_controller(web(&net)).0.is_empty());
    }
}
