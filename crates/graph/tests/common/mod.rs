//! Shared helpers for the graph's integration tests.
#![allow(dead_code)]

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use rampart_graph::model::{EdgeKind, Vertex};
use rampart_graph::{Analysis, Options, SecurityGraph, analyze};
use rampart_model::{ParseLimits, Snapshot, parse_source};

pub fn snapshot(yaml: &str) -> Snapshot {
    let p = parse_source("test.yaml", yaml, &ParseLimits::default());
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    Snapshot::from_objects(p.objects)
}

pub fn graph(yaml: &str) -> SecurityGraph {
    SecurityGraph::build(&snapshot(yaml))
}

pub fn analysis(yaml: &str) -> Analysis {
    analyze(&snapshot(yaml), &Options::default())
}

/// The vertex whose reference prints as `kind/ns/name` (or `kind/name`).
pub fn vertex(g: &SecurityGraph, r: &str) -> NodeIndex {
    g.graph
        .node_indices()
        .find(|ix| !matches!(g.graph[*ix], Vertex::Grant(_)) && g.vertex_ref(*ix).to_string() == r)
        .unwrap_or_else(|| panic!("no vertex {r}"))
}

pub fn try_vertex(g: &SecurityGraph, r: &str) -> Option<NodeIndex> {
    g.graph
        .node_indices()
        .find(|ix| !matches!(g.graph[*ix], Vertex::Grant(_)) && g.vertex_ref(*ix).to_string() == r)
}

/// Whether `from` has a direct edge of `kind` to `to` (through a permission vertex for RBAC).
pub fn has_edge(g: &SecurityGraph, from: &str, kind: EdgeKind, to: &str) -> bool {
    let (Some(a), Some(b)) = (try_vertex(g, from), try_vertex(g, to)) else {
        return false;
    };
    g.graph.edges_directed(a, Direction::Outgoing).any(|e| {
        e.weight().kind == kind
            && (e.target() == b
                || (matches!(g.graph[e.target()], Vertex::Grant(_))
                    && g.graph
                        .edges_directed(e.target(), Direction::Outgoing)
                        .any(|e2| e2.target() == b)))
    })
}

/// Whether workload `from` reaches workload `to` over the network (one hop).
pub fn net_reaches(g: &SecurityGraph, from: &str, to: &str) -> bool {
    let (Some(a), Some(b)) = (try_vertex(g, from), try_vertex(g, to)) else {
        return false;
    };
    for src in g
        .graph
        .edges_directed(a, Direction::Outgoing)
        .filter(|e| e.weight().kind == EdgeKind::SendsAs)
    {
        for d in g.net_destinations(src.target()) {
            if g.graph
                .edges_directed(d, Direction::Outgoing)
                .any(|e| e.weight().kind == EdgeKind::ReceivesAs && e.target() == b)
            {
                return true;
            }
        }
    }
    false
}

/// Whether the internet reaches workload `to` through some endpoint.
pub fn exposed(g: &SecurityGraph, to: &str) -> bool {
    let Some(b) = try_vertex(g, to) else {
        return false;
    };
    g.graph
        .edges_directed(b, Direction::Incoming)
        .any(|e| e.weight().kind == EdgeKind::RoutesTo)
}
