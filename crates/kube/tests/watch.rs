//! The admission watchers against an in-memory API server that follows the real list/watch
//! semantics: lists carry a resourceVersion, watches stream ADDED/MODIFIED/DELETED events after
//! the requested version, compacted history answers `410 Gone`, and the server can drop every
//! watch (an apiserver restart). The watchers must converge after each.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use rampart_kube::{AdmissionSink, Labels, Source, watch_admission_sources};
use rampart_policy::review::NamedPolicy;
use rampart_policy::source::PolicyError;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// One resource collection of the fake server.
#[derive(Default)]
struct Collection {
    objects: BTreeMap<String, Value>,
    /// (resourceVersion, type, object) since `oldest`.
    history: Vec<(u64, &'static str, Value)>,
    /// Versions at or below this are compacted away.
    compacted: u64,
}

struct Fake {
    rv: u64,
    collections: BTreeMap<String, Collection>,
    events: broadcast::Sender<(String, u64, &'static str, Value)>,
    /// Bumped to end every open watch stream.
    epoch: u64,
    lists: usize,
}

type Shared = Arc<Mutex<Fake>>;

fn key(o: &Value) -> String {
    format!(
        "{}/{}",
        o["metadata"]["namespace"].as_str().unwrap_or(""),
        o["metadata"]["name"].as_str().unwrap_or("")
    )
}

impl Fake {
    fn write(&mut self, collection: &str, kind: &'static str, mut obj: Value) {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        obj["metadata"]["uid"] = json!(format!("uid-{}", key(&obj)));
        let c = self.collections.entry(collection.to_string()).or_default();
        let k = key(&obj);
        let ty = match kind {
            "DELETED" => {
                c.objects.remove(&k);
                "DELETED"
            }
            _ if c.objects.contains_key(&k) => "MODIFIED",
            _ => "ADDED",
        };
        if ty != "DELETED" {
            c.objects.insert(k, obj.clone());
        }
        c.history.push((self.rv, ty, obj.clone()));
        let _ = self.events.send((collection.to_string(), self.rv, ty, obj));
    }
    fn compact(&mut self) {
        for c in self.collections.values_mut() {
            c.history.clear();
            c.compacted = self.rv;
        }
    }
}

#[derive(serde::Deserialize)]
struct Params {
    watch: Option<bool>,
    #[serde(rename = "resourceVersion")]
    resource_version: Option<String>,
    #[serde(rename = "timeoutSeconds")]
    timeout_seconds: Option<u64>,
}

fn status_410() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": "too old resource version", "reason": "Expired", "code": 410})
}

async fn handle(
    fake: Shared,
    collection: String,
    list_kind: &'static str,
    api_version: &'static str,
    q: Params,
) -> Response {
    if q.watch != Some(true) {
        let mut f = fake.lock().unwrap();
        f.lists += 1;
        let c = f.collections.entry(collection.clone()).or_default();
        let items: Vec<Value> = c.objects.values().cloned().collect();
        let body = json!({"kind": list_kind, "apiVersion": api_version,
                          "metadata": {"resourceVersion": f.rv.to_string()}, "items": items});
        return axum::Json(body).into_response();
    }
    let from: u64 = q
        .resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let (backlog, mut rx, epoch, expired) = {
        let f = fake.lock().unwrap();
        let c = f.collections.get(&collection);
        let compacted = c.map(|c| c.compacted).unwrap_or(0);
        let backlog: Vec<(u64, &'static str, Value)> = c
            .map(|c| {
                c.history
                    .iter()
                    .filter(|(rv, _, _)| *rv > from)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        (backlog, f.events.subscribe(), f.epoch, from < compacted)
    };
    if expired {
        // The real apiserver answers an expired version with an ERROR event in the stream.
        let line = format!("{}\n", json!({"type": "ERROR", "object": status_410()}));
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(line))
            .unwrap();
    }
    let timeout = Duration::from_secs(q.timeout_seconds.unwrap_or(290).min(290));
    let fake2 = fake.clone();
    let stream = async_stream(backlog, from, collection, epoch, timeout, fake2, &mut rx);
    let body = Body::from_stream(stream);
    let _ = &mut rx;
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(body)
        .unwrap()
}

/// Backlog first, then live events, until the timeout or the server "restarts".
fn async_stream(
    backlog: Vec<(u64, &'static str, Value)>,
    from: u64,
    collection: String,
    epoch: u64,
    timeout: Duration,
    fake: Shared,
    rx: &mut broadcast::Receiver<(String, u64, &'static str, Value)>,
) -> impl futures_util::Stream<Item = Result<String, Infallible>> + Send + 'static {
    let rx = rx.resubscribe();
    let line = |ty: &str, obj: &Value| format!("{}\n", json!({"type": ty, "object": obj}));
    let first: Vec<Result<String, Infallible>> =
        backlog.iter().map(|(_, ty, o)| Ok(line(ty, o))).collect();
    let last = backlog.last().map(|b| b.0).unwrap_or(from);
    let deadline = tokio::time::Instant::now() + timeout;
    let live = futures_util::stream::unfold((rx, last), move |(mut rx, last)| {
        let collection = collection.clone();
        let fake = fake.clone();
        async move {
            loop {
                if fake.lock().unwrap().epoch != epoch {
                    return None;
                }
                let next = tokio::time::timeout_at(
                    deadline.min(tokio::time::Instant::now() + Duration::from_millis(50)),
                    rx.recv(),
                )
                .await;
                match next {
                    Ok(Ok((c, rv, ty, o))) if c == collection && rv > last => {
                        return Some((Ok(line(ty, &o)), (rx, rv)));
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) => return None,
                    Err(_) if tokio::time::Instant::now() >= deadline => return None,
                    Err(_) => {}
                }
            }
        }
    });
    futures_util::stream::iter(first).chain(live)
}

async fn namespaces(State(f): State<Shared>, Query(q): Query<Params>) -> Response {
    handle(f, "namespaces".into(), "NamespaceList", "v1", q).await
}

async fn rampart(
    State(f): State<Shared>,
    Path(resource): Path<String>,
    Query(q): Query<Params>,
) -> Response {
    let list_kind = if resource == "securitypolicies" {
        "SecurityPolicyList"
    } else {
        "ClusterSecurityPolicyList"
    };
    handle(f, resource, list_kind, "rampart.dev/v1alpha1", q).await
}

async fn start(fake: Shared) -> String {
    let app = Router::new()
        .route("/api/v1/namespaces", get(namespaces))
        .route("/apis/rampart.dev/v1alpha1/{resource}", get(rampart))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

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
    fn watch_error(&self, _source: Source, error: String) {
        self.errors.lock().unwrap().push(error);
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
async fn watchers_list_watch_and_survive_410_and_restarts() {
    let (tx, _) = broadcast::channel(1024);
    let fake: Shared = Arc::new(Mutex::new(Fake {
        rv: 100,
        collections: BTreeMap::new(),
        events: tx,
        epoch: 0,
        lists: 0,
    }));
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
