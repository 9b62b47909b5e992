//! Infected pods (DESIGN.md "teflon"): which runtime observations call for isolating or
//! terminating a pod, and whether the bar allows it now.
//!
//! * **isolate**: the pod's labels move aside (kept in an annotation for forensics) so its
//!   controller's and its Services' selectors no longer match — the controller starts a
//!   replacement and traffic moves — and a deny-all NetworkPolicy selects the quarantine label;
//!   on expiry the quarantined pod is deleted.
//! * **terminate**: the pod is deleted; its controller recreates it.
//!
//! Availability is counted *after* the action: the pod stops serving at once (isolated or
//! deleted) while its replacement is not ready yet. Standalone pods (no controller replaces
//! them) are left alone unless the operator allows it. Each workload has its own circuit
//! breaker besides the global one.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use rampart_signals::falco::Priority;
use rampart_signals::observe::{Observation, Origin};

use crate::bar::{
    self, ActionClass, BarConfig, CircuitBreaker, Confidence, Hold, Proposal, Verdict,
};

pub use rampart_signals::observe::QUARANTINE_LABEL;
/// Annotation keeping the labels a quarantine removed (JSON object).
pub const QUARANTINED_LABELS: &str = "rampart.dev/quarantined-labels";

/// What to do with an infected pod.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PodAction {
    /// Relabel out of selectors, deny-all NetworkPolicy, delete on expiry.
    Isolate,
    /// Delete now; the controller recreates it.
    Terminate,
}

impl PodAction {
    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            PodAction::Isolate => "isolate",
            PodAction::Terminate => "terminate",
        }
    }
}

/// One mapping entry: every condition given must hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// Falco rule name (ignoring case).
    #[serde(default)]
    rule: Option<String>,
    /// Tags the alert must all carry.
    #[serde(default)]
    tags: Vec<String>,
    /// Behaviour name (as in the behaviour mapping).
    #[serde(default)]
    behaviour: Option<String>,
    /// Least severe Falco priority that triggers it.
    #[serde(default)]
    min_priority: Option<String>,
    action: PodAction,
}

/// A bad response mapping.
#[derive(Debug, thiserror::Error)]
pub enum ResponseMappingError {
    /// Not YAML of the expected shape.
    #[error("response mapping: {0}")]
    Syntax(String),
    /// An unknown priority.
    #[error("response mapping: unknown priority {0:?}")]
    Priority(String),
}

/// Observations → pod actions, first matching entry wins.
#[derive(Debug, Clone)]
pub struct ResponseMapping(Vec<(Entry, Option<Priority>)>);

/// The default: isolate on a shell, drift, privilege escalation or unexpected outbound
/// traffic; terminate a crypto-miner (nothing worth keeping for forensics).
pub const DEFAULT_RESPONSES: &str = "\
# Observations → pod actions (isolate | terminate); the first entry whose conditions all hold
# wins. Conditions: rule (Falco rule name), tags (all present), behaviour, min_priority.
- {behaviour: crypto_mining, action: terminate}
- {behaviour: shell_in_container, action: isolate}
- {behaviour: drift, action: isolate}
- {behaviour: privilege_escalation, action: isolate}
- {behaviour: unexpected_outbound, min_priority: Warning, action: isolate}
";

impl Default for ResponseMapping {
    fn default() -> Self {
        ResponseMapping::from_yaml(DEFAULT_RESPONSES).unwrap_or(ResponseMapping(Vec::new()))
    }
}

impl ResponseMapping {
    /// Reads a mapping (a YAML list of entries).
    pub fn from_yaml(text: &str) -> Result<ResponseMapping, ResponseMappingError> {
        let entries: Vec<Entry> = serde_saphyr::from_str(text)
            .map_err(|e| ResponseMappingError::Syntax(e.to_string()))?;
        entries
            .into_iter()
            .map(|e| {
                let p = match &e.min_priority {
                    Some(p) => Some(
                        Priority::parse(p)
                            .ok_or_else(|| ResponseMappingError::Priority(p.clone()))?,
                    ),
                    None => None,
                };
                Ok((e, p))
            })
            .collect::<Result<_, _>>()
            .map(ResponseMapping)
    }

    /// The action an observation calls for, if any. Only pod observations from Falco or the
    /// request guard qualify (an audit read names an identity, not a pod to act on); a guard
    /// event matches by its rule name (`rampart guard compromise`, `rampart guard request
    /// anomaly`), behaviour and priority, and carries no tags.
    pub fn action_for(&self, o: &Observation) -> Option<PodAction> {
        let (rule, priority, tags): (&str, &Priority, &[String]) = match &o.origin {
            Origin::Falco {
                rule,
                priority,
                tags,
            } => (rule, priority, tags),
            Origin::Guard { kind, priority, .. } => (kind.rule(), priority, &[]),
            Origin::Audit { .. } => return None,
        };
        self.0
            .iter()
            .find(|(e, min)| {
                e.rule.as_ref().is_none_or(|r| r.eq_ignore_ascii_case(rule))
                    && e.tags.iter().all(|t| tags.contains(t))
                    && e
                        .behaviour
                        .as_deref()
                        .is_none_or(|b| b == o.behaviour.as_str() || (b == "secret_read" && o.behaviour.as_str() == "secret_read_mounted"))
                    // Priorities order most severe first.
                    && min.is_none_or(|m| *priority <= m)
            })
            .map(|(e, _)| e.action)
    }
}

/// What the guard needs to know about a pod and its workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFacts {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// `ns/name[Kind]` of its controller; `None` for a standalone pod.
    pub workload: Option<String>,
    /// Ready pods of the workload now (this one included when ready).
    pub ready: u32,
    /// Whether this pod is ready.
    pub pod_ready: bool,
    /// Desired replicas.
    pub desired: u32,
    /// What its PodDisruptionBudget requires (resolved with [`bar::pdb_min_available`]).
    pub pdb_min_available: Option<u32>,
    /// Whether it is rampart itself.
    pub rampart: bool,
    /// Whether it shares its node's network (NetworkPolicies do not apply to it).
    pub host_network: bool,
}

/// The bar for pod actions, with a circuit breaker per workload besides the global one.
#[derive(Debug, Clone)]
pub struct Responder {
    global: CircuitBreaker,
    per_workload: BTreeMap<String, CircuitBreaker>,
    per_workload_max: usize,
    window: u64,
    allow_standalone: bool,
}

impl Responder {
    /// At most `global_max` pod actions per `window` seconds, `per_workload_max` per workload;
    /// standalone pods only when `allow_standalone`.
    pub fn new(
        global_max: usize,
        per_workload_max: usize,
        window: u64,
        allow_standalone: bool,
    ) -> Responder {
        Responder {
            global: CircuitBreaker::new(global_max, window),
            per_workload: BTreeMap::new(),
            per_workload_max,
            window,
            allow_standalone,
        }
    }

    /// Decides one pod action at `now`. An `Act` is recorded in both breakers only when it
    /// will be written (`writes`): shadow verdicts never use up a real action's room.
    pub fn decide(
        &mut self,
        cfg: &BarConfig,
        f: &PodFacts,
        action: PodAction,
        now: u64,
        writes: bool,
    ) -> Verdict {
        if !cfg.enabled.contains(&ActionClass::Pod) {
            return Verdict::Propose(Hold::ClassDisabled);
        }
        if action == PodAction::Isolate && f.host_network {
            return Verdict::Propose(Hold::Ineffective);
        }
        let key = match &f.workload {
            Some(w) => w.clone(),
            None if self.allow_standalone => format!("{}/{}[Pod]", f.namespace, f.pod),
            None => return Verdict::Propose(Hold::Standalone),
        };
        let (max, window) = (self.per_workload_max, self.window);
        let per = self
            .per_workload
            .entry(key)
            .or_insert_with(|| CircuitBreaker::new(max, window));
        if !per.allows(now) {
            return Verdict::Propose(Hold::WorkloadCircuitOpen);
        }
        let proposal = Proposal {
            class: ActionClass::Pod,
            // The alert itself is the runtime evidence.
            confidence: Confidence::Corroborated,
            reversible: true,
            namespace: f.namespace.clone(),
            targets_rampart: f.rampart,
            ready_after: if f.workload.is_none() {
                // Allowed explicitly: nothing replaces it, taking it down is the point.
                u32::MAX
            } else {
                f.ready.saturating_sub(u32::from(f.pod_ready))
            },
            pdb_min_available: f.pdb_min_available,
        };
        let mut scratch = self.global.clone();
        let global = if writes {
            &mut self.global
        } else {
            &mut scratch
        };
        let v = bar::decide(cfg, &proposal, global, now);
        if v == Verdict::Act && writes {
            per.record(now);
        }
        v
    }
}

/// The deny-all NetworkPolicy selecting a quarantined pod.
pub fn quarantine_policy(namespace: &str, pod: &str, mitigation: &str) -> Value {
    // A pod name of up to 253 characters does not fit after the prefix: the helper cuts it and
    // appends a hash of the whole, so two long pod names never share a policy.
    let name =
        rampart_model::names::dns_subdomain(&format!("rampart-quarantine-{pod}"), 63).into_owned();
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "rampart"},
            "annotations": {"rampart.dev/reason": format!("quarantine of infected pod {namespace}/{pod}")},
        },
        "spec": {
            "podSelector": {"matchLabels": {QUARANTINE_LABEL: mitigation}},
            "policyTypes": ["Ingress", "Egress"],
        },
    })
}

/// The JSON merge patch that moves a pod's labels aside: every label is removed (so no
/// controller or Service selector matches any more — the controller starts a replacement and
/// Endpoints drop the pod), the quarantine label added, the old labels kept in an annotation.
///
/// The pod's owner becomes the Mitigation (its controller releases it anyway once the labels
/// stop matching): deleting the record deletes the quarantined pod, never leaving it untracked.
pub fn quarantine_patch(
    labels: &BTreeMap<String, String>,
    controller: Option<&str>,
    mitigation: &str,
    mitigation_uid: &str,
) -> Value {
    let mut l = serde_json::Map::new();
    for k in labels.keys().filter(|k| k.as_str() != QUARANTINE_LABEL) {
        l.insert(k.clone(), Value::Null);
    }
    l.insert(QUARANTINE_LABEL.into(), mitigation.into());
    let kept: BTreeMap<&String, &String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != QUARANTINE_LABEL)
        .collect();
    // The controller it leaves (`Kind/name`): the evidence seen in the pod stays the
    // workload's (rampart_signals::observe::QUARANTINED_FROM).
    let mut annotations = serde_json::Map::new();
    annotations.insert(
        QUARANTINED_LABELS.into(),
        serde_json::to_string(&kept).unwrap_or_default().into(),
    );
    if let Some(c) = controller {
        annotations.insert(rampart_signals::observe::QUARANTINED_FROM.into(), c.into());
    }
    json!({"metadata": {
        "labels": l,
        "annotations": annotations,
        "ownerReferences": [{
            "apiVersion": "rampart.dev/v1alpha1",
            "kind": "Mitigation",
            "name": mitigation,
            "uid": mitigation_uid,
        }],
    }})
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_signals::behaviour::Behaviour;
    use rampart_signals::observe::Subject;

    fn cfg(pod: bool) -> BarConfig {
        BarConfig {
            enabled: if pod {
                [ActionClass::Pod].into()
            } else {
                Default::default()
            },
            act_on_proof: false,
            protected_namespaces: ["kube-system".to_string(), "rampart-system".to_string()].into(),
            min_ready: 1,
        }
    }

    fn facts(ready: u32, desired: u32, pdb: Option<u32>) -> PodFacts {
        PodFacts {
            namespace: "shop".into(),
            pod: "web-1".into(),
            workload: Some("shop/web[Deployment]".into()),
            ready,
            pod_ready: true,
            desired,
            pdb_min_available: pdb,
            rampart: false,
            host_network: false,
        }
    }

    #[test]
    fn shadow_by_default() {
        let mut r = Responder::new(10, 2, 600, false);
        assert_eq!(
            r.decide(&cfg(false), &facts(3, 3, None), PodAction::Isolate, 0, true),
            Verdict::Propose(Hold::ClassDisabled)
        );
    }

    #[test]
    fn the_last_ready_replica_is_never_taken() {
        let mut r = Responder::new(10, 2, 600, false);
        assert_eq!(
            r.decide(&cfg(true), &facts(1, 1, None), PodAction::Isolate, 0, true),
            Verdict::Propose(Hold::Availability {
                after: 0,
                required: 1
            })
        );
        assert_eq!(
            r.decide(&cfg(true), &facts(2, 2, None), PodAction::Isolate, 0, true),
            Verdict::Act
        );
        // An unready infected pod costs no ready replica.
        let mut f = facts(1, 2, None);
        f.pod_ready = false;
        assert_eq!(
            r.decide(&cfg(true), &f, PodAction::Isolate, 0, true),
            Verdict::Act
        );
    }

    #[test]
    fn pdb_percentages_count_after_the_action() {
        let mut r = Responder::new(10, 10, 600, false);
        // 4 desired, minAvailable 75% → 3 must stay; 4 ready → 3 after: allowed.
        let pdb = bar::pdb_min_available(Some("75%"), None, 4);
        assert_eq!(pdb, Some(3));
        assert_eq!(
            r.decide(&cfg(true), &facts(4, 4, pdb), PodAction::Isolate, 0, true),
            Verdict::Act
        );
        // 3 ready → 2 after < 3: held.
        assert_eq!(
            r.decide(&cfg(true), &facts(3, 4, pdb), PodAction::Isolate, 0, true),
            Verdict::Propose(Hold::Availability {
                after: 2,
                required: 3
            })
        );
        // maxUnavailable 30% of 5 → 1 may go (rounded down: never looser than the PDB) → 4 stay.
        let pdb = bar::pdb_min_available(None, Some("30%"), 5);
        assert_eq!(pdb, Some(4));
        assert_eq!(
            r.decide(&cfg(true), &facts(5, 5, pdb), PodAction::Isolate, 1, true),
            Verdict::Act
        );
        assert!(matches!(
            r.decide(&cfg(true), &facts(4, 5, pdb), PodAction::Isolate, 1, true),
            Verdict::Propose(Hold::Availability { .. })
        ));
    }

    #[test]
    fn standalone_pods_need_the_flag_and_protected_namespaces_are_never_touched() {
        let mut f = facts(1, 1, None);
        f.workload = None;
        assert_eq!(
            Responder::new(10, 2, 600, false).decide(&cfg(true), &f, PodAction::Isolate, 0, true),
            Verdict::Propose(Hold::Standalone)
        );
        assert_eq!(
            Responder::new(10, 2, 600, true).decide(&cfg(true), &f, PodAction::Isolate, 0, true),
            Verdict::Act
        );
        let mut sys = facts(3, 3, None);
        sys.namespace = "rampart-system".into();
        assert_eq!(
            Responder::new(10, 2, 600, false).decide(&cfg(true), &sys, PodAction::Isolate, 0, true),
            Verdict::Propose(Hold::Protected)
        );
    }

    #[test]
    fn host_network_pods_are_not_isolated_by_policy_and_shadow_uses_no_breaker_room() {
        let mut f = facts(3, 3, None);
        f.host_network = true;
        let mut r = Responder::new(1, 1, 600, false);
        assert_eq!(
            r.decide(&cfg(true), &f, PodAction::Isolate, 0, true),
            Verdict::Propose(Hold::Ineffective)
        );
        assert_eq!(
            r.decide(&cfg(true), &f, PodAction::Terminate, 0, false),
            Verdict::Act
        );
        assert_eq!(
            r.decide(&cfg(true), &f, PodAction::Terminate, 0, false),
            Verdict::Act,
            "dry-run: no room used"
        );
        assert_eq!(
            r.decide(&cfg(true), &f, PodAction::Terminate, 0, true),
            Verdict::Act
        );
        assert_eq!(
            r.decide(&cfg(true), &f, PodAction::Terminate, 0, true),
            Verdict::Propose(Hold::WorkloadCircuitOpen)
        );
    }

    #[test]
    fn breakers_per_workload_and_global() {
        let mut r = Responder::new(3, 2, 600, false);
        assert_eq!(
            r.decide(&cfg(true), &facts(5, 5, None), PodAction::Isolate, 0, true),
            Verdict::Act
        );
        assert_eq!(
            r.decide(&cfg(true), &facts(5, 5, None), PodAction::Isolate, 1, true),
            Verdict::Act
        );
        assert_eq!(
            r.decide(&cfg(true), &facts(5, 5, None), PodAction::Isolate, 2, true),
            Verdict::Propose(Hold::WorkloadCircuitOpen)
        );
        let mut other = facts(5, 5, None);
        other.workload = Some("shop/api[Deployment]".into());
        assert_eq!(
            r.decide(&cfg(true), &other, PodAction::Isolate, 3, true),
            Verdict::Act
        );
        let mut third = facts(5, 5, None);
        third.workload = Some("shop/cart[Deployment]".into());
        assert_eq!(
            r.decide(&cfg(true), &third, PodAction::Isolate, 4, true),
            Verdict::Propose(Hold::CircuitOpen),
            "global: 3 per window"
        );
        // The window passes.
        assert_eq!(
            r.decide(
                &cfg(true),
                &facts(5, 5, None),
                PodAction::Isolate,
                700,
                true
            ),
            Verdict::Act
        );
    }

    fn falco(b: Behaviour, rule: &str, priority: Priority) -> Observation {
        Observation {
            behaviour: b,
            subject: Subject::Pod {
                namespace: "shop".into(),
                name: "web-1".into(),
            },
            origin: Origin::Falco {
                rule: rule.into(),
                priority,
                tags: vec!["container".into()],
            },
            summary: rule.into(),
        }
    }

    #[test]
    fn a_guard_compromise_isolates_and_a_request_anomaly_does_not() {
        use rampart_signals::guard::{EventKind, GuardEvent, observation};
        let event = |kind| GuardEvent {
            kind,
            namespace: "shop".into(),
            pod: "api-1".into(),
            service: "api".into(),
            reasons: BTreeMap::from([("injection".into(), 2)]),
            mode: "block".into(),
            summary: String::new(),
        };
        let m = ResponseMapping::default();
        assert_eq!(
            m.action_for(&observation(&event(EventKind::Compromise))),
            Some(PodAction::Isolate)
        );
        assert_eq!(
            m.action_for(&observation(&event(EventKind::RequestAnomaly))),
            None,
            "a refused exploit attempt is not a compromised pod"
        );
        let by_rule = ResponseMapping::from_yaml(
            "- {rule: rampart guard request anomaly, action: terminate}",
        )
        .expect("mapping");
        assert_eq!(
            by_rule.action_for(&observation(&event(EventKind::RequestAnomaly))),
            Some(PodAction::Terminate)
        );
    }

    #[test]
    fn the_mapping_picks_actions_by_behaviour_priority_rule_and_tags() {
        let m = ResponseMapping::default();
        assert_eq!(
            m.action_for(&falco(Behaviour::CryptoMining, "x", Priority::Notice)),
            Some(PodAction::Terminate)
        );
        assert_eq!(
            m.action_for(&falco(Behaviour::ShellInContainer, "x", Priority::Notice)),
            Some(PodAction::Isolate)
        );
        assert_eq!(
            m.action_for(&falco(Behaviour::UnexpectedOutbound, "x", Priority::Notice)),
            None,
            "below Warning"
        );
        assert_eq!(
            m.action_for(&falco(
                Behaviour::UnexpectedOutbound,
                "x",
                Priority::Critical
            )),
            Some(PodAction::Isolate)
        );
        assert_eq!(
            m.action_for(&falco(
                Behaviour::SensitiveFileRead,
                "x",
                Priority::Critical
            )),
            None
        );
        let custom =
            ResponseMapping::from_yaml("- {rule: My Rule, tags: [container], action: terminate}\n")
                .unwrap();
        assert_eq!(
            custom.action_for(&falco(Behaviour::Drift, "my rule", Priority::Debug)),
            Some(PodAction::Terminate)
        );
        assert_eq!(
            custom.action_for(&falco(Behaviour::Drift, "other", Priority::Debug)),
            None
        );
        assert!(ResponseMapping::from_yaml("- {action: explode}\n").is_err());
        assert!(ResponseMapping::from_yaml("- {min_priority: Loud, action: isolate}\n").is_err());
    }

    #[test]
    fn quarantine_moves_every_label_aside_and_keeps_them() {
        let labels: BTreeMap<String, String> = [
            ("app".to_string(), "web".to_string()),
            ("pod-template-hash".to_string(), "abc".to_string()),
        ]
        .into();
        let p = quarantine_patch(&labels, Some("ReplicaSet/web-1"), "m1", "uid-1");
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "Mitigation");
        assert_eq!(
            p["metadata"]["annotations"][rampart_signals::observe::QUARANTINED_FROM],
            "ReplicaSet/web-1"
        );
        assert_eq!(p["metadata"]["labels"]["app"], Value::Null);
        assert_eq!(p["metadata"]["labels"][QUARANTINE_LABEL], "m1");
        let kept: BTreeMap<String, String> = serde_json::from_str(
            p["metadata"]["annotations"][QUARANTINED_LABELS]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(kept, labels);
        let np = quarantine_policy("shop", "web-1", "m1");
        assert_eq!(np["metadata"]["name"], "rampart-quarantine-web-1");
        let long = |tail: &str| {
            quarantine_policy("shop", &format!("{}{tail}", "p".repeat(60)), "m1")["metadata"]
                ["name"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert!(rampart_model::names::is_dns_subdomain(&long("a")) && long("a").len() <= 63);
        assert_ne!(long("a"), long("b"));
        assert_eq!(
            np["spec"]["podSelector"]["matchLabels"][QUARANTINE_LABEL],
            "m1"
        );
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert!(
            np["spec"].get("ingress").is_none() && np["spec"].get("egress").is_none(),
            "deny all"
        );
    }
}
