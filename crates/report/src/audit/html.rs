//! One self-contained HTML page: no script, no external asset (a Content-Security-Policy
//! forbids both), every cluster-provided string escaped. Scores per framework and namespace,
//! every check, and the findings of each failing check (the first 200; JSON has them all).

use std::fmt::Write;

use rampart_audit::run::Status;

use super::AuditReport;
use crate::text::html;

/// Findings shown per check.
pub const ROWS_PER_CHECK: usize = 200;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.critical,.high{color:#a00;font-weight:bold}.medium{color:#a60}.low{color:#555}\
.score{font-size:1.3em;font-weight:bold}code{font-size:.9em}.excepted{color:#555}";

/// Renders the report as an HTML page.
pub fn render(r: &AuditReport) -> String {
    let mut o = String::new();
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    o.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
    let _ = write!(
        o,
        "<title>rampart audit</title><style>{STYLE}</style></head><body>\n<h1>rampart audit</h1>\n"
    );
    let _ = writeln!(
        o,
        "<p id=\"inputs\">{} objects from {} files; {} checks; <span id=\"failing\">{}</span> failing, {} excepted, {} could not be evaluated; {} input errors.</p>",
        r.inputs.objects,
        r.inputs.files,
        r.summary.checks,
        r.summary.findings.fail,
        r.summary.findings.excepted,
        r.summary.findings.error,
        r.inputs.errors.len()
    );
    o.push_str("<h2>Scores</h2>\n<table id=\"scores\"><tr><th>framework</th><th>score</th><th>checks failing / applying</th><th>objects failing</th><th>excepted</th></tr>\n");
    for (f, s) in &r.summary.frameworks {
        let _ = writeln!(
            o,
            "<tr class=\"framework\" data-framework=\"{}\"><td>{}</td><td class=\"score\">{}</td><td>{} / {}</td><td>{}</td><td>{}</td></tr>",
            f.as_str(),
            f.as_str(),
            s.score
                .map_or_else(|| "n/a".into(), |x| format!("{x:.1} %")),
            s.failing_checks,
            s.applicable_checks,
            s.tally.failed,
            s.tally.excepted
        );
    }
    o.push_str("</table>\n");
    if !r.summary.namespaces.is_empty() {
        o.push_str("<h2>By namespace</h2>\n<table id=\"namespaces\"><tr><th>namespace</th>");
        for f in r.summary.frameworks.keys() {
            let _ = write!(o, "<th>{}</th>", f.as_str());
        }
        o.push_str("</tr>\n");
        for (ns, scores) in &r.summary.namespaces {
            let name = if ns.is_empty() {
                "(cluster-scoped)".to_string()
            } else {
                html(ns)
            };
            let _ = write!(o, "<tr class=\"namespace\"><td>{name}</td>");
            for f in r.summary.frameworks.keys() {
                let _ = write!(
                    o,
                    "<td>{}</td>",
                    scores
                        .get(f)
                        .map_or_else(|| "–".into(), |x| format!("{x:.1} %"))
                );
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</table>\n");
    }
    o.push_str("<h2>Checks</h2>\n<table id=\"checks\"><tr><th>check</th><th>severity</th><th>ids</th><th>title</th><th>failing / judged</th><th>excepted</th></tr>\n");
    for c in &r.checks {
        let mut ids: Vec<String> = c.ids.cis.iter().map(|i| format!("CIS {i}")).collect();
        ids.extend(c.ids.kubescape.iter().map(|i| i.to_string()));
        if let Some(n) = c.ids.nsa {
            ids.push(format!("NSA: {n}"));
        }
        if let Some(p) = c.ids.pss {
            ids.push(format!("PSS {p}"));
        }
        let _ = writeln!(
            o,
            "<tr class=\"check\" data-check=\"{}\"><td><code>{}</code></td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td></tr>",
            c.check,
            c.check,
            c.severity.as_str(),
            c.severity.as_str(),
            html(&ids.join(", ")),
            html(c.title),
            c.tally.failed,
            c.tally.judged(),
            c.tally.excepted
        );
    }
    o.push_str("</table>\n<h2>Findings</h2>\n");
    for c in r
        .checks
        .iter()
        .filter(|c| c.tally.failed + c.tally.excepted + c.tally.errors > 0)
    {
        let _ = writeln!(
            o,
            "<h3 id=\"check-{}\"><code>{}</code> {}</h3>\n<table><tr><th>status</th><th>object</th><th>file</th><th>field</th><th>what</th><th>fix</th></tr>",
            c.check,
            c.check,
            html(c.title)
        );
        let findings: Vec<_> = r.findings.iter().filter(|f| f.check == c.check).collect();
        for f in findings.iter().take(ROWS_PER_CHECK) {
            let status = match f.status {
                Status::Fail => "fail",
                Status::Excepted => "excepted",
                Status::Error => "error",
            };
            let what = match f.status {
                Status::Fail => html(&f.message),
                _ => format!(
                    "{} — {}",
                    html(&f.message),
                    html(f.reason.as_deref().unwrap_or(""))
                ),
            };
            let fix = f
                .fix
                .as_ref()
                .and_then(|x| serde_json::to_string(x).ok())
                .map_or_else(String::new, |x| format!("<code>{}</code>", html(&x)));
            let file = f
                .object
                .file
                .as_ref()
                .map(|p| format!("{}:{}", html(p), f.object.line))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "<tr class=\"finding {status}\"><td>{status}</td><td>{}</td><td>{file}</td><td><code>{}</code></td><td>{what}</td><td>{fix}</td></tr>",
                html(&f.object.to_string()),
                html(&f.field),
            );
        }
        if findings.len() > ROWS_PER_CHECK {
            let _ = writeln!(
                o,
                "<tr><td colspan=\"6\">… and {} more (the JSON report lists every one)</td></tr>",
                findings.len() - ROWS_PER_CHECK
            );
        }
        o.push_str("</table>\n");
    }
    if !r.inputs.errors.is_empty() {
        o.push_str("<h2>Input errors</h2>\n<ul id=\"input-errors\">\n");
        for e in &r.inputs.errors {
            let _ = writeln!(
                o,
                "<li>{}:{}: {}</li>",
                html(&e.file),
                e.line,
                html(&e.message)
            );
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_is_self_contained_and_escapes_names() {
        let h = super::render(&super::super::tests::report());
        assert!(
            h.contains("default-src 'none'"),
            "no script may run, nothing is fetched"
        );
        assert!(!h.contains("<script"), "{h}");
        assert!(
            !h.contains("src=\"http") && !h.contains("href=\"http"),
            "{h}"
        );
        assert!(
            h.contains("x&lt;script&gt;alert(1)&lt;/script&gt;⟨U+202E⟩gnp.exe⟨U+001B⟩[2J"),
            "{h}"
        );
        assert!(h.contains("data-check=\"privileged-container\""));
    }
}
