//! What each component asks of the API server, in one table: the engine's watches, the verbs
//! its levers use, Events, the webhook's watches. The engine's SelfSubjectAccessReviews ask
//! from it, and `rampart permissions` prints it so that RBAC (the Helm chart's, or an
//! operator's own) can be checked against what rampart really does: nothing missing, nothing
//! extra.

use kube::api::{ApiResource, GroupVersionKind};
use rampart_api::{ClusterSecurityPolicy, SecurityPolicy};
use serde::Serialize;

use crate::cluster::{EXTRA, OPTIONAL, WATCHED};

/// One access: a verb on a resource (and subresource), cluster-wide or in one namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Access {
    /// API group (`""`: the core group).
    pub group: String,
    /// Plural resource name.
    pub resource: String,
    /// Subresource (`status`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    /// The verb.
    pub verb: String,
    /// The namespace the access is confined to; none: every namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Why rampart needs it, for people reading the list.
    pub why: &'static str,
}

impl Access {
    fn new(group: &str, resource: &str, verb: &str, why: &'static str) -> Access {
        Access {
            group: group.into(),
            resource: resource.into(),
            subresource: None,
            verb: verb.into(),
            namespace: None,
            why,
        }
    }

    fn sub(mut self, sub: &str) -> Access {
        self.subresource = Some(sub.into());
        self
    }

    fn within(mut self, ns: &str) -> Access {
        self.namespace = Some(ns.into());
        self
    }

    /// How the API server's denial is reported: `verb resource[/sub][ in ns]`.
    pub fn describe(&self) -> String {
        format!(
            "{} {}{}{}",
            self.verb,
            self.resource,
            self.subresource
                .as_deref()
                .map(|s| format!("/{s}"))
                .unwrap_or_default(),
            self.namespace
                .as_deref()
                .map(|n| format!(" in {n}"))
                .unwrap_or_default()
        )
    }
}

/// list + watch on a kind, as kube-runtime's watcher does.
fn watched(group: &str, version: &str, kind: &str, why: &'static str) -> [Access; 2] {
    let plural = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind)).plural;
    ["list", "watch"].map(|v| Access::new(group, &plural, v, why))
}

/// What the engine reads in every mode: every modelled kind, Secrets (metadata-only requests,
/// which RBAC still authorizes as `list`/`watch` on secrets: no value is ever fetched), and
/// the extras its settings turn on (PodDisruptionBudgets with the `pod` class, acting or
/// not: dry-run verdicts weigh them too).
pub fn engine_reads(pod_class: bool, vulnerability_reports: bool) -> Vec<Access> {
    let mut out: Vec<Access> = WATCHED
        .iter()
        .chain(OPTIONAL)
        .flat_map(|&(_, g, v, k)| watched(g, v, k, "the attack graph"))
        .collect();
    out.extend(watched(
        "",
        "v1",
        "Secret",
        "which Secrets exist (metadata only)",
    ));
    for &(kind, group, version) in EXTRA {
        let on = match kind {
            "PodDisruptionBudget" => pod_class,
            "VulnerabilityReport" => vulnerability_reports,
            _ => false,
        };
        if on {
            out.extend(watched(group, version, kind, "pod actions and intel"));
        }
    }
    out
}

/// The engine's live compliance audit (`--compliance`): every kind the audit reads (Secrets
/// as metadata), its PolicyReports (written by server-side apply, listed after a restart,
/// deleted when their namespace has nothing left to report), and the policies' status.
pub fn engine_audit_access() -> Vec<Access> {
    let why = "the live compliance audit";
    let mut out: Vec<Access> = crate::audit::AUDITED
        .iter()
        .flat_map(|&(k, g, v)| watched(g, v, k, why))
        .collect();
    out.extend(watched("", "v1", "Secret", why));
    let (group, _) = crate::audit::REPORTS;
    for resource in ["policyreports", "clusterpolicyreports"] {
        for verb in ["list", "create", "patch", "delete"] {
            out.push(Access::new(
                group,
                resource,
                verb,
                "the audit's PolicyReports",
            ));
        }
    }
    for resource in ["securitypolicies", "clustersecuritypolicies"] {
        out.push(
            Access::new("rampart.dev", resource, "patch", "each policy's violations").sub("status"),
        );
    }
    out
}

/// The engine's request-guard pages (`--watch-guardians`): the Guardians, read-only.
pub fn engine_guard_reads() -> Vec<Access> {
    let ar = ApiResource::erase::<rampart_api::Guardian>(&());
    ["list", "watch"]
        .map(|v| {
            Access::new(
                &ar.group,
                &ar.plural,
                v,
                "the dashboard's request-guard pages",
            )
        })
        .into()
}

/// What acting needs beyond reading: the ledger (Mitigations and their status, listed and
/// watched), the objects it applies and removes, the pods it isolates, and the Lease in
/// `lease_namespace` it must hold to lead.
pub fn engine_acting(pods: bool, anp: bool, lease_namespace: &str) -> Vec<Access> {
    const NET: &str = "networking.k8s.io";
    let mut out = Vec::new();
    for verb in ["create", "get", "list", "delete"] {
        out.push(Access::new(NET, "networkpolicies", verb, "cuts"));
    }
    for verb in ["create", "list", "watch", "delete"] {
        out.push(Access::new(
            "rampart.dev",
            "mitigations",
            verb,
            "the ledger",
        ));
    }
    out.push(Access::new("rampart.dev", "mitigations", "patch", "the ledger").sub("status"));
    // Acting without being able to see the brake or the ladder would be acting blind.
    for verb in ["list", "watch"] {
        out.push(Access::new(
            "rampart.dev",
            "breakglasses",
            verb,
            "break-glass",
        ));
        out.push(Access::new(
            "rampart.dev",
            "armingpolicies",
            verb,
            "the arming ladder",
        ));
    }
    for verb in ["get", "patch"] {
        out.push(Access::new(
            "rampart.dev",
            "mitigations",
            verb,
            "approving a Pending mitigation from the dashboard",
        ));
    }
    for verb in ["get", "create", "patch"] {
        out.push(
            Access::new("coordination.k8s.io", "leases", verb, "leader election")
                .within(lease_namespace),
        );
    }
    if pods {
        for verb in ["get", "patch", "delete"] {
            out.push(Access::new("", "pods", verb, "isolating infected pods"));
        }
    }
    if anp {
        for verb in ["create", "get", "list", "delete"] {
            out.push(Access::new(
                "policy.networking.k8s.io",
                "adminnetworkpolicies",
                verb,
                "cuts as AdminNetworkPolicies",
            ));
        }
    }
    out
}

/// Recording a proven chain as an Event on its entry object.
pub fn engine_events() -> Vec<Access> {
    ["create", "list"]
        .map(|v| Access::new("events.k8s.io", "events", v, "Events"))
        .into()
}

/// The webhook watching its inputs: Namespace labels (and reading one the watch has not
/// delivered yet) and the policy resources.
pub fn webhook_reads() -> Vec<Access> {
    let mut out = Vec::new();
    out.extend(watched("", "v1", "Namespace", "Pod Security labels"));
    // A pod may arrive for a namespace the watch has not delivered yet: read live, one GET.
    out.push(Access::new(
        "",
        "namespaces",
        "get",
        "Pod Security labels of a namespace not seen yet",
    ));
    for ar in [
        ApiResource::erase::<SecurityPolicy>(&()),
        ApiResource::erase::<ClusterSecurityPolicy>(&()),
    ] {
        out.extend(["list", "watch"].map(|v| Access::new(&ar.group, &ar.plural, v, "policies")));
    }
    // Params objects of rampart's own kind; other kinds policies read (ConfigMap params,
    // inventories) are granted per cluster (the chart's `webhook.readResources`).
    let ar = ApiResource::erase::<rampart_api::PolicyParams>(&());
    out.extend(
        ["list", "watch"].map(|v| Access::new(&ar.group, &ar.plural, v, "policies' params")),
    );
    out
}

/// The webhook with `--watch-pull-secrets`: the cluster's pull secrets (listed by a field
/// selector on their type; RBAC cannot narrow by type).
pub fn webhook_pull_secrets() -> Vec<Access> {
    ["list", "watch"]
        .map(|v| {
            Access::new(
                "",
                "secrets",
                v,
                "pods' imagePullSecrets, for image signatures",
            )
        })
        .to_vec()
}

/// The request guard's learner: reviewing gates' tokens, reading their pods' labels, watching
/// Guardians, creating one for a service without, and writing their status.
pub fn learner_access() -> Vec<Access> {
    let ar = ApiResource::erase::<rampart_api::Guardian>(&());
    let mut out = vec![
        Access::new(
            "authentication.k8s.io",
            "tokenreviews",
            "create",
            "verifying gates' projected ServiceAccount tokens",
        ),
        Access::new("", "pods", "get", "the labels naming a gate's service"),
        Access::new(
            &ar.group,
            &ar.plural,
            "create",
            "a Guardian for a service without one (empty spec: it follows the defaults)",
        ),
        Access::new(&ar.group, &ar.plural, "patch", "learned criteria").sub("status"),
    ];
    out.extend(
        ["list", "watch"].map(|v| Access::new(&ar.group, &ar.plural, v, "Guardians in force")),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_names_are_the_api_servers() {
        let reads = engine_reads(true, true);
        for r in [
            "pods",
            "networkpolicies",
            "ingresses",
            "clusterrolebindings",
            "secrets",
            "poddisruptionbudgets",
            "vulnerabilityreports",
        ] {
            assert!(reads.iter().any(|a| a.resource == r), "{r} missing");
        }
        assert!(
            webhook_reads()
                .iter()
                .any(|a| a.resource == "clustersecuritypolicies")
        );
    }

    #[test]
    fn extras_follow_the_settings() {
        let base = engine_reads(false, false);
        assert!(!base.iter().any(|a| a.resource == "poddisruptionbudgets"));
        assert!(!base.iter().any(|a| a.resource == "vulnerabilityreports"));
        let pods = engine_acting(true, false, "rs");
        assert!(
            pods.iter()
                .any(|a| a.resource == "pods" && a.verb == "delete")
        );
        assert!(!pods.iter().any(|a| a.resource == "adminnetworkpolicies"));
        let lease = pods.iter().find(|a| a.resource == "leases").unwrap();
        assert_eq!(lease.describe(), "get leases in rs");
    }
}
