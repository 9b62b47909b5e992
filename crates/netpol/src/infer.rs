//! A cluster model read off the flows themselves, for captures that come without a dump:
//! every pod an endpoint names becomes a Pod (its labels, its address, an owner guessed from
//! how controllers name pods), every Service an endpoint was addressed to a Service selecting
//! the labels the capture gives for it. Objects a real dump has always win: inferred ones are
//! only added where the dump has nothing of that name.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::collect::Collector;

/// The controller kind and name a pod's name suggests: `web-5d8f6c7b9-x2k4q` (Deployment
/// `web`), `db-0` (StatefulSet `db`), `agent-x2k4q` (DaemonSet `agent`); `None` when the name
/// has none of these shapes.
pub fn owner_of_pod_name(pod: &str) -> Option<(&'static str, &str)> {
    let (rest, last) = pod.rsplit_once('-')?;
    // Controllers' random suffixes and template hashes use Kubernetes' safe alphabet: no
    // vowels, no 0, 1 or 3 (so no word is ever mistaken for one).
    let alnum = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
    };
    if !rest.is_empty()
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && last.len() <= 5
    {
        return Some(("StatefulSet", rest));
    }
    if last.len() != 5 || !alnum(last) {
        return None;
    }
    if let Some((name, hash)) = rest.rsplit_once('-')
        && (5..=10).contains(&hash.len())
        && alnum(hash)
        && !name.is_empty()
    {
        return Some(("Deployment", name));
    }
    (!rest.is_empty()).then_some(("DaemonSet", rest))
}

/// Manifests (`v1` JSON objects) for the pods, namespaces and Services the flows name.
pub fn manifests(collected: &Collector) -> Vec<Value> {
    let mut namespaces: BTreeMap<String, ()> = BTreeMap::new();
    let mut pods: BTreeMap<(String, String), Value> = BTreeMap::new();
    let mut services: BTreeMap<(String, String), Value> = BTreeMap::new();
    for e in collected.endpoints() {
        let Some(ns) = &e.namespace else { continue };
        namespaces.insert(ns.clone(), ());
        let labels: BTreeMap<&str, &str> = e
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some((sns, sname)) = &e.service
            && e.pod.is_none()
        {
            services
                .entry((sns.clone(), sname.clone()))
                .or_insert_with(|| {
                    let mut spec = json!({"type": "ClusterIP"});
                    if !labels.is_empty() {
                        spec["selector"] = json!(labels);
                    }
                    if let Some(ip) = e.ip {
                        spec["clusterIP"] = json!(ip.to_string());
                    }
                    json!({"apiVersion": "v1", "kind": "Service",
                           "metadata": {"name": sname, "namespace": sns}, "spec": spec})
                });
            continue;
        }
        let name = match (&e.pod, &e.workload) {
            (Some(p), _) => p.clone(),
            (None, Some(w)) => format!("{w}-inferred"),
            _ => continue,
        };
        let entry = pods.entry((ns.clone(), name.clone())).or_insert_with(|| {
            let owner = match (&e.workload, owner_of_pod_name(&name)) {
                (Some(w), Some((kind, _))) => Some((kind, w.clone())),
                (Some(w), None) => Some(("Deployment", w.clone())),
                (None, Some((kind, n))) => Some((kind, n.to_owned())),
                (None, None) => None,
            };
            let mut meta = json!({"name": name, "namespace": ns, "labels": {}});
            if let Some((kind, owner)) = owner {
                let api = "apps/v1";
                meta["ownerReferences"] =
                    json!([{"apiVersion": api, "kind": kind, "name": owner, "controller": true, "uid": ""}]);
            }
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                   "spec": {"containers": [{"name": "main", "image": "inferred"}]},
                   "status": {"phase": "Running"}})
        });
        // Labels and the address from every flow that names the pod (field masks drop some).
        for (k, v) in &labels {
            entry["metadata"]["labels"][*k] = json!(v);
        }
        if let Some(ip) = e.ip
            && entry["status"].get("podIP").is_none()
        {
            entry["status"]["podIP"] = json!(ip.to_string());
        }
    }
    // A Service the capture saw traffic to has pods behind it, even when no flow names one:
    // one stands in for them, with the labels the Service selects.
    for ((ns, name), svc) in &services {
        let Some(selector) = svc["spec"]["selector"].as_object() else {
            continue;
        };
        let selected = pods.iter().any(|((pns, _), p)| {
            pns == ns
                && selector
                    .iter()
                    .all(|(k, v)| p["metadata"]["labels"].get(k) == Some(v))
        });
        if !selected {
            let pod = format!("{name}-backend");
            pods.insert(
                (ns.clone(), pod.clone()),
                json!({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": pod, "namespace": ns, "labels": selector},
                       "spec": {"containers": [{"name": "main", "image": "inferred"}]},
                       "status": {"phase": "Running"}}),
            );
        }
    }
    let mut out: Vec<Value> = namespaces
        .into_keys()
        .map(|ns| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        .collect();
    out.extend(pods.into_values());
    out.extend(services.into_values());
    out
}

/// Adds the inferred objects `snapshot` does not have (a dump's own objects win). Returns how
/// many were added.
pub fn complete(snapshot: &mut rampart_model::Snapshot, collected: &Collector) -> usize {
    let mut added = 0;
    for v in manifests(collected) {
        let Ok(Some(located)) =
            rampart_model::parse::object_from_value("(inferred from flows)", &v)
        else {
            continue;
        };
        let meta = located.object.meta();
        if snapshot
            .get(located.object.kind(), &meta.namespace, &meta.name)
            .is_some()
        {
            continue;
        }
        snapshot.apply(rampart_model::Change::Upsert(Box::new(located)));
        added += 1;
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_from_pod_names() {
        assert_eq!(
            owner_of_pod_name("reviews-v1-545db77b95-s6jb8"),
            Some(("Deployment", "reviews-v1"))
        );
        assert_eq!(
            owner_of_pod_name("ledger-db-0"),
            Some(("StatefulSet", "ledger-db"))
        );
        assert_eq!(
            owner_of_pod_name("node-exporter-l5z6x"),
            Some(("DaemonSet", "node-exporter"))
        );
        assert_eq!(owner_of_pod_name("xwing"), None);
        assert_eq!(owner_of_pod_name("test-pod"), None);
        assert_eq!(owner_of_pod_name("-"), None);
    }
}
