//! The wire formats, and the signature of the generic webhook.
//!
//! * **webhook**: `application/json`, `{"schema": "rampart.dev/notifications/v1", "source",
//!   "sent_at", "notices": [...]}`; with a secret, `X-Rampart-Signature: t=<unix>,v1=<hex>`
//!   where `v1` is HMAC-SHA256 over `"<t>.<body>"` (receivers check it and the time, which
//!   defeats replays: [`verify`]).
//! * **slack**: a Slack-compatible incoming webhook (`{"text": …}`, mrkdwn), one line per
//!   notice; `&`, `<` and `>` escaped as Slack asks, so cluster text cannot mention
//!   `<!channel>` or forge links.
//! * **cloudevents**: CloudEvents 1.0, HTTP binding, batched content mode
//!   (`application/cloudevents-batch+json`): one event per notice, `type`
//!   `dev.rampart.<kind>`, `data` the notice.

use ring::hmac;
use serde_json::{Value, json};

use crate::notice::{Kind, Notice, Severity};

/// The body's schema name (webhook format).
pub const SCHEMA: &str = "rampart.dev/notifications/v1";
/// The signature header (webhook format).
pub const SIGNATURE_HEADER: &str = "x-rampart-signature";

/// A wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Generic JSON, optionally HMAC-signed.
    Webhook,
    /// Slack-compatible incoming webhook.
    Slack,
    /// CloudEvents 1.0 over HTTP, batched.
    CloudEvents,
}

impl Format {
    /// The name in `--notify KIND=URL`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Webhook => "webhook",
            Format::Slack => "slack",
            Format::CloudEvents => "cloudevents",
        }
    }
}

/// A destination as configured: `KIND=URL` (or `KIND=@FILE`, the URL read from a file — a
/// Slack webhook URL is itself a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sink {
    pub format: Format,
    /// The URL, or the file holding it.
    pub target: Target,
}

/// Where a sink's URL comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Url(String),
    File(String),
}

/// A destination that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    #[error("{0:?}: expected KIND=URL or KIND=@FILE (KIND: webhook, slack, cloudevents)")]
    Shape(String),
    #[error("{0:?}: unknown kind (webhook, slack, cloudevents)")]
    Kind(String),
    #[error("{0:?}: not an http:// or https:// URL")]
    Url(String),
}

impl Sink {
    /// Parses `KIND=URL` or `KIND=@FILE`.
    pub fn parse(spec: &str) -> Result<Sink, SinkError> {
        let (kind, rest) = spec
            .split_once('=')
            .ok_or_else(|| SinkError::Shape(spec.into()))?;
        let format = match kind.trim() {
            "webhook" => Format::Webhook,
            "slack" => Format::Slack,
            "cloudevents" => Format::CloudEvents,
            other => return Err(SinkError::Kind(other.into())),
        };
        let rest = rest.trim();
        let target = match rest.strip_prefix('@') {
            Some(file) if !file.is_empty() => Target::File(file.into()),
            Some(_) => return Err(SinkError::Shape(spec.into())),
            None if rest.starts_with("http://") || rest.starts_with("https://") => {
                Target::Url(rest.into())
            }
            None => return Err(SinkError::Url(redact(rest))),
        };
        Ok(Sink { format, target })
    }
}

/// A URL for error messages and logs: scheme and host only (webhook URLs carry tokens).
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    if scheme.is_empty() {
        "<not a URL>".into()
    } else {
        format!("{scheme}://{host}/…")
    }
}

/// A body ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Extra headers (lower-case names).
    pub headers: Vec<(&'static str, String)>,
}

/// Renders a batch for `format`; `source` names the sender (the engine's instance), `secret`
/// signs webhook bodies, `now` is the send time (Unix seconds).
pub fn render(
    format: Format,
    batch: &[Notice],
    source: &str,
    secret: Option<&[u8]>,
    now: u64,
) -> Rendered {
    match format {
        Format::Webhook => {
            let body = serde_json::to_vec(&json!({
                "schema": SCHEMA,
                "source": source,
                "sent_at": rfc3339(now),
                "notices": batch.iter().map(notice_json).collect::<Vec<_>>(),
            }))
            .unwrap_or_default();
            let mut headers = Vec::new();
            if let Some(key) = secret {
                headers.push((SIGNATURE_HEADER, sign(key, now, &body)));
            }
            Rendered {
                content_type: "application/json",
                body,
                headers,
            }
        }
        Format::Slack => Rendered {
            content_type: "application/json",
            body: serde_json::to_vec(&json!({"text": slack_text(batch, source)}))
                .unwrap_or_default(),
            headers: Vec::new(),
        },
        Format::CloudEvents => {
            let events: Vec<Value> = batch
                .iter()
                .map(|n| {
                    json!({
                        "specversion": "1.0",
                        "id": n.id,
                        "source": format!("rampart.dev/engine/{source}"),
                        "type": n.kind.event_type(),
                        "subject": n.subject,
                        "time": rfc3339(n.at),
                        "datacontenttype": "application/json",
                        "data": notice_json(n),
                    })
                })
                .collect();
            Rendered {
                content_type: "application/cloudevents-batch+json",
                body: serde_json::to_vec(&events).unwrap_or_default(),
                headers: Vec::new(),
            }
        }
    }
}

fn notice_json(n: &Notice) -> Value {
    json!({
        "id": n.id,
        "kind": n.kind,
        "severity": n.severity,
        "at": rfc3339(n.at),
        "subject": n.subject,
        "summary": n.summary,
        "fields": n.fields.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<serde_json::Map<String, Value>>(),
    })
}

/// Slack's escaping: `&`, `<`, `>` (all that mrkdwn needs to be inert).
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn slack_text(batch: &[Notice], source: &str) -> String {
    let mut out = format!(
        "*rampart* ({}): {} notice{}",
        slack_escape(source),
        batch.len(),
        if batch.len() == 1 { "" } else { "s" }
    );
    for n in batch {
        let mark = match n.severity {
            Severity::Critical => ":rotating_light:",
            Severity::Warning => ":warning:",
            Severity::Info => ":information_source:",
        };
        let what = match n.kind {
            Kind::ChainNew => "new chain",
            Kind::ChainCorroborated => "corroborated chain",
            Kind::MitigationPending => "mitigation waiting for approval",
            Kind::MitigationApplied => "mitigation applied",
            Kind::MitigationReverted => "mitigation reverted",
            Kind::MitigationFailed => "mitigation failed",
            Kind::BreakGlass => "break-glass",
            Kind::GuardBlock => "guard block",
        };
        // Backticks would end the code span: none inside it.
        out.push_str(&format!(
            "\n{mark} *{what}* `{}` — {}",
            slack_escape(&n.subject.replace('`', "'")),
            slack_escape(&n.summary)
        ));
    }
    out
}

/// RFC 3339 UTC of Unix seconds.
fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The signature header's value: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn sign(secret: &[u8], t: u64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(t.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("t={t},v1={}", hex(ctx.sign().as_ref()))
}

/// Whether `header` signs `body` with `secret`, made within `tolerance` seconds of `now` (what
/// a receiver checks; the comparison is constant-time).
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: u64, tolerance: u64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<u64>().ok(),
            Some(("v1", v)) => v1 = unhex(v),
            _ => {}
        }
    }
    let (Some(t), Some(mac)) = (t, v1) else {
        return false;
    };
    if t.abs_diff(now) > tolerance {
        return false;
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut msg = t.to_string().into_bytes();
    msg.push(b'.');
    msg.extend_from_slice(body);
    hmac::verify(&key, &msg, &mac).is_ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Vec<Notice> {
        vec![
            Notice::new(
                Kind::ChainNew,
                Severity::Warning,
                1_700_000_000,
                "chain-1",
                "internet → Ingress/shop/<!channel> → Secret/shop/db",
            )
            .field("target", "Secret/shop/db"),
            Notice::new(
                Kind::BreakGlass,
                Severity::Critical,
                1_700_000_001,
                "rampart",
                "engaged by alice",
            ),
        ]
    }

    #[test]
    fn webhook_bodies_are_signed_and_verifiable_once() {
        let r = render(
            Format::Webhook,
            &batch(),
            "e-1",
            Some(b"s3cret"),
            1_700_000_005,
        );
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["notices"][0]["kind"], "chain-new");
        assert_eq!(v["notices"][0]["fields"]["target"], "Secret/shop/db");
        assert_eq!(v["notices"][1]["at"], "2023-11-14T22:13:21Z");
        let (name, sig) = &r.headers[0];
        assert_eq!(*name, SIGNATURE_HEADER);
        assert!(verify(b"s3cret", sig, &r.body, 1_700_000_010, 300));
        assert!(
            !verify(b"other", sig, &r.body, 1_700_000_010, 300),
            "wrong key"
        );
        let mut tampered = r.body.clone();
        tampered[10] ^= 1;
        assert!(
            !verify(b"s3cret", sig, &tampered, 1_700_000_010, 300),
            "tampered"
        );
        assert!(
            !verify(b"s3cret", sig, &r.body, 1_700_009_999, 300),
            "replayed later"
        );
        assert!(!verify(b"s3cret", "t=1,v1=zz", &r.body, 1, 300));
        assert!(!verify(b"s3cret", "", &r.body, 1, 300));
        let unsigned = render(Format::Webhook, &batch(), "e-1", None, 0);
        assert!(unsigned.headers.is_empty());
    }

    #[test]
    fn slack_text_cannot_mention_or_link() {
        let r = render(Format::Slack, &batch(), "e-1", None, 0);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        let text = v["text"].as_str().unwrap();
        assert!(text.starts_with("*rampart* (e-1): 2 notices"), "{text}");
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(text.contains("&lt;!channel&gt;"));
        assert!(text.contains(":rotating_light: *break-glass* `rampart`"));
    }

    #[test]
    fn cloudevents_are_a_batch_of_spec_events() {
        let r = render(Format::CloudEvents, &batch(), "e-1", None, 0);
        assert_eq!(r.content_type, "application/cloudevents-batch+json");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        let e = &v[0];
        for k in ["specversion", "id", "source", "type", "time"] {
            assert!(e[k].is_string(), "required attribute {k}");
        }
        assert_eq!(e["specversion"], "1.0");
        assert_eq!(e["type"], "dev.rampart.chain.new");
        assert_eq!(e["source"], "rampart.dev/engine/e-1");
        assert_eq!(v[1]["type"], "dev.rampart.break.glass");
    }

    #[test]
    fn sinks_parse_and_urls_are_redacted() {
        assert_eq!(
            Sink::parse("slack=@/etc/rampart/slack").unwrap().target,
            Target::File("/etc/rampart/slack".into())
        );
        let s = Sink::parse("cloudevents=https://broker.example/ns/default").unwrap();
        assert_eq!(s.format, Format::CloudEvents);
        assert!(matches!(
            Sink::parse("pager=https://x"),
            Err(SinkError::Kind(_))
        ));
        assert!(matches!(Sink::parse("webhook"), Err(SinkError::Shape(_))));
        assert!(matches!(
            Sink::parse("webhook=ftp://x"),
            Err(SinkError::Url(_))
        ));
        assert_eq!(
            redact("https://user:pw@hooks.slack.com/services/T0/B0/XYZ?x=1"),
            "https://hooks.slack.com/…"
        );
    }
}
