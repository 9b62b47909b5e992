//! The machine contract of `rampart audit --format json` (`schema: rampart.dev/audit/v1`) and
//! its renderers for people ([`table`], [`html`]) and tools ([`sarif`], [`junit`]), and the
//! PolicyReports a live audit keeps in the cluster ([`policy_report`]).
//!
//! One finding per (check, object) that failed, was excepted, or could not be evaluated;
//! scores per framework and per namespace are kubescape's compliance score: the mean, over the
//! framework's checks that judged anything, of the share of judged objects that pass (an
//! excepted object passes).

pub mod html;
pub mod junit;
pub mod policy_report;
pub mod sarif;
pub mod table;

use std::collections::BTreeMap;

use rampart_audit::check::{Framework, Ids, Severity};
use rampart_audit::run::{Audit, Finding, Status, Tally};
use serde::Serialize;

use crate::scan::InputError;

/// The schema id.
pub const SCHEMA: &str = "rampart.dev/audit/v1";

/// A framework's score and counts.
#[derive(Debug, Clone, Serialize)]
pub struct FrameworkScore {
    /// Compliance score, 0–100 (one decimal), `null` when no check judged anything.
    pub score: Option<f64>,
    /// Checks of the framework that ran.
    pub checks: usize,
    /// Checks that found anything to judge (the rest did not apply: no such objects).
    pub applicable_checks: usize,
    /// Checks with at least one failing object.
    pub failing_checks: usize,
    /// Judged objects over all its checks, by outcome.
    #[serde(flatten)]
    pub tally: Tally,
}

/// Counts of findings by status.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct FindingCounts {
    /// Failures.
    pub fail: usize,
    /// Accepted failures.
    pub excepted: usize,
    /// Objects a check could not evaluate.
    pub error: usize,
}

/// The summary: scores and counts.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Per framework audited.
    pub frameworks: BTreeMap<Framework, FrameworkScore>,
    /// Per namespace (`""`: cluster-scoped objects and RBAC subjects), per framework.
    pub namespaces: BTreeMap<String, BTreeMap<Framework, f64>>,
    /// Findings by status.
    pub findings: FindingCounts,
    /// Checks that ran.
    pub checks: usize,
}

/// One check and what it judged.
#[derive(Debug, Clone, Serialize)]
pub struct CheckSummary {
    /// rampart's id.
    pub check: &'static str,
    /// Framework ids it answers.
    pub ids: Ids,
    /// Title.
    pub title: &'static str,
    /// Severity.
    pub severity: Severity,
    /// The frameworks it belongs to.
    pub frameworks: &'static [Framework],
    /// What it judged.
    #[serde(flatten)]
    pub tally: Tally,
}

/// What was read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditInputs {
    /// Files read.
    pub files: usize,
    /// Objects audited.
    pub objects: usize,
    /// Frameworks audited.
    pub frameworks: Vec<Framework>,
    /// SecurityPolicies and ClusterSecurityPolicies whose rules were audited too.
    pub policies: usize,
    /// Exceptions listed besides annotations.
    pub exceptions: usize,
    /// Problems reading the input; the rest was audited.
    pub errors: Vec<InputError>,
}

/// The `rampart.dev/audit/v1` document.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// Scores and counts.
    pub summary: Summary,
    /// Every check that ran.
    pub checks: Vec<CheckSummary>,
    /// The findings, by check then object.
    pub findings: Vec<Finding>,
    /// What was read.
    pub inputs: AuditInputs,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl AuditReport {
    /// The report of an audit.
    pub fn new(audit: Audit, inputs: AuditInputs) -> AuditReport {
        let mut frameworks = BTreeMap::new();
        for &f in &inputs.frameworks {
            let of: Vec<_> = audit
                .checks
                .iter()
                .filter(|c| c.frameworks.contains(&f))
                .collect();
            let mut tally = Tally::default();
            let mut failing = 0;
            let mut applicable = 0;
            for c in &of {
                let t = audit.tally(c.id);
                failing += usize::from(t.failed > 0);
                applicable += usize::from(t.judged() + t.errors > 0);
                tally.passed += t.passed;
                tally.failed += t.failed;
                tally.excepted += t.excepted;
                tally.errors += t.errors;
            }
            frameworks.insert(
                f,
                FrameworkScore {
                    score: audit.score(f, None).map(round1),
                    checks: of.len(),
                    applicable_checks: applicable,
                    failing_checks: failing,
                    tally,
                },
            );
        }
        let mut namespaces = BTreeMap::new();
        for ns in audit.namespaces() {
            let scores: BTreeMap<Framework, f64> = inputs
                .frameworks
                .iter()
                .filter_map(|&f| Some((f, round1(audit.score(f, Some(ns))?))))
                .collect();
            if !scores.is_empty() {
                namespaces.insert(ns.to_string(), scores);
            }
        }
        let mut counts = FindingCounts::default();
        for f in &audit.findings {
            match f.status {
                Status::Fail => counts.fail += 1,
                Status::Excepted => counts.excepted += 1,
                Status::Error => counts.error += 1,
            }
        }
        let checks = audit
            .checks
            .iter()
            .map(|c| CheckSummary {
                check: c.id,
                ids: c.ids,
                title: c.title,
                severity: c.severity,
                frameworks: c.frameworks,
                tally: audit.tally(c.id),
            })
            .collect::<Vec<_>>();
        AuditReport {
            schema: SCHEMA,
            summary: Summary {
                frameworks,
                namespaces,
                findings: counts,
                checks: checks.len(),
            },
            checks,
            findings: audit.findings,
            inputs,
        }
    }

    /// Whether any object fails (excepted ones do not).
    pub fn failed(&self) -> bool {
        self.summary.findings.fail > 0
    }

    /// The JSON document.
    pub fn write_json(&self, out: &mut impl std::io::Write) -> serde_json::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        let _ = out.write_all(b"\n");
        Ok(())
    }
}

/// `Kind/namespace/name` of a finding's object, for people.
pub fn object_name(f: &Finding) -> String {
    f.object.to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use rampart_audit::run::{Options, audit};
    use rampart_audit::{Inventory, Object};
    use serde_json::json;

    use super::*;

    /// A name an attacker chose: markup, a bidi override, a terminal escape.
    pub const EVIL: &str = "x<script>alert(1)</script>\u{202e}gnp.exe\u{1b}[2J";

    /// A report over a privileged pod with a hostile name, an excepted one and a namespace.
    pub fn report() -> AuditReport {
        let objects = vec![
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": EVIL, "namespace": "shop"},
                   "spec": {"containers": [{"name": "a", "image": "x", "securityContext": {"privileged": true}}]}}),
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "ok", "namespace": "shop",
                                "annotations": {"exception.audit.rampart.dev/privileged-container": "vendor agent, reviewed"}},
                   "spec": {"containers": [{"name": "a", "image": "x", "securityContext": {"privileged": true}}]}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
        ];
        let objects = objects
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| {
                Object::new(v, Some(Arc::from(format!("{EVIL}.yaml"))), i as u32 + 1)
            })
            .collect();
        let inv = Inventory::new(objects);
        let options = Options::default();
        let a = audit(&inv, &options);
        AuditReport::new(
            a,
            AuditInputs {
                files: 1,
                objects: 3,
                frameworks: options.frameworks.clone(),
                ..AuditInputs::default()
            },
        )
    }

    #[test]
    fn the_contract_has_its_fields() {
        let r = report();
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(v["schema"], SCHEMA);
        let f = v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["check"] == "privileged-container" && f["status"] == "fail")
            .expect("the privileged pod fails");
        assert_eq!(f["ids"]["kubescape"], json!(["C-0057"]));
        assert_eq!(f["object"]["kind"], "Pod");
        assert_eq!(f["object"]["line"], 1);
        assert_eq!(f["field"], "spec.containers[0].securityContext.privileged");
        assert_eq!(f["fix"]["patch"][0]["op"], "add");
        let e = v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["check"] == "privileged-container" && f["status"] == "excepted")
            .expect("the annotated pod is excepted, not dropped");
        assert_eq!(e["reason"], "vendor agent, reviewed");
        let nsa = &v["summary"]["frameworks"]["nsa"];
        assert!(
            nsa["score"].as_f64().is_some_and(|s| s > 0.0 && s < 100.0),
            "{nsa}"
        );
        assert!(v["summary"]["namespaces"]["shop"]["nsa"].is_number());
    }
}
