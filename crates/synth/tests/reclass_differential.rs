//! The class-move path is exact: whenever `update_pod` patches one pod's new labels (a move
//! to another reachability class, a new Service selection, new stable labels), the patched
//! analysis says what a full analysis of the changed cluster says — the same relations, class
//! memberships, chains step for step, cut plan and threat diff — compared by what vertices
//! stand for, since a patched graph keeps other indices. Changes apply one after another to the
//! same analysis, so patches build on patches: classes appear, empty and fill again.

mod common;

use std::collections::BTreeMap;

use common::{ROLES, assert_same, cluster, render};
use rampart_graph::diff::diff;
use rampart_graph::reclass::{Update, update_pod};
use rampart_graph::{Options, analyze};
use rampart_model::{Change, Kind, Object, Snapshot};
use rampart_synth::{Rng, Shape};

/// One random change to one pod's labels (rarely something else, which must be refused).
fn mutate(r: &mut Rng, pod: &mut rampart_model::objects::Pod) {
    let l = &mut pod.metadata.labels;
    match r.below(8) {
        0 | 1 => {
            l.insert("role".into(), ROLES[r.below(ROLES.len())].into());
        }
        2 => {
            l.remove("role");
        }
        3 => {
            let t = if l.get("tier").is_some_and(|t| t == "frontend") {
                "backend"
            } else {
                "frontend"
            };
            l.insert("tier".into(), t.into());
        }
        4 => {
            l.insert("lock".into(), "on".into());
        }
        5 => {
            l.remove("lock");
        }
        6 => {
            l.remove("pod-template-hash");
        }
        _ => {
            pod.spec.node_name = Some(format!("elsewhere-{}", r.below(3)));
        }
    }
    pod.metadata.resource_version = format!("{}", r.next_u64() % 1_000_000);
}

/// Tallies of what happened to each change.
#[derive(Default)]
struct Tally {
    outcomes: BTreeMap<String, usize>,
    new_classes: usize,
}

impl Tally {
    fn count(&self, k: &str) -> usize {
        self.outcomes.get(k).copied().unwrap_or(0)
    }
}

/// Applies `steps` changes made by `mutate` to pods of `s`, one after another, patching one
/// analysis where the incremental paths accept and checking it against a full analysis.
fn run(
    label: &str,
    mut s: Snapshot,
    r: &mut Rng,
    steps: usize,
    mutate: &dyn Fn(&mut Rng, &mut rampart_model::objects::Pod),
    tally: &mut Tally,
) {
    let options = Options::default();
    let mut current = analyze(&s, &options);
    let pods: Vec<(String, String)> = s
        .of_kind(Kind::Pod)
        .map(|o| {
            let m = o.object.meta();
            (m.namespace.clone(), m.name.clone())
        })
        .collect();
    // Changes cluster on a few pods so that patches build on patches.
    let focus: Vec<&(String, String)> = pods.iter().step_by(7).take(20).collect();
    for step in 0..steps {
        let (ns, name) = if step % 4 == 0 {
            &pods[r.below(pods.len())]
        } else {
            focus[r.below(focus.len())]
        };
        let mut located = s.get(Kind::Pod, ns, name).cloned().expect("pod");
        let Object::Pod(old) = located.object.clone() else {
            unreachable!("a pod");
        };
        let Object::Pod(new) = &mut located.object else {
            unreachable!("a pod");
        };
        mutate(r, new);
        let new = new.clone();
        s.apply(Change::Upsert(Box::new(located)));
        let full = analyze(&s, &options);
        // The engine's entry point: relabel when nothing that reads the labels moved, else
        // the patch.
        let want_diff = diff(&current, &full);
        let classes = current.graph.net.classes.len();
        let outcome = update_pod(&mut current, &s, &old, &new, &options).map(|u| match u {
            Update::Relabelled => None,
            Update::Reclassed(d) => Some((d, want_diff)),
        });
        tally.new_classes += current.graph.net.classes.len() - classes;
        let what = format!(
            "{label} step {step}: {ns}/{name} relabelled {:?} -> {:?}",
            old.metadata.labels, new.metadata.labels
        );
        let mut seen = |k: &str| *tally.outcomes.entry(k.to_string()).or_default() += 1;
        match &outcome {
            Ok(None) => seen("relabel"),
            Ok(Some(_)) => seen("reclass"),
            Err(e) => seen(&format!("{e:?}")),
        }
        match outcome {
            Ok(patched) => {
                assert_same(&render(&current), &render(&full), &what);
                if let Some((got, want)) = patched {
                    assert_eq!(got, want, "{what}: threat diff");
                    if !got.is_empty() {
                        seen("reclass, diff");
                    }
                    if got
                        .relations_added
                        .iter()
                        .chain(&got.relations_removed)
                        .any(|r| r.edge == "routes-to")
                    {
                        seen("reclass, route");
                    }
                }
            }
            Err(_) => current = full,
        }
    }
}

#[test]
fn class_moves_patched_equal_a_full_analysis() {
    let mut tally = Tally::default();
    // Six sparse clusters, then three policy-dense ones (rules shared across namespaces).
    for seed in 1..=9u64 {
        let shape = if seed <= 6 {
            Shape::Sparse
        } else {
            Shape::Dense
        };
        let mut r = Rng::new(seed * 104_729);
        run(
            &format!("seed {seed} {}", shape.name()),
            cluster(seed, shape),
            &mut r,
            60,
            &mutate,
            &mut tally,
        );
    }
    eprintln!(
        "{:?}, {} classes added by patches",
        tally.outcomes, tally.new_classes
    );
    assert!(tally.count("reclass") >= 60, "{:?}", tally.outcomes);
    assert!(tally.count("reclass, diff") >= 20, "{:?}", tally.outcomes);
    assert!(tally.count("reclass, route") >= 5, "{:?}", tally.outcomes);
    // A pod moved to a node the cluster has no Node object for: a vertex a full build adds.
    assert!(tally.count("NewNode") > 0, "{:?}", tally.outcomes);
    assert!(tally.new_classes > 0, "no patch added a class");
}
