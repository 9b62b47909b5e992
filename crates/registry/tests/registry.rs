//! The registry client against a real registry (Debian's `docker-registry`, distribution 2.8,
//! on loopback) holding images and cosign signatures made here, and against a hostile one
//! (slow, huge, looping, lying answers) that must cost bounded time and memory.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use rampart_registry::{Credentials, FetchError, Registry, RegistryConfig};
use rampart_signatures::{Attestor, Digest, ImageRef, Matcher, PublicKey, TrustRoot, verify_image};
use rampart_testkit::oci::{LocalRegistry, Pusher};
use rampart_testkit::sigstore::{Identity, TestInstance, TestKey, payload};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn client(host: &str, timeout: Duration) -> Registry {
    Registry::new(RegistryConfig {
        timeout,
        insecure: vec![host.to_string()],
        ..RegistryConfig::default()
    })
    .unwrap()
}

#[tokio::test]
async fn signatures_made_here_verify_through_a_real_registry() {
    let registry = LocalRegistry::start();
    let host = registry.host().to_string();
    let push = Pusher::new(&host);
    let key = TestKey::generate();
    let instance = TestInstance::generate();
    let identity = Identity {
        subject: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main".into(),
        issuer: "https://token.actions.githubusercontent.com".into(),
    };

    let signed = push.image("acme/app", "v1", b"the app").await;
    let unsigned = push.image("acme/app", "unsigned", b"something else").await;
    let name = format!("{host}/acme/app");
    push.signatures(
        "acme/app",
        &signed,
        &[
            key.sign(payload(&name, &signed)),
            instance.sign(payload(&name, &signed), &identity, now()),
        ],
    )
    .await;

    let client = client(&host, Duration::from_secs(3));
    let none = Credentials::none();
    let image = ImageRef::parse(&format!("{host}/acme/app:v1")).unwrap();
    let digest = client.resolve(&image, &none).await.unwrap();
    assert_eq!(digest.to_string(), signed);
    let signatures = client.signatures(&image, &digest, &none).await.unwrap();
    assert_eq!(signatures.len(), 2);

    let empty = TrustRoot::empty().unwrap();
    let keyed = Attestor::Key {
        key: PublicKey::from_pem(&key.public_pem()).unwrap(),
        log: None,
    };
    let root = Arc::new(TrustRoot::from_json(&instance.trusted_root_json()).unwrap());
    let keyless = Attestor::Keyless {
        subject: Matcher::pattern("https://github.com/acme/.*").unwrap(),
        issuer: Some(Matcher::exact(&identity.issuer)),
        root: root.clone(),
    };
    assert!(verify_image(&digest, &signatures, &keyed, &empty, now()).is_ok());
    let v = verify_image(&digest, &signatures, &keyless, &empty, now()).unwrap();
    assert_eq!(
        v.signer.to_string(),
        format!("{} ({})", identity.subject, identity.issuer)
    );
    // The keyed signature in the log too: this one was never logged.
    let logged = Attestor::Key {
        key: PublicKey::from_pem(&key.public_pem()).unwrap(),
        log: Some(root.clone()),
    };
    assert_eq!(
        verify_image(&digest, &signatures, &logged, &empty, now())
            .unwrap_err()
            .reason(),
        "transparency-log"
    );
    // Another key, another identity.
    let other = Attestor::Key {
        key: PublicKey::from_pem(&TestKey::generate().public_pem()).unwrap(),
        log: None,
    };
    assert_eq!(
        verify_image(&digest, &signatures, &other, &empty, now())
            .unwrap_err()
            .reason(),
        "bad-signature"
    );
    let stranger = Attestor::Keyless {
        subject: Matcher::exact("mallory@example.com"),
        issuer: Some(Matcher::exact(&identity.issuer)),
        root,
    };
    assert_eq!(
        verify_image(&digest, &signatures, &stranger, &empty, now())
            .unwrap_err()
            .reason(),
        "wrong-identity"
    );

    // Unsigned: no signature manifest at all.
    let image = ImageRef::parse(&format!("{host}/acme/app:unsigned")).unwrap();
    let d = client.resolve(&image, &none).await.unwrap();
    assert_eq!(d.to_string(), unsigned);
    assert!(
        client
            .signatures(&image, &d, &none)
            .await
            .unwrap()
            .is_empty()
    );

    // Re-tagged after signing: v1 now points at an unsigned image; the old signature copied
    // beside it names the digest it was made for.
    let retagged = push.image("acme/app", "v1", b"swapped in").await;
    let image = ImageRef::parse(&format!("{host}/acme/app:v1")).unwrap();
    let d = client.resolve(&image, &none).await.unwrap();
    assert_eq!(d.to_string(), retagged);
    assert!(
        client
            .signatures(&image, &d, &none)
            .await
            .unwrap()
            .is_empty()
    );
    push.signatures("acme/app", &retagged, &[key.sign(payload(&name, &signed))])
        .await;
    let copied = client.signatures(&image, &d, &none).await.unwrap();
    assert_eq!(
        verify_image(&d, &copied, &keyed, &empty, now())
            .unwrap_err()
            .reason(),
        "digest-mismatch"
    );

    // A missing tag, and the registry gone.
    let missing = ImageRef::parse(&format!("{host}/acme/app:nope")).unwrap();
    assert!(matches!(
        client.resolve(&missing, &none).await,
        Err(FetchError::NotFound { .. })
    ));
    drop(registry);
    let err = client.resolve(&missing, &none).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("could not reach {host}")),
        "{err}"
    );
}

/// A registry that answers every request with `answer`.
async fn hostile(answer: fn(&str) -> axum::response::Response) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let app = Router::new().route(
        "/{*path}",
        get(move |uri: axum::http::Uri| async move { answer(uri.path()) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    host
}

#[tokio::test]
async fn a_hostile_registry_costs_bounded_time_and_memory() {
    let none = Credentials::none();
    let digest = Digest::sha256_of(b"x");

    // A manifest of 64 MiB: refused at the limit, not read whole.
    let host = hostile(|_| {
        let big = vec![b' '; 64 * 1024 * 1024];
        (StatusCode::OK, big).into_response()
    })
    .await;
    let image = ImageRef::parse(&format!("{host}/a/b:v1")).unwrap();
    let err = client(&host, Duration::from_secs(5))
        .resolve(&image, &none)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");

    // Redirects forever.
    let host = hostile(|path| {
        (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, format!("{path}x"))],
        )
            .into_response()
    })
    .await;
    let image = ImageRef::parse(&format!("{host}/a/b:v1")).unwrap();
    let err = client(&host, Duration::from_secs(5))
        .resolve(&image, &none)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Redirects { .. }), "{err}");

    // Garbage where a signature manifest belongs.
    let host = hostile(|_| (StatusCode::OK, "{\"layers\": 7").into_response()).await;
    let image = ImageRef::parse(&format!("{host}/a/b:v1")).unwrap();
    let err = client(&host, Duration::from_secs(5))
        .signatures(&image, &digest, &none)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Malformed { .. }), "{err}");

    // A signature layer whose content is not what its digest says, and one declared huge.
    let host = hostile(|path| {
        if path.contains("/manifests/") {
            let body = serde_json::json!({"layers": [
                {"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                 "digest": format!("sha256:{}", "0".repeat(64)), "size": 10}
            ]});
            (StatusCode::OK, body.to_string()).into_response()
        } else {
            (StatusCode::OK, "not that").into_response()
        }
    })
    .await;
    let image = ImageRef::parse(&format!("{host}/a/b:v1")).unwrap();
    let err = client(&host, Duration::from_secs(5))
        .signatures(&image, &digest, &none)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not hash to"), "{err}");
    let host = hostile(|_| {
        let body = serde_json::json!({"layers": [
            {"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
             "digest": format!("sha256:{}", "0".repeat(64)), "size": 1_000_000_000}
        ]});
        (StatusCode::OK, body.to_string()).into_response()
    })
    .await;
    let image = ImageRef::parse(&format!("{host}/a/b:v1")).unwrap();
    let err = client(&host, Duration::from_secs(5))
        .signatures(&image, &digest, &none)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");

    // Slow: the timeout, named.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let app = Router::new().route(
        "/{*path}",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let image = ImageRef::parse(&format!("{host}/a/b:v1")).unwrap();
    let started = std::time::Instant::now();
    let err = client(&host, Duration::from_secs(1))
        .resolve(&image, &none)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("could not reach {host} within 1 s")
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn the_token_handshake_sends_credentials_to_the_realm_only() {
    use std::sync::Mutex;
    // A registry asking for a bearer token from a realm on its own host.
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let realm = format!("http://{host}/token");
    let s = seen.clone();
    let app = Router::new().route(
        "/{*path}",
        get(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
                let s = s.clone();
                let realm = realm.clone();
                async move {
                    let auth = headers
                        .get(header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    s.lock().unwrap().push((uri.to_string(), auth.clone()));
                    if uri.path() == "/token" {
                        return (StatusCode::OK, r#"{"token": "t0k3n", "expires_in": 300}"#)
                            .into_response();
                    }
                    if auth != "Bearer t0k3n" {
                        let challenge = format!(
                            r#"Bearer realm="{realm}",service="test",scope="repository:a/b:pull""#
                        );
                        return (
                            StatusCode::UNAUTHORIZED,
                            [(header::WWW_AUTHENTICATE, challenge)],
                            "",
                        )
                            .into_response();
                    }
                    (StatusCode::OK, r#"{"schemaVersion": 2, "layers": []}"#).into_response()
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let creds = Credentials::from_docker_config(
        format!(r#"{{"auths": {{"{host}": {{"username": "bot", "password": "s3cret"}}}}}}"#)
            .as_bytes(),
    )
    .unwrap();
    let client = client(&host, Duration::from_secs(3));
    let image = ImageRef::parse(&format!("{host}/a/b:v1")).unwrap();
    client.resolve(&image, &creds).await.unwrap();
    client.resolve(&image, &creds).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let token_calls: Vec<_> = seen
        .iter()
        .filter(|(u, _)| u.starts_with("/token"))
        .collect();
    // One token, reused for the second request; the realm (same host) got the basic credentials.
    assert_eq!(token_calls.len(), 1, "{seen:?}");
    assert!(token_calls[0].0.contains("scope=repository%3Aa%2Fb%3Apull"));
    assert!(token_calls[0].1.starts_with("Basic "));
    // The manifests were never sent the password.
    assert!(
        seen.iter()
            .filter(|(u, _)| u.starts_with("/v2/"))
            .all(|(_, a)| !a.starts_with("Basic "))
    );
}

/// A registry with the OCI 1.1 referrers API, holding a sigstore bundle (the conformance
/// suite's DSSE happy path, whose subject is `a.txt`) as a referrer of that digest.
#[tokio::test]
async fn sigstore_bundles_among_referrers_are_found_and_verify() {
    use rampart_signatures::{Signature, TrustRoot};
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpora/sigstore/conformance/bundle-verify");
    let artifact = std::fs::read(base.join("a.txt")).unwrap();
    let bundle =
        std::fs::read(base.join("happy-path-intoto-in-dsse-v3/bundle.sigstore.json")).unwrap();
    let subject = Digest::sha256_of(&artifact);
    let bundle_digest = Digest::sha256_of(&bundle).to_string();
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
        "layers": [{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                    "digest": bundle_digest, "size": bundle.len()}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": subject.to_string(), "size": 1}
    })
    .to_string();
    let manifest_digest = Digest::sha256_of(manifest.as_bytes()).to_string();
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
             "size": manifest.len(), "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": format!("sha256:{}", "1".repeat(64)), "size": 10,
             "artifactType": "application/vnd.example.sbom"}
        ]
    })
    .to_string();
    let routes: Arc<Vec<(String, String)>> = Arc::new(vec![
        (format!("/v2/a/b/referrers/{subject}"), index),
        (format!("/v2/a/b/manifests/{manifest_digest}"), manifest),
        (
            format!("/v2/a/b/blobs/{bundle_digest}"),
            String::from_utf8(bundle).unwrap(),
        ),
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let app = Router::new().route(
        "/{*path}",
        get(move |uri: axum::http::Uri| {
            let routes = routes.clone();
            async move {
                match routes.iter().find(|(p, _)| *p == uri.path()) {
                    Some((_, body)) => (StatusCode::OK, body.clone()).into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let image = ImageRef::parse(&format!("{host}/a/b@{subject}")).unwrap();
    let client = client(&host, Duration::from_secs(3));
    let signatures = client
        .signatures(&image, &subject, &Credentials::none())
        .await
        .unwrap();
    assert_eq!(signatures.len(), 1, "the SBOM referrer is not read");
    assert!(matches!(signatures[0], Signature::Bundle(_)));
    let attestor = Attestor::Keyless {
        subject: Matcher::pattern("https://github.com/sigstore-conformance/.*").unwrap(),
        issuer: Some(Matcher::exact(
            "https://token.actions.githubusercontent.com",
        )),
        root: Arc::new(TrustRoot::production().unwrap()),
    };
    let empty = TrustRoot::empty().unwrap();
    let v = verify_image(&subject, &signatures, &attestor, &empty, now()).unwrap();
    assert!(v.signer.to_string().contains("sigstore-conformance"));
    // The same bundle beside another digest: its statement names another subject.
    let other = Digest::sha256_of(b"another image");
    assert_eq!(
        verify_image(&other, &signatures, &attestor, &empty, now())
            .unwrap_err()
            .reason(),
        "bad-signature"
    );
}
