//! The proof of a plan, through rampart's own NetworkPolicy semantics: with the suggested
//! policies added to the model, every observed connection must still be allowed, and every
//! allowed connection of a covered workload must be an observed one (or a declared exception:
//! DNS, a selector shared with another workload, the internet on a port seen from many
//! addresses, a policy already in the cluster). Also: what the policies close.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The hot maps: keys are small integers, no attacker picks them.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

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
fn between(
    m: &NetModel,
    a: Peer,
    b: Peer,
    cache: &mut FastMap<(ClassId, ClassId), PortSet>,
) -> PortSet {
    let classes = |w: WorkloadId| m.member_class.get(w.index()).cloned().unwrap_or_default();
    match (a, b) {
        (Peer::Workload(x), Peer::Workload(y)) => {
            let mut out: Option<PortSet> = None;
            for cx in classes(x) {
                for cy in classes(y) {
                    let p = cache
                        .entry((cx, cy))
                        .or_insert_with(|| m.allowed(cx, cy))
                        .clone();
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
            meet(
                classes(x)
                    .into_iter()
                    .map(|c| m.egress_to_external(c, Some(&set))),
            )
        }
        (Peer::External(net), Peer::Workload(y)) => {
            let set = ipset(net);
            meet(
                classes(y)
                    .into_iter()
                    .map(|c| m.ingress_from_external(Some(&set), c).0),
            )
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
    /// Whether to work out what closes (the whole plan's is the sum of its steps').
    pub closed: bool,
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
    let mut cache = FastMap::default();
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
    let mut seen: FastMap<(Peer, Peer), PortSet> = FastMap::default();
    let mut seen_external: FastMap<(WorkloadId, bool), PortSet> = FastMap::default();
    for c in observed.allowed.keys() {
        let port = PortSet::single(c.protocol, c.port);
        seen.entry((c.client, c.server))
            .or_default()
            .union_with(&port);
        match (c.client, c.server) {
            (Peer::External(_), Peer::Workload(w)) => {
                seen_external
                    .entry((w, true))
                    .or_default()
                    .union_with(&port);
            }
            (Peer::Workload(w), Peer::External(_)) => {
                seen_external
                    .entry((w, false))
                    .or_default()
                    .union_with(&port);
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
    let all: Vec<Peer> = workloads
        .list
        .iter()
        .map(|w| Peer::Workload(w.id))
        .collect();
    let mut members: FastMap<ClassId, Vec<WorkloadId>> = FastMap::default();
    for w in &workloads.list {
        for c in after.member_class.get(w.id.index()).into_iter().flatten() {
            members.entry(*c).or_default().push(w.id);
        }
    }
    let mut cache_before = FastMap::default();
    let covered: BTreeSet<WorkloadId> = ingress
        .iter()
        .chain(&egress)
        .copied()
        .chain(
            workloads
                .list
                .iter()
                .filter(|w| namespaces_denied.contains(w.namespace.as_str()))
                .map(|w| w.id),
        )
        .collect();
    let denied =
        |w: WorkloadId| namespaces_denied.contains(workloads.list[w.index()].namespace.as_str());
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
        for is_ingress in [true, false] {
            let covers = denied(w)
                || if is_ingress {
                    ingress.contains(&w)
                } else {
                    egress.contains(&w)
                };
            if !covers {
                // That direction is the other side's business (no policy of ours on it).
                continue;
            }
            // Who the covered side's policies admit now: a superset, from the rules' peers.
            let candidates = candidates(after, &members, w, is_ingress);
            for &other in &all {
                if other == me {
                    continue;
                }
                let (from, to) = if is_ingress { (other, me) } else { (me, other) };
                let possible = match (&candidates, other) {
                    (None, _) => true,
                    (Some(c), Peer::Workload(o)) => c.contains(&o),
                    (Some(_), Peer::External(_)) => false,
                };
                let now = if possible {
                    any_pair(after, from, to, &mut cache)
                } else {
                    PortSet::empty()
                };
                if now.is_empty() {
                    if scope.closed && reaches(before, from, to, &mut cache_before) {
                        if is_ingress {
                            entry.ingress_closed_from += 1;
                        } else {
                            entry.egress_closed_to += 1;
                        }
                        if entry.examples.len() < 5 {
                            let o = show_peer(workloads, observed, other);
                            entry.examples.push(if is_ingress {
                                format!("← {o}")
                            } else {
                                format!("→ {o}")
                            });
                        }
                    }
                    continue;
                }
                let mut extra = now;
                if let Some(s) = seen.get(&(from, to)) {
                    extra = subtract(&extra, s);
                }
                if extra.is_empty() {
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
        let cw = after
            .member_class
            .get(w.index())
            .cloned()
            .unwrap_or_default();
        let cb = before
            .member_class
            .get(w.index())
            .cloned()
            .unwrap_or_default();
        let in_now = meet(cw.iter().map(|c| after.ingress_from_external(None, *c).0));
        let in_was = meet(cb.iter().map(|c| before.ingress_from_external(None, *c).0));
        let out_now = meet(cw.iter().map(|c| after.egress_to_external(*c, None)));
        let out_was = meet(cb.iter().map(|c| before.egress_to_external(*c, None)));
        let covers_in = denied(w) || ingress.contains(&w);
        let covers_out = denied(w) || egress.contains(&w);
        if scope.closed {
            entry.internet_ingress_closed = covers_in && !in_was.is_empty() && in_now.is_empty();
            entry.internet_egress_closed = covers_out && !subtract(&out_was, &out_now).is_empty();
        }
        for (now, is_ingress) in [(in_now, true), (out_now, false)] {
            if !(if is_ingress { covers_in } else { covers_out }) {
                continue;
            }
            let seen = seen_external
                .get(&(w, is_ingress))
                .cloned()
                .unwrap_or_default();
            let extra = subtract(&now, &seen);
            if !extra.is_empty() {
                let (from, to) = if is_ingress {
                    ("internet".to_owned(), display.clone())
                } else {
                    (display.clone(), "internet".to_owned())
                };
                note(
                    Unobserved {
                        connection: Shown {
                            from,
                            to,
                            port: extra.to_string(),
                        },
                        reason: "internet",
                    },
                    &mut count,
                );
            }
        }
    }
    v.unobserved_allowed = unobserved.into_iter().collect();
    v.unobserved_count = count;
    v.closed_pairs = closed
        .values()
        .map(|c| c.ingress_closed_from + c.egress_closed_to)
        .sum();
    v.closed = closed
        .into_values()
        .filter(|c| {
            c.ingress_closed_from + c.egress_closed_to > 0
                || c.internet_egress_closed
                || c.internet_ingress_closed
        })
        .collect();
    v
}

/// What several steps close, per workload (counts added, flags joined, examples kept to 5),
/// in workload order.
pub fn merge_closed<'a>(steps: impl Iterator<Item = &'a Vec<Closed>>) -> Vec<Closed> {
    let mut by: BTreeMap<String, Closed> = BTreeMap::new();
    for c in steps.flatten() {
        match by.get_mut(&c.workload) {
            None => {
                by.insert(c.workload.clone(), c.clone());
            }
            Some(e) => {
                e.ingress_closed_from += c.ingress_closed_from;
                e.egress_closed_to += c.egress_closed_to;
                e.internet_ingress_closed |= c.internet_ingress_closed;
                e.internet_egress_closed |= c.internet_egress_closed;
                for x in &c.examples {
                    if e.examples.len() < 5 {
                        e.examples.push(x.clone());
                    }
                }
            }
        }
    }
    by.into_values().collect()
}

/// Workloads the policies of `w`'s pods may admit (ingress) or reach (egress), from their
/// rules' pod peers; `None` when a class of `w` is open that way or a rule admits every pod.
fn candidates(
    m: &NetModel,
    members: &FastMap<ClassId, Vec<WorkloadId>>,
    w: WorkloadId,
    ingress: bool,
) -> Option<BTreeSet<WorkloadId>> {
    let mut out = BTreeSet::new();
    for &c in m.member_class.get(w.index()).into_iter().flatten() {
        let classes = if ingress {
            if m.class(c).ingress_open() || m.admits_any_pod(c).0 {
                return None;
            }
            m.peer_sources(c)
        } else {
            if m.class(c).egress_open() {
                return None;
            }
            m.egress_candidates(c)?
        };
        for k in classes {
            out.extend(members.get(&k).into_iter().flatten().copied());
        }
    }
    Some(out)
}

/// Ports some pod of `a` may use to some pod of `b` (the union over their pod groups).
fn any_pair(
    m: &NetModel,
    a: Peer,
    b: Peer,
    cache: &mut FastMap<(ClassId, ClassId), PortSet>,
) -> PortSet {
    match (a, b) {
        (Peer::Workload(x), Peer::Workload(y)) => {
            let mut out = PortSet::empty();
            for &cx in m.member_class.get(x.index()).into_iter().flatten() {
                for &cy in m.member_class.get(y.index()).into_iter().flatten() {
                    out.union_with(cache.entry((cx, cy)).or_insert_with(|| m.allowed(cx, cy)));
                }
            }
            out
        }
        _ => between(m, a, b, cache),
    }
}

/// Whether some pod of `a` may open some connection to some pod of `b`: open classes answer
/// without computing ports.
fn reaches(m: &NetModel, a: Peer, b: Peer, cache: &mut FastMap<(ClassId, ClassId), bool>) -> bool {
    let (Peer::Workload(x), Peer::Workload(y)) = (a, b) else {
        return !between(m, a, b, &mut FastMap::default()).is_empty();
    };
    for &cx in m.member_class.get(x.index()).into_iter().flatten() {
        for &cy in m.member_class.get(y.index()).into_iter().flatten() {
            if m.class(cx).egress_open() && m.class(cy).ingress_open() {
                return true;
            }
            if *cache
                .entry((cx, cy))
                .or_insert_with(|| !m.allowed(cx, cy).is_empty())
            {
                return true;
            }
        }
    }
    false
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
