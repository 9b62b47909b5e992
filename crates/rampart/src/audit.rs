//! `rampart audit`: compliance of manifests or a `kubectl` dump against CIS, NSA/CISA, Pod
//! Security and the cluster's own SecurityPolicies. Reading and writing here; every check is
//! `rampart_audit`'s, every format `rampart_report::audit`'s.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use rampart_audit::exceptions::Exceptions;
use rampart_audit::run::Options;
use rampart_audit::settings::Settings;
use rampart_audit::{Framework, Inventory, Object};
use rampart_files::{LoadOptions, load_raw};
use rampart_model::ParseLimits;
use rampart_report::audit::{AuditInputs, AuditReport, html, junit, sarif, table};

/// Frameworks on the command line.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FrameworkArg {
    /// CIS Kubernetes Benchmark: §5 policies, §1 control-plane flags from static Pods, etcd.
    Cis,
    /// NSA/CISA Kubernetes Hardening Guidance.
    Nsa,
    /// Pod Security Standards, baseline.
    PssBaseline,
    /// Pod Security Standards, restricted.
    PssRestricted,
    /// The SecurityPolicies and ClusterSecurityPolicies among the inputs and `--policies`.
    Policies,
    /// Every framework.
    All,
}

/// Output formats of `audit`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum AuditFormat {
    /// Scores and failing checks, for people.
    Table,
    /// The `rampart.dev/audit/v1` JSON contract.
    Json,
    /// SARIF 2.1.0 for code scanning.
    Sarif,
    /// JUnit XML for CI test reports.
    Junit,
    /// One self-contained HTML page.
    Html,
    /// PolicyReports (`wgpolicyk8s.io/v1alpha2`), one per namespace, as a `kind: List` to
    /// `kubectl apply -f -` where the PolicyReport CRDs are installed.
    PolicyReport,
}

/// Arguments of `rampart audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Files or directories (read recursively) of YAML / JSON manifests or cluster dumps.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Frameworks to audit (repeat for several).
    #[arg(long, value_enum, default_values_t = [FrameworkArg::All])]
    pub framework: Vec<FrameworkArg>,
    /// SecurityPolicy / ClusterSecurityPolicy manifests whose rules existing objects are
    /// audited against (those among PATHS count too).
    #[arg(long)]
    pub policies: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = AuditFormat::Table, env = "RAMPART_AUDIT_FORMAT")]
    pub format: AuditFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Accepted failures: `{"exceptions": [{"check", "kind", "namespace", "name", "reason"}]}`
    /// (YAML or JSON). Objects can carry `exception.audit.rampart.dev/<check>: <reason>` too.
    #[arg(long)]
    pub exceptions: Option<PathBuf>,
    /// Check settings in kubescape's shape (`{"postureControlInputs": {...}}`, YAML or JSON):
    /// insecure capabilities, credential key names and value patterns.
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// Audit what could be read even when some input is invalid (exit code 0/1, not 2).
    #[arg(long)]
    pub keep_going: bool,
    /// Largest input file accepted, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub max_file_size: usize,
    /// Print phase timings to stderr.
    #[arg(long)]
    pub timings: bool,
}

fn frameworks(args: &[FrameworkArg]) -> Vec<Framework> {
    let mut out: Vec<Framework> = Vec::new();
    for a in args {
        let add: &[Framework] = match a {
            FrameworkArg::Cis => &[Framework::Cis],
            FrameworkArg::Nsa => &[Framework::Nsa],
            FrameworkArg::PssBaseline => &[Framework::PssBaseline],
            FrameworkArg::PssRestricted => &[Framework::PssRestricted],
            FrameworkArg::Policies => &[Framework::Policies],
            FrameworkArg::All => &Framework::ALL,
        };
        for f in add {
            if !out.contains(f) {
                out.push(*f);
            }
        }
    }
    out.sort();
    out
}

/// A small YAML or JSON file (exceptions, settings) as JSON.
fn read_small(path: &Path) -> anyhow::Result<serde_json::Value> {
    let bytes = rampart_files::read_bounded(path, 8 << 20)
        .with_context(|| format!("reading {}", path.display()))?;
    let text =
        String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))?;
    let v: serde_json::Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?
    } else {
        serde_saphyr::from_str(&text).with_context(|| format!("{} is not YAML", path.display()))?
    };
    Ok(v)
}

/// Runs `rampart audit`.
pub fn audit(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let t0 = Instant::now();
    let options = LoadOptions {
        limits: ParseLimits {
            max_bytes: args.max_file_size,
            ..ParseLimits::default()
        },
    };
    let mut files = rampart_files::collect_files(&args.paths, &mut Vec::new());
    files.extend(rampart_files::collect_files(
        &args.policies,
        &mut Vec::new(),
    ));
    let (docs, errors) = load_raw(&args.paths, &options);
    let (policy_docs, policy_errors) = load_raw(&args.policies, &options);
    if files.is_empty() && errors.is_empty() {
        anyhow::bail!("no .yaml, .yml or .json files under {:?}", args.paths);
    }
    let mut objects = Vec::with_capacity(docs.len() + policy_docs.len());
    for d in docs.into_iter().chain(policy_docs.into_iter().filter(|d| {
        matches!(
            d.value.get("kind").and_then(|k| k.as_str()),
            Some("SecurityPolicy" | "ClusterSecurityPolicy")
        )
    })) {
        let file: Arc<str> = Arc::from(d.source.file.as_ref());
        if let Some(o) = Object::new(d.value, Some(file), d.source.line) {
            objects.push(o);
        }
    }
    let t_load = t0.elapsed();
    let settings = match &args.settings {
        Some(p) => {
            let v = read_small(p)?;
            let inputs = v.get("postureControlInputs").unwrap_or(&v);
            Settings::from_posture_inputs(inputs).with_context(|| p.display().to_string())?
        }
        None => Settings::default(),
    };
    let exceptions = match &args.exceptions {
        Some(p) => {
            Exceptions::from_value(read_small(p)?).with_context(|| p.display().to_string())?
        }
        None => Exceptions::default(),
    };
    let frameworks = frameworks(&args.framework);
    let inventory = Inventory::new(objects);
    let policies = rampart_audit::checks::policies::policy_set(&inventory).1;
    let n_objects = inventory.objects().len();
    let options = Options {
        frameworks: frameworks.clone(),
        settings,
        exceptions,
    };
    let t1 = Instant::now();
    let result = rampart_audit::audit(&inventory, &options);
    let t_audit = t1.elapsed();
    let policy_reports = (args.format == AuditFormat::PolicyReport).then(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        rampart_report::audit::policy_report::build(
            &result,
            now,
            rampart_report::audit::policy_report::DEFAULT_CAP,
        )
    });
    let all_errors: Vec<_> = errors.iter().chain(policy_errors.iter()).collect();
    let report = AuditReport::new(
        result,
        AuditInputs {
            files: files.len(),
            objects: n_objects,
            frameworks,
            policies,
            exceptions: options.exceptions.exceptions.len(),
            errors: all_errors.iter().map(|e| (*e).into()).collect(),
        },
    );
    let rendered = match args.format {
        AuditFormat::Table => table::render(&report),
        AuditFormat::Sarif => sarif::render(&report),
        AuditFormat::Junit => junit::render(&report),
        AuditFormat::Html => html::render(&report),
        AuditFormat::PolicyReport => {
            let items: Vec<serde_json::Value> = policy_reports
                .map(|r| r.by_namespace.into_values().collect())
                .unwrap_or_default();
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
            serde_json::to_string_pretty(&list).context("rendering the reports")? + "\n"
        }
        AuditFormat::Json => {
            let mut buf = Vec::new();
            report.write_json(&mut buf)?;
            String::from_utf8(buf).context("the report is UTF-8")?
        }
    };
    match &args.output {
        Some(p) => {
            std::fs::write(p, rendered).with_context(|| format!("writing {}", p.display()))?
        }
        None => std::io::stdout()
            .lock()
            .write_all(rendered.as_bytes())
            .context("writing the report")?,
    }
    if args.timings {
        eprintln!(
            "timings: load {t_load:?}, audit {t_audit:?} ({n_objects} objects, {} checks), total {:?} (peak RSS {})",
            report.summary.checks,
            t0.elapsed(),
            crate::scan::peak_rss()
        );
    }
    let failed = report.failed();
    // Freeing a large dump's objects one by one takes a tenth of a second the process's exit
    // does in no time.
    std::mem::forget(inventory);
    std::mem::forget(report);
    if !all_errors.is_empty() && !args.keep_going {
        eprintln!(
            "rampart: {} input error(s); the rest was audited (use --keep-going to exit 0/1)",
            all_errors.len()
        );
        return Ok(ExitCode::from(2));
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
