//! The `netpol` action class, live: the leader reads the rollout's Mitigations, blames the
//! policy drops that arrived with the flows on the policies that select the dropped pod, asks
//! [`rampart_respond::rollout::next`] what to do, ends what falls (latest step first) and
//! enacts the next step's policies where the action bar and the arming ladder allow — the
//! same record → apply → status path, break-glass brake and approval as every other action.

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_api::{
    ActionKind, Mitigation, MitigationPhase, MitigationSpec, MitigationStatus, TargetRef,
};
use rampart_http::dashboard::{DashboardState, WhyLabels};
use rampart_http::ingest::FlowSink;
use rampart_kube::actuate::Ledger;
use rampart_netpol::Flow;
use rampart_respond::brake::BrakeView;
use rampart_respond::engine::EngineCore;
use rampart_respond::ledger::{End, LedgerEvent, step};
use rampart_respond::rollout::{
    FLOWS_ANNOTATION, Gate, Move, Placed, PlanView, PlannedPolicy, STEP_LABEL, Timing, Why, next,
};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::clock::{now, parse_rfc3339, rfc3339};
use crate::ledger::enact;

/// Most ended policies shown on the dashboard.
const ENDED_SHOWN: usize = 20;

/// What a rollout round needs besides the ledger.
pub(crate) struct Round<'a> {
    /// The latest plan.
    pub plan: Option<&'a PlanView>,
    /// Where flows arrive: the policy drops since the last round are taken from it (once the
    /// ledger is read, so that none is lost to a failed read).
    pub sink: &'a FlowSink,
    /// Lifetime of a new Mitigation.
    pub ttl: Duration,
    /// Soak and cool-down.
    pub timing: Timing,
    /// Break-glass, live.
    pub brake: &'a watch::Receiver<BrakeView>,
    /// Where the rollout is shown.
    pub dashboard: &'a DashboardState,
}

/// A rollout Mitigation's step, from its label (0 for any other Mitigation).
pub(crate) fn step_of(m: &Mitigation) -> usize {
    m.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(STEP_LABEL))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A rollout Mitigation as [`next`] reads it; `None` for any other Mitigation.
fn placed(m: &Mitigation) -> Option<Placed> {
    if m.spec.action != ActionKind::ObservedPolicy {
        return None;
    }
    let status = m.status.clone().unwrap_or_default();
    let meta = &m.metadata;
    Some(Placed {
        mitigation_namespace: meta.namespace.clone().unwrap_or_default(),
        mitigation: meta.name.clone().unwrap_or_default(),
        step: step_of(m),
        namespace: m.spec.target.namespace.clone(),
        name: m.spec.target.name.clone(),
        manifest: as_planned(&m.spec.object),
        flows: meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(FLOWS_ANNOTATION))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        phase: status.phase,
        ending: status.message.starts_with("ending"),
        applied_at: status.applied_at.as_deref().and_then(parse_rfc3339),
        ended_at: status.ended_at.as_deref().and_then(parse_rfc3339),
        expires_at: parse_rfc3339(&m.spec.expires_at),
        dropped: status.message.contains(DROPPED_MARK),
    })
}

/// The manifest a Mitigation applies as the plan wrote it: without the step label the
/// rollout adds.
fn as_planned(object: &Value) -> Value {
    let mut v = object.clone();
    // Read with `get_mut`: an object edited into any shape must not panic the leader.
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        let empty = meta
            .get_mut("labels")
            .and_then(Value::as_object_mut)
            .is_some_and(|labels| {
                labels.remove(STEP_LABEL);
                labels.is_empty()
            });
        if empty {
            meta.remove("labels");
        }
    }
    v
}

/// What an ended rollout policy's message says when traffic was dropped under it.
const DROPPED_MARK: &str = "traffic dropped under it";

/// The Mitigations a round's drops are blamed on, with the flow in words, and how many drops
/// were blamed on any. A drop is blamed only on a policy applied before it was seen (a capture
/// re-read from its start carries drops older than the policy).
fn blame(
    core: &EngineCore,
    placed: &[Placed],
    drops: &[Flow],
) -> (BTreeMap<(String, String), String>, u64) {
    let applied: Vec<&Placed> = placed
        .iter()
        .filter(|p| p.active() && p.phase == MitigationPhase::Applied)
        .collect();
    let mut out = BTreeMap::new();
    let mut blamed = 0;
    if applied.is_empty() || drops.is_empty() {
        return (out, blamed);
    }
    let snapshot = core.snapshot();
    let workloads = rampart_model::Workloads::build(snapshot);
    let cluster = rampart_netpol::Cluster::new(snapshot, &workloads);
    let manifests: Vec<&Value> = applied.iter().map(|p| &p.manifest).collect();
    let policies = rampart_netpol::drops::Policies::new(&manifests);
    for flow in drops {
        let guilty: Vec<&Placed> = policies
            .blame(&cluster, flow)
            .into_iter()
            .map(|i| applied[i])
            .filter(|p| match (flow.time, p.applied_at) {
                (Some(t), Some(a)) => t >= a,
                _ => true,
            })
            .collect();
        blamed += u64::from(!guilty.is_empty());
        for p in guilty {
            out.entry((p.mitigation_namespace.clone(), p.mitigation.clone()))
                .or_insert_with(|| rampart_netpol::drops::describe(flow));
        }
    }
    (out, blamed)
}

/// One rollout round, as the leader; acting stops with break-glass (ends do not). Without a
/// ledger (dry-run) the round is decided and shown, nothing is written.
pub(crate) async fn roll_out(ledger: Option<&Ledger>, core: &mut EngineCore, round: Round<'_>) {
    let metrics = &round.dashboard.metrics;
    let existing = match ledger {
        Some(l) => match l.mitigations().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("cannot list mitigations, the NetworkPolicy rollout waits: {e}");
                return;
            }
        },
        None => Vec::new(),
    };
    let now_s = now();
    let stamp = rfc3339(now_s);
    // An end whose object could not be removed is finished first, latest step first; while one
    // still fails, nothing earlier is removed and nothing is applied.
    if let Some(ledger) = ledger
        && !finish_interrupted(ledger, &existing, &stamp).await
    {
        return;
    }
    let placed: Vec<Placed> = existing.iter().filter_map(placed).collect();
    let drops = round.sink.take_drops();
    if round.plan.is_none() && placed.is_empty() {
        return;
    }
    let (dropped, blamed) = blame(core, &placed, &drops);
    metrics.netpol_rollout_drops.inc_by(blamed);
    let protected = core_protected(core);
    let skip = |p: &PlannedPolicy| protected.contains(&p.namespace);
    let rollout = next(round.plan, &placed, &dropped, round.timing, now_s, &skip);
    let mut ended = Vec::new();
    let mut failed = false;
    let mut enacts: Vec<(usize, PlannedPolicy, Option<u64>)> = Vec::new();
    for m in rollout.moves {
        match m {
            Move::End {
                namespace,
                name,
                step: n,
                why,
            } => {
                let Some(ledger) = ledger.filter(|_| !failed) else {
                    continue;
                };
                let Some(m) = existing.iter().find(|m| {
                    m.metadata.namespace.as_deref() == Some(namespace.as_str())
                        && m.metadata.name.as_deref() == Some(name.as_str())
                }) else {
                    continue;
                };
                if end_one(ledger, m, &why, &stamp).await {
                    metrics
                        .netpol_rollout_ended
                        .get_or_create(&WhyLabels {
                            why: why_label(&why).into(),
                        })
                        .inc();
                    tracing::warn!(mitigation = %name, namespace = %namespace, step = n, why = %why.describe(), "NetworkPolicy rollout: ended");
                    ended.push((n, m.spec.target.clone(), why));
                } else {
                    // The steps before it stay until it is gone (finished next round).
                    failed = true;
                }
            }
            Move::Enact {
                step: n,
                policy,
                expires_by,
            } => enacts.push((n, policy, expires_by)),
        }
    }
    // The bar and the ladder, per step and namespace; asked even when nothing may be written
    // (break-glass), so that the shadow history counts what would have been done.
    let mut groups: Vec<(usize, String)> = enacts
        .iter()
        .map(|(n, p, _)| (*n, p.namespace.clone()))
        .collect();
    groups.sort();
    groups.dedup();
    let writes = ledger.is_some() && !failed && !round.brake.borrow().stops_acting();
    let gates = core.gate_rollout(&groups, writes, now_s);
    let gate_of: BTreeMap<(usize, String), Gate> = groups.iter().cloned().zip(gates).collect();
    let flows = round.plan.map_or(0, |p| p.flows);
    for (n, policy, expires_by) in &enacts {
        let Some(ledger) = ledger.filter(|_| writes) else {
            break;
        };
        let approval = match gate_of.get(&(*n, policy.namespace.clone())) {
            Some(Gate::Act) => false,
            Some(Gate::AwaitApproval) => true,
            _ => continue,
        };
        if round.brake.borrow().stops_acting() {
            break;
        }
        let expires = (now_s + round.ttl.as_secs()).min(expires_by.unwrap_or(u64::MAX));
        let m = mitigation(*n, policy, flows, expires, now_s);
        let outcome = enact(ledger, &m, metrics, round.brake, approval).await;
        tracing::info!(step = n, policy = %policy.name, namespace = %policy.namespace, ?outcome, "NetworkPolicy rollout: enacted");
    }
    show(
        round.dashboard,
        core,
        &rollout.progress,
        &gate_of,
        &existing,
        &ended,
        ledger.is_some(),
    );
}

/// The namespaces the rollout never touches: the bar's protected ones and `kube-system`.
fn core_protected(core: &EngineCore) -> Vec<String> {
    let mut v: Vec<String> = core.bar().protected_namespaces.iter().cloned().collect();
    v.push("kube-system".into());
    v
}

fn why_label(why: &Why) -> &'static str {
    match why {
        Why::Dropped(_) => "dropped",
        Why::Expired => "expired",
        Why::LeftThePlan => "left-the-plan",
        Why::Changed => "changed",
        Why::EarlierStep(_) => "earlier-step",
    }
}

/// The Mitigation for one policy of step `n`.
fn mitigation(
    n: usize,
    policy: &PlannedPolicy,
    flows: u64,
    expires: u64,
    now_s: u64,
) -> Mitigation {
    let mut object = policy.manifest.clone();
    object["metadata"]["labels"][STEP_LABEL] = n.to_string().into();
    let name = mitigation_name(policy, now_s);
    let mut m = Mitigation::new(
        &name,
        MitigationSpec {
            // Least privilege is not cut for a chain: it ends by time, drop or plan change,
            // never retired.
            chains: Vec::new(),
            action: ActionKind::ObservedPolicy,
            target: TargetRef {
                kind: "NetworkPolicy".into(),
                namespace: policy.namespace.clone(),
                name: policy.name.clone(),
                uid: String::new(),
            },
            object,
            reason: format!(
                "step {n} of the NetworkPolicy plan from {flows} observed flows, verified: every observed connection still passes"
            ),
            expires_at: rfc3339(expires),
            approved: false,
        },
    );
    m.metadata.namespace = Some(policy.namespace.clone());
    m.metadata.labels = Some([(STEP_LABEL.to_string(), n.to_string())].into());
    m.metadata.annotations = Some([(FLOWS_ANNOTATION.to_string(), flows.to_string())].into());
    m
}

/// The Mitigation's name: it is the value of the managed-by label on the object it applies, so
/// at most 63 characters (the API server refuses more — found against kube-apiserver) — the
/// policy's name cut to 42, a digest of its namespace and full name (every namespace's
/// default-deny has the same name, two long names may share their first 42 characters, and
/// start-up reconciliation tells records apart by name), and the time.
fn mitigation_name(policy: &PlannedPolicy, now_s: u64) -> String {
    let base: String = policy.name.chars().take(42).collect();
    let key = format!("{}/{}", policy.namespace, policy.name);
    format!(
        "{}-{:08x}-{now_s}",
        base.trim_end_matches(['-', '.']),
        fnv1a(key.as_bytes())
    )
}

/// FNV-1a, 32 bits: a stable digest (the same in every build and process), for names.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// Finishes the rollout's ends that a failed removal (or a crash) interrupted, latest step
/// first; whether none is left.
async fn finish_interrupted(ledger: &Ledger, existing: &[Mitigation], stamp: &str) -> bool {
    let mut open: Vec<&Mitigation> = existing
        .iter()
        .filter(|m| {
            m.spec.action == ActionKind::ObservedPolicy
                && m.status.as_ref().is_some_and(|s| {
                    s.phase == MitigationPhase::Applied && s.message.starts_with("ending")
                })
        })
        .collect();
    open.sort_by_key(|m| std::cmp::Reverse(step_of(m)));
    for m in open {
        let status = m.status.clone().unwrap_or_default();
        let ns = m.metadata.namespace.clone().unwrap_or_default();
        let name = m.metadata.name.clone().unwrap_or_default();
        match ledger.remove(m).await {
            Ok(()) => {
                if let Ok((done, _)) = step(&status, LedgerEvent::Removed, stamp) {
                    let _ = ledger.set_status(&ns, &name, &done).await;
                }
            }
            Err(e) => {
                tracing::warn!("NetworkPolicy rollout: still cannot remove {ns}/{name}: {e}");
                return false;
            }
        }
    }
    true
}

/// Ends one rollout Mitigation (an applied one's object removed; a Proposed or Pending one's
/// record only), its message saying why. Whether it ended.
async fn end_one(ledger: &Ledger, m: &Mitigation, why: &Why, stamp: &str) -> bool {
    let ns = m.metadata.namespace.clone().unwrap_or_default();
    let name = m.metadata.name.clone().unwrap_or_default();
    let status = m.status.clone().unwrap_or_default();
    let end = if *why == Why::Expired {
        End::Expired
    } else {
        End::Withdrawn
    };
    let Ok((mut ending, effect)) = step(&status, LedgerEvent::End(end), stamp) else {
        return false;
    };
    if effect.is_none() {
        // Never applied: the record ends here (its object, if a crash left one, goes too).
        if let Err(e) = ledger.remove(m).await {
            tracing::warn!("{e}");
            return false;
        }
        ending.message = format!("{}: {}", ending.message, why.describe());
        let _ = ledger.set_status(&ns, &name, &ending).await;
        return true;
    }
    if let Err(e) = ledger.set_status(&ns, &name, &ending).await {
        tracing::warn!("{e}");
    }
    let event = match ledger.remove(m).await {
        Ok(()) => LedgerEvent::Removed,
        Err(e) => LedgerEvent::RemoveFailed(e.to_string()),
    };
    let removed = event == LedgerEvent::Removed;
    if let Ok((mut done, _)) = step(&ending, event, stamp) {
        if removed && *why != Why::Expired {
            done.message = format!("{}: {}", done.message, why.describe());
        }
        let _ = ledger.set_status(&ns, &name, &done).await;
    }
    removed
}

/// Publishes where the rollout stands (`GET /netpol`'s `rollout`, the dashboard, the gauge).
fn show(
    dashboard: &DashboardState,
    core: &EngineCore,
    progress: &rampart_respond::rollout::Progress,
    gates: &BTreeMap<(usize, String), Gate>,
    existing: &[Mitigation],
    just_ended: &[(usize, TargetRef, Why)],
    writes: bool,
) {
    let mut ended: Vec<Value> = just_ended
        .iter()
        .map(|(n, t, why)| {
            json!({"step": n, "namespace": t.namespace, "name": t.name,
                "why": why.describe(), "at": rfc3339(now())})
        })
        .collect();
    let mut in_force = Vec::new();
    for m in existing {
        let Some(p) = placed(m) else { continue };
        let status: MitigationStatus = m.status.clone().unwrap_or_default();
        if p.active() {
            in_force.push(
                json!({"step": p.step, "namespace": p.namespace, "name": p.name,
                "mitigation": p.mitigation, "phase": format!("{:?}", p.phase),
                "expires_at": m.spec.expires_at}),
            );
        } else if ended.len() < ENDED_SHOWN
            && matches!(p.phase, MitigationPhase::Reverted | MitigationPhase::Failed)
        {
            ended.push(
                json!({"step": p.step, "namespace": p.namespace, "name": p.name,
                "why": status.message, "at": status.ended_at}),
            );
        }
    }
    ended.truncate(ENDED_SHOWN);
    dashboard
        .metrics
        .netpol_rollout_step
        .set(progress.applied.last().map_or(0, |n| *n as i64));
    let v = json!({
        "enabled": core.bar().enabled.contains(&rampart_respond::bar::ActionClass::Netpol),
        "writes": writes,
        "applied": progress.applied,
        "current": progress.current,
        "waiting": progress.waiting,
        "gates": gates.iter().map(|((n, ns), g)| json!({"step": n, "namespace": ns,
            "decision": match g {
                Gate::Act if writes => "act".to_string(),
                Gate::Act => "act (dry-run)".to_string(),
                Gate::AwaitApproval => "act-with-approval".to_string(),
                Gate::Hold(h) => format!("propose: {h}"),
            }})).collect::<Vec<_>>(),
        "policies": in_force,
        "ended": ended,
    });
    if let Ok(mut slot) = dashboard.netpol_rollout.write() {
        *slot = Some(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(ns: &str, name: &str) -> PlannedPolicy {
        PlannedPolicy {
            namespace: ns.into(),
            name: name.into(),
            manifest: Value::Null,
        }
    }

    /// A Mitigation's name is a label value: at most 63 characters, distinct for policies that
    /// share a long prefix or a name in another namespace.
    #[test]
    fn mitigation_names_fit_a_label_and_stay_apart() {
        let long = "rampart-ingress-nginx-controller-deployment";
        let names = [
            mitigation_name(
                &policy("ingress-nginx", &format!("{long}-ingress")),
                1_796_587_163,
            ),
            mitigation_name(
                &policy("ingress-nginx", &format!("{long}-egress")),
                1_796_587_163,
            ),
            mitigation_name(&policy("a", "rampart-default-deny"), 1_796_587_163),
            mitigation_name(&policy("b", "rampart-default-deny"), 1_796_587_163),
            mitigation_name(&policy("c", &"x".repeat(253)), 1_796_587_163),
        ];
        for n in &names {
            assert!(n.len() <= 63, "{n} ({})", n.len());
            assert!(!n.contains("--") && !n.starts_with('-'), "{n}");
        }
        let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
    }
}
