//! Falco alerts: the JSON Falco's `json_output` / `http_output` writes and falcosidekick's
//! webhook forwards — one alert, a JSON array of alerts, or JSON lines.
//!
//! Keys are matched case-insensitively because real forwarders send `"Rule"` (Go's
//! `encoding/json` accepts it, so tools built on it do too); missing `hostname`, `source` and
//! `tags` (2016-era Falco) default to empty; `output_fields` values may be strings, numbers,
//! booleans or null. Only the fields rampart uses are kept, each length-bounded.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::bounded::{MAX_NAME, MAX_TAGS, MAX_TEXT, MAX_TOKEN, truncate};

/// Most alerts accepted in one request.
pub const MAX_BATCH: usize = 10_000;

const TOO_MANY: &str = "too many alerts in one request";

/// Falco's priorities, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Priority {
    /// `Emergency`.
    Emergency,
    /// `Alert`.
    Alert,
    /// `Critical`.
    Critical,
    /// `Error`.
    Error,
    /// `Warning`.
    Warning,
    /// `Notice`.
    Notice,
    /// `Informational` (also `Info`).
    Informational,
    /// `Debug`.
    Debug,
}

impl Priority {
    /// Parses a priority, ignoring case.
    pub fn parse(s: &str) -> Option<Priority> {
        const ALL: [(&str, Priority); 9] = [
            ("emergency", Priority::Emergency),
            ("alert", Priority::Alert),
            ("critical", Priority::Critical),
            ("error", Priority::Error),
            ("warning", Priority::Warning),
            ("notice", Priority::Notice),
            ("informational", Priority::Informational),
            ("info", Priority::Informational),
            ("debug", Priority::Debug),
        ];
        ALL.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, p)| *p)
    }

    /// The name Falco prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }
}

/// The `output_fields` rampart reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// `k8s.ns.name`.
    pub namespace: Option<String>,
    /// `k8s.pod.name`.
    pub pod: Option<String>,
    /// `container.id`.
    pub container_id: Option<String>,
    /// `container.image.repository`.
    pub image: Option<String>,
    /// `proc.cmdline`.
    pub cmdline: Option<String>,
    /// `fd.name` (file or connection).
    pub fd_name: Option<String>,
    /// The connection's ends, when the rule's output carries them.
    pub net: NetFields,
}

/// The socket fields of an alert's `output_fields`, as Falco prints them (addresses and ports as
/// text): the client and server ends (`fd.cip`, `fd.cport`, `fd.sip`, `fd.sport`), the local and
/// remote ends (`fd.lip`, `fd.lport`, `fd.rip`, `fd.rport`), `fd.l4proto` and `evt.type`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetFields {
    /// `fd.cip`.
    pub cip: Option<String>,
    /// `fd.cport`.
    pub cport: Option<String>,
    /// `fd.sip`.
    pub sip: Option<String>,
    /// `fd.sport`.
    pub sport: Option<String>,
    /// `fd.lip`.
    pub lip: Option<String>,
    /// `fd.lport`.
    pub lport: Option<String>,
    /// `fd.rip`.
    pub rip: Option<String>,
    /// `fd.rport`.
    pub rport: Option<String>,
    /// `fd.l4proto` (`tcp`, `udp`, …).
    pub l4proto: Option<String>,
    /// `evt.type` (`connect`, `accept`, …).
    pub evt_type: Option<String>,
}

/// One Falco alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Rule name.
    pub rule: String,
    /// Priority.
    pub priority: Priority,
    /// Event source (`syscall`, `k8s_audit`, …); empty when absent.
    pub source: String,
    /// Host that raised it; empty when absent.
    pub hostname: String,
    /// Rule tags.
    pub tags: Vec<String>,
    /// `time` as sent (RFC 3339).
    pub time: String,
    /// The human-readable output, truncated.
    pub output: String,
    /// Selected output fields.
    pub fields: Fields,
}

/// Why an alert was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FalcoError {
    /// Not JSON, or not the shape of an alert.
    #[error("malformed alert: {0}")]
    Malformed(String),
    /// No `rule`.
    #[error("alert without a rule")]
    MissingRule,
    /// No or an unknown `priority`.
    #[error("alert without a known priority")]
    BadPriority,
    /// A Kubernetes name longer than any valid one.
    #[error("{0} longer than {MAX_NAME} bytes")]
    NameTooLong(&'static str),
    /// More alerts than [`MAX_BATCH`].
    #[error("more than {MAX_BATCH} alerts in one request")]
    TooMany,
    /// Nothing in the body.
    #[error("empty body")]
    Empty,
}

/// What one request held: the alerts read and the ones refused.
#[derive(Debug, Default)]
pub struct Batch {
    /// Alerts read.
    pub alerts: Vec<Alert>,
    /// Alerts refused, with the first reason.
    pub refused: usize,
    /// The first refusal.
    pub first_error: Option<FalcoError>,
}

impl Batch {
    fn push(&mut self, r: Result<Alert, FalcoError>) {
        match r {
            Ok(a) => self.alerts.push(a),
            Err(e) => {
                self.refused += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }
}

/// Parses a request body: one alert, a JSON array of alerts, or one alert per line. A body
/// that is not JSON at all is an error; alerts that are individually wrong are counted in the
/// batch and skipped.
pub fn parse_body(body: &[u8]) -> Result<Batch, FalcoError> {
    let trimmed = body.trim_ascii();
    let mut batch = Batch::default();
    match trimmed.first() {
        None => return Err(FalcoError::Empty),
        Some(b'[') => {
            let items: BoundedSeq = serde_json::from_slice(trimmed).map_err(|e| {
                let msg = e.to_string();
                if msg.starts_with(TOO_MANY) {
                    FalcoError::TooMany
                } else {
                    FalcoError::Malformed(truncate(&msg, MAX_TOKEN))
                }
            })?;
            for raw in items.0 {
                batch.push(parse_alert(raw.get().as_bytes()));
            }
        }
        Some(_) => {
            // One alert (possibly pretty-printed), else one alert per line.
            let whole = parse_alert(trimmed);
            if whole.is_ok() || !trimmed.contains(&b'\n') {
                return whole.map(|a| Batch {
                    alerts: vec![a],
                    ..Batch::default()
                });
            }
            for line in trimmed.split(|b| *b == b'\n') {
                let line = line.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                if batch.alerts.len() + batch.refused >= MAX_BATCH {
                    return Err(FalcoError::TooMany);
                }
                batch.push(parse_alert(line));
            }
        }
    }
    Ok(batch)
}

/// Parses one alert.
pub fn parse_alert(json: &[u8]) -> Result<Alert, FalcoError> {
    let raw: RawAlert = serde_json::from_slice(json)
        .map_err(|e| FalcoError::Malformed(truncate(&e.to_string(), MAX_TOKEN)))?;
    raw.finish()
}

struct BoundedSeq<'a>(Vec<&'a RawValue>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for BoundedSeq<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = BoundedSeq<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of alerts")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<&'de RawValue>()? {
                    if out.len() == MAX_BATCH {
                        return Err(de::Error::custom(TOO_MANY));
                    }
                    out.push(v);
                }
                Ok(BoundedSeq(out))
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

#[derive(Default)]
struct RawAlert {
    rule: Option<String>,
    priority: Option<String>,
    source: String,
    hostname: String,
    tags: Vec<String>,
    time: String,
    output: String,
    fields: Fields,
    name_too_long: Option<&'static str>,
}

impl RawAlert {
    fn finish(self) -> Result<Alert, FalcoError> {
        if let Some(f) = self.name_too_long {
            return Err(FalcoError::NameTooLong(f));
        }
        let rule = self
            .rule
            .filter(|r| !r.is_empty())
            .ok_or(FalcoError::MissingRule)?;
        let priority = self
            .priority
            .as_deref()
            .and_then(Priority::parse)
            .ok_or(FalcoError::BadPriority)?;
        Ok(Alert {
            rule,
            priority,
            source: self.source,
            hostname: self.hostname,
            tags: self.tags,
            time: self.time,
            output: self.output,
            fields: self.fields,
        })
    }
}

/// A JSON scalar as text (strings as they are, numbers and booleans printed, null as none),
/// bounded to `MAX` bytes.
struct Text<const MAX: usize>(Option<String>);

impl<'de, const MAX: usize> serde::Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const MAX: usize>;
        impl<'de, const MAX: usize> Visitor<'de> for V<MAX> {
            type Value = Text<MAX>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(truncate(v, MAX))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text(None))
            }
        }
        d.deserialize_any(V::<MAX>)
    }
}

/// A Kubernetes name: longer than [`MAX_NAME`] is kept whole only to be refused.
struct Name(Option<String>, bool);

impl<'de> serde::Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a name")
            }
            // Measured before anything is kept: a long name is refused, never truncated.
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name, E> {
                Ok(if v.len() > MAX_NAME {
                    Name(None, true)
                } else {
                    Name(Some(v.to_string()), false)
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Name, E> {
                Ok(Name(Some(v.to_string()), false))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Name, E> {
                Ok(Name(Some(v.to_string()), false))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Name, E> {
                Ok(Name(Some(v.to_string()), false))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Name, E> {
                Ok(Name(Some(v.to_string()), false))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Name, E> {
                Ok(Name(None, false))
            }
        }
        d.deserialize_any(V)
    }
}

struct Tags(Vec<String>);

impl<'de> serde::Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tags;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of tags")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Tags(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(Text::<MAX_TOKEN>(t)) = seq.next_element()? {
                    if let Some(t) = t
                        && out.len() < MAX_TAGS
                    {
                        out.push(t);
                    }
                }
                Ok(Tags(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Top-level keys, matched ignoring case.
enum Key {
    Rule,
    Priority,
    Source,
    Hostname,
    Tags,
    Time,
    Output,
    OutputFields,
    Other,
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                let k = |name: &str| name.eq_ignore_ascii_case(v);
                Ok(if k("rule") {
                    Key::Rule
                } else if k("priority") {
                    Key::Priority
                } else if k("source") {
                    Key::Source
                } else if k("hostname") {
                    Key::Hostname
                } else if k("tags") {
                    Key::Tags
                } else if k("time") {
                    Key::Time
                } else if k("output") {
                    Key::Output
                } else if k("output_fields") {
                    Key::OutputFields
                } else {
                    Key::Other
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de> serde::Deserialize<'de> for RawAlert {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawAlert;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Falco alert object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawAlert, A::Error> {
                let mut a = RawAlert::default();
                while let Some(k) = map.next_key::<Key>()? {
                    match k {
                        Key::Rule => a.rule = map.next_value::<Text<MAX_TOKEN>>()?.0,
                        Key::Priority => a.priority = map.next_value::<Text<MAX_TOKEN>>()?.0,
                        Key::Source => {
                            a.source = map.next_value::<Text<MAX_TOKEN>>()?.0.unwrap_or_default();
                        }
                        Key::Hostname => {
                            a.hostname = map.next_value::<Text<MAX_NAME>>()?.0.unwrap_or_default();
                        }
                        Key::Tags => a.tags = map.next_value::<Tags>()?.0,
                        Key::Time => {
                            a.time = map.next_value::<Text<MAX_TOKEN>>()?.0.unwrap_or_default();
                        }
                        Key::Output => {
                            a.output = map.next_value::<Text<MAX_TEXT>>()?.0.unwrap_or_default();
                        }
                        Key::OutputFields => {
                            let f = map.next_value::<RawFields>()?;
                            a.fields = f.fields;
                            a.name_too_long = a.name_too_long.or(f.name_too_long);
                        }
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(a)
            }
        }
        d.deserialize_map(V)
    }
}

fn name<'de, A: MapAccess<'de>>(
    map: &mut A,
    field: &'static str,
    too_long: &mut Option<&'static str>,
) -> Result<Option<String>, A::Error> {
    let Name(v, long) = map.next_value()?;
    if long {
        too_long.get_or_insert(field);
    }
    Ok(v)
}

#[derive(Default)]
struct RawFields {
    fields: Fields,
    name_too_long: Option<&'static str>,
}

impl<'de> serde::Deserialize<'de> for RawFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("output_fields")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawFields, E> {
                Ok(RawFields::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFields, A::Error> {
                let mut r = RawFields::default();
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let f = &mut r.fields;
                    let long = &mut r.name_too_long;
                    match k.as_ref() {
                        "k8s.ns.name" => f.namespace = name(&mut map, "k8s.ns.name", long)?,
                        "k8s.pod.name" => f.pod = name(&mut map, "k8s.pod.name", long)?,
                        "container.id" => f.container_id = name(&mut map, "container.id", long)?,
                        "container.image.repository" => {
                            f.image = map.next_value::<Text<MAX_TOKEN>>()?.0;
                        }
                        "proc.cmdline" => f.cmdline = map.next_value::<Text<MAX_TEXT>>()?.0,
                        "fd.name" => f.fd_name = map.next_value::<Text<MAX_TEXT>>()?.0,
                        "fd.cip" | "fd.cport" | "fd.sip" | "fd.sport" | "fd.lip" | "fd.lport"
                        | "fd.rip" | "fd.rport" | "fd.l4proto" | "evt.type" => {
                            let v = map.next_value::<Text<MAX_NAME>>()?.0;
                            let n = &mut f.net;
                            *match k.as_ref() {
                                "fd.cip" => &mut n.cip,
                                "fd.cport" => &mut n.cport,
                                "fd.sip" => &mut n.sip,
                                "fd.sport" => &mut n.sport,
                                "fd.lip" => &mut n.lip,
                                "fd.lport" => &mut n.lport,
                                "fd.rip" => &mut n.rip,
                                "fd.rport" => &mut n.rport,
                                "fd.l4proto" => &mut n.l4proto,
                                _ => &mut n.evt_type,
                            } = v;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(r)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// falcosidekick's README example carries the connection's remote end; ports may be numbers.
    #[test]
    fn socket_fields_are_read() {
        let b = parse_body(
            br#"{"output":"Test","priority":"Critical","rule":"Test NetworkPolicy","output_fields":{"k8s.pod.name":"static-web","k8s.ns.name":"default","fd.rip":"8.8.8.8","fd.rport":"8888","fd.lport":41000,"fd.l4proto":"tcp","evt.type":"connect"}}"#,
        )
        .unwrap();
        let n = &b.alerts[0].fields.net;
        assert_eq!(n.rip.as_deref(), Some("8.8.8.8"));
        assert_eq!(n.rport.as_deref(), Some("8888"));
        assert_eq!(n.lport.as_deref(), Some("41000"));
        assert_eq!(n.l4proto.as_deref(), Some("tcp"));
        assert_eq!(n.evt_type.as_deref(), Some("connect"));
        assert_eq!(n.cip, None);
    }

    #[test]
    fn keys_ignore_case_and_numbers_become_text() {
        let a = parse_alert(
            br#"{"Rule":"Test","PRIORITY":"warning","output_fields":{"k8s.pod.name":"p","k8s.ns.name":"n","fd.name":8888,"x":{"y":[1]}}}"#,
        )
        .unwrap();
        assert_eq!(a.rule, "Test");
        assert_eq!(a.priority, Priority::Warning);
        assert_eq!(a.fields.pod.as_deref(), Some("p"));
        assert_eq!(a.fields.fd_name.as_deref(), Some("8888"));
        assert!(a.tags.is_empty() && a.hostname.is_empty());
    }

    #[test]
    fn refusals_are_errors_not_panics() {
        assert_eq!(
            parse_alert(br#"{"priority":"Warning"}"#),
            Err(FalcoError::MissingRule)
        );
        assert_eq!(
            parse_alert(br#"{"rule":"r","priority":"loud"}"#),
            Err(FalcoError::BadPriority)
        );
        let long = "a".repeat(300);
        assert_eq!(
            parse_alert(
                format!(r#"{{"rule":"r","priority":"Debug","output_fields":{{"k8s.pod.name":"{long}"}}}}"#)
                    .as_bytes()
            ),
            Err(FalcoError::NameTooLong("k8s.pod.name"))
        );
        assert!(matches!(parse_alert(b"[1]"), Err(FalcoError::Malformed(_))));
        assert!(matches!(parse_body(b"  "), Err(FalcoError::Empty)));
        assert!(matches!(
            parse_body(b"{nope"),
            Err(FalcoError::Malformed(_))
        ));
    }

    #[test]
    fn long_text_is_truncated() {
        let long = "é".repeat(2000);
        let a = parse_alert(
            format!(r#"{{"rule":"r","priority":"Debug","output":"{long}","tags":["t",null,3]}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert!(a.output.len() <= MAX_TEXT);
        assert_eq!(a.tags, vec!["t".to_string(), "3".to_string()]);
    }

    #[test]
    fn batches_count_bad_alerts_and_keep_good_ones() {
        let b = parse_body(
            br#"[{"rule":"a","priority":"Debug"},{"priority":"Debug"},{"rule":"b","priority":"Notice"}]"#,
        )
        .unwrap();
        assert_eq!(b.alerts.len(), 2);
        assert_eq!(b.refused, 1);
        let lines =
            parse_body(b"{\"rule\":\"a\",\"priority\":\"Debug\"}\n\n{\"rule\":\"b\"}\n").unwrap();
        assert_eq!((lines.alerts.len(), lines.refused), (1, 1));
        let too_many = format!("[{}]", vec!["{}"; MAX_BATCH + 1].join(","));
        assert!(matches!(
            parse_body(too_many.as_bytes()),
            Err(FalcoError::TooMany)
        ));
        // A name of multi-byte characters over the bound is refused, not truncated into it.
        let wide = "é".repeat(130);
        assert_eq!(
            parse_alert(
                format!(r#"{{"rule":"r","priority":"Debug","output_fields":{{"k8s.ns.name":"{wide}"}}}}"#)
                    .as_bytes()
            ),
            Err(FalcoError::NameTooLong("k8s.ns.name"))
        );
    }
}
