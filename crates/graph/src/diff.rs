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

/// The difference between two analyses.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ThreatDiff {
    /// Relations only in the newer analysis.
    pub relations_added: Vec<Relation>,
    /// Relations only in the older analysis.
    pub relations_removed: Vec<Relation>,
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

/// FNV-1a over bytes, continuing from `h`.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes.iter().chain(std::iter::once(&0xffu8)) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A vertex's hash, by the object it stands for.
fn vertex_hash(g: &crate::SecurityGraph, v: NodeIndex) -> u64 {
    let r = g.vertex_ref(v);
    fnv(
        fnv(
            fnv(0xcbf2_9ce4_8422_2325, r.kind.as_bytes()),
            r.namespace.as_bytes(),
        ),
        r.name.as_bytes(),
    )
}

/// A relation's fingerprint from its ends' hashes.
fn edge_fingerprint(from: u64, kind: crate::model::EdgeKind, to: u64) -> u64 {
    fnv(from, kind.as_str().as_bytes()) ^ to.rotate_left(17)
}

/// One fingerprint per relation. Vertices are hashed once (by the object they stand for), edges
/// combine their endpoints' hashes: no per-edge allocation, which keeps a diff of two 10k-pod
/// graphs in milliseconds.
fn fingerprints(a: &Analysis) -> Vec<(u64, EdgeIndex)> {
    let g = &a.graph;
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

/// Relations of `a` whose fingerprint is not in `other`, sorted.
fn only_in(a: &Analysis, fa: &[(u64, EdgeIndex)], other: &HashSet<u64>) -> Vec<Relation> {
    let set: BTreeSet<Relation> = fa
        .iter()
        .filter(|(h, _)| !other.contains(h))
        .filter_map(|(_, e)| relation(a, *e))
        .collect();
    set.into_iter().collect()
}

fn chain_ids(a: &Analysis) -> BTreeSet<String> {
    a.proof.chains.iter().map(|c| c.id.clone()).collect()
}

/// Compares `before` with `after`.
pub fn diff(before: &Analysis, after: &Analysis) -> ThreatDiff {
    fingerprinted(before, after, &fingerprints(after))
}

/// [`diff`], and `after`'s relations counted on the way (its fingerprints are computed once):
/// what a patch of `after` later reports its threat diff from.
pub fn diff_indexing(before: &Analysis, after: &mut Analysis) -> ThreatDiff {
    let fa = fingerprints(after);
    let d = fingerprinted(before, after, &fa);
    after.graph.relations = Some(RelationIndex::count_of(&fa));
    d
}

/// [`diff`], given `after`'s fingerprints.
fn fingerprinted(before: &Analysis, after: &Analysis, fa: &[(u64, EdgeIndex)]) -> ThreatDiff {
    let fb = fingerprints(before);
    let hb: HashSet<u64> = fb.iter().map(|x| x.0).collect();
    let ha: HashSet<u64> = fa.iter().map(|x| x.0).collect();
    let (cb, ca) = (chain_ids(before), chain_ids(after));
    ThreatDiff {
        relations_added: only_in(after, fa, &hb),
        relations_removed: only_in(before, &fb, &ha),
        chains_added: ca.difference(&cb).cloned().collect(),
        chains_removed: cb.difference(&ca).cloned().collect(),
        jewels_reachable: (before.proof.jewels_reachable, after.proof.jewels_reachable),
    }
}

/// How many edges of a graph carry each relation (by fingerprint): what lets a patch report
/// its threat diff from the edges it touched alone.
#[derive(Debug, Clone, Default)]
pub struct RelationIndex {
    counts: HashMap<u64, u32>,
}

impl RelationIndex {
    fn count_of(fingerprints: &[(u64, EdgeIndex)]) -> RelationIndex {
        let mut counts: HashMap<u64, u32> = HashMap::new();
        for (h, _) in fingerprints {
            *counts.entry(*h).or_default() += 1;
        }
        RelationIndex { counts }
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
    ThreatDiff {
        relations_added: added.into_iter().collect(),
        relations_removed: removed.into_iter().collect(),
        chains_added: ca.difference(&chains).cloned().collect(),
        chains_removed: chains.difference(&ca).cloned().collect(),
        jewels_reachable: (jewels_reachable, after.proof.jewels_reachable),
    }
}
