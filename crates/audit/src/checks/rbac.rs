//! RBAC checks, judged per subject (User, Group, ServiceAccount): every (binding, role) that
//! grants a subject a dangerous permission is one [`Hit`] on that subject, naming the binding,
//! the role and the rule.
//!
//! Bindings pair with roles as the API server resolves them: a RoleBinding with a Role of its
//! own namespace or a ClusterRole, a ClusterRoleBinding with a ClusterRole. A binding whose role
//! is not among the objects grants nothing that can be shown. A PolicyRule grants a permission
//! when its verbs, API groups and resources each hold one of the permission's values (`*`
//! included): permissions spread over two rules are not combined, as upstream does.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::check::{Hit, Verdict};
use crate::inventory::Inventory;
use crate::object::{Object, ObjectRef};
use crate::settings::Settings;

/// One subject of one binding, and the role the binding grants.
pub struct Grant<'a> {
    /// The binding.
    pub binding: &'a Object,
    /// The role it names.
    pub role: &'a Object,
    /// The subject (`kind`, namespace — a ServiceAccount's own or the binding's — and name).
    pub subject: ObjectRef,
}

/// Every (binding, subject) whose role is among the objects.
pub fn grants(inv: &Inventory) -> Vec<Grant<'_>> {
    let mut roles: HashMap<(&str, &str, &str), &Object> = HashMap::new();
    for r in inv.of_kind("Role") {
        roles.entry(("Role", r.namespace(), r.name())).or_insert(r);
    }
    for r in inv.of_kind("ClusterRole") {
        roles.entry(("ClusterRole", "", r.name())).or_insert(r);
    }
    let mut out = Vec::new();
    for b in inv.of_kinds(&["RoleBinding", "ClusterRoleBinding"]) {
        let Some(role_ref) = b.value.get("roleRef") else {
            continue;
        };
        let kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
        let key = match (b.kind(), kind) {
            ("RoleBinding", "Role") => ("Role", b.namespace(), name),
            (_, "ClusterRole") => ("ClusterRole", "", name),
            _ => continue,
        };
        let Some(role) = roles.get(&key) else {
            continue;
        };
        for s in b
            .value
            .get("subjects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let kind = s.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = s.get("name").and_then(Value::as_str).unwrap_or("");
            if kind.is_empty() || name.is_empty() {
                continue;
            }
            let namespace = match kind {
                "ServiceAccount" => s
                    .get("namespace")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .unwrap_or(b.namespace()),
                _ => "",
            };
            out.push(Grant {
                binding: b,
                role,
                subject: ObjectRef::new(kind, namespace, name),
            });
        }
    }
    out
}

/// A permission: any of these verbs on any of these resources in any of these groups.
#[derive(Debug, Clone, Copy)]
pub struct Permission {
    /// Verbs (`*` should be listed when a wildcard grants it).
    pub verbs: &'static [&'static str],
    /// API groups (`""` is core).
    pub groups: &'static [&'static str],
    /// Resources (`pods/exec` for a subresource).
    pub resources: &'static [&'static str],
    /// What holding it means (`can read secrets`).
    pub means: &'static str,
}

fn holds(list: Option<&Value>, wanted: &[&str]) -> bool {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|v| v.as_str().is_some_and(|s| wanted.contains(&s)))
}

/// The indices of the role's rules that grant `p`.
pub fn granting_rules(role: &Object, p: &Permission) -> Vec<usize> {
    role.value
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, r)| {
            holds(r.get("verbs"), p.verbs)
                && holds(r.get("apiGroups"), p.groups)
                && holds(r.get("resources"), p.resources)
        })
        .map(|(i, _)| i)
        .collect()
}

fn refer(o: &Object) -> ObjectRef {
    o.at.clone()
}

/// Verdicts per subject: each grant of each permission (and each granting rule) is a hit;
/// `extra` narrows which grants count.
pub fn judge(
    inv: &Inventory,
    permissions: &[Permission],
    extra: fn(&Grant<'_>) -> bool,
) -> Vec<Verdict> {
    let mut by_subject: BTreeMap<ObjectRef, Vec<Hit>> = BTreeMap::new();
    for g in grants(inv) {
        let hits = by_subject.entry(g.subject.clone()).or_default();
        if !extra(&g) {
            continue;
        }
        for p in permissions {
            for rule in granting_rules(g.role, p) {
                hits.push(
                    Hit::new(
                        format!("rules[{rule}]"),
                        format!(
                            "{} {} through {} (rules[{rule}]), bound by {}",
                            g.subject.kind, p.means, g.role.at, g.binding.at
                        ),
                    )
                    .instruct(format!(
                        "remove {} {:?} from {}, or narrow rules[{rule}] of {}",
                        g.subject.kind, g.subject.name, g.binding.at, g.role.at,
                    ))
                    .related(vec![refer(g.binding), refer(g.role)]),
                );
            }
        }
    }
    by_subject
        .into_iter()
        .map(|(target, hits)| Verdict {
            target,
            outcome: Ok(hits),
        })
        .collect()
}

fn any(_: &Grant<'_>) -> bool {
    true
}

macro_rules! permission_check {
    ($name:ident, $doc:literal, $extra:expr, [$($p:expr),+ $(,)?]) => {
        #[doc = $doc]
        pub fn $name(inv: &Inventory, _: &Settings) -> Vec<Verdict> {
            judge(inv, &[$($p),+], $extra)
        }
    };
}

const WILDCARD: Permission = Permission {
    verbs: &["*"],
    groups: &["*", ""],
    resources: &["*"],
    means: "holds every permission (*)",
};

permission_check!(
    exec,
    "Can exec into containers.",
    any,
    [Permission {
        verbs: &["create", "*"],
        groups: &["", "*"],
        resources: &["pods/exec", "pods/*", "*"],
        means: "can exec into containers",
    }]
);

permission_check!(
    cluster_admin,
    "Bound to `cluster-admin` by a ClusterRoleBinding.",
    |g: &Grant<'_>| g.binding.kind() == "ClusterRoleBinding" && g.role.name() == "cluster-admin",
    [Permission {
        means: "is bound to cluster-admin",
        ..WILDCARD
    }]
);

permission_check!(
    wildcard,
    "Holds `*` on `*` (administrative roles, wildcard use).",
    any,
    [WILDCARD]
);

permission_check!(
    read_secrets,
    "Can read Secrets.",
    any,
    [Permission {
        verbs: &["get", "list", "watch", "*"],
        groups: &["", "*"],
        resources: &["secrets", "*"],
        means: "can read secrets",
    }]
);

permission_check!(
    create_pods,
    "Can create Pods.",
    any,
    [Permission {
        verbs: &["create", "*"],
        groups: &["", "*"],
        resources: &["pods", "*"],
        means: "can create pods",
    }]
);

permission_check!(
    bind_escalate,
    "Can bind or escalate roles.",
    any,
    [
        Permission {
            verbs: &["bind", "*"],
            groups: &["rbac.authorization.k8s.io", "*"],
            resources: &["clusterroles", "roles", "*"],
            means: "can bind roles and cluster roles",
        },
        Permission {
            verbs: &["escalate", "*"],
            groups: &["rbac.authorization.k8s.io", "*"],
            resources: &["clusterroles", "roles", "*"],
            means: "can escalate roles and cluster roles",
        },
    ]
);

permission_check!(
    impersonate,
    "Can impersonate users, groups or service accounts.",
    any,
    [Permission {
        verbs: &["impersonate", "*"],
        groups: &["", "*"],
        resources: &["users", "serviceaccounts", "groups", "uids", "*"],
        means: "can impersonate users, groups and service accounts",
    }]
);

permission_check!(
    create_pv,
    "Can create PersistentVolumes.",
    any,
    [Permission {
        verbs: &["create", "*"],
        groups: &["", "*"],
        resources: &["persistentvolumes", "*"],
        means: "can create persistent volumes",
    }]
);

permission_check!(
    node_proxy,
    "Can use the nodes/proxy subresource.",
    any,
    [Permission {
        verbs: &["get", "create", "connect", "*"],
        groups: &["", "*"],
        resources: &["nodes/proxy", "*"],
        means: "can reach kubelets through nodes/proxy",
    }]
);

permission_check!(
    approve_csr,
    "Can approve CertificateSigningRequests.",
    any,
    [Permission {
        verbs: &["update", "*"],
        groups: &["certificates.k8s.io", "*"],
        resources: &["certificatesigningrequests/approval", "*"],
        means: "can approve certificate signing requests",
    }]
);

permission_check!(
    admission_webhooks,
    "Can change admission webhook configurations.",
    any,
    [Permission {
        verbs: &["create", "update", "delete", "*"],
        groups: &["admissionregistration.k8s.io", "*"],
        resources: &[
            "validatingwebhookconfigurations",
            "mutatingwebhookconfigurations",
            "*"
        ],
        means: "can change admission webhooks",
    }]
);

permission_check!(
    token_create,
    "Can create service account tokens.",
    any,
    [Permission {
        verbs: &["create", "*"],
        groups: &["", "*"],
        resources: &["serviceaccounts/token", "*"],
        means: "can create service account tokens",
    }]
);
