//! Where a re-proof's time goes: `cargo run --release -p rampart-benchmarks --bin
//! reprove-breakdown [PODS] [CHANGES] [sparse|dense]` — the synthetic cluster (10,000 pods,
//! sparse, by default), then:
//!
//! * one full analysis phase by phase (workloads, network model, RBAC, graph, chains, cut) and
//!   the threat diff, medians of 5;
//! * the engine core's re-proof after one pod's label change, p50 and p99 over CHANGES changes
//!   (200 by default) to random pods: a label no selector reads (the relabel path: the proof
//!   stands), and labels NetworkPolicies select by, so that the pod moves to another
//!   reachability class (the reclass path: the graph patched, chains and cut again from the
//!   previous ones) — one policy isolates ingress, one contains egress to the namespace.

use std::time::{Duration, Instant};

use rampart_graph::diff::diff;
use rampart_graph::netpol::NetModel;
use rampart_graph::rbac::Rbac;
use rampart_graph::{Options, SecurityGraph, analyze, cut, prove};
use rampart_model::parse::{ParseLimits, parse_source};
use rampart_model::{Change, Kind, Workloads};
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
    let mut t: [Vec<Duration>; 7] = Default::default();
    for _ in 0..5 {
        let (w, tw) = timed(|| Workloads::build(s));
        let (net, tn) = timed(|| NetModel::build(s, &w));
        let (rbac, tr) = timed(|| Rbac::build(s));
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
        for (i, x) in [tw, tn, tr, tg, tp, tc, td].into_iter().enumerate() {
            t[i].push(x);
        }
        std::hint::black_box((net, rbac, d));
    }
    let [w, n, r, g, p, c, d] = t.map(|mut v| percentile(&mut v, 50));
    println!(
        "full analysis: workloads {w:.1?}, network model {n:.1?}, RBAC {r:.1?}, graph (all three \
         included) {g:.1?}, chains {p:.1?}, cut {c:.1?}; threat diff {d:.1?}"
    );
}

fn main() {
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
    phases(&s);

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
}
