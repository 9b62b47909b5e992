//! The dashboard's view of one findings document: the overview's numbers, the chains grouped
//! per internet-facing entry (nearest first), the explorer's filters, and the graph of a few
//! entries' chains with the minimal cut drawn on it. Pure: built once per published document
//! (the JSON read once), then every request of the page is a lookup, so that a 10k-pod
//! cluster's page never ships its 7 MB `/findings`.
//!
//! What it serves is the scan contract's own data (`/findings`), regrouped: nothing here
//! decides anything. Every string in it is cluster-controlled; the page escapes it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The summary's schema.
pub const SUMMARY_SCHEMA: &str = "rampart.dev/dashboard-summary/v1";
/// Longest filter value taken (a namespace, kind or search text).
pub const MAX_FILTER_LEN: usize = 256;
/// Most chains one `/api/chains` answer carries (the rest are counted).
pub const MAX_CHAINS_PER_ANSWER: usize = 500;
/// Most vertices the default graph draws: entries are added nearest first while they fit.
pub const GRAPH_VERTEX_BUDGET: usize = 200;
/// Most edges the default graph draws (layout time grows with them).
pub const GRAPH_EDGE_BUDGET: usize = 300;
/// Most entries one `/api/graph` request may name.
pub const MAX_GRAPH_ENTRIES: usize = 64;
/// Longest label drawn on a vertex; the full name is its tooltip.
const SHORT_LABEL: usize = 22;

/// Why a request cannot be answered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ViewError {
    /// A filter value is longer than [`MAX_FILTER_LEN`].
    #[error("filter {0} is longer than {MAX_FILTER_LEN} bytes")]
    FilterTooLong(&'static str),
    /// No entry has this key.
    #[error("no internet-facing entry {0:?} has chains")]
    NoSuchEntry(String),
    /// Too many entries named.
    #[error("at most {MAX_GRAPH_ENTRIES} entries per graph")]
    TooManyEntries,
    /// A source URL template that is not `http(s)://…{file}…`.
    #[error(
        "--source-url must be an http:// or https:// URL holding {{file}} (and optionally {{line}}), got {0:?}"
    )]
    SourceUrl(String),
}

/// Where the manifests live for a browser (a repository's web view): a template with `{file}`
/// (the path as loaded, each segment percent-encoded) and `{line}`, e.g.
/// `https://git.example.com/ops/cluster/blob/main/{file}#L{line}`. Only `http(s)`: a
/// `javascript:` link would run in the page's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLinks(String);

impl SourceLinks {
    /// Checks a template.
    pub fn parse(template: &str) -> Result<SourceLinks, ViewError> {
        let lower = template.to_ascii_lowercase();
        let scheme = lower.starts_with("https://") || lower.starts_with("http://");
        if !scheme || !template.contains("{file}") || template.len() > 2048 {
            return Err(ViewError::SourceUrl(template.chars().take(200).collect()));
        }
        Ok(SourceLinks(template.to_string()))
    }

    /// The template as given.
    pub fn template(&self) -> &str {
        &self.0
    }

    /// The link to `file` at `line`.
    pub fn link(&self, file: &str, line: Option<u64>) -> String {
        self.0
            .replace(
                "{file}",
                &crate::percent::path(file.trim_start_matches("./")),
            )
            .replace("{line}", &line.map(|l| l.to_string()).unwrap_or_default())
    }
}

/// The explorer's filters (query parameters; each optional, all must hold).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    /// A namespace the chain passes through (entry, a step or the target).
    pub namespace: Option<String>,
    /// The target kind (`Secret`, `Node`, `ClusterAdmin`, …).
    pub target: Option<String>,
    /// `proven`, `corroborated` or `judged`.
    pub confidence: Option<String>,
    /// A relation one of its steps takes (`routes-to`, `network`, `reads-secret`, …).
    pub edge: Option<String>,
    /// Text anywhere in the chain's objects, relations or cut (case-insensitive).
    pub q: Option<String>,
    /// The entry (`/api/chains` only): its key.
    pub entry: Option<String>,
}

impl Filter {
    /// Refuses over-long values; empty values mean "any".
    pub fn checked(mut self) -> Result<Filter, ViewError> {
        for (name, v) in [
            ("namespace", &mut self.namespace),
            ("target", &mut self.target),
            ("confidence", &mut self.confidence),
            ("edge", &mut self.edge),
            ("q", &mut self.q),
            ("entry", &mut self.entry),
        ] {
            if v.as_ref().is_some_and(|s| s.len() > MAX_FILTER_LEN) {
                return Err(ViewError::FilterTooLong(name));
            }
            if v.as_ref().is_some_and(|s| s.trim().is_empty()) {
                *v = None;
            }
        }
        self.q = self.q.map(|q| q.trim().to_lowercase());
        Ok(self)
    }

    fn matches(&self, c: &ChainFacts) -> bool {
        let is = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        is(&self.target, &c.target)
            && is(&self.confidence, &c.confidence)
            && self
                .namespace
                .as_ref()
                .is_none_or(|n| c.namespaces.contains(n))
            && self.edge.as_ref().is_none_or(|e| c.edges.contains(e))
            && self.q.as_ref().is_none_or(|q| c.text.contains(q.as_str()))
    }
}

/// What the filters read of one chain.
#[derive(Debug)]
struct ChainFacts {
    entry: usize,
    target: String,
    confidence: String,
    namespaces: BTreeSet<String>,
    edges: BTreeSet<String>,
    /// Every name, relation and fix of the chain, lowercased.
    text: String,
}

/// The chains of one entry.
#[derive(Debug)]
struct Group {
    key: String,
    chains: Vec<usize>,
    nearest: usize,
}

/// Chains by confidence.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Proven from configuration alone.
    pub proven: usize,
    /// Proven, and runtime evidence was seen on it.
    pub corroborated: usize,
    /// Affirmed by the model.
    pub judged: usize,
    /// All of them.
    pub total: usize,
}

impl Counts {
    fn add(&mut self, confidence: &str) {
        match confidence {
            "proven" => self.proven += 1,
            "corroborated" => self.corroborated += 1,
            "judged" => self.judged += 1,
            _ => {}
        }
        self.total += 1;
    }
}

/// One change of the minimal cut.
#[derive(Debug, Clone, Serialize)]
pub struct CutItem {
    /// Its id (`cuts[].id`).
    pub id: String,
    /// What to change, in words.
    pub fix: String,
    /// The relation cut, from and to.
    pub edge: String,
    /// Where the cut edge starts.
    pub from: String,
    /// Where it ends.
    pub to: String,
    /// Disruption cost.
    pub cost: u64,
    /// `live` (reversible NetworkPolicies rampart verified) or `propose`.
    pub action: String,
    /// Chains it breaks (named and unnamed).
    pub breaks: usize,
    /// The action bar's verdict, in words, when the engine decided on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

/// The minimal cut, in numbers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CutSummary {
    /// Changes.
    pub changes: usize,
    /// Their summed cost.
    pub cost: u64,
    /// Changes rampart can make itself, live and reversible.
    pub live: usize,
    /// Each change.
    pub items: Vec<CutItem>,
}

/// The latest change report, in numbers.
#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    /// Re-proof counter.
    pub generation: u64,
    /// When it ran (RFC 3339), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// How the re-proof was made (`full`, `relabel`, …).
    pub path: String,
    /// Chains that appeared and went.
    pub chains_added: usize,
    /// Chains that went.
    pub chains_removed: usize,
    /// Relations that appeared.
    pub relations_added: usize,
    /// Relations that went.
    pub relations_removed: usize,
    /// Crown jewels reachable before and after.
    pub jewels: (usize, usize),
}

/// The model's call on an entry, in its words.
#[derive(Debug, Clone, Serialize)]
pub struct Caption {
    /// `exploitable`, `not_exploitable`, `unknown`.
    pub verdict: String,
    /// 0–1.
    pub confidence: f64,
    /// Its reason.
    pub reason: String,
}

/// One internet-facing entry with chains.
#[derive(Debug, Clone, Serialize)]
pub struct EntrySummary {
    /// Its key ([`entry_key`]): what `/api/chains?entry=` and `/api/graph?entry=` take.
    pub key: String,
    /// The exposing object.
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// How it exposes (`Ingress`, `LoadBalancer`, …).
    pub endpoint: String,
    /// Port, host and path.
    pub detail: String,
    /// Where the object is written, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The line there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Chains from it (matching the filter, when one is given).
    pub chains: usize,
    /// Steps of its shortest chain.
    pub nearest: usize,
    /// Chains by target kind.
    pub targets: BTreeMap<String, usize>,
    /// The model's call, when it judged the entry's chains (an `exploitable` verdict first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<Caption>,
}

/// Values the filters can take.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facets {
    /// Namespaces chains pass through.
    pub namespaces: Vec<String>,
    /// Target kinds.
    pub targets: Vec<String>,
    /// Confidences.
    pub confidences: Vec<String>,
    /// Relations.
    pub edges: Vec<String>,
}

/// The overview: `GET /api/summary`, and the page's first screen.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// [`SUMMARY_SCHEMA`].
    pub schema: &'static str,
    /// Chains listed.
    pub chains: usize,
    /// Chains by target kind and confidence.
    pub by_target: BTreeMap<String, Counts>,
    /// Chains by confidence.
    pub by_confidence: Counts,
    /// Internet-facing endpoints.
    pub endpoints: u64,
    /// Endpoints with chains.
    pub entries_with_chains: usize,
    /// Crown jewels reachable from the internet.
    pub jewels_reachable: u64,
    /// Workloads and pods analysed.
    pub workloads: u64,
    /// Pods.
    pub pods: u64,
    /// The minimal cut.
    pub cut: CutSummary,
    /// Mitigations in the ledger by phase (empty offline).
    pub mitigations: BTreeMap<String, usize>,
    /// The latest change report, when an engine made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportSummary>,
    /// What the filters can take.
    pub facets: Facets,
    /// Entries with chains, nearest first.
    pub entries: Vec<EntrySummary>,
}

/// `GET /api/entries`: the entries with chains matching a filter.
#[derive(Debug, Clone, Serialize)]
pub struct Matches {
    /// Matching chains.
    pub chains: usize,
    /// Entries with matching chains, nearest first, each with its matching count.
    pub entries: Vec<EntrySummary>,
}

/// `GET /api/chains`: one entry's chains (as in `/findings`, with `broken_by` and `entry_key`).
#[derive(Debug, Clone, Serialize)]
pub struct EntryChains {
    /// The entry's key.
    pub entry: String,
    /// Matching chains, at most [`MAX_CHAINS_PER_ANSWER`].
    pub chains: Vec<Value>,
    /// Matching chains left out.
    pub omitted: usize,
}

/// A vertex of the drawn graph.
#[derive(Debug, Clone, Serialize)]
pub struct GraphNode {
    /// `Kind/namespace/name` (`Internet//internet` for the attacker).
    pub id: String,
    /// The kind (its colour and legend).
    pub kind: String,
    /// `internet`, `entry`, `target` or `step`.
    pub role: &'static str,
    /// The short label drawn.
    pub label: String,
    /// The full name (tooltip).
    pub full: String,
}

/// An edge of the drawn graph.
#[derive(Debug, Clone, Serialize)]
pub struct GraphEdge {
    /// Unique.
    pub id: String,
    /// Start vertex.
    pub source: String,
    /// End vertex.
    pub target: String,
    /// The relation (`exposes` for the internet's edge to an entry).
    pub kind: String,
    /// Chains that walk it.
    pub chains: Vec<String>,
    /// The minimal cut's change that falls here (its id), if one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut: Option<String>,
}

/// `GET /api/graph`: the chains of some entries as a graph.
#[derive(Debug, Clone, Serialize)]
pub struct Graph {
    /// Entries drawn.
    pub entries: Vec<String>,
    /// Entries with chains not drawn.
    pub omitted: usize,
    /// Vertices, in a stable order.
    pub nodes: Vec<GraphNode>,
    /// Edges, in a stable order.
    pub edges: Vec<GraphEdge>,
    /// Per chain drawn: the cuts that break it (`cuts[].breaks`), for the what-if.
    pub broken_by: BTreeMap<String, Vec<String>>,
}

/// The index of one findings document.
#[derive(Debug)]
pub struct Explorer {
    doc: Value,
    facts: Vec<ChainFacts>,
    groups: Vec<Group>,
    by_key: HashMap<String, usize>,
    /// Chain id → indices of the cuts that break it.
    broken_by: HashMap<String, Vec<usize>>,
    facets: Facets,
}

/// An entry's key: `Kind/namespace/name @ detail` (one Service exposing two ports is two
/// entries, as the proof counts them).
pub fn entry_key(e: &Value) -> String {
    match e["detail"].as_str().filter(|d| !d.is_empty()) {
        Some(d) => format!("{} @ {d}", key(e)),
        None => key(e),
    }
}

/// `Kind/namespace/name` of an object reference.
pub fn key(o: &Value) -> String {
    let s = |k: &str| o[k].as_str().unwrap_or("");
    format!("{}/{}/{}", s("kind"), s("namespace"), s("name"))
}

/// `Kind namespace/name` (or `Kind name`), for people.
fn full_name(o: &Value) -> String {
    let s = |k: &str| o[k].as_str().unwrap_or("");
    if s("namespace").is_empty() {
        format!("{} {}", s("kind"), s("name"))
    } else {
        format!("{} {}/{}", s("kind"), s("namespace"), s("name"))
    }
}

/// The name alone, cut to [`SHORT_LABEL`] characters.
fn short_name(o: &Value) -> String {
    let name = o["name"].as_str().unwrap_or("");
    if name.chars().count() <= SHORT_LABEL {
        name.to_string()
    } else {
        let mut s: String = name.chars().take(SHORT_LABEL - 1).collect();
        s.push('…');
        s
    }
}

fn text_of(c: &Value) -> String {
    let mut t = String::new();
    let mut add = |o: &Value| {
        for k in ["kind", "namespace", "name"] {
            if let Some(s) = o[k].as_str() {
                t.push_str(s);
                t.push(' ');
            }
        }
    };
    add(&c["entry"]);
    add(&c["target"]);
    for s in c["steps"].as_array().into_iter().flatten() {
        add(&s["from"]);
        add(&s["to"]);
        for e in s["evidence"].as_array().into_iter().flatten() {
            add(&e["object"]);
        }
    }
    for k in [
        &c["id"],
        &c["entry"]["detail"],
        &c["target"]["technique"]["id"],
    ] {
        if let Some(s) = k.as_str() {
            t.push_str(s);
            t.push(' ');
        }
    }
    for s in c["steps"].as_array().into_iter().flatten() {
        t.push_str(s["edge"].as_str().unwrap_or(""));
        t.push(' ');
    }
    t.to_lowercase()
}

impl Explorer {
    /// Indexes a findings document (`/findings`: the scan contract, optionally with the
    /// engine's `report`).
    pub fn new(doc: Value) -> Explorer {
        let mut groups: Vec<Group> = Vec::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut facts = Vec::new();
        let mut namespaces = BTreeSet::new();
        let mut targets = BTreeSet::new();
        let mut confidences = BTreeSet::new();
        let mut edges = BTreeSet::new();
        for (i, c) in doc["chains"].as_array().into_iter().flatten().enumerate() {
            let k = entry_key(&c["entry"]);
            let g = *by_key.entry(k.clone()).or_insert_with(|| {
                groups.push(Group {
                    key: k,
                    chains: Vec::new(),
                    nearest: usize::MAX,
                });
                groups.len() - 1
            });
            let steps = c["steps"].as_array().map(Vec::len).unwrap_or(0);
            groups[g].chains.push(i);
            groups[g].nearest = groups[g].nearest.min(steps);
            let mut ns = BTreeSet::new();
            let mut es = BTreeSet::new();
            for o in [&c["entry"], &c["target"]] {
                if let Some(n) = o["namespace"].as_str().filter(|n| !n.is_empty()) {
                    ns.insert(n.to_string());
                }
            }
            for s in c["steps"].as_array().into_iter().flatten() {
                for o in [&s["from"], &s["to"]] {
                    if let Some(n) = o["namespace"].as_str().filter(|n| !n.is_empty()) {
                        ns.insert(n.to_string());
                    }
                }
                if let Some(e) = s["edge"].as_str() {
                    es.insert(e.to_string());
                }
            }
            let target = c["target"]["kind"].as_str().unwrap_or("").to_string();
            let confidence = c["confidence"].as_str().unwrap_or("").to_string();
            namespaces.extend(ns.iter().cloned());
            edges.extend(es.iter().cloned());
            targets.insert(target.clone());
            confidences.insert(confidence.clone());
            facts.push(ChainFacts {
                entry: g,
                target,
                confidence,
                namespaces: ns,
                edges: es,
                text: text_of(c),
            });
        }
        // Nearest first; the key breaks ties, so the order is the same on every reload.
        let mut indexed: Vec<(usize, Group)> = groups.into_iter().enumerate().collect();
        indexed.sort_by(|(_, a), (_, b)| (a.nearest, &a.key).cmp(&(b.nearest, &b.key)));
        let mut renumber = vec![0; indexed.len()];
        for (new, (old, _)) in indexed.iter().enumerate() {
            renumber[*old] = new;
        }
        let groups: Vec<Group> = indexed.into_iter().map(|(_, g)| g).collect();
        for f in &mut facts {
            f.entry = renumber[f.entry];
        }
        let by_key = groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.key.clone(), i))
            .collect();
        let mut broken_by: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, cut) in doc["cuts"].as_array().into_iter().flatten().enumerate() {
            for id in cut["breaks"].as_array().into_iter().flatten() {
                if let Some(id) = id.as_str() {
                    broken_by.entry(id.to_string()).or_default().push(i);
                }
            }
        }
        Explorer {
            doc,
            facts,
            groups,
            by_key,
            broken_by,
            facets: Facets {
                namespaces: namespaces.into_iter().collect(),
                targets: targets.into_iter().collect(),
                confidences: confidences.into_iter().collect(),
                edges: edges.into_iter().collect(),
            },
        }
    }

    /// The findings document it indexes.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    fn chain(&self, i: usize) -> &Value {
        &self.doc["chains"][i]
    }

    fn entry_summary(&self, g: usize, chains: &[usize]) -> EntrySummary {
        let group = &self.groups[g];
        let e = &self.chain(group.chains[0])["entry"];
        let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
        let mut targets = BTreeMap::new();
        for &c in chains {
            *targets.entry(self.facts[c].target.clone()).or_insert(0) += 1;
        }
        // The model's call: an `exploitable` verdict first, else the first answer.
        let judged = group
            .chains
            .iter()
            .map(|&c| &self.chain(c)["judgement"])
            .filter(|j| j.is_object() && j["error"].is_null());
        let caption = judged
            .clone()
            .find(|j| j["verdict"] == "exploitable")
            .or_else(|| judged.clone().next())
            .map(|j| Caption {
                verdict: j["verdict"].as_str().unwrap_or("").to_string(),
                confidence: j["confidence"].as_f64().unwrap_or(0.0),
                reason: j["reason"].as_str().unwrap_or("").to_string(),
            });
        EntrySummary {
            key: group.key.clone(),
            kind: s("kind"),
            namespace: s("namespace"),
            name: s("name"),
            endpoint: s("endpoint"),
            detail: s("detail"),
            file: e["file"].as_str().map(String::from),
            line: e["line"].as_u64(),
            chains: chains.len(),
            nearest: chains
                .iter()
                .map(|&c| self.chain(c)["steps"].as_array().map(Vec::len).unwrap_or(0))
                .min()
                .unwrap_or(0),
            targets,
            caption,
        }
    }

    /// The overview; `ledger`: the Mitigations the engine holds (each with a `phase`).
    pub fn summary(&self, ledger: &[Value]) -> Summary {
        let d = &self.doc;
        let mut by_target: BTreeMap<String, Counts> = BTreeMap::new();
        let mut by_confidence = Counts::default();
        for f in &self.facts {
            by_target
                .entry(f.target.clone())
                .or_default()
                .add(&f.confidence);
            by_confidence.add(&f.confidence);
        }
        let verdicts: HashMap<&str, &str> = d["report"]["decisions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| Some((x["cut"].as_str()?, x["decision"].as_str()?)))
            .collect();
        let items: Vec<CutItem> = d["cuts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
                let id = s("id");
                CutItem {
                    verdict: verdicts.get(id.as_str()).map(|v| verdict_in_words(v)),
                    id,
                    fix: s("fix"),
                    edge: s("edge"),
                    from: s("from"),
                    to: s("to"),
                    cost: c["cost"].as_u64().unwrap_or(0),
                    action: s("action"),
                    breaks: c["breaks"].as_array().map(Vec::len).unwrap_or(0)
                        + c["breaks_unnamed"].as_u64().unwrap_or(0) as usize,
                }
            })
            .collect();
        let cut = CutSummary {
            changes: items.len(),
            cost: d["summary"]["cut_cost"]
                .as_u64()
                .unwrap_or_else(|| items.iter().map(|i| i.cost).sum()),
            live: items.iter().filter(|i| i.action == "live").count(),
            items,
        };
        let mut mitigations = BTreeMap::new();
        for m in ledger {
            *mitigations
                .entry(m["phase"].as_str().unwrap_or("Proposed").to_string())
                .or_insert(0) += 1;
        }
        let r = &d["report"];
        let report = r["generation"].as_u64().map(|generation| {
            let n = |v: &Value| v.as_array().map(Vec::len).unwrap_or(0);
            ReportSummary {
                generation,
                at: r["at"]
                    .as_i64()
                    .and_then(|s| k8s_openapi::jiff::Timestamp::from_second(s).ok())
                    .map(|t| t.to_string()),
                path: r["path"].as_str().unwrap_or("").to_string(),
                chains_added: n(&r["diff"]["chains_added"]),
                chains_removed: n(&r["diff"]["chains_removed"]),
                relations_added: r["diff"]["relations_added_total"].as_u64().unwrap_or(0) as usize,
                relations_removed: r["diff"]["relations_removed_total"].as_u64().unwrap_or(0)
                    as usize,
                jewels: (
                    r["diff"]["jewels_reachable"][0].as_u64().unwrap_or(0) as usize,
                    r["diff"]["jewels_reachable"][1].as_u64().unwrap_or(0) as usize,
                ),
            }
        });
        let s = &d["summary"];
        Summary {
            schema: SUMMARY_SCHEMA,
            chains: self.facts.len(),
            by_target,
            by_confidence,
            endpoints: s["endpoints"].as_u64().unwrap_or(0),
            entries_with_chains: self.groups.len(),
            jewels_reachable: s["jewels_reachable"].as_u64().unwrap_or(0),
            workloads: s["workloads"].as_u64().unwrap_or(0),
            pods: s["pods"].as_u64().unwrap_or(0),
            cut,
            mitigations,
            report,
            facets: self.facets.clone(),
            entries: (0..self.groups.len())
                .map(|g| self.entry_summary(g, &self.groups[g].chains))
                .collect(),
        }
    }

    /// Entries with chains matching `f` (its `entry` is ignored), nearest first.
    pub fn matches(&self, f: &Filter) -> Matches {
        let mut per: Vec<Vec<usize>> = vec![Vec::new(); self.groups.len()];
        let mut chains = 0;
        for (i, c) in self.facts.iter().enumerate() {
            if f.matches(c) {
                per[c.entry].push(i);
                chains += 1;
            }
        }
        Matches {
            chains,
            entries: per
                .iter()
                .enumerate()
                .filter(|(_, m)| !m.is_empty())
                .map(|(g, m)| self.entry_summary(g, m))
                .collect(),
        }
    }

    /// The chains of `f.entry` matching `f`, shortest first.
    pub fn chains(&self, f: &Filter) -> Result<EntryChains, ViewError> {
        let k = f.entry.clone().unwrap_or_default();
        let g = *self
            .by_key
            .get(&k)
            .ok_or_else(|| ViewError::NoSuchEntry(k.clone()))?;
        let mut picked: Vec<usize> = self.groups[g]
            .chains
            .iter()
            .copied()
            .filter(|&c| f.matches(&self.facts[c]))
            .collect();
        picked.sort_by_key(|&c| self.chain(c)["steps"].as_array().map(Vec::len));
        let omitted = picked.len().saturating_sub(MAX_CHAINS_PER_ANSWER);
        let chains = picked
            .into_iter()
            .take(MAX_CHAINS_PER_ANSWER)
            .map(|c| {
                let mut v = self.chain(c).clone();
                v["broken_by"] = self.cuts_breaking(&v).into();
                v["entry_key"] = k.clone().into();
                v
            })
            .collect();
        Ok(EntryChains {
            entry: k,
            chains,
            omitted,
        })
    }

    fn cuts_breaking(&self, chain: &Value) -> Vec<String> {
        self.broken_by
            .get(chain["id"].as_str().unwrap_or(""))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.doc["cuts"][i]["id"].as_str().map(String::from))
            .collect()
    }

    /// The graph of the chains of `entries` (keys), or, when none are named, of the nearest
    /// entries that fit in [`GRAPH_VERTEX_BUDGET`] vertices and [`GRAPH_EDGE_BUDGET`] edges (at
    /// least one).
    pub fn graph(&self, entries: &[String]) -> Result<Graph, ViewError> {
        if entries.len() > MAX_GRAPH_ENTRIES {
            return Err(ViewError::TooManyEntries);
        }
        let mut picked = Vec::new();
        for k in entries {
            let g = *self
                .by_key
                .get(k)
                .ok_or_else(|| ViewError::NoSuchEntry(k.clone()))?;
            if !picked.contains(&g) {
                picked.push(g);
            }
        }
        let named = !picked.is_empty();
        let mut b = GraphBuilder::default();
        if named {
            for &g in &picked {
                for &c in &self.groups[g].chains {
                    b.add(self.chain(c));
                }
            }
        } else {
            for g in 0..self.groups.len() {
                let mut trial = b.clone();
                for &c in &self.groups[g].chains {
                    trial.add(self.chain(c));
                }
                // Nearest first while they fit (the first is drawn whatever its size).
                if !picked.is_empty()
                    && (trial.nodes.len() > GRAPH_VERTEX_BUDGET
                        || trial.edges.len() > GRAPH_EDGE_BUDGET)
                {
                    break;
                }
                b = trial;
                picked.push(g);
            }
        }
        let mut broken_by = BTreeMap::new();
        for &g in &picked {
            for &c in &self.groups[g].chains {
                let chain = self.chain(c);
                broken_by.insert(
                    chain["id"].as_str().unwrap_or("").to_string(),
                    self.cuts_breaking(chain),
                );
            }
        }
        Ok(Graph {
            omitted: self.groups.len() - picked.len(),
            // Named: in the order asked; else nearest first, as picked.
            entries: picked.iter().map(|&g| self.groups[g].key.clone()).collect(),
            nodes: b.nodes.into_values().collect(),
            edges: b.edges.into_values().collect(),
            broken_by,
        })
    }
}

/// The bar's verdict (`act`, `act (dry-run)`, `propose: <hold>`) in words. A change held only
/// by shadow mode (its class not enabled, or the arming ladder at shadow) or by a dry-run
/// actuator is one the engine *would apply*.
pub fn verdict_in_words(decision: &str) -> String {
    let why = match decision {
        "act" => return "applied: the action bar let it through".into(),
        "act (dry-run)" => return "would apply (dry-run actuator: nothing written)".into(),
        d => match d.strip_prefix("propose: ") {
            Some(why) => why,
            None => return d.into(),
        },
    };
    let hold = why.split([' ', '(', '{']).next().unwrap_or(why);
    match (hold, why) {
        ("ClassDisabled", _) => {
            "would apply: shadow mode (its class is not enabled: rampart engine --enable)".into()
        }
        (_, "Arming(Shadow)") => "would apply: the arming ladder holds its class in shadow".into(),
        (_, "Arming(Propose)") => "proposed: the arming ladder holds its class at propose".into(),
        ("NeedsCorroboration", _) => {
            "held: proven from configuration, no runtime evidence yet (--act-on-proof acts on proof)"
                .into()
        }
        ("CircuitOpen", _) => "held: too many actions in the circuit breaker's window".into(),
        ("WorkloadCircuitOpen", _) => "held: too many actions on this workload lately".into(),
        ("Protected", _) => "held: rampart's own or a protected namespace".into(),
        ("Availability", _) => "held: it would leave too few ready replicas".into(),
        ("CoolingDown", _) => "held: cooling down after its mitigation expired".into(),
        ("NotSynced", _) => "held: PodDisruptionBudgets are not listed yet".into(),
        ("Irreversible", _) => "proposed: not reversible, a change to make by hand".into(),
        _ => format!("proposed, not applied: {why}"),
    }
}

/// Vertices and edges of chains, deduplicated, in a stable order.
#[derive(Debug, Clone, Default)]
struct GraphBuilder {
    nodes: BTreeMap<String, GraphNode>,
    edges: BTreeMap<String, GraphEdge>,
}

impl GraphBuilder {
    fn node(&mut self, o: &Value, role: &'static str) -> String {
        let id = key(o);
        let n = self.nodes.entry(id.clone()).or_insert_with(|| GraphNode {
            id: id.clone(),
            kind: o["kind"].as_str().unwrap_or("").to_string(),
            role,
            label: short_name(o),
            full: full_name(o),
        });
        // The target's and entry's roles win over a passing step's.
        if role != "step" && n.role == "step" {
            n.role = role;
        }
        id
    }

    fn edge(&mut self, from: String, to: String, kind: &str, chain: &str, cut: &Value) {
        let id = format!("{from}>{to}:{kind}");
        let e = self.edges.entry(id.clone()).or_insert_with(|| GraphEdge {
            id,
            source: from,
            target: to,
            kind: kind.to_string(),
            chains: Vec::new(),
            cut: None,
        });
        if !e.chains.iter().any(|c| c == chain) {
            e.chains.push(chain.to_string());
        }
        if e.cut.is_none() {
            e.cut = cut.as_str().map(String::from);
        }
    }

    fn add(&mut self, c: &Value) {
        let id = c["id"].as_str().unwrap_or("");
        let internet = self.node(
            &serde_json::json!({"kind": "Internet", "name": "internet"}),
            "internet",
        );
        let entry = self.node(&c["entry"], "entry");
        self.edge(internet, entry, "exposes", id, &c["entry"]["cut"]);
        let steps = c["steps"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for (i, s) in steps.iter().enumerate() {
            let role = if i + 1 == steps.len() {
                "target"
            } else {
                "step"
            };
            let from = self.node(&s["from"], "step");
            let to = self.node(&s["to"], role);
            self.edge(from, to, s["edge"].as_str().unwrap_or(""), id, &s["cut"]);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn obj(kind: &str, ns: &str, name: &str) -> Value {
        json!({"kind": kind, "namespace": ns, "name": name})
    }

    fn step(edge: &str, from: Value, to: Value, cut: Option<&str>) -> Value {
        let mut s = json!({"edge": edge, "from": from, "to": to, "evidence": []});
        if let Some(c) = cut {
            s["cut"] = c.into();
        }
        s
    }

    /// Two entries: `shop/web` (two chains of two steps) and `ci/hook` (one of three).
    fn doc() -> Value {
        let web = obj("Ingress", "shop", "web");
        let hook = obj("Service", "ci", "hook");
        json!({
            "summary": {"endpoints": 3, "jewels_reachable": 2, "workloads": 4, "pods": 9, "cut_cost": 7},
            "chains": [
                {"id": "c-hook", "confidence": "proven", "entry": hook.clone(),
                 "target": {"kind": "ClusterAdmin", "name": "cluster-admin"},
                 "steps": [step("routes-to", hook.clone(), obj("Deployment", "ci", "hook"), None),
                           step("runs-as", obj("Deployment", "ci", "hook"), obj("ServiceAccount", "ci", "deployer"), Some("cut-b")),
                           step("escalates", obj("ServiceAccount", "ci", "deployer"), obj("ClusterAdmin", "", "cluster-admin"), None)]},
                {"id": "c-web-1", "confidence": "corroborated", "entry": web.clone(),
                 "target": {"kind": "Secret", "namespace": "shop", "name": "db"},
                 "steps": [step("routes-to", web.clone(), obj("Deployment", "shop", "web"), Some("cut-a")),
                           step("reads-secret", obj("Deployment", "shop", "web"), obj("Secret", "shop", "db"), None)]},
                {"id": "c-web-2", "confidence": "proven", "entry": web.clone(),
                 "target": {"kind": "Node", "name": "node-1"},
                 "steps": [step("routes-to", web.clone(), obj("Deployment", "shop", "web"), Some("cut-a")),
                           step("mounts-host", obj("Deployment", "shop", "web"), obj("Node", "", "node-1"), None)]}
            ],
            "cuts": [
                {"id": "cut-a", "breaks": ["c-web-1", "c-web-2"], "breaks_unnamed": 0, "cost": 5, "action": "live",
                 "edge": "routes-to", "from": "Ingress/shop/web", "to": "Deployment/shop/web", "fix": "deny ingress to shop/web"},
                {"id": "cut-b", "breaks": ["c-hook"], "breaks_unnamed": 1, "cost": 2, "action": "propose",
                 "edge": "runs-as", "from": "x", "to": "y", "fix": "drop the binding"}
            ],
            "report": {"generation": 4, "at": 1_700_000_000, "path": "full",
                       "diff": {"chains_added": ["c-hook"], "chains_removed": [], "relations_added_total": 3,
                                "relations_removed_total": 1, "jewels_reachable": [1, 2]},
                       "decisions": [{"cut": "cut-a", "fix": "deny", "decision": "act (dry-run)"}]}
        })
    }

    #[test]
    fn the_summary_counts_what_the_document_holds() {
        let x = Explorer::new(doc());
        let ledger = [
            json!({"phase": "Applied"}),
            json!({"phase": "Applied"}),
            json!({"phase": "Reverted"}),
        ];
        let s = x.summary(&ledger);
        assert_eq!(s.chains, 3);
        assert_eq!(
            s.by_confidence,
            Counts {
                proven: 2,
                corroborated: 1,
                judged: 0,
                total: 3
            }
        );
        assert_eq!(s.by_target["Secret"].corroborated, 1);
        assert_eq!(s.by_target["ClusterAdmin"].proven, 1);
        assert_eq!(s.entries_with_chains, 2);
        assert_eq!((s.cut.changes, s.cut.cost, s.cut.live), (2, 7, 1));
        assert_eq!(s.cut.items[0].breaks, 2);
        assert_eq!(s.cut.items[1].breaks, 2, "named and unnamed");
        assert_eq!(
            s.cut.items[0].verdict.as_deref(),
            Some("would apply (dry-run actuator: nothing written)")
        );
        assert_eq!(s.cut.items[1].verdict, None);
        assert_eq!(s.mitigations["Applied"], 2);
        assert_eq!(s.mitigations["Reverted"], 1);
        let r = s.report.unwrap();
        assert_eq!(
            (r.generation, r.chains_added, r.relations_added, r.jewels),
            (4, 1, 3, (1, 2))
        );
        assert_eq!(r.at.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(s.facets.namespaces, ["ci", "shop"]);
        assert_eq!(
            s.facets.edges,
            [
                "escalates",
                "mounts-host",
                "reads-secret",
                "routes-to",
                "runs-as"
            ]
        );
    }

    #[test]
    fn entries_are_listed_nearest_first() {
        let s = Explorer::new(doc()).summary(&[]);
        let keys: Vec<&str> = s.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["Ingress/shop/web", "Service/ci/hook"]);
        assert_eq!((s.entries[0].chains, s.entries[0].nearest), (2, 2));
        assert_eq!(s.entries[1].nearest, 3);
        assert_eq!(s.entries[0].targets["Node"], 1);
    }

    #[test]
    fn filters_narrow_the_entries_and_their_chains() {
        let x = Explorer::new(doc());
        let f = |v: Value| {
            serde_json::from_value::<Filter>(v)
                .unwrap()
                .checked()
                .unwrap()
        };
        let all = x.matches(&Filter::default());
        assert_eq!((all.chains, all.entries.len()), (3, 2));
        let ci = x.matches(&f(json!({"namespace": "ci"})));
        assert_eq!(ci.chains, 1);
        assert_eq!(ci.entries[0].key, "Service/ci/hook");
        let node = x.matches(&f(json!({"target": "Node"})));
        assert_eq!((node.chains, node.entries[0].chains), (1, 1));
        assert_eq!(
            x.matches(&f(json!({"confidence": "corroborated"}))).chains,
            1
        );
        assert_eq!(x.matches(&f(json!({"edge": "escalates"}))).chains, 1);
        assert_eq!(
            x.matches(&f(json!({"q": "  DB "}))).chains,
            1,
            "trimmed, any case"
        );
        assert_eq!(x.matches(&f(json!({"q": "nothing-like-it"}))).chains, 0);
        assert_eq!(
            x.matches(&f(json!({"namespace": ""}))).chains,
            3,
            "empty is any"
        );
        let long = "x".repeat(MAX_FILTER_LEN + 1);
        assert_eq!(
            serde_json::from_value::<Filter>(json!({"q": long}))
                .unwrap()
                .checked(),
            Err(ViewError::FilterTooLong("q"))
        );
        assert!(serde_json::from_value::<Filter>(json!({"bogus": "1"})).is_err());
    }

    #[test]
    fn an_entry_s_chains_come_with_the_cuts_that_break_them() {
        let x = Explorer::new(doc());
        let f = Filter {
            entry: Some("Ingress/shop/web".into()),
            ..Filter::default()
        };
        let c = x.chains(&f).unwrap();
        assert_eq!(c.chains.len(), 2);
        assert_eq!(c.chains[0]["broken_by"], json!(["cut-a"]));
        let narrowed = x
            .chains(&Filter {
                target: Some("Secret".into()),
                ..f
            })
            .unwrap();
        assert_eq!(narrowed.chains.len(), 1);
        assert_eq!(narrowed.chains[0]["id"], "c-web-1");
        assert_eq!(
            x.chains(&Filter {
                entry: Some("Service/x/y".into()),
                ..Filter::default()
            })
            .unwrap_err(),
            ViewError::NoSuchEntry("Service/x/y".into())
        );
    }

    #[test]
    fn the_graph_draws_an_entry_s_chains_with_the_cut_on_them() {
        let x = Explorer::new(doc());
        let g = x.graph(&["Ingress/shop/web".into()]).unwrap();
        assert_eq!(g.entries, ["Ingress/shop/web"]);
        assert_eq!(g.omitted, 1);
        let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "Deployment/shop/web",
                "Ingress/shop/web",
                "Internet//internet",
                "Node//node-1",
                "Secret/shop/db"
            ]
        );
        let role = |id: &str| g.nodes.iter().find(|n| n.id == id).unwrap().role;
        assert_eq!(
            (role("Ingress/shop/web"), role("Secret/shop/db")),
            ("entry", "target")
        );
        let routes = g.edges.iter().find(|e| e.kind == "routes-to").unwrap();
        assert_eq!(routes.cut.as_deref(), Some("cut-a"));
        assert_eq!(
            routes.chains,
            ["c-web-1", "c-web-2"],
            "shared by both chains"
        );
        assert_eq!(g.edges.iter().filter(|e| e.cut.is_some()).count(), 1);
        assert_eq!(g.broken_by["c-web-2"], ["cut-a"]);
        assert!(!g.broken_by.contains_key("c-hook"));
        // Nothing named: the nearest entries that fit; here both.
        let all = x.graph(&[]).unwrap();
        assert_eq!((all.entries.len(), all.omitted), (2, 0));
        let too_many: Vec<String> = (0..=MAX_GRAPH_ENTRIES).map(|i| i.to_string()).collect();
        assert_eq!(x.graph(&too_many).unwrap_err(), ViewError::TooManyEntries);
    }

    #[test]
    fn source_links_are_http_and_encode_the_path() {
        let s = SourceLinks::parse("https://git.example.com/ops/blob/main/{file}#L{line}").unwrap();
        assert_eq!(
            s.link("./examples/a b/<x>.yaml", Some(27)),
            "https://git.example.com/ops/blob/main/examples/a%20b/%3Cx%3E.yaml#L27"
        );
        assert_eq!(
            s.link("f.yaml", None),
            "https://git.example.com/ops/blob/main/f.yaml#L"
        );
        for bad in [
            "javascript:alert(1)//{file}",
            "https://example.com/",
            "file:///{file}",
            "//x/{file}",
        ] {
            assert!(SourceLinks::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_bar_s_verdicts_read_as_words() {
        assert!(verdict_in_words("act").starts_with("applied"));
        assert!(verdict_in_words("propose: ClassDisabled").starts_with("would apply: shadow mode"));
        assert!(verdict_in_words("propose: Arming(Shadow)").starts_with("would apply"));
        assert!(verdict_in_words("propose: Arming(Propose)").starts_with("proposed"));
        assert!(
            verdict_in_words("propose: Availability { after: 0, required: 1 }").starts_with("held")
        );
        assert_eq!(
            verdict_in_words("propose: Something new"),
            "proposed, not applied: Something new"
        );
        assert_eq!(verdict_in_words("odd"), "odd");
    }

    #[test]
    fn long_names_are_cut_short_and_kept_whole_in_the_tooltip() {
        let long = "a-very-long-deployment-name-indeed-yes";
        let n = short_name(&obj("Deployment", "ns", long));
        assert_eq!(n.chars().count(), SHORT_LABEL);
        assert!(n.ends_with('…'));
        assert_eq!(
            full_name(&obj("Deployment", "ns", long)),
            format!("Deployment ns/{long}")
        );
        assert_eq!(full_name(&obj("Node", "", "n1")), "Node n1");
    }

    #[test]
    fn a_document_without_chains_gives_an_empty_view() {
        let x = Explorer::new(Value::Null);
        let s = x.summary(&[]);
        assert_eq!((s.chains, s.entries.len(), s.cut.changes), (0, 0, 0));
        let g = x.graph(&[]).unwrap();
        assert!(g.nodes.is_empty() && g.edges.is_empty());
    }
}
