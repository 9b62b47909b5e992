//! The security graph of known inputs does not change unnoticed: for generated clusters, the
//! demo cluster and every corpus, a fingerprint of the graph (every vertex and every edge with
//! its kind, evidence, ports, cost, rules and grants; the routes, sinks and warnings) is
//! compared with `tests/golden/graph-fingerprints.txt`.
//!
//! Each line of the golden file: input, vertex count, edge count, the hash of the sorted
//! rendering (what the graph is), and the hash of the rendering in insertion order (how it was
//! built: vertex and edge order). Both are FNV-1a 64 (stable across Rust versions, unlike
//! `DefaultHasher`). A refactor keeps both; a change to an edge rule changes the first, and a
//! change of insertion order only the second. After a deliberate change, regenerate with
//! `RAMPART_UPDATE_GOLDEN=1 cargo test -p rampart-synth --test graph_golden` and review the diff.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use rampart_files::{LoadOptions, load_paths};
use rampart_graph::SecurityGraph;
use rampart_graph::model::Vertex;
use rampart_model::Snapshot;
use rampart_synth::{Config, Shape, snapshot};

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A vertex by what it stands for (no index into the graph's lists).
fn vertex_key(g: &SecurityGraph, v: NodeIndex) -> String {
    let r = g.vertex_ref(v);
    match g.graph[v] {
        Vertex::Internet => "Internet".into(),
        Vertex::Endpoint(e) => {
            let e = &g.endpoints[e as usize];
            format!("Endpoint {:?} {r} {:?} {:?}", e.kind, e.shown(), e.source)
        }
        Vertex::Workload(_) => format!("Workload {r}"),
        Vertex::NetSrc(c) => format!("NetSrc {r} {:?}", g.net.class(c).signature()),
        Vertex::NetDst(c) => format!("NetDst {r} {:?}", g.net.class(c).signature()),
        Vertex::NetHub => "NetHub".into(),
        Vertex::NetPeer(_) => format!("NetPeer {r}"),
        Vertex::NetRule { .. } => format!("NetRule {r}"),
        Vertex::NetAdmin(_) => format!("NetAdmin {r}"),
        Vertex::NetAdminPeer { .. } => format!("NetAdminPeer {r}"),
        Vertex::Identity(_) => format!("Identity {r}"),
        Vertex::Secret(s) => format!("Secret {r} present {}", g.secrets[s as usize].present),
        Vertex::Node(_) => format!("Node {r}"),
        Vertex::ClusterAdmin => "ClusterAdmin".into(),
        Vertex::Grant(_) => format!("Grant {r}"),
        Vertex::Objective(_) => format!("Objective {r}"),
    }
}

/// Every line that describes the graph, in insertion order.
fn render(g: &SecurityGraph) -> Vec<String> {
    let keys: Vec<String> = g.graph.node_indices().map(|v| vertex_key(g, v)).collect();
    let key = |v: NodeIndex| keys[v.index()].as_str();
    let mut out: Vec<String> = keys.iter().map(|k| format!("vertex {k}")).collect();
    for e in g.graph.edge_references() {
        let w = e.weight();
        out.push(format!(
            "edge {} -> {} {:?} evidence {:?} ports {:?} cost {:?} rules {:?} grants {:?}",
            key(e.source()),
            key(e.target()),
            w.kind,
            w.evidence,
            w.ports,
            w.cost,
            w.rules,
            w.grants
        ));
    }
    for r in &g.routes {
        out.push(format!(
            "route {} ns {} selector {:?} target {:?} {:?} via_controller {} {:?}",
            key(r.ep),
            r.namespace,
            r.selector,
            r.target,
            r.proto,
            r.via_controller,
            r.selection
        ));
    }
    for &j in &g.jewels {
        out.push(format!("jewel {}", key(j)));
    }
    for &c in &g.controller_classes {
        out.push(format!("controller class {:?}", g.net.class(c).signature()));
    }
    for (i, &w) in g.workload_ix.iter().enumerate() {
        out.push(format!("workload {i} at {}", key(w)));
    }
    out.push(format!("internet {}", key(g.internet)));
    out.push(format!("cluster admin {}", key(g.cluster_admin)));
    out.push(format!("hub {}", key(g.hub)));
    for w in &g.warnings {
        out.push(format!("warning {w}"));
    }
    // Evidence names the files it came from: only their place inside the repository counts.
    let root = root();
    let canonical = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
    for prefix in [root.display().to_string(), canonical.display().to_string()] {
        for l in &mut out {
            if l.contains(&prefix) {
                *l = l.replace(&prefix, "<repo>");
            }
        }
    }
    if std::env::var_os("RAMPART_GOLDEN_DEBUG").is_some() {
        for l in &out {
            eprintln!("{l}");
        }
    }
    out
}

fn fingerprint(name: &str, s: &Snapshot) -> String {
    let g = SecurityGraph::build(s);
    let mut lines = render(&g);
    let ordered = fnv1a(lines.join("\n").as_bytes());
    lines.sort();
    let sorted = fnv1a(lines.join("\n").as_bytes());
    format!(
        "{name}\t{}\t{}\t{sorted:016x}\t{ordered:016x}",
        g.graph.node_count(),
        g.graph.edge_count()
    )
}

fn load(rel: &str) -> Snapshot {
    load_paths(&[root().join(rel)], &LoadOptions::default()).snapshot
}

/// One line per input.
fn fingerprints() -> Vec<String> {
    let mut out = Vec::new();
    for (seed, pods) in [
        (1u64, 40usize),
        (2, 120),
        (3, 250),
        (4, 400),
        (5, 640),
        (6, 900),
        (7, 1300),
        (8, 2000),
    ] {
        out.push(fingerprint(
            &format!("synth seed {seed} pods {pods}"),
            &snapshot(&Config::with_pods(pods).seeded(seed)),
        ));
    }
    for (seed, pods) in [(9u64, 300usize), (10, 1500)] {
        out.push(fingerprint(
            &format!("synth dense seed {seed} pods {pods}"),
            &snapshot(&Config::with_pods(pods).seeded(seed).shaped(Shape::Dense)),
        ));
    }
    for dir in [
        "examples/demo-cluster",
        "tests/corpora/kubernetes-goat",
        "tests/corpora/kubehound-attacks",
        "tests/corpora/pod-security-admission",
        "tests/corpora/gatekeeper-library",
    ] {
        out.push(fingerprint(dir, &load(dir)));
    }
    let np_guard = root().join("tests/corpora/np-guard/cases");
    let mut cases: Vec<String> = std::fs::read_dir(&np_guard)
        .expect("np-guard cases")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    for c in cases {
        let rel = format!("tests/corpora/np-guard/cases/{c}");
        out.push(fingerprint(&rel, &load(&rel)));
    }
    out
}

#[test]
fn graphs_match_their_golden_fingerprints() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/graph-fingerprints.txt");
    let mut text = String::from("# input\tvertices\tedges\tsorted-hash\tordered-hash\n");
    for l in fingerprints() {
        let _ = writeln!(text, "{l}");
    }
    if std::env::var_os("RAMPART_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("golden dir");
        std::fs::write(&path, &text).expect("write golden file");
        eprintln!("wrote {}", path.display());
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (generate it with RAMPART_UPDATE_GOLDEN=1)",
            path.display()
        )
    });
    let changed: Vec<String> = want
        .lines()
        .zip(text.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("  golden: {a}\n  now:    {b}"))
        .collect();
    assert!(
        changed.is_empty() && want.lines().count() == text.lines().count(),
        "the graph changed for {} input(s) (of {} golden, {} now):\n{}",
        changed.len(),
        want.lines().count(),
        text.lines().count(),
        changed.join("\n")
    );
}
