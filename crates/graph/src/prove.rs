//! Chain proof: every path Internet → entry → … → crown jewel, shortest first, coalesced per
//! internet-facing entry.

use std::collections::VecDeque;

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
    /// Distinct crown jewels reachable from the internet at all.
    pub jewels_reachable: usize,
    /// Entries with at least one chain.
    pub entries: usize,
    /// Entries whose chain list stopped at the per-entry limit (more chains exist or may).
    pub truncated_entries: usize,
}

impl Proof {
    /// Whether any chain exists.
    pub fn has_chains(&self) -> bool {
        !self.chains.is_empty()
    }
}

/// Stable short hash (FNV-1a 64).
pub fn stable_id(prefix: &str, parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0u8)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{prefix}-{:012x}", h >> 16)
}

fn target_kind(g: &SecurityGraph, ix: NodeIndex) -> TargetKind {
    match g.graph[ix] {
        Vertex::ClusterAdmin => TargetKind::ClusterAdmin,
        Vertex::Node(_) => TargetKind::Node,
        Vertex::Secret(_) => TargetKind::Secret,
        _ => TargetKind::CrownJewel,
    }
}

/// Whether an edge counts as a step (network plumbing is condensed into one step).
fn step_weight(kind: EdgeKind) -> usize {
    match kind {
        EdgeKind::SendsAs
        | EdgeKind::EgressOpen
        | EdgeKind::IngressOpen
        | EdgeKind::PolicyAllows => 0,
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

/// Proves every chain of the graph.
pub fn prove(g: &SecurityGraph, opts: &ProveOptions) -> Proof {
    let n = g.graph.node_count();
    let mut dist = vec![usize::MAX; n];
    let mut parent: Vec<Option<EdgeIndex>> = vec![None; n];
    let mut stamp = vec![0u32; n];
    let mut round = 0u32;
    let mut proof = Proof::default();
    let mut entries: Vec<(NodeIndex, EdgeIndex)> = g
        .graph
        .edges_directed(g.internet, Direction::Outgoing)
        .map(|e| (e.target(), e.id()))
        .collect();
    entries.sort_by_key(|(ix, _)| entry_key(g, *ix));
    let jewel_mark: Vec<bool> = {
        let mut v = vec![false; n];
        for j in &g.jewels {
            v[j.index()] = true;
        }
        v
    };
    for (entry, exposes) in entries {
        round += 1;
        let mut dq: VecDeque<NodeIndex> = VecDeque::new();
        stamp[entry.index()] = round;
        dist[entry.index()] = 0;
        parent[entry.index()] = None;
        dq.push_back(entry);
        let mut reached: Vec<NodeIndex> = Vec::new();
        let limit = if opts.max_chains_per_entry == 0 {
            usize::MAX
        } else {
            opts.max_chains_per_entry
        };
        let mut finalized = 0usize;
        let mut stop_after: Option<usize> = None;
        let mut truncated = false;
        // 0-1 BFS: plumbing edges weigh 0. Vertices pop in distance order, so once `limit`
        // jewels are final the rest of their distance level is finished and the search stops:
        // the listing costs what it shows, not the whole reachable graph.
        while let Some(u) = dq.pop_front() {
            let du = dist[u.index()];
            if let Some(d) = stop_after {
                if du > d {
                    truncated = true;
                    break;
                }
            }
            if jewel_mark[u.index()] && u != entry {
                finalized += 1;
                if finalized >= limit && stop_after.is_none() {
                    stop_after = Some(du);
                }
            }
            for e in g.graph.edges_directed(u, Direction::Outgoing) {
                let v = e.target();
                if v == g.internet {
                    continue;
                }
                let w = if matches!(g.graph[v], Vertex::Grant(_)) {
                    0
                } else {
                    step_weight(e.weight().kind)
                };
                let nd = du + w;
                if stamp[v.index()] != round || nd < dist[v.index()] {
                    let first = stamp[v.index()] != round;
                    stamp[v.index()] = round;
                    dist[v.index()] = nd;
                    parent[v.index()] = Some(e.id());
                    if first && jewel_mark[v.index()] {
                        reached.push(v);
                    }
                    if w == 0 {
                        dq.push_front(v);
                    } else {
                        dq.push_back(v);
                    }
                }
            }
        }
        if reached.is_empty() {
            continue;
        }
        proof.entries += 1;
        if truncated {
            proof.truncated_entries += 1;
        }
        // Only jewels whose distance is final (popped) are listed.
        if let Some(d) = stop_after {
            reached.retain(|j| dist[j.index()] <= d);
        }
        reached.sort_by_cached_key(|a| (dist[a.index()], target_kind(g, *a), g.vertex_ref(*a)));
        let (eref, edetail) = entry_key(g, entry);
        for t in reached.into_iter().take(limit) {
            let mut edges = Vec::new();
            let mut cur = t;
            while let Some(e) = parent[cur.index()] {
                edges.push(e);
                cur = g.graph.edge_endpoints(e).map(|(a, _)| a).unwrap_or(entry);
                if cur == entry {
                    break;
                }
            }
            edges.push(exposes);
            edges.reverse();
            let tref = g.vertex_ref(t);
            let id = stable_id("chain", &[&eref.to_string(), &edetail, &tref.to_string()]);
            proof.chains.push(Chain {
                id,
                entry,
                target: t,
                target_kind: target_kind(g, t),
                edges,
                length: dist[t.index()] + 1,
                confidence: Confidence::Proven,
            });
        }
    }
    // Distinct jewels reachable at all: one search from the internet.
    let mut seen = vec![false; n];
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
    proof.jewels_reachable = g.jewels.iter().filter(|j| seen[j.index()]).count();
    proof
}
