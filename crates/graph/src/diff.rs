//! What changed between two analyses of the same cluster — the first question the engine
//! answers after every change: which relations and which chains appeared or disappeared.
//! Vertices are matched by the objects they stand for, chains by their stable ids.

use std::collections::{BTreeSet, HashSet};

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

/// One fingerprint per relation. Vertices are hashed once (by the object they stand for), edges
/// combine their endpoints' hashes: no per-edge allocation, which keeps a diff of two 10k-pod
/// graphs in milliseconds.
fn fingerprints(a: &Analysis) -> Vec<(u64, petgraph::graph::EdgeIndex)> {
    let g = &a.graph;
    let vertex: Vec<u64> = g
        .graph
        .node_indices()
        .map(|v| {
            let r = g.vertex_ref(v);
            fnv(
                fnv(
                    fnv(0xcbf2_9ce4_8422_2325, r.kind.as_bytes()),
                    r.namespace.as_bytes(),
                ),
                r.name.as_bytes(),
            )
        })
        .collect();
    g.graph
        .edge_references()
        .map(|e| {
            let h = fnv(
                vertex[e.source().index()],
                e.weight().kind.as_str().as_bytes(),
            );
            (h ^ vertex[e.target().index()].rotate_left(17), e.id())
        })
        .collect()
}

fn relation(a: &Analysis, e: petgraph::graph::EdgeIndex) -> Option<Relation> {
    let g = &a.graph;
    let (x, y) = g.graph.edge_endpoints(e)?;
    Some(Relation {
        edge: g.graph[e].kind.as_str(),
        from: g.vertex_ref(x),
        to: g.vertex_ref(y),
    })
}

/// Relations of `a` whose fingerprint is not in `other`, sorted.
fn only_in(
    a: &Analysis,
    fa: &[(u64, petgraph::graph::EdgeIndex)],
    other: &HashSet<u64>,
) -> Vec<Relation> {
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
    let (fb, fa) = (fingerprints(before), fingerprints(after));
    let hb: HashSet<u64> = fb.iter().map(|x| x.0).collect();
    let ha: HashSet<u64> = fa.iter().map(|x| x.0).collect();
    let (cb, ca) = (chain_ids(before), chain_ids(after));
    ThreatDiff {
        relations_added: only_in(after, &fa, &hb),
        relations_removed: only_in(before, &fb, &ha),
        chains_added: ca.difference(&cb).cloned().collect(),
        chains_removed: cb.difference(&ca).cloned().collect(),
        jewels_reachable: (before.proof.jewels_reachable, after.proof.jewels_reachable),
    }
}

/// What [`diff_from`] needs of an analysis that is about to be patched in place: its relations
/// as fingerprints, the relations the patch may remove spelled out, its chains.
#[derive(Debug)]
pub struct Baseline {
    fingerprints: HashSet<u64>,
    local: Vec<(u64, Relation)>,
    chains: BTreeSet<String>,
    jewels_reachable: usize,
}

impl Baseline {
    /// Captures `a` before a patch that changes edges or names of the `touched` vertices only
    /// (so every relation elsewhere survives it).
    pub fn capture(a: &Analysis, touched: &[petgraph::graph::NodeIndex]) -> Baseline {
        let fa = fingerprints(a);
        let mut local = Vec::new();
        let mut seen = HashSet::new();
        for &v in touched {
            for dir in [petgraph::Direction::Outgoing, petgraph::Direction::Incoming] {
                for e in a.graph.graph.edges_directed(v, dir) {
                    if seen.insert(e.id())
                        && let Some(r) = relation(a, e.id())
                    {
                        local.push((fa[e.id().index()].0, r));
                    }
                }
            }
        }
        Baseline {
            fingerprints: fa.into_iter().map(|x| x.0).collect(),
            local,
            chains: chain_ids(a),
            jewels_reachable: a.proof.jewels_reachable,
        }
    }
}

/// Compares a captured analysis with what the patch made of it: the same answer as [`diff`]
/// of the two, when the patch kept to the vertices the baseline was told of.
pub fn diff_from(before: Baseline, after: &Analysis) -> ThreatDiff {
    let fa = fingerprints(after);
    let ha: HashSet<u64> = fa.iter().map(|x| x.0).collect();
    let removed: BTreeSet<Relation> = before
        .local
        .into_iter()
        .filter(|(h, _)| !ha.contains(h))
        .map(|(_, r)| r)
        .collect();
    let ca = chain_ids(after);
    ThreatDiff {
        relations_added: only_in(after, &fa, &before.fingerprints),
        relations_removed: removed.into_iter().collect(),
        chains_added: ca.difference(&before.chains).cloned().collect(),
        chains_removed: before.chains.difference(&ca).cloned().collect(),
        jewels_reachable: (before.jewels_reachable, after.proof.jewels_reachable),
    }
}
