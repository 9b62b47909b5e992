//! Admission decisions end to end (without HTTP): Pod Security modes, templates, exemptions,
//! namespace labels, SecurityPolicy modes and targets, policy objects, mutations.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::Path;

use rampart_api::{Condition, EnforcementMode, Mutations, Rule, SecurityPolicySpec, Targets};
use rampart_policy::review::{
    NamedPolicy, Operation, PolicySet, PssConfig, Request, mutate, validate,
};
use serde_json::{Value, json};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn req<'a>(kind: &'a str, group: &'a str, object: &'a Value) -> Request<'a> {
    Request {
        group,
        version: "",
        kind,
        resource: "",
        sub_resource: None,
        operation: Operation::Create,
        namespace: "app",
        name: object["metadata"]["name"].as_str().unwrap_or(""),
        username: "alice",
        object: Some(object.into()),
        old_object: None,
    }
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "app", "labels": {"app": "p"}}, "spec": spec})
}

fn deployment(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "app"},
           "spec": {"selector": {"matchLabels": {"app": "d"}},
                    "template": {"metadata": {"labels": {"app": "d"}}, "spec": spec}}})
}

const RESTRICTED: &[(&str, &str)] = &[
    ("pod-security.kubernetes.io/enforce", "restricted"),
    ("pod-security.kubernetes.io/warn", "restricted"),
    ("pod-security.kubernetes.io/audit", "restricted"),
];

#[test]
fn pods_are_enforced_and_templates_warned_for_every_fixture() {
    // Upstream's test/run.go: each fixture's spec in a Deployment template gives the Pod's
    // verdict as a warning instead of a denial.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpora/pod-security-admission/restricted/v1.37");
    let ns = labels(RESTRICTED);
    let mut n = 0;
    for outcome in ["pass", "fail"] {
        for e in std::fs::read_dir(root.join(outcome)).unwrap() {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            let mut p: Value = serde_saphyr::from_str(&text).unwrap();
            p["metadata"]["namespace"] = json!("app");
            // The webhook sees what the API server made of the pod (a volume without a source
            // is an emptyDir by then).
            rampart_policy::defaults::apply("Pod", &mut p);
            let pd = validate(
                &req("Pod", "", &p),
                &ns,
                &PolicySet::default(),
                &PssConfig::default(),
            )
            .unwrap();
            let mut d = deployment(p["spec"].clone());
            // The pod's annotations (AppArmor, seccomp) travel with the template.
            d["spec"]["template"]["metadata"]["annotations"] = p["metadata"]["annotations"].clone();
            let dd = validate(
                &req("Deployment", "apps", &d),
                &ns,
                &PolicySet::default(),
                &PssConfig::default(),
            )
            .unwrap();
            assert!(dd.allowed, "templates are never denied by Pod Security");
            if outcome == "pass" {
                assert!(pd.allowed && pd.warnings.is_empty() && dd.warnings.is_empty());
            } else {
                assert!(!pd.allowed);
                let msg = pd.message.unwrap();
                let name = p["metadata"]["name"].as_str().unwrap();
                assert!(
                    msg.starts_with(&format!(
                        "pods {name:?} is forbidden: violates PodSecurity \"restricted:latest\": "
                    )),
                    "{msg}"
                );
                assert_eq!(dd.warnings.len(), 1);
                // Upstream words a template's warning as a pod's.
                assert!(
                    dd.warnings[0].starts_with("would violate PodSecurity \"restricted:latest\": "),
                    "{}",
                    dd.warnings[0]
                );
                assert!(dd.audit_annotations.contains_key("audit-violations"));
            }
            n += 1;
        }
    }
    assert!(n > 90);
}

#[test]
fn namespace_labels_versions_defaults_and_invalid_values() {
    let root_pod = pod(
        json!({"containers": [{"name": "c", "image": "x", "securityContext": {"runAsUser": 0}}]}),
    );
    let none = PolicySet::default();
    let cfg = PssConfig::default();
    // No labels, default privileged: allowed.
    assert!(
        validate(&req("Pod", "", &root_pod), &labels(&[]), &none, &cfg)
            .unwrap()
            .allowed
    );
    // Baseline allows it; restricted denies it.
    let baseline = labels(&[("pod-security.kubernetes.io/enforce", "baseline")]);
    assert!(
        validate(&req("Pod", "", &root_pod), &baseline, &none, &cfg)
            .unwrap()
            .allowed
    );
    // runAsUser=0 is restricted from v1.23 only; runAsNonRoot etc. apply at every version.
    let old = labels(&[
        ("pod-security.kubernetes.io/enforce", "restricted"),
        ("pod-security.kubernetes.io/enforce-version", "v1.22"),
    ]);
    let d = validate(&req("Pod", "", &root_pod), &old, &none, &cfg).unwrap();
    assert!(!d.allowed);
    assert!(
        !d.violations.iter().any(|v| v.rule == "runAsUser"),
        "{:?}",
        d.violations
    );
    let new = labels(&[("pod-security.kubernetes.io/enforce", "restricted")]);
    let d = validate(&req("Pod", "", &root_pod), &new, &none, &cfg).unwrap();
    assert!(d.violations.iter().any(|v| v.rule == "runAsUser"));
    assert_eq!(d.audit_annotations["enforce-policy"], "restricted:latest");
    // Invalid label: restricted:latest, with an error annotation.
    let bad = labels(&[("pod-security.kubernetes.io/enforce", "strict")]);
    let d = validate(&req("Pod", "", &root_pod), &bad, &none, &cfg).unwrap();
    assert!(!d.allowed);
    assert!(d.audit_annotations["error"].contains("strict"));
}

#[test]
fn exemptions_and_unchanged_updates() {
    let priv_pod = pod(
        json!({"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]}),
    );
    let ns = labels(RESTRICTED);
    let none = PolicySet::default();
    let mut cfg = PssConfig {
        exempt_usernames: vec!["system:serviceaccount:kube-system:replicaset-controller".into()],
        ..PssConfig::default()
    };
    let d = validate(&req("Pod", "", &priv_pod), &ns, &none, &cfg).unwrap();
    assert!(!d.allowed);
    let msg = d.message.unwrap();
    assert!(
        msg.contains("privileged") && msg.contains("container \"c\""),
        "{msg}"
    );
    let mut r = req("Pod", "", &priv_pod);
    r.username = "system:serviceaccount:kube-system:replicaset-controller";
    let d = validate(&r, &ns, &none, &cfg).unwrap();
    assert!(d.allowed);
    assert_eq!(d.audit_annotations["exempt"], "user");
    cfg.exempt_namespaces = vec!["app".into()];
    assert!(
        validate(&req("Pod", "", &priv_pod), &ns, &none, &cfg)
            .unwrap()
            .allowed
    );
    // A label-only update of a running pod is not re-evaluated.
    let mut relabelled = priv_pod.clone();
    relabelled["metadata"]["labels"]["tier"] = json!("x");
    let mut u = req("Pod", "", &relabelled);
    u.operation = Operation::Update;
    u.old_object = Some((&priv_pod).into());
    assert!(
        validate(&u, &ns, &none, &PssConfig::default())
            .unwrap()
            .allowed
    );
    // Other subresources are ignored; ephemeral containers are evaluated.
    let mut s = req("Pod", "", &priv_pod);
    s.sub_resource = Some("status");
    assert!(
        validate(&s, &ns, &none, &PssConfig::default())
            .unwrap()
            .allowed
    );
    s.sub_resource = Some("ephemeralcontainers");
    assert!(
        !validate(&s, &ns, &none, &PssConfig::default())
            .unwrap()
            .allowed
    );
}

fn policy(name: &str, mode: EnforcementMode, conditions: Vec<Condition>) -> NamedPolicy {
    NamedPolicy {
        kind: "SecurityPolicy",
        namespace: Some("app".into()),
        name: name.into(),
        spec: SecurityPolicySpec {
            enforcement_mode: mode,
            rules: vec![Rule {
                name: "images".into(),
                conditions,
                ..Rule::default()
            }],
            remediation: Some("see https://wiki.example/images".into()),
            ..SecurityPolicySpec::default()
        },
    }
}

#[test]
fn security_policy_modes_name_policy_rule_container_and_field() {
    let registries = Condition {
        allowed_registries: Some(vec!["registry.acme.io/".into()]),
        ..Condition::default()
    };
    let p = pod(
        json!({"containers": [{"name": "ok", "image": "registry.acme.io/api:1"},
                                      {"name": "bad", "image": "docker.io/evil:1"}]}),
    );
    let ns = labels(&[]);
    let cfg = PssConfig::default();
    for (mode, allowed) in [
        (EnforcementMode::Enforce, false),
        (EnforcementMode::Warn, true),
        (EnforcementMode::Dryrun, true),
    ] {
        let mut set = PolicySet::default();
        set.upsert(policy("trusted", mode, vec![registries.clone()]))
            .unwrap();
        let d = validate(&req("Pod", "", &p), &ns, &set, &cfg).unwrap();
        assert_eq!(d.allowed, allowed, "{mode:?}");
        assert_eq!(d.violations.len(), 1);
        match mode {
            EnforcementMode::Enforce => {
                let m = d.message.unwrap();
                for part in [
                    "SecurityPolicy app/trusted",
                    "rule \"images\"",
                    "container \"bad\"",
                    "spec.containers[1].image",
                    "wiki.example",
                ] {
                    assert!(m.contains(part), "{part} in {m}");
                }
            }
            EnforcementMode::Warn => assert!(d.warnings[0].contains("container \"bad\"")),
            EnforcementMode::Dryrun => {
                assert!(d.warnings.is_empty());
                assert!(d.audit_annotations["dryrun-violations"].contains("bad"));
            }
        }
    }
    // Templates are enforced by SecurityPolicies (field path inside the template).
    let mut set = PolicySet::default();
    set.upsert(policy(
        "trusted",
        EnforcementMode::Enforce,
        vec![registries],
    ))
    .unwrap();
    let d = deployment(json!({"containers": [{"name": "bad", "image": "quay.io/x:1"}]}));
    let r = validate(&req("Deployment", "apps", &d), &ns, &set, &cfg).unwrap();
    assert!(!r.allowed);
    assert!(
        r.message
            .unwrap()
            .contains("spec.template.spec.containers[0].image")
    );
    // Another namespace's policy does not apply.
    let mut other = req("Pod", "", &p);
    other.namespace = "elsewhere";
    assert!(validate(&other, &ns, &set, &cfg).unwrap().allowed);
    // Unknown kinds pass untouched.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    assert!(
        validate(&req("ConfigMap", "", &cm), &ns, &set, &cfg)
            .unwrap()
            .allowed
    );
}

#[test]
fn cluster_policies_target_namespaces_pods_and_kinds() {
    let cond = Condition {
        disallow_privileged: Some(true),
        ..Condition::default()
    };
    let mut set = PolicySet::default();
    set.upsert(NamedPolicy {
        kind: "ClusterSecurityPolicy",
        namespace: None,
        name: "no-priv".into(),
        spec: SecurityPolicySpec {
            targets: Targets {
                excluded_namespaces: vec!["kube-*".into()],
                namespace_selector: Some(
                    serde_json::from_value(json!({"matchLabels": {"env": "prod"}})).unwrap(),
                ),
                kinds: vec!["Pod".into()],
                ..Targets::default()
            },
            rules: vec![Rule {
                name: "r".into(),
                conditions: vec![cond],
                ..Rule::default()
            }],
            ..SecurityPolicySpec::default()
        },
    })
    .unwrap();
    let p = pod(
        json!({"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]}),
    );
    let cfg = PssConfig::default();
    let prod = labels(&[("env", "prod")]);
    assert!(
        !validate(&req("Pod", "", &p), &prod, &set, &cfg)
            .unwrap()
            .allowed
    );
    assert!(
        validate(&req("Pod", "", &p), &labels(&[("env", "dev")]), &set, &cfg)
            .unwrap()
            .allowed
    );
    let mut sys = req("Pod", "", &p);
    sys.namespace = "kube-system";
    assert!(validate(&sys, &prod, &set, &cfg).unwrap().allowed);
    let d = deployment(p["spec"].clone());
    assert!(
        validate(&req("Deployment", "apps", &d), &prod, &set, &cfg)
            .unwrap()
            .allowed,
        "kinds: [Pod]"
    );
}

#[test]
fn invalid_policies_are_rejected_with_reasons() {
    let bad = json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "SecurityPolicy",
        "metadata": {"name": "p", "namespace": "app"},
        "spec": {"rules": [{"name": "r", "conditions": [{}]}, {"name": "r", "conditions": [{"disallowRoot": true}]}]}});
    let d = validate(
        &req("SecurityPolicy", "rampart.dev", &bad),
        &labels(&[]),
        &PolicySet::default(),
        &PssConfig::default(),
    )
    .unwrap();
    assert!(!d.allowed);
    let m = d.message.unwrap();
    assert!(
        m.contains("spec.rules[0].conditions[0]: empty condition")
            && m.contains("duplicate rule name"),
        "{m}"
    );
    let wrong_type =
        json!({"kind": "SecurityPolicy", "metadata": {"name": "p"}, "spec": {"rules": "all"}});
    let d = validate(
        &req("SecurityPolicy", "rampart.dev", &wrong_type),
        &labels(&[]),
        &PolicySet::default(),
        &PssConfig::default(),
    )
    .unwrap();
    assert!(!d.allowed && d.message.unwrap().contains("spec:"));
    let mut set = PolicySet::default();
    let errs = set
        .upsert(policy(
            "x",
            EnforcementMode::Enforce,
            vec![Condition::default()],
        ))
        .unwrap_err();
    assert!(!errs.is_empty() && set.is_empty());
}

#[test]
fn invalid_guardians_are_refused_with_every_problem() {
    let check = |g: &Value| {
        validate(
            &req("Guardian", "rampart.dev", g),
            &labels(&[]),
            &PolicySet::default(),
            &PssConfig::default(),
        )
        .unwrap()
    };
    let good = json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "Guardian",
        "metadata": {"name": "api", "namespace": "app"},
        "spec": {"control": {"mode": "block"}, "configured": {"routes": [{"method": "GET",
            "template": "/items/{int}", "values": {"query.q": {"kinds": ["string"], "specials": "-.'"}}}]}}});
    assert!(check(&good).allowed);
    let bad = json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "Guardian",
        "metadata": {"name": "api", "namespace": "app"},
        "spec": {"control": {"minSessions": 1, "minClients": 3}, "configured": {"routes": [{"method": "GET",
            "template": "/items/{id}", "values": {"query.q": {"formats": ["phone"]}}}]}}});
    let d = check(&bad);
    assert!(!d.allowed);
    let m = d.message.unwrap();
    for want in [
        "Guardian \"api\" is invalid",
        "spec.control.minClients: 3 clients cannot be seen in 1 sessions",
        "spec.configured.routes[0].template: {id} is not a variable segment",
        "spec.configured.routes[0].values.query.q.formats: unknown format \"phone\"",
    ] {
        assert!(m.contains(want), "{want} not in {m}");
    }
    let wrong_mode = json!({"kind": "Guardian", "metadata": {"name": "p"}, "spec": {"control": {"mode": "panic"}}});
    let d = check(&wrong_mode);
    assert!(!d.allowed && d.message.unwrap().contains("spec: unknown variant `panic`"));
}

/// Issue 24: an ArmingPolicy naming an unknown class or a bad namespace pattern is refused
/// when it is written, with its paths; an unknown stage does not even parse.
#[test]
fn invalid_arming_policies_are_refused() {
    let check = |p: &Value| {
        validate(
            &req("ArmingPolicy", "rampart.dev", p),
            &labels(&[]),
            &PolicySet::default(),
            &PssConfig::default(),
        )
        .unwrap()
    };
    let good = json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "ArmingPolicy",
        "metadata": {"name": "ladder"},
        "spec": {"rules": [{"classes": ["network"], "namespaces": ["payments"], "stage": "actWithApproval"},
                           {"stage": "shadow"}]}});
    assert!(check(&good).allowed);
    let bad = json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "ArmingPolicy",
        "metadata": {"name": "ladder"},
        "spec": {"rules": [{"classes": ["nuke"], "namespaces": ["Payments!"], "stage": "act"}]}});
    let d = check(&bad);
    let m = d.message.unwrap_or_default();
    assert!(!d.allowed);
    assert!(m.contains("ArmingPolicy \"ladder\" is invalid"), "{m}");
    assert!(
        m.contains("spec.rules[0].classes[0]: unknown class \"nuke\""),
        "{m}"
    );
    assert!(m.contains("spec.rules[0].namespaces[0]"), "{m}");
    let stage = json!({"kind": "ArmingPolicy", "metadata": {"name": "l"}, "spec": {"rules": [{"stage": "yolo"}]}});
    let d = check(&stage);
    assert!(!d.allowed && d.message.unwrap().contains("unknown variant `yolo`"));
}

#[test]
fn malformed_objects_are_errors_not_panics() {
    let broken = json!({"kind": "Pod", "spec": {"containers": {"not": "a list"}}});
    let e = validate(
        &req("Pod", "", &broken),
        &labels(RESTRICTED),
        &PolicySet::default(),
        &PssConfig::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("Pod"), "{e}");
    let mut r = req("Pod", "", &broken);
    r.object = None;
    assert!(
        validate(
            &r,
            &labels(&[]),
            &PolicySet::default(),
            &PssConfig::default()
        )
        .is_err()
    );
}

#[test]
fn mutation_patches_come_from_applicable_policies() {
    let mut p = policy(
        "harden",
        EnforcementMode::Enforce,
        vec![Condition {
            disallow_privilege_escalation: Some(true),
            ..Condition::default()
        }],
    );
    p.spec.mutations = Some(Mutations {
        disallow_privilege_escalation: true,
        drop_all_capabilities: true,
        ..Mutations::default()
    });
    let mut set = PolicySet::default();
    set.upsert(p).unwrap();
    let mut obj = pod(json!({"containers": [{"name": "c", "image": "x"}]}));
    let d = mutate(&req("Pod", "", &obj), &labels(&[]), &set, None).unwrap();
    let patch = d.patch.unwrap();
    json_patch::patch(&mut obj, &patch).unwrap();
    // The mutated object passes the policy that asked for the mutation.
    assert!(
        validate(
            &req("Pod", "", &obj),
            &labels(&[]),
            &set,
            &PssConfig::default()
        )
        .unwrap()
        .allowed
    );
    assert!(
        mutate(&req("Pod", "", &obj), &labels(&[]), &set, None)
            .unwrap()
            .patch
            .is_none()
    );
}

#[test]
fn upstream_namespace_and_update_rules() {
    let none = PolicySet::default();
    let cfg = PssConfig::default();
    // enforce without warn: templates warn at the enforce level.
    let ns = labels(&[("pod-security.kubernetes.io/enforce", "baseline")]);
    let priv_spec = json!({"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]});
    let d = validate(
        &req("Deployment", "apps", &deployment(priv_spec.clone())),
        &ns,
        &none,
        &cfg,
    )
    .unwrap();
    assert!(
        d.allowed && d.warnings[0].contains("baseline:latest"),
        "{:?}",
        d.warnings
    );
    // A denied pod gets no warnings on top.
    let p = pod(priv_spec.clone());
    let d = validate(&req("Pod", "", &p), &ns, &none, &cfg).unwrap();
    assert!(!d.allowed && d.warnings.is_empty());
    // An invalid version keeps the level (at latest) and says so.
    let ns = labels(&[
        ("pod-security.kubernetes.io/enforce", "baseline"),
        ("pod-security.kubernetes.io/enforce-version", "v1.01"),
    ]);
    let root = pod(
        json!({"containers": [{"name": "c", "image": "x", "securityContext": {"runAsUser": 0}}]}),
    );
    let d = validate(&req("Pod", "", &root), &ns, &none, &cfg).unwrap();
    assert!(d.allowed, "baseline, not restricted");
    assert!(d.audit_annotations["error"].contains("v1.01"));
    // An invalid warn level adds no warnings.
    let ns = labels(&[("pod-security.kubernetes.io/warn", "loud")]);
    let d = validate(&req("Pod", "", &root), &ns, &none, &cfg).unwrap();
    assert!(d.allowed && d.warnings.is_empty());
    // A pod update that only changes tolerations is not re-evaluated; an image change is.
    let ns = labels(&[("pod-security.kubernetes.io/enforce", "baseline")]);
    let mut tolerated = p.clone();
    tolerated["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}]);
    let mut u = req("Pod", "", &tolerated);
    u.operation = Operation::Update;
    u.old_object = Some((&p).into());
    assert!(validate(&u, &ns, &none, &cfg).unwrap().allowed);
    let mut new_image = p.clone();
    new_image["spec"]["containers"][0]["image"] = json!("y");
    let mut u = req("Pod", "", &new_image);
    u.operation = Operation::Update;
    u.old_object = Some((&p).into());
    assert!(!validate(&u, &ns, &none, &cfg).unwrap().allowed);
}

#[test]
fn policies_do_not_block_unrelated_updates_and_mutations_only_create() {
    let mut set = PolicySet::default();
    let mut p = policy(
        "harden",
        EnforcementMode::Enforce,
        vec![Condition {
            disallow_privilege_escalation: Some(true),
            ..Condition::default()
        }],
    );
    p.spec.mutations = Some(Mutations {
        disallow_privilege_escalation: true,
        ..Mutations::default()
    });
    set.upsert(p).unwrap();
    let old = pod(json!({"containers": [{"name": "c", "image": "x"}]}));
    let mut finalized = old.clone();
    finalized["metadata"]["finalizers"] = json!(["example.com/cleanup"]);
    let mut u = req("Pod", "", &finalized);
    u.operation = Operation::Update;
    u.old_object = Some((&old).into());
    assert!(
        validate(&u, &labels(&[]), &set, &PssConfig::default())
            .unwrap()
            .allowed
    );
    assert!(
        mutate(&u, &labels(&[]), &set, None)
            .unwrap()
            .patch
            .is_none(),
        "pods are mutated on create only"
    );
    assert!(
        mutate(&req("Pod", "", &old), &labels(&[]), &set, None)
            .unwrap()
            .patch
            .is_some()
    );
    // A pod without a spec gets no patch (its parent path does not exist).
    let bare = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
    assert!(
        mutate(&req("Pod", "", &bare), &labels(&[]), &set, None)
            .unwrap()
            .patch
            .is_none()
    );
}

#[test]
fn a_review_of_ten_thousand_bad_containers_gets_a_bounded_answer() {
    use rampart_policy::review::{MAX_REPORTED, MAX_VIOLATIONS};
    let containers: Vec<Value> = (0..10_000)
        .map(|i| {
            json!({"name": format!("c{i}"), "image": "docker.io/evil:1",
                        "securityContext": {"privileged": true}})
        })
        .collect();
    let p = pod(json!({ "containers": containers }));
    let registries = Condition {
        allowed_registries: Some(vec!["registry.acme.io/".into()]),
        ..Condition::default()
    };
    let cfg = PssConfig::default();
    let ns = labels(&[("pod-security.kubernetes.io/enforce", "baseline")]);
    for mode in [
        EnforcementMode::Enforce,
        EnforcementMode::Warn,
        EnforcementMode::Dryrun,
    ] {
        let mut set = PolicySet::default();
        set.upsert(policy("registries", mode, vec![registries.clone()]))
            .unwrap();
        let d = validate(&req("Pod", "", &p), &ns, &set, &cfg).unwrap();
        // Baseline denies every container as privileged; the policy flags every image.
        assert!(!d.allowed);
        let message = d.message.unwrap_or_default();
        assert!(message.contains("and 9984 more"), "{message:.300}");
        assert!(message.len() < 8 * 1024, "{} bytes", message.len());
        assert_eq!(d.violations.len(), MAX_VIOLATIONS);
        // 10,000 image findings and one PodSecurity finding.
        assert_eq!(d.violations.len() + d.violations_omitted, 10_001);
        assert!(d.warnings.len() <= MAX_REPORTED + 1);
        let annotations: usize = d.audit_annotations.values().map(String::len).sum();
        assert!(
            annotations < 16 * 1024,
            "{annotations} bytes of annotations"
        );
        match mode {
            EnforcementMode::Enforce => {
                assert!(
                    message.ends_with("and 9981 more violations"),
                    "{message:.300}"
                )
            }
            EnforcementMode::Warn => {
                assert_eq!(d.warnings.last().unwrap(), "and 9980 more warnings")
            }
            EnforcementMode::Dryrun => assert!(
                d.audit_annotations["dryrun-violations"].ends_with("and 9980 more violations")
            ),
        }
    }
}

#[test]
fn past_the_cap_enforced_violations_are_the_ones_kept() {
    let containers: Vec<Value> = (0..1_000)
        .map(|i| json!({"name": format!("c{i}"), "image": "docker.io/evil:1"}))
        .collect();
    let p = pod(json!({ "containers": containers }));
    let registries = Condition {
        allowed_registries: Some(vec!["registry.acme.io/".into()]),
        ..Condition::default()
    };
    let mut set = PolicySet::default();
    // Applied in name order: the audit-only policy fills the cap first.
    set.upsert(policy(
        "a-audit",
        EnforcementMode::Dryrun,
        vec![registries.clone()],
    ))
    .unwrap();
    set.upsert(policy("b-deny", EnforcementMode::Enforce, vec![registries]))
        .unwrap();
    let d = validate(
        &req("Pod", "", &p),
        &labels(&[]),
        &set,
        &PssConfig::default(),
    )
    .unwrap();
    assert!(!d.allowed);
    assert_eq!(d.violations.len() + d.violations_omitted, 2_000);
    assert!(
        d.violations.iter().all(|v| v.mode == "enforce"),
        "a denial lists why it denied"
    );
}

#[test]
fn pod_updates_are_judged_again_when_images_or_seccomp_annotations_change() {
    // Upstream's isSignificantPodUpdate: at v1.18 seccomp comes from annotations only.
    let ns = labels(&[
        ("pod-security.kubernetes.io/enforce", "baseline"),
        ("pod-security.kubernetes.io/enforce-version", "v1.18"),
    ]);
    let base = |annotation: Option<&str>, image: &str| {
        let mut p = pod(json!({"containers": [{"name": "c", "image": image}]}));
        if let Some(a) = annotation {
            p["metadata"]["annotations"] =
                json!({"container.seccomp.security.alpha.kubernetes.io/c": a});
        }
        p
    };
    let update = |old: &Value, new: &Value| {
        let mut r = req("Pod", "", new);
        r.operation = Operation::Update;
        r.old_object = Some(old.into());
        validate(&r, &ns, &PolicySet::default(), &PssConfig::default())
            .unwrap()
            .allowed
    };
    let old = base(None, "nginx:1");
    let unconfined = base(Some("unconfined"), "nginx:1");
    // Created like this, the pod is denied…
    assert!(
        !validate(
            &req("Pod", "", &unconfined),
            &ns,
            &PolicySet::default(),
            &PssConfig::default()
        )
        .unwrap()
        .allowed
    );
    // …and an update that sets the annotation is judged, and denied, too.
    assert!(!update(&old, &unconfined));
    // An update that changes only labels is not judged (a running pod stays manageable).
    let mut relabelled = unconfined.clone();
    relabelled["metadata"]["labels"] = json!({"app": "p", "new": "label"});
    assert!(update(&unconfined, &relabelled));
    // A new image is.
    assert!(!update(&unconfined, &base(Some("unconfined"), "nginx:2")));
}
