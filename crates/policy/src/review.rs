//! One admission decision: the request (already parsed), the namespace's labels and the
//! policies in force go in; allowed or denied, warnings, audit annotations and a patch come out.
//!
//! Pod Security follows upstream Pod Security Admission: Pods are enforced, workload templates
//! only warned and audited; updates that leave the pod spec unchanged are not re-evaluated;
//! exempt users, runtime classes and namespaces skip it; invalid namespace labels evaluate as
//! `restricted:latest`. SecurityPolicies apply to Pods and templates alike.

use std::collections::BTreeMap;
use std::sync::Arc;

use json_patch::Patch;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use rampart_api::{EnforcementMode, FailurePolicy, SecurityPolicySpec, glob_match};
use serde_json::Value;

use crate::cel_rules::{self, CelFinding, CompiledPolicy, CompiledRule, Inputs};
use crate::conditions::{evaluate_rule_with, pod_containers};
use crate::images::{ImageCheck, ImageRule, ImageVerdict, ImageVerdicts};
use crate::mutate;
use crate::object::{ObjectJson, PodSource, ShapeError, pod_source};
use crate::pss::{self, Level, LevelVersion, Version};
use crate::store::{ObjectStore, Selection};

/// The operation being admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Create.
    Create,
    /// Update.
    Update,
    /// Delete.
    Delete,
    /// Connect (exec, attach, port-forward).
    Connect,
}

/// The parts of an AdmissionRequest a decision reads.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// API group of the object (`""` for core).
    pub group: &'a str,
    /// API version of the object (`v1`); empty when unknown.
    pub version: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// The resource (plural, `pods`, `deployments`): with `group`, the `GroupResource` a
    /// denial names, as the API server's `Forbidden` errors do. Empty: derived from `kind`.
    pub resource: &'a str,
    /// Subresource, if any.
    pub sub_resource: Option<&'a str>,
    /// Operation.
    pub operation: Operation,
    /// Namespace (empty for cluster-scoped objects).
    pub namespace: &'a str,
    /// Object name (may be empty on create with generateName).
    pub name: &'a str,
    /// The requesting user.
    pub username: &'a str,
    /// The new object.
    pub object: Option<ObjectJson<'a>>,
    /// The old object (updates).
    pub old_object: Option<ObjectJson<'a>>,
}

/// A request whose object cannot be judged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// The object does not have its kind's shape.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// A create or update without an object.
    #[error("the request carries no object for a {0} operation")]
    MissingObject(&'static str),
}

/// A policy with its identity.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedPolicy {
    /// `SecurityPolicy` or `ClusterSecurityPolicy`.
    pub kind: &'static str,
    /// Namespace (SecurityPolicy only).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// The spec (valid: invalid ones are never stored).
    pub spec: SecurityPolicySpec,
}

impl NamedPolicy {
    /// `SecurityPolicy ns/name` or `ClusterSecurityPolicy name`.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// A policy's key in a [`PolicySet`]: namespace, name, kind.
type PolicyKey = (Option<String>, String, &'static str);

/// The policies in force, each with its CEL compiled.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: BTreeMap<PolicyKey, (NamedPolicy, Arc<CompiledPolicy>)>,
}

impl PolicySet {
    /// Adds or replaces a policy after validating it and compiling its expressions (once, here:
    /// never per request); returns the spec's errors otherwise.
    pub fn upsert(&mut self, p: NamedPolicy) -> Result<(), Vec<rampart_api::SpecError>> {
        let errors = match p.namespace {
            Some(_) => p.spec.validate_namespaced(),
            None => p.spec.validate(),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let compiled = CompiledPolicy::compile(&p.spec, p.namespace.as_deref())?;
        self.policies.insert(
            (p.namespace.clone(), p.name.clone(), p.kind),
            (p, Arc::new(compiled)),
        );
        Ok(())
    }
    /// Removes a policy.
    pub fn remove(&mut self, kind: &'static str, namespace: Option<&str>, name: &str) {
        self.policies
            .remove(&(namespace.map(String::from), name.to_string(), kind));
    }
    /// Drops every policy of `kind` (before a relist replaces them).
    pub fn clear_kind(&mut self, kind: &'static str) {
        self.policies.retain(|k, _| k.2 != kind);
    }
    /// The selections of cluster objects the policies read (params objects, inventory kinds,
    /// the Secrets of their image rules' keys): what the webhook watches.
    pub fn wanted(&self) -> std::collections::BTreeSet<Selection> {
        self.policies
            .values()
            .flat_map(|(_, c)| c.selections().cloned().chain(c.key_secrets()))
            .collect()
    }

    /// Whether a policy's kinds name objects of this group, version and kind.
    pub fn targets(&self, group: &str, version: &str, kind: &str) -> bool {
        self.policies
            .values()
            .any(|(_, c)| c.targets(group, version, kind))
    }

    /// Whether any policy has a `verifyImages` condition.
    pub fn has_image_rules(&self) -> bool {
        self.policies.values().any(|(_, c)| !c.images.is_empty())
    }

    /// The trusted roots the policies' image rules name.
    pub fn trusted_roots(&self) -> std::collections::BTreeSet<String> {
        self.policies
            .values()
            .flat_map(|(_, c)| {
                c.images
                    .iter()
                    .flat_map(|(_, r)| r.roots().map(String::from))
            })
            .collect()
    }

    /// Number of policies.
    pub fn len(&self) -> usize {
        self.policies.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }
    /// Policies applying to the object of `req` in its namespace, labelled `labels` (a pod's
    /// or template's labels; another object's own).
    fn applicable<'a>(
        &'a self,
        req: &'a Request<'a>,
        ns_labels: &'a BTreeMap<String, String>,
        labels: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = (&'a NamedPolicy, &'a CompiledPolicy)> + 'a {
        let (operation, namespace) = (req.operation, req.namespace);
        self.policies.values().filter_map(move |(p, compiled)| {
            let t = &p.spec.targets;
            let scope_ok = match &p.namespace {
                Some(ns) => ns == namespace,
                None => {
                    (t.namespaces.is_empty()
                        || t.namespaces.iter().any(|g| glob_match(g, namespace)))
                        && !t
                            .excluded_namespaces
                            .iter()
                            .any(|g| glob_match(g, namespace))
                        && t.namespace_selector
                            .as_ref()
                            .is_none_or(|s| selector_matches(s, ns_labels))
                }
            };
            (scope_ok
                && compiled.targets(req.group, req.version, req.kind)
                && (t.operations.is_empty()
                    || t.operations.iter().any(|o| o == op_name(operation)))
                && t.pod_selector
                    .as_ref()
                    .is_none_or(|s| selector_matches(s, labels)))
            .then_some((p, &**compiled))
        })
    }
}

/// Whether a Kubernetes label selector matches labels (an empty selector matches everything).
pub fn selector_matches(s: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    s.match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v))
        && s.match_expressions.iter().flatten().all(|r| {
            let values = r.values.as_deref().unwrap_or_default();
            match r.operator.as_str() {
                "In" => labels.get(&r.key).is_some_and(|v| values.contains(v)),
                "NotIn" => labels.get(&r.key).is_none_or(|v| !values.contains(v)),
                "Exists" => labels.contains_key(&r.key),
                "DoesNotExist" => !labels.contains_key(&r.key),
                _ => false,
            }
        })
}

/// Pod Security Admission settings (upstream's `PodSecurityConfiguration`).
#[derive(Debug, Clone)]
pub struct PssConfig {
    /// Level for namespaces without an `enforce` label.
    pub enforce: LevelVersion,
    /// Level for namespaces without an `audit` label.
    pub audit: LevelVersion,
    /// Level for namespaces without a `warn` label.
    pub warn: LevelVersion,
    /// Users never evaluated.
    pub exempt_usernames: Vec<String>,
    /// Runtime classes never evaluated.
    pub exempt_runtime_classes: Vec<String>,
    /// Namespaces never evaluated.
    pub exempt_namespaces: Vec<String>,
    /// The newest policy minor version the API server knows: `latest` and newer versions
    /// evaluate as `v1.<newest_minor>` (upstream clamps to its binary's newest version).
    /// Default [`pss::NEWEST_MINOR`].
    pub newest_minor: u32,
}

impl Default for PssConfig {
    fn default() -> Self {
        let privileged = LevelVersion {
            level: Level::Privileged,
            version: Version::Latest,
        };
        PssConfig {
            enforce: privileged,
            audit: privileged,
            warn: privileged,
            exempt_usernames: Vec::new(),
            exempt_runtime_classes: Vec::new(),
            exempt_namespaces: Vec::new(),
            newest_minor: pss::NEWEST_MINOR,
        }
    }
}

const PSS_PREFIX: &str = "pod-security.kubernetes.io/";

/// The level a namespace's labels set for one mode (`enforce`, `audit`, `warn`), or the
/// default; an invalid label evaluates as `restricted:latest` with an error.
pub fn namespace_level(
    labels: &BTreeMap<String, String>,
    mode: &str,
    default: LevelVersion,
) -> (LevelVersion, Option<String>) {
    let level = labels.get(&format!("{PSS_PREFIX}{mode}"));
    let version = labels.get(&format!("{PSS_PREFIX}{mode}-version"));
    let mut error = None;
    let level = match level {
        None => default.level,
        Some(l) => match Level::parse(l) {
            Some(l) => l,
            None => {
                error = Some(format!("{PSS_PREFIX}{mode}: invalid level {l:?}"));
                // Upstream: an invalid enforce level fails closed; invalid audit/warn levels
                // add no noise.
                if mode == "enforce" {
                    Level::Restricted
                } else {
                    Level::Privileged
                }
            }
        },
    };
    let version = match version {
        None => default.version,
        Some(v) => match Version::parse(v) {
            Some(v) => v,
            None => {
                error = Some(format!("{PSS_PREFIX}{mode}-version: invalid version {v:?}"));
                Version::Latest
            }
        },
    };
    (LevelVersion { level, version }, error)
}

/// The three modes of a namespace (enforce, audit, warn). Like upstream, a namespace that sets
/// `enforce` but not `warn` warns at its enforce level, so workload templates whose pods would
/// be rejected say so.
pub fn namespace_modes(
    labels: &BTreeMap<String, String>,
    cfg: &PssConfig,
) -> ([LevelVersion; 3], Vec<String>) {
    let mut errors = Vec::new();
    let mut level = |mode: &str, default| {
        let (lv, err) = namespace_level(labels, mode, default);
        errors.extend(err);
        lv
    };
    let enforce = level("enforce", cfg.enforce);
    let audit = level("audit", cfg.audit);
    let mut warn = level("warn", cfg.warn);
    if !labels.contains_key(&format!("{PSS_PREFIX}warn"))
        && labels.contains_key(&format!("{PSS_PREFIX}enforce"))
        && enforce.level > warn.level
    {
        warn = enforce;
    }
    ([enforce, audit, warn], errors)
}

/// One reported violation (the `policy check` contract and the webhook's messages).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ViolationOut {
    /// `PodSecurity restricted:latest` or `SecurityPolicy ns/name`.
    pub policy: String,
    /// PSS check id or rule name.
    pub rule: String,
    /// What is wrong, naming the container and field.
    pub message: String,
    /// `enforce`, `warn` or `audit`.
    pub mode: &'static str,
}

/// The decision. Audit annotation keys are bare (`audit-violations`, `enforce-policy`,
/// `exempt`, `error`, `dryrun-violations`): the API server prefixes them with the webhook's
/// name and drops any key that already contains a `/`.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    /// Admitted or not.
    pub allowed: bool,
    /// Denial message.
    pub message: Option<String>,
    /// Warnings for the client.
    pub warnings: Vec<String>,
    /// Audit annotations.
    pub audit_annotations: BTreeMap<String, String>,
    /// Patch to apply (mutations).
    pub patch: Option<Patch>,
    /// Every violation, whatever its mode, up to [`MAX_VIOLATIONS`].
    pub violations: Vec<ViolationOut>,
    /// Violations past [`MAX_VIOLATIONS`], counted but not kept.
    pub violations_omitted: usize,
}

/// Violations a decision keeps; the rest are counted. A review of 10,000 containers must
/// cost memory in proportion to its body, not to its body times the policies.
pub const MAX_VIOLATIONS: usize = 200;

/// Findings a denial message, the warnings or an audit annotation spell out; past it, one
/// phrase says how many more (the API server stores and echoes these).
pub const MAX_REPORTED: usize = 20;

/// A list of findings that keeps the first [`MAX_REPORTED`] and counts the rest.
#[derive(Debug, Default)]
struct Reported {
    shown: Vec<String>,
    more: usize,
}

impl Reported {
    fn push(&mut self, text: String) {
        if self.shown.len() < MAX_REPORTED {
            self.shown.push(text);
        } else {
            self.more += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    fn joined(&self, what: &str) -> String {
        let mut out = self.shown.join("; ");
        if self.more > 0 {
            out.push_str(&format!("; and {} more {what}", self.more));
        }
        out
    }

    /// As separate lines (warnings), the count as a last line.
    fn lines(self, what: &str) -> Vec<String> {
        let mut out = self.shown;
        if self.more > 0 {
            out.push(format!("and {} more {what}", self.more));
        }
        out
    }
}

impl Decision {
    /// Keeps `v` while there is room; past [`MAX_VIOLATIONS`] an enforced violation still takes
    /// the place of a kept one that is not (a denial always lists why), and the rest are counted.
    fn violation(&mut self, v: ViolationOut) {
        if self.violations.len() < MAX_VIOLATIONS {
            self.violations.push(v);
            return;
        }
        self.violations_omitted += 1;
        if v.mode == "enforce"
            && let Some(i) = self.violations.iter().position(|x| x.mode != "enforce")
        {
            self.violations.remove(i);
            self.violations.push(v);
        }
    }
}

impl Decision {
    fn allow() -> Decision {
        Decision {
            allowed: true,
            ..Decision::default()
        }
    }
}

/// The operation as the API names it (`CREATE`).
pub fn op_name(o: Operation) -> &'static str {
    match o {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

/// Whether the request is about a pod-bearing object rampart evaluates.
fn judged_as_pod(req: &Request<'_>) -> bool {
    rampart_api::runs_pods(req.group, req.kind)
        && matches!(req.operation, Operation::Create | Operation::Update)
        // Only the ephemeralcontainers subresource changes what a pod runs.
        && req.sub_resource.is_none_or(|s| s == "ephemeralcontainers")
}

/// The objects of a request judged as a pod, read onto tapes once: the pod checks and the CEL
/// rules both read them there.
#[derive(Default)]
struct ReadObjects {
    object: Option<rampart_cel::Document>,
    old_object: Option<rampart_cel::Document>,
}

impl ReadObjects {
    fn new(req: &Request<'_>) -> ReadObjects {
        if !judged_as_pod(req) {
            return ReadObjects::default();
        }
        ReadObjects {
            object: req.object.and_then(|o| o.read()),
            old_object: req
                .old_object
                .filter(|_| req.operation == Operation::Update)
                .and_then(|o| o.read()),
        }
    }

    /// `req` reading its objects from the tapes.
    fn request<'b>(&'b self, req: &Request<'b>) -> Request<'b> {
        Request {
            object: req.object.map(|o| o.with(self.object.as_ref())),
            old_object: req.old_object.map(|o| o.with(self.old_object.as_ref())),
            ..*req
        }
    }
}

/// Whether the request is about a pod-bearing object rampart evaluates, and its pod.
fn pod_of(req: &Request<'_>) -> Result<Option<(PodSource, Option<PodSource>)>, ReviewError> {
    if !judged_as_pod(req) {
        return Ok(None);
    }
    let object = req
        .object
        .ok_or(ReviewError::MissingObject(op_name(req.operation)))?;
    let Some(new) = pod_source(req.kind, object)? else {
        return Ok(None);
    };
    let old = match req.old_object {
        Some(o) if req.operation == Operation::Update => pod_source(req.kind, o).ok().flatten(),
        _ => None,
    };
    Ok(Some((new, old)))
}

/// Decides `/validate`.
pub fn validate(
    req: &Request<'_>,
    ns_labels: &BTreeMap<String, String>,
    policies: &PolicySet,
    pss_config: &PssConfig,
) -> Result<Decision, ReviewError> {
    static NONE: std::sync::LazyLock<ObjectStore> = std::sync::LazyLock::new(ObjectStore::new);
    validate_with(req, ns_labels, policies, pss_config, &NONE)
}

/// [`validate`] with the cluster objects policies read known: their params objects and
/// inventories (unique hosts, existing storage classes, …).
pub fn validate_with(
    req: &Request<'_>,
    ns_labels: &BTreeMap<String, String>,
    policies: &PolicySet,
    pss_config: &PssConfig,
    objects: &ObjectStore,
) -> Result<Decision, ReviewError> {
    validate_images(req, ns_labels, policies, pss_config, objects, None)
}

/// [`validate_with`], judging `verifyImages` conditions by `images`: the verdicts the
/// webhook's registry adapter brought back for [`image_checks`]. With `None` (offline checks,
/// the background audit: nothing here asks a registry) those conditions are not judged.
pub fn validate_images(
    req: &Request<'_>,
    ns_labels: &BTreeMap<String, String>,
    policies: &PolicySet,
    pss_config: &PssConfig,
    objects: &ObjectStore,
    images: Option<&ImageVerdicts>,
) -> Result<Decision, ReviewError> {
    if req.group == "rampart.dev"
        && matches!(
            req.kind,
            "SecurityPolicy" | "ClusterSecurityPolicy" | "Guardian" | "ArmingPolicy"
        )
    {
        return Ok(validate_rampart_object(req));
    }
    let read = ReadObjects::new(req);
    let req = &read.request(req);
    let mut out = Outcome::default();
    match pod_of(req)? {
        Some((pod, old)) => {
            pod_security(
                req,
                &pod,
                old.as_ref(),
                ns_labels,
                pss_config,
                &mut out.d,
                &mut out.denials,
            );
            // An update that leaves the pod spec and labels alone (finalizers, owner
            // references, annotations) is not re-judged: objects admitted before a policy
            // existed stay manageable.
            let unchanged = old
                .as_ref()
                .is_some_and(|o| o.spec == pod.spec && o.meta.labels == pod.meta.labels);
            let pod_labels = pod.meta.labels.clone().unwrap_or_default();
            let containers = pod_containers(&pod.spec);
            let mut cel = CelInput::new(req, ns_labels);
            for (p, compiled) in policies
                .applicable(req, ns_labels, &pod_labels)
                .filter(|_| !unchanged)
            {
                let inputs = compiled.inputs(objects, req.namespace);
                for (ri, rule) in p.spec.rules.iter().enumerate() {
                    let mode = rule.action.unwrap_or(p.spec.enforcement_mode);
                    for f in evaluate_rule_with(rule, &pod, ns_labels, &containers) {
                        let who = f
                            .container
                            .as_ref()
                            .map(|c| format!("container {c:?}: "))
                            .unwrap_or_default();
                        out.violation(
                            p,
                            &rule.name,
                            mode,
                            format!("{who}{} (field {})", f.message, f.field),
                        );
                    }
                    if let Some(c) = compiled.rules.get(ri).filter(|c| c.has_cel()) {
                        out.cel(p, &rule.name, mode, c, &mut cel, &inputs);
                    }
                    if let Some(verdicts) = images {
                        for (_, image_rule) in compiled.images.iter().filter(|(r, _)| *r == ri) {
                            out.images(p, mode, image_rule, &containers, verdicts);
                        }
                    }
                }
            }
        }
        // Another kind (or a pod kind rampart does not read as a pod): the CEL rules of the
        // policies that name its kind.
        None => {
            if !matches!(req.operation, Operation::Create | Operation::Update)
                || req.sub_resource.is_some()
                || req.object.is_none()
            {
                return Ok(Decision::allow());
            }
            let mut cel = CelInput::new(req, ns_labels);
            let labels = req
                .object
                .and_then(|o| o.typed::<Labelled>().ok())
                .map(|l| l.metadata.labels)
                .unwrap_or_default();
            for (p, compiled) in policies.applicable(req, ns_labels, &labels) {
                let inputs = compiled.inputs(objects, req.namespace);
                for (ri, rule) in p.spec.rules.iter().enumerate() {
                    let mode = rule.action.unwrap_or(p.spec.enforcement_mode);
                    if let Some(c) = compiled.rules.get(ri).filter(|c| c.has_cel()) {
                        out.cel(p, &rule.name, mode, c, &mut cel, &inputs);
                    }
                }
            }
        }
    }
    Ok(out.finish(req))
}

/// An object's labels, read without the rest of it.
#[derive(serde::Deserialize)]
struct Labelled {
    #[serde(default)]
    metadata: LabelledMeta,
}

#[derive(serde::Deserialize, Default)]
struct LabelledMeta {
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// What the policies found of one request, gathered into its decision.
struct Outcome {
    d: Decision,
    denials: Reported,
    warnings: Reported,
    dryrun: Reported,
}

impl Default for Outcome {
    fn default() -> Outcome {
        Outcome {
            d: Decision::allow(),
            denials: Reported::default(),
            warnings: Reported::default(),
            dryrun: Reported::default(),
        }
    }
}

impl Outcome {
    /// A violation of rule `rule` of `p`, in `mode`.
    fn violation(&mut self, p: &NamedPolicy, rule: &str, mode: EnforcementMode, message: String) {
        let text = format!("{} rule {rule:?}: {message}", p.display());
        self.d.violation(ViolationOut {
            policy: p.display(),
            rule: rule.to_string(),
            message,
            mode: match mode {
                EnforcementMode::Enforce => "enforce",
                EnforcementMode::Warn => "warn",
                EnforcementMode::Dryrun => "audit",
            },
        });
        match mode {
            EnforcementMode::Enforce => {
                let hint = p
                    .spec
                    .remediation
                    .as_ref()
                    .map(|r| format!(" — {r}"))
                    .unwrap_or_default();
                self.denials.push(format!("{text}{hint}"));
            }
            EnforcementMode::Warn => self.warnings.push(text),
            EnforcementMode::Dryrun => self.dryrun.push(text),
        }
    }

    /// The CEL of one rule: its violations, and the expressions that could not be evaluated as
    /// violations too unless the policy ignores failures.
    fn cel(
        &mut self,
        p: &NamedPolicy,
        rule: &str,
        mode: EnforcementMode,
        compiled: &CompiledRule,
        input: &mut CelInput<'_>,
        inputs: &Inputs<'_>,
    ) {
        let fail = p.spec.failure_policy == FailurePolicy::Fail;
        let (params, inventory) = match inputs {
            Inputs::Skip => return,
            Inputs::Missing(why) => return self.violation(p, rule, mode, why.clone()),
            Inputs::Unavailable(why) => {
                if fail {
                    self.violation(p, rule, mode, why.clone());
                }
                return;
            }
            Inputs::Ready { params, inventory } => (params, inventory),
        };
        let Some(scope) = input.scope() else {
            if p.spec.failure_policy == FailurePolicy::Fail {
                self.violation(p, rule, mode, "the object is not JSON CEL can read".into());
            }
            return;
        };
        if let Some(params) = params {
            scope.bind_prepared("params", params);
        }
        if let Some(inventory) = inventory {
            scope.bind_prepared("inventory", inventory);
        }
        for f in cel_rules::evaluate(compiled, scope) {
            match f {
                CelFinding::Violation { field, message } => {
                    self.violation(p, rule, mode, format!("{message} ({field})"));
                }
                CelFinding::Error { field, message } => {
                    if p.spec.failure_policy == FailurePolicy::Fail {
                        self.violation(p, rule, mode, format!("{message} ({field})"));
                    }
                }
            }
        }
    }

    /// A `verifyImages` condition: each covered image's verdict. An image that did not verify
    /// is a violation in the rule's mode (`required: false`: recorded for the audit only); one
    /// that could not be checked follows the policy's `failurePolicy`.
    fn images(
        &mut self,
        p: &NamedPolicy,
        mode: EnforcementMode,
        rule: &ImageRule,
        containers: &[(String, crate::conditions::PodContainer<'_>)],
        verdicts: &ImageVerdicts,
    ) {
        let key = crate::images::rule_key(&p.display(), rule);
        let mode = if rule.required {
            mode
        } else {
            EnforcementMode::Dryrun
        };
        let mut seen = std::collections::BTreeSet::new();
        for (field, c) in containers {
            let Some(image) = c.as_ref().image.as_deref() else {
                continue;
            };
            if !covered(rule, image) || !seen.insert(image) {
                continue;
            }
            let text = |why: String| format!("container field {field}: image {image}: {why}");
            match verdicts.get(&key, image) {
                Some(ImageVerdict::Verified(_)) => {}
                Some(ImageVerdict::Rejected(r)) => {
                    self.violation(p, &rule.rule, mode, text(r.to_string()));
                }
                Some(ImageVerdict::BadReference(why)) => {
                    self.violation(p, &rule.rule, mode, text(why.clone()));
                }
                Some(ImageVerdict::Unavailable(why)) => {
                    self.unverified(
                        p,
                        &rule.rule,
                        mode,
                        text(format!("could not be verified: {why}")),
                    );
                }
                None => self.unverified(
                    p,
                    &rule.rule,
                    mode,
                    text(
                        "could not be verified: no verdict (the webhook checks no signatures)"
                            .into(),
                    ),
                ),
            }
        }
    }

    /// An image that could not be checked: a violation when the policy fails closed, a warning
    /// when it ignores failures.
    fn unverified(&mut self, p: &NamedPolicy, rule: &str, mode: EnforcementMode, message: String) {
        if p.spec.failure_policy == FailurePolicy::Fail {
            self.violation(p, rule, mode, message);
        } else {
            self.warnings.push(format!(
                "{} rule {rule:?}: {message} (failurePolicy Ignore)",
                p.display()
            ));
        }
    }

    fn finish(self, req: &Request<'_>) -> Decision {
        let Outcome {
            mut d,
            denials,
            warnings,
            dryrun,
        } = self;
        d.warnings.extend(warnings.lines("warnings"));
        if !dryrun.is_empty() {
            d.audit_annotations
                .insert("dryrun-violations".into(), dryrun.joined("violations"));
        }
        if !denials.is_empty() {
            d.allowed = false;
            // apimachinery's `NewForbidden`: `pods "x" is forbidden: …`, `pods is forbidden: …`
            // without a name (generateName).
            let gr = group_resource(req);
            let what = if req.name.is_empty() {
                gr
            } else {
                format!("{gr} {:?}", req.name)
            };
            d.message = Some(format!(
                "{what} is forbidden: {}",
                denials.joined("violations")
            ));
        }
        d
    }
}

/// A request's CEL variables, built the first time a rule needs them and shared by every rule
/// (most requests meet no CEL rule and never pay for them).
struct CelInput<'a> {
    req: &'a Request<'a>,
    ns_labels: &'a BTreeMap<String, String>,
    scope: Option<Option<rampart_cel::Scope<'static>>>,
}

impl<'a> CelInput<'a> {
    fn new(req: &'a Request<'a>, ns_labels: &'a BTreeMap<String, String>) -> CelInput<'a> {
        CelInput {
            req,
            ns_labels,
            scope: None,
        }
    }

    fn scope(&mut self) -> Option<&mut rampart_cel::Scope<'static>> {
        if self.scope.is_none() {
            let req = self.req;
            let request = RequestView::of(req);
            let built = req.object.and_then(|object| {
                cel_rules::activation(
                    &request,
                    object,
                    req.old_object,
                    req.namespace,
                    self.ns_labels,
                )
            });
            self.scope = Some(built.as_ref().map(rampart_cel::Scope::new));
        }
        self.scope.as_mut().and_then(Option::as_mut)
    }
}

/// The `request` variable of CEL expressions: what an AdmissionReview's request says of it.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView<'a> {
    /// `CREATE`, `UPDATE`, …
    pub operation: &'a str,
    /// The object's name.
    pub name: &'a str,
    /// Its namespace (empty for a cluster-scoped one).
    pub namespace: &'a str,
    /// Its kind.
    pub kind: KindView<'a>,
    /// Its resource.
    pub resource: ResourceView<'a>,
    /// The subresource (empty for none).
    pub sub_resource: &'a str,
    /// Who asks.
    pub user_info: UserView<'a>,
}

/// `request.kind`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct KindView<'a> {
    /// API group (`""` for core).
    pub group: &'a str,
    /// API version.
    pub version: &'a str,
    /// Kind.
    pub kind: &'a str,
}

/// `request.resource`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ResourceView<'a> {
    /// API group.
    pub group: &'a str,
    /// API version.
    pub version: &'a str,
    /// The resource (plural).
    pub resource: std::borrow::Cow<'a, str>,
}

/// `request.userInfo`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UserView<'a> {
    /// The user's name.
    pub username: &'a str,
}

impl<'a> RequestView<'a> {
    /// What `req` says.
    pub fn of(req: &Request<'a>) -> RequestView<'a> {
        let resource = if req.resource.is_empty() {
            resource_of_kind(req.kind).into()
        } else {
            req.resource.into()
        };
        RequestView {
            operation: op_name(req.operation),
            name: req.name,
            namespace: req.namespace,
            kind: KindView {
                group: req.group,
                version: req.version,
                kind: req.kind,
            },
            resource: ResourceView {
                group: req.group,
                version: req.version,
                resource,
            },
            sub_resource: req.sub_resource.unwrap_or_default(),
            user_info: UserView {
                username: req.username,
            },
        }
    }
}

/// `GroupResource.String()`: `pods`, `deployments.apps`.
pub fn group_resource(req: &Request<'_>) -> String {
    let resource = if req.resource.is_empty() {
        resource_of_kind(req.kind)
    } else {
        req.resource.to_string()
    };
    if req.group.is_empty() {
        resource
    } else {
        format!("{resource}.{}", req.group)
    }
}

/// The resource name of a kind (`Pod` → `pods`, `Ingress` → `ingresses`, `NetworkPolicy` →
/// `networkpolicies`), as kube-rs derives it for the built-in kinds.
pub fn resource_of_kind(kind: &str) -> String {
    kube::core::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk("", "v1", kind)).plural
}

fn pod_security(
    req: &Request<'_>,
    pod: &PodSource,
    old: Option<&PodSource>,
    ns_labels: &BTreeMap<String, String>,
    cfg: &PssConfig,
    d: &mut Decision,
    denials: &mut Reported,
) {
    let runtime_class = pod.spec.runtime_class_name.as_deref().unwrap_or("");
    let exempt = if cfg.exempt_usernames.iter().any(|u| u == req.username) {
        Some("user")
    } else if cfg.exempt_namespaces.iter().any(|n| n == req.namespace) {
        Some("namespace")
    } else if !runtime_class.is_empty()
        && cfg
            .exempt_runtime_classes
            .iter()
            .any(|r| r == runtime_class)
    {
        Some("runtimeClass")
    } else {
        None
    };
    if let Some(e) = exempt {
        d.audit_annotations.insert("exempt".into(), e.to_string());
        return;
    }
    // Like upstream, a pod update is re-evaluated only when what runs changes (images,
    // seccomp annotations, containers added); tolerations, deadlines, labels and finalizers
    // never block on a raised level. Workload templates are evaluated on every update (they
    // only warn and audit).
    if let Some(old) = old
        && req.sub_resource.is_none()
        && pod.is_pod()
        && !significant_pod_update(old, pod)
    {
        return;
    }
    let ([enforce, audit, warn], errors) = namespace_modes(ns_labels, cfg);
    if !errors.is_empty() {
        d.audit_annotations
            .insert("error".into(), errors.join("; "));
    }
    let describe = |v: &[pss::Violation]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let record = |lv: LevelVersion, mode: &'static str, v: &[pss::Violation], d: &mut Decision| {
        for x in v {
            d.violation(ViolationOut {
                policy: format!("PodSecurity {lv}"),
                rule: x.check.to_string(),
                message: x.to_string(),
                mode,
            });
        }
    };
    let mut denied_at = None;
    if pod.is_pod() {
        d.audit_annotations
            .insert("enforce-policy".into(), enforce.to_string());
        let v = pss::evaluate_at(enforce, cfg.newest_minor, &pod.meta, &pod.spec);
        if !v.is_empty() {
            denied_at = Some(enforce);
            denials.push(format!(
                "violates PodSecurity {:?}: {}",
                enforce.to_string(),
                describe(&v)
            ));
            record(enforce, "enforce", &v, d);
        }
    }
    let v = pss::evaluate_at(audit, cfg.newest_minor, &pod.meta, &pod.spec);
    if !v.is_empty() {
        d.audit_annotations.insert(
            "audit-violations".to_string(),
            format!(
                "would violate PodSecurity {:?}: {}",
                audit.to_string(),
                describe(&v)
            ),
        );
        record(audit, "audit", &v, d);
    }
    // A denied request gets no warnings (upstream): the denial says it all.
    let v = if denied_at.is_some() {
        Vec::new()
    } else {
        pss::evaluate_at(warn, cfg.newest_minor, &pod.meta, &pod.spec)
    };
    if !v.is_empty() {
        // Upstream words a template's warning exactly as a pod's.
        d.warnings.push(format!(
            "would violate PodSecurity {:?}: {}",
            warn.to_string(),
            describe(&v)
        ));
        record(warn, "warn", &v, d);
    }
}

/// Every container's (name, image), in order: what a pod runs.
/// Upstream's `isSignificantPodUpdate` (pod-security-admission `admission/admission.go`): the
/// pod-level seccomp annotation changed, the number of containers or init containers changed,
/// a container at the same position changed its image or its seccomp annotation, or an
/// ephemeral container was added or changed either.
fn significant_pod_update(old: &PodSource, new: &PodSource) -> bool {
    use k8s_openapi::api::core::v1::PodSpec;
    const POD_KEY: &str = "seccomp.security.alpha.kubernetes.io/pod";
    const CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";
    let annotation = |p: &PodSource, key: &str| -> Option<String> {
        p.meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .cloned()
    };
    let container_changed =
        |name: &str, image: Option<&str>, old_name: &str, old_image: Option<&str>| {
            image != old_image
                || annotation(new, &format!("{CONTAINER_PREFIX}{name}"))
                    != annotation(old, &format!("{CONTAINER_PREFIX}{old_name}"))
        };
    if annotation(new, POD_KEY) != annotation(old, POD_KEY) {
        return true;
    }
    let (n, o): (&PodSpec, &PodSpec) = (&new.spec, &old.spec);
    let inits = |s: &'_ PodSpec| s.init_containers.as_deref().unwrap_or_default().len();
    if n.containers.len() != o.containers.len() || inits(n) != inits(o) {
        return true;
    }
    let positional = n
        .containers
        .iter()
        .zip(&o.containers)
        .chain(
            n.init_containers
                .iter()
                .flatten()
                .zip(o.init_containers.iter().flatten()),
        )
        .any(|(c, oc)| {
            container_changed(&c.name, c.image.as_deref(), &c.name, oc.image.as_deref())
        });
    if positional {
        return true;
    }
    n.ephemeral_containers.iter().flatten().any(|c| {
        match o
            .ephemeral_containers
            .iter()
            .flatten()
            .find(|oc| oc.name == c.name)
        {
            None => true,
            Some(oc) => {
                container_changed(&c.name, c.image.as_deref(), &oc.name, oc.image.as_deref())
            }
        }
    })
}

/// A rampart object (SecurityPolicy, ClusterSecurityPolicy, Guardian) that rampart could not
/// apply as written is refused when it is written, every problem named with its path.
fn validate_rampart_object(req: &Request<'_>) -> Decision {
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return Decision::allow();
    }
    let Some(object) = req.object else {
        return Decision::allow();
    };
    let spec = object
        .typed::<Value>()
        .ok()
        .and_then(|v| v.get("spec").cloned())
        .unwrap_or(Value::Null);
    let errors: Vec<String> = match spec_errors(req.kind, spec) {
        Ok(problems) => problems.iter().map(ToString::to_string).collect(),
        Err(e) => vec![format!("spec: {e}")],
    };
    if errors.is_empty() {
        return Decision::allow();
    }
    Decision {
        allowed: false,
        message: Some(format!(
            "{} {:?} is invalid: {}",
            req.kind,
            req.name,
            errors.join("; ")
        )),
        ..Decision::default()
    }
}

/// The problems of a rampart object's spec; `Err` when it is not of the kind's shape at all.
fn spec_errors(kind: &str, spec: Value) -> Result<Vec<rampart_api::SpecError>, String> {
    match kind {
        "Guardian" => serde_json::from_value::<rampart_api::GuardianSpec>(spec)
            .map(|s| rampart_guard::check::guardian(&s)),
        "ArmingPolicy" => {
            serde_json::from_value::<rampart_api::ArmingPolicySpec>(spec).map(|s| s.validate())
        }
        "ClusterSecurityPolicy" => {
            serde_json::from_value::<rampart_api::ClusterSecurityPolicySpec>(spec)
                .map(|c| c.policy.validate())
        }
        _ => serde_json::from_value::<SecurityPolicySpec>(spec).map(|s| s.validate_namespaced()),
    }
    .map_err(|e| e.to_string())
}

/// Decides `/mutate`: the patch that the applicable policies' mutations ask for, and the
/// request guard's gate when the pod asks for it and `guard` is configured.
pub fn mutate(
    req: &Request<'_>,
    ns_labels: &BTreeMap<String, String>,
    policies: &PolicySet,
    guard: Option<&crate::inject::GuardInjection>,
) -> Result<Decision, ReviewError> {
    mutate_images(req, ns_labels, policies, guard, None)
}

/// [`mutate`], pinning the images `verifyImages` conditions verified (`mutateDigest`) to the
/// digest that was checked, so the node pulls exactly that.
pub fn mutate_images(
    req: &Request<'_>,
    ns_labels: &BTreeMap<String, String>,
    policies: &PolicySet,
    guard: Option<&crate::inject::GuardInjection>,
    images: Option<&ImageVerdicts>,
) -> Result<Decision, ReviewError> {
    let Some((pod, old)) = pod_of(req)? else {
        return Ok(Decision::allow());
    };
    // A pod's spec is immutable after creation: only creations are mutated (a patch on an
    // update would make every later update of the pod fail). A template is mutated when it is
    // created or changed, so unrelated updates never trigger a rollout.
    let mutable = match (pod.is_pod(), &old) {
        (true, _) => req.operation == Operation::Create && req.sub_resource.is_none(),
        (false, Some(o)) => o.spec != pod.spec || o.meta != pod.meta,
        (false, None) => true,
    };
    // Patches add below the pod spec: it must exist in the object as sent.
    if !mutable || !pod.spec_present {
        return Ok(Decision::allow());
    }
    let pod_labels = pod.meta.labels.clone().unwrap_or_default();
    // Merge the mutations of every applicable policy (a union of the defaults; the first
    // policy, in name order, wins a conflicting default).
    let mut merged = rampart_api::Mutations::default();
    let mut any = false;
    let mut pins = BTreeMap::new();
    for (p, compiled) in policies.applicable(req, ns_labels, &pod_labels) {
        if let Some(verdicts) = images {
            pin_images(&p.display(), compiled, &pod, verdicts, &mut pins);
        }
        let Some(m) = &p.spec.mutations else { continue };
        any = true;
        for (k, v) in &m.default_requests {
            merged
                .default_requests
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        for (k, v) in &m.default_limits {
            merged
                .default_limits
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        merged.run_as_non_root |= m.run_as_non_root;
        merged.seccomp_runtime_default |= m.seccomp_runtime_default;
        merged.drop_all_capabilities |= m.drop_all_capabilities;
        merged.disallow_privilege_escalation |= m.disallow_privilege_escalation;
    }
    let mut d = Decision::allow();
    let mut ops = Vec::new();
    if any {
        ops.extend(mutate::patch(&pod, &merged).0);
    }
    for (path, image) in pins {
        // The pointers are built from field names and indexes: they always parse.
        if let Ok(path) = path.parse() {
            ops.push(json_patch::PatchOperation::Replace(
                json_patch::ReplaceOperation {
                    path,
                    value: Value::String(image),
                },
            ));
        }
    }
    match guard.map(|g| crate::inject::patch(&pod, ns_labels, g)) {
        Some(crate::inject::Injected::Patch(more)) => {
            d.audit_annotations.insert(
                "rampart.dev/guard".into(),
                "the request guard's gate was injected".into(),
            );
            ops.extend(more);
        }
        Some(crate::inject::Injected::Skipped(why)) => d.warnings.push(why),
        Some(crate::inject::Injected::No) | None => {}
    }
    if !ops.is_empty() {
        d.patch = Some(json_patch::Patch(ops));
    }
    Ok(d)
}

/// Whether `rule` gates `image`: its normalised reference, or, when it does not parse (a
/// digest of another algorithm, an invalid name), the reference as written — a gated one is
/// refused with the reason.
fn covered(rule: &ImageRule, image: &str) -> bool {
    match rampart_signatures::ImageRef::parse(image) {
        Ok(r) => rule.covers(&r),
        Err(_) => rule.globs.iter().any(|g| g.matches_text(image)),
    }
}

/// The images of the admitted pod that the applicable policies' `verifyImages` conditions
/// gate: what the webhook must verify before it decides. Empty when nothing is gated, and for
/// updates that leave the pod spec alone (they are not re-judged).
pub fn image_checks(
    req: &Request<'_>,
    ns_labels: &BTreeMap<String, String>,
    policies: &PolicySet,
) -> Result<Vec<ImageCheck>, ReviewError> {
    if !policies.has_image_rules() {
        return Ok(Vec::new());
    }
    let Some((pod, old)) = pod_of(req)? else {
        return Ok(Vec::new());
    };
    if old
        .as_ref()
        .is_some_and(|o| o.spec == pod.spec && o.meta.labels == pod.meta.labels)
    {
        return Ok(Vec::new());
    }
    let pod_labels = pod.meta.labels.clone().unwrap_or_default();
    let containers = pod_containers(&pod.spec);
    let mut checks: Vec<ImageCheck> = Vec::new();
    for (p, compiled) in policies.applicable(req, ns_labels, &pod_labels) {
        for (_, rule) in &compiled.images {
            let key = crate::images::rule_key(&p.display(), rule);
            for (_, c) in &containers {
                let Some(image) = c.as_ref().image.as_deref() else {
                    continue;
                };
                if covered(rule, image) && !checks.iter().any(|k| k.key == key && k.image == image)
                {
                    checks.push(ImageCheck {
                        key: key.clone(),
                        rule: rule.clone(),
                        image: image.to_string(),
                    });
                }
            }
        }
    }
    Ok(checks)
}

/// The `mutateDigest` pins of one policy: JSON pointer of each verified container image not
/// already pinned to the verified digest, and its pinned reference.
fn pin_images(
    policy: &str,
    compiled: &CompiledPolicy,
    pod: &PodSource,
    verdicts: &ImageVerdicts,
    pins: &mut BTreeMap<String, String>,
) {
    let lists = [
        (
            "initContainers",
            pod.spec.init_containers.as_deref().unwrap_or_default(),
        ),
        ("containers", pod.spec.containers.as_slice()),
    ];
    for (_, rule) in compiled.images.iter().filter(|(_, r)| r.mutate_digest) {
        let key = crate::images::rule_key(policy, rule);
        for (list, containers) in lists {
            for (i, c) in containers.iter().enumerate() {
                let Some(image) = c.image.as_deref() else {
                    continue;
                };
                let Some(digest) = verdicts.get(&key, image).and_then(ImageVerdict::digest) else {
                    continue;
                };
                let Ok(parsed) = rampart_signatures::ImageRef::parse(image) else {
                    continue;
                };
                if parsed.digest() != Some(digest) {
                    pins.entry(format!("{}/{list}/{i}/image", pod.spec_pointer))
                        .or_insert_with(|| parsed.pinned(digest));
                }
            }
        }
    }
}

/// The names of the pull secrets of the admitted pod (`spec.imagePullSecrets`, the
/// ServiceAccount's already added by the API server): the credentials its images are pulled with.
pub fn pull_secret_names(req: &Request<'_>) -> Vec<String> {
    match pod_of(req) {
        Ok(Some((pod, _))) => pod
            .spec
            .image_pull_secrets
            .iter()
            .flatten()
            .filter(|r| !r.name.is_empty())
            .map(|r| r.name.clone())
            .collect(),
        _ => Vec::new(),
    }
}
