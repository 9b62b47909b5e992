//! The webhook router in-process: AdmissionReview v1 in, AdmissionReview v1 out; every bad
//! input a 400 with a reason, counted.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rampart_http::admission::{AdmissionState, MAX_BODY, router};
use serde_json::{Value, json};
use tower::ServiceExt;

fn state() -> Arc<AdmissionState> {
    let s = AdmissionState::default();
    s.namespaces.write().unwrap().insert(
        "app".into(),
        [(
            "pod-security.kubernetes.io/enforce".to_string(),
            "restricted".to_string(),
        )]
        .into(),
    );
    Arc::new(s)
}

fn review(kind: &str, object: Value) -> Value {
    let (group, version) = match kind {
        "Deployment" => ("apps", "v1"),
        _ => ("", "v1"),
    };
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
        "namespace": "app", "name": object["metadata"]["name"], "operation": "CREATE",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": object, "oldObject": null, "dryRun": false}})
}

async fn call(s: &Arc<AdmissionState>, path: &str, body: impl Into<Body>) -> (StatusCode, Vec<u8>) {
    let resp = router(s.clone())
        .oneshot(
            Request::post(path)
                .header("content-type", "application/json")
                .body(body.into())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    (
        status,
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
}

fn privileged_pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "app"},
           "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]}})
}

#[tokio::test]
async fn denials_echo_the_uid_and_explain() {
    let s = state();
    let (status, body) = call(&s, "/validate", review("Pod", privileged_pod()).to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(v["kind"], "AdmissionReview");
    let r = &v["response"];
    assert_eq!(r["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert_eq!(r["allowed"], false);
    let msg = r["status"]["message"].as_str().unwrap();
    // Upstream's wording: the request's resource, the name, the level and the checks.
    assert!(
        msg.starts_with("pods \"p\" is forbidden: violates PodSecurity \"restricted:latest\": ")
            && msg.contains("container \"c\""),
        "{msg}"
    );
    assert_eq!(r["auditAnnotations"]["enforce-policy"], "restricted:latest");
}

#[tokio::test]
async fn templates_get_warnings_and_unknown_kinds_pass() {
    let s = state();
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "app"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
        "spec": privileged_pod()["spec"]}}});
    // The namespace only enforces: templates are not denied (and not warned without a warn label).
    let (_, body) = call(&s, "/validate", review("Deployment", d.clone()).to_string()).await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["response"]["allowed"], true, "{v}");
    s.namespaces
        .write()
        .unwrap()
        .get_mut("app")
        .unwrap()
        .insert("pod-security.kubernetes.io/warn".into(), "baseline".into());
    let (_, body) = call(&s, "/validate", review("Deployment", d).to_string()).await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["response"]["allowed"], true);
    // A template's warning is worded as a pod's (no prefix), as upstream's.
    assert!(
        v["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("would violate PodSecurity \"baseline:latest\": privileged (")
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "app"}, "data": {"k": "v"}});
    let (_, body) = call(&s, "/validate", review("ConfigMap", cm).to_string()).await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["response"]["allowed"], true);
    assert!(v["response"].get("patch").is_none());
}

#[tokio::test]
async fn bad_requests_are_400s_with_reasons_and_counted() {
    let s = state();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![b' '; MAX_BODY + 1], "larger than"),
        (b"{not json".to_vec(), "malformed AdmissionReview"),
        (json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).to_string().into_bytes(), "no request"),
        (
            review("Pod", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": "many"}}))
                .to_string()
                .into_bytes(),
            "shape of a Kubernetes Pod",
        ),
        (json!([1, 2, 3]).to_string().into_bytes(), "malformed AdmissionReview"),
        (
            json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": review("Pod", privileged_pod())["request"]})
                .to_string()
                .into_bytes(),
            "unsupported AdmissionReview version",
        ),
    ];
    for (body, want) in cases {
        let (status, text) = call(&s, "/validate", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{want}");
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains(want), "{want}: {text}");
    }
    let (_, metrics) = {
        let resp = router(s.clone())
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        (
            resp.status(),
            resp.into_body().collect().await.unwrap().to_bytes(),
        )
    };
    let m = String::from_utf8(metrics.to_vec()).unwrap();
    for reason in [
        "body_too_large",
        "malformed_json",
        "no_request",
        "unexpected_shape",
    ] {
        assert!(
            m.contains(&format!(
                "rampart_admission_errors_total{{reason=\"{reason}\"}}"
            )),
            "{reason} in {m}"
        );
    }
    assert!(m.contains("decision=\"Invalid\""), "{m}");
}

#[tokio::test]
async fn mutate_returns_a_json_patch() {
    let s = state();
    let mut set = rampart_policy::review::PolicySet::default();
    set.upsert(rampart_policy::review::NamedPolicy {
        kind: "SecurityPolicy",
        namespace: Some("app".into()),
        name: "harden".into(),
        spec: serde_json::from_value(json!({"rules": [{"name": "r", "conditions": [{"disallowPrivilegeEscalation": true}]}],
            "mutations": {"disallowPrivilegeEscalation": true, "defaultRequests": {"cpu": "100m"}}})).unwrap(),
    })
    .unwrap();
    *s.policies.write().unwrap() = set;
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "app"},
        "spec": {"containers": [{"name": "c", "image": "x"}]}});
    let (status, body) = call(&s, "/mutate", review("Pod", pod).to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["response"]["patchType"], "JSONPatch");
    use base64::Engine;
    let raw = v["response"]["patch"].as_str().unwrap();
    let ops: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap(),
    )
    .unwrap();
    let paths: Vec<&str> = ops
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/spec/containers/0/securityContext",
            "/spec/containers/0/resources"
        ]
    );
    assert!(ops.as_array().unwrap().iter().all(|o| o["op"] == "add"));
}

#[tokio::test]
async fn health_and_readiness() {
    let s = state();
    let get = |p: &'static str| {
        let s = s.clone();
        async move {
            router(s)
                .oneshot(Request::get(p).body(Body::empty()).unwrap())
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(get("/healthz").await, StatusCode::OK);
    assert_eq!(get("/readyz").await, StatusCode::SERVICE_UNAVAILABLE);
    s.ready.store(true, Ordering::Relaxed);
    assert_eq!(get("/readyz").await, StatusCode::OK);
}

#[tokio::test]
async fn unknown_namespaces_are_read_live_and_fail_closed() {
    use rampart_http::admission::NamespaceLookup;
    let s = AdmissionState {
        namespace_lookup: Some(NamespaceLookup(Arc::new(|ns: String| {
            Box::pin(async move {
                match ns.as_str() {
                    "app" => Ok(Some(
                        [(
                            "pod-security.kubernetes.io/enforce".to_string(),
                            "restricted".to_string(),
                        )]
                        .into(),
                    )),
                    "gone" => Ok(None),
                    _ => Err("connection refused".to_string()),
                }
            })
        }))),
        ..AdmissionState::default()
    };
    let s = Arc::new(s);
    // Read live: the pod is judged at the namespace's level, and the labels are cached.
    let (_, body) = call(&s, "/validate", review("Pod", privileged_pod()).to_string()).await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["response"]["allowed"], false);
    assert!(s.namespaces.read().unwrap().contains_key("app"));
    // Unreadable: denied, with the reason.
    let mut r = review("Pod", privileged_pod());
    r["request"]["namespace"] = json!("elsewhere");
    let (_, body) = call(&s, "/validate", r.to_string()).await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["response"]["allowed"], false);
    assert!(
        v["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be read")
    );
}

#[tokio::test]
async fn a_body_announced_too_large_is_refused_unread() {
    let s = state();
    // The announced length alone decides: the body that follows is never read (it would
    // never arrive from an attacker either).
    let resp = router(s.clone())
        .oneshot(
            Request::post("/validate")
                .header("content-type", "application/json")
                .header("content-length", (MAX_BODY + 1).to_string())
                .body(Body::from_stream(futures_pending()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(s.metrics.encode().contains("reason=\"body_too_large\""));
}

/// A body stream that never yields: reading it would hang the test.
fn futures_pending()
-> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> + Send {
    futures_util::stream::pending()
}

#[tokio::test]
async fn a_protected_router_wants_the_token_except_for_probes() {
    use rampart_http::auth::{Token, protect};
    let app = protect(router(state()), Token::new("s3cret\n"));
    let get = |path: &str, auth: Option<&str>| {
        let mut r = Request::get(path);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        app.clone().oneshot(r.body(Body::empty()).unwrap())
    };
    let denied = get("/metrics", None).await.unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    assert!(
        denied
            .headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap().starts_with("Basic"))
    );
    let wrong = get("/metrics", Some("Bearer s3cre")).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let bearer = get("/metrics", Some("Bearer s3cret")).await.unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    // admin:s3cret
    let basic = get("/metrics", Some("Basic YWRtaW46czNjcmV0"))
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    assert_eq!(
        get("/healthz", None).await.unwrap().status(),
        StatusCode::OK
    );
    // The kubelet's readiness probe carries no token either.
    assert_ne!(
        get("/readyz", None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_malformed_review_is_not_echoed_back() {
    let s = state();
    let secret = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl";
    // A pod whose env value sits where the schema wants a list: serde quotes the value.
    let mut r = review("Pod", privileged_pod());
    r["request"]["object"]["spec"]["containers"][0]["env"] = json!(secret);
    let (status, body) = call(&s, "/validate", r.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body = String::from_utf8(body).unwrap();
    assert!(!body.contains(&secret[..24]), "{body}");
}

#[tokio::test]
async fn responses_are_never_sniffed() {
    let resp = router(state())
        .oneshot(Request::post("/validate").body(Body::from("{")).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn the_webhook_judges_objects_as_the_api_server_sent_them() {
    // The API server has already defaulted what it sends (hostPort from containerPort with
    // hostNetwork): the webhook must not default again, or it would name checks the real
    // object does not fail.
    let s = state();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "app"},
        "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "x",
                 "ports": [{"containerPort": 80}]}]}});
    let (_, body) = call(&s, "/validate", review("Pod", pod).to_string()).await;
    let v: Value = serde_json::from_slice(&body).unwrap();
    let message = v["response"]["status"]["message"].as_str().unwrap();
    assert!(message.contains("host namespaces"), "{message}");
    assert!(!message.contains("hostPort"), "{message}");
}
