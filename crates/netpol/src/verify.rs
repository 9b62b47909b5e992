//! The proof of a plan, through rampart's own NetworkPolicy semantics: with the suggested
//! policies added to the model, every observed connection must still be allowed, and every
//! allowed connection of a covered workload must be an observed one (or a declared exception:
//! DNS, a selector shared with another workload, the internet on a port seen from many
//! addresses, a policy already in the cluster). Also: what the policies close.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ipnet::IpNet;
use rampart_graph::ipset::IpSet;
use rampart_graph::netpol::{ClassId, NetModel};
use rampart_graph::ports::{PortSet, Protocol};
use rampart_model::objects::NetworkPolicy;
use rampart_model::{Snapshot, WorkloadId, Workloads};
use serde::Serialize;

use crate::attribute::{Cluster, Connection, Observed, Peer};
use crate::suggest::Suggested;

/// A connection as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Shown {
    /// Client: `ns/name[Kind]`, or a CIDR (with its identity: `203.0.113.7/32 (world)`).
    pub from: String,
    /// Server.
    pub to: String,
    /// `TCP 8080`.
    pub port: String,
}

/// An allowed connection no flow showed, and why it is allowed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Unobserved {
    /// The connection (`port` may be a set: `TCP 1-65535`).
    #[serde(flatten)]
    pub connection: Shown,
    /// Why: `dns`, `shared-selector`, `internet`, `existing-policy`.
    pub reason: &'static str,
}

/// What a plan closes for one workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closed {
    /// `ns/name[Kind]`.
    pub workload: String,
    /// Workloads that could open connections to it before and cannot now.
    pub ingress_closed_from: usize,
    /// Workloads it could reach before and cannot now.
    pub egress_closed_to: usize,
    /// Whether the internet could reach it before (under policy) and cannot now.
    pub internet_ingress_closed: bool,
    /// Whether it could reach the internet before and cannot now (on some port).
    pub internet_egress_closed: bool,
    /// A few of the workloads closed off, both directions (`→ x` egress, `← x` ingress).
    pub examples: Vec<String>,
}

/// The verification of a set of policies against the observed connections.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    /// Observed connections checked.
    pub observed: usize,
    /// Of those, still allowed.
    pub kept: usize,
    /// Observed connections the policies deny (a sound plan has none).
    pub broken: Vec<Shown>,
    /// Allowed connections of covered workloads that no flow showed, with why.
    pub unobserved_allowed: Vec<Unobserved>,
    /// How many allowed-but-unobserved connections there are in all (the list is capped).
    pub unobserved_count: usize,
    /// What the policies close, per covered workload.
    pub closed: Vec<Closed>,
    /// Workload pairs closed off in all.
    pub closed_pairs: usize,
}

impl Verification {
    /// Every observed connection still passes.
    pub fn keeps_every_flow(&self) -> bool {
        self.broken.is_empty()
    }

    /// Every allowed connection of a covered workload is observed or an exception other than
    /// a policy already in the cluster or a shared selector.
    pub fn allows_only_observed(&self) -> bool {
        self.unobserved_allowed
            .iter()
            .all(|u| u.reason == "dns" || u.reason == "internet")
    }
}

/// Cap on listed unobserved connections.
const LISTED: usize = 500;

/// Names for peers in reports.
pub fn show_peer(workloads: &Workloads, observed: &Observed, p: Peer) -> String {
    match p {
        Peer::Workload(w) => workloads.list[w.index()].display(),
        Peer::External(net) => match observed.entities.get(&net) {
            Some(e) => format!("{net} ({})", e.as_str()),
            None => net.to_string(),
        },
    }
}

fn show(workloads: &Workloads, observed: &Observed, c: &Connection) -> Shown {
    Shown {
        from: show_peer(workloads, observed, c.client),
        to: show_peer(workloads, observed, c.server),
        port: format!("{} {}", c.protocol.as_str(), c.port),
    }
}

fn ipset(net: IpNet) -> IpSet {
    IpSet::from_cidr(&net.to_string()).unwrap_or_else(|_| IpSet::empty())
}

/// The policies as model objects.
pub fn as_objects(policies: &[Suggested]) -> Vec<NetworkPolicy> {
    policies
        .iter()
        .filter_map(|p| serde_json::from_value::<NetworkPolicy>(p.manifest.clone()).ok())
        .collect()
}

/// The network model with `policies` added (compiled after the model's own, or built afresh).
pub fn model_with(
    snapshot: &Snapshot,
    workloads: &Workloads,
    base: &NetModel,
    policies: &[Suggested],
) -> NetModel {
    let objects = as_objects(policies);
    if let Some(m) = base.with_policies(&objects, workloads) {
        return m;
    }
    let mut s = snapshot.clone();
    for p in policies {
        rampart_graph::fix::Fix::AddNetworkPolicy(p.manifest.clone()).apply(&mut s);
    }
    NetModel::build(&s, workloads)
}

/// Ports allowed from `a` to `b` in `m` (every pod group pair must allow them).
fn between(m: &NetModel, a: Peer, b: Peer, cache: &mut HashMap<(ClassId, ClassId), PortSet>) -> PortSet {
    let classes = |w: WorkloadId| m.member_class.get(w.index()).cloned().unwrap_or_default();
    match (a, b) {
        (Peer::Workload(x), Peer::Workload(y)) => {
            let mut out: Option<PortSet> = None;
            for cx in classes(x) {
                for cy in classes(y) {
                    let p = cache.entry((cx, cy)).or_insert_with(|| m.allowed(cx, cy)).clone();
                    out = Some(match out {
                        Some(o) => o.intersect(&p),
                        None => p,
                    });
                }
            }
            out.unwrap_or_default()
        }
        (Peer::Workload(x), Peer::External(net)) => {
            let set = ipset(net);
            meet(classes(x).into_iter().map(|c| m.egress_to_external(c, Some(&set))))
        }
        (Peer::External(net), Peer::Workload(y)) => {
            let set = ipset(net);
            meet(classes(y).into_iter().map(|c| m.ingress_from_external(Some(&set), c).0))
        }
        (Peer::External(_), Peer::External(_)) => PortSet::all(),
    }
}

fn meet(it: impl Iterator<Item = PortSet>) -> PortSet {
    let mut out: Option<PortSet> = None;
    for p in it {
        out = Some(match out {
            Some(o) => o.intersect(&p),
            None => p,
        });
    }
    out.unwrap_or_default()
}

/// What verification needs to know of the plan.
pub struct Scope<'p> {
    /// The policies verified (a prefix of the plan, or all of it).
    pub policies: &'p [Suggested],
    /// Workloads whose selectors also pick others.
    pub shared: &'p BTreeSet<WorkloadId>,
    /// The cluster DNS workloads.
    pub dns: &'p BTreeSet<WorkloadId>,
}

/// Verifies `scope.policies` against the observed connections. `before` is the model without
/// them; `after` with them.
pub fn verify(
    cluster: &Cluster<'_>,
    observed: &Observed,
    before: &NetModel,
    after: &NetModel,
    scope: &Scope<'_>,
) -> Verification {
    let workloads = cluster.workloads();
    let mut v = Verification::default();
    let mut cache = HashMap::new();
    for c in observed.allowed.keys() {
        if matches!((c.client, c.server), (Peer::External(_), Peer::External(_))) {
            continue;
        }
        v.observed += 1;
        if between(after, c.client, c.server, &mut cache).contains(c.protocol, c.port) {
            v.kept += 1;
        } else {
            v.broken.push(show(workloads, observed, c));
        }
    }
    // The covered workloads per direction.
    let mut ingress: BTreeSet<WorkloadId> = BTreeSet::new();
    let mut egress: BTreeSet<WorkloadId> = BTreeSet::new();
    let mut namespaces_denied: BTreeSet<&str> = BTreeSet::new();
    for p in scope.policies {
        match (p.stage, p.workload) {
            (crate::suggest::Stage::Ingress, Some(w)) => {
                ingress.insert(w);
            }
            (crate::suggest::Stage::Egress, Some(w)) => {
                egress.insert(w);
            }
            _ => {
                namespaces_denied.insert(&p.namespace);
            }
        }
    }
    // Observed ports per workload pair, and per workload to/from any external address.
    let mut seen: HashMap<(Peer, Peer), PortSet> = HashMap::new();
    let mut seen_external: HashMap<(WorkloadId, bool), PortSet> = HashMap::new();
    for c in observed.allowed.keys() {
        let port = PortSet::single(c.protocol, c.port);
        seen.entry((c.client, c.server)).or_default().union_with(&port);
        match (c.client, c.server) {
            (Peer::External(_), Peer::Workload(w)) => {
                seen_external.entry((w, true)).or_default().union_with(&port);
            }
            (Peer::Workload(w), Peer::External(_)) => {
                seen_external.entry((w, false)).or_default().union_with(&port);
            }
            _ => {}
        }
    }
    let dns_ports = PortSet::single(Protocol::Udp, 53).union(&PortSet::single(Protocol::Tcp, 53));
    let mut unobserved: BTreeSet<Unobserved> = BTreeSet::new();
    let mut count = 0usize;
    let mut note = |u: Unobserved, count: &mut usize| {
        *count += 1;
        if unobserved.len() < LISTED {
            unobserved.insert(u);
        }
    };
    let mut closed: BTreeMap<WorkloadId, Closed> = BTreeMap::new();
    let all: Vec<Peer> = workloads.list.iter().map(|w| Peer::Workload(w.id)).collect();
    let mut cache_before = HashMap::new();
    let covered: BTreeSet<WorkloadId> = ingress
        .iter()
        .chain(&egress)
        .copied()
        .chain(workloads.list.iter().filter(|w| namespaces_denied.contains(w.namespace.as_str())).map(|w| w.id))
        .collect();
    let denied = |w: WorkloadId| namespaces_denied.contains(workloads.list[w.index()].namespace.as_str());
    for &w in &covered {
        let me = Peer::Workload(w);
        let display = workloads.list[w.index()].display();
        let entry = closed.entry(w).or_insert_with(|| Closed {
            workload: display.clone(),
            ingress_closed_from: 0,
            egress_closed_to: 0,
            internet_ingress_closed: false,
            internet_egress_closed: false,
            examples: Vec::new(),
        });
        for &other in &all {
            if other == me {
                continue;
            }
            for (from, to, is_ingress) in [(other, me, true), (me, other, false)] {
                let now = between(after, from, to, &mut cache);
                let was = between(before, from, to, &mut cache_before);
                if !was.is_empty() && now.is_empty() {
                    if is_ingress {
                        entry.ingress_closed_from += 1;
                    } else {
                        entry.egress_closed_to += 1;
                    }
                    if entry.examples.len() < 5 {
                        let o = show_peer(workloads, observed, other);
                        entry.examples.push(if is_ingress { format!("← {o}") } else { format!("→ {o}") });
                    }
                }
                let mut extra = now.clone();
                if let Some(s) = seen.get(&(from, to)) {
                    extra = subtract(&extra, s);
                }
                if extra.is_empty() {
                    continue;
                }
                // A connection only a side without a suggested policy allows is that side's
                // business; what the covered side's own policies let through is judged.
                if !touches(is_ingress, &ingress, &egress, from, to) && !denied(w) {
                    continue;
                }
                let reason = if let (false, Peer::Workload(t)) = (is_ingress, to)
                    && scope.dns.contains(&t)
                    && subtract(&extra, &dns_ports).is_empty()
                {
                    "dns"
                } else if [from, to]
                    .iter()
                    .any(|p| matches!(p, Peer::Workload(x) if scope.shared.contains(x)))
                {
                    "shared-selector"
                } else {
                    "existing-policy"
                };
                note(
                    Unobserved {
                        connection: Shown {
                            from: show_peer(workloads, observed, from),
                            to: show_peer(workloads, observed, to),
                            port: extra.to_string(),
                        },
                        reason,
                    },
                    &mut count,
                );
            }
        }
        let cw = after.member_class.get(w.index()).cloned().unwrap_or_default();
        let cb = before.member_class.get(w.index()).cloned().unwrap_or_default();
        let in_now = meet(cw.iter().map(|c| after.ingress_from_external(None, *c).0));
        let in_was = meet(cb.iter().map(|c| before.ingress_from_external(None, *c).0));
        let out_now = meet(cw.iter().map(|c| after.egress_to_external(*c, None)));
        let out_was = meet(cb.iter().map(|c| before.egress_to_external(*c, None)));
        entry.internet_ingress_closed = !in_was.is_empty() && in_now.is_empty();
        entry.internet_egress_closed = !subtract(&out_was, &out_now).is_empty();
        for (now, is_ingress) in [(in_now, true), (out_now, false)] {
            let seen = seen_external.get(&(w, is_ingress)).cloned().unwrap_or_default();
            let extra = subtract(&now, &seen);
            if !extra.is_empty() {
                let (from, to) = if is_ingress {
                    ("internet".to_owned(), display.clone())
                } else {
                    (display.clone(), "internet".to_owned())
                };
                note(
                    Unobserved {
                        connection: Shown { from, to, port: extra.to_string() },
                        reason: "internet",
                    },
                    &mut count,
                );
            }
        }
    }
    v.unobserved_allowed = unobserved.into_iter().collect();
    v.unobserved_count = count;
    v.closed_pairs = closed.values().map(|c| c.ingress_closed_from + c.egress_closed_to).sum();
    v.closed = closed.into_values().filter(|c| c.ingress_closed_from + c.egress_closed_to > 0 || c.internet_egress_closed || c.internet_ingress_closed).collect();
    v
}

/// Whether the side of `from → to` that a suggested policy covers is covered.
fn touches(is_ingress: bool, ingress: &BTreeSet<WorkloadId>, egress: &BTreeSet<WorkloadId>, from: Peer, to: Peer) -> bool {
    if is_ingress {
        matches!(to, Peer::Workload(w) if ingress.contains(&w))
    } else {
        matches!(from, Peer::Workload(w) if egress.contains(&w))
    }
}

/// `a` without `b`.
pub fn subtract(a: &PortSet, b: &PortSet) -> PortSet {
    let mut out = PortSet::empty();
    for p in Protocol::ALL {
        let mut cur: Vec<(u16, u16)> = a.ranges(p).to_vec();
        for &(lo, hi) in b.ranges(p) {
            let mut next = Vec::with_capacity(cur.len() + 1);
            for (x, y) in cur {
                if hi < x || lo > y {
                    next.push((x, y));
                    continue;
                }
                if lo > x {
                    next.push((x, lo - 1));
                }
                if hi < y {
                    next.push((hi + 1, y));
                }
            }
            cur = next;
        }
        for (x, y) in cur {
            out.union_with(&PortSet::range(p, x, y));
        }
    }
    out
}
