//! ValidatingAdmissionPolicies, their bindings and Gatekeeper templates from arbitrary
//! documents: read (`VapSet::from_documents`, `gatekeeper::convert` both ways), then the
//! resulting bindings judge an arbitrary object. Everything is a policy or an error, a verdict
//! or an error; nothing panics.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use rampart_policy::gatekeeper::{Target, convert};
use rampart_policy::review::{Operation, Request};
use rampart_policy::vap::VapSet;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // As in the cel target: the CEL library's panics are caught and answered with errors.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    // `documents (a JSON array) \0 object (JSON)`.
    let (docs, object) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(Value::Array(mut docs)) = serde_json::from_slice::<Value>(docs) else {
        return;
    };
    docs.truncate(64);
    for to in [Target::SecurityPolicy, Target::Vap] {
        let (out, _) = convert(&docs, to);
        docs.extend(out.into_iter().take(8));
    }
    let (set, _) = VapSet::from_documents(docs.iter().map(|d| (String::new(), d)));
    let object: Value = serde_json::from_slice(object).unwrap_or_default();
    let s = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    let (group, version) = rampart_policy::offline::group_version_of(&object);
    let req = Request {
        group: &group,
        version: &version,
        kind: s("/kind"),
        resource: "",
        sub_resource: None,
        operation: Operation::Create,
        namespace: s("/metadata/namespace"),
        name: s("/metadata/name"),
        username: "",
        object: Some((&object).into()),
        old_object: None,
    };
    let _ = set.review(&req, &object, &BTreeMap::new());
});
