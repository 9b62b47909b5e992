//! `rampart engine` against the in-memory API server: first findings once every kind is
//! listed, a change re-proved and reported, shadow mode proposing only, the dashboard escaping
//! what the cluster says; acting through the ledger, expiry, start-up reconciliation, leader
//! election and the permission check.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use rampart_testkit::{Shared, kubeconfig, new_fake, start};
use serde_json::{Value, json};

fn get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default()
}

/// POSTs `body` to `path`; returns the status code.
fn post(addr: &str, path: &str, token: Option<&str>, body: &[u8]) -> u16 {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    // A server that refuses early (413 on the declared length) may close before the body is
    // sent: the answer is still there to read.
    let _ = s.write_all(body);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn findings(addr: &str) -> Value {
    serde_json::from_str(&get(addr, "/findings")).unwrap_or(Value::Null)
}

fn objects_in(fake: &Shared, collection: &str) -> Vec<Value> {
    let f = fake.lock().unwrap();
    f.collections
        .get(collection)
        .map(|c| c.objects.values().cloned().collect())
        .unwrap_or_default()
}

fn service(kind: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "app"},
           "spec": {"type": kind, "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
}

fn pod(name: &str, port: u16, mounts_secret: bool) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "app", "labels": {"app": name}},
        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": port}]}]}});
    if mounts_secret {
        p["spec"]["volumes"] = json!([{"name": "s", "secret": {"secretName": "db"}}]);
        p["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "s", "mountPath": "/s"}]);
    }
    p
}

/// `app`: an exposed `web` (optionally mounting the secret itself) and, when `lateral`, a `db`
/// pod reachable over the open network that mounts it — whose cheapest cut is a live deny.
fn cluster(fake: &Shared, service_name: &str, lateral: bool) {
    let mut f = fake.lock().unwrap();
    f.write(
        "namespaces",
        "ADDED",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}),
    );
    f.write("services", "ADDED", service("LoadBalancer", service_name));
    f.write("pods", "ADDED", pod("web", 8080, !lateral));
    if lateral {
        f.write("pods", "ADDED", pod("db", 5432, true));
    }
    f.write(
        "secrets",
        "ADDED",
        json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "app"}, "data": {"password": "c2VjcmV0LXZhbHVl"}}),
    );
}

/// A running engine: its dashboard address and its log; killed and cleaned up on drop.
struct Engine {
    child: Child,
    addr: String,
    /// The ingest address, when the engine serves one.
    ingest: Option<String>,
    dir: PathBuf,
    log: Option<JoinHandle<String>>,
}

impl Engine {
    async fn spawn(fake: &Shared, tag: &str, args: &[&str]) -> Engine {
        let url = start(fake.clone()).await;
        let dir = std::env::temp_dir().join(format!("rampart-engine-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("kubeconfig"), kubeconfig(&url)).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args([
                "engine",
                "--dashboard-addr",
                "127.0.0.1:0",
                "--debounce",
                "50ms",
            ])
            .args(args)
            .env("KUBECONFIG", dir.join("kubeconfig"))
            .env("RAMPART_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut early = String::new();
        let mut ingest = None;
        let addr = loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "engine exited: {early}"
            );
            early.push_str(&line);
            if let Some(a) = line.trim().split("ingest on ").nth(1) {
                let a = a.split_whitespace().next().unwrap_or("");
                ingest = Some(
                    a.trim_start_matches("https://")
                        .trim_start_matches("http://")
                        .to_string(),
                );
            }
            if let Some(a) = line.trim().split("dashboard on http://").nth(1) {
                break a.to_string();
            }
        };
        // Keep draining stderr so the child never blocks on a full pipe.
        let log = std::thread::spawn(move || {
            let mut all = early;
            let _ = stderr.read_to_string(&mut all);
            all
        });
        Engine {
            child,
            addr,
            ingest,
            dir,
            log: Some(log),
        }
    }

    /// Findings once `pred` holds (bounded wait).
    async fn findings_when(&self, pred: impl Fn(&Value) -> bool) -> Value {
        let mut f = Value::Null;
        for _ in 0..300 {
            f = findings(&self.addr);
            if pred(&f) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        f
    }

    /// Sends SIGTERM (what the kubelet sends) and waits for the engine to exit; its log.
    fn terminate(mut self) -> String {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        for _ in 0..200 {
            if self.child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            self.child.try_wait().unwrap().is_some(),
            "the engine exits on SIGTERM"
        );
        self.stop()
    }

    /// Stops the engine and returns its log.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let log = self
            .log
            .take()
            .map(|l| l.join().unwrap())
            .unwrap_or_default();
        // Its stderr is a pipe, not a terminal: no colour codes in what a log collector keeps.
        assert!(!log.contains('\x1b'), "ANSI escapes in a piped log: {log}");
        log
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn wait_for(what: &str, f: impl Fn() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// The bar's decisions in a findings document.
fn decisions(f: &Value) -> Vec<String> {
    f["report"]["decisions"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|x| x["decision"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn chains(f: &Value) -> u64 {
    f["summary"]["chains"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_proves_reports_and_follows_changes() {
    let fake = new_fake();
    cluster(&fake, "web<script>", false);
    let engine = Engine::spawn(
        &fake,
        "shadow",
        &["--enable", "network", "--actuator", "bogus"],
    )
    .await;
    let f = engine.findings_when(|f| chains(f) > 0).await;
    assert!(chains(&f) > 0, "{f}");
    assert_eq!(f["schema"], "rampart.dev/scan/v1");
    assert!(
        !f["report"]["diff"]["chains_added"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // --enable network without --act-on-proof: proposals only.
    for d in f["report"]["decisions"].as_array().unwrap() {
        assert!(
            d["decision"].as_str().unwrap().starts_with("propose"),
            "{d}"
        );
    }
    assert!(
        !f.to_string().contains("c2VjcmV0LXZhbHVl"),
        "secret value in findings"
    );
    let html = get(&engine.addr, "/");
    assert!(
        html.contains("class=\"entry\"")
            && html.contains("web&lt;script&gt;")
            && !html.contains("web<script>")
    );
    assert!(get(&engine.addr, "/metrics").contains("rampart_reproofs_total"));
    assert_eq!(f["levers"]["writes"], false, "dry-run: {}", f["levers"]);
    // The new chains are visible as Kubernetes Events on their entry object.
    let events = objects_in(&fake, "events");
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "AttackChainProven" && e["regarding"]["name"] == "web<script>"),
        "{events:?}"
    );

    // A status-only update (what most pod events are) costs no re-proof.
    let generation = f["report"]["generation"].as_u64().unwrap();
    let mut running = pod("web", 8080, true);
    running["status"] = json!({"phase": "Running"});
    fake.lock().unwrap().write("pods", "MODIFIED", running);
    wait_for("the update is counted as unchanged", || {
        get(&engine.addr, "/metrics").contains("rampart_unchanged_updates_total 1")
    })
    .await;
    assert_eq!(findings(&engine.addr)["report"]["generation"], generation);

    // One pod's label change that nothing reads: re-proved on the incremental path.
    let tools = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "tools", "namespace": "app", "labels": {"app": "tools"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    fake.lock().unwrap().write("pods", "ADDED", tools.clone());
    let f = engine
        .findings_when(|f| f["report"]["generation"].as_u64() > Some(generation))
        .await;
    let generation = f["report"]["generation"].as_u64().unwrap();
    let mut relabelled = tools;
    relabelled["metadata"]["labels"]["release"] = json!("2");
    fake.lock().unwrap().write("pods", "MODIFIED", relabelled);
    let after = engine
        .findings_when(|f| f["report"]["generation"].as_u64() > Some(generation))
        .await;
    assert_eq!(after["report"]["path"], "relabel", "{}", after["report"]);
    assert_eq!(chains(&after), chains(&f));
    assert!(get(&engine.addr, "/metrics").contains("rampart_reproofs_total{path=\"relabel\"} 1"));

    // The durable fix lands: the Service stops being a LoadBalancer.
    fake.lock()
        .unwrap()
        .write("services", "MODIFIED", service("ClusterIP", "web<script>"));
    let f = engine.findings_when(|f| f["summary"]["chains"] == 0).await;
    assert_eq!(f["summary"]["chains"], 0, "{f}");
    assert!(
        !f["report"]["diff"]["chains_removed"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let log = engine.stop();
    assert!(
        log.contains("running dry-run"),
        "a bogus actuator fails safe: {log}"
    );
    assert!(!log.contains("c2VjcmV0LXZhbHVl"));
}

const ACT: &[&str] = &[
    "--enable",
    "network",
    "--act-on-proof",
    "--actuator",
    "networkpolicy",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_networkpolicy_actuator_applies_owns_records_and_expires() {
    let fake = new_fake();
    cluster(&fake, "web", true);
    // Left behind by a crash: an object rampart applied whose record is gone.
    fake.lock().unwrap().write("networkpolicies", "ADDED", json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "ghost", "namespace": "app", "labels": {"rampart.dev/mitigation": "lost"},
            "ownerReferences": [{"apiVersion": "rampart.dev/v1alpha1", "kind": "Mitigation", "name": "lost", "uid": "gone"}]},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}}));
    // An operator applied one of rampart's proposals by hand (it carries the label, no owner):
    // never rampart's to delete.
    fake.lock().unwrap().write("networkpolicies", "ADDED", json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "adopted-proposal", "namespace": "app", "labels": {"rampart.dev/mitigation": "true"}},
        "spec": {"podSelector": {"matchLabels": {"app": "nothing"}}, "policyTypes": ["Ingress"]}}));
    let engine = Engine::spawn(&fake, "act", &[ACT, &["--mitigation-ttl", "3s"]].concat()).await;

    // Applied: a Mitigation in the object's namespace, Applied, owning a labelled NetworkPolicy.
    wait_for("a mitigation is applied", || {
        objects_in(&fake, "mitigations")
            .iter()
            .any(|m| m["status"]["phase"] == "Applied")
    })
    .await;
    let m = objects_in(&fake, "mitigations")
        .into_iter()
        .find(|m| m["status"]["phase"] == "Applied")
        .unwrap();
    assert!(
        !objects_in(&fake, "networkpolicies")
            .iter()
            .any(|n| n["metadata"]["name"] == "ghost"),
        "start-up reconciliation deleted the orphan"
    );
    assert!(
        objects_in(&fake, "networkpolicies")
            .iter()
            .any(|n| n["metadata"]["name"] == "adopted-proposal"),
        "an operator's own NetworkPolicy stays"
    );
    assert_eq!(m["metadata"]["namespace"], "app");
    assert!(
        m["spec"]["chains"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
    assert!(m["status"]["appliedAt"].as_str().unwrap().ends_with('Z'));
    let nps = objects_in(&fake, "networkpolicies");
    let np = nps
        .iter()
        .find(|n| n["metadata"]["labels"]["rampart.dev/mitigation"] == m["metadata"]["name"])
        .expect("the applied NetworkPolicy carries the mitigation label");
    assert_eq!(np["metadata"]["ownerReferences"][0]["kind"], "Mitigation");
    assert_eq!(
        np["metadata"]["ownerReferences"][0]["uid"],
        m["metadata"]["uid"]
    );
    // The dashboard's ledger shows the record with the object it owns.
    wait_for("the dashboard's ledger shows the mitigation", || {
        let v: Value =
            serde_json::from_str(&get(&engine.addr, "/api/mitigations")).unwrap_or_default();
        v["ledger"].as_array().is_some_and(|l| {
            l.iter().any(|r| {
                r["name"] == m["metadata"]["name"]
                    && r["owns"]["kind"] == "NetworkPolicy"
                    && r["owns"]["name"] == np["metadata"]["name"]
                    && r["chains"].as_array().is_some_and(|c| !c.is_empty())
            })
        })
    })
    .await;
    assert!(get(&engine.addr, "/").contains("<table id=\"ledger\">"));

    // Expiry: the object is removed and the record says Reverted.
    let name = m["metadata"]["name"].clone();
    wait_for("the mitigation expired and reverted", || {
        objects_in(&fake, "mitigations")
            .iter()
            .any(|x| x["metadata"]["name"] == name && x["status"]["phase"] == "Reverted")
    })
    .await;
    assert!(
        !objects_in(&fake, "networkpolicies")
            .iter()
            .any(|n| n["metadata"]["labels"]["rampart.dev/mitigation"] == name),
        "the expired mitigation's NetworkPolicy is deleted"
    );
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_leader_one_set_of_writes() {
    let fake = new_fake();
    cluster(&fake, "web", true);
    let a = Engine::spawn(
        &fake,
        "ha-a",
        &[ACT, &["--mitigation-ttl", "10m", "--identity", "replica-a"]].concat(),
    )
    .await;
    let b = Engine::spawn(
        &fake,
        "ha-b",
        &[ACT, &["--mitigation-ttl", "10m", "--identity", "replica-b"]].concat(),
    )
    .await;
    wait_for("a mitigation is applied", || {
        objects_in(&fake, "mitigations")
            .iter()
            .any(|m| m["status"]["phase"] == "Applied")
    })
    .await;
    // Give the follower every chance to (wrongly) act too.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mitigations = objects_in(&fake, "mitigations");
    let leases = objects_in(&fake, "leases");
    a.stop();
    b.stop();
    let cuts: std::collections::BTreeSet<String> = mitigations
        .iter()
        .map(|m| {
            m["metadata"]["labels"]["rampart.dev/cut"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        cuts.len(),
        mitigations.len(),
        "one mitigation per cut, not one per replica: {mitigations:?}"
    );
    let holder = leases[0]["spec"]["holderIdentity"].as_str().unwrap_or("");
    assert!(holder == "replica-a" || holder == "replica-b", "{leases:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_write_permissions_the_engine_fails_safe_to_dry_run() {
    let fake = new_fake();
    // Issue 14 item 4: every verb the engine uses is checked — the Lease it must hold to lead,
    // and Events (reported apart: they do not block acting).
    fake.lock().unwrap().denied_verbs.extend([
        "create networkpolicies".to_string(),
        "patch leases".to_string(),
        "create events".to_string(),
    ]);
    cluster(&fake, "web", true);
    let engine = Engine::spawn(&fake, "rbac", ACT).await;
    let f = engine.findings_when(|f| chains(f) > 0).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mitigations = objects_in(&fake, "mitigations");
    engine.stop();
    assert_eq!(f["levers"]["writes"], false, "{}", f["levers"]);
    let missing = f["levers"]["missing"].to_string();
    assert!(missing.contains("create networkpolicies"), "{missing}");
    assert!(
        missing.contains("patch leases in rampart-system"),
        "{missing}"
    );
    assert!(
        f["levers"]["missing_for_events"]
            .to_string()
            .contains("create events"),
        "{}",
        f["levers"]
    );
    assert!(
        mitigations.is_empty(),
        "nothing written without permissions"
    );
}

fn corroborated(f: &Value) -> usize {
    f["chains"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter(|c| c["confidence"] == "corroborated")
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_evidence_corroborates_chains_until_it_expires() {
    let fake = new_fake();
    cluster(&fake, "web", false);
    let dir = std::env::temp_dir().join(format!("rampart-ingest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let engine = Engine::spawn(
        &fake,
        "ingest",
        &[
            "--ingest-addr",
            "127.0.0.1:0",
            "--ingest-token-file",
            token_file.to_str().unwrap(),
            "--observation-ttl",
            "3s",
        ],
    )
    .await;
    let ingest = engine.ingest.clone().expect("ingest address in the log");
    let f = engine.findings_when(|f| chains(f) > 0).await;
    assert!(chains(&f) > 0 && corroborated(&f) == 0, "{f}");

    let shell =
        br#"{"output":"shell <script>","priority":"Notice","rule":"Terminal shell in container",
        "time":"2026-11-26T10:00:00Z","tags":["container","shell","mitre_execution"],
        "output_fields":{"k8s.ns.name":"app","k8s.pod.name":"web","proc.cmdline":"<b>bash -p hunter2-password"}}"#;
    // No token, a wrong token: refused and counted.
    assert_eq!(post(&ingest, "/falco", None, shell), 401);
    assert_eq!(post(&ingest, "/falco", Some("wrong"), shell), 401);
    // Malformed: 400 with a reason; a body over the cap: 413.
    assert_eq!(
        post(&ingest, "/falco", Some("s3cret-token"), b"{not json"),
        400
    );
    assert_eq!(
        post(&ingest, "/audit", Some("s3cret-token"), b"{\"kind\": 0}"),
        400
    );
    let big = vec![b' '; rampart_http_max_body() + 1];
    assert_eq!(post(&ingest, "/falco", Some("s3cret-token"), &big), 413);
    // The alert: the chains through web become corroborated, with the evidence.
    assert_eq!(post(&ingest, "/falco", Some("s3cret-token"), shell), 200);
    let f = engine.findings_when(|f| corroborated(f) > 0).await;
    assert_eq!(
        corroborated(&f),
        chains(&f) as usize,
        "every chain enters through web: {f}"
    );
    let ev = &f["chains"][0]["evidence"][0];
    assert_eq!(ev["behaviour"], "shell_in_container", "{ev}");
    assert_eq!(ev["subject"], "pod app/web");
    let html = get(&engine.addr, "/");
    // The page counts them; an entry's chains, with the evidence, come from /api/chains (the
    // script shows them as text).
    assert!(
        html.contains("<td data-confidence=\"corroborated\"><a") && !html.contains("<b>"),
        "{html}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&get(&engine.addr, "/api/summary")).unwrap();
    assert_eq!(
        summary["by_confidence"]["corroborated"].as_u64(),
        Some(corroborated(&f) as u64)
    );
    let entry = summary["entries"][0]["key"].as_str().unwrap();
    let entry: String = entry
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let chains_json = get(&engine.addr, &format!("/api/chains?entry={entry}"));
    assert!(chains_json.contains("shell_in_container"), "{chains_json}");
    // A command line's arguments are never kept (they carry passwords often enough).
    assert!(!html.contains("hunter2") && !get(&engine.addr, "/findings").contains("hunter2"));
    assert!(!chains_json.contains("hunter2"));
    let metrics = get(&engine.addr, "/metrics");
    assert!(metrics.contains("confidence=\"corroborated\""), "{metrics}");
    assert!(
        metrics.contains(
            "rampart_ingest_requests_total{endpoint=\"falco\",outcome=\"unauthorized\"} 2"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("rampart_ingest_items_total{endpoint=\"falco\",result=\"fresh\"} 1"));
    // The audit webhook's batches: counted, the human and forbidden reads dropped.
    let list = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "../../tests/corpora/runtime-events/k8s-audit/synthetic-secret-reads-eventlist.json",
    ))
    .unwrap();
    assert_eq!(post(&ingest, "/audit", Some("s3cret-token"), &list), 200);
    let metrics = get(&engine.addr, "/metrics");
    assert!(
        metrics.contains(
            "rampart_ingest_items_total{endpoint=\"audit\",result=\"not_a_serviceaccount\"} 1"
        ),
        "{metrics}"
    );
    // The request guard's alerts (through `rampart learner`): a `request_anomaly` on the pod
    // corroborates the chains entering through it; the same token, the same refusals.
    let guard = serde_json::to_vec(&serde_json::json!({
        "schema": "rampart.dev/guard-event/v1",
        "events": [{"kind": "request-anomaly", "namespace": "app", "pod": "web", "service": "web",
                    "reasons": {"injection": 2}, "mode": "block", "summary": "query.q: injection"}]
    }))
    .unwrap();
    assert_eq!(post(&ingest, "/guard", Some("wrong"), &guard), 401);
    assert_eq!(
        post(
            &ingest,
            "/guard",
            Some("s3cret-token"),
            b"{\"schema\": \"v0\", \"events\": []}"
        ),
        400
    );
    assert_eq!(post(&ingest, "/guard", Some("s3cret-token"), &guard), 200);
    let anomaly = |f: &Value| {
        f["chains"].as_array().is_some_and(|cs| {
            cs.iter().any(|c| {
                c["evidence"]
                    .as_array()
                    .is_some_and(|es| es.iter().any(|e| e["behaviour"] == "request_anomaly"))
            })
        })
    };
    let f = engine.findings_when(anomaly).await;
    let text = f.to_string();
    assert!(
        text.contains("rampart guard (block): 2 request(s) to service web"),
        "{text}"
    );
    assert!(
        get(&engine.addr, "/metrics")
            .contains("rampart_ingest_items_total{endpoint=\"guard\",result=\"fresh\"} 1")
    );
    // The observation expires: the chains are proven again.
    let f = engine
        .findings_when(|f| chains(f) > 0 && corroborated(f) == 0)
        .await;
    assert_eq!(corroborated(&f), 0, "{f}");
    let log = engine.stop();
    assert!(!log.contains("s3cret-token"), "the token is never logged");
    let _ = std::fs::remove_dir_all(&dir);
}

fn rampart_http_max_body() -> usize {
    4 << 20
}

#[test]
fn an_ingest_without_a_token_refuses_to_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["engine", "--ingest-addr", "127.0.0.1:0"])
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--ingest-token-file") && err.contains("--insecure-no-auth"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intel_marks_footholds_and_runtime_evidence_corroborates_only_corroboration_acts() {
    let fake = new_fake();
    cluster(&fake, "web", true);
    let dir = std::env::temp_dir().join(format!("rampart-intel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kev = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpora/runtime-events/kev/kev-excerpt.json");
    let engine = Engine::spawn(
        &fake,
        "intel",
        &[
            "--enable",
            "network",
            "--actuator",
            "networkpolicy",
            "--ingest-addr",
            "127.0.0.1:0",
            "--insecure-no-auth",
            "--kev-file",
            kev.to_str().unwrap(),
            "--watch-vulnerability-reports",
        ],
    )
    .await;
    let ingest = engine.ingest.clone().unwrap();
    let f = engine.findings_when(|f| !decisions(f).is_empty()).await;
    assert!(
        decisions(&f)
            .iter()
            .all(|d| d.contains("NeedsCorroboration")),
        "proof alone, no --act-on-proof: {f}"
    );

    // trivy-operator reports log4shell in web's image: a known-exploited foothold, still no
    // action (CVE presence alone is a proposal).
    fake.lock()
        .unwrap()
        .write("vulnerabilityreports", "ADDED", log4shell_report());
    let f = engine
        .findings_when(|f| f["chains"][0]["foothold"]["known_exploited"] == true)
        .await;
    assert_eq!(
        f["chains"][0]["foothold"]["exploits"][0]["cve"], "CVE-2021-44228",
        "{f}"
    );
    assert!(
        decisions(&f).iter().all(|d| d.starts_with("propose")),
        "{f}"
    );
    assert!(objects_in(&fake, "networkpolicies").is_empty());

    // Falco sees a shell in web: corroborated, and the network cut is applied.
    let shell = br#"{"rule":"Terminal shell in container","priority":"Notice","output":"shell",
        "output_fields":{"k8s.ns.name":"app","k8s.pod.name":"web"}}"#;
    assert_eq!(post(&ingest, "/falco", None, shell), 200);
    wait_for("corroboration applies the cut", || {
        objects_in(&fake, "mitigations")
            .iter()
            .any(|m| m["status"]["phase"] == "Applied")
    })
    .await;
    assert!(!objects_in(&fake, "networkpolicies").is_empty());
    let f = findings(&engine.addr);
    assert!(decisions(&f).iter().any(|d| d == "act"), "{f}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn rs_pod(name: &str, rs: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "app", "labels": {"app": app, "pod-template-hash": "h1"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": "u", "controller": true}]},
        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 8080}]}]},
        "status": {"phase": "Running", "startTime": "2026-01-01T00:00:00Z",
            "conditions": [{"type": "Ready", "status": "True"}]}})
}

fn replica_set(name: &str, app: &str, replicas: u32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": "app"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 8080}]}]}}}})
}

fn shell_in(pod: &str) -> Vec<u8> {
    format!(
        r#"{{"rule":"Terminal shell in container","priority":"Notice","output":"shell","tags":["container","shell"],
        "output_fields":{{"k8s.ns.name":"app","k8s.pod.name":"{pod}","proc.cmdline":"bash"}}}}"#
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infected_pod_is_isolated_replaced_and_deleted_on_expiry() {
    let fake = new_fake();
    {
        let mut f = fake.lock().unwrap();
        f.write(
            "namespaces",
            "ADDED",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}),
        );
        f.write("replicasets", "ADDED", replica_set("web-rs", "web", 2));
        f.write("pods", "ADDED", rs_pod("web-a", "web-rs", "web"));
        f.write("pods", "ADDED", rs_pod("web-b", "web-rs", "web"));
        f.write("replicasets", "ADDED", replica_set("solo-rs", "solo", 1));
        f.write("replicasets", "ADDED", replica_set("batch-rs", "batch", 2));
        f.write("pods", "ADDED", rs_pod("batch-a", "batch-rs", "batch"));
        f.write("pods", "ADDED", rs_pod("batch-b", "batch-rs", "batch"));
        f.write("pods", "ADDED", rs_pod("solo-a", "solo-rs", "solo"));
        let mut svc = service("LoadBalancer", "web");
        svc["spec"]["selector"] = json!({"app": "web"});
        f.write("services", "ADDED", svc);
    }
    let engine = Engine::spawn(
        &fake,
        "teflon",
        &[
            "--enable",
            "pod",
            "--actuator",
            "networkpolicy",
            "--ingest-addr",
            "127.0.0.1:0",
            "--insecure-no-auth",
            "--mitigation-ttl",
            "4s",
        ],
    )
    .await;
    let ingest = engine.ingest.clone().unwrap();
    engine
        .findings_when(|f| f["report"]["generation"].as_u64() > Some(0))
        .await;

    // A shell in web-a: isolated.
    assert_eq!(post(&ingest, "/falco", None, &shell_in("web-a")), 200);
    wait_for("an isolate mitigation is applied", || {
        objects_in(&fake, "mitigations")
            .iter()
            .any(|m| m["spec"]["action"] == "Isolate" && m["status"]["phase"] == "Applied")
    })
    .await;
    let pod = objects_in(&fake, "pods")
        .into_iter()
        .find(|p| p["metadata"]["name"] == "web-a")
        .unwrap();
    let labels = pod["metadata"]["labels"].as_object().unwrap();
    assert_eq!(labels.len(), 1, "out of every selector: {labels:?}");
    assert!(labels.contains_key("rampart.dev/quarantine"));
    let kept = pod["metadata"]["annotations"]["rampart.dev/quarantined-labels"]
        .as_str()
        .unwrap();
    assert!(
        kept.contains("\"app\":\"web\""),
        "labels kept for forensics: {kept}"
    );
    let np = objects_in(&fake, "networkpolicies")
        .into_iter()
        .find(|n| n["metadata"]["name"] == "rampart-quarantine-web-a")
        .expect("a deny-all policy on the quarantine label");
    assert_eq!(
        np["spec"]["podSelector"]["matchLabels"]["rampart.dev/quarantine"],
        labels["rampart.dev/quarantine"]
    );
    assert_eq!(np["metadata"]["ownerReferences"][0]["kind"], "Mitigation");

    // The ReplicaSet controller starts a replacement; the workload is whole again.
    fake.lock()
        .unwrap()
        .write("pods", "ADDED", rs_pod("web-c", "web-rs", "web"));
    wait_for("time to recreation is measured", || {
        get(&engine.addr, "/metrics").contains("rampart_time_to_recreation_seconds_count 1")
    })
    .await;
    let metrics = get(&engine.addr, "/metrics");
    assert!(
        metrics.contains(
            "rampart_reaped_total{namespace=\"app\",workload=\"web-rs[ReplicaSet]\",action=\"isolate\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "rampart_infections_total{namespace=\"app\",workload=\"web-rs[ReplicaSet]\"} 1"
        )
    );
    assert!(metrics.contains(
        "rampart_workload_available_ratio{namespace=\"app\",workload=\"web-rs[ReplicaSet]\"}"
    ));
    assert!(metrics.contains("rampart_time_to_infection_seconds_count 1"));

    // A PodDisruptionBudget asking for both replicas: a second infection in web is held.
    fake.lock().unwrap().write(
        "poddisruptionbudgets",
        "ADDED",
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "web", "namespace": "app"},
            "spec": {"minAvailable": "100%", "selector": {"matchLabels": {"app": "web"}}}}),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(post(&ingest, "/falco", None, &shell_in("web-b")), 200);
    let f = engine
        .findings_when(|f| {
            f["responses"]
                .as_array()
                .is_some_and(|r| r.iter().any(|d| d["pod"] == "app/web-b"))
        })
        .await;
    let held = f["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["pod"] == "app/web-b")
        .unwrap()
        .clone();
    assert!(
        held["decision"].as_str().unwrap().contains("required: 2"),
        "the PDB holds it: {held}"
    );

    // The only replica of solo: held, never taken.
    assert_eq!(post(&ingest, "/falco", None, &shell_in("solo-a")), 200);
    let f = engine
        .findings_when(|f| {
            f["responses"]
                .as_array()
                .is_some_and(|r| r.iter().any(|d| d["pod"] == "app/solo-a"))
        })
        .await;
    let solo = f["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["pod"] == "app/solo-a")
        .unwrap()
        .clone();
    assert!(
        solo["decision"].as_str().unwrap().contains("Availability"),
        "{solo}"
    );
    assert!(
        objects_in(&fake, "pods")
            .iter()
            .any(|p| p["metadata"]["name"] == "solo-a")
    );

    // A crypto-miner: terminated (nothing worth keeping), its sibling keeps serving.
    let miner = br#"{"rule":"Detect crypto miners using the Stratum protocol","priority":"Critical","output":"stratum",
        "output_fields":{"k8s.ns.name":"app","k8s.pod.name":"batch-a"}}"#;
    assert_eq!(post(&ingest, "/falco", None, miner), 200);
    wait_for("the miner is terminated", || {
        !objects_in(&fake, "pods")
            .iter()
            .any(|p| p["metadata"]["name"] == "batch-a")
    })
    .await;
    // The record is written before the pod is deleted and its status after: wait for
    // it (with a 4 s TTL it may already have expired into Reverted under load).
    wait_for("the terminate record says it was applied", || {
        objects_in(&fake, "mitigations").iter().any(|m| {
            m["spec"]["action"] == "Terminate"
                && m["spec"]["target"]["name"] == "batch-a"
                && (m["status"]["phase"] == "Applied" || m["status"]["phase"] == "Reverted")
        })
    })
    .await;
    assert!(
        objects_in(&fake, "pods")
            .iter()
            .any(|p| p["metadata"]["name"] == "batch-b")
    );

    // Expiry: the quarantined pod and its policy are deleted, the record says Reverted.
    wait_for("the isolation expired", || {
        objects_in(&fake, "mitigations")
            .iter()
            .any(|m| m["spec"]["action"] == "Isolate" && m["status"]["phase"] == "Reverted")
    })
    .await;
    assert!(
        !objects_in(&fake, "pods")
            .iter()
            .any(|p| p["metadata"]["name"] == "web-a")
    );
    assert!(
        !objects_in(&fake, "networkpolicies")
            .iter()
            .any(|n| n["metadata"]["name"] == "rampart-quarantine-web-a")
    );
    assert!(
        objects_in(&fake, "pods")
            .iter()
            .any(|p| p["metadata"]["name"] == "web-c")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_over_tls_authenticates_and_rate_limits_per_peer() {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    let fake = new_fake();
    cluster(&fake, "web", false);
    let dir = std::env::temp_dir().join(format!("rampart-ingest-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("tls.crt"), c.cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), c.signing_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("token"), "tls-token").unwrap();
    let (crt, key, token) = (dir.join("tls.crt"), dir.join("tls.key"), dir.join("token"));
    let engine = Engine::spawn(
        &fake,
        "ingest-tls",
        &[
            "--ingest-addr",
            "127.0.0.1:0",
            "--ingest-token-file",
            token.to_str().unwrap(),
            "--ingest-tls-cert",
            crt.to_str().unwrap(),
            "--ingest-tls-key",
            key.to_str().unwrap(),
            "--ingest-rate",
            "3",
        ],
    )
    .await;
    let addr = engine.ingest.clone().unwrap();
    let mut sender = rampart_testkit::tls::connect(&addr, c.cert.der().clone()).await;
    let alert = r#"{"rule":"Terminal shell in container","priority":"Notice","output_fields":{"k8s.ns.name":"app","k8s.pod.name":"web"}}"#;
    let mut codes = Vec::new();
    for auth in [
        Some("Bearer tls-token"),
        None,
        Some("Bearer tls-token"),
        Some("Bearer tls-token"),
        Some("Bearer tls-token"),
    ] {
        let mut req = hyper::Request::post("/falco").header("host", "localhost");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        sender.ready().await.unwrap();
        let resp = sender
            .send_request(req.body(Full::new(Bytes::from(alert))).unwrap())
            .await
            .unwrap();
        codes.push(resp.status().as_u16());
        let _ = resp.into_body().collect().await;
    }
    assert_eq!(&codes[..2], &[200, 401], "{codes:?}");
    assert!(codes.contains(&429), "3 requests/s per peer: {codes:?}");
    let f = engine.findings_when(|f| corroborated(f) > 0).await;
    assert!(corroborated(&f) > 0, "the alert over TLS corroborates: {f}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adminnetworkpolicy_actuator_denies_explicitly_and_expires() {
    let fake = new_fake();
    cluster(&fake, "web", true);
    // Left behind by a crash: an AdminNetworkPolicy whose record is gone.
    fake.lock().unwrap().write(
        "adminnetworkpolicies",
        "ADDED",
        json!({"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
            "metadata": {"name": "ghost", "labels": {"rampart.dev/mitigation": "lost"},
                "annotations": {"rampart.dev/mitigation-namespace": "app"}},
            "spec": {"priority": 10, "subject": {"namespaces": {}}, "ingress": []}}),
    );
    let _engine = Engine::spawn(
        &fake,
        "anp",
        &[
            "--enable",
            "network",
            "--act-on-proof",
            "--actuator",
            "adminnetworkpolicy",
            "--mitigation-ttl",
            "3s",
            "--ledger-retention",
            "2s",
            "--reapply-cooldown",
            "1s",
        ],
    )
    .await;
    wait_for("an AdminNetworkPolicy mitigation is applied", || {
        objects_in(&fake, "mitigations").iter().any(|m| {
            m["spec"]["action"] == "AdminNetworkPolicy" && m["status"]["phase"] == "Applied"
        })
    })
    .await;
    let m = objects_in(&fake, "mitigations")
        .into_iter()
        .find(|m| m["spec"]["action"] == "AdminNetworkPolicy")
        .unwrap();
    let anps = objects_in(&fake, "adminnetworkpolicies");
    assert!(
        !anps.iter().any(|a| a["metadata"]["name"] == "ghost"),
        "start-up reconciliation deleted the orphan"
    );
    let anp = anps
        .iter()
        .find(|a| a["metadata"]["labels"]["rampart.dev/mitigation"] == m["metadata"]["name"])
        .expect("the applied AdminNetworkPolicy carries the mitigation label");
    assert_eq!(anp["spec"]["ingress"][0]["action"], "Deny", "{anp}");
    assert_eq!(
        anp["spec"]["ingress"][0]["from"],
        json!([{"namespaces": {}}])
    );
    assert_eq!(
        anp["spec"]["subject"]["pods"]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "app"
    );
    assert!(
        anp["metadata"].get("ownerReferences").is_none(),
        "cluster-scoped: tracked by label"
    );
    assert_eq!(
        anp["metadata"]["annotations"]["rampart.dev/mitigation-namespace"],
        "app"
    );
    // db is not exposed, so the cut denies every source: the internet part has no ANP form
    // and stays a NetworkPolicy, in its own mitigation.
    wait_for("the NetworkPolicy part is applied too", || {
        !objects_in(&fake, "networkpolicies").is_empty()
    })
    .await;
    let all = objects_in(&fake, "networkpolicies");
    // Egress to the internet (web's exfiltration) has no ANP form either: its own
    // NetworkPolicy, beside the ingress one.
    let nps: Vec<&serde_json::Value> = all
        .iter()
        .filter(|n| n["spec"]["policyTypes"] == json!(["Ingress"]))
        .collect();
    assert_eq!(nps.len(), 1, "{all:?}");
    assert_eq!(nps[0]["spec"]["ingress"], json!([]));
    assert!(
        all.iter()
            .all(|n| n["spec"]["policyTypes"] != json!(["Egress"])
                || n["metadata"]["annotations"]["rampart.dev/reason"]
                    == "deny egress to the internet"),
        "{all:?}"
    );
    assert!(
        objects_in(&fake, "mitigations")
            .iter()
            .any(|x| x["spec"]["action"] == "NetworkPolicy"
                && x["metadata"]["name"] == nps[0]["metadata"]["labels"]["rampart.dev/mitigation"])
    );

    let name = m["metadata"]["name"].clone();
    wait_for("the AdminNetworkPolicy expired", || {
        objects_in(&fake, "mitigations")
            .iter()
            .any(|x| x["metadata"]["name"] == name && x["status"]["phase"] == "Reverted")
    })
    .await;
    assert!(
        !objects_in(&fake, "adminnetworkpolicies")
            .iter()
            .any(|a| a["metadata"]["labels"]["rampart.dev/mitigation"] == name)
    );
    // Ended records are kept for --ledger-retention, then forgotten.
    wait_for("the ended record is forgotten", || {
        !objects_in(&fake, "mitigations")
            .iter()
            .any(|x| x["metadata"]["name"] == name)
    })
    .await;
}

/// Where an AdminNetworkPolicy lets web reach db (a NetworkPolicy isolates db), no
/// NetworkPolicy cuts the step: the cut is an AdminNetworkPolicy Deny ahead of the Allow, which
/// the `networkpolicy` actuator proposes and the `adminnetworkpolicy` actuator applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_an_adminnetworkpolicy_admits_is_cut_by_a_deny_ahead_of_it() {
    let fake = new_fake();
    cluster(&fake, "web", true);
    {
        let mut f = fake.lock().unwrap();
        // db mounts two secrets: removing the mounts is dearer than the deny.
        let mut db = pod("db", 5432, true);
        db["spec"]["volumes"] = json!([{"name": "s", "secret": {"secretName": "db"}},
                                       {"name": "t", "secret": {"secretName": "db2"}}]);
        db["spec"]["containers"][0]["volumeMounts"] =
            json!([{"name": "s", "mountPath": "/s"}, {"name": "t", "mountPath": "/t"}]);
        f.write("pods", "MODIFIED", db);
        f.write(
            "secrets",
            "ADDED",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db2", "namespace": "app"}}),
        );
        f.write(
            "networkpolicies",
            "ADDED",
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "db-closed", "namespace": "app"},
                "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]}}),
        );
        f.write(
            "adminnetworkpolicies",
            "ADDED",
            json!({"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
                "metadata": {"name": "allow-app"},
                "spec": {"priority": 8,
                    "subject": {"pods": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "app"}},
                                         "podSelector": {"matchLabels": {"app": "db"}}}},
                    "ingress": [{"name": "app", "action": "Allow",
                                 "from": [{"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "app"}}}]}]}}),
        );
    }
    let args = |actuator: &'static str| {
        [
            "--enable",
            "network",
            "--act-on-proof",
            "--actuator",
            actuator,
        ]
    };
    let is_anp_deny = |d: &Value| {
        d["fix"]
            .as_str()
            .is_some_and(|f| f.contains("apply AdminNetworkPolicy rampart-deny-app.db-"))
    };
    // NetworkPolicies only: proposed, nothing written.
    let engine = Engine::spawn(&fake, "anp-cut-np", &args("networkpolicy")).await;
    let f = engine
        .findings_when(|f| {
            f["report"]["decisions"]
                .as_array()
                .is_some_and(|d| d.iter().any(is_anp_deny))
        })
        .await;
    let d = f["report"]["decisions"]
        .as_array()
        .and_then(|d| d.iter().find(|d| is_anp_deny(d)))
        .unwrap_or_else(|| panic!("a decision on the ANP deny: {f}"));
    assert_eq!(
        d["decision"],
        "propose: the actuator writes no AdminNetworkPolicy (the adminnetworkpolicy actuator applies this cut)",
        "{d}"
    );
    // SIGTERM releases the Lease: the next engine leads at once.
    engine.terminate();
    assert_eq!(objects_in(&fake, "adminnetworkpolicies").len(), 1);
    // The admin layer's actuator applies it, under a Mitigation that expires it.
    let _engine = Engine::spawn(&fake, "anp-cut-anp", &args("adminnetworkpolicy")).await;
    wait_for("the ANP deny is applied", || {
        objects_in(&fake, "mitigations").iter().any(|m| {
            m["spec"]["action"] == "AdminNetworkPolicy"
                && m["spec"]["object"]["spec"]["ingress"][0]["name"] == "rampart-deny"
                && m["status"]["phase"] == "Applied"
        })
    })
    .await;
    let anp = objects_in(&fake, "adminnetworkpolicies")
        .into_iter()
        .find(|a| {
            a["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("rampart-deny-app.db-"))
        })
        .expect("the deny is in the cluster");
    assert_eq!(anp["spec"]["priority"], 7, "ahead of the Allow at 8: {anp}");
    assert_eq!(anp["spec"]["ingress"][0]["action"], "Deny");
    assert_eq!(
        anp["spec"]["ingress"][0]["from"],
        json!([{"pods": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "app"}},
                         "podSelector": {"matchLabels": {"app": "web"}}}}])
    );
    assert_eq!(
        anp["spec"]["subject"]["pods"]["podSelector"],
        json!({"matchLabels": {"app": "db"}})
    );
    assert!(
        anp["metadata"]["labels"]["rampart.dev/mitigation"].is_string(),
        "{anp}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_ingest_endpoint_can_have_its_own_address() {
    let fake = new_fake();
    cluster(&fake, "web", false);
    let engine = Engine::spawn(
        &fake,
        "audit-only",
        &["--audit-addr", "127.0.0.1:0", "--insecure-no-auth"],
    )
    .await;
    let addr = engine.ingest.clone().unwrap();
    let empty = br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[]}"#;
    assert_eq!(post(&addr, "/audit", None, empty), 200);
    assert_eq!(
        post(&addr, "/falco", None, &shell_in("web")),
        404,
        "only /audit on this address"
    );
}

/// RFC 3339 with microseconds, as a Lease's times are written.
fn micro_now() -> String {
    let t = k8s_openapi::jiff::Timestamp::now();
    format!("{}", t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
}

/// Issue 14 items 1, 7 and 11 (watching the ledger): a replica that takes over a Lease left by
/// a dead holder acts at once, with no change in the cluster; `/findings` and `/metrics` say
/// whether it leads; an expired mitigation is not re-applied during the cool-down; the ledger
/// is watched, not listed every round; SIGTERM hands the Lease over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_acts_at_once_expiry_cools_down_and_sigterm_releases_the_lease() {
    let fake = new_fake();
    cluster(&fake, "web", true);
    fake.lock().unwrap().write(
        "leases",
        "ADDED",
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "rampart-engine", "namespace": "rampart-system"},
            "spec": {"holderIdentity": "eng-dead", "leaseDurationSeconds": 3,
                "acquireTime": micro_now(), "renewTime": micro_now()}}),
    );
    let engine = Engine::spawn(
        &fake,
        "takeover",
        &[
            ACT,
            &[
                "--identity",
                "eng-y",
                "--lease-seconds",
                "3",
                "--mitigation-ttl",
                "4s",
                "--reapply-cooldown",
                "1h",
            ],
        ]
        .concat(),
    )
    .await;
    // A follower while the dead holder's Lease runs: it proves, says so, writes nothing.
    let f = engine.findings_when(|f| chains(f) > 0).await;
    assert_eq!(f["levers"]["role"], "follower", "{}", f["levers"]);
    assert_eq!(f["levers"]["writes"], false);
    assert!(get(&engine.addr, "/metrics").contains("rampart_leader 0"));
    assert!(objects_in(&fake, "mitigations").is_empty());
    // The Lease expires; nothing changes in the cluster, yet the new leader acts.
    let mut applied = None;
    for _ in 0..300 {
        applied = objects_in(&fake, "mitigations")
            .into_iter()
            .find(|m| m["status"]["phase"] == "Applied");
        if applied.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let applied = applied.expect("the new leader acts without a change in the cluster");
    let f = engine
        .findings_when(|f| f["levers"]["role"] == "leader")
        .await;
    assert_eq!(f["levers"]["writes"], true, "{}", f["levers"]);
    assert!(get(&engine.addr, "/metrics").contains("rampart_leader 1"));

    // Expiry: Reverted, then proposed for the cool-down — not re-applied.
    let name = applied["metadata"]["name"].clone();
    let cut = applied["metadata"]["labels"]["rampart.dev/cut"].clone();
    wait_for("the mitigation expired", || {
        objects_in(&fake, "mitigations")
            .iter()
            .any(|m| m["metadata"]["name"] == name && m["status"]["phase"] == "Reverted")
    })
    .await;
    let f = engine
        .findings_when(|f| {
            f["report"]["decisions"].as_array().is_some_and(|d| {
                d.iter().any(|d| {
                    d["cut"] == cut && d["decision"].as_str().unwrap_or("").contains("CoolingDown")
                })
            })
        })
        .await;
    assert!(
        f["report"]["decisions"].to_string().contains("CoolingDown"),
        "{}",
        f["report"]
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again = objects_in(&fake, "mitigations")
        .iter()
        .filter(|m| m["metadata"]["labels"]["rampart.dev/cut"] == cut)
        .count();
    assert_eq!(
        again, 1,
        "no second record for the cut during its cool-down"
    );
    // The ledger is watched: listed once (and again only after a watch failure), not every
    // round.
    let lists = fake
        .lock()
        .unwrap()
        .list_counts
        .get("mitigations")
        .copied()
        .unwrap_or(0);
    assert!(lists <= 3, "mitigations listed {lists} times");

    // SIGTERM: the Lease is released, so a successor need not wait for it to expire.
    let log = engine.terminate();
    let lease = objects_in(&fake, "leases")
        .into_iter()
        .find(|l| l["metadata"]["name"] == "rampart-engine")
        .unwrap();
    assert!(
        lease["spec"]["holderIdentity"].is_null(),
        "released on SIGTERM: {lease}\n{log}"
    );
}

/// Issue 14 item 10: without read access to a kind, the engine says what it cannot read
/// (`/findings`, `/status`, `/readyz`), retries with a growing backoff, and proves as soon as
/// access is granted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_read_access_the_engine_says_what_it_cannot_read() {
    let fake = new_fake();
    cluster(&fake, "web", true);
    fake.lock().unwrap().forbidden.push("pods".into());
    let engine = Engine::spawn(&fake, "no-read", &[]).await;
    let f = engine
        .findings_when(|f| f["reasons"].to_string().contains("forbidden"))
        .await;
    assert_eq!(f["ready"], false, "{f}");
    assert!(f["reasons"].to_string().contains("Pod"), "{f}");
    let status: Value = serde_json::from_str(&get(&engine.addr, "/status")).unwrap();
    assert_eq!(status["ready"], false, "{status}");
    assert!(get(&engine.addr, "/readyz").contains("cannot read Pod"));
    assert!(get(&engine.addr, "/metrics").contains("rampart_unreadable_kinds 1"));
    // The watcher backs off: a handful of attempts in 4 s, not tens per second.
    let before = fake.lock().unwrap().lists;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let tried = fake.lock().unwrap().lists - before;
    // Access granted: findings follow.
    fake.lock().unwrap().forbidden.clear();
    let f = engine.findings_when(|f| chains(f) > 0).await;
    assert!(chains(&f) > 0, "{f}");
    wait_for("ready", || get(&engine.addr, "/readyz") == "ok").await;
    let log = engine.stop();
    assert!(tried < 10, "{tried} lists in 4 s");
    assert_eq!(
        log.matches("may not read Pod").count(),
        1,
        "said once, not on every retry: {log}"
    );
}

/// Issue 14 item 8: one `AttackChainProven` Event per chain, on the entry object with its UID,
/// named after the chain so that a restart adds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_chain_is_announced_once_on_its_entry_with_its_uid() {
    let fake = new_fake();
    cluster(&fake, "web", true);
    let engine = Engine::spawn(&fake, "events", &[]).await;
    let f = engine.findings_when(|f| chains(f) > 1).await;
    let n = chains(&f) as usize;
    wait_for("one event per chain", || {
        objects_in(&fake, "events").len() == n
    })
    .await;
    engine.stop();
    let events = objects_in(&fake, "events");
    let svc_uid = objects_in(&fake, "services")[0]["metadata"]["uid"].clone();
    for e in &events {
        assert_eq!(e["reason"], "AttackChainProven", "{e}");
        assert_eq!(e["regarding"]["kind"], "Service", "{e}");
        assert_eq!(e["regarding"]["uid"], svc_uid, "{e}");
        let id = e["metadata"]["name"]
            .as_str()
            .unwrap()
            .trim_start_matches("rampart.");
        assert!(e["note"].as_str().unwrap().starts_with(id), "{e}");
    }
    // A restart announces nothing new.
    let again = Engine::spawn(&fake, "events-2", &[]).await;
    again.findings_when(|f| chains(f) > 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    again.stop();
    assert_eq!(objects_in(&fake, "events").len(), n);
}

/// Issue 14 item 5: evidence belongs to the workload, not to the pod's current labels — once
/// the infected pod is isolated (its labels moved aside), the chain stays corroborated (so with
/// `network` enabled too its cut could still act on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corroboration_outlives_the_isolation_of_the_infected_pod() {
    let fake = new_fake();
    {
        let mut f = fake.lock().unwrap();
        f.write(
            "namespaces",
            "ADDED",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}),
        );
        f.write("replicasets", "ADDED", replica_set("web-rs", "web", 2));
        f.write("pods", "ADDED", rs_pod("web-a", "web-rs", "web"));
        f.write("pods", "ADDED", rs_pod("web-b", "web-rs", "web"));
        f.write("pods", "ADDED", rs_pod("web-c", "web-rs", "web"));
        f.write("pods", "ADDED", pod("db", 5432, true));
        f.write("services", "ADDED", service("LoadBalancer", "web"));
        f.write(
            "secrets",
            "ADDED",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "app"}}),
        );
    }
    let engine = Engine::spawn(
        &fake,
        "corroborated",
        &[
            "--enable",
            "pod",
            "--actuator",
            "networkpolicy",
            "--ingest-addr",
            "127.0.0.1:0",
            "--insecure-no-auth",
        ],
    )
    .await;
    let ingest = engine.ingest.clone().unwrap();
    engine.findings_when(|f| chains(f) > 0).await;
    assert_eq!(post(&ingest, "/falco", None, &shell_in("web-a")), 200);
    wait_for("web-a is isolated", || {
        objects_in(&fake, "mitigations")
            .iter()
            .any(|m| m["spec"]["action"] == "Isolate" && m["status"]["phase"] == "Applied")
    })
    .await;
    let pod = objects_in(&fake, "pods")
        .into_iter()
        .find(|p| p["metadata"]["name"] == "web-a")
        .unwrap();
    assert_eq!(
        pod["metadata"]["annotations"]["rampart.dev/quarantined-from"],
        "ReplicaSet/web-rs"
    );
    // Well after the isolation (re-proved without web-a's labels) the chains through web are
    // still corroborated.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let f = findings(&engine.addr);
    assert!(chains(&f) > 0, "{f}");
    assert!(corroborated(&f) > 0, "{}", f["chains"]);
}

fn report_of<'a>(reports: &'a [Value], namespace: &str) -> Option<&'a Value> {
    reports.iter().find(|r| {
        r["metadata"]["namespace"] == namespace && r["metadata"]["name"] == "rampart-audit"
    })
}

fn lists(report: &Value, check: &str, name: &str) -> bool {
    report["results"].as_array().is_some_and(|rs| {
        rs.iter()
            .any(|r| r["policy"] == check && r["resources"][0]["name"] == name)
    })
}

fn metric(addr: &str, name: &str) -> u64 {
    get(addr, "/metrics")
        .lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_audit_keeps_one_policy_report_per_namespace_and_rewrites_only_changes() {
    let fake = new_fake();
    cluster(&fake, "web", false);
    let mut privileged = pod("web", 8080, true);
    privileged["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
    fake.lock().unwrap().write("pods", "MODIFIED", privileged);
    fake.lock().unwrap().write(
        "clusterrolebindings",
        "ADDED",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "ops"}, "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"kind": "User", "name": "alice"}]}),
    );
    fake.lock().unwrap().write(
        "clusterroles",
        "ADDED",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": "cluster-admin"},
               "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
    );
    // A policy not yet enforced: its status shows what it would deny.
    fake.lock().unwrap().write(
        "securitypolicies",
        "ADDED",
        json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "SecurityPolicy",
               "metadata": {"name": "registries", "namespace": "app"},
               "spec": {"enforcementMode": "dryrun",
                        "rules": [{"name": "ours", "conditions": [{"allowedRegistries": ["registry.example/"]}]}]}}),
    );
    let engine = Engine::spawn(
        &fake,
        "compliance",
        &["--compliance", "--compliance-debounce", "2s"],
    )
    .await;
    wait_for(
        "a PolicyReport for namespace app lists the privileged pod",
        || {
            report_of(&objects_in(&fake, "policyreports"), "app")
                .is_some_and(|r| lists(r, "privileged-container", "web"))
        },
    )
    .await;
    let reports = objects_in(&fake, "policyreports");
    let app = report_of(&reports, "app").unwrap();
    assert_eq!(app["apiVersion"], "wgpolicyk8s.io/v1alpha2");
    assert!(app["summary"]["fail"].as_u64().unwrap() > 0, "{app}");
    assert!(app["summary"]["pass"].as_u64().unwrap() > 0, "{app}");
    assert_eq!(reports.len(), 1, "one report per namespace with objects");
    let cluster_reports = objects_in(&fake, "clusterpolicyreports");
    assert!(
        cluster_reports
            .iter()
            .any(|r| lists(r, "rbac-cluster-admin", "alice")),
        "{cluster_reports:?}"
    );
    let policy_status = || {
        fake.lock().unwrap().collections["securitypolicies"].objects["app/registries"]["status"]
            .clone()
    };
    wait_for("the policy's status counts the pod it would deny", || {
        policy_status()["violations"].as_u64() == Some(1)
    })
    .await;
    assert!(policy_status()["evaluatedObjects"].as_u64().unwrap() >= 1);
    assert!(
        policy_status()["lastEvaluated"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let everything = format!("{reports:?}{cluster_reports:?}");
    assert!(
        !everything.contains("c2VjcmV0LXZhbHVl"),
        "a secret value in a report"
    );
    assert!(get(&engine.addr, "/metrics").contains("rampart_audit_score{framework=\"cis\"}"));

    // A status-only update: audited again, the reports unchanged, so not rewritten. The
    // counter moves once a round's writes are all done, after the reports appear: wait for it
    // (read too early, it missed the first round's writes on a slow machine).
    wait_for("the first round's reports are counted", || {
        metric(&engine.addr, "rampart_audit_reports_written_total") > 0
    })
    .await;
    let runs = metric(&engine.addr, "rampart_audit_duration_seconds_count");
    let written = metric(&engine.addr, "rampart_audit_reports_written_total");
    let mut running = fake.lock().unwrap().collections["pods"].objects["app/web"].clone();
    running["status"] = json!({"phase": "Running"});
    fake.lock().unwrap().write("pods", "MODIFIED", running);
    wait_for("the live audit runs again", || {
        metric(&engine.addr, "rampart_audit_duration_seconds_count") > runs
    })
    .await;
    assert_eq!(
        metric(&engine.addr, "rampart_audit_reports_written_total"),
        written,
        "an unchanged report is not rewritten"
    );

    // The fix lands: the pod is no longer privileged, and its report says so at once — the
    // one object re-audited, before the next full audit (2 s of quiet away).
    let runs = metric(&engine.addr, "rampart_audit_duration_seconds_count");
    fake.lock()
        .unwrap()
        .write("pods", "MODIFIED", pod("web", 8080, true));
    wait_for("the report no longer lists the privileged pod", || {
        report_of(&objects_in(&fake, "policyreports"), "app")
            .is_some_and(|r| !lists(r, "privileged-container", "web"))
    })
    .await;
    assert_eq!(
        metric(&engine.addr, "rampart_audit_duration_seconds_count"),
        runs,
        "updated by the one-object path, not a full audit"
    );
    assert!(metric(&engine.addr, "rampart_audit_object_duration_seconds_count") > 0);
    // The namespace's objects are gone: so is its report.
    for (collection, name) in [
        ("pods", "app/web"),
        ("services", "app/web"),
        ("secrets", "app/db"),
    ] {
        let o = fake.lock().unwrap().collections[collection].objects[name].clone();
        fake.lock().unwrap().write(collection, "DELETED", o);
    }
    let ns = fake.lock().unwrap().collections["namespaces"].objects["/app"].clone();
    fake.lock().unwrap().write("namespaces", "DELETED", ns);
    wait_for("the namespace's report is deleted", || {
        report_of(&objects_in(&fake, "policyreports"), "app").is_none()
    })
    .await;
    let log = engine.stop();
    assert!(log.contains("audited"), "{log}");
    assert!(!log.contains("c2VjcmV0LXZhbHVl"));
}

/// log4shell in web's image (trivy-operator's report).
fn log4shell_report() -> Value {
    json!({"apiVersion": "aquasecurity.github.io/v1alpha1", "kind": "VulnerabilityReport",
        "metadata": {"name": "pod-web-c", "namespace": "app", "labels": {
            "trivy-operator.resource.kind": "Pod", "trivy-operator.resource.name": "web",
            "trivy-operator.resource.namespace": "app", "trivy-operator.container.name": "c"}},
        "report": {"artifact": {"repository": "library/nginx", "tag": "latest"},
            "vulnerabilities": [{"vulnerabilityID": "CVE-2021-44228", "severity": "CRITICAL",
                "title": "log4j-core: Remote code execution", "resource": "log4j-core", "installedVersion": "2.14.1"}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_judgement_on_a_foothold_acts_only_with_the_judgement_class() {
    use rampart_testkit::model::{ScriptedModel, gullible};
    let model = ScriptedModel::start(std::sync::Arc::new(gullible)).await;
    let kev = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpora/runtime-events/kev/kev-excerpt.json");
    let url = model.url();
    let args = |classes: &'static str| -> Vec<String> {
        [
            "--enable",
            classes,
            "--actuator",
            "networkpolicy",
            "--kev-file",
            kev.to_str().unwrap(),
            "--watch-vulnerability-reports",
            "--model-url",
            &url,
            "--model-name",
            "scripted",
            "--model-threshold",
            "0.8",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    for (classes, acts) in [("network", false), ("network,judgement", true)] {
        let fake = new_fake();
        cluster(&fake, "web", true);
        let a = args(classes);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let engine = Engine::spawn(&fake, "judge", &a).await;
        // Before any CVE the model's call is "not exploitable": a caption, proven stays proven.
        let f = engine
            .findings_when(|f| f["chains"][0]["judgement"]["verdict"] == "not_exploitable")
            .await;
        assert_eq!(f["chains"][0]["confidence"], "proven", "{f}");
        assert!(
            decisions(&f).iter().all(|d| d.starts_with("propose")),
            "{f}"
        );
        fake.lock()
            .unwrap()
            .write("vulnerabilityreports", "ADDED", log4shell_report());
        // The foothold changes the facts: asked again, judged exploitable.
        let f = engine
            .findings_when(|f| {
                f["chains"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["confidence"] == "judged" && !c["foothold"].is_null())
                })
            })
            .await;
        let judged = f["chains"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["confidence"] == "judged")
            .unwrap();
        assert_eq!(judged["judgement"]["verdict"], "exploitable", "{judged}");
        assert_eq!(judged["judgement"]["model"], "scripted");
        if acts {
            wait_for("the judged foothold's cut is applied", || {
                objects_in(&fake, "mitigations")
                    .iter()
                    .any(|m| m["status"]["phase"] == "Applied")
            })
            .await;
            assert!(
                decisions(&findings(&engine.addr))
                    .iter()
                    .any(|d| d == "act")
            );
        } else {
            // Several re-decisions later nothing was written: the class is off.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let f = findings(&engine.addr);
            assert!(
                decisions(&f)
                    .iter()
                    .all(|d| d.contains("NeedsCorroboration")),
                "{f}"
            );
            assert!(objects_in(&fake, "networkpolicies").is_empty());
            assert!(objects_in(&fake, "mitigations").is_empty());
        }
        let metrics = get(&engine.addr, "/metrics");
        assert!(
            metrics.contains("rampart_judge_verdicts_total{outcome=\"exploitable\"}"),
            "{metrics}"
        );
        assert!(metrics.contains("rampart_judge_requests_total{outcome=\"answered\"}"));
        engine.stop();
    }
    // Every prompt carried the chain as data, never the secret's value (there is none to send).
    let requests = model.requests();
    assert!(!requests.is_empty());
    for r in requests {
        assert!(rampart_testkit::model::chain_data(&r).is_some(), "{r}");
        let text = r.to_string();
        assert!(!text.contains("c2VjcmV0LXZhbHVl") && !text.contains("secret-value"));
    }
}

/// `rampart engine break-glass …` against the engine's API server; exit code and output.
async fn break_glass(engine: &Engine, args: &[&str]) -> (i32, String) {
    let kubeconfig = engine.dir.join("kubeconfig");
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args(["engine", "break-glass"])
            .args(&args)
            .env("KUBECONFIG", kubeconfig)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Mitigations in a phase (no status: Proposed).
fn in_phase(fake: &Shared, phase: &str) -> Vec<Value> {
    objects_in(fake, "mitigations")
        .into_iter()
        .filter(|m| m["status"]["phase"].as_str().unwrap_or("Proposed") == phase)
        .collect()
}

/// NetworkPolicies rampart applied (owned by a Mitigation).
fn owned_policies(fake: &Shared) -> usize {
    objects_in(fake, "networkpolicies")
        .iter()
        .filter(|n| n["metadata"]["ownerReferences"][0]["kind"] == "Mitigation")
        .count()
}

/// Issue 24, break-glass: pulled while a mitigation is being recorded, the record ends
/// Reverted and its object is never created; while engaged nothing is applied (with no
/// cool-down to hold the cut back); released, acting resumes; engaged with revert-all, every
/// active mitigation is withdrawn and every object rampart applied is gone. The dashboard,
/// `/findings`, the metrics and an Event say who set it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_stops_mid_apply_and_revert_all_leaves_nothing_behind() {
    let fake = new_fake();
    cluster(&fake, "web", true);
    // The ledger's record takes 3 s to write: the switch is pulled while it is in flight.
    fake.lock()
        .unwrap()
        .create_delay
        .insert("mitigations".into(), Duration::from_secs(3));
    let engine = Engine::spawn(
        &fake,
        "brake",
        &[ACT, &["--reapply-cooldown", "0s", "--namespace", "rampart"]].concat(),
    )
    .await;
    // Acting starts once the switch has been read (off): the record's write is then in flight.
    let f = engine
        .findings_when(|f| {
            decisions(f).iter().any(|d| d == "act") && f["break_glass"]["state"] == "off"
        })
        .await;
    assert_eq!(f["break_glass"]["state"], "off", "{}", f["break_glass"]);
    let (code, out) = break_glass(&engine, &["on", "--reason", "incident 4711"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("engaged by fake-admin"), "{out}");

    // The record in flight lands, then is withdrawn: nothing was applied.
    wait_for("the record in flight is withdrawn", || {
        in_phase(&fake, "Reverted")
            .iter()
            .any(|m| m["status"]["message"] == "withdrawn by break-glass before it was applied")
    })
    .await;
    fake.lock().unwrap().create_delay.clear();
    let created_policies = || {
        fake.lock()
            .unwrap()
            .collections
            .get("networkpolicies")
            .map(|c| c.history.iter().filter(|(_, ty, _)| *ty == "ADDED").count())
            .unwrap_or(0)
    };
    assert_eq!(created_policies(), 0, "no object of the withdrawn record");
    let f = engine
        .findings_when(|f| f["break_glass"]["engaged"] == true)
        .await;
    let hand = &f["break_glass"]["hands"][0];
    assert_eq!(hand["name"], "rampart");
    assert_eq!(hand["set_by"], "fake-admin");
    assert_eq!(hand["field_manager"], "rampart-break-glass");
    assert_eq!(hand["reason"], "incident 4711");
    assert!(
        hand["since"].as_str().is_some_and(|s| s.ends_with('Z')),
        "{hand}"
    );
    assert_eq!(metric(&engine.addr, "rampart_break_glass "), 1);
    assert!(get(&engine.addr, "/").contains("class=\"break-glass\""));
    wait_for("the Event", || {
        objects_in(&fake, "events")
            .iter()
            .any(|e| e["reason"] == "BreakGlassEngaged")
    })
    .await;
    let events = objects_in(&fake, "events");
    let event = events
        .iter()
        .find(|e| e["reason"] == "BreakGlassEngaged")
        .expect("an Event records the switch");
    assert_eq!(
        event["metadata"]["namespace"], "default",
        "where the API server keeps Events about cluster-scoped objects"
    );
    assert_eq!(event["regarding"]["kind"], "BreakGlass");
    assert!(
        event["note"]
            .as_str()
            .is_some_and(|n| n.contains("fake-admin") && n.contains("incident 4711")),
        "{event}"
    );

    // Engaged: the cut the bar approves (no cool-down) is still not acted on.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(in_phase(&fake, "Applied").is_empty());
    assert_eq!(owned_policies(&fake), 0);

    // Released: acting resumes.
    let (code, out) = break_glass(&engine, &["off"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("acting resumes"), "{out}");
    wait_for("acting resumes", || {
        !in_phase(&fake, "Applied").is_empty() && owned_policies(&fake) > 0
    })
    .await;
    assert!(
        objects_in(&fake, "events")
            .iter()
            .any(|e| e["reason"] == "BreakGlassReleased")
    );

    // Revert-all: nothing rampart applied is left, and nothing is applied again.
    let (code, out) = break_glass(&engine, &["on", "--revert-all", "--wait", "20s"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no active mitigation is left"), "{out}");
    assert_eq!(
        owned_policies(&fake),
        0,
        "every object rampart applied is gone"
    );
    assert!(in_phase(&fake, "Applied").is_empty() && in_phase(&fake, "Proposed").is_empty());
    assert!(
        in_phase(&fake, "Reverted")
            .iter()
            .any(|m| m["status"]["message"] == "reverted: withdrawn by break-glass")
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(owned_policies(&fake), 0, "still nothing applied");
    let f = findings(&engine.addr);
    assert_eq!(f["break_glass"]["revert_all"], true);
    assert!(metric(&engine.addr, "rampart_break_glass_withdrawn_total") >= 2);
    engine.stop();
}

/// Verifies `X-Rampart-Signature: t=<unix>,v1=<hex>` as a receiver would, from the documented
/// scheme alone: HMAC-SHA256 over `<t>.<body>`.
fn signed(key: &[u8], header: &str, body: &[u8]) -> bool {
    let mut t = "";
    let mut v1 = "";
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v,
            Some(("v1", v)) => v1 = v,
            _ => {}
        }
    }
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    let mac: String = ring::hmac::sign(&key, &msg)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    !t.is_empty() && mac == v1
}

/// The notices' kinds in every request a receiver took on `path`.
fn kinds_at(r: &rampart_testkit::receiver::Receiver, path: &str) -> Vec<String> {
    r.received()
        .iter()
        .filter(|x| x.path == path && x.status == 200)
        .flat_map(|x| {
            let v: Value = serde_json::from_slice(&x.body).unwrap_or(Value::Null);
            v["notices"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|n| n["kind"].as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Issue 24, notifications: a mitigation applied, a chain that appears later, break-glass and
/// the revert it causes, a request guard's block and the corroboration it brings reach a
/// generic webhook (HMAC-signed, checked here from the documented
/// scheme; the first request refused with 503 and retried), a Slack-compatible webhook and a
/// CloudEvents receiver; a receiver that refuses (400) counts dead letters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_signed_batched_retried_and_dead_lettered() {
    let receiver = rampart_testkit::receiver::start(1).await;
    let fake = new_fake();
    cluster(&fake, "web", true);
    let dir = std::env::temp_dir().join(format!("rampart-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = "0123456789abcdef-notify-key";
    std::fs::write(dir.join("key"), format!("{key}\n")).unwrap();
    std::fs::write(dir.join("slack-url"), format!("{}/slack\n", receiver.url)).unwrap();
    let url = &receiver.url;
    let webhook = format!("webhook={url}/hook");
    let slack = format!("slack=@{}", dir.join("slack-url").display());
    let ce = format!("cloudevents={url}/ce");
    let reject = format!("webhook={url}/reject");
    let secret = dir.join("key").display().to_string();
    let engine = Engine::spawn(
        &fake,
        "notify",
        &[
            ACT,
            &[
                "--notify",
                &webhook,
                "--notify",
                &slack,
                "--notify",
                &ce,
                "--notify",
                &reject,
                "--notify-secret-file",
                &secret,
                "--notify-window",
                "1s",
                "--ingest-addr",
                "127.0.0.1:0",
                "--insecure-no-auth",
            ],
        ]
        .concat(),
    )
    .await;
    wait_for("a mitigation applied is told", || {
        kinds_at(&receiver, "/hook").contains(&"mitigation-applied".to_string())
    })
    .await;

    // A chain that appears once the engine runs: a second secret behind a reachable pod.
    {
        let mut f = fake.lock().unwrap();
        f.write(
            "secrets",
            "ADDED",
            json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "cache", "namespace": "app"}}),
        );
        let mut p = pod("cache", 6379, false);
        p["spec"]["volumes"] = json!([{"name": "s", "secret": {"secretName": "cache"}}]);
        p["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "s", "mountPath": "/s"}]);
        f.write("pods", "ADDED", p);
    }
    wait_for("the new chain is told", || {
        kinds_at(&receiver, "/hook").contains(&"chain-new".to_string())
    })
    .await;
    let (code, out) = break_glass(&engine, &["on", "--revert-all", "--reason", "drill"]).await;
    assert_eq!(code, 0, "{out}");
    wait_for("break-glass and the revert are told", || {
        let k = kinds_at(&receiver, "/hook");
        k.contains(&"break-glass".to_string()) && k.contains(&"mitigation-reverted".to_string())
    })
    .await;

    // A request guard blocking at the exposed pod: told, and its alert corroborates the chain.
    let guard = serde_json::to_vec(&json!({
        "schema": "rampart.dev/guard-event/v1",
        "events": [{"kind": "request-anomaly", "namespace": "app", "pod": "web", "service": "web",
                    "reasons": {"injection": 2}, "mode": "block", "summary": "query.q: injection"}]
    }))
    .unwrap();
    let ingest = engine.ingest.clone().unwrap();
    assert_eq!(post(&ingest, "/guard", None, &guard), 200);
    wait_for("the guard block and the corroboration are told", || {
        let k = kinds_at(&receiver, "/hook");
        k.contains(&"guard-block".to_string()) && k.contains(&"chain-corroborated".to_string())
    })
    .await;

    let got = receiver.received();
    let hooks: Vec<_> = got.iter().filter(|r| r.path == "/hook").collect();
    assert_eq!(hooks[0].status, 503, "the first request was refused");
    let ids = |r: &rampart_testkit::receiver::Received| {
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        v["notices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(hooks[1].status, 200);
    assert_eq!(ids(hooks[0]), ids(hooks[1]), "the same batch, retried");
    for r in &hooks {
        let sig = r.headers.get("x-rampart-signature").expect("signed");
        assert!(
            signed(key.as_bytes(), sig, &r.body),
            "signature of {}",
            r.path
        );
        assert!(!signed(b"another key of 16+ bytes", sig, &r.body));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["schema"], "rampart.dev/notifications/v1");
    }
    let slack: Vec<_> = got.iter().filter(|r| r.path == "/slack").collect();
    assert!(!slack.is_empty(), "the Slack URL read from its file");
    let text: Value = serde_json::from_slice(&slack[0].body).unwrap();
    assert!(
        text["text"].as_str().unwrap().starts_with("*rampart*"),
        "{text}"
    );
    assert!(
        !slack[0].headers.contains_key("x-rampart-signature"),
        "signed: webhook only"
    );
    let ce: Vec<_> = got.iter().filter(|r| r.path == "/ce").collect();
    assert_eq!(
        ce[0].headers["content-type"],
        "application/cloudevents-batch+json"
    );
    let events: Value = serde_json::from_slice(&ce[0].body).unwrap();
    assert_eq!(events[0]["specversion"], "1.0");
    assert!(
        events[0]["type"]
            .as_str()
            .unwrap()
            .starts_with("dev.rampart.")
    );
    let metrics = get(&engine.addr, "/metrics");
    let line = |needle: &str| {
        metrics
            .lines()
            .filter(|l| l.contains(needle) && !l.starts_with('#'))
            .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    assert!(
        line("rampart_notifications_delivered_total{sink=\"webhook\"") >= 3.0,
        "{metrics}"
    );
    assert!(
        line("rampart_notification_requests_total{sink=\"webhook\",outcome=\"retried\"}") >= 1.0
    );
    assert!(
        line(
            "rampart_notifications_dead_letter_total{sink=\"webhook-2\",outcome=\"undeliverable\"}"
        ) >= 1.0,
        "{metrics}"
    );
    engine.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// One HTTP/1.1 request with extra header lines; the status and body.
fn request(addr: &str, method: &str, path: &str, headers: &[String], body: &[u8]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    let _ = s.write_all(body);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (code, body)
}

fn arming_policy(stage: &str) -> Value {
    json!({"apiVersion": "rampart.dev/v1alpha1", "kind": "ArmingPolicy",
        "metadata": {"name": "ladder", "namespace": ""},
        "spec": {"rules": [{"classes": ["network"], "namespaces": ["app"], "stage": stage}]}})
}

/// Issue 24, the arming ladder: a class armed `shadow` in a namespace acts nowhere there and
/// `/findings` counts what it would have done; moved up to `actWithApproval` (a live change
/// of the ArmingPolicy), the Mitigation is written Pending and nothing is applied until it is
/// approved — from the dashboard, behind its token and only with the approval header — then it
/// is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arming_ladder_holds_back_then_waits_for_approval() {
    let fake = new_fake();
    cluster(&fake, "web", true);
    fake.lock()
        .unwrap()
        .write("armingpolicies", "ADDED", arming_policy("shadow"));
    let dir = std::env::temp_dir().join(format!("rampart-arming-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = "arming-test-token-0123456789";
    std::fs::write(dir.join("token"), token).unwrap();
    let token_file = dir.join("token").display().to_string();
    let engine = Engine::spawn(
        &fake,
        "arming",
        &[ACT, &["--dashboard-token-file", &token_file]].concat(),
    )
    .await;
    let auth = format!("Authorization: Bearer {token}");
    let authed = |path: &str| request(&engine.addr, "GET", path, std::slice::from_ref(&auth), b"");
    let mut f = Value::Null;
    for _ in 0..300 {
        f = serde_json::from_str(&authed("/findings").1).unwrap_or(Value::Null);
        if decisions(&f).iter().any(|d| d == "propose: Arming(Shadow)") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(f["arming"]["state"], "in-force", "{}", f["arming"]);
    assert!(
        decisions(&f).iter().all(|d| d == "propose: Arming(Shadow)"),
        "{:?}",
        decisions(&f)
    );
    let history = &f["arming"]["history"]["network"];
    assert!(history["would_act"].as_u64().unwrap_or(0) >= 1, "{history}");
    assert_eq!(history["examples"][0]["held"], "shadow");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        objects_in(&fake, "mitigations").is_empty(),
        "shadow writes nothing"
    );

    // Up one rung, live: the mitigation waits for a person.
    fake.lock().unwrap().write(
        "armingpolicies",
        "MODIFIED",
        arming_policy("actWithApproval"),
    );
    wait_for("a Pending mitigation", || {
        !in_phase(&fake, "Pending").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(owned_policies(&fake), 0, "nothing applied before approval");
    assert!(in_phase(&fake, "Applied").is_empty());
    let m = in_phase(&fake, "Pending").remove(0);
    let page = authed("/").1;
    assert!(page.contains("class=\"approve\""), "{page}");
    let approval = serde_json::to_vec(&json!({"namespace": m["metadata"]["namespace"],
        "name": m["metadata"]["name"], "uid": m["metadata"]["uid"]}))
    .unwrap();
    let header = "X-Rampart-Approve: 1".to_string();
    let (code, _) = request(
        &engine.addr,
        "POST",
        "/approve",
        std::slice::from_ref(&header),
        &approval,
    );
    assert_eq!(code, 401, "not without the dashboard's token");
    let (code, _) = request(
        &engine.addr,
        "POST",
        "/approve",
        std::slice::from_ref(&auth),
        &approval,
    );
    assert_eq!(
        code, 403,
        "not without the approval header (a forged cross-site form)"
    );
    let wrong = serde_json::to_vec(&json!({"namespace": m["metadata"]["namespace"],
        "name": m["metadata"]["name"], "uid": "someone-else"}))
    .unwrap();
    let (code, body) = request(
        &engine.addr,
        "POST",
        "/approve",
        &[auth.clone(), header.clone()],
        &wrong,
    );
    assert_eq!(code, 409, "{body}");
    assert!(owned_policies(&fake) == 0);
    let (code, body) = request(
        &engine.addr,
        "POST",
        "/approve",
        &[auth.clone(), header],
        &approval,
    );
    assert_eq!(code, 200, "{body}");
    wait_for("the approved mitigation is applied", || {
        in_phase(&fake, "Applied")
            .iter()
            .any(|x| x["metadata"]["name"] == m["metadata"]["name"])
            && owned_policies(&fake) > 0
    })
    .await;
    let applied = in_phase(&fake, "Applied").remove(0);
    assert_eq!(applied["spec"]["approved"], true);
    assert_eq!(applied["status"]["message"], "applied: approved");
    engine.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// An engine with the `pod` class armed `actWithApproval` everywhere, over `app/web` (two pods
/// of a ReplicaSet behind a LoadBalancer), once the ladder is in force; the fake, the engine and
/// its ingest address.
async fn pod_ladder_engine(tag: &str) -> (Shared, Engine, String) {
    let fake = new_fake();
    {
        let mut f = fake.lock().unwrap();
        f.write(
            "namespaces",
            "ADDED",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}),
        );
        f.write("replicasets", "ADDED", replica_set("web-rs", "web", 2));
        f.write("pods", "ADDED", rs_pod("web-a", "web-rs", "web"));
        f.write("pods", "ADDED", rs_pod("web-b", "web-rs", "web"));
        let mut svc = service("LoadBalancer", "web");
        svc["spec"]["selector"] = json!({"app": "web"});
        f.write("services", "ADDED", svc);
        f.write(
            "armingpolicies",
            "ADDED",
            json!({"apiVersion": "rampart.dev/v1alpha1",
            "kind": "ArmingPolicy", "metadata": {"name": "pods", "namespace": ""},
            "spec": {"rules": [{"classes": ["pod"], "stage": "actWithApproval"}]}}),
        );
    }
    let engine = Engine::spawn(
        &fake,
        tag,
        &[
            "--enable",
            "pod",
            "--actuator",
            "networkpolicy",
            "--ingest-addr",
            "127.0.0.1:0",
            "--insecure-no-auth",
        ],
    )
    .await;
    let ingest = engine.ingest.clone().unwrap();
    engine
        .findings_when(|f| f["arming"]["state"] == "in-force")
        .await;
    (fake, engine, ingest)
}

/// Issue 24, the arming ladder for the pod class: armed `actWithApproval`, a shell in a pod
/// writes a Pending isolation and leaves the pod alone; approved with a merge patch of
/// `spec.approved` (what `kubectl patch` sends), the pod is isolated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infected_pod_waits_for_approval_where_the_ladder_says_so() {
    let (fake, engine, ingest) = pod_ladder_engine("pod-ladder").await;
    let quarantined = |fake: &Shared| {
        objects_in(fake, "pods").iter().any(|p| {
            p["metadata"]["name"] == "web-a"
                && p["metadata"]["labels"]["rampart.dev/quarantine"].is_string()
        })
    };
    assert_eq!(post(&ingest, "/falco", None, &shell_in("web-a")), 200);
    wait_for("a Pending isolation", || {
        in_phase(&fake, "Pending")
            .iter()
            .any(|m| m["spec"]["action"] == "Isolate")
    })
    .await;
    // Another alert on the same pod: still one record, still not isolated.
    assert_eq!(post(&ingest, "/falco", None, &shell_in("web-a")), 200);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(!quarantined(&fake), "nothing done before approval");
    assert_eq!(objects_in(&fake, "mitigations").len(), 1);
    let m = in_phase(&fake, "Pending").remove(0);
    let url = start(fake.clone()).await;
    let patch = tokio::task::spawn_blocking({
        let url = url.clone();
        let (ns, name) = (
            m["metadata"]["namespace"].as_str().unwrap().to_string(),
            m["metadata"]["name"].as_str().unwrap().to_string(),
        );
        move || {
            let addr = url.trim_start_matches("http://").to_string();
            request(
                &addr,
                "PATCH",
                &format!("/apis/rampart.dev/v1alpha1/namespaces/{ns}/mitigations/{name}"),
                &["Content-Type: application/merge-patch+json".to_string()],
                br#"{"spec":{"approved":true}}"#,
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(patch.0, 200, "{}", patch.1);
    wait_for("the approved isolation is applied", || {
        quarantined(&fake)
            && in_phase(&fake, "Applied").iter().any(|x| {
                x["spec"]["action"] == "Isolate" && x["status"]["message"] == "applied: approved"
            })
    })
    .await;
    engine.stop();
}

/// Break-glass with revert-all withdraws a Pending isolation without touching its pod: ending
/// an applied isolation deletes the isolated pod, but a pod never isolated is not rampart's to
/// delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revert_all_withdraws_a_pending_isolation_and_leaves_its_pod_alone() {
    let (fake, engine, ingest) = pod_ladder_engine("pod-brake").await;
    assert_eq!(post(&ingest, "/falco", None, &shell_in("web-a")), 200);
    wait_for("a Pending isolation", || {
        !in_phase(&fake, "Pending").is_empty()
    })
    .await;
    let (code, out) = break_glass(&engine, &["on", "--revert-all", "--wait", "20s"]).await;
    assert_eq!(code, 0, "{out}");
    let m = objects_in(&fake, "mitigations").remove(0);
    assert_eq!(m["status"]["phase"], "Reverted");
    assert_eq!(
        m["status"]["message"],
        "withdrawn by break-glass before it was approved"
    );
    assert!(
        objects_in(&fake, "pods")
            .iter()
            .any(|p| p["metadata"]["name"] == "web-a"),
        "the pod that was never isolated is still there"
    );
    engine.stop();
}

fn hubble_flow(src: (&str, &str), dst: (&str, &str), port: u16) -> String {
    let end = |(_, pod): (&str, &str)| {
        if pod.is_empty() {
            json!({"labels": ["reserved:world"]})
        } else {
            json!({"namespace": "app", "pod_name": pod, "labels": [format!("k8s:app={pod}")]})
        }
    };
    json!({"flow": {"verdict": "FORWARDED", "IP": {"source": src.0, "destination": dst.0},
        "l4": {"TCP": {"source_port": 40000, "destination_port": port}},
        "source": end(src), "destination": end(dst), "is_reply": false}})
    .to_string()
}

fn netpol_plan(addr: &str) -> Value {
    serde_json::from_str(&get(addr, "/netpol")).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_from_the_ingest_and_a_followed_file_become_a_proven_plan() {
    let fake = new_fake();
    cluster(&fake, "web", true);
    let dir = std::env::temp_dir().join(format!("rampart-flows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let capture = dir.join("hubble.jsonl");
    // The file starts with one flow and a half-written line the engine must wait for.
    let first = hubble_flow(("203.0.113.7", ""), ("10.0.0.1", "web"), 8080);
    std::fs::write(&capture, format!("{first}\n{{\"flow\":{{\"verd")).unwrap();
    let engine = Engine::spawn(
        &fake,
        "flows",
        &[
            "--ingest-addr",
            "127.0.0.1:0",
            "--ingest-token-file",
            token_file.to_str().unwrap(),
            "--flows-file",
            capture.to_str().unwrap(),
            "--netpol-interval",
            "200ms",
        ],
    )
    .await;
    let ingest = engine.ingest.clone().expect("ingest address in the log");
    engine.findings_when(|f| chains(f) > 0).await;
    wait_for("a plan from the file's flow", || {
        netpol_plan(&engine.addr)["observed"]["connections"] == 1
    })
    .await;

    // POST /flows: the token is required, bad lines are counted, flows join the plan.
    let body = format!(
        "{}\nnot json\n",
        hubble_flow(("10.0.0.1", "web"), ("10.0.0.2", "db"), 5432)
    );
    assert_eq!(post(&ingest, "/flows", None, body.as_bytes()), 401);
    assert_eq!(
        post(&ingest, "/flows", Some("s3cret-token"), b"nothing here\n"),
        400
    );
    assert_eq!(
        post(&ingest, "/flows", Some("s3cret-token"), body.as_bytes()),
        200
    );
    wait_for("the posted flow in the plan", || {
        netpol_plan(&engine.addr)["observed"]["connections"] == 2
    })
    .await;
    // The rest of the file's half line, and one more flow: read as the file grows.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&capture)
        .unwrap();
    let third = hubble_flow(("10.0.0.1", "web"), ("10.0.0.2", "db"), 6379);
    writeln!(f, "ict\":\"FORWARDED\"}}}}\n{third}").unwrap();
    drop(f);
    wait_for("the appended flow in the plan", || {
        netpol_plan(&engine.addr)["observed"]["connections"] == 3
    })
    .await;
    let plan = netpol_plan(&engine.addr);
    assert_eq!(plan["apiVersion"], "rampart.dev/netpol-plan/v1");
    let v = &plan["verification"];
    assert_eq!(v["kept"], 3, "{plan}");
    assert_eq!(v["observed"], 3);
    assert!(v["broken"].as_array().unwrap().is_empty());
    let policies: Vec<&str> = plan["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    assert!(policies.contains(&"rampart-db-pod-ingress"), "{policies:?}");
    // The plan is shown, never applied.
    assert!(objects_in(&fake, "networkpolicies").is_empty());
    let page = get(&engine.addr, "/");
    assert!(
        page.contains("NetworkPolicies from observed flows"),
        "{page}"
    );
    assert!(page.contains("rampart-web-pod-egress"));
    let metrics = get(&engine.addr, "/metrics");
    assert!(
        metrics.contains("rampart_netpol_connections 3"),
        "{metrics}"
    );
    assert!(metrics.contains("rampart_netpol_denied_observed 0"));
    assert!(
        metrics.contains("rampart_ingest_items_total{endpoint=\"flows\",result=\"malformed\"} 1")
    );
    // A Falco connection event about a pod, logged as information, is observed traffic too; an
    // alert about one (Notice and above) is suspect and never allow-listed.
    let alert = r#"[{"rule":"Connections","priority":"Informational","time":"2026-12-06T10:00:00Z","output_fields":{"k8s.ns.name":"app","k8s.pod.name":"web","fd.name":"10.0.0.1:40000->10.0.0.2:9000","evt.type":"connect"}},
        {"rule":"Unexpected outbound connection destination","priority":"Notice","time":"2026-12-06T10:00:00Z","output_fields":{"k8s.ns.name":"app","k8s.pod.name":"web","fd.name":"10.0.0.1:40001->10.0.0.2:9001","evt.type":"connect"}}]"#;
    assert_eq!(
        post(&ingest, "/falco", Some("s3cret-token"), alert.as_bytes()),
        200
    );
    wait_for("the Falco connection in the plan", || {
        netpol_plan(&engine.addr)["connections"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["port"] == "TCP 9000"))
    })
    .await;
    assert!(
        !netpol_plan(&engine.addr)["connections"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["port"] == "TCP 9001")),
        "a suspect connection is not allow-listed"
    );
    let metrics = get(&engine.addr, "/metrics");
    assert!(
        metrics.contains("rampart_ingest_items_total{endpoint=\"falco\",result=\"flows\"} 1"),
        "{metrics}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Hubble drop of a connection into `dst` (the receiver's ingress policy denied it), seen at
/// `time` (RFC 3339).
fn hubble_drop(src: (&str, &str), dst: (&str, &str), port: u16, time: &str) -> String {
    let mut v: Value = serde_json::from_str(&hubble_flow(src, dst, port)).unwrap();
    v["flow"]["verdict"] = "DROPPED".into();
    v["flow"]["drop_reason_desc"] = "POLICY_DENIED".into();
    v["flow"]["traffic_direction"] = "INGRESS".into();
    v["flow"]["time"] = time.into();
    v.to_string()
}

/// The rollout's NetworkPolicies in the fake, by step, in the order `ty` (`ADDED`,
/// `DELETED`) happened to them.
fn rollout_history(fake: &Shared, ty: &str) -> Vec<(u64, String)> {
    let f = fake.lock().unwrap();
    f.collections
        .get("networkpolicies")
        .map(|c| {
            c.history
                .iter()
                .filter(|(_, t, _)| *t == ty)
                .filter_map(|(_, _, o)| {
                    let step = o["metadata"]["labels"]["rampart.dev/netpol-step"].as_str()?;
                    Some((
                        step.parse().unwrap(),
                        o["metadata"]["name"].as_str().unwrap().to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An engine with the ingest (token `s3cret-token`) and a plan made every 200 ms, plus `args`;
/// its ingest address and a scratch directory.
async fn flows_engine(fake: &Shared, tag: &str, args: &[&str]) -> (Engine, String, PathBuf) {
    let dir = std::env::temp_dir().join(format!("rampart-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let mut all = vec![
        "--ingest-addr",
        "127.0.0.1:0",
        "--ingest-token-file",
        token_file.to_str().unwrap(),
        "--netpol-interval",
        "200ms",
    ];
    all.extend_from_slice(args);
    let engine = Engine::spawn(fake, tag, &all).await;
    let ingest = engine.ingest.clone().expect("ingest address in the log");
    (engine, ingest, dir)
}

/// Issue 21: with `--enable netpol` the proven plan is rolled out step by step as Mitigations
/// (each step after the one before soaked), and a drop under a policy reverts it with every
/// later step — latest first — while a drop older than the policy is not blamed on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_netpol_class_rolls_the_plan_out_step_by_step_and_a_drop_reverts_it() {
    let fake = new_fake();
    cluster(&fake, "web", true);
    let (engine, ingest, dir) = flows_engine(
        &fake,
        "rollout",
        &[
            "--netpol-default-deny",
            "--netpol-soak",
            "1s",
            "--enable",
            "netpol",
            "--actuator",
            "networkpolicy",
        ],
    )
    .await;
    engine.findings_when(|f| chains(f) > 0).await;
    let body = format!(
        "{}\n{}\n",
        hubble_flow(("203.0.113.7", ""), ("10.0.0.1", "web"), 8080),
        hubble_flow(("10.0.0.1", "web"), ("10.0.0.2", "db"), 5432)
    );
    assert_eq!(
        post(&ingest, "/flows", Some("s3cret-token"), body.as_bytes()),
        200
    );
    let all_applied = || {
        let p = netpol_plan(&engine.addr);
        let steps = p["steps"].as_array().map_or(0, Vec::len);
        steps == 3 && p["rollout"]["applied"] == json!([1, 2, 3])
    };
    for _ in 0..1200 {
        if all_applied() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        all_applied(),
        "every step applied: {:#}\n{:#?}",
        netpol_plan(&engine.addr)["rollout"],
        objects_in(&fake, "mitigations")
            .iter()
            .map(|m| (m["spec"]["target"]["name"].clone(), m["status"].clone()))
            .collect::<Vec<_>>()
    );
    let plan = netpol_plan(&engine.addr);
    assert_eq!(plan["rollout"]["enabled"], true, "{plan}");
    assert_eq!(plan["steps"][2]["stage"], "default-deny", "{plan}");
    // Applied in order: no step's policy before every policy of the step before it.
    let added = rollout_history(&fake, "ADDED");
    assert!(added.windows(2).all(|w| w[0].0 <= w[1].0), "{added:?}");
    let policies = plan["policies"].as_array().unwrap().len();
    assert_eq!(added.len(), policies, "{added:?}");
    // Every policy is a Mitigation's: recorded, owned, labelled with its step, expiring no
    // later than the steps it relies on.
    let records = in_phase(&fake, "Applied");
    assert_eq!(records.len(), policies);
    let expiry = |step: &str| {
        records
            .iter()
            .filter(|m| m["metadata"]["labels"]["rampart.dev/netpol-step"] == step)
            .map(|m| m["spec"]["expiresAt"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(
        records
            .iter()
            .all(|m| m["spec"]["action"] == "ObservedPolicy")
    );
    assert!(
        expiry("3")
            .iter()
            .all(|e| expiry("1").iter().all(|f| e <= f))
    );
    assert_eq!(owned_policies(&fake), policies);

    // A drop from before the policies existed (a capture read again from its start) is not
    // theirs.
    let old = hubble_drop(
        ("10.0.0.2", "db"),
        ("10.0.0.1", "web"),
        8080,
        "2020-01-01T00:00:00Z",
    );
    assert_eq!(
        post(&ingest, "/flows", Some("s3cret-token"), old.as_bytes()),
        200
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        in_phase(&fake, "Applied").len(),
        policies,
        "an old drop reverts nothing"
    );

    // Production traffic dropped under web's ingress allow-list: it falls at once, with every
    // later step, latest first; db's ingress (step 1, not blamed) stays.
    let now = rfc3339_now();
    let drop = hubble_drop(("10.0.0.2", "db"), ("10.0.0.1", "web"), 8080, &now);
    assert_eq!(
        post(&ingest, "/flows", Some("s3cret-token"), drop.as_bytes()),
        200
    );
    wait_for("the dropped step reverted", || {
        in_phase(&fake, "Applied").len() == 1
    })
    .await;
    let applied = in_phase(&fake, "Applied");
    assert_eq!(
        applied[0]["spec"]["target"]["name"],
        "rampart-db-pod-ingress"
    );
    let reverted = in_phase(&fake, "Reverted");
    let web = reverted
        .iter()
        .find(|m| m["spec"]["target"]["name"] == "rampart-web-pod-ingress")
        .expect("web's ingress reverted");
    let message = web["status"]["message"].as_str().unwrap();
    assert!(message.contains("traffic dropped under it"), "{message}");
    assert!(message.contains("app/db (10.0.0.2)"), "{message}");
    let messages: Vec<(String, String)> = reverted
        .iter()
        .map(|m| {
            (
                m["spec"]["target"]["name"].as_str().unwrap().to_string(),
                m["status"]["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        messages
            .iter()
            .all(|(name, m)| if name.ends_with("-egress") {
                m.contains("step 1 before it fell")
            } else {
                // web's allow-list, and the default-deny that selects web too.
                m.contains("traffic dropped under it")
            }),
        "{messages:#?}"
    );
    let deleted = rollout_history(&fake, "DELETED");
    assert!(
        deleted.windows(2).all(|w| w[0].0 >= w[1].0),
        "latest first: {deleted:?}"
    );
    assert_eq!(deleted.last().unwrap().1, "rampart-web-pod-ingress");
    assert_eq!(owned_policies(&fake), 1);
    // Counted once each end is written: the last record's status can be seen a moment before
    // its count.
    wait_for("the ends counted", || {
        get(&engine.addr, "/metrics")
            .contains("rampart_netpol_rollout_ended_total{why=\"dropped\"} 2")
    })
    .await;
    let metrics = get(&engine.addr, "/metrics");
    assert!(
        metrics.contains("rampart_netpol_rollout_drops_total 1"),
        "{metrics}"
    );
    // It cools down before it is tried again (--reapply-cooldown, 30 min by default).
    wait_for("the rollout waits for the cool-down", || {
        netpol_plan(&engine.addr)["rollout"]["waiting"]
            .as_str()
            .is_some_and(|w| w.contains("dropped"))
    })
    .await;
    let page = get(&engine.addr, "/");
    assert!(page.contains("traffic dropped under it"), "{page}");
    let log = engine.stop();
    assert!(log.contains("NetworkPolicy rollout: ended"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 21: without `--enable netpol` the rollout is shadow: decided, shown and counted in the
/// shadow history, nothing recorded or applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_netpol_class_the_rollout_is_shadow() {
    let fake = new_fake();
    cluster(&fake, "web", true);
    let (engine, ingest, dir) = flows_engine(
        &fake,
        "rollout-shadow",
        &["--actuator", "networkpolicy", "--enable", "network"],
    )
    .await;
    engine.findings_when(|f| chains(f) > 0).await;
    let body = hubble_flow(("10.0.0.1", "web"), ("10.0.0.2", "db"), 5432);
    assert_eq!(
        post(&ingest, "/flows", Some("s3cret-token"), body.as_bytes()),
        200
    );
    wait_for("the rollout decided", || {
        netpol_plan(&engine.addr)["rollout"]["gates"][0]["decision"] == "propose: ClassDisabled"
    })
    .await;
    let plan = netpol_plan(&engine.addr);
    assert_eq!(plan["rollout"]["enabled"], false);
    assert_eq!(plan["rollout"]["current"], 1, "{plan}");
    let f = engine
        .findings_when(|f| f["arming"]["history"]["netpol"]["would_act"].as_u64() >= Some(1))
        .await;
    assert_eq!(
        f["arming"]["history"]["netpol"]["examples"][0]["held"], "class disabled",
        "{}",
        f["arming"]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        objects_in(&fake, "mitigations")
            .iter()
            .all(|m| m["spec"]["action"] != "ObservedPolicy"),
        "nothing recorded"
    );
    let page = get(&engine.addr, "/");
    assert!(page.contains("--enable netpol"), "{page}");
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Now, RFC 3339 UTC (whole seconds).
fn rfc3339_now() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    k8s_openapi::jiff::Timestamp::from_second(s as i64)
        .unwrap()
        .to_string()
}
