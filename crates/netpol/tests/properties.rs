//! Properties over generated clusters and generated flows: whatever was observed, the plan
//! keeps every observed connection and allows nothing unobserved (workloads with labels of
//! their own, DNS not added); the policies read back from their YAML are the policies verified.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use proptest::prelude::*;
use rampart_model::objects::NetworkPolicy;
use rampart_model::{Object, ParseLimits, Snapshot, parse_source};
use rampart_netpol::{Collector, Settings, plan, read_flows};
use serde_json::json;

#[derive(Debug, Clone)]
struct Cluster {
    /// (namespace, name, declared ports)
    workloads: Vec<(String, String, Vec<u16>)>,
}

fn cluster() -> impl Strategy<Value = Cluster> {
    prop::collection::vec(
        (
            0usize..3,
            prop::collection::vec(
                prop::sample::select(vec![80u16, 443, 5432, 8080, 9000]),
                0..3,
            ),
        ),
        2..8,
    )
    .prop_map(|ws| Cluster {
        workloads: ws
            .into_iter()
            .enumerate()
            .map(|(i, (ns, ports))| (format!("ns{ns}"), format!("w{i}"), ports))
            .collect(),
    })
}

/// (client, server, protocol UDP?, port, reply?) with indices into workloads; `None` server: an
/// external address.
type Spec = (usize, Option<usize>, bool, u16, bool, u8);

fn flows() -> impl Strategy<Value = Vec<Spec>> {
    prop::collection::vec(
        (
            0usize..8,
            prop::option::weighted(0.8, 0usize..8),
            any::<bool>(),
            prop::sample::select(vec![80u16, 443, 5432, 8080, 9000, 53]),
            any::<bool>(),
            1u8..4,
        ),
        1..20,
    )
}

fn manifests(c: &Cluster) -> String {
    let mut docs = Vec::new();
    for ns in ["ns0", "ns1", "ns2"] {
        docs.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    }
    for (i, (ns, name, ports)) in c.workloads.iter().enumerate() {
        let ports: Vec<_> = ports
            .iter()
            .map(|p| json!({"containerPort": p, "name": format!("p{p}")}))
            .collect();
        docs.push(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{name}-0"), "namespace": ns, "labels": {"app": name, "tier": "t"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": name, "controller": true, "uid": ""}]},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": ports}]},
            "status": {"phase": "Running", "podIP": format!("10.1.0.{}", i + 1)},
        }));
    }
    json!({"apiVersion": "v1", "kind": "List", "items": docs}).to_string()
}

fn hubble(c: &Cluster, specs: &[Spec]) -> String {
    let n = c.workloads.len();
    let endpoint = |i: usize| {
        let (ns, name, _) = &c.workloads[i];
        (
            format!("10.1.0.{}", i + 1),
            json!({"namespace": ns, "pod_name": format!("{name}-0"), "labels": [format!("k8s:app={name}"), "k8s:tier=t"]}),
        )
    };
    let mut lines = Vec::new();
    for &(a, b, udp, port, reply, copies) in specs {
        let a = a % n;
        let (src, dst) = (
            endpoint(a),
            match b {
                Some(b) if b % n != a => endpoint(b % n),
                _ => (
                    "203.0.113.9".to_string(),
                    json!({"labels": ["reserved:world"]}),
                ),
            },
        );
        let proto = if udp { "UDP" } else { "TCP" };
        for k in 0..copies {
            let sport = 40000 + u16::from(k);
            let (s, d, sp, dp) = if reply {
                (&dst, &src, port, sport)
            } else {
                (&src, &dst, sport, port)
            };
            lines.push(
                json!({"flow": {
                    "verdict": "FORWARDED",
                    "IP": {"source": s.0, "destination": d.0},
                    "l4": {(proto): {"source_port": sp, "destination_port": dp}},
                    "source": s.1, "destination": d.1, "is_reply": reply,
                }})
                .to_string(),
            );
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_plan_keeps_what_was_seen_and_allows_nothing_else(c in cluster(), specs in flows()) {
        let text = manifests(&c);
        let parsed = parse_source("c.yaml", &text, &ParseLimits::default());
        prop_assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let snapshot = Snapshot::from_objects(parsed.objects);
        let mut collected = Collector::default();
        let capture = hubble(&c, &specs);
        let (_, tally) = read_flows("f", capture.as_bytes(), None, |f| collected.add(f)).unwrap();
        prop_assert_eq!(tally.malformed, 0);
        let settings = Settings { dns: false, world_after: usize::MAX, ..Settings::default() };
        let plan = plan(&snapshot, &collected, &settings, false);
        let v = &plan.verification;
        prop_assert!(v.keeps_every_flow(), "denied: {:?}", v.broken);
        prop_assert_eq!(v.kept, v.observed);
        prop_assert!(v.observed >= 1, "nothing attributed: {:?}", plan.observed);
        prop_assert_eq!(v.unobserved_count, 0, "also allowed: {:?}", v.unobserved_allowed);
        prop_assert_eq!(plan.observed.attribution.unattributed_flows, 0);

        // The YAML users apply reads back as the policies verified.
        let mut yaml = String::new();
        for p in &plan.policies {
            yaml.push_str("---\n");
            yaml.push_str(&serde_saphyr::to_string(p).unwrap());
        }
        let parsed = parse_source("plan.yaml", &yaml, &ParseLimits::default());
        prop_assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let back: Vec<NetworkPolicy> = parsed.objects.into_iter().filter_map(|o| match o.object {
            Object::NetworkPolicy(np) => Some(*np),
            _ => None,
        }).collect();
        let verified: Vec<NetworkPolicy> = plan.policies.iter().map(|p| serde_json::from_value(p.clone()).unwrap()).collect();
        prop_assert_eq!(back, verified);
    }
}

/// Found by the fuzzer: a workload that gets no policy of its own (no stable labels) shares
/// pods' labels with another's selector. The other's policy picks its labelled pods, so it must
/// admit their traffic too; and no default-deny may cover the namespace.
#[test]
fn a_selector_that_picks_another_workloads_pods_admits_their_traffic() {
    let cluster = r#"
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: agent-x8k2p, namespace: shop, labels: {app: a},
   ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: agent, controller: true, uid: ""}]},
   spec: {containers: [{name: c, image: i}]}, status: {podIP: 10.0.0.1}}
- {apiVersion: v1, kind: Pod, metadata: {name: web-1, namespace: shop, labels: {app: a},
   ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: web, controller: true, uid: ""}]},
   spec: {containers: [{name: c, image: i}]}, status: {podIP: 10.0.0.2}}
- {apiVersion: v1, kind: Pod, metadata: {name: web-2, namespace: shop, labels: {},
   ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: web, controller: true, uid: ""}]},
   spec: {containers: [{name: c, image: i}]}, status: {podIP: 10.0.0.3}}
"#;
    let flows = [
        r#"{"flow":{"verdict":"FORWARDED","IP":{"source":"203.0.113.5","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":40000,"destination_port":443}},"source":{"labels":["reserved:world"]},"destination":{"namespace":"shop","pod_name":"web-1"},"is_reply":false}}"#,
        r#"{"flow":{"verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"203.0.113.9"},"l4":{"TCP":{"source_port":40000,"destination_port":8443}},"source":{"namespace":"shop","pod_name":"agent-x8k2p"},"destination":{"labels":["reserved:world"]},"is_reply":false}}"#,
    ]
    .join("\n");
    let parsed = parse_source("c.yaml", cluster, &ParseLimits::default());
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let snapshot = Snapshot::from_objects(parsed.objects);
    let mut collected = Collector::default();
    read_flows("f", flows.as_bytes(), None, |f| collected.add(f)).unwrap();
    let settings = Settings {
        default_deny: true,
        ..Settings::default()
    };
    let plan = plan(&snapshot, &collected, &settings, false);
    assert_eq!(plan.verification.observed, 2);
    assert!(
        plan.verification.keeps_every_flow(),
        "{:?}",
        plan.verification.broken
    );
    assert!(
        plan.skipped
            .iter()
            .any(|s| s.workload == "shop/web[StatefulSet]"),
        "{:?}",
        plan.skipped
    );
    assert!(
        plan.skipped
            .iter()
            .any(|s| s.workload == "namespace shop (default-deny)"),
        "{:?}",
        plan.skipped
    );
    assert!(
        plan.suggested
            .iter()
            .all(|p| p.stage != rampart_netpol::Stage::DefaultDeny)
    );
}
