//! The leader's writes: the Mitigation ledger reconciled at start-up, approved cuts enacted
//! (record → apply → status), ended records forgotten, applied ones expired and retired.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rampart_api::{
    ActionKind, Mitigation, MitigationPhase, MitigationSpec, MitigationStatus, TargetRef,
};
use rampart_http::dashboard::{EngineMetrics, PhaseLabels};
use rampart_kube::actuate::Ledger;
use rampart_respond::brake::BrakeView;
use rampart_respond::engine::{ChangeReport, EngineCore};
use rampart_respond::ledger::{End, LedgerEvent, step};
use rampart_respond::reconcile::{Record, Repair};
use tokio::sync::watch;

use crate::clock::{now, parse_rfc3339, rfc3339};

/// Start-up reconciliation: every applied object has an Applied Mitigation and every Applied
/// Mitigation has its object, whatever a crash left behind. While break-glass is `engaged`,
/// what a crash left half-done is withdrawn instead of finished: nothing is applied.
pub(crate) async fn reconcile(ledger: &Ledger, engaged: bool, metrics: &EngineMetrics) {
    let (Ok(mitigations), Ok(objects)) = (
        ledger.list_mitigations().await,
        ledger.managed_objects().await,
    ) else {
        tracing::warn!("cannot read the ledger; reconciliation skipped");
        return;
    };
    let now_s = now();
    let stamp = rfc3339(now_s);
    let records = records(&mitigations, now_s);
    for repair in rampart_respond::reconcile::reconcile(&objects, &records) {
        tracing::info!(?repair, "reconciling the ledger");
        let name = match &repair {
            Repair::DeleteOrphan(key) => {
                let (ns, name) = key.split_once('/').unwrap_or(("", key));
                if let Err(e) = ledger.remove_object(ns, name).await {
                    tracing::warn!("{e}");
                }
                continue;
            }
            Repair::Adopt(n)
            | Repair::Reapply(n)
            | Repair::Resume(n)
            | Repair::Abandon(n)
            | Repair::Finish(n)
            | Repair::Remove(n) => n,
        };
        let Some(m) = mitigations
            .iter()
            .find(|m| m.metadata.name.as_deref() == Some(name.as_str()))
        else {
            continue;
        };
        if engaged
            && matches!(
                repair,
                Repair::Adopt(_) | Repair::Resume(_) | Repair::Reapply(_)
            )
        {
            withdraw(ledger, m, &stamp, metrics).await;
        } else {
            repair_one(ledger, m, &repair, &stamp).await;
        }
    }
}

/// Withdraws one Proposed or Applied mitigation for break-glass: its object removed (absent is
/// removed), the record `Reverted` saying why. Whether it is ended.
async fn withdraw(ledger: &Ledger, m: &Mitigation, stamp: &str, metrics: &EngineMetrics) -> bool {
    let ns = m.metadata.namespace.clone().unwrap_or_default();
    let name = m.metadata.name.clone().unwrap_or_default();
    let mut status = m.status.clone().unwrap_or_default();
    if matches!(
        status.phase,
        MitigationPhase::Proposed | MitigationPhase::Pending
    ) && !status.message.starts_with("ending")
    {
        // A record whose object may exist (a crash between apply and status): take the object
        // out first, then say it never took effect. Only the object: ending an *applied*
        // isolation deletes its pod, but a pod never isolated is not rampart's to delete.
        let object = m.spec.object["metadata"]["name"].as_str().unwrap_or("");
        let removed = match m.spec.action {
            ActionKind::Terminate => Ok(()),
            _ if object.is_empty() => Ok(()),
            ActionKind::AdminNetworkPolicy => ledger.remove_object("", object).await,
            _ => ledger.remove_object(&ns, object).await,
        };
        if let Err(e) = removed {
            tracing::warn!("{e}");
            return false;
        }
        let Ok((done, _)) = step(&status, LedgerEvent::End(End::BreakGlass), stamp) else {
            return false;
        };
        let _ = ledger.set_status(&ns, &name, &done).await;
        metrics.break_glass_withdrawn.inc();
        tracing::warn!(mitigation = %name, namespace = %ns, "withdrawn by break-glass");
        return true;
    }
    if status.phase != MitigationPhase::Applied {
        return false;
    }
    if !status.message.starts_with("ending") {
        let Ok((ending, _)) = step(&status, LedgerEvent::End(End::BreakGlass), stamp) else {
            return false;
        };
        if let Err(e) = ledger.set_status(&ns, &name, &ending).await {
            tracing::warn!("{e}");
        }
        status = ending;
    }
    let event = match ledger.remove(m).await {
        Ok(()) => LedgerEvent::Removed,
        Err(e) => LedgerEvent::RemoveFailed(e.to_string()),
    };
    let removed = event == LedgerEvent::Removed;
    if let Ok((done, _)) = step(&status, event, stamp) {
        let _ = ledger.set_status(&ns, &name, &done).await;
    }
    if removed {
        metrics.break_glass_withdrawn.inc();
        tracing::warn!(mitigation = %name, namespace = %ns, "reverted by break-glass");
    }
    removed
}

/// The ledger as reconciliation reads it.
fn records(mitigations: &[Mitigation], now_s: u64) -> Vec<Record> {
    mitigations
        .iter()
        // A terminated pod leaves no object to reconcile.
        .filter(|m| m.spec.action != ActionKind::Terminate)
        .map(|m| {
            let status = m.status.clone().unwrap_or_default();
            Record {
                name: m.metadata.name.clone().unwrap_or_default(),
                phase: status.phase,
                expired: parse_rfc3339(&m.spec.expires_at).is_some_and(|t| t <= now_s),
                ending: status.message.starts_with("ending"),
                // The applied object's own key (`/name` when cluster-scoped).
                object_key: format!(
                    "{}/{}",
                    m.spec.object["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or(""),
                    m.spec.object["metadata"]["name"].as_str().unwrap_or("")
                ),
            }
        })
        .collect()
}

/// Carries out one repair on the Mitigation `m`.
async fn repair_one(ledger: &Ledger, m: &Mitigation, repair: &Repair, stamp: &str) {
    let ns = m.metadata.namespace.clone().unwrap_or_default();
    let name = m.metadata.name.clone().unwrap_or_default();
    let status = m.status.clone().unwrap_or_default();
    match repair {
        // Applied (maybe partly: an isolation's policy without its pod patch) before a
        // crash, status never written: apply again (idempotent), then record it.
        Repair::Adopt(_) | Repair::Resume(_) => {
            let event = match ledger.apply(m).await {
                Ok(()) => LedgerEvent::Applied,
                Err(e) => {
                    tracing::warn!("{e}");
                    LedgerEvent::ApplyFailed(e.to_string())
                }
            };
            if let Ok((s, _)) = step(&status, event, stamp) {
                let _ = ledger.set_status(&ns, &name, &s).await;
            }
        }
        Repair::Abandon(_) => {
            if let Ok((s, _)) = step(
                &status,
                LedgerEvent::ApplyFailed("never applied before its expiry".into()),
                stamp,
            ) {
                let _ = ledger.set_status(&ns, &name, &s).await;
            }
        }
        Repair::Reapply(_) => {
            if let Err(e) = ledger.apply(m).await {
                tracing::warn!("{e}");
            }
        }
        Repair::Finish(_) | Repair::Remove(_) => {
            // Expired, or an end that a crash interrupted: finish it.
            let ending = if status.message.starts_with("ending") {
                status.clone()
            } else {
                step(&status, LedgerEvent::End(End::Expired), stamp)
                    .map(|x| x.0)
                    .unwrap_or(status.clone())
            };
            let _ = ledger.set_status(&ns, &name, &ending).await;
            if ledger.remove(m).await.is_ok()
                && let Ok((done, _)) = step(&ending, LedgerEvent::Removed, stamp)
            {
                let _ = ledger.set_status(&ns, &name, &done).await;
            }
        }
        Repair::DeleteOrphan(_) => {}
    }
}

/// After a failed apply, how long before the cut is tried again (a new record each round
/// would flood the ledger); doubled for each Failed record the cut has, up to
/// [`MAX_RETRY_AFTER_FAILURE`].
pub(crate) const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);
/// The longest wait between attempts at a cut that keeps failing.
pub(crate) const MAX_RETRY_AFTER_FAILURE: Duration = Duration::from_secs(3600);

/// The cut a Mitigation carries, when it carries one.
fn cut_of(m: &Mitigation) -> Option<&String> {
    m.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("rampart.dev/cut"))
}

/// Cuts that must not be acted on now, with when that ends (Unix seconds): a cut whose
/// mitigation expired (or was withdrawn) cools down for `cooldown`; one whose apply failed
/// waits [`RETRY_AFTER_FAILURE`], doubled for each Failed record it has.
pub(crate) fn cooling(
    existing: &[Mitigation],
    cooldown: Duration,
    now_s: u64,
) -> BTreeMap<String, u64> {
    let mut failures: BTreeMap<&String, u32> = BTreeMap::new();
    for m in existing {
        if let Some(cut) = cut_of(m)
            && m.status
                .as_ref()
                .is_some_and(|s| s.phase == MitigationPhase::Failed)
        {
            *failures.entry(cut).or_default() += 1;
        }
    }
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for m in existing {
        let Some(cut) = cut_of(m) else {
            continue;
        };
        let Some(status) = &m.status else { continue };
        let wait = match status.phase {
            MitigationPhase::Reverted => cooldown,
            MitigationPhase::Failed => {
                let n = failures.get(cut).copied().unwrap_or(1).clamp(1, 7);
                (RETRY_AFTER_FAILURE * 2u32.pow(n - 1)).min(MAX_RETRY_AFTER_FAILURE)
            }
            _ => continue,
        };
        let Some(ended) = status.ended_at.as_deref().and_then(parse_rfc3339) else {
            continue;
        };
        let until = ended.saturating_add(wait.as_secs());
        if until > now_s {
            let e = out.entry(cut.clone()).or_insert(until);
            *e = (*e).max(until);
        }
    }
    out
}

/// How the leader acts on one report.
pub(crate) struct Actuation<'a> {
    /// Lifetime of a new mitigation.
    pub ttl: Duration,
    /// How long ended records stay.
    pub retention: Duration,
    /// Cuts not to act on now (see [`cooling`]).
    pub cooling: &'a BTreeMap<String, u64>,
    /// Cuts whose last attempt failed in this process (even to record), with when to try again:
    /// the leader acts every round and must not write (or log) every round.
    pub failed: &'a std::sync::Mutex<BTreeMap<String, u64>>,
    /// Whether the model changed (retirement can only change then).
    pub model_changed: bool,
    /// Where counts and phases go.
    pub metrics: &'a EngineMetrics,
    /// Break-glass, live: read again between a record and its apply.
    pub brake: &'a watch::Receiver<BrakeView>,
}

/// Acts on the cuts the bar approved, expires and retires what is applied.
pub(crate) async fn actuate(
    ledger: &Ledger,
    core: &EngineCore,
    report: &ChangeReport,
    how: &Actuation<'_>,
) {
    let now_s = now();
    let existing = match ledger.mitigations().await {
        Ok(m) => m,
        Err(e) => {
            how.metrics.actuator_errors.inc();
            tracing::warn!("cannot list mitigations, not acting: {e}");
            return;
        }
    };
    how.metrics.mitigations.clear();
    for m in &existing {
        let phase = m.status.as_ref().map(|s| s.phase).unwrap_or_default();
        how.metrics
            .mitigations
            .get_or_create(&PhaseLabels {
                phase: format!("{phase:?}"),
            })
            .inc();
    }
    let brake = how.brake.borrow().clone();
    if brake.reverts_all() {
        // Everything active withdrawn; expiry and retirement have nothing left to end.
        let stamp = rfc3339(now_s);
        // The rollout's latest steps first: a default-deny never outlives its allow-lists.
        let mut order: Vec<&Mitigation> = existing.iter().collect();
        order.sort_by_key(|m| std::cmp::Reverse(crate::rollout::step_of(m)));
        for m in order {
            withdraw(ledger, m, &stamp, how.metrics).await;
        }
        return;
    }
    if core.analysis().is_none() {
        return;
    }
    if !brake.stops_acting() {
        act_on_cuts(ledger, core, report, &existing, how, now_s).await;
        apply_approved(ledger, &existing, how, now_s).await;
    }
    // A record is kept at least as long as it holds its cut's cool-down.
    forget_ended(ledger, &existing, how.retention, how.cooling, now_s).await;
    end_applied(ledger, core, existing, how.model_changed, now_s).await;
}

/// Whether a Proposed or Applied Mitigation already carries `cut`.
fn active(existing: &[Mitigation], cut: &str) -> bool {
    existing.iter().any(|m| {
        m.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("rampart.dev/cut"))
            .map(String::as_str)
            == Some(cut)
            && m.status.as_ref().is_none_or(|s| {
                matches!(
                    s.phase,
                    MitigationPhase::Proposed | MitigationPhase::Pending | MitigationPhase::Applied
                )
            })
    })
}

/// Whether a Proposed, Pending or Applied Mitigation already applies `object` (same kind, namespace and
/// name) — for whatever cut: one object, one owner.
fn carried(existing: &[Mitigation], object: &serde_json::Value) -> bool {
    let key = |o: &serde_json::Value| {
        (
            o["kind"].as_str().unwrap_or("").to_string(),
            o["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            o["metadata"]["name"].as_str().unwrap_or("").to_string(),
        )
    };
    let want = key(object);
    existing.iter().any(|m| {
        key(&m.spec.object) == want
            && m.status.as_ref().is_none_or(|s| {
                matches!(
                    s.phase,
                    MitigationPhase::Proposed | MitigationPhase::Pending | MitigationPhase::Applied
                )
            })
    })
}

/// Enacts a Mitigation for every object of every cut the bar approved (`act`) and no
/// Mitigation carries yet.
async fn act_on_cuts(
    ledger: &Ledger,
    core: &EngineCore,
    report: &ChangeReport,
    existing: &[Mitigation],
    how: &Actuation<'_>,
    now_s: u64,
) {
    let Some(analysis) = core.analysis() else {
        return;
    };
    for d in report
        .decisions
        .iter()
        .filter(|d| d.decision == "act" || d.decision == "act-with-approval")
    {
        let approval = d.decision == "act-with-approval";
        let retry_later = how
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&d.cut)
            .is_some_and(|u| *u > now_s);
        if active(existing, &d.cut)
            || retry_later
            || how.cooling.get(&d.cut).is_some_and(|u| *u > now_s)
        {
            continue;
        }
        let Some(cut) = analysis.plan.cuts.iter().find(|c| c.id == d.cut) else {
            continue;
        };
        let objects: Vec<serde_json::Value> = cut
            .fixes
            .iter()
            .filter_map(|f| f.manifest())
            .flat_map(|np| core.actuator().realise(np))
            .collect();
        for (i, object) in objects.iter().enumerate() {
            if carried(existing, object) {
                continue; // another cut's Mitigation owns this very object
            }
            // The Mitigation lives in the workload's namespace (a NetworkPolicy's own).
            let ns = object["metadata"]["namespace"]
                .as_str()
                .or_else(|| cut.fixes.iter().find_map(|f| f.namespace()))
                .unwrap_or("default")
                .to_string();
            let kind = object["kind"]
                .as_str()
                .unwrap_or("NetworkPolicy")
                .to_string();
            let name = format!("{}-{i}-{now_s}", d.cut.replace("cut-", "rampart-"));
            let mut m = Mitigation::new(
                &name,
                MitigationSpec {
                    chains: cut.breaks.iter().map(ToString::to_string).collect(),
                    action: if kind == "AdminNetworkPolicy" {
                        ActionKind::AdminNetworkPolicy
                    } else {
                        ActionKind::NetworkPolicy
                    },
                    target: TargetRef {
                        kind,
                        namespace: object["metadata"]["namespace"]
                            .as_str()
                            .unwrap_or("")
                            .into(),
                        name: object["metadata"]["name"].as_str().unwrap_or("").into(),
                        uid: String::new(),
                    },
                    object: object.clone(),
                    reason: format!("{} ({})", d.fix, cut.to),
                    expires_at: rfc3339(now_s + how.ttl.as_secs()),
                    approved: false,
                },
            );
            m.metadata.namespace = Some(ns.clone());
            m.metadata.labels = Some([("rampart.dev/cut".to_string(), d.cut.clone())].into());
            if enact(ledger, &m, how.metrics, how.brake, approval).await == Enacted::Failed {
                how.failed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(d.cut.clone(), now_s + RETRY_AFTER_FAILURE.as_secs());
            }
        }
    }
}

/// Applies the Pending mitigations someone approved (`spec.approved: true`) that have not
/// expired (expiry is [`end_applied`]'s). Break-glass is checked by the caller.
async fn apply_approved(ledger: &Ledger, existing: &[Mitigation], how: &Actuation<'_>, now_s: u64) {
    let stamp = rfc3339(now_s);
    for m in existing {
        let Some(status) = &m.status else { continue };
        let expired = parse_rfc3339(&m.spec.expires_at).is_some_and(|t| t <= now_s);
        if status.phase != MitigationPhase::Pending || !m.spec.approved || expired {
            continue;
        }
        // Read again between the decision and the apply, as for any other apply.
        if how.brake.borrow().stops_acting() {
            return;
        }
        let ns = m.metadata.namespace.clone().unwrap_or_default();
        let name = m.metadata.name.clone().unwrap_or_default();
        let Ok((approved, _)) = step(status, LedgerEvent::Approve, &stamp) else {
            continue;
        };
        let event = match ledger.apply(m).await {
            Ok(()) => LedgerEvent::Applied,
            Err(e) => {
                how.metrics.actuator_errors.inc();
                tracing::warn!("{e}");
                LedgerEvent::ApplyFailed(e.to_string())
            }
        };
        if let Ok((done, _)) = step(&approved, event, &stamp) {
            if let Err(e) = ledger.set_status(&ns, &name, &done).await {
                tracing::warn!("{e}");
            }
            tracing::info!(mitigation = %name, namespace = %ns, phase = ?done.phase, "approved mitigation");
        }
    }
}

/// Ended records are history; kept for `retention`, then forgotten (the ledger must not grow
/// for ever: the leader lists it every second).
async fn forget_ended(
    ledger: &Ledger,
    existing: &[Mitigation],
    retention: Duration,
    cooling: &BTreeMap<String, u64>,
    now_s: u64,
) {
    for m in existing {
        let Some(status) = &m.status else { continue };
        let cut = m
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("rampart.dev/cut"));
        if cut.is_some_and(|c| cooling.contains_key(c)) {
            continue;
        }
        let ended = matches!(
            status.phase,
            MitigationPhase::Reverted | MitigationPhase::Retired | MitigationPhase::Failed
        );
        let old = status
            .ended_at
            .as_deref()
            .and_then(parse_rfc3339)
            .is_some_and(|t| t.saturating_add(retention.as_secs()) <= now_s);
        if ended && old {
            let ns = m.metadata.namespace.clone().unwrap_or_default();
            let name = m.metadata.name.clone().unwrap_or_default();
            if let Err(e) = ledger.forget(&ns, &name).await {
                tracing::warn!("{e}");
            }
        }
    }
}

/// Chains still proven with every object rampart applied taken out at once: its
/// NetworkPolicies (owned by their Mitigation) and its AdminNetworkPolicies (cluster-scoped,
/// so known by the label alone) — the proof models both.
fn proving_without_ours(core: &EngineCore) -> BTreeSet<String> {
    let snapshot = core.snapshot();
    let ours: Vec<rampart_model::ObjectKey> = snapshot
        .of_kind(rampart_model::Kind::NetworkPolicy)
        .filter(|o| {
            let m = o.object.meta();
            m.labels.contains_key(rampart_respond::MANAGED_BY_LABEL)
                && m.owner_references.iter().any(|r| r.kind == "Mitigation")
        })
        .chain(
            snapshot
                .of_kind(rampart_model::Kind::AdminNetworkPolicy)
                .filter(|o| {
                    o.object
                        .meta()
                        .labels
                        .contains_key(rampart_respond::MANAGED_BY_LABEL)
                }),
        )
        .map(|o| rampart_model::ObjectKey::of(&o.object))
        .collect();
    rampart_respond::retire::proving_without(core.snapshot(), &ours)
}

/// Expires and retires applied mitigations.
async fn end_applied(
    ledger: &Ledger,
    core: &EngineCore,
    existing: Vec<Mitigation>,
    model_changed: bool,
    now_s: u64,
) {
    let stamp = rfc3339(now_s);
    let mut proving: Option<BTreeSet<String>> = None;
    for m in existing {
        let Some(status) = m.status.clone() else {
            continue;
        };
        if status.phase == MitigationPhase::Pending && m.spec.action != ActionKind::ObservedPolicy {
            // Never approved in time: it ends having applied nothing.
            if parse_rfc3339(&m.spec.expires_at).is_some_and(|t| t <= now_s)
                && let Ok((ended, _)) = step(&status, LedgerEvent::End(End::Expired), &stamp)
            {
                let ns = m.metadata.namespace.clone().unwrap_or_default();
                let name = m.metadata.name.clone().unwrap_or_default();
                let _ = ledger.set_status(&ns, &name, &ended).await;
            }
            continue;
        }
        if status.phase != MitigationPhase::Applied {
            continue;
        }
        let ns = m.metadata.namespace.clone().unwrap_or_default();
        let name = m.metadata.name.clone().unwrap_or_default();
        let expired = parse_rfc3339(&m.spec.expires_at).is_some_and(|t| t <= now_s);
        let pod_action = matches!(m.spec.action, ActionKind::Isolate | ActionKind::Terminate);
        if m.spec.action == ActionKind::ObservedPolicy {
            continue; // the rollout ends its own, latest step first (crate::rollout)
        }
        let end = if expired {
            Some(End::Expired)
        } else if pod_action || !model_changed {
            // An infected pod's mitigation ends on expiry only; and retirement (a re-proof
            // without the mitigation) can only change when the model did.
            None
        } else {
            // Judged on the chains it was applied for; a record naming none never retires
            // early (it would retire at once and be applied again: a flapping cut).
            let proving = proving.get_or_insert_with(|| proving_without_ours(core));
            (!m.spec.chains.is_empty() && !m.spec.chains.iter().any(|c| proving.contains(c)))
                .then_some(End::Retired)
        };
        let Some(end) = end else { continue };
        let Ok((ending, _)) = step(&status, LedgerEvent::End(end), &stamp) else {
            continue;
        };
        let _ = ledger.set_status(&ns, &name, &ending).await;
        let event = match ledger.remove(&m).await {
            Ok(()) => LedgerEvent::Removed,
            Err(e) => LedgerEvent::RemoveFailed(e.to_string()),
        };
        if let Ok((done, _)) = step(&ending, event, &stamp) {
            let _ = ledger.set_status(&ns, &name, &done).await;
            tracing::info!(mitigation = %name, namespace = %ns, phase = ?done.phase, "mitigation ended");
        }
    }
}

/// Records a mitigation, applies it, then records the outcome — in that order, so a crash at
/// any point leaves something start-up reconciliation repairs. Break-glass pulled while the
/// record was being written stops it there: the record ends `Reverted` and nothing is applied.
/// With `approval` (the class is armed `actWithApproval`) the record is left `Pending`: nothing
/// is applied until someone sets `spec.approved: true` ([`apply_approved`]).
pub(crate) async fn enact(
    ledger: &Ledger,
    m: &Mitigation,
    metrics: &EngineMetrics,
    brake: &watch::Receiver<BrakeView>,
    approval: bool,
) -> Enacted {
    let stamp = rfc3339(now());
    let ns = m.metadata.namespace.clone().unwrap_or_default();
    let name = m.metadata.name.clone().unwrap_or_default();
    let recorded = match ledger.record(m).await {
        Ok(r) => r,
        Err(e) => {
            metrics.actuator_errors.inc();
            tracing::warn!("{e}");
            return Enacted::Failed;
        }
    };
    let proposed = MitigationStatus {
        proposed_at: Some(stamp.clone()),
        ..Default::default()
    };
    if approval {
        if let Ok((pending, _)) = step(&proposed, LedgerEvent::AwaitApproval, &stamp)
            && let Err(e) = ledger.set_status(&ns, &name, &pending).await
        {
            tracing::warn!("{e}");
        }
        tracing::info!(mitigation = %name, namespace = %ns, "mitigation waiting for approval");
        return Enacted::Pending;
    }
    if brake.borrow().stops_acting() {
        if let Ok((withdrawn, _)) = step(&proposed, LedgerEvent::End(End::BreakGlass), &stamp) {
            if let Err(e) = ledger.set_status(&ns, &name, &withdrawn).await {
                tracing::warn!("{e}");
            }
            metrics.break_glass_withdrawn.inc();
            tracing::warn!(mitigation = %name, namespace = %ns, "break-glass: recorded, not applied");
        }
        return Enacted::Withdrawn;
    }
    let (status, _) = match ledger.apply(&recorded).await {
        Ok(()) => step(&proposed, LedgerEvent::Applied, &stamp).unwrap_or((proposed, None)),
        Err(e) => {
            metrics.actuator_errors.inc();
            tracing::warn!("{e}");
            step(&proposed, LedgerEvent::ApplyFailed(e.to_string()), &stamp)
                .unwrap_or((proposed, None))
        }
    };
    if let Err(e) = ledger.set_status(&ns, &name, &status).await {
        tracing::warn!("{e}");
    }
    tracing::info!(mitigation = %name, namespace = %ns, phase = ?status.phase, "mitigation");
    if status.phase == MitigationPhase::Applied {
        Enacted::Applied
    } else {
        Enacted::Failed
    }
}

/// How an [`enact`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enacted {
    /// The object is in the cluster.
    Applied,
    /// Recording or applying failed (retried later, with backoff).
    Failed,
    /// Break-glass stopped it after the record: nothing applied, not a failure.
    Withdrawn,
    /// Recorded `Pending`: waiting for a person's approval.
    Pending,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, cut: &str, phase: MitigationPhase, ended: u64, np: &str) -> Mitigation {
        let mut m = Mitigation::new(
            name,
            MitigationSpec {
                chains: vec!["chain-1".into()],
                action: ActionKind::NetworkPolicy,
                target: TargetRef::default(),
                object: serde_json::json!({"kind": "NetworkPolicy",
                    "metadata": {"namespace": "app", "name": np}}),
                reason: String::new(),
                expires_at: rfc3339(ended),
                approved: false,
            },
        );
        m.metadata.labels = Some([("rampart.dev/cut".to_string(), cut.to_string())].into());
        m.status = Some(MitigationStatus {
            phase,
            ended_at: (phase != MitigationPhase::Applied).then(|| rfc3339(ended)),
            ..Default::default()
        });
        m
    }

    /// Issue 14 item 7: an expired cut cools down; a failing one waits longer each time.
    #[test]
    fn expired_cuts_cool_down_and_failing_ones_back_off() {
        let cooldown = Duration::from_secs(1800);
        let expired = [record(
            "a",
            "cut-a",
            MitigationPhase::Reverted,
            1000,
            "np-a",
        )];
        assert_eq!(
            cooling(&expired, cooldown, 1001),
            [("cut-a".to_string(), 2800)].into()
        );
        assert!(cooling(&expired, cooldown, 2800).is_empty(), "over");
        let once = [record("b1", "cut-b", MitigationPhase::Failed, 1000, "np-b")];
        assert_eq!(cooling(&once, cooldown, 1001)["cut-b"], 1060);
        let thrice = [
            record("b1", "cut-b", MitigationPhase::Failed, 900, "np-b"),
            record("b2", "cut-b", MitigationPhase::Failed, 950, "np-b"),
            record("b3", "cut-b", MitigationPhase::Failed, 1000, "np-b"),
        ];
        assert_eq!(cooling(&thrice, cooldown, 1001)["cut-b"], 1240, "60 s × 2²");
        let applied = [record("c", "cut-c", MitigationPhase::Applied, 1000, "np-c")];
        assert!(cooling(&applied, cooldown, 1001).is_empty());
    }

    /// Issue 14 item 3: an object an active Mitigation applies is never applied again under
    /// another cut.
    #[test]
    fn an_object_has_one_owner() {
        let existing = [record("a", "cut-a", MitigationPhase::Applied, 1000, "np")];
        let same = serde_json::json!({"kind": "NetworkPolicy",
            "metadata": {"namespace": "app", "name": "np"}});
        let other = serde_json::json!({"kind": "NetworkPolicy",
            "metadata": {"namespace": "app", "name": "np-2"}});
        assert!(carried(&existing, &same));
        assert!(!carried(&existing, &other));
        let ended = [record("a", "cut-a", MitigationPhase::Reverted, 1000, "np")];
        assert!(!carried(&ended, &same), "an ended record owns nothing");
    }
}
