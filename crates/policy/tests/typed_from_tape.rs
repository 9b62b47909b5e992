//! A pod-bearing object read from its tape (the one reading CEL shares) is the object
//! serde_json reads from its text: every object of the bundled corpora, and objects bent out of
//! shape (nulls, repeated keys, wrong types, numbers of every kind), as every kind rampart reads
//! pods from.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use rampart_cel::Document;
use serde::de::DeserializeOwned;

/// The same value from both readers, or a refusal from both.
fn same<T: DeserializeOwned + PartialEq + std::fmt::Debug>(text: &str) -> Result<(), String> {
    let from_text = serde_json::from_str::<T>(text);
    let Ok(doc) = Document::parse(text) else {
        return match from_text {
            Err(_) => Ok(()),
            Ok(_) => Err(format!("the tape refused what serde_json read: {text}")),
        };
    };
    match (doc.typed::<T>(), from_text) {
        (Ok(a), Ok(b)) if a == b => Ok(()),
        (Err(_), Err(_)) => Ok(()),
        (a, b) => Err(format!("{text}\n  tape: {a:?}\n  text: {b:?}")),
    }
}

fn all_kinds(text: &str) -> Result<(), String> {
    same::<Pod>(text)?;
    same::<Deployment>(text)?;
    same::<ReplicaSet>(text)?;
    same::<StatefulSet>(text)?;
    same::<DaemonSet>(text)?;
    same::<Job>(text)?;
    same::<CronJob>(text)?;
    same::<ReplicationController>(text)?;
    same::<serde_json::Value>(text)
}

#[test]
fn every_corpus_object_reads_the_same_from_its_tape() {
    let files = rampart_testkit::corpora::manifest_files();
    let mut objects = 0;
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let Ok(docs) = serde_saphyr::from_multiple::<serde_json::Value>(&text) else {
            continue;
        };
        for doc in docs.iter().filter(|d| d.is_object()) {
            let json = serde_json::to_string(doc).expect("a value writes");
            all_kinds(&json).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            objects += 1;
        }
    }
    // The pod security fixtures alone are thousands: a corpus that went missing shows.
    assert!(objects > 4_000, "only {objects} objects read");
}

#[test]
fn objects_out_of_shape_read_the_same_from_their_tape() {
    let cases = [
        // Nulls where objects, lists, strings and numbers go.
        r#"{"metadata": null, "spec": null}"#,
        r#"{"spec": {"containers": null, "volumes": [null]}}"#,
        r#"{"spec": {"containers": [{"name": null, "image": "x", "ports": [{"containerPort": null}]}]}}"#,
        r#"{"spec": {"template": {"spec": {"containers": [{"name": "a", "securityContext": null}]}}}}"#,
        // A key given twice: the last counts, an earlier one of the wrong type still fails.
        r#"{"spec": {"hostNetwork": true, "hostNetwork": false}}"#,
        r#"{"spec": {"hostNetwork": "yes", "hostNetwork": false}}"#,
        r#"{"spec": {"hostNetwork": false, "hostNetwork": "yes"}}"#,
        r#"{"metadata": {"labels": {"a": "1", "a": "2"}}}"#,
        r#"{"spec": {"containers": [{"name": "a"}], "containers": [{"name": "b"}, {"name": "c"}]}}"#,
        // Wrong types.
        r#"{"spec": {"containers": "nope"}}"#,
        r#"{"spec": {"containers": [{"name": 3}]}}"#,
        r#"{"spec": {"containers": [{"name": "a", "ports": [{"containerPort": "80"}]}]}}"#,
        r#"{"spec": {"hostPID": 1}}"#,
        r#"{"metadata": {"labels": {"a": 1}}}"#,
        r#"{"metadata": {"labels": ["a"]}}"#,
        r#"{"spec": {"replicas": "3"}}"#,
        r#"[1, 2]"#,
        r#""a pod""#,
        "3",
        "null",
        "{}",
        // Numbers of every kind where integers go.
        r#"{"spec": {"securityContext": {"runAsUser": 0}}}"#,
        r#"{"spec": {"securityContext": {"runAsUser": -1}}}"#,
        r#"{"spec": {"securityContext": {"runAsUser": 1.0}}}"#,
        r#"{"spec": {"securityContext": {"runAsUser": 1.5}}}"#,
        r#"{"spec": {"securityContext": {"runAsUser": 1e3}}}"#,
        r#"{"spec": {"securityContext": {"runAsUser": -0}}}"#,
        r#"{"spec": {"securityContext": {"runAsUser": 9223372036854775807}}}"#,
        r#"{"spec": {"securityContext": {"runAsUser": 9223372036854775808}}}"#,
        r#"{"spec": {"securityContext": {"runAsUser": 18446744073709551616}}}"#,
        r#"{"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 4294967296}]}]}}"#,
        r#"{"spec": {"containers": [{"name": "a", "ports": [{"containerPort": -2147483649}]}]}}"#,
        r#"{"spec": {"replicas": 2147483648}}"#,
        // Quantities, int-or-strings, times.
        r#"{"spec": {"containers": [{"name": "a", "resources": {"limits": {"memory": "1Gi", "cpu": 2}}}]}}"#,
        r#"{"spec": {"containers": [{"name": "a", "livenessProbe": {"httpGet": {"port": 8080}}}]}}"#,
        r#"{"spec": {"containers": [{"name": "a", "livenessProbe": {"httpGet": {"port": "http"}}}]}}"#,
        r#"{"spec": {"containers": [{"name": "a", "livenessProbe": {"httpGet": {"port": 1.5}}}]}}"#,
        r#"{"spec": {"containers": [{"name": "a", "livenessProbe": {"httpGet": {"port": true}}}]}}"#,
        r#"{"metadata": {"creationTimestamp": "2026-12-07T10:00:00Z"}}"#,
        r#"{"metadata": {"creationTimestamp": "yesterday"}}"#,
        r#"{"metadata": {"creationTimestamp": 5}}"#,
        r#"{"spec": {"strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}}}}"#,
        // Escapes, unknown fields of every shape.
        r#"{"metadata": {"name": "a\"b\\c\u00e9\ud83d\ude00", "x-unknown": {"deep": [1, {"a": null}]}}}"#,
        r#"{"spec": {"containers": [{"name": "a", "futureField": [[[]]], "image": "i\nj"}]}}"#,
        r#"{"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}, "schedule": "* * * * *"}}"#,
    ];
    for text in cases {
        all_kinds(text).unwrap_or_else(|e| panic!("{e}"));
    }
}
