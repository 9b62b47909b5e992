//! The staged rollout: the suggestion split into steps that are each safe on their own
//! (ingress allow-lists, then egress allow-lists, then namespace default-denies), each verified
//! with the policies of the steps before it in place, with the attack chains it breaks; and the
//! plan's JSON contract, `rampart.dev/netpol-plan/v1` (docs/netpol.md).

use std::collections::{BTreeMap, BTreeSet};

use rampart_graph::netpol::NetModel;
use rampart_model::{Snapshot, WorkloadId, Workloads};
use serde::Serialize;
use serde_json::Value;

use crate::attribute::{AttributeTally, Cluster, Observed};
use crate::collect::{CollectTally, Collector};
use crate::suggest::{Settings, Skipped, Stage, Suggested, Suggestion, suggest};
use crate::verify::{self, Scope, Verification, model_with, show_peer};

/// The contract's version.
pub const API_VERSION: &str = "rampart.dev/netpol-plan/v1";

/// One observed connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedConnection {
    /// Client.
    pub from: String,
    /// Server.
    pub to: String,
    /// `TCP 8080`.
    pub port: String,
    /// Flows seen.
    pub flows: u64,
    /// DNS.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dns: bool,
}

/// What was observed, in numbers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ObservedSummary {
    /// What collecting met.
    pub collect: CollectTally,
    /// What attribution met.
    pub attribution: AttributeTally,
    /// Distinct connections that passed.
    pub connections: usize,
    /// Distinct connections that were dropped.
    pub dropped: usize,
}

/// A policy of a step.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The workload it is for (`ns/name[Kind]`), absent for a default-deny.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
}

/// A chain as plans name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ChainRef {
    /// The chain's stable id (as `rampart scan` prints it).
    pub id: String,
    /// The way in.
    pub entry: String,
    /// The target.
    pub target: String,
}

/// One step of the rollout.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// 1-based.
    pub number: usize,
    /// What the step applies.
    pub stage: Stage,
    /// Its policies.
    pub policies: Vec<PolicyRef>,
    /// The step verified: applied after the steps before it.
    pub verification: Verification,
    /// Chains this step breaks (when chains were proved).
    pub chains_broken: Vec<ChainRef>,
}

/// Chains before and after the whole plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChainSummary {
    /// Chains before.
    pub before: usize,
    /// Chains after.
    pub after: usize,
    /// Chains the plan breaks.
    pub broken: Vec<ChainRef>,
    /// Chains that remain.
    pub remaining: Vec<ChainRef>,
}

/// A proven plan.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// [`API_VERSION`].
    pub api_version: &'static str,
    /// What was observed.
    pub observed: ObservedSummary,
    /// The observed connections (passed), sorted.
    pub connections: Vec<ObservedConnection>,
    /// Connections the datapath dropped, sorted.
    pub dropped: Vec<ObservedConnection>,
    /// Workloads with traffic that got no policy, and why.
    pub skipped: Vec<Skipped>,
    /// Workloads whose selector also selects others.
    pub shared_selectors: BTreeMap<String, Vec<String>>,
    /// The rollout.
    pub steps: Vec<Step>,
    /// The whole plan verified.
    pub verification: Verification,
    /// Chains (when proved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chains: Option<ChainSummary>,
    /// The policies, in rollout order (`networking.k8s.io/v1` manifests).
    pub policies: Vec<Value>,
    /// The policies with their steps (not in the JSON: `policies` has the manifests).
    #[serde(skip)]
    pub suggested: Vec<Suggested>,
}

fn chain_refs(snapshot: &Snapshot) -> BTreeSet<ChainRef> {
    let a = rampart_graph::analyze(snapshot, &rampart_graph::Options::default());
    a.proof
        .chains
        .iter()
        .map(|c| ChainRef {
            id: c.id.clone(),
            entry: a.graph.vertex_ref(c.entry).to_string(),
            target: a.graph.vertex_ref(c.target).to_string(),
        })
        .collect()
}

fn connections(
    workloads: &Workloads,
    observed: &Observed,
    of: &BTreeMap<crate::Connection, u64>,
) -> Vec<ObservedConnection> {
    let mut v: Vec<ObservedConnection> = of
        .iter()
        .map(|(c, n)| ObservedConnection {
            from: show_peer(workloads, observed, c.client),
            to: show_peer(workloads, observed, c.server),
            port: format!("{} {}", c.protocol.as_str(), c.port),
            flows: *n,
            dns: observed.dns.contains(c),
        })
        .collect();
    v.sort_by(|a, b| (&a.from, &a.to, &a.port).cmp(&(&b.from, &b.to, &b.port)));
    v
}

/// Suggests, stages and verifies policies for the flows in `collected` on the cluster
/// `snapshot`; with `chains`, proves the attack chains before and after each step too.
pub fn plan(snapshot: &Snapshot, collected: &Collector, settings: &Settings, chains: bool) -> Plan {
    let workloads = Workloads::build(snapshot);
    let cluster = Cluster::new(snapshot, &workloads);
    let observed = cluster.attribute(collected);
    let suggestion = suggest(&cluster, &observed, settings);
    let base = NetModel::build(snapshot, &workloads);
    let Suggestion {
        policies,
        skipped,
        shared_selectors,
    } = suggestion;
    // Workloads whose selector picks others, and the others: a connection touching one may be
    // admitted through a selector wider than its workload.
    let overlapping: BTreeSet<&str> = shared_selectors
        .iter()
        .flat_map(|(k, v)| std::iter::once(k.as_str()).chain(v.iter().map(String::as_str)))
        .collect();
    let shared: BTreeSet<WorkloadId> = workloads
        .list
        .iter()
        .filter(|w| overlapping.contains(w.display().as_str()))
        .map(|w| w.id)
        .collect();
    let dns = dns_workloads(&cluster);
    let mut steps = Vec::new();
    let mut before = base.clone();
    let mut chain_sets = chains.then(|| vec![chain_refs(snapshot)]);
    let mut applied = 0;
    for stage in Stage::ALL {
        let n = policies[applied..]
            .iter()
            .take_while(|p| p.stage == stage)
            .count();
        if n == 0 {
            continue;
        }
        let upto = &policies[..applied + n];
        let after = model_with(snapshot, &workloads, &base, upto);
        let scope = Scope {
            policies: &policies[applied..applied + n],
            shared: &shared,
            dns: &dns,
            closed: true,
        };
        let verification = verify::verify(&cluster, &observed, &before, &after, &scope);
        let mut chains_broken = Vec::new();
        if let Some(sets) = &mut chain_sets {
            let mut s = snapshot.clone();
            for p in upto {
                rampart_graph::fix::Fix::AddNetworkPolicy(p.manifest.clone()).apply(&mut s);
            }
            let now = chain_refs(&s);
            if let Some(prev) = sets.last() {
                chains_broken = prev.difference(&now).cloned().collect();
            }
            sets.push(now);
        }
        steps.push(Step {
            number: steps.len() + 1,
            stage,
            policies: policies[applied..applied + n]
                .iter()
                .map(|p| PolicyRef {
                    namespace: p.namespace.clone(),
                    name: p.name.clone(),
                    workload: p.workload.map(|w| workloads.list[w.index()].display()),
                })
                .collect(),
            verification,
            chains_broken,
        });
        before = after;
        applied += n;
    }
    // The whole plan: every observed connection against the final model, what stays allowed;
    // what closes is what its steps close, summed.
    let scope = Scope {
        policies: &policies,
        shared: &shared,
        dns: &dns,
        closed: false,
    };
    let mut verification = verify::verify(&cluster, &observed, &base, &before, &scope);
    verification.closed = verify::merge_closed(steps.iter().map(|s| &s.verification.closed));
    verification.closed_pairs = steps.iter().map(|s| s.verification.closed_pairs).sum();
    let chains = chain_sets.map(|sets| {
        let first = sets.first().cloned().unwrap_or_default();
        let last = sets.last().cloned().unwrap_or_default();
        ChainSummary {
            before: first.len(),
            after: last.len(),
            broken: first.difference(&last).cloned().collect(),
            remaining: last.into_iter().collect(),
        }
    });
    Plan {
        api_version: API_VERSION,
        observed: ObservedSummary {
            collect: collected.tally.clone(),
            attribution: observed.tally.clone(),
            connections: observed.allowed.len(),
            dropped: observed.dropped.len(),
        },
        connections: connections(&workloads, &observed, &observed.allowed),
        dropped: connections(&workloads, &observed, &observed.dropped),
        skipped,
        shared_selectors,
        steps,
        verification,
        chains,
        policies: policies.iter().map(|p| p.manifest.clone()).collect(),
        suggested: policies,
    }
}

/// The cluster DNS workloads (their pods carry [`crate::suggest::dns_selector`]'s labels).
fn dns_workloads(cluster: &Cluster<'_>) -> BTreeSet<WorkloadId> {
    let selector = crate::suggest::dns_selector(cluster);
    cluster
        .workloads()
        .in_namespace("kube-system")
        .iter()
        .filter(|w| {
            w.groups
                .iter()
                .any(|g| selector.iter().all(|(k, v)| g.labels.get(k) == Some(v)))
        })
        .map(|w| w.id)
        .collect()
}

impl Plan {
    /// The plan's verification as text, one fact per line (what `rampart netpol suggest -f
    /// text` prints after its summary, and what tests pin).
    pub fn report(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        for c in &self.connections {
            let _ = writeln!(
                out,
                "observed {} -> {} {} ({} flows)",
                c.from, c.to, c.port, c.flows
            );
        }
        let v = &self.verification;
        for b in &v.broken {
            let _ = writeln!(out, "DENIED {} -> {} {}", b.from, b.to, b.port);
        }
        for u in &v.unobserved_allowed {
            let c = &u.connection;
            let _ = writeln!(
                out,
                "also allowed {} -> {} {} ({})",
                c.from, c.to, c.port, u.reason
            );
        }
        for c in &v.closed {
            let _ = writeln!(
                out,
                "closes {}: ingress from {} workloads{}, egress to {} workloads{}",
                c.workload,
                c.ingress_closed_from,
                if c.internet_ingress_closed {
                    " and the internet"
                } else {
                    ""
                },
                c.egress_closed_to,
                if c.internet_egress_closed {
                    " and the internet"
                } else {
                    ""
                },
            );
        }
        out
    }
}
