//! Falco's connection events as flows: an alert whose output carries a socket's ends (`fd.cip` /
//! `fd.sip` and ports, `fd.name` as `client:port->server:port`, or `fd.rip` / `fd.rport` from the
//! pod's side) about a pod (`k8s.ns.name`, `k8s.pod.name`) is a connection the pod made or
//! accepted — the syscall succeeded, so it passed. Which end is the pod: `evt.type` says
//! (`connect` the client, `accept` the server), else `fd.lip`, else the client (Falco's
//! network rules are about outbound connections).

use std::net::IpAddr;

use rampart_graph::ports::Protocol;
use rampart_signals::falco::NetFields;

use crate::flow::{Endpoint, Flow};

fn ip(s: Option<&str>) -> Option<IpAddr> {
    let s = s?.trim();
    s.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

fn port(s: Option<&str>) -> Option<u16> {
    s?.trim().parse().ok().filter(|p| *p != 0)
}

/// `address:port`, the address maybe in brackets (IPv6).
fn end(s: &str) -> Option<(IpAddr, u16)> {
    let (a, p) = s.trim().rsplit_once(':')?;
    Some((ip(Some(a))?, port(Some(p))?))
}

/// The client and server ends, when the fields name both addresses: `(client, client port,
/// server, server port)`.
fn ends(
    fd_name: Option<&str>,
    n: &NetFields,
) -> Option<(Option<IpAddr>, u16, Option<IpAddr>, u16)> {
    if let (Some(c), Some(s), Some(sp)) = (
        ip(n.cip.as_deref()),
        ip(n.sip.as_deref()),
        port(n.sport.as_deref()),
    ) {
        return Some((Some(c), port(n.cport.as_deref()).unwrap_or(0), Some(s), sp));
    }
    if let Some((c, s)) = fd_name.and_then(|f| f.split_once("->"))
        && let (Some((ci, cp)), Some((si, sp))) = (end(c), end(s))
    {
        return Some((Some(ci), cp, Some(si), sp));
    }
    let remote = ip(n.rip.as_deref())?;
    let accepted = matches!(n.evt_type.as_deref(), Some("accept" | "accept4"));
    if accepted {
        // The pod served: the local port is the server's.
        let lport = port(n.lport.as_deref())?;
        return Some((
            Some(remote),
            port(n.rport.as_deref()).unwrap_or(0),
            ip(n.lip.as_deref()),
            lport,
        ));
    }
    Some((
        ip(n.lip.as_deref()),
        port(n.lport.as_deref()).unwrap_or(0),
        Some(remote),
        port(n.rport.as_deref())?,
    ))
}

/// The flow an alert about pod `namespace/pod` shows, if its fields carry a connection.
pub fn flow(
    namespace: Option<&str>,
    pod: Option<&str>,
    fd_name: Option<&str>,
    n: &NetFields,
) -> Option<Flow> {
    let (namespace, pod) = (namespace?, pod?);
    let (client, cport, server, sport) = ends(fd_name, n)?;
    let protocol = match n.l4proto.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("tcp") => Protocol::Tcp,
        Some("udp") => Protocol::Udp,
        Some("sctp") => Protocol::Sctp,
        Some(_) => return None,
    };
    let pod_is_client = match n.evt_type.as_deref() {
        Some("connect") => true,
        Some("accept" | "accept4") => false,
        _ => !matches!(ip(n.lip.as_deref()), Some(l) if Some(l) == server && Some(l) != client),
    };
    let at = |ip: Option<IpAddr>| Endpoint {
        ip,
        ..Endpoint::default()
    };
    let mut src = at(client);
    let mut dst = at(server);
    let side = if pod_is_client { &mut src } else { &mut dst };
    side.namespace = Some(namespace.to_owned());
    side.pod = Some(pod.to_owned());
    if src.is_unknown() || dst.is_unknown() {
        return None;
    }
    Some(Flow::opened(src, dst, protocol, cport, sport))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(pairs: &[(&str, &str)]) -> NetFields {
        let mut n = NetFields::default();
        for (k, v) in pairs {
            let v = Some((*v).to_string());
            match *k {
                "cip" => n.cip = v,
                "cport" => n.cport = v,
                "sip" => n.sip = v,
                "sport" => n.sport = v,
                "lip" => n.lip = v,
                "lport" => n.lport = v,
                "rip" => n.rip = v,
                "rport" => n.rport = v,
                "l4proto" => n.l4proto = v,
                _ => n.evt_type = v,
            }
        }
        n
    }

    fn shown(f: &Flow) -> String {
        let side = |e: &Endpoint| {
            format!(
                "{}{}",
                e.pod
                    .as_deref()
                    .map(|p| format!("{p}@"))
                    .unwrap_or_default(),
                e.ip.map(|i| i.to_string()).unwrap_or_else(|| "?".into())
            )
        };
        format!(
            "{} -> {} {} {}",
            side(&f.src),
            side(&f.dst),
            f.protocol.map_or("?", |p| p.as_str()),
            f.dst_port
        )
    }

    #[test]
    fn connections_from_every_way_falco_prints_them() {
        // falcosidekick's README example: the pod's outbound connection by its remote end.
        let f = flow(
            Some("default"),
            Some("static-web"),
            None,
            &net(&[("rip", "8.8.8.8"), ("rport", "8888")]),
        )
        .unwrap();
        assert_eq!(shown(&f), "static-web@? -> 8.8.8.8 TCP 8888");
        // `connection=%fd.name`.
        let f = flow(
            Some("shop"),
            Some("web-1"),
            Some("10.0.0.5:41234->10.0.1.7:5432"),
            &net(&[]),
        )
        .unwrap();
        assert_eq!(shown(&f), "web-1@10.0.0.5 -> 10.0.1.7 TCP 5432");
        assert_eq!(f.src_port, 41234);
        // An accepted connection: the pod is the server.
        let f = flow(
            Some("shop"),
            Some("db-0"),
            None,
            &net(&[
                ("cip", "10.0.0.5"),
                ("cport", "41234"),
                ("sip", "10.0.1.7"),
                ("sport", "5432"),
                ("evt.type", "accept"),
            ]),
        )
        .unwrap();
        assert_eq!(shown(&f), "10.0.0.5 -> db-0@10.0.1.7 TCP 5432");
        let f = flow(
            Some("shop"),
            Some("db-0"),
            None,
            &net(&[
                ("rip", "10.0.0.5"),
                ("rport", "41234"),
                ("lip", "10.0.1.7"),
                ("lport", "5432"),
                ("evt.type", "accept4"),
                ("l4proto", "UDP"),
            ]),
        )
        .unwrap();
        assert_eq!(shown(&f), "10.0.0.5 -> db-0@10.0.1.7 UDP 5432");
        // fd.lip telling the pod's end without evt.type; IPv6 in brackets.
        let f = flow(
            Some("shop"),
            Some("db-0"),
            Some("[fd00::5]:41234->[fd00::7]:5432"),
            &net(&[("lip", "fd00::7")]),
        )
        .unwrap();
        assert_eq!(shown(&f), "fd00::5 -> db-0@fd00::7 TCP 5432");
    }

    #[test]
    fn alerts_without_a_usable_connection_are_no_flow() {
        let none = |ns: Option<&str>, fd: Option<&str>, n: NetFields| {
            flow(ns, Some("p"), fd, &n).is_none()
        };
        assert!(none(Some("a"), Some("/etc/shadow"), net(&[])), "a file");
        assert!(
            none(None, Some("10.0.0.1:1->10.0.0.2:80"), net(&[])),
            "no pod"
        );
        assert!(none(Some("a"), None, net(&[("rip", "8.8.8.8")])), "no port");
        assert!(none(Some("a"), None, net(&[("rip", "x"), ("rport", "80")])));
        assert!(none(
            Some("a"),
            None,
            net(&[("rip", "8.8.8.8"), ("rport", "0")])
        ));
        assert!(none(
            Some("a"),
            None,
            net(&[("rip", "8.8.8.8"), ("rport", "80"), ("l4proto", "icmp")])
        ));
        assert!(none(
            Some("a"),
            None,
            net(&[("rip", "8.8.8.8"), ("rport", "99999")])
        ));
    }
}
