//! The dashboard's request-guard pages: `/guard` lists the Guardians; `/guard/{ns}/{name}`
//! shows one service's control, its routes and criteria in words (learned and configured), the
//! gates' recent alerts with route, location and reason, and an editor whose output is the
//! `kubectl apply`-able Guardian change (the spec only: the learner's status is untouched by
//! an apply). Every string from the cluster or from requests is escaped; the editor is a
//! script file (the CSP allows no inline script) that rewrites the YAML as the fields change.

use std::collections::VecDeque;

use rampart_api::Guardian;
use rampart_signals::guard::{EventKind, GuardEvent};
use serde_json::json;

use crate::dashboard::escape;

/// Alerts kept for the pages (the newest).
pub const MAX_ALERTS: usize = 200;

/// One gate event, as the pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardAlert {
    /// Unix seconds.
    pub at: u64,
    pub event: GuardEvent,
}

/// What the pages show.
#[derive(Debug, Clone, Default)]
pub struct GuardView {
    pub guardians: Vec<Guardian>,
    pub alerts: VecDeque<GuardAlert>,
}

impl GuardView {
    /// Adds events seen at `at`, dropping the oldest past [`MAX_ALERTS`].
    pub fn push(&mut self, at: u64, events: impl IntoIterator<Item = GuardEvent>) {
        self.push_timed(events.into_iter().map(|e| (at, e)));
    }

    /// Adds events, each with when it was seen.
    pub fn push_timed(&mut self, events: impl IntoIterator<Item = (u64, GuardEvent)>) {
        for (at, event) in events {
            self.alerts.push_back(GuardAlert { at, event });
        }
        while self.alerts.len() > MAX_ALERTS {
            self.alerts.pop_front();
        }
    }

    fn alerts_of<'a>(
        &'a self,
        ns: &'a str,
        service: &'a str,
    ) -> impl Iterator<Item = &'a GuardAlert> {
        self.alerts
            .iter()
            .rev()
            .filter(move |a| a.event.namespace == ns && a.event.service == service)
    }
}

const HEAD: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>rampart guard</title>\
    <link rel=\"stylesheet\" href=\"/assets/dashboard.css\"></head><body>";

fn time(at: u64) -> String {
    k8s_openapi::jiff::Timestamp::from_second(i64::try_from(at).unwrap_or(0))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// `/guard`.
pub fn list(v: &GuardView) -> String {
    let mut h = String::from(HEAD);
    h.push_str("<h1>rampart guard</h1><p><a href=\"/\">← findings</a></p>");
    if v.guardians.is_empty() {
        h.push_str("<p id=\"no-guardians\">No Guardian yet: a gate's learner writes one per service once it has learned.</p>");
    }
    h.push_str("<table id=\"guardians\"><tr><th>service</th><th>mode</th><th>routes learned</th><th>samples</th><th>last learned</th><th>recent alerts</th></tr>");
    for g in &v.guardians {
        let ns = g.metadata.namespace.as_deref().unwrap_or("");
        let name = g.metadata.name.as_deref().unwrap_or("");
        h.push_str(&format!(
            "<tr class=\"guardian\"><td><a href=\"/guard/{}/{}\">{}/{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            // Names are DNS names; encoding them is belt and braces.
            escape(&crate::percent::component(ns)),
            escape(&crate::percent::component(name)),
            escape(ns),
            escape(name),
            mode(g),
            g.learned().map_or(0, |c| c.routes.len()),
            g.samples(),
            escape(
                g.status
                    .as_ref()
                    .and_then(|s| s.last_learned.as_deref())
                    .unwrap_or("never")
            ),
            v.alerts_of(ns, name).count()
        ));
    }
    h.push_str("</table></body></html>");
    h
}

fn mode(g: &Guardian) -> String {
    match &g.spec.control {
        Some(c) => c.mode.as_str().to_string(),
        None => "(namespace default)".into(),
    }
}

/// `/guard/{ns}/{name}`; `None` when there is no such Guardian.
pub fn service(v: &GuardView, ns: &str, name: &str) -> Option<String> {
    v.guardians.iter().find(|g| {
        g.metadata.namespace.as_deref() == Some(ns) && g.metadata.name.as_deref() == Some(name)
    })?;
    // What the gates follow: the service's spec, what it leaves unset from the namespace default.
    let (g, source) = rampart_guard::lookup::lookup(&v.guardians, ns, name);
    let g = &g;
    let mut h = String::from(HEAD);
    h.push_str(&format!(
        "<h1>rampart guard: <span id=\"service\">{}/{}</span></h1><p><a href=\"/guard\">← every service</a></p>",
        escape(ns),
        escape(name)
    ));
    let c = g.spec.control();
    h.push_str(&format!(
        "<p id=\"control\">mode <b>{}</b> ({}), {}; a shape is normal after {} sessions from {} clients; learned from {} requests{}</p>",
        c.mode.as_str(),
        match source {
            rampart_guard::lookup::Source::Service => "this service's own",
            rampart_guard::lookup::Source::NamespaceDefault => "from the namespace's default Guardian",
            rampart_guard::lookup::Source::ClusterDefault => "the cluster default",
        },
        if c.learn { "learning" } else { "not learning" },
        c.min_sessions,
        c.min_clients,
        g.samples(),
        g.status
            .as_ref()
            .and_then(|s| s.last_learned.as_deref())
            .map(|t| format!(", last at {}", escape(t)))
            .unwrap_or_default()
    ));
    for (title, id, criteria) in [
        ("Learned", "learned", g.learned()),
        (
            "Configured (by hand)",
            "configured",
            g.spec.configured.as_ref(),
        ),
    ] {
        h.push_str(&format!(
            "<h2>{title}</h2><div id=\"{id}\" class=\"criteria\">"
        ));
        match criteria {
            None => h.push_str("<p>none</p>"),
            Some(c) => {
                h.push_str("<ul>");
                for line in rampart_guard::words::criteria(c) {
                    let cls = if line.starts_with(' ') {
                        "value"
                    } else {
                        "route"
                    };
                    h.push_str(&format!(
                        "<li class=\"{cls}\">{}</li>",
                        escape(line.trim_start())
                    ));
                }
                h.push_str("</ul>");
            }
        }
        h.push_str("</div>");
    }
    h.push_str("<h2>Recent alerts</h2><table id=\"alerts\"><tr><th>when</th><th>pod</th><th>what</th><th>reasons</th><th>latest: route, location, reason</th></tr>");
    for a in v.alerts_of(ns, name).take(50) {
        let e = &a.event;
        let reasons: Vec<String> = e.reasons.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        h.push_str(&format!(
            "<tr class=\"alert\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&time(a.at)),
            escape(&e.pod),
            match e.kind {
                EventKind::RequestAnomaly => format!("requests {}", escape(&e.mode)),
                EventKind::Compromise => "pod compromised (public peer never learned)".into(),
            },
            escape(&reasons.join(", ")),
            escape(&e.summary)
        ));
    }
    h.push_str("</table>");
    // The editor: fields, and the Guardian they make. The spec as it stands, for the script.
    let spec = json!({"control": c, "configured": g.spec.configured});
    h.push_str(&format!(
        "<h2>Change</h2><div id=\"editor\" data-namespace=\"{}\" data-name=\"{}\" data-spec=\"{}\">\
         <label>mode <select id=\"f-mode\"><option>learn</option><option>alert</option><option>block</option></select></label> \
         <label><input type=\"checkbox\" id=\"f-learn\"> keep learning</label> \
         <label><input type=\"checkbox\" id=\"f-learnAlerted\"> learn from alerted requests</label> \
         <label>sessions <input type=\"number\" min=\"1\" id=\"f-minSessions\"></label> \
         <label>clients <input type=\"number\" min=\"1\" id=\"f-minClients\"></label>\
         <p>Apply with <code>kubectl apply -f guardian.yaml</code> (the spec only; what was learned stays):</p>\
         <pre id=\"guardian-yaml\">{}</pre></div>",
        escape(ns),
        escape(name),
        escape(&spec.to_string()),
        escape(&yaml(ns, name, &spec))
    ));
    h.push_str("<script src=\"/assets/guard.js\"></script></body></html>");
    Some(h)
}

/// The Guardian change as YAML (flow style below the spec's first level: YAML is a superset of
/// JSON), what the script also writes.
pub fn yaml(ns: &str, name: &str, spec: &serde_json::Value) -> String {
    let mut out = format!(
        "apiVersion: rampart.dev/v1alpha1\nkind: Guardian\nmetadata:\n  name: {}\n  namespace: {}\nspec:\n",
        json!(name),
        json!(ns)
    );
    for key in ["control", "configured"] {
        match spec.get(key) {
            Some(v) if !v.is_null() => out.push_str(&format!("  {key}: {v}\n")),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_api::{Criteria, GuardianSpec, GuardianStatus, RouteCriteria, ValueCriteria};

    fn guardian() -> Guardian {
        let mut g = Guardian::new("api", GuardianSpec::default());
        g.metadata.namespace = Some("shop".into());
        let mut values = std::collections::BTreeMap::new();
        values.insert(
            "query.q".to_string(),
            ValueCriteria {
                kinds: vec!["string".into()],
                specials: "'<".into(),
                ..ValueCriteria::default()
            },
        );
        g.status = Some(GuardianStatus {
            learned: Some(Criteria {
                routes: vec![RouteCriteria {
                    method: "GET".into(),
                    template: "/items/{int}".into(),
                    values,
                    ..RouteCriteria::default()
                }],
                ..Criteria::default()
            }),
            samples: 120,
            last_learned: Some("2026-12-06T04:00:00Z".into()),
            learning_since: None,
        });
        g
    }

    #[test]
    fn pages_escape_everything_and_the_yaml_is_the_spec() {
        let mut v = GuardView {
            guardians: vec![guardian()],
            ..GuardView::default()
        };
        v.push(
            1_796_500_000,
            [GuardEvent {
                kind: EventKind::RequestAnomaly,
                namespace: "shop".into(),
                pod: "api-1".into(),
                service: "api".into(),
                reasons: [("injection".to_string(), 2)].into(),
                mode: "block".into(),
                summary: "block GET /items/{int}: query.q: <script>alert(1)</script>".into(),
            }],
        );
        let list = list(&v);
        assert!(list.contains("href=\"/guard/shop/api\"") && list.contains("120"));
        let page = service(&v, "shop", "api").expect("the page");
        assert!(page.contains("&lt;script&gt;") && !page.contains("<script>alert"));
        assert!(page.contains("query.q"), "criteria in words");
        assert!(page.contains("injection ×2"));
        assert!(page.contains("kind: Guardian") && page.contains("namespace: &quot;shop&quot;"));
        assert!(service(&v, "shop", "nope").is_none());
        // The YAML is the spec: parsed back, a Guardian with the same control.
        let y = yaml(
            "shop",
            "api",
            &json!({"control": {"mode": "block", "learn": true, "learnAlerted": false, "minSessions": 3, "minClients": 2}}),
        );
        let g: Guardian = serde_saphyr::from_str(&y).expect("the YAML is a Guardian");
        assert_eq!(g.spec.control().mode, rampart_api::GuardMode::Block);
        assert_eq!(g.metadata.namespace.as_deref(), Some("shop"));
        // Bounded.
        let e = v.alerts[0].event.clone();
        v.push(0, (0..500).map(|_| e.clone()));
        assert_eq!(v.alerts.len(), MAX_ALERTS);
    }
}
