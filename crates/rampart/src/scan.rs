//! `rampart scan` and `rampart connectivity`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use rampart_graph::{Options, ProveOptions, analyze, cut::apply_plan};
use rampart_load::{LoadOptions, load_paths};
use rampart_model::ParseLimits;
use rampart_report::{InputSummary, ScanReport, sarif, table};

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
    /// Largest input file accepted, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub max_file_size: usize,
    /// Print phase timings to stderr.
    #[arg(long)]
    pub timings: bool,
    /// trivy-operator VulnerabilityReports (files or directories, YAML or JSON): exposed
    /// workloads whose images carry a KEV or a critical remote CVE get a foothold.
    #[arg(long, env = "RAMPART_SCAN_VULNS")]
    pub vulns: Vec<PathBuf>,
    /// CISA KEV catalogue (its JSON feed, or one CVE id per line).
    #[arg(long, env = "RAMPART_KEV_FILE")]
    pub kev_file: Option<PathBuf>,
}

/// Arguments of `rampart connectivity`.
#[derive(Debug, Args)]
pub struct ConnectivityArgs {
    /// Files or directories of manifests.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

fn load(paths: &[PathBuf], max_file_size: usize) -> rampart_load::Loaded {
    let options = LoadOptions {
        limits: ParseLimits {
            max_bytes: max_file_size,
            ..ParseLimits::default()
        },
    };
    load_paths(paths, &options)
}

/// Runs `rampart scan`.
pub fn scan(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let t0 = Instant::now();
    let loaded = load(&args.paths, args.max_file_size);
    let t_load = t0.elapsed();
    let rss_load = peak_rss();
    if loaded.files.is_empty() && loaded.errors.is_empty() {
        anyhow::bail!("no .yaml, .yml or .json files under {:?}", args.paths);
    }
    for e in &loaded.errors {
        tracing::debug!(file = %e.location.file, document = e.location.doc, line = e.location.line, "{}", e.message);
    }
    let options = Options {
        prove: ProveOptions {
            max_chains_per_entry: args.max_chains_per_entry,
        },
    };
    let t1 = Instant::now();
    let analysis = analyze(&loaded.snapshot, &options);
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
    let intel = crate::intel::load(&args.vulns, args.kev_file.as_deref())?;
    for w in &intel.warnings {
        inputs.warnings.push(w.clone());
    }
    let mut report = ScanReport::new(&analysis, inputs);
    report.with_footholds(&rampart_signals::foothold::footholds(
        &analysis,
        &loaded.snapshot,
        &intel.reports,
        &intel.kev,
    ));
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
    let text = match args.format {
        Format::Table => table::render(&report),
        Format::Json => report.to_json(),
        Format::Sarif => sarif::render(&report),
    };
    write_stdout(&text).context("writing the report")?;
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
        eprintln!("rampart: warning: {e}");
    }
    let mut out = std::io::stdout().lock();
    for c in rampart_graph::connectivity::connectivity(&loaded.snapshot) {
        writeln!(out, "{c}").context("writing")?;
    }
    Ok(if loaded.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Peak resident set size so far, as Linux reports it (`VmHWM`), for `--timings`.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
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
