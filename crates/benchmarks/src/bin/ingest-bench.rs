//! Runtime-evidence ingest benchmark:
//! `cargo run --release -p rampart-benchmarks --bin ingest-bench [SECONDS]`.
//!
//! 1. In-process alert → decision: one Falco alert's JSON parsed, normalised to a behaviour,
//!    stored, and — when fresh — mapped to a pod action and judged by the pod bar (availability,
//!    breakers); p50/p99 per alert over 200k alerts on 2,000 pods.
//! 2. Audit parse + filter: `EventList`s of 400 events (the apiserver's default batch), 98 %
//!    irrelevant (pods, configmaps, leases, events by controllers) and 2 % Secret reads by
//!    ServiceAccounts — events/s.
//! 3. Over HTTP: the engine's ingest router on a local port, 16 keep-alive connections posting
//!    single alerts, then batches of 100 (a JSON array) — alerts/s; and 4 connections posting
//!    Hubble flow lines to `/flows` in batches of 2,000 — flows/s.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rampart_benchmarks::percentiles;
use rampart_http::ingest::{Ingest, IngestConfig, IngestMetrics};
use rampart_signals::audit::{AllowList, parse_body as parse_audit};
use rampart_signals::behaviour::Mapping;
use rampart_signals::observe::Store;

const RULES: [&str; 4] = [
    "Terminal shell in container",
    "Read sensitive file untrusted",
    "Launch Package Management Process in Container",
    "Some unmapped local rule",
];

fn alert(i: usize) -> String {
    format!(
        r#"{{"hostname":"falco-x","output":"13:44:05.478445995: Critical A shell was spawned in a container with an attached terminal (user=root k8s.ns=shop k8s.pod=web-{p} container=ee97d9c4186f shell=sh parent=runc cmdline=sh -c ls)","priority":"Critical","rule":"{r}","source":"syscall","tags":["container","mitre_execution","shell"],"time":"2026-11-26T13:44:05.478445995Z","output_fields":{{"container.id":"ee97d9c4186f","container.image.repository":"docker.io/library/alpine","evt.time":1685022245478445995,"k8s.ns.name":"shop","k8s.pod.name":"web-{p}","proc.cmdline":"sh -c ls","proc.name":"sh","proc.pname":"runc","proc.tty":34816,"user.loginuid":-1,"user.name":"root","fd.name":"/etc/shadow"}}}}"#,
        r = RULES[i % RULES.len()],
        p = i % 2000
    )
}

fn audit_event(i: usize) -> String {
    let (user, verb, resource, ns, name) = match i % 50 {
        0 => (
            "system:serviceaccount:shop:web",
            "get",
            "secrets",
            "shop",
            "db",
        ),
        1..=20 => (
            "system:serviceaccount:kube-system:replicaset-controller",
            "update",
            "pods",
            "shop",
            "web-1",
        ),
        21..=30 => (
            "system:kube-controller-manager",
            "update",
            "leases",
            "kube-system",
            "kube-controller-manager",
        ),
        31..=40 => (
            "system:serviceaccount:kube-system:endpointslice-controller",
            "list",
            "endpointslices",
            "shop",
            "",
        ),
        _ => (
            "system:node:worker-1",
            "get",
            "configmaps",
            "shop",
            "kube-root-ca.crt",
        ),
    };
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{i:08x}-0000-4000-8000-000000000001","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/{ns}/{resource}/{name}","verb":"{verb}","user":{{"username":"{user}","uid":"5b0c1d8e-2f3a-4b6c-9d7e-0a1b2c3d4e5f","groups":["system:serviceaccounts","system:authenticated"]}},"sourceIPs":["10.244.1.17"],"userAgent":"kube-controller-manager/v1.33.0 (linux/amd64) kubernetes/abcdef/system:serviceaccount:kube-system:replicaset-controller","objectRef":{{"resource":"{resource}","namespace":"{ns}","name":"{name}","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":200}},"requestReceivedTimestamp":"2026-11-20T10:15:02.123456Z","stageTimestamp":"2026-11-20T10:15:02.125456Z","annotations":{{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding"}}}}"#
    )
}

fn ingest() -> Arc<Ingest> {
    let mut registry = prometheus_client::registry::Registry::default();
    Arc::new(Ingest::new(
        IngestConfig {
            token: Some("bench-token".into()),
            rate_per_peer: NonZeroU32::new(u32::MAX).unwrap_or(NonZeroU32::MIN),
            max_body: rampart_http::ingest::DEFAULT_MAX_BODY,
            mapping: Mapping::default(),
            allow: AllowList::default(),
        },
        Store::new(300, 100_000),
        IngestMetrics::register(&mut registry),
    ))
}

fn in_process() {
    use rampart_respond::bar::{ActionClass, BarConfig};
    use rampart_respond::infected::{PodFacts, Responder, ResponseMapping};
    let ing = ingest();
    let bodies: Vec<String> = (0..200_000).map(alert).collect();
    let mapping = ResponseMapping::default();
    let bar = BarConfig {
        enabled: [ActionClass::Pod].into(),
        act_on_proof: false,
        protected_namespaces: ["kube-system".to_string()].into(),
        min_ready: 1,
    };
    let mut responder = Responder::new(usize::MAX, usize::MAX, 600, false);
    let facts = PodFacts {
        namespace: "shop".into(),
        pod: "web-0".into(),
        workload: Some("shop/web[Deployment]".into()),
        ready: 3,
        pod_ready: true,
        desired: 3,
        pdb_min_available: Some(2),
        rampart: false,
        host_network: false,
    };
    let mut acts = 0usize;
    let mut lat = Vec::with_capacity(bodies.len());
    let start = Instant::now();
    for b in &bodies {
        let t = Instant::now();
        let _ = ing.take_falco(b.as_bytes(), 1_000);
        for o in ing.take_fresh() {
            if mapping.action_for(&o).is_some()
                && responder.decide(
                    &bar,
                    &facts,
                    rampart_respond::infected::PodAction::Isolate,
                    1_000,
                    true,
                ) == rampart_respond::bar::Verdict::Act
            {
                acts += 1;
            }
        }
        lat.push(t.elapsed());
    }
    std::hint::black_box(acts);
    let total = start.elapsed();
    let n = lat.len();
    let (p50, p99) = percentiles(lat);
    println!(
        "falco in-process: {n} alerts ({} B each), {:.0} alerts/s on one core; alert → decision p50 {p50:.2?}, p99 {p99:.2?}",
        bodies[0].len(),
        n as f64 / total.as_secs_f64()
    );
}

fn audit() {
    let lists: Vec<String> = (0..250)
        .map(|b| {
            let items: Vec<String> = (0..400).map(|i| audit_event(b * 400 + i)).collect();
            format!(
                r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{{}},"items":[{}]}}"#,
                items.join(",")
            )
        })
        .collect();
    let bytes: usize = lists.iter().map(String::len).sum();
    let allow = AllowList::default();
    let mut best = Duration::MAX;
    let mut reads = 0;
    for _ in 0..3 {
        let t = Instant::now();
        reads = 0;
        for l in &lists {
            reads += parse_audit(l.as_bytes(), &allow)
                .map(|b| b.reads.len())
                .unwrap_or(0);
        }
        best = best.min(t.elapsed());
    }
    println!(
        "audit parse + filter: 100000 events in {} lists ({:.1} MB), {reads} Secret reads kept: {:.0} events/s on one core (best of 3)",
        lists.len(),
        bytes as f64 / 1e6,
        100_000.0 / best.as_secs_f64()
    );
}

/// Serves `router` on a local port and posts `body` to `path` from `connections` keep-alive
/// HTTP/1.1 connections until `seconds` pass; returns (requests answered 200, others).
async fn load(
    router: axum::Router,
    path: &'static str,
    content_type: &'static str,
    body: Bytes,
    connections: usize,
    seconds: u64,
) -> Result<(usize, usize), Box<dyn std::error::Error>> {
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
            tokio::spawn(conn);
            let (mut ok, mut errors) = (0usize, 0usize);
            while Instant::now() < deadline {
                let req = hyper::Request::post(path)
                    .header("host", "localhost")
                    .header("authorization", "Bearer bench-token")
                    .header("content-type", content_type)
                    .body(Full::new(body.clone()))?;
                match sender.send_request(req).await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.into_body().collect().await?;
                        ok += 1;
                    }
                    _ => errors += 1,
                }
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((ok, errors))
        }));
    }
    let (mut ok, mut errors) = (0, 0);
    for t in tasks {
        let (o, e) = t.await?.map_err(|e| e.to_string())?;
        ok += o;
        errors += e;
    }
    Ok((ok, errors))
}

async fn http(seconds: u64, batch: usize) -> Result<(), Box<dyn std::error::Error>> {
    let router = rampart_http::ingest::router(ingest(), &["falco", "audit"]);
    let body = if batch == 1 {
        Bytes::from(alert(0))
    } else {
        Bytes::from(format!(
            "[{}]",
            (0..batch).map(alert).collect::<Vec<_>>().join(",")
        ))
    };
    let (ok, errors) = load(router, "/falco", "application/json", body, 16, seconds).await?;
    println!(
        "falco over HTTP/1.1 (16 keep-alive connections, {batch} alert(s) per request, load generator on the same 2 cores): {:.0} alerts/s, {errors} errors",
        (ok * batch) as f64 / seconds as f64
    );
    Ok(())
}

/// One Hubble flow line (a request between two of 200 pods, the pod names varying).
fn flow(i: usize) -> String {
    format!(
        r#"{{"flow":{{"time":"2026-12-01T10:00:00Z","verdict":"FORWARDED","IP":{{"source":"10.1.{a}.{b}","destination":"10.2.{a}.{b}","ipVersion":"IPv4"}},"l4":{{"TCP":{{"source_port":{sp},"destination_port":8080}}}},"source":{{"namespace":"shop","pod_name":"web-{p}","labels":["k8s:app=web","k8s:io.kubernetes.pod.namespace=shop"]}},"destination":{{"namespace":"shop","pod_name":"api-{q}","labels":["k8s:app=api","k8s:io.kubernetes.pod.namespace=shop"]}},"Type":"L3_L4","is_reply":false,"traffic_direction":"EGRESS"}},"node_name":"n","time":"2026-12-01T10:00:00Z"}}"#,
        a = i % 200,
        b = i % 250,
        sp = 32768 + i % 28000,
        p = i % 200,
        q = (i * 7) % 200
    )
}

/// `POST /flows` over HTTP: 4 keep-alive connections posting batches of 2,000 flow lines
/// (about 1 MB, well under the body cap) — flows/s collected.
async fn flows_http(seconds: u64) -> Result<(), Box<dyn std::error::Error>> {
    let ing = ingest();
    let sink = ing.flows.clone();
    let router = rampart_http::ingest::router(ing, &["flows"]);
    let batch = 2000;
    let body = Bytes::from((0..batch).map(|i| flow(i) + "\n").collect::<String>());
    let (ok, errors) = load(router, "/flows", "application/x-ndjson", body, 4, seconds).await?;
    let kept = sink.collector.lock().map(|c| c.tally.flows).unwrap_or(0);
    println!(
        "flows over HTTP/1.1 (4 keep-alive connections, {batch} flows per request, load generator on the same 2 cores): {:.0} flows/s ({kept} collected), {errors} errors",
        (ok * batch) as f64 / seconds as f64
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    in_process();
    audit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        http(seconds, 1).await?;
        http(seconds, 100).await?;
        flows_http(seconds).await
    })?;
    Ok(())
}
