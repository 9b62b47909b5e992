//! The proxy handler and the gate's state.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::metrics::counter::Counter;
use rampart_api::{GuardMode, Guardian};
use rampart_guard::exchange::{self, Exchange};
use rampart_guard::{Decision, Judge, Origin, decide, hash, learn};

use crate::body::{Chained, decode, read_prefix};
use crate::learner::{Learner, Observation, Skipped};
use crate::metrics::{AlertLabels, DecisionLabels, GateMetrics, SkippedLabels};

/// What the gate is started with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The service's name, for metrics and logs.
    pub service: String,
    /// Where the app listens (`127.0.0.1:<port>`).
    pub upstream: SocketAddr,
    /// Bytes of each request body inspected.
    pub body_cap: usize,
    /// The starting Guardian: control, configured and learned criteria.
    pub guardian: Guardian,
    /// Requests learned per second at most (a busy service learns from a sample, so learning
    /// costs the same at 100 and at 100,000 requests/s); 0: every request.
    pub learn_rate: u64,
    /// A mode that holds whatever the Guardian says (`--mode`), also over Guardians the
    /// learner sends.
    pub mode_override: Option<GuardMode>,
}

/// The control flags every request reads, kept apart from the Guardian so reading them takes
/// no lock.
struct Control {
    mode: AtomicU8,
    learn: AtomicBool,
    learn_alerted: AtomicBool,
}

const MODES: [GuardMode; 3] = [GuardMode::Learn, GuardMode::Alert, GuardMode::Block];

impl Control {
    fn set_mode(&self, mode: GuardMode) {
        let i = MODES.iter().position(|m| *m == mode).unwrap_or(1);
        self.mode.store(i as u8, Ordering::Relaxed);
    }

    fn mode(&self) -> GuardMode {
        MODES
            .get(usize::from(self.mode.load(Ordering::Relaxed)))
            .copied()
            .unwrap_or(GuardMode::Alert)
    }
}

/// One counter per decision and per reason a request was not learned, made once: a request
/// never formats or hashes label sets (most requests of a busy service skip learning).
struct Counters {
    pass: Counter,
    alert: Counter,
    block: Counter,
    error: Counter,
    over_budget: Counter,
    queue_full: Counter,
}

/// The gate's state, shared by every connection.
pub struct Gate {
    pub(crate) config: Config,
    judge: RwLock<Arc<Judge>>,
    learner: Arc<Learner>,
    control: Control,
    guardian: Mutex<Guardian>,
    client: Client<HttpConnector, Chained>,
    /// The upstream as a URI authority, made once.
    authority: axum::http::uri::Authority,
    pub(crate) metrics: GateMetrics,
    counters: Counters,
    id_prefix: String,
    next_id: AtomicU64,
    pod_alert: AtomicBool,
    learned_since: AtomicU64,
    /// Alerts by reason class since the last sync with the learner.
    alerts_since: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    /// The latest alert's route, locations and reasons, for the learner.
    last_alert: Mutex<Option<String>>,
    peer_readings: AtomicU64,
    started: Instant,
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.learner.stop();
    }
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
];

impl Gate {
    /// A gate; `seed` makes its request ids unique per process (randomness is passed in).
    /// Fails when the learner's thread cannot be started.
    pub fn new(config: Config, metrics: GateMetrics, seed: u64) -> std::io::Result<Arc<Gate>> {
        let spec = &config.guardian.spec;
        let judge = Judge::new(config.guardian.learned(), spec.configured.as_ref());
        metrics.routes.set(routes(&config.guardian));
        let mut c = spec.control();
        if let Some(m) = config.mode_override {
            c.mode = m;
        }
        let control = Control {
            mode: AtomicU8::new(1),
            learn: AtomicBool::new(c.learn),
            learn_alerted: AtomicBool::new(c.learn_alerted),
        };
        control.set_mode(c.mode);
        let decision = |d: &'static str| {
            metrics
                .requests
                .get_or_create(&DecisionLabels {
                    service: config.service.clone(),
                    decision: d,
                })
                .clone()
        };
        let skipped = |why: &'static str| {
            metrics
                .learn_skipped
                .get_or_create(&SkippedLabels {
                    service: config.service.clone(),
                    why,
                })
                .clone()
        };
        let counters = Counters {
            pass: decision("pass"),
            alert: decision("alert"),
            block: decision("block"),
            error: decision("error"),
            over_budget: skipped("budget"),
            queue_full: skipped("queue-full"),
        };
        let learner = Learner::start(config.learn_rate)?;
        rampart_guard::detect::warm();
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(256)
            .build(connector);
        let authority = axum::http::uri::Authority::try_from(config.upstream.to_string())
            .map_err(std::io::Error::other)?;
        Ok(Arc::new(Gate {
            authority,
            guardian: Mutex::new(config.guardian.clone()),
            config,
            judge: RwLock::new(Arc::new(judge)),
            learner,
            control,
            client,
            metrics,
            counters,
            id_prefix: format!("{:08x}", seed as u32),
            next_id: AtomicU64::new(0),
            pod_alert: AtomicBool::new(false),
            learned_since: AtomicU64::new(0),
            alerts_since: Mutex::new(std::collections::BTreeMap::new()),
            last_alert: Mutex::new(None),
            peer_readings: AtomicU64::new(0),
            started: Instant::now(),
        }))
    }

    /// The mode, whether to learn, whether to learn what alerted.
    fn mode(&self) -> (GuardMode, bool, bool) {
        let mode = self.control.mode();
        (
            mode,
            self.control.learn.load(Ordering::Relaxed) || mode == GuardMode::Learn,
            self.control.learn_alerted.load(Ordering::Relaxed),
        )
    }

    /// Switches the mode (`learn` → `alert` → `block` as confidence grows).
    pub fn set_mode(&self, mode: GuardMode) {
        self.control.set_mode(mode);
        if let Ok(mut g) = self.guardian.lock() {
            g.spec.control_mut().mode = mode;
        }
    }

    /// Requests learned since the last [`Gate::relearn`].
    pub fn pending(&self) -> u64 {
        self.learned_since.load(Ordering::Relaxed)
    }

    /// Learns criteria from everything piled so far and puts them in force; returns the
    /// Guardian as it now stands (to be written where the operator asked).
    pub fn relearn(&self) -> Guardian {
        self.relearn_at(None)
    }

    /// [`Gate::relearn`], recording when (RFC 3339, passed in) in the Guardian's status.
    pub fn relearn_at(&self, at: Option<String>) -> Guardian {
        self.learned_since.store(0, Ordering::Relaxed);
        let Ok(mut g) = self.guardian.lock() else {
            return self.config.guardian.clone();
        };
        let pile = self.learner.pile().clone();
        let criteria = learn::learn(&pile, &g.spec.control());
        let samples = learn::samples(&pile).max(g.samples());
        g.set_learned(criteria, samples, at);
        let judge = Judge::new(g.learned(), g.spec.configured.as_ref());
        if let Ok(mut j) = self.judge.write() {
            *j = Arc::new(judge);
        }
        self.metrics.routes.set(routes(&g));
        g.clone()
    }

    /// What to send the learner now: the whole pile (merging is idempotent, so a re-sent pile
    /// counts once and a learner restart loses nothing), what is pending, and the pod alert.
    pub fn sync_message(&self) -> rampart_guard::sync::SyncMessage {
        let pile = self.learner.pile().clone();
        let mut m =
            rampart_guard::sync::SyncMessage::new(&self.config.service, pile, self.pending());
        m.alerts = self
            .alerts_since
            .lock()
            .map(|a| a.iter().map(|(k, v)| ((*k).to_string(), *v)).collect())
            .unwrap_or_default();
        m.pod_alert = self.pod_alert();
        m.last_alert = self.last_alert.lock().ok().and_then(|n| n.clone());
        m
    }

    /// What the learner needs to know to decide whether a sync is due.
    pub fn sync_pending(&self) -> rampart_guard::cadence::Pending {
        rampart_guard::cadence::Pending {
            samples: self.pending(),
            alerts: self
                .alerts_since
                .lock()
                .map(|a| a.values().sum())
                .unwrap_or(0),
            learned: self.guardian().samples(),
        }
    }

    /// `sent` reached the learner: what it carried is no longer pending (what arrived
    /// meanwhile still is).
    pub fn synced(&self, sent: &rampart_guard::sync::SyncMessage) {
        let _ = self
            .learned_since
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(sent.samples))
            });
        if let Ok(mut a) = self.alerts_since.lock() {
            for (k, v) in a.iter_mut() {
                *v = v.saturating_sub(sent.alerts.get(*k).copied().unwrap_or(0));
            }
            a.retain(|_, v| *v > 0);
        }
        if let Ok(mut n) = self.last_alert.lock()
            && *n == sent.last_alert
        {
            *n = None;
        }
    }

    /// Puts a Guardian from the learner in force: control, configured and learned criteria
    /// (`--mode` still holds over its mode).
    pub fn apply(&self, mut g: Guardian) {
        let mut c = g.spec.control();
        if let Some(m) = self.config.mode_override {
            c.mode = m;
        }
        self.control.set_mode(c.mode);
        self.control.learn.store(c.learn, Ordering::Relaxed);
        self.control
            .learn_alerted
            .store(c.learn_alerted, Ordering::Relaxed);
        g.spec.control = Some(c);
        let judge = Judge::new(g.learned(), g.spec.configured.as_ref());
        if let Ok(mut j) = self.judge.write() {
            *j = Arc::new(judge);
        }
        self.metrics.routes.set(routes(&g));
        if let Ok(mut mine) = self.guardian.lock() {
            *mine = g;
        }
    }

    /// The Guardian in force.
    pub fn guardian(&self) -> Guardian {
        self.guardian
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|_| self.config.guardian.clone())
    }

    /// The pod's public outbound peers, read by the caller from `/proc/net/*`: learned while
    /// learning; a peer outside the learned ones raises the pod alert, which holds until
    /// [`Gate::reset_pod_alert`].
    pub fn observe_peers(&self, peers: &[IpAddr]) {
        let (mode, learning, _) = self.mode();
        let known: Vec<String> = self
            .guardian
            .lock()
            .ok()
            .and_then(|g| g.learned().map(|c| c.peers.clone()))
            .unwrap_or_default();
        let unknown = !known.is_empty()
            && peers.iter().any(|p| {
                !known
                    .iter()
                    .filter_map(|k| k.parse::<ipnet::IpNet>().ok())
                    .any(|n| n.contains(p))
            });
        if unknown && mode != GuardMode::Learn && !self.pod_alert.swap(true, Ordering::Relaxed) {
            self.metrics.pod_alert.set(1);
            tracing::warn!(service = %self.config.service, "pod alert: an outbound connection to a public peer never seen");
        }
        if learning && !self.pod_alert.load(Ordering::Relaxed) {
            let o = Origin {
                session: hash::stable(b"peers"),
                client: hash::stable(b"pod"),
                request: 0,
            };
            // Peers need support like anything else: each reading counts as a session.
            let reading = self.peer_readings.fetch_add(1, Ordering::Relaxed);
            let o = Origin {
                session: hash::combine(o.session, reading),
                ..o
            };
            self.learner.pile().observe_peers(peers, o);
            self.learned_since.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Clears the pod alert (an operator decided the pod is fine, or it was replaced).
    pub fn reset_pod_alert(&self) {
        self.pod_alert.store(false, Ordering::Relaxed);
        self.metrics.pod_alert.set(0);
    }

    pub fn pod_alert(&self) -> bool {
        self.pod_alert.load(Ordering::Relaxed)
    }

    fn request_id(&self) -> String {
        format!(
            "{}-{:x}",
            self.id_prefix,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn count(&self, decision: Decision) {
        match decision {
            Decision::Pass => &self.counters.pass,
            Decision::Alert => &self.counters.alert,
            Decision::Block => &self.counters.block,
        }
        .inc();
    }

    fn count_error(&self) {
        self.counters.error.inc();
    }

    /// Whether a request may be learned within the per-second budget (asked before anything
    /// is extracted for learning, so a request over budget costs nothing more).
    fn admit_learning(&self) -> bool {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match self.learner.admit(now_ms) {
            Ok(()) => true,
            Err(why) => {
                self.skipped(why);
                false
            }
        }
    }

    /// Queues a request to be learned by the learner's thread.
    fn learn(&self, o: Observation) {
        match self.learner.push(o) {
            Ok(()) => {
                self.learned_since.fetch_add(1, Ordering::Relaxed);
            }
            Err(why) => self.skipped(why),
        }
    }

    fn skipped(&self, why: Skipped) {
        match why {
            Skipped::Budget => &self.counters.over_budget,
            Skipped::QueueFull => &self.counters.queue_full,
        }
        .inc();
    }
}

fn routes(g: &Guardian) -> i64 {
    g.learned().map_or(0, |c| c.routes.len() as i64)
}

/// The gate's router: every path is proxied.
pub fn router(gate: Arc<Gate>) -> axum::Router {
    axum::Router::new().fallback(proxy).with_state(gate)
}

fn blocked(id: &str) -> Response {
    let body = serde_json::json!({"error": "request refused by rampart guard", "requestId": id});
    let mut r = (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(id) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}

fn plain(status: StatusCode, msg: &'static str) -> Response {
    (status, msg).into_response()
}

/// The client a request is learned and judged as: the peer, or the last `X-Forwarded-For` hop
/// when the peer is a proxy on a private network (an ingress).
fn client_of(peer: IpAddr, x: &exchange::Extracted) -> IpAddr {
    match x.forwarded {
        Some(f) if !rampart_guard::peers::is_public(peer) => f,
        _ => peer,
    }
}

async fn proxy(
    State(gate): State<Arc<Gate>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let id = gate.request_id();
    let (mode, learning, learn_alerted) = gate.mode();
    if mode == GuardMode::Block && gate.pod_alert() {
        gate.count(Decision::Block);
        return blocked(&id);
    }
    let (mut parts, mut body) = req.into_parts();
    let upgrade = parts.headers.contains_key(header::UPGRADE);
    let prefix = match read_prefix(&mut body, gate.config.body_cap).await {
        Ok(p) => p,
        Err(_) => {
            gate.count_error();
            return plain(StatusCode::BAD_REQUEST, "request body could not be read\n");
        }
    };
    let ex = to_exchange(
        &parts.method,
        &parts.uri,
        &parts.headers,
        &prefix.bytes,
        prefix.complete,
        gate.config.body_cap,
        peer.ip(),
    );
    let extracted = exchange::extract(&ex);
    let client = client_of(peer.ip(), &extracted);
    let judge = gate.judge.read().map(|j| j.clone()).unwrap_or_default();
    let verdict = judge.request(&extracted, Some(client));
    let decision = decide(mode, &verdict);
    if decision != Decision::Pass {
        let route = verdict.route.clone().unwrap_or_else(|| "unknown".into());
        if let Ok(mut a) = gate.alerts_since.lock() {
            for r in &verdict.reasons {
                let n = a.entry(r.class).or_insert(0);
                *n = n.saturating_add(1);
            }
        }
        for r in &verdict.reasons {
            gate.metrics
                .alerts
                .get_or_create(&AlertLabels {
                    service: gate.config.service.clone(),
                    route: route.clone(),
                    reason: r.class,
                })
                .inc();
        }
        let reasons: Vec<String> = verdict
            .reasons
            .iter()
            .map(|r| format!("{}: {}", r.location, r.reason))
            .collect();
        if let Ok(mut n) = gate.last_alert.lock() {
            *n = Some(rampart_guard::sync::note(&format!(
                "{} {route}: {}",
                decision.as_str(),
                reasons.join("; ")
            )));
        }
        tracing::warn!(
            request_id = %id,
            service = %gate.config.service,
            route = %route,
            decision = decision.as_str(),
            reasons = %reasons.join("; "),
            "request broke the learned criteria"
        );
    }
    gate.count(decision);
    if decision == Decision::Block {
        return blocked(&id);
    }
    let learn_this = learning
        && (verdict.passed() || learn_alerted || mode == GuardMode::Learn)
        && gate.admit_learning();

    // Forward.
    let on_upgrade = upgrade.then(|| hyper::upgrade::on(parts_request(&mut parts)));
    let Ok(uri) = Uri::builder()
        .scheme("http")
        .authority(gate.authority.clone())
        .path_and_query(parts.uri.path_and_query().map_or("/", |p| p.as_str()))
        .build()
    else {
        return plain(StatusCode::BAD_REQUEST, "bad request target\n");
    };
    let mut headers = std::mem::take(&mut parts.headers);
    forward_headers(&mut headers, &parts.uri, peer.ip(), &id, upgrade);
    let rest = (!prefix.complete).then_some(body);
    let mut out = hyper::Request::new(Chained::new(prefix.bytes.clone(), rest));
    *out.method_mut() = parts.method.clone();
    *out.uri_mut() = uri;
    *out.headers_mut() = headers;
    let started = Instant::now();
    let resp = match gate.client.request(out).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(request_id = %id, "upstream unreachable: {e}");
            gate.count_error();
            return plain(StatusCode::BAD_GATEWAY, "upstream unreachable\n");
        }
    };
    let elapsed_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    let (mut rparts, rbody) = resp.into_parts();
    if learn_this {
        let resp_ex = exchange::Response {
            status: rparts.status.as_u16(),
            headers: header_pairs(&rparts.headers),
            body: exchange::Body::default(),
            elapsed_ms,
        };
        gate.learn(Observation {
            response: Some(exchange::extract_response(&resp_ex)),
            origin: Origin {
                session: hash::stable(peer.to_string().as_bytes()),
                client: hash::stable(client.to_string().as_bytes()),
                request: hash::stable(id.as_bytes()),
            },
            request: extracted,
            client: Some(client),
        });
    }
    if rparts.status == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_up) = on_upgrade
    {
        let mut upstream_resp = hyper::Response::from_parts(rparts.clone(), ());
        let server_up = hyper::upgrade::on(&mut upstream_resp);
        tokio::spawn(async move {
            if let (Ok(c), Ok(s)) = (client_up.await, server_up.await) {
                let _ =
                    tokio::io::copy_bidirectional(&mut TokioIo::new(c), &mut TokioIo::new(s)).await;
            }
        });
        return Response::from_parts(rparts, Body::empty());
    }
    for h in HOP_BY_HOP {
        rparts.headers.remove(h);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        rparts.headers.insert("x-request-id", v);
    }
    Response::from_parts(rparts, Body::new(rbody))
}

/// A request shell to take the client's upgrade from (hyper keeps it in the extensions).
fn parts_request(parts: &mut axum::http::request::Parts) -> hyper::Request<()> {
    let mut r = hyper::Request::new(());
    std::mem::swap(r.extensions_mut(), &mut parts.extensions);
    r
}

fn header_pairs(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Turns the client's headers into the upstream's, in place: hop-by-hop headers dropped (also
/// those the client's `Connection` names), except what a protocol upgrade needs;
/// `X-Forwarded-For` extended with the peer; `X-Forwarded-Proto` and `-Host` set when absent;
/// the request id set; `Host` kept (from `:authority` for HTTP/2 clients).
fn forward_headers(h: &mut HeaderMap, uri: &Uri, peer: IpAddr, id: &str, upgrade: bool) {
    let named: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .filter(|n| !(upgrade && *n == header::UPGRADE))
        .collect();
    for n in named {
        h.remove(n);
    }
    for name in HOP_BY_HOP {
        if !(upgrade && (name == "upgrade" || name == "connection")) {
            h.remove(name);
        }
    }
    let xff = match h.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {peer}"),
        None => peer.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        h.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    if !h.contains_key("x-forwarded-proto") {
        h.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("http"),
        );
    }
    if !h.contains_key(header::HOST)
        && let Some(a) = uri.authority()
        && let Ok(v) = HeaderValue::from_str(a.as_str())
    {
        h.insert(header::HOST, v);
    }
    if let Some(host) = h.get(header::HOST).cloned()
        && !h.contains_key("x-forwarded-host")
    {
        h.insert(HeaderName::from_static("x-forwarded-host"), host);
    }
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert(HeaderName::from_static("x-request-id"), v);
    }
}

fn to_exchange(
    method: &axum::http::Method,
    uri: &Uri,
    headers: &HeaderMap,
    bytes: &[u8],
    complete: bool,
    cap: usize,
    peer: IpAddr,
) -> Exchange {
    let mut pairs = header_pairs(headers);
    if let Some(host) = uri.authority() {
        // HTTP/2 carries the host as :authority.
        if !headers.contains_key(header::HOST) {
            pairs.push(("host".into(), host.to_string()));
        }
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (decoded, cut, undecodable) = match decode(encoding, bytes, cap) {
        Some((d, cut)) => (d, cut, false),
        None => (Vec::new(), false, true),
    };
    Exchange {
        method: method.as_str().to_string(),
        target: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        headers: pairs,
        body: exchange::Body {
            size: declared.unwrap_or(bytes.len() as u64),
            bytes: decoded,
            truncated: cut || !complete,
            unknown_size: declared.is_none() && !complete,
            undecodable,
        },
        client: Some(peer),
        response: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_not_forwarded() {
        let mut h = headers(&[
            ("host", "shop.example"),
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("x-forwarded-for", "198.51.100.7"),
            ("x-request-id", "spoofed"),
            ("accept", "*/*"),
        ]);
        let uri: Uri = "/a?b=1".parse().expect("uri");
        forward_headers(&mut h, &uri, IpAddr::from([10, 0, 0, 5]), "id-1", false);
        for gone in ["connection", "x-secret-hop", "keep-alive", "te"] {
            assert!(!h.contains_key(gone), "{gone} forwarded");
        }
        assert_eq!(h["x-forwarded-for"], "198.51.100.7, 10.0.0.5");
        assert_eq!(h["x-request-id"], "id-1");
        assert_eq!(h["x-forwarded-host"], "shop.example");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["accept"], "*/*");
    }

    #[test]
    fn an_upgrade_keeps_what_it_needs_and_http2_gets_its_host_from_the_authority() {
        let mut h = headers(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        let uri: Uri = "https://api.example:8443/ws".parse().expect("uri");
        forward_headers(&mut h, &uri, IpAddr::from([10, 0, 0, 5]), "id-2", true);
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["connection"], "Upgrade");
        assert_eq!(h["host"], "api.example:8443");
        assert_eq!(h["x-forwarded-host"], "api.example:8443");
    }
}
