//! End-to-end tests of the `rampart` binary: exit codes, the JSON and SARIF contracts, bad input
//! and the rule that a Secret's value never reaches any output.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo() -> PathBuf {
    repo().join("examples/demo-cluster")
}

fn rampart(args: &[&str], paths: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rampart"));
    cmd.args(args);
    for p in paths {
        cmd.arg(p);
    }
    cmd.env("RAMPART_LOG", "trace");
    cmd.output().expect("the binary runs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A scratch directory holding the given files, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str, files: &[(&str, &str)]) -> Scratch {
        let dir = std::env::temp_dir().join(format!("rampart-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (f, text) in files {
            std::fs::write(dir.join(f), text).unwrap();
        }
        Scratch(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A web pod behind a LoadBalancer whose service account may read Secrets in its namespace.
const EXPOSED_READER: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: app, labels: {app: web}}
spec:
  serviceAccountName: reader
  containers: [{name: c, image: nginx, ports: [{containerPort: 8080}]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: read-secrets, namespace: app}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: app}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-secrets}
subjects: [{kind: ServiceAccount, name: reader, namespace: app}]
---
apiVersion: v1
kind: Secret
metadata: {name: api-key, namespace: app}
type: Opaque
"#;

const SECRET_VALUE: &str = "hunter2-TOP-SECRET-value";

fn secret_doc() -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: app, annotations: {{note: keep}}}}\n\
         type: Opaque\nstringData: {{password: {SECRET_VALUE}}}\ndata: {{token: aHVudGVyMi1UT1AtU0VDUkVULXZhbHVl}}\n"
    )
}

#[test]
fn demo_cluster_has_chains_and_the_json_contract() {
    let out = rampart(&["scan", "--format", "json"], &[&demo()]);
    assert_eq!(out.status.code(), Some(1), "chains found → exit 1");
    let v = json(&out);
    assert_eq!(v["schema"], "rampart.dev/scan/v1");
    let chains = v["chains"].as_array().unwrap();
    assert!(!chains.is_empty());
    assert_eq!(v["summary"]["chains"].as_u64(), Some(chains.len() as u64));
    let kinds = [
        "Secret",
        "Node",
        "ClusterAdmin",
        "CrownJewel",
        "Impact",
        "Exfiltration",
        "Collection",
        "Persistence",
    ];
    for c in chains {
        assert!(c["id"].as_str().unwrap().starts_with("chain-"));
        assert_eq!(c["confidence"], "proven");
        for f in ["kind", "namespace", "name"] {
            assert!(c["entry"][f].is_string(), "entry.{f} in {c}");
        }
        let kind = c["target"]["kind"].as_str().unwrap();
        assert!(kinds.contains(&kind), "{kind}");
        // Every target but a crown jewel holding no data names its ATT&CK technique.
        let id = c["target"]["technique"]["id"].as_str();
        assert!(
            id.is_some_and(|t| t.starts_with('T')) || kind == "CrownJewel",
            "{c}"
        );
        assert!(c["target"].get("namespace").is_some());
        assert!(c["target"]["name"].is_string());
        let steps = c["steps"].as_array().unwrap();
        assert!(!steps.is_empty());
        for s in steps {
            assert!(s["edge"].is_string() && s["from"]["kind"].is_string());
            assert!(s["to"]["name"].is_string() && s["evidence"].is_array());
        }
        // Consecutive steps join up.
        for w in steps.windows(2) {
            assert_eq!(w[0]["to"], w[1]["from"], "broken chain {}", c["id"]);
        }
    }
    let chain_ids: Vec<&str> = chains.iter().map(|c| c["id"].as_str().unwrap()).collect();
    let cuts = v["cuts"].as_array().unwrap();
    assert!(!cuts.is_empty());
    for cut in cuts {
        assert!(cut["id"].is_string() && cut["cost"].is_u64() && cut["fix"].is_string());
        assert!(["live", "propose"].contains(&cut["action"].as_str().unwrap()));
        for b in cut["breaks"].as_array().unwrap() {
            assert!(chain_ids.contains(&b.as_str().unwrap()));
        }
        if cut["action"] == "live" {
            assert_eq!(cut["manifest"]["kind"], "NetworkPolicy", "{cut}");
        } else {
            assert!(cut.get("manifest").is_some());
        }
    }
    assert!(v["inputs"]["objects"].as_u64().unwrap() > 40);
    assert!(v["inputs"]["ignored_kinds"].is_object());
    assert_eq!(v["inputs"]["errors"].as_array().map(Vec::len), Some(0));
}

#[test]
fn apply_cuts_leaves_no_chain_and_exits_zero() {
    let out = rampart(&["scan", "--format", "json", "--apply-cuts"], &[&demo()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["what_if"]["remaining_chains"], 0);
    assert_eq!(v["what_if"]["jewels_reachable"], 0);
    assert!(!v["what_if"]["applied"].as_array().unwrap().is_empty());
}

#[test]
fn sarif_has_one_result_per_chain_anchored_on_the_entry() {
    let out = rampart(&["scan", "--format", "sarif"], &[&demo()]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "rampart");
    let plain = json(&rampart(&["scan", "--format", "json"], &[&demo()]));
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), plain["chains"].as_array().unwrap().len());
    for r in results {
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(uri.ends_with(".yaml"), "{uri}");
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(
            r["ruleId"]
                .as_str()
                .unwrap()
                .starts_with("rampart/chain-to-")
        );
    }
}

#[test]
fn table_is_the_default_format() {
    let out = rampart(&["scan"], &[&demo()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("MINIMAL CUT"), "{text}");
}

#[test]
fn no_chain_exits_zero() {
    let s = Scratch::new(
        "quiet",
        &[(
            "app.yaml",
            &EXPOSED_READER.replace("LoadBalancer", "ClusterIP"),
        )],
    );
    let out = rampart(&["scan", "--format", "json"], &[s.path()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["summary"]["chains"], 0);
}

#[test]
fn malformed_documents_are_reported_and_the_rest_is_scanned() {
    let bad = format!(
        "{EXPOSED_READER}---\nkind: [unclosed\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: x}}\nspec: {{containers: 7}}\n"
    );
    let s = Scratch::new(
        "malformed",
        &[
            ("bad.yaml", &bad),
            ("garbage.json", "{\"kind\": \"List\", \"items\": [1, 2"),
            ("empty.yaml", ""),
        ],
    );
    let out = rampart(&["scan", "--format", "json"], &[s.path()]);
    assert_eq!(out.status.code(), Some(2), "input errors → exit 2");
    let v = json(&out);
    assert!(
        v["summary"]["chains"].as_u64().unwrap() > 0,
        "the valid documents were still scanned"
    );
    let errors = v["inputs"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3, "{errors:?}");
    let by_file = |f: &str| {
        errors
            .iter()
            .filter(|e| e["file"].as_str().unwrap().ends_with(f))
            .collect::<Vec<_>>()
    };
    let yaml = by_file("bad.yaml");
    assert_eq!(yaml.len(), 2);
    assert_eq!(yaml[0]["document"], 6);
    assert!(
        yaml[0]["message"].as_str().unwrap().contains("YAML"),
        "{yaml:?}"
    );
    assert_eq!(yaml[1]["document"], 7);
    assert!(
        yaml[1]["message"].as_str().unwrap().contains("Pod"),
        "{yaml:?}"
    );
    assert_eq!(by_file("garbage.json").len(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("input error"));

    let keep = rampart(&["scan", "--format", "json", "--keep-going"], &[s.path()]);
    assert_eq!(keep.status.code(), Some(1), "--keep-going: chains decide");
}

#[test]
fn missing_paths_and_oversized_files_are_input_errors() {
    let out = rampart(&["scan"], &[Path::new("/nonexistent/rampart")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/rampart"));

    let s = Scratch::new("big", &[("app.yaml", EXPOSED_READER)]);
    let out = rampart(
        &["scan", "--format", "json", "--max-file-size", "100"],
        &[s.path()],
    );
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    let msg = v["inputs"]["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("100"), "{msg}");

    let usage = rampart(&["scan", "--format", "yaml"], &[s.path()]);
    assert_eq!(usage.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn owner_cycles_duplicates_and_invalid_selectors_are_warnings() {
    let cyclic = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: a
  namespace: app
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: b, uid: "2"}]
spec: {selector: {matchLabels: {app: a}}, template: {metadata: {labels: {app: a}}, spec: {containers: [{name: c, image: x}]}}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: b
  namespace: app
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: a, uid: "1"}]
spec: {selector: {matchLabels: {app: b}}, template: {metadata: {labels: {app: b}}, spec: {containers: [{name: c, image: x}]}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: broken, namespace: app}
spec:
  podSelector: {matchExpressions: [{key: app, operator: In, values: []}]}
  ingress: []
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: unparsable, namespace: app}
spec:
  podSelector: {matchExpressions: [{key: app, operator: Near, values: [web]}]}
"#;
    let s = Scratch::new(
        "warnings",
        &[
            ("a.yaml", EXPOSED_READER),
            ("b.yaml", EXPOSED_READER),
            ("c.yaml", cyclic),
        ],
    );
    let out = rampart(&["scan", "--format", "json"], &[s.path()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown operator is an input error"
    );
    let v = json(&out);
    let errors = v["inputs"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["document"], 4);
    assert!(
        errors[0]["message"].as_str().unwrap().contains("Near"),
        "{errors:?}"
    );
    let warnings: Vec<&str> = v["inputs"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    let has = |needle: &str| warnings.iter().any(|w| w.contains(needle));
    assert!(has("defined twice"), "{warnings:?}");
    assert!(has("cycle"), "{warnings:?}");
    assert!(has("NetworkPolicy app/broken"), "{warnings:?}");
    // The ignored policy does not isolate the web pod: the chain is still there.
    assert!(v["summary"]["chains"].as_u64().unwrap() > 0);
}

#[test]
fn unknown_kinds_are_counted_not_errors() {
    let crd = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: app}\n";
    let s = Scratch::new("unknown", &[("w.yaml", crd), ("app.yaml", EXPOSED_READER)]);
    let out = rampart(&["scan", "--format", "json"], &[s.path()]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(
        v["inputs"]["ignored_kinds"]["Widget (example.com/v1)"], 1,
        "{}",
        v["inputs"]
    );
}

#[test]
fn secret_values_never_reach_any_output() {
    let docs = format!("{EXPOSED_READER}---\n{}", secret_doc());
    let s = Scratch::new("secret", &[("app.yaml", &docs)]);
    let dump = format!(
        "{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \
         \"metadata\": {{\"name\": \"other\", \"namespace\": \"app\", \"annotations\": {{\"kubectl.kubernetes.io/last-applied-configuration\": \"{SECRET_VALUE}\"}}}}, \
         \"data\": {{\"v\": \"{SECRET_VALUE}\"}}}}]}}"
    );
    std::fs::write(s.path().join("dump.json"), dump).unwrap();
    let mut saw_secret_target = false;
    for args in [
        &["scan", "--format", "json"][..],
        &["scan", "--format", "sarif"],
        &["scan", "--format", "table"],
        &["scan", "--format", "json", "--apply-cuts"],
    ] {
        let out = rampart(args, &[s.path()]);
        let expected = if args.contains(&"--apply-cuts") { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(expected), "{args:?}");
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(!text.contains(SECRET_VALUE), "{args:?} leaked the value");
            assert!(
                !text.contains("aHVudGVyMi1UT1AtU0VDUkVULXZhbHVl"),
                "{args:?} leaked the data"
            );
        }
        saw_secret_target |= String::from_utf8_lossy(&out.stdout).contains("db");
    }
    assert!(saw_secret_target, "the secret is a target by name");
}

#[test]
fn kubectl_list_dumps_are_read() {
    // The same objects as a `kubectl get -o json` List (typed lists, items without kind) give
    // the same chains as the YAML.
    let services = serde_json::json!({"apiVersion": "v1", "kind": "ServiceList", "items": [
        {"metadata": {"name": "web", "namespace": "app"},
         "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                  "ports": [{"port": 80, "targetPort": 8080}]}}]});
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-key", "namespace": "app"}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "web", "namespace": "app", "labels": {"app": "web"}},
         "spec": {"serviceAccountName": "reader",
                  "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 8080}]}]}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "read-secrets", "namespace": "app"},
         "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "reader", "namespace": "app"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-secrets"},
         "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "app"}]}
    ]});
    let secret = secret_doc();
    let y = Scratch::new("yaml", &[("app.yaml", EXPOSED_READER), ("s.yaml", &secret)]);
    let j = Scratch::new(
        "json",
        &[
            ("dump.json", &format!("{services}\n{list}")),
            ("s.yaml", &secret),
        ],
    );
    let ids = |dir: &Path| {
        let v = json(&rampart(&["scan", "--format", "json"], &[dir]));
        assert_eq!(
            v["inputs"]["errors"].as_array().map(Vec::len),
            Some(0),
            "{}",
            v["inputs"]
        );
        let mut ids: Vec<String> = v["chains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let from_yaml = ids(y.path());
    assert!(!from_yaml.is_empty());
    assert_eq!(from_yaml, ids(j.path()));
}

#[test]
fn vulnerability_reports_and_kev_give_the_exposed_entry_a_foothold() {
    let intel = repo().join("examples/demo-intel");
    let kev = intel.join("kev.json");
    let out = rampart(
        &[
            "scan",
            "--format",
            "json",
            "--vulns",
            intel.to_str().unwrap(),
            "--kev-file",
            kev.to_str().unwrap(),
        ],
        &[&demo()],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let chains = v["chains"].as_array().unwrap();
    let with: Vec<&Value> = chains.iter().filter(|c| !c["foothold"].is_null()).collect();
    assert!(!with.is_empty());
    for c in &with {
        assert_eq!(c["foothold"]["workload"], "shop/web[Deployment]", "{c}");
        assert_eq!(c["foothold"]["known_exploited"], true);
        assert_eq!(c["foothold"]["exploits"][0]["cve"], "CVE-2021-44228");
        assert_eq!(c["entry"]["name"], "storefront");
    }
    // Chains entering elsewhere carry none.
    assert!(chains.iter().any(|c| c["foothold"].is_null()));
    // Without the catalogue log4shell is still critical and remote: reported, not known exploited.
    let out = rampart(
        &[
            "scan",
            "--format",
            "json",
            "--vulns",
            intel.to_str().unwrap(),
        ],
        &[&demo()],
    );
    let v = json(&out);
    let f = v["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| !c["foothold"].is_null())
        .unwrap();
    assert_eq!(f["foothold"]["known_exploited"], false);
    // An unreadable catalogue is an input error.
    let bad = std::env::temp_dir().join(format!("rampart-bad-kev-{}", std::process::id()));
    std::fs::write(&bad, "not-a-cve\n").unwrap();
    let out = rampart(&["scan", "--kev-file", bad.to_str().unwrap()], &[&demo()]);
    let _ = std::fs::remove_file(&bad);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Service and Pod whose names clear the screen, retitle the terminal and reverse the text.
fn hostile_reader() -> String {
    let evil = r#""web\e[2J\e]0;owned\a\u202Egnp.exe\tX""#;
    EXPOSED_READER
        .replace(
            "metadata: {name: web, namespace: app}",
            &format!("metadata: {{name: {evil}, namespace: app}}"),
        )
        .replace(
            "metadata: {name: web, namespace: app, labels",
            &format!("metadata: {{name: {evil}, namespace: app, labels"),
        )
}

#[test]
fn names_cannot_drive_the_terminal_in_any_human_output() {
    let s = Scratch::new("hostile", &[("app.yaml", &hostile_reader())]);
    let out = rampart(&["scan"], &[s.path()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    for (what, t) in [("table", &text), ("stderr", &stderr)] {
        assert!(
            !t.contains(['\u{1b}', '\u{7}', '\u{202e}', '\t']),
            "{what}: {t:?}"
        );
    }
    assert!(
        text.contains("web\\x1b[2J\\x1b]0;owned\\x07\\u{202e}gnp.exe\\tX"),
        "{text}"
    );
    // The names are reported as invalid, once, with an escaped example.
    let warning: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("not valid Kubernetes names"))
        .collect();
    assert_eq!(warning.len(), 1, "{stderr}");
    assert!(
        warning[0].starts_with("rampart: warning: 2 object(s)"),
        "{stderr}"
    );
    // JSON keeps the names exactly (serde escapes the controls).
    let out = rampart(&["scan", "--format", "json"], &[s.path()]);
    assert_eq!(
        json(&out)["chains"][0]["entry"]["name"],
        "web\u{1b}[2J\u{1b}]0;owned\u{7}\u{202e}gnp.exe\tX"
    );
    // `connectivity` names the workloads too.
    let out = rampart(&["connectivity"], &[s.path()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("gnp.exe"), "{text}");
    assert!(!text.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{text:?}");
}

#[test]
fn proposed_policies_have_valid_names_whatever_the_workload_is_called() {
    // The demo's webhook relay, whose cut is a NetworkPolicy named after it, renamed to
    // something no API server would accept.
    let mut files: Vec<(String, String)> = Vec::new();
    for e in std::fs::read_dir(demo()).unwrap() {
        let p = e.unwrap().path();
        let mut text = std::fs::read_to_string(&p).unwrap();
        text = text.replacen(
            "metadata: {name: webhook-relay, namespace: ci}",
            "metadata: {name: \"Webhook_Relay<script>\", namespace: ci}",
            1,
        );
        files.push((p.file_name().unwrap().to_string_lossy().into(), text));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(f, t)| (f.as_str(), t.as_str()))
        .collect();
    let s = Scratch::new("badname", &refs);
    let v = json(&rampart(&["scan", "--format", "json"], &[s.path()]));
    let names: Vec<String> = v["cuts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["manifests"].as_array().unwrap().iter())
        .map(|m| m["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let relay: Vec<&String> = names.iter().filter(|n| n.contains("relay")).collect();
    assert!(!relay.is_empty(), "{names:?}");
    for n in &names {
        assert!(
            rampart_model::names::is_dns_subdomain(n) && n.len() <= 63,
            "{n:?}"
        );
    }
    assert!(
        relay
            .iter()
            .all(|n| n.starts_with("rampart-ingress-webhook-relay-script-")),
        "{relay:?}"
    );
}

/// Issue 14 item 11: `kubectl apply -f examples/policies/` applies every file there — each
/// document is an API object (apiVersion, kind, metadata.name), not a configuration file of
/// rampart's own (the Pod Security configuration lives in `examples/`).
#[test]
fn every_file_in_examples_policies_is_an_api_object() {
    let dir = repo().join("examples/policies");
    let mut documents = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let (docs, errors) = rampart_model::raw_documents(
            &path.display().to_string(),
            &text,
            &rampart_model::ParseLimits::default(),
        );
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        for d in docs {
            documents += 1;
            let v = &d.value;
            let api_version = v["apiVersion"].as_str().unwrap_or("");
            assert!(
                api_version.contains('/') || api_version == "v1",
                "{}: not an API object: apiVersion {api_version:?}",
                path.display()
            );
            assert!(v["kind"].is_string(), "{}: no kind", path.display());
            assert!(
                v["metadata"]["name"].is_string(),
                "{}: no metadata.name",
                path.display()
            );
            assert_ne!(
                v["kind"],
                "PodSecurityConfiguration",
                "{}: a configuration file, not an API object",
                path.display()
            );
        }
    }
    assert!(documents >= 3, "{documents}");
}

#[test]
fn epss_scores_are_shown_on_footholds_and_a_minimum_needs_the_feed() {
    let intel = repo().join("examples/demo-intel");
    let epss = intel.join("epss.csv");
    let out = rampart(
        &[
            "scan",
            "--format",
            "json",
            "--vulns",
            intel.to_str().unwrap(),
            "--epss-file",
            epss.to_str().unwrap(),
        ],
        &[&demo()],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let f = v["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| !c["foothold"].is_null())
        .unwrap();
    let e = &f["foothold"]["exploits"][0];
    assert_eq!(e["cve"], "CVE-2021-44228");
    assert_eq!(e["epss"]["epss"], 0.94358, "{e}");
    assert_eq!(e["epss"]["percentile"], 0.99958);
    for (args, says) in [
        (
            vec!["scan", "--epss-min", "0.5"],
            "--epss-min needs --epss-file",
        ),
        (
            vec![
                "scan",
                "--epss-file",
                epss.to_str().unwrap(),
                "--epss-min",
                "2",
            ],
            "outside 0..1",
        ),
        (
            vec![
                "scan",
                "--epss-file",
                intel.join("kev.json").to_str().unwrap(),
            ],
            "no `cve,epss,percentile` header",
        ),
    ] {
        let out = rampart(&args, &[&demo()]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
