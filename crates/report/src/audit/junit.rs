//! JUnit XML, the format CI systems show as test results: one test suite per check, one test
//! case per finding (a failure, a skipped excepted object, or an error), and one passing case
//! for the objects that passed.

use std::fmt::Write;

use rampart_audit::run::Status;

use super::AuditReport;
use crate::text::html;

/// Renders the report as JUnit XML.
pub fn render(r: &AuditReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let tests: u32 = r
        .checks
        .iter()
        .map(|c| c.tally.judged() + c.tally.errors)
        .sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"rampart audit\" tests=\"{tests}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        r.summary.findings.fail, r.summary.findings.error, r.summary.findings.excepted
    );
    for c in &r.checks {
        let t = c.tally;
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            html(c.check),
            t.judged() + t.errors,
            t.failed,
            t.errors,
            t.excepted
        );
        for f in r.findings.iter().filter(|f| f.check == c.check) {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\">",
                html(c.check),
                html(&f.object.to_string())
            );
            match f.status {
                Status::Fail => {
                    let _ = write!(
                        out,
                        "<failure type=\"{}\" message=\"{}\">{}: {}</failure>",
                        f.severity.as_str(),
                        html(&f.message),
                        html(&f.field),
                        html(c.title)
                    );
                }
                Status::Excepted => {
                    let _ = write!(
                        out,
                        "<skipped message=\"excepted: {}\"/>",
                        html(f.reason.as_deref().unwrap_or(""))
                    );
                }
                Status::Error => {
                    let _ = write!(
                        out,
                        "<error message=\"{}\"/>",
                        html(f.reason.as_deref().unwrap_or(""))
                    );
                }
            }
            out.push_str("</testcase>\n");
        }
        if t.passed > 0 {
            let _ = writeln!(
                out,
                "    <testcase classname=\"{}\" name=\"{} objects pass\"/>",
                html(c.check),
                t.passed
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn failures_and_skips_are_test_cases_and_names_are_escaped() {
        let x = super::render(&super::super::tests::report());
        assert!(
            x.contains("<testsuite name=\"privileged-container\""),
            "{x}"
        );
        assert!(x.contains("<failure type=\"high\""), "{x}");
        assert!(
            x.contains("<skipped message=\"excepted: vendor agent, reviewed\"/>"),
            "{x}"
        );
        assert!(!x.contains("<script>"), "{x}");
        assert!(x.contains("&lt;script&gt;"), "{x}");
    }
}
