//! RBAC grants and escalation: what each identity's effective permissions let it reach
//! (`Identity → Proven → …`), over a worklist of identities, since abilities can reach new
//! ones (tokens minted, subjects impersonated). Each ability family is one function.

use std::collections::HashMap;
use std::sync::Arc;

use petgraph::graph::NodeIndex;

use super::Builder;
use super::escape::Hosts;
use crate::cost;
use crate::model::{Cost, EdgeKind, Evidence, ObjRef, Vertex};
use crate::objective::{Objective, Technique};
use crate::rbac::{Ability, Grant, Proven, Rbac, Scope, SubjectKey, abilities};

fn grant_evidence(grants: &[&Grant]) -> Vec<Evidence> {
    let mut v: Vec<Evidence> = grants
        .iter()
        .map(|g| {
            let r = &g.rule;
            let mut field = format!(
                "{} → {}: verbs [{}] on [{}]",
                g.subject,
                g.via.role,
                r.verbs.join(","),
                r.resources.join(",")
            );
            if !r.resource_names.is_empty() {
                field.push_str(&format!(" named [{}]", r.resource_names.join(",")));
            }
            Evidence::new(
                ObjRef::new(g.via.kind, &g.via.namespace, &g.via.name),
                field,
                g.via.source.as_ref(),
            )
        })
        .collect();
    v.dedup();
    v
}

impl Builder<'_> {
    /// An RBAC edge `from → target`, through one permission vertex per (identity, ability,
    /// relation): narrowing the binding is one cut, whatever the number of targets.
    fn grant_edge(
        &mut self,
        from: NodeIndex,
        target: NodeIndex,
        kind: EdgeKind,
        ev: &Arc<[Evidence]>,
        grant_refs: &[(ObjRef, SubjectKey)],
    ) {
        let gv = match self.grant_vertices.get(&kind) {
            Some(g) => *g,
            None => {
                let desc = format!(
                    "{} of {}",
                    kind.as_str(),
                    match self.g[from] {
                        Vertex::Identity(i) => self.identities[i as usize].to_string(),
                        _ => String::new(),
                    }
                );
                let gv = self.g.add_node(Vertex::Grant(
                    u32::try_from(self.grants.len()).unwrap_or(u32::MAX),
                ));
                self.grants.push(desc);
                let e = self.edge(
                    from,
                    gv,
                    kind,
                    Arc::clone(ev),
                    None,
                    Cost::Finite(cost::NARROW_BINDING),
                );
                self.g[e].grants = grant_refs.into();
                self.grant_vertices.insert(kind, gv);
                gv
            }
        };
        if gv != target {
            let none = Arc::clone(&self.no_evidence);
            self.edge(gv, target, kind, none, None, Cost::Never);
        }
    }
}

/// What the RBAC edges are worked out against: the namespaces, their Secrets, and the hosts.
struct Targets<'h> {
    hosts: &'h Hosts,
    all_ns: Vec<String>,
    secrets_by_ns: HashMap<String, Vec<String>>,
}

/// One ability of one identity: where its edges start and the evidence they carry.
struct Held<'t> {
    from: NodeIndex,
    ev: Arc<[Evidence]>,
    grant_refs: Vec<(ObjRef, SubjectKey)>,
    targets: &'t Targets<'t>,
}

impl Held<'_> {
    fn edge(&self, b: &mut Builder<'_>, target: NodeIndex, kind: EdgeKind) {
        b.grant_edge(self.from, target, kind, &self.ev, &self.grant_refs);
    }

    fn scoped_ns(&self, scope: &Scope) -> Vec<String> {
        match scope {
            Scope::Cluster => self.targets.all_ns.clone(),
            Scope::Namespace(n) => vec![n.clone()],
        }
    }

    /// An edge of `kind` to each ServiceAccount of `ns` (named in `names`, when given) other
    /// than the holder.
    fn to_service_accounts(
        &self,
        b: &mut Builder<'_>,
        ns: &str,
        names: Option<&Vec<String>>,
        kind: EdgeKind,
    ) {
        let sas: Vec<String> = b
            .sas_by_ns
            .get(ns)
            .into_iter()
            .flatten()
            .filter(|sa| names.is_none_or(|l| l.contains(*sa)))
            .cloned()
            .collect();
        for sa in sas {
            let t = b.identity(SubjectKey::ServiceAccount {
                namespace: ns.to_string(),
                name: sa,
            });
            if t != self.from {
                self.edge(b, t, kind);
            }
        }
    }
}

/// Whether pods created in `ns` may be privileged (no enforcing Pod Security level forbids it).
fn privileged_ok(b: &Builder<'_>, ns: &str) -> bool {
    let l = b.snapshot.namespace_labels(ns);
    !matches!(
        l.get("pod-security.kubernetes.io/enforce")
            .map(String::as_str),
        Some("baseline" | "restricted")
    )
}

/// Every RBAC edge: every subject a binding names becomes an identity (reachable or not: cheap,
/// and the engine needs them when a pod starts running as one), then each identity's abilities
/// in turn, the identities they reach included.
pub(super) fn rbac(b: &mut Builder<'_>, rbac: &Rbac, hosts: &Hosts) {
    let all_ns: Vec<String> = b.sas_by_ns.keys().cloned().collect();
    let mut secrets_by_ns: HashMap<String, Vec<String>> = HashMap::new();
    for sv in &b.secrets {
        secrets_by_ns
            .entry(sv.namespace.clone())
            .or_default()
            .push(sv.name.clone());
    }
    let targets = Targets {
        hosts,
        all_ns,
        secrets_by_ns,
    };
    let mut subjects: Vec<SubjectKey> = rbac
        .subjects()
        .filter(|s| !matches!(s, SubjectKey::Group(g) if g.starts_with("system:")))
        .cloned()
        .collect();
    subjects.sort();
    for s in subjects {
        b.identity(s);
    }
    let mut done = 0usize;
    while done < b.identities.len() {
        let subject = b.identities[done].clone();
        let from = b.identity_ix[&subject];
        done += 1;
        let grants = rbac.effective(&subject);
        let abs = abilities(&grants);
        let is_admin = abs.iter().any(|p| {
            matches!(
                p.ability,
                Ability::Wildcard(Scope::Cluster) | Ability::Escalate(Scope::Cluster)
            )
        });
        for p in abs {
            b.grant_vertices.clear();
            ability(b, &targets, from, &p, is_admin);
        }
    }
}

/// The edges of one ability of the identity at `from` (a cluster admin's lesser abilities add
/// nothing).
fn ability(
    b: &mut Builder<'_>,
    targets: &Targets<'_>,
    from: NodeIndex,
    p: &Proven<'_>,
    is_admin: bool,
) {
    let h = Held {
        from,
        ev: grant_evidence(&p.grants).into(),
        grant_refs: p
            .grants
            .iter()
            .map(|g| {
                (
                    ObjRef::new(g.via.kind, &g.via.namespace, &g.via.name),
                    SubjectKey::clone(&g.subject),
                )
            })
            .collect(),
        targets,
    };
    let cluster_admin = b.cluster_admin;
    match &p.ability {
        Ability::Wildcard(Scope::Cluster) => h.edge(b, cluster_admin, EdgeKind::IsClusterAdmin),
        Ability::Escalate(Scope::Cluster) | Ability::ApproveCsr | Ability::WebhookWrite => {
            h.edge(b, cluster_admin, EdgeKind::Escalates);
        }
        _ if is_admin => {}
        Ability::Wildcard(scope @ Scope::Namespace(_))
        | Ability::Escalate(scope @ Scope::Namespace(_))
        | Ability::NamespaceAdmin(scope) => namespace_admin(b, &h, scope),
        Ability::ReadSecrets(scope, names) => read_secrets(b, &h, scope, names.as_ref()),
        Ability::CreatePods(scope) => create_pods(b, &h, scope),
        Ability::ExecPods(scope) | Ability::PatchPods(scope) => exec_pods(b, &h, scope),
        Ability::CreateToken(scope, names) => create_token(b, &h, scope, names.as_ref()),
        Ability::Impersonate(res, scope, names) => impersonate(b, &h, res, scope, names.as_ref()),
        Ability::NodeProxy => {
            for n in b.node_vertices() {
                h.edge(b, n, EdgeKind::ProxiesNode);
            }
        }
        Ability::Impact(scope, t) | Ability::Persist(scope, t) => objective(b, &h, scope, *t),
    }
}

/// An objective reached through RBAC: its vertex for the scope (cluster-wide, or the
/// namespace), when the scope holds something the technique acts on.
fn objective(b: &mut Builder<'_>, h: &Held<'_>, scope: &Scope, t: Technique) {
    let ns = match scope {
        Scope::Cluster => None,
        Scope::Namespace(n) => Some(n.as_str()),
    };
    let workloads = match ns {
        None => b.workloads.list.as_slice(),
        Some(n) => b.workloads.in_namespace(n),
    };
    let something = match t {
        // Volumes that hold data, and namespaces (deleting one deletes its claims).
        Technique::DataDestruction => workloads.iter().any(|w| {
            w.template
                .spec
                .volumes
                .iter()
                .any(|v| v.persistent_volume_claim.is_some())
        }),
        // Services: what runs on (not a Job's run to completion).
        Technique::ServiceStop => workloads.iter().any(|w| {
            !matches!(
                w.kind,
                rampart_model::WorkloadKind::Job | rampart_model::WorkloadKind::CronJob
            )
        }),
        _ => true,
    };
    if !something {
        return;
    }
    let kind = match t.objective() {
        Some(Objective::Impact) => EdgeKind::Destroys,
        _ => EdgeKind::Persists,
    };
    let v = b.objective(t, ns);
    h.edge(b, v, kind);
}

/// Everything in the namespaces of `scope`: their Secrets, their ServiceAccounts (by creating
/// pods), their workloads (exec), and a node when pods there may be privileged.
fn namespace_admin(b: &mut Builder<'_>, h: &Held<'_>, scope: &Scope) {
    let workloads = b.workloads;
    for ns in h.scoped_ns(scope) {
        let secrets = h
            .targets
            .secrets_by_ns
            .get(ns.as_str())
            .cloned()
            .unwrap_or_default();
        for s in secrets {
            let t = b.secret(&ns, &s);
            h.edge(b, t, EdgeKind::ReadsSecret);
        }
        h.to_service_accounts(b, &ns, None, EdgeKind::CreatesPodAs);
        for w in workloads.in_namespace(&ns) {
            let t = b.workload_ix[w.id.index()];
            h.edge(b, t, EdgeKind::ExecsInto);
        }
        let scope = Scope::Namespace(ns);
        for t in [
            Technique::DataDestruction,
            Technique::ServiceStop,
            Technique::OrchestrationJob,
            Technique::SystemProcess,
        ] {
            objective(b, h, &scope, t);
        }
    }
    privileged_pods(b, h, scope);
}

/// `get`/`list`/`watch` on Secrets: the known Secrets of the namespaces of `scope` (those named,
/// when the rule names them).
fn read_secrets(b: &mut Builder<'_>, h: &Held<'_>, scope: &Scope, names: Option<&Vec<String>>) {
    let mut targets: Vec<(String, String)> = Vec::new();
    for ns in h.scoped_ns(scope) {
        let known = h
            .targets
            .secrets_by_ns
            .get(ns.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        match names {
            Some(list) => targets.extend(
                list.iter()
                    .filter(|n| known.contains(n))
                    .map(|n| (ns.clone(), n.clone())),
            ),
            None => targets.extend(known.iter().map(|n| (ns.clone(), n.clone()))),
        }
    }
    for (ns, n) in targets {
        let t = b.secret(&ns, &n);
        h.edge(b, t, EdgeKind::ReadsSecret);
    }
}

/// Creating pods (or a pod controller): run as any ServiceAccount of the namespaces, and on a
/// node when pods there may be privileged.
fn create_pods(b: &mut Builder<'_>, h: &Held<'_>, scope: &Scope) {
    for ns in h.scoped_ns(scope) {
        h.to_service_accounts(b, &ns, None, EdgeKind::CreatesPodAs);
    }
    privileged_pods(b, h, scope);
}

/// A privileged pod created in some namespace of `scope` lands on a node.
fn privileged_pods(b: &mut Builder<'_>, h: &Held<'_>, scope: &Scope) {
    if h.scoped_ns(scope).iter().any(|n| privileged_ok(b, n)) {
        h.edge(b, h.targets.hosts.any, EdgeKind::CreatesPodOnNode);
    }
}

/// `pods/exec`, `pods/attach` or patching pods: into every workload of the namespaces.
fn exec_pods(b: &mut Builder<'_>, h: &Held<'_>, scope: &Scope) {
    let workloads = b.workloads;
    // A namespace's workloads are looked up, not filtered from all of them (a grant per
    // namespace made that quadratic).
    let covered = match scope {
        Scope::Cluster => workloads.list.as_slice(),
        Scope::Namespace(ns) => workloads.in_namespace(ns),
    };
    for w in covered {
        let t = b.workload_ix[w.id.index()];
        h.edge(b, t, EdgeKind::ExecsInto);
    }
}

/// `serviceaccounts/token create`: mint a token of the ServiceAccounts (those named, when the
/// rule names them).
fn create_token(b: &mut Builder<'_>, h: &Held<'_>, scope: &Scope, names: Option<&Vec<String>>) {
    for ns in h.scoped_ns(scope) {
        h.to_service_accounts(b, &ns, names, EdgeKind::MintsToken);
    }
}

/// `impersonate`: any user or group is cluster admin; named users and groups (`system:masters`
/// is cluster admin); ServiceAccounts of the namespaces.
fn impersonate(
    b: &mut Builder<'_>,
    h: &Held<'_>,
    res: &str,
    scope: &Scope,
    names: Option<&Vec<String>>,
) {
    let cluster_admin = b.cluster_admin;
    match (res, names) {
        ("users" | "groups", None) => h.edge(b, cluster_admin, EdgeKind::Impersonates),
        ("users", Some(list)) => {
            for u in list {
                let t = b.identity(SubjectKey::User(u.clone()));
                h.edge(b, t, EdgeKind::Impersonates);
            }
        }
        ("groups", Some(list)) => {
            for g in list {
                let t = if g == "system:masters" {
                    cluster_admin
                } else {
                    b.identity(SubjectKey::Group(g.clone()))
                };
                h.edge(b, t, EdgeKind::Impersonates);
            }
        }
        (_, names) => {
            for ns in h.scoped_ns(scope) {
                h.to_service_accounts(b, &ns, names, EdgeKind::Impersonates);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{graph, has_edge, pod};
    use crate::model::EdgeKind;

    /// Pod `app/a` running as `app/sa` (a token mounted), the Secret `app/db`, and `rules`
    /// granted to `app/sa` by a Role in `app`; `ns_labels` on namespace `app`.
    fn granted(rules: &str, ns_labels: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: app, labels: {{{ns_labels}}}}}\n---\n{}apiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: app}}\ntype: Opaque\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: r, namespace: app}}\nrules: {rules}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: b, namespace: app}}\nroleRef: {{kind: Role, name: r}}\nsubjects: [{{kind: ServiceAccount, name: sa, namespace: app}}]\n",
            pod("a", "  serviceAccountName: sa")
        )
    }

    const SA: &str = "ServiceAccount/app/sa";

    #[test]
    fn reading_secrets_reaches_the_named_secret() {
        let g = graph(&granted(
            "[{apiGroups: [''], resources: [secrets], verbs: [get], resourceNames: [db]}]",
            "",
        ));
        assert!(has_edge(&g, SA, EdgeKind::ReadsSecret, "Secret/app/db"));
    }

    #[test]
    fn reading_other_secrets_does_not_reach_it() {
        let g = graph(&granted(
            "[{apiGroups: [''], resources: [secrets], verbs: [get], resourceNames: [other]}]",
            "",
        ));
        assert!(!has_edge(&g, SA, EdgeKind::ReadsSecret, "Secret/app/db"));
    }

    const CREATE_PODS: &str = "[{apiGroups: [''], resources: [pods], verbs: [create]}]";

    #[test]
    fn creating_pods_lands_on_a_node_without_an_enforcing_pod_security_level() {
        let g = graph(&granted(CREATE_PODS, ""));
        assert!(has_edge(
            &g,
            SA,
            EdgeKind::CreatesPodOnNode,
            "Node/(any node)"
        ));
        assert!(has_edge(
            &g,
            SA,
            EdgeKind::CreatesPodAs,
            "ServiceAccount/app/default"
        ));
    }

    #[test]
    fn creating_pods_under_restricted_pod_security_lands_on_no_node() {
        let g = graph(&granted(
            CREATE_PODS,
            "pod-security.kubernetes.io/enforce: restricted",
        ));
        assert!(!has_edge(
            &g,
            SA,
            EdgeKind::CreatesPodOnNode,
            "Node/(any node)"
        ));
        assert!(has_edge(
            &g,
            SA,
            EdgeKind::CreatesPodAs,
            "ServiceAccount/app/default"
        ));
    }

    fn impersonating(group: &str) -> String {
        format!(
            "{}apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: imp}}\nrules: [{{apiGroups: [''], resources: [groups], verbs: [impersonate], resourceNames: [{group}]}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: imp}}\nroleRef: {{kind: ClusterRole, name: imp}}\nsubjects: [{{kind: ServiceAccount, name: sa, namespace: app}}]\n",
            pod("a", "  serviceAccountName: sa")
        )
    }

    #[test]
    fn impersonating_system_masters_is_cluster_admin() {
        let g = graph(&impersonating("system:masters"));
        assert!(has_edge(
            &g,
            SA,
            EdgeKind::Impersonates,
            "ClusterAdmin/cluster-admin"
        ));
    }

    #[test]
    fn impersonating_another_group_is_that_group_only() {
        let g = graph(&impersonating("devs"));
        assert!(has_edge(&g, SA, EdgeKind::Impersonates, "Group/devs"));
        assert!(!has_edge(
            &g,
            SA,
            EdgeKind::Impersonates,
            "ClusterAdmin/cluster-admin"
        ));
    }
}
