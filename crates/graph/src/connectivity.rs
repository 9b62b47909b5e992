//! Workload-to-workload connectivity listings ("who may talk to whom, on which ports"), in the
//! line format of np-guard's `netpol-analyzer list`, so rampart's NetworkPolicy semantics can be
//! checked line by line against an independent implementation.

use std::collections::BTreeMap;

use rampart_model::de::IntOrString;
use rampart_model::{Snapshot, Workload, Workloads};

use crate::ipset::{IpSet, v4_to_string};
use crate::netpol::{ClassId, NetModel};
use crate::ports::{PortSet, Protocol};

/// One allowed connection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Connection {
    /// Source: `ns/name[Kind]`, `a.b.c.d-e.f.g.h[External]` or `{ingress-controller}`.
    pub src: String,
    /// Destination.
    pub dst: String,
    /// Allowed ports.
    pub conn: String,
}

impl std::fmt::Display for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} => {} : {}", self.src, self.dst, self.conn)
    }
}

fn pieces(blocks: &[&IpSet]) -> Vec<IpSet> {
    let mut cuts: Vec<u64> = vec![0, 1 << 32];
    for b in blocks {
        for &(lo, hi) in b.v4_ranges() {
            cuts.push(u64::from(lo));
            cuts.push(u64::from(hi) + 1);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .filter_map(|w| {
            let lo = u32::try_from(w[0]).ok()?;
            let hi = u32::try_from(w[1] - 1).ok()?;
            Some(IpSet::from_v4_ranges(vec![(lo, hi)]))
        })
        .collect()
}

fn piece_name(p: &IpSet) -> String {
    let (lo, hi) = p.v4_ranges().first().copied().unwrap_or((0, 0));
    format!("{}-{}[External]", v4_to_string(lo), v4_to_string(hi))
}

/// Ports of `w` an ingress controller reaches through Services fronted by Ingresses and Routes
/// (before NetworkPolicy).
pub fn ingress_ports(snapshot: &Snapshot, w: &Workload) -> PortSet {
    let mut out = PortSet::empty();
    // (service namespace, service name, required port) for every Ingress / Route backend.
    let mut wanted: Vec<(String, String, Option<IntOrString>)> = Vec::new();
    for (_, ing) in snapshot.ingresses() {
        let ns = &ing.metadata.namespace;
        let backends = ing
            .spec
            .default_backend
            .iter()
            .chain(ing.spec.backend.iter())
            .chain(ing.spec.rules.iter().flat_map(|r| {
                r.http
                    .iter()
                    .flat_map(|h| h.paths.iter().map(|p| &p.backend))
            }));
        for b in backends {
            if let Some((svc, port)) = b.target() {
                wanted.push((ns.clone(), svc.to_string(), Some(port)));
            }
        }
    }
    for (_, r) in snapshot.routes() {
        let ns = &r.metadata.namespace;
        let port = r.spec.port.as_ref().and_then(|p| p.target_port.clone());
        for t in r.spec.to.iter().chain(&r.spec.alternate_backends) {
            if t.kind
                .as_deref()
                .is_none_or(|k| k.is_empty() || k == "Service")
            {
                wanted.push((ns.clone(), t.name.clone(), port.clone()));
            }
        }
    }
    if wanted.is_empty() {
        return out;
    }
    let labels = w.groups.first().map(|g| &g.labels);
    let declared = crate::netpol::declared_ports(&w.template.spec);
    for (ns, svc_name, required) in wanted {
        if ns != w.namespace {
            continue;
        }
        let Some(rampart_model::Object::Service(svc)) = snapshot
            .get(rampart_model::Kind::Service, &ns, &svc_name)
            .map(|l| &l.object)
        else {
            continue;
        };
        let Some(selector) = &svc.spec.selector else {
            continue;
        };
        if !labels.is_some_and(|l| selector.iter().all(|(k, v)| l.get(k) == Some(v))) {
            continue;
        }
        let mut access: Vec<IntOrString> = Vec::new();
        match required {
            None => access.extend(svc.spec.ports.iter().map(|p| p.target())),
            Some(req) => {
                let hit = svc.spec.ports.iter().find(|p| match &req {
                    IntOrString::Str(s) => {
                        p.name.as_deref().is_some_and(|n| !n.is_empty() && n == s)
                            || p.target_port.as_ref() == Some(&req)
                    }
                    IntOrString::Int(i) => p.port == *i || p.target_port.as_ref() == Some(&req),
                });
                if let Some(p) = hit {
                    access.push(p.target());
                }
            }
        }
        for a in access {
            let port = match a {
                IntOrString::Int(i) => u16::try_from(i).ok(),
                IntOrString::Str(name) => declared
                    .iter()
                    .find(|d| {
                        d.name.as_deref() == Some(name.as_str()) && d.protocol == Protocol::Tcp
                    })
                    .map(|d| d.port),
            };
            if let Some(p) = port
                && declared.iter().any(|d| d.port == p)
            {
                out.union_with(&PortSet::single(Protocol::Tcp, p));
            }
        }
    }
    out
}

/// Every allowed connection between workloads, external address ranges and the ingress
/// controller, sorted like np-guard's `list` output.
pub fn connectivity(snapshot: &Snapshot) -> Vec<Connection> {
    let workloads = Workloads::build(snapshot);
    let model = NetModel::build(snapshot, &workloads);
    connectivity_of(snapshot, &workloads, &model)
}

/// [`connectivity`] over an already built model.
pub fn connectivity_of(
    snapshot: &Snapshot,
    workloads: &Workloads,
    model: &NetModel,
) -> Vec<Connection> {
    let mut out = Vec::new();
    if workloads.list.is_empty() {
        return out;
    }
    // Peers are identified by their printed name; pods of one owner are one peer.
    let mut peers: BTreeMap<String, (Vec<ClassId>, &Workload)> = BTreeMap::new();
    for w in &workloads.list {
        let e = peers.entry(w.display()).or_insert_with(|| (Vec::new(), w));
        e.0.extend(model.member_class[w.id.index()].iter().copied());
    }
    let srcs_ext = pieces(&model.blocks(true));
    let dsts_ext = pieces(&model.blocks(false));
    let mut pair_cache: BTreeMap<(ClassId, ClassId), PortSet> = BTreeMap::new();
    for (sname, (sclasses, _)) in &peers {
        for (dname, (dclasses, _)) in &peers {
            if sname == dname {
                continue;
            }
            let mut conn = PortSet::empty();
            for &s in sclasses {
                for &d in dclasses {
                    let a = pair_cache
                        .entry((s, d))
                        .or_insert_with(|| model.allowed(s, d));
                    conn.union_with(a);
                }
            }
            if !conn.is_empty() {
                out.push(Connection {
                    src: sname.clone(),
                    dst: dname.clone(),
                    conn: conn.to_string(),
                });
            }
        }
        for piece in &dsts_ext {
            let mut conn = PortSet::empty();
            for &s in sclasses {
                conn.union_with(&model.egress_to_external(s, Some(piece)));
            }
            if !conn.is_empty() {
                out.push(Connection {
                    src: sname.clone(),
                    dst: piece_name(piece),
                    conn: conn.to_string(),
                });
            }
        }
    }
    for piece in &srcs_ext {
        for (dname, (dclasses, _)) in &peers {
            let mut conn = PortSet::empty();
            for &d in dclasses {
                conn.union_with(&model.ingress_from_external(Some(piece), d).0);
            }
            if !conn.is_empty() {
                out.push(Connection {
                    src: piece_name(piece),
                    dst: dname.clone(),
                    conn: conn.to_string(),
                });
            }
        }
    }
    for (dname, (dclasses, w)) in &peers {
        let ports = ingress_ports(snapshot, w);
        if ports.is_empty() {
            continue;
        }
        let mut conn = PortSet::empty();
        for &d in dclasses {
            conn.union_with(&model.ingress_from_controller(d).0.intersect(&ports));
        }
        if !conn.is_empty() {
            out.push(Connection {
                src: "{ingress-controller}".into(),
                dst: dname.clone(),
                conn: conn.to_string(),
            });
        }
    }
    out.sort_by_key(|a| a.to_string());
    out
}
