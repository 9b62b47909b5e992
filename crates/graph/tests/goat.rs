//! Kubernetes Goat (`tests/corpora/kubernetes-goat`): the chains its scenarios should yield.
//! Upstream exposes most apps with `kubectl port-forward`, which no scanner can see; the test
//! declares that exposure with the `rampart.dev/exposed` annotation, as an operator would.

mod common;

use std::path::PathBuf;

use common::*;
use rampart_files::{LoadOptions, load_paths};
use rampart_graph::model::EdgeKind;
use rampart_graph::{Options, SecurityGraph, TargetKind, analyze, cut::apply_plan};
use rampart_model::{Change, Snapshot};

const PORT_FORWARDED: &[&str] = &[
    "build-code-deployment",
    "health-check-deployment",
    "internal-proxy-deployment",
    "system-monitor-deployment",
    "kubernetes-goat-home-deployment",
    "poor-registry-deployment",
    "hunger-check-deployment",
];

fn goat() -> Snapshot {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpora/kubernetes-goat/scenarios");
    let loaded = load_paths(&[root], &LoadOptions::default());
    // metadata-db__values.yaml is Helm values, not a manifest: the one expected error.
    assert_eq!(loaded.errors.len(), 1, "{:?}", loaded.errors);
    assert!(
        loaded.errors[0]
            .location
            .file
            .ends_with("metadata-db__values.yaml")
    );
    assert_eq!(
        loaded.ignored.get("ClusterPolicy (kyverno.io/v1)"),
        Some(&1)
    );
    let mut s = loaded.snapshot;
    let keys: Vec<_> = s
        .controllers()
        .filter(|(_, c)| PORT_FORWARDED.contains(&c.metadata.name.as_str()))
        .map(|(_, c)| {
            (
                c.kind,
                c.metadata.namespace.clone(),
                c.metadata.name.clone(),
            )
        })
        .collect();
    assert_eq!(keys.len(), PORT_FORWARDED.len());
    for (kind, ns, name) in keys {
        let mut l = s.get(kind, &ns, &name).expect("controller").clone();
        l.object
            .meta_mut()
            .annotations
            .insert("rampart.dev/exposed".into(), "true".into());
        s.apply(Change::Upsert(Box::new(l)));
    }
    s
}

#[test]
fn scenario_edges() {
    let g = SecurityGraph::build(&goat());
    // 2: DIND: privileged + containerd socket.
    assert!(exposed(&g, "Deployment/default/health-check-deployment"));
    assert!(has_edge(
        &g,
        "Deployment/default/health-check-deployment",
        EdgeKind::EscapesToNode,
        "Node/(any node)"
    ));
    // 3 / 8: the NodePort is a real entry.
    assert!(
        g.endpoints
            .iter()
            .any(|e| e.object.name == "internal-proxy-info-app-service"
                && e.node_port == Some(30003)
                && !e.detail.contains("30003"))
    );
    // 4: container escape and the vault key from an env secretKeyRef.
    assert!(has_edge(
        &g,
        "Deployment/default/system-monitor-deployment",
        EdgeKind::EscapesToNode,
        "Node/(any node)"
    ));
    assert!(has_edge(
        &g,
        "Deployment/default/system-monitor-deployment",
        EdgeKind::MountsSecret,
        "Secret/default/goatvault"
    ));
    // 5 / 6: escape-capable but not exposed: not entries.
    for w in [
        "DaemonSet/default/docker-bench-security",
        "Job/default/kube-bench-node",
        "Job/default/kube-bench-master",
    ] {
        assert!(
            has_edge(&g, w, EdgeKind::EscapesToNode, "Node/(any node)"),
            "{w}"
        );
        assert!(!exposed(&g, w), "{w}");
    }
    // 16: RBAC least privilege.
    assert!(has_edge(
        &g,
        "Deployment/big-monolith/hunger-check-deployment",
        EdgeKind::RunsAs,
        "ServiceAccount/big-monolith/big-monolith-sa"
    ));
    for s in ["vaultapikey", "webhookapikey"] {
        assert!(has_edge(
            &g,
            "ServiceAccount/big-monolith/big-monolith-sa",
            EdgeKind::ReadsSecret,
            &format!("Secret/big-monolith/{s}")
        ));
    }
    // insecure RBAC setup: cluster-admin SA, no pod runs as it.
    assert!(has_edge(
        &g,
        "ServiceAccount/kube-system/superadmin",
        EdgeKind::IsClusterAdmin,
        "ClusterAdmin/cluster-admin"
    ));
    // 11: no NetworkPolicy: any namespace reaches the cache.
    assert!(net_reaches(
        &g,
        "Deployment/default/kubernetes-goat-home-deployment",
        "Deployment/secure-middleware/cache-store-deployment"
    ));
    // home is benign by itself.
    assert!(!has_edge(
        &g,
        "Deployment/default/kubernetes-goat-home-deployment",
        EdgeKind::EscapesToNode,
        "Node/(any node)"
    ));
}

#[test]
fn default_deny_in_secure_middleware_removes_lateral_movement() {
    let mut s = goat();
    let np = rampart_model::parse_source(
        "deny.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: secure-middleware}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n",
        &Default::default(),
    );
    for o in np.objects {
        s.apply(Change::Upsert(Box::new(o)));
    }
    let g = SecurityGraph::build(&s);
    assert!(!net_reaches(
        &g,
        "Deployment/default/kubernetes-goat-home-deployment",
        "Deployment/secure-middleware/cache-store-deployment"
    ));
}

#[test]
fn chains_and_their_cut() {
    let s = goat();
    let a = analyze(&s, &Options::default());
    let targets: Vec<(String, TargetKind)> = a
        .proof
        .chains
        .iter()
        .map(|c| (a.graph.vertex_ref(c.target).to_string(), c.target_kind))
        .collect();
    assert!(targets.iter().any(|(t, _)| t == "Secret/default/goatvault"));
    assert!(
        targets
            .iter()
            .any(|(t, _)| t == "Secret/big-monolith/vaultapikey")
    );
    assert!(targets.iter().any(|(_, k)| *k == TargetKind::Node));
    // The cut breaks every chain: with it applied, nothing remains.
    let after = analyze(&apply_plan(&s, &a.plan), &Options::default());
    assert_eq!(
        after.proof.jewels_reachable,
        0,
        "remaining: {:?}",
        after
            .proof
            .chains
            .iter()
            .map(|c| after.graph.vertex_ref(c.target).to_string())
            .collect::<Vec<_>>()
    );
}
