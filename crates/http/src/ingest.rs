//! Runtime-evidence ingest: `POST /falco` (Falco's `http_output`, falcosidekick's webhook),
//! `POST /audit` (the kube-apiserver audit webhook backend) and `POST /guard` (request-guard
//! events from `rampart learner`) and `POST /flows` (observed network flows, Hubble or
//! Inspektor Gadget JSON lines, for NetworkPolicies from traffic).
//!
//! Each request is rate-limited per peer, authenticated with a bearer token (compared in
//! constant time), size-capped, then parsed and normalised by `rampart-signals` outside any
//! lock; only the store insert takes the lock. A fresh observation wakes the engine; repeats
//! only refresh their time. Refusals answer with a status and a reason and are counted; a
//! batch with some bad items answers 200 (the sender must not retry it) and counts them.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rampart_signals::audit::{self, AllowList, Drop};
use rampart_signals::behaviour::Mapping;
use rampart_signals::falco;
use rampart_signals::observe::{Observation, Store, Stored, Unused, from_alert, from_read};
use tokio::sync::Notify;

/// Most fresh observations queued for the engine between two wake-ups.
const MAX_FRESH: usize = 10_000;

/// Default body cap: the apiserver's audit batches stay well below it.
pub const DEFAULT_MAX_BODY: usize = 4 << 20;

/// Labels of the request counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `falco`, `audit` or `guard`.
    pub endpoint: &'static str,
    /// `ok`, `unauthorized`, `rate_limited`, `too_large`, `malformed`.
    pub outcome: &'static str,
}

/// Labels of the item counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ItemLabels {
    /// `falco`, `audit` or `guard`.
    pub endpoint: &'static str,
    /// `fresh`, `refreshed`, `store_full`, `irrelevant`, `unattributed`, `refused`, or an
    /// audit drop reason.
    pub result: &'static str,
}

/// Ingest metrics, registered in the engine's registry.
#[derive(Debug, Clone)]
pub struct IngestMetrics {
    /// Requests by endpoint and outcome.
    pub requests: Family<RequestLabels, Counter>,
    /// Alerts and events by endpoint and what became of them.
    pub items: Family<ItemLabels, Counter>,
    /// Live observations.
    pub observations: Gauge,
    /// Time from a request's body to its observations stored (parse, normalise, store).
    pub decision_seconds: Histogram,
}

impl IngestMetrics {
    /// New metrics, registered in `registry`.
    pub fn register(registry: &mut Registry) -> IngestMetrics {
        let m = IngestMetrics {
            requests: Family::default(),
            items: Family::default(),
            observations: Gauge::default(),
            decision_seconds: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(1e-6, 4.0, 12),
            ),
        };
        registry.register(
            "ingest_requests",
            "Ingest requests by endpoint and outcome",
            m.requests.clone(),
        );
        registry.register(
            "ingest_items",
            "Falco alerts and audit events by endpoint and what became of them",
            m.items.clone(),
        );
        registry.register(
            "observations",
            "Live runtime observations",
            m.observations.clone(),
        );
        registry.register(
            "ingest_decision_seconds",
            "Time from a request body to its observations stored",
            m.decision_seconds.clone(),
        );
        m
    }
}

/// How the ingest endpoints behave.
#[derive(Clone)]
pub struct IngestConfig {
    /// Bearer token; `None` only when the operator chose `--insecure-no-auth`.
    pub token: Option<String>,
    /// Requests per second per peer address (bursts of the same size).
    pub rate_per_peer: NonZeroU32,
    /// Largest body accepted.
    pub max_body: usize,
    /// Falco rules to behaviours.
    pub mapping: Mapping,
    /// ServiceAccounts whose Secret reads are not evidence.
    pub allow: AllowList,
}

/// Requests handled at once (more wait for nothing: 503).
const MAX_IN_FLIGHT: usize = 256;

impl std::fmt::Debug for IngestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("rate_per_peer", &self.rate_per_peer)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

/// The ingest endpoints' state: shared with the engine, which reads the store and waits on
/// `wake`.
pub struct Ingest {
    config: IngestConfig,
    /// The token, if required.
    token: Option<crate::auth::Token>,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    in_flight: tokio::sync::Semaphore,
    /// Live observations.
    pub store: Mutex<Store>,
    /// Notified when an observation is fresh.
    pub wake: Notify,
    /// Fresh observations not yet taken by the engine (bounded: the oldest are dropped).
    fresh: Mutex<std::collections::VecDeque<Observation>>,
    /// Request-guard events not yet taken for the dashboard's guard pages (bounded).
    guard_events: Mutex<std::collections::VecDeque<(u64, rampart_signals::guard::GuardEvent)>>,
    /// Observed network flows (`POST /flows`), for NetworkPolicies from traffic.
    pub flows: Arc<FlowSink>,
    /// Metrics.
    pub metrics: IngestMetrics,
}

/// Observed flows collected for the engine, from `POST /flows` and a tailed file alike.
#[derive(Debug, Default)]
pub struct FlowSink {
    /// The flows, reduced to distinct records.
    pub collector: Mutex<rampart_netpol::Collector>,
    /// Bumped whenever flows were added (the engine plans again when it moved).
    pub generation: std::sync::atomic::AtomicU64,
    /// Records that could not be read, in all.
    pub malformed: std::sync::atomic::AtomicU64,
    /// Drops a NetworkPolicy may have made, since the engine last took them (the newest
    /// [`MAX_DROPS`]): the `netpol` rollout reverts the policies they are blamed on.
    pub drops: Mutex<std::collections::VecDeque<rampart_netpol::Flow>>,
    /// Woken when such a drop arrives: the rollout reverts at once, not at the next tick.
    pub dropped: Notify,
}

/// Most policy drops kept between two looks of the engine.
pub const MAX_DROPS: usize = 1000;

impl FlowSink {
    /// Reads flow lines (Hubble or Inspektor Gadget JSON, the format told from the first
    /// record) and adds them: parsed outside the lock. Returns (flows, malformed records); an
    /// error when the input has records and none is a flow or a known non-flow.
    pub fn take(&self, body: &[u8]) -> Result<(u64, u64), String> {
        let mut flows = Vec::new();
        let (_, tally) = rampart_netpol::read_flows("body", body, None, |f| flows.push(f))
            .map_err(|e| e.to_string())?;
        self.malformed
            .fetch_add(tally.malformed, std::sync::atomic::Ordering::Relaxed);
        if tally.records > 0 && tally.flows == 0 && tally.not_flows == 0 {
            let first = tally
                .errors
                .first()
                .map(|e| e.error.clone())
                .unwrap_or_default();
            return Err(format!(
                "no flow records ({} malformed): {first}",
                tally.malformed
            ));
        }
        self.add(flows);
        Ok((tally.flows, tally.malformed))
    }

    /// Adds flows (from a capture, or from Falco's connection events): the policy drops queued
    /// for the rollout, every flow collected.
    pub fn add(&self, flows: Vec<rampart_netpol::Flow>) {
        let mut drops: Vec<rampart_netpol::Flow> = flows
            .iter()
            .filter(|f| rampart_netpol::drops::by_policy(f))
            .cloned()
            .collect();
        if !drops.is_empty() {
            if let Ok(mut q) = self.drops.lock() {
                let keep = drops.len().min(MAX_DROPS);
                let first = drops.len() - keep;
                while q.len() + keep > MAX_DROPS {
                    q.pop_front();
                }
                q.extend(drops.drain(first..));
            }
            self.dropped.notify_one();
        }
        if !flows.is_empty() {
            if let Ok(mut c) = self.collector.lock() {
                for f in flows {
                    c.add(f);
                }
            }
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The policy drops since the last call.
    pub fn take_drops(&self) -> Vec<rampart_netpol::Flow> {
        self.drops
            .lock()
            .map(|mut q| q.drain(..).collect())
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest").finish_non_exhaustive()
    }
}

impl Ingest {
    /// Ingest state with an empty store.
    pub fn new(config: IngestConfig, store: Store, metrics: IngestMetrics) -> Ingest {
        let quota = Quota::per_second(config.rate_per_peer);
        Ingest {
            limiter: RateLimiter::keyed(quota),
            token: config.token.as_deref().map(crate::auth::Token::new),
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            config,
            store: Mutex::new(store),
            wake: Notify::new(),
            fresh: Mutex::new(std::collections::VecDeque::new()),
            guard_events: Mutex::new(std::collections::VecDeque::new()),
            flows: Arc::new(FlowSink::default()),
            metrics,
        }
    }

    fn count(&self, endpoint: &'static str, result: &'static str, n: usize) {
        if n > 0 {
            self.metrics
                .items
                .get_or_create(&ItemLabels { endpoint, result })
                .inc_by(n as u64);
        }
    }

    /// Stores observations seen at `now`; wakes the engine if one is fresh.
    pub fn observe(&self, endpoint: &'static str, obs: Vec<Observation>, now: u64) {
        let (mut fresh, mut refreshed, mut full) = (0, 0, 0);
        let mut new = Vec::new();
        {
            let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
            for o in obs {
                match store.insert(o.clone(), now) {
                    Stored::Fresh => {
                        fresh += 1;
                        new.push(o);
                    }
                    Stored::Refreshed => refreshed += 1,
                    Stored::Full => full += 1,
                }
            }
            self.metrics
                .observations
                .set(i64::try_from(store.len()).unwrap_or(i64::MAX));
        }
        self.count(endpoint, "fresh", fresh);
        self.count(endpoint, "refreshed", refreshed);
        self.count(endpoint, "store_full", full);
        if fresh > 0 {
            let mut q = self.fresh.lock().unwrap_or_else(|e| e.into_inner());
            q.extend(new);
            while q.len() > MAX_FRESH {
                q.pop_front();
            }
            drop(q);
            self.wake.notify_one();
        }
    }

    /// The request-guard events since the last call, with when they came (for the dashboard).
    pub fn take_guard_events(&self) -> Vec<(u64, rampart_signals::guard::GuardEvent)> {
        self.guard_events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect()
    }

    /// The fresh observations since the last call (for the pod responder).
    pub fn take_fresh(&self) -> Vec<Observation> {
        self.fresh
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect()
    }

    /// Normalises a Falco request body and stores what it shows.
    pub fn take_falco(&self, body: &[u8], now: u64) -> Result<(), falco::FalcoError> {
        let batch = falco::parse_body(body)?;
        self.count("falco", "refused", batch.refused);
        let (mut irrelevant, mut unattributed) = (0, 0);
        let mut obs = Vec::with_capacity(batch.alerts.len());
        // Connection events are observed traffic too (NetworkPolicies from flows) — only those
        // a rule logs as information: an alert (`Notice` and above) says the connection is
        // suspect, and a suspect connection must never be allow-listed.
        let flows: Vec<rampart_netpol::Flow> = batch
            .alerts
            .iter()
            .filter(|a| {
                matches!(
                    a.priority,
                    falco::Priority::Informational | falco::Priority::Debug
                )
            })
            .filter_map(|a| {
                let f = &a.fields;
                rampart_netpol::falco::flow(
                    f.namespace.as_deref(),
                    f.pod.as_deref(),
                    f.fd_name.as_deref(),
                    &f.net,
                )
            })
            .collect();
        self.count("falco", "flows", flows.len());
        if !flows.is_empty() {
            self.flows.add(flows);
        }
        for a in &batch.alerts {
            match from_alert(a, &self.config.mapping) {
                Ok(o) => obs.push(o),
                Err(Unused::Irrelevant) => irrelevant += 1,
                Err(Unused::Unattributed) => unattributed += 1,
            }
        }
        self.count("falco", "irrelevant", irrelevant);
        self.count("falco", "unattributed", unattributed);
        self.observe("falco", obs, now);
        Ok(())
    }

    /// Filters an audit request body and stores the Secret reads it shows.
    pub fn take_audit(&self, body: &[u8], now: u64) -> Result<(), audit::AuditError> {
        let batch = audit::parse_body(body, &self.config.allow)?;
        for d in Drop::ALL {
            self.count("audit", d.as_str(), batch.dropped(d));
        }
        self.observe("audit", batch.reads.iter().map(from_read).collect(), now);
        Ok(())
    }

    /// Reads a request-guard event body and stores what it shows.
    pub fn take_guard(
        &self,
        body: &[u8],
        now: u64,
    ) -> Result<(), rampart_signals::guard::GuardEventError> {
        let batch = rampart_signals::guard::parse_body(body)?;
        self.count("guard", "refused", batch.refused);
        {
            let mut q = self.guard_events.lock().unwrap_or_else(|e| e.into_inner());
            q.extend(batch.events.iter().map(|e| (now, e.clone())));
            while q.len() > crate::guard_page::MAX_ALERTS {
                q.pop_front();
            }
        }
        self.observe(
            "guard",
            batch
                .events
                .iter()
                .map(rampart_signals::guard::observation)
                .collect(),
            now,
        );
        Ok(())
    }

    /// The bearer token, or a client certificate the TLS layer verified against the client CA.
    fn authorized(&self, headers: &HeaderMap, verified_client: bool) -> bool {
        verified_client || self.token.as_ref().is_none_or(|t| t.bearer(headers))
    }

    /// Periodic upkeep: forgets rate-limit state of peers gone quiet (the map would otherwise
    /// grow with every address ever seen).
    pub fn housekeeping(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The ingest router. Serve it with the peer address in the request extensions
/// (`into_make_service_with_connect_info::<SocketAddr>()`, or the TLS server, which adds it).
/// `endpoints` names the routes served: `falco`, `audit`, `guard`, `flows`.
pub fn router(state: Arc<Ingest>, endpoints: &[&str]) -> Router {
    let mut r = Router::new();
    if endpoints.contains(&"falco") {
        r = r.route("/falco", post(falco_handler));
    }
    if endpoints.contains(&"audit") {
        r = r.route("/audit", post(audit_handler));
    }
    if endpoints.contains(&"guard") {
        r = r.route("/guard", post(guard_handler));
    }
    if endpoints.contains(&"flows") {
        r = r.route("/flows", post(flows_handler));
    }
    // Responses quote what was refused: never to be sniffed as HTML by a browser.
    r.with_state(state).layer(axum::middleware::map_response(
        crate::dashboard::security_headers,
    ))
}

/// Longest time a client may take to send its body.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn falco_handler(
    State(s): State<Arc<Ingest>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    // A client certificate authenticates the API server's audit webhook only; Falco (and
    // falcosidekick) send the token.
    handle(&s, "falco", peer, false, &headers, body, |s, b, now| {
        s.take_falco(b, now)
            .map_err(|e| rampart_model::redact_excerpt(&e.to_string()))
    })
    .await
}

async fn guard_handler(
    State(s): State<Arc<Ingest>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    // `rampart learner` sends the token.
    handle(&s, "guard", peer, false, &headers, body, |s, b, now| {
        s.take_guard(b, now)
            .map_err(|e| rampart_model::redact_excerpt(&e.to_string()))
    })
    .await
}

async fn flows_handler(
    State(s): State<Arc<Ingest>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    // Hubble's exporter (through a forwarder) and scripts send the token, as Falco does.
    handle(&s, "flows", peer, false, &headers, body, |s, b, _| {
        let (flows, malformed) = s
            .flows
            .take(b)
            .map_err(|e| rampart_model::redact_excerpt(&e))?;
        s.count("flows", "flow", flows as usize);
        s.count("flows", "malformed", malformed as usize);
        Ok(())
    })
    .await
}

async fn audit_handler(
    State(s): State<Arc<Ingest>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    client: Option<axum::Extension<crate::serve::VerifiedClient>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    handle(
        &s,
        "audit",
        peer,
        client.is_some(),
        &headers,
        body,
        |s, b, now| {
            s.take_audit(b, now)
                .map_err(|e| rampart_model::redact_excerpt(&e.to_string()))
        },
    )
    .await
}

/// Rate limit, token and in-flight bound come first: nothing of an unauthorised request's body
/// is read. Then the body, bounded in size and time.
#[allow(clippy::too_many_arguments)]
async fn handle(
    s: &Ingest,
    endpoint: &'static str,
    peer: SocketAddr,
    verified_client: bool,
    headers: &HeaderMap,
    body: axum::body::Body,
    take: impl FnOnce(&Ingest, &[u8], u64) -> Result<(), String>,
) -> Response {
    let done = |outcome: &'static str, status: StatusCode, msg: String| {
        s.metrics
            .requests
            .get_or_create(&RequestLabels { endpoint, outcome })
            .inc();
        (status, msg).into_response()
    };
    if s.limiter.check_key(&peer_key(peer)).is_err() {
        return done(
            "rate_limited",
            StatusCode::TOO_MANY_REQUESTS,
            "rate limited\n".into(),
        );
    }
    if !s.authorized(headers, verified_client) {
        return done(
            "unauthorized",
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (or no verified client certificate)\n".into(),
        );
    }
    let Ok(_permit) = s.in_flight.try_acquire() else {
        return done(
            "busy",
            StatusCode::SERVICE_UNAVAILABLE,
            "too many requests in flight\n".into(),
        );
    };
    let max = s.config.max_body;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return done(
            "too_large",
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body over {max} bytes\n"),
        );
    }
    let body = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, max)).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|x| x.is::<http_body_util::LengthLimitError>());
            return if too_large {
                done(
                    "too_large",
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("body over {max} bytes\n"),
                )
            } else {
                done("malformed", StatusCode::BAD_REQUEST, format!("{e}\n"))
            };
        }
        Err(_) => {
            return done(
                "timeout",
                StatusCode::REQUEST_TIMEOUT,
                "body not received in time\n".into(),
            );
        }
    };
    let t = Instant::now();
    let r = take(s, &body, now());
    s.metrics
        .decision_seconds
        .observe(t.elapsed().as_secs_f64());
    match r {
        Ok(()) => done("ok", StatusCode::OK, String::new()),
        Err(e) => done("malformed", StatusCode::BAD_REQUEST, format!("{e}\n")),
    }
}

/// The rate limit's key: the address, or an IPv6 peer's /64 (one host owns a whole /64).
fn peer_key(peer: SocketAddr) -> IpAddr {
    match peer.ip() {
        IpAddr::V6(v6) => {
            let mut o = v6.octets();
            o[8..].fill(0);
            IpAddr::V6(std::net::Ipv6Addr::from(o))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(verdict: &str, reason: &str, port: u16) -> String {
        format!(
            r#"{{"flow":{{"verdict":"{verdict}","drop_reason_desc":"{reason}","IP":{{"source":"10.0.0.1","destination":"10.0.0.2"}},"l4":{{"TCP":{{"source_port":40000,"destination_port":{port}}}}},"source":{{"namespace":"a","pod_name":"x"}},"destination":{{"namespace":"a","pod_name":"y"}}}}}}"#
        )
    }

    /// Policy drops are kept for the rollout, the newest [`MAX_DROPS`]; other drops and passed
    /// flows are not.
    #[test]
    fn policy_drops_are_queued_bounded() {
        let sink = FlowSink::default();
        let mut body = String::new();
        for port in 1..=(MAX_DROPS as u16 + 5) {
            body.push_str(&line("DROPPED", "POLICY_DENIED", port));
            body.push('\n');
        }
        body.push_str(&line("DROPPED", "CT_MAP_INSERTION_FAILED", 9));
        body.push('\n');
        body.push_str(&line("FORWARDED", "", 9));
        body.push('\n');
        assert_eq!(sink.take(body.as_bytes()), Ok((MAX_DROPS as u64 + 7, 0)));
        let drops = sink.take_drops();
        assert_eq!(drops.len(), MAX_DROPS);
        assert_eq!(drops[0].dst_port, 6, "the oldest went first");
        assert!(sink.take_drops().is_empty(), "taken once");
        sink.take(line("DROPPED", "POLICY_DENIED", 7).as_bytes())
            .unwrap();
        assert_eq!(sink.take_drops().len(), 1);
    }
}
