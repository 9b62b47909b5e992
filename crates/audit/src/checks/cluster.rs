//! Checks that read across objects: NetworkPolicies per workload and per namespace, Pod
//! Security admission per namespace, objects in the `default` namespace, service accounts per
//! namespace, the API server's insecure port, and the community ingress-nginx controller.

use std::collections::{HashMap, HashSet};

use rampart_model::{LabelSelector, Labels};
use serde::Deserialize;

use serde_json::{Value, json};

use crate::check::{Hit, Outcome, Verdict};
use crate::fix::{patch, remove, set};
use crate::inventory::Inventory;
use crate::object::{Object, WORKLOAD_KINDS};
use crate::settings::Settings;

/// A namespaced object's namespace (`default` when its manifest names none).
pub fn namespace_of(o: &Object) -> &str {
    match o.namespace() {
        "" => "default",
        ns => ns,
    }
}

/// A label selector as the model reads it (`rampart_model::LabelSelector`: Kubernetes
/// semantics). A missing or unreadable selector selects nothing.
fn selector(v: Option<&Value>) -> Option<LabelSelector> {
    LabelSelector::deserialize(v?).ok()
}

/// The labels of the pods an object runs (a Pod's own, a workload's template's).
fn pod_labels(o: &Object) -> Labels {
    o.pod()
        .and_then(|p| p.meta)
        .and_then(|m| m.get("labels"))
        .and_then(|l| Labels::deserialize(l).ok())
        .unwrap_or_default()
}

/// The spec entries of a Cilium policy (`spec` and every `specs` item).
fn cilium_specs(p: &Object) -> Vec<&Value> {
    p.value
        .get("spec")
        .into_iter()
        .chain(
            p.value
                .get("specs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        )
        .collect()
}

fn present(v: Option<&Value>) -> bool {
    v.is_some_and(|v| !v.is_null() && v != &json!(false))
}

/// Whether a NetworkPolicy (or Cilium policy) declares a direction of traffic: `policyTypes`
/// (absent means Ingress, as the API server defaults it), or Cilium `ingress` / `egress`.
fn declares_direction(p: &Object) -> bool {
    match p.kind() {
        "NetworkPolicy" => match p.value.pointer("/spec/policyTypes") {
            Some(Value::Array(t)) => t
                .iter()
                .any(|t| matches!(t.as_str(), Some("Ingress" | "Egress"))),
            _ => p.value.get("spec").is_some(),
        },
        _ => cilium_specs(p)
            .iter()
            .any(|s| present(s.get("ingress")) || present(s.get("egress"))),
    }
}

const POLICY_KINDS: &[&str] = &[
    "NetworkPolicy",
    "CiliumNetworkPolicy",
    "CiliumClusterwideNetworkPolicy",
];

/// Workloads whose pods no NetworkPolicy selects, or only policies that declare no direction.
pub fn workload_network_policy(inv: &Inventory, _: &Settings) -> Vec<Verdict> {
    // Each policy read once: its selectors and whether it declares a direction; indexed by
    // namespace (cluster-wide Cilium policies apply in every one).
    struct Policy {
        selectors: Vec<LabelSelector>,
        declares: bool,
    }
    let mut by_namespace: HashMap<&str, Vec<Policy>> = HashMap::new();
    let mut cluster_wide = Vec::new();
    for p in inv.of_kinds(POLICY_KINDS) {
        let selectors = match p.kind() {
            "NetworkPolicy" => selector(p.value.pointer("/spec/podSelector"))
                .into_iter()
                .collect(),
            _ => cilium_specs(p)
                .iter()
                .filter_map(|s| selector(s.get("endpointSelector")))
                .collect(),
        };
        let policy = Policy {
            selectors,
            declares: declares_direction(p),
        };
        if p.kind() == "CiliumClusterwideNetworkPolicy" {
            cluster_wide.push(policy);
        } else {
            by_namespace
                .entry(namespace_of(p))
                .or_default()
                .push(policy);
        }
    }
    inv.of_kinds(WORKLOAD_KINDS)
        .into_iter()
        .filter(|o| !o.controlled())
        .map(|o| {
            let labels = pod_labels(o);
            let ns = namespace_of(o);
            let selecting: Vec<&Policy> = by_namespace
                .get(ns)
                .into_iter()
                .flatten()
                .chain(cluster_wide.iter())
                .filter(|p| p.selectors.iter().any(|s| s.matches(&labels)))
                .collect();
            let hits = if selecting.iter().any(|p| p.declares) {
                Vec::new()
            } else {
                let why = if selecting.is_empty() {
                    "no NetworkPolicy selects its pods"
                } else {
                    "the NetworkPolicies that select its pods declare no ingress or egress"
                };
                vec![
                    Hit::new("metadata.labels", why).instruct(format!(
                        "add a NetworkPolicy in namespace {ns:?} that selects these pods and limits their ingress and egress (`rampart scan` proposes the cut)"
                    )),
                ]
            };
            Verdict {
                target: o.at.clone(),
                outcome: Ok(hits),
            }
        })
        .collect()
}

/// Namespaces with no NetworkPolicy (and no cluster-wide Cilium policy that covers every pod).
pub fn namespace_network_policy(inv: &Inventory, _: &Settings) -> Vec<Verdict> {
    let with_policy: HashSet<&str> = inv
        .of_kinds(&["NetworkPolicy", "CiliumNetworkPolicy"])
        .into_iter()
        .filter(|p| !p.namespace().is_empty())
        .map(|p| p.namespace())
        .collect();
    let cluster_wide = inv.of_kind("CiliumClusterwideNetworkPolicy").any(|p| {
        cilium_specs(p).iter().any(|s| {
            let all = selector(s.get("endpointSelector")).is_some_and(|s| s.is_empty());
            let deny_off = s.pointer("/enableDefaultDeny/ingress") == Some(&json!(false))
                && s.pointer("/enableDefaultDeny/egress") == Some(&json!(false));
            all && !deny_off && (present(s.get("ingress")) || present(s.get("egress")))
        })
    });
    inv.of_kind("Namespace")
        .map(|n| Verdict {
            target: n.at.clone(),
            outcome: Ok(if cluster_wide || with_policy.contains(n.name()) {
                Vec::new()
            } else {
                vec![
                    Hit::new("metadata.name", "no NetworkPolicy is defined in the namespace")
                        .instruct(format!(
                            "add a default-deny NetworkPolicy to namespace {:?}, then allow what its pods need",
                            n.name()
                        )),
                ]
            }),
        })
        .collect()
}

/// Every namespace, to review as an administrative boundary (CIS 5.6.1 is a manual check:
/// each namespace is listed for a person to confirm).
pub fn namespaces_to_review(o: &Object, _: &Settings) -> Outcome {
    Ok(vec![
        Hit::new(
            "metadata.name",
            format!(
                "review namespace {:?}: is it an administrative boundary (its own RBAC, quotas and policies)?",
                o.name()
            ),
        )
        .instruct("confirm the namespace separates a team or an application, or except it with a reason"),
    ])
}

/// Namespaces with no service account besides `default` (their pods all run as `default`).
pub fn namespace_service_accounts(inv: &Inventory, _: &Settings) -> Vec<Verdict> {
    let with_own: HashSet<&str> = inv
        .of_kind("ServiceAccount")
        .filter(|sa| sa.name() != "default" && !sa.namespace().is_empty())
        .map(|sa| sa.namespace())
        .collect();
    inv.of_kind("Namespace")
        .map(|n| Verdict {
            target: n.at.clone(),
            outcome: Ok(if with_own.contains(n.name()) {
                Vec::new()
            } else {
                vec![
                    Hit::new(
                        "metadata.name",
                        "the namespace has no service account besides default",
                    )
                    .instruct("give each workload its own service account"),
                ]
            }),
        })
        .collect()
}

const ENFORCE: &str = "pod-security.kubernetes.io/enforce";

/// Whether any admission mechanism besides Pod Security admission is in place: a webhook
/// configuration with a namespaced rule, a ValidatingAdmissionPolicy, or rampart's own
/// ClusterSecurityPolicies.
fn policy_engine(inv: &Inventory) -> bool {
    let webhook = inv
        .of_kinds(&[
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration",
        ])
        .into_iter()
        .any(|w| {
            w.value
                .get("webhooks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|h| {
                    h.get("rules")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                })
                // The API server defaults a rule's scope to `*`.
                .any(|r| r.get("scope").and_then(Value::as_str).unwrap_or("*") != "Cluster")
        });
    webhook
        || inv
            .of_kind("ValidatingAdmissionPolicyBinding")
            .next()
            .is_some()
        || inv.of_kind("ClusterSecurityPolicy").next().is_some()
}

fn enforce_fix(n: &Object, level: &str) -> Option<crate::check::Fix> {
    patch([set(
        &n.value,
        "/metadata/labels/pod-security.kubernetes.io~1enforce",
        json!(level),
    )])
}

/// Namespaces that neither enforce a Pod Security level nor sit under another admission
/// policy mechanism.
pub fn policy_mechanism(inv: &Inventory, _: &Settings) -> Vec<Verdict> {
    let engine = policy_engine(inv);
    inv.of_kind("Namespace")
        .map(|n| {
            let labelled = n.labels().any(|(k, _)| k.starts_with(ENFORCE));
            Verdict {
                target: n.at.clone(),
                outcome: Ok(if engine || labelled {
                    Vec::new()
                } else {
                    vec![
                        Hit::new(
                            format!("metadata.labels[{ENFORCE}]"),
                            "no Pod Security level is enforced and no admission policy engine is installed",
                        )
                        .fix(enforce_fix(n, "baseline")),
                    ]
                }),
            }
        })
        .collect()
}

fn enforces(
    levels: &'static [&'static str],
    level: &'static str,
) -> impl Fn(&Object, &Settings) -> Outcome {
    move |n, _| {
        let ok = n.label(ENFORCE).is_some_and(|l| levels.contains(&l));
        Ok(if ok {
            Vec::new()
        } else {
            vec![
                Hit::new(
                    format!("metadata.labels[{ENFORCE}]"),
                    format!("the namespace does not enforce Pod Security {level}"),
                )
                .fix(enforce_fix(n, level)),
            ]
        })
    }
}

/// Namespaces that do not enforce at least the baseline level.
pub fn enforces_baseline(n: &Object, s: &Settings) -> Outcome {
    enforces(&["baseline", "restricted"], "baseline")(n, s)
}

/// Namespaces that do not enforce the restricted level.
pub fn enforces_restricted(n: &Object, s: &Settings) -> Outcome {
    enforces(&["restricted"], "restricted")(n, s)
}

/// Kinds CIS 5.6.4 looks for in `default`.
pub const DEFAULT_NAMESPACE_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
    "ReplicationController",
    "PodTemplate",
    "ConfigMap",
    "Secret",
    "Service",
    "Endpoints",
    "EndpointSlice",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "PersistentVolumeClaim",
    "HorizontalPodAutoscaler",
    "Lease",
    "CSIStorageCapacity",
    "Ingress",
    "PodDisruptionBudget",
];

/// Objects in the `default` namespace (a manifest without a namespace lands there too), except
/// what Kubernetes itself keeps there.
pub fn in_default_namespace(o: &Object, _: &Settings) -> Outcome {
    if namespace_of(o) != "default" {
        return Ok(Vec::new());
    }
    let explicit = !o.namespace().is_empty();
    // Created by Kubernetes in every cluster (or every namespace): not the user's choice.
    let builtin = match (o.kind(), o.name()) {
        ("Service" | "Endpoints", "kubernetes") => true,
        ("ConfigMap", "kube-root-ca.crt") => true,
        ("ServiceAccount", "default") => true,
        ("EndpointSlice", _) => {
            o.label("kubernetes.io/service-name") == Some("kubernetes")
                && o.label("endpointslice.kubernetes.io/managed-by")
                    == Some("endpointslice-controller.k8s.io")
        }
        _ => false,
    };
    if builtin {
        return Ok(Vec::new());
    }
    Ok(vec![if explicit {
        Hit::new(
            "metadata.namespace",
            "the object is in the default namespace",
        )
        .instruct("move it to a namespace of its own")
    } else {
        Hit::new(
            "metadata.namespace",
            "the manifest names no namespace, so it lands in default",
        )
        .instruct("set metadata.namespace to a namespace of its own")
    }])
}

/// The API server's insecure port enabled (`--insecure-port` not 0) on its static Pod.
pub fn insecure_port(o: &Object, _: &Settings) -> Outcome {
    if !o.name().contains("kube-apiserver") {
        return Ok(Vec::new());
    }
    let Some(pod) = o.pod() else {
        return Ok(Vec::new());
    };
    let mut hits = Vec::new();
    for c in pod.containers_of(&[crate::object::ContainerList::Containers]) {
        for (j, arg) in c
            .value
            .get("command")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(value) = arg
                .as_str()
                .and_then(|a| a.strip_prefix("--insecure-port="))
            else {
                continue;
            };
            if value.trim() != "0" {
                hits.push(
                    Hit::new(
                        c.path(&format!("command[{j}]")),
                        "the API server serves an unauthenticated, unencrypted port",
                    )
                    .fix(patch([remove(&format!(
                        "{}{}",
                        pod.pointer(),
                        c.pointer(&format!("command/{j}"))
                    ))])),
                );
            }
        }
    }
    Ok(hits)
}

fn ingress_nginx_images(o: &Object) -> Vec<(String, &str)> {
    let Some(pod) = o.pod() else {
        return Vec::new();
    };
    pod.containers_of(&[crate::object::ContainerList::Containers])
        .into_iter()
        .filter_map(|c| {
            let image = c.value.get("image")?.as_str()?;
            Some((c.path("image"), image))
        })
        .collect()
}

/// The version in an image's tag (`…:v1.0.0` → (1, 0, 0)).
fn tag_version(image: &str) -> Option<(u64, u64, u64)> {
    let image = image.split('@').next().unwrap_or(image);
    let tag = image
        .rsplit_once(':')
        .map(|(_, t)| t)
        .filter(|t| !t.contains('/'))?;
    let mut n = tag
        .trim_start_matches('v')
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u64>().ok());
    Some((n.next()??, n.next()??, n.next()??))
}

/// Ingress-nginx controllers open to CVE-2021-25742 (snippet annotations read any Secret):
/// versions before 0.49.1 and 1.0.0, unless a ConfigMap of the namespace sets
/// `allow-snippet-annotations: "false"`.
pub fn nginx_snippets(inv: &Inventory, _: &Settings) -> Vec<Verdict> {
    let disabled: HashSet<&str> = inv
        .of_kind("ConfigMap")
        .filter(|c| c.value.pointer("/data/allow-snippet-annotations") == Some(&json!("false")))
        .map(namespace_of)
        .collect();
    inv.of_kind("Deployment")
        .map(|o| {
            let hits = ingress_nginx_images(o)
                .into_iter()
                .filter(|(_, image)| {
                    ["nginx-controller", "ingress-controller", "ingress-nginx"]
                        .iter()
                        .any(|n| image.contains(n))
                })
                .filter(|(_, image)| {
                    tag_version(image).is_some_and(|v| v < (0, 49, 1) || v == (1, 0, 0))
                })
                .filter(|_| !disabled.contains(namespace_of(o)))
                .map(|(path, _)| {
                    Hit::new(
                        path,
                        "the ingress-nginx controller lets snippet annotations read any Secret (CVE-2021-25742)",
                    )
                    .instruct("upgrade the controller to 1.0.1 or later, or set allow-snippet-annotations: \"false\" in its ConfigMap")
                })
                .collect();
            Verdict {
                target: o.at.clone(),
                outcome: Ok(hits),
            }
        })
        .collect()
}

/// The community ingress-nginx controller, which reached its end of life in March 2026.
pub fn nginx_eol(o: &Object, _: &Settings) -> Outcome {
    Ok(ingress_nginx_images(o)
        .into_iter()
        .filter(|(_, image)| {
            [
                "ingress-nginx/controller",
                "k8s.gcr.io/ingress-nginx",
                "registry.k8s.io/ingress-nginx",
            ]
            .iter()
            .any(|n| image.contains(n))
        })
        .map(|(path, _)| {
            Hit::new(
                path,
                "the community ingress-nginx controller receives no security fixes after March 2026",
            )
            .instruct("move to a maintained ingress or Gateway API controller")
        })
        .collect())
}
