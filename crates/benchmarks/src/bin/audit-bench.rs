//! `cargo run --release -p rampart-benchmarks --bin audit-bench -- [PODS...]`
//!
//! `rampart audit` in-process on synthetic dense dumps (default 10,000 pods): the dump parsed
//! into objects, every framework audited, the report built; then the engine's live path, one
//! changed object re-audited with every object-level check (p50/p99 over the cluster's
//! workloads). Wall times are medians of 5 runs; memory is measured by `scripts/bench-audit.sh`
//! on the CLI.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_audit::run::{Options, audit_object};
use rampart_audit::{Inventory, Object, audit};
use rampart_model::{ParseLimits, raw_documents};
use rampart_synth::{Config, Shape, dump_json};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn objects(text: &str) -> Vec<Object> {
    let limits = ParseLimits {
        max_bytes: usize::MAX,
        ..ParseLimits::default()
    };
    let (docs, errors) = raw_documents("dump.json", text, &limits);
    assert!(errors.is_empty(), "{errors:?}");
    let file: Arc<str> = Arc::from("dump.json");
    docs.into_iter()
        .filter_map(|d| Object::new(d.value, Some(file.clone()), d.source.line))
        .collect()
}

fn main() {
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![10_000];
    }
    println!(
        "{:>7} {:>8} {:>10} {:>10} {:>10} {:>9} {:>14} {:>14}",
        "pods", "objects", "parse", "audit", "total", "findings", "re-audit p50", "re-audit p99"
    );
    for pods in sizes {
        let text = dump_json(&Config::with_pods(pods).shaped(Shape::Dense));
        let options = Options::default();
        let (mut parse, mut run) = (Vec::new(), Vec::new());
        let mut findings = 0;
        let mut inventory = Inventory::default();
        for _ in 0..5 {
            let t = Instant::now();
            let objs = objects(&text);
            parse.push(t.elapsed());
            let inv = Inventory::new(objs);
            let t = Instant::now();
            let a = audit(&inv, &options);
            run.push(t.elapsed());
            findings = a.findings.len();
            inventory = inv;
        }
        // The live path: each workload (not owned by a controller) re-audited on its own.
        let mut one = Vec::new();
        for o in inventory
            .objects()
            .iter()
            .filter(|o| o.pod().is_some() && !o.controlled())
        {
            let t = Instant::now();
            let f = audit_object(o, &options);
            one.push(t.elapsed());
            std::hint::black_box(f);
        }
        one.sort();
        let p = |q: f64| one[((one.len() as f64 * q) as usize).min(one.len() - 1)];
        let (parse, run) = (median(parse), median(run));
        println!(
            "{:>7} {:>8} {:>10.1?} {:>10.1?} {:>10.1?} {:>9} {:>14.1?} {:>14.1?}",
            pods,
            inventory.objects().len(),
            parse,
            run,
            parse + run,
            findings,
            p(0.5),
            p(0.99)
        );
    }
}
