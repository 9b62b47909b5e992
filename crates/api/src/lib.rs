//! rampart's custom resources, as Rust types; the CRD manifests are generated from them
//! ([`crds`]), never written by hand.
//!
//! * [`SecurityPolicy`] (`rampart.dev/v1alpha1`, namespaced): admission rules for the objects of
//!   its own namespace.
//! * [`ClusterSecurityPolicy`] (cluster-scoped): the same spec for every namespace its
//!   `targets.namespaceSelector` picks.
//! * [`Guardian`] (namespaced): what normal requests to one service look like, for the
//!   request guard.
//! * [`Mitigation`] (namespaced): the engine's ledger of reversible actions.
//! * [`BreakGlass`] (cluster-scoped): the switch that stops all acting.
//! * [`ArmingPolicy`] (cluster-scoped): how far each action class may go, per namespace.
//! * [`PolicyParams`] (namespaced): parameters policies read as `params`.
//!
//! Both share [`SecurityPolicySpec`]. A spec is only data: [`SecurityPolicySpec::validate`] says
//! what is wrong with one (the webhook rejects such objects on create and update), and
//! `rampart-policy` evaluates valid ones.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod arming;
mod break_glass;
mod guardian;
mod mitigation;
mod validate;

pub use arming::{ACTION_CLASSES, ArmingPolicy, ArmingPolicySpec, ArmingRule, Stage};
pub use break_glass::{BreakGlass, BreakGlassSpec};

pub use guardian::{
    Criteria, GuardControl, GuardMode, Guardian, GuardianSpec, GuardianStatus, Limit, Range,
    RouteCriteria, ValueCriteria,
};

pub use mitigation::{
    ActionKind, Mitigation, MitigationPhase, MitigationSpec, MitigationStatus, TargetRef,
};

pub use validate::{KindPattern, SpecError, TARGET_KINDS, glob_match, is_pod_group, runs_pods};

/// What happens when a rule is violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum EnforcementMode {
    /// Deny the request.
    #[default]
    Enforce,
    /// Admit it with a warning shown to the client (`kubectl` prints it).
    Warn,
    /// Admit it silently; record the violation as an audit annotation.
    Dryrun,
}

/// The admission rules of one namespace.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "rampart.dev",
    version = "v1alpha1",
    kind = "SecurityPolicy",
    namespaced,
    shortname = "secpol",
    status = "SecurityPolicyStatus",
    printcolumn = r#"{"name":"Violations","type":"integer","jsonPath":".status.violations"}"#,
    doc = "Admission rules for the Pods and workloads of this namespace.",
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.enforcementMode"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq", derive = "Default")]
#[serde(rename_all = "camelCase")]
pub struct SecurityPolicySpec {
    /// `enforce` (deny), `warn` (admit with a warning) or `dryrun` (admit, audit annotation).
    #[serde(default)]
    pub enforcement_mode: EnforcementMode,
    /// Which objects the rules apply to.
    #[serde(default)]
    pub targets: Targets,
    /// The rules; every violated condition of every rule is reported.
    pub rules: Vec<Rule>,
    /// Changes made to admitted Pods and templates (RFC 6902 patches on `/mutate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutations: Option<Mutations>,
    /// What to tell the user who is denied: a runbook link or a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// What a `cel` condition or match condition that cannot be evaluated (a missing field, the
    /// cost budget) counts as: `Fail` (default), a violation in the rule's mode; `Ignore`, no
    /// violation.
    #[serde(default, skip_serializing_if = "FailurePolicy::is_fail")]
    pub failure_policy: FailurePolicy,
    /// What `params` is in the policy's expressions: values written here, or an object of the
    /// cluster (a ConfigMap, a `PolicyParams`) the webhook keeps current. Without it an
    /// expression naming `params` is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Params>,
    /// The kinds of the cluster's objects the expressions read as `inventory` (referential
    /// rules: unique Ingress hosts, existing StorageClasses), like Gatekeeper's synced data.
    /// The webhook watches these kinds, and only these; without them an expression naming
    /// `inventory` is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory: Vec<ObjectKind>,
}

/// A kind of object, by `apiVersion` and `kind` (`networking.k8s.io/v1`, `Ingress`).
#[derive(
    Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct ObjectKind {
    /// `v1` for the core group, `group/version` otherwise.
    pub api_version: String,
    /// The kind.
    pub kind: String,
}

impl ObjectKind {
    /// A kind of object.
    pub fn new(api_version: &str, kind: &str) -> ObjectKind {
        ObjectKind {
            api_version: api_version.into(),
            kind: kind.into(),
        }
    }

    /// Its group (`""` for the core group) and version.
    pub fn group_version(&self) -> (&str, &str) {
        self.api_version
            .split_once('/')
            .unwrap_or(("", self.api_version.as_str()))
    }

    /// Whether it is the core group's Secret, whose values no expression may read.
    pub fn is_secret(&self) -> bool {
        self.api_version == "v1" && self.kind == "Secret"
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.api_version, self.kind)
    }
}

/// A policy's parameters: inline `values`, or a reference to a params object (`kind` and
/// `name`), one or the other.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    /// The parameters themselves (like a Gatekeeper constraint's `parameters`): `params` is
    /// this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_value")]
    pub values: Option<serde_json::Value>,
    /// The params object's `apiVersion` (default `v1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The params object's kind (`ConfigMap`; `PolicyParams` with `apiVersion:
    /// rampart.dev/v1alpha1`): `params` is the whole object (`params.data.repos`,
    /// `params.spec.repos`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The params object's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its namespace: a SecurityPolicy's params live in its own namespace (leave this unset); a
    /// ClusterSecurityPolicy's in this one or, unset, in the namespace of each request
    /// (per-namespace parameters, as a ValidatingAdmissionPolicyBinding's `paramRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// When the params object does not exist: `Deny` (default), a violation in the rule's mode;
    /// `Allow`, the policy's CEL does not apply.
    #[serde(default, skip_serializing_if = "ParameterNotFoundAction::is_deny")]
    pub parameter_not_found_action: ParameterNotFoundAction,
}

impl Params {
    /// The params object's kind, when the params are a reference.
    pub fn object_kind(&self) -> Option<ObjectKind> {
        self.kind.as_ref().map(|k| ObjectKind {
            api_version: self.api_version.clone().unwrap_or_else(|| "v1".into()),
            kind: k.clone(),
        })
    }
}

/// What a missing params object means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum ParameterNotFoundAction {
    /// A violation, in the rule's mode.
    #[default]
    Deny,
    /// The policy's CEL does not apply.
    Allow,
}

impl ParameterNotFoundAction {
    fn is_deny(&self) -> bool {
        *self == ParameterNotFoundAction::Deny
    }
}

fn any_value(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// Parameters of policies, as an object of their own (`params: {apiVersion:
/// rampart.dev/v1alpha1, kind: PolicyParams, name: …}`): any fields under `spec`.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "rampart.dev",
    version = "v1alpha1",
    kind = "PolicyParams",
    plural = "policyparams",
    singular = "policyparam",
    namespaced,
    doc = "Parameters that SecurityPolicies and ClusterSecurityPolicies read as `params`."
)]
#[kube(derive = "PartialEq", derive = "Default")]
pub struct PolicyParamsSpec {
    /// The parameters (`params.spec.<field>` in expressions).
    #[serde(flatten)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

impl JsonSchema for PolicyParamsSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PolicyParamsSpec".into()
    }
    /// Any fields: the parameters are the policy author's.
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        mitigation::preserve_unknown(g)
    }
}

/// What an expression that cannot be evaluated counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum FailurePolicy {
    /// A violation (in the rule's mode).
    #[default]
    Fail,
    /// No violation.
    Ignore,
}

impl FailurePolicy {
    fn is_fail(&self) -> bool {
        *self == FailurePolicy::Fail
    }
}

/// What the live compliance audit (`rampart engine --compliance`) found of a policy on the
/// objects that already exist, whatever its mode: what it denies, or would deny once enforced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityPolicyStatus {
    /// Existing objects that violate at least one of its rules.
    #[serde(default)]
    #[schemars(schema_with = "crate::guardian::count32")]
    pub violations: u32,
    /// Objects judged against it (every object of a kind a policy can target).
    #[serde(default)]
    #[schemars(schema_with = "crate::guardian::count32")]
    pub evaluated_objects: u32,
    /// When it was last evaluated (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_evaluated: Option<String>,
}

/// The cluster-wide twin of [`SecurityPolicy`].
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "rampart.dev",
    version = "v1alpha1",
    kind = "ClusterSecurityPolicy",
    shortname = "csecpol",
    status = "SecurityPolicyStatus",
    printcolumn = r#"{"name":"Violations","type":"integer","jsonPath":".status.violations"}"#,
    doc = "Admission rules for the Pods and workloads of every namespace the targets select.",
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.enforcementMode"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq", derive = "Default")]
#[serde(rename_all = "camelCase")]
pub struct ClusterSecurityPolicySpec {
    /// The policy.
    #[serde(flatten)]
    pub policy: SecurityPolicySpec,
}

/// Which objects a policy applies to. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Targets {
    /// Namespaces by label (ClusterSecurityPolicy; a SecurityPolicy only ever sees its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Namespaces by name (`*` suffix globs allowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Namespaces never targeted (`*` suffix globs allowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_namespaces: Vec<String>,
    /// Pods (or pod templates) by label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    /// Kinds: `Kind` (any group), `apiVersion/Kind` (`v1/Service`,
    /// `networking.k8s.io/v1/Ingress`) or `group/*/Kind` (every version; `core/*/Service` for
    /// the core group), `*` for every kind. Empty: the kinds that
    /// run pods (`Pod`, `Deployment`, `ReplicaSet`, `StatefulSet`, `DaemonSet`, `Job`,
    /// `CronJob`, `ReplicationController`). The built-in conditions judge those; `cel`
    /// conditions judge any kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Operations: `CREATE`, `UPDATE`. Empty: both.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
}

/// One named rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// Name, shown in denials (`policy/rule`).
    pub name: String,
    /// What the rule is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Requirements; each unmet one is a violation.
    pub conditions: Vec<Condition>,
    /// Named CEL sub-expressions, worked out in order before the conditions: `variables.<name>`
    /// in later variables, match conditions and `cel` conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<Variable>,
    /// CEL expressions that must all hold for the rule to apply to a request (as a
    /// ValidatingAdmissionPolicy's `matchConditions`): a request one of them is false for is
    /// not judged by this rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_conditions: Vec<NamedExpression>,
    /// Override of the policy's enforcement mode for this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<EnforcementMode>,
    /// Containers whose image matches one of these (`*` suffix globs) are exempt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempt_images: Vec<String>,
}

/// A named CEL expression (a rule's variable or match condition).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedExpression {
    /// Name: a CEL identifier (`isPod`, `limits`).
    pub name: String,
    /// The expression, over `object`, `oldObject`, `request`, `namespaceObject`, `params` and
    /// `variables`.
    pub expression: String,
}

/// A rule's variable: a named sub-expression.
pub type Variable = NamedExpression;

/// A requirement written in CEL (Kubernetes' Common Expression Language, with its libraries:
/// `quantity`, `url`, `ip`/`cidr`, regular expressions, `lists`, `sets`, `format`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CelCondition {
    /// Must be true for the object to be admitted, over `object` (the admitted object),
    /// `oldObject` (on updates, else null), `request` (operation, name, namespace, userInfo,
    /// kind, resource), `namespaceObject` (the namespace, when known), `params`, `variables`
    /// and `inventory` (the cluster's other objects, for referential rules: a list, filled by
    /// `rampart policy check --inventory`).
    pub expression: String,
    /// What a violation says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A CEL expression giving the message (a string); `message` stands in when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_expression: Option<String>,
}

/// One requirement. Exactly one field is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// A requirement written in CEL, judging any kind `targets.kinds` selects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cel: Option<CelCondition>,
    /// Images matching these references must carry a valid sigstore signature from the
    /// attestors (cosign's `sha256-<digest>.sig` signatures or sigstore bundles, checked against
    /// the registry when the pod is admitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_images: Option<VerifyImages>,
    /// Images must start with one of these prefixes (`registry.example.com/`, `ghcr.io/acme/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_registries: Option<Vec<String>>,
    /// Images must match one of these exactly or by `*` suffix glob (`ghcr.io/acme/*`,
    /// `ubuntu:22.04`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_images: Option<Vec<String>>,
    /// Images that must not run (`*` suffix globs; a bare name matches every tag and digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forbidden_images: Option<Vec<String>>,
    /// Images must be pinned: no `:latest`, no missing tag (a digest counts as pinned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disallow_latest_tag: Option<bool>,
    /// Tags that are forbidden besides `latest` (needs `disallowLatestTag`-style pinning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forbidden_tags: Option<Vec<String>>,
    /// Containers must not run as root: effective `runAsNonRoot: true` or a non-zero
    /// `runAsUser`, container level overriding pod level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disallow_root: Option<bool>,
    /// No privileged containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disallow_privileged: Option<bool>,
    /// No hostNetwork, hostPID or hostIPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disallow_host_namespaces: Option<bool>,
    /// hostPath volumes: only these (an empty list forbids all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_host_paths: Option<Vec<HostPathRule>>,
    /// Host ports: only this range (`{min: 0, max: 0}` forbids all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_host_ports: Option<PortRange>,
    /// Every container (or the pod) sets a securityContext.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_security_context: Option<bool>,
    /// Every container sets `allowPrivilegeEscalation: false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disallow_privilege_escalation: Option<bool>,
    /// Added capabilities must be in this list (`*` allows any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_capabilities: Option<Vec<String>>,
    /// Capabilities every container must drop (`ALL` satisfies any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_drop_capabilities: Option<Vec<String>>,
    /// Resource requests and limits every container must set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_resources: Option<ResourceRequirement>,
    /// No Secret exposed as an environment variable (`valueFrom.secretKeyRef`, `envFrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disallow_secret_env: Option<bool>,
    /// Labels the Pod (or template) must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_labels: Option<Vec<RequiredLabel>>,
    /// The service-mesh sidecar must be injected: `istio`, `linkerd` or `any`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_mesh_sidecar: Option<Mesh>,
    /// Every container's root filesystem is read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_read_only_root_filesystem: Option<bool>,
    /// Images are pinned by digest (`@sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_image_digest: Option<bool>,
    /// No container keeps stdin open or allocates a TTY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disallow_interactive_tty: Option<bool>,
    /// Probes every container defines (`livenessProbe`, `readinessProbe`, `startupProbe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_probes: Option<Vec<String>>,
    /// The pod sets `automountServiceAccountToken: false` (no API credentials for attackers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disallow_token_automount: Option<bool>,
    /// No Windows `hostProcess` containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disallow_host_process: Option<bool>,
}

/// Image signature verification: which images, who must have signed them, and what admission
/// does with the verified digest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyImages {
    /// Image reference globs, matched against the normalised reference (`nginx` is
    /// `docker.io/library/nginx:latest`): `*` any run of characters, `?` one
    /// (`ghcr.io/acme/*`). A glob without a tag or digest covers every tag and digest.
    pub image_references: Vec<String>,
    /// Who may have signed the images.
    pub attestors: Vec<ImageAttestor>,
    /// `AnyOf` (default): one attestor's signature is enough; `AllOf`: every attestor must
    /// have signed.
    #[serde(default)]
    pub attestors_required: AttestorsRequired,
    /// Rewrite `image:tag` to `image@sha256:…`, the digest that was verified (`/mutate`), so
    /// the node pulls exactly what was checked. Default true.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub mutate_digest: bool,
    /// `true` (default): an image that does not verify is a violation in the rule's mode.
    /// `false`: audit only — the result is recorded as an audit annotation, never denied.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// How the attestors of a `verifyImages` condition combine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AttestorsRequired {
    /// One attestor's signature is enough.
    #[default]
    AnyOf,
    /// Every attestor must have signed.
    AllOf,
}

/// One attestor: a public key or a keyless identity. Exactly one field is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageAttestor {
    /// Signed with a key (`cosign sign --key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyAttestor>,
    /// Signed keylessly (`cosign sign` with an OIDC identity): a Fulcio certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyless: Option<KeylessAttestor>,
}

/// A public key attestor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyAttestor {
    /// The PEM public key (ECDSA P-256/P-384, Ed25519 or RSA), as `cosign.pub` holds it…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// … or a Secret holding it (`cosign generate-key-pair k8s://NAMESPACE/NAME` writes one):
    /// the webhook watches exactly the Secrets policies name, and reads public keys from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<KeySecretRef>,
    /// The signature must also be recorded in the transparency log of this trusted root
    /// (a root the webhook loads: `--trusted-root NAME=FILE`; `public-good` is the Sigstore
    /// public-good instance). Unset: the log is not consulted (`cosign sign
    /// --tlog-upload=false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparency_log: Option<String>,
}

/// A Secret holding a public key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeySecretRef {
    /// The Secret's name.
    pub name: String,
    /// Its namespace: a ClusterSecurityPolicy names it; a SecurityPolicy reads its own
    /// namespace's (leave it unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The key of its data holding the PEM public key (default `cosign.pub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The data key a key Secret's public key is read from when the policy names none (what
/// `cosign generate-key-pair k8s://…` writes).
pub const DEFAULT_PUBLIC_KEY_ENTRY: &str = "cosign.pub";

/// A keyless attestor: who the certificate names, and who vouched for them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeylessAttestor {
    /// The certificate's identity (SAN: an email, or a URI such as a CI workflow), exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// … or a regular expression the whole identity must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_reg_exp: Option<String>,
    /// The OIDC issuer that vouched for the identity
    /// (`https://token.actions.githubusercontent.com`), exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// … or a regular expression the whole issuer must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_reg_exp: Option<String>,
    /// The trusted root (Fulcio, Rekor, CT logs, timestamp authorities) by the name the webhook
    /// loaded it under (`--trusted-root NAME=FILE`, a `trusted_root.json`). Default
    /// `public-good`: the Sigstore public-good instance, built in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root: Option<String>,
}

/// The trusted root a keyless attestor uses when it names none.
pub const PUBLIC_GOOD_ROOT: &str = "public-good";

/// An allowed hostPath.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostPathRule {
    /// Allowed path prefix (whole path components).
    pub path_prefix: String,
    /// Mounts of it must be read-only.
    #[serde(default)]
    pub read_only: bool,
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PortRange {
    /// Lowest allowed port.
    #[schemars(schema_with = "port")]
    pub min: u16,
    /// Highest allowed port.
    #[schemars(schema_with = "port")]
    pub max: u16,
}

/// A port as the API server's OpenAPI knows formats: `int32` bounded to 0–65535 (schemars'
/// `uint16` makes the API server warn `unrecognized format`).
fn port(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": 65535
    })
}

/// Requests and limits that must be set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirement {
    /// Resource names whose request must be set (`cpu`, `memory`, …).
    #[serde(default)]
    pub requests: Vec<String>,
    /// Resource names whose limit must be set.
    #[serde(default)]
    pub limits: Vec<String>,
}

/// A label that must be present.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequiredLabel {
    /// Key.
    pub key: String,
    /// If set, the value must be one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
}

/// A service mesh whose sidecar injection can be required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Mesh {
    /// Istio: `sidecar.istio.io/inject` not `"false"` and the namespace or pod opted in
    /// (`istio-injection=enabled`, `istio.io/rev`, `sidecar.istio.io/inject=true`), or an
    /// `istio-proxy` container.
    Istio,
    /// Linkerd: `linkerd.io/inject: enabled|ingress` on the pod or namespace, or a
    /// `linkerd-proxy` container.
    Linkerd,
    /// Either.
    Any,
}

/// Mutations a policy asks for. Only what is missing is added.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Mutations {
    /// Default resource requests (`cpu`, `memory`, … → quantity) for containers without them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub default_requests: BTreeMap<String, String>,
    /// Default resource limits for containers without them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub default_limits: BTreeMap<String, String>,
    /// Set `runAsNonRoot: true` on the pod unless the pod or a container says otherwise.
    #[serde(default)]
    pub run_as_non_root: bool,
    /// Set the pod's `seccompProfile` to `RuntimeDefault` unless one is set.
    #[serde(default)]
    pub seccomp_runtime_default: bool,
    /// Add `ALL` to every container's dropped capabilities.
    #[serde(default)]
    pub drop_all_capabilities: bool,
    /// Set `allowPrivilegeEscalation: false` on containers that do not set it.
    #[serde(default)]
    pub disallow_privilege_escalation: bool,
}

/// Every CRD rampart defines, generated from the types above.
pub fn crds()
-> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
{
    use kube::CustomResourceExt;
    vec![
        SecurityPolicy::crd(),
        ClusterSecurityPolicy::crd(),
        Mitigation::crd(),
        Guardian::crd(),
        BreakGlass::crd(),
        ArmingPolicy::crd(),
        PolicyParams::crd(),
    ]
}

#[cfg(test)]
mod crd_tests {
    #[test]
    fn crds_are_structural_and_name_the_kinds() {
        let crds = super::crds();
        let names: Vec<&str> = crds.iter().map(|c| c.spec.names.kind.as_str()).collect();
        assert_eq!(
            names,
            [
                "SecurityPolicy",
                "ClusterSecurityPolicy",
                "Mitigation",
                "Guardian",
                "BreakGlass",
                "ArmingPolicy",
                "PolicyParams"
            ]
        );
        assert_eq!(crds[0].spec.scope, "Namespaced");
        assert_eq!(crds[1].spec.scope, "Cluster");
        for c in crds.iter().take(2) {
            let v = serde_json::to_value(c).unwrap_or_default();
            let schema = &v["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
            let spec = &schema["properties"]["spec"];
            assert_eq!(spec["type"], "object", "{}", c.spec.names.kind);
            let rules = &spec["properties"]["rules"]["items"]["properties"];
            assert!(rules["conditions"]["items"]["properties"]["allowedRegistries"].is_object());
            // Structural: no $ref, every property typed.
            let text = v.to_string();
            assert!(!text.contains("$ref"), "{text}");
        }
        // Issue 14 item 11: only formats the API server knows (it warns on others), and no
        // `date` printer column over a time in the future (kubectl shows `<invalid>`).
        let known = [
            "int32",
            "int64",
            "float",
            "double",
            "byte",
            "date",
            "date-time",
            "uri",
        ];
        for c in &crds {
            let text = serde_json::to_value(c).unwrap_or_default().to_string();
            for (i, _) in text.match_indices("\"format\":\"") {
                let rest = &text[i + 10..];
                let f = &rest[..rest.find('"').unwrap_or(0)];
                assert!(known.contains(&f), "{}: format {f:?}", c.spec.names.kind);
            }
            for v in &c.spec.versions {
                for col in v.additional_printer_columns.iter().flatten() {
                    assert!(
                        col.type_ != "date" || col.json_path.contains("creationTimestamp"),
                        "{}: {} is a date column over {}",
                        c.spec.names.kind,
                        col.name,
                        col.json_path
                    );
                }
            }
        }
    }
}
