//! SARIF 2.1.0: one result per chain, anchored on the entry object's file and line.

use serde_json::{Value, json};

use crate::scan::ScanReport;
use crate::text::display_safe;

/// Renders the report as a SARIF log.
pub fn render(r: &ScanReport) -> String {
    let rules = [
        (
            "rampart/chain-to-cluster-admin",
            "ClusterAdmin",
            "An internet-facing entry leads to cluster-admin",
            "error",
        ),
        (
            "rampart/chain-to-node",
            "Node",
            "An internet-facing entry leads to a node",
            "error",
        ),
        (
            "rampart/chain-to-secret",
            "Secret",
            "An internet-facing entry leads to a Secret",
            "warning",
        ),
        (
            "rampart/chain-to-crown-jewel",
            "CrownJewel",
            "An internet-facing entry leads to a crown jewel",
            "warning",
        ),
        (
            "rampart/chain-to-impact",
            "Impact",
            "An internet-facing entry leads to destroying data or stopping services (ATT&CK Impact)",
            "error",
        ),
        (
            "rampart/chain-to-exfiltration",
            "Exfiltration",
            "An internet-facing entry leads to a pod that may send data to the internet (ATT&CK Exfiltration)",
            "note",
        ),
        (
            "rampart/chain-to-collection",
            "Collection",
            "An internet-facing entry leads to a workload that holds data (ATT&CK Collection)",
            "warning",
        ),
        (
            "rampart/chain-to-persistence",
            "Persistence",
            "An internet-facing entry leads to planting what runs again (ATT&CK Persistence)",
            "error",
        ),
    ];
    let rule_of = |kind: &str| -> (&str, &str) {
        let k = kind.split('/').next().unwrap_or(kind);
        rules
            .iter()
            .find(|r| r.1 == k)
            .map(|r| (r.0, r.3))
            .unwrap_or(("rampart/chain-to-crown-jewel", "warning"))
    };
    let results: Vec<Value> = r
        .chains
        .iter()
        .map(|c| {
            let (rule, level) = rule_of(c.target.kind);
            let path: Vec<String> = std::iter::once(format!("{}", c.entry.object.object))
                .chain(c.steps.iter().map(|s| format!("{} {}", s.edge, s.to)))
                .collect();
            let fix = c.cheapest_cut.as_ref().map(|x| format!(" Cheapest cut: {} {} → {} (cost {}).", x.edge, x.from, x.to, x.cost)).unwrap_or_default();
            let mut result = json!({
                "ruleId": rule,
                "level": level,
                // The message is shown to people by code-scanning front ends: names in it are
                // escaped as in the table (bidi overrides would otherwise reorder it).
                "message": {"text": display_safe(&format!("Internet → {} ({} steps).{fix}", path.join(" → "), c.length))},
                "partialFingerprints": {"rampartChainId": c.id},
                "properties": {"confidence": c.confidence, "target": c.target, "technique": c.target.technique},
            });
            if let Some(file) = &c.entry.object.file {
                result["locations"] = json!([{
                    "physicalLocation": {
                        "artifactLocation": {"uri": file},
                        "region": {"startLine": c.entry.object.line.unwrap_or(1).max(1)},
                    },
                    "logicalLocations": [{"name": c.entry.object.object.to_string(), "kind": "object"}],
                }]);
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "rampart",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|(id, _, text, level)| json!({
                    "id": id,
                    "shortDescription": {"text": text},
                    "defaultConfiguration": {"level": level},
                })).collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::table::tests::{EVIL, hostile_report};
    use crate::text::is_unsafe_char;

    #[test]
    fn messages_shown_to_people_are_escaped_locations_are_exact() {
        let log: Value = serde_json::from_str(&super::render(&hostile_report())).unwrap();
        let result = &log["runs"][0]["results"][0];
        let text = result["message"]["text"].as_str().unwrap();
        assert!(!text.chars().any(is_unsafe_char), "{text:?}");
        assert!(text.contains("\\u{202e}gnp.exe"), "{text}");
        // The location names the file as it is: a tool opens it.
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            EVIL
        );
    }
}
