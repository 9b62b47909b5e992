//! One observed flow, whatever tool saw it: the fields every format shares, normalised.

use std::net::IpAddr;

use rampart_graph::ports::Protocol;
use serde::Serialize;

/// What an endpoint is when it is not a pod: the reserved identities Cilium names (and what
/// other tools say of a peer outside the cluster).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Entity {
    /// Outside the cluster.
    World,
    /// The node the endpoint runs on.
    Host,
    /// Another node of the cluster.
    RemoteNode,
    /// The Kubernetes API server.
    KubeApiserver,
    /// Cilium's health checks.
    Health,
    /// Cilium's ingress (Envoy) identity.
    Ingress,
    /// Any other reserved identity (`init`, `unmanaged`, `unknown`).
    Other,
}

impl Entity {
    /// Cilium's `reserved:` label value → entity.
    pub fn from_reserved(s: &str) -> Entity {
        match s {
            "world" | "world-ipv4" | "world-ipv6" => Entity::World,
            "host" => Entity::Host,
            "remote-node" => Entity::RemoteNode,
            "kube-apiserver" => Entity::KubeApiserver,
            "health" => Entity::Health,
            "ingress" => Entity::Ingress,
            _ => Entity::Other,
        }
    }

    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::World => "world",
            Entity::Host => "host",
            Entity::RemoteNode => "remote-node",
            Entity::KubeApiserver => "kube-apiserver",
            Entity::Health => "health",
            Entity::Ingress => "ingress",
            Entity::Other => "other",
        }
    }
}

/// One side of a flow as the capture describes it; every field optional, since formats (and
/// field masks) leave out different ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The address.
    pub ip: Option<IpAddr>,
    /// The pod's namespace.
    pub namespace: Option<String>,
    /// The pod's name.
    pub pod: Option<String>,
    /// Kubernetes labels of the pod (Cilium's `k8s:` labels; other sources' label maps).
    pub labels: Vec<(String, String)>,
    /// The owning workload's name, when the capture says (Hubble `workloads`, IG's owner).
    pub workload: Option<String>,
    /// A Service the flow was addressed to: `(namespace, name)`.
    pub service: Option<(String, String)>,
    /// A reserved identity.
    pub entity: Option<Entity>,
}

impl Endpoint {
    /// Whether nothing at all is known of it (a field-masked or empty endpoint).
    pub fn is_unknown(&self) -> bool {
        self.ip.is_none()
            && self.pod.is_none()
            && self.service.is_none()
            && self.entity.is_none()
            && self.labels.is_empty()
    }
}

/// What the datapath did with the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Passed (Hubble `FORWARDED`, `REDIRECTED` to a proxy, `TRACED`, `TRANSLATED`; every
    /// Inspektor Gadget event).
    Forwarded,
    /// Dropped (by policy or for another reason).
    Dropped,
    /// Would have been dropped by a policy in audit mode.
    Audit,
    /// Anything else (`ERROR`, unset).
    Other,
}

/// Where the datapath saw a packet: at the receiver's ingress or the sender's egress (Hubble's
/// `traffic_direction`); for a drop, which side's policy dropped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// At the destination's ingress.
    Ingress,
    /// At the source's egress.
    Egress,
}

/// One observed flow, normalised: source → destination as the packet went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// Sender of the packet.
    pub src: Endpoint,
    /// Receiver of the packet.
    pub dst: Endpoint,
    /// Transport protocol; `None` for ICMP and others NetworkPolicy cannot name.
    pub protocol: Option<Protocol>,
    /// Source port (0 when unknown).
    pub src_port: u16,
    /// Destination port (0 when unknown).
    pub dst_port: u16,
    /// Whether the packet is a reply (`None`: the capture does not say).
    pub reply: Option<bool>,
    /// A TCP SYN without ACK: certainly the opening of a connection.
    pub syn: bool,
    /// What the datapath did.
    pub verdict: Verdict,
    /// Why it was dropped, when it was (`POLICY_DENIED`, …).
    pub drop_reason: Option<String>,
    /// A DNS query or answer (Hubble's L7 DNS record).
    pub dns: bool,
    /// When it was seen (Unix seconds), when the capture says.
    pub time: Option<u64>,
    /// Where it was seen, when the capture says.
    pub direction: Option<Direction>,
}

impl Flow {
    /// A connection seen opened, which passed: `src` opened it to `dst`'s `dst_port` (what tools
    /// that watch sockets rather than packets report — Inspektor Gadget, Falco).
    pub fn opened(
        src: Endpoint,
        dst: Endpoint,
        protocol: Protocol,
        src_port: u16,
        dst_port: u16,
    ) -> Flow {
        Flow {
            src,
            dst,
            protocol: Some(protocol),
            src_port,
            dst_port,
            reply: Some(false),
            syn: false,
            verdict: Verdict::Forwarded,
            drop_reason: None,
            dns: false,
            time: None,
            direction: None,
        }
    }
}

/// The source a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Cilium Hubble `flow.Flow` JSON (`hubble observe -o json`, the exporter, the API's
    /// `GetFlowsResponse`).
    Hubble,
    /// Inspektor Gadget `trace network` events, JSON lines (advisor input since 2023).
    GadgetTrace,
    /// Inspektor Gadget's network-policy advisor events (a JSON array, 2020–2022).
    GadgetAdvisor,
}

impl Format {
    /// The name used in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Hubble => "hubble",
            Format::GadgetTrace => "gadget",
            Format::GadgetAdvisor => "gadget-advisor",
        }
    }
}
