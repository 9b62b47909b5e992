//! The workload-churn path is exact: whenever `update_objects` takes a batch of pod and
//! controller changes — pods created and evicted, rescheduled, scaled, a Deployment rolled out
//! through a new ReplicaSet in batches, a replica count changed, a pod relabelled — the updated
//! analysis says what a full analysis of the changed cluster says (relations, classes, each
//! workload's groups, pods and replicas, chains step for step, cut plan, threat diff). Batches
//! apply one after another to the same analysis, as the engine's debounced rounds do.

mod common;

use std::collections::BTreeMap;

use common::{ROLES, assert_same, cluster, render};
use rampart_graph::churn::update_objects;
use rampart_graph::diff::diff;
use rampart_graph::reclass::Update;
use rampart_graph::{Options, analyze};
use rampart_model::objects::Pod;
use rampart_model::{Change, Kind, Located, Object, ObjectKey, Snapshot};
use rampart_synth::{Rng, Shape};

/// A batch of changes being made: each object's version before the batch, as the engine keeps
/// it.
struct Batch<'s> {
    s: &'s mut Snapshot,
    before: BTreeMap<ObjectKey, Option<Object>>,
}

impl Batch<'_> {
    fn apply(&mut self, change: Change) {
        let key = match &change {
            Change::Upsert(o) => ObjectKey::of(&o.object),
            Change::Delete(k) => k.clone(),
        };
        if !self.before.contains_key(&key) {
            let was = self
                .s
                .get(key.kind, &key.namespace, &key.name)
                .map(|l| l.object.clone());
            self.before.insert(key, was);
        }
        self.s.apply(change);
    }
}

fn key(kind: Kind, ns: &str, name: &str) -> ObjectKey {
    ObjectKey {
        kind,
        namespace: ns.to_string(),
        name: name.to_string(),
    }
}

fn pod_of(l: &Located<Object>) -> &Pod {
    match &l.object {
        Object::Pod(p) => p,
        _ => unreachable!("a pod"),
    }
}

/// The ReplicaSet a pod belongs to, when it has one.
fn replica_set(p: &Pod) -> Option<String> {
    p.metadata
        .owner_references
        .iter()
        .find(|r| r.kind == "ReplicaSet")
        .map(|r| r.name.clone())
}

fn nodes(s: &Snapshot) -> Vec<String> {
    s.of_kind(Kind::Node)
        .map(|l| l.object.meta().name.clone())
        .collect()
}

/// A copy of pod `p` named `name`, on `node`.
fn copy(p: &Located<Object>, name: &str, node: &str, rv: u64) -> Located<Object> {
    let mut c = p.clone();
    if let Object::Pod(pod) = &mut c.object {
        pod.metadata.name = name.to_string();
        pod.metadata.uid = format!("uid-{name}");
        pod.metadata.resource_version = rv.to_string();
        pod.spec.node_name = Some(node.to_string());
    }
    c
}

/// One random batch of churn; what it did, for messages.
fn churn(r: &mut Rng, b: &mut Batch<'_>, step: usize) -> String {
    let pods: Vec<Located<Object>> = b.s.of_kind(Kind::Pod).cloned().collect();
    let nodes = nodes(b.s);
    let p = &pods[r.below(pods.len())];
    let (ns, name) = {
        let m = p.object.meta();
        (m.namespace.clone(), m.name.clone())
    };
    let rv = r.next_u64() % 1_000_000;
    let node = if r.percent(5) {
        // Known only from the pod: a vertex a full build adds.
        format!("fresh-{}", r.below(2))
    } else {
        nodes[r.below(nodes.len())].clone()
    };
    match r.below(10) {
        // Scale up: another pod like this one.
        0 | 1 => {
            let n = format!("{name}-s{step}");
            b.apply(Change::Upsert(Box::new(copy(p, &n, &node, rv))));
            format!("scale up {ns}/{name} → {n} on {node}")
        }
        // Evicted, sometimes replaced at once elsewhere.
        2 | 3 => {
            b.apply(Change::Delete(key(Kind::Pod, &ns, &name)));
            if r.percent(50) {
                let n = format!("{name}-r{step}");
                b.apply(Change::Upsert(Box::new(copy(p, &n, &node, rv))));
                return format!("evict {ns}/{name}, replaced by {n} on {node}");
            }
            format!("evict {ns}/{name}")
        }
        // Rescheduled (a pod bound to its node after creation).
        4 => {
            let mut c = p.clone();
            if let Object::Pod(pod) = &mut c.object {
                pod.spec.node_name = Some(node.clone());
                pod.metadata.resource_version = rv.to_string();
            }
            b.apply(Change::Upsert(Box::new(c)));
            format!("reschedule {ns}/{name} to {node}")
        }
        // A rollout step: a new ReplicaSet, two pods of it in, two old ones out; now and then
        // the new pods run another image, carry a restart annotation or run as another
        // ServiceAccount (the spec the analysis reads changes once one of them is the
        // workload's first pod).
        5..=7 => rollout(r, b, p, &pods, step, &node),
        // A replica count changed on the workload's controller, with a pod more.
        8 => {
            let Some(rs) = replica_set(pod_of(p)) else {
                return "no ReplicaSet".into();
            };
            let Some(mut c) = b.s.get(Kind::ReplicaSet, &ns, &rs).cloned() else {
                return "no ReplicaSet object".into();
            };
            let owner = match &c.object {
                Object::Controller(x) => {
                    x.metadata.owner_references.first().map(|o| o.name.clone())
                }
                _ => None,
            };
            if let Object::Controller(x) = &mut c.object {
                x.replicas = Some(x.replicas.unwrap_or(1) + 1);
                x.metadata.resource_version = rv.to_string();
            }
            b.apply(Change::Upsert(Box::new(c)));
            if let Some(d) = owner
                && let Some(mut c) = b.s.get(Kind::Deployment, &ns, &d).cloned()
            {
                if let Object::Controller(x) = &mut c.object {
                    x.replicas = Some(x.replicas.unwrap_or(1) + 1);
                }
                b.apply(Change::Upsert(Box::new(c)));
            }
            let n = format!("{name}-p{step}");
            b.apply(Change::Upsert(Box::new(copy(p, &n, &node, rv))));
            format!("replicas +1 for {ns}/{rs}, {n}")
        }
        // A label change, or a bare pod (a workload the analysis does not have).
        _ => {
            if r.percent(70) {
                let mut c = p.clone();
                if let Object::Pod(pod) = &mut c.object {
                    pod.metadata
                        .labels
                        .insert("role".into(), ROLES[r.below(ROLES.len())].into());
                }
                b.apply(Change::Upsert(Box::new(c)));
                format!("relabel {ns}/{name}")
            } else {
                let mut c = copy(p, &format!("bare-{step}"), &node, rv);
                c.object.meta_mut().owner_references.clear();
                b.apply(Change::Upsert(Box::new(c)));
                format!("bare pod in {ns}")
            }
        }
    }
}

/// One rollout step for pod `p`'s Deployment.
fn rollout(
    r: &mut Rng,
    b: &mut Batch<'_>,
    p: &Located<Object>,
    pods: &[Located<Object>],
    step: usize,
    node: &str,
) -> String {
    let pod = pod_of(p);
    let ns = pod.metadata.namespace.clone();
    let Some(rs) = replica_set(pod) else {
        return "no ReplicaSet".into();
    };
    let Some(old_rs) = b.s.get(Kind::ReplicaSet, &ns, &rs).cloned() else {
        return "no ReplicaSet object".into();
    };
    // The new ReplicaSet: named with a hash that sorts before or after the old one's pods.
    let app = pod.metadata.labels.get("app").cloned().unwrap_or_default();
    let hash = if r.percent(50) { "0aaaa" } else { "zzzzz" };
    let new_rs = format!("{app}-{hash}");
    let mut created = old_rs.clone();
    created.object.meta_mut().name.clone_from(&new_rs);
    created
        .object
        .meta_mut()
        .labels
        .insert("pod-template-hash".into(), hash.into());
    if b.s.get(Kind::ReplicaSet, &ns, &new_rs).is_none() {
        b.apply(Change::Upsert(Box::new(created)));
    }
    let image = r.percent(25);
    let restart = r.percent(25);
    // Another ServiceAccount: a spec change the graph reads.
    let account = r.percent(15);
    let mut did = format!(
        "rollout {ns}/{app} to {new_rs} (image {image}, restart {restart}, account {account}):"
    );
    for i in 0..2 {
        let n = format!("{new_rs}-{step}{i}");
        let mut c = copy(p, &n, node, 1);
        if let Object::Pod(np) = &mut c.object {
            np.metadata
                .labels
                .insert("pod-template-hash".into(), hash.into());
            if let Some(o) = np
                .metadata
                .owner_references
                .iter_mut()
                .find(|o| o.kind == "ReplicaSet")
            {
                o.name.clone_from(&new_rs);
            }
            if image && let Some(ct) = np.spec.containers.first_mut() {
                ct.image = format!("registry.example.com/{ns}/{app}:2.0.{step}");
            }
            if account {
                np.spec.service_account_name = Some(format!("rolled-{step}"));
            }
            if restart {
                np.metadata.annotations.insert(
                    "kubectl.kubernetes.io/restartedAt".into(),
                    format!("t{step}"),
                );
            }
        }
        b.apply(Change::Upsert(Box::new(c)));
        did.push_str(&format!(" +{n}"));
    }
    let old: Vec<&Located<Object>> = pods
        .iter()
        .filter(|l| replica_set(pod_of(l)).as_deref() == Some(rs.as_str()))
        .collect();
    for l in old.iter().take(2) {
        let m = l.object.meta();
        b.apply(Change::Delete(key(Kind::Pod, &m.namespace, &m.name)));
        did.push_str(&format!(" -{}", m.name));
    }
    did
}

#[derive(Default)]
struct Tally(BTreeMap<String, usize>);

impl Tally {
    fn seen(&mut self, k: &str) {
        *self.0.entry(k.to_string()).or_default() += 1;
    }
    fn count(&self, k: &str) -> usize {
        self.0.get(k).copied().unwrap_or(0)
    }
}

fn run(label: &str, mut s: Snapshot, r: &mut Rng, steps: usize, tally: &mut Tally) {
    let options = Options::default();
    let mut current = analyze(&s, &options);
    for step in 0..steps {
        let mut b = Batch {
            s: &mut s,
            before: BTreeMap::new(),
        };
        // Batches of one to three changes, as a debounce window gathers them.
        let what: Vec<String> = (0..1 + r.below(3))
            .map(|i| churn(r, &mut b, step * 3 + i))
            .collect();
        let changed: Vec<(ObjectKey, Option<Object>)> = b.before.into_iter().collect();
        let full = analyze(&s, &options);
        let want = diff(&current, &full);
        let what = format!("{label} step {step}: {what:?}");
        match update_objects(&mut current, &s, &changed, &options) {
            Ok(u) => {
                assert_same(&render(&current), &render(&full), &what);
                match u {
                    Update::Relabelled => {
                        assert!(want.is_empty(), "{what}: proof kept, but {want:?}");
                        tally.seen("kept");
                    }
                    Update::Reclassed(got) => {
                        assert_eq!(got, want, "{what}: threat diff");
                        tally.seen("patched");
                        if !got.is_empty() {
                            tally.seen("patched, diff");
                        }
                    }
                }
            }
            Err(e) => {
                tally.seen(&format!("{e:?}"));
                current = full;
            }
        }
    }
}

#[test]
fn pods_coming_and_going_patched_equal_a_full_analysis() {
    let mut tally = Tally::default();
    for seed in 1..=8u64 {
        let shape = if seed <= 5 {
            Shape::Sparse
        } else {
            Shape::Dense
        };
        let mut r = Rng::new(seed * 7_919);
        run(
            &format!("seed {seed} {}", shape.name()),
            cluster(seed, shape),
            &mut r,
            60,
            &mut tally,
        );
    }
    eprintln!("{:?}", tally.0);
    // Most batches take an incremental path, some of them with a patch that changes chains.
    assert!(tally.count("kept") >= 60, "{:?}", tally.0);
    assert!(tally.count("patched") >= 100, "{:?}", tally.0);
    assert!(tally.count("patched, diff") >= 50, "{:?}", tally.0);
    // And what must be refused is.
    for refused in ["NewNode", "NewWorkload", "Template"] {
        assert!(tally.count(refused) > 0, "{refused}: {:?}", tally.0);
    }
}
