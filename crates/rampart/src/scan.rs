//! `rampart scan` and `rampart connectivity`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use rampart_files::{LoadOptions, load_paths};
use rampart_graph::{Options, ProveOptions, analyze, cut::apply_plan};
use rampart_model::ParseLimits;
use rampart_model::Snapshot;
use rampart_report::{InputSummary, Safe, ScanReport, display_safe, sarif, table};

/// Output formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Human-readable table.
    Table,
    /// The `rampart.dev/scan/v1` JSON contract.
    Json,
    /// SARIF 2.1.0 for code scanning.
    Sarif,
}

/// Arguments of `rampart scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories (read recursively) of YAML / JSON manifests or cluster dumps.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table, env = "RAMPART_SCAN_FORMAT")]
    pub format: Format,
    /// Re-prove with every proposed cut applied (what-if) and report what remains; the exit
    /// code then reflects the chains that remain.
    #[arg(long)]
    pub apply_cuts: bool,
    /// Scan what could be read even when some input is invalid (exit code 0/1, not 2).
    #[arg(long)]
    pub keep_going: bool,
    /// Chains listed per entry, shortest first (0: all). The cut always covers every chain.
    #[arg(long, default_value_t = 20, env = "RAMPART_SCAN_MAX_CHAINS_PER_ENTRY")]
    pub max_chains_per_entry: usize,
    /// Objectives beyond secrets, nodes, cluster-admin and crown jewels that chains are proved
    /// to (MITRE ATT&CK tactics): `all`, `none`, or a comma-separated list of impact,
    /// exfiltration, collection, persistence.
    #[arg(long, default_value = "all", env = "RAMPART_SCAN_OBJECTIVES")]
    pub objectives: rampart_graph::Objectives,
    /// Largest input file accepted, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub max_file_size: usize,
    /// Print phase timings to stderr.
    #[arg(long)]
    pub timings: bool,
    /// Vulnerability intel: footholds at the entries.
    #[command(flatten)]
    pub intel: crate::intel::IntelArgs,
    /// A model that judges each chain (captions; `judged` confidence).
    #[command(flatten)]
    pub model: crate::model::ModelArgs,
}

/// Arguments of `rampart connectivity`.
#[derive(Debug, Args)]
pub struct ConnectivityArgs {
    /// Files or directories of manifests.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

fn load(paths: &[PathBuf], max_file_size: usize) -> rampart_files::Loaded {
    let options = LoadOptions {
        limits: ParseLimits {
            max_bytes: max_file_size,
            ..ParseLimits::default()
        },
    };
    load_paths(paths, &options)
}

/// The inputs a scan reads, proved: what `scan` and `judge` share.
pub(crate) struct Proved {
    pub loaded: rampart_files::Loaded,
    pub analysis: rampart_graph::Analysis,
    pub options: Options,
    pub report: ScanReport,
    pub t_load: std::time::Duration,
    pub rss_load: String,
    pub t_analyze: std::time::Duration,
}

/// Loads `paths`, proves them, and builds the report with the footholds `intel` gives.
pub(crate) fn prove(
    paths: &[PathBuf],
    max_file_size: usize,
    options: Options,
    intel: &crate::intel::IntelArgs,
) -> anyhow::Result<Proved> {
    let t0 = Instant::now();
    let loaded = load(paths, max_file_size);
    let t_load = t0.elapsed();
    let rss_load = peak_rss();
    if loaded.files.is_empty() && loaded.errors.is_empty() {
        anyhow::bail!("no .yaml, .yml or .json files under {:?}", paths);
    }
    for e in &loaded.errors {
        tracing::debug!(file = %e.location.file, document = e.location.doc, line = e.location.line, "{}", e.message);
    }
    if let Some(w) = invalid_names_warning(&loaded.snapshot) {
        eprintln!("{w}");
    }
    let t1 = Instant::now();
    let mut analysis = analyze(&loaded.snapshot, &options);
    // What a patch would start from (the flow, the verification model, what each cut broke):
    // a scan patches nothing.
    analysis.plan.state = None;
    let t_analyze = t1.elapsed();
    let mut inputs = InputSummary {
        files: loaded.files.len(),
        objects: loaded.objects,
        ignored_kinds: loaded.ignored.clone(),
        errors: loaded.errors.iter().map(Into::into).collect(),
        warnings: Vec::new(),
    };
    for d in loaded.snapshot.duplicates() {
        inputs.warnings.push(format!(
            "{} is defined twice ({} and {}); the later one is used",
            d.key, d.first, d.second
        ));
    }
    let intel = crate::intel::load(intel)?;
    for w in &intel.warnings {
        inputs.warnings.push(w.clone());
    }
    let mut report = ScanReport::new(&analysis, inputs);
    report.with_footholds(&rampart_signals::foothold::footholds(
        &analysis,
        &loaded.snapshot,
        &intel.reports,
        &intel.exploit,
    ));
    Ok(Proved {
        loaded,
        analysis,
        options,
        report,
        t_load,
        rss_load,
        t_analyze,
    })
}

/// Runs `rampart scan`.
pub fn scan(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let t0 = Instant::now();
    let Proved {
        loaded,
        analysis,
        options,
        mut report,
        t_load,
        rss_load,
        t_analyze,
    } = prove(
        &args.paths,
        args.max_file_size,
        Options {
            prove: ProveOptions {
                max_chains_per_entry: args.max_chains_per_entry,
            },
            objectives: args.objectives,
        },
        &args.intel,
    )?;
    if let Some(model) = args.model.settings()? {
        let verdicts = crate::model::judge_offline(&model, &report.chains)?;
        report.judge(&verdicts, model.threshold);
    }
    let mut remaining = analysis.proof.chains.len();
    if args.apply_cuts {
        let after_snapshot = apply_plan(&loaded.snapshot, &analysis.plan);
        let after = analyze(&after_snapshot, &options);
        remaining = after.proof.chains.len();
        let applied = analysis
            .plan
            .cuts
            .iter()
            .flat_map(|c| c.fixes.iter().map(|f| f.describe()))
            .collect();
        report = report.with_what_if(applied, &after);
    }
    let t2 = Instant::now();
    match args.format {
        Format::Table => write_stdout(&table::render(&report)),
        Format::Json => stream_stdout(|out| report.write_json(out)),
        Format::Sarif => write_stdout(&sarif::render(&report)),
    }
    .context("writing the report")?;
    if args.timings {
        eprintln!(
            "timings: load {:?} (peak RSS {}), analyze {:?} ({} vertices, {} edges, {} classes), render {:?}, total {:?} (peak RSS {})",
            t_load,
            rss_load,
            t_analyze,
            analysis.graph.graph.node_count(),
            analysis.graph.graph.edge_count(),
            analysis.graph.net.classes.len(),
            t2.elapsed(),
            t0.elapsed(),
            peak_rss()
        );
    }
    if !loaded.errors.is_empty() && !args.keep_going {
        eprintln!(
            "rampart: {} input error(s); the rest was scanned (use --keep-going to exit 0/1)",
            loaded.errors.len()
        );
        return Ok(ExitCode::from(2));
    }
    Ok(if remaining > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs `rampart connectivity`.
pub fn connectivity(args: &ConnectivityArgs) -> anyhow::Result<ExitCode> {
    let loaded = load(&args.paths, 1 << 30);
    for e in &loaded.errors {
        eprintln!("rampart: warning: {}", Safe(e));
    }
    if let Some(w) = invalid_names_warning(&loaded.snapshot) {
        eprintln!("{w}");
    }
    let mut out = std::io::stdout().lock();
    for c in rampart_graph::connectivity::connectivity(&loaded.snapshot) {
        // Workload names are the input's: escaped like every human format.
        writeln!(out, "{}", Safe(&c)).context("writing")?;
    }
    Ok(if loaded.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// One warning line about objects whose name or namespace the API server would have rejected
/// (`<script>`, `Web_App`, control characters): manifests and dumps were never validated, and
/// such names end up in reports and in the names of generated policies. `None` when all are
/// valid.
fn invalid_names_warning(snapshot: &Snapshot) -> Option<String> {
    let mut invalid = snapshot.iter().filter(|o| {
        let (kind, meta) = (o.object.kind().as_str(), o.object.meta());
        !rampart_model::names::is_valid_name(kind, &meta.name)
            || !rampart_model::names::is_valid_name("Namespace", &meta.namespace)
    });
    let first = invalid.next()?;
    let count = 1 + invalid.count();
    let meta = first.object.meta();
    let mut example = if meta.namespace.is_empty() {
        format!("{}/{}", first.object.kind(), meta.name)
    } else {
        format!("{}/{}/{}", first.object.kind(), meta.namespace, meta.name)
    };
    // A name can be long: the example is for recognising it, not reading it whole.
    if let Some((cut, _)) = example.char_indices().nth(120) {
        example.truncate(cut);
        example.push('…');
    }
    Some(format!(
        "rampart: warning: {count} object(s) have names that are not valid Kubernetes names (e.g. {}, {})",
        display_safe(&example),
        Safe(&first.source)
    ))
}

/// Peak resident set size so far, as Linux reports it (`VmHWM`), for `--timings`.
pub(crate) fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Streams a report to stdout through a buffer, as [`write_stdout`] treats errors.
fn stream_stdout(
    write: impl FnOnce(&mut std::io::BufWriter<std::io::StdoutLock<'static>>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// Writes the report to stdout. A reader that went away (`rampart scan … | head`) is not an
/// error: the exit code still tells the result.
pub(crate) fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let r = stdout
        .write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                stdout.write_all(b"\n")
            }
        })
        .and_then(|()| stdout.flush());
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use rampart_model::{ParseLimits, Snapshot, parse_source};

    use super::invalid_names_warning;

    fn snapshot(yaml: &str) -> Snapshot {
        let p = parse_source("in.yaml", yaml, &ParseLimits::default());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        Snapshot::from_objects(p.objects)
    }

    #[test]
    fn valid_names_give_no_warning() {
        let s = snapshot(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web.v2, namespace: app}\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n\
             metadata: {name: \"system:controller:x\"}\n",
        );
        assert_eq!(invalid_names_warning(&s), None);
    }

    #[test]
    fn invalid_names_are_counted_and_one_is_shown_escaped() {
        let s = snapshot(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: \"x\\e]0;owned\\a\", namespace: app}\n---\n\
             apiVersion: v1\nkind: Service\nmetadata: {name: web.v2, namespace: app}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {name: ok, namespace: Bad_NS}\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {name: fine, namespace: app}\n",
        );
        let w = invalid_names_warning(&s).unwrap_or_default();
        assert!(
            w.starts_with("rampart: warning: 3 object(s) have names that are not valid"),
            "{w}"
        );
        assert!(!w.chars().any(rampart_report::is_unsafe_char), "{w:?}");
        assert!(w.contains("in.yaml:"), "{w}");
    }
}
