//! The gated competence probe: a real local model (`RAMPART_TEST_MODEL_URL`, and
//! `RAMPART_TEST_MODEL_NAME`, default `local`) judges `examples/judge/`: the exposed
//! Log4Shell workload must come out `exploitable`, the internal-only one not. Ignored by
//! default (it needs a model); run it with
//! `RAMPART_TEST_MODEL_URL=http://127.0.0.1:8081/v1 cargo test -p rampart --test judge_probe -- --ignored`.
//! Without the variable it fails, saying so: a probe that is asked for never skips silently.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn judged(example: &str, url: &str, name: &str) -> Vec<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("examples/judge").join(example);
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args([
            "scan",
            "--format",
            "json",
            "--model-url",
            url,
            "--model-name",
            name,
        ])
        .args(["--model-timeout", "120s", "--model-threshold", "0.5"])
        .arg("--vulns")
        .arg(&dir)
        .arg("--kev-file")
        .arg(root.join("examples/demo-intel/kev.json"))
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["chains"].as_array().cloned().unwrap_or_default()
}

#[test]
#[ignore = "needs a local model: set RAMPART_TEST_MODEL_URL (see docs/judge.md)"]
fn a_real_model_tells_the_exposed_log4shell_from_the_internal_one() {
    let url = std::env::var("RAMPART_TEST_MODEL_URL")
        .expect("RAMPART_TEST_MODEL_URL must name an OpenAI-compatible server for this probe");
    let name = std::env::var("RAMPART_TEST_MODEL_NAME").unwrap_or_else(|_| "local".into());
    let exposed = judged("exposed-logs-headers", &url, &name);
    let j = &exposed[0]["judgement"];
    assert_eq!(j["error"], Value::Null, "{j}");
    assert_eq!(j["verdict"], "exploitable", "{j}");
    assert_eq!(exposed[0]["confidence"], "judged", "{}", exposed[0]);
    for c in judged("internal-only", &url, &name) {
        let j = &c["judgement"];
        assert_eq!(j["error"], Value::Null, "{j}");
        assert_ne!(j["verdict"], "exploitable", "{j}");
    }
}
