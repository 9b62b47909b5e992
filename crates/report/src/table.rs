//! Human-readable rendering of a scan report.
//!
//! Nearly every field is the cluster's (names, hosts, paths, images, alert text), so every line
//! is written through [`Safe`]: escaping whole lines cannot miss a field added later.

use std::fmt::Write;

use crate::scan::{ChainOut, ScanReport};
use crate::text::Safe;

/// `writeln!` of one table line, its text passed through [`Safe`]. A format string holds no
/// newline: a blank line is its own `out.push('\n')`.
macro_rules! safe_line {
    ($out:expr, $($arg:tt)*) => {{
        // Writing to a String cannot fail.
        let _ = writeln!($out, "{}", Safe(format_args!($($arg)*)));
    }};
}

fn chain_lines(out: &mut String, c: &ChainOut) {
    let technique = c
        .target
        .technique
        .as_ref()
        .map(|t| format!(" [{} {}]", t.id, t.name))
        .unwrap_or_default();
    safe_line!(
        out,
        "  {}  {:?}  → {}{technique} ({} steps)",
        c.id,
        c.confidence,
        c.target,
        c.length
    );
    if let Some(f) = &c.foothold {
        for e in &f.exploits {
            let epss = e
                .epss
                .map(|s| {
                    format!(
                        " [EPSS {:.2}, percentile {:.2}]",
                        s.epss,
                        s.percentile * 100.0
                    )
                })
                .unwrap_or_default();
            safe_line!(
                out,
                "      foothold: {} in {} ({}, container {}): {}{epss}",
                e.cve,
                e.package,
                e.image,
                e.container,
                e.why
            );
        }
    }
    if let Some(j) = &c.judgement {
        match &j.error {
            Some(e) => safe_line!(out, "      judged: unknown ({e})"),
            None => safe_line!(
                out,
                "      judged: {} ({:.2}, {}): {}",
                j.verdict.as_str().replace('_', " "),
                j.confidence,
                j.model,
                j.reason
            ),
        }
    }
    for e in &c.evidence {
        safe_line!(
            out,
            "      seen: {} by {} at {}: {}",
            e.behaviour,
            e.subject,
            e.at,
            e.summary
        );
    }
    for s in &c.steps {
        let ports = s
            .ports
            .as_deref()
            .map(|p| format!("  [{p}]"))
            .unwrap_or_default();
        safe_line!(out, "      {:<19} {} → {}{ports}", s.edge, s.from, s.to);
    }
    if let Some(ch) = &c.cheapest_cut {
        safe_line!(
            out,
            "      cheapest cut: {} {} → {} (cost {})",
            ch.edge,
            ch.from,
            ch.to,
            ch.cost
        );
    }
}

/// Renders the report as text.
pub fn render(r: &ScanReport) -> String {
    let mut out = String::new();
    let s = &r.summary;
    let targets: Vec<String> = s
        .by_target
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    safe_line!(
        out,
        "rampart scan: {} chain(s) from {} internet-facing entr{} ({}); {} targets reachable; {} workloads, {} pods, {} endpoints",
        s.chains,
        s.entries_with_chains,
        if s.entries_with_chains == 1 {
            "y"
        } else {
            "ies"
        },
        if targets.is_empty() {
            "none".into()
        } else {
            targets.join(", ")
        },
        s.jewels_reachable,
        s.workloads,
        s.pods,
        s.endpoints
    );
    if s.truncated_entries > 0 {
        safe_line!(
            out,
            "({} entr{} have more chains than listed; --max-chains-per-entry 0 lists all)",
            s.truncated_entries,
            if s.truncated_entries == 1 { "y" } else { "ies" }
        );
    }
    let mut current = String::new();
    for c in &r.chains {
        let key = format!("{} ({})", c.entry.object.object, c.entry.detail);
        if key != current {
            out.push('\n');
            safe_line!(out, "ENTRY {key}");
            current = key;
        }
        chain_lines(&mut out, c);
    }
    if !r.cuts.is_empty() {
        out.push('\n');
        safe_line!(
            out,
            "MINIMAL CUT: cost {}, {} cut(s), {} live",
            s.cut_cost,
            s.cuts,
            s.live_cuts
        );
        for c in &r.cuts {
            safe_line!(
                out,
                "  {}  {:<7} cost {:<3} {} {} → {}  (breaks {} chain(s))",
                c.id,
                c.action,
                c.cost,
                c.edge,
                c.from,
                c.to,
                c.breaks.len()
            );
            if !c.fix.is_empty() {
                safe_line!(out, "      fix: {}", c.fix);
            }
            for n in &c.notes {
                safe_line!(out, "      note: {n}");
            }
        }
    }
    if let Some(w) = &r.what_if {
        out.push('\n');
        safe_line!(
            out,
            "WHAT-IF: {} fix(es) applied, {} chain(s) remain",
            w.applied.len(),
            w.remaining_chains
        );
        for c in &w.chains {
            chain_lines(&mut out, c);
        }
    }
    let i = &r.inputs;
    out.push('\n');
    safe_line!(out, "inputs: {} file(s), {} object(s)", i.files, i.objects);
    if !i.ignored_kinds.is_empty() {
        let k: Vec<String> = i
            .ignored_kinds
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect();
        safe_line!(out, "  not modelled: {}", k.join(", "));
    }
    for e in &i.errors {
        safe_line!(
            out,
            "  error: {}:{} (document {}): {}",
            e.file,
            e.line,
            e.document,
            e.message
        );
    }
    for w in &i.warnings {
        safe_line!(out, "  warning: {w}");
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use rampart_graph::model::ObjRef;
    use rampart_signals::corroborate::Corroboration;
    use rampart_signals::foothold::{Exploit, Foothold};
    use rampart_signals::vulns::Severity;

    use super::*;
    use crate::scan::{Cheapest, CutOut, Entry, InputError, Located, Step, Summary, Target};
    use crate::text::is_unsafe_char;
    use crate::{InputSummary, scan};

    /// A name that clears the screen, retitles the window and reverses the text after it.
    pub(crate) const EVIL: &str = "web\x1b[2J\x1b]0;owned\x07\u{202e}gnp.exe\nFAKE LINE\t\u{9b}";

    /// A report every string of which is [`EVIL`] (the SARIF tests use it too).
    pub(crate) fn hostile_report() -> ScanReport {
        let obj = |kind: &str| ObjRef::new(kind, EVIL, EVIL);
        let chain = ChainOut {
            id: "chain-1".into(),
            confidence: rampart_graph::Confidence::Proven,
            entry: Entry {
                object: Located {
                    object: obj("Service"),
                    file: Some(EVIL.into()),
                    line: Some(1),
                },
                endpoint: "LoadBalancer".into(),
                detail: format!("{EVIL}:443 {EVIL}/path"),
                cut: None,
            },
            target: Target {
                kind: "Secret",
                namespace: Some(EVIL.into()),
                name: EVIL.into(),
                object: None,
                technique: Some(rampart_graph::Technique::ContainerApiCredentials.into()),
            },
            steps: vec![Step {
                edge: "routes-to".into(),
                from: obj("Service"),
                to: obj("Deployment"),
                ports: Some(EVIL.into()),
                evidence: Vec::new(),
                cut: None,
            }],
            length: 1,
            cheapest_cut: Some(Cheapest {
                edge: "routes-to".into(),
                from: obj("Service"),
                to: obj("Deployment"),
                cost: 1,
            }),
            foothold: Some(Foothold {
                workload: EVIL.into(),
                exploits: vec![Exploit {
                    cve: EVIL.into(),
                    severity: Severity::Critical,
                    kev: true,
                    epss: None,
                    package: EVIL.into(),
                    image: EVIL.into(),
                    container: EVIL.into(),
                    why: EVIL.into(),
                }],
                known_exploited: true,
            }),
            evidence: vec![Corroboration {
                behaviour: "shell",
                subject: EVIL.into(),
                at: EVIL.into(),
                summary: EVIL.into(),
                candidates: Vec::new(),
                first_seen: 0,
                last_seen: 0,
                count: 1,
            }],
            judgement: Some(scan::Judgement {
                verdict: scan::Verdict::Exploitable,
                confidence: 0.9,
                reason: EVIL.into(),
                steps: vec![EVIL.into()],
                model: EVIL.into(),
                error: None,
            }),
        };
        ScanReport {
            schema: scan::SCHEMA,
            summary: Summary {
                by_target: BTreeMap::from([(EVIL.to_string(), 1)]),
                ..Summary::default()
            },
            chains: vec![chain.clone()],
            cuts: vec![CutOut {
                id: "cut-1".into(),
                breaks: rampart_graph::ChainId::parse("chain-000000000001")
                    .into_iter()
                    .collect(),
                breaks_unnamed: 0,
                cost: 1,
                action: "live".into(),
                edge: "routes-to".into(),
                from: EVIL.into(),
                to: EVIL.into(),
                manifest: None,
                manifests: Vec::new(),
                fix: EVIL.into(),
                notes: vec![EVIL.into()],
            }],
            inputs: InputSummary {
                files: 1,
                objects: 1,
                ignored_kinds: BTreeMap::from([(EVIL.to_string(), 1)]),
                errors: vec![InputError {
                    file: EVIL.into(),
                    document: 1,
                    line: 1,
                    item: None,
                    message: EVIL.into(),
                }],
                warnings: vec![EVIL.into()],
            },
            what_if: Some(scan::WhatIf {
                applied: vec![EVIL.into()],
                remaining_chains: 1,
                jewels_reachable: 1,
                chains: vec![chain],
            }),
        }
    }

    #[test]
    fn the_streamed_json_is_the_json() {
        let r = hostile_report();
        let mut out = Vec::new();
        r.write_json(&mut out).expect("written");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            format!("{}\n", r.to_json())
        );
    }

    #[test]
    fn names_cannot_drive_the_terminal() {
        let text = render(&hostile_report());
        // Only the table's own line breaks remain: no control, C1 or bidi character at all.
        let bad: Vec<char> = text
            .chars()
            .filter(|c| *c != '\n' && is_unsafe_char(*c))
            .collect();
        assert!(bad.is_empty(), "{bad:?} in\n{text}");
        assert!(!text.contains("\nFAKE LINE"), "{text}");
        assert!(
            text.contains("web\\x1b[2J\\x1b]0;owned\\x07\\u{202e}gnp.exe\\nFAKE LINE\\t\\u{9b}"),
            "{text}"
        );
        // Every field that carries the name shows it escaped (one per table line it is on).
        for needle in [
            "ENTRY Service/",
            "foothold: ",
            "seen: shell by ",
            "cheapest cut: routes-to ",
            "fix: ",
            "note: ",
            "not modelled: ",
            "error: ",
            "warning: ",
        ] {
            let line = text
                .lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no {needle:?} line in\n{text}"));
            assert!(line.contains("\\x1b[2J"), "{line}");
        }
    }

    #[test]
    fn plain_names_render_as_before() {
        let mut r = hostile_report();
        r.chains.truncate(0);
        r.cuts.truncate(0);
        r.what_if = None;
        r.inputs = InputSummary::default();
        r.summary.by_target = BTreeMap::from([("Secret".to_string(), 2)]);
        let text = render(&r);
        assert!(text.starts_with("rampart scan: 0 chain(s)"), "{text}");
        assert!(
            text.contains("(Secret 2)") && text.contains("\n\ninputs: 0 file(s)"),
            "{text}"
        );
    }
}
