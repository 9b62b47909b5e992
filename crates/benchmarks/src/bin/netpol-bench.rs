//! NetworkPolicies from observed flows, at scale:
//! `cargo run --release -p rampart-benchmarks --bin netpol-bench [PODS] [FLOWS] [--write DIR]`
//! (defaults 10,000 pods and 1,000,000 flows).
//!
//! 1. Generates the synthetic cluster (`rampart-synth`, sparse shape) and a Hubble capture of
//!    it: each workload calls two to four others on a port they declare (requests with their
//!    replies, ephemeral client ports), DNS to the cluster resolver, some calls to the
//!    internet, a few from it; `--write DIR` writes both (`cluster-PODS.json`,
//!    `flows-PODS-FLOWS.jsonl`) so the CLI can be timed on them
//!    (`/usr/bin/time -v rampart netpol suggest --flows … --timings`).
//! 2. Ingest: the capture's lines parsed and collected in-process, flows/s (median of 3).
//! 3. Suggestion + verification (`rampart_netpol::plan`, chains not proved), median of 3; and
//!    once more with the attack chains proved before and after each step.

use std::io::Write;
use std::time::Instant;

use rampart_model::Workloads;
use rampart_netpol::{Collector, Settings, plan, read_flows};
use rampart_synth::{Config, dump_json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone)]
struct Pod {
    ns: String,
    name: String,
    ip: String,
    labels: Vec<String>,
    port: u16,
}

fn capture(snapshot: &rampart_model::Snapshot, flows: usize) -> Vec<u8> {
    let workloads = Workloads::build(snapshot);
    // One representative pod list per workload.
    let mut by_workload: Vec<Vec<Pod>> = vec![Vec::new(); workloads.list.len()];
    for (_, p) in snapshot.pods() {
        let Some(w) = workloads.owner_of(snapshot, p) else {
            continue;
        };
        let port = p
            .spec
            .containers
            .iter()
            .flat_map(|c| &c.ports)
            .map(|c| c.container_port)
            .next()
            .and_then(|n| u16::try_from(n).ok())
            .unwrap_or(8080);
        by_workload[w.index()].push(Pod {
            ns: p.metadata.namespace.clone(),
            name: p.metadata.name.clone(),
            ip: p.status.pod_ip.clone(),
            labels: p
                .metadata
                .labels
                .iter()
                .map(|(k, v)| format!("k8s:{k}={v}"))
                .collect(),
            port,
        });
    }
    let live: Vec<usize> = (0..by_workload.len())
        .filter(|i| !by_workload[*i].is_empty())
        .collect();
    let mut rng = rampart_synth::Rng::new(42);
    // Each workload's callees: 2–4 others, mostly in its namespace.
    let callees: Vec<Vec<usize>> = live
        .iter()
        .map(|_| {
            (0..2 + rng.below(3))
                .map(|_| live[rng.below(live.len())])
                .collect()
        })
        .collect();
    let endpoint = |p: &Pod| {
        format!(
            r#"{{"namespace":"{}","pod_name":"{}","labels":[{}]}}"#,
            p.ns,
            p.name,
            p.labels
                .iter()
                .map(|l| format!("\"{l}\""))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let world = r#"{"labels":["reserved:world"]}"#;
    let mut out = Vec::with_capacity(flows * 420);
    let mut n = 0;
    while n < flows {
        let i = rng.below(live.len());
        let from = &by_workload[live[i]];
        let a = &from[rng.below(from.len())];
        let sport = 32768 + rng.below(28000) as u16;
        let roll = rng.below(100);
        let (dst_ip, dst, port, proto) = if roll < 8 {
            ("10.96.0.53".to_string(), r#"{"namespace":"kube-system","pod_name":"coredns-5d78c9869d-w1e2r","labels":["k8s:k8s-app=kube-dns"]}"#.to_string(), 53, "UDP")
        } else if roll < 10 {
            (
                format!("203.0.113.{}", rng.below(8)),
                world.to_string(),
                443,
                "TCP",
            )
        } else {
            let to = &by_workload[callees[i][rng.below(callees[i].len())]];
            let b = &to[rng.below(to.len())];
            (b.ip.clone(), endpoint(b), b.port, "TCP")
        };
        let src = endpoint(a);
        // The request, then its reply.
        for reply in [false, true] {
            let (s_ip, s, d_ip, d, sp, dp) = if reply {
                (&dst_ip, &dst, &a.ip, &src, port, sport)
            } else {
                (&a.ip, &src, &dst_ip, &dst, sport, port)
            };
            writeln!(
                out,
                r#"{{"flow":{{"time":"2026-12-01T10:00:00Z","verdict":"FORWARDED","IP":{{"source":"{s_ip}","destination":"{d_ip}","ipVersion":"IPv4"}},"l4":{{"{proto}":{{"source_port":{sp},"destination_port":{dp}}}}},"source":{s},"destination":{d},"Type":"L3_L4","is_reply":{reply},"traffic_direction":"EGRESS"}},"node_name":"n","time":"2026-12-01T10:00:00Z"}}"#
            )
            .expect("writing to memory");
            n += 1;
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let write = args.iter().position(|a| a == "--write").map(|i| {
        let dir = args.get(i + 1).cloned().unwrap_or_else(|| ".".into());
        args.drain(i..(i + 2).min(args.len()));
        dir
    });
    let pods: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let flows: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let cfg = Config::with_pods(pods);
    let dump = dump_json(&cfg);
    let snapshot = rampart_synth::snapshot(&cfg);
    let t = Instant::now();
    let lines = capture(&snapshot, flows);
    eprintln!(
        "generated {flows} flows ({:.0} MB) in {:.1}s",
        lines.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    if let Some(dir) = write {
        std::fs::create_dir_all(&dir).expect("creating the output directory");
        std::fs::write(format!("{dir}/cluster-{pods}.json"), &dump).expect("writing the cluster");
        std::fs::write(format!("{dir}/flows-{pods}-{flows}.jsonl"), &lines)
            .expect("writing the flows");
        eprintln!("wrote {dir}/cluster-{pods}.json and {dir}/flows-{pods}-{flows}.jsonl");
    }
    drop(dump);

    let mut ingest = Vec::new();
    let mut collected = Collector::default();
    for _ in 0..3 {
        let mut c = Collector::default();
        let t = Instant::now();
        let (_, tally) =
            read_flows("bench", &lines[..], None, |f| c.add(f)).expect("reading from memory");
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(tally.flows as usize, flows);
        ingest.push(tally.flows as f64 / secs);
        collected = c;
    }
    println!(
        "ingest: {:.0} flows/s (median of 3; {} distinct records, {} endpoints)",
        median(ingest),
        collected.record_count(),
        collected.endpoints().len()
    );
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let t = Instant::now();
        let p = plan(&snapshot, &collected, &Settings::default(), false);
        times.push(t.elapsed().as_secs_f64());
        last = Some(p);
    }
    let p = last.expect("three runs");
    println!(
        "suggest + verify: {:.2}s (median of 3): {} connections, {} policies in {} steps, {}/{} observed kept, {} allowed unobserved, {} workload pairs closed",
        median(times),
        p.observed.connections,
        p.policies.len(),
        p.steps.len(),
        p.verification.kept,
        p.verification.observed,
        p.verification.unobserved_count,
        p.verification.closed_pairs
    );
    assert!(p.verification.keeps_every_flow());
    let t = Instant::now();
    let p = plan(&snapshot, &collected, &Settings::default(), true);
    println!(
        "with chains proved per step: {:.2}s ({} chains before, {} after)",
        t.elapsed().as_secs_f64(),
        p.chains.as_ref().map_or(0, |c| c.before),
        p.chains.as_ref().map_or(0, |c| c.after)
    );
    // The rollout's worst round: the most drops the ingest keeps between two rounds, blamed on
    // every policy of the plan applied (what the engine does: index the model, read the
    // policies once, blame each drop).
    let mut drops = Vec::new();
    let text = String::from_utf8_lossy(&lines);
    for line in text.lines().step_by(2).take(1000) {
        let dropped = line.replace("FORWARDED", "DROPPED").replace(
            "\"EGRESS\"",
            "\"INGRESS\",\"drop_reason_desc\":\"POLICY_DENIED\"",
        );
        if let Ok(Some(f)) = rampart_netpol::hubble::parse_line(dropped.as_bytes()) {
            drops.push(f);
        }
    }
    let mut times = Vec::new();
    let mut blamed = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let workloads = Workloads::build(&snapshot);
        let cluster = rampart_netpol::Cluster::new(&snapshot, &workloads);
        let manifests: Vec<&serde_json::Value> = p.policies.iter().collect();
        let policies = rampart_netpol::drops::Policies::new(&manifests);
        blamed = drops
            .iter()
            .filter(|f| !policies.blame(&cluster, f).is_empty())
            .count();
        times.push(t.elapsed().as_secs_f64());
    }
    println!(
        "a rollout round with {} policy drops against {} applied policies: {:.3}s (median of 3; {blamed} blamed)",
        drops.len(),
        p.policies.len(),
        median(times)
    );
}
