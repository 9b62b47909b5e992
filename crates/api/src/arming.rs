//! The arming ladder: `ArmingPolicy` (rampart.dev/v1alpha1, cluster-scoped) says, per action
//! class and namespace, how far the engine may go: `shadow` (decide and count what it would
//! have done, show nothing as a proposal), `propose` (show the proposal), `actWithApproval`
//! (write the Mitigation `Pending`; apply it once someone sets `spec.approved: true`) or
//! `act`. `--enable` stays the ceiling: a class it does not list never acts, whatever a
//! policy says.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::validate::{SpecError, glob_ok, selector_errors};

/// The action classes, as `--enable` and `ArmingPolicy` name them.
pub const ACTION_CLASSES: &[&str] = &[
    "network",
    "rbac",
    "mount",
    "identity",
    "pod",
    "judgement",
    "netpol",
];

/// How far a class may go.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    /// Decide and count what would have been done; propose nothing.
    Shadow,
    /// Show the proposal (dashboard, `/findings`); write nothing.
    Propose,
    /// Write the Mitigation `Pending`; apply it once `spec.approved` is true.
    ActWithApproval,
    /// Apply.
    Act,
}

/// One rung: the classes and namespaces it covers and their stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArmingRule {
    /// Action classes (empty: every class).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// Namespaces, exact or with a trailing `*` (empty: every namespace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Namespaces by their labels (with `namespaces`, both must match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// The stage.
    pub stage: Stage,
}

/// The ladder: rules in order, the first that matches decides.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "rampart.dev",
    version = "v1alpha1",
    kind = "ArmingPolicy",
    plural = "armingpolicies",
    shortname = "arming",
    doc = "How far rampart's engine may act, per action class and namespace: shadow, propose, actWithApproval or act.",
    printcolumn = r#"{"name":"Rules","type":"integer","jsonPath":".spec.rules.length()"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ArmingPolicySpec {
    /// Rules, first match wins (across policies: by policy name, then rule order).
    pub rules: Vec<ArmingRule>,
}

impl ArmingPolicySpec {
    /// Every problem, with its path.
    pub fn validate(&self) -> Vec<SpecError> {
        let mut out = Vec::new();
        if self.rules.is_empty() {
            out.push(SpecError {
                path: "rules".into(),
                message: "at least one rule".into(),
            });
        }
        for (i, r) in self.rules.iter().enumerate() {
            for (j, c) in r.classes.iter().enumerate() {
                if !ACTION_CLASSES.contains(&c.as_str()) {
                    out.push(SpecError {
                        path: format!("rules[{i}].classes[{j}]"),
                        message: format!(
                            "unknown class {c:?} (one of: {})",
                            ACTION_CLASSES.join(", ")
                        ),
                    });
                }
            }
            for (j, n) in r.namespaces.iter().enumerate() {
                if !glob_ok(n) {
                    out.push(SpecError {
                        path: format!("rules[{i}].namespaces[{j}]"),
                        message: format!("{n:?} is not a namespace name or a prefix ending in `*`"),
                    });
                }
            }
            if let Some(s) = &r.namespace_selector {
                out.extend(selector_errors(&format!("rules[{i}].namespaceSelector"), s));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rules_are_named_by_path() {
        let spec: ArmingPolicySpec = serde_json::from_value(serde_json::json!({"rules": [
            {"classes": ["network", "nuke"], "namespaces": ["shop", "Bad Name", "team-*"], "stage": "actWithApproval"},
            {"namespaceSelector": {"matchExpressions": [{"key": "tier", "operator": "In"}]}, "stage": "shadow"}
        ]}))
        .unwrap_or_default();
        let errors: Vec<String> = spec.validate().iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("spec.rules[0].classes[1]: unknown class \"nuke\""));
        assert!(errors[1].starts_with("spec.rules[0].namespaces[1]"));
        assert!(errors[2].contains("rules[1].namespaceSelector.matchExpressions[0]"));
        assert!(
            ArmingPolicySpec::default().validate().len() == 1,
            "no rules"
        );
        let bad: Result<ArmingPolicySpec, _> =
            serde_json::from_value(serde_json::json!({"rules": [{"stage": "yolo"}]}));
        assert!(bad.is_err(), "an unknown stage does not parse");
    }
}
