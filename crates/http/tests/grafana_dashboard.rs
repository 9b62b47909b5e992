//! The Helm chart's Grafana dashboard queries only metrics rampart exports: every `rampart_*`
//! name in its expressions is a family the engine's or the webhook's `/metrics` declares.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use rampart_http::dashboard::{
    ChainLabels, DashboardState, KindLabels, PathLabels, PhaseLabels, ReapLabels, WorkloadLabels,
    router,
};
use tower::ServiceExt;

/// The metric family names `# TYPE` lines declare.
fn families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect()
}

/// `rampart_*` names in a PromQL expression, without the suffixes a family's samples get.
fn queried(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("rampart_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let family = ["_bucket", "_sum", "_count", "_total"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        out.push(family.to_string());
        rest = &tail[end..];
    }
    out
}

#[tokio::test]
async fn every_panel_queries_an_exported_metric() {
    // A family is exported once it has a sample: give each labelled one a sample.
    let state = Arc::new(DashboardState::default());
    let m = &state.metrics;
    let s = String::from;
    m.chains
        .get_or_create(&ChainLabels {
            target: s("Secret"),
            confidence: s("proven"),
        })
        .set(1);
    m.watch_errors
        .get_or_create(&KindLabels { kind: s("Pod") })
        .inc();
    m.reproofs
        .get_or_create(&PathLabels { path: s("full") })
        .inc();
    m.mitigations
        .get_or_create(&PhaseLabels {
            phase: s("Applied"),
        })
        .set(1);
    let workload = WorkloadLabels {
        namespace: s("ns"),
        workload: s("web[Deployment]"),
    };
    m.pods.infections.get_or_create(&workload).inc();
    m.pods.available_ratio.get_or_create(&workload).set(1.0);
    m.pods
        .reaped
        .get_or_create(&ReapLabels {
            namespace: s("ns"),
            workload: s("w"),
            action: s("isolate"),
        })
        .inc();
    m.ingest
        .requests
        .get_or_create(&rampart_http::ingest::RequestLabels {
            endpoint: "falco",
            outcome: "ok",
        })
        .inc();
    m.ingest
        .items
        .get_or_create(&rampart_http::ingest::ItemLabels {
            endpoint: "falco",
            result: "fresh",
        })
        .inc();
    let webhook = rampart_http::metrics::Metrics::default();
    webhook
        .requests
        .get_or_create(&rampart_http::metrics::RequestLabels {
            endpoint: "validate",
            kind: s("Pod"),
            operation: s("CREATE"),
            decision: rampart_http::metrics::Outcome::Allowed,
        })
        .inc();
    webhook
        .errors
        .get_or_create(&rampart_http::metrics::ErrorLabels {
            reason: "malformed_json",
        })
        .inc();
    webhook
        .watch_errors
        .get_or_create(&rampart_http::metrics::SourceLabels {
            source: "namespaces",
        })
        .inc();
    let resp = router(state.clone())
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let mut exported = families(std::str::from_utf8(&body).unwrap());
    exported.extend(families(&webhook.encode()));
    assert!(exported.contains("rampart_chains"), "{exported:?}");

    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../charts/rampart/files/grafana-dashboard.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 10);
    let mut checked = 0;
    for p in panels {
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            let names = queried(expr);
            assert!(!names.is_empty(), "{expr}");
            for n in names {
                assert!(
                    exported.contains(&n),
                    "panel {:?} queries {n}, which rampart does not export",
                    p["title"]
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= panels.len());
}

#[test]
fn suffixes_are_stripped_to_the_family() {
    assert_eq!(
        queried("rate(rampart_a_total[5m]) + rampart_b_bucket"),
        ["rampart_a", "rampart_b"]
    );
}
