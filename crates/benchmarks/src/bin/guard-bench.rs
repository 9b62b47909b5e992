//! The request guard in-process: how long judging one request takes (extraction, profiles,
//! criteria, structural detectors), on the detection harness's held-out benign traffic
//! ("typical requests") and on its attack requests.
//!
//!   cargo run --release -p rampart-benchmarks --bin guard-bench [CORPUS]
//!
//! CORPUS defaults to tests/corpora/crs-regression. Prints p50/p90/p99/max per request in µs
//! over 5 rounds of every request, the same of each request's fastest round (the work's own
//! spread, without what the machine took from single rounds), and learning time.

use std::path::PathBuf;
use std::time::Instant;

use rampart_guard::exchange::extract;
use rampart_guard::{Judge, har, replay};
use rampart_guard_demo::har::document;
use rampart_guard_demo::harness::{Plan, traffic};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rounds over every request.
const ROUNDS: usize = 5;

fn records(reqs: &[rampart_guard_demo::har::Req]) -> Vec<har::Recorded> {
    let doc = serde_json::to_vec(&document(reqs, "shop.example")).unwrap_or_default();
    har::read(&doc, 1 << 20).unwrap_or_default()
}

fn percentiles(label: &str, mut ns: Vec<u64>) {
    ns.sort_unstable();
    let at = |q: f64| {
        ns.get(((ns.len() - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!(
        "{label:<34} n={:>7}  p50 {:>6.2} µs  p90 {:>6.2} µs  p99 {:>6.2} µs  max {:>8.2} µs",
        ns.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

fn main() {
    let corpus = std::env::args().nth(1).map_or_else(
        || PathBuf::from("tests/corpora/crs-regression"),
        PathBuf::from,
    );
    let t = match traffic(&corpus, Plan::default()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("guard-bench: {e:#}");
            std::process::exit(2);
        }
    };
    let learn = records(&t.learn);
    let started = Instant::now();
    let (criteria, learned) = replay::learn(&learn, &rampart_api::GuardControl::default());
    println!(
        "learned {} routes from {} requests in {:.0} ms ({:.2} µs per request, pile + criteria)",
        learned.routes,
        learn.len(),
        started.elapsed().as_secs_f64() * 1000.0,
        started.elapsed().as_secs_f64() * 1e6 / learn.len() as f64
    );
    let judge = Judge::new(Some(&criteria), None);
    // The parts of one request's cost, over every string value of the held-out traffic.
    let holdout = records(&t.holdout);
    let values: Vec<String> = holdout
        .iter()
        .flat_map(|r| extract(&r.exchange).values.into_iter().map(|v| v.text))
        .collect();
    let bytes: usize = values.iter().map(String::len).sum();
    for (label, f) in [
        (
            "  profile, per value",
            (|v: &str| {
                std::hint::black_box(rampart_guard::profile::Profile::of(v));
            }) as fn(&str),
        ),
        ("  structural detectors, per value", |v: &str| {
            std::hint::black_box(rampart_guard::detect::detect(v));
        }),
    ] {
        let mut ns = Vec::with_capacity(values.len());
        let started = Instant::now();
        for v in &values {
            let s = Instant::now();
            f(v);
            ns.push(s.elapsed().as_nanos() as u64);
        }
        let total = started.elapsed().as_nanos() as f64;
        percentiles(label, ns);
        println!(
            "{:<34} {:.2} ns per byte ({} values, {} bytes)",
            "",
            total / bytes as f64,
            values.len(),
            bytes
        );
    }
    let started = Instant::now();
    let mut n = 0;
    for r in &holdout {
        n += extract(&r.exchange).values.len();
    }
    println!(
        "  extraction: {:.2} µs per request ({n} values)",
        started.elapsed().as_secs_f64() * 1e6 / holdout.len() as f64
    );
    for (label, set) in [
        ("typical (held-out benign) request", records(&t.holdout)),
        ("attack request", records(&t.attacks)),
    ] {
        let mut ns = Vec::with_capacity(set.len() * ROUNDS);
        let mut flagged = 0usize;
        for _ in 0..ROUNDS {
            for r in &set {
                let start = Instant::now();
                let x = extract(&r.exchange);
                let v = judge.request(&x, r.client);
                ns.push(start.elapsed().as_nanos() as u64);
                flagged += usize::from(!v.passed());
            }
        }
        // Each request's fastest round: the spread of the work itself, without the moments
        // the machine took from one round (on a VM: the host's stalls, its timer ticks).
        let fastest: Vec<u64> = (0..set.len())
            .map(|i| {
                (0..ROUNDS)
                    .map(|round| ns[round * set.len() + i])
                    .min()
                    .unwrap_or(0)
            })
            .collect();
        percentiles(label, ns);
        percentiles("  each request's fastest round", fastest);
        println!(
            "{:<34} flagged {:.2} %",
            "",
            flagged as f64 * 100.0 / (set.len() * ROUNDS) as f64
        );
    }
}
