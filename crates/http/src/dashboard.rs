//! The engine's read-only surfaces: `GET /findings` (the scan contract plus the latest change
//! report), `GET /` (HTML), `GET /metrics`, `GET /healthz`. Everything shown comes from the
//! cluster and is attacker-controlled (names, labels): the HTML escapes every string, shows
//! control and bidi characters as visible `⟨U+202E⟩` markers, and the page runs no inline script
//! or style under a strict Content-Security-Policy (see [`SECURITY_HEADERS`]).

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde_json::Value;

/// Labels of the chain gauge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChainLabels {
    /// `Secret`, `Node`, `ClusterAdmin`, `CrownJewel`, `Impact`, `Exfiltration`,
    /// `Collection`, `Persistence`.
    pub target: String,
    /// `proven`, `corroborated`, `judged`.
    pub confidence: String,
}

/// Labels of the watch error counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// Watched kind.
    pub kind: String,
}

/// Labels of the re-proof counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PathLabels {
    /// `full` (the snapshot analysed again), `relabel` / `reclass` (one pod's labels: the proof
    /// kept, or the graph patched) or `workloads` / `patched` (pods and controllers changed
    /// inside analysed workloads: the proof kept, or the graph patched).
    pub path: String,
}

/// The engine's metrics.
#[derive(Debug)]
pub struct EngineMetrics {
    registry: Registry,
    /// Chains by target kind and confidence.
    pub chains: Family<ChainLabels, Gauge>,
    /// Time from the end of a debounced batch of changes to the change report, in seconds.
    pub loop_latency: Histogram,
    /// Watch failures and restarts, by kind.
    pub watch_errors: Family<KindLabels, Counter>,
    /// Re-proofs run, by path.
    pub reproofs: Family<PathLabels, Counter>,
    /// Watch updates that changed nothing the model reads (status, resourceVersion), so
    /// cost no re-proof.
    pub unchanged_updates: Counter,
    /// Mitigations in the ledger by phase.
    pub mitigations: Family<PhaseLabels, Gauge>,
    /// NetworkPolicies from flows: flows collected.
    pub netpol_flows: Gauge,
    /// Flow records that could not be read.
    pub netpol_malformed: Gauge,
    /// Distinct observed connections in the latest plan.
    pub netpol_connections: Gauge,
    /// Policies the latest plan suggests.
    pub netpol_policies: Gauge,
    /// Observed connections the latest plan would deny (a sound plan: 0).
    pub netpol_denied: Gauge,
    /// Allowed connections of covered workloads no flow showed.
    pub netpol_unobserved: Gauge,
    /// The `netpol` rollout: the last step applied in full (0: none).
    pub netpol_rollout_step: Gauge,
    /// The rollout's policies ended, by why (`dropped`, `expired`, `left-the-plan`,
    /// `changed`, `earlier-step`).
    pub netpol_rollout_ended: Family<WhyLabels, Counter>,
    /// Policy drops seen under the rollout's policies (each reverts what it is blamed on).
    pub netpol_rollout_drops: Counter,
    /// Connections of every listener (dashboard and ingest).
    pub serve: crate::serve::ServeMetrics,
    /// Failed actuator writes (records, objects, statuses).
    pub actuator_errors: Counter,
    /// Runtime-evidence ingest.
    pub ingest: crate::ingest::IngestMetrics,
    /// Infected pods: attack as load.
    pub pods: PodMetrics,
    /// 1 while this replica leads (and so writes), else 0.
    pub leader: Gauge,
    /// Kinds the engine may not read (forbidden lists), so cannot prove over.
    pub unreadable_kinds: Gauge,
    /// 1 while a BreakGlass object is engaged (acting stopped), else 0.
    pub break_glass: Gauge,
    /// Mitigations withdrawn by break-glass (revert-all, or stopped between record and apply).
    pub break_glass_withdrawn: Counter,
    /// The live compliance audit (`--audit`).
    pub audit: AuditMetrics,
    /// Model adjudication (`--model-url`).
    pub judge: JudgeMetrics,
    /// Notifications (`--notify`).
    pub notify: NotifyMetrics,
}

/// Labels of one outcome, verdict or failure reason.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// The outcome.
    pub outcome: &'static str,
}

/// Labels of one notification destination and an outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabels {
    /// The destination (`webhook`, `slack`, `cloudevents`; `-2`, … when several).
    pub sink: String,
    /// `sent`, `retried`, `failed` (requests) or `queue-full`, `undeliverable` (dead letters).
    pub outcome: &'static str,
}

/// Notifications' metrics.
#[derive(Debug, Clone, Default)]
pub struct NotifyMetrics {
    /// Notices delivered, by destination.
    pub delivered: Family<SinkLabels, Counter>,
    /// Requests by destination and outcome (`sent`, `retried`, `failed`).
    pub requests: Family<SinkLabels, Counter>,
    /// Notices given up, by destination and why (`queue-full`, `undeliverable`).
    pub dead_letters: Family<SinkLabels, Counter>,
}

impl NotifyMetrics {
    fn register(registry: &mut Registry) -> NotifyMetrics {
        let m = NotifyMetrics::default();
        registry.register(
            "notifications_delivered",
            "Notices delivered, by destination",
            m.delivered.clone(),
        );
        registry.register(
            "notification_requests",
            "Notification requests by destination and outcome (sent, retried, failed)",
            m.requests.clone(),
        );
        registry.register(
            "notifications_dead_letter",
            "Notices given up, by destination and why (queue-full, undeliverable)",
            m.dead_letters.clone(),
        );
        m
    }
}

/// Model adjudication's metrics.
#[derive(Debug, Clone)]
pub struct JudgeMetrics {
    /// Requests to the model by outcome (`answered`, `invalid`, `timeout`, `transport`,
    /// `status`, `too_large`).
    pub requests: Family<OutcomeLabels, Counter>,
    /// Time of one model request (retries included), in seconds.
    pub latency: Histogram,
    /// Verdicts by kind (`exploitable`, `not_exploitable`, `unknown`).
    pub verdicts: Family<OutcomeLabels, Counter>,
    /// Answers refused by the strict parser, by reason.
    pub parse_failures: Family<OutcomeLabels, Counter>,
    /// Verdicts answered from the cache.
    pub cache_hits: Counter,
    /// Lookups the cache could not answer.
    pub cache_misses: Counter,
    /// Chains left for later by the per-minute limit.
    pub rate_limited: Counter,
    /// Chains waiting for a verdict.
    pub pending: Gauge,
}

impl JudgeMetrics {
    fn register(registry: &mut Registry) -> JudgeMetrics {
        let m = JudgeMetrics {
            requests: Family::default(),
            latency: Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                1e-2, 2.0, 12,
            )),
            verdicts: Family::default(),
            parse_failures: Family::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            rate_limited: Counter::default(),
            pending: Gauge::default(),
        };
        registry.register(
            "judge_requests",
            "Requests to the model by outcome",
            m.requests.clone(),
        );
        registry.register(
            "judge_request_duration_seconds",
            "Time of one model request, retries included",
            m.latency.clone(),
        );
        registry.register(
            "judge_verdicts",
            "Verdicts by kind (unknown includes a model that did not answer)",
            m.verdicts.clone(),
        );
        registry.register(
            "judge_parse_failures",
            "Model answers refused by the strict parser, by reason",
            m.parse_failures.clone(),
        );
        registry.register(
            "judge_cache_hits",
            "Verdicts answered from the cache",
            m.cache_hits.clone(),
        );
        registry.register(
            "judge_cache_misses",
            "Verdict lookups the cache could not answer",
            m.cache_misses.clone(),
        );
        registry.register(
            "judge_rate_limited",
            "Chains left for later by the per-minute limit",
            m.rate_limited.clone(),
        );
        registry.register(
            "judge_pending",
            "Chains waiting for a verdict",
            m.pending.clone(),
        );
        m
    }
}

impl Default for JudgeMetrics {
    /// Unregistered (offline use).
    fn default() -> Self {
        JudgeMetrics::register(&mut Registry::default())
    }
}

/// Labels of a compliance framework.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FrameworkLabels {
    /// `cis`, `nsa`, `pss-baseline`, `pss-restricted`, `policies`.
    pub framework: String,
}

/// Labels of a finding's status.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabels {
    /// `fail`, `excepted`, `error`.
    pub status: String,
}

/// The live compliance audit's metrics.
#[derive(Debug, Clone)]
pub struct AuditMetrics {
    /// Score per framework, 0–100 (kubescape's compliance score).
    pub score: Family<FrameworkLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Findings of the latest audit by status.
    pub findings: Family<FindingLabels, Gauge>,
    /// Time of one full audit, in seconds.
    pub duration: Histogram,
    /// Time to re-audit one changed object and rebuild its namespace's report, in seconds.
    pub object_duration: Histogram,
    /// PolicyReports written (created or changed) and deleted.
    pub reports_written: Counter,
    /// PolicyReports deleted (their namespace has nothing left to report).
    pub reports_deleted: Counter,
    /// Failed writes of PolicyReports.
    pub report_errors: Counter,
}

impl AuditMetrics {
    fn register(registry: &mut Registry) -> AuditMetrics {
        let m = AuditMetrics {
            score: Family::default(),
            findings: Family::default(),
            duration: Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                1e-3, 2.0, 14,
            )),
            object_duration: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(1e-5, 2.0, 14),
            ),
            reports_written: Counter::default(),
            reports_deleted: Counter::default(),
            report_errors: Counter::default(),
        };
        registry.register(
            "audit_score",
            "Compliance score per framework (0-100) of the latest live audit",
            m.score.clone(),
        );
        registry.register(
            "audit_findings",
            "Findings of the latest live audit by status",
            m.findings.clone(),
        );
        registry.register(
            "audit_duration_seconds",
            "Time of one full live audit",
            m.duration.clone(),
        );
        registry.register(
            "audit_object_duration_seconds",
            "Time to re-audit one changed object and rebuild its namespace's report",
            m.object_duration.clone(),
        );
        registry.register(
            "audit_reports_written",
            "PolicyReports created or changed",
            m.reports_written.clone(),
        );
        registry.register(
            "audit_reports_deleted",
            "PolicyReports deleted (nothing left to report in their namespace)",
            m.reports_deleted.clone(),
        );
        registry.register(
            "audit_report_errors",
            "Failed writes of PolicyReports",
            m.report_errors.clone(),
        );
        m
    }
}

/// Labels naming a workload.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkloadLabels {
    /// Namespace.
    pub namespace: String,
    /// `name[Kind]` (or `name[Pod]` for a standalone pod).
    pub workload: String,
}

/// Labels of the reaping counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReapLabels {
    /// Namespace.
    pub namespace: String,
    /// `name[Kind]`.
    pub workload: String,
    /// `isolate` or `terminate`.
    pub action: String,
}

/// Metrics that let an HPA treat an attack as load.
#[derive(Debug, Clone)]
pub struct PodMetrics {
    /// Fresh infections (pod observations) by workload.
    pub infections: Family<WorkloadLabels, Counter>,
    /// Pods isolated or terminated (written, not dry-run).
    pub reaped: Family<ReapLabels, Counter>,
    /// Ready / desired replicas of workloads under attack.
    pub available_ratio: Family<WorkloadLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// From a pod's start to its first infection.
    pub time_to_infection: Histogram,
    /// From reaping a pod to its workload being back at its desired ready replicas.
    pub time_to_recreation: Histogram,
}

impl PodMetrics {
    fn register(registry: &mut Registry) -> PodMetrics {
        let m = PodMetrics {
            infections: Family::default(),
            reaped: Family::default(),
            available_ratio: Family::default(),
            time_to_infection: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(1.0, 4.0, 10),
            ),
            time_to_recreation: Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.5, 2.0, 12),
            ),
        };
        registry.register(
            "infections",
            "Infected pods seen (fresh pod observations) by workload",
            m.infections.clone(),
        );
        registry.register(
            "reaped",
            "Pods isolated or terminated by workload and action",
            m.reaped.clone(),
        );
        registry.register(
            "workload_available_ratio",
            "Ready over desired replicas of workloads under attack",
            m.available_ratio.clone(),
        );
        registry.register(
            "time_to_infection_seconds",
            "From a pod's start to its first infection",
            m.time_to_infection.clone(),
        );
        registry.register(
            "time_to_recreation_seconds",
            "From reaping a pod to its workload being back at its desired ready replicas",
            m.time_to_recreation.clone(),
        );
        m
    }
}

/// Labels of the rollout's ended counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WhyLabels {
    /// Why a policy of the rollout ended.
    pub why: String,
}

/// Labels of the mitigation gauge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// `Proposed`, `Applied`, `Reverted`, `Retired`, `Failed`.
    pub phase: String,
}

impl Default for EngineMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("rampart");
        let chains = Family::<ChainLabels, Gauge>::default();
        registry.register(
            "chains",
            "Proven attack chains by target kind and confidence",
            chains.clone(),
        );
        let loop_latency = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(1e-3, 2.0, 14),
        );
        registry.register(
            "change_loop_duration_seconds",
            "Time to re-prove and report after a batch of cluster changes",
            loop_latency.clone(),
        );
        let watch_errors = Family::<KindLabels, Counter>::default();
        registry.register(
            "watch_errors",
            "Watch failures by kind (retried; expired versions relist)",
            watch_errors.clone(),
        );
        let reproofs = Family::<PathLabels, Counter>::default();
        registry.register(
            "reproofs",
            "Re-proofs of the cluster, by path (full; relabel or reclass: one pod's labels; \
             workloads or patched: pods and controllers inside analysed workloads)",
            reproofs.clone(),
        );
        let unchanged_updates = Counter::default();
        registry.register(
            "unchanged_updates",
            "Watch updates that changed nothing the model reads (no re-proof needed)",
            unchanged_updates.clone(),
        );
        let mitigations = Family::<PhaseLabels, Gauge>::default();
        registry.register(
            "mitigations",
            "Mitigations in the ledger by phase",
            mitigations.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let netpol_flows = gauge(
            &mut registry,
            "netpol_flows",
            "Observed flows collected for NetworkPolicies from traffic",
        );
        let netpol_malformed = gauge(
            &mut registry,
            "netpol_malformed_records",
            "Flow records that could not be read",
        );
        let netpol_connections = gauge(
            &mut registry,
            "netpol_connections",
            "Distinct observed connections in the latest NetworkPolicy plan",
        );
        let netpol_policies = gauge(
            &mut registry,
            "netpol_policies",
            "NetworkPolicies the latest plan suggests",
        );
        let netpol_denied = gauge(
            &mut registry,
            "netpol_denied_observed",
            "Observed connections the latest plan would deny (0 for a sound plan)",
        );
        let netpol_unobserved = gauge(
            &mut registry,
            "netpol_unobserved_allowed",
            "Allowed connections of covered workloads that no flow showed",
        );
        let netpol_rollout_step = gauge(
            &mut registry,
            "netpol_rollout_step",
            "The last step of the NetworkPolicy rollout applied in full (0: none)",
        );
        let netpol_rollout_ended = Family::<WhyLabels, Counter>::default();
        registry.register(
            "netpol_rollout_ended",
            "Policies of the NetworkPolicy rollout ended, by why",
            netpol_rollout_ended.clone(),
        );
        let netpol_rollout_drops = Counter::default();
        registry.register(
            "netpol_rollout_drops",
            "Policy drops seen under the rollout's NetworkPolicies (each reverts what it is blamed on)",
            netpol_rollout_drops.clone(),
        );
        let actuator_errors = Counter::default();
        registry.register(
            "actuator_errors",
            "Failed actuator writes (records, objects, statuses)",
            actuator_errors.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica leads (only the leader writes), else 0",
            leader.clone(),
        );
        let unreadable_kinds = Gauge::default();
        registry.register(
            "unreadable_kinds",
            "Kinds the engine may not list or watch (missing read RBAC)",
            unreadable_kinds.clone(),
        );
        let break_glass = Gauge::default();
        registry.register(
            "break_glass",
            "1 while a BreakGlass object is engaged (the engine writes nothing but reverts)",
            break_glass.clone(),
        );
        let break_glass_withdrawn = Counter::default();
        registry.register(
            "break_glass_withdrawn",
            "Mitigations withdrawn by break-glass",
            break_glass_withdrawn.clone(),
        );
        let ingest = crate::ingest::IngestMetrics::register(&mut registry);
        let pods = PodMetrics::register(&mut registry);
        let serve = crate::serve::ServeMetrics::register(&mut registry);
        let audit = AuditMetrics::register(&mut registry);
        let judge = JudgeMetrics::register(&mut registry);
        let notify = NotifyMetrics::register(&mut registry);
        EngineMetrics {
            notify,
            audit,
            judge,
            serve,
            ingest,
            pods,
            registry,
            chains,
            loop_latency,
            watch_errors,
            reproofs,
            unchanged_updates,
            mitigations,
            netpol_flows,
            netpol_malformed,
            netpol_connections,
            netpol_policies,
            netpol_denied,
            netpol_unobserved,
            netpol_rollout_step,
            netpol_rollout_ended,
            netpol_rollout_drops,
            actuator_errors,
            leader,
            unreadable_kinds,
            break_glass,
            break_glass_withdrawn,
        }
    }
}

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
}

impl Findings {
    fn current(&mut self) -> axum::body::Bytes {
        if let Some(make) = self.pending.take() {
            self.gzip = axum::body::Bytes::from(gzip(&make()));
        }
        self.gzip.clone()
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
    /// Approves a Pending mitigation; set only when the dashboard is behind a token.
    pub approver: std::sync::OnceLock<Approver>,
    /// The latest NetworkPolicy plan from observed flows (`rampart.dev/netpol-plan/v1`), when
    /// flows are collected.
    pub netpol: RwLock<Option<Arc<Value>>>,
    /// Where the `netpol` rollout stands (`GET /netpol`'s `rollout`), once the leader looked.
    pub netpol_rollout: RwLock<Option<Value>>,
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

    /// The findings as a JSON value (parsed on demand, for the HTML page).
    pub fn findings(&self) -> Value {
        serde_json::from_slice(&gunzip(&self.findings_gzip())).unwrap_or(Value::Null)
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
        .route("/guard", get(guard_list))
        .route("/guard/{ns}/{name}", get(guard_service))
        .route("/findings", get(findings))
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
const CYTOSCAPE: &str = include_str!("../assets/cytoscape.min.js");
/// The dashboard's own script.
const DASHBOARD_JS: &str = include_str!("../assets/dashboard.js");
/// The request-guard page's editor.
const GUARD_JS: &str = include_str!("../assets/guard.js");
/// The dashboard's styles (a file: the CSP allows no inline style).
const DASHBOARD_CSS: &str = include_str!("../assets/dashboard.css");
const JS: &str = "text/javascript; charset=utf-8";

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

fn obj(v: &Value) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or("");
    let ns = s("namespace");
    if ns.is_empty() {
        format!("{}/{}", s("kind"), s("name"))
    } else {
        format!("{}/{}/{}", s("kind"), ns, s("name"))
    }
}

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

async fn page(State(s): State<Arc<DashboardState>>) -> Html<String> {
    let pending = s.pending.read().map(|p| p.clone()).unwrap_or_default();
    let can_approve = s.approver.get().is_some();
    let plan = s.netpol.read().ok().and_then(|p| p.clone());
    let rollout = s.netpol_rollout.read().ok().and_then(|r| r.clone());
    let mut findings = tokio::task::spawn_blocking(move || s.findings())
        .await
        .unwrap_or(Value::Null);
    if findings.is_object() {
        findings["pending"] = Value::Array(pending);
        findings["can_approve"] = can_approve.into();
    }
    let mut html = render(&findings);
    if let Some(plan) = plan {
        // Before the closing tags: the section sits at the page's end.
        let at = html.find("<script src=").unwrap_or(html.len());
        let mut section = String::new();
        crate::netpol_page::section(&mut section, &plan, rollout.as_ref());
        html.insert_str(at, &section);
    }
    Html(html)
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

/// The arming ladder's evidence: per class, what the engine would have done where it was held
/// back, and how each would-be action ended.
fn arming_table(h: &mut String, a: &Value) {
    let Some(history) = a["history"].as_object().filter(|h| !h.is_empty()) else {
        return;
    };
    let days = a["window_seconds"].as_u64().unwrap_or(0) / 86_400;
    h.push_str(&format!(
        "<h2>Held back (last {days} days)</h2><table id=\"arming\"><tr><th>class</th>\
         <th>would act</th><th>still wanted</th><th>expired</th><th>obsolete</th>\
         <th>false alarms</th><th>latest</th></tr>"
    ));
    for (class, c) in history {
        let n = |k: &str| c[k].as_u64().unwrap_or(0);
        let latest: Vec<String> = c["examples"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{} ({}, {})",
                    escape(e["fix"].as_str().unwrap_or("")),
                    escape(e["held"].as_str().unwrap_or("")),
                    escape(e["outcome"].as_str().unwrap_or(""))
                )
            })
            .collect();
        h.push_str(&format!(
            "<tr class=\"arming\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(class),
            n("would_act"),
            n("open"),
            n("expired"),
            n("obsolete"),
            n("false_alarms"),
            latest.join("<br>")
        ));
    }
    h.push_str("</table>");
}

/// Mitigations waiting for approval, with a button each when the dashboard may approve.
fn pending_table(h: &mut String, f: &Value) {
    let Some(pending) = f["pending"].as_array().filter(|p| !p.is_empty()) else {
        return;
    };
    let can = f["can_approve"] == true;
    h.push_str("<h2>Waiting for approval</h2><table id=\"pending\"><tr><th>mitigation</th><th>change</th><th>expires</th><th></th></tr>");
    for p in pending {
        let s = |k: &str| escape(p[k].as_str().unwrap_or(""));
        let button = if can {
            format!(
                "<button class=\"approve\" data-namespace=\"{}\" data-name=\"{}\" data-uid=\"{}\">approve</button>",
                s("namespace"),
                s("name"),
                s("uid")
            )
        } else {
            "<code>kubectl patch</code>".to_string()
        };
        h.push_str(&format!(
            "<tr class=\"pending\"><td>{}/{}</td><td>{}</td><td>{}</td><td>{button}</td></tr>",
            s("namespace"),
            s("name"),
            s("reason"),
            s("expires_at")
        ));
    }
    h.push_str("</table>");
}

/// `not exploitable — the reason`, escaped.
fn caption_text(j: &Value) -> String {
    format!(
        "{} ({:.2}) — {}",
        escape(&j["verdict"].as_str().unwrap_or("").replace('_', " ")),
        j["confidence"].as_f64().unwrap_or(0.0),
        escape(j["reason"].as_str().unwrap_or(""))
    )
}

/// One chain of the list: steps, runtime evidence, the model's verdict.
fn chain_item(h: &mut String, c: &Value) {
    let steps: Vec<String> = c["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            format!(
                "{} → {}",
                escape(s["edge"].as_str().unwrap_or("")),
                escape(&obj(&s["to"]))
            )
        })
        .collect();
    // Runtime evidence (alert text and names are attacker-controlled: escaped).
    let mut details: Vec<String> = c["evidence"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let mut s = format!(
                "{} by {} at {}: {}",
                escape(e["behaviour"].as_str().unwrap_or("")),
                escape(e["subject"].as_str().unwrap_or("")),
                escape(e["at"].as_str().unwrap_or("")),
                escape(e["summary"].as_str().unwrap_or(""))
            );
            if let Some(c) = e["candidates"].as_array().filter(|c| !c.is_empty()) {
                let names: Vec<String> =
                    c.iter().map(|n| escape(n.as_str().unwrap_or(""))).collect();
                s.push_str(&format!(" (one of: {})", names.join(", ")));
            }
            format!("<li class=\"evidence\">{s}</li>")
        })
        .collect();
    let j = &c["judgement"];
    if j.is_object() {
        let text = match j["error"].as_str() {
            Some(e) => format!("not judged: {}", escape(e)),
            None => caption_text(j),
        };
        details.push(format!("<li class=\"judgement\">model: {text}</li>"));
    }
    let technique = match c["target"]["technique"]["id"].as_str() {
        Some(id) => format!(
            " <abbr class=\"technique\" title=\"{}\">{}</abbr>",
            escape(c["target"]["technique"]["name"].as_str().unwrap_or("")),
            escape(id)
        ),
        None => String::new(),
    };
    h.push_str(&format!(
        "<li class=\"chain\" data-id=\"{}\">[{}] → {}{technique} <span class=\"step\">{}</span>{}</li>",
        escape(c["id"].as_str().unwrap_or("")),
        escape(c["confidence"].as_str().unwrap_or("")),
        escape(&obj(&c["target"])),
        steps.join(" · "),
        if details.is_empty() {
            String::new()
        } else {
            format!("<ul>{}</ul>", details.concat())
        }
    ));
}

/// While break-glass is engaged: a red banner naming every hand on the switch (names and
/// reasons are cluster-supplied: escaped).
fn break_glass_banner(h: &mut String, b: &Value) {
    if b["engaged"] != true {
        return;
    }
    let hands: Vec<String> = b["hands"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            let s = |k: &str| escape(x[k].as_str().unwrap_or(""));
            let mut line = format!("<li>{}", s("name"));
            if !s("set_by").is_empty() {
                line.push_str(&format!(" set by {}", s("set_by")));
            }
            if !s("field_manager").is_empty() {
                line.push_str(&format!(" via {}", s("field_manager")));
            }
            if !s("since").is_empty() {
                line.push_str(&format!(" at {}", s("since")));
            }
            if !s("reason").is_empty() {
                line.push_str(&format!(": {}", s("reason")));
            }
            if x["revert_all"] == true {
                line.push_str(" (revert all)");
            }
            line.push_str("</li>");
            line
        })
        .collect();
    h.push_str(&format!(
        "<div class=\"break-glass\" role=\"alert\"><strong>Break-glass engaged</strong>: rampart \
         writes nothing but reverts{}.<ul>{}</ul></div>",
        if b["revert_all"] == true {
            " and withdraws every active mitigation"
        } else {
            ""
        },
        hands.concat()
    ));
}

/// Renders the dashboard page from the findings document.
pub fn render(f: &Value) -> String {
    let mut h = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>rampart</title>\
         <link rel=\"stylesheet\" href=\"/assets/dashboard.css\" id=\"__________cytoscape_stylesheet\">\
         </head><body><h1>rampart</h1><p><a href=\"/guard\">request guard →</a></p>",
    );
    break_glass_banner(&mut h, &f["break_glass"]);
    pending_table(&mut h, f);
    arming_table(&mut h, &f["arming"]);
    h.push_str("<h2>Mitigations</h2><table id=\"mitigations\"><tr><th>cut</th><th>change</th><th>decision</th></tr>");
    for d in f["report"]["decisions"].as_array().into_iter().flatten() {
        h.push_str(&format!(
            "<tr class=\"mitigation\"><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(d["cut"].as_str().unwrap_or("")),
            escape(d["fix"].as_str().unwrap_or("")),
            escape(d["decision"].as_str().unwrap_or(""))
        ));
    }
    h.push_str("</table><h2>Attack paths</h2><div id=\"graph\"></div>");
    let chains: Vec<&Value> = f["chains"].as_array().into_iter().flatten().collect();
    for group in chains.chunk_by(|a, b| obj(&a["entry"]) == obj(&b["entry"])) {
        h.push_str(&format!(
            "<h3 class=\"entry\">{}</h3>",
            escape(&obj(&group[0]["entry"]))
        ));
        // The entry's caption: the model's call in its own words (model output: escaped),
        // an `exploitable` verdict first.
        let judged = group
            .iter()
            .map(|c| &c["judgement"])
            .filter(|j| j.is_object() && j["error"].is_null());
        let caption = judged
            .clone()
            .find(|j| j["verdict"] == "exploitable")
            .or_else(|| judged.clone().next());
        if let Some(j) = caption {
            h.push_str(&format!(
                "<p class=\"caption\" data-verdict=\"{}\">{}</p>",
                escape(j["verdict"].as_str().unwrap_or("")),
                caption_text(j)
            ));
        }
        h.push_str("<ul>");
        for c in group {
            chain_item(&mut h, c);
        }
        h.push_str("</ul>");
    }
    h.push_str("<script src=\"/assets/cytoscape.min.js\"></script><script src=\"/assets/dashboard.js\"></script></body></html>");
    h
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
            "report": {"decisions": [{"cut": "cut-1", "fix": "apply NetworkPolicy app/<b>", "decision": "propose: ClassDisabled"}]}});
        let html = render(&f);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img src=x>"));
        assert!(
            html.contains("&lt;script&gt;")
                && html.contains("web&amp;co")
                && html.contains("app/&lt;b&gt;")
        );
        assert!(html.contains("class=\"chain\"") && html.contains("class=\"mitigation\""));
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
        let captions: Vec<&str> = html.split("<p class=\"caption\"").skip(1).collect();
        assert_eq!(
            captions.len(),
            2,
            "the entry the model could not judge has none: {html}"
        );
        assert!(
            captions[0].starts_with(" data-verdict=\"exploitable\">exploitable (0.90) — log4j"),
            "an exploitable verdict captions its entry first: {html}"
        );
        assert!(captions[1].contains(
            "not exploitable (0.70) — the service never parses user input &lt;img src=x&gt;"
        ));
        assert!(!html.contains("<img"));
        assert!(
            html.contains("model: not judged: no answer within 30s"),
            "{html}"
        );
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
            html.contains("Service/app/⟨U+202E⟩gnp.exe")
                && html.contains("Secret/app⟨U+2066⟩/db⟨U+001B⟩[2J"),
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
        assert!(DASHBOARD_JS.contains("/findings"));
    }
}
