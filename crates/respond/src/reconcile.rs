//! Start-up (and periodic) reconciliation of the ledger with the cluster: every object rampart
//! applied has an Applied Mitigation, every Applied Mitigation has its object. Whatever a crash
//! left behind, the returned repairs restore both invariants.

use std::collections::BTreeMap;

use rampart_api::MitigationPhase;

/// An object in the cluster carrying rampart's managed-by label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedObject {
    /// `namespace/name` of the object.
    pub key: String,
    /// The Mitigation named by its label.
    pub mitigation: String,
}

/// A ledger record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Mitigation name.
    pub name: String,
    /// Phase.
    pub phase: MitigationPhase,
    /// Whether its expiry has passed (decided by the caller with its clock).
    pub expired: bool,
    /// Whether an end (expiry, retirement, withdrawal) is in progress.
    pub ending: bool,
    /// `namespace/name` of the object it applies.
    pub object_key: String,
}

/// One repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// An object no live record accounts for: delete it.
    DeleteOrphan(String),
    /// A Proposed record whose object exists (crash after apply, before the status update):
    /// mark it Applied.
    Adopt(String),
    /// An Applied record whose object is missing and which has not expired: apply it again.
    Reapply(String),
    /// An Applied record whose object is gone and which has expired or was ending: finish it.
    Finish(String),
    /// An Applied record that has expired, or whose end was interrupted, with its object
    /// present: (re)start its removal.
    Remove(String),
    /// A Proposed record with no object (a crash between recording and applying) that has not
    /// expired: apply it now.
    Resume(String),
    /// A Proposed record with no object whose time ran out: it never applied; mark it Failed.
    Abandon(String),
}

/// The repairs that restore the ledger invariants.
pub fn reconcile(objects: &[ManagedObject], records: &[Record]) -> Vec<Repair> {
    let by_name: BTreeMap<&str, &Record> = records.iter().map(|r| (r.name.as_str(), r)).collect();
    let present: BTreeMap<&str, &ManagedObject> =
        objects.iter().map(|o| (o.mitigation.as_str(), o)).collect();
    let mut out = Vec::new();
    for o in objects {
        match by_name.get(o.mitigation.as_str()) {
            Some(r) if r.object_key == o.key => match r.phase {
                MitigationPhase::Applied if r.expired || r.ending => {
                    out.push(Repair::Remove(r.name.clone()))
                }
                MitigationPhase::Applied => {}
                // A crash between an apply and its status (a Pending one was approved).
                MitigationPhase::Proposed | MitigationPhase::Pending => {
                    out.push(Repair::Adopt(r.name.clone()))
                }
                // Ended records must not leave objects behind.
                MitigationPhase::Reverted | MitigationPhase::Retired | MitigationPhase::Failed => {
                    out.push(Repair::DeleteOrphan(o.key.clone()))
                }
            },
            _ => out.push(Repair::DeleteOrphan(o.key.clone())),
        }
    }
    for r in records {
        if r.phase == MitigationPhase::Proposed && !present.contains_key(r.name.as_str()) {
            out.push(if r.expired {
                Repair::Abandon(r.name.clone())
            } else {
                Repair::Resume(r.name.clone())
            });
        }
        if r.phase == MitigationPhase::Applied && !present.contains_key(r.name.as_str()) {
            if r.expired || r.ending {
                out.push(Repair::Finish(r.name.clone()));
            } else {
                out.push(Repair::Reapply(r.name.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, phase: MitigationPhase, expired: bool) -> Record {
        Record {
            name: name.into(),
            phase,
            expired,
            ending: false,
            object_key: format!("ns/{name}"),
        }
    }

    fn obj(name: &str) -> ManagedObject {
        ManagedObject {
            key: format!("ns/{name}"),
            mitigation: name.into(),
        }
    }

    #[test]
    fn every_kind_of_drift_is_repaired() {
        let records = [
            rec("ok", MitigationPhase::Applied, false),
            rec("lost-object", MitigationPhase::Applied, false),
            rec("lost-expired", MitigationPhase::Applied, true),
            rec("crashed-after-apply", MitigationPhase::Proposed, false),
            rec("expired", MitigationPhase::Applied, true),
            rec("ended", MitigationPhase::Reverted, true),
        ];
        let objects = [
            obj("ok"),
            obj("crashed-after-apply"),
            obj("expired"),
            obj("ended"),
            obj("stranger"),
        ];
        let mut r = reconcile(&objects, &records);
        r.sort_by_key(|x| format!("{x:?}"));
        assert_eq!(
            r,
            vec![
                Repair::Adopt("crashed-after-apply".into()),
                Repair::DeleteOrphan("ns/ended".into()),
                Repair::DeleteOrphan("ns/stranger".into()),
                Repair::Finish("lost-expired".into()),
                Repair::Reapply("lost-object".into()),
                Repair::Remove("expired".into()),
            ]
        );
    }
}
