//! Request-guard injection: a pod (or a pod template) asking for the guard gets the gate as a
//! second container, as RFC 6902 `add`s. Asked by the pod's annotation
//! `rampart.dev/guard: enabled`, or for a whole namespace by its label `rampart.dev/guard=enabled`
//! (a pod opts out with the annotation `rampart.dev/guard: disabled`).
//!
//! The gate listens on port 8000, named `rampart-guard`: a Service reaches it with
//! `targetPort: rampart-guard` (and the app's own port stays reachable only through the pod's
//! loopback, when the app binds there). It forwards to the app's port on 127.0.0.1: the
//! annotation `rampart.dev/guard-upstream`, else the first port of the first container. Its
//! token for the learner is a projected ServiceAccount token for the learner's audience; its
//! service is named by the pod's labels as the learner reads them
//! ([`rampart_guard::lookup::service_of`]). The container is non-root, read-only, without
//! capabilities (Pod Security `restricted`), with requests and a memory limit.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation};
use serde_json::{Value, json};

use crate::object::PodSource;

/// The annotation (pod) and label (namespace) that ask for the gate.
pub const GUARD: &str = "rampart.dev/guard";
/// The annotation naming the app's port the gate forwards to.
pub const UPSTREAM: &str = "rampart.dev/guard-upstream";
/// The injected container's name, and its port's.
pub const CONTAINER: &str = "rampart-guard";
/// The gate's port.
pub const PORT: u16 = 8000;
/// The gate's read-only metrics and probe port (its admin port, with `POST /reset-pod-alert`,
/// stays on the pod's loopback), and that port's name.
pub const METRICS_PORT: u16 = 9902;
pub const METRICS_NAME: &str = "guard-metrics";
const TOKEN_VOLUME: &str = "rampart-guard-token";
const TOKEN_DIR: &str = "/var/run/secrets/rampart";

/// What the webhook injects with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardInjection {
    /// The gate's image (rampart's).
    pub image: String,
    /// The learner's `/sync` URL.
    pub learner_url: String,
    /// The CA of the learner's certificate (PEM), handed to the gate in its environment.
    pub learner_ca_pem: String,
    /// The audience of the gate's projected token.
    pub audience: String,
}

/// What injecting decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Injected {
    /// Not asked for, or already there.
    No,
    /// The patch operations that add the gate.
    Patch(Vec<PatchOperation>),
    /// Asked for but impossible; the warning says why (the pod is admitted without a gate).
    Skipped(String),
}

fn add(path: String, value: Value) -> Option<PatchOperation> {
    PointerBuf::parse(path)
        .ok()
        .map(|path| PatchOperation::Add(AddOperation { path, value }))
}

/// Whether `pod` asks for the gate, given its namespace's labels.
pub fn asked(pod: &PodSource, ns_labels: &std::collections::BTreeMap<String, String>) -> bool {
    let annotation = pod
        .meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(GUARD))
        .map(String::as_str);
    match annotation {
        Some("enabled") => true,
        Some("disabled") => false,
        _ => ns_labels.get(GUARD).is_some_and(|v| v == "enabled"),
    }
}

/// The operations that add the gate to `pod`.
pub fn patch(
    pod: &PodSource,
    ns_labels: &std::collections::BTreeMap<String, String>,
    inj: &GuardInjection,
) -> Injected {
    if !asked(pod, ns_labels) {
        return Injected::No;
    }
    let spec = &pod.spec;
    if spec.containers.iter().any(|c| c.name == CONTAINER) {
        return Injected::No;
    }
    if spec.host_network == Some(true) {
        return Injected::Skipped(format!(
            "{GUARD}: not injected: the pod shares its node's network (the gate's port would be the node's)"
        ));
    }
    let labels = pod.meta.labels.clone().unwrap_or_default();
    let Some(service) = rampart_guard::lookup::service_of(&labels) else {
        return Injected::Skipped(format!(
            "{GUARD}: not injected: none of the labels {:?} names the pod's service",
            rampart_guard::lookup::SERVICE_LABELS
        ));
    };
    let annotated = pod
        .meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(UPSTREAM))
        .cloned();
    let upstream = match annotated {
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 && p != PORT => p,
            _ => {
                return Injected::Skipped(format!(
                    "{GUARD}: not injected: {UPSTREAM} {p:?} is not a port other than {PORT}"
                ));
            }
        },
        None => match spec
            .containers
            .first()
            .and_then(|c| c.ports.as_ref())
            .and_then(|p| p.first())
            .and_then(|p| u16::try_from(p.container_port).ok())
        {
            Some(p) if p != PORT => p,
            _ => {
                return Injected::Skipped(format!(
                    "{GUARD}: not injected: set {UPSTREAM} to the app's port (the first container declares none, or {PORT})"
                ));
            }
        },
    };
    for port in [PORT, METRICS_PORT] {
        if spec
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .any(|p| p.container_port == i32::from(port))
        {
            return Injected::Skipped(format!(
                "{GUARD}: not injected: port {port} is taken by the pod's own containers"
            ));
        }
    }
    let container = json!({
        "name": CONTAINER,
        "image": inj.image,
        "args": [
            "guard",
            format!("--listen=0.0.0.0:{PORT}"),
            "--admin=127.0.0.1:9901",
            format!("--metrics=0.0.0.0:{METRICS_PORT}"),
            format!("--upstream={upstream}"),
            format!("--service={service}"),
            format!("--learner={}", inj.learner_url),
            format!("--token-file={TOKEN_DIR}/token"),
        ],
        "env": [{"name": "RAMPART_GUARD_LEARNER_CA_PEM", "value": inj.learner_ca_pem}],
        "ports": [
            {"name": CONTAINER, "containerPort": PORT},
            {"name": METRICS_NAME, "containerPort": METRICS_PORT}
        ],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": METRICS_NAME}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": METRICS_NAME}, "periodSeconds": 10},
        "resources": {
            "requests": {"cpu": "50m", "memory": "32Mi"},
            "limits": {"memory": "256Mi"}
        },
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": 65532,
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "privileged": false,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}
        },
        "volumeMounts": [{"name": TOKEN_VOLUME, "mountPath": TOKEN_DIR, "readOnly": true}]
    });
    let volume = json!({
        "name": TOKEN_VOLUME,
        "projected": {"sources": [{"serviceAccountToken": {
            "audience": inj.audience, "expirationSeconds": 3600, "path": "token"}}]}
    });
    let base = pod.spec_pointer;
    let mut ops = Vec::new();
    ops.extend(add(format!("{base}/containers/-"), container));
    match &spec.volumes {
        Some(v) if !v.is_empty() => ops.extend(add(format!("{base}/volumes/-"), volume)),
        _ => ops.extend(add(format!("{base}/volumes"), json!([volume]))),
    }
    Injected::Patch(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn pod(v: Value) -> PodSource {
        let kind = v["kind"].as_str().expect("kind").to_string();
        crate::object::pod_source(&kind, &v)
            .expect("a pod")
            .expect("a pod kind")
    }

    fn inj() -> GuardInjection {
        GuardInjection {
            image: "ghcr.io/rampart-dev/rampart:0.1.0".into(),
            learner_url: "https://rampart-learner.rampart-system.svc:8443/sync".into(),
            learner_ca_pem: "-----BEGIN CERTIFICATE-----\n...".into(),
            audience: "rampart-learner".into(),
        }
    }

    fn apply(v: &Value, ops: Vec<PatchOperation>) -> Value {
        let mut out = v.clone();
        json_patch::patch(&mut out, &json_patch::Patch(ops)).expect("the patch applies");
        out
    }

    #[test]
    fn an_annotated_pod_gets_the_gate_with_its_token_and_service() {
        let v = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "api-1", "labels": {"app": "api"},
                         "annotations": {"rampart.dev/guard": "enabled"}},
            "spec": {"containers": [{"name": "api", "image": "api:1", "ports": [{"containerPort": 8080}]}]}});
        let Injected::Patch(ops) = patch(&pod(v.clone()), &BTreeMap::new(), &inj()) else {
            panic!("injected")
        };
        let out = apply(&v, ops);
        let gate = &out["spec"]["containers"][1];
        assert_eq!(gate["name"], CONTAINER);
        let args: Vec<&str> = gate["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        assert!(
            args.contains(&"--upstream=8080") && args.contains(&"--service=api"),
            "{args:?}"
        );
        assert!(
            args.contains(&"--admin=127.0.0.1:9901") && args.contains(&"--metrics=0.0.0.0:9902"),
            "{args:?}"
        );
        assert_eq!(gate["readinessProbe"]["httpGet"]["port"], METRICS_NAME);
        assert_eq!(gate["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(gate["securityContext"]["capabilities"]["drop"][0], "ALL");
        assert_eq!(
            out["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["audience"],
            "rampart-learner"
        );
        // Mutating the mutated pod adds nothing.
        assert_eq!(patch(&pod(out), &BTreeMap::new(), &inj()), Injected::No);
    }

    #[test]
    fn a_namespace_label_asks_for_every_pod_and_a_pod_may_opt_out() {
        let ns = BTreeMap::from([(GUARD.to_string(), "enabled".to_string())]);
        let template = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api"},
            "spec": {"template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "api"},
                             "annotations": {UPSTREAM: "9090"}},
                "spec": {"containers": [{"name": "api", "image": "api:1"}],
                         "volumes": [{"name": "cache", "emptyDir": {}}]}}}});
        let Injected::Patch(ops) = patch(&pod(template.clone()), &ns, &inj()) else {
            panic!("injected")
        };
        let out = apply(&template, ops);
        let spec = &out["spec"]["template"]["spec"];
        assert!(
            spec["containers"][1]["args"]
                .to_string()
                .contains("--upstream=9090")
        );
        assert_eq!(spec["volumes"][1]["name"], TOKEN_VOLUME);
        let mut opted_out = template.clone();
        opted_out["spec"]["template"]["metadata"]["annotations"][GUARD] = "disabled".into();
        assert_eq!(patch(&pod(opted_out), &ns, &inj()), Injected::No);
        assert_eq!(
            patch(&pod(template), &BTreeMap::new(), &inj()),
            Injected::No
        );
    }

    #[test]
    fn what_cannot_be_guarded_is_admitted_with_a_warning() {
        let base = |meta: Value, spec: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec});
        let on = json!({"rampart.dev/guard": "enabled"});
        for (v, why) in [
            (
                base(
                    json!({"name": "x", "annotations": on}),
                    json!({"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}),
                ),
                "names the pod's service",
            ),
            (
                base(
                    json!({"name": "x", "labels": {"app": "x"}, "annotations": on}),
                    json!({"containers": [{"name": "c", "image": "i"}]}),
                ),
                "set rampart.dev/guard-upstream",
            ),
            (
                base(
                    json!({"name": "x", "labels": {"app": "x"}, "annotations": {"rampart.dev/guard": "enabled", "rampart.dev/guard-upstream": "http"}}),
                    json!({"containers": [{"name": "c", "image": "i"}]}),
                ),
                "is not a port",
            ),
            (
                base(
                    json!({"name": "x", "labels": {"app": "x"}, "annotations": on}),
                    json!({"hostNetwork": true, "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}),
                ),
                "node's network",
            ),
            (
                base(
                    json!({"name": "x", "labels": {"app": "x"}, "annotations": on}),
                    json!({"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}, {"containerPort": 8000}]}]}),
                ),
                "port 8000 is taken",
            ),
        ] {
            match patch(&pod(v), &BTreeMap::new(), &inj()) {
                Injected::Skipped(w) => assert!(w.contains(why), "{w}"),
                other => panic!("{why}: {other:?}"),
            }
        }
    }
}
