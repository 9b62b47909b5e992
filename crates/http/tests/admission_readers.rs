//! The webhook reads an AdmissionReview onto one tape, its objects nodes of it; where the tape
//! does not take a body, serde_json reads it. Both readers must give every review the same
//! answer: every object of the bundled corpora as a create, an update and a delete, validating
//! and mutating, and reviews bent out of shape.

use rampart_http::admission::{AdmissionState, review_bytes, review_bytes_by_serde_json};
use serde_json::{Value, json};

fn state() -> AdmissionState {
    let s = AdmissionState::default();
    if let Ok(mut ns) = s.namespaces.write() {
        for (name, level) in [("default", "restricted"), ("shop", "baseline")] {
            ns.insert(
                name.into(),
                [
                    ("kubernetes.io/metadata.name".to_string(), name.to_string()),
                    (
                        "pod-security.kubernetes.io/enforce".to_string(),
                        level.to_string(),
                    ),
                    (
                        "pod-security.kubernetes.io/warn".to_string(),
                        "restricted".to_string(),
                    ),
                ]
                .into(),
            );
        }
    }
    let pods = json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "ClusterSecurityPolicy",
        "metadata": {"name": "pods"}, "spec": {
            "rules": [{"name": "r", "conditions": [
                {"allowedRegistries": ["registry.example/"]}, {"disallowLatestTag": true},
                {"disallowRoot": true}, {"allowedHostPaths": [{"pathPrefix": "/var/log", "readOnly": true}]},
                {"requireResources": {"requests": ["cpu"], "limits": ["memory"]}}, {"disallowSecretEnv": true}]},
              {"name": "cel-pods", "variables": [{"name": "containers", "expression":
                "(has(object.spec.initContainers) ? object.spec.initContainers : []) + (has(object.spec.containers) ? object.spec.containers : [])"}],
               "conditions": [{"cel": {"expression": "variables.containers.all(c, has(c.image) && !c.image.endsWith(':latest'))",
                                       "messageExpression": "'images: ' + variables.containers.map(c, has(c.image) ? c.image : '-').join(', ')"}}]}],
            "mutations": {"defaultRequests": {"cpu": "100m"}, "defaultLimits": {"memory": "128Mi"},
                          "runAsNonRoot": true, "seccompRuntimeDefault": true,
                          "dropAllCapabilities": true, "disallowPrivilegeEscalation": true}}});
    let every_kind = json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "ClusterSecurityPolicy",
        "metadata": {"name": "every-kind"}, "spec": {"targets": {"kinds": ["*"]}, "rules": [
            {"name": "labels", "variables": [{"name": "labels", "expression": "has(object.metadata.labels) ? object.metadata.labels : {}"}],
             "conditions": [{"cel": {"expression": "!('forbidden' in variables.labels)",
                                     "messageExpression": "object.kind + ' ' + string(size(variables.labels)) + ' labels, forbidden=' + variables.labels['forbidden']"}}]},
            {"name": "old", "conditions": [{"cel": {
                "expression": "oldObject == null || !has(oldObject.metadata.labels) || !has(object.metadata.labels) || size(object.metadata.labels) >= size(oldObject.metadata.labels)",
                "messageExpression": "request.operation + ' of ' + request.name + ' dropped labels'"}}]},
            {"name": "spec", "conditions": [{"cel": {
                "expression": "!has(object.spec) || type(object.spec) != map || size(object.spec) < 12"}}]}]}});
    for p in [pods, every_kind] {
        match rampart_policy::source::policy_from_value(&p, "default") {
            Some(Ok(p)) => {
                if let Ok(mut set) = s.policies.write() {
                    set.upsert(p).unwrap_or_else(|e| panic!("policy: {e:?}"));
                }
            }
            other => panic!("policy unreadable: {:?}", other.map(|r| r.err())),
        }
    }
    s.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    s
}

/// Both readers answer `body` alike, validating and mutating.
fn same(s: &AdmissionState, body: &[u8]) -> Result<(), String> {
    for mutate in [false, true] {
        let tape = review_bytes(s, body, mutate);
        let serde = review_bytes_by_serde_json(s, body, mutate);
        if tape != serde {
            return Err(format!(
                "{}\n  tape:  {tape:?}\n  serde: {serde:?}",
                String::from_utf8_lossy(body)
            ));
        }
    }
    Ok(())
}

fn review(operation: &str, object: &Value, old: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("Pod");
    let api_version = object["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "7f3a", "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
        "namespace": object["metadata"]["namespace"].as_str().unwrap_or("default"),
        "name": object["metadata"]["name"], "operation": operation,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": if operation == "DELETE" { Value::Null } else { object.clone() },
        "oldObject": old}})
    .to_string()
}

#[test]
fn every_corpus_object_gets_the_same_answer_from_both_readers() {
    let s = state();
    let files = rampart_testkit::corpora::manifest_files();
    let (mut objects, mut denied) = (0, 0);
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let Ok(docs) = serde_saphyr::from_multiple::<Value>(&text) else {
            continue;
        };
        for object in docs.iter().filter(|d| d.is_object()) {
            // The update's old object: one label fewer, another field changed.
            let mut old = object.clone();
            old["metadata"]["labels"]["rampart-test"] = json!("old");
            old["metadata"]["resourceVersion"] = json!("41");
            for (operation, old) in [
                ("CREATE", Value::Null),
                ("UPDATE", old.clone()),
                ("DELETE", old),
            ] {
                let body = review(operation, object, &old);
                same(&s, body.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                let answer = review_bytes(&s, body.as_bytes(), false);
                denied += usize::from(answer.is_ok_and(|v| v["response"]["allowed"] == false));
            }
            objects += 1;
        }
    }
    assert!(objects > 4_000, "{objects} objects read");
    // The reviews are judged, not waved through: a reader that lost an object would allow.
    assert!(denied > 2_000, "{denied} denied of {}", objects * 3);
}

#[test]
fn bent_reviews_get_the_same_answer_from_both_readers() {
    let s = state();
    let pod = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "a", "forbidden": "x"}}, "spec": {"containers": [{"name": "c", "image": "nginx:latest", "securityContext": {"privileged": true}}]}}"#;
    let head = r#""apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview""#;
    let req = |rest: &str| {
        format!(
            r#"{{{head}, "request": {{"uid": "u", "kind": {{"group": "", "version": "v1", "kind": "Pod"}}, "namespace": "default", "name": "p", "operation": "CREATE", {rest}}}}}"#
        )
    };
    let bodies = [
        req(&format!(r#""object": {pod}"#)),
        // Whitespace and escapes around and inside the object, its key escaped.
        req(&format!("\"obj\\u0065ct\"  :\n\t {pod} \n")),
        req(&format!(
            r#""object": {}"#,
            pod.replace("\"p\"", "\"p\\u00e9\\\"q\"")
        )),
        // The object given twice, null, a string, a number, an array, absent.
        req(&format!(r#""object": {pod}, "object": {pod}"#)),
        req(r#""object": null"#),
        req(r#""object": "a pod""#),
        req(r#""object": 12"#),
        req(&format!(r#""object": [{pod}]"#)),
        req(r#""userInfo": {"username": "bob"}"#),
        // An old object on a create, a null one, one of another shape.
        req(&format!(r#""object": {pod}, "oldObject": {pod}"#)),
        req(&format!(r#""object": {pod}, "oldObject": null"#)),
        req(&format!(r#""object": {pod}, "oldObject": [1, 2]"#)),
        // An object of the wrong shape (its refusal is worded from its text, with line and
        // column).
        req(r#""object": {"kind": "Pod", "metadata": {"name": "p"},
              "spec": {"containers": "not a list"}}"#),
        req(r#""object": {"kind": "Pod", "metadata": {"name": "p", "labels": {"a": 1}}}"#),
        // Fields of the wrong type, missing, repeated, unknown.
        req(&format!(r#""object": {pod}, "userInfo": "alice""#)),
        req(&format!(r#""object": {pod}, "name": 3"#)),
        req(&format!(r#""object": {pod}, "uid": "again""#)),
        req(&format!(
            r#""object": {pod}, "extra": {{"deep": [[[{{}}]]]}}"#
        )),
        format!(
            r#"{{{head}, "request": {{"kind": {{"kind": "Pod"}}, "operation": "CREATE", "object": {pod}}}}}"#
        ),
        format!(
            r#"{{{head}, "request": {{"uid": "u", "kind": {{"kind": "Pod"}}, "operation": "PATCH", "object": {pod}}}}}"#
        ),
        format!(r#"{{{head}, "request": null}}"#),
        format!(r#"{{{head}}}"#),
        format!(
            r#"{{"apiVersion": "admission.k8s.io/v1beta1", "request": {{"uid": "u", "kind": {{"kind": "Pod"}}, "operation": "CREATE", "object": {pod}}}}}"#
        ),
        // A Secret (read by serde_json: its values are blanked in a tape of their own).
        format!(
            r#"{{{head}, "request": {{"uid": "u", "kind": {{"group": "", "version": "v1", "kind": "Secret"}}, "namespace": "default", "operation": "CREATE", "object": {{"kind": "Secret", "metadata": {{"name": "s", "labels": {{"forbidden": "1"}}}}, "data": {{"k": "c2VjcmV0"}}}}}}}}"#
        ),
        // Not JSON, or not all of it.
        format!("{} trailing", req(&format!(r#""object": {pod}"#))),
        req(&format!(r#""object": {}"#, &pod[..pod.len() - 1])),
        String::from_utf8_lossy(b"{\"request\": \"\xff\"}").into_owned(),
        "[]".into(),
        String::new(),
    ];
    for body in &bodies {
        same(&s, body.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    }
    // Invalid UTF-8 as bytes.
    let mut bytes = req(&format!(r#""object": {pod}"#)).into_bytes();
    bytes.extend_from_slice(b"\xff");
    same(&s, &bytes).unwrap_or_else(|e| panic!("{e}"));
    // The Secret's value reaches no answer from either reader.
    let secret = review_bytes(&s, bodies[23].as_bytes(), false);
    assert!(
        secret
            .as_ref()
            .is_ok_and(|v| v["response"]["allowed"] == false && !v.to_string().contains("c2VjcmV0")),
        "{secret:?}"
    );
}
