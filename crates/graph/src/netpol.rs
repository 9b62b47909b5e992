//! NetworkPolicy semantics over reachability classes.
//!
//! Pods are never paired one by one: every pod group is reduced to the set of policy *atoms* it
//! matches (each policy's `podSelector`, each pod-selecting peer of each rule) plus the ports it
//! declares. Pods with the same atoms and ports are treated identically by every policy, so they
//! form one [`NetClass`]; reachability is computed between classes. A flat 10k-pod cluster has a
//! handful of classes, and a label change moves one pod group between classes
//! ([`NetModel::reclass`]); the cut's what-if model takes policies in and out in place
//! ([`NetModel::add_policies`], [`NetModel::remove_policies`]).
//!
//! Semantics (Kubernetes `networking.k8s.io/v1`): a pod is isolated for a direction when a policy
//! selecting it has that policy type (`policyTypes` defaulting to Ingress, plus Egress when egress
//! rules exist); isolated traffic is allowed by the union of rules; a connection needs the
//! source's egress **and** the destination's ingress to allow it; an empty peer list means every
//! peer, an empty port list every port; `podSelector` + `namespaceSelector` in one peer is an AND;
//! named ports resolve against the destination's container ports; `ipBlock` only ever matches
//! addresses outside the cluster.

use std::collections::HashMap;
use std::fmt;

use rampart_model::{LabelSelector, Labels, Snapshot, Workload, WorkloadId, Workloads};

use crate::ipset::IpSet;
use crate::ports::{PortSet, Protocol};

pub mod admin;
mod cilium;
pub mod mesh;

use admin::{AdminPolicy, Other};

/// Index of a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClassId(pub u32);

impl ClassId {
    /// As an index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A port a container declares.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeclaredPort {
    /// Port name.
    pub name: Option<String>,
    /// Number.
    pub port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

/// A rule's port entry, compiled.
#[derive(Debug, Clone, PartialEq)]
pub enum RulePort {
    /// Numbers or a range (or a whole protocol).
    Numbers(PortSet),
    /// A named port, resolved against the destination.
    Named(Protocol, String),
}

/// A rule's peer, compiled.
#[derive(Debug, Clone, PartialEq)]
pub enum Peer {
    /// Pods matched by an atom; `any` when the peer selects every pod of every namespace.
    Pods {
        /// The atom.
        atom: u32,
        /// `namespaceSelector: {}` with no (or an empty) `podSelector`.
        any: bool,
    },
    /// Addresses outside the cluster.
    Block(IpSet),
}

/// An ingress or egress rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `None`: every peer.
    pub peers: Option<Vec<Peer>>,
    /// `None`: every port.
    pub ports: Option<Vec<RulePort>>,
    /// Further restricted at L7 (a Cilium rule's HTTP, Kafka or DNS rules): what it admits is
    /// modelled at L4, and said on the step.
    pub l7: bool,
}

/// A NetworkPolicy (or a rule of a Cilium policy, enforced with them), compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledPolicy {
    /// `NetworkPolicy`, `CiliumNetworkPolicy` or `CiliumClusterwideNetworkPolicy`.
    pub kind: &'static str,
    /// Namespace (empty for a clusterwide policy).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Where its rules sit in the object: `spec`, or `specs[i]` of a Cilium policy.
    pub path: String,
    /// Ingress rules when the policy applies to ingress.
    pub ingress: Option<Vec<Rule>>,
    /// Egress rules when the policy applies to egress.
    pub egress: Option<Vec<Rule>>,
    /// Whether it isolates the pods it selects, per direction (ingress, egress). A Cilium rule
    /// with its default deny off does not: its rules only add to the pods' other policies.
    pub isolates: (bool, bool),
    /// Taken out of the model ([`NetModel::remove_policies`]): it isolates nothing and its
    /// atoms match no pod, but its index stays.
    pub retired: bool,
    /// The atom of its `podSelector`.
    pub selecting_atom: u32,
}

impl CompiledPolicy {
    /// Whether it is a Kubernetes NetworkPolicy (the kind the cut edits and the what-if model
    /// adds and removes).
    pub fn is_network_policy(&self) -> bool {
        self.kind == "NetworkPolicy"
    }

    /// Evidence field of one of its rules: `spec.ingress[2]`, `specs[1].egress[0]`.
    pub fn rule_field(&self, ingress: bool, rule: u32) -> String {
        let dir = if ingress { "ingress" } else { "egress" };
        format!("{}.{dir}[{rule}]", self.path)
    }

    /// Whether rule `rule` of the direction is further restricted at L7.
    pub fn rule_l7(&self, ingress: bool, rule: u32) -> bool {
        let rules = if ingress { &self.ingress } else { &self.egress };
        rules
            .as_ref()
            .and_then(|r| r.get(rule as usize))
            .is_some_and(|r| r.l7)
    }
}

/// Pods that every policy treats alike.
#[derive(Debug, Clone)]
pub struct NetClass {
    /// Index.
    pub id: ClassId,
    /// The atoms its pods match, ascending. A list, not a bit set: a class matches a few of
    /// the model's atoms, and bit sets of classes × atoms grew with the square of the cluster
    /// (36 MB at 100k dense pods, widened for every class when rampart's policies add atoms).
    atoms: Vec<u32>,
    /// How many 64-bit words the model's atoms take: the width of the set [`Signature`]
    /// orders and prints.
    words: usize,
    /// Ports the pods declare.
    pub ports: Vec<DeclaredPort>,
    /// Policies isolating ingress of these pods.
    pub ingress_policies: Vec<u32>,
    /// Policies isolating egress of these pods.
    pub egress_policies: Vec<u32>,
    /// A service mesh judges what reaches these pods (by the source's identity).
    pub mesh: bool,
    /// Admin policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy) whose subject these
    /// pods are, in precedence order, and whether any has ingress or egress rules.
    pub admin: Vec<u32>,
    /// What the AdminNetworkPolicies among them have rules for.
    anp: AdminRules,
    /// What the BaselineAdminNetworkPolicy among them has rules for (it only counts where no
    /// NetworkPolicy isolates the pods).
    banp: AdminRules,
    /// `(workload, pod group)` members.
    pub members: Vec<(WorkloadId, usize)>,
}

impl NetClass {
    fn has(&self, atom: u32) -> bool {
        self.atoms.binary_search(&atom).is_ok()
    }

    /// Whether these pods match atom `atom`.
    pub fn has_atom(&self, atom: u32) -> bool {
        self.has(atom)
    }

    /// The atoms these pods match, ascending.
    fn atom_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.atoms.iter().copied()
    }

    /// Whether these pods are exactly those matching `atoms` (sorted atom ids, as
    /// [`NetModel::atoms_of`] gives them).
    pub fn matches_atoms(&self, atoms: &[u32]) -> bool {
        self.atoms == atoms
    }

    /// What the class is, independent of its index: the selectors its pods match and the ports
    /// they declare. Two classes with pods never share it (a class emptied by a merge in
    /// [`NetModel::remove_policies`] keeps the signature of the one it merged into).
    pub fn signature(&self) -> Signature<'_> {
        Signature {
            atoms: &self.atoms,
            words: self.words,
            ports: &self.ports,
        }
    }

    /// Whether no policy restricts ingress: no NetworkPolicy isolates it and no admin policy
    /// has ingress rules for it.
    pub fn ingress_open(&self) -> bool {
        self.ingress_policies.is_empty() && !self.admin_ingress()
    }

    /// Whether no policy restricts in-cluster egress.
    pub fn egress_open(&self) -> bool {
        self.egress_policies.is_empty() && !self.admin_egress()
    }

    /// Whether admin policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy) judge what
    /// reaches these pods, source by source: an AdminNetworkPolicy has ingress rules for
    /// them, or the baseline has and no NetworkPolicy isolates them (one that does decides
    /// alone after the AdminNetworkPolicies).
    pub fn admin_ingress(&self) -> bool {
        self.admin_policies_ingress() || self.mesh
    }

    /// Whether admin policies proper (not a mesh) judge what reaches these pods.
    pub fn admin_policies_ingress(&self) -> bool {
        self.anp.ingress || (self.banp.ingress && self.ingress_policies.is_empty())
    }

    /// Whether admin policies judge what these pods send to other pods (rules naming pods).
    pub fn admin_egress(&self) -> bool {
        self.anp.egress_pods || (self.banp.egress_pods && self.egress_policies.is_empty())
    }

    /// Whether admin policies alone judge what these pods send to other pods: their egress is
    /// judged and no NetworkPolicy isolates it (the graph then sends them through their admin
    /// group only; with one, they keep pair edges).
    pub fn admin_egress_only(&self) -> bool {
        self.admin_egress() && self.egress_policies.is_empty()
    }

    /// Whether admin policies judge what these pods send anywhere (addresses outside the
    /// cluster included).
    pub fn admin_egress_any(&self) -> bool {
        self.anp.egress || (self.banp.egress && self.egress_policies.is_empty())
    }

    /// Ports the pods listen on: the declared ports, or every port when none are declared
    /// (a container needs no `containerPort` to accept connections).
    pub fn listening(&self) -> PortSet {
        if self.ports.is_empty() {
            return PortSet::all();
        }
        let mut s = PortSet::empty();
        for p in &self.ports {
            s.union_with(&PortSet::single(p.protocol, p.port));
        }
        s
    }
}

/// What a class is ([`NetClass::signature`]): its atoms, as a bit set of the model's width, and
/// its declared ports. Ordered and printed as that bit set (`[u64]` words, then the ports), so
/// that class order — which breaks ties between equal chains — does not depend on how the set
/// is held.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature<'a> {
    atoms: &'a [u32],
    words: usize,
    ports: &'a [DeclaredPort],
}

impl Signature<'_> {
    /// The bit set's word `w`, from the atoms in it (`atoms` from the first one in it on);
    /// the atoms after it.
    fn word(atoms: &[u32], w: usize) -> (u64, &[u32]) {
        let n = atoms.partition_point(|&a| a as usize / 64 == w);
        let bits = atoms[..n].iter().fold(0u64, |b, &a| b | 1 << (a % 64));
        (bits, &atoms[n..])
    }

    /// The bit set, as `[u64]` words.
    fn bits(&self) -> Vec<u64> {
        let mut bits = vec![0u64; self.words];
        for &a in self.atoms {
            if let Some(w) = bits.get_mut(a as usize / 64) {
                *w |= 1 << (a % 64);
            }
        }
        bits
    }
}

impl Ord for Signature<'_> {
    /// As the `[u64]` words compare (word by word, then the shorter first), then the ports:
    /// only the words with an atom in either set are looked at.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        let shared = self.words.min(other.words);
        let below = |atoms: &[u32]| atoms.partition_point(|&a| (a as usize / 64) < shared);
        let (mut a, mut b) = (
            &self.atoms[..below(self.atoms)],
            &other.atoms[..below(other.atoms)],
        );
        let words = loop {
            let w = match (a.first(), b.first()) {
                (None, None) => break self.words.cmp(&other.words),
                (Some(&x), None) | (None, Some(&x)) => x as usize / 64,
                (Some(&x), Some(&y)) => x.min(y) as usize / 64,
            };
            let (wa, rest_a) = Signature::word(a, w);
            let (wb, rest_b) = Signature::word(b, w);
            match wa.cmp(&wb) {
                Ordering::Equal => (a, b) = (rest_a, rest_b),
                o => break o,
            }
        };
        words.then_with(|| self.ports.cmp(other.ports))
    }
}

impl PartialOrd for Signature<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Signature<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (&self.bits()[..], self.ports).fmt(f)
    }
}

/// The policy layer a step that admin policies or a mesh judge is cut in
/// ([`NetModel::judged_cut`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JudgedCut {
    /// An Istio AuthorizationPolicy DENY on the destination (proposed).
    Istio,
    /// An AdminNetworkPolicy Deny of the step's sources into the destination, at `priority`
    /// (live: the actuator writes AdminNetworkPolicies).
    AdminDeny {
        /// Its priority (lower wins).
        priority: u32,
    },
}

/// The compiled network model of a snapshot.
#[derive(Debug, Clone)]
pub struct NetModel {
    /// Policies, compiled.
    pub policies: Vec<CompiledPolicy>,
    /// AdminNetworkPolicies then BaselineAdminNetworkPolicies, compiled, in precedence order.
    pub admin: Vec<AdminPolicy>,
    /// Classes.
    pub classes: Vec<NetClass>,
    /// Class of each workload's pod groups: `member_class[workload][group]`.
    pub member_class: Vec<Vec<ClassId>>,
    /// Classes matching each pod-peer atom.
    atom_classes: Vec<Vec<ClassId>>,
    /// Policy and rule each peer atom belongs to, for evidence.
    atom_owner: Vec<AtomOwner>,
    /// Problems found (invalid selectors, CIDRs, ports); the offending policy part is ignored.
    pub warnings: Vec<String>,
    /// The class of the ingress controller pseudo-pod.
    pub ingress_controller: ClassId,
    /// Pod-selecting atoms that apply in each namespace, and each atom's pod selector: what a
    /// pod's labels are matched against (kept so one pod's new labels can be classed alone).
    ns_atoms: HashMap<String, Vec<u32>>,
    atom_selectors: Vec<Option<LabelSelector>>,
    /// Every namespace and its labels, sorted (what a `namespaceSelector` of a policy compiled
    /// later is matched against).
    namespaces: Vec<(String, Labels)>,
    /// Peers grouped by the pods they select.
    sets: PeerSets,
    /// The service meshes' authorization, when the cluster has any.
    pub mesh: Option<Box<mesh::MeshModel>>,
}

/// What admin policies whose subject a class is have rules for.
#[derive(Debug, Clone, Copy, Default)]
struct AdminRules {
    ingress: bool,
    egress: bool,
    /// Egress rules naming pods (one naming only `networks` leaves in-cluster traffic to the
    /// NetworkPolicies).
    egress_pods: bool,
}

/// What a selecting atom selects for: a NetworkPolicy or an admin policy, and whether it
/// restricts ingress and egress.
#[derive(Debug, Clone, Copy)]
enum Selecting {
    /// A policy, and how it applies to ingress and egress.
    Policy(u32, Applies, Applies),
    /// An admin policy (the baseline?) and what it has rules for.
    Admin(u32, bool, AdminRules),
    /// A mesh's atom: whether it is of a destination the mesh judges.
    Mesh(bool),
}

/// How a policy applies to one direction of the pods it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applies {
    /// Not at all.
    No,
    /// It isolates them, and its rules admit.
    Isolates,
    /// Its rules admit where another policy isolates them.
    Adds,
}

/// For a policy's selecting atom (or an admin policy's subject): what it selects for.
fn selects(
    owners: &[AtomOwner],
    policies: &[CompiledPolicy],
    admin: &[AdminPolicy],
    mesh: Option<&mesh::MeshModel>,
    atom: u32,
) -> Option<Selecting> {
    match owners.get(atom as usize)? {
        AtomOwner::Selects(p) => {
            let policy = policies.get(*p as usize)?;
            let applies = |rules: bool, isolates: bool| match (rules, isolates) {
                (false, _) => Applies::No,
                (true, true) => Applies::Isolates,
                (true, false) => Applies::Adds,
            };
            Some(Selecting::Policy(
                *p,
                applies(policy.ingress.is_some(), policy.isolates.0),
                applies(policy.egress.is_some(), policy.isolates.1),
            ))
        }
        AtomOwner::Admin(p) => {
            let policy = admin.get(*p as usize)?;
            (policy.subject_atom == atom).then_some(Selecting::Admin(
                *p,
                policy.baseline,
                AdminRules {
                    ingress: !policy.ingress.is_empty(),
                    egress: !policy.egress.is_empty(),
                    egress_pods: policy.egress_names_pods(),
                },
            ))
        }
        AtomOwner::Peer(_) => None,
        AtomOwner::Mesh => Some(Selecting::Mesh(mesh.is_some_and(|m| m.judges(atom)))),
    }
}

/// The atoms among `candidates` whose selector matches `labels`, sorted: a pod group's
/// signature (with its ports, its class).
fn matching_atoms<'s>(
    candidates: impl Iterator<Item = (u32, &'s LabelSelector)>,
    labels: &Labels,
) -> Vec<u32> {
    let mut atoms: Vec<u32> = candidates
        .filter(|(_, s)| s.matches(labels))
        .map(|(a, _)| a)
        .collect();
    atoms.sort_unstable();
    atoms.dedup();
    atoms
}

/// A pod group's labels as policies see them: with the mesh's pseudo-labels, when the cluster
/// has a mesh.
fn with_pseudo<'l>(
    labels: &'l Labels,
    pseudo: Option<&[(&'static str, String)]>,
) -> std::borrow::Cow<'l, Labels> {
    match pseudo {
        None => std::borrow::Cow::Borrowed(labels),
        Some(extra) => {
            let mut l = labels.clone();
            for (k, v) in extra {
                l.insert((*k).to_string(), v.clone());
            }
            std::borrow::Cow::Owned(l)
        }
    }
}

/// Namespace of the ingress controller pseudo-pod.
pub const INGRESS_CONTROLLER_NS: &str = "ingress-controller-ns";

#[derive(Debug, Clone, Copy)]
enum AtomOwner {
    Selects(u32),
    Peer(u32),
    /// An admin policy's subject or pod peer (admin policies are never added or removed in
    /// place: a change rebuilds the model).
    Admin(u32),
    /// A service mesh's: a destination it judges, a member or an identity condition (meshes
    /// are never changed in place either).
    Mesh,
}

/// Pod-selecting peers grouped by the pods they select: two peers placed in the same namespaces
/// with the same pod selector select the same pods, whatever policy they belong to, so the
/// graph routes every rule that names them through one vertex (a rule admitting a team's
/// namespaces costs one edge per class of the team once, not once per rule).
#[derive(Debug, Clone, Default)]
struct PeerSets {
    /// Per placement (sorted namespace indices; empty when the peer's namespace has no pods)
    /// and pod selector, its set.
    of: HashMap<(Vec<u32>, LabelSelector), u32>,
    /// Per set, its placement and selector (the key of `of`).
    keys: Vec<(Vec<u32>, LabelSelector)>,
    /// Per atom, its set (`u32::MAX` for a policy's selecting atom).
    set_of: Vec<u32>,
    /// Per `namespaceSelector`, the model's namespaces it selects (indices): many peers share
    /// one (a team's, monitoring's), and matching each against every namespace anew made
    /// compiling quadratic in cluster size.
    selected: HashMap<LabelSelector, Vec<u32>>,
}

impl PeerSets {
    /// The indices of the `namespaces` that `selector` selects.
    fn namespaces_selected(
        &mut self,
        selector: &LabelSelector,
        namespaces: &[(String, Labels)],
    ) -> &[u32] {
        if !self.selected.contains_key(selector) {
            let matched = namespaces
                .iter()
                .enumerate()
                .filter(|(_, (_, labels))| selector.matches(labels))
                .filter_map(|(i, _)| u32::try_from(i).ok())
                .collect();
            self.selected.insert(selector.clone(), matched);
        }
        self.selected.get(selector).map_or(&[], Vec::as_slice)
    }

    /// Records the next atom as a policy's selecting atom.
    fn selecting(&mut self) {
        self.set_of.push(u32::MAX);
    }

    /// Records the next atom as a peer placed in `namespaces` (indices) with `selector`.
    fn peer(&mut self, namespaces: Vec<u32>, selector: &LabelSelector) {
        let key = (namespaces, selector.clone());
        let set = match self.of.get(&key) {
            Some(set) => *set,
            None => {
                let next = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
                self.of.insert(key.clone(), next);
                self.keys.push(key);
                next
            }
        };
        self.set_of.push(set);
    }
}

static EMPTY_SELECTOR: LabelSelector = LabelSelector {
    match_labels: Labels::new(),
    match_expressions: Vec::new(),
};

/// Direction of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ingress.
    Ingress,
    /// Egress.
    Egress,
}

/// Which policy rule admitted a connection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleRef {
    /// Policy index.
    pub policy: u32,
    /// Ingress or egress.
    pub ingress: bool,
    /// Rule index.
    pub rule: u32,
}

/// Where a pod-selecting atom applies: a namespace, the atom, and the selector a pod's labels
/// are matched against.
type Placement<'a> = (&'a str, u32, &'a LabelSelector);

struct RuleCompiler<'a, 'b> {
    ns: &'a str,
    pname: &'b str,
    pidx: u32,
    namespaces: &'a [(String, Labels)],
    placed: &'b mut Vec<Placement<'a>>,
    atom_owner: &'b mut Vec<AtomOwner>,
    sets: &'b mut PeerSets,
    warnings: &'b mut Vec<String>,
}

/// Compiles policy `np` as the policy of index `pidx`: its atoms are numbered from
/// `atom_owner`'s length, and where each applies is added to `placed`. `None` when its
/// `podSelector` is invalid (the policy is ignored, with a warning).
fn compile_policy<'a>(
    np: &'a rampart_model::objects::NetworkPolicy,
    pidx: u32,
    namespaces: &'a [(String, Labels)],
    placed: &mut Vec<Placement<'a>>,
    atom_owner: &mut Vec<AtomOwner>,
    sets: &mut PeerSets,
    warnings: &mut Vec<String>,
) -> Option<CompiledPolicy> {
    let ns = np.metadata.namespace.as_str();
    let pname = format!("{}/{}", ns, np.metadata.name);
    if let Err(e) = np.spec.pod_selector.validate() {
        warnings.push(format!(
            "NetworkPolicy {pname}: podSelector: {e}; policy ignored"
        ));
        return None;
    }
    let select_atom = u32::try_from(atom_owner.len()).unwrap_or(u32::MAX);
    atom_owner.push(AtomOwner::Selects(pidx));
    sets.selecting();
    placed.push((ns, select_atom, &np.spec.pod_selector));
    let mut c = RuleCompiler {
        ns,
        pname: &pname,
        pidx,
        namespaces,
        placed,
        atom_owner,
        sets,
        warnings,
    };
    let ingress = np
        .spec
        .affects_ingress()
        .then(|| c.compile(&np.spec.ingress, "ingress"));
    let egress = np
        .spec
        .affects_egress()
        .then(|| c.compile(&np.spec.egress, "egress"));
    let isolates = (ingress.is_some(), egress.is_some());
    Some(CompiledPolicy {
        kind: "NetworkPolicy",
        namespace: ns.to_string(),
        name: np.metadata.name.clone(),
        path: "spec".into(),
        ingress,
        egress,
        isolates,
        retired: false,
        selecting_atom: select_atom,
    })
}

impl<'a> RuleCompiler<'a, '_> {
    fn compile(
        &mut self,
        rules: &'a [rampart_model::objects::NetworkPolicyRule],
        dir: &str,
    ) -> Vec<Rule> {
        rules.iter().enumerate().map(|(ri, r)| {
                    let peers = if r.peers.is_empty() {
                        None
                    } else {
                        let mut out = Vec::new();
                        for (pi, p) in r.peers.iter().enumerate() {
                            let at = format!("NetworkPolicy {}: {dir}[{ri}] peer[{pi}]", self.pname);
                            if let Some(b) = &p.ip_block {
                                if p.pod_selector.is_some() || p.namespace_selector.is_some() {
                                    self.warnings.push(format!("{at}: ipBlock may not be combined with selectors; the selectors are ignored"));
                                }
                                match IpSet::from_block(&b.cidr, &b.except) {
                                    Ok(s) => out.push(Peer::Block(s)),
                                    Err(e) => self.warnings.push(format!("{at}: {e}; peer ignored")),
                                }
                                continue;
                            }
                            if p.pod_selector.is_none() && p.namespace_selector.is_none() {
                                self.warnings.push(format!("{at}: empty peer; ignored"));
                                continue;
                            }
                            if let Some(e) = p.pod_selector.as_ref().and_then(|s| s.validate().err())
                                .or_else(|| p.namespace_selector.as_ref().and_then(|s| s.validate().err())) {
                                self.warnings.push(format!("{at}: {e}; peer ignored"));
                                continue;
                            }
                            let atom = u32::try_from(self.atom_owner.len()).unwrap_or(u32::MAX);
                            self.atom_owner.push(AtomOwner::Peer(self.pidx));
                            let pod_sel: &LabelSelector = p.pod_selector.as_ref().unwrap_or(&EMPTY_SELECTOR);
                            let mut at: Vec<u32> = Vec::new();
                            match &p.namespace_selector {
                                None => {
                                    self.placed.push((self.ns, atom, pod_sel));
                                    if let Ok(i) = self.namespaces.binary_search_by(|(n, _)| n.as_str().cmp(self.ns)) {
                                        at.push(u32::try_from(i).unwrap_or(u32::MAX));
                                    }
                                }
                                Some(nss) => {
                                    let namespaces = self.namespaces;
                                    for &i in self.sets.namespaces_selected(nss, namespaces) {
                                        if let Some((n, _)) = namespaces.get(i as usize) {
                                            self.placed.push((n.as_str(), atom, pod_sel));
                                            at.push(i);
                                        }
                                    }
                                }
                            }
                            self.sets.peer(at, pod_sel);
                            let any = p.namespace_selector.as_ref().is_some_and(LabelSelector::is_empty)
                        && p.pod_selector.as_ref().is_none_or(LabelSelector::is_empty);
                    out.push(Peer::Pods { atom, any });
                        }
                        Some(out)
                    };
                    let ports = if r.ports.is_empty() {
                        None
                    } else {
                        let mut out = Vec::new();
                        for (pi, p) in r.ports.iter().enumerate() {
                            let at = format!("NetworkPolicy {}: {dir}[{ri}] ports[{pi}]", self.pname);
                            let Some(proto) = Protocol::parse(p.protocol.as_deref()) else {
                                self.warnings.push(format!("{at}: unknown protocol {:?}; port ignored", p.protocol));
                                continue;
                            };
                            match &p.port {
                                None => out.push(RulePort::Numbers(PortSet::all_of(proto))),
                                Some(rampart_model::de::IntOrString::Int(n)) => {
                                    let Ok(start) = u16::try_from(*n) else {
                                        self.warnings.push(format!("{at}: port {n} out of range; port ignored"));
                                        continue;
                                    };
                                    let end = match p.end_port {
                                        Some(e) => match u16::try_from(e) {
                                            Ok(e) if e >= start => e,
                                            _ => {
                                                self.warnings.push(format!("{at}: endPort {e} invalid; port ignored"));
                                                continue;
                                            }
                                        },
                                        None => start,
                                    };
                                    out.push(RulePort::Numbers(PortSet::range(proto, start, end)));
                                }
                                Some(rampart_model::de::IntOrString::Str(s)) => match s.parse::<u16>() {
                                    Ok(n) => out.push(RulePort::Numbers(PortSet::single(proto, n))),
                                    Err(_) => out.push(RulePort::Named(proto, s.clone())),
                                },
                            }
                        }
                        Some(out)
                    };
                    Rule { peers, ports, l7: false }
                }).collect()
    }
}

/// Declared ports of a pod spec (regular containers).
pub fn declared_ports(spec: &rampart_model::objects::PodSpec) -> Vec<DeclaredPort> {
    let mut v: Vec<DeclaredPort> = spec
        .containers
        .iter()
        .flat_map(|c| &c.ports)
        .filter_map(|p| {
            Some(DeclaredPort {
                name: p.name.clone().filter(|n| !n.is_empty()),
                port: u16::try_from(p.container_port).ok().filter(|p| *p > 0)?,
                protocol: Protocol::parse(p.protocol.as_deref())?,
            })
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Whether every atom fits a set of `words` 64-bit words.
fn in_range(atoms: &[u32], words: usize) -> bool {
    atoms.last().is_none_or(|&a| (a as usize / 64) < words)
}

/// A class of pods matching exactly `atoms` (sorted) and declaring `ports`; `select` says, for a
/// policy's selecting atom, the policy and whether it isolates ingress and egress.
fn new_class(
    id: ClassId,
    atoms: &[u32],
    ports: Vec<DeclaredPort>,
    words: usize,
    select: impl Fn(u32) -> Option<Selecting>,
) -> NetClass {
    let kept = if in_range(atoms, words) {
        atoms.to_vec()
    } else {
        Vec::new()
    };
    let (ingress_policies, egress_policies) = applying(atoms, &select);
    let mut admin = Vec::new();
    let (mut anp, mut banp) = (AdminRules::default(), AdminRules::default());
    let mut mesh = false;
    for &a in atoms {
        match select(a) {
            Some(Selecting::Policy(..)) => {}
            Some(Selecting::Mesh(judges)) => mesh |= judges,
            Some(Selecting::Admin(p, baseline, rules)) => {
                admin.push(p);
                let set = if baseline { &mut banp } else { &mut anp };
                set.ingress |= rules.ingress;
                set.egress |= rules.egress;
                set.egress_pods |= rules.egress_pods;
            }
            None => {}
        }
    }
    NetClass {
        id,
        atoms: kept,
        words,
        ports,
        ingress_policies,
        egress_policies,
        mesh,
        admin,
        anp,
        banp,
        members: Vec::new(),
    }
}

/// The policies whose rules apply to the ingress and egress of pods matching `atoms`: none
/// for a direction no policy isolates, else the isolating ones and those that only add.
fn applying(atoms: &[u32], select: &impl Fn(u32) -> Option<Selecting>) -> (Vec<u32>, Vec<u32>) {
    let (mut ingress, mut egress) = (Vec::new(), Vec::new());
    let (mut isolated_in, mut isolated_eg) = (false, false);
    for &a in atoms {
        if let Some(Selecting::Policy(p, i, e)) = select(a) {
            if i != Applies::No {
                ingress.push(p);
                isolated_in |= i == Applies::Isolates;
            }
            if e != Applies::No {
                egress.push(p);
                isolated_eg |= e == Applies::Isolates;
            }
        }
    }
    if !isolated_in {
        ingress.clear();
    }
    if !isolated_eg {
        egress.clear();
    }
    (ingress, egress)
}

/// Appends the class of the pods of class `from` that also match the new atoms `matched`
/// (sorted, none of them set in `from`).
fn split_class(
    classes: &mut Vec<NetClass>,
    atom_classes: &mut [Vec<ClassId>],
    from: ClassId,
    matched: &[u32],
    select: impl Fn(u32) -> Option<Selecting>,
) -> ClassId {
    let old = &classes[from.index()];
    let words = old.words;
    let mut atoms: Vec<u32> = old.atom_ids().collect();
    atoms.extend_from_slice(matched);
    atoms.sort_unstable();
    let id = ClassId(u32::try_from(classes.len()).unwrap_or(u32::MAX));
    let class = new_class(id, &atoms, old.ports.clone(), words, select);
    for &a in &atoms {
        atom_classes[a as usize].push(id);
    }
    classes.push(class);
    id
}

/// Every namespace a policy's `namespaceSelector` is matched against, with its labels, sorted
/// (a workload's namespace is looked up, never scanned for: namespaces × workloads dominated
/// large builds): the Namespace objects, every object's namespace, the workloads' and the
/// ingress controller's.
fn namespaces_of(snapshot: &Snapshot, workloads: &Workloads) -> Vec<(String, Labels)> {
    let mut names = snapshot.namespace_names();
    let mut extra: Vec<String> = workloads
        .list
        .iter()
        .filter(|w| names.binary_search(&w.namespace).is_err())
        .map(|w| w.namespace.clone())
        .collect();
    names.append(&mut extra);
    names.push(INGRESS_CONTROLLER_NS.to_string());
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|n| {
            let l = snapshot.namespace_labels(&n);
            (n, l)
        })
        .collect()
}

impl NetModel {
    /// Whether `snapshot` has the namespaces (and namespace labels) this model was built with.
    pub fn same_namespaces(&self, snapshot: &Snapshot, workloads: &Workloads) -> bool {
        self.namespaces == namespaces_of(snapshot, workloads)
    }

    /// Compiles the snapshot's policies and partitions its pods into classes.
    pub fn build(snapshot: &Snapshot, workloads: &Workloads) -> NetModel {
        let mut warnings = Vec::new();
        let namespaces = namespaces_of(snapshot, workloads);
        let cilium = cilium::normalize_all(snapshot, &mut warnings);
        // The meshes' atoms come after every policy's; their selectors are planned first, as
        // placements borrow them.
        let mut mesh_plan =
            mesh::active(snapshot, workloads).then(|| mesh::plan(snapshot, workloads, 0));
        let mesh_selectors: Vec<LabelSelector> = mesh_plan
            .as_mut()
            .map(|p| std::mem::take(&mut p.selectors))
            .unwrap_or_default();
        let mut placed: Vec<Placement<'_>> = Vec::new();
        let mut policies = Vec::new();
        let mut atom_owner: Vec<AtomOwner> = Vec::new();
        let mut sets = PeerSets::default();
        for (_, np) in snapshot.network_policies() {
            let pidx = u32::try_from(policies.len()).unwrap_or(u32::MAX);
            policies.extend(compile_policy(
                np,
                pidx,
                &namespaces,
                &mut placed,
                &mut atom_owner,
                &mut sets,
                &mut warnings,
            ));
        }
        let mut admin_policies: Vec<AdminPolicy> = Vec::new();
        {
            let mut atoms = cilium::Atoms {
                namespaces: &namespaces,
                placed: &mut placed,
                atom_owner: &mut atom_owner,
                sets: &mut sets,
            };
            for n in &cilium {
                let pidx = u32::try_from(policies.len()).unwrap_or(u32::MAX);
                policies.extend(cilium::compile_allow(n, pidx, &mut atoms));
            }
            // Cilium's deny rules win over every allow: first in the admin layer.
            for n in &cilium {
                let idx = u32::try_from(admin_policies.len()).unwrap_or(u32::MAX);
                admin_policies.extend(cilium::compile_deny(n, idx, &mut atoms));
            }
        }
        for p in admin::ordered(snapshot) {
            let idx = u32::try_from(admin_policies.len()).unwrap_or(u32::MAX);
            admin_policies.extend(admin::compile(
                p,
                idx,
                &namespaces,
                &mut placed,
                &mut atom_owner,
                &mut sets,
                &mut warnings,
            ));
        }
        let mesh_model = mesh_plan.map(|plan| {
            let base = u32::try_from(atom_owner.len()).unwrap_or(u32::MAX);
            // Planned from 0: atom numbers shift by `base`.
            let plan = plan.rebase(base);
            let mut c = mesh::Compiler {
                namespaces: &namespaces,
                placed: &mut placed,
                atom_owner: &mut atom_owner,
                sets: &mut sets,
                warnings: &mut warnings,
            };
            Box::new(plan.place(&mesh_selectors, &mut c))
        });
        let mut ns_atoms: HashMap<&str, Vec<(u32, &LabelSelector)>> = HashMap::new();
        for &(ns, atom, sel) in &placed {
            ns_atoms.entry(ns).or_default().push((atom, sel));
        }

        let atom_count = atom_owner.len();
        let words = atom_count.div_ceil(64).max(1);
        let mut classes: Vec<NetClass> = Vec::new();
        let mut class_of: HashMap<(Vec<u32>, Vec<DeclaredPort>), ClassId> = HashMap::new();
        let mut member_class = Vec::with_capacity(workloads.list.len());
        let empty: Vec<(u32, &LabelSelector)> = Vec::new();
        let mut intern =
            |atoms: Vec<u32>, ports: Vec<DeclaredPort>, classes: &mut Vec<NetClass>| -> ClassId {
                let key = (atoms, ports);
                if let Some(id) = class_of.get(&key) {
                    return *id;
                }
                let id = ClassId(u32::try_from(classes.len()).unwrap_or(u32::MAX));
                classes.push(new_class(id, &key.0, key.1.clone(), words, |a| {
                    selects(
                        &atom_owner,
                        &policies,
                        &admin_policies,
                        mesh_model.as_deref(),
                        a,
                    )
                }));
                class_of.insert(key, id);
                id
            };
        for w in &workloads.list {
            let ports = declared_ports(&w.template.spec);
            let candidates = ns_atoms.get(w.namespace.as_str()).unwrap_or(&empty);
            let mut per_group = Vec::with_capacity(w.groups.len());
            let pseudo = mesh_model.as_deref().map(|m| m.pseudo_labels(w));
            for (gi, g) in w.groups.iter().enumerate() {
                let labels = with_pseudo(&g.labels, pseudo.as_deref());
                let atoms = matching_atoms(candidates.iter().copied(), &labels);
                let id = intern(atoms, ports.clone(), &mut classes);
                classes[id.index()].members.push((w.id, gi));
                per_group.push(id);
            }
            member_class.push(per_group);
        }
        // The ingress controller: an unlabelled pod in a namespace of its own (np-guard's model of
        // "some in-cluster pod we know nothing about").
        let ingress_controller = {
            let no_labels = if mesh_model.is_some() {
                mesh::MeshModel::controller_labels()
            } else {
                Labels::new()
            };
            let candidates = ns_atoms.get(INGRESS_CONTROLLER_NS).unwrap_or(&empty);
            let atoms = matching_atoms(candidates.iter().copied(), &no_labels);
            intern(atoms, Vec::new(), &mut classes)
        };
        let mut atom_classes = vec![Vec::new(); atom_count];
        for c in &classes {
            for a in c.atom_ids() {
                atom_classes[a as usize].push(c.id);
            }
        }
        let mut atom_selectors: Vec<Option<LabelSelector>> = vec![None; atom_count];
        for (a, sel) in ns_atoms.values().flatten() {
            if let Some(slot) = atom_selectors.get_mut(*a as usize)
                && slot.is_none()
            {
                *slot = Some((*sel).clone());
            }
        }
        let ns_atoms = ns_atoms
            .into_iter()
            .map(|(ns, v)| (ns.to_string(), v.into_iter().map(|(a, _)| a).collect()))
            .collect();
        NetModel {
            policies,
            admin: admin_policies,
            classes,
            member_class,
            atom_classes,
            atom_owner,
            warnings,
            ingress_controller,
            ns_atoms,
            atom_selectors,
            namespaces,
            sets,
            mesh: mesh_model,
        }
    }

    /// This model with the NetworkPolicies `added` compiled after its own (see
    /// [`NetModel::add_policies`]); `None` when they cannot be added.
    pub fn with_policies(
        &self,
        added: &[rampart_model::objects::NetworkPolicy],
        workloads: &Workloads,
    ) -> Option<NetModel> {
        let mut m = self.clone();
        m.add_policies(added, workloads).then_some(m)
    }

    /// Compiles the NetworkPolicies `added` after this model's own, in place: the model then
    /// classes pods alike exactly when a build over the snapshot with them added would, and
    /// agrees with it on what each class admits (class ids, atom and policy numbers differ).
    /// Pods a new selector matches move to classes of their own; a selector of every pod of
    /// every namespace adds its atom to every class in place. `false`, and nothing changed,
    /// when a name repeats (adding a policy of an existing name replaces it: build afresh
    /// instead) or the model does not fit `workloads`.
    pub fn add_policies(
        &mut self,
        added: &[rampart_model::objects::NetworkPolicy],
        workloads: &Workloads,
    ) -> bool {
        let mut names: Vec<(&str, &str)> = added
            .iter()
            .map(|np| (np.metadata.namespace.as_str(), np.metadata.name.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        if names.len() != added.len()
            || self.policies.iter().any(|p| {
                !p.retired
                    && p.is_network_policy()
                    && names
                        .binary_search(&(p.namespace.as_str(), p.name.as_str()))
                        .is_ok()
            })
            || self.member_class.len() != workloads.list.len()
            || workloads
                .list
                .iter()
                .zip(&self.member_class)
                .any(|(w, groups)| w.groups.len() != groups.len())
        {
            return false;
        }
        let m = self;
        let namespaces = std::mem::take(&mut m.namespaces);
        let mut placed: Vec<Placement<'_>> = Vec::new();
        for np in added {
            let pidx = u32::try_from(m.policies.len()).unwrap_or(u32::MAX);
            let compiled = compile_policy(
                np,
                pidx,
                &namespaces,
                &mut placed,
                &mut m.atom_owner,
                &mut m.sets,
                &mut m.warnings,
            );
            m.policies.extend(compiled);
        }
        let atoms = m.atom_owner.len();
        let words = atoms.div_ceil(64).max(1);
        for c in &mut m.classes {
            c.words = words;
        }
        m.atom_classes.resize(atoms, Vec::new());
        m.atom_selectors.resize(atoms, None);
        let mut places: HashMap<u32, usize> = HashMap::new();
        for &(ns, a, sel) in &placed {
            match m.ns_atoms.get_mut(ns) {
                Some(v) => v.push(a),
                None => {
                    m.ns_atoms.insert(ns.to_string(), vec![a]);
                }
            }
            m.atom_selectors[a as usize].get_or_insert_with(|| sel.clone());
            // Only the model's namespaces count (a policy's own may be one no pod is in).
            if namespaces
                .binary_search_by(|(n, _)| n.as_str().cmp(ns))
                .is_ok()
            {
                *places.entry(a).or_default() += 1;
            }
        }
        // A selector of every pod, placed in every namespace: every class matches it.
        let everywhere = |a: u32, sel: &LabelSelector| {
            sel.is_empty() && places.get(&a) == Some(&namespaces.len())
        };
        let mut universal: Vec<u32> = placed
            .iter()
            .filter(|&&(_, a, sel)| everywhere(a, sel))
            .map(|&(_, a, _)| a)
            .collect();
        universal.sort_unstable();
        universal.dedup();
        // New atoms come after every atom a class has: appended in order, no search.
        for c in &mut m.classes {
            match c.atoms.last() {
                Some(&last) if universal.first().is_some_and(|&u| u <= last) => {
                    for &a in &universal {
                        if let Err(at) = c.atoms.binary_search(&a) {
                            c.atoms.insert(at, a);
                        }
                    }
                }
                _ => c.atoms.extend_from_slice(&universal),
            }
        }
        let every: Vec<ClassId> = m.classes.iter().map(|c| c.id).collect();
        for &a in &universal {
            m.atom_classes[a as usize].clone_from(&every);
        }
        if !universal.is_empty() {
            m.refresh_policies();
        }
        // The other new atoms, by namespace: the pods they match move.
        let mut local: HashMap<&str, Vec<(u32, &LabelSelector)>> = HashMap::new();
        for &(ns, a, sel) in &placed {
            if !everywhere(a, sel) {
                local.entry(ns).or_default().push((a, sel));
            }
        }
        // The class of the pods of `from` that also match `matched`: one per pair.
        let mut split: HashMap<(ClassId, Vec<u32>), ClassId> = HashMap::new();
        let mut class_with = |m: &mut NetModel, from: ClassId, matched: Vec<u32>| -> ClassId {
            *split
                .entry((from, matched))
                .or_insert_with_key(|(from, matched)| {
                    split_class(&mut m.classes, &mut m.atom_classes, *from, matched, |a| {
                        selects(&m.atom_owner, &m.policies, &m.admin, m.mesh.as_deref(), a)
                    })
                })
        };
        let mut moved: Vec<ClassId> = Vec::new();
        let mut joined: Vec<ClassId> = Vec::new();
        for (ns, candidates) in &local {
            for w in workloads.in_namespace(ns) {
                let pseudo = m.mesh.as_deref().map(|x| x.pseudo_labels(w));
                for (gi, g) in w.groups.iter().enumerate() {
                    let labels = with_pseudo(&g.labels, pseudo.as_deref());
                    let matched = matching_atoms(candidates.iter().copied(), &labels);
                    if matched.is_empty() {
                        continue;
                    }
                    let from = m.member_class[w.id.index()][gi];
                    let to = class_with(m, from, matched);
                    m.member_class[w.id.index()][gi] = to;
                    moved.push(from);
                    m.classes[to.index()].members.push((w.id, gi));
                    joined.push(to);
                }
            }
            if *ns == INGRESS_CONTROLLER_NS {
                let labels = if m.mesh.is_some() {
                    mesh::MeshModel::controller_labels()
                } else {
                    Labels::new()
                };
                let matched = matching_atoms(candidates.iter().copied(), &labels);
                if !matched.is_empty() {
                    m.ingress_controller = class_with(m, m.ingress_controller, matched);
                }
            }
        }
        moved.sort_unstable();
        moved.dedup();
        // The moved pod groups are already classed anew: a class keeps those still in it.
        for c in moved {
            let classed = &m.member_class;
            m.classes[c.index()]
                .members
                .retain(|(w, gi)| classed[w.index()][*gi] == c);
        }
        joined.sort_unstable();
        joined.dedup();
        for c in joined {
            m.classes[c.index()].members.sort_unstable();
        }
        m.namespaces = namespaces;
        true
    }

    /// Takes the NetworkPolicies `names` (namespace, name) out of this model, in place: their
    /// atoms leave every class, and classes only they told apart merge into the one of lowest
    /// id (the one [`NetModel::class_for`] finds). Their indices stay, retired, so each policy
    /// added grows the model: `false`, and nothing changed, when one of them is not in the
    /// model or when retired atoms would outnumber live ones (build the model again instead).
    pub fn remove_policies(&mut self, names: &[(&str, &str)]) -> bool {
        let mut gone: Vec<u32> = Vec::with_capacity(names.len());
        for &(ns, name) in names {
            let found = self.policies.iter().position(|p| {
                !p.retired && p.is_network_policy() && p.namespace == ns && p.name == name
            });
            match found.and_then(|i| u32::try_from(i).ok()) {
                Some(i) if !gone.contains(&i) => gone.push(i),
                _ => return false,
            }
        }
        let owned_by = |o: &AtomOwner, ps: &[u32]| match o {
            AtomOwner::Selects(p) | AtomOwner::Peer(p) => ps.contains(p),
            AtomOwner::Admin(_) | AtomOwner::Mesh => false,
        };
        let atoms: Vec<u32> = (0..self.atom_owner.len())
            .filter(|&a| owned_by(&self.atom_owner[a], &gone))
            .filter_map(|a| u32::try_from(a).ok())
            .collect();
        let retired_before = self
            .atom_owner
            .iter()
            .filter(|o| match o {
                AtomOwner::Selects(p) | AtomOwner::Peer(p) => self.policies[*p as usize].retired,
                AtomOwner::Admin(_) | AtomOwner::Mesh => false,
            })
            .count();
        if 2 * (retired_before + atoms.len()) > self.atom_owner.len() + 64 {
            return false;
        }
        for &p in &gone {
            let policy = &mut self.policies[p as usize];
            policy.retired = true;
            policy.ingress = None;
            policy.egress = None;
        }
        // Classes that may now equal another: those that had an atom some class lacks (an atom
        // every class has tells none apart).
        let mut touched: Vec<ClassId> = Vec::new();
        for &a in &atoms {
            let had = std::mem::take(&mut self.atom_classes[a as usize]);
            for &c in &had {
                let atoms = &mut self.classes[c.index()].atoms;
                if let Ok(at) = atoms.binary_search(&a) {
                    atoms.remove(at);
                }
            }
            if had.len() < self.classes.len() {
                touched.extend(had);
            }
            self.atom_selectors[a as usize] = None;
        }
        // A class whose last isolating policy went keeps none (rules that only add, add to
        // nothing then).
        self.refresh_policies();
        for v in self.ns_atoms.values_mut() {
            v.retain(|a| atoms.binary_search(a).is_err());
        }
        touched.sort_unstable();
        touched.dedup();
        for t in touched {
            self.merge_alike(t);
        }
        true
    }

    /// Recomputes which policies apply to each class from its atoms (after atoms or policies
    /// changed in place).
    fn refresh_policies(&mut self) {
        let mut classes = std::mem::take(&mut self.classes);
        for c in &mut classes {
            let (ingress, egress) = applying(&c.atoms, &|a| self.selects(a));
            c.ingress_policies = ingress;
            c.egress_policies = egress;
        }
        self.classes = classes;
    }

    /// Merges the classes that no longer differ from class `t` into the one of lowest id.
    fn merge_alike(&mut self, t: ClassId) {
        let signature = self.class(t).signature();
        let alike: Vec<ClassId> = self
            .classes
            .iter()
            .filter(|c| c.signature() == signature)
            .map(|c| c.id)
            .collect();
        let Some((&into, rest)) = alike.split_first() else {
            return;
        };
        for &dup in rest {
            let members = std::mem::take(&mut self.classes[dup.index()].members);
            for &(w, gi) in &members {
                self.member_class[w.index()][gi] = into;
            }
            let kept = &mut self.classes[into.index()].members;
            kept.extend(members);
            kept.sort_unstable();
            if self.ingress_controller == dup {
                self.ingress_controller = into;
            }
        }
    }

    /// The atoms a pod with these labels in this namespace would match (its group's signature,
    /// as [`NetModel::build`] computes it).
    pub fn atoms_of(&self, w: &Workload, labels: &Labels) -> Vec<u32> {
        let ids = self
            .ns_atoms
            .get(w.namespace.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let pseudo = self.mesh.as_deref().map(|m| m.pseudo_labels(w));
        matching_atoms(
            ids.iter().filter_map(|a| {
                self.atom_selectors
                    .get(*a as usize)
                    .and_then(Option::as_ref)
                    .map(|s| (*a, s))
            }),
            &with_pseudo(labels, pseudo.as_deref()),
        )
    }

    /// The class of a workload's pod group.
    pub fn class_of(&self, w: WorkloadId, group: usize) -> Option<ClassId> {
        self.member_class
            .get(w.index())
            .and_then(|g| g.get(group))
            .copied()
    }

    /// Moves workload `w`'s pod groups (regrouped after one pod's labels changed: same
    /// workload, same template) to the classes their labels put them in now, adding a class no
    /// pod had before; returns every class the workload was in before or is in now (a superset
    /// of those whose members changed).
    ///
    /// Class ids stay those of this model: a new class is appended and an emptied one stays,
    /// without members, where a fresh build would number differently and drop it. So nothing
    /// may read a class id as more than an identity within one model, and counts go through
    /// [`NetModel::class_count`].
    pub fn reclass(&mut self, w: &Workload) -> Vec<ClassId> {
        let ports = declared_ports(&w.template.spec);
        let words = self.atom_owner.len().div_ceil(64).max(1);
        let mut now = Vec::with_capacity(w.groups.len());
        for g in &w.groups {
            let found = self.class_for(w, &g.labels, &ports);
            let id = found.unwrap_or_else(|| {
                let atoms = self.atoms_of(w, &g.labels);
                let id = ClassId(u32::try_from(self.classes.len()).unwrap_or(u32::MAX));
                let class = new_class(id, &atoms, ports.clone(), words, |a| self.selects(a));
                for &a in &atoms {
                    self.atom_classes[a as usize].push(id);
                }
                self.classes.push(class);
                id
            });
            now.push(id);
        }
        let before = std::mem::replace(&mut self.member_class[w.id.index()], now.clone());
        let mut touched: Vec<ClassId> = before.iter().chain(&now).copied().collect();
        touched.sort_unstable();
        touched.dedup();
        for c in &touched {
            self.classes[c.index()].members.retain(|(x, _)| *x != w.id);
        }
        for (gi, c) in now.iter().enumerate() {
            let members = &mut self.classes[c.index()].members;
            let at = members.partition_point(|m| *m < (w.id, gi));
            members.insert(at, (w.id, gi));
        }
        touched
    }

    /// The class of pods with these labels in this namespace declaring these ports, if this
    /// model has one.
    pub fn class_for(
        &self,
        w: &Workload,
        labels: &Labels,
        ports: &[DeclaredPort],
    ) -> Option<ClassId> {
        let atoms = self.atoms_of(w, labels);
        if !in_range(&atoms, self.atom_owner.len().div_ceil(64).max(1)) {
            return None;
        }
        self.classes
            .iter()
            .find(|c| c.atoms == atoms && c.ports == ports)
            .map(|c| c.id)
    }

    /// For a policy's selecting atom (or an admin policy's subject): what it selects for.
    fn selects(&self, atom: u32) -> Option<Selecting> {
        selects(
            &self.atom_owner,
            &self.policies,
            &self.admin,
            self.mesh.as_deref(),
            atom,
        )
    }

    /// Whether a class has pods (a class emptied by [`NetModel::reclass`] has none).
    pub fn is_live(&self, id: ClassId) -> bool {
        !self.class(id).members.is_empty()
    }

    /// Number of classes as a fresh build counts them: those with pods, and the ingress
    /// controller's.
    pub fn class_count(&self) -> usize {
        self.classes
            .iter()
            .filter(|c| !c.members.is_empty() || c.id == self.ingress_controller)
            .count()
    }

    /// Policies a class's pods appear in as a peer (of an ingress or egress rule: a superset of
    /// the policies whose ingress rules admit them, for callers that confirm with
    /// [`NetModel::allowed`]).
    pub fn peer_policies(&self, id: ClassId) -> Vec<u32> {
        let c = self.class(id);
        let mut out: Vec<u32> = (0..self.atom_owner.len())
            .filter(|a| c.has(*a as u32))
            .filter_map(|a| match self.atom_owner[a] {
                AtomOwner::Peer(p) => Some(p),
                AtomOwner::Selects(_) | AtomOwner::Admin(_) | AtomOwner::Mesh => None,
            })
            .collect();
        out.dedup();
        out
    }

    /// A class.
    pub fn class(&self, id: ClassId) -> &NetClass {
        &self.classes[id.index()]
    }

    fn resolve(ports: &Option<Vec<RulePort>>, dst: Option<&NetClass>) -> PortSet {
        let Some(ports) = ports else {
            return PortSet::all();
        };
        let mut out = PortSet::empty();
        for p in ports {
            match p {
                RulePort::Numbers(s) => out.union_with(s),
                RulePort::Named(proto, name) => {
                    if let Some(d) = dst {
                        for dp in &d.ports {
                            if dp.protocol == *proto && dp.name.as_deref() == Some(name.as_str()) {
                                out.union_with(&PortSet::single(*proto, dp.port));
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// What `subject`'s policies allow in one direction between it and `other`, ports named
    /// against `dst`: the admin policies' verdict layered over the NetworkPolicies' (`np`,
    /// asked only when some NetworkPolicy isolates the subject in that direction), with the
    /// NetworkPolicy rules that admit.
    fn layered(
        &self,
        subject: &NetClass,
        ingress: bool,
        other: Other<'_>,
        dst: Option<&[DeclaredPort]>,
        np: impl FnOnce() -> (PortSet, Vec<RuleRef>),
    ) -> (PortSet, Vec<RuleRef>) {
        let (isolated, admin) = if ingress {
            (
                !subject.ingress_policies.is_empty(),
                subject.admin_ingress(),
            )
        } else {
            (
                !subject.egress_policies.is_empty(),
                subject.admin_egress_any(),
            )
        };
        let (ports, why) = if !admin {
            if isolated {
                np()
            } else {
                (PortSet::all(), Vec::new())
            }
        } else {
            let v = admin::verdict(&self.admin, &subject.admin, ingress, other, dst);
            let (by_policies, why) = if isolated {
                np()
            } else {
                (v.baseline.clone(), Vec::new())
            };
            (v.allowed.union(&v.to_policies.intersect(&by_policies)), why)
        };
        if ingress && subject.mesh {
            let src = match other {
                Other::Pods(c) => self.mesh_src(c),
                Other::External(_) => mesh::Src::External,
            };
            return (ports.intersect(&self.mesh_admits(src, subject).0), why);
        }
        (ports, why)
    }

    /// How a mesh sees pods of `c`: the ingress controller pseudo-pod's identity is unknown.
    fn mesh_src<'c>(&self, c: &'c NetClass) -> mesh::Src<'c> {
        match &self.mesh {
            Some(m) => m.src(c),
            None => mesh::Src::Pods(c),
        }
    }

    /// What the meshes admit into `dst` from `src` (every port when no mesh judges `dst`),
    /// with the mesh rules that decided.
    fn mesh_admits(&self, src: mesh::Src<'_>, dst: &NetClass) -> (PortSet, Vec<mesh::MeshRef>) {
        match &self.mesh {
            Some(m) if dst.mesh => m.admits(src, dst),
            _ => (PortSet::all(), Vec::new()),
        }
    }

    /// Whether Istio judges what reaches class `c` (and no admin policy does): a step into it is
    /// cut by an Istio DENY AuthorizationPolicy.
    pub fn istio_judged(&self, c: ClassId) -> bool {
        let class = self.class(c);
        class.mesh
            && !class.admin_policies_ingress()
            && self.mesh.as_ref().is_some_and(|m| m.is_istio(class))
    }

    /// Where admin policies or a mesh judge a step into class `dc`, the layer its cut goes in
    /// (`egress_judged`: admin policies judge the source's egress too, which an Istio DENY on the
    /// destination leaves standing as the step's reason): Istio where it alone judges `dc`,
    /// else an AdminNetworkPolicy Deny where the cluster uses AdminNetworkPolicies and one can
    /// precede every one judging `dc`'s ingress; `None`: not cut in a policy layer.
    pub fn judged_cut(&self, dc: ClassId, egress_judged: bool) -> Option<JudgedCut> {
        if !egress_judged && self.istio_judged(dc) {
            return Some(JudgedCut::Istio);
        }
        self.admin_deny_priority(dc)
            .map(|priority| JudgedCut::AdminDeny { priority })
    }

    /// The priority an AdminNetworkPolicy Deny into class `dc` takes: ahead of every
    /// AdminNetworkPolicy with ingress rules for `dc` (an `Allow` or `Pass` of one that
    /// precedes the deny would decide first; equal priorities are ordered by no rule), at most
    /// [`crate::fix::ADMIN_DENY_PRIORITY`]. `None` when the cluster uses no AdminNetworkPolicy
    /// (a Cilium- or NetworkPolicy-only cluster need not implement them) or one at priority 0
    /// judges `dc`.
    pub fn admin_deny_priority(&self, dc: ClassId) -> Option<u32> {
        if !self.admin.iter().any(|p| p.is_admin_network_policy()) {
            return None;
        }
        let first = self
            .class(dc)
            .admin
            .iter()
            .filter_map(|&a| self.admin.get(a as usize))
            .filter(|p| p.is_admin_network_policy() && !p.baseline && !p.ingress.is_empty())
            .map(|p| p.priority)
            .min();
        let cap = i64::from(crate::fix::ADMIN_DENY_PRIORITY);
        let priority = first.map_or(cap, |f| cap.min(f - 1));
        u32::try_from(priority).ok()
    }

    /// Per class (by index): the atoms one of which a source needs for the meshes to admit it
    /// on any port the class listens on (`None`: any source might be admitted).
    pub fn mesh_requirements(&self) -> Vec<Option<Vec<u32>>> {
        match &self.mesh {
            None => Vec::new(),
            Some(m) => self
                .classes
                .iter()
                .map(|c| if c.mesh { m.required_atoms(c) } else { None })
                .collect(),
        }
    }

    /// Whether a mesh sees the pods of `c` as of unknown identity (the ingress controller).
    pub fn mesh_unknown(&self, c: &NetClass) -> bool {
        matches!(self.mesh_src(c), mesh::Src::Unknown)
    }

    /// The mesh rules deciding traffic from `src` (`None`: outside the cluster) into `dst`:
    /// evidence for a step a mesh judges.
    pub fn mesh_reasons(&self, src: Option<&NetClass>, dst: &NetClass) -> Vec<mesh::MeshRef> {
        let src = match src {
            Some(c) => self.mesh_src(c),
            None => mesh::Src::External,
        };
        self.mesh_admits(src, dst).1
    }

    /// The admin policies' verdict on traffic from `src` into `dst` (`None` when no admin
    /// policy has ingress rules for `dst`).
    pub fn admin_ingress_verdict(&self, src: &NetClass, dst: &NetClass) -> Option<admin::Verdict> {
        dst.admin_ingress().then(|| {
            admin::verdict(
                &self.admin,
                &dst.admin,
                true,
                Other::Pods(src),
                Some(&dst.ports),
            )
        })
    }

    /// The admin policies' verdict on traffic from `src` to `dst`, on `src`'s egress side.
    pub fn admin_egress_verdict(&self, src: &NetClass, dst: &NetClass) -> Option<admin::Verdict> {
        src.admin_egress().then(|| {
            admin::verdict(
                &self.admin,
                &src.admin,
                false,
                Other::Pods(dst),
                Some(&dst.ports),
            )
        })
    }

    /// The admin peer atoms class `c`'s pods match: sources with the same key get the same
    /// admin verdict from every destination.
    pub fn admin_key(&self, c: &NetClass) -> Vec<u32> {
        c.atom_ids()
            .filter(|&a| match self.atom_owner.get(a as usize) {
                Some(AtomOwner::Admin(p)) => self
                    .admin
                    .get(*p as usize)
                    .is_some_and(|policy| policy.subject_atom != a),
                // A mesh decides by who the source is: sources alike to it share its atoms.
                Some(AtomOwner::Mesh) => true,
                _ => false,
            })
            .collect()
    }

    /// What an admin group of sources stands for ([`NetModel::admin_key`] plus, for a source
    /// admin policies judge the egress of and no NetworkPolicy isolates the egress of, those
    /// policies): its members get the same verdicts towards every destination.
    pub fn admin_signature(&self, c: &NetClass) -> (Vec<u32>, Vec<u32>) {
        let egress = if c.admin_egress_only() {
            c.admin.clone()
        } else {
            Vec::new()
        };
        (egress, self.admin_key(c))
    }

    /// What `like` may send to `dst` by the admin policies judging its egress (everything when
    /// none does; its NetworkPolicy egress open).
    pub fn admin_sends(&self, like: &NetClass, dst: &NetClass) -> PortSet {
        match self.admin_egress_verdict(like, dst) {
            Some(v) => v.allowed.union(&v.baseline),
            None => PortSet::all(),
        }
    }

    /// Whether what rule `rule` of NetworkPolicy `p` admits into class `dc` is admitted from
    /// every source the rule names, whatever admin policies judge `dc`'s ingress: no
    /// AdminNetworkPolicy ingress rule of `dc`'s denies a port the rule admits (an `Allow`
    /// allows it anyway, a `Pass` leaves it to the rule; the baseline does not count where a
    /// NetworkPolicy isolates).
    pub fn rule_carries(&self, p: u32, rule: u32, dc: ClassId) -> bool {
        let d = self.class(dc);
        if !d.admin_ingress() {
            return true;
        }
        if d.mesh {
            // A mesh judges each source by its identity: the rule's sources are not alike.
            return false;
        }
        let ports = self.rule_ports_into(p, rule, dc);
        d.admin.iter().all(|&a| {
            self.admin.get(a as usize).is_none_or(|policy| {
                policy.baseline
                    || policy.ingress.iter().all(|r| {
                        r.action != admin::Action::Deny
                            || !admin::resolve(&r.ports, Some(&d.ports)).overlaps(&ports)
                    })
            })
        })
    }

    /// What a source of `like`'s admin group (its NetworkPolicy egress open) that a
    /// NetworkPolicy ingress rule of `dst` names, admitting `rule_ports`, may send to `dst`
    /// through that rule, on the ports `dst` listens on: the rule's ports, met by the admin
    /// verdicts on both sides (an `Allow` into `dst` counts whatever the rule says).
    pub fn named_allows(&self, like: &NetClass, dst: &NetClass, rule_ports: &PortSet) -> PortSet {
        let admits = match self.admin_ingress_verdict(like, dst) {
            Some(v) => v.allowed.union(&v.to_policies.intersect(rule_ports)),
            None => rule_ports.clone(),
        };
        admits
            .intersect(&self.admin_sends(like, dst))
            .intersect(&self.mesh_admits(self.mesh_src(like), dst).0)
            .intersect(&dst.listening())
    }

    /// The ports of `dst`'s NetworkPolicy ingress rules that name no peer.
    fn any_peer_ports(&self, dst: &NetClass) -> PortSet {
        let mut any = PortSet::empty();
        for &p in &dst.ingress_policies {
            for r in self.policies[p as usize].ingress.iter().flatten() {
                if r.peers.is_none() {
                    any.union_with(&Self::resolve(&r.ports, Some(dst)));
                }
            }
        }
        any
    }

    /// What every source of `like`'s admin group (see [`NetModel::admin_signature`]; its
    /// NetworkPolicy egress open) may send to `dst` on the ports `dst` listens on, whatever
    /// NetworkPolicy peer of `dst` names it: its admin egress verdict, met by `dst`'s ingress
    /// — the admin policies' verdict and what they leave to NetworkPolicy rules naming no peer
    /// (or, with no NetworkPolicy isolating `dst`, to the baseline). With the admin rules that
    /// decided, egress then ingress. A source a NetworkPolicy rule of `dst` names may reach
    /// more ([`NetModel::np_names`]).
    pub fn group_allows(
        &self,
        like: &NetClass,
        dst: &NetClass,
    ) -> (PortSet, admin::RuleRefs, admin::RuleRefs) {
        let (sends, egress_rules) = match self.admin_egress_verdict(like, dst) {
            Some(v) => (v.allowed.union(&v.baseline), v.rules),
            None => (PortSet::all(), Vec::new()),
        };
        let (admits, ingress_rules) = match self.admin_ingress_verdict(like, dst) {
            Some(v) => {
                let by_policies = if dst.ingress_policies.is_empty() {
                    v.baseline.clone()
                } else {
                    self.any_peer_ports(dst)
                };
                (
                    v.allowed.union(&v.to_policies.intersect(&by_policies)),
                    v.rules,
                )
            }
            None if dst.ingress_policies.is_empty() => (PortSet::all(), Vec::new()),
            None => (self.any_peer_ports(dst), Vec::new()),
        };
        let ports = sends
            .intersect(&admits)
            .intersect(&self.mesh_admits(self.mesh_src(like), dst).0)
            .intersect(&dst.listening());
        (ports, egress_rules, ingress_rules)
    }

    /// Whether an ingress rule of a NetworkPolicy isolating `dst` names a peer selecting `src`.
    pub fn np_names(&self, src: &NetClass, dst: &NetClass) -> bool {
        dst.ingress_policies.iter().any(|&p| {
            self.policies[p as usize].ingress.iter().flatten().any(|r| {
                r.peers
                    .iter()
                    .flatten()
                    .any(|x| matches!(x, Peer::Pods { atom, .. } if src.has(*atom)))
            })
        })
    }

    /// The classes a NetworkPolicy ingress rule of `dst` names through a pod peer.
    pub fn np_named_sources(&self, dst: ClassId) -> Vec<ClassId> {
        let d = self.class(dst);
        let mut out = Vec::new();
        for &p in &d.ingress_policies {
            for r in self.policies[p as usize].ingress.iter().flatten() {
                for peer in r.peers.iter().flatten() {
                    if let Peer::Pods { atom, .. } = peer {
                        out.extend(self.atom_classes[*atom as usize].iter().copied());
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Ports `dst` admits from pods of `src` (its ingress side only), with the admitting
    /// NetworkPolicy rules.
    pub fn ingress_from(&self, src: &NetClass, dst: &NetClass) -> (PortSet, Vec<RuleRef>) {
        self.layered(dst, true, Other::Pods(src), Some(&dst.ports), || {
            self.rules_admit(&dst.ingress_policies, true, src, dst)
        })
    }

    /// Ports `src` may send to pods of `dst` (its egress side only), with the admitting
    /// NetworkPolicy rules.
    pub fn egress_to(&self, src: &NetClass, dst: &NetClass) -> (PortSet, Vec<RuleRef>) {
        self.layered(src, false, Other::Pods(dst), Some(&dst.ports), || {
            self.rules_admit(&src.egress_policies, false, dst, dst)
        })
    }

    /// Union of the ports that the `ingress` (or egress) rules of `policies` admit for `peer`,
    /// named ports resolved against the destination `dst`, with the rules that admit them.
    fn rules_admit(
        &self,
        policies: &[u32],
        ingress: bool,
        peer: &NetClass,
        dst: &NetClass,
    ) -> (PortSet, Vec<RuleRef>) {
        let mut out = PortSet::empty();
        let mut why = Vec::new();
        for &p in policies {
            let policy = &self.policies[p as usize];
            let rules = if ingress {
                &policy.ingress
            } else {
                &policy.egress
            };
            for (ri, r) in rules.iter().flatten().enumerate() {
                let matched = match &r.peers {
                    None => true,
                    Some(peers) => peers
                        .iter()
                        .any(|x| matches!(x, Peer::Pods { atom, .. } if peer.has(*atom))),
                };
                if matched {
                    let ports = Self::resolve(&r.ports, Some(dst));
                    if !ports.is_empty() {
                        out.union_with(&ports);
                        why.push(RuleRef {
                            policy: p,
                            ingress,
                            rule: ri as u32,
                        });
                    }
                }
            }
        }
        (out, why)
    }

    /// Ports allowed from pods of `src` to pods of `dst`: egress ∩ ingress.
    pub fn allowed(&self, src: ClassId, dst: ClassId) -> PortSet {
        let (s, d) = (self.class(src), self.class(dst));
        let (e, _) = self.egress_to(s, d);
        if e.is_empty() {
            return e;
        }
        self.ingress_from(s, d).0.intersect(&e)
    }

    /// Ports `dst` admits from addresses in `from` (outside the cluster). `from` must be an
    /// atomic range of the policies' ipBlocks (see [`NetModel::ip_blocks`]), or `None` for
    /// "the internet": any public address.
    pub fn ingress_from_external(
        &self,
        from: Option<&IpSet>,
        dst: ClassId,
    ) -> (PortSet, Vec<RuleRef>) {
        let d = self.class(dst);
        self.layered(d, true, Other::External(from), Some(&d.ports), || {
            self.external_admits(from, d)
        })
    }

    /// What `d`'s NetworkPolicies (isolating its ingress) admit from addresses in `from`.
    fn external_admits(&self, from: Option<&IpSet>, d: &NetClass) -> (PortSet, Vec<RuleRef>) {
        let internet = IpSet::internet();
        let mut out = PortSet::empty();
        let mut why = Vec::new();
        for &p in &d.ingress_policies {
            for (ri, r) in self.policies[p as usize]
                .ingress
                .iter()
                .flatten()
                .enumerate()
            {
                let matched = match &r.peers {
                    None => true,
                    Some(peers) => peers.iter().any(|x| match x {
                        Peer::Block(b) => match from {
                            Some(f) => b.contains_set(f),
                            None => !b.intersect(&internet).is_empty(),
                        },
                        Peer::Pods { .. } => false,
                    }),
                };
                if matched {
                    let ports = Self::resolve(&r.ports, Some(d));
                    if !ports.is_empty() {
                        out.union_with(&ports);
                        why.push(RuleRef {
                            policy: p,
                            ingress: true,
                            rule: ri as u32,
                        });
                    }
                }
            }
        }
        (out, why)
    }

    /// Ports `src` may send to addresses in `to` (an atomic ipBlock range; `None` = internet).
    pub fn egress_to_external(&self, src: ClassId, to: Option<&IpSet>) -> PortSet {
        self.egress_to_internet_by(src, to).0
    }

    /// Ports `src` may send to some public address, with the egress rules that allow them
    /// (none when no NetworkPolicy restricts its egress): what makes a foothold there an
    /// exfiltration channel.
    pub fn egress_to_internet(&self, src: ClassId) -> (PortSet, Vec<RuleRef>) {
        self.egress_to_internet_by(src, None)
    }

    fn egress_to_internet_by(&self, src: ClassId, to: Option<&IpSet>) -> (PortSet, Vec<RuleRef>) {
        let s = self.class(src);
        self.layered(s, false, Other::External(to), None, || {
            self.external_sends(s, to)
        })
    }

    /// What `s`'s NetworkPolicies (isolating its egress) allow to addresses in `to`, and the
    /// rules that allow it.
    fn external_sends(&self, s: &NetClass, to: Option<&IpSet>) -> (PortSet, Vec<RuleRef>) {
        let internet = IpSet::internet();
        let mut out = PortSet::empty();
        let mut why = Vec::new();
        for &p in &s.egress_policies {
            for (ri, r) in self.policies[p as usize]
                .egress
                .iter()
                .flatten()
                .enumerate()
            {
                let matched = match &r.peers {
                    None => true,
                    Some(peers) => peers.iter().any(|x| match x {
                        Peer::Block(b) => match to {
                            Some(t) => b.contains_set(t),
                            None => !b.intersect(&internet).is_empty(),
                        },
                        Peer::Pods { .. } => false,
                    }),
                };
                if matched {
                    let ports = Self::resolve(&r.ports, None);
                    if !ports.is_empty() {
                        out.union_with(&ports);
                        why.push(RuleRef {
                            policy: p,
                            ingress: false,
                            rule: u32::try_from(ri).unwrap_or(u32::MAX),
                        });
                    }
                }
            }
        }
        (out, why)
    }

    /// Whether `dst` has an ingress rule that admits every in-cluster source on a port it listens
    /// on (so any pod reaches it, policy or not). Never when admin policies have ingress rules
    /// for it: what reaches it then depends on the source.
    pub fn admits_any_pod(&self, dst: ClassId) -> (bool, Vec<RuleRef>) {
        let d = self.class(dst);
        if d.admin_ingress() {
            return (false, Vec::new());
        }
        if d.ingress_open() {
            return (true, Vec::new());
        }
        let listening = d.listening();
        let mut why = Vec::new();
        for &p in &d.ingress_policies {
            for (ri, r) in self.policies[p as usize]
                .ingress
                .iter()
                .flatten()
                .enumerate()
            {
                if r.peers.is_none() && Self::resolve(&r.ports, Some(d)).overlaps(&listening) {
                    why.push(RuleRef {
                        policy: p,
                        ingress: true,
                        rule: ri as u32,
                    });
                }
            }
        }
        (!why.is_empty(), why)
    }

    /// Candidate source classes that an ingress-isolated `dst` admits through pod-selecting
    /// peers (a superset; confirm with [`NetModel::allowed`]).
    pub fn peer_sources(&self, dst: ClassId) -> Vec<ClassId> {
        if self.class(dst).admin_ingress() {
            return self.classes.iter().map(|c| c.id).collect();
        }
        self.np_named_sources(dst)
    }

    /// Ports `dst` admits from an ingress controller (the pseudo-pod; its egress is open).
    pub fn ingress_from_controller(&self, dst: ClassId) -> (PortSet, Vec<RuleRef>) {
        self.ingress_from(self.class(self.ingress_controller), self.class(dst))
    }

    /// Every ipBlock used by a peer, and every admin rule's `networks`.
    pub fn ip_blocks(&self) -> Vec<&IpSet> {
        let mut v = self.blocks(true);
        v.extend(self.blocks(false));
        v
    }

    /// The address ranges the ingress (or egress) rules of every policy name: ipBlocks, CIDRs,
    /// an AdminNetworkPolicy's `networks`, Cilium's `world`.
    pub fn blocks(&self, ingress: bool) -> Vec<&IpSet> {
        let mut v = Vec::new();
        for p in &self.policies {
            let rules = if ingress { &p.ingress } else { &p.egress };
            for r in rules.iter().flatten() {
                for peer in r.peers.iter().flatten() {
                    if let Peer::Block(b) = peer {
                        v.push(b);
                    }
                }
            }
        }
        for p in &self.admin {
            for r in if ingress { &p.ingress } else { &p.egress } {
                for peer in &r.peers {
                    match peer {
                        admin::AdminPeer::Networks(n) | admin::AdminPeer::Outside(n) => v.push(n),
                        admin::AdminPeer::Pods(_) => {}
                    }
                }
            }
        }
        v
    }

    /// `namespace/name` of a policy (`name` when clusterwide).
    pub fn policy_name(&self, p: u32) -> String {
        let p = &self.policies[p as usize];
        if p.namespace.is_empty() {
            p.name.clone()
        } else {
            format!("{}/{}", p.namespace, p.name)
        }
    }

    /// Whether policy `p` is a NetworkPolicy the cut may narrow (a Cilium policy's rules are
    /// not edited: the cut goes elsewhere).
    pub fn narrowable(&self, p: u32) -> bool {
        self.policies
            .get(p as usize)
            .is_some_and(CompiledPolicy::is_network_policy)
    }

    /// Whether every one of `rules` is a NetworkPolicy rule the cut may narrow.
    pub fn all_narrowable(&self, rules: &[RuleRef]) -> bool {
        rules.iter().all(|r| self.narrowable(r.policy))
    }

    /// Number of pod-peer and selector atoms (for statistics).
    pub fn atom_count(&self) -> usize {
        self.atom_owner.len()
    }

    /// The ingress rules that admit pods through pod-selecting peers, of every policy still in
    /// the model: policy, rule index, and the peer sets the rule names (ascending, distinct).
    pub fn ingress_peer_rules(&self) -> Vec<(u32, u32, Vec<u32>)> {
        let mut out = Vec::new();
        for (pi, p) in self.policies.iter().enumerate() {
            let Ok(pi) = u32::try_from(pi) else { break };
            for (ri, r) in p.ingress.iter().flatten().enumerate() {
                let mut sets: Vec<u32> = r
                    .peers
                    .iter()
                    .flatten()
                    .filter_map(|peer| match peer {
                        Peer::Pods { atom, .. } => self.peer_set(*atom),
                        Peer::Block(_) => None,
                    })
                    .collect();
                sets.sort_unstable();
                sets.dedup();
                if !sets.is_empty() {
                    out.push((pi, u32::try_from(ri).unwrap_or(u32::MAX), sets));
                }
            }
        }
        out
    }

    /// The peer set of a pod-selecting peer's atom.
    pub fn peer_set(&self, atom: u32) -> Option<u32> {
        self.sets
            .set_of
            .get(atom as usize)
            .copied()
            .filter(|s| *s != u32::MAX)
    }

    /// The peer sets class `c`'s pods are in, ascending.
    pub fn peer_sets_of(&self, c: ClassId) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .class(c)
            .atom_ids()
            .filter_map(|a| self.peer_set(a))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// What a peer set stands for, independent of indices: the namespaces it is placed in and
    /// its pod selector.
    pub fn peer_set_key(&self, set: u32) -> (Vec<&str>, Option<&LabelSelector>) {
        match self.sets.keys.get(set as usize) {
            Some((nss, sel)) => (
                nss.iter()
                    .filter_map(|i| self.namespaces.get(*i as usize).map(|(n, _)| n.as_str()))
                    .collect(),
                Some(sel),
            ),
            None => (Vec::new(), None),
        }
    }

    /// The classes a policy selects (none once retired).
    pub fn policy_classes(&self, p: u32) -> &[ClassId] {
        match self.policies.get(p as usize) {
            Some(policy) if !policy.retired => self
                .atom_classes
                .get(policy.selecting_atom as usize)
                .map_or(&[], Vec::as_slice),
            _ => &[],
        }
    }

    /// Ports rule `rule` of policy `p`'s ingress admits into class `dst`, among those it listens
    /// on.
    pub fn rule_ports_into(&self, p: u32, rule: u32, dst: ClassId) -> PortSet {
        let d = self.class(dst);
        self.policies
            .get(p as usize)
            .and_then(|policy| policy.ingress.as_ref())
            .and_then(|rules| rules.get(rule as usize))
            .map_or_else(PortSet::empty, |r| {
                Self::resolve(&r.ports, Some(d)).intersect(&d.listening())
            })
    }

    /// Candidate destinations of an egress-isolated class: the classes its egress rules' peers
    /// (and its AdminNetworkPolicies' `Allow` peers) select, or `None` when a rule admits every
    /// destination (a superset; confirm with [`NetModel::allowed`]).
    pub fn egress_candidates(&self, src: ClassId) -> Option<Vec<ClassId>> {
        let s = self.class(src);
        // Admin policies judging the egress: without a NetworkPolicy isolating it, anything;
        // with one, what it names plus what an AdminNetworkPolicy `Allow` names (a `Deny`
        // only takes away, a `Pass` leaves it to the NetworkPolicy, the baseline does not
        // count).
        if s.admin_egress_only() {
            return None;
        }
        let mut out = Vec::new();
        for &a in &s.admin {
            let Some(policy) = self.admin.get(a as usize) else {
                continue;
            };
            if policy.baseline {
                continue;
            }
            for r in policy
                .egress
                .iter()
                .filter(|r| r.action == admin::Action::Allow)
            {
                for peer in &r.peers {
                    if peer.selects_every_pod() {
                        return None;
                    }
                    if let admin::AdminPeer::Pods(atom) = peer {
                        out.extend(self.atom_classes[*atom as usize].iter().copied());
                    }
                }
            }
        }
        for &p in &s.egress_policies {
            for r in self.policies[p as usize].egress.iter().flatten() {
                let Some(peers) = &r.peers else {
                    return None;
                };
                for peer in peers {
                    if let Peer::Pods { atom, .. } = peer {
                        out.extend(self.atom_classes[*atom as usize].iter().copied());
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }

    /// NetworkPolicy owning an atom (`None` for an admin policy's).
    pub fn atom_policy(&self, atom: u32) -> Option<u32> {
        self.atom_owner.get(atom as usize).and_then(|o| match o {
            AtomOwner::Selects(p) | AtomOwner::Peer(p) => Some(*p),
            AtomOwner::Admin(_) | AtomOwner::Mesh => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bits(atoms: &[u32], words: usize) -> Vec<u64> {
        let mut b = vec![0u64; words];
        for &a in atoms {
            b[a as usize / 64] |= 1 << (a % 64);
        }
        b
    }

    fn set(words: usize) -> impl Strategy<Value = Vec<u32>> {
        let top = u32::try_from(words * 64).unwrap_or(u32::MAX);
        proptest::collection::btree_set(0..top, 0..12).prop_map(|s| s.into_iter().collect())
    }

    fn sized() -> impl Strategy<Value = (usize, Vec<u32>)> {
        (1usize..5).prop_flat_map(|w| (Just(w), set(w)))
    }

    proptest! {
        /// A class's signature orders, compares and prints as the bit set it once was.
        #[test]
        fn a_signature_orders_and_prints_as_its_bit_set(
            (wa, a) in sized(),
            other in sized(),
            near in any::<bool>(),
            toggle in 0u32..256,
        ) {
            // Half the time the same width and all but one atom: ties and near ties.
            let (wb, b) = if near {
                let t = toggle % u32::try_from(wa * 64).unwrap_or(64);
                let mut b: Vec<u32> = a.iter().copied().filter(|&x| x != t).collect();
                if b.len() == a.len() {
                    b.push(t);
                    b.sort_unstable();
                }
                (wa, b)
            } else {
                other
            };
            let ports: Vec<DeclaredPort> = Vec::new();
            let sa = Signature { atoms: &a, words: wa, ports: &ports };
            let sb = Signature { atoms: &b, words: wb, ports: &ports };
            let (ba, bb) = (bits(&a, wa), bits(&b, wb));
            prop_assert_eq!(sa.cmp(&sb), ba.cmp(&bb));
            prop_assert_eq!(sa.cmp(&sa), std::cmp::Ordering::Equal);
            prop_assert_eq!(sa == sb, ba == bb);
            let empty: &[DeclaredPort] = &[];
            prop_assert_eq!(format!("{sa:?}"), format!("{:?}", (&ba[..], empty)));
        }
    }
}
