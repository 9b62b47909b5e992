//! The cut in the admin layer: where AdminNetworkPolicies (or the baseline) judge a lateral step,
//! no NetworkPolicy can cut it, so the cut is an AdminNetworkPolicy Deny ahead of every one that
//! judges the destination — live, verified by the analysis, and applied by the
//! `adminnetworkpolicy` actuator.

mod common;

use common::snapshot;
use rampart_graph::cut::apply_plan;
use rampart_graph::fix::Fix;
use rampart_graph::{Analysis, Cut, Options, TargetKind, analyze};

/// `web` in `app`, exposed by a LoadBalancer; `db`, a crown jewel in `data`; then `extra`.
fn cluster(extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: app}}\n---\n\
apiVersion: v1\nkind: Namespace\nmetadata: {{name: data}}\n---\n\
apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: app}}\nspec: {{type: LoadBalancer, selector: {{app: web}}, ports: [{{port: 80, targetPort: 8080}}]}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: app, labels: {{app: web}}}}\nspec: {{automountServiceAccountToken: false, containers: [{{name: c, image: nginx, ports: [{{containerPort: 8080}}]}}]}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {{name: db, namespace: data, labels: {{app: db, rampart.dev/crown-jewel: \"true\"}}}}\nspec: {{automountServiceAccountToken: false, containers: [{{name: c, image: postgres, ports: [{{containerPort: 5432}}]}}]}}\n---\n{extra}"
    )
}

/// A NetworkPolicy isolating db: only the admin layer can let web in.
const DB_ISOLATED: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-closed, namespace: data}\nspec: {podSelector: {matchLabels: {app: db}}, policyTypes: [Ingress]}\n---\n";

/// An AdminNetworkPolicy at `priority` whose ingress rule `action` names namespace app into db.
fn anp(name: &str, priority: u32, action: &str) -> String {
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {{name: {name}}}\nspec: {{priority: {priority}, subject: {{pods: {{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: data}}}}, podSelector: {{matchLabels: {{app: db}}}}}}}}, ingress: [{{name: r, action: {action}, from: [{{namespaces: {{matchLabels: {{kubernetes.io/metadata.name: app}}}}}}]}}]}}\n---\n"
    )
}

fn jewel_chains(a: &Analysis) -> usize {
    a.proof
        .chains
        .iter()
        .filter(|c| c.target_kind == TargetKind::CrownJewel)
        .count()
}

/// The cut carrying an AdminNetworkPolicy Deny, and that object.
fn admin_cut(a: &Analysis) -> Option<(&Cut, &serde_json::Value)> {
    a.plan.cuts.iter().find_map(|c| {
        c.fixes.iter().find_map(|f| match f {
            Fix::AddAdminNetworkPolicy(v) => Some((c, v)),
            _ => None,
        })
    })
}

/// The cut is a live AdminNetworkPolicy Deny at `priority`, and applying the plan breaks every
/// chain to db.
fn cut_by_admin_deny(yaml: &str, priority: u32) {
    cut_by_admin_deny_with(yaml, priority, &Options::default());
}

fn cut_by_admin_deny_with(yaml: &str, priority: u32, options: &Options) {
    let a = analyze(&snapshot(yaml), options);
    assert!(jewel_chains(&a) > 0, "{:?}", a.proof.chains);
    let (cut, anp) = admin_cut(&a).unwrap_or_else(|| panic!("an ANP deny: {:?}", a.plan.cuts));
    assert!(cut.live, "verified and live: {:?}", cut.notes);
    assert!(cut.fixes.iter().all(|f| f.is_live()), "{:?}", cut.fixes);
    assert_eq!(anp["kind"], "AdminNetworkPolicy");
    assert_eq!(anp["spec"]["priority"], priority);
    assert!(anp["metadata"]["namespace"].is_null(), "cluster-scoped");
    let name = anp["metadata"]["name"].as_str().unwrap_or_default();
    assert!(
        name.starts_with("rampart-deny-data.db-") && name.len() <= 63,
        "{name}"
    );
    assert_eq!(
        anp["spec"]["subject"]["pods"]["podSelector"]["matchLabels"]["app"],
        "db"
    );
    let rule = &anp["spec"]["ingress"][0];
    assert_eq!(rule["action"], "Deny");
    assert_eq!(
        rule["from"][0]["pods"]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "app"
    );
    assert_eq!(
        rule["from"][0]["pods"]["podSelector"]["matchLabels"]["app"],
        "web"
    );
    assert_eq!(cut.fixes[0].namespace(), Some("data"));
    let after = analyze(&apply_plan(&snapshot(yaml), &a.plan), options);
    assert_eq!(jewel_chains(&after), 0, "{:?}", after.proof.chains);
}

#[test]
fn a_step_an_anp_allow_admits_is_cut_by_an_anp_deny_ahead_of_it() {
    cut_by_admin_deny(
        &cluster(&format!("{}{DB_ISOLATED}", anp("allow-web", 20, "Allow"))),
        10,
    );
    // An allow ahead of rampart's usual priority: the deny goes ahead of it.
    cut_by_admin_deny(
        &cluster(&format!("{}{DB_ISOLATED}", anp("allow-web", 4, "Allow"))),
        3,
    );
}

#[test]
fn a_pass_ahead_of_the_deny_would_skip_it_so_the_deny_goes_ahead_of_the_pass() {
    // A Pass at 7 hands the step to the NetworkPolicies, which open db: a deny at 10 would
    // never be reached.
    let open = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-open, namespace: data}\nspec: {podSelector: {matchLabels: {app: db}}, policyTypes: [Ingress], ingress: [{}]}\n";
    cut_by_admin_deny(&cluster(&format!("{}{open}", anp("pass", 7, "Pass"))), 6);
}

#[test]
fn the_baseline_and_the_egress_side_are_cut_alike() {
    // The baseline allows web in where no NetworkPolicy isolates db: an ANP deny at the usual
    // priority precedes it.
    let banp = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec: {subject: {namespaces: {}}, ingress: [{name: web, action: Allow, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: app}}}]}, {name: rest, action: Deny, from: [{namespaces: {}}]}]}\n";
    cut_by_admin_deny(&cluster(banp), 10);
    // web's egress judged by an ANP that allows db: the deny sits on db's ingress. (Its
    // exfiltration, which only the exposure cuts while the ANP judges all its egress, is left
    // out: with it, cutting the exposure alone is cheapest.)
    let egress = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: web-out}\nspec: {priority: 30, subject: {pods: {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: app}}, podSelector: {matchLabels: {app: web}}}}, egress: [{name: db, action: Allow, to: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: data}}}]}, {name: rest, action: Deny, to: [{namespaces: {}}]}]}\n";
    let classic = Options {
        objectives: rampart_graph::Objectives::none(),
        ..Options::default()
    };
    cut_by_admin_deny_with(&cluster(egress), 10, &classic);
    // web's egress isolated by a NetworkPolicy (pair edges, not its admin group), db's
    // ingress by the admin layer: the same deny.
    let web_out = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web-out, namespace: app}\nspec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: data}}}]}]}\n";
    cut_by_admin_deny(
        &cluster(&format!(
            "{}{DB_ISOLATED}{web_out}",
            anp("allow-web", 20, "Allow")
        )),
        10,
    );
}

#[test]
fn no_anp_deny_where_none_can_precede_or_the_cluster_uses_no_anp() {
    // An allow at priority 0: nothing precedes it, so the step is not cut there.
    let zero = cluster(&format!("{}{DB_ISOLATED}", anp("allow-web", 0, "Allow")));
    let a = analyze(&snapshot(&zero), &Options::default());
    assert!(jewel_chains(&a) > 0);
    assert!(admin_cut(&a).is_none(), "{:?}", a.plan.cuts);
    // Twin at priority 1: a deny at 0.
    cut_by_admin_deny(
        &cluster(&format!("{}{DB_ISOLATED}", anp("allow-web", 1, "Allow"))),
        0,
    );
    // NetworkPolicies alone: their rule is narrowed, no ANP is written into a cluster that may
    // not implement them.
    let np = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-in, namespace: data}\nspec: {podSelector: {matchLabels: {app: db}}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: app}}}]}]}\n";
    let a = analyze(&snapshot(&cluster(np)), &Options::default());
    assert!(jewel_chains(&a) > 0);
    assert!(admin_cut(&a).is_none(), "{:?}", a.plan.cuts);
    // Cilium's deny rules sit in the admin layer too, but a Cilium cluster gets Cilium's cut.
    let cilium = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: db-in, namespace: data}\nspec: {endpointSelector: {matchLabels: {app: db}}, ingress: [{fromEndpoints: [{matchLabels: {app: web, k8s:io.kubernetes.pod.namespace: app}}]}], ingressDeny: [{fromEntities: [world]}]}\n";
    let a = analyze(&snapshot(&cluster(cilium)), &Options::default());
    assert!(jewel_chains(&a) > 0);
    assert!(admin_cut(&a).is_none(), "{:?}", a.plan.cuts);
}

#[test]
fn a_source_without_stable_labels_gets_no_deny() {
    let unlabelled = cluster(&format!("{}{DB_ISOLATED}", anp("allow-web", 20, "Allow")))
        .replace(
            "metadata: {name: web, namespace: app, labels: {app: web}}",
            "metadata: {name: web, namespace: app, labels: {app: web, pod-template-hash: abc}}",
        )
        .replace("selector: {app: web}", "selector: {pod-template-hash: abc}")
        .replace(", labels: {app: web, ", ", labels: {");
    // The crown jewel alone (web's exfiltration, which nothing could name it to cut, left out).
    let classic = Options {
        objectives: rampart_graph::Objectives::none(),
        ..Options::default()
    };
    let a = analyze(&snapshot(&unlabelled), &classic);
    assert!(jewel_chains(&a) > 0, "{:?}", a.proof.chains);
    // The step is not cut where no Deny can be written: the exposure is, dear as it is.
    assert!(admin_cut(&a).is_none(), "{:?}", a.plan.cuts);
    assert!(
        a.plan
            .cuts
            .iter()
            .any(|c| c.kind == rampart_graph::model::EdgeKind::RoutesTo),
        "{:?}",
        a.plan.cuts
    );
    assert!(
        a.plan.cuts.iter().all(|c| !c.fixes.is_empty()),
        "no cut without a fix: {:?}",
        a.plan.cuts
    );
    // Twin: labelled, the step is cut by the Deny.
    let labelled = cluster(&format!("{}{DB_ISOLATED}", anp("allow-web", 20, "Allow")));
    cut_by_admin_deny_with(&labelled, 10, &classic);
}
