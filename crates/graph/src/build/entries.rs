//! The ways in a workload opens itself, without a Service in front: `Internet → Endpoint →
//! Workload` for a hostPort, for a hostNetwork pod that declares ports, and for a workload
//! declared exposed (`rampart.dev/exposed`) when its NetworkPolicies admit external sources.
//! (Routes through Services, Ingresses and OpenShift Routes are [`super::routes`].)

use rampart_model::{EXPOSED_ANNOTATION, Workload};

use super::{Builder, rule_evidence, workload_ref};
use crate::cost;
use crate::model::{Cost, EdgeKind, Endpoint, EndpointKind, Evidence};
use crate::netpol::NetModel;
use crate::ports::{PortSet, Protocol};

/// Every way in the workload opens itself, in the graph's fixed order.
pub(super) fn workload_entries(b: &mut Builder<'_>, net: &NetModel, w: &Workload) {
    host_ports(b, w);
    host_network(b, net, w);
    declared_exposed(b, net, w);
}

/// A container's `hostPort`: reachable on the node's address.
fn host_ports(b: &mut Builder<'_>, w: &Workload) {
    let wref = workload_ref(w);
    let wi = b.workload_ix[w.id.index()];
    for (i, c) in w.template.spec.containers.iter().enumerate() {
        for (j, p) in c.ports.iter().enumerate() {
            let (Some(hp), Some(proto)) = (
                p.host_port.filter(|h| *h > 0),
                Protocol::parse(p.protocol.as_deref()),
            ) else {
                continue;
            };
            let Ok(hp16) = u16::try_from(hp) else {
                continue;
            };
            let field = format!("spec.containers[{i}].ports[{j}].hostPort: {hp}");
            let ep = b.endpoint(
                Endpoint {
                    kind: EndpointKind::HostPort,
                    object: wref.clone(),
                    detail: format!("hostPort {} {hp} → {}", proto.as_str(), p.container_port),
                    node_port: None,
                    source: w.source.clone(),
                },
                &field,
            );
            b.edge(
                ep,
                wi,
                EdgeKind::RoutesTo,
                vec![Evidence::new(wref.clone(), field, w.source.as_ref())],
                Some(PortSet::single(proto, hp16)),
                Cost::Finite(cost::EXPOSURE_DURABLE),
            );
        }
    }
}

/// A hostNetwork pod is reachable on the node's address on the ports it declares; one that
/// declares none serves nothing known (agents, benchmarks) and is not an entry.
fn host_network(b: &mut Builder<'_>, net: &NetModel, w: &Workload) {
    let spec = &w.template.spec;
    if !spec.host_network || crate::netpol::declared_ports(spec).is_empty() {
        return;
    }
    let wref = workload_ref(w);
    let wi = b.workload_ix[w.id.index()];
    let ep = b.endpoint(
        Endpoint {
            kind: EndpointKind::HostNetwork,
            object: wref.clone(),
            detail: "hostNetwork: the ports the pod declares".into(),
            node_port: None,
            source: w.source.clone(),
        },
        "spec.hostNetwork: true",
    );
    let ports = net.member_class[w.id.index()]
        .first()
        .map(|c| net.class(*c).listening())
        .unwrap_or_else(PortSet::all);
    b.edge(
        ep,
        wi,
        EdgeKind::RoutesTo,
        vec![Evidence::new(
            wref,
            "spec.hostNetwork: true",
            w.source.as_ref(),
        )],
        Some(ports),
        Cost::Finite(cost::EXPOSURE_DURABLE),
    );
}

/// A workload declared exposed is an endpoint; it routes to the workload on the ports it
/// listens on that its NetworkPolicies admit from external sources.
fn declared_exposed(b: &mut Builder<'_>, net: &NetModel, w: &Workload) {
    if !w.has_marker(EXPOSED_ANNOTATION, "true") {
        return;
    }
    let wref = workload_ref(w);
    let wi = b.workload_ix[w.id.index()];
    let field = format!("metadata.annotations[{EXPOSED_ANNOTATION}]");
    let ep = b.endpoint(
        Endpoint {
            kind: EndpointKind::Declared,
            object: wref.clone(),
            detail: "declared exposed".into(),
            node_port: None,
            source: w.source.clone(),
        },
        &field,
    );
    let c = net.member_class[w.id.index()].first().copied();
    let (ports, why) = c
        .map(|c| net.ingress_from_external(None, c))
        .unwrap_or((PortSet::all(), Vec::new()));
    let listening = c
        .map(|c| net.class(c).listening())
        .unwrap_or_else(PortSet::all);
    let ports = ports.intersect(&listening);
    if ports.is_empty() {
        return;
    }
    let mut ev = vec![Evidence::new(wref.clone(), field, w.source.as_ref())];
    ev.extend(rule_evidence(
        net,
        &why,
        wref,
        "no NetworkPolicy isolates ingress (external sources admitted)",
    ));
    b.edge(
        ep,
        wi,
        EdgeKind::RoutesTo,
        ev,
        Some(ports),
        Cost::Finite(cost::EXTERNAL_DENY),
    );
}

#[cfg(test)]
mod tests {
    use super::super::tests::{entries_into, graph, pod};
    use crate::model::EndpointKind;

    #[test]
    fn a_host_port_is_an_entry_into_the_workload() {
        let g = graph(&pod(
            "a",
            "  containers: [{name: c, image: x, ports: [{containerPort: 8080, hostPort: 80}]}]",
        ));
        assert_eq!(
            entries_into(&g, "Pod/app/a"),
            vec![(EndpointKind::HostPort, "hostPort TCP 80 → 8080".to_string())]
        );
    }

    #[test]
    fn a_container_port_alone_is_no_entry() {
        let g = graph(&pod(
            "a",
            "  containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]",
        ));
        assert!(entries_into(&g, "Pod/app/a").is_empty());
    }

    #[test]
    fn a_host_network_pod_with_ports_is_an_entry() {
        let g = graph(&pod(
            "a",
            "  hostNetwork: true\n  containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]",
        ));
        assert_eq!(
            entries_into(&g, "Pod/app/a"),
            vec![(
                EndpointKind::HostNetwork,
                "hostNetwork: the ports the pod declares".to_string()
            )]
        );
    }

    #[test]
    fn a_host_network_pod_without_ports_is_no_entry() {
        let g = graph(&pod(
            "a",
            "  hostNetwork: true\n  containers: [{name: c, image: x}]",
        ));
        assert!(entries_into(&g, "Pod/app/a").is_empty());
        assert!(g.endpoints.is_empty());
    }

    const EXPOSED: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: app, labels: {app: a}, annotations: {rampart.dev/exposed: 'true'}}\nspec: {containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]}\n---\n";

    #[test]
    fn a_workload_declared_exposed_is_an_entry_when_its_policies_admit_the_internet() {
        let g = graph(EXPOSED);
        assert_eq!(
            entries_into(&g, "Pod/app/a"),
            vec![(EndpointKind::Declared, "declared exposed".to_string())]
        );
    }

    #[test]
    fn a_workload_declared_exposed_behind_a_default_deny_is_no_entry() {
        let g = graph(&format!(
            "{EXPOSED}apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny, namespace: app}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress]}}\n"
        ));
        // The endpoint is there (the declaration is), the route into the workload is not.
        assert_eq!(g.endpoints.len(), 1);
        assert!(entries_into(&g, "Pod/app/a").is_empty());
    }
}
