//! `verifyImages` end to end: `rampart webhook` over TLS, a real registry (Debian's
//! `docker-registry`) holding images and cosign signatures made here with fresh keys and a
//! private sigstore instance, AdmissionReview v1 in and out. Signed → allowed, and `/mutate`
//! pins the digest; unsigned, wrongly signed, re-tagged after signing, signed by another
//! identity → denied with the reason; registry down → the failure policy.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use rampart_testkit::oci::{LocalRegistry, Pusher};
use rampart_testkit::sigstore::{Identity, TestInstance, TestKey, payload};
use serde_json::{Value, json};

struct Webhook {
    child: Child,
    addr: std::net::SocketAddr,
    cert: rustls::pki_types::CertificateDer<'static>,
    dir: PathBuf,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(dir: PathBuf, policy: &Value, extra: &[String]) -> Webhook {
    std::fs::create_dir_all(&dir).unwrap();
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("tls.crt"), c.cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), c.signing_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("policy.json"), policy.to_string()).unwrap();
    std::fs::write(
        dir.join("ns.json"),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}).to_string(),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["webhook", "--addr", "127.0.0.1:0"])
        .arg("--policies")
        .arg(dir.join("policy.json"))
        .arg("--namespaces")
        .arg(dir.join("ns.json"))
        .arg("--tls-cert")
        .arg(dir.join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.join("tls.key"))
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit("https://")
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("webhook did not start: {line}"));
    Webhook {
        child,
        addr,
        cert: c.cert.der().clone(),
        dir,
    }
}

impl Webhook {
    /// One AdmissionReview for a Pod running `image`, to `/validate` or `/mutate`.
    async fn review(&self, path: &str, image: &str) -> Value {
        let mut sender =
            rampart_testkit::tls::connect(&self.addr.to_string(), self.cert.clone()).await;
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "img-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "shop", "name": "app", "operation": "CREATE", "userInfo": {"username": "dev"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": "shop"},
                       "spec": {"containers": [{"name": "app", "image": image}]}}}});
        let req = hyper::Request::post(path)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(review.to_string())))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap()
    }

    async fn denial(&self, image: &str) -> String {
        let v = self.review("/validate", image).await;
        assert_eq!(v["response"]["allowed"], false, "{image}: {v}");
        v["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn the_webhook_verifies_signatures_against_a_real_registry() {
    let registry = LocalRegistry::start();
    let host = registry.host().to_string();
    let push = Pusher::new(&host);
    let key = TestKey::generate();
    let instance = TestInstance::generate();
    let ci = Identity {
        subject: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main".into(),
        issuer: "https://token.actions.githubusercontent.com".into(),
    };

    // keyed/app: v1 signed with the key; unsigned; wrongkey signed by another key.
    let keyed = push.image("keyed/app", "v1", b"keyed v1").await;
    push.signatures(
        "keyed/app",
        &keyed,
        &[key.sign(payload(&format!("{host}/keyed/app"), &keyed))],
    )
    .await;
    push.image("keyed/app", "unsigned", b"keyed unsigned").await;
    let wrong = push.image("keyed/app", "wrongkey", b"keyed wrong").await;
    push.signatures(
        "keyed/app",
        &wrong,
        &[TestKey::generate().sign(payload(&format!("{host}/keyed/app"), &wrong))],
    )
    .await;
    // keyless/app: v1 signed by CI; other signed by someone else.
    let ci_signed = push.image("keyless/app", "v1", b"ci v1").await;
    push.signatures(
        "keyless/app",
        &ci_signed,
        &[instance.sign(
            payload(&format!("{host}/keyless/app"), &ci_signed),
            &ci,
            now(),
        )],
    )
    .await;
    let other = push.image("keyless/app", "other", b"other").await;
    let mallory = Identity {
        subject: "mallory@example.com".into(),
        issuer: "https://accounts.google.com".into(),
    };
    push.signatures(
        "keyless/app",
        &other,
        &[instance.sign(
            payload(&format!("{host}/keyless/app"), &other),
            &mallory,
            now(),
        )],
    )
    .await;

    let dir = std::env::temp_dir().join(format!("rampart-images-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("root.json"), instance.trusted_root_json()).unwrap();
    let policy = json!({
        "apiVersion": "rampart.dev/v1alpha1", "kind": "ClusterSecurityPolicy",
        "metadata": {"name": "signed-images"},
        "spec": {"rules": [
            {"name": "signed-by-key", "conditions": [{"verifyImages": {
                "imageReferences": [format!("{host}/keyed/*")],
                "attestors": [{"key": {"publicKey": key.public_pem()}}]}}]},
            {"name": "signed-by-ci", "conditions": [{"verifyImages": {
                "imageReferences": [format!("{host}/keyless/*")],
                "attestors": [{"keyless": {"subjectRegExp": "https://github\\.com/acme/.*",
                                           "issuer": ci.issuer, "trustedRoot": "test"}}]}}]}
        ]}
    });
    let webhook = start(
        dir.join("webhook"),
        &policy,
        &[
            format!("--insecure-registry={host}"),
            format!("--trusted-root=test={}", dir.join("root.json").display()),
        ],
    );

    // Signed: allowed, and /mutate pins the digest that was verified.
    for (image, digest) in [
        (format!("{host}/keyed/app:v1"), &keyed),
        (format!("{host}/keyless/app:v1"), &ci_signed),
    ] {
        let v = webhook.review("/validate", &image).await;
        assert_eq!(v["response"]["allowed"], true, "{image}: {v}");
        let v = webhook.review("/mutate", &image).await;
        let patch = base64::engine::general_purpose::STANDARD
            .decode(v["response"]["patch"].as_str().unwrap())
            .unwrap();
        let patch: Value = serde_json::from_slice(&patch).unwrap();
        let repo = image.rsplit_once(':').unwrap().0;
        assert_eq!(
            patch,
            json!([{"op": "replace", "path": "/spec/containers/0/image", "value": format!("{repo}@{digest}")}])
        );
        // The pinned reference verifies too (what the pod's validate sees after mutate).
        let v = webhook
            .review("/validate", &format!("{repo}@{digest}"))
            .await;
        assert_eq!(v["response"]["allowed"], true, "{v}");
    }

    // Unsigned, wrong key, another identity: denied, saying why.
    let m = webhook.denial(&format!("{host}/keyed/app:unsigned")).await;
    assert!(
        m.contains("no signature found") && m.contains("signed-by-key"),
        "{m}"
    );
    let m = webhook.denial(&format!("{host}/keyed/app:wrongkey")).await;
    assert!(m.contains("bad signature"), "{m}");
    let m = webhook.denial(&format!("{host}/keyless/app:other")).await;
    assert!(
        m.contains("wrong identity") && m.contains("mallory@example.com"),
        "{m}"
    );

    // Re-tagged after signing: v1 now points at another image, with the old signature copied
    // beside it.
    let swapped = push.image("keyed/app", "v2", b"swapped").await;
    push.signatures(
        "keyed/app",
        &swapped,
        &[key.sign(payload(&format!("{host}/keyed/app"), &keyed))],
    )
    .await;
    let m = webhook.denial(&format!("{host}/keyed/app:v2")).await;
    assert!(m.contains("the signature is for another image"), "{m}");

    // Images no rule gates are not looked up at all.
    let v = webhook
        .review("/validate", "docker.io/library/nginx:1.27")
        .await;
    assert_eq!(v["response"]["allowed"], true);

    // The registry gone: a verified digest stays verified from the cache; a new image cannot
    // be checked and the policy fails closed, naming the registry.
    drop(registry);
    let v = webhook
        .review("/validate", &format!("{host}/keyed/app@{keyed}"))
        .await;
    assert_eq!(v["response"]["allowed"], true, "{v}");
    let m = webhook
        .denial(&format!("{host}/keyed/app:never-pushed"))
        .await;
    assert!(m.contains(&format!("could not reach {host}")), "{m}");
    drop(webhook);

    // failurePolicy Ignore: the same admits with a warning.
    let mut ignoring = policy.clone();
    ignoring["spec"]["failurePolicy"] = "Ignore".into();
    let webhook = start(
        dir.join("webhook2"),
        &ignoring,
        &[
            format!("--insecure-registry={host}"),
            "--registry-timeout=1s".into(),
        ],
    );
    let v = webhook
        .review("/validate", &format!("{host}/keyed/app:v1"))
        .await;
    assert_eq!(v["response"]["allowed"], true, "{v}");
    let warning = v["response"]["warnings"][0].as_str().unwrap();
    assert!(warning.contains("could not be verified"), "{warning}");
    drop(webhook);
    std::fs::remove_dir_all(&dir).ok();
}
