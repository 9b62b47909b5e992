//! The network layer of the graph: per reachability class a sending and a receiving vertex, one
//! hub for "any destination whose ingress is open", the workloads' membership edges, and the
//! class-level edges NetworkPolicy semantics allow. Each part is one function over one class,
//! one pair of classes or one workload, so the layer's edges can be reasoned about (and, later,
//! patched) piece by piece; [`layer`] adds them in the graph's fixed order.

use std::collections::{BTreeSet, HashMap};

use petgraph::graph::NodeIndex;
use rampart_model::{Workload, Workloads};

use super::{Builder, rule_evidence, workload_ref};
use crate::cost;
use crate::model::{Cost, EdgeKind, Evidence, ObjRef, Vertex};
use crate::netpol::{ClassId, NetModel};
use crate::ports::PortSet;

/// Where the layer's vertices are.
pub(super) struct Layer {
    /// Sending and receiving vertex per class with members.
    pub class_ix: HashMap<ClassId, (NodeIndex, NodeIndex)>,
    /// The hub.
    pub hub: NodeIndex,
}

/// Adds the network layer: vertices, then membership edges workload by workload, then each
/// class's open edges, then the edges between pairs of classes.
pub(super) fn layer(
    b: &mut Builder<'_>,
    net: &NetModel,
    workloads: &Workloads,
    workload_ix: &[NodeIndex],
) -> Layer {
    let mut class_ix: HashMap<ClassId, (NodeIndex, NodeIndex)> = HashMap::new();
    for c in &net.classes {
        if !c.members.is_empty() {
            let s = b.g.add_node(Vertex::NetSrc(c.id));
            let d = b.g.add_node(Vertex::NetDst(c.id));
            class_ix.insert(c.id, (s, d));
        }
    }
    let layer = Layer {
        class_ix,
        hub: b.g.add_node(Vertex::NetHub),
    };
    let mut used: Vec<ClassId> = layer.class_ix.keys().copied().collect();
    used.sort();
    for w in &workloads.list {
        membership(b, &layer, net, w, workload_ix[w.id.index()]);
    }
    for &c in &used {
        open_edges(b, &layer, net, workloads, c);
    }
    // Into a class whose ingress is restricted, from the classes with open egress its peers
    // select; then everything a class with restricted egress may send.
    for &dc in &used {
        let dclass = net.class(dc);
        if !dclass.ingress_open() && !net.admits_any_pod(dc).0 {
            for sc in net.peer_sources(dc) {
                if layer.class_ix.contains_key(&sc) && net.class(sc).egress_open() {
                    pair_edge(b, &layer, net, workloads, sc, dc);
                }
            }
        }
    }
    for &sc in &used {
        if !net.class(sc).egress_open() {
            for &dc in &used {
                pair_edge(b, &layer, net, workloads, sc, dc);
            }
        }
    }
    layer
}

/// The workload every class's evidence names: its first member.
fn first_member(net: &NetModel, workloads: &Workloads, c: ClassId) -> ObjRef {
    net.class(c)
        .members
        .first()
        .map(|(w, _)| workload_ref(&workloads.list[w.index()]))
        .unwrap_or_else(|| ObjRef::new("Pod", "", "?"))
}

/// A workload sends and receives as each of its classes.
fn membership(b: &mut Builder<'_>, layer: &Layer, net: &NetModel, w: &Workload, wi: NodeIndex) {
    let mut seen = BTreeSet::new();
    for &c in &net.member_class[w.id.index()] {
        if seen.insert(c) {
            let (s, d) = layer.class_ix[&c];
            b.edge(wi, s, EdgeKind::SendsAs, Vec::new(), None, Cost::Never);
            b.edge(d, wi, EdgeKind::ReceivesAs, Vec::new(), None, Cost::Never);
        }
    }
}

/// A class's open egress (to the hub) and open ingress (from the hub).
fn open_edges(
    b: &mut Builder<'_>,
    layer: &Layer,
    net: &NetModel,
    workloads: &Workloads,
    c: ClassId,
) {
    let class = net.class(c);
    let (s, d) = layer.class_ix[&c];
    if class.egress_open() {
        let ev = vec![Evidence::new(
            first_member(net, workloads, c),
            "no NetworkPolicy restricts egress",
            None,
        )];
        b.edge(
            s,
            layer.hub,
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
            first_member(net, workloads, c),
            "no NetworkPolicy isolates ingress",
        );
        let ports = if class.ingress_open() {
            class.listening()
        } else {
            net.ingress_from_controller(c)
                .0
                .intersect(&class.listening())
        };
        let e = b.edge(
            layer.hub,
            d,
            EdgeKind::IngressOpen,
            ev,
            Some(ports),
            Cost::Finite(0),
        );
        b.g[e].rules = why;
    }
}

/// What `sc` may send to `dc` on the ports `dc` listens on, with the rules that allow it (the
/// egress rules only when `sc`'s egress is restricted).
fn pair_edge(
    b: &mut Builder<'_>,
    layer: &Layer,
    net: &NetModel,
    workloads: &Workloads,
    sc: ClassId,
    dc: ClassId,
) {
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
    let ev = rule_evidence(net, &why, first_member(net, workloads, dc), "ingress");
    let e = b.edge(
        layer.class_ix[&sc].0,
        layer.class_ix[&dc].1,
        EdgeKind::PolicyAllows,
        ev,
        Some(ports),
        Cost::Finite(cost::NARROW_POLICY),
    );
    b.g[e].rules = why;
}
