//! CEL on arbitrary bytes: the expression compiler (the entry point of every policy's CEL) and,
//! for what compiles, evaluation over an arbitrary JSON object. Everything gets a compiled
//! expression or a refusal, and a value or an error; nothing panics, nothing runs away; and the
//! evaluator's plan of an expression answers exactly as the `cel` crate's interpreter does, and
//! an object's text read onto a tape is the value serde_json reads (as a tree, and as a typed
//! pod).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_cel::{ADMISSION_VARIABLES, Activation, Expression, Scope, agree};

fuzz_target!(|data: &[u8]| {
    // The CEL library's own unfinished corners panic (a comprehension over a null): rampart
    // catches those panics and answers with an error, as it does serving. libFuzzer's hook would
    // abort on them even caught; a panic rampart does not catch still aborts (it cannot unwind
    // out of the fuzzer).
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    // `expression \0 object-json`: the object part is optional.
    let (expr, object) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(source) = std::str::from_utf8(expr) else {
        return;
    };
    // The object's text read onto a tape means what serde_json reads.
    if let Ok(text) = std::str::from_utf8(object) {
        let mut read = Activation::new();
        let tree = serde_json::from_str::<serde_json::Value>(text);
        assert_eq!(
            read.bind_json_str("object", text).is_ok(),
            tree.is_ok(),
            "{text:?}"
        );
        // Typed values read from the tape are those serde_json reads from the text.
        if let Ok(doc) = rampart_cel::Document::parse(text) {
            let typed = doc.typed::<serde_json::Value>();
            assert_eq!(typed.as_ref().ok(), tree.as_ref().ok(), "{text:?}");
            let pod = |o| rampart_policy::object::pod_source("Pod", o).ok().flatten();
            if let Ok(raw) = serde_json::from_str::<&serde_json::value::RawValue>(text) {
                use rampart_policy::object::ObjectJson;
                assert_eq!(
                    pod(ObjectJson::Read(raw, &doc)),
                    pod(ObjectJson::Raw(raw)),
                    "{text:?}"
                );
            }
        }
        if let Ok(tree) = &tree {
            let mut converted = Activation::new();
            converted.bind_json("object", tree);
            assert!(read.get("object") == converted.get("object"), "{text:?}");
            // A repeated key's earlier values count into the text's sizes (the tree kept only
            // the last): the budget's bound is the same or safer.
            let (t, c) = (read.sizes(), converted.sizes());
            assert!(
                t.largest >= c.largest && t.total >= c.total && t.longest_string >= c.longest_string,
                "{text:?}: {t:?} {c:?}"
            );
        }
    }
    let Ok(e) = Expression::compile(source, ADMISSION_VARIABLES) else {
        return;
    };
    let object: serde_json::Value = serde_json::from_slice(object).unwrap_or_default();
    let mut a = Activation::new();
    a.bind_json("object", &object);
    a.bind_json("oldObject", &serde_json::Value::Null);
    let s = Scope::new(&a);
    let planned = s.eval(&e);
    // A plan means what the interpreter means: the same value, the same error (where the
    // interpreter panics, the plan's answer stands).
    let interpreted = s.eval_interpreted(&e);
    assert!(
        agree(&planned, &interpreted),
        "{source}: the plan gave {planned:?}, the interpreter {interpreted:?}"
    );
});
