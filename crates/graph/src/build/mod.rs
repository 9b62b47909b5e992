//! Builds the security graph from a snapshot: every vertex and edge kind of DESIGN.md, each edge
//! with its evidence.

mod network;
mod routes;

pub(crate) use network::patch as patch_network;
pub use routes::Route;
pub(crate) use routes::reroute;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use rampart_model::de::IntOrString;
use rampart_model::objects::{Kind, PodSpec};
use rampart_model::{
    CROWN_JEWEL_LABEL, EXPOSED_ANNOTATION, Labels, Object, Snapshot, Workload, WorkloadKind,
    Workloads,
};

use crate::cost;
use crate::model::{
    Cost, Edge, EdgeKind, Endpoint, EndpointKind, Evidence, NodeVertex, ObjRef, SecretVertex,
    Vertex,
};
use crate::netpol::{ClassId, NetModel, RuleRef};
use crate::ports::{PortSet, Protocol};
use crate::rbac::{Ability, Grant, Rbac, Scope, SubjectKey, abilities};

/// The security graph of one snapshot, with the derived models it was built from.
#[derive(Debug)]
pub struct SecurityGraph {
    /// Vertices and edges. An edge's weight is boxed: the searches of every re-proof walk the
    /// adjacency records alone, and with ~170-byte weights inline they missed the cache at
    /// every step.
    pub graph: DiGraph<Vertex, Box<Edge>>,
    /// The `Internet` vertex.
    pub internet: NodeIndex,
    /// The `ClusterAdmin` vertex.
    pub cluster_admin: NodeIndex,
    /// Endpoints by index.
    pub endpoints: Vec<Endpoint>,
    /// Identities by index.
    pub identities: Vec<SubjectKey>,
    /// Secrets by index.
    pub secrets: Vec<SecretVertex>,
    /// Nodes by index.
    pub nodes: Vec<NodeVertex>,
    /// Workloads.
    pub workloads: Workloads,
    /// Network model.
    pub net: NetModel,
    /// Sinks: every Secret, Node, ClusterAdmin and crown-jewel-labelled workload.
    pub jewels: Vec<NodeIndex>,
    /// Vertex of each workload.
    pub workload_ix: Vec<NodeIndex>,
    /// Source and destination vertices per class.
    pub class_ix: HashMap<ClassId, (NodeIndex, NodeIndex)>,
    /// The network hub ("any destination whose ingress is open").
    pub hub: NodeIndex,
    /// Exposed ports and the Service selectors behind them.
    pub routes: Vec<Route>,
    /// The classes of the ingress controllers' pods (routes through a controller are admitted
    /// when a policy admits these).
    pub controller_classes: Vec<ClassId>,
    /// Relations counted, for the threat diff of a patch ([`crate::diff::Baseline`]; built by
    /// [`crate::diff::diff_indexing`] or on a patch's first use).
    pub relations: Option<crate::diff::RelationIndex>,
    /// Problems found while building.
    pub warnings: Vec<String>,
    /// Permission vertices, described.
    pub grants: Vec<String>,
}

const SENSITIVE_HOST_PATHS: &[&str] = &[
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/home",
    "/var/log",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/run",
    "/run",
    "/var/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/etc/kubernetes",
];

const ESCAPE_CAPABILITIES: &[&str] = &[
    "SYS_ADMIN",
    "SYS_MODULE",
    "DAC_READ_SEARCH",
    "BPF",
    "ALL",
    "SYS_RAWIO",
];

/// Why a pod can escape to its node.
pub fn escape_reasons(spec: &PodSpec) -> Vec<String> {
    let mut r = Vec::new();
    if spec.host_pid {
        r.push("spec.hostPID: true".to_string());
    }
    if spec.host_ipc {
        r.push("spec.hostIPC: true".to_string());
    }
    for (field, list) in [
        ("initContainers", &spec.init_containers),
        ("containers", &spec.containers),
        ("ephemeralContainers", &spec.ephemeral_containers),
    ] {
        for (i, c) in list.iter().enumerate() {
            let Some(sc) = &c.security_context else {
                continue;
            };
            if sc.privileged == Some(true) {
                r.push(format!(
                    "spec.{field}[{i}] ({}): securityContext.privileged: true",
                    c.name
                ));
            }
            for cap in sc.capabilities.iter().flat_map(|c| &c.add) {
                let cap = cap.trim_start_matches("CAP_").to_ascii_uppercase();
                if ESCAPE_CAPABILITIES.contains(&cap.as_str())
                    || (cap == "SYS_PTRACE" && spec.host_pid)
                {
                    r.push(format!(
                        "spec.{field}[{i}] ({}): securityContext.capabilities.add: {cap}",
                        c.name
                    ));
                }
            }
        }
    }
    for (i, v) in spec.volumes.iter().enumerate() {
        if let Some(hp) = &v.host_path
            && let Some(s) = sensitive_host_path(&hp.path)
        {
            r.push(format!(
                "spec.volumes[{i}] ({}): hostPath {} (covers {s})",
                v.name, hp.path
            ));
        }
    }
    r
}

/// Whether a hostPath mount reaches a sensitive part of the node (the path is, contains, or is
/// inside a sensitive path).
pub fn sensitive_host_path(path: &str) -> Option<&'static str> {
    let norm = {
        let t = path.trim_end_matches('/');
        if t.is_empty() { "/" } else { t }
    };
    SENSITIVE_HOST_PATHS.iter().copied().find(|s| {
        norm == "/"
            || norm == *s
            || norm.starts_with(&format!("{s}/"))
            || s.starts_with(&format!("{norm}/"))
    })
}

/// Whether the pod mounts a ServiceAccount token, and the fields that say so.
pub fn token_mounted(spec: &PodSpec, sa_automount: Option<bool>) -> Option<String> {
    let projected = spec.volumes.iter().position(|v| {
        v.projected
            .as_ref()
            .is_some_and(|p| p.sources.iter().any(|s| s.service_account_token.is_some()))
    });
    if let Some(i) = projected {
        return Some(format!(
            "spec.volumes[{i}].projected.sources[].serviceAccountToken"
        ));
    }
    match (spec.automount_service_account_token, sa_automount) {
        (Some(false), _) => None,
        (Some(true), _) => Some("spec.automountServiceAccountToken: true".into()),
        (None, Some(false)) => None,
        (None, _) => Some("spec.automountServiceAccountToken unset (defaults to true)".into()),
    }
}

/// Every Secret the pod references, with the field.
pub fn secret_refs(spec: &PodSpec) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, v) in spec.volumes.iter().enumerate() {
        if let Some(s) = &v.secret {
            out.push((
                s.secret_name.clone(),
                format!("spec.volumes[{i}].secret.secretName"),
            ));
        }
        if let Some(p) = &v.projected {
            for (j, src) in p.sources.iter().enumerate() {
                if let Some(s) = &src.secret {
                    out.push((
                        s.name.clone(),
                        format!("spec.volumes[{i}].projected.sources[{j}].secret.name"),
                    ));
                }
            }
        }
    }
    for (field, list) in [
        ("initContainers", &spec.init_containers),
        ("containers", &spec.containers),
    ] {
        for (i, c) in list.iter().enumerate() {
            for (j, e) in c.env.iter().enumerate() {
                if let Some(r) = e
                    .value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref())
                {
                    out.push((
                        r.name.clone(),
                        format!("spec.{field}[{i}].env[{j}].valueFrom.secretKeyRef"),
                    ));
                }
            }
            for (j, e) in c.env_from.iter().enumerate() {
                if let Some(r) = &e.secret_ref {
                    out.push((
                        r.name.clone(),
                        format!("spec.{field}[{i}].envFrom[{j}].secretRef"),
                    ));
                }
            }
        }
    }
    out.retain(|(n, _)| !n.is_empty());
    out
}

/// Labels that differ per pod or per rollout, useless in a stable selector.
pub const VOLATILE_LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "statefulset.kubernetes.io/pod-name",
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "pod-template-generation",
    "apps.kubernetes.io/pod-index",
    "batch.kubernetes.io/job-completion-index",
];

/// Stable labels shared by every pod of the workload (for selectors that target it).
pub fn stable_labels(w: &Workload) -> Labels {
    let mut it = w.groups.iter();
    let mut common: Labels = it.next().map(|g| g.labels.clone()).unwrap_or_default();
    for g in it {
        common.retain(|k, v| g.labels.get(k) == Some(v));
    }
    common.retain(|k, _| !VOLATILE_LABELS.contains(&k.as_str()));
    common
}

/// Whether [`stable_labels`] has any (without building them).
pub fn has_stable_labels(w: &Workload) -> bool {
    let Some((first, rest)) = w.groups.split_first() else {
        return false;
    };
    first.labels.iter().any(|(k, v)| {
        !VOLATILE_LABELS.contains(&k.as_str()) && rest.iter().all(|g| g.labels.get(k) == Some(v))
    })
}

/// Workload reference for evidence.
pub fn workload_ref(w: &Workload) -> ObjRef {
    ObjRef::new(w.kind.as_str(), &w.namespace, &w.name)
}

fn rule_evidence(
    net: &NetModel,
    why: &[RuleRef],
    fallback: ObjRef,
    fallback_field: &str,
) -> Vec<Evidence> {
    if why.is_empty() {
        return vec![Evidence::new(fallback, fallback_field, None)];
    }
    why.iter()
        .map(|r| {
            let p = &net.policies[r.policy as usize];
            Evidence::new(
                ObjRef::new("NetworkPolicy", &p.namespace, &p.name),
                format!(
                    "spec.{}[{}]",
                    if r.ingress { "ingress" } else { "egress" },
                    r.rule
                ),
                None,
            )
        })
        .collect()
}

fn grant_evidence(grants: &[&Grant]) -> Vec<Evidence> {
    let mut v: Vec<Evidence> = grants
        .iter()
        .map(|g| {
            let r = &g.rule;
            let mut field = format!(
                "{} → {}: verbs [{}] on [{}]",
                g.subject,
                g.via.role,
                r.verbs.join(","),
                r.resources.join(",")
            );
            if !r.resource_names.is_empty() {
                field.push_str(&format!(" named [{}]", r.resource_names.join(",")));
            }
            Evidence::new(
                ObjRef::new(g.via.kind, &g.via.namespace, &g.via.name),
                field,
                g.via.source.as_ref(),
            )
        })
        .collect();
    v.dedup();
    v
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

/// Every pod label key the analysis reads by name rather than through a selector (ingress
/// controllers, cluster DNS, rampart's markers). [`crate::relabel`] re-proves in full when one
/// of them changes, so a new by-name read belongs here.
pub const KEYS_READ_BY_NAME: &[&str] = &[
    rampart_model::INGRESS_CONTROLLER_LABEL,
    "app.kubernetes.io/name",
    "app",
    "k8s-app",
    "istio",
    CROWN_JEWEL_LABEL,
    EXPOSED_ANNOTATION,
];

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

struct Builder<'a> {
    snapshot: &'a Snapshot,
    g: DiGraph<Vertex, Box<Edge>>,
    endpoints: Vec<Endpoint>,
    identities: Vec<SubjectKey>,
    identity_ix: HashMap<SubjectKey, NodeIndex>,
    secrets: Vec<SecretVertex>,
    secret_ix: HashMap<(String, String), NodeIndex>,
    nodes: Vec<NodeVertex>,
    node_ix: HashMap<Option<String>, NodeIndex>,
    warnings: Vec<String>,
    grants: Vec<String>,
    grant_vertices: HashMap<EdgeKind, NodeIndex>,
}

impl Builder<'_> {
    fn edge(
        &mut self,
        a: NodeIndex,
        b: NodeIndex,
        kind: EdgeKind,
        evidence: Vec<Evidence>,
        ports: Option<PortSet>,
        cost: Cost,
    ) -> EdgeIndex {
        add_edge(&mut self.g, a, b, kind, evidence, ports, cost)
    }

    /// An RBAC edge `from → target`, through one permission vertex per (identity, ability,
    /// relation): narrowing the binding is one cut, whatever the number of targets.
    fn grant_edge(
        &mut self,
        from: NodeIndex,
        target: NodeIndex,
        kind: EdgeKind,
        ev: &[Evidence],
        grant_refs: &[(ObjRef, SubjectKey)],
    ) {
        let gv = match self.grant_vertices.get(&kind) {
            Some(g) => *g,
            None => {
                let desc = format!(
                    "{} of {}",
                    kind.as_str(),
                    match self.g[from] {
                        Vertex::Identity(i) => self.identities[i as usize].to_string(),
                        _ => String::new(),
                    }
                );
                let gv = self.g.add_node(Vertex::Grant(
                    u32::try_from(self.grants.len()).unwrap_or(u32::MAX),
                ));
                self.grants.push(desc);
                let e = self.edge(
                    from,
                    gv,
                    kind,
                    ev.to_vec(),
                    None,
                    Cost::Finite(cost::NARROW_BINDING),
                );
                self.g[e].grants = grant_refs.to_vec();
                self.grant_vertices.insert(kind, gv);
                gv
            }
        };
        if gv != target {
            self.edge(gv, target, kind, Vec::new(), None, Cost::Never);
        }
    }

    fn identity(&mut self, s: SubjectKey) -> NodeIndex {
        if let Some(ix) = self.identity_ix.get(&s) {
            return *ix;
        }
        let ix = self.g.add_node(Vertex::Identity(
            u32::try_from(self.identities.len()).unwrap_or(u32::MAX),
        ));
        self.identities.push(s.clone());
        self.identity_ix.insert(s, ix);
        ix
    }

    fn secret(&mut self, ns: &str, name: &str) -> NodeIndex {
        let key = (ns.to_string(), name.to_string());
        if let Some(ix) = self.secret_ix.get(&key) {
            return *ix;
        }
        let present = self.snapshot.get(Kind::Secret, ns, name).is_some();
        let ix = self.g.add_node(Vertex::Secret(
            u32::try_from(self.secrets.len()).unwrap_or(u32::MAX),
        ));
        self.secrets.push(SecretVertex {
            namespace: key.0.clone(),
            name: key.1.clone(),
            present,
        });
        self.secret_ix.insert(key, ix);
        ix
    }

    /// Every Node vertex, in the order they were added (not the hash map's: the graph's edge
    /// order must not change from run to run).
    fn node_vertices(&self) -> Vec<NodeIndex> {
        let mut v: Vec<NodeIndex> = self.node_ix.values().copied().collect();
        v.sort();
        v
    }

    fn node(&mut self, name: Option<String>) -> NodeIndex {
        if let Some(ix) = self.node_ix.get(&name) {
            return *ix;
        }
        let ix = self.g.add_node(Vertex::Node(
            u32::try_from(self.nodes.len()).unwrap_or(u32::MAX),
        ));
        self.nodes.push(NodeVertex { name: name.clone() });
        self.node_ix.insert(name, ix);
        ix
    }

    fn endpoint(&mut self, e: Endpoint, internet: NodeIndex, field: &str) -> NodeIndex {
        let ix = self.g.add_node(Vertex::Endpoint(
            u32::try_from(self.endpoints.len()).unwrap_or(u32::MAX),
        ));
        let ev = vec![Evidence::new(e.object.clone(), field, e.source.as_ref())];
        self.endpoints.push(e);
        self.edge(
            internet,
            ix,
            EdgeKind::Exposes,
            ev,
            None,
            Cost::Finite(cost::EXPOSURE_DURABLE),
        );
        ix
    }
}

/// Adds an edge with no rules or grants yet.
fn add_edge(
    g: &mut DiGraph<Vertex, Box<Edge>>,
    a: NodeIndex,
    b: NodeIndex,
    kind: EdgeKind,
    evidence: Vec<Evidence>,
    ports: Option<PortSet>,
    cost: Cost,
) -> EdgeIndex {
    g.add_edge(
        a,
        b,
        Box::new(Edge {
            kind,
            evidence,
            ports,
            cost,
            rules: Vec::new(),
            grants: Vec::new(),
        }),
    )
}

/// Removes edges, highest index first: removing an edge moves the last one into its place, so
/// the indices still to remove stay valid.
fn remove_edges(g: &mut DiGraph<Vertex, Box<Edge>>, mut edges: Vec<EdgeIndex>) {
    edges.sort_unstable();
    edges.dedup();
    for e in edges.into_iter().rev() {
        g.remove_edge(e);
    }
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

impl SecurityGraph {
    /// Builds the graph.
    pub fn build(snapshot: &Snapshot) -> SecurityGraph {
        let workloads = Workloads::build(snapshot);
        let net = NetModel::build(snapshot, &workloads);
        let rbac = Rbac::build(snapshot);
        let mut b = Builder {
            snapshot,
            g: DiGraph::new(),
            endpoints: Vec::new(),
            identities: Vec::new(),
            identity_ix: HashMap::new(),
            secrets: Vec::new(),
            secret_ix: HashMap::new(),
            nodes: Vec::new(),
            node_ix: HashMap::new(),
            warnings: Vec::new(),
            grants: Vec::new(),
            grant_vertices: HashMap::new(),
        };
        b.warnings.extend(workloads.warnings.iter().cloned());
        b.warnings.extend(net.warnings.iter().cloned());
        b.warnings.extend(rbac.warnings.iter().cloned());
        let internet = b.g.add_node(Vertex::Internet);
        let cluster_admin = b.g.add_node(Vertex::ClusterAdmin);
        let workload_ix: Vec<NodeIndex> = workloads
            .list
            .iter()
            .map(|w| b.g.add_node(Vertex::Workload(w.id)))
            .collect();

        // Network layer: per class a source and a destination vertex, and one hub.
        let network::Layer { class_ix, hub } =
            network::layer(&mut b, &net, &workloads, &workload_ix);

        // Endpoints, and the routes behind them (their edges once every endpoint is known).
        let mut routes: Vec<Route> = Vec::new();
        let mut by_ns: HashMap<&str, Vec<&Workload>> = HashMap::new();
        for w in &workloads.list {
            by_ns.entry(w.namespace.as_str()).or_default().push(w);
        }
        let no_workloads: Vec<&Workload> = Vec::new();
        let in_ns = |ns: &str| by_ns.get(ns).unwrap_or(&no_workloads).clone();

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
                let detail = match p.node_port {
                    Some(np)
                        if kind == EndpointKind::NodePort || kind == EndpointKind::LoadBalancer =>
                    {
                        format!(
                            "{t} {} {} (nodePort {np}) → {}",
                            proto.as_str(),
                            p.port,
                            p.target()
                        )
                    }
                    _ => format!("{t} {} {} → {}", proto.as_str(), p.port, p.target()),
                };
                let ep = b.endpoint(
                    Endpoint {
                        kind,
                        object: sref.clone(),
                        detail,
                        source: Some(src.clone()),
                    },
                    internet,
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
        let service_backend =
            |ns: &str, name: &str, port: &IntOrString| -> Option<(Labels, IntOrString, Protocol)> {
                let Some(Object::Service(svc)) =
                    snapshot.get(Kind::Service, ns, name).map(|l| &l.object)
                else {
                    return None;
                };
                let selector = svc.spec.selector.clone()?;
                let sp = svc.spec.ports.iter().find(|p| match port {
                    IntOrString::Int(n) => p.port == *n,
                    IntOrString::Str(s) => {
                        p.name.as_deref() == Some(s.as_str())
                            || p.target_port.as_ref() == Some(port)
                    }
                })?;
                Some((
                    selector,
                    sp.target(),
                    Protocol::parse(sp.protocol.as_deref())?,
                ))
            };
        for (src, ing) in snapshot.ingresses() {
            let ns = &ing.metadata.namespace;
            let iref = ObjRef::new("Ingress", ns, &ing.metadata.name);
            let mut backends: Vec<(String, String, &rampart_model::objects::IngressBackend)> =
                Vec::new();
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
                        source: Some(src.clone()),
                    },
                    internet,
                    &field,
                );
                let Some((selector, target, proto)) = service_backend(ns, svc_name, &port) else {
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
                        source: Some(src.clone()),
                    },
                    internet,
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
                let sel_ev =
                    Evidence::new(ObjRef::new("Service", ns, &t.name), "spec.selector", None);
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
        let controllers = routes::controller_classes(&net, &workloads);
        for r in &routes {
            for w in in_ns(&r.namespace) {
                routes::route_edge(
                    &mut b.g,
                    &net,
                    &controllers,
                    r,
                    w,
                    workload_ix[w.id.index()],
                );
            }
        }
        for w in &workloads.list {
            let wref = workload_ref(w);
            let spec = &w.template.spec;
            let wi = workload_ix[w.id.index()];
            for (i, c) in spec.containers.iter().enumerate() {
                for (j, p) in c.ports.iter().enumerate() {
                    let (Some(hp), Some(proto)) = (
                        p.host_port.filter(|h| *h > 0),
                        Protocol::parse(p.protocol.as_deref()),
                    ) else {
                        continue;
                    };
                    let Ok(hp16) = u16::try_from(hp) else {
                        continue;
                    };
                    let field = format!("spec.containers[{i}].ports[{j}].hostPort: {hp}");
                    let ep = b.endpoint(
                        Endpoint {
                            kind: EndpointKind::HostPort,
                            object: wref.clone(),
                            detail: format!(
                                "hostPort {} {hp} → {}",
                                proto.as_str(),
                                p.container_port
                            ),
                            source: w.source.clone(),
                        },
                        internet,
                        &field,
                    );
                    b.edge(
                        ep,
                        wi,
                        EdgeKind::RoutesTo,
                        vec![Evidence::new(wref.clone(), field, w.source.as_ref())],
                        Some(PortSet::single(proto, hp16)),
                        Cost::Finite(cost::EXPOSURE_DURABLE),
                    );
                }
            }
            // A hostNetwork pod is reachable on the node's address on the ports it declares; one that
            // declares none serves nothing known (agents, benchmarks) and is not an entry.
            if spec.host_network && !crate::netpol::declared_ports(spec).is_empty() {
                let ep = b.endpoint(
                    Endpoint {
                        kind: EndpointKind::HostNetwork,
                        object: wref.clone(),
                        detail: "hostNetwork: the ports the pod declares".into(),
                        source: w.source.clone(),
                    },
                    internet,
                    "spec.hostNetwork: true",
                );
                let ports = net.member_class[w.id.index()]
                    .first()
                    .map(|c| net.class(*c).listening())
                    .unwrap_or_else(PortSet::all);
                b.edge(
                    ep,
                    wi,
                    EdgeKind::RoutesTo,
                    vec![Evidence::new(
                        wref.clone(),
                        "spec.hostNetwork: true",
                        w.source.as_ref(),
                    )],
                    Some(ports),
                    Cost::Finite(cost::EXPOSURE_DURABLE),
                );
            }
            if w.has_marker(EXPOSED_ANNOTATION, "true") {
                let field = format!("metadata.annotations[{EXPOSED_ANNOTATION}]");
                let ep = b.endpoint(
                    Endpoint {
                        kind: EndpointKind::Declared,
                        object: wref.clone(),
                        detail: "declared exposed".into(),
                        source: w.source.clone(),
                    },
                    internet,
                    &field,
                );
                let c = net.member_class[w.id.index()].first().copied();
                let (ports, why) = c
                    .map(|c| net.ingress_from_external(None, c))
                    .unwrap_or((PortSet::all(), Vec::new()));
                let listening = c
                    .map(|c| net.class(c).listening())
                    .unwrap_or_else(PortSet::all);
                let ports = ports.intersect(&listening);
                if !ports.is_empty() {
                    let mut ev = vec![Evidence::new(wref.clone(), field, w.source.as_ref())];
                    ev.extend(rule_evidence(
                        &net,
                        &why,
                        wref.clone(),
                        "no NetworkPolicy isolates ingress (external sources admitted)",
                    ));
                    b.edge(
                        ep,
                        wi,
                        EdgeKind::RoutesTo,
                        ev,
                        Some(ports),
                        Cost::Finite(cost::EXTERNAL_DENY),
                    );
                }
            }
        }

        // Identities, secrets, escapes, nodes.
        let sa_automount = |ns: &str, name: &str| -> Option<bool> {
            match snapshot
                .get(Kind::ServiceAccount, ns, name)
                .map(|l| &l.object)
            {
                Some(Object::ServiceAccount(sa)) => sa.automount_service_account_token,
                _ => None,
            }
        };
        let any_node = b.node(None);
        let mut named_nodes: BTreeSet<String> = snapshot
            .nodes()
            .map(|(_, n)| n.metadata.name.clone())
            .collect();
        for w in &workloads.list {
            for g in &w.groups {
                named_nodes.extend(g.nodes.iter().cloned());
            }
        }
        for n in &named_nodes {
            b.node(Some(n.clone()));
        }
        let nodes_of = |b: &mut Builder<'_>, w: &Workload| -> Vec<NodeIndex> {
            let mut v = vec![any_node];
            if w.kind == WorkloadKind::DaemonSet {
                v.extend(named_nodes.iter().map(|n| b.node(Some(n.clone()))));
            } else {
                for g in &w.groups {
                    for n in &g.nodes {
                        v.push(b.node(Some(n.clone())));
                    }
                }
            }
            v.sort();
            v.dedup();
            v
        };
        let mut sas_by_ns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for ns in snapshot.namespace_names() {
            sas_by_ns.entry(ns).or_default().insert("default".into());
        }
        for (_, sa) in snapshot.service_accounts() {
            sas_by_ns
                .entry(sa.metadata.namespace.clone())
                .or_default()
                .insert(sa.metadata.name.clone());
        }
        for w in &workloads.list {
            let wref = workload_ref(w);
            let wi = workload_ix[w.id.index()];
            let spec = &w.template.spec;
            let sa = spec.service_account().to_string();
            sas_by_ns
                .entry(w.namespace.clone())
                .or_default()
                .insert(sa.clone());
            let on_nodes = nodes_of(&mut b, w);
            if let Some(field) = token_mounted(spec, sa_automount(&w.namespace, &sa)) {
                let id = b.identity(SubjectKey::ServiceAccount {
                    namespace: w.namespace.clone(),
                    name: sa.clone(),
                });
                let ev = vec![Evidence::new(
                    wref.clone(),
                    format!("spec.serviceAccountName: {sa}; {field}"),
                    w.source.as_ref(),
                )];
                let uses_api = !rbac
                    .effective(&SubjectKey::ServiceAccount {
                        namespace: w.namespace.clone(),
                        name: sa.clone(),
                    })
                    .is_empty();
                let c = if uses_api {
                    cost::AUTOMOUNT_OFF_USED
                } else {
                    cost::AUTOMOUNT_OFF
                };
                b.edge(wi, id, EdgeKind::RunsAs, ev.clone(), None, Cost::Finite(c));
                for &n in &on_nodes {
                    b.edge(n, id, EdgeKind::HoldsToken, ev.clone(), None, Cost::Never);
                }
            }
            let mut seen = BTreeSet::new();
            for (name, field) in secret_refs(spec) {
                if !seen.insert(name.clone()) {
                    continue;
                }
                let s = b.secret(&w.namespace, &name);
                let ev = vec![Evidence::new(wref.clone(), field, w.source.as_ref())];
                b.edge(
                    wi,
                    s,
                    EdgeKind::MountsSecret,
                    ev.clone(),
                    None,
                    Cost::Finite(cost::REMOVE_MOUNT),
                );
                for &n in &on_nodes {
                    b.edge(n, s, EdgeKind::HoldsSecret, ev.clone(), None, Cost::Never);
                }
            }
            let reasons = escape_reasons(spec);
            if !reasons.is_empty() {
                let ev: Vec<Evidence> = reasons
                    .iter()
                    .map(|r| Evidence::new(wref.clone(), r.clone(), w.source.as_ref()))
                    .collect();
                for &n in &on_nodes {
                    b.edge(
                        wi,
                        n,
                        EdgeKind::EscapesToNode,
                        ev.clone(),
                        None,
                        Cost::Never,
                    );
                }
            }
        }
        for (_, s) in snapshot.secrets() {
            let ix = b.secret(&s.metadata.namespace, &s.metadata.name);
            if let Some(sa) = s.token_of() {
                let id = b.identity(SubjectKey::ServiceAccount {
                    namespace: s.metadata.namespace.clone(),
                    name: sa.to_string(),
                });
                let ev = vec![Evidence::new(
                    ObjRef::new("Secret", &s.metadata.namespace, &s.metadata.name),
                    "type: kubernetes.io/service-account-token",
                    None,
                )];
                b.edge(
                    ix,
                    id,
                    EdgeKind::IsTokenOf,
                    ev,
                    None,
                    Cost::Finite(cost::DELETE_TOKEN_SECRET),
                );
            }
        }
        // Nodes act as `system:nodes` when some binding grants that group anything.
        if rbac
            .subjects()
            .any(|s| *s == SubjectKey::Group("system:nodes".into()))
        {
            let id = b.identity(SubjectKey::Group("system:nodes".into()));
            let node_ixs = b.node_vertices();
            for n in node_ixs {
                b.edge(
                    n,
                    id,
                    EdgeKind::HoldsToken,
                    vec![Evidence::new(
                        ObjRef::new("Group", "", "system:nodes"),
                        "kubelet credentials",
                        None,
                    )],
                    None,
                    Cost::Never,
                );
            }
        }

        // RBAC, over a worklist of identities (abilities can reach new ones).
        let privileged_ok = |ns: &str| -> bool {
            let l = snapshot.namespace_labels(ns);
            !matches!(
                l.get("pod-security.kubernetes.io/enforce")
                    .map(String::as_str),
                Some("baseline" | "restricted")
            )
        };
        let all_ns: Vec<String> = sas_by_ns.keys().cloned().collect();
        let mut secrets_by_ns: HashMap<String, Vec<String>> = HashMap::new();
        for sv in &b.secrets {
            secrets_by_ns
                .entry(sv.namespace.clone())
                .or_default()
                .push(sv.name.clone());
        }
        // Every subject a binding names is an identity, reachable or not (cheap, and the
        // engine needs them when a pod starts running as one).
        let mut subjects: Vec<SubjectKey> = rbac
            .subjects()
            .filter(|s| !matches!(s, SubjectKey::Group(g) if g.starts_with("system:")))
            .cloned()
            .collect();
        subjects.sort();
        for s in subjects {
            b.identity(s);
        }
        let mut done = 0usize;
        while done < b.identities.len() {
            let subject = b.identities[done].clone();
            let from = b.identity_ix[&subject];
            done += 1;
            let grants = rbac.effective(&subject);
            let abs = abilities(&grants);
            let is_admin = abs.iter().any(|p| {
                matches!(
                    p.ability,
                    Ability::Wildcard(Scope::Cluster) | Ability::Escalate(Scope::Cluster)
                )
            });
            for p in abs {
                let ev = grant_evidence(&p.grants);
                let grant_refs: Vec<(ObjRef, SubjectKey)> = p
                    .grants
                    .iter()
                    .map(|g| {
                        (
                            ObjRef::new(g.via.kind, &g.via.namespace, &g.via.name),
                            g.subject.clone(),
                        )
                    })
                    .collect();
                b.grant_vertices.clear();
                let scoped_ns = |scope: &Scope| -> Vec<String> {
                    match scope {
                        Scope::Cluster => all_ns.clone(),
                        Scope::Namespace(n) => vec![n.clone()],
                    }
                };
                let ns_admin =
                    |b: &mut Builder<'_>,
                     scope: &Scope,
                     ev: &Vec<Evidence>,
                     grant_refs: &Vec<(ObjRef, SubjectKey)>| {
                        for ns in scoped_ns(scope) {
                            for s in secrets_by_ns.get(ns.as_str()).cloned().unwrap_or_default() {
                                let t = b.secret(&ns, &s);
                                b.grant_edge(from, t, EdgeKind::ReadsSecret, ev, grant_refs);
                            }
                            for sa in sas_by_ns.get(&ns).into_iter().flatten() {
                                let t = b.identity(SubjectKey::ServiceAccount {
                                    namespace: ns.clone(),
                                    name: sa.clone(),
                                });
                                if t != from {
                                    b.grant_edge(from, t, EdgeKind::CreatesPodAs, ev, grant_refs);
                                }
                            }
                            for w in workloads.list.iter().filter(|w| w.namespace == ns) {
                                b.grant_edge(
                                    from,
                                    workload_ix[w.id.index()],
                                    EdgeKind::ExecsInto,
                                    ev,
                                    grant_refs,
                                );
                            }
                        }
                        if scoped_ns(scope).iter().any(|n| privileged_ok(n)) {
                            b.grant_edge(
                                from,
                                any_node,
                                EdgeKind::CreatesPodOnNode,
                                ev,
                                grant_refs,
                            );
                        }
                    };
                match &p.ability {
                    Ability::Wildcard(Scope::Cluster) => {
                        b.grant_edge(
                            from,
                            cluster_admin,
                            EdgeKind::IsClusterAdmin,
                            &ev,
                            &grant_refs,
                        );
                    }
                    Ability::Escalate(Scope::Cluster)
                    | Ability::ApproveCsr
                    | Ability::WebhookWrite => {
                        b.grant_edge(from, cluster_admin, EdgeKind::Escalates, &ev, &grant_refs);
                    }
                    _ if is_admin => {}
                    Ability::Wildcard(scope @ Scope::Namespace(_))
                    | Ability::Escalate(scope @ Scope::Namespace(_))
                    | Ability::NamespaceAdmin(scope) => ns_admin(&mut b, scope, &ev, &grant_refs),
                    Ability::ReadSecrets(scope, names) => {
                        let mut targets: Vec<(String, String)> = Vec::new();
                        for ns in scoped_ns(scope) {
                            let known = secrets_by_ns
                                .get(ns.as_str())
                                .map(Vec::as_slice)
                                .unwrap_or(&[]);
                            match names {
                                Some(list) => targets.extend(
                                    list.iter()
                                        .filter(|n| known.contains(n))
                                        .map(|n| (ns.clone(), n.clone())),
                                ),
                                None => {
                                    targets.extend(known.iter().map(|n| (ns.clone(), n.clone())))
                                }
                            }
                        }
                        for (ns, n) in targets {
                            let t = b.secret(&ns, &n);
                            b.grant_edge(from, t, EdgeKind::ReadsSecret, &ev, &grant_refs);
                        }
                    }
                    Ability::CreatePods(scope) => {
                        for ns in scoped_ns(scope) {
                            for sa in sas_by_ns.get(&ns).into_iter().flatten() {
                                let t = b.identity(SubjectKey::ServiceAccount {
                                    namespace: ns.clone(),
                                    name: sa.clone(),
                                });
                                if t != from {
                                    b.grant_edge(from, t, EdgeKind::CreatesPodAs, &ev, &grant_refs);
                                }
                            }
                        }
                        if scoped_ns(scope).iter().any(|n| privileged_ok(n)) {
                            b.grant_edge(
                                from,
                                any_node,
                                EdgeKind::CreatesPodOnNode,
                                &ev,
                                &grant_refs,
                            );
                        }
                    }
                    Ability::ExecPods(scope) | Ability::PatchPods(scope) => {
                        for w in workloads.list.iter().filter(|w| scope.covers(&w.namespace)) {
                            b.grant_edge(
                                from,
                                workload_ix[w.id.index()],
                                EdgeKind::ExecsInto,
                                &ev,
                                &grant_refs,
                            );
                        }
                    }
                    Ability::CreateToken(scope, names) => {
                        for ns in scoped_ns(scope) {
                            for sa in sas_by_ns.get(&ns).into_iter().flatten() {
                                if names.as_ref().is_none_or(|l| l.contains(sa)) {
                                    let t = b.identity(SubjectKey::ServiceAccount {
                                        namespace: ns.clone(),
                                        name: sa.clone(),
                                    });
                                    if t != from {
                                        b.grant_edge(
                                            from,
                                            t,
                                            EdgeKind::MintsToken,
                                            &ev,
                                            &grant_refs,
                                        );
                                    }
                                }
                            }
                        }
                    }
                    Ability::Impersonate(res, scope, names) => match (*res, names) {
                        ("users" | "groups", None) => {
                            b.grant_edge(
                                from,
                                cluster_admin,
                                EdgeKind::Impersonates,
                                &ev,
                                &grant_refs,
                            );
                        }
                        ("users", Some(list)) => {
                            for u in list {
                                let t = b.identity(SubjectKey::User(u.clone()));
                                b.grant_edge(from, t, EdgeKind::Impersonates, &ev, &grant_refs);
                            }
                        }
                        ("groups", Some(list)) => {
                            for g in list {
                                let t = if g == "system:masters" {
                                    cluster_admin
                                } else {
                                    b.identity(SubjectKey::Group(g.clone()))
                                };
                                b.grant_edge(from, t, EdgeKind::Impersonates, &ev, &grant_refs);
                            }
                        }
                        (_, names) => {
                            for ns in scoped_ns(scope) {
                                for sa in sas_by_ns.get(&ns).into_iter().flatten() {
                                    if names.as_ref().is_none_or(|l| l.contains(sa)) {
                                        let t = b.identity(SubjectKey::ServiceAccount {
                                            namespace: ns.clone(),
                                            name: sa.clone(),
                                        });
                                        if t != from {
                                            b.grant_edge(
                                                from,
                                                t,
                                                EdgeKind::Impersonates,
                                                &ev,
                                                &grant_refs,
                                            );
                                        }
                                    }
                                }
                            }
                        }
                    },
                    Ability::NodeProxy => {
                        let node_ixs = b.node_vertices();
                        for n in node_ixs {
                            b.grant_edge(from, n, EdgeKind::ProxiesNode, &ev, &grant_refs);
                        }
                    }
                }
            }
        }

        // Sinks.
        let mut jewels: Vec<NodeIndex> = vec![cluster_admin];
        for ix in b.g.node_indices() {
            match b.g[ix] {
                Vertex::Secret(_) | Vertex::Node(_) => jewels.push(ix),
                Vertex::Workload(w)
                    if workloads.list[w.index()].has_marker(CROWN_JEWEL_LABEL, "true") =>
                {
                    jewels.push(ix)
                }
                _ => {}
            }
        }
        SecurityGraph {
            graph: b.g,
            internet,
            cluster_admin,
            endpoints: b.endpoints,
            identities: b.identities,
            secrets: b.secrets,
            nodes: b.nodes,
            workloads,
            net,
            jewels,
            workload_ix,
            class_ix,
            hub,
            routes,
            controller_classes: controllers,
            relations: None,
            warnings: b.warnings,
            grants: b.grants,
        }
    }

    /// The workload behind a vertex, if it is one.
    pub fn workload_at(&self, ix: NodeIndex) -> Option<&Workload> {
        match self.graph[ix] {
            Vertex::Workload(w) => self.workloads.list.get(w.index()),
            _ => None,
        }
    }

    /// A printable reference for a vertex.
    pub fn vertex_ref(&self, ix: NodeIndex) -> ObjRef {
        match self.graph[ix] {
            Vertex::Internet => ObjRef::new("Internet", "", "internet"),
            Vertex::Endpoint(e) => self.endpoints[e as usize].object.clone(),
            Vertex::Workload(w) => workload_ref(&self.workloads.list[w.index()]),
            Vertex::NetSrc(c) | Vertex::NetDst(c) => {
                let members: Vec<String> = self
                    .net
                    .class(c)
                    .members
                    .iter()
                    .map(|(w, _)| self.workloads.list[w.index()].display())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let mut name = members
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(",");
                if members.len() > 3 {
                    name.push_str(&format!(",+{}", members.len() - 3));
                }
                ObjRef::new(
                    if matches!(self.graph[ix], Vertex::NetSrc(_)) {
                        "PodsFrom"
                    } else {
                        "PodsTo"
                    },
                    "",
                    name,
                )
            }
            Vertex::NetHub => ObjRef::new("NetHub", "", "any-open-destination"),
            Vertex::Identity(i) => match &self.identities[i as usize] {
                SubjectKey::ServiceAccount { namespace, name } => {
                    ObjRef::new("ServiceAccount", namespace, name)
                }
                SubjectKey::User(u) => ObjRef::new("User", "", u),
                SubjectKey::Group(g) => ObjRef::new("Group", "", g),
            },
            Vertex::Secret(s) => {
                let s = &self.secrets[s as usize];
                ObjRef::new("Secret", &s.namespace, &s.name)
            }
            Vertex::Node(n) => ObjRef::new(
                "Node",
                "",
                self.nodes[n as usize]
                    .name
                    .clone()
                    .unwrap_or_else(|| "(any node)".into()),
            ),
            Vertex::ClusterAdmin => ObjRef::new("ClusterAdmin", "", "cluster-admin"),
            Vertex::Grant(i) => ObjRef::new("Permission", "", self.grants[i as usize].clone()),
        }
    }

    /// Whether a vertex is a sink.
    pub fn is_jewel(&self, ix: NodeIndex) -> bool {
        match self.graph[ix] {
            Vertex::Secret(_) | Vertex::Node(_) | Vertex::ClusterAdmin => true,
            Vertex::Workload(w) => {
                self.workloads.list[w.index()].has_marker(CROWN_JEWEL_LABEL, "true")
            }
            _ => false,
        }
    }
}
