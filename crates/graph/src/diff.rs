//! What changed between two analyses of the same cluster — the first question the engine
//! answers after every change: which relations and which chains appeared or disappeared.
//! Vertices are matched by the objects they stand for, chains by their stable ids.

use std::collections::BTreeSet;

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

fn relations(a: &Analysis) -> BTreeSet<Relation> {
    let g = &a.graph;
    g.graph
        .edge_references()
        .map(|e| Relation {
            edge: e.weight().kind.as_str(),
            from: g.vertex_ref(e.source()),
            to: g.vertex_ref(e.target()),
        })
        .collect()
}

fn chain_ids(a: &Analysis) -> BTreeSet<String> {
    a.proof.chains.iter().map(|c| c.id.clone()).collect()
}

/// Compares `before` with `after`.
pub fn diff(before: &Analysis, after: &Analysis) -> ThreatDiff {
    let (rb, ra) = (relations(before), relations(after));
    let (cb, ca) = (chain_ids(before), chain_ids(after));
    ThreatDiff {
        relations_added: ra.difference(&rb).cloned().collect(),
        relations_removed: rb.difference(&ra).cloned().collect(),
        chains_added: ca.difference(&cb).cloned().collect(),
        chains_removed: cb.difference(&ca).cloned().collect(),
        jewels_reachable: (before.proof.jewels_reachable, after.proof.jewels_reachable),
    }
}
