//! CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy (`cilium.io/v2`, L3/L4) over the same
//! reachability classes as NetworkPolicy.
//!
//! Cilium enforces its policies and the Kubernetes NetworkPolicies as one set: an endpoint a
//! rule with an ingress (egress) section selects is in default deny for that direction (unless
//! the rule's `enableDefaultDeny` says otherwise), the allow rules of every policy add up, and a
//! deny rule (`ingressDeny`, `egressDeny`) wins over every allow. So each rule compiles to a
//! NetworkPolicy-like allow policy (one that may only add rules, never isolate, when its
//! default deny is off) and its deny rules to an admin-layer policy of `Deny` rules evaluated
//! before everything else.
//!
//! Selectors: a CiliumNetworkPolicy's `endpointSelector` is confined to its namespace, and so
//! are its peers' unless they name one (`io.kubernetes.pod.namespace`); namespace labels are
//! `io.cilium.k8s.namespace.labels.<key>`; `k8s:`/`any:` prefixes are dropped and `reserved:`
//! labels match no pod. Entities: `world` is every address outside the cluster, `cluster` every
//! pod, `all` both, `ingress` the ingress controller; the node entities (`host`,
//! `remote-node`, `kube-apiserver`, …) match no pod. `toFQDNs` reach public addresses.
//! CIDR rules never match pods (Cilium matches pods by identity). L7 rules (`rules`,
//! `serverNames`) are not modelled: the rule admits its ports, and the step says it is
//! further restricted at L7.
//!
//! What cannot be modelled is over-approximated, never under: an allow peer loses the
//! requirement rampart cannot check (service accounts, `fromRequires`), a deny rule or peer
//! resting on one is dropped — always with a warning.

use rampart_model::objects::{
    CiliumEgress, CiliumIngress, CiliumNetworkPolicy, CiliumPortRule, CiliumRule,
};
use rampart_model::selector::{Operator, Requirement};
use rampart_model::{LabelSelector, Labels, Snapshot};

use super::admin::{Action, AdminPeer, AdminPolicy, AdminRule, AdminRulePort};
use super::{
    AtomOwner, CompiledPolicy, INGRESS_CONTROLLER_NS, Peer, PeerSets, Placement, Rule, RulePort,
};
use crate::ipset::IpSet;
use crate::ports::{PortSet, Protocol};

/// The label Cilium gives a pod for its namespace's name.
const NAMESPACE_KEY: &str = "io.kubernetes.pod.namespace";
/// The prefix Cilium gives a pod for its namespace's labels.
const NAMESPACE_LABELS: &str = "io.cilium.k8s.namespace.labels.";
/// Label keys of pod properties rampart does not read (service account, cluster name).
const UNMODELLED_KEYS: &[&str] = &[
    "io.cilium.k8s.policy.serviceaccount",
    "io.cilium.k8s.policy.cluster",
];

/// Where a Cilium selector applies.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Selection {
    /// The namespaces (their labels, `kubernetes.io/metadata.name` included).
    pub namespaces: LabelSelector,
    /// Confined to this namespace as well.
    pub only: Option<String>,
    /// The pods in them.
    pub pods: LabelSelector,
}

impl Selection {
    /// Every pod of every namespace.
    fn every_pod() -> Selection {
        Selection {
            namespaces: LabelSelector::default(),
            only: None,
            pods: LabelSelector::default(),
        }
    }

    /// Whether it selects every pod of every namespace.
    pub fn is_every_pod(&self) -> bool {
        self.namespaces.is_empty() && self.only.is_none() && self.pods.is_empty()
    }

    /// The indices of `namespaces` it applies in.
    pub fn placement(&self, selected: &[u32], namespaces: &[(String, Labels)]) -> Vec<u32> {
        selected
            .iter()
            .copied()
            .filter(|&i| {
                self.only
                    .as_deref()
                    .is_none_or(|only| namespaces.get(i as usize).is_some_and(|(n, _)| n == only))
            })
            .collect()
    }
}

/// A peer of a normalized rule.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum NPeer {
    /// Pods.
    Pods(Selection),
    /// Addresses outside the cluster.
    Outside(IpSet),
}

/// A rule, normalized: its peers (`None`: every peer, inside and outside the cluster) and
/// ports (`None`: every port).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NRule {
    pub peers: Option<Vec<NPeer>>,
    pub ports: Option<Vec<RulePort>>,
    /// Further restricted at L7 (or by TLS server names).
    pub l7: bool,
}

/// One rule of a Cilium policy (`spec`, or an entry of `specs`), normalized.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Normalized {
    /// `CiliumNetworkPolicy` or `CiliumClusterwideNetworkPolicy`.
    pub kind: &'static str,
    /// Namespace (empty when clusterwide).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec` or `specs[i]`.
    pub path: String,
    /// The endpoints it selects.
    pub subject: Selection,
    /// Puts its endpoints in default deny for ingress / egress.
    pub isolates: (bool, bool),
    /// Ingress allow rules (`None`: no ingress section).
    pub ingress: Option<Vec<NRule>>,
    /// Egress allow rules.
    pub egress: Option<Vec<NRule>>,
    /// Ingress deny rules.
    pub ingress_deny: Vec<NRule>,
    /// Egress deny rules.
    pub egress_deny: Vec<NRule>,
}

/// Every Cilium policy rule of the snapshot, normalized, by kind, namespace and name; the
/// problems found go to `warnings`.
pub(super) fn normalize_all(snapshot: &Snapshot, warnings: &mut Vec<String>) -> Vec<Normalized> {
    let mut policies: Vec<&CiliumNetworkPolicy> =
        snapshot.cilium_network_policies().map(|(_, p)| p).collect();
    policies.sort_by(|a, b| {
        (a.clusterwide, &a.metadata.namespace, &a.metadata.name).cmp(&(
            b.clusterwide,
            &b.metadata.namespace,
            &b.metadata.name,
        ))
    });
    // A Service's pods (its selector), for `toServices`.
    let services = |ns: &str, name: &str| -> Option<Option<Labels>> {
        match snapshot
            .get(rampart_model::Kind::Service, ns, name)
            .map(|l| &l.object)
        {
            Some(rampart_model::Object::Service(s)) => Some(s.spec.selector.clone()),
            _ => None,
        }
    };
    let mut out = Vec::new();
    for p in policies {
        for (i, rule) in p.rules().enumerate() {
            let path = match (p.spec.is_some(), i) {
                (true, 0) => "spec".to_string(),
                (true, i) => format!("specs[{}]", i - 1),
                (false, i) => format!("specs[{i}]"),
            };
            out.extend(normalize(p, rule, path, &services, warnings));
        }
    }
    out
}

/// Looks a Service up: `None` when absent, else its selector (`None`: no selector).
type Services<'s> = dyn Fn(&str, &str) -> Option<Option<Labels>> + 's;

/// One rule of `p`, normalized; `None` when it selects no pod rampart models (a host policy,
/// an invalid selector).
fn normalize(
    p: &CiliumNetworkPolicy,
    rule: &CiliumRule,
    path: String,
    services: &Services<'_>,
    warnings: &mut Vec<String>,
) -> Option<Normalized> {
    let kind = p.kind_name();
    let own = (!p.clusterwide).then(|| p.metadata.namespace.clone());
    let at = match &own {
        Some(ns) => format!("{kind} {ns}/{} {path}", p.metadata.name),
        None => format!("{kind} {} {path}", p.metadata.name),
    };
    let Some(selector) = &rule.endpoint_selector else {
        if rule.node_selector.is_some() {
            warnings.push(format!(
                "{at}: nodeSelector (a host policy) is not modelled; rule ignored"
            ));
        } else {
            warnings.push(format!("{at}: no endpointSelector; rule ignored"));
        }
        return None;
    };
    let mut warn = |m: String| warnings.push(format!("{at}: {m}"));
    let subject = match translate(selector) {
        Ok(t) if t.reserved => {
            warn("endpointSelector names reserved identities (not pods); rule ignored".into());
            return None;
        }
        Ok(t) => t,
        Err(e) => {
            warn(format!("endpointSelector: {e}; rule ignored"));
            return None;
        }
    };
    // A subject resting on something rampart does not read selects more pods than it should:
    // its rules may then only add, never isolate (over, not under, what is reachable).
    let widened = !subject.unmodelled.is_empty();
    if widened {
        warn(format!(
            "endpointSelector: {} not modelled; the rule is taken to select every pod it might, and to isolate none, and its deny rules are ignored",
            subject.unmodelled.join(", ")
        ));
    }
    let subject_sel = Selection {
        namespaces: subject.namespaces,
        only: own.clone(),
        pods: subject.pods,
    };
    let has = |allow: bool, deny: bool| allow || deny;
    let default_in = rule
        .enable_default_deny
        .ingress
        .unwrap_or(has(!rule.ingress.is_empty(), !rule.ingress_deny.is_empty()));
    let default_eg = rule
        .enable_default_deny
        .egress
        .unwrap_or(has(!rule.egress.is_empty(), !rule.egress_deny.is_empty()));
    let isolates = (default_in && !widened, default_eg && !widened);
    let rules_of = |dir: &str, list: Vec<Peers<'_>>, deny: bool, warn: &mut dyn FnMut(String)| {
        let mut out = Vec::new();
        for (i, r) in list.into_iter().enumerate() {
            let at = format!("{dir}[{i}]");
            if let Some(r) = normalize_rule(&r, own.as_deref(), deny, services, &mut |m| {
                warn(format!("{at}: {m}"));
            }) {
                out.push(r);
            }
        }
        out
    };
    let ingress = rules_of(
        "ingress",
        rule.ingress.iter().map(Peers::ingress).collect(),
        false,
        &mut warn,
    );
    let egress = rules_of(
        "egress",
        rule.egress.iter().map(Peers::egress).collect(),
        false,
        &mut warn,
    );
    let (ingress_deny, egress_deny) = if widened {
        (Vec::new(), Vec::new())
    } else {
        (
            rules_of(
                "ingressDeny",
                rule.ingress_deny.iter().map(Peers::ingress).collect(),
                true,
                &mut warn,
            ),
            rules_of(
                "egressDeny",
                rule.egress_deny.iter().map(Peers::egress).collect(),
                true,
                &mut warn,
            ),
        )
    };
    // A direction in default deny applies its allow rules (none is fine); one not in default
    // deny only adds them where another policy isolates.
    let section =
        |isolating: bool, rules: Vec<NRule>| (isolating || !rules.is_empty()).then_some(rules);
    Some(Normalized {
        kind,
        namespace: own.unwrap_or_default(),
        name: p.metadata.name.clone(),
        path,
        subject: subject_sel,
        isolates,
        ingress: section(isolates.0, ingress),
        egress: section(isolates.1, egress),
        ingress_deny,
        egress_deny,
    })
}

/// Where the atoms of the policies compiled go (see [`super::NetModel::build`]).
pub(super) struct Atoms<'a, 'b> {
    pub namespaces: &'a [(String, Labels)],
    pub placed: &'b mut Vec<Placement<'a>>,
    pub atom_owner: &'b mut Vec<AtomOwner>,
    pub sets: &'b mut PeerSets,
}

static EVERY_POD: Selection = Selection {
    namespaces: LabelSelector {
        match_labels: Labels::new(),
        match_expressions: Vec::new(),
    },
    only: None,
    pods: LabelSelector {
        match_labels: Labels::new(),
        match_expressions: Vec::new(),
    },
};

impl<'a> Atoms<'a, '_> {
    /// A new atom owned by `owner`, placed where `sel` applies: a peer of an allow rule joins
    /// the peer sets, a subject (or an admin-layer peer) does not.
    fn place(&mut self, sel: &'a Selection, owner: AtomOwner, peer: bool) -> u32 {
        let atom = u32::try_from(self.atom_owner.len()).unwrap_or(u32::MAX);
        self.atom_owner.push(owner);
        let selected = self
            .sets
            .namespaces_selected(&sel.namespaces, self.namespaces)
            .to_vec();
        let at = sel.placement(&selected, self.namespaces);
        for &i in &at {
            if let Some((n, _)) = self.namespaces.get(i as usize) {
                self.placed.push((n.as_str(), atom, &sel.pods));
            }
        }
        if peer {
            self.sets.peer(at, &sel.pods);
        } else {
            self.sets.selecting();
        }
        atom
    }
}

/// The allow part of `n` as policy `pidx`; `None` when it has no allow rule and isolates
/// nothing.
pub(super) fn compile_allow<'a>(
    n: &'a Normalized,
    pidx: u32,
    atoms: &mut Atoms<'a, '_>,
) -> Option<CompiledPolicy> {
    if n.ingress.is_none() && n.egress.is_none() {
        return None;
    }
    let selecting_atom = atoms.place(&n.subject, AtomOwner::Selects(pidx), false);
    let mut rules = |list: &'a Option<Vec<NRule>>| -> Option<Vec<Rule>> {
        let list = list.as_ref()?;
        let mut out = Vec::with_capacity(list.len());
        for r in list {
            let peers = r.peers.as_ref().map(|peers| {
                peers
                    .iter()
                    .map(|p| match p {
                        NPeer::Pods(sel) => Peer::Pods {
                            atom: atoms.place(sel, AtomOwner::Peer(pidx), true),
                            any: sel.is_every_pod(),
                        },
                        NPeer::Outside(set) => Peer::Block(set.clone()),
                    })
                    .collect()
            });
            out.push(Rule {
                peers,
                ports: r.ports.clone(),
                l7: r.l7,
            });
        }
        Some(out)
    };
    let ingress = rules(&n.ingress);
    let egress = rules(&n.egress);
    Some(CompiledPolicy {
        kind: n.kind,
        namespace: n.namespace.clone(),
        name: n.name.clone(),
        path: n.path.clone(),
        ingress,
        egress,
        isolates: n.isolates,
        retired: false,
        selecting_atom,
    })
}

/// The deny part of `n` as admin policy `idx`; `None` when it has no deny rule.
pub(super) fn compile_deny<'a>(
    n: &'a Normalized,
    idx: u32,
    atoms: &mut Atoms<'a, '_>,
) -> Option<AdminPolicy> {
    if n.ingress_deny.is_empty() && n.egress_deny.is_empty() {
        return None;
    }
    let subject_atom = atoms.place(&n.subject, AtomOwner::Admin(idx), false);
    let mut rules = |list: &'a [NRule]| -> Vec<AdminRule> {
        list.iter()
            .map(|r| {
                let peers = match &r.peers {
                    None => vec![
                        AdminPeer::Pods(atoms.place(&EVERY_POD, AtomOwner::Admin(idx), false)),
                        AdminPeer::Outside(IpSet::all()),
                    ],
                    Some(peers) => peers
                        .iter()
                        .map(|p| match p {
                            NPeer::Pods(sel) => {
                                AdminPeer::Pods(atoms.place(sel, AtomOwner::Admin(idx), false))
                            }
                            NPeer::Outside(set) => AdminPeer::Outside(set.clone()),
                        })
                        .collect(),
                };
                let ports = r.ports.as_ref().map(|ports| {
                    let mut out: Vec<AdminRulePort> = Vec::new();
                    for p in ports {
                        let p = match p {
                            RulePort::Numbers(s) => AdminRulePort::Numbers(s.clone()),
                            RulePort::Named(_, name) => AdminRulePort::Named(name.clone()),
                        };
                        if !out.contains(&p) {
                            out.push(p);
                        }
                    }
                    out
                });
                AdminRule {
                    name: String::new(),
                    action: Action::Deny,
                    peers,
                    ports,
                }
            })
            .collect()
    };
    let ingress = rules(&n.ingress_deny);
    let egress = rules(&n.egress_deny);
    Some(AdminPolicy {
        kind: n.kind,
        namespace: n.namespace.clone(),
        name: n.name.clone(),
        fields: (
            format!("{}.ingressDeny", n.path),
            format!("{}.egressDeny", n.path),
        ),
        baseline: false,
        priority: i64::MIN,
        subject_atom,
        ingress,
        egress,
    })
}

/// The peer fields of an ingress or egress rule, side by side.
struct Peers<'a> {
    endpoints: Option<&'a [LabelSelector]>,
    requires: bool,
    cidr: Option<&'a [String]>,
    cidr_set: Option<&'a [rampart_model::objects::CidrRule]>,
    entities: Option<&'a [String]>,
    fqdns: bool,
    services: Option<&'a [rampart_model::objects::CiliumService]>,
    nodes: bool,
    groups: bool,
    ports: Option<&'a [CiliumPortRule]>,
    icmps: bool,
    authentication: bool,
}

impl<'a> Peers<'a> {
    fn ingress(r: &'a CiliumIngress) -> Peers<'a> {
        Peers {
            endpoints: r.from_endpoints.as_deref(),
            requires: r.from_requires.as_ref().is_some_and(|v| !v.is_empty()),
            cidr: r.from_cidr.as_deref(),
            cidr_set: r.from_cidr_set.as_deref(),
            entities: r.from_entities.as_deref(),
            fqdns: false,
            services: None,
            nodes: r.from_nodes.is_some(),
            groups: r.from_groups.is_some(),
            ports: r.to_ports.as_deref(),
            icmps: r.icmps.is_some(),
            authentication: r.authentication.is_some(),
        }
    }

    fn egress(r: &'a CiliumEgress) -> Peers<'a> {
        Peers {
            endpoints: r.to_endpoints.as_deref(),
            requires: r.to_requires.as_ref().is_some_and(|v| !v.is_empty()),
            cidr: r.to_cidr.as_deref(),
            cidr_set: r.to_cidr_set.as_deref(),
            entities: r.to_entities.as_deref(),
            fqdns: r.to_fqdns.as_ref().is_some_and(|v| !v.is_empty()),
            services: r.to_services.as_deref().filter(|v| !v.is_empty()),
            nodes: r.to_nodes.is_some(),
            groups: r.to_groups.is_some(),
            ports: r.to_ports.as_deref(),
            icmps: r.icmps.is_some(),
            authentication: r.authentication.is_some(),
        }
    }
}

/// A rule normalized; `None` when it matches nothing (an empty rule, or a deny rule whose
/// every peer was dropped).
fn normalize_rule(
    r: &Peers<'_>,
    own: Option<&str>,
    deny: bool,
    services: &Services<'_>,
    warn: &mut dyn FnMut(String),
) -> Option<NRule> {
    let l3 = r.endpoints.is_some_and(|v| !v.is_empty())
        || r.cidr.is_some_and(|v| !v.is_empty())
        || r.cidr_set.is_some_and(|v| !v.is_empty())
        || r.entities.is_some_and(|v| !v.is_empty())
        || r.fqdns
        || r.services.is_some()
        || r.nodes
        || r.groups;
    // `fromEndpoints: []` (an empty list, not an absent one) selects nothing: a deny rule of
    // nothing else denies nothing (an allow rule of it is taken to admit every peer: more).
    let explicit_empty = r.endpoints.is_some_and(<[_]>::is_empty)
        || r.cidr.is_some_and(<[_]>::is_empty)
        || r.cidr_set.is_some_and(<[_]>::is_empty)
        || r.entities.is_some_and(<[_]>::is_empty);
    if deny && !l3 && explicit_empty {
        return None;
    }
    if r.requires {
        warn(if deny {
            "fromRequires/toRequires are not allowed in deny rules; ignored".into()
        } else {
            "fromRequires/toRequires (deprecated) not modelled: the rule is taken to admit without them".into()
        });
    }
    if r.authentication {
        warn(
            "authentication not modelled: the rule is taken to admit unauthenticated peers".into(),
        );
    }
    let (ports, l7) = ports(r.ports, r.icmps, warn);
    let peers = if !l3 {
        if r.ports.is_none() && !r.icmps {
            // `{}`: a rule with nothing in it selects nothing.
            return None;
        }
        None
    } else {
        let mut out = Vec::new();
        for sel in r.endpoints.unwrap_or_default() {
            match translate(sel) {
                Ok(t) if t.reserved => {}
                Ok(t) if deny && !t.unmodelled.is_empty() => warn(format!(
                    "endpoint selector on {} not modelled; peer ignored",
                    t.unmodelled.join(", ")
                )),
                Ok(mut t) => {
                    if !t.unmodelled.is_empty() {
                        warn(format!(
                            "endpoint selector on {} not modelled; taken to match without it",
                            t.unmodelled.join(", ")
                        ));
                    }
                    let only = if t.names_namespace {
                        None
                    } else {
                        own.map(str::to_string)
                    };
                    // Namespace labels in a namespaced policy's peer: Cilium's docs say they
                    // are ignored there, its code (recent versions) lets them reach every
                    // namespace so labelled. An allow admits what either reading admits (the
                    // policy's namespace, and the labelled ones), a deny only what both deny.
                    if only.is_some() && !deny && !t.namespaces.is_empty() {
                        out.push(NPeer::Pods(Selection {
                            namespaces: LabelSelector::default(),
                            only: only.clone(),
                            pods: t.pods.clone(),
                        }));
                        out.push(NPeer::Pods(Selection {
                            namespaces: std::mem::take(&mut t.namespaces),
                            only: None,
                            pods: t.pods,
                        }));
                        continue;
                    }
                    out.push(NPeer::Pods(Selection {
                        namespaces: t.namespaces,
                        only,
                        pods: t.pods,
                    }));
                }
                Err(e) => warn(format!("endpoint selector: {e}; peer ignored")),
            }
        }
        let mut outside = IpSet::empty();
        for c in r.cidr.unwrap_or_default() {
            match IpSet::from_cidr(c) {
                Ok(s) => outside = outside.union(&s),
                Err(e) => warn(format!("{e}; CIDR ignored")),
            }
        }
        for c in r.cidr_set.unwrap_or_default() {
            match &c.cidr {
                Some(cidr) => match IpSet::from_block(cidr, &c.except) {
                    Ok(s) => outside = outside.union(&s),
                    Err(e) => warn(format!("{e}; CIDR ignored")),
                },
                None if deny => warn("CIDR groups not modelled; peer ignored".into()),
                None => {
                    warn(
                        "CIDR groups not modelled; taken as every address outside the cluster"
                            .into(),
                    );
                    outside = IpSet::all();
                }
            }
        }
        for e in r.entities.unwrap_or_default() {
            match entity(e) {
                Some(Entity::World(s)) => outside = outside.union(&s),
                Some(Entity::Cluster) => out.push(NPeer::Pods(Selection::every_pod())),
                Some(Entity::All) => {
                    out.push(NPeer::Pods(Selection::every_pod()));
                    outside = IpSet::all();
                }
                Some(Entity::Ingress) => out.push(NPeer::Pods(Selection {
                    namespaces: LabelSelector {
                        match_labels: [(
                            "kubernetes.io/metadata.name".to_string(),
                            INGRESS_CONTROLLER_NS.to_string(),
                        )]
                        .into_iter()
                        .collect(),
                        match_expressions: Vec::new(),
                    },
                    only: None,
                    pods: LabelSelector::default(),
                })),
                Some(Entity::NoPod) => {}
                None => warn(format!("unknown entity {e:?}; ignored")),
            }
        }
        if r.fqdns {
            // DNS names outside the cluster resolve to public addresses.
            outside = outside.union(&IpSet::internet());
        }
        if let Some(list) = r.services {
            if deny {
                warn("toServices in a deny rule not modelled; peer ignored".into());
            } else {
                // A Service's backends: its selector's pods, or (without one) the addresses it
                // was given, taken as every address outside the cluster.
                outside = IpSet::all();
                for svc in list {
                    match &svc.k8s_service {
                        Some(s) => {
                            let ns = s
                                .namespace
                                .clone()
                                .or(own.map(str::to_string))
                                .unwrap_or_default();
                            match services(&ns, &s.service_name) {
                                Some(Some(selector)) => out.push(NPeer::Pods(Selection {
                                    namespaces: LabelSelector {
                                        match_labels: [(
                                            "kubernetes.io/metadata.name".to_string(),
                                            ns,
                                        )]
                                        .into_iter()
                                        .collect(),
                                        match_expressions: Vec::new(),
                                    },
                                    only: None,
                                    pods: LabelSelector {
                                        match_labels: selector,
                                        match_expressions: Vec::new(),
                                    },
                                })),
                                Some(None) => {}
                                None => warn(format!(
                                    "toServices: Service {ns}/{} not in the input; taken as every address outside the cluster",
                                    s.service_name
                                )),
                            }
                        }
                        None => {
                            warn("toServices by label not modelled; taken as every pod and every address outside the cluster".into());
                            out.push(NPeer::Pods(Selection::every_pod()));
                        }
                    }
                }
            }
        }
        if r.groups {
            if deny {
                warn("toGroups/fromGroups not modelled; peer ignored".into());
            } else {
                warn(
                    "toGroups/fromGroups not modelled; taken as every address outside the cluster"
                        .into(),
                );
                outside = IpSet::all();
            }
        }
        if !outside.is_empty() {
            out.push(NPeer::Outside(outside));
        }
        if deny && out.is_empty() {
            return None;
        }
        Some(out)
    };
    Some(NRule { peers, ports, l7 })
}

/// What an entity stands for.
enum Entity {
    /// Addresses outside the cluster.
    World(IpSet),
    /// Every pod.
    Cluster,
    /// Every pod and every address.
    All,
    /// The ingress controller.
    Ingress,
    /// Nodes, the API server, health endpoints: not pods rampart reaches through a policy.
    NoPod,
}

fn entity(name: &str) -> Option<Entity> {
    let v4 = || IpSet::from_v4_ranges(vec![(0, u32::MAX)]);
    Some(match name {
        "world" => Entity::World(IpSet::all()),
        "world-ipv4" => Entity::World(v4()),
        "world-ipv6" => Entity::World(IpSet::all().subtract(&v4())),
        "cluster" => Entity::Cluster,
        "all" => Entity::All,
        "ingress" => Entity::Ingress,
        "host" | "remote-node" | "kube-apiserver" | "health" | "init" | "unmanaged" | "none" => {
            Entity::NoPod
        }
        _ => return None,
    })
}

/// A rule's ports (`None`: every port) and whether L7 rules restrict them further. A rule of
/// ICMP alone admits no port.
fn ports(
    list: Option<&[CiliumPortRule]>,
    icmps: bool,
    warn: &mut dyn FnMut(String),
) -> (Option<Vec<RulePort>>, bool) {
    let Some(list) = list.filter(|l| !l.is_empty()) else {
        return (icmps.then(Vec::new), false);
    };
    let mut out = Vec::new();
    let mut l7 = false;
    for (i, pr) in list.iter().enumerate() {
        l7 |= pr.rules.is_some() || pr.server_names.is_some();
        if pr.ports.is_empty() {
            return (None, l7);
        }
        for (j, p) in pr.ports.iter().enumerate() {
            let at = format!("toPorts[{i}].ports[{j}]");
            let protocols: Vec<Protocol> = match p.protocol.as_deref() {
                None | Some("ANY" | "any") => Protocol::ALL.to_vec(),
                Some(other) => match Protocol::parse(Some(other)) {
                    Some(proto) => vec![proto],
                    None => {
                        // ICMP and the like carry no port.
                        if !other.eq_ignore_ascii_case("ICMP")
                            && !other.eq_ignore_ascii_case("ICMPv6")
                        {
                            warn(format!("{at}: unknown protocol {other:?}; port ignored"));
                        }
                        continue;
                    }
                },
            };
            let number = match &p.port {
                None => Some(0),
                Some(rampart_model::de::IntOrString::Int(n)) => Some(*n),
                Some(rampart_model::de::IntOrString::Str(s)) => s.trim().parse::<i64>().ok(),
            };
            match number {
                Some(0) => {
                    for &proto in &protocols {
                        out.push(RulePort::Numbers(PortSet::all_of(proto)));
                    }
                }
                Some(n) => {
                    let (Ok(start), end) = (u16::try_from(n), p.end_port.unwrap_or(n)) else {
                        warn(format!("{at}: port {n} out of range; port ignored"));
                        continue;
                    };
                    let Some(end) = u16::try_from(end).ok().filter(|e| *e >= start) else {
                        warn(format!("{at}: endPort {end} invalid; port ignored"));
                        continue;
                    };
                    for &proto in &protocols {
                        out.push(RulePort::Numbers(PortSet::range(proto, start, end)));
                    }
                }
                None => {
                    let name = match &p.port {
                        Some(rampart_model::de::IntOrString::Str(s)) => s.clone(),
                        _ => String::new(),
                    };
                    for &proto in &protocols {
                        out.push(RulePort::Named(proto, name.clone()));
                    }
                }
            }
        }
    }
    (Some(out), l7)
}

/// A Cilium label selector, translated.
#[derive(Debug, Default)]
struct Translated {
    /// Namespace conditions, as a selector of Namespace labels.
    namespaces: LabelSelector,
    /// Pod conditions.
    pods: LabelSelector,
    /// Names the namespace by name (so a CiliumNetworkPolicy's peer is not confined to its
    /// own).
    names_namespace: bool,
    /// Names a reserved identity (a node, the world): no pod.
    reserved: bool,
    /// Keys rampart cannot check, dropped.
    unmodelled: Vec<String>,
}

/// Where a key of a Cilium selector points.
enum Key {
    Namespace(String),
    Pod(String),
    Reserved,
    Unmodelled(String),
}

fn key(raw: &str) -> Key {
    let k = raw
        .strip_prefix("k8s:")
        .or_else(|| raw.strip_prefix("any:"))
        .unwrap_or(raw);
    // Any other source (`reserved:`, `cidr:`, `fqdn:`, …) labels identities that are no pod.
    if k.contains(':') {
        return Key::Reserved;
    }
    if k == NAMESPACE_KEY {
        return Key::Namespace("kubernetes.io/metadata.name".into());
    }
    if let Some(label) = k.strip_prefix(NAMESPACE_LABELS) {
        return Key::Namespace(label.to_string());
    }
    if UNMODELLED_KEYS.contains(&k) {
        return Key::Unmodelled(k.to_string());
    }
    Key::Pod(k.to_string())
}

fn translate(sel: &LabelSelector) -> Result<Translated, String> {
    let mut t = Translated::default();
    for (k, v) in &sel.match_labels {
        match key(k) {
            Key::Namespace(k) => {
                t.names_namespace |= k == "kubernetes.io/metadata.name";
                t.namespaces.match_labels.insert(k, v.clone());
            }
            Key::Pod(k) => {
                t.pods.match_labels.insert(k, v.clone());
            }
            Key::Reserved => t.reserved = true,
            Key::Unmodelled(k) => t.unmodelled.push(k),
        }
    }
    for r in &sel.match_expressions {
        let moved = |key: String| Requirement {
            key,
            operator: r.operator,
            values: r.values.clone(),
        };
        match key(&r.key) {
            Key::Namespace(k) => {
                t.names_namespace |= k == "kubernetes.io/metadata.name";
                t.namespaces.match_expressions.push(moved(k));
            }
            Key::Pod(k) => t.pods.match_expressions.push(moved(k)),
            // A reserved label a pod never has: `DoesNotExist`/`NotIn` hold for every pod.
            Key::Reserved => {
                if matches!(r.operator, Operator::In | Operator::Exists) {
                    t.reserved = true;
                }
            }
            Key::Unmodelled(k) => t.unmodelled.push(k),
        }
    }
    t.unmodelled.sort();
    t.unmodelled.dedup();
    t.pods.validate().map_err(|e| e.to_string())?;
    t.namespaces.validate().map_err(|e| e.to_string())?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(yaml: &str) -> LabelSelector {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn keys_split_into_namespace_and_pod_conditions() {
        let t = translate(&sel(
            "matchLabels: {\"k8s:io.kubernetes.pod.namespace\": prod, app: web, \"io.cilium.k8s.namespace.labels.team\": a}",
        ))
        .unwrap();
        assert!(t.names_namespace);
        assert_eq!(t.namespaces.match_labels.len(), 2);
        assert_eq!(
            t.namespaces
                .match_labels
                .get("kubernetes.io/metadata.name")
                .map(String::as_str),
            Some("prod")
        );
        assert_eq!(
            t.namespaces.match_labels.get("team").map(String::as_str),
            Some("a")
        );
        assert_eq!(
            t.pods.match_labels.get("app").map(String::as_str),
            Some("web")
        );
        let t = translate(&sel(
            "matchLabels: {\"io.cilium.k8s.namespace.labels.team\": a}",
        ))
        .unwrap();
        assert!(
            !t.names_namespace,
            "a namespace label does not name the namespace"
        );
        let t = translate(&sel("matchLabels: {\"reserved:host\": \"\"}")).unwrap();
        assert!(t.reserved);
        let t = translate(&sel(
            "matchExpressions: [{key: \"reserved:host\", operator: DoesNotExist}]",
        ))
        .unwrap();
        assert!(!t.reserved, "no pod has a reserved label");
        let t = translate(&sel(
            "matchLabels: {\"io.cilium.k8s.policy.serviceaccount\": sa}",
        ))
        .unwrap();
        assert_eq!(t.unmodelled, ["io.cilium.k8s.policy.serviceaccount"]);
        assert!(t.pods.is_empty());
    }
}
