//! Workloads: pods grouped under their top controller.
//!
//! A controller and its pods are one workload, never counted twice. With live dumps, pods are
//! attached through `ownerReferences` (Pod → ReplicaSet → Deployment, Pod → Job → CronJob, …) to
//! the top owner the input shows; an owner that is referenced but absent is still the workload
//! (named as referenced). With manifests, a controller's pod template stands for its pods.

use std::collections::{BTreeMap, HashMap};

use crate::meta::{Labels, ObjectMeta};
use crate::objects::{Kind, PodTemplate};
use crate::parse::{Located, Source};
use crate::snapshot::Snapshot;

/// Kinds a workload can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum WorkloadKind {
    /// Deployment.
    Deployment,
    /// ReplicaSet (not owned by a Deployment in the input).
    ReplicaSet,
    /// StatefulSet.
    StatefulSet,
    /// DaemonSet.
    DaemonSet,
    /// Job (not owned by a CronJob in the input).
    Job,
    /// CronJob.
    CronJob,
    /// ReplicationController.
    ReplicationController,
    /// A pod without a controller.
    Pod,
}

impl WorkloadKind {
    /// From an object kind, for the kinds that can be workloads.
    pub fn from_kind(kind: Kind) -> Option<WorkloadKind> {
        Some(match kind {
            Kind::Deployment => WorkloadKind::Deployment,
            Kind::ReplicaSet => WorkloadKind::ReplicaSet,
            Kind::StatefulSet => WorkloadKind::StatefulSet,
            Kind::DaemonSet => WorkloadKind::DaemonSet,
            Kind::Job => WorkloadKind::Job,
            Kind::CronJob => WorkloadKind::CronJob,
            Kind::ReplicationController => WorkloadKind::ReplicationController,
            Kind::Pod => WorkloadKind::Pod,
            _ => return None,
        })
    }

    /// From an `ownerReferences[].kind`.
    pub fn from_owner_kind(kind: &str) -> Option<WorkloadKind> {
        Some(match kind {
            "Deployment" => WorkloadKind::Deployment,
            "ReplicaSet" => WorkloadKind::ReplicaSet,
            "StatefulSet" => WorkloadKind::StatefulSet,
            "DaemonSet" => WorkloadKind::DaemonSet,
            "Job" => WorkloadKind::Job,
            "CronJob" => WorkloadKind::CronJob,
            "ReplicationController" => WorkloadKind::ReplicationController,
            _ => return None,
        })
    }

    /// The object kind.
    pub fn kind(self) -> Kind {
        match self {
            WorkloadKind::Deployment => Kind::Deployment,
            WorkloadKind::ReplicaSet => Kind::ReplicaSet,
            WorkloadKind::StatefulSet => Kind::StatefulSet,
            WorkloadKind::DaemonSet => Kind::DaemonSet,
            WorkloadKind::Job => Kind::Job,
            WorkloadKind::CronJob => Kind::CronJob,
            WorkloadKind::ReplicationController => Kind::ReplicationController,
            WorkloadKind::Pod => Kind::Pod,
        }
    }

    /// The kind name.
    pub fn as_str(self) -> &'static str {
        self.kind().as_str()
    }
}

impl std::fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Index of a workload in [`Workloads::list`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadId(pub u32);

impl WorkloadId {
    /// As an index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Pods of one workload that share a label set.
#[derive(Debug, Clone, PartialEq)]
pub struct PodGroup {
    /// The pods' labels.
    pub labels: Labels,
    /// How many pods (for templates: the desired replicas, at least 1).
    pub pods: u32,
    /// Nodes the pods run on (empty when unscheduled or unknown).
    pub nodes: Vec<String>,
}

/// A workload: one controller (or bare pod) and its pods.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Its index.
    pub id: WorkloadId,
    /// Kind of the top controller.
    pub kind: WorkloadKind,
    /// Namespace.
    pub namespace: String,
    /// Name of the top controller (or pod).
    pub name: String,
    /// Metadata of the top controller when present, else of a pod.
    pub metadata: ObjectMeta,
    /// The pod spec and pod metadata (from a live pod when the input has one, else the template).
    pub template: PodTemplate,
    /// Pods grouped by label set; templates give one group.
    pub groups: Vec<PodGroup>,
    /// Desired replicas, when the controller says.
    pub replicas: Option<i64>,
    /// Where the controller (or first pod) was defined.
    pub source: Option<Source>,
    /// Names of the pods in the input (empty for templates).
    pub pod_names: Vec<String>,
}

impl Workload {
    /// `namespace/name[Kind]`, the form used in reports.
    pub fn display(&self) -> String {
        format!("{}/{}[{}]", self.namespace, self.name, self.kind)
    }

    /// Whether the workload carries a label or annotation with this key and value, on the
    /// controller or its pods.
    pub fn has_marker(&self, key: &str, value: &str) -> bool {
        let m = |l: &Labels| l.get(key).is_some_and(|v| v == value);
        m(&self.metadata.labels)
            || m(&self.metadata.annotations)
            || m(&self.template.metadata.labels)
            || m(&self.template.metadata.annotations)
    }
}

/// The derived workload view of a snapshot.
#[derive(Debug, Clone, Default)]
pub struct Workloads {
    /// Workloads ordered by namespace, name and kind.
    pub list: Vec<Workload>,
    /// Problems found while grouping (ownerReference cycles).
    pub warnings: Vec<String>,
}

/// Namespace, kind and name, borrowed from the snapshot.
type Key<'a> = (&'a str, WorkloadKind, &'a str);

type Controllers<'a> = HashMap<Key<'a>, (&'a Source, &'a crate::objects::Controller)>;

/// Follows ownerReferences to the top owner the input shows; `controller` finds an owner's
/// metadata when the input has it.
fn top_of<'a>(
    controller: &dyn Fn(Key<'a>) -> Option<&'a ObjectMeta>,
    ns: &'a str,
    meta: &'a ObjectMeta,
    self_key: Option<Key<'a>>,
    warnings: &mut Vec<String>,
) -> Option<Key<'a>> {
    // Owner chains are short (Pod → ReplicaSet → Deployment): a list beats a set.
    let mut seen: Vec<Key<'a>> = self_key.into_iter().collect();
    let mut current: Option<Key<'a>> = None;
    let mut refs = &meta.owner_references;
    loop {
        // An owner reference without a kind still names the group (np-guard and `kubectl`
        // both keep such pods together under the owner's name).
        let owner = refs
            .iter()
            .find(|r| {
                r.controller == Some(true)
                    && (r.kind.is_empty() || WorkloadKind::from_owner_kind(&r.kind).is_some())
            })
            .or_else(|| {
                refs.iter()
                    .find(|r| WorkloadKind::from_owner_kind(&r.kind).is_some())
            });
        let Some(owner) = owner else { return current };
        let kind = if owner.kind.is_empty() {
            WorkloadKind::Pod
        } else {
            match WorkloadKind::from_owner_kind(&owner.kind) {
                Some(k) => k,
                None => return current,
            }
        };
        let key: Key<'a> = (ns, kind, owner.name.as_str());
        if seen.contains(&key) {
            warnings.push(format!(
                "ownerReferences cycle through {}/{}[{}]; grouping stops there",
                key.0, key.2, key.1
            ));
            return current;
        }
        seen.push(key);
        current = Some(key);
        match controller(key) {
            Some(m) => refs = &m.owner_references,
            None => return current,
        }
    }
}

impl Workloads {
    /// Groups the snapshot's pods and controllers into workloads.
    pub fn build(snapshot: &Snapshot) -> Workloads {
        let mut warnings = Vec::new();
        let controllers: Controllers<'_> = snapshot
            .controllers()
            .filter_map(|(src, c)| {
                let k = WorkloadKind::from_kind(c.kind)?;
                Some((
                    (c.metadata.namespace.as_str(), k, c.metadata.display_name()),
                    (src, c),
                ))
            })
            .collect();

        struct Acc<'a> {
            kind: WorkloadKind,
            namespace: &'a str,
            name: &'a str,
            controller: Option<(&'a Source, &'a crate::objects::Controller)>,
            pods: Vec<(&'a Source, &'a crate::objects::Pod)>,
        }
        let lookup = |k: Key<'_>| controllers.get(&k).map(|(_, c)| &c.metadata);
        // Ordered by namespace, name and kind: the order of the list.
        let mut acc: BTreeMap<(&str, &str, WorkloadKind), Acc<'_>> = BTreeMap::new();
        let mut sorted_controllers: Vec<&Key<'_>> = controllers.keys().collect();
        sorted_controllers.sort();
        for key in sorted_controllers {
            let (_, c) = controllers[key];
            if top_of(&lookup, key.0, &c.metadata, Some(*key), &mut warnings).is_none() {
                acc.entry((key.0, key.2, key.1)).or_insert_with(|| Acc {
                    kind: key.1,
                    namespace: key.0,
                    name: key.2,
                    controller: controllers.get(key).copied(),
                    pods: Vec::new(),
                });
            }
        }
        for (src, pod) in snapshot.pods() {
            let ns = pod.metadata.namespace.as_str();
            let key = top_of(&lookup, ns, &pod.metadata, None, &mut warnings).unwrap_or((
                ns,
                WorkloadKind::Pod,
                pod.metadata.display_name(),
            ));
            acc.entry((key.0, key.2, key.1))
                .or_insert_with(|| Acc {
                    kind: key.1,
                    namespace: key.0,
                    name: key.2,
                    controller: controllers.get(&key).copied(),
                    pods: Vec::new(),
                })
                .pods
                .push((src, pod));
        }

        let mut list = Vec::with_capacity(acc.len());
        for (_, a) in acc {
            let id = WorkloadId(u32::try_from(list.len()).unwrap_or(u32::MAX));
            let (metadata, template, replicas, source) = match (a.controller, a.pods.first()) {
                (_, Some((src, pod))) => {
                    let tpl = PodTemplate {
                        metadata: pod.metadata.clone(),
                        spec: pod.spec.clone(),
                    };
                    match a.controller {
                        Some((csrc, c)) => {
                            (c.metadata.clone(), tpl, c.replicas, Some(csrc.clone()))
                        }
                        None => (pod.metadata.clone(), tpl, None, Some((*src).clone())),
                    }
                }
                (Some((csrc, c)), None) => {
                    let mut tpl = c.template.clone();
                    tpl.metadata.namespace = c.metadata.namespace.clone();
                    (c.metadata.clone(), tpl, c.replicas, Some(csrc.clone()))
                }
                (None, None) => continue,
            };
            let groups = if a.pods.is_empty() {
                let pods = match a.kind {
                    WorkloadKind::CronJob | WorkloadKind::Job => 1,
                    _ => replicas.unwrap_or(1).clamp(1, i64::from(u32::MAX)) as u32,
                };
                vec![PodGroup {
                    labels: template.metadata.labels.clone(),
                    pods,
                    nodes: template.spec.node_name.iter().cloned().collect(),
                }]
            } else {
                pod_groups(a.pods.iter().map(|(_, p)| *p))
            };
            list.push(Workload {
                id,
                kind: a.kind,
                namespace: a.namespace.to_string(),
                name: a.name.to_string(),
                metadata,
                template,
                groups,
                replicas,
                source,
                pod_names: a
                    .pods
                    .iter()
                    .map(|(_, p)| p.metadata.display_name().to_string())
                    .collect(),
            });
        }
        Workloads { list, warnings }
    }

    /// The workloads of one namespace (the list is ordered by namespace).
    pub fn in_namespace(&self, namespace: &str) -> &[Workload] {
        let from = self
            .list
            .partition_point(|w| w.namespace.as_str() < namespace);
        let len = self.list[from..].partition_point(|w| w.namespace == namespace);
        &self.list[from..from + len]
    }

    /// The workload a pod belongs to.
    pub fn of_pod(&self, namespace: &str, pod: &str) -> Option<WorkloadId> {
        self.in_namespace(namespace)
            .iter()
            .find(|w| w.pod_names.iter().any(|n| n == pod))
            .map(|w| w.id)
    }

    /// Workload `id` as [`Workloads::build`] would build it from `snapshot`, when its pods
    /// changed but none joined, left or changed owner (a pod's labels, say): the pods are
    /// looked up by name instead of grouping the whole snapshot again. `None` when a pod is
    /// missing or no longer a pod.
    pub fn regroup(&self, snapshot: &Snapshot, id: WorkloadId) -> Option<Workload> {
        let old = self.list.get(id.index())?;
        self.regroup_with(snapshot, id, &old.pod_names)
    }

    /// Workload `id` as [`Workloads::build`] would build it from `snapshot` when its pods are
    /// exactly `pods` (names, in name order) and the controller is read afresh. The caller
    /// vouches for the membership ([`Workloads::owner_of`] of each pod is `id`). `None` when
    /// there are no pods (the workload would fall back to its template) or a name is no pod.
    pub fn regroup_with(
        &self,
        snapshot: &Snapshot,
        id: WorkloadId,
        pods: &[String],
    ) -> Option<Workload> {
        let old = self.list.get(id.index())?;
        let mut found = Vec::with_capacity(pods.len());
        for name in pods {
            let located = snapshot.get(Kind::Pod, &old.namespace, name)?;
            match &located.object {
                crate::Object::Pod(p) => found.push((&located.source, &**p)),
                _ => return None,
            }
        }
        let (first_src, first) = *found.first()?;
        let controller = match snapshot
            .get(old.kind.kind(), &old.namespace, &old.name)
            .filter(|_| old.kind != WorkloadKind::Pod)
        {
            Some(Located {
                source,
                object: crate::Object::Controller(c),
            }) => Some((source, c)),
            _ => None,
        };
        let mut w = old.clone();
        w.template = PodTemplate {
            metadata: first.metadata.clone(),
            spec: first.spec.clone(),
        };
        match controller {
            Some((source, c)) => {
                w.metadata.clone_from(&c.metadata);
                w.replicas = c.replicas;
                w.source = Some(source.clone());
            }
            None => {
                w.metadata = first.metadata.clone();
                w.replicas = None;
                w.source = Some(first_src.clone());
            }
        }
        w.groups = pod_groups(found.iter().map(|(_, p)| *p));
        w.pod_names = pods.to_vec();
        Some(w)
    }

    /// The workload `pod` belongs to in `snapshot` (its top owner, or itself), when this view
    /// has it: what [`Workloads::build`] would decide, without grouping the snapshot again.
    pub fn owner_of(&self, snapshot: &Snapshot, pod: &crate::objects::Pod) -> Option<WorkloadId> {
        self.workload_of(snapshot, WorkloadKind::Pod, &pod.metadata)
    }

    /// The workload an object of `kind` (a pod, or a controller) with metadata `meta` belongs to
    /// in `snapshot`: its top owner, or itself. `None` when this view has no such workload or
    /// the owners form a cycle.
    pub fn workload_of(
        &self,
        snapshot: &Snapshot,
        kind: WorkloadKind,
        meta: &ObjectMeta,
    ) -> Option<WorkloadId> {
        let ns = meta.namespace.as_str();
        let lookup = |k: Key<'_>| match snapshot.get(k.1.kind(), k.0, k.2) {
            Some(Located {
                object: crate::Object::Controller(c),
                ..
            }) if k.1 != WorkloadKind::Pod => Some(&c.metadata),
            _ => None,
        };
        // Pods are grouped without a key of their own (as `build` does).
        let own = (ns, kind, meta.display_name());
        let self_key = (kind != WorkloadKind::Pod).then_some(own);
        let mut warnings = Vec::new();
        let (ns, kind, name) = top_of(&lookup, ns, meta, self_key, &mut warnings).unwrap_or(own);
        if !warnings.is_empty() {
            return None;
        }
        self.in_namespace(ns)
            .iter()
            .find(|w| w.kind == kind && w.name == name)
            .map(|w| w.id)
    }

    /// Looks a workload up by namespace, kind and name.
    pub fn find(&self, namespace: &str, kind: WorkloadKind, name: &str) -> Option<&Workload> {
        self.list
            .iter()
            .find(|w| w.namespace == namespace && w.kind == kind && w.name == name)
    }

    /// Total pods across workloads.
    pub fn pod_count(&self) -> u64 {
        self.list
            .iter()
            .flat_map(|w| &w.groups)
            .map(|g| u64::from(g.pods))
            .sum()
    }
}

/// Live pods grouped by label set, in label order.
fn pod_groups<'a>(pods: impl Iterator<Item = &'a crate::objects::Pod>) -> Vec<PodGroup> {
    let mut by_labels: BTreeMap<&Labels, PodGroup> = BTreeMap::new();
    for p in pods {
        let g = by_labels
            .entry(&p.metadata.labels)
            .or_insert_with(|| PodGroup {
                labels: p.metadata.labels.clone(),
                pods: 0,
                nodes: Vec::new(),
            });
        g.pods = g.pods.saturating_add(1);
        if let Some(n) = p.spec.node_name.as_ref().filter(|n| !n.is_empty())
            && !g.nodes.contains(n)
        {
            g.nodes.push(n.clone());
        }
    }
    by_labels.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{ParseLimits, parse_source};

    fn workloads(yaml: &str) -> Workloads {
        let p = parse_source("t.yaml", yaml, &ParseLimits::default());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        Workloads::build(&Snapshot::from_objects(p.objects))
    }

    const DUMP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: nginx}]}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-5d9, namespace: shop, ownerReferences: [{kind: Deployment, name: web, controller: true}]}
spec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c}]}}}
---
apiVersion: v1
kind: Pod
metadata: {name: web-5d9-a, namespace: shop, labels: {app: web}, ownerReferences: [{kind: ReplicaSet, name: web-5d9, controller: true}]}
spec: {nodeName: n1, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-5d9-b, namespace: shop, labels: {app: web}, ownerReferences: [{kind: ReplicaSet, name: web-5d9, controller: true}]}
spec: {nodeName: n2, containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: orphan-x, namespace: shop, labels: {app: o}, ownerReferences: [{kind: ReplicaSet, name: gone-77, controller: true}]}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: bare, namespace: shop}
spec: {containers: [{name: c}]}
"#;

    #[test]
    fn controller_and_pods_are_one_workload() {
        let w = workloads(DUMP);
        let names: Vec<String> = w.list.iter().map(Workload::display).collect();
        assert_eq!(
            names,
            [
                "shop/bare[Pod]",
                "shop/gone-77[ReplicaSet]",
                "shop/web[Deployment]"
            ]
        );
        let web = w.find("shop", WorkloadKind::Deployment, "web").unwrap();
        assert_eq!(web.groups.len(), 1);
        assert_eq!(web.groups[0].pods, 2);
        assert_eq!(web.groups[0].nodes, ["n1", "n2"]);
        assert_eq!(w.pod_count(), 4);
    }

    #[test]
    fn regroup_is_the_full_build_of_one_workload() {
        let p = parse_source("t.yaml", DUMP, &ParseLimits::default());
        let mut snapshot = Snapshot::from_objects(p.objects);
        let before = Workloads::build(&snapshot);
        // Relabel the first pod of each workload in turn: the template, the groups and (for
        // workloads without a controller) the metadata follow it.
        for pod in ["web-5d9-a", "web-5d9-b", "orphan-x", "bare"] {
            let mut o = snapshot.get(Kind::Pod, "shop", pod).cloned().unwrap();
            if let crate::Object::Pod(p) = &mut o.object {
                p.metadata.labels.insert("tier".into(), format!("t-{pod}"));
            }
            snapshot.apply(crate::Change::Upsert(Box::new(o)));
            let full = Workloads::build(&snapshot);
            let id = before.of_pod("shop", pod).unwrap();
            assert_eq!(
                before.regroup(&snapshot, id).as_ref(),
                Some(&full.list[id.index()])
            );
        }
        // A pod that is gone: no regrouping.
        snapshot.apply(crate::Change::Delete(crate::ObjectKey {
            kind: Kind::Pod,
            namespace: "shop".into(),
            name: "bare".into(),
        }));
        let id = before.of_pod("shop", "bare").unwrap();
        assert_eq!(before.regroup(&snapshot, id), None);
    }

    #[test]
    fn owner_cycles_are_reported_not_looped() {
        let w = workloads(
            "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: a, ownerReferences: [{kind: ReplicaSet, name: b}]}\nspec: {}\n---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: b, ownerReferences: [{kind: ReplicaSet, name: a}]}\nspec: {}\n",
        );
        assert!(!w.warnings.is_empty());
    }
}
