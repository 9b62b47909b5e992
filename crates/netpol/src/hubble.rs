//! Cilium Hubble flows: `flow.Flow` as protojson, one per line, bare or wrapped in a
//! `GetFlowsResponse` (`{"flow": {…}, "node_name": …}`) as `hubble observe -o json` and the
//! exporter write them.
//!
//! Both spellings protojson allows are read (`is_reply` / `isReply`, `pod_name` / `podName`),
//! and the schema's history: the legacy `reply` flag beside (or instead of) `is_reply`, flows
//! without `workloads` or `traffic_direction`, field-masked records with empty endpoints.

use std::borrow::Cow;
use std::net::IpAddr;

use rampart_graph::ports::Protocol;
use serde::Deserialize;

use crate::flow::{Direction, Endpoint, Entity, Flow, Verdict};
use crate::read::{FlowError, MAX_LABELS, bounded};

#[derive(Deserialize)]
struct Wrapped<'a> {
    #[serde(borrow)]
    flow: Option<RawFlow<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawFlow<'a> {
    #[serde(borrow)]
    verdict: Option<Cow<'a, str>>,
    #[serde(rename = "IP", alias = "ip")]
    ip: Option<RawIp<'a>>,
    l4: Option<RawL4>,
    #[serde(borrow)]
    source: Option<RawEndpoint<'a>>,
    #[serde(borrow)]
    destination: Option<RawEndpoint<'a>>,
    #[serde(alias = "isReply")]
    is_reply: Option<bool>,
    reply: Option<bool>,
    l7: Option<RawL7>,
    #[serde(borrow, alias = "destinationService")]
    destination_service: Option<RawService<'a>>,
    #[serde(borrow, alias = "dropReasonDesc")]
    drop_reason_desc: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow, alias = "trafficDirection")]
    traffic_direction: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawIp<'a> {
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    destination: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawL4 {
    #[serde(rename = "TCP", alias = "tcp")]
    tcp: Option<RawPorts>,
    #[serde(rename = "UDP", alias = "udp")]
    udp: Option<RawPorts>,
    #[serde(rename = "SCTP", alias = "sctp")]
    sctp: Option<RawPorts>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPorts {
    #[serde(alias = "sourcePort")]
    source_port: u32,
    #[serde(alias = "destinationPort")]
    destination_port: u32,
    flags: Option<RawFlags>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawFlags {
    #[serde(rename = "SYN")]
    syn: bool,
    #[serde(rename = "ACK")]
    ack: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawL7 {
    dns: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawService<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    namespace: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawEndpoint<'a> {
    #[serde(borrow)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow, alias = "podName")]
    pod_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    labels: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    workloads: Vec<RawWorkload<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawWorkload<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

/// Parses one line of Hubble JSON. `Ok(None)` for a record that is not a flow (a
/// `GetFlowsResponse` carrying node status or lost events).
pub fn parse_line(line: &[u8]) -> Result<Option<Flow>, FlowError> {
    match serde_json::from_slice::<Wrapped<'_>>(line) {
        Ok(Wrapped { flow: Some(f) }) => return convert(f).map(Some),
        Ok(Wrapped { flow: None }) => {}
        Err(e) => return Err(FlowError::json(e)),
    }
    // No `flow` key: either a bare flow (exporter without the wrapper) or another response.
    let raw: RawFlow<'_> = serde_json::from_slice(line).map_err(FlowError::json)?;
    if raw.verdict.is_none() && raw.ip.is_none() && raw.l4.is_none() && raw.source.is_none() {
        return Ok(None);
    }
    convert(raw).map(Some)
}

fn convert(f: RawFlow<'_>) -> Result<Flow, FlowError> {
    let verdict = match f.verdict.as_deref() {
        Some("FORWARDED" | "REDIRECTED" | "TRACED" | "TRANSLATED") => Verdict::Forwarded,
        Some("DROPPED") => Verdict::Dropped,
        Some("AUDIT") => Verdict::Audit,
        _ => Verdict::Other,
    };
    let (src_ip, dst_ip) = match &f.ip {
        Some(ip) => (
            address(ip.source.as_deref())?,
            address(ip.destination.as_deref())?,
        ),
        None => (None, None),
    };
    let l4 = f.l4.unwrap_or_default();
    let (protocol, ports) = if let Some(p) = l4.tcp {
        (Some(Protocol::Tcp), Some(p))
    } else if let Some(p) = l4.udp {
        (Some(Protocol::Udp), Some(p))
    } else if let Some(p) = l4.sctp {
        (Some(Protocol::Sctp), Some(p))
    } else {
        (None, None)
    };
    let (src_port, dst_port, syn) = match &ports {
        Some(p) => (
            port(p.source_port)?,
            port(p.destination_port)?,
            p.flags.as_ref().is_some_and(|f| f.syn && !f.ack),
        ),
        None => (0, 0, false),
    };
    let mut src = endpoint(f.source.unwrap_or_default(), src_ip)?;
    let mut dst = endpoint(f.destination.unwrap_or_default(), dst_ip)?;
    let reply = f.is_reply.or(f.reply.filter(|r| *r));
    if let Some(svc) = f.destination_service
        && let (Some(ns), Some(name)) = (svc.namespace, svc.name)
        && !name.is_empty()
    {
        // The Service names the side the request went to.
        let side = if reply == Some(true) {
            &mut src
        } else {
            &mut dst
        };
        side.service = Some((bounded(&ns)?.to_owned(), bounded(&name)?.to_owned()));
    }
    Ok(Flow {
        src,
        dst,
        protocol,
        src_port,
        dst_port,
        reply,
        syn,
        verdict,
        drop_reason: f
            .drop_reason_desc
            .map(|d| bounded(&d).map(str::to_owned))
            .transpose()?,
        dns: f.l7.is_some_and(|l| l.dns.is_some()),
        // A time that does not parse is not worth the record: it is only read for drops.
        time: f
            .time
            .filter(|t| t.len() <= 64)
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .and_then(|t| u64::try_from(t.as_second()).ok()),
        direction: match f.traffic_direction.as_deref() {
            Some("INGRESS") => Some(Direction::Ingress),
            Some("EGRESS") => Some(Direction::Egress),
            _ => None,
        },
    })
}

fn endpoint(e: RawEndpoint<'_>, ip: Option<IpAddr>) -> Result<Endpoint, FlowError> {
    if e.labels.len() > MAX_LABELS {
        return Err(FlowError::TooManyLabels(e.labels.len()));
    }
    let mut out = Endpoint {
        ip,
        namespace: nonempty(e.namespace)?,
        pod: nonempty(e.pod_name)?,
        ..Endpoint::default()
    };
    for l in &e.labels {
        let l = bounded(l)?;
        if let Some(reserved) = l.strip_prefix("reserved:") {
            // `reserved:world` etc.; a flow may carry several (host + kube-apiserver).
            let entity = Entity::from_reserved(reserved);
            if out.entity.is_none() || entity == Entity::KubeApiserver {
                out.entity = Some(entity);
            }
        } else if let Some(kv) = l.strip_prefix("k8s:")
            && let Some((k, v)) = kv.split_once('=')
        {
            // Cilium's own bookkeeping labels are not the pod's.
            if k.starts_with("io.cilium.k8s.") || k == "io.kubernetes.pod.namespace" {
                if k == "io.kubernetes.pod.namespace" && out.namespace.is_none() {
                    out.namespace = Some(v.to_owned());
                }
                continue;
            }
            out.labels.push((k.to_owned(), v.to_owned()));
        }
    }
    out.labels.sort();
    out.labels.dedup_by(|a, b| a.0 == b.0);
    out.workload = e
        .workloads
        .into_iter()
        .find_map(|w| w.name.filter(|n| !n.is_empty()))
        .map(|n| bounded(&n).map(str::to_owned))
        .transpose()?;
    Ok(out)
}

fn nonempty(s: Option<Cow<'_, str>>) -> Result<Option<String>, FlowError> {
    match s {
        Some(s) if !s.is_empty() => Ok(Some(bounded(&s)?.to_owned())),
        _ => Ok(None),
    }
}

pub(crate) fn address(s: Option<&str>) -> Result<Option<IpAddr>, FlowError> {
    match s {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| FlowError::Address(crate::read::excerpt(s))),
    }
}

pub(crate) fn port(p: u32) -> Result<u16, FlowError> {
    u16::try_from(p).map_err(|_| FlowError::Port(u64::from(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_flow_with_legacy_reply_and_no_direction() {
        let line = br#"{"flow":{"verdict":"FORWARDED","IP":{"source":"10.0.2.16","destination":"10.0.2.1"},"l4":{"TCP":{"source_port":15020,"destination_port":42044,"flags":{"FIN":true,"ACK":true}}},"source":{"namespace":"bookinfo","labels":["k8s:app=reviews","k8s:io.kubernetes.pod.namespace=bookinfo","k8s:io.cilium.k8s.policy.cluster=default"],"pod_name":"reviews-v1-545db77b95-s6jb8"},"destination":{"identity":1,"labels":["reserved:host"]},"reply":true},"node_name":"n"}"#;
        let f = parse_line(line).unwrap().unwrap();
        assert_eq!(f.reply, Some(true));
        assert_eq!(f.src.labels, vec![("app".into(), "reviews".into())]);
        assert_eq!(f.src.pod.as_deref(), Some("reviews-v1-545db77b95-s6jb8"));
        assert_eq!(f.dst.entity, Some(Entity::Host));
        assert_eq!((f.src_port, f.dst_port), (15020, 42044));
        assert_eq!(f.protocol, Some(Protocol::Tcp));
        assert!(!f.syn);
    }

    #[test]
    fn is_reply_false_wins_over_nothing_and_camel_case_is_read() {
        let f = parse_line(br#"{"verdict":"DROPPED","isReply":false,"l4":{"UDP":{"sourcePort":5,"destinationPort":53}},"source":{"podName":"a","namespace":"x"},"destination":{}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(f.reply, Some(false));
        assert_eq!(f.verdict, Verdict::Dropped);
        assert_eq!(f.dst_port, 53);
        assert_eq!(f.src.pod.as_deref(), Some("a"));
        assert!(f.dst.is_unknown());
    }

    #[test]
    fn bad_records_are_errors_not_panics() {
        assert!(parse_line(b"{\"flow\":{\"IP\":{\"source\":\"999.1.1.1\"}}}").is_err());
        assert!(parse_line(b"{\"flow\":{\"l4\":{\"TCP\":{\"destination_port\":70000}}}}").is_err());
        assert!(parse_line(b"{\"flow\":").is_err());
        assert!(parse_line(b"[1,2]").is_err());
        assert_eq!(parse_line(b"{\"node_status\":{}}").unwrap(), None);
    }
}
