//! Entries and routes from the internet into workloads: an exposed endpoint (a Service port, an
//! Ingress backend, an OpenShift Route) is `Internet → Endpoint`, and reaches the pods its
//! Service selects (`Endpoint → Workload`) when their NetworkPolicies admit the traffic. Each
//! route is kept with the graph, so that one workload's routes can be worked out again alone
//! when its pods move between reachability classes.

use std::collections::{HashMap, HashSet};

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use rampart_model::de::IntOrString;
use rampart_model::objects::{IngressBackend, Kind, PodSpec};
use rampart_model::{EXPOSED_ANNOTATION, Labels, Object, Workload, Workloads};

use super::{Builder, add_edge, remove_edges, rule_evidence, workload_ref};
use crate::cost;
use crate::model::{Cost, Edge, EdgeKind, Endpoint, EndpointKind, Evidence, ObjRef, Vertex};
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

/// Known ingress controller images/labels, used to check NetworkPolicies of Ingress backends
/// against the real controller pods when they are in the input.
const INGRESS_CONTROLLER_NAMES: &[&str] = &[
    "ingress-nginx",
    "nginx-ingress",
    "traefik",
    "haproxy-ingress",
    "contour",
    "kong",
    "istio-ingressgateway",
    "emissary-ingress",
    "ambassador",
    "gateway",
];

/// Labels naming an ingress controller's software.
const INGRESS_CONTROLLER_KEYS: &[&str] = &["app.kubernetes.io/name", "app", "k8s-app", "istio"];

pub(crate) fn is_ingress_controller(w: &Workload) -> bool {
    let l = &w.template.metadata.labels;
    if l.get(rampart_model::INGRESS_CONTROLLER_LABEL)
        .is_some_and(|v| v == "true")
    {
        return true;
    }
    INGRESS_CONTROLLER_KEYS.iter().any(|k| {
        l.get(*k)
            .is_some_and(|v| INGRESS_CONTROLLER_NAMES.contains(&v.as_str()))
    })
}

/// Resolves a Service target port against a workload's declared ports.
fn resolve_target(target: &IntOrString, proto: Protocol, spec: &PodSpec) -> Option<u16> {
    let declared = crate::netpol::declared_ports(spec);
    match target {
        IntOrString::Int(n) => {
            let n = u16::try_from(*n).ok()?;
            (declared.is_empty() || declared.iter().any(|d| d.port == n && d.protocol == proto))
                .then_some(n)
        }
        IntOrString::Str(name) => match name.parse::<u16>() {
            Ok(n) => Some(n),
            Err(_) => declared
                .iter()
                .find(|d| d.name.as_deref() == Some(name.as_str()) && d.protocol == proto)
                .map(|d| d.port),
        },
    }
}

/// Every exposed endpoint, in the graph's fixed order (Services, Ingresses, OpenShift Routes),
/// and the routes behind them: their edges come once every endpoint is known ([`edges`]).
pub(super) fn exposed(b: &mut Builder<'_>) -> Vec<Route> {
    let mut routes = Vec::new();
    services(b, &mut routes);
    ingresses(b, &mut routes);
    openshift_routes(b, &mut routes);
    routes
}

/// An exposed Service (LoadBalancer, NodePort, externalIPs, or declared exposed): one endpoint
/// per port, routed to the pods its selector picks. One without a selector is not followed.
fn services(b: &mut Builder<'_>, routes: &mut Vec<Route>) {
    let snapshot = b.snapshot;
    for (src, svc) in snapshot.services() {
        let ns = &svc.metadata.namespace;
        let t = svc.spec.service_type();
        let declared = svc
            .metadata
            .annotations
            .get(EXPOSED_ANNOTATION)
            .is_some_and(|v| v == "true");
        let kind = match t {
            "LoadBalancer" => Some(EndpointKind::LoadBalancer),
            "NodePort" => Some(EndpointKind::NodePort),
            _ if !svc.spec.external_ips.is_empty() => Some(EndpointKind::ExternalIp),
            _ if declared => Some(EndpointKind::Declared),
            _ => None,
        };
        let Some(kind) = kind else { continue };
        let Some(selector) = &svc.spec.selector else {
            b.warnings.push(format!(
                "Service {ns}/{}: exposed but has no selector (manual endpoints); not followed",
                svc.metadata.name
            ));
            continue;
        };
        let sref = ObjRef::new("Service", ns, &svc.metadata.name);
        for (i, p) in svc.spec.ports.iter().enumerate() {
            let Some(proto) = Protocol::parse(p.protocol.as_deref()) else {
                continue;
            };
            let field = match kind {
                EndpointKind::ExternalIp => format!("spec.externalIPs, spec.ports[{i}]"),
                EndpointKind::Declared => {
                    format!("metadata.annotations[{EXPOSED_ANNOTATION}], spec.ports[{i}]")
                }
                _ => format!("spec.type: {t}, spec.ports[{i}]"),
            };
            let detail = format!("{t} {} {} → {}", proto.as_str(), p.port, p.target());
            let node_port = p
                .node_port
                .filter(|_| kind == EndpointKind::NodePort || kind == EndpointKind::LoadBalancer);
            let ep = b.endpoint(
                Endpoint {
                    kind,
                    object: sref.clone(),
                    detail,
                    node_port,
                    source: Some(src.clone()),
                },
                &field,
            );
            let sel_ev = Evidence::new(
                sref.clone(),
                format!("spec.selector, spec.ports[{i}].targetPort {}", p.target()),
                Some(src),
            );
            routes.push(Route {
                ep,
                namespace: ns.clone(),
                selector: selector.clone(),
                target: p.target(),
                proto,
                via_controller: false,
                selection: sel_ev,
            });
        }
    }
}

/// The selector, target port and protocol of the Service port an Ingress backend names.
fn service_backend(
    b: &Builder<'_>,
    ns: &str,
    name: &str,
    port: &IntOrString,
) -> Option<(Labels, IntOrString, Protocol)> {
    let Some(Object::Service(svc)) = b.snapshot.get(Kind::Service, ns, name).map(|l| &l.object)
    else {
        return None;
    };
    let selector = svc.spec.selector.clone()?;
    let sp = svc.spec.ports.iter().find(|p| match port {
        IntOrString::Int(n) => p.port == *n,
        IntOrString::Str(s) => {
            p.name.as_deref() == Some(s.as_str()) || p.target_port.as_ref() == Some(port)
        }
    })?;
    Some((
        selector,
        sp.target(),
        Protocol::parse(sp.protocol.as_deref())?,
    ))
}

/// An Ingress: one endpoint per backend (the default one, then each rule's paths), routed
/// through the ingress controller to the pods of the backend's Service.
fn ingresses(b: &mut Builder<'_>, routes: &mut Vec<Route>) {
    let snapshot = b.snapshot;
    for (src, ing) in snapshot.ingresses() {
        let ns = &ing.metadata.namespace;
        let iref = ObjRef::new("Ingress", ns, &ing.metadata.name);
        let mut backends: Vec<(String, String, &IngressBackend)> = Vec::new();
        if let Some(d) = ing
            .spec
            .default_backend
            .as_ref()
            .or(ing.spec.backend.as_ref())
        {
            backends.push((
                "spec.defaultBackend".into(),
                "* (default backend)".into(),
                d,
            ));
        }
        for (i, r) in ing.spec.rules.iter().enumerate() {
            for (j, p) in r.http.iter().flat_map(|h| h.paths.iter()).enumerate() {
                let host = r.host.clone().unwrap_or_else(|| "*".into());
                backends.push((
                    format!("spec.rules[{i}].http.paths[{j}]"),
                    format!("{host}{}", p.path.as_deref().unwrap_or("/")),
                    &p.backend,
                ));
            }
        }
        for (field, detail, backend) in backends {
            let Some((svc_name, port)) = backend.target() else {
                continue;
            };
            let ep = b.endpoint(
                Endpoint {
                    kind: EndpointKind::Ingress,
                    object: iref.clone(),
                    detail: format!("{detail} → {svc_name}:{port}"),
                    node_port: None,
                    source: Some(src.clone()),
                },
                &field,
            );
            let Some((selector, target, proto)) = service_backend(b, ns, svc_name, &port) else {
                continue;
            };
            let sel_ev = Evidence::new(
                ObjRef::new("Service", ns, svc_name),
                format!("spec.selector, targetPort {target}"),
                None,
            );
            routes.push(Route {
                ep,
                namespace: ns.clone(),
                selector,
                target,
                proto,
                via_controller: true,
                selection: sel_ev,
            });
        }
    }
}

/// An OpenShift Route: one endpoint per backend (`to`, then the alternates), routed through
/// the router to the pods of the Service's matching ports.
fn openshift_routes(b: &mut Builder<'_>, routes: &mut Vec<Route>) {
    let snapshot = b.snapshot;
    for (src, r) in snapshot.routes() {
        let ns = &r.metadata.namespace;
        let rref = ObjRef::new("Route", ns, &r.metadata.name);
        let port = r.spec.port.as_ref().and_then(|p| p.target_port.clone());
        for (field, t) in r.spec.to.iter().map(|t| ("spec.to".to_string(), t)).chain(
            r.spec
                .alternate_backends
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("spec.alternateBackends[{i}]"), t)),
        ) {
            let host = r.spec.host.clone().unwrap_or_else(|| "*".into());
            let ep = b.endpoint(
                Endpoint {
                    kind: EndpointKind::Route,
                    object: rref.clone(),
                    detail: format!("{host} → {}", t.name),
                    node_port: None,
                    source: Some(src.clone()),
                },
                &field,
            );
            let Some(Object::Service(svc)) =
                snapshot.get(Kind::Service, ns, &t.name).map(|l| &l.object)
            else {
                continue;
            };
            let Some(selector) = svc.spec.selector.clone() else {
                continue;
            };
            let sel_ev = Evidence::new(ObjRef::new("Service", ns, &t.name), "spec.selector", None);
            for p in &svc.spec.ports {
                let matches = match &port {
                    None => true,
                    Some(IntOrString::Int(n)) => {
                        p.port == *n || p.target_port == Some(IntOrString::Int(*n))
                    }
                    Some(IntOrString::Str(s)) => {
                        p.name.as_deref() == Some(s.as_str())
                            || p.target_port.as_ref() == port.as_ref()
                    }
                };
                let Some(proto) = Protocol::parse(p.protocol.as_deref()) else {
                    continue;
                };
                if matches {
                    routes.push(Route {
                        ep,
                        namespace: ns.clone(),
                        selector: selector.clone(),
                        target: p.target(),
                        proto,
                        via_controller: true,
                        selection: sel_ev.clone(),
                    });
                }
            }
        }
    }
}

/// `Endpoint → Workload` for every route and every workload of its namespace ([`route_edge`]).
pub(super) fn edges(
    b: &mut Builder<'_>,
    net: &NetModel,
    routes: &[Route],
    controllers: &[ClassId],
) {
    let workloads = b.workloads;
    let mut by_ns: HashMap<&str, Vec<&Workload>> = HashMap::new();
    for w in &workloads.list {
        by_ns.entry(w.namespace.as_str()).or_default().push(w);
    }
    for r in routes {
        for w in by_ns.get(r.namespace.as_str()).into_iter().flatten() {
            route_edge(
                &mut b.g,
                net,
                controllers,
                r,
                w,
                b.workload_ix[w.id.index()],
            );
        }
    }
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
            let src = r.via_controller.then(|| net.class(net.ingress_controller));
            super::network::mesh_evidence(net, src, net.class(c), &mut ev);
            let e = add_edge(
                g,
                r.ep,
                wi,
                EdgeKind::RoutesTo,
                ev,
                Some(PortSet::single(r.proto, port)),
                Cost::Finite(cost::EXTERNAL_DENY),
            );
            g[e].rules = why.into();
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

#[cfg(test)]
mod tests {
    use super::super::tests::{entries_into, graph, pod};
    use crate::model::EndpointKind;

    fn web() -> String {
        pod(
            "web",
            "  containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]",
        )
    }

    fn service(kind: &str, selector: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: app}}\nspec: {{type: {kind}, selector: {{{selector}}}, ports: [{{name: web, port: 80, targetPort: http}}]}}\n---\n"
        )
    }

    #[test]
    fn a_load_balancer_routes_to_the_pods_it_selects() {
        let g = graph(&format!("{}{}", web(), service("LoadBalancer", "app: web")));
        assert_eq!(
            entries_into(&g, "Pod/app/web"),
            vec![(
                EndpointKind::LoadBalancer,
                "LoadBalancer TCP 80 → http".to_string()
            )]
        );
    }

    #[test]
    fn a_cluster_ip_service_or_a_selector_that_misses_is_no_route() {
        let g = graph(&format!("{}{}", web(), service("ClusterIP", "app: web")));
        assert!(g.endpoints.is_empty());
        let g = graph(&format!(
            "{}{}",
            web(),
            service("LoadBalancer", "app: other")
        ));
        assert_eq!(g.endpoints.len(), 1, "the endpoint is there");
        assert!(entries_into(&g, "Pod/app/web").is_empty());
    }

    fn ingress(service: &str) -> String {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: site, namespace: app}}\nspec:\n  rules: [{{host: a.example, http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}]}}}}]\n---\n"
        )
    }

    #[test]
    fn an_ingress_routes_through_its_service() {
        let g = graph(&format!(
            "{}{}{}",
            web(),
            service("ClusterIP", "app: web"),
            ingress("web")
        ));
        assert_eq!(
            entries_into(&g, "Pod/app/web"),
            vec![(EndpointKind::Ingress, "a.example/ → web:80".to_string())]
        );
    }

    #[test]
    fn an_ingress_to_a_missing_service_routes_nowhere() {
        let g = graph(&format!(
            "{}{}{}",
            web(),
            service("ClusterIP", "app: web"),
            ingress("gone")
        ));
        assert_eq!(g.endpoints.len(), 1, "the endpoint is there");
        assert!(entries_into(&g, "Pod/app/web").is_empty());
    }
}
