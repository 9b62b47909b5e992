//! What makes a [`SecurityPolicySpec`] invalid, in words a policy author can act on.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::{Condition, SecurityPolicySpec};

/// The kinds that run pods: what a policy targets when `targets.kinds` is empty, and what the
/// built-in conditions judge (`cel` conditions judge any kind).
pub const TARGET_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

/// One problem with a spec; the path says where (`rules[1].conditions[0]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spec.{path}: {message}")]
pub struct SpecError {
    /// Where.
    pub path: String,
    /// What.
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError {
        path: path.into(),
        message: message.into(),
    }
}

/// `*`-suffix glob: `ghcr.io/acme/*` matches `ghcr.io/acme/api:1`; without `*`, equality.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

/// Whether `s` is a namespace name, or a prefix of one followed by `*` (`team-*`).
pub(crate) fn glob_ok(s: &str) -> bool {
    let name = s.strip_suffix('*').unwrap_or(s);
    (s.ends_with('*') || !name.is_empty())
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A selector's problems, under `path`.
pub(crate) fn selector_errors(path: &str, s: &LabelSelector) -> Vec<SpecError> {
    let mut out = Vec::new();
    selector(path, s, &mut out);
    out
}

fn selector(path: &str, s: &LabelSelector, out: &mut Vec<SpecError>) {
    for (i, r) in s.match_expressions.iter().flatten().enumerate() {
        let at = format!("{path}.matchExpressions[{i}]");
        let values = r.values.as_deref().unwrap_or_default();
        match r.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                out.push(err(at, format!("operator {} needs values", r.operator)))
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                out.push(err(at, format!("operator {} takes no values", r.operator)))
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => out.push(err(
                at,
                format!("unknown operator {other:?} (In, NotIn, Exists, DoesNotExist)"),
            )),
        }
    }
}

/// A Kubernetes quantity usable as a request or limit: a non-negative decimal number with an
/// optional binary/decimal suffix or exponent.
fn is_quantity(q: &str) -> bool {
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let digits = num.strip_prefix('+').unwrap_or(num);
    let num_ok = !digits.is_empty()
        && !digits.contains('+')
        && digits.matches('.').count() <= 1
        && digits.chars().any(|c| c.is_ascii_digit());
    let suffix_ok = matches!(
        suffix,
        "" | "m" | "k" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"
    ) || (suffix.len() > 1
        && suffix.starts_with(['e', 'E'])
        && suffix[1..]
            .trim_start_matches(['+', '-'])
            .bytes()
            .all(|b| b.is_ascii_digit())
        && suffix[1..].parse::<i32>().is_ok());
    num_ok && suffix_ok
}

/// A resource name: `cpu`, `memory`, `ephemeral-storage`, `hugepages-2Mi`, `nvidia.com/gpu`.
fn is_resource_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 253
        && n.split('/').count() <= 2
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/'))
        && !n.starts_with(['-', '.', '/'])
        && !n.ends_with(['-', '.', '/'])
}

/// Whether `group` is an API group of the kinds that run pods (core, `apps`, `batch`).
pub fn is_pod_group(group: &str) -> bool {
    matches!(group, "" | "apps" | "batch")
}

/// Whether objects of `kind` in API group `group` run pods: what the built-in conditions judge,
/// and what a policy without `targets.kinds` targets.
pub fn runs_pods(group: &str, kind: &str) -> bool {
    is_pod_group(group) && TARGET_KINDS.contains(&kind)
}

/// One entry of `targets.kinds`: `Kind`, `apiVersion/Kind` or `group/*/Kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindPattern {
    /// The API group (`""` core); `None`: any.
    pub group: Option<String>,
    /// The version; `None`: any.
    pub version: Option<String>,
    /// The kind.
    pub kind: String,
}

impl KindPattern {
    /// Reads an entry, or says why it is none.
    pub fn parse(entry: &str) -> Result<KindPattern, String> {
        let (prefix, kind) = match entry.rsplit_once('/') {
            Some((p, k)) => (Some(p), k),
            None => (None, entry),
        };
        let kind_ok = kind == "*"
            || (kind.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && kind.chars().all(|c| c.is_ascii_alphanumeric()));
        if !kind_ok {
            return Err(format!(
                "{kind:?} is not a kind (a capitalised name: Pod, Ingress; * for every kind)"
            ));
        }
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 253
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
        };
        let (group, version) = match prefix {
            None => (None, None),
            // `v1/Service`: the core group.
            Some(v) if !v.contains('/') => {
                if !segment_ok(v) {
                    return Err(format!("{v:?} is not an apiVersion"));
                }
                (Some(String::new()), Some(v.to_string()))
            }
            Some(gv) => {
                let (g, v) = gv.split_once('/').unwrap_or((gv, ""));
                if !segment_ok(g) || v.contains('/') || (v != "*" && !segment_ok(v)) {
                    return Err(format!(
                        "{gv:?} is not an apiVersion (group/version, or group/* for every version)"
                    ));
                }
                // `core/*/Service`: the core group, which has no name of its own.
                let g = if g == "core" { "" } else { g };
                (Some(g.to_string()), (v != "*").then(|| v.to_string()))
            }
        };
        Ok(KindPattern {
            group,
            version,
            kind: kind.to_string(),
        })
    }

    /// Whether an object of `group`, `version`, `kind` matches.
    pub fn matches(&self, group: &str, version: &str, kind: &str) -> bool {
        (self.kind == "*" || self.kind == kind)
            && self.group.as_deref().is_none_or(|g| g == group)
            && self.version.as_deref().is_none_or(|v| v == version)
    }

    /// Whether it can match a kind that runs pods (one the built-in conditions judge).
    pub fn is_pod_kind(&self) -> bool {
        (self.kind == "*" || TARGET_KINDS.contains(&self.kind.as_str()))
            && self.group.as_deref().is_none_or(is_pod_group)
    }
}

/// Whether `name` is a CEL identifier (a variable's name).
fn is_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A CEL expression at `path`, compiled as the webhook will, over the variables `vars`.
fn expression(path: &str, source: &str, vars: &[&str], out: &mut Vec<SpecError>) {
    if let Err(e) = rampart_cel::Expression::compile(source, vars) {
        let hint = match &e {
            rampart_cel::CompileError::Undeclared { name, .. } if name == "params" => {
                " (declare the policy's params: spec.params)"
            }
            rampart_cel::CompileError::Undeclared { name, .. } if name == "inventory" => {
                " (declare the kinds it holds: spec.inventory)"
            }
            _ => "",
        };
        out.push(err(path, format!("{e}{hint}")));
    }
}

/// Whether `name` is a qualified name as Kubernetes has them (`web-tier`, `example.com/x`):
/// what a match condition is called.
fn is_qualified_name(name: &str) -> bool {
    let local = name.rsplit_once('/').map_or(name, |(_, n)| n);
    !local.is_empty()
        && local.len() <= 63
        && local.starts_with(|c: char| c.is_ascii_alphanumeric())
        && local.ends_with(|c: char| c.is_ascii_alphanumeric())
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Named expressions: names unique — CEL identifiers for variables (`variables.<name>`),
/// qualified names for match conditions — and expressions CEL.
fn named(
    path: &str,
    list: &[crate::NamedExpression],
    variables: bool,
    vars: &[&str],
    out: &mut Vec<SpecError>,
) {
    let mut names = BTreeSet::new();
    for (i, n) in list.iter().enumerate() {
        if variables && !is_identifier(&n.name) {
            out.push(err(
                format!("{path}[{i}].name"),
                format!("{:?} is not a variable name (letters, digits, _)", n.name),
            ));
        } else if !variables && !is_qualified_name(&n.name) {
            out.push(err(
                format!("{path}[{i}].name"),
                format!(
                    "{:?} is not a name (letters, digits, -, _ and ., at most 63)",
                    n.name
                ),
            ));
        } else if !names.insert(n.name.as_str()) {
            out.push(err(
                format!("{path}[{i}].name"),
                format!("duplicate name {:?}", n.name),
            ));
        }
        expression(&format!("{path}[{i}].expression"), &n.expression, vars, out);
    }
}

/// A policy's params: values or a reference, one or the other.
fn params(p: &crate::Params, out: &mut Vec<SpecError>) {
    match (&p.values, p.object_kind()) {
        (Some(_), None) => {
            if p.name.is_some() || p.namespace.is_some() || p.api_version.is_some() {
                out.push(err(
                    "params",
                    "values, or a reference (apiVersion, kind, name, namespace): not both",
                ));
            }
        }
        (None, Some(k)) => {
            object_kind("params", &k, "params", out);
            if p.name
                .as_deref()
                .is_none_or(|n| !rampart_model::names::is_dns_subdomain(n))
            {
                out.push(err(
                    "params.name",
                    "the params object's name (a DNS subdomain) is required",
                ));
            }
            if let Some(ns) = &p.namespace
                && !rampart_model::names::is_dns_label(ns)
            {
                out.push(err(
                    "params.namespace",
                    format!("{ns:?} is not a namespace name"),
                ));
            }
        }
        (Some(_), Some(_)) => out.push(err(
            "params",
            "values, or a reference (kind, name): not both",
        )),
        (None, None) => out.push(err(
            "params",
            "give the values, or the params object's kind and name",
        )),
    }
}

/// A kind a policy reads objects of (its params', its inventory's).
fn object_kind(path: &str, k: &crate::ObjectKind, what: &str, out: &mut Vec<SpecError>) {
    let (group, version) = k.group_version();
    if k.kind.is_empty() || !k.kind.chars().all(|c| c.is_ascii_alphanumeric()) {
        out.push(err(
            format!("{path}.kind"),
            format!("{:?} is not a kind", k.kind),
        ));
    }
    if version.is_empty()
        || version.contains('/')
        || (!group.is_empty() && !rampart_model::names::is_dns_subdomain(group))
        || !version.chars().all(|c| c.is_ascii_alphanumeric())
    {
        out.push(err(
            format!("{path}.apiVersion"),
            format!(
                "{:?} is not an apiVersion (v1, group/version)",
                k.api_version
            ),
        ));
    }
    if k.is_secret() {
        out.push(err(
            path,
            format!("Secrets cannot be {what}: no expression may read a Secret's values"),
        ));
    }
}

fn condition(path: &str, c: &Condition, vars: &[&str], out: &mut Vec<SpecError>) {
    if let Some(cel) = &c.cel {
        expression(
            &format!("{path}.cel.expression"),
            &cel.expression,
            vars,
            out,
        );
        if let Some(m) = &cel.message_expression {
            expression(&format!("{path}.cel.messageExpression"), m, vars, out);
        }
    }
    if let Some(v) = &c.verify_images {
        verify_images(&format!("{path}.verifyImages"), v, out);
    }
    let v = serde_json::to_value(c).unwrap_or_default();
    let set: Vec<&String> = v
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    match set.len() {
        0 => out.push(err(path, "empty condition: set exactly one requirement")),
        1 => {}
        _ => out.push(err(
            path,
            format!(
                "one requirement per condition, found {}: split it into several conditions",
                set.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
    let non_empty = |name: &str, list: &Option<Vec<String>>, out: &mut Vec<SpecError>| {
        if let Some(l) = list {
            if l.is_empty() {
                out.push(err(
                    format!("{path}.{name}"),
                    "must list at least one entry",
                ));
            }
            for (i, s) in l.iter().enumerate() {
                if s.trim().is_empty() {
                    out.push(err(format!("{path}.{name}[{i}]"), "must not be empty"));
                }
            }
        }
    };
    non_empty("allowedRegistries", &c.allowed_registries, out);
    non_empty("forbiddenImages", &c.forbidden_images, out);
    non_empty("allowedImages", &c.allowed_images, out);
    non_empty("forbiddenTags", &c.forbidden_tags, out);
    non_empty(
        "requiredDropCapabilities",
        &c.required_drop_capabilities,
        out,
    );
    for (name, flag) in [
        ("disallowLatestTag", c.disallow_latest_tag),
        ("disallowRoot", c.disallow_root),
        ("disallowPrivileged", c.disallow_privileged),
        ("disallowHostNamespaces", c.disallow_host_namespaces),
        ("requireSecurityContext", c.require_security_context),
        (
            "disallowPrivilegeEscalation",
            c.disallow_privilege_escalation,
        ),
        ("disallowSecretEnv", c.disallow_secret_env),
        (
            "requireReadOnlyRootFilesystem",
            c.require_read_only_root_filesystem,
        ),
    ] {
        if flag == Some(false) {
            out.push(err(
                format!("{path}.{name}"),
                "false requires nothing: remove the condition instead",
            ));
        }
    }
    for (i, p) in c.required_probes.iter().flatten().enumerate() {
        if !matches!(
            p.as_str(),
            "livenessProbe" | "readinessProbe" | "startupProbe"
        ) {
            out.push(err(
                format!("{path}.requiredProbes[{i}]"),
                format!("unknown probe {p:?} (livenessProbe, readinessProbe, startupProbe)"),
            ));
        }
    }
    if let Some(r) = &c.allowed_host_ports
        && r.min > r.max
    {
        out.push(err(
            format!("{path}.allowedHostPorts"),
            format!("min {} is above max {}", r.min, r.max),
        ));
    }
    for (i, h) in c.allowed_host_paths.iter().flatten().enumerate() {
        if !h.path_prefix.starts_with('/') {
            out.push(err(
                format!("{path}.allowedHostPaths[{i}].pathPrefix"),
                "must be an absolute path",
            ));
        }
    }
    if let Some(r) = &c.require_resources
        && r.requests.is_empty()
        && r.limits.is_empty()
    {
        out.push(err(
            format!("{path}.requireResources"),
            "name at least one request or limit",
        ));
    }
    for (i, l) in c.required_labels.iter().flatten().enumerate() {
        if l.key.is_empty() {
            out.push(err(
                format!("{path}.requiredLabels[{i}].key"),
                "must not be empty",
            ));
        }
    }
    if c.required_labels.as_ref().is_some_and(Vec::is_empty) {
        out.push(err(
            format!("{path}.requiredLabels"),
            "must list at least one label",
        ));
    }
}

impl SecurityPolicySpec {
    /// The variables its expressions may name: `params` and `inventory` only when the policy
    /// declares them.
    pub fn cel_variables(&self) -> Vec<&'static str> {
        let mut vars = rampart_cel::REQUEST_VARIABLES.to_vec();
        vars.push("variables");
        if self.params.is_some() {
            vars.push("params");
        }
        if !self.inventory.is_empty() {
            vars.push("inventory");
        }
        vars
    }

    /// Every problem with a SecurityPolicy's spec: [`SecurityPolicySpec::validate`], and params
    /// outside its own namespace.
    pub fn validate_namespaced(&self) -> Vec<SpecError> {
        let mut out = self.validate();
        if self.params.as_ref().is_some_and(|p| p.namespace.is_some()) {
            out.push(err(
                "params.namespace",
                "a SecurityPolicy reads params from its own namespace: leave this unset",
            ));
        }
        for (ri, r) in self.rules.iter().enumerate() {
            for (ci, c) in r.conditions.iter().enumerate() {
                let attestors = c.verify_images.iter().flat_map(|v| v.attestors.iter());
                for (ai, a) in attestors.enumerate() {
                    if a.key
                        .as_ref()
                        .and_then(|k| k.secret_ref.as_ref())
                        .is_some_and(|r| r.namespace.is_some())
                    {
                        out.push(err(
                            format!(
                                "rules[{ri}].conditions[{ci}].verifyImages.attestors[{ai}].key.secretRef.namespace"
                            ),
                            "a SecurityPolicy reads key Secrets from its own namespace: leave this unset",
                        ));
                    }
                }
            }
        }
        out
    }

    /// Every problem with the spec (empty when it is valid; a SecurityPolicy's:
    /// [`SecurityPolicySpec::validate_namespaced`]).
    pub fn validate(&self) -> Vec<SpecError> {
        let mut out = Vec::new();
        let vars = self.cel_variables();
        if let Some(p) = &self.params {
            params(p, &mut out);
        }
        for (i, k) in self.inventory.iter().enumerate() {
            object_kind(&format!("inventory[{i}]"), k, "inventory", &mut out);
        }
        if self.rules.is_empty() {
            out.push(err("rules", "a policy needs at least one rule"));
        }
        let mut names = BTreeSet::new();
        for (ri, r) in self.rules.iter().enumerate() {
            let at = format!("rules[{ri}]");
            if r.name.trim().is_empty() {
                out.push(err(format!("{at}.name"), "must not be empty"));
            } else if !names.insert(r.name.as_str()) {
                out.push(err(
                    format!("{at}.name"),
                    format!("duplicate rule name {:?}", r.name),
                ));
            }
            if r.conditions.is_empty() {
                out.push(err(
                    format!("{at}.conditions"),
                    "a rule needs at least one condition",
                ));
            }
            for (ci, c) in r.conditions.iter().enumerate() {
                condition(&format!("{at}.conditions[{ci}]"), c, &vars, &mut out);
            }
            named(
                &format!("{at}.variables"),
                &r.variables,
                true,
                &vars,
                &mut out,
            );
            named(
                &format!("{at}.matchConditions"),
                &r.match_conditions,
                false,
                &vars,
                &mut out,
            );
        }
        let mut pod_kinds = self.targets.kinds.is_empty();
        for (i, k) in self.targets.kinds.iter().enumerate() {
            match KindPattern::parse(k) {
                Ok(p) => pod_kinds |= p.is_pod_kind(),
                Err(e) => out.push(err(format!("targets.kinds[{i}]"), e)),
            }
        }
        if !pod_kinds {
            for (ri, r) in self.rules.iter().enumerate() {
                for (ci, c) in r.conditions.iter().enumerate() {
                    if c.cel.is_none() && *c != Condition::default() {
                        out.push(err(
                            format!("rules[{ri}].conditions[{ci}]"),
                            format!(
                                "this condition judges pods, and targets.kinds names no kind that runs them ({}): write it as a cel condition",
                                TARGET_KINDS.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
        for (i, o) in self.targets.operations.iter().enumerate() {
            if !matches!(o.as_str(), "CREATE" | "UPDATE") {
                out.push(err(
                    format!("targets.operations[{i}]"),
                    format!("unknown operation {o:?} (CREATE, UPDATE)"),
                ));
            }
        }
        if let Some(s) = &self.targets.namespace_selector {
            selector("targets.namespaceSelector", s, &mut out);
        }
        if let Some(s) = &self.targets.pod_selector {
            selector("targets.podSelector", s, &mut out);
        }
        if let Some(m) = &self.mutations {
            for (field, map) in [
                ("defaultRequests", &m.default_requests),
                ("defaultLimits", &m.default_limits),
            ] {
                for (k, q) in map {
                    if !is_resource_name(k) {
                        out.push(err(
                            format!("mutations.{field}"),
                            format!("{k:?} is not a resource name (e.g. cpu, memory)"),
                        ));
                    }
                    if !is_quantity(q) {
                        out.push(err(
                            format!("mutations.{field}.{k}"),
                            format!("{q:?} is not a quantity (e.g. 100m, 128Mi)"),
                        ));
                    }
                }
            }
        }
        out
    }
}

/// What is wrong with a `verifyImages` condition: references that are no globs, attestors with
/// nothing or two things set, keys that are no supported public key, regular expressions that do
/// not compile, a keyless identity without its issuer.
fn verify_images(path: &str, v: &crate::VerifyImages, out: &mut Vec<SpecError>) {
    if v.image_references.is_empty() {
        out.push(err(
            format!("{path}.imageReferences"),
            "must list at least one image reference glob",
        ));
    }
    for (i, r) in v.image_references.iter().enumerate() {
        if let Err(e) = rampart_signatures::ImageGlob::new(r) {
            out.push(err(format!("{path}.imageReferences[{i}]"), e.to_string()));
        }
    }
    if v.attestors.is_empty() {
        out.push(err(
            format!("{path}.attestors"),
            "must list at least one attestor (key or keyless)",
        ));
    }
    for (i, a) in v.attestors.iter().enumerate() {
        let at = format!("{path}.attestors[{i}]");
        match (&a.key, &a.keyless) {
            (Some(_), Some(_)) => out.push(err(
                &at,
                "set key or keyless, not both: write two attestors",
            )),
            (None, None) => out.push(err(&at, "set key or keyless")),
            (Some(k), None) => {
                match (&k.public_key, &k.secret_ref) {
                    (Some(_), Some(_)) => out.push(err(
                        format!("{at}.key"),
                        "set publicKey or secretRef, not both",
                    )),
                    (None, None) => out.push(err(
                        format!("{at}.key"),
                        "set publicKey (PEM) or secretRef (a Secret holding it)",
                    )),
                    (Some(pem), None) => {
                        if let Err(e) = rampart_signatures::PublicKey::from_pem(pem) {
                            out.push(err(format!("{at}.key.publicKey"), e));
                        }
                    }
                    (None, Some(r)) => {
                        if r.name.trim().is_empty() {
                            out.push(err(format!("{at}.key.secretRef.name"), "must not be empty"));
                        }
                        for (what, v) in [("namespace", &r.namespace), ("key", &r.key)] {
                            if v.as_ref().is_some_and(|v| v.trim().is_empty()) {
                                out.push(err(
                                    format!("{at}.key.secretRef.{what}"),
                                    "name one, or leave it out",
                                ));
                            }
                        }
                    }
                }
                if k.transparency_log
                    .as_ref()
                    .is_some_and(|l| l.trim().is_empty())
                {
                    out.push(err(
                        format!("{at}.key.transparencyLog"),
                        "name a trusted root, or leave it out",
                    ));
                }
            }
            (None, Some(k)) => {
                let at = format!("{at}.keyless");
                for (what, exact, pattern) in [
                    ("subject", &k.subject, &k.subject_reg_exp),
                    ("issuer", &k.issuer, &k.issuer_reg_exp),
                ] {
                    match (exact, pattern) {
                        (Some(_), Some(_)) => out.push(err(
                            format!("{at}.{what}"),
                            format!("set {what} or {what}RegExp, not both"),
                        )),
                        (None, None) => out.push(err(
                            format!("{at}.{what}"),
                            format!(
                                "set {what} or {what}RegExp: a keyless signature proves an \
                                 identity only together with the issuer that vouched for it"
                            ),
                        )),
                        (Some(e), None) if e.trim().is_empty() => {
                            out.push(err(format!("{at}.{what}"), "must not be empty"))
                        }
                        (None, Some(p)) => {
                            if let Err(e) = rampart_signatures::Matcher::pattern(p) {
                                out.push(err(format!("{at}.{what}RegExp"), e));
                            }
                        }
                        _ => {}
                    }
                }
                if k.trusted_root.as_ref().is_some_and(|r| r.trim().is_empty()) {
                    out.push(err(
                        format!("{at}.trustedRoot"),
                        "name a trusted root, or leave it out for public-good",
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PortRange, Rule};

    fn spec(conditions: Vec<Condition>) -> SecurityPolicySpec {
        SecurityPolicySpec {
            rules: vec![Rule {
                name: "r".into(),
                conditions,
                ..Rule::default()
            }],
            ..SecurityPolicySpec::default()
        }
    }

    #[test]
    fn a_valid_spec_has_no_errors() {
        let s = spec(vec![Condition {
            disallow_privileged: Some(true),
            ..Condition::default()
        }]);
        assert_eq!(s.validate(), vec![]);
    }

    #[test]
    fn errors_say_where_and_what() {
        let s = spec(vec![
            Condition::default(),
            Condition {
                disallow_root: Some(true),
                disallow_privileged: Some(true),
                ..Condition::default()
            },
            Condition {
                allowed_host_ports: Some(PortRange { min: 9, max: 1 }),
                ..Condition::default()
            },
        ]);
        let e: Vec<String> = s.validate().iter().map(ToString::to_string).collect();
        assert!(
            e.iter()
                .any(|m| m.starts_with("spec.rules[0].conditions[0]: empty")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.contains("conditions[1]") && m.contains("disallowPrivileged")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m.contains("min 9 is above max 1")),
            "{e:?}"
        );
        assert!(
            SecurityPolicySpec::default().validate()[0]
                .to_string()
                .contains("at least one rule")
        );
    }

    #[test]
    fn quantities() {
        for q in ["100m", "1", "0.5", "128Mi", "1e3", "2G"] {
            assert!(is_quantity(q), "{q}");
        }
        for q in ["", "abc", "12XB", "1.2.3", "Mi", "-1", "1-2", "+-1", "1e"] {
            assert!(!is_quantity(q), "{q}");
        }
    }

    #[test]
    fn resource_names() {
        for n in ["cpu", "memory", "nvidia.com/gpu", "hugepages-2Mi"] {
            assert!(is_resource_name(n), "{n}");
        }
        for n in ["", "a/b/c", "-cpu", "cp u"] {
            assert!(!is_resource_name(n), "{n}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("ghcr.io/acme/*", "ghcr.io/acme/api:1"));
        assert!(!glob_match("ghcr.io/acme/*", "ghcr.io/other/api"));
        assert!(glob_match("nginx", "nginx"));
        assert!(!glob_match("nginx", "nginx:1"));
    }
}
