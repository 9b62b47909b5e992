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

    /// Whether this actuator can realise a live cut's object of kind `kind` (dry-run records
    /// any): a cut in the admin layer needs the `adminnetworkpolicy` actuator, as a cluster
    /// whose operator chose NetworkPolicies may not grant rampart AdminNetworkPolicies.
    pub fn realises(self, kind: &str) -> bool {
        match self {
            Actuator::DryRun | Actuator::AdminNetworkPolicy => true,
            Actuator::NetworkPolicy => kind == "NetworkPolicy",
        }
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
    ///
    /// A cut's own AdminNetworkPolicy (a Deny where admin policies judge the step) is itself,
    /// for an actuator that [`Actuator::realises`] it; nothing otherwise.
    pub fn realise(self, np: &Value) -> Vec<Value> {
        if np["kind"] != "NetworkPolicy" {
            let kind = np["kind"].as_str().unwrap_or_default();
            return if self.realises(kind) {
                vec![np.clone()]
            } else {
                Vec::new()
            };
        }
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
        // Contained egress (no rule to every namespace: a policy denying only the internet
        // keeps the cluster, which an ANP must not take away): DNS allowed, the destinations
        // the policy keeps passed to it, the rest of the cluster denied.
        let egress = rules("egress");
        let keeps_cluster = egress.iter().any(|r| {
            peers_of(r, "to").iter().any(|p| {
                p.get("namespaceSelector") == Some(&json!({})) && p.get("podSelector").is_none()
            })
        });
        if types.contains(&"Egress") && !keeps_cluster {
            let mut out = vec![json!(
                {"name": "rampart-allow-dns", "action": "Allow",
                 "to": [{"pods": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                  "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}}],
                 "ports": [{"portNumber": {"protocol": "UDP", "port": 53}}, {"portNumber": {"protocol": "TCP", "port": 53}}]}
            )];
            let kept: Vec<Value> = egress
                .iter()
                .filter(|r| r.get("ports").is_none())
                .flat_map(|r| peers_of(r, "to"))
                .filter_map(|p| {
                    let ns = p.get("namespaceSelector")?;
                    let pods = p.get("podSelector")?;
                    Some(json!({"pods": {"namespaceSelector": ns, "podSelector": pods}}))
                })
                .collect();
            if !kept.is_empty() {
                out.push(json!({"name": "rampart-pass-kept", "action": "Pass", "to": kept}));
            }
            out.push(json!({"name": "rampart-deny-in-cluster", "action": "Deny", "to": [{"namespaces": {}}]}));
            anp_spec.insert("egress".into(), Value::Array(out));
        }
        let mut out = Vec::new();
        if !anp_spec.is_empty() {
            anp_spec.insert(
                "priority".into(),
                json!(rampart_graph::fix::ADMIN_DENY_PRIORITY),
            );
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
    fn a_cuts_own_adminnetworkpolicy_is_written_by_its_actuator_only() {
        let deny = json!({"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
            "metadata": {"name": "rampart-deny-app.db-1"},
            "spec": {"priority": 9, "subject": {"pods": {"namespaceSelector": {}, "podSelector": {}}},
                     "ingress": [{"name": "rampart-deny", "action": "Deny", "from": [{"namespaces": {}}]}]}});
        assert_eq!(
            Actuator::AdminNetworkPolicy.realise(&deny),
            vec![deny.clone()]
        );
        assert!(Actuator::NetworkPolicy.realise(&deny).is_empty());
        assert!(!Actuator::NetworkPolicy.realises("AdminNetworkPolicy"));
        assert!(Actuator::NetworkPolicy.realises("NetworkPolicy"));
        assert!(Actuator::DryRun.realises("AdminNetworkPolicy"));
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

    /// The egress policies the cut writes, realised: containment keeps what it keeps, a deny of
    /// the internet alone gets no ANP (it would take the cluster away).
    #[test]
    fn adminnetworkpolicy_egress_keeps_what_the_networkpolicy_keeps() {
        let w = rampart_graph::fix::WorkloadKey {
            namespace: "app".into(),
            kind: rampart_model::WorkloadKind::Deployment,
            name: "web".into(),
            pods: Vec::new(),
        };
        let sel: rampart_model::Labels = [("app".to_string(), "web".to_string())]
            .into_iter()
            .collect();
        let kept: rampart_model::Labels = [("app".to_string(), "db".to_string())]
            .into_iter()
            .collect();
        let policy = |intent: &rampart_graph::fix::NetIntent| {
            rampart_graph::fix::network_policies(&w, &sel, intent, "t")
                .into_iter()
                .find(|p| p["spec"]["policyTypes"] == json!(["Egress"]))
                .unwrap()
        };
        let exfil = policy(&rampart_graph::fix::NetIntent {
            deny_internet_egress: true,
            ..Default::default()
        });
        assert_eq!(
            Actuator::AdminNetworkPolicy.realise(&exfil),
            vec![exfil.clone()]
        );
        let contained = policy(&rampart_graph::fix::NetIntent {
            contain_egress: true,
            keep_egress_to: [("data".to_string(), kept)].into(),
            ..Default::default()
        });
        let out = Actuator::AdminNetworkPolicy.realise(&contained);
        assert_eq!(out.len(), 2);
        let rules = &out[0]["spec"]["egress"];
        assert_eq!(rules[0]["name"], "rampart-allow-dns");
        assert_eq!(rules[1]["action"], "Pass");
        assert_eq!(
            rules[1]["to"],
            json!([{"pods": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "data"}},
                             "podSelector": {"matchLabels": {"app": "db"}}}}])
        );
        assert_eq!(rules[2]["action"], "Deny");
        assert_eq!(rules.as_array().map(Vec::len), Some(3));
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
