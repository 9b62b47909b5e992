//! One test per edge rule of DESIGN.md's table, each with its negative twin.

mod common;

use common::*;
use rampart_graph::TargetKind;
use rampart_graph::model::EdgeKind;

fn pod(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: app, labels: {{app: {name}}}}}\nspec:\n  containers: [{{name: c, image: nginx, ports: [{{name: http, containerPort: 8080}}]}}]\n{extra_spec}\n---\n"
    )
}

#[test]
fn token_mount_gives_the_identity() {
    let g = graph(&pod("a", ""));
    assert!(has_edge(
        &g,
        "Pod/app/a",
        EdgeKind::RunsAs,
        "ServiceAccount/app/default"
    ));
}

#[test]
fn automount_off_on_the_pod_gives_nothing() {
    let g = graph(&pod("a", "  automountServiceAccountToken: false"));
    assert!(!has_edge(
        &g,
        "Pod/app/a",
        EdgeKind::RunsAs,
        "ServiceAccount/app/default"
    ));
}

#[test]
fn automount_off_on_the_service_account_gives_nothing() {
    let y = format!(
        "{}apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: quiet, namespace: app}}\nautomountServiceAccountToken: false\n",
        pod("a", "  serviceAccountName: quiet")
    );
    let g = graph(&y);
    assert!(!has_edge(
        &g,
        "Pod/app/a",
        EdgeKind::RunsAs,
        "ServiceAccount/app/quiet"
    ));
}

#[test]
fn projected_token_counts_even_with_automount_off() {
    let g = graph(&pod(
        "a",
        "  automountServiceAccountToken: false\n  volumes: [{name: t, projected: {sources: [{serviceAccountToken: {path: token}}]}}]",
    ));
    assert!(has_edge(
        &g,
        "Pod/app/a",
        EdgeKind::RunsAs,
        "ServiceAccount/app/default"
    ));
}

#[test]
fn secret_volume_env_and_env_from_are_mounts() {
    let y = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: app}\nspec:\n  volumes: [{name: v, secret: {secretName: s1}}, {name: p, projected: {sources: [{secret: {name: s4}}]}}]\n  containers:\n  - name: c\n    env: [{name: VAR_X, valueFrom: {secretKeyRef: {name: s2, key: k}}}, {name: VAR_Y, value: plain}]\n    envFrom: [{secretRef: {name: s3}}, {configMapRef: {name: cm}}]\n";
    let g = graph(y);
    for s in ["s1", "s2", "s3", "s4"] {
        assert!(
            has_edge(
                &g,
                "Pod/app/a",
                EdgeKind::MountsSecret,
                &format!("Secret/app/{s}")
            ),
            "{s}"
        );
    }
    assert!(
        try_vertex(&g, "Secret/app/cm").is_none(),
        "a ConfigMap is not a Secret"
    );
}

#[test]
fn escapes() {
    let cases = [
        (
            "  containers: [{name: c, securityContext: {privileged: true}}]",
            true,
        ),
        ("  hostPID: true\n  containers: [{name: c}]", true),
        ("  hostIPC: true\n  containers: [{name: c}]", true),
        (
            "  containers: [{name: c}]\n  volumes: [{name: s, hostPath: {path: /var/run/docker.sock, type: Socket}}]",
            true,
        ),
        (
            "  containers: [{name: c}]\n  volumes: [{name: s, hostPath: {path: /var/lib/kubelet/pods}}]",
            true,
        ),
        (
            "  containers: [{name: c, securityContext: {capabilities: {add: [SYS_ADMIN]}}}]",
            true,
        ),
        (
            "  containers: [{name: c, securityContext: {capabilities: {add: [CAP_SYS_MODULE]}}}]",
            true,
        ),
        (
            "  hostPID: false\n  containers: [{name: c, securityContext: {capabilities: {add: [SYS_PTRACE]}}}]",
            false,
        ),
        (
            "  containers: [{name: c, securityContext: {capabilities: {add: [NET_BIND_SERVICE]}, privileged: false}}]",
            false,
        ),
        (
            "  containers: [{name: c}]\n  volumes: [{name: d, hostPath: {path: /data/cache}}]",
            false,
        ),
        ("  hostNetwork: true\n  containers: [{name: c}]", false),
    ];
    for (spec, escapes) in cases {
        let g = graph(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: a, namespace: app}}\nspec:\n{spec}\n"
        ));
        assert_eq!(
            has_edge(&g, "Pod/app/a", EdgeKind::EscapesToNode, "Node/(any node)"),
            escapes,
            "{spec}"
        );
    }
}

const READER: &str = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: reader, namespace: app}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: app}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: other, namespace: app}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: far, namespace: elsewhere}\n---\n";

fn bound(role_rules: &str, binding_kind: &str, role_kind: &str) -> String {
    let role_ns = if role_kind == "Role" {
        ", namespace: app"
    } else {
        ""
    };
    let bind_ns = if binding_kind == "RoleBinding" {
        ", namespace: app"
    } else {
        ""
    };
    format!(
        "{READER}apiVersion: rbac.authorization.k8s.io/v1\nkind: {role_kind}\nmetadata: {{name: r{role_ns}}}\nrules: {role_rules}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: {binding_kind}\nmetadata: {{name: b{bind_ns}}}\nroleRef: {{kind: {role_kind}, name: r}}\nsubjects: [{{kind: ServiceAccount, name: reader, namespace: app}}]\n"
    )
}

#[test]
fn reading_secrets_reaches_them() {
    let g = graph(&bound(
        "[{apiGroups: [''], resources: [secrets], verbs: [list]}]",
        "RoleBinding",
        "Role",
    ));
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::ReadsSecret,
        "Secret/app/db"
    ));
    assert!(
        !has_edge(
            &g,
            "ServiceAccount/app/reader",
            EdgeKind::ReadsSecret,
            "Secret/elsewhere/far"
        ),
        "a RoleBinding is namespaced"
    );
}

#[test]
fn resource_names_exclude_other_secrets() {
    let g = graph(&bound(
        "[{apiGroups: [''], resources: [secrets], verbs: [get], resourceNames: [other]}]",
        "RoleBinding",
        "Role",
    ));
    assert!(!has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::ReadsSecret,
        "Secret/app/db"
    ));
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::ReadsSecret,
        "Secret/app/other"
    ));
}

#[test]
fn rolebinding_to_a_clusterrole_is_namespaced_and_clusterrolebinding_is_not() {
    let rules = "[{apiGroups: ['*'], resources: ['secrets'], verbs: ['*']}]";
    let g = graph(&bound(rules, "RoleBinding", "ClusterRole"));
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::ReadsSecret,
        "Secret/app/db"
    ));
    assert!(!has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::ReadsSecret,
        "Secret/elsewhere/far"
    ));
    let g = graph(&bound(rules, "ClusterRoleBinding", "ClusterRole"));
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::ReadsSecret,
        "Secret/elsewhere/far"
    ));
}

#[test]
fn wrong_verb_or_group_gives_nothing() {
    for rules in [
        "[{apiGroups: [''], resources: [secrets], verbs: [create]}]",
        "[{apiGroups: [apps], resources: [secrets], verbs: [get]}]",
        "[{apiGroups: [''], resources: [configmaps], verbs: ['*']}]",
    ] {
        let g = graph(&bound(rules, "RoleBinding", "Role"));
        assert!(
            !has_edge(
                &g,
                "ServiceAccount/app/reader",
                EdgeKind::ReadsSecret,
                "Secret/app/db"
            ),
            "{rules}"
        );
    }
}

#[test]
fn group_subjects_apply_to_service_accounts() {
    for group in [
        "system:serviceaccounts",
        "system:serviceaccounts:app",
        "system:authenticated",
    ] {
        let y = format!(
            "{READER}apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: b}}\nroleRef: {{kind: ClusterRole, name: view-secrets}}\nsubjects: [{{kind: Group, name: '{group}'}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: view-secrets}}\nrules: [{{apiGroups: [''], resources: [secrets], verbs: [get]}}]\n---\n{}",
            pod("p", "  serviceAccountName: reader")
        );
        let g = graph(&y);
        assert!(
            has_edge(
                &g,
                "ServiceAccount/app/reader",
                EdgeKind::ReadsSecret,
                "Secret/app/db"
            ),
            "{group}"
        );
    }
    let y = format!(
        "{READER}apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: b}}\nroleRef: {{kind: ClusterRole, name: view-secrets}}\nsubjects: [{{kind: Group, name: 'system:serviceaccounts:other'}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: view-secrets}}\nrules: [{{apiGroups: [''], resources: [secrets], verbs: [get]}}]\n---\n{}",
        pod("p", "  serviceAccountName: reader")
    );
    assert!(!has_edge(
        &graph(&y),
        "ServiceAccount/app/reader",
        EdgeKind::ReadsSecret,
        "Secret/app/db"
    ));
}

#[test]
fn aggregated_cluster_roles_are_resolved() {
    let y = format!(
        "{READER}apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: r}}\naggregationRule: {{clusterRoleSelectors: [{{matchLabels: {{agg: 'yes'}}}}]}}\nrules: []\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: part, labels: {{agg: 'yes'}}}}\nrules: [{{apiGroups: [''], resources: [secrets], verbs: [watch]}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: b, namespace: app}}\nroleRef: {{kind: ClusterRole, name: r}}\nsubjects: [{{kind: ServiceAccount, name: reader}}]\n"
    );
    assert!(has_edge(
        &graph(&y),
        "ServiceAccount/app/reader",
        EdgeKind::ReadsSecret,
        "Secret/app/db"
    ));
}

#[test]
fn builtin_edit_role_is_known_and_view_is_harmless() {
    let edit = format!(
        "{READER}apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: b, namespace: app}}\nroleRef: {{kind: ClusterRole, name: edit}}\nsubjects: [{{kind: ServiceAccount, name: reader}}]\n"
    );
    assert!(has_edge(
        &graph(&edit),
        "ServiceAccount/app/reader",
        EdgeKind::ReadsSecret,
        "Secret/app/db"
    ));
    let view = edit.replace("name: edit", "name: view");
    assert!(!has_edge(
        &graph(&view),
        "ServiceAccount/app/reader",
        EdgeKind::ReadsSecret,
        "Secret/app/db"
    ));
}

#[test]
fn creating_pods_reaches_service_accounts_and_nodes_unless_pod_security_forbids() {
    let y = format!(
        "{}---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: admin-sa, namespace: app}}\n",
        bound(
            "[{apiGroups: [''], resources: [pods], verbs: [create]}]",
            "RoleBinding",
            "Role"
        )
    );
    let g = graph(&y);
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::CreatesPodAs,
        "ServiceAccount/app/admin-sa"
    ));
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::CreatesPodOnNode,
        "Node/(any node)"
    ));
    let y = format!(
        "{y}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: app, labels: {{pod-security.kubernetes.io/enforce: baseline}}}}\n"
    );
    let g = graph(&y);
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::CreatesPodAs,
        "ServiceAccount/app/admin-sa"
    ));
    assert!(!has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::CreatesPodOnNode,
        "Node/(any node)"
    ));
    let g = graph(&bound(
        "[{apiGroups: [apps], resources: [deployments], verbs: [patch]}]",
        "RoleBinding",
        "Role",
    ));
    assert!(
        has_edge(
            &g,
            "ServiceAccount/app/reader",
            EdgeKind::CreatesPodAs,
            "ServiceAccount/app/default"
        ),
        "patching a controller runs pods too"
    );
    let g = graph(&bound(
        "[{apiGroups: [''], resources: [pods], verbs: [get, list]}]",
        "RoleBinding",
        "Role",
    ));
    assert!(!has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::CreatesPodAs,
        "ServiceAccount/app/default"
    ));
}

#[test]
fn exec_and_patch_reach_workloads_of_the_namespace() {
    for rules in [
        "[{apiGroups: [''], resources: [pods/exec], verbs: [create]}]",
        "[{apiGroups: [''], resources: [pods], verbs: [patch]}]",
        "[{apiGroups: [''], resources: ['*/exec'], verbs: [get]}]",
    ] {
        let y = format!(
            "{}---\n{}",
            bound(rules, "RoleBinding", "Role"),
            pod("victim", "")
        );
        assert!(
            has_edge(
                &graph(&y),
                "ServiceAccount/app/reader",
                EdgeKind::ExecsInto,
                "Pod/app/victim"
            ),
            "{rules}"
        );
    }
    let y = format!(
        "{}---\n{}",
        bound(
            "[{apiGroups: [''], resources: [pods/log], verbs: [get]}]",
            "RoleBinding",
            "Role"
        ),
        pod("victim", "")
    );
    assert!(!has_edge(
        &graph(&y),
        "ServiceAccount/app/reader",
        EdgeKind::ExecsInto,
        "Pod/app/victim"
    ));
}

#[test]
fn token_creation_and_impersonation() {
    let y = format!(
        "{}---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: strong, namespace: app}}\n",
        bound(
            "[{apiGroups: [''], resources: [serviceaccounts/token], verbs: [create], resourceNames: [strong]}]",
            "RoleBinding",
            "Role"
        )
    );
    let g = graph(&y);
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::MintsToken,
        "ServiceAccount/app/strong"
    ));
    assert!(!has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::MintsToken,
        "ServiceAccount/app/default"
    ));
    let g = graph(&bound(
        "[{apiGroups: [''], resources: [groups], verbs: [impersonate]}]",
        "ClusterRoleBinding",
        "ClusterRole",
    ));
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::Impersonates,
        "ClusterAdmin/cluster-admin"
    ));
    let g = graph(&bound(
        "[{apiGroups: [''], resources: [users], verbs: [impersonate], resourceNames: [alice]}]",
        "ClusterRoleBinding",
        "ClusterRole",
    ));
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::Impersonates,
        "User/alice"
    ));
    assert!(!has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::Impersonates,
        "ClusterAdmin/cluster-admin"
    ));
}

#[test]
fn escalation_needs_bind_and_a_binding_write() {
    let g = graph(&bound(
        "[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings], verbs: [create]}, {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}]",
        "ClusterRoleBinding",
        "ClusterRole",
    ));
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::Escalates,
        "ClusterAdmin/cluster-admin"
    ));
    let g = graph(&bound(
        "[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings], verbs: [create]}]",
        "ClusterRoleBinding",
        "ClusterRole",
    ));
    assert!(
        !has_edge(
            &g,
            "ServiceAccount/app/reader",
            EdgeKind::Escalates,
            "ClusterAdmin/cluster-admin"
        ),
        "the API server's escalation check blocks binding what one does not hold"
    );
}

#[test]
fn cluster_admin_csr_webhooks_and_node_proxy() {
    let g = graph(&bound(
        "[{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]",
        "ClusterRoleBinding",
        "ClusterRole",
    ));
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::IsClusterAdmin,
        "ClusterAdmin/cluster-admin"
    ));
    let g = graph(&bound(
        "[{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]",
        "RoleBinding",
        "ClusterRole",
    ));
    assert!(
        !has_edge(
            &g,
            "ServiceAccount/app/reader",
            EdgeKind::IsClusterAdmin,
            "ClusterAdmin/cluster-admin"
        ),
        "namespaced wildcard is namespace admin"
    );
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::ReadsSecret,
        "Secret/app/db"
    ));
    let g = graph(&bound(
        "[{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests], verbs: [create]}, {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]}]",
        "ClusterRoleBinding",
        "ClusterRole",
    ));
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::Escalates,
        "ClusterAdmin/cluster-admin"
    ));
    let g = graph(&bound(
        "[{apiGroups: [admissionregistration.k8s.io], resources: [mutatingwebhookconfigurations], verbs: [patch]}]",
        "ClusterRoleBinding",
        "ClusterRole",
    ));
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::Escalates,
        "ClusterAdmin/cluster-admin"
    ));
    let g = graph(&bound(
        "[{apiGroups: [''], resources: [nodes/proxy], verbs: [get]}]",
        "ClusterRoleBinding",
        "ClusterRole",
    ));
    assert!(has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::ProxiesNode,
        "Node/(any node)"
    ));
    let g = graph(&bound(
        "[{apiGroups: [''], resources: [nodes], verbs: [get]}]",
        "ClusterRoleBinding",
        "ClusterRole",
    ));
    assert!(!has_edge(
        &g,
        "ServiceAccount/app/reader",
        EdgeKind::ProxiesNode,
        "Node/(any node)"
    ));
}

#[test]
fn legacy_token_secrets_lead_to_their_service_account() {
    let g = graph(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: t, namespace: app, annotations: {kubernetes.io/service-account.name: deployer}}\ntype: kubernetes.io/service-account-token\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: o, namespace: app, annotations: {kubernetes.io/service-account.name: deployer}}\ntype: Opaque\n",
    );
    assert!(has_edge(
        &g,
        "Secret/app/t",
        EdgeKind::IsTokenOf,
        "ServiceAccount/app/deployer"
    ));
    assert!(!has_edge(
        &g,
        "Secret/app/o",
        EdgeKind::IsTokenOf,
        "ServiceAccount/app/deployer"
    ));
}

const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: app}\nspec:\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}\n---\n";

fn service(kind: &str, target: &str, selector: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: app}}\nspec: {{type: {kind}, selector: {{{selector}}}, ports: [{{port: 80, targetPort: {target}}}]}}\n---\n"
    )
}

#[test]
fn load_balancer_and_node_port_expose_workloads() {
    for kind in ["LoadBalancer", "NodePort"] {
        let g = graph(&format!("{WEB}{}", service(kind, "http", "app: web")));
        assert!(exposed(&g, "Deployment/app/web"), "{kind}");
    }
    let g = graph(&format!(
        "{WEB}{}",
        service("ClusterIP", "http", "app: web")
    ));
    assert!(
        !exposed(&g, "Deployment/app/web"),
        "ClusterIP is not an entry"
    );
}

#[test]
fn exposure_needs_a_matching_selector_and_a_resolvable_port() {
    assert!(!exposed(
        &graph(&format!(
            "{WEB}{}",
            service("LoadBalancer", "http", "app: api")
        )),
        "Deployment/app/web"
    ));
    assert!(
        !exposed(
            &graph(&format!(
                "{WEB}{}",
                service("LoadBalancer", "metrics", "app: web")
            )),
            "Deployment/app/web"
        ),
        "named port not declared"
    );
    assert!(exposed(
        &graph(&format!(
            "{WEB}{}",
            service("LoadBalancer", "8080", "app: web")
        )),
        "Deployment/app/web"
    ));
    assert!(
        !exposed(
            &graph(&format!(
                "{WEB}{}",
                service("LoadBalancer", "9999", "app: web")
            )),
            "Deployment/app/web"
        ),
        "numeric port the pod does not declare"
    );
}

fn policy(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: app}}\nspec:\n{spec}\n---\n"
    )
}

#[test]
fn network_policy_decides_external_exposure() {
    let base = format!("{WEB}{}", service("LoadBalancer", "http", "app: web"));
    let deny = policy("deny", "  podSelector: {}\n  policyTypes: [Ingress]");
    assert!(!exposed(
        &graph(&format!("{base}{deny}")),
        "Deployment/app/web"
    ));
    let internet = policy(
        "lb",
        "  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}], ports: [{port: 8080}]}]",
    );
    assert!(exposed(
        &graph(&format!("{base}{deny}{internet}")),
        "Deployment/app/web"
    ));
    let private = policy(
        "lb",
        "  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}]}]",
    );
    assert!(
        !exposed(
            &graph(&format!("{base}{deny}{private}")),
            "Deployment/app/web"
        ),
        "private ranges are not the internet"
    );
    let wrong_port = policy(
        "lb",
        "  podSelector: {matchLabels: {app: web}}\n  ingress: [{ports: [{port: 9090}]}]",
    );
    assert!(!exposed(
        &graph(&format!("{base}{deny}{wrong_port}")),
        "Deployment/app/web"
    ));
}

const API: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: app}\nspec:\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: c, ports: [{name: grpc, containerPort: 9000}]}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: spy, namespace: other}\nspec:\n  template:\n    metadata: {labels: {app: spy}}\n    spec: {containers: [{name: c}]}\n---\n";

#[test]
fn lateral_movement_follows_network_policy() {
    let g = graph(&format!("{WEB}{API}"));
    assert!(
        net_reaches(&g, "Deployment/app/web", "Deployment/app/api"),
        "no policy: everyone talks"
    );
    assert!(net_reaches(
        &g,
        "Deployment/other/spy",
        "Deployment/app/api"
    ));
    let deny = policy("deny", "  podSelector: {}\n  policyTypes: [Ingress]");
    let g = graph(&format!("{WEB}{API}{deny}"));
    assert!(!net_reaches(&g, "Deployment/app/web", "Deployment/app/api"));
    let allow = policy(
        "api-from-web",
        "  podSelector: {matchLabels: {app: api}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: grpc}]}]",
    );
    let g = graph(&format!("{WEB}{API}{deny}{allow}"));
    assert!(net_reaches(&g, "Deployment/app/web", "Deployment/app/api"));
    assert!(
        !net_reaches(&g, "Deployment/other/spy", "Deployment/app/api"),
        "podSelector alone means the policy's namespace"
    );
    let wrong_port = policy(
        "api-from-web",
        "  podSelector: {matchLabels: {app: api}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 80}]}]",
    );
    let g = graph(&format!("{WEB}{API}{deny}{wrong_port}"));
    assert!(
        !net_reaches(&g, "Deployment/app/web", "Deployment/app/api"),
        "a port the destination does not listen on"
    );
    let egress = policy(
        "web-egress",
        "  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n  egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]}]",
    );
    let g = graph(&format!("{WEB}{API}{egress}"));
    assert!(
        !net_reaches(&g, "Deployment/app/web", "Deployment/app/api"),
        "the source's egress must allow too"
    );
    let and = policy(
        "api-from-other",
        "  podSelector: {matchLabels: {app: api}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: other}}, podSelector: {matchLabels: {app: nobody}}}]}]",
    );
    let g = graph(&format!("{WEB}{API}{and}"));
    assert!(
        !net_reaches(&g, "Deployment/other/spy", "Deployment/app/api"),
        "namespaceSelector AND podSelector"
    );
    let or = policy(
        "api-from-other",
        "  podSelector: {matchLabels: {app: api}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: other}}}, {podSelector: {matchLabels: {app: nobody}}}]}]",
    );
    assert!(
        net_reaches(
            &graph(&format!("{WEB}{API}{or}")),
            "Deployment/other/spy",
            "Deployment/app/api"
        ),
        "separate peers OR"
    );
}

#[test]
fn ingress_backends_need_the_controller_admitted() {
    let ing = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: site, namespace: app}\nspec:\n  rules: [{host: a.example, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]\n---\n";
    let controller = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ctl, namespace: ingress-nginx}\nspec:\n  template:\n    metadata: {labels: {app.kubernetes.io/name: ingress-nginx}}\n    spec: {containers: [{name: c}]}\n---\n";
    let base = format!(
        "{WEB}{}{ing}{controller}",
        service("ClusterIP", "http", "app: web")
    );
    assert!(exposed(&graph(&base), "Deployment/app/web"));
    let deny = policy("deny", "  podSelector: {}\n  policyTypes: [Ingress]");
    assert!(!exposed(
        &graph(&format!("{base}{deny}")),
        "Deployment/app/web"
    ));
    let from_ctl = policy(
        "from-ingress",
        "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]}]",
    );
    assert!(exposed(
        &graph(&format!("{base}{deny}{from_ctl}")),
        "Deployment/app/web"
    ));
    // A controller known only by rampart's label, in a namespace the policy admits.
    let custom = |label: &str| {
        format!(
            "{WEB}{}{ing}apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: edge, namespace: edge}}\nspec:\n  template:\n    metadata: {{labels: {{app: edge-proxy{label}}}}}\n    spec: {{containers: [{{name: c}}]}}\n---\n{deny}{}",
            service("ClusterIP", "http", "app: web"),
            policy(
                "from-edge",
                "  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: edge}}}]}]",
            )
        )
    };
    assert!(exposed(
        &graph(&custom(", rampart.dev/ingress-controller: 'true'")),
        "Deployment/app/web"
    ));
    assert!(!exposed(&graph(&custom("")), "Deployment/app/web"));
}

#[test]
fn internal_only_paths_are_not_findings() {
    let y = "apiVersion: v1\nkind: Pod\nmetadata: {name: admin, namespace: ops}\nspec: {serviceAccountName: root, containers: [{name: c, securityContext: {privileged: true}}]}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: root}\nroleRef: {kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: root, namespace: ops}]\n";
    let a = analysis(y);
    assert!(!a.proof.has_chains());
    assert_eq!(a.proof.jewels_reachable, 0);
    assert!(a.plan.cuts.is_empty());
}

#[test]
fn crown_jewel_labels_make_targets() {
    let y = format!(
        "{WEB}{}{}",
        service("LoadBalancer", "http", "app: web"),
        API.replace(
            "labels: {app: api}",
            "labels: {app: api, rampart.dev/crown-jewel: 'true'}"
        )
    );
    let a = analysis(&y);
    assert!(
        a.proof
            .chains
            .iter()
            .any(|c| c.target_kind == TargetKind::CrownJewel),
        "{:?}",
        a.proof
            .chains
            .iter()
            .map(|c| c.target_kind)
            .collect::<Vec<_>>()
    );
}

#[test]
fn chains_are_shortest_first_and_ids_are_stable() {
    let y = format!(
        "{WEB}{}{}",
        service("LoadBalancer", "http", "app: web"),
        pod(
            "db",
            "  serviceAccountName: reader\n  volumes: [{name: s, secret: {secretName: db}}]"
        ) + &bound(
            "[{apiGroups: [''], resources: [secrets], verbs: [get]}]",
            "RoleBinding",
            "Role"
        )
    );
    let a = analysis(&y);
    let b = analysis(&y);
    assert!(!a.proof.chains.is_empty());
    let ids: Vec<&str> = a.proof.chains.iter().map(|c| c.id.as_str()).collect();
    let ids2: Vec<&str> = b.proof.chains.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ids2);
    for w in a.proof.chains.windows(2) {
        if w[0].entry == w[1].entry {
            assert!(w[0].length <= w[1].length);
        }
    }
}
