//! Kubernetes' own ValidatingAdmissionPolicy (`admissionregistration.k8s.io/v1`), offline:
//! policies and their bindings judged against manifests with the same CEL engine as
//! SecurityPolicy rules (`rampart policy check --vap`, `PolicyTest.vap`) — the test tool VAP
//! users lack. What the API server would do on creating the object: `matchConstraints` and the
//! binding's `matchResources` (resource rules and their exclusions, namespace and object
//! selectors), `paramKind` with the binding's `paramRef` (by name or selector, the request's
//! namespace when none is named, `parameterNotFoundAction`), `matchConditions`, `variables`,
//! `validations` (message, messageExpression, reason) under `failurePolicy`, `auditAnnotations`,
//! and `validationActions` Deny / Warn / Audit. `authorizer` checks need the API server and
//! are refused when the policy is read.

use std::collections::BTreeMap;

use k8s_openapi::api::admissionregistration::v1::{
    MatchResources, NamedRuleWithOperations, ParamRef, ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding,
};
use rampart_api::SpecError;
use rampart_cel::{Expression, Prepared, Scope};
use serde_json::Value;

use crate::cel_rules::{self, CelFinding, CompiledCondition, CompiledRule};
use crate::review::{Request, ViolationOut, selector_matches};

/// Kinds without a namespace (the built-in ones), for `scope` in resource rules.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "PriorityClass",
    "RuntimeClass",
    "IngressClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "APIService",
    "CertificateSigningRequest",
];

/// A ValidatingAdmissionPolicy, compiled.
#[derive(Debug, Clone)]
pub struct CompiledVap {
    name: String,
    rule: CompiledRule,
    audit_annotations: Vec<(String, Expression)>,
    /// `failurePolicy: Fail` (the default): an expression that cannot be evaluated fails the
    /// validation.
    fail: bool,
    constraints: MatchResources,
    /// `paramKind`: `apiVersion` and `kind`.
    param_kind: Option<(String, String)>,
}

/// What a policy's validation found, per binding action.
#[derive(Debug, Clone, Default)]
pub struct VapOutcome {
    /// One per failed validation and action (`enforce` for Deny, `warn`, `audit`).
    pub violations: Vec<ViolationOut>,
    /// `auditAnnotations`: `policy/key` and value.
    pub audit_annotations: BTreeMap<String, String>,
}

/// Policies and bindings read from files, and the objects their `paramRef`s may name.
#[derive(Debug, Clone, Default)]
pub struct VapSet {
    policies: BTreeMap<String, CompiledVap>,
    bindings: Vec<ValidatingAdmissionPolicyBinding>,
    params: Vec<Value>,
}

/// Where a path in a VAP is, for errors: `ValidatingAdmissionPolicy x: spec.validations[0]…`.
fn err(path: String, message: impl Into<String>) -> SpecError {
    SpecError {
        path,
        message: message.into(),
    }
}

/// Compiles one expression of the policy at `path`.
fn compile_at(path: String, source: &str, errors: &mut Vec<SpecError>) -> Option<Expression> {
    // A VAP always has `params` (null without a `paramKind`) and `variables`.
    let vars: Vec<&str> = [rampart_cel::REQUEST_VARIABLES, &["params", "variables"]].concat();
    match Expression::compile(source, &vars) {
        Ok(e) => Some(e),
        Err(e) => {
            let hint = match &e {
                rampart_cel::CompileError::Undeclared { name, .. } if name == "authorizer" => {
                    " (authorization checks need the API server; rampart evaluates offline)"
                }
                _ => "",
            };
            errors.push(err(path, format!("{e}{hint}")));
            None
        }
    }
}

impl CompiledVap {
    /// Compiles a policy: every expression once, each error with its path.
    pub fn compile(v: &ValidatingAdmissionPolicy) -> Result<CompiledVap, Vec<SpecError>> {
        let name = v.metadata.name.clone().unwrap_or_default();
        let mut errors = Vec::new();
        if name.is_empty() {
            errors.push(err("metadata.name".into(), "is required"));
        }
        let spec = v.spec.clone().unwrap_or_default();
        let mut variables = Vec::new();
        for (i, x) in spec.variables.iter().flatten().enumerate() {
            if let Some(e) = compile_at(
                format!("spec.variables[{i}].expression"),
                &x.expression,
                &mut errors,
            ) {
                variables.push((x.name.clone(), e));
            }
        }
        let mut match_conditions = Vec::new();
        for (i, x) in spec.match_conditions.iter().flatten().enumerate() {
            if let Some(e) = compile_at(
                format!("spec.matchConditions[{i}].expression"),
                &x.expression,
                &mut errors,
            ) {
                match_conditions.push((x.name.clone(), e));
            }
        }
        let mut conditions = Vec::new();
        let validations = spec.validations.clone().unwrap_or_default();
        let annotations = spec.audit_annotations.clone().unwrap_or_default();
        if validations.is_empty() && annotations.is_empty() {
            errors.push(err(
                "spec.validations".into(),
                "a policy needs validations or auditAnnotations",
            ));
        }
        for (i, x) in validations.iter().enumerate() {
            let at = format!("spec.validations[{i}]");
            let expression = compile_at(format!("{at}.expression"), &x.expression, &mut errors);
            let message_expression = x
                .message_expression
                .as_ref()
                .and_then(|m| compile_at(format!("{at}.messageExpression"), m, &mut errors));
            if let Some(expression) = expression {
                let message = x.message.clone().map(|m| match &x.reason {
                    Some(r) if r != "Invalid" => format!("{m} (reason: {r})"),
                    _ => m,
                });
                conditions.push(Some(CompiledCondition::new(
                    format!("validations[{i}]"),
                    expression,
                    message,
                    message_expression,
                )));
            }
        }
        let mut audit_annotations = Vec::new();
        for (i, a) in annotations.iter().enumerate() {
            if let Some(e) = compile_at(
                format!("spec.auditAnnotations[{i}].valueExpression"),
                &a.value_expression,
                &mut errors,
            ) {
                audit_annotations.push((a.key.clone(), e));
            }
        }
        let fail = match spec.failure_policy.as_deref() {
            None | Some("Fail") => true,
            Some("Ignore") => false,
            Some(other) => {
                errors.push(err(
                    "spec.failurePolicy".into(),
                    format!("{other:?} is neither Fail nor Ignore"),
                ));
                true
            }
        };
        let constraints = spec.match_constraints.clone().unwrap_or_default();
        if constraints
            .resource_rules
            .as_ref()
            .is_none_or(Vec::is_empty)
        {
            errors.push(err(
                "spec.matchConstraints.resourceRules".into(),
                "at least one resource rule is required",
            ));
        }
        let param_kind = spec.param_kind.as_ref().map(|k| {
            (
                k.api_version.clone().unwrap_or_default(),
                k.kind.clone().unwrap_or_default(),
            )
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CompiledVap {
            name,
            rule: CompiledRule::new(variables, match_conditions, conditions),
            audit_annotations,
            fail,
            constraints,
            param_kind,
        })
    }
}

/// Whether list `l` holds `v` or `*`.
fn has(l: &Option<Vec<String>>, v: &str) -> bool {
    l.iter().flatten().any(|x| x == "*" || x == v)
}

/// What a resource rule is matched against.
struct Target<'a> {
    group: &'a str,
    version: &'a str,
    resource: &'a str,
    name: &'a str,
    namespaced: bool,
    operation: &'a str,
}

fn rule_matches(r: &NamedRuleWithOperations, t: &Target<'_>) -> bool {
    let resource_ok = r
        .resources
        .iter()
        .flatten()
        .any(|x| x == "*" || x == "*/*" || x == t.resource);
    let scope_ok = match r.scope.as_deref() {
        Some("Cluster") => !t.namespaced,
        Some("Namespaced") => t.namespaced,
        _ => true,
    };
    has(&r.operations, t.operation)
        && has(&r.api_groups, t.group)
        && has(&r.api_versions, t.version)
        && resource_ok
        && scope_ok
        && (r.resource_names.as_ref().is_none_or(Vec::is_empty)
            || r.resource_names.iter().flatten().any(|n| n == t.name))
}

/// Whether `m` selects the object (`rules_required`: a policy's constraints must name
/// resources; a binding's may leave them out, constraining nothing).
fn selects(
    m: &MatchResources,
    rules_required: bool,
    t: &Target<'_>,
    ns_labels: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    let rules = m.resource_rules.as_deref().unwrap_or_default();
    let rules_ok =
        (!rules_required && rules.is_empty()) || rules.iter().any(|r| rule_matches(r, t));
    let excluded = m
        .exclude_resource_rules
        .iter()
        .flatten()
        .any(|r| rule_matches(r, t));
    // A cluster-scoped object meets every namespace selector; a Namespace meets it with its
    // own labels.
    let ns_ok = !t.namespaced && t.resource != "namespaces"
        || m.namespace_selector.as_ref().is_none_or(|s| {
            let own = if t.resource == "namespaces" {
                labels
            } else {
                ns_labels
            };
            selector_matches(s, own)
        });
    let object_ok = m
        .object_selector
        .as_ref()
        .is_none_or(|s| selector_matches(s, labels));
    rules_ok && !excluded && ns_ok && object_ok
}

fn labels_of(v: &Value) -> BTreeMap<String, String> {
    v.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

impl VapSet {
    /// The policies and bindings among `docs` (`(where, object)`); other objects are params
    /// candidates. Errors say which document and what is wrong.
    pub fn from_documents<'a>(
        docs: impl IntoIterator<Item = (String, &'a Value)>,
    ) -> (VapSet, Vec<String>) {
        let mut set = VapSet::default();
        let mut errors = Vec::new();
        for (at, v) in docs {
            let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
            match (api, kind) {
                ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy") => {
                    match serde_json::from_value::<ValidatingAdmissionPolicy>(v.clone()) {
                        Ok(p) => match CompiledVap::compile(&p) {
                            Ok(c) => {
                                set.policies.insert(c.name.clone(), c);
                            }
                            Err(es) => errors.extend(es.iter().map(|e| {
                                format!(
                                    "{at}: ValidatingAdmissionPolicy {:?}: {e}",
                                    p.metadata.name.as_deref().unwrap_or("")
                                )
                            })),
                        },
                        Err(e) => errors.push(format!("{at}: ValidatingAdmissionPolicy: {e}")),
                    }
                }
                ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding") => {
                    match serde_json::from_value::<ValidatingAdmissionPolicyBinding>(v.clone()) {
                        Ok(b) => match binding_errors(&b) {
                            Some(e) => errors.push(format!(
                                "{at}: ValidatingAdmissionPolicyBinding {:?}: {e}",
                                b.metadata.name.as_deref().unwrap_or("")
                            )),
                            None => set.bindings.push(b),
                        },
                        Err(e) => {
                            errors.push(format!("{at}: ValidatingAdmissionPolicyBinding: {e}"))
                        }
                    }
                }
                _ => set.params.push(v.clone()),
            }
        }
        for b in &set.bindings {
            let policy = &b.spec.policy_name;
            if !set.policies.contains_key(policy) {
                errors.push(format!(
                    "ValidatingAdmissionPolicyBinding {:?} names policy {policy:?}, which is not among the files (or is invalid)",
                    b.metadata.name.as_deref().unwrap_or("")
                ));
            }
        }
        (set, errors)
    }

    /// More objects `paramRef`s may name (the inventory).
    pub fn add_params<'a>(&mut self, objects: impl IntoIterator<Item = &'a Value>) {
        self.params.extend(objects.into_iter().cloned());
    }

    /// Number of bindings (each judges as its policy says).
    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    /// Whether there is no binding.
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    /// What every binding says of `req` (its object, `object`, defaulted as the API server
    /// would), in a namespace labelled `ns_labels`.
    pub fn review(
        &self,
        req: &Request<'_>,
        object: &Value,
        ns_labels: &BTreeMap<String, String>,
    ) -> VapOutcome {
        let mut out = VapOutcome::default();
        if self.bindings.is_empty() {
            return out;
        }
        let resource = crate::review::resource_of_kind(req.kind);
        let namespaced = !CLUSTER_SCOPED.contains(&req.kind);
        let t = Target {
            group: req.group,
            version: req.version,
            resource: &resource,
            name: req.name,
            namespaced,
            operation: crate::review::op_name(req.operation),
        };
        let labels = labels_of(object);
        let request = crate::review::RequestView::of(req);
        let Some(activation) = cel_rules::activation(
            &request,
            object.into(),
            req.old_object,
            if namespaced { req.namespace } else { "" },
            ns_labels,
        ) else {
            return out;
        };
        for b in &self.bindings {
            let spec = &b.spec;
            let Some(p) = self.policies.get(&spec.policy_name) else {
                continue;
            };
            if !selects(&p.constraints, true, &t, ns_labels, &labels)
                || !spec
                    .match_resources
                    .as_ref()
                    .is_none_or(|m| selects(m, false, &t, ns_labels, &labels))
            {
                continue;
            }
            let binding = b.metadata.name.as_deref().unwrap_or("");
            let mut found = Vec::new();
            let params = match (&p.param_kind, &spec.param_ref) {
                (None, _) => vec![Prepared::null()],
                (Some(kind), Some(r)) => {
                    let ps = self.params_for(kind, r, req.namespace);
                    if ps.is_empty() {
                        if r.parameter_not_found_action.as_deref() == Some("Allow") {
                            continue;
                        }
                        found.push(CelFinding::Violation {
                            field: "paramRef".into(),
                            message: format!(
                                "no params found for binding {binding:?} ({} {})",
                                kind.0, kind.1
                            ),
                        });
                    }
                    ps.iter().map(|o| Prepared::json(o)).collect()
                }
                (Some(_), None) => {
                    found.push(CelFinding::Error {
                        field: "paramRef".into(),
                        message: format!(
                            "the policy has a paramKind and binding {binding:?} no paramRef"
                        ),
                    });
                    vec![]
                }
            };
            for params in &params {
                let mut scope = Scope::new(&activation);
                scope.bind_prepared("params", params);
                found.extend(cel_rules::evaluate(&p.rule, &mut scope));
                for (key, e) in &p.audit_annotations {
                    if let Ok(v) = scope.eval_string(e) {
                        out.audit_annotations.insert(format!("{}/{key}", p.name), v);
                    }
                }
            }
            for f in found {
                let (field, message) = match f {
                    CelFinding::Violation { field, message } => (field, message),
                    CelFinding::Error { .. } if !p.fail => continue,
                    CelFinding::Error { field, message } => (field, message),
                };
                for action in &spec.validation_actions {
                    // The API server's words for each action.
                    let (mode, message) = match action.as_str() {
                        "Deny" => (
                            "enforce",
                            format!(
                                "ValidatingAdmissionPolicy '{}' with binding '{binding}' denied request: {message}",
                                p.name
                            ),
                        ),
                        "Warn" => (
                            "warn",
                            format!(
                                "Validation failed for ValidatingAdmissionPolicy '{}' with binding '{binding}': {message}",
                                p.name
                            ),
                        ),
                        _ => ("audit", format!("binding '{binding}': {message}")),
                    };
                    out.violations.push(ViolationOut {
                        policy: format!("ValidatingAdmissionPolicy {}", p.name),
                        rule: field.clone(),
                        message,
                        mode,
                    });
                }
            }
        }
        out
    }

    /// The params objects a binding's `paramRef` names for a request in `namespace`: by name or
    /// label selector, in the namespace it names, else the request's (an object without a
    /// namespace — cluster-scoped, or a manifest that names none — serves every namespace).
    fn params_for(
        &self,
        (api, kind): &(String, String),
        r: &ParamRef,
        namespace: &str,
    ) -> Vec<&Value> {
        self.params
            .iter()
            .filter(|o| {
                let s = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or("");
                let ns = s("/metadata/namespace");
                s("/apiVersion") == api
                    && s("/kind") == kind
                    && match &r.namespace {
                        Some(want) => ns == want,
                        None => ns.is_empty() || ns == namespace,
                    }
                    && match (&r.name, &r.selector) {
                        (Some(n), _) => s("/metadata/name") == n,
                        (None, Some(sel)) => selector_matches(sel, &labels_of(o)),
                        (None, None) => false,
                    }
            })
            .collect()
    }
}

/// What the API server would refuse in a binding.
fn binding_errors(b: &ValidatingAdmissionPolicyBinding) -> Option<String> {
    let spec = &b.spec;
    let actions = &spec.validation_actions;
    if actions.is_empty() {
        return Some("spec.validationActions: at least one of Deny, Warn, Audit".into());
    }
    if let Some(a) = actions
        .iter()
        .find(|a| !matches!(a.as_str(), "Deny" | "Warn" | "Audit"))
    {
        return Some(format!("spec.validationActions: unknown action {a:?}"));
    }
    if actions.iter().any(|a| a == "Deny") && actions.iter().any(|a| a == "Warn") {
        return Some("spec.validationActions: Deny and Warn together are not allowed".into());
    }
    if let Some(r) = &spec.param_ref {
        if r.name.is_some() == r.selector.is_some() {
            return Some("spec.paramRef: exactly one of name and selector".into());
        }
        if let Some(a) = &r.parameter_not_found_action
            && !matches!(a.as_str(), "Deny" | "Allow")
        {
            return Some(format!(
                "spec.paramRef.parameterNotFoundAction: {a:?} is neither Deny nor Allow"
            ));
        }
    }
    None
}
