//! The learner's Prometheus metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

/// Metrics of `rampart learner`.
#[derive(Clone, Debug)]
pub struct LearnerMetrics {
    /// Syncs by outcome (`ok`, `unauthenticated`, `wrong_service`, `too_large`, ...).
    pub syncs: Family<OutcomeLabels, Counter>,
    /// Samples the merges added (a re-sent pile adds none).
    pub samples_merged: Counter,
    /// Services kept.
    pub services: Gauge,
    /// Samples in all services' piles.
    pub samples: Gauge,
    /// Time to read and merge one sync.
    pub merge_seconds: Histogram,
    /// Time to learn one service's criteria.
    pub learn_seconds: Histogram,
    /// Guardian status writes by outcome.
    pub persists: Family<OutcomeLabels, Counter>,
    /// Pod alerts by outcome (`reported`, `refused_unverified`).
    pub pod_alerts: Family<OutcomeLabels, Counter>,
    /// Events for the engine by outcome (`sent`, `refused`, `failed`, `dropped`, `no_engine`).
    pub events: Family<OutcomeLabels, Counter>,
    /// Services whose learning window passed (criteria frozen).
    pub frozen: Counter,
}

impl Default for LearnerMetrics {
    fn default() -> Self {
        LearnerMetrics {
            syncs: Family::default(),
            samples_merged: Counter::default(),
            services: Gauge::default(),
            samples: Gauge::default(),
            merge_seconds: Histogram::new(exponential_buckets(1e-5, 4.0, 10)),
            learn_seconds: Histogram::new(exponential_buckets(1e-4, 4.0, 10)),
            persists: Family::default(),
            pod_alerts: Family::default(),
            events: Family::default(),
            frozen: Counter::default(),
        }
    }
}

impl LearnerMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "rampart_learner_syncs",
            "Gate syncs by outcome",
            self.syncs.clone(),
        );
        r.register(
            "rampart_learner_samples_merged",
            "Samples the gates' syncs added (a re-sent pile adds none)",
            self.samples_merged.clone(),
        );
        r.register(
            "rampart_learner_services",
            "Services whose piles the learner keeps",
            self.services.clone(),
        );
        r.register(
            "rampart_learner_samples",
            "Samples in all services' piles",
            self.samples.clone(),
        );
        r.register(
            "rampart_learner_merge_seconds",
            "Time to read and merge one sync",
            self.merge_seconds.clone(),
        );
        r.register(
            "rampart_learner_learn_seconds",
            "Time to learn one service's criteria",
            self.learn_seconds.clone(),
        );
        r.register(
            "rampart_learner_persists",
            "Guardian status writes by outcome",
            self.persists.clone(),
        );
        r.register(
            "rampart_learner_pod_alerts",
            "Pod alerts from gates by outcome (reported, refused_unverified)",
            self.pod_alerts.clone(),
        );
        r.register(
            "rampart_learner_frozen",
            "Services whose learning window passed (criteria frozen)",
            self.frozen.clone(),
        );
        r.register(
            "rampart_learner_events",
            "Guard events for the engine by outcome",
            self.events.clone(),
        );
    }

    pub(crate) fn sync(&self, outcome: &'static str) {
        self.syncs.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    pub(crate) fn persist(&self, outcome: &'static str) {
        self.persists
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub(crate) fn pod_alert(&self, outcome: &'static str) {
        self.pod_alerts
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub(crate) fn events(&self, outcome: &'static str) {
        self.events_n(outcome, 1);
    }

    pub(crate) fn events_n(&self, outcome: &'static str, n: u64) {
        self.events
            .get_or_create(&OutcomeLabels { outcome })
            .inc_by(n);
    }
}
