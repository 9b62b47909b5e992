//! Identities and tokens: the ServiceAccounts of each namespace, `Workload → Identity` (runs as)
//! when a token is mounted, `Node → Identity` (the node holds the tokens of the pods it runs,
//! and the kubelet's own credentials when `system:nodes` is granted anything).

use std::collections::BTreeSet;
use std::sync::Arc;

use petgraph::graph::NodeIndex;
use rampart_model::Workload;
use rampart_model::objects::{Kind, PodSpec};

use super::{Builder, workload_ref};
use crate::cost;
use crate::model::{Cost, EdgeKind, Evidence, ObjRef, Vertex};
use crate::rbac::{Rbac, SubjectKey};

/// Whether the pod mounts a ServiceAccount token, and the fields that say so.
pub fn token_mounted(spec: &PodSpec, sa_automount: Option<bool>) -> Option<String> {
    let projected = spec.volumes.iter().position(|v| {
        v.projected
            .as_ref()
            .is_some_and(|p| p.sources.iter().any(|s| s.service_account_token.is_some()))
    });
    if let Some(i) = projected {
        return Some(format!(
            "spec.volumes[{i}].projected.sources[].serviceAccountToken"
        ));
    }
    match (spec.automount_service_account_token, sa_automount) {
        (Some(false), _) => None,
        (Some(true), _) => Some("spec.automountServiceAccountToken: true".into()),
        (None, Some(false)) => None,
        (None, _) => Some("spec.automountServiceAccountToken unset (defaults to true)".into()),
    }
}

/// The ServiceAccounts of each namespace: `default` in every namespace, and every stored one
/// (workloads add theirs in [`runs_as`]).
pub(super) fn service_accounts(b: &mut Builder<'_>) {
    for ns in b.snapshot.namespace_names() {
        b.sas_by_ns.entry(ns).or_default().insert("default".into());
    }
    for (_, sa) in b.snapshot.service_accounts() {
        b.sas_by_ns
            .entry(sa.metadata.namespace.clone())
            .or_default()
            .insert(sa.metadata.name.clone());
    }
}

/// The ServiceAccount's own automount setting, if it is stored.
fn sa_automount(b: &Builder<'_>, ns: &str, name: &str) -> Option<bool> {
    match b
        .snapshot
        .get(Kind::ServiceAccount, ns, name)
        .map(|l| &l.object)
    {
        Some(rampart_model::Object::ServiceAccount(sa)) => sa.automount_service_account_token,
        _ => None,
    }
}

/// `Workload → Identity` (runs as) when the pod mounts its ServiceAccount's token, and
/// `Node → Identity` (holds the token) from each of `on_nodes`. The workload's ServiceAccount
/// counts as one of its namespace's, token or not. The edge's cost reads the effective RBAC,
/// which may not be built yet: [`runs_as_costs`] sets it.
pub(super) fn runs_as(b: &mut Builder<'_>, w: &Workload, on_nodes: &[NodeIndex]) {
    let spec = &w.template.spec;
    let sa = spec.service_account().to_string();
    // Looked up before inserting: most namespaces and accounts are there already, and an
    // entry would copy both names first.
    match b.sas_by_ns.get_mut(&w.namespace) {
        Some(sas) => {
            if !sas.contains(&sa) {
                sas.insert(sa.clone());
            }
        }
        None => {
            b.sas_by_ns
                .insert(w.namespace.clone(), BTreeSet::from([sa.clone()]));
        }
    }
    let Some(field) = token_mounted(spec, sa_automount(b, &w.namespace, &sa)) else {
        return;
    };
    let wi = b.workload_ix[w.id.index()];
    let subject = SubjectKey::ServiceAccount {
        namespace: w.namespace.clone(),
        name: sa.clone(),
    };
    let id = b.identity_of(&subject);
    let ev: Arc<[Evidence]> = Arc::new([Evidence::new(
        workload_ref(w),
        format!("spec.serviceAccountName: {sa}; {field}"),
        w.source.as_ref(),
    )]);
    let e = b.edge(
        wi,
        id,
        EdgeKind::RunsAs,
        ev.clone(),
        None,
        Cost::Finite(cost::AUTOMOUNT_OFF),
    );
    b.runs_as.push(e);
    for &n in on_nodes {
        b.edge(n, id, EdgeKind::HoldsToken, ev.clone(), None, Cost::Never);
    }
}

/// The cost of each `runs as` edge: turning automount off breaks a workload that calls the
/// API, which it may when its ServiceAccount holds any grant.
pub(super) fn runs_as_costs(b: &mut Builder<'_>, rbac: &Rbac) {
    for e in std::mem::take(&mut b.runs_as) {
        let Some(id) = b.g.edge_endpoints(e).map(|(_, id)| id) else {
            continue;
        };
        let Vertex::Identity(i) = b.g[id] else {
            continue;
        };
        if rbac.holds_any(&b.identities[i as usize]) {
            b.g[e].cost = Cost::Finite(cost::AUTOMOUNT_OFF_USED);
        }
    }
}

/// Nodes act as `system:nodes` when some binding grants that group anything: `Node →
/// Identity` (the kubelet's credentials) from every node.
pub(super) fn node_credentials(b: &mut Builder<'_>, rbac: &Rbac) {
    let nodes = SubjectKey::Group("system:nodes".into());
    if !rbac.subjects().any(|s| *s == nodes) {
        return;
    }
    let id = b.identity(nodes);
    for n in b.node_vertices() {
        b.edge(
            n,
            id,
            EdgeKind::HoldsToken,
            vec![Evidence::new(
                ObjRef::new("Group", "", "system:nodes"),
                "kubelet credentials",
                None,
            )],
            None,
            Cost::Never,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{graph, has_edge, pod};
    use crate::model::EdgeKind;

    #[test]
    fn a_mounted_token_runs_as_the_service_account_on_its_nodes() {
        let g = graph(&pod("a", "  nodeName: n1\n  serviceAccountName: api"));
        assert!(has_edge(
            &g,
            "Pod/app/a",
            EdgeKind::RunsAs,
            "ServiceAccount/app/api"
        ));
        assert!(has_edge(
            &g,
            "Node/n1",
            EdgeKind::HoldsToken,
            "ServiceAccount/app/api"
        ));
    }

    #[test]
    fn no_token_no_identity_on_the_workload_or_its_nodes() {
        let g = graph(&pod(
            "a",
            "  nodeName: n1\n  serviceAccountName: api\n  automountServiceAccountToken: false",
        ));
        assert!(!has_edge(
            &g,
            "Pod/app/a",
            EdgeKind::RunsAs,
            "ServiceAccount/app/api"
        ));
        assert!(!has_edge(
            &g,
            "Node/n1",
            EdgeKind::HoldsToken,
            "ServiceAccount/app/api"
        ));
    }

    const NODES_BINDING: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: nodes}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects: [{kind: Group, name: ";

    #[test]
    fn nodes_hold_the_kubelet_credentials_when_system_nodes_is_bound() {
        let y = format!(
            "{}{NODES_BINDING}system:nodes}}]\n",
            pod("a", "  nodeName: n1")
        );
        let g = graph(&y);
        assert!(has_edge(
            &g,
            "Node/n1",
            EdgeKind::HoldsToken,
            "Group/system:nodes"
        ));
    }

    #[test]
    fn nodes_hold_no_kubelet_credentials_when_system_nodes_is_not_bound() {
        let y = format!("{}{NODES_BINDING}others}}]\n", pod("a", "  nodeName: n1"));
        let g = graph(&y);
        assert!(!has_edge(
            &g,
            "Node/n1",
            EdgeKind::HoldsToken,
            "Group/system:nodes"
        ));
    }
}
