//! Where the engine's memory goes: `MIMALLOC_PURGE_DELAY=0 MIMALLOC_ARENA_EAGER_COMMIT=0 cargo
//! run --release -p rampart-benchmarks --bin memory-breakdown [PODS] [sparse|dense]` — resident
//! memory (the engine's allocator, with the settings `rampart engine` runs with, so that freed
//! memory leaves the process at once) after each thing the engine holds is built: its snapshot,
//! the analysis, the findings. Each figure is the process's RSS, so a stage's size is the
//! difference to the line before.

use rampart_graph::Options;
use rampart_model::Change;
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
}
