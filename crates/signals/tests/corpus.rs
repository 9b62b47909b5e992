//! The parsers on real payloads (tests/corpora/runtime-events, see its SOURCE.md): every Falco
//! sample reads, quirks included; the audit samples filter to exactly the Secret reads by
//! ServiceAccounts; malformed samples are errors; no secret value survives parsing.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use rampart_signals::audit::{AllowList, Drop, Verb, parse_body as parse_audit};
use rampart_signals::behaviour::{Behaviour, Mapping};
use rampart_signals::falco::{Priority, parse_body as parse_falco};
use rampart_signals::observe::from_alert;

fn corpus(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpora/runtime-events")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn every_falco_sample_reads() {
    for (file, alerts) in [
        ("falco/falco-docs-json-output.json", 1),
        ("falco/falco-legacy-json-output.jsonl", 8),
        ("falco/falco-talon-examples.jsonl", 6),
        ("falco/falcosidekick-client-test-input.json", 1),
        ("falco/falcosidekick-forwarded-derived.json", 1),
        ("falco/falcosidekick-pagerduty-test-input.json", 1),
        ("falco/falcosidekick-readme-example.json", 1),
        ("falco/falcosidekick-test-endpoint-event.json", 1),
    ] {
        let b = parse_falco(&corpus(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            (b.alerts.len(), b.refused),
            (alerts, 0),
            "{file}: {:?}",
            b.first_error
        );
    }
}

#[test]
fn the_documented_alert_is_a_shell_in_a_known_pod() {
    let b = parse_falco(&corpus("falco/falco-docs-json-output.json")).unwrap();
    let a = &b.alerts[0];
    assert_eq!(a.rule, "Terminal shell in container");
    assert_eq!(a.priority, Priority::Critical);
    assert_eq!(a.source, "syscall");
    assert_eq!(a.fields.namespace.as_deref(), Some("default"));
    assert_eq!(a.fields.pod.as_deref(), Some("kubecon"));
    assert_eq!(a.fields.container_id.as_deref(), Some("ee97d9c4186f"));
    let o = from_alert(a, &Mapping::default()).unwrap();
    assert_eq!(o.behaviour, Behaviour::ShellInContainer);
    // The same alert forwarded by falcosidekick reads the same.
    let fwd = parse_falco(&corpus("falco/falcosidekick-forwarded-derived.json")).unwrap();
    assert_eq!(fwd.alerts[0].rule, a.rule);
    assert_eq!(fwd.alerts[0].fields, a.fields);
}

#[test]
fn talons_capital_rule_key_and_legacy_alerts_without_hostname_read() {
    let t = parse_falco(&corpus("falco/falco-talon-examples.jsonl")).unwrap();
    assert!(t.alerts.iter().all(|a| a.rule.starts_with("Test")));
    assert_eq!(t.alerts[0].fields.pod.as_deref(), Some("test"));
    let l = parse_falco(&corpus("falco/falco-legacy-json-output.jsonl")).unwrap();
    assert!(
        l.alerts
            .iter()
            .all(|a| a.hostname.is_empty() && a.tags.is_empty())
    );
    // Batched as a JSON array: the same alerts.
    let lines = String::from_utf8(corpus("falco/falco-legacy-json-output.jsonl")).unwrap();
    let array = format!("[{}]", lines.trim().lines().collect::<Vec<_>>().join(","));
    assert_eq!(parse_falco(array.as_bytes()).unwrap().alerts, l.alerts);
}

#[test]
fn the_audit_samples_filter_to_secret_reads_by_service_accounts() {
    let allow = AllowList::parse("kube-system:*,cert-manager:cert-manager").unwrap();
    let list = parse_audit(
        &corpus("k8s-audit/synthetic-secret-reads-eventlist.json"),
        &allow,
    )
    .unwrap();
    assert_eq!(list.events, 8);
    type Read<'a> = (Verb, Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let got: Vec<Read> = list
        .reads
        .iter()
        .map(|r| {
            (
                r.verb,
                r.namespace.as_deref(),
                r.name.as_deref(),
                r.pod.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                Verb::Get,
                Some("shop"),
                Some("db-credentials"),
                Some("web-7fc7749b56-9jtnl")
            ),
            (Verb::List, Some("shop"), None, Some("web-7fc7749b56-9jtnl")),
            (Verb::Watch, None, None, Some("web-7fc7749b56-9jtnl")),
            (Verb::Get, Some("legacy"), Some("api-key"), None),
        ]
    );
    for (why, n) in [
        (Drop::Stage, 1),
        (Drop::Failed, 1),
        (Drop::Allowed, 1),
        (Drop::NotAServiceAccount, 1),
    ] {
        assert_eq!(list.dropped(why), n, "{why:?}");
    }
    // The log backend's JSON lines: the same reads.
    let lines = parse_audit(
        &corpus("k8s-audit/synthetic-secret-reads-events.jsonl"),
        &allow,
    )
    .unwrap();
    assert_eq!(lines.reads, list.reads);
    // Without the cert-manager entry, its cluster-wide list is evidence.
    let default = parse_audit(
        &corpus("k8s-audit/synthetic-secret-reads-eventlist.json"),
        &AllowList::parse("kube-system:*").unwrap(),
    )
    .unwrap();
    assert_eq!(default.reads.len(), 5);
    // The default list knows cert-manager.
    let shipped = parse_audit(
        &corpus("k8s-audit/synthetic-secret-reads-eventlist.json"),
        &AllowList::default(),
    )
    .unwrap();
    assert_eq!(shipped.reads.len(), 4);
    let empty = parse_audit(&corpus("k8s-audit/synthetic-empty-eventlist.json"), &allow).unwrap();
    assert_eq!((empty.events, empty.reads.len()), (0, 0));
}

#[test]
fn other_audit_events_are_dropped_and_malformed_ones_refused() {
    let allow = AllowList::default();
    for (file, why) in [
        (
            "k8s-audit/falco-trace-attach_cluster_admin_role.json",
            Drop::NotSecrets,
        ),
        (
            "k8s-audit/falco-trace-create_nginx_pod_privileged-v1beta1.json",
            Drop::NotSecrets,
        ),
        ("k8s-audit/falco-trace-create_secret.json", Drop::NotARead),
        ("k8s-audit/falco-trace-delete_secret.json", Drop::NotARead),
        ("k8s-audit/falco-trace-exec_pod.json", Drop::NotSecrets),
    ] {
        let b = parse_audit(&corpus(file), &allow).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            (b.events, b.reads.len(), b.dropped(why)),
            (1, 0, 1),
            "{file}"
        );
    }
    assert!(
        parse_audit(
            &corpus("k8s-audit/falco-trace-fal_01_003-malformed.json"),
            &allow
        )
        .is_err()
    );
}

#[test]
fn no_secret_value_survives_parsing() {
    let raw = corpus("k8s-audit/falco-trace-create_secret.json");
    let text = String::from_utf8_lossy(&raw);
    // The captured request carries a base64 value under requestObject.data.
    let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let values: Vec<String> = v["requestObject"]["data"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|x| x.as_str().map(String::from))
        .collect();
    assert!(!values.is_empty() && values.iter().all(|x| text.contains(x.as_str())));
    // Even as a read (the verb rewritten), nothing of the body is kept.
    let as_read = text.replace("\"create\"", "\"get\"").replace(
        "\"username\":\"minikube-user\"",
        "\"username\":\"system:serviceaccount:a:b\"",
    );
    let b = parse_audit(as_read.as_bytes(), &AllowList::default()).unwrap();
    assert_eq!(b.reads.len(), 1, "the rewritten event is a read");
    let kept = format!("{:?}", b.reads);
    for x in &values {
        assert!(!kept.contains(x.as_str()), "secret value kept: {kept}");
    }
}
