//! The engine's Prometheus metrics: one registry, every family the engine and its listeners
//! record into.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

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
    pub(super) registry: Registry,
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
