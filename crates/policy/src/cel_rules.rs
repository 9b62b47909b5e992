//! A policy's CEL, compiled once when the policy is stored, and evaluated per request: each
//! rule's variables, match conditions and `cel` conditions, over the request's activation.

use std::collections::BTreeMap;

use rampart_api::{KindPattern, ParameterNotFoundAction, SecurityPolicySpec, SpecError};
use rampart_cel::{Activation, EvalError, Expression, Prepared, Scope};

use crate::object::ObjectJson;
use crate::review::RequestView;
use crate::store::{ObjectStore, Selection};

/// A `cel` condition, compiled.
#[derive(Debug, Clone)]
pub struct CompiledCondition {
    /// Where it is written (`conditions[2].cel`, `validations[0]`), for findings.
    field: String,
    expression: Expression,
    message: Option<String>,
    message_expression: Option<Expression>,
}

impl CompiledCondition {
    /// A condition written at `field`.
    pub fn new(
        field: String,
        expression: Expression,
        message: Option<String>,
        message_expression: Option<Expression>,
    ) -> CompiledCondition {
        CompiledCondition {
            field,
            expression,
            message,
            message_expression,
        }
    }
}

/// One rule's CEL, compiled.
#[derive(Debug, Clone, Default)]
pub struct CompiledRule {
    variables: Vec<(String, Expression)>,
    match_conditions: Vec<(String, Expression)>,
    /// Per condition of the rule (same index): its CEL, if it is a `cel` condition.
    conditions: Vec<Option<CompiledCondition>>,
}

impl CompiledRule {
    /// A rule of named variables and match conditions, and conditions (`None`: a built-in one
    /// at that index).
    pub fn new(
        variables: Vec<(String, Expression)>,
        match_conditions: Vec<(String, Expression)>,
        conditions: Vec<Option<CompiledCondition>>,
    ) -> CompiledRule {
        CompiledRule {
            variables,
            match_conditions,
            conditions,
        }
    }

    /// Whether the rule has any `cel` condition.
    pub fn has_cel(&self) -> bool {
        self.conditions.iter().any(Option::is_some)
    }
}

/// A policy's CEL and kind patterns, compiled.
#[derive(Debug, Clone, Default)]
pub struct CompiledPolicy {
    /// Per rule of the spec (same index).
    pub rules: Vec<CompiledRule>,
    /// `targets.kinds`, parsed (empty: the kinds that run pods).
    pub kinds: Vec<KindPattern>,
    /// Where `params` comes from.
    pub params: ParamsSource,
    /// What `inventory` holds (empty: the policy reads none).
    pub inventory: Vec<Selection>,
    /// Its `verifyImages` conditions, with the index of their rule.
    pub images: Vec<(usize, std::sync::Arc<crate::images::ImageRule>)>,
}

/// Where a policy's `params` come from.
#[derive(Debug, Clone, Default)]
pub enum ParamsSource {
    /// It declares none (its expressions never name `params`).
    #[default]
    None,
    /// Values written in the policy, read into CEL once.
    Inline(Prepared),
    /// An object of the cluster.
    Object {
        /// What the store holds of it.
        selection: Selection,
        /// Its name.
        name: String,
        /// Its namespace; `None`: the request's.
        namespace: Option<String>,
        /// What its absence means.
        not_found: ParameterNotFoundAction,
    },
}

/// A policy's `params` and `inventory` for one request, or why there are none.
#[derive(Debug)]
pub enum Inputs<'a> {
    /// Bound (each when the policy declares it).
    Ready {
        /// `params`.
        params: Option<&'a Prepared>,
        /// `inventory`.
        inventory: Option<std::borrow::Cow<'a, Prepared>>,
    },
    /// Its params object does not exist and `parameterNotFoundAction` is `Allow`: its CEL does
    /// not apply.
    Skip,
    /// Its params object does not exist (`Deny`): a violation.
    Missing(String),
    /// What it reads is not loaded: the failure policy decides.
    Unavailable(String),
}

impl CompiledPolicy {
    /// What the policy's expressions read beyond the request, in `objects` (the request is in
    /// `namespace`).
    pub fn inputs<'a>(&'a self, objects: &'a ObjectStore, namespace: &str) -> Inputs<'a> {
        let params = match &self.params {
            ParamsSource::None => None,
            ParamsSource::Inline(p) => Some(p),
            ParamsSource::Object {
                selection,
                name,
                namespace: ns,
                not_found,
            } => {
                let ns = ns.as_deref().unwrap_or(namespace);
                match objects.get(selection, ns, name) {
                    Ok(Some(p)) => Some(p),
                    Ok(None) => {
                        return match not_found {
                            ParameterNotFoundAction::Allow => Inputs::Skip,
                            ParameterNotFoundAction::Deny => Inputs::Missing(format!(
                                "params {} {ns}/{name} not found",
                                selection.kind
                            )),
                        };
                    }
                    Err(e) => return Inputs::Unavailable(format!("params: {e}")),
                }
            }
        };
        let inventory = match &self.inventory[..] {
            [] => None,
            [one] => match objects.list(one) {
                Ok(l) => Some(std::borrow::Cow::Borrowed(l)),
                Err(e) => return Inputs::Unavailable(format!("inventory: {e}")),
            },
            many => {
                let mut lists = Vec::new();
                for sel in many {
                    match objects.list(sel) {
                        Ok(l) => lists.push(l),
                        Err(e) => return Inputs::Unavailable(format!("inventory: {e}")),
                    }
                }
                Some(std::borrow::Cow::Owned(Prepared::flatten(&lists)))
            }
        };
        Inputs::Ready { params, inventory }
    }

    /// Compiles a spec's expressions and kinds (a spec that validated compiles); `namespace`
    /// is a SecurityPolicy's (its params live there).
    pub fn compile(
        spec: &SecurityPolicySpec,
        namespace: Option<&str>,
    ) -> Result<CompiledPolicy, Vec<SpecError>> {
        let mut errors = Vec::new();
        let mut images = Vec::new();
        for (ri, r) in spec.rules.iter().enumerate() {
            for (ci, c) in r.conditions.iter().enumerate() {
                if let Some(v) = &c.verify_images {
                    let path = format!("rules[{ri}].conditions[{ci}]");
                    match crate::images::ImageRule::compile(path, &r.name, v, namespace) {
                        Ok(rule) => images.push((ri, std::sync::Arc::new(rule))),
                        Err(e) => errors.extend(e),
                    }
                }
            }
        }
        let vars = spec.cel_variables();
        let mut compile = |path: String, source: &str| {
            Expression::compile(source, &vars)
                .map_err(|e| {
                    errors.push(SpecError {
                        path,
                        message: e.to_string(),
                    })
                })
                .ok()
        };
        let mut rules = Vec::new();
        for (ri, r) in spec.rules.iter().enumerate() {
            let mut rule = CompiledRule::default();
            for (i, v) in r.variables.iter().enumerate() {
                if let Some(e) = compile(format!("rules[{ri}].variables[{i}]"), &v.expression) {
                    rule.variables.push((v.name.clone(), e));
                }
            }
            for (i, m) in r.match_conditions.iter().enumerate() {
                if let Some(e) = compile(format!("rules[{ri}].matchConditions[{i}]"), &m.expression)
                {
                    rule.match_conditions.push((m.name.clone(), e));
                }
            }
            for (ci, c) in r.conditions.iter().enumerate() {
                let compiled = c.cel.as_ref().and_then(|cel| {
                    let at = format!("rules[{ri}].conditions[{ci}].cel");
                    let expression = compile(format!("{at}.expression"), &cel.expression)?;
                    let message_expression = match &cel.message_expression {
                        Some(m) => Some(compile(format!("{at}.messageExpression"), m)?),
                        None => None,
                    };
                    Some(CompiledCondition::new(
                        format!("conditions[{ci}].cel"),
                        expression,
                        cel.message.clone(),
                        message_expression,
                    ))
                });
                rule.conditions.push(compiled);
            }
            rules.push(rule);
        }
        let mut kinds = Vec::new();
        for (i, k) in spec.targets.kinds.iter().enumerate() {
            match KindPattern::parse(k) {
                Ok(p) => kinds.push(p),
                Err(message) => errors.push(SpecError {
                    path: format!("targets.kinds[{i}]"),
                    message,
                }),
            }
        }
        let params = match &spec.params {
            None => ParamsSource::None,
            Some(p) => match (&p.values, p.object_kind(), &p.name) {
                (Some(v), _, _) => ParamsSource::Inline(Prepared::json(v)),
                (None, Some(kind), Some(name)) => {
                    let namespace = namespace.map(String::from).or_else(|| p.namespace.clone());
                    ParamsSource::Object {
                        selection: Selection {
                            kind,
                            namespace: namespace.clone(),
                            name: Some(name.clone()),
                        },
                        name: name.clone(),
                        namespace,
                        not_found: p.parameter_not_found_action,
                    }
                }
                _ => {
                    errors.push(SpecError {
                        path: "params".into(),
                        message: "give the values, or the params object's kind and name".into(),
                    });
                    ParamsSource::None
                }
            },
        };
        // A SecurityPolicy is its namespace's: its inventory holds that namespace's objects (and
        // cluster-scoped ones), never another namespace's, which its messages could reveal.
        let inventory = spec
            .inventory
            .iter()
            .map(|k| Selection {
                namespace: namespace.map(String::from),
                ..Selection::all(k.clone())
            })
            .collect();
        if errors.is_empty() {
            Ok(CompiledPolicy {
                rules,
                kinds,
                params,
                inventory,
                images,
            })
        } else {
            Err(errors)
        }
    }

    /// Whether the policy targets objects of this group, version and kind.
    pub fn targets(&self, group: &str, version: &str, kind: &str) -> bool {
        if self.kinds.is_empty() {
            return rampart_api::runs_pods(group, kind);
        }
        self.kinds.iter().any(|k| k.matches(group, version, kind))
    }

    /// Whether any rule has a `cel` condition.
    pub fn has_cel(&self) -> bool {
        self.rules.iter().any(CompiledRule::has_cel)
    }

    /// What the store must hold for it: its params object's selection and its inventory's.
    pub fn selections(&self) -> impl Iterator<Item = &Selection> {
        let params = match &self.params {
            ParamsSource::Object { selection, .. } => Some(selection),
            _ => None,
        };
        params.into_iter().chain(&self.inventory)
    }

    /// The Secrets its image rules read public keys from, as selections of one object each:
    /// the webhook watches them (to its image verification, never to the object store).
    pub fn key_secrets(&self) -> impl Iterator<Item = Selection> + '_ {
        self.images.iter().flat_map(|(_, r)| {
            r.key_secrets().map(|(namespace, name)| Selection {
                kind: rampart_api::ObjectKind {
                    api_version: "v1".into(),
                    kind: "Secret".into(),
                },
                namespace: Some(namespace.to_string()),
                name: Some(name.to_string()),
            })
        })
    }
}

/// What a `cel` condition found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CelFinding {
    /// The expression is false: the object violates it.
    Violation {
        /// Which condition (`conditions[2].cel`).
        field: String,
        /// The message.
        message: String,
    },
    /// An expression could not be evaluated; the policy's failure policy decides.
    Error {
        /// Which expression.
        field: String,
        /// Why.
        message: String,
    },
}

/// The activation of an admission request: `object`, `oldObject`, `request` and
/// `namespaceObject` (its name and labels); each policy's `params` and `inventory` are bound
/// over it ([`CompiledPolicy::inputs`]). `None` when the object is not JSON.
pub fn activation(
    request: &RequestView<'_>,
    object: ObjectJson<'_>,
    old_object: Option<ObjectJson<'_>>,
    namespace: &str,
    ns_labels: &BTreeMap<String, String>,
) -> Option<Activation> {
    let mut a = Activation::new();
    bind(&mut a, "object", object).ok()?;
    // An old object that is not JSON is no old object.
    if old_object.is_none_or(|o| bind(&mut a, "oldObject", o).is_err()) {
        a.bind_json("oldObject", &serde_json::Value::Null);
    }
    // A Secret's values never reach an expression (nor a message built from one).
    if request.kind.kind == "Secret" && request.kind.group.is_empty() {
        for name in ["object", "oldObject"] {
            a.redact(name, &["data", "stringData"]);
        }
    }
    // Written as text and read onto a tape: no tree of values made on the way.
    bind_serialized(&mut a, "request", request);
    if namespace.is_empty() {
        a.bind_json("namespaceObject", &serde_json::Value::Null);
    } else {
        bind_serialized(
            &mut a,
            "namespaceObject",
            &NamespaceView {
                api_version: "v1",
                kind: "Namespace",
                metadata: NamespaceMeta {
                    name: namespace,
                    labels: ns_labels,
                },
            },
        );
    }
    Some(a)
}

/// `namespaceObject`: the namespace's name and labels.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct NamespaceView<'a> {
    api_version: &'a str,
    kind: &'a str,
    metadata: NamespaceMeta<'a>,
}

#[derive(serde::Serialize)]
struct NamespaceMeta<'a> {
    name: &'a str,
    labels: &'a BTreeMap<String, String>,
}

fn bind_serialized(a: &mut Activation, name: &str, value: &impl serde::Serialize) {
    // Strings and maps of strings: writing them cannot fail, nor reading them back.
    let bound = serde_json::to_string(value).is_ok_and(|text| a.bind_json_str(name, &text).is_ok());
    if !bound {
        a.bind_json(name, &serde_json::Value::Null);
    }
}

/// Binds an object as the request carries it: text read straight into CEL values.
fn bind(a: &mut Activation, name: &str, o: ObjectJson<'_>) -> Result<(), serde_json::Error> {
    match o {
        ObjectJson::Raw(r) => a.bind_json_str(name, r.get()),
        ObjectJson::Read(_, d) => {
            a.bind_document(name, d);
            Ok(())
        }
        ObjectJson::Value(v) => {
            a.bind_json(name, v);
            Ok(())
        }
    }
}

/// Evaluates one rule's CEL in `scope` (a request's variables, made once for all its rules):
/// nothing when a match condition is false.
pub fn evaluate(rule: &CompiledRule, scope: &mut Scope<'_>) -> Vec<CelFinding> {
    let mut out = Vec::new();
    // Variables in order, each seeing the ones before it. One that fails is left unbound: an
    // expression using it then fails in its turn (the API server evaluates them lazily, so one
    // nobody uses never fails a request).
    scope.clear_variables();
    for (name, e) in &rule.variables {
        let _ = scope.define(name, e);
    }
    for (name, e) in &rule.match_conditions {
        match scope.eval_bool(e) {
            Ok(true) => {}
            Ok(false) => return out,
            Err(err) => {
                out.push(CelFinding::Error {
                    field: format!("matchConditions[{name}]"),
                    message: describe(&err),
                });
                return out;
            }
        }
    }
    for c in rule.conditions.iter().flatten() {
        match scope.eval_bool(&c.expression) {
            Ok(true) => {}
            Ok(false) => {
                let field = c.field.clone();
                let message = c
                    .message_expression
                    .as_ref()
                    .and_then(|m| scope.eval_string(m).ok())
                    .filter(|m| !m.trim().is_empty())
                    .or_else(|| c.message.clone())
                    .unwrap_or_else(|| format!("failed expression: {}", c.expression.source()));
                out.push(CelFinding::Violation { field, message });
            }
            Err(err) => out.push(CelFinding::Error {
                field: c.field.clone(),
                message: describe(&err),
            }),
        }
    }
    out
}

fn describe(e: &EvalError) -> String {
    format!("expression could not be evaluated: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_api::{CelCondition, Condition, NamedExpression, Rule};
    use serde_json::json;

    fn rule(conditions: Vec<Condition>, variables: &[(&str, &str)], matches: &[&str]) -> Rule {
        Rule {
            name: "r".into(),
            conditions,
            variables: variables
                .iter()
                .map(|(n, e)| NamedExpression {
                    name: (*n).into(),
                    expression: (*e).into(),
                })
                .collect(),
            match_conditions: matches
                .iter()
                .enumerate()
                .map(|(i, e)| NamedExpression {
                    name: format!("m{i}"),
                    expression: (*e).into(),
                })
                .collect(),
            ..Rule::default()
        }
    }

    fn cel(expression: &str, message: Option<&str>, message_expression: Option<&str>) -> Condition {
        Condition {
            cel: Some(CelCondition {
                expression: expression.into(),
                message: message.map(String::from),
                message_expression: message_expression.map(String::from),
            }),
            ..Condition::default()
        }
    }

    fn run(r: Rule, object: serde_json::Value) -> Vec<CelFinding> {
        let spec = SecurityPolicySpec {
            rules: vec![r],
            ..SecurityPolicySpec::default()
        };
        let c = CompiledPolicy::compile(&spec, None).unwrap_or_else(|e| panic!("{e:?}"));
        let a = activation(
            &RequestView {
                operation: "CREATE",
                ..RequestView::default()
            },
            (&object).into(),
            None,
            "app",
            &BTreeMap::from([("team".to_string(), "a".to_string())]),
        )
        .expect("JSON");
        evaluate(&c.rules[0], &mut Scope::new(&a))
    }

    #[test]
    fn variables_match_conditions_and_messages() {
        let ingress = json!({"kind": "Ingress", "spec": {"rules": [{"host": "*.example.com"}, {"host": "a.example.com"}]}});
        let r = rule(
            vec![cel(
                "!variables.hosts.exists(h, h.startsWith('*'))",
                Some("no wildcard hosts"),
                Some("'wildcard host ' + variables.hosts.filter(h, h.startsWith('*'))[0]"),
            )],
            &[("hosts", "object.spec.rules.map(r, r.host)")],
            &[
                "object.kind == 'Ingress'",
                "namespaceObject.metadata.labels.team == 'a'",
            ],
        );
        assert_eq!(
            run(r.clone(), ingress.clone()),
            vec![CelFinding::Violation {
                field: "conditions[0].cel".into(),
                message: "wildcard host *.example.com".into()
            }]
        );
        // Twin: no wildcard, no finding.
        let plain = json!({"kind": "Ingress", "spec": {"rules": [{"host": "a.example.com"}]}});
        assert!(run(r.clone(), plain).is_empty());
        // A false match condition: the rule does not apply.
        let service = json!({"kind": "Service", "spec": {"rules": [{"host": "*"}]}});
        assert!(run(r, service).is_empty());
    }

    #[test]
    fn errors_are_findings_of_their_own_and_default_messages_name_the_expression() {
        let r = rule(vec![cel("object.spec.replicas <= 3", None, None)], &[], &[]);
        assert_eq!(
            run(r.clone(), json!({"spec": {"replicas": 5}})),
            vec![CelFinding::Violation {
                field: "conditions[0].cel".into(),
                message: "failed expression: object.spec.replicas <= 3".into()
            }]
        );
        let missing = run(r, json!({"spec": {}}));
        assert!(
            matches!(&missing[..], [CelFinding::Error { message, .. }] if message.starts_with("expression could not be evaluated")),
            "{missing:?}"
        );
        // A variable that fails is unbound: its users fail, the rest does not.
        let r = rule(
            vec![
                cel("object.a == 1", None, None),
                cel("variables.bad == 1", None, None),
            ],
            &[("bad", "object.missing")],
            &[],
        );
        let f = run(r, json!({"a": 1}));
        assert!(
            matches!(&f[..], [CelFinding::Error { field, .. }] if field == "conditions[1].cel"),
            "{f:?}"
        );
    }

    #[test]
    fn a_secrets_values_never_reach_an_expression() {
        let spec = SecurityPolicySpec {
            targets: rampart_api::Targets {
                kinds: vec!["v1/Secret".into()],
                ..Default::default()
            },
            rules: vec![rule(
                vec![cel(
                    "'password' in object.data && object.data.password == ''",
                    None,
                    Some("'leaked: ' + object.data.password"),
                )],
                &[],
                &[],
            )],
            ..SecurityPolicySpec::default()
        };
        let c = CompiledPolicy::compile(&spec, None).unwrap();
        let secret = json!({"kind": "Secret", "data": {"password": "c2VjcmV0"}});
        let a = activation(
            &RequestView {
                operation: "CREATE",
                kind: crate::review::KindView {
                    group: "",
                    version: "v1",
                    kind: "Secret",
                },
                ..RequestView::default()
            },
            (&secret).into(),
            None,
            "app",
            &BTreeMap::new(),
        )
        .expect("JSON");
        // The key is there, its value is not.
        assert!(evaluate(&c.rules[0], &mut Scope::new(&a)).is_empty());
    }

    #[test]
    fn kinds_select_any_kind_and_default_to_pod_kinds() {
        let mut spec = SecurityPolicySpec {
            rules: vec![rule(vec![cel("true", None, None)], &[], &[])],
            ..SecurityPolicySpec::default()
        };
        let c = CompiledPolicy::compile(&spec, None).unwrap();
        assert!(c.targets("apps", "v1", "Deployment"));
        assert!(!c.targets("networking.k8s.io", "v1", "Ingress"));
        spec.targets.kinds = vec!["networking.k8s.io/*/Ingress".into(), "v1/Service".into()];
        let c = CompiledPolicy::compile(&spec, None).unwrap();
        assert!(c.targets("networking.k8s.io", "v1", "Ingress"));
        assert!(c.targets("", "v1", "Service"));
        assert!(!c.targets("serving.knative.dev", "v1", "Service"));
        assert!(!c.targets("", "v1", "Pod"));
    }
}
