//! AdminNetworkPolicy and BaselineAdminNetworkPolicy (`policy.networking.k8s.io/v1alpha1`)
//! over the same reachability classes as NetworkPolicy.
//!
//! A subject or a pod peer is an atom like a NetworkPolicy's selector (an empty pod selector
//! for `namespaces`, placed in every namespace the namespace selector picks), so pods every
//! admin rule treats alike stay in one class. Precedence, per direction and per port: the
//! AdminNetworkPolicies by ascending priority (ties by name), each one's rules in order, the
//! first matching rule decides — `Allow` and `Deny` for good, `Pass` hands the port to the
//! NetworkPolicies; then the NetworkPolicies when they isolate the pod; then the
//! BaselineAdminNetworkPolicy's rules in order; then allowed. `nodes` peers are not modelled
//! (nodes are not pods rampart reaches through a policy): they match nothing, with a warning.

use rampart_model::LabelSelector;
use rampart_model::objects::{AdminNetworkPolicy, AdminPort, NamespacedPods};

use super::{DeclaredPort, NetClass};
use crate::ipset::IpSet;
use crate::ports::{PortSet, Protocol};

/// What a matching rule does with the ports it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Allowed, whatever the NetworkPolicies say.
    Allow,
    /// Denied, whatever the NetworkPolicies say.
    Deny,
    /// Left to the NetworkPolicies (and then the baseline); AdminNetworkPolicy only.
    Pass,
}

/// A rule's peer, compiled.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminPeer {
    /// Pods matching an atom.
    Pods(u32),
    /// Addresses (egress `networks`); every address holds every pod too.
    Networks(IpSet),
    /// Addresses outside the cluster only (a Cilium deny rule's CIDRs and `world`: Cilium
    /// matches pods by identity, never by address).
    Outside(IpSet),
}

/// A rule's port, compiled.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminRulePort {
    /// Numbers or a range.
    Numbers(PortSet),
    /// A container port's name, of any protocol, resolved against the destination.
    Named(String),
}

/// A rule, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminRule {
    /// Its name.
    pub name: String,
    /// What it does.
    pub action: Action,
    /// Its peers (a rule whose every peer was dropped matches nothing).
    pub peers: Vec<AdminPeer>,
    /// `None`: every port.
    pub ports: Option<Vec<AdminRulePort>>,
}

/// An AdminNetworkPolicy or the BaselineAdminNetworkPolicy, or the deny rules of a Cilium
/// policy (evaluated before everything else), compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminPolicy {
    /// Its kind.
    pub kind: &'static str,
    /// Namespace (a CiliumNetworkPolicy's; empty for cluster-scoped kinds).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Where its ingress and egress rules sit: `spec.ingress`, `specs[1].ingressDeny`, ….
    pub fields: (String, String),
    /// The baseline (evaluated after the NetworkPolicies).
    pub baseline: bool,
    /// Priority (0 for the baseline).
    pub priority: i64,
    /// The atom of its subject.
    pub subject_atom: u32,
    /// Ingress rules, in order.
    pub ingress: Vec<AdminRule>,
    /// Egress rules, in order.
    pub egress: Vec<AdminRule>,
}

impl AdminPolicy {
    /// Whether an egress rule names pods (a `networks` peer holding every address does too):
    /// rules naming only narrower `networks` leave in-cluster traffic to the NetworkPolicies.
    pub fn egress_names_pods(&self) -> bool {
        self.egress.iter().any(|r| {
            r.peers
                .iter()
                .any(|x| matches!(x, AdminPeer::Pods(_)) || x.selects_every_pod())
        })
    }

    /// Its kind: `AdminNetworkPolicy`, `BaselineAdminNetworkPolicy`, `CiliumNetworkPolicy`, ….
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Evidence field of rule `rule` of a direction.
    pub fn rule_field(&self, ingress: bool, rule: u32) -> String {
        let at = if ingress {
            &self.fields.0
        } else {
            &self.fields.1
        };
        format!("{at}[{rule}]")
    }

    /// Whether an AdminNetworkPolicy (or the baseline) rather than a Cilium policy's deny rules:
    /// the kind the actuator writes and the cut could propose.
    pub fn is_admin_network_policy(&self) -> bool {
        self.kind.ends_with("AdminNetworkPolicy")
    }
}

/// Where a selector of an admin policy applies: the namespace selector and the pod selector.
pub(super) struct Selection<'a> {
    pub namespaces: &'a LabelSelector,
    pub pods: &'a LabelSelector,
}

static EVERY_POD: LabelSelector = LabelSelector {
    match_labels: rampart_model::Labels::new(),
    match_expressions: Vec::new(),
};

/// The selection of `namespaces` (every pod) or `pods`, whichever is set; `None` (with the
/// reason) when neither or both are, or a selector is invalid.
pub(super) fn selection<'a>(
    namespaces: Option<&'a LabelSelector>,
    pods: Option<&'a NamespacedPods>,
) -> Result<Selection<'a>, String> {
    let s = match (namespaces, pods) {
        (Some(n), None) => Selection {
            namespaces: n,
            pods: &EVERY_POD,
        },
        (None, Some(p)) => Selection {
            namespaces: &p.namespace_selector,
            pods: &p.pod_selector,
        },
        (None, None) => return Err("neither namespaces nor pods is set".into()),
        (Some(_), Some(_)) => return Err("both namespaces and pods are set".into()),
    };
    s.namespaces.validate().map_err(|e| e.to_string())?;
    s.pods.validate().map_err(|e| e.to_string())?;
    Ok(s)
}

/// The action of a rule, as its policy kind allows it.
pub(super) fn action(text: &str, baseline: bool) -> Result<Action, String> {
    match text {
        "Allow" => Ok(Action::Allow),
        "Deny" => Ok(Action::Deny),
        "Pass" if !baseline => Ok(Action::Pass),
        other => Err(format!("unknown action {other:?}")),
    }
}

/// A rule's ports, compiled; the entries that make no sense are dropped with a reason each.
pub(super) fn ports(
    ports: &[AdminPort],
    warn: &mut dyn FnMut(usize, String),
) -> Vec<AdminRulePort> {
    let mut out = Vec::new();
    let port = |n: i64| u16::try_from(n).ok().filter(|p| *p > 0);
    for (i, p) in ports.iter().enumerate() {
        match (&p.port_number, &p.named_port, &p.port_range) {
            (Some(n), None, None) => match (Protocol::parse(n.protocol.as_deref()), port(n.port)) {
                (Some(proto), Some(num)) => {
                    out.push(AdminRulePort::Numbers(PortSet::single(proto, num)));
                }
                _ => warn(i, format!("portNumber {} {:?} invalid", n.port, n.protocol)),
            },
            (None, Some(name), None) if !name.is_empty() => {
                out.push(AdminRulePort::Named(name.clone()));
            }
            (None, None, Some(r)) => {
                match (
                    Protocol::parse(r.protocol.as_deref()),
                    port(r.start),
                    port(r.end),
                ) {
                    (Some(proto), Some(a), Some(b)) if a <= b => {
                        out.push(AdminRulePort::Numbers(PortSet::range(proto, a, b)));
                    }
                    _ => warn(
                        i,
                        format!("portRange {}-{} {:?} invalid", r.start, r.end, r.protocol),
                    ),
                }
            }
            _ => warn(i, "exactly one of portNumber, namedPort, portRange".into()),
        }
    }
    out
}

/// The ports a rule names, named ports resolved against the destination `dst` (`None`: an
/// address outside the cluster, which has no named ports).
pub(super) fn resolve(ports: &Option<Vec<AdminRulePort>>, dst: Option<&[DeclaredPort]>) -> PortSet {
    let Some(ports) = ports else {
        return PortSet::all();
    };
    let mut out = PortSet::empty();
    for p in ports {
        match p {
            AdminRulePort::Numbers(s) => out.union_with(s),
            AdminRulePort::Named(name) => {
                for dp in dst.unwrap_or_default() {
                    if dp.name.as_deref() == Some(name.as_str()) {
                        out.union_with(&PortSet::single(dp.protocol, dp.port));
                    }
                }
            }
        }
    }
    out
}

/// The other end of a connection, as the subject's rules see it.
#[derive(Clone, Copy)]
pub(super) enum Other<'a> {
    /// Pods of a class.
    Pods(&'a NetClass),
    /// Addresses outside the cluster: an atomic range of the policies' blocks, or `None` for
    /// "some public address".
    External(Option<&'a IpSet>),
}

/// How a peer matches the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Match {
    /// Not at all.
    No,
    /// For some of the addresses "some public address" stands for.
    Partly,
    /// Wholly.
    Yes,
}

impl AdminPeer {
    /// Whether `networks` hold every IPv4 or every IPv6 address: then they hold every pod's
    /// address too (the API: "cluster-internal traffic will be checked against the rule as
    /// well"). Pod addresses are not modelled otherwise, so a narrower CIDR matches no pod.
    pub fn selects_every_pod(&self) -> bool {
        match self {
            AdminPeer::Networks(n) => {
                n.v4_ranges() == [(0, u32::MAX)] || n.v6_ranges() == [(0, u128::MAX)]
            }
            AdminPeer::Pods(_) | AdminPeer::Outside(_) => false,
        }
    }

    /// How the peer matches `other`.
    fn matches(&self, other: Other<'_>) -> Match {
        let yes = |b: bool| if b { Match::Yes } else { Match::No };
        match (self, other) {
            (AdminPeer::Pods(atom), Other::Pods(c)) => yes(c.has(*atom)),
            (AdminPeer::Networks(_), Other::Pods(_)) => yes(self.selects_every_pod()),
            (AdminPeer::Pods(_), Other::External(_)) | (AdminPeer::Outside(_), Other::Pods(_)) => {
                Match::No
            }
            (AdminPeer::Networks(n) | AdminPeer::Outside(n), Other::External(Some(range))) => {
                yes(n.contains_set(range))
            }
            (AdminPeer::Networks(n) | AdminPeer::Outside(n), Other::External(None)) => {
                let internet = IpSet::internet();
                if n.contains_set(&internet) {
                    Match::Yes
                } else if n.intersect(&internet).is_empty() {
                    Match::No
                } else {
                    Match::Partly
                }
            }
        }
    }
}

/// Admin rules, as (policy, rule) indices.
pub type RuleRefs = Vec<(u32, u32)>;

/// The admin layers' verdict on one direction of a connection, per port.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Allowed by an AdminNetworkPolicy.
    pub allowed: PortSet,
    /// Left to the NetworkPolicies (passed or matched by no AdminNetworkPolicy rule).
    pub to_policies: PortSet,
    /// Of those, what the baseline lets through when no NetworkPolicy isolates the pod.
    pub baseline: PortSet,
    /// The admin rules that decided a port: (policy, rule).
    pub rules: RuleRefs,
}

/// The verdict of the admin policies `subject_policies` (indices into `policies`, in
/// precedence order) on traffic in one direction between their subject and `other`, ports
/// named against `dst`.
pub(super) fn verdict(
    policies: &[AdminPolicy],
    subject_policies: &[u32],
    ingress: bool,
    other: Other<'_>,
    dst: Option<&[DeclaredPort]>,
) -> Verdict {
    let mut undecided = PortSet::all();
    let mut allowed = PortSet::empty();
    let mut passed = PortSet::empty();
    let mut baseline_undecided: Option<PortSet> = None;
    let mut baseline_allowed = PortSet::empty();
    let mut rules = Vec::new();
    for &pi in subject_policies {
        let Some(p) = policies.get(pi as usize) else {
            continue;
        };
        if p.baseline && baseline_undecided.is_none() {
            // The AdminNetworkPolicies are done: what they left goes to the NetworkPolicies,
            // and the baseline judges it for pods no NetworkPolicy isolates.
            passed.union_with(&undecided);
            baseline_undecided = Some(passed.clone());
        }
        for (ri, r) in if ingress { &p.ingress } else { &p.egress }
            .iter()
            .enumerate()
        {
            // For "some public address", a rule holding only part of it decides for that part
            // alone: its ports take the rule's outcome and stay undecided for the rest (so a
            // `Deny` takes nothing away). What is reported reachable is never less than what is.
            let partly = match r.peers.iter().map(|peer| peer.matches(other)).max() {
                None | Some(Match::No) => continue,
                Some(Match::Partly) => true,
                Some(Match::Yes) => false,
            };
            let open = if p.baseline {
                baseline_undecided.as_mut()
            } else {
                Some(&mut undecided)
            };
            let Some(open) = open else { continue };
            let ports = resolve(&r.ports, dst).intersect(open);
            if ports.is_empty() {
                continue;
            }
            if !partly {
                *open = open.subtract(&ports);
            }
            match (p.baseline, r.action) {
                (false, Action::Allow) => allowed.union_with(&ports),
                (false, Action::Pass) => passed.union_with(&ports),
                (true, Action::Allow) => baseline_allowed.union_with(&ports),
                (_, Action::Deny) | (true, Action::Pass) => {}
            }
            rules.push((pi, u32::try_from(ri).unwrap_or(u32::MAX)));
        }
    }
    let (to_policies, baseline) = match baseline_undecided {
        Some(rest) => (passed, baseline_allowed.union(&rest)),
        None => {
            passed.union_with(&undecided);
            (passed.clone(), passed)
        }
    };
    Verdict {
        allowed,
        to_policies,
        baseline,
        rules,
    }
}

/// Compiles the snapshot's admin policies in precedence order: the AdminNetworkPolicies by
/// priority then name, then the baseline(s).
pub(super) fn ordered(snapshot: &rampart_model::Snapshot) -> Vec<&AdminNetworkPolicy> {
    let mut v: Vec<&AdminNetworkPolicy> =
        snapshot.admin_network_policies().map(|(_, p)| p).collect();
    v.sort_by(|a, b| {
        (a.baseline, a.spec.priority.unwrap_or(0), &a.metadata.name).cmp(&(
            b.baseline,
            b.spec.priority.unwrap_or(0),
            &b.metadata.name,
        ))
    });
    v
}

/// Compiles admin policy `p` as the one of index `idx`: its subject and pod peers become atoms
/// (numbered from `atom_owner`'s length), placed in the namespaces their selectors pick.
/// `None` when its subject is invalid (the policy is ignored, with a warning).
pub(super) fn compile<'a>(
    p: &'a AdminNetworkPolicy,
    idx: u32,
    namespaces: &'a [(String, rampart_model::Labels)],
    placed: &mut Vec<super::Placement<'a>>,
    atom_owner: &mut Vec<super::AtomOwner>,
    sets: &mut super::PeerSets,
    warnings: &mut Vec<String>,
) -> Option<AdminPolicy> {
    let kind = if p.baseline {
        "BaselineAdminNetworkPolicy"
    } else {
        "AdminNetworkPolicy"
    };
    let pname = format!("{kind} {}", p.metadata.name);
    let mut place = |s: &Selection<'a>, atom_owner: &mut Vec<super::AtomOwner>| -> u32 {
        let atom = u32::try_from(atom_owner.len()).unwrap_or(u32::MAX);
        atom_owner.push(super::AtomOwner::Admin(idx));
        sets.selecting();
        for &i in sets.namespaces_selected(s.namespaces, namespaces) {
            if let Some((n, _)) = namespaces.get(i as usize) {
                placed.push((n.as_str(), atom, s.pods));
            }
        }
        atom
    };
    let subject = match selection(
        p.spec.subject.namespaces.as_ref(),
        p.spec.subject.pods.as_ref(),
    ) {
        Ok(s) => s,
        Err(e) => {
            warnings.push(format!("{pname}: subject: {e}; policy ignored"));
            return None;
        }
    };
    let subject_atom = place(&subject, atom_owner);
    let mut rules = |list: &'a [rampart_model::objects::AdminRule],
                     dir: &str,
                     atom_owner: &mut Vec<super::AtomOwner>|
     -> Vec<AdminRule> {
        let mut out = Vec::new();
        for (ri, r) in list.iter().enumerate() {
            let at = format!("{pname}: {dir}[{ri}] {:?}", r.name);
            let action = match action(&r.action, p.baseline) {
                Ok(a) => a,
                Err(e) => {
                    warnings.push(format!("{at}: {e}; rule ignored"));
                    continue;
                }
            };
            let mut peers = Vec::new();
            for (pi, peer) in r.peers.iter().enumerate() {
                let set_fields = [
                    peer.namespaces.is_some(),
                    peer.pods.is_some(),
                    peer.nodes.is_some(),
                    peer.networks.is_some(),
                ]
                .iter()
                .filter(|b| **b)
                .count();
                if set_fields != 1 {
                    warnings.push(format!(
                        "{at} peer[{pi}]: exactly one of namespaces, pods, nodes, networks must be set; peer ignored"
                    ));
                    continue;
                }
                if dir == "ingress" && (peer.networks.is_some() || peer.nodes.is_some()) {
                    warnings.push(format!(
                        "{at} peer[{pi}]: nodes and networks are egress peers; peer ignored"
                    ));
                    continue;
                }
                if let Some(nets) = &peer.networks {
                    let mut set = IpSet::empty();
                    for cidr in nets {
                        match IpSet::from_cidr(cidr) {
                            Ok(s) => set = set.union(&s),
                            Err(e) => {
                                warnings.push(format!("{at} peer[{pi}]: {e}; network ignored"));
                            }
                        }
                    }
                    peers.push(AdminPeer::Networks(set));
                    continue;
                }
                if peer.nodes.is_some() {
                    warnings.push(format!(
                        "{at} peer[{pi}]: nodes peers are not modelled; peer ignored"
                    ));
                    continue;
                }
                match selection(peer.namespaces.as_ref(), peer.pods.as_ref()) {
                    Ok(s) => peers.push(AdminPeer::Pods(place(&s, atom_owner))),
                    Err(e) => warnings.push(format!("{at} peer[{pi}]: {e}; peer ignored")),
                }
            }
            let ports = r.ports.as_ref().map(|list| {
                ports(list, &mut |i, e| {
                    warnings.push(format!("{at} ports[{i}]: {e}; port ignored"));
                })
            });
            out.push(AdminRule {
                name: r.name.clone(),
                action,
                peers,
                ports,
            });
        }
        out
    };
    let ingress = rules(&p.spec.ingress, "ingress", atom_owner);
    let egress = rules(&p.spec.egress, "egress", atom_owner);
    Some(AdminPolicy {
        kind,
        namespace: String::new(),
        name: p.metadata.name.clone(),
        fields: ("spec.ingress".into(), "spec.egress".into()),
        baseline: p.baseline,
        priority: p.spec.priority.unwrap_or(0),
        subject_atom,
        ingress,
        egress,
    })
}
