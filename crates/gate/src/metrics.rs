//! The gate's Prometheus metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub service: String,
    pub decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertLabels {
    pub service: String,
    pub route: String,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SkippedLabels {
    pub service: String,
    /// `budget` (over the per-second learning budget) or `queue-full` (the learner is behind).
    pub why: &'static str,
}

#[derive(Clone, Debug, Default)]
pub struct GateMetrics {
    /// Requests by decision (`pass`, `alert`, `block`, `error`).
    pub requests: Family<DecisionLabels, Counter>,
    /// Alerts by service, route (learned templates, or `unknown`) and reason class: bounded
    /// labels, never a value or a name from the request.
    pub alerts: Family<AlertLabels, Counter>,
    /// 1 while the pod is flagged as talking to a public peer never seen.
    pub pod_alert: Gauge,
    /// Routes in the criteria in force.
    pub routes: Gauge,
    /// Requests that could have been learned and were not, by why.
    pub learn_skipped: Family<SkippedLabels, Counter>,
    /// Syncs with the learner by outcome.
    pub syncs: Family<crate::sync::SyncLabels, Counter>,
}

impl GateMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "rampart_guard_requests",
            "Requests through the gate, by decision",
            self.requests.clone(),
        );
        r.register(
            "rampart_guard_alerts",
            "Criteria broken, by service, route and reason",
            self.alerts.clone(),
        );
        r.register(
            "rampart_guard_pod_alert",
            "1 while the pod talks to a public peer never seen (until reset)",
            self.pod_alert.clone(),
        );
        r.register(
            "rampart_guard_routes",
            "Routes in the criteria in force",
            self.routes.clone(),
        );
        r.register(
            "rampart_guard_syncs",
            "Syncs with the learner by outcome (ok, refused, failed)",
            self.syncs.clone(),
        );
        r.register(
            "rampart_guard_learn_skipped",
            "Requests not learned although learning is on, by why (budget, queue-full)",
            self.learn_skipped.clone(),
        );
    }
}
