//! Attack payloads from the OWASP CRS regression tests (`tests/corpora/crs-regression/`, see
//! its SOURCE.md): per request stage, the value that carries the attack.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

/// One payload.
#[derive(Debug, Clone)]
pub struct Payload {
    /// `930` … `944`.
    pub family: String,
    pub rule: String,
    pub test: String,
    /// The rule's paranoia level (0 when unknown).
    pub paranoia: u8,
    /// `attack` (a CRS rule must fire) or `no_fire` (a rule must not: a hard negative).
    pub kind: &'static str,
    pub value: String,
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        Value::Object(m) => m.values().for_each(|x| leaves(x, out)),
        Value::Number(n) => out.push(n.to_string()),
        _ => {}
    }
}

const PLACEHOLDER_NAMES: &[&str] = &[
    "var", "payload", "foo", "bar", "test", "arg", "args", "param", "value", "data", "input",
    "name", "file", "cmd", "code", "text", "query", "string", "content", "attack", "attackme",
    "key", "val", "field", "xss", "sqli", "rce",
];

const DEFAULT_HEADERS: &[&str] = &[
    "host",
    "accept",
    "content-type",
    "content-length",
    "connection",
    "accept-encoding",
    "accept-language",
    "proxy-connection",
    "cache-control",
    "keep-alive",
];

/// The attack-carrying value of one stage: the longest of its query values, body values,
/// and non-default header values (the URI path when there is nothing else).
pub fn payload_of(input: &Value) -> Option<String> {
    let mut cands: Vec<String> = Vec::new();
    // Names (parameter, JSON and cookie names) carry the attack only in some tests; they are
    // used when no value does.
    let mut keys: Vec<String> = Vec::new();
    let uri = input.get("uri").and_then(Value::as_str).unwrap_or("/");
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        cands.push(decode(v));
        keys.push(decode(k));
    }
    let headers = input.get("headers").and_then(Value::as_object);
    let ctype = headers
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        })
        .and_then(|(_, v)| v.as_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if let Some(data) = input.get("data").and_then(Value::as_str) {
        if ctype.contains("json") {
            match serde_json::from_str::<Value>(data) {
                Ok(v) => leaves(&v, &mut cands),
                Err(_) => cands.push(data.to_string()),
            }
        } else if ctype.is_empty() || ctype.contains("x-www-form-urlencoded") {
            for pair in data.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                cands.push(decode(v));
                keys.push(decode(k));
            }
        } else {
            cands.push(data.to_string());
        }
    }
    if let Some(h) = headers {
        for (k, v) in h {
            let k = k.to_ascii_lowercase();
            let Some(v) = v.as_str() else { continue };
            if DEFAULT_HEADERS.contains(&k.as_str())
                || (k == "user-agent" && v == "OWASP CRS test agent")
            {
                continue;
            }
            if k == "cookie" {
                for c in v.split(';') {
                    let (ck, cv) = c.trim().split_once('=').unwrap_or((c.trim(), ""));
                    cands.push(decode(cv));
                    keys.push(ck.to_string());
                }
            } else {
                cands.push(v.to_string());
            }
        }
    }
    // A name is the payload when it is not one of the corpus's placeholder names (`var`,
    // `payload`, `test`, a test id like `932270-1`, ...).
    let placeholder = |k: &str| {
        let k = k.trim().to_ascii_lowercase();
        let test_id = k.len() > 7
            && k.get(..6)
                .is_some_and(|p| p.bytes().all(|c| c.is_ascii_digit()))
            && k.get(6..7) == Some("-");
        test_id || k.len() < 3 || PLACEHOLDER_NAMES.contains(&k.as_str())
    };
    cands.extend(keys.into_iter().filter(|k| !placeholder(k)));
    if cands.iter().all(|c| c.trim().is_empty()) {
        cands.push(decode(path.rsplit('/').next().unwrap_or(path)));
        cands.push(decode(path));
    }
    cands
        .into_iter()
        .filter(|c| !c.trim().is_empty())
        .max_by_key(String::len)
}

/// (file, test id, stage index)
type StageKey = (String, String, String);
/// (family, rule, paranoia level, kind)
type StageMeta = (String, String, u8, String);

/// Every payload of the corpus at `dir` (the folder holding `cases.tsv`).
pub fn load(dir: &Path) -> anyhow::Result<Vec<Payload>> {
    let cases = std::fs::read_to_string(dir.join("cases.tsv")).context("reading cases.tsv")?;
    let mut meta: HashMap<StageKey, StageMeta> = HashMap::new();
    for line in cases.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        let (Some(file), Some(family), Some(rule), Some(pl), Some(test), Some(stage), Some(kind)) = (
            c.first(),
            c.get(1),
            c.get(2),
            c.get(3),
            c.get(4),
            c.get(5),
            c.get(6),
        ) else {
            continue;
        };
        meta.insert(
            (file.to_string(), test.to_string(), stage.to_string()),
            (
                family.to_string(),
                rule.to_string(),
                pl.parse().unwrap_or(0),
                kind.to_string(),
            ),
        );
    }
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    let root = dir.join("tests/regression/tests");
    for d in std::fs::read_dir(&root).with_context(|| format!("reading {}", root.display()))? {
        let d = d?.path();
        if !d.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&d)? {
            let f = f?.path();
            if f.extension().is_some_and(|e| e == "yaml") {
                let rel = f
                    .strip_prefix(&root)
                    .unwrap_or(&f)
                    .to_string_lossy()
                    .into_owned();
                files.push((rel, f));
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for (rel, path) in files {
        let text = std::fs::read_to_string(&path)?;
        let doc: Value = serde_saphyr::from_str(&text).with_context(|| format!("parsing {rel}"))?;
        for t in doc
            .get("tests")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let test = match t.get("test_id") {
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::String(s)) => s.clone(),
                _ => continue,
            };
            for (si, stage) in t
                .get("stages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let Some(input) = stage.get("input") else {
                    continue;
                };
                let Some((family, rule, pl, kind)) =
                    meta.get(&(rel.clone(), test.clone(), si.to_string()))
                else {
                    continue;
                };
                let kind = match kind.as_str() {
                    "attack" => "attack",
                    "no_fire" => "no_fire",
                    _ => continue,
                };
                let Some(value) = payload_of(input) else {
                    continue;
                };
                out.push(Payload {
                    family: family.clone(),
                    rule: rule.clone(),
                    test: format!("{rule}-{test}"),
                    paranoia: *pl,
                    kind,
                    value,
                });
            }
        }
    }
    Ok(out)
}
