//! The ATT&CK objectives beyond the classic targets (issue 23 part 1): each with a positive
//! twin (the chain exists, with its technique id) and a negative one (one fact removed, no
//! chain), the probe shape the peer reports three chains for, and the choice of objectives.

mod common;

use common::*;
use rampart_graph::cut::apply_plan;
use rampart_graph::{Analysis, Objective, Objectives, Options, TargetKind, analyze};

/// `web` in `app`, exposed by a LoadBalancer, running as ServiceAccount `web` (token mounted),
/// then `extra` objects.
fn exposed(extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: app}}\nspec: {{type: LoadBalancer, selector: {{app: web}}, ports: [{{port: 80, targetPort: 8080}}]}}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: web, namespace: app}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: app, labels: {{app: web}}}}\nspec: {{serviceAccountName: web, containers: [{{name: c, image: nginx, ports: [{{containerPort: 8080}}]}}]}}\n---\n{extra}"
    )
}

/// A Role in `app` with `rules`, bound to `web`.
fn role(rules: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: r, namespace: app}}\nrules: {rules}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: r, namespace: app}}\nroleRef: {{kind: Role, name: r}}\nsubjects: [{{kind: ServiceAccount, name: web, namespace: app}}]\n---\n"
    )
}

/// A ClusterRole with `rules`, bound cluster-wide to `web`.
fn cluster_role(rules: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: cr}}\nrules: {rules}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: cr}}\nroleRef: {{kind: ClusterRole, name: cr}}\nsubjects: [{{kind: ServiceAccount, name: web, namespace: app}}]\n---\n"
    )
}

/// A StatefulSet `db` in `app` keeping its data on a claim template, running `image`.
fn stateful_db(image: &str, port: u16) -> String {
    format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: db, namespace: app}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: db}}}}\n  template:\n    metadata: {{labels: {{app: db}}}}\n    spec: {{automountServiceAccountToken: false, containers: [{{name: c, image: {image}, ports: [{{containerPort: {port}}}], volumeMounts: [{{name: data, mountPath: /data}}]}}]}}\n  volumeClaimTemplates: [{{metadata: {{name: data}}, spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}]\n---\n"
    )
}

/// An egress NetworkPolicy on `web` allowing the cluster only (and DNS).
const WEB_EGRESS_IN_CLUSTER: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web-egress, namespace: app}\nspec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {}}]}]}\n---\n";

/// The listed chains to targets of `kind`: (target, technique id).
fn chains_to(a: &Analysis, kind: TargetKind) -> Vec<(String, Option<&'static str>)> {
    a.proof
        .chains
        .iter()
        .filter(|c| c.target_kind == kind)
        .map(|c| {
            (
                a.graph.vertex_ref(c.target).to_string(),
                c.technique.map(|t| t.id()),
            )
        })
        .collect()
}

fn has_chain(a: &Analysis, kind: TargetKind, target: &str, technique: &str) -> bool {
    chains_to(a, kind)
        .iter()
        .any(|(t, id)| t == target && *id == Some(technique))
}

fn analysis_with(yaml: &str, objectives: Objectives) -> Analysis {
    analyze(
        &snapshot(yaml),
        &Options {
            objectives,
            ..Options::default()
        },
    )
}

// Impact.

#[test]
fn deleting_claims_where_data_lives_is_data_destruction() {
    let a = analysis(&exposed(&format!(
        "{}{}",
        role("[{apiGroups: [''], resources: [persistentvolumeclaims], verbs: [delete]}]"),
        stateful_db("postgres:16", 5432)
    )));
    assert!(
        has_chain(
            &a,
            TargetKind::Impact,
            "Impact/app/data-destruction",
            "T1485"
        ),
        "{:?}",
        chains_to(&a, TargetKind::Impact)
    );
}

#[test]
fn reading_claims_destroys_nothing() {
    let a = analysis(&exposed(&format!(
        "{}{}",
        role("[{apiGroups: [''], resources: [persistentvolumeclaims], verbs: [get, list, watch]}]"),
        stateful_db("postgres:16", 5432)
    )));
    assert!(chains_to(&a, TargetKind::Impact).is_empty());
}

#[test]
fn deleting_claims_in_a_namespace_without_data_destroys_nothing() {
    // The same right, but no workload of `app` keeps data on a claim.
    let a = analysis(&exposed(&role(
        "[{apiGroups: [''], resources: [persistentvolumeclaims], verbs: [delete]}]",
    )));
    assert!(chains_to(&a, TargetKind::Impact).is_empty());
}

#[test]
fn scaling_deployments_down_is_service_stop_and_deleting_namespaces_destroys_data() {
    let a = analysis(&exposed(&role(
        "[{apiGroups: [apps], resources: [deployments/scale], verbs: [patch]}]",
    )));
    assert!(has_chain(
        &a,
        TargetKind::Impact,
        "Impact/app/service-stop",
        "T1489"
    ));
    let a = analysis(&exposed(&format!(
        "{}{}",
        cluster_role("[{apiGroups: [''], resources: [namespaces], verbs: [delete]}]"),
        stateful_db("postgres:16", 5432)
    )));
    assert!(has_chain(
        &a,
        TargetKind::Impact,
        "Impact/data-destruction",
        "T1485"
    ));
}

#[test]
fn deleting_its_own_namespace_destroys_its_data_and_another_does_not() {
    let rule = |names: &str| {
        analysis(&exposed(&format!(
            "{}{}",
            role(&format!(
                "[{{apiGroups: [''], resources: [namespaces], verbs: [delete], resourceNames: [{names}]}}]"
            )),
            stateful_db("postgres:16", 5432)
        )))
    };
    assert!(has_chain(
        &rule("app"),
        TargetKind::Impact,
        "Impact/app/data-destruction",
        "T1485"
    ));
    assert!(chains_to(&rule("other"), TargetKind::Impact).is_empty());
}

#[test]
fn reading_deployments_stops_nothing() {
    let a = analysis(&exposed(&role(
        "[{apiGroups: [apps], resources: [deployments, deployments/scale], verbs: [get, list]}]",
    )));
    assert!(chains_to(&a, TargetKind::Impact).is_empty());
}

// Exfiltration.

#[test]
fn an_exposed_pod_with_open_egress_exfiltrates() {
    let a = analysis(&exposed(""));
    assert!(has_chain(
        &a,
        TargetKind::Exfiltration,
        "Exfiltration/egress-to-internet",
        "T1041"
    ));
}

#[test]
fn egress_kept_in_the_cluster_exfiltrates_nothing() {
    let a = analysis(&exposed(WEB_EGRESS_IN_CLUSTER));
    assert!(chains_to(&a, TargetKind::Exfiltration).is_empty());
}

#[test]
fn an_egress_rule_to_a_public_range_exfiltrates_and_an_admin_deny_stops_it() {
    let public = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web-egress, namespace: app}\nspec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}], ports: [{port: 443}]}]}\n---\n";
    let a = analysis(&exposed(public));
    assert!(has_chain(
        &a,
        TargetKind::Exfiltration,
        "Exfiltration/egress-to-internet",
        "T1041"
    ));
    // NetworkPolicies only add: the cut narrows the rule that admits the internet, proposed.
    let cut = a
        .plan
        .cuts
        .iter()
        .find(|c| c.kind == rampart_graph::model::EdgeKind::Exfiltrates)
        .expect("cut at the rule");
    assert!(
        !cut.live && cut.fixes.iter().all(|f| f.manifest().is_none()),
        "{cut:?}"
    );
    let after = analyze(
        &apply_plan(&snapshot(&exposed(public)), &a.plan),
        &Options::default(),
    );
    assert!(chains_to(&after, TargetKind::Exfiltration).is_empty());
    // An AdminNetworkPolicy denying every address outside the cluster overrides the rule.
    let deny = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: no-internet}\nspec: {priority: 10, subject: {namespaces: {}}, egress: [{name: deny, action: Deny, to: [{networks: [0.0.0.0/0, '::/0']}]}]}\n---\n";
    let a = analysis(&exposed(&format!("{public}{deny}")));
    assert!(chains_to(&a, TargetKind::Exfiltration).is_empty());
}

#[test]
fn the_cut_of_exfiltration_denies_the_internet_and_keeps_the_cluster() {
    let a = analysis(&exposed(""));
    let cut = a
        .plan
        .cuts
        .iter()
        .find(|c| c.kind == rampart_graph::model::EdgeKind::Exfiltrates)
        .expect("the cheapest cut denies web the internet");
    assert!(cut.live, "{cut:?}");
    let np = cut.fixes[0].manifest().expect("a NetworkPolicy");
    let egress = np["spec"]["egress"].to_string();
    assert!(egress.contains("namespaceSelector"), "{egress}");
    assert!(!egress.contains("0.0.0.0/0"), "{egress}");
    let after = analyze(
        &apply_plan(&snapshot(&exposed("")), &a.plan),
        &Options::default(),
    );
    assert!(
        chains_to(&after, TargetKind::Exfiltration).is_empty(),
        "{:?}",
        after.proof.chains
    );
}

// Collection.

#[test]
fn reaching_a_database_is_collection() {
    let a = analysis(&exposed(&stateful_db(
        "docker.io/bitnami/postgresql:16",
        5432,
    )));
    assert!(has_chain(
        &a,
        TargetKind::Collection,
        "StatefulSet/app/db",
        "T1213"
    ));
    // Data on a persistent volume, whatever runs there.
    let a = analysis(&exposed(&stateful_db("acme/ledger:1", 7000)));
    assert!(has_chain(
        &a,
        TargetKind::Collection,
        "StatefulSet/app/db",
        "T1530"
    ));
}

#[test]
fn an_isolated_database_or_a_stateless_pod_is_no_collection() {
    let deny = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-deny, namespace: app}\nspec: {podSelector: {matchLabels: {app: db}}, policyTypes: [Ingress]}\n---\n";
    let a = analysis(&exposed(&format!(
        "{}{deny}",
        stateful_db("postgres:16", 5432)
    )));
    assert!(chains_to(&a, TargetKind::Collection).is_empty());
    let stateless = "apiVersion: v1\nkind: Pod\nmetadata: {name: cache, namespace: app, labels: {app: cache}}\nspec: {containers: [{name: c, image: nginx, ports: [{containerPort: 8081}]}]}\n---\n";
    let a = analysis(&exposed(stateless));
    assert!(chains_to(&a, TargetKind::Collection).is_empty());
}

// Persistence.

#[test]
fn creating_cronjobs_persists() {
    let a = analysis(&exposed(&role(
        "[{apiGroups: [batch], resources: [cronjobs], verbs: [create]}]",
    )));
    assert!(has_chain(
        &a,
        TargetKind::Persistence,
        "Persistence/app/cronjob",
        "T1053.007"
    ));
    let a = analysis(&exposed(&role(
        "[{apiGroups: [batch], resources: [cronjobs], verbs: [get, list, delete]}]",
    )));
    assert!(chains_to(&a, TargetKind::Persistence).is_empty());
    // `create` with `resourceNames` allows nothing (the name is not known at create).
    let a = analysis(&exposed(&role(
        "[{apiGroups: [batch], resources: [cronjobs], verbs: [create], resourceNames: [job]}]",
    )));
    assert!(chains_to(&a, TargetKind::Persistence).is_empty());
}

#[test]
fn writing_mutating_webhooks_persists_beside_cluster_admin() {
    let a = analysis(&exposed(&cluster_role(
        "[{apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [create]}]",
    )));
    assert!(has_chain(
        &a,
        TargetKind::Persistence,
        "Persistence/mutating-webhook",
        "T1546"
    ));
    assert!(
        chains_to(&a, TargetKind::ClusterAdmin)
            .iter()
            .any(|(_, id)| *id == Some("T1078"))
    );
    // Validating webhooks change nothing that runs.
    let a = analysis(&exposed(&cluster_role(
        "[{apiGroups: [admissionregistration.k8s.io], resources: [validatingwebhookconfigurations], verbs: [create]}]",
    )));
    assert!(chains_to(&a, TargetKind::Persistence).is_empty());
}

#[test]
fn a_writable_static_pod_directory_persists_and_a_read_only_one_does_not() {
    let pod = |ro: bool| {
        exposed("").replace(
            "containers: [{name: c, image: nginx, ports: [{containerPort: 8080}]}]",
            &format!(
                "volumes: [{{name: m, hostPath: {{path: /etc/kubernetes/manifests/}}}}], containers: [{{name: c, image: nginx, ports: [{{containerPort: 8080}}], volumeMounts: [{{name: m, mountPath: /m, readOnly: {ro}}}]}}]"
            ),
        )
    };
    let a = analysis(&pod(false));
    assert!(has_chain(
        &a,
        TargetKind::Persistence,
        "Persistence/daemonset-or-static-pod",
        "T1543.005"
    ));
    let a = analysis(&pod(true));
    assert!(chains_to(&a, TargetKind::Persistence).is_empty());
}

// The probe, and the choice.

/// The probe shape of issue 23: an exposed workload that may delete PersistentVolumeClaims,
/// with unrestricted egress, reaching a PVC-backed database.
fn probe() -> String {
    exposed(&format!(
        "{}{}",
        role(
            "[{apiGroups: [''], resources: [persistentvolumeclaims], verbs: [delete, get, list]}]"
        ),
        stateful_db("mysql:8", 3306)
    ))
}

#[test]
fn the_probe_yields_impact_exfiltration_and_collection_with_technique_ids() {
    let a = analysis(&probe());
    assert!(has_chain(
        &a,
        TargetKind::Impact,
        "Impact/app/data-destruction",
        "T1485"
    ));
    assert!(has_chain(
        &a,
        TargetKind::Exfiltration,
        "Exfiltration/egress-to-internet",
        "T1041"
    ));
    assert!(has_chain(
        &a,
        TargetKind::Collection,
        "StatefulSet/app/db",
        "T1213"
    ));
    // Every chain names its technique; the cut covers them all.
    assert!(a.proof.chains.iter().all(|c| c.technique.is_some()));
    let after = analyze(
        &apply_plan(&snapshot(&probe()), &a.plan),
        &Options::default(),
    );
    assert!(after.proof.chains.is_empty(), "{:?}", after.proof.chains);
}

#[test]
fn objectives_not_chosen_are_no_targets_and_leave_the_classic_ones_alone() {
    let all = analysis(&probe());
    let none = analysis_with(&probe(), Objectives::none());
    for kind in [
        TargetKind::Impact,
        TargetKind::Exfiltration,
        TargetKind::Collection,
        TargetKind::Persistence,
    ] {
        assert!(chains_to(&none, kind).is_empty(), "{kind:?}");
    }
    let classic = |a: &Analysis| {
        let mut v: Vec<String> = a
            .proof
            .chains
            .iter()
            .filter(|c| {
                matches!(
                    c.target_kind,
                    TargetKind::Secret | TargetKind::Node | TargetKind::ClusterAdmin
                )
            })
            .map(|c| c.id.clone())
            .collect();
        v.sort();
        v
    };
    assert_eq!(classic(&all), classic(&none));
    let impact = analysis_with(&probe(), Objectives::of(&[Objective::Impact]));
    assert!(!chains_to(&impact, TargetKind::Impact).is_empty());
    assert!(chains_to(&impact, TargetKind::Exfiltration).is_empty());
    assert!(chains_to(&impact, TargetKind::Collection).is_empty());
}

#[test]
fn the_cluster_dns_is_no_foothold_reached_over_the_network() {
    // Contained egress keeps DNS, so a cut that contains a foothold must not leave a chain
    // through it: DNS pods answer queries and are not walked into. The same pod without the
    // DNS label is.
    let dns = |label: &str| {
        exposed(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: coredns, namespace: kube-system, labels: {{{label}}}}}\nspec: {{automountServiceAccountToken: false, volumes: [{{name: k, secret: {{secretName: dns-key}}}}], containers: [{{name: c, image: coredns, ports: [{{containerPort: 53, protocol: UDP}}], volumeMounts: [{{name: k, mountPath: /k}}]}}]}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: dns-key, namespace: kube-system}}\n---\n"
        ))
    };
    let reached = |a: &Analysis| {
        chains_to(a, TargetKind::Secret)
            .iter()
            .any(|(t, _)| t == "Secret/kube-system/dns-key")
    };
    assert!(!reached(&analysis(&dns("k8s-app: kube-dns"))));
    assert!(reached(&analysis(&dns("k8s-app: resolver"))));
}

#[test]
fn objectives_nearer_than_a_node_do_not_crowd_it_out_of_the_listing() {
    // Three databases next to the entry, a privileged worker one step further: with two chains
    // listed per entry, the node's chain is still listed (the classic targets have their own).
    let mut extra = String::new();
    for i in 0..3 {
        extra.push_str(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: db{i}, namespace: app, labels: {{app: db{i}}}}}\nspec: {{automountServiceAccountToken: false, containers: [{{name: c, image: redis, ports: [{{containerPort: 6379}}]}}]}}\n---\n"
        ));
    }
    extra.push_str("apiVersion: v1\nkind: Pod\nmetadata: {name: worker, namespace: app, labels: {app: worker}}\nspec: {automountServiceAccountToken: false, containers: [{name: c, image: busybox, ports: [{containerPort: 9000}], securityContext: {privileged: true}}]}\n---\n");
    let a = analyze(
        &snapshot(&exposed(&extra)),
        &Options {
            prove: rampart_graph::ProveOptions {
                max_chains_per_entry: 2,
            },
            ..Options::default()
        },
    );
    assert!(
        !chains_to(&a, TargetKind::Node).is_empty(),
        "{:?}",
        a.proof
            .chains
            .iter()
            .map(|c| c.target_kind)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        chains_to(&a, TargetKind::Collection).len() + chains_to(&a, TargetKind::Exfiltration).len(),
        2
    );
    assert_eq!(a.proof.truncated_entries, 1);
}
