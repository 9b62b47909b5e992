//! The model's answer on arbitrary bytes: the Chat Completions envelope and the verdict inside
//! it (the same bytes also as the message content). Nothing panics; an accepted verdict is
//! within every bound (known verdict, confidence in 0..=1, reason length and characters, only
//! the chain's step ids).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_judge::answer::{parse_reply, parse_verdict};
use rampart_judge::prompt::MAX_REASON;

fuzz_target!(|data: &[u8]| {
    let ids: Vec<String> = ["s0", "s1", "s2"].iter().map(|s| s.to_string()).collect();
    let text = String::from_utf8_lossy(data);
    for r in [parse_reply(data, &ids, "m"), parse_verdict(&text, &ids, "m")] {
        match r {
            Ok(j) => {
                assert!((0.0..=1.0).contains(&j.confidence));
                assert!(j.reason.chars().count() <= MAX_REASON);
                assert!(!j.reason.chars().any(rampart_report::is_unsafe_char));
                assert!(j.steps.iter().all(|s| ids.contains(s)));
                assert!(j.error.is_none());
            }
            Err(e) => assert!(e.to_string().len() < 1024),
        }
    }
});
