//! Engine benchmark: `cargo run --release -p rampart-benchmarks --bin engine-bench [PODS]
//! [sparse|dense]` (build `rampart` in release first: the engine runs as the real binary).
//!
//! Loads a synthetic cluster (rampart-synth) into the in-memory API server, starts
//! `rampart engine` against it and measures: time from start to first findings (lists +
//! model + first proof), the engine's resident memory once steady, and the latency from one
//! pod's label change to the change report (20 changes, debounce included).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rampart_benchmarks::percentiles;
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

/// Resident memory in MiB (`VmRSS` is in KiB).
fn rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
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
    {
        let mut f = fake.lock().unwrap_or_else(|e| e.into_inner());
        for item in items(&Config::with_pods(pods).shaped(shape)) {
            let kind = item["kind"].as_str().unwrap_or("").to_string();
            if let Some(r) = resource(&kind) {
                if kind == "Pod" && first_pod.is_none() {
                    first_pod = Some(item.clone());
                }
                f.write(r, "ADDED", item);
            }
        }
    }
    let url = start(fake.clone()).await;
    let dir = std::env::temp_dir().join(format!("rampart-engine-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("kubeconfig"), kubeconfig(&url)).expect("kubeconfig");
    let started = Instant::now();
    let mut child = Command::new("target/release/rampart")
        .args([
            "engine",
            "--dashboard-addr",
            "127.0.0.1:0",
            "--debounce",
            "20ms",
        ])
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
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let (p50, p99) = percentiles(lat);
    println!("engine on {pods} synthetic pods (in-memory API server, same machine)");
    println!(
        "start → first findings: {first:.2?}; RSS 2 s later {rss} MiB ({:.0} MB), 10 s later {rss_later} MiB ({:.0} MB); /findings {:.1} MB",
        rss as f64 * 1.048_576,
        rss_later as f64 * 1.048_576,
        findings_bytes as f64 / 1e6
    );
    println!(
        "one pod's label change → change report (20 changes, 20 ms debounce included): p50 {p50:.1?}, p99 {p99:.1?}"
    );
}
