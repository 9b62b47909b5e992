//! Retirement: a mitigation stays only while it is needed. Re-prove the cluster *without* the
//! mitigation's objects; if none of the chains it was applied for proves any more, the durable
//! fix has landed and the mitigation can retire early.

use rampart_graph::{Options, ProveOptions, analyze};
use rampart_model::{Change, ObjectKey, Snapshot};

/// Whether the chains `chains` still prove once `objects` (the mitigation's applied objects) are
/// removed from `cluster`. Every chain is listed for this question (no per-entry limit).
pub fn still_needed(cluster: &Snapshot, objects: &[ObjectKey], chains: &[String]) -> bool {
    let proving = proving_without(cluster, objects);
    chains.iter().any(|c| proving.contains(c))
}

/// The chains that prove once `objects` (every mitigation rampart applied) are taken out: a
/// mitigation whose chains are not among them can retire. One re-proof serves every
/// mitigation, and taking all of rampart's objects out keeps two mitigations of one cut from
/// each retiring the other.
pub fn proving_without(
    cluster: &Snapshot,
    objects: &[ObjectKey],
) -> std::collections::BTreeSet<String> {
    let mut without = cluster.clone();
    for k in objects {
        without.apply(Change::Delete(k.clone()));
    }
    let options = Options {
        prove: ProveOptions {
            max_chains_per_entry: 0,
        },
        ..Options::default()
    };
    let a = analyze(&without, &options);
    a.proof.chains.into_iter().map(|c| c.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_graph::cut::apply_plan;
    use rampart_graph::fix::Fix;
    use rampart_model::{Kind, ParseLimits, parse_source};

    /// web is exposed; db (reachable from web over the open network) mounts the secret. The
    /// cheapest cut is a live ingress deny on db.
    const EXPOSED: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: app}\nspec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: app, labels: {app: web}}\nspec: {containers: [{name: c, ports: [{containerPort: 8080}]}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: app, labels: {app: db}}\nspec: {volumes: [{name: s, secret: {secretName: db}}], containers: [{name: c, ports: [{containerPort: 5432}], volumeMounts: [{name: s, mountPath: /s}]}]}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: app}\n";

    fn snapshot(y: &str) -> Snapshot {
        Snapshot::from_objects(parse_source("t.yaml", y, &ParseLimits::default()).objects)
    }

    #[test]
    fn a_mitigation_retires_when_the_durable_fix_lands() {
        let cluster = snapshot(EXPOSED);
        let a = analyze(&cluster, &Options::default());
        let chains: Vec<String> = a.proof.chains.iter().map(|c| c.id.clone()).collect();
        assert!(!chains.is_empty());
        // The live cut: its NetworkPolicies are the mitigation's objects.
        let live: Vec<_> = a.plan.cuts.iter().filter(|c| c.live).cloned().collect();
        assert!(!live.is_empty(), "{:?}", a.plan.cuts);
        let objects: Vec<ObjectKey> = live
            .iter()
            .flat_map(|c| &c.fixes)
            .filter_map(|f| match f {
                Fix::AddNetworkPolicy(v) => Some(ObjectKey {
                    kind: Kind::NetworkPolicy,
                    namespace: v["metadata"]["namespace"].as_str().unwrap_or("").into(),
                    name: v["metadata"]["name"].as_str().unwrap_or("").into(),
                }),
                _ => None,
            })
            .collect();
        let mitigated = apply_plan(
            &cluster,
            &rampart_graph::CutPlan {
                cuts: live,
                ..Default::default()
            },
        );
        assert!(
            still_needed(&mitigated, &objects, &chains),
            "without it the chain is back"
        );
        // The durable fix: the Service is no longer a LoadBalancer.
        let fixed = snapshot(&EXPOSED.replace("LoadBalancer", "ClusterIP"));
        let mut fixed_and_mitigated = fixed.clone();
        for o in mitigated.of_kind(Kind::NetworkPolicy) {
            fixed_and_mitigated.apply(Change::Upsert(Box::new(o.clone())));
        }
        assert!(
            !still_needed(&fixed_and_mitigated, &objects, &chains),
            "retire"
        );
    }
}
