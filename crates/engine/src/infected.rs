//! The engine's infected-pod response: fresh pod observations → the response mapping → the
//! pod bar (availability after the action, PodDisruptionBudgets, breakers) → an isolate or
//! terminate Mitigation in the ledger; and the metrics that let an HPA treat an attack as load.
//! Wiring only: every decision is made by `rampart_respond::infected`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use rampart_api::Stage;
use rampart_http::dashboard::{PodMetrics, ReapLabels, WorkloadLabels};
use rampart_model::selector::LabelSelector;
use rampart_model::{Kind, Object, Snapshot, Workload, WorkloadKind};
use rampart_respond::bar::{BarConfig, Hold, Verdict, pdb_min_available};
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
    /// The pod's UID (actions are conditional on it).
    #[serde(skip)]
    pub uid: String,
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
    /// Pods acted on, until the snapshot no longer shows them serving: they count as gone
    /// when the next infection in their workload is judged.
    reaped_pods: BTreeSet<(String, String)>,
    /// Observations the bar held (availability, breakers, a pod not yet in the model), retried
    /// on every tick while they live: an attack that goes on is not forgotten.
    held: BTreeMap<(String, String), (Observation, u64)>,
    /// The latest decisions.
    pub decisions: VecDeque<PodDecision>,
    /// Whether the PodDisruptionBudgets have been listed (no pod action before).
    pdbs_synced: bool,
}

/// What one round of decisions reads.
struct Round<'a> {
    snapshot: &'a Snapshot,
    workloads: &'a [Workload],
    attributor: Attributor,
    bar: &'a BarConfig,
    writes: bool,
    rampart_namespace: &'a str,
    metrics: &'a PodMetrics,
    now: u64,
    /// The arming ladder's stage for the pod class in a namespace (none: act as the bar says).
    stage: &'a dyn Fn(&str) -> Option<rampart_api::Stage>,
}

fn key_of(d: &PodDecision) -> (String, String) {
    let (ns, pod) = d.pod.split_once('/').unwrap_or(("", &d.pod));
    (ns.to_string(), pod.to_string())
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
            reaped_pods: BTreeSet::new(),
            held: BTreeMap::new(),
            decisions: VecDeque::new(),
            pdbs_synced: true,
        }
    }

    /// PodDisruptionBudgets are watched: no pod action until they are listed.
    pub fn expect_pdbs(&mut self) {
        self.pdbs_synced = false;
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
        self.pdbs_synced = true;
        self.pdbs.clear();
        for v in all {
            self.pdb_upsert(v);
        }
    }

    /// Ready pods of `w` in the current snapshot: not quarantined, not terminating, and not
    /// acted on already (the watch may not show that yet).
    fn ready(&self, snapshot: &Snapshot, w: &Workload) -> u32 {
        let n = w
            .pod_names
            .iter()
            .filter(|p| {
                !self
                    .reaped_pods
                    .contains(&(w.namespace.clone(), (*p).clone()))
            })
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

    /// Desired replicas: the controller's count; for DaemonSets and Jobs (no count), the pods
    /// it runs.
    fn desired(w: &Workload) -> u32 {
        match w.kind {
            WorkloadKind::DaemonSet | WorkloadKind::Job | WorkloadKind::CronJob => {
                u32::try_from(w.pod_names.len()).unwrap_or(u32::MAX).max(1)
            }
            _ => w.replicas.and_then(|r| u32::try_from(r).ok()).unwrap_or(1),
        }
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
            Some(w) => (self.ready(snapshot, w), Self::desired(w)),
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
                host_network: p.spec.host_network,
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
        ttl: u64,
        stage: &dyn Fn(&str) -> Option<rampart_api::Stage>,
    ) -> Vec<PodDecision> {
        self.held
            .retain(|_, (_, since)| now < since.saturating_add(ttl));
        if observations.is_empty() && self.held.is_empty() {
            // The common tick: nothing to judge, nothing to index.
            return Vec::new();
        }
        let round = Round {
            snapshot,
            workloads,
            attributor: Attributor::new(workloads).with_containers(snapshot),
            bar,
            writes,
            rampart_namespace,
            metrics,
            now,
            stage,
        };
        let mut out = Vec::new();
        // Held observations are judged again (while they live), after the fresh ones.
        self.held
            .retain(|_, (_, since)| now < since.saturating_add(ttl));
        let retries: Vec<Observation> = self.held.values().map(|(o, _)| o.clone()).collect();
        let mut judged: BTreeSet<(String, String)> = BTreeSet::new();
        for (o, fresh) in observations
            .iter()
            .map(|o| (o, true))
            .chain(retries.iter().map(|o| (o, false)))
        {
            // A pod, or a container whose pod the statuses name.
            let Some(key) = round.attributor.pod_of(&o.subject) else {
                continue;
            };
            // One decision per pod per round; never a second action on a pod acted on.
            if self.reaped_pods.contains(&key) || !judged.insert(key.clone()) {
                continue;
            }
            out.extend(self.judge(o, fresh, key, &round));
        }
        out
    }

    /// Judges one observation of the pod `key`: the decision to act on, if any.
    fn judge(
        &mut self,
        o: &Observation,
        fresh: bool,
        key: (String, String),
        round: &Round<'_>,
    ) -> Option<PodDecision> {
        let (namespace, name) = (&key.0, &key.1);
        let pod = match round
            .snapshot
            .get(Kind::Pod, namespace, name)
            .map(|l| &l.object)
        {
            Some(Object::Pod(p)) => Some(&**p),
            _ => None,
        };
        if pod.is_some_and(|p| p.metadata.labels.contains_key(QUARANTINE_LABEL)) {
            self.held.remove(&key);
            return None;
        }
        let Some((facts, w)) = self.facts(
            round.snapshot,
            round.workloads,
            &round.attributor,
            namespace,
            name,
            round.rampart_namespace,
        ) else {
            tracing::debug!(pod = %name, namespace = %namespace, "an observation for a pod the model does not know (yet)");
            if fresh && self.mapping.action_for(o).is_some() {
                self.held.entry(key).or_insert((o.clone(), round.now));
            }
            return None;
        };
        self.count_infection(w.as_ref(), namespace, name, pod, fresh, round);
        let action = self.mapping.action_for(o)?;
        let verdict = if self.pdbs_synced {
            self.responder
                .decide(round.bar, &facts, action, round.now, round.writes)
        } else {
            Verdict::Propose(Hold::NotSynced)
        };
        // The arming ladder: held back here, or waiting for a person.
        let stage = (round.stage)(namespace);
        let (verdict, approval) = match (verdict, stage) {
            (Verdict::Act, Some(s @ (Stage::Shadow | Stage::Propose))) => {
                (Verdict::Propose(Hold::Arming(s)), false)
            }
            (Verdict::Act, Some(Stage::ActWithApproval)) => (Verdict::Act, true),
            (v, _) => (v, false),
        };
        let decision = match &verdict {
            Verdict::Act if approval && round.writes => "act-with-approval".to_string(),
            Verdict::Act if approval => "act-with-approval (dry-run)".to_string(),
            Verdict::Act if round.writes => "act".to_string(),
            Verdict::Act => "act (dry-run)".to_string(),
            Verdict::Propose(h) => format!("propose: {h:?}"),
        };
        tracing::info!(pod = %name, namespace = %namespace, behaviour = o.behaviour.as_str(), ?action, %decision, "infected pod");
        let d = PodDecision {
            pod: format!("{namespace}/{name}"),
            uid: pod.map(|p| p.metadata.uid.clone()).unwrap_or_default(),
            workload: facts.workload.clone(),
            behaviour: o.behaviour.as_str(),
            summary: o.summary.clone(),
            action,
            decision,
            mitigation: None,
        };
        self.settle(d, &verdict, o, fresh, round)
    }

    /// Counts an infection (fresh observations only) and marks the workload attacked.
    fn count_infection(
        &mut self,
        w: Option<&Workload>,
        namespace: &str,
        name: &str,
        pod: Option<&rampart_model::objects::Pod>,
        fresh: bool,
        round: &Round<'_>,
    ) {
        let labels = match w {
            Some(w) => workload_label(w),
            None => WorkloadLabels {
                namespace: namespace.to_string(),
                workload: format!("{name}[Pod]"),
            },
        };
        if fresh {
            round.metrics.infections.get_or_create(&labels).inc();
        }
        if let Some(w) = w {
            self.attacked
                .insert(w.display(), (w.namespace.clone(), labels.workload.clone()));
        }
        if fresh
            && let Some(p) = pod
            && let Some(started) = crate::clock::parse_rfc3339(&p.status.start_time)
        {
            round
                .metrics
                .time_to_infection
                .observe(round.now.saturating_sub(started) as f64);
        }
    }

    /// What becomes of a judged decision: acted on (returned), held for a retry, or kept.
    fn settle(
        &mut self,
        d: PodDecision,
        verdict: &Verdict,
        o: &Observation,
        fresh: bool,
        round: &Round<'_>,
    ) -> Option<PodDecision> {
        match verdict {
            Verdict::Act if round.writes => {
                self.held.remove(&key_of(&d));
                Some(d)
            }
            // Held for a reason that may pass: tried again while the observation lives.
            Verdict::Propose(
                Hold::Availability { .. }
                | Hold::CircuitOpen
                | Hold::WorkloadCircuitOpen
                | Hold::NotSynced,
            ) => {
                let repeat = !fresh
                    && self
                        .decisions
                        .back()
                        .is_some_and(|x| x.pod == d.pod && x.decision == d.decision);
                self.held
                    .entry(key_of(&d))
                    .or_insert((o.clone(), round.now));
                if !repeat {
                    self.remember(d);
                }
                None
            }
            _ => {
                self.held.remove(&key_of(&d));
                self.remember(d);
                None
            }
        }
    }

    /// The Mitigation that realises a decision, expiring at `expires_at`.
    pub fn mitigation(d: &PodDecision, now: u64, expires_at: String) -> rampart_api::Mitigation {
        let (ns, pod) = d.pod.split_once('/').unwrap_or(("", &d.pod));
        // Readable and unique: the pod's name (shortened) and a hash of the pod, its UID, the
        // action and the time (two pods of one long-named workload never collide).
        let mut short = format!("rampart-{}-{pod}", d.action.as_str());
        short.truncate(40);
        let hash = rampart_graph::prove::stable_id(
            "h",
            &[ns, pod, &d.uid, d.action.as_str(), &now.to_string()],
        );
        let name = format!("{}-{}", short.trim_end_matches(['-', '.']), &hash[2..]);
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
                    uid: d.uid.clone(),
                },
                object,
                reason: format!("{} in pod {}: {}", d.behaviour, d.pod, d.summary),
                expires_at,
                approved: false,
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
    /// A pod whose action waits for approval: never a second action on it meanwhile (an
    /// approved one is applied from its record).
    pub fn awaiting(&mut self, d: &PodDecision) {
        self.reaped_pods.insert(key_of(d));
    }

    pub fn reaped(&mut self, d: &PodDecision, metrics: &PodMetrics) {
        self.reaped_pods.insert(key_of(d));
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
        // A reaped pod the snapshot no longer has needs no more remembering.
        self.reaped_pods
            .retain(|(ns, p)| snapshot.get(Kind::Pod, ns, p).is_some());
        for w in workloads {
            let key = w.display();
            let under_attack = self.attacked.contains_key(&key);
            let recreating = self.recreating.contains_key(&key);
            if !under_attack && !recreating {
                continue;
            }
            let (ready, desired) = (self.ready(snapshot, w), Self::desired(w));
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
