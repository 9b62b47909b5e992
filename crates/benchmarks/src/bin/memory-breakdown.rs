//! Where the engine's memory goes: `MIMALLOC_PURGE_DELAY=0 MIMALLOC_ARENA_EAGER_COMMIT=0 cargo
//! run --release -p rampart-benchmarks --bin memory-breakdown [PODS] [sparse|dense]` — resident
//! memory (the engine's allocator, with the settings `rampart engine` runs with, so that freed
//! memory leaves the process at once) after each thing the engine holds is built: its snapshot,
//! the analysis, the findings. Each figure is the process's RSS, so a stage's size is the
//! difference to the line before.

use rampart_graph::Options;
use std::sync::Arc;

use rampart_graph::netpol::NetModel;
use rampart_model::{Change, Snapshot, Workloads};
use rampart_report::{InputSummary, ScanReport};
use rampart_respond::engine::EngineCore;
use rampart_synth::{Config, Shape, snapshot};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Resident memory in MiB.
fn rss() -> u64 {
    rampart_benchmarks::status_mib("self", "VmRSS:")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pods: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let shape = args
        .next()
        .and_then(|s| Shape::parse(&s))
        .unwrap_or(Shape::Sparse);
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        eprintln!("note: without MIMALLOC_PURGE_DELAY=0 freed memory stays resident a while");
    }
    let generated = snapshot(&Config::with_pods(pods).shaped(shape));
    let mut core = EngineCore::shadow(Options::default());
    for o in generated.iter() {
        core.apply(Change::Upsert(Box::new(o.clone())));
    }
    drop(generated);
    let base = rss();
    println!("{pods} pods ({shape:?}): the engine's snapshot {base} MiB (process total)");
    std::hint::black_box(core.reprove(0));
    drop(core.take_retired());
    let analysed = rss();
    println!(
        "+ the analysis (workloads, network model, graph, chains, cut): {analysed} MiB (+{})",
        analysed.saturating_sub(base)
    );
    let Some(a) = core.analysis() else { return };
    let report = ScanReport::new(a, InputSummary::default());
    let reported = rss();
    println!(
        "+ the findings as a report: {reported} MiB (+{})",
        reported.saturating_sub(analysed)
    );
    let json = serde_json::to_vec(&report).unwrap_or_default();
    let serialized = rss();
    println!(
        "+ the findings serialized ({:.1} MB): {serialized} MiB (+{})",
        json.len() as f64 / 1e6,
        serialized.saturating_sub(reported)
    );
    drop((json, report));
    // The same analysis again, alone, to free it part by part.
    let snapshot = core.snapshot().clone();
    drop(core);
    let empty = rampart_graph::analyze(&Snapshot::new(), &Options::default());
    let mut analysis = rampart_graph::analyze(&snapshot, &Options::default());
    rampart_graph::diff::diff_indexing(&empty, &mut analysis);
    drop(empty);
    parts(analysis);
}

/// The analysis's parts, each freed in turn: what each held is the RSS it gave back.
fn parts(mut a: rampart_graph::Analysis) {
    let mut last = rss();
    println!("the analysis by part (freed in turn; {last} MiB before):");
    let mut freed = |what: &str| {
        let now = rss();
        println!("- {what}: {} MiB", last.saturating_sub(now));
        last = now;
    };
    a.graph.relations = None;
    freed("the relation index (threat diff)");
    a.plan.state = None;
    freed("the cut's state (flow, verified network model, facts)");
    a.plan = Default::default();
    freed("the cut plan (cuts, breaks, fixes, cheapest per chain)");
    a.proof = Default::default();
    freed("the proof (chains, search)");
    let g = std::mem::take(&mut a.graph.graph);
    drop(g);
    freed("the graph's vertices and edges");
    a.graph.net = Arc::new(NetModel::build(&Snapshot::new(), &Workloads::default()));
    freed("the network model");
    a.graph.workloads = Default::default();
    freed("the workloads");
    drop(a);
    freed("the rest (endpoints, identities, indexes, grants)");
}
