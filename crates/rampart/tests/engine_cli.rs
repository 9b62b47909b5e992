//! `rampart engine` against the in-memory API server: first findings once every kind is
//! listed, a change re-proved and reported, shadow mode proposing only, the dashboard escaping
//! what the cluster says.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use rampart_testkit::{kubeconfig, new_fake, start};
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

fn findings(addr: &str) -> Value {
    serde_json::from_str(&get(addr, "/findings")).unwrap_or(Value::Null)
}

fn service(kind: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web<script>", "namespace": "app"},
           "spec": {"type": kind, "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_proves_reports_and_follows_changes() {
    let fake = new_fake();
    {
        let mut f = fake.lock().unwrap();
        f.write(
            "namespaces",
            "ADDED",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}),
        );
        f.write("services", "ADDED", service("LoadBalancer"));
        f.write("pods", "ADDED", json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "app", "labels": {"app": "web"}},
            "spec": {"volumes": [{"name": "s", "secret": {"secretName": "db"}}],
                     "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 8080}],
                                     "volumeMounts": [{"name": "s", "mountPath": "/s"}]}]}}));
        f.write("secrets", "ADDED", json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "app"}, "data": {"password": "c2VjcmV0LXZhbHVl"}}));
    }
    let url = start(fake.clone()).await;
    let dir = std::env::temp_dir().join(format!("rampart-engine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("kubeconfig"), kubeconfig(&url)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args([
            "engine",
            "--dashboard-addr",
            "127.0.0.1:0",
            "--debounce",
            "50ms",
            "--enable",
            "network",
            "--actuator",
            "bogus",
        ])
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env("RAMPART_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut early = String::new();
    let addr = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "engine exited: {early}"
        );
        early.push_str(&line);
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

    let mut f = Value::Null;
    for _ in 0..300 {
        f = findings(&addr);
        if f["summary"]["chains"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(f["summary"]["chains"].as_u64().unwrap() > 0, "{f}");
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
    let text = f.to_string();
    assert!(
        !text.contains("c2VjcmV0LXZhbHVl"),
        "secret value in findings"
    );
    let html = get(&addr, "/");
    assert!(
        html.contains("class=\"chain\"")
            && html.contains("web&lt;script&gt;")
            && !html.contains("web<script>")
    );
    assert!(get(&addr, "/metrics").contains("rampart_reproofs_total"));
    assert_eq!(f["levers"]["writes"], false, "dry-run: {}", f["levers"]);
    // The new chains are visible as Kubernetes Events on their entry object.
    let events = objects_in(&fake, "events");
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "AttackChainProven" && e["regarding"]["name"] == "web<script>"),
        "{events:?}"
    );

    // The durable fix lands: the Service stops being a LoadBalancer.
    fake.lock()
        .unwrap()
        .write("services", "MODIFIED", service("ClusterIP"));
    for _ in 0..300 {
        f = findings(&addr);
        if f["summary"]["chains"].as_u64() == Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(f["summary"]["chains"], 0, "{f}");
    assert!(
        !f["report"]["diff"]["chains_removed"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let _ = child.kill();
    let _ = child.wait();
    let log = log.join().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        log.contains("running dry-run"),
        "a bogus actuator fails safe: {log}"
    );
    assert!(!log.contains("c2VjcmV0LXZhbHVl"));
}

fn objects_in(fake: &rampart_testkit::Shared, collection: &str) -> Vec<Value> {
    let f = fake.lock().unwrap();
    f.collections
        .get(collection)
        .map(|c| c.objects.values().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_networkpolicy_actuator_applies_owns_records_and_expires() {
    let fake = new_fake();
    {
        let mut f = fake.lock().unwrap();
        f.write(
            "namespaces",
            "ADDED",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}),
        );
        f.write("services", "ADDED", json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "app"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}));
        f.write("pods", "ADDED", json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "app", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 8080}]}]}}));
        f.write("pods", "ADDED", json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "db", "namespace": "app", "labels": {"app": "db"}},
            "spec": {"volumes": [{"name": "s", "secret": {"secretName": "db"}}],
                     "containers": [{"name": "c", "image": "postgres", "ports": [{"containerPort": 5432}],
                                     "volumeMounts": [{"name": "s", "mountPath": "/s"}]}]}}));
        f.write("secrets", "ADDED", json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "app"}}));
        // Left behind by a crash: an object rampart applied whose record is gone.
        f.write("networkpolicies", "ADDED", json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "ghost", "namespace": "app", "labels": {"rampart.dev/mitigation": "lost"}},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}}));
    }
    let url = start(fake.clone()).await;
    let dir = std::env::temp_dir().join(format!("rampart-engine-act-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("kubeconfig"), kubeconfig(&url)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args([
            "engine",
            "--dashboard-addr",
            "127.0.0.1:0",
            "--debounce",
            "50ms",
            "--enable",
            "network",
            "--act-on-proof",
            "--actuator",
            "networkpolicy",
            "--mitigation-ttl",
            "3s",
        ])
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // Applied: a Mitigation in the object's namespace, Applied, owning a labelled NetworkPolicy.
    let mut applied = None;
    for _ in 0..400 {
        let ms = objects_in(&fake, "mitigations");
        if let Some(m) = ms.iter().find(|m| m["status"]["phase"] == "Applied") {
            applied = Some(m.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let m = applied.expect("a mitigation is applied");
    assert!(
        !objects_in(&fake, "networkpolicies")
            .iter()
            .any(|n| n["metadata"]["name"] == "ghost"),
        "start-up reconciliation deleted the orphan"
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

    // Expiry: the object is removed and the record says Reverted.
    let name = m["metadata"]["name"].clone();
    let mut reverted = false;
    for _ in 0..400 {
        let ms = objects_in(&fake, "mitigations");
        if ms
            .iter()
            .any(|x| x["metadata"]["name"] == name && x["status"]["phase"] == "Reverted")
        {
            reverted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        reverted,
        "the mitigation expired and reverted: {:?}",
        objects_in(&fake, "mitigations")
    );
    let gone = !objects_in(&fake, "networkpolicies")
        .iter()
        .any(|n| n["metadata"]["labels"]["rampart.dev/mitigation"] == name);
    assert!(gone, "the expired mitigation's NetworkPolicy is deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_one_leader_one_set_of_writes() {
    let fake = new_fake();
    {
        let mut f = fake.lock().unwrap();
        f.write(
            "namespaces",
            "ADDED",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}),
        );
        f.write("services", "ADDED", json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "app"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}));
        f.write("pods", "ADDED", json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "app", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 8080}]}]}}));
        f.write("pods", "ADDED", json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "db", "namespace": "app", "labels": {"app": "db"}},
            "spec": {"volumes": [{"name": "s", "secret": {"secretName": "db"}}],
                     "containers": [{"name": "c", "image": "postgres", "ports": [{"containerPort": 5432}],
                                     "volumeMounts": [{"name": "s", "mountPath": "/s"}]}]}}));
        f.write("secrets", "ADDED", json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "app"}}));
    }
    let url = start(fake.clone()).await;
    let dir = std::env::temp_dir().join(format!("rampart-engine-ha-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("kubeconfig"), kubeconfig(&url)).unwrap();
    let spawn = |id: &str| {
        Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args([
                "engine",
                "--dashboard-addr",
                "127.0.0.1:0",
                "--debounce",
                "50ms",
                "--enable",
                "network",
                "--act-on-proof",
                "--actuator",
                "networkpolicy",
                "--mitigation-ttl",
                "10m",
                "--identity",
                id,
            ])
            .env("KUBECONFIG", dir.join("kubeconfig"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut a = spawn("replica-a");
    let mut b = spawn("replica-b");
    let mut applied = false;
    for _ in 0..400 {
        if objects_in(&fake, "mitigations")
            .iter()
            .any(|m| m["status"]["phase"] == "Applied")
        {
            applied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Give the follower every chance to (wrongly) act too.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mitigations = objects_in(&fake, "mitigations");
    let leases = objects_in(&fake, "leases");
    for c in [&mut a, &mut b] {
        let _ = c.kill();
        let _ = c.wait();
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(applied);
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
    {
        let mut f = fake.lock().unwrap();
        f.denied_verbs.push("create networkpolicies".into());
        f.write(
            "namespaces",
            "ADDED",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}}),
        );
        f.write("services", "ADDED", service("LoadBalancer"));
        f.write("pods", "ADDED", json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "app", "labels": {"app": "web"}},
            "spec": {"volumes": [{"name": "s", "secret": {"secretName": "db"}}],
                     "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 8080}],
                                     "volumeMounts": [{"name": "s", "mountPath": "/s"}]}]}}));
        f.write("secrets", "ADDED", json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "app"}}));
    }
    let url = start(fake.clone()).await;
    let dir = std::env::temp_dir().join(format!("rampart-engine-rbac-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("kubeconfig"), kubeconfig(&url)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args([
            "engine",
            "--dashboard-addr",
            "127.0.0.1:0",
            "--debounce",
            "50ms",
            "--enable",
            "network",
            "--act-on-proof",
            "--actuator",
            "networkpolicy",
        ])
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0);
        if let Some(a) = line.trim().split("dashboard on http://").nth(1) {
            break a.to_string();
        }
    };
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = stderr.read_to_string(&mut sink);
    });
    let mut f = Value::Null;
    for _ in 0..300 {
        f = findings(&addr);
        if f["summary"]["chains"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mitigations = objects_in(&fake, "mitigations");
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(f["levers"]["writes"], false, "{}", f["levers"]);
    assert!(
        f["levers"]["missing"]
            .to_string()
            .contains("create networkpolicies")
    );
    assert!(
        mitigations.is_empty(),
        "nothing written without permissions"
    );
}
