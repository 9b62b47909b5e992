//! `rampart policy check`, `rampart policy test` and `rampart crds`: the admission decisions of
//! the webhook, offline. The files are read and the verdicts written here; each verdict is
//! `rampart_policy::offline`'s.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use rampart_files::{LoadOptions, load_raw};
use rampart_model::RawDocument;
use rampart_policy::offline::{Against, CheckResult, ObjectRef, PolicyTest};
use rampart_policy::pss::LevelVersion;
use rampart_policy::review::{PolicySet, ViolationOut};
use rampart_policy::source::{namespace_from_value, policy_from_value};
use rampart_report::{Safe, display_safe};
use serde_json::Value;

/// `rampart policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Would these objects be admitted? Exit 0 all admitted, 1 any denied, 2 input error.
    Check(CheckArgs),
    /// Run policy unit tests (`kind: PolicyTest` files): resources, policies, expected
    /// results. Exit 0 when every expectation holds, 1 otherwise, 2 on input errors.
    Test(TestArgs),
    /// Convert Gatekeeper ConstraintTemplates with a CEL source (`engine:
    /// K8sNativeValidation`) and their Constraints into ClusterSecurityPolicies (or
    /// ValidatingAdmissionPolicies and bindings), printed as YAML. Exit 0, or 2 when anything
    /// did not convert (said on stderr).
    Convert(ConvertArgs),
}

/// What `policy convert` produces.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ConvertTo {
    /// ClusterSecurityPolicies (one per Constraint, its parameters as params values).
    Securitypolicy,
    /// ValidatingAdmissionPolicies and bindings (the Constraints stay the params objects).
    Vap,
}

/// Arguments of `policy convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Files or directories holding the ConstraintTemplates and Constraints.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// What to produce.
    #[arg(long, value_enum, default_value_t = ConvertTo::Securitypolicy)]
    pub to: ConvertTo,
}

/// Runs `policy convert`.
pub fn convert(args: &ConvertArgs) -> anyhow::Result<ExitCode> {
    let (docs, errors) = load_raw(&args.paths, &LoadOptions::default());
    let values: Vec<Value> = docs.into_iter().map(|d| d.value).collect();
    let to = match args.to {
        ConvertTo::Securitypolicy => rampart_policy::gatekeeper::Target::SecurityPolicy,
        ConvertTo::Vap => rampart_policy::gatekeeper::Target::Vap,
    };
    let (out, failed) = rampart_policy::gatekeeper::convert(&values, to);
    let mut text = String::new();
    for (i, v) in out.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        text.push_str(&serde_saphyr::to_string(v).context("writing YAML")?);
    }
    crate::scan::write_stdout(&text).context("writing the converted policies")?;
    for e in &errors {
        eprintln!("rampart: {}", display_safe(&e.to_string()));
    }
    for e in &failed {
        eprintln!("rampart: {}", display_safe(&e.to_string()));
    }
    if out.is_empty() && errors.is_empty() && failed.is_empty() {
        anyhow::bail!("no Gatekeeper Constraints under {:?}", args.paths);
    }
    Ok(if errors.is_empty() && failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
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
    /// paths apply too); other objects in them (a ConfigMap or PolicyParams a policy reads as
    /// `params`) join the inventory.
    #[arg(long)]
    pub policies: Vec<PathBuf>,
    /// The rest of the cluster (files or directories of manifests): the params objects
    /// policies name, and the objects of the kinds they declare as `inventory` (unique Ingress
    /// hosts, existing StorageClasses, …; like Gatekeeper's `data.inventory`). Not checked
    /// themselves.
    #[arg(long, value_name = "PATH")]
    pub inventory: Vec<PathBuf>,
    /// Kubernetes ValidatingAdmissionPolicies and their bindings
    /// (`admissionregistration.k8s.io/v1`; files or directories; params objects beside them),
    /// judged as the API server would on creating each object: Deny, Warn and Audit actions,
    /// paramRef, matchResources, matchConditions, auditAnnotations.
    #[arg(long, value_name = "PATH")]
    pub vap: Vec<PathBuf>,
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
    /// The cluster's other objects: `--inventory`, and what sits beside the policies.
    inventory: Vec<Value>,
    /// What the policies read of them.
    store: rampart_policy::store::ObjectStore,
    /// ValidatingAdmissionPolicies and bindings.
    vaps: rampart_policy::vap::VapSet,
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
        } else {
            inputs.inventory.push(d.value);
        }
    }
}

impl Inputs {
    /// Reads inventory files, then what the policies read of the whole inventory (once, for
    /// every object checked).
    fn read_inventory(&mut self, paths: &[PathBuf]) {
        let (docs, errors) = load_raw(paths, &LoadOptions::default());
        self.errors.extend(errors.iter().map(ToString::to_string));
        self.inventory.extend(docs.into_iter().map(|d| d.value));
        self.store = rampart_policy::store::ObjectStore::from_objects(
            &self.inventory,
            &self.policies.wanted(),
        );
        self.vaps.add_params(&self.inventory);
    }

    /// Reads ValidatingAdmissionPolicies and their bindings (other objects there are params).
    fn read_vaps(&mut self, paths: &[PathBuf]) {
        let (docs, errors) = load_raw(paths, &LoadOptions::default());
        self.errors.extend(errors.iter().map(ToString::to_string));
        let (vaps, errors) = rampart_policy::vap::VapSet::from_documents(
            docs.iter().map(|d| (d.source.to_string(), &d.value)),
        );
        self.errors.extend(errors);
        self.vaps = vaps;
    }

    /// Judges one object against these policies and namespaces; an error names the file.
    fn check(
        &self,
        d: &RawDocument,
        pss: Option<LevelVersion>,
        newest: u32,
    ) -> Result<(CheckResult, Vec<ViolationOut>), String> {
        let against = Against {
            policies: &self.policies,
            namespaces: &self.namespaces,
            pss,
            newest,
            objects: &self.store,
            vaps: &self.vaps,
        };
        rampart_policy::offline::check(&d.value, &d.source.file, d.source.line, &against)
            .map_err(|e| format!("{}: {e}", d.source))
    }
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
    inputs.read_vaps(&args.vap);
    inputs.read_inventory(&args.inventory);
    let mut results = Vec::new();
    for d in &inputs.objects {
        match inputs.check(d, args.pss, newest) {
            // Objects rampart does not evaluate are admitted untouched; list only what was
            // judged: what runs pods, and what a policy's kinds name.
            Ok((r, _)) => {
                let (group, version) = rampart_policy::offline::group_version_of(&d.value);
                if rampart_policy::object::POD_KINDS.contains(&r.object.kind.as_str())
                    || !r.allowed
                    || !r.violations.is_empty()
                    || !r.warnings.is_empty()
                    || !r.audit_annotations.is_empty()
                    || inputs.policies.targets(&group, &version, &r.object.kind)
                {
                    results.push(r);
                }
            }
            Err(e) => inputs.errors.push(e),
        }
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        CheckFormat::Json => write_json(&mut out, &results, &inputs.errors, newest, args)?,
        CheckFormat::Table => write_table(&mut out, &results)?,
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

/// `policy check --format json`: the results, the input errors, and what `latest` (and any
/// newer version label) was evaluated as.
fn write_json(
    out: &mut impl Write,
    results: &[CheckResult],
    errors: &[String],
    newest: u32,
    args: &CheckArgs,
) -> anyhow::Result<()> {
    let pod_security = serde_json::json!({
        "latest": format!("v1.{newest}"),
        "kube_version": args.kube_version.map(|m| format!("1.{m}")),
    });
    let v = serde_json::json!({
        "results": results,
        "errors": errors,
        "pod_security": pod_security,
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    Ok(())
}

/// `policy check --format table`: one line per object, its violations and warnings beneath.
fn write_table(out: &mut impl Write, results: &[CheckResult]) -> anyhow::Result<()> {
    for r in results {
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
        for (k, v) in &r.audit_annotations {
            writeln!(
                out,
                "{}",
                Safe(format_args!("    audit annotation {k}: {v}"))
            )?;
        }
    }
    let denied = results.iter().filter(|r| !r.allowed).count();
    writeln!(out, "{} object(s) checked, {denied} denied", results.len())?;
    Ok(())
}

/// Expectations met and failed, and input errors, across `policy test`'s documents.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    input_errors: Vec<String>,
}

/// Runs `policy test`.
pub fn test(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let (docs, errors) = load_raw(&args.paths, &LoadOptions::default());
    let mut tally = Tally {
        input_errors: errors.iter().map(ToString::to_string).collect(),
        ..Tally::default()
    };
    let mut out = std::io::stdout().lock();
    for d in docs
        .iter()
        .filter(|d| d.value.get("kind").and_then(Value::as_str) == Some("PolicyTest"))
    {
        run_test(d, &mut tally, &mut out)?;
    }
    let Tally {
        passed,
        failed,
        input_errors,
    } = tally;
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

/// Runs one `PolicyTest` document: reads its files (relative to it), judges its resources,
/// and writes one line per expectation.
fn run_test(d: &RawDocument, tally: &mut Tally, out: &mut impl Write) -> anyhow::Result<()> {
    let t: PolicyTest = match serde_json::from_value(d.value.clone()) {
        Ok(t) => t,
        Err(e) => {
            tally
                .input_errors
                .push(format!("{}: invalid PolicyTest: {e}", d.source));
            return Ok(());
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
    inputs.read_vaps(&rel(&t.vap));
    inputs.read_inventory(&rel(&t.inventory));
    let pss = match t.pss.as_deref().map(parse_level).transpose() {
        Ok(p) => p,
        Err(e) => {
            tally.input_errors.push(format!("{}: pss: {e}", d.source));
            return Ok(());
        }
    };
    tally.input_errors.extend(
        inputs
            .errors
            .iter()
            .map(|e| format!("{} ({}): {e}", d.source, t.metadata.name)),
    );
    let mut results: BTreeMap<String, (CheckResult, Vec<ViolationOut>)> = BTreeMap::new();
    for o in &inputs.objects {
        let key = ObjectRef::of(&o.value).key();
        match inputs.check(o, pss, rampart_policy::pss::NEWEST_MINOR) {
            Ok(c) => {
                results.insert(key, c);
            }
            Err(e) => tally.input_errors.push(e),
        }
    }
    writeln!(out, "{}", display_safe(&t.metadata.name))?;
    for e in &t.results {
        let line = match results.get(&e.resource) {
            None => {
                tally.failed += 1;
                format!(
                    "  FAIL  {} {} {}: resource not found in the test's resources",
                    e.policy, e.rule, e.resource
                )
            }
            Some((r, all)) => {
                let (ok, got) = e.met(r, all);
                if ok {
                    tally.passed += 1;
                } else {
                    tally.failed += 1;
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
    Ok(())
}

/// Runs `rampart crds`: the CRD manifests, generated from the Rust types, as YAML.
pub fn crds() -> anyhow::Result<ExitCode> {
    let text = crds_yaml()?;
    crate::scan::write_stdout(&text).context("writing the CRDs")?;
    Ok(ExitCode::SUCCESS)
}

/// The CRDs as one YAML stream (what `rampart crds` prints; the Helm chart keeps a copy).
pub fn crds_yaml() -> anyhow::Result<String> {
    let mut text = String::new();
    for (i, crd) in rampart_api::crds().iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        text.push_str(&serde_saphyr::to_string(crd).context("serializing a CRD")?);
    }
    Ok(text)
}
