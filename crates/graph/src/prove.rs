//! Chain proof: every path Internet → entry → … → crown jewel, shortest first, coalesced per
//! internet-facing entry.

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

use petgraph::Direction;
use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::build::SecurityGraph;
use crate::model::{EdgeKind, ObjRef, Vertex};

/// How sure a chain is (DESIGN.md: never mixed up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// Every precondition is in the configuration.
    Proven,
    /// A runtime signal shows a step being walked.
    Corroborated,
    /// The model judges a step exploitable.
    Judged,
}

/// What a chain ends at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum TargetKind {
    /// Full control of the cluster.
    ClusterAdmin,
    /// A node.
    Node,
    /// A Secret.
    Secret,
    /// Something labelled `rampart.dev/crown-jewel=true`.
    CrownJewel,
    /// Destroying data or stopping services (ATT&CK Impact).
    Impact,
    /// Sending data to the internet (ATT&CK Exfiltration).
    Exfiltration,
    /// A workload that holds data: a database, or data on persistent volumes (ATT&CK
    /// Collection).
    Collection,
    /// Planting what runs again: CronJobs, DaemonSets, static pods, mutating webhooks (ATT&CK
    /// Persistence).
    Persistence,
}

impl TargetKind {
    /// The objective a target kind stands for (`None` for the classic targets).
    pub fn objective(self) -> Option<crate::objective::Objective> {
        use crate::objective::Objective;
        match self {
            TargetKind::Impact => Some(Objective::Impact),
            TargetKind::Exfiltration => Some(Objective::Exfiltration),
            TargetKind::Collection => Some(Objective::Collection),
            TargetKind::Persistence => Some(Objective::Persistence),
            TargetKind::ClusterAdmin
            | TargetKind::Node
            | TargetKind::Secret
            | TargetKind::CrownJewel => None,
        }
    }

    /// The name the contract, the table and the metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::ClusterAdmin => "ClusterAdmin",
            TargetKind::Node => "Node",
            TargetKind::Secret => "Secret",
            TargetKind::CrownJewel => "CrownJewel",
            TargetKind::Impact => "Impact",
            TargetKind::Exfiltration => "Exfiltration",
            TargetKind::Collection => "Collection",
            TargetKind::Persistence => "Persistence",
        }
    }
}

/// One proven chain.
#[derive(Debug, Clone)]
pub struct Chain {
    /// Stable id (a hash of entry and target), so the same chain keeps its id across scans.
    pub id: String,
    /// The entry endpoint vertex.
    pub entry: NodeIndex,
    /// The jewel.
    pub target: NodeIndex,
    /// What kind of jewel.
    pub target_kind: TargetKind,
    /// The ATT&CK technique the jewel stands for (none for a crown jewel holding no data).
    pub technique: Option<crate::objective::Technique>,
    /// Edges from `Internet`, in order.
    pub edges: Vec<EdgeIndex>,
    /// Steps after condensing network plumbing (the chain's length).
    pub length: usize,
    /// Confidence.
    pub confidence: Confidence,
}

/// Options for proving.
#[derive(Debug, Clone, Copy)]
pub struct ProveOptions {
    /// Most chains listed per entry (0: all). The minimal cut always covers every chain.
    pub max_chains_per_entry: usize,
}

impl Default for ProveOptions {
    fn default() -> Self {
        ProveOptions {
            max_chains_per_entry: 20,
        }
    }
}

/// The chains of a graph.
#[derive(Debug, Clone, Default)]
pub struct Proof {
    /// Listed chains, ordered by entry, then length, then target.
    pub chains: Vec<Chain>,
    /// Distinct targets (crown jewels, Secrets, nodes, cluster-admin, objectives) reachable from
    /// the internet at all.
    pub jewels_reachable: usize,
    /// Entries with at least one chain.
    pub entries: usize,
    /// Entries whose chain list stopped at the per-entry limit (more chains exist or may).
    pub truncated_entries: usize,
    /// The searches the chains were walked from (the classic targets', then the objectives'),
    /// kept so that a patched graph is re-proved by repairing them ([`reprove`]).
    searches: Vec<Search>,
}

/// Per vertex its nearest jewels, and which vertices the internet reaches.
#[derive(Clone)]
struct Search {
    labels: Vec<Vec<Label>>,
    reachable: Vec<bool>,
    /// Per vertex, its rank among all jewels (`u32::MAX`: not a jewel).
    rank: Vec<u32>,
    k: usize,
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Search")
            .field(
                "labelled",
                &self.labels.iter().filter(|l| !l.is_empty()).count(),
            )
            .finish_non_exhaustive()
    }
}

impl Proof {
    /// Which vertices the internet reaches (what the chains were searched over), when kept.
    pub fn reachable(&self) -> Option<&[bool]> {
        self.searches.first().map(|s| s.reachable.as_slice())
    }

    /// Whether any chain exists.
    pub fn has_chains(&self) -> bool {
        !self.chains.is_empty()
    }
}

/// A chain's id as a number: `chain-` and 12 hex digits when shown (what [`chain_id`] makes).
/// Cuts name the chains they break by it — thousands each in a large cluster — and format them
/// only when shown; ordered as their text is (the digits are fixed in number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChainId(u64);

impl ChainId {
    /// Reads `chain-` and 12 hex digits.
    pub fn parse(s: &str) -> Option<ChainId> {
        let hex = s.strip_prefix("chain-")?;
        if hex.len() != 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(hex, 16).ok().map(ChainId)
    }
}

impl std::fmt::Display for ChainId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "chain-{:012x}", self.0)
    }
}

impl serde::Serialize for ChainId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Stable short hash (FNV-1a 64).
pub fn stable_id(prefix: &str, parts: &[&str]) -> String {
    parts.iter().fold(Fnv::new(), |h, p| h.part(p)).id(prefix)
}

/// The id of the chain from `entry` to `jewel`, listed or not: what the proof names it (the
/// entry's object and detail, then the jewel), so that a cut can name every chain it breaks.
pub fn chain_id(g: &SecurityGraph, entry: NodeIndex, jewel: NodeIndex) -> String {
    entry_hash(g, entry).part(&jewel_name(g, jewel)).id("chain")
}

/// The part of a chain id its entry contributes (hashed once per entry).
pub(crate) fn entry_hash(g: &SecurityGraph, entry: NodeIndex) -> Fnv {
    let (eref, edetail) = entry_key(g, entry);
    Fnv::new().part(&eref.to_string()).part(&edetail)
}

/// A jewel as chain ids name it.
pub(crate) fn jewel_name(g: &SecurityGraph, jewel: NodeIndex) -> String {
    g.vertex_ref(jewel).to_string()
}

/// FNV-1a 64 over parts, each ended by a zero byte: [`stable_id`] part by part, so that ids
/// sharing their first parts hash those once.
#[derive(Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn part(self, p: &str) -> Fnv {
        let mut h = self.0;
        for b in p.bytes().chain(std::iter::once(0u8)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Fnv(h)
    }

    pub(crate) fn id(self, prefix: &str) -> String {
        format!("{prefix}-{:012x}", self.short())
    }

    /// The 48 bits an id shows.
    pub(crate) fn short(self) -> u64 {
        self.0 >> 16
    }

    /// The chain id these parts make.
    pub(crate) fn chain(self) -> ChainId {
        ChainId(self.short())
    }
}

/// What kind of target a sink is.
pub fn target_kind(g: &SecurityGraph, ix: NodeIndex) -> TargetKind {
    use crate::objective::Objective;
    match g.graph[ix] {
        Vertex::ClusterAdmin => TargetKind::ClusterAdmin,
        Vertex::Node(_) => TargetKind::Node,
        Vertex::Secret(_) => TargetKind::Secret,
        // Every objective vertex's technique belongs to an objective.
        Vertex::Objective(i) => match g.objectives[i as usize].technique.objective() {
            Some(Objective::Impact) => TargetKind::Impact,
            Some(Objective::Exfiltration) => TargetKind::Exfiltration,
            Some(Objective::Persistence) => TargetKind::Persistence,
            Some(Objective::Collection) | None => TargetKind::Collection,
        },
        Vertex::Workload(w)
            if !g.workloads.list[w.index()]
                .has_marker(rampart_model::CROWN_JEWEL_LABEL, "true") =>
        {
            TargetKind::Collection
        }
        _ => TargetKind::CrownJewel,
    }
}

/// Whether an edge counts as a step (network plumbing is condensed into one step).
fn step_weight(kind: EdgeKind) -> usize {
    match kind {
        EdgeKind::SendsAs
        | EdgeKind::EgressOpen
        | EdgeKind::IngressOpen
        | EdgeKind::PolicyAllows
        | EdgeKind::PeerMember
        | EdgeKind::RuleAdmits
        | EdgeKind::AdmitsInto => 0,
        _ => 1,
    }
}

/// Entry sort key: object, then detail.
pub fn entry_key(g: &SecurityGraph, ix: NodeIndex) -> (ObjRef, String) {
    match g.graph[ix] {
        Vertex::Endpoint(e) => {
            let ep = &g.endpoints[e as usize];
            (ep.object.clone(), ep.detail.clone())
        }
        _ => (g.vertex_ref(ix), String::new()),
    }
}

/// One settled "nearest jewel" label of a vertex: the jewel and the distance to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Label {
    jewel: NodeIndex,
    dist: usize,
}

/// Weight of an edge in the proof metric: plumbing and the hop into a permission vertex are
/// free, every other edge is one step.
fn weight(g: &SecurityGraph, e: EdgeIndex) -> usize {
    match g.graph.edge_endpoints(e) {
        Some((_, to)) if matches!(g.graph[to], Vertex::Grant(_)) => 0,
        _ => step_weight(g.graph[e].kind),
    }
}

/// Orders vertices by what they stand for, never by index: the tie-break between equally
/// short paths, so that a chain's steps do not depend on the order the graph was built in.
fn cmp_vertices(g: &SecurityGraph, a: NodeIndex, b: NodeIndex) -> Ordering {
    // Kinds first: no names built for vertices of different kinds.
    let kind = |v: Vertex| match v {
        Vertex::Internet => 0u8,
        Vertex::Endpoint(_) => 1,
        Vertex::Workload(_) => 2,
        Vertex::NetSrc(_) => 3,
        Vertex::NetHub => 4,
        Vertex::NetDst(_) => 5,
        Vertex::Identity(_) => 6,
        Vertex::Secret(_) => 7,
        Vertex::Node(_) => 8,
        Vertex::ClusterAdmin => 9,
        Vertex::Grant(_) => 10,
        Vertex::NetPeer(_) => 11,
        Vertex::NetRule { .. } => 12,
        Vertex::NetAdmin(_) => 13,
        Vertex::NetAdminPeer { .. } => 14,
        Vertex::Objective(_) => 15,
    };
    let (va, vb) = (g.graph[a], g.graph[b]);
    kind(va).cmp(&kind(vb)).then_with(|| match (va, vb) {
        (Vertex::NetSrc(x), Vertex::NetSrc(y)) | (Vertex::NetDst(x), Vertex::NetDst(y)) => {
            g.net.class(x).signature().cmp(&g.net.class(y).signature())
        }
        _ => entry_key(g, a).cmp(&entry_key(g, b)),
    })
}

/// Which vertices the internet reaches.
fn reached_from_internet(g: &SecurityGraph) -> Vec<bool> {
    let mut seen = vec![false; g.graph.node_count()];
    let mut q = VecDeque::from([g.internet]);
    seen[g.internet.index()] = true;
    while let Some(u) = q.pop_front() {
        for v in g.graph.neighbors_directed(u, Direction::Outgoing) {
            if !seen[v.index()] {
                seen[v.index()] = true;
                q.push_back(v);
            }
        }
    }
    seen
}

/// Proves every chain of the graph.
///
/// Every entry lists its `k` nearest jewels (`k` = `max_chains_per_entry`, 0: all). Rather than
/// one search per entry (entries and graph both grow with the cluster, so that is quadratic),
/// one multi-source search runs *backwards from the jewels* and settles each vertex at most `k`
/// times, once per distinct jewel: O(k · (V + E)) for the whole graph. Labels settle in the
/// order (distance, jewel rank), jewels ranked by what they are. A vertex whose path to jewel
/// `j` runs through `u` either gets `j` from `u`, or `u` already holds `k` jewels before `j` in
/// that order, which then come before `j` for the vertex too; so each vertex holds exactly its
/// `k` first jewels in that order, whatever the graph's indices. Each chain then walks from its
/// entry along edges that keep the distance exact, taking the step to the vertex that sorts
/// first ([`cmp_vertices`]) when several do: the chains are a function of the graph as a set
/// of vertices and edges, not of the order it was built in.
///
/// The classic targets (Secrets, nodes, cluster-admin, crown jewels) and the ATT&CK objectives
/// are searched apart, each listing up to `k` per entry: a cluster's many data-holding
/// workloads sit nearer the entries than its nodes, and would otherwise crowd the classic
/// chains out of the listing.
pub fn prove(g: &SecurityGraph, opts: &ProveOptions) -> Proof {
    let reachable = reached_from_internet(g);
    let searches = jewel_groups(g)
        .iter()
        .map(|jewels| search(g, opts, jewels, reachable.clone()))
        .collect();
    walk(g, opts, searches)
}

/// The jewels of each search: the classic targets, then the objectives.
fn jewel_groups(g: &SecurityGraph) -> [Vec<NodeIndex>; 2] {
    let (objectives, classic): (Vec<NodeIndex>, Vec<NodeIndex>) = g
        .jewels
        .iter()
        .partition(|j| target_kind(g, **j).objective().is_some());
    [classic, objectives]
}

/// The per-entry limit as a label count.
fn limit(g: &SecurityGraph, opts: &ProveOptions) -> usize {
    if opts.max_chains_per_entry == 0 {
        g.jewels.len().max(1)
    } else {
        opts.max_chains_per_entry
    }
}

/// Every jewel's rank among `jewels`: by kind, then by the object it stands for.
fn ranks(g: &SecurityGraph, jewels: &[NodeIndex]) -> Vec<u32> {
    let mut jewels = jewels.to_vec();
    jewels.sort_by_cached_key(|j| (target_kind(g, *j), g.vertex_ref(*j)));
    let mut rank = vec![u32::MAX; g.graph.node_count()];
    for (i, j) in jewels.iter().enumerate() {
        rank[j.index()] = u32::try_from(i).unwrap_or(u32::MAX);
    }
    rank
}

/// The backward search from `jewels` (see [`prove`]) over what the internet reaches.
fn search(
    g: &SecurityGraph,
    opts: &ProveOptions,
    jewels: &[NodeIndex],
    reachable: Vec<bool>,
) -> Search {
    let n = g.graph.node_count();
    let k = limit(g, opts);
    // Only what the internet reaches can be on a chain, and what it does not reach has no
    // predecessor it reaches: labelling those vertices is wasted work (over half the graph in
    // a typical cluster), and skipping them changes nothing else.
    let rank = ranks(g, jewels);
    let mut labels: Vec<Vec<Label>> = vec![Vec::new(); n];
    let has = |labels: &Vec<Vec<Label>>, v: NodeIndex, j: NodeIndex| {
        labels[v.index()].iter().any(|l| l.jewel == j)
    };
    let mut jewels: Vec<NodeIndex> = jewels
        .iter()
        .copied()
        .filter(|j| reachable[j.index()])
        .collect();
    jewels.sort_by_key(|j| rank[j.index()]);
    // A bucket queue: per distance, per jewel rank, the vertices to offer that jewel to. Free
    // edges push into the bucket being drained, one-step edges into the next distance's.
    let mut current: Vec<Vec<NodeIndex>> = jewels.iter().map(|&j| vec![j]).collect();
    let mut next: Vec<Vec<NodeIndex>> = vec![Vec::new(); jewels.len()];
    let mut dist = 0;
    loop {
        let mut pending = 0usize;
        for (r, bucket) in current.iter_mut().enumerate() {
            let j = jewels[r];
            while let Some(u) = bucket.pop() {
                if labels[u.index()].len() >= k || has(&labels, u, j) {
                    continue;
                }
                labels[u.index()].push(Label { jewel: j, dist });
                for e in g.graph.edges_directed(u, Direction::Incoming) {
                    let v = e.source();
                    // Chains start at the internet's own edge; nothing walks *through* it.
                    if v == g.internet
                        || !reachable[v.index()]
                        || labels[v.index()].len() >= k
                        || has(&labels, v, j)
                    {
                        continue;
                    }
                    if weight(g, e.id()) == 0 {
                        bucket.push(v);
                    } else {
                        next[r].push(v);
                        pending += 1;
                    }
                }
            }
        }
        if pending == 0 {
            break;
        }
        std::mem::swap(&mut current, &mut next);
        dist += 1;
    }

    Search {
        labels,
        reachable,
        rank,
        k,
    }
}

/// The labels a vertex must hold given its successors' (the search's equations): its own
/// when it is a jewel, and its successors' one edge further, the first `k` distinct jewels by
/// (distance, rank).
fn settle(g: &SecurityGraph, s: &Search, v: NodeIndex) -> Vec<Label> {
    if v == g.internet || !s.reachable[v.index()] {
        return Vec::new();
    }
    let mut cand: Vec<Label> = Vec::new();
    if s.rank[v.index()] != u32::MAX {
        cand.push(Label { jewel: v, dist: 0 });
    }
    for e in g.graph.edges_directed(v, Direction::Outgoing) {
        let u = e.target();
        if u == g.internet || !s.reachable[u.index()] {
            continue;
        }
        let w = weight(g, e.id());
        cand.extend(s.labels[u.index()].iter().map(|l| Label {
            jewel: l.jewel,
            dist: l.dist + w,
        }));
    }
    cand.sort_by_key(|l| (l.dist, s.rank[l.jewel.index()]));
    let mut out: Vec<Label> = Vec::with_capacity(s.k.min(cand.len()));
    for l in cand {
        if out.len() >= s.k {
            break;
        }
        if !out.iter().any(|o| o.jewel == l.jewel) {
            out.push(l);
        }
    }
    out
}

/// Proves a patched graph again from `old`, its proof before the patch: `changed` names every
/// vertex whose out-edges the patch changed (their targets or proof weights) or that it added.
/// Falls back to a full search when `old` has none or the repair runs long.
///
/// The search's labels are the one solution of its equations ([`settle`] at every vertex): a
/// label supported only by a cycle would need a cycle of free edges, and the graph has none.
/// So the repair re-settles the changed vertices and those whose reachability changed, then
/// the predecessors of every vertex whose labels changed, until nothing changes: what it ends
/// at is what a full search finds. The chains are then walked again from the labels.
pub fn reprove(g: &SecurityGraph, opts: &ProveOptions, old: Proof, changed: &[NodeIndex]) -> Proof {
    let k = limit(g, opts);
    if old.searches.len() != 2 || old.searches.iter().any(|s| s.k != k) {
        return prove(g, opts);
    }
    let reachable = reached_from_internet(g);
    let mut searches = Vec::with_capacity(2);
    for s in old.searches {
        match repair(g, s, &reachable, changed) {
            Some(s) => searches.push(s),
            None => return prove(g, opts),
        }
    }
    walk(g, opts, searches)
}

/// One search repaired after a patch (see [`reprove`]); `None` when the repair ran long.
fn repair(
    g: &SecurityGraph,
    mut s: Search,
    reachable: &[bool],
    changed: &[NodeIndex],
) -> Option<Search> {
    let n = g.graph.node_count();
    let reachable = reachable.to_vec();
    s.labels.resize(n, Vec::new());
    s.rank.resize(n, u32::MAX);
    s.reachable.resize(n, false);
    let mut queue: VecDeque<NodeIndex> = changed.iter().copied().collect();
    for (i, (a, b)) in s.reachable.iter().zip(&reachable).enumerate() {
        if a != b {
            queue.push_back(NodeIndex::new(i));
        }
    }
    s.reachable = reachable;
    let mut queued = vec![false; n];
    for v in &queue {
        queued[v.index()] = true;
    }
    // A bound on the work: past it a full search is cheaper.
    let mut budget = n / 4 + 4 * queue.len();
    while let Some(v) = queue.pop_front() {
        queued[v.index()] = false;
        if budget == 0 {
            return None;
        }
        budget -= 1;
        let now = settle(g, &s, v);
        if now == s.labels[v.index()] {
            continue;
        }
        s.labels[v.index()] = now;
        for p in g.graph.neighbors_directed(v, Direction::Incoming) {
            if !queued[p.index()] {
                queued[p.index()] = true;
                queue.push_back(p);
            }
        }
    }
    Some(s)
}

/// A step of a chain: the edge, where it leads and what it weighs.
type Step = (EdgeIndex, NodeIndex, usize);

/// Walks every entry's chains from the search's labels.
fn walk(g: &SecurityGraph, opts: &ProveOptions, searches: Vec<Search>) -> Proof {
    let n = g.graph.node_count();
    let mut proof = Proof::default();
    // Per vertex, the step chosen towards each jewel (a few at most: a short list).
    let mut steps: Vec<Vec<(NodeIndex, Option<Step>)>> = vec![Vec::new(); n];
    // Each jewel's name, as chain ids hash it.
    let mut names: HashMap<NodeIndex, String> = HashMap::new();
    let mut entries: Vec<(NodeIndex, EdgeIndex)> = g
        .graph
        .edges_directed(g.internet, Direction::Outgoing)
        .map(|e| (e.target(), e.id()))
        .collect();
    entries.sort_by_cached_key(|(ix, _)| entry_key(g, *ix));
    for (entry, exposes) in entries {
        // Each search's labels, with the search they come from.
        let mut reached: Vec<(usize, Label)> = Vec::new();
        let mut truncated = false;
        for (i, s) in searches.iter().enumerate() {
            let before = reached.len();
            reached.extend(
                s.labels[entry.index()]
                    .iter()
                    .copied()
                    .filter(|l| l.jewel != entry)
                    .map(|l| (i, l)),
            );
            truncated |= reached.len() - before >= s.k;
        }
        if reached.is_empty() {
            continue;
        }
        proof.entries += 1;
        if truncated && opts.max_chains_per_entry != 0 {
            proof.truncated_entries += 1;
        }
        // By distance, then the classic targets before the objectives, then jewel rank (kind,
        // then object).
        reached.sort_by_key(|(i, l)| (l.dist, *i, searches[*i].rank[l.jewel.index()]));
        let (eref, edetail) = entry_key(g, entry);
        let from = Fnv::new().part(&eref.to_string()).part(&edetail);
        for (i, l) in reached {
            let (labels, reachable) = (&searches[i].labels, &searches[i].reachable);
            let mut edges = vec![exposes];
            let mut cur = entry;
            let mut left = l.dist;
            // A step always exists (the label came from one), and the walk ends because no
            // cycle of free edges exists (network plumbing ends at a class's receiving side,
            // whose edge to its workloads is a step; a permission vertex's edges are steps); the
            // bound guards against a broken invariant turning into an endless loop. Chains to
            // one jewel share their tails: each (vertex, jewel) step is chosen once.
            while cur != l.jewel && edges.len() <= n + 1 {
                let known = steps[cur.index()].iter().find(|(j, _)| *j == l.jewel);
                let chosen = match known {
                    Some((_, e)) => *e,
                    None => {
                        let e = step(g, labels, reachable, cur, l.jewel, left).map(|e| {
                            let to = g.graph.edge_endpoints(e).map_or(l.jewel, |(_, b)| b);
                            (e, to, weight(g, e))
                        });
                        steps[cur.index()].push((l.jewel, e));
                        e
                    }
                };
                let Some((e, to, w)) = chosen else {
                    break;
                };
                edges.push(e);
                left -= w;
                cur = to;
            }
            debug_assert_eq!(cur, l.jewel);
            let name = names
                .entry(l.jewel)
                .or_insert_with(|| g.vertex_ref(l.jewel).to_string());
            let id = from.part(name).id("chain");
            proof.chains.push(Chain {
                id,
                entry,
                target: l.jewel,
                target_kind: target_kind(g, l.jewel),
                technique: g.technique(l.jewel),
                edges,
                length: l.dist + 1,
                confidence: Confidence::Proven,
            });
        }
    }
    proof.jewels_reachable = match searches.first() {
        Some(s) => g.jewels.iter().filter(|j| s.reachable[j.index()]).count(),
        None => 0,
    };
    proof.searches = searches;
    proof
}

/// The next step of a shortest path from `v` to jewel `j` at distance `left`: an edge to a
/// vertex holding `j` at the remaining distance, the first such vertex in [`cmp_vertices`]
/// order; between parallel edges (one per workload that puts a Secret on a node, say), the
/// first by kind, evidence, ports and grants. (Two edges equal in all of that render the same.)
fn step(
    g: &SecurityGraph,
    labels: &[Vec<Label>],
    reachable: &[bool],
    v: NodeIndex,
    j: NodeIndex,
    left: usize,
) -> Option<EdgeIndex> {
    let mut best: Option<(NodeIndex, EdgeIndex)> = None;
    for e in g.graph.edges_directed(v, Direction::Outgoing) {
        let u = e.target();
        if u == g.internet || !reachable[u.index()] {
            continue;
        }
        // The target's label for `j` first (a vertex holds one per jewel): most targets have
        // none, and the edge's weight is only read for those that do.
        let Some(l) = labels[u.index()].iter().find(|l| l.jewel == j) else {
            continue;
        };
        if l.dist + weight(g, e.id()) != left {
            continue;
        }
        let better = match best {
            None => true,
            Some((bu, be)) => {
                let (x, y) = (e.weight(), &g.graph[be]);
                cmp_vertices(g, u, bu)
                    .then_with(|| x.kind.cmp(&y.kind))
                    .then_with(|| x.evidence.cmp(&y.evidence))
                    .then_with(|| x.ports.cmp(&y.ports))
                    .then_with(|| x.grants.cmp(&y.grants))
                    == Ordering::Less
            }
        };
        if better {
            best = Some((u, e.id()));
        }
    }
    best.map(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_id_reads_back_what_it_shows_and_sorts_as_its_text() {
        let a = Fnv::new().part("entry").part("jewel");
        let shown = a.id("chain");
        assert_eq!(a.chain().to_string(), shown);
        assert_eq!(ChainId::parse(&shown), Some(a.chain()));
        let b = Fnv::new().part("other");
        assert_eq!(
            a.chain().cmp(&b.chain()),
            shown.cmp(&b.id("chain")),
            "ordered as their text"
        );
        for bad in [
            "chain-1",
            "cut-000000000001",
            "chain-00000000000g",
            "chain-0000000000001",
        ] {
            assert_eq!(ChainId::parse(bad), None, "{bad}");
        }
        assert_eq!(
            serde_json::to_string(&[a.chain()]).ok(),
            Some(format!("[\"{shown}\"]"))
        );
    }
}
