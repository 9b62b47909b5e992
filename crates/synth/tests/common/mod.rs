//! What the differential tests share: an analysis rendered without indices (a patched graph
//! keeps other indices than a fresh build), and the synthetic cluster they change.

#![allow(dead_code)] // each test binary uses its part

use petgraph::graph::NodeIndex;
use rampart_graph::model::Vertex;
use rampart_graph::prove::entry_key;
use rampart_graph::{Analysis, SecurityGraph};
use rampart_model::parse::{ParseLimits, parse_source};
use rampart_model::{Change, Snapshot};
use rampart_synth::{Config, Shape, snapshot};

/// A vertex by what it stands for (a class by its signature, not its index).
pub fn vertex_key(g: &SecurityGraph, v: NodeIndex) -> String {
    match g.graph[v] {
        Vertex::NetSrc(c) => format!("src {:?}", g.net.class(c).signature()),
        Vertex::NetDst(c) => format!("dst {:?}", g.net.class(c).signature()),
        _ => format!("{:?}", entry_key(g, v)),
    }
}

pub fn edge_key(g: &SecurityGraph, e: petgraph::graph::EdgeIndex) -> String {
    let (a, b) = g.graph.edge_endpoints(e).expect("edge");
    let w = &g.graph[e];
    format!(
        "{} -[{:?} {:?} {:?} {:?} {:?} {:?}]-> {}",
        vertex_key(g, a),
        w.kind,
        w.ports,
        w.cost,
        w.evidence,
        w.rules,
        w.grants,
        vertex_key(g, b)
    )
}

/// Everything an analysis says, without indices: vertices with edges, every edge, the classes
/// and their members, each workload's classes, chains, cut plan.
pub fn render(a: &Analysis) -> Vec<String> {
    let g = &a.graph;
    let mut out = Vec::new();
    let mut vertices: Vec<String> = g
        .graph
        .node_indices()
        .filter(|v| g.graph.neighbors_undirected(*v).next().is_some())
        .map(|v| vertex_key(g, v))
        .collect();
    vertices.sort();
    out.push(format!("vertices {vertices:?}"));
    let mut edges: Vec<String> = g.graph.edge_indices().map(|e| edge_key(g, e)).collect();
    edges.sort();
    out.extend(edges);
    out.push(format!("classes {}", g.net.class_count()));
    let mut classes: Vec<String> = g
        .net
        .classes
        .iter()
        .filter(|c| !c.members.is_empty())
        .map(|c| format!("{:?} {:?}", c.signature(), c.members))
        .collect();
    classes.sort();
    out.extend(classes);
    for w in &g.workloads.list {
        let sigs: Vec<_> = g.net.member_class[w.id.index()]
            .iter()
            .map(|c| g.net.class(*c).signature())
            .collect();
        out.push(format!(
            "{} {:?} {sigs:?} pods {:?} replicas {:?}",
            w.display(),
            w.groups,
            w.pod_names,
            w.replicas
        ));
    }
    let p = &a.proof;
    out.push(format!(
        "jewels {} entries {} truncated {}",
        p.jewels_reachable, p.entries, p.truncated_entries
    ));
    for c in &p.chains {
        let steps: Vec<String> = c.edges.iter().map(|e| edge_key(g, *e)).collect();
        out.push(format!(
            "chain {} {} {:?} {:?} {} {steps:#?}",
            c.id,
            vertex_key(g, c.entry),
            c.target_kind,
            c.confidence,
            c.length
        ));
    }
    let plan = &a.plan;
    out.push(format!(
        "cut total {} relevant {}",
        plan.total_cost, plan.relevant_vertices
    ));
    for c in &plan.cuts {
        let fixes: Vec<String> = c.fixes.iter().map(|f| format!("{f:?}")).collect();
        out.push(format!(
            "cut {} {} {:?} {} -> {} cost {} live {} {fixes:?} breaks {:?} notes {:?}",
            c.id,
            edge_key(g, c.edge),
            c.kind,
            c.from,
            c.to,
            c.cost,
            c.live,
            c.breaks,
            c.notes
        ));
    }
    for (chain, (e, cost)) in &plan.cheapest {
        out.push(format!("cheapest {chain} {} {cost}", edge_key(g, *e)));
    }
    out
}

pub fn assert_same(got: &[String], want: &[String], what: &str) {
    for (a, b) in got.iter().zip(want) {
        assert_eq!(a, b, "{what}");
    }
    assert_eq!(got.len(), want.len(), "{what}: length");
}

/// The synthetic cluster plus policies and a Service over labels the generator never sets:
/// `role: db` isolates ingress to backend peers, `lock: on` restricts egress to backends on
/// 8080, `role: cache` is exposed through a LoadBalancer (on each port the generator uses).
pub fn cluster(seed: u64, shape: Shape) -> Snapshot {
    let mut s = snapshot(&Config {
        pods: 150 + (seed as usize * 53) % 250,
        seed,
        shape,
    });
    let mut extra = String::new();
    for ns in s.namespace_names().iter().step_by(2) {
        extra.push_str(&format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: db-only, namespace: {ns}}}\nspec:\n  podSelector: {{matchLabels: {{role: db}}}}\n  ingress: [{{from: [{{podSelector: {{matchLabels: {{tier: backend}}}}}}]}}]\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: lock, namespace: {ns}}}\nspec:\n  podSelector: {{matchLabels: {{lock: \"on\"}}}}\n  policyTypes: [Egress]\n  egress: [{{to: [{{podSelector: {{matchLabels: {{tier: backend}}}}}}], ports: [{{port: 8080}}]}}]\n---\n\
             apiVersion: v1\nkind: Service\nmetadata: {{name: cache, namespace: {ns}}}\nspec: {{type: LoadBalancer, selector: {{role: cache}}, ports: [{{name: a, port: 80, targetPort: 8080}}, {{name: b, port: 81, targetPort: 9000}}, {{name: c, port: 82, targetPort: 9090}}]}}\n---\n"
        ));
    }
    let parsed = parse_source("extra.yaml", &extra, &ParseLimits::default());
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    for o in parsed.objects {
        s.apply(Change::Upsert(Box::new(o)));
    }
    s
}

pub const ROLES: &[&str] = &["db", "cache", "web"];
