//! The webhook's image verification service: a pod's pull secrets are what the registry is
//! read with, verdicts are kept and counted, a deadline bounds a review's verification.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use rampart_http::images::ImageService;
use rampart_http::metrics::Metrics;
use rampart_policy::images::{ImageCheck, ImageRule, ImageVerdict};
use rampart_registry::{Credentials, Registry, RegistryConfig};
use serde_json::json;

const KEY: &str = include_str!("../../../tests/corpora/sigstore/cosign/key-busybox/cosign.pub");

/// A registry that wants `bot:pw` (basic auth), has every tag, and no signatures; counts the
/// requests it answered with content.
async fn private_registry(hits: Arc<AtomicUsize>, delay: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let app = Router::new().route(
        "/{*path}",
        get(move |uri: axum::http::Uri, headers: HeaderMap| {
            let hits = hits.clone();
            async move {
                tokio::time::sleep(delay).await;
                let auth = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                if auth != Some("Basic Ym90OnB3") {
                    return (
                        StatusCode::UNAUTHORIZED,
                        [(header::WWW_AUTHENTICATE, "Basic realm=\"private\"")],
                        "",
                    )
                        .into_response();
                }
                hits.fetch_add(1, Ordering::Relaxed);
                if uri.path().contains("/manifests/v1") {
                    (StatusCode::OK, r#"{"schemaVersion": 2, "layers": []}"#).into_response()
                } else {
                    StatusCode::NOT_FOUND.into_response()
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    host
}

fn check(host: &str) -> ImageCheck {
    let spec = serde_json::from_value(json!({
        "imageReferences": [format!("{host}/*")],
        "attestors": [{"key": {"publicKey": KEY}}]
    }))
    .unwrap();
    ImageCheck {
        key: "ClusterSecurityPolicy p rules[0].conditions[0]".into(),
        rule: Arc::new(
            ImageRule::compile("rules[0].conditions[0]".into(), "signed", &spec, None).unwrap(),
        ),
        image: format!("{host}/acme/app:v1"),
    }
}

fn service(host: &str) -> ImageService {
    let registry = Registry::new(RegistryConfig {
        insecure: vec![host.to_string()],
        ..RegistryConfig::default()
    })
    .unwrap();
    ImageService::new(registry, BTreeMap::new()).unwrap()
}

#[tokio::test]
async fn a_pods_pull_secrets_are_what_the_registry_is_read_with() {
    let hits = Arc::new(AtomicUsize::new(0));
    let host = private_registry(hits.clone(), Duration::ZERO).await;
    let service = service(&host);
    let metrics = Metrics::default();
    let config = format!(r#"{{"auths": {{"{host}": {{"auth": "Ym90OnB3"}}}}}}"#);
    service
        .set_pull_secret("shop", "regcred", config.as_bytes())
        .unwrap();
    assert!(service.set_pull_secret("shop", "broken", b"{nope").is_err());
    let c = check(&host);

    // Another namespace's secret of the same name is not this pod's.
    let none = service.credentials("web", &["regcred".to_string()]);
    let v = service
        .verify(std::slice::from_ref(&c), &none, &metrics)
        .await;
    match v.get(&c.key, &c.image) {
        Some(ImageVerdict::Unavailable(why)) => assert!(why.contains("refused access"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(hits.load(Ordering::Relaxed), 0);

    // With the pod's secret: the registry answers (the image has no signature).
    let creds = service.credentials("shop", &["regcred".to_string(), "missing".to_string()]);
    let v = service
        .verify(std::slice::from_ref(&c), &creds, &metrics)
        .await;
    assert_eq!(
        v.get(&c.key, &c.image),
        Some(&ImageVerdict::Rejected(
            rampart_signatures::Rejection::NoSignature
        ))
    );
    let asked = hits.load(Ordering::Relaxed);
    assert!(asked >= 2, "{asked}");

    // The rejection is kept (briefly): asked again, the registry is not.
    let v = service
        .verify(std::slice::from_ref(&c), &creds, &metrics)
        .await;
    assert!(matches!(
        v.get(&c.key, &c.image),
        Some(ImageVerdict::Rejected(_))
    ));
    assert_eq!(hits.load(Ordering::Relaxed), asked);
    let text = metrics.encode();
    assert!(
        text.contains(
            r#"rampart_image_verifications_total{result="no-signature",cached="true"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"rampart_image_verifications_total{result="unavailable",cached="false"} 1"#
        )
    );

    // Forgotten secret: no credentials again.
    service.remove_pull_secret("shop", "regcred");
    assert!(
        service
            .credentials("shop", &["regcred".to_string()])
            .is_empty()
    );
    let errors = service.replace_pull_secrets(vec![
        ("shop".into(), "a".into(), config.into_bytes()),
        ("shop".into(), "b".into(), b"not json".to_vec()),
    ]);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("pull secret shop/b:"), "{errors:?}");
    assert!(!service.credentials("shop", &["a".to_string()]).is_empty());
}

#[tokio::test]
async fn a_slow_registry_runs_into_the_deadline() {
    let hits = Arc::new(AtomicUsize::new(0));
    let host = private_registry(hits, Duration::from_secs(5)).await;
    let mut service = service(&host);
    service.deadline = Duration::from_millis(300);
    let c = check(&host);
    let started = std::time::Instant::now();
    let v = service
        .verify(
            std::slice::from_ref(&c),
            &Credentials::none(),
            &Metrics::default(),
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    match v.get(&c.key, &c.image) {
        Some(ImageVerdict::Unavailable(why)) => {
            assert!(why.contains("did not finish within"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

/// A key attestor reading its key from a Secret: nothing verifies until the Secret is loaded,
/// the right key verifies, a rotated key is in force at once (kept verdicts forgotten).
#[tokio::test]
async fn keys_from_secrets_are_in_force_as_they_change() {
    use base64::Engine;
    use rampart_testkit::oci::{LocalRegistry, Pusher};
    use rampart_testkit::sigstore::{TestKey, payload};
    let registry = LocalRegistry::start();
    let host = registry.host().to_string();
    let key = TestKey::generate();
    let push = Pusher::new(&host);
    let digest = push.image("acme/app", "v1", b"app").await;
    push.signatures(
        "acme/app",
        &digest,
        &[key.sign(payload(&format!("{host}/acme/app"), &digest))],
    )
    .await;
    let spec = serde_json::from_value(json!({
        "imageReferences": [format!("{host}/*")],
        "attestors": [{"key": {"secretRef": {"name": "signing"}}}]
    }))
    .unwrap();
    let rule = ImageRule::compile(
        "rules[0].conditions[0]".into(),
        "signed",
        &spec,
        Some("shop"),
    )
    .unwrap();
    assert_eq!(
        rule.key_secrets().collect::<Vec<_>>(),
        [("shop", "signing")]
    );
    let c = ImageCheck {
        key: "SecurityPolicy shop/p rules[0].conditions[0]".into(),
        rule: Arc::new(rule),
        image: format!("{host}/acme/app:v1"),
    };
    let service = service(&host);
    let metrics = Metrics::default();
    match verdict_of(&service, &c, &metrics).await {
        Some(ImageVerdict::Unavailable(why)) => {
            assert!(
                why.contains("no public key \"cosign.pub\" in Secret shop/signing"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
    let secret = |pem: &str| {
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"namespace": "shop", "name": "signing"},
               "data": {"cosign.pub": base64::engine::general_purpose::STANDARD.encode(pem),
                        "cosign.key": base64::engine::general_purpose::STANDARD.encode("not a public key")}})
    };
    service.set_key_secret(&secret(&key.public_pem()));
    assert!(matches!(
        verdict_of(&service, &c, &metrics).await,
        Some(ImageVerdict::Verified(_))
    ));
    // Rotated to another key: the verified verdict is not reused.
    service.set_key_secret(&secret(&TestKey::generate().public_pem()));
    assert_eq!(
        verdict_of(&service, &c, &metrics).await,
        Some(ImageVerdict::Rejected(
            rampart_signatures::Rejection::BadSignature(
                "the signature was not made by the policy's key".into()
            )
        ))
    );
    service.remove_key_secret("shop", "signing");
    assert!(matches!(
        verdict_of(&service, &c, &metrics).await,
        Some(ImageVerdict::Unavailable(_))
    ));
}

async fn verdict_of(
    service: &ImageService,
    c: &ImageCheck,
    metrics: &Metrics,
) -> Option<ImageVerdict> {
    service
        .verify(std::slice::from_ref(c), &Credentials::none(), metrics)
        .await
        .get(&c.key, &c.image)
        .cloned()
}
