//! Killing the engine at any instant never leaves an untracked object nor loses a record: the
//! engine's write protocol is replayed step by step against a model cluster, cut at every
//! possible point, and reconciliation must always restore the ledger invariants.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rampart_api::{MitigationPhase, MitigationStatus};
use rampart_respond::ledger::{Effect, End, LedgerEvent, step};
use rampart_respond::reconcile::{ManagedObject, Record, Repair, reconcile};

/// The model cluster: Mitigation records (status + expired flag) and applied objects.
#[derive(Debug, Default, Clone)]
struct World {
    records: BTreeMap<String, (MitigationStatus, bool)>,
    objects: BTreeMap<String, String>, // object key -> mitigation
}

/// One atomic write the engine makes (each is one API call).
#[derive(Debug, Clone)]
enum Write {
    CreateRecord(String),
    Status(String, LedgerEvent),
    ApplyObject(String),
    DeleteObject(String),
    MarkExpired(String),
}

/// The engine's protocol for one mitigation's life: record first, object second, status third;
/// on the way out, mark the end, delete the object, then finish the record.
fn protocol(name: &str, ends: Option<End>) -> Vec<Write> {
    let mut w = vec![
        Write::CreateRecord(name.into()),
        Write::Status(name.into(), LedgerEvent::Approve),
        Write::ApplyObject(name.into()),
        Write::Status(name.into(), LedgerEvent::Applied),
    ];
    if let Some(e) = ends {
        if e == End::Expired {
            w.push(Write::MarkExpired(name.into()));
        }
        w.push(Write::Status(name.into(), LedgerEvent::End(e)));
        w.push(Write::DeleteObject(name.into()));
        w.push(Write::Status(name.into(), LedgerEvent::Removed));
    }
    w
}

fn key(name: &str) -> String {
    format!("shop/rampart-{name}")
}

fn apply(world: &mut World, w: &Write) {
    match w {
        Write::CreateRecord(n) => {
            world
                .records
                .insert(n.clone(), (MitigationStatus::default(), false));
        }
        Write::Status(n, e) => {
            if let Some((s, _)) = world.records.get_mut(n)
                && let Ok((next, _)) = step(s, e.clone(), "now")
            {
                *s = next;
            }
        }
        Write::ApplyObject(n) => {
            world.objects.insert(key(n), n.clone());
        }
        Write::DeleteObject(n) => {
            world.objects.remove(&key(n));
        }
        Write::MarkExpired(n) => {
            if let Some((_, exp)) = world.records.get_mut(n) {
                *exp = true;
            }
        }
    }
}

/// Runs reconciliation and performs its repairs, as the restarted engine does.
fn restart(world: &mut World) {
    for _ in 0..3 {
        let objects: Vec<ManagedObject> = world
            .objects
            .iter()
            .map(|(k, m)| ManagedObject {
                key: k.clone(),
                mitigation: m.clone(),
            })
            .collect();
        let records: Vec<Record> = world
            .records
            .iter()
            .map(|(n, (s, expired))| Record {
                name: n.clone(),
                phase: s.phase,
                expired: *expired,
                ending: s.message.starts_with("ending"),
                object_key: key(n),
            })
            .collect();
        let repairs = reconcile(&objects, &records);
        if repairs.is_empty() {
            return;
        }
        for r in repairs {
            match r {
                Repair::DeleteOrphan(k) => {
                    world.objects.remove(&k);
                }
                Repair::Adopt(n) => apply(world, &Write::Status(n, LedgerEvent::Applied)),
                Repair::Reapply(n) => apply(world, &Write::ApplyObject(n)),
                Repair::Resume(n) => {
                    apply(world, &Write::ApplyObject(n.clone()));
                    apply(world, &Write::Status(n, LedgerEvent::Applied));
                }
                Repair::Abandon(n) => apply(
                    world,
                    &Write::Status(n, LedgerEvent::ApplyFailed("never applied".into())),
                ),
                Repair::Finish(n) => {
                    let (s, _) = world.records[&n].clone();
                    let (s, eff) = if s.message.starts_with("ending") {
                        (s, None)
                    } else {
                        step(&s, LedgerEvent::End(End::Expired), "now").unwrap_or((s, None))
                    };
                    assert!(eff.is_none() || eff == Some(Effect::RemoveObject));
                    if let Ok((done, _)) = step(&s, LedgerEvent::Removed, "now") {
                        world.records.insert(n.clone(), (done, true));
                    }
                }
                Repair::Remove(n) => {
                    let (s, exp) = world.records[&n].clone();
                    let s = if s.message.starts_with("ending") {
                        s
                    } else {
                        step(&s, LedgerEvent::End(End::Expired), "now")
                            .map(|x| x.0)
                            .unwrap_or(s)
                    };
                    world.objects.remove(&key(&n));
                    if let Ok((done, _)) = step(&s, LedgerEvent::Removed, "now") {
                        world.records.insert(n.clone(), (done, exp));
                    }
                }
            }
        }
    }
}

fn invariants(world: &World) -> Result<(), String> {
    for (k, m) in &world.objects {
        match world.records.get(m) {
            Some((s, _)) if s.phase == MitigationPhase::Applied => {}
            other => return Err(format!("object {k} is untracked (record {other:?})")),
        }
    }
    for (n, (s, _)) in &world.records {
        if s.phase == MitigationPhase::Applied && !world.objects.contains_key(&key(n)) {
            return Err(format!("Applied record {n} has no object"));
        }
        if s.phase == MitigationPhase::Proposed {
            return Err(format!("record {n} is stuck in Proposed"));
        }
    }
    Ok(())
}

fn end() -> impl Strategy<Value = Option<End>> {
    prop_oneof![
        Just(None),
        Just(Some(End::Expired)),
        Just(Some(End::Retired)),
        Just(Some(End::Withdrawn))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_crash_at_any_write_is_repaired(ends in prop::collection::vec(end(), 1..5), cut_frac in 0.0f64..1.0) {
        // Interleave the protocols of several mitigations, then crash after `cut` writes.
        let mut writes = Vec::new();
        let protocols: Vec<Vec<Write>> = ends.iter().enumerate().map(|(i, e)| protocol(&format!("m{i}"), *e)).collect();
        let longest = protocols.iter().map(Vec::len).max().unwrap_or(0);
        for step_i in 0..longest {
            for p in &protocols {
                if let Some(w) = p.get(step_i) {
                    writes.push(w.clone());
                }
            }
        }
        let cut = ((writes.len() as f64) * cut_frac) as usize;
        let mut world = World::default();
        for w in &writes[..cut] {
            apply(&mut world, w);
        }
        restart(&mut world);
        prop_assert!(invariants(&world).is_ok(), "after crash at {cut}/{}: {:?}\n{world:?}", writes.len(), invariants(&world));
        // No record is ever lost: every mitigation whose record was written still has one.
        for w in &writes[..cut] {
            if let Write::CreateRecord(n) = w {
                prop_assert!(world.records.contains_key(n));
            }
        }
    }
}
