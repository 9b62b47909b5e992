//! `rampart policy check`, `policy test`, `crds` and `webhook` as a user runs them.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rampart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

#[test]
fn policy_check_pss_contract_and_exit_codes() {
    let fail = "tests/corpora/pod-security-admission/restricted/v1.37/fail/privileged0.yaml";
    let pass = "tests/corpora/pod-security-admission/restricted/v1.37/pass/base.yaml";
    let out = rampart(&[
        "policy",
        "check",
        "--pss",
        "restricted",
        "--format",
        "json",
        fail,
        pass,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let denied = results
        .iter()
        .find(|r| r["object"]["name"] == "privileged0")
        .unwrap();
    assert_eq!(denied["allowed"], false);
    assert_eq!(denied["object"]["kind"], "Pod");
    assert_eq!(denied["object"]["namespace"], "default");
    assert!(
        denied["file"]
            .as_str()
            .unwrap()
            .ends_with("privileged0.yaml")
    );
    let rules: Vec<&str> = denied["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"privileged"), "{rules:?}");
    for x in denied["violations"].as_array().unwrap() {
        assert!(x["policy"].is_string() && x["message"].is_string());
    }
    // Baseline at an old version admits the pass fixture and still denies privileged.
    let out = rampart(&["policy", "check", "--pss", "baseline:v1.0", pass]);
    assert_eq!(out.status.code(), Some(0));
    let out = rampart(&["policy", "check", "--pss", "strict", pass]);
    assert_eq!(out.status.code(), Some(2), "usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("LEVEL[:VERSION]"));
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_manifest(name: &str, text: &str) -> (TempDir, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "rampart-pss-{}-{}",
        name.trim_end_matches(".yaml"),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    (TempDir(dir), path)
}

#[test]
fn policy_check_kube_version_resolves_latest() {
    // net.ipv4.tcp_notsent_lowat is a safe sysctl from policy v1.37 only.
    let (_dir, path) = temp_manifest(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext:\n    sysctls: [{name: net.ipv4.tcp_notsent_lowat, value: \"1\"}]\n  containers: [{name: c, image: x}]\n",
    );
    let path = path.to_str().unwrap();
    let out = rampart(&["policy", "check", "--pss", "baseline", "-f", "json", path]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pod_security"]["latest"], "v1.37");
    assert_eq!(v["pod_security"]["kube_version"], Value::Null);
    let out = rampart(&[
        "policy",
        "check",
        "--pss",
        "baseline",
        "--kube-version",
        "v1.36.2",
        "-f",
        "json",
        path,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["pod_security"]["latest"], "v1.35",
        "1.36 changed no check"
    );
    assert_eq!(v["pod_security"]["kube_version"], "1.36");
    let message = v["results"][0]["violations"][0]["message"]
        .as_str()
        .unwrap();
    assert_eq!(message, "forbidden sysctls (net.ipv4.tcp_notsent_lowat)");
    let out = rampart(&["policy", "check", "--kube-version", "2.0", path]);
    assert_eq!(out.status.code(), Some(2), "usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Kubernetes version"));
}

#[test]
fn policy_check_sees_what_the_api_server_admits() {
    // hostNetwork gives the port a hostPort, a volume without a source is an emptyDir, and
    // the AppArmor annotation becomes the container's field (Pods only).
    let (_dir, path) = temp_manifest(
        "objects.yaml",
        r#"apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations: {container.apparmor.security.beta.kubernetes.io/c: unconfined}
spec:
  hostNetwork: true
  containers: [{name: c, image: x, ports: [{containerPort: 80}]}]
  volumes: [{name: v}]
---
apiVersion: v1
kind: Pod
metadata: {name: clean}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers: [{name: c, image: x, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]
  volumes: [{name: v}, {name: i, image: {reference: "registry.example/data:1"}}]
"#,
    );
    let out = rampart(&[
        "policy",
        "check",
        "--pss",
        "restricted",
        "-f",
        "json",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    let p = results.iter().find(|r| r["object"]["name"] == "p").unwrap();
    let messages: Vec<&str> = p["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.contains(&r#"forbidden AppArmor profiles (container "c" and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/c="unconfined"")"#),
        "{messages:#?}"
    );
    assert!(messages.contains(&"host namespaces (hostNetwork=true)"));
    assert!(messages.contains(&r#"hostPort (container "c" uses hostPort 80)"#));
    assert!(
        !messages.iter().any(|m| m.contains("restricted volume")),
        "{messages:#?}"
    );
    let clean = results
        .iter()
        .find(|r| r["object"]["name"] == "clean")
        .unwrap();
    assert_eq!(clean["allowed"], true, "{clean:#}");
}

#[test]
fn policy_check_with_policies_and_namespace_labels() {
    let out = rampart(&[
        "policy",
        "check",
        "--policies",
        "examples/policies",
        "--format",
        "json",
        "examples/policies/tests/resources.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdict = |name: &str| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["object"]["name"] == name)
            .unwrap()["allowed"]
            .clone()
    };
    assert_eq!(
        verdict("checkout"),
        true,
        "baseline enforce; restricted only warns"
    );
    assert_eq!(verdict("debug"), false);
    assert_eq!(verdict("ledger"), false);
    assert_eq!(verdict("tinker"), true);
}

/// CEL rules on kinds other than pods, with variables, match conditions, message expressions and
/// a referential rule reading `--inventory`.
#[test]
fn policy_check_cel_rules_on_any_kind_with_an_inventory() {
    let args = |inventory: bool| {
        let mut a = vec![
            "policy",
            "check",
            "--policies",
            "examples/policies-cel/policies.yaml",
            "--format",
            "json",
        ];
        if inventory {
            a.extend(["--inventory", "examples/policies-cel/inventory"]);
        }
        a.push("examples/policies-cel/manifests.yaml");
        a
    };
    let out = rampart(&args(true));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = |v: &Value, name: &str| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["object"]["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} listed: {v:#}"))
    };
    assert_eq!(result(&v, "shop")["allowed"], true);
    let catch_all = result(&v, "catch-all");
    assert_eq!(catch_all["allowed"], false);
    let messages = catch_all["violations"].to_string();
    assert!(
        messages.contains("an Ingress must terminate TLS"),
        "{messages}"
    );
    assert!(
        messages.contains("hosts must be named, not wildcards: *.example.com"),
        "messageExpression: {messages}"
    );
    assert_eq!(
        result(&v, "blog")["allowed"],
        false,
        "the inventory has its host"
    );
    let frontend = result(&v, "frontend");
    assert!(
        frontend["violations"]
            .to_string()
            .contains("replicas must be 2 to 20, not 40"),
        "{frontend:#}"
    );
    // Twin: without the inventory, the host is unique.
    let v: Value = serde_json::from_slice(&rampart(&args(false)).stdout).unwrap();
    assert_eq!(result(&v, "blog")["allowed"], true);
    // A policy whose expression does not compile is refused with where and why.
    let dir = std::env::temp_dir().join(format!("rampart-cel-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bad.yaml"),
        "apiVersion: rampart.dev/v1alpha1\nkind: ClusterSecurityPolicy\nmetadata: {name: bad}\nspec:\n  targets: {kinds: [v1/Service]}\n  rules:\n  - name: r\n    conditions:\n    - cel: {expression: \"object.spec.type ==\"}\n",
    )
    .unwrap();
    let out = rampart(&[
        "policy",
        "check",
        "--policies",
        dir.join("bad.yaml").to_str().unwrap(),
        "examples/policies-cel/manifests.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.rules[0].conditions[0].cel.expression: line 1, column"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn policy_test_passes_and_fails() {
    let out = rampart(&["policy", "test", "examples/policies/tests"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("10 passed, 0 failed"));
    // A wrong expectation fails the run.
    let dir = std::env::temp_dir().join(format!("rampart-policy-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let examples = repo().join("examples/policies");
    std::fs::write(
        dir.join("t.yaml"),
        format!(
            "apiVersion: rampart.dev/v1alpha1\nkind: PolicyTest\nmetadata: {{name: wrong}}\npolicies: [{p}]\nnamespaces: [{n}]\nresources: [{r}]\nresults:\n  - {{policy: trusted-images, rule: pinned, resource: Pod/shop/debug, result: pass}}\n",
            p = examples.join("trusted-images.yaml").display(),
            n = examples.join("namespaces.yaml").display(),
            r = examples.join("tests/resources.yaml").display()
        ),
    )
    .unwrap();
    let out = rampart(&["policy", "test", dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("expected pass, got fail"));
}

#[test]
fn policy_check_table_escapes_names() {
    let dir = std::env::temp_dir().join(format!("rampart-policy-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A privileged pod whose name clears the screen and reverses the text after it, in a
    // namespace whose name retitles the terminal.
    std::fs::write(
        dir.join("pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: \"x\\e[2J\\u202Egnp.exe\", namespace: \"ns\\e]0;owned\\a\"}\n\
         spec: {containers: [{name: \"c\\e[31m\", image: nginx, securityContext: {privileged: true}}]}\n",
    )
    .unwrap();
    let out = rampart(&[
        "policy",
        "check",
        "--pss",
        "restricted",
        dir.to_str().unwrap(),
    ]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{text:?}");
    assert!(
        text.contains("DENY   Pod/ns\\x1b]0;owned\\x07/x\\x1b[2J\\u{202e}gnp.exe"),
        "{text}"
    );
}

/// Kubernetes' ValidatingAdmissionPolicies judged offline: per-namespace params, Deny and
/// Warn bindings, audit annotations, and the PolicyTest form.
#[test]
fn policy_check_judges_validating_admission_policies() {
    let out = rampart(&[
        "policy",
        "check",
        "--vap",
        "examples/vap/policies.yaml",
        "--format",
        "json",
        "examples/vap/manifests",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = |kind: &str, ns: &str, name: &str| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["object"]["kind"] == kind
                    && r["object"]["namespace"] == ns
                    && r["object"]["name"] == name
            })
            .cloned()
            .unwrap_or_else(|| panic!("{kind}/{ns}/{name} listed: {v:#}"))
    };
    let batch = result("Deployment", "prod", "batch");
    assert_eq!(batch["allowed"], false);
    assert!(
        batch["violations"].to_string().contains(
            "ValidatingAdmissionPolicy 'replica-limit' with binding 'replica-limit-prod' denied request: replicas must be at most 5, not 12"
        ),
        "{batch:#}"
    );
    assert_eq!(batch["audit_annotations"]["replica-limit/replicas"], "12");
    let web = result("Deployment", "test", "web");
    assert_eq!(web["allowed"], true);
    assert!(
        web["warnings"]
            .to_string()
            .contains("replicas must be at most 2, not 3"),
        "{web:#}"
    );
    assert_eq!(result("Deployment", "prod", "web")["allowed"], true);
    assert_eq!(result("Service", "prod", "web")["allowed"], false);

    let out = rampart(&["policy", "test", "examples/vap/tests"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("5 passed, 0 failed"), "{text}");
}

/// Gatekeeper CEL templates move over: converted to ClusterSecurityPolicies and to
/// ValidatingAdmissionPolicies, both decide the same; a Rego-only template is refused.
#[test]
fn policy_convert_moves_gatekeeper_cel_templates_over() {
    let dir = std::env::temp_dir().join(format!("rampart-convert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let verdicts = |out: &Output| -> Vec<(String, bool, usize)> {
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut all: Vec<(String, bool, usize)> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["object"]["name"].as_str().unwrap().to_string(),
                    r["allowed"].as_bool().unwrap(),
                    r["warnings"].as_array().unwrap().len(),
                )
            })
            .filter(|(_, allowed, warnings)| !allowed || *warnings > 0)
            .collect();
        all.sort();
        all
    };
    for (to, file) in [("securitypolicy", "policies.yaml"), ("vap", "vaps.yaml")] {
        let out = rampart(&["policy", "convert", "--to", to, "examples/gatekeeper"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(dir.join(file), &out.stdout).unwrap();
    }
    let policies = dir.join("policies.yaml");
    let as_policies = rampart(&[
        "policy",
        "check",
        "--format",
        "json",
        "--policies",
        policies.to_str().unwrap(),
        "examples/gatekeeper/services.yaml",
    ]);
    let vaps = dir.join("vaps.yaml");
    let as_vaps = rampart(&[
        "policy",
        "check",
        "--format",
        "json",
        "--vap",
        vaps.to_str().unwrap(),
        // The constraints stay the params objects.
        "--vap",
        "examples/gatekeeper/template.yaml",
        "examples/gatekeeper/services.yaml",
    ]);
    let expected = vec![
        ("debug".to_string(), false, 0),
        ("edge".to_string(), true, 1),
    ];
    assert_eq!(verdicts(&as_policies), expected);
    assert_eq!(verdicts(&as_vaps), expected);

    std::fs::write(
        dir.join("rego.yaml"),
        "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata: {name: k8sx}\nspec:\n  crd: {spec: {names: {kind: K8sX}}}\n  targets:\n  - target: admission.k8s.gatekeeper.sh\n    rego: 'package x'\n---\napiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sX\nmetadata: {name: x}\nspec: {}\n",
    )
    .unwrap();
    let out = rampart(&["policy", "convert", dir.join("rego.yaml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no CEL source"), "{err}");
    assert!(err.contains("no ConstraintTemplate for kind K8sX"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn crds_are_printed_as_yaml() {
    let out = rampart(&["crds"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<&str> = text.split("\n---\n").collect();
    assert_eq!(docs.len(), 7);
    assert!(docs[0].contains("name: securitypolicies.rampart.dev"));
    assert!(docs[1].contains("name: clustersecuritypolicies.rampart.dev"));
    assert!(docs[2].contains("name: mitigations.rampart.dev"));
    assert!(docs[2].contains("x-kubernetes-preserve-unknown-fields: true"));
    assert!(docs[3].contains("name: guardians.rampart.dev"));
    assert!(docs[4].contains("name: breakglasses.rampart.dev"));
    assert!(docs[4].contains("scope: Cluster"));
    assert!(docs[5].contains("name: armingpolicies.rampart.dev"));
    assert!(docs[6].contains("name: policyparams.rampart.dev"));
    assert!(docs[6].contains("x-kubernetes-preserve-unknown-fields: true"));
    assert!(text.contains("openAPIV3Schema"));
}

#[test]
fn webhook_refuses_to_start_without_what_it_needs() {
    let out = rampart(&[
        "webhook",
        "--tls-cert",
        "/nonexistent/tls.crt",
        "--tls-key",
        "/nonexistent/tls.key",
        "--policies",
        "examples/policies",
        "--namespaces",
        "examples/policies/namespaces.yaml",
        "--addr",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/tls.crt"));
    let out = rampart(&[
        "webhook",
        "--tls-cert",
        "x",
        "--tls-key",
        "y",
        "--policies",
        "examples/policies/tests",
        "--namespaces",
        "examples/policies/namespaces.yaml",
        "--config",
        "/nonexistent/config.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/config.yaml"));
    // Without files the webhook watches the cluster; with no cluster configured it says so.
    let dir =
        std::env::temp_dir().join(format!("rampart-webhook-nocluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("tls.crt"), c.cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), c.signing_key.serialize_pem()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["webhook", "--addr", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(dir.join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.join("tls.key"))
        .env("KUBECONFIG", dir.join("missing-kubeconfig"))
        .env("HOME", &dir)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("connecting to the API server"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = rampart(&[
        "webhook",
        "--tls-cert",
        "x",
        "--tls-key",
        "y",
        "--policies",
        "examples/policies",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("go together"));
}

#[tokio::test]
async fn webhook_serves_reviews_over_tls() {
    let dir = std::env::temp_dir().join(format!("rampart-webhook-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("tls.crt"), c.cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), c.signing_key.serialize_pem()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args([
            "webhook",
            "--addr",
            "127.0.0.1:0",
            "--policies",
            "examples/policies",
            "--namespaces",
            "examples/policies/namespaces.yaml",
            "--config",
            "examples/pod-security-config.yaml",
        ])
        .arg("--tls-cert")
        .arg(dir.join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.join("tls.key"))
        .current_dir(repo())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .rsplit("https://")
        .next()
        .unwrap()
        .parse()
        .unwrap();

    let mut sender = rampart_testkit::tls::connect(&addr.to_string(), c.cert.der().clone()).await;
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "cli-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "shop", "name": "debug", "operation": "CREATE", "userInfo": {"username": "dev"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": "shop"},
                   "spec": {"containers": [{"name": "c", "image": "docker.io/library/busybox:latest"}]}}}});
    let req = hyper::Request::post("/validate")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(review.to_string())))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(v["response"]["uid"], "cli-1");
    assert_eq!(v["response"]["allowed"], false);
    let msg = v["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("ClusterSecurityPolicy trusted-images") && msg.contains("wiki.acme.example"),
        "{msg}"
    );
    // warn: restricted from the namespace label.
    assert!(
        v["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("restricted")
    );
}
