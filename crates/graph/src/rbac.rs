//! RBAC: effective permissions of every subject, and what they let an attacker reach.
//!
//! Roles are resolved with aggregation (transitively), bindings are expanded to subjects, and a
//! ServiceAccount inherits what is granted to `system:serviceaccounts`,
//! `system:serviceaccounts:<ns>` and `system:authenticated`. The built-in ClusterRoles
//! `cluster-admin`, `admin`, `edit` and `view` are known even when the input lacks them, and the
//! group `system:masters` is always cluster-admin.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use rampart_model::objects::{Binding, PolicyRule, Role};
use rampart_model::{LabelSelector, Labels, Snapshot, Source};

use crate::objective::Technique;

/// Who a binding grants to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum SubjectKey {
    /// A ServiceAccount.
    ServiceAccount {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// A user.
    User(String),
    /// A group.
    Group(String),
}

impl std::fmt::Display for SubjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubjectKey::ServiceAccount { namespace, name } => {
                write!(f, "system:serviceaccount:{namespace}:{name}")
            }
            SubjectKey::User(u) => write!(f, "user {u}"),
            SubjectKey::Group(g) => write!(f, "group {g}"),
        }
    }
}

/// The binding that carries a grant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BindingRef {
    /// `RoleBinding` or `ClusterRoleBinding`.
    pub kind: &'static str,
    /// Namespace (empty for ClusterRoleBindings).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `Role/name` or `ClusterRole/name`.
    pub role: String,
    /// Where the binding was defined (none for built-ins).
    pub source: Option<Source>,
}

/// One rule granted to a subject in a scope.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The subject named in the binding (a ServiceAccount may hold a grant through a group),
    /// shared by the grants the binding makes it.
    pub subject: Arc<SubjectKey>,
    /// `None`: cluster-wide; `Some(ns)`: that namespace only (shared like the subject: a
    /// cluster's bindings make ~10 grants per pod, and copying both strings into each made the
    /// RBAC model as slow to free as to build).
    pub scope: Option<Arc<str>>,
    /// The rule, shared by every grant of the role's bindings (not copied per binding and
    /// subject: an `edit` binding alone carries dozens).
    pub rule: Arc<PolicyRule>,
    /// Which binding, shared by the grants it makes.
    pub via: Arc<BindingRef>,
}

impl Grant {
    fn allows(&self, verbs: &[&str], groups: &[&str], resource: &str) -> bool {
        let r = &self.rule;
        verbs
            .iter()
            .any(|v| r.verbs.iter().any(|x| x == "*" || x == v))
            && groups
                .iter()
                .any(|g| r.api_groups.iter().any(|x| x == "*" || x == g))
            && r.resources.iter().any(|x| {
                x == "*"
                    || x == resource
                    || resource
                        .split_once('/')
                        .is_some_and(|(_, sub)| x.strip_prefix("*/") == Some(sub))
            })
    }

    /// Names the grant is limited to (`None`: every name).
    pub fn names(&self) -> Option<&[String]> {
        (!self.rule.resource_names.is_empty()).then_some(self.rule.resource_names.as_slice())
    }
}

/// Effective RBAC of a snapshot.
#[derive(Debug, Clone, Default)]
pub struct Rbac {
    grants: HashMap<SubjectKey, Vec<Grant>>,
    /// Problems (bindings to missing roles, …).
    pub warnings: Vec<String>,
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: groups.iter().map(|s| s.to_string()).collect(),
        resources: resources.iter().map(|s| s.to_string()).collect(),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        resource_names: Vec::new(),
        non_resource_urls: Vec::new(),
    }
}

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
const WORKLOAD_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "extensions",
    "networking.k8s.io",
    "autoscaling",
    "policy",
];
const VIEW_RESOURCES: &[&str] = &[
    "pods",
    "pods/log",
    "pods/status",
    "services",
    "endpoints",
    "configmaps",
    "persistentvolumeclaims",
    "replicationcontrollers",
    "deployments",
    "replicasets",
    "statefulsets",
    "daemonsets",
    "jobs",
    "cronjobs",
    "ingresses",
    "networkpolicies",
    "serviceaccounts",
    "events",
    "namespaces",
    "horizontalpodautoscalers",
    "poddisruptionbudgets",
];

/// The built-in ClusterRoles (approximating upstream's bootstrap policy closely enough for the
/// escalation rules rampart evaluates).
pub fn builtin_cluster_roles() -> Vec<Role> {
    let mk = |name: &str, rules: Vec<PolicyRule>, agg: Option<&str>| {
        let mut metadata = rampart_model::ObjectMeta {
            name: name.to_string(),
            ..Default::default()
        };
        metadata
            .labels
            .insert("kubernetes.io/bootstrapping".into(), "rbac-defaults".into());
        Role {
            cluster: true,
            metadata,
            rules,
            aggregation: agg
                .map(|a| {
                    let mut l = Labels::new();
                    l.insert(
                        format!("rbac.authorization.k8s.io/aggregate-to-{a}"),
                        "true".into(),
                    );
                    vec![LabelSelector::from_labels(l)]
                })
                .unwrap_or_default(),
        }
    };
    let view = vec![rule(WORKLOAD_GROUPS, VIEW_RESOURCES, READ)];
    let mut edit = view.clone();
    edit.push(rule(&[""], &["secrets"], READ));
    edit.push(rule(
        WORKLOAD_GROUPS,
        &[
            "pods",
            "services",
            "configmaps",
            "secrets",
            "persistentvolumeclaims",
            "replicationcontrollers",
            "deployments",
            "replicasets",
            "statefulsets",
            "daemonsets",
            "jobs",
            "cronjobs",
            "ingresses",
            "networkpolicies",
            "serviceaccounts",
            "horizontalpodautoscalers",
            "poddisruptionbudgets",
        ],
        WRITE,
    ));
    edit.push(rule(
        &[""],
        &[
            "pods/exec",
            "pods/attach",
            "pods/portforward",
            "pods/proxy",
            "services/proxy",
        ],
        &["create", "get"],
    ));
    edit.push(rule(&[""], &["serviceaccounts"], &["impersonate"]));
    edit.push(rule(&[""], &["serviceaccounts/token"], &["create"]));
    let mut admin = edit.clone();
    admin.push(rule(
        &["rbac.authorization.k8s.io"],
        &["roles", "rolebindings"],
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
    ));
    admin.push(rule(
        &["authorization.k8s.io"],
        &["localsubjectaccessreviews"],
        &["create"],
    ));
    let mut star = rule(&["*"], &["*"], &["*"]);
    let mut nonres = rule(&[], &[], &["*"]);
    nonres.non_resource_urls = vec!["*".into()];
    star.non_resource_urls.clear();
    vec![
        mk("cluster-admin", vec![star, nonres], None),
        mk("admin", admin, Some("admin")),
        mk("edit", edit, Some("edit")),
        mk("view", view, Some("view")),
    ]
}

impl Rbac {
    /// Resolves roles and bindings.
    pub fn build(snapshot: &Snapshot) -> Rbac {
        let mut warnings = Vec::new();
        let mut cluster_roles: BTreeMap<String, Role> = BTreeMap::new();
        for r in builtin_cluster_roles() {
            cluster_roles.insert(r.metadata.name.clone(), r);
        }
        let mut roles: HashMap<(String, String), &Role> = HashMap::new();
        for (_, r) in snapshot.roles() {
            if r.cluster {
                cluster_roles.insert(r.metadata.name.clone(), r.clone());
            } else {
                roles.insert((r.metadata.namespace.clone(), r.metadata.name.clone()), r);
            }
        }
        // Aggregation, transitively.
        let mut resolved: HashMap<String, Vec<Arc<PolicyRule>>> = HashMap::new();
        for name in cluster_roles.keys() {
            let mut rules = Vec::new();
            let mut seen = HashSet::new();
            let mut stack = vec![name.clone()];
            while let Some(n) = stack.pop() {
                if !seen.insert(n.clone()) {
                    continue;
                }
                let Some(role) = cluster_roles.get(&n) else {
                    continue;
                };
                rules.extend(role.rules.iter().cloned().map(Arc::new));
                for sel in &role.aggregation {
                    for (other, r) in &cluster_roles {
                        if sel.matches(&r.metadata.labels) && !seen.contains(other) {
                            stack.push(other.clone());
                        }
                    }
                }
            }
            resolved.insert(name.clone(), rules);
        }

        let mut grants: HashMap<SubjectKey, Vec<Grant>> = HashMap::new();
        let mut add = |b: &Binding,
                       src: Option<&Source>,
                       rules: &[Arc<PolicyRule>],
                       warnings: &mut Vec<String>| {
            let scope: Option<Arc<str>> =
                (!b.cluster).then(|| b.metadata.namespace.as_str().into());
            let via = Arc::new(BindingRef {
                kind: if b.cluster {
                    "ClusterRoleBinding"
                } else {
                    "RoleBinding"
                },
                namespace: b.metadata.namespace.clone(),
                name: b.metadata.name.clone(),
                role: format!("{}/{}", b.role_ref.kind, b.role_ref.name),
                source: src.cloned(),
            });
            for s in &b.subjects {
                let key = match s.kind.as_str() {
                    "ServiceAccount" => SubjectKey::ServiceAccount {
                        namespace: s
                            .namespace
                            .clone()
                            .filter(|n| !n.is_empty())
                            .unwrap_or_else(|| b.metadata.namespace.clone()),
                        name: s.name.clone(),
                    },
                    "User" => SubjectKey::User(s.name.clone()),
                    "Group" => SubjectKey::Group(s.name.clone()),
                    other => {
                        warnings.push(format!(
                            "{} {}: unknown subject kind {other:?}",
                            via.kind, b.metadata.name
                        ));
                        continue;
                    }
                };
                let subject = Arc::new(key.clone());
                let list = grants.entry(key).or_default();
                for r in rules {
                    list.push(Grant {
                        subject: Arc::clone(&subject),
                        scope: scope.clone(),
                        rule: Arc::clone(r),
                        via: Arc::clone(&via),
                    });
                }
            }
        };
        for (src, b) in snapshot.bindings() {
            let rules: Option<Vec<Arc<PolicyRule>>> = match b.role_ref.kind.as_str() {
                "ClusterRole" => resolved.get(&b.role_ref.name).cloned(),
                "Role" if !b.cluster => roles
                    .get(&(b.metadata.namespace.clone(), b.role_ref.name.clone()))
                    .map(|r| r.rules.iter().cloned().map(Arc::new).collect()),
                _ => None,
            };
            match rules {
                Some(rules) => add(b, Some(src), &rules, &mut warnings),
                None => warnings.push(format!(
                    "{} {}/{}: roleRef {}/{} not found; the binding grants nothing",
                    if b.cluster {
                        "ClusterRoleBinding"
                    } else {
                        "RoleBinding"
                    },
                    b.metadata.namespace,
                    b.metadata.name,
                    b.role_ref.kind,
                    b.role_ref.name
                )),
            }
        }
        // system:masters is cluster-admin by the apiserver's own bootstrap binding.
        let masters = Binding {
            cluster: true,
            metadata: rampart_model::ObjectMeta {
                name: "cluster-admin".into(),
                ..Default::default()
            },
            role_ref: rampart_model::objects::RoleRef {
                kind: "ClusterRole".into(),
                name: "cluster-admin".into(),
            },
            subjects: vec![rampart_model::objects::Subject {
                kind: "Group".into(),
                name: "system:masters".into(),
                namespace: None,
            }],
        };
        if let Some(rules) = resolved.get("cluster-admin") {
            add(&masters, None, rules, &mut warnings);
        }
        Rbac { grants, warnings }
    }

    /// Every subject named by a binding.
    pub fn subjects(&self) -> impl Iterator<Item = &SubjectKey> {
        self.grants.keys()
    }

    /// Whether any grant applies to a subject ([`Rbac::effective`] is not empty), without
    /// collecting them.
    pub fn holds_any(&self, subject: &SubjectKey) -> bool {
        let has = |k: &SubjectKey| self.grants.get(k).is_some_and(|g| !g.is_empty());
        let group = |name: String| has(&SubjectKey::Group(name));
        has(subject)
            || match subject {
                SubjectKey::ServiceAccount { namespace, .. } => {
                    group("system:authenticated".into())
                        || group("system:serviceaccounts".into())
                        || group(format!("system:serviceaccounts:{namespace}"))
                }
                SubjectKey::User(_) => group("system:authenticated".into()),
                SubjectKey::Group(_) => false,
            }
    }

    /// The grants that apply to a subject, including its implicit groups.
    pub fn effective(&self, subject: &SubjectKey) -> Vec<&Grant> {
        let mut keys = vec![subject.clone()];
        match subject {
            SubjectKey::ServiceAccount { namespace, .. } => {
                keys.push(SubjectKey::Group("system:serviceaccounts".into()));
                keys.push(SubjectKey::Group(format!(
                    "system:serviceaccounts:{namespace}"
                )));
                keys.push(SubjectKey::Group("system:authenticated".into()));
            }
            SubjectKey::User(_) => keys.push(SubjectKey::Group("system:authenticated".into())),
            SubjectKey::Group(_) => {}
        }
        keys.iter()
            .filter_map(|k| self.grants.get(k))
            .flatten()
            .collect()
    }
}

/// The scope of an ability.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Every namespace (and cluster-scoped objects).
    Cluster,
    /// One namespace.
    Namespace(String),
}

impl Scope {
    /// Whether a namespaced object in `ns` is covered.
    pub fn covers(&self, ns: &str) -> bool {
        match self {
            Scope::Cluster => true,
            Scope::Namespace(n) => n == ns,
        }
    }
}

/// What an attacker holding an identity can reach through RBAC.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ability {
    /// Read Secrets (`get`/`list`/`watch`), optionally only some names.
    ReadSecrets(Scope, Option<Vec<String>>),
    /// Create pods or pod controllers: run as any ServiceAccount of the scope, and on a node.
    CreatePods(Scope),
    /// `pods/exec` / `pods/attach` / ephemeral containers: enter every workload of the scope.
    ExecPods(Scope),
    /// Patch or update pods: swap a container image, hence run code in every pod of the scope.
    PatchPods(Scope),
    /// `serviceaccounts/token` create.
    CreateToken(Scope, Option<Vec<String>>),
    /// Impersonate users, groups or ServiceAccounts (`kind` is the resource).
    Impersonate(&'static str, Scope, Option<Vec<String>>),
    /// `bind`/`escalate` on ClusterRoles with a way to use it cluster-wide: anything at all.
    Escalate(Scope),
    /// Everything within the namespaces of the scope: `*` on `*` in a namespace, or binding
    /// Roles (or ClusterRoles through RoleBindings) there.
    NamespaceAdmin(Scope),
    /// `nodes/proxy`: the kubelet API, hence every pod on the node.
    NodeProxy,
    /// `*` on `*` cluster-wide.
    Wildcard(Scope),
    /// Create and approve CertificateSigningRequests: mint a `system:masters` client cert.
    ApproveCsr,
    /// Write admission webhook configurations: see and rewrite every object admitted.
    WebhookWrite,
    /// Destroy data (delete PersistentVolumeClaims, PersistentVolumes, Namespaces) or stop
    /// services (delete, patch or scale down their controllers): the technique says which.
    Impact(Scope, Technique),
    /// Plant what runs again: create CronJobs or DaemonSets, write mutating webhooks.
    Persist(Scope, Technique),
}

/// One ability with the grant that proves it.
#[derive(Debug, Clone)]
pub struct Proven<'a> {
    /// The ability.
    pub ability: Ability,
    /// Grants that give it.
    pub grants: Vec<&'a Grant>,
}

fn scope_of(g: &Grant) -> Scope {
    match &g.scope {
        None => Scope::Cluster,
        Some(ns) => Scope::Namespace(ns.to_string()),
    }
}

/// Controllers: writing one creates pods.
const CONTROLLERS: &[&str] = &[
    "deployments",
    "replicasets",
    "statefulsets",
    "daemonsets",
    "jobs",
    "cronjobs",
    "replicationcontrollers",
];

/// Every other resource [`abilities`] asks a grant about (besides the [`CONTROLLERS`], `*` and
/// `*/subresource`); a unit test reads the checks' literals from this file and fails when one is
/// missing here.
const RESOURCES_READ: &[&str] = &[
    "secrets",
    "pods",
    "pods/exec",
    "pods/attach",
    "pods/ephemeralcontainers",
    "serviceaccounts/token",
    "users",
    "groups",
    "serviceaccounts",
    "clusterroles",
    "roles",
    "clusterrolebindings",
    "rolebindings",
    "nodes/proxy",
    "certificatesigningrequests",
    "certificatesigningrequests/approval",
    "mutatingwebhookconfigurations",
    "validatingwebhookconfigurations",
    "persistentvolumeclaims",
    "persistentvolumes",
    "namespaces",
    "deployments/scale",
    "statefulsets/scale",
    "replicasets/scale",
];

/// Evaluates the escalation rules for one subject's grants.
pub fn abilities<'a>(grants: &[&'a Grant]) -> Vec<Proven<'a>> {
    abilities_filtered(grants, true)
}

/// Whether some check of [`abilities`] asks about a resource the grant names.
fn asked_about(g: &Grant) -> bool {
    g.rule.resources.iter().any(|r| {
        r == "*"
            || r.starts_with("*/")
            || RESOURCES_READ.contains(&r.as_str())
            || CONTROLLERS.contains(&r.as_str())
    })
}

/// [`abilities`]; `prefilter`: skip the grants no check asks about (off in the test that holds
/// the list to the checks).
fn abilities_filtered<'a>(grants: &[&'a Grant], prefilter: bool) -> Vec<Proven<'a>> {
    let mut out: Vec<Proven<'a>> = Vec::new();
    fn add<'a>(out: &mut Vec<Proven<'a>>, a: Ability, g: &'a Grant) {
        if let Some(p) = out.iter_mut().find(|p| p.ability == a) {
            if !p.grants.iter().any(|x| std::ptr::eq(*x, g)) {
                p.grants.push(g);
            }
        } else {
            out.push(Proven {
                ability: a,
                grants: vec![g],
            });
        }
    }
    let push = add;
    let names = |g: &Grant| g.names().map(<[String]>::to_vec);
    // (scope, grant) of each ingredient of a role-binding escalation.
    let mut bind_cr: Vec<(Scope, &'a Grant)> = Vec::new();
    let mut bind_r: Vec<(Scope, &'a Grant)> = Vec::new();
    let mut write_crb: Vec<&'a Grant> = Vec::new();
    let mut write_rb: Vec<(Scope, &'a Grant)> = Vec::new();
    let mut escalate_cr: Vec<&'a Grant> = Vec::new();
    let mut update_cr: Vec<&'a Grant> = Vec::new();
    let mut escalate_r: Vec<(Scope, &'a Grant)> = Vec::new();
    let mut update_r: Vec<(Scope, &'a Grant)> = Vec::new();
    let mut csr_create = None;
    let mut csr_approve = None;
    for &g in grants {
        // Most grants a ServiceAccount holds through its groups (discovery, self reviews) name
        // no resource below: skipped before the thirty checks.
        if prefilter && !asked_about(g) {
            continue;
        }
        let scope = scope_of(g);
        if g.allows(READ, &[""], "secrets") {
            push(&mut out, Ability::ReadSecrets(scope.clone(), names(g)), g);
        }
        if (g.allows(&["create"], &[""], "pods") && g.names().is_none())
            || CONTROLLERS.iter().any(|c| {
                g.allows(
                    &["create", "update", "patch"],
                    &["apps", "batch", "extensions", ""],
                    c,
                )
            })
        {
            push(&mut out, Ability::CreatePods(scope.clone()), g);
        }
        if g.allows(&["create", "get"], &[""], "pods/exec")
            || g.allows(&["create", "get"], &[""], "pods/attach")
            || g.allows(&["update", "patch"], &[""], "pods/ephemeralcontainers")
        {
            push(&mut out, Ability::ExecPods(scope.clone()), g);
        }
        if g.allows(&["patch", "update"], &[""], "pods") {
            push(&mut out, Ability::PatchPods(scope.clone()), g);
        }
        if g.allows(&["create"], &[""], "serviceaccounts/token") {
            push(&mut out, Ability::CreateToken(scope.clone(), names(g)), g);
        }
        for res in ["users", "groups", "serviceaccounts"] {
            if g.allows(&["impersonate"], &[""], res) {
                push(
                    &mut out,
                    Ability::Impersonate(res, scope.clone(), names(g)),
                    g,
                );
            }
        }
        let rbac_group = &["rbac.authorization.k8s.io"];
        let writes = &["create", "update", "patch"];
        if g.allows(&["bind"], rbac_group, "clusterroles") {
            bind_cr.push((scope.clone(), g));
        }
        if g.allows(&["bind"], rbac_group, "roles") {
            bind_r.push((scope.clone(), g));
        }
        // ClusterRoleBindings and ClusterRoles are cluster-scoped: a namespaced grant on them
        // does nothing.
        if scope == Scope::Cluster && g.allows(writes, rbac_group, "clusterrolebindings") {
            write_crb.push(g);
        }
        if g.allows(writes, rbac_group, "rolebindings") {
            write_rb.push((scope.clone(), g));
        }
        if scope == Scope::Cluster && g.allows(&["escalate"], rbac_group, "clusterroles") {
            escalate_cr.push(g);
        }
        if scope == Scope::Cluster && g.allows(&["update", "patch"], rbac_group, "clusterroles") {
            update_cr.push(g);
        }
        if g.allows(&["escalate"], rbac_group, "roles") {
            escalate_r.push((scope.clone(), g));
        }
        if g.allows(&["update", "patch"], rbac_group, "roles") {
            update_r.push((scope.clone(), g));
        }
        if scope == Scope::Cluster && g.allows(&["get", "create"], &[""], "nodes/proxy") {
            push(&mut out, Ability::NodeProxy, g);
        }
        if g.rule.verbs.iter().any(|v| v == "*")
            && g.rule.resources.iter().any(|r| r == "*")
            && g.rule.api_groups.iter().any(|a| a == "*")
            && g.names().is_none()
        {
            match &scope {
                Scope::Cluster => push(&mut out, Ability::Wildcard(Scope::Cluster), g),
                Scope::Namespace(_) => push(&mut out, Ability::NamespaceAdmin(scope.clone()), g),
            }
        }
        let destroy = &["delete", "deletecollection"];
        // A namespaced grant on `namespaces` deletes its own namespace (the request's
        // namespace is the object's name).
        let own_namespace = match (&scope, g.names()) {
            (Scope::Namespace(ns), Some(names)) => names.iter().any(|n| n == ns),
            _ => true,
        };
        if g.allows(destroy, &[""], "persistentvolumeclaims")
            || (own_namespace && g.allows(&["delete"], &[""], "namespaces"))
            || (scope == Scope::Cluster && g.allows(destroy, &[""], "persistentvolumes"))
        {
            push(
                &mut out,
                Ability::Impact(scope.clone(), Technique::DataDestruction),
                g,
            );
        }
        let apps = &["apps", "extensions"];
        if ["deployments", "statefulsets", "daemonsets", "replicasets"]
            .iter()
            .any(|r| g.allows(&["delete", "deletecollection", "patch", "update"], apps, r))
            || [
                "deployments/scale",
                "statefulsets/scale",
                "replicasets/scale",
            ]
            .iter()
            .any(|r| g.allows(&["patch", "update"], apps, r))
        {
            push(
                &mut out,
                Ability::Impact(scope.clone(), Technique::ServiceStop),
                g,
            );
        }
        // `create` is never limited by `resourceNames` (the name is not known yet).
        if g.allows(&["create"], &["batch"], "cronjobs") && g.names().is_none() {
            push(
                &mut out,
                Ability::Persist(scope.clone(), Technique::OrchestrationJob),
                g,
            );
        }
        if g.allows(&["create"], apps, "daemonsets") && g.names().is_none() {
            push(
                &mut out,
                Ability::Persist(scope.clone(), Technique::SystemProcess),
                g,
            );
        }
        if scope == Scope::Cluster
            && g.allows(
                &["create", "update", "patch"],
                &["admissionregistration.k8s.io"],
                "mutatingwebhookconfigurations",
            )
        {
            push(
                &mut out,
                Ability::Persist(Scope::Cluster, Technique::EventTriggeredExecution),
                g,
            );
        }
        if scope == Scope::Cluster
            && g.allows(
                &["create"],
                &["certificates.k8s.io"],
                "certificatesigningrequests",
            )
        {
            csr_create = Some(g);
        }
        if scope == Scope::Cluster
            && g.allows(
                &["update", "patch"],
                &["certificates.k8s.io"],
                "certificatesigningrequests/approval",
            )
        {
            csr_approve = Some(g);
        }
        if scope == Scope::Cluster
            && (g.allows(
                &["create", "update", "patch"],
                &["admissionregistration.k8s.io"],
                "mutatingwebhookconfigurations",
            ) || g.allows(
                &["create", "update", "patch"],
                &["admissionregistration.k8s.io"],
                "validatingwebhookconfigurations",
            ))
        {
            push(&mut out, Ability::WebhookWrite, g);
        }
    }
    // bind/escalate only matter together with a way to write bindings or roles: the API
    // server's escalation check blocks binding what one does not hold otherwise.
    let meet = |a: &Scope, b: &Scope| -> Option<Scope> {
        match (a, b) {
            (Scope::Cluster, x) | (x, Scope::Cluster) => Some(x.clone()),
            (Scope::Namespace(x), Scope::Namespace(y)) if x == y => Some(a.clone()),
            _ => None,
        }
    };
    for (bs, bg) in &bind_cr {
        if *bs == Scope::Cluster {
            for wg in &write_crb {
                add(&mut out, Ability::Escalate(Scope::Cluster), bg);
                add(&mut out, Ability::Escalate(Scope::Cluster), wg);
            }
        }
        for (ws, wg) in &write_rb {
            if let Some(scope) = meet(bs, ws) {
                // RoleBindings to any ClusterRole in every namespace is cluster-admin in all but name.
                let a = if scope == Scope::Cluster {
                    Ability::Escalate(Scope::Cluster)
                } else {
                    Ability::NamespaceAdmin(scope)
                };
                add(&mut out, a.clone(), bg);
                add(&mut out, a, wg);
            }
        }
    }
    for (bs, bg) in &bind_r {
        for (ws, wg) in &write_rb {
            if let Some(scope) = meet(bs, ws) {
                add(&mut out, Ability::NamespaceAdmin(scope.clone()), bg);
                add(&mut out, Ability::NamespaceAdmin(scope), wg);
            }
        }
    }
    for eg in &escalate_cr {
        for ug in &update_cr {
            add(&mut out, Ability::Escalate(Scope::Cluster), eg);
            add(&mut out, Ability::Escalate(Scope::Cluster), ug);
        }
    }
    for (es, eg) in &escalate_r {
        for (us, ug) in &update_r {
            if let Some(scope) = meet(es, us) {
                add(&mut out, Ability::NamespaceAdmin(scope.clone()), eg);
                add(&mut out, Ability::NamespaceAdmin(scope), ug);
            }
        }
    }
    if let (Some(c), Some(a)) = (csr_create, csr_approve) {
        add(&mut out, Ability::ApproveCsr, c);
        add(&mut out, Ability::ApproveCsr, a);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every string literal in `abilities_filtered`'s body that could name a resource.
    fn literals_of_the_checks() -> BTreeSet<String> {
        let src = include_str!("rbac.rs");
        let start = src.find("fn abilities_filtered").expect("the function");
        let body = &src[start..];
        let body = &body[..body.find("\n}\n").expect("its end")];
        body.split('"')
            .skip(1)
            .step_by(2)
            .filter(|l| {
                !l.is_empty()
                    && l.chars()
                        .all(|c| c.is_ascii_lowercase() || c == '/' || c == '.' || c == '*')
            })
            .map(String::from)
            .collect()
    }

    fn grant(resource: &str, verbs: &[&str], scope: Option<&str>) -> Grant {
        Grant {
            subject: Arc::new(SubjectKey::User("u".into())),
            scope: scope.map(Arc::from),
            rule: Arc::new(PolicyRule {
                api_groups: vec!["*".into()],
                resources: vec![resource.into()],
                verbs: verbs.iter().map(|v| (*v).to_string()).collect(),
                resource_names: Vec::new(),
                ..PolicyRule::default()
            }),
            via: Arc::new(BindingRef {
                kind: "ClusterRoleBinding",
                namespace: String::new(),
                name: "b".into(),
                role: "ClusterRole/r".into(),
                source: None,
            }),
        }
    }

    /// The prefilter changes nothing: every pair of grants on the resources the checks name
    /// (read from the source) and on others, with every verb the checks use, gives the same
    /// abilities with and without it.
    #[test]
    fn the_prefilter_skips_only_grants_no_check_asks_about() {
        let mut resources = literals_of_the_checks();
        resources.extend(CONTROLLERS.iter().map(|c| (*c).to_string()));
        assert!(resources.contains("pods/exec") && resources.contains("rolebindings"));
        resources.extend(
            [
                "configmaps",
                "nodes",
                "pods/log",
                "*/scale",
                "*/exec",
                "*",
                "events",
            ]
            .map(String::from),
        );
        let verbs: Vec<&str> = resources
            .iter()
            .filter(|l| !l.contains('/') && !l.contains('.'))
            .map(String::as_str)
            .collect();
        let mut grants = Vec::new();
        for r in &resources {
            for scope in [None, Some("ns")] {
                grants.push(grant(r, &["*"], scope));
                grants.push(grant(r, &verbs, scope));
            }
        }
        for a in &grants {
            for b in &grants {
                let pair = [a, b];
                let with = format!("{:?}", abilities_filtered(&pair, true));
                let without = format!("{:?}", abilities_filtered(&pair, false));
                assert_eq!(with, without, "{:?} + {:?}", a.rule, b.rule);
            }
        }
    }
}
