//! Properties of the minimal cut on many generated clusters: applying the whole plan leaves no
//! chain; applying only the live (NetworkPolicy) cuts breaks every chain those cuts claim to
//! break; the cut is a cut, and costs no more than closing every exposure, nor than cutting each
//! listed chain at its cheapest edge when that is a cut.

use petgraph::Direction;
use petgraph::graph::EdgeIndex;
use petgraph::visit::EdgeRef;
use rampart_graph::cut::apply_plan;
use rampart_graph::fix::Fix;
use rampart_graph::model::Cost;
use rampart_graph::{Analysis, CutPlan, Options, analyze};
use rampart_synth::{Config, Shape, snapshot};

fn configs() -> impl Iterator<Item = Config> {
    (1..=12u64).map(|seed| Config {
        pods: 150 + (seed as usize * 37) % 400,
        seed,
        shape: Shape::by_parity(seed),
    })
}

#[test]
fn applying_the_plan_leaves_no_chain() {
    let mut with_chains = 0;
    for cfg in configs() {
        let s = snapshot(&cfg);
        let a = analyze(&s, &Options::default());
        if !a.proof.has_chains() {
            continue;
        }
        with_chains += 1;
        let after = analyze(&apply_plan(&s, &a.plan), &Options::default());
        assert_eq!(
            after.proof.jewels_reachable,
            0,
            "seed {}: {} chains remain, e.g. {:?}",
            cfg.seed,
            after.proof.chains.len(),
            after.proof.chains.first().map(|c| c.id.clone())
        );
    }
    assert!(with_chains >= 8, "the generator should produce chains");
}

#[test]
fn live_cuts_break_what_they_claim() {
    let mut live_seen = 0;
    for cfg in configs() {
        let s = snapshot(&cfg);
        let a = analyze(&s, &Options::default());
        let live = CutPlan {
            cuts: a.plan.cuts.iter().filter(|c| c.live).cloned().collect(),
            ..CutPlan::default()
        };
        if live.cuts.is_empty() {
            continue;
        }
        live_seen += live.cuts.len();
        // A cut names every chain with a path across its edge. A chain claimed by a live cut
        // survives the live cuts only along a path across a cut that is not live.
        fn named(c: &rampart_graph::Cut) -> impl Iterator<Item = String> + '_ {
            c.breaks.iter().map(ToString::to_string)
        }
        let claimed: Vec<String> = live.cuts.iter().flat_map(named).collect();
        let elsewhere: Vec<String> = a
            .plan
            .cuts
            .iter()
            .filter(|c| !c.live)
            .flat_map(named)
            .collect();
        let after = analyze(&apply_plan(&s, &live), &Options::default());
        for c in &after.proof.chains {
            assert!(
                !claimed.contains(&c.id) || elsewhere.contains(&c.id),
                "seed {}: chain {} survives the live cuts that claim it",
                cfg.seed,
                c.id
            );
        }
        // Every cut breaks some chain (issue 14 item 2: a cut naming none retired at once).
        for cut in &a.plan.cuts {
            assert!(
                !cut.breaks.is_empty(),
                "seed {}: {} breaks nothing",
                cfg.seed,
                cut.id
            );
        }
        // Every chain is named by some cut of the plan (the plan breaks them all).
        let all: Vec<String> = a.plan.cuts.iter().flat_map(named).collect();
        for c in &a.proof.chains {
            assert!(
                all.contains(&c.id),
                "seed {}: no cut names {}",
                cfg.seed,
                c.id
            );
        }
        // Every live cut carries a NetworkPolicy manifest.
        for c in &live.cuts {
            assert!(
                c.fixes
                    .iter()
                    .any(|f| matches!(f, Fix::AddNetworkPolicy(_))),
                "seed {}: live cut {} has no NetworkPolicy",
                cfg.seed,
                c.id
            );
        }
    }
    assert!(live_seen > 0, "the generator should produce live cuts");
}

/// Whether removing `edges` leaves no jewel reachable from the internet.
fn disconnects(a: &Analysis, edges: &[EdgeIndex]) -> bool {
    let g = &a.graph;
    let mut seen = vec![false; g.graph.node_count()];
    let mut stack = vec![g.internet];
    seen[g.internet.index()] = true;
    while let Some(u) = stack.pop() {
        for e in g.graph.edges_directed(u, Direction::Outgoing) {
            if !edges.contains(&e.id()) && !seen[e.target().index()] {
                seen[e.target().index()] = true;
                stack.push(e.target());
            }
        }
    }
    g.jewels.iter().all(|j| !seen[j.index()])
}

#[test]
fn the_cut_is_no_dearer_than_cutting_each_chain_at_its_cheapest_edge() {
    // Cutting each listed chain at its cheapest edge is a cut only when no other path reaches
    // the same jewels (a listed chain is one shortest path; a workload's token may reach the
    // same Secret another way): then it is an upper bound on the minimal cut.
    let mut bounded = 0;
    for cfg in configs() {
        let a = analyze(&snapshot(&cfg), &Options::default());
        let mut cheapest: Vec<_> = a.plan.cheapest.values().collect();
        cheapest.sort();
        cheapest.dedup_by_key(|(e, _)| *e);
        let naive: u64 = cheapest.iter().map(|(_, c)| u64::from(*c)).sum();
        let edges: Vec<EdgeIndex> = cheapest.iter().map(|(e, _)| *e).collect();
        if a.proof.truncated_entries == 0 && disconnects(&a, &edges) {
            bounded += 1;
            assert!(
                a.plan.total_cost <= naive,
                "seed {}: cut {} > naive {}",
                cfg.seed,
                a.plan.total_cost,
                naive
            );
        }
        // Closing every exposure is always a cut.
        let exposures: Vec<EdgeIndex> = a
            .graph
            .graph
            .edges_directed(a.graph.internet, Direction::Outgoing)
            .map(|e| e.id())
            .collect();
        let closing: u64 = exposures
            .iter()
            .map(|e| match a.graph.graph[*e].cost {
                Cost::Finite(c) => u64::from(c),
                Cost::Never => u64::MAX / 4,
            })
            .sum();
        assert!(disconnects(&a, &exposures));
        assert!(
            a.plan.total_cost <= closing,
            "seed {}: cut {} > closing every exposure {closing}",
            cfg.seed,
            a.plan.total_cost
        );
        // The plan's cut is a cut.
        let cut: Vec<EdgeIndex> = a
            .plan
            .cuts
            .iter()
            .flat_map(|c| std::iter::once(c.edge).chain(c.also.iter().copied()))
            .collect();
        assert!(
            disconnects(&a, &cut),
            "seed {}: the plan leaves a path",
            cfg.seed
        );
        let sum: u64 = a.plan.cuts.iter().map(|c| u64::from(c.cost)).sum();
        assert_eq!(sum, a.plan.total_cost, "seed {}", cfg.seed);
    }
    assert!(
        bounded >= 2,
        "only {bounded} clusters where the naive cut is a cut"
    );
}

/// Issue 14 items 2 and 3 on the demo cluster and the corpora: every cut names the chains it
/// breaks (a cut naming none — prometheus's in the demo — was retired at once by the engine and
/// flapped), listed or not; and no two live cuts are realised by the same NetworkPolicies (two
/// Mitigations fought over one object).
#[test]
fn corpus_cuts_name_their_chains_and_live_cuts_are_distinct() {
    use rampart_files::{LoadOptions, load_paths};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cuts = 0;
    for dir in [
        "examples/demo-cluster",
        "tests/corpora/kubernetes-goat",
        "tests/corpora/kubehound-attacks",
    ] {
        let loaded = load_paths(&[root.join(dir)], &LoadOptions::default());
        // With a listing limit of one chain per entry, unlisted chains are named too.
        for limit in [0, 1, 20] {
            let options = Options {
                prove: rampart_graph::ProveOptions {
                    max_chains_per_entry: limit,
                },
                ..Options::default()
            };
            let a = analyze(&loaded.snapshot, &options);
            let mut seen: Vec<Vec<String>> = Vec::new();
            for cut in &a.plan.cuts {
                cuts += 1;
                assert!(!cut.breaks.is_empty(), "{dir}: {} breaks nothing", cut.id);
                if cut.live {
                    let mut objects: Vec<String> = cut
                        .fixes
                        .iter()
                        .filter_map(|f| f.manifest().map(|m| m.to_string()))
                        .collect();
                    objects.sort();
                    assert!(
                        !seen.contains(&objects),
                        "{dir}: {} repeats a live cut",
                        cut.id
                    );
                    seen.push(objects);
                }
            }
            // The ids a cut names are the proof's own.
            for c in &a.proof.chains {
                assert_eq!(
                    rampart_graph::prove::chain_id(&a.graph, c.entry, c.target),
                    c.id
                );
            }
            // Every listed chain is named by some cut.
            let all: std::collections::BTreeSet<String> = a
                .plan
                .cuts
                .iter()
                .flat_map(|c| c.breaks.iter().map(ToString::to_string))
                .collect();
            for c in &a.proof.chains {
                assert!(all.contains(&c.id), "{dir}: no cut names {}", c.id);
            }
        }
    }
    assert!(cuts > 10, "only {cuts} cuts");
}

/// A cut names every listed chain it breaks and at most `MAX_UNLISTED_BREAKS` others, counting
/// the rest: on a cluster whose cuts break more unlisted chains than that, every listed chain is
/// still named by some cut.
#[test]
fn cuts_name_every_listed_chain_and_count_the_unlisted_past_the_cap() {
    use rampart_graph::cut::MAX_UNLISTED_BREAKS;
    use std::collections::BTreeSet;
    let a = analyze(
        &snapshot(&Config::with_pods(3_000).shaped(Shape::Dense)),
        &Options::default(),
    );
    let listed: BTreeSet<String> = a.proof.chains.iter().map(|c| c.id.clone()).collect();
    let mut named = BTreeSet::new();
    let mut capped = 0;
    for cut in &a.plan.cuts {
        let ids: Vec<String> = cut.breaks.iter().map(ToString::to_string).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{}: unsorted", cut.id);
        let unlisted = ids.iter().filter(|id| !listed.contains(*id)).count();
        // Merged cuts (same NetworkPolicies) carry each merged cut's share.
        assert!(
            unlisted <= MAX_UNLISTED_BREAKS * (1 + cut.also.len()),
            "{}: {unlisted} unlisted named",
            cut.id
        );
        if cut.breaks_unnamed > 0 {
            capped += 1;
            assert!(
                cut.notes
                    .iter()
                    .any(|n| n.contains(&cut.breaks_unnamed.to_string())),
                "{}: {:?}",
                cut.id,
                cut.notes
            );
        }
        named.extend(ids);
    }
    assert!(
        capped > 0,
        "no cut broke more than {MAX_UNLISTED_BREAKS} unlisted chains"
    );
    for id in &listed {
        assert!(named.contains(id), "no cut names {id}");
    }
}
