//! rampart's checks judged by kubescape's own rule tests (`tests/corpora/kubescape`, see its
//! SOURCE.md): for every case of every rule a rampart check implements, the failing objects
//! must agree with upstream's expectation as a multiset. Inputs are read as upstream's runner
//! reads them: each file is one object (a YAML file's first document; a `kind: List` stays one
//! opaque object), no default namespace.
//!
//! The test prints every disagreement and holds each implemented kubescape control to ≥ 98 %
//! agreement; deliberate deviations are listed in [`DEVIATIONS`] with their reason.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rampart_audit::check::{Check, Eval};
use rampart_audit::run::{Options, Status, audit_with};
use rampart_audit::settings::Settings;
use rampart_audit::{Inventory, Object, catalog};
use serde_json::Value;

/// kubescape rule → the rampart check that implements it.
const RULES: &[(&str, &str)] = &[
    ("rule-privilege-escalation", "privileged-container"),
    ("rule-allow-privilege-escalation", "privilege-escalation"),
    ("non-root-containers", "non-root"),
    (
        "immutable-container-filesystem",
        "read-only-root-filesystem",
    ),
    ("insecure-capabilities", "insecure-capabilities"),
    ("linux-hardening", "seccomp-profile"),
    (
        "set-seccomp-profile-RuntimeDefault",
        "seccomp-runtime-default",
    ),
    ("host-pid-ipc-privileges", "host-pid-ipc"),
    ("host-pid-privileges", "host-pid"),
    ("host-ipc-privileges", "host-ipc"),
    ("host-network-access", "host-network"),
    ("container-hostPort", "host-port"),
    ("resources-cpu-limits", "cpu-limits"),
    ("resources-memory-limits", "memory-limits"),
    ("rule-secrets-in-env-var", "secrets-in-env"),
    (
        "Symlink-Exchange-Can-Allow-Host-Filesystem-Access",
        "subpath-symlink-cve-2021-25741",
    ),
    ("automount-service-account", "automount-token"),
    (
        "automount-default-service-account",
        "default-service-account-automount",
    ),
    ("rule-credentials-in-env-var", "credentials-in-config"),
    ("rule-credentials-configmap", "credentials-in-configmap"),
    ("ingress-and-egress-blocked", "workload-network-policy"),
    ("internal-networking", "namespace-network-policy"),
    ("list-all-namespaces", "namespace-boundaries"),
    (
        "namespace-without-service-account",
        "namespace-service-accounts",
    ),
    ("pod-security-admission-applied-1", "policy-mechanism"),
    ("pod-security-admission-applied-2", "policy-mechanism"),
    (
        "pod-security-admission-baseline-applied-1",
        "namespace-pss-baseline",
    ),
    (
        "pod-security-admission-baseline-applied-2",
        "namespace-pss-baseline",
    ),
    (
        "pod-security-admission-restricted-applied-1",
        "namespace-pss-restricted",
    ),
    (
        "pod-security-admission-restricted-applied-2",
        "namespace-pss-restricted",
    ),
    ("insecure-port-flag", "apiserver-insecure-port"),
    (
        "nginx-ingress-snippet-annotation-vulnerability",
        "ingress-nginx-snippets-cve-2021-25742",
    ),
    (
        "detect-nginx-ingress-controller-eol",
        "ingress-nginx-end-of-life",
    ),
    ("pods-in-default-namespace", "default-namespace"),
    ("rolebinding-in-default-namespace", "default-namespace"),
    ("role-in-default-namespace", "default-namespace"),
    ("configmap-in-default-namespace", "default-namespace"),
    ("endpoints-in-default-namespace", "default-namespace"),
    (
        "persistentvolumeclaim-in-default-namespace",
        "default-namespace",
    ),
    ("podtemplate-in-default-namespace", "default-namespace"),
    (
        "replicationcontroller-in-default-namespace",
        "default-namespace",
    ),
    ("service-in-default-namespace", "default-namespace"),
    ("serviceaccount-in-default-namespace", "default-namespace"),
    ("endpointslice-in-default-namespace", "default-namespace"),
    (
        "horizontalpodautoscaler-in-default-namespace",
        "default-namespace",
    ),
    ("lease-in-default-namespace", "default-namespace"),
    (
        "csistoragecapacity-in-default-namespace",
        "default-namespace",
    ),
    ("ingress-in-default-namespace", "default-namespace"),
    (
        "poddisruptionbudget-in-default-namespace",
        "default-namespace",
    ),
    ("resources-secret-in-default-namespace", "default-namespace"),
    ("exec-into-container-v1", "rbac-exec"),
    ("cluster-admin-role", "rbac-cluster-admin"),
    ("rule-list-all-cluster-admins-v1", "rbac-wildcard"),
    ("rule-can-list-get-secrets-v1", "rbac-read-secrets"),
    ("rule-can-create-pod", "rbac-create-pods"),
    ("rule-can-bind-escalate", "rbac-bind-escalate"),
    ("rule-can-impersonate-users-groups-v1", "rbac-impersonate"),
    ("rule-can-create-pv", "rbac-create-persistent-volumes"),
    ("rule-can-access-proxy-subresource", "rbac-node-proxy"),
    ("rule-can-approve-cert-signing-request", "rbac-approve-csr"),
    (
        "rule-can-modify-admission-webhooks",
        "rbac-admission-webhooks",
    ),
    (
        "rule-can-create-service-account-token",
        "rbac-create-tokens",
    ),
];

/// Cases where rampart disagrees on purpose: (rule, case, reason).
const DEVIATIONS: &[(&str, &str, &str)] = &[];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora/kubescape")
}

/// A YAML file's first document (upstream's runner keeps only that one).
fn first_document(text: &str) -> &str {
    let mut start = 0;
    let mut seen_content = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_end();
        if t == "---" || t.starts_with("--- ") {
            if seen_content {
                return &text[start..offset];
            }
            start = offset + line.len();
        } else if !t.trim_start().is_empty() && !t.trim_start().starts_with('#') {
            seen_content = true;
        }
        offset += line.len();
    }
    &text[start..]
}

fn read_object(path: &Path) -> Option<Value> {
    let text = fs::read_to_string(path).ok()?;
    if path.extension().is_some_and(|e| e == "json") {
        return serde_json::from_str(&text).ok();
    }
    // Go's YAML reader accepts a tab before a trailing comment; serde-saphyr does not.
    let doc = first_document(&text).replace('\t', "  ");
    serde_saphyr::from_str(&doc).ok()
}

fn inputs(case: &Path) -> Vec<Object> {
    let dir = case.join("input");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter_map(|f| {
            let v = read_object(f).unwrap_or_else(|| panic!("{} does not parse", f.display()));
            Object::new(v, Some(Arc::from(f.display().to_string())), 1)
        })
        .collect()
}

fn settings(case: &Path) -> Settings {
    match fs::read_to_string(case.join("data.json")) {
        Ok(t) => {
            let v: Value = serde_json::from_str(&t).expect("data.json is JSON");
            Settings::from_posture_inputs(&v["postureControlInputs"]).expect("settings")
        }
        Err(_) => Settings::default(),
    }
}

/// The failing identities rampart gives, one per upstream-style alert.
fn ours(check: &Check, objects: Vec<Object>, settings: Settings) -> Vec<String> {
    let inv = Inventory::new(objects);
    let options = Options {
        settings,
        ..Options::default()
    };
    let audit = audit_with(&inv, std::slice::from_ref(check), &options);
    let mut out = Vec::new();
    for f in audit.findings {
        assert_ne!(
            f.status,
            Status::Error,
            "{}: {:?}",
            f.object,
            f.reason.as_deref()
        );
        let id = if f.object.file.is_none() {
            format!(
                "ext:{}/{}/{}",
                f.object.kind, f.object.namespace, f.object.name
            )
        } else {
            format!("{}/{}/{}", f.object.kind, f.object.namespace, f.object.name)
        };
        for _ in 0..f.count {
            out.push(id.clone());
        }
    }
    out.sort();
    out
}

fn expected(field: &str) -> Vec<String> {
    let mut v: Vec<String> = field
        .split(';')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Upstream's `?` (ambiguous namespace) matches any namespace.
fn agree(ours: &[String], theirs: &[String]) -> bool {
    if ours.len() != theirs.len() {
        return false;
    }
    let mut left: Vec<&String> = ours.iter().collect();
    for t in theirs {
        let pos = left.iter().position(|o| {
            if let Some((kind, rest)) = t.split_once("/?/") {
                o.starts_with(&format!("{kind}/")) && o.ends_with(&format!("/{rest}"))
            } else {
                *o == t
            }
        });
        match pos {
            Some(p) => {
                left.remove(p);
            }
            None => return false,
        }
    }
    true
}

struct Row {
    controls: Vec<String>,
    rule: String,
    rule_dir: String,
    case: String,
    failing: Vec<String>,
}

fn cases() -> Vec<Row> {
    let text = fs::read_to_string(corpus().join("cases.tsv")).expect("cases.tsv");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 7).then(|| Row {
                controls: f[0].split(';').map(str::to_string).collect(),
                rule: f[2].into(),
                rule_dir: f[3].into(),
                case: f[4].into(),
                failing: expected(f[6]),
            })
        })
        .collect()
}

#[test]
fn kubescape_rule_tests_agree_with_rampart_checks() {
    let mut checks: BTreeMap<String, Check> = RULES
        .iter()
        .map(|(rule, id)| {
            let c = catalog::find(id).unwrap_or_else(|| panic!("no check {id}"));
            (rule.to_string(), c)
        })
        .collect();
    // Each control-plane flag check implements its control's one rule.
    for row in cases() {
        for c in catalog::checks() {
            if matches!(c.eval, Eval::Flag(_))
                && row
                    .controls
                    .iter()
                    .any(|id| c.ids.kubescape.contains(&id.as_str()))
            {
                checks.insert(row.rule.clone(), c);
            }
        }
    }
    let deviations: BTreeSet<(&str, &str)> = DEVIATIONS.iter().map(|(r, c, _)| (*r, *c)).collect();
    // Per kubescape control: (cases, agreeing).
    let mut per_control: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut disagreements = Vec::new();
    let mut ran = 0;
    for row in cases() {
        let Some(check) = checks.get(row.rule.as_str()) else {
            continue;
        };
        ran += 1;
        let dir = corpus().join(&row.rule_dir).join(&row.case);
        let got = ours(check, inputs(&dir), settings(&dir));
        let ok = agree(&got, &row.failing);
        for c in &row.controls {
            if check.ids.kubescape.contains(&c.as_str()) {
                let e = per_control.entry(c.clone()).or_default();
                e.0 += 1;
                e.1 += u32::from(ok);
            }
        }
        if !ok {
            let documented = deviations.contains(&(row.rule.as_str(), row.case.as_str()));
            disagreements.push(format!(
                "{}{}/{}: rampart {:?}, upstream {:?}",
                if documented { "(documented) " } else { "" },
                row.rule,
                row.case,
                got,
                row.failing
            ));
        }
    }
    for d in &disagreements {
        eprintln!("disagreement: {d}");
    }
    let mut below = Vec::new();
    for (control, (n, ok)) in &per_control {
        let share = f64::from(*ok) * 100.0 / f64::from(*n);
        eprintln!("{control}: {ok}/{n} cases agree ({share:.1} %)");
        if share < 98.0 {
            below.push(format!("{control} {ok}/{n}"));
        }
    }
    eprintln!(
        "{ran} cases run over {} rules, {} disagreements",
        checks.len(),
        disagreements.len()
    );
    assert!(ran > 150, "only {ran} cases found: is the corpus copied?");
    assert!(below.is_empty(), "controls below 98 % agreement: {below:?}");
}

/// Every control of CIS §5 and of the NSA framework that kubescape evaluates from API objects,
/// and every CIS control-plane flag control, is answered by a rampart check.
#[test]
fn every_object_level_cis_and_nsa_control_is_implemented() {
    let text = fs::read_to_string(corpus().join("controls.tsv")).expect("controls.tsv");
    let answered: BTreeSet<&str> = catalog::checks()
        .iter()
        .flat_map(|c| c.ids.kubescape.iter().copied())
        .collect();
    let mut missing = Vec::new();
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split('\t').collect();
        let (id, class, frameworks) = (f[0], f[2], f[3]);
        let in_scope = (class == "api"
            && frameworks
                .split(';')
                .any(|fw| fw == "NSA" || fw.starts_with("cis-v1.12.0:5.")))
            || (class == "controlplane-flags"
                && frameworks
                    .split(';')
                    .any(|fw| fw.starts_with("cis-v1.12.0:")));
        if in_scope && !answered.contains(id) {
            missing.push(format!("{id} {}", f[1]));
        }
    }
    assert!(missing.is_empty(), "not implemented: {missing:#?}");
}
