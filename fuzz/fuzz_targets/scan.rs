//! The whole offline pipeline on arbitrary manifests: parse, build the graph, prove chains and
//! compute the cut. Selectors, ports, CIDRs, RBAC rules and owner references are all
//! attacker-controlled in a dump; none of them may panic the analysis.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_graph::{Options, analyze};
use rampart_model::{ParseLimits, Snapshot, parse_source};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = ParseLimits {
        max_bytes: 1 << 18,
        max_documents: 32,
        max_list_items: 64,
    };
    let parsed = parse_source("input.yaml", text, &limits);
    let snapshot = Snapshot::from_objects(parsed.objects);
    let analysis = analyze(&snapshot, &Options::default());
    for c in &analysis.proof.chains {
        assert!(!c.edges.is_empty());
    }
});
