//! HAR 1.2 input (what browsers and proxies export): `log.entries[]` turned into
//! [`Exchange`]s. Bounded: the caller caps the file size; entries, headers and bodies are
//! capped here; errors say where the file is wrong.

use std::net::IpAddr;

use base64::Engine;
use serde::Deserialize;

use crate::exchange::{Body, Exchange, Response};

/// At most this many entries are read.
pub const MAX_ENTRIES: usize = 1_000_000;
/// At most this many headers per request or response.
pub const MAX_HEADERS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum HarError {
    #[error("not a HAR file: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the HAR file has {0} entries; at most {MAX_ENTRIES} are read")]
    TooManyEntries(usize),
    #[error("entry {index}: {why}")]
    Entry { index: usize, why: String },
}

#[derive(Deserialize)]
struct Har {
    log: Log,
}

#[derive(Deserialize)]
struct Log {
    #[serde(default)]
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    request: Request,
    #[serde(default)]
    response: Option<HarResponse>,
    #[serde(default)]
    time: Option<f64>,
    #[serde(default)]
    connection: Option<String>,
    #[serde(default, rename = "_session")]
    session: Option<String>,
    #[serde(default, rename = "_clientAddress")]
    client_address: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<Pair>,
    #[serde(default)]
    query_string: Vec<Pair>,
    #[serde(default)]
    post_data: Option<PostData>,
}

#[derive(Deserialize)]
struct Pair {
    name: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostData {
    #[serde(default)]
    mime_type: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    params: Vec<Pair>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HarResponse {
    #[serde(default)]
    status: i64,
    #[serde(default)]
    headers: Vec<Pair>,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

/// One recorded request with who sent it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub exchange: Exchange,
    /// `_session`, else the HAR `connection` id; `None` makes each entry its own session.
    pub session: Option<String>,
    /// `_clientAddress`, else the first `X-Forwarded-For` hop.
    pub client: Option<IpAddr>,
}

/// Reads a HAR document; `body_cap` bounds each body kept (more sets `truncated`).
pub fn read(bytes: &[u8], body_cap: usize) -> Result<Vec<Recorded>, HarError> {
    let har: Har = serde_json::from_slice(bytes)?;
    let n = har.log.entries.len();
    if n > MAX_ENTRIES {
        return Err(HarError::TooManyEntries(n));
    }
    har.log
        .entries
        .into_iter()
        .enumerate()
        .map(|(index, e)| entry(e, body_cap).map_err(|why| HarError::Entry { index, why }))
        .collect()
}

fn headers(pairs: Vec<Pair>) -> Result<Vec<(String, String)>, String> {
    if pairs.len() > MAX_HEADERS {
        return Err(format!("{} headers; at most {MAX_HEADERS}", pairs.len()));
    }
    Ok(pairs
        .into_iter()
        .map(|p| (p.name.to_ascii_lowercase(), p.value))
        .collect())
}

fn body(bytes: Vec<u8>, cap: usize) -> Body {
    let size = bytes.len() as u64;
    let truncated = bytes.len() > cap;
    let mut bytes = bytes;
    bytes.truncate(cap);
    Body {
        bytes,
        truncated,
        size,
        ..Body::default()
    }
}

fn entry(e: Entry, cap: usize) -> Result<Recorded, String> {
    let r = e.request;
    if r.method.is_empty() || r.method.len() > 32 {
        return Err("request.method is empty or too long".into());
    }
    let target = target(&r.url, &r.query_string)?;
    let mut hs = headers(r.headers)?;
    // HTTP/2 pseudo-headers are not headers of the request.
    hs.retain(|(n, _)| !n.starts_with(':'));
    let mut b = Body::default();
    if let Some(p) = r.post_data {
        let text = match p.text {
            Some(t) => t,
            None => form_urlencoded::Serializer::new(String::new())
                .extend_pairs(p.params.iter().map(|x| (&x.name, &x.value)))
                .finish(),
        };
        if !p.mime_type.is_empty() && !hs.iter().any(|(n, _)| n == "content-type") {
            hs.push(("content-type".into(), p.mime_type));
        }
        b = body(text.into_bytes(), cap);
    }
    let client = e
        .client_address
        .as_deref()
        .and_then(|a| a.trim().parse().ok())
        .or_else(|| {
            hs.iter()
                .find(|(n, _)| n == "x-forwarded-for")
                .and_then(|(_, v)| v.split(',').next())
                .and_then(|h| h.trim().parse().ok())
        });
    let response = match e.response {
        Some(resp) if resp.status > 0 => {
            let content = resp.content.unwrap_or(Content {
                text: None,
                encoding: None,
            });
            let bytes = match (content.text, content.encoding.as_deref()) {
                (Some(t), Some("base64")) => base64::engine::general_purpose::STANDARD
                    .decode(t.as_bytes())
                    .map_err(|_| "response.content.text is not base64".to_string())?,
                (Some(t), _) => t.into_bytes(),
                (None, _) => Vec::new(),
            };
            Some(Response {
                status: u16::try_from(resp.status).map_err(|_| "response.status out of range")?,
                headers: headers(resp.headers)?,
                body: body(bytes, cap),
                elapsed_ms: e
                    .time
                    .filter(|t| t.is_finite() && *t >= 0.0)
                    .map_or(0, |t| t.min(f64::from(u32::MAX)) as u32),
            })
        }
        _ => None,
    };
    Ok(Recorded {
        exchange: Exchange {
            method: r.method.to_ascii_uppercase(),
            target,
            headers: hs,
            body: b,
            client,
            response,
        },
        session: e.session.or(e.connection),
        client,
    })
}

/// The request target of a HAR url: its path and query (HAR also lists the query apart; the
/// url is authoritative, the list is used when the url has none).
fn target(url: &str, query: &[Pair]) -> Result<String, String> {
    let rest = match url.find("://") {
        Some(i) => {
            let after = url.get(i + 3..).unwrap_or("");
            match after.find(['/', '?']) {
                Some(j) => after.get(j..).unwrap_or("/").to_string(),
                None => "/".to_string(),
            }
        }
        None if url.starts_with('/') => url.to_string(),
        None => return Err("request.url is neither absolute nor a path".into()),
    };
    let mut t = if rest.starts_with('?') {
        format!("/{rest}")
    } else {
        rest
    };
    if !t.contains('?') && !query.is_empty() {
        t.push('?');
        t.push_str(
            &form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter().map(|x| (&x.name, &x.value)))
                .finish(),
        );
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_requests_responses_and_origins() {
        let har = br#"{"log":{"version":"1.2","entries":[
          {"time":12.5,"_clientAddress":"198.51.100.7","connection":"c1",
           "request":{"method":"post","url":"https://shop.example/api/items?x=1","httpVersion":"HTTP/1.1",
             "headers":[{"name":"Content-Type","value":"application/json"},{"name":":authority","value":"shop.example"}],
             "queryString":[{"name":"x","value":"1"}],
             "postData":{"mimeType":"application/json","text":"{\"a\":1}"}},
           "response":{"status":201,"headers":[{"name":"Content-Type","value":"application/json"}],
             "content":{"size":8,"mimeType":"application/json","text":"eyJpZCI6N30=","encoding":"base64"}}},
          {"request":{"method":"GET","url":"http://h/search","queryString":[{"name":"q","value":"a b"}],"headers":[]},
           "response":{"status":0}}
        ]}}"#;
        let r = read(har, 1024).unwrap_or_default();
        assert_eq!(r.len(), 2);
        let a = &r[0];
        assert_eq!(a.exchange.method, "POST");
        assert_eq!(a.exchange.target, "/api/items?x=1");
        assert_eq!(a.exchange.headers.len(), 1);
        assert_eq!(a.session.as_deref(), Some("c1"));
        assert_eq!(a.client, "198.51.100.7".parse().ok());
        let resp = a
            .exchange
            .response
            .as_ref()
            .map(|r| (r.status, r.body.bytes.clone(), r.elapsed_ms));
        assert_eq!(resp, Some((201, br#"{"id":7}"#.to_vec(), 12)));
        assert_eq!(r[1].exchange.target, "/search?q=a+b");
        assert!(r[1].exchange.response.is_none());
    }

    #[test]
    fn errors_say_where() {
        let e = read(
            br#"{"log":{"entries":[{"request":{"method":"GET","url":"nope"}}]}}"#,
            10,
        );
        assert!(matches!(e, Err(HarError::Entry { index: 0, .. })), "{e:?}");
        assert!(matches!(read(b"[", 10), Err(HarError::Json(_))));
        let big = read(br#"{"log":{"entries":[{"request":{"method":"POST","url":"/","postData":{"mimeType":"text/plain","text":"0123456789abc"}}}]}}"#, 10).unwrap_or_default();
        assert!(
            big.first()
                .is_some_and(|r| r.exchange.body.truncated && r.exchange.body.bytes.len() == 10)
        );
    }
}
