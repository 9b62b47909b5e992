//! Service-mesh authorization over the same reachability classes: Istio (AuthorizationPolicy,
//! PeerAuthentication) and Linkerd (Server, ServerAuthorization, AuthorizationPolicy,
//! MeshTLSAuthentication, NetworkAuthentication, `config.linkerd.io/default-inbound-policy`).
//!
//! A mesh judges a connection at the destination's proxy, after the network let it through:
//! what reaches a meshed pod is what the network layers allow **and** what its mesh admits.
//! The mesh decides by the source's identity (its ServiceAccount and namespace, known only when
//! the source is meshed and talks mTLS), so the model gives every pod pseudo-labels the
//! policies' conditions are compiled against — `rampart:identity` (`<namespace>/<sa>`),
//! `rampart:mesh` (`istio`, `linkerd`) and `rampart:linkerd-default` — keys no real label can
//! have (a colon is not allowed). A condition becomes an atom like any selector, so pods every
//! mesh rule treats alike stay one class, and the admin layer's source groups split by them.
//!
//! What cannot be known is over-approximated for allow and under for deny (so what is reported
//! reachable is never less than what is): L7 conditions (methods, paths, hosts, JWT principals,
//! most `when` keys) make an ALLOW rule match and a DENY rule not; source addresses likewise;
//! an ingress controller rampart does not know the identity of passes identity conditions of
//! ALLOW rules and is never denied by identity; CUSTOM policies deny nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rampart_model::de::IntOrString;
use rampart_model::objects::{
    IstioAuthorizationPolicy, IstioRule, IstioSource, LinkerdClient, LinkerdNetwork, MeshPolicy,
    PeerAuthentication,
};
use rampart_model::selector::{Operator, Requirement};
use rampart_model::{LabelSelector, Labels, Snapshot, Workload, Workloads};

use super::{AtomOwner, NetClass, PeerSets, Placement};
use crate::ipset::IpSet;
use crate::ports::{PortSet, Protocol};

/// Pseudo-label: the pod's identity, `<namespace>/<serviceaccount>`.
pub const IDENTITY: &str = "rampart:identity";
/// Pseudo-label: the mesh whose proxy the pod runs (`istio`, `linkerd`).
pub const MESH: &str = "rampart:mesh";
/// Pseudo-label: Linkerd's default inbound policy of the pod (its annotation, else its
/// namespace's).
pub const LINKERD_DEFAULT: &str = "rampart:linkerd-default";
/// The `rampart:mesh` value of the ingress controller pseudo-pod: meshed, identity unknown.
pub const UNKNOWN: &str = "unknown";
/// Istio's root namespace: its policies apply to the whole mesh.
pub const ISTIO_ROOT: &str = "istio-system";
/// Linkerd's default inbound policy when neither the pod nor its namespace sets one (the
/// install default).
pub const LINKERD_CLUSTER_DEFAULT: &str = "all-unauthenticated";

const LINKERD_DEFAULT_ANNOTATION: &str = "config.linkerd.io/default-inbound-policy";

/// Where a source comes from, as a mesh sees it.
#[derive(Clone, Copy)]
pub(super) enum Src<'a> {
    /// Pods of a class.
    Pods(&'a NetClass),
    /// An address outside the cluster: plaintext, no identity.
    External,
    /// The ingress controller pseudo-pod: an identity rampart does not know.
    Unknown,
}

/// A decision's reason, for evidence: kind, namespace, name, field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MeshRef {
    /// Kind.
    pub kind: &'static str,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// What decided, within it.
    pub field: String,
}

impl MeshRef {
    fn new(kind: &'static str, namespace: &str, name: &str, field: impl Into<String>) -> MeshRef {
        MeshRef {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
            field: field.into(),
        }
    }
}

/// What a namespace says of the mesh.
#[derive(Debug, Clone, Default, PartialEq)]
struct NsMesh {
    istio_injection: bool,
    istio_ambient: bool,
    linkerd_inject: bool,
    linkerd_default: Option<String>,
}

/// An Istio rule's source entry, compiled.
#[derive(Debug, Clone, PartialEq, Default)]
struct ISource {
    principals: Option<u32>,
    not_principals: Option<u32>,
    namespaces: Option<u32>,
    not_namespaces: Option<u32>,
    /// Conditions on what rampart does not know (JWT principals, addresses).
    unknown: bool,
}

/// An Istio rule, compiled.
#[derive(Debug, Clone, PartialEq)]
struct IRule {
    /// `None`: every source.
    from: Option<Vec<ISource>>,
    /// Ports it names (`None`: every port) and excludes.
    ports: Option<BTreeSet<u16>>,
    not_ports: BTreeSet<u16>,
    /// `when` conditions on the source, as source entries all of which must match.
    when: Vec<ISource>,
    /// Conditions at L7 or on what rampart does not know.
    l7: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IAction {
    Allow,
    Deny,
    /// CUSTOM (an external authorizer) and AUDIT: decide nothing rampart can see.
    Other,
}

/// An Istio AuthorizationPolicy, compiled.
#[derive(Debug, Clone, PartialEq)]
struct IPolicy {
    namespace: String,
    name: String,
    action: IAction,
    subject: u32,
    rules: Vec<IRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mtls {
    Disable,
    Permissive,
    Strict,
}

/// A PeerAuthentication, compiled.
#[derive(Debug, Clone, PartialEq)]
struct PeerAuthn {
    namespace: String,
    name: String,
    /// 0 mesh-wide, 1 namespace-wide, 2 workload.
    level: u8,
    subject: u32,
    mode: Option<Mtls>,
    ports: BTreeMap<u16, Mtls>,
}

/// A Linkerd client condition: all parts must hold.
#[derive(Debug, Clone, PartialEq, Default)]
struct LClient {
    /// The source must be Linkerd-meshed with one of these identities (`None`: any meshed).
    identity: Option<Option<u32>>,
    /// The source's address must be in these networks.
    networks: Option<IpSet>,
    /// Authorizes an HTTPRoute (a part of the traffic: L7).
    l7: bool,
}

/// An authorization of a Server.
#[derive(Debug, Clone, PartialEq)]
struct LAuthz {
    why: MeshRef,
    clients: Vec<LClient>,
}

#[derive(Debug, Clone, PartialEq)]
enum LPort {
    Number(u16),
    Name(String),
}

/// A Linkerd Server, compiled.
#[derive(Debug, Clone, PartialEq)]
struct LServer {
    namespace: String,
    name: String,
    subject: u32,
    port: LPort,
    access: String,
    authz: Vec<LAuthz>,
}

/// The meshes of a cluster, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshModel {
    namespaces: HashMap<String, NsMesh>,
    istio: Vec<IPolicy>,
    peer_auth: Vec<PeerAuthn>,
    servers: Vec<LServer>,
    /// Per Linkerd default policy some pod has, its atom.
    defaults: Vec<(String, u32)>,
    istio_member: u32,
    linkerd_member: u32,
    /// The ingress controller pseudo-pod's: an identity rampart does not know.
    unknown: u32,
    /// Atoms of destinations a mesh judges.
    judging: BTreeSet<u32>,
}

/// Whether the snapshot has anything a mesh judges by: mesh objects, or a Linkerd default
/// policy other than the install default on some namespace or pod.
pub(super) fn active(snapshot: &Snapshot, workloads: &Workloads) -> bool {
    snapshot.mesh_policies().next().is_some()
        || snapshot.namespaces().any(|(_, n)| {
            n.metadata
                .annotations
                .get(LINKERD_DEFAULT_ANNOTATION)
                .is_some_and(|v| v != LINKERD_CLUSTER_DEFAULT)
        })
        || workloads.list.iter().any(|w| {
            w.template
                .metadata
                .annotations
                .get(LINKERD_DEFAULT_ANNOTATION)
                .is_some_and(|v| v != LINKERD_CLUSTER_DEFAULT)
        })
}

fn ns_mesh(snapshot: &Snapshot) -> HashMap<String, NsMesh> {
    let mut out = HashMap::new();
    for (_, n) in snapshot.namespaces() {
        let (l, a) = (&n.metadata.labels, &n.metadata.annotations);
        out.insert(
            n.metadata.name.clone(),
            NsMesh {
                istio_injection: l.get("istio-injection").is_some_and(|v| v == "enabled")
                    || (l.contains_key("istio.io/rev")
                        && l.get("istio-injection").is_none_or(|v| v != "disabled")),
                istio_ambient: l
                    .get("istio.io/dataplane-mode")
                    .is_some_and(|v| v == "ambient"),
                linkerd_inject: a
                    .get("linkerd.io/inject")
                    .is_some_and(|v| v == "enabled" || v == "ingress"),
                linkerd_default: a.get(LINKERD_DEFAULT_ANNOTATION).cloned(),
            },
        );
    }
    out
}

/// The mesh a workload's pods run in, if any.
fn mesh_of(w: &Workload, ns: Option<&NsMesh>) -> Option<&'static str> {
    let spec = &w.template.spec;
    if spec.host_network {
        return None;
    }
    let meta = &w.template.metadata;
    let named = |n: &str| spec.all_containers().any(|c| c.name == n);
    let flag = |key: &str| {
        meta.labels
            .get(key)
            .or_else(|| meta.annotations.get(key))
            .map(String::as_str)
    };
    let istio_opt = flag("sidecar.istio.io/inject");
    let ambient_opt_out = meta
        .labels
        .get("istio.io/dataplane-mode")
        .is_some_and(|v| v == "none");
    if named("istio-proxy")
        || istio_opt == Some("true")
        || ns.is_some_and(|n| n.istio_injection) && istio_opt != Some("false")
        || ns.is_some_and(|n| n.istio_ambient) && !ambient_opt_out
        || meta
            .labels
            .get("istio.io/dataplane-mode")
            .is_some_and(|v| v == "ambient")
    {
        return Some("istio");
    }
    let linkerd = meta
        .annotations
        .get("linkerd.io/inject")
        .map(String::as_str);
    if named("linkerd-proxy")
        || matches!(linkerd, Some("enabled" | "ingress"))
        || ns.is_some_and(|n| n.linkerd_inject) && linkerd != Some("disabled")
    {
        return Some("linkerd");
    }
    None
}

impl MeshModel {
    /// The pseudo-labels of a workload's pods.
    pub(super) fn pseudo_labels(&self, w: &Workload) -> Vec<(&'static str, String)> {
        let ns = self.namespaces.get(&w.namespace);
        let mut out = vec![(
            IDENTITY,
            format!("{}/{}", w.namespace, w.template.spec.service_account()),
        )];
        if let Some(m) = mesh_of(w, ns) {
            out.push((MESH, m.to_string()));
            if m == "linkerd" {
                let d = w
                    .template
                    .metadata
                    .annotations
                    .get(LINKERD_DEFAULT_ANNOTATION)
                    .cloned()
                    .or_else(|| ns.and_then(|n| n.linkerd_default.clone()));
                if let Some(d) = d {
                    out.push((LINKERD_DEFAULT, d));
                }
            }
        }
        out
    }

    /// The pseudo-labels of the ingress controller pseudo-pod (its own class: a mesh sees it
    /// unlike any pod).
    pub(super) fn controller_labels() -> Labels {
        [(MESH.to_string(), UNKNOWN.to_string())]
            .into_iter()
            .collect()
    }

    /// How a mesh sees the pods of `c`.
    pub(super) fn src<'c>(&self, c: &'c NetClass) -> Src<'c> {
        if c.has(self.unknown) {
            Src::Unknown
        } else {
            Src::Pods(c)
        }
    }

    /// Whether the pods of `c` run Istio's proxy.
    pub fn is_istio(&self, c: &NetClass) -> bool {
        c.has(self.istio_member)
    }

    /// Whether atom `a` is of a destination a mesh judges.
    pub(super) fn judges(&self, a: u32) -> bool {
        self.judging.contains(&a)
    }
}

/// The selector `labels` plus `extra` requirements.
fn with(labels: &Labels, extra: &[(&str, &str)]) -> LabelSelector {
    let mut s = LabelSelector {
        match_labels: labels.clone(),
        match_expressions: Vec::new(),
    };
    for (k, v) in extra {
        s.match_labels.insert((*k).to_string(), (*v).to_string());
    }
    s
}

/// Whether `value` matches an Istio pattern: exact, `*`, `prefix*` or `*suffix`.
fn istio_match(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return !value.is_empty();
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return value.starts_with(prefix);
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return value.ends_with(suffix);
    }
    pattern == value
}

/// Compiles the meshes. `identities` are every workload's `<ns>/<sa>` and mesh; atoms are
/// numbered from `atom_owner`'s length and placed through `placed`.
pub(super) struct Compiler<'a, 'b> {
    pub namespaces: &'a [(String, Labels)],
    pub placed: &'b mut Vec<Placement<'a>>,
    pub atom_owner: &'b mut Vec<AtomOwner>,
    pub sets: &'b mut PeerSets,
    pub warnings: &'b mut Vec<String>,
}

/// The selectors the mesh's atoms need, and what each stands for; built before atoms are
/// placed (placements borrow the selectors).
pub(super) struct Plan {
    /// Per atom to place: its selector index and the namespaces it is placed in (`None`: all).
    atoms: Vec<(usize, Option<Vec<String>>, bool)>,
    pub selectors: Vec<LabelSelector>,
    model: MeshModel,
    warnings: Vec<String>,
}

struct Planner<'s> {
    atoms: Vec<(usize, Option<Vec<String>>, bool)>,
    selectors: Vec<LabelSelector>,
    interned: HashMap<(LabelSelector, Option<Vec<String>>), u32>,
    base: u32,
    identities: &'s [(String, String, Option<&'static str>)],
    warnings: Vec<String>,
}

impl Planner<'_> {
    /// The atom (numbered from `base`) of `sel` placed in `at` (`None`: everywhere); `judges`
    /// marks a destination a mesh judges.
    fn atom(&mut self, sel: LabelSelector, at: Option<Vec<String>>, judges: bool) -> u32 {
        let key = (sel.clone(), at.clone());
        if let Some(a) = self.interned.get(&key) {
            if judges {
                let i = (*a - self.base) as usize;
                self.atoms[i].2 = true;
            }
            return *a;
        }
        let a = self.base + u32::try_from(self.atoms.len()).unwrap_or(u32::MAX);
        self.selectors.push(sel);
        self.atoms.push((self.selectors.len() - 1, at, judges));
        self.interned.insert(key, a);
        a
    }

    /// The atom of the pods of `mesh` whose identity `matches`.
    fn identity(&mut self, mesh: &'static str, matches: impl Fn(&str, &str) -> bool) -> u32 {
        let ids: Vec<String> = self
            .identities
            .iter()
            .filter(|(ns, sa, m)| *m == Some(mesh) && matches(ns, sa))
            .map(|(ns, sa, _)| format!("{ns}/{sa}"))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let nss: Vec<String> = ids
            .iter()
            .filter_map(|i| i.split_once('/').map(|(n, _)| n.to_string()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut sel = with(&Labels::new(), &[(MESH, mesh)]);
        sel.match_expressions.push(Requirement {
            key: IDENTITY.into(),
            operator: Operator::In,
            values: if ids.is_empty() {
                vec!["-".into()]
            } else {
                ids
            },
        });
        self.atom(sel, Some(nss), false)
    }

    /// The namespaces a policy of `ns` applies in: its own, or every one from the root.
    fn scope(&self, ns: &str, root: bool) -> Option<Vec<String>> {
        if root {
            None
        } else {
            Some(vec![ns.to_string()])
        }
    }

    fn istio_source(&mut self, s: &IstioSource) -> ISource {
        let principal = |pats: &[String]| {
            let pats = pats.to_vec();
            move |ns: &str, sa: &str| {
                let id = format!("cluster.local/ns/{ns}/sa/{sa}");
                pats.iter().any(|p| istio_match(p, &id))
            }
        };
        let namespace = |pats: &[String]| {
            let pats = pats.to_vec();
            move |ns: &str, _: &str| pats.iter().any(|p| istio_match(p, ns))
        };
        ISource {
            principals: s
                .principals
                .as_deref()
                .map(|p| self.identity("istio", principal(p))),
            not_principals: s
                .not_principals
                .as_deref()
                .map(|p| self.identity("istio", principal(p))),
            namespaces: s
                .namespaces
                .as_deref()
                .map(|p| self.identity("istio", namespace(p))),
            not_namespaces: s
                .not_namespaces
                .as_deref()
                .map(|p| self.identity("istio", namespace(p))),
            unknown: s.request_principals.is_some()
                || s.not_request_principals.is_some()
                || s.ip_blocks.is_some()
                || s.not_ip_blocks.is_some()
                || s.remote_ip_blocks.is_some()
                || s.not_remote_ip_blocks.is_some(),
        }
    }

    fn istio_rule(&mut self, r: &IstioRule, at: &str) -> IRule {
        let from = (!r.from.is_empty()).then(|| {
            r.from
                .iter()
                .map(|f| self.istio_source(&f.source))
                .collect::<Vec<_>>()
        });
        let mut l7 = false;
        let port_list = |v: &[String], warnings: &mut Vec<String>| -> BTreeSet<u16> {
            v.iter()
                .filter_map(|p| {
                    let n = p.parse::<u16>().ok();
                    if n.is_none() {
                        warnings.push(format!("{at}: port {p:?} is not a number; ignored"));
                    }
                    n
                })
                .collect()
        };
        // Several operations OR: a port admitted by any. Ports of operations with L7 fields
        // count as admitted (ALLOW) — the rule is marked L7.
        let mut ports: Option<BTreeSet<u16>> = None;
        let mut not_ports = BTreeSet::new();
        if !r.to.is_empty() {
            let mut any_all = false;
            let mut union = BTreeSet::new();
            for t in &r.to {
                let o = &t.operation;
                l7 |= o.hosts.is_some()
                    || o.not_hosts.is_some()
                    || o.methods.is_some()
                    || o.not_methods.is_some()
                    || o.paths.is_some()
                    || o.not_paths.is_some();
                match &o.ports {
                    Some(p) => union.extend(port_list(p, &mut self.warnings)),
                    None => any_all = true,
                }
                if let Some(p) = &o.not_ports {
                    if r.to.len() > 1 {
                        self.warnings.push(format!(
                            "{at}: notPorts in one of several operations is taken for all of them"
                        ));
                    }
                    not_ports.extend(port_list(p, &mut self.warnings));
                }
            }
            if !any_all {
                ports = Some(union);
            }
        }
        let mut when = Vec::new();
        for c in &r.when {
            let values = c.values.clone().unwrap_or_default();
            let not_values = c.not_values.clone().unwrap_or_default();
            match c.key.as_str() {
                "source.namespace" => when.push(ISource {
                    namespaces: c.values.as_ref().map(|_| {
                        let pats = values.clone();
                        self.identity("istio", move |ns, _| {
                            pats.iter().any(|p| istio_match(p, ns))
                        })
                    }),
                    not_namespaces: c.not_values.as_ref().map(|_| {
                        let pats = not_values.clone();
                        self.identity("istio", move |ns, _| {
                            pats.iter().any(|p| istio_match(p, ns))
                        })
                    }),
                    ..ISource::default()
                }),
                "source.principal" => when.push(ISource {
                    principals: c.values.as_ref().map(|_| {
                        let pats = values.clone();
                        self.identity("istio", move |ns, sa| {
                            let id = format!("cluster.local/ns/{ns}/sa/{sa}");
                            pats.iter().any(|p| istio_match(p, &id))
                        })
                    }),
                    not_principals: c.not_values.as_ref().map(|_| {
                        let pats = not_values.clone();
                        self.identity("istio", move |ns, sa| {
                            let id = format!("cluster.local/ns/{ns}/sa/{sa}");
                            pats.iter().any(|p| istio_match(p, &id))
                        })
                    }),
                    ..ISource::default()
                }),
                "destination.port" => {
                    let v = port_list(&values, &mut self.warnings);
                    ports = Some(match ports.take() {
                        Some(p) => p.intersection(&v).copied().collect(),
                        None => v,
                    });
                    not_ports.extend(port_list(&not_values, &mut self.warnings));
                }
                "source.ip" | "remote.ip" => when.push(ISource {
                    unknown: true,
                    ..ISource::default()
                }),
                _ => l7 = true,
            }
        }
        IRule {
            from,
            ports,
            not_ports,
            when,
            l7,
        }
    }
}

/// Plans the mesh model of a snapshot (pure: no atom is placed yet); `base` is the first atom
/// number it may use.
pub(super) fn plan(snapshot: &Snapshot, workloads: &Workloads, base: u32) -> Plan {
    let namespaces = ns_mesh(snapshot);
    let identities: Vec<(String, String, Option<&'static str>)> = workloads
        .list
        .iter()
        .map(|w| {
            (
                w.namespace.clone(),
                w.template.spec.service_account().to_string(),
                mesh_of(w, namespaces.get(&w.namespace)),
            )
        })
        .collect();
    let mut p = Planner {
        atoms: Vec::new(),
        selectors: Vec::new(),
        interned: HashMap::new(),
        base,
        identities: &identities,
        warnings: Vec::new(),
    };
    let istio_member = p.atom(with(&Labels::new(), &[(MESH, "istio")]), None, false);
    let linkerd_member = p.atom(with(&Labels::new(), &[(MESH, "linkerd")]), None, false);
    let unknown = p.atom(
        with(&Labels::new(), &[(MESH, UNKNOWN)]),
        Some(vec![super::INGRESS_CONTROLLER_NS.to_string()]),
        false,
    );
    let mut istio = Vec::new();
    let mut peer_auth = Vec::new();
    let mut servers = Vec::new();
    let mut authz: Vec<(&MeshPolicy, &str)> = Vec::new();
    let mut mesh_tls: HashMap<(String, String), Option<u32>> = HashMap::new();
    let mut networks: HashMap<(String, String), IpSet> = HashMap::new();
    let mut policies: Vec<&MeshPolicy> = snapshot.mesh_policies().map(|(_, m)| m).collect();
    policies.sort_by(|a, b| {
        (&a.meta().namespace, &a.meta().name).cmp(&(&b.meta().namespace, &b.meta().name))
    });
    for m in &policies {
        let (ns, name) = (m.meta().namespace.clone(), m.meta().name.clone());
        match m {
            MeshPolicy::IstioAuthorization(a) => {
                istio.extend(istio_policy(&mut p, a, &ns, &name));
            }
            MeshPolicy::PeerAuthentication(pa) => {
                peer_auth.extend(peer_authentication(&mut p, pa, &ns, &name));
            }
            MeshPolicy::Server(s) => {
                let at = format!("Server {ns}/{name}");
                if s.spec.external_workload_selector.is_some() && s.spec.pod_selector.is_none() {
                    p.warnings.push(format!(
                        "{at}: external workloads are not modelled; ignored"
                    ));
                    continue;
                }
                let sel = s.spec.pod_selector.clone().unwrap_or_default();
                if let Err(e) = sel.validate() {
                    p.warnings.push(format!("{at}: podSelector: {e}; ignored"));
                    continue;
                }
                let port = match &s.spec.port {
                    Some(IntOrString::Int(n)) => match u16::try_from(*n) {
                        Ok(n) if n > 0 => LPort::Number(n),
                        _ => {
                            p.warnings.push(format!("{at}: port {n} invalid; ignored"));
                            continue;
                        }
                    },
                    Some(IntOrString::Str(s)) => match s.parse::<u16>() {
                        Ok(n) => LPort::Number(n),
                        Err(_) => LPort::Name(s.clone()),
                    },
                    None => {
                        p.warnings.push(format!("{at}: no port; ignored"));
                        continue;
                    }
                };
                let mut sel = sel;
                sel.match_labels.insert(MESH.into(), "linkerd".into());
                let subject = p.atom(sel, Some(vec![ns.clone()]), true);
                servers.push(LServer {
                    namespace: ns,
                    name,
                    subject,
                    port,
                    access: s
                        .spec
                        .access_policy
                        .clone()
                        .unwrap_or_else(|| "deny".into()),
                    authz: Vec::new(),
                });
            }
            MeshPolicy::ServerAuthorization(_) | MeshPolicy::LinkerdAuthorization(_) => {
                authz.push((m, ""));
            }
            MeshPolicy::MeshTlsAuthentication(a) => {
                let mut pats: Vec<(String, String)> = Vec::new();
                let mut any = false;
                for id in &a.spec.identities {
                    if id == "*" {
                        any = true;
                    }
                }
                let ids = a.spec.identities.clone();
                for r in &a.spec.identity_refs {
                    let rns = r.namespace.clone().unwrap_or_else(|| ns.clone());
                    match r.kind.as_str() {
                        "ServiceAccount" => pats.push((rns, r.name.clone())),
                        "Namespace" => pats.push((r.name.clone(), "*".into())),
                        other => p.warnings.push(format!(
                            "MeshTLSAuthentication {ns}/{name}: identityRefs kind {other:?} not modelled; ignored"
                        )),
                    }
                }
                let atom = if any {
                    None
                } else {
                    Some(p.identity("linkerd", move |n, sa| {
                        let id = format!("{sa}.{n}.serviceaccount.identity.linkerd.");
                        ids.iter().any(|i| linkerd_match(i, &id))
                            || pats
                                .iter()
                                .any(|(pn, ps)| pn == n && (ps == "*" || ps == sa))
                    }))
                };
                mesh_tls.insert((ns, name), atom);
            }
            MeshPolicy::NetworkAuthentication(n) => {
                networks.insert((ns, name), nets(&n.spec.networks, &mut p.warnings));
            }
        }
    }
    // Authorizations, now that every Server and authentication is known.
    for (m, _) in authz {
        let (ns, name) = (m.meta().namespace.clone(), m.meta().name.clone());
        match m {
            MeshPolicy::ServerAuthorization(sa) => {
                let why = MeshRef::new("ServerAuthorization", &ns, &name, "spec.client");
                let client = linkerd_client(&mut p, &sa.spec.client, &ns);
                let targets: Vec<usize> = servers
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        s.namespace == ns
                            && (sa.spec.server.name.as_deref() == Some(s.name.as_str())
                                || sa.spec.server.selector.as_ref().is_some_and(|sel| {
                                    server_labels(snapshot, &s.namespace, &s.name)
                                        .is_some_and(|l| sel.matches(&l))
                                }))
                    })
                    .map(|(i, _)| i)
                    .collect();
                for i in targets {
                    servers[i].authz.push(LAuthz {
                        why: why.clone(),
                        clients: client.clone(),
                    });
                }
            }
            MeshPolicy::LinkerdAuthorization(ap) => {
                let why = MeshRef::new(
                    "AuthorizationPolicy.policy.linkerd.io",
                    &ns,
                    &name,
                    "spec.requiredAuthenticationRefs",
                );
                let mut c = LClient::default();
                let mut ok = true;
                for r in &ap.spec.required_authentication_refs {
                    let rns = r.namespace.clone().unwrap_or_else(|| ns.clone());
                    match r.kind.as_str() {
                        "MeshTLSAuthentication" => match mesh_tls.get(&(rns, r.name.clone())) {
                            Some(a) => c.identity = Some(and_identity(&mut p, c.identity, *a)),
                            None => ok = false,
                        },
                        "NetworkAuthentication" => match networks.get(&(rns, r.name.clone())) {
                            Some(n) => {
                                c.networks =
                                    Some(c.networks.take().map_or(n.clone(), |x| x.intersect(n)))
                            }
                            None => ok = false,
                        },
                        "ServiceAccount" => {
                            let (n, sa) = (rns, r.name.clone());
                            let a = p.identity("linkerd", move |x, y| x == n && y == sa);
                            c.identity = Some(and_identity(&mut p, c.identity, Some(a)));
                        }
                        other => {
                            p.warnings.push(format!(
                                "AuthorizationPolicy.policy.linkerd.io {ns}/{name}: authentication kind {other:?} not modelled; taken as passed"
                            ));
                        }
                    }
                }
                if !ok {
                    p.warnings.push(format!(
                        "AuthorizationPolicy.policy.linkerd.io {ns}/{name}: an authentication it requires does not exist; it authorizes nobody"
                    ));
                    continue;
                }
                let target = &ap.spec.target_ref;
                let targets: Vec<usize> = match target.kind.as_str() {
                    "Server" => servers
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.namespace == ns && s.name == target.name)
                        .map(|(i, _)| i)
                        .collect(),
                    "Namespace" => servers
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.namespace == ns)
                        .map(|(i, _)| i)
                        .collect(),
                    "HTTPRoute" | "GRPCRoute" => {
                        // A route is a part of a Server's traffic: taken as authorizing the
                        // Server's port for these clients, at L7.
                        c.l7 = true;
                        let parents = route_parents(snapshot, &ns, &target.name);
                        servers
                            .iter()
                            .enumerate()
                            .filter(|(_, s)| s.namespace == ns && parents.contains(&s.name))
                            .map(|(i, _)| i)
                            .collect()
                    }
                    other => {
                        p.warnings.push(format!(
                            "AuthorizationPolicy.policy.linkerd.io {ns}/{name}: targetRef kind {other:?} not modelled; ignored"
                        ));
                        Vec::new()
                    }
                };
                for i in targets {
                    servers[i].authz.push(LAuthz {
                        why: why.clone(),
                        clients: vec![c.clone()],
                    });
                }
            }
            _ => {}
        }
    }
    // Linkerd default policies pods have (or their namespaces), as atoms.
    let mut values: BTreeSet<String> = BTreeSet::new();
    for n in namespaces.values() {
        values.extend(n.linkerd_default.clone());
    }
    for w in &workloads.list {
        values.extend(
            w.template
                .metadata
                .annotations
                .get(LINKERD_DEFAULT_ANNOTATION)
                .cloned(),
        );
    }
    let mut defaults = Vec::new();
    for v in values {
        let judges = !matches!(v.as_str(), "all-unauthenticated" | "audit");
        let a = p.atom(
            with(&Labels::new(), &[(MESH, "linkerd"), (LINKERD_DEFAULT, &v)]),
            None,
            judges,
        );
        defaults.push((v, a));
    }
    let judging: BTreeSet<u32> = p
        .atoms
        .iter()
        .enumerate()
        .filter(|(_, a)| a.2)
        .map(|(i, _)| base + i as u32)
        .collect();
    Plan {
        atoms: p.atoms,
        selectors: p.selectors,
        model: MeshModel {
            namespaces,
            istio,
            peer_auth,
            servers,
            defaults,
            istio_member,
            linkerd_member,
            unknown,
            judging,
        },
        warnings: p.warnings,
    }
}

/// Two identity conditions, both required.
fn and_identity(p: &mut Planner<'_>, a: Option<Option<u32>>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (None, b) | (Some(None), b) => b,
        (Some(Some(a)), None) => Some(a),
        (Some(Some(a)), Some(b)) => {
            // The identities of both: intersect the selectors' value lists.
            let (sa, sb) = (
                p.selectors[(a - p.base) as usize].clone(),
                p.selectors[(b - p.base) as usize].clone(),
            );
            let ids = |s: &LabelSelector| -> BTreeSet<String> {
                s.match_expressions
                    .iter()
                    .find(|r| r.key == IDENTITY)
                    .map(|r| r.values.iter().cloned().collect())
                    .unwrap_or_default()
            };
            let both: BTreeSet<String> = ids(&sa).intersection(&ids(&sb)).cloned().collect();
            Some(p.identity("linkerd", move |n, s| both.contains(&format!("{n}/{s}"))))
        }
    }
}

/// Whether a Linkerd identity pattern (`*`, `*.ns.serviceaccount.identity.linkerd.<domain>`)
/// matches `id` (`<sa>.<ns>.serviceaccount.identity.linkerd.`, domain left off).
fn linkerd_match(pattern: &str, id: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    // Drop the trust domain after `linkerd.`.
    let p = match pattern.find(".identity.linkerd.") {
        Some(i) => &pattern[..i + ".identity.linkerd.".len()],
        None => pattern,
    };
    match p.strip_prefix('*') {
        Some(suffix) => id.ends_with(suffix),
        None => p == id,
    }
}

fn nets(list: &[LinkerdNetwork], warnings: &mut Vec<String>) -> IpSet {
    let mut out = IpSet::empty();
    for n in list {
        match IpSet::from_block(&n.cidr, &n.except) {
            Ok(s) => out = out.union(&s),
            Err(e) => warnings.push(format!("{e}; network ignored")),
        }
    }
    out
}

fn linkerd_client(p: &mut Planner<'_>, c: &LinkerdClient, ns: &str) -> Vec<LClient> {
    let networks = c.networks.as_ref().map(|n| nets(n, &mut p.warnings));
    let mut out = Vec::new();
    if c.unauthenticated {
        out.push(LClient {
            identity: None,
            networks: networks.clone(),
            l7: false,
        });
    }
    if let Some(m) = &c.mesh_tls {
        let identity = if m.unauthenticated_tls || m.identities.iter().any(|i| i == "*") {
            Some(None)
        } else {
            let ids = m.identities.clone();
            let sas: Vec<(String, String)> = m
                .service_accounts
                .iter()
                .map(|s| {
                    (
                        s.namespace.clone().unwrap_or_else(|| ns.to_string()),
                        s.name.clone(),
                    )
                })
                .collect();
            Some(Some(p.identity("linkerd", move |n, sa| {
                let id = format!("{sa}.{n}.serviceaccount.identity.linkerd.");
                ids.iter().any(|i| linkerd_match(i, &id))
                    || sas.iter().any(|(a, b)| a == n && b == sa)
            })))
        };
        out.push(LClient {
            identity,
            networks,
            l7: false,
        });
    }
    out
}

/// Labels of a Server object (what a ServerAuthorization's `server.selector` matches).
fn server_labels(snapshot: &Snapshot, ns: &str, name: &str) -> Option<Labels> {
    snapshot
        .mesh_policies()
        .find(|(_, m)| {
            matches!(m, MeshPolicy::Server(_)) && m.meta().namespace == ns && m.meta().name == name
        })
        .map(|(_, m)| m.meta().labels.clone())
}

/// HTTPRoutes are not read: a route's parent Servers are unknown, so a policy targeting one
/// is taken to authorize every Server of its namespace.
fn route_parents(snapshot: &Snapshot, ns: &str, _route: &str) -> BTreeSet<String> {
    snapshot
        .mesh_policies()
        .filter(|(_, m)| matches!(m, MeshPolicy::Server(_)) && m.meta().namespace == ns)
        .map(|(_, m)| m.meta().name.clone())
        .collect()
}

fn istio_policy(
    p: &mut Planner<'_>,
    a: &IstioAuthorizationPolicy,
    ns: &str,
    name: &str,
) -> Option<IPolicy> {
    let at = format!("AuthorizationPolicy {ns}/{name}");
    if a.metadata
        .annotations
        .get("istio.io/dry-run")
        .is_some_and(|v| v == "true")
    {
        // Evaluated and logged, never enforced.
        return None;
    }
    if a.spec.target_ref.is_some() || a.spec.target_refs.is_some() {
        p.warnings.push(format!(
            "{at}: targetRef (gateways, waypoints) is not modelled; policy ignored"
        ));
        return None;
    }
    let action = match a.spec.action.as_deref().unwrap_or("ALLOW") {
        "ALLOW" => IAction::Allow,
        "DENY" => IAction::Deny,
        "CUSTOM" => {
            p.warnings.push(format!(
                "{at}: CUSTOM (an external authorizer) is not modelled; it is taken to deny nothing"
            ));
            IAction::Other
        }
        "AUDIT" => IAction::Other,
        other => {
            p.warnings
                .push(format!("{at}: unknown action {other:?}; policy ignored"));
            return None;
        }
    };
    let root = ns == ISTIO_ROOT;
    let labels = a
        .spec
        .selector
        .as_ref()
        .map(|s| s.match_labels.clone())
        .unwrap_or_default();
    let scope = p.scope(ns, root);
    let subject = p.atom(
        with(&labels, &[(MESH, "istio")]),
        scope,
        action != IAction::Other,
    );
    let rules = a
        .spec
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| p.istio_rule(r, &format!("{at} spec.rules[{i}]")))
        .collect();
    Some(IPolicy {
        namespace: ns.to_string(),
        name: name.to_string(),
        action,
        subject,
        rules,
    })
}

fn mtls(m: Option<&str>) -> Option<Mtls> {
    match m {
        Some("STRICT") => Some(Mtls::Strict),
        Some("PERMISSIVE") => Some(Mtls::Permissive),
        Some("DISABLE") => Some(Mtls::Disable),
        _ => None,
    }
}

fn peer_authentication(
    p: &mut Planner<'_>,
    pa: &PeerAuthentication,
    ns: &str,
    name: &str,
) -> Option<PeerAuthn> {
    let root = ns == ISTIO_ROOT;
    let selector = pa.spec.selector.as_ref().map(|s| s.match_labels.clone());
    let level = match (&selector, root) {
        (Some(_), _) => 2,
        (None, true) => 0,
        (None, false) => 1,
    };
    let mode = mtls(pa.spec.mtls.as_ref().and_then(|m| m.mode.as_deref()));
    let mut ports = BTreeMap::new();
    for (port, m) in &pa.spec.port_level_mtls {
        match (port.parse::<u16>(), mtls(m.mode.as_deref())) {
            (Ok(n), Some(m)) if level == 2 => {
                ports.insert(n, m);
            }
            (Ok(_), Some(_)) => p.warnings.push(format!(
                "PeerAuthentication {ns}/{name}: portLevelMtls needs a selector; ignored"
            )),
            _ => {}
        }
    }
    let judges = mode == Some(Mtls::Strict) || ports.values().any(|m| *m == Mtls::Strict);
    let scope = p.scope(ns, root && selector.is_none());
    let subject = p.atom(
        with(&selector.unwrap_or_default(), &[(MESH, "istio")]),
        scope,
        judges,
    );
    Some(PeerAuthn {
        namespace: ns.to_string(),
        name: name.to_string(),
        level,
        subject,
        mode,
        ports,
    })
}

impl Plan {
    /// The plan with its atoms numbered from `base` (planned from 0).
    pub(super) fn rebase(mut self, base: u32) -> Plan {
        let shift = |a: &mut u32| *a += base;
        let m = &mut self.model;
        shift(&mut m.istio_member);
        shift(&mut m.linkerd_member);
        shift(&mut m.unknown);
        for p in &mut m.istio {
            shift(&mut p.subject);
            for r in &mut p.rules {
                for s in r.from.iter_mut().flatten().chain(r.when.iter_mut()) {
                    for a in [
                        &mut s.principals,
                        &mut s.not_principals,
                        &mut s.namespaces,
                        &mut s.not_namespaces,
                    ]
                    .into_iter()
                    .flatten()
                    {
                        shift(a);
                    }
                }
            }
        }
        for p in &mut m.peer_auth {
            shift(&mut p.subject);
        }
        for s in &mut m.servers {
            shift(&mut s.subject);
            for a in &mut s.authz {
                for c in &mut a.clients {
                    if let Some(Some(x)) = &mut c.identity {
                        shift(x);
                    }
                }
            }
        }
        for (_, a) in &mut m.defaults {
            shift(a);
        }
        m.judging = m.judging.iter().map(|a| a + base).collect();
        self
    }

    /// Places the planned atoms (numbered as planned) and returns the model.
    pub(super) fn place<'a>(
        self,
        selectors: &'a [LabelSelector],
        c: &mut Compiler<'a, '_>,
    ) -> MeshModel {
        c.warnings.extend(self.warnings);
        let all: Vec<u32> = (0..c.namespaces.len())
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        for (sel, at, _) in &self.atoms {
            let atom = u32::try_from(c.atom_owner.len()).unwrap_or(u32::MAX);
            c.atom_owner.push(AtomOwner::Mesh);
            c.sets.selecting();
            let sel = &selectors[*sel];
            let idx: Vec<u32> = match at {
                None => all.clone(),
                Some(nss) => nss
                    .iter()
                    .filter_map(|n| {
                        c.namespaces
                            .binary_search_by(|(x, _)| x.as_str().cmp(n))
                            .ok()
                            .and_then(|i| u32::try_from(i).ok())
                    })
                    .collect(),
            };
            for i in idx {
                if let Some((n, _)) = c.namespaces.get(i as usize) {
                    c.placed.push((n.as_str(), atom, sel));
                }
            }
        }
        self.model
    }
}

/// The verdict of a mesh on one port (or on every port not named, for `port: None`).
struct One {
    allowed: bool,
    why: Vec<MeshRef>,
}

impl MeshModel {
    /// The ports (and every port beyond them) a decision on `dst` can depend on.
    fn named_ports(&self, dst: &NetClass) -> BTreeSet<u16> {
        let mut out = BTreeSet::new();
        for p in &self.istio {
            if dst.has(p.subject) {
                for r in &p.rules {
                    out.extend(r.ports.iter().flatten());
                    out.extend(&r.not_ports);
                }
            }
        }
        for p in &self.peer_auth {
            if dst.has(p.subject) {
                out.extend(p.ports.keys());
            }
        }
        for s in &self.servers {
            if dst.has(s.subject) {
                out.extend(self.server_ports(s, dst));
            }
        }
        out
    }

    fn server_ports(&self, s: &LServer, dst: &NetClass) -> Vec<u16> {
        match &s.port {
            LPort::Number(n) => vec![*n],
            LPort::Name(name) => dst
                .ports
                .iter()
                .filter(|p| p.name.as_deref() == Some(name.as_str()))
                .map(|p| p.port)
                .collect(),
        }
    }

    /// What the meshes admit into `dst` from `src`, with the rules that decided; every port
    /// when no mesh judges `dst`. The proxies judge TCP alone: UDP and SCTP pass unjudged.
    pub(super) fn admits(&self, src: Src<'_>, dst: &NetClass) -> (PortSet, Vec<MeshRef>) {
        let named = self.named_ports(dst);
        let mut out = PortSet::all_of(Protocol::Udp).union(&PortSet::all_of(Protocol::Sctp));
        let mut why = Vec::new();
        for &port in &named {
            let v = self.decide(src, dst, Some(port));
            if v.allowed {
                out.union_with(&PortSet::single(Protocol::Tcp, port));
            }
            why.extend(v.why);
        }
        let rest = self.decide(src, dst, None);
        if rest.allowed {
            let mut all = PortSet::all_of(Protocol::Tcp);
            for &port in &named {
                all = all.subtract(&PortSet::single(Protocol::Tcp, port));
            }
            out.union_with(&all);
        }
        why.extend(rest.why);
        why.sort();
        why.dedup();
        (out, why)
    }

    fn decide(&self, src: Src<'_>, dst: &NetClass, port: Option<u16>) -> One {
        let mut why = Vec::new();
        let mut allowed = true;
        if dst.has(self.istio_member) {
            allowed &= self.istio(src, dst, port, &mut why);
        }
        if dst.has(self.linkerd_member) {
            allowed &= self.linkerd(src, dst, port, &mut why);
        }
        One { allowed, why }
    }

    /// Whether the source is meshed with `mesh` (its identity known).
    fn meshed(&self, src: Src<'_>, member: u32) -> bool {
        match src {
            Src::Pods(c) => c.has(member),
            Src::External => false,
            Src::Unknown => true,
        }
    }

    fn istio(
        &self,
        src: Src<'_>,
        dst: &NetClass,
        port: Option<u16>,
        why: &mut Vec<MeshRef>,
    ) -> bool {
        // mTLS: the most specific PeerAuthentication with a mode for this port.
        let mut mode = Mtls::Permissive;
        let mut decided_by: Option<&PeerAuthn> = None;
        for level in [0u8, 1, 2] {
            for p in self
                .peer_auth
                .iter()
                .filter(|p| p.level == level && dst.has(p.subject))
            {
                let m = port.and_then(|n| p.ports.get(&n).copied()).or(p.mode);
                if let Some(m) = m {
                    mode = m;
                    decided_by = Some(p);
                }
            }
        }
        let meshed = self.meshed(src, self.istio_member);
        if mode == Mtls::Strict && !meshed {
            if let Some(p) = decided_by {
                why.push(MeshRef::new(
                    "PeerAuthentication",
                    &p.namespace,
                    &p.name,
                    "spec.mtls.mode: STRICT (the source has no mesh identity)",
                ));
            }
            return false;
        }
        let applying: Vec<&IPolicy> = self.istio.iter().filter(|p| dst.has(p.subject)).collect();
        for p in applying.iter().filter(|p| p.action == IAction::Deny) {
            for (i, r) in p.rules.iter().enumerate() {
                if self.rule_matches(r, src, port, true) {
                    why.push(istio_ref(p, i));
                    return false;
                }
            }
        }
        let allows: Vec<&&IPolicy> = applying
            .iter()
            .filter(|p| p.action == IAction::Allow)
            .collect();
        if allows.is_empty() {
            return true;
        }
        for p in &allows {
            for (i, r) in p.rules.iter().enumerate() {
                if self.rule_matches(r, src, port, false) {
                    let mut m = istio_ref(p, i);
                    if r.l7 {
                        m.field.push_str(" (further restricted at L7)");
                    }
                    why.push(m);
                    return true;
                }
            }
        }
        for p in allows {
            why.push(MeshRef::new(
                "AuthorizationPolicy",
                &p.namespace,
                &p.name,
                "ALLOW: no rule admits the source",
            ));
        }
        false
    }

    /// Whether Istio rule `r` matches; `deny` evaluates for a DENY policy (what rampart cannot
    /// see does not match), else for ALLOW (it does).
    fn rule_matches(&self, r: &IRule, src: Src<'_>, port: Option<u16>, deny: bool) -> bool {
        if deny && r.l7 {
            return false;
        }
        let port_ok = match port {
            Some(n) => r.ports.as_ref().is_none_or(|p| p.contains(&n)) && !r.not_ports.contains(&n),
            // Every port not named: a rule naming ports admits none of them.
            None => r.ports.is_none(),
        };
        if !port_ok {
            return false;
        }
        let from_ok = match &r.from {
            None => true,
            Some(list) => list.iter().any(|s| self.source_matches(s, src, deny)),
        };
        from_ok && r.when.iter().all(|s| self.source_matches(s, src, deny))
    }

    fn source_matches(&self, s: &ISource, src: Src<'_>, deny: bool) -> bool {
        if s.unknown && deny {
            return false;
        }
        let has = |atom: u32| match src {
            Src::Pods(c) => Some(c.has(atom)),
            Src::External => Some(false),
            // An unknown identity: it may be any one.
            Src::Unknown => None,
        };
        let positive = |a: Option<u32>| match a {
            None => true,
            Some(a) => has(a).unwrap_or(!deny),
        };
        let negative = |a: Option<u32>| match a {
            None => true,
            Some(a) => has(a).map_or(!deny, |h| !h),
        };
        positive(s.principals)
            && negative(s.not_principals)
            && positive(s.namespaces)
            && negative(s.not_namespaces)
    }

    fn linkerd(
        &self,
        src: Src<'_>,
        dst: &NetClass,
        port: Option<u16>,
        why: &mut Vec<MeshRef>,
    ) -> bool {
        let servers: Vec<&LServer> = self
            .servers
            .iter()
            .filter(|s| {
                dst.has(s.subject) && port.is_some_and(|n| self.server_ports(s, dst).contains(&n))
            })
            .collect();
        if servers.is_empty() {
            let value = self
                .defaults
                .iter()
                .find(|(_, a)| dst.has(*a))
                .map_or(LINKERD_CLUSTER_DEFAULT, |(v, _)| v.as_str());
            let ok = self.default_admits(value, src);
            if !ok {
                why.push(MeshRef::new(
                    "Pod",
                    "",
                    "",
                    format!("{LINKERD_DEFAULT_ANNOTATION}: {value}"),
                ));
            }
            return ok;
        }
        for s in &servers {
            for a in &s.authz {
                if a.clients.iter().any(|c| self.client_matches(c, src)) {
                    let mut m = a.why.clone();
                    if a.clients.iter().any(|c| c.l7) {
                        m.field.push_str(" (further restricted at L7)");
                    }
                    why.push(m);
                    return true;
                }
            }
            if self.default_admits(&s.access, src) && s.access != "deny" {
                return true;
            }
        }
        for s in servers {
            why.push(MeshRef::new(
                "Server",
                &s.namespace,
                &s.name,
                "no authorization admits the source",
            ));
        }
        false
    }

    fn default_admits(&self, value: &str, src: Src<'_>) -> bool {
        let meshed = self.meshed(src, self.linkerd_member);
        match value {
            "all-unauthenticated" | "audit" => true,
            "cluster-unauthenticated" => !matches!(src, Src::External),
            "all-authenticated" | "cluster-authenticated" => meshed,
            _ => false,
        }
    }

    fn client_matches(&self, c: &LClient, src: Src<'_>) -> bool {
        let identity_ok = match c.identity {
            None => true,
            Some(None) => self.meshed(src, self.linkerd_member),
            Some(Some(atom)) => match src {
                Src::Pods(cl) => cl.has(atom),
                Src::External => false,
                Src::Unknown => true,
            },
        };
        let network_ok = match &c.networks {
            None => true,
            // Pod addresses are private and not modelled: a network holding some private range
            // is taken to hold the pods; the internet, some public address.
            Some(n) => match src {
                Src::External => !n.intersect(&IpSet::internet()).is_empty(),
                _ => !n.subtract(&IpSet::internet()).is_empty(),
            },
        };
        identity_ok && network_ok
    }
}

fn istio_ref(p: &IPolicy, rule: usize) -> MeshRef {
    MeshRef {
        kind: "AuthorizationPolicy",
        namespace: p.namespace.clone(),
        name: p.name.clone(),
        field: format!(
            "{} spec.rules[{rule}]",
            if p.action == IAction::Deny {
                "DENY"
            } else {
                "ALLOW"
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(istio_match("*", "cluster.local/ns/a/sa/b"));
        assert!(!istio_match("*", ""));
        assert!(istio_match(
            "cluster.local/ns/a/*",
            "cluster.local/ns/a/sa/b"
        ));
        assert!(istio_match("*/sa/b", "cluster.local/ns/a/sa/b"));
        assert!(!istio_match(
            "cluster.local/ns/b/*",
            "cluster.local/ns/a/sa/b"
        ));
        let id = "web.app.serviceaccount.identity.linkerd.";
        assert!(linkerd_match("*", id));
        assert!(linkerd_match(
            "web.app.serviceaccount.identity.linkerd.cluster.local",
            id
        ));
        assert!(linkerd_match(
            "*.app.serviceaccount.identity.linkerd.cluster.local",
            id
        ));
        assert!(!linkerd_match(
            "*.other.serviceaccount.identity.linkerd.cluster.local",
            id
        ));
    }
}
