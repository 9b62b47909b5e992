//! Pod Security as upstream decides it, check by check, at the versions where behaviour
//! changes (issue 27). Each case is built from upstream's check definitions in
//! `kubernetes/kubernetes` `staging/src/k8s.io/pod-security-admission/policy/` (file named per
//! test) and, for the API server's processing, `pkg/apis/core/v1/defaults.go` and
//! `pkg/registry/core/pod/strategy.go`.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use rampart_policy::pss::{self, Level, LevelVersion, NEWEST_MINOR, Version};
use rampart_policy::review::{NamedPolicy, Operation, PolicySet, PssConfig, Request, validate};
use serde_json::{Value, json};

fn lv(s: &str) -> LevelVersion {
    LevelVersion::parse(s).unwrap()
}

/// `check: reason (detail)` of each violation, in order.
fn eval_at(level: &str, newest: u32, pod: &Value) -> Vec<String> {
    let p: Pod = serde_json::from_value(pod.clone()).unwrap();
    pss::evaluate_at(
        lv(level),
        newest,
        &p.metadata,
        &p.spec.clone().unwrap_or_default(),
    )
    .iter()
    .map(|v| format!("{}: {v}", v.check))
    .collect()
}

fn eval(level: &str, pod: &Value) -> Vec<String> {
    eval_at(level, NEWEST_MINOR, pod)
}

/// A pod that passes restricted at every version, with `spec` merged over it.
fn restricted_pod(extra: Value) -> Value {
    let mut spec = json!({
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "c", "image": "x", "securityContext": {
            "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
    });
    merge(&mut spec, extra);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn only(got: &[String], want: &str) {
    assert_eq!(got, &[want.to_string()], "{got:#?}");
}

// ---- 1. image volumes (check_restrictedVolumes.go, kubernetes/kubernetes#130394, v1.33) ----

#[test]
fn image_volumes_are_allowed_at_every_version() {
    let pod = restricted_pod(json!({"volumes": [
        {"name": "i", "image": {"reference": "registry.example/data:1", "pullPolicy": "IfNotPresent"}},
        {"name": "e", "emptyDir": {}}]}));
    for level in [
        "restricted:v1.0",
        "restricted:v1.24",
        "restricted:v1.25",
        "restricted:v1.33",
        "restricted:v1.36",
        "restricted:latest",
    ] {
        assert!(
            eval(level, &pod).is_empty(),
            "{level}: {:?}",
            eval(level, &pod)
        );
    }
}

#[test]
fn restricted_volume_types_count_types_not_volumes() {
    let two_host = restricted_pod(json!({"volumes": [
        {"name": "a", "hostPath": {"path": "/a"}}, {"name": "b", "hostPath": {"path": "/b"}}]}));
    only(
        &eval("restricted:latest", &two_host),
        r#"restrictedVolumes: restricted volume types (volumes "a", "b" use restricted volume type "hostPath")"#,
    );
    let mixed = restricted_pod(json!({"volumes": [
        {"name": "a", "hostPath": {"path": "/a"}}, {"name": "g", "gitRepo": {"repository": "r"}},
        {"name": "n", "nfs": {"server": "s", "path": "/"}}, {"name": "ok", "secret": {"secretName": "s"}}]}));
    only(
        &eval("restricted:v1.0", &mixed),
        r#"restrictedVolumes: restricted volume types (volumes "a", "g", "n" use restricted volume types "gitRepo", "hostPath", "nfs")"#,
    );
    let one = restricted_pod(json!({"volumes": [{"name": "x", "cephfs": {"monitors": ["m"]}}]}));
    only(
        &eval("restricted:latest", &one),
        r#"restrictedVolumes: restricted volume types (volume "x" uses restricted volume type "cephfs")"#,
    );
    // Baseline only reports hostPath, under its own check.
    only(
        &eval("baseline:latest", &two_host),
        r#"hostPathVolumes: hostPath volumes (volumes "a", "b")"#,
    );
}

#[test]
fn a_volume_without_source_is_unknown_until_defaulted() {
    let mut pod = restricted_pod(json!({"volumes": [{"name": "v"}]}));
    only(
        &eval("restricted:latest", &pod),
        r#"restrictedVolumes: restricted volume types (volume "v" uses restricted volume type "unknown")"#,
    );
    rampart_policy::defaults::apply("Pod", &mut pod);
    assert_eq!(pod["spec"]["volumes"][0]["emptyDir"], json!({}));
    assert!(eval("restricted:latest", &pod).is_empty());
}

// ---- 2. user namespaces (check_runAsNonRoot.go, check_runAsUser.go,
//         check_procMount_baseline.go @e8bd3f62, v1.35) ----

#[test]
fn host_users_false_relaxes_run_as_checks_from_v1_35() {
    let root = restricted_pod(json!({"hostUsers": false, "securityContext": {"runAsUser": 0}}));
    only(
        &eval("restricted:v1.34", &root),
        r#"runAsUser: runAsUser=0 (pod must not set runAsUser=0)"#,
    );
    assert!(eval("restricted:v1.35", &root).is_empty());
    assert!(eval("restricted:v1.36", &root).is_empty());
    assert!(eval("restricted:latest", &root).is_empty());

    let non_root_false = restricted_pod(json!({"hostUsers": false,
        "securityContext": {"runAsNonRoot": false}}));
    only(
        &eval("restricted:v1.34", &non_root_false),
        r#"runAsNonRoot: runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)"#,
    );
    assert!(eval("restricted:v1.35", &non_root_false).is_empty());

    // Unset or true: the host's user namespace, no relaxation.
    for host_users in [json!(true), Value::Null] {
        let pod = restricted_pod(json!({"hostUsers": host_users,
            "securityContext": {"runAsUser": 0, "runAsNonRoot": false}}));
        assert_eq!(
            eval("restricted:latest", &pod),
            [
                "runAsNonRoot: runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)",
                "runAsUser: runAsUser=0 (pod must not set runAsUser=0)"
            ]
        );
    }
    // Nothing else is relaxed: capabilities and privilege escalation still apply.
    let escalating = restricted_pod(json!({"hostUsers": false, "containers": [{"name": "c",
        "securityContext": {"capabilities": {"drop": ["ALL"]}}}]}));
    assert_eq!(
        eval("restricted:latest", &escalating),
        [
            r#"allowPrivilegeEscalation: allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)"#
        ]
    );
}

#[test]
fn host_users_false_relaxes_baseline_proc_mount_only() {
    let unmasked = restricted_pod(json!({"hostUsers": false, "containers": [{"name": "c",
        "securityContext": {"procMount": "Unmasked", "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]}}}]}));
    only(
        &eval("baseline:v1.34", &unmasked),
        r#"procMount: procMount (container "c" must not set securityContext.procMount to "Unmasked")"#,
    );
    assert!(eval("baseline:v1.35", &unmasked).is_empty());
    only(
        &eval("restricted:v1.35", &unmasked),
        r#"procMount_restricted: procMount (container "c" must not set securityContext.procMount to "Unmasked")"#,
    );
}

// ---- 3. seccomp (check_seccompProfile_baseline.go @046d201c,
//         check_seccompProfile_restricted.go @422c8fc5) ----

fn annotated(annotations: Value, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "annotations": annotations}, "spec": spec})
}

#[test]
fn seccomp_annotations_before_v1_19() {
    let spec = json!({"containers": [{"name": "a"}, {"name": "b"}],
        "initContainers": [{"name": "i"}]});
    for ok in [
        "runtime/default",
        "docker/default",
        "localhost/profile.json",
    ] {
        let pod = annotated(
            json!({"seccomp.security.alpha.kubernetes.io/pod": ok,
                "container.seccomp.security.alpha.kubernetes.io/a": ok}),
            spec.clone(),
        );
        assert!(eval("baseline:v1.18", &pod).is_empty(), "{ok}");
    }
    for bad in ["unconfined", "", "foo", "localhost"] {
        let pod = annotated(
            json!({"seccomp.security.alpha.kubernetes.io/pod": bad}),
            spec.clone(),
        );
        only(
            &eval("baseline:v1.18", &pod),
            &format!(
                "seccompProfile_baseline: seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod={bad:?})"
            ),
        );
    }
    // Only containers that exist are read; several annotations are sorted.
    let pod = annotated(
        json!({"container.seccomp.security.alpha.kubernetes.io/ghost": "unconfined",
            "container.seccomp.security.alpha.kubernetes.io/i": "unconfined",
            "container.seccomp.security.alpha.kubernetes.io/b": "foo"}),
        spec.clone(),
    );
    only(
        &eval("baseline:v1.18", &pod),
        r#"seccompProfile_baseline: seccompProfile (forbidden annotations container.seccomp.security.alpha.kubernetes.io/b="foo", container.seccomp.security.alpha.kubernetes.io/i="unconfined")"#,
    );
    // From v1.19 annotations are not read at all.
    assert!(eval("baseline:v1.19", &pod).is_empty());
    // Restricted before v1.19 has no seccomp check of its own: the baseline annotation one runs.
    let mut bare = restricted_pod(json!({}));
    bare["spec"]["securityContext"] = json!({"runAsNonRoot": true});
    bare["metadata"]["annotations"] =
        json!({"seccomp.security.alpha.kubernetes.io/pod": "unconfined"});
    only(
        &eval("restricted:v1.18", &bare),
        r#"seccompProfile_baseline: seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")"#,
    );
}

#[test]
fn seccomp_fields_from_v1_19() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "securityContext": {"seccompProfile": {"type": "Unconfined"}},
        "containers": [{"name": "a", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
            {"name": "b", "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "x"}}},
            {"name": "c"}]}});
    only(
        &eval("baseline:v1.19", &pod),
        r#"seccompProfile_baseline: seccompProfile (pod and container "a" must not set securityContext.seccompProfile.type to "Unconfined")"#,
    );
    // Restricted: explicit bad values are reported alone (no "must set" for container "c").
    let restricted: Vec<String> = eval("restricted:latest", &pod)
        .into_iter()
        .filter(|v| v.starts_with("seccomp"))
        .collect();
    only(
        &restricted,
        r#"seccompProfile_restricted: seccompProfile (pod and container "a" must not set securityContext.seccompProfile.type to "Unconfined")"#,
    );
    let implicit = restricted_pod(json!({"securityContext": {"seccompProfile": null},
        "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]}}},
            {"name": "d", "securityContext": {"allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}]}));
    only(
        &eval("restricted:v1.19", &implicit),
        r#"seccompProfile_restricted: seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#,
    );
    // Windows pods are exempt from v1.25.
    let mut windows = implicit.clone();
    windows["spec"]["os"] = json!({"name": "windows"});
    assert!(eval("restricted:v1.25", &windows).is_empty());
}

// ---- 4. latest (registry.go @61c7fad9: clamped to the binary's newest version) ----

#[test]
fn latest_is_the_newest_version_the_api_server_knows() {
    assert_eq!(pss::latest_minor_for(37), 37);
    assert_eq!(pss::latest_minor_for(36), 35, "no check changed in 1.36");
    assert_eq!(pss::latest_minor_for(35), 35);
    assert_eq!(pss::latest_minor_for(33), 32);
    assert_eq!(pss::latest_minor_for(1000), NEWEST_MINOR);
    assert_eq!(Version::Latest.resolve(35), 35);
    assert_eq!(Version::Minor(37).resolve(35), 35);
    assert_eq!(Version::Minor(30).resolve(35), 30);
    assert_eq!(Version::Latest.resolve(1000), NEWEST_MINOR);

    // net.ipv4.tcp_notsent_lowat is safe from v1.37 (check_sysctls.go, #138389).
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "securityContext": {"sysctls": [{"name": "net.ipv4.tcp_notsent_lowat", "value": "1"}]},
        "containers": [{"name": "c"}]}});
    assert!(eval("baseline:latest", &pod).is_empty());
    let on_136 = pss::latest_minor_for(36);
    let want = "sysctls: forbidden sysctls (net.ipv4.tcp_notsent_lowat)";
    only(&eval_at("baseline:latest", on_136, &pod), want);
    only(&eval_at("baseline:v1.37", on_136, &pod), want);
    // And through review, via the configuration.
    let cfg = PssConfig {
        newest_minor: on_136,
        ..PssConfig::default()
    };
    let ns = labels(&[("pod-security.kubernetes.io/enforce", "baseline")]);
    let d = validate(&pod_req("p", &pod), &ns, &PolicySet::default(), &cfg).unwrap();
    assert!(!d.allowed);
    let d = validate(
        &pod_req("p", &pod),
        &ns,
        &PolicySet::default(),
        &PssConfig::default(),
    )
    .unwrap();
    assert!(d.allowed);
}

// ---- 5. the API server's processing (defaults.go, strategy.go) ----

#[test]
fn host_network_pods_get_host_ports() {
    let spec = json!({"hostNetwork": true, "containers": [{"name": "c",
        "ports": [{"containerPort": 80}]}]});
    let mut pod =
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec});
    rampart_policy::defaults::apply("Pod", &mut pod);
    assert_eq!(
        eval("baseline:latest", &pod),
        [
            "hostNamespaces: host namespaces (hostNetwork=true)",
            r#"hostPorts: hostPort (container "c" uses hostPort 80)"#
        ]
    );
    // A template is not a Pod: no hostPort defaulting.
    let mut d = json!({"kind": "Deployment", "spec": {"template": {"metadata": {}, "spec": spec}}});
    rampart_policy::defaults::apply("Deployment", &mut d);
    assert!(
        d.pointer("/spec/template/spec/containers/0/ports/0/hostPort")
            .is_none()
    );
}

#[test]
fn app_armor_annotations_are_reported_as_field_and_annotation() {
    let mut pod = annotated(
        json!({"container.apparmor.security.beta.kubernetes.io/c": "unconfined"}),
        json!({"containers": [{"name": "c"}]}),
    );
    only(
        &eval("baseline:latest", &pod),
        r#"appArmorProfile: forbidden AppArmor profile (annotation must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/c="unconfined"")"#,
    );
    rampart_policy::defaults::apply("Pod", &mut pod);
    only(
        &eval("baseline:latest", &pod),
        r#"appArmorProfile: forbidden AppArmor profiles (container "c" and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/c="unconfined"")"#,
    );
}

// ---- 6. messages (checks.go, registry.go, each check_*.go) ----

#[test]
fn checks_are_reported_in_upstream_order() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "x"}]}});
    let reasons: Vec<String> = eval("restricted:latest", &pod)
        .iter()
        .map(|v| v.split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(
        reasons,
        [
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "runAsNonRoot",
            "seccompProfile_restricted"
        ]
    );
    // Baseline checks first, each level sorted by id.
    let wild = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "hostPID": true,
        "securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]},
        "containers": [{"name": "c", "securityContext": {"privileged": true,
            "capabilities": {"add": ["SYS_ADMIN"]}}}]}});
    let ids: Vec<String> = eval("restricted:latest", &wild)
        .iter()
        .map(|v| v.split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "hostNamespaces",
            "privileged",
            "sysctls",
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "runAsNonRoot",
            "seccompProfile_restricted"
        ]
    );
}

#[test]
fn detail_strings_are_upstreams() {
    let pod = |spec: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec});
    // check_hostPorts.go: a sorted set of ports, "use" for several containers.
    only(
        &eval(
            "baseline:latest",
            &pod(json!({"containers": [
                {"name": "a"},
                {"name": "b", "ports": [{"containerPort": 1, "hostPort": 20}, {"containerPort": 2, "hostPort": 100}]},
                {"name": "c", "ports": [{"containerPort": 3, "hostPort": 20}]}]})),
        ),
        r#"hostPorts: hostPort (containers "b", "c" use hostPorts 100, 20)"#,
    );
    // check_seLinuxOptions.go.
    only(
        &eval(
            "baseline:latest",
            &pod(
                json!({"securityContext": {"seLinuxOptions": {"type": "foo", "user": "u"}},
                "containers": [{"name": "d", "securityContext": {"seLinuxOptions": {"type": "bar", "role": "r"}}},
                    {"name": "e", "securityContext": {"seLinuxOptions": {"type": "container_t"}}}]}),
            ),
        ),
        r#"seLinuxOptions: seLinuxOptions (pod and container "d" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; role may not be set)"#,
    );
    // check_seLinuxOptions_test.go, "invalid pod and containers".
    only(
        &eval(
            "baseline:latest",
            &pod(
                json!({"securityContext": {"seLinuxOptions": {"type": "foo", "user": "bar", "role": "baz"}},
                "containers": [
                    {"name": "a", "securityContext": {"seLinuxOptions": {"type": "container_t"}}},
                    {"name": "b", "securityContext": {"seLinuxOptions": {"type": "container_init_t"}}},
                    {"name": "c", "securityContext": {"seLinuxOptions": {"type": "container_kvm_t"}}},
                    {"name": "d", "securityContext": {"seLinuxOptions": {"type": "bar"}}},
                    {"name": "e", "securityContext": {"seLinuxOptions": {"user": "bar"}}},
                    {"name": "f", "securityContext": {"seLinuxOptions": {"role": "baz"}}}]}),
            ),
        ),
        r#"seLinuxOptions: seLinuxOptions (pod and containers "d", "e", "f" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set; role may not be set)"#,
    );
    // A user alone: the current check reports user and role whatever the types.
    only(
        &eval(
            "baseline:latest",
            &pod(
                json!({"containers": [{"name": "d", "securityContext": {"seLinuxOptions": {"user": "u"}}}]}),
            ),
        ),
        r#"seLinuxOptions: seLinuxOptions (container "d" set forbidden securityContext.seLinuxOptions: user may not be set)"#,
    );
    // container_engine_t is allowed from v1.31.
    let engine = pod(
        json!({"containers": [{"name": "d", "securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}]}),
    );
    assert!(eval("baseline:v1.31", &engine).is_empty());
    only(
        &eval("baseline:v1.30", &engine),
        r#"seLinuxOptions: seLinuxOptions (container "d" set forbidden securityContext.seLinuxOptions: type "container_engine_t")"#,
    );
    // check_sysctls.go: unquoted, in spec order.
    only(
        &eval(
            "baseline:latest",
            &pod(
                json!({"securityContext": {"sysctls": [{"name": "net.core.somaxconn", "value": "1"},
                {"name": "kernel.msgmax", "value": "1"}]}, "containers": [{"name": "c"}]}),
            ),
        ),
        "sysctls: forbidden sysctls (net.core.somaxconn, kernel.msgmax)",
    );
    // check_hostProbesAndhostLifecycle.go: sorted containers and hosts.
    only(
        &eval(
            "baseline:latest",
            &pod(json!({"containers": [
                {"name": "b", "livenessProbe": {"httpGet": {"port": 80, "host": "example.com"}}},
                {"name": "a", "lifecycle": {"preStop": {"tcpSocket": {"port": 80, "host": "1.2.3.4"}}},
                    "readinessProbe": {"tcpSocket": {"port": 80, "host": "example.com"}}}]})),
        ),
        r#"hostProbesAndHostLifecycle: probe or lifecycle host (containers "a", "b" use probe or lifecycle hosts "1.2.3.4", "example.com")"#,
    );
    only(
        &eval(
            "baseline:latest",
            &pod(
                json!({"containers": [{"name": "a", "startupProbe": {"httpGet": {"port": 80, "host": "h"}}}]}),
            ),
        ),
        r#"hostProbesAndHostLifecycle: probe or lifecycle host (container "a" uses probe or lifecycle host "h")"#,
    );
    // check_appArmorProfile.go: fields.
    only(
        &eval(
            "baseline:latest",
            &pod(
                json!({"securityContext": {"appArmorProfile": {"type": "Unconfined"}},
                "containers": [{"name": "c"}]}),
            ),
        ),
        r#"appArmorProfile: forbidden AppArmor profile (pod must not set AppArmor profile type to "Unconfined")"#,
    );
    // check_runAsNonRoot.go: an explicit false is reported alone.
    let non_root = pod(
        json!({"securityContext": {"runAsNonRoot": false}, "containers": [
        {"name": "a"}, {"name": "b", "securityContext": {"runAsNonRoot": false}}]}),
    );
    let got: Vec<String> = eval("restricted:latest", &non_root)
        .into_iter()
        .filter(|v| v.starts_with("runAsNonRoot"))
        .collect();
    only(
        &got,
        r#"runAsNonRoot: runAsNonRoot != true (pod and container "b" must not set securityContext.runAsNonRoot=false)"#,
    );
}

#[test]
fn long_lists_are_capped_past_sixteen_names() {
    let containers: Vec<Value> = (0..20)
        .map(|i| json!({"name": format!("c{i:02}"), "securityContext": {"privileged": true}}))
        .collect();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": containers}});
    let got = eval("baseline:latest", &pod);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].contains(r#""c15", and 4 more must not set"#),
        "{}",
        got[0]
    );
    assert!(!got[0].contains("c16"));
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod_req<'a>(name: &'a str, object: &'a Value) -> Request<'a> {
    Request {
        group: "",
        version: "v1",
        kind: "Pod",
        resource: "pods",
        sub_resource: None,
        operation: Operation::Create,
        namespace: "app",
        name,
        username: "alice",
        object: Some(object.into()),
        old_object: None,
    }
}

#[test]
fn denials_and_warnings_are_worded_as_upstreams() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]}});
    let ns = labels(&[
        ("pod-security.kubernetes.io/enforce", "baseline"),
        ("pod-security.kubernetes.io/enforce-version", "v1.36"),
    ]);
    let none = PolicySet::default();
    let cfg = PssConfig::default();
    let d = validate(&pod_req("p", &pod), &ns, &none, &cfg).unwrap();
    assert_eq!(
        d.message.as_deref(),
        Some(
            r#"pods "p" is forbidden: violates PodSecurity "baseline:v1.36": privileged (container "c" must not set securityContext.privileged=true)"#
        )
    );
    // generateName: no name.
    let d = validate(&pod_req("", &pod), &ns, &none, &cfg).unwrap();
    assert!(
        d.message
            .as_deref()
            .unwrap()
            .starts_with(r#"pods is forbidden: violates PodSecurity "baseline:v1.36": "#),
        "{:?}",
        d.message
    );
    // A template warns, in the pod's words.
    let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {}, "template": {"spec": pod["spec"].clone()}}});
    let mut r = pod_req("d", &dep);
    r.kind = "Deployment";
    r.group = "apps";
    r.resource = "deployments";
    let d = validate(&r, &ns, &none, &cfg).unwrap();
    assert!(d.allowed);
    assert_eq!(
        d.warnings,
        [
            r#"would violate PodSecurity "baseline:v1.36": privileged (container "c" must not set securityContext.privileged=true)"#
        ]
    );
    // A SecurityPolicy denial of a Deployment names `deployments.apps`; the rule's own text
    // keeps rampart's format.
    let mut set = PolicySet::default();
    let policy: rampart_api::SecurityPolicySpec = serde_json::from_value(json!({
        "rules": [{"name": "no-privileged", "conditions": [{"disallowPrivileged": true}]}]}))
    .unwrap();
    set.upsert(NamedPolicy {
        kind: "SecurityPolicy",
        namespace: Some("app".into()),
        name: "strict".into(),
        spec: policy,
    })
    .unwrap();
    r.resource = "";
    let d = validate(&r, &ns, &set, &cfg).unwrap();
    let m = d.message.unwrap();
    assert!(
        m.starts_with(
            r#"deployments.apps "d" is forbidden: SecurityPolicy app/strict rule "no-privileged": "#
        ),
        "{m}"
    );
    // Level labels are still reported as written.
    assert_eq!(lv("restricted").level, Level::Restricted);
}
