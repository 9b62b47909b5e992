//! Runtime evidence on chains: a pod's behaviour corroborates the chains through its workload,
//! a Secret read by a shared ServiceAccount corroborates the identity's steps and names every
//! candidate workload, and expiry takes the corroboration away.

#![allow(clippy::unwrap_used)]

use rampart_graph::{Options, analyze};
use rampart_model::{ParseLimits, Snapshot, parse_source};
use rampart_signals::audit::{AllowList, parse_body as parse_audit};
use rampart_signals::behaviour::Mapping;
use rampart_signals::corroborate::corroborate;
use rampart_signals::falco::parse_alert;
use rampart_signals::observe::{Store, from_alert, from_read};

/// `web` is exposed and runs as `shared`, which may read Secrets; `worker` also runs as
/// `shared` but is not exposed.
const CLUSTER: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {serviceAccountName: shared, containers: [{name: c, image: nginx, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: worker-1, namespace: shop, labels: {app: worker}}
spec: {serviceAccountName: shared, containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: shared, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: read-secrets, namespace: shop}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read-secrets, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-secrets}
subjects: [{kind: ServiceAccount, name: shared, namespace: shop}]
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
"#;

fn analysis() -> (rampart_graph::Analysis, Snapshot) {
    let s =
        Snapshot::from_objects(parse_source("c.yaml", CLUSTER, &ParseLimits::default()).objects);
    (analyze(&s, &Options::default()), s)
}

#[test]
fn a_shell_in_the_exposed_pod_corroborates_its_chains_until_it_expires() {
    let (a, snap) = analysis();
    assert!(!a.proof.chains.is_empty());
    let alert = parse_alert(
        br#"{"rule":"Terminal shell in container","priority":"Notice","tags":["container","shell"],
            "output_fields":{"k8s.ns.name":"shop","k8s.pod.name":"web-1","proc.cmdline":"bash"}}"#,
    )
    .unwrap();
    let mut store = Store::new(300, 100);
    store.insert(from_alert(&alert, &Mapping::default()).unwrap(), 1000);
    let c = corroborate(&a, &snap, &store.active(1000));
    assert_eq!(
        c.len(),
        a.proof.chains.len(),
        "every chain enters through web"
    );
    let ev = c.values().next().unwrap();
    assert_eq!(ev[0].behaviour, "shell_in_container");
    assert!(ev[0].at.contains("web"), "{ev:?}");
    assert!(ev[0].candidates.is_empty(), "a pod is exact");
    // An alert for a pod the model does not know corroborates nothing.
    let stranger = parse_alert(
        br#"{"rule":"Terminal shell in container","priority":"Notice","output_fields":{"k8s.ns.name":"shop","k8s.pod.name":"ghost"}}"#,
    )
    .unwrap();
    let mut other = Store::new(300, 100);
    other.insert(from_alert(&stranger, &Mapping::default()).unwrap(), 1000);
    assert!(corroborate(&a, &snap, &other.active(1000)).is_empty());
    // Expired: nothing corroborates any more.
    assert!(corroborate(&a, &snap, &store.active(1300)).is_empty());
}

#[test]
fn a_secret_read_by_a_shared_account_keeps_the_ambiguity() {
    let (a, snap) = analysis();
    let body = br#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"x","stage":"ResponseComplete","verb":"get",
        "user":{"username":"system:serviceaccount:shop:shared"},
        "objectRef":{"resource":"secrets","namespace":"shop","name":"db","apiVersion":"v1"},
        "responseStatus":{"code":200}}"#;
    let reads = parse_audit(body, &AllowList::default()).unwrap().reads;
    let mut store = Store::new(300, 100);
    store.insert(from_read(&reads[0]), 5);
    let c = corroborate(&a, &snap, &store.active(5));
    let secret_chains: Vec<_> = c.values().flatten().collect();
    assert!(
        !secret_chains.is_empty(),
        "the identity is on the chains to the secret"
    );
    for ev in secret_chains {
        assert!(ev.at.contains("ServiceAccount"), "{ev:?}");
        let mut cands = ev.candidates.clone();
        cands.sort();
        assert_eq!(
            cands,
            vec![
                "shop/web-1[Pod]".to_string(),
                "shop/worker-1[Pod]".to_string()
            ]
        );
    }
    // With the pod named by the apiserver, the exact workload is known.
    let named = String::from_utf8_lossy(body).replace(
        r#""username":"system:serviceaccount:shop:shared""#,
        r#""username":"system:serviceaccount:shop:shared","extra":{"authentication.kubernetes.io/pod-name":["web-1"]}"#,
    );
    let reads = parse_audit(named.as_bytes(), &AllowList::default())
        .unwrap()
        .reads;
    assert_eq!(reads[0].pod.as_deref(), Some("web-1"));
    let mut store = Store::new(300, 100);
    store.insert(from_read(&reads[0]), 5);
    let c = corroborate(&a, &snap, &store.active(5));
    assert!(c.values().flatten().all(|e| e.candidates.is_empty()));
    assert!(c.values().flatten().any(|e| e.at.contains("web-1")));
}

#[test]
fn an_alert_naming_only_a_container_is_attributed_through_the_pod_statuses() {
    let with_status = CLUSTER.replace(
        "spec: {serviceAccountName: shared, containers: [{name: c, image: nginx, ports: [{containerPort: 8080}]}]}",
        "spec: {serviceAccountName: shared, containers: [{name: c, image: nginx, ports: [{containerPort: 8080}]}]}\nstatus: {containerStatuses: [{name: c, containerID: 'containerd://ee97d9c4186f0123456789abcdef'}]}",
    );
    assert_ne!(with_status, CLUSTER);
    let s = Snapshot::from_objects(
        parse_source("c.yaml", &with_status, &ParseLimits::default()).objects,
    );
    let a = analyze(&s, &Options::default());
    let alert = parse_alert(
        br#"{"rule":"Terminal shell in container","priority":"Notice","output_fields":{"container.id":"ee97d9c4186f"}}"#,
    )
    .unwrap();
    let o = from_alert(&alert, &Mapping::default()).unwrap();
    let mut store = Store::new(300, 100);
    store.insert(o, 1);
    let c = corroborate(&a, &s, &store.active(1));
    assert_eq!(c.len(), a.proof.chains.len(), "the container is web-1's");
    assert!(c.values().flatten().all(|e| e.at.contains("web-1")));
    // Unknown containers and Falco's `host` attribute nothing.
    let host = parse_alert(
        br#"{"rule":"Terminal shell in container","priority":"Notice","output_fields":{"container.id":"host"}}"#,
    )
    .unwrap();
    assert!(from_alert(&host, &Mapping::default()).is_err());
    let other = parse_alert(
        br#"{"rule":"Terminal shell in container","priority":"Notice","output_fields":{"container.id":"aaaaaaaaaaaa"}}"#,
    )
    .unwrap();
    let mut store = Store::new(300, 100);
    store.insert(from_alert(&other, &Mapping::default()).unwrap(), 1);
    assert!(corroborate(&a, &s, &store.active(1)).is_empty());
}
