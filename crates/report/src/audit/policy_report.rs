//! PolicyReports (`wgpolicyk8s.io/v1alpha2`, the format Kyverno and the Policy Reporter UI
//! read): one `PolicyReport` per namespace and one `ClusterPolicyReport` for cluster-scoped
//! objects and RBAC subjects, whatever the cluster's size. A report lists failures (then
//! excepted ones as `skip`, then errors) up to a cap; passes are counted in its summary, never
//! listed one by one. What the cap dropped is counted in the summary too (the totals stay
//! true) and said by a last `warn` result and the annotation `rampart.dev/results-dropped`.
//!
//! Reports are plain JSON values for the caller to apply; [`Reports::fingerprint`] ignores
//! timestamps, so a writer updates a report in place only when its results changed.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use rampart_audit::check::Severity;
use rampart_audit::run::{Audit, Finding, Status};
use serde_json::{Value, json};

/// Results listed per report at most.
pub const DEFAULT_CAP: usize = 500;

/// The name every report of rampart's has (one per namespace).
pub const NAME: &str = "rampart-audit";

/// The reports of one audit, keyed by namespace (`""`: the cluster-scoped report).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reports {
    /// Report objects by namespace.
    pub by_namespace: BTreeMap<String, Value>,
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
    }
}

fn result(f: &Finding, now: i64) -> Value {
    let (result, message) = match f.status {
        Status::Fail => ("fail", f.message.clone()),
        Status::Excepted => (
            "skip",
            format!(
                "excepted: {} ({})",
                f.reason.as_deref().unwrap_or(""),
                f.message
            ),
        ),
        Status::Error => ("error", f.reason.clone().unwrap_or_default()),
    };
    let mut properties = serde_json::Map::new();
    if !f.field.is_empty() {
        properties.insert("field".into(), f.field.clone().into());
    }
    if !f.ids.cis.is_empty() {
        properties.insert("cis".into(), f.ids.cis.join(",").into());
    }
    if let Some(n) = f.ids.nsa {
        properties.insert("nsa".into(), n.into());
    }
    if !f.ids.kubescape.is_empty() {
        properties.insert("kubescape".into(), f.ids.kubescape.join(",").into());
    }
    if let Some(fix) = f.fix.as_ref().and_then(|x| serde_json::to_string(x).ok()) {
        properties.insert("fix".into(), fix.into());
    }
    let api_version = match f.object.kind.as_str() {
        "User" | "Group" => "rbac.authorization.k8s.io/v1",
        _ => "",
    };
    let mut resource = json!({"kind": f.object.kind, "name": f.object.name});
    if !f.object.namespace.is_empty() {
        resource["namespace"] = f.object.namespace.clone().into();
    }
    if !api_version.is_empty() {
        resource["apiVersion"] = api_version.into();
    }
    json!({
        "source": "rampart",
        "policy": f.check,
        "rule": f.check,
        "category": f.title,
        "severity": severity(f.severity),
        "result": result,
        "message": message,
        "scored": true,
        "timestamp": {"seconds": now, "nanos": 0},
        "resources": [resource],
        "properties": properties,
    })
}

/// Builds every report of `audit` at time `now` (Unix seconds), each listing at most `cap`
/// results. Namespaces with nothing judged get no report.
pub fn build(audit: &Audit, now: i64, cap: usize) -> Reports {
    let mut findings: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &audit.findings {
        findings
            .entry(f.object.namespace.as_str())
            .or_default()
            .push(f);
    }
    let mut out = Reports::default();
    for ns in audit.namespaces() {
        let list = findings.remove(ns).unwrap_or_default();
        out.by_namespace
            .insert(ns.to_string(), report(audit, ns, list, now, cap));
    }
    out
}

/// The report of one namespace (`""`: the cluster-scoped one), as [`build`] makes it; none
/// when nothing there was judged. What the engine rewrites when one object changed.
pub fn build_one(audit: &Audit, namespace: &str, now: i64, cap: usize) -> Option<Value> {
    if !audit.namespaces().contains(&namespace) {
        return None;
    }
    let list: Vec<&Finding> = audit
        .findings
        .iter()
        .filter(|f| f.object.namespace == namespace)
        .collect();
    Some(report(audit, namespace, list, now, cap))
}

fn report(audit: &Audit, ns: &str, mut list: Vec<&Finding>, now: i64, cap: usize) -> Value {
    // Failures first, the worst first; then excepted; then errors.
    list.sort_by(|a, b| {
        a.status
            .cmp(&b.status)
            .then(b.severity.cmp(&a.severity))
            .then(a.check.cmp(b.check))
            .then(a.object.cmp(&b.object))
    });
    let mut pass = 0u32;
    for t in audit.tallies.values().filter_map(|m| m.get(ns)) {
        pass += t.passed;
    }
    let count = |s: Status| list.iter().filter(|f| f.status == s).count();
    let (fail, skip, error) = (
        count(Status::Fail),
        count(Status::Excepted),
        count(Status::Error),
    );
    let dropped = list.len().saturating_sub(cap);
    let mut results: Vec<Value> = list.iter().take(cap).map(|f| result(f, now)).collect();
    if dropped > 0 {
        results.push(json!({
            "source": "rampart",
            "policy": "rampart-audit-results-dropped",
            "result": "warn",
            "message": format!("{dropped} more results are not listed (this report lists {cap} at most); `rampart audit` on a dump lists every one"),
            "scored": false,
            "timestamp": {"seconds": now, "nanos": 0},
        }));
    }
    let mut metadata = json!({
        "name": NAME,
        "labels": {"app.kubernetes.io/managed-by": "rampart"},
        "annotations": {
            "rampart.dev/results-cap": cap.to_string(),
            "rampart.dev/results-dropped": dropped.to_string(),
        },
    });
    let kind = if ns.is_empty() {
        "ClusterPolicyReport"
    } else {
        metadata["namespace"] = ns.into();
        "PolicyReport"
    };
    json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": kind,
        "metadata": metadata,
        "summary": {
            "pass": pass,
            "fail": fail,
            "warn": u32::from(dropped > 0),
            "error": error,
            "skip": skip,
        },
        "results": results,
    })
}

/// A hash of a report's content without its timestamps: equal when nothing but the time of
/// the audit changed.
pub fn fingerprint(report: &Value) -> u64 {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| k.as_str() != "timestamp")
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            v => v.clone(),
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    strip(report).to_string().hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rampart_audit::run::{Options, audit};
    use rampart_audit::{Inventory, Object};
    use serde_json::json;

    use super::*;

    fn cluster(pods: usize) -> Audit {
        let mut objects: Vec<Object> = (0..pods)
            .filter_map(|i| {
                Object::new(
                    json!({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": format!("p{i}"), "namespace": format!("ns{}", i % 3)},
                           "spec": {"containers": [{"name": "a", "image": "x",
                                    "securityContext": {"privileged": i % 2 == 0}}]}}),
                    Some(Arc::from("dump.json")),
                    1,
                )
            })
            .collect();
        objects.extend(Object::new(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": "b"},
                   "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
                   "subjects": [{"kind": "User", "name": "alice"}]}),
            None,
            0,
        ));
        objects.extend(Object::new(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "cluster-admin"},
                   "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
            None,
            0,
        ));
        audit(&Inventory::new(objects), &Options::default())
    }

    #[test]
    fn one_report_per_namespace_capped_with_true_totals() {
        let a = cluster(3000);
        let r = build(&a, 1_700_000_000, 100);
        // ns0, ns1, ns2 and the cluster-scoped report: 3,000 pods, four objects.
        assert_eq!(r.by_namespace.len(), 4, "{:?}", r.by_namespace.keys());
        let ns0 = &r.by_namespace["ns0"];
        assert_eq!(ns0["kind"], "PolicyReport");
        assert_eq!(ns0["metadata"]["namespace"], "ns0");
        let results = ns0["results"].as_array().expect("results");
        assert_eq!(
            results.len(),
            101,
            "the cap, and the line that says what was dropped"
        );
        let fail = ns0["summary"]["fail"].as_u64().expect("fail");
        assert!(fail > 100, "the summary counts every failure: {fail}");
        let dropped: u64 = ns0["metadata"]["annotations"]["rampart.dev/results-dropped"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .expect("dropped");
        let listed = fail
            + ns0["summary"]["skip"].as_u64().expect("skip")
            + ns0["summary"]["error"].as_u64().expect("error");
        assert_eq!(dropped + 100, listed);
        assert_eq!(results[100]["result"], "warn");
        // The worst first.
        let rank = |s: &Value| match s.as_str() {
            Some("critical") => 3,
            Some("high") => 2,
            Some("medium") => 1,
            _ => 0,
        };
        let ranks: Vec<i32> = results[..100]
            .iter()
            .map(|r| rank(&r["severity"]))
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "{ranks:?}");
        let cluster = &r.by_namespace[""];
        assert_eq!(cluster["kind"], "ClusterPolicyReport");
        assert!(
            cluster["results"]
                .as_array()
                .expect("results")
                .iter()
                .any(
                    |x| x["policy"] == "rbac-cluster-admin" && x["resources"][0]["name"] == "alice"
                )
        );
    }

    #[test]
    fn the_fingerprint_ignores_the_time_and_sees_a_change() {
        let a = cluster(30);
        let r1 = build(&a, 1, 500);
        let r2 = build(&a, 2, 500);
        assert_ne!(r1, r2);
        for (ns, v) in &r1.by_namespace {
            assert_eq!(fingerprint(v), fingerprint(&r2.by_namespace[ns]), "{ns}");
        }
        let b = cluster(31);
        let r3 = build(&b, 1, 500);
        assert_ne!(
            fingerprint(&r1.by_namespace["ns0"]),
            fingerprint(&r3.by_namespace["ns0"])
        );
    }
}
