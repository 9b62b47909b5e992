//! Vulnerability intel from files: trivy-operator VulnerabilityReports, the CISA KEV catalogue
//! and FIRST's EPSS scores, for `scan` and `judge` (the engine reads its own: `rampart_engine`).

use std::path::PathBuf;

use anyhow::Context;
use rampart_signals::epss::Epss;
use rampart_signals::foothold::ExploitIntel;
use rampart_signals::kev::Kev;
use rampart_signals::vulns::{ImageVulns, VulnError, from_value};

/// Reports and catalogue, with what could not be read.
#[derive(Debug, Default)]
pub struct Intel {
    /// Vulnerabilities per container image.
    pub reports: Vec<ImageVulns>,
    /// Known exploited vulnerabilities, EPSS scores and the threshold.
    pub exploit: ExploitIntel,
    /// Unreadable reports.
    pub warnings: Vec<String>,
}

/// Reads the reports, the KEV catalogue and the EPSS feed `args` name. An unreadable catalogue is an
/// error (the operator asked for it); an unreadable report is a warning.
pub fn load(args: &IntelArgs) -> anyhow::Result<Intel> {
    let (vulns, epss) = (&args.vulns, &args.epss);
    let mut intel = Intel::default();
    if let Some(k) = &args.kev_file {
        // Bounded: the path is a flag or an environment variable, and a FIFO or `/dev/zero`
        // there must fail, not hang or exhaust memory.
        let bytes = rampart_files::read_bounded(k, rampart_signals::kev::MAX_BYTES as u64)
            .with_context(|| format!("reading {}", k.display()))?;
        intel.exploit.kev = Kev::parse(&bytes).with_context(|| format!("{}", k.display()))?;
    }
    if let Some(m) = epss.epss_min {
        anyhow::ensure!((0.0..=1.0).contains(&m), "--epss-min {m} is outside 0..1");
        anyhow::ensure!(epss.epss_file.is_some(), "--epss-min needs --epss-file");
    }
    if let Some(f) = &epss.epss_file {
        let bytes = rampart_files::read_bounded(f, rampart_signals::epss::MAX_BYTES as u64)
            .with_context(|| format!("reading {}", f.display()))?;
        intel.exploit.epss = Epss::parse(&bytes).with_context(|| format!("{}", f.display()))?;
    }
    intel.exploit.epss_min = epss.epss_min;
    if !vulns.is_empty() {
        let (docs, errors) = rampart_files::load_raw(vulns, &rampart_files::LoadOptions::default());
        intel
            .warnings
            .extend(errors.iter().map(ToString::to_string));
        for d in docs {
            match from_value(&d.value) {
                Ok(r) => intel.reports.push(r),
                Err(VulnError::NotAReport) => {}
                Err(e) => intel.warnings.push(format!("{}: {e}", d.source)),
            }
        }
    }
    Ok(intel)
}

/// FIRST's EPSS scores (`scan`, `judge`, `engine`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EpssArgs {
    /// FIRST's EPSS feed (`epss_scores-YYYY-MM-DD.csv`, plain or `.gz`): each foothold CVE's
    /// probability of exploitation in the next 30 days, shown as evidence and told to the model.
    #[arg(long, env = "RAMPART_EPSS_FILE")]
    pub epss_file: Option<PathBuf>,
    /// EPSS probability (0..1) from which a CVE at an internet-facing entry is a foothold the
    /// way a KEV entry is (default: scores are shown, never decisive).
    #[arg(long, env = "RAMPART_EPSS_MIN")]
    pub epss_min: Option<f64>,
}

/// The vulnerability intel a scan reads (`scan`, `judge`, `mcp`): reports, KEV, EPSS.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct IntelArgs {
    /// trivy-operator VulnerabilityReports (files or directories, YAML or JSON): exposed
    /// workloads whose images carry a KEV or a critical remote CVE get a foothold.
    #[arg(long, env = "RAMPART_SCAN_VULNS")]
    pub vulns: Vec<PathBuf>,
    /// CISA KEV catalogue (its JSON feed, or one CVE id per line).
    #[arg(long, env = "RAMPART_KEV_FILE")]
    pub kev_file: Option<PathBuf>,
    /// EPSS scores.
    #[command(flatten)]
    pub epss: EpssArgs,
}
