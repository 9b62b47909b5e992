//! The real Hubble capture of Istio's bookinfo on GKE (`tests/corpora/flows/hubble`, 838
//! records in 9 files, 2021 schema): every record is read, the plan keeps every observed flow
//! (the property), and its report — connections, what else stays allowed and why, what closes
//! — was checked by hand once and is pinned in `tests/golden/bookinfo.txt`.
//!
//! Regenerate after a deliberate change with
//! `RAMPART_UPDATE_GOLDEN=1 cargo test -p rampart-netpol --test hubble_bookinfo` and review the diff.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use rampart_model::Snapshot;
use rampart_netpol::{Collector, ReadTally, Settings, infer, plan, read_flows};

fn capture() -> (Collector, ReadTally) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpora/flows/hubble/hubble-otel-gke-bookinfo-2021");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 9);
    let mut collected = Collector::default();
    let mut tally = ReadTally::default();
    for f in files {
        let text = std::fs::read(&f).unwrap();
        let (_, t) = read_flows("capture", &text[..], None, |flow| collected.add(flow)).unwrap();
        tally.merge(t);
    }
    (collected, tally)
}

#[test]
fn every_record_reads_and_the_plan_keeps_every_observed_flow() {
    let (collected, tally) = capture();
    assert_eq!((tally.records, tally.flows, tally.malformed), (838, 838, 0));
    // ICMP cannot be named by NetworkPolicy: counted, not turned into rules.
    assert_eq!(collected.tally.not_l4, 18);
    let mut cluster = Snapshot::new();
    infer::complete(&mut cluster, &collected);
    let plan = plan(&cluster, &collected, &Settings::default(), false);
    let v = &plan.verification;
    assert!(v.keeps_every_flow(), "{:?}", v.broken);
    assert_eq!(v.kept, v.observed);
    assert_eq!(plan.connections.len(), 25);
    // bookinfo's own calls are among them.
    for want in [
        "bookinfo/productpage-v1[Deployment] -> bookinfo/details-v1[Deployment] TCP 9080",
        "bookinfo/reviews-v2[Deployment] -> bookinfo/ratings-v1[Deployment] TCP 9080",
        "bookinfo/reviews-v3[Deployment] -> bookinfo/ratings-v1[Deployment] TCP 9080",
    ] {
        assert!(
            plan.connections
                .iter()
                .any(|c| format!("{} -> {} {}", c.from, c.to, c.port) == want),
            "{want}"
        );
    }
    // reviews-v1 never calls ratings: nothing lets it.
    assert!(
        !plan
            .report()
            .contains("also allowed bookinfo/reviews-v1[Deployment] -> bookinfo/ratings-v1")
    );

    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/bookinfo.txt");
    let report = plan.report();
    if std::env::var_os("RAMPART_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &report).unwrap();
    }
    let pinned = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (generate it with RAMPART_UPDATE_GOLDEN=1)",
            golden.display()
        )
    });
    assert_eq!(report, pinned);
}
