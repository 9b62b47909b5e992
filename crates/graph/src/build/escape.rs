//! Escapes and nodes: the hosts workloads run on (a Node vertex per known node, and "any node"
//! when scheduling is unknown), and `Workload → Node` when a pod can break out of its container
//! (privileged, hostPID/hostIPC, a dangerous capability, a sensitive hostPath).

use std::collections::BTreeSet;
use std::sync::Arc;

use petgraph::Direction;
use petgraph::graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use rampart_model::objects::PodSpec;
use rampart_model::{Workload, WorkloadId, WorkloadKind};

use super::{Builder, SecurityGraph, remove_edges, workload_ref};
use crate::model::{Cost, Edge, EdgeKind, Evidence, Vertex};

const SENSITIVE_HOST_PATHS: &[&str] = &[
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/home",
    "/var/log",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/run",
    "/run",
    "/var/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/etc/kubernetes",
];

const ESCAPE_CAPABILITIES: &[&str] = &[
    "SYS_ADMIN",
    "SYS_MODULE",
    "DAC_READ_SEARCH",
    "BPF",
    "ALL",
    "SYS_RAWIO",
];

/// Why a pod can escape to its node.
pub fn escape_reasons(spec: &PodSpec) -> Vec<String> {
    let mut r = Vec::new();
    if spec.host_pid {
        r.push("spec.hostPID: true".to_string());
    }
    if spec.host_ipc {
        r.push("spec.hostIPC: true".to_string());
    }
    for (field, list) in [
        ("initContainers", &spec.init_containers),
        ("containers", &spec.containers),
        ("ephemeralContainers", &spec.ephemeral_containers),
    ] {
        for (i, c) in list.iter().enumerate() {
            let Some(sc) = &c.security_context else {
                continue;
            };
            if sc.privileged == Some(true) {
                r.push(format!(
                    "spec.{field}[{i}] ({}): securityContext.privileged: true",
                    c.name
                ));
            }
            for cap in sc.capabilities.iter().flat_map(|c| &c.add) {
                let cap = cap.trim_start_matches("CAP_").to_ascii_uppercase();
                if ESCAPE_CAPABILITIES.contains(&cap.as_str())
                    || (cap == "SYS_PTRACE" && spec.host_pid)
                {
                    r.push(format!(
                        "spec.{field}[{i}] ({}): securityContext.capabilities.add: {cap}",
                        c.name
                    ));
                }
            }
        }
    }
    for (i, v) in spec.volumes.iter().enumerate() {
        if let Some(hp) = &v.host_path
            && let Some(s) = sensitive_host_path(&hp.path)
        {
            r.push(format!(
                "spec.volumes[{i}] ({}): hostPath {} (covers {s})",
                v.name, hp.path
            ));
        }
    }
    r
}

/// Whether a hostPath mount reaches a sensitive part of the node (the path is, contains, or is
/// inside a sensitive path).
pub fn sensitive_host_path(path: &str) -> Option<&'static str> {
    let norm = normal_host_path(path);
    SENSITIVE_HOST_PATHS.iter().copied().find(|s| {
        norm == "/"
            || norm == *s
            || norm.starts_with(&format!("{s}/"))
            || s.starts_with(&format!("{norm}/"))
    })
}

/// A host path without trailing slashes (`/` stays `/`).
fn normal_host_path(path: &str) -> &str {
    let t = path.trim_end_matches('/');
    if t.is_empty() { "/" } else { t }
}

/// Host paths whose write plants a static pod the kubelet runs (its manifest directory, or a
/// parent of it).
const STATIC_POD_PATHS: &[&str] = &["/", "/etc", "/etc/kubernetes", "/etc/kubernetes/manifests"];

/// The writable hostPath volume of a workload that plants static pods, by name.
fn static_pod_volume(w: &Workload) -> Option<&str> {
    let spec = &w.template.spec;
    spec.volumes.iter().find_map(|v| {
        let hp = v.host_path.as_ref()?;
        if !STATIC_POD_PATHS.contains(&normal_host_path(&hp.path)) {
            return None;
        }
        spec.all_containers()
            .flat_map(|c| &c.volume_mounts)
            .any(|m| m.name == v.name && !m.read_only)
            .then_some(v.name.as_str())
    })
}

/// The cluster's hosts.
pub(super) struct Hosts {
    /// "Any node": where a pod of unknown scheduling may run.
    pub any: NodeIndex,
    /// Every named node: the Node objects and the nodes pods are scheduled on.
    pub named: BTreeSet<String>,
}

/// Adds the Node vertices: "any node", then every named node in name order.
pub(super) fn hosts(b: &mut Builder<'_>) -> Hosts {
    let any = b.node(None);
    let mut named: BTreeSet<String> = b
        .snapshot
        .nodes()
        .map(|(_, n)| n.metadata.name.clone())
        .collect();
    for w in &b.workloads.list {
        for g in &w.groups {
            named.extend(g.nodes.iter().cloned());
        }
    }
    for n in &named {
        b.node(Some(n.clone()));
    }
    Hosts { any, named }
}

/// The nodes a workload's pods may run on: "any node", and every node for a DaemonSet, the
/// nodes its pods are scheduled on otherwise.
pub(super) fn nodes_of(b: &mut Builder<'_>, hosts: &Hosts, w: &Workload) -> Vec<NodeIndex> {
    let mut v = vec![hosts.any];
    if w.kind == WorkloadKind::DaemonSet {
        v.extend(hosts.named.iter().map(|n| b.node(Some(n.clone()))));
    } else {
        for g in &w.groups {
            for n in &g.nodes {
                v.push(b.node(Some(n.clone())));
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

/// `Workload → Node` (escape) to each of `on_nodes`, when the pod can break out
/// ([`escape_reasons`]); never cut live.
pub(super) fn escapes(b: &mut Builder<'_>, w: &Workload, on_nodes: &[NodeIndex]) {
    static_pods(b, w);
    let reasons = escape_reasons(&w.template.spec);
    if reasons.is_empty() {
        return;
    }
    let wref = workload_ref(w);
    let wi = b.workload_ix[w.id.index()];
    let ev: Arc<[Evidence]> = reasons
        .iter()
        .map(|r| Evidence::new(wref.clone(), r.clone(), w.source.as_ref()))
        .collect();
    for &n in on_nodes {
        b.edge(
            wi,
            n,
            EdgeKind::EscapesToNode,
            ev.clone(),
            None,
            Cost::Never,
        );
    }
}

/// A workload that may write the kubelet's static-pod directory plants pods the API server
/// never admitted, and that come back after every restart of the node (Persistence). Not cut
/// live: removing the mount changes the workload.
fn static_pods(b: &mut Builder<'_>, w: &Workload) {
    let Some(volume) = static_pod_volume(w) else {
        return;
    };
    let ev = vec![Evidence::new(
        workload_ref(w),
        format!("spec.volumes[{volume}].hostPath: writable, holds the static-pod manifests"),
        w.source.as_ref(),
    )];
    let wi = b.workload_ix[w.id.index()];
    let v = b.objective(crate::objective::Technique::SystemProcess, None);
    b.edge(wi, v, EdgeKind::Persists, ev, None, Cost::Never);
}

/// The Node vertex named `name` (`None`: "any node"), when the graph has one.
pub(crate) fn node_vertex(sg: &SecurityGraph, name: Option<&str>) -> Option<NodeIndex> {
    // Every Node vertex is a jewel: a short list to scan, no index to keep up to date.
    sg.jewels.iter().copied().find(|ix| match sg.graph[*ix] {
        Vertex::Node(n) => sg.nodes[n as usize].name.as_deref() == name,
        _ => false,
    })
}

/// Moves workload `w`'s host edges after its pods left the nodes `left` and joined `joined`
/// (its pod spec unchanged): the `Workload → Node` escapes and the `Node → Identity` /
/// `Node → Secret` holdings [`escapes`], [`super::identity::runs_as`] and
/// [`super::secrets::mounts`] add per node. Every workload has them at "any node", so those
/// are the pattern the joined nodes copy.
pub(crate) fn rehost(
    sg: &mut SecurityGraph,
    w: WorkloadId,
    left: &[NodeIndex],
    joined: &[NodeIndex],
) {
    let Some(any) = node_vertex(sg, None) else {
        return;
    };
    let wref = workload_ref(&sg.workloads.list[w.index()]);
    let wi = sg.workload_ix[w.index()];
    let held = |e: &Edge| {
        matches!(e.kind, EdgeKind::HoldsToken | EdgeKind::HoldsSecret)
            && e.evidence.first().is_some_and(|ev| ev.object == wref)
    };
    // What the workload holds: its identity and Secrets (a node holds them for it). "Any
    // node" holds them for every workload, so the search starts from the workload's side.
    let mut held_targets: Vec<NodeIndex> = sg
        .graph
        .edges_directed(wi, Direction::Outgoing)
        .filter(|e| matches!(e.weight().kind, EdgeKind::RunsAs | EdgeKind::MountsSecret))
        .map(|e| e.target())
        .collect();
    held_targets.sort_unstable();
    held_targets.dedup();
    let holdings: Vec<(NodeIndex, Edge)> = held_targets
        .iter()
        .flat_map(|&t| sg.graph.edges_connecting(any, t))
        .filter(|e| held(e.weight()))
        .map(|e| (e.target(), (**e.weight()).clone()))
        .collect();
    let escape: Option<Edge> = sg
        .graph
        .edges_connecting(wi, any)
        .find(|e| e.weight().kind == EdgeKind::EscapesToNode)
        .map(|e| (**e.weight()).clone());
    let mut stale: Vec<EdgeIndex> = Vec::new();
    for &n in left {
        stale.extend(
            held_targets
                .iter()
                .flat_map(|&t| sg.graph.edges_connecting(n, t))
                .filter(|e| held(e.weight()))
                .map(|e| e.id()),
        );
        stale.extend(
            sg.graph
                .edges_connecting(wi, n)
                .filter(|e| e.weight().kind == EdgeKind::EscapesToNode)
                .map(|e| e.id()),
        );
    }
    remove_edges(&mut sg.graph, stale);
    for &n in joined {
        for (target, e) in &holdings {
            sg.graph.add_edge(n, *target, Box::new(e.clone()));
        }
        if let Some(e) = &escape {
            sg.graph.add_edge(wi, n, Box::new(e.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{graph, has_edge, pod};
    use crate::model::EdgeKind;

    #[test]
    fn a_privileged_pod_escapes_to_its_node() {
        let g = graph(&pod(
            "a",
            "  nodeName: n1\n  containers: [{name: c, image: x, securityContext: {privileged: true}}]",
        ));
        assert!(has_edge(
            &g,
            "Pod/app/a",
            EdgeKind::EscapesToNode,
            "Node/n1"
        ));
        assert!(has_edge(
            &g,
            "Pod/app/a",
            EdgeKind::EscapesToNode,
            "Node/(any node)"
        ));
    }

    #[test]
    fn an_unprivileged_pod_does_not_escape() {
        let g = graph(&pod(
            "a",
            "  nodeName: n1\n  containers: [{name: c, image: x, securityContext: {privileged: false, capabilities: {add: [NET_BIND_SERVICE, SYS_PTRACE]}}}]\n  volumes: [{name: v, hostPath: {path: /opt/data}}]",
        ));
        assert!(!has_edge(
            &g,
            "Pod/app/a",
            EdgeKind::EscapesToNode,
            "Node/n1"
        ));
        assert!(!has_edge(
            &g,
            "Pod/app/a",
            EdgeKind::EscapesToNode,
            "Node/(any node)"
        ));
    }

    #[test]
    fn sensitive_host_paths_cover_parents_and_children() {
        assert_eq!(
            super::sensitive_host_path("/var/lib/kubelet/pods"),
            Some("/var/lib/kubelet")
        );
        assert_eq!(
            super::sensitive_host_path("/var/lib"),
            Some("/var/lib/kubelet")
        );
        assert_eq!(super::sensitive_host_path("/opt/data"), None);
    }
}
