//! Credentials written into configuration: environment variables whose name or value looks like
//! a credential, whole Secrets poured into the environment, ConfigMap entries that hold one.
//! Findings name the field, never the value.

use base64::Engine;
use serde_json::Value;

use crate::check::{Hit, Outcome};
use crate::object::{ContainerList, Object};
use crate::settings::Settings;

fn key_sensitive(name: &str, s: &Settings) -> bool {
    let name = name.to_lowercase();
    s.sensitive_key_names
        .iter()
        .any(|k| name.contains(&k.to_lowercase()))
}

fn allowed(name: &str, value: &str, s: &Settings) -> bool {
    let name = name.to_lowercase();
    s.sensitive_key_names_allowed
        .iter()
        .any(|a| name.contains(&a.to_lowercase()))
        || s.sensitive_values_allowed.iter().any(|a| a.is_match(value))
}

/// Whether a value matches a credential pattern, ignoring case.
fn value_sensitive(value: &str, s: &Settings) -> bool {
    s.sensitive_values_any_case
        .iter()
        .any(|p| p.is_match(value))
}

/// Environment variables that hold a credential, and Secrets poured whole into the environment.
pub fn in_env(o: &Object, s: &Settings) -> Outcome {
    let Some(pod) = o.pod_or_error()? else {
        return Ok(Vec::new());
    };
    let mut hits = Vec::new();
    for c in pod.containers_of(&[ContainerList::Containers]) {
        for (j, e) in c
            .value
            .get("env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let name = e.get("name").and_then(Value::as_str).unwrap_or("");
            let Some(value) = e.get("value").and_then(Value::as_str) else {
                continue;
            };
            // A path to a file is where a credential is, not the credential.
            if value.starts_with('/') || allowed(name, value, s) {
                continue;
            }
            let by_name = !value.is_empty() && key_sensitive(name, s);
            if by_name || value_sensitive(value, s) {
                hits.push(
                    Hit::new(
                        c.path(&format!("env[{j}].value")),
                        format!(
                            "container {:?} has a credential in environment variable {name:?} ({})",
                            c.name(),
                            if by_name {
                                "by its name"
                            } else {
                                "by its value"
                            }
                        ),
                    )
                    .instruct("move the value into a Secret and mount it as a file"),
                );
            }
        }
    }
    for c in pod.containers() {
        hits.extend(
            c.env_from_secrets()
                .into_iter()
                .map(|k| super::workload::env_from_secret(&c, k)),
        );
    }
    Ok(hits)
}

/// ConfigMap entries that hold a credential (by key, by value, or by base64-decoded value).
pub fn in_configmap(o: &Object, s: &Settings) -> Outcome {
    let mut hits = Vec::new();
    for (key, v) in o
        .value
        .get("data")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let Some(value) = v.as_str() else { continue };
        if value.is_empty() || allowed(key, value, s) {
            continue;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let by_value = |v: &str| s.sensitive_values.iter().any(|p| p.is_match(v));
        if key_sensitive(key, s) || by_value(value) || decoded.as_deref().is_some_and(by_value) {
            hits.push(
                Hit::new(
                    format!("data[{key}]"),
                    format!("entry {key:?} looks like a credential"),
                )
                .instruct("move the entry into a Secret"),
            );
        }
    }
    Ok(hits)
}
