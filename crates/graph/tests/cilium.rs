//! CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy (issue 23 part 2): Cilium's own
//! example policies (`tests/corpora/cilium`, copied from cilium/cilium `examples/policies`)
//! applied to one test cluster, each checked for what the Cilium docs say it allows and for a
//! negative twin it must not; the model's connectivity and the graph's network plumbing must
//! agree on every pair.

mod common;

use std::path::PathBuf;

use common::*;
use rampart_graph::cut::apply_plan;
use rampart_graph::fix::Fix;
use rampart_graph::model::EdgeKind;
use rampart_graph::{Options, SecurityGraph, TargetKind, analyze};
use rampart_model::{ParseLimits, Snapshot, parse_source};

/// A bare pod: namespace, name, labels (`k: v` pairs), TCP ports it declares.
fn pod(ns: &str, name: &str, labels: &str, ports: &[u16]) -> String {
    let ports: Vec<String> = ports
        .iter()
        .map(|p| format!("{{containerPort: {p}}}"))
        .collect();
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{{labels}}}}}\nspec: {{automountServiceAccountToken: false, containers: [{{name: c, image: nginx, ports: [{}]}}]}}\n---\n",
        ports.join(", ")
    )
}

/// The cluster every example is applied to.
fn cluster() -> String {
    let mut s = String::new();
    for (ns, labels) in [
        ("default", ""),
        ("production", ""),
        ("ns1", "faction: alliance"),
        ("ns2", "faction: alliance"),
        ("public", ""),
        ("kube-system", ""),
    ] {
        s.push_str(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{{labels}}}}}\n---\n"
        ));
    }
    for (name, labels) in [
        ("frontend", "role: frontend"),
        ("backend", "role: backend"),
        ("other", "role: other"),
        ("victim", "role: victim"),
        ("restricted", "role: restricted"),
        ("public", "role: public"),
        ("crawler", "role: crawler"),
        ("mysvc", "app: myService"),
        ("service", "app: service"),
        ("prod", "env: prod"),
        ("dev", "env: dev"),
        ("testapp", "app: test-app"),
        ("strict", "cilium.example.com/policy: strict"),
    ] {
        s.push_str(&pod("default", name, labels, &[80]));
    }
    s.push_str(&pod(
        "production",
        "strict",
        "cilium.example.com/policy: strict",
        &[80],
    ));
    s.push_str(&pod(
        "production",
        "loose",
        "cilium.example.com/policy: loose",
        &[80],
    ));
    s.push_str(&pod("ns1", "leia", "name: leia", &[80]));
    s.push_str(&pod("ns1", "luke", "name: luke", &[80]));
    s.push_str(&pod("ns2", "luke", "name: luke", &[80]));
    s.push_str(&pod("ns2", "rebel-base", "name: rebel-base", &[80]));
    s.push_str(&pod("public", "web", "app: web", &[80]));
    s.push_str(&pod("kube-system", "kube-dns", "k8s-app: kube-dns", &[53]));
    // kube-dns also declares UDP 53.
    s.push_str("apiVersion: v1\nkind: Pod\nmetadata: {name: coredns-udp, namespace: kube-system, labels: {k8s-app: kube-dns}}\nspec: {automountServiceAccountToken: false, containers: [{name: c, image: coredns, ports: [{containerPort: 53, protocol: UDP}, {containerPort: 53}]}]}\n---\n");
    s
}

fn corpus(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpora/cilium")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The cluster with the upstream example(s) `rel` applied (and `extra` objects).
fn with(rels: &[&str], extra: &str) -> Snapshot {
    let mut objects = Vec::new();
    let limits = ParseLimits::default();
    let p = parse_source("cluster.yaml", &cluster(), &limits);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    objects.extend(p.objects);
    for rel in rels {
        let p = parse_source(rel, &corpus(rel), &limits);
        assert!(p.errors.is_empty(), "{rel}: {:?}", p.errors);
        assert!(!p.objects.is_empty(), "{rel}: nothing parsed");
        objects.extend(p.objects);
    }
    if !extra.is_empty() {
        let p = parse_source("extra.yaml", extra, &limits);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        objects.extend(p.objects);
    }
    Snapshot::from_objects(objects)
}

/// What the model lists for `src => dst` (`None`: nothing allowed).
fn conn(lines: &[String], src: &str, dst: &str) -> Option<String> {
    let prefix = format!("{src} => {dst} : ");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
}

/// A pod's name as the listing prints it.
fn p(ns_name: &str) -> String {
    format!("{ns_name}[Pod]")
}

/// The listing, checked against the graph on every pod pair (cluster DNS is no step of a
/// chain: the graph gives it no inbound edge).
fn check(s: &Snapshot) -> (Vec<String>, SecurityGraph) {
    listing_matches_graph(s, &|b| b.starts_with("kube-system/"))
}

const ALL: &str = "All Connections";

/// Checks the cluster with example `rel` applied: every `yes` pair (pod names `ns/name`) is
/// listed, no `no` pair is.
fn admits(rel: &str, yes: &[(&str, &str)], no: &[(&str, &str)]) {
    expect(&with(&[rel], ""), rel, yes, no);
}

/// [`admits`] with objects of its own.
fn admits_yaml(yaml: &str, yes: &[(&str, &str)], no: &[(&str, &str)]) {
    expect(&with(&[], yaml), yaml, yes, no);
}

fn expect(s: &Snapshot, rel: &str, yes: &[(&str, &str)], no: &[(&str, &str)]) {
    let (l, _) = check(s);
    for (a, b) in yes {
        assert!(
            conn(&l, &p(a), &p(b)).is_some(),
            "{rel}: {a} => {b} expected"
        );
    }
    for (a, b) in no {
        assert_eq!(
            conn(&l, &p(a), &p(b)),
            None,
            "{rel}: {a} => {b} not expected"
        );
    }
}

#[test]
fn l3_label_policies_isolate_and_admit() {
    let (l, _) = check(&with(&["l3/simple/l3.yaml"], ""));
    assert_eq!(
        conn(&l, &p("default/frontend"), &p("default/backend")).as_deref(),
        Some(ALL)
    );
    assert_eq!(conn(&l, &p("default/other"), &p("default/backend")), None);
    assert_eq!(conn(&l, &p("ns1/luke"), &p("default/backend")), None);
    assert!(conn(&l, &p("default/backend"), &p("default/other")).is_some());

    let (l, _) = check(&with(&["l3/simple/l3_egress.yaml"], ""));
    assert!(conn(&l, &p("default/frontend"), &p("default/backend")).is_some());
    assert_eq!(conn(&l, &p("default/frontend"), &p("default/other")), None);
    assert_eq!(
        conn(
            &l,
            &p("default/frontend"),
            "0.0.0.0-255.255.255.255[External]"
        ),
        None
    );
    assert!(conn(&l, &p("default/other"), "0.0.0.0-255.255.255.255[External]").is_some());
}

#[test]
fn an_empty_endpoint_selector_is_the_policy_namespace() {
    admits(
        "l3/ingress-allow-all/ingress-allow-all.yaml",
        &[("default/other", "default/victim")],
        &[("ns1/luke", "default/victim")],
    );
    admits(
        "l3/egress-allow-all/egress-allow-all.yaml",
        &[("default/frontend", "default/other")],
        &[("default/frontend", "ns1/leia")],
    );
}

#[test]
fn an_empty_rule_admits_nothing_but_isolates() {
    let (l, _) = check(&with(
        &["l3/egress-default-deny/egress-default-deny.yaml"],
        "",
    ));
    assert!(
        !l.iter()
            .any(|x| x.starts_with(&format!("{} =>", p("default/restricted")))),
        "restricted sends nothing"
    );
    assert!(conn(&l, &p("default/other"), &p("default/restricted")).is_some());
}

#[test]
fn a_deny_rule_wins_over_every_allow() {
    let (l, _) = check(&with(&["l3/egress-deny/egress-deny.yaml"], ""));
    assert_eq!(
        conn(&l, &p("default/frontend"), &p("default/backend")),
        None
    );
    assert!(conn(&l, &p("default/frontend"), &p("default/other")).is_some());
    assert!(
        conn(
            &l,
            &p("default/frontend"),
            "0.0.0.0-255.255.255.255[External]"
        )
        .is_some()
    );
    // Twin: without the deny rule, `all` admits the backend. A NetworkPolicy admitting it
    // too does not win over the deny either.
    let np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow, namespace: default}\nspec: {podSelector: {matchLabels: {role: frontend}}, policyTypes: [Egress], egress: [{}]}\n";
    let (l, _) = check(&with(&["l3/egress-deny/egress-deny.yaml"], np));
    assert_eq!(
        conn(&l, &p("default/frontend"), &p("default/backend")),
        None
    );
    let text = corpus("l3/egress-deny/egress-deny.yaml");
    let allow_only = text.split("  egressDeny:").next().unwrap_or_default();
    let mut s = with(&[], allow_only);
    let (l, _) = check(&s);
    assert!(conn(&l, &p("default/frontend"), &p("default/backend")).is_some());
    s = with(&["l3/egress-deny/egress-deny.yaml"], "");
    let (_, g) = check(&s);
    assert!(
        !net_reaches(&g, "Pod/default/frontend", "Pod/default/backend"),
        "the graph honours the deny"
    );
}

#[test]
fn entities_world_cluster_and_the_nodes() {
    let (l, g) = check(&with(&["l3/entities/world.yaml"], ""));
    assert_eq!(
        conn(
            &l,
            "0.0.0.0-255.255.255.255[External]",
            &p("default/public")
        )
        .as_deref(),
        Some(ALL)
    );
    assert_eq!(conn(&l, &p("default/other"), &p("default/public")), None);
    drop(g);

    // Clusterwide: every pod admits every pod, and nothing from the world.
    let (l, _) = check(&with(&["l3/entities/from_world_deny.yaml"], ""));
    assert!(conn(&l, &p("ns1/luke"), &p("default/public")).is_some());
    assert_eq!(
        conn(
            &l,
            "0.0.0.0-255.255.255.255[External]",
            &p("default/public")
        ),
        None
    );
    assert_eq!(
        conn(&l, "0.0.0.0-255.255.255.255[External]", &p("ns2/luke")),
        None
    );

    // Egress to the API server or the host alone: no pod, no world.
    for rel in ["l3/entities/apiserver.yaml", "l3/entities/host.yaml"] {
        let (l, _) = check(&with(&[rel], ""));
        assert!(
            !l.iter()
                .any(|x| x.starts_with(&format!("{} =>", p("default/dev")))),
            "{rel}: dev sends to no pod and no address"
        );
        assert!(conn(&l, &p("default/other"), &p("default/frontend")).is_some());
    }
    // Ingress from the nodes alone: no pod reaches dev.
    let (l, _) = check(&with(&["l3/entities/nodes.yaml"], ""));
    assert_eq!(conn(&l, &p("default/other"), &p("default/dev")), None);
    assert!(conn(&l, &p("default/dev"), &p("default/other")).is_some());
}

#[test]
fn cidr_rules_reach_addresses_outside_the_cluster_only() {
    let (l, _) = check(&with(&["l3/cidr/cidr.yaml"], ""));
    let from = p("default/mysvc");
    assert!(conn(&l, &from, "20.1.1.1-20.1.1.1[External]").is_some());
    assert!(conn(&l, &from, "10.0.0.0-10.95.255.255[External]").is_some());
    assert_eq!(conn(&l, &from, "10.96.0.0-10.111.255.255[External]"), None);
    assert_eq!(conn(&l, &from, "20.1.1.2-255.255.255.255[External]"), None);
    assert_eq!(
        conn(&l, &from, &p("default/other")),
        None,
        "a CIDR matches no pod"
    );

    let (l, _) = check(&with(&["l4/cidr_l4_combined.yaml"], ""));
    assert_eq!(
        conn(&l, &p("default/crawler"), "192.0.2.0-192.0.2.255[External]").as_deref(),
        Some("TCP 80")
    );
    assert_eq!(
        conn(
            &l,
            &p("default/crawler"),
            "192.0.3.0-255.255.255.255[External]"
        ),
        None
    );
}

#[test]
fn ports_ranges_and_l4_only_rules() {
    let (l, _) = check(&with(&["l4/l4.yaml"], ""));
    let from = p("default/mysvc");
    assert_eq!(
        conn(&l, &from, &p("default/other")).as_deref(),
        Some("TCP 80")
    );
    assert_eq!(
        conn(&l, &from, "0.0.0.0-255.255.255.255[External]").as_deref(),
        Some("TCP 80")
    );

    let (l, _) = check(&with(&["l4/l4_port_range.yaml"], ""));
    assert_eq!(
        conn(&l, &from, "0.0.0.0-255.255.255.255[External]").as_deref(),
        Some("TCP 80-444")
    );

    let (l, _) = check(&with(&["l4/l3_l4_combined.yaml"], ""));
    assert_eq!(
        conn(&l, &p("default/frontend"), &p("default/backend")).as_deref(),
        Some("TCP 80")
    );
    assert_eq!(conn(&l, &p("default/other"), &p("default/backend")), None);

    // ICMP alone admits no port.
    let (l, _) = check(&with(&["l4/icmp.yaml"], ""));
    assert!(!l.iter().any(|x| x.starts_with(&format!("{from} =>"))));
}

#[test]
fn l7_rules_admit_their_ports_and_say_so() {
    let s = with(&["l7/http/simple/l7.yaml"], "");
    let (l, g) = check(&s);
    assert_eq!(
        conn(&l, &p("default/prod"), &p("default/service")).as_deref(),
        Some("TCP 80")
    );
    assert_eq!(conn(&l, &p("default/other"), &p("default/service")), None);
    let noted = g
        .graph
        .edge_weights()
        .flat_map(|e| e.evidence.iter())
        .any(|ev| {
            ev.object.kind == "CiliumNetworkPolicy"
                && ev.field.contains("spec.ingress[0]")
                && ev.field.contains("further restricted at L7")
        });
    assert!(
        noted,
        "the step names the Cilium rule and its L7 restriction"
    );
    // Twin: the same rule without L7 rules says nothing of L7.
    let plain = corpus("l7/http/simple/l7.yaml");
    let plain = plain.split("      rules:").next().unwrap_or_default();
    let g = SecurityGraph::build(&with(&[], plain));
    assert!(
        !g.graph
            .edge_weights()
            .flat_map(|e| e.evidence.iter())
            .any(|ev| ev.field.contains("L7"))
    );
    let (l, _) = check(&with(&["l7/http/http.yaml"], ""));
    assert_eq!(
        conn(&l, &p("default/other"), &p("default/mysvc")).as_deref(),
        Some("TCP 80")
    );
}

#[test]
fn namespaces_by_name_by_label_and_clusterwide() {
    admits(
        "kubernetes/namespace/namespace-policy.yaml",
        &[("ns2/luke", "ns1/leia")],
        &[("ns1/luke", "ns1/leia")],
    );
    admits(
        "kubernetes/namespace/isolate-namespaces.yaml",
        &[("ns1/luke", "ns1/leia"), ("ns1/luke", "default/other")],
        &[("ns2/luke", "ns1/leia"), ("ns1/luke", "ns2/luke")],
    );

    let (l, _) = check(&with(&["kubernetes/namespace/kubedns-policy.yaml"], ""));
    assert_eq!(
        conn(&l, &p("public/web"), &p("kube-system/coredns-udp")).as_deref(),
        Some("UDP 53")
    );
    assert_eq!(conn(&l, &p("public/web"), &p("default/other")), None);

    // A CiliumNetworkPolicy's peer by namespace label: Cilium's docs say the label is ignored
    // there (the policy's own namespace), recent Cilium lets it reach every namespace so
    // labelled (ns1 and ns2 are both of the alliance); rampart admits what either admits.
    let text = corpus("kubernetes/namespace/namespace-labels-policy.yaml");
    let moved = text.replace("metadata:\n", "metadata:\n  namespace: ns2\n");
    assert_ne!(moved, text);
    admits_yaml(
        &moved,
        &[
            ("ns2/luke", "ns2/rebel-base"),
            ("ns1/luke", "ns2/rebel-base"),
        ],
        &[("default/other", "ns2/rebel-base")],
    );
    admits_yaml(
        &text.replace("name: rebel-base", "role: victim"),
        &[
            ("default/other", "default/victim"),
            ("ns2/luke", "default/victim"),
        ],
        &[("production/strict", "default/victim")],
    );
    // As a deny, only what both readings deny: the policy's namespace, when labelled.
    let deny = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: d, namespace: ns2}\nspec: {endpointSelector: {matchLabels: {name: rebel-base}}, ingressDeny: [{fromEndpoints: [{matchLabels: {io.cilium.k8s.namespace.labels.faction: alliance}}]}], ingress: [{fromEntities: [all]}]}\n";
    admits_yaml(
        deny,
        &[
            ("ns1/luke", "ns2/rebel-base"),
            ("default/other", "ns2/rebel-base"),
        ],
        &[("ns2/luke", "ns2/rebel-base")],
    );
    let wide = text.replace(
        "kind: CiliumNetworkPolicy",
        "kind: CiliumClusterwideNetworkPolicy",
    );
    assert_ne!(wide, text);
    let (l, _) = check(&with(&[], &wide));
    assert!(conn(&l, &p("ns1/luke"), &p("ns2/rebel-base")).is_some());
    assert_eq!(conn(&l, &p("default/other"), &p("ns2/rebel-base")), None);

    admits(
        "kubernetes/clusterwide/clusterscope-policy.yaml",
        &[("ns2/luke", "ns1/leia"), ("ns1/luke", "ns1/leia")],
        &[("default/other", "ns1/leia")],
    );

    let (l, _) = check(&with(
        &["kubernetes/clusterwide/wildcard-from-endpoints.yaml"],
        "",
    ));
    assert_eq!(
        conn(&l, &p("ns1/luke"), &p("kube-system/coredns-udp")).as_deref(),
        Some("UDP 53")
    );
    assert_eq!(
        conn(
            &l,
            "0.0.0.0-255.255.255.255[External]",
            &p("kube-system/coredns-udp")
        ),
        None
    );
}

#[test]
fn match_expressions_and_or() {
    admits(
        "l3/match-expressions/and-statement.yaml",
        &[("production/strict", "default/other")],
        &[
            ("production/loose", "default/other"),
            ("default/strict", "default/other"),
        ],
    );
    admits(
        "l3/match-expressions/or-statement.yaml",
        &[
            ("production/loose", "default/other"),
            ("default/strict", "default/other"),
        ],
        &[("default/frontend", "default/other")],
    );
}

#[test]
fn fqdns_reach_the_internet_and_dns_is_kept() {
    let (l, _) = check(&with(&["l3/fqdn/fqdn.yaml"], ""));
    let from = p("default/testapp");
    assert!(conn(&l, &from, &p("kube-system/coredns-udp")).is_some());
    assert_eq!(conn(&l, &from, &p("default/other")), None);
    assert!(
        l.iter()
            .any(|x| x.starts_with(&format!("{from} =>")) && x.contains("[External]")),
        "a DNS name is a public address"
    );
}

#[test]
fn what_is_not_modelled_is_said_and_widens() {
    // Default deny off: the rules add to nothing, so nothing is isolated.
    let (l, _) = check(&with(&["_from-docs/intro-intercept-all-dns.yaml"], ""));
    assert_eq!(
        conn(&l, &p("default/other"), &p("default/frontend")).as_deref(),
        Some(ALL)
    );
    // ... but they add where another policy isolates.
    let np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: lockdown, namespace: default}\nspec: {podSelector: {matchLabels: {role: other}}, policyTypes: [Egress]}\n";
    let (l, _) = check(&with(&["_from-docs/intro-intercept-all-dns.yaml"], np));
    assert!(conn(&l, &p("default/other"), &p("kube-system/coredns-udp")).is_some());
    assert_eq!(conn(&l, &p("default/other"), &p("default/frontend")), None);
    // Twin: the lockdown alone allows no DNS.
    let (l, _) = check(&with(&[], np));
    assert_eq!(
        conn(&l, &p("default/other"), &p("kube-system/coredns-udp")),
        None
    );

    // Service accounts are not modelled: the policy isolates nothing (more reachable, not
    // less), with a warning.
    let s = with(
        &["kubernetes/serviceaccount/serviceaccount-policy.yaml"],
        "",
    );
    let (l, g) = check(&s);
    assert!(conn(&l, &p("default/other"), &p("default/frontend")).is_some());
    assert!(
        g.net.warnings.iter().any(|w| w.contains("serviceaccount")),
        "{:?}",
        g.net.warnings
    );
    // A host policy is ignored, with a warning.
    let s = with(&["l3/host/host-policy.yaml"], "");
    let (_, g) = check(&s);
    assert!(g.net.warnings.iter().any(|w| w.contains("nodeSelector")));
    // toServices: taken as addresses outside the cluster, with a warning.
    let (l, g) = check(&with(&["l3/service/service.yaml"], ""));
    assert!(g.net.warnings.iter().any(|w| w.contains("toServices")));
    assert!(
        l.iter()
            .any(|x| x.starts_with("default/") && x.contains("[External]"))
    );
}

#[test]
fn an_explicitly_empty_peer_list_denies_nothing() {
    let deny = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: d, namespace: default}\nspec: {endpointSelector: {matchLabels: {role: backend}}, ingressDeny: [{fromEndpoints: [], toPorts: [{ports: [{port: \"80\"}]}]}], enableDefaultDeny: {ingress: false}}\n";
    let (l, _) = check(&with(&[], deny));
    let c = conn(&l, &p("default/frontend"), &p("default/backend")).unwrap_or_default();
    assert!(holds(&c, "TCP", 80), "{c}");
    // Twin: the same rule without the empty list denies every peer on the port.
    let (l, _) = check(&with(&[], &deny.replace("fromEndpoints: [], ", "")));
    let c = conn(&l, &p("default/frontend"), &p("default/backend")).unwrap_or_default();
    assert!(!holds(&c, "TCP", 80) && holds(&c, "TCP", 81), "{c}");
}

#[test]
fn to_services_reach_the_service_backends() {
    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: myservice, namespace: default}\nspec: {selector: {role: backend}, ports: [{port: 80}]}\n---\n";
    let s = with(
        &["l3/service/service.yaml"],
        &format!("{svc}{}", pod("default", "app2", "id: app2", &[80])),
    );
    let (l, _) = check(&s);
    assert!(conn(&l, &p("default/app2"), &p("default/backend")).is_some());
    assert_eq!(conn(&l, &p("default/app2"), &p("default/frontend")), None);
}

#[test]
fn fromrequires_is_widened_and_specs_are_rules_of_their_own() {
    let s = with(&["l3/requires/requires.yaml"], "");
    let (_, g) = check(&s);
    assert!(g.net.warnings.iter().any(|w| w.contains("fromRequires")));
}

#[test]
fn every_upstream_example_loads_without_errors() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora/cilium");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 30, "{} files", files.len());
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().to_string();
        let s = with(&[rel.as_str()], "");
        assert!(s.cilium_network_policies().count() >= 1, "{rel}");
        // Building the graph over it never panics and agrees with the listing.
        check(&s);
    }
}

/// `web` in `app`, exposed by a LoadBalancer, then `extra`.
fn exposed(extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: app}}\nspec: {{type: LoadBalancer, selector: {{app: web}}, ports: [{{port: 80, targetPort: 8080}}]}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: app, labels: {{app: web}}}}\nspec: {{automountServiceAccountToken: false, containers: [{{name: c, image: nginx, ports: [{{containerPort: 8080}}]}}]}}\n---\n{extra}"
    )
}

/// The cut of a step a Cilium rule admits is a CiliumNetworkPolicy deny rule, proposed, and
/// applying the plan breaks the chain.
fn cut_by_cilium_deny(yaml: &str, kind: EdgeKind, target: TargetKind, denies: &str) {
    let a = analyze(&snapshot(yaml), &Options::default());
    assert!(
        a.proof.chains.iter().any(|c| c.target_kind == target),
        "{:?}",
        a.proof.chains
    );
    let cut = a
        .plan
        .cuts
        .iter()
        .find(|c| c.kind == kind)
        .unwrap_or_else(|| panic!("a cut at {kind:?}: {:?}", a.plan.cuts));
    assert!(!cut.live, "Cilium objects are proposed, not applied");
    let cnp = cut
        .fixes
        .iter()
        .find_map(|f| match f {
            Fix::AddCiliumPolicy(v) => Some(v),
            _ => None,
        })
        .unwrap_or_else(|| panic!("a CiliumNetworkPolicy: {cut:?}"));
    assert_eq!(cnp["kind"], "CiliumNetworkPolicy");
    let spec = cnp["spec"].to_string();
    assert!(spec.contains(denies), "{spec}");
    assert!(
        spec.contains("\"enableDefaultDeny\":{\"egress\":false,\"ingress\":false}"),
        "{spec}"
    );
    assert!(
        cut.fixes.iter().all(|f| f.manifest().is_none()),
        "no NetworkPolicy is applied live"
    );
    let after = analyze(&apply_plan(&snapshot(yaml), &a.plan), &Options::default());
    assert!(
        !after.proof.chains.iter().any(|c| c.target_kind == target),
        "{:?}",
        after.proof.chains
    );
}

#[test]
fn exfiltration_a_cilium_rule_opens_is_cut_by_a_cilium_egress_deny() {
    let world = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: web-out, namespace: app}\nspec: {endpointSelector: {matchLabels: {app: web}}, egress: [{toEntities: [world]}, {toFQDNs: [{matchName: example.com}]}]}\n";
    cut_by_cilium_deny(
        &exposed(world),
        EdgeKind::Exfiltrates,
        TargetKind::Exfiltration,
        "\"egressDeny\":[{\"toEntities\":[\"world\"]}]",
    );
    // Twin: the same egress kept in the cluster exfiltrates nothing.
    let cluster = world.replace(
        "toEntities: [world]}, {toFQDNs: [{matchName: example.com}]}",
        "toEntities: [cluster]}",
    );
    let a = analyze(&snapshot(&exposed(&cluster)), &Options::default());
    assert!(
        !a.proof
            .chains
            .iter()
            .any(|c| c.target_kind == TargetKind::Exfiltration)
    );
}

#[test]
fn a_lateral_step_a_cilium_rule_admits_is_cut_by_a_cilium_ingress_deny() {
    // web reaches the crown jewel db only through a Cilium ingress rule; web's own exposure
    // and egress are dear (a served, crown-jewel-side network only).
    let db = "apiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: data, labels: {app: db, rampart.dev/crown-jewel: \"true\"}}\nspec: {automountServiceAccountToken: false, containers: [{name: c, image: postgres, ports: [{containerPort: 5432}]}]}\n---\n\
apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: db-in, namespace: data}\nspec: {endpointSelector: {matchLabels: {app: db}}, ingress: [{fromEndpoints: [{matchLabels: {app: web, k8s:io.kubernetes.pod.namespace: app}}], toPorts: [{ports: [{port: \"5432\", protocol: TCP}]}]}]}\n---\n\
apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: web-out, namespace: app}\nspec: {endpointSelector: {matchLabels: {app: web}}, egress: [{toEndpoints: [{matchLabels: {app: db, k8s:io.kubernetes.pod.namespace: data}}]}]}\n";
    let a = analyze(&snapshot(&exposed(db)), &Options::default());
    let chain = a
        .proof
        .chains
        .iter()
        .find(|c| c.target_kind == TargetKind::CrownJewel)
        .unwrap_or_else(|| panic!("{:?}", a.proof.chains));
    let _ = chain;
    let cut = a
        .plan
        .cuts
        .iter()
        .find(|c| c.kind == EdgeKind::PolicyAllows)
        .unwrap_or_else(|| panic!("the lateral step is cut: {:?}", a.plan.cuts));
    let cnps: Vec<String> = cut
        .fixes
        .iter()
        .filter_map(|f| match f {
            Fix::AddCiliumPolicy(v) => Some(v.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(cnps.len(), 1, "one deny, on the receiving side: {cnps:?}");
    assert!(cnps[0].contains("\"namespace\":\"data\""), "{}", cnps[0]);
    assert!(
        cnps[0].contains("\"ingressDeny\":[{\"fromEndpoints\":[{\"matchLabels\":{\"app\":\"web\",\"k8s:io.kubernetes.pod.namespace\":\"app\"}}],\"toPorts\":[{\"ports\":[{\"port\":\"5432\",\"protocol\":\"TCP\"}]}]}]"),
        "{}",
        cnps[0]
    );
    let after = analyze(
        &apply_plan(&snapshot(&exposed(db)), &a.plan),
        &Options::default(),
    );
    assert!(
        !after
            .proof
            .chains
            .iter()
            .any(|c| c.target_kind == TargetKind::CrownJewel),
        "{:?}",
        after.proof.chains
    );
    // A deny of web into db, applied by hand, breaks the lateral step.
    let deny = "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny, namespace: data}\nspec: {endpointSelector: {matchLabels: {app: db}}, ingressDeny: [{fromEndpoints: [{matchLabels: {app: web, k8s:io.kubernetes.pod.namespace: app}}]}], enableDefaultDeny: {ingress: false, egress: false}}\n";
    let g = SecurityGraph::build(&snapshot(&exposed(&format!("{db}{deny}"))));
    assert!(!net_reaches(&g, "Pod/app/web", "Pod/data/db"));
    let g = SecurityGraph::build(&snapshot(&exposed(db)));
    assert!(net_reaches(&g, "Pod/app/web", "Pod/data/db"));
}

/// Random clusters of Cilium policies (allow and deny, namespaced and clusterwide, entities,
/// L4-only and empty rules, default deny on and off) and NetworkPolicies, against an oracle
/// that applies Cilium's semantics pod by pod and port by port — written from the Cilium docs,
/// sharing no code with the model.
mod differential {
    use super::*;
    use proptest::prelude::*;
    use rampart_graph::ports::Protocol;

    const NS: [&str; 3] = ["ns0", "ns1", "ns2"];
    const TEAM: [&str; 3] = ["a", "a", "b"];
    const ROLES: [&str; 2] = ["web", "db"];
    const PORTS: [u16; 3] = [8080, 5432, 9999];

    #[derive(Debug, Clone, Copy)]
    enum NsCond {
        Own,
        Name(usize),
        Team(usize),
    }

    #[derive(Debug, Clone)]
    enum CPeer {
        Endpoints(Option<usize>, NsCond),
        Cluster,
        World,
        All,
        L4Only,
        Empty,
    }

    #[derive(Debug, Clone)]
    struct CRule {
        peer: CPeer,
        port: Option<u16>,
    }

    #[derive(Debug, Clone)]
    struct CPolicy {
        clusterwide: bool,
        ns: usize,
        subject: Option<usize>,
        default_deny: Option<(bool, bool)>,
        ingress: Option<Vec<CRule>>,
        egress: Option<Vec<CRule>>,
        ingress_deny: Vec<CRule>,
        egress_deny: Vec<CRule>,
    }

    #[derive(Debug, Clone)]
    struct KPolicy {
        ns: usize,
        subject: Option<usize>,
        ingress: bool,
        peer: Option<usize>,
        port: Option<u16>,
    }

    fn rule() -> impl Strategy<Value = CRule> {
        let peer = prop_oneof![
            4 => (proptest::option::of(0usize..2), 0usize..4, 0usize..3).prop_map(|(r, c, i)| {
                let ns = match c {
                    0 | 1 => NsCond::Own,
                    2 => NsCond::Name(i),
                    _ => NsCond::Team(i % 2),
                };
                CPeer::Endpoints(r, ns)
            }),
            1 => Just(CPeer::Cluster),
            1 => Just(CPeer::World),
            1 => Just(CPeer::All),
            1 => Just(CPeer::L4Only),
            1 => Just(CPeer::Empty),
        ];
        (
            peer,
            proptest::option::of(proptest::sample::select(PORTS.to_vec())),
        )
            .prop_map(|(peer, port)| CRule { peer, port })
    }

    fn rules() -> impl Strategy<Value = Option<Vec<CRule>>> {
        proptest::option::of(proptest::collection::vec(rule(), 0..3))
    }

    fn cpolicy() -> impl Strategy<Value = CPolicy> {
        (
            any::<bool>(),
            0usize..3,
            proptest::option::of(0usize..2),
            proptest::option::of((any::<bool>(), any::<bool>())),
            rules(),
            rules(),
            proptest::collection::vec(rule(), 0..2),
            proptest::collection::vec(rule(), 0..2),
        )
            .prop_map(
                |(
                    clusterwide,
                    ns,
                    subject,
                    default_deny,
                    ingress,
                    egress,
                    ingress_deny,
                    egress_deny,
                )| {
                    CPolicy {
                        clusterwide,
                        ns,
                        subject,
                        default_deny,
                        ingress,
                        egress,
                        ingress_deny,
                        egress_deny,
                    }
                },
            )
    }

    fn kpolicy() -> impl Strategy<Value = KPolicy> {
        (
            0usize..3,
            proptest::option::of(0usize..2),
            any::<bool>(),
            proptest::option::of(0usize..2),
            proptest::option::of(proptest::sample::select(PORTS.to_vec())),
        )
            .prop_map(|(ns, subject, ingress, peer, port)| KPolicy {
                ns,
                subject,
                ingress,
                peer,
                port,
            })
    }

    fn role_sel(r: Option<usize>) -> String {
        match r {
            Some(r) => format!("{{matchLabels: {{role: {}}}}}", ROLES[r]),
            None => "{}".into(),
        }
    }

    fn yaml_rule(r: &CRule, egress: bool) -> String {
        let (ep, ent) = if egress {
            ("toEndpoints", "toEntities")
        } else {
            ("fromEndpoints", "fromEntities")
        };
        let mut parts = Vec::new();
        match &r.peer {
            CPeer::Endpoints(role, ns) => {
                let mut labels = Vec::new();
                if let Some(role) = role {
                    labels.push(format!("role: {}", ROLES[*role]));
                }
                match ns {
                    NsCond::Own => {}
                    NsCond::Name(i) => {
                        labels.push(format!("\"k8s:io.kubernetes.pod.namespace\": {}", NS[*i]))
                    }
                    NsCond::Team(t) => labels.push(format!(
                        "\"io.cilium.k8s.namespace.labels.team\": {}",
                        ["a", "b"][*t]
                    )),
                }
                parts.push(format!(
                    "{ep}: [{{matchLabels: {{{}}}}}]",
                    labels.join(", ")
                ));
            }
            CPeer::Cluster => parts.push(format!("{ent}: [cluster]")),
            CPeer::World => parts.push(format!("{ent}: [world]")),
            CPeer::All => parts.push(format!("{ent}: [all]")),
            CPeer::L4Only => {}
            CPeer::Empty => return "{}".into(),
        }
        match (r.port, &r.peer) {
            (Some(p), _) => parts.push(format!(
                "toPorts: [{{ports: [{{port: \"{p}\", protocol: TCP}}]}}]"
            )),
            (None, CPeer::L4Only) => {
                parts.push("toPorts: [{ports: [{port: \"0\", protocol: ANY}]}]".into())
            }
            (None, _) => {}
        }
        format!("{{{}}}", parts.join(", "))
    }

    fn yaml(cs: &[CPolicy], ks: &[KPolicy]) -> String {
        let mut y = String::new();
        for (i, ns) in NS.iter().enumerate() {
            y.push_str(&format!(
                "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{team: {}}}}}\n---\n",
                TEAM[i]
            ));
            for role in ROLES {
                y.push_str(&format!(
                    "apiVersion: v1\nkind: Pod\nmetadata: {{name: {role}, namespace: {ns}, labels: {{role: {role}}}}}\nspec: {{automountServiceAccountToken: false, containers: [{{name: c, image: x, ports: [{{containerPort: 8080}}, {{containerPort: 5432}}, {{containerPort: 9999}}]}}]}}\n---\n"
                ));
            }
        }
        for (i, c) in cs.iter().enumerate() {
            let (kind, meta) = if c.clusterwide {
                ("CiliumClusterwideNetworkPolicy", format!("{{name: c{i}}}"))
            } else {
                (
                    "CiliumNetworkPolicy",
                    format!("{{name: c{i}, namespace: {}}}", NS[c.ns]),
                )
            };
            let mut spec = vec![format!("endpointSelector: {}", role_sel(c.subject))];
            let list = |rs: &[CRule], egress: bool| {
                rs.iter()
                    .map(|r| yaml_rule(r, egress))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if let Some(r) = &c.ingress {
                spec.push(format!("ingress: [{}]", list(r, false)));
            }
            if let Some(r) = &c.egress {
                spec.push(format!("egress: [{}]", list(r, true)));
            }
            if !c.ingress_deny.is_empty() {
                spec.push(format!("ingressDeny: [{}]", list(&c.ingress_deny, false)));
            }
            if !c.egress_deny.is_empty() {
                spec.push(format!("egressDeny: [{}]", list(&c.egress_deny, true)));
            }
            if let Some((i, e)) = c.default_deny {
                spec.push(format!("enableDefaultDeny: {{ingress: {i}, egress: {e}}}"));
            }
            y.push_str(&format!(
                "apiVersion: cilium.io/v2\nkind: {kind}\nmetadata: {meta}\nspec: {{{}}}\n---\n",
                spec.join(", ")
            ));
        }
        for (i, k) in ks.iter().enumerate() {
            let (ty, dir, key) = if k.ingress {
                ("Ingress", "ingress", "from")
            } else {
                ("Egress", "egress", "to")
            };
            let mut r = Vec::new();
            if let Some(p) = k.peer {
                r.push(format!("{key}: [{{podSelector: {}}}]", role_sel(Some(p))));
            }
            if let Some(port) = k.port {
                r.push(format!("ports: [{{port: {port}}}]"));
            }
            y.push_str(&format!(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: k{i}, namespace: {}}}\nspec: {{podSelector: {}, policyTypes: [{ty}], {dir}: [{{{}}}]}}\n---\n",
                NS[k.ns],
                role_sel(k.subject),
                r.join(", ")
            ));
        }
        y
    }

    /// A pod: (namespace index, role index); `None` is an address on the internet.
    type End = Option<(usize, usize)>;

    fn selects(c: &CPolicy, pod: (usize, usize)) -> bool {
        (c.clusterwide || c.ns == pod.0) && c.subject.is_none_or(|r| r == pod.1)
    }

    /// Whether `r` (a deny rule when `deny`) of `c` names `other` on `port`. A namespace-label
    /// condition of a namespaced policy's peer: the docs say it is ignored (the policy's
    /// namespace), recent Cilium reaches every namespace so labelled — an allow admits either,
    /// a deny denies both.
    fn peer_matches(c: &CPolicy, r: &CRule, other: End, port: u16, deny: bool) -> bool {
        if r.port.is_some_and(|p| p != port) {
            return false;
        }
        match (&r.peer, other) {
            (CPeer::Empty, _) => false,
            (CPeer::L4Only | CPeer::All, _) => true,
            (CPeer::World, o) => o.is_none(),
            (CPeer::Cluster, o) => o.is_some(),
            (CPeer::Endpoints(..), None) => false,
            (CPeer::Endpoints(role, ns), Some(o)) => {
                role.is_none_or(|x| x == o.1)
                    && match ns {
                        NsCond::Name(i) => o.0 == *i,
                        NsCond::Own => c.clusterwide || o.0 == c.ns,
                        NsCond::Team(t) if c.clusterwide => TEAM[o.0] == ["a", "b"][*t],
                        // Either reading for an allow, both for a deny.
                        NsCond::Team(t) if deny => o.0 == c.ns && TEAM[o.0] == ["a", "b"][*t],
                        NsCond::Team(t) => o.0 == c.ns || TEAM[o.0] == ["a", "b"][*t],
                    }
            }
        }
    }

    /// One side's verdict: `me` sends (egress) to or receives (ingress) from `other` on `port`.
    fn side(
        cs: &[CPolicy],
        ks: &[KPolicy],
        me: (usize, usize),
        other: End,
        port: u16,
        ingress: bool,
    ) -> bool {
        let mine: Vec<&CPolicy> = cs.iter().filter(|c| selects(c, me)).collect();
        for c in &mine {
            let deny = if ingress {
                &c.ingress_deny
            } else {
                &c.egress_deny
            };
            if deny.iter().any(|r| peer_matches(c, r, other, port, true)) {
                return false;
            }
        }
        let kmine: Vec<&KPolicy> = ks
            .iter()
            .filter(|k| k.ns == me.0 && k.subject.is_none_or(|r| r == me.1) && k.ingress == ingress)
            .collect();
        let isolated = !kmine.is_empty()
            || mine.iter().any(|c| {
                let (allow, deny) = if ingress {
                    (&c.ingress, &c.ingress_deny)
                } else {
                    (&c.egress, &c.egress_deny)
                };
                let has = allow.as_ref().is_some_and(|r| !r.is_empty()) || !deny.is_empty();
                let explicit = c.default_deny.map(|(i, e)| if ingress { i } else { e });
                explicit.unwrap_or(has)
            });
        if !isolated {
            return true;
        }
        let by_cilium = mine.iter().any(|c| {
            let allow = if ingress { &c.ingress } else { &c.egress };
            allow
                .iter()
                .flatten()
                .any(|r| peer_matches(c, r, other, port, false))
        });
        let by_k8s = kmine.iter().any(|k| {
            k.port.is_none_or(|p| p == port)
                && match (k.peer, other) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(r), Some(o)) => o.0 == k.ns && o.1 == r,
                }
        });
        by_cilium || by_k8s
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn the_model_applies_ciliums_semantics(
            cs in proptest::collection::vec(cpolicy(), 0..4),
            ks in proptest::collection::vec(kpolicy(), 0..3),
        ) {
            let y = yaml(&cs, &ks);
            let parsed = parse_source("t.yaml", &y, &ParseLimits::default());
            prop_assert!(parsed.errors.is_empty(), "{:?}\n{}", parsed.errors, y);
            let s = Snapshot::from_objects(parsed.objects);
            let g = SecurityGraph::build(&s);
            let net = &g.net;
            let class = |ns: usize, role: usize| class_of(&g, &format!("{}/{}", NS[ns], ROLES[role]));
            let pods: Vec<(usize, usize)> = (0..3).flat_map(|n| (0..2).map(move |r| (n, r))).collect();
            for &a in &pods {
                for port in PORTS {
                    let out = side(&cs, &ks, a, None, port, false);
                    prop_assert_eq!(net.egress_to_external(class(a.0, a.1), None).contains(Protocol::Tcp, port), out,
                        "{:?} → internet :{}\n{}", a, port, y);
                    let inn = side(&cs, &ks, a, None, port, true);
                    prop_assert_eq!(net.ingress_from_external(None, class(a.0, a.1)).0.contains(Protocol::Tcp, port), inn,
                        "internet → {:?} :{}\n{}", a, port, y);
                }
                for &b in &pods {
                    if a == b {
                        continue;
                    }
                    for port in PORTS {
                        let want = side(&cs, &ks, a, Some(b), port, false) && side(&cs, &ks, b, Some(a), port, true);
                        let got = net.allowed(class(a.0, a.1), class(b.0, b.1)).contains(Protocol::Tcp, port);
                        prop_assert_eq!(got, want, "{:?} → {:?} :{}\n{}", a, b, port, y);
                    }
                    let (an, bn) = (format!("Pod/{}/{}", NS[a.0], ROLES[a.1]), format!("Pod/{}/{}", NS[b.0], ROLES[b.1]));
                    let any = PORTS.iter().any(|&port| side(&cs, &ks, a, Some(b), port, false) && side(&cs, &ks, b, Some(a), port, true));
                    prop_assert_eq!(net_reaches(&g, &an, &bn), any, "graph {} → {}\n{}", an, bn, y);
                }
            }
        }
    }
}
