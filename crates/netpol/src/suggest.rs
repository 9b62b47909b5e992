//! Observed connections → NetworkPolicies: per workload an ingress and an egress allow-list of
//! exactly the peers and ports it was seen using, with stable selectors, named ports where the
//! pod declares them, DNS kept; per namespace an optional default-deny.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use rampart_graph::build::stable_labels;
use rampart_graph::ports::Protocol;
use rampart_model::{Labels, Workload, WorkloadId, Workloads};
use serde::Serialize;
use serde_json::{Value, json};

use crate::attribute::{Cluster, Connection, Observed, Peer};

/// Namespaces left alone unless named: the control plane's.
pub const SYSTEM_NAMESPACES: &[&str] = &["kube-system", "kube-public", "kube-node-lease"];

/// How to suggest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Suggest ingress allow-lists.
    pub ingress: bool,
    /// Suggest egress allow-lists.
    pub egress: bool,
    /// Add a default-deny per namespace that has a suggested policy.
    pub default_deny: bool,
    /// Keep DNS egress (to the cluster DNS, UDP and TCP 53) in every egress allow-list.
    pub dns: bool,
    /// External IPv4 peers are widened to this prefix length.
    pub v4_prefix: u8,
    /// External IPv6 peers are widened to this prefix length.
    pub v6_prefix: u8,
    /// More distinct external peers than this on one workload, direction and port: the rule
    /// admits the whole internet on that port instead.
    pub world_after: usize,
    /// Namespaces to cover (empty: every namespace but [`SYSTEM_NAMESPACES`]).
    pub namespaces: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ingress: true,
            egress: true,
            default_deny: false,
            dns: true,
            v4_prefix: 32,
            v6_prefix: 128,
            world_after: 16,
            namespaces: Vec::new(),
        }
    }
}

impl Settings {
    /// Whether policies are suggested for workloads of `ns`.
    pub fn covers(&self, ns: &str) -> bool {
        if self.namespaces.is_empty() {
            !SYSTEM_NAMESPACES.contains(&ns)
        } else {
            self.namespaces.iter().any(|n| n == ns)
        }
    }
}

/// Which part of the plan a policy belongs to (the order of the rollout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// A workload's ingress allow-list.
    Ingress,
    /// A workload's egress allow-list.
    Egress,
    /// A namespace's default-deny.
    DefaultDeny,
}

impl Stage {
    /// Every stage, in rollout order.
    pub const ALL: [Stage; 3] = [Stage::Ingress, Stage::Egress, Stage::DefaultDeny];

    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingress => "ingress",
            Stage::Egress => "egress",
            Stage::DefaultDeny => "default-deny",
        }
    }
}

/// One suggested NetworkPolicy.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggested {
    /// Its stage.
    pub stage: Stage,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The workload it is for (none for a default-deny).
    pub workload: Option<WorkloadId>,
    /// The manifest (`networking.k8s.io/v1` NetworkPolicy).
    pub manifest: Value,
}

/// A workload no policy was suggested for, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// `namespace/name[Kind]`.
    pub workload: String,
    /// Why.
    pub reason: String,
}

/// The suggested policies, in rollout order then namespace and name.
#[derive(Debug, Clone, Default)]
pub struct Suggestion {
    /// The policies.
    pub policies: Vec<Suggested>,
    /// Workloads with observed traffic that got no policy.
    pub skipped: Vec<Skipped>,
    /// Workloads whose selector also selects other workloads (`namespace/name[Kind]` → the
    /// others): their policies apply to those too.
    pub shared_selectors: BTreeMap<String, Vec<String>>,
}

/// Label marking what rampart generated.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "rampart");
/// Annotation saying what a generated policy came from.
pub const GENERATED_FROM: &str = "rampart.dev/generated-from";

/// Where a rule's port comes from: a number, or the name the server's pods declare.
fn port_value(cluster: &Cluster<'_>, server: Peer, protocol: Protocol, port: u16) -> Value {
    if let Peer::Workload(w) = server {
        let named: BTreeSet<&str> = cluster
            .declared(w)
            .iter()
            .filter(|d| d.port == port && d.protocol == protocol)
            .filter_map(|d| d.name.as_deref())
            .collect();
        // One name for the number: a second name would make the choice arbitrary.
        if named.len() == 1
            && let Some(n) = named.first()
        {
            return json!(n);
        }
    }
    json!(port)
}

/// The labels of the cluster DNS pods: the selector of `kube-system/kube-dns`, or
/// `k8s-app=kube-dns` (the label every distribution gives them) when there is no such Service.
pub fn dns_selector(cluster: &Cluster<'_>) -> Labels {
    cluster
        .snapshot()
        .services()
        .find(|(_, s)| s.metadata.namespace == "kube-system" && s.metadata.name == "kube-dns")
        .and_then(|(_, s)| s.spec.selector.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            [("k8s-app".to_owned(), "kube-dns".to_owned())]
                .into_iter()
                .collect()
        })
}

/// The cluster DNS as a peer.
fn dns_peer(cluster: &Cluster<'_>) -> Value {
    json!({
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": dns_selector(cluster)},
    })
}

fn widen(net: IpNet, s: &Settings) -> IpNet {
    let prefix = match net {
        IpNet::V4(_) => s.v4_prefix.min(32),
        IpNet::V6(_) => s.v6_prefix.min(128),
    };
    IpNet::new(net.addr(), prefix.min(net.prefix_len()))
        .map(|n| n.trunc())
        .unwrap_or(net)
}

/// The selector that picks `w`'s pods, or `None` when nothing can (no stable labels and other
/// workloads in the namespace).
pub fn selector_of(workloads: &Workloads, w: &Workload) -> Option<Labels> {
    let labels = stable_labels(w);
    if labels.is_empty() && workloads.in_namespace(&w.namespace).len() > 1 {
        return None;
    }
    Some(labels)
}

/// Rules of one direction: peer → ports, turned into rules that share a port list.
#[derive(Clone)]
struct Rules {
    by_peer: BTreeMap<String, (Value, BTreeSet<(Protocol, u16)>)>,
    /// Ports on which so many external peers were seen that the rule admits the internet.
    world: BTreeSet<(Protocol, u16, bool)>,
}

impl Rules {
    fn new() -> Rules {
        Rules {
            by_peer: BTreeMap::new(),
            world: BTreeSet::new(),
        }
    }

    /// Adds everything `other` admits.
    fn merge(&mut self, other: &Rules) {
        for (key, (peer, ports)) in &other.by_peer {
            self.by_peer
                .entry(key.clone())
                .or_insert_with(|| (peer.clone(), BTreeSet::new()))
                .1
                .extend(ports.iter().copied());
        }
        self.world.extend(other.world.iter().copied());
    }

    fn add(&mut self, peer: Value, protocol: Protocol, port: u16) {
        let key = peer.to_string();
        self.by_peer
            .entry(key)
            .or_insert_with(|| (peer, BTreeSet::new()))
            .1
            .insert((protocol, port));
    }

    /// Rules: peers with the same ports share one, rules in peer order.
    fn render(self, port_of: &dyn Fn(Protocol, u16) -> Value) -> Vec<Value> {
        let mut by_ports: BTreeMap<Vec<(Protocol, u16)>, Vec<Value>> = BTreeMap::new();
        for (_, (peer, ports)) in self.by_peer {
            by_ports
                .entry(ports.into_iter().collect())
                .or_default()
                .push(peer);
        }
        for (proto, port, v6) in self.world {
            let cidr = if v6 { "::/0" } else { "0.0.0.0/0" };
            by_ports
                .entry(vec![(proto, port)])
                .or_default()
                .push(json!({"ipBlock": {"cidr": cidr}}));
        }
        let mut rules: Vec<(String, Value)> = by_ports
            .into_iter()
            .map(|(ports, mut peers)| {
                peers.sort_by_key(ToString::to_string);
                peers.dedup();
                let ports: Vec<Value> = ports
                    .into_iter()
                    .map(
                        |(proto, p)| json!({"protocol": proto.as_str(), "port": port_of(proto, p)}),
                    )
                    .collect();
                let key = peers.first().map(ToString::to_string).unwrap_or_default();
                (key, json!({"peers": peers, "ports": ports}))
            })
            .collect();
        rules.sort_by(|a, b| a.0.cmp(&b.0));
        rules.into_iter().map(|r| r.1).collect()
    }
}

/// The suggested policies for the observed connections.
pub fn suggest(cluster: &Cluster<'_>, observed: &Observed, settings: &Settings) -> Suggestion {
    let workloads = cluster.workloads();
    let mut out = Suggestion::default();
    // Which workloads are covered, and their selectors.
    let mut seen: BTreeSet<WorkloadId> = BTreeSet::new();
    for c in observed.allowed.keys() {
        for p in [c.client, c.server] {
            if let Peer::Workload(w) = p {
                seen.insert(w);
            }
        }
    }
    let mut selectors: BTreeMap<WorkloadId, Labels> = BTreeMap::new();
    for &id in &seen {
        let w = &workloads.list[id.index()];
        if !settings.covers(&w.namespace) {
            continue;
        }
        match selector_of(workloads, w) {
            Some(s) => {
                selectors.insert(id, s);
            }
            None => out.skipped.push(Skipped {
                workload: w.display(),
                reason: "its pods have no stable labels to select them by, and other workloads share the namespace".into(),
            }),
        }
    }
    // Selectors as rules use them (a peer that cannot be told apart is selected with its
    // whole namespace): which pick more than their workload.
    for &id in &seen {
        let w = &workloads.list[id.index()];
        let sel = selectors
            .get(&id)
            .cloned()
            .or_else(|| selector_of(workloads, w))
            .unwrap_or_default();
        let others: Vec<String> = workloads
            .in_namespace(&w.namespace)
            .iter()
            .filter(|o| {
                o.id != id
                    && o.groups
                        .iter()
                        .any(|g| sel.iter().all(|(k, v)| g.labels.get(k) == Some(v)))
            })
            .map(Workload::display)
            .collect();
        if !others.is_empty() {
            out.shared_selectors.insert(w.display(), others);
        }
    }
    let peer_value = |of: WorkloadId, p: Peer| -> Option<Value> {
        match p {
            Peer::Workload(pw) => {
                let w = &workloads.list[pw.index()];
                let sel = selectors
                    .get(&pw)
                    .cloned()
                    .or_else(|| selector_of(workloads, w))
                    .unwrap_or_default();
                let mut v = json!({"podSelector": {"matchLabels": sel}});
                if w.namespace != workloads.list[of.index()].namespace {
                    v["namespaceSelector"] =
                        json!({"matchLabels": {"kubernetes.io/metadata.name": w.namespace}});
                }
                Some(v)
            }
            Peer::External(net) => {
                Some(json!({"ipBlock": {"cidr": widen(net, settings).to_string()}}))
            }
        }
    };
    let mut ingress: BTreeMap<WorkloadId, Rules> = BTreeMap::new();
    let mut egress: BTreeMap<WorkloadId, Rules> = BTreeMap::new();
    // External peers per (workload, ingress?, protocol, port, v6): widened, counted.
    let mut external: BTreeMap<(WorkloadId, bool, Protocol, u16, bool), BTreeSet<IpNet>> =
        BTreeMap::new();
    for c in observed.allowed.keys() {
        let Connection {
            client,
            server,
            protocol,
            port,
        } = *c;
        // Each end that is a workload of a covered namespace: its ingress (it serves) or its
        // egress (it opened) admits the other end.
        for (me, other, is_ingress) in [(server, client, true), (client, server, false)] {
            let Peer::Workload(w) = me else { continue };
            if !settings.covers(&workloads.list[w.index()].namespace) {
                continue;
            }
            let side = if is_ingress {
                &mut ingress
            } else {
                &mut egress
            };
            let rules = side.entry(w).or_insert_with(Rules::new);
            if let Peer::External(net) = other {
                external
                    .entry((w, is_ingress, protocol, port, net.addr().is_ipv6()))
                    .or_default()
                    .insert(widen(net, settings));
            } else if let Some(v) = peer_value(w, other) {
                rules.add(v, protocol, port);
            }
        }
    }
    for ((w, is_ingress, protocol, port, v6), nets) in external {
        let rules = if is_ingress {
            ingress.entry(w).or_insert_with(Rules::new)
        } else {
            egress.entry(w).or_insert_with(Rules::new)
        };
        if nets.len() > settings.world_after {
            rules.world.insert((protocol, port, v6));
        } else {
            for n in nets {
                rules.add(json!({"ipBlock": {"cidr": n.to_string()}}), protocol, port);
            }
        }
    }
    let dns = dns_peer(cluster);
    let mut namespaces: BTreeSet<&str> = BTreeSet::new();
    // A policy applies to every pod its selector picks: its rules admit what each workload it
    // picks was seen doing, or a workload picked by another's selector (sharing its labels,
    // or one that could not get a policy of its own) would lose its observed traffic.
    let picks = |id: WorkloadId, sel: &Labels| -> Vec<WorkloadId> {
        let ns = &workloads.list[id.index()].namespace;
        workloads
            .in_namespace(ns)
            .iter()
            .filter(|o| {
                o.id == id
                    || o.groups
                        .iter()
                        .any(|g| sel.iter().all(|(k, v)| g.labels.get(k) == Some(v)))
            })
            .map(|o| o.id)
            .collect()
    };
    let merged = |from: &BTreeMap<WorkloadId, Rules>, ids: &[WorkloadId]| -> Rules {
        let mut r = Rules::new();
        for id in ids {
            if let Some(x) = from.get(id) {
                r.merge(x);
            }
        }
        r
    };
    for (&id, sel) in &selectors {
        let w = &workloads.list[id.index()];
        namespaces.insert(&w.namespace);
        let picked = picks(id, sel);
        // A name resolves on each picked pod: only when the policy picks this workload alone.
        let alone = picked.len() == 1;
        let port_of = |proto: Protocol, p: u16| {
            if alone {
                port_value(cluster, Peer::Workload(id), proto, p)
            } else {
                json!(p)
            }
        };
        if settings.ingress {
            let rules = merged(&ingress, &picked).render(&port_of);
            out.policies.push(policy(w, Stage::Ingress, sel, rules));
        }
        if settings.egress {
            let mut rules = merged(&egress, &picked);
            if settings.dns {
                for proto in [Protocol::Udp, Protocol::Tcp] {
                    rules.add(dns.clone(), proto, 53);
                }
            }
            // Egress ports are the servers' ports; names resolve against each server, so
            // only numbers are safe across peers.
            let rules = rules.render(&|_, p| json!(p));
            out.policies.push(policy(w, Stage::Egress, sel, rules));
        }
    }
    if settings.default_deny {
        for ns in namespaces {
            // A default-deny picks every pod: a workload with traffic and no policy of its own
            // would lose it.
            let bare: Vec<String> = seen
                .iter()
                .map(|id| &workloads.list[id.index()])
                .filter(|w| w.namespace == ns && !selectors.contains_key(&w.id))
                .map(Workload::display)
                .collect();
            if !bare.is_empty() {
                out.skipped.push(Skipped {
                    workload: format!("namespace {ns} (default-deny)"),
                    reason: format!(
                        "{} have traffic but no policy of their own",
                        bare.join(", ")
                    ),
                });
                continue;
            }
            let mut types = Vec::new();
            let mut spec = json!({"podSelector": {}});
            if settings.ingress {
                types.push("Ingress");
            }
            if settings.egress {
                types.push("Egress");
                if settings.dns {
                    spec["egress"] = json!([{
                        "to": [dns.clone()],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }]);
                }
            }
            spec["policyTypes"] = json!(types);
            out.policies.push(Suggested {
                stage: Stage::DefaultDeny,
                namespace: ns.to_owned(),
                name: "rampart-default-deny".into(),
                workload: None,
                manifest: manifest(ns, "rampart-default-deny", "default-deny", spec),
            });
        }
    }
    out.policies
        .sort_by(|a, b| (a.stage, &a.namespace, &a.name).cmp(&(b.stage, &b.namespace, &b.name)));
    out
}

fn policy(w: &Workload, stage: Stage, selector: &Labels, rules: Vec<Value>) -> Suggested {
    let (suffix, kind, key) = match stage {
        Stage::Ingress => ("ingress", "Ingress", "from"),
        _ => ("egress", "Egress", "to"),
    };
    let raw = format!(
        "rampart-{}-{}-{}",
        w.name,
        w.kind.as_str().to_ascii_lowercase(),
        suffix
    );
    let name = rampart_model::names::dns_subdomain(&raw, 253).into_owned();
    let rules: Vec<Value> = rules
        .into_iter()
        .map(|mut r| {
            let peers = r["peers"].take();
            json!({key: peers, "ports": r["ports"].take()})
        })
        .collect();
    let mut spec = json!({
        "podSelector": {"matchLabels": selector},
        "policyTypes": [kind],
    });
    if !rules.is_empty() {
        spec[stage.as_str()] = json!(rules);
    }
    Suggested {
        stage,
        namespace: w.namespace.clone(),
        name: name.clone(),
        workload: Some(w.id),
        manifest: manifest(&w.namespace, &name, &w.display(), spec),
    }
}

fn manifest(ns: &str, name: &str, what: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {MANAGED_BY.0: MANAGED_BY.1},
            "annotations": {GENERATED_FROM: format!("observed flows of {what}")},
        },
        "spec": spec,
    })
}
