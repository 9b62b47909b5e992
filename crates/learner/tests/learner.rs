//! The learner against a fake API server with the real list/watch and TokenReview semantics,
//! over TLS the gates verify, with real gates (two replicas of one service) in front of an
//! app: a Guardian learned from both replicas and persisted in its status; every refusal
//! (no token, another audience, another service, oversized and malformed bodies); a
//! compromise report reaching the engine only from a verified gate; a restart that keeps the
//! criteria.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use prometheus_client::registry::Registry;
use rampart_api::{GuardMode, Guardian, GuardianSpec};
use rampart_gate::{Config as GateConfig, Gate, GateMetrics};
use rampart_http::client::Poster;
use rampart_http::serve::{Limits, ServeMetrics, Server};
use rampart_kube::guardians::{GuardianCache, watch_guardians};
use rampart_learner::{Config, Learner, LearnerMetrics};
use rampart_testkit::{Shared, new_fake, start};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

struct World {
    fake: Shared,
    client: kube::Client,
    learner: Arc<Learner>,
    metrics: LearnerMetrics,
    /// `https://127.0.0.1:PORT/sync`.
    url: String,
    ca: PathBuf,
    dir: PathBuf,
    /// Bodies the engine's `/guard` received.
    engine: Arc<Mutex<Vec<Value>>>,
    cancel: CancellationToken,
}

impl Drop for World {
    fn drop(&mut self) {
        self.cancel.cancel();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pod(fake: &Shared, name: &str, labels: Value) {
    fake.lock().unwrap().write(
        "pods",
        "ADDED",
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "shop", "labels": labels},
               "spec": {"containers": [{"name": "app", "image": "shop/api:1"}]}}),
    );
}

/// The API server's objects: three pods, their tokens, one token for another audience.
fn cluster(fake: &Shared) {
    pod(fake, "api-1", json!({"app": "api"}));
    pod(fake, "api-2", json!({"app.kubernetes.io/name": "api"}));
    pod(fake, "web-1", json!({"app": "web"}));
    pod(fake, "loose-1", json!({"tier": "x"}));
    let mut f = fake.lock().unwrap();
    for p in ["api-1", "api-2", "web-1", "loose-1"] {
        f.add_token(
            &format!("tok-{p}"),
            "shop",
            "shop-sa",
            p,
            &format!("uid-shop/{p}"),
            "rampart-learner",
        );
    }
    f.add_token(
        "tok-other-audience",
        "shop",
        "shop-sa",
        "api-1",
        "uid-shop/api-1",
        "https://kubernetes.default.svc",
    );
}

fn tls_files(dir: &Path) -> (PathBuf, PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (c, k) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

async fn engine_sink(store: Arc<Mutex<Vec<Value>>>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let r = axum::Router::new().route(
        "/guard",
        axum::routing::post(move |body: Bytes| {
            let store = store.clone();
            async move {
                store
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(l, r).await });
    format!("http://{addr}/guard")
}

async fn world_with(fake: Shared, insecure: bool, tag: &str) -> World {
    world_gap(fake, insecure, tag, Duration::ZERO).await
}

async fn world_gap(fake: Shared, insecure: bool, tag: &str, min_sync_gap: Duration) -> World {
    let dir = std::env::temp_dir().join(format!("rampart-learner-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let api = start(fake.clone()).await;
    let client = kube::Client::try_from(kube::Config::new(api.parse().unwrap())).unwrap();
    let cancel = CancellationToken::new();
    let cache = GuardianCache::default();
    tokio::spawn(watch_guardians(
        client.clone(),
        cache.clone(),
        cancel.clone(),
    ));
    let engine = Arc::new(Mutex::new(Vec::new()));
    let engine_url = engine_sink(engine.clone()).await;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let metrics = LearnerMetrics::default();
    tokio::spawn(rampart_learner::forward(
        rx,
        Poster::new(&engine_url, None, None, Duration::from_secs(5)).unwrap(),
        metrics.clone(),
        cancel.clone(),
    ));
    let config = Config {
        insecure_namespace: insecure.then(|| "shop".to_string()),
        max_body: 256 << 10,
        min_sync_gap,
        ..Config::default()
    };
    let learner = Learner::new(config, client.clone(), cache, Some(tx), metrics.clone());
    let (cert, key) = tls_files(&dir);
    let tls = rampart_http::tls::server_config(Arc::new(
        rampart_http::tls::ReloadingCert::load(&cert, &key).unwrap(),
    ))
    .unwrap();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = Server::new(
        Limits::default(),
        None,
        ServeMetrics::register(&mut Registry::default()),
    );
    let r = rampart_learner::router(learner.clone());
    let c = cancel.clone();
    tokio::spawn(async move { server.serve(l, Some(tls), r, c).await });
    for _ in 0..200 {
        if learner.ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(learner.ready(), "the Guardians are cached");
    World {
        fake,
        client,
        learner,
        metrics,
        url: format!("https://localhost:{}/sync", addr.port()),
        ca: cert,
        dir,
        engine,
        cancel,
    }
}

async fn world(tag: &str) -> World {
    let fake = new_fake();
    cluster(&fake);
    world_with(fake, false, tag).await
}

impl World {
    /// A poster for the learner with `token` (none: no Authorization header).
    fn poster(&self, token: Option<&str>) -> Poster {
        let file = token.map(|t| {
            let p = self.dir.join(format!("token-{t}"));
            std::fs::write(&p, format!("{t}\n")).unwrap();
            p
        });
        Poster::new(
            &self.url,
            Some(&std::fs::read(&self.ca).unwrap()),
            file.as_deref(),
            Duration::from_secs(10),
        )
        .unwrap()
    }

    fn metric(&self) -> String {
        let mut r = Registry::default();
        self.metrics.register(&mut r);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &r).unwrap();
        text
    }

    fn guardian(&self, name: &str) -> Option<Value> {
        self.fake
            .lock()
            .unwrap()
            .collections
            .get("guardians")
            .and_then(|c| c.objects.get(&format!("shop/{name}")).cloned())
    }
}

/// An app that answers every request.
async fn app() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let r = axum::Router::new().fallback(|| async { "{\"ok\":true}" });
    tokio::spawn(async move { axum::serve(l, r).await });
    addr
}

static NEXT_SEED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// A gate of service `api` in front of `upstream`; its address.
async fn gate(upstream: SocketAddr, cancel: &CancellationToken) -> (Arc<Gate>, SocketAddr) {
    let gate = Gate::new(
        GateConfig {
            service: "api".into(),
            upstream,
            body_cap: 1 << 20,
            guardian: Guardian::new("api", GuardianSpec::default()),
            learn_rate: 0,
            mode_override: None,
        },
        GateMetrics::default(),
        // Per process in production (time and pid); distinct here, so the two replicas'
        // request ids differ.
        u64::from(NEXT_SEED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)),
    )
    .unwrap();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = Server::new(
        Limits::default(),
        None,
        ServeMetrics::register(&mut Registry::default()),
    );
    let r = rampart_gate::router(gate.clone());
    let c = cancel.clone();
    tokio::spawn(async move { server.serve(l, None, r, c).await });
    (gate, addr)
}

async fn get(addr: SocketAddr, path: &str, client: &str) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: Mozilla/5.0\r\nX-Forwarded-For: {client}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Ordinary shopping traffic: `n` requests from 6 clients, each on its own connection.
async fn shop(addr: SocketAddr, from: usize, n: usize) {
    for i in from..from + n {
        let path = format!("/items/{}?q=red+shoes+{i}", i % 50 + 1);
        assert_eq!(
            get(addr, &path, &format!("10.1.{}.7", i % 6)).await,
            200,
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_learn_one_guardian_which_is_persisted_and_enforced() {
    let w = world("replicas").await;
    let upstream = app().await;
    let (a, a_addr) = gate(upstream, &w.cancel).await;
    let (b, b_addr) = gate(upstream, &w.cancel).await;
    let (to_a, to_b) = (w.poster(Some("tok-api-1")), w.poster(Some("tok-api-2")));
    shop(a_addr, 0, 60).await;
    shop(b_addr, 60, 60).await;
    rampart_gate::sync::once(&a, &to_a).await.unwrap();
    rampart_gate::sync::once(&b, &to_b).await.unwrap();
    assert_eq!(
        a.sync_pending().samples,
        0,
        "what was sent is no longer pending"
    );
    // A re-sent pile adds nothing; a token reviewed a moment ago is not reviewed again.
    let reviews = w.fake.lock().unwrap().token_reviews;
    rampart_gate::sync::once(&a, &to_a).await.unwrap();
    assert_eq!(
        w.fake.lock().unwrap().token_reviews,
        reviews,
        "the review is reused"
    );
    let text = w.metric();
    assert!(
        text.contains("rampart_learner_samples_merged_total 120"),
        "{text}"
    );
    assert!(
        text.contains("rampart_learner_syncs_total{outcome=\"ok\"} 3"),
        "{text}"
    );

    // Learned from both replicas (the cadence: everything is new), and in force at the next
    // sync of either gate.
    assert_eq!(w.learner.learn_due("2026-12-06T04:00:00Z"), 1);
    rampart_gate::sync::once(&a, &to_a).await.unwrap();
    let g = a.guardian();
    let learned = g.learned().expect("criteria from the learner");
    assert!(
        learned.routes.iter().any(|r| r.template == "/items/{int}"),
        "{learned:?}"
    );
    assert_eq!(g.samples(), 120, "learned from both replicas' 120 requests");
    assert_eq!(
        g.spec.control().mode,
        GuardMode::Alert,
        "the cluster default"
    );

    // An injection through replica A: alerted, then reported to the engine at the next sync.
    assert_eq!(
        get(a_addr, "/items/3?q=1'+or+'1'='1", "10.1.0.7").await,
        200
    );
    rampart_gate::sync::once(&a, &to_a).await.unwrap();
    let mut events = Vec::new();
    for _ in 0..100 {
        events = w.engine.lock().unwrap().clone();
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let e = &events[0]["events"][0];
    assert_eq!(e["kind"], "request-anomaly", "{events:?}");
    assert_eq!(
        (e["namespace"].as_str(), e["pod"].as_str()),
        (Some("shop"), Some("api-1"))
    );
    assert_eq!(e["service"], "api");
    assert!(
        e["reasons"].as_object().is_some_and(|r| !r.is_empty()),
        "{e}"
    );
    let summary = e["summary"].as_str().unwrap_or("");
    assert!(
        summary.starts_with("alert GET /items/{int}: query.q: "),
        "the latest alert's route, location and reason: {summary}"
    );

    // Persisted (on shutdown: at once) into a Guardian the learner made: spec empty, status
    // learned.
    assert_eq!(w.learner.persist_due(true).await, 1);
    let stored = w.guardian("api").expect("a Guardian for the service");
    assert_eq!(stored["spec"], json!({}), "{stored}");
    assert_eq!(stored["status"]["samples"], 120);
    assert_eq!(stored["status"]["lastLearned"], "2026-12-06T04:00:00Z");
    assert_eq!(
        stored["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "rampart-learner"
    );

    // An operator blocks: the spec edit reaches the gates at their next sync, and the
    // learner's next persist leaves the spec alone.
    let mut edited = stored.clone();
    edited["spec"] = json!({"control": {"mode": "block"}});
    w.fake
        .lock()
        .unwrap()
        .write("guardians", "MODIFIED", edited);
    tokio::time::sleep(Duration::from_millis(300)).await;
    rampart_gate::sync::once(&b, &to_b).await.unwrap();
    assert_eq!(b.guardian().spec.control().mode, GuardMode::Block);
    assert_eq!(
        get(b_addr, "/items/3?q=1'+or+'1'='1", "10.1.0.7").await,
        403
    );
    assert_eq!(get(b_addr, "/items/4?q=blue+shoes", "10.1.1.7").await, 200);
    shop(b_addr, 200, 20).await;
    rampart_gate::sync::once(&b, &to_b).await.unwrap();
    w.learner.learn_due("2026-12-06T04:01:00Z");
    w.learner.persist_due(true).await;
    let stored = w.guardian("api").unwrap();
    assert_eq!(
        stored["spec"]["control"]["mode"], "block",
        "the spec is the operator's"
    );
    assert_eq!(stored["status"]["lastLearned"], "2026-12-06T04:01:00Z");

    // The sync loop: a first sync at once, and one more on shutdown.
    let stop = CancellationToken::new();
    let before = w.metric();
    let looping = tokio::spawn(rampart_gate::sync::sync_loop(
        b.clone(),
        to_b.clone(),
        Default::default(),
        stop.clone(),
    ));
    shop(b_addr, 300, 3).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.cancel();
    looping.await.unwrap();
    let ok = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("rampart_learner_syncs_total{outcome=\"ok\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert_eq!(ok(&w.metric()), ok(&before) + 2, "at start and on shutdown");
    assert_eq!(b.sync_pending().samples, 0);
}

async fn status_of(w: &World, token: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let (s, text) = w.poster(token).post(body, 1 << 20).await.unwrap();
    (s.as_u16(), String::from_utf8_lossy(&text).into_owned())
}

fn message(service: &str) -> Vec<u8> {
    rampart_guard::sync::SyncMessage::new(service, Default::default(), 0).encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_syncs_are_refused_with_a_reason_and_pile_nothing() {
    let w = world("refusals").await;
    let (s, t) = status_of(&w, None, message("api")).await;
    assert_eq!(s, 401, "{t}");
    assert!(t.contains("bearer token"), "{t}");
    let (s, t) = status_of(&w, Some("tok-other-audience"), message("api")).await;
    assert_eq!(s, 401, "{t}");
    assert!(t.contains("audience"), "{t}");
    let (s, _) = status_of(&w, Some("forged"), message("api")).await;
    assert_eq!(s, 401);
    // A gate claiming another service: refused, nothing piled for either.
    let (s, t) = status_of(&w, Some("tok-web-1"), message("api")).await;
    assert_eq!(s, 403, "{t}");
    assert!(
        t.contains("names service \"api\", but the gate is \"web\""),
        "{t}"
    );
    // A pod with no label naming its service.
    let (s, t) = status_of(&w, Some("tok-loose-1"), message("loose")).await;
    assert_eq!(s, 403, "{t}");
    assert!(t.contains("app.kubernetes.io/name"), "{t}");
    // Over the cap; not JSON; another schema.
    // Refused from its Content-Length, before the body is read: the client may see the 413 or,
    // still writing, a broken pipe; the `too_large` count below says which way it went.
    match w
        .poster(Some("tok-api-1"))
        .post(vec![b' '; 300 << 10], 1 << 20)
        .await
    {
        Ok((s, t)) => assert_eq!(s.as_u16(), 413, "{t:?}"),
        Err(e) => assert!(
            e.to_string().contains("Broken pipe") || e.to_string().contains("reset"),
            "{e}"
        ),
    }
    let (s, t) = status_of(&w, Some("tok-api-1"), b"{\"schema\":".to_vec()).await;
    assert_eq!(s, 400, "{t}");
    let mut v: Value = serde_json::from_slice(&message("api")).unwrap();
    v["schema"] = "rampart.dev/guard-sync/v0".into();
    let (s, t) = status_of(&w, Some("tok-api-1"), serde_json::to_vec(&v).unwrap()).await;
    assert_eq!(s, 400, "{t}");
    assert!(t.contains("unknown schema"), "{t}");
    // A token of a pod that was replaced (same name, new UID).
    {
        let mut f = w.fake.lock().unwrap();
        let p = f.collections["pods"].objects["shop/api-2"].clone();
        f.write("pods", "DELETED", p.clone());
        // Recreated: the same name, a new UID (the token is still bound to the old one).
        f.write("pods", "ADDED", p);
        let stored = f.collections.get_mut("pods").unwrap();
        let pod = stored.objects.get_mut("shop/api-2").unwrap();
        pod["metadata"]["uid"] = "uid-new".into();
    }
    let (s, t) = status_of(&w, Some("tok-api-2"), message("api")).await;
    assert_eq!(s, 401, "{t}");
    assert!(t.contains("gone or was replaced"), "{t}");

    let text = w.metric();
    for outcome in [
        "unauthenticated",
        "wrong_service",
        "no_service",
        "too_large",
        "malformed",
    ] {
        assert!(
            text.contains(&format!(
                "rampart_learner_syncs_total{{outcome=\"{outcome}\"}}"
            )),
            "{outcome}: {text}"
        );
    }
    assert!(!text.contains("outcome=\"ok\""), "{text}");
    assert!(
        text.contains("rampart_learner_services 0") || !text.contains("rampart_learner_services 1")
    );
    w.learner.learn_due("t");
    assert_eq!(w.learner.persist_due(true).await, 0, "nothing was piled");
    assert!(w.guardian("api").is_none() && w.guardian("web").is_none());
    assert!(w.fake.lock().unwrap().token_reviews >= 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compromise_reaches_the_engine_only_from_a_verified_gate() {
    let w = world("compromise").await;
    let mut m = rampart_guard::sync::SyncMessage::new("api", Default::default(), 0);
    m.pod_alert = true;
    let (s, t) = status_of(&w, Some("tok-api-1"), m.encode()).await;
    assert_eq!(s, 200, "{t}");
    let mut events = Vec::new();
    for _ in 0..100 {
        events = w.engine.lock().unwrap().clone();
        if !events.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let e = &events[0]["events"][0];
    assert_eq!(
        (e["kind"].as_str(), e["pod"].as_str()),
        (Some("compromise"), Some("api-1")),
        "{events:?}"
    );
    assert!(
        w.metric()
            .contains("rampart_learner_pod_alerts_total{outcome=\"reported\"} 1")
    );

    // A learner without authentication takes piles but never a compromise report.
    let fake = new_fake();
    cluster(&fake);
    let open = world_with(fake, true, "open").await;
    let (s, t) = status_of(&open, None, m.encode()).await;
    assert_eq!(s, 200, "{t}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        open.engine.lock().unwrap().is_empty(),
        "nothing sent to the engine"
    );
    assert!(
        open.metric()
            .contains("rampart_learner_pod_alerts_total{outcome=\"refused_unverified\"} 1")
    );
    // Its service comes from the message, so it must be a valid name.
    let (s, t) = status_of(&open, None, message("../Kube-System")).await;
    assert_eq!(s, 403, "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_learner_keeps_the_criteria_until_the_gates_resent() {
    let fake = new_fake();
    cluster(&fake);
    let upstream = app().await;
    let stop = CancellationToken::new();
    let (a, a_addr) = gate(upstream, &stop).await;
    let (b, b_addr) = gate(upstream, &stop).await;
    shop(a_addr, 0, 40).await;
    shop(b_addr, 40, 80).await;
    let learned = {
        let w = world_with(fake.clone(), false, "before").await;
        rampart_gate::sync::once(&a, &w.poster(Some("tok-api-1")))
            .await
            .unwrap();
        rampart_gate::sync::once(&b, &w.poster(Some("tok-api-2")))
            .await
            .unwrap();
        w.learner.learn_due("2026-12-06T04:00:00Z");
        w.learner.persist_due(true).await;
        let g = w.guardian("api").unwrap();
        assert_eq!(g["status"]["samples"], 120);
        g["status"]["learned"].clone()
        // The learner stops here (its world is dropped).
    };
    // Started again: only replica A (40 of 120 samples) syncs at first.
    let w = world_with(fake, false, "after").await;
    let a_token = w.poster(Some("tok-api-1"));
    rampart_gate::sync::once(&a, &a_token).await.unwrap();
    assert_eq!(
        w.learner.learn_due("2026-12-06T04:02:00Z"),
        0,
        "criteria kept"
    );
    let g = serde_json::to_value(a.guardian()).unwrap();
    assert_eq!(
        g["status"]["learned"], learned,
        "the gate keeps the full criteria"
    );
    // Replica B re-sends: the pile holds everything again, and learning resumes once new
    // traffic arrives.
    rampart_gate::sync::once(&b, &w.poster(Some("tok-api-2")))
        .await
        .unwrap();
    shop(a_addr, 500, 30).await;
    rampart_gate::sync::once(&a, &a_token).await.unwrap();
    assert_eq!(w.learner.learn_due("2026-12-06T04:03:00Z"), 1);
    w.learner.persist_due(true).await;
    assert_eq!(w.guardian("api").unwrap()["status"]["samples"], 150);
    let _ = &w.client;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learning_window_freezes_the_criteria() {
    let fake = new_fake();
    cluster(&fake);
    fake.lock().unwrap().write(
        "guardians",
        "ADDED",
        json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "Guardian",
               "metadata": {"name": "api", "namespace": "shop"},
               "spec": {"control": {"mode": "alert", "learningWindow": "1h"}}}),
    );
    let w = world_with(fake, false, "window").await;
    let upstream = app().await;
    let (a, a_addr) = gate(upstream, &w.cancel).await;
    let to_a = w.poster(Some("tok-api-1"));
    shop(a_addr, 0, 60).await;
    rampart_gate::sync::once(&a, &to_a).await.unwrap();
    assert_eq!(w.learner.learn_due("2026-12-06T04:00:00Z"), 1);
    // Within the hour, new traffic is learned; after it, the criteria stay as they are.
    shop(a_addr, 60, 60).await;
    rampart_gate::sync::once(&a, &to_a).await.unwrap();
    assert_eq!(w.learner.learn_due("2026-12-06T04:59:00Z"), 1);
    shop(a_addr, 120, 60).await;
    rampart_gate::sync::once(&a, &to_a).await.unwrap();
    assert_eq!(w.learner.learn_due("2026-12-06T05:00:00Z"), 0, "frozen");
    assert!(w.metric().contains("rampart_learner_frozen_total 1"));
    w.learner.persist_due(true).await;
    let g = w.guardian("api").unwrap();
    assert_eq!(g["status"]["learningSince"], "2026-12-06T04:00:00Z");
    assert_eq!(
        g["status"]["samples"], 120,
        "the last 60 requests were not learned"
    );
    assert_eq!(g["spec"]["control"]["learningWindow"], "1h");
    // The operator removes the window: learning resumes.
    let mut edited = g.clone();
    edited["spec"] = json!({"control": {"mode": "alert"}});
    w.fake
        .lock()
        .unwrap()
        .write("guardians", "MODIFIED", edited);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.learner.learn_due("2026-12-06T05:01:00Z"), 1, "thawed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_flooding_syncs_and_alerts_is_absorbed() {
    let fake = new_fake();
    cluster(&fake);
    let w = world_gap(fake, false, "flood", Duration::from_secs(1)).await;
    let mut m = rampart_guard::sync::SyncMessage::new("api", Default::default(), 0);
    // Alerts travel as counts per reason class: a flood is a big number, not a big message.
    m.alerts.insert("injection".into(), u64::MAX);
    m.alerts.insert("punctuation".into(), u64::MAX);
    let mut codes = Vec::new();
    for _ in 0..20 {
        codes.push(status_of(&w, Some("tok-api-1"), m.encode()).await);
    }
    assert_eq!(codes[0].0, 200, "{:?}", codes[0]);
    let refused: Vec<_> = codes.iter().filter(|(c, _)| *c == 429).collect();
    assert!(refused.len() >= 15, "{codes:?}");
    assert!(refused[0].1.contains("at least 1s apart"), "{refused:?}");
    // Another pod of the service is not held back by it.
    assert_eq!(status_of(&w, Some("tok-api-2"), m.encode()).await.0, 200);
    let mut events = Vec::new();
    for _ in 0..100 {
        events = w.engine.lock().unwrap().clone();
        if events
            .iter()
            .map(|b| b["events"].as_array().map_or(0, Vec::len))
            .sum::<usize>()
            >= 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent: usize = events
        .iter()
        .map(|b| b["events"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(sent, 2, "one event per accepted sync: {events:?}");
    assert_eq!(events[0]["events"][0]["reasons"]["injection"], u64::MAX);
    assert!(
        w.metric()
            .contains("rampart_learner_syncs_total{outcome=\"too_often\"}")
    );
}
