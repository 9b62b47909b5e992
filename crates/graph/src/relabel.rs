//! One pod's labels changed: bring an [`Analysis`] up to date without re-proving the world.
//!
//! Relabelling a pod moves it from one pod group of its workload to another. The analysis reads
//! pod groups through a few doors only, and this module checks each before it trusts the
//! previous proof:
//!
//! * reachability class: the pod keeps its class or joins one its workload already has (a
//!   class new to the workload adds edges, a class new to the cluster adds vertices);
//! * selectors: the namespace's Service selectors and the selectors rampart's own fixes would
//!   use (the stable labels of the workloads the cut selects) must see the workload's pod groups
//!   as before;
//! * labels read by name ([`crate::build::KEYS_READ_BY_NAME`]) must keep their values, and the
//!   workload's stable labels must stay the same when the cut selects it (fix manifests are
//!   written from them) and stay non-empty (or empty) otherwise;
//! * order: where the analysis takes the *first* matching group (class numbering, the route an
//!   endpoint takes), the workload's groups must show the same signatures in the same order of
//!   first appearance.
//!
//! When all hold, the graph, the chains and the cut are the ones a full analysis would compute
//! (a differential test checks exactly that); only the workload and the class membership are
//! updated. Otherwise the caller re-proves in full, and [`Reprove`] says why.

use std::collections::BTreeSet;
use std::sync::Arc;

use rampart_model::objects::Pod;
use rampart_model::{Labels, Snapshot, Workload, WorkloadId};

use crate::Analysis;
use crate::build::{KEYS_READ_BY_NAME, stable_labels};
use crate::model::Vertex;
use crate::netpol::ClassId;

/// Why a change needs a full re-proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Reprove {
    /// More than the labels changed.
    #[error("more than the pod's labels changed")]
    NotOnlyLabels,
    /// The analysis has no workload with this pod.
    #[error("the pod belongs to no analysed workload")]
    UnknownPod,
    /// A pod of the workload is missing.
    #[error("the pod's workload could not be regrouped")]
    Regroup,
    /// A label the analysis reads by name changed.
    #[error("a label the analysis reads by name changed")]
    NamedLabel,
    /// The labels every pod of the workload shares changed.
    #[error("the workload's stable labels changed")]
    StableLabels,
    /// The pod moves to another reachability class.
    #[error("the pod moves to another reachability class")]
    ClassMove,
    /// A Service or fix selector sees the pod differently, or the workload's groups reorder.
    #[error("a selector sees the workload's pods differently")]
    Selection,
    /// The pod is an ingress controller's, whose class every Ingress route reads.
    #[error("the pod is an ingress controller's")]
    IngressController,
    /// The pod's workload is declared exposed, and its endpoint reads its first class.
    #[error("the pod's workload is declared exposed")]
    DeclaredExposed,
    /// Too many objects changed at once.
    #[error("too many objects changed at once")]
    TooMany,
    /// An object of a kind the incremental paths do not take changed.
    #[error("an object other than a pod or a controller changed")]
    OtherKind,
    /// A pod or controller of a workload the analysis does not have.
    #[error("a new workload")]
    NewWorkload,
    /// A pod moved to another workload, or a controller change regrouped pods.
    #[error("pods changed workload")]
    Owner,
    /// A workload was left without pods (it falls back to its controller's template).
    #[error("a workload has no pods left")]
    NoPods,
    /// The pod spec the analysis reads (the first pod's) or the workload's source changed.
    #[error("the pod spec the analysis reads changed")]
    Template,
    /// Pods moved to or from a node the cluster has no Node object for.
    #[error("pods moved to or from a node without a Node object")]
    NewNode,
    /// A pod group moves to a class no pod had, where admin network policies judge traffic:
    /// what the admin groups worked out over the classes may not hold for it.
    #[error("a new reachability class where admin network policies judge traffic")]
    AdminClass,
}

/// What the analysis can tell apart about one pod group.
#[derive(Debug, PartialEq, Eq)]
struct Signature {
    class: ClassId,
    services: Vec<bool>,
    fixes: Vec<bool>,
    /// Selected by the DNS peer of a contained egress (the cut's what-if check reads it).
    dns: bool,
}

/// Updates `analysis` (of the snapshot before the change) after pod `old` became `new` in
/// `snapshot`; on `Err` nothing was changed and a full re-proof is needed.
///
/// The caller guarantees that this pod is the only object that changed since `analysis` was
/// made (the engine tracks it): the workload is regrouped from the pods it already had.
pub fn relabel_pod(
    analysis: &mut Analysis,
    snapshot: &Snapshot,
    old: &Pod,
    new: &Pod,
) -> Result<(), Reprove> {
    let (id, new_w) = moved_workload(analysis, snapshot, old, new)?;
    unchanged(analysis, snapshot, id, &new_w)?;
    swap_in(analysis, new_w);
    Ok(())
}

/// Whether nothing that reads pod labels sees workload `id`, regrouped as `new_w`, differently;
/// `Err` says what does. Every group of `new_w` must keep a class the workload already has: its
/// labels' old group's, else the one whose atoms its labels match (ports are the workload's).
pub(crate) fn unchanged(
    analysis: &Analysis,
    snapshot: &Snapshot,
    id: WorkloadId,
    new_w: &Workload,
) -> Result<(), Reprove> {
    let ns = new_w.namespace.as_str();
    let g = &analysis.graph;
    let old_w = &g.workloads.list[id.index()];
    // Stable labels are read where a cut selects workloads (NetworkPolicy selectors, `NotIn`
    // exclusions) and, for every workload, only as "are there any".
    let used = workloads_cut(analysis);
    let (old_stable, new_stable) = (stable_labels(old_w), stable_labels(new_w));
    if old_stable != new_stable
        && (used.contains(&id) || old_stable.is_empty() != new_stable.is_empty())
    {
        return Err(Reprove::StableLabels);
    }

    let old_classes = &g.net.member_class[id.index()];
    let mut new_classes: Vec<ClassId> = Vec::with_capacity(new_w.groups.len());
    for gr in &new_w.groups {
        let kept = old_w
            .groups
            .iter()
            .position(|o| o.labels == gr.labels)
            .and_then(|i| old_classes.get(i).copied());
        let c = match kept {
            Some(c) => c,
            None => {
                let atoms = g.net.atoms_of(new_w, &gr.labels);
                old_classes
                    .iter()
                    .copied()
                    .find(|c| g.net.class(*c).matches_atoms(&atoms))
                    .ok_or(Reprove::ClassMove)?
            }
        };
        new_classes.push(c);
    }

    let services: Vec<&Labels> = snapshot
        .services()
        .filter(|(_, s)| s.metadata.namespace == ns)
        .filter_map(|(_, s)| s.spec.selector.as_ref())
        .collect();
    let fix_selectors: Vec<Labels> = used
        .iter()
        .map(|u| &g.workloads.list[u.index()])
        .filter(|w| w.namespace == ns)
        .map(stable_labels)
        .collect();
    let subset = |sel: &Labels, labels: &Labels| sel.iter().all(|(k, v)| labels.get(k) == Some(v));
    let signatures = |w: &Workload, classes: &[ClassId]| -> Vec<Signature> {
        let mut out: Vec<Signature> = Vec::new();
        for (gr, class) in w.groups.iter().zip(classes) {
            let s = Signature {
                class: *class,
                services: services.iter().map(|sel| subset(sel, &gr.labels)).collect(),
                fixes: fix_selectors
                    .iter()
                    .map(|sel| subset(sel, &gr.labels))
                    .collect(),
                dns: crate::build::is_dns_pod(&gr.labels),
            };
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    };
    if signatures(old_w, old_classes) != signatures(new_w, &new_classes) {
        return Err(Reprove::Selection);
    }
    Ok(())
}

/// Swaps a workload that [`unchanged`] cleared into the analysis, moving its class memberships
/// (within the classes it already had, which the model finds by the groups' labels).
pub(crate) fn swap_in(analysis: &mut Analysis, new_w: Workload) {
    let g = &mut analysis.graph;
    Arc::make_mut(&mut g.net).reclass(&new_w);
    if let Some(v) = &mut analysis.plan.state {
        v.reclass(&new_w);
    }
    let id = new_w.id;
    Arc::make_mut(&mut g.workloads).list[id.index()] = new_w;
}

/// Whether pod `old` became `new` by its labels alone (its status and resourceVersion aside).
pub fn only_labels_changed(old: &Pod, new: &Pod) -> bool {
    let mut same = new.clone();
    same.metadata.labels.clone_from(&old.metadata.labels);
    same.metadata
        .resource_version
        .clone_from(&old.metadata.resource_version);
    same.status.clone_from(&old.status);
    same == *old
}

/// The checks every one-pod relabelling starts with: only the labels changed, none that the
/// analysis reads by name, and the pod's workload regroups from the pods it had. Returns the
/// workload and its new version.
fn moved_workload(
    analysis: &Analysis,
    snapshot: &Snapshot,
    old: &Pod,
    new: &Pod,
) -> Result<(WorkloadId, Workload), Reprove> {
    if !only_labels_changed(old, new) {
        return Err(Reprove::NotOnlyLabels);
    }
    let (before, after) = (&old.metadata.labels, &new.metadata.labels);
    if KEYS_READ_BY_NAME
        .iter()
        .any(|k| before.get(*k) != after.get(*k))
    {
        return Err(Reprove::NamedLabel);
    }
    let g = &analysis.graph;
    let id = g
        .workloads
        .of_pod(&new.metadata.namespace, new.metadata.display_name())
        .ok_or(Reprove::UnknownPod)?;
    let new_w = g.workloads.regroup(snapshot, id).ok_or(Reprove::Regroup)?;
    if new_w.source != g.workloads.list[id.index()].source {
        return Err(Reprove::NotOnlyLabels);
    }
    Ok((id, new_w))
}

/// Workloads the cut plan selects or tells apart: those at a cut edge, directly or as members of
/// the reachability class at its end (a superset of the workloads whose stable labels the plan
/// reads).
fn workloads_cut(analysis: &Analysis) -> BTreeSet<WorkloadId> {
    let g = &analysis.graph;
    let mut out = BTreeSet::new();
    let edges = analysis
        .plan
        .cuts
        .iter()
        .flat_map(|c| std::iter::once(c.edge).chain(c.also.iter().copied()));
    for edge in edges {
        let Some((a, b)) = g.graph.edge_endpoints(edge) else {
            continue;
        };
        // Contained egress keeps its declared destinations, selected by their labels.
        if g.graph[edge].kind == crate::model::EdgeKind::EgressOpen {
            let (kept, _) = crate::cut::declared_destinations(g, a);
            out.extend(kept.iter().map(|w| w.id));
        }
        for v in [a, b] {
            match g.graph[v] {
                Vertex::Workload(w) => {
                    out.insert(w);
                }
                Vertex::NetSrc(c) | Vertex::NetDst(c) => {
                    out.extend(g.net.class(c).members.iter().map(|(w, _)| *w));
                }
                // A narrowed peer excludes the workloads sending as it, by their labels.
                Vertex::NetPeer(_) => {
                    for src in g.graph.neighbors_directed(v, petgraph::Direction::Incoming) {
                        if let Vertex::NetSrc(c) = g.graph[src] {
                            out.extend(g.net.class(c).members.iter().map(|(w, _)| *w));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rampart_model::parse::{ParseLimits, parse_source};
    use rampart_model::{Change, Kind, Object};

    fn pod(ns: &str, name: &str, labels: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{{labels}}}, ownerReferences: [{{kind: ReplicaSet, name: w, controller: true}}]}}\nspec: {{containers: [{{name: c}}]}}\n---\n"
        )
    }

    /// A cluster from `yaml`, analysed, then pod `ns/name` given label `key=value`: the
    /// snapshot after the change, the analysis before it, the pod before and after.
    pub(crate) fn relabelled(
        yaml: &str,
        ns: &str,
        name: &str,
        key: &str,
        value: &str,
    ) -> (Snapshot, Analysis, Pod, Pod) {
        relabelled_with(&crate::Options::default(), yaml, ns, name, key, value)
    }

    /// [`relabelled`], analysed with `options`.
    pub(crate) fn relabelled_with(
        options: &crate::Options,
        yaml: &str,
        ns: &str,
        name: &str,
        key: &str,
        value: &str,
    ) -> (Snapshot, Analysis, Pod, Pod) {
        let parsed = parse_source("t.yaml", yaml, &ParseLimits::default());
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let mut s = Snapshot::from_objects(parsed.objects);
        let a = crate::analyze(&s, options);
        let mut o = s.get(Kind::Pod, ns, name).cloned().unwrap();
        let Object::Pod(old) = o.object.clone() else {
            unreachable!()
        };
        o.object.meta_mut().labels.insert(key.into(), value.into());
        let Object::Pod(new) = o.object.clone() else {
            unreachable!()
        };
        s.apply(Change::Upsert(Box::new(o)));
        (s, a, *old, *new)
    }

    /// Relabels `name` in `yaml`'s cluster and returns what `relabel_pod` says.
    fn relabel(yaml: &str, ns: &str, name: &str, key: &str, value: &str) -> Result<(), Reprove> {
        let (s, mut a, old, new) = relabelled(yaml, ns, name, key, value);
        relabel_pod(&mut a, &s, &old, &new)
    }

    #[test]
    fn a_dns_pod_joining_a_class_of_non_dns_pods_is_re_proved() {
        // p1 moves into tier b, whose only pods so far are not DNS pods: a contained egress's
        // DNS peer would now select a pod of that class.
        let policy = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: b, namespace: kube-system}\nspec: {podSelector: {matchLabels: {tier: b}}, policyTypes: [Ingress]}\n---\n";
        let cluster = [
            policy.to_string(),
            pod("kube-system", "p1", "k8s-app: kube-dns, tier: a"),
            pod("kube-system", "p2", "k8s-app: kube-dns, tier: a"),
            pod("kube-system", "p3", "tier: b"),
        ]
        .concat();
        assert_eq!(
            relabel(&cluster, "kube-system", "p1", "tier", "b"),
            Err(Reprove::Selection)
        );
        // The same move without DNS pods is a move between the workload's own classes.
        let plain = cluster.replace("k8s-app: kube-dns, ", "");
        assert_eq!(relabel(&plain, "kube-system", "p1", "tier", "b"), Ok(()));
    }
}
