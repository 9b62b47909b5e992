//! The incremental path is exact: whenever `relabel_pod` accepts one pod's new labels, the
//! patched analysis equals a full analysis of the changed cluster (graph, classes, chains, cut),
//! over many random relabelings applied one after another to the same analysis (some moving a
//! pod to another class its workload already has); and the changes that move something (a
//! class new to the workload, a Service's selection, the stable labels, a label read by name)
//! are refused, each at least once.

use std::collections::BTreeMap;

use rampart_graph::relabel::{Reprove, relabel_pod};
use rampart_graph::{Analysis, Options, analyze};
use rampart_model::parse::{ParseLimits, parse_source};
use rampart_model::{Change, Kind, Object, Snapshot};
use rampart_synth::{Config, Rng, Shape, snapshot};

/// Everything an analysis says, in a deterministic rendering (hash maps sorted).
fn fingerprint(a: &Analysis) -> String {
    let g = &a.graph;
    let mut class_ix: Vec<_> = g.class_ix.iter().collect();
    class_ix.sort();
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        g.graph,
        g.internet,
        g.cluster_admin,
        g.endpoints,
        g.identities,
        g.secrets,
        g.nodes,
        g.workloads.list,
        g.jewels,
        g.workload_ix,
        class_ix,
        g.warnings,
        g.grants,
        g.net.policies,
        g.net.classes,
        g.net.member_class,
        a.proof,
        a.plan,
    )
}

/// The synthetic cluster plus selectors on labels the generator never sets, so that relabeling
/// can move a pod between classes (`role: db`) or into a Service (`role: cache`).
fn cluster(seed: u64) -> Snapshot {
    let mut s = snapshot(&Config {
        pods: 150 + (seed as usize * 53) % 250,
        seed,
        shape: Shape::by_parity(seed),
    });
    let namespaces = s.namespace_names();
    let mut extra = String::new();
    for ns in namespaces.iter().step_by(2) {
        extra.push_str(&format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: db-only, namespace: {ns}}}\nspec:\n  podSelector: {{matchLabels: {{role: db}}}}\n  ingress: [{{from: [{{podSelector: {{matchLabels: {{tier: backend}}}}}}]}}]\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: cache, namespace: {ns}}}\nspec: {{type: LoadBalancer, selector: {{role: cache}}, ports: [{{port: 80, targetPort: 8080}}]}}\n---\n"
        ));
    }
    let parsed = parse_source("extra.yaml", &extra, &ParseLimits::default());
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    for o in parsed.objects {
        s.apply(Change::Upsert(Box::new(o)));
    }
    s
}

const VALUES: &[&str] = &["db", "cache", "web", "x"];

/// One random change to one pod (usually its labels only).
fn mutate(r: &mut Rng, pod: &mut rampart_model::objects::Pod, workload_apps: &[String]) {
    let l = &mut pod.metadata.labels;
    match r.below(10) {
        0 | 1 => {
            l.insert("bench".into(), format!("v{}", r.below(1000)));
        }
        2 => {
            l.insert("role".into(), VALUES[r.below(VALUES.len())].into());
        }
        3 => {
            l.remove("role");
            l.remove("bench");
        }
        4 => {
            l.remove("pod-template-hash");
        }
        5 => {
            let t = if l.get("tier").is_some_and(|t| t == "frontend") {
                "backend"
            } else {
                "frontend"
            };
            l.insert("tier".into(), t.into());
        }
        6 => {
            l.insert(
                "app".into(),
                workload_apps[r.below(workload_apps.len())].clone(),
            );
        }
        7 => {
            l.insert("k8s-app".into(), "kube-dns".into());
        }
        8 => {
            l.insert(format!("k{}", r.below(3)), "v".into());
        }
        _ => {
            // Not a relabel: must be refused.
            pod.spec.node_name = Some(format!("elsewhere-{}", r.below(3)));
        }
    }
    pod.metadata.resource_version = format!("{}", r.next_u64() % 1_000_000);
}

#[test]
fn accepted_relabels_equal_a_full_analysis() {
    let options = Options::default();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 1..=8u64 {
        let mut s = cluster(seed);
        let mut r = Rng::new(seed * 7919);
        let mut current = analyze(&s, &options);
        let apps: Vec<String> = current
            .graph
            .workloads
            .list
            .iter()
            .map(|w| w.name.clone())
            .collect();
        let pods: Vec<(String, String)> = s
            .of_kind(Kind::Pod)
            .map(|o| {
                let m = o.object.meta();
                (m.namespace.clone(), m.name.clone())
            })
            .collect();
        // Changes cluster in a few namespaces so that successive patches build on each other.
        let focus: Vec<&(String, String)> = pods.iter().take(25).collect();
        for step in 0..90 {
            let (ns, name) = if step % 3 == 0 {
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
            mutate(&mut r, new, &apps);
            let new = new.clone();
            s.apply(Change::Upsert(Box::new(located)));
            let full = analyze(&s, &options);
            // The class of the pod's group.
            let class_of = |a: &Analysis, labels: &rampart_model::Labels| {
                let w = a.graph.workloads.of_pod(ns, name).expect("workload");
                let gi = a.graph.workloads.list[w.index()]
                    .groups
                    .iter()
                    .position(|g| &g.labels == labels)
                    .expect("the pod's group");
                a.graph.net.member_class[w.index()][gi]
            };
            let class_before = class_of(&current, &old.metadata.labels);
            let outcome = relabel_pod(&mut current, &s, &old, &new);
            if outcome.is_ok() && class_of(&current, &new.metadata.labels) != class_before {
                *outcomes
                    .entry("accepted, pod moved between classes".into())
                    .or_default() += 1;
            }
            *outcomes
                .entry(match &outcome {
                    Ok(()) => "accepted".to_string(),
                    Err(e) => format!("{e:?}"),
                })
                .or_default() += 1;
            match outcome {
                Ok(()) => assert_eq!(
                    fingerprint(&current),
                    fingerprint(&full),
                    "seed {seed} step {step}: {ns}/{name} relabelled {:?} -> {:?}",
                    old.metadata.labels,
                    new.metadata.labels
                ),
                Err(_) => current = full,
            }
        }
    }
    eprintln!("{outcomes:?}");
    let count = |k: &str| outcomes.get(k).copied().unwrap_or(0);
    assert!(count("accepted") >= 100, "{outcomes:?}");
    assert!(
        count("accepted, pod moved between classes") > 0,
        "{outcomes:?}"
    );
    for refused in [
        Reprove::NotOnlyLabels,
        Reprove::NamedLabel,
        Reprove::StableLabels,
        Reprove::ClassMove,
        Reprove::Selection,
    ] {
        assert!(
            count(&format!("{refused:?}")) > 0,
            "{refused:?} never seen: {outcomes:?}"
        );
    }
}
