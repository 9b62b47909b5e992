//! What changed between two analyses of the same cluster — the first question the engine
//! answers after every change: which relations and which chains appeared or disappeared.
//! Vertices are matched by the objects they stand for, chains by their stable ids.

use std::collections::{BTreeSet, HashMap, HashSet};

use petgraph::Direction;
use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::Analysis;
use crate::model::ObjRef;

/// One relation, independent of graph indices.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Relation {
    /// Edge kind (`routes-to`, `reads-secret`, …).
    pub edge: &'static str,
    /// From.
    pub from: ObjRef,
    /// To.
    pub to: ObjRef,
}

/// Most relations a diff lists each way (the first in order; the totals say how many there
/// were). A first analysis adds every relation of the cluster, tens of thousands at 10k pods:
/// listed, they made the engine's standing report ~7 MB and said nothing a reader could use.
pub const MAX_LISTED_RELATIONS: usize = 1_000;

/// The difference between two analyses.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ThreatDiff {
    /// Relations only in the newer analysis, in order, at most [`MAX_LISTED_RELATIONS`].
    pub relations_added: Vec<Relation>,
    /// How many relations only the newer analysis has.
    pub relations_added_total: usize,
    /// Relations only in the older analysis, in order, at most [`MAX_LISTED_RELATIONS`].
    pub relations_removed: Vec<Relation>,
    /// How many relations only the older analysis has.
    pub relations_removed_total: usize,
    /// Chain ids only in the newer analysis.
    pub chains_added: Vec<String>,
    /// Chain ids only in the older analysis.
    pub chains_removed: Vec<String>,
    /// Reachable crown jewels before and after.
    pub jewels_reachable: (usize, usize),
}

impl ThreatDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.relations_added.is_empty()
            && self.relations_removed.is_empty()
            && self.chains_added.is_empty()
            && self.chains_removed.is_empty()
    }
}

/// FNV-1a over bytes, continuing from `h`, then a terminator (so that `ab|c` and `a|bc`
/// differ).
fn fnv(h: u64, bytes: &[u8]) -> u64 {
    fnv_parts(h, &[bytes])
}

/// [`fnv`] of the concatenation of `parts`, without concatenating them.
fn fnv_parts(mut h: u64, parts: &[&[u8]]) -> u64 {
    // Plain loops: a chained iterator per byte cost several times as much.
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h ^= 0xff;
    h.wrapping_mul(0x0100_0000_01b3)
}

/// The hash of a reference `kind`, `namespace`, `name` (`name` given in parts).
fn ref_hash(kind: &str, namespace: &str, name: &[&[u8]]) -> u64 {
    fnv_parts(
        fnv(
            fnv(0xcbf2_9ce4_8422_2325, kind.as_bytes()),
            namespace.as_bytes(),
        ),
        name,
    )
}

/// A vertex's hash, by the object it stands for: the hash of [`SecurityGraph::vertex_ref`]'s
/// kind, namespace and name, computed from borrowed strings (a diff hashes every vertex of two
/// graphs; building the references allocated three strings a vertex, and a class's name its
/// members' names).
///
/// [`SecurityGraph::vertex_ref`]: crate::SecurityGraph::vertex_ref
fn vertex_hash(g: &crate::SecurityGraph, v: NodeIndex) -> u64 {
    use crate::model::Vertex;
    use crate::rbac::SubjectKey;
    match g.graph[v] {
        Vertex::Workload(w) => {
            let w = &g.workloads.list[w.index()];
            ref_hash(w.kind.as_str(), &w.namespace, &[w.name.as_bytes()])
        }
        Vertex::Endpoint(e) => {
            let o = &g.endpoints[e as usize].object;
            ref_hash(&o.kind, &o.namespace, &[o.name.as_bytes()])
        }
        Vertex::Identity(i) => match &g.identities[i as usize] {
            SubjectKey::ServiceAccount { namespace, name } => {
                ref_hash("ServiceAccount", namespace, &[name.as_bytes()])
            }
            SubjectKey::User(u) => ref_hash("User", "", &[u.as_bytes()]),
            SubjectKey::Group(n) => ref_hash("Group", "", &[n.as_bytes()]),
        },
        Vertex::Secret(s) => {
            let s = &g.secrets[s as usize];
            ref_hash("Secret", &s.namespace, &[s.name.as_bytes()])
        }
        Vertex::Grant(i) => ref_hash("Permission", "", &[g.grants[i as usize].as_bytes()]),
        // The others: few (Internet, ClusterAdmin, the hub, nodes, policy peers and rules),
        // or named in linear time (classes).
        _ => {
            let r = g.vertex_ref(v);
            ref_hash(&r.kind, &r.namespace, &[r.name.as_bytes()])
        }
    }
}

/// A relation's fingerprint from its ends' hashes.
fn edge_fingerprint(from: u64, kind: crate::model::EdgeKind, to: u64) -> u64 {
    // The kind by its discriminant: fingerprints live in one process only.
    fnv(from, &[kind as u8]) ^ to.rotate_left(17)
}

/// One fingerprint per relation. Vertices are hashed once (by the object they stand for), edges
/// combine their endpoints' hashes: no per-edge allocation, which keeps a diff of two 10k-pod
/// graphs in milliseconds.
fn fingerprints(a: &Analysis) -> Vec<(u64, EdgeIndex)> {
    graph_fingerprints(&a.graph)
}

fn graph_fingerprints(g: &crate::SecurityGraph) -> Vec<(u64, EdgeIndex)> {
    let vertex: Vec<u64> = g.graph.node_indices().map(|v| vertex_hash(g, v)).collect();
    g.graph
        .edge_references()
        .map(|e| {
            let h = edge_fingerprint(
                vertex[e.source().index()],
                e.weight().kind,
                vertex[e.target().index()],
            );
            (h, e.id())
        })
        .collect()
}

fn relation(a: &Analysis, e: EdgeIndex) -> Option<Relation> {
    let g = &a.graph;
    let (x, y) = g.graph.edge_endpoints(e)?;
    Some(Relation {
        edge: g.graph[e].kind.as_str(),
        from: g.vertex_ref(x),
        to: g.vertex_ref(y),
    })
}

/// Relations of `a` whose fingerprint `other` does not count, sorted.
fn only_in(a: &Analysis, fa: &[(u64, EdgeIndex)], other: &RelationIndex) -> BTreeSet<Relation> {
    fa.iter()
        .filter(|(h, _)| other.count(*h) == 0)
        .filter_map(|(_, e)| relation(a, *e))
        .collect()
}

/// The first [`MAX_LISTED_RELATIONS`] of `set`, and how many it holds.
fn listed(set: BTreeSet<Relation>) -> (Vec<Relation>, usize) {
    let total = set.len();
    (set.into_iter().take(MAX_LISTED_RELATIONS).collect(), total)
}

fn chain_ids(a: &Analysis) -> BTreeSet<String> {
    a.proof.chains.iter().map(|c| c.id.clone()).collect()
}

/// Compares `before` with `after`.
pub fn diff(before: &Analysis, after: &Analysis) -> ThreatDiff {
    let fa = fingerprints(after);
    fingerprinted(before, after, &fa, &RelationIndex::count_of(&fa))
}

/// [`diff`], and `after`'s relations counted on the way: what a patch of `after` later
/// reports its threat diff from, and what the next diff against `after` starts from. When
/// `after` has its relations counted already ([`crate::reanalyze`] counts them while the cut is
/// worked out), they are read, not counted again.
pub fn diff_indexing(before: &Analysis, after: &mut Analysis) -> ThreatDiff {
    let index = match after.graph.relations.take() {
        Some(index) if index.edges.is_some() => index,
        _ => RelationIndex::keeping(fingerprints(after)),
    };
    let fa = index.edges.as_deref().unwrap_or_default();
    let d = fingerprinted(before, after, fa, &index);
    after.graph.relations = Some(index);
    d
}

/// [`diff`], given `after`'s fingerprints and their count. `before`'s relations are read from
/// its index when it has one; its edges are hashed only when some relation is gone, to name
/// it.
fn fingerprinted(
    before: &Analysis,
    after: &Analysis,
    fa: &[(u64, EdgeIndex)],
    after_index: &RelationIndex,
) -> ThreatDiff {
    let counted;
    let before_index = match &before.graph.relations {
        Some(i) => i,
        None => {
            counted = RelationIndex::keeping(fingerprints(before));
            &counted
        }
    };
    let gone = before_index
        .counts
        .keys()
        .any(|h| after_index.count(*h) == 0);
    let (cb, ca) = (chain_ids(before), chain_ids(after));
    let (relations_added, relations_added_total) = listed(only_in(after, fa, before_index));
    let (relations_removed, relations_removed_total) = listed(match &before_index.edges {
        _ if !gone => BTreeSet::new(),
        Some(fb) => only_in(before, fb, after_index),
        None => only_in(before, &fingerprints(before), after_index),
    });
    ThreatDiff {
        relations_added,
        relations_added_total,
        relations_removed,
        relations_removed_total,
        chains_added: ca.difference(&cb).cloned().collect(),
        chains_removed: cb.difference(&ca).cloned().collect(),
        jewels_reachable: (before.proof.jewels_reachable, after.proof.jewels_reachable),
    }
}

/// How many edges of a graph carry each relation (by fingerprint): what lets a patch report
/// its threat diff from the edges it touched alone.
#[derive(Debug, Clone, Default)]
pub struct RelationIndex {
    /// Keyed by fingerprint with a fast, per-process seeded hash (SipHash made counting and
    /// looking up a 10k-pod graph's relations ~3 ms of every re-proof).
    counts: HashMap<u64, u32, foldhash::fast::RandomState>,
    /// Every edge's fingerprint, as the graph was when they were counted: the next full diff
    /// names the relations gone from them without hashing this graph again. Dropped when a
    /// patch changes the graph (the counts are kept current, these would not be).
    edges: Option<Vec<(u64, EdgeIndex)>>,
}

impl RelationIndex {
    fn count_of(fingerprints: &[(u64, EdgeIndex)]) -> RelationIndex {
        let mut counts: HashMap<u64, u32, foldhash::fast::RandomState> =
            HashMap::with_capacity_and_hasher(fingerprints.len(), Default::default());
        for (h, _) in fingerprints {
            *counts.entry(*h).or_default() += 1;
        }
        RelationIndex {
            counts,
            edges: None,
        }
    }

    /// Every relation of `g`, counted and kept (what [`diff_indexing`] reads).
    pub(crate) fn of(g: &crate::SecurityGraph) -> RelationIndex {
        RelationIndex::keeping(graph_fingerprints(g))
    }

    /// [`RelationIndex::count_of`], keeping the fingerprints (a later diff reads them).
    fn keeping(fingerprints: Vec<(u64, EdgeIndex)>) -> RelationIndex {
        let mut index = RelationIndex::count_of(&fingerprints);
        index.edges = Some(fingerprints);
        index
    }

    fn count(&self, h: u64) -> u32 {
        self.counts.get(&h).copied().unwrap_or(0)
    }

    fn add(&mut self, h: u64, by: i64) {
        let c = self.counts.entry(h).or_default();
        *c = u32::try_from(i64::from(*c) + by).unwrap_or(0);
        if *c == 0 {
            self.counts.remove(&h);
        }
    }
}

/// The relations on the edges of `vertices`, each edge once.
fn local(a: &Analysis, vertices: &[NodeIndex]) -> Vec<(u64, Relation)> {
    let g = &a.graph;
    let mut hashes: HashMap<NodeIndex, u64> = HashMap::new();
    let mut hash = |v: NodeIndex| *hashes.entry(v).or_insert_with(|| vertex_hash(g, v));
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for &v in vertices {
        for dir in [Direction::Outgoing, Direction::Incoming] {
            for e in g.graph.edges_directed(v, dir) {
                if !seen.insert(e.id()) {
                    continue;
                }
                let h = edge_fingerprint(hash(e.source()), e.weight().kind, hash(e.target()));
                if let Some(r) = relation(a, e.id()) {
                    out.push((h, r));
                }
            }
        }
    }
    out
}

/// What [`diff_from`] needs of an analysis that is about to be patched in place.
#[derive(Debug)]
pub struct Baseline {
    /// Relations of the edges outside the patch, counted.
    index: RelationIndex,
    /// Relations of the edges the patch may change.
    local: Vec<(u64, Relation)>,
    chains: BTreeSet<String>,
    jewels_reachable: usize,
}

impl Baseline {
    /// Captures `a` before a patch that changes edges or names of the `touched` vertices only
    /// (so every relation elsewhere survives it). Takes the graph's [`RelationIndex`], built on
    /// first use, which [`diff_from`] gives back updated.
    pub fn capture(a: &mut Analysis, touched: &[NodeIndex]) -> Baseline {
        let mut index = a
            .graph
            .relations
            .take()
            .unwrap_or_else(|| RelationIndex::count_of(&fingerprints(a)));
        // The patch moves edges: the fingerprints per edge index no longer hold.
        index.edges = None;
        let local = local(a, touched);
        for (h, _) in &local {
            index.add(*h, -1);
        }
        Baseline {
            index,
            local,
            chains: chain_ids(a),
            jewels_reachable: a.proof.jewels_reachable,
        }
    }
}

/// Compares a captured analysis with what the patch made of it, `touched` now naming every
/// vertex the patch changed (those captured and any it added): the same answer as [`diff`] of
/// the two.
pub fn diff_from(before: Baseline, after: &mut Analysis, touched: &[NodeIndex]) -> ThreatDiff {
    let Baseline {
        mut index,
        local: was,
        chains,
        jewels_reachable,
    } = before;
    let is = local(after, touched);
    let had: HashSet<u64> = was.iter().map(|(h, _)| *h).collect();
    let added: BTreeSet<Relation> = is
        .iter()
        .filter(|(h, _)| index.count(*h) == 0 && !had.contains(h))
        .map(|(_, r)| r.clone())
        .collect();
    for (h, _) in &is {
        index.add(*h, 1);
    }
    let removed: BTreeSet<Relation> = was
        .into_iter()
        .filter(|(h, _)| index.count(*h) == 0)
        .map(|(_, r)| r)
        .collect();
    after.graph.relations = Some(index);
    let ca = chain_ids(after);
    let (relations_added, relations_added_total) = listed(added);
    let (relations_removed, relations_removed_total) = listed(removed);
    ThreatDiff {
        relations_added,
        relations_added_total,
        relations_removed,
        relations_removed_total,
        chains_added: ca.difference(&chains).cloned().collect(),
        chains_removed: chains.difference(&ca).cloned().collect(),
        jewels_reachable: (jewels_reachable, after.proof.jewels_reachable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::tests::{graph, pod};

    /// The allocation-free hash is the hash of the reference every vertex prints as: class
    /// vertices of one to five members (names cut after three), workloads, identities,
    /// Secrets, permissions, nodes, endpoints, policy peers and rules.
    #[test]
    fn vertex_hashes_are_the_hashes_of_vertex_refs() {
        let mut yaml = String::new();
        for i in 0..5 {
            yaml.push_str(&pod(
                &format!("w{i}"),
                "  serviceAccountName: sa\n  nodeName: n1\n  containers: [{name: c, image: x, \
                 env: [{name: K, valueFrom: {secretKeyRef: {name: s, key: k}}}]}]",
            ));
        }
        yaml.push_str(&pod("solo", "  hostNetwork: true"));
        yaml.push_str(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: app}\n\
             spec: {podSelector: {matchLabels: {app: w0}}, ingress: [{from: [{podSelector: {matchLabels: {app: w1}}}]}]}\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb, namespace: app}\n\
             roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}\n\
             subjects: [{kind: ServiceAccount, name: sa, namespace: app}, {kind: User, name: u}, {kind: Group, name: g}]\n---\n\
             apiVersion: v1\nkind: Service\nmetadata: {name: lb, namespace: app}\n\
             spec: {type: LoadBalancer, selector: {app: w2}, ports: [{port: 80}]}\n",
        );
        let g = graph(&yaml);
        let mut kinds = BTreeSet::new();
        for v in g.graph.node_indices() {
            let r = g.vertex_ref(v);
            let want = fnv(
                fnv(
                    fnv(0xcbf2_9ce4_8422_2325, r.kind.as_bytes()),
                    r.namespace.as_bytes(),
                ),
                r.name.as_bytes(),
            );
            assert_eq!(vertex_hash(&g, v), want, "{r}");
            kinds.insert(r.kind.clone());
        }
        for k in [
            "PodsFrom",
            "PodsTo",
            "Pod",
            "ServiceAccount",
            "User",
            "Group",
            "Secret",
            "Permission",
            "Node",
            "Service",
            "PolicyPeer",
        ] {
            assert!(kinds.contains(k), "no {k} vertex in {kinds:?}");
        }
    }
}
