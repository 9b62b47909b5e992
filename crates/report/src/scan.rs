//! The `rampart.dev/scan/v1` document.

use std::collections::BTreeMap;

use petgraph::graph::{EdgeIndex, NodeIndex};
use rampart_graph::model::{EdgeKind, Evidence, ObjRef, Vertex};
use rampart_graph::{Analysis, SecurityGraph, TargetKind};
use serde::Serialize;

/// Schema identifier.
pub const SCHEMA: &str = "rampart.dev/scan/v1";

/// What was read, for the `inputs` section.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InputSummary {
    /// Files read.
    pub files: usize,
    /// Objects parsed.
    pub objects: usize,
    /// Unmodelled kinds and their counts.
    pub ignored_kinds: BTreeMap<String, usize>,
    /// Problems reading the input (file, document, line, reason).
    pub errors: Vec<InputError>,
    /// Problems found while analysing (invalid selectors, dangling role references, …).
    pub warnings: Vec<String>,
}

/// One input problem.
#[derive(Debug, Clone, Serialize)]
pub struct InputError {
    /// File.
    pub file: String,
    /// 1-based document number (0 when the whole file failed).
    pub document: u32,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// List item index, when inside a List.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<u32>,
    /// Why.
    pub message: String,
}

impl From<&rampart_model::LoadError> for InputError {
    fn from(e: &rampart_model::LoadError) -> Self {
        InputError {
            file: e.location.file.to_string(),
            document: e.location.doc,
            line: e.location.line,
            item: e.location.item,
            message: e.message.clone(),
        }
    }
}

/// Counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Workloads.
    pub workloads: usize,
    /// Pods (live pods, or desired replicas of templates).
    pub pods: u64,
    /// Internet-facing endpoints.
    pub endpoints: usize,
    /// Entries with at least one chain.
    pub entries_with_chains: usize,
    /// Chains listed in `chains` (shortest first, up to the per-entry limit).
    pub chains: usize,
    /// Entries with more chains than listed.
    pub truncated_entries: usize,
    /// Distinct crown jewels reachable from the internet.
    pub jewels_reachable: usize,
    /// Listed chains by target kind.
    pub by_target: BTreeMap<String, usize>,
    /// Cuts in the minimal cut.
    pub cuts: usize,
    /// Of which live (verified NetworkPolicies).
    pub live_cuts: usize,
    /// Total disruption cost of the minimal cut.
    pub cut_cost: u64,
    /// Vertices and edges of the security graph.
    pub graph: GraphSize,
}

/// Graph size.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GraphSize {
    /// Vertices.
    pub vertices: usize,
    /// Edges.
    pub edges: usize,
    /// NetworkPolicy reachability classes.
    pub network_classes: usize,
}

/// A reference with optional location.
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    /// The object.
    #[serde(flatten)]
    pub object: ObjRef,
    /// File.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// The entry of a chain.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The exposing object.
    #[serde(flatten)]
    pub object: Located,
    /// How it exposes (`LoadBalancer`, `NodePort`, `Ingress`, `HostPort`, …).
    pub endpoint: String,
    /// Port, host and path.
    pub detail: String,
    /// The minimal cut's change that closes this exposure, when the cut falls here (its id in
    /// `cuts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut: Option<String>,
}

/// Evidence, serialized.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceOut {
    /// The object.
    pub object: ObjRef,
    /// Field or rule.
    pub field: String,
    /// File.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl From<&Evidence> for EvidenceOut {
    fn from(e: &Evidence) -> Self {
        EvidenceOut {
            object: e.object.clone(),
            field: e.field.clone(),
            file: e.source.as_ref().map(|s| s.file.to_string()),
            line: e.source.as_ref().map(|s| s.line).filter(|l| *l > 0),
        }
    }
}

/// One step of a chain.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Relation (`routes-to`, `network`, `runs-as`, `reads-secret`, …).
    pub edge: String,
    /// From.
    pub from: ObjRef,
    /// To.
    pub to: ObjRef,
    /// Ports (network steps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<String>,
    /// Proof.
    pub evidence: Vec<EvidenceOut>,
    /// The minimal cut's change that falls on this step, when one does (its id in `cuts`): a
    /// chain crosses at most a few; one that crosses none is broken by the cut elsewhere
    /// (`cuts[].breaks`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut: Option<String>,
}

/// The cheapest single edge of a chain.
#[derive(Debug, Clone, Serialize)]
pub struct Cheapest {
    /// Relation.
    pub edge: String,
    /// From.
    pub from: ObjRef,
    /// To.
    pub to: ObjRef,
    /// Cost.
    pub cost: u32,
}

/// What a chain ends at.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// `Secret` | `Node` | `ClusterAdmin` | `CrownJewel` | `Impact` | `Exfiltration` |
    /// `Collection` | `Persistence`.
    pub kind: &'static str,
    /// Namespace (`null` when cluster-scoped).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// For `CrownJewel` and `Collection`, the workload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjRef>,
    /// The MITRE ATT&CK technique the target stands for (none for a crown jewel that holds
    /// no data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub technique: Option<TechniqueOut>,
}

/// A MITRE ATT&CK technique, as the contract names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TechniqueOut {
    /// `T1485`, `T1053.007`, …
    pub id: &'static str,
    /// Its ATT&CK name.
    pub name: &'static str,
    /// The tactic it serves (`Impact`, `Exfiltration`, `Collection`, `Persistence`,
    /// `Credential Access`, `Privilege Escalation`).
    pub tactic: &'static str,
}

impl From<rampart_graph::Technique> for TechniqueOut {
    fn from(t: rampart_graph::Technique) -> Self {
        TechniqueOut {
            id: t.id(),
            name: t.name(),
            tactic: t.tactic(),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.object, &self.namespace) {
            (Some(o), _) => write!(f, "{} {o}", self.kind),
            (None, Some(ns)) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            (None, None) => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// One chain.
#[derive(Debug, Clone, Serialize)]
pub struct ChainOut {
    /// Stable id.
    pub id: String,
    /// `proven` | `corroborated` | `judged`.
    pub confidence: rampart_graph::Confidence,
    /// Entry.
    pub entry: Entry,
    /// Target.
    pub target: Target,
    /// Steps after the entry, in order.
    pub steps: Vec<Step>,
    /// Number of steps.
    pub length: usize,
    /// Cheapest single edge to cut this chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cheapest_cut: Option<Cheapest>,
    /// An exploitable vulnerability at the entry workload (CISA KEV, or critical and remote).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foothold: Option<rampart_signals::foothold::Foothold>,
    /// Runtime evidence of this chain being walked (`confidence` is then `corroborated`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<rampart_signals::corroborate::Corroboration>,
    /// What the model said about this chain, when a model judges (`confidence` is then
    /// `judged` if it says `exploitable` with enough confidence and nothing corroborates it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judgement: Option<Judgement>,
}

/// The model's call on one chain: a caption in its own words, never proof.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    /// `exploitable` | `not_exploitable` | `unknown`.
    pub verdict: Verdict,
    /// How sure the model says it is, 0 to 1 (0 for `unknown` without an answer).
    pub confidence: f64,
    /// Why, in the model's words (at most 400 characters; model output: shown escaped).
    pub reason: String,
    /// The chain steps (`s0` is the entry, `s1`… the steps) the reason relies on.
    pub steps: Vec<String>,
    /// The model that answered.
    pub model: String,
    /// Why there is no answer (the model was down, slow, or answered nonsense).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A model's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// An attacker on the internet could walk the chain end to end.
    Exploitable,
    /// The chain is present but not exploitable as configured.
    NotExploitable,
    /// The model could not tell, or did not answer.
    Unknown,
}

impl Verdict {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Exploitable => "exploitable",
            Verdict::NotExploitable => "not_exploitable",
            Verdict::Unknown => "unknown",
        }
    }
}

impl Judgement {
    /// Whether it makes a chain `judged`: `exploitable` with at least `threshold` confidence.
    pub fn affirms(&self, threshold: f64) -> bool {
        self.verdict == Verdict::Exploitable && self.confidence >= threshold
    }
}

/// One cut.
#[derive(Debug, Clone, Serialize)]
pub struct CutOut {
    /// Stable id.
    pub id: String,
    /// Ids of the chains the cut breaks: the listed chains only it separates once the rest of
    /// the cut is in place or whose path crosses it, and at most
    /// [`rampart_graph::cut::MAX_UNLISTED_BREAKS`] unlisted ones it separates.
    pub breaks: Vec<rampart_graph::ChainId>,
    /// How many more (unlisted) chains it breaks than `breaks` names.
    pub breaks_unnamed: usize,
    /// Disruption cost.
    pub cost: u32,
    /// `live` (verified NetworkPolicies, reversible) or `propose` (durable change).
    pub action: String,
    /// The relation cut.
    pub edge: String,
    /// Edge start.
    pub from: String,
    /// Edge end.
    pub to: String,
    /// The first manifest to apply, if the cut is one.
    pub manifest: Option<serde_json::Value>,
    /// Every manifest to apply.
    pub manifests: Vec<serde_json::Value>,
    /// What to change, in words.
    pub fix: String,
    /// Notes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The whole document.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// `rampart.dev/scan/v1`.
    pub schema: &'static str,
    /// Counts.
    pub summary: Summary,
    /// Chains.
    pub chains: Vec<ChainOut>,
    /// Minimal cut.
    pub cuts: Vec<CutOut>,
    /// Input summary.
    pub inputs: InputSummary,
    /// Set when the report shows a what-if (`--apply-cuts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_if: Option<WhatIf>,
}

/// The result of re-proving with the cuts applied.
#[derive(Debug, Clone, Serialize)]
pub struct WhatIf {
    /// Fixes applied.
    pub applied: Vec<String>,
    /// Chains that remain.
    pub remaining_chains: usize,
    /// Crown jewels still reachable from the internet.
    pub jewels_reachable: usize,
    /// Remaining chains, as in `chains`.
    pub chains: Vec<ChainOut>,
}

/// Condenses a chain's edges into steps (network plumbing becomes one `network` step).
pub fn steps(g: &SecurityGraph, edges: &[EdgeIndex]) -> Vec<Step> {
    steps_of(g, edges).0
}

/// [`steps`], and per edge of `edges` the step it was condensed into (`None`: the exposure,
/// `edges[0]`, or plumbing no step took).
fn steps_of(g: &SecurityGraph, edges: &[EdgeIndex]) -> (Vec<Step>, Vec<Option<usize>>) {
    let mut owner: Vec<Option<usize>> = vec![None; edges.len()];
    // Edges since the last step: the next step pushed takes them.
    let mut since = 1;
    let mut out = Vec::new();
    let mut take = |out: &Vec<Step>, at: usize, since: &mut usize| {
        for o in &mut owner[*since..=at] {
            *o = Some(out.len() - 1);
        }
        *since = at + 1;
    };
    let mut net_from: Option<NodeIndex> = None;
    let mut net_ev: Vec<EvidenceOut> = Vec::new();
    let mut net_ports: Option<String> = None;
    let mut grant: Option<(NodeIndex, Vec<EvidenceOut>)> = None;
    for (at, &e) in edges.iter().enumerate().skip(1) {
        let Some((a, b)) = g.graph.edge_endpoints(e) else {
            continue;
        };
        let edge = &g.graph[e];
        if matches!(g.graph[b], Vertex::Grant(_)) {
            grant = Some((a, edge.evidence.iter().map(EvidenceOut::from).collect()));
            continue;
        }
        if matches!(g.graph[a], Vertex::Grant(_)) {
            let (from, evidence) = grant.take().unwrap_or((a, Vec::new()));
            out.push(Step {
                edge: edge.kind.as_str().into(),
                from: g.vertex_ref(from),
                to: g.vertex_ref(b),
                ports: None,
                evidence,
                cut: None,
            });
            take(&out, at, &mut since);
            continue;
        }
        match edge.kind {
            EdgeKind::SendsAs => {
                net_from = Some(a);
                net_ev.clear();
                net_ports = None;
            }
            EdgeKind::EgressOpen
            | EdgeKind::IngressOpen
            | EdgeKind::PolicyAllows
            | EdgeKind::PeerMember
            | EdgeKind::RuleAdmits
            | EdgeKind::AdmitsInto => {
                net_ev.extend(edge.evidence.iter().map(EvidenceOut::from));
                // The ports of the last edge that names them (open egress names every port).
                if edge.ports.is_some()
                    && (edge.kind != EdgeKind::EgressOpen || net_ports.is_none())
                {
                    net_ports = edge.ports.as_ref().map(ToString::to_string);
                }
            }
            // Out of the pods' network identity to the internet: from the workload.
            EdgeKind::Exfiltrates => {
                net_ev.extend(edge.evidence.iter().map(EvidenceOut::from));
                let from = net_from
                    .take()
                    .map(|f| g.vertex_ref(f))
                    .unwrap_or_else(|| g.vertex_ref(a));
                out.push(Step {
                    edge: edge.kind.as_str().into(),
                    from,
                    to: g.vertex_ref(b),
                    ports: edge.ports.as_ref().map(ToString::to_string),
                    evidence: std::mem::take(&mut net_ev),
                    cut: None,
                });
                take(&out, at, &mut since);
            }
            EdgeKind::ReceivesAs => {
                let from = net_from
                    .map(|f| g.vertex_ref(f))
                    .unwrap_or_else(|| g.vertex_ref(a));
                out.push(Step {
                    edge: "network".into(),
                    from,
                    to: g.vertex_ref(b),
                    ports: net_ports.take(),
                    evidence: std::mem::take(&mut net_ev),
                    cut: None,
                });
                take(&out, at, &mut since);
            }
            _ => {
                out.push(Step {
                    edge: edge.kind.as_str().into(),
                    from: g.vertex_ref(a),
                    to: g.vertex_ref(b),
                    ports: edge.ports.as_ref().map(ToString::to_string),
                    evidence: edge.evidence.iter().map(EvidenceOut::from).collect(),
                    cut: None,
                });
                take(&out, at, &mut since);
            }
        }
    }
    (out, owner)
}

fn chains_out(a: &Analysis) -> Vec<ChainOut> {
    a.proof.chains.iter().map(|c| chain_out(a, c)).collect()
}

/// One proven chain in the contract's shape (no foothold, evidence or judgement attached).
pub fn chain_out(a: &Analysis, c: &rampart_graph::Chain) -> ChainOut {
    let g = &a.graph;
    {
        {
            let ep = match g.graph[c.entry] {
                Vertex::Endpoint(e) => Some(&g.endpoints[e as usize]),
                _ => None,
            };
            let entry = Entry {
                object: Located {
                    object: g.vertex_ref(c.entry),
                    file: ep
                        .and_then(|e| e.source.as_ref())
                        .map(|s| s.file.to_string()),
                    line: ep
                        .and_then(|e| e.source.as_ref())
                        .map(|s| s.line)
                        .filter(|l| *l > 0),
                },
                endpoint: ep.map(|e| format!("{:?}", e.kind)).unwrap_or_default(),
                detail: ep
                    .map(rampart_graph::model::Endpoint::shown)
                    .unwrap_or_default(),
                cut: None,
            };
            let jewel = g.vertex_ref(c.target);
            let target = Target {
                kind: c.target_kind.as_str(),
                namespace: (!jewel.namespace.is_empty()).then(|| jewel.namespace.clone()),
                name: jewel.name.clone(),
                object: matches!(
                    c.target_kind,
                    TargetKind::CrownJewel | TargetKind::Collection
                )
                .then_some(jewel),
                technique: c.technique.map(TechniqueOut::from),
            };
            let cheapest_cut = a.plan.cheapest.get(&c.id).and_then(|(e, cost)| {
                let (x, y) = g.graph.edge_endpoints(*e)?;
                Some(Cheapest {
                    edge: g.graph[*e].kind.as_str().into(),
                    from: g.vertex_ref(x),
                    to: g.vertex_ref(y),
                    cost: *cost,
                })
            });
            let (mut steps, owner) = steps_of(g, &c.edges);
            let mut entry = entry;
            // Where the minimal cut falls on this chain's path.
            for cut in &a.plan.cuts {
                for e in std::iter::once(&cut.edge).chain(&cut.also) {
                    let Some(at) = c.edges.iter().position(|x| x == e) else {
                        continue;
                    };
                    match owner.get(at).copied().flatten() {
                        Some(i) => {
                            steps[i].cut.get_or_insert_with(|| cut.id.clone());
                        }
                        None if at == 0 => {
                            entry.cut.get_or_insert_with(|| cut.id.clone());
                        }
                        None => {}
                    }
                }
            }
            ChainOut {
                id: c.id.clone(),
                confidence: c.confidence,
                entry,
                target,
                length: steps.len(),
                steps,
                cheapest_cut,
                foothold: None,
                evidence: Vec::new(),
                judgement: None,
            }
        }
    }
}

impl ScanReport {
    /// Attaches runtime evidence (by chain id): those chains become `corroborated`.
    pub fn corroborate(
        &mut self,
        evidence: &BTreeMap<String, Vec<rampart_signals::corroborate::Corroboration>>,
    ) {
        for c in &mut self.chains {
            if let Some(ev) = evidence.get(&c.id) {
                c.confidence = rampart_graph::Confidence::Corroborated;
                c.evidence.clone_from(ev);
            }
        }
    }

    /// Attaches the model's judgements (by chain id); a chain nothing corroborates becomes
    /// `judged` when its judgement [affirms](Judgement::affirms) at `threshold`.
    pub fn judge(&mut self, judgements: &BTreeMap<String, Judgement>, threshold: f64) {
        for c in &mut self.chains {
            if let Some(j) = judgements.get(&c.id) {
                if c.confidence == rampart_graph::Confidence::Proven && j.affirms(threshold) {
                    c.confidence = rampart_graph::Confidence::Judged;
                }
                c.judgement = Some(j.clone());
            }
        }
    }

    /// Attaches footholds (by chain id) to the chains entering through them.
    pub fn with_footholds(
        &mut self,
        footholds: &BTreeMap<String, rampart_signals::foothold::Foothold>,
    ) {
        for c in &mut self.chains {
            c.foothold = footholds.get(&c.id).cloned();
        }
    }

    /// Builds the report of an analysis.
    pub fn new(a: &Analysis, mut inputs: InputSummary) -> ScanReport {
        inputs.warnings.extend(a.graph.warnings.iter().cloned());
        let chains = chains_out(a);
        let mut by_target = BTreeMap::new();
        for c in &a.proof.chains {
            *by_target
                .entry(c.target_kind.as_str().to_string())
                .or_insert(0) += 1;
        }
        let cuts: Vec<CutOut> = a
            .plan
            .cuts
            .iter()
            .map(|c| {
                let manifests: Vec<serde_json::Value> =
                    c.fixes.iter().filter_map(|f| f.object().cloned()).collect();
                CutOut {
                    id: c.id.clone(),
                    breaks: c.breaks.clone(),
                    breaks_unnamed: c.breaks_unnamed,
                    cost: c.cost,
                    action: if c.live {
                        "live".into()
                    } else {
                        "propose".into()
                    },
                    edge: c.kind.as_str().into(),
                    from: c.from.clone(),
                    to: c.to.clone(),
                    manifest: manifests.first().cloned(),
                    manifests,
                    fix: c
                        .fixes
                        .iter()
                        .map(|f| f.describe())
                        .collect::<Vec<_>>()
                        .join("; "),
                    notes: c.notes.clone(),
                }
            })
            .collect();
        let summary = Summary {
            workloads: a.graph.workloads.list.len(),
            pods: a.graph.workloads.pod_count(),
            endpoints: a.graph.endpoints.len(),
            entries_with_chains: a.proof.entries,
            chains: chains.len(),
            truncated_entries: a.proof.truncated_entries,
            jewels_reachable: a.proof.jewels_reachable,
            by_target,
            cuts: cuts.len(),
            live_cuts: cuts.iter().filter(|c| c.action == "live").count(),
            cut_cost: a.plan.total_cost,
            graph: GraphSize {
                vertices: a.graph.graph.node_count(),
                edges: a.graph.graph.edge_count(),
                network_classes: a.graph.net.class_count(),
            },
        };
        ScanReport {
            schema: SCHEMA,
            summary,
            chains,
            cuts,
            inputs,
            what_if: None,
        }
    }

    /// Attaches the what-if result of re-proving with the cuts applied.
    pub fn with_what_if(mut self, applied: Vec<String>, after: &Analysis) -> ScanReport {
        let chains = chains_out(after);
        self.what_if = Some(WhatIf {
            applied,
            remaining_chains: chains.len(),
            jewels_reachable: after.proof.jewels_reachable,
            chains,
        });
        self
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// [`ScanReport::to_json`] written as it is made, then a newline: a large cluster's report
    /// (190 MB at 100k pods) is never held whole.
    pub fn write_json(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self).map_err(std::io::Error::other)?;
        out.write_all(b"\n")
    }
}
