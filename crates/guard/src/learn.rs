//! Criteria from piles. A shape counts only with support (seen in `min_sessions` sessions from
//! `min_clients` clients), so one poisoned request teaches nothing; limits come from the
//! sampled distribution, never from a single maximum.

use std::collections::BTreeMap;

use rampart_api::{Criteria, GuardControl, Limit, Range, RouteCriteria, ValueCriteria};

use crate::exchange::{Kind, fault};
use crate::pile::{RouteKey, RoutePile, ServicePile, ValuePile, feature};
use crate::profile::{self, SPECIALS, format, seq};
use crate::route;

/// More distinct literals than this at one path position, with the same neighbours, make the
/// position a variable (`{name}`).
pub const COLLAPSE_AT: usize = 8;

/// A location is learned as an enumeration only after this many sampled values.
pub const ENUM_MIN_SAMPLES: usize = 64;

/// Learns criteria from a pile.
pub fn learn(pile: &ServicePile, control: &GuardControl) -> Criteria {
    let (s, c) = (control.min_sessions, control.min_clients);
    let routes = collapse(&pile.routes);
    let mut out = Criteria::default();
    for ((method, template), r) in &routes {
        if !r.support.holds(s, c) {
            continue;
        }
        out.routes.push(route_criteria(method, template, r, s, c));
    }
    out.clients = supported(&pile.clients, s, c);
    // The pod's own connections: one client, the pod; support is the number of readings.
    out.peers = supported(&pile.peers, s, 1);
    out
}

/// How many requests a pile holds: exact below 256, estimated above (see
/// [`crate::sketch::HashSet::estimate`]). Merging a pile twice does not change it.
pub fn samples(pile: &ServicePile) -> u64 {
    pile.requests.estimate()
}

fn supported(map: &BTreeMap<String, crate::sketch::Support>, s: u32, c: u32) -> Vec<String> {
    map.iter()
        .filter(|(_, sup)| sup.holds(s, c))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Merges routes whose templates differ only in one literal position with many distinct values.
fn collapse(routes: &BTreeMap<RouteKey, RoutePile>) -> BTreeMap<RouteKey, RoutePile> {
    let mut current: BTreeMap<RouteKey, RoutePile> = routes.clone();
    for pos in 0..crate::exchange::MAX_SEGMENTS {
        let mut groups: BTreeMap<(String, String), Vec<RouteKey>> = BTreeMap::new();
        for key in current.keys() {
            let segs = route::parse(&key.1);
            let Some(route::Segment::Literal(_)) = segs.get(pos) else {
                continue;
            };
            let mut shape: Vec<String> = key
                .1
                .split('/')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            if let Some(s) = shape.get_mut(pos) {
                *s = "{name}".into();
            }
            groups
                .entry((key.0.clone(), format!("/{}", shape.join("/"))))
                .or_default()
                .push(key.clone());
        }
        for ((method, template), keys) in groups {
            if keys.len() <= COLLAPSE_AT {
                continue;
            }
            let mut merged = RoutePile::default();
            for k in &keys {
                if let Some(p) = current.remove(k) {
                    merged.merge(&p);
                }
            }
            current
                .entry((method, template))
                .or_default()
                .merge(&merged);
        }
    }
    current
}

fn route_criteria(method: &str, template: &str, r: &RoutePile, s: u32, c: u32) -> RouteCriteria {
    let values = r
        .values
        .iter()
        .filter(|(_, v)| v.support.holds(s, c))
        .map(|(k, v)| (k.clone(), value_criteria(v, s, c)))
        .collect();
    let response = r
        .response
        .iter()
        .filter(|(_, v)| v.support.holds(s, c))
        .map(|(k, v)| (k.clone(), value_criteria(v, s, c)))
        .collect();
    let body: Vec<u32> = r.body_bytes.values().copied().collect();
    let ms: Vec<u32> = r.response_ms.values().copied().collect();
    RouteCriteria {
        method: method.to_string(),
        template: template.to_string(),
        values,
        content_types: supported(&r.content_types, s, c),
        faults: r
            .faults
            .iter()
            .filter(|(_, sup)| sup.holds(s, c))
            .filter_map(|(bit, _)| {
                fault::NAMES
                    .iter()
                    .find(|(b, _)| b == bit)
                    .map(|(_, n)| n.to_string())
            })
            .collect(),
        body_bytes: limit(body, s, 4.0, 1024),
        statuses: r
            .statuses
            .iter()
            .filter(|(_, sup)| sup.holds(s, c))
            .map(|(k, _)| *k)
            .collect(),
        response_ms: limit(ms, s, 4.0, 250),
        response,
    }
}

/// What a location admits.
fn value_criteria(v: &ValuePile, s: u32, c: u32) -> ValueCriteria {
    let mut out = ValueCriteria::default();
    for (f, sup) in &v.features {
        if !sup.holds(s, c) {
            continue;
        }
        let (class, n) = (f & 0xffff_0000, f & 0xffff);
        match class {
            feature::KIND => {
                if let Some(k) = Kind::ALL.get(n as usize) {
                    out.kinds.push(k.as_str().to_string());
                }
            }
            feature::SPECIAL => {
                if let Some(ch) = SPECIALS.get(n as usize) {
                    out.specials.push(char::from(*ch));
                }
            }
            feature::SEQUENCE => {
                if let Some((_, name)) = seq::NAMES.iter().find(|(b, _)| u32::from(*b) == 1 << n) {
                    out.sequences.push(name.to_string());
                }
            }
            feature::BLOCK => out.blocks.push(n),
            _ => {}
        }
    }
    let entries: Vec<&crate::pile::Entry> = v.sample.values().collect();
    if entries.is_empty() {
        return out;
    }
    let common = entries.iter().fold(u16::MAX, |acc, e| acc & e.formats);
    // The most specific format every sampled value had.
    const ORDER: [u16; 9] = [
        format::UUID,
        format::EMAIL,
        format::DATE,
        format::URL,
        format::INTEGER,
        format::DECIMAL,
        format::HEX,
        format::BASE64,
        format::WORD,
    ];
    if entries.len() >= s as usize
        && let Some(f) = ORDER.iter().find(|f| common & **f != 0)
        && let Some((_, name)) = format::NAMES.iter().find(|(b, _)| b == f)
    {
        out.formats.push(name.to_string());
    }
    if common & format::INTEGER != 0 {
        let mut ints: Vec<i64> = entries.iter().filter_map(|e| e.integer).collect();
        ints.sort_unstable();
        let k = (s as usize).clamp(1, ints.len().max(1)) - 1;
        if let (Some(lo), Some(hi)) = (
            ints.get(k),
            ints.len().checked_sub(k + 1).and_then(|i| ints.get(i)),
        ) {
            let span = hi.saturating_sub(*lo).max(10);
            out.range = Some(Range {
                min: lo.saturating_sub(span),
                max: hi.saturating_add(span),
            });
        }
    }
    // Few distinct values over many observations: an enumeration (of the supported ones).
    if v.values.len() <= crate::pile::ENUM_MAX && entries.len() >= ENUM_MIN_SAMPLES {
        out.one_of = v
            .values
            .iter()
            .filter(|(_, sup)| sup.holds(s, c))
            .map(|(h, _)| format!("{h:016x}"))
            .collect();
    }
    let count = |i: usize| limit(entries.iter().map(|e| e.counts[i]).collect(), s, 2.0, 4);
    out.length = count(profile::LENGTH);
    out.letters = count(profile::LETTERS);
    out.digits = count(profile::DIGITS);
    out.spaces = count(profile::SPACES);
    out.punctuation = count(profile::PUNCTUATION);
    out.non_ascii = count(profile::NON_ASCII);
    out.runs = count(profile::RUNS);
    out
}

/// A limit from a sampled distribution: the larger of `factor` × p99 and 1.5 × the
/// `s`-th largest value (one outlier does not move it), plus `margin`.
fn limit(mut v: Vec<u32>, s: u32, factor: f64, margin: u32) -> Option<Limit> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let at = |q: f64| {
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        v.get(i).copied().unwrap_or(0)
    };
    let p50 = at(0.5);
    let p99 = at(0.99);
    let robust = v
        .len()
        .checked_sub((s as usize).max(1))
        .and_then(|i| v.get(i))
        .copied()
        .unwrap_or(0);
    let max =
        ((f64::from(p99) * factor).max(f64::from(robust) * 1.5) as u32).saturating_add(margin);
    Some(Limit { p50, p99, max })
}
