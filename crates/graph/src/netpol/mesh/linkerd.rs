//! Linkerd: a Server closes a port of some pods to all but the clients an authorization names
//! (ServerAuthorization; AuthorizationPolicy with MeshTLSAuthentication, NetworkAuthentication
//! or a ServiceAccount), else the Server's `accessPolicy`; a port no Server covers follows the
//! default inbound policy (`config.linkerd.io/default-inbound-policy` on the pod, else its
//! namespace, else the install default).

use std::collections::{BTreeSet, HashMap};

use rampart_model::de::IntOrString;
use rampart_model::objects::{LinkerdClient, LinkerdNetwork, MeshPolicy};
use rampart_model::{LabelSelector, Labels, Snapshot, Workloads};

use super::{
    IDENTITY, LINKERD_CLUSTER_DEFAULT, LINKERD_DEFAULT, LINKERD_DEFAULT_ANNOTATION, MESH,
    MeshModel, MeshRef, NsMesh, Planner, Src, Subject, with,
};
use crate::ipset::IpSet;
use crate::netpol::NetClass;
use crate::ports::{PortSet, Protocol};

/// A Linkerd client condition: all parts must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct LClient {
    /// The source must be Linkerd-meshed with one of these identities (`None`: any meshed).
    pub(super) identity: Option<Option<u32>>,
    /// The source's address must be in these networks.
    pub(super) networks: Option<IpSet>,
    /// Authorizes an HTTPRoute (a part of the traffic: L7).
    l7: bool,
}

/// An authorization of a Server.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LAuthz {
    pub(super) why: MeshRef,
    pub(super) clients: Vec<LClient>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum LPort {
    Number(u16),
    Name(String),
}

/// A Linkerd Server, compiled.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LServer {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) subject: u32,
    pub(super) port: LPort,
    pub(super) access: String,
    pub(super) authz: Vec<LAuthz>,
}

/// The Servers among `policies` (sorted by namespace and name), with the authorizations that
/// name their clients.
pub(super) fn compile(
    p: &mut Planner<'_>,
    snapshot: &Snapshot,
    policies: &[&MeshPolicy],
) -> Vec<LServer> {
    let mut servers = Vec::new();
    let mut mesh_tls: HashMap<(String, String), Option<u32>> = HashMap::new();
    let mut networks: HashMap<(String, String), IpSet> = HashMap::new();
    for m in policies {
        let (ns, name) = (m.meta().namespace.clone(), m.meta().name.clone());
        match m {
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
                        Ok(0) => {
                            p.warnings.push(format!("{at}: port 0 invalid; ignored"));
                            continue;
                        }
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
            _ => {}
        }
    }
    let authz: Vec<(&MeshPolicy, &str)> = policies
        .iter()
        .filter(|m| {
            matches!(
                m,
                MeshPolicy::ServerAuthorization(_) | MeshPolicy::LinkerdAuthorization(_)
            )
        })
        .map(|m| (*m, ""))
        .collect();
    // Authorizations, now that every Server and authentication is known.
    for (m, _) in authz {
        let (ns, name) = (m.meta().namespace.clone(), m.meta().name.clone());
        match m {
            MeshPolicy::ServerAuthorization(sa) => {
                let why = MeshRef::new("ServerAuthorization", &ns, &name, "spec.client");
                let client = linkerd_client(p, &sa.spec.client, &ns);
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
                            Some(a) => c.identity = Some(and_identity(p, c.identity, *a)),
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
                            c.identity = Some(and_identity(p, c.identity, Some(a)));
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
    servers
}

/// The default inbound policies pods have (theirs or their namespace's), each as an atom.
pub(super) fn defaults(
    p: &mut Planner<'_>,
    namespaces: &HashMap<String, NsMesh>,
    workloads: &Workloads,
) -> Vec<(String, u32)> {
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
    defaults
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
    // Drop the trust domain after `linkerd.` (not read: any domain may be the mesh's).
    let p = match pattern.find(".identity.linkerd.") {
        Some(i) => &pattern[..i + ".identity.linkerd.".len()],
        None => pattern,
    };
    match p.strip_prefix('*') {
        // A pattern of the domain alone (`*.cluster.local`, `*.linkerd.cluster.local`) names
        // every identity of it.
        Some(suffix) => id.ends_with(suffix) || !suffix.contains(".serviceaccount."),
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

impl LServer {
    /// Its atoms numbered `base` later.
    pub(super) fn rebase(&mut self, base: u32) {
        self.subject += base;
        for a in &mut self.authz {
            for c in &mut a.clients {
                if let Some(Some(x)) = &mut c.identity {
                    *x += base;
                }
            }
        }
    }
}

impl MeshModel {
    /// The TCP port a Server covers on `dst`'s pods (a name resolves against their ports).
    fn server_ports(&self, s: &LServer, dst: &NetClass) -> PortSet {
        let mut out = PortSet::empty();
        match &s.port {
            LPort::Number(n) => out.union_with(&PortSet::single(Protocol::Tcp, *n)),
            LPort::Name(name) => {
                for p in dst
                    .ports
                    .iter()
                    .filter(|p| p.name.as_deref() == Some(name.as_str()))
                {
                    out.union_with(&PortSet::single(Protocol::Tcp, p.port));
                }
            }
        }
        out
    }

    /// The TCP ports Linkerd admits into `dst` from `src`: a port a Server covers, when an
    /// authorization of it names the source (else its `accessPolicy`); any other, by the
    /// default inbound policy.
    pub(super) fn linkerd(
        &self,
        src: Src<'_>,
        dst: &NetClass,
        subjects: &[Subject],
        why: &mut Vec<MeshRef>,
    ) -> PortSet {
        let mut covered = PortSet::empty();
        let mut admitted = PortSet::empty();
        let servers = subjects.iter().filter_map(|s| match s {
            Subject::Server(i) => self.servers.get(*i),
            _ => None,
        });
        for s in servers {
            let ports = self.server_ports(s, dst);
            if ports.is_empty() {
                continue;
            }
            covered.union_with(&ports);
            let by = s
                .authz
                .iter()
                .find(|a| a.clients.iter().any(|c| self.client_matches(c, src)));
            if let Some(a) = by {
                let mut m = a.why.clone();
                if a.clients.iter().any(|c| c.l7) {
                    m.field.push_str(" (further restricted at L7)");
                }
                why.push(m);
                admitted.union_with(&ports);
            } else if s.access != "deny" && self.default_admits(&s.access, src) {
                admitted.union_with(&ports);
            } else {
                why.push(MeshRef::new(
                    "Server",
                    &s.namespace,
                    &s.name,
                    "no authorization admits the source",
                ));
            }
        }
        let value = self
            .defaults
            .iter()
            .find(|(_, a)| dst.has(*a))
            .map_or(LINKERD_CLUSTER_DEFAULT, |(v, _)| v.as_str());
        if self.default_admits(value, src) {
            admitted.union_with(&PortSet::all_of(Protocol::Tcp).subtract(&covered));
        } else {
            why.push(MeshRef::new(
                "Pod",
                "",
                "",
                format!("{LINKERD_DEFAULT_ANNOTATION}: {value}"),
            ));
        }
        admitted
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
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
        assert!(linkerd_match("*.cluster.local", id));
        assert!(linkerd_match("*.identity.linkerd.example.org", id));
    }
}
