//! The network layer of the graph: per reachability class a sending and a receiving vertex, one
//! hub for "any destination whose ingress is open", the workloads' membership edges, and the
//! class-level edges NetworkPolicy semantics allow. Each part is one function over one class,
//! one pair of classes or one workload, so the layer's edges can be reasoned about (and
//! patched) piece by piece; [`layer`] adds them in the graph's fixed order, [`patch`] again for
//! the classes one workload moved between.

use std::collections::{BTreeSet, HashMap, HashSet};

use petgraph::Direction;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use rampart_model::{Workload, WorkloadId, Workloads};

use super::{Builder, SecurityGraph, add_edge, remove_edges, rule_evidence, workload_ref};
use crate::cost;
use crate::model::{Cost, Edge, EdgeKind, Evidence, ObjRef, Vertex};
use crate::netpol::{ClassId, NetModel};
use crate::ports::PortSet;

/// Where the layer's vertices are.
pub(super) struct Layer {
    /// Sending and receiving vertex per class with members.
    pub class_ix: HashMap<ClassId, (NodeIndex, NodeIndex)>,
    /// The hub.
    pub hub: NodeIndex,
}

/// What the layer's edges are worked out from.
struct At<'a> {
    net: &'a NetModel,
    workloads: &'a Workloads,
    class_ix: &'a HashMap<ClassId, (NodeIndex, NodeIndex)>,
    hub: NodeIndex,
}

type Graph = DiGraph<Vertex, Box<Edge>>;

/// Adds the network layer: vertices, then membership edges workload by workload, then each
/// class's open edges, then the edges between pairs of classes.
pub(super) fn layer(b: &mut Builder<'_>) -> Layer {
    let (net, workloads) = (b.net, b.workloads);
    let mut class_ix: HashMap<ClassId, (NodeIndex, NodeIndex)> = HashMap::new();
    for c in &net.classes {
        if !c.members.is_empty() {
            let s = b.g.add_node(Vertex::NetSrc(c.id));
            let d = b.g.add_node(Vertex::NetDst(c.id));
            class_ix.insert(c.id, (s, d));
        }
    }
    let hub = b.g.add_node(Vertex::NetHub);
    let at = At {
        net,
        workloads,
        class_ix: &class_ix,
        hub,
    };
    let g = &mut b.g;
    let mut used: Vec<ClassId> = class_ix.keys().copied().collect();
    used.sort();
    for w in &workloads.list {
        membership(g, &at, w, b.workload_ix[w.id.index()]);
    }
    for &c in &used {
        open_edges(g, &at, c);
    }
    // Into a class whose ingress is restricted, from the classes with open egress its peers
    // select; then everything a class with restricted egress may send.
    for &dc in &used {
        if admits_by_peers(net, dc) {
            for sc in net.peer_sources(dc) {
                if class_ix.contains_key(&sc) && net.class(sc).egress_open() {
                    pair_edge(g, &at, sc, dc);
                }
            }
        }
    }
    for &sc in &used {
        if !net.class(sc).egress_open() {
            for &dc in &used {
                pair_edge(g, &at, sc, dc);
            }
        }
    }
    Layer { class_ix, hub }
}

/// Whether a class admits in-cluster traffic only from the peers its policies select (its
/// ingress is restricted and no rule admits every pod).
fn admits_by_peers(net: &NetModel, c: ClassId) -> bool {
    !net.class(c).ingress_open() && !net.admits_any_pod(c).0
}

/// Brings the layer up to date after workload `w`'s pod groups moved between classes
/// (`touched`: the classes that gained or lost one, as [`NetModel::reclass`] reports them):
/// the same edges as [`layer`] would add for the patched model, in another order. A class that
/// gains its first members gets its vertices; one that loses its last keeps them, without
/// edges (nothing reaches or leaves it, as if it were not there).
pub(crate) fn patch(sg: &mut SecurityGraph, w: WorkloadId, touched: &[ClassId]) {
    for &c in touched {
        if sg.net.is_live(c) && !sg.class_ix.contains_key(&c) {
            let s = sg.graph.add_node(Vertex::NetSrc(c));
            let d = sg.graph.add_node(Vertex::NetDst(c));
            sg.class_ix.insert(c, (s, d));
        }
    }
    let wi = sg.workload_ix[w.index()];
    let class_vertices: HashSet<NodeIndex> = touched
        .iter()
        .filter_map(|c| sg.class_ix.get(c))
        .flat_map(|(s, d)| [*s, *d])
        .collect();
    // Every edge the touched classes' vertices have, but other workloads' membership.
    let mut stale: Vec<EdgeIndex> = Vec::new();
    for &v in &class_vertices {
        for dir in [Direction::Outgoing, Direction::Incoming] {
            for e in sg.graph.edges_directed(v, dir) {
                let membership =
                    matches!(e.weight().kind, EdgeKind::SendsAs | EdgeKind::ReceivesAs);
                let other = if dir == Direction::Outgoing {
                    e.target()
                } else {
                    e.source()
                };
                if !membership || other == wi {
                    stale.push(e.id());
                }
            }
        }
    }
    for e in sg.graph.edges_directed(wi, Direction::Outgoing) {
        if e.weight().kind == EdgeKind::SendsAs {
            stale.push(e.id());
        }
    }
    for e in sg.graph.edges_directed(wi, Direction::Incoming) {
        if e.weight().kind == EdgeKind::ReceivesAs {
            stale.push(e.id());
        }
    }
    remove_edges(&mut sg.graph, stale);

    let at = At {
        net: &sg.net,
        workloads: &sg.workloads,
        class_ix: &sg.class_ix,
        hub: sg.hub,
    };
    let g = &mut sg.graph;
    let net = at.net;
    membership(g, &at, &at.workloads.list[w.index()], wi);
    let live: Vec<ClassId> = {
        let mut v: Vec<ClassId> = at
            .class_ix
            .keys()
            .copied()
            .filter(|c| net.is_live(*c))
            .collect();
        v.sort();
        v
    };
    let is_touched = |c: ClassId| touched.contains(&c);
    for &c in touched.iter().filter(|c| net.is_live(**c)) {
        open_edges(g, &at, c);
        // Into `c`, from every source (touched or not).
        if admits_by_peers(net, c) {
            for sc in net.peer_sources(c) {
                if net.is_live(sc) && net.class(sc).egress_open() {
                    pair_edge(g, &at, sc, c);
                }
            }
        }
        for &sc in &live {
            if !net.class(sc).egress_open() {
                pair_edge(g, &at, sc, c);
            }
        }
        // Out of `c`, to the classes not touched (the touched ones took theirs above).
        if net.class(c).egress_open() {
            let peer_of = net.peer_policies(c);
            for &dc in live.iter().filter(|dc| !is_touched(**dc)) {
                let selected = net
                    .class(dc)
                    .ingress_policies
                    .iter()
                    .any(|p| peer_of.contains(p));
                if selected && admits_by_peers(net, dc) {
                    pair_edge(g, &at, c, dc);
                }
            }
        } else {
            for &dc in live.iter().filter(|dc| !is_touched(**dc)) {
                pair_edge(g, &at, c, dc);
            }
        }
    }
}

/// The workload every class's evidence names: its first member.
fn first_member(at: &At<'_>, c: ClassId) -> ObjRef {
    at.net
        .class(c)
        .members
        .first()
        .map(|(w, _)| workload_ref(&at.workloads.list[w.index()]))
        .unwrap_or_else(|| ObjRef::new("Pod", "", "?"))
}

/// A workload sends and receives as each of its classes.
fn membership(g: &mut Graph, at: &At<'_>, w: &Workload, wi: NodeIndex) {
    let mut seen = BTreeSet::new();
    for &c in &at.net.member_class[w.id.index()] {
        if seen.insert(c) {
            let (s, d) = at.class_ix[&c];
            add_edge(g, wi, s, EdgeKind::SendsAs, Vec::new(), None, Cost::Never);
            add_edge(
                g,
                d,
                wi,
                EdgeKind::ReceivesAs,
                Vec::new(),
                None,
                Cost::Never,
            );
        }
    }
}

/// A class's open egress (to the hub) and open ingress (from the hub).
fn open_edges(g: &mut Graph, at: &At<'_>, c: ClassId) {
    let net = at.net;
    let class = net.class(c);
    let (s, d) = at.class_ix[&c];
    if class.egress_open() {
        let ev = vec![Evidence::new(
            first_member(at, c),
            "no NetworkPolicy restricts egress",
            None,
        )];
        add_edge(
            g,
            s,
            at.hub,
            EdgeKind::EgressOpen,
            ev,
            Some(PortSet::all()),
            Cost::Finite(0),
        );
    }
    let (admits, why) = net.admits_any_pod(c);
    if admits {
        let ev = rule_evidence(
            net,
            &why,
            first_member(at, c),
            "no NetworkPolicy isolates ingress",
        );
        let ports = if class.ingress_open() {
            class.listening()
        } else {
            net.ingress_from_controller(c)
                .0
                .intersect(&class.listening())
        };
        let e = add_edge(
            g,
            at.hub,
            d,
            EdgeKind::IngressOpen,
            ev,
            Some(ports),
            Cost::Finite(0),
        );
        g[e].rules = why;
    }
}

/// What `sc` may send to `dc` on the ports `dc` listens on, with the rules that allow it (the
/// egress rules only when `sc`'s egress is restricted).
fn pair_edge(g: &mut Graph, at: &At<'_>, sc: ClassId, dc: ClassId) {
    let net = at.net;
    let (sclass, dclass) = (net.class(sc), net.class(dc));
    let ports = net.allowed(sc, dc).intersect(&dclass.listening());
    if ports.is_empty() {
        return;
    }
    let mut why = if sclass.egress_open() {
        Vec::new()
    } else {
        net.egress_to(sclass, dclass).1
    };
    why.extend(net.ingress_from(sclass, dclass).1);
    let ev = rule_evidence(net, &why, first_member(at, dc), "ingress");
    let e = add_edge(
        g,
        at.class_ix[&sc].0,
        at.class_ix[&dc].1,
        EdgeKind::PolicyAllows,
        ev,
        Some(ports),
        Cost::Finite(cost::NARROW_POLICY),
    );
    g[e].rules = why;
}

#[cfg(test)]
mod tests {
    use super::super::tests::{graph, pod, try_vertex};
    use super::*;

    /// Whether workload `from` sends to workload `to` through the layer (by the hub or a
    /// policy edge).
    fn reaches(g: &SecurityGraph, from: &str, to: &str) -> bool {
        let (Some(a), Some(b)) = (try_vertex(g, from), try_vertex(g, to)) else {
            return false;
        };
        let out = |v: NodeIndex| -> Vec<NodeIndex> {
            g.graph
                .edges_directed(v, Direction::Outgoing)
                .map(|e| e.target())
                .collect()
        };
        out(a).into_iter().any(|src| {
            out(src).into_iter().any(|mid| {
                let dsts = if matches!(g.graph[mid], Vertex::NetHub) {
                    out(mid)
                } else {
                    vec![mid]
                };
                dsts.into_iter().any(|d| out(d).contains(&b))
            })
        })
    }

    fn two_pods() -> String {
        let ports = "  containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]";
        format!("{}{}", pod("a", ports), pod("b", ports))
    }

    #[test]
    fn without_policies_every_pod_reaches_every_other() {
        let g = graph(&two_pods());
        assert!(reaches(&g, "Pod/app/a", "Pod/app/b"));
    }

    #[test]
    fn a_default_deny_on_ingress_cuts_the_layer() {
        let g = graph(&format!(
            "{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny, namespace: app}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress]}}\n",
            two_pods()
        ));
        assert!(!reaches(&g, "Pod/app/a", "Pod/app/b"));
    }

    #[test]
    fn a_policy_admitting_one_peer_admits_that_peer_only() {
        let ports = "  containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]";
        let g = graph(&format!(
            "{}{}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: from-a, namespace: app}}\nspec: {{podSelector: {{matchLabels: {{app: b}}}}, ingress: [{{from: [{{podSelector: {{matchLabels: {{app: a}}}}}}]}}]}}\n",
            two_pods(),
            pod("c", ports)
        ));
        assert!(reaches(&g, "Pod/app/a", "Pod/app/b"));
        assert!(!reaches(&g, "Pod/app/c", "Pod/app/b"));
        assert!(
            g.graph
                .edge_references()
                .any(|e| e.weight().kind == EdgeKind::PolicyAllows)
        );
    }
}
