//! Test support, never a dependency of the product: an in-memory Kubernetes API server with the
//! real list/watch semantics — lists carry a resourceVersion, watches stream ADDED / MODIFIED /
//! DELETED events after the requested version, compacted history answers `410 Gone` (as an
//! ERROR event, like the API server), and [`FakeApi::restart`] ends every open watch. Also a
//! scripted OpenAI-compatible model server ([`model`]); image signing in cosign's formats with
//! a private sigstore instance ([`sigstore`]) and a real OCI registry to push to ([`oci`]); the
//! bundled corpora's files ([`corpora`]).

#![allow(clippy::unwrap_used)] // test support: a poisoned lock is a failed test

pub mod corpora;
pub mod model;
pub mod oci;
pub mod receiver;
pub mod sigstore;
pub mod tls;

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
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// One resource collection of the fake server.
#[derive(Default)]
pub struct Collection {
    /// Current objects by `namespace/name`.
    pub objects: BTreeMap<String, Value>,
    /// (resourceVersion, type, object) since `oldest`.
    pub history: Vec<(u64, &'static str, Value)>,
    /// Versions at or below this are compacted away.
    compacted: u64,
}

pub struct Fake {
    rv: u64,
    /// Collections by resource name (`pods`, `networkpolicies`, …).
    pub collections: BTreeMap<String, Collection>,
    events: broadcast::Sender<(String, u64, &'static str, Value)>,
    /// Bumped to end every open watch stream.
    /// Bumped to end every open watch stream.
    pub epoch: u64,
    /// Lists served (relists show up here).
    pub lists: usize,
    /// Field manager owning each object's `spec.holderIdentity` (Leases).
    pub holders: BTreeMap<String, String>,
    /// `verb resource` pairs access reviews deny.
    pub denied_verbs: Vec<String>,
    /// Collections whose list and watch answer `403 Forbidden` (RBAC without read access).
    pub forbidden: Vec<String>,
    /// While set, every list and watch answers `500` (an API server restarting).
    pub unavailable: bool,
    /// Collections the server does not serve (a CRD not installed): list and watch answer
    /// `404 NotFound`, as kube-apiserver does for an unknown resource.
    pub not_served: Vec<String>,
    /// Lists served per collection.
    pub list_counts: BTreeMap<String, usize>,
    /// Tokens a TokenReview authenticates: token → (the `status` to answer, its audience).
    pub tokens: BTreeMap<String, (Value, String)>,
    /// How long a create of a collection takes (a slow API server, or a write in flight
    /// while something else happens).
    pub create_delay: BTreeMap<String, Duration>,
    /// TokenReviews answered.
    pub token_reviews: usize,
}

impl Fake {
    /// Makes `token` a bound ServiceAccount token of `namespace/sa` for `pod` (with its UID),
    /// valid for `audience` only — what a projected token is.
    pub fn add_token(
        &mut self,
        token: &str,
        namespace: &str,
        sa: &str,
        pod: &str,
        pod_uid: &str,
        audience: &str,
    ) {
        let status = json!({
            "authenticated": true,
            "audiences": [audience],
            "user": {
                "username": format!("system:serviceaccount:{namespace}:{sa}"),
                "uid": format!("uid-{sa}"),
                "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{namespace}")],
                "extra": {
                    "authentication.kubernetes.io/pod-name": [pod],
                    "authentication.kubernetes.io/pod-uid": [pod_uid]
                }
            }
        });
        self.tokens
            .insert(token.to_string(), (status, audience.to_string()));
    }
}

/// The shared server state.
pub type Shared = Arc<Mutex<Fake>>;

fn key(o: &Value) -> String {
    format!(
        "{}/{}",
        o["metadata"]["namespace"].as_str().unwrap_or(""),
        o["metadata"]["name"].as_str().unwrap_or("")
    )
}

impl Fake {
    /// Writes an object: `kind` `DELETED` deletes, anything else adds or modifies.
    pub fn write(&mut self, collection: &str, kind: &'static str, mut obj: Value) {
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
    /// Drops the event history: resuming a watch from an older version gets 410.
    pub fn compact(&mut self) {
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
    /// Page size of a list (`limit`), as kube-rs' watcher sends (500).
    limit: Option<usize>,
    /// The token of the next page (`continue`).
    #[serde(rename = "continue")]
    continue_token: Option<String>,
}

fn status_410() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": "too old resource version", "reason": "Expired", "code": 410})
}

async fn handle(fake: Shared, collection: String, q: Params) -> Response {
    {
        let f = fake.lock().unwrap();
        if f.unavailable {
            // 500 as an API server without etcd answers (kube-rs retries 503 on its own).
            return status(500, "InternalError", "etcdserver: leader changed".into());
        }
        if f.not_served.contains(&collection) {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource".into(),
            );
        }
        if f.forbidden.contains(&collection) {
            let verb = if q.watch == Some(true) {
                "watch"
            } else {
                "list"
            };
            return status(
                403,
                "Forbidden",
                format!(
                    "{collection} is forbidden: User \"system:serviceaccount:rampart-system:rampart\" \
                     cannot {verb} resource \"{collection}\" at the cluster scope"
                ),
            );
        }
    }
    if q.watch != Some(true) {
        let mut f = fake.lock().unwrap();
        f.lists += 1;
        *f.list_counts.entry(collection.clone()).or_default() += 1;
        let rv = f.rv;
        let c = f.collections.entry(collection.clone()).or_default();
        // Paged like the apiserver: `limit` items from where `continue` left off (the token
        // carries the list's resourceVersion and the offset), `metadata.continue` while more
        // remain.
        let (list_rv, offset) = match q.continue_token.as_deref().and_then(|t| t.split_once(':')) {
            Some((r, o)) => (r.parse().unwrap_or(rv), o.parse().unwrap_or(0)),
            None => (rv, 0),
        };
        let limit = q.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let items: Vec<Value> = c
            .objects
            .values()
            .skip(offset)
            .take(limit)
            .cloned()
            .collect();
        let more = c.objects.len() > offset.saturating_add(items.len());
        let mut metadata = json!({"resourceVersion": list_rv.to_string()});
        if more {
            metadata["continue"] = json!(format!("{list_rv}:{}", offset + items.len()));
        }
        // Clients read the items and the list's resourceVersion; the list kind is generic.
        let body =
            json!({"kind": "List", "apiVersion": "v1", "metadata": metadata, "items": items});
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

async fn core(
    State(f): State<Shared>,
    Path(resource): Path<String>,
    Query(q): Query<Params>,
) -> Response {
    handle(f, resource, q).await
}

async fn grouped(
    State(f): State<Shared>,
    Path((_group, _version, resource)): Path<(String, String, String)>,
    Query(q): Query<Params>,
) -> Response {
    handle(f, resource, q).await
}

fn status(code: u16, reason: &str, message: String) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason, "code": code});
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
}

type NsPath = (String, String, String, String);
type NamePath = (String, String, String, String, String);

/// Stores a new object (409 if it exists), as a create does.
fn create_object(f: &Shared, resource: &str, obj: Value) -> Response {
    // The API server's event validation: an Event with an eventTime about a cluster-scoped
    // object (no `regarding.namespace`) lives in `default` or `kube-system`, nowhere else.
    if resource == "events"
        && !obj["eventTime"].is_null()
        && obj["regarding"]["namespace"]
            .as_str()
            .unwrap_or("")
            .is_empty()
        && !matches!(
            obj["metadata"]["namespace"].as_str(),
            Some("default" | "kube-system")
        )
    {
        return status(
            422,
            "Invalid",
            "Event is invalid: involvedObject.namespace: Invalid value: \"\": does not match event.namespace"
                .into(),
        );
    }
    // The API server's metadata validation: a label value is at most 63 characters (the
    // managed-by label carries a Mitigation's name; a longer one is refused with 422).
    if let Some(labels) = obj["metadata"]["labels"].as_object()
        && let Some((k, v)) = labels
            .iter()
            .find(|(_, v)| v.as_str().is_some_and(|v| v.len() > 63))
    {
        return status(
            422,
            "Invalid",
            format!(
                "{resource} is invalid: metadata.labels: Invalid value: {v}: must be no more than 63 bytes (label {k})"
            ),
        );
    }
    let mut fake = f.lock().unwrap();
    let k = key(&obj);
    if fake
        .collections
        .get(resource)
        .is_some_and(|c| c.objects.contains_key(&k))
    {
        return status(
            409,
            "AlreadyExists",
            format!("{resource} {k} already exists"),
        );
    }
    fake.write(resource, "ADDED", obj);
    let stored = fake.collections[resource].objects[&k].clone();
    (StatusCode::CREATED, axum::Json(stored)).into_response()
}

/// `POST …/namespaces/{ns}/{resource}`: create (409 if it exists).
async fn create(
    State(f): State<Shared>,
    Path((_g, _v, ns, resource)): Path<NsPath>,
    axum::Json(mut obj): axum::Json<Value>,
) -> Response {
    obj["metadata"]["namespace"] = json!(ns);
    let delay = f.lock().unwrap().create_delay.get(&resource).copied();
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    create_object(&f, &resource, obj)
}

/// Now as RFC 3339 (seconds), as the API server stamps managed fields.
fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Days to a civil date (Howard Hinnant's algorithm).
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `GET …/namespaces/{ns}/{resource}/{name}`.
async fn get_one(
    State(f): State<Shared>,
    Path((_g, _v, ns, resource, name)): Path<NamePath>,
) -> Response {
    let fake = f.lock().unwrap();
    match fake
        .collections
        .get(&resource)
        .and_then(|c| c.objects.get(&format!("{ns}/{name}")))
    {
        Some(o) => axum::Json(o.clone()).into_response(),
        None => status(404, "NotFound", format!("{resource} {ns}/{name} not found")),
    }
}

/// `DELETE …/namespaces/{ns}/{resource}/{name}`.
async fn delete_one(
    State(f): State<Shared>,
    Path((_g, _v, ns, resource, name)): Path<NamePath>,
) -> Response {
    let mut fake = f.lock().unwrap();
    let Some(o) = fake
        .collections
        .get(&resource)
        .and_then(|c| c.objects.get(&format!("{ns}/{name}")))
        .cloned()
    else {
        return status(404, "NotFound", format!("{resource} {ns}/{name} not found"));
    };
    fake.write(&resource, "DELETED", o.clone());
    axum::Json(o).into_response()
}

/// `PATCH …/namespaces/{ns}/{resource}/{name}/status` with a JSON merge patch.
async fn patch_status(
    State(f): State<Shared>,
    Path((_g, _v, ns, resource, name)): Path<NamePath>,
    body: axum::body::Bytes,
) -> Response {
    // Merge patches arrive as application/merge-patch+json.
    let Ok(patch) = serde_json::from_slice::<Value>(&body) else {
        return status(400, "BadRequest", "patch is not JSON".into());
    };
    let mut fake = f.lock().unwrap();
    let Some(mut o) = fake
        .collections
        .get(&resource)
        .and_then(|c| c.objects.get(&format!("{ns}/{name}")))
        .cloned()
    else {
        return status(404, "NotFound", format!("{resource} {ns}/{name} not found"));
    };
    if let Some(st) = patch.get("status") {
        o["status"] = merge(o.get("status").cloned().unwrap_or(json!({})), st.clone());
    }
    fake.write(&resource, "MODIFIED", o);
    let stored = fake.collections[&resource].objects[&format!("{ns}/{name}")].clone();
    axum::Json(stored).into_response()
}

fn merge(mut base: Value, patch: Value) -> Value {
    match (base.as_object_mut(), patch) {
        (Some(b), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(&k);
                } else {
                    let cur = b.remove(&k).unwrap_or(Value::Null);
                    b.insert(k, merge(cur, v));
                }
            }
            base
        }
        (_, p) => p,
    }
}

/// `PATCH …/namespaces/{ns}/{resource}/{name}` (Leases): server-side apply and strategic merge
/// patches, with the one piece of field ownership leader election relies on — an apply from
/// another field manager that would change `spec.holderIdentity` conflicts (409), as the API
/// server's SSA does without `force`.
async fn patch_object(
    State(f): State<Shared>,
    Path((_g, _v, ns, resource, name)): Path<NamePath>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Ok(patch) = serde_json::from_slice::<Value>(&body) else {
        return status(400, "BadRequest", "patch is not JSON".into());
    };
    let manager = q.get("fieldManager").cloned().unwrap_or_default();
    let apply = headers
        .get("content-type")
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("application/apply-patch"));
    let mut fake = f.lock().unwrap();
    let k = format!("{ns}/{name}");
    let current = fake
        .collections
        .get(&resource)
        .and_then(|c| c.objects.get(&k))
        .cloned();
    let Some(mut obj) = current.or_else(|| apply.then(|| json!({"apiVersion": patch["apiVersion"], "kind": patch["kind"], "metadata": {"name": name, "namespace": ns}}))) else {
        return status(404, "NotFound", format!("{resource} {k} not found"));
    };
    let owner_key = format!("{resource}/{k}");
    let new_holder = &patch["spec"]["holderIdentity"];
    if apply && !new_holder.is_null() {
        let owned_by_other = fake.holders.get(&owner_key).is_some_and(|m| m != &manager);
        if owned_by_other
            && obj["spec"]["holderIdentity"] != *new_holder
            && !obj["spec"]["holderIdentity"].is_null()
        {
            return status(
                409,
                "Conflict",
                format!(
                    "Apply failed with 1 conflict: conflict with {:?}: .spec.holderIdentity",
                    fake.holders[&owner_key]
                ),
            );
        }
    }
    // Metadata (labels, annotations) merges as a JSON merge patch: null removes a key.
    if let Some(meta) = patch.get("metadata") {
        obj["metadata"] = merge(
            obj.get("metadata").cloned().unwrap_or(json!({})),
            meta.clone(),
        );
    }
    if let Some(spec) = patch.get("spec") {
        if spec.get("holderIdentity").is_some() {
            if spec["holderIdentity"].is_null() {
                fake.holders.remove(&owner_key);
            } else {
                fake.holders.insert(owner_key.clone(), manager.clone());
            }
        }
        obj["spec"] = merge(obj.get("spec").cloned().unwrap_or(json!({})), spec.clone());
    }
    // Other top-level fields (a PolicyReport's `summary` and `results`): an apply replaces
    // what its manager set, as SSA does for fields one manager owns.
    if apply && let Some(fields) = patch.as_object() {
        for (key, value) in fields {
            if !matches!(
                key.as_str(),
                "apiVersion" | "kind" | "metadata" | "spec" | "status"
            ) {
                obj[key] = value.clone();
            }
        }
    }
    // The API server records who wrote last, and when (managed fields).
    if apply {
        obj["metadata"]["managedFields"] = json!([{"manager": manager, "operation": "Apply",
            "apiVersion": patch["apiVersion"], "time": rfc3339_now()}]);
    }
    fake.write(&resource, "MODIFIED", obj);
    let stored = fake.collections[&resource].objects[&k].clone();
    axum::Json(stored).into_response()
}

/// `POST /apis/authentication.k8s.io/v1/selfsubjectreviews`: the fake's client is
/// `fake-admin`.
async fn self_review() -> Response {
    (
        StatusCode::CREATED,
        axum::Json(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
            "metadata": {}, "status": {"userInfo": {"username": "fake-admin", "groups": ["system:masters"]}}})),
    )
        .into_response()
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`: the fake allows everything
/// except what `Fake::denied_verbs` lists (`verb resource`).
async fn access_review(
    State(f): State<Shared>,
    axum::Json(mut review): axum::Json<Value>,
) -> Response {
    let attrs = &review["spec"]["resourceAttributes"];
    let key = format!(
        "{} {}",
        attrs["verb"].as_str().unwrap_or(""),
        attrs["resource"].as_str().unwrap_or("")
    );
    let allowed = !f.lock().unwrap().denied_verbs.contains(&key);
    review["status"] = json!({"allowed": allowed});
    (StatusCode::CREATED, axum::Json(review)).into_response()
}

/// `POST /apis/authentication.k8s.io/v1/tokenreviews`: known tokens authenticate for their
/// audience (when the review names audiences, as the real server checks), others do not.
async fn token_review(
    State(f): State<Shared>,
    axum::Json(mut review): axum::Json<Value>,
) -> Response {
    let token = review["spec"]["token"].as_str().unwrap_or("").to_string();
    let asked: Vec<String> = review["spec"]["audiences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut fake = f.lock().unwrap();
    fake.token_reviews += 1;
    review["status"] = match fake.tokens.get(&token) {
        Some((status, aud)) if asked.is_empty() || asked.contains(aud) => status.clone(),
        Some(_) => {
            json!({"authenticated": false, "error": "token audiences do not intersect the requested audiences"})
        }
        None => json!({"authenticated": false, "error": "invalid bearer token"}),
    };
    (StatusCode::CREATED, axum::Json(review)).into_response()
}

type CorePath = (String, String, String);

fn grouped_path((ns, resource, name): CorePath) -> Path<NamePath> {
    Path((String::new(), "v1".into(), ns, resource, name))
}

/// Core-group objects (`/api/v1/namespaces/{ns}/{resource}/{name}`): pods and the like.
async fn core_get(State(f): State<Shared>, Path(p): Path<CorePath>) -> Response {
    get_one(State(f), grouped_path(p)).await
}

async fn core_delete(State(f): State<Shared>, Path(p): Path<CorePath>) -> Response {
    delete_one(State(f), grouped_path(p)).await
}

async fn core_patch(
    State(f): State<Shared>,
    Path(p): Path<CorePath>,
    q: Query<BTreeMap<String, String>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    patch_object(State(f), grouped_path(p), q, headers, body).await
}

/// `POST /apis/{group}/{version}/{resource}`: create a cluster-scoped object (409 if it exists).
async fn create_cluster(
    State(f): State<Shared>,
    Path((_g, _v, resource)): Path<(String, String, String)>,
    axum::Json(obj): axum::Json<Value>,
) -> Response {
    create_object(&f, &resource, obj)
}

/// `GET` / `DELETE /apis/{group}/{version}/{resource}/{name}`: cluster-scoped objects.
async fn cluster_get(
    State(f): State<Shared>,
    Path((g, v, resource, name)): Path<(String, String, String, String)>,
) -> Response {
    get_one(State(f), Path((g, v, String::new(), resource, name))).await
}

async fn cluster_patch(
    State(f): State<Shared>,
    Path((g, v, resource, name)): Path<(String, String, String, String)>,
    q: Query<BTreeMap<String, String>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    patch_object(
        State(f),
        Path((g, v, String::new(), resource, name)),
        q,
        headers,
        body,
    )
    .await
}

async fn cluster_patch_status(
    State(f): State<Shared>,
    Path((g, v, resource, name)): Path<(String, String, String, String)>,
    body: axum::body::Bytes,
) -> Response {
    patch_status(State(f), Path((g, v, String::new(), resource, name)), body).await
}

async fn cluster_delete(
    State(f): State<Shared>,
    Path((g, v, resource, name)): Path<(String, String, String, String)>,
) -> Response {
    delete_one(State(f), Path((g, v, String::new(), resource, name))).await
}

/// Serves the fake API on 127.0.0.1; returns its URL.
pub async fn start(fake: Shared) -> String {
    let app = Router::new()
        .route("/api/v1/{resource}", get(core))
        .route(
            "/api/v1/namespaces/{ns}/{resource}/{name}",
            get(core_get).delete(core_delete).patch(core_patch),
        )
        .route(
            "/apis/{group}/{version}/{resource}",
            get(grouped).post(create_cluster),
        )
        .route(
            "/apis/{group}/{version}/{resource}/{name}",
            get(cluster_get).delete(cluster_delete).patch(cluster_patch),
        )
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            axum::routing::post(access_review),
        )
        .route(
            "/apis/authentication.k8s.io/v1/tokenreviews",
            axum::routing::post(token_review),
        )
        .route(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            axum::routing::post(self_review),
        )
        .route(
            "/apis/{group}/{version}/namespaces/{ns}/{resource}",
            axum::routing::post(create),
        )
        .route(
            "/apis/{group}/{version}/namespaces/{ns}/{resource}/{name}",
            get(get_one).delete(delete_one).patch(patch_object),
        )
        .route(
            "/apis/{group}/{version}/namespaces/{ns}/{resource}/{name}/status",
            axum::routing::patch(patch_status),
        )
        .route(
            "/apis/{group}/{version}/{resource}/{name}/status",
            axum::routing::patch(cluster_patch_status),
        )
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A new, empty fake API server state.
pub fn new_fake() -> Shared {
    let (tx, _) = broadcast::channel(4096);
    Arc::new(Mutex::new(Fake {
        rv: 100,
        collections: BTreeMap::new(),
        events: tx,
        epoch: 0,
        lists: 0,
        holders: BTreeMap::new(),
        denied_verbs: Vec::new(),
        forbidden: Vec::new(),
        unavailable: false,
        not_served: Vec::new(),
        list_counts: BTreeMap::new(),
        tokens: BTreeMap::new(),
        token_reviews: 0,
        create_delay: BTreeMap::new(),
    }))
}

/// A kubeconfig file pointing at `url` (plain HTTP, no credentials), for binaries under test.
pub fn kubeconfig(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters: [{{name: fake, cluster: {{server: \"{url}\"}}}}]\n\
         users: [{{name: fake, user: {{}}}}]\ncontexts: [{{name: fake, context: {{cluster: fake, user: fake}}}}]\n\
         current-context: fake\n"
    )
}
