//! ValidatingAdmissionPolicy offline: what the API server would decide on creating each object
//! — match constraints and binding resources, params by name and selector and their absence,
//! match conditions, validations under each action and failure policy, audit annotations — and
//! what it refuses when reading policies and bindings.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::BTreeMap;

use rampart_policy::offline::{Against, CheckResult, check};
use rampart_policy::review::{PolicySet, ViolationOut};
use rampart_policy::store::ObjectStore;
use rampart_policy::vap::VapSet;
use serde_json::{Value, json};

fn docs(yaml: &str) -> Vec<Value> {
    yaml.split("\n---\n")
        .map(|d| serde_saphyr::from_str::<Value>(d).unwrap())
        .collect()
}

fn vaps(yaml: &str) -> (VapSet, Vec<String>) {
    let d = docs(yaml);
    VapSet::from_documents(d.iter().enumerate().map(|(i, v)| (format!("doc {i}"), v)))
}

fn judge(set: &VapSet, object: &Value) -> (CheckResult, Vec<ViolationOut>) {
    let namespaces = BTreeMap::from([
        (
            "prod".to_string(),
            BTreeMap::from([
                ("env".to_string(), "prod".to_string()),
                (
                    "kubernetes.io/metadata.name".to_string(),
                    "prod".to_string(),
                ),
            ]),
        ),
        (
            "test".to_string(),
            BTreeMap::from([("env".to_string(), "test".to_string())]),
        ),
    ]);
    let policies = PolicySet::default();
    let objects = ObjectStore::new();
    let against = Against {
        policies: &policies,
        namespaces: &namespaces,
        pss: None,
        newest: rampart_policy::pss::NEWEST_MINOR,
        objects: &objects,
        vaps: set,
    };
    check(object, "x.yaml", 1, &against).unwrap()
}

fn deployment(ns: &str, name: &str, replicas: u32, labels: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": ns, "labels": labels},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "c", "image": "r.example/c:1"}]}}}})
}

const REPLICAS: &str = r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replicas}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
    excludeResourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments], resourceNames: [exempt]}
  matchConditions:
  - {name: not-paused, expression: "!has(object.metadata.labels.paused)"}
  variables:
  - {name: max, expression: "int(params.data.max)"}
  validations:
  - expression: "object.spec.replicas <= variables.max"
    messageExpression: "'at most ' + string(variables.max)"
  auditAnnotations:
  - {key: seen, valueExpression: "string(object.spec.replicas)"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: prod}
spec:
  policyName: replicas
  validationActions: [Deny]
  paramRef: {name: limits, parameterNotFoundAction: Deny}
  matchResources:
    namespaceSelector: {matchLabels: {env: prod}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: test}
spec:
  policyName: replicas
  validationActions: [Warn, Audit]
  paramRef:
    selector: {matchLabels: {limits: "true"}}
    parameterNotFoundAction: Allow
  matchResources:
    namespaceSelector: {matchLabels: {env: test}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: limits, namespace: prod}
data: {max: "3"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other, namespace: test, labels: {limits: "true"}}
data: {max: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: limits, namespace: test}
data: {max: "100"}"#;

#[test]
fn bindings_params_actions_and_annotations() {
    let (set, errors) = vaps(REPLICAS);
    assert!(errors.is_empty(), "{errors:?}");
    // prod: the ConfigMap named `limits` in the request's namespace (max 3), Deny.
    let (r, _) = judge(&set, &deployment("prod", "web", 3, json!({})));
    assert!(r.allowed);
    assert_eq!(r.audit_annotations["replicas/seen"], "3");
    let (r, all) = judge(&set, &deployment("prod", "web", 4, json!({})));
    assert!(!r.allowed);
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].message,
        "ValidatingAdmissionPolicy 'replicas' with binding 'prod' denied request: at most 3"
    );
    assert_eq!(all[0].rule, "validations[0]");
    // Excluded by name; not matched by a false match condition.
    assert!(
        judge(&set, &deployment("prod", "exempt", 9, json!({})))
            .0
            .allowed
    );
    let (r, all) = judge(
        &set,
        &deployment("prod", "web", 9, json!({"paused": "yes"})),
    );
    assert!(r.allowed && all.is_empty());
    // test: params by selector (the labelled one, max 1), Warn and Audit.
    let (r, all) = judge(&set, &deployment("test", "web", 2, json!({})));
    assert!(r.allowed);
    assert_eq!(
        r.warnings,
        [
            "Validation failed for ValidatingAdmissionPolicy 'replicas' with binding 'test': at most 1"
        ]
    );
    let modes: Vec<&str> = all.iter().map(|v| v.mode).collect();
    assert_eq!(modes, ["warn", "audit"]);
    // No namespace label selects a binding elsewhere.
    assert!(
        judge(&set, &deployment("dev", "web", 50, json!({})))
            .1
            .is_empty()
    );
}

#[test]
fn missing_params_follow_the_binding_and_errors_the_failure_policy() {
    // Without the prod ConfigMap: Deny says so; test's selector finds none and allows.
    let yaml: Vec<&str> = REPLICAS.split("\n---\n").collect();
    let without = [yaml[0], yaml[1], yaml[2]].join("\n---\n");
    let (set, errors) = vaps(&without);
    assert!(errors.is_empty(), "{errors:?}");
    let (r, all) = judge(&set, &deployment("prod", "web", 1, json!({})));
    assert!(!r.allowed);
    assert!(
        all[0]
            .message
            .contains("no params found for binding \"prod\""),
        "{all:?}"
    );
    assert!(
        judge(&set, &deployment("test", "web", 50, json!({})))
            .0
            .allowed
    );

    // An expression that cannot be evaluated: Fail denies, Ignore admits.
    let policy = |failure: &str| {
        format!(
            r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: strict}}
spec:
  failurePolicy: {failure}
  matchConstraints:
    resourceRules:
    - {{apiGroups: ["*"], apiVersions: ["*"], operations: ["*"], resources: ["*"]}}
  validations:
  - expression: "object.spec.missing.field == 1"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: strict}}
spec:
  policyName: strict
  validationActions: [Deny]"#
        )
    };
    let (fail, _) = vaps(&policy("Fail"));
    let (r, all) = judge(&fail, &deployment("dev", "web", 1, json!({})));
    assert!(!r.allowed);
    assert!(all[0].message.contains("could not be evaluated"), "{all:?}");
    let (ignore, _) = vaps(&policy("Ignore"));
    assert!(
        judge(&ignore, &deployment("dev", "web", 1, json!({})))
            .0
            .allowed
    );
}

#[test]
fn invalid_policies_and_bindings_are_refused_with_the_place() {
    let (_, errors) = vaps(
        r#"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: bad}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  validations:
  - expression: "object.spec.containers.all(c, "
  - expression: "authorizer.group('').resource('pods').check('create').allowed()"
  - expression: "object.spec.containers.all(a, a.ports.all(b, b.name.all(c, object.spec.volumes.all(d, true))))"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: b1}
spec:
  policyName: bad
  validationActions: [Deny, Warn]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: b2}
spec:
  policyName: nowhere
  validationActions: [Audit]"#,
    );
    let all = errors.join("\n");
    for want in [
        "spec.validations[0].expression",
        "spec.validations[1].expression",
        "authorization checks need the API server",
        "spec.validations[2].expression",
        "nest 4 deep",
        "Deny and Warn together are not allowed",
        "names policy \"nowhere\", which is not among the files",
    ] {
        assert!(all.contains(want), "{want} in:\n{all}");
    }
}
