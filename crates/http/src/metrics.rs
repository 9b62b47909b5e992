//! Prometheus metrics of the HTTP surfaces (OpenMetrics text, which Prometheus reads).

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Outcome of one admission request.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Outcome {
    /// Allowed without remarks.
    Allowed,
    /// Allowed with warnings.
    Warned,
    /// Allowed with a patch.
    Mutated,
    /// Denied.
    Denied,
    /// Rejected as malformed (HTTP 400).
    Invalid,
}

/// Labels of the request counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `validate` or `mutate`.
    pub endpoint: &'static str,
    /// Kind of the admitted object (`unknown` when the review did not parse).
    pub kind: String,
    /// `CREATE`, `UPDATE`, … (`unknown` when the review did not parse).
    pub operation: String,
    /// The outcome.
    pub decision: Outcome,
}

/// Labels of the error counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// `body_too_large`, `malformed_json`, `no_request`, `unexpected_shape`, `patch`.
    pub reason: &'static str,
}

/// Labels of the watch error counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// `namespaces`, `securitypolicies`, `clustersecuritypolicies`.
    pub source: &'static str,
}

/// Labels of the image verification counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ImageLabels {
    /// `verified`, or the reason it did not verify (`no-signature`, `wrong-identity`,
    /// `bad-signature`, …), `unavailable` (registry or root), `bad-reference`.
    pub result: &'static str,
    /// Whether the verdict came from the cache.
    pub cached: bool,
}

/// The webhook's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests by endpoint, kind, operation and decision.
    pub requests: Family<RequestLabels, Counter>,
    /// Time from body received to response built, in seconds.
    pub latency: Histogram,
    /// Requests that could not be evaluated, by reason.
    pub errors: Family<ErrorLabels, Counter>,
    /// Certificate reloads that failed (the previous certificate stays in use).
    pub cert_reload_errors: Counter,
    /// Certificate reloads that installed a new certificate.
    pub cert_reloads: Counter,
    /// Watch failures (each is retried; a relist follows an expired version).
    pub watch_errors: Family<SourceLabels, Counter>,
    /// Stored policies ignored because they are invalid.
    pub invalid_policies: Counter,
    /// Connections of the webhook's listener.
    pub serve: crate::serve::ServeMetrics,
    /// Image signature verdicts, by result and whether cached.
    pub image_verifications: Family<ImageLabels, Counter>,
    /// Time to verify the images of one review (registry calls included), in seconds.
    pub image_latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("rampart");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "admission_requests",
            "Admission requests by endpoint, kind, operation and decision",
            requests.clone(),
        );
        // 10 µs … ~80 ms.
        let latency = Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
            1e-5, 2.0, 14,
        ));
        registry.register(
            "admission_duration_seconds",
            "Time to evaluate one admission review, parsing included",
            latency.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "admission_errors",
            "Admission requests that could not be evaluated, by reason",
            errors.clone(),
        );
        let cert_reloads = Counter::default();
        registry.register(
            "tls_certificate_reloads",
            "TLS certificate reloads that installed a new certificate",
            cert_reloads.clone(),
        );
        let cert_reload_errors = Counter::default();
        registry.register(
            "tls_certificate_reload_errors",
            "TLS certificate reloads that failed (the previous certificate stays in use)",
            cert_reload_errors.clone(),
        );
        let watch_errors = Family::<SourceLabels, Counter>::default();
        registry.register(
            "watch_errors",
            "Watch failures by source (retried with backoff; expired versions relist)",
            watch_errors.clone(),
        );
        let invalid_policies = Counter::default();
        registry.register(
            "invalid_policies",
            "Stored SecurityPolicies ignored because they are invalid",
            invalid_policies.clone(),
        );
        let image_verifications = Family::<ImageLabels, Counter>::default();
        registry.register(
            "image_verifications",
            "Image signature verdicts by result, and whether they came from the cache",
            image_verifications.clone(),
        );
        // 10 µs … ~10 s.
        let image_latency = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(1e-5, 3.0, 16),
        );
        registry.register(
            "image_verification_duration_seconds",
            "Time to verify the images of one admission review, registry calls included",
            image_latency.clone(),
        );
        let serve = crate::serve::ServeMetrics::register(&mut registry);
        Metrics {
            image_verifications,
            image_latency,
            serve,
            watch_errors,
            invalid_policies,
            registry,
            requests,
            latency,
            errors,
            cert_reload_errors,
            cert_reloads,
        }
    }
}

impl Metrics {
    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
