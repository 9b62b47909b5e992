//! The proxy handler and the gate's state.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rampart_api::{GuardMode, Guardian};
use rampart_guard::exchange::{self, Exchange};
use rampart_guard::{Decision, Judge, Origin, ServicePile, decide, hash, learn};

use crate::body::{Chained, decode, read_prefix};
use crate::metrics::{AlertLabels, DecisionLabels, GateMetrics};

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
}

/// The gate's state, shared by every connection.
pub struct Gate {
    config: Config,
    judge: RwLock<Arc<Judge>>,
    pile: Mutex<ServicePile>,
    guardian: Mutex<Guardian>,
    client: Client<HttpConnector, Chained>,
    metrics: GateMetrics,
    id_prefix: String,
    next_id: AtomicU64,
    pod_alert: AtomicBool,
    learned_since: AtomicU64,
    peer_readings: AtomicU64,
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
    pub fn new(config: Config, metrics: GateMetrics, seed: u64) -> Arc<Gate> {
        let spec = &config.guardian.spec;
        let judge = Judge::new(spec.learned.as_ref(), spec.configured.as_ref());
        metrics.routes.set(routes(&config.guardian));
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(256)
            .build(connector);
        Arc::new(Gate {
            guardian: Mutex::new(config.guardian.clone()),
            config,
            judge: RwLock::new(Arc::new(judge)),
            pile: Mutex::new(ServicePile::default()),
            client,
            metrics,
            id_prefix: format!("{:08x}", seed as u32),
            next_id: AtomicU64::new(0),
            pod_alert: AtomicBool::new(false),
            learned_since: AtomicU64::new(0),
            peer_readings: AtomicU64::new(0),
        })
    }

    fn mode(&self) -> (GuardMode, bool, bool) {
        let g = self
            .guardian
            .lock()
            .map(|g| g.spec.control.clone())
            .unwrap_or_default();
        (
            g.mode,
            g.learn || g.mode == GuardMode::Learn,
            g.learn_alerted,
        )
    }

    /// Switches the mode (`learn` → `alert` → `block` as confidence grows).
    pub fn set_mode(&self, mode: GuardMode) {
        if let Ok(mut g) = self.guardian.lock() {
            g.spec.control.mode = mode;
        }
    }

    /// Requests learned since the last [`Gate::relearn`].
    pub fn pending(&self) -> u64 {
        self.learned_since.load(Ordering::Relaxed)
    }

    /// Learns criteria from everything piled so far and puts them in force; returns the
    /// Guardian as it now stands (to be written where the operator asked).
    pub fn relearn(&self) -> Guardian {
        self.learned_since.store(0, Ordering::Relaxed);
        let Ok(mut g) = self.guardian.lock() else {
            return self.config.guardian.clone();
        };
        let pile = self.pile.lock().map(|p| p.clone()).unwrap_or_default();
        let criteria = learn::learn(&pile, &g.spec.control);
        g.spec.samples = learn::samples(&pile).max(g.spec.samples);
        g.spec.learned = Some(criteria);
        let judge = Judge::new(g.spec.learned.as_ref(), g.spec.configured.as_ref());
        if let Ok(mut j) = self.judge.write() {
            *j = Arc::new(judge);
        }
        self.metrics.routes.set(routes(&g));
        g.clone()
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
            .and_then(|g| g.spec.learned.as_ref().map(|c| c.peers.clone()))
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
            if let Ok(mut p) = self.pile.lock() {
                p.observe_peers(peers, o);
            }
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

    fn count(&self, decision: &'static str) {
        self.metrics
            .requests
            .get_or_create(&DecisionLabels {
                service: self.config.service.clone(),
                decision,
            })
            .inc();
    }
}

fn routes(g: &Guardian) -> i64 {
    g.spec.learned.as_ref().map_or(0, |c| c.routes.len() as i64)
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
        gate.count("block");
        return blocked(&id);
    }
    let (mut parts, mut body) = req.into_parts();
    let upgrade = parts.headers.contains_key(header::UPGRADE);
    let prefix = match read_prefix(&mut body, gate.config.body_cap).await {
        Ok(p) => p,
        Err(_) => {
            gate.count("error");
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
    let route = verdict.route.clone().unwrap_or_else(|| "unknown".into());
    if decision != Decision::Pass {
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
        tracing::warn!(
            request_id = %id,
            service = %gate.config.service,
            route = %route,
            decision = decision.as_str(),
            reasons = %reasons.join("; "),
            "request broke the learned criteria"
        );
    }
    gate.count(decision.as_str());
    if decision == Decision::Block {
        return blocked(&id);
    }
    let origin = Origin {
        session: hash::stable(peer.to_string().as_bytes()),
        client: hash::stable(client.to_string().as_bytes()),
        request: hash::stable(id.as_bytes()),
    };
    let learn_this = learning && (verdict.passed() || learn_alerted || mode == GuardMode::Learn);

    // Forward.
    let on_upgrade = upgrade.then(|| hyper::upgrade::on(parts_request(&mut parts)));
    let Ok(uri) = Uri::builder()
        .scheme("http")
        .authority(gate.config.upstream.to_string())
        .path_and_query(parts.uri.path_and_query().map_or("/", |p| p.as_str()))
        .build()
    else {
        return plain(StatusCode::BAD_REQUEST, "bad request target\n");
    };
    let mut out = hyper::Request::builder()
        .method(parts.method.clone())
        .uri(uri)
        .version(hyper::Version::HTTP_11);
    let headers = out.headers_mut();
    if let Some(h) = headers {
        forward_headers(&parts.headers, h, peer.ip(), &id, upgrade);
    }
    let rest = (!prefix.complete).then_some(body);
    let Ok(out) = out.body(Chained::new(prefix.bytes.clone(), rest)) else {
        return plain(StatusCode::BAD_REQUEST, "bad request\n");
    };
    let started = Instant::now();
    let resp = match gate.client.request(out).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(request_id = %id, "upstream unreachable: {e}");
            gate.count("error");
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
        let extracted_resp = exchange::extract_response(&resp_ex);
        if let Ok(mut p) = gate.pile.lock() {
            p.observe(&extracted, Some(&extracted_resp), Some(client), origin);
        }
        gate.learned_since.fetch_add(1, Ordering::Relaxed);
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

fn forward_headers(from: &HeaderMap, to: &mut HeaderMap, peer: IpAddr, id: &str, upgrade: bool) {
    for (k, v) in from {
        let name = k.as_str();
        if HOP_BY_HOP.contains(&name) && !(upgrade && (name == "upgrade" || name == "connection")) {
            continue;
        }
        if name == "x-forwarded-for" || name == "x-request-id" {
            continue;
        }
        to.append(k.clone(), v.clone());
    }
    let xff = match from.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {peer}"),
        None => peer.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        to.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    if !to.contains_key("x-forwarded-proto") {
        to.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("http"),
        );
    }
    if let Some(host) = from.get(header::HOST).cloned()
        && !to.contains_key("x-forwarded-host")
    {
        to.insert(HeaderName::from_static("x-forwarded-host"), host);
    }
    if let Ok(v) = HeaderValue::from_str(id) {
        to.insert(HeaderName::from_static("x-request-id"), v);
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
