//! The dashboard's HTML: the overview, the chain explorer's entries (their chains are fetched
//! when opened), the graph's frame, the minimal cut and the mitigations. Every string is
//! cluster-controlled and goes through [`escape`]; nothing inline runs (the script and styles
//! are files, see the Content-Security-Policy).

use serde_json::Value;

use super::escape;
use super::explorer::{Caption, EntrySummary, Explorer, Filter, SourceLinks, Summary};

/// What one page shows beside the findings.
#[derive(Debug)]
pub struct PageInput<'a> {
    /// The findings' index.
    pub view: &'a Explorer,
    /// The explorer's filter (the page's query).
    pub filter: &'a Filter,
    /// The ledger's Mitigations (empty offline).
    pub ledger: &'a [Value],
    /// Mitigations waiting for approval.
    pub pending: &'a [Value],
    /// Whether this dashboard may approve (behind a token, on an engine that writes).
    pub can_approve: bool,
    /// Further sections (already escaped HTML), before the scripts.
    pub extra: &'a str,
    /// Where the manifests' files can be browsed (`rampart dashboard --source-url`).
    pub source: Option<&'a SourceLinks>,
}

/// Renders the page of a findings document alone (with its `pending`, `can_approve` and
/// `ledger` members, when present).
pub fn render(f: &Value) -> String {
    let view = Explorer::new(f.clone());
    let list = |k: &str| f[k].as_array().cloned().unwrap_or_default();
    page(&PageInput {
        view: &view,
        filter: &Filter::default(),
        ledger: &list("ledger"),
        pending: &list("pending"),
        can_approve: f["can_approve"] == true,
        extra: "",
        source: None,
    })
}

/// `s` percent-encoded: a query string's value, and the exact entry key in a `data-key`
/// attribute (the script decodes it), where [`escape`]'s visible markers for control and bidi
/// characters would change the key.
use crate::percent::component as query_value;

/// A number that opens the explorer filtered (`pairs`: filter name and value).
fn filter_link(n: usize, pairs: &[(&str, &str)], label: &str) -> String {
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", query_value(v)))
        .collect();
    let q = q.join("&amp;");
    format!(
        "<a class=\"filter-link\" href=\"?{q}#explorer\" data-filter=\"{q}\" aria-label=\"{n} {}\">{n}</a>",
        escape(label)
    )
}

/// The page.
pub fn page(p: &PageInput<'_>) -> String {
    let s = p.view.summary(p.ledger);
    let doc = p.view.doc();
    // The script makes the proof's file:line links from the same template.
    let source = p
        .source
        .map(|l| format!(" data-source-url=\"{}\"", escape(l.template())))
        .unwrap_or_default();
    let mut h = String::with_capacity(16 * 1024);
    h.push_str(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>rampart</title>\
         <link rel=\"stylesheet\" href=\"/assets/dashboard.css\" id=\"__________cytoscape_stylesheet\">\
         <link rel=\"icon\" href=\"/assets/favicon.svg\" type=\"image/svg+xml\"></head>",
    );
    h.push_str(&format!("<body class=\"dashboard\"{source}>"));
    h.push_str(
        "<header><h1>rampart</h1><nav aria-label=\"Views\"><ul>\
         <li><a href=\"#overview\">Overview</a></li><li><a href=\"#explorer\">Chains</a></li>\
         <li><a href=\"#graph-view\">Graph</a></li><li><a href=\"#cut\">The cut</a></li>\
         <li><a href=\"#mitigations\">Mitigations</a></li><li><a href=\"/guard\">Request guard</a></li>\
         </ul></nav></header><main>",
    );
    break_glass_banner(&mut h, &doc["break_glass"]);
    overview(&mut h, &s);
    // The chains and their graph side by side (one column on narrow screens).
    h.push_str("<div class=\"workspace\">");
    explorer(&mut h, &s, p);
    graph_frame(&mut h);
    h.push_str("</div>");
    cut_table(&mut h, &s);
    mitigations(&mut h, &s, p, doc);
    h.push_str(p.extra);
    h.push_str(
        "</main><script src=\"/assets/cytoscape.min.js\"></script>\
         <script src=\"/assets/dashboard.js\"></script></body></html>",
    );
    h
}

fn overview(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"overview\" aria-labelledby=\"overview-h\"><h2 id=\"overview-h\">Overview</h2><div class=\"cards\">");
    let card = |h: &mut String, id: &str, big: String, words: String| {
        h.push_str(&format!(
            "<div class=\"card\" id=\"{id}\"><div class=\"big\">{big}</div><div>{words}</div></div>"
        ));
    };
    card(
        h,
        "card-chains",
        filter_link(s.chains, &[], "attack chains"),
        "attack chains".into(),
    );
    card(
        h,
        "card-entries",
        format!(
            "<a href=\"#explorer\" data-count=\"entries\">{}</a>",
            s.entries_with_chains
        ),
        format!(
            "internet-facing entries with chains (of {} endpoints)",
            s.endpoints
        ),
    );
    card(
        h,
        "card-jewels",
        format!(
            "<a href=\"#explorer\" data-count=\"jewels\">{}</a>",
            s.jewels_reachable
        ),
        "crown jewels reachable from the internet".into(),
    );
    card(
        h,
        "card-cut",
        format!("<a href=\"#cut\" data-count=\"cut\">{}</a>", s.cut.changes),
        format!(
            "changes in the minimal cut, cost <span data-count=\"cut-cost\">{}</span>; \
             <span data-count=\"cut-live\">{}</span> live and reversible",
            s.cut.cost, s.cut.live
        ),
    );
    let phases: Vec<String> = s
        .mitigations
        .iter()
        .map(|(phase, n)| {
            format!(
                "<a href=\"#mitigations\" data-phase=\"{0}\">{n} {0}</a>",
                escape(phase)
            )
        })
        .collect();
    card(
        h,
        "card-mitigations",
        format!(
            "<a href=\"#mitigations\" data-count=\"mitigations\">{}</a>",
            s.mitigations.values().sum::<usize>()
        ),
        if phases.is_empty() {
            "mitigations in the ledger".into()
        } else {
            format!("mitigations: {}", phases.join(", "))
        },
    );
    h.push_str("</div>");
    // Targets by confidence: every number opens the explorer on those chains.
    h.push_str(
        "<table id=\"by-target\"><caption>Chains by target and confidence</caption><thead><tr>\
         <th scope=\"col\">target</th><th scope=\"col\">proven</th><th scope=\"col\">corroborated</th>\
         <th scope=\"col\">judged</th><th scope=\"col\">all</th></tr></thead><tbody>",
    );
    for (target, c) in &s.by_target {
        h.push_str(&format!(
            "<tr data-target=\"{}\"><th scope=\"row\">{}</th>",
            escape(target),
            escape(target)
        ));
        for (conf, n) in [
            ("proven", c.proven),
            ("corroborated", c.corroborated),
            ("judged", c.judged),
        ] {
            h.push_str(&format!(
                "<td data-confidence=\"{conf}\">{}</td>",
                filter_link(
                    n,
                    &[("target", target), ("confidence", conf)],
                    &format!("{conf} chains to {target}"),
                )
            ));
        }
        h.push_str(&format!(
            "<td data-confidence=\"all\">{}</td></tr>",
            filter_link(
                c.total,
                &[("target", target)],
                &format!("chains to {target}")
            )
        ));
    }
    h.push_str("</tbody></table>");
    match &s.report {
        Some(r) => h.push_str(&format!(
            "<p id=\"last-report\">Last change: re-proof {} ({} path){}: {} chains appeared, {} went; \
             {} relations appeared, {} went; crown jewels reachable {} → {}.</p>",
            r.generation,
            escape(&r.path),
            r.at.as_ref()
                .map(|t| format!(" at <time datetime=\"{0}\">{0}</time>", escape(t)))
                .unwrap_or_default(),
            r.chains_added,
            r.chains_removed,
            r.relations_added,
            r.relations_removed,
            r.jewels.0,
            r.jewels.1
        )),
        None => h.push_str("<p id=\"last-report\">No change report: a one-off proof of a snapshot.</p>"),
    }
    h.push_str("</section>");
}

fn caption(c: &Caption) -> String {
    format!(
        "<span class=\"caption\" data-verdict=\"{}\">{} ({:.2}) — {}</span>",
        escape(&c.verdict),
        escape(&c.verdict.replace('_', " ")),
        c.confidence,
        escape(&c.reason)
    )
}

/// One entry of the explorer (collapsed: its chains are fetched when opened). The script
/// builds the same from `/api/entries`.
fn entry_item(h: &mut String, e: &EntrySummary, source: Option<&SourceLinks>) {
    let targets: Vec<String> = e
        .targets
        .iter()
        .map(|(k, n)| format!("{} {n}", escape(k)))
        .collect();
    let name = if e.namespace.is_empty() {
        format!("{} {}", e.kind, e.name)
    } else {
        format!("{} {}/{}", e.kind, e.namespace, e.name)
    };
    h.push_str(&format!(
        "<li class=\"entry\" data-key=\"{}\"><details><summary><span class=\"entry-name\">{}</span> \
         <span class=\"endpoint\">{} {}</span> <span class=\"count\" data-chains=\"{}\">{} {}</span>, \
         nearest {} steps · <span class=\"targets\">{}</span>{}</summary>",
        query_value(&e.key),
        escape(&name),
        escape(&e.endpoint),
        escape(&e.detail),
        e.chains,
        e.chains,
        if e.chains == 1 { "chain" } else { "chains" },
        e.nearest,
        targets.join(", "),
        e.caption.as_ref().map(caption).unwrap_or_default()
    ));
    if let Some(file) = &e.file {
        let at = format!(
            "<code>{}{}</code>",
            escape(file),
            e.line.map(|l| format!(":{l}")).unwrap_or_default()
        );
        let at = match source {
            Some(s) => format!(
                "<a class=\"source\" href=\"{}\">{at}</a>",
                escape(&s.link(file, e.line))
            ),
            None => at,
        };
        h.push_str(&format!("<p class=\"where\">written in {at}</p>"));
    }
    h.push_str("<ol class=\"chains\" aria-live=\"polite\"></ol></details></li>");
}

fn select(h: &mut String, name: &str, label: &str, options: &[String], chosen: Option<&str>) {
    h.push_str(&format!(
        "<label>{label} <select name=\"{name}\" id=\"filter-{name}\"><option value=\"\">any</option>"
    ));
    for o in options {
        let sel = if chosen == Some(o.as_str()) {
            " selected"
        } else {
            ""
        };
        h.push_str(&format!(
            "<option value=\"{0}\"{sel}>{0}</option>",
            escape(o)
        ));
    }
    h.push_str("</select></label> ");
}

fn explorer(h: &mut String, s: &Summary, p: &PageInput<'_>) {
    let f = p.filter;
    h.push_str(
        "<section id=\"explorer\" aria-labelledby=\"explorer-h\"><h2 id=\"explorer-h\">Attack chains</h2>\
         <form id=\"filters\" role=\"search\" method=\"get\" action=\"#explorer\">",
    );
    select(
        h,
        "namespace",
        "Namespace",
        &s.facets.namespaces,
        f.namespace.as_deref(),
    );
    select(
        h,
        "target",
        "Target",
        &s.facets.targets,
        f.target.as_deref(),
    );
    select(
        h,
        "confidence",
        "Confidence",
        &s.facets.confidences,
        f.confidence.as_deref(),
    );
    select(h, "edge", "Relation", &s.facets.edges, f.edge.as_deref());
    h.push_str(&format!(
        "<label>Search <input type=\"search\" name=\"q\" id=\"filter-q\" value=\"{}\" \
         maxlength=\"256\" placeholder=\"name, relation, id\"></label> \
         <button type=\"submit\">Filter</button> <button type=\"reset\" id=\"filter-reset\">Clear</button></form>",
        escape(f.q.as_deref().unwrap_or(""))
    ));
    let filtered = *f != Filter::default();
    let (chains, entries) = if filtered {
        let m = p.view.matches(f);
        (m.chains, m.entries)
    } else {
        (s.chains, s.entries.clone())
    };
    h.push_str(&format!(
        "<p id=\"match-count\" aria-live=\"polite\"><span data-count=\"matching-chains\">{chains}</span> \
         chains from <span data-count=\"matching-entries\">{}</span> internet-facing entries, \
         the nearest first. Open an entry for its chains, steps and evidence.</p><ul id=\"entries\">",
        entries.len()
    ));
    for e in &entries {
        entry_item(h, e, p.source);
    }
    h.push_str("</ul></section>");
}

fn graph_frame(h: &mut String) {
    h.push_str(
        "<section id=\"graph-view\" aria-labelledby=\"graph-h\"><h2 id=\"graph-h\">Graph</h2>\
         <p id=\"graph-caption\" aria-live=\"polite\">The chains of the nearest entries. Open an \
         entry or pick a chain to draw its own.</p><div class=\"graph-tools\">\
         <label><input type=\"checkbox\" id=\"what-if\"> What if the minimal cut were applied \
         (greys out what it breaks)</label> <button type=\"button\" id=\"graph-nearest\">Nearest entries</button> \
         <button type=\"button\" id=\"graph-fit\">Fit</button> \
         <output id=\"graph-tip\" aria-live=\"polite\"></output></div>\
         <div id=\"graph\" role=\"img\" aria-label=\"Attack graph of the chains listed above: \
         the internet, the entries, each step and the targets; the minimal cut's edges are marked \
         with scissors\"></div><ul id=\"legend\" aria-label=\"Legend\">\
         <li><span class=\"swatch internet\"></span>the internet</li>\
         <li><span class=\"swatch entry\"></span>internet-facing entry</li>\
         <li><span class=\"swatch step\"></span>workload, identity or permission on the way</li>\
         <li><span class=\"swatch target\"></span>target (secret, node, cluster-admin, …)</li>\
         <li><span class=\"line\"></span>relation (labelled with its kind)</li>\
         <li><span class=\"line cut\"></span>✂ a change of the minimal cut</li>\
         <li><span class=\"line highlight\"></span>the chain picked</li>\
         <li><span class=\"line greyed\"></span>broken by the cut (what-if)</li></ul>\
         <noscript><p>The graph needs JavaScript; the chains above list every step.</p></noscript></section>",
    );
}

fn cut_table(h: &mut String, s: &Summary) {
    h.push_str(&format!(
        "<section id=\"cut\" aria-labelledby=\"cut-h\"><h2 id=\"cut-h\">The minimal cut</h2>\
         <p>The least disruptive set of changes that separates the internet from every target: \
         {} changes, cost {}, {} of them live NetworkPolicies rampart can apply and revert itself. \
         Untick a change to leave it out of the graph's what-if.</p>",
        s.cut.changes, s.cut.cost, s.cut.live
    ));
    if s.cut.items.is_empty() {
        h.push_str("<p>The cut has no changes: nothing to separate.</p></section>");
        return;
    }
    h.push_str(
        "<table id=\"cut-table\"><thead><tr><th scope=\"col\">what-if</th><th scope=\"col\">change</th>\
         <th scope=\"col\">relation cut</th><th scope=\"col\">cost</th><th scope=\"col\">kind</th>\
         <th scope=\"col\">breaks</th><th scope=\"col\">action bar</th></tr></thead><tbody>",
    );
    for c in &s.cut.items {
        h.push_str(&format!(
            "<tr class=\"cut-item\" id=\"{0}\" data-cut=\"{0}\"><td><input type=\"checkbox\" \
             class=\"cut-toggle\" data-cut=\"{0}\" checked aria-label=\"include {0} in the what-if\"></td>\
             <td>✂ {1}</td><td>{2}: {3} → {4}</td><td>{5}</td><td class=\"{6}\">{6}</td><td>{7} chains</td><td>{8}</td></tr>",
            escape(&c.id),
            escape(&c.fix),
            escape(&c.edge),
            escape(&c.from),
            escape(&c.to),
            c.cost,
            escape(&c.action),
            c.breaks,
            escape(c.verdict.as_deref().unwrap_or(if c.action == "live" {
                "not decided yet"
            } else {
                "a durable change to make by hand"
            }))
        ));
    }
    h.push_str("</tbody></table></section>");
}

fn mitigations(h: &mut String, s: &Summary, p: &PageInput<'_>, doc: &Value) {
    h.push_str(
        "<section id=\"mitigations\" aria-labelledby=\"mitigations-h\"><h2 id=\"mitigations-h\">Mitigations</h2>",
    );
    pending_table(h, p.pending, p.can_approve);
    if p.ledger.is_empty() {
        h.push_str(
            "<p id=\"ledger-empty\">The ledger holds no Mitigation: an offline dashboard, an \
             engine in shadow mode, or nothing acted on yet.</p>",
        );
    } else {
        h.push_str(
            "<table id=\"ledger\"><caption>The ledger</caption><thead><tr><th scope=\"col\">mitigation</th>\
             <th scope=\"col\">phase</th><th scope=\"col\">action</th><th scope=\"col\">protects</th>\
             <th scope=\"col\">chains</th><th scope=\"col\">owns</th><th scope=\"col\">since</th>\
             <th scope=\"col\">expires</th><th scope=\"col\">why</th></tr></thead><tbody>",
        );
        for m in p.ledger {
            let t = |v: &Value| escape(v.as_str().unwrap_or(""));
            let obj = |o: &Value| {
                if o.is_object() {
                    let ns = o["namespace"].as_str().filter(|n| !n.is_empty());
                    format!(
                        "{} {}{}",
                        t(&o["kind"]),
                        ns.map(|n| format!("{}/", escape(n))).unwrap_or_default(),
                        t(&o["name"])
                    )
                } else {
                    "—".into()
                }
            };
            let since = ["ended_at", "applied_at", "proposed_at"]
                .iter()
                .find_map(|k| {
                    m[*k].as_str().map(|v| {
                        format!(
                            "{} <time datetime=\"{1}\" data-age>{1}</time>",
                            &k[..k.len() - 3],
                            escape(v)
                        )
                    })
                })
                .unwrap_or_default();
            h.push_str(&format!(
                "<tr class=\"ledger-row\" data-phase=\"{}\"><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{since}</td><td>{}</td><td>{}{}</td></tr>",
                t(&m["phase"]),
                t(&m["namespace"]),
                t(&m["name"]),
                t(&m["phase"]),
                t(&m["action"]),
                obj(&m["target"]),
                m["chains"].as_array().map(Vec::len).unwrap_or(0),
                obj(&m["owns"]),
                t(&m["expires_at"]),
                t(&m["reason"]),
                m["message"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(|s| format!(" ({})", escape(s)))
                    .unwrap_or_default()
            ));
        }
        h.push_str("</tbody></table>");
    }
    // What the action bar said of each live change (shadow mode: what it would apply).
    let decided: Vec<_> = s.cut.items.iter().filter(|c| c.verdict.is_some()).collect();
    if !decided.is_empty() {
        h.push_str("<h3>The action bar</h3><ul id=\"verdicts\">");
        for c in decided {
            let v = c.verdict.as_deref().unwrap_or("");
            h.push_str(&format!(
                "<li class=\"verdict{}\"><a href=\"#{}\">{}</a>: {}</li>",
                if v.starts_with("would apply") {
                    " would-apply"
                } else {
                    ""
                },
                escape(&c.id),
                escape(&c.fix),
                escape(v)
            ));
        }
        h.push_str("</ul>");
    }
    arming_table(h, &doc["arming"]);
    h.push_str("</section>");
}

/// Mitigations waiting for approval, with a button each when the dashboard may approve.
fn pending_table(h: &mut String, pending: &[Value], can: bool) {
    if pending.is_empty() {
        return;
    }
    h.push_str("<h3>Waiting for approval</h3><table id=\"pending\"><thead><tr><th scope=\"col\">mitigation</th><th scope=\"col\">change</th><th scope=\"col\">expires</th><th scope=\"col\">approve</th></tr></thead><tbody>");
    for p in pending {
        let s = |k: &str| escape(p[k].as_str().unwrap_or(""));
        let button = if can {
            format!(
                "<button class=\"approve\" data-namespace=\"{}\" data-name=\"{}\" data-uid=\"{}\">approve</button>",
                s("namespace"),
                s("name"),
                s("uid")
            )
        } else {
            "<code>kubectl patch</code>".to_string()
        };
        h.push_str(&format!(
            "<tr class=\"pending\"><td>{}/{}</td><td>{}</td><td>{}</td><td>{button}</td></tr>",
            s("namespace"),
            s("name"),
            s("reason"),
            s("expires_at")
        ));
    }
    h.push_str("</tbody></table>");
}

/// The arming ladder's evidence: per class, what the engine would have done where it was held
/// back, and how each would-be action ended.
fn arming_table(h: &mut String, a: &Value) {
    let Some(history) = a["history"].as_object().filter(|h| !h.is_empty()) else {
        return;
    };
    let days = a["window_seconds"].as_u64().unwrap_or(0) / 86_400;
    h.push_str(&format!(
        "<h3>Held back (last {days} days)</h3><table id=\"arming\"><tr><th>class</th>\
         <th>would act</th><th>still wanted</th><th>expired</th><th>obsolete</th>\
         <th>false alarms</th><th>latest</th></tr>"
    ));
    for (class, c) in history {
        let n = |k: &str| c[k].as_u64().unwrap_or(0);
        let latest: Vec<String> = c["examples"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{} ({}, {})",
                    escape(e["fix"].as_str().unwrap_or("")),
                    escape(e["held"].as_str().unwrap_or("")),
                    escape(e["outcome"].as_str().unwrap_or(""))
                )
            })
            .collect();
        h.push_str(&format!(
            "<tr class=\"arming\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(class),
            n("would_act"),
            n("open"),
            n("expired"),
            n("obsolete"),
            n("false_alarms"),
            latest.join("<br>")
        ));
    }
    h.push_str("</table>");
}

/// While break-glass is engaged: a red banner naming every hand on the switch (names and
/// reasons are cluster-supplied: escaped).
fn break_glass_banner(h: &mut String, b: &Value) {
    if b["engaged"] != true {
        return;
    }
    let hands: Vec<String> = b["hands"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            let s = |k: &str| escape(x[k].as_str().unwrap_or(""));
            let mut line = format!("<li>{}", s("name"));
            if !s("set_by").is_empty() {
                line.push_str(&format!(" set by {}", s("set_by")));
            }
            if !s("field_manager").is_empty() {
                line.push_str(&format!(" via {}", s("field_manager")));
            }
            if !s("since").is_empty() {
                line.push_str(&format!(" at {}", s("since")));
            }
            if !s("reason").is_empty() {
                line.push_str(&format!(": {}", s("reason")));
            }
            if x["revert_all"] == true {
                line.push_str(" (revert all)");
            }
            line.push_str("</li>");
            line
        })
        .collect();
    h.push_str(&format!(
        "<div class=\"break-glass\" role=\"alert\"><strong>Break-glass engaged</strong>: rampart \
         writes nothing but reverts{}.<ul>{}</ul></div>",
        if b["revert_all"] == true {
            " and withdraws every active mitigation"
        } else {
            ""
        },
        hands.concat()
    ));
}
