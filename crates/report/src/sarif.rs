//! SARIF 2.1.0: one result per chain, anchored on the entry object's file and line.

use serde_json::{Value, json};

use crate::scan::ScanReport;

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
                "message": {"text": format!("Internet → {} ({} steps).{fix}", path.join(" → "), c.length)},
                "partialFingerprints": {"rampartChainId": c.id},
                "properties": {"confidence": c.confidence, "target": c.target},
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
