//! The vulnerability-intel parsers on arbitrary bytes: the KEV catalogue (feed or list), FIRST's
//! EPSS feed (plain or gzip) and trivy-operator VulnerabilityReports. Entries or errors, never
//! a panic, bounds kept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_signals::bounded::{MAX_NAME, MAX_TOKEN};
use rampart_signals::epss::{Epss, MAX_ROWS};
use rampart_signals::kev::{Kev, MAX_ENTRIES, is_cve_id};
use rampart_signals::vulns::{MAX_VULNS, parse_file};

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Epss::parse(data) {
        assert!(e.scores.len() <= MAX_ROWS);
        assert!(e.scores.iter().all(|(id, s)| is_cve_id(id)
            && (0.0..=1.0).contains(&s.epss)
            && (0.0..=1.0).contains(&s.percentile)));
        assert!(e.model_version.len() <= MAX_TOKEN && e.score_date.len() <= MAX_TOKEN);
    }
    if let Ok(k) = Kev::parse(data) {
        assert!(k.entries.len() <= MAX_ENTRIES);
        assert!(k.entries.keys().all(|id| is_cve_id(id)));
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (reports, _) = parse_file("fuzz.yaml", text);
    for r in reports {
        assert!(r.vulns.len() <= MAX_VULNS && r.owner_name.len() <= MAX_NAME);
        assert!(r.vulns.iter().all(|v| v.id.len() <= MAX_TOKEN));
    }
});
