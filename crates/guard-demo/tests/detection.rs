//! The detection harness as a test: learn on the demo API's seeded benign traffic, then judge
//! held-out benign traffic and every OWASP CRS regression payload (tests/corpora/crs-regression)
//! in every string-typed location of the demo API, with `rampart guard replay`'s code.
//! Targets (issue 17): ≥ 95 % of attack requests detected, ≤ 0.1 % false positives.

use std::path::PathBuf;

use rampart_api::GuardControl;
use rampart_guard_demo::harness::{Plan, render, run, traffic};

#[test]
fn crs_attacks_are_detected_and_benign_traffic_passes() {
    let corpus =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora/crs-regression");
    let t = traffic(&corpus, Plan::default()).expect("the corpus loads");
    assert!(
        t.attacks.len() > 50_000,
        "every payload in every location: {}",
        t.attacks.len()
    );
    let rep = run(&t, &GuardControl::default()).expect("replay");
    let table = render(&rep);
    println!("{table}");
    for f in &rep.false_positives {
        println!("FP {f}");
    }
    assert_eq!(rep.routes, 6, "{table}");
    assert!(
        rep.benign.total == 20_000 && rep.benign.rate() <= 0.001,
        "false positives: {table}"
    );
    assert!(rep.attacks.rate() >= 0.95, "detection: {table}");
    for (family, c) in &rep.by_family {
        assert!(c.rate() >= 0.85, "family {family}: {table}");
    }
}

#[test]
fn without_support_thresholds_one_poisoned_request_would_be_learned() {
    // The same harness with the learned-forever union of the original (support 1 session,
    // 1 client) and one attack per location slipped into the learning traffic: detection
    // drops, which is what the support thresholds prevent.
    let corpus =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora/crs-regression");
    let plan = Plan {
        learn: 4_000,
        holdout: 2_000,
        ..Plan::default()
    };
    let mut t = traffic(&corpus, plan).expect("the corpus loads");
    let poison: Vec<_> = t
        .attacks
        .iter()
        .step_by(t.attacks.len() / 60)
        .cloned()
        .collect();
    t.learn.extend(poison);
    let strict = run(&t, &GuardControl::default()).expect("replay");
    let naive = run(
        &t,
        &GuardControl {
            min_sessions: 1,
            min_clients: 1,
            ..GuardControl::default()
        },
    )
    .expect("replay");
    assert!(
        naive.attacks.rate() + 0.02 < strict.attacks.rate(),
        "support thresholds: {:.3} vs union learning {:.3}",
        strict.attacks.rate(),
        naive.attacks.rate()
    );
}
