//! The action bar: when may rampart act on its own? Acting needs proof **and** (corroboration
//! **or** an affirmative judgement) — or proof alone when the operator said so explicitly — a
//! reversible action of an enabled class, production kept alive, a target that is neither
//! rampart nor a protected namespace, and room in the circuit breaker. Everything else is a
//! proposal, with the reason.

use std::collections::{BTreeSet, VecDeque};

/// Classes of action, enabled one at a time. There is deliberately no class for container
/// escapes: they are never acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionClass {
    /// Network denies.
    Network,
    /// RBAC narrowing.
    Rbac,
    /// Secret mount removal.
    Mount,
    /// Token automount changes.
    Identity,
    /// Isolate or terminate infected pods.
    Pod,
    /// Let the model's judgement cut a proven foothold.
    Judgement,
    /// Roll out the least-privilege NetworkPolicies proven from observed flows, step by step.
    Netpol,
}

impl ActionClass {
    /// Parses `network`, `rbac`, `mount`, `identity`, `pod`, `judgement`, `netpol`.
    pub fn parse(s: &str) -> Result<ActionClass, String> {
        Ok(match s.trim() {
            "network" => ActionClass::Network,
            "rbac" => ActionClass::Rbac,
            "mount" => ActionClass::Mount,
            "identity" => ActionClass::Identity,
            "pod" => ActionClass::Pod,
            "judgement" => ActionClass::Judgement,
            "netpol" => ActionClass::Netpol,
            "escape" => return Err("escape actions can never be enabled".into()),
            other => {
                return Err(format!(
                    "unknown action class {other:?} (network, rbac, mount, identity, pod, judgement, netpol)"
                ));
            }
        })
    }
}

/// How sure the chain behind a proposal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confidence {
    /// Every precondition is in the configuration.
    Proven,
    /// A runtime signal shows a step being walked.
    Corroborated,
    /// The model judges a step exploitable.
    Judged,
}

/// Settings of the bar.
#[derive(Debug, Clone)]
pub struct BarConfig {
    /// Enabled classes (empty: shadow mode).
    pub enabled: BTreeSet<ActionClass>,
    /// Act on proof alone (the operator's explicit `--act-on-proof`).
    pub act_on_proof: bool,
    /// Namespaces never touched (always includes `kube-system` and rampart's own).
    pub protected_namespaces: BTreeSet<String>,
    /// Ready replicas that must remain after an action, whatever the PDB says.
    pub min_ready: u32,
}

/// One candidate action.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// Its class.
    pub class: ActionClass,
    /// Confidence of the chain it cuts.
    pub confidence: Confidence,
    /// Whether it can be undone (every mitigation must be).
    pub reversible: bool,
    /// Namespace of the target.
    pub namespace: String,
    /// Whether the target is rampart itself.
    pub targets_rampart: bool,
    /// Ready replicas of the target workload after the action (unchanged for network actions).
    pub ready_after: u32,
    /// What its PodDisruptionBudget requires to stay available (absolute, already resolved from
    /// a percentage by rounding up), if any.
    pub pdb_min_available: Option<u32>,
}

/// Why the bar said no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// The class is not enabled (shadow mode for it).
    ClassDisabled,
    /// Proof alone without `--act-on-proof`, or a judgement without the judgement class.
    NeedsCorroboration,
    /// Not reversible.
    Irreversible,
    /// rampart or a protected namespace.
    Protected,
    /// Would leave fewer ready replicas than required.
    Availability {
        /// Ready after the action.
        after: u32,
        /// Required.
        required: u32,
    },
    /// Too many actions in the breaker's window.
    CircuitOpen,
    /// Too many actions on this workload in the breaker's window.
    WorkloadCircuitOpen,
    /// A pod no controller replaces, without the operator's explicit permission.
    Standalone,
    /// The action would not do what it says (a NetworkPolicy quarantine of a host-network pod).
    Ineffective,
    /// What the guard needs (PodDisruptionBudgets) is not listed yet.
    NotSynced,
    /// The arming ladder holds the class at this stage here (`Shadow` or `Propose`).
    Arming(rampart_api::Stage),
    /// The cut's mitigation expired: it stays proposed until the cool-down ends (Unix
    /// seconds), then the bar judges it again like a new action.
    CoolingDown {
        /// When the cool-down ends.
        until: u64,
    },
}

/// The bar's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Act now (and record the action in the breaker).
    Act,
    /// Propose only, with the reason.
    Propose(Hold),
}

/// At most `max` actions per `window` seconds.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    max: usize,
    window: u64,
    recent: VecDeque<u64>,
}

impl CircuitBreaker {
    /// A breaker allowing `max` actions per `window` seconds.
    pub fn new(max: usize, window: u64) -> CircuitBreaker {
        CircuitBreaker {
            max,
            window,
            recent: VecDeque::new(),
        }
    }
    fn expire(&mut self, now: u64) {
        while self
            .recent
            .front()
            .is_some_and(|t| now.saturating_sub(*t) >= self.window)
        {
            self.recent.pop_front();
        }
    }
    /// Whether one more action fits at `now`.
    pub fn allows(&mut self, now: u64) -> bool {
        self.expire(now);
        self.recent.len() < self.max
    }
    /// Records an action at `now`.
    pub fn record(&mut self, now: u64) {
        self.recent.push_back(now);
    }
}

/// Decides one proposal at `now`; an `Act` verdict is recorded in the breaker.
pub fn decide(cfg: &BarConfig, p: &Proposal, breaker: &mut CircuitBreaker, now: u64) -> Verdict {
    if !cfg.enabled.contains(&p.class) {
        return Verdict::Propose(Hold::ClassDisabled);
    }
    decide_armed(cfg, p, breaker, now)
}

/// [`decide`] as if the proposal's class were enabled: what the bar would do were `--enable`
/// (or the arming ladder) not holding the class back — the shadow history's question.
pub fn decide_armed(
    cfg: &BarConfig,
    p: &Proposal,
    breaker: &mut CircuitBreaker,
    now: u64,
) -> Verdict {
    use Verdict::Propose;
    if !p.reversible {
        return Propose(Hold::Irreversible);
    }
    if p.targets_rampart
        || cfg.protected_namespaces.contains(&p.namespace)
        || p.namespace == "kube-system"
    {
        return Propose(Hold::Protected);
    }
    let corroborated = match p.confidence {
        Confidence::Corroborated => true,
        // A judgement never makes the bar stricter than proof alone: with `--act-on-proof`
        // a judged chain acts like a proven one, so without the judgement class no verdict
        // changes what rampart does.
        Confidence::Judged => cfg.enabled.contains(&ActionClass::Judgement) || cfg.act_on_proof,
        Confidence::Proven => cfg.act_on_proof,
    };
    if !corroborated {
        return Propose(Hold::NeedsCorroboration);
    }
    let required = p.pdb_min_available.unwrap_or(0).max(cfg.min_ready).max(1);
    if p.ready_after < required {
        return Propose(Hold::Availability {
            after: p.ready_after,
            required,
        });
    }
    if !breaker.allows(now) {
        return Propose(Hold::CircuitOpen);
    }
    breaker.record(now);
    Verdict::Act
}

/// A PodDisruptionBudget's `minAvailable` / `maxUnavailable` as an absolute minimum of ready
/// replicas, for `desired` replicas. `minAvailable` percentages round up, as the disruption
/// controller does; `maxUnavailable` percentages round *down* — stricter than the controller,
/// which rounds them up — so the guard is never looser than the PDB.
pub fn pdb_min_available(
    min_available: Option<&str>,
    max_unavailable: Option<&str>,
    desired: u32,
) -> Option<u32> {
    let pct = |s: &str| -> Option<f64> { s.strip_suffix('%')?.trim().parse::<f64>().ok() };
    if let Some(m) = min_available {
        return Some(match pct(m) {
            Some(p) => ((f64::from(desired) * p / 100.0).ceil() as u32).min(desired),
            None => m.trim().parse().ok()?,
        });
    }
    if let Some(m) = max_unavailable {
        let unavailable = match pct(m) {
            Some(p) => (f64::from(desired) * p / 100.0).floor() as u32,
            None => m.trim().parse().ok()?,
        };
        return Some(desired.saturating_sub(unavailable));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(classes: &[ActionClass], act_on_proof: bool) -> BarConfig {
        BarConfig {
            enabled: classes.iter().copied().collect(),
            act_on_proof,
            protected_namespaces: ["rampart-system".to_string()].into(),
            min_ready: 1,
        }
    }

    fn proposal() -> Proposal {
        Proposal {
            class: ActionClass::Network,
            confidence: Confidence::Proven,
            reversible: true,
            namespace: "shop".into(),
            targets_rampart: false,
            ready_after: 3,
            pdb_min_available: Some(2),
        }
    }

    #[test]
    fn shadow_first_and_the_asymmetric_bar() {
        let mut b = CircuitBreaker::new(10, 60);
        assert_eq!(
            decide(&cfg(&[], true), &proposal(), &mut b, 0),
            Verdict::Propose(Hold::ClassDisabled)
        );
        assert_eq!(
            decide(&cfg(&[ActionClass::Network], false), &proposal(), &mut b, 0),
            Verdict::Propose(Hold::NeedsCorroboration)
        );
        assert_eq!(
            decide(&cfg(&[ActionClass::Network], true), &proposal(), &mut b, 0),
            Verdict::Act
        );
        let mut c = proposal();
        c.confidence = Confidence::Corroborated;
        assert_eq!(
            decide(&cfg(&[ActionClass::Network], false), &c, &mut b, 0),
            Verdict::Act
        );
        c.confidence = Confidence::Judged;
        assert_eq!(
            decide(&cfg(&[ActionClass::Network], false), &c, &mut b, 0),
            Verdict::Propose(Hold::NeedsCorroboration)
        );
        assert_eq!(
            decide(
                &cfg(&[ActionClass::Network, ActionClass::Judgement], false),
                &c,
                &mut b,
                0
            ),
            Verdict::Act
        );
    }

    #[test]
    fn protected_targets_irreversible_actions_and_availability() {
        let on = cfg(&[ActionClass::Network, ActionClass::Pod], true);
        let mut b = CircuitBreaker::new(10, 60);
        for ns in ["kube-system", "rampart-system"] {
            let mut p = proposal();
            p.namespace = ns.into();
            assert_eq!(
                decide(&on, &p, &mut b, 0),
                Verdict::Propose(Hold::Protected)
            );
        }
        let mut p = proposal();
        p.targets_rampart = true;
        assert_eq!(
            decide(&on, &p, &mut b, 0),
            Verdict::Propose(Hold::Protected)
        );
        let mut p = proposal();
        p.reversible = false;
        assert_eq!(
            decide(&on, &p, &mut b, 0),
            Verdict::Propose(Hold::Irreversible)
        );
        let mut p = proposal();
        p.class = ActionClass::Pod;
        p.ready_after = 1;
        assert_eq!(
            decide(&on, &p, &mut b, 0),
            Verdict::Propose(Hold::Availability {
                after: 1,
                required: 2
            })
        );
        p.pdb_min_available = None;
        p.ready_after = 0;
        assert_eq!(
            decide(&on, &p, &mut b, 0),
            Verdict::Propose(Hold::Availability {
                after: 0,
                required: 1
            })
        );
        assert!(ActionClass::parse("escape").is_err());
    }

    #[test]
    fn the_breaker_opens_and_closes_with_time() {
        let on = cfg(&[ActionClass::Network], true);
        let mut b = CircuitBreaker::new(2, 60);
        assert_eq!(decide(&on, &proposal(), &mut b, 0), Verdict::Act);
        assert_eq!(decide(&on, &proposal(), &mut b, 10), Verdict::Act);
        assert_eq!(
            decide(&on, &proposal(), &mut b, 20),
            Verdict::Propose(Hold::CircuitOpen)
        );
        assert_eq!(
            decide(&on, &proposal(), &mut b, 60),
            Verdict::Act,
            "the first action left the window"
        );
    }

    #[test]
    fn pdb_percentages_are_percentages() {
        assert_eq!(pdb_min_available(Some("50%"), None, 3), Some(2));
        assert_eq!(pdb_min_available(Some("2"), None, 3), Some(2));
        assert_eq!(pdb_min_available(None, Some("34%"), 3), Some(2));
        assert_eq!(pdb_min_available(None, Some("1"), 3), Some(2));
        assert_eq!(pdb_min_available(Some("100%"), None, 4), Some(4));
        assert_eq!(pdb_min_available(None, None, 3), None);
        assert_eq!(pdb_min_available(Some("x%"), None, 3), None);
    }
}
