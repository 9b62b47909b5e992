//! A network model with NetworkPolicies added to it (`NetModel::with_policies`: what a patched
//! cut verifies its live cuts against) classes pods and admits traffic exactly as a model built
//! afresh over the cluster with those policies does, and stays so when a pod then moves
//! (`NetModel::reclass`). Models are compared by what they answer, never by class or atom
//! numbers, which differ.

use std::collections::HashMap;

use rampart_graph::fix::Fix;
use rampart_graph::netpol::{ClassId, NetModel};
use rampart_graph::{Options, analyze};
use rampart_model::objects::NetworkPolicy;
use rampart_model::{Change, Kind, Object, Snapshot, WorkloadId, Workloads};
use rampart_synth::{Config, Rng, Shape, snapshot};
use serde_json::{Value, json};

/// A random selector over the labels the generator sets (and one it never sets).
fn selector(r: &mut Rng) -> Value {
    match r.below(6) {
        0 => json!({}),
        1 => json!({"matchLabels": {"tier": if r.percent(50) { "frontend" } else { "backend" }}}),
        2 => json!({"matchLabels": {"app": format!("app{}", r.below(6))}}),
        3 => {
            json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["frontend"]}]})
        }
        4 => json!({"matchExpressions": [{"key": "role", "operator": "Exists"}]}),
        _ => json!({"matchLabels": {"role": "db"}}),
    }
}

/// A random peer: pods of the policy's namespace, pods of chosen namespaces, every pod,
/// addresses.
fn peer(r: &mut Rng, namespaces: &[String]) -> Value {
    match r.below(7) {
        0 => json!({"podSelector": selector(r)}),
        // Pods without a role anywhere: the ingress controller pseudo-pod among them.
        6 => json!({"namespaceSelector": {},
            "podSelector": {"matchExpressions": [{"key": "role", "operator": "DoesNotExist"}]}}),
        1 => json!({"namespaceSelector": {}}),
        2 => json!({"namespaceSelector": {}, "podSelector": selector(r)}),
        3 => json!({"namespaceSelector": {"matchLabels": {"team": format!("t{}", r.below(40))}}}),
        4 => json!({"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": namespaces[r.below(namespaces.len())]}},
            "podSelector": selector(r)}),
        _ => json!({"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}),
    }
}

fn rule(r: &mut Rng, namespaces: &[String], key: &str) -> Value {
    let mut rule = json!({});
    if r.percent(80) {
        let peers: Vec<Value> = (0..1 + r.below(2)).map(|_| peer(r, namespaces)).collect();
        rule[key] = json!(peers);
    }
    match r.below(3) {
        0 => rule["ports"] = json!([{"port": 8080}]),
        1 => rule["ports"] = json!([{"port": "grpc"}, {"port": 53, "protocol": "UDP"}]),
        _ => {}
    }
    rule
}

/// A random NetworkPolicy named `name` in a namespace of the cluster.
fn policy(r: &mut Rng, namespaces: &[String], name: &str) -> Value {
    let ns = &namespaces[r.below(namespaces.len())];
    let mut spec = json!({"podSelector": selector(r)});
    let (ingress, egress) = match r.below(3) {
        0 => (true, false),
        1 => (false, true),
        _ => (true, true),
    };
    let mut types = Vec::new();
    if ingress {
        types.push("Ingress");
        let rules: Vec<Value> = (0..r.below(3))
            .map(|_| rule(r, namespaces, "from"))
            .collect();
        spec["ingress"] = json!(rules);
    }
    if egress {
        types.push("Egress");
        let rules: Vec<Value> = (0..r.below(3)).map(|_| rule(r, namespaces, "to")).collect();
        spec["egress"] = json!(rules);
    }
    spec["policyTypes"] = json!(types);
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

/// The model a fresh build gives for `s` with `added`.
fn fresh(s: &Snapshot, workloads: &Workloads, added: &[Value]) -> NetModel {
    let mut s = s.clone();
    for np in added {
        Fix::AddNetworkPolicy(np.clone()).apply(&mut s);
    }
    NetModel::build(&s, workloads)
}

/// Every pod group, and the ingress controller pseudo-pod (`None`), with its class.
fn placed(net: &NetModel) -> Vec<(Option<(WorkloadId, usize)>, ClassId)> {
    let mut v: Vec<_> = net
        .member_class
        .iter()
        .enumerate()
        .flat_map(|(w, groups)| {
            groups
                .iter()
                .enumerate()
                .map(move |(g, c)| (Some((WorkloadId(w as u32), g)), *c))
        })
        .collect();
    v.push((None, net.ingress_controller));
    v
}

/// Both models put the same pods together and admit the same ports between every two of
/// them, from and to the internet, and from any pod.
fn assert_same(got: &NetModel, want: &NetModel, what: &str) {
    let (a, b) = (placed(got), placed(want));
    assert_eq!(a.len(), b.len(), "{what}: pod groups");
    // The partitions agree: a class of one is a class of the other.
    let mut fwd: HashMap<ClassId, ClassId> = HashMap::new();
    let mut back: HashMap<ClassId, ClassId> = HashMap::new();
    for ((pa, ca), (pb, cb)) in a.iter().zip(&b) {
        assert_eq!(pa, pb, "{what}: pod group order");
        assert_eq!(
            *fwd.entry(*ca).or_insert(*cb),
            *cb,
            "{what}: {pa:?} classed apart"
        );
        assert_eq!(
            *back.entry(*cb).or_insert(*ca),
            *ca,
            "{what}: {pa:?} classed together"
        );
    }
    let pairs: Vec<(ClassId, ClassId)> = fwd.into_iter().collect();
    for &(ca, cb) in &pairs {
        let (x, y) = (got.class(ca), want.class(cb));
        assert_eq!(x.ports, y.ports, "{what}: ports");
        assert_eq!(x.members, y.members, "{what}: members");
        assert_eq!(
            x.ingress_open(),
            y.ingress_open(),
            "{what}: ingress isolation"
        );
        assert_eq!(x.egress_open(), y.egress_open(), "{what}: egress isolation");
        assert_eq!(
            got.ingress_from_external(None, ca).0,
            want.ingress_from_external(None, cb).0,
            "{what}: from the internet"
        );
        assert_eq!(
            got.egress_to_external(ca, None),
            want.egress_to_external(cb, None),
            "{what}: to the internet"
        );
        assert_eq!(
            got.admits_any_pod(ca).0,
            want.admits_any_pod(cb).0,
            "{what}: any pod"
        );
        for &(da, db) in &pairs {
            assert_eq!(
                got.allowed(ca, da),
                want.allowed(cb, db),
                "{what}: {:?} -> {:?}",
                x.members.first(),
                want.class(db).members.first()
            );
        }
    }
}

fn typed(added: &[Value]) -> Vec<NetworkPolicy> {
    added
        .iter()
        .map(|v| serde_json::from_value(v.clone()).expect("a NetworkPolicy"))
        .collect()
}

fn name_of(np: &Value) -> (String, String) {
    let meta = &np["metadata"];
    let text = |v: &Value| v.as_str().expect("a name").to_string();
    (text(&meta["namespace"]), text(&meta["name"]))
}

/// Sets `key: value` on a pod's labels.
fn relabel(s: &mut Snapshot, ns: &str, name: &str, key: &str, value: &str) {
    let mut located = s.get(Kind::Pod, ns, name).cloned().expect("pod");
    if let Object::Pod(p) = &mut located.object {
        p.metadata.labels.insert(key.into(), value.into());
    }
    s.apply(Change::Upsert(Box::new(located)));
}

#[test]
fn added_policies_class_and_admit_as_a_fresh_build() {
    let mut checked = 0;
    for seed in 1..=8u64 {
        let mut r = Rng::new(seed * 7_919);
        let s = snapshot(&Config {
            pods: 120 + (seed as usize * 37) % 160,
            seed,
            shape: Shape::by_parity(seed),
        });
        let namespaces = s.namespace_names();
        let workloads = Workloads::build(&s);
        let base = NetModel::build(&s, &workloads);
        // The policies a cut plan adds, then random ones.
        let plan = analyze(&s, &Options::default()).plan;
        let mut added: Vec<Value> = plan
            .cuts
            .iter()
            .flat_map(|c| &c.fixes)
            .filter_map(|f| f.manifest().cloned())
            .collect();
        added.sort_by_key(|v| {
            v["metadata"]["name"].to_string() + &v["metadata"]["namespace"].to_string()
        });
        added.dedup();
        for i in 0..2 + r.below(5) {
            added.push(policy(&mut r, &namespaces, &format!("what-if-{i}")));
        }
        let what = format!("seed {seed}, {} policies added", added.len());
        let derived = base
            .with_policies(&typed(&added), &workloads)
            .expect("no name repeats");
        assert_same(&derived, &fresh(&s, &workloads, &added), &what);
        checked += 1;

        // Then pods move and policies come and go, in the derived model in place and in a
        // fresh build of the changed cluster.
        let mut s = s;
        let mut derived = derived;
        let pods: Vec<(String, String)> = s
            .of_kind(Kind::Pod)
            .map(|o| {
                (
                    o.object.meta().namespace.clone(),
                    o.object.meta().name.clone(),
                )
            })
            .collect();
        for step in 0..12 {
            let change = match r.below(4) {
                0 => {
                    let (ns, name) = &pods[r.below(pods.len())];
                    let (key, value) = match r.below(3) {
                        0 => ("role", "db"),
                        1 => ("tier", "frontend"),
                        _ => ("app", "app1"),
                    };
                    relabel(&mut s, ns, name, key, value);
                    let workloads = Workloads::build(&s);
                    let id = workloads.of_pod(ns, name).expect("workload");
                    derived.reclass(&workloads.list[id.index()]);
                    format!("{ns}/{name} {key}={value}")
                }
                1 if !added.is_empty() => {
                    let np = added.remove(r.below(added.len()));
                    let (ns, name) = name_of(&np);
                    assert!(derived.remove_policies(&[(&ns, &name)]), "{ns}/{name}");
                    format!("without {ns}/{name}")
                }
                2 if !added.is_empty() => {
                    // The same name, another policy: out, then in again.
                    let i = r.below(added.len());
                    let (ns, name) = name_of(&added[i]);
                    let mut np = policy(&mut r, &namespaces, &name);
                    np["metadata"]["namespace"] = json!(ns);
                    added[i] = np.clone();
                    assert!(derived.remove_policies(&[(&ns, &name)]), "{ns}/{name}");
                    let workloads = Workloads::build(&s);
                    assert!(derived.add_policies(&typed(&[np]), &workloads));
                    format!("{ns}/{name} replaced")
                }
                _ => {
                    let np = policy(&mut r, &namespaces, &format!("more-{step}"));
                    added.push(np.clone());
                    let workloads = Workloads::build(&s);
                    assert!(derived.add_policies(&typed(&[np]), &workloads));
                    format!("with more-{step}")
                }
            };
            let workloads = Workloads::build(&s);
            assert_same(
                &derived,
                &fresh(&s, &workloads, &added),
                &format!("{what}, step {step}: {change}"),
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 8 * 13);
}

#[test]
fn a_policy_of_an_existing_name_is_refused() {
    let s = snapshot(&Config::with_pods(60).seeded(3));
    let workloads = Workloads::build(&s);
    let base = NetModel::build(&s, &workloads);
    let (_, existing) = s.network_policies().next().expect("a policy");
    let mut again = existing.clone();
    again.spec.ingress.clear();
    assert!(base.with_policies(&[again], &workloads).is_none());
    let mut r = Rng::new(1);
    let namespaces = s.namespace_names();
    let twice = [
        policy(&mut r, &namespaces, "same"),
        policy(&mut r, &namespaces, "same"),
    ];
    let mut twice = typed(&twice);
    twice[1].metadata.namespace = twice[0].metadata.namespace.clone();
    assert!(base.with_policies(&twice, &workloads).is_none());
}

/// A policy added and removed again and again leaves retired atoms behind: removal refuses
/// once they would outnumber the live ones (the caller then builds the model again), and
/// leaves the model as it was.
#[test]
fn retired_atoms_are_bounded() {
    let s = snapshot(&Config::with_pods(60).seeded(5));
    let workloads = Workloads::build(&s);
    let mut net = NetModel::build(&s, &workloads);
    let live = net.atom_count();
    let namespaces = s.namespace_names();
    let np = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "again", "namespace": namespaces[0]},
        "spec": {"podSelector": {"matchLabels": {"tier": "backend"}},
                 "ingress": [{"from": [{"namespaceSelector": {}}]}]}});
    let (ns, name) = name_of(&np);
    let mut cycles = 0;
    loop {
        assert!(net.add_policies(&typed(std::slice::from_ref(&np)), &workloads));
        if !net.remove_policies(&[(&ns, &name)]) {
            break;
        }
        cycles += 1;
        assert!(cycles < 10_000, "never refused");
    }
    assert!(cycles > 10, "{cycles}");
    assert!(
        net.atom_count() <= 2 * live + 66,
        "{} atoms",
        net.atom_count()
    );
    assert_same(
        &net,
        &fresh(&s, &workloads, std::slice::from_ref(&np)),
        "after a refused removal",
    );
}

/// A policy with an empty pod selector in a namespace the model has no pods in selects no pod:
/// not even in a model whose only namespace is the ingress controller's.
#[test]
fn a_policy_of_a_namespace_without_pods_selects_none() {
    let s = Snapshot::default();
    let workloads = Workloads::build(&s);
    let base = NetModel::build(&s, &workloads);
    let added = [
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "deny", "namespace": "elsewhere"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}),
    ];
    let derived = base
        .with_policies(&typed(&added), &workloads)
        .expect("added");
    assert!(derived.class(derived.ingress_controller).ingress_open());
    assert_same(&derived, &fresh(&s, &workloads, &added), "elsewhere");
}
