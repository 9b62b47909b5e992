//! The dashboard's section for NetworkPolicies from observed flows: the plan's numbers, each
//! step and what it closes, the observed connections drawn as a graph (by the page's script,
//! from `GET /netpol`) beside the policies that allow them. Every string from the cluster or
//! the capture is escaped.

use serde_json::Value;

use crate::dashboard::escape;

/// Most connections and policies listed in the page (the JSON has them all).
const LISTED: usize = 200;

fn text(v: &Value) -> String {
    escape(v.as_str().unwrap_or(""))
}

/// Appends the section for `plan` (a `rampart.dev/netpol-plan/v1` document) and, when the
/// leader reported it, where the `netpol` rollout stands.
pub fn section(h: &mut String, plan: &Value, rollout: Option<&Value>) {
    let v = &plan["verification"];
    let n = |x: &Value| x.as_u64().unwrap_or(0);
    h.push_str("<h2 id=\"netpol\">NetworkPolicies from observed flows</h2>");
    h.push_str(&format!(
        "<p class=\"netpol-summary\">{} observed connections ({} dropped); the plan keeps {} of {}; \
         {} other connections stay allowed; it closes {} workload pairs. \
         <a href=\"/netpol\">plan as JSON</a></p>",
        n(&plan["observed"]["connections"]),
        n(&plan["observed"]["dropped"]),
        n(&v["kept"]),
        n(&v["observed"]),
        n(&v["unobserved_count"]),
        n(&v["closed_pairs"]),
    ));
    if !v["broken"].as_array().is_none_or(Vec::is_empty) {
        h.push_str("<div class=\"break-glass\" role=\"alert\">The plan would deny observed connections:<ul>");
        for b in v["broken"].as_array().into_iter().flatten() {
            h.push_str(&format!(
                "<li>{} → {} {}</li>",
                text(&b["from"]),
                text(&b["to"]),
                text(&b["port"])
            ));
        }
        h.push_str("</ul></div>");
    }
    h.push_str("<table id=\"netpol-steps\"><tr><th>step</th><th>applies</th><th>policies</th><th>kept</th><th>closes</th><th>chains broken</th></tr>");
    for s in plan["steps"].as_array().into_iter().flatten() {
        h.push_str(&format!(
            "<tr class=\"netpol-step\"><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{} pairs</td><td>{}</td></tr>",
            n(&s["number"]),
            text(&s["stage"]),
            s["policies"].as_array().map_or(0, Vec::len),
            n(&s["verification"]["kept"]),
            n(&s["verification"]["observed"]),
            n(&s["verification"]["closed_pairs"]),
            s["chains_broken"].as_array().map_or(0, Vec::len),
        ));
    }
    h.push_str("</table>");
    if let Some(r) = rollout {
        rollout_part(h, r);
    }
    h.push_str("<div id=\"flows-graph\" role=\"img\" aria-label=\"observed connections between workloads\"></div>");
    h.push_str("<table id=\"netpol-connections\"><tr><th>from</th><th>to</th><th>port</th><th>flows</th></tr>");
    for c in plan["connections"]
        .as_array()
        .into_iter()
        .flatten()
        .take(LISTED)
    {
        h.push_str(&format!(
            "<tr class=\"flow\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(&c["from"]),
            text(&c["to"]),
            text(&c["port"]),
            n(&c["flows"]),
        ));
    }
    h.push_str("</table><h3>Suggested policies</h3>");
    for p in plan["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .take(LISTED)
    {
        let yaml = serde_json::to_string_pretty(p).unwrap_or_default();
        h.push_str(&format!(
            "<details class=\"policy\"><summary>{}/{}</summary><pre>{}</pre></details>",
            text(&p["metadata"]["namespace"]),
            text(&p["metadata"]["name"]),
            escape(&yaml),
        ));
    }
}

/// The rollout: each step's state, the bar's word, the policies in force and the latest ends.
fn rollout_part(h: &mut String, r: &Value) {
    let steps = |k: &str| -> Vec<String> {
        r[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .map(|n| n.to_string())
            .collect()
    };
    h.push_str(&format!(
        "<h3>Rollout (action class <code>netpol</code>: {})</h3><p class=\"netpol-rollout\">\
         steps applied: {}; rolling out: {}{}</p>",
        if r["enabled"].as_bool() == Some(true) {
            "enabled"
        } else {
            "shadow — enable it with <code>--enable netpol</code>"
        },
        Some(steps("applied").join(", "))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "none".into()),
        r["current"]
            .as_u64()
            .map_or_else(|| "none".into(), |n| n.to_string()),
        r["waiting"]
            .as_str()
            .map(|w| format!(" — waiting: {}", escape(w)))
            .unwrap_or_default(),
    ));
    let gates = r["gates"].as_array().map_or(&[][..], Vec::as_slice);
    if !gates.is_empty() {
        h.push_str(
            "<table id=\"netpol-gates\"><tr><th>step</th><th>namespace</th><th>decision</th></tr>",
        );
        for g in gates.iter().take(LISTED) {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                g["step"].as_u64().unwrap_or(0),
                text(&g["namespace"]),
                text(&g["decision"]),
            ));
        }
        h.push_str("</table>");
    }
    let ended = r["ended"].as_array().map_or(&[][..], Vec::as_slice);
    if !ended.is_empty() {
        h.push_str("<table id=\"netpol-ended\"><tr><th>step</th><th>policy</th><th>why</th><th>when</th></tr>");
        for e in ended.iter().take(LISTED) {
            h.push_str(&format!(
                "<tr class=\"netpol-ended\"><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td></tr>",
                e["step"].as_u64().unwrap_or(0),
                text(&e["namespace"]),
                text(&e["name"]),
                text(&e["why"]),
                text(&e["at"]),
            ));
        }
        h.push_str("</table>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_text_is_escaped() {
        let plan = serde_json::json!({
            "observed": {"connections": 1, "dropped": 0},
            "verification": {"kept": 1, "observed": 1, "broken": [{"from": "<b>x</b>", "to": "y", "port": "TCP 1"}]},
            "steps": [{"number": 1, "stage": "ingress", "policies": [{}], "verification": {"kept": 1, "observed": 1}}],
            "connections": [{"from": "ns/<script>alert(1)</script>[Pod]", "to": "b", "port": "TCP 80", "flows": 3}],
            "policies": [{"metadata": {"namespace": "n", "name": "<img src=x>"}}],
        });
        let rollout = serde_json::json!({
            "enabled": false, "applied": [1], "current": 2, "waiting": "<i>soak</i>",
            "gates": [{"step": 2, "namespace": "<u>ns</u>", "decision": "propose: ClassDisabled"}],
            "ended": [{"step": 1, "namespace": "n", "name": "<s>p</s>", "why": "dropped", "at": "t"}],
        });
        let mut h = String::new();
        section(&mut h, &plan, Some(&rollout));
        assert!(
            !h.contains("<script>")
                && !h.contains("<img")
                && !h.contains("<b>x")
                && !h.contains("<i>")
                && !h.contains("<u>")
                && !h.contains("<s>"),
            "{h}"
        );
        assert!(h.contains("steps applied: 1; rolling out: 2"), "{h}");
        assert!(h.contains("--enable netpol"));
        assert!(h.contains("&lt;script&gt;"));
        assert!(h.contains("netpol-step"));
    }
}
