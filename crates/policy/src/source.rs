//! Policies and namespaces from plain objects (files, or objects a watcher delivers).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::review::NamedPolicy;

/// A policy object that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {name}: {reason}")]
pub struct PolicyError {
    /// Kind.
    pub kind: String,
    /// `namespace/name` or `name`.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// `Some` when `v` is a SecurityPolicy or ClusterSecurityPolicy: the policy (validated) or why
/// it is unusable. Namespaced policies without a namespace land in `default_namespace`.
pub fn policy_from_value(
    v: &Value,
    default_namespace: &str,
) -> Option<Result<NamedPolicy, PolicyError>> {
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let cluster = match (api.split('/').next(), kind) {
        (Some("rampart.dev"), "SecurityPolicy") => false,
        (Some("rampart.dev"), "ClusterSecurityPolicy") => true,
        _ => return None,
    };
    let meta = v.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let namespace = (!cluster).then(|| {
        meta.and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or(default_namespace)
            .to_string()
    });
    let display = match &namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.clone(),
    };
    let fail = |reason: String| PolicyError {
        kind: kind.to_string(),
        name: display.clone(),
        reason,
    };
    if name.is_empty() {
        return Some(Err(fail("metadata.name is missing".into())));
    }
    let spec = v.get("spec").cloned().unwrap_or(Value::Null);
    let parsed = if cluster {
        serde_json::from_value::<rampart_api::ClusterSecurityPolicySpec>(spec).map(|c| c.policy)
    } else {
        serde_json::from_value::<rampart_api::SecurityPolicySpec>(spec)
    };
    Some(match parsed {
        Err(e) => Err(fail(format!("spec: {e}"))),
        Ok(spec) => {
            let errors = if cluster {
                spec.validate()
            } else {
                spec.validate_namespaced()
            };
            if errors.is_empty() {
                Ok(NamedPolicy {
                    kind: if cluster {
                        "ClusterSecurityPolicy"
                    } else {
                        "SecurityPolicy"
                    },
                    namespace,
                    name,
                    spec,
                })
            } else {
                Err(fail(
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                ))
            }
        }
    })
}

/// `Some((name, labels))` when `v` is a Namespace; the automatic
/// `kubernetes.io/metadata.name` label is always present.
pub fn namespace_from_value(v: &Value) -> Option<(String, BTreeMap<String, String>)> {
    if v.get("kind").and_then(Value::as_str) != Some("Namespace") {
        return None;
    }
    let meta = v.get("metadata")?;
    let name = meta.get("name")?.as_str()?.to_string();
    let mut labels: BTreeMap<String, String> = meta
        .get("labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    labels.insert("kubernetes.io/metadata.name".into(), name.clone());
    Some((name, labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policies_and_namespaces() {
        let p = json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "ClusterSecurityPolicy", "metadata": {"name": "x"},
            "spec": {"rules": [{"name": "r", "conditions": [{"disallowPrivileged": true}]}]}});
        let got = policy_from_value(&p, "default").unwrap().unwrap();
        assert_eq!(got.display(), "ClusterSecurityPolicy x");
        let bad = json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "SecurityPolicy", "metadata": {"name": "y"}, "spec": {"rules": []}});
        let e = policy_from_value(&bad, "default").unwrap().unwrap_err();
        assert!(
            e.to_string().contains("SecurityPolicy default/y")
                && e.to_string().contains("at least one rule"),
            "{e}"
        );
        assert!(policy_from_value(&json!({"kind": "Pod"}), "default").is_none());
        let ns = namespace_from_value(
            &json!({"kind": "Namespace", "metadata": {"name": "a", "labels": {"x": "y"}}}),
        )
        .unwrap();
        assert_eq!(ns.1["kubernetes.io/metadata.name"], "a");
        assert_eq!(ns.1["x"], "y");
    }
}
