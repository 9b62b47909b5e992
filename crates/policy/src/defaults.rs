//! What the API server does to an object before validating admission sees it, for evaluating
//! manifests offline (`rampart policy check`, `rampart policy test`). The webhook receives
//! objects already processed and must never apply this.
//!
//! Only the steps that change a Pod Security decision are simulated:
//!
//! * `SetDefaults_Volume` (`pkg/apis/core/v1/defaults.go`): a volume with no source gets
//!   `emptyDir: {}`; every pod spec, templates included.
//! * `SetDefaults_Pod`: with `hostNetwork: true`, each port of a container or init container
//!   (not ephemeral containers) whose `hostPort` is unset or 0 gets `hostPort = containerPort`;
//!   Pod objects only.
//! * `applyAppArmorVersionSkew` (`pkg/registry/core/pod/strategy.go`, `PrepareForCreate`):
//!   for a Pod not declaring `os.name: windows`, each container (init, regular, ephemeral)
//!   with a valid `container.apparmor.security.beta.kubernetes.io/<name>` annotation and no
//!   `appArmorProfile` field gets the field, unless it equals the pod-level profile. Pod Security
//!   then reports the field and the annotation. Pod objects only.
//!
//! The work is done on JSON so that a volume source unknown to `k8s-openapi` (a newer
//! Kubernetes) still counts as a source.

use serde_json::{Map, Value, json};

const APPARMOR_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// Applies the API server's processing to an object of `kind` (`Pod` or a workload kind):
/// to the pod's or the template's pod spec, what applies to it.
pub fn apply(kind: &str, object: &mut Value) {
    if kind == "Pod" {
        pod(object);
        return;
    }
    let pointer = match kind {
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => "/spec/template/spec",
        _ => return,
    };
    if let Some(spec) = object.pointer_mut(pointer) {
        volumes(spec);
    }
}

/// Applies every step to a Pod (`{"metadata": …, "spec": …}`, other fields ignored).
pub fn pod(pod: &mut Value) {
    let Some(obj) = pod.as_object_mut() else {
        return;
    };
    let annotations: Map<String, Value> = obj
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let Some(spec) = obj.get_mut("spec") else {
        return;
    };
    volumes(spec);
    host_network_ports(spec);
    app_armor(spec, &annotations);
}

/// `SetDefaults_Volume`: a volume whose only key is its name becomes an emptyDir.
fn volumes(spec: &mut Value) {
    let Some(vols) = spec.get_mut("volumes").and_then(Value::as_array_mut) else {
        return;
    };
    for v in vols {
        if let Some(o) = v.as_object_mut()
            && o.iter().all(|(k, v)| k == "name" || v.is_null())
        {
            o.insert("emptyDir".into(), json!({}));
        }
    }
}

/// `defaultHostNetworkPorts` for containers and init containers.
fn host_network_ports(spec: &mut Value) {
    if spec.get("hostNetwork").and_then(Value::as_bool) != Some(true) {
        return;
    }
    for list in ["containers", "initContainers"] {
        let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in cs {
            let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) else {
                continue;
            };
            for p in ports {
                let Some(p) = p.as_object_mut() else { continue };
                let host = p.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
                if host == 0
                    && let Some(cp) = p.get("containerPort").cloned()
                {
                    p.insert("hostPort".into(), cp);
                }
            }
        }
    }
}

/// `ApparmorFieldForAnnotation`, keeping only profiles that validate.
fn app_armor_field(annotation: &str) -> Option<Value> {
    match annotation {
        "runtime/default" => Some(json!({"type": "RuntimeDefault"})),
        "unconfined" => Some(json!({"type": "Unconfined"})),
        a => {
            let name = a.strip_prefix("localhost/")?;
            (!name.trim().is_empty())
                .then(|| json!({"type": "Localhost", "localhostProfile": name}))
        }
    }
}

/// `applyAppArmorVersionSkew`, annotation → field.
fn app_armor(spec: &mut Value, annotations: &Map<String, Value>) {
    if spec.pointer("/os/name").and_then(Value::as_str) == Some("windows") {
        return;
    }
    let pod_profile = spec
        .pointer("/securityContext/appArmorProfile")
        .cloned()
        .map(normalise_profile);
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in cs {
            let Some(name) = c.get("name").and_then(Value::as_str) else {
                continue;
            };
            let Some(annotation) = annotations
                .get(&format!("{APPARMOR_PREFIX}{name}"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            if c.pointer("/securityContext/appArmorProfile")
                .is_some_and(|p| !p.is_null())
            {
                continue;
            }
            let Some(field) = app_armor_field(annotation) else {
                continue;
            };
            if pod_profile.as_ref() == Some(&field) {
                continue;
            }
            let Some(c) = c.as_object_mut() else { continue };
            let sc = c.entry("securityContext").or_insert_with(|| json!({}));
            if sc.is_null() {
                *sc = json!({});
            }
            if let Some(sc) = sc.as_object_mut() {
                sc.insert("appArmorProfile".into(), field);
            }
        }
    }
}

/// A profile as [`app_armor_field`] builds it (drops nulls and an unused localhost name), so
/// the comparison with the pod-level profile is semantic.
fn normalise_profile(p: Value) -> Value {
    let t = p.get("type").and_then(Value::as_str).unwrap_or("");
    match (t, p.get("localhostProfile").and_then(Value::as_str)) {
        ("Localhost", Some(name)) => json!({"type": "Localhost", "localhostProfile": name}),
        (t, _) => json!({"type": t}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_network_ports_default_on_pods_only() {
        let spec = json!({"hostNetwork": true, "containers": [{"name": "c", "ports": [
            {"containerPort": 80}, {"containerPort": 81, "hostPort": 0}, {"containerPort": 82, "hostPort": 9}]}],
            "initContainers": [{"name": "i", "ports": [{"containerPort": 53}]}],
            "ephemeralContainers": [{"name": "e", "ports": [{"containerPort": 7}]}]});
        let mut p = json!({"metadata": {}, "spec": spec.clone()});
        pod(&mut p);
        assert_eq!(p["spec"]["containers"][0]["ports"][0]["hostPort"], 80);
        assert_eq!(p["spec"]["containers"][0]["ports"][1]["hostPort"], 81);
        assert_eq!(p["spec"]["containers"][0]["ports"][2]["hostPort"], 9);
        assert_eq!(p["spec"]["initContainers"][0]["ports"][0]["hostPort"], 53);
        assert!(
            p["spec"]["ephemeralContainers"][0]["ports"][0]
                .get("hostPort")
                .is_none()
        );
        let mut d = json!({"kind": "Deployment", "spec": {"template": {"spec": spec}}});
        apply("Deployment", &mut d);
        assert!(
            d.pointer("/spec/template/spec/containers/0/ports/0/hostPort")
                .is_none()
        );
        let mut no_host =
            json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}});
        pod(&mut no_host);
        assert!(
            no_host
                .pointer("/spec/containers/0/ports/0/hostPort")
                .is_none()
        );
    }

    #[test]
    fn sourceless_volumes_become_empty_dirs_everywhere() {
        let mut d = json!({"spec": {"template": {"spec": {"volumes": [
            {"name": "a"}, {"name": "b", "hostPath": {"path": "/"}}, {"name": "c", "futureSource": {}}]}}}});
        apply("Deployment", &mut d);
        let v = &d["spec"]["template"]["spec"]["volumes"];
        assert_eq!(v[0]["emptyDir"], json!({}));
        assert!(v[1].get("emptyDir").is_none());
        assert!(
            v[2].get("emptyDir").is_none(),
            "an unknown source is a source"
        );
    }

    #[test]
    fn app_armor_annotations_become_fields() {
        let mut p = json!({"metadata": {"annotations": {
            "container.apparmor.security.beta.kubernetes.io/a": "unconfined",
            "container.apparmor.security.beta.kubernetes.io/b": "localhost/prof",
            "container.apparmor.security.beta.kubernetes.io/c": "runtime/default",
            "container.apparmor.security.beta.kubernetes.io/d": "unconfined",
            "container.apparmor.security.beta.kubernetes.io/e": "bogus"}},
            "spec": {"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
                "containers": [{"name": "a"}, {"name": "b"}, {"name": "c"},
                    {"name": "d", "securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "x"}}},
                    {"name": "e"}]}});
        pod(&mut p);
        let c = &p["spec"]["containers"];
        assert_eq!(
            c[0]["securityContext"]["appArmorProfile"],
            json!({"type": "Unconfined"})
        );
        assert_eq!(
            c[1]["securityContext"]["appArmorProfile"],
            json!({"type": "Localhost", "localhostProfile": "prof"})
        );
        assert!(c[2].get("securityContext").is_none(), "same as the pod's");
        assert_eq!(
            c[3]["securityContext"]["appArmorProfile"]["localhostProfile"],
            "x"
        );
        assert!(c[4].get("securityContext").is_none(), "invalid value");
        // Windows pods are left alone.
        let mut w = json!({"metadata": {"annotations": {
            "container.apparmor.security.beta.kubernetes.io/a": "unconfined"}},
            "spec": {"os": {"name": "windows"}, "containers": [{"name": "a"}]}});
        pod(&mut w);
        assert!(w["spec"]["containers"][0].get("securityContext").is_none());
    }
}
