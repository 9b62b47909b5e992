//! The admission webhook router: `POST /validate`, `POST /mutate`, `GET /healthz`, `/readyz`,
//! `/metrics`. Handlers are thin: read a bounded body, parse the AdmissionReview, call the pure
//! decision in `rampart-policy`, write the response. Anything that cannot be evaluated is an
//! HTTP 400 with a message saying why, counted in `rampart_admission_errors_total`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rampart_policy::images::{ImageCheck, ImageVerdicts};
use rampart_policy::review::{self, Decision, PolicySet, PssConfig, Request, ReviewError};

use crate::metrics::{ErrorLabels, Metrics, Outcome, RequestLabels};

/// Largest AdmissionReview accepted (the API server's own request limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Review bytes being parsed and decided at once, across requests. A review expands in memory
/// while it is decided (a minimal container of 80 bytes becomes ~3.8 KB of typed structs: 8 MiB
/// of the worst bodies take ~400 MB), so large reviews take turns instead of taking the process
/// past its memory limit. The budget is booked by the body actually received, after it is read:
/// deciding is CPU work a client cannot slow down, so a slow sender never holds it, and a turn
/// lasts milliseconds. (Bodies still arriving are bounded by the connection cap, the 3 MiB body
/// cap, HTTP/2 flow-control windows and the request timeout.)
pub const MAX_BYTES_IN_FLIGHT: usize = 8 * 1024 * 1024;

/// The budget of [`MAX_BYTES_IN_FLIGHT`], in KiB permits.
#[derive(Debug)]
pub struct BodyBudget(tokio::sync::Semaphore);

impl Default for BodyBudget {
    fn default() -> Self {
        BodyBudget(tokio::sync::Semaphore::new(MAX_BYTES_IN_FLIGHT / 1024))
    }
}

/// Labels of a namespace read live from the API server: `Ok(None)` when it does not exist.
pub type LookupResult = Result<Option<BTreeMap<String, String>>, String>;

/// A live namespace read, for namespaces the watch has not delivered yet (created a moment
/// before their first pod). Injected by the binary, so this crate never talks to the API server.
#[derive(Clone)]
pub struct NamespaceLookup(pub Arc<LookupFn>);

/// The function behind [`NamespaceLookup`].
pub type LookupFn = dyn Fn(String) -> LookupFuture + Send + Sync;

/// The future a lookup returns.
pub type LookupFuture = std::pin::Pin<Box<dyn std::future::Future<Output = LookupResult> + Send>>;

impl std::fmt::Debug for NamespaceLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NamespaceLookup")
    }
}

/// Everything the handlers read.
#[derive(Debug, Default)]
pub struct AdmissionState {
    /// Live read of namespaces missing from `namespaces` (watch mode); `None` with files.
    pub namespace_lookup: Option<NamespaceLookup>,
    /// SecurityPolicies and ClusterSecurityPolicies in force.
    pub policies: RwLock<PolicySet>,
    /// Labels of every known namespace.
    pub namespaces: RwLock<BTreeMap<String, BTreeMap<String, String>>>,
    /// The cluster objects the policies read (params objects, inventories), kept by watches
    /// of exactly what the policies declare.
    pub objects: RwLock<rampart_policy::store::ObjectStore>,
    /// Pod Security defaults and exemptions.
    pub pss: PssConfig,
    /// Metrics (shared with the certificate watcher).
    pub metrics: Arc<Metrics>,
    /// Whether the policy and namespace sources are loaded (readiness).
    pub ready: AtomicBool,
    /// Bytes of reviews in flight.
    pub budget: BodyBudget,
    /// The request guard's injection, when configured (`--guard-learner-url`).
    pub guard: Option<rampart_policy::inject::GuardInjection>,
    /// Image signature verification (`verifyImages` conditions); without it such conditions
    /// find no verdict and follow their policy's `failurePolicy`.
    pub images: Option<Arc<crate::images::ImageService>>,
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Validate,
    Mutate,
}

/// An AdmissionReview that cannot be evaluated.
#[derive(Debug, thiserror::Error)]
enum BadReview {
    #[error("request body is larger than {MAX_BODY} bytes or could not be read")]
    TooLarge,
    #[error("malformed AdmissionReview: {0}")]
    Json(#[source] serde_json::Error),
    #[error("AdmissionReview has no request")]
    NoRequest,
    #[error("unsupported AdmissionReview version {0:?} (admission.k8s.io/v1 is served)")]
    Version(String),
    #[error(transparent)]
    Review(#[from] ReviewError),
    #[error("could not serialize the patch: {0}")]
    Patch(String),
}

impl BadReview {
    fn reason(&self) -> &'static str {
        match self {
            BadReview::TooLarge => "body_too_large",
            BadReview::Json(_) => "malformed_json",
            BadReview::NoRequest => "no_request",
            BadReview::Version(_) => "unsupported_version",
            BadReview::Review(_) => "unexpected_shape",
            BadReview::Patch(_) => "patch",
        }
    }
}

impl BadReview {
    /// The message, with any quoted input redacted: a parser error can quote the review, and a
    /// pod's env value may be a secret.
    fn message(&self) -> String {
        rampart_model::redact_excerpt(&self.to_string())
    }
}

impl IntoResponse for BadReview {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, self.message()).into_response()
    }
}

/// The router, over shared state.
pub fn router(state: Arc<AdmissionState>) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .layer(axum::middleware::map_response(
            crate::dashboard::security_headers,
        ))
}

async fn readyz(State(s): State<Arc<AdmissionState>>) -> Response {
    if s.ready.load(Ordering::Relaxed) {
        "ok".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "policies not loaded yet").into_response()
    }
}

async fn metrics(State(s): State<Arc<AdmissionState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
        .into_response()
}

async fn validate(
    State(s): State<Arc<AdmissionState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(&s, &headers, body, Endpoint::Validate).await
}

async fn mutate(State(s): State<Arc<AdmissionState>>, headers: HeaderMap, body: Body) -> Response {
    handle(&s, &headers, body, Endpoint::Mutate).await
}

async fn handle(
    s: &AdmissionState,
    headers: &HeaderMap,
    body: Body,
    endpoint: Endpoint,
) -> Response {
    // A body announced too large is refused unread.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return s.reject(endpoint, BadReview::TooLarge, None);
    }
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return s.reject(endpoint, BadReview::TooLarge, None),
    };
    let kib = bytes.len().div_ceil(1024).max(1);
    let Ok(_booked) = s
        .budget
        .0
        .acquire_many(u32::try_from(kib).unwrap_or(u32::MAX))
        .await
    else {
        return s.reject(endpoint, BadReview::TooLarge, None);
    };
    let req = match parse(&bytes) {
        Ok(r) => r,
        Err((e, labels)) => return s.reject(endpoint, e, labels),
    };
    let lookup_failed = match (&s.namespace_lookup, req.namespace.as_deref()) {
        (Some(lookup), Some(ns)) if !ns.is_empty() => fill_namespace(s, lookup, ns).await.err(),
        _ => None,
    };
    // Registry calls happen here, before the decision and outside every lock.
    let verdicts = match &s.images {
        Some(service) if lookup_failed.is_none() => verify_images(s, service, &req).await,
        _ => ImageVerdicts::new(),
    };
    let start = Instant::now();
    let result = decide(s, &req, endpoint, lookup_failed.as_deref(), &verdicts);
    s.metrics.latency.observe(start.elapsed().as_secs_f64());
    match result {
        Ok((resp, labels)) => {
            s.metrics.requests.get_or_create(&labels).inc();
            axum::Json(resp).into_response()
        }
        Err((e, labels)) => s.reject(endpoint, e, labels),
    }
}

type Labels = Option<(String, String)>;

/// Makes sure the request's namespace is in the cache, reading it live if the watch has not
/// delivered it yet. Like upstream Pod Security Admission, a namespace that cannot be read
/// fails closed (the caller denies).
async fn fill_namespace(
    s: &AdmissionState,
    lookup: &NamespaceLookup,
    ns: &str,
) -> Result<(), String> {
    let ns = ns.to_string();
    if s.namespaces
        .read()
        .map(|n| n.contains_key(&ns))
        .unwrap_or(false)
    {
        return Ok(());
    }
    match tokio::time::timeout(std::time::Duration::from_secs(3), (lookup.0)(ns.clone())).await {
        Ok(Ok(Some(labels))) => {
            if let Ok(mut n) = s.namespaces.write() {
                n.entry(ns).or_insert(labels);
            }
            Ok(())
        }
        Ok(Ok(None)) => Ok(()),
        Ok(Err(e)) => Err(format!("namespace {ns:?} could not be read: {e}")),
        Err(_) => Err(format!("namespace {ns:?} could not be read in time")),
    }
}

/// The `kind` metric label, from a fixed set: request kinds are client-controlled and must not
/// create unbounded series.
fn kind_label(kind: &str) -> String {
    const OTHERS: &[&str] = &[
        "SecurityPolicy",
        "ClusterSecurityPolicy",
        "Namespace",
        "Service",
        "ConfigMap",
        "Secret",
    ];
    if rampart_policy::object::POD_KINDS.contains(&kind) || OTHERS.contains(&kind) {
        kind
    } else {
        "other"
    }
    .to_string()
}

/// The AdmissionReview v1 request as the API server sends it, its objects as `O`: read
/// without them (`IgnoredAny`) from the review's tape, as raw JSON borrowed from the body by
/// serde_json, and then as an [`Object`] either way.
#[derive(Debug, serde::Deserialize)]
#[serde(bound(deserialize = "O: serde::Deserialize<'de>"))]
struct WireReview<O> {
    #[serde(rename = "apiVersion", default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    request: Option<WireRequest<O>>,
}

/// A review's request, its objects read.
type Review<'a> = WireRequest<Object<'a>>;

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "O: serde::Deserialize<'de>"))]
struct WireRequest<O> {
    uid: String,
    kind: Gvk,
    /// The resource (`pods`, `deployments`): denials name it, as upstream's do.
    #[serde(default)]
    resource: Option<Gvr>,
    #[serde(default)]
    sub_resource: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    operation: WireOperation,
    #[serde(default)]
    user_info: UserInfo,
    #[serde(default = "Option::default")]
    object: Option<O>,
    #[serde(default = "Option::default")]
    old_object: Option<O>,
}

impl<O> WireRequest<O> {
    fn with_objects<P>(self, object: Option<P>, old_object: Option<P>) -> WireRequest<P> {
        WireRequest {
            uid: self.uid,
            kind: self.kind,
            resource: self.resource,
            sub_resource: self.sub_resource,
            name: self.name,
            namespace: self.namespace,
            operation: self.operation,
            user_info: self.user_info,
            object,
            old_object,
        }
    }
}

/// An object of the review.
#[derive(Debug)]
enum Object<'a> {
    /// Raw JSON borrowed from the body (serde_json read the review).
    Raw(&'a serde_json::value::RawValue),
    /// Its text in the body and its node of the review's tape.
    Read(&'a str, rampart_cel::Document),
}

impl Object<'_> {
    fn json(&self) -> rampart_policy::object::ObjectJson<'_> {
        match self {
            Object::Raw(r) => rampart_policy::object::ObjectJson::Raw(r),
            Object::Read(text, d) => rampart_policy::object::ObjectJson::Read(text, d),
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct Gvr {
    #[serde(default)]
    resource: String,
}

#[derive(Debug, serde::Deserialize)]
struct Gvk {
    #[serde(default)]
    group: String,
    #[serde(default)]
    #[allow(dead_code)]
    version: String,
    kind: String,
}

#[derive(Debug, Default, serde::Deserialize)]
struct UserInfo {
    #[serde(default)]
    username: String,
}

#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum WireOperation {
    Create,
    Update,
    Delete,
    Connect,
}

impl WireOperation {
    fn name(self) -> &'static str {
        match self {
            WireOperation::Create => "CREATE",
            WireOperation::Update => "UPDATE",
            WireOperation::Delete => "DELETE",
            WireOperation::Connect => "CONNECT",
        }
    }
    fn review(self) -> review::Operation {
        match self {
            WireOperation::Create => review::Operation::Create,
            WireOperation::Update => review::Operation::Update,
            WireOperation::Delete => review::Operation::Delete,
            WireOperation::Connect => review::Operation::Connect,
        }
    }
}

/// `null` objects (DELETE carries `object: null`) are absent.
fn present(r: Option<&serde_json::value::RawValue>) -> Option<Object<'_>> {
    r.filter(|r| r.get() != "null").map(Object::Raw)
}

/// The response review, as the API server's Go types read it (`patch` base64).
fn response(uid: &str, decision: Decision) -> Result<serde_json::Value, String> {
    use base64::Engine;
    let mut r = serde_json::Map::new();
    r.insert("uid".into(), uid.into());
    r.insert("allowed".into(), decision.allowed.into());
    if !decision.allowed {
        r.insert(
            "status".into(),
            serde_json::json!({"metadata": {}, "status": "Failure", "reason": "Forbidden", "code": 403,
                               "message": decision.message.unwrap_or_else(|| "denied".into())}),
        );
    }
    if !decision.warnings.is_empty() {
        r.insert("warnings".into(), decision.warnings.into());
    }
    if !decision.audit_annotations.is_empty() {
        r.insert(
            "auditAnnotations".into(),
            serde_json::to_value(&decision.audit_annotations).map_err(|e| e.to_string())?,
        );
    }
    if let Some(p) = decision.patch {
        let bytes = serde_json::to_vec(&p).map_err(|e| e.to_string())?;
        r.insert("patchType".into(), "JSONPatch".into());
        r.insert(
            "patch".into(),
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into(),
        );
    }
    Ok(
        serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": r}),
    )
}

/// Evaluates one raw AdmissionReview body without HTTP (the handler's core, for fuzzing and
/// benchmarks): the response review as JSON, or the 400 message.
pub fn review_bytes(
    s: &AdmissionState,
    bytes: &[u8],
    mutate: bool,
) -> Result<serde_json::Value, String> {
    let (req, endpoint) = parse_for(bytes, mutate)?;
    decide(s, &req, endpoint, None, &ImageVerdicts::new())
        .map(|(v, _)| v)
        .map_err(|(e, _)| e.to_string())
}

/// [`review_bytes`] with the review read by serde_json alone, the reader for bodies the tape
/// does not take: tests and the `admission` fuzz target hold both readers to the same answers.
#[doc(hidden)]
pub fn review_bytes_by_serde_json(
    s: &AdmissionState,
    bytes: &[u8],
    mutate: bool,
) -> Result<serde_json::Value, String> {
    let (req, endpoint) = read_for(bytes, mutate, |b| by_serde_json(b).and_then(checked))?;
    decide(s, &req, endpoint, None, &ImageVerdicts::new())
        .map(|(v, _)| v)
        .map_err(|(e, _)| e.to_string())
}

/// The review of `bytes` and the endpoint it is for, or the 400 message.
fn parse_for(bytes: &[u8], mutate: bool) -> Result<(Review<'_>, Endpoint), String> {
    read_for(bytes, mutate, parse)
}

/// [`parse_for`] with the reader `read`.
fn read_for<'a>(
    bytes: &'a [u8],
    mutate: bool,
    read: impl FnOnce(&'a [u8]) -> Result<Review<'a>, (BadReview, Labels)>,
) -> Result<(Review<'a>, Endpoint), String> {
    if bytes.len() > MAX_BODY {
        return Err(BadReview::TooLarge.to_string());
    }
    let endpoint = if mutate {
        Endpoint::Mutate
    } else {
        Endpoint::Validate
    };
    let req = read(bytes).map_err(|(e, _)| e.to_string())?;
    Ok((req, endpoint))
}

/// [`review_bytes`] with the images verified first, as the handler does (for benchmarks and
/// tests of image signature verification without HTTP).
pub async fn review_bytes_verified(
    s: &AdmissionState,
    bytes: &[u8],
    mutate: bool,
) -> Result<serde_json::Value, String> {
    let (req, endpoint) = parse_for(bytes, mutate)?;
    let verdicts = match &s.images {
        Some(service) => verify_images(s, service, &req).await,
        None => ImageVerdicts::new(),
    };
    decide(s, &req, endpoint, None, &verdicts)
        .map(|(v, _)| v)
        .map_err(|(e, _)| e.to_string())
}

/// Parses the AdmissionReview once: onto one tape whose nodes its objects are where that reads
/// it, else by serde_json with the objects raw JSON borrowed from `bytes`.
fn parse(bytes: &[u8]) -> Result<Review<'_>, (BadReview, Labels)> {
    match on_tape(bytes) {
        Some(review) => checked(review),
        None => checked(by_serde_json(bytes)?),
    }
}

/// The review read by serde_json, its objects raw JSON borrowed from `bytes`.
fn by_serde_json(bytes: &[u8]) -> Result<WireReview<Object<'_>>, (BadReview, Labels)> {
    let review: WireReview<&serde_json::value::RawValue> =
        serde_json::from_slice(bytes).map_err(|e| (BadReview::Json(e), None))?;
    Ok(WireReview {
        api_version: review.api_version,
        kind: review.kind,
        request: review.request.map(|r| {
            let (object, old_object) = (present(r.object), present(r.old_object));
            r.with_objects(object, old_object)
        }),
    })
}

/// The request of a review of the version rampart reads.
fn checked(review: WireReview<Object<'_>>) -> Result<Review<'_>, (BadReview, Labels)> {
    if !review.api_version.is_empty() && review.api_version != "admission.k8s.io/v1" {
        return Err((BadReview::Version(review.api_version), None));
    }
    let _ = review.kind;
    review.request.ok_or((BadReview::NoRequest, None))
}

/// The review read onto one tape (the body's text read once: the request's fields and both
/// objects are nodes of it). `None` where serde_json is to read it instead: a body the tape
/// does not take (serde_json then words the refusal), an object that is not a JSON object or
/// array, or a Secret (its values are blanked for CEL in a tape of its own, which holds
/// nothing else).
fn on_tape(bytes: &[u8]) -> Option<WireReview<Object<'_>>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let doc = rampart_cel::Document::parse(text).ok()?;
    let review: WireReview<serde::de::IgnoredAny> = doc.typed().ok()?;
    let request = match review.request {
        None => None,
        Some(r) => {
            if r.kind.kind == "Secret" && r.kind.group.is_empty() {
                return None;
            }
            let fields = doc.member("request")?;
            let object = |key: &str| match fields.member(key) {
                None => Some(None),
                Some(d) => Some(Some(Object::Read(d.source(text)?, d))),
            };
            Some(r.with_objects(object("object")?, object("oldObject")?))
        }
    };
    Some(WireReview {
        api_version: review.api_version,
        kind: review.kind,
        request,
    })
}

/// The review's request as `rampart-policy` reads it.
fn request<'a>(req: &'a Review<'a>, namespace: &'a str) -> Request<'a> {
    Request {
        group: &req.kind.group,
        version: &req.kind.version,
        kind: &req.kind.kind,
        resource: req.resource.as_ref().map_or("", |r| r.resource.as_str()),
        sub_resource: req.sub_resource.as_deref(),
        operation: req.operation.review(),
        namespace,
        name: &req.name,
        username: &req.user_info.username,
        object: req.object.as_ref().map(Object::json),
        old_object: req.old_object.as_ref().map(Object::json),
    }
}

/// The labels of `namespace` as known (an unknown one still has its automatic name label).
fn namespace_labels(
    known: &BTreeMap<String, BTreeMap<String, String>>,
    namespace: &str,
) -> BTreeMap<String, String> {
    known.get(namespace).cloned().unwrap_or_else(|| {
        BTreeMap::from([(
            "kubernetes.io/metadata.name".to_string(),
            namespace.to_string(),
        )])
    })
}

/// The images the request's `verifyImages` conditions gate (none when its object cannot be
/// read: the decision says why), and its pod's pull secrets.
fn image_checks(s: &AdmissionState, req: &Review<'_>) -> (Vec<ImageCheck>, Vec<String>) {
    let namespace = req.namespace.clone().unwrap_or_default();
    let r = request(req, &namespace);
    let ns_labels = namespace_labels(
        &s.namespaces.read().unwrap_or_else(|e| e.into_inner()),
        &namespace,
    );
    let policies = s.policies.read().unwrap_or_else(|e| e.into_inner());
    let checks = review::image_checks(&r, &ns_labels, &policies).unwrap_or_default();
    let secrets = if checks.is_empty() {
        Vec::new()
    } else {
        review::pull_secret_names(&r)
    };
    (checks, secrets)
}

/// The verdicts on the request's gated images, read with its pod's pull secrets.
async fn verify_images(
    s: &AdmissionState,
    service: &crate::images::ImageService,
    req: &Review<'_>,
) -> ImageVerdicts {
    // Most reviews meet no image rule: no copies, no parsing for them.
    if !s
        .policies
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .has_image_rules()
    {
        return ImageVerdicts::new();
    }
    let (checks, secrets) = image_checks(s, req);
    if checks.is_empty() {
        return ImageVerdicts::new();
    }
    let namespace = req.namespace.as_deref().unwrap_or_default();
    let credentials = service.credentials(namespace, &secrets);
    service.verify(&checks, &credentials, &s.metrics).await
}

/// Decides a parsed request. `lookup_failed` says why its namespace could not be read (fail
/// closed, as upstream Pod Security Admission does); `images` holds the verdicts on the
/// images its `verifyImages` conditions gate.
fn decide(
    s: &AdmissionState,
    req: &Review<'_>,
    endpoint: Endpoint,
    lookup_failed: Option<&str>,
    images: &ImageVerdicts,
) -> Result<(serde_json::Value, RequestLabels), (BadReview, Labels)> {
    let labels = Some((kind_label(&req.kind.kind), req.operation.name().to_string()));
    let namespace = req.namespace.clone().unwrap_or_default();
    let r = request(req, &namespace);
    let unknown_ns;
    let known = s.namespaces.read().unwrap_or_else(|e| e.into_inner());
    let ns_labels = match known.get(&namespace) {
        Some(l) => l,
        None => {
            unknown_ns = namespace_labels(&known, &namespace);
            &unknown_ns
        }
    };
    let decision: Decision = match lookup_failed {
        Some(why) => Decision {
            allowed: false,
            message: Some(format!(
                "{why}; rampart cannot tell which Pod Security level applies"
            )),
            ..Decision::default()
        },
        None => {
            let policies = s.policies.read().unwrap_or_else(|e| e.into_inner());
            match endpoint {
                Endpoint::Validate => {
                    let objects = s.objects.read().unwrap_or_else(|e| e.into_inner());
                    review::validate_images(
                        &r,
                        ns_labels,
                        &policies,
                        &s.pss,
                        &objects,
                        Some(images),
                    )
                }
                Endpoint::Mutate => {
                    review::mutate_images(&r, ns_labels, &policies, s.guard.as_ref(), Some(images))
                }
            }
            .map_err(|e| (BadReview::Review(e), labels.clone()))?
        }
    };
    drop(known);
    let outcome = if !decision.allowed {
        Outcome::Denied
    } else if decision.patch.is_some() {
        Outcome::Mutated
    } else if !decision.warnings.is_empty() {
        Outcome::Warned
    } else {
        Outcome::Allowed
    };
    let v = response(&req.uid, decision).map_err(|e| (BadReview::Patch(e), labels.clone()))?;
    Ok((
        v,
        RequestLabels {
            endpoint: endpoint.name(),
            kind: kind_label(&req.kind.kind),
            operation: req.operation.name().to_string(),
            decision: outcome,
        },
    ))
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Validate => "validate",
            Endpoint::Mutate => "mutate",
        }
    }
}

impl AdmissionState {
    fn reject(&self, endpoint: Endpoint, e: BadReview, labels: Labels) -> Response {
        tracing::debug!(
            endpoint = endpoint.name(),
            "rejected review: {}",
            e.message()
        );
        self.metrics
            .errors
            .get_or_create(&ErrorLabels { reason: e.reason() })
            .inc();
        let (kind, operation) = labels.unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.name(),
                kind,
                operation,
                decision: Outcome::Invalid,
            })
            .inc();
        e.into_response()
    }
}
