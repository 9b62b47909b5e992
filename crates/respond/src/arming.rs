//! The arming ladder, decided: which stage a class is at in a namespace ([`Ladder`]), and the
//! evidence for moving it up — what the engine would have done while held back
//! ([`ShadowLog`]): how often, examples, and how each would-be action ended.

use std::collections::{BTreeMap, VecDeque};

use rampart_api::{ArmingPolicy, Stage};
use rampart_model::Labels;
use rampart_model::selector::LabelSelector;
use serde::Serialize;

use crate::bar::ActionClass;

/// One rule, ready to match.
#[derive(Debug, Clone)]
struct Rung {
    classes: Vec<ActionClass>,
    namespaces: Vec<String>,
    selector: Option<LabelSelector>,
    stage: Stage,
}

/// The rules of every ArmingPolicy, in force order (policy name, then rule order).
#[derive(Debug, Clone, Default)]
pub struct Ladder {
    rungs: Vec<Rung>,
    /// How many policies it came from.
    pub policies: usize,
}

impl Ladder {
    /// The ladder of the policies as listed. Rules the webhook would have refused (an unknown
    /// class, a selector that does not convert) are skipped — and a skipped rule can only make
    /// the ladder fall through to a later rule or the default, never past `--enable`.
    pub fn of(policies: &[ArmingPolicy]) -> Ladder {
        let mut sorted: Vec<&ArmingPolicy> = policies.iter().collect();
        sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let mut rungs = Vec::new();
        for p in &sorted {
            for r in &p.spec.rules {
                let classes: Option<Vec<ActionClass>> = r
                    .classes
                    .iter()
                    .map(|c| ActionClass::parse(c).ok())
                    .collect();
                let selector = match &r.namespace_selector {
                    Some(s) => match serde_json::to_value(s)
                        .ok()
                        .and_then(|v| serde_json::from_value::<LabelSelector>(v).ok())
                    {
                        Some(s) => Some(s),
                        None => continue,
                    },
                    None => None,
                };
                let Some(classes) = classes else { continue };
                rungs.push(Rung {
                    classes,
                    namespaces: r.namespaces.clone(),
                    selector,
                    stage: r.stage,
                });
            }
        }
        Ladder {
            rungs,
            policies: sorted.len(),
        }
    }

    /// Whether any policy is in force (without one, an enabled class acts as `--enable` says).
    pub fn is_empty(&self) -> bool {
        self.rungs.is_empty()
    }

    /// The stage of `class` in `namespace` (with its labels): the first matching rule's; none
    /// when no rule matches.
    pub fn stage(&self, class: ActionClass, namespace: &str, labels: &Labels) -> Option<Stage> {
        self.rungs
            .iter()
            .find(|r| {
                (r.classes.is_empty() || r.classes.contains(&class))
                    && (r.namespaces.is_empty()
                        || r.namespaces
                            .iter()
                            .any(|n| rampart_api::glob_match(n, namespace)))
                    && r.selector.as_ref().is_none_or(|s| s.matches(labels))
            })
            .map(|r| r.stage)
    }
}

/// How a would-be action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Still standing: the bar would still act.
    Open,
    /// It would have lived its whole lifetime and reverted itself.
    Expired,
    /// Its cut left the plan (a durable fix landed, or the cluster changed around it).
    Obsolete,
    /// The cut stayed but the bar stopped wanting it (its evidence did not hold): it would
    /// have been reverted as a false alarm.
    False,
}

/// One would-be action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Episode {
    pub class: ActionClass,
    pub cut: String,
    pub namespace: String,
    /// What it would have applied.
    pub fix: String,
    /// Why it was held back (`shadow`, `propose`, `class disabled`).
    pub held: String,
    /// When it started and last held (Unix seconds).
    pub from: u64,
    pub until: u64,
    pub outcome: Outcome,
}

/// What the engine would have done, per class, over a window: counts by outcome and the
/// latest examples.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClassHistory {
    pub would_act: usize,
    pub open: usize,
    pub expired: usize,
    pub obsolete: usize,
    /// Would have been reverted as false alarms.
    pub false_alarms: usize,
    /// The latest few.
    pub examples: Vec<Episode>,
}

/// Most episodes kept (the oldest go first).
pub const MAX_EPISODES: usize = 10_000;
/// Examples shown per class.
pub const EXAMPLES: usize = 5;

/// Would-be actions, kept in memory for a window.
#[derive(Debug, Clone, Default)]
pub struct ShadowLog {
    episodes: VecDeque<Episode>,
    /// The cuts (or rollout policies) wanted in the current round of each class: classes
    /// decide in rounds of their own (the cuts on a re-proof, the rollout after a plan).
    seen_this_round: Vec<(ActionClass, String)>,
    /// Episodes started, in all (a view of the history is stale when it moved).
    started: u64,
}

impl ShadowLog {
    /// Episodes started so far.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// Starts a round of decisions for `class`.
    pub fn begin(&mut self, class: ActionClass) {
        self.seen_this_round.retain(|(c, _)| *c != class);
    }

    /// The bar would act on `cut` but the stage holds it back.
    pub fn would_act(
        &mut self,
        class: ActionClass,
        cut: &str,
        namespace: &str,
        fix: &str,
        held: &str,
        now: u64,
    ) {
        self.seen_this_round.push((class, cut.to_string()));
        if let Some(e) = self
            .episodes
            .iter_mut()
            .rev()
            .find(|e| e.class == class && e.cut == cut && e.outcome == Outcome::Open)
        {
            e.until = now;
            return;
        }
        if self.episodes.len() >= MAX_EPISODES {
            self.episodes.pop_front();
        }
        self.started += 1;
        self.episodes.push_back(Episode {
            class,
            cut: cut.to_string(),
            namespace: namespace.to_string(),
            fix: fix.chars().take(300).collect(),
            held: held.to_string(),
            from: now,
            until: now,
            outcome: Outcome::Open,
        });
    }

    /// Ends `class`'s round: its open episodes whose cut is still live but was not wanted
    /// this round are false alarms; whose cut left the plan, obsolete; older than `ttl`,
    /// expired.
    pub fn end(&mut self, class: ActionClass, live_cuts: &[&str], ttl: u64, now: u64) {
        for e in self
            .episodes
            .iter_mut()
            .filter(|e| e.class == class && e.outcome == Outcome::Open)
        {
            if now.saturating_sub(e.from) >= ttl {
                e.outcome = Outcome::Expired;
                e.until = e.from.saturating_add(ttl);
            } else if !live_cuts.contains(&e.cut.as_str()) {
                e.outcome = Outcome::Obsolete;
            } else if !self
                .seen_this_round
                .iter()
                .any(|(c, cut)| *c == class && *cut == e.cut)
            {
                e.outcome = Outcome::False;
            }
        }
    }

    /// Per class, the episodes that started within `window` seconds before `now`.
    pub fn history(&self, window: u64, now: u64) -> BTreeMap<ActionClass, ClassHistory> {
        let mut out: BTreeMap<ActionClass, ClassHistory> = BTreeMap::new();
        for e in self
            .episodes
            .iter()
            .filter(|e| now.saturating_sub(e.from) <= window)
        {
            let h = out.entry(e.class).or_default();
            h.would_act += 1;
            match e.outcome {
                Outcome::Open => h.open += 1,
                Outcome::Expired => h.expired += 1,
                Outcome::Obsolete => h.obsolete += 1,
                Outcome::False => h.false_alarms += 1,
            }
        }
        for (class, h) in &mut out {
            h.examples = self
                .episodes
                .iter()
                .rev()
                .filter(|e| e.class == *class && now.saturating_sub(e.from) <= window)
                .take(EXAMPLES)
                .cloned()
                .collect();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_api::ArmingPolicySpec;

    fn policy(name: &str, rules: serde_json::Value) -> ArmingPolicy {
        let spec: ArmingPolicySpec =
            serde_json::from_value(serde_json::json!({ "rules": rules })).unwrap_or_default();
        ArmingPolicy::new(name, spec)
    }

    #[test]
    fn the_first_matching_rule_decides_in_policy_name_order() {
        let ladder = Ladder::of(&[
            policy("b-rest", serde_json::json!([{"stage": "shadow"}])),
            policy(
                "a-teams",
                serde_json::json!([
                    {"classes": ["network"], "namespaces": ["payments"], "stage": "actWithApproval"},
                    {"classes": ["network"], "namespaces": ["staging-*"], "stage": "act"},
                    {"namespaceSelector": {"matchLabels": {"tier": "dev"}}, "stage": "propose"},
                    {"classes": ["no-such-class"], "stage": "act"}
                ]),
            ),
        ]);
        let none = Labels::new();
        let mut dev = Labels::new();
        dev.insert("tier".to_string(), "dev".to_string());
        assert_eq!(ladder.policies, 2);
        assert_eq!(
            ladder.stage(ActionClass::Network, "payments", &none),
            Some(Stage::ActWithApproval)
        );
        assert_eq!(
            ladder.stage(ActionClass::Network, "staging-eu", &none),
            Some(Stage::Act)
        );
        assert_eq!(
            ladder.stage(ActionClass::Pod, "payments", &dev),
            Some(Stage::Propose)
        );
        assert_eq!(
            ladder.stage(ActionClass::Pod, "payments", &none),
            Some(Stage::Shadow),
            "the next policy's catch-all"
        );
        assert!(
            Ladder::of(&[])
                .stage(ActionClass::Network, "x", &none)
                .is_none()
        );
    }

    #[test]
    fn the_api_names_every_class_the_bar_knows() {
        for c in rampart_api::ACTION_CLASSES {
            assert!(ActionClass::parse(c).is_ok(), "{c}");
        }
    }

    #[test]
    fn would_be_actions_end_as_expired_obsolete_or_false() {
        let mut log = ShadowLog::default();
        let n = ActionClass::Network;
        log.begin(n);
        for cut in ["a", "b", "c"] {
            log.would_act(n, cut, "shop", "deny", "shadow", 100);
        }
        log.end(n, &["a", "b", "c"], 3600, 100);
        // b: the cut left the plan; c: still live but no longer wanted.
        log.begin(n);
        log.would_act(n, "a", "shop", "deny", "shadow", 200);
        log.end(n, &["a", "c"], 3600, 200);
        // a: lives past its lifetime.
        log.begin(n);
        log.would_act(n, "a", "shop", "deny", "shadow", 4000);
        log.end(n, &["a", "c"], 3600, 4000);
        let h = &log.history(86_400, 4000)[&n];
        assert_eq!(
            (h.would_act, h.expired, h.obsolete, h.false_alarms, h.open),
            (3, 1, 1, 1, 0)
        );
        assert_eq!(h.examples.len(), 3);
        // Outside the window: forgotten.
        assert!(log.history(100, 100_000).is_empty());
        // A new episode for the same cut after the last ended.
        log.begin(n);
        log.would_act(n, "a", "shop", "deny", "shadow", 5000);
        log.end(n, &["a"], 3600, 5000);
        assert_eq!(log.history(86_400, 5000)[&n].open, 1);
    }
}
