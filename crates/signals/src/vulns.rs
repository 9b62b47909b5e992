//! trivy-operator `VulnerabilityReport`s (aquasecurity.github.io/v1alpha1): which CVEs the
//! image of one container of one workload carries.
//!
//! Parsed leniently (the documented example omits fields the CRD marks required): only the
//! owner, the container, the image and each vulnerability's id, severity, score, title,
//! package and CVSS vector are kept, bounded.

use serde::Deserialize;
use serde_json::Value;

use crate::bounded::{MAX_NAME, MAX_TEXT, MAX_TOKEN, truncate};

/// Most vulnerabilities kept per report.
pub const MAX_VULNS: usize = 10_000;

/// Trivy's severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// `CRITICAL`.
    Critical,
    /// `HIGH`.
    High,
    /// `MEDIUM`.
    Medium,
    /// `LOW`.
    Low,
    /// Anything else.
    Unknown,
}

/// One vulnerability of an image.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Vuln {
    /// `vulnerabilityID`.
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// CVSS score, when given.
    pub score: Option<f64>,
    /// Title.
    pub title: String,
    /// Affected package (`resource`) and installed version.
    pub package: String,
    /// Whether it is remotely exploitable: a CVSS vector with `AV:N`, or a title that says
    /// remote code execution.
    pub remote: bool,
}

/// The vulnerabilities of one container's image.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImageVulns {
    /// Namespace of the scanned workload.
    pub namespace: String,
    /// Kind of the scanned resource (`ReplicaSet`, `Pod`, `StatefulSet`, …).
    pub owner_kind: String,
    /// Its name.
    pub owner_name: String,
    /// Container name.
    pub container: String,
    /// `registry/repository:tag`.
    pub image: String,
    /// Vulnerabilities.
    pub vulns: Vec<Vuln>,
}

/// A report that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VulnError {
    /// Not a VulnerabilityReport.
    #[error("not a VulnerabilityReport")]
    NotAReport,
    /// Missing the owner labels trivy-operator sets.
    #[error("VulnerabilityReport {0}: no trivy-operator.resource labels")]
    NoOwner(String),
    /// The wrong shape.
    #[error("malformed VulnerabilityReport: {0}")]
    Malformed(String),
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Raw {
    kind: String,
    metadata: RawMeta,
    report: RawReport,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawMeta {
    name: String,
    namespace: String,
    labels: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawReport {
    artifact: RawArtifact,
    registry: RawRegistry,
    vulnerabilities: Vec<RawVuln>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawArtifact {
    repository: String,
    tag: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawRegistry {
    server: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawVuln {
    #[serde(rename = "vulnerabilityID")]
    vulnerability_id: String,
    severity: String,
    score: Option<f64>,
    title: String,
    resource: String,
    installed_version: String,
    cvss: Value,
}

/// Reads one VulnerabilityReport object.
pub fn from_value(v: &Value) -> Result<ImageVulns, VulnError> {
    if v.get("kind").and_then(Value::as_str) != Some("VulnerabilityReport") {
        return Err(VulnError::NotAReport);
    }
    let raw: Raw = serde_json::from_value(v.clone())
        .map_err(|e| VulnError::Malformed(truncate(&e.to_string(), MAX_TOKEN)))?;
    debug_assert_eq!(raw.kind, "VulnerabilityReport");
    let label = |k: &str| raw.metadata.labels.get(k).cloned().unwrap_or_default();
    let (owner_kind, owner_name) = (
        label("trivy-operator.resource.kind"),
        label("trivy-operator.resource.name"),
    );
    if owner_kind.is_empty() || owner_name.is_empty() || owner_name.len() > MAX_NAME {
        return Err(VulnError::NoOwner(truncate(&raw.metadata.name, MAX_NAME)));
    }
    let namespace = Some(label("trivy-operator.resource.namespace"))
        .filter(|n| !n.is_empty())
        .unwrap_or(raw.metadata.namespace);
    let a = &raw.report.artifact;
    let mut image = String::new();
    if !raw.report.registry.server.is_empty() && raw.report.registry.server != "index.docker.io" {
        image.push_str(&raw.report.registry.server);
        image.push('/');
    }
    image.push_str(&a.repository);
    if !a.tag.is_empty() {
        image.push(':');
        image.push_str(&a.tag);
    }
    let vulns = raw
        .report
        .vulnerabilities
        .into_iter()
        .take(MAX_VULNS)
        .filter(|x| !x.vulnerability_id.is_empty())
        .map(|x| {
            let vector_remote = x.cvss.as_object().is_some_and(|sources| {
                sources.values().any(|s| {
                    ["V3Vector", "V40Vector", "V2Vector"].iter().any(|k| {
                        s.get(k)
                            .and_then(Value::as_str)
                            .is_some_and(|v| v.contains("AV:N"))
                    })
                })
            });
            let t = x.title.to_ascii_lowercase();
            Vuln {
                id: truncate(&x.vulnerability_id, MAX_TOKEN),
                severity: match x.severity.to_ascii_uppercase().as_str() {
                    "CRITICAL" => Severity::Critical,
                    "HIGH" => Severity::High,
                    "MEDIUM" => Severity::Medium,
                    "LOW" => Severity::Low,
                    _ => Severity::Unknown,
                },
                score: x.score.filter(|s| s.is_finite()),
                remote: vector_remote || t.contains("remote code execution") || t.contains(" rce"),
                title: truncate(&x.title, MAX_TEXT),
                package: truncate(
                    &format!("{} {}", x.resource, x.installed_version),
                    MAX_TOKEN,
                ),
            }
        })
        .collect();
    Ok(ImageVulns {
        namespace: truncate(&namespace, MAX_NAME),
        owner_kind: truncate(&owner_kind, MAX_TOKEN),
        owner_name,
        container: truncate(&label("trivy-operator.container.name"), MAX_NAME),
        image: truncate(&image, MAX_TEXT),
        vulns,
    })
}

/// Reads every VulnerabilityReport in a file (YAML documents, JSON, `List`s); other objects
/// are skipped, unreadable reports reported.
pub fn parse_file(file: &str, text: &str) -> (Vec<ImageVulns>, Vec<String>) {
    let (docs, errors) =
        rampart_model::raw_documents(file, text, &rampart_model::ParseLimits::default());
    let mut out = Vec::new();
    let mut errs: Vec<String> = errors.iter().map(ToString::to_string).collect();
    for d in docs {
        match from_value(&d.value) {
            Ok(r) => out.push(r),
            Err(VulnError::NotAReport) => {}
            Err(e) => errs.push(format!("{file}: {e}")),
        }
    }
    (out, errs)
}
