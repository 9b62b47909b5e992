//! Secrets and mounts: `Workload → Secret` for every Secret a pod mounts or reads into its
//! environment, `Node → Secret` (the node holds what its pods mount), every stored Secret as a
//! vertex, and `Secret → Identity` for a legacy ServiceAccount token Secret.

use std::collections::BTreeSet;
use std::sync::Arc;

use petgraph::graph::NodeIndex;
use rampart_model::Workload;
use rampart_model::objects::PodSpec;

use super::{Builder, workload_ref};
use crate::cost;
use crate::model::{Cost, EdgeKind, Evidence, ObjRef};
use crate::rbac::SubjectKey;

/// Every Secret the pod references, with the field.
pub fn secret_refs(spec: &PodSpec) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, v) in spec.volumes.iter().enumerate() {
        if let Some(s) = &v.secret {
            out.push((
                s.secret_name.clone(),
                format!("spec.volumes[{i}].secret.secretName"),
            ));
        }
        if let Some(p) = &v.projected {
            for (j, src) in p.sources.iter().enumerate() {
                if let Some(s) = &src.secret {
                    out.push((
                        s.name.clone(),
                        format!("spec.volumes[{i}].projected.sources[{j}].secret.name"),
                    ));
                }
            }
        }
    }
    for (field, list) in [
        ("initContainers", &spec.init_containers),
        ("containers", &spec.containers),
    ] {
        for (i, c) in list.iter().enumerate() {
            for (j, e) in c.env.iter().enumerate() {
                if let Some(r) = e
                    .value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref())
                {
                    out.push((
                        r.name.clone(),
                        format!("spec.{field}[{i}].env[{j}].valueFrom.secretKeyRef"),
                    ));
                }
            }
            for (j, e) in c.env_from.iter().enumerate() {
                if let Some(r) = &e.secret_ref {
                    out.push((
                        r.name.clone(),
                        format!("spec.{field}[{i}].envFrom[{j}].secretRef"),
                    ));
                }
            }
        }
    }
    out.retain(|(n, _)| !n.is_empty());
    out
}

/// `Workload → Secret` (mounts) for each Secret the pod references ([`secret_refs`]; the first
/// reference is the evidence), and `Node → Secret` (holds) from each of `on_nodes`.
pub(super) fn mounts(b: &mut Builder<'_>, w: &Workload, on_nodes: &[NodeIndex]) {
    let wref = workload_ref(w);
    let wi = b.workload_ix[w.id.index()];
    let mut seen = BTreeSet::new();
    for (name, field) in secret_refs(&w.template.spec) {
        if !seen.insert(name.clone()) {
            continue;
        }
        let s = b.secret(&w.namespace, &name);
        let ev: Arc<[Evidence]> = Arc::new([Evidence::new(wref.clone(), field, w.source.as_ref())]);
        b.edge(
            wi,
            s,
            EdgeKind::MountsSecret,
            ev.clone(),
            None,
            Cost::Finite(cost::REMOVE_MOUNT),
        );
        for &n in on_nodes {
            b.edge(n, s, EdgeKind::HoldsSecret, ev.clone(), None, Cost::Never);
        }
    }
}

/// Every stored Secret is a vertex; a `kubernetes.io/service-account-token` Secret leads to its
/// ServiceAccount (`Secret → Identity`).
pub(super) fn stored(b: &mut Builder<'_>) {
    for (_, s) in b.snapshot.secrets() {
        let ix = b.secret(&s.metadata.namespace, &s.metadata.name);
        let Some(sa) = s.token_of() else {
            continue;
        };
        let id = b.identity(SubjectKey::ServiceAccount {
            namespace: s.metadata.namespace.clone(),
            name: sa.to_string(),
        });
        let ev = vec![Evidence::new(
            ObjRef::new("Secret", &s.metadata.namespace, &s.metadata.name),
            "type: kubernetes.io/service-account-token",
            None,
        )];
        b.edge(
            ix,
            id,
            EdgeKind::IsTokenOf,
            ev,
            None,
            Cost::Finite(cost::DELETE_TOKEN_SECRET),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{graph, has_edge, pod, try_vertex};
    use crate::model::EdgeKind;

    #[test]
    fn a_mounted_secret_is_reached_from_the_workload_and_its_node() {
        let g = graph(&pod(
            "a",
            "  nodeName: n1\n  volumes: [{name: v, secret: {secretName: db}}]",
        ));
        assert!(has_edge(
            &g,
            "Pod/app/a",
            EdgeKind::MountsSecret,
            "Secret/app/db"
        ));
        assert!(has_edge(
            &g,
            "Node/n1",
            EdgeKind::HoldsSecret,
            "Secret/app/db"
        ));
    }

    #[test]
    fn a_config_map_volume_mounts_no_secret() {
        let g = graph(&pod(
            "a",
            "  nodeName: n1\n  volumes: [{name: v, configMap: {name: db}}]",
        ));
        assert!(try_vertex(&g, "Secret/app/db").is_none());
    }

    const TOKEN: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: t, namespace: app, annotations: {kubernetes.io/service-account.name: api}}\n";

    #[test]
    fn a_legacy_token_secret_leads_to_its_service_account() {
        let g = graph(&format!(
            "{TOKEN}type: kubernetes.io/service-account-token\n"
        ));
        assert!(has_edge(
            &g,
            "Secret/app/t",
            EdgeKind::IsTokenOf,
            "ServiceAccount/app/api"
        ));
    }

    #[test]
    fn an_opaque_secret_is_a_vertex_and_no_token() {
        let g = graph(&format!("{TOKEN}type: Opaque\n"));
        assert!(try_vertex(&g, "Secret/app/t").is_some());
        assert!(!has_edge(
            &g,
            "Secret/app/t",
            EdgeKind::IsTokenOf,
            "ServiceAccount/app/api"
        ));
    }
}
