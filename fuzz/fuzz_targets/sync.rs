//! The learner's reader of gates' sync messages (and the gate's reader of the learner's
//! answer) on arbitrary bytes: a message or an error,
//! never a panic; an accepted message's pile is within every bound, already normal (normalizing
//! again changes nothing), and merging it twice counts it once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_guard::ServicePile;
use rampart_guard::pile::{MAX_CIDRS, MAX_ROUTES, MAX_VALUES_PER_ROUTE};
use rampart_guard::sync::{MAX_BYTES, decode, decode_reply};

fuzz_target!(|data: &[u8]| {
    // The gate's reader of the learner's answer, on the same bytes.
    let _ = decode_reply(data, MAX_BYTES);
    let Ok(m) = decode(data, MAX_BYTES) else {
        return;
    };
    let p = &m.pile;
    assert!(p.routes.len() <= MAX_ROUTES);
    assert!(p.clients.len() <= MAX_CIDRS && p.peers.len() <= MAX_CIDRS);
    assert!(p.routes.values().all(|r| r.values.len() <= MAX_VALUES_PER_ROUTE));
    assert_eq!(&p.normalized(), p);
    let mut once = ServicePile::default();
    once.merge(p);
    let mut twice = once.clone();
    twice.merge(p);
    assert_eq!(once, twice);
    let _ = rampart_guard::learn::learn(p, &rampart_api::GuardControl::default());
});
