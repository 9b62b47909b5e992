//! The admission watchers against an in-memory API server that follows the real list/watch
//! semantics: lists carry a resourceVersion, watches stream ADDED/MODIFIED/DELETED events after
//! the requested version, compacted history answers `410 Gone`, and the server can drop every
//! watch (an apiserver restart). The watchers must converge after each.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rampart_kube::{AdmissionSink, Labels, Source, watch_admission_sources};
use rampart_policy::review::NamedPolicy;
use rampart_policy::source::PolicyError;
use rampart_testkit::{new_fake, start};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Records what the watchers deliver.
#[derive(Default)]
struct Recorder {
    namespaces: Mutex<BTreeMap<String, Labels>>,
    policies: Mutex<BTreeMap<(Option<String>, String), NamedPolicy>>,
    synced: Mutex<Vec<Source>>,
    invalid: Mutex<Vec<String>>,
    errors: Mutex<Vec<String>>,
    replaces: Mutex<usize>,
}

impl AdmissionSink for Recorder {
    fn replace_namespaces(&self, all: BTreeMap<String, Labels>) {
        *self.namespaces.lock().unwrap() = all;
        *self.replaces.lock().unwrap() += 1;
    }
    fn apply_namespace(&self, name: String, labels: Labels) {
        self.namespaces.lock().unwrap().insert(name, labels);
    }
    fn delete_namespace(&self, name: &str) {
        self.namespaces.lock().unwrap().remove(name);
    }
    fn replace_policies(&self, kind: &'static str, all: Vec<NamedPolicy>) {
        let mut p = self.policies.lock().unwrap();
        p.retain(|_, v| v.kind != kind);
        for x in all {
            p.insert((x.namespace.clone(), x.name.clone()), x);
        }
    }
    fn apply_policy(&self, policy: NamedPolicy) {
        self.policies
            .lock()
            .unwrap()
            .insert((policy.namespace.clone(), policy.name.clone()), policy);
    }
    fn delete_policy(&self, _kind: &'static str, namespace: Option<&str>, name: &str) {
        self.policies
            .lock()
            .unwrap()
            .remove(&(namespace.map(String::from), name.to_string()));
    }
    fn invalid_policy(&self, error: PolicyError) {
        self.invalid.lock().unwrap().push(error.to_string());
    }
    fn synced(&self, source: Source) {
        self.synced.lock().unwrap().push(source);
    }
    fn watch_error(&self, source: Source, error: String) {
        self.errors
            .lock()
            .unwrap()
            .push(format!("{}: {error}", source.as_str()));
    }
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..600 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn ns(name: &str, level: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": name, "labels": {"pod-security.kubernetes.io/enforce": level}}})
}

fn secpol(ns: &str, name: &str, valid: bool) -> Value {
    let rules = if valid {
        json!([{"name": "r", "conditions": [{"disallowPrivileged": true}]}])
    } else {
        json!([])
    };
    json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "SecurityPolicy",
           "metadata": {"name": name, "namespace": ns}, "spec": {"rules": rules}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_watch_lists_every_kind_and_streams_changes() {
    use rampart_kube::cluster::{ClusterEvent, OPTIONAL, WATCHED, watch_cluster};
    let fake = new_fake();
    {
        let mut f = fake.lock().unwrap();
        // One optional API served with an object, the other not installed (404): listed empty.
        f.write(
            "adminnetworkpolicies",
            "ADDED",
            json!({"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
            "metadata": {"name": "deny-db"},
            "spec": {"priority": 5, "subject": {"namespaces": {}},
                     "ingress": [{"name": "r", "action": "Deny", "from": [{"namespaces": {}}]}]}}),
        );
        f.not_served.push("baselineadminnetworkpolicies".into());
        // Cilium: the namespaced kind served, the clusterwide one not installed.
        f.write(
            "ciliumnetworkpolicies",
            "ADDED",
            json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
            "metadata": {"name": "l3", "namespace": "app"},
            "spec": {"endpointSelector": {"matchLabels": {"app": "web"}},
                     "ingressDeny": [{"fromEntities": ["world"]}]}}),
        );
        f.not_served.push("ciliumclusterwidenetworkpolicies".into());
        f.write("namespaces", "ADDED", ns("app", "baseline"));
        f.write(
            "pods",
            "ADDED",
            json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "app", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
        );
        f.write(
            "secrets",
            "ADDED",
            json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "app"}, "data": {"password": "c2VjcmV0"}}),
        );
    }
    let url = start(fake.clone()).await;
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let cancel = CancellationToken::new();
    tokio::spawn(watch_cluster(client, tx, cancel.clone()));
    let mut relisted = std::collections::BTreeSet::new();
    let mut pods = 0;
    let mut secrets = 0;
    let mut admin = (None, None);
    let mut cilium = (None, None);
    while relisted.len() < WATCHED.len() + OPTIONAL.len() + 1 {
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        if let ClusterEvent::Relisted(kind, objects) = ev {
            if kind == rampart_model::Kind::Pod {
                pods = objects.len();
            }
            if kind == rampart_model::Kind::AdminNetworkPolicy {
                admin.0 = Some(objects.len());
            }
            if kind == rampart_model::Kind::BaselineAdminNetworkPolicy {
                admin.1 = Some(objects.len());
            }
            if kind == rampart_model::Kind::CiliumNetworkPolicy {
                cilium.0 = Some(objects.len());
            }
            if kind == rampart_model::Kind::CiliumClusterwideNetworkPolicy {
                cilium.1 = Some(objects.len());
            }
            if kind == rampart_model::Kind::Secret {
                secrets = objects.len();
                let text = format!("{objects:?}");
                assert!(
                    !text.contains("c2VjcmV0"),
                    "a secret value reached the model"
                );
            }
            relisted.insert(format!("{kind:?}"));
        }
    }
    assert_eq!((pods, secrets), (1, 1));
    assert_eq!(admin, (Some(1), Some(0)));
    assert_eq!(cilium, (Some(1), Some(0)));
    fake.lock().unwrap().write(
        "pods",
        "DELETED",
        json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "app"}}),
    );
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        if let ClusterEvent::Delete(k) = ev {
            assert_eq!(k.name, "web");
            break;
        }
    }
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_list_watch_and_survive_410_and_restarts() {
    let fake = new_fake();
    {
        let mut f = fake.lock().unwrap();
        f.write("namespaces", "ADDED", ns("app", "restricted"));
        f.write("securitypolicies", "ADDED", secpol("app", "no-priv", true));
        f.write("securitypolicies", "ADDED", secpol("app", "broken", false));
    }
    let url = start(fake.clone()).await;
    let config = kube::Config::new(url.parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let rec = Arc::new(Recorder::default());
    let cancel = CancellationToken::new();
    tokio::spawn(watch_admission_sources(client, rec.clone(), cancel.clone()));

    // Initial lists.
    eventually("all three sources synced", || {
        rec.synced.lock().unwrap().len() == 3
    })
    .await;
    assert_eq!(
        rec.namespaces.lock().unwrap()["app"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    assert!(
        rec.policies
            .lock()
            .unwrap()
            .contains_key(&(Some("app".into()), "no-priv".into()))
    );
    assert!(
        rec.invalid
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.contains("broken") && e.contains("at least one rule"))
    );

    // Live watch events.
    fake.lock()
        .unwrap()
        .write("namespaces", "ADDED", ns("web", "baseline"));
    eventually("namespace web added", || {
        rec.namespaces.lock().unwrap().contains_key("web")
    })
    .await;
    fake.lock()
        .unwrap()
        .write("namespaces", "MODIFIED", ns("app", "baseline"));
    eventually("app relabelled", || {
        rec.namespaces.lock().unwrap()["app"]["pod-security.kubernetes.io/enforce"] == "baseline"
    })
    .await;
    fake.lock().unwrap().write(
        "securitypolicies",
        "DELETED",
        secpol("app", "no-priv", true),
    );
    eventually("policy deleted", || rec.policies.lock().unwrap().is_empty()).await;

    // An apiserver restart with compacted history: every watch ends, changes happen meanwhile,
    // and resuming from the old version answers 410 Gone. The watchers must relist and converge.
    let lists_before = fake.lock().unwrap().lists;
    {
        let mut f = fake.lock().unwrap();
        f.write("namespaces", "DELETED", ns("web", "baseline"));
        f.write("namespaces", "ADDED", ns("payments", "restricted"));
        f.write(
            "securitypolicies",
            "ADDED",
            secpol("payments", "late", true),
        );
        f.compact();
        f.epoch += 1;
    }
    eventually("converged after 410", || {
        let n = rec.namespaces.lock().unwrap();
        n.contains_key("payments") && !n.contains_key("web")
    })
    .await;
    eventually("policy after relist", || {
        rec.policies
            .lock()
            .unwrap()
            .contains_key(&(Some("payments".into()), "late".into()))
    })
    .await;
    assert!(
        fake.lock().unwrap().lists > lists_before,
        "the watchers relisted"
    );
    assert!(
        *rec.replaces.lock().unwrap() >= 2,
        "the relist replaced the namespace set"
    );
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_paged_like_the_apiserver_and_the_relist_is_whole() {
    use kube::api::{Api, ListParams};
    use rampart_kube::cluster::{ClusterEvent, watch_cluster};
    let fake = new_fake();
    {
        let mut f = fake.lock().unwrap();
        f.write("namespaces", "ADDED", ns("app", "baseline"));
        for i in 0..1203 {
            f.write(
                "pods",
                "ADDED",
                json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("p{i:04}"), "namespace": "app"},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
            );
        }
    }
    let url = start(fake.clone()).await;
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    // The fake pages: 500 items and a continue token, then the rest.
    let api: Api<k8s_openapi::api::core::v1::Pod> = Api::all(client.clone());
    let first = api.list(&ListParams::default().limit(500)).await.unwrap();
    assert_eq!(first.items.len(), 500);
    let token = first.metadata.continue_.clone().expect("a continue token");
    let second = api
        .list(&ListParams::default().limit(500).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 500);
    assert_eq!(
        second.metadata.resource_version, first.metadata.resource_version,
        "one snapshot"
    );
    assert_ne!(first.items[0].metadata.name, second.items[0].metadata.name);
    // The watcher follows the pages: one relist with every pod.
    let lists_before = fake.lock().unwrap().lists;
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let cancel = CancellationToken::new();
    tokio::spawn(watch_cluster(client, tx, cancel.clone()));
    let pods = loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        if let ClusterEvent::Relisted(rampart_model::Kind::Pod, objects) = ev {
            break objects.len();
        }
    };
    cancel.cancel();
    assert_eq!(pods, 1203);
    assert!(
        fake.lock().unwrap().lists >= lists_before + 3,
        "three pages of pods"
    );
}

/// Issue 14 item 11: after an API server outage the admission view is stale until relisted,
/// and the sink hears so at once (the webhook is not ready meanwhile): a policy created during
/// the gap is known by the time the source says it is current again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_makes_a_source_stale_until_it_is_listed_again() {
    let fake = new_fake();
    fake.lock()
        .unwrap()
        .write("namespaces", "ADDED", ns("app", "restricted"));
    let url = start(fake.clone()).await;
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let rec = Arc::new(Recorder::default());
    let cancel = CancellationToken::new();
    tokio::spawn(watch_admission_sources(client, rec.clone(), cancel.clone()));
    eventually("all three sources synced", || {
        rec.synced.lock().unwrap().len() == 3
    })
    .await;
    // The API server goes away: every watch ends and reconnecting fails.
    {
        let mut f = fake.lock().unwrap();
        f.unavailable = true;
        f.epoch += 1;
    }
    eventually("every watch fails", || {
        let e = rec.errors.lock().unwrap();
        ["namespaces", "securitypolicies", "clustersecuritypolicies"]
            .iter()
            .all(|s| e.iter().any(|x| x.starts_with(&format!("{s}:"))))
    })
    .await;
    let synced_before = rec.synced.lock().unwrap().len();
    // Back, with a policy created meanwhile (no event will ever carry it: the watch resumes
    // only by relisting).
    {
        let mut f = fake.lock().unwrap();
        f.write("securitypolicies", "ADDED", secpol("app", "late", true));
        f.unavailable = false;
    }
    // Each source starts over with a list (after at most a few seconds of backoff).
    for _ in 0..2000 {
        if rec.synced.lock().unwrap().len() >= synced_before + 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        rec.synced.lock().unwrap().len() >= synced_before + 3,
        "every source listed again"
    );
    assert!(
        rec.policies
            .lock()
            .unwrap()
            .contains_key(&(Some("app".into()), "late".into())),
        "current again only with the policy created during the gap"
    );
    cancel.cancel();
}
