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

use std::collections::{BTreeSet, HashMap};

use rampart_model::objects::MeshPolicy;
use rampart_model::selector::{Operator, Requirement};
use rampart_model::{LabelSelector, Labels, Snapshot, Workload, Workloads};

mod istio;
mod linkerd;

use super::{AtomOwner, NetClass, PeerSets, Placement};
use crate::ports::{PortSet, Protocol};
pub use istio::ISTIO_ROOT;
use istio::{IPolicy, PeerAuthn};
use linkerd::LServer;

/// Pseudo-label: the pod's identity, `<namespace>/<serviceaccount>`.
pub const IDENTITY: &str = "rampart:identity";
/// Pseudo-label: the mesh whose proxy the pod runs (`istio`, `linkerd`).
pub const MESH: &str = "rampart:mesh";
/// Pseudo-label: Linkerd's default inbound policy of the pod (its annotation, else its
/// namespace's).
pub const LINKERD_DEFAULT: &str = "rampart:linkerd-default";
/// The `rampart:mesh` value of the ingress controller pseudo-pod: meshed, identity unknown.
pub const UNKNOWN: &str = "unknown";
/// Linkerd's default inbound policy when neither the pod nor its namespace sets one (the
/// install default).
pub const LINKERD_CLUSTER_DEFAULT: &str = "all-unauthenticated";

const LINKERD_DEFAULT_ANNOTATION: &str = "config.linkerd.io/default-inbound-policy";
/// Pseudo-label: inbound ports the pod's proxy does not intercept (so no mesh judges them).
pub const SKIP: &str = "rampart:skip-inbound";
/// Pseudo-label: the only inbound ports the pod's proxy intercepts.
pub const INCLUDE: &str = "rampart:include-inbound";
/// Annotations naming ports a proxy does not intercept (Istio, Linkerd).
const SKIP_ANNOTATIONS: &[&str] = &[
    "traffic.sidecar.istio.io/excludeInboundPorts",
    "config.linkerd.io/skip-inbound-ports",
];
/// Istio's annotation naming the only ports its sidecar intercepts.
const INCLUDE_ANNOTATION: &str = "traffic.sidecar.istio.io/includeInboundPorts";

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

/// A policy a subject atom stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Subject {
    Istio(usize),
    PeerAuthentication(usize),
    Server(usize),
}

/// What a namespace says of the mesh.
#[derive(Debug, Clone, Default, PartialEq)]
struct NsMesh {
    istio_injection: bool,
    istio_disabled: bool,
    istio_ambient: bool,
    linkerd_inject: bool,
    linkerd_default: Option<String>,
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
    /// Ports proxies pass through: (the only ones intercepted?, ports, atom).
    bypass: Vec<(bool, PortSet, u32)>,
    /// Per subject atom, the policies of it: a destination looks up its own atoms instead of
    /// scanning every policy (thousands, one per namespace, in a large mesh).
    by_subject: HashMap<u32, Vec<Subject>>,
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
                istio_disabled: l.get("istio-injection").is_some_and(|v| v == "disabled"),
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
    // The injection webhook skips namespaces labelled `istio-injection=disabled`; it is called
    // for a namespace label or a pod *label* (an annotation alone calls nothing).
    let disabled = ns.is_some_and(|n| n.istio_disabled);
    let pod_label = meta
        .labels
        .get("sidecar.istio.io/inject")
        .map(String::as_str);
    let injected = !disabled
        && istio_opt != Some("false")
        && (ns.is_some_and(|n| n.istio_injection)
            || pod_label == Some("true")
            || meta.labels.contains_key("istio.io/rev"));
    if named("istio-proxy")
        || injected
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
        Self::pseudo_of(w, self.namespaces.get(&w.namespace))
    }

    /// The pseudo-labels of a workload's pods in a namespace the mesh sees as `ns`.
    fn pseudo_of(w: &Workload, ns: Option<&NsMesh>) -> Vec<(&'static str, String)> {
        let mut out = vec![(
            IDENTITY,
            format!("{}/{}", w.namespace, w.template.spec.service_account()),
        )];
        if let Some(m) = mesh_of(w, ns) {
            out.push((MESH, m.to_string()));
            let a = &w.template.metadata.annotations;
            let skip: Vec<&str> = SKIP_ANNOTATIONS
                .iter()
                .filter_map(|k| a.get(*k).map(String::as_str))
                .collect();
            if !skip.is_empty() {
                out.push((SKIP, skip.join(",")));
            }
            if let Some(v) = a.get(INCLUDE_ANNOTATION).filter(|v| v.trim() != "*") {
                out.push((INCLUDE, v.clone()));
            }
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

/// Ports of a proxy annotation (`8080,9090`, Linkerd's `4190-4191` ranges too); what cannot be
/// read is left out (so it stays judged).
fn port_list(v: &str) -> PortSet {
    let mut out = PortSet::empty();
    for part in v.split(',').map(str::trim) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.trim().parse::<u16>(), b.trim().parse::<u16>())
            && a > 0
            && a <= b
        {
            out.union_with(&PortSet::range(Protocol::Tcp, a, b));
        }
    }
    out
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
    let mut policies: Vec<&MeshPolicy> = snapshot.mesh_policies().map(|(_, m)| m).collect();
    policies.sort_by(|a, b| {
        (&a.meta().namespace, &a.meta().name).cmp(&(&b.meta().namespace, &b.meta().name))
    });
    let (istio, peer_auth) = istio::compile(&mut p, &policies);
    let servers = linkerd::compile(&mut p, snapshot, &policies);
    let defaults = linkerd::defaults(&mut p, &namespaces, workloads);
    // The ports proxies pass through, as atoms of the values pods have.
    let mut bypass = Vec::new();
    let mut values: BTreeSet<(&'static str, String)> = BTreeSet::new();
    for w in &workloads.list {
        let m = MeshModel::pseudo_of(w, namespaces.get(&w.namespace));
        values.extend(m.into_iter().filter(|(k, _)| *k == SKIP || *k == INCLUDE));
    }
    for (key, v) in values {
        let ports = port_list(&v);
        let a = p.atom(with(&Labels::new(), &[(key, &v)]), None, false);
        bypass.push((key == INCLUDE, ports, a));
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
            bypass,
            by_subject: HashMap::new(),
            istio_member,
            linkerd_member,
            unknown,
            judging,
        },
        warnings: p.warnings,
    }
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
            p.rebase(base);
        }
        for p in &mut m.peer_auth {
            p.subject += base;
        }
        for s in &mut m.servers {
            s.rebase(base);
        }
        for (_, a) in &mut m.defaults {
            shift(a);
        }
        for (_, _, a) in &mut m.bypass {
            shift(a);
        }
        let mut by_subject: HashMap<u32, Vec<Subject>> = HashMap::new();
        for (i, p) in m.istio.iter().enumerate() {
            by_subject
                .entry(p.subject)
                .or_default()
                .push(Subject::Istio(i));
        }
        for (i, p) in m.peer_auth.iter().enumerate() {
            by_subject
                .entry(p.subject)
                .or_default()
                .push(Subject::PeerAuthentication(i));
        }
        for (i, s) in m.servers.iter().enumerate() {
            by_subject
                .entry(s.subject)
                .or_default()
                .push(Subject::Server(i));
        }
        m.by_subject = by_subject;
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

impl MeshModel {
    /// The policies whose subject `dst`'s pods are, in their order.
    fn subjects_of(&self, dst: &NetClass) -> Vec<Subject> {
        let mut out: Vec<Subject> = dst
            .atom_ids()
            .filter_map(|a| self.by_subject.get(&a))
            .flatten()
            .copied()
            .collect();
        out.sort_unstable();
        out
    }

    /// Atoms one of which a source needs for Istio to admit it into `dst` on any port `dst`
    /// listens on; `None` when any source might be (Linkerd, ports not proxied, a non-TCP port,
    /// no ALLOW policy, an ALLOW rule with no identity condition). A necessary condition only:
    /// the exact verdict is [`MeshModel::admits`].
    pub(super) fn required_atoms(&self, dst: &NetClass) -> Option<Vec<u32>> {
        if !dst.has(self.istio_member)
            || dst.has(self.linkerd_member)
            || self.bypass.iter().any(|(_, _, a)| dst.has(*a))
            || dst.ports.is_empty()
            || dst.ports.iter().any(|p| p.protocol != Protocol::Tcp)
        {
            return None;
        }
        let mut out = Vec::new();
        let mut any_allow = false;
        for s in self.subjects_of(dst) {
            let Subject::Istio(i) = s else { continue };
            let Some(p) = self.istio.get(i) else { continue };
            if !p.allows() {
                continue;
            }
            any_allow = true;
            for r in p.rules_iter() {
                for s in r.from.as_ref()? {
                    // The identity conditions AND: the first one is necessary.
                    out.push(s.principals.or(s.namespaces)?);
                }
            }
        }
        if !any_allow {
            return None;
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }

    /// What the meshes admit into `dst` from `src`, with the rules that decided; every port
    /// when no mesh judges `dst`. The proxies judge TCP alone: UDP and SCTP pass unjudged.
    pub(super) fn admits(&self, src: Src<'_>, dst: &NetClass) -> (PortSet, Vec<MeshRef>) {
        let mut why = Vec::new();
        let mut tcp = PortSet::all_of(Protocol::Tcp);
        let subjects = self.subjects_of(dst);
        if dst.has(self.istio_member) {
            tcp = tcp.intersect(&self.istio(src, dst, &subjects, &mut why));
        }
        if dst.has(self.linkerd_member) {
            tcp = tcp.intersect(&self.linkerd(src, dst, &subjects, &mut why));
        }
        // What the proxy does not intercept, no mesh judges.
        for (include, ports, a) in &self.bypass {
            if dst.has(*a) {
                let passed = if *include {
                    PortSet::all_of(Protocol::Tcp).subtract(ports)
                } else {
                    ports.clone()
                };
                tcp.union_with(&passed);
            }
        }
        why.sort();
        why.dedup();
        let out = PortSet::all_of(Protocol::Udp)
            .union(&PortSet::all_of(Protocol::Sctp))
            .union(&tcp);
        (out, why)
    }

    /// Whether the source is meshed with `mesh` (its identity known).
    fn meshed(&self, src: Src<'_>, member: u32) -> bool {
        match src {
            Src::Pods(c) => c.has(member),
            Src::External => false,
            Src::Unknown => true,
        }
    }
}
