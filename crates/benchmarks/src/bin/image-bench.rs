//! Image signature verification, measured: `cargo run --release -p rampart-benchmarks --bin
//! image-bench [ITERATIONS]` (needs Debian's `docker-registry`; it is started on loopback).
//!
//! Whole reviews (AdmissionReview parsed, images verified, decided, response built), in
//! process: a review whose image no `verifyImages` rule gates (the baseline), one whose verdict
//! is cached (a Deployment's second pod), and cold ones — a fresh service per review, so the
//! tag is resolved, the signature manifest, its layer and the referrers are fetched from the
//! registry and verified: keyed (an ECDSA P-256 key) and keyless (a Fulcio-style certificate
//! with a Rekor SET, checked against a trusted root). Prints median and p99 of each.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_benchmarks::percentiles;
use rampart_http::admission::{AdmissionState, review_bytes_verified};
use rampart_http::images::ImageService;
use rampart_registry::{Registry, RegistryConfig};
use rampart_signatures::TrustRoot;
use rampart_testkit::oci::{LocalRegistry, Pusher};
use rampart_testkit::sigstore::{Identity, TestInstance, TestKey, payload};
use serde_json::{Value, json};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn review(image: &str) -> String {
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "bench", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "shop", "name": "app", "operation": "CREATE", "userInfo": {"username": "dev"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": "shop"},
                   "spec": {"containers": [{"name": "app", "image": image}]}}}})
    .to_string()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn service(host: &str, root: &Arc<TrustRoot>) -> Arc<ImageService> {
    let registry = Registry::new(RegistryConfig {
        insecure: vec![host.to_string()],
        ..RegistryConfig::default()
    })
    .expect("registry client");
    Arc::new(
        ImageService::new(
            registry,
            BTreeMap::from([("test".to_string(), root.clone())]),
        )
        .expect("service"),
    )
}

fn state(policy: &Value, images: Arc<ImageService>) -> AdmissionState {
    let s = AdmissionState {
        images: Some(images),
        ..AdmissionState::default()
    };
    match rampart_policy::source::policy_from_value(policy, "default") {
        Some(Ok(p)) => s
            .policies
            .write()
            .expect("lock")
            .upsert(p)
            .expect("bench policy valid"),
        other => panic!("bench policy: {other:?}"),
    }
    s
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let registry = LocalRegistry::start();
    let host = registry.host().to_string();
    let key = TestKey::generate();
    let instance = TestInstance::generate();
    let ci = Identity {
        subject: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main".into(),
        issuer: "https://token.actions.githubusercontent.com".into(),
    };
    runtime.block_on(async {
        let push = Pusher::new(&host);
        let d = push.image("keyed/app", "v1", b"keyed").await;
        push.signatures(
            "keyed/app",
            &d,
            &[key.sign(payload(&format!("{host}/keyed/app"), &d))],
        )
        .await;
        let d = push.image("keyless/app", "v1", b"keyless").await;
        push.signatures(
            "keyless/app",
            &d,
            &[instance.sign(payload(&format!("{host}/keyless/app"), &d), &ci, now())],
        )
        .await;
    });
    let root = Arc::new(TrustRoot::from_json(&instance.trusted_root_json()).expect("root"));
    let policy = json!({
        "apiVersion": "rampart.dev/v1alpha1", "kind": "ClusterSecurityPolicy",
        "metadata": {"name": "signed"},
        "spec": {"rules": [
            {"name": "keyed", "conditions": [{"verifyImages": {
                "imageReferences": [format!("{host}/keyed/*")],
                "attestors": [{"key": {"publicKey": key.public_pem()}}]}}]},
            {"name": "keyless", "conditions": [{"verifyImages": {
                "imageReferences": [format!("{host}/keyless/*")],
                "attestors": [{"keyless": {"subjectRegExp": "https://github\\.com/acme/.*",
                                           "issuer": ci.issuer, "trustedRoot": "test"}}]}}]}
        ]}
    });
    let images = service(&host, &root);
    let warm = state(&policy, images.clone());
    let plain = review("docker.io/library/nginx:1.27");
    let keyed = review(&format!("{host}/keyed/app:v1"));
    let keyless = review(&format!("{host}/keyless/app:v1"));

    let allowed = |s: &AdmissionState, body: &str| {
        let v = runtime
            .block_on(review_bytes_verified(s, body.as_bytes(), false))
            .expect("review");
        assert_eq!(v["response"]["allowed"], true, "{v}");
    };
    // Sanity, and the cache filled.
    allowed(&warm, &plain);
    allowed(&warm, &keyed);
    allowed(&warm, &keyless);

    let time = |iterations: usize, f: &mut dyn FnMut()| -> Vec<Duration> {
        for _ in 0..iterations / 10 {
            f();
        }
        (0..iterations)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect()
    };
    let report = |name: &str, samples: Vec<Duration>| -> (Duration, Duration) {
        let (p50, p99) = percentiles(samples);
        println!(
            "{name:<44} median {:>9.1} µs   p99 {:>9.1} µs",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
        (p50, p99)
    };
    let (_, base99) = report(
        "review, no image gated (baseline)",
        time(n, &mut || allowed(&warm, &plain)),
    );
    let (_, cached99) = report(
        "review, keyed verdict cached",
        time(n, &mut || allowed(&warm, &keyed)),
    );
    let (_, cached99k) = report(
        "review, keyless verdict cached",
        time(n, &mut || allowed(&warm, &keyless)),
    );
    // Cold: the caches emptied before each review (the registry client keeps its connection,
    // as a running webhook's does).
    let cold = (n / 50).clamp(50, 500);
    report(
        "review, keyed, cold (registry + verify)",
        time(cold, &mut || {
            images.clear();
            allowed(&warm, &keyed)
        }),
    );
    report(
        "review, keyless, cold (registry + verify)",
        time(cold, &mut || {
            images.clear();
            allowed(&warm, &keyless)
        }),
    );
    println!(
        "added by a cached verdict at p99: keyed {:.1} µs, keyless {:.1} µs",
        (cached99.as_secs_f64() - base99.as_secs_f64()) * 1e6,
        (cached99k.as_secs_f64() - base99.as_secs_f64()) * 1e6
    );
    drop(registry);
}
