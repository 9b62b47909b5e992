//! Which Guardian a service's gate follows: the service's own (named after the service, in its
//! namespace), else the namespace's default (named [`NAMESPACE_DEFAULT`]), else the cluster
//! default — which learns and alerts but never blocks, so a gate injected before anyone wrote a
//! Guardian can never refuse a request.
//!
//! A namespace default lends its `spec` (mode, learning policy, configured criteria); what is
//! learned is always the service's own (the learner writes it in the service's Guardian).

use rampart_api::{GuardControl, GuardMode, Guardian, GuardianSpec};

/// The name of a namespace's default Guardian.
pub const NAMESPACE_DEFAULT: &str = "default";

/// Where the Guardian in force came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The service's own Guardian.
    Service,
    /// The namespace's default, for a service without its own.
    NamespaceDefault,
    /// Built in: learn and alert, never block.
    ClusterDefault,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::NamespaceDefault => "namespace-default",
            Self::ClusterDefault => "cluster-default",
        }
    }
}

/// Labels that name the service a pod belongs to, in order: rampart's own, then the
/// recommended and the common application label.
pub const SERVICE_LABELS: [&str; 3] =
    ["rampart.dev/guard-service", "app.kubernetes.io/name", "app"];

/// The service a pod's gate guards, from the pod's labels (the learner reads them from the
/// API server; the injection webhook names the gate's `--service` the same way).
pub fn service_of(labels: &std::collections::BTreeMap<String, String>) -> Option<&str> {
    SERVICE_LABELS
        .iter()
        .find_map(|k| labels.get(*k))
        .map(String::as_str)
        .filter(|s| !s.is_empty())
}

/// The cluster default's spec: learn and alert, never block.
pub fn cluster_default() -> GuardianSpec {
    GuardianSpec::with_control(GuardControl {
        mode: GuardMode::Alert,
        learn: true,
        ..GuardControl::default()
    })
}

/// The Guardian a service's gate follows, among `guardians` (any namespaces), and where its
/// control came from. The service's own Guardian (status included) with what its spec leaves
/// unset (`control`, `configured`) taken from the namespace default, else the cluster default;
/// without one, a Guardian named after the service made from those defaults. The returned
/// spec's `control` is always set.
pub fn lookup<'a>(
    guardians: impl IntoIterator<Item = &'a Guardian> + Clone,
    namespace: &str,
    service: &str,
) -> (Guardian, Source) {
    let find = |name: &str| {
        guardians.clone().into_iter().find(|g| {
            g.metadata.namespace.as_deref() == Some(namespace)
                && g.metadata.name.as_deref() == Some(name)
        })
    };
    let mut g = find(service).cloned().unwrap_or_else(|| {
        let mut g = Guardian::new(service, GuardianSpec::default());
        g.metadata.namespace = Some(namespace.to_string());
        g
    });
    let fallback = find(NAMESPACE_DEFAULT).map(|d| &d.spec);
    let source = match (&g.spec.control, fallback.and_then(|d| d.control.as_ref())) {
        (Some(_), _) => Source::Service,
        (None, Some(c)) => {
            g.spec.control = Some(c.clone());
            Source::NamespaceDefault
        }
        (None, None) => {
            g.spec.control = cluster_default().control;
            Source::ClusterDefault
        }
    };
    if g.spec.configured.is_none() {
        g.spec.configured = fallback.and_then(|d| d.configured.clone());
    }
    (g, source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_api::{Criteria, GuardianStatus};

    fn guardian(ns: &str, name: &str, mode: GuardMode) -> Guardian {
        let mut spec = GuardianSpec::default();
        spec.control_mut().mode = mode;
        let mut g = Guardian::new(name, spec);
        g.metadata.namespace = Some(ns.into());
        g
    }

    #[test]
    fn the_service_then_the_namespace_default_then_the_cluster_default() {
        let mut own = guardian("shop", "api", GuardMode::Block);
        own.status = Some(GuardianStatus {
            learned: Some(Criteria::default()),
            samples: 7,
            last_learned: None,
            learning_since: None,
        });
        let all = vec![
            own,
            guardian("shop", NAMESPACE_DEFAULT, GuardMode::Learn),
            guardian("other", "web", GuardMode::Block),
        ];
        let (g, s) = lookup(&all, "shop", "api");
        assert_eq!(
            (s, g.spec.control().mode, g.samples()),
            (Source::Service, GuardMode::Block, 7)
        );

        let (g, s) = lookup(&all, "shop", "cart");
        assert_eq!(s, Source::NamespaceDefault);
        assert_eq!(g.spec.control().mode, GuardMode::Learn);
        assert_eq!(g.metadata.name.as_deref(), Some("cart"));
        assert_eq!(g.metadata.namespace.as_deref(), Some("shop"));

        // Another namespace's Guardian of the same name is not this service's.
        let (g, s) = lookup(&all, "payments", "web");
        assert_eq!(s, Source::ClusterDefault);
        assert_eq!(
            g.spec.control().mode,
            GuardMode::Alert,
            "the cluster default never blocks"
        );
        assert!(g.spec.control().learn);

        // A Guardian the learner made for a service (its spec empty, its status learned)
        // follows the namespace default's control, and keeps its own status.
        let mut learned = Guardian::new("cart", GuardianSpec::default());
        learned.metadata.namespace = Some("shop".into());
        learned.status = Some(GuardianStatus {
            learned: Some(Criteria::default()),
            samples: 9,
            last_learned: None,
            learning_since: None,
        });
        let mut all = all;
        all.push(learned);
        let (g, s) = lookup(&all, "shop", "cart");
        assert_eq!(
            (s, g.spec.control().mode, g.samples()),
            (Source::NamespaceDefault, GuardMode::Learn, 9)
        );
        let (g, s) = lookup(&all[3..], "shop", "cart");
        assert_eq!(
            (s, g.spec.control().mode),
            (Source::ClusterDefault, GuardMode::Alert)
        );
    }
}
