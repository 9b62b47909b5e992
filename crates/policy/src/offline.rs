//! Offline admission (`rampart policy check` and `rampart policy test`): one object judged as
//! the webhook would judge its creation, after the API server's defaulting, with workload
//! templates judged as the pods their controllers will create; and `PolicyTest` expectations
//! against those verdicts. Plain data in, plain data out: reading the files is the caller's.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use crate::pss::LevelVersion;
use crate::review::{self, PolicySet, PssConfig, Request, ReviewError, ViolationOut};

/// `Kind/namespace/name` of an object (namespace `default` when it names none).
#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Its kind.
    pub kind: String,
    /// Its namespace, `default` when it names none.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ObjectRef {
    /// The reference of a raw object.
    pub fn of(v: &Value) -> ObjectRef {
        let s = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let ns = s("/metadata/namespace");
        ObjectRef {
            kind: s("/kind"),
            namespace: if ns.is_empty() { "default".into() } else { ns },
            name: s("/metadata/name"),
        }
    }

    /// `Kind/namespace/name`, as a `PolicyTest` names resources.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// One object's verdict (the `policy check --format json` contract).
#[derive(Debug, Serialize)]
pub struct CheckResult {
    /// The object.
    pub object: ObjectRef,
    /// The file it came from.
    pub file: String,
    /// The line it starts on.
    pub line: u32,
    /// Whether it would be admitted.
    pub allowed: bool,
    /// Enforced violations (a template's Pod Security violations among them).
    pub violations: Vec<ViolationOut>,
    /// Violations past the decision's cap, counted but not listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub violations_omitted: usize,
    /// Warnings the webhook would return.
    pub warnings: Vec<String>,
    /// ValidatingAdmissionPolicies' audit annotations (`policy/key`: value).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What an object is judged against.
#[derive(Debug, Clone, Copy)]
pub struct Against<'a> {
    /// The SecurityPolicies and ClusterSecurityPolicies.
    pub policies: &'a PolicySet,
    /// Namespace labels by namespace name.
    pub namespaces: &'a BTreeMap<String, BTreeMap<String, String>>,
    /// Pod Security enforced everywhere (every mode), overriding namespace labels.
    pub pss: Option<LevelVersion>,
    /// The newest policy minor version (what `latest` means).
    pub newest: u32,
    /// The cluster objects policies read: params objects, inventories.
    pub objects: &'a crate::store::ObjectStore,
    /// ValidatingAdmissionPolicies and their bindings.
    pub vaps: &'a crate::vap::VapSet,
}

/// The object's API group and version (`apiVersion` split; core: `""`, `v1`).
pub fn group_version_of(v: &Value) -> (String, String) {
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("v1");
    match api.split_once('/') {
        Some((g, ver)) => (g.to_string(), ver.to_string()),
        None => (String::new(), api.to_string()),
    }
}

/// The labels of the object's namespace, with `pss` (when set) enforced, warned and audited.
fn namespace_labels(r: &ObjectRef, against: &Against<'_>) -> BTreeMap<String, String> {
    let mut ns_labels = against
        .namespaces
        .get(&r.namespace)
        .cloned()
        .unwrap_or_else(|| {
            BTreeMap::from([(
                "kubernetes.io/metadata.name".to_string(),
                r.namespace.clone(),
            )])
        });
    if let Some(lv) = against.pss {
        for mode in ["enforce", "warn", "audit"] {
            ns_labels.insert(
                format!("pod-security.kubernetes.io/{mode}"),
                lv.level.as_str().into(),
            );
            ns_labels.insert(
                format!("pod-security.kubernetes.io/{mode}-version"),
                lv.version.to_string(),
            );
        }
    }
    ns_labels
}

/// Evaluates one object (found at `file:line`) as the webhook would; templates whose pods
/// would be denied count as denied (the controller could not create them). Objects are
/// evaluated as the API server's admission would see them, after its defaulting
/// ([`crate::defaults`]). Returns the verdict and every violation (all modes).
pub fn check(
    value: &Value,
    file: &str,
    line: u32,
    against: &Against<'_>,
) -> Result<(CheckResult, Vec<ViolationOut>), ReviewError> {
    let r = ObjectRef::of(value);
    let (group, version) = group_version_of(value);
    let mut object = value.clone();
    crate::defaults::apply(&r.kind, &mut object);
    let ns_labels = namespace_labels(&r, against);
    let req = Request {
        group: &group,
        version: &version,
        kind: &r.kind,
        resource: "",
        sub_resource: None,
        operation: review::Operation::Create,
        namespace: &r.namespace,
        name: &r.name,
        username: "",
        object: Some((&object).into()),
        old_object: None,
    };
    let pss_config = PssConfig {
        newest_minor: against.newest,
        ..PssConfig::default()
    };
    let decision = review::validate_with(
        &req,
        &ns_labels,
        against.policies,
        &pss_config,
        against.objects,
    )?;
    // ValidatingAdmissionPolicies judge the object as the API server would, beside the webhook.
    let vap = against.vaps.review(&req, &object, &ns_labels);
    let mut decision = decision;
    for v in vap.violations {
        match v.mode {
            "enforce" => decision.allowed = false,
            "warn" => decision.warnings.push(v.message.clone()),
            _ => {}
        }
        decision.violations.push(v);
    }
    // A template is admitted by Pod Security (upstream only warns), but its pods will be
    // judged at the namespace's enforce level: count those violations as denials.
    let mut violations: Vec<ViolationOut> = decision
        .violations
        .iter()
        .filter(|v| v.mode == "enforce")
        .cloned()
        .collect();
    if r.kind != "Pod"
        && let Some(pod) = template_pod(&r.kind, &object)
    {
        let (lv, _) = review::namespace_level(&ns_labels, "enforce", PssConfig::default().enforce);
        for v in crate::pss::evaluate_at(lv, against.newest, &pod.meta, &pod.spec) {
            violations.push(ViolationOut {
                policy: format!("PodSecurity {lv}"),
                rule: v.check.to_string(),
                message: format!("(pod template) {v}"),
                mode: "enforce",
            });
        }
    }
    let template_denied = violations
        .iter()
        .any(|v| v.policy.starts_with("PodSecurity"))
        && r.kind != "Pod";
    Ok((
        CheckResult {
            object: r,
            file: file.to_string(),
            line,
            allowed: decision.allowed && !template_denied,
            violations,
            violations_omitted: decision.violations_omitted,
            warnings: decision.warnings,
            audit_annotations: vap.audit_annotations,
        },
        decision.violations,
    ))
}

/// A workload's template as the Pod its controller will create: the API server's Pod
/// defaulting (hostNetwork ports, AppArmor annotations) applied.
fn template_pod(kind: &str, object: &Value) -> Option<crate::object::PodSource> {
    let pointer = match kind {
        "CronJob" => "/spec/jobTemplate/spec/template",
        k if crate::object::POD_KINDS.contains(&k) => "/spec/template",
        _ => return None,
    };
    let t = object.pointer(pointer)?;
    let mut pod = serde_json::json!({
        "metadata": t.get("metadata").cloned().unwrap_or(Value::Null),
        "spec": t.get("spec").cloned().unwrap_or(Value::Null),
    });
    crate::defaults::pod(&mut pod);
    crate::object::pod_source("Pod", &pod).ok().flatten()
}

/// A `kind: PolicyTest` document.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyTest {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    /// Its name.
    pub metadata: TestMeta,
    /// Policy files, relative to the test file.
    #[serde(default)]
    pub policies: Vec<PathBuf>,
    /// Resource files, relative to the test file.
    pub resources: Vec<PathBuf>,
    /// Namespace files, relative to the test file.
    #[serde(default)]
    pub namespaces: Vec<PathBuf>,
    /// Inventory files (params objects, the kinds policies read as `inventory`), relative to
    /// the test file.
    #[serde(default)]
    pub inventory: Vec<PathBuf>,
    /// ValidatingAdmissionPolicy and binding files (params objects beside them), relative to
    /// the test file.
    #[serde(default)]
    pub vap: Vec<PathBuf>,
    /// Pod Security level to enforce, `LEVEL[:VERSION]`.
    #[serde(default)]
    pub pss: Option<String>,
    /// What is expected.
    pub results: Vec<Expectation>,
}

/// A `PolicyTest`'s metadata.
#[derive(Debug, serde::Deserialize)]
pub struct TestMeta {
    /// The test's name.
    pub name: String,
}

/// One expected result of a `PolicyTest`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expectation {
    /// `namespace/name` of a SecurityPolicy, the name of a ClusterSecurityPolicy, or
    /// `PodSecurity`.
    pub policy: String,
    /// Rule name or PSS check id; empty: any.
    #[serde(default)]
    pub rule: String,
    /// `Kind/namespace/name` (namespace `default` when omitted in the object).
    pub resource: String,
    /// `pass`, `fail` (denied), `warn`, `audit`.
    pub result: String,
}

impl Expectation {
    /// Whether the verdict `r` (with every violation, `all`) meets it, and the result seen.
    pub fn met(&self, r: &CheckResult, all: &[ViolationOut]) -> (bool, String) {
        let matching: Vec<&ViolationOut> = all
            .iter()
            .filter(|v| {
                let policy_ok = if self.policy == "PodSecurity" {
                    v.policy.starts_with("PodSecurity")
                } else {
                    v.policy.ends_with(&format!(" {}", self.policy))
                };
                policy_ok && (self.rule.is_empty() || v.rule == self.rule)
            })
            .collect();
        let got = if matching.iter().any(|v| v.mode == "enforce")
            || (!r.allowed && matching.iter().any(|v| v.policy.starts_with("PodSecurity")))
        {
            "fail"
        } else if matching.iter().any(|v| v.mode == "warn") {
            "warn"
        } else if matching.iter().any(|v| v.mode == "audit") {
            "audit"
        } else {
            "pass"
        };
        (got == self.result, got.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(privileged: bool) -> Value {
        serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                "containers": [{"name": "web", "image": "web:1",
                    "securityContext": {"privileged": privileged}}]
            }}}
        })
    }

    static NONE: std::sync::LazyLock<crate::store::ObjectStore> =
        std::sync::LazyLock::new(Default::default);
    static NO_VAPS: std::sync::LazyLock<crate::vap::VapSet> =
        std::sync::LazyLock::new(Default::default);

    fn against<'a>(
        policies: &'a PolicySet,
        namespaces: &'a BTreeMap<String, BTreeMap<String, String>>,
        pss: &str,
    ) -> Against<'a> {
        Against {
            policies,
            namespaces,
            pss: LevelVersion::parse(pss),
            newest: crate::pss::NEWEST_MINOR,
            objects: &NONE,
            vaps: &NO_VAPS,
        }
    }

    #[test]
    fn a_template_whose_pods_would_be_denied_is_denied() {
        let (policies, namespaces) = (PolicySet::default(), BTreeMap::new());
        let at = against(&policies, &namespaces, "baseline");
        let (r, all) = check(&deployment(true), "d.yaml", 3, &at).expect("judged");
        assert_eq!(r.object.key(), "Deployment/default/web");
        assert_eq!((r.file.as_str(), r.line), ("d.yaml", 3));
        assert!(!r.allowed, "{r:?}");
        assert!(
            r.violations
                .iter()
                .any(|v| v.message.starts_with("(pod template)"))
        );
        let e = Expectation {
            policy: "PodSecurity".into(),
            rule: String::new(),
            resource: r.object.key(),
            result: "fail".into(),
        };
        assert_eq!(e.met(&r, &all), (true, "fail".to_string()));
        let (r, all) = check(&deployment(false), "d.yaml", 3, &at).expect("judged");
        assert!(r.allowed, "{r:?}");
        assert_eq!(e.met(&r, &all), (false, "pass".to_string()));
    }
}
