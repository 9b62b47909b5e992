//! `cargo run --release -p rampart-benchmarks --bin scan-bench -- [--shape sparse|dense] [--admin] [--mesh] [--objectives LIST] [PODS...]`
//!
//! `--objectives` chooses the ATT&CK objectives proved beside the classic targets (default all;
//! `none` measures what the analysis cost before objectives).
//!
//! `--admin` adds the cluster administrator's layer: AdminNetworkPolicies every pod is the
//! subject of (monitoring allowed on the metrics port, one team denied another, kube-system
//! passed to the NetworkPolicies, egress to the cloud metadata address and to one team's
//! namespaces denied) and a BaselineAdminNetworkPolicy denying one team's namespaces everywhere.
//!
//! `--mesh` puts every namespace in an Istio mesh (injection on) with STRICT mTLS mesh-wide, an
//! AuthorizationPolicy per namespace admitting its own namespace, monitoring and its team's
//! ServiceAccounts, and a mesh-wide DENY of one team: every class is judged by identity.
//!
//! For each size: generates the synthetic dump of that shape, then times (median of 5 runs)
//! parsing the dump into a snapshot, building the security graph, proving chains and computing
//! the minimal cut, and, for scale, merely parsing the same text into a `serde_json::Value`.
//! With `--write DIR` it also writes `DIR/cluster-<pods>.json` (sparse) or
//! `DIR/cluster-dense-<pods>.json` for the end-to-end CLI benchmark (`scripts/bench-scan.sh`).

use std::time::{Duration, Instant};

use rampart_graph::{Options, analyze};
use rampart_model::{ParseLimits, Snapshot, parse_source};
use rampart_synth::{Config, Shape, dump_json};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The `--admin` policies, as dump items.
fn admin_items() -> Vec<serde_json::Value> {
    use serde_json::json;
    let anp = |name: &str, priority: u32, spec: serde_json::Value| {
        let mut spec = spec;
        spec["priority"] = json!(priority);
        json!({"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
               "metadata": {"name": name}, "spec": spec})
    };
    let ns =
        |name: &str| json!({"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": name}}});
    let team = |t: &str| json!({"namespaces": {"matchLabels": {"team": t}}});
    vec![
        anp(
            "allow-monitoring",
            10,
            json!({"subject": {"namespaces": {}},
            "ingress": [{"name": "scrape", "action": "Allow", "from": [ns("monitoring")],
                         "ports": [{"portNumber": {"protocol": "TCP", "port": 9090}}]}]}),
        ),
        anp(
            "t0-not-from-t1",
            20,
            json!({"subject": team("t0"),
            "ingress": [{"name": "t1", "action": "Deny", "from": [team("t1")]}]}),
        ),
        anp(
            "pass-kube-system",
            30,
            json!({"subject": {"namespaces": {}},
            "ingress": [{"name": "kube-system", "action": "Pass", "from": [ns("kube-system")]}]}),
        ),
        anp(
            "no-metadata",
            40,
            json!({"subject": {"namespaces": {}},
            "egress": [{"name": "imds", "action": "Deny", "to": [{"networks": ["169.254.169.254/32"]}]}]}),
        ),
        anp(
            "t2-sealed",
            50,
            json!({"subject": {"namespaces": {}},
            "egress": [{"name": "t2", "action": "Deny", "to": [team("t2")]}]}),
        ),
        json!({"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "BaselineAdminNetworkPolicy",
               "metadata": {"name": "default"},
               "spec": {"subject": {"namespaces": {}},
                        "ingress": [{"name": "t39", "action": "Deny", "from": [team("t39")]}]}}),
    ]
}

/// `--mesh`: every Namespace item injected, and the Istio policies, appended.
fn mesh_items(items: &mut Vec<serde_json::Value>) {
    use serde_json::json;
    let mut namespaces = Vec::new();
    for it in items.iter_mut() {
        if it["kind"] == "Namespace" {
            it["metadata"]["labels"]["istio-injection"] = json!("enabled");
            if let Some(n) = it["metadata"]["name"].as_str() {
                namespaces.push(n.to_string());
            }
        }
    }
    items.push(
        json!({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "istio-system"},
        "spec": {"mtls": {"mode": "STRICT"}}}),
    );
    items.push(json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": "no-t1", "namespace": "istio-system"},
        "spec": {"action": "DENY", "rules": [{"from": [{"source": {"namespaces": ["team001", "team0001"]}}]}]}}));
    for ns in namespaces {
        items.push(
            json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "own-and-monitoring", "namespace": ns},
            "spec": {"rules": [
                {"from": [{"source": {"namespaces": [ns, "monitoring"]}}]},
                {"from": [{"source": {"principals": [format!("cluster.local/ns/{ns}/sa/*")]}}],
                 "to": [{"operation": {"ports": ["8080"]}}]}
            ]}}),
        );
    }
}

fn main() {
    let mut sizes: Vec<usize> = Vec::new();
    let mut admin = false;
    let mut mesh = false;
    let mut write: Option<String> = None;
    let mut shape = Shape::Sparse;
    let mut objectives = rampart_graph::Objectives::all();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--write" {
            write = args.next();
        } else if a == "--admin" {
            admin = true;
        } else if a == "--mesh" {
            mesh = true;
        } else if a == "--objectives" {
            match args.next().as_deref().map(rampart_graph::Objectives::parse) {
                Some(Ok(o)) => objectives = o,
                _ => {
                    eprintln!(
                        "--objectives takes all, none or a list of impact, exfiltration, collection, persistence"
                    );
                    std::process::exit(2);
                }
            }
        } else if a == "--shape" {
            match args.next().as_deref().and_then(Shape::parse) {
                Some(s) => shape = s,
                None => {
                    eprintln!("--shape takes sparse or dense");
                    std::process::exit(2);
                }
            }
        } else if let Ok(n) = a.parse() {
            sizes.push(n);
        } else {
            eprintln!(
                "usage: scan-bench [--shape sparse|dense] [--admin] [--mesh] [--objectives LIST] [--write DIR] [PODS...]"
            );
            std::process::exit(2);
        }
    }
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000, 50_000];
    }
    println!(
        "shape: {}{}{}, objectives: {objectives}",
        shape.name(),
        if admin {
            ", admin network policies"
        } else {
            ""
        },
        if mesh { ", Istio mesh" } else { "" }
    );
    println!(
        "{:>7} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8} {:>8}",
        "pods",
        "dump MB",
        "json Value",
        "parse",
        "graph",
        "prove",
        "cut",
        "analysis",
        "classes",
        "chains",
        "cuts"
    );
    for pods in sizes {
        let cfg = Config::with_pods(pods).shaped(shape);
        let mut text = dump_json(&cfg);
        if admin || mesh {
            let mut dump: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            if let Some(items) = dump["items"].as_array_mut() {
                if admin {
                    items.extend(admin_items());
                }
                if mesh {
                    mesh_items(items);
                }
            }
            text = dump.to_string();
        }
        if let Some(dir) = &write {
            let path = match shape {
                Shape::Sparse => format!("{dir}/cluster-{pods}.json"),
                Shape::Dense => format!("{dir}/cluster-dense-{pods}.json"),
            };
            if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, &text))
            {
                eprintln!("cannot write {path}: {e}");
                std::process::exit(2);
            }
        }
        let runs = if pods > 20_000 { 3 } else { 5 };
        let (mut parse, mut graph, mut prove, mut cut, mut total) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut value = vec![];
        let mut last = (0, 0, 0);
        if std::env::var_os("RAMPART_BENCH_DETAIL").is_some() {
            let parsed = parse_source("synthetic.json", &text, &ParseLimits::default());
            let snapshot = Snapshot::from_objects(parsed.objects);
            let t = Instant::now();
            let w = rampart_model::Workloads::build(&snapshot);
            let tw = t.elapsed();
            let t = Instant::now();
            let n = rampart_graph::netpol::NetModel::build(&snapshot, &w);
            let tn = t.elapsed();
            let t = Instant::now();
            let _r = rampart_graph::rbac::Rbac::build(&snapshot);
            let tr = t.elapsed();
            eprintln!(
                "detail: workloads {tw:?}, netmodel {tn:?} ({} classes, {} atoms), rbac {tr:?}",
                n.classes.len(),
                n.atom_count()
            );
        }
        for _ in 0..runs {
            let t = Instant::now();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            value.push(t.elapsed());
            drop(v);
            let t = Instant::now();
            let parsed = parse_source("synthetic.json", &text, &ParseLimits::default());
            let snapshot = Snapshot::from_objects(parsed.objects);
            parse.push(t.elapsed());
            let t = Instant::now();
            let mut g = rampart_graph::SecurityGraph::build(&snapshot);
            g.select_objectives(objectives);
            graph.push(t.elapsed());
            let t2 = Instant::now();
            let proof = rampart_graph::prove::prove(&g, &Default::default());
            prove.push(t2.elapsed());
            let t3 = Instant::now();
            let plan = rampart_graph::cut::min_cut(&snapshot, &mut g, &proof);
            cut.push(t3.elapsed());
            total.push(t.elapsed());
            last = (g.net.class_count(), proof.chains.len(), plan.cuts.len());
            // Same entry point the CLI uses, to keep the two honest.
            let _ = analyze(&Snapshot::new(), &Options::default());
        }
        println!(
            "{:>7} {:>9.1} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?} {:>8} {:>8} {:>8}",
            pods,
            text.len() as f64 / 1e6,
            median(value),
            median(parse),
            median(graph),
            median(prove),
            median(cut),
            median(total),
            last.0,
            last.1,
            last.2
        );
    }
}
