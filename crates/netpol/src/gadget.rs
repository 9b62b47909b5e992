//! Inspektor Gadget's network events: `trace network` JSON lines (the advisor's input since
//! 2023) and the older advisor's event array (2020–2022).
//!
//! Both describe a connection from the traced pod's side: `OUTGOING` (v2) / `connect` (v1) is
//! the pod opening a connection to the remote peer's port, `HOST` / `accept` a peer connecting
//! to the pod's port. Each becomes a [`Flow`] in packet direction.

use std::collections::BTreeMap;

use rampart_graph::ports::Protocol;
use serde::Deserialize;

use crate::flow::{Direction, Endpoint, Flow};
use crate::hubble::{address, port};
use crate::read::{FlowError, MAX_LABELS, bounded};

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct TraceEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    k8s: Option<TraceK8s>,
    pkt_type: Option<String>,
    proto: Option<String>,
    port: u32,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    pod_labels: Option<BTreeMap<String, String>>,
    dst: Option<TracePeer>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct TraceK8s {
    namespace: Option<String>,
    #[serde(alias = "podName")]
    podname: Option<String>,
    #[serde(alias = "labels")]
    pod_labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct TracePeer {
    kind: Option<String>,
    addr: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    pod_labels: Option<BTreeMap<String, String>>,
}

/// Parses one `trace network` event. `Ok(None)` for events that are not connections (errors,
/// debug lines, broadcast packets).
pub fn parse_trace_line(line: &[u8]) -> Result<Option<Flow>, FlowError> {
    let e: TraceEvent = serde_json::from_slice(line).map_err(FlowError::json)?;
    if e.kind.as_deref().is_some_and(|k| k != "normal") {
        return Ok(None);
    }
    let outgoing = match e.pkt_type.as_deref() {
        Some("OUTGOING") => true,
        Some("HOST") => false,
        _ => return Ok(None),
    };
    let protocol = match e.proto.as_deref() {
        Some(p) => Protocol::parse(Some(p)).ok_or_else(|| {
            FlowError::Protocol(bounded(p).map_or_else(|_| "?".into(), str::to_owned))
        })?,
        None => Protocol::Tcp,
    };
    let k8s = e.k8s.unwrap_or_default();
    let labels = e.pod_labels.or(k8s.pod_labels).unwrap_or_default();
    let local = Endpoint {
        ip: address(e.pod_ip.as_deref())?,
        namespace: owned(k8s.namespace)?,
        pod: owned(k8s.podname)?,
        labels: label_list(labels)?,
        ..Endpoint::default()
    };
    let peer = e.dst.unwrap_or_default();
    let mut remote = Endpoint {
        ip: address(peer.addr.as_deref())?,
        ..Endpoint::default()
    };
    let ns = owned(peer.namespace)?;
    let name = owned(peer.name)?;
    match peer.kind.as_deref() {
        Some("svc") => {
            if let (Some(ns), Some(name)) = (ns.clone(), name) {
                remote.service = Some((ns, name));
            }
            remote.namespace = ns;
        }
        Some("pod") => {
            remote.namespace = ns;
            remote.pod = name;
        }
        _ => {}
    }
    remote.labels = label_list(peer.pod_labels.unwrap_or_default())?;
    Ok(Some(directed(
        local,
        remote,
        outgoing,
        protocol,
        port(e.port)?,
    )))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AdvisorEvent {
    #[serde(rename = "type")]
    kind: String,
    remote_kind: String,
    port: u32,
    local_pod_namespace: Option<String>,
    local_pod_name: Option<String>,
    local_pod_owner: Option<String>,
    local_pod_labels: Option<BTreeMap<String, String>>,
    remote_pod_namespace: Option<String>,
    remote_pod_name: Option<String>,
    remote_pod_labels: Option<BTreeMap<String, String>>,
    remote_svc_namespace: Option<String>,
    remote_svc_name: Option<String>,
    remote_svc_label_selector: Option<BTreeMap<String, String>>,
    remote_other: Option<String>,
}

/// Parses one element of the old advisor's event array. `Ok(None)` for events that are not
/// connections.
pub fn parse_advisor_event(value: &serde_json::Value) -> Result<Option<Flow>, FlowError> {
    let e = AdvisorEvent::deserialize(value).map_err(FlowError::json)?;
    let outgoing = match e.kind.as_str() {
        "connect" => true,
        "accept" => false,
        _ => return Ok(None),
    };
    let local = Endpoint {
        namespace: owned(e.local_pod_namespace)?,
        pod: owned(e.local_pod_name)?,
        workload: owned(e.local_pod_owner)?,
        labels: label_list(e.local_pod_labels.unwrap_or_default())?,
        ..Endpoint::default()
    };
    let remote = match e.remote_kind.as_str() {
        "pod" => Endpoint {
            namespace: owned(e.remote_pod_namespace)?,
            pod: owned(e.remote_pod_name)?,
            labels: label_list(e.remote_pod_labels.unwrap_or_default())?,
            ..Endpoint::default()
        },
        "svc" => {
            let ns = owned(e.remote_svc_namespace)?;
            Endpoint {
                service: ns.clone().zip(owned(e.remote_svc_name)?),
                namespace: ns,
                labels: label_list(e.remote_svc_label_selector.unwrap_or_default())?,
                ..Endpoint::default()
            }
        }
        _ => Endpoint {
            ip: address(e.remote_other.as_deref())?,
            ..Endpoint::default()
        },
    };
    Ok(Some(directed(
        local,
        remote,
        outgoing,
        Protocol::Tcp,
        port(e.port)?,
    )))
}

fn directed(
    local: Endpoint,
    remote: Endpoint,
    outgoing: bool,
    protocol: Protocol,
    port: u16,
) -> Flow {
    let (src, dst) = if outgoing {
        (local, remote)
    } else {
        (remote, local)
    };
    Flow {
        direction: Some(if outgoing {
            Direction::Egress
        } else {
            Direction::Ingress
        }),
        ..Flow::opened(src, dst, protocol, 0, port)
    }
}

fn owned(s: Option<String>) -> Result<Option<String>, FlowError> {
    match s {
        Some(s) if !s.is_empty() => {
            bounded(&s)?;
            Ok(Some(s))
        }
        _ => Ok(None),
    }
}

fn label_list(m: BTreeMap<String, String>) -> Result<Vec<(String, String)>, FlowError> {
    if m.len() > MAX_LABELS {
        return Err(FlowError::TooManyLabels(m.len()));
    }
    for (k, v) in &m {
        bounded(k)?;
        bounded(v)?;
    }
    Ok(m.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outgoing_trace_event_to_a_service() {
        let f = parse_trace_line(br#"{"type":"normal","k8s":{"namespace":"t","podname":"test-pod"},"pktType":"OUTGOING","proto":"udp","port":53,"dst":{"kind":"svc","addr":"10.96.0.10","namespace":"kube-system","name":"kube-dns","podLabels":{"k8s-app":"kube-dns"}}}"#).unwrap().unwrap();
        assert_eq!(f.src.pod.as_deref(), Some("test-pod"));
        assert_eq!(
            f.dst.service,
            Some(("kube-system".into(), "kube-dns".into()))
        );
        assert_eq!(f.protocol, Some(Protocol::Udp));
        assert_eq!(f.dst_port, 53);
    }

    #[test]
    fn an_accept_event_points_at_the_local_pod() {
        let v: serde_json::Value = serde_json::from_str(r#"{"type":"accept","remote_kind":"pod","port":8080,"local_pod_namespace":"d","local_pod_name":"b-1","local_pod_owner":"b","remote_pod_namespace":"d","remote_pod_name":"a-1","remote_pod_labels":{"app":"a"}}"#).unwrap();
        let f = parse_advisor_event(&v).unwrap().unwrap();
        assert_eq!(f.dst.workload.as_deref(), Some("b"));
        assert_eq!(f.src.labels, vec![("app".into(), "a".into())]);
        assert_eq!(f.dst_port, 8080);
    }

    #[test]
    fn other_events_and_bad_fields() {
        assert_eq!(parse_trace_line(br#"{"type":"debug"}"#).unwrap(), None);
        assert!(
            parse_trace_line(br#"{"type":"normal","pktType":"HOST","proto":"icmp","port":1}"#)
                .is_err()
        );
        assert!(parse_trace_line(br#"{"type":"normal","pktType":"HOST","port":99999}"#).is_err());
        assert!(parse_trace_line(b"nope").is_err());
    }
}
