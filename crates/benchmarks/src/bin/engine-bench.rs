//! Engine benchmark: `cargo run --release -p rampart-benchmarks --bin engine-bench [PODS]
//! [sparse|dense]` (build `rampart` in release first: the engine runs as the real binary).
//!
//! Loads a synthetic cluster (rampart-synth) into the in-memory API server, starts
//! `rampart engine` against it and measures: time from start to first findings (lists +
//! model + first proof), the engine's resident memory once steady, and the latency from one
//! pod's label change to the change report (20 changes, debounce included); then, event by
//! event as the controllers write them, a rolling update of a 5-replica Deployment (a new
//! ReplicaSet, each pod replaced: created, bound to a node, the old one terminating and gone,
//! the ReplicaSets' counts following) and a scale of one from 5 to 50 replicas, each event's
//! latency to its change report and the re-proof paths the engine took.
//! `ENGINE_BENCH_SLOW_MODEL=SECONDS` adds a scripted model that takes that long per answer
//! (`--model-url`): judging runs beside the loop, so the latencies must not move.
//! `ENGINE_BENCH_TRACE=1` prints each event, the path its re-proof took and why a full one was
//! needed, and forwards the engine's log.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rampart_benchmarks::{percentiles, status_mib};
use rampart_synth::{Config, Shape, items};
use rampart_testkit::{kubeconfig, new_fake, start};
use serde_json::Value;

fn resource(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Namespace" => "namespaces",
        "Node" => "nodes",
        "Pod" => "pods",
        "Service" => "services",
        "ServiceAccount" => "serviceaccounts",
        "Secret" => "secrets",
        "ReplicationController" => "replicationcontrollers",
        "Deployment" => "deployments",
        "ReplicaSet" => "replicasets",
        "StatefulSet" => "statefulsets",
        "DaemonSet" => "daemonsets",
        "Job" => "jobs",
        "CronJob" => "cronjobs",
        "Ingress" => "ingresses",
        "NetworkPolicy" => "networkpolicies",
        "Role" => "roles",
        "ClusterRole" => "clusterroles",
        "RoleBinding" => "rolebindings",
        "ClusterRoleBinding" => "clusterrolebindings",
        _ => return None,
    })
}

fn get(addr: &str, path: &str) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default()
}

fn generation(addr: &str) -> u64 {
    serde_json::from_str::<Value>(&get(addr, "/status"))
        .ok()
        .and_then(|v| v["generation"].as_u64())
        .unwrap_or(0)
}

/// Resident memory in MiB.
fn rss_mib(pid: u32) -> u64 {
    status_mib(&pid.to_string(), "VmRSS:")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let pods: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let shape = match std::env::args().nth(2) {
        None => Shape::Sparse,
        Some(s) => Shape::parse(&s).unwrap_or_else(|| {
            eprintln!("the shape is sparse or dense");
            std::process::exit(2)
        }),
    };
    let fake = new_fake();
    let mut first_pod: Option<Value> = None;
    let all = items(&Config::with_pods(pods).shaped(shape));
    {
        let mut f = fake.lock().unwrap_or_else(|e| e.into_inner());
        for item in &all {
            let kind = item["kind"].as_str().unwrap_or("").to_string();
            if let Some(r) = resource(&kind) {
                if kind == "Pod" && first_pod.is_none() {
                    first_pod = Some(item.clone());
                }
                f.write(r, "ADDED", item.clone());
            }
        }
    }
    let fives = five_replica_deployments(&all);
    let nodes: Vec<String> = all
        .iter()
        .filter(|i| i["kind"] == "Node")
        .filter_map(|i| i["metadata"]["name"].as_str().map(String::from))
        .collect();
    let url = start(fake.clone()).await;
    let dir = std::env::temp_dir().join(format!("rampart-engine-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("kubeconfig"), kubeconfig(&url)).expect("kubeconfig");
    // ENGINE_BENCH_SLOW_MODEL=SECONDS: a scripted model that takes that long to answer judges
    // every chain beside the loop (the label-change latency must not move).
    let model = match std::env::var("ENGINE_BENCH_SLOW_MODEL")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        Some(secs) => {
            let slow: rampart_testkit::model::Script = std::sync::Arc::new(move |_, _| {
                rampart_testkit::model::Reply::Slow(
                    Duration::from_secs(secs),
                    Box::new(rampart_testkit::model::Reply::Content(
                        rampart_testkit::model::verdict("not_exploitable", 0.7, "slow", &["s0"]),
                    )),
                )
            });
            Some(rampart_testkit::model::ScriptedModel::start(slow).await)
        }
        None => None,
    };
    let mut args: Vec<String> = [
        "engine",
        "--dashboard-addr",
        "127.0.0.1:0",
        "--debounce",
        "20ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(m) = &model {
        args.extend([
            "--model-url".into(),
            m.url(),
            "--model-name".into(),
            "slow".into(),
            "--model-concurrency".into(),
            "4".into(),
            "--model-per-minute".into(),
            "600".into(),
            "--model-timeout".into(),
            "60s".into(),
        ]);
    }
    let started = Instant::now();
    let mut child = Command::new("target/release/rampart")
        .args(&args)
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("target/release/rampart (cargo build --release -p rampart)");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let addr = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("engine exited");
        }
        if let Some(a) = line.trim().split("dashboard on http://").nth(1) {
            break a.to_string();
        }
    };
    std::thread::spawn(move || {
        if std::env::var_os("ENGINE_BENCH_TRACE").is_some() {
            let _ = std::io::copy(&mut stderr, &mut std::io::stderr());
        }
        let mut sink = String::new();
        let _ = stderr.read_to_string(&mut sink);
    });
    while generation(&addr) == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = rss_mib(child.id());
    let findings_bytes = get(&addr, "/findings").len();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let rss_later = rss_mib(child.id());
    // What the resident memory is: the heap and stacks, or pages of the binary itself.
    let (anon, file) = (
        status_mib(&child.id().to_string(), "RssAnon:"),
        status_mib(&child.id().to_string(), "RssFile:"),
    );
    let mut pod = first_pod.expect("a pod");
    let mut lat = Vec::new();
    for i in 0..20 {
        let before = generation(&addr);
        pod["metadata"]["labels"]["bench"] = Value::String(format!("v{i}"));
        let t = Instant::now();
        fake.lock()
            .unwrap_or_else(|e| e.into_inner())
            .write("pods", "MODIFIED", pod.clone());
        while generation(&addr) == before {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        lat.push(t.elapsed());
    }
    if std::env::var_os("ENGINE_BENCH_TRACE").is_some() {
        eprintln!("after label changes: {:?}", reproof_paths(&addr));
    }
    let paths_before = reproof_paths(&addr);
    let mut events = Events {
        fake: &fake,
        addr: &addr,
        lat: Vec::new(),
    };
    let (d, rs, rs_pods) = &fives[0];
    rollout(&mut events, d, rs, rs_pods, &nodes).await;
    let rollout_lat = std::mem::take(&mut events.lat);
    let paths_rollout = reproof_paths(&addr);
    let (d, rs, rs_pods) = &fives[1];
    scale(&mut events, d, rs, &rs_pods[0], &nodes).await;
    let scale_lat = std::mem::take(&mut events.lat);
    let paths_scale = reproof_paths(&addr);
    let judge_metrics: Vec<String> = get(&addr, "/metrics")
        .lines()
        .filter(|l| l.starts_with("rampart_judge_") && !l.contains("bucket"))
        .map(String::from)
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let (p50, p99) = percentiles(lat);
    println!("engine on {pods} synthetic pods (in-memory API server, same machine)");
    println!(
        "start → first findings: {first:.2?}; RSS 2 s later {rss} MiB ({:.0} MB), 10 s later {rss_later} MiB ({:.0} MB: heap and stacks {anon} MiB, the binary's pages {file} MiB); /findings {:.1} MB",
        rss as f64 * 1.048_576,
        rss_later as f64 * 1.048_576,
        findings_bytes as f64 / 1e6
    );
    println!(
        "one pod's label change → change report (20 changes, 20 ms debounce included): p50 {p50:.1?}, p99 {p99:.1?}"
    );
    if let Some(m) = &model {
        println!(
            "meanwhile a scripted model answering in {}s judged beside the loop: {} requests received; {}",
            std::env::var("ENGINE_BENCH_SLOW_MODEL").unwrap_or_default(),
            m.requests().len(),
            judge_metrics.join(", ")
        );
    }
    for (what, lat, before, after) in [
        (
            "rolling update of a 5-replica Deployment",
            rollout_lat,
            &paths_before,
            &paths_rollout,
        ),
        (
            "scale of a Deployment from 5 to 50",
            scale_lat,
            &paths_rollout,
            &paths_scale,
        ),
    ] {
        let n = lat.len();
        let (p50, p99) = percentiles(lat);
        let taken: Vec<String> = after
            .iter()
            .map(|(k, v)| (k, v - before.get(k).copied().unwrap_or(0)))
            .filter(|(_, v)| *v > 0)
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        println!(
            "{what}: {n} events through the watch → change report (20 ms debounce included): p50 {p50:.1?}, p99 {p99:.1?}; re-proofs {}",
            taken.join(", ")
        );
    }
}

/// Deployments with five pods: the Deployment, its ReplicaSet, the pods.
fn five_replica_deployments(all: &[Value]) -> Vec<(Value, Value, Vec<Value>)> {
    let mut out = Vec::new();
    for d in all.iter().filter(|i| i["kind"] == "Deployment") {
        let ns = &d["metadata"]["namespace"];
        let name = &d["metadata"]["name"];
        let Some(rs) = all.iter().find(|i| {
            i["kind"] == "ReplicaSet"
                && i["metadata"]["namespace"] == *ns
                && i["metadata"]["ownerReferences"][0]["name"] == *name
        }) else {
            continue;
        };
        let pods: Vec<Value> = all
            .iter()
            .filter(|i| {
                i["kind"] == "Pod"
                    && i["metadata"]["namespace"] == *ns
                    && i["metadata"]["ownerReferences"][0]["name"] == rs["metadata"]["name"]
            })
            .cloned()
            .collect();
        if pods.len() == 5 {
            out.push((d.clone(), rs.clone(), pods));
        }
        if out.len() == 2 {
            break;
        }
    }
    assert_eq!(out.len(), 2, "two Deployments with five pods");
    out
}

/// Re-proofs so far by path, from `/metrics`.
fn reproof_paths(addr: &str) -> std::collections::BTreeMap<String, u64> {
    get(addr, "/metrics")
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("rampart_reproofs_total{path=\"")?;
            let (path, n) = rest.split_once("\"} ")?;
            Some((path.to_string(), n.trim().parse().ok()?))
        })
        .collect()
}

/// Watch updates the engine found unchanged for its model, from `/metrics`.
fn unchanged_updates(addr: &str) -> u64 {
    get(addr, "/metrics")
        .lines()
        .find_map(|l| l.strip_prefix("rampart_unchanged_updates_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Writes events into the API server one at a time, each awaited to its change report (or
/// to the engine's word that its model reads nothing of it: not timed).
struct Events<'a> {
    fake: &'a rampart_testkit::Shared,
    addr: &'a str,
    lat: Vec<Duration>,
}

impl Events<'_> {
    async fn write(&mut self, collection: &str, kind: &'static str, obj: Value) {
        let before = generation(self.addr);
        let quiet = unchanged_updates(self.addr);
        if std::env::var_os("ENGINE_BENCH_TRACE").is_some() {
            eprintln!("{kind} {collection} {}", obj["metadata"]["name"]);
        }
        let t = Instant::now();
        self.fake
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write(collection, kind, obj);
        loop {
            if generation(self.addr) != before {
                self.lat.push(t.elapsed());
                if std::env::var_os("ENGINE_BENCH_TRACE").is_some() {
                    let st: Value =
                        serde_json::from_str(&get(self.addr, "/findings")).unwrap_or_default();
                    eprintln!("  {} {}", st["report"]["path"], st["report"]["why_full"]);
                }
                return;
            }
            if unchanged_updates(self.addr) != quiet {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// A rolling update (maxSurge 2, maxUnavailable 1 round to one pod at a time here): the
/// Deployment's new revision, a new ReplicaSet, then per pod a new one created and bound, the
/// ReplicaSets' counts, the old pod terminating and deleted.
async fn rollout(e: &mut Events<'_>, d: &Value, rs: &Value, pods: &[Value], nodes: &[String]) {
    let mut d = d.clone();
    d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = Value::from("4");
    d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] =
        Value::from("2026-12-05T10:00:00Z");
    e.write("deployments", "MODIFIED", d.clone()).await;
    let app = d["metadata"]["name"].as_str().unwrap_or("app").to_string();
    let mut new_rs = rs.clone();
    let new_name = format!("{app}-7c9f8d6b5a");
    new_rs["metadata"]["name"] = Value::from(new_name.clone());
    new_rs["metadata"]["labels"]["pod-template-hash"] = Value::from("7c9f8d6b5a");
    new_rs["spec"]["replicas"] = Value::from(0);
    e.write("replicasets", "ADDED", new_rs.clone()).await;
    let mut old_rs = rs.clone();
    for (i, old) in pods.iter().enumerate() {
        new_rs["spec"]["replicas"] = Value::from(i + 1);
        e.write("replicasets", "MODIFIED", new_rs.clone()).await;
        let mut p = old.clone();
        p["metadata"]["name"] = Value::from(format!("{new_name}-{i}x"));
        p["metadata"]["labels"]["pod-template-hash"] = Value::from("7c9f8d6b5a");
        p["metadata"]["ownerReferences"][0]["name"] = Value::from(new_name.clone());
        p["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] =
            Value::from("2026-12-05T10:00:00Z");
        p["spec"]["nodeName"] = Value::Null;
        e.write("pods", "ADDED", p.clone()).await;
        p["spec"]["nodeName"] = Value::from(nodes[(i * 7) % nodes.len()].clone());
        e.write("pods", "MODIFIED", p).await;
        old_rs["spec"]["replicas"] = Value::from(4 - i);
        e.write("replicasets", "MODIFIED", old_rs.clone()).await;
        let mut gone = old.clone();
        gone["metadata"]["deletionTimestamp"] = Value::from("2026-12-05T10:00:00Z");
        e.write("pods", "MODIFIED", gone.clone()).await;
        e.write("pods", "DELETED", gone).await;
    }
}

/// A scale from 5 to 50 replicas: the Deployment's and ReplicaSet's counts, then 45 pods
/// created and bound.
async fn scale(e: &mut Events<'_>, d: &Value, rs: &Value, pod: &Value, nodes: &[String]) {
    for (collection, obj) in [("deployments", d), ("replicasets", rs)] {
        let mut o = obj.clone();
        o["spec"]["replicas"] = Value::from(50);
        e.write(collection, "MODIFIED", o).await;
    }
    let rs_name = rs["metadata"]["name"].as_str().unwrap_or("rs").to_string();
    for i in 0..45 {
        let mut p = pod.clone();
        p["metadata"]["name"] = Value::from(format!("{rs_name}-up{i}"));
        p["spec"]["nodeName"] = Value::Null;
        e.write("pods", "ADDED", p.clone()).await;
        p["spec"]["nodeName"] = Value::from(nodes[(i * 13) % nodes.len()].clone());
        e.write("pods", "MODIFIED", p).await;
    }
}
