//! The Gatekeeper policy library's own test cases (`tests/corpora/gatekeeper-library/cases.tsv`,
//! 270 rows), with each constraint's intent expressed as a rampart ClusterSecurityPolicy —
//! built-in conditions where they express it, CEL rules otherwise (`gatekeeper/cel.rs`): for
//! every row covered, rampart must allow `allow` rows and find violations in `deny` rows. Rows
//! not covered are listed with the reason.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rampart_api::{
    Condition, EnforcementMode, HostPathRule, PortRange, ResourceRequirement, Rule,
    SecurityPolicySpec, Targets,
};
use rampart_policy::review::{
    NamedPolicy, Operation, PolicySet, PssConfig, Request, validate_with,
};
use rampart_policy::store::ObjectStore;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora/gatekeeper-library")
}

fn yaml(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    text.split("\n---")
        .filter_map(|d| serde_saphyr::from_str::<Value>(d).ok())
        .filter(|v| !v.is_null())
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn cond(f: impl FnOnce(&mut Condition)) -> Condition {
    let mut c = Condition::default();
    f(&mut c);
    c
}

#[path = "gatekeeper/cel.rs"]
mod cel;

/// The rampart policy expressing a Gatekeeper constraint for an object of `object_kind`, or why
/// none does: built-in conditions where they express it, else a CEL rule.
fn translate(constraint: &Value, object_kind: &str) -> Result<Option<SecurityPolicySpec>, String> {
    let kind = constraint["kind"].as_str().unwrap_or("");
    if !rampart_policy::object::POD_KINDS.contains(&object_kind) {
        return translate_cel(constraint).map(|(s, _)| Some(s));
    }
    match translate_builtin(constraint) {
        Err(_) if cel::rule(kind, &constraint["spec"]["parameters"]).is_ok() => {
            translate_cel(constraint).map(|(s, _)| Some(s))
        }
        other => other,
    }
}

/// `targets` and mode of a constraint; `kinds` as rampart kind patterns when `any_kind`.
fn targets_of(
    constraint: &Value,
    create_only: bool,
    any_kind: bool,
) -> Result<(Targets, EnforcementMode), String> {
    let m = &constraint["spec"]["match"];
    let mut kinds = Vec::new();
    for k in m["kinds"].as_array().into_iter().flatten() {
        for kind in strings(&k["kinds"]) {
            if kind == "*" {
                continue;
            }
            if any_kind {
                for g in strings(&k["apiGroups"]) {
                    let g = if g.is_empty() { "core".to_string() } else { g };
                    kinds.push(format!("{g}/*/{kind}"));
                }
            } else if rampart_policy::object::POD_KINDS.contains(&kind.as_str()) {
                kinds.push(kind);
            } else {
                return Err(format!(
                    "targets kind {kind}: rampart's built-in conditions judge pods and workloads"
                ));
            }
        }
    }
    if m.get("labelSelector").is_some() || m.get("namespaceSelector").is_some() {
        return Err("label selectors in the match are not used by these samples' rows".into());
    }
    // No kinds in the match: every kind.
    if any_kind && kinds.is_empty() {
        kinds.push("*".into());
    }
    let mode = match constraint["spec"]["enforcementAction"].as_str() {
        Some("warn") => EnforcementMode::Warn,
        Some("dryrun") => EnforcementMode::Dryrun,
        _ => EnforcementMode::Enforce,
    };
    Ok((
        Targets {
            kinds,
            namespaces: strings(&m["namespaces"]),
            excluded_namespaces: strings(&m["excludedNamespaces"]),
            operations: if create_only {
                vec!["CREATE".into()]
            } else {
                vec![]
            },
            ..Targets::default()
        },
        mode,
    ))
}

/// The constraint as a CEL rule ([`cel::rule`]).
fn translate_cel(constraint: &Value) -> Result<(SecurityPolicySpec, ()), String> {
    let kind = constraint["kind"].as_str().unwrap_or("");
    let parameters = &constraint["spec"]["parameters"];
    let rule = cel::rule(kind, parameters)?;
    let (targets, mode) = targets_of(constraint, rule.create_only, true)?;
    // The constraint's parameters are the policy's params values (none: an empty object).
    let values = if parameters.is_null() {
        serde_json::json!({})
    } else {
        parameters.clone()
    };
    Ok((
        SecurityPolicySpec {
            enforcement_mode: mode,
            targets,
            params: Some(rampart_api::Params {
                values: Some(values),
                ..Default::default()
            }),
            inventory: rule.inventory,
            rules: vec![Rule {
                name: kind.to_string(),
                conditions: rule.conditions,
                variables: rule.variables,
                ..Rule::default()
            }],
            ..SecurityPolicySpec::default()
        },
        (),
    ))
}

/// The constraint in rampart's built-in conditions, or why they do not express it.
fn translate_builtin(constraint: &Value) -> Result<Option<SecurityPolicySpec>, String> {
    let kind = constraint["kind"].as_str().unwrap_or("");
    let p = &constraint["spec"]["parameters"];
    let mut exempt = strings(&p["exemptImages"]);
    // Gatekeeper's PSP templates (and required probes) do not re-judge updates.
    let create_only = kind.starts_with("K8sPSP") || kind == "K8sRequiredProbes";
    let conditions: Vec<Condition> = match kind {
        "K8sAllowedRepos" => vec![cond(|c| c.allowed_registries = Some(strings(&p["repos"])))],
        "K8sAllowedReposv2" => vec![cond(|c| {
            c.allowed_images = Some(strings(&p["allowedImages"]))
        })],
        "K8sDisallowedRepos" => vec![cond(|c| {
            c.forbidden_images = Some(
                strings(&p["repos"])
                    .into_iter()
                    .map(|r| format!("{r}*"))
                    .collect(),
            )
        })],
        "K8sDisallowedTags" => vec![
            // Gatekeeper also flags images without any tag.
            cond(|c| c.disallow_latest_tag = Some(true)),
            cond(|c| c.forbidden_tags = Some(strings(&p["tags"]))),
        ],
        "K8sRequiredLabels" => {
            let labels = p["labels"].as_array().cloned().unwrap_or_default();
            if labels.iter().any(|l| l.get("allowedRegex").is_some()) {
                return Err(
                    "label values by regular expression: rampart lists allowed values".into(),
                );
            }
            vec![cond(|c| {
                c.required_labels = Some(
                    labels
                        .iter()
                        .map(|l| rampart_api::RequiredLabel {
                            key: l["key"].as_str().unwrap_or("").into(),
                            allowed_values: vec![],
                        })
                        .collect(),
                )
            })]
        }
        "K8sRequiredResources"
            if strings(&p["requests"]).is_empty() && strings(&p["limits"]).is_empty() =>
        {
            // A constraint that requires nothing: no rampart policy at all (which rampart would
            // reject as empty), so everything is admitted.
            return Ok(None);
        }
        "K8sRequiredResources" => vec![cond(|c| {
            c.require_resources = Some(ResourceRequirement {
                requests: strings(&p["requests"]),
                limits: strings(&p["limits"]),
            })
        })],
        "K8sImageDigests" => vec![cond(|c| c.require_image_digest = Some(true))],
        "K8sDisallowInteractiveTTY" => vec![cond(|c| c.disallow_interactive_tty = Some(true))],
        "K8sRequiredProbes" => vec![cond(|c| c.required_probes = Some(strings(&p["probes"])))],
        "K8sPSPAutomountServiceAccountTokenPod" => {
            vec![cond(|c| c.disallow_token_automount = Some(true))]
        }
        "K8sPSPHostProcess" => vec![cond(|c| c.disallow_host_process = Some(true))],
        "K8sPSPPrivilegedContainer" => vec![cond(|c| c.disallow_privileged = Some(true))],
        "K8sPSPHostNamespace" => vec![cond(|c| c.disallow_host_namespaces = Some(true))],
        "K8sPSPAllowPrivilegeEscalationContainer" => {
            vec![cond(|c| c.disallow_privilege_escalation = Some(true))]
        }
        "K8sPSPReadOnlyRootFilesystem" => {
            vec![cond(|c| c.require_read_only_root_filesystem = Some(true))]
        }
        "K8sPSPHostFilesystem" => vec![cond(|c| {
            c.allowed_host_paths = Some(
                p["allowedHostPaths"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|h| HostPathRule {
                        path_prefix: h["pathPrefix"].as_str().unwrap_or("").into(),
                        read_only: h["readOnly"].as_bool().unwrap_or(false),
                    })
                    .collect(),
            )
        })],
        "K8sPSPCapabilities" => {
            let mut v = Vec::new();
            if p.get("allowedCapabilities").is_some() {
                v.push(cond(|c| {
                    c.allowed_capabilities = Some(strings(&p["allowedCapabilities"]))
                }));
            }
            if !strings(&p["requiredDropCapabilities"]).is_empty() {
                v.push(cond(|c| {
                    c.required_drop_capabilities = Some(strings(&p["requiredDropCapabilities"]))
                }));
            }
            v
        }
        "K8sPSPAllowedUsers" => {
            if p["runAsUser"]["rule"] != "MustRunAsNonRoot" {
                return Err("user ID ranges (MustRunAs): rampart only requires non-root".into());
            }
            vec![cond(|c| c.disallow_root = Some(true))]
        }
        "K8sPSPHostNetworkingPorts" => {
            let mut v = Vec::new();
            if p["hostNetwork"] == Value::Bool(false) {
                v.push(cond(|c| c.disallow_host_namespaces = Some(true)));
            }
            if let (Some(min), Some(max)) = (p["min"].as_u64(), p["max"].as_u64()) {
                v.push(cond(|c| {
                    c.allowed_host_ports = Some(PortRange {
                        min: u16::try_from(min).unwrap(),
                        max: u16::try_from(max).unwrap(),
                    })
                }));
            }
            v
        }
        other => {
            return Err(match other {
                "K8sContainerLimits" | "K8sContainerRequests" | "K8sContainerRatios" | "K8sContainerEphemeralStorageLimit" => {
                    "resource quantities compared against maxima: rampart only requires presence".into()
                }
                "K8sPSPAppArmor" | "K8sPSPSeccomp" | "K8sPSPSeccompV2" | "K8sPSPSELinuxV2" | "K8sPSPProcMount"
                | "K8sPSPForbiddenSysctls" | "K8sPSPVolumeTypes" | "K8sPSPWindowsHostProcess" | "K8sPSPHostProbesLifecycle"
                | "K8sPSPFSGroup" | "K8sPSPFlexVolumes" => {
                    "a Pod Security Standards control with custom allow-lists: rampart enforces these through Pod Security levels, not per-policy lists".into()
                }
                _ => format!("{other}: not an intent rampart's conditions express (non-pod objects or referential checks)"),
            });
        }
    };
    if conditions.is_empty() {
        return Err("no parameter rampart can express".into());
    }
    let (targets, mode) = targets_of(constraint, create_only, false)?;
    // Gatekeeper's exemptImages use `*` suffix globs, as rampart's do.
    exempt.retain(|e| !e.is_empty());
    Ok(Some(SecurityPolicySpec {
        enforcement_mode: mode,
        targets,
        rules: vec![Rule {
            name: kind.to_string(),
            conditions,
            exempt_images: exempt,
            ..Rule::default()
        }],
        ..SecurityPolicySpec::default()
    }))
}

#[test]
fn covered_gatekeeper_cases_agree() {
    let tsv = std::fs::read_to_string(root().join("cases.tsv")).unwrap();
    let mut agree = 0;
    let mut disagreements = Vec::new();
    let mut not_covered: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut rows = 0;
    let mut expressed: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut parity, mut parity_disagreements) = (0, Vec::new());
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (constraint, case, object, inventory, expect) = (f[2], f[3], f[4], f[5], f[6]);
        rows += 1;
        let c = &yaml(constraint)[0];
        let kind = c["kind"].as_str().unwrap_or("").to_string();
        // The rest of the cluster, as referential rules see it.
        let inventory: Vec<Value> = inventory
            .split(',')
            .filter(|f| !f.is_empty())
            .flat_map(yaml)
            .collect();
        let obj = yaml(object).remove(0);
        let object_kind = if obj["kind"] == "AdmissionReview" {
            obj["request"]["object"]["kind"].as_str().unwrap_or("")
        } else {
            obj["kind"].as_str().unwrap_or("")
        }
        .to_string();
        let spec = match translate(c, &object_kind) {
            Ok(s) => {
                let how = match &s {
                    Some(s)
                        if s.rules
                            .iter()
                            .any(|r| r.conditions.iter().any(|c| c.cel.is_some())) =>
                    {
                        "cel"
                    }
                    Some(_) => "built-in",
                    None => "no policy (requires nothing)",
                };
                *expressed.entry(how).or_insert(0) += 1;
                println!("  {case} ({constraint}, {object}): {how}");
                s
            }
            Err(why) => {
                not_covered.entry(kind).or_insert((0, why)).0 += 1;
                continue;
            }
        };
        // AdmissionReview files carry the operation and objects.
        let (operation, new, old) = if obj["kind"] == "AdmissionReview" {
            let r = &obj["request"];
            let op = match r["operation"].as_str() {
                Some("UPDATE") => Operation::Update,
                Some("DELETE") => Operation::Delete,
                _ => Operation::Create,
            };
            (op, r["object"].clone(), Some(r["oldObject"].clone()))
        } else {
            (Operation::Create, obj.clone(), None)
        };
        let okind = new["kind"].as_str().unwrap_or("").to_string();
        let ns = new["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let api_version = new["apiVersion"].as_str().unwrap_or("v1");
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        let mut set = PolicySet::default();
        let name = c["metadata"]["name"].as_str().unwrap_or("c").to_string();
        if let Some(spec) = spec
            && let Err(e) = set.upsert(NamedPolicy {
                kind: "ClusterSecurityPolicy",
                namespace: None,
                name: name.clone(),
                spec,
            })
        {
            disagreements.push(format!("{case}: translated policy invalid: {e:?}"));
            continue;
        }
        let req = Request {
            group: &group,
            version: &version,
            kind: &okind,
            resource: "",
            sub_resource: None,
            operation,
            namespace: &ns,
            name: new["metadata"]["name"].as_str().unwrap_or(""),
            username: "",
            object: Some((&new).into()),
            old_object: old.as_ref().map(Into::into),
        };
        let labels = BTreeMap::from([("kubernetes.io/metadata.name".to_string(), ns.clone())]);
        // What the policy reads of the rest of the cluster.
        let objects = ObjectStore::from_objects(&inventory, &set.wanted());
        // An object that does not read as its kind (a Deployment of a removed apiVersion) is
        // refused by the webhook with the reason.
        let (found, messages) =
            match validate_with(&req, &labels, &set, &PssConfig::default(), &objects) {
                Ok(d) => (
                    d.violations
                        .iter()
                        .filter(|v| v.policy.starts_with("ClusterSecurityPolicy"))
                        .count(),
                    d.violations.iter().map(|v| v.message.clone()).collect(),
                ),
                Err(e) => (1, vec![e.to_string()]),
            };
        let ok = (expect == "deny") == (found > 0);
        // The same rule as a Gatekeeper CEL template: converted to a ClusterSecurityPolicy, and
        // to a ValidatingAdmissionPolicy and binding, both decide as the policy above.
        if let Some(template) = cel_template(&kind, &c["spec"]["parameters"]) {
            let converted = converted_decisions(&template, c, &req, &new, &labels);
            match converted {
                Ok((as_policy, as_vap)) => {
                    parity += 1;
                    if (as_policy > 0) != (found > 0) || (as_vap > 0) != (found > 0) {
                        parity_disagreements.push(format!(
                            "{case} ({object} under {constraint}): policy {found}, converted policy {as_policy}, as VAP {as_vap} violation(s)"
                        ));
                    }
                }
                Err(e) => parity_disagreements.push(format!("{case}: {e}")),
            }
        }
        if ok {
            agree += 1;
        } else {
            disagreements.push(format!(
                "{case} ({object} under {constraint}): expected {expect}, rampart found {found} violation(s): {messages:?}"
            ));
        }
    }
    let uncovered: usize = not_covered.values().map(|v| v.0).sum();
    println!("expressed as: {expressed:?}");
    println!(
        "Gatekeeper library: {rows} cases; {agree} covered cases agree, {} disagree; {uncovered} not covered:",
        disagreements.len()
    );
    for (k, (n, why)) in &not_covered {
        println!("  {k} ({n} case(s)): {why}");
    }
    assert_eq!(rows, 270);
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    // 110 by built-in conditions, the rest by CEL rules (tests/gatekeeper/cel.rs); what is
    // left needs the rest of the cluster (an inventory).
    assert_eq!(agree, 270, "every case agrees");
    println!("as CEL templates, converted to policies and to VAPs: {parity} cases");
    assert!(
        parity_disagreements.is_empty(),
        "{} converted cases disagree:\n{}",
        parity_disagreements.len(),
        parity_disagreements.join("\n")
    );
    // Every row under a CEL rule that reads no inventory (VAPs have none) is checked so: 138
    // of them today; fewer means rows were skipped.
    assert!(parity >= 138, "{parity}");
}

/// The CEL rule of constraint kind `kind` as the ConstraintTemplate Gatekeeper users would
/// write (`engine: K8sNativeValidation`) for these parameters: the rule's variables after
/// Gatekeeper's `variables.params`, its conditions as validations, creations only as a match
/// condition.
/// None for kinds without a CEL rule, or reading an inventory.
fn cel_template(kind: &str, parameters: &Value) -> Option<Value> {
    let rule = cel::rule(kind, parameters).ok()?;
    if !rule.inventory.is_empty() {
        return None;
    }
    let mut variables = vec![serde_json::json!({"name": "p", "expression": "variables.params"})];
    variables.extend(
        rule.variables
            .iter()
            .skip(1)
            .map(|v| serde_json::json!({"name": v.name, "expression": v.expression})),
    );
    let validations: Vec<Value> = rule
        .conditions
        .iter()
        .filter_map(|c| c.cel.as_ref())
        .map(|c| serde_json::json!({"expression": c.expression, "message": c.message}))
        .collect();
    let mut source = serde_json::json!({"variables": variables, "validations": validations});
    if rule.create_only {
        source["matchConditions"] = serde_json::json!([{"name": "create-only", "expression": "request.operation == 'CREATE'"}]);
    }
    Some(serde_json::json!({
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": kind.to_ascii_lowercase()},
        "spec": {
            "crd": {"spec": {"names": {"kind": kind}}},
            "targets": [{"target": "admission.k8s.gatekeeper.sh", "code": [{"engine": "K8sNativeValidation", "source": source}]}]
        }
    }))
}

/// Violations found by the constraint under `template` converted to a ClusterSecurityPolicy,
/// and converted to a ValidatingAdmissionPolicy with its binding (the constraint its params).
fn converted_decisions(
    template: &Value,
    constraint: &Value,
    req: &Request<'_>,
    object: &Value,
    labels: &BTreeMap<String, String>,
) -> Result<(usize, usize), String> {
    use rampart_policy::gatekeeper::{Target, convert};
    let docs = [template.clone(), constraint.clone()];
    let (policies, errors) = convert(&docs, Target::SecurityPolicy);
    if let Some(e) = errors.first() {
        return Err(e.to_string());
    }
    let mut set = PolicySet::default();
    for p in &policies {
        let p = rampart_policy::source::policy_from_value(p, "default")
            .ok_or("not a policy")?
            .map_err(|e| e.to_string())?;
        set.upsert(p).map_err(|e| format!("{e:?}"))?;
    }
    let as_policy = match validate_with(
        req,
        labels,
        &set,
        &PssConfig::default(),
        &ObjectStore::new(),
    ) {
        Ok(d) => d.violations.len(),
        Err(_) => 1,
    };
    let (vaps, errors) = convert(&docs, Target::Vap);
    if let Some(e) = errors.first() {
        return Err(e.to_string());
    }
    let mut all = vaps;
    all.push(constraint.clone());
    let (set, errors) = rampart_policy::vap::VapSet::from_documents(
        all.iter().map(|v| ("converted".to_string(), v)),
    );
    if let Some(e) = errors.first() {
        return Err(e.clone());
    }
    Ok((as_policy, set.review(req, object, labels).violations.len()))
}
