//! `rampart learner`: the cluster side of the request guard. Gates `POST /sync` their piles;
//! the learner verifies who each gate is (a TokenReview of its projected ServiceAccount token,
//! then its pod's labels — never the message), merges the pile into its service's, learns and
//! persists criteria on the original system's cadence (`rampart_guard::learner`, pure), and
//! answers with the Guardian the gate follows now. A gate's alerts and pod alert become
//! request-guard events for the engine's `POST /guard`, where the respond layer decides.
//!
//! I/O only: decisions are `rampart-guard`'s, Kubernetes access `rampart-kube`'s.

mod metrics;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rampart_guard::cadence::LearnCadence;
use rampart_guard::learner::{Hub, Identity, Key, PodAlert, Refused};
use rampart_guard::lookup::{lookup, service_of};
use rampart_guard::sync::{self, SyncError, SyncReply};
use rampart_kube::guardians::{GuardianCache, pod_labels, review_token, write_status};
use rampart_signals::guard::{EventKind, GuardEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use metrics::LearnerMetrics;

/// The audience gates' projected tokens are made for.
pub const AUDIENCE: &str = "rampart-learner";

/// How the learner behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// The audience a gate's token must be made for.
    pub audience: String,
    /// Set only under `--insecure-no-auth` (local demos): gates are not verified, the
    /// service is taken from the message, every gate is in this namespace, and no compromise
    /// report is acted on.
    pub insecure_namespace: Option<String>,
    pub cadence: LearnCadence,
    /// How long after a start a service's criteria wait for its gates to re-send.
    pub rebuild_grace: Duration,
    /// Largest sync body read.
    pub max_body: usize,
    /// Shortest time between two syncs of one pod (a gate's own minimum is 5 s).
    pub min_sync_gap: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            audience: AUDIENCE.into(),
            insecure_namespace: None,
            cadence: LearnCadence::default(),
            rebuild_grace: rampart_guard::learner::REBUILD_GRACE,
            max_body: sync::MAX_BYTES,
            min_sync_gap: Duration::from_secs(1),
        }
    }
}

/// Syncs handled at once (more answer 503; gates retry at their next tick).
const MAX_IN_FLIGHT: usize = 64;
/// Longest time a gate may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Pods whose last sync time is kept (for the sync-gap check); beyond, the map starts over.
const MAX_PODS: usize = 100_000;
/// How long a token's review is reused: a gate syncs every 5 s to 5 min, so most syncs cost
/// one API request (the pod's read, which still runs every time: a deleted, replaced or
/// quarantined pod is refused at once) instead of two.
const REVIEW_TTL: Duration = Duration::from_secs(60);

/// A token's SHA-256: the cache's key (a collision would be an impersonation, so not a
/// 64-bit hash).
fn token_digest(token: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The learner's state.
pub struct Learner {
    config: Config,
    hub: Mutex<Hub>,
    cache: GuardianCache,
    client: kube::Client,
    events: Option<mpsc::Sender<GuardEvent>>,
    last_sync: Mutex<HashMap<(String, String), Instant>>,
    /// TokenReview answers by the token's SHA-256 (never the token itself).
    reviews: Mutex<HashMap<[u8; 32], (rampart_kube::guardians::GateIdentity, Instant)>>,
    in_flight: tokio::sync::Semaphore,
    started: Instant,
    pub metrics: LearnerMetrics,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A refused sync: its status, its metric outcome, and the reason the gate is told.
struct Refusal(StatusCode, &'static str, String);

impl Learner {
    /// A learner over `cache` (kept current by [`rampart_kube::guardians::watch_guardians`]),
    /// sending events to `events` when the engine is configured.
    pub fn new(
        config: Config,
        client: kube::Client,
        cache: GuardianCache,
        events: Option<mpsc::Sender<GuardEvent>>,
        metrics: LearnerMetrics,
    ) -> Arc<Learner> {
        let mut hub = Hub::new(config.cadence);
        hub.rebuild_grace = config.rebuild_grace;
        Arc::new(Learner {
            config,
            hub: Mutex::new(hub),
            cache,
            client,
            events,
            last_sync: Mutex::new(HashMap::new()),
            reviews: Mutex::new(HashMap::new()),
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            started: Instant::now(),
            metrics,
        })
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether the Guardians are cached (until then a sync cannot be answered).
    pub fn ready(&self) -> bool {
        self.cache.ready()
    }

    /// Who the gate is: from its token and its pod's labels.
    async fn identify(&self, headers: &HeaderMap) -> Result<Identity, Refusal> {
        let unauthenticated = |m: String| Refusal(StatusCode::UNAUTHORIZED, "unauthenticated", m);
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                unauthenticated(
                    "a bearer token (the gate's projected ServiceAccount token) is required\n"
                        .into(),
                )
            })?;
        let digest = token_digest(token);
        let id = match self.reviewed(&digest) {
            Some(id) => id,
            None => {
                let id = review_token(&self.client, token, &self.config.audience)
                    .await
                    .map_err(|e| review_refusal(e, "review the token"))?;
                self.remember(digest, &id);
                id
            }
        };
        let labels = pod_labels(&self.client, &id)
            .await
            .map_err(|e| review_refusal(e, "read the gate's pod"))?;
        let Some(service) = service_of(&labels) else {
            return Err(Refusal(
                StatusCode::FORBIDDEN,
                "no_service",
                format!(
                    "pod {}/{} has none of the labels {:?} naming its service\n",
                    id.namespace,
                    id.pod,
                    rampart_guard::lookup::SERVICE_LABELS
                ),
            ));
        };
        Ok(Identity {
            namespace: id.namespace,
            service: service.to_string(),
            pod: id.pod,
            verified: true,
        })
    }

    /// One sync.
    async fn sync(&self, headers: &HeaderMap, body: axum::body::Body) -> Result<Vec<u8>, Refusal> {
        if !self.ready() {
            drain(body).await;
            return Err(Refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the learner is still reading the Guardians\n".into(),
            ));
        }
        let verified = match &self.config.insecure_namespace {
            None => match self.identify(headers).await {
                Ok(id) => Some(id),
                Err(r) => {
                    drain(body).await;
                    return Err(r);
                }
            },
            Some(_) => None,
        };
        let max = self.config.max_body;
        let too_large = || {
            Refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("sync message over {max} bytes\n"),
            )
        };
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > max) {
            return Err(too_large());
        }
        let bytes = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, max)).await
        {
            Ok(Ok(b)) => b,
            Ok(Err(_)) => return Err(too_large()),
            Err(_) => {
                return Err(Refusal(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    "sync message not received in time\n".into(),
                ));
            }
        };
        let t = Instant::now();
        let msg = sync::decode(&bytes, max)
            .map_err(|e| Refusal(StatusCode::BAD_REQUEST, "malformed", format!("{e}\n")))?;
        let id = match (verified, &self.config.insecure_namespace) {
            (Some(id), _) => id,
            (None, ns) => Identity {
                namespace: ns.clone().unwrap_or_default(),
                service: msg.service.clone(),
                pod: "unverified".into(),
                verified: false,
            },
        };
        if !rampart_model::names::is_dns_subdomain(&id.service) {
            return Err(Refusal(
                StatusCode::FORBIDDEN,
                "no_service",
                format!(
                    "service {:?} is not a valid Guardian name (lowercase letters, digits, '-', '.')\n",
                    rampart_guard::exchange::clean_name(&id.service)
                ),
            ));
        }
        self.check_gap(&id)?;
        let key: Key = (id.namespace.clone(), id.service.clone());
        let restored = self
            .cache
            .get(&id.namespace, &id.service)
            .and_then(|g| g.status);
        let accepted = lock(&self.hub)
            .accept(&id, &msg, restored.as_ref(), self.now())
            .map_err(|e| match e {
                Refused::Message(SyncError::WrongService { .. }) => {
                    tracing::warn!(namespace = %id.namespace, pod = %id.pod, "{e}");
                    Refusal(StatusCode::FORBIDDEN, "wrong_service", format!("{e}\n"))
                }
                e @ Refused::TooManyServices(_) => Refusal(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_services",
                    format!("{e}\n"),
                ),
                Refused::Message(e) => {
                    Refusal(StatusCode::BAD_REQUEST, "malformed", format!("{e}\n"))
                }
            })?;
        self.metrics
            .merge_seconds
            .observe(t.elapsed().as_secs_f64());
        self.metrics.samples_merged.inc_by(accepted.fresh);
        let guardians = self.cache.in_namespace(&id.namespace);
        let (mut guardian, source) = lookup(&guardians, &id.namespace, &id.service);
        if let Some(status) = lock(&self.hub).status(&key)
            && status.learned.is_some()
        {
            guardian.status = Some(status);
        }
        self.report(&id, &accepted, guardian.spec.control().mode.as_str());
        Ok(SyncReply::new(guardian, source).encode())
    }

    /// A token's identity reviewed less than [`REVIEW_TTL`] ago.
    fn reviewed(&self, digest: &[u8; 32]) -> Option<rampart_kube::guardians::GateIdentity> {
        let reviews = lock(&self.reviews);
        reviews
            .get(digest)
            .filter(|(_, at)| at.elapsed() < REVIEW_TTL)
            .map(|(id, _)| id.clone())
    }

    fn remember(&self, digest: [u8; 32], id: &rampart_kube::guardians::GateIdentity) {
        let mut reviews = lock(&self.reviews);
        if reviews.len() >= MAX_PODS {
            reviews.retain(|_, (_, at)| at.elapsed() < REVIEW_TTL);
            if reviews.len() >= MAX_PODS {
                reviews.clear();
            }
        }
        reviews.insert(digest, (id.clone(), Instant::now()));
    }

    /// Refuses a pod syncing more often than [`Config::min_sync_gap`].
    fn check_gap(&self, id: &Identity) -> Result<(), Refusal> {
        let mut last = lock(&self.last_sync);
        if last.len() >= MAX_PODS {
            last.clear();
        }
        let now = Instant::now();
        let key = (id.namespace.clone(), id.pod.clone());
        if id.verified
            && let Some(t) = last.get(&key)
            && now.duration_since(*t) < self.config.min_sync_gap
        {
            return Err(Refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "too_often",
                format!(
                    "syncs of one pod are at least {:?} apart\n",
                    self.config.min_sync_gap
                ),
            ));
        }
        last.insert(key, now);
        Ok(())
    }

    /// Hands a sync's alerts and pod alert to the engine.
    fn report(&self, id: &Identity, a: &rampart_guard::learner::Accepted, mode: &str) {
        let event = |kind| GuardEvent {
            kind,
            namespace: id.namespace.clone(),
            pod: id.pod.clone(),
            service: id.service.clone(),
            reasons: a.alerts.clone(),
            mode: mode.to_string(),
            summary: if kind == EventKind::RequestAnomaly {
                a.last_alert.clone().unwrap_or_default()
            } else {
                String::new()
            },
        };
        let mut out = Vec::new();
        if a.alerts.values().any(|n| *n > 0) {
            out.push(event(EventKind::RequestAnomaly));
        }
        match a.pod_alert {
            PodAlert::None => {}
            PodAlert::Report => {
                self.metrics.pod_alert("reported");
                tracing::warn!(namespace = %id.namespace, pod = %id.pod, service = %id.service, "gate reports its pod talking to a public peer never learned");
                out.push(event(EventKind::Compromise));
            }
            PodAlert::RefusedUnverified => {
                self.metrics.pod_alert("refused_unverified");
                tracing::warn!(service = %id.service, "a pod alert from an unverified gate (--insecure-no-auth) is not acted on");
            }
        }
        for e in out {
            match &self.events {
                Some(tx) if tx.try_send(e).is_ok() => {}
                Some(_) => self.metrics.events("dropped"),
                None => self.metrics.events("no_engine"),
            }
        }
    }

    /// Learns what is due; `at` is now in RFC 3339. Returns how many services learned.
    pub fn learn_due(&self, at: &str) -> usize {
        let now = self.now();
        // Learning windows: freeze the services whose window passed, thaw those whose window
        // was raised or removed.
        let candidates = {
            let hub = lock(&self.hub);
            let mut c = hub.learn_due(now);
            c.extend(hub.frozen());
            c
        };
        for key in &candidates {
            let guardians = self.cache.in_namespace(&key.0);
            let control = lookup(&guardians, &key.0, &key.1).0.spec.control();
            let mut hub = lock(&self.hub);
            let passed = window_passed(
                control.learning_window.as_deref(),
                hub.learning_since(key),
                at,
            );
            if hub.set_frozen(key, passed) {
                if passed {
                    self.metrics.frozen.inc();
                }
                tracing::info!(namespace = %key.0, service = %key.1, frozen = passed, "learning window");
            }
        }
        let due = lock(&self.hub).learn_due(now);
        for key in &due {
            let guardians = self.cache.in_namespace(&key.0);
            let control = lookup(&guardians, &key.0, &key.1).0.spec.control();
            let t = Instant::now();
            lock(&self.hub).learn(key, &control, now, at.to_string());
            self.metrics
                .learn_seconds
                .observe(t.elapsed().as_secs_f64());
        }
        let (services, samples) = lock(&self.hub).size();
        self.metrics.services.set(services as i64);
        self.metrics
            .samples
            .set(i64::try_from(samples).unwrap_or(i64::MAX));
        due.len()
    }

    /// Writes the statuses that are due (`all`: every changed one, for a shutdown).
    pub async fn persist_due(&self, all: bool) -> usize {
        let now = self.now();
        let due = lock(&self.hub).persist_due(now, all);
        let mut written = 0;
        for key in due {
            let Some(status) = lock(&self.hub).status(&key) else {
                continue;
            };
            match write_status(&self.client, &key.0, &key.1, &status).await {
                Ok(()) => {
                    lock(&self.hub).persisted(&key, now);
                    self.metrics.persist("ok");
                    written += 1;
                }
                Err(e) => {
                    self.metrics.persist("error");
                    tracing::warn!(namespace = %key.0, service = %key.1, "persisting the learned criteria: {e}");
                }
            }
        }
        written
    }
}

/// A failed review: the API server could not be asked (503, the gate retries), or the gate is
/// not who it says (401).
fn review_refusal(e: rampart_kube::guardians::ReviewError, doing: &str) -> Refusal {
    match e {
        rampart_kube::guardians::ReviewError::Api(m) => Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "review_failed",
            format!("could not {doing}: {m}\n"),
        ),
        e => Refusal(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            format!("{e}\n"),
        ),
    }
}

/// Reads and drops a little of a refused request's body before the answer: a connection
/// closed with unread data is reset, and the reset can destroy the answer in flight (the
/// client would see a broken connection instead of 401). Bounded: an unauthenticated client
/// costs at most this much reading, for at most this long.
async fn drain(body: axum::body::Body) {
    const MAX: usize = 64 << 10;
    let _ = tokio::time::timeout(Duration::from_secs(1), axum::body::to_bytes(body, MAX)).await;
}

/// Whether a learning window (`72h`) that started at `since` (RFC 3339) passed by `now`.
fn window_passed(window: Option<&str>, since: Option<&str>, now: &str) -> bool {
    let (Some(w), Some(since)) = (window, since) else {
        return false;
    };
    let Ok(w) = rampart_guard::cadence::parse_window(w) else {
        return false;
    };
    let secs = |t: &str| {
        t.parse::<k8s_openapi::jiff::Timestamp>()
            .ok()
            .map(|t| t.as_second())
    };
    match (secs(since), secs(now)) {
        (Some(since), Some(now)) => rampart_guard::cadence::frozen(w, since, now),
        _ => false,
    }
}

/// `POST /sync`.
pub fn router(learner: Arc<Learner>) -> Router {
    Router::new()
        .route("/sync", post(sync_handler))
        .with_state(learner)
}

async fn sync_handler(
    State(l): State<Arc<Learner>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let Ok(_permit) = l.in_flight.try_acquire() else {
        l.metrics.sync("busy");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many syncs in flight\n",
        )
            .into_response();
    };
    match l.sync(&headers, body).await {
        Ok(reply) => {
            l.metrics.sync("ok");
            ([(header::CONTENT_TYPE, "application/json")], reply).into_response()
        }
        Err(Refusal(status, outcome, msg)) => {
            l.metrics.sync(outcome);
            (status, msg).into_response()
        }
    }
}

/// Learns every `every`, persists what is due, until `cancel`; then persists every change.
/// `clock` gives the time in RFC 3339 (passed in).
pub async fn run(
    learner: Arc<Learner>,
    every: Duration,
    clock: impl Fn() -> String,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        learner.learn_due(&clock());
        learner.persist_due(false).await;
    }
    learner.learn_due(&clock());
    let n = learner.persist_due(true).await;
    tracing::info!("persisted {n} Guardian status(es) on shutdown");
}

/// Sends events to the engine's `POST /guard` in batches, until `cancel`.
pub async fn forward(
    mut rx: mpsc::Receiver<GuardEvent>,
    engine: rampart_http::client::Poster,
    metrics: LearnerMetrics,
    cancel: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            () = cancel.cancelled() => return,
            e = rx.recv() => match e { Some(e) => e, None => return },
        };
        let mut batch = vec![first];
        while batch.len() < rampart_signals::guard::MAX_EVENTS {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        let body = serde_json::to_vec(&rampart_signals::guard::GuardEvents::new(batch))
            .unwrap_or_default();
        match engine.post(body, 64 << 10).await {
            Ok((s, _)) if s.is_success() => metrics.events_n("sent", n),
            Ok((s, text)) => {
                metrics.events_n("refused", n);
                tracing::warn!(
                    "the engine refused {n} guard event(s): {s} {}",
                    String::from_utf8_lossy(&text).trim()
                );
            }
            Err(e) => {
                metrics.events_n("failed", n);
                tracing::warn!("sending {n} guard event(s) to the engine: {e}");
            }
        }
    }
}
