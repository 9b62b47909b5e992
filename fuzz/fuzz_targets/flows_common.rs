//! What the three flow targets share: one capture format's bytes through the whole
//! `rampart netpol suggest` path.

use rampart_netpol::{Collector, Format, Settings, infer, plan, read_flows};

/// Reads `data` as `format`, then infers a cluster, attributes, suggests and verifies. Nothing
/// panics; the tally adds up; every observed connection the plan was built from is kept.
pub fn run(data: &[u8], format: Format) {
    let mut collected = Collector::new(10_000);
    let Ok((_, tally)) = read_flows("fuzz", data, Some(format), |f| collected.add(f)) else {
        return;
    };
    assert_eq!(tally.records, tally.flows + tally.not_flows + tally.malformed);
    assert!(tally.errors.len() <= 10);
    let mut cluster = rampart_model::Snapshot::new();
    infer::complete(&mut cluster, &collected);
    let plan = plan(&cluster, &collected, &Settings::default(), false);
    assert!(plan.verification.keeps_every_flow(), "{:?}", plan.verification.broken);
}
