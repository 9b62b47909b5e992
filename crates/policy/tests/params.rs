//! A policy's params and inventory: inline values, a params object found, missing (`Deny`,
//! `Allow`) or not loaded (the failure policy decides), per-namespace params of a
//! ClusterSecurityPolicy, inventories of declared kinds, and what is refused when the policy
//! is created.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};

use rampart_api::{
    CelCondition, Condition, FailurePolicy, ObjectKind, ParameterNotFoundAction, Params, Rule,
    SecurityPolicySpec, Targets,
};
use rampart_policy::review::{
    Decision, NamedPolicy, Operation, PolicySet, PssConfig, Request, validate_with,
};
use rampart_policy::store::{ObjectStore, Selection};
use serde_json::{Value, json};

fn service(ns: &str, name: &str, ty: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": ns, "name": name},
           "spec": {"type": ty, "selector": {"app": name}}})
}

fn configmap(ns: &str, name: &str, types: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": ns, "name": name},
           "data": {"types": types}})
}

/// A policy on Services allowing the types its params list.
fn spec(params: Params) -> SecurityPolicySpec {
    SecurityPolicySpec {
        targets: Targets {
            kinds: vec!["v1/Service".into()],
            ..Targets::default()
        },
        rules: vec![Rule {
            name: "types".into(),
            conditions: vec![Condition {
                cel: Some(CelCondition {
                    expression: "object.spec.type in (has(params.data) ? params.data.types.split(',') : params.types)".into(),
                    message: Some("this Service type is not allowed".into()),
                    message_expression: None,
                }),
                ..Condition::default()
            }],
            ..Rule::default()
        }],
        params: Some(params),
        ..SecurityPolicySpec::default()
    }
}

fn by_ref(name: &str, namespace: Option<&str>, not_found: ParameterNotFoundAction) -> Params {
    Params {
        kind: Some("ConfigMap".into()),
        name: Some(name.into()),
        namespace: namespace.map(String::from),
        parameter_not_found_action: not_found,
        ..Params::default()
    }
}

fn judge(set: &PolicySet, objects: &ObjectStore, svc: &Value) -> Decision {
    let ns = svc["metadata"]["namespace"].as_str().unwrap();
    let req = Request {
        group: "",
        version: "v1",
        kind: "Service",
        resource: "services",
        sub_resource: None,
        operation: Operation::Create,
        namespace: ns,
        name: svc["metadata"]["name"].as_str().unwrap(),
        username: "alice",
        object: Some(svc.into()),
        old_object: None,
    };
    let labels = BTreeMap::from([("kubernetes.io/metadata.name".to_string(), ns.to_string())]);
    validate_with(&req, &labels, set, &PssConfig::default(), objects).unwrap()
}

fn one(kind: &'static str, namespace: Option<&str>, spec: SecurityPolicySpec) -> PolicySet {
    let mut set = PolicySet::default();
    set.upsert(NamedPolicy {
        kind,
        namespace: namespace.map(String::from),
        name: "p".into(),
        spec,
    })
    .unwrap();
    set
}

#[test]
fn inline_values_are_params() {
    let set = one(
        "ClusterSecurityPolicy",
        None,
        spec(Params {
            values: Some(json!({"types": ["ClusterIP"]})),
            ..Params::default()
        }),
    );
    // Inline params need nothing from the cluster.
    assert!(set.wanted().is_empty());
    let none = ObjectStore::new();
    assert!(judge(&set, &none, &service("a", "s", "ClusterIP")).allowed);
    let d = judge(&set, &none, &service("a", "s", "NodePort"));
    assert!(!d.allowed);
    assert!(
        d.message
            .unwrap()
            .contains("this Service type is not allowed")
    );
}

#[test]
fn a_params_object_is_read_from_the_store_and_its_absence_follows_the_policy() {
    let set = one(
        "SecurityPolicy",
        Some("a"),
        spec(by_ref("types", None, ParameterNotFoundAction::Deny)),
    );
    // A SecurityPolicy's params object lives in its namespace: one object, watched by name.
    let wanted = set.wanted();
    assert_eq!(
        wanted,
        BTreeSet::from([Selection {
            kind: ObjectKind::new("v1", "ConfigMap"),
            namespace: Some("a".into()),
            name: Some("types".into()),
        }])
    );
    let cms = [
        configmap("a", "types", "ClusterIP,NodePort"),
        configmap("b", "types", "LoadBalancer"),
    ];
    let store = ObjectStore::from_objects(&cms, &wanted);
    assert!(judge(&set, &store, &service("a", "s", "NodePort")).allowed);
    assert!(!judge(&set, &store, &service("a", "s", "LoadBalancer")).allowed);

    // Missing, `Deny`: a violation naming the params object.
    let empty = ObjectStore::from_objects(&[], &wanted);
    let d = judge(&set, &empty, &service("a", "s", "NodePort"));
    assert!(!d.allowed);
    assert!(
        d.message
            .as_deref()
            .unwrap()
            .contains("params v1/ConfigMap a/types not found"),
        "{d:?}"
    );
    // Missing, `Allow`: the policy does not apply.
    let set = one(
        "SecurityPolicy",
        Some("a"),
        spec(by_ref("types", None, ParameterNotFoundAction::Allow)),
    );
    assert!(judge(&set, &empty, &service("a", "s", "LoadBalancer")).allowed);
    // Not loaded yet (the watch has not listed): the failure policy decides.
    let unloaded = ObjectStore::new();
    let d = judge(&set, &unloaded, &service("a", "s", "NodePort"));
    assert!(!d.allowed);
    assert!(d.message.unwrap().contains("is not loaded yet"));
    let mut ignore = spec(by_ref("types", None, ParameterNotFoundAction::Deny));
    ignore.failure_policy = FailurePolicy::Ignore;
    let set = one("SecurityPolicy", Some("a"), ignore);
    assert!(judge(&set, &unloaded, &service("a", "s", "LoadBalancer")).allowed);
}

#[test]
fn a_cluster_policy_reads_each_namespaces_own_params() {
    let set = one(
        "ClusterSecurityPolicy",
        None,
        spec(by_ref("types", None, ParameterNotFoundAction::Deny)),
    );
    let cms = [
        configmap("a", "types", "NodePort"),
        configmap("b", "types", "LoadBalancer"),
    ];
    let store = ObjectStore::from_objects(&cms, &set.wanted());
    assert!(judge(&set, &store, &service("a", "s", "NodePort")).allowed);
    assert!(!judge(&set, &store, &service("b", "s", "NodePort")).allowed);
    assert!(judge(&set, &store, &service("b", "s", "LoadBalancer")).allowed);
    // A fixed namespace: every request reads that one.
    let set = one(
        "ClusterSecurityPolicy",
        None,
        spec(by_ref("types", Some("b"), ParameterNotFoundAction::Deny)),
    );
    let store = ObjectStore::from_objects(&cms, &set.wanted());
    assert!(judge(&set, &store, &service("a", "s", "LoadBalancer")).allowed);
    assert!(!judge(&set, &store, &service("a", "s", "NodePort")).allowed);
}

#[test]
fn an_inventory_holds_the_declared_kinds_only() {
    let mut s = spec(Params {
        values: Some(json!({"types": ["ClusterIP", "NodePort"]})),
        ..Params::default()
    });
    s.inventory = vec![ObjectKind::new("v1", "Service")];
    s.rules[0].conditions.push(Condition {
        cel: Some(CelCondition {
            expression: "!inventory.exists(o, o.metadata.namespace == object.metadata.namespace && o.metadata.name != object.metadata.name && o.spec.selector == object.spec.selector)".into(),
            message: Some("another Service has this selector".into()),
            message_expression: None,
        }),
        ..Condition::default()
    });
    let set = one("ClusterSecurityPolicy", None, s);
    let cluster = [
        service("a", "twin", "ClusterIP"),
        // Same name and selector as the Service a twin of is checked against, as a ConfigMap:
        // not a declared kind, never in the inventory.
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "a", "name": "x"}, "spec": {"selector": {"app": "s"}}}),
    ];
    let store = ObjectStore::from_objects(&cluster, &set.wanted());
    assert!(judge(&set, &store, &service("a", "s", "ClusterIP")).allowed);
    let mut twin = service("a", "s2", "ClusterIP");
    twin["spec"]["selector"] = json!({"app": "twin"});
    let d = judge(&set, &store, &twin);
    assert!(!d.allowed);
    assert!(
        d.message
            .unwrap()
            .contains("another Service has this selector")
    );
}

#[test]
fn a_namespaced_policy_never_reads_another_namespaces_objects() {
    let mut s = spec(Params {
        values: Some(json!({"types": ["ClusterIP"]})),
        ..Params::default()
    });
    s.inventory = vec![ObjectKind::new("v1", "Service")];
    s.rules[0].conditions[0] = Condition {
        cel: Some(CelCondition {
            expression: "inventory.all(o, o.metadata.namespace == 'a')".into(),
            message_expression: Some(
                "'saw ' + inventory.map(o, o.metadata.namespace).join(',')".into(),
            ),
            message: None,
        }),
        ..Condition::default()
    };
    let cluster = [
        service("a", "x", "ClusterIP"),
        service("b", "secret-ish", "ClusterIP"),
    ];
    let set = one("SecurityPolicy", Some("a"), s.clone());
    let store = ObjectStore::from_objects(&cluster, &set.wanted());
    assert!(judge(&set, &store, &service("a", "s", "ClusterIP")).allowed);
    // Twin: the same rule in a ClusterSecurityPolicy sees every namespace.
    let set = one("ClusterSecurityPolicy", None, s);
    let store = ObjectStore::from_objects(&cluster, &set.wanted());
    let d = judge(&set, &store, &service("a", "s", "ClusterIP"));
    assert!(d.message.unwrap().contains("saw a,b"));
}

#[test]
fn undeclared_params_and_inventories_and_secrets_are_refused_at_creation() {
    let mut s = spec(Params::default());
    s.params = None;
    let e = format!("{:?}", s.validate());
    assert!(e.contains("undeclared reference to \\\"params\\\""), "{e}");
    assert!(
        e.contains("declare the policy's params: spec.params"),
        "{e}"
    );

    let mut s = spec(Params {
        values: Some(json!({})),
        ..Params::default()
    });
    s.rules[0].conditions[0].cel.as_mut().unwrap().expression = "size(inventory) < 3".into();
    let e = format!("{:?}", s.validate());
    assert!(e.contains("spec.inventory"), "{e}");

    let s = spec(Params {
        kind: Some("Secret".into()),
        name: Some("creds".into()),
        ..Params::default()
    });
    let e = format!("{:?}", s.validate());
    assert!(e.contains("Secrets cannot be params"), "{e}");

    let s = spec(Params {
        values: Some(json!({})),
        kind: Some("ConfigMap".into()),
        name: Some("x".into()),
        ..Params::default()
    });
    assert!(format!("{:?}", s.validate()).contains("not both"));

    // A SecurityPolicy reads its own namespace's params only.
    let s = spec(by_ref(
        "types",
        Some("kube-system"),
        ParameterNotFoundAction::Deny,
    ));
    assert!(s.validate().is_empty());
    let mut set = PolicySet::default();
    let e = set
        .upsert(NamedPolicy {
            kind: "SecurityPolicy",
            namespace: Some("a".into()),
            name: "p".into(),
            spec: s,
        })
        .unwrap_err();
    assert!(format!("{e:?}").contains("its own namespace"), "{e:?}");
}
