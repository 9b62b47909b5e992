//! Every check `rampart audit` runs, with the ids of every framework it answers. CIS numbers
//! are kube-bench's (CIS Kubernetes Benchmark v1.12); kubescape ids name the controls whose
//! rule the check implements; severities follow kubescape's base scores.

use rampart_policy::pss::Level;

use crate::check::{Check, Eval, Framework, Ids, Severity};
use crate::checks::{cluster, credentials, policies, rbac, workload};
use crate::pss;

use Framework::{Cis, Nsa, Policies, PssBaseline, PssRestricted};

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
            &["C-0012", "C-0259"],
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
            &["C-0049", "C-0054", "C-0206"],
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
            &[
                "C-0193", "C-0194", "C-0195", "C-0196", "C-0199", "C-0202", "C-0203", "C-0204",
            ],
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
        ids: ids(&["5.6.4"], None, &["C-0061", "C-0212"]),
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
    // The control plane's flags.
    Check {
        id: "apiserver-anonymous-auth",
        title: "The API server refuses anonymous requests (--anonymous-auth=false)",
        severity: Severity::High,
        ids: ids(&["1.2.1"], None, &["C-0113"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_ANONYMOUS_AUTH),
    },
    Check {
        id: "apiserver-token-auth-file",
        title: "The API server reads no static token file",
        severity: Severity::High,
        ids: ids(&["1.2.2"], None, &["C-0114"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_TOKEN_AUTH_FILE),
    },
    Check {
        id: "apiserver-deny-service-external-ips",
        title: "The DenyServiceExternalIPs admission plugin is enabled",
        severity: Severity::Medium,
        ids: ids(&["1.2.3"], None, &["C-0283"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_DENY_SERVICE_EXTERNAL_IPS),
    },
    Check {
        id: "apiserver-kubelet-client-cert",
        title: "The API server authenticates to kubelets with a client certificate",
        severity: Severity::High,
        ids: ids(&["1.2.4"], None, &["C-0116"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_KUBELET_CLIENT_CERT),
    },
    Check {
        id: "apiserver-kubelet-ca",
        title: "The API server verifies kubelets' certificates",
        severity: Severity::High,
        ids: ids(&["1.2.5"], None, &["C-0117"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_KUBELET_CA),
    },
    Check {
        id: "apiserver-authz-not-always-allow",
        title: "The API server's authorization mode is not AlwaysAllow",
        severity: Severity::Critical,
        ids: ids(&["1.2.6"], None, &["C-0118"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_AUTHZ_NOT_ALWAYS_ALLOW),
    },
    Check {
        id: "apiserver-authz-node",
        title: "The API server's authorization modes include Node",
        severity: Severity::Medium,
        ids: ids(&["1.2.7"], None, &["C-0119"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_AUTHZ_NODE),
    },
    Check {
        id: "apiserver-authz-rbac",
        title: "The API server's authorization modes include RBAC",
        severity: Severity::High,
        ids: ids(&["1.2.8"], None, &["C-0120"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_AUTHZ_RBAC),
    },
    Check {
        id: "apiserver-event-rate-limit",
        title: "The EventRateLimit admission plugin is enabled",
        severity: Severity::Low,
        ids: ids(&["1.2.9"], None, &["C-0121"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_EVENT_RATE_LIMIT),
    },
    Check {
        id: "apiserver-no-always-admit",
        title: "The AlwaysAdmit admission plugin is not enabled",
        severity: Severity::High,
        ids: ids(&["1.2.10"], None, &["C-0122"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_NO_ALWAYS_ADMIT),
    },
    Check {
        id: "apiserver-always-pull-images",
        title: "The AlwaysPullImages admission plugin is enabled",
        severity: Severity::Medium,
        ids: ids(&["1.2.11"], None, &["C-0123"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_ALWAYS_PULL_IMAGES),
    },
    Check {
        id: "apiserver-service-account-plugin",
        title: "The ServiceAccount admission plugin is not disabled",
        severity: Severity::Medium,
        ids: ids(&["1.2.12"], None, &["C-0125"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_SERVICE_ACCOUNT_PLUGIN),
    },
    Check {
        id: "apiserver-namespace-lifecycle-plugin",
        title: "The NamespaceLifecycle admission plugin is not disabled",
        severity: Severity::Medium,
        ids: ids(&["1.2.13"], None, &["C-0126"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_NAMESPACE_LIFECYCLE_PLUGIN),
    },
    Check {
        id: "apiserver-node-restriction",
        title: "The NodeRestriction admission plugin is enabled",
        severity: Severity::Medium,
        ids: ids(&["1.2.14"], None, &["C-0127"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_NODE_RESTRICTION),
    },
    Check {
        id: "apiserver-profiling",
        title: "The API server's profiling is off",
        severity: Severity::Low,
        ids: ids(&["1.2.15"], None, &["C-0129"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_PROFILING),
    },
    Check {
        id: "apiserver-audit-log-path",
        title: "The API server writes an audit log",
        severity: Severity::Medium,
        ids: ids(&["1.2.16"], None, &["C-0130"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_AUDIT_LOG_PATH),
    },
    Check {
        id: "apiserver-audit-log-maxage",
        title: "Audit logs are kept at least 30 days",
        severity: Severity::Low,
        ids: ids(&["1.2.17"], None, &["C-0131"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_AUDIT_LOG_MAXAGE),
    },
    Check {
        id: "apiserver-audit-log-maxbackup",
        title: "Audit log backups: 10 or as appropriate (review)",
        severity: Severity::Low,
        ids: ids(&["1.2.18"], None, &["C-0132"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_AUDIT_LOG_MAXBACKUP),
    },
    Check {
        id: "apiserver-audit-log-maxsize",
        title: "Audit log size: 100 MB or as appropriate (review)",
        severity: Severity::Low,
        ids: ids(&["1.2.19"], None, &["C-0133"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_AUDIT_LOG_MAXSIZE),
    },
    Check {
        id: "apiserver-request-timeout",
        title: "The request timeout is appropriate (review)",
        severity: Severity::Low,
        ids: ids(&["1.2.20"], None, &["C-0134"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_REQUEST_TIMEOUT),
    },
    Check {
        id: "apiserver-service-account-lookup",
        title: "The API server checks that service account tokens still exist",
        severity: Severity::Medium,
        ids: ids(&["1.2.21"], None, &["C-0135"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_SERVICE_ACCOUNT_LOOKUP),
    },
    Check {
        id: "apiserver-service-account-key",
        title: "The API server verifies service account tokens with a key file",
        severity: Severity::Medium,
        ids: ids(&["1.2.22"], None, &["C-0136"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_SERVICE_ACCOUNT_KEY),
    },
    Check {
        id: "apiserver-etcd-client-cert",
        title: "The API server authenticates to etcd with a client certificate",
        severity: Severity::High,
        ids: ids(&["1.2.23"], None, &["C-0137"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_ETCD_CLIENT_CERT),
    },
    Check {
        id: "apiserver-tls",
        title: "The API server serves TLS with its own certificate",
        severity: Severity::High,
        ids: ids(&["1.2.24"], None, &["C-0138"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_TLS),
    },
    Check {
        id: "apiserver-client-ca",
        title: "The API server verifies client certificates",
        severity: Severity::High,
        ids: ids(&["1.2.25"], None, &["C-0139"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_CLIENT_CA),
    },
    Check {
        id: "apiserver-etcd-ca",
        title: "The API server verifies etcd's certificate",
        severity: Severity::High,
        ids: ids(&["1.2.26"], None, &["C-0140"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_ETCD_CA),
    },
    Check {
        id: "apiserver-strong-ciphers",
        title: "The API server offers only strong TLS cipher suites",
        severity: Severity::Medium,
        ids: ids(&["1.2.29"], None, &["C-0277"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_STRONG_CIPHERS),
    },
    Check {
        id: "apiserver-token-expiration-extension",
        title: "Service account token expiration is not extended",
        severity: Severity::Medium,
        ids: ids(&["1.2.30"], None, &["C-0290"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::APISERVER_TOKEN_EXPIRATION_EXTENSION),
    },
    Check {
        id: "controller-manager-gc-threshold",
        title: "Terminated pod garbage collection threshold (review)",
        severity: Severity::Low,
        ids: ids(&["1.3.1"], None, &["C-0144"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::CONTROLLER_MANAGER_GC_THRESHOLD),
    },
    Check {
        id: "controller-manager-profiling",
        title: "The controller manager's profiling is off",
        severity: Severity::Low,
        ids: ids(&["1.3.2"], None, &["C-0145"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::CONTROLLER_MANAGER_PROFILING),
    },
    Check {
        id: "controller-manager-service-account-credentials",
        title: "Controllers run with their own service account credentials",
        severity: Severity::Medium,
        ids: ids(&["1.3.3"], None, &["C-0146"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::CONTROLLER_MANAGER_SERVICE_ACCOUNT_CREDENTIALS),
    },
    Check {
        id: "controller-manager-service-account-key",
        title: "The controller manager signs tokens with a private key file",
        severity: Severity::Medium,
        ids: ids(&["1.3.4"], None, &["C-0147"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::CONTROLLER_MANAGER_SERVICE_ACCOUNT_KEY),
    },
    Check {
        id: "controller-manager-root-ca",
        title: "The controller manager puts the cluster CA in service account token volumes",
        severity: Severity::Medium,
        ids: ids(&["1.3.5"], None, &["C-0148"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::CONTROLLER_MANAGER_ROOT_CA),
    },
    Check {
        id: "controller-manager-bind-address",
        title: "The controller manager listens on localhost only",
        severity: Severity::Medium,
        ids: ids(&["1.3.7"], None, &["C-0150"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::CONTROLLER_MANAGER_BIND_ADDRESS),
    },
    Check {
        id: "scheduler-profiling",
        title: "The scheduler's profiling is off",
        severity: Severity::Low,
        ids: ids(&["1.4.1"], None, &["C-0151"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::SCHEDULER_PROFILING),
    },
    Check {
        id: "scheduler-bind-address",
        title: "The scheduler listens on localhost only",
        severity: Severity::Medium,
        ids: ids(&["1.4.2"], None, &["C-0152"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::SCHEDULER_BIND_ADDRESS),
    },
    Check {
        id: "etcd-tls",
        title: "etcd serves TLS with its own certificate",
        severity: Severity::High,
        ids: ids(&["2.1"], None, &["C-0153"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::ETCD_TLS),
    },
    Check {
        id: "etcd-client-cert-auth",
        title: "etcd requires client certificates",
        severity: Severity::High,
        ids: ids(&["2.2"], None, &["C-0154"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::ETCD_CLIENT_CERT_AUTH),
    },
    Check {
        id: "etcd-no-auto-tls",
        title: "etcd does not use self-signed certificates for clients",
        severity: Severity::Medium,
        ids: ids(&["2.3"], None, &["C-0155"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::ETCD_NO_AUTO_TLS),
    },
    Check {
        id: "etcd-peer-tls",
        title: "etcd peers talk TLS with their own certificates",
        severity: Severity::High,
        ids: ids(&["2.4"], None, &["C-0156"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::ETCD_PEER_TLS),
    },
    Check {
        id: "etcd-peer-client-cert-auth",
        title: "etcd requires peer client certificates",
        severity: Severity::High,
        ids: ids(&["2.5"], None, &["C-0157"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::ETCD_PEER_CLIENT_CERT_AUTH),
    },
    Check {
        id: "etcd-no-peer-auto-tls",
        title: "etcd does not use self-signed certificates for peers",
        severity: Severity::Medium,
        ids: ids(&["2.6"], None, &["C-0158"]),
        frameworks: &[Cis],
        eval: Eval::Flag(&flag_rules::ETCD_NO_PEER_AUTO_TLS),
    },
    // The cluster's own policies.
    Check {
        id: "security-policies",
        title: "Existing objects meet the cluster's SecurityPolicies and ClusterSecurityPolicies",
        severity: Severity::High,
        ids: ids(&[], None, &[]),
        frameworks: &[Policies],
        eval: Eval::Cluster(policies::security_policies),
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

/// Control-plane flag rules, one per check (CIS §1.2–§1.4 and etcd's §2).
pub mod flag_rules {
    use crate::checks::flags::{self, Component, FlagRule, Want};

    /// `--anonymous-auth` of ApiServer.
    pub const APISERVER_ANONYMOUS_AUTH: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--anonymous-auth",
        want: Want::NotNorDefault("true"),
        fix: "false",
    };
    /// `--token-auth-file` of ApiServer.
    pub const APISERVER_TOKEN_AUTH_FILE: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--token-auth-file",
        want: Want::Unset,
        fix: "",
    };
    /// `--enable-admission-plugins` of ApiServer.
    pub const APISERVER_DENY_SERVICE_EXTERNAL_IPS: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--enable-admission-plugins",
        want: Want::ContainsIfSet("DenyServiceExternalIPs"),
        fix: "",
    };
    /// `--kubelet-client-certificate` of ApiServer.
    pub const APISERVER_KUBELET_CLIENT_CERT: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--kubelet-client-certificate",
        want: Want::AllSet(&["--kubelet-client-certificate", "--kubelet-client-key"]),
        fix: "<path/to/file>",
    };
    /// `--kubelet-certificate-authority` of ApiServer.
    pub const APISERVER_KUBELET_CA: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--kubelet-certificate-authority",
        want: Want::Set,
        fix: "<path/to/ca.crt>",
    };
    /// `--authorization-mode` of ApiServer.
    pub const APISERVER_AUTHZ_NOT_ALWAYS_ALLOW: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--authorization-mode",
        want: Want::Lacks("AlwaysAllow"),
        fix: "",
    };
    /// `--authorization-mode` of ApiServer.
    pub const APISERVER_AUTHZ_NODE: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--authorization-mode",
        want: Want::Contains("Node"),
        fix: "Node",
    };
    /// `--authorization-mode` of ApiServer.
    pub const APISERVER_AUTHZ_RBAC: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--authorization-mode",
        want: Want::Contains("RBAC"),
        fix: "RBAC",
    };
    /// `--enable-admission-plugins` of ApiServer.
    pub const APISERVER_EVENT_RATE_LIMIT: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--enable-admission-plugins",
        want: Want::Contains("EventRateLimit"),
        fix: "EventRateLimit",
    };
    /// `--enable-admission-plugins` of ApiServer.
    pub const APISERVER_NO_ALWAYS_ADMIT: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--enable-admission-plugins",
        want: Want::Lacks("AlwaysAdmit"),
        fix: "",
    };
    /// `--enable-admission-plugins` of ApiServer.
    pub const APISERVER_ALWAYS_PULL_IMAGES: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--enable-admission-plugins",
        want: Want::Contains("AlwaysPullImages"),
        fix: "AlwaysPullImages",
    };
    /// `--disable-admission-plugins` of ApiServer.
    pub const APISERVER_SERVICE_ACCOUNT_PLUGIN: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--disable-admission-plugins",
        want: Want::Lacks("ServiceAccount"),
        fix: "",
    };
    /// `--disable-admission-plugins` of ApiServer.
    pub const APISERVER_NAMESPACE_LIFECYCLE_PLUGIN: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--disable-admission-plugins",
        want: Want::Lacks("NamespaceLifecycle"),
        fix: "",
    };
    /// `--enable-admission-plugins` of ApiServer.
    pub const APISERVER_NODE_RESTRICTION: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--enable-admission-plugins",
        want: Want::Contains("NodeRestriction"),
        fix: "NodeRestriction",
    };
    /// `--profiling` of ApiServer.
    pub const APISERVER_PROFILING: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--profiling",
        want: Want::NotNorDefault("true"),
        fix: "false",
    };
    /// `--audit-log-path` of ApiServer.
    pub const APISERVER_AUDIT_LOG_PATH: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--audit-log-path",
        want: Want::Set,
        fix: "/var/log/apiserver/audit.log",
    };
    /// `--audit-log-maxage` of ApiServer.
    pub const APISERVER_AUDIT_LOG_MAXAGE: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--audit-log-maxage",
        want: Want::AtLeast(30.0),
        fix: "30",
    };
    /// `--audit-log-maxbackup` of ApiServer.
    pub const APISERVER_AUDIT_LOG_MAXBACKUP: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--audit-log-maxbackup",
        want: Want::Review,
        fix: "10",
    };
    /// `--audit-log-maxsize` of ApiServer.
    pub const APISERVER_AUDIT_LOG_MAXSIZE: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--audit-log-maxsize",
        want: Want::Review,
        fix: "100",
    };
    /// `--request-timeout` of ApiServer.
    pub const APISERVER_REQUEST_TIMEOUT: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--request-timeout",
        want: Want::ReviewIfSet,
        fix: "",
    };
    /// `--service-account-lookup` of ApiServer.
    pub const APISERVER_SERVICE_ACCOUNT_LOOKUP: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--service-account-lookup",
        want: Want::Not("false"),
        fix: "true",
    };
    /// `--service-account-key-file` of ApiServer.
    pub const APISERVER_SERVICE_ACCOUNT_KEY: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--service-account-key-file",
        want: Want::Set,
        fix: "<path/to/key.pub>",
    };
    /// `--etcd-certfile` of ApiServer.
    pub const APISERVER_ETCD_CLIENT_CERT: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--etcd-certfile",
        want: Want::AllSet(&["--etcd-certfile", "--etcd-keyfile"]),
        fix: "<path/to/file>",
    };
    /// `--tls-cert-file` of ApiServer.
    pub const APISERVER_TLS: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--tls-cert-file",
        want: Want::AllSet(&["--tls-cert-file", "--tls-private-key-file"]),
        fix: "<path/to/file>",
    };
    /// `--client-ca-file` of ApiServer.
    pub const APISERVER_CLIENT_CA: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--client-ca-file",
        want: Want::Set,
        fix: "<path/to/client-ca.crt>",
    };
    /// `--etcd-cafile` of ApiServer.
    pub const APISERVER_ETCD_CA: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--etcd-cafile",
        want: Want::Set,
        fix: "<path/to/ca.crt>",
    };
    /// `--tls-cipher-suites` of ApiServer.
    pub const APISERVER_STRONG_CIPHERS: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--tls-cipher-suites",
        want: Want::NoneOf(flags::WEAK_CIPHERS),
        fix: "",
    };
    /// `--service-account-extend-token-expiration` of ApiServer.
    pub const APISERVER_TOKEN_EXPIRATION_EXTENSION: FlagRule = FlagRule {
        component: Component::ApiServer,
        flag: "--service-account-extend-token-expiration",
        want: Want::NotNorDefault("true"),
        fix: "false",
    };
    /// `--terminated-pod-gc-threshold` of ControllerManager.
    pub const CONTROLLER_MANAGER_GC_THRESHOLD: FlagRule = FlagRule {
        component: Component::ControllerManager,
        flag: "--terminated-pod-gc-threshold",
        want: Want::Review,
        fix: "10",
    };
    /// `--profiling` of ControllerManager.
    pub const CONTROLLER_MANAGER_PROFILING: FlagRule = FlagRule {
        component: Component::ControllerManager,
        flag: "--profiling",
        want: Want::NotNorDefault("true"),
        fix: "false",
    };
    /// `--use-service-account-credentials` of ControllerManager.
    pub const CONTROLLER_MANAGER_SERVICE_ACCOUNT_CREDENTIALS: FlagRule = FlagRule {
        component: Component::ControllerManager,
        flag: "--use-service-account-credentials",
        want: Want::NotNorDefault("false"),
        fix: "true",
    };
    /// `--service-account-private-key-file` of ControllerManager.
    pub const CONTROLLER_MANAGER_SERVICE_ACCOUNT_KEY: FlagRule = FlagRule {
        component: Component::ControllerManager,
        flag: "--service-account-private-key-file",
        want: Want::Set,
        fix: "<path/to/key.pem>",
    };
    /// `--root-ca-file` of ControllerManager.
    pub const CONTROLLER_MANAGER_ROOT_CA: FlagRule = FlagRule {
        component: Component::ControllerManager,
        flag: "--root-ca-file",
        want: Want::Set,
        fix: "<path/to/ca.crt>",
    };
    /// `--bind-address` of ControllerManager.
    pub const CONTROLLER_MANAGER_BIND_ADDRESS: FlagRule = FlagRule {
        component: Component::ControllerManager,
        flag: "--bind-address",
        want: Want::Is("127.0.0.1"),
        fix: "127.0.0.1",
    };
    /// `--profiling` of Scheduler.
    pub const SCHEDULER_PROFILING: FlagRule = FlagRule {
        component: Component::Scheduler,
        flag: "--profiling",
        want: Want::NotNorDefault("true"),
        fix: "false",
    };
    /// `--bind-address` of Scheduler.
    pub const SCHEDULER_BIND_ADDRESS: FlagRule = FlagRule {
        component: Component::Scheduler,
        flag: "--bind-address",
        want: Want::Is("127.0.0.1"),
        fix: "127.0.0.1",
    };
    /// `--cert-file` of Etcd.
    pub const ETCD_TLS: FlagRule = FlagRule {
        component: Component::Etcd,
        flag: "--cert-file",
        want: Want::AllSet(&["--cert-file", "--key-file"]),
        fix: "<path/to/file>",
    };
    /// `--client-cert-auth` of Etcd.
    pub const ETCD_CLIENT_CERT_AUTH: FlagRule = FlagRule {
        component: Component::Etcd,
        flag: "--client-cert-auth",
        want: Want::NotNorDefault("false"),
        fix: "true",
    };
    /// `--auto-tls` of Etcd.
    pub const ETCD_NO_AUTO_TLS: FlagRule = FlagRule {
        component: Component::Etcd,
        flag: "--auto-tls",
        want: Want::Not("true"),
        fix: "false",
    };
    /// `--peer-cert-file` of Etcd.
    pub const ETCD_PEER_TLS: FlagRule = FlagRule {
        component: Component::Etcd,
        flag: "--peer-cert-file",
        want: Want::AllSet(&["--peer-cert-file", "--peer-key-file"]),
        fix: "<path/to/file>",
    };
    /// `--peer-client-cert-auth` of Etcd.
    pub const ETCD_PEER_CLIENT_CERT_AUTH: FlagRule = FlagRule {
        component: Component::Etcd,
        flag: "--peer-client-cert-auth",
        want: Want::NotNorDefault("false"),
        fix: "true",
    };
    /// `--peer-auto-tls` of Etcd.
    pub const ETCD_NO_PEER_AUTO_TLS: FlagRule = FlagRule {
        component: Component::Etcd,
        flag: "--peer-auto-tls",
        want: Want::Not("true"),
        fix: "false",
    };
}

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
