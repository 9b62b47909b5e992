//! Fixtures shared by rampart's admission benchmarks: a realistic Pod (three containers) as an
//! AdmissionReview, the webhook state (namespace enforcing Pod Security `restricted`, one
//! ClusterSecurityPolicy with ten rules), and the same checks in Rego for the regorus peer.

use std::time::Duration;

use rampart_http::admission::AdmissionState;
use serde_json::{Value, json};

/// The Rego twin of the checks (Pod Security restricted + the ten rules).
pub const REGO: &str = include_str!("../rego/rampart.rego");

/// The ten CEL rules of [`cel_policy`] in Rego (`data.celrules.violation`).
pub const CEL_REGO: &str = include_str!("../rego/cel_rules.rego");

/// A production-like Pod: app, sidecar and init container, probes, resources, volumes; it passes
/// every check (the common case at admission).
pub fn pod() -> Value {
    let sc = json!({"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                    "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": true});
    let res =
        json!({"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}});
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "checkout-7d9f8b6c5-x2x7q", "namespace": "shop", "generateName": "checkout-7d9f8b6c5-",
            "labels": {"app": "checkout", "pod-template-hash": "7d9f8b6c5", "team": "payments", "version": "2.4.1"},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "checkout-7d9f8b6c5", "uid": "2f1c", "controller": true}]},
        "spec": {
            "serviceAccountName": "checkout",
            "securityContext": {"runAsNonRoot": true, "runAsUser": 10001, "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [{"name": "migrate", "image": "registry.acme.example/checkout-migrate:2.4.1",
                "command": ["/migrate", "--up"], "securityContext": sc, "resources": res,
                "envFrom": [{"configMapRef": {"name": "checkout-config"}}]}],
            "containers": [
                {"name": "app", "image": "registry.acme.example/checkout:2.4.1",
                 "ports": [{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}],
                 "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                 "resources": res, "securityContext": sc,
                 "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                 "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5},
                 "volumeMounts": [{"name": "config", "mountPath": "/etc/checkout", "readOnly": true},
                                  {"name": "tmp", "mountPath": "/tmp"}, {"name": "db", "mountPath": "/var/run/secrets/db", "readOnly": true}]},
                {"name": "proxy", "image": "registry.acme.example/envoy:1.30.2",
                 "ports": [{"name": "proxy", "containerPort": 15001}],
                 "resources": res, "securityContext": sc,
                 "volumeMounts": [{"name": "logs", "mountPath": "/var/log/envoy", "readOnly": true}]}],
            "volumes": [{"name": "config", "configMap": {"name": "checkout-config"}},
                        {"name": "tmp", "emptyDir": {}},
                        {"name": "db", "secret": {"secretName": "checkout-db"}},
                        {"name": "logs", "emptyDir": {}}]}})
}

/// The pod wrapped in an AdmissionReview v1 (CREATE).
pub fn review(pod: &Value) -> String {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "3f2b8c1e-6a1d-4c3e-9a1f-0c5d2e7b9a10",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "shop", "name": pod["metadata"]["name"], "operation": "CREATE",
        "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                     "uid": "a1", "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]},
        "object": pod, "oldObject": null, "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}}})
    .to_string()
}

/// The ClusterSecurityPolicy with the benchmark's ten rules.
pub fn policy() -> Value {
    json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "ClusterSecurityPolicy", "metadata": {"name": "bench"},
        "spec": {"rules": [
            {"name": "registry", "conditions": [{"allowedRegistries": ["registry.acme.example/"]}]},
            {"name": "pinned", "conditions": [{"disallowLatestTag": true}]},
            {"name": "non-root", "conditions": [{"disallowRoot": true}]},
            {"name": "privileged", "conditions": [{"disallowPrivileged": true}]},
            {"name": "host-namespaces", "conditions": [{"disallowHostNamespaces": true}]},
            {"name": "host-paths", "conditions": [{"allowedHostPaths": [{"pathPrefix": "/var/log", "readOnly": true}]}]},
            {"name": "escalation", "conditions": [{"disallowPrivilegeEscalation": true}]},
            {"name": "capabilities", "conditions": [{"allowedCapabilities": ["NET_BIND_SERVICE"]}]},
            {"name": "resources", "conditions": [{"requireResources": {"requests": ["cpu", "memory"], "limits": ["memory"]}}]},
            {"name": "secret-env", "conditions": [{"disallowSecretEnv": true}]}]}})
}

/// A ClusterSecurityPolicy of ten CEL rules over the same pod (each one it passes): the cost of
/// CEL beside the built-in conditions.
pub fn cel_policy() -> Value {
    let c = "(has(object.spec.initContainers) ? object.spec.initContainers : []) + object.spec.containers";
    let rule = |name: &str, expression: String| {
        json!({"name": name, "variables": [{"name": "containers", "expression": c}],
               "conditions": [{"cel": {"expression": expression}}]})
    };
    json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "ClusterSecurityPolicy", "metadata": {"name": "bench-cel"},
        "spec": {"rules": [
            rule("registry", "variables.containers.all(c, c.image.startsWith('registry.acme.example/'))".into()),
            rule("pinned", "variables.containers.all(c, !c.image.endsWith(':latest') && c.image.contains(':'))".into()),
            rule("memory-cap", "variables.containers.all(c, !has(c.resources.limits.memory) || quantity(c.resources.limits.memory).compareTo(quantity('1Gi')) <= 0)".into()),
            rule("cpu-request", "variables.containers.all(c, has(c.resources.requests) && 'cpu' in c.resources.requests)".into()),
            rule("non-root", "(has(object.spec.securityContext.runAsNonRoot) && object.spec.securityContext.runAsNonRoot) || variables.containers.all(c, has(c.securityContext.runAsNonRoot) && c.securityContext.runAsNonRoot)".into()),
            rule("team", "has(object.metadata.labels) && 'team' in object.metadata.labels && object.metadata.labels['team'].matches('^[a-z][a-z0-9-]*$')".into()),
            rule("no-host-path", "!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.hostPath))".into()),
            rule("ports", "object.spec.containers.all(c, !has(c.ports) || c.ports.all(p, p.containerPort >= 1024 && p.containerPort < 32768))".into()),
            rule("read-only-root", "variables.containers.all(c, has(c.securityContext.readOnlyRootFilesystem) && c.securityContext.readOnlyRootFilesystem)".into()),
            rule("no-secret-env", "variables.containers.all(c, !has(c.env) || c.env.all(e, !has(e.valueFrom) || !has(e.valueFrom.secretKeyRef)))".into())]}})
}

/// Webhook state: `shop` enforces restricted, the bench policy is loaded.
pub fn state() -> AdmissionState {
    state_with(&[policy()])
}

/// Webhook state with the built-in bench policy and the ten CEL rules ([`cel_policy`]).
pub fn state_with_cel() -> AdmissionState {
    state_with(&[policy(), cel_policy()])
}

fn state_with(policies: &[Value]) -> AdmissionState {
    let s = AdmissionState::default();
    if let Ok(mut ns) = s.namespaces.write() {
        ns.insert(
            "shop".into(),
            [
                (
                    "kubernetes.io/metadata.name".to_string(),
                    "shop".to_string(),
                ),
                (
                    "pod-security.kubernetes.io/enforce".to_string(),
                    "restricted".to_string(),
                ),
            ]
            .into(),
        );
    }
    for policy in policies {
        match rampart_policy::source::policy_from_value(policy, "default") {
            Some(Ok(p)) => {
                if let Ok(mut set) = s.policies.write() {
                    set.upsert(p)
                        .unwrap_or_else(|e| panic!("bench policy invalid: {e:?}"));
                }
            }
            other => panic!("bench policy unreadable: {:?}", other.map(|r| r.err())),
        }
    }
    s.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    s
}

/// Median and 99th percentile of a sample.
pub fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

/// Work of a known kind and length for reading a tail against: parsing the same JSON the code
/// under test reads into a `serde_json::Value` and dropping it, as many times as fit its median,
/// topped up with a small document. Timed between the calls of the code under test, its p99 is
/// what this machine adds at those moments to parsing, allocating work of that length and
/// working set: on a VM, the host taking the vCPU away, its timer ticks, and phases where
/// memory-bound code runs slower (which plain arithmetic does not show).
#[derive(Debug, Clone, Copy)]
pub struct Floor<'a> {
    doc: &'a str,
    whole: usize,
    small: usize,
}

/// The top-up: an object of mixed members (~400 bytes).
const SMALL_DOC: &str = r#"{"uid":"3f2b8c1e-6a1d-4c3e-9a1f-0c5d2e7b9a10","kind":{"group":"","version":"v1","kind":"Pod"},"namespace":"shop","operation":"CREATE","userInfo":{"username":"system:serviceaccount:kube-system:replicaset-controller","uid":"a1","groups":["system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"]},"labels":{"app":"checkout","team":"payments","version":"2.4.1"},"ports":[8080,9090,15001],"dryRun":false}"#;

impl<'a> Floor<'a> {
    /// A floor over `doc` whose median takes about `median`.
    pub fn calibrated(doc: &'a str, median: Duration) -> Floor<'a> {
        let median_of = |f: &Floor| {
            let runs = (0..301).map(|_| timed(|| f.run())).collect();
            percentiles(runs).0.as_secs_f64().max(1e-9)
        };
        let one = median_of(&Floor {
            doc,
            whole: 1,
            small: 0,
        });
        let target = median.as_secs_f64();
        let whole = (target / one).floor() as usize;
        let mut floor = Floor {
            doc,
            whole,
            small: 1,
        };
        let small = median_of(&Floor {
            doc,
            whole: 0,
            small: 1,
        });
        floor.small = ((target - whole as f64 * one) / small).round().max(0.0) as usize;
        // A few rounds of measuring and scaling the top-up: one measurement can fall in a slow
        // phase.
        for _ in 0..3 {
            let off = target - median_of(&floor);
            let small = (floor.small as f64 + off / small).round().max(0.0) as usize;
            floor.small = small;
        }
        floor
    }

    /// Does the work once.
    pub fn run(&self) {
        let parse = |doc: &str| {
            let v: Result<Value, _> = serde_json::from_str(std::hint::black_box(doc));
            std::hint::black_box(v.ok());
        };
        (0..self.whole).for_each(|_| parse(self.doc));
        (0..self.small).for_each(|_| parse(SMALL_DOC));
    }
}

/// How long one call of `f` took.
pub fn timed(f: impl FnOnce()) -> Duration {
    let t = std::time::Instant::now();
    f();
    t.elapsed()
}

/// `n` timings of `f` and `n` of `floor`, taken in turns of 50 each: both see the same moments
/// of the machine (its slow phases last milliseconds or longer), and a turn is long enough that
/// the floor's allocations do not stand in the caches of every call of `f`.
pub fn timed_beside(
    n: usize,
    floor: Floor<'_>,
    f: &mut dyn FnMut(),
) -> (Vec<Duration>, Vec<Duration>) {
    const TURN: usize = 50;
    let (mut fs, mut floors) = (Vec::with_capacity(n), Vec::with_capacity(n));
    while fs.len() < n {
        let turn = TURN.min(n - fs.len());
        fs.extend((0..turn).map(|_| timed(&mut *f)));
        floors.extend((0..turn).map(|_| timed(|| floor.run())));
    }
    (fs, floors)
}

/// One memory line of `/proc/PROCESS/status` (`process`: a pid, or `self`), in MiB (the file
/// says KiB); 0 when it cannot be read.
pub fn status_mib(process: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{process}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}
