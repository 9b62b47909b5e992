//! `rampart scan --model-url` and `rampart judge` against the scripted model server.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use rampart_testkit::model::{Reply, ScriptedModel, gullible};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `rampart ARGS` with the exposed Log4Shell example's inputs appended (off the runtime's
/// threads: the scripted server keeps answering meanwhile).
async fn rampart(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let ex = root().join("examples/judge/exposed-logs-headers");
        Command::new(env!("CARGO_BIN_EXE_rampart"))
            .args(&args)
            .arg("--vulns")
            .arg(&ex)
            .arg("--kev-file")
            .arg(root().join("examples/demo-intel/kev.json"))
            .arg(&ex)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_judges_every_chain_and_says_so_in_json_and_table() {
    let model = ScriptedModel::start(Arc::new(gullible)).await;
    let url = model.url();
    let out = rampart(strings(&[
        "scan",
        "--format",
        "json",
        "--model-url",
        &url,
        "--model-name",
        "scripted",
    ]))
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let per_run = v["chains"].as_array().map_or(0, Vec::len);
    assert!(per_run >= 1, "{v}");
    let c = &v["chains"][0];
    assert_eq!(c["judgement"]["verdict"], "exploitable", "{c}");
    assert_eq!(c["judgement"]["model"], "scripted");
    assert_eq!(c["confidence"], "judged", "0.9 is above the default 0.8");
    assert_eq!(c["foothold"]["known_exploited"], true);
    // Above the threshold only: at 0.95 the same verdict is a caption, the chain proven.
    let out = rampart(strings(&[
        "scan",
        "--format",
        "json",
        "--model-url",
        &url,
        "--model-name",
        "scripted",
        "--model-threshold",
        "0.95",
    ]))
    .await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["chains"][0]["confidence"], "proven");
    assert_eq!(v["chains"][0]["judgement"]["verdict"], "exploitable");
    let out = rampart(strings(&[
        "scan",
        "--model-url",
        &url,
        "--model-name",
        "scripted",
    ]))
    .await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("judged: exploitable (0.90, scripted): the exposed entry runs a known exploited vulnerability"),
        "{table}"
    );
    assert_eq!(
        model.requests().len(),
        3 * per_run,
        "one request per chain per run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn judge_prints_the_verdict_or_says_why_there_is_none() {
    let model = ScriptedModel::start(Arc::new(gullible)).await;
    let url = model.url();
    let chain = {
        let out = rampart(strings(&["scan", "--format", "json"])).await;
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["chains"][0]["id"].as_str().unwrap().to_string()
    };
    let out = rampart(strings(&[
        "judge",
        &chain,
        "--show-prompt",
        "--model-url",
        &url,
        "--model-name",
        "scripted",
    ]))
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("--- system\n") && text.contains("<chain-data>"),
        "{text}"
    );
    let json = &text[text.rfind("\n---\n").unwrap() + 5..];
    let j: Value = serde_json::from_str(json).unwrap();
    assert_eq!(j["verdict"], "exploitable", "{j}");
    // No such chain: exit 2, nothing asked.
    let asked = model.requests().len();
    let out = rampart(strings(&[
        "judge",
        "chain-000000000000",
        "--model-url",
        &url,
        "--model-name",
        "scripted",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no chain chain-000000000000"));
    assert_eq!(model.requests().len(), asked);
    // A model answering garbage: exit 1 and why, as JSON.
    let garbage = ScriptedModel::start(Arc::new(|_: &Value, _| {
        Reply::Content("I think so!".into())
    }))
    .await;
    let out = rampart(strings(&[
        "judge",
        &chain,
        "--model-url",
        &garbage.url(),
        "--model-name",
        "scripted",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["verdict"], "unknown");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("the verdict does not parse"),
        "{j}"
    );
    // Without a model: a clear error, or the prompt with --dry-run.
    let out = rampart(strings(&["judge", &chain])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--model-url"));
    let out = rampart(strings(&["scan", "--model-url", &url])).await;
    assert_eq!(out.status.code(), Some(2), "a URL without a model name");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--model-name"));
}
