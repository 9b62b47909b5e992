//! Criteria in words, for the people who review them (`rampart guard explain`, the UI):
//! "`query.q`: text of letters, digits and spaces; punctuation `'` `,` `.`; up to 120
//! characters". Only what the criteria hold is said: a learned Guardian never holds a value,
//! so neither does its description.

use rampart_api::{Criteria, Limit, RouteCriteria, ValueCriteria};

fn kind(k: &str) -> &str {
    match k {
        "string" => "text",
        "number" => "a number",
        "bool" => "true/false",
        "null" => "null",
        "object" => "an object",
        "array" => "a list",
        other => other,
    }
}

fn format_name(f: &str) -> &str {
    match f {
        "integer" => "an integer",
        "decimal" => "a decimal number",
        "uuid" => "a UUID",
        "hex" => "hexadecimal",
        "base64" => "base64",
        "email" => "an email address",
        "date" => "a date",
        "url" => "a URL",
        "word" => "a word (letters, digits, `_`, `-`)",
        other => other,
    }
}

fn sequence(s: &str) -> &str {
    match s {
        "comment" => "comment markers (`--`, `/*`)",
        "hex" => "`0x`",
        "dotdot" => "`../`",
        "expression" => "expressions (`${`, `{{`, `<%`)",
        "scheme" => "URLs (`://`)",
        "control" => "control characters",
        other => other,
    }
}

/// "a, b and c".
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn seen(l: &Option<Limit>) -> bool {
    l.is_some_and(|l| l.p99 > 0)
}

/// One location's criteria in words.
pub fn value(location: &str, v: &ValueCriteria) -> String {
    let mut parts = Vec::new();
    let kinds: Vec<String> = v.kinds.iter().map(|k| kind(k).to_string()).collect();
    let mut what = if kinds.is_empty() {
        "anything".to_string()
    } else {
        kinds.join(" or ")
    };
    if !v.formats.is_empty() {
        let f: Vec<String> = v
            .formats
            .iter()
            .map(|f| format_name(f).to_string())
            .collect();
        what = f.join(" or ");
    }
    let mut classes = Vec::new();
    for (name, l) in [
        ("letters", &v.letters),
        ("digits", &v.digits),
        ("spaces", &v.spaces),
    ] {
        if seen(l) {
            classes.push(name.to_string());
        }
    }
    if v.formats.is_empty() && !classes.is_empty() && v.kinds.iter().any(|k| k == "string") {
        what = format!("{what} of {}", list(&classes));
    }
    parts.push(what);
    match v.one_of.len() {
        0 => {}
        1 => parts.push("always the one value seen".into()),
        n => parts.push(format!("one of the {n} values seen")),
    }
    if let Some(r) = v.range {
        parts.push(format!("from {} to {}", r.min, r.max));
    }
    if v.kinds.iter().any(|k| k == "string") && v.formats.is_empty() {
        if v.specials.is_empty() {
            parts.push("no punctuation".into());
        } else {
            let p: Vec<String> = v
                .specials
                .chars()
                .map(|c| {
                    if c == '`' {
                        "`` ` ``".to_string()
                    } else {
                        format!("`{c}`")
                    }
                })
                .collect();
            parts.push(format!("punctuation {}", p.join(" ")));
        }
    }
    if !v.sequences.is_empty() {
        let s: Vec<String> = v
            .sequences
            .iter()
            .map(|s| sequence(s).to_string())
            .collect();
        parts.push(format!("may hold {}", list(&s)));
    }
    match v.blocks.len() {
        0 => {}
        1 => parts.push("non-ASCII letters from one Unicode block".into()),
        n => parts.push(format!("non-ASCII letters from {n} Unicode blocks")),
    }
    if let Some(l) = v.length {
        parts.push(format!(
            "up to {} characters (median {}, 99 % within {})",
            l.max, l.p50, l.p99
        ));
    }
    format!("`{location}`: {}", parts.join("; "))
}

/// One route's criteria in words: a heading, then one line per location.
pub fn route(r: &RouteCriteria) -> Vec<String> {
    let mut head = vec![format!("{} {}", r.method, r.template)];
    if !r.content_types.is_empty() {
        let t: Vec<String> = r
            .content_types
            .iter()
            .map(|t| {
                if t == "none" {
                    "no body".to_string()
                } else {
                    format!("`{t}`")
                }
            })
            .collect();
        head.push(format!("bodies: {}", list(&t)));
    }
    if let Some(b) = r.body_bytes {
        head.push(format!("bodies up to {} bytes", b.max));
    }
    if !r.statuses.is_empty() {
        let s: Vec<String> = r.statuses.iter().map(u16::to_string).collect();
        head.push(format!("answers {}", s.join(", ")));
    }
    if let Some(ms) = r.response_ms {
        head.push(format!("answers within {} ms", ms.max));
    }
    let mut out = vec![head.join("; ")];
    out.extend(
        r.values
            .iter()
            .map(|(loc, v)| format!("  {}", value(loc, v))),
    );
    out.extend(
        r.response
            .iter()
            .map(|(loc, v)| format!("  {}", value(loc, v))),
    );
    out
}

/// A whole set of criteria in words.
pub fn criteria(c: &Criteria) -> Vec<String> {
    let mut out: Vec<String> = c.routes.iter().flat_map(route).collect();
    if !c.clients.is_empty() {
        out.push(format!("clients from {}", c.clients.join(", ")));
    }
    if !c.peers.is_empty() {
        out.push(format!("the pod connects out to {}", c.peers.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_api::Range;

    fn limit(p50: u32, p99: u32, max: u32) -> Option<Limit> {
        Some(Limit { p50, p99, max })
    }

    #[test]
    fn a_free_text_value_reads_like_a_sentence() {
        let v = ValueCriteria {
            kinds: vec!["string".into()],
            specials: "',.".into(),
            length: limit(14, 60, 120),
            letters: limit(12, 50, 104),
            digits: limit(0, 3, 10),
            spaces: limit(2, 9, 22),
            ..ValueCriteria::default()
        };
        assert_eq!(
            value("query.q", &v),
            "`query.q`: text of letters, digits and spaces; punctuation `'` `,` `.`; \
             up to 120 characters (median 14, 99 % within 60)"
        );
    }

    #[test]
    fn formats_enumerations_and_ranges_are_named() {
        let id = ValueCriteria {
            kinds: vec!["string".into()],
            formats: vec!["integer".into()],
            range: Some(Range { min: 1, max: 500 }),
            ..ValueCriteria::default()
        };
        assert_eq!(value("path.1", &id), "`path.1`: an integer; from 1 to 500");
        let status = ValueCriteria {
            kinds: vec!["string".into()],
            formats: vec!["word".into()],
            one_of: vec!["1".into(), "2".into(), "3".into()],
            ..ValueCriteria::default()
        };
        assert_eq!(
            value("query.status", &status),
            "`query.status`: a word (letters, digits, `_`, `-`); one of the 3 values seen"
        );
        let bare = ValueCriteria {
            kinds: vec!["string".into()],
            sequences: vec!["scheme".into()],
            blocks: vec![2, 3],
            ..ValueCriteria::default()
        };
        assert_eq!(
            value("json.url", &bare),
            "`json.url`: text; no punctuation; may hold URLs (`://`); non-ASCII letters from 2 Unicode blocks"
        );
    }

    #[test]
    fn a_route_has_a_heading_and_a_line_per_location() {
        let mut r = RouteCriteria {
            method: "POST".into(),
            template: "/api/orders".into(),
            content_types: vec!["application/json".into()],
            statuses: vec![201, 400],
            response_ms: limit(3, 20, 250),
            ..RouteCriteria::default()
        };
        r.values.insert(
            "json.qty".into(),
            ValueCriteria {
                kinds: vec!["number".into()],
                ..ValueCriteria::default()
            },
        );
        assert_eq!(
            route(&r),
            vec![
                "POST /api/orders; bodies: `application/json`; answers 201, 400; answers within 250 ms"
                    .to_string(),
                "  `json.qty`: a number".to_string(),
            ]
        );
    }
}
