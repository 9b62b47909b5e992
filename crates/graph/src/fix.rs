//! Remedies: what a cut changes, as data that can be printed, applied to a snapshot (what-if)
//! and, for NetworkPolicies, handed to `kubectl apply`.

use rampart_model::objects::{NetworkPolicy, PodSpec};
use rampart_model::{
    Change, Kind, LabelSelector, Labels, Located, Object, ObjectKey, Operator, Requirement,
    Snapshot, Source, WorkloadKind,
};
use serde_json::{Value, json};

use crate::rbac::SubjectKey;

/// Identifies a workload across re-analyses (ids are per analysis).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct WorkloadKey {
    /// Namespace.
    pub namespace: String,
    /// Kind.
    pub kind: WorkloadKind,
    /// Name.
    pub name: String,
    /// Pod names in the input (live dumps): fixes change them too.
    #[serde(skip)]
    pub pods: Vec<String>,
}

impl WorkloadKey {
    /// Key of a workload.
    pub fn of(w: &rampart_model::Workload) -> WorkloadKey {
        WorkloadKey {
            namespace: w.namespace.clone(),
            kind: w.kind,
            name: w.name.clone(),
            pods: w.pod_names.clone(),
        }
    }
}

impl std::fmt::Display for WorkloadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}[{}]", self.namespace, self.name, self.kind)
    }
}

/// One change to the cluster's configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum Fix {
    /// Apply a NetworkPolicy (live, reversible: delete it to revert).
    AddNetworkPolicy(Value),
    /// Change a Service to `ClusterIP` (and drop its `externalIPs`).
    ServiceToClusterIp {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// Delete an object (an Ingress, a Route, a legacy token Secret).
    Delete(ObjectKey),
    /// Remove `hostPort`s from a workload's containers.
    RemoveHostPorts(WorkloadKey),
    /// Turn off `hostNetwork`.
    DisableHostNetwork(WorkloadKey),
    /// Remove the `rampart.dev/exposed` marker.
    RemoveExposedMarker(WorkloadKey),
    /// `automountServiceAccountToken: false` on the pod spec.
    DisableAutomount(WorkloadKey),
    /// Remove every reference to a Secret from the pod spec.
    RemoveSecretRefs(WorkloadKey, String),
    /// Remove a subject from a (Cluster)RoleBinding.
    RemoveBindingSubject {
        /// `RoleBinding` or `ClusterRoleBinding`.
        kind: String,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The subject.
        subject: SubjectKey,
    },
    /// Exclude pods with a label from a NetworkPolicy rule's pod peers.
    ExcludeFromRule {
        /// Policy namespace.
        namespace: String,
        /// Policy name.
        name: String,
        /// Ingress (true) or egress rule.
        ingress: bool,
        /// Rule index.
        rule: u32,
        /// Label key to exclude on.
        key: String,
        /// Excluded values.
        values: Vec<String>,
    },
    /// Remove the `ipBlock` peers of a rule (they admit sources outside the cluster).
    RemoveIpBlocks {
        /// Policy namespace.
        namespace: String,
        /// Policy name.
        name: String,
        /// Rule index (ingress).
        rule: u32,
    },
    /// Apply a CiliumNetworkPolicy of deny rules: where a Cilium policy admits the step, a
    /// deny — which wins over every allow, the NetworkPolicies' too — is the cut in the layer
    /// the cluster uses. Proposed, never applied: rampart writes no Cilium objects.
    AddCiliumPolicy(Value),
    /// Apply an Istio AuthorizationPolicy of action DENY: where Istio judges the step, the cut
    /// in its layer. Proposed, never applied.
    AddIstioPolicy(Value),
    /// Apply an AdminNetworkPolicy Deny ([`admin_deny`]): where admin policies judge the step,
    /// the cut in their layer. Live: the `adminnetworkpolicy` actuator writes it.
    AddAdminNetworkPolicy(Value),
    /// Restrict a rule that admits every source to pods of the policy's own namespace.
    RestrictRuleToNamespace {
        /// Policy namespace.
        namespace: String,
        /// Policy name.
        name: String,
        /// Ingress (true) or egress.
        ingress: bool,
        /// Rule index.
        rule: u32,
    },
}

impl Fix {
    /// Whether the fix is a live, reversible mitigation (a new NetworkPolicy or
    /// AdminNetworkPolicy) rather than a durable configuration change.
    pub fn is_live(&self) -> bool {
        self.manifest().is_some()
    }

    /// What to do, in words.
    pub fn describe(&self) -> String {
        match self {
            Fix::AddNetworkPolicy(v) => format!(
                "apply NetworkPolicy {}/{}",
                v["metadata"]["namespace"].as_str().unwrap_or(""),
                v["metadata"]["name"].as_str().unwrap_or("")
            ),
            Fix::AddCiliumPolicy(v) => format!(
                "apply CiliumNetworkPolicy {}/{} ({})",
                v["metadata"]["namespace"].as_str().unwrap_or(""),
                v["metadata"]["name"].as_str().unwrap_or(""),
                v["metadata"]["annotations"]["rampart.dev/denies"]
                    .as_str()
                    .unwrap_or("a deny rule")
            ),
            Fix::AddAdminNetworkPolicy(v) => format!(
                "apply AdminNetworkPolicy {} (priority {}: {})",
                v["metadata"]["name"].as_str().unwrap_or(""),
                v["spec"]["priority"],
                v["metadata"]["annotations"]["rampart.dev/denies"]
                    .as_str()
                    .unwrap_or("Deny")
            ),
            Fix::AddIstioPolicy(v) => format!(
                "apply AuthorizationPolicy {}/{} ({})",
                v["metadata"]["namespace"].as_str().unwrap_or(""),
                v["metadata"]["name"].as_str().unwrap_or(""),
                v["metadata"]["annotations"]["rampart.dev/denies"]
                    .as_str()
                    .unwrap_or("DENY")
            ),
            Fix::ServiceToClusterIp { namespace, name } => {
                format!("change Service {namespace}/{name} to type ClusterIP (no externalIPs)")
            }
            Fix::Delete(k) => format!("delete {k}"),
            Fix::RemoveHostPorts(w) => format!("remove hostPort from the containers of {w}"),
            Fix::DisableHostNetwork(w) => format!("set hostNetwork: false on {w}"),
            Fix::RemoveExposedMarker(w) => format!(
                "stop exposing {w} (remove the rampart.dev/exposed marker and what it stands for)"
            ),
            Fix::DisableAutomount(w) => {
                format!("set automountServiceAccountToken: false on the pod spec of {w}")
            }
            Fix::RemoveSecretRefs(w, s) => {
                format!("remove the mounts and env references of Secret {s} from {w}")
            }
            Fix::RemoveBindingSubject {
                kind,
                namespace,
                name,
                subject,
            } => {
                if namespace.is_empty() {
                    format!("remove {subject} from {kind} {name}")
                } else {
                    format!("remove {subject} from {kind} {namespace}/{name}")
                }
            }
            Fix::ExcludeFromRule {
                namespace,
                name,
                ingress,
                rule,
                key,
                values,
            } => format!(
                "narrow NetworkPolicy {namespace}/{name} {}[{rule}]: exclude pods with {key} in ({})",
                if *ingress { "ingress" } else { "egress" },
                values.join(",")
            ),
            Fix::RemoveIpBlocks {
                namespace,
                name,
                rule,
            } => {
                format!(
                    "narrow NetworkPolicy {namespace}/{name} ingress[{rule}]: remove its ipBlock peers"
                )
            }
            Fix::RestrictRuleToNamespace {
                namespace,
                name,
                ingress,
                rule,
            } => format!(
                "narrow NetworkPolicy {namespace}/{name} {}[{rule}] from every source to pods of namespace {namespace}",
                if *ingress { "ingress" } else { "egress" }
            ),
        }
    }

    /// Applies the fix to a snapshot (what-if).
    pub fn apply(&self, snapshot: &mut Snapshot) {
        let what_if = Source {
            file: "rampart-what-if".into(),
            doc: 0,
            line: 0,
            item: None,
        };
        match self {
            Fix::AddNetworkPolicy(v) => {
                if let Ok(np) = serde_json::from_value::<NetworkPolicy>(v.clone()) {
                    snapshot.apply(Change::Upsert(Box::new(Located {
                        source: what_if,
                        object: Object::NetworkPolicy(Box::new(np)),
                    })));
                }
            }
            Fix::AddCiliumPolicy(v) | Fix::AddIstioPolicy(v) | Fix::AddAdminNetworkPolicy(v) => {
                if let Ok(Some(mut o)) = rampart_model::object_from_value("rampart-what-if", v) {
                    o.source = what_if;
                    snapshot.apply(Change::Upsert(Box::new(o)));
                }
            }
            Fix::ServiceToClusterIp { namespace, name } => {
                modify(snapshot, Kind::Service, namespace, name, |o| {
                    if let Object::Service(s) = o {
                        s.spec.kind = Some("ClusterIP".into());
                        s.spec.external_ips.clear();
                        s.metadata
                            .annotations
                            .remove(rampart_model::EXPOSED_ANNOTATION);
                    }
                })
            }
            Fix::Delete(k) => {
                snapshot.apply(Change::Delete(k.clone()));
            }
            Fix::RemoveHostPorts(w) => modify_pods(snapshot, w, |s| {
                for c in &mut s.containers {
                    for p in &mut c.ports {
                        p.host_port = None;
                    }
                }
            }),
            Fix::DisableHostNetwork(w) => modify_pods(snapshot, w, |s| s.host_network = false),
            Fix::RemoveExposedMarker(w) => modify_workload(snapshot, w, &mut |o| {
                let meta = o.meta_mut();
                meta.annotations.remove(rampart_model::EXPOSED_ANNOTATION);
                meta.labels.remove(rampart_model::EXPOSED_ANNOTATION);
                if let Object::Controller(c) = o {
                    c.template
                        .metadata
                        .annotations
                        .remove(rampart_model::EXPOSED_ANNOTATION);
                    c.template
                        .metadata
                        .labels
                        .remove(rampart_model::EXPOSED_ANNOTATION);
                }
            }),
            Fix::DisableAutomount(w) => modify_pods(snapshot, w, |s| {
                s.automount_service_account_token = Some(false);
                for v in &mut s.volumes {
                    if let Some(p) = &mut v.projected {
                        p.sources.retain(|src| src.service_account_token.is_none());
                    }
                }
            }),
            Fix::RemoveSecretRefs(w, secret) => modify_pods(snapshot, w, |s| {
                s.volumes
                    .retain(|v| v.secret.as_ref().is_none_or(|x| &x.secret_name != secret));
                for v in &mut s.volumes {
                    if let Some(p) = &mut v.projected {
                        p.sources
                            .retain(|src| src.secret.as_ref().is_none_or(|x| &x.name != secret));
                    }
                }
                for c in s.containers.iter_mut().chain(s.init_containers.iter_mut()) {
                    c.env.retain(|e| {
                        e.value_from
                            .as_ref()
                            .and_then(|v| v.secret_key_ref.as_ref())
                            .is_none_or(|r| &r.name != secret)
                    });
                    c.env_from
                        .retain(|e| e.secret_ref.as_ref().is_none_or(|r| &r.name != secret));
                }
            }),
            Fix::RemoveBindingSubject {
                kind,
                namespace,
                name,
                subject,
            } => {
                let k = if kind == "ClusterRoleBinding" {
                    Kind::ClusterRoleBinding
                } else {
                    Kind::RoleBinding
                };
                modify(snapshot, k, namespace, name, |o| {
                    if let Object::Binding(b) = o {
                        let bns = b.metadata.namespace.clone();
                        b.subjects.retain(|s| {
                            let key = match s.kind.as_str() {
                                "ServiceAccount" => SubjectKey::ServiceAccount {
                                    namespace: s
                                        .namespace
                                        .clone()
                                        .filter(|n| !n.is_empty())
                                        .unwrap_or_else(|| bns.clone()),
                                    name: s.name.clone(),
                                },
                                "User" => SubjectKey::User(s.name.clone()),
                                _ => SubjectKey::Group(s.name.clone()),
                            };
                            &key != subject
                        });
                    }
                });
            }
            Fix::ExcludeFromRule {
                namespace,
                name,
                ingress,
                rule,
                key,
                values,
            } => {
                modify_rule(snapshot, namespace, name, *ingress, *rule, |r| {
                    for p in &mut r.peers {
                        if p.ip_block.is_some() {
                            continue;
                        }
                        let sel = p.pod_selector.get_or_insert_with(LabelSelector::default);
                        sel.match_expressions.push(Requirement {
                            key: key.clone(),
                            operator: Operator::NotIn,
                            values: values.clone(),
                        });
                    }
                });
            }
            Fix::RemoveIpBlocks {
                namespace,
                name,
                rule,
            } => {
                modify(snapshot, Kind::NetworkPolicy, namespace, name, |o| {
                    if let Object::NetworkPolicy(np) = o
                        && let Some(r) = np.spec.ingress.get_mut(*rule as usize)
                    {
                        r.peers.retain(|p| p.ip_block.is_none());
                        if r.peers.is_empty() {
                            // A rule left without peers would admit everyone: keep it
                            // admitting nothing instead.
                            r.peers.push(rampart_model::objects::NetworkPolicyPeer {
                                pod_selector: Some(LabelSelector {
                                    match_labels: Labels::new(),
                                    match_expressions: vec![Requirement {
                                        key: "rampart.dev/none".into(),
                                        operator: Operator::Exists,
                                        values: Vec::new(),
                                    }],
                                }),
                                namespace_selector: None,
                                ip_block: None,
                            });
                        }
                    }
                });
            }
            Fix::RestrictRuleToNamespace {
                namespace,
                name,
                ingress,
                rule,
            } => {
                modify_rule(snapshot, namespace, name, *ingress, *rule, |r| {
                    r.peers = vec![rampart_model::objects::NetworkPolicyPeer {
                        pod_selector: Some(LabelSelector::default()),
                        namespace_selector: None,
                        ip_block: None,
                    }];
                });
            }
        }
    }

    /// The object a live cut applies, for fixes that are one: a NetworkPolicy or an
    /// AdminNetworkPolicy.
    pub fn manifest(&self) -> Option<&Value> {
        match self {
            Fix::AddNetworkPolicy(v) | Fix::AddAdminNetworkPolicy(v) => Some(v),
            _ => None,
        }
    }

    /// The namespace of the workload a live fix protects: a NetworkPolicy's own, an
    /// AdminNetworkPolicy's (cluster-scoped) subject's.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Fix::AddNetworkPolicy(v) => v["metadata"]["namespace"].as_str(),
            Fix::AddAdminNetworkPolicy(v) => v["spec"]["subject"]["pods"]["namespaceSelector"]
                ["matchLabels"]["kubernetes.io/metadata.name"]
                .as_str(),
            _ => None,
        }
    }

    /// The object to apply, for fixes that are one: a NetworkPolicy, an AdminNetworkPolicy,
    /// or a proposed CiliumNetworkPolicy or AuthorizationPolicy.
    pub fn object(&self) -> Option<&Value> {
        match self {
            Fix::AddNetworkPolicy(v)
            | Fix::AddAdminNetworkPolicy(v)
            | Fix::AddCiliumPolicy(v)
            | Fix::AddIstioPolicy(v) => Some(v),
            _ => None,
        }
    }
}

fn modify(snapshot: &mut Snapshot, kind: Kind, ns: &str, name: &str, f: impl FnOnce(&mut Object)) {
    if let Some(l) = snapshot.get(kind, ns, name) {
        let mut l = l.clone();
        f(&mut l.object);
        snapshot.apply(Change::Upsert(Box::new(l)));
    }
}

/// Changes one ingress or egress rule of a NetworkPolicy, if both exist.
fn modify_rule(
    snapshot: &mut Snapshot,
    ns: &str,
    name: &str,
    ingress: bool,
    rule: u32,
    f: impl FnOnce(&mut rampart_model::objects::NetworkPolicyRule),
) {
    modify(snapshot, Kind::NetworkPolicy, ns, name, |o| {
        if let Object::NetworkPolicy(np) = o {
            let rules = if ingress {
                &mut np.spec.ingress
            } else {
                &mut np.spec.egress
            };
            if let Some(r) = rules.get_mut(rule as usize) {
                f(r);
            }
        }
    });
}

fn modify_workload(snapshot: &mut Snapshot, w: &WorkloadKey, f: &mut dyn FnMut(&mut Object)) {
    if (w.kind != WorkloadKind::Pod || w.pods.is_empty())
        && let Some(l) = snapshot.get(w.kind.kind(), &w.namespace, &w.name)
    {
        let mut l = l.clone();
        f(&mut l.object);
        snapshot.apply(Change::Upsert(Box::new(l)));
    }
    for p in &w.pods {
        if let Some(l) = snapshot.get(Kind::Pod, &w.namespace, p) {
            let mut l = l.clone();
            f(&mut l.object);
            snapshot.apply(Change::Upsert(Box::new(l)));
        }
    }
}

fn modify_pods(snapshot: &mut Snapshot, w: &WorkloadKey, f: impl Fn(&mut PodSpec)) {
    modify_workload(snapshot, w, &mut |o| match o {
        Object::Pod(p) => f(&mut p.spec),
        Object::Controller(c) => f(&mut c.template.spec),
        _ => {}
    });
}

/// Private and shared ranges: kept out of "the internet" in generated policies so in-cluster
/// pods stay excluded whatever CIDR the cluster uses.
pub const PRIVATE_RANGES: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
];

/// The name of a policy rampart writes for a workload. Workload names from manifests were never
/// checked by an API server (`Web_App`, `<script>`, 300 characters): the name is made a valid
/// DNS-1123 subdomain of at most 63 characters, with a hash of the whole name when anything had
/// to change, so two workloads never share a policy.
fn object_name(prefix: &str, workload: &str) -> String {
    rampart_model::names::dns_subdomain(&format!("{prefix}-{workload}"), 63).into_owned()
}

/// Metadata of a deny rampart proposes for workload `w`: a name unique to what it denies
/// (`parts`), rampart's label, and what it denies in words. A namespaced object lives in the
/// workload's namespace; a cluster-scoped one carries it in its name (after a dot, which no
/// namespace holds: two namespaces' denies never meet at one name).
fn proposal_metadata(
    w: &rampart_model::Workload,
    parts: &[&str],
    what: &str,
    namespaced: bool,
) -> Value {
    let mut all = vec![w.namespace.as_str(), w.name.as_str()];
    all.extend_from_slice(parts);
    let id = crate::prove::stable_id("", &all);
    let id = id.trim_start_matches('-');
    let mut meta = json!({
        "labels": {"app.kubernetes.io/managed-by": "rampart"},
        "annotations": {"rampart.dev/workload": w.display(), "rampart.dev/denies": what},
    });
    if namespaced {
        meta["name"] = object_name("rampart-deny", &format!("{}-{id}", w.name)).into();
        meta["namespace"] = w.namespace.clone().into();
    } else {
        meta["name"] =
            object_name("rampart-deny", &format!("{}.{}-{id}", w.namespace, w.name)).into();
    }
    meta
}

/// A CiliumNetworkPolicy denying workload `w`'s pods (selected by their stable `selector`)
/// what `rule` names — received from (`ingress`) or sent to — on `ports` (`None`: every port).
/// Its default deny is off: a policy of deny rules alone would otherwise isolate the pods and
/// cut far more than the step. `what` says what it denies, in words.
pub fn cilium_deny(
    w: &rampart_model::Workload,
    selector: &Labels,
    ingress: bool,
    mut rule: Value,
    ports: Option<&crate::ports::PortSet>,
    what: &str,
) -> Value {
    if let Some(ports) = ports.filter(|p| !p.is_all()) {
        let mut list = Vec::new();
        for proto in crate::ports::Protocol::ALL {
            for &(lo, hi) in ports.ranges(proto) {
                let mut p = json!({"port": lo.to_string(), "protocol": proto.as_str()});
                if hi > lo {
                    p["endPort"] = json!(hi);
                }
                list.push(p);
            }
        }
        rule["toPorts"] = json!([{ "ports": list }]);
    }
    let key = if ingress { "ingressDeny" } else { "egressDeny" };
    json!({
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": proposal_metadata(w, &[key, &rule.to_string()], what, true),
        "spec": {
            "endpointSelector": {"matchLabels": selector},
            key: [rule],
            "enableDefaultDeny": {"ingress": false, "egress": false},
        },
    })
}

/// An Istio AuthorizationPolicy denying workload `w`'s pods (selected by their stable
/// `selector`) what the sources `principals` (`cluster.local/ns/<ns>/sa/<sa>`) send, and — for
/// sources outside the mesh, `unauthenticated` — what every source without an identity sends,
/// on the TCP ports of `ports` (`None` or too many to list: every port). `what` says it in
/// words.
pub fn istio_deny(
    w: &rampart_model::Workload,
    selector: &Labels,
    principals: &[String],
    unauthenticated: bool,
    ports: Option<&crate::ports::PortSet>,
    what: &str,
) -> Value {
    let mut from = Vec::new();
    if !principals.is_empty() {
        from.push(json!({"source": {"principals": principals}}));
    }
    if unauthenticated {
        from.push(json!({"source": {"notPrincipals": ["*"]}}));
    }
    let mut rule = json!({ "from": from });
    if let Some(ports) = ports {
        let tcp = ports.ranges(crate::ports::Protocol::Tcp);
        let count: u32 = tcp
            .iter()
            .map(|&(a, b)| u32::from(b.saturating_sub(a)) + 1)
            .sum();
        if count > 0 && count <= 32 {
            let list: Vec<String> = tcp
                .iter()
                .flat_map(|&(a, b)| (a..=b).map(|p| p.to_string()))
                .collect();
            rule["to"] = json!([{ "operation": { "ports": list } }]);
        }
    }
    json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": proposal_metadata(w, &[&rule.to_string()], what, true),
        "spec": {
            "selector": {"matchLabels": selector},
            "action": "DENY",
            "rules": [rule],
        },
    })
}

/// Priority of rampart's AdminNetworkPolicies (0–1000, lower wins): high enough to override
/// ordinary platform allows, leaving 0–9 to the platform team's own emergency rules. A cut's
/// Deny goes lower still where an AdminNetworkPolicy at or before it judges the destination.
pub const ADMIN_DENY_PRIORITY: u32 = 10;

/// An AdminNetworkPolicy denying workload `w`'s pods (its namespace, its stable `selector`)
/// everything the pods `sources` (namespace, stable labels) send them, at `priority`: where
/// admin policies judge a step, the cut in their layer — a Deny that precedes every
/// AdminNetworkPolicy judging the pods, which NetworkPolicies cannot re-allow. Every port:
/// the cut's claim is that the sources no longer reach the pods at all. `what` says it in
/// words.
pub fn admin_deny(
    w: &rampart_model::Workload,
    selector: &Labels,
    sources: &[(String, Labels)],
    priority: u32,
    what: &str,
) -> Value {
    let pods = |ns: &str, labels: &Labels| {
        json!({"pods": {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
            "podSelector": {"matchLabels": labels},
        }})
    };
    let from: Vec<Value> = sources.iter().map(|(ns, l)| pods(ns, l)).collect();
    let rule = json!({"name": "rampart-deny", "action": "Deny", "from": from});
    let metadata = proposal_metadata(w, &[&priority.to_string(), &rule.to_string()], what, false);
    json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": metadata,
        "spec": {
            "priority": priority,
            "subject": pods(&w.namespace, selector),
            "ingress": [rule],
        },
    })
}

/// What to deny for one workload; merged per workload so that two cuts never write two
/// NetworkPolicies whose union re-allows what each denies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetIntent {
    /// Deny sources outside the cluster.
    pub deny_external: bool,
    /// Deny in-cluster sources.
    pub deny_in_cluster: bool,
    /// Deny in-cluster destinations (keep DNS and the internet).
    pub contain_egress: bool,
    /// Deny destinations on the internet (keep DNS and the cluster).
    pub deny_internet_egress: bool,
    /// What contained egress still reaches: the pods (namespace, labels) an ingress rule admits
    /// the workload into — its declared destinations.
    pub keep_egress_to: std::collections::BTreeSet<(String, Labels)>,
}

/// NodeLocal DNSCache's address on every node, which contained egress still reaches on port 53.
pub const NODE_LOCAL_DNS: &str = "169.254.20.10/32";

/// The label of the cluster's DNS pods (in `kube-system`), which contained egress still reaches.
pub const DNS_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

/// NetworkPolicies realising a workload's intent. `selector` are the workload's stable labels
/// (never empty: an empty selector would select the whole namespace).
pub fn network_policies(
    w: &WorkloadKey,
    selector: &Labels,
    intent: &NetIntent,
    reason: &str,
) -> Vec<Value> {
    let mut out = Vec::new();
    let meta = |name: String| {
        json!({
            "name": name,
            "namespace": w.namespace,
            "labels": {"app.kubernetes.io/managed-by": "rampart", "rampart.dev/proposal": "true"},
            "annotations": {"rampart.dev/reason": reason, "rampart.dev/workload": w.to_string()},
        })
    };
    let internet = json!({"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}});
    let internet6 = json!({"ipBlock": {"cidr": "::/0", "except": ["fc00::/7", "fe80::/10"]}});
    if intent.deny_external || intent.deny_in_cluster {
        let mut rules = Vec::new();
        if !intent.deny_in_cluster {
            rules.push(json!({"from": [{"namespaceSelector": {}}]}));
        }
        if !intent.deny_external {
            rules.push(json!({"from": [internet.clone(), internet6.clone()]}));
        }
        out.push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta(object_name("rampart-ingress", &w.name)),
            "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"], "ingress": rules},
        }));
    }
    if intent.contain_egress || intent.deny_internet_egress {
        // DNS always; the cluster (its pods, and private addresses: nodes, services
        // outside NetworkPolicy's pod model) unless contained; the internet unless denied.
        // DNS: the cluster's DNS pods, and NodeLocal DNSCache's link-local address.
        let mut rules = vec![json!(
            {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                      "podSelector": {"matchLabels": {DNS_LABEL.0: DNS_LABEL.1}}},
                    {"ipBlock": {"cidr": NODE_LOCAL_DNS}}],
             "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
        )];
        for (ns, labels) in &intent.keep_egress_to {
            rules.push(json!({"to": [{
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                "podSelector": {"matchLabels": labels},
            }]}));
        }
        if !intent.contain_egress {
            let private: Vec<serde_json::Value> = PRIVATE_RANGES
                .iter()
                .map(|c| json!({"ipBlock": {"cidr": c}}))
                .chain([json!({"ipBlock": {"cidr": "fc00::/7"}})])
                .collect();
            rules.push(json!({"to": [{"namespaceSelector": {}}]}));
            rules.push(json!({ "to": private }));
        }
        if !intent.deny_internet_egress {
            rules.push(json!({"to": [internet, internet6]}));
        }
        out.push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta(object_name("rampart-egress", &w.name)),
            "spec": {
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Egress"],
                "egress": rules,
            },
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> WorkloadKey {
        WorkloadKey {
            namespace: "app".into(),
            kind: WorkloadKind::Deployment,
            name: name.into(),
            pods: Vec::new(),
        }
    }

    fn names(workload: &str) -> Vec<String> {
        let intent = NetIntent {
            deny_external: true,
            deny_in_cluster: false,
            contain_egress: true,
            deny_internet_egress: false,
            keep_egress_to: Default::default(),
        };
        let selector: Labels = [("app".to_string(), "web".to_string())]
            .into_iter()
            .collect();
        network_policies(&key(workload), &selector, &intent, "test")
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn generated_names_are_valid_kubernetes_names() {
        let long = "w".repeat(80);
        for workload in [
            "<script>alert(1)</script>",
            "Web_App",
            "web.",
            "\u{202e}gnp.exe",
            "x\u{1b}[2J",
            "",
            long.as_str(),
        ] {
            let n = names(workload);
            assert_eq!(n.len(), 2);
            for name in &n {
                assert!(
                    rampart_model::names::is_dns_subdomain(name) && name.len() <= 63,
                    "{workload:?} -> {name:?}"
                );
            }
        }
        assert!(names("<script>")[0].starts_with("rampart-ingress--script-"));
    }

    #[test]
    fn valid_names_are_unchanged_and_distinct_inputs_stay_distinct() {
        assert_eq!(names("web"), ["rampart-ingress-web", "rampart-egress-web"]);
        assert_eq!(names("web.v2")[0], "rampart-ingress-web.v2");
        // Replaced alike: still two policies.
        assert_ne!(names("web_app")[0], names("web-app")[0]);
        assert_ne!(names("Web")[0], names("web")[0]);
    }

    #[test]
    fn long_names_keep_the_name_they_had() {
        // Before names were sanitised, a valid but long name was cut to 50 characters and given
        // this hash: policies written then are still found by name.
        let workload = "a".repeat(70);
        let full = format!("rampart-ingress-{workload}");
        let id = crate::prove::stable_id("x", &[&full]);
        let old = format!("{}{}", &full[..50], &id[1..]);
        assert_eq!(names(&workload)[0], old);
    }
}
