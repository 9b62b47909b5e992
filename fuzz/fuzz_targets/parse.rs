//! The loader on arbitrary bytes: YAML streams, JSON streams, `List`s. It must return objects or
//! errors, never panic, and never report more than the limits allow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_model::{ParseLimits, parse_source};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = ParseLimits {
        max_bytes: 1 << 20,
        max_documents: 64,
        max_list_items: 256,
    };
    for name in ["input.yaml", "input.json"] {
        let parsed = parse_source(name, text, &limits);
        assert!(parsed.objects.len() <= limits.max_documents * limits.max_list_items);
        for e in &parsed.errors {
            assert!(!e.message.is_empty());
        }
    }
});
