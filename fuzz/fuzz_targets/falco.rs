//! The Falco ingest parser and normalisation on arbitrary bytes: alerts or errors, never a
//! panic, every kept field within its bound; a connection event's flow names a known port.
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
        let f = &a.fields;
        let n = &f.net;
        for v in [&n.cip, &n.cport, &n.sip, &n.sport, &n.lip, &n.lport, &n.rip, &n.rport] {
            assert!(v.as_ref().is_none_or(|v| v.len() <= MAX_NAME));
        }
        if let Some(flow) = rampart_netpol::falco::flow(
            f.namespace.as_deref(),
            f.pod.as_deref(),
            f.fd_name.as_deref(),
            n,
        ) {
            assert!(flow.dst_port != 0 && flow.protocol.is_some());
        }
    }
});
