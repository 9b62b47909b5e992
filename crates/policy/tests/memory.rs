//! Heap use of one admission decision grows with the review's body, not with the body times
//! the number of findings: a review of 10,000 privileged containers once produced a 6 MB
//! denial and took ~300 MB. Measured with dhat's heap statistics (bytes, not time).

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::BTreeMap;

use rampart_api::{Condition, EnforcementMode, Rule, SecurityPolicySpec};
use rampart_policy::review::{NamedPolicy, Operation, PolicySet, PssConfig, Request, validate};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn body(containers: usize) -> String {
    let cs: Vec<String> = (0..containers)
        .map(|i| {
            format!(
                r#"{{"name":"c{i}","image":"docker.io/evil:1","securityContext":{{"privileged":true}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p","namespace":"app"}},"spec":{{"containers":[{}]}}}}"#,
        cs.join(",")
    )
}

#[test]
fn a_decision_costs_memory_in_proportion_to_the_review() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let mut set = PolicySet::default();
    set.upsert(NamedPolicy {
        kind: "SecurityPolicy",
        namespace: Some("app".into()),
        name: "registries".into(),
        spec: SecurityPolicySpec {
            enforcement_mode: EnforcementMode::Enforce,
            rules: vec![Rule {
                name: "images".into(),
                conditions: vec![Condition {
                    allowed_registries: Some(vec!["registry.acme.io/".into()]),
                    ..Condition::default()
                }],
                ..Rule::default()
            }],
            ..SecurityPolicySpec::default()
        },
    })
    .unwrap();
    let ns: BTreeMap<String, String> = [
        ("pod-security.kubernetes.io/enforce", "restricted"),
        ("pod-security.kubernetes.io/audit", "restricted"),
        ("pod-security.kubernetes.io/warn", "restricted"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let cfg = PssConfig::default();
    for n in [100, 10_000] {
        let text = body(n);
        let raw: &serde_json::value::RawValue = serde_json::from_str(&text).unwrap();
        let base = dhat::HeapStats::get();
        let d = validate(
            &Request {
                group: "",
                version: "v1",
                kind: "Pod",
                resource: "pods",
                sub_resource: None,
                operation: Operation::Create,
                namespace: "app",
                name: "p",
                username: "alice",
                object: Some(raw.into()),
                old_object: None,
            },
            &ns,
            &set,
            &cfg,
        )
        .unwrap();
        assert!(!d.allowed);
        let after = dhat::HeapStats::get();
        let peak = after.max_bytes.saturating_sub(base.curr_bytes);
        let kept = after.curr_bytes.saturating_sub(base.curr_bytes);
        // The typed pod is the floor (k8s-openapi's `Container` is 2.3 KB, so this minimal
        // 80-byte container expands ~47x); everything else must stay small beside it. Before
        // the bounds: 97x and a 6 MB message.
        assert!(
            peak <= 64 * text.len() + (1 << 20),
            "{n} containers, body {} bytes: peak {peak} bytes",
            text.len()
        );
        assert!(kept <= 256 * 1024, "the decision keeps {kept} bytes");
        drop(d);
    }
}
