//! Lean Kubernetes object types: only the fields rampart reads. Unknown fields are skipped while
//! parsing (never stored), which is also how Secret values are kept out of memory.

use crate::Labels;

use serde::Deserialize;

use crate::de::{IntOrString, null_default};
use crate::meta::ObjectMeta;
use crate::selector::LabelSelector;

mod admin;
mod cilium;
mod mesh;

pub use admin::{
    AdminNetworkPolicy, AdminNetworkPolicySpec, AdminPeer, AdminPort, AdminPortNumber,
    AdminPortRange, AdminRule, AdminSubject, NamespacedPods,
};
pub use cilium::{
    CidrRule, CiliumEgress, CiliumIngress, CiliumNetworkPolicy, CiliumPort, CiliumPortRule,
    CiliumRule, CiliumService, DefaultDeny, FqdnSelector, ServiceName,
};
pub use mesh::{
    IstioAuthorizationPolicy, IstioAuthorizationSpec, IstioCondition, IstioFrom, IstioOperation,
    IstioRule, IstioSource, IstioTo, LinkerdAuthorizationPolicy, LinkerdAuthorizationSpec,
    LinkerdClient, LinkerdNetwork, LinkerdServer, LinkerdServerSpec, MeshPolicy,
    MeshTlsAuthentication, MeshTlsAuthenticationSpec, MeshTlsClients, MtlsMode,
    NetworkAuthentication, NetworkAuthenticationSpec, PeerAuthentication, PeerAuthenticationSpec,
    PolicyRef, ServerAuthorization, ServerAuthorizationSpec, ServerRef, ServiceAccountRef,
    WorkloadSelector,
};

/// The kinds rampart models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Kind {
    /// core/v1 Namespace
    Namespace,
    /// core/v1 Node
    Node,
    /// core/v1 Pod
    Pod,
    /// apps/v1 Deployment
    Deployment,
    /// apps/v1 ReplicaSet
    ReplicaSet,
    /// apps/v1 StatefulSet
    StatefulSet,
    /// apps/v1 DaemonSet
    DaemonSet,
    /// batch/v1 Job
    Job,
    /// batch/v1 CronJob
    CronJob,
    /// core/v1 ReplicationController
    ReplicationController,
    /// core/v1 Service
    Service,
    /// networking.k8s.io/v1 Ingress
    Ingress,
    /// route.openshift.io/v1 Route
    Route,
    /// core/v1 ServiceAccount
    ServiceAccount,
    /// core/v1 Secret (metadata only)
    Secret,
    /// rbac.authorization.k8s.io/v1 Role
    Role,
    /// rbac.authorization.k8s.io/v1 ClusterRole
    ClusterRole,
    /// rbac.authorization.k8s.io/v1 RoleBinding
    RoleBinding,
    /// rbac.authorization.k8s.io/v1 ClusterRoleBinding
    ClusterRoleBinding,
    /// networking.k8s.io/v1 NetworkPolicy
    NetworkPolicy,
    /// policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy
    AdminNetworkPolicy,
    /// policy.networking.k8s.io/v1alpha1 BaselineAdminNetworkPolicy
    BaselineAdminNetworkPolicy,
    /// cilium.io/v2 CiliumNetworkPolicy
    CiliumNetworkPolicy,
    /// cilium.io/v2 CiliumClusterwideNetworkPolicy
    CiliumClusterwideNetworkPolicy,
    /// security.istio.io AuthorizationPolicy
    IstioAuthorizationPolicy,
    /// security.istio.io PeerAuthentication
    PeerAuthentication,
    /// policy.linkerd.io Server
    LinkerdServer,
    /// policy.linkerd.io ServerAuthorization
    ServerAuthorization,
    /// policy.linkerd.io AuthorizationPolicy
    LinkerdAuthorizationPolicy,
    /// policy.linkerd.io MeshTLSAuthentication
    MeshTlsAuthentication,
    /// policy.linkerd.io NetworkAuthentication
    NetworkAuthentication,
}

impl Kind {
    /// The Kubernetes kind name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Node => "Node",
            Kind::Pod => "Pod",
            Kind::Deployment => "Deployment",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
            Kind::ReplicationController => "ReplicationController",
            Kind::Service => "Service",
            Kind::Ingress => "Ingress",
            Kind::Route => "Route",
            Kind::ServiceAccount => "ServiceAccount",
            Kind::Secret => "Secret",
            Kind::Role => "Role",
            Kind::ClusterRole => "ClusterRole",
            Kind::RoleBinding => "RoleBinding",
            Kind::ClusterRoleBinding => "ClusterRoleBinding",
            Kind::NetworkPolicy => "NetworkPolicy",
            Kind::AdminNetworkPolicy => "AdminNetworkPolicy",
            Kind::BaselineAdminNetworkPolicy => "BaselineAdminNetworkPolicy",
            Kind::CiliumNetworkPolicy => "CiliumNetworkPolicy",
            Kind::CiliumClusterwideNetworkPolicy => "CiliumClusterwideNetworkPolicy",
            Kind::IstioAuthorizationPolicy => "AuthorizationPolicy",
            Kind::PeerAuthentication => "PeerAuthentication",
            // Linkerd's kinds, qualified where Istio has one of the same name (kubectl's form).
            Kind::LinkerdServer => "Server",
            Kind::ServerAuthorization => "ServerAuthorization",
            Kind::LinkerdAuthorizationPolicy => "AuthorizationPolicy.policy.linkerd.io",
            Kind::MeshTlsAuthentication => "MeshTLSAuthentication",
            Kind::NetworkAuthentication => "NetworkAuthentication",
        }
    }

    /// Whether the network model reads objects of this kind (besides the workloads): the
    /// namespaces and every policy that decides who reaches whom — NetworkPolicies, the admin
    /// policies, Cilium's and the meshes'.
    pub fn shapes_network(self) -> bool {
        matches!(
            self,
            Kind::Namespace
                | Kind::NetworkPolicy
                | Kind::AdminNetworkPolicy
                | Kind::BaselineAdminNetworkPolicy
                | Kind::CiliumNetworkPolicy
                | Kind::CiliumClusterwideNetworkPolicy
                | Kind::IstioAuthorizationPolicy
                | Kind::PeerAuthentication
                | Kind::LinkerdServer
                | Kind::ServerAuthorization
                | Kind::LinkerdAuthorizationPolicy
                | Kind::MeshTlsAuthentication
                | Kind::NetworkAuthentication
        )
    }

    /// Whether objects of this kind live in a namespace.
    pub fn is_namespaced(self) -> bool {
        !matches!(
            self,
            Kind::Namespace
                | Kind::Node
                | Kind::ClusterRole
                | Kind::ClusterRoleBinding
                | Kind::AdminNetworkPolicy
                | Kind::BaselineAdminNetworkPolicy
                | Kind::CiliumClusterwideNetworkPolicy
        )
    }

    /// Recognises a kind from `apiVersion` + `kind`. Same-named kinds of other API groups
    /// (Calico's `NetworkPolicy`, Knative's `Service`) are not ours and yield `None`.
    pub fn from_type(api_version: &str, kind: &str) -> Option<Kind> {
        let group = match api_version.rsplit_once('/') {
            Some((g, _)) => g,
            None => "",
        };
        let k = match (group, kind) {
            ("", "Namespace") => Kind::Namespace,
            ("", "Node") => Kind::Node,
            ("", "Pod") => Kind::Pod,
            ("", "Service") => Kind::Service,
            ("", "ServiceAccount") => Kind::ServiceAccount,
            ("", "Secret") => Kind::Secret,
            ("", "ReplicationController") => Kind::ReplicationController,
            ("apps" | "extensions", "Deployment") => Kind::Deployment,
            ("apps" | "extensions", "ReplicaSet") => Kind::ReplicaSet,
            ("apps", "StatefulSet") => Kind::StatefulSet,
            ("apps" | "extensions", "DaemonSet") => Kind::DaemonSet,
            ("batch", "Job") => Kind::Job,
            ("batch", "CronJob") => Kind::CronJob,
            ("networking.k8s.io" | "extensions", "Ingress") => Kind::Ingress,
            ("networking.k8s.io" | "extensions", "NetworkPolicy") => Kind::NetworkPolicy,
            ("policy.networking.k8s.io", "AdminNetworkPolicy") => Kind::AdminNetworkPolicy,
            ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy") => {
                Kind::BaselineAdminNetworkPolicy
            }
            ("cilium.io", "CiliumNetworkPolicy") => Kind::CiliumNetworkPolicy,
            ("cilium.io", "CiliumClusterwideNetworkPolicy") => Kind::CiliumClusterwideNetworkPolicy,
            ("security.istio.io", "AuthorizationPolicy") => Kind::IstioAuthorizationPolicy,
            ("security.istio.io", "PeerAuthentication") => Kind::PeerAuthentication,
            ("policy.linkerd.io", "Server") => Kind::LinkerdServer,
            ("policy.linkerd.io", "ServerAuthorization") => Kind::ServerAuthorization,
            ("policy.linkerd.io", "AuthorizationPolicy") => Kind::LinkerdAuthorizationPolicy,
            ("policy.linkerd.io", "MeshTLSAuthentication") => Kind::MeshTlsAuthentication,
            ("policy.linkerd.io", "NetworkAuthentication") => Kind::NetworkAuthentication,
            ("route.openshift.io", "Route") => Kind::Route,
            ("rbac.authorization.k8s.io", "Role") => Kind::Role,
            ("rbac.authorization.k8s.io", "ClusterRole") => Kind::ClusterRole,
            ("rbac.authorization.k8s.io", "RoleBinding") => Kind::RoleBinding,
            ("rbac.authorization.k8s.io", "ClusterRoleBinding") => Kind::ClusterRoleBinding,
            _ => return None,
        };
        Some(k)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One parsed object. Every kind is boxed: a snapshot holds tens of thousands, and inline the
/// enum would be as large as its largest kind for each of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    /// A Namespace.
    Namespace(Box<Namespace>),
    /// A Node.
    Node(Box<Node>),
    /// A Pod.
    Pod(Box<Pod>),
    /// A pod controller (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
    /// ReplicationController).
    Controller(Box<Controller>),
    /// A Service.
    Service(Box<Service>),
    /// An Ingress.
    Ingress(Box<Ingress>),
    /// An OpenShift Route.
    Route(Box<Route>),
    /// A ServiceAccount.
    ServiceAccount(Box<ServiceAccount>),
    /// A Secret, metadata only.
    Secret(Box<Secret>),
    /// A Role or ClusterRole.
    Role(Box<Role>),
    /// A RoleBinding or ClusterRoleBinding.
    Binding(Box<Binding>),
    /// A NetworkPolicy.
    NetworkPolicy(Box<NetworkPolicy>),
    /// An AdminNetworkPolicy or BaselineAdminNetworkPolicy.
    AdminNetworkPolicy(Box<AdminNetworkPolicy>),
    /// A CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy.
    CiliumNetworkPolicy(Box<CiliumNetworkPolicy>),
    /// A service mesh's authorization object (Istio, Linkerd).
    Mesh(Box<MeshPolicy>),
}

impl Object {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Namespace(_) => Kind::Namespace,
            Object::Node(_) => Kind::Node,
            Object::Pod(_) => Kind::Pod,
            Object::Controller(c) => c.kind,
            Object::Service(_) => Kind::Service,
            Object::Ingress(_) => Kind::Ingress,
            Object::Route(_) => Kind::Route,
            Object::ServiceAccount(_) => Kind::ServiceAccount,
            Object::Secret(_) => Kind::Secret,
            Object::Role(r) => {
                if r.cluster {
                    Kind::ClusterRole
                } else {
                    Kind::Role
                }
            }
            Object::Binding(b) => {
                if b.cluster {
                    Kind::ClusterRoleBinding
                } else {
                    Kind::RoleBinding
                }
            }
            Object::NetworkPolicy(_) => Kind::NetworkPolicy,
            Object::AdminNetworkPolicy(p) => {
                if p.baseline {
                    Kind::BaselineAdminNetworkPolicy
                } else {
                    Kind::AdminNetworkPolicy
                }
            }
            Object::CiliumNetworkPolicy(p) => {
                if p.clusterwide {
                    Kind::CiliumClusterwideNetworkPolicy
                } else {
                    Kind::CiliumNetworkPolicy
                }
            }
            Object::Mesh(m) => match **m {
                MeshPolicy::IstioAuthorization(_) => Kind::IstioAuthorizationPolicy,
                MeshPolicy::PeerAuthentication(_) => Kind::PeerAuthentication,
                MeshPolicy::Server(_) => Kind::LinkerdServer,
                MeshPolicy::ServerAuthorization(_) => Kind::ServerAuthorization,
                MeshPolicy::LinkerdAuthorization(_) => Kind::LinkerdAuthorizationPolicy,
                MeshPolicy::MeshTlsAuthentication(_) => Kind::MeshTlsAuthentication,
                MeshPolicy::NetworkAuthentication(_) => Kind::NetworkAuthentication,
            },
        }
    }

    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Object::Namespace(o) => &o.metadata,
            Object::Node(o) => &o.metadata,
            Object::Pod(o) => &o.metadata,
            Object::Controller(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::Ingress(o) => &o.metadata,
            Object::Route(o) => &o.metadata,
            Object::ServiceAccount(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
            Object::Role(o) => &o.metadata,
            Object::Binding(o) => &o.metadata,
            Object::NetworkPolicy(o) => &o.metadata,
            Object::AdminNetworkPolicy(o) => &o.metadata,
            Object::CiliumNetworkPolicy(o) => &o.metadata,
            Object::Mesh(o) => o.meta(),
        }
    }

    /// Mutable metadata (the loader defaults namespaces).
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Object::Namespace(o) => &mut o.metadata,
            Object::Node(o) => &mut o.metadata,
            Object::Pod(o) => &mut o.metadata,
            Object::Controller(o) => &mut o.metadata,
            Object::Service(o) => &mut o.metadata,
            Object::Ingress(o) => &mut o.metadata,
            Object::Route(o) => &mut o.metadata,
            Object::ServiceAccount(o) => &mut o.metadata,
            Object::Secret(o) => &mut o.metadata,
            Object::Role(o) => &mut o.metadata,
            Object::Binding(o) => &mut o.metadata,
            Object::NetworkPolicy(o) => &mut o.metadata,
            Object::AdminNetworkPolicy(o) => &mut o.metadata,
            Object::CiliumNetworkPolicy(o) => &mut o.metadata,
            Object::Mesh(o) => o.meta_mut(),
        }
    }
}

/// A Namespace.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Namespace {
    /// Metadata (labels carry Pod Security levels).
    pub metadata: ObjectMeta,
}

/// A Node.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Node {
    /// Metadata.
    pub metadata: ObjectMeta,
}

/// A Pod.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Pod {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: PodSpec,
    /// The parts of the status the respond layer reads (never the graph: a status change
    /// re-proves nothing).
    pub status: PodStatus,
}

/// Pod status fields rampart reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    pub phase: String,
    /// When the kubelet started the pod (RFC 3339).
    pub start_time: String,
    /// The `Ready` condition, the only one rampart reads: the others (`PodScheduled`,
    /// `ContainersReady`, …) are dropped while parsing, so they cost no memory and their changes
    /// are no changes here.
    #[serde(deserialize_with = "ready_only")]
    pub conditions: Vec<PodCondition>,
    /// Containers' runtime ids (for attributing runtime alerts that name only a container).
    #[serde(deserialize_with = "null_default")]
    pub container_statuses: Vec<ContainerStatus>,
    /// `podIP` (for attributing observed network flows that name only an address).
    #[serde(rename = "podIP", deserialize_with = "null_default")]
    pub pod_ip: String,
    /// `podIPs` (dual-stack pods have one per family).
    #[serde(rename = "podIPs", deserialize_with = "null_default")]
    pub pod_ips: Vec<PodIp>,
}

/// One of a pod's addresses.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PodIp {
    /// The address.
    #[serde(deserialize_with = "null_default")]
    pub ip: String,
}

impl PodStatus {
    /// Every address the status names, `podIP` first, without repeats.
    pub fn addresses(&self) -> impl Iterator<Item = &str> + '_ {
        let first = (!self.pod_ip.is_empty()).then_some(self.pod_ip.as_str());
        first.into_iter().chain(
            self.pod_ips
                .iter()
                .map(|p| p.ip.as_str())
                .filter(move |ip| !ip.is_empty() && Some(*ip) != first),
        )
    }
}

/// One container's status: its runtime id.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerStatus {
    /// `<runtime>://<id>`.
    #[serde(rename = "containerID")]
    pub container_id: String,
}

/// One pod condition.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PodCondition {
    /// `Ready`, `ContainersReady`, `PodScheduled`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False`, `Unknown`.
    pub status: String,
}

fn ready_only<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PodCondition>, D::Error> {
    let mut all: Vec<PodCondition> = null_default(d)?;
    all.retain(|c| c.kind == "Ready");
    all.shrink_to_fit();
    Ok(all)
}

impl Pod {
    /// Whether the pod is Ready (its `Ready` condition is `True`) and not terminating.
    pub fn is_ready(&self) -> bool {
        self.metadata.deletion_timestamp.is_empty()
            && self
                .status
                .conditions
                .iter()
                .any(|c| c.kind == "Ready" && c.status == "True")
    }
}

/// A pod template (`spec.template` of a controller).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct PodTemplate {
    /// Template metadata (labels and annotations of the pods).
    pub metadata: ObjectMeta,
    /// Pod spec.
    pub spec: PodSpec,
}

/// Pod spec fields rampart reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpec {
    /// Containers.
    #[serde(deserialize_with = "null_default")]
    pub containers: Vec<Container>,
    /// Init containers.
    #[serde(deserialize_with = "null_default")]
    pub init_containers: Vec<Container>,
    /// Ephemeral (debug) containers.
    #[serde(deserialize_with = "null_default")]
    pub ephemeral_containers: Vec<Container>,
    /// Volumes.
    #[serde(deserialize_with = "null_default")]
    pub volumes: Vec<Volume>,
    /// `serviceAccountName`.
    pub service_account_name: Option<String>,
    /// Deprecated `serviceAccount` alias.
    pub service_account: Option<String>,
    /// `automountServiceAccountToken`.
    pub automount_service_account_token: Option<bool>,
    /// `hostNetwork`.
    #[serde(deserialize_with = "null_default")]
    pub host_network: bool,
    /// `hostPID`.
    #[serde(rename = "hostPID", deserialize_with = "null_default")]
    pub host_pid: bool,
    /// `hostIPC`.
    #[serde(rename = "hostIPC", deserialize_with = "null_default")]
    pub host_ipc: bool,
    /// `shareProcessNamespace`.
    #[serde(deserialize_with = "null_default")]
    pub share_process_namespace: bool,
    /// `nodeName` (set on scheduled pods).
    pub node_name: Option<String>,
    /// Pod-level security context.
    pub security_context: Option<PodSecurityContext>,
}

impl PodSpec {
    /// The ServiceAccount the pod runs as (`default` when unset).
    pub fn service_account(&self) -> &str {
        self.service_account_name
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.service_account.as_deref().filter(|s| !s.is_empty()))
            .unwrap_or("default")
    }

    /// All containers: init, regular and ephemeral.
    pub fn all_containers(&self) -> impl Iterator<Item = &Container> {
        self.init_containers
            .iter()
            .chain(&self.containers)
            .chain(&self.ephemeral_containers)
    }
}

/// Pod-level security context.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSecurityContext {
    /// `runAsUser`.
    pub run_as_user: Option<i64>,
    /// `runAsNonRoot`.
    pub run_as_non_root: Option<bool>,
}

/// A container.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Container {
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Image reference.
    #[serde(deserialize_with = "null_default")]
    pub image: String,
    /// Declared ports.
    #[serde(deserialize_with = "null_default")]
    pub ports: Vec<ContainerPort>,
    /// Env vars: only `valueFrom.secretKeyRef` is kept (plain `value`s are never stored).
    #[serde(deserialize_with = "null_default")]
    pub env: Vec<EnvVar>,
    /// `envFrom`.
    #[serde(deserialize_with = "null_default")]
    pub env_from: Vec<EnvFromSource>,
    /// Volume mounts.
    #[serde(deserialize_with = "null_default")]
    pub volume_mounts: Vec<VolumeMount>,
    /// Container security context.
    pub security_context: Option<SecurityContext>,
}

/// A container port.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerPort {
    /// Port name (what named ports resolve against).
    pub name: Option<String>,
    /// Port number.
    pub container_port: i64,
    /// Protocol (`TCP` when unset).
    pub protocol: Option<String>,
    /// `hostPort`: exposes the port on the node's address.
    pub host_port: Option<i64>,
}

/// An env var; the literal `value` is deliberately not a field.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvVar {
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// `valueFrom`.
    pub value_from: Option<EnvVarSource>,
}

/// `env[].valueFrom`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvVarSource {
    /// `secretKeyRef`.
    pub secret_key_ref: Option<NameRef>,
}

/// `envFrom[]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvFromSource {
    /// `secretRef`.
    pub secret_ref: Option<NameRef>,
}

/// A reference by name (`secretKeyRef`, `secretRef`, projected `secret`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NameRef {
    /// Referenced object's name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
}

/// A volume mount.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct VolumeMount {
    /// Volume name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Path in the container.
    #[serde(deserialize_with = "null_default")]
    pub mount_path: String,
    /// Read-only.
    #[serde(deserialize_with = "null_default")]
    pub read_only: bool,
}

/// Container security context.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct SecurityContext {
    /// `privileged`.
    pub privileged: Option<bool>,
    /// `allowPrivilegeEscalation`.
    pub allow_privilege_escalation: Option<bool>,
    /// `capabilities`.
    pub capabilities: Option<Capabilities>,
    /// `runAsUser`.
    pub run_as_user: Option<i64>,
    /// `runAsNonRoot`.
    pub run_as_non_root: Option<bool>,
}

/// Capabilities added / dropped.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Capabilities {
    /// Added.
    #[serde(deserialize_with = "null_default")]
    pub add: Vec<String>,
    /// Dropped.
    #[serde(deserialize_with = "null_default")]
    pub drop: Vec<String>,
}

/// A volume (only the sources rampart reasons about).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Volume {
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// `hostPath`.
    pub host_path: Option<HostPathSource>,
    /// `secret`.
    pub secret: Option<SecretVolumeSource>,
    /// `projected`.
    pub projected: Option<ProjectedSource>,
    /// `persistentVolumeClaim`: data that outlives the pod.
    pub persistent_volume_claim: Option<ClaimSource>,
}

/// `persistentVolumeClaim` volume source.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ClaimSource {
    /// The claim's name.
    #[serde(deserialize_with = "null_default")]
    pub claim_name: String,
}

/// `hostPath` volume source.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct HostPathSource {
    /// Path on the node.
    #[serde(deserialize_with = "null_default")]
    pub path: String,
    /// Type (`Socket`, `Directory`, …).
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `secret` volume source.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct SecretVolumeSource {
    /// Secret name.
    #[serde(deserialize_with = "null_default")]
    pub secret_name: String,
}

/// `projected` volume source.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ProjectedSource {
    /// Sources.
    #[serde(deserialize_with = "null_default")]
    pub sources: Vec<ProjectionSource>,
}

/// One projected source.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ProjectionSource {
    /// A secret.
    pub secret: Option<NameRef>,
    /// A service-account token (kept as presence only).
    pub service_account_token: Option<serde::de::IgnoredAny>,
}

/// A pod controller with its template.
#[derive(Debug, Clone, PartialEq)]
pub struct Controller {
    /// Which controller kind.
    pub kind: Kind,
    /// Metadata.
    pub metadata: ObjectMeta,
    /// `spec.replicas` (Deployment, ReplicaSet, StatefulSet, ReplicationController).
    pub replicas: Option<i64>,
    /// The pod template (for CronJob: `spec.jobTemplate.spec.template`).
    pub template: PodTemplate,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ControllerRaw {
    pub metadata: ObjectMeta,
    pub spec: ControllerSpecRaw,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ControllerSpecRaw {
    pub replicas: Option<i64>,
    pub template: Option<PodTemplate>,
    pub job_template: Option<JobTemplateRaw>,
    /// StatefulSet `volumeClaimTemplates` (their names only).
    #[serde(deserialize_with = "null_default")]
    pub volume_claim_templates: Vec<ClaimTemplateRaw>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct ClaimTemplateRaw {
    pub metadata: ObjectMeta,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct JobTemplateRaw {
    pub spec: Box<ControllerSpecRaw>,
}

impl ControllerRaw {
    pub(crate) fn into_controller(self, kind: Kind) -> Controller {
        let ControllerSpecRaw {
            replicas,
            template,
            job_template,
            volume_claim_templates,
        } = self.spec;
        let mut template = template
            .or_else(|| job_template.and_then(|j| j.spec.template))
            .unwrap_or_default();
        // A StatefulSet's pods get a volume per claim template (claim `<template>-<set>-<n>`):
        // the template stands for its pods, so it gets them too.
        if kind == Kind::StatefulSet {
            for t in volume_claim_templates {
                let name = t.metadata.name;
                if name.is_empty() || template.spec.volumes.iter().any(|v| v.name == name) {
                    continue;
                }
                template.spec.volumes.push(Volume {
                    persistent_volume_claim: Some(ClaimSource {
                        claim_name: format!("{name}-{}-0", self.metadata.name),
                    }),
                    name,
                    ..Volume::default()
                });
            }
        }
        Controller {
            kind,
            metadata: self.metadata,
            replicas,
            template,
        }
    }
}

/// A Service.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Service {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: ServiceSpec,
}

/// Service spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceSpec {
    /// `type` (ClusterIP when unset).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Pod selector; `None` means the Service has manually managed endpoints.
    pub selector: Option<Labels>,
    /// Ports.
    #[serde(deserialize_with = "null_default")]
    pub ports: Vec<ServicePort>,
    /// `externalIPs`.
    #[serde(rename = "externalIPs", deserialize_with = "null_default")]
    pub external_ips: Vec<String>,
    /// `clusterIP` (`None` for "headless" or when not yet allocated).
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    /// `clusterIPs` (one per family).
    #[serde(rename = "clusterIPs", deserialize_with = "null_default")]
    pub cluster_ips: Vec<String>,
}

impl ServiceSpec {
    /// The Service type, defaulted.
    pub fn service_type(&self) -> &str {
        self.kind.as_deref().unwrap_or("ClusterIP")
    }
}

/// A Service port.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ServicePort {
    /// Name.
    pub name: Option<String>,
    /// Service port.
    pub port: i64,
    /// Target port (defaults to `port`).
    pub target_port: Option<IntOrString>,
    /// Node port.
    pub node_port: Option<i64>,
    /// Protocol.
    pub protocol: Option<String>,
}

impl ServicePort {
    /// The effective target port.
    pub fn target(&self) -> IntOrString {
        self.target_port
            .clone()
            .unwrap_or(IntOrString::Int(self.port))
    }
}

/// An Ingress (networking.k8s.io/v1, and the extensions/v1beta1 shape).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Ingress {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: IngressSpec,
}

/// Ingress spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct IngressSpec {
    /// `defaultBackend` (v1).
    pub default_backend: Option<IngressBackend>,
    /// `backend` (v1beta1).
    pub backend: Option<IngressBackend>,
    /// Rules.
    #[serde(deserialize_with = "null_default")]
    pub rules: Vec<IngressRule>,
}

/// An Ingress rule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct IngressRule {
    /// Host (any host when unset).
    pub host: Option<String>,
    /// HTTP paths.
    pub http: Option<HttpIngressRuleValue>,
}

/// `rules[].http`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct HttpIngressRuleValue {
    /// Paths.
    #[serde(deserialize_with = "null_default")]
    pub paths: Vec<HttpIngressPath>,
}

/// `rules[].http.paths[]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct HttpIngressPath {
    /// Path.
    pub path: Option<String>,
    /// Backend.
    pub backend: IngressBackend,
}

/// An Ingress backend, v1 (`service.name`/`service.port`) or v1beta1
/// (`serviceName`/`servicePort`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct IngressBackend {
    /// v1 service backend.
    pub service: Option<IngressServiceBackend>,
    /// v1beta1 service name.
    pub service_name: Option<String>,
    /// v1beta1 service port.
    pub service_port: Option<IntOrString>,
}

impl IngressBackend {
    /// `(service name, service port)` whichever API version wrote it.
    pub fn target(&self) -> Option<(&str, IntOrString)> {
        if let Some(s) = &self.service {
            let port = match (&s.port.number, &s.port.name) {
                (Some(n), _) => IntOrString::Int(*n),
                (None, Some(name)) => IntOrString::Str(name.clone()),
                (None, None) => return None,
            };
            return Some((s.name.as_str(), port));
        }
        match (&self.service_name, &self.service_port) {
            (Some(n), Some(p)) => Some((n.as_str(), p.clone())),
            _ => None,
        }
    }
}

/// `backend.service`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct IngressServiceBackend {
    /// Service name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Service port.
    pub port: ServiceBackendPort,
}

/// `backend.service.port`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServiceBackendPort {
    /// By number.
    pub number: Option<i64>,
    /// By name.
    pub name: Option<String>,
}

/// An OpenShift Route.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Route {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: RouteSpec,
}

/// Route spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteSpec {
    /// Host.
    pub host: Option<String>,
    /// Primary backend.
    pub to: Option<RouteTarget>,
    /// Alternate backends.
    #[serde(deserialize_with = "null_default")]
    pub alternate_backends: Vec<RouteTarget>,
    /// Target port on the Service.
    pub port: Option<RoutePort>,
}

/// Route backend.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct RouteTarget {
    /// Kind (Service).
    pub kind: Option<String>,
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
}

/// Route port.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RoutePort {
    /// Target port of the Service (name or number).
    pub target_port: Option<IntOrString>,
}

/// A ServiceAccount.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceAccount {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// `automountServiceAccountToken`.
    pub automount_service_account_token: Option<bool>,
}

/// A Secret: metadata and type only. The struct has no field for `data` or `stringData`, so the
/// parser skips them without storing anything.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Secret {
    /// Metadata (annotations filtered).
    pub metadata: ObjectMeta,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

impl Secret {
    /// For a legacy `kubernetes.io/service-account-token` Secret, the ServiceAccount whose token
    /// it holds.
    pub fn token_of(&self) -> Option<&str> {
        if self.kind.as_deref() == Some("kubernetes.io/service-account-token") {
            self.metadata
                .annotations
                .get("kubernetes.io/service-account.name")
                .map(String::as_str)
        } else {
            None
        }
    }
}

/// A Role or ClusterRole.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Role {
    /// ClusterRole when true.
    pub cluster: bool,
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Rules.
    pub rules: Vec<PolicyRule>,
    /// `aggregationRule.clusterRoleSelectors`.
    pub aggregation: Vec<LabelSelector>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RoleRaw {
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "null_default")]
    pub rules: Vec<PolicyRule>,
    pub aggregation_rule: Option<AggregationRuleRaw>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct AggregationRuleRaw {
    #[serde(deserialize_with = "null_default")]
    pub cluster_role_selectors: Vec<LabelSelector>,
}

impl RoleRaw {
    pub(crate) fn into_role(self, cluster: bool) -> Role {
        Role {
            cluster,
            metadata: self.metadata,
            rules: self.rules,
            aggregation: self
                .aggregation_rule
                .map(|a| a.cluster_role_selectors)
                .unwrap_or_default(),
        }
    }
}

/// An RBAC rule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyRule {
    /// API groups (`""` is core, `*` any).
    #[serde(deserialize_with = "null_default")]
    pub api_groups: Vec<String>,
    /// Resources, `resource/subresource`, `*`, or `*/subresource`.
    #[serde(deserialize_with = "null_default")]
    pub resources: Vec<String>,
    /// Verbs (`*` any).
    #[serde(deserialize_with = "null_default")]
    pub verbs: Vec<String>,
    /// Restricts the rule to these object names.
    #[serde(deserialize_with = "null_default")]
    pub resource_names: Vec<String>,
    /// Non-resource URLs.
    #[serde(rename = "nonResourceURLs", deserialize_with = "null_default")]
    pub non_resource_urls: Vec<String>,
}

/// A RoleBinding or ClusterRoleBinding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Binding {
    /// ClusterRoleBinding when true.
    pub cluster: bool,
    /// Metadata.
    pub metadata: ObjectMeta,
    /// The bound role.
    pub role_ref: RoleRef,
    /// Subjects.
    pub subjects: Vec<Subject>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct BindingRaw {
    pub metadata: ObjectMeta,
    pub role_ref: RoleRef,
    #[serde(deserialize_with = "null_default")]
    pub subjects: Vec<Subject>,
}

impl BindingRaw {
    pub(crate) fn into_binding(self, cluster: bool) -> Binding {
        Binding {
            cluster,
            metadata: self.metadata,
            role_ref: self.role_ref,
            subjects: self.subjects,
        }
    }
}

/// `roleRef`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct RoleRef {
    /// `Role` or `ClusterRole`.
    #[serde(deserialize_with = "null_default")]
    pub kind: String,
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
}

/// A binding subject.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(default)]
pub struct Subject {
    /// `ServiceAccount`, `User` or `Group`.
    #[serde(deserialize_with = "null_default")]
    pub kind: String,
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Namespace (ServiceAccount subjects).
    pub namespace: Option<String>,
}

/// A NetworkPolicy.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkPolicy {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: NetworkPolicySpec,
}

/// NetworkPolicy spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct NetworkPolicySpec {
    /// Pods the policy applies to (in its namespace); `podSelector:` with no value is every pod.
    #[serde(deserialize_with = "null_default")]
    pub pod_selector: LabelSelector,
    /// `policyTypes`; `None` means defaulted (Ingress, plus Egress when egress rules exist).
    pub policy_types: Option<Vec<String>>,
    /// Ingress rules.
    #[serde(deserialize_with = "null_default")]
    pub ingress: Vec<NetworkPolicyRule>,
    /// Egress rules.
    #[serde(deserialize_with = "null_default")]
    pub egress: Vec<NetworkPolicyRule>,
}

impl NetworkPolicySpec {
    /// Whether the policy isolates selected pods for ingress.
    pub fn affects_ingress(&self) -> bool {
        match &self.policy_types {
            Some(t) => t.iter().any(|t| t == "Ingress"),
            None => true,
        }
    }

    /// Whether the policy isolates selected pods for egress.
    pub fn affects_egress(&self) -> bool {
        match &self.policy_types {
            Some(t) => t.iter().any(|t| t == "Egress"),
            None => !self.egress.is_empty(),
        }
    }
}

/// An ingress or egress rule (`from`/`to` are the same field shape).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkPolicyRule {
    /// Peers; empty means every source/destination.
    #[serde(alias = "from", alias = "to", deserialize_with = "null_default")]
    pub peers: Vec<NetworkPolicyPeer>,
    /// Ports; empty means every port and protocol.
    #[serde(deserialize_with = "null_default")]
    pub ports: Vec<NetworkPolicyPort>,
}

/// A NetworkPolicy peer.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct NetworkPolicyPeer {
    /// Pods (in the policy's namespace unless `namespace_selector` is set).
    pub pod_selector: Option<LabelSelector>,
    /// Namespaces.
    pub namespace_selector: Option<LabelSelector>,
    /// Addresses outside the cluster.
    pub ip_block: Option<IpBlock>,
}

/// An `ipBlock`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct IpBlock {
    /// CIDR.
    #[serde(deserialize_with = "null_default")]
    pub cidr: String,
    /// Excluded CIDRs.
    #[serde(deserialize_with = "null_default")]
    pub except: Vec<String>,
}

/// A NetworkPolicy port.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct NetworkPolicyPort {
    /// Protocol (TCP when unset).
    pub protocol: Option<String>,
    /// Port number or name; all ports when unset.
    pub port: Option<IntOrString>,
    /// Range end (with a numeric `port`).
    pub end_port: Option<i64>,
}
