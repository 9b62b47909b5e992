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

/// Whether a listed connection (`SCTP 1-65535,TCP 80,8000-9000,UDP 53`, `All Connections`)
/// holds `port` of protocol `proto` (`TCP`, `UDP`, `SCTP`).
pub fn holds(conn: &str, proto: &str, port: u16) -> bool {
    if conn == "All Connections" {
        return true;
    }
    let mut current = "";
    for part in conn.split(',') {
        let range = match part.split_once(' ') {
            Some((p, r)) => {
                current = p;
                r
            }
            None => part,
        };
        if current != proto {
            continue;
        }
        let (a, b) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>())
            && a <= port
            && port <= b
        {
            return true;
        }
    }
    false
}

/// The connectivity listing of `s`, checked against the graph on every pod pair (but into the
/// pods `skip` names, `ns/name`): the graph's network reaches a pod exactly when the listing
/// allows a port the pod declares (any port, when it declares none).
pub fn listing_matches_graph(
    s: &Snapshot,
    skip: &dyn Fn(&str) -> bool,
) -> (Vec<String>, SecurityGraph) {
    let lines: Vec<String> = rampart_graph::connectivity::connectivity(s)
        .iter()
        .map(ToString::to_string)
        .collect();
    let g = SecurityGraph::build(s);
    let pods: Vec<String> = s
        .pods()
        .map(|(_, pd)| format!("{}/{}", pd.metadata.namespace, pd.metadata.name))
        .collect();
    for b in &pods {
        if skip(b) {
            continue;
        }
        let declared = rampart_graph::netpol::declared_ports(&workload(&g, b).template.spec);
        for a in &pods {
            if a == b {
                continue;
            }
            let prefix = format!("{a}[Pod] => {b}[Pod] : ");
            let listed = lines
                .iter()
                .find_map(|l| l.strip_prefix(&prefix))
                .is_some_and(|c| {
                    declared.is_empty()
                        || declared
                            .iter()
                            .any(|d| holds(c, d.protocol.as_str(), d.port))
                });
            assert_eq!(
                net_reaches(&g, &format!("Pod/{a}"), &format!("Pod/{b}")),
                listed,
                "{a} => {b}: the graph and the listing disagree"
            );
        }
    }
    (lines, g)
}

/// The workload `ns/name` of a graph.
pub fn workload<'g>(g: &'g SecurityGraph, name: &str) -> &'g rampart_model::Workload {
    g.workloads
        .list
        .iter()
        .find(|w| format!("{}/{}", w.namespace, w.name) == name)
        .unwrap_or_else(|| panic!("no workload {name}"))
}

/// The class of workload `ns/name`'s first pod group.
pub fn class_of(g: &SecurityGraph, name: &str) -> rampart_graph::netpol::ClassId {
    g.net.member_class[workload(g, name).id.index()][0]
}
