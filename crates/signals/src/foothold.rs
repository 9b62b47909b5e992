//! Footholds: an internet-exposed workload whose image carries a CISA-KEV vulnerability, a
//! critical remotely exploitable one, or — with `--epss-min` — one FIRST's EPSS scores likely to
//! be exploited. Attached to the chains that enter through it, with the
//! CVEs and why. A KEV entry marks it *known exploited* (in the wild); CVE presence alone is
//! reported and proposed, never acted on — acting needs runtime corroboration or, with the
//! `judgement` class, the model's affirmative call on the chain.

use std::borrow::Borrow;
use std::collections::BTreeMap;

use rampart_graph::Analysis;
use rampart_graph::model::Vertex;
use rampart_model::{Kind, Snapshot, Workload};

use crate::epss::Epss;
use crate::kev::Kev;
use crate::vulns::{ImageVulns, Severity};

/// One exploitable vulnerability at a chain's entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Exploit {
    /// CVE id.
    pub cve: String,
    /// Severity.
    pub severity: Severity,
    /// Whether CISA lists it as known exploited.
    pub kev: bool,
    /// Its EPSS score, when an EPSS feed was given and scores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epss: Option<crate::epss::Score>,
    /// Package and version.
    pub package: String,
    /// Image.
    pub image: String,
    /// Container.
    pub container: String,
    /// Why it is a foothold, in words.
    pub why: String,
}

/// The foothold at a chain's entry workload.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Foothold {
    /// `namespace/name[Kind]`.
    pub workload: String,
    /// The vulnerabilities that make it one.
    pub exploits: Vec<Exploit>,
    /// Whether a CISA KEV entry backs it (known exploited in the wild).
    pub known_exploited: bool,
}

/// The top controller of `(kind, namespace, name)`, following controller ownerReferences in
/// the snapshot (bounded: ownership cycles are not followed forever).
fn top_owner(s: &Snapshot, kind: &str, ns: &str, name: &str) -> (String, String) {
    let (mut kind, mut name) = (kind.to_string(), name.to_string());
    for _ in 0..8 {
        let k = match kind.as_str() {
            "Pod" => Kind::Pod,
            "ReplicaSet" => Kind::ReplicaSet,
            "Job" => Kind::Job,
            "Deployment" => Kind::Deployment,
            "StatefulSet" => Kind::StatefulSet,
            "DaemonSet" => Kind::DaemonSet,
            "CronJob" => Kind::CronJob,
            "ReplicationController" => Kind::ReplicationController,
            _ => break,
        };
        let Some(o) = s.get(k, ns, &name) else { break };
        let Some(owner) = o
            .object
            .meta()
            .owner_references
            .iter()
            .find(|r| r.controller == Some(true))
        else {
            break;
        };
        kind.clone_from(&owner.kind);
        name.clone_from(&owner.name);
    }
    (kind, name)
}

/// An image reference in one spelling: Docker Hub's implied registry and `library/` made
/// explicit, `:latest` when there is neither tag nor digest.
fn normalize_image(image: &str) -> String {
    let mut s = image.trim().to_string();
    for hub in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
        if let Some(rest) = s.strip_prefix(hub) {
            s = rest.to_string();
        }
    }
    let (name, rest) = match s.find(['@', ':']) {
        // A ':' before the last '/' is a registry port, not a tag.
        Some(i) if !s[i..].contains('/') => (s[..i].to_string(), s[i..].to_string()),
        _ => (s.clone(), String::new()),
    };
    let name = if name.contains('/') {
        name
    } else {
        format!("library/{name}")
    };
    let rest = if rest.is_empty() {
        ":latest".to_string()
    } else {
        rest
    };
    format!("{name}{rest}")
}

/// Whether the report scanned an image the workload runs now (reports of old ReplicaSets
/// linger; their CVEs are not the running image's).
fn runs_image(w: &Workload, r: &ImageVulns) -> bool {
    let want = normalize_image(&r.image);
    let digest = want.split_once('@').map(|(_, d)| d.to_string());
    w.template
        .spec
        .all_containers()
        .filter(|c| r.container.is_empty() || c.name == r.container)
        .any(|c| {
            let have = normalize_image(&c.image);
            have == want || digest.as_deref().is_some_and(|d| have.ends_with(d))
        })
}

fn matches(s: &Snapshot, w: &Workload, r: &ImageVulns) -> bool {
    if r.namespace != w.namespace || !runs_image(w, r) {
        return false;
    }
    let (kind, name) = top_owner(s, &r.owner_kind, &r.namespace, &r.owner_name);
    if kind == w.kind.as_str() && name == w.name {
        return true;
    }
    let has_container = w
        .template
        .spec
        .containers
        .iter()
        .any(|c| c.name == r.container);
    // Manifests without the ReplicaSet (a GitOps checkout): trivy-operator names it
    // `<deployment>-<pod-template-hash>`.
    if kind == "ReplicaSet"
        && w.kind.as_str() == "Deployment"
        && has_container
        && name.rsplit_once('-').is_some_and(|(d, _)| d == w.name)
    {
        return true;
    }
    // Reports of pods the model groups differently: the same container running the same image.
    w.pod_names.contains(&r.owner_name) && has_container
}

/// What makes a CVE at an internet-facing entry a foothold, besides being critical and
/// remotely exploitable.
#[derive(Debug, Clone, Default)]
pub struct ExploitIntel {
    /// CISA's Known Exploited Vulnerabilities.
    pub kev: Kev,
    /// FIRST's EPSS scores (empty: none given); shown on every foothold's CVE it scores.
    pub epss: Epss,
    /// EPSS probability from which a CVE is a foothold the way a KEV entry is (`--epss-min`;
    /// `None`: scores are shown, never decisive).
    pub epss_min: Option<f64>,
}

/// Footholds by chain id.
/// `reports` may be owned or borrowed (the engine joins file and live reports without copying).
pub fn footholds<R: std::borrow::Borrow<ImageVulns>>(
    a: &Analysis,
    snapshot: &Snapshot,
    reports: &[R],
    intel: &ExploitIntel,
) -> BTreeMap<String, Foothold> {
    let g = &a.graph;
    let mut by_workload: BTreeMap<usize, Option<Foothold>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    if reports.is_empty() {
        return out;
    }
    for c in &a.proof.chains {
        // The entry workload: the first workload the chain reaches.
        let Some(w) = c.edges.iter().find_map(|e| {
            let (_, to) = g.graph.edge_endpoints(*e)?;
            match g.graph[to] {
                Vertex::Workload(w) => Some(w),
                _ => None,
            }
        }) else {
            continue;
        };
        let f = by_workload.entry(w.index()).or_insert_with(|| {
            let wl = g.workloads.list.get(w.index())?;
            let mut exploits = Vec::new();
            for r in reports
                .iter()
                .map(Borrow::borrow)
                .filter(|r| matches(snapshot, wl, r))
            {
                for v in &r.vulns {
                    let known = intel.kev.get(&v.id);
                    let critical_remote = v.severity == Severity::Critical && v.remote;
                    let score = intel.epss.get(&v.id);
                    let likely = score.is_some_and(|s| intel.epss_min.is_some_and(|m| s.epss >= m));
                    if known.is_none() && !critical_remote && !likely {
                        continue;
                    }
                    let why = match (known, likely, score) {
                        (Some(k), _, _) if k.name.is_empty() => {
                            "in CISA's Known Exploited Vulnerabilities catalogue".to_string()
                        }
                        (Some(k), _, _) => format!("known exploited (CISA KEV: {})", k.name),
                        (None, true, Some(s)) => format!(
                            "likely exploited (EPSS {:.2}, at or above --epss-min)",
                            s.epss
                        ),
                        _ => "critical and remotely exploitable (not known exploited)".to_string(),
                    };
                    exploits.push(crate::foothold::Exploit {
                        cve: v.id.clone(),
                        severity: v.severity,
                        kev: known.is_some(),
                        epss: score,
                        package: v.package.clone(),
                        image: r.image.clone(),
                        container: r.container.clone(),
                        why,
                    });
                }
            }
            (!exploits.is_empty()).then(|| Foothold {
                workload: wl.display(),
                known_exploited: exploits.iter().any(|e| e.kev),
                exploits,
            })
        });
        if let Some(f) = f {
            out.insert(c.id.clone(), f.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize_image;

    #[test]
    fn image_spellings_normalise() {
        assert_eq!(normalize_image("nginx"), "library/nginx:latest");
        assert_eq!(
            normalize_image("docker.io/library/nginx:1.16"),
            "library/nginx:1.16"
        );
        assert_eq!(normalize_image("library/nginx:1.16"), "library/nginx:1.16");
        assert_eq!(
            normalize_image("ghcr.io/shop/web:1.4.2"),
            "ghcr.io/shop/web:1.4.2"
        );
        assert_eq!(
            normalize_image("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(normalize_image("app@sha256:ab"), "library/app@sha256:ab");
    }
}
