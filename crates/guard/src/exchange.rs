//! One request (and its response, when seen) as the gate or a HAR file hands it over, and the
//! values extracted from it, each at a named location. Extraction bounds everything it keeps:
//! values per request, JSON depth, multipart parts, location-name length.

use std::net::IpAddr;

/// A request as received; header names lower-case, the body already decoded and capped.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    pub method: String,
    /// The raw request target: path and optional `?query`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// The peer address of the connection.
    pub client: Option<IpAddr>,
    pub response: Option<Response>,
}

/// A body as far as it was read.
#[derive(Debug, Clone, Default)]
pub struct Body {
    /// At most the inspection cap.
    pub bytes: Vec<u8>,
    /// More bytes followed than were kept.
    pub truncated: bool,
    /// The size was not announced (chunked).
    pub unknown_size: bool,
    /// The size the request announced or the gate counted, in bytes.
    pub size: u64,
    /// The body's encoding could not be undone (unsupported or broken `Content-Encoding`).
    pub undecodable: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub elapsed_ms: u32,
}

/// The JSON kind of a value; query, header, path and form values are strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    String,
    Number,
    Bool,
    Null,
    Object,
    Array,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::String,
        Kind::Number,
        Kind::Bool,
        Kind::Null,
        Kind::Object,
        Kind::Array,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Number => "number",
            Kind::Bool => "bool",
            Kind::Null => "null",
            Kind::Object => "object",
            Kind::Array => "array",
        }
    }
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Body faults, one bit each; a fault is learnable like any shape.
pub mod fault {
    pub const TOO_LARGE: u8 = 1;
    pub const UNKNOWN_SIZE: u8 = 2;
    pub const BAD_JSON: u8 = 4;
    pub const BAD_FORM: u8 = 8;
    pub const BAD_MULTIPART: u8 = 16;
    pub const DEEP: u8 = 32;
    pub const TOO_MANY_VALUES: u8 = 64;
    pub const BAD_ENCODING: u8 = 128;
    pub const NAMES: [(u8, &str); 8] = [
        (TOO_LARGE, "too-large"),
        (UNKNOWN_SIZE, "unknown-size"),
        (BAD_JSON, "bad-json"),
        (BAD_FORM, "bad-form"),
        (BAD_MULTIPART, "bad-multipart"),
        (DEEP, "too-deep"),
        (TOO_MANY_VALUES, "too-many-values"),
        (BAD_ENCODING, "bad-encoding"),
    ];
}

/// One extracted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub location: String,
    pub kind: Kind,
    /// The text of strings and numbers; empty for other kinds.
    pub text: String,
}

/// What a request carries, extracted.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    pub method: String,
    /// Path segments, percent-decoded.
    pub segments: Vec<String>,
    pub values: Vec<Value>,
    /// The body's media type (`application/json`), `none` without a body.
    pub content_type: String,
    pub faults: u8,
    pub body_bytes: u64,
    /// The last hop of `X-Forwarded-For`.
    pub forwarded: Option<IpAddr>,
}

/// What a response carries, extracted.
#[derive(Debug, Clone, Default)]
pub struct ExtractedResponse {
    pub status: u16,
    pub values: Vec<Value>,
    pub elapsed_ms: u32,
}

/// Bounds on what one request may contribute.
pub const MAX_VALUES: usize = 256;
pub const MAX_DEPTH: usize = 32;
pub const MAX_PARTS: usize = 64;
pub const MAX_SEGMENTS: usize = 32;
const MAX_NAME: usize = 64;

/// Headers that describe the connection, not the request, or that are judged elsewhere.
fn skipped_header(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "content-length"
            | "x-forwarded-for"
            | "x-forwarded-proto"
            | "x-forwarded-host"
            | "x-forwarded-port"
            | "x-request-id"
            | "cookie"
    ) || name.starts_with(':')
}

/// A location name built from attacker-chosen text: printable ASCII only, bounded, so it
/// can go into a log line or a metric label as it is.
pub fn clean_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_NAME));
    for c in raw.chars() {
        if out.len() >= MAX_NAME {
            out.push('~');
            break;
        }
        if c.is_ascii_graphic() && c != '"' && c != '\\' {
            out.push(c);
        } else {
            out.push('?');
        }
    }
    out
}

struct Sink {
    values: Vec<Value>,
    faults: u8,
}

impl Sink {
    fn push(&mut self, location: String, kind: Kind, text: String) {
        if self.values.len() >= MAX_VALUES {
            self.faults |= fault::TOO_MANY_VALUES;
            return;
        }
        self.values.push(Value {
            location,
            kind,
            text,
        });
    }
}

/// A request target fit for a report: printable, bounded to 2 KiB.
pub fn clean_target(t: &str) -> String {
    let mut out: String = t
        .chars()
        .take(2048)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if t.chars().count() > 2048 {
        out.push('~');
    }
    out
}

/// Splits a request target into its path segments and query.
pub fn split_target(target: &str) -> (&str, Option<&str>) {
    let target = target.split('#').next().unwrap_or("");
    // An absolute-form target (`http://host/path`) keeps only its path.
    let target = match target.find("://") {
        Some(i) if !target.starts_with('/') => {
            let rest = target.get(i + 3..).unwrap_or("");
            rest.find('/').map_or("/", |j| rest.get(j..).unwrap_or("/"))
        }
        _ => target,
    };
    match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Extracts the values of a request.
pub fn extract(x: &Exchange) -> Extracted {
    let mut sink = Sink {
        values: Vec::new(),
        faults: 0,
    };
    let (path, query) = split_target(&x.target);
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .take(MAX_SEGMENTS)
        .map(decode)
        .collect();
    for (i, s) in segments.iter().enumerate() {
        sink.push(format!("path.{i}"), Kind::String, s.clone());
    }
    if let Some(q) = query {
        pairs(&mut sink, "query.", q.as_bytes());
    }
    let mut content_type = String::new();
    let mut forwarded = None;
    for (name, value) in &x.headers {
        match name.as_str() {
            "cookie" => cookies(&mut sink, value),
            "x-forwarded-for" => {
                forwarded = value.rsplit(',').next().and_then(|h| h.trim().parse().ok())
            }
            "content-type" => {
                content_type = media_type(value);
                sink.push(format!("header.{name}"), Kind::String, value.clone());
            }
            n if skipped_header(n) => {}
            n => sink.push(
                format!("header.{}", clean_name(n)),
                Kind::String,
                value.clone(),
            ),
        }
    }
    let b = &x.body;
    if b.truncated {
        sink.faults |= fault::TOO_LARGE;
    }
    if b.unknown_size {
        sink.faults |= fault::UNKNOWN_SIZE;
    }
    if b.undecodable {
        sink.faults |= fault::BAD_ENCODING;
    }
    let has_body = !b.bytes.is_empty() || b.size > 0;
    if !has_body {
        content_type = "none".into();
    } else if !b.truncated && !b.undecodable {
        body_values(&mut sink, &content_type, x, "");
    }
    if content_type.is_empty() {
        content_type = "unknown".into();
    }
    Extracted {
        method: clean_name(&x.method),
        segments,
        values: sink.values,
        content_type,
        faults: sink.faults,
        body_bytes: b.size.max(b.bytes.len() as u64),
        forwarded,
    }
}

/// Extracts the values of a response: selected headers and the JSON body's shape.
pub fn extract_response(r: &Response) -> ExtractedResponse {
    let mut sink = Sink {
        values: Vec::new(),
        faults: 0,
    };
    let mut content_type = String::new();
    for (name, value) in &r.headers {
        match name.as_str() {
            "content-type" => {
                content_type = media_type(value);
                sink.push(
                    "response.header.content-type".into(),
                    Kind::String,
                    value.clone(),
                );
            }
            "date" | "set-cookie" | "etag" | "last-modified" | "expires" | "age" => {}
            n if skipped_header(n) => {}
            n => sink.push(
                format!("response.header.{}", clean_name(n)),
                Kind::String,
                value.clone(),
            ),
        }
    }
    if !r.body.truncated && content_type.ends_with("json") && !r.body.bytes.is_empty() {
        match serde_json::from_slice::<serde_json::Value>(&r.body.bytes) {
            Ok(v) => json(&mut sink, "response.json", &v, 0),
            Err(_) => sink.faults |= fault::BAD_JSON,
        }
    }
    ExtractedResponse {
        status: r.status,
        values: sink.values,
        elapsed_ms: r.elapsed_ms,
    }
}

/// `application/json; charset=utf-8` → `application/json`.
pub fn media_type(v: &str) -> String {
    clean_name(v.split(';').next().unwrap_or("").trim()).to_ascii_lowercase()
}

fn pairs(sink: &mut Sink, prefix: &str, bytes: &[u8]) {
    for (k, v) in form_urlencoded::parse(bytes) {
        sink.push(
            format!("{prefix}{}", clean_name(&k)),
            Kind::String,
            v.into_owned(),
        );
    }
}

fn cookies(sink: &mut Sink, header: &str) {
    for c in header.split(';') {
        let c = c.trim();
        if c.is_empty() {
            continue;
        }
        let (k, v) = c.split_once('=').unwrap_or((c, ""));
        sink.push(
            format!("cookie.{}", clean_name(k.trim())),
            Kind::String,
            decode(v.trim()),
        );
    }
}

fn body_values(sink: &mut Sink, content_type: &str, x: &Exchange, _: &str) {
    let bytes = &x.body.bytes;
    if content_type == "application/json" || content_type.ends_with("+json") {
        match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(v) => json(sink, "json", &v, 0),
            Err(_) => sink.faults |= fault::BAD_JSON,
        }
    } else if content_type == "application/x-www-form-urlencoded" {
        if std::str::from_utf8(bytes).is_err() {
            sink.faults |= fault::BAD_FORM;
        }
        pairs(sink, "form.", bytes);
    } else if content_type == "multipart/form-data" {
        let boundary = x
            .headers
            .iter()
            .find(|(n, _)| n == "content-type")
            .and_then(|(_, v)| boundary(v));
        match boundary {
            Some(b) => multipart(sink, bytes, b.as_bytes()),
            None => sink.faults |= fault::BAD_MULTIPART,
        }
    } else {
        sink.push(
            "body".into(),
            Kind::String,
            String::from_utf8_lossy(bytes).into_owned(),
        );
    }
}

fn json(sink: &mut Sink, path: &str, v: &serde_json::Value, depth: usize) {
    use serde_json::Value as J;
    if depth > MAX_DEPTH {
        sink.faults |= fault::DEEP;
        return;
    }
    match v {
        J::Object(m) => {
            sink.push(path.to_string(), Kind::Object, String::new());
            for (k, v) in m {
                json(sink, &format!("{path}.{}", clean_name(k)), v, depth + 1);
            }
        }
        J::Array(a) => {
            // Elements share one location: `items[]` (an array is not a value with a
            // bracket in it, which the original's flags claimed).
            sink.push(path.to_string(), Kind::Array, String::new());
            let elem = format!("{path}[]");
            for v in a {
                json(sink, &elem, v, depth + 1);
            }
        }
        J::String(s) => sink.push(path.to_string(), Kind::String, s.clone()),
        J::Number(n) => sink.push(path.to_string(), Kind::Number, n.to_string()),
        J::Bool(_) => sink.push(path.to_string(), Kind::Bool, String::new()),
        J::Null => sink.push(path.to_string(), Kind::Null, String::new()),
    }
}

fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        (k.trim().eq_ignore_ascii_case("boundary")).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn multipart(sink: &mut Sink, body: &[u8], boundary: &[u8]) {
    if boundary.is_empty() || boundary.len() > 200 {
        sink.faults |= fault::BAD_MULTIPART;
        return;
    }
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    let finder = memchr::memmem::Finder::new(&delim);
    let starts: Vec<usize> = finder.find_iter(body).take(MAX_PARTS + 1).collect();
    if starts.is_empty() {
        sink.faults |= fault::BAD_MULTIPART;
        return;
    }
    for w in starts.windows(2) {
        let (Some(&a), Some(&b)) = (w.first(), w.get(1)) else {
            continue;
        };
        let part = body.get(a + delim.len()..b).unwrap_or(&[]);
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(split) = memchr::memmem::find(part, b"\r\n\r\n") else {
            sink.faults |= fault::BAD_MULTIPART;
            continue;
        };
        let head = String::from_utf8_lossy(part.get(..split).unwrap_or(&[]));
        let content = part.get(split + 4..).unwrap_or(&[]);
        let mut name = None;
        let mut filename = None;
        for line in head.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                for p in v.split(';').skip(1) {
                    if let Some((pk, pv)) = p.trim().split_once('=') {
                        let pv = pv.trim().trim_matches('"').to_string();
                        match pk.trim().to_ascii_lowercase().as_str() {
                            "name" => name = Some(pv),
                            "filename" => filename = Some(pv),
                            _ => {}
                        }
                    }
                }
            }
        }
        let Some(name) = name else {
            sink.faults |= fault::BAD_MULTIPART;
            continue;
        };
        let name = clean_name(&name);
        match filename {
            Some(f) => sink.push(format!("form.{name}.filename"), Kind::String, f),
            None => sink.push(
                format!("form.{name}"),
                Kind::String,
                String::from_utf8_lossy(content).into_owned(),
            ),
        }
    }
    if starts.len() > MAX_PARTS {
        sink.faults |= fault::TOO_MANY_VALUES;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Exchange {
        Exchange {
            method: method.into(),
            target: target.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Body {
                bytes: body.as_bytes().to_vec(),
                size: body.len() as u64,
                ..Body::default()
            },
            ..Exchange::default()
        }
    }

    fn locs(e: &Extracted) -> Vec<(&str, &str)> {
        e.values
            .iter()
            .map(|v| (v.location.as_str(), v.text.as_str()))
            .collect()
    }

    #[test]
    fn json_paths_keep_their_parents_and_arrays_fold() {
        let x = req(
            "POST",
            "/api/orders?x=1",
            &[("content-type", "application/json")],
            r#"{"user":{"name":"Zoë"},"items":[{"id":1},{"id":2}],"name":"top"}"#,
        );
        let e = extract(&x);
        let l = locs(&e);
        assert!(l.contains(&("json.user.name", "Zoë")));
        assert!(l.contains(&("json.name", "top")));
        assert!(l.contains(&("json.items[].id", "2")));
        assert!(l.contains(&("query.x", "1")));
        assert_eq!(e.content_type, "application/json");
    }

    #[test]
    fn a_top_level_array_and_a_deep_document_are_handled() {
        let x = req(
            "POST",
            "/",
            &[("content-type", "application/json")],
            "[1,[2]]",
        );
        assert!(locs(&extract(&x)).contains(&("json[][]", "2")));
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let e = extract(&req(
            "POST",
            "/",
            &[("content-type", "application/json")],
            &deep,
        ));
        assert_ne!(e.faults & fault::DEEP, 0);
        let deeper = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let e = extract(&req(
            "POST",
            "/",
            &[("content-type", "application/json")],
            &deeper,
        ));
        assert_ne!(e.faults & (fault::DEEP | fault::BAD_JSON), 0);
    }

    #[test]
    fn forms_cookies_multipart_and_forwarded() {
        let x = req(
            "POST",
            "/c/h%C3%A9llo",
            &[
                ("content-type", "multipart/form-data; boundary=XyZ"),
                ("cookie", "sid=abc; theme=dark"),
                ("x-forwarded-for", "203.0.113.9, 10.0.0.1"),
            ],
            "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi there\r\n--XyZ\r\nContent-Disposition: form-data; name=\"up\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x01\x02\r\n--XyZ--\r\n",
        );
        let e = extract(&x);
        let l = locs(&e);
        assert!(l.contains(&("path.1", "héllo")));
        assert!(l.contains(&("form.note", "hi there")));
        assert!(l.contains(&("form.up.filename", "a.png")));
        assert!(l.contains(&("cookie.theme", "dark")));
        assert_eq!(e.forwarded, "10.0.0.1".parse().ok());
        let f = extract(&req(
            "POST",
            "/",
            &[("content-type", "application/x-www-form-urlencoded")],
            "a=1&b=%27x",
        ));
        assert!(locs(&f).contains(&("form.b", "'x")));
    }

    #[test]
    fn names_from_the_request_are_cleaned_and_bounded() {
        assert_eq!(clean_name("a\nb\"c"), "a?b?c");
        assert_eq!(clean_name(&"k".repeat(500)).len(), MAX_NAME + 1);
        let many = (0..1000)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join("&");
        let e = extract(&req("GET", &format!("/?{many}"), &[], ""));
        assert_eq!(e.values.len(), MAX_VALUES);
        assert_ne!(e.faults & fault::TOO_MANY_VALUES, 0);
    }
}
