//! One pod's labels moved it to another reachability class: patch the graph where the move
//! shows, then prove and cut again over the patched graph, without building the world again.
//!
//! The network model moves the workload's pod groups to their new classes (adding a class no
//! pod had before); the graph's network layer is patched for the classes that gained or lost a
//! member, and the routes into the workload are worked out again. The patched graph holds the
//! relations a fresh build would, under other indices, and chains and cut do not depend on
//! indices ([`crate::prove`] walks by what vertices stand for, the cut is the unique source
//! side of the residual graph): a differential test holds the result to a fresh analysis. The
//! threat diff comes from the patch, not from a second graph ([`crate::diff::Baseline`]).
//!
//! Refused (the caller re-proves in full): what [`crate::relabel`] refuses before it looks at
//! classes, and the two kinds of workload whose class other parts of the graph read: ingress
//! controllers (every Ingress route is admitted through their class) and workloads declared
//! exposed (their endpoint reads their first class).

use petgraph::graph::NodeIndex;
use rampart_model::objects::Pod;
use rampart_model::{EXPOSED_ANNOTATION, Snapshot};

use crate::diff::{Baseline, ThreatDiff, diff_from};
use crate::netpol::declared_ports;
use crate::relabel::{Reprove, moved_workload};
use crate::{Analysis, Options, build, cut, prove};

/// Updates `analysis` (of the snapshot before the change) after pod `old` became `new` in
/// `snapshot`, and returns what changed; on `Err` nothing was changed.
///
/// As for [`crate::relabel::relabel_pod`], the caller guarantees that this pod is the only
/// object that changed since `analysis` was made.
pub fn reclass_pod(
    analysis: &mut Analysis,
    snapshot: &Snapshot,
    old: &Pod,
    new: &Pod,
    options: &Options,
) -> Result<ThreatDiff, Reprove> {
    let (id, new_w) = moved_workload(analysis, snapshot, old, new)?;
    let g = &analysis.graph;
    let old_w = &g.workloads.list[id.index()];
    if build::is_ingress_controller(old_w) || build::is_ingress_controller(&new_w) {
        return Err(Reprove::IngressController);
    }
    if old_w.has_marker(EXPOSED_ANNOTATION, "true") || new_w.has_marker(EXPOSED_ANNOTATION, "true")
    {
        return Err(Reprove::DeclaredExposed);
    }

    // Every vertex whose edges or name the patch may change: the workload, and the vertices of
    // the classes it leaves or joins (a class's name lists its members).
    let ports = declared_ports(&new_w.template.spec);
    let mut touched: Vec<NodeIndex> = vec![g.workload_ix[id.index()]];
    let joined = new_w
        .groups
        .iter()
        .filter_map(|gr| g.net.class_for(&new_w.namespace, &gr.labels, &ports));
    for c in g.net.member_class[id.index()].iter().copied().chain(joined) {
        if let Some((s, d)) = g.class_ix.get(&c) {
            touched.extend([*s, *d]);
        }
    }
    let baseline = Baseline::capture(analysis, &touched);

    let g = &mut analysis.graph;
    let moved = g.net.reclass(&new_w);
    g.workloads.list[id.index()] = new_w;
    build::patch_network(g, id, &moved);
    build::reroute(g, id);
    analysis.proof = prove::prove(&analysis.graph, &options.prove);
    analysis.plan = cut::min_cut(snapshot, &mut analysis.graph, &analysis.proof);
    Ok(diff_from(baseline, analysis))
}
