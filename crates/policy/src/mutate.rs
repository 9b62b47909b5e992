//! Mutations as RFC 6902 patches. Every operation is an `add` of something missing: patches
//! never overwrite what the author wrote, mutating a mutated object yields no patch, and a
//! change that would make the object invalid (a request above its limit, `allowPrivilegeEscalation:
//! false` on a privileged container) is skipped rather than made.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation};
use k8s_openapi::api::core::v1::Container;
use rampart_api::Mutations;
use serde_json::{Value, json};

use crate::object::PodSource;

fn add(path: String, value: Value) -> Option<PatchOperation> {
    PointerBuf::parse(path)
        .ok()
        .map(|path| PatchOperation::Add(AddOperation { path, value }))
}

/// Escapes one JSON-pointer token (`~` → `~0`, `/` → `~1`).
fn token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// A quantity as a number, for comparisons only (`100m` → 0.1, `1Gi` → 2³⁰).
pub fn quantity_value(q: &str) -> Option<f64> {
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * mult)
}

/// The patch that applies `m` to the pod of an object (empty when nothing is missing).
pub fn patch(pod: &PodSource, m: &Mutations) -> Patch {
    let base = pod.spec_pointer;
    let spec = &pod.spec;
    // The API server rejects Linux-only security fields on Windows pods.
    let windows = spec.os.as_ref().is_some_and(|o| o.name == "windows");
    let mut ops = Vec::new();
    let pod_sc = spec.security_context.clone().unwrap_or_default();
    let pod_sc_missing = spec.security_context.is_none();
    let mut pod_sc_adds: Vec<(&str, Value)> = Vec::new();
    let all: Vec<(&str, usize, &Container)> = spec
        .init_containers
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| ("initContainers", i, c))
        .chain(
            spec.containers
                .iter()
                .enumerate()
                .map(|(i, c)| ("containers", i, c)),
        )
        .collect();

    if m.run_as_non_root && pod_sc.run_as_non_root.is_none() {
        // Setting it would contradict an explicit choice somewhere: leave those pods alone.
        let contradicts = pod_sc.run_as_user == Some(0)
            || all.iter().any(|(_, _, c)| {
                c.security_context
                    .as_ref()
                    .is_some_and(|s| s.run_as_non_root == Some(false) || s.run_as_user == Some(0))
            });
        if !contradicts {
            pod_sc_adds.push(("runAsNonRoot", json!(true)));
        }
    }
    if m.seccomp_runtime_default && !windows && pod_sc.seccomp_profile.is_none() {
        pod_sc_adds.push(("seccompProfile", json!({"type": "RuntimeDefault"})));
    }
    if pod_sc_missing && !pod_sc_adds.is_empty() {
        let obj: serde_json::Map<String, Value> = pod_sc_adds
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        ops.extend(add(format!("{base}/securityContext"), Value::Object(obj)));
    } else {
        for (k, v) in pod_sc_adds {
            ops.extend(add(format!("{base}/securityContext/{k}"), v));
        }
    }

    for (list, i, c) in &all {
        let at = format!("{base}/{list}/{i}");
        let sc = c.security_context.clone().unwrap_or_default();
        let mut sc_adds: Vec<(&str, Value)> = Vec::new();
        let mut cap_ops: Vec<(String, Value)> = Vec::new();
        if m.disallow_privilege_escalation && !windows && sc.allow_privilege_escalation.is_none() {
            let adds_sys_admin = sc
                .capabilities
                .as_ref()
                .and_then(|k| k.add.as_ref())
                .is_some_and(|a| a.iter().any(|x| x == "SYS_ADMIN" || x == "CAP_SYS_ADMIN"));
            // The API server rejects allowPrivilegeEscalation=false with privileged or
            // CAP_SYS_ADMIN.
            if sc.privileged != Some(true) && !adds_sys_admin {
                sc_adds.push(("allowPrivilegeEscalation", json!(false)));
            }
        }
        if m.drop_all_capabilities && !windows {
            match &sc.capabilities {
                None => sc_adds.push(("capabilities", json!({"drop": ["ALL"]}))),
                Some(k) => match &k.drop {
                    None => cap_ops.push((
                        format!("{at}/securityContext/capabilities/drop"),
                        json!(["ALL"]),
                    )),
                    Some(d) if !d.iter().any(|x| x == "ALL") => cap_ops.push((
                        format!("{at}/securityContext/capabilities/drop/-"),
                        json!("ALL"),
                    )),
                    Some(_) => {}
                },
            }
        }
        if c.security_context.is_none() && !sc_adds.is_empty() {
            let obj: serde_json::Map<String, Value> = sc_adds
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            ops.extend(add(format!("{at}/securityContext"), Value::Object(obj)));
        } else {
            for (k, v) in sc_adds {
                ops.extend(add(format!("{at}/securityContext/{k}"), v));
            }
        }
        for (p, v) in cap_ops {
            ops.extend(add(p, v));
        }
        ops.extend(resource_ops(&at, c, m));
    }
    Patch(ops)
}

fn resource_ops(at: &str, c: &Container, m: &Mutations) -> Vec<PatchOperation> {
    let res = c.resources.clone().unwrap_or_default();
    let requests = res.requests.clone().unwrap_or_default();
    let limits = res.limits.clone().unwrap_or_default();
    let mut new_requests = serde_json::Map::new();
    let mut new_limits = serde_json::Map::new();
    for (name, q) in &m.default_requests {
        // A set limit already defaults the request to itself (API server defaulting).
        if requests.contains_key(name) || limits.contains_key(name) {
            continue;
        }
        let below_default_limit = m
            .default_limits
            .get(name)
            .and_then(|l| Some(quantity_value(l)? >= quantity_value(q)?))
            .unwrap_or(true);
        if below_default_limit {
            new_requests.insert(name.clone(), json!(q));
        }
    }
    for (name, q) in &m.default_limits {
        if limits.contains_key(name) {
            continue;
        }
        let request = requests.get(name).map(|r| r.0.clone()).or_else(|| {
            new_requests
                .get(name)
                .and_then(|v| v.as_str().map(String::from))
        });
        let fits = match request {
            Some(r) => match (quantity_value(&r), quantity_value(q)) {
                (Some(r), Some(l)) => l >= r,
                _ => false,
            },
            None => true,
        };
        if fits {
            new_limits.insert(name.clone(), json!(q));
        }
    }
    let mut ops = Vec::new();
    if c.resources.is_none() && (!new_requests.is_empty() || !new_limits.is_empty()) {
        let mut obj = serde_json::Map::new();
        if !new_requests.is_empty() {
            obj.insert("requests".into(), Value::Object(new_requests));
        }
        if !new_limits.is_empty() {
            obj.insert("limits".into(), Value::Object(new_limits));
        }
        ops.extend(add(format!("{at}/resources"), Value::Object(obj)));
        return ops;
    }
    for (field, present, new) in [
        ("requests", res.requests.is_some(), new_requests),
        ("limits", res.limits.is_some(), new_limits),
    ] {
        if new.is_empty() {
            continue;
        }
        if present {
            for (k, v) in new {
                ops.extend(add(format!("{at}/resources/{field}/{}", token(&k)), v));
            }
        } else {
            ops.extend(add(format!("{at}/resources/{field}"), Value::Object(new)));
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::pod_source;

    #[test]
    fn quantities() {
        assert_eq!(quantity_value("100m"), Some(0.1));
        assert_eq!(quantity_value("1Gi"), Some(1073741824.0));
        assert_eq!(quantity_value("2"), Some(2.0));
        assert_eq!(quantity_value("x"), None);
    }

    #[test]
    fn windows_pods_get_no_linux_only_fields() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w"},
            "spec": {"os": {"name": "windows"}, "containers": [{"name": "c", "image": "x"}]}});
        let m = Mutations {
            seccomp_runtime_default: true,
            drop_all_capabilities: true,
            disallow_privilege_escalation: true,
            run_as_non_root: true,
            ..Mutations::default()
        };
        let p = patch(&pod_source("Pod", &pod).unwrap().unwrap(), &m);
        let text = serde_json::to_string(&p).unwrap();
        assert!(
            !text.contains("seccomp")
                && !text.contains("capabilities")
                && !text.contains("allowPrivilegeEscalation"),
            "{text}"
        );
        assert!(text.contains("runAsNonRoot"));
    }

    #[test]
    fn adds_only_what_is_missing_and_is_idempotent() {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [
                {"name": "a", "image": "x", "securityContext": {"capabilities": {"drop": ["NET_RAW"]}},
                 "resources": {"limits": {"memory": "64Mi"}}},
                {"name": "b", "image": "y", "securityContext": {"privileged": true}}]}});
        let m = Mutations {
            default_requests: [
                ("cpu".to_string(), "100m".to_string()),
                ("memory".to_string(), "128Mi".to_string()),
            ]
            .into(),
            default_limits: [("memory".to_string(), "256Mi".to_string())].into(),
            run_as_non_root: true,
            seccomp_runtime_default: true,
            drop_all_capabilities: true,
            disallow_privilege_escalation: true,
        };
        let p = patch(&pod_source("Pod", &pod).unwrap().unwrap(), &m);
        let paths: Vec<String> = p.0.iter().map(|o| o.path().to_string()).collect();
        assert!(
            paths.contains(&"/spec/securityContext".to_string()),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"/spec/containers/0/securityContext/capabilities/drop/-".to_string()),
            "{paths:?}"
        );
        // Privileged container: no allowPrivilegeEscalation=false (invalid), but drop ALL.
        assert!(
            !paths
                .iter()
                .any(|x| x == "/spec/containers/1/securityContext/allowPrivilegeEscalation")
        );
        // memory limit set → no memory request; cpu request added.
        assert!(
            paths.contains(&"/spec/containers/0/resources/requests".to_string()),
            "{paths:?}"
        );
        json_patch::patch(&mut pod, &p).unwrap();
        assert_eq!(
            pod["spec"]["containers"][0]["resources"]["requests"],
            json!({"cpu": "100m"})
        );
        assert_eq!(
            pod["spec"]["containers"][0]["resources"]["limits"],
            json!({"memory": "64Mi"})
        );
        let again = patch(&pod_source("Pod", &pod).unwrap().unwrap(), &m);
        assert!(again.0.is_empty(), "{again:?}");
    }
}
