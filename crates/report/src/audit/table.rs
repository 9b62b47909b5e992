//! The audit for people: scores per framework, the failing checks with their objects, and
//! what could not be read. Every cluster-supplied string goes through [`display_safe`].

use std::fmt::Write;

use rampart_audit::run::Status;

use super::AuditReport;
use crate::text::display_safe;

/// Renders the report as text.
pub fn render(r: &AuditReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Compliance");
    for (f, s) in &r.summary.frameworks {
        let score = s
            .score
            .map_or_else(|| "n/a".to_string(), |x| format!("{x:.1} %"));
        let _ = writeln!(
            out,
            "  {:<15} {:>8}   {} of {} checks failing ({} found nothing to judge), {} failures, {} excepted",
            f.as_str(),
            score,
            s.failing_checks,
            s.applicable_checks,
            s.checks - s.applicable_checks,
            s.tally.failed,
            s.tally.excepted
        );
    }
    let failing: Vec<_> = r.checks.iter().filter(|c| c.tally.failed > 0).collect();
    if !failing.is_empty() {
        let _ = writeln!(
            out,
            "\nFailing checks (severity, ids, objects failing / judged)"
        );
    }
    for c in failing {
        let mut ids: Vec<String> = c.ids.cis.iter().map(|i| format!("CIS {i}")).collect();
        ids.extend(c.ids.kubescape.iter().map(|i| i.to_string()));
        if let Some(p) = c.ids.pss {
            ids.push(format!("PSS {p}"));
        }
        let ids = if ids.is_empty() {
            String::new()
        } else {
            format!(" ({})", ids.join(", "))
        };
        let _ = writeln!(
            out,
            "  [{}] {} — {}{ids} {}/{}",
            c.severity.as_str(),
            c.check,
            c.title,
            c.tally.failed,
            c.tally.judged()
        );
        for f in r
            .findings
            .iter()
            .filter(|f| f.check == c.check && f.status == Status::Fail)
            .take(5)
        {
            let _ = writeln!(
                out,
                "      {}  {}: {}",
                display_safe(&f.object.to_string()),
                display_safe(&f.field),
                display_safe(&f.message)
            );
        }
        if c.tally.failed > 5 {
            let _ = writeln!(
                out,
                "      … and {} more (--format json lists every one)",
                c.tally.failed - 5
            );
        }
    }
    for (status, heading) in [
        (Status::Excepted, "Excepted"),
        (Status::Error, "Could not evaluate"),
    ] {
        let listed: Vec<_> = r.findings.iter().filter(|f| f.status == status).collect();
        if !listed.is_empty() {
            let _ = writeln!(out, "\n{heading}");
        }
        for f in listed {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                f.check,
                display_safe(&f.object.to_string()),
                display_safe(f.reason.as_deref().unwrap_or(""))
            );
        }
    }
    for e in &r.inputs.errors {
        let _ = writeln!(
            out,
            "input error: {}:{}: {}",
            display_safe(&e.file),
            e.line,
            display_safe(&e.message)
        );
    }
    let _ = writeln!(
        out,
        "\n{} objects from {} files; {} checks; {} failing, {} excepted, {} errors",
        r.inputs.objects,
        r.inputs.files,
        r.summary.checks,
        r.summary.findings.fail,
        r.summary.findings.excepted,
        r.summary.findings.error
    );
    out
}

#[cfg(test)]
mod tests {
    use crate::text::is_unsafe_char;

    #[test]
    fn names_are_escaped_and_scores_shown() {
        let t = super::render(&super::super::tests::report());
        assert!(!t.chars().any(|c| is_unsafe_char(c) && c != '\n'), "{t:?}");
        assert!(t.contains("\\u{202e}gnp.exe"), "{t}");
        assert!(t.contains("privileged-container"), "{t}");
        assert!(t.contains("vendor agent, reviewed"), "{t}");
    }
}
