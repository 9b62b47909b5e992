//! SARIF 2.1.0: one rule per check, one result per failing finding (excepted findings are
//! results with an accepted suppression, so code-scanning front ends show them as dismissed),
//! anchored on the object's file and line.

use rampart_audit::check::Severity;
use rampart_audit::run::Status;
use serde_json::{Value, json};

use super::AuditReport;
use crate::text::display_safe;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// Renders the report as a SARIF log.
pub fn render(r: &AuditReport) -> String {
    let rules: Vec<Value> = r
        .checks
        .iter()
        .map(|c| {
            json!({
                "id": c.check,
                "shortDescription": {"text": c.title},
                "defaultConfiguration": {"level": level(c.severity)},
                "properties": {"ids": c.ids, "frameworks": c.frameworks},
            })
        })
        .collect();
    let results: Vec<Value> = r
        .findings
        .iter()
        .filter(|f| f.status != Status::Error)
        .map(|f| {
            let mut result = json!({
                "ruleId": f.check,
                "level": level(f.severity),
                "message": {"text": display_safe(&format!("{}: {} ({})", f.object, f.message, f.field))},
                "properties": {"field": f.field, "fix": f.fix},
            });
            if f.status == Status::Excepted {
                result["suppressions"] = json!([{
                    "kind": "external",
                    "status": "accepted",
                    "justification": f.reason,
                }]);
            }
            let logical = json!([{"name": f.object.to_string(), "kind": "object"}]);
            result["locations"] = match &f.object.file {
                Some(file) => json!([{
                    "physicalLocation": {
                        "artifactLocation": {"uri": file.as_ref()},
                        "region": {"startLine": f.object.line.max(1)},
                    },
                    "logicalLocations": logical,
                }]),
                None => json!([{"logicalLocations": logical}]),
            };
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "rampart audit",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::text::is_unsafe_char;

    #[test]
    fn results_carry_rules_locations_and_suppressions() {
        let log: Value =
            serde_json::from_str(&super::render(&super::super::tests::report())).expect("json");
        let results = log["runs"][0]["results"].as_array().expect("results");
        let failing = results
            .iter()
            .find(|r| r["ruleId"] == "privileged-container" && r["suppressions"].is_null())
            .expect("a failing result");
        let text = failing["message"]["text"].as_str().expect("text");
        assert!(!text.chars().any(is_unsafe_char), "{text:?}");
        assert_eq!(
            failing["locations"][0]["physicalLocation"]["region"]["startLine"],
            1
        );
        assert!(
            results
                .iter()
                .any(|r| r["suppressions"][0]["justification"] == "vendor agent, reviewed")
        );
        let rules = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .expect("rules");
        assert!(rules.iter().any(|r| r["id"] == "privileged-container"));
    }
}
