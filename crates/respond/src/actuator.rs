//! Actuators: how an approved network action is written to the cluster.

use serde_json::{Value, json};

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

    /// The objects that realise one of the cut's NetworkPolicies (as `rampart_graph::fix`
    /// writes them: an ingress policy that keeps allowing in-cluster and/or external sources,
    /// or an egress containment policy).
    ///
    /// With `adminnetworkpolicy`, the NetworkPolicy stays (it covers what an ANP cannot name:
    /// ANP v1alpha1 ingress peers are pods and namespaces only, so the internet, nodes and
    /// host-network sources have no ANP form) and an AdminNetworkPolicy is added on top for
    /// what it can say — an explicit Deny that a namespace's own NetworkPolicies cannot
    /// re-allow: in-cluster ingress, in-cluster egress (DNS kept).
    pub fn realise(self, np: &Value) -> Vec<Value> {
        if self != Actuator::AdminNetworkPolicy {
            return vec![np.clone()];
        }
        let ns = np["metadata"]["namespace"].as_str().unwrap_or("");
        let name = np["metadata"]["name"].as_str().unwrap_or("");
        let spec = &np["spec"];
        let types: Vec<&str> = spec["policyTypes"]
            .as_array()
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let rules = |k: &str| spec[k].as_array().cloned().unwrap_or_default();
        let peers_of = |r: &Value, k: &str| r[k].as_array().cloned().unwrap_or_default();
        let subject = json!({"pods": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            "podSelector": spec["podSelector"].clone(),
        }});
        let mut anp_spec = serde_json::Map::new();
        if types.contains(&"Ingress") {
            let ingress = rules("ingress");
            let allows_cluster = ingress.iter().any(|r| {
                peers_of(r, "from")
                    .iter()
                    .any(|p| p.get("namespaceSelector").is_some())
            });
            if !allows_cluster {
                anp_spec.insert(
                    "ingress".into(),
                    json!([{"name": "rampart-deny-in-cluster", "action": "Deny", "from": [{"namespaces": {}}]}]),
                );
            }
        }
        if types.contains(&"Egress") {
            anp_spec.insert(
                "egress".into(),
                json!([
                    {"name": "rampart-allow-dns", "action": "Allow",
                     "to": [{"pods": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                      "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}}],
                     "ports": [{"portNumber": {"protocol": "UDP", "port": 53}}, {"portNumber": {"protocol": "TCP", "port": 53}}]},
                    {"name": "rampart-deny-in-cluster", "action": "Deny", "to": [{"namespaces": {}}]},
                ]),
            );
        }
        let mut out = Vec::new();
        if !anp_spec.is_empty() {
            anp_spec.insert("priority".into(), json!(ANP_PRIORITY));
            anp_spec.insert("subject".into(), subject);
            // Cluster-scoped, so the namespace is part of the name. A dot joins them: a
            // namespace holds none, so `a` + `b-c` and `a-b` + `c` do not meet at one name (a
            // dash would let one namespace's policy replace another's), and what is not a valid
            // name is made one (see `rampart_model::names`).
            let anp_name = rampart_model::names::dns_subdomain(
                &format!("{ns}.{name}"),
                rampart_model::names::SUBDOMAIN_MAX,
            )
            .into_owned();
            out.push(json!({
                "apiVersion": "policy.networking.k8s.io/v1alpha1",
                "kind": "AdminNetworkPolicy",
                "metadata": {
                    "name": anp_name,
                    "labels": np["metadata"]["labels"].clone(),
                    "annotations": np["metadata"]["annotations"].clone(),
                },
                "spec": Value::Object(anp_spec),
            }));
        }
        out.push(np.clone());
        out
    }
}

/// Priority of rampart's AdminNetworkPolicies (0–1000, lower wins): high enough to override
/// ordinary platform allows, leaving 0–9 to the platform team's own emergency rules.
pub const ANP_PRIORITY: u32 = 10;

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

    fn np(ingress: Value, types: &[&str]) -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "rampart-ingress-db", "namespace": "app", "labels": {"rampart.dev/proposal": "true"}},
            "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": types, "ingress": ingress}})
    }

    #[test]
    fn networkpolicy_realises_itself() {
        let p = np(json!([]), &["Ingress"]);
        assert_eq!(Actuator::NetworkPolicy.realise(&p), vec![p]);
    }

    #[test]
    fn adminnetworkpolicy_denies_in_cluster_explicitly_and_keeps_external_denies_as_networkpolicy()
    {
        let internet = json!({"ipBlock": {"cidr": "0.0.0.0/0"}});
        // In-cluster denied, external allowed: the ANP on top of the NetworkPolicy (which also
        // covers non-pod in-cluster sources the ANP cannot name).
        let lateral = np(json!([{"from": [internet]}]), &["Ingress"]);
        let out = Actuator::AdminNetworkPolicy.realise(&lateral);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], lateral);
        assert_eq!(out[0]["kind"], "AdminNetworkPolicy");
        assert_eq!(out[0]["spec"]["ingress"][0]["action"], "Deny");
        assert_eq!(
            out[0]["spec"]["ingress"][0]["from"],
            json!([{"namespaces": {}}])
        );
        assert_eq!(
            out[0]["spec"]["subject"]["pods"]["podSelector"]["matchLabels"]["app"],
            "db"
        );
        assert_eq!(
            out[0]["spec"]["subject"]["pods"]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            "app"
        );
        assert!(
            out[0]["metadata"].get("namespace").is_none(),
            "cluster-scoped"
        );
        // External denied, in-cluster allowed: nothing an ANP can say; the NetworkPolicy stays.
        let exposed = np(json!([{"from": [{"namespaceSelector": {}}]}]), &["Ingress"]);
        assert_eq!(
            Actuator::AdminNetworkPolicy.realise(&exposed),
            vec![exposed.clone()]
        );
        // Both denied: the ANP for in-cluster, the NetworkPolicy for the internet.
        let both = np(json!([]), &["Ingress"]);
        let out = Actuator::AdminNetworkPolicy.realise(&both);
        assert_eq!(
            out.iter()
                .map(|o| o["kind"].as_str().unwrap())
                .collect::<Vec<_>>(),
            vec!["AdminNetworkPolicy", "NetworkPolicy"]
        );
        assert_eq!(out[0]["metadata"]["name"], "app.rampart-ingress-db");
        // Egress containment: DNS allowed first, then in-cluster denied.
        let egress = np(Value::Null, &["Egress"]);
        let out = Actuator::AdminNetworkPolicy.realise(&egress);
        assert_eq!(out[0]["spec"]["egress"][0]["action"], "Allow");
        assert_eq!(out[0]["spec"]["egress"][1]["action"], "Deny");
    }

    #[test]
    fn adminnetworkpolicy_names_are_valid_and_never_shared() {
        let named = |ns: &str, name: &str| {
            let mut p = np(json!([]), &["Ingress"]);
            p["metadata"]["namespace"] = ns.into();
            p["metadata"]["name"] = name.into();
            Actuator::AdminNetworkPolicy.realise(&p)[0]["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        };
        // Two namespaces whose names run together with a dash.
        assert_ne!(
            named("a", "rampart-ingress-b-c"),
            named("a-rampart-ingress-b", "c")
        );
        let long = "x".repeat(300);
        for (ns, name) in [("App", "<script>"), ("app", long.as_str()), ("", "")] {
            let n = named(ns, name);
            assert!(
                rampart_model::names::is_dns_subdomain(&n),
                "{ns:?} {name:?} -> {n:?}"
            );
        }
    }
}
