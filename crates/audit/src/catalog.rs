//! Every check `rampart audit` runs, with the ids of every framework it answers. CIS numbers
//! are kube-bench's (CIS Kubernetes Benchmark v1.12); kubescape ids name the controls whose
//! rule the check implements; severities follow kubescape's base scores.

use rampart_policy::pss::Level;

use crate::check::{Check, Eval, Framework, Ids, Severity};
use crate::checks::{cluster, credentials, rbac, workload};
use crate::pss;

use Framework::{Cis, Nsa, PssBaseline, PssRestricted};

const WORKLOADS: &[&str] = crate::object::WORKLOAD_KINDS;

const fn ids(
    cis: &'static [&'static str],
    nsa: Option<&'static str>,
    kubescape: &'static [&'static str],
) -> Ids {
    Ids {
        cis,
        nsa,
        kubescape,
        pss: None,
    }
}

/// The checks that are not Pod Security's.
pub const CHECKS: &[Check] = &[
    // Workloads.
    Check {
        id: "privileged-container",
        title: "Containers are not privileged (no privileged: true, no SYS_ADMIN)",
        severity: Severity::High,
        ids: ids(&[], Some("Privileged container"), &["C-0057"]),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::privileged,
        },
    },
    Check {
        id: "privilege-escalation",
        title: "Containers set allowPrivilegeEscalation: false",
        severity: Severity::Medium,
        ids: ids(&[], Some("Allow privilege escalation"), &["C-0016"]),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::privilege_escalation,
        },
    },
    Check {
        id: "non-root",
        title: "Containers run as a non-root user and group",
        severity: Severity::Medium,
        ids: ids(&[], Some("Non-root containers"), &["C-0013"]),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::non_root,
        },
    },
    Check {
        id: "read-only-root-filesystem",
        title: "Containers have a read-only root file system",
        severity: Severity::Low,
        ids: ids(&[], Some("Immutable container filesystem"), &["C-0017"]),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::immutable_filesystem,
        },
    },
    Check {
        id: "insecure-capabilities",
        title: "Containers add no dangerous capabilities",
        severity: Severity::High,
        ids: ids(&[], Some("Insecure capabilities"), &["C-0046"]),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::insecure_capabilities,
        },
    },
    Check {
        id: "seccomp-profile",
        title: "Containers run with a seccomp profile (Linux hardening)",
        severity: Severity::Medium,
        ids: ids(&[], Some("Linux hardening"), &["C-0055"]),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::linux_hardening,
        },
    },
    Check {
        id: "seccomp-runtime-default",
        title: "The seccomp profile is RuntimeDefault",
        severity: Severity::Medium,
        ids: ids(&["5.6.2"], None, &["C-0210"]),
        frameworks: &[Cis],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::seccomp_runtime_default,
        },
    },
    Check {
        id: "host-pid-ipc",
        title: "Pods share neither the host's process nor its IPC namespace",
        severity: Severity::High,
        ids: ids(&[], Some("Host PID/IPC privileges"), &["C-0038"]),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::host_pid_ipc,
        },
    },
    Check {
        id: "host-pid",
        title: "Pods do not share the host's process namespace",
        severity: Severity::Medium,
        ids: ids(&["5.2.3"], None, &["C-0275"]),
        frameworks: &[Cis],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::host_pid,
        },
    },
    Check {
        id: "host-ipc",
        title: "Pods do not share the host's IPC namespace",
        severity: Severity::Medium,
        ids: ids(&["5.2.4"], None, &["C-0276"]),
        frameworks: &[Cis],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::host_ipc,
        },
    },
    Check {
        id: "host-network",
        title: "Pods do not use the host's network namespace",
        severity: Severity::High,
        ids: ids(&["5.2.5"], Some("HostNetwork access"), &["C-0041"]),
        frameworks: &[Cis, Nsa],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::host_network,
        },
    },
    Check {
        id: "host-port",
        title: "Containers bind no host ports",
        severity: Severity::Medium,
        ids: ids(&[], Some("Container hostPort"), &["C-0044"]),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::host_port,
        },
    },
    Check {
        id: "cpu-limits",
        title: "Containers have a CPU limit",
        severity: Severity::High,
        ids: ids(&[], Some("Ensure CPU limits are set"), &["C-0270"]),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::cpu_limits,
        },
    },
    Check {
        id: "memory-limits",
        title: "Containers have a memory limit",
        severity: Severity::High,
        ids: ids(&[], Some("Ensure memory limits are set"), &["C-0271"]),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::memory_limits,
        },
    },
    Check {
        id: "secrets-in-env",
        title: "Secrets are mounted as files, not passed as environment variables",
        severity: Severity::Medium,
        ids: ids(&["5.4.1"], None, &["C-0207"]),
        frameworks: &[Cis],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: workload::secrets_in_env,
        },
    },
    Check {
        id: "subpath-symlink-cve-2021-25741",
        title: "No subPath mounts while a kubelet is open to CVE-2021-25741",
        severity: Severity::Medium,
        ids: ids(
            &[],
            Some("CVE-2021-25741 - Using symlink for arbitrary host file system access."),
            &["C-0058"],
        ),
        frameworks: &[Nsa],
        eval: Eval::Cluster(workload::subpath_symlink),
    },
    Check {
        id: "automount-token",
        title: "Service account tokens are mounted only where needed",
        severity: Severity::Medium,
        ids: ids(
            &["5.1.6"],
            Some("Automatic mapping of service account"),
            &["C-0034", "C-0190"],
        ),
        frameworks: &[Cis, Nsa],
        eval: Eval::Cluster(workload::automount_token),
    },
    Check {
        id: "default-service-account-automount",
        title: "Default service accounts do not mount their token",
        severity: Severity::Medium,
        ids: ids(&["5.1.5"], None, &["C-0189"]),
        frameworks: &[Cis],
        eval: Eval::Object {
            kinds: &["ServiceAccount"],
            check: workload::default_account_automount,
        },
    },
    Check {
        id: "credentials-in-config",
        title: "No credentials in environment variables",
        severity: Severity::High,
        ids: ids(
            &[],
            Some("Applications credentials in configuration files"),
            &["C-0012"],
        ),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: WORKLOADS,
            check: credentials::in_env,
        },
    },
    Check {
        id: "credentials-in-configmap",
        title: "No credentials in ConfigMaps",
        severity: Severity::High,
        ids: ids(
            &[],
            Some("Applications credentials in configuration files"),
            &["C-0012"],
        ),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: &["ConfigMap"],
            check: credentials::in_configmap,
        },
    },
    // Networks.
    Check {
        id: "workload-network-policy",
        title: "Every workload's pods are selected by a NetworkPolicy that limits ingress or egress",
        severity: Severity::Medium,
        ids: ids(&[], Some("Ingress and Egress blocked"), &["C-0030"]),
        frameworks: &[Nsa],
        eval: Eval::Cluster(cluster::workload_network_policy),
    },
    Check {
        id: "namespace-network-policy",
        title: "Every namespace has a NetworkPolicy",
        severity: Severity::Medium,
        ids: ids(
            &["5.3.2"],
            Some("Cluster internal networking"),
            &["C-0054", "C-0206"],
        ),
        frameworks: &[Cis, Nsa],
        eval: Eval::Cluster(cluster::namespace_network_policy),
    },
    // Namespaces and admission.
    Check {
        id: "namespace-boundaries",
        title: "Namespaces are administrative boundaries (review)",
        severity: Severity::Low,
        ids: ids(&["5.6.1"], None, &["C-0209"]),
        frameworks: &[Cis],
        eval: Eval::Object {
            kinds: &["Namespace"],
            check: cluster::namespaces_to_review,
        },
    },
    Check {
        id: "namespace-service-accounts",
        title: "Namespaces have service accounts besides default",
        severity: Severity::Medium,
        ids: ids(&["5.1.5"], None, &["C-0189"]),
        frameworks: &[Cis],
        eval: Eval::Cluster(cluster::namespace_service_accounts),
    },
    Check {
        id: "policy-mechanism",
        title: "At least one active policy control mechanism (Pod Security admission or a policy engine)",
        severity: Severity::Medium,
        ids: ids(&["5.2.1"], None, &["C-0192"]),
        frameworks: &[Cis],
        eval: Eval::Cluster(cluster::policy_mechanism),
    },
    Check {
        id: "namespace-pss-baseline",
        title: "Namespaces enforce at least the baseline Pod Security level",
        severity: Severity::High,
        ids: ids(
            &["5.2.2", "5.2.8", "5.2.10", "5.2.11", "5.2.12"],
            None,
            &["C-0193", "C-0199", "C-0202", "C-0203", "C-0204"],
        ),
        frameworks: &[Cis],
        eval: Eval::Object {
            kinds: &["Namespace"],
            check: cluster::enforces_baseline,
        },
    },
    Check {
        id: "namespace-pss-restricted",
        title: "Namespaces enforce the restricted Pod Security level",
        severity: Severity::Medium,
        ids: ids(
            &["5.2.6", "5.2.7", "5.2.9"],
            None,
            &["C-0197", "C-0198", "C-0200", "C-0201"],
        ),
        frameworks: &[Cis],
        eval: Eval::Object {
            kinds: &["Namespace"],
            check: cluster::enforces_restricted,
        },
    },
    Check {
        id: "default-namespace",
        title: "The default namespace is not used",
        severity: Severity::Medium,
        ids: ids(&["5.6.4"], None, &["C-0212"]),
        frameworks: &[Cis],
        eval: Eval::Object {
            kinds: cluster::DEFAULT_NAMESPACE_KINDS,
            check: cluster::in_default_namespace,
        },
    },
    // Components.
    Check {
        id: "apiserver-insecure-port",
        title: "The API server's insecure port is disabled",
        severity: Severity::Critical,
        ids: ids(
            &[],
            Some("API server insecure port is enabled"),
            &["C-0005"],
        ),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: &["Pod"],
            check: cluster::insecure_port,
        },
    },
    Check {
        id: "ingress-nginx-snippets-cve-2021-25742",
        title: "Ingress-nginx snippet annotations cannot read Secrets (CVE-2021-25742)",
        severity: Severity::High,
        ids: ids(
            &[],
            Some("CVE-2021-25742-nginx-ingress-snippet-annotation-vulnerability"),
            &["C-0059"],
        ),
        frameworks: &[Nsa],
        eval: Eval::Cluster(cluster::nginx_snippets),
    },
    Check {
        id: "ingress-nginx-end-of-life",
        title: "No community ingress-nginx controller (end of life March 2026)",
        severity: Severity::Medium,
        ids: ids(
            &[],
            Some("Nginx Ingress Controller End of Life"),
            &["C-0292"],
        ),
        frameworks: &[Nsa],
        eval: Eval::Object {
            kinds: &["Deployment", "DaemonSet", "StatefulSet"],
            check: cluster::nginx_eol,
        },
    },
    // RBAC, per subject.
    Check {
        id: "rbac-exec",
        title: "Few subjects can exec into containers",
        severity: Severity::Medium,
        ids: ids(
            &[],
            Some("Prevent containers from allowing command execution"),
            &["C-0002"],
        ),
        frameworks: &[Nsa],
        eval: Eval::Cluster(rbac::exec),
    },
    Check {
        id: "rbac-cluster-admin",
        title: "The cluster-admin role is bound only where required",
        severity: Severity::High,
        ids: ids(&["5.1.1"], None, &["C-0185"]),
        frameworks: &[Cis],
        eval: Eval::Cluster(rbac::cluster_admin),
    },
    Check {
        id: "rbac-wildcard",
        title: "No roles grant every verb on every resource (administrative roles, wildcards)",
        severity: Severity::High,
        ids: ids(
            &["5.1.3"],
            Some("Administrative Roles"),
            &["C-0035", "C-0187"],
        ),
        frameworks: &[Cis, Nsa],
        eval: Eval::Cluster(rbac::wildcard),
    },
    Check {
        id: "rbac-read-secrets",
        title: "Access to Secrets is minimal",
        severity: Severity::Medium,
        ids: ids(&["5.1.2"], None, &["C-0015", "C-0186"]),
        frameworks: &[Cis],
        eval: Eval::Cluster(rbac::read_secrets),
    },
    Check {
        id: "rbac-create-pods",
        title: "Access to create Pods is minimal",
        severity: Severity::Medium,
        ids: ids(&["5.1.4"], None, &["C-0188"]),
        frameworks: &[Cis],
        eval: Eval::Cluster(rbac::create_pods),
    },
    Check {
        id: "rbac-bind-escalate",
        title: "Bind and escalate on roles are minimal",
        severity: Severity::Medium,
        ids: ids(&["5.1.8"], None, &["C-0191"]),
        frameworks: &[Cis],
        eval: Eval::Cluster(rbac::bind_escalate),
    },
    Check {
        id: "rbac-impersonate",
        title: "Impersonation is minimal",
        severity: Severity::Medium,
        ids: ids(&["5.1.8"], None, &["C-0065", "C-0191"]),
        frameworks: &[Cis],
        eval: Eval::Cluster(rbac::impersonate),
    },
    Check {
        id: "rbac-create-persistent-volumes",
        title: "Access to create PersistentVolumes is minimal",
        severity: Severity::Medium,
        ids: ids(&["5.1.9"], None, &["C-0278"]),
        frameworks: &[Cis],
        eval: Eval::Cluster(rbac::create_pv),
    },
    Check {
        id: "rbac-node-proxy",
        title: "Access to the nodes/proxy subresource is minimal",
        severity: Severity::Medium,
        ids: ids(&["5.1.10"], None, &["C-0279"]),
        frameworks: &[Cis],
        eval: Eval::Cluster(rbac::node_proxy),
    },
    Check {
        id: "rbac-approve-csr",
        title: "Access to approve CertificateSigningRequests is minimal",
        severity: Severity::Medium,
        ids: ids(&["5.1.11"], None, &["C-0280"]),
        frameworks: &[Cis],
        eval: Eval::Cluster(rbac::approve_csr),
    },
    Check {
        id: "rbac-admission-webhooks",
        title: "Access to admission webhook configurations is minimal",
        severity: Severity::Medium,
        ids: ids(&["5.1.12"], None, &["C-0281"]),
        frameworks: &[Cis],
        eval: Eval::Cluster(rbac::admission_webhooks),
    },
    Check {
        id: "rbac-create-tokens",
        title: "Access to create service account tokens is minimal",
        severity: Severity::Medium,
        ids: ids(&["5.1.13"], None, &["C-0282"]),
        frameworks: &[Cis],
        eval: Eval::Cluster(rbac::token_create),
    },
];

/// Every check: [`CHECKS`], then one per Pod Security check (baseline checks in both Pod
/// Security frameworks, restricted checks in the restricted one).
pub fn checks() -> Vec<Check> {
    let mut all = CHECKS.to_vec();
    for p in pss::CHECKS {
        let (severity, frameworks): (Severity, &'static [Framework]) = match p.level {
            Level::Restricted => (Severity::Medium, &[PssRestricted]),
            _ => (Severity::High, &[PssBaseline, PssRestricted]),
        };
        all.push(Check {
            id: p.id,
            title: p.title,
            severity,
            ids: Ids {
                pss: Some(p.check),
                ..Ids::default()
            },
            frameworks,
            eval: Eval::PodSecurity {
                level: p.level,
                check: p.check,
            },
        });
    }
    all
}

/// The check with this id.
pub fn find(id: &str) -> Option<Check> {
    checks().into_iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn check_ids_are_unique_and_annotation_safe() {
        let all = super::checks();
        let ids: HashSet<&str> = all.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), all.len());
        for id in ids {
            // The name part of `exception.audit.rampart.dev/<id>`.
            assert!(id.len() <= 63, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{id}"
            );
        }
    }
}
