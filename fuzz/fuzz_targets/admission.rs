//! The webhook's request path on arbitrary bytes: AdmissionReview parsing, object shapes, Pod
//! Security, SecurityPolicy conditions and mutations. Every input gets a review or a 400
//! message; nothing panics; the review read onto one tape gets the answer serde_json's reading
//! of it gets.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rampart_http::admission::{AdmissionState, review_bytes, review_bytes_by_serde_json};

static STATE: LazyLock<AdmissionState> = LazyLock::new(|| {
    let s = AdmissionState::default();
    if let Ok(mut ns) = s.namespaces.write() {
        ns.insert(
            "default".into(),
            [("pod-security.kubernetes.io/enforce".to_string(), "restricted".to_string()),
             ("pod-security.kubernetes.io/warn".to_string(), "baseline".to_string())].into(),
        );
    }
    let policy = serde_json::json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "ClusterSecurityPolicy",
        "metadata": {"name": "all"}, "spec": {
            "rules": [{"name": "r", "conditions": [
                {"allowedRegistries": ["registry.example/"]}, {"disallowLatestTag": true},
                {"disallowRoot": true}, {"allowedHostPaths": [{"pathPrefix": "/var/log", "readOnly": true}]},
                {"requireResources": {"requests": ["cpu"], "limits": ["memory"]}},
                {"requireMeshSidecar": "any"}, {"disallowSecretEnv": true}]}],
            "mutations": {"defaultRequests": {"cpu": "100m"}, "defaultLimits": {"memory": "128Mi"},
                          "runAsNonRoot": true, "seccompRuntimeDefault": true,
                          "dropAllCapabilities": true, "disallowPrivilegeEscalation": true}}});
    // CEL rules on every kind: variables, match conditions, message expressions, inventory.
    let cel = serde_json::json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "ClusterSecurityPolicy",
        "metadata": {"name": "cel"}, "spec": {"targets": {"kinds": ["*"]}, "rules": [{"name": "c",
            "variables": [{"name": "labels", "expression": "has(object.metadata.labels) ? object.metadata.labels : {}"}],
            "matchConditions": [{"name": "m", "expression": "request.operation != 'DELETE'"}],
            "conditions": [
                {"cel": {"expression": "'team' in variables.labels && variables.labels['team'].matches('^[a-z]+$')",
                         "messageExpression": "'team label: ' + string(size(variables.labels))"}},
                {"cel": {"expression": "!has(object.spec) || !has(object.spec.replicas) || object.spec.replicas <= 10"}},
                {"cel": {"expression": "!inventory.exists(o, o == object)"}}]}]}});
    for p in [policy, cel] {
        if let Some(Ok(p)) = rampart_policy::source::policy_from_value(&p, "default")
            && let Ok(mut set) = s.policies.write()
        {
            let _ = set.upsert(p);
        }
    }
    s
});

fuzz_target!(|data: &[u8]| {
    // Panics the CEL library raises inside rampart's catch are answers, as when serving (see
    // the `cel` target); one rampart does not catch still aborts.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    for mutate in [false, true] {
        let answer = review_bytes(&STATE, data, mutate);
        match &answer {
            Ok(v) => assert!(v.get("response").is_some()),
            Err(msg) => assert!(!msg.is_empty()),
        }
        assert_eq!(answer, review_bytes_by_serde_json(&STATE, data, mutate));
    }
});
