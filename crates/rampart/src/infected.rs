//! The engine's infected-pod response: fresh pod observations → the response mapping → the
//! pod bar (availability after the action, PodDisruptionBudgets, breakers) → an isolate or
//! terminate Mitigation in the ledger; and the metrics that let an HPA treat an attack as load.
//! Wiring only: every decision is made by `rampart_respond::infected`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use rampart_http::dashboard::{PodMetrics, ReapLabels, WorkloadLabels};
use rampart_model::selector::LabelSelector;
use rampart_model::{Kind, Object, Snapshot, Workload, WorkloadKind};
use rampart_respond::bar::{BarConfig, Verdict, pdb_min_available};
use rampart_respond::infected::{
    PodAction, PodFacts, QUARANTINE_LABEL, Responder, ResponseMapping, quarantine_policy,
};
use rampart_signals::observe::{Attributor, Observation, Subject};
use serde_json::Value;

/// One pod decision, shown in `/findings` (`responses`, newest last).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PodDecision {
    /// `namespace/pod`.
    pub pod: String,
    /// Its workload, when it has a controller.
    pub workload: Option<String>,
    /// What was seen.
    pub behaviour: &'static str,
    /// The observation's one-line summary.
    pub summary: String,
    /// The mapped action.
    pub action: PodAction,
    /// `act`, `act (dry-run)` or `propose: <reason>`.
    pub decision: String,
    /// The Mitigation recorded, when acting.
    pub mitigation: Option<String>,
}

struct Pdb {
    selector: LabelSelector,
    min_available: Option<String>,
    max_unavailable: Option<String>,
}

/// State of the pod responder.
pub struct PodResponse {
    mapping: ResponseMapping,
    responder: Responder,
    pdbs: BTreeMap<(String, String), Pdb>,
    /// Reaped workloads waiting to be whole again: since when, and their namespace.
    recreating: BTreeMap<String, (Instant, String, String)>,
    /// Workloads seen infected, for the availability gauge.
    attacked: BTreeMap<String, (String, String)>,
    /// The latest decisions.
    pub decisions: VecDeque<PodDecision>,
}

fn int_or_string(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn workload_label(w: &Workload) -> WorkloadLabels {
    WorkloadLabels {
        namespace: w.namespace.clone(),
        workload: format!("{}[{}]", w.name, w.kind),
    }
}

impl PodResponse {
    /// A responder with the mapping and breakers from the flags.
    pub fn new(mapping: ResponseMapping, responder: Responder) -> PodResponse {
        PodResponse {
            mapping,
            responder,
            pdbs: BTreeMap::new(),
            recreating: BTreeMap::new(),
            attacked: BTreeMap::new(),
            decisions: VecDeque::new(),
        }
    }

    /// A PodDisruptionBudget added or changed.
    pub fn pdb_upsert(&mut self, v: &Value) {
        let m = &v["metadata"];
        let key = (
            m["namespace"].as_str().unwrap_or("").to_string(),
            m["name"].as_str().unwrap_or("").to_string(),
        );
        let spec = &v["spec"];
        let Ok(selector) = serde_json::from_value::<LabelSelector>(
            spec.get("selector").cloned().unwrap_or(Value::Null),
        ) else {
            tracing::debug!("skipping a PodDisruptionBudget with an unreadable selector");
            return;
        };
        self.pdbs.insert(
            key,
            Pdb {
                selector,
                min_available: int_or_string(&spec["minAvailable"]),
                max_unavailable: int_or_string(&spec["maxUnavailable"]),
            },
        );
    }

    /// A PodDisruptionBudget deleted.
    pub fn pdb_delete(&mut self, ns: &str, name: &str) {
        self.pdbs.remove(&(ns.to_string(), name.to_string()));
    }

    /// The PodDisruptionBudgets relisted.
    pub fn pdb_replace(&mut self, all: &[Value]) {
        self.pdbs.clear();
        for v in all {
            self.pdb_upsert(v);
        }
    }

    /// Ready pods of `w` in the current snapshot (quarantined ones do not serve).
    fn ready(snapshot: &Snapshot, w: &Workload) -> u32 {
        let n = w
            .pod_names
            .iter()
            .filter_map(
                |p| match snapshot.get(Kind::Pod, &w.namespace, p).map(|l| &l.object) {
                    Some(Object::Pod(pod)) => Some(pod),
                    _ => None,
                },
            )
            .filter(|p| p.is_ready() && !p.metadata.labels.contains_key(QUARANTINE_LABEL))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn desired(w: &Workload) -> u32 {
        w.replicas.and_then(|r| u32::try_from(r).ok()).unwrap_or(1)
    }

    /// The guard's facts about `ns/pod`, if the model knows the pod.
    fn facts(
        &self,
        snapshot: &Snapshot,
        workloads: &[Workload],
        attributor: &Attributor,
        ns: &str,
        pod: &str,
        rampart_namespace: &str,
    ) -> Option<(PodFacts, Option<Workload>)> {
        let Some(Object::Pod(p)) = snapshot.get(Kind::Pod, ns, pod).map(|l| &l.object) else {
            return None;
        };
        let w = attributor
            .attribute(&Subject::Pod {
                namespace: ns.into(),
                name: pod.into(),
            })
            .workloads
            .into_iter()
            .next()
            .and_then(|id| workloads.get(id.index()))
            .filter(|w| w.kind != WorkloadKind::Pod)
            .cloned();
        let (ready, desired) = match &w {
            Some(w) => (Self::ready(snapshot, w), Self::desired(w)),
            None => (u32::from(p.is_ready()), 1),
        };
        let pdb_min_available = self
            .pdbs
            .iter()
            .filter(|((pns, _), b)| pns == ns && b.selector.matches(&p.metadata.labels))
            .filter_map(|(_, b)| {
                pdb_min_available(
                    b.min_available.as_deref(),
                    b.max_unavailable.as_deref(),
                    desired,
                )
            })
            .max();
        Some((
            PodFacts {
                namespace: ns.into(),
                pod: pod.into(),
                workload: w.as_ref().map(Workload::display),
                ready,
                pod_ready: p.is_ready(),
                desired,
                pdb_min_available,
                rampart: ns == rampart_namespace,
            },
            w,
        ))
    }

    /// Decides on fresh observations. Returns the decisions to act on (their Mitigations are
    /// the caller's to write; see [`PodResponse::mitigation`]).
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &mut self,
        observations: &[Observation],
        snapshot: &Snapshot,
        workloads: &[Workload],
        bar: &BarConfig,
        writes: bool,
        rampart_namespace: &str,
        metrics: &PodMetrics,
        now: u64,
    ) -> Vec<PodDecision> {
        let attributor = Attributor::new(&rampart_model::Workloads {
            list: workloads.to_vec(),
            warnings: Vec::new(),
        })
        .with_containers(snapshot);
        let mut out = Vec::new();
        for o in observations {
            // A pod, or a container whose pod the statuses name.
            let Some((namespace, name)) = attributor.pod_of(&o.subject) else {
                continue;
            };
            let (namespace, name) = (&namespace, &name);
            let Some((facts, w)) = self.facts(
                snapshot,
                workloads,
                &attributor,
                namespace,
                name,
                rampart_namespace,
            ) else {
                tracing::debug!(pod = %name, namespace = %namespace, "an observation for a pod the model does not know");
                continue;
            };
            let labels = match &w {
                Some(w) => workload_label(w),
                None => WorkloadLabels {
                    namespace: namespace.clone(),
                    workload: format!("{name}[Pod]"),
                },
            };
            metrics.infections.get_or_create(&labels).inc();
            if let Some(w) = &w {
                self.attacked
                    .insert(w.display(), (w.namespace.clone(), labels.workload.clone()));
            }
            if let Some(Object::Pod(p)) =
                snapshot.get(Kind::Pod, namespace, name).map(|l| &l.object)
                && let Some(started) = crate::engine::parse_rfc3339(&p.status.start_time)
            {
                metrics
                    .time_to_infection
                    .observe(now.saturating_sub(started) as f64);
            }
            let Some(action) = self.mapping.action_for(o) else {
                continue;
            };
            let verdict = self.responder.decide(bar, &facts, now);
            let decision = match &verdict {
                Verdict::Act if writes => "act".to_string(),
                Verdict::Act => "act (dry-run)".to_string(),
                Verdict::Propose(h) => format!("propose: {h:?}"),
            };
            tracing::info!(pod = %name, namespace = %namespace, behaviour = o.behaviour.as_str(), ?action, %decision, "infected pod");
            let d = PodDecision {
                pod: format!("{namespace}/{name}"),
                workload: facts.workload.clone(),
                behaviour: o.behaviour.as_str(),
                summary: o.summary.clone(),
                action,
                decision,
                mitigation: None,
            };
            if verdict == Verdict::Act && writes {
                out.push(d);
            } else {
                self.remember(d);
            }
        }
        out
    }

    /// The Mitigation that realises a decision, expiring at `expires_at`.
    pub fn mitigation(d: &PodDecision, now: u64, expires_at: String) -> rampart_api::Mitigation {
        let (ns, pod) = d.pod.split_once('/').unwrap_or(("", &d.pod));
        let mut name = format!("rampart-{}-{pod}", d.action.as_str());
        name.truncate(52);
        let name = format!("{}-{now}", name.trim_end_matches('-'));
        let object = match d.action {
            PodAction::Isolate => quarantine_policy(ns, pod, &name),
            PodAction::Terminate => Value::Null,
        };
        let mut m = rampart_api::Mitigation::new(
            &name,
            rampart_api::MitigationSpec {
                chains: Vec::new(),
                action: match d.action {
                    PodAction::Isolate => rampart_api::ActionKind::Isolate,
                    PodAction::Terminate => rampart_api::ActionKind::Terminate,
                },
                target: rampart_api::TargetRef {
                    kind: "Pod".into(),
                    namespace: ns.into(),
                    name: pod.into(),
                },
                object,
                reason: format!("{} in pod {}: {}", d.behaviour, d.pod, d.summary),
                expires_at,
            },
        );
        m.metadata.namespace = Some(ns.into());
        m
    }

    /// Keeps a decision for `/findings`.
    pub fn remember(&mut self, d: PodDecision) {
        self.decisions.push_back(d);
        while self.decisions.len() > 50 {
            self.decisions.pop_front();
        }
    }

    /// A pod was reaped: count it and start the recreation clock.
    pub fn reaped(&mut self, d: &PodDecision, metrics: &PodMetrics) {
        let Some(w) = &d.workload else { return };
        let (ns, workload) = self
            .attacked
            .get(w)
            .cloned()
            .unwrap_or_else(|| (String::new(), w.clone()));
        metrics
            .reaped
            .get_or_create(&ReapLabels {
                namespace: ns.clone(),
                workload: workload.clone(),
                action: d.action.as_str().into(),
            })
            .inc();
        self.recreating
            .entry(w.clone())
            .or_insert((Instant::now(), ns, workload));
    }

    /// Updates the availability gauge and finishes recreation clocks.
    pub fn track(&mut self, snapshot: &Snapshot, workloads: &[Workload], metrics: &PodMetrics) {
        for w in workloads {
            let key = w.display();
            let under_attack = self.attacked.contains_key(&key);
            let recreating = self.recreating.contains_key(&key);
            if !under_attack && !recreating {
                continue;
            }
            let (ready, desired) = (Self::ready(snapshot, w), Self::desired(w));
            if under_attack {
                metrics
                    .available_ratio
                    .get_or_create(&workload_label(w))
                    .set(f64::from(ready) / f64::from(desired.max(1)));
            }
            if ready >= desired
                && let Some((since, _, _)) = self.recreating.remove(&key)
            {
                metrics
                    .time_to_recreation
                    .observe(since.elapsed().as_secs_f64());
            }
        }
    }
}
