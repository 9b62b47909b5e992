//! Collected flows → connections between workloads and external addresses, through the cluster
//! model: each distinct endpoint is attributed once (pod name, the capture's workload name,
//! pod IP, Service, labels, pod-name prefix), replies are folded into the connection they
//! answer, and a Service's port becomes the pod port NetworkPolicy sees.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use rampart_graph::netpol::{DeclaredPort, declared_ports};
use rampart_graph::ports::Protocol;
use rampart_model::de::IntOrString;
use rampart_model::objects::Service;
use rampart_model::{Snapshot, WorkloadId, WorkloadKind, Workloads};
use serde::Serialize;

use crate::collect::{Collector, Record};
use crate::flow::{Endpoint, Entity};

/// One side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Peer {
    /// A workload of the cluster model.
    Workload(WorkloadId),
    /// An address outside the cluster's pods (the world, a node, the API server).
    External(IpNet),
}

/// A connection as observed: who opened it, to whom, on which port (the port the server's pod
/// listens on, as NetworkPolicy sees it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Connection {
    /// The side that opened it.
    pub client: Peer,
    /// The side that accepted it.
    pub server: Peer,
    /// Protocol.
    pub protocol: Protocol,
    /// The server's port.
    pub port: u16,
}

/// What attribution met.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AttributeTally {
    /// Distinct endpoints seen.
    pub endpoints: u64,
    /// Endpoints attributed to a workload.
    pub workloads: u64,
    /// Endpoints kept as external addresses.
    pub external: u64,
    /// Flows opened by a node (the kubelet's probes, host-network agents): every CNI lets
    /// them through, so they need no rule.
    pub from_nodes: u64,
    /// Flows whose direction was inferred from declared ports (the capture did not say).
    pub direction_inferred: u64,
    /// Flows with an endpoint that names a pod the cluster model does not have.
    pub unknown_pod_flows: u64,
    /// Such pods (at most 20, `namespace/name`).
    pub unknown_pods: Vec<String>,
    /// Flows with an endpoint that could not be attributed otherwise (a Service the model does
    /// not have, labels that match nothing, no address).
    pub unattributed_flows: u64,
    /// Flows to a pod of the model on an address that is its own (loopback): not network.
    pub loopback_flows: u64,
}

/// Connections observed, passed and dropped, with how often each was seen.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Connections that passed.
    pub allowed: BTreeMap<Connection, u64>,
    /// Connections the datapath dropped.
    pub dropped: BTreeMap<Connection, u64>,
    /// Connections that were DNS (to the server's port 53 or flagged by the capture).
    pub dns: BTreeSet<Connection>,
    /// What the reserved identity of an external address was, when the capture said.
    pub entities: BTreeMap<IpNet, Entity>,
    /// What attribution met.
    pub tally: AttributeTally,
}

/// How an endpoint was attributed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Side {
    Workloads(Vec<WorkloadId>),
    /// A Service to resolve per port: its namespace and name.
    Service(String, String),
    External(IpNet),
    Node,
    UnknownPod(String),
    Unknown,
}

/// The cluster model, indexed for attribution.
pub struct Cluster<'a> {
    snapshot: &'a Snapshot,
    workloads: &'a Workloads,
    by_ip: HashMap<IpAddr, WorkloadId>,
    services: HashMap<(&'a str, &'a str), &'a Service>,
    service_ips: HashMap<IpAddr, (&'a str, &'a str)>,
    declared: Vec<Vec<DeclaredPort>>,
}

impl<'a> Cluster<'a> {
    /// Indexes the model.
    pub fn new(snapshot: &'a Snapshot, workloads: &'a Workloads) -> Cluster<'a> {
        let mut by_ip = HashMap::new();
        for (_, pod) in snapshot.pods() {
            if pod.spec.host_network {
                // The node's address: shared by every host-network pod.
                continue;
            }
            let Some(id) = workloads.owner_of(snapshot, pod) else {
                continue;
            };
            for ip in pod.status.addresses() {
                if let Ok(ip) = ip.parse::<IpAddr>() {
                    by_ip.insert(ip, id);
                }
            }
        }
        let mut services = HashMap::new();
        let mut service_ips = HashMap::new();
        for (_, s) in snapshot.services() {
            let key = (s.metadata.namespace.as_str(), s.metadata.name.as_str());
            services.insert(key, s);
            for ip in s.spec.cluster_ip.iter().chain(&s.spec.cluster_ips) {
                if let Ok(ip) = ip.parse::<IpAddr>() {
                    service_ips.insert(ip, key);
                }
            }
        }
        let declared = workloads
            .list
            .iter()
            .map(|w| declared_ports(&w.template.spec))
            .collect();
        Cluster {
            snapshot,
            workloads,
            by_ip,
            services,
            service_ips,
            declared,
        }
    }

    /// The model's workloads.
    pub fn workloads(&self) -> &'a Workloads {
        self.workloads
    }

    /// The model.
    pub fn snapshot(&self) -> &'a Snapshot {
        self.snapshot
    }

    /// The workloads a pod endpoint belongs to (none for anything else: a Service address, a
    /// node, the world).
    pub fn workloads_of(&self, e: &Endpoint) -> Vec<WorkloadId> {
        match self.side(e) {
            Side::Workloads(w) => w,
            _ => Vec::new(),
        }
    }

    /// Ports a workload's containers declare.
    pub fn declared(&self, w: WorkloadId) -> &[DeclaredPort] {
        &self.declared[w.index()]
    }

    fn side(&self, e: &Endpoint) -> Side {
        if let Some(Entity::Host | Entity::RemoteNode | Entity::Health) = e.entity {
            return match e.ip {
                Some(ip) => Side::External(IpNet::from(ip)),
                None => Side::Node,
            };
        }
        if let (Some(ns), Some(pod)) = (&e.namespace, &e.pod)
            && let Some(w) = self.workloads.of_pod(ns, pod)
        {
            return Side::Workloads(vec![w]);
        }
        if let (Some(ns), Some(name)) = (&e.namespace, &e.workload)
            && let Some(w) = self.by_name(ns, name)
        {
            return Side::Workloads(vec![w]);
        }
        if let Some(ip) = e.ip {
            if let Some(&w) = self.by_ip.get(&ip) {
                return Side::Workloads(vec![w]);
            }
            if e.pod.is_none()
                && let Some(&(ns, name)) = self.service_ips.get(&ip)
            {
                return self.service_side(ns, name, e.ip);
            }
        }
        if let Some((ns, name)) = &e.service {
            return self.service_side(ns, name, e.ip);
        }
        if let Some(ns) = &e.namespace {
            if !e.labels.is_empty()
                && let Some(w) = self.by_labels(ns, &e.labels)
            {
                return Side::Workloads(vec![w]);
            }
            if let Some(pod) = &e.pod {
                if let Some(w) = self.by_pod_name(ns, pod) {
                    return Side::Workloads(vec![w]);
                }
                return Side::UnknownPod(format!("{ns}/{pod}"));
            }
        }
        if e.pod.is_none()
            && let Some(ip) = e.ip
        {
            return Side::External(IpNet::from(ip));
        }
        Side::Unknown
    }

    /// A Service as a side: its pods, resolved per port later; a Service without a selector
    /// (`default/kubernetes`, hand-made Endpoints) has no pods to select, so the observed
    /// address is what a rule can name.
    fn service_side(&self, ns: &str, name: &str, ip: Option<IpAddr>) -> Side {
        let selectorless = self
            .services
            .get(&(ns, name))
            .is_some_and(|s| s.spec.selector.is_none());
        match ip {
            Some(ip) if selectorless => Side::External(IpNet::from(ip)),
            _ => Side::Service(ns.to_owned(), name.to_owned()),
        }
    }

    fn by_name(&self, ns: &str, name: &str) -> Option<WorkloadId> {
        let list = self.workloads.in_namespace(ns);
        list.iter()
            .find(|w| w.name == name && w.kind != WorkloadKind::Pod)
            .or_else(|| list.iter().find(|w| w.name == name))
            .map(|w| w.id)
    }

    /// The workload whose pods' labels the endpoint's labels include, most labels first; none
    /// when two match equally well.
    fn by_labels(&self, ns: &str, labels: &[(String, String)]) -> Option<WorkloadId> {
        let has = |k: &str, v: &str| labels.iter().any(|(a, b)| a == k && b == v);
        let mut best: Option<(usize, WorkloadId, bool)> = None;
        for w in self.workloads.in_namespace(ns) {
            for g in &w.groups {
                if g.labels.is_empty() || !g.labels.iter().all(|(k, v)| has(k, v)) {
                    continue;
                }
                let n = g.labels.len();
                best = match best {
                    Some((m, id, _)) if m > n || (m == n && id == w.id) => Some((m, id, false)),
                    Some((m, _, _)) if m == n => Some((m, w.id, true)),
                    _ => Some((n, w.id, false)),
                };
            }
        }
        best.filter(|b| !b.2).map(|b| b.1)
    }

    /// The workload whose name the pod's name extends (`web-5d8f…-x2k4q`, `db-0`), the
    /// longest such name: how controllers name their pods.
    fn by_pod_name(&self, ns: &str, pod: &str) -> Option<WorkloadId> {
        self.workloads
            .in_namespace(ns)
            .iter()
            .filter(|w| w.kind != WorkloadKind::Pod)
            .filter(|w| {
                pod.len() > w.name.len() + 1
                    && pod.starts_with(w.name.as_str())
                    && pod.as_bytes()[w.name.len()] == b'-'
            })
            .max_by_key(|w| w.name.len())
            .map(|w| w.id)
    }

    /// The workloads a Service sends `port` to, and the pod port: `targetPort` (a name resolved
    /// against each workload's declared ports).
    fn through_service(&self, ns: &str, name: &str, protocol: Protocol, port: u16) -> ServiceHop {
        let Some(svc) = self.services.get(&(ns, name)) else {
            return ServiceHop::Missing;
        };
        let Some(selector) = &svc.spec.selector else {
            return ServiceHop::NoSelector;
        };
        let sp = svc.spec.ports.iter().find(|p| {
            Protocol::parse(p.protocol.as_deref()) == Some(protocol) && p.port == i64::from(port)
        });
        let mut out = Vec::new();
        if selector.is_empty() {
            return ServiceHop::To(out);
        }
        for w in self.workloads.in_namespace(ns) {
            if !w
                .groups
                .iter()
                .any(|g| selector.iter().all(|(k, v)| g.labels.get(k) == Some(v)))
            {
                continue;
            }
            let target = match sp.and_then(|p| p.target_port.as_ref()) {
                None => Some(port),
                Some(IntOrString::Int(n)) => u16::try_from(*n).ok(),
                Some(IntOrString::Str(s)) => self.declared[w.id.index()]
                    .iter()
                    .find(|d| d.name.as_deref() == Some(s.as_str()) && d.protocol == protocol)
                    .map(|d| d.port),
            };
            if let Some(t) = target {
                out.push((w.id, t));
            }
        }
        ServiceHop::To(out)
    }

    /// Attributes every collected record.
    pub fn attribute(&self, collected: &Collector) -> Observed {
        let mut out = Observed::default();
        let sides: Vec<Side> = collected.endpoints().iter().map(|e| self.side(e)).collect();
        for (e, s) in collected.endpoints().iter().zip(&sides) {
            out.tally.endpoints += 1;
            match s {
                Side::Workloads(_) | Side::Service(..) => out.tally.workloads += 1,
                Side::External(net) => {
                    out.tally.external += 1;
                    let entity = e.entity.or_else(|| {
                        (e.service
                            .as_ref()
                            .is_some_and(|(ns, n)| ns == "default" && n == "kubernetes"))
                        .then_some(Entity::KubeApiserver)
                    });
                    if let Some(entity) = entity {
                        out.entities.insert(*net, entity);
                    }
                }
                _ => {}
            }
        }
        let mut unknown: BTreeSet<&str> = BTreeSet::new();
        for (record, count) in collected.records() {
            let (mut client, mut server) = (
                &sides[record.client as usize],
                &sides[record.server as usize],
            );
            let mut port = record.port;
            let mut client_id = record.client;
            if !record.oriented && self.backwards(client, server, record) {
                std::mem::swap(&mut client, &mut server);
                client_id = record.server;
                port = record.other_port;
                out.tally.direction_inferred += count;
            }
            match (client, server) {
                (Side::Node, _) | (_, Side::Node) => {
                    out.tally.from_nodes += count;
                    continue;
                }
                (Side::External(_), _)
                    if matches!(
                        collected.endpoints()[client_id as usize].entity,
                        Some(Entity::Host | Entity::RemoteNode | Entity::Health)
                    ) =>
                {
                    out.tally.from_nodes += count;
                    continue;
                }
                (Side::UnknownPod(p), _) | (_, Side::UnknownPod(p)) => {
                    out.tally.unknown_pod_flows += count;
                    if unknown.len() < 20 {
                        unknown.insert(p);
                    }
                    continue;
                }
                _ => {}
            }
            let clients = match self.peers(client, record.protocol, port) {
                Some(c) => c,
                None => {
                    out.tally.unattributed_flows += count;
                    continue;
                }
            };
            let servers = match self.peers(server, record.protocol, port) {
                Some(s) => s,
                None => {
                    out.tally.unattributed_flows += count;
                    continue;
                }
            };
            for &(c, _) in &clients {
                for &(s, p) in &servers {
                    if record.client == record.server {
                        out.tally.loopback_flows += count;
                        continue;
                    }
                    let conn = Connection {
                        client: c,
                        server: s,
                        protocol: record.protocol,
                        port: p,
                    };
                    let into = if record.dropped {
                        &mut out.dropped
                    } else {
                        &mut out.allowed
                    };
                    *into.entry(conn).or_default() += count;
                    if record.dns || p == 53 {
                        out.dns.insert(conn);
                    }
                }
            }
        }
        out.tally.unknown_pods = unknown.into_iter().map(str::to_owned).collect();
        out
    }

    /// Peers of one side for a connection on `port`, each with the port as the server's pod
    /// sees it; `None` when the side cannot be attributed.
    fn peers(&self, side: &Side, protocol: Protocol, port: u16) -> Option<Vec<(Peer, u16)>> {
        match side {
            Side::Workloads(ws) => Some(ws.iter().map(|w| (Peer::Workload(*w), port)).collect()),
            Side::External(net) => Some(vec![(Peer::External(*net), port)]),
            Side::Service(ns, name) => match self.through_service(ns, name, protocol, port) {
                ServiceHop::To(v) if !v.is_empty() => {
                    Some(v.into_iter().map(|(w, p)| (Peer::Workload(w), p)).collect())
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether a record whose direction the capture did not give is a reply: the packet's
    /// destination port is not one the receiver declares while its source port is one the
    /// sender declares; failing that, the lower port is the server's.
    fn backwards(&self, client: &Side, server: &Side, r: &Record) -> bool {
        let listens = |s: &Side, port: u16| match s {
            Side::Workloads(ws) => ws.iter().any(|w| {
                self.declared[w.index()]
                    .iter()
                    .any(|d| d.port == port && d.protocol == r.protocol)
            }),
            _ => false,
        };
        if r.other_port == 0 {
            return false;
        }
        match (listens(server, r.port), listens(client, r.other_port)) {
            (true, _) => false,
            (false, true) => true,
            (false, false) => r.other_port < r.port,
        }
    }
}

enum ServiceHop {
    To(Vec<(WorkloadId, u16)>),
    NoSelector,
    Missing,
}
