//! Routes from the internet into workloads: an exposed endpoint (a Service port, an Ingress
//! backend, an OpenShift Route) reaches the pods its Service selects when their NetworkPolicies
//! admit the traffic. Each route is kept with the graph, so that one workload's routes can be
//! worked out again alone when its pods move between reachability classes.

use std::collections::HashSet;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use rampart_model::de::IntOrString;
use rampart_model::{Labels, Workload, Workloads};

use super::{
    add_edge, is_ingress_controller, remove_edges, resolve_target, rule_evidence, workload_ref,
};
use crate::cost;
use crate::model::{Cost, Edge, EdgeKind, Evidence, Vertex};
use crate::netpol::{ClassId, NetModel, RuleRef};
use crate::ports::{PortSet, Protocol};

/// One exposed port and the pods behind it.
#[derive(Debug, Clone)]
pub struct Route {
    /// The endpoint vertex.
    pub ep: NodeIndex,
    /// Namespace of the Service.
    pub namespace: String,
    /// The Service's selector.
    pub selector: Labels,
    /// The Service's target port.
    pub target: IntOrString,
    /// Its protocol.
    pub proto: Protocol,
    /// Whether traffic arrives through an ingress controller (an Ingress or a Route) rather
    /// than at the Service itself.
    pub via_controller: bool,
    /// Evidence of the selection.
    pub selection: Evidence,
}

/// The classes of the cluster's ingress controller pods (routes through a controller are
/// admitted when a policy admits these).
pub(super) fn controller_classes(net: &NetModel, workloads: &Workloads) -> Vec<ClassId> {
    workloads
        .list
        .iter()
        .filter(|w| is_ingress_controller(w))
        .flat_map(|w| net.member_class[w.id.index()].iter().copied())
        .collect()
}

/// Whether class `c` admits the route's traffic on `port`, and the rules that admit it.
fn admits(
    net: &NetModel,
    controllers: &[ClassId],
    c: ClassId,
    proto: Protocol,
    port: u16,
    via_controller: bool,
) -> (bool, Vec<RuleRef>) {
    if !via_controller {
        let (p, why) = net.ingress_from_external(None, c);
        return (p.contains(proto, port), why);
    }
    let (p, why) = net.ingress_from_controller(c);
    if p.contains(proto, port) {
        return (true, why);
    }
    for &cc in controllers {
        let (p, why) = net.ingress_from(net.class(cc), net.class(c));
        if p.contains(proto, port)
            && net
                .egress_to(net.class(cc), net.class(c))
                .0
                .contains(proto, port)
        {
            return (true, why);
        }
    }
    (false, Vec::new())
}

/// The route's edge into `w` (at vertex `wi`), if the Service selects a pod group of `w` whose
/// class admits the traffic: the first such group gives the evidence.
pub(super) fn route_edge(
    g: &mut DiGraph<Vertex, Box<Edge>>,
    net: &NetModel,
    controllers: &[ClassId],
    r: &Route,
    w: &Workload,
    wi: NodeIndex,
) {
    let Some(port) = resolve_target(&r.target, r.proto, &w.template.spec) else {
        return;
    };
    for (gi, group) in w.groups.iter().enumerate() {
        if !r
            .selector
            .iter()
            .all(|(k, v)| group.labels.get(k) == Some(v))
        {
            continue;
        }
        let c = net.member_class[w.id.index()][gi];
        let (ok, why) = admits(net, controllers, c, r.proto, port, r.via_controller);
        if ok {
            let mut ev = vec![r.selection.clone()];
            ev.extend(rule_evidence(
                net,
                &why,
                workload_ref(w),
                if r.via_controller {
                    "no NetworkPolicy isolates ingress (ingress controller admitted)"
                } else {
                    "no NetworkPolicy isolates ingress (external sources admitted)"
                },
            ));
            let e = add_edge(
                g,
                r.ep,
                wi,
                EdgeKind::RoutesTo,
                ev,
                Some(PortSet::single(r.proto, port)),
                Cost::Finite(cost::EXTERNAL_DENY),
            );
            g[e].rules = why;
            return;
        }
    }
}

/// Works out the routes into workload `w` again (its pods moved between classes).
pub(crate) fn reroute(sg: &mut super::SecurityGraph, w: rampart_model::WorkloadId) {
    let wl = &sg.workloads.list[w.index()];
    let wi = sg.workload_ix[w.index()];
    let mine: Vec<&Route> = sg
        .routes
        .iter()
        .filter(|r| r.namespace == wl.namespace)
        .collect();
    let eps: HashSet<NodeIndex> = mine.iter().map(|r| r.ep).collect();
    let stale = sg
        .graph
        .edges_directed(wi, Direction::Incoming)
        .filter(|e| e.weight().kind == EdgeKind::RoutesTo && eps.contains(&e.source()))
        .map(|e| e.id())
        .collect();
    remove_edges(&mut sg.graph, stale);
    // The workload is no ingress controller (its move is refused otherwise): the controllers'
    // classes are those of the build.
    for r in mine {
        route_edge(&mut sg.graph, &sg.net, &sg.controller_classes, r, wl, wi);
    }
}
