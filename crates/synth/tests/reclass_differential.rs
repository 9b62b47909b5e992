//! The class-move path is exact: whenever `update_pod` patches one pod's new labels (a move
//! to another reachability class, a new Service selection, new stable labels), the patched
//! analysis says what a full analysis of the changed cluster says — the same relations, class
//! memberships, chains step for step, cut plan and threat diff — compared by what vertices
//! stand for, since a patched graph keeps other indices. Changes apply one after another to the
//! same analysis, so patches build on patches: classes appear, empty and fill again.

use std::collections::BTreeMap;

use petgraph::graph::NodeIndex;
use rampart_graph::diff::diff;
use rampart_graph::model::Vertex;
use rampart_graph::prove::entry_key;
use rampart_graph::reclass::{Update, update_pod};
use rampart_graph::{Analysis, Options, SecurityGraph, analyze};
use rampart_model::parse::{ParseLimits, parse_source};
use rampart_model::{Change, Kind, Object, Snapshot};
use rampart_synth::{Config, Rng, Shape, snapshot};

/// A vertex by what it stands for (a class by its signature, not its index).
fn vertex_key(g: &SecurityGraph, v: NodeIndex) -> String {
    match g.graph[v] {
        Vertex::NetSrc(c) => format!("src {:?}", g.net.class(c).signature()),
        Vertex::NetDst(c) => format!("dst {:?}", g.net.class(c).signature()),
        _ => format!("{:?}", entry_key(g, v)),
    }
}

fn edge_key(g: &SecurityGraph, e: petgraph::graph::EdgeIndex) -> String {
    let (a, b) = g.graph.edge_endpoints(e).expect("edge");
    let w = &g.graph[e];
    format!(
        "{} -[{:?} {:?} {:?} {:?} {:?} {:?}]-> {}",
        vertex_key(g, a),
        w.kind,
        w.ports,
        w.cost,
        w.evidence,
        w.rules,
        w.grants,
        vertex_key(g, b)
    )
}

/// Everything an analysis says, without indices: vertices with edges, every edge, the classes
/// and their members, each workload's classes, chains, cut plan.
fn render(a: &Analysis) -> Vec<String> {
    let g = &a.graph;
    let mut out = Vec::new();
    let mut vertices: Vec<String> = g
        .graph
        .node_indices()
        .filter(|v| g.graph.neighbors_undirected(*v).next().is_some())
        .map(|v| vertex_key(g, v))
        .collect();
    vertices.sort();
    out.push(format!("vertices {vertices:?}"));
    let mut edges: Vec<String> = g.graph.edge_indices().map(|e| edge_key(g, e)).collect();
    edges.sort();
    out.extend(edges);
    out.push(format!("classes {}", g.net.class_count()));
    let mut classes: Vec<String> = g
        .net
        .classes
        .iter()
        .filter(|c| !c.members.is_empty())
        .map(|c| format!("{:?} {:?}", c.signature(), c.members))
        .collect();
    classes.sort();
    out.extend(classes);
    for w in &g.workloads.list {
        let sigs: Vec<_> = g.net.member_class[w.id.index()]
            .iter()
            .map(|c| g.net.class(*c).signature())
            .collect();
        out.push(format!("{} {:?} {sigs:?}", w.display(), w.groups));
    }
    let p = &a.proof;
    out.push(format!(
        "jewels {} entries {} truncated {}",
        p.jewels_reachable, p.entries, p.truncated_entries
    ));
    for c in &p.chains {
        let steps: Vec<String> = c.edges.iter().map(|e| edge_key(g, *e)).collect();
        out.push(format!(
            "chain {} {} {:?} {:?} {} {steps:#?}",
            c.id,
            vertex_key(g, c.entry),
            c.target_kind,
            c.confidence,
            c.length
        ));
    }
    let plan = &a.plan;
    out.push(format!(
        "cut total {} relevant {}",
        plan.total_cost, plan.relevant_vertices
    ));
    for c in &plan.cuts {
        let fixes: Vec<String> = c.fixes.iter().map(|f| format!("{f:?}")).collect();
        out.push(format!(
            "cut {} {} {:?} {} -> {} cost {} live {} {fixes:?} breaks {:?} notes {:?}",
            c.id,
            edge_key(g, c.edge),
            c.kind,
            c.from,
            c.to,
            c.cost,
            c.live,
            c.breaks,
            c.notes
        ));
    }
    for (chain, (e, cost)) in &plan.cheapest {
        out.push(format!("cheapest {chain} {} {cost}", edge_key(g, *e)));
    }
    out
}

fn assert_same(got: &[String], want: &[String], what: &str) {
    for (a, b) in got.iter().zip(want) {
        assert_eq!(a, b, "{what}");
    }
    assert_eq!(got.len(), want.len(), "{what}: length");
}

/// The synthetic cluster plus policies and a Service over labels the generator never sets:
/// `role: db` isolates ingress to backend peers, `lock: on` restricts egress to backends on
/// 8080, `role: cache` is exposed through a LoadBalancer (on each port the generator uses).
fn cluster(seed: u64, shape: Shape) -> Snapshot {
    let mut s = snapshot(&Config {
        pods: 150 + (seed as usize * 53) % 250,
        seed,
        shape,
    });
    let mut extra = String::new();
    for ns in s.namespace_names().iter().step_by(2) {
        extra.push_str(&format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: db-only, namespace: {ns}}}\nspec:\n  podSelector: {{matchLabels: {{role: db}}}}\n  ingress: [{{from: [{{podSelector: {{matchLabels: {{tier: backend}}}}}}]}}]\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: lock, namespace: {ns}}}\nspec:\n  podSelector: {{matchLabels: {{lock: \"on\"}}}}\n  policyTypes: [Egress]\n  egress: [{{to: [{{podSelector: {{matchLabels: {{tier: backend}}}}}}], ports: [{{port: 8080}}]}}]\n---\n\
             apiVersion: v1\nkind: Service\nmetadata: {{name: cache, namespace: {ns}}}\nspec: {{type: LoadBalancer, selector: {{role: cache}}, ports: [{{name: a, port: 80, targetPort: 8080}}, {{name: b, port: 81, targetPort: 9000}}, {{name: c, port: 82, targetPort: 9090}}]}}\n---\n"
        ));
    }
    let parsed = parse_source("extra.yaml", &extra, &ParseLimits::default());
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    for o in parsed.objects {
        s.apply(Change::Upsert(Box::new(o)));
    }
    s
}

const ROLES: &[&str] = &["db", "cache", "web"];

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
    assert!(tally.count("NotOnlyLabels") > 0, "{:?}", tally.outcomes);
    assert!(tally.new_classes > 0, "no patch added a class");
}
