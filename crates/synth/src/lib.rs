//! Deterministic synthetic clusters: the same [`Config`] (seed included) always yields the same
//! `kubectl get -A -o json`-style dump, byte for byte. Proportions follow what real clusters
//! show: ~5 pods per workload, ~33 pods per namespace, a NetworkPolicy per 10 pods, a
//! RoleBinding per 2 pods, and live-dump bulk (`managedFields`, `status`) on every pod.

use serde_json::{Value, json};

/// A tiny deterministic PRNG (SplitMix64); randomness is an input, never ambient.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % (n.max(1) as u64)) as usize
    }
    /// True with probability `p` percent.
    pub fn percent(&mut self, p: u32) -> bool {
        self.below(100) < p as usize
    }
    fn hash(&mut self, len: usize) -> String {
        const A: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..len).map(|_| A[self.below(A.len())] as char).collect()
    }
}

/// How the cluster's NetworkPolicies are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// A policy per 10 pods, most of them naming one app or one tier of their own namespace
    /// (a quarter name a team's namespaces).
    #[default]
    Sparse,
    /// Policy-dense: 5 pods per Deployment, 7 workloads per namespace, a default deny in a
    /// third of the namespaces, and one workload in five guarded by a policy that admits its
    /// namespace's `tier: web` pods or every pod of one of 40 teams' namespaces, monitoring
    /// admitted everywhere on the metrics port; per-team allowlists, egress restricted to DNS,
    /// shared services and public HTTPS in a fifth of the namespaces, `ipBlock`s from a load
    /// balancer range.
    Dense,
}

impl Shape {
    /// Parses `sparse` or `dense`.
    pub fn parse(s: &str) -> Option<Shape> {
        match s {
            "sparse" => Some(Shape::Sparse),
            "dense" => Some(Shape::Dense),
            _ => None,
        }
    }

    /// Sparse for even seeds, dense for odd ones: property tests over seeds cover both.
    pub fn by_parity(seed: u64) -> Shape {
        if seed.is_multiple_of(2) {
            Shape::Sparse
        } else {
            Shape::Dense
        }
    }

    /// The name [`Shape::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Sparse => "sparse",
            Shape::Dense => "dense",
        }
    }
}

/// Shape of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Pods (approximately; rounded to whole workloads).
    pub pods: usize,
    /// PRNG seed.
    pub seed: u64,
    /// Policy layout.
    pub shape: Shape,
}

impl Config {
    /// The default proportions for a pod count.
    pub fn with_pods(pods: usize) -> Config {
        Config {
            pods,
            seed: 42,
            shape: Shape::Sparse,
        }
    }

    /// The same cluster from another seed.
    pub fn seeded(self, seed: u64) -> Config {
        Config { seed, ..self }
    }

    /// The same cluster size and seed in another shape.
    pub fn shaped(self, shape: Shape) -> Config {
        Config { shape, ..self }
    }
    fn namespaces(&self) -> usize {
        (self.pods * 3 / 100).max(2)
    }
    fn workloads(&self) -> usize {
        (self.pods / 5).max(2)
    }
    fn nodes(&self) -> usize {
        (self.pods / 30).max(1)
    }
}

const PORTS: &[(&str, u16)] = &[
    ("http", 8080),
    ("grpc", 9000),
    ("metrics", 9090),
    ("pg", 5432),
    ("redis", 6379),
    ("http", 3000),
];

fn managed_fields(manager: &str) -> Value {
    json!([{
        "apiVersion": "v1", "fieldsType": "FieldsV1", "manager": manager, "operation": "Update",
        "time": "2026-11-01T10:00:00Z",
        "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}}, "f:ownerReferences": {".": {}}},
                     "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:ports": {}, "f:resources": {}}},
                                "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}
    }])
}

/// Where one workload goes and what it is called.
#[derive(Clone, Copy)]
struct At<'a> {
    ns: &'a str,
    /// Namespace index.
    i: usize,
    /// Workload index in the namespace.
    w: usize,
    app: &'a str,
    replicas: usize,
    /// The `tier` label of the namespace's first of every three workloads, and of the others.
    tiers: [&'a str; 2],
}

/// One workload: its controller (and ReplicaSet), pods on random nodes, a Service (exposed
/// now and then) and sometimes an Ingress. Returns the port it serves (name, number).
fn workload(
    out: &mut Vec<Value>,
    r: &mut Rng,
    nodes: &[String],
    at: &At<'_>,
) -> (&'static str, u16) {
    let At {
        ns,
        i,
        w,
        app,
        replicas,
        tiers,
    } = *at;
    let (pname, port) = PORTS[r.below(PORTS.len())];
    let sa = format!("sa-{}", r.below(3));
    let mut env = vec![json!({"name": "LOG_LEVEL", "value": "info"})];
    if r.percent(30) {
        env.push(json!({"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": format!("secret-{}", r.below(5)), "key": "password"}}}));
    }
    let mut sc = json!({"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true});
    let mut volumes = vec![];
    let mut mounts = vec![];
    if r.percent(2) {
        sc = json!({"privileged": true});
    }
    if r.percent(20) {
        volumes.push(
            json!({"name": "creds", "secret": {"secretName": format!("secret-{}", r.below(5))}}),
        );
        mounts.push(json!({"name": "creds", "mountPath": "/var/run/creds", "readOnly": true}));
    }
    if r.percent(1) {
        volumes.push(json!({"name": "host", "hostPath": {"path": "/var/log"}}));
        mounts.push(json!({"name": "host", "mountPath": "/host/log"}));
    }
    let container = json!({
        "name": "app", "image": format!("registry.example.com/{ns}/{app}:1.{w}.0"), "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": pname, "containerPort": port, "protocol": "TCP"}],
        "env": env, "volumeMounts": mounts, "securityContext": sc,
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
    });
    let spec = json!({
        "serviceAccountName": sa, "containers": [container], "volumes": volumes,
        "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
        "securityContext": {}, "terminationGracePeriodSeconds": 30,
    });
    let labels = json!({"app": app, "tier": tiers[usize::from(w % 3 != 0)]});
    let stateful = r.percent(10);
    let (kind, owner_kind) = if stateful {
        ("StatefulSet", "StatefulSet")
    } else {
        ("Deployment", "ReplicaSet")
    };
    let hash = r.hash(10);
    out.push(json!({
        "apiVersion": "apps/v1", "kind": kind,
        "metadata": {"name": app, "namespace": ns, "uid": format!("{ns}-{app}"), "labels": labels.clone(),
                     "annotations": {"deployment.kubernetes.io/revision": "3"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                 "template": {"metadata": {"labels": labels.clone()}, "spec": spec.clone()}},
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "observedGeneration": 3},
    }));
    let owner_name = if stateful {
        app.to_string()
    } else {
        let rs = format!("{app}-{hash}");
        out.push(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs, "namespace": ns, "labels": {"app": app, "pod-template-hash": hash},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": app, "uid": format!("{ns}-{app}"), "controller": true}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                     "template": {"metadata": {"labels": labels.clone()}, "spec": spec.clone()}},
        }));
        rs
    };
    for p in 0..replicas {
        let mut pl = labels.clone();
        if stateful {
            pl["statefulset.kubernetes.io/pod-name"] = json!(format!("{app}-{p}"));
        } else {
            pl["pod-template-hash"] = json!(hash);
        }
        let pod_name = if stateful {
            format!("{app}-{p}")
        } else {
            format!("{owner_name}-{}", r.hash(5))
        };
        let mut pspec = spec.clone();
        pspec["nodeName"] = json!(nodes[r.below(nodes.len())]);
        out.push(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": ns, "labels": pl, "uid": format!("uid-{ns}-{pod_name}"),
                         "resourceVersion": format!("{}", 100000 + r.below(900000)),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner_kind, "name": owner_name, "uid": "x", "controller": true, "blockOwnerDeletion": true}],
                         "managedFields": managed_fields("kube-controller-manager")},
            "spec": pspec,
            "status": {"phase": "Running", "podIP": format!("10.{}.{}.{}", i % 250, w % 250, p % 250), "hostIP": "192.168.0.10",
                       "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
                       "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "registry.example.com/app", "imageID": "sha256:0123456789abcdef", "started": true}]},
        }));
    }
    let exposed = r.percent(4);
    out.push(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": app, "namespace": ns},
        "spec": {"type": if exposed { "LoadBalancer" } else { "ClusterIP" }, "selector": {"app": app},
                 "ports": [{"name": pname, "port": 80, "targetPort": pname, "protocol": "TCP"}]},
    }));
    if w == 0 && r.percent(30) {
        out.push(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": format!("{app}-public"), "namespace": ns},
            "spec": {"rules": [{"host": format!("{app}.{ns}.example.com"), "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": app, "port": {"number": 80}}}}]}}]},
        }));
    }
    (pname, port)
}

/// A namespace's Roles and `bindings` RoleBindings to its ServiceAccounts and to users.
fn rbac(out: &mut Vec<Value>, r: &mut Rng, ns: &str, bindings: usize) {
    out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "config-reader", "namespace": ns},
                    "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]}));
    out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "secret-reader", "namespace": ns},
                    "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["secret-0"]}]}));
    out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "debugger", "namespace": ns},
                    "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}]}));
    for b in 0..bindings {
        let role = match r.below(20) {
            0 => "secret-reader",
            1 => "debugger",
            _ => "config-reader",
        };
        out.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": format!("binding-{b}"), "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": format!("sa-{}", r.below(3)), "namespace": ns},
                         {"kind": "User", "name": format!("dev{}@example.com", r.below(500))}],
        }));
    }
}

/// Generates the dump's items.
pub fn items(cfg: &Config) -> Vec<Value> {
    match cfg.shape {
        Shape::Sparse => sparse(cfg),
        Shape::Dense => dense(cfg),
    }
}

/// The sparse shape ([`Shape::Sparse`]).
fn sparse(cfg: &Config) -> Vec<Value> {
    let mut r = Rng::new(cfg.seed);
    let mut out = Vec::new();
    let nss: Vec<String> = (0..cfg.namespaces())
        .map(|i| format!("team{:03}", i))
        .collect();
    let nodes: Vec<String> = (0..cfg.nodes()).map(|i| format!("node-{i:04}")).collect();
    for n in &nodes {
        out.push(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}}}));
    }
    for (i, ns) in nss.iter().enumerate() {
        let mut labels = json!({"team": format!("t{}", i % 40), "env": if i % 3 == 0 { "staging" } else { "prod" }});
        if r.percent(20) {
            labels["pod-security.kubernetes.io/enforce"] = json!("baseline");
        }
        out.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}));
        for s in 0..3 {
            out.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": format!("sa-{s}"), "namespace": ns}}));
        }
        for s in 0..(cfg.pods / 2 / nss.len()).max(1) {
            out.push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("secret-{s}"), "namespace": ns}, "type": "Opaque", "data": {"password": "c3ludGhldGlj"}}));
        }
    }
    let per_ns = cfg.workloads().div_ceil(nss.len());
    let mut pods_left = cfg.pods;
    for (i, ns) in nss.iter().enumerate() {
        let apps: Vec<String> = (0..per_ns).map(|w| format!("app{w}")).collect();
        for (w, app) in apps.iter().enumerate() {
            if pods_left == 0 {
                break;
            }
            let replicas = (1 + r.below(9)).min(pods_left);
            pods_left -= replicas;
            workload(
                &mut out,
                &mut r,
                &nodes,
                &At {
                    ns,
                    i,
                    w,
                    app,
                    replicas,
                    tiers: ["frontend", "backend"],
                },
            );
        }
        // NetworkPolicies: default deny in most namespaces, then app-to-app allows.
        let policies = (cfg.pods / 10 / nss.len()).max(1);
        if r.percent(60) {
            out.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "default-deny", "namespace": ns}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}));
        }
        for p in 0..policies {
            let dst = &apps[r.below(apps.len())];
            let src = &apps[r.below(apps.len())];
            let from = match r.below(4) {
                0 => {
                    json!([{"namespaceSelector": {"matchLabels": {"team": format!("t{}", r.below(40))}}}])
                }
                1 => {
                    json!([{"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend"]}]}}])
                }
                2 => json!([{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]),
                _ => json!([{"podSelector": {"matchLabels": {"app": src}}}]),
            };
            out.push(json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": format!("allow-{p}"), "namespace": ns},
                "spec": {"podSelector": {"matchLabels": {"app": dst}}, "ingress": [{"from": from, "ports": [{"port": 8080}, {"port": "grpc"}]}]},
            }));
        }
        // RBAC.
        rbac(&mut out, &mut r, ns, (cfg.pods / 2 / nss.len()).max(1));
    }
    out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "ops-admin"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                    "subjects": [{"kind": "ServiceAccount", "name": "sa-2", "namespace": nss[nss.len() / 2]}]}));
    out
}

/// The dense shape ([`Shape::Dense`]).
fn dense(cfg: &Config) -> Vec<Value> {
    const TEAMS: usize = 40;
    const PER_NS: usize = 7;
    const REPLICAS: usize = 5;
    let mut r = Rng::new(cfg.seed);
    let mut out = Vec::new();
    let nodes: Vec<String> = (0..cfg.nodes()).map(|i| format!("node-{i:04}")).collect();
    for n in &nodes {
        out.push(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}}}));
    }
    let namespace = |out: &mut Vec<Value>, ns: &str, mut labels: Value| {
        labels["kubernetes.io/metadata.name"] = json!(ns);
        out.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}));
        for s in 0..3 {
            out.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": format!("sa-{s}"), "namespace": ns}}));
        }
        for s in 0..5 {
            out.push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("secret-{s}"), "namespace": ns}, "type": "Opaque", "data": {"password": "c3ludGhldGlj"}}));
        }
    };
    let policy = |out: &mut Vec<Value>, ns: &str, name: &str, spec: Value| {
        out.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}, "spec": spec}));
    };
    // What every team namespace relies on: cluster DNS, monitoring, shared services (admitted
    // from every namespace).
    let shared = [
        ("kube-system", "kube-dns"),
        ("monitoring", "prometheus"),
        ("shared", "auth"),
        ("shared", "cache"),
    ];
    for (i, (ns, app)) in shared.iter().enumerate() {
        if i == 0 || shared[i - 1].0 != *ns {
            namespace(&mut out, ns, json!({}));
        }
        let at = At {
            ns,
            i,
            w: 1,
            app,
            replicas: 2,
            tiers: ["platform", "platform"],
        };
        workload(&mut out, &mut r, &nodes, &at);
    }
    policy(
        &mut out,
        "shared",
        "from-every-namespace",
        json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}),
    );

    let workloads = (cfg.pods / REPLICAS).max(2);
    let nss: Vec<String> = (0..workloads.div_ceil(PER_NS))
        .map(|i| format!("team{i:04}"))
        .collect();
    let mut pods_left = cfg.pods;
    for (i, ns) in nss.iter().enumerate() {
        let team = format!("t{}", i % TEAMS);
        namespace(
            &mut out,
            ns,
            json!({"team": team, "env": if i % 3 == 0 { "staging" } else { "prod" }}),
        );
        let mut served: Vec<(String, u16)> = Vec::new();
        for w in 0..PER_NS {
            if pods_left == 0 {
                break;
            }
            let replicas = REPLICAS.min(pods_left);
            pods_left -= replicas;
            let app = format!("app{w}");
            let at = At {
                ns,
                i,
                w,
                app: &app,
                replicas,
                tiers: ["web", "backend"],
            };
            let (_, port) = workload(&mut out, &mut r, &nodes, &at);
            served.push((app, port));
        }
        if i % 3 == 0 {
            policy(
                &mut out,
                ns,
                "default-deny",
                json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
            );
        }
        // One workload in five: its namespace's web tier or a team's namespaces, and
        // monitoring on the metrics port.
        for (app, port) in &served {
            if !r.percent(20) {
                continue;
            }
            let from_team = format!("t{}", r.below(TEAMS));
            policy(
                &mut out,
                ns,
                &format!("guard-{app}"),
                json!({
                    "podSelector": {"matchLabels": {"app": app}},
                    "ingress": [
                        {"from": [{"podSelector": {"matchLabels": {"tier": "web"}}},
                                  {"namespaceSelector": {"matchLabels": {"team": from_team}}}],
                         "ports": [{"port": port}]},
                        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                                   "podSelector": {"matchLabels": {"app": "prometheus"}}}],
                         "ports": [{"port": 9090}]},
                    ],
                }),
            );
        }
        // Per-team allowlists.
        if i % 4 == 1 {
            policy(
                &mut out,
                ns,
                "allow-team",
                json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": team}}}]}]}),
            );
        }
        // Egress to DNS, the shared services, the namespace itself and public HTTPS.
        if i % 5 == 2 {
            policy(
                &mut out,
                ns,
                "egress-shared",
                json!({
                    "podSelector": {}, "policyTypes": ["Egress"],
                    "egress": [
                        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                 "podSelector": {"matchLabels": {"app": "kube-dns"}}}],
                         "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
                        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shared"}}}]},
                        {"to": [{"podSelector": {}}]},
                        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
                         "ports": [{"port": 443}]},
                    ],
                }),
            );
        }
        // The web tier admits a load balancer's range.
        if i % 7 == 3 {
            policy(
                &mut out,
                ns,
                "allow-lb",
                json!({"podSelector": {"matchLabels": {"tier": "web"}}, "ingress": [{"from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]}]}),
            );
        }
        rbac(&mut out, &mut r, ns, 10);
    }
    out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "ops-admin"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                    "subjects": [{"kind": "ServiceAccount", "name": "sa-2", "namespace": nss[nss.len() / 2]}]}));
    out
}

/// The dump as `kubectl get -A -o json` prints it: one `kind: List`.
pub fn dump_json(cfg: &Config) -> String {
    let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items(cfg)});
    serde_json::to_string(&list).unwrap_or_default()
}

/// Parses a generated dump into a snapshot (for benchmarks and tests).
pub fn snapshot(cfg: &Config) -> rampart_model::Snapshot {
    let text = dump_json(cfg);
    let parsed = rampart_model::parse_source(
        "synthetic.json",
        &text,
        &rampart_model::ParseLimits::default(),
    );
    rampart_model::Snapshot::from_objects(parsed.objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_proportioned() {
        let cfg = Config::with_pods(1000);
        assert_eq!(dump_json(&cfg), dump_json(&cfg));
        let s = snapshot(&cfg);
        let w = rampart_model::Workloads::build(&s);
        let pods = s.pods().count();
        assert!((900..=1000).contains(&pods), "{pods}");
        assert!(w.list.len() >= 150, "{}", w.list.len());
        assert!(s.network_policies().count() >= 60);
        assert!(s.bindings().count() >= 400);
        assert_ne!(
            dump_json(&Config::with_pods(1000).seeded(7)),
            dump_json(&cfg)
        );
    }
}
