//! `rampart guard` (the gate: a learning reverse proxy in front of one service),
//! `rampart guard replay` (learn from and judge recorded traffic, offline, with the gate's code)
//! and `rampart guard explain` (a Guardian's criteria in words).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use rampart_api::{GuardControl, Guardian, GuardianSpec};
use rampart_guard::{Judge, har, replay};
use rampart_report::Safe;

/// `rampart guard …`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GuardArgs {
    #[command(subcommand)]
    pub command: Option<GuardCommand>,
    #[command(flatten)]
    pub gate: crate::gate::GateArgs,
}

#[derive(Debug, Subcommand)]
pub enum GuardCommand {
    /// Learn criteria from recorded requests (HAR 1.2) and judge others with the gate's code.
    /// Exit 0 when every judged request passes, 1 when any alerts, 2 on input errors.
    Replay(ReplayArgs),
    /// A Guardian's criteria in words, route by route (what an operator reviews before
    /// switching a gate to block). Exit 0, or 2 on input errors.
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The Guardian (YAML or JSON; a whole object or its spec).
    pub guardian: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReplayFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Benign recorded traffic to learn from (HAR 1.2).
    #[arg(long)]
    pub learn: Option<PathBuf>,
    /// Recorded traffic to judge (HAR 1.2).
    #[arg(long)]
    pub judge: Option<PathBuf>,
    /// Start from this Guardian (YAML or JSON; its configured and learned criteria and its
    /// control); what `--learn` learns replaces its learned criteria.
    #[arg(long)]
    pub guardian: Option<PathBuf>,
    /// Write the resulting Guardian here (YAML).
    #[arg(long)]
    pub write_guardian: Option<PathBuf>,
    /// The Guardian's name when one is written.
    #[arg(long, default_value = "service")]
    pub name: String,
    /// Support threshold: sessions (overrides the Guardian's control).
    #[arg(long)]
    pub min_sessions: Option<u32>,
    /// Support threshold: distinct clients (overrides the Guardian's control). Entries name
    /// their client with `_clientAddress` or `X-Forwarded-For`.
    #[arg(long)]
    pub min_clients: Option<u32>,
    /// Bytes of each body inspected.
    #[arg(long, default_value_t = 1 << 20)]
    pub body_cap: usize,
    /// `table`: each alert on one line, then a summary; `json`: every judged request
    /// (`rampart.dev/guard-replay/v1`).
    #[arg(long, short = 'f', value_enum, default_value_t = ReplayFormat::Table)]
    pub format: ReplayFormat,
}

/// Recorded traffic files larger than this are refused.
const MAX_HAR: u64 = 512 << 20;

fn read_har(path: &Path, cap: usize) -> anyhow::Result<Vec<har::Recorded>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if size > MAX_HAR {
        bail!(
            "{}: {size} bytes; at most {MAX_HAR} are read",
            path.display()
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    har::read(&bytes, cap).with_context(|| format!("{}", path.display()))
}

/// Reads a Guardian: a whole object (`kind: Guardian`) or just its spec.
pub fn read_guardian(path: &Path) -> anyhow::Result<Guardian> {
    let text = rampart_files::read_text_bounded(path, MAX_GUARDIAN)
        .with_context(|| format!("reading {}", path.display()))?;
    let value: serde_json::Value = serde_saphyr::from_str(&text)
        .with_context(|| format!("{}: not YAML or JSON", path.display()))?;
    if value.pointer("/spec/learned").is_some() || value.get("learned").is_some() {
        bail!(
            "{}: learned criteria are kept in the Guardian's status (`status.learned`, written by the learner), not in its spec; move them there",
            path.display()
        );
    }
    if value.get("kind").is_some() {
        let g: Guardian = serde_json::from_value(value)
            .with_context(|| format!("{}: not a Guardian", path.display()))?;
        Ok(g)
    } else {
        let spec: GuardianSpec = serde_json::from_value(value)
            .with_context(|| format!("{}: not a Guardian spec", path.display()))?;
        Ok(Guardian::new("service", spec))
    }
}

/// Guardian files larger than this are refused (a learned Guardian of 256 routes is well
/// under a megabyte; the API server's own object limit is 1.5 MiB).
const MAX_GUARDIAN: u64 = 16 << 20;

/// Writes a Guardian as YAML.
pub fn write_guardian(path: &Path, g: &Guardian) -> anyhow::Result<()> {
    let text = serde_saphyr::to_string(g).context("serializing the Guardian")?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

pub fn run(args: &GuardArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        Some(GuardCommand::Replay(r)) => replay_cmd(r),
        Some(GuardCommand::Explain(e)) => explain_cmd(e),
        None => crate::gate::run(&args.gate),
    }
}

fn explain_cmd(a: &ExplainArgs) -> anyhow::Result<ExitCode> {
    use std::fmt::Write as _;
    let g = read_guardian(&a.guardian)?;
    let c = g.spec.control();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Guardian {}: mode {}, {} (a shape is normal after {} sessions from {} clients)",
        Safe(g.metadata.name.as_deref().unwrap_or("?")),
        c.mode.as_str(),
        if c.learn { "learning" } else { "not learning" },
        c.min_sessions,
        c.min_clients
    );
    for (title, criteria) in [
        ("configured (by hand)", g.spec.configured.as_ref()),
        ("learned", g.learned()),
    ] {
        let Some(criteria) = criteria else {
            let _ = writeln!(out, "\n{title}: none");
            continue;
        };
        let n = criteria.routes.len();
        let _ = writeln!(out, "\n{title}: {n} route{}", if n == 1 { "" } else { "s" });
        for line in rampart_guard::words::criteria(criteria) {
            let _ = writeln!(out, "{}", Safe(&line));
        }
    }
    if g.samples() > 0 {
        let _ = writeln!(out, "\nlearned from {} requests", g.samples());
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn replay_cmd(a: &ReplayArgs) -> anyhow::Result<ExitCode> {
    if a.learn.is_none() && a.guardian.is_none() {
        bail!("nothing to judge with: give --learn FILE.har, --guardian FILE, or both");
    }
    let mut guardian = match &a.guardian {
        Some(p) => read_guardian(p)?,
        None => Guardian::new(&a.name, GuardianSpec::default()),
    };
    let control: &mut GuardControl = guardian.spec.control_mut();
    if let Some(s) = a.min_sessions {
        control.min_sessions = s;
    }
    if let Some(c) = a.min_clients {
        control.min_clients = c;
    }
    let mut learned_summary = None;
    if let Some(path) = &a.learn {
        let records = read_har(path, a.body_cap)?;
        let (criteria, learned) = replay::learn(&records, &guardian.spec.control());
        if learned.routes == 0 && !records.is_empty() {
            let c = guardian.spec.control();
            eprintln!(
                "rampart: warning: nothing learned from {} requests: a shape needs {} sessions from {} clients and the busiest route had {} distinct client(s) (entries name their client with _clientAddress or X-Forwarded-For; see --min-clients)",
                records.len(),
                c.min_sessions,
                c.min_clients,
                learned.clients
            );
        }
        guardian.set_learned(criteria, learned.samples, Some(now_rfc3339()));
        learned_summary = Some(learned);
    }
    if let Some(path) = &a.write_guardian {
        write_guardian(path, &guardian)?;
    }
    let judge = Judge::new(guardian.learned(), guardian.spec.configured.as_ref());
    let results: Vec<replay::Judged> = match &a.judge {
        Some(path) => read_har(path, a.body_cap)?
            .iter()
            .enumerate()
            .map(|(i, r)| replay::judge(&judge, i, r))
            .collect(),
        None => Vec::new(),
    };
    let alerts = results.iter().filter(|r| r.decision != "pass").count();
    let mut out = String::new();
    match a.format {
        ReplayFormat::Json => {
            let learned = learned_summary.map_or_else(
                || serde_json::json!({"routes": guardian.learned().map_or(0, |c| c.routes.len()), "samples": guardian.samples()}),
                |l| serde_json::json!({"routes": l.routes, "samples": l.samples}),
            );
            let doc = serde_json::json!({
                "schema": "rampart.dev/guard-replay/v1",
                "learned": learned,
                "results": results,
            });
            out = serde_json::to_string_pretty(&doc)?;
            out.push('\n');
        }
        ReplayFormat::Table => {
            if let Some(l) = &learned_summary {
                out.push_str(&format!(
                    "learned {} routes from {} requests\n",
                    l.routes, l.samples
                ));
            }
            // The alerts, one line each (the passes are in `--format json`), then a summary.
            for r in results.iter().filter(|r| r.decision != "pass") {
                let reasons: Vec<String> = r
                    .reasons
                    .iter()
                    .map(|x| format!("{}: {}", x.location, x.reason))
                    .collect();
                let url: String = r.url.chars().take(70).collect();
                out.push_str(&format!(
                    "{:>5}  {:<5}  {:<6} {}  {}\n",
                    r.index,
                    r.decision,
                    Safe(&r.method),
                    Safe(&url),
                    Safe(&reasons.join("; "))
                ));
            }
            if !results.is_empty() {
                out.push_str(&format!(
                    "{} judged, {} alert, {} pass\n",
                    results.len(),
                    alerts,
                    results.len() - alerts
                ));
            }
        }
    }
    crate::scan::write_stdout(&out).context("writing the results")?;
    Ok(if alerts > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Now, as the Guardian's status records it (RFC 3339, seconds).
pub(crate) fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}
