//! The `netpol` action class: a proven NetworkPolicy plan (`rampart netpol`) rolled out one
//! step at a time as Mitigations — shadow-first, reversible, self-expiring — and rolled back
//! at once when production traffic is seen dropped under it.
//!
//! The rules, each a reason a step may rely on the ones before it:
//! * steps go in the plan's order (ingress allow-lists, egress allow-lists, default-denies); a
//!   step starts only when every step before it is applied in full and has *soaked* (been
//!   applied for the soak time) without a drop;
//! * a step is applied only when the plan verified it (every observed connection still
//!   passes);
//! * when a policy falls — its traffic dropped, its time ran out, it left the plan or the plan
//!   changed it — it falls with every step after it, latest first: a default-deny never
//!   outlives the allow-lists it relies on. A changed policy is rolled out again from its step,
//!   through the soak;
//! * a policy whose traffic was dropped cools down before it is tried again, twice as long for
//!   each earlier drop;
//! * a plan made from fewer flows than an applied policy was made from (an engine restarted
//!   with its flows lost) changes nothing applied: it waits for the flows to come back.
//!
//! Pure: the adapter reads the ledger and the plan, asks [`next`] what to do, gates each
//! enactment through the action bar and the arming ladder, and writes.

use std::collections::BTreeMap;

use rampart_api::MitigationPhase;
use serde::Serialize;
use serde_json::Value;

/// Label on a rollout's Mitigations and on the NetworkPolicies they apply: the step's number.
/// The planner leaves the policies carrying it out of the model it plans on, so that a plan
/// does not change because its own steps are in force.
pub const STEP_LABEL: &str = "rampart.dev/netpol-step";

/// Annotation on a rollout's Mitigations: how many flows the plan it came from was made from.
pub const FLOWS_ANNOTATION: &str = "rampart.dev/netpol-flows";

/// One policy of a plan step.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedPolicy {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The manifest (`networking.k8s.io/v1` NetworkPolicy).
    pub manifest: Value,
}

/// One step of the plan, as the rollout reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    /// 1-based, in rollout order.
    pub number: usize,
    /// Every observed connection still passes with this step (and those before it) applied.
    pub verified: bool,
    /// Its policies.
    pub policies: Vec<PlannedPolicy>,
}

/// The plan the rollout follows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlanView {
    /// Flows the plan was made from.
    pub flows: u64,
    /// Its steps.
    pub steps: Vec<PlannedStep>,
}

/// A `netpol` Mitigation, as the rollout reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// The Mitigation's namespace.
    pub mitigation_namespace: String,
    /// The Mitigation's name.
    pub mitigation: String,
    /// The step it belongs to.
    pub step: usize,
    /// The policy's namespace.
    pub namespace: String,
    /// The policy's name.
    pub name: String,
    /// The manifest it applies.
    pub manifest: Value,
    /// Flows the plan it came from was made from.
    pub flows: u64,
    /// Phase.
    pub phase: MitigationPhase,
    /// Whether an end is in progress (the ledger's `ending: …` message).
    pub ending: bool,
    /// When it was applied (Unix seconds).
    pub applied_at: Option<u64>,
    /// When it ended.
    pub ended_at: Option<u64>,
    /// When it expires.
    pub expires_at: Option<u64>,
    /// Whether it ended because traffic was seen dropped under it.
    pub dropped: bool,
}

impl Placed {
    /// Proposed, Pending or Applied, and not ending.
    pub fn active(&self) -> bool {
        !self.ending
            && matches!(
                self.phase,
                MitigationPhase::Proposed | MitigationPhase::Pending | MitigationPhase::Applied
            )
    }

    fn key(&self) -> (&str, &str) {
        (&self.namespace, &self.name)
    }
}

/// Timings of the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a step stays applied, without a drop, before the next one starts (seconds).
    pub soak: u64,
    /// How long a policy whose traffic was dropped waits before it is tried again (seconds),
    /// doubled for each earlier drop, up to 16 times.
    pub cooldown: u64,
    /// How long a policy whose apply failed waits before it is tried again (seconds), doubled
    /// for each earlier failure, up to 16 times.
    pub retry: u64,
}

/// Why an active policy falls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "why", content = "detail")]
pub enum Why {
    /// Traffic was seen dropped under it (the flow, in words).
    Dropped(String),
    /// Its time ran out.
    Expired,
    /// The plan no longer has it.
    LeftThePlan,
    /// The plan changed it: it is rolled out again from its step.
    Changed,
    /// A policy of an earlier step fell (that step's number).
    EarlierStep(usize),
}

impl Why {
    /// In words, for the ledger's message.
    pub fn describe(&self) -> String {
        match self {
            Why::Dropped(flow) => format!("traffic dropped under it: {flow}"),
            Why::Expired => "expired".into(),
            Why::LeftThePlan => "no longer in the plan".into(),
            Why::Changed => "the plan changed it; rolled out again from its step".into(),
            Why::EarlierStep(n) => format!("step {n} before it fell"),
        }
    }
}

/// What the adapter does, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Move {
    /// End an active Mitigation (remove its object).
    End {
        /// The Mitigation's namespace.
        namespace: String,
        /// The Mitigation's name.
        name: String,
        /// Its step.
        step: usize,
        /// Why.
        why: Why,
    },
    /// Record and (once the bar and the ladder allow) apply one policy of a step.
    Enact {
        /// The step.
        step: usize,
        /// The policy.
        policy: PlannedPolicy,
        /// When the Mitigation must expire at the latest (Unix seconds): no later than the
        /// steps it relies on.
        expires_by: Option<u64>,
    },
}

/// The bar's and the ladder's word on one group of enactments (a step's policies in one
/// namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Apply.
    Act,
    /// Record `Pending`: the class is armed `actWithApproval` there.
    AwaitApproval,
    /// Not now, with why (`class disabled`, the ladder's stage, the breaker, a protected
    /// namespace).
    Hold(String),
}

/// Where the rollout stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Steps applied in full.
    pub applied: Vec<usize>,
    /// The step being rolled out, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<usize>,
    /// Why the rollout does not move on, if it waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

/// The rollout's answer for one round.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rollout {
    /// Moves, in the order they must be made: every end (latest step first) before any
    /// enactment; a round with ends enacts nothing.
    pub moves: Vec<Move>,
    /// Where it stands.
    pub progress: Progress,
}

/// When a policy dropped `drops` times, last at `ended`, may be tried again.
fn cooled_at(ended: u64, drops: u32, cooldown: u64) -> u64 {
    let factor = 1u64 << drops.saturating_sub(1).min(4);
    ended.saturating_add(cooldown.saturating_mul(factor))
}

/// What to do this round. `plan`: the latest plan (none yet: nothing is enacted and nothing
/// falls but by time or drops); `placed`: every `netpol` Mitigation, ended ones included;
/// `dropped`: Mitigations (namespace, name) blamed for a dropped flow since the last round,
/// with the flow in words; `skip`: policies never rolled out (a protected namespace), left out
/// of every step.
pub fn next(
    plan: Option<&PlanView>,
    placed: &[Placed],
    dropped: &BTreeMap<(String, String), String>,
    timing: Timing,
    now: u64,
    skip: &dyn Fn(&PlannedPolicy) -> bool,
) -> Rollout {
    let active: Vec<&Placed> = placed.iter().filter(|p| p.active()).collect();
    let planned: BTreeMap<(&str, &str), (usize, &PlannedPolicy)> = plan
        .map(|p| {
            p.steps
                .iter()
                .flat_map(|s| s.policies.iter().map(move |x| (s.number, x)))
                .filter(|(_, x)| !skip(x))
                .map(|(n, x)| ((x.namespace.as_str(), x.name.as_str()), (n, x)))
                .collect()
        })
        .unwrap_or_default();
    // A plan from fewer flows than what is applied changes nothing applied.
    let behind = plan.filter(|p| active.iter().any(|a| a.flows > p.flows));
    let trusted = plan.filter(|_| behind.is_none());
    let mut falls: Vec<(&Placed, Why)> = Vec::new();
    for a in &active {
        let key = (a.mitigation_namespace.clone(), a.mitigation.clone());
        let why = if let Some(flow) = dropped.get(&key) {
            Some(Why::Dropped(flow.clone()))
        } else if a.expires_at.is_some_and(|t| t <= now) {
            Some(Why::Expired)
        } else if trusted.is_some() {
            match planned.get(&a.key()) {
                None => Some(Why::LeftThePlan),
                Some((_, p)) if p.manifest != a.manifest => Some(Why::Changed),
                Some(_) => None,
            }
        } else {
            None
        };
        if let Some(why) = why {
            falls.push((a, why));
        }
    }
    // What a policy relies on lives in its namespace (a namespace's default-deny on its own
    // workloads' allow-lists): a fall takes the later steps of its namespace.
    let mut first_in: BTreeMap<&str, usize> = BTreeMap::new();
    for (a, _) in &falls {
        let e = first_in.entry(a.namespace.as_str()).or_insert(a.step);
        *e = (*e).min(a.step);
    }
    if let Some(first) = first_in.values().min().copied() {
        let fallen: std::collections::BTreeSet<(&str, &str)> = falls
            .iter()
            .map(|(f, _)| (f.mitigation_namespace.as_str(), f.mitigation.as_str()))
            .collect();
        for a in &active {
            let Some(&from) = first_in.get(a.namespace.as_str()) else {
                continue;
            };
            if a.step > from
                && !fallen.contains(&(a.mitigation_namespace.as_str(), a.mitigation.as_str()))
            {
                falls.push((a, Why::EarlierStep(from)));
            }
        }
        // Latest step first: nothing is left relying on what is already gone.
        falls.sort_by(|x, y| {
            y.0.step
                .cmp(&x.0.step)
                .then(x.0.namespace.cmp(&y.0.namespace))
                .then(x.0.name.cmp(&y.0.name))
        });
        return Rollout {
            moves: falls
                .into_iter()
                .map(|(a, why)| Move::End {
                    namespace: a.mitigation_namespace.clone(),
                    name: a.mitigation.clone(),
                    step: a.step,
                    why,
                })
                .collect(),
            progress: Progress {
                waiting: Some(format!(
                    "step {first} and the steps after it are falling in {}",
                    first_in.keys().copied().collect::<Vec<_>>().join(", ")
                )),
                ..Progress::default()
            },
        };
    }
    let mut progress = Progress::default();
    let Some(plan) = plan else {
        progress.waiting = Some("no plan yet".into());
        return Rollout {
            moves: Vec::new(),
            progress,
        };
    };
    if behind.is_some() {
        progress.waiting = Some(format!(
            "the plan saw {} flows, fewer than the applied policies were made from: waiting for more",
            plan.flows
        ));
        return Rollout {
            moves: Vec::new(),
            progress,
        };
    }
    // Indexed once: a plan has thousands of policies.
    let by_key: BTreeMap<(&str, &str), &Placed> = active.iter().map(|a| (a.key(), *a)).collect();
    let mut history: BTreeMap<(&str, &str), Vec<&Placed>> = BTreeMap::new();
    for x in placed {
        history.entry(x.key()).or_default().push(x);
    }
    let applied = |p: &PlannedPolicy| {
        by_key
            .get(&(p.namespace.as_str(), p.name.as_str()))
            .copied()
            .filter(|a| a.phase == MitigationPhase::Applied)
    };
    let in_flight =
        |p: &PlannedPolicy| by_key.contains_key(&(p.namespace.as_str(), p.name.as_str()));
    let mut soaked_at: u64 = 0;
    let mut expires_by: Option<u64> = None;
    let mut moves = Vec::new();
    for step in &plan.steps {
        let policies: Vec<&PlannedPolicy> = step.policies.iter().filter(|p| !skip(p)).collect();
        let done: Vec<&Placed> = policies.iter().filter_map(|p| applied(p)).collect();
        if done.len() == policies.len() {
            progress.applied.push(step.number);
            for d in done {
                soaked_at = soaked_at.max(d.applied_at.unwrap_or(now).saturating_add(timing.soak));
                if let Some(t) = d.expires_at {
                    expires_by = Some(expires_by.map_or(t, |e: u64| e.min(t)));
                }
            }
            continue;
        }
        progress.current = Some(step.number);
        if !step.verified {
            progress.waiting = Some(format!(
                "step {} is not verified: it would deny observed connections",
                step.number
            ));
            break;
        }
        if soaked_at > now {
            progress.waiting = Some(format!(
                "step {} waits for the steps before it to soak (until {soaked_at})",
                step.number
            ));
            break;
        }
        let mut cooling_until: Option<u64> = None;
        for p in policies {
            if in_flight(p) {
                continue;
            }
            let mut until = 0;
            let past = history
                .get(&(p.namespace.as_str(), p.name.as_str()))
                .map_or(&[][..], Vec::as_slice);
            for (wait, failed) in [(timing.cooldown, false), (timing.retry, true)] {
                let ends: Vec<u64> = past
                    .iter()
                    .filter(|x| {
                        if failed {
                            x.phase == MitigationPhase::Failed
                        } else {
                            x.dropped
                        }
                    })
                    .filter_map(|x| x.ended_at)
                    .collect();
                if let Some(&last) = ends.iter().max() {
                    let n = u32::try_from(ends.len()).unwrap_or(u32::MAX);
                    until = until.max(cooled_at(last, n, wait));
                }
            }
            if until > now {
                cooling_until = Some(cooling_until.map_or(until, |c| c.max(until)));
                continue;
            }
            moves.push(Move::Enact {
                step: step.number,
                policy: p.clone(),
                expires_by,
            });
        }
        if moves.is_empty() {
            progress.waiting = Some(match cooling_until {
                Some(t) => format!(
                    "step {}: policies whose traffic was dropped (or whose apply failed) wait until {t}",
                    step.number
                ),
                None => format!(
                    "step {}: waiting for its policies to be applied",
                    step.number
                ),
            });
        }
        break;
    }
    Rollout { moves, progress }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(ns: &str, name: &str, allow: u16) -> PlannedPolicy {
        PlannedPolicy {
            namespace: ns.into(),
            name: name.into(),
            manifest: json!({"kind": "NetworkPolicy", "metadata": {"namespace": ns, "name": name},
                "spec": {"ingress": [{"ports": [{"port": allow}]}]}}),
        }
    }

    fn plan(flows: u64) -> PlanView {
        PlanView {
            flows,
            steps: vec![
                PlannedStep {
                    number: 1,
                    verified: true,
                    policies: vec![
                        policy("shop", "web-ingress", 80),
                        policy("shop", "db-ingress", 5432),
                    ],
                },
                PlannedStep {
                    number: 2,
                    verified: true,
                    policies: vec![policy("shop", "web-egress", 5432)],
                },
                PlannedStep {
                    number: 3,
                    verified: true,
                    policies: vec![policy("shop", "default-deny", 0)],
                },
            ],
        }
    }

    fn placed(step: usize, p: &PlannedPolicy, phase: MitigationPhase, applied_at: u64) -> Placed {
        Placed {
            mitigation_namespace: p.namespace.clone(),
            mitigation: format!("m-{}", p.name),
            step,
            namespace: p.namespace.clone(),
            name: p.name.clone(),
            manifest: p.manifest.clone(),
            flows: 100,
            phase,
            ending: false,
            applied_at: Some(applied_at),
            ended_at: None,
            expires_at: Some(applied_at + 100_000),
            dropped: false,
        }
    }

    const T: Timing = Timing {
        soak: 600,
        cooldown: 1800,
        retry: 60,
    };

    fn none(_: &PlannedPolicy) -> bool {
        false
    }

    fn enacted(r: &Rollout) -> Vec<(usize, String)> {
        r.moves
            .iter()
            .filter_map(|m| match m {
                Move::Enact { step, policy, .. } => Some((*step, policy.name.clone())),
                Move::End { .. } => None,
            })
            .collect()
    }

    fn ended(r: &Rollout) -> Vec<(String, Why)> {
        r.moves
            .iter()
            .filter_map(|m| match m {
                Move::End { name, why, .. } => Some((name.clone(), why.clone())),
                Move::Enact { .. } => None,
            })
            .collect()
    }

    #[test]
    fn steps_go_in_order_and_each_soaks_before_the_next() {
        let p = plan(100);
        let r = next(Some(&p), &[], &BTreeMap::new(), T, 1000, &none);
        assert_eq!(
            enacted(&r),
            [
                (1, "web-ingress".to_string()),
                (1, "db-ingress".to_string())
            ]
        );
        // Step 1 applied at 1000: step 2 waits for the soak.
        let s1: Vec<Placed> = p.steps[0]
            .policies
            .iter()
            .map(|x| placed(1, x, MitigationPhase::Applied, 1000))
            .collect();
        let r = next(Some(&p), &s1, &BTreeMap::new(), T, 1300, &none);
        assert!(r.moves.is_empty());
        assert_eq!(r.progress.applied, [1]);
        assert!(
            r.progress.waiting.as_deref().unwrap().contains("soak"),
            "{r:?}"
        );
        let r = next(Some(&p), &s1, &BTreeMap::new(), T, 1600, &none);
        let Move::Enact { expires_by, .. } = &r.moves[0] else {
            panic!()
        };
        assert_eq!(enacted(&r), [(2, "web-egress".to_string())]);
        assert_eq!(
            *expires_by,
            Some(101_000),
            "no later than the step it relies on"
        );
        // A step waiting for approval (Pending) holds the next one back.
        let mut s2 = s1.clone();
        s2.push(placed(
            2,
            &p.steps[1].policies[0],
            MitigationPhase::Pending,
            1600,
        ));
        let r = next(Some(&p), &s2, &BTreeMap::new(), T, 4000, &none);
        assert!(r.moves.is_empty(), "{r:?}");
        assert_eq!(r.progress.current, Some(2));
    }

    #[test]
    fn an_unverified_step_is_never_applied() {
        let mut p = plan(100);
        p.steps[0].verified = false;
        let r = next(Some(&p), &[], &BTreeMap::new(), T, 1000, &none);
        assert!(r.moves.is_empty());
        assert!(r.progress.waiting.unwrap().contains("not verified"));
    }

    #[test]
    fn a_drop_takes_its_policy_and_every_later_step_down_latest_first() {
        let p = plan(100);
        let mut all = Vec::new();
        for s in &p.steps {
            for x in &s.policies {
                all.push(placed(s.number, x, MitigationPhase::Applied, 1000));
            }
        }
        let dropped: BTreeMap<(String, String), String> = [(
            ("shop".to_string(), "m-web-egress".to_string()),
            "web -> db TCP 5432".to_string(),
        )]
        .into();
        let r = next(Some(&p), &all, &dropped, T, 2000, &none);
        assert_eq!(
            ended(&r),
            [
                ("m-default-deny".to_string(), Why::EarlierStep(2)),
                (
                    "m-web-egress".to_string(),
                    Why::Dropped("web -> db TCP 5432".into())
                ),
            ]
        );
        assert!(enacted(&r).is_empty(), "a round that ends enacts nothing");
        // Ended, it cools down: doubled after a second drop.
        let mut after: Vec<Placed> = all.clone();
        for a in &mut after {
            if a.step >= 2 {
                a.phase = MitigationPhase::Reverted;
                a.ended_at = Some(2000);
                a.dropped = a.name == "web-egress";
            }
        }
        let r = next(Some(&p), &after, &BTreeMap::new(), T, 3000, &none);
        assert!(r.moves.is_empty());
        assert!(r.progress.waiting.unwrap().contains("wait until 3800"));
        assert_eq!(
            enacted(&next(Some(&p), &after, &BTreeMap::new(), T, 3800, &none)).len(),
            1
        );
        let mut twice = after.clone();
        let mut earlier = twice
            .iter()
            .find(|a| a.name == "web-egress")
            .unwrap()
            .clone();
        earlier.ended_at = Some(500);
        twice.push(earlier);
        assert!(
            next(Some(&p), &twice, &BTreeMap::new(), T, 3800, &none)
                .moves
                .is_empty()
        );
        assert_eq!(
            enacted(&next(Some(&p), &twice, &BTreeMap::new(), T, 5600, &none)).len(),
            1
        );
    }

    #[test]
    fn expiry_a_changed_policy_and_a_vanished_one_fall_with_the_steps_after_them() {
        let p = plan(100);
        let mut all = Vec::new();
        for s in &p.steps {
            for x in &s.policies {
                all.push(placed(s.number, x, MitigationPhase::Applied, 1000));
            }
        }
        // Expiry of step 1's policies (applied first) takes everything.
        all[0].expires_at = Some(1500);
        let r = next(Some(&p), &all, &BTreeMap::new(), T, 1500, &none);
        assert_eq!(r.moves.len(), 3, "db's ingress relies on nothing that fell");
        assert_eq!(ended(&r)[2], ("m-web-ingress".to_string(), Why::Expired));
        all[0].expires_at = Some(9000);
        // The plan widened web's egress: it and the default-deny fall; step 1 stays.
        let mut wider = p.clone();
        wider.flows = 200;
        wider.steps[1].policies[0] = policy("shop", "web-egress", 6379);
        let r = next(Some(&wider), &all, &BTreeMap::new(), T, 2000, &none);
        assert_eq!(
            ended(&r),
            [
                ("m-default-deny".to_string(), Why::EarlierStep(2)),
                ("m-web-egress".to_string(), Why::Changed),
            ]
        );
        // The default-deny left the plan: only it falls.
        let mut fewer = p.clone();
        fewer.steps.pop();
        let r = next(Some(&fewer), &all, &BTreeMap::new(), T, 2000, &none);
        assert_eq!(
            ended(&r),
            [("m-default-deny".to_string(), Why::LeftThePlan)]
        );
        // A plan from fewer flows (a restart lost them) changes nothing applied.
        let mut poor = wider.clone();
        poor.flows = 10;
        let r = next(Some(&poor), &all, &BTreeMap::new(), T, 2000, &none);
        assert!(r.moves.is_empty());
        assert!(r.progress.waiting.unwrap().contains("fewer"));
        // No plan yet (the engine just started): nothing falls but by time.
        assert!(
            next(None, &all, &BTreeMap::new(), T, 2000, &none)
                .moves
                .is_empty()
        );
    }

    /// A fall takes the later steps of its own namespace (a namespace's default-deny relies on
    /// its workloads' allow-lists), told apart by namespace even where names are the same
    /// (every namespace's default-deny is `rampart-default-deny`; found against kube-apiserver).
    #[test]
    fn a_fall_takes_the_later_steps_of_its_namespace_only() {
        let mut p = plan(100);
        for s in &mut p.steps {
            let other: Vec<PlannedPolicy> = s
                .policies
                .iter()
                .map(|x| policy("other", &x.name, 80))
                .collect();
            s.policies.extend(other);
        }
        let mut all = Vec::new();
        for s in &p.steps {
            for x in &s.policies {
                all.push(placed(s.number, x, MitigationPhase::Applied, 1000));
            }
        }
        let ends = |ns: &str| -> Vec<(String, String)> {
            let dropped: BTreeMap<(String, String), String> = [(
                (ns.to_string(), "m-web-ingress".to_string()),
                "flow".to_string(),
            )]
            .into();
            next(Some(&p), &all, &dropped, T, 2000, &none)
                .moves
                .iter()
                .filter_map(|m| match m {
                    Move::End {
                        namespace, name, ..
                    } => Some((namespace.clone(), name.clone())),
                    Move::Enact { .. } => None,
                })
                .collect()
        };
        let owned = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
                .collect()
        };
        assert_eq!(
            ends("other"),
            owned(&[
                ("other", "m-default-deny"),
                ("other", "m-web-egress"),
                ("other", "m-web-ingress")
            ])
        );
        assert_eq!(
            ends("shop"),
            owned(&[
                ("shop", "m-default-deny"),
                ("shop", "m-web-egress"),
                ("shop", "m-web-ingress")
            ])
        );
    }

    #[test]
    fn a_failing_apply_backs_off() {
        let p = plan(100);
        let mut failed = placed(1, &p.steps[0].policies[0], MitigationPhase::Failed, 1000);
        failed.ended_at = Some(1000);
        let r = next(
            Some(&p),
            &[failed.clone()],
            &BTreeMap::new(),
            T,
            1030,
            &none,
        );
        assert_eq!(
            enacted(&r),
            [(1, "db-ingress".to_string())],
            "the other one goes on"
        );
        assert_eq!(
            enacted(&next(
                Some(&p),
                &[failed.clone()],
                &BTreeMap::new(),
                T,
                1060,
                &none
            ))
            .len(),
            2
        );
        let mut again = failed.clone();
        again.ended_at = Some(1060);
        let twice = [failed, again];
        assert_eq!(
            enacted(&next(Some(&p), &twice, &BTreeMap::new(), T, 1150, &none)).len(),
            1
        );
        assert_eq!(
            enacted(&next(Some(&p), &twice, &BTreeMap::new(), T, 1180, &none)).len(),
            2
        );
    }

    #[test]
    fn skipped_policies_neither_block_nor_get_applied() {
        let mut p = plan(100);
        p.steps[0]
            .policies
            .push(policy("rampart-system", "engine-ingress", 8080));
        let skip = |x: &PlannedPolicy| x.namespace == "rampart-system";
        let r = next(Some(&p), &[], &BTreeMap::new(), T, 1000, &skip);
        assert_eq!(enacted(&r).len(), 2);
        let s1: Vec<Placed> = p.steps[0].policies[..2]
            .iter()
            .map(|x| placed(1, x, MitigationPhase::Applied, 1000))
            .collect();
        let r = next(Some(&p), &s1, &BTreeMap::new(), T, 1600, &skip);
        assert_eq!(r.progress.applied, [1]);
        assert_eq!(enacted(&r), [(2, "web-egress".to_string())]);
    }
}
