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
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use rampart_policy::review::{self, Decision, PolicySet, PssConfig, Request, ReviewError};

use crate::metrics::{ErrorLabels, Metrics, Outcome, RequestLabels};

/// Largest AdmissionReview accepted (the API server's own request limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Everything the handlers read.
#[derive(Debug, Default)]
pub struct AdmissionState {
    /// SecurityPolicies and ClusterSecurityPolicies in force.
    pub policies: RwLock<PolicySet>,
    /// Labels of every known namespace.
    pub namespaces: RwLock<BTreeMap<String, BTreeMap<String, String>>>,
    /// Pod Security defaults and exemptions.
    pub pss: PssConfig,
    /// Metrics (shared with the certificate watcher).
    pub metrics: Arc<Metrics>,
    /// Whether the policy and namespace sources are loaded (readiness).
    pub ready: AtomicBool,
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
            BadReview::Review(_) => "unexpected_shape",
            BadReview::Patch(_) => "patch",
        }
    }
}

impl IntoResponse for BadReview {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, self.to_string()).into_response()
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

async fn validate(State(s): State<Arc<AdmissionState>>, body: Body) -> Response {
    handle(&s, body, Endpoint::Validate).await
}

async fn mutate(State(s): State<Arc<AdmissionState>>, body: Body) -> Response {
    handle(&s, body, Endpoint::Mutate).await
}

fn operation(o: &Operation) -> review::Operation {
    match o {
        Operation::Create => review::Operation::Create,
        Operation::Update => review::Operation::Update,
        Operation::Delete => review::Operation::Delete,
        Operation::Connect => review::Operation::Connect,
    }
}

async fn handle(s: &AdmissionState, body: Body, endpoint: Endpoint) -> Response {
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return s.reject(endpoint, BadReview::TooLarge, None),
    };
    let start = Instant::now();
    let result = decide(s, &bytes, endpoint);
    s.metrics.latency.observe(start.elapsed().as_secs_f64());
    match result {
        Ok((resp, labels)) => {
            s.metrics.requests.get_or_create(&labels).inc();
            axum::Json(wire(resp)).into_response()
        }
        Err((e, labels)) => s.reject(endpoint, e, labels),
    }
}

type Labels = Option<(String, String)>;

/// Evaluates one raw AdmissionReview body without HTTP (the handler's core, for fuzzing and
/// benchmarks): the response review as JSON, or the 400 message.
pub fn review_bytes(
    s: &AdmissionState,
    bytes: &[u8],
    mutate: bool,
) -> Result<serde_json::Value, String> {
    if bytes.len() > MAX_BODY {
        return Err(BadReview::TooLarge.to_string());
    }
    let endpoint = if mutate {
        Endpoint::Mutate
    } else {
        Endpoint::Validate
    };
    decide(s, bytes, endpoint)
        .map(|(resp, _)| wire(resp))
        .map_err(|(e, _)| e.to_string())
}

/// The review as the API server's Go types write it: `[]byte` fields (the patch) are base64
/// strings, not arrays of numbers.
fn wire(resp: AdmissionResponse) -> serde_json::Value {
    use base64::Engine;
    let mut v = serde_json::to_value(resp.into_review()).unwrap_or_default();
    if let Some(p) = v.pointer_mut("/response/patch")
        && let Some(bytes) = p.as_array().map(|a| {
            a.iter()
                .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect::<Vec<u8>>()
        })
    {
        *p = serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    v
}

fn decide(
    s: &AdmissionState,
    bytes: &[u8],
    endpoint: Endpoint,
) -> Result<(AdmissionResponse, RequestLabels), (BadReview, Labels)> {
    let review: AdmissionReview<DynamicObject> =
        serde_json::from_slice(bytes).map_err(|e| (BadReview::Json(e), None))?;
    let req: AdmissionRequest<DynamicObject> = review
        .try_into()
        .map_err(|_| (BadReview::NoRequest, None))?;
    let labels = Some((
        req.kind.kind.clone(),
        format!("{:?}", req.operation).to_uppercase(),
    ));
    let object = req
        .object
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| (BadReview::Json(e), labels.clone()))?;
    let old_object = req
        .old_object
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| (BadReview::Json(e), labels.clone()))?;
    let namespace = req.namespace.clone().unwrap_or_default();
    let username = req.user_info.username.clone().unwrap_or_default();
    let r = Request {
        group: &req.kind.group,
        kind: &req.kind.kind,
        sub_resource: req.sub_resource.as_deref(),
        operation: operation(&req.operation),
        namespace: &namespace,
        name: &req.name,
        username: &username,
        object: object.as_ref(),
        old_object: old_object.as_ref(),
    };
    let ns_labels = s
        .namespaces
        .read()
        .ok()
        .and_then(|m| m.get(&namespace).cloned())
        .unwrap_or_else(|| {
            // An unknown namespace still has its automatic name label.
            BTreeMap::from([("kubernetes.io/metadata.name".to_string(), namespace.clone())])
        });
    let decision: Decision = {
        let policies = s.policies.read().unwrap_or_else(|e| e.into_inner());
        match endpoint {
            Endpoint::Validate => review::validate(&r, &ns_labels, &policies, &s.pss),
            Endpoint::Mutate => review::mutate(&r, &ns_labels, &policies),
        }
    }
    .map_err(|e| (BadReview::Review(e), labels.clone()))?;
    let mut resp = AdmissionResponse::from(&req);
    let outcome = if !decision.allowed {
        Outcome::Denied
    } else if decision.patch.is_some() {
        Outcome::Mutated
    } else if !decision.warnings.is_empty() {
        Outcome::Warned
    } else {
        Outcome::Allowed
    };
    if !decision.allowed {
        resp = resp.deny(decision.message.unwrap_or_else(|| "denied".into()));
    }
    if !decision.warnings.is_empty() {
        resp.warnings = Some(decision.warnings);
    }
    resp.audit_annotations = decision.audit_annotations.into_iter().collect();
    if let Some(p) = decision.patch {
        resp = resp
            .with_patch(p)
            .map_err(|e| (BadReview::Patch(e.to_string()), labels.clone()))?;
    }
    let (kind, operation) = (
        req.kind.kind.clone(),
        format!("{:?}", req.operation).to_uppercase(),
    );
    Ok((
        resp,
        RequestLabels {
            endpoint: endpoint.name(),
            kind,
            operation,
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
        tracing::debug!(endpoint = endpoint.name(), "rejected review: {e}");
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
