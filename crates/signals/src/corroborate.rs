//! Which proven chains runtime evidence corroborates.
//!
//! A behaviour seen in a pod corroborates the first step of a chain that reaches that pod's
//! workload (the attacker is there). A Secret read by a ServiceAccount corroborates the steps a
//! chain takes from that identity; when the apiserver named the pod, also the step into its
//! workload. A ServiceAccount shared by several workloads is never pinned on one of them: the
//! evidence lists every candidate.

use std::collections::{BTreeMap, HashMap};

use petgraph::graph::NodeIndex;
use rampart_graph::Analysis;
use rampart_graph::model::Vertex;
use rampart_graph::rbac::SubjectKey;

use crate::observe::{Attributor, Entry, Subject};

/// One piece of runtime evidence on a chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Corroboration {
    /// Behaviour name.
    pub behaviour: &'static str,
    /// Who showed it.
    pub subject: String,
    /// The chain step it was seen at (`kind/namespace/name` of the vertex).
    pub at: String,
    /// What was seen.
    pub summary: String,
    /// Workloads the subject may be, when it is not exactly one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    /// First seen (Unix seconds).
    pub first_seen: u64,
    /// Last seen (Unix seconds).
    pub last_seen: u64,
    /// Times seen.
    pub count: u64,
}

/// Evidence per chain id, for the chains it corroborates.
pub fn corroborate(
    a: &Analysis,
    snapshot: &rampart_model::Snapshot,
    observations: &[&Entry],
) -> BTreeMap<String, Vec<Corroboration>> {
    let g = &a.graph;
    if observations.is_empty() {
        return BTreeMap::new();
    }
    let attributor = Attributor::new(&g.workloads.list).with_containers(snapshot);
    // Vertex → the evidence seen there.
    let mut at: HashMap<NodeIndex, Vec<Corroboration>> = HashMap::new();
    let identity_ix: HashMap<(&str, &str), NodeIndex> = g
        .graph
        .node_indices()
        .filter_map(|ix| match g.graph[ix] {
            Vertex::Identity(i) => match g.identities.get(i as usize)? {
                SubjectKey::ServiceAccount { namespace, name } => {
                    Some(((namespace.as_str(), name.as_str()), ix))
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    for e in observations {
        let o = &e.observation;
        let attribution = attributor.attribute(&o.subject);
        let names = |ws: &std::collections::BTreeSet<rampart_model::WorkloadId>| -> Vec<String> {
            ws.iter()
                .filter_map(|w| g.workloads.list.get(w.index()))
                .map(rampart_model::Workload::display)
                .collect()
        };
        let mut vertices: Vec<NodeIndex> = Vec::new();
        if attribution.exact {
            vertices.extend(
                attribution
                    .workloads
                    .iter()
                    .filter_map(|w| g.workload_ix.get(w.index()).copied()),
            );
        }
        if let Subject::ServiceAccount {
            namespace, name, ..
        } = &o.subject
            && let Some(ix) = identity_ix.get(&(namespace.as_str(), name.as_str()))
        {
            vertices.push(*ix);
        }
        for v in vertices {
            at.entry(v).or_default().push(Corroboration {
                behaviour: o.behaviour.as_str(),
                subject: o.subject.to_string(),
                at: g.vertex_ref(v).to_string(),
                summary: o.summary.clone(),
                candidates: if attribution.exact {
                    Vec::new()
                } else {
                    names(&attribution.workloads)
                },
                first_seen: e.first_seen,
                last_seen: e.last_seen,
                count: e.count,
            });
        }
    }
    let mut out = BTreeMap::new();
    for c in &a.proof.chains {
        let mut found: Vec<Corroboration> = Vec::new();
        for &e in &c.edges {
            let Some((x, y)) = g.graph.edge_endpoints(e) else {
                continue;
            };
            for v in [x, y] {
                if let Some(ev) = at.get(&v) {
                    for c in ev {
                        if !found.contains(c) {
                            found.push(c.clone());
                        }
                    }
                }
            }
        }
        if !found.is_empty() {
            out.insert(c.id.clone(), found);
        }
    }
    out
}
