//! The HAR reader on arbitrary bytes: requests or an error, never a panic; every body within
//! the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_guard::exchange::extract;
use rampart_guard::har::read;

fuzz_target!(|data: &[u8]| {
    let Ok(records) = read(data, 4096) else {
        return;
    };
    for r in &records {
        assert!(r.exchange.body.bytes.len() <= 4096);
        let _ = extract(&r.exchange);
    }
});
