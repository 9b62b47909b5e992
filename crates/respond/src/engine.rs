//! The engine's core, pure: the cluster model kept current by changes, re-proved on demand, and
//! after each re-proof a structured change report answering the engine's questions — how the
//! threat model changed, which chains prove and their cut, whether the workloads involved are
//! alive, the durable fixes, and what the action bar says about each live cut.
//!
//! Re-proving rebuilds the analysis from the snapshot (the same code as `rampart scan`); the
//! snapshot itself is updated change by change.

use std::collections::{BTreeMap, BTreeSet};

use rampart_graph::churn::update_objects;
use rampart_graph::diff::{ThreatDiff, diff_indexing};
use rampart_graph::reclass::Update;
use rampart_graph::relabel::only_labels_changed;
use rampart_graph::{Analysis, ChainId, Options, analyze, reanalyze};
use rampart_model::{Change, Kind, Located, Object, ObjectKey, Snapshot, WorkloadKind};

use crate::actuator::Actuator;
use crate::bar::{self, ActionClass, BarConfig, CircuitBreaker, Confidence, Proposal, Verdict};

/// A cut's fixes in words.
fn describe_fixes(c: &rampart_graph::cut::Cut) -> String {
    c.fixes
        .iter()
        .map(|f| f.describe())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether a workload runs as it should.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Production {
    /// At least the desired pods exist.
    Alive,
    /// Some, fewer than desired.
    Degraded,
    /// None.
    Halted,
}

/// One workload on a chain, and its health.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WorkloadHealth {
    /// `ns/name[Kind]`.
    pub workload: String,
    /// Pods seen.
    pub pods: usize,
    /// Desired replicas (1 for bare pods and templates without a count).
    pub desired: usize,
    /// Health.
    pub state: Production,
}

/// What the bar said about one live cut.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CutDecision {
    /// Cut id.
    pub cut: String,
    /// What it changes.
    pub fix: String,
    /// `act`, `act (dry-run)` or `propose: <reason>`.
    pub decision: String,
}

/// The report after one re-proof.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ChangeReport {
    /// Re-proof counter.
    pub generation: u64,
    /// When the re-proof ran (Unix seconds, the time handed to [`EngineCore::reprove`]).
    pub at: u64,
    /// Relations and chains added and removed since the previous re-proof.
    pub diff: ThreatDiff,
    /// Chains now listed.
    pub chains: usize,
    /// Health of the workloads on the chains.
    pub production: Vec<WorkloadHealth>,
    /// Durable fixes of the plan (what to change in the configuration).
    pub durable_fixes: Vec<String>,
    /// The bar's verdict on each live cut.
    pub decisions: Vec<CutDecision>,
    /// How the re-proof was made.
    pub path: ReproofPath,
    /// Why an incremental path did not take the changes, when one was tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_full: Option<String>,
}

/// How the last re-proof was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReproofPath {
    /// The whole snapshot analysed again.
    #[default]
    Full,
    /// One pod's new labels checked against everything that reads them; the previous proof
    /// stands ([`rampart_graph::relabel`]).
    Relabel,
    /// One pod's new labels moved it to another reachability class: the graph patched where
    /// the move shows, chains and cut again over it ([`rampart_graph::reclass`]).
    Reclass,
    /// Pods came, went or moved, or controllers changed, inside analysed workloads (a rollout,
    /// a scaling, an eviction, a scheduling) without anything the proof reads moving: the
    /// workloads updated, the proof stands ([`rampart_graph::churn`]).
    Workloads,
    /// As [`ReproofPath::Workloads`], but pods changed class or node: the graph patched where
    /// that shows, chains and cut again over it.
    Patched,
}

/// What changed since the last re-proof, as far as the incremental paths care.
#[derive(Debug, Clone, Default)]
enum Pending {
    /// Nothing.
    #[default]
    Nothing,
    /// Only pods and controllers changed: each with its version at the last re-proof (`None`:
    /// it did not exist), at most [`rampart_graph::churn::MAX_CHANGED`].
    Objects(BTreeMap<ObjectKey, Option<Object>>),
    /// Anything else: the kinds of what changed (the full re-proof shares the models none of
    /// them feeds, [`rampart_graph::reanalyze`]).
    Other(BTreeSet<Kind>),
}

impl Pending {
    /// The kinds of what changed.
    fn kinds(&self) -> BTreeSet<Kind> {
        match self {
            Pending::Nothing => BTreeSet::new(),
            Pending::Objects(m) => m.keys().map(|k| k.kind).collect(),
            Pending::Other(kinds) => kinds.clone(),
        }
    }
}

/// The engine's state.
pub struct EngineCore {
    snapshot: Snapshot,
    options: Options,
    analysis: Option<Analysis>,
    /// The analysis the last full re-proof replaced ([`EngineCore::take_retired`]).
    retired: Option<Analysis>,
    /// Runtime confidence per chain id.
    confirmations: BTreeMap<String, Confidence>,
    /// Live cuts the bar said to act on (counted once by the circuit breaker).
    acted: BTreeSet<String>,
    /// Cuts whose mitigation expired, and when their cool-down ends (Unix seconds).
    cooling: BTreeMap<String, u64>,
    /// Whether the model changed since the last re-proof.
    dirty: bool,
    pending: Pending,
    /// Why the incremental paths refused the pending changes.
    why_full: Option<String>,
    generation: u64,
    bar: BarConfig,
    breaker: CircuitBreaker,
    actuator: Actuator,
    /// The arming ladder in force (empty: `--enable` alone decides).
    ladder: crate::arming::Ladder,
    /// What the bar would have done where the ladder (or `--enable`) held it back.
    shadow: crate::arming::ShadowLog,
    /// How long a would-be action would have lived (the mitigation TTL), seconds.
    shadow_ttl: u64,
}

impl EngineCore {
    /// An engine over an empty cluster.
    pub fn new(
        options: Options,
        bar: BarConfig,
        breaker: CircuitBreaker,
        actuator: Actuator,
    ) -> EngineCore {
        EngineCore {
            snapshot: Snapshot::new(),
            options,
            analysis: None,
            retired: None,
            confirmations: BTreeMap::new(),
            acted: BTreeSet::new(),
            cooling: BTreeMap::new(),
            dirty: true,
            pending: Pending::Nothing,
            why_full: None,
            generation: 0,
            bar,
            breaker,
            actuator,
            ladder: crate::arming::Ladder::default(),
            shadow: crate::arming::ShadowLog::default(),
            shadow_ttl: 3600,
        }
    }

    /// Puts an arming ladder in force (from the ArmingPolicies); decided from the next round.
    pub fn set_ladder(&mut self, ladder: crate::arming::Ladder) {
        self.ladder = ladder;
    }

    /// The ladder in force.
    pub fn ladder(&self) -> &crate::arming::Ladder {
        &self.ladder
    }

    /// How long a would-be action would have lived (the mitigation TTL, seconds).
    pub fn set_shadow_ttl(&mut self, ttl: u64) {
        self.shadow_ttl = ttl.max(1);
    }

    /// Would-be actions started so far (the shadow history moved when this did).
    pub fn shadow_started(&self) -> u64 {
        self.shadow.started()
    }

    /// What the bar would have done, per class, in the `window` seconds before `now`.
    pub fn shadow_history(
        &self,
        window: u64,
        now: u64,
    ) -> BTreeMap<ActionClass, crate::arming::ClassHistory> {
        self.shadow.history(window, now)
    }

    /// Where a class stands in a namespace: `None` when it may act as the bar says (armed
    /// `act`, or no ladder), else the stage holding it (`Shadow`/`Propose`/`ActWithApproval`).
    /// A class `--enable` does not list is never past `Propose` (reported as `ClassDisabled`
    /// by the bar).
    pub fn stage(&self, class: ActionClass, namespace: &str) -> Option<rampart_api::Stage> {
        // Most clusters have no ladder: no namespace lookup per cut then.
        if self.ladder.is_empty() {
            return None;
        }
        let labels = self
            .snapshot
            .get(rampart_model::Kind::Namespace, "", namespace)
            .map(|o| o.object.meta().labels.clone())
            .unwrap_or_default();
        self.ladder
            .stage(class, namespace, &labels)
            .filter(|s| *s != rampart_api::Stage::Act)
    }

    /// An engine that proves and proposes only: no class enabled, dry-run, a breaker with no
    /// room (`rampart dashboard`, benchmarks).
    pub fn shadow(options: Options) -> EngineCore {
        EngineCore::new(
            options,
            BarConfig {
                enabled: BTreeSet::new(),
                act_on_proof: false,
                protected_namespaces: BTreeSet::new(),
                min_ready: 1,
            },
            CircuitBreaker::new(0, 1),
            Actuator::DryRun,
        )
    }

    /// Applies one change to the model; returns whether the model changed.
    ///
    /// Most updates a watch delivers change nothing the model reads (a pod's status, a
    /// resourceVersion bump): those are recognised here, so they cost no re-proof.
    pub fn apply(&mut self, change: Change) -> bool {
        let mut quiet = false;
        let changed = match &change {
            Change::Upsert(new) => {
                let m = new.object.meta();
                match self.snapshot.get(new.object.kind(), &m.namespace, &m.name) {
                    None => true,
                    Some(old) if same_model(&old.object, &new.object) => {
                        // Kept current (the respond layer reads pod readiness), not re-proved.
                        quiet = old.object != new.object;
                        false
                    }
                    Some(_) => true,
                }
            }
            Change::Delete(key) => self
                .snapshot
                .get(key.kind, &key.namespace, &key.name)
                .is_some(),
        };
        if changed {
            self.pending = self.next_pending(&change);
            self.snapshot.apply(change);
            self.dirty = true;
        } else if quiet {
            self.snapshot.apply(change);
        }
        changed
    }

    /// What the incremental paths will see once `change` (one the model reads) is applied:
    /// still only pods and controllers, each with its version at the last re-proof.
    fn next_pending(&mut self, change: &Change) -> Pending {
        let key = match change {
            Change::Upsert(new) => ObjectKey::of(&new.object),
            Change::Delete(key) => key.clone(),
        };
        // Pods, and the controllers that group them.
        let incremental = WorkloadKind::from_kind(key.kind).is_some();
        let other = |pending: &Pending| {
            let mut kinds = pending.kinds();
            kinds.insert(key.kind);
            Pending::Other(kinds)
        };
        let mut changed = match std::mem::take(&mut self.pending) {
            Pending::Nothing if incremental => BTreeMap::new(),
            Pending::Objects(m) if incremental => m,
            pending => return other(&pending),
        };
        if !changed.contains_key(&key) {
            if changed.len() >= rampart_graph::churn::MAX_CHANGED {
                return other(&Pending::Objects(changed));
            }
            let before = self
                .snapshot
                .get(key.kind, &key.namespace, &key.name)
                .map(|o| o.object.clone());
            changed.insert(key, before);
        }
        Pending::Objects(changed)
    }

    /// Whether a change arrived since the last re-proof (else [`EngineCore::reprove`] would
    /// report nothing new).
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Replaces every object of `kind` (a relist): objects missing from `objects` are deleted.
    pub fn replace_kind(&mut self, kind: Kind, objects: Vec<Located<Object>>) {
        let keep: BTreeSet<ObjectKey> = objects.iter().map(|o| ObjectKey::of(&o.object)).collect();
        let stale: Vec<ObjectKey> = self
            .snapshot
            .of_kind(kind)
            .map(|o| ObjectKey::of(&o.object))
            .filter(|k| !keep.contains(k))
            .collect();
        for k in stale {
            self.apply(Change::Delete(k));
        }
        for o in objects {
            self.apply(Change::Upsert(Box::new(o)));
        }
    }

    /// The action bar's settings.
    pub fn bar(&self) -> &BarConfig {
        &self.bar
    }

    /// The writer of network actions.
    pub fn actuator(&self) -> Actuator {
        self.actuator
    }

    /// The model as it stands.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The latest analysis, if any.
    pub fn analysis(&self) -> Option<&Analysis> {
        self.analysis.as_ref()
    }

    /// Runtime confidence per chain id (corroborated by a signal, judged by intel); chains not
    /// listed are proven only. Takes effect at the next decision.
    pub fn set_confirmations(&mut self, c: BTreeMap<String, Confidence>) {
        self.confirmations = c;
    }

    /// Cuts cooling down after their mitigation expired, with when each cool-down ends (Unix
    /// seconds): until then the cut is proposed, never acted on; after it, the bar judges it
    /// like a new action (the circuit breaker counts it again). Whether anything changed.
    pub fn set_cooling(&mut self, cooling: BTreeMap<String, u64>) -> bool {
        let changed = cooling != self.cooling;
        self.cooling = cooling;
        changed
    }

    /// Cuts cooling down (see [`EngineCore::set_cooling`]).
    pub fn cooling(&self) -> &BTreeMap<String, u64> {
        &self.cooling
    }

    /// The bar's verdicts on the current analysis's live cuts again (after new evidence).
    pub fn redecide(&mut self, now: u64) -> Vec<CutDecision> {
        let Some(a) = self.analysis.take() else {
            return Vec::new();
        };
        let d = self.decide(&a, now);
        self.analysis = Some(a);
        d
    }

    /// The bar's verdict on `proposal` under `--enable` and the arming ladder: `Ok(approval)`
    /// to act (`approval`: the class is armed `actWithApproval` there), else the hold in words
    /// (`ClassDisabled`, `Arming(Shadow)`, a bar [`bar::Hold`]). Where the class is held back,
    /// what the bar would have done is recorded in the shadow history under `key`. `count`: the
    /// action spends room in the circuit breaker (not when it is in force already, or its group
    /// was counted).
    fn judge(
        &mut self,
        proposal: &Proposal,
        key: &str,
        fix: &str,
        count: bool,
        now: u64,
    ) -> Result<bool, String> {
        use rampart_api::Stage;
        let class = proposal.class;
        let stage = self.stage(class, &proposal.namespace);
        let disabled = !self.bar.enabled.contains(&class);
        let mut scratch = CircuitBreaker::new(usize::MAX, 1);
        if disabled || matches!(stage, Some(Stage::Shadow | Stage::Propose)) {
            // The bar as it would judge the class were it armed, with a breaker of its own (a
            // would-be action must not use up the real one).
            let would = bar::decide_armed(&self.bar, proposal, &mut scratch, now);
            let held = match (disabled, stage) {
                (true, _) => "class disabled",
                (false, Some(Stage::Shadow)) => "shadow",
                _ => "propose",
            };
            if would == Verdict::Act {
                self.shadow
                    .would_act(class, key, &proposal.namespace, fix, held, now);
            }
            return Err(match (disabled, would) {
                (true, _) => format!("{:?}", bar::Hold::ClassDisabled),
                (false, Verdict::Act) => {
                    format!("{:?}", bar::Hold::Arming(stage.unwrap_or(Stage::Propose)))
                }
                (false, Verdict::Propose(h)) => format!("{h:?}"),
            });
        }
        let breaker = if count {
            &mut self.breaker
        } else {
            &mut scratch
        };
        match bar::decide(&self.bar, proposal, breaker, now) {
            Verdict::Act => Ok(stage == Some(Stage::ActWithApproval)),
            Verdict::Propose(h) => Err(format!("{h:?}")),
        }
    }

    fn decide(&mut self, after: &Analysis, now: u64) -> Vec<CutDecision> {
        let mut decisions = Vec::new();
        let mut acted = BTreeSet::new();
        self.shadow.begin(ActionClass::Network);
        let live: Vec<&str> = after
            .plan
            .cuts
            .iter()
            .filter(|c| c.live)
            .map(|c| c.id.as_str())
            .collect();
        for c in after.plan.cuts.iter().filter(|c| c.live) {
            let namespace = c
                .fixes
                .iter()
                .find_map(|f| f.namespace())
                .map(String::from)
                .unwrap_or_default();
            // A cut in the admin layer, where the actuator writes NetworkPolicies only: proposed,
            // spending nothing of the bar's room.
            if let Some(kind) = c
                .fixes
                .iter()
                .filter_map(|f| f.manifest())
                .filter_map(|m| m["kind"].as_str())
                .find(|k| !self.actuator.realises(k))
            {
                decisions.push(CutDecision {
                    cut: c.id.clone(),
                    fix: describe_fixes(c),
                    decision: format!(
                        "propose: the actuator writes no {kind} (the adminnetworkpolicy actuator applies this cut)"
                    ),
                });
                continue;
            }
            let proposal = Proposal {
                class: ActionClass::Network,
                confidence: self.confidence_of(&c.breaks),
                reversible: true,
                namespace,
                targets_rampart: false,
                // A network deny removes no replica.
                ready_after: u32::MAX,
                pdb_min_available: None,
            };
            // Expiry means: proposed again for the cool-down, whatever the breaker's room.
            if let Some(&until) = self.cooling.get(&c.id).filter(|u| **u > now) {
                decisions.push(CutDecision {
                    cut: c.id.clone(),
                    fix: describe_fixes(c),
                    decision: format!("propose: {:?}", bar::Hold::CoolingDown { until }),
                });
                continue;
            }
            // A cut already acted on is judged again (evidence may have changed) but does not
            // count against the circuit breaker a second time.
            let already = self.acted.contains(&c.id);
            let fix = describe_fixes(c);
            let decision = match self.judge(&proposal, &c.id, &fix, !already, now) {
                Ok(approval) => {
                    acted.insert(c.id.clone());
                    match (approval, self.actuator.writes()) {
                        (true, true) => "act-with-approval".to_string(),
                        (true, false) => "act-with-approval (dry-run)".to_string(),
                        (false, true) => "act".to_string(),
                        (false, false) => "act (dry-run)".to_string(),
                    }
                }
                Err(hold) => format!("propose: {hold}"),
            };
            decisions.push(CutDecision {
                cut: c.id.clone(),
                fix,
                decision,
            });
        }
        self.acted = acted;
        self.shadow
            .end(ActionClass::Network, &live, self.shadow_ttl, now);
        decisions
    }

    /// The bar's and the ladder's word on rolling out NetworkPolicies from observed flows (the
    /// `netpol` class), one `(step, namespace)` group at a time: the ladder and the protected
    /// namespaces per namespace, the circuit breaker once per step (a step is one action,
    /// whatever namespaces it spans) — and only with `writes` (a dry-run or a braked round
    /// spends no room the network cuts need). Observed traffic is the runtime evidence: a
    /// verified step is corroborated by the flows it was made from.
    pub fn gate_rollout(
        &mut self,
        groups: &[(usize, String)],
        writes: bool,
        now: u64,
    ) -> Vec<crate::rollout::Gate> {
        use crate::rollout::Gate;
        let class = ActionClass::Netpol;
        self.shadow.begin(class);
        let mut out = Vec::new();
        let mut counted = BTreeSet::new();
        let keys: Vec<String> = groups
            .iter()
            .map(|(n, ns)| format!("netpol-step-{n}/{ns}"))
            .collect();
        for ((step, namespace), key) in groups.iter().zip(&keys) {
            let what = format!("step {step} of the NetworkPolicy plan in {namespace}");
            let proposal = Proposal {
                class,
                confidence: Confidence::Corroborated,
                reversible: true,
                namespace: namespace.clone(),
                targets_rampart: false,
                ready_after: u32::MAX,
                pdb_min_available: None,
            };
            let once = writes && !counted.contains(step);
            out.push(match self.judge(&proposal, key, &what, once, now) {
                Ok(approval) => {
                    if once {
                        counted.insert(*step);
                    }
                    if approval {
                        Gate::AwaitApproval
                    } else {
                        Gate::Act
                    }
                }
                Err(hold) => Gate::Hold(hold),
            });
        }
        let live: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.shadow.end(class, &live, self.shadow_ttl, now);
        out
    }

    fn confidence_of(&self, chains: &[ChainId]) -> Confidence {
        // Most reproofs confirm nothing: no id is formatted then.
        if self.confirmations.is_empty() {
            return Confidence::Proven;
        }
        let of = |id: &ChainId| self.confirmations.get(&id.to_string()).copied();
        if chains
            .iter()
            .any(|c| of(c) == Some(Confidence::Corroborated))
        {
            Confidence::Corroborated
        } else if chains.iter().any(|c| of(c) == Some(Confidence::Judged)) {
            Confidence::Judged
        } else {
            Confidence::Proven
        }
    }

    /// Re-proves and reports what changed; `now` (Unix seconds) feeds the circuit breaker.
    pub fn reprove(&mut self, now: u64) -> ChangeReport {
        self.dirty = false;
        let pending = std::mem::take(&mut self.pending);
        self.retired = None;
        self.why_full = match &pending {
            Pending::Other(_) => Some("not only pods and controllers changed".into()),
            _ => None,
        };
        let kinds = pending.kinds();
        if let Some(report) = self.incremental(pending, now) {
            return report;
        }
        let mut after = match &mut self.analysis {
            Some(before) => reanalyze(before, &self.snapshot, &kinds, &self.options),
            None => analyze(&self.snapshot, &self.options),
        };
        // The relations are counted on the way: the next class move is patched from them.
        let d = match &self.analysis {
            Some(before) => diff_indexing(before, &mut after),
            None => {
                let empty = analyze(&Snapshot::new(), &self.options);
                diff_indexing(&empty, &mut after)
            }
        };
        self.generation += 1;
        let production = production(&after);
        let durable_fixes = durable_fixes(&after);
        let decisions = self.decide(&after, now);
        let report = ChangeReport {
            generation: self.generation,
            at: now,
            diff: d,
            chains: after.proof.chains.len(),
            production,
            durable_fixes,
            decisions,
            path: ReproofPath::Full,
            why_full: self.why_full.take(),
        };
        // The previous analysis is freed by whoever takes it (after publishing), not here.
        self.retired = self.analysis.replace(after);
        report
    }

    /// The analysis the last full re-proof replaced, to be freed off the path that reports
    /// (dropping a large graph takes milliseconds); dropped at the next re-proof otherwise.
    pub fn take_retired(&mut self) -> Option<Analysis> {
        self.retired.take()
    }

    /// The incremental paths, when only pods and controllers of analysed workloads changed:
    /// nothing the proof reads moved, so the previous proof stands (an empty threat diff) and
    /// only the workloads are updated; or pods moved to another reachability class or node, so
    /// the graph is patched and chains and cut are worked out again over it. `None`: re-prove
    /// in full.
    fn incremental(&mut self, pending: Pending, now: u64) -> Option<ChangeReport> {
        let Pending::Objects(changed) = pending else {
            return None;
        };
        let mut analysis = self.analysis.take()?;
        // One pod's new labels, the case the paths were first built for, keeps its names.
        let relabel = match changed.iter().next() {
            Some((key, Some(Object::Pod(old)))) if changed.len() == 1 => matches!(
                self.snapshot.get(key.kind, &key.namespace, &key.name).map(|o| &o.object),
                Some(Object::Pod(new)) if only_labels_changed(old, new)
            ),
            _ => false,
        };
        let changed: Vec<(ObjectKey, Option<Object>)> = changed.into_iter().collect();
        let update = match update_objects(&mut analysis, &self.snapshot, &changed, &self.options) {
            Ok(u) => u,
            Err(why) => {
                self.why_full = Some(why.to_string());
                self.analysis = Some(analysis);
                return None;
            }
        };
        // The proof stands: nothing added or removed, as many jewels reachable as before.
        let kept = ThreatDiff {
            jewels_reachable: (
                analysis.proof.jewels_reachable,
                analysis.proof.jewels_reachable,
            ),
            ..ThreatDiff::default()
        };
        let (diff, path) = match (update, relabel) {
            (Update::Relabelled, true) => (kept, ReproofPath::Relabel),
            (Update::Reclassed(d), true) => (d, ReproofPath::Reclass),
            (Update::Relabelled, false) => (kept, ReproofPath::Workloads),
            (Update::Reclassed(d), false) => (d, ReproofPath::Patched),
        };
        self.generation += 1;
        let report = ChangeReport {
            generation: self.generation,
            at: now,
            diff,
            chains: analysis.proof.chains.len(),
            production: production(&analysis),
            durable_fixes: durable_fixes(&analysis),
            decisions: self.decide(&analysis, now),
            path,
            why_full: None,
        };
        self.analysis = Some(analysis);
        Some(report)
    }
}

fn durable_fixes(a: &Analysis) -> Vec<String> {
    a.plan
        .cuts
        .iter()
        .filter(|c| !c.live)
        .flat_map(|c| c.fixes.iter().map(|f| f.describe()))
        .collect()
}

/// Whether two versions of an object are the same to the analysis: equal but for the
/// resourceVersion, which every write bumps, and a pod's status, which only the respond layer
/// reads.
fn same_model(old: &Object, new: &Object) -> bool {
    let (a, b) = (old.meta(), new.meta());
    let status_differs =
        matches!((old, new), (Object::Pod(x), Object::Pod(y)) if x.status != y.status);
    if a.resource_version == b.resource_version && !status_differs {
        return old == new;
    }
    a.name == b.name
        && a.namespace == b.namespace
        && a.labels == b.labels
        && a.annotations == b.annotations
        && a.uid == b.uid
        && a.owner_references == b.owner_references
        && {
            let mut new = new.clone();
            new.meta_mut()
                .resource_version
                .clone_from(&a.resource_version);
            if let (Object::Pod(x), Object::Pod(y)) = (old, &mut new) {
                y.status.clone_from(&x.status);
            }
            *old == new
        }
}

fn production(a: &Analysis) -> Vec<WorkloadHealth> {
    let g = &a.graph;
    let mut on_chain = BTreeSet::new();
    for c in &a.proof.chains {
        for e in &c.edges {
            if let Some((x, y)) = g.graph.edge_endpoints(*e) {
                for v in [x, y] {
                    if let rampart_graph::model::Vertex::Workload(w) = g.graph[v] {
                        on_chain.insert(w.index());
                    }
                }
            }
        }
    }
    on_chain
        .into_iter()
        .map(|i| {
            let w = &g.workloads.list[i];
            let pods = w.pod_names.len();
            let desired = w
                .replicas
                .and_then(|r| usize::try_from(r).ok())
                .unwrap_or(1);
            // Manifests carry templates, not pods: a workload without observed pods is only
            // "halted" when the input is a live cluster, which has pods for running workloads.
            let state = if pods >= desired {
                Production::Alive
            } else if pods > 0 {
                Production::Degraded
            } else {
                Production::Halted
            };
            WorkloadHealth {
                workload: w.display(),
                pods,
                desired,
                state,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{ParseLimits, parse_source};

    const CLUSTER: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: app}\nspec: {type: ClusterIP, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: app, labels: {app: web}}\nspec: {containers: [{name: c, ports: [{containerPort: 8080}]}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: app, labels: {app: db}}\nspec: {volumes: [{name: s, secret: {secretName: db}}], containers: [{name: c, ports: [{containerPort: 5432}], volumeMounts: [{name: s, mountPath: /s}]}]}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: app}\n";

    fn objects(y: &str) -> Vec<Located<Object>> {
        parse_source("t.yaml", y, &ParseLimits::default()).objects
    }

    fn engine(classes: &[ActionClass], act_on_proof: bool, actuator: Actuator) -> EngineCore {
        engine_with(Options::default(), classes, act_on_proof, actuator)
    }

    fn engine_with(
        options: Options,
        classes: &[ActionClass],
        act_on_proof: bool,
        actuator: Actuator,
    ) -> EngineCore {
        EngineCore::new(
            options,
            BarConfig {
                enabled: classes.iter().copied().collect(),
                act_on_proof,
                protected_namespaces: BTreeSet::new(),
                min_ready: 1,
            },
            CircuitBreaker::new(5, 60),
            actuator,
        )
    }

    /// Issue 21, the `netpol` class: shadow without it (counted as would-be actions); with it,
    /// the ladder per namespace, protected namespaces held, and the circuit breaker spent
    /// once per step, whatever namespaces the step spans.
    #[test]
    fn the_rollout_is_gated_per_namespace_and_counted_once_per_step() {
        use crate::rollout::Gate;
        let groups: Vec<(usize, String)> = vec![
            (1, "payments".into()),
            (1, "shop".into()),
            (1, "kube-system".into()),
            (2, "shop".into()),
        ];
        let mut shadow = engine(&[ActionClass::Network], true, Actuator::DryRun);
        let gates = shadow.gate_rollout(&groups, true, 10);
        assert!(
            gates[..2]
                .iter()
                .all(|g| *g == Gate::Hold("ClassDisabled".into())),
            "{gates:?}"
        );
        let h = &shadow.shadow_history(3600, 10)[&ActionClass::Netpol];
        assert_eq!(h.would_act, 3, "kube-system would not act either: {h:?}");
        assert_eq!(h.examples[0].held, "class disabled");

        let mut on = EngineCore::new(
            Options::default(),
            BarConfig {
                enabled: [ActionClass::Netpol].into(),
                act_on_proof: false,
                protected_namespaces: BTreeSet::new(),
                min_ready: 1,
            },
            CircuitBreaker::new(1, 3600),
            Actuator::DryRun,
        );
        let spec: rampart_api::ArmingPolicySpec = serde_json::from_value(serde_json::json!({
            "rules": [{"classes": ["netpol"], "namespaces": ["payments"], "stage": "actWithApproval"}]
        }))
        .unwrap_or_default();
        on.set_ladder(crate::arming::Ladder::of(&[
            rampart_api::ArmingPolicy::new("p", spec),
        ]));
        assert_eq!(
            on.gate_rollout(&groups, false, 10)[3],
            Gate::Act,
            "a round that writes nothing spends no room"
        );
        let gates = on.gate_rollout(&groups, true, 10);
        assert_eq!(
            gates,
            [
                Gate::AwaitApproval,
                Gate::Act,
                Gate::Hold("Protected".into()),
                // A breaker of one: step 1 spent it, step 2 waits.
                Gate::Hold("CircuitOpen".into()),
            ]
        );
    }

    /// Issue 24, the arming ladder: `act` as `--enable` allows, `actWithApproval` where a
    /// policy says so, held back (and counted) where it says shadow; a class `--enable` does
    /// not list never acts, whatever the ladder says.
    #[test]
    fn the_ladder_holds_back_asks_for_approval_and_counts_what_it_held() {
        let exposed = CLUSTER.replace("ClusterIP", "LoadBalancer");
        let ladder = |stage: &str| {
            let spec: rampart_api::ArmingPolicySpec = serde_json::from_value(
                serde_json::json!({"rules": [{"classes": ["network"], "namespaces": ["app"], "stage": stage}]}),
            )
            .unwrap();
            crate::arming::Ladder::of(&[rampart_api::ArmingPolicy::new("p", spec)])
        };
        let run = |e: &mut EngineCore| {
            for o in objects(&exposed) {
                e.apply(Change::Upsert(Box::new(o)));
            }
            e.reprove(0)
                .decisions
                .iter()
                .map(|d| d.decision.clone())
                .collect::<Vec<_>>()
        };
        let mut plain = engine(&[ActionClass::Network], true, Actuator::NetworkPolicy);
        assert!(run(&mut plain).iter().any(|d| d == "act"));
        let mut approval = engine(&[ActionClass::Network], true, Actuator::NetworkPolicy);
        approval.set_ladder(ladder("actWithApproval"));
        let d = run(&mut approval);
        assert!(d.iter().any(|d| d == "act-with-approval"), "{d:?}");
        assert!(!d.iter().any(|d| d == "act"));
        let mut shadow = engine(&[ActionClass::Network], true, Actuator::NetworkPolicy);
        shadow.set_ladder(ladder("shadow"));
        let d = run(&mut shadow);
        assert!(d.iter().all(|d| d == "propose: Arming(Shadow)"), "{d:?}");
        let h = shadow.shadow_history(86_400, 0);
        assert_eq!(h[&ActionClass::Network].would_act, d.len());
        assert_eq!(h[&ActionClass::Network].open, d.len());
        // As the engine does it: proved first, the ladder read later, decided again.
        let mut later = engine(&[ActionClass::Network], true, Actuator::NetworkPolicy);
        run(&mut later);
        later.set_ladder(ladder("shadow"));
        let d = later.redecide(10);
        assert!(d.iter().all(|d| d.decision == "propose: Arming(Shadow)"));
        assert!(!later.shadow_history(86_400, 10).is_empty());
        let mut ceiling = engine(&[], true, Actuator::NetworkPolicy);
        ceiling.set_ladder(ladder("act"));
        let d = run(&mut ceiling);
        assert!(d.iter().all(|d| d == "propose: ClassDisabled"), "{d:?}");
        assert!(
            !ceiling.shadow_history(86_400, 0).is_empty(),
            "what it would have done is counted"
        );
    }

    #[test]
    fn exposing_a_workload_is_reported_and_shadow_mode_only_proposes() {
        let mut e = engine(&[], false, Actuator::DryRun);
        for o in objects(CLUSTER) {
            e.apply(Change::Upsert(Box::new(o)));
        }
        let r = e.reprove(0);
        assert_eq!(r.chains, 0, "nothing exposed yet");
        // The Service becomes a LoadBalancer: one change.
        let exposed = objects(&CLUSTER.replace("ClusterIP", "LoadBalancer"));
        let svc = exposed
            .into_iter()
            .find(|o| o.object.kind() == Kind::Service)
            .unwrap();
        e.apply(Change::Upsert(Box::new(svc)));
        let r = e.reprove(1);
        assert!(r.chains > 0);
        assert!(!r.diff.chains_added.is_empty() && r.diff.chains_removed.is_empty());
        assert!(r.diff.relations_added.iter().any(|x| x.edge == "exposes"));
        assert!(
            r.production.iter().all(|h| h.state == Production::Alive),
            "{:?}",
            r.production
        );
        assert!(!r.decisions.is_empty());
        assert!(
            r.decisions
                .iter()
                .all(|d| d.decision.starts_with("propose: ClassDisabled")),
            "{:?}",
            r.decisions
        );
    }

    /// Issue 14 item 7: expiry means the cut is proposed for the cool-down whatever room the
    /// breaker has, then judged like a new action (the breaker counts it again).
    #[test]
    fn an_expired_cut_cools_down_then_counts_as_a_new_action() {
        let mut e = EngineCore::new(
            Options::default(),
            BarConfig {
                enabled: [ActionClass::Network].into(),
                act_on_proof: true,
                protected_namespaces: BTreeSet::new(),
                min_ready: 1,
            },
            CircuitBreaker::new(1, 1000),
            Actuator::NetworkPolicy,
        );
        for o in objects(&CLUSTER.replace("ClusterIP", "LoadBalancer")) {
            e.apply(Change::Upsert(Box::new(o)));
        }
        let r = e.reprove(0);
        let acted: Vec<_> = r.decisions.iter().filter(|d| d.decision == "act").collect();
        assert_eq!(acted.len(), 1, "{:?}", r.decisions);
        let cut = acted[0].cut.clone();
        // Expired at 100, cool-down until 400.
        assert!(e.set_cooling([(cut.clone(), 400)].into()));
        assert!(!e.set_cooling([(cut.clone(), 400)].into()), "no change");
        let d = e.redecide(100);
        let mine = d.iter().find(|d| d.cut == cut).unwrap();
        assert!(
            mine.decision.starts_with("propose: CoolingDown"),
            "{mine:?}"
        );
        // After the cool-down it is a new action: the breaker (1 per 1000 s, used at 0) holds it.
        let d = e.redecide(401);
        let mine = d.iter().find(|d| d.cut == cut).unwrap();
        assert_eq!(mine.decision, "propose: CircuitOpen");
        // Once the breaker has room again, it acts.
        let d = e.redecide(1001);
        assert_eq!(d.iter().find(|d| d.cut == cut).unwrap().decision, "act");
    }

    #[test]
    fn enabled_network_class_acts_on_proof_only_when_told() {
        let exposed = CLUSTER.replace("ClusterIP", "LoadBalancer");
        let mut e = engine(&[ActionClass::Network], false, Actuator::DryRun);
        e.replace_kind(Kind::Pod, vec![]);
        for o in objects(&exposed) {
            e.apply(Change::Upsert(Box::new(o)));
        }
        let r = e.reprove(0);
        assert!(
            r.decisions
                .iter()
                .all(|d| d.decision.contains("NeedsCorroboration"))
        );
        let mut e = engine(&[ActionClass::Network], true, Actuator::DryRun);
        for o in objects(&exposed) {
            e.apply(Change::Upsert(Box::new(o)));
        }
        let r = e.reprove(0);
        assert!(
            r.decisions.iter().any(|d| d.decision == "act (dry-run)"),
            "{:?}",
            r.decisions
        );
    }

    fn relabelled(e: &EngineCore, name: &str, key: &str, value: &str) -> Located<Object> {
        changed(e, Kind::Pod, name, |o| {
            o.meta_mut().labels.insert(key.into(), value.into());
        })
    }

    #[test]
    fn one_pods_label_change_keeps_the_proof_when_nothing_reads_it() {
        // The classic targets only: with Exfiltration, the cut would also deny `tools` the
        // internet, and select the pod this test needs it not to.
        let classic = Options {
            objectives: rampart_graph::Objectives::none(),
            ..Options::default()
        };
        let mut e = engine_with(classic, &[], false, Actuator::DryRun);
        let cluster = CLUSTER.replace("ClusterIP", "LoadBalancer")
            + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: tools, namespace: app, labels: {app: tools}}\nspec: {containers: [{name: c}]}\n";
        for o in objects(&cluster) {
            e.apply(Change::Upsert(Box::new(o)));
        }
        let first = e.reprove(0);
        assert_eq!(first.path, ReproofPath::Full);
        assert!(first.chains > 0);
        // A label no selector reads, set twice on the same pod (one the cut does not select):
        // one relabel.
        for v in ["1", "2"] {
            let o = relabelled(&e, "tools", "release", v);
            assert!(e.apply(Change::Upsert(Box::new(o))));
        }
        let r = e.reprove(1);
        assert_eq!(r.path, ReproofPath::Relabel);
        assert!(r.diff.is_empty(), "{:?}", r.diff);
        assert_eq!(r.chains, first.chains);
        assert_eq!(r.generation, first.generation + 1);
        let a = e.analysis().unwrap();
        let tools = a.graph.workloads.of_pod("app", "tools").unwrap();
        assert_eq!(
            a.graph.workloads.list[tools.index()].groups[0]
                .labels
                .get("release"),
            Some(&"2".to_string())
        );
        // The same on a pod the cut selects (its fix would change): chains and cut again over
        // the patched graph. Changes to two pods: the workloads path; a label read by name: a
        // full re-proof.
        let o = relabelled(&e, "db", "release", "3");
        e.apply(Change::Upsert(Box::new(o)));
        assert_eq!(e.reprove(2).path, ReproofPath::Reclass);
        let o = relabelled(&e, "tools", "release", "3");
        e.apply(Change::Upsert(Box::new(o)));
        let o = relabelled(&e, "web", "release", "3");
        e.apply(Change::Upsert(Box::new(o)));
        assert_eq!(e.reprove(2).path, ReproofPath::Workloads);
        let o = relabelled(&e, "web", "app", "web2");
        e.apply(Change::Upsert(Box::new(o)));
        let r = e.reprove(3);
        assert_eq!(r.path, ReproofPath::Full);
        assert!(r.chains < first.chains, "the Service no longer selects web");
    }

    #[test]
    fn a_pod_moving_to_another_class_is_patched_and_reported() {
        let mut e = engine(&[], false, Actuator::DryRun);
        // The web pod reaches the db pod (no policy); a policy isolates pods labelled
        // `quarantine: "true"`.
        let cluster = CLUSTER.replace("ClusterIP", "LoadBalancer")
            + "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: quarantine, namespace: app}\nspec: {podSelector: {matchLabels: {quarantine: \"true\"}}, policyTypes: [Ingress]}\n";
        for o in objects(&cluster) {
            e.apply(Change::Upsert(Box::new(o)));
        }
        let first = e.reprove(0);
        let to_db = |e: &EngineCore| {
            e.analysis()
                .unwrap()
                .proof
                .chains
                .iter()
                .filter(|c| e.analysis().unwrap().graph.vertex_ref(c.target).name == "db")
                .count()
        };
        assert!(to_db(&e) > 0, "web reaches the db Secret");
        // Quarantining the db pod moves it to a class no pod had: the graph is patched, the
        // chain to its Secret disappears, and the report says so.
        let o = relabelled(&e, "db", "quarantine", "true");
        e.apply(Change::Upsert(Box::new(o)));
        let r = e.reprove(1);
        assert_eq!(r.path, ReproofPath::Reclass);
        assert_eq!(r.generation, first.generation + 1);
        assert_eq!(to_db(&e), 0);
        assert!(!r.diff.chains_removed.is_empty(), "{:?}", r.diff);
        assert!(r.chains < first.chains);
        // And back: the chain returns.
        let mut o = e.snapshot().get(Kind::Pod, "app", "db").cloned().unwrap();
        o.object.meta_mut().labels.remove("quarantine");
        e.apply(Change::Upsert(Box::new(o)));
        let r = e.reprove(2);
        assert_eq!(r.path, ReproofPath::Reclass);
        assert_eq!(r.chains, first.chains);
        assert!(!r.diff.chains_added.is_empty(), "{:?}", r.diff);
    }

    const DEPLOYMENT: &str = "\
apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\n\
apiVersion: v1\nkind: Node\nmetadata: {name: n2}\n---\n\
apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: app}\nspec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n---\n\
apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: app, annotations: {deployment.kubernetes.io/revision: '1'}}\nspec: {replicas: 2, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c}]}}}\n---\n\
apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-1, namespace: app, ownerReferences: [{kind: Deployment, name: web, controller: true}]}\nspec: {replicas: 2, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c}]}}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: web-1-a, namespace: app, labels: {app: web, pod-template-hash: '1'}, ownerReferences: [{kind: ReplicaSet, name: web-1, controller: true}]}\nspec: {nodeName: n1, containers: [{name: c, image: web:1, ports: [{containerPort: 8080}], securityContext: {privileged: true}}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: web-1-b, namespace: app, labels: {app: web, pod-template-hash: '1'}, ownerReferences: [{kind: ReplicaSet, name: web-1, controller: true}]}\nspec: {nodeName: n1, containers: [{name: c, image: web:1, ports: [{containerPort: 8080}], securityContext: {privileged: true}}]}\n";

    /// The object `name` of `kind` from the engine's model, changed by `f`.
    fn changed(
        e: &EngineCore,
        kind: Kind,
        name: &str,
        f: impl FnOnce(&mut Object),
    ) -> Located<Object> {
        let mut o = e.snapshot().get(kind, "app", name).cloned().unwrap();
        f(&mut o.object);
        o
    }

    #[test]
    fn pods_coming_and_going_take_the_workloads_path() {
        let mut e = engine(&[], false, Actuator::DryRun);
        for o in objects(DEPLOYMENT) {
            e.apply(Change::Upsert(Box::new(o)));
        }
        let first = e.reprove(0);
        assert_eq!(first.path, ReproofPath::Full);
        // A new revision on the Deployment, a replica count: nothing the proof reads.
        let d = changed(&e, Kind::Deployment, "web", |o| {
            o.meta_mut()
                .annotations
                .insert("deployment.kubernetes.io/revision".into(), "2".into());
        });
        assert!(e.apply(Change::Upsert(Box::new(d))));
        let r = e.reprove(1);
        assert_eq!(r.path, ReproofPath::Workloads);
        assert!(r.diff.is_empty());
        // A pod more, created unscheduled, then bound to the node its siblings run on.
        let mut p = changed(&e, Kind::Pod, "web-1-a", |o| {
            o.meta_mut().name = "web-1-c".into();
        });
        if let Object::Pod(x) = &mut p.object {
            x.spec.node_name = None;
        }
        e.apply(Change::Upsert(Box::new(p.clone())));
        assert_eq!(e.reprove(2).path, ReproofPath::Workloads);
        if let Object::Pod(x) = &mut p.object {
            x.spec.node_name = Some("n1".into());
        }
        e.apply(Change::Upsert(Box::new(p.clone())));
        assert_eq!(e.reprove(3).path, ReproofPath::Workloads);
        let a = e.analysis().unwrap();
        let w =
            &a.graph.workloads.list[a.graph.workloads.of_pod("app", "web-1-c").unwrap().index()];
        assert_eq!(w.pod_names.len(), 3);
        // Bound to another node: the privileged pod escapes to it, a new chain.
        if let Object::Pod(x) = &mut p.object {
            x.spec.node_name = Some("n2".into());
        }
        e.apply(Change::Upsert(Box::new(p.clone())));
        let r = e.reprove(4);
        assert_eq!(r.path, ReproofPath::Patched);
        assert!(
            r.diff
                .relations_added
                .iter()
                .any(|x| x.edge == "escapes-to-node" && x.to.name == "n2"),
            "{:?}",
            r.diff
        );
        assert_eq!(r.diff.chains_added.len(), 1, "{:?}", r.diff);
        // Evicted: the chain goes with it.
        e.apply(Change::Delete(ObjectKey::of(&p.object)));
        let r = e.reprove(5);
        assert_eq!(r.path, ReproofPath::Patched);
        assert!(!r.diff.chains_removed.is_empty(), "{:?}", r.diff);
        assert_eq!(r.chains, first.chains);
        // Every pod gone: the workload falls back to its template, a full re-proof.
        for name in ["web-1-a", "web-1-b"] {
            e.apply(Change::Delete(ObjectKey {
                kind: Kind::Pod,
                namespace: "app".into(),
                name: name.into(),
            }));
        }
        assert_eq!(e.reprove(6).path, ReproofPath::Full);
    }

    #[test]
    fn a_relist_deletes_what_disappeared() {
        let mut e = engine(&[], false, Actuator::DryRun);
        e.replace_kind(
            Kind::Pod,
            objects(CLUSTER)
                .into_iter()
                .filter(|o| o.object.kind() == Kind::Pod)
                .collect(),
        );
        assert_eq!(e.snapshot().of_kind(Kind::Pod).count(), 2);
        let only_web: Vec<_> = objects(CLUSTER)
            .into_iter()
            .filter(|o| o.object.kind() == Kind::Pod && o.object.meta().display_name() == "web")
            .collect();
        e.replace_kind(Kind::Pod, only_web);
        assert_eq!(e.snapshot().of_kind(Kind::Pod).count(), 1);
    }

    #[test]
    fn updates_the_model_does_not_read_need_no_reproof() {
        let mut e = engine(&[], false, Actuator::DryRun);
        for o in objects(CLUSTER) {
            assert!(
                e.apply(Change::Upsert(Box::new(o))),
                "new objects change the model"
            );
        }
        e.reprove(0);
        assert!(!e.is_dirty());
        // The same pod again with a new resourceVersion (what a status update looks like once
        // the model's fields are read): nothing to re-prove.
        let bumped = CLUSTER.replace(
            "{name: web, namespace: app, labels",
            "{name: web, namespace: app, resourceVersion: '7', labels",
        );
        for o in objects(&bumped) {
            e.apply(Change::Upsert(Box::new(o)));
        }
        assert!(!e.is_dirty(), "only a resourceVersion changed");
        // Readiness: kept current for the respond layer, no re-proof.
        let ready = bumped.replace(
            "containers: [{name: c, ports: [{containerPort: 8080}]}]}",
            "containers: [{name: c, ports: [{containerPort: 8080}]}]}\nstatus: {conditions: [{type: Ready, status: 'True'}]}",
        );
        assert_ne!(ready, bumped);
        for o in objects(&ready) {
            e.apply(Change::Upsert(Box::new(o)));
        }
        assert!(!e.is_dirty(), "a status change re-proves nothing");
        let Some(Object::Pod(p)) = e.snapshot().get(Kind::Pod, "app", "web").map(|l| &l.object)
        else {
            panic!("web is a pod");
        };
        assert!(p.is_ready(), "but the stored pod is current");
        // A label change is a change.
        let relabelled = bumped.replace("labels: {app: web}}", "labels: {app: web, tier: x}}");
        let pod = objects(&relabelled)
            .into_iter()
            .find(|o| o.object.kind() == Kind::Pod && o.object.meta().name == "web")
            .unwrap();
        assert!(e.apply(Change::Upsert(Box::new(pod))));
        assert!(e.is_dirty());
        e.reprove(1);
        // Deleting what is not there changes nothing; deleting what is does.
        let gone = ObjectKey {
            kind: Kind::Pod,
            namespace: "app".into(),
            name: "nope".into(),
        };
        assert!(!e.apply(Change::Delete(gone)));
        assert!(!e.is_dirty());
        let db = ObjectKey {
            kind: Kind::Pod,
            namespace: "app".into(),
            name: "db".into(),
        };
        assert!(e.apply(Change::Delete(db)));
        assert!(e.is_dirty());
    }

    #[test]
    fn corroboration_lets_network_act_without_act_on_proof_and_judgement_needs_its_class() {
        let exposed = CLUSTER.replace("ClusterIP", "LoadBalancer");
        let mut e = engine(&[ActionClass::Network], false, Actuator::DryRun);
        for o in objects(&exposed) {
            e.apply(Change::Upsert(Box::new(o)));
        }
        let r = e.reprove(0);
        assert!(!r.decisions.is_empty());
        assert!(
            r.decisions
                .iter()
                .all(|d| d.decision.contains("NeedsCorroboration"))
        );
        let chains: Vec<String> = e
            .analysis()
            .unwrap()
            .proof
            .chains
            .iter()
            .map(|c| c.id.clone())
            .collect();
        e.set_confirmations(
            chains
                .iter()
                .map(|c| (c.clone(), Confidence::Judged))
                .collect(),
        );
        assert!(
            e.redecide(1)
                .iter()
                .all(|d| d.decision.starts_with("propose")),
            "a judgement acts only with the judgement class"
        );
        e.set_confirmations(
            chains
                .iter()
                .map(|c| (c.clone(), Confidence::Corroborated))
                .collect(),
        );
        let d = e.redecide(2);
        assert!(d.iter().any(|d| d.decision == "act (dry-run)"), "{d:?}");
    }

    /// The decisions of a fresh engine on the exposed demo with `confirmations` (chain
    /// indexes of the proof, or stray ids no proof has).
    fn decisions_with(
        classes: &[ActionClass],
        act_on_proof: bool,
        judged: &[usize],
        stray: &[String],
    ) -> Vec<(String, String)> {
        let exposed = CLUSTER.replace("ClusterIP", "LoadBalancer");
        let mut e = engine(classes, act_on_proof, Actuator::DryRun);
        for o in objects(&exposed) {
            e.apply(Change::Upsert(Box::new(o)));
        }
        e.reprove(0);
        let chains: Vec<String> = e
            .analysis()
            .map(|a| a.proof.chains.iter().map(|c| c.id.clone()).collect())
            .unwrap_or_default();
        let confirmations = judged
            .iter()
            .filter_map(|i| chains.get(i % chains.len().max(1)).cloned())
            .chain(stray.iter().cloned())
            .map(|id| (id, Confidence::Judged))
            .collect();
        e.set_confirmations(confirmations);
        e.redecide(1)
            .into_iter()
            .map(|d| (d.cut, d.decision))
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn without_the_judgement_class_no_verdict_changes_what_rampart_does(
            judged in proptest::collection::vec(0usize..16, 0..6),
            stray in proptest::collection::vec("[a-z0-9-]{1,24}", 0..4),
            act_on_proof in proptest::prelude::any::<bool>(),
            network in proptest::prelude::any::<bool>(),
        ) {
            let classes: Vec<ActionClass> = [ActionClass::Network, ActionClass::Rbac]
                .into_iter()
                .filter(|c| network || *c != ActionClass::Network)
                .collect();
            proptest::prop_assert_eq!(
                decisions_with(&classes, act_on_proof, &judged, &stray),
                decisions_with(&classes, act_on_proof, &[], &[])
            );
        }

        #[test]
        fn verdicts_on_chains_no_proof_has_change_nothing_even_with_the_class(
            stray in proptest::collection::vec("[a-z0-9-]{1,24}", 1..6),
        ) {
            let classes = [ActionClass::Network, ActionClass::Judgement];
            proptest::prop_assert_eq!(
                decisions_with(&classes, false, &[], &stray),
                decisions_with(&classes, false, &[], &[])
            );
        }
    }

    #[test]
    fn a_judged_chain_acts_only_with_the_judgement_class() {
        let with = decisions_with(
            &[ActionClass::Network, ActionClass::Judgement],
            false,
            &[0, 1, 2, 3],
            &[],
        );
        assert!(with.iter().any(|(_, d)| d == "act (dry-run)"), "{with:?}");
        let without = decisions_with(&[ActionClass::Network], false, &[0, 1, 2, 3], &[]);
        assert!(
            without.iter().all(|(_, d)| d.starts_with("propose")),
            "{without:?}"
        );
    }

    #[test]
    fn a_cut_already_acted_on_does_not_trip_the_breaker_again() {
        let exposed = CLUSTER.replace("ClusterIP", "LoadBalancer");
        let mut e = EngineCore::new(
            Options::default(),
            BarConfig {
                enabled: [ActionClass::Network].into(),
                act_on_proof: true,
                protected_namespaces: BTreeSet::new(),
                min_ready: 1,
            },
            CircuitBreaker::new(1, 3600),
            Actuator::DryRun,
        );
        for o in objects(&exposed) {
            e.apply(Change::Upsert(Box::new(o)));
        }
        let first = e.reprove(0).decisions;
        assert_eq!(
            first
                .iter()
                .filter(|d| d.decision == "act (dry-run)")
                .count(),
            1,
            "{first:?}"
        );
        for t in 1..4 {
            let again = e.redecide(t);
            assert_eq!(
                again.iter().map(|d| &d.decision).collect::<Vec<_>>(),
                first.iter().map(|d| &d.decision).collect::<Vec<_>>(),
                "same verdicts, the breaker (1 per hour) untouched"
            );
        }
    }
}
