//! Inspektor Gadget's advisor test pairs (`tests/corpora/flows/inspektor-gadget`): observed
//! events → the policies that tool generated. rampart's suggestions must allow the same
//! connections, compared through rampart's own reachability (np-guard-style connectivity
//! listings over a cluster read off the events), except where a difference is deliberate —
//! each such line pinned here with its reason.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use rampart_graph::connectivity::connectivity;
use rampart_model::{ParseLimits, Snapshot, parse_source};
use rampart_netpol::{Collector, Settings, infer, plan, read_flows};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora/flows/inspektor-gadget")
}

/// The cluster the events describe, the connectivity under IG's policies and under rampart's.
fn compare(input: &Path, golden: &Path) -> (Vec<String>, Vec<String>, usize) {
    let mut collected = Collector::default();
    let text = std::fs::read(input).unwrap();
    let (_, tally) = read_flows("input", &text[..], None, |f| collected.add(f)).unwrap();
    assert_eq!(
        tally.malformed,
        0,
        "{}: {:?}",
        input.display(),
        tally.errors
    );
    let mut cluster = Snapshot::new();
    infer::complete(&mut cluster, &collected);
    let plan = plan(&cluster, &collected, &Settings::default(), false);
    assert!(
        plan.verification.keeps_every_flow(),
        "{:?}",
        plan.verification.broken
    );

    let mut theirs = cluster.clone();
    let golden_text = std::fs::read_to_string(golden).unwrap();
    for o in parse_source("golden", &golden_text, &ParseLimits::default()).objects {
        theirs.apply(rampart_model::Change::Upsert(Box::new(o)));
    }
    let mut ours = cluster.clone();
    for p in &plan.policies {
        rampart_graph::fix::Fix::AddNetworkPolicy(p.clone()).apply(&mut ours);
    }
    // The listings cut external addresses at every ipBlock of the input: give both sides the
    // same cuts (a policy that selects no pod), so they compare range by range.
    let blocks: Vec<serde_json::Value> = plan
        .policies
        .iter()
        .flat_map(|p| ["ingress", "egress"].map(|d| p["spec"][d].clone()))
        .filter_map(|rules| rules.as_array().cloned())
        .flatten()
        .flat_map(|r| {
            ["from", "to"]
                .iter()
                .filter_map(|k| r[*k].as_array().cloned())
                .flatten()
                .collect::<Vec<_>>()
        })
        .filter(|peer| peer.get("ipBlock").is_some())
        .collect();
    if !blocks.is_empty() {
        let cuts = serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "cuts", "namespace": "zz-cuts"},
            "spec": {"podSelector": {"matchLabels": {"none": "none"}}, "policyTypes": ["Ingress", "Egress"],
                     "ingress": [{"from": blocks}], "egress": [{"to": blocks}]},
        });
        for s in [&mut theirs, &mut ours] {
            rampart_graph::fix::Fix::AddNetworkPolicy(cuts.clone()).apply(s);
        }
    }
    let show = |s: &Snapshot| {
        connectivity(s)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    (show(&theirs), show(&ours), plan.observed.connections)
}

fn diff(theirs: &[String], ours: &[String]) -> Vec<String> {
    let mut d: Vec<String> = theirs
        .iter()
        .filter(|l| !ours.contains(l))
        .map(|l| format!("- {l}"))
        .chain(
            ours.iter()
                .filter(|l| !theirs.contains(l))
                .map(|l| format!("+ {l}")),
        )
        .collect();
    d.sort();
    d
}

/// IG writes a policy for the traced pod only; rampart covers both ends of every observed
/// connection, so the remote pod's own policy closes it to the rest (here: the internet).
fn remote_closed(ns: &str, name: &str, kind: &str) -> [String; 2] {
    [
        format!("- 0.0.0.0-255.255.255.255[External] => {ns}/{name}[{kind}] : All Connections"),
        format!("- {ns}/{name}[{kind}] => 0.0.0.0-255.255.255.255[External] : All Connections"),
    ]
}

const TEST_NS: &str = "test-networkpolicy-8485776873410829123";

/// The v2 pairs: DNS over TCP too (resolvers fall back to TCP for long answers; IG keeps only
/// the UDP it saw), and the API server by the address the event gives (IG names every pod of
/// namespace `default` on 443, which selects no pod: the API server is no pod).
fn v2_differences() -> Vec<String> {
    vec![
        format!("+ {TEST_NS}/test-pod[Pod] => 10.96.0.1-10.96.0.1[External] : TCP 443"),
        format!("+ {TEST_NS}/test-pod[Pod] => kube-system/kube-dns-backend[Pod] : TCP 53,UDP 53"),
        format!("- {TEST_NS}/test-pod[Pod] => kube-system/kube-dns-backend[Pod] : UDP 53"),
    ]
}

fn expected(case: &str) -> Vec<String> {
    let mut v: Vec<String> = match case {
        "advisor-v1-2022/accept-from-pod" => {
            remote_closed("demo", "checkoutservice", "Deployment").into()
        }
        "advisor-v1-2022/connect-to-svc-duplicate" => {
            remote_closed("demo", "paymentservice-AAAAA-backend", "Pod").into()
        }
        "advisor-v1-2022/connect-to-svc" => {
            remote_closed("demo", "paymentservice-backend", "Pod").into()
        }
        "advisor-v1-2022/connect-to-svc-namespace" => {
            let mut v: Vec<String> = remote_closed("demo2", "paymentservice-backend", "Pod").into();
            // IG's 2020 advisor selects the peer namespace by a label `name: demo2` that
            // namespaces do not carry: under NetworkPolicy semantics its own policy denies the
            // connection it observed. rampart selects by `kubernetes.io/metadata.name`, which
            // every namespace has (Kubernetes ≥ 1.21; IG's later advisor does the same).
            v.push("+ demo1/checkoutservice[Deployment] => demo2/paymentservice-backend[Pod] : TCP 50051".into());
            v
        }
        "advisor-v1-2022/multiple" | "advisor-v1-2022/empty" | "advisor-v2-2023/empty" => {
            Vec::new()
        }
        "advisor-v2-2023/connect-to-svc" | "advisor-v2-2023/connect-to-svc-duplicate" => {
            v2_differences()
        }
        other => panic!("no expectation for {other}"),
    };
    v.sort();
    v
}

#[test]
fn rampart_allows_what_inspektor_gadget_allows_but_for_the_pinned_differences() {
    let mut cases = 0;
    for dir in ["advisor-v1-2022", "advisor-v2-2023"] {
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(corpus().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "input"))
            .collect();
        inputs.sort();
        for input in inputs {
            let case = format!("{dir}/{}", input.file_stem().unwrap().to_string_lossy());
            let (theirs, ours, _) = compare(&input, &input.with_extension("golden"));
            assert_eq!(diff(&theirs, &ours), expected(&case), "{case}");
            cases += 1;
        }
    }
    assert_eq!(cases, 9);
}

#[test]
fn the_pairs_with_traffic_agree_line_for_line_on_the_observed_pods() {
    // `multiple` has both ends traced by IG: there the two tools agree on everything.
    let input = corpus().join("advisor-v1-2022/multiple.input");
    let (theirs, ours, connections) = compare(&input, &input.with_extension("golden"));
    assert_eq!(connections, 1);
    assert_eq!(theirs, ours);
    assert!(
        ours.contains(
            &"demo/checkoutservice[Deployment] => demo/shippingservice[Deployment] : TCP 50051"
                .to_string()
        ),
        "{ours:?}"
    );
}
