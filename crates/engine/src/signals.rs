//! Runtime evidence (ingested observations) and vulnerability intel (KEV, live
//! VulnerabilityReports) turned into the chains' confidence.

use std::collections::BTreeMap;

use rampart_http::ingest::Ingest;
use rampart_respond::bar::Confidence;
use rampart_respond::engine::EngineCore;
use rampart_signals::corroborate::Corroboration;
use rampart_signals::foothold::ExploitIntel;
use rampart_signals::foothold::Foothold;
use rampart_signals::vulns::ImageVulns;

use crate::clock::now;

/// VulnerabilityReports seen live, by namespace and name.
#[derive(Default)]
pub(crate) struct LiveReports(BTreeMap<(String, String), ImageVulns>);

impl LiveReports {
    fn key(v: &serde_json::Value) -> (String, String) {
        let m = &v["metadata"];
        (
            m["namespace"].as_str().unwrap_or("").to_string(),
            m["name"].as_str().unwrap_or("").to_string(),
        )
    }

    /// Stores a report; whether anything changed.
    pub(crate) fn upsert(&mut self, v: &serde_json::Value) -> bool {
        match rampart_signals::vulns::from_value(v) {
            Ok(r) => {
                let k = Self::key(v);
                if self.0.get(&k) == Some(&r) {
                    return false;
                }
                self.0.insert(k, r);
                true
            }
            Err(e) => {
                // An unreadable new version replaces the old one: stale CVEs must not linger.
                tracing::debug!("skipping a VulnerabilityReport: {e}");
                self.0.remove(&Self::key(v)).is_some()
            }
        }
    }

    /// Forgets a deleted report; whether it was known.
    pub(crate) fn remove(&mut self, ns: &str, name: &str) -> bool {
        self.0.remove(&(ns.to_string(), name.to_string())).is_some()
    }

    /// Replaces every report (a relist).
    pub(crate) fn replace(&mut self, all: &[serde_json::Value]) {
        self.0.clear();
        for v in all {
            self.upsert(v);
        }
    }
}

/// Corroborations per chain id.
pub(crate) type Evidence = BTreeMap<String, Vec<Corroboration>>;

/// Runtime evidence and footholds on the current chains.
#[derive(Default)]
pub(crate) struct Signals {
    pub evidence: Evidence,
    pub footholds: BTreeMap<String, Foothold>,
}

impl Signals {
    /// Computes them, and tells the core which chains are corroborated, or judged by the
    /// model on a foothold.
    pub(crate) fn refresh(
        core: &mut EngineCore,
        ingest: Option<&Ingest>,
        intel: &ExploitIntel,
        live: &LiveReports,
        judge: Option<&crate::judge::Judge>,
    ) -> Signals {
        let evidence = evidence(core, ingest);
        let footholds = match core.analysis() {
            Some(a) if !live.0.is_empty() => {
                let reports: Vec<&ImageVulns> = live.0.values().collect();
                rampart_signals::foothold::footholds(a, core.snapshot(), &reports, intel)
            }
            _ => Default::default(),
        };
        let mut confirmations = BTreeMap::new();
        if let (Some(j), Some(a)) = (judge, core.analysis()) {
            // CVE presence alone stays a proposal: a chain is judged for the bar only when
            // its entry is a foothold and the model's verdict on it as it is now affirms.
            let affirmed = j.affirmed();
            for c in a
                .proof
                .chains
                .iter()
                .filter(|c| affirmed.contains_key(&c.id))
            {
                let Some(f) = footholds.get(&c.id) else {
                    continue;
                };
                let mut out = rampart_report::scan::chain_out(a, c);
                out.foothold = Some(f.clone());
                out.evidence = evidence.get(&c.id).cloned().unwrap_or_default();
                if crate::judge::still_holds(&out, affirmed[&c.id]) {
                    confirmations.insert(c.id.clone(), Confidence::Judged);
                }
            }
        }
        for id in evidence.keys() {
            confirmations.insert(id.clone(), Confidence::Corroborated);
        }
        core.set_confirmations(confirmations);
        Signals {
            evidence,
            footholds,
        }
    }
}

/// Runtime evidence on the current chains.
fn evidence(core: &EngineCore, ingest: Option<&Ingest>) -> Evidence {
    let (Some(i), Some(a)) = (ingest, core.analysis()) else {
        return Default::default();
    };
    // Copied out: the proof walk must not hold up ingest.
    let entries: Vec<rampart_signals::observe::Entry> = {
        let store = i.store.lock().unwrap_or_else(|e| e.into_inner());
        store.active(now()).into_iter().cloned().collect()
    };
    let refs: Vec<&rampart_signals::observe::Entry> = entries.iter().collect();
    rampart_signals::corroborate::corroborate(a, core.snapshot(), &refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(ns: &str, name: &str, tag: &str) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "aquasecurity.github.io/v1alpha1",
            "kind": "VulnerabilityReport",
            "metadata": {
                "namespace": ns,
                "name": name,
                "labels": {
                    "trivy-operator.resource.kind": "ReplicaSet",
                    "trivy-operator.resource.name": "web-1",
                    "trivy-operator.container.name": "web"
                }
            },
            "report": {
                "artifact": {"repository": "web", "tag": tag},
                "vulnerabilities": [{"vulnerabilityID": "CVE-2021-44228", "severity": "CRITICAL"}]
            }
        })
    }

    #[test]
    fn live_reports_say_when_they_change() {
        let mut live = LiveReports::default();
        let r = report("shop", "web", "1");
        assert!(live.upsert(&r), "a new report");
        assert!(!live.upsert(&r), "the same report again changes nothing");
        assert!(live.upsert(&report("shop", "web", "2")), "a new version");
        // An unreadable new version drops the old one: stale CVEs must not linger.
        let mut broken = report("shop", "web", "3");
        broken["metadata"]["labels"] = serde_json::json!({});
        assert!(live.upsert(&broken));
        assert!(live.0.is_empty());
        live.replace(&[r]);
        assert!(live.remove("shop", "web"));
        assert!(!live.remove("shop", "web"));
    }
}
