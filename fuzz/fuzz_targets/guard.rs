//! The request guard's profiler on arbitrary requests: extraction, profiles, piles, learning
//! and judging never panic, and every extracted location stays within its bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_api::GuardControl;
use rampart_guard::exchange::{Body, Exchange, MAX_VALUES, extract, extract_response, Response};
use rampart_guard::{Judge, Origin, ServicePile, learn, peers};

fuzz_target!(|data: &[u8]| {
    // Layout: target \n header-name: value lines \n\n body; the first byte picks the content type.
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let target = lines.next().unwrap_or("/").to_string();
    let mut headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let ct = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b", "text/plain"];
    headers.push(("content-type".into(), ct[usize::from(kind) % ct.len()].to_string()));
    let x = Exchange {
        method: if kind & 0x10 == 0 { "GET".into() } else { "POST".into() },
        target,
        headers: headers.clone(),
        body: Body {
            bytes: body.as_bytes().to_vec(),
            size: body.len() as u64,
            ..Body::default()
        },
        ..Exchange::default()
    };
    let e = extract(&x);
    assert!(e.values.len() <= MAX_VALUES);
    assert!(e.values.iter().all(|v| v.location.len() <= 200 && !v.location.contains('\n')));
    let r = extract_response(&Response { status: 200, headers, body: x.body.clone(), elapsed_ms: 3 });
    let mut pile = ServicePile::default();
    for i in 0..4 {
        pile.observe(&e, Some(&r), None, Origin { session: i, client: i, request: i });
    }
    let c = learn::learn(&pile, &GuardControl::default());
    let j = Judge::new(Some(&c), None);
    let _ = j.request(&e, None);
    let _ = peers::parse(&text);
});
