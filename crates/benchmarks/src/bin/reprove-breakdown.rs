//! Where a re-proof's time goes: `cargo run --release -p rampart-benchmarks --bin
//! reprove-breakdown [PODS] [CHANGES] [sparse|dense] [objects]` — the synthetic cluster (10,000
//! pods, sparse, by default), then (`objects`: the last section alone):
//!
//! * one full analysis phase by phase (workloads, network model, RBAC, graph, chains, cut) and
//!   the threat diff, medians of 5;
//! * the engine core's re-proof after one pod's label change, p50 and p99 over CHANGES changes
//!   (200 by default) to random pods: a label no selector reads (the relabel path: the proof
//!   stands), and labels NetworkPolicies select by, so that the pod moves to another
//!   reachability class (the reclass path: the graph patched, chains and cut again from the
//!   previous ones) — one policy isolates ingress, one contains egress to the namespace;
//! * the same after each event a controller makes (the churn path, [`rampart_graph::churn`]):
//!   pods created, bound to a node and deleted one at a time; a rollout of a 5-replica
//!   Deployment (a new ReplicaSet, pods replaced one by one, as `kubectl rollout restart` and
//!   `kubectl set image` make it); a scale from 5 to 50 replicas. Every event is re-proved on
//!   its own (the engine's debounce would batch some), p50 and p99 per event;
//! * a NetworkPolicy, a Service and a RoleBinding added, changed and deleted (20 of each),
//!   p50 and p99 per change.
//!
//! With `REPROVE_TRACE` set, each event's time is printed too (to tell a slow kind of change
//! from the machine's noise). Run it with the engine's allocator settings,
//! `MIMALLOC_PURGE_DELAY=0 MIMALLOC_ARENA_EAGER_COMMIT=0`, to measure what the engine does.

use std::time::{Duration, Instant};

use rampart_graph::diff::diff;
use rampart_graph::netpol::NetModel;
use rampart_graph::rbac::Rbac;
use rampart_graph::{Models, Options, SecurityGraph, analyze, cut, prove};
use rampart_model::objects::Pod;
use rampart_model::parse::{ParseLimits, parse_source};
use rampart_model::{Change, Kind, Located, Object, ObjectKey, Workloads};
use rampart_respond::engine::{EngineCore, ReproofPath};
use rampart_synth::{Config, Rng, Shape, snapshot};

// The engine's allocator, so that allocation costs are the engine's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn percentile(v: &mut [Duration], p: usize) -> Duration {
    v.sort();
    v[(v.len() * p / 100).min(v.len() - 1)]
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed())
}

fn phases(s: &rampart_model::Snapshot) {
    let mut t: [Vec<Duration>; 8] = Default::default();
    for _ in 0..5 {
        let (w, tw) = timed(|| Workloads::build(s));
        let (net, tn) = timed(|| NetModel::build(s, &w));
        let (rbac, tr) = timed(|| Rbac::build(s));
        drop(rbac);
        let models = Models {
            workloads: std::sync::Arc::new(w),
            net: std::sync::Arc::new(net),
        };
        let (g0, tb) = timed(|| SecurityGraph::build_from(s, models));
        drop(g0);
        let (mut g, tg) = timed(|| SecurityGraph::build(s));
        let (p, tp) = timed(|| prove::prove(&g, &Default::default()));
        let (plan, tc) = timed(|| cut::min_cut(s, &mut g, &p));
        let before = analyze(s, &Options::default());
        let after = rampart_graph::Analysis {
            graph: g,
            proof: p,
            plan,
        };
        let (d, td) = timed(|| diff(&before, &after));
        for (i, x) in [tw, tn, tr, tg, tp, tc, td, tb].into_iter().enumerate() {
            t[i].push(x);
        }
        std::hint::black_box(d);
    }
    let [w, n, r, g, p, c, d, b] = t.map(|mut v| percentile(&mut v, 50));
    let a = analyze(s, &Options::default());
    println!(
        "graph: {} vertices, {} edges, {} chains",
        a.graph.graph.node_count(),
        a.graph.graph.edge_count(),
        a.proof.chains.len()
    );
    println!(
        "full analysis: workloads {w:.1?}, network model {n:.1?}, RBAC {r:.1?}, graph (all three \
         included) {g:.1?} (from built models {b:.1?}), chains {p:.1?}, cut {c:.1?}; threat diff \
         {d:.1?}"
    );
}

fn main() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // `rampart engine` runs with these (it re-executes itself with them): freed memory
        // leaves at once. Without them mimalloc returns it ~10 ms later, in the middle of
        // whichever re-proof runs then — one or two slow events in sixty.
        eprintln!(
            "note: the engine runs with MIMALLOC_PURGE_DELAY=0 MIMALLOC_ARENA_EAGER_COMMIT=0; set them to measure as it runs"
        );
    }
    let mut args = std::env::args().skip(1);
    let pods: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let changes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let shape = match args.next() {
        None => Shape::Sparse,
        Some(s) => Shape::parse(&s).unwrap_or_else(|| {
            eprintln!("the shape is sparse or dense");
            std::process::exit(2)
        }),
    };
    let mut s = snapshot(&Config::with_pods(pods).shaped(shape));
    // A selector on a label the generator never sets, in every namespace, so that setting it
    // moves a pod to another reachability class.
    let mut extra = String::new();
    for ns in s.namespace_names() {
        extra.push_str(&format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: quarantine, namespace: {ns}}}\nspec: {{podSelector: {{matchLabels: {{quarantine: \"true\"}}}}, policyTypes: [Ingress]}}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: contain, namespace: {ns}}}\nspec: {{podSelector: {{matchLabels: {{contain: \"true\"}}}}, policyTypes: [Egress], egress: [{{to: [{{podSelector: {{}}}}]}}]}}\n---\n"
        ));
    }
    for o in parse_source("extra.yaml", &extra, &ParseLimits::default()).objects {
        s.apply(Change::Upsert(Box::new(o)));
    }
    let only_objects = args.next().as_deref() == Some("objects");
    if !only_objects {
        phases(&s);
    }

    let mut core = EngineCore::shadow(Options::default());
    for o in s.iter() {
        core.apply(Change::Upsert(Box::new(o.clone())));
    }
    core.reprove(0);
    let pod_keys: Vec<(String, String)> = s
        .of_kind(Kind::Pod)
        .map(|o| {
            let m = o.object.meta();
            (m.namespace.clone(), m.name.clone())
        })
        .collect();
    let mut r = Rng::new(7);
    if only_objects {
        objects_the_proof_reads(&mut core, &mut r);
        return;
    }
    for (what, key) in [
        ("a label no selector reads", "bench"),
        (
            "a label an ingress-isolating NetworkPolicy selects (class move)",
            "quarantine",
        ),
        (
            "a label an egress-containing NetworkPolicy selects (class move)",
            "contain",
        ),
    ] {
        let mut times = Vec::with_capacity(changes);
        let mut relabelled = 0;
        for i in 0..changes {
            let (ns, name) = &pod_keys[r.below(pod_keys.len())];
            let mut pod = core
                .snapshot()
                .get(Kind::Pod, ns, name)
                .cloned()
                .expect("a pod");
            let value = if key != "bench" {
                "true".to_string()
            } else {
                format!("v{i}")
            };
            pod.object.meta_mut().labels.insert(key.into(), value);
            let t = Instant::now();
            core.apply(Change::Upsert(Box::new(pod)));
            let report = core.reprove(i as u64);
            times.push(t.elapsed());
            relabelled += usize::from(report.path != ReproofPath::Full);
            std::hint::black_box(report);
            if key != "bench" {
                // Back out, unmeasured, so every change is a move.
                let mut pod = core
                    .snapshot()
                    .get(Kind::Pod, ns, name)
                    .cloned()
                    .expect("a pod");
                pod.object.meta_mut().labels.remove(key);
                core.apply(Change::Upsert(Box::new(pod)));
                core.reprove(i as u64);
            }
        }
        let (p50, p99) = (percentile(&mut times, 50), percentile(&mut times, 99));
        println!(
            "{pods} pods, one pod's label change → change report, {what}: p50 {p50:.2?}, p99 \
             {p99:.2?} ({relabelled} of {changes} on an incremental path)"
        );
    }
    churn(&mut core, &mut r);
    objects_the_proof_reads(&mut core, &mut r);
}

/// Parses one manifest (the benchmark's own YAML).
fn manifest(yaml: &str) -> Located<Object> {
    let mut objects = parse_source("bench.yaml", yaml, &ParseLimits::default()).objects;
    assert_eq!(objects.len(), 1, "one object in {yaml}");
    objects.remove(0)
}

/// A manifest for a namespace, an `app` label and a variant.
type Manifest = fn(&str, &str, usize) -> String;

/// A NetworkPolicy, a Service and a RoleBinding each added, changed and deleted, in random
/// namespaces, against random Deployments: the changes that re-prove more than workloads.
fn objects_the_proof_reads(core: &mut EngineCore, r: &mut Rng) {
    let s = core.snapshot();
    let targets: Vec<(String, String)> = s
        .of_kind(Kind::Deployment)
        .filter_map(|d| {
            let m = d.object.meta();
            Some((m.namespace.clone(), m.labels.get("app")?.clone()))
        })
        .collect();
    let picks: Vec<(String, String)> = (0..20)
        .map(|_| targets[r.below(targets.len())].clone())
        .collect();
    let kinds: [(&str, Kind, Manifest); 3] = [
        ("a NetworkPolicy", Kind::NetworkPolicy, |ns, app, v| {
            format!(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: bench-np, namespace: {ns}}}\n\
                 spec: {{podSelector: {{matchLabels: {{app: {app}}}}}, policyTypes: [Ingress], ingress: [{{from: \
                 [{{namespaceSelector: {{matchLabels: {{team: t{v}}}}}}}], ports: [{{port: {}}}]}}]}}\n",
                8080 + v
            )
        }),
        ("a Service", Kind::Service, |ns, app, v| {
            let kind = if v == 0 { "ClusterIP" } else { "LoadBalancer" };
            format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: bench-svc, namespace: {ns}}}\n\
                 spec: {{type: {kind}, selector: {{app: {app}}}, ports: [{{port: 80, targetPort: 8080}}]}}\n"
            )
        }),
        ("a RoleBinding", Kind::RoleBinding, |ns, _, v| {
            let role = if v == 0 { "view" } else { "edit" };
            format!(
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: bench-rb, \
                 namespace: {ns}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: \
                 {role}}}\nsubjects: [{{kind: ServiceAccount, name: default, namespace: {ns}}}]\n"
            )
        }),
    ];
    for (what, kind, yaml) in kinds {
        let (mut t, mut paths) = (Vec::new(), Vec::new());
        for (ns, app) in &picks {
            for v in [0, 1] {
                let o = manifest(&yaml(ns, app, v));
                event(core, Change::Upsert(Box::new(o)), &mut t, &mut paths);
            }
            let name = core
                .snapshot()
                .of_kind(kind)
                .find(|o| {
                    o.object.meta().namespace == *ns && o.object.meta().name.starts_with("bench-")
                })
                .map(|o| o.object.meta().name.clone())
                .expect("the object just added");
            event(
                core,
                Change::Delete(key(kind, ns, &name)),
                &mut t,
                &mut paths,
            );
        }
        print_events(
            &format!("{what} added, changed, deleted ({} of each)", picks.len()),
            t,
            &paths,
        );
    }
}

/// One controller's event: applied, then re-proved; the time and the path.
fn event(
    core: &mut EngineCore,
    change: Change,
    t: &mut Vec<Duration>,
    paths: &mut Vec<ReproofPath>,
) {
    let at = Instant::now();
    if core.apply(change) {
        let report = core.reprove(0);
        t.push(at.elapsed());
        paths.push(report.path);
        std::hint::black_box(report);
        // As the engine does: the replaced analysis is freed once the report is out.
        drop(core.take_retired());
    }
}

fn print_events(what: &str, mut t: Vec<Duration>, paths: &[ReproofPath]) {
    if std::env::var_os("REPROVE_TRACE").is_some() {
        let ms: Vec<String> = t
            .iter()
            .map(|d| format!("{:.0}", d.as_secs_f64() * 1e3))
            .collect();
        eprintln!("{what}, each event (ms): {}", ms.join(" "));
    }
    let mut by_path: std::collections::BTreeMap<String, usize> = Default::default();
    for p in paths {
        *by_path.entry(format!("{p:?}").to_lowercase()).or_default() += 1;
    }
    let (p50, p99, max) = (
        percentile(&mut t, 50),
        percentile(&mut t, 99),
        percentile(&mut t, 100),
    );
    println!(
        "{what}: {} events, p50 {p50:.2?}, p99 {p99:.2?}, max {max:.2?}; paths {by_path:?}",
        t.len()
    );
}

/// A pod like `like` named `name`: created unscheduled, then bound to `node`.
fn create_and_bind(
    core: &mut EngineCore,
    like: &Located<Object>,
    name: &str,
    node: &str,
    t: &mut Vec<Duration>,
    paths: &mut Vec<ReproofPath>,
) {
    let mut p = like.clone();
    {
        let pm = pod_mut(&mut p);
        pm.metadata.name = name.to_string();
        pm.spec.node_name = None;
    }
    event(core, Change::Upsert(Box::new(p.clone())), t, paths);
    pod_mut(&mut p).spec.node_name = Some(node.to_string());
    event(core, Change::Upsert(Box::new(p)), t, paths);
}

fn pod_mut(o: &mut Located<Object>) -> &mut Pod {
    match &mut o.object {
        Object::Pod(p) => p,
        _ => unreachable!("a pod"),
    }
}

fn key(kind: Kind, ns: &str, name: &str) -> ObjectKey {
    ObjectKey {
        kind,
        namespace: ns.into(),
        name: name.into(),
    }
}

/// Pods coming and going as controllers make them.
fn churn(core: &mut EngineCore, r: &mut Rng) {
    let s = core.snapshot().clone();
    let nodes: Vec<String> = s
        .of_kind(Kind::Node)
        .map(|o| o.object.meta().name.clone())
        .collect();
    // Deployments with exactly five pods, their ReplicaSet and pods.
    let mut five = Vec::new();
    for d in s.of_kind(Kind::Deployment) {
        let m = d.object.meta();
        let rs: Vec<&Located<Object>> = s
            .of_kind(Kind::ReplicaSet)
            .filter(|x| {
                let xm = x.object.meta();
                xm.namespace == m.namespace && xm.owner_references.iter().any(|o| o.name == m.name)
            })
            .collect();
        let [rs] = rs.as_slice() else { continue };
        let rs_name = rs.object.meta().name.clone();
        let pods: Vec<Located<Object>> = s
            .of_kind(Kind::Pod)
            .filter(|p| {
                let pm = p.object.meta();
                pm.namespace == m.namespace && pm.owner_references.iter().any(|o| o.name == rs_name)
            })
            .cloned()
            .collect();
        if pods.len() == 5 {
            five.push((d.clone(), (*rs).clone(), pods));
        }
        if five.len() == 12 {
            break;
        }
    }
    // One at a time: created unscheduled, bound to a node, deleted.
    let (mut t, mut paths) = (Vec::new(), Vec::new());
    for i in 0..60 {
        let (_, _, pods) = &five[i % five.len()];
        let name = format!("{}-extra{i}", pods[0].object.meta().name);
        let ns = pods[0].object.meta().namespace.clone();
        let node = &nodes[r.below(nodes.len())];
        create_and_bind(core, &pods[0], &name, node, &mut t, &mut paths);
        event(
            core,
            Change::Delete(key(Kind::Pod, &ns, &name)),
            &mut t,
            &mut paths,
        );
    }
    print_events("a pod created, bound, deleted (60 of each)", t, &paths);

    for (what, image) in [("rollout restart", false), ("set image", true)] {
        let (mut t, mut paths) = (Vec::new(), Vec::new());
        for (n, (d, rs, pods)) in five.iter().take(6).enumerate() {
            rollout(core, r, &nodes, (d, rs, pods), n, image, &mut t, &mut paths);
        }
        print_events(
            &format!("rollout of a 5-replica Deployment ({what}, 6 rollouts)"),
            t,
            &paths,
        );
    }

    let (mut t, mut paths) = (Vec::new(), Vec::new());
    let (d, rs, pods) = &five[five.len() - 1];
    for c in [d, rs] {
        let mut c = c.clone();
        if let Object::Controller(x) = &mut c.object {
            x.replicas = Some(50);
        }
        event(core, Change::Upsert(Box::new(c)), &mut t, &mut paths);
    }
    for i in 0..45 {
        let name = format!("{}-up{i}", rs.object.meta().name);
        let node = &nodes[r.below(nodes.len())];
        create_and_bind(core, &pods[0], &name, node, &mut t, &mut paths);
    }
    print_events("scale of a Deployment from 5 to 50", t, &paths);
}

/// A rolling update of a 5-replica Deployment (maxSurge 2, maxUnavailable 1, as 25% rounds):
/// a new ReplicaSet, then pod by pod a new one created and bound, an old one terminating and
/// gone, the ReplicaSets' replica counts following.
#[allow(clippy::too_many_arguments)]
fn rollout(
    core: &mut EngineCore,
    r: &mut Rng,
    nodes: &[String],
    (d, rs, pods): (&Located<Object>, &Located<Object>, &[Located<Object>]),
    n: usize,
    image: bool,
    t: &mut Vec<Duration>,
    paths: &mut Vec<ReproofPath>,
) {
    let ns = d.object.meta().namespace.clone();
    let hash = format!("r{n}{}", r.below(1000));
    let new_rs_name = format!("{}-{hash}", d.object.meta().name);
    let mut new_rs = rs.clone();
    new_rs.object.meta_mut().name.clone_from(&new_rs_name);
    let mut dep = d.clone();
    dep.object.meta_mut().annotations.insert(
        "deployment.kubernetes.io/revision".into(),
        format!("{}", 4 + n),
    );
    event(core, Change::Upsert(Box::new(dep)), t, paths);
    event(core, Change::Upsert(Box::new(new_rs.clone())), t, paths);
    let mut old_rs = rs.clone();
    for (i, old) in pods.iter().enumerate() {
        let mut p = old.clone();
        let name = format!("{new_rs_name}-{i}");
        {
            let pm = pod_mut(&mut p);
            pm.metadata.name.clone_from(&name);
            pm.metadata
                .labels
                .insert("pod-template-hash".into(), hash.clone());
            if let Some(o) = pm.metadata.owner_references.first_mut() {
                o.name.clone_from(&new_rs_name);
            }
            if image {
                if let Some(c) = pm.spec.containers.first_mut() {
                    c.image = format!("{}-next", c.image);
                }
            } else {
                pm.metadata.annotations.insert(
                    "kubectl.kubernetes.io/restartedAt".into(),
                    "2026-12-05T10:00:00Z".into(),
                );
            }
            pm.spec.node_name = None;
        }
        if let Object::Controller(x) = &mut new_rs.object {
            x.replicas = Some(i as i64 + 1);
        }
        event(core, Change::Upsert(Box::new(new_rs.clone())), t, paths);
        event(core, Change::Upsert(Box::new(p.clone())), t, paths);
        pod_mut(&mut p).spec.node_name = Some(nodes[r.below(nodes.len())].clone());
        event(core, Change::Upsert(Box::new(p)), t, paths);
        if let Object::Controller(x) = &mut old_rs.object {
            x.replicas = Some(4 - i as i64);
        }
        event(core, Change::Upsert(Box::new(old_rs.clone())), t, paths);
        let mut gone = old.clone();
        gone.object.meta_mut().deletion_timestamp = "2026-12-05T10:00:00Z".into();
        event(core, Change::Upsert(Box::new(gone)), t, paths);
        let m = old.object.meta();
        event(core, Change::Delete(key(Kind::Pod, &ns, &m.name)), t, paths);
    }
}
