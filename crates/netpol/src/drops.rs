//! Drops under rampart's own policies: which of the policies a rollout applied selects the pod
//! a dropped flow was dropped at — the receiver for an ingress policy, the sender for an egress
//! one. The engine reverts what is blamed at once.

use rampart_model::{LabelSelector, Labels};
use serde_json::Value;

use crate::attribute::Cluster;
use crate::flow::{Direction, Endpoint, Flow, Verdict};

/// Whether a flow is a drop a NetworkPolicy can have made: dropped, and the capture's reason
/// names a policy or names nothing (Hubble `POLICY_DENIED`; older captures leave it out).
pub fn by_policy(flow: &Flow) -> bool {
    flow.verdict == Verdict::Dropped
        && flow
            .drop_reason
            .as_deref()
            .is_none_or(|r| r.to_ascii_uppercase().contains("POLICY"))
}

/// The flow in words, for the ledger: `shop/web-1 (10.0.1.5) -> shop/db-0 (10.0.2.7) TCP 5432`.
pub fn describe(flow: &Flow) -> String {
    let side = |e: &Endpoint| {
        let name = match (&e.namespace, &e.pod) {
            (Some(ns), Some(pod)) => format!("{ns}/{pod}"),
            _ => e
                .entity
                .map(|x| x.as_str().to_string())
                .unwrap_or_else(|| "?".into()),
        };
        match e.ip {
            Some(ip) => format!("{name} ({ip})"),
            None => name,
        }
    };
    let proto = flow.protocol.map_or("?", |p| p.as_str());
    format!(
        "{} -> {} {proto} {}",
        side(&flow.src),
        side(&flow.dst),
        flow.dst_port
    )
}

/// The label sets an endpoint's pod may carry: the capture's own (Hubble's `k8s:` labels),
/// else those of the workload the model attributes it to.
fn labels_of(cluster: &Cluster<'_>, e: &Endpoint) -> Vec<(String, Labels)> {
    if let Some(ns) = &e.namespace
        && !e.labels.is_empty()
    {
        return vec![(ns.clone(), e.labels.iter().cloned().collect())];
    }
    let workloads = cluster.workloads();
    cluster
        .workloads_of(e)
        .into_iter()
        .flat_map(|w| {
            let w = &workloads.list[w.index()];
            w.groups
                .iter()
                .map(|g| (w.namespace.clone(), g.labels.clone()))
        })
        .collect()
}

/// One policy as blame reads it: which pods, which directions.
struct Blamable {
    index: usize,
    /// `None`: a selector that does not read — blamed: reverting is the safe way to be wrong.
    selector: Option<LabelSelector>,
    ingress: bool,
    egress: bool,
}

/// Policies indexed for blame (read once, asked for many drops).
pub struct Policies {
    by_namespace: std::collections::HashMap<String, Vec<Blamable>>,
}

impl Policies {
    /// Reads `networking.k8s.io/v1` manifests; a drop is blamed on their indices.
    pub fn new(policies: &[&Value]) -> Policies {
        let mut by_namespace: std::collections::HashMap<String, Vec<Blamable>> =
            std::collections::HashMap::new();
        for (index, p) in policies.iter().enumerate() {
            let Some(ns) = p["metadata"]["namespace"].as_str() else {
                continue;
            };
            let spec = &p["spec"];
            let types: Vec<&str> = spec["policyTypes"]
                .as_array()
                .map(|t| t.iter().filter_map(Value::as_str).collect())
                // The API server's default: Ingress, and Egress when egress rules exist.
                .unwrap_or_else(|| {
                    let mut t = vec!["Ingress"];
                    if spec.get("egress").is_some() {
                        t.push("Egress");
                    }
                    t
                });
            by_namespace
                .entry(ns.to_owned())
                .or_default()
                .push(Blamable {
                    index,
                    selector: serde_json::from_value(spec["podSelector"].clone()).ok(),
                    ingress: types.contains(&"Ingress"),
                    egress: types.contains(&"Egress"),
                });
        }
        Policies { by_namespace }
    }

    /// The indices of the policies a dropped `flow` may be blamed on: those selecting the
    /// receiver for ingress, or the sender for egress (both when the capture does not say
    /// where it was dropped). An ingress drop counts only when its sender is a workload of the
    /// cluster: anyone on the internet can send packets to a port no policy allows, and must
    /// not be able to make the rollout fail open. Empty for a flow that is not a policy drop.
    pub fn blame(&self, cluster: &Cluster<'_>, flow: &Flow) -> Vec<usize> {
        if !by_policy(flow) {
            return Vec::new();
        }
        let inside = || !cluster.workloads_of(&flow.src).is_empty();
        let sides: &[(Direction, &Endpoint)] = match flow.direction {
            Some(Direction::Ingress) if inside() => &[(Direction::Ingress, &flow.dst)],
            Some(Direction::Ingress) => &[],
            Some(Direction::Egress) => &[(Direction::Egress, &flow.src)],
            None if inside() => &[
                (Direction::Ingress, &flow.dst),
                (Direction::Egress, &flow.src),
            ],
            None => &[(Direction::Egress, &flow.src)],
        };
        let mut out = Vec::new();
        for &(direction, e) in sides {
            for (ns, labels) in labels_of(cluster, e) {
                for b in self.by_namespace.get(&ns).into_iter().flatten() {
                    let applies = match direction {
                        Direction::Ingress => b.ingress,
                        Direction::Egress => b.egress,
                    };
                    if applies
                        && b.selector.as_ref().is_none_or(|s| s.matches(&labels))
                        && !out.contains(&b.index)
                    {
                        out.push(b.index);
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{Snapshot, Workloads};
    use serde_json::json;

    fn flow(line: &str) -> Flow {
        crate::hubble::parse_line(line.as_bytes()).unwrap().unwrap()
    }

    const DROP: &str = r#"{"flow":{"time":"2026-12-06T10:00:00.5Z","verdict":"DROPPED","drop_reason_desc":"POLICY_DENIED","traffic_direction":"INGRESS","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":40000,"destination_port":5432,"flags":{"SYN":true}}},"source":{"namespace":"shop","pod_name":"web-1","labels":["k8s:app=web"]},"destination":{"namespace":"shop","pod_name":"db-0","labels":["k8s:app=db"]}}}"#;

    fn policies() -> Vec<Value> {
        vec![
            json!({"metadata": {"namespace": "shop", "name": "db-ingress"},
                "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]}}),
            json!({"metadata": {"namespace": "shop", "name": "web-egress"},
                "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Egress"]}}),
            json!({"metadata": {"namespace": "shop", "name": "deny"},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}),
            json!({"metadata": {"namespace": "other", "name": "deny"},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}),
        ]
    }

    const CLUSTER: &str = "
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: web}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c, image: db}]}
";

    #[test]
    fn a_drop_is_blamed_on_the_policies_of_the_side_that_dropped_it() {
        let parsed = rampart_model::parse_source("c.yaml", CLUSTER, &Default::default());
        let snapshot = Snapshot::from_objects(parsed.objects);
        let workloads = Workloads::build(&snapshot);
        let cluster = Cluster::new(&snapshot, &workloads);
        let p = policies();
        let refs: Vec<&Value> = p.iter().collect();
        let policies = Policies::new(&refs);
        let f = flow(DROP);
        assert_eq!(f.time, Some(1_796_551_200));
        assert_eq!(
            policies.blame(&cluster, &f),
            [0, 2],
            "the receiver's ingress"
        );
        let egress = flow(&DROP.replace("INGRESS", "EGRESS"));
        assert_eq!(
            policies.blame(&cluster, &egress),
            [1, 2],
            "the sender's egress"
        );
        let unsaid = flow(&DROP.replace(r#""traffic_direction":"INGRESS","#, ""));
        assert_eq!(policies.blame(&cluster, &unsaid), [0, 1, 2]);
        let other = flow(&DROP.replace("POLICY_DENIED", "CT_MAP_INSERTION_FAILED"));
        assert!(
            policies.blame(&cluster, &other).is_empty(),
            "not a policy's drop"
        );
        let passed = flow(&DROP.replace("DROPPED", "FORWARDED"));
        assert!(policies.blame(&cluster, &passed).is_empty());
        assert_eq!(
            describe(&f),
            "shop/web-1 (10.0.0.1) -> shop/db-0 (10.0.0.2) TCP 5432"
        );
        // From the internet: not production traffic the rollout must keep (anyone can send it).
        let world = DROP.replace(
            r#""source":{"namespace":"shop","pod_name":"web-1","labels":["k8s:app=web"]}"#,
            r#""source":{"labels":["reserved:world"]}"#,
        );
        assert_ne!(world, DROP);
        assert!(policies.blame(&cluster, &flow(&world)).is_empty());
        let world_unsaid = world.replace(r#""traffic_direction":"INGRESS","#, "");
        assert!(
            policies.blame(&cluster, &flow(&world_unsaid)).is_empty(),
            "the world's side has no egress policy of ours"
        );
    }
}
