//! HAR 1.2 output of generated requests.

use serde_json::{Value, json};

/// One generated request.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    /// Path and query, already encoded.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<(String, String)>,
    pub client: String,
    pub session: String,
    /// For attack requests: the CRS family, rule, and where the payload sits.
    pub tag: Option<Tag>,
}

#[derive(Debug, Clone)]
pub struct Tag {
    pub family: String,
    pub rule: String,
    pub test: String,
    pub paranoia: u8,
    pub location: &'static str,
    /// `attack` or `no_fire`.
    pub kind: &'static str,
}

/// The HAR document of some requests (`host` names the demo service in the urls).
pub fn document(reqs: &[Req], host: &str) -> Value {
    let entries: Vec<Value> = reqs
        .iter()
        .map(|r| {
            let mut headers: Vec<Value> = r
                .headers
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect();
            headers.push(json!({"name": "X-Forwarded-For", "value": r.client}));
            let mut req = json!({
                "method": r.method,
                "url": format!("http://{host}{}", r.target),
                "httpVersion": "HTTP/1.1",
                "cookies": [],
                "headers": headers,
                "queryString": [],
                "headersSize": -1,
                "bodySize": r.body.as_ref().map_or(0, |(_, b)| b.len()),
            });
            if let Some((mime, text)) = &r.body {
                req["postData"] = json!({"mimeType": mime, "text": text});
            }
            let mut e = json!({
                "startedDateTime": "2026-12-05T00:00:00.000Z",
                "time": 1,
                "request": req,
                "response": {"status": 0, "statusText": "", "httpVersion": "HTTP/1.1", "cookies": [], "headers": [],
                             "content": {"size": 0, "mimeType": ""}, "redirectURL": "", "headersSize": -1, "bodySize": -1},
                "cache": {},
                "timings": {"send": 0, "wait": 1, "receive": 0},
                "_clientAddress": r.client,
                "_session": r.session,
            });
            if let Some(t) = &r.tag {
                e["_family"] = json!(t.family);
                e["_rule"] = json!(t.rule);
                e["_test"] = json!(t.test);
                e["_paranoia"] = json!(t.paranoia);
                e["_location"] = json!(t.location);
                e["_kind"] = json!(t.kind);
            }
            e
        })
        .collect();
    json!({"log": {"version": "1.2", "creator": {"name": "rampart-guard-demo", "version": "1"}, "entries": entries}})
}
