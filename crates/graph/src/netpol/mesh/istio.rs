//! Istio: AuthorizationPolicy (ALLOW, DENY; AUDIT and CUSTOM decide nothing rampart sees) and
//! PeerAuthentication (mTLS modes per workload, namespace, mesh and port), compiled into the
//! mesh's atoms and evaluated in Istio's documented order: STRICT mTLS refuses sources without
//! an identity; a matching DENY denies; no ALLOW policy allows; a matching ALLOW allows; else
//! denied.

use std::collections::{BTreeMap, BTreeSet};

use rampart_model::objects::{
    IstioAuthorizationPolicy, IstioRule, IstioSource, MeshPolicy, PeerAuthentication,
};

use super::{MESH, MeshModel, MeshRef, Planner, Src, Subject, with};
use crate::netpol::NetClass;
use crate::ports::{PortSet, Protocol};

/// Istio's root namespace: its policies apply to the whole mesh.
pub const ISTIO_ROOT: &str = "istio-system";

/// An Istio rule's source entry, compiled.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct ISource {
    pub(super) principals: Option<u32>,
    pub(super) not_principals: Option<u32>,
    pub(super) namespaces: Option<u32>,
    pub(super) not_namespaces: Option<u32>,
    /// Conditions on what rampart does not know (JWT principals, addresses).
    pub(super) unknown: bool,
}

/// An Istio rule, compiled.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct IRule {
    /// `None`: every source.
    pub(super) from: Option<Vec<ISource>>,
    /// The TCP ports its operations (and `destination.port` conditions) admit.
    pub(super) ports: PortSet,
    /// `when` conditions on the source, as source entries all of which must match.
    pub(super) when: Vec<ISource>,
    /// Conditions at L7 or on what rampart does not know.
    l7: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IAction {
    Allow,
    Deny,
    /// CUSTOM (an external authorizer) and AUDIT: decide nothing rampart can see.
    Other,
}

/// An Istio AuthorizationPolicy, compiled.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct IPolicy {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) action: IAction,
    pub(super) subject: u32,
    pub(super) rules: Vec<IRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Mtls {
    Disable,
    Permissive,
    Strict,
}

/// A PeerAuthentication, compiled.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PeerAuthn {
    pub(super) namespace: String,
    pub(super) name: String,
    /// 0 mesh-wide, 1 namespace-wide, 2 workload.
    pub(super) level: u8,
    pub(super) subject: u32,
    pub(super) mode: Option<Mtls>,
    pub(super) ports: BTreeMap<u16, Mtls>,
}

/// Whether `value` matches an Istio pattern: exact, `*`, `prefix*` or `*suffix`.
fn istio_match(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return !value.is_empty();
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return value.starts_with(prefix);
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return value.ends_with(suffix);
    }
    pattern == value
}

/// What decides whether an identity (`ns`, `sa`) is one of the principal patterns `pats`. The
/// mesh's trust domain is not read: for ALLOW a pattern's own domain is taken as the mesh's
/// (admitting what either could), for DENY the default `cluster.local` (denying no more).
fn principal_matches(pats: Vec<String>, allow: bool) -> impl Fn(&str, &str) -> bool {
    move |ns: &str, sa: &str| {
        pats.iter().any(|p| {
            let domain = match p.split_once("/ns/") {
                Some((td, _)) if allow && !td.contains('*') => td,
                _ => "cluster.local",
            };
            istio_match(p, &format!("{domain}/ns/{ns}/sa/{sa}"))
        })
    }
}

/// The AuthorizationPolicies and PeerAuthentications among `policies` (sorted by namespace
/// and name), compiled.
pub(super) fn compile(
    p: &mut Planner<'_>,
    policies: &[&MeshPolicy],
) -> (Vec<IPolicy>, Vec<PeerAuthn>) {
    let (mut istio, mut peer_auth) = (Vec::new(), Vec::new());
    for m in policies {
        let (ns, name) = (m.meta().namespace.as_str(), m.meta().name.as_str());
        match m {
            MeshPolicy::IstioAuthorization(a) => istio.extend(istio_policy(p, a, ns, name)),
            MeshPolicy::PeerAuthentication(pa) => {
                peer_auth.extend(peer_authentication(p, pa, ns, name));
            }
            _ => {}
        }
    }
    (istio, peer_auth)
}

impl Planner<'_> {
    fn istio_source(&mut self, s: &IstioSource, allow: bool) -> ISource {
        let principal = |pats: &[String]| principal_matches(pats.to_vec(), allow);
        let namespace = |pats: &[String]| {
            let pats = pats.to_vec();
            move |ns: &str, _: &str| pats.iter().any(|p| istio_match(p, ns))
        };
        ISource {
            principals: s
                .principals
                .as_deref()
                .map(|p| self.identity("istio", principal(p))),
            not_principals: s
                .not_principals
                .as_deref()
                .map(|p| self.identity("istio", principal(p))),
            namespaces: s
                .namespaces
                .as_deref()
                .map(|p| self.identity("istio", namespace(p))),
            not_namespaces: s
                .not_namespaces
                .as_deref()
                .map(|p| self.identity("istio", namespace(p))),
            unknown: s.request_principals.is_some()
                || s.not_request_principals.is_some()
                || s.ip_blocks.is_some()
                || s.not_ip_blocks.is_some()
                || s.remote_ip_blocks.is_some()
                || s.not_remote_ip_blocks.is_some(),
        }
    }

    fn istio_rule(&mut self, r: &IstioRule, at: &str, allow: bool) -> IRule {
        let from = (!r.from.is_empty()).then(|| {
            r.from
                .iter()
                .map(|f| self.istio_source(&f.source, allow))
                .collect::<Vec<_>>()
        });
        let mut l7 = false;
        let port_list = |v: &[String], warnings: &mut Vec<String>| -> PortSet {
            let mut out = PortSet::empty();
            for p in v {
                match p.parse::<u16>() {
                    Ok(n) if n > 0 => out.union_with(&PortSet::single(Protocol::Tcp, n)),
                    _ => warnings.push(format!("{at}: port {p:?} is not a port number; ignored")),
                }
            }
            out
        };
        let every = PortSet::all_of(Protocol::Tcp);
        // Several operations OR: a port any of them admits. Ports of operations with L7
        // fields count as admitted — the rule is marked L7.
        let mut ports = if r.to.is_empty() {
            every.clone()
        } else {
            let mut union = PortSet::empty();
            for t in &r.to {
                let o = &t.operation;
                l7 |= o.hosts.is_some()
                    || o.not_hosts.is_some()
                    || o.methods.is_some()
                    || o.not_methods.is_some()
                    || o.paths.is_some()
                    || o.not_paths.is_some();
                let mut op = match &o.ports {
                    Some(p) => port_list(p, &mut self.warnings),
                    None => every.clone(),
                };
                if let Some(p) = &o.not_ports {
                    op = op.subtract(&port_list(p, &mut self.warnings));
                }
                union.union_with(&op);
            }
            union
        };
        let mut when = Vec::new();
        for c in &r.when {
            let values = c.values.clone().unwrap_or_default();
            let not_values = c.not_values.clone().unwrap_or_default();
            match c.key.as_str() {
                "source.namespace" => when.push(ISource {
                    namespaces: c.values.as_ref().map(|_| {
                        let pats = values.clone();
                        self.identity("istio", move |ns, _| {
                            pats.iter().any(|p| istio_match(p, ns))
                        })
                    }),
                    not_namespaces: c.not_values.as_ref().map(|_| {
                        let pats = not_values.clone();
                        self.identity("istio", move |ns, _| {
                            pats.iter().any(|p| istio_match(p, ns))
                        })
                    }),
                    ..ISource::default()
                }),
                "source.principal" => when.push(ISource {
                    principals: c
                        .values
                        .as_ref()
                        .map(|_| self.identity("istio", principal_matches(values.clone(), allow))),
                    not_principals: c.not_values.as_ref().map(|_| {
                        self.identity("istio", principal_matches(not_values.clone(), allow))
                    }),
                    ..ISource::default()
                }),
                "destination.port" => {
                    if c.values.is_some() {
                        ports = ports.intersect(&port_list(&values, &mut self.warnings));
                    }
                    ports = ports.subtract(&port_list(&not_values, &mut self.warnings));
                }
                "source.ip" | "remote.ip" => when.push(ISource {
                    unknown: true,
                    ..ISource::default()
                }),
                _ => l7 = true,
            }
        }
        IRule {
            from,
            ports,
            when,
            l7,
        }
    }
}

fn istio_policy(
    p: &mut Planner<'_>,
    a: &IstioAuthorizationPolicy,
    ns: &str,
    name: &str,
) -> Option<IPolicy> {
    let at = format!("AuthorizationPolicy {ns}/{name}");
    if a.metadata
        .annotations
        .get("istio.io/dry-run")
        .is_some_and(|v| v == "true")
    {
        // Evaluated and logged, never enforced.
        return None;
    }
    if a.spec.target_ref.is_some() || a.spec.target_refs.is_some() {
        p.warnings.push(format!(
            "{at}: targetRef (gateways, waypoints) is not modelled; policy ignored"
        ));
        return None;
    }
    let action = match a.spec.action.as_deref().unwrap_or("ALLOW") {
        "ALLOW" => IAction::Allow,
        "DENY" => IAction::Deny,
        "CUSTOM" => {
            p.warnings.push(format!(
                "{at}: CUSTOM (an external authorizer) is not modelled; it is taken to deny nothing"
            ));
            IAction::Other
        }
        "AUDIT" => IAction::Other,
        other => {
            p.warnings
                .push(format!("{at}: unknown action {other:?}; policy ignored"));
            return None;
        }
    };
    let root = ns == ISTIO_ROOT;
    let labels = a
        .spec
        .selector
        .as_ref()
        .map(|s| s.match_labels.clone())
        .unwrap_or_default();
    if let Some(k) = labels.keys().find(|k| k.contains(':')) {
        p.warnings.push(format!(
            "{at}: selector key {k:?} is invalid (':' is not allowed); policy ignored"
        ));
        return None;
    }
    let scope = p.scope(ns, root);
    let subject = p.atom(
        with(&labels, &[(MESH, "istio")]),
        scope,
        action != IAction::Other,
    );
    let rules = a
        .spec
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            p.istio_rule(
                r,
                &format!("{at} spec.rules[{i}]"),
                action == IAction::Allow,
            )
        })
        .collect();
    Some(IPolicy {
        namespace: ns.to_string(),
        name: name.to_string(),
        action,
        subject,
        rules,
    })
}

fn mtls(m: Option<&str>) -> Option<Mtls> {
    match m {
        Some("STRICT") => Some(Mtls::Strict),
        Some("PERMISSIVE") => Some(Mtls::Permissive),
        Some("DISABLE") => Some(Mtls::Disable),
        _ => None,
    }
}

fn peer_authentication(
    p: &mut Planner<'_>,
    pa: &PeerAuthentication,
    ns: &str,
    name: &str,
) -> Option<PeerAuthn> {
    let root = ns == ISTIO_ROOT;
    let selector = pa.spec.selector.as_ref().map(|s| s.match_labels.clone());
    if let Some(k) = selector
        .iter()
        .flat_map(|l| l.keys())
        .find(|k| k.contains(':'))
    {
        p.warnings.push(format!(
            "PeerAuthentication {ns}/{name}: selector key {k:?} is invalid (':' is not allowed); ignored"
        ));
        return None;
    }
    let level = match (&selector, root) {
        (Some(_), _) => 2,
        (None, true) => 0,
        (None, false) => 1,
    };
    let mode = mtls(pa.spec.mtls.as_ref().and_then(|m| m.mode.as_deref()));
    let mut ports = BTreeMap::new();
    for (port, m) in &pa.spec.port_level_mtls {
        match (port.parse::<u16>(), mtls(m.mode.as_deref())) {
            (Ok(n), Some(m)) if level == 2 => {
                ports.insert(n, m);
            }
            (Ok(_), Some(_)) => p.warnings.push(format!(
                "PeerAuthentication {ns}/{name}: portLevelMtls needs a selector; ignored"
            )),
            _ => {}
        }
    }
    let judges = mode == Some(Mtls::Strict) || ports.values().any(|m| *m == Mtls::Strict);
    let scope = p.scope(ns, root && selector.is_none());
    let subject = p.atom(
        with(&selector.unwrap_or_default(), &[(MESH, "istio")]),
        scope,
        judges,
    );
    Some(PeerAuthn {
        namespace: ns.to_string(),
        name: name.to_string(),
        level,
        subject,
        mode,
        ports,
    })
}

impl IPolicy {
    /// Whether it is an ALLOW policy.
    pub(super) fn allows(&self) -> bool {
        self.action == IAction::Allow
    }

    /// Its rules.
    pub(super) fn rules_iter(&self) -> impl Iterator<Item = &IRule> {
        self.rules.iter()
    }

    /// Its atoms numbered `base` later.
    pub(super) fn rebase(&mut self, base: u32) {
        self.subject += base;
        for r in &mut self.rules {
            for s in r.from.iter_mut().flatten().chain(r.when.iter_mut()) {
                for a in [
                    &mut s.principals,
                    &mut s.not_principals,
                    &mut s.namespaces,
                    &mut s.not_namespaces,
                ]
                .into_iter()
                .flatten()
                {
                    *a += base;
                }
            }
        }
    }
}

impl MeshModel {
    /// The TCP ports whose mTLS mode is STRICT for `dst`: the most specific level with a mode
    /// wins (workload, then namespace, then mesh); of several policies at one level, the least
    /// strict (Istio takes the oldest, which rampart cannot know).
    fn strict_ports(&self, subjects: &[Subject], why: &mut Vec<MeshRef>) -> PortSet {
        let every = PortSet::all_of(Protocol::Tcp);
        let mut rest = Mtls::Permissive;
        let mut by_port: BTreeMap<u16, Mtls> = BTreeMap::new();
        let mut decided: Vec<&PeerAuthn> = Vec::new();
        for level in [0u8, 1, 2] {
            let here: Vec<&PeerAuthn> = subjects
                .iter()
                .filter_map(|s| match s {
                    Subject::PeerAuthentication(i) => self.peer_auth.get(*i),
                    _ => None,
                })
                .filter(|p| p.level == level)
                .collect();
            if let Some(m) = here.iter().filter_map(|p| p.mode).min() {
                rest = m;
                by_port.clear();
                decided = here.clone();
            }
            let ports: BTreeSet<u16> = here.iter().flat_map(|p| p.ports.keys().copied()).collect();
            for port in ports {
                let m = here
                    .iter()
                    .filter_map(|p| p.ports.get(&port).copied().or(p.mode))
                    .min();
                if let Some(m) = m {
                    by_port.insert(port, m);
                }
            }
        }
        let mut strict = if rest == Mtls::Strict {
            every
        } else {
            PortSet::empty()
        };
        for (port, m) in by_port {
            let one = PortSet::single(Protocol::Tcp, port);
            if m == Mtls::Strict {
                strict.union_with(&one);
            } else {
                strict = strict.subtract(&one);
            }
        }
        if !strict.is_empty() {
            for p in decided {
                why.push(MeshRef::new(
                    "PeerAuthentication",
                    &p.namespace,
                    &p.name,
                    "spec.mtls.mode: STRICT (a source without a mesh identity is refused)",
                ));
            }
        }
        strict
    }

    /// The TCP ports Istio admits into `dst` from `src`, in Istio's order.
    pub(super) fn istio(
        &self,
        src: Src<'_>,
        dst: &NetClass,
        subjects: &[Subject],
        why: &mut Vec<MeshRef>,
    ) -> PortSet {
        let every = PortSet::all_of(Protocol::Tcp);
        let mut allowed = every.clone();
        if !self.meshed(src, self.istio_member) {
            allowed = allowed.subtract(&self.strict_ports(subjects, why));
        }
        let _ = dst;
        let applying: Vec<&IPolicy> = subjects
            .iter()
            .filter_map(|s| match s {
                Subject::Istio(i) => self.istio.get(*i),
                _ => None,
            })
            .collect();
        for p in applying.iter().filter(|p| p.action == IAction::Deny) {
            for (i, r) in p.rules.iter().enumerate() {
                // What rampart cannot see does not make a DENY match.
                if r.l7 || !self.sources_match(r, src, true) {
                    continue;
                }
                let denied = allowed.intersect(&r.ports);
                if !denied.is_empty() {
                    allowed = allowed.subtract(&denied);
                    why.push(istio_ref(p, i));
                }
            }
        }
        let allows: Vec<&&IPolicy> = applying
            .iter()
            .filter(|p| p.action == IAction::Allow)
            .collect();
        if allows.is_empty() {
            return allowed;
        }
        let mut admitted = PortSet::empty();
        for p in &allows {
            for (i, r) in p.rules.iter().enumerate() {
                if !self.sources_match(r, src, false) {
                    continue;
                }
                let ports = allowed.intersect(&r.ports);
                if !ports.subtract(&admitted).is_empty() {
                    admitted.union_with(&ports);
                    let mut m = istio_ref(p, i);
                    if r.l7 {
                        m.field.push_str(" (further restricted at L7)");
                    }
                    why.push(m);
                }
            }
        }
        if admitted != allowed {
            for p in allows {
                why.push(MeshRef::new(
                    "AuthorizationPolicy",
                    &p.namespace,
                    &p.name,
                    "ALLOW: no rule admits the source on the other ports",
                ));
            }
        }
        admitted
    }

    /// Whether rule `r`'s source conditions (`from`, `when`) match `src`; `deny` evaluates for
    /// a DENY policy (what rampart cannot see does not match), else for ALLOW (it does).
    fn sources_match(&self, r: &IRule, src: Src<'_>, deny: bool) -> bool {
        let from_ok = match &r.from {
            None => true,
            Some(list) => list.iter().any(|s| self.source_matches(s, src, deny)),
        };
        from_ok && r.when.iter().all(|s| self.source_matches(s, src, deny))
    }

    fn source_matches(&self, s: &ISource, src: Src<'_>, deny: bool) -> bool {
        if s.unknown && deny {
            return false;
        }
        let has = |atom: u32| match src {
            Src::Pods(c) => Some(c.has(atom)),
            Src::External => Some(false),
            // An unknown identity: it may be any one.
            Src::Unknown => None,
        };
        let positive = |a: Option<u32>| match a {
            None => true,
            Some(a) => has(a).unwrap_or(!deny),
        };
        let negative = |a: Option<u32>| match a {
            None => true,
            Some(a) => has(a).map_or(!deny, |h| !h),
        };
        positive(s.principals)
            && negative(s.not_principals)
            && positive(s.namespaces)
            && negative(s.not_namespaces)
    }
}

fn istio_ref(p: &IPolicy, rule: usize) -> MeshRef {
    MeshRef {
        kind: "AuthorizationPolicy",
        namespace: p.namespace.clone(),
        name: p.name.clone(),
        field: format!(
            "{} spec.rules[{rule}]",
            if p.action == IAction::Deny {
                "DENY"
            } else {
                "ALLOW"
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(istio_match("*", "cluster.local/ns/a/sa/b"));
        assert!(!istio_match("*", ""));
        assert!(istio_match(
            "cluster.local/ns/a/*",
            "cluster.local/ns/a/sa/b"
        ));
        assert!(istio_match("*/sa/b", "cluster.local/ns/a/sa/b"));
        assert!(!istio_match(
            "cluster.local/ns/b/*",
            "cluster.local/ns/a/sa/b"
        ));
    }
}
