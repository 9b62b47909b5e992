//! `cargo run --release -p rampart-benchmarks --bin scan-bench -- [PODS...]`
//!
//! For each size: generates the synthetic dump, then times (median of 5 runs) parsing the dump
//! into a snapshot, building the security graph, proving chains and computing the minimal cut.
//! With `--write DIR` it also writes `DIR/cluster-<pods>.json` for the end-to-end CLI benchmark
//! (`scripts/bench-scan.sh`).

use std::time::{Duration, Instant};

use rampart_graph::{Options, analyze};
use rampart_model::{ParseLimits, Snapshot, parse_source};
use rampart_synth::{Config, dump_json};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut sizes: Vec<usize> = Vec::new();
    let mut write: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--write" {
            write = args.next();
        } else if let Ok(n) = a.parse() {
            sizes.push(n);
        } else {
            eprintln!("usage: scan-bench [--write DIR] [PODS...]");
            std::process::exit(2);
        }
    }
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000, 50_000];
    }
    println!(
        "{:>7} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "pods", "dump MB", "parse", "graph", "prove", "cut", "analysis", "chains", "cuts"
    );
    for pods in sizes {
        let cfg = Config::with_pods(pods);
        let text = dump_json(&cfg);
        if let Some(dir) = &write {
            let path = format!("{dir}/cluster-{pods}.json");
            if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, &text))
            {
                eprintln!("cannot write {path}: {e}");
                std::process::exit(2);
            }
        }
        let runs = if pods > 20_000 { 3 } else { 5 };
        let (mut parse, mut graph, mut prove, mut cut, mut total) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut last = (0, 0);
        if std::env::var_os("RAMPART_BENCH_DETAIL").is_some() {
            let parsed = parse_source("synthetic.json", &text, &ParseLimits::default());
            let snapshot = Snapshot::from_objects(parsed.objects);
            let t = Instant::now();
            let w = rampart_model::Workloads::build(&snapshot);
            let tw = t.elapsed();
            let t = Instant::now();
            let n = rampart_graph::netpol::NetModel::build(&snapshot, &w);
            let tn = t.elapsed();
            let t = Instant::now();
            let _r = rampart_graph::rbac::Rbac::build(&snapshot);
            let tr = t.elapsed();
            eprintln!(
                "detail: workloads {tw:?}, netmodel {tn:?} ({} classes, {} atoms), rbac {tr:?}",
                n.classes.len(),
                n.atom_count()
            );
        }
        for _ in 0..runs {
            let t = Instant::now();
            let parsed = parse_source("synthetic.json", &text, &ParseLimits::default());
            let snapshot = Snapshot::from_objects(parsed.objects);
            parse.push(t.elapsed());
            let t = Instant::now();
            let mut g = rampart_graph::SecurityGraph::build(&snapshot);
            graph.push(t.elapsed());
            let t2 = Instant::now();
            let proof = rampart_graph::prove::prove(&g, &Default::default());
            prove.push(t2.elapsed());
            let t3 = Instant::now();
            let plan = rampart_graph::cut::min_cut(&snapshot, &mut g, &proof);
            cut.push(t3.elapsed());
            total.push(t.elapsed());
            last = (proof.chains.len(), plan.cuts.len());
            // Same entry point the CLI uses, to keep the two honest.
            let _ = analyze(&Snapshot::new(), &Options::default());
        }
        println!(
            "{:>7} {:>9.1} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?} {:>8} {:>8}",
            pods,
            text.len() as f64 / 1e6,
            median(parse),
            median(graph),
            median(prove),
            median(cut),
            median(total),
            last.0,
            last.1
        );
    }
}
