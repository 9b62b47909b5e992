//! The audit ingest parser and filter on arbitrary bytes: reads or errors, never a panic,
//! every event counted once, names within their bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_signals::audit::{AllowList, Drop, parse_body};
use rampart_signals::bounded::MAX_NAME;
use rampart_signals::observe::from_read;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = parse_body(data, &AllowList::default()) else {
        return;
    };
    let dropped: usize = Drop::ALL.iter().map(|d| batch.dropped(*d)).sum();
    assert_eq!(batch.reads.len() + dropped, batch.events);
    for r in &batch.reads {
        assert!(r.sa_namespace.len() <= MAX_NAME && r.sa_name.len() <= MAX_NAME);
        assert!(r.name.as_ref().is_none_or(|n| n.len() <= MAX_NAME));
        let _ = from_read(r);
    }
});
