//! Threat-model diffs between analyses: what a change (or a cut) adds and removes.

mod common;

use common::*;
use rampart_graph::cut::apply_plan;
use rampart_graph::diff::diff;
use rampart_graph::{Options, analyze};

const EXPOSED: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: app}\nspec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: app, labels: {app: web}}\nspec: {volumes: [{name: s, secret: {secretName: db}}], containers: [{name: c, ports: [{containerPort: 8080}], volumeMounts: [{name: s, mountPath: /s}]}]}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: app}\n";

#[test]
fn identical_analyses_have_no_diff() {
    let a = analysis(EXPOSED);
    let b = analysis(EXPOSED);
    assert!(diff(&a, &b).is_empty());
}

#[test]
fn exposing_a_workload_adds_its_chain_and_the_cut_removes_it() {
    let internal = EXPOSED.replace("LoadBalancer", "ClusterIP");
    let before = analysis(&internal);
    let after = analysis(EXPOSED);
    let d = diff(&before, &after);
    assert_eq!(d.chains_added.len(), after.proof.chains.len());
    assert!(!d.chains_added.is_empty() && d.chains_removed.is_empty());
    assert!(
        d.relations_added.iter().any(|r| r.edge == "exposes"),
        "{:?}",
        d.relations_added
    );
    // The Secret, and the exposed pod's egress to the internet (Exfiltration).
    assert_eq!(d.jewels_reachable, (0, 2));

    let snap = snapshot(EXPOSED);
    let cut = analyze(&apply_plan(&snap, &after.plan), &Options::default());
    let d = diff(&after, &cut);
    assert_eq!(d.chains_removed.len(), after.proof.chains.len());
    assert!(d.chains_added.is_empty());
    assert!(!d.relations_removed.is_empty());
    assert_eq!(d.jewels_reachable, (2, 0));
}

/// Issue 14 item 6: a chain's id is what identifies it (entry object and port, target), never a
/// value the API server assigns — the manifests and the live Service (with its nodePort) agree,
/// and re-creating the Service (another nodePort) changes no id.
#[test]
fn chain_and_cut_ids_ignore_the_assigned_node_port() {
    let ids = |y: &str| {
        let a = analysis(y);
        let chains: Vec<String> = a.proof.chains.iter().map(|c| c.id.clone()).collect();
        let cuts: Vec<String> = a.plan.cuts.iter().map(|c| c.id.clone()).collect();
        (chains, cuts)
    };
    let manifest = ids(EXPOSED);
    assert!(!manifest.0.is_empty());
    let live = |np: u32| {
        EXPOSED.replace(
            "ports: [{port: 80, targetPort: 8080}]",
            &format!("ports: [{{port: 80, targetPort: 8080, nodePort: {np}}}]"),
        )
    };
    assert_ne!(live(30929), EXPOSED);
    assert_eq!(ids(&live(30929)), manifest);
    assert_eq!(ids(&live(31000)), manifest);
    // The node port is still shown.
    let a = analysis(&live(30929));
    assert!(
        a.graph
            .endpoints
            .iter()
            .any(|e| e.shown().contains("nodePort 30929"))
    );
}

/// A first analysis adds every relation of the cluster: the diff lists the first
/// `MAX_LISTED_RELATIONS` in order and counts them all, each way.
#[test]
fn a_diff_lists_at_most_its_cap_of_relations_and_counts_them_all() {
    use rampart_graph::diff::MAX_LISTED_RELATIONS;
    let mut yaml = String::new();
    for i in 0..400 {
        yaml.push_str(
            &EXPOSED
                .replace("app: web", &format!("app: web{i}"))
                .replace("namespace: app", &format!("namespace: app{i}")),
        );
        yaml.push_str("---\n");
    }
    let empty = analysis("");
    let full = analysis(&yaml);
    let added = diff(&empty, &full);
    assert!(added.relations_added_total > MAX_LISTED_RELATIONS);
    assert_eq!(added.relations_added.len(), MAX_LISTED_RELATIONS);
    assert!(added.relations_added.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        (added.relations_removed.len(), added.relations_removed_total),
        (0, 0)
    );
    let removed = diff(&full, &empty);
    assert_eq!(removed.relations_removed_total, added.relations_added_total);
    assert_eq!(removed.relations_removed, added.relations_added);
}
