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

/// The cluster default's spec: learn and alert, never block.
pub fn cluster_default() -> GuardianSpec {
    GuardianSpec {
        control: GuardControl {
            mode: GuardMode::Alert,
            learn: true,
            ..GuardControl::default()
        },
        configured: None,
    }
}

/// The Guardian a service's gate follows, among `guardians` (any namespaces), and where it
/// came from. A service's own Guardian is returned as it is, status included; otherwise a
/// Guardian named after the service is made from the default's spec, with the service's own
/// learned status when there is one.
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
    if let Some(g) = find(service) {
        return (g.clone(), Source::Service);
    }
    let (spec, source) = match find(NAMESPACE_DEFAULT) {
        Some(d) => (d.spec.clone(), Source::NamespaceDefault),
        None => (cluster_default(), Source::ClusterDefault),
    };
    let mut g = Guardian::new(service, spec);
    g.metadata.namespace = Some(namespace.to_string());
    (g, source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_api::{Criteria, GuardianStatus};

    fn guardian(ns: &str, name: &str, mode: GuardMode) -> Guardian {
        let mut spec = GuardianSpec::default();
        spec.control.mode = mode;
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
        });
        let all = vec![
            own,
            guardian("shop", NAMESPACE_DEFAULT, GuardMode::Learn),
            guardian("other", "web", GuardMode::Block),
        ];
        let (g, s) = lookup(&all, "shop", "api");
        assert_eq!(
            (s, g.spec.control.mode, g.samples()),
            (Source::Service, GuardMode::Block, 7)
        );

        let (g, s) = lookup(&all, "shop", "cart");
        assert_eq!(s, Source::NamespaceDefault);
        assert_eq!(g.spec.control.mode, GuardMode::Learn);
        assert_eq!(g.metadata.name.as_deref(), Some("cart"));
        assert_eq!(g.metadata.namespace.as_deref(), Some("shop"));

        // Another namespace's Guardian of the same name is not this service's.
        let (g, s) = lookup(&all, "payments", "web");
        assert_eq!(s, Source::ClusterDefault);
        assert_eq!(
            g.spec.control.mode,
            GuardMode::Alert,
            "the cluster default never blocks"
        );
        assert!(g.spec.control.learn);
    }
}
