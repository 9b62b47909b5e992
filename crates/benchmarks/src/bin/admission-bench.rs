//! In-process admission benchmark:
//! `cargo run --release -p rampart-benchmarks --bin admission-bench [ITERATIONS]`.
//!
//! Per review, JSON parsing of the AdmissionReview included: rampart (Pod Security restricted +
//! a ten-rule ClusterSecurityPolicy, response serialized), the same plus ten CEL rules, and the
//! same checks in Rego evaluated by regorus (input parsed from the same JSON), without and with
//! the ten CEL rules written in Rego. Prints median and p99 of each and the ratios. The reviews
//! with CEL then run again in turns with a "floor" (serde_json parsing the same review for as
//! long as the review's median), which shows what this machine adds at those moments to work of
//! that kind and length.
//! `admission-bench --export DIR` writes the CEL rules and the review for the Kubernetes CEL
//! library's own evaluator (`scripts/bench-cel.sh` runs both side by side).

use std::time::{Duration, Instant};

use rampart_benchmarks::{
    CEL_REGO, Floor, REGO, cel_policy, percentiles, pod, review, state, state_with_cel,
    timed_beside,
};
use rampart_http::admission::review_bytes;

// The allocator the `rampart` binary (the webhook) runs with.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, dir] = &args[..]
        && flag == "--export"
    {
        let dir = std::path::Path::new(dir);
        std::fs::create_dir_all(dir).expect("export directory");
        std::fs::write(
            dir.join("rules.json"),
            cel_policy()["spec"]["rules"].to_string(),
        )
        .expect("rules.json");
        std::fs::write(dir.join("review.json"), review(&pod())).expect("review.json");
        return;
    }
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    // `RAMPART_BENCH_ONLY=rampart` skips the Rego run, `=cel` the review without CEL too (for
    // profiling); `RAMPART_BENCH_DUMP=FILE` writes each review-with-CEL time (ns, in order) for
    // reading the tail's pattern.
    let only = std::env::var("RAMPART_BENCH_ONLY").unwrap_or_default();
    let only_rampart = only == "rampart" || only == "cel";
    let only_cel = only == "cel";
    let body = review(&pod());
    let s = state();

    // Sanity: both engines agree the pod is compliant.
    let v = review_bytes(&s, body.as_bytes(), false).expect("review");
    assert_eq!(v["response"]["allowed"], true, "{v}");
    let mut engine = regorus::Engine::new();
    engine
        .add_policy("rampart.rego".into(), REGO.into())
        .expect("rego compiles");
    engine.set_input(regorus::Value::from_json_str(&body).expect("input"));
    let out = engine
        .eval_rule("data.rampart.violation".into())
        .expect("rego evaluates");
    assert_eq!(
        out.to_json_str().unwrap_or_default(),
        "[]",
        "the Rego twin finds no violation"
    );
    // And both deny the same bad pod.
    let mut bad = pod();
    bad["spec"]["containers"][0]["securityContext"]["privileged"] = true.into();
    let bad = review(&bad);
    assert_eq!(
        review_bytes(&s, bad.as_bytes(), false).expect("review")["response"]["allowed"],
        false
    );
    engine.set_input(regorus::Value::from_json_str(&bad).expect("input"));
    assert_ne!(
        engine
            .eval_rule("data.rampart.violation".into())
            .expect("eval")
            .to_json_str()
            .unwrap_or_default(),
        "[]"
    );

    let time = |f: &mut dyn FnMut()| -> Vec<Duration> {
        for _ in 0..n / 10 {
            f();
        }
        (0..n)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect()
    };
    let rampart = time(&mut || {
        if only_cel {
            return;
        }
        let v = review_bytes(&s, body.as_bytes(), false).expect("review");
        std::hint::black_box(v);
    });
    // The ten CEL rules admit the pod and deny the bad one too.
    let with_cel = state_with_cel();
    let v = review_bytes(&with_cel, body.as_bytes(), false).expect("review");
    assert_eq!(v["response"]["allowed"], true, "{v}");
    let mut latest = pod();
    latest["spec"]["containers"][0]["image"] = "registry.acme.example/checkout:latest".into();
    let v = review_bytes(&with_cel, review(&latest).as_bytes(), false).expect("review");
    assert!(
        v["response"]["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("bench-cel")),
        "{v}"
    );
    let mut cel_review = || {
        let v = review_bytes(&with_cel, body.as_bytes(), false).expect("review");
        std::hint::black_box(v);
    };
    let cel = time(&mut cel_review);
    if let Ok(path) = std::env::var("RAMPART_BENCH_DUMP") {
        let text: Vec<String> = cel.iter().map(|d| d.as_nanos().to_string()).collect();
        std::fs::write(path, text.join("\n")).expect("dump");
    }
    // Then again in turns with serde_json parsing the same review, as long as the review's
    // median: the floor this machine sets at those moments (a p99 without rampart's work in it).
    let (beside, floor) = timed_beside(
        n,
        Floor::calibrated(&body, percentiles(cel.clone()).0),
        &mut cel_review,
    );
    // Regorus per review: the input parsed, then each of `rules` evaluated.
    let rego_time = |engine: &mut regorus::Engine, rules: &[&str]| {
        if only_rampart {
            return vec![Duration::from_nanos(1)];
        }
        time(&mut || {
            engine.set_input(regorus::Value::from_json_str(&body).expect("input"));
            for rule in rules {
                let v = engine.eval_rule((*rule).into()).expect("eval");
                std::hint::black_box(v);
            }
        })
    };
    let rego = rego_time(&mut engine, &["data.rampart.violation"]);
    // The ten CEL rules in Rego too: they admit the pod, and deny the `:latest` one.
    engine
        .add_policy("cel_rules.rego".into(), CEL_REGO.into())
        .expect("the CEL rules' Rego compiles");
    let cel_violations = |engine: &mut regorus::Engine, body: &str| {
        engine.set_input(regorus::Value::from_json_str(body).expect("input"));
        engine
            .eval_rule("data.celrules.violation".into())
            .expect("eval")
            .to_json_str()
            .unwrap_or_default()
    };
    assert_eq!(cel_violations(&mut engine, &body), "[]");
    assert_eq!(
        cel_violations(&mut engine, &review(&latest)),
        "[\n  \"pinned\"\n]"
    );
    let rego_cel = rego_time(
        &mut engine,
        &["data.rampart.violation", "data.celrules.violation"],
    );
    let (rm, r99) = percentiles(rampart);
    // Issue 25's target is a p99 of 50 µs: how often each went past it.
    let past = |v: &[Duration]| {
        let over = v.iter().filter(|d| **d > Duration::from_micros(50)).count();
        100.0 * over as f64 / v.len().max(1) as f64
    };
    let (beside_past, floor_past) = (past(&beside), past(&floor));
    let (cm, c99) = percentiles(cel);
    let (bm, b99) = percentiles(beside);
    let (fm, f99) = percentiles(floor);
    let (gm, g99) = percentiles(rego);
    let (gcm, gc99) = percentiles(rego_cel);
    println!(
        "admission review, 3-container Pod, PSS restricted + 10 rules, JSON parsing included ({n} iterations)"
    );
    println!("{:<28} {:>12} {:>12}", "engine", "median", "p99");
    println!("{:<28} {:>12.1?} {:>12.1?}", "rampart", rm, r99);
    println!(
        "{:<28} {:>12.1?} {:>12.1?}",
        "rampart + 10 CEL rules", cm, c99
    );
    println!(
        "{:<28} {:>12.1?} {:>12.1?}",
        "  again, in turns with:", bm, b99
    );
    println!(
        "{:<28} {:>12.1?} {:>12.1?}",
        "  serde_json, as long", fm, f99
    );
    println!(
        "  over 50 µs: {beside_past:.2} % of those reviews, {floor_past:.2} % of serde_json's runs"
    );
    println!(
        "{:<28} {:>12.1?} {:>12.1?}",
        "regorus (same checks, Rego)", gm, g99
    );
    println!(
        "{:<28} {:>12.1?} {:>12.1?}",
        "regorus + the 10 CEL in Rego", gcm, gc99
    );
    println!(
        "regorus / rampart: {:.1}x (median), {:.1}x (p99); with the CEL rules: {:.1}x (median), {:.1}x (p99)",
        gm.as_secs_f64() / rm.as_secs_f64(),
        g99.as_secs_f64() / r99.as_secs_f64(),
        gcm.as_secs_f64() / cm.as_secs_f64(),
        gc99.as_secs_f64() / c99.as_secs_f64()
    );
    // The CEL rules' own share, for the script's side-by-side with the Kubernetes evaluator.
    println!(
        "cel-rules-ns {} {}",
        cm.saturating_sub(rm).as_nanos(),
        c99.saturating_sub(r99).as_nanos()
    );
}
