//! Vulnerability intel from files: trivy-operator VulnerabilityReports and the CISA KEV
//! catalogue, for `scan` (the engine reads its KEV catalogue itself: `rampart_engine`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use rampart_signals::kev::Kev;
use rampart_signals::vulns::{ImageVulns, VulnError, from_value};

/// Reports and catalogue, with what could not be read.
#[derive(Debug, Default)]
pub struct Intel {
    /// Vulnerabilities per container image.
    pub reports: Vec<ImageVulns>,
    /// Known exploited vulnerabilities.
    pub kev: Kev,
    /// Unreadable reports.
    pub warnings: Vec<String>,
}

/// Reads the reports under `vulns` and the catalogue at `kev`. An unreadable catalogue is an
/// error (the operator asked for it); an unreadable report is a warning.
pub fn load(vulns: &[PathBuf], kev: Option<&Path>) -> anyhow::Result<Intel> {
    let mut intel = Intel::default();
    if let Some(k) = kev {
        // Bounded: the path is a flag or an environment variable, and a FIFO or `/dev/zero`
        // there must fail, not hang or exhaust memory.
        let bytes = rampart_files::read_bounded(k, rampart_signals::kev::MAX_BYTES as u64)
            .with_context(|| format!("reading {}", k.display()))?;
        intel.kev = Kev::parse(&bytes).with_context(|| format!("{}", k.display()))?;
    }
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
