//! Piles: what a gate saw, summarised per route and location in fixed-size, mergeable form.
//! [`ServicePile::merge`] is associative, commutative and idempotent (property-tested), so a
//! gate may re-send a pile and a learner may merge piles in any order.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::exchange::{Extracted, ExtractedResponse, Kind, Value};
use crate::learn::COLLAPSE_AT;
use crate::profile::{Counts, Profile};
use crate::route;
use crate::sketch::{HashSet, Sample, Support};

/// Entries kept per distribution.
pub const SAMPLE: usize = 128;
/// Bounds that keep a pile's size fixed whatever the traffic (the smallest keys are kept, which
/// keeps merging a semilattice join).
pub const MAX_ROUTES: usize = 256;
pub const MAX_VALUES_PER_ROUTE: usize = 128;
pub const MAX_FEATURES: usize = 96;
pub const MAX_SMALL_SETS: usize = 32;
pub const MAX_CIDRS: usize = 256;
/// A location with at most this many distinct values is an enumeration.
pub const ENUM_MAX: usize = 16;
const ENUM_KEEP: usize = ENUM_MAX + 1;
/// Values longer than this are never enumeration members.
pub const ENUM_LEN: usize = 64;

/// Who a request came from, hashed: a session (the gate's connection or a cookie), a client
/// (its address) and the request itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub session: u64,
    pub client: u64,
    pub request: u64,
}

/// A learnable feature of a value: its JSON kind, a punctuation character, a character
/// sequence, or a Unicode block.
pub mod feature {
    pub const KIND: u32 = 0x1_0000;
    pub const SPECIAL: u32 = 0x2_0000;
    pub const SEQUENCE: u32 = 0x3_0000;
    pub const BLOCK: u32 = 0x4_0000;
}

/// One sampled string value: its counts, formats and integer value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entry {
    pub counts: Counts,
    pub formats: u16,
    pub integer: Option<i64>,
}

/// Everything seen at one location of one route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValuePile {
    pub support: Support,
    pub features: BTreeMap<u32, Support>,
    pub sample: Sample<Entry, SAMPLE>,
    /// Hashes of the distinct short values seen (the smallest [`ENUM_KEEP`]): a location
    /// with few distinct values is learned as an enumeration. Values themselves are never kept.
    pub values: BTreeMap<u64, Support>,
}

impl ValuePile {
    fn observe(&mut self, v: &Value, o: Origin, profile: Option<&Profile>) {
        self.support.note(o.session, o.client);
        let mut note = |f: u32| note_bounded(&mut self.features, f, o, MAX_FEATURES);
        note(feature::KIND | v.kind as u32);
        if let Some(p) = profile {
            for i in 0..32 {
                if p.specials & (1 << i) != 0 {
                    note(feature::SPECIAL | i);
                }
            }
            for i in 0..8 {
                if p.sequences & (1 << i) != 0 {
                    note(feature::SEQUENCE | i);
                }
            }
            for b in &p.blocks {
                note(feature::BLOCK | (*b & 0xffff));
            }
            if v.text.len() <= ENUM_LEN {
                note_bounded(
                    &mut self.values,
                    crate::hash::stable(v.text.as_bytes()),
                    o,
                    ENUM_KEEP,
                );
            } else {
                // A long value: never an enumeration; saturate the set.
                for i in 0..ENUM_KEEP as u64 {
                    note_bounded(&mut self.values, i, o, ENUM_KEEP);
                }
            }
            let key = crate::hash::combine(o.request, crate::hash::stable(v.location.as_bytes()));
            self.sample.insert(
                key,
                Entry {
                    counts: p.counts,
                    formats: p.formats,
                    integer: p.integer,
                },
            );
        }
    }

    pub fn merge(&mut self, other: &Self) {
        self.support.merge(&other.support);
        merge_bounded(
            &mut self.features,
            &other.features,
            MAX_FEATURES,
            Support::merge,
        );
        self.sample.merge(&other.sample);
        merge_bounded(&mut self.values, &other.values, ENUM_KEEP, Support::merge);
    }

    /// Within every bound and invariant, whatever it was read from.
    pub fn normalized(&self) -> Self {
        Self {
            support: self.support.normalized(),
            features: normalized_map(&self.features, MAX_FEATURES, |_| true),
            sample: self.sample.normalized(),
            values: normalized_map(&self.values, ENUM_KEEP, |_| true),
        }
    }
}

/// The smallest `cap` keys that pass `keep`, each support normalized.
fn normalized_map<K: Ord + Clone>(
    map: &BTreeMap<K, Support>,
    cap: usize,
    keep: impl Fn(&K) -> bool,
) -> BTreeMap<K, Support> {
    map.iter()
        .filter(|(k, _)| keep(k))
        .take(cap)
        .map(|(k, v)| (k.clone(), v.normalized()))
        .collect()
}

/// The longest location name a pile keeps (`json.` paths are built from bounded names).
pub const MAX_LOCATION: usize = 512;

/// A location name as extraction makes them: printable ASCII, no quotes or backslashes,
/// bounded.
fn clean_location(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= MAX_LOCATION
        && l.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

fn normalized_values(map: &BTreeMap<String, ValuePile>) -> BTreeMap<String, ValuePile> {
    map.iter()
        .filter(|(k, _)| clean_location(k))
        .take(MAX_VALUES_PER_ROUTE)
        .map(|(k, v)| (k.clone(), v.normalized()))
        .collect()
}

fn note_bounded<K: Ord + Clone>(map: &mut BTreeMap<K, Support>, k: K, o: Origin, cap: usize) {
    if let Some(s) = map.get_mut(&k) {
        s.note(o.session, o.client);
        return;
    }
    map.entry(k).or_default().note(o.session, o.client);
    truncate(map, cap);
}

fn truncate<K: Ord + Clone, V>(map: &mut BTreeMap<K, V>, cap: usize) {
    while map.len() > cap {
        map.pop_last();
    }
}

fn merge_bounded<K: Ord + Clone, V: Clone>(
    map: &mut BTreeMap<K, V>,
    other: &BTreeMap<K, V>,
    cap: usize,
    merge: impl Fn(&mut V, &V),
) {
    for (k, v) in other {
        match map.get_mut(k) {
            Some(mine) => merge(mine, v),
            None => {
                map.insert(k.clone(), v.clone());
            }
        }
    }
    truncate(map, cap);
}

/// Everything seen on one route (method + template).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutePile {
    pub support: Support,
    pub values: BTreeMap<String, ValuePile>,
    pub content_types: BTreeMap<String, Support>,
    pub faults: BTreeMap<u8, Support>,
    pub body_bytes: Sample<u32, SAMPLE>,
    pub statuses: BTreeMap<u16, Support>,
    pub response_ms: Sample<u32, SAMPLE>,
    pub response: BTreeMap<String, ValuePile>,
}

impl RoutePile {
    pub fn merge(&mut self, o: &Self) {
        self.support.merge(&o.support);
        merge_bounded(
            &mut self.values,
            &o.values,
            MAX_VALUES_PER_ROUTE,
            ValuePile::merge,
        );
        merge_bounded(
            &mut self.content_types,
            &o.content_types,
            MAX_SMALL_SETS,
            Support::merge,
        );
        merge_bounded(&mut self.faults, &o.faults, MAX_SMALL_SETS, Support::merge);
        self.body_bytes.merge(&o.body_bytes);
        merge_bounded(
            &mut self.statuses,
            &o.statuses,
            MAX_SMALL_SETS,
            Support::merge,
        );
        self.response_ms.merge(&o.response_ms);
        merge_bounded(
            &mut self.response,
            &o.response,
            MAX_VALUES_PER_ROUTE,
            ValuePile::merge,
        );
    }

    /// Within every bound and invariant, whatever it was read from.
    pub fn normalized(&self) -> Self {
        Self {
            support: self.support.normalized(),
            values: normalized_values(&self.values),
            content_types: normalized_map(&self.content_types, MAX_SMALL_SETS, |t| {
                clean_location(t)
            }),
            faults: normalized_map(&self.faults, MAX_SMALL_SETS, |_| true),
            body_bytes: self.body_bytes.normalized(),
            statuses: normalized_map(&self.statuses, MAX_SMALL_SETS, |s| (100..=599).contains(s)),
            response_ms: self.response_ms.normalized(),
            response: normalized_values(&self.response),
        }
    }
}

/// A route key as the gate makes them: an upper-case method token and a template of clean
/// segments.
fn clean_route((method, template): &RouteKey) -> bool {
    !method.is_empty()
        && method.len() <= 32
        && method.bytes().all(|b| b.is_ascii_uppercase())
        && template.starts_with('/')
        && template.len() <= 4096
        && template.bytes().all(|b| b.is_ascii_graphic())
}

/// A network as piles keep them, re-written in canonical form; `None` if it is not one.
fn clean_cidr(s: &str) -> Option<String> {
    s.parse::<ipnet::IpNet>()
        .ok()
        .map(|n| n.trunc().to_string())
}

/// A route's key in a pile: method and template.
pub type RouteKey = (String, String);

/// Everything one gate saw of one service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePile {
    /// Serialized as `[[method, template], pile]` pairs: JSON object keys are strings only.
    #[serde(with = "pairs")]
    pub routes: BTreeMap<RouteKey, RoutePile>,
    pub clients: BTreeMap<String, Support>,
    pub peers: BTreeMap<String, Support>,
    /// The requests seen (smallest hashes), for an estimate of how many.
    pub requests: HashSet<256>,
}

/// A map with non-string keys as a JSON list of `[key, value]` pairs.
mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, K: Serialize, V: Serialize>(
        m: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    pub fn deserialize<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

/// The fold bucket a header or cookie also counts in.
pub fn fold_bucket(location: &str) -> Option<&'static str> {
    if location.starts_with("header.") {
        Some("header.*")
    } else if location.starts_with("cookie.") {
        Some("cookie.*")
    } else {
        None
    }
}

impl ServicePile {
    /// Adds one request (and its response, when there is one).
    pub fn observe(
        &mut self,
        x: &Extracted,
        r: Option<&ExtractedResponse>,
        client: Option<IpAddr>,
        o: Origin,
    ) {
        self.requests.insert(o.request);
        if let Some(ip) = client {
            note_bounded(&mut self.clients, cidr(ip), o, MAX_CIDRS);
        }
        let key = self.route_key(&x.method, &x.segments);
        if !self.routes.contains_key(&key) && self.routes.len() >= MAX_ROUTES {
            // Keep the smallest keys (what a merge would keep).
            match self.routes.last_key_value() {
                Some((last, _)) if *last > key => {
                    self.routes.pop_last();
                }
                _ => return,
            }
        }
        let route = self.routes.entry(key).or_default();
        route.support.note(o.session, o.client);
        for v in &x.values {
            let profile =
                (v.kind == Kind::String || v.kind == Kind::Number).then(|| Profile::of(&v.text));
            observe_value(&mut route.values, &v.location, v, o, profile.as_ref());
            if let Some(bucket) = fold_bucket(&v.location) {
                observe_value(&mut route.values, bucket, v, o, profile.as_ref());
            }
        }
        note_bounded(
            &mut route.content_types,
            x.content_type.clone(),
            o,
            MAX_SMALL_SETS,
        );
        for (bit, _) in crate::exchange::fault::NAMES {
            if x.faults & bit != 0 {
                note_bounded(&mut route.faults, bit, o, MAX_SMALL_SETS);
            }
        }
        if x.content_type != "none" {
            route
                .body_bytes
                .insert(o.request, u32::try_from(x.body_bytes).unwrap_or(u32::MAX));
        }
        if let Some(r) = r {
            note_bounded(&mut route.statuses, r.status, o, MAX_SMALL_SETS);
            route.response_ms.insert(o.request, r.elapsed_ms);
            for v in &r.values {
                let profile = (v.kind == Kind::String || v.kind == Kind::Number)
                    .then(|| Profile::of(&v.text));
                observe_value(&mut route.response, &v.location, v, o, profile.as_ref());
            }
        }
    }

    /// The key a request's route is piled under: its template, with a literal position
    /// folded to `{name}` once more than [`COLLAPSE_AT`] distinct literals share its
    /// neighbours (file names, slugs), so they do not crowd other routes out of the pile.
    fn route_key(&mut self, method: &str, segments: &[String]) -> RouteKey {
        let template = route::template(segments);
        let key = (method.to_string(), template);
        if self.routes.contains_key(&key) {
            return key;
        }
        let parts: Vec<&str> = key.1.split('/').filter(|s| !s.is_empty()).collect();
        for pos in 0..parts.len() {
            if parts.get(pos).is_some_and(|p| p.starts_with('{')) {
                continue;
            }
            let folded = with_segment(&parts, pos, "{name}");
            let folded_key = (method.to_string(), folded);
            if self.routes.contains_key(&folded_key) {
                return folded_key;
            }
            let siblings: Vec<RouteKey> = self
                .routes
                .keys()
                .filter(|(m, t)| {
                    m == method && {
                        let other: Vec<&str> = t.split('/').filter(|s| !s.is_empty()).collect();
                        other.len() == parts.len()
                            && other
                                .iter()
                                .zip(&parts)
                                .enumerate()
                                .all(|(i, (a, b))| i == pos || a == b)
                            && other.get(pos).is_some_and(|p| !p.starts_with('{'))
                    }
                })
                .cloned()
                .collect();
            if siblings.len() >= COLLAPSE_AT {
                let mut merged = RoutePile::default();
                for k in &siblings {
                    if let Some(p) = self.routes.remove(k) {
                        merged.merge(&p);
                    }
                }
                self.routes.insert(folded_key.clone(), merged);
                return folded_key;
            }
        }
        key
    }

    /// Adds outbound peers the pod was seen talking to.
    pub fn observe_peers(&mut self, peers: &[IpAddr], o: Origin) {
        for p in peers {
            note_bounded(&mut self.peers, cidr(*p), o, MAX_CIDRS);
        }
    }

    pub fn merge(&mut self, o: &Self) {
        merge_bounded(&mut self.routes, &o.routes, MAX_ROUTES, RoutePile::merge);
        merge_bounded(&mut self.clients, &o.clients, MAX_CIDRS, Support::merge);
        merge_bounded(&mut self.peers, &o.peers, MAX_CIDRS, Support::merge);
        self.requests.merge(&o.requests);
    }

    /// The pile within every bound and invariant a gate's own piling keeps: what a pile read
    /// from outside (a gate's sync) becomes before it is merged. Routes, locations and
    /// networks that no gate would make are dropped; sketches are rebuilt, so an oversized or
    /// unsorted one cannot break the merge's laws.
    pub fn normalized(&self) -> Self {
        let networks = |m: &BTreeMap<String, Support>| {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                if let Some(c) = clean_cidr(k) {
                    out.entry(c)
                        .or_insert_with(Support::default)
                        .merge(&v.normalized());
                }
            }
            truncate(&mut out, MAX_CIDRS);
            out
        };
        Self {
            routes: self
                .routes
                .iter()
                .filter(|(k, _)| clean_route(k))
                .take(MAX_ROUTES)
                .map(|(k, v)| (k.clone(), v.normalized()))
                .collect(),
            clients: networks(&self.clients),
            peers: networks(&self.peers),
            requests: self.requests.normalized(),
        }
    }
}

fn observe_value(
    map: &mut BTreeMap<String, ValuePile>,
    location: &str,
    v: &Value,
    o: Origin,
    profile: Option<&Profile>,
) {
    if let Some(p) = map.get_mut(location) {
        p.observe(v, o, profile);
        return;
    }
    if map.len() >= MAX_VALUES_PER_ROUTE {
        match map.last_key_value() {
            Some((last, _)) if last.as_str() > location => {
                map.pop_last();
            }
            _ => return,
        }
    }
    map.entry(location.to_string())
        .or_default()
        .observe(v, o, profile);
}

fn with_segment(parts: &[&str], pos: usize, seg: &str) -> String {
    let mut t = String::new();
    for (i, p) in parts.iter().enumerate() {
        t.push('/');
        t.push_str(if i == pos { seg } else { p });
    }
    t
}

/// The network an address is learned as: IPv4 /24, IPv6 /64.
pub fn cidr(ip: IpAddr) -> String {
    let net = match ip {
        IpAddr::V4(_) => ipnet::IpNet::new(ip, 24),
        IpAddr::V6(_) => ipnet::IpNet::new(ip, 64),
    };
    net.map(|n| n.trunc().to_string())
        .unwrap_or_else(|_| ip.to_string())
}
