//! Model adjudication's own cost, without the model: `cargo run --release -p
//! rampart-benchmarks --bin judge-bench [PODS]` (default 10,000).
//!
//! On the synthetic cluster's chains (each with a Log4Shell foothold and a runtime alert
//! attached, so the facts are as large as they get): per chain, the facts and their hash, the
//! prompt and the request body (what the task does before a request), parsing a typical answer
//! (after it), and a cache lookup; p50 / p99 over every chain. Then the whole queue of one
//! publish (every chain's facts and hash: what the task does on new chains, off the loop) and
//! the cache's hit rate over three rounds of the same chains.

use std::time::{Duration, Instant};

use rampart_benchmarks::percentiles;
use rampart_graph::{Options, analyze};
use rampart_judge::{Cache, CacheKey, Facts, Prompt, parse_reply, request_body};
use rampart_model::{ParseLimits, Snapshot, parse_source};
use rampart_report::ScanReport;
use rampart_signals::corroborate::Corroboration;
use rampart_signals::foothold::{Exploit, Foothold};
use rampart_synth::{Config, dump_json};

fn main() {
    let pods: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let text = dump_json(&Config::with_pods(pods));
    let parsed = parse_source("dump.json", &text, &ParseLimits::default());
    let snapshot = Snapshot::from_objects(parsed.objects);
    let analysis = analyze(&snapshot, &Options::default());
    let mut chains = ScanReport::new(&analysis, Default::default()).chains;
    for c in &mut chains {
        c.foothold = Some(Foothold {
            workload: c.entry.object.object.to_string(),
            exploits: vec![Exploit {
                cve: "CVE-2021-44228".into(),
                severity: rampart_signals::vulns::Severity::Critical,
                kev: true,
                epss: None,
                package: "org.apache.logging.log4j:log4j-core 2.14.1".into(),
                image: "ghcr.io/acme/shop-web:4.2.0".into(),
                container: "web".into(),
                why:
                    "known exploited (CISA KEV: Apache Log4j2 Remote Code Execution Vulnerability)"
                        .into(),
            }],
            known_exploited: true,
        });
        c.evidence = vec![Corroboration {
            behaviour: "shell",
            subject: "shop/web-7fc7749b56-abcde".into(),
            at: "Deployment/shop/web".into(),
            summary:
                "Terminal shell in container (user=root shell=bash parent=java cmdline=bash -i)"
                    .into(),
            candidates: vec![],
            first_seen: 0,
            last_seen: 0,
            count: 3,
        }];
    }
    let answer = serde_json::to_vec(&serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
            "content": "{\"verdict\":\"exploitable\",\"confidence\":0.86,\"reason\":\"log4j-core 2.14.1 at the internet-facing entry logs request headers; the JNDI lookup gives code execution, and the pod mounts the database secret\",\"steps\":[\"s0\",\"s1\"]}"}}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 60, "total_tokens": 960}
    }))
    .unwrap_or_default();
    let (mut before, mut after, mut lookup) = (Vec::new(), Vec::new(), Vec::new());
    let mut prompt_bytes = Vec::new();
    let mut cache = Cache::new(4096, 3600, 60);
    for c in &chains {
        let t = Instant::now();
        let facts = Facts::of(c);
        let hash = facts.hash();
        let body = request_body("m", &Prompt::new(&facts), true, 400);
        before.push(t.elapsed());
        prompt_bytes.push(body.len());
        let ids = facts.step_ids();
        let t = Instant::now();
        let j = parse_reply(&answer, &ids, "m").expect("the typical answer parses");
        after.push(t.elapsed());
        let key = CacheKey {
            chain: c.id.clone(),
            facts: hash,
        };
        cache.insert(key.clone(), j, 0);
        let t = Instant::now();
        let hit = cache.get(&key, 1).is_some();
        lookup.push(t.elapsed());
        assert!(hit);
    }
    let n = chains.len();
    let t = Instant::now();
    let hashes: Vec<u64> = chains.iter().map(|c| Facts::of(c).hash()).collect();
    let queue = t.elapsed();
    // Three publishes of the same chains: every lookup after the first answer hits.
    let mut hits = 0;
    for round in 0..3 {
        for (c, h) in chains.iter().zip(&hashes) {
            hits += usize::from(
                cache
                    .get(
                        &CacheKey {
                            chain: c.id.clone(),
                            facts: *h,
                        },
                        2 + round,
                    )
                    .is_some(),
            );
        }
    }
    let p = |v: Vec<Duration>| {
        let (a, b) = percentiles(v);
        format!("p50 {a:.1?}, p99 {b:.1?}")
    };
    prompt_bytes.sort_unstable();
    println!(
        "judge-bench: {pods} synthetic pods, {n} chains (each with a foothold and a runtime alert)"
    );
    println!(
        "  before a request (facts, hash, prompt, body): {}",
        p(before)
    );
    println!(
        "  after an answer (strict parse of a typical reply): {}",
        p(after)
    );
    println!("  cache lookup (hit): {}", p(lookup));
    println!(
        "  request body: median {} bytes, largest {} bytes",
        prompt_bytes.get(n / 2).copied().unwrap_or(0),
        prompt_bytes.last().copied().unwrap_or(0)
    );
    println!("  one publish's queue (facts and hash of all {n} chains, off the loop): {queue:.1?}");
    println!(
        "  cache over 3 more publishes of the same chains: {hits} hits of {} lookups ({:.0} %)",
        3 * n,
        100.0 * hits as f64 / (3 * n).max(1) as f64
    );
}
