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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use rampart_model::objects::Pod;
use rampart_model::{EXPOSED_ANNOTATION, Kind, Object, ObjectKey, Snapshot, Workload, WorkloadId};

use crate::diff::{Baseline, ThreatDiff, diff_from};
use crate::model::EdgeKind;
use crate::netpol::declared_ports;
use crate::relabel::Reprove;
use crate::{Analysis, Options, build, cut, prove};

/// How one pod's new labels were taken in.
#[derive(Debug)]
pub enum Update {
    /// Nothing that reads them moved: the proof stands ([`crate::relabel`]).
    Relabelled,
    /// The graph was patched and chains and cut worked out again; what changed.
    Reclassed(ThreatDiff),
}

/// Takes one pod's change in by the cheapest exact path ([`crate::churn::update_objects`] of
/// that pod): [`crate::relabel`] when nothing that reads it moved, else a patch. On `Err`
/// nothing was changed and a full re-proof is needed. Same contract as
/// [`crate::relabel::relabel_pod`].
pub fn update_pod(
    analysis: &mut Analysis,
    snapshot: &Snapshot,
    old: &Pod,
    new: &Pod,
    options: &Options,
) -> Result<Update, Reprove> {
    let key = ObjectKey {
        kind: Kind::Pod,
        namespace: new.metadata.namespace.clone(),
        name: new.metadata.display_name().to_string(),
    };
    let before = Object::Pod(Box::new(old.clone()));
    crate::churn::update_objects(analysis, snapshot, &[(key, Some(before))], options)
}

/// One workload regrouped: its new version and the Node vertices its pods left and joined.
#[derive(Debug)]
pub(crate) struct Regrouped {
    pub id: WorkloadId,
    pub new_w: Workload,
    pub left: Vec<NodeIndex>,
    pub joined: Vec<NodeIndex>,
}

/// Patches the graph for workloads regrouped (pod groups moved between classes, pods moved
/// between nodes), then proves and cuts again over it; what changed. On `Err` nothing was
/// changed.
pub(crate) fn patch_workloads(
    analysis: &mut Analysis,
    snapshot: &Snapshot,
    moves: Vec<Regrouped>,
    options: &Options,
) -> Result<ThreatDiff, Reprove> {
    let g = &analysis.graph;
    // Every vertex whose edges or name the patch may change: the workloads, the vertices of
    // the classes they leave or join (a class's name lists its members), the nodes they leave
    // or join.
    let mut touched: Vec<NodeIndex> = Vec::new();
    for m in &moves {
        let old_w = &g.workloads.list[m.id.index()];
        // Labels read by name did not change, so neither did whether the workload is one.
        if build::is_ingress_controller(old_w) {
            return Err(Reprove::IngressController);
        }
        if old_w.has_marker(EXPOSED_ANNOTATION, "true")
            || m.new_w.has_marker(EXPOSED_ANNOTATION, "true")
        {
            return Err(Reprove::DeclaredExposed);
        }
        let ports = declared_ports(&m.new_w.template.spec);
        if g.admin_groups.active
            && m.new_w
                .groups
                .iter()
                .any(|gr| g.net.class_for(&m.new_w, &gr.labels, &ports).is_none())
        {
            return Err(Reprove::AdminClass);
        }
        touched.push(g.workload_ix[m.id.index()]);
        let joined = m
            .new_w
            .groups
            .iter()
            .filter_map(|gr| g.net.class_for(&m.new_w, &gr.labels, &ports));
        for c in g.net.member_class[m.id.index()]
            .iter()
            .copied()
            .chain(joined)
        {
            if let Some((s, d)) = g.class_ix.get(&c) {
                touched.extend([*s, *d]);
            }
        }
        touched.extend(m.left.iter().chain(&m.joined));
    }
    touched.sort_unstable();
    touched.dedup();
    let baseline = Baseline::capture(analysis, &touched);
    let edges_before = out_edges(&analysis.graph, &touched);

    let mut state = analysis.plan.state.take();
    let mut after: Vec<NodeIndex> = touched;
    for m in moves {
        let g = &mut analysis.graph;
        let moved = Arc::make_mut(&mut g.net).reclass(&m.new_w);
        if let Some(v) = &mut state {
            v.reclass(&m.new_w);
        }
        Arc::make_mut(&mut g.workloads).list[m.id.index()] = m.new_w;
        build::patch_network(g, m.id, &moved);
        build::reroute(g, m.id);
        build::rehost(g, m.id, &m.left, &m.joined);
        // A class it joined may be new.
        after.extend(
            moved
                .iter()
                .filter_map(|c| g.class_ix.get(c))
                .flat_map(|(s, d)| [*s, *d]),
        );
    }
    after.sort_unstable();
    after.dedup();
    // The vertices whose out-edges changed, for the proof's repair.
    let edges_after = out_edges(&analysis.graph, &after);
    let changed: Vec<NodeIndex> = edges_after
        .keys()
        .chain(edges_before.keys())
        .copied()
        .filter(|v| edges_before.get(v) != edges_after.get(v))
        .collect();
    // The proof repaired on one thread while the cut is worked out on the other (as in a full
    // analysis: the cut needs the chains only at its end).
    let old = std::mem::take(&mut analysis.proof);
    let (proof, uncosted) = std::thread::scope(|s| {
        let g = &analysis.graph;
        let chains = s.spawn(move || prove::reprove(g, &options.prove, old, &changed));
        let uncosted = cut::cut_of(snapshot, g, None, state);
        let proof = chains
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (proof, uncosted)
    });
    analysis.proof = proof;
    analysis.plan = uncosted.finish(&mut analysis.graph, &analysis.proof);
    Ok(diff_from(baseline, analysis, &after))
}

/// The out-edges (target and kind) of the `touched` vertices and of their predecessors: every
/// vertex whose out-edges a patch of the touched vertices can change.
fn out_edges(
    g: &crate::SecurityGraph,
    touched: &[NodeIndex],
) -> BTreeMap<NodeIndex, Vec<(NodeIndex, EdgeKind)>> {
    let mut around: BTreeSet<NodeIndex> = touched.iter().copied().collect();
    for &v in touched {
        around.extend(g.graph.neighbors_directed(v, Direction::Incoming));
    }
    around
        .into_iter()
        .map(|v| {
            let mut out: Vec<(NodeIndex, EdgeKind)> = g
                .graph
                .edges_directed(v, Direction::Outgoing)
                .map(|e| (e.target(), e.weight().kind))
                .collect();
            out.sort_unstable();
            (v, out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze;
    use crate::relabel::tests::{relabelled, relabelled_with};

    /// web (exposed) reaches the db workload, a crown jewel with two pods: db-1 open, db-2
    /// guarded by a policy that admits only `role: friend`. The cheapest cut isolates db-1's
    /// class, a live cut verified against the network model with rampart's policy added.
    const CLUSTER: &str = "\
apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: app}\nspec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: app, labels: {app: web}}\nspec: {automountServiceAccountToken: false, containers: [{name: c, ports: [{containerPort: 8080}]}]}\n---\n\
apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: db, namespace: app, labels: {rampart.dev/crown-jewel: \"true\"}}\nspec: {selector: {matchLabels: {app: db}}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: c}]}}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: db-1, namespace: app, labels: {app: db}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: db, uid: u1, controller: true}]}\nspec: {automountServiceAccountToken: false, containers: [{name: c, ports: [{containerPort: 5432}]}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: db-2, namespace: app, labels: {app: db, guarded: \"yes\"}, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: db, uid: u1, controller: true}]}\nspec: {automountServiceAccountToken: false, containers: [{name: c, ports: [{containerPort: 5432}]}]}\n---\n\
apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: guard, namespace: app}\nspec: {podSelector: {matchLabels: {guarded: \"yes\"}}, ingress: [{from: [{podSelector: {matchLabels: {role: friend}}}]}]}\n";

    fn isolating_db(a: &Analysis) -> Vec<(bool, Vec<String>)> {
        a.plan
            .cuts
            .iter()
            .filter(|c| c.kind == EdgeKind::IngressOpen)
            .map(|c| (c.live, c.notes.clone()))
            .collect()
    }

    #[test]
    fn a_move_is_verified_against_the_patched_what_if_model() {
        // The classic targets: the cut this test follows isolates db (with Exfiltration it
        // denies web the internet instead).
        let options = Options {
            objectives: crate::Objectives::none(),
            ..Options::default()
        };
        // web's pod becomes a friend: the guard now admits it into db-2, so isolating db-1's
        // class no longer keeps web out of db, and the plan must say so.
        let (s, mut a, old, new) =
            relabelled_with(&options, CLUSTER, "app", "web", "role", "friend");
        assert_eq!(isolating_db(&a), vec![(true, vec![])], "{:#?}", a.plan.cuts);
        let full = analyze(&s, &options);
        let update = update_pod(&mut a, &s, &old, &new, &options).expect("a class move");
        assert!(matches!(update, Update::Reclassed(_)), "{update:?}");
        let want = isolating_db(&full);
        assert_eq!(want.len(), 1, "{:#?}", full.plan.cuts);
        assert!(!want[0].0, "{want:?}");
        assert!(
            want[0].1.iter().any(|n| n.contains("still reaches")),
            "{want:?}"
        );
        assert_eq!(isolating_db(&a), want);
    }

    /// Relabels one pod, patches `a`, and checks the plan against a full analysis.
    fn moved_plan_equals_full(yaml: &str, pod: &str, key: &str, value: &str) -> (u64, u64) {
        let options = Options::default();
        let (s, mut a, old, new) = relabelled(yaml, "app", pod, key, value);
        let before = a.plan.total_cost;
        let full = analyze(&s, &options);
        let update = update_pod(&mut a, &s, &old, &new, &options).expect("patched");
        assert!(matches!(update, Update::Reclassed(_)), "{update:?}");
        let costs = |a: &Analysis| {
            a.plan
                .cuts
                .iter()
                .map(|c| (c.id.clone(), c.cost, c.live))
                .collect::<Vec<_>>()
        };
        assert_eq!(costs(&a), costs(&full));
        assert_eq!(a.plan.total_cost, full.plan.total_cost);
        (before, a.plan.total_cost)
    }

    #[test]
    fn a_pod_a_service_starts_selecting_makes_its_isolation_dearer() {
        // Isolating db-1's class costs less while no Service selects db; once one selects it
        // (db has declared clients), the same cut costs more.
        let cluster = format!(
            "{CLUSTER}---\napiVersion: v1\nkind: Service\nmetadata: {{name: db, namespace: app}}\nspec: {{selector: {{tier: data}}, ports: [{{port: 5432}}]}}\n"
        );
        let (before, after) = moved_plan_equals_full(&cluster, "db-1", "tier", "data");
        assert!(after > before, "{before} -> {after}");
    }
}
