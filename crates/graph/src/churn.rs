//! Pods came, went or changed, and controllers changed, inside workloads the analysis already
//! has: bring an [`Analysis`] up to date without building the world again.
//!
//! These are the changes a live cluster makes most — every rollout, scale-up, eviction and
//! scheduling decision. The analysis reads a workload's pods through a few doors only, and this
//! module checks each:
//!
//! * membership: every changed pod (and every pod below a changed controller) belongs to a
//!   workload the analysis has, before and after, and to the same one; a workload keeps at least
//!   one pod (without pods it falls back to its controller's template);
//! * what is read by name: the pod spec of the workload's first pod (the one the analysis reads)
//!   but for its node and images (read only for whether it is a database), the workload's source, and the labels and annotations read by name
//!   ([`KEYS_READ_BY_NAME`]) on the controller, the first pod and every pod group;
//! * pod groups: each keeps a class the workload has, and nothing that selects pods sees the
//!   groups differently ([`crate::relabel`]) — else the classes are patched
//!   ([`crate::reclass`]);
//! * nodes: the nodes its pods run on are Node objects the cluster has (a node known only from
//!   a pod would add or remove a vertex); when they change, the host edges are moved.
//!
//! When nothing the graph reads moved, only the workloads are swapped in (pod counts, names,
//! replicas); otherwise the graph is patched and chains and cut worked out again over it. Either
//! way the result is what a full analysis says, which a differential test checks over random
//! rollouts, scalings and evictions. On `Err` nothing was changed and the caller re-proves in
//! full.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::NodeIndex;
use rampart_model::objects::PodSpec;
use rampart_model::{Kind, Object, ObjectKey, Snapshot, Workload, WorkloadId, WorkloadKind};

use crate::build::{KEYS_READ_BY_NAME, node_vertex};
use crate::fix::Fix;
use crate::reclass::{Regrouped, Update, patch_workloads};
use crate::relabel::{Reprove, swap_in, unchanged};
use crate::{Analysis, Options};

/// Most objects one incremental update takes; past it a full analysis is as cheap.
pub const MAX_CHANGED: usize = 256;

/// Updates `analysis` (of the snapshot before the changes) after the objects `changed` (each
/// with the version the analysis saw, `None` when it did not exist) changed into what
/// `snapshot` holds. The caller guarantees that nothing else changed since the analysis.
pub fn update_objects(
    analysis: &mut Analysis,
    snapshot: &Snapshot,
    changed: &[(ObjectKey, Option<Object>)],
    options: &Options,
) -> Result<Update, Reprove> {
    if changed.len() > MAX_CHANGED {
        return Err(Reprove::TooMany);
    }
    let regrouped = regroup(analysis, snapshot, changed)?;
    let mut swaps = Vec::new();
    let mut moves = Vec::new();
    for new_w in regrouped {
        let id = new_w.id;
        same_reads(&analysis.graph.workloads.list[id.index()], &new_w)?;
        let (left, joined) = hosts_moved(analysis, snapshot, id, &new_w)?;
        let classes_kept = match unchanged(analysis, snapshot, id, &new_w) {
            Ok(()) => true,
            Err(Reprove::StableLabels | Reprove::ClassMove | Reprove::Selection) => false,
            Err(e) => return Err(e),
        };
        if classes_kept && left.is_empty() && joined.is_empty() {
            swaps.push(new_w);
        } else {
            moves.push(Regrouped {
                id,
                new_w,
                left,
                joined,
            });
        }
    }
    // Swapped first: the checks above read the plan before any patch, and a patch's plan is
    // worked out afresh over the swapped workloads.
    for new_w in swaps {
        rename_pods(analysis, &new_w);
        swap_in(analysis, new_w);
    }
    if moves.is_empty() {
        return Ok(Update::Relabelled);
    }
    patch_workloads(analysis, snapshot, moves, options).map(Update::Reclassed)
}

/// The workloads the changes touch, regrouped from `snapshot`.
fn regroup(
    analysis: &Analysis,
    snapshot: &Snapshot,
    changed: &[(ObjectKey, Option<Object>)],
) -> Result<Vec<Workload>, Reprove> {
    let ws = &analysis.graph.workloads;
    // Each touched workload's pods after the changes.
    let mut pods: BTreeMap<WorkloadId, BTreeSet<String>> = BTreeMap::new();
    fn members<'p>(
        pods: &'p mut BTreeMap<WorkloadId, BTreeSet<String>>,
        ws: &rampart_model::Workloads,
        id: WorkloadId,
    ) -> &'p mut BTreeSet<String> {
        pods.entry(id)
            .or_insert_with(|| ws.list[id.index()].pod_names.iter().cloned().collect())
    }
    for (key, before) in changed {
        let now = snapshot
            .get(key.kind, &key.namespace, &key.name)
            .map(|l| &l.object);
        match key.kind {
            Kind::Pod => {
                let was = match before {
                    Some(Object::Pod(_)) => Some(
                        ws.of_pod(&key.namespace, &key.name)
                            .ok_or(Reprove::UnknownPod)?,
                    ),
                    Some(_) => return Err(Reprove::OtherKind),
                    None => None,
                };
                let is = match now {
                    Some(Object::Pod(p)) => {
                        Some(ws.owner_of(snapshot, p).ok_or(Reprove::NewWorkload)?)
                    }
                    Some(_) => return Err(Reprove::OtherKind),
                    None => None,
                };
                match (was, is) {
                    (Some(a), Some(b)) if a != b => return Err(Reprove::Owner),
                    (_, Some(id)) => {
                        members(&mut pods, ws, id).insert(key.name.clone());
                    }
                    (Some(id), None) => {
                        members(&mut pods, ws, id).remove(&key.name);
                    }
                    // Came and went between two analyses.
                    (None, None) => {}
                }
            }
            kind => {
                let wk = WorkloadKind::from_kind(kind).ok_or(Reprove::OtherKind)?;
                let of = |o: Option<&Object>| -> Result<Option<WorkloadId>, Reprove> {
                    match o {
                        Some(Object::Controller(c)) => ws
                            .workload_of(snapshot, wk, &c.metadata)
                            .map(Some)
                            .ok_or(Reprove::NewWorkload),
                        Some(_) => Err(Reprove::OtherKind),
                        None => Ok(None),
                    }
                };
                let (was, is) = (of(before.as_ref())?, of(now)?);
                match (was, is) {
                    (Some(a), Some(b)) if a != b => return Err(Reprove::Owner),
                    (Some(id), _) | (None, Some(id)) => {
                        members(&mut pods, ws, id);
                    }
                    (None, None) => {}
                }
            }
        }
    }
    let mut out = Vec::with_capacity(pods.len());
    for (id, names) in pods {
        let names: Vec<String> = names.into_iter().collect();
        // Every pod stays with the workload (a controller's change may have moved some).
        for name in &names {
            match snapshot.get(Kind::Pod, &ws.list[id.index()].namespace, name) {
                Some(l) => match &l.object {
                    Object::Pod(p) if ws.owner_of(snapshot, p) == Some(id) => {}
                    _ => return Err(Reprove::Owner),
                },
                None => return Err(Reprove::Owner),
            }
        }
        out.push(
            ws.regroup_with(snapshot, id, &names)
                .ok_or(Reprove::NoPods)?,
        );
    }
    Ok(out)
}

/// Whether the workload reads the same: the pod spec but for its node and its images (the graph
/// reads neither from the spec: nodes come from the pod groups, images only from outside the
/// graph, and those read the swapped-in workload), the source, and the labels and annotations
/// read by name on the controller, the first pod and each group.
fn same_reads(old: &Workload, new: &Workload) -> Result<(), Reprove> {
    let spec = |s: &PodSpec| {
        let mut s = s.clone();
        s.node_name = None;
        for c in s
            .init_containers
            .iter_mut()
            .chain(&mut s.containers)
            .chain(&mut s.ephemeral_containers)
        {
            c.image.clear();
        }
        // A claim's name (`data-db-0`, `data-db-1`) is never read, only that there is one.
        for v in &mut s.volumes {
            if let Some(c) = &mut v.persistent_volume_claim {
                c.claim_name.clear();
            }
        }
        s
    };
    // Images are read by one door only: whether the workload holds data (a database).
    if old.source != new.source
        || (old.template.spec != new.template.spec
            && spec(&old.template.spec) != spec(&new.template.spec))
        || crate::objective::collection(old) != crate::objective::collection(new)
    {
        return Err(Reprove::Template);
    }
    fn by_name(w: &Workload) -> (Vec<Option<&String>>, BTreeSet<Vec<Option<&String>>>) {
        let metas = [&w.metadata, &w.template.metadata];
        let marks: Vec<Option<&String>> = KEYS_READ_BY_NAME
            .iter()
            .flat_map(|k| {
                metas
                    .iter()
                    .flat_map(move |m| [m.labels.get(*k), m.annotations.get(*k)])
            })
            .collect();
        let groups: BTreeSet<Vec<Option<&String>>> = w
            .groups
            .iter()
            .map(|g| KEYS_READ_BY_NAME.iter().map(|k| g.labels.get(*k)).collect())
            .collect();
        (marks, groups)
    }
    if by_name(old) != by_name(new) {
        return Err(Reprove::NamedLabel);
    }
    Ok(())
}

/// The Node vertices workload `id`'s pods left and joined; refused when one is no Node object
/// (a node known only from pods is a vertex a full build adds or drops). A DaemonSet's edges
/// reach every node whatever its pods' (none to move), but its pods name nodes too.
fn hosts_moved(
    analysis: &Analysis,
    snapshot: &Snapshot,
    id: WorkloadId,
    new_w: &Workload,
) -> Result<(Vec<NodeIndex>, Vec<NodeIndex>), Reprove> {
    let g = &analysis.graph;
    let old_w = &g.workloads.list[id.index()];
    let (before, after) = (pods_on(old_w), pods_on(new_w));
    if before == after {
        return Ok((Vec::new(), Vec::new()));
    }
    let vertex = |name: &str| -> Result<NodeIndex, Reprove> {
        snapshot
            .get(Kind::Node, "", name)
            .and_then(|_| node_vertex(g, Some(name)))
            .ok_or(Reprove::NewNode)
    };
    let left: Vec<NodeIndex> = before
        .difference(&after)
        .map(|n| vertex(n))
        .collect::<Result<_, _>>()?;
    let joined: Vec<NodeIndex> = after
        .difference(&before)
        .map(|n| vertex(n))
        .collect::<Result<_, _>>()?;
    if old_w.kind == WorkloadKind::DaemonSet {
        // Its edges reach every node already ([`crate::build`]'s `nodes_of`).
        return Ok((Vec::new(), Vec::new()));
    }
    Ok((left, joined))
}

/// Every node a workload's pods run on (what a full build's `nodes_of` reads for every kind
/// but a DaemonSet, and what it names Node vertices after for every kind).
fn pods_on(w: &Workload) -> BTreeSet<&str> {
    w.groups
        .iter()
        .flat_map(|g| g.nodes.iter().map(String::as_str))
        .collect()
}

/// The plan's fixes that name the workload's pods name its new ones.
fn rename_pods(analysis: &mut Analysis, new_w: &Workload) {
    for c in &mut analysis.plan.cuts {
        for f in &mut c.fixes {
            if let Some(k) = f.workload_mut()
                && k.namespace == new_w.namespace
                && k.kind == new_w.kind
                && k.name == new_w.name
            {
                k.pods.clone_from(&new_w.pod_names);
            }
        }
    }
}

impl Fix {
    /// The workload a fix changes, when it changes one.
    fn workload_mut(&mut self) -> Option<&mut crate::fix::WorkloadKey> {
        match self {
            Fix::RemoveHostPorts(k)
            | Fix::DisableHostNetwork(k)
            | Fix::RemoveExposedMarker(k)
            | Fix::DisableAutomount(k)
            | Fix::RemoveSecretRefs(k, _) => Some(k),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use rampart_model::parse::{ParseLimits, parse_source};
    use rampart_model::{Change, Kind, Object, ObjectKey, Snapshot};

    use super::*;

    const CLUSTER: &str = "\
apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\n\
apiVersion: v1\nkind: Node\nmetadata: {name: n2}\n---\n\
apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: ops}\nspec: {template: {metadata: {labels: {app: agent}}, spec: {containers: [{name: c}]}}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: agent-a, namespace: ops, labels: {app: agent}, ownerReferences: [{kind: DaemonSet, name: agent, controller: true}]}\nspec: {nodeName: n1, containers: [{name: c, securityContext: {privileged: true}}]}\n";

    /// The cluster analysed, then a pod like `agent-a` on `node` added: what the churn path
    /// says, and whether its analysis equals a full one.
    fn add_agent_on(node: &str) -> Result<bool, Reprove> {
        let parsed = parse_source("t.yaml", CLUSTER, &ParseLimits::default());
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let mut s = Snapshot::from_objects(parsed.objects);
        let options = Options::default();
        let mut a = crate::analyze(&s, &options);
        let mut p = s.get(Kind::Pod, "ops", "agent-a").cloned().expect("pod");
        if let Object::Pod(x) = &mut p.object {
            x.metadata.name = "agent-b".into();
            x.spec.node_name = Some(node.into());
        }
        let key = ObjectKey::of(&p.object);
        s.apply(Change::Upsert(Box::new(p)));
        update_objects(&mut a, &s, &[(key, None)], &options)?;
        let full = crate::analyze(&s, &options);
        Ok(a.graph.graph.edge_count() == full.graph.graph.edge_count()
            && a.graph.nodes.len() == full.graph.nodes.len()
            && a.proof.chains.len() == full.proof.chains.len())
    }

    #[test]
    fn a_daemon_set_pod_on_a_node_known_only_from_it_is_re_proved() {
        // A node no Node object names is a vertex (a jewel) a full build adds.
        assert_eq!(add_agent_on("ghost"), Err(Reprove::NewNode));
        // On a node the cluster has, the DaemonSet's edges reach it already.
        assert_eq!(add_agent_on("n2"), Ok(true));
    }
}
