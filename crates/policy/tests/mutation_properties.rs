//! Properties of mutations on generated pods: patches are minimal (only `add`s of paths that
//! did not exist), idempotent (a second pass patches nothing) and leave the pod passing the
//! checks the mutations are for.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use proptest::prelude::*;
use rampart_api::{Condition, Mutations, ResourceRequirement, Rule};
use rampart_policy::conditions::evaluate_rule;
use rampart_policy::mutate::patch;
use rampart_policy::object::pod_source;
use rampart_policy::pss::{self, LevelVersion};
use serde_json::{Value, json};

fn opt<T: Clone + std::fmt::Debug + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop_oneof![Just(None), s.prop_map(Some)].boxed()
}

fn security_context() -> impl Strategy<Value = Option<Value>> {
    // Explicit choices the mutations must respect (allowPrivilegeEscalation: true) are covered
    // by "never overwrites"; here the pod only leaves things out.
    (
        opt(Just(false)),
        opt(prop_oneof![
            Just(json!([])),
            Just(json!(["NET_RAW"])),
            Just(json!(["ALL"]))
        ]),
        opt(prop_oneof![
            Just(json!([])),
            Just(json!(["NET_BIND_SERVICE"]))
        ]),
        any::<bool>(),
        opt(Just(json!({"type": "RuntimeDefault"}))),
    )
        .prop_map(|(ape, drop, add, caps_obj, seccomp)| {
            let mut sc = serde_json::Map::new();
            if let Some(a) = ape {
                sc.insert("allowPrivilegeEscalation".into(), json!(a));
            }
            if caps_obj || drop.is_some() || add.is_some() {
                let mut caps = serde_json::Map::new();
                if let Some(d) = drop {
                    caps.insert("drop".into(), d);
                }
                if let Some(a) = add {
                    caps.insert("add".into(), a);
                }
                sc.insert("capabilities".into(), Value::Object(caps));
            }
            if let Some(s) = seccomp {
                sc.insert("seccompProfile".into(), s);
            }
            Some(Value::Object(sc))
        })
        .boxed()
        .prop_union(Just(None).boxed())
}

fn resources() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(json!({}))),
        Just(Some(json!({"requests": {"cpu": "50m"}}))),
        Just(Some(json!({"limits": {"memory": "64Mi"}}))),
        Just(Some(json!({"requests": {"memory": "1Gi"}}))),
        Just(Some(
            json!({"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}})
        )),
    ]
}

fn container(i: usize) -> impl Strategy<Value = Value> {
    (security_context(), resources()).prop_map(move |(sc, res)| {
        let mut c = json!({"name": format!("c{i}"), "image": "registry.example/app:1"});
        if let Some(sc) = sc {
            c["securityContext"] = sc;
        }
        if let Some(r) = res {
            c["resources"] = r;
        }
        c
    })
}

fn pod() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(container(0), 1..3),
        prop::collection::vec(container(9), 0..2),
        opt(prop_oneof![
            Just(json!({})),
            Just(json!({"runAsNonRoot": true})),
            Just(json!({"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}})),
        ]),
        any::<bool>(),
    )
        .prop_map(|(mut cs, mut init, pod_sc, deployment)| {
            for (i, c) in cs.iter_mut().enumerate() {
                c["name"] = json!(format!("c{i}"));
            }
            for (i, c) in init.iter_mut().enumerate() {
                c["name"] = json!(format!("init{i}"));
            }
            let mut spec = json!({"containers": cs});
            if !init.is_empty() {
                spec["initContainers"] = json!(init);
            }
            if let Some(s) = pod_sc {
                spec["securityContext"] = s;
            }
            if deployment {
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                       "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": spec}}})
            } else {
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
            }
        })
}

fn all_mutations() -> Mutations {
    Mutations {
        default_requests: [
            ("cpu".to_string(), "100m".to_string()),
            ("memory".to_string(), "128Mi".to_string()),
        ]
        .into(),
        default_limits: [("memory".to_string(), "512Mi".to_string())].into(),
        run_as_non_root: true,
        seccomp_runtime_default: true,
        drop_all_capabilities: true,
        disallow_privilege_escalation: true,
    }
}

fn pointer_exists(v: &Value, pointer: &str) -> bool {
    // `/-` appends to an array: it never replaces anything.
    !pointer.ends_with("/-") && v.pointer(pointer).is_some()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn patches_are_minimal_idempotent_and_make_the_pod_pass(obj in pod()) {
        let kind = obj["kind"].as_str().unwrap().to_string();
        let m = all_mutations();
        let before = pod_source(&kind, &obj).unwrap().unwrap();
        let p = patch(&before, &m);
        // Minimal: only adds, never of something that exists.
        for op in &p.0 {
            let json_patch::PatchOperation::Add(a) = op else {
                panic!("non-add operation {op:?}");
            };
            let path = a.path.to_string();
            prop_assert!(!pointer_exists(&obj, &path), "overwrites {path}");
        }
        let mut mutated = obj.clone();
        json_patch::patch(&mut mutated, &p).unwrap();
        // Only pod-spec paths were touched: metadata is identical.
        prop_assert_eq!(&mutated["metadata"], &obj["metadata"]);
        // Idempotent.
        let after = pod_source(&kind, &mutated).unwrap().unwrap();
        let again = patch(&after, &m);
        prop_assert!(again.0.is_empty(), "second patch {:?}", again);
        // The mutated pod passes what the mutations are for.
        let rule = Rule {
            name: "hardening".into(),
            conditions: vec![
                Condition { disallow_privilege_escalation: Some(true), ..Condition::default() },
                Condition { required_drop_capabilities: Some(vec!["ALL".into()]), ..Condition::default() },
                Condition {
                    require_resources: Some(ResourceRequirement { requests: vec!["cpu".into()], limits: vec![] }),
                    ..Condition::default()
                },
            ],
            ..Rule::default()
        };
        let findings = evaluate_rule(&rule, &after, &Default::default());
        prop_assert!(findings.is_empty(), "{findings:?}");
        // Restricted PSS: the mutations cover every check these generated pods can fail.
        let v = pss::evaluate(LevelVersion::parse("restricted").unwrap(), &after.meta, &after.spec);
        prop_assert!(v.is_empty(), "{v:?}");
    }
}
