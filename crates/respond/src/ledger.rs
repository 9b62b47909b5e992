//! The mitigation lifecycle, one step function:
//!
//! ```text
//! Proposed ──approve──▶ (apply) ──applied──▶ Applied ──expired / chain gone / withdrawn──▶ (remove)
//!    │   │                 └──apply failed──▶ Failed          ──removed──▶ Reverted | Retired
//!    │   └──await approval──▶ Pending ──approve (spec.approved)──▶ (apply) ──▶ Applied | Failed
//!    │                           └──expired / chain gone / withdrawn──▶ Reverted | Retired
//!    └──expired / chain gone──▶ Reverted | Retired (nothing was applied)
//! ```
//!
//! Effects (apply / remove an object) are returned, not performed: the adapter performs them and
//! feeds the outcome back as the next event. The record is written *before* an apply and
//! updated *after* it, so a crash at any point leaves either a record without its object or an
//! object with its record; [`crate::reconcile`] repairs both.

use rampart_api::{MitigationPhase, MitigationStatus};

/// Why an applied mitigation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Its time ran out.
    Expired,
    /// The chains no longer prove without it (the durable fix landed).
    Retired,
    /// An operator or the engine withdrew it.
    Withdrawn,
    /// Break-glass with revert-all withdrew it (or stopped it before it was applied).
    BreakGlass,
}

/// Something that happened to a mitigation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerEvent {
    /// The bar approved acting (or, for a Pending one, a person did).
    Approve,
    /// The class is armed `actWithApproval`: wait for a person.
    AwaitApproval,
    /// The object is in the cluster.
    Applied,
    /// Applying failed.
    ApplyFailed(String),
    /// The mitigation should end.
    End(End),
    /// The object is gone from the cluster.
    Removed,
    /// Removing failed (it will be retried).
    RemoveFailed(String),
}

/// What the adapter must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Create or update the mitigation's object.
    ApplyObject,
    /// Delete the mitigation's object.
    RemoveObject,
}

/// An event that makes no sense in the current phase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event:?} is not possible for a mitigation in phase {phase:?}")]
pub struct TransitionError {
    /// Phase.
    pub phase: MitigationPhase,
    /// Event.
    pub event: LedgerEvent,
}

/// Marker in `message` while an end is in progress, so a restart knows which end it was.
fn ending(e: End) -> &'static str {
    match e {
        End::Expired => "ending: expired",
        End::Retired => "ending: durable fix landed",
        End::Withdrawn => "ending: withdrawn",
        End::BreakGlass => "ending: withdrawn by break-glass",
    }
}

fn ending_of(message: &str) -> Option<End> {
    [End::Expired, End::Retired, End::Withdrawn, End::BreakGlass]
        .into_iter()
        .find(|e| message == ending(*e))
}

/// Applies one event at `now` (RFC 3339 text, passed in) to a status.
pub fn step(
    status: &MitigationStatus,
    event: LedgerEvent,
    now: &str,
) -> Result<(MitigationStatus, Option<Effect>), TransitionError> {
    use LedgerEvent as E;
    use MitigationPhase as P;
    let mut s = status.clone();
    let effect = match (status.phase, &event) {
        (P::Proposed, E::Approve) => {
            s.message = "applying".into();
            Some(Effect::ApplyObject)
        }
        (P::Proposed, E::AwaitApproval) => {
            s.phase = P::Pending;
            s.message = "waiting for approval (set spec.approved: true to apply)".into();
            None
        }
        (P::Pending, E::Approve) => {
            s.message = "approved: applying".into();
            Some(Effect::ApplyObject)
        }
        (P::Proposed | P::Pending, E::Applied) => {
            s.phase = P::Applied;
            s.applied_at = Some(now.into());
            s.message = if status.phase == P::Pending {
                "applied: approved"
            } else {
                "applied"
            }
            .into();
            None
        }
        (P::Proposed | P::Pending, E::ApplyFailed(m)) => {
            s.phase = P::Failed;
            s.ended_at = Some(now.into());
            let after = if status.phase == P::Pending {
                " after approval"
            } else {
                ""
            };
            s.message = format!("apply failed{after}: {m}");
            None
        }
        (P::Proposed | P::Pending, E::End(e)) => {
            s.phase = if *e == End::Retired {
                P::Retired
            } else {
                P::Reverted
            };
            s.ended_at = Some(now.into());
            s.message = format!(
                "{} before it was {}",
                ending(*e).trim_start_matches("ending: "),
                if status.phase == P::Pending {
                    "approved"
                } else {
                    "applied"
                }
            );
            None
        }
        (P::Applied, E::End(e)) => {
            s.message = ending(*e).into();
            Some(Effect::RemoveObject)
        }
        (P::Applied, E::Removed) => {
            s.phase = match ending_of(&status.message) {
                Some(End::Retired) => P::Retired,
                _ => P::Reverted,
            };
            s.ended_at = Some(now.into());
            s.message = match ending_of(&status.message) {
                Some(End::Retired) => "retired: the chains no longer prove without it".into(),
                Some(End::Expired) => "reverted: expired".into(),
                Some(End::BreakGlass) => "reverted: withdrawn by break-glass".into(),
                _ => "reverted".into(),
            };
            None
        }
        (P::Applied, E::RemoveFailed(m)) => {
            // Stay Applied with the pending end: the next reconcile retries the removal.
            s.message = format!("{} (remove failed: {m})", status.message);
            Some(Effect::RemoveObject)
        }
        (P::Applied, E::Applied) => None,
        _ => {
            return Err(TransitionError {
                phase: status.phase,
                event,
            });
        }
    };
    Ok((s, effect))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposed() -> MitigationStatus {
        MitigationStatus {
            phase: MitigationPhase::Proposed,
            proposed_at: Some("t0".into()),
            ..MitigationStatus::default()
        }
    }

    #[test]
    fn apply_then_expire_then_revert() {
        let (s, e) = step(&proposed(), LedgerEvent::Approve, "t1").unwrap();
        assert_eq!(
            (s.phase, e),
            (MitigationPhase::Proposed, Some(Effect::ApplyObject))
        );
        let (s, _) = step(&s, LedgerEvent::Applied, "t2").unwrap();
        assert_eq!(s.phase, MitigationPhase::Applied);
        assert_eq!(s.applied_at.as_deref(), Some("t2"));
        let (s, e) = step(&s, LedgerEvent::End(End::Expired), "t3").unwrap();
        assert_eq!(
            (s.phase, e),
            (MitigationPhase::Applied, Some(Effect::RemoveObject))
        );
        let (s, e) = step(&s, LedgerEvent::RemoveFailed("conflict".into()), "t4").unwrap();
        assert_eq!(
            (s.phase, e),
            (MitigationPhase::Applied, Some(Effect::RemoveObject))
        );
        let (s, _) = step(&s, LedgerEvent::Removed, "t5").unwrap();
        assert_eq!(s.phase, MitigationPhase::Reverted, "{s:?}");
        assert_eq!(s.ended_at.as_deref(), Some("t5"));
        assert!(step(&s, LedgerEvent::Approve, "t6").is_err(), "terminal");
    }

    /// The arming ladder: a Pending mitigation waits for a person, then applies; unapproved, it
    /// expires having applied nothing.
    #[test]
    fn pending_waits_for_approval() {
        let (s, e) = step(&proposed(), LedgerEvent::AwaitApproval, "t1").unwrap();
        assert_eq!((s.phase, e), (MitigationPhase::Pending, None));
        assert!(step(&s, LedgerEvent::Removed, "t2").is_err());
        let (a, e) = step(&s, LedgerEvent::Approve, "t2").unwrap();
        assert_eq!(
            (a.phase, e),
            (MitigationPhase::Pending, Some(Effect::ApplyObject))
        );
        let (a, _) = step(&a, LedgerEvent::Applied, "t3").unwrap();
        assert_eq!(a.phase, MitigationPhase::Applied);
        assert_eq!(a.message, "applied: approved");
        let (x, e) = step(&s, LedgerEvent::End(End::Expired), "t4").unwrap();
        assert_eq!((x.phase, e), (MitigationPhase::Reverted, None));
        assert_eq!(x.message, "expired before it was approved");
    }

    /// Break-glass: a record stopped before its apply ends Reverted with nothing applied; an
    /// applied one is removed and says why.
    #[test]
    fn break_glass_withdraws_before_and_after_the_apply() {
        let (s, e) = step(&proposed(), LedgerEvent::End(End::BreakGlass), "t1").unwrap();
        assert_eq!((s.phase, e), (MitigationPhase::Reverted, None));
        assert_eq!(s.message, "withdrawn by break-glass before it was applied");
        let (s, _) = step(&proposed(), LedgerEvent::Applied, "t1").unwrap();
        let (s, e) = step(&s, LedgerEvent::End(End::BreakGlass), "t2").unwrap();
        assert_eq!(e, Some(Effect::RemoveObject));
        let (s, _) = step(&s, LedgerEvent::Removed, "t3").unwrap();
        assert_eq!(s.phase, MitigationPhase::Reverted);
        assert_eq!(s.message, "reverted: withdrawn by break-glass");
    }

    #[test]
    fn durable_fix_retires_and_failures_are_recorded() {
        let (s, _) = step(&proposed(), LedgerEvent::Applied, "t1").unwrap();
        let (s, _) = step(&s, LedgerEvent::End(End::Retired), "t2").unwrap();
        let (s, _) = step(&s, LedgerEvent::Removed, "t3").unwrap();
        assert_eq!(s.phase, MitigationPhase::Retired);
        let (f, _) = step(
            &proposed(),
            LedgerEvent::ApplyFailed("forbidden".into()),
            "t1",
        )
        .unwrap();
        assert_eq!(f.phase, MitigationPhase::Failed);
        assert!(f.message.contains("forbidden"));
        let (r, e) = step(&proposed(), LedgerEvent::End(End::Retired), "t1").unwrap();
        assert_eq!((r.phase, e), (MitigationPhase::Retired, None));
    }
}
