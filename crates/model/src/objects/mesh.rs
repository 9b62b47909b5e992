//! Service-mesh authorization: Istio's `security.istio.io` AuthorizationPolicy and
//! PeerAuthentication, and Linkerd's `policy.linkerd.io` Server, ServerAuthorization,
//! AuthorizationPolicy, MeshTLSAuthentication and NetworkAuthentication. A mesh judges what
//! reaches a workload's proxy after the network let it through.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ObjectMeta;
use crate::Labels;
use crate::de::{IntOrString, null_default};
use crate::selector::LabelSelector;

/// One mesh authorization object.
#[derive(Debug, Clone, PartialEq)]
pub enum MeshPolicy {
    /// Istio AuthorizationPolicy.
    IstioAuthorization(IstioAuthorizationPolicy),
    /// Istio PeerAuthentication.
    PeerAuthentication(PeerAuthentication),
    /// Linkerd Server.
    Server(LinkerdServer),
    /// Linkerd ServerAuthorization (deprecated, still served).
    ServerAuthorization(ServerAuthorization),
    /// Linkerd AuthorizationPolicy.
    LinkerdAuthorization(LinkerdAuthorizationPolicy),
    /// Linkerd MeshTLSAuthentication.
    MeshTlsAuthentication(MeshTlsAuthentication),
    /// Linkerd NetworkAuthentication.
    NetworkAuthentication(NetworkAuthentication),
}

impl MeshPolicy {
    /// Metadata.
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            MeshPolicy::IstioAuthorization(o) => &o.metadata,
            MeshPolicy::PeerAuthentication(o) => &o.metadata,
            MeshPolicy::Server(o) => &o.metadata,
            MeshPolicy::ServerAuthorization(o) => &o.metadata,
            MeshPolicy::LinkerdAuthorization(o) => &o.metadata,
            MeshPolicy::MeshTlsAuthentication(o) => &o.metadata,
            MeshPolicy::NetworkAuthentication(o) => &o.metadata,
        }
    }

    /// Mutable metadata.
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            MeshPolicy::IstioAuthorization(o) => &mut o.metadata,
            MeshPolicy::PeerAuthentication(o) => &mut o.metadata,
            MeshPolicy::Server(o) => &mut o.metadata,
            MeshPolicy::ServerAuthorization(o) => &mut o.metadata,
            MeshPolicy::LinkerdAuthorization(o) => &mut o.metadata,
            MeshPolicy::MeshTlsAuthentication(o) => &mut o.metadata,
            MeshPolicy::NetworkAuthentication(o) => &mut o.metadata,
        }
    }
}

/// `selector` of Istio's policies: labels only.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkloadSelector {
    /// Every pair must be present.
    #[serde(deserialize_with = "null_default")]
    pub match_labels: Labels,
}

/// Istio `AuthorizationPolicy`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct IstioAuthorizationPolicy {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(deserialize_with = "null_default")]
    pub spec: IstioAuthorizationSpec,
}

/// Its spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct IstioAuthorizationSpec {
    /// The workloads (in the policy's namespace; every namespace from the root namespace).
    pub selector: Option<WorkloadSelector>,
    /// Gateways and waypoints it targets instead (not modelled).
    pub target_ref: Option<serde_json::Value>,
    /// Same, several.
    pub target_refs: Option<serde_json::Value>,
    /// `ALLOW` (the default), `DENY`, `AUDIT` or `CUSTOM`.
    pub action: Option<String>,
    /// Rules; none matches nothing.
    #[serde(deserialize_with = "null_default")]
    pub rules: Vec<IstioRule>,
}

/// A rule: every part must match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct IstioRule {
    /// Sources; any may match (none: every source).
    #[serde(deserialize_with = "null_default")]
    pub from: Vec<IstioFrom>,
    /// Operations; any may match (none: every operation).
    #[serde(deserialize_with = "null_default")]
    pub to: Vec<IstioTo>,
    /// Conditions; all must hold.
    #[serde(deserialize_with = "null_default")]
    pub when: Vec<IstioCondition>,
}

/// `from` entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct IstioFrom {
    /// The source.
    #[serde(deserialize_with = "null_default")]
    pub source: IstioSource,
}

/// A source: its fields AND, each field's values OR.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct IstioSource {
    /// Peer identities (`cluster.local/ns/<ns>/sa/<sa>`; `*` prefix/suffix).
    pub principals: Option<Vec<String>>,
    /// Identities excluded.
    pub not_principals: Option<Vec<String>>,
    /// JWT principals (request level).
    pub request_principals: Option<Vec<String>>,
    /// JWT principals excluded.
    pub not_request_principals: Option<Vec<String>>,
    /// Peer namespaces (from the peer's identity).
    pub namespaces: Option<Vec<String>>,
    /// Namespaces excluded.
    pub not_namespaces: Option<Vec<String>>,
    /// Peer addresses.
    pub ip_blocks: Option<Vec<String>>,
    /// Addresses excluded.
    pub not_ip_blocks: Option<Vec<String>>,
    /// Original client addresses.
    pub remote_ip_blocks: Option<Vec<String>>,
    /// Original addresses excluded.
    pub not_remote_ip_blocks: Option<Vec<String>>,
}

/// `to` entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct IstioTo {
    /// The operation.
    #[serde(deserialize_with = "null_default")]
    pub operation: IstioOperation,
}

/// An operation: its fields AND, each field's values OR.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct IstioOperation {
    /// Host headers.
    pub hosts: Option<Vec<String>>,
    /// Host headers excluded.
    pub not_hosts: Option<Vec<String>>,
    /// Destination ports.
    pub ports: Option<Vec<String>>,
    /// Ports excluded.
    pub not_ports: Option<Vec<String>>,
    /// HTTP methods.
    pub methods: Option<Vec<String>>,
    /// Methods excluded.
    pub not_methods: Option<Vec<String>>,
    /// HTTP paths.
    pub paths: Option<Vec<String>>,
    /// Paths excluded.
    pub not_paths: Option<Vec<String>>,
}

/// `when` condition.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct IstioCondition {
    /// Attribute (`source.namespace`, `destination.port`, `request.headers[...]`, …).
    #[serde(deserialize_with = "null_default")]
    pub key: String,
    /// Accepted values.
    pub values: Option<Vec<String>>,
    /// Excluded values.
    pub not_values: Option<Vec<String>>,
}

/// Istio `PeerAuthentication`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct PeerAuthentication {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(deserialize_with = "null_default")]
    pub spec: PeerAuthenticationSpec,
}

/// Its spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PeerAuthenticationSpec {
    /// The workloads (none: the namespace, or the mesh from the root namespace).
    pub selector: Option<WorkloadSelector>,
    /// The mode for every port.
    pub mtls: Option<MtlsMode>,
    /// Per port (workload policies only).
    #[serde(deserialize_with = "null_default")]
    pub port_level_mtls: BTreeMap<String, MtlsMode>,
}

/// `mtls`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct MtlsMode {
    /// `UNSET`, `DISABLE`, `PERMISSIVE` or `STRICT`.
    pub mode: Option<String>,
}

/// Linkerd `Server`: a port of some pods, closed to all but the authorized.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct LinkerdServer {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(deserialize_with = "null_default")]
    pub spec: LinkerdServerSpec,
}

/// Its spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct LinkerdServerSpec {
    /// The pods (of the Server's namespace).
    pub pod_selector: Option<LabelSelector>,
    /// External workloads (not modelled).
    pub external_workload_selector: Option<serde_json::Value>,
    /// The port: a number or a container port's name.
    pub port: Option<IntOrString>,
    /// Protocol hint (not modelled).
    pub proxy_protocol: Option<String>,
    /// What unauthorized traffic gets (v1beta3; `deny` by default).
    pub access_policy: Option<String>,
}

/// Linkerd `ServerAuthorization`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerAuthorization {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(deserialize_with = "null_default")]
    pub spec: ServerAuthorizationSpec,
}

/// Its spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerAuthorizationSpec {
    /// The Servers (of its namespace) it authorizes clients of.
    #[serde(deserialize_with = "null_default")]
    pub server: ServerRef,
    /// The clients.
    #[serde(deserialize_with = "null_default")]
    pub client: LinkerdClient,
}

/// `server`: by name or by label.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerRef {
    /// A Server's name.
    pub name: Option<String>,
    /// Servers by label.
    pub selector: Option<LabelSelector>,
}

/// `client`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct LinkerdClient {
    /// Meshed clients.
    #[serde(rename = "meshTLS")]
    pub mesh_tls: Option<MeshTlsClients>,
    /// Any client, meshed or not.
    pub unauthenticated: bool,
    /// Client addresses.
    pub networks: Option<Vec<LinkerdNetwork>>,
}

/// `meshTLS`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct MeshTlsClients {
    /// Any TLS client, identified or not.
    #[serde(rename = "unauthenticatedTLS")]
    pub unauthenticated_tls: bool,
    /// Identities (`<sa>.<ns>.serviceaccount.identity.linkerd.<domain>`; `*` patterns).
    #[serde(deserialize_with = "null_default")]
    pub identities: Vec<String>,
    /// ServiceAccounts.
    #[serde(deserialize_with = "null_default")]
    pub service_accounts: Vec<ServiceAccountRef>,
}

/// A ServiceAccount (namespace: the referring object's when unset).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServiceAccountRef {
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Namespace.
    pub namespace: Option<String>,
}

/// A network: a CIDR and exceptions.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct LinkerdNetwork {
    /// The range.
    #[serde(deserialize_with = "null_default")]
    pub cidr: String,
    /// Taken out.
    #[serde(deserialize_with = "null_default")]
    pub except: Vec<String>,
}

/// Linkerd `AuthorizationPolicy`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct LinkerdAuthorizationPolicy {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(deserialize_with = "null_default")]
    pub spec: LinkerdAuthorizationSpec,
}

/// Its spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct LinkerdAuthorizationSpec {
    /// What it authorizes: a Server, an HTTPRoute or a Namespace.
    #[serde(deserialize_with = "null_default")]
    pub target_ref: PolicyRef,
    /// Authentications a client must all pass.
    #[serde(deserialize_with = "null_default")]
    pub required_authentication_refs: Vec<PolicyRef>,
}

/// A reference by group, kind, name (and namespace).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct PolicyRef {
    /// API group.
    pub group: Option<String>,
    /// Kind.
    #[serde(deserialize_with = "null_default")]
    pub kind: String,
    /// Name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Namespace (the referrer's when unset).
    pub namespace: Option<String>,
}

/// Linkerd `MeshTLSAuthentication`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct MeshTlsAuthentication {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(deserialize_with = "null_default")]
    pub spec: MeshTlsAuthenticationSpec,
}

/// Its spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct MeshTlsAuthenticationSpec {
    /// Identities (`*` patterns).
    #[serde(deserialize_with = "null_default")]
    pub identities: Vec<String>,
    /// ServiceAccounts or Namespaces.
    #[serde(deserialize_with = "null_default")]
    pub identity_refs: Vec<PolicyRef>,
}

/// Linkerd `NetworkAuthentication`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkAuthentication {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    #[serde(deserialize_with = "null_default")]
    pub spec: NetworkAuthenticationSpec,
}

/// Its spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkAuthenticationSpec {
    /// Client networks.
    #[serde(deserialize_with = "null_default")]
    pub networks: Vec<LinkerdNetwork>,
}
