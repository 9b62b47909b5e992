//! Flow captures as `rampart netpol suggest` reads them, read as GadgetAdvisor whatever the bytes:
//! bounded lines, every record a flow or a counted error, then the whole path — a cluster
//! inferred from the flows, attribution, suggestion, the staged plan verified. Nothing panics;
//! the tally adds up; every observed connection the plan was built from is kept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_netpol::{Collector, Format, Settings, infer, plan, read_flows};

fuzz_target!(|data: &[u8]| {
    let mut collected = Collector::new(10_000);
    let Ok((_, tally)) = read_flows("fuzz", data, Some(Format::GadgetAdvisor), |f| collected.add(f)) else {
        return;
    };
    assert_eq!(tally.records, tally.flows + tally.not_flows + tally.malformed);
    assert!(tally.errors.len() <= 10);
    let mut cluster = rampart_model::Snapshot::new();
    infer::complete(&mut cluster, &collected);
    let plan = plan(&cluster, &collected, &Settings::default(), false);
    assert!(plan.verification.keeps_every_flow(), "{:?}", plan.verification.broken);
});
