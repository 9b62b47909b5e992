//! NetworkPolicy, AdminNetworkPolicy and BaselineAdminNetworkPolicy semantics against
//! np-guard's golden connectivity lists (104 upstream cases, 54 of them with admin policies,
//! `tests/corpora/np-guard`): every line of every case must match.

use std::path::PathBuf;

use rampart_files::{LoadOptions, load_paths};
use rampart_graph::connectivity::connectivity;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora/np-guard")
}

#[test]
fn every_np_guard_case_matches() {
    let root = corpus();
    let cases = std::fs::read_to_string(root.join("cases.tsv")).expect("cases.tsv");
    let mut checked = 0;
    let mut total_lines = 0;
    let mut failures = Vec::new();
    for line in cases.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 2 {
            continue;
        }
        let case = cols[0];
        let loaded = load_paths(&[root.join("cases").join(case)], &LoadOptions::default());
        let got: Vec<String> = connectivity(&loaded.snapshot)
            .iter()
            .map(ToString::to_string)
            .collect();
        let expected_text =
            std::fs::read_to_string(root.join("expected").join(format!("{case}.txt")))
                .expect("expected file");
        let expected: Vec<&str> = expected_text.lines().collect();
        checked += 1;
        total_lines += expected.len();
        if got != expected {
            let missing: Vec<&&str> = expected
                .iter()
                .filter(|l| !got.iter().any(|g| g == **l))
                .take(5)
                .collect();
            let extra: Vec<&String> = got
                .iter()
                .filter(|g| !expected.contains(&g.as_str()))
                .take(5)
                .collect();
            failures.push(format!(
                "{case}: expected {} lines, got {}; missing e.g. {missing:?}; unexpected e.g. {extra:?}; load errors: {:?}",
                expected.len(),
                got.len(),
                loaded.errors.iter().take(2).map(ToString::to_string).collect::<Vec<_>>()
            ));
        }
    }
    assert_eq!(checked, 104, "every case must be checked");
    eprintln!("np-guard: {checked} cases, {total_lines} expected lines compared");
    assert!(
        failures.is_empty(),
        "{} of {checked} cases disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
