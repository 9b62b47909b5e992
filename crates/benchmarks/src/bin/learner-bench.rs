//! The learner's work per sync and per learning, on the detection harness's benign traffic
//! split across gates (replicas of one service): each gate's pile is encoded as its sync
//! message, the learner decodes it (parse, bounds, normalization), merges it into the
//! service's pile, and learns criteria from the merged pile.
//!
//!   cargo run --release -p rampart-benchmarks --bin learner-bench [REQUESTS] [GATES]
//!
//! Defaults: 20,000 requests over 4 gates. Prints the message size, the time to decode and to
//! merge one sync, the time to learn, and that a re-sent sync adds nothing.

use std::time::{Duration, Instant};

use rampart_api::GuardControl;
use rampart_guard::learner::{Hub, Identity};
use rampart_guard::sync::{MAX_BYTES, SyncMessage, decode};
use rampart_guard::{har, learn, replay};
use rampart_guard_demo::har::document;
use rampart_guard_demo::rng::Rng;
use rampart_guard_demo::traffic::{benign, clients};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let gates: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(4).max(1);
    let cs = clients(&mut Rng::new(7), 400);
    let reqs = benign(11, n, &cs);
    let doc = serde_json::to_vec(&document(&reqs, "shop.example")).unwrap_or_default();
    let records = har::read(&doc, 1 << 20).unwrap_or_default();
    let per = records.len().div_ceil(gates);
    let started = Instant::now();
    let piles: Vec<_> = records
        .chunks(per)
        .enumerate()
        .map(|(g, chunk)| replay::pile(chunk, &format!("gate-{g}")))
        .collect();
    let piling = started.elapsed();
    let messages: Vec<Vec<u8>> = piles
        .iter()
        .map(|p| SyncMessage::new("shop", p.clone(), learn::samples(p)).encode())
        .collect();
    println!(
        "{} requests over {} gates: piled in {:.0} ms ({:.1} µs per request); sync messages {:.0}–{:.0} KiB",
        records.len(),
        piles.len(),
        ms(piling),
        ms(piling) * 1e3 / records.len().max(1) as f64,
        messages.iter().map(Vec::len).min().unwrap_or(0) as f64 / 1024.0,
        messages.iter().map(Vec::len).max().unwrap_or(0) as f64 / 1024.0,
    );
    let id = Identity {
        namespace: "bench".into(),
        service: "shop".into(),
        pod: "shop-0".into(),
        verified: true,
    };
    let mut hub = Hub::default();
    let (mut decode_t, mut merge_t) = (Duration::ZERO, Duration::ZERO);
    const ROUNDS: u32 = 5;
    for round in 0..ROUNDS {
        for m in &messages {
            let t = Instant::now();
            let Ok(msg) = decode(m, MAX_BYTES) else {
                eprintln!("learner-bench: a message did not decode");
                std::process::exit(1);
            };
            decode_t += t.elapsed();
            let t = Instant::now();
            let Ok(a) = hub.accept(&id, &msg, None, Duration::ZERO) else {
                eprintln!("learner-bench: a message was refused");
                std::process::exit(1);
            };
            merge_t += t.elapsed();
            if round > 0 && a.fresh != 0 {
                eprintln!("learner-bench: a re-sent pile added {} samples", a.fresh);
                std::process::exit(1);
            }
        }
    }
    let syncs = (ROUNDS as usize * messages.len()) as f64;
    println!(
        "one sync: decode {:.2} ms, merge {:.2} ms (mean of {syncs}); re-sent piles added 0 samples",
        ms(decode_t) / syncs,
        ms(merge_t) / syncs
    );
    let key = ("bench".to_string(), "shop".to_string());
    let t = Instant::now();
    let rounds = 5;
    let mut routes = 0;
    for _ in 0..rounds {
        routes = hub
            .learn(&key, &GuardControl::default(), Duration::ZERO, "now".into())
            .map_or(0, |c| c.routes.len());
    }
    let (_, samples) = hub.size();
    println!(
        "learn: {:.1} ms for {routes} routes from the merged pile ({samples} samples estimated)",
        ms(t.elapsed()) / f64::from(rounds)
    );
}
