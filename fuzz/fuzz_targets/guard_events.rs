//! The engine's reader of request-guard events (`POST /guard`, from `rampart learner`) on
//! arbitrary bytes: events or an error, never a panic; every kept event within its bounds, its
//! names valid, and its observation's summary bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_signals::bounded::{MAX_NAME, MAX_TEXT, MAX_TOKEN};
use rampart_signals::guard::{MAX_EVENTS, MAX_REASONS, observation, parse_body};

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = parse_body(data) else {
        return;
    };
    assert!(batch.events.len() + batch.refused <= MAX_EVENTS);
    for e in &batch.events {
        for name in [&e.namespace, &e.pod, &e.service] {
            assert!(!name.is_empty() && name.len() <= MAX_NAME);
        }
        assert!(e.reasons.len() <= MAX_REASONS);
        assert!(e.reasons.keys().all(|k| k.len() <= MAX_TOKEN));
        assert!(e.summary.len() <= MAX_TEXT && e.mode.len() <= MAX_TOKEN);
        let o = observation(e);
        assert!(o.summary.len() <= MAX_TEXT);
    }
});
