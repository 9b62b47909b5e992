//! The engine's read-only surfaces: `GET /findings` (the scan contract plus the latest change
//! report), `GET /` (the dashboard), its JSON (`/api/summary`, `/api/entries`, `/api/chains`,
//! `/api/graph`, `/api/mitigations`: [`explorer`]), `GET /metrics`, `GET /healthz`.
//! Everything shown comes from the cluster and is attacker-controlled (names, labels): the HTML
//! escapes every string, shows control and bidi characters as visible `⟨U+202E⟩` markers, the
//! script sets text only, and the page runs no inline script or style under a strict
//! Content-Security-Policy (see [`SECURITY_HEADERS`]).

pub mod explorer;
mod metrics;
mod page;

pub use metrics::*;
pub use page::render;

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

use explorer::{Explorer, Filter};

/// Makes the findings document when it is first asked for.
pub type MakeFindings = Box<dyn FnOnce() -> Vec<u8> + Send + Sync>;

/// The findings document of the latest re-proof: serialized when first asked for, then
/// served as is (a reference-count bump). Most re-proofs of a busy cluster are never read, and
/// the document is large (7.5 MB at 10k pods, 130 MB at 50k on a policy-dense cluster).
#[derive(Default)]
struct Findings {
    /// The document, gzip-compressed: kept between requests, it is ~10× smaller so (7.5 MB of
    /// JSON at 10k pods, 130 MB at 50k), and browsers take it as it is.
    gzip: axum::body::Bytes,
    pending: Option<MakeFindings>,
    /// The page's index of it, made when the page first asks.
    view: Option<Arc<Explorer>>,
}

impl Findings {
    fn current(&mut self) -> axum::body::Bytes {
        if let Some(make) = self.pending.take() {
            self.gzip = axum::body::Bytes::from(gzip(&make()));
        }
        self.gzip.clone()
    }

    fn view(&mut self) -> Arc<Explorer> {
        if let Some(v) = &self.view {
            return v.clone();
        }
        let doc = serde_json::from_slice(&gunzip(&self.current())).unwrap_or(Value::Null);
        let v = Arc::new(Explorer::new(doc));
        self.view = Some(v.clone());
        v
    }

    fn published(&self) -> bool {
        self.pending.is_some() || !self.gzip.is_empty()
    }
}

/// `json` gzip-compressed (the fastest level: the document is made once per re-proof that is
/// asked for, and mostly repeated keys).
fn gzip(json: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    if json.is_empty() {
        return Vec::new();
    }
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 8),
        flate2::Compression::fast(),
    );
    // Writing to a vector cannot fail.
    e.write_all(json)
        .and_then(|()| e.finish())
        .unwrap_or_default()
}

/// The JSON of a document [`gzip`] made.
fn gunzip(gz: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::with_capacity(gz.len() * 8);
    match flate2::read::GzDecoder::new(gz).read_to_end(&mut out) {
        Ok(_) => out,
        // Only what `gzip` made is read here.
        Err(_) => Vec::new(),
    }
}

impl std::fmt::Debug for Findings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Findings")
            .field("gzip bytes", &self.gzip.len())
            .field("pending", &self.pending.is_some())
            .field("view", &self.view.is_some())
            .finish()
    }
}

/// What the dashboard serves.
#[derive(Debug, Default)]
pub struct DashboardState {
    /// The scan contract of the latest analysis plus `report` (the latest change report).
    findings_json: std::sync::Mutex<Findings>,
    /// `{"generation", "chains"}`: a cheap progress probe.
    status: RwLock<Value>,
    /// Why the engine is not ready (empty: ready once findings exist).
    waiting: RwLock<Vec<String>>,
    /// Metrics.
    pub metrics: EngineMetrics,
    /// The request guard's pages: Guardians and gates' recent alerts.
    pub guard: RwLock<crate::guard_page::GuardView>,
    /// Mitigations waiting for approval (`{namespace, name, uid, reason, expires_at}`).
    pub pending: RwLock<Vec<Value>>,
    /// Every Mitigation of the ledger (`{namespace, name, phase, action, target, chains,
    /// reason, expires_at, proposed_at, applied_at, ended_at, message, owns}`), where this
    /// replica acts; empty offline.
    pub ledger: RwLock<Vec<Value>>,
    /// Approves a Pending mitigation; set only when the dashboard is behind a token.
    pub approver: std::sync::OnceLock<Approver>,
    /// The latest NetworkPolicy plan from observed flows (`rampart.dev/netpol-plan/v1`), when
    /// flows are collected.
    pub netpol: RwLock<Option<Arc<Value>>>,
    /// Where the `netpol` rollout stands (`GET /netpol`'s `rollout`), once the leader looked.
    pub netpol_rollout: RwLock<Option<Value>>,
    /// Where the manifests' files can be browsed: their `file:line` become links.
    pub source_links: std::sync::OnceLock<explorer::SourceLinks>,
}

/// One approval asked for from the dashboard.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The Mitigation's namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its UID (a same-named successor is never approved by mistake).
    pub uid: String,
}

/// What approving does (the engine patches `spec.approved`); its error in words.
pub struct Approver(
    #[allow(clippy::type_complexity)]
    pub  Arc<
        dyn Fn(
                Approval,
            )
                -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
            + Send
            + Sync,
    >,
);

impl std::fmt::Debug for Approver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Approver")
    }
}

impl DashboardState {
    /// Publishes new findings: the serialized document, its generation and chain count.
    pub fn set_findings(&self, json: Vec<u8>, generation: u64, chains: usize) {
        if let Ok(mut j) = self.findings_json.lock() {
            *j = Findings {
                gzip: axum::body::Bytes::from(gzip(&json)),
                pending: None,
                view: None,
            };
        }
        self.set_status(generation, chains);
    }

    /// Publishes new findings made when first asked for (the previous document is dropped at
    /// once), with their generation and chain count.
    pub fn set_findings_with(&self, make: MakeFindings, generation: u64, chains: usize) {
        if let Ok(mut j) = self.findings_json.lock() {
            *j = Findings {
                gzip: axum::body::Bytes::new(),
                pending: Some(make),
                view: None,
            };
        }
        self.set_status(generation, chains);
    }

    fn set_status(&self, generation: u64, chains: usize) {
        if let Ok(mut st) = self.status.write() {
            *st = serde_json::json!({"generation": generation, "chains": chains});
        }
    }

    /// The findings document (gzip-compressed), made now if the latest re-proof's was not
    /// asked for yet.
    fn findings_gzip(&self) -> axum::body::Bytes {
        self.findings_json
            .lock()
            .map(|mut f| f.current())
            .unwrap_or_default()
    }

    /// Says why there are no (current) findings: what cannot be read, what is not listed yet.
    /// Empty once every kind is read.
    pub fn set_waiting(&self, reasons: Vec<String>) {
        if let Ok(mut w) = self.waiting.write() {
            *w = reasons;
        }
    }

    /// Whether findings exist and nothing is in the way; else the reasons.
    pub fn readiness(&self) -> Result<(), Vec<String>> {
        let waiting = self.waiting.read().map(|w| w.clone()).unwrap_or_default();
        let published = self.findings_json.lock().is_ok_and(|f| f.published());
        match (published, waiting.is_empty()) {
            (true, true) => Ok(()),
            (false, true) => Err(vec!["no findings yet: listing the cluster".into()]),
            _ => Err(waiting),
        }
    }

    /// The findings as a JSON value (parsed on demand).
    pub fn findings(&self) -> Value {
        serde_json::from_slice(&gunzip(&self.findings_gzip())).unwrap_or(Value::Null)
    }

    /// The dashboard's index of the latest findings (made once per published document).
    pub fn explorer(&self) -> Arc<Explorer> {
        match self.findings_json.lock() {
            Ok(mut f) => f.view(),
            Err(_) => Arc::new(Explorer::new(Value::Null)),
        }
    }

    fn ledger_rows(&self) -> Vec<Value> {
        self.ledger.read().map(|l| l.clone()).unwrap_or_default()
    }
}

/// The router. Every response, whatever the route (404s included), gets [`SECURITY_HEADERS`],
/// and `Cache-Control: no-store` unless the route set its own (the static assets).
pub fn router(state: Arc<DashboardState>) -> Router {
    Router::new()
        .route("/", get(page))
        .route(
            "/assets/cytoscape.min.js",
            get(|| async { asset(JS, CYTOSCAPE) }),
        )
        .route(
            "/assets/dashboard.js",
            get(|| async { asset(JS, DASHBOARD_JS) }),
        )
        .route(
            "/assets/dashboard.css",
            get(|| async { asset("text/css; charset=utf-8", DASHBOARD_CSS) }),
        )
        .route("/assets/guard.js", get(|| async { asset(JS, GUARD_JS) }))
        .route(
            "/assets/favicon.svg",
            get(|| async { asset("image/svg+xml", FAVICON) }),
        )
        .route(
            "/favicon.ico",
            get(|| async { asset("image/svg+xml", FAVICON) }),
        )
        .route("/guard", get(guard_list))
        .route("/guard/{ns}/{name}", get(guard_service))
        .route("/findings", get(findings))
        .route("/api/summary", get(api_summary))
        .route("/api/entries", get(api_entries))
        .route("/api/chains", get(api_chains))
        .route("/api/graph", get(api_graph))
        .route("/api/mitigations", get(api_mitigations))
        .route("/netpol", get(netpol))
        .route("/approve", axum::routing::post(approve))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

/// The page's Content-Security-Policy, sent with every response (a JSON document opened in a
/// tab is a page too): scripts, styles and fetches from this origin only — no inline script,
/// no inline style, no `eval` — no plugins, no `<base>`, no forms, and no framing (clickjacking).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     object-src 'none'; frame-ancestors 'none'";

/// Headers on every response: the CSP; `nosniff`, so that a browser never reads cluster text
/// served as JSON or plain text as HTML or script; no framing for older browsers; no referrer
/// (the dashboard's URL may carry a token).
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
];

/// Adds [`SECURITY_HEADERS`] (and `Cache-Control: no-store` where the handler set no caching)
/// to a response: `axum::middleware::map_response(security_headers)` as a router's outermost
/// layer. Public so that the other listeners' routers can share it.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    // Findings, status and metrics describe the cluster now and name its weak points: no
    // browser or proxy keeps a copy. Only the static assets say otherwise.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Cytoscape.js, vendored (see `assets/SOURCE.md`): the graph renders with no CDN.
const CYTOSCAPE: &str = include_str!("../../assets/cytoscape.min.js");
/// The dashboard's own script.
const DASHBOARD_JS: &str = include_str!("../../assets/dashboard.js");
/// The request-guard page's editor.
const GUARD_JS: &str = include_str!("../../assets/guard.js");
/// The dashboard's styles (a file: the CSP allows no inline style).
const DASHBOARD_CSS: &str = include_str!("../../assets/dashboard.css");
const JS: &str = "text/javascript; charset=utf-8";
/// The tab's icon (a browser asks for one; a 404 would be a console error on every load).
const FAVICON: &str = include_str!("../../assets/favicon.svg");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn findings(State(s): State<Arc<DashboardState>>, headers: header::HeaderMap) -> Response {
    let takes_gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            // `gzip;q=0` refuses it.
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        });
    // Serializing (and compressing) a large cluster's findings takes a while: off the async
    // workers, and so is decompressing them for a client that takes no gzip.
    let state = s.clone();
    let body = tokio::task::spawn_blocking(move || {
        let gz = state.findings_gzip();
        if takes_gzip || gz.is_empty() {
            gz
        } else {
            axum::body::Bytes::from(gunzip(&gz))
        }
    })
    .await
    .unwrap_or_default();
    if body.is_empty() {
        // No analysis yet: say why, never a bare `null`.
        let reasons = s.readiness().err().unwrap_or_default();
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"ready": false, "reasons": reasons})),
        )
            .into_response();
    }
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::VARY,
        header::HeaderValue::from_static("accept-encoding"),
    );
    if takes_gzip {
        h.insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static("gzip"),
        );
    }
    response
}

async fn status(State(s): State<Arc<DashboardState>>) -> Response {
    let mut v = s.status.read().map(|v| v.clone()).unwrap_or(Value::Null);
    if !v.is_object() {
        v = serde_json::json!({"generation": 0, "chains": 0});
    }
    let readiness = s.readiness();
    v["ready"] = readiness.is_ok().into();
    if let Err(reasons) = readiness {
        v["reasons"] = reasons.into();
    }
    axum::Json(v).into_response()
}

/// 200 once findings exist and every kind is read; 503 with the reasons otherwise.
async fn readyz(State(s): State<Arc<DashboardState>>) -> Response {
    match s.readiness() {
        Ok(()) => "ok".into_response(),
        Err(reasons) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready:\n{}\n", reasons.join("\n")),
        )
            .into_response(),
    }
}

async fn metrics(State(s): State<Arc<DashboardState>>) -> Response {
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &s.metrics.registry).is_err() {
        out.clear();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// HTML-escapes untrusted text ([`rampart_report::text::html`]).
pub use rampart_report::text::html as escape;

async fn guard_list(State(s): State<Arc<DashboardState>>) -> Html<String> {
    let v = s.guard.read().unwrap_or_else(|e| e.into_inner());
    Html(crate::guard_page::list(&v))
}

async fn guard_service(
    State(s): State<Arc<DashboardState>>,
    axum::extract::Path((ns, name)): axum::extract::Path<(String, String)>,
) -> Response {
    let v = s.guard.read().unwrap_or_else(|e| e.into_inner());
    match crate::guard_page::service(&v, &ns, &name) {
        Some(page) => Html(page).into_response(),
        None => (StatusCode::NOT_FOUND, "no such Guardian\n").into_response(),
    }
}

/// The query of the page and `/api/entries`, `/api/chains`: the explorer's filters. A
/// malformed one is a 400 saying what is wrong.
fn filter_of(q: Result<Query<Filter>, QueryRejection>) -> Result<Filter, String> {
    let Query(f) = q.map_err(|e| e.body_text())?;
    f.checked().map_err(|e| e.to_string())
}

fn bad_request(why: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response()
}

/// The index of the latest findings, made off the async workers (the first request after a
/// re-proof reads the whole document).
async fn view(s: &Arc<DashboardState>) -> Arc<Explorer> {
    let state = s.clone();
    tokio::task::spawn_blocking(move || state.explorer())
        .await
        .unwrap_or_else(|_| Arc::new(Explorer::new(Value::Null)))
}

async fn page(
    State(s): State<Arc<DashboardState>>,
    q: Result<Query<Filter>, QueryRejection>,
) -> Response {
    let filter = match filter_of(q) {
        Ok(f) => f,
        Err(why) => return bad_request(&why),
    };
    let pending = s.pending.read().map(|p| p.clone()).unwrap_or_default();
    let can_approve = s.approver.get().is_some();
    let plan = s.netpol.read().ok().and_then(|p| p.clone());
    let rollout = s.netpol_rollout.read().ok().and_then(|r| r.clone());
    let mut extra = String::new();
    if let Some(plan) = plan {
        crate::netpol_page::section(&mut extra, &plan, rollout.as_ref());
    }
    let view = view(&s).await;
    let ledger = s.ledger_rows();
    Html(page::page(&page::PageInput {
        view: &view,
        filter: &filter,
        ledger: &ledger,
        pending: &pending,
        can_approve,
        extra: &extra,
        source: s.source_links.get(),
    }))
    .into_response()
}

/// `GET /api/summary`: the overview ([`explorer::Summary`]).
async fn api_summary(State(s): State<Arc<DashboardState>>) -> Response {
    let view = view(&s).await;
    axum::Json(view.summary(&s.ledger_rows())).into_response()
}

/// `GET /api/entries?namespace=&target=&confidence=&edge=&q=`: the entries with matching
/// chains ([`explorer::Matches`]).
async fn api_entries(
    State(s): State<Arc<DashboardState>>,
    q: Result<Query<Filter>, QueryRejection>,
) -> Response {
    match filter_of(q) {
        Ok(f) => axum::Json(view(&s).await.matches(&f)).into_response(),
        Err(why) => bad_request(&why),
    }
}

/// `GET /api/chains?entry=KEY&…filters`: one entry's matching chains, as in `/findings`, each
/// with `broken_by` ([`explorer::EntryChains`]).
async fn api_chains(
    State(s): State<Arc<DashboardState>>,
    q: Result<Query<Filter>, QueryRejection>,
) -> Response {
    let f = match filter_of(q) {
        Ok(f) => f,
        Err(why) => return bad_request(&why),
    };
    if f.entry.is_none() {
        return bad_request("entry=KEY is required");
    }
    match view(&s).await.chains(&f) {
        Ok(c) => axum::Json(c).into_response(),
        Err(e) => (StatusCode::NOT_FOUND, format!("{e}\n")).into_response(),
    }
}

/// `GET /api/graph[?entry=KEY&entry=KEY…]`: the named entries' chains as a graph, or the
/// nearest entries' that fit ([`explorer::Graph`]).
async fn api_graph(
    State(s): State<Arc<DashboardState>>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(Query(pairs)) = q else {
        return bad_request("expected entry=KEY pairs");
    };
    let mut entries = Vec::new();
    for (k, v) in pairs {
        if k != "entry" {
            return bad_request(&format!("unknown parameter {k:?}"));
        }
        if v.len() > explorer::MAX_FILTER_LEN {
            return bad_request("entry key too long");
        }
        entries.push(v);
    }
    match view(&s).await.graph(&entries) {
        Ok(g) => axum::Json(g).into_response(),
        Err(e @ explorer::ViewError::TooManyEntries) => bad_request(&e.to_string()),
        Err(e) => (StatusCode::NOT_FOUND, format!("{e}\n")).into_response(),
    }
}

/// `GET /api/mitigations`: the ledger, approvals waiting, the action bar's verdicts on the
/// minimal cut (in words; shadow mode: "would apply"), the arming ladder and break-glass.
async fn api_mitigations(State(s): State<Arc<DashboardState>>) -> Response {
    let view = view(&s).await;
    let ledger = s.ledger_rows();
    let summary = view.summary(&ledger);
    let pending = s.pending.read().map(|p| p.clone()).unwrap_or_default();
    axum::Json(serde_json::json!({
        "ledger": ledger,
        "by_phase": summary.mitigations,
        "pending": pending,
        "cut": summary.cut,
        "arming": view.doc()["arming"],
        "break_glass": view.doc()["break_glass"],
    }))
    .into_response()
}

/// `GET /netpol`: the latest NetworkPolicy plan from observed flows, as JSON
/// (`rampart.dev/netpol-plan/v1`); 404 while no flows have been planned for.
async fn netpol(State(s): State<Arc<DashboardState>>) -> Response {
    match s.netpol.read().ok().and_then(|p| p.clone()) {
        Some(plan) => {
            let mut v = plan.as_ref().clone();
            if let Some(r) = s.netpol_rollout.read().ok().and_then(|r| r.clone()) {
                v["rollout"] = r;
            }
            axum::Json(v).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            "no NetworkPolicy plan: no flows observed yet (engine --flows-file, or POST /flows on the ingest listener)\n",
        )
            .into_response(),
    }
}

/// The header a browser cannot send cross-site without a CORS preflight the dashboard never
/// answers: an approval forged by another site's form or image fails here.
const APPROVE_HEADER: &str = "x-rampart-approve";

/// `POST /approve` `{namespace, name, uid}`: approves a Pending mitigation. Only with a
/// dashboard token (the router is behind it then) and the [`APPROVE_HEADER`].
async fn approve(
    State(s): State<Arc<DashboardState>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(approver) = s.approver.get() else {
        return (
            StatusCode::FORBIDDEN,
            "approving from the dashboard needs --dashboard-token-file (and an engine that writes)\n",
        )
            .into_response();
    };
    if headers.get(APPROVE_HEADER).is_none() {
        return (
            StatusCode::FORBIDDEN,
            "approvals need the X-Rampart-Approve header\n",
        )
            .into_response();
    }
    if body.len() > 4096 {
        return (StatusCode::PAYLOAD_TOO_LARGE, "too large\n").into_response();
    }
    let a: Approval = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("expected {{\"namespace\", \"name\", \"uid\"}}: {e}\n"),
            )
                .into_response();
        }
    };
    match (approver.0)(a).await {
        Ok(()) => axum::Json(serde_json::json!({"approved": true})).into_response(),
        Err(e) => (StatusCode::CONFLICT, format!("{e}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn findings_are_serialized_once_when_first_asked_for() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let made = Arc::new(AtomicUsize::new(0));
        let s = DashboardState::default();
        assert!(s.readiness().is_err(), "nothing published yet");
        let counter = made.clone();
        s.set_findings_with(
            Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                br#"{"chains": [1, 2]}"#.to_vec()
            }),
            7,
            2,
        );
        // Ready and counted before anyone asks: nothing serialized yet.
        assert!(s.readiness().is_ok());
        assert_eq!(made.load(Ordering::SeqCst), 0);
        assert_eq!(s.findings()["chains"][1], 2);
        assert_eq!(gunzip(&s.findings_gzip()), br#"{"chains": [1, 2]}"#);
        assert_eq!(made.load(Ordering::SeqCst), 1, "made once, then served");
        // The next re-proof replaces it.
        s.set_findings(b"{}".to_vec(), 8, 0);
        assert_eq!(gunzip(&s.findings_gzip()), b"{}");
    }

    #[test]
    fn the_ladder_s_evidence_and_pending_approvals_are_shown_escaped() {
        let f = json!({"arming": {"window_seconds": 604_800, "history": {"network": {
                "would_act": 3, "open": 1, "expired": 1, "obsolete": 0, "false_alarms": 1,
                "examples": [{"fix": "apply NetworkPolicy app/<x>", "held": "shadow", "outcome": "false"}]}}},
            "pending": [{"namespace": "app", "name": "m1", "uid": "u\"1", "reason": "deny <db>",
                         "expires_at": "2026-12-06T15:00:00Z"}],
            "can_approve": true});
        let html = render(&f);
        assert!(html.contains("Held back (last 7 days)"), "{html}");
        assert!(
            html.contains("<td>network</td><td>3</td><td>1</td><td>1</td><td>0</td><td>1</td>")
        );
        assert!(html.contains("app/&lt;x&gt; (shadow, false)"));
        assert!(html.contains("data-uid=\"u&quot;1\"") && html.contains("deny &lt;db&gt;"));
        let without = render(&json!({"pending": f["pending"].clone(), "can_approve": false}));
        assert!(
            !without.contains("class=\"approve\""),
            "no button without a token"
        );
    }

    #[test]
    fn break_glass_shows_in_red_with_its_hands_escaped() {
        let off = render(&json!({"break_glass": {"engaged": false}}));
        assert!(!off.contains("class=\"break-glass\""));
        let on = render(&json!({"break_glass": {"engaged": true, "revert_all": true,
            "hands": [{"name": "rampart", "set_by": "alice<b>", "since": "2026-12-06T10:00:00Z",
                       "reason": "incident 42", "revert_all": true}]}}));
        assert!(on.contains("class=\"break-glass\" role=\"alert\""), "{on}");
        assert!(on.contains("alice&lt;b&gt;") && on.contains("incident 42"));
        assert!(on.contains("withdraws every active mitigation"));
    }

    #[test]
    fn attacker_controlled_strings_are_escaped() {
        let f = json!({"chains": [{"id": "chain-1", "confidence": "proven",
            "entry": {"kind": "Service", "namespace": "app", "name": "<script>alert(1)</script>"},
            "target": {"kind": "Secret", "namespace": "app", "name": "db\"><img src=x>"},
            "steps": [{"edge": "routes-to", "to": {"kind": "Pod", "namespace": "app", "name": "web&co"}}]}],
            "cuts": [{"id": "cut-1", "breaks": ["chain-1"], "cost": 1, "action": "live",
                      "edge": "routes-to", "from": "a", "to": "b", "fix": "apply NetworkPolicy app/<b>"}],
            "report": {"decisions": [{"cut": "cut-1", "fix": "apply NetworkPolicy app/<b>", "decision": "propose: ClassDisabled"}]}});
        let html = render(&f);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img src=x>"));
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("class=\"entry\"") && html.contains("class=\"cut-item\""));
        assert!(
            html.contains("apply NetworkPolicy app/&lt;b&gt;"),
            "the cut's fix: {html}"
        );
        assert!(html.contains("src=\"/assets/cytoscape.min.js\"") && html.contains("id=\"graph\""));
    }

    #[test]
    fn each_entry_is_captioned_in_the_model_s_words_escaped() {
        let chain = |id: &str, entry: &str, j: Value| {
            json!({"id": id, "confidence": "proven", "steps": [], "judgement": j,
                "entry": {"kind": "Service", "namespace": "app", "name": entry},
                "target": {"kind": "Secret", "namespace": "app", "name": "db"}})
        };
        let no = json!({"verdict": "not_exploitable", "confidence": 0.7,
            "reason": "the service never parses user input <img src=x>", "steps": [], "model": "m"});
        let yes = json!({"verdict": "exploitable", "confidence": 0.9,
            "reason": "log4j logs the header", "steps": ["s0"], "model": "m"});
        let down = json!({"verdict": "unknown", "confidence": 0.0, "reason": "", "steps": [],
            "model": "m", "error": "no answer within 30s"});
        let f = json!({"chains": [chain("c1", "web", no.clone()), chain("c2", "web", yes),
            chain("c3", "api", no), chain("c4", "admin", down)]});
        let html = render(&f);
        let captions: Vec<&str> = html.split("<span class=\"caption\"").skip(1).collect();
        assert_eq!(
            captions.len(),
            2,
            "the entry the model could not judge has none: {html}"
        );
        // Entries nearest first, then by key: admin (none), api, web.
        assert!(captions[0].contains(
            "not exploitable (0.70) — the service never parses user input &lt;img src=x&gt;"
        ));
        assert!(
            captions[1].starts_with(" data-verdict=\"exploitable\">exploitable (0.90) — log4j"),
            "an exploitable verdict captions its entry first: {html}"
        );
        assert!(!html.contains("<img"));
    }

    #[test]
    fn bidi_and_control_characters_are_shown_not_obeyed() {
        let f = json!({"chains": [{"id": "chain-1", "confidence": "proven",
            "entry": {"kind": "Service", "namespace": "app", "name": "\u{202e}gnp.exe"},
            "target": {"kind": "Secret", "namespace": "app\u{2066}", "name": "db\u{1b}[2J"},
            "steps": []}]});
        let html = render(&f);
        assert!(
            !html.chars().any(rampart_report::is_unsafe_char),
            "{html:?}"
        );
        assert!(
            html.contains("data-key=\"Service%2Fapp%2F%E2%80%AEgnp.exe\"")
                && html.contains("Service app/⟨U+202E⟩gnp.exe")
                && html.contains("<option value=\"app⟨U+2066⟩\">"),
            "{html}"
        );
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        // The CSP allows neither: anything inline would silently not run.
        let html = render(&json!({"chains": [], "report": {"decisions": []}}));
        assert!(
            !html.contains("<style") && !html.contains("style="),
            "{html}"
        );
        let scripts: Vec<&str> = html.split("<script").skip(1).collect();
        assert_eq!(scripts.len(), 2, "{html}");
        for s in scripts {
            assert!(
                s.starts_with(" src=\"/assets/") && s.contains("></script>"),
                "{html}"
            );
            assert!(
                s.split("></script>")
                    .next()
                    .is_some_and(|t| !t.contains('>'))
            );
        }
        assert!(html.contains("href=\"/assets/dashboard.css\""));
        assert!(!DASHBOARD_JS.contains("innerHTML") && !DASHBOARD_JS.contains("eval("));
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    }

    #[test]
    fn the_graph_library_is_served_from_the_binary() {
        assert!(CYTOSCAPE.len() > 100_000 && CYTOSCAPE.contains("Cytoscape Consortium"));
        assert!(DASHBOARD_JS.contains("/api/graph") && DASHBOARD_JS.contains("/api/chains"));
    }
}
