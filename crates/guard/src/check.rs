//! What makes a Guardian's spec invalid, in words its author can act on: the admission
//! webhook refuses such a Guardian when it is written, instead of a gate silently judging with
//! criteria that mean nothing (an unknown format name would otherwise admit nothing, or
//! everything).

use rampart_api::{Criteria, GuardianSpec, Limit, SpecError, ValueCriteria};

use crate::exchange::{Kind, fault};
use crate::profile::{SPECIALS, format, seq};

/// The variable segments a template may have (see [`crate::route`]).
const VARIABLES: [&str; 5] = ["{int}", "{uuid}", "{hex}", "{token}", "{name}"];

/// Every problem of a Guardian spec, with its path (`configured.routes[0].values.query.q`).
pub fn guardian(spec: &GuardianSpec) -> Vec<SpecError> {
    let mut out = Vec::new();
    let c = spec.control();
    if c.min_sessions == 0 {
        out.push(err("control.minSessions", "must be at least 1"));
    }
    if c.min_clients == 0 {
        out.push(err("control.minClients", "must be at least 1"));
    }
    if c.min_clients > c.min_sessions {
        out.push(err(
            "control.minClients",
            format!(
                "{} clients cannot be seen in {} sessions: a session belongs to one client",
                c.min_clients, c.min_sessions
            ),
        ));
    }
    if let Some(w) = &c.learning_window
        && let Err(e) = crate::cadence::parse_window(w)
    {
        out.push(err("control.learningWindow", e));
    }
    if let Some(criteria) = &spec.configured {
        check_criteria("configured", criteria, &mut out);
    }
    out
}

fn err(path: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError {
        path: path.into(),
        message: message.into(),
    }
}

fn check_criteria(at: &str, c: &Criteria, out: &mut Vec<SpecError>) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, r) in c.routes.iter().enumerate() {
        let here = format!("{at}.routes[{i}]");
        if r.method.is_empty() || !r.method.bytes().all(|b| b.is_ascii_uppercase()) {
            out.push(err(
                format!("{here}.method"),
                format!("{:?} is not an HTTP method (GET, POST, ...)", r.method),
            ));
        }
        if !r.template.starts_with('/') {
            out.push(err(
                format!("{here}.template"),
                format!("{:?} must start with /", r.template),
            ));
        }
        for seg in r.template.split('/').filter(|s| s.starts_with('{')) {
            if !VARIABLES.contains(&seg) {
                out.push(err(
                    format!("{here}.template"),
                    format!(
                        "{seg} is not a variable segment: use {{int}}, {{uuid}}, {{hex}}, {{token}} or {{name}}"
                    ),
                ));
            }
        }
        if !seen.insert((r.method.as_str(), r.template.as_str())) {
            out.push(err(
                here.clone(),
                format!("{} {} is listed twice", r.method, r.template),
            ));
        }
        for f in &r.faults {
            if !fault::NAMES.iter().any(|(_, n)| n == f) {
                out.push(err(
                    format!("{here}.faults"),
                    format!("unknown fault {f:?} (one of {})", names(&fault::NAMES)),
                ));
            }
        }
        for (name, l) in [("bodyBytes", &r.body_bytes), ("responseMs", &r.response_ms)] {
            if let Some(l) = l {
                check_limit(&format!("{here}.{name}"), l, out);
            }
        }
        for (s, status) in r.statuses.iter().enumerate() {
            if !(100..=599).contains(status) {
                out.push(err(
                    format!("{here}.statuses[{s}]"),
                    format!("{status} is not an HTTP status"),
                ));
            }
        }
        for (loc, v) in r.values.iter().chain(&r.response) {
            check_value(&format!("{here}.values.{loc}"), v, out);
        }
    }
    for (key, cidrs) in [("clients", &c.clients), ("peers", &c.peers)] {
        for (i, n) in cidrs.iter().enumerate() {
            if n.parse::<ipnet::IpNet>().is_err() {
                out.push(err(
                    format!("{at}.{key}[{i}]"),
                    format!("{n:?} is not a CIDR (10.0.0.0/8, 2001:db8::/32)"),
                ));
            }
        }
    }
}

fn names<B>(list: &[(B, &str)]) -> String {
    list.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
}

fn check_value(at: &str, v: &ValueCriteria, out: &mut Vec<SpecError>) {
    for k in &v.kinds {
        if !Kind::ALL.iter().any(|x| x.as_str() == k) {
            let all: Vec<&str> = Kind::ALL.iter().map(|x| x.as_str()).collect();
            out.push(err(
                format!("{at}.kinds"),
                format!("unknown kind {k:?} (one of {})", all.join(", ")),
            ));
        }
    }
    if let Some(c) = v
        .specials
        .chars()
        .find(|c| !c.is_ascii() || !SPECIALS.contains(&(*c as u8)))
    {
        out.push(err(
            format!("{at}.specials"),
            format!("{c:?} is not ASCII punctuation (letters, digits and spaces are always judged by their counts)"),
        ));
    }
    for s in &v.sequences {
        if !seq::NAMES.iter().any(|(_, n)| n == s) {
            out.push(err(
                format!("{at}.sequences"),
                format!("unknown sequence {s:?} (one of {})", names(&seq::NAMES)),
            ));
        }
    }
    for f in &v.formats {
        if !format::NAMES.iter().any(|(_, n)| n == f) {
            out.push(err(
                format!("{at}.formats"),
                format!("unknown format {f:?} (one of {})", names(&format::NAMES)),
            ));
        }
    }
    for (i, h) in v.one_of.iter().enumerate() {
        if h.is_empty() || h.len() > 16 || u64::from_str_radix(h, 16).is_err() {
            out.push(err(
                format!("{at}.oneOf[{i}]"),
                "not a value hash (up to 16 hex digits; `rampart guard replay --write-guardian` writes them)",
            ));
        }
    }
    if let Some(r) = v.range
        && r.min > r.max
    {
        out.push(err(
            format!("{at}.range"),
            format!("min {} is above max {}", r.min, r.max),
        ));
    }
    for (name, l) in [
        ("length", &v.length),
        ("letters", &v.letters),
        ("digits", &v.digits),
        ("spaces", &v.spaces),
        ("punctuation", &v.punctuation),
        ("nonAscii", &v.non_ascii),
        ("runs", &v.runs),
    ] {
        if let Some(l) = l {
            check_limit(&format!("{at}.{name}"), l, out);
        }
    }
}

fn check_limit(at: &str, l: &Limit, out: &mut Vec<SpecError>) {
    if l.p50 > l.p99 || l.p99 > l.max {
        out.push(err(
            at,
            format!(
                "p50 ≤ p99 ≤ max does not hold ({} / {} / {})",
                l.p50, l.p99, l.max
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_api::{Range, RouteCriteria};

    #[test]
    fn a_learned_guardian_is_valid() {
        let mut spec = GuardianSpec::default();
        let mut route = RouteCriteria {
            method: "GET".into(),
            template: "/users/{int}/orders".into(),
            statuses: vec![200, 404],
            ..RouteCriteria::default()
        };
        route.values.insert(
            "query.q".into(),
            ValueCriteria {
                kinds: vec!["string".into()],
                specials: "-'.,".into(),
                formats: vec!["word".into()],
                one_of: vec![format!("{:x}", crate::hash::stable(b"x"))],
                range: Some(Range { min: 1, max: 9 }),
                length: Some(Limit {
                    p50: 3,
                    p99: 9,
                    max: 22,
                }),
                ..ValueCriteria::default()
            },
        );
        spec.configured = Some(Criteria {
            routes: vec![route],
            clients: vec!["10.0.0.0/8".into()],
            peers: vec![],
        });
        assert_eq!(guardian(&spec), Vec::new());
    }

    #[test]
    fn every_problem_is_named_with_its_path() {
        let mut spec = GuardianSpec::default();
        spec.control_mut().min_clients = 0;
        spec.control_mut().learning_window = Some("2w".into());
        let mut route = RouteCriteria {
            method: "get".into(),
            template: "users/{id}".into(),
            statuses: vec![42],
            faults: vec!["huge".into()],
            ..RouteCriteria::default()
        };
        route.values.insert(
            "query.q".into(),
            ValueCriteria {
                kinds: vec!["text".into()],
                specials: "a".into(),
                sequences: vec!["sql".into()],
                formats: vec!["phone".into()],
                one_of: vec!["secret-value".into()],
                range: Some(Range { min: 9, max: 1 }),
                length: Some(Limit {
                    p50: 30,
                    p99: 9,
                    max: 22,
                }),
                ..ValueCriteria::default()
            },
        );
        spec.configured = Some(Criteria {
            routes: vec![route.clone(), route],
            clients: vec!["everyone".into()],
            peers: vec![],
        });
        let errors: Vec<String> = guardian(&spec).iter().map(ToString::to_string).collect();
        for want in [
            "spec.control.minClients: must be at least 1",
            "spec.control.learningWindow: \"2w\": the unit is one of s, m, h, d",
            "spec.configured.routes[0].method: \"get\" is not an HTTP method",
            "spec.configured.routes[0].template: \"users/{id}\" must start with /",
            "spec.configured.routes[0].template: {id} is not a variable segment",
            "spec.configured.routes[1]: get users/{id} is listed twice",
            "spec.configured.routes[0].faults: unknown fault \"huge\"",
            "spec.configured.routes[0].statuses[0]: 42 is not an HTTP status",
            "spec.configured.routes[0].values.query.q.kinds: unknown kind \"text\"",
            "spec.configured.routes[0].values.query.q.specials: 'a' is not ASCII punctuation",
            "spec.configured.routes[0].values.query.q.sequences: unknown sequence \"sql\"",
            "spec.configured.routes[0].values.query.q.formats: unknown format \"phone\"",
            "spec.configured.routes[0].values.query.q.oneOf[0]: not a value hash",
            "spec.configured.routes[0].values.query.q.range: min 9 is above max 1",
            "spec.configured.routes[0].values.query.q.length: p50 ≤ p99 ≤ max does not hold",
            "spec.configured.clients[0]: \"everyone\" is not a CIDR",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(want)),
                "missing {want:?} in {errors:#?}"
            );
        }
    }
}
