//! The Falco ingest parser and normalisation on arbitrary bytes: alerts or errors, never a
//! panic, every kept field within its bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_signals::behaviour::Mapping;
use rampart_signals::bounded::{MAX_NAME, MAX_TAGS, MAX_TEXT, MAX_TOKEN};
use rampart_signals::falco::{MAX_BATCH, parse_body};
use rampart_signals::observe::from_alert;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = parse_body(data) else {
        return;
    };
    assert!(batch.alerts.len() + batch.refused <= MAX_BATCH);
    static MAPPING: std::sync::OnceLock<Mapping> = std::sync::OnceLock::new();
    let mapping = MAPPING.get_or_init(Mapping::default);
    for a in &batch.alerts {
        assert!(!a.rule.is_empty() && a.rule.len() <= MAX_TOKEN);
        assert!(a.output.len() <= MAX_TEXT && a.tags.len() <= MAX_TAGS);
        for n in [&a.fields.namespace, &a.fields.pod, &a.fields.container_id] {
            assert!(n.as_ref().is_none_or(|n| n.len() <= MAX_NAME));
        }
        let _ = from_alert(a, mapping);
    }
});
