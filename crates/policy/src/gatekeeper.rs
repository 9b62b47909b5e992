//! Moving over from Gatekeeper (`rampart policy convert`): a ConstraintTemplate whose code has a
//! CEL source (`engine: K8sNativeValidation`) and its Constraints become ClusterSecurityPolicies
//! — or, for clusters that want Kubernetes' own engine, ValidatingAdmissionPolicies and bindings
//! the way Gatekeeper generates them. The template's `variables`, `matchConditions` and
//! `validations` carry over as written; what Gatekeeper provides beside them is provided the
//! same way: `variables.params` (the constraint's `parameters`) and `variables.anyObject` (the
//! old object on a delete). A constraint's `match` becomes the policy's targets, its
//! `enforcementAction` the mode (or the binding's actions).

use serde_json::{Value, json};

use rampart_api::{
    CelCondition, Condition, EnforcementMode, NamedExpression, Params, Rule, SecurityPolicySpec,
    Targets,
};

/// Why a template or constraint does not convert.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The template has no CEL source (Rego only).
    #[error(
        "ConstraintTemplate {0:?} has no CEL source (engine: K8sNativeValidation); Rego templates do not convert"
    )]
    NoCel(String),
    /// The constraint's kind has no template among the inputs.
    #[error("{kind} {name:?}: no ConstraintTemplate for kind {kind} among the inputs")]
    NoTemplate {
        /// The constraint's kind.
        kind: String,
        /// Its name.
        name: String,
    },
    /// A field rampart cannot carry over.
    #[error("{what} {name:?}: {reason}")]
    Unsupported {
        /// The template's or constraint's kind.
        what: String,
        /// Its name.
        name: String,
        /// What does not carry over, and why.
        reason: String,
    },
}

/// What Gatekeeper binds beside a template's own variables, first.
const GATEKEEPER_VARIABLES: [(&str, &str); 2] = [
    ("params", "params"),
    (
        "anyObject",
        "has(request.operation) && request.operation == 'DELETE' && object == null ? oldObject : object",
    ),
];

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn name_of(v: &Value) -> String {
    v.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// A template's CEL source and the kind of its constraints.
#[derive(Debug, Clone)]
pub struct Template {
    /// The constraint kind it defines (`K8sAllowedRepos`).
    pub kind: String,
    name: String,
    source: Value,
}

impl Template {
    /// Reads a ConstraintTemplate (`templates.gatekeeper.sh`); `None` when `v` is not one.
    pub fn read(v: &Value) -> Option<Result<Template, ConvertError>> {
        let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        if !api.starts_with("templates.gatekeeper.sh/") || v["kind"] != "ConstraintTemplate" {
            return None;
        }
        let name = name_of(v);
        let kind = v
            .pointer("/spec/crd/spec/names/kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let source = v
            .pointer("/spec/targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|t| t["code"].as_array().into_iter().flatten())
            .find(|c| c["engine"] == "K8sNativeValidation")
            .map(|c| c["source"].clone());
        Some(match source {
            Some(source) if !kind.is_empty() => Ok(Template { kind, name, source }),
            _ => Err(ConvertError::NoCel(name)),
        })
    }

    fn unsupported(&self, reason: impl Into<String>) -> ConvertError {
        ConvertError::Unsupported {
            what: "ConstraintTemplate".into(),
            name: self.name.clone(),
            reason: reason.into(),
        }
    }

    fn named(list: &Value) -> Vec<NamedExpression> {
        list.as_array()
            .into_iter()
            .flatten()
            .map(|v| NamedExpression {
                name: v["name"].as_str().unwrap_or("").into(),
                expression: v["expression"].as_str().unwrap_or("").into(),
            })
            .collect()
    }

    /// Gatekeeper's variables, then the template's.
    fn variables(&self) -> Vec<NamedExpression> {
        GATEKEEPER_VARIABLES
            .iter()
            .map(|(n, e)| NamedExpression {
                name: (*n).into(),
                expression: (*e).into(),
            })
            .chain(Self::named(&self.source["variables"]))
            .collect()
    }

    fn validations(&self) -> Result<Vec<Condition>, ConvertError> {
        let list = self.source["validations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if list.is_empty() {
            return Err(self.unsupported("its CEL source has no validations"));
        }
        Ok(list
            .iter()
            .map(|v| Condition {
                cel: Some(CelCondition {
                    expression: v["expression"].as_str().unwrap_or("").into(),
                    message: v["message"].as_str().map(String::from),
                    message_expression: v["messageExpression"].as_str().map(String::from),
                }),
                ..Condition::default()
            })
            .collect())
    }

    fn failure_ignored(&self) -> bool {
        self.source["failurePolicy"] == "Ignore"
    }
}

/// A constraint's `match.kinds` as (groups, kinds) pairs; empty: every kind.
fn match_kinds(m: &Value) -> Vec<(Vec<String>, Vec<String>)> {
    m["kinds"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| (strings(&k["apiGroups"]), strings(&k["kinds"])))
        .collect()
}

fn constraint_unsupported(c: &Value, reason: impl Into<String>) -> ConvertError {
    ConvertError::Unsupported {
        what: c["kind"].as_str().unwrap_or("").into(),
        name: name_of(c),
        reason: reason.into(),
    }
}

/// The `enforcementAction` of a constraint as rampart's mode.
fn mode_of(c: &Value) -> Result<EnforcementMode, ConvertError> {
    match c.pointer("/spec/enforcementAction").and_then(Value::as_str) {
        None | Some("deny") => Ok(EnforcementMode::Enforce),
        Some("warn") => Ok(EnforcementMode::Warn),
        Some("dryrun") => Ok(EnforcementMode::Dryrun),
        Some(other) => Err(constraint_unsupported(
            c,
            format!("enforcementAction {other:?} (scoped actions) does not convert"),
        )),
    }
}

/// A constraint's `match` as rampart targets: kinds as `group/*/Kind` patterns (the core group
/// as `core`), namespaces and their exclusions (prefix globs), the namespace selector, and
/// the label selector on the object's labels (a workload's template labels, for the kinds
/// that run pods).
pub fn targets_of(c: &Value) -> Result<Targets, ConvertError> {
    let m = &c["spec"]["match"];
    let mut kinds = Vec::new();
    for (groups, ks) in match_kinds(m) {
        for kind in ks {
            for g in &groups {
                kinds.push(match (g.as_str(), kind.as_str()) {
                    (_, "*") if g == "*" => "*".to_string(),
                    ("*", k) => k.to_string(),
                    ("", k) => format!("core/*/{k}"),
                    (g, "*") => {
                        return Err(constraint_unsupported(
                            c,
                            format!("match kinds \"*\" of group {g:?}: name the kinds"),
                        ));
                    }
                    (g, k) => format!("{g}/*/{k}"),
                });
            }
        }
    }
    if kinds.is_empty() {
        kinds.push("*".into());
    }
    if m.get("scope").is_some_and(|s| s != "*") || m.get("name").is_some() {
        return Err(constraint_unsupported(
            c,
            "match.scope and match.name do not convert",
        ));
    }
    let selector = |p: &str| -> Result<_, ConvertError> {
        m.get(p)
            .map(|s| serde_json::from_value(s.clone()))
            .transpose()
            .map_err(|e| constraint_unsupported(c, format!("match.{p}: {e}")))
    };
    Ok(Targets {
        kinds,
        namespaces: strings(&m["namespaces"]),
        excluded_namespaces: strings(&m["excludedNamespaces"]),
        namespace_selector: selector("namespaceSelector")?,
        pod_selector: selector("labelSelector")?,
        operations: Vec::new(),
    })
}

/// One constraint of `template` as a ClusterSecurityPolicy spec.
pub fn to_policy(template: &Template, c: &Value) -> Result<SecurityPolicySpec, ConvertError> {
    let spec = SecurityPolicySpec {
        enforcement_mode: mode_of(c)?,
        targets: targets_of(c)?,
        rules: vec![Rule {
            name: template.kind.clone(),
            description: c
                .pointer("/metadata/annotations/description")
                .and_then(Value::as_str)
                .map(String::from),
            conditions: template.validations()?,
            variables: template.variables(),
            match_conditions: Template::named(&template.source["matchConditions"]),
            ..Rule::default()
        }],
        params: Some(Params {
            // No parameters: an empty object, so `has(variables.params.x)` is false.
            values: Some(
                c.pointer("/spec/parameters")
                    .filter(|p| !p.is_null())
                    .cloned()
                    .unwrap_or_else(|| json!({})),
            ),
            ..Params::default()
        }),
        failure_policy: if template.failure_ignored() {
            rampart_api::FailurePolicy::Ignore
        } else {
            rampart_api::FailurePolicy::Fail
        },
        ..SecurityPolicySpec::default()
    };
    let errors = spec.validate();
    if let Some(e) = errors.first() {
        return Err(template.unsupported(format!("converted, it is not a valid policy: {e}")));
    }
    Ok(spec)
}

/// `*` suffix globs of namespaces as a CEL test of `request.namespace`.
fn namespace_test(globs: &[String]) -> String {
    let list = serde_json::to_string(globs).unwrap_or_default();
    format!(
        "{list}.exists(g, g.endsWith('*') ? request.namespace.startsWith(g.substring(0, size(g) - 1)) : request.namespace == g)"
    )
}

/// One constraint of `template` as a ValidatingAdmissionPolicy and its binding, as Gatekeeper
/// generates them: the policy's `paramKind` is the constraint's kind and the binding's
/// `paramRef` names the constraint (so the constraint stays the params object).
pub fn to_vap(template: &Template, c: &Value) -> Result<[Value; 2], ConvertError> {
    let m = &c["spec"]["match"];
    let mut rules = Vec::new();
    let kinds = match_kinds(m);
    if kinds.is_empty() {
        rules.push(json!({"apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "operations": ["CREATE", "UPDATE"]}));
    }
    for (groups, ks) in kinds {
        let resources: Vec<String> = ks
            .iter()
            .map(|k| {
                if k == "*" {
                    "*".to_string()
                } else {
                    crate::review::resource_of_kind(k)
                }
            })
            .collect();
        rules.push(json!({"apiGroups": groups, "apiVersions": ["*"], "resources": resources, "operations": ["CREATE", "UPDATE"]}));
    }
    let mut conditions: Vec<Value> = template.source["matchConditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let namespaces = strings(&m["namespaces"]);
    if !namespaces.is_empty() {
        conditions.push(
            json!({"name": "gatekeeper-namespaces", "expression": namespace_test(&namespaces)}),
        );
    }
    let excluded = strings(&m["excludedNamespaces"]);
    if !excluded.is_empty() {
        conditions.push(json!({"name": "gatekeeper-excluded-namespaces", "expression": format!("!{}", namespace_test(&excluded))}));
    }
    let variables: Vec<Value> = [
        json!({"name": "params", "expression": "has(params.spec) && has(params.spec.parameters) ? params.spec.parameters : {}"}),
        json!({"name": "anyObject", "expression": GATEKEEPER_VARIABLES[1].1}),
    ]
    .into_iter()
    .chain(template.source["variables"].as_array().cloned().unwrap_or_default())
    .collect();
    template.validations()?;
    let (group_version, kind) = (
        c.get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("constraints.gatekeeper.sh/v1beta1"),
        template.kind.as_str(),
    );
    let name = format!(
        "gatekeeper-{}-{}",
        template.kind.to_ascii_lowercase(),
        name_of(c)
    );
    let mut constraints = json!({"resourceRules": rules});
    for (from, to) in [
        ("namespaceSelector", "namespaceSelector"),
        ("labelSelector", "objectSelector"),
    ] {
        if let Some(s) = m.get(from) {
            constraints[to] = s.clone();
        }
    }
    let policy = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": if template.failure_ignored() { "Ignore" } else { "Fail" },
            "paramKind": {"apiVersion": group_version, "kind": kind},
            "matchConstraints": constraints,
            "matchConditions": conditions,
            "variables": variables,
            "validations": template.source["validations"],
        }
    });
    let actions = match mode_of(c)? {
        EnforcementMode::Enforce => "Deny",
        EnforcementMode::Warn => "Warn",
        EnforcementMode::Dryrun => "Audit",
    };
    let binding = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": [actions],
            "paramRef": {"name": name_of(c), "parameterNotFoundAction": "Deny"},
        }
    });
    Ok([policy, binding])
}

/// What to convert to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// ClusterSecurityPolicies.
    SecurityPolicy,
    /// ValidatingAdmissionPolicies and bindings.
    Vap,
}

/// Every constraint among `docs` whose template is among them too, converted; other objects
/// are ignored. The converted objects, and what did not convert.
pub fn convert(docs: &[Value], to: Target) -> (Vec<Value>, Vec<ConvertError>) {
    let mut templates = std::collections::BTreeMap::new();
    let mut errors = Vec::new();
    for d in docs {
        match Template::read(d) {
            Some(Ok(t)) => {
                templates.insert(t.kind.clone(), t);
            }
            Some(Err(e)) => errors.push(e),
            None => {}
        }
    }
    let mut out = Vec::new();
    for c in docs {
        let api = c.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        if !api.starts_with("constraints.gatekeeper.sh/") {
            continue;
        }
        let kind = c["kind"].as_str().unwrap_or("");
        let Some(t) = templates.get(kind) else {
            errors.push(ConvertError::NoTemplate {
                kind: kind.into(),
                name: name_of(c),
            });
            continue;
        };
        let converted = match to {
            Target::SecurityPolicy => to_policy(t, c).map(|spec| {
                vec![json!({
                    "apiVersion": "rampart.dev/v1alpha1",
                    "kind": "ClusterSecurityPolicy",
                    "metadata": {"name": format!("{}-{}", t.kind.to_ascii_lowercase(), name_of(c))},
                    "spec": spec,
                })]
            }),
            Target::Vap => to_vap(t, c).map(Vec::from),
        };
        match converted {
            Ok(v) => out.extend(v),
            Err(e) => errors.push(e),
        }
    }
    (out, errors)
}
