//! `rampart audit` on arbitrary bytes: the file read as manifests (YAML or JSON, lists), every
//! framework's checks run, every report format rendered, PolicyReports built; the same bytes
//! also read as an exception list and as check settings. Nothing panics.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use rampart_audit::exceptions::Exceptions;
use rampart_audit::run::{Options, audit, audit_object};
use rampart_audit::settings::Settings;
use rampart_audit::{Inventory, Object};
use rampart_model::{ParseLimits, raw_documents};
use rampart_report::audit::{AuditInputs, AuditReport, html, junit, policy_report, sarif, table};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = Exceptions::from_value(v.clone());
        let _ = Settings::from_posture_inputs(&v);
    }
    let (docs, _) = raw_documents("fuzz.yaml", text, &ParseLimits::default());
    let file: Arc<str> = Arc::from("fuzz.yaml");
    let objects: Vec<Object> = docs
        .into_iter()
        .filter_map(|d| Object::new(d.value, Some(file.clone()), d.source.line))
        .collect();
    let inventory = Inventory::new(objects);
    let options = Options::default();
    let mut a = audit(&inventory, &options);
    for o in inventory.objects() {
        let one = audit_object(o, &options);
        a.apply_delta(&one.clone(), one);
    }
    let _ = policy_report::build(&a, 0, 10);
    let report = AuditReport::new(
        a,
        AuditInputs {
            frameworks: options.frameworks.clone(),
            ..AuditInputs::default()
        },
    );
    let _ = table::render(&report);
    let _ = sarif::render(&report);
    let _ = junit::render(&report);
    let _ = html::render(&report);
    let mut out = Vec::new();
    let _ = report.write_json(&mut out);
});
