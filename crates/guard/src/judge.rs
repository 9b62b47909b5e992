//! Judging: a request's extracted values against compiled criteria. Reasons name the
//! location and what broke, never the value (it may be a credential).

/// Location → criteria; foldhash: keys are short strings looked up for every value.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
use std::net::IpAddr;

use rampart_api::{Criteria, Limit, RouteCriteria, ValueCriteria};

use crate::detect;
use crate::exchange::{Extracted, ExtractedResponse, Kind, Value, fault};
use crate::pile::fold_bucket;
use crate::profile::{self, Profile, SPECIALS, format, seq, special_bit};
use crate::route::{self, Segment};

/// Why a request broke the criteria.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reason {
    pub location: String,
    pub reason: String,
    /// The reason's class, from a fixed set (`punctuation`, `sequence`, `unicode-block`,
    /// `format`, `range`, `one-of`, `limit`, `key`, `route`, `method`, `content-type`,
    /// `body`, `client`, `status`, `response-time`, or the injection kind: `sql`, `html`,
    /// `shell`, `path-traversal`, `remote-include`, `php`, `java`, `template`): a bounded
    /// metric label.
    #[serde(skip)]
    pub class: &'static str,
}

fn reason(location: &str, why: impl Into<String>) -> Reason {
    let reason: String = why.into();
    let class = classify(&reason);
    Reason {
        location: location.to_string(),
        reason,
        class,
    }
}

fn classify(r: &str) -> &'static str {
    const CLASSES: [(&str, &str); 16] = [
        ("punctuation never", "punctuation"),
        ("sequence never", "sequence"),
        ("Unicode block", "unicode-block"),
        ("not ", "format"),
        ("number out of range", "range"),
        ("above learned limit", "limit"),
        ("key never", "key"),
        ("route never", "route"),
        ("method never", "method"),
        ("media type", "content-type"),
        ("body", "body"),
        ("client network", "client"),
        ("status never", "status"),
        ("slower than", "response-time"),
        ("injection", "injection"),
        ("never seen here", "kind"),
    ];
    if r.starts_with("not one of") {
        return "one-of";
    }
    CLASSES
        .iter()
        .find(|(needle, _)| r.contains(needle))
        .map_or("other", |(_, c)| c)
}

/// One location's criteria, compiled for judging.
#[derive(Debug, Clone, Default)]
struct Compiled {
    kinds: u8,
    specials: u32,
    sequences: u8,
    blocks: Vec<u32>,
    format: u16,
    range: Option<(i64, i64)>,
    /// Hashes of the allowed values; empty = any.
    one_of: Vec<u64>,
    limits: [Option<u32>; 7],
    /// How many criteria were widened into this one.
    sources: u32,
}

fn widen(c: &mut Compiled, v: &ValueCriteria) {
    for k in &v.kinds {
        if let Some(kind) = Kind::ALL.iter().find(|x| x.as_str() == k) {
            c.kinds |= kind.bit();
        }
    }
    for ch in v.specials.bytes() {
        c.specials |= special_bit(ch).unwrap_or(0);
    }
    for s in &v.sequences {
        if let Some((b, _)) = seq::NAMES.iter().find(|(_, n)| n == s) {
            c.sequences |= b;
        }
    }
    for b in &v.blocks {
        if let Err(i) = c.blocks.binary_search(b) {
            c.blocks.insert(i, *b);
        }
    }
    // Two sources of criteria for one location (learned and configured): either admits.
    let f = v
        .formats
        .iter()
        .filter_map(|n| format::NAMES.iter().find(|(_, x)| x == n).map(|(b, _)| *b))
        .fold(0, |a, b| a | b);
    c.format = if c.sources == 0 {
        f
    } else if f == 0 || c.format == 0 {
        0
    } else {
        c.format | f
    };
    let hashes: Vec<u64> = v
        .one_of
        .iter()
        .filter_map(|h| u64::from_str_radix(h, 16).ok())
        .collect();
    c.one_of = if c.sources == 0 {
        hashes
    } else if hashes.is_empty() || c.one_of.is_empty() {
        Vec::new()
    } else {
        let mut all = std::mem::take(&mut c.one_of);
        all.extend(hashes);
        all
    };
    c.one_of.sort_unstable();
    c.one_of.dedup();
    if let Some(r) = v.range {
        c.range = Some(match c.range {
            Some((lo, hi)) => (lo.min(r.min), hi.max(r.max)),
            None => (r.min, r.max),
        });
    }
    let ls: [&Option<Limit>; 7] = [
        &v.length,
        &v.letters,
        &v.digits,
        &v.spaces,
        &v.punctuation,
        &v.non_ascii,
        &v.runs,
    ];
    for (slot, l) in c.limits.iter_mut().zip(ls) {
        if let Some(l) = l {
            *slot = Some(slot.map_or(l.max, |m| m.max(l.max)));
        }
    }
    c.sources += 1;
}

#[derive(Debug, Clone, Default)]
struct CompiledRoute {
    method: String,
    template: String,
    segments: Vec<Segment>,
    values: HashMap<String, Compiled>,
    response: HashMap<String, Compiled>,
    content_types: Vec<String>,
    faults: u8,
    body_bytes: Option<u32>,
    statuses: Vec<u16>,
    response_ms: Option<u32>,
}

/// Criteria compiled for judging. Built once per Guardian version; judging allocates only
/// for reasons.
#[derive(Debug, Clone, Default)]
pub struct Judge {
    routes: Vec<CompiledRoute>,
    clients: Vec<ipnet::IpNet>,
}

/// A request's verdict: the route it matched and what broke.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub route: Option<String>,
    pub reasons: Vec<Reason>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// At most this many reasons are listed per request.
pub const MAX_REASONS: usize = 16;

impl Judge {
    /// Compiles learned criteria, widened by configured ones (a value passes when either admits).
    pub fn new(learned: Option<&Criteria>, configured: Option<&Criteria>) -> Self {
        let mut j = Judge::default();
        for c in [learned, configured].into_iter().flatten() {
            for r in &c.routes {
                j.add_route(r);
            }
            j.clients.extend(
                c.clients
                    .iter()
                    .filter_map(|s| s.parse::<ipnet::IpNet>().ok()),
            );
        }
        j
    }

    /// Whether any route was learned (a judge without routes judges nothing).
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    fn add_route(&mut self, r: &RouteCriteria) {
        let idx = match self
            .routes
            .iter()
            .position(|x| x.method == r.method && x.template == r.template)
        {
            Some(i) => i,
            None => {
                self.routes.push(CompiledRoute {
                    method: r.method.clone(),
                    template: r.template.clone(),
                    segments: route::parse(&r.template),
                    ..CompiledRoute::default()
                });
                self.routes.len() - 1
            }
        };
        let Some(c) = self.routes.get_mut(idx) else {
            return;
        };
        for (k, v) in &r.values {
            widen(c.values.entry(k.clone()).or_default(), v);
        }
        for (k, v) in &r.response {
            widen(c.response.entry(k.clone()).or_default(), v);
        }
        c.content_types.extend(r.content_types.iter().cloned());
        for f in &r.faults {
            if let Some((b, _)) = fault::NAMES.iter().find(|(_, n)| n == f) {
                c.faults |= b;
            }
        }
        if let Some(l) = r.body_bytes {
            c.body_bytes = Some(c.body_bytes.map_or(l.max, |m| m.max(l.max)));
        }
        c.statuses.extend(r.statuses.iter().copied());
        if let Some(l) = r.response_ms {
            c.response_ms = Some(c.response_ms.map_or(l.max, |m| m.max(l.max)));
        }
    }

    fn find(&self, method: &str, segments: &[String]) -> (Option<&CompiledRoute>, bool) {
        let mut best: Option<(&CompiledRoute, usize)> = None;
        let mut path_known = false;
        for r in &self.routes {
            let Some(score) = route::fit(&r.segments, segments) else {
                continue;
            };
            path_known = true;
            if r.method != method {
                continue;
            }
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((r, score));
            }
        }
        (best.map(|(r, _)| r), path_known)
    }

    /// Judges a request.
    pub fn request(&self, x: &Extracted, client: Option<IpAddr>) -> Verdict {
        let mut v = Verdict::default();
        if self.is_empty() {
            // Nothing learned or configured yet (a gate just injected, before its first
            // criteria): every request would break "route never seen", and nothing would ever
            // be learned in `alert` mode. Judge nothing until there are criteria.
            return v;
        }
        if let Some(ip) = client
            && !self.clients.is_empty()
            && !self.clients.iter().any(|n| n.contains(&ip))
        {
            v.reasons
                .push(reason("client", "client network never seen"));
        }
        let (route, path_known) = self.find(&x.method, &x.segments);
        let Some(r) = route else {
            v.reasons.push(reason(
                "route",
                if path_known {
                    "method never seen on this route"
                } else {
                    "route never seen"
                },
            ));
            return v;
        };
        v.route = Some(format!("{} {}", r.method, r.template));
        if !r.content_types.contains(&x.content_type) {
            v.reasons
                .push(reason("content-type", "media type never seen here"));
        }
        let new_faults = x.faults & !r.faults;
        for (bit, name) in fault::NAMES {
            if new_faults & bit != 0 {
                v.reasons
                    .push(reason("body", format!("body fault: {name}")));
            }
        }
        if let Some(max) = r.body_bytes
            && x.body_bytes > u64::from(max)
        {
            v.reasons.push(reason("body", "body larger than learned"));
        }
        for val in &x.values {
            if v.reasons.len() >= MAX_REASONS {
                break;
            }
            judge_value(&r.values, val, &mut v.reasons);
        }
        v.reasons.truncate(MAX_REASONS);
        v
    }

    /// Judges a response to a request that matched `route` (`Verdict::route`).
    pub fn response(&self, route: &str, x: &ExtractedResponse) -> Vec<Reason> {
        let mut out = Vec::new();
        let Some(r) = self
            .routes
            .iter()
            .find(|r| route.split_once(' ') == Some((r.method.as_str(), r.template.as_str())))
        else {
            return out;
        };
        if !r.statuses.is_empty() && !r.statuses.contains(&x.status) {
            out.push(reason("response.status", "status never seen here"));
        }
        if let Some(max) = r.response_ms
            && x.elapsed_ms > max
        {
            out.push(reason("response.time", "slower than learned"));
        }
        if !r.response.is_empty() {
            for val in &x.values {
                judge_value(&r.response, val, &mut out);
            }
        }
        out.truncate(MAX_REASONS);
        out
    }
}

fn judge_value(map: &HashMap<String, Compiled>, val: &Value, out: &mut Vec<Reason>) {
    let loc = val.location.as_str();
    let c = match map.get(loc) {
        Some(c) => c,
        None => match fold_bucket(loc).and_then(|b| map.get(b)) {
            Some(c) => c,
            None => {
                out.push(reason(loc, "key never seen here"));
                return;
            }
        },
    };
    if c.kinds & val.kind.bit() == 0 {
        out.push(reason(
            loc,
            format!("{} never seen here", val.kind.as_str()),
        ));
        return;
    }
    if !matches!(val.kind, Kind::String | Kind::Number) {
        return;
    }
    let p = Profile::of(&val.text);
    let before = out.len();
    let unknown = p.specials & !c.specials;
    if unknown != 0 {
        let chars: String = SPECIALS
            .iter()
            .enumerate()
            .filter(|(i, _)| unknown & (1 << i) != 0)
            .map(|(_, ch)| char::from(*ch))
            .collect();
        out.push(reason(loc, format!("punctuation never seen here: {chars}")));
    }
    let seqs = p.sequences & !c.sequences;
    for (b, name) in seq::NAMES {
        if seqs & b != 0 {
            out.push(reason(loc, format!("sequence never seen here: {name}")));
        }
    }
    if p.blocks.iter().any(|b| c.blocks.binary_search(b).is_err()) {
        out.push(reason(loc, "Unicode block never seen here"));
    }
    if c.format != 0 && p.formats & c.format == 0 {
        let want = format::NAMES
            .iter()
            .filter(|(b, _)| c.format & b != 0)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join("|");
        out.push(reason(loc, format!("not {want}")));
    }
    if !c.one_of.is_empty()
        && c.one_of
            .binary_search(&crate::hash::stable(val.text.as_bytes()))
            .is_err()
    {
        out.push(reason(
            loc,
            format!("not one of the {} values seen here", c.one_of.len()),
        ));
    }
    if let (Some((lo, hi)), Some(n)) = (c.range, p.integer)
        && (n < lo || n > hi)
    {
        out.push(reason(loc, "number out of range"));
    }
    for (i, limit) in c.limits.iter().enumerate() {
        if let Some(max) = limit
            && p.counts[i] > *max
        {
            out.push(reason(
                loc,
                format!("{} above learned limit", profile::COUNT_NAMES[i]),
            ));
        }
    }
    // Where the profile admits what an injection needs, the structure decides.
    if out.len() == before
        && p.counts[profile::LENGTH] >= 2
        && let Some(kind) = detect_cached(&val.text)
    {
        out.push(Reason {
            location: loc.to_string(),
            reason: format!("{} injection", kind.as_str()),
            class: kind.as_str(),
        });
    }
}

/// Values repeat (user agents, `Accept` headers, enumerations): the structural detectors'
/// answers for recent short values are remembered per thread, keyed by the value itself (never
/// by its hash alone, which an attacker could collide with a benign value's).
fn detect_cached(text: &str) -> Option<detect::Injection> {
    use std::cell::RefCell;
    const SLOTS: usize = 1024;
    const MAX_LEN: usize = 512;
    type Slot = Option<(Box<str>, Option<detect::Injection>)>;
    thread_local! {
        static CACHE: RefCell<Vec<Slot>> = RefCell::new(vec![None; SLOTS]);
    }
    if text.len() > MAX_LEN {
        return detect::detect(text);
    }
    let i = (crate::hash::stable(text.as_bytes()) as usize) % SLOTS;
    let hit = CACHE.with(|c| {
        c.borrow()
            .get(i)
            .and_then(|s| s.as_ref())
            .and_then(|(k, v)| (**k == *text).then_some(*v))
    });
    if let Some(v) = hit {
        return v;
    }
    let v = detect::detect(text);
    CACHE.with(|c| {
        if let Some(slot) = c.borrow_mut().get_mut(i) {
            *slot = Some((text.into(), v));
        }
    });
    v
}
