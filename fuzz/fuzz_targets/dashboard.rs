//! The dashboard over an arbitrary findings document and query: the index, the overview, the
//! filters, an entry's chains, the graph and the HTML page. `query` then `\0` then the JSON
//! document. Never a panic; the page shows no control or bidi character and runs no script but
//! its own two.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_http::dashboard::explorer::{Explorer, Filter};
use rampart_report::is_unsafe_char;

fuzz_target!(|data: &[u8]| {
    let (query, doc) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&[][..], data),
    };
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(doc) else {
        return;
    };
    let x = Explorer::new(doc.clone());
    let summary = x.summary(&[]);
    let filter = serde_urlencoded::from_bytes::<Filter>(query)
        .ok()
        .and_then(|f| f.checked().ok())
        .unwrap_or_default();
    let matches = x.matches(&filter);
    assert!(matches.chains <= summary.chains);
    for e in summary.entries.iter().take(3) {
        let f = Filter {
            entry: Some(e.key.clone()),
            ..filter.clone()
        };
        let chains = x.chains(&f).expect("a listed entry has chains");
        assert!(chains.chains.len() <= rampart_http::dashboard::explorer::MAX_CHAINS_PER_ANSWER);
        let g = x.graph(std::slice::from_ref(&e.key)).expect("a listed entry draws");
        assert!(g.entries.len() == 1);
    }
    let _ = x.graph(&[]);
    let html = rampart_http::dashboard::render(&doc);
    assert!(!html.chars().any(is_unsafe_char));
    assert_eq!(html.matches("<script").count(), 2);
});
