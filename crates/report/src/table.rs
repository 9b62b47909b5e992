//! Human-readable rendering of a scan report.

use std::fmt::Write;

use crate::scan::{ChainOut, ScanReport};

fn chain_lines(out: &mut String, c: &ChainOut) {
    let _ = writeln!(
        out,
        "  {}  {:?}  → {} ({} steps)",
        c.id, c.confidence, c.target, c.length
    );
    if let Some(f) = &c.foothold {
        for e in &f.exploits {
            let _ = writeln!(
                out,
                "      foothold: {} in {} ({}, container {}): {}",
                e.cve, e.package, e.image, e.container, e.why
            );
        }
    }
    for e in &c.evidence {
        let _ = writeln!(
            out,
            "      seen: {} by {} at {}: {}",
            e.behaviour, e.subject, e.at, e.summary
        );
    }
    for s in &c.steps {
        let ports = s
            .ports
            .as_deref()
            .map(|p| format!("  [{p}]"))
            .unwrap_or_default();
        let _ = writeln!(out, "      {:<19} {} → {}{ports}", s.edge, s.from, s.to);
    }
    if let Some(ch) = &c.cheapest_cut {
        let _ = writeln!(
            out,
            "      cheapest cut: {} {} → {} (cost {})",
            ch.edge, ch.from, ch.to, ch.cost
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
    let _ = writeln!(
        out,
        "rampart scan: {} chain(s) from {} internet-facing entr{} ({}); {} crown jewels reachable; {} workloads, {} pods, {} endpoints",
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
        let _ = writeln!(
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
            let _ = writeln!(out, "\nENTRY {key}");
            current = key;
        }
        chain_lines(&mut out, c);
    }
    if !r.cuts.is_empty() {
        let _ = writeln!(
            out,
            "\nMINIMAL CUT: cost {}, {} cut(s), {} live",
            s.cut_cost, s.cuts, s.live_cuts
        );
        for c in &r.cuts {
            let _ = writeln!(
                out,
                "  {}  {:<7} cost {:<3} {} {} → {}  (breaks {} listed chain(s))",
                c.id,
                c.action,
                c.cost,
                c.edge,
                c.from,
                c.to,
                c.breaks.len()
            );
            if !c.fix.is_empty() {
                let _ = writeln!(out, "      fix: {}", c.fix);
            }
            for n in &c.notes {
                let _ = writeln!(out, "      note: {n}");
            }
        }
    }
    if let Some(w) = &r.what_if {
        let _ = writeln!(
            out,
            "\nWHAT-IF: {} fix(es) applied, {} chain(s) remain",
            w.applied.len(),
            w.remaining_chains
        );
        for c in &w.chains {
            chain_lines(&mut out, c);
        }
    }
    let i = &r.inputs;
    let _ = writeln!(
        out,
        "\ninputs: {} file(s), {} object(s)",
        i.files, i.objects
    );
    if !i.ignored_kinds.is_empty() {
        let k: Vec<String> = i
            .ignored_kinds
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect();
        let _ = writeln!(out, "  not modelled: {}", k.join(", "));
    }
    for e in &i.errors {
        let _ = writeln!(
            out,
            "  error: {}:{} (document {}): {}",
            e.file, e.line, e.document, e.message
        );
    }
    for w in &i.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    out
}
