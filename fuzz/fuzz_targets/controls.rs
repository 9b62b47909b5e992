//! The engine's operating controls on arbitrary bytes: BreakGlass and ArmingPolicy objects as
//! the API server could hand them over (the brake's view, the ladder, the webhook's
//! validation), a notification signature header to verify, a `--notify` destination, and
//! notices made of arbitrary cluster text rendered for every destination. Nothing panics; a
//! rendered body is valid JSON; Slack text holds no raw `<` (no mention, no link).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_api::{ArmingPolicy, BreakGlass};
use rampart_notify::{Format, Kind, Notice, Severity, Sink, render, verify};
use rampart_respond::arming::Ladder;
use rampart_respond::bar::ActionClass;
use rampart_respond::brake::BrakeView;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(objects) = serde_json::from_slice::<Vec<BreakGlass>>(data) {
        let view = BrakeView::of(&objects);
        let _ = view.changes(&BrakeView::Unknown);
        for h in view.hands() {
            assert!(h.reason.chars().count() <= 512 && !h.reason.chars().any(char::is_control));
        }
    }
    if let Ok(policies) = serde_json::from_slice::<Vec<ArmingPolicy>>(data) {
        for p in &policies {
            let _ = p.spec.validate();
        }
        let ladder = Ladder::of(&policies);
        let _ = ladder.stage(ActionClass::Network, &text, &rampart_model::Labels::new());
    }
    let (header, body) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = verify(b"0123456789abcdef", header, body.as_bytes(), 1_700_000_000, 300);
    let _ = Sink::parse(&text);
    let n = Notice::new(Kind::ChainNew, Severity::Critical, 1, header, body).field(body, header);
    for f in [Format::Webhook, Format::Slack, Format::CloudEvents] {
        let r = render(f, std::slice::from_ref(&n), header, Some(b"key"), 1);
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("valid JSON");
        if f == Format::Slack {
            assert!(!v["text"].as_str().unwrap_or("").contains('<'));
        }
    }
});
