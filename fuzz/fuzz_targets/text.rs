//! What rampart does to outside text before a person sees it or a parser gets it: file bytes
//! decoded (UTF-8 byte-order mark, UTF-16 detection), error messages redacted, names escaped
//! for terminals, generated object names made valid. Never a panic, bounds kept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_model::names::{dns_label, dns_subdomain, is_dns_label, is_dns_subdomain};
use rampart_model::redact_excerpt;
use rampart_report::{display_safe, is_unsafe_char};

fuzz_target!(|data: &[u8]| {
    let _ = rampart_files::decode_text(data.to_vec());
    let text = String::from_utf8_lossy(data);
    let redacted = redact_excerpt(&text);
    assert!(redacted.chars().count() <= rampart_model::redact::MAX_MESSAGE_CHARS + 1);
    assert!(!display_safe(&text).chars().any(is_unsafe_char));
    assert!(is_dns_label(&dns_label(&text)));
    assert!(is_dns_subdomain(&dns_subdomain(&text, 253)));
});
