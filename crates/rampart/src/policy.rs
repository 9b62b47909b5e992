//! `rampart policy check`, `rampart policy test` and `rampart crds`: the admission decisions of
//! the webhook, offline.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use rampart_files::{LoadOptions, load_raw};
use rampart_model::RawDocument;
use rampart_policy::pss::LevelVersion;
use rampart_policy::review::{self, PolicySet, PssConfig, Request};
use rampart_policy::source::{namespace_from_value, policy_from_value};
use rampart_report::{Safe, display_safe};
use serde::Serialize;
use serde_json::Value;

/// `rampart policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Would these objects be admitted? Exit 0 all admitted, 1 any denied, 2 input error.
    Check(CheckArgs),
    /// Run policy unit tests (`kind: PolicyTest` files): resources, policies, expected
    /// results. Exit 0 when every expectation holds, 1 otherwise, 2 on input errors.
    Test(TestArgs),
}

/// Output formats of `policy check`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CheckFormat {
    /// One line per object.
    Table,
    /// `{"results": [...]}`.
    Json,
}

/// Arguments of `policy check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or directories of manifests to check.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Evaluate Pod Security as a namespace enforcing `LEVEL[:VERSION]` (e.g. `restricted`,
    /// `baseline:v1.30`). Without it, namespace labels found in the input decide.
    #[arg(long, value_parser = parse_level)]
    pub pss: Option<LevelVersion>,
    /// SecurityPolicy / ClusterSecurityPolicy manifests to apply (policies among the checked
    /// paths apply too).
    #[arg(long)]
    pub policies: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = CheckFormat::Table)]
    pub format: CheckFormat,
    /// Decide Pod Security as an API server of this Kubernetes version (`1.36`, `v1.36.2`)
    /// would: `latest`, and any newer `v1.N`, mean the newest policy version it knows. Without
    /// it, `latest` is the newest version rampart implements.
    #[arg(long, value_parser = parse_kube_version, value_name = "1.N")]
    pub kube_version: Option<u32>,
}

/// Arguments of `policy test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Directories (searched recursively) or files holding `kind: PolicyTest` documents.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// A Kubernetes version, `1.N` or `v1.N` with an optional patch and suffix (`v1.36.2-gke.1`):
/// its minor.
pub fn parse_kube_version(s: &str) -> Result<u32, String> {
    let err = || format!("{s:?} is not a Kubernetes version like 1.36 or v1.36.2");
    let rest = s.strip_prefix('v').unwrap_or(s);
    let minor = rest.strip_prefix("1.").ok_or_else(err)?;
    let end = minor
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(minor.len());
    let (digits, tail) = minor.split_at(end);
    if digits.is_empty()
        || digits.len() > 9
        || !(tail.is_empty() || tail.starts_with(['.', '-', '+']))
    {
        return Err(err());
    }
    digits.parse().map_err(|_| err())
}

fn parse_level(s: &str) -> Result<LevelVersion, String> {
    LevelVersion::parse(s).ok_or_else(|| {
        format!("{s:?} is not LEVEL[:VERSION] (privileged|baseline|restricted, latest or v1.N)")
    })
}

/// Objects, policies and namespaces read from files.
#[derive(Default)]
struct Inputs {
    objects: Vec<RawDocument>,
    policies: PolicySet,
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    errors: Vec<String>,
}

fn read_inputs(paths: &[PathBuf], inputs: &mut Inputs, keep_objects: bool) {
    let (docs, errors) = load_raw(paths, &LoadOptions::default());
    inputs.errors.extend(errors.iter().map(ToString::to_string));
    for d in docs {
        if let Some(p) = policy_from_value(&d.value, "default") {
            match p {
                Ok(p) => {
                    if let Err(e) = inputs.policies.upsert(p) {
                        inputs.errors.push(format!("{}: {e:?}", d.source));
                    }
                }
                Err(e) => inputs.errors.push(format!("{}: {e}", d.source)),
            }
        } else if let Some((name, labels)) = namespace_from_value(&d.value) {
            inputs.namespaces.insert(name, labels);
        } else if keep_objects {
            inputs.objects.push(d);
        }
    }
}

/// One object's verdict (the `policy check --format json` contract).
#[derive(Debug, Serialize)]
struct CheckResult {
    object: ObjectRef,
    file: String,
    line: u32,
    allowed: bool,
    violations: Vec<review::ViolationOut>,
    /// Violations past the decision's cap, counted but not listed.
    #[serde(skip_serializing_if = "is_zero")]
    violations_omitted: usize,
    warnings: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
struct ObjectRef {
    kind: String,
    namespace: String,
    name: String,
}

fn object_ref(v: &Value) -> ObjectRef {
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

fn group_of(v: &Value) -> String {
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("v1");
    match api.split_once('/') {
        Some((g, _)) => g.to_string(),
        None => String::new(),
    }
}

/// Evaluates one object as the webhook would; with `pss`, templates whose pods would be denied
/// count as denied (the controller could not create them).
/// Objects are evaluated as the API server's admission would see them, after its defaulting
/// ([`rampart_policy::defaults`]); `newest` is the newest policy minor version (`latest`).
fn check_one(
    d: &RawDocument,
    inputs: &Inputs,
    pss: Option<LevelVersion>,
    newest: u32,
) -> Result<(CheckResult, Vec<review::ViolationOut>), String> {
    let r = object_ref(&d.value);
    let group = group_of(&d.value);
    let mut object = d.value.clone();
    rampart_policy::defaults::apply(&r.kind, &mut object);
    let mut ns_labels = inputs
        .namespaces
        .get(&r.namespace)
        .cloned()
        .unwrap_or_else(|| {
            BTreeMap::from([(
                "kubernetes.io/metadata.name".to_string(),
                r.namespace.clone(),
            )])
        });
    if let Some(lv) = pss {
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
    let req = Request {
        group: &group,
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
        newest_minor: newest,
        ..PssConfig::default()
    };
    let decision = review::validate(&req, &ns_labels, &inputs.policies, &pss_config)
        .map_err(|e| format!("{}: {e}", d.source))?;
    // A template is admitted by Pod Security (upstream only warns), but its pods will be
    // judged at the namespace's enforce level: count those violations as denials.
    let mut violations: Vec<review::ViolationOut> = decision
        .violations
        .iter()
        .filter(|v| v.mode == "enforce")
        .cloned()
        .collect();
    if r.kind != "Pod"
        && let Some(pod) = template_pod(&r.kind, &object)
    {
        let (lv, _) = review::namespace_level(&ns_labels, "enforce", PssConfig::default().enforce);
        for v in rampart_policy::pss::evaluate_at(lv, newest, &pod.meta, &pod.spec) {
            violations.push(review::ViolationOut {
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
            file: d.source.file.to_string(),
            line: d.source.line,
            allowed: decision.allowed && !template_denied,
            violations,
            violations_omitted: decision.violations_omitted,
            warnings: decision.warnings,
        },
        decision.violations,
    ))
}

/// A workload's template as the Pod its controller will create: the API server's Pod
/// defaulting (hostNetwork ports, AppArmor annotations) applied.
fn template_pod(kind: &str, object: &Value) -> Option<rampart_policy::object::PodSource> {
    let pointer = match kind {
        "CronJob" => "/spec/jobTemplate/spec/template",
        k if rampart_policy::object::POD_KINDS.contains(&k) => "/spec/template",
        _ => return None,
    };
    let t = object.pointer(pointer)?;
    let mut pod = serde_json::json!({
        "metadata": t.get("metadata").cloned().unwrap_or(Value::Null),
        "spec": t.get("spec").cloned().unwrap_or(Value::Null),
    });
    rampart_policy::defaults::pod(&mut pod);
    rampart_policy::object::pod_source("Pod", &pod)
        .ok()
        .flatten()
}

/// Runs `policy check`.
pub fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let newest = args.kube_version.map_or(
        rampart_policy::pss::NEWEST_MINOR,
        rampart_policy::pss::latest_minor_for,
    );
    let mut inputs = Inputs::default();
    read_inputs(&args.policies, &mut inputs, false);
    read_inputs(&args.paths, &mut inputs, true);
    let mut results = Vec::new();
    for d in &inputs.objects {
        match check_one(d, &inputs, args.pss, newest) {
            Ok((r, _)) => results.push(r),
            Err(e) => inputs.errors.push(e),
        }
    }
    // Objects rampart does not evaluate are admitted untouched; list only what was judged.
    results.retain(|r| {
        rampart_policy::object::POD_KINDS.contains(&r.object.kind.as_str()) || !r.allowed
    });
    let mut out = std::io::stdout().lock();
    match args.format {
        CheckFormat::Json => {
            // What `latest` (and any newer version label) was evaluated as.
            let pod_security = serde_json::json!({
                "latest": format!("v1.{newest}"),
                "kube_version": args.kube_version.map(|m| format!("1.{m}")),
            });
            let v = serde_json::json!({
                "results": results,
                "errors": inputs.errors,
                "pod_security": pod_security,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        CheckFormat::Table => {
            for r in &results {
                // Kinds, names, files and policy messages are the input's: each line is
                // escaped as a whole (see `rampart_report::text`).
                let o = &r.object;
                writeln!(
                    out,
                    "{}",
                    Safe(format_args!(
                        "{}  {}/{}/{}  ({}:{})",
                        if r.allowed { "ALLOW" } else { "DENY " },
                        o.kind,
                        o.namespace,
                        o.name,
                        r.file,
                        r.line
                    ))
                )?;
                for v in &r.violations {
                    writeln!(
                        out,
                        "{}",
                        Safe(format_args!("    {} {}: {}", v.policy, v.rule, v.message))
                    )?;
                }
                if r.violations_omitted > 0 {
                    writeln!(
                        out,
                        "    … and {} more violations, not listed",
                        r.violations_omitted
                    )?;
                }
                for w in &r.warnings {
                    writeln!(out, "    warning: {}", display_safe(w))?;
                }
            }
            let denied = results.iter().filter(|r| !r.allowed).count();
            writeln!(out, "{} object(s) checked, {denied} denied", results.len())?;
        }
    }
    for e in &inputs.errors {
        eprintln!("rampart: {}", display_safe(e));
    }
    Ok(if !inputs.errors.is_empty() {
        ExitCode::from(2)
    } else if results.iter().any(|r| !r.allowed) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A `kind: PolicyTest` document.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyTest {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    metadata: TestMeta,
    /// Policy files, relative to the test file.
    #[serde(default)]
    policies: Vec<PathBuf>,
    /// Resource files, relative to the test file.
    resources: Vec<PathBuf>,
    /// Namespace files, relative to the test file.
    #[serde(default)]
    namespaces: Vec<PathBuf>,
    /// Pod Security level to enforce, `LEVEL[:VERSION]`.
    #[serde(default)]
    pss: Option<String>,
    results: Vec<Expectation>,
}

#[derive(Debug, serde::Deserialize)]
struct TestMeta {
    name: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Expectation {
    /// `namespace/name` of a SecurityPolicy, the name of a ClusterSecurityPolicy, or
    /// `PodSecurity`.
    policy: String,
    /// Rule name or PSS check id; empty: any.
    #[serde(default)]
    rule: String,
    /// `Kind/namespace/name` (namespace `default` when omitted in the object).
    resource: String,
    /// `pass`, `fail` (denied), `warn`, `audit`.
    result: String,
}

fn expectation_met(
    e: &Expectation,
    r: &CheckResult,
    all: &[review::ViolationOut],
) -> (bool, String) {
    let matching: Vec<&review::ViolationOut> = all
        .iter()
        .filter(|v| {
            let policy_ok = if e.policy == "PodSecurity" {
                v.policy.starts_with("PodSecurity")
            } else {
                v.policy.ends_with(&format!(" {}", e.policy))
            };
            policy_ok && (e.rule.is_empty() || v.rule == e.rule)
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
    (got == e.result, got.to_string())
}

/// Runs `policy test`.
pub fn test(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let (docs, errors) = load_raw(&args.paths, &LoadOptions::default());
    let mut input_errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut out = std::io::stdout().lock();
    for d in docs
        .iter()
        .filter(|d| d.value.get("kind").and_then(Value::as_str) == Some("PolicyTest"))
    {
        let t: PolicyTest = match serde_json::from_value(d.value.clone()) {
            Ok(t) => t,
            Err(e) => {
                input_errors.push(format!("{}: invalid PolicyTest: {e}", d.source));
                continue;
            }
        };
        let base = Path::new(&*d.source.file)
            .parent()
            .unwrap_or(Path::new("."));
        let rel = |ps: &[PathBuf]| ps.iter().map(|p| base.join(p)).collect::<Vec<_>>();
        let mut inputs = Inputs::default();
        read_inputs(&rel(&t.policies), &mut inputs, false);
        read_inputs(&rel(&t.namespaces), &mut inputs, false);
        read_inputs(&rel(&t.resources), &mut inputs, true);
        let pss = match t.pss.as_deref().map(parse_level).transpose() {
            Ok(p) => p,
            Err(e) => {
                input_errors.push(format!("{}: pss: {e}", d.source));
                continue;
            }
        };
        input_errors.extend(
            inputs
                .errors
                .iter()
                .map(|e| format!("{} ({}): {e}", d.source, t.metadata.name)),
        );
        let mut results: BTreeMap<String, (CheckResult, Vec<review::ViolationOut>)> =
            BTreeMap::new();
        for o in &inputs.objects {
            let r = object_ref(&o.value);
            let key = format!("{}/{}/{}", r.kind, r.namespace, r.name);
            match check_one(o, &inputs, pss, rampart_policy::pss::NEWEST_MINOR) {
                Ok(c) => {
                    results.insert(key, c);
                }
                Err(e) => input_errors.push(e),
            }
        }
        writeln!(out, "{}", display_safe(&t.metadata.name))?;
        for e in &t.results {
            let line = match results.get(&e.resource) {
                None => {
                    failed += 1;
                    format!(
                        "  FAIL  {} {} {}: resource not found in the test's resources",
                        e.policy, e.rule, e.resource
                    )
                }
                Some((r, all)) => {
                    let (ok, got) = expectation_met(e, r, all);
                    if ok {
                        passed += 1;
                    } else {
                        failed += 1;
                    }
                    format!(
                        "  {}  {} {} {}: expected {}, got {got}",
                        if ok { "PASS" } else { "FAIL" },
                        e.policy,
                        e.rule,
                        e.resource,
                        e.result
                    )
                }
            };
            writeln!(out, "{}", display_safe(&line))?;
        }
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    for e in &input_errors {
        eprintln!("rampart: {}", display_safe(e));
    }
    if passed + failed == 0 && input_errors.is_empty() {
        anyhow::bail!("no PolicyTest documents under {:?}", args.paths);
    }
    Ok(if !input_errors.is_empty() {
        ExitCode::from(2)
    } else if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs `rampart crds`: the CRD manifests, generated from the Rust types, as YAML.
pub fn crds() -> anyhow::Result<ExitCode> {
    let mut text = String::new();
    for (i, crd) in rampart_api::crds().iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        text.push_str(&serde_saphyr::to_string(crd).context("serializing a CRD")?);
    }
    crate::scan::write_stdout(&text).context("writing the CRDs")?;
    Ok(ExitCode::SUCCESS)
}
