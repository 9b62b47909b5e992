//! The engine's full re-proof shares the models none of whose inputs changed
//! ([`rampart_graph::reanalyze`]): a NetworkPolicy, Service, RoleBinding, Secret, ClusterRole or
//! Namespace change re-proves without deriving the workloads again, and the models it shares
//! may have been patched in place by the incremental paths before. This holds it to a fresh
//! analysis of the same cluster after every round, through the engine core as the live loop
//! drives it: graph, classes, chains step for step, cut plan, and the change report's threat
//! diff.

mod common;

use common::{ROLES, assert_same, cluster, render};
use std::sync::Arc;

use rampart_graph::diff::diff;
use rampart_graph::{Options, analyze};
use rampart_model::parse::{ParseLimits, parse_source};
use rampart_model::{Change, Kind, Located, Object, ObjectKey, Snapshot};
use rampart_respond::engine::{EngineCore, ReproofPath};
use rampart_synth::{Rng, Shape};

fn object(yaml: &str) -> Located<Object> {
    let parsed = parse_source("change.yaml", yaml, &ParseLimits::default());
    assert!(parsed.errors.is_empty(), "{yaml}: {:?}", parsed.errors);
    let mut objects = parsed.objects;
    assert_eq!(objects.len(), 1, "{yaml}");
    objects.remove(0)
}

fn upsert(yaml: &str) -> Change {
    Change::Upsert(Box::new(object(yaml)))
}

/// An object of `kind` the test made (named `t-…`) or the cluster had, picked at random.
fn some(r: &mut Rng, s: &Snapshot, kind: Kind) -> Option<ObjectKey> {
    let all: Vec<ObjectKey> = s.of_kind(kind).map(|o| ObjectKey::of(&o.object)).collect();
    (!all.is_empty()).then(|| all[r.below(all.len())].clone())
}

fn pick2(r: &mut Rng, v: &[(&'static str, &'static str)]) -> (&'static str, &'static str) {
    v[r.below(v.len())]
}

/// One change the proof reads, not only pods and controllers; sometimes a pod's new labels
/// (an incremental path that patches the shared models in place) between them.
fn change(r: &mut Rng, s: &Snapshot, step: usize) -> (String, Change) {
    let namespaces = s.namespace_names();
    let ns = namespaces[r.below(namespaces.len())].clone();
    let pick = |r: &mut Rng, v: &[&'static str]| v[r.below(v.len())];
    let name = format!("t-{}", r.below(3));
    match r.below(13) {
        0 | 1 => {
            let target = pick(
                r,
                &["role: db", "role: cache", "tier: web", "tier: backend"],
            );
            let peer = match r.below(3) {
                0 => format!(
                    "{{namespaceSelector: {{matchLabels: {{team: t{}}}}}}}",
                    r.below(40)
                ),
                1 => "{podSelector: {matchLabels: {tier: web}}}".to_string(),
                _ => "{ipBlock: {cidr: 0.0.0.0/0}}".to_string(),
            };
            let port = pick(r, &["8080", "9000", "80"]);
            (
                format!("NetworkPolicy {ns}/{name}"),
                upsert(&format!(
                    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\n\
                     spec: {{podSelector: {{matchLabels: {{{target}}}}}, ingress: [{{from: [{peer}], ports: [{{port: {port}}}]}}]}}\n"
                )),
            )
        }
        2 | 3 => {
            // Now and then in a namespace nothing else is in: the network model's namespaces
            // change with it.
            let ns = if r.percent(20) {
                format!("fresh-{step}")
            } else {
                ns
            };
            let ty = pick(r, &["LoadBalancer", "ClusterIP", "NodePort"]);
            let sel = pick(r, &["role: db", "role: cache", "tier: web"]);
            (
                format!("Service {ns}/{name} {ty}"),
                upsert(&format!(
                    "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\n\
                     spec: {{type: {ty}, selector: {{{sel}}}, ports: [{{port: 80, targetPort: 8080}}]}}\n"
                )),
            )
        }
        4 | 5 => {
            let role = pick(r, &["view", "edit", "admin", "t-reader"]);
            (
                format!("RoleBinding {ns}/{name} → {role}"),
                upsert(&format!(
                    "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: {name}, namespace: {ns}}}\n\
                     roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}\n\
                     subjects: [{{kind: ServiceAccount, name: default, namespace: {ns}}}]\n"
                )),
            )
        }
        6 => {
            let verbs = pick(r, &["[get]", "[list]", "[create]"]);
            (
                format!("ClusterRole t-reader {verbs}"),
                upsert(&format!(
                    "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: t-reader}}\n\
                     rules: [{{apiGroups: [\"\"], resources: [secrets, pods/exec], verbs: {verbs}}}]\n"
                )),
            )
        }
        7 => (
            format!("Namespace {ns} team label"),
            upsert(&format!(
                "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{team: t{}}}}}\n",
                r.below(40)
            )),
        ),
        8 => (
            format!("Secret {ns}/{name}"),
            upsert(&format!(
                "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\ntype: Opaque\n"
            )),
        ),
        9 => {
            let kinds = [
                Kind::NetworkPolicy,
                Kind::Service,
                Kind::RoleBinding,
                Kind::Secret,
                Kind::AdminNetworkPolicy,
            ];
            let kind = kinds[r.below(kinds.len())];
            match some(r, s, kind) {
                Some(k) => (format!("delete {k:?}"), Change::Delete(k)),
                None => (
                    String::from("nothing"),
                    upsert(
                        "apiVersion: v1\nkind: Secret\nmetadata: {name: t-empty, namespace: default}\n",
                    ),
                ),
            }
        }
        12 => {
            // An admin policy: decided before (or, the baseline, after) the NetworkPolicies,
            // pair by pair; later pod relabels patch the layer around the classes it judges.
            let baseline = r.percent(25);
            let action = if baseline {
                pick(r, &["Allow", "Deny"])
            } else {
                pick(r, &["Allow", "Deny", "Pass"])
            };
            let peers = [
                format!(
                    "{{namespaces: {{matchLabels: {{team: t{}}}}}}}",
                    r.below(40)
                ),
                "{pods: {namespaceSelector: {}, podSelector: {matchLabels: {tier: web}}}}".into(),
                "{namespaces: {}}".into(),
            ];
            let subject = pick(
                r,
                &[
                    "{pods: {namespaceSelector: {}, podSelector: {matchLabels: {role: db}}}}",
                    "{namespaces: {}}",
                ],
            );
            let peer = &peers[r.below(peers.len())];
            let (rule, key) = pick2(r, &[("ingress", "from"), ("egress", "to")]);
            let ports = pick(r, &["", ", ports: [{portNumber: {port: 8080}}]"]);
            let (kind, name, priority) = if baseline {
                (
                    "BaselineAdminNetworkPolicy",
                    "default".to_string(),
                    String::new(),
                )
            } else {
                (
                    "AdminNetworkPolicy",
                    name,
                    format!("priority: {}, ", r.below(3)),
                )
            };
            (
                format!("{kind} {name} {action}"),
                upsert(&format!(
                    "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: {kind}\nmetadata: {{name: {name}}}\n\
                     spec: {{{priority}subject: {subject}, {rule}: [{{name: r, action: {action}, {key}: [{peer}]{ports}}}]}}\n"
                )),
            )
        }
        _ => {
            let pods: Vec<&Located<Object>> = s.of_kind(Kind::Pod).collect();
            let mut p = pods[r.below(pods.len())].clone();
            p.object
                .meta_mut()
                .labels
                .insert("role".into(), ROLES[r.below(ROLES.len())].into());
            let m = p.object.meta();
            (
                format!("relabel pod {}/{}", m.namespace, m.name),
                Change::Upsert(Box::new(p)),
            )
        }
    }
}

#[derive(Default)]
struct Tally {
    paths: Vec<ReproofPath>,
    /// Full re-proofs that shared the workloads, the network model.
    shared: [usize; 2],
}

fn run(label: &str, s: Snapshot, r: &mut Rng, steps: usize, tally: &mut Tally) {
    let options = Options::default();
    let mut core = EngineCore::shadow(options);
    for o in s.iter() {
        core.apply(Change::Upsert(Box::new(o.clone())));
    }
    core.reprove(0);
    let mut before = analyze(core.snapshot(), &options);
    for step in 0..steps {
        // Batches of one to three changes, as a debounce window gathers them.
        let mut what = Vec::new();
        for _ in 0..1 + r.below(3) {
            let (w, c) = change(r, core.snapshot(), step);
            what.push(w);
            core.apply(c);
        }
        let what = format!("{label} step {step}: {what:?}");
        // The models' addresses (no reference is kept: that would make a patch copy them);
        // the previous analysis stays alive until `take_retired`, so an address seen again
        // is the same model, shared.
        let models = |core: &EngineCore| {
            let g = &core.analysis().expect("an analysis").graph;
            [
                Arc::as_ptr(&g.workloads) as usize,
                Arc::as_ptr(&g.net) as usize,
            ]
        };
        let was = models(&core);
        let report = core.reprove(step as u64);
        if report.path == ReproofPath::Full {
            for (i, (a, b)) in was.iter().zip(models(&core)).enumerate() {
                tally.shared[i] += usize::from(*a == b);
            }
        }
        drop(core.take_retired());
        let full = analyze(core.snapshot(), &options);
        let got = core.analysis().expect("an analysis");
        assert_same(&render(got), &render(&full), &what);
        assert_eq!(report.diff, diff(&before, &full), "{what}: threat diff");
        tally.paths.push(report.path);
        before = full;
    }
}

#[test]
fn a_full_reproof_sharing_models_equals_a_fresh_analysis() {
    let mut tally = Tally::default();
    for seed in 1..=6u64 {
        let shape = if seed <= 4 {
            Shape::Sparse
        } else {
            Shape::Dense
        };
        let mut r = Rng::new(seed * 104_729);
        run(
            &format!("seed {seed} {}", shape.name()),
            cluster(seed, shape),
            &mut r,
            40,
            &mut tally,
        );
    }
    let paths = &tally.paths;
    // Both kinds of round ran: full re-proofs and incremental patches between them, whose
    // patched models the next full re-proof shares.
    let full = paths.iter().filter(|p| **p == ReproofPath::Full).count();
    assert!(full >= 150, "{full} full re-proofs of {}", paths.len());
    assert!(paths.len() - full >= 10, "{paths:?}");
    // Each model was shared by some full re-proofs and built again by others.
    let [workloads, net] = tally.shared;
    eprintln!("{full} full re-proofs shared: workloads {workloads}, network model {net}");
    for (what, n) in [("workloads", workloads), ("network model", net)] {
        assert!(n >= 40 && n + 20 <= full, "{what} shared by {n} of {full}");
    }
}
