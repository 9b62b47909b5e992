//! Chains are a function of the graph as a set of vertices and edges, not of the order it was
//! built in: proving a copy of the graph whose vertices and edges were inserted in a random
//! order lists the same chains, step for step, with the same evidence — also when the per-entry
//! limit cuts through ties. (What an incremental re-proof needs: a patched graph lists its
//! vertices and edges in another order than a fresh one.) And two builds of one snapshot are the
//! same graph, edge order included.

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use rampart_files::{LoadOptions, load_paths};
use rampart_graph::prove::{Proof, ProveOptions, entry_key, prove};
use rampart_graph::{SecurityGraph, model::Vertex};
use rampart_model::Snapshot;
use rampart_synth::{Config, Rng, Shape, snapshot};

/// A vertex by what it stands for.
fn vertex_key(g: &SecurityGraph, v: NodeIndex) -> String {
    match g.graph[v] {
        Vertex::NetSrc(c) | Vertex::NetDst(c) => {
            format!("{:?} {:?}", g.graph[v], g.net.class(c).signature())
        }
        _ => format!("{:?}", entry_key(g, v)),
    }
}

/// Every chain is a path from the internet to its target.
fn assert_paths(g: &SecurityGraph, p: &Proof) {
    for c in &p.chains {
        let mut at = g.internet;
        for &e in &c.edges {
            let (a, b) = g.graph.edge_endpoints(e).expect("edge");
            assert_eq!(a, at, "chain {} is not a path", c.id);
            at = b;
        }
        assert_eq!(at, c.target, "chain {} stops short of its target", c.id);
    }
}

/// The chains, rendered without indices.
fn render(g: &SecurityGraph, p: &Proof) -> Vec<String> {
    let mut out = vec![format!(
        "jewels {} entries {} truncated {}",
        p.jewels_reachable, p.entries, p.truncated_entries
    )];
    for c in &p.chains {
        let mut line = format!(
            "{} {} {:?} {:?} len {} via",
            c.id,
            vertex_key(g, c.target),
            c.target_kind,
            c.confidence,
            c.length
        );
        for &e in &c.edges {
            let (a, b) = g.graph.edge_endpoints(e).expect("edge");
            let w = &g.graph[e];
            line.push_str(&format!(
                "\n  {} -[{:?} {:?} {:?}]-> {}",
                vertex_key(g, a),
                w.kind,
                w.ports,
                w.evidence,
                vertex_key(g, b)
            ));
        }
        out.push(line);
    }
    out
}

/// Rebuilds the graph's vertices and edges in a random order, remapping every index it keeps.
fn shuffle(g: &mut SecurityGraph, r: &mut Rng) {
    let n = g.graph.node_count();
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, r.below(i + 1));
    }
    let mut new_ix = vec![NodeIndex::new(0); n];
    let mut h: DiGraph<Vertex, Box<rampart_graph::model::Edge>> = DiGraph::new();
    for &old in &order {
        new_ix[old] = h.add_node(g.graph[NodeIndex::new(old)]);
    }
    let mut edges: Vec<_> = g
        .graph
        .edge_references()
        .map(|e| (e.source(), e.target(), e.weight().clone()))
        .collect();
    for i in (1..edges.len()).rev() {
        edges.swap(i, r.below(i + 1));
    }
    for (a, b, w) in edges {
        h.add_edge(new_ix[a.index()], new_ix[b.index()], w);
    }
    g.graph = h;
    let map = |v: NodeIndex| new_ix[v.index()];
    g.internet = map(g.internet);
    g.cluster_admin = map(g.cluster_admin);
    for j in &mut g.jewels {
        *j = map(*j);
    }
    for i in (1..g.jewels.len()).rev() {
        g.jewels.swap(i, r.below(i + 1));
    }
    for w in &mut g.workload_ix {
        *w = map(*w);
    }
    for (s, d) in g.class_ix.values_mut() {
        *s = map(*s);
        *d = map(*d);
    }
}

fn check(s: &Snapshot, seed: u64) -> usize {
    let mut r = Rng::new(seed);
    let mut listed = 0;
    for k in [1, 3, 20, 0] {
        let opts = ProveOptions {
            max_chains_per_entry: k,
        };
        let g = SecurityGraph::build(s);
        let p = prove(&g, &opts);
        assert_paths(&g, &p);
        let want = render(&g, &p);
        for _ in 0..3 {
            let mut h = SecurityGraph::build(s);
            // The build itself is deterministic, edge order included (no hash-map order).
            assert_eq!(
                format!("{:?}", h.graph),
                format!("{:?}", g.graph),
                "seed {seed}: two builds differ"
            );
            shuffle(&mut h, &mut r);
            let p = prove(&h, &opts);
            assert_paths(&h, &p);
            let got = render(&h, &p);
            assert_eq!(got.len(), want.len(), "seed {seed}, k {k}: chain count");
            for (a, b) in got.iter().zip(&want) {
                assert_eq!(a, b, "seed {seed}, k {k}");
            }
        }
        listed += want.len() - 1;
    }
    listed
}

#[test]
fn chains_do_not_depend_on_graph_order() {
    let mut listed = 0;
    for seed in 1..=6 {
        let s = snapshot(&Config {
            pods: 400 + (seed as usize * 271) % 900,
            seed,
            shape: Shape::by_parity(seed),
        });
        listed += check(&s, seed);
    }
    // The clusters have chains to compare, ties included (k = 1 and 3 cut through them).
    assert!(listed > 400, "only {listed} chains listed");
}

#[test]
fn corpus_chains_do_not_depend_on_graph_order() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut listed = 0;
    for dir in [
        "examples/demo-cluster",
        "tests/corpora/kubernetes-goat",
        "tests/corpora/kubehound-attacks",
    ] {
        let loaded = load_paths(&[root.join(dir)], &LoadOptions::default());
        listed += check(&loaded.snapshot, 99);
    }
    assert!(listed > 20, "only {listed} chains listed");
}
