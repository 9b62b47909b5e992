//! Actuators: how an approved network action is written to the cluster.

/// The writer of network actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Actuator {
    /// Write nothing; record and report only (the default).
    #[default]
    DryRun,
    /// networking.k8s.io/v1 NetworkPolicies.
    NetworkPolicy,
    /// policy.networking.k8s.io AdminNetworkPolicy with an explicit Deny rule.
    AdminNetworkPolicy,
}

impl Actuator {
    /// Parses a setting. An empty or unknown value fails safe to [`Actuator::DryRun`] and says
    /// why, so a typo never turns the engine into something that writes.
    pub fn parse(s: &str) -> (Actuator, Option<String>) {
        match s.trim() {
            "dryrun" | "dry-run" => (Actuator::DryRun, None),
            "networkpolicy" => (Actuator::NetworkPolicy, None),
            "adminnetworkpolicy" => (Actuator::AdminNetworkPolicy, None),
            "" => (
                Actuator::DryRun,
                Some("no actuator set: running dry-run (nothing is written)".into()),
            ),
            other => (
                Actuator::DryRun,
                Some(format!(
                    "unknown actuator {other:?} (dryrun, networkpolicy, adminnetworkpolicy): running dry-run"
                )),
            ),
        }
    }
    /// Whether this actuator writes to the cluster.
    pub fn writes(self) -> bool {
        self != Actuator::DryRun
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_empty_fail_safe() {
        assert_eq!(
            Actuator::parse("networkpolicy"),
            (Actuator::NetworkPolicy, None)
        );
        let (a, w) = Actuator::parse("netpol");
        assert_eq!(a, Actuator::DryRun);
        assert!(w.unwrap_or_default().contains("netpol"));
        assert_eq!(Actuator::parse("").0, Actuator::DryRun);
        assert!(!Actuator::parse("bogus").0.writes());
    }
}
