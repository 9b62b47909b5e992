//! rampart's security graph: the *prove* layer.
//!
//! This crate owns the semantics that turn a [`rampart_model::Snapshot`] into proof:
//!
//! * [`netpol`]: NetworkPolicy semantics over reachability classes (never pod × pod);
//! * [`rbac`]: effective RBAC permissions and the escalation rules of DESIGN.md;
//! * [`build`]: the security graph, every edge carrying its evidence;
//! * [`prove`]: chains Internet → entry → … → crown jewel, shortest first, per entry;
//! * [`cut`]: the minimal cut (max-flow/min-cut) and its realisation as [`fix::Fix`]es,
//!   NetworkPolicies verified by re-analysis;
//! * [`relabel`]: one pod's new labels, checked against everything that reads them, without
//!   re-proving when nothing that matters moved;
//! * [`reclass`]: one pod's new labels that move it to another reachability class, patched
//!   into the graph, then chains and cut again over the patched graph;
//! * [`churn`]: pods coming, going and moving, and controllers changing, inside workloads the
//!   analysis has (rollouts, scaling, evictions): swapped in, or patched like a class move;
//! * [`connectivity`]: workload connectivity listings, np-guard's format.
//!
//! Pure: no I/O, no clock, no async. [`analyze`] is the one entry point the CLI and the engine
//! share; it spreads its work over two scoped threads (the two parts of the graph, then chains
//! beside the cut), whose results do not depend on how they interleave.

pub mod build;
pub mod churn;
pub mod connectivity;
pub mod cost;
pub mod cut;
pub mod diff;
pub mod fix;
mod flow;
pub mod ipset;
pub mod model;
pub mod netpol;
pub mod objective;
pub mod ports;
pub mod prove;
pub mod rbac;
pub mod reclass;
pub mod relabel;

pub use build::{Models, SecurityGraph};
pub use cut::{Cut, CutPlan};
pub use objective::{Objective, Objectives, Technique};
pub use prove::{Chain, ChainId, Confidence, Proof, ProveOptions, TargetKind};

use std::collections::BTreeSet;
use std::sync::Arc;

use rampart_model::{Kind, Snapshot};

/// Options of an analysis.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Chain listing.
    pub prove: ProveOptions,
    /// Which objectives beyond the classic targets are targets (all by default).
    pub objectives: Objectives,
}

/// Graph, chains and cut of one snapshot.
#[derive(Debug)]
pub struct Analysis {
    /// The security graph.
    pub graph: SecurityGraph,
    /// The chains.
    pub proof: Proof,
    /// The minimal cut.
    pub plan: CutPlan,
}

/// Builds the graph, proves the chains and computes the minimal cut.
pub fn analyze(snapshot: &Snapshot, options: &Options) -> Analysis {
    let workloads = Arc::new(rampart_model::Workloads::build(snapshot));
    let (graph, rbac) = SecurityGraph::build_in_parts(snapshot, workloads, |w| {
        Arc::new(netpol::NetModel::build(snapshot, w))
    });
    prove_and_cut(snapshot, graph, rbac, options, None, false)
}

/// Chains and cut of `graph` (the cut verifying live cuts from `verification` when given),
/// the graph's relations counted for the threat diff when `count_relations`; `rbac`, the
/// RBAC model the graph was built from, is freed on the way.
///
/// Chains and cut are worked out side by side, on two threads: the cut reads the chains only
/// to name the listed ones each cut breaks, and the chains do not read what the cut writes
/// (the costs of class edges, written once both are done).
fn prove_and_cut(
    snapshot: &Snapshot,
    mut graph: SecurityGraph,
    rbac: rbac::Rbac,
    options: &Options,
    verification: Option<cut::CutState>,
    count_relations: bool,
) -> Analysis {
    graph.select_objectives(options.objectives);
    let (proof, relations, uncosted) = std::thread::scope(|s| {
        let g = &graph;
        let chains = s.spawn(move || {
            drop(rbac);
            prove::prove(g, &options.prove)
        });
        let uncosted = cut::cut_of(snapshot, g, None, verification);
        let relations = count_relations.then(|| diff::RelationIndex::of(g));
        let proof = chains
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (proof, relations, uncosted)
    });
    let plan = uncosted.finish(&mut graph, &proof);
    graph.relations = relations;
    Analysis { graph, proof, plan }
}

/// [`analyze`] of a snapshot that differs from the one `previous` analysed in objects of the
/// `changed` kinds only: the models none of whose inputs changed are shared with `previous`
/// ([`Models::reusing`]), the graph, chains and cut are built again. A NetworkPolicy, Service
/// or RoleBinding change re-proves without deriving the workloads again. The graph's relations
/// come counted ([`diff::diff_indexing`] reads them).
pub fn reanalyze(
    previous: &mut Analysis,
    snapshot: &Snapshot,
    changed: &BTreeSet<Kind>,
    options: &Options,
) -> Analysis {
    let workloads = Models::workloads_reusing(&previous.graph, snapshot, changed);
    let (graph, rbac) = SecurityGraph::build_in_parts(snapshot, workloads, |w| {
        Models::net_reusing(&previous.graph, snapshot, changed, w)
    });
    // Live cuts were verified against the network model with rampart's policies added: when
    // the model is shared, so is that verification (taken: the plan's state is no part of
    // what it says).
    let verification = (Arc::ptr_eq(&graph.net, &previous.graph.net)
        && Arc::ptr_eq(&graph.workloads, &previous.graph.workloads))
    .then(|| {
        previous
            .plan
            .state
            .take()
            .map(cut::CutState::verification_only)
    })
    .flatten();
    prove_and_cut(snapshot, graph, rbac, options, verification, true)
}
