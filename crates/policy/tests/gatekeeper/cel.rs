//! The Gatekeeper library's constraints that rampart's built-in conditions do not express,
//! written as CEL rules: one rule per constraint kind, the constraint's `parameters` as the
//! policy's params values (`variables.p` is `params`), referential rules declaring the kinds
//! they read as `inventory`; written here from each template's documented intent.

use rampart_api::{CelCondition, Condition, NamedExpression, ObjectKind};
use serde_json::Value;

/// A CEL rule: its variables (after `p`) and its conditions (expression, message).
pub struct CelRule {
    pub variables: Vec<NamedExpression>,
    pub conditions: Vec<Condition>,
    /// Whether the template judges creations only (updates pass).
    pub create_only: bool,
    /// The kinds it reads as `inventory`.
    pub inventory: Vec<ObjectKind>,
}

fn var(name: &str, expression: &str) -> NamedExpression {
    NamedExpression {
        name: name.into(),
        expression: expression.into(),
    }
}

fn cond(expression: &str, message: &str) -> Condition {
    Condition {
        cel: Some(CelCondition {
            expression: expression.into(),
            message: Some(message.into()),
            message_expression: None,
        }),
        ..Condition::default()
    }
}

/// `x` matches one of the globs in list `list` (`*` alone or as a suffix).
fn glob_in(list: &str, x: &str) -> String {
    format!(
        "{list}.exists(g, g == '*' || (g.endsWith('*') ? {x}.startsWith(g.substring(0, size(g) - 1)) : {x} == g))"
    )
}

/// The pod spec of a Pod or a workload's template.
const SPEC: &str = "object.kind == 'Pod' ? object.spec : (object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec)";

/// Every container of the pod spec, the exempt images left out (`p.exemptImages`, `*` suffix
/// globs).
fn containers(kinds: &str) -> Vec<NamedExpression> {
    let lists: Vec<String> = kinds
        .split(',')
        .map(|k| format!("(has(variables.spec.{k}) ? variables.spec.{k} : [])"))
        .collect();
    vec![
        var("spec", SPEC),
        var("all", &lists.join(" + ")),
        var(
            "containers",
            &format!(
                "variables.all.filter(c, !(has(variables.p.exemptImages) && {}))",
                glob_in("variables.p.exemptImages", "c.image")
            ),
        ),
    ]
}

const ALL: &str = "containers,initContainers,ephemeralContainers";

/// The rule for constraint kind `kind` with parameters `p`, or why none.
pub fn rule(kind: &str, p: &Value) -> Result<CelRule, String> {
    let mut create_only = false;
    let (variables, conditions) = match kind {
        "K8sBlockLoadBalancer" => (
            vec![],
            vec![cond(
                "!has(object.spec.type) || object.spec.type != 'LoadBalancer'",
                "Services of type LoadBalancer are not allowed",
            )],
        ),
        "K8sBlockNodePort" => (
            vec![],
            vec![cond(
                "!has(object.spec.type) || object.spec.type != 'NodePort'",
                "Services of type NodePort are not allowed",
            )],
        ),
        "K8sExternalIPs" => (
            vec![],
            vec![cond(
                "!has(object.spec.externalIPs) || object.spec.externalIPs.all(ip, has(variables.p.allowedIPs) && ip in variables.p.allowedIPs)",
                "Service externalIPs must be allowed",
            )],
        ),
        "K8sBlockWildcardIngress" => (
            vec![],
            vec![cond(
                "!has(object.spec.rules) || object.spec.rules.all(r, has(r.host) && r.host != '' && !r.host.contains('*'))",
                "Ingress hosts must be set and must not be wildcards",
            )],
        ),
        "K8sHttpsOnly" => (
            vec![],
            vec![cond(
                "has(object.metadata.annotations) && 'kubernetes.io/ingress.allow-http' in object.metadata.annotations \
                 && object.metadata.annotations['kubernetes.io/ingress.allow-http'] == 'false' \
                 && ((has(variables.p.tlsOptional) && variables.p.tlsOptional) || (has(object.spec.tls) && size(object.spec.tls) > 0))",
                "Ingress must be HTTPS only: allow-http false, and TLS unless optional",
            )],
        ),
        "K8sReplicaLimits" => (
            vec![],
            vec![cond(
                "!has(object.spec.replicas) || variables.p.ranges.exists(r, object.spec.replicas >= r.min_replicas && object.spec.replicas <= r.max_replicas)",
                "replicas outside the allowed ranges",
            )],
        ),
        "K8sRequiredAnnotations" => (
            vec![var(
                "annotations",
                "has(object.metadata.annotations) ? object.metadata.annotations : {}",
            )],
            vec![cond(
                "variables.p.annotations.all(a, a.key in variables.annotations && (!has(a.allowedRegex) || variables.annotations[a.key].matches(a.allowedRegex)))",
                "required annotations missing or not matching",
            )],
        ),
        "K8sRequiredLabels" => (
            vec![var(
                "labels",
                "has(object.metadata.labels) ? object.metadata.labels : {}",
            )],
            vec![cond(
                "variables.p.labels.all(l, l.key in variables.labels && (!has(l.allowedRegex) || variables.labels[l.key].matches(l.allowedRegex)))",
                "required labels missing or not matching",
            )],
        ),
        "K8sDisallowAnonymous" => (
            vec![var(
                "forbidden",
                "['system:anonymous', 'system:unauthenticated'] + (has(variables.p.disallowAuthenticated) && variables.p.disallowAuthenticated ? ['system:authenticated'] : [])",
            )],
            vec![cond(
                "(has(variables.p.allowedRoles) && object.roleRef.name in variables.p.allowedRoles) || !has(object.subjects) || !object.subjects.exists(s, s.name in variables.forbidden)",
                "anonymous or unauthenticated subjects may not be bound",
            )],
        ),
        "K8sBlockEndpointEditDefaultRole" => (
            vec![],
            vec![cond(
                "object.metadata.name != 'system:aggregate-to-edit' || !has(object.rules) || !object.rules.exists(r, has(r.resources) && r.resources.exists(x, x == 'endpoints' || x == '*') && has(r.verbs) && r.verbs.exists(v, v in ['create', 'patch', 'update', '*']))",
                "system:aggregate-to-edit must not allow editing Endpoints",
            )],
        ),
        "VerifyDeprecatedAPI" => (
            vec![],
            vec![cond(
                "!variables.p.kvs.exists(kv, kv.deprecatedAPI == object.apiVersion && object.kind in kv.kinds)",
                "the API version is deprecated",
            )],
        ),
        "K8sPodDisruptionBudget" => (
            vec![var(
                "labels",
                "object.kind == 'PodDisruptionBudget' || !has(object.spec.template.metadata.labels) ? {} : object.spec.template.metadata.labels",
            )],
            vec![
                cond(
                    "object.kind != 'PodDisruptionBudget' || !has(object.spec.maxUnavailable) || string(object.spec.maxUnavailable) != '0'",
                    "a PodDisruptionBudget may not set maxUnavailable to 0",
                ),
                // A workload all of whose pods a PodDisruptionBudget keeps: never evictable.
                cond(
                    "object.kind == 'PodDisruptionBudget' || !inventory.exists(b, b.kind == 'PodDisruptionBudget' \
                       && b.metadata.namespace == object.metadata.namespace && has(b.spec.selector.matchLabels) \
                       && b.spec.selector.matchLabels.all(k, k in variables.labels && variables.labels[k] == b.spec.selector.matchLabels[k]) \
                       && ((has(b.spec.minAvailable) && !string(b.spec.minAvailable).contains('%') \
                            && int(string(b.spec.minAvailable)) >= (has(object.spec.replicas) ? object.spec.replicas : 1)) \
                           || (has(b.spec.maxUnavailable) && string(b.spec.maxUnavailable) == '0')))",
                    "a PodDisruptionBudget leaves none of its pods evictable",
                ),
            ],
        ),
        "NoUpdateServiceAccount" => (
            vec![
                var("spec", SPEC),
                var(
                    "oldSpec",
                    "oldObject == null ? null : (oldObject.kind == 'CronJob' ? oldObject.spec.jobTemplate.spec.template.spec : (oldObject.kind == 'Pod' ? oldObject.spec : oldObject.spec.template.spec))",
                ),
                var(
                    "sa",
                    "has(variables.spec.serviceAccountName) ? variables.spec.serviceAccountName : ''",
                ),
            ],
            vec![cond(
                "request.operation != 'UPDATE' || variables.oldSpec == null \
                 || (has(variables.oldSpec.serviceAccountName) ? variables.oldSpec.serviceAccountName : '') == variables.sa \
                 || (has(variables.p.allowedUsers) && request.userInfo.username in variables.p.allowedUsers)",
                "the service account of a workload may not change",
            )],
        ),
        "K8sContainerLimits" | "K8sContainerRequests" => {
            let what = if kind == "K8sContainerLimits" {
                "limits"
            } else {
                "requests"
            };
            let mut conds = Vec::new();
            for r in ["cpu", "memory"] {
                let max = p[r].as_str().unwrap_or("");
                if max == "-1" || max.is_empty() {
                    continue;
                }
                conds.push(cond(
                    &format!(
                        "variables.containers.all(c, has(c.resources) && has(c.resources.{what}) && '{r}' in c.resources.{what} \
                         && isQuantity(string(c.resources.{what}['{r}'])) \
                         && quantity(string(c.resources.{what}['{r}'])).compareTo(quantity(variables.p['{r}'])) <= 0)"
                    ),
                    &format!("every container sets {what}.{r}, at most the maximum"),
                ));
            }
            (containers("containers,initContainers"), conds)
        }
        "K8sContainerEphemeralStorageLimit" => {
            create_only = true;
            (
                containers("containers,initContainers"),
                vec![cond(
                    "variables.containers.all(c, has(c.resources) && has(c.resources.limits) && 'ephemeral-storage' in c.resources.limits \
                     && quantity(string(c.resources.limits['ephemeral-storage'])).compareTo(quantity(variables.p['ephemeral-storage'])) <= 0)",
                    "every container sets an ephemeral-storage limit, at most the maximum",
                )],
            )
        }
        "K8sContainerRatios" => {
            let mut conds = vec![cond(
                "variables.containers.all(c, has(c.resources) && has(c.resources.limits) && has(c.resources.requests) \
                 && 'memory' in c.resources.limits && 'memory' in c.resources.requests \
                 && quantity(string(c.resources.limits.memory)).asApproximateFloat() <= \
                    double(variables.p.ratio) * quantity(string(c.resources.requests.memory)).asApproximateFloat())",
                "memory limit over request exceeds the ratio",
            )];
            let cpu_ratio = if p.get("cpuRatio").is_some() {
                "variables.p.cpuRatio"
            } else {
                "variables.p.ratio"
            };
            conds.push(cond(
                &format!(
                    "variables.containers.all(c, has(c.resources) && has(c.resources.limits) && has(c.resources.requests) \
                     && 'cpu' in c.resources.limits && 'cpu' in c.resources.requests \
                     && quantity(string(c.resources.limits.cpu)).asApproximateFloat() <= \
                        double({cpu_ratio}) * quantity(string(c.resources.requests.cpu)).asApproximateFloat())"
                ),
                "cpu limit over request exceeds the ratio",
            ));
            (containers("containers,initContainers"), conds)
        }
        "K8sPSPHostProbesLifecycle" => {
            create_only = true;
            (
                containers(ALL),
                vec![cond(
                    "variables.containers.all(c, \
                       ['livenessProbe', 'readinessProbe', 'startupProbe'].all(k, !(k in c) || \
                          !((has(c[k].httpGet) && has(c[k].httpGet.host)) || (has(c[k].tcpSocket) && has(c[k].tcpSocket.host)))) \
                       && (!has(c.lifecycle) || ['postStart', 'preStop'].all(k, !(k in c.lifecycle) || \
                          !((has(c.lifecycle[k].httpGet) && has(c.lifecycle[k].httpGet.host)) || (has(c.lifecycle[k].tcpSocket) && has(c.lifecycle[k].tcpSocket.host))))))",
                    "probes and lifecycle handlers may not set a host",
                )],
            )
        }
        "K8sPSPProcMount" => {
            create_only = true;
            (
                containers(ALL),
                vec![cond(
                    "variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.procMount) \
                     || c.securityContext.procMount == variables.p.procMount || variables.p.procMount == 'Unmasked')",
                    "procMount is not allowed",
                )],
            )
        }
        "K8sPSPVolumeTypes" => {
            create_only = true;
            (
                vec![var("spec", SPEC)],
                vec![cond(
                    "!has(variables.spec.volumes) || variables.spec.volumes.all(v, v.all(k, k == 'name' || k in variables.p.volumes || '*' in variables.p.volumes))",
                    "volume type not allowed",
                )],
            )
        }
        "K8sPSPFlexVolumes" => {
            create_only = true;
            (
                vec![var("spec", SPEC)],
                vec![cond(
                    "!has(variables.spec.volumes) || variables.spec.volumes.all(v, !has(v.flexVolume) || \
                     (has(variables.p.allowedFlexVolumes) && variables.p.allowedFlexVolumes.exists(a, a.driver == v.flexVolume.driver)))",
                    "FlexVolume driver not allowed",
                )],
            )
        }
        "K8sPSPForbiddenSysctls" => {
            create_only = true;
            (
                vec![
                    var("spec", SPEC),
                    var(
                        "sysctls",
                        "has(variables.spec.securityContext) && has(variables.spec.securityContext.sysctls) ? variables.spec.securityContext.sysctls.map(s, s.name) : []",
                    ),
                ],
                vec![cond(
                    &format!(
                        "variables.sysctls.all(s, !(has(variables.p.forbiddenSysctls) && {}) && (!has(variables.p.allowedSysctls) || {}))",
                        glob_in("variables.p.forbiddenSysctls", "s"),
                        glob_in("variables.p.allowedSysctls", "s")
                    ),
                    "sysctl forbidden or not allowed",
                )],
            )
        }
        "K8sPSPFSGroup" => {
            create_only = true;
            let rule = p["rule"].as_str().unwrap_or("RunAsAny");
            let in_range = "has(variables.p.ranges) && variables.p.ranges.exists(r, variables.fsGroup >= r.min && variables.fsGroup <= r.max)";
            let expression = match rule {
                "MustRunAs" => format!("variables.fsGroup != -1 && {in_range}"),
                "MayRunAs" => format!("variables.fsGroup == -1 || {in_range}"),
                _ => "true".to_string(),
            };
            (
                vec![
                    var("spec", SPEC),
                    var(
                        "fsGroup",
                        "has(variables.spec.securityContext) && has(variables.spec.securityContext.fsGroup) ? variables.spec.securityContext.fsGroup : -1",
                    ),
                ],
                vec![cond(&expression, "fsGroup outside the allowed ranges")],
            )
        }
        "K8sPSPSELinuxV2" => {
            create_only = true;
            let mut v = containers(ALL);
            v.push(var(
                "options",
                "[has(variables.spec.securityContext) && has(variables.spec.securityContext.seLinuxOptions) ? variables.spec.securityContext.seLinuxOptions : null] \
                 + variables.containers.map(c, has(c.securityContext) && has(c.securityContext.seLinuxOptions) ? c.securityContext.seLinuxOptions : null)",
            ));
            (
                v,
                vec![cond(
                    "variables.options.all(o, o == null || (has(variables.p.allowedSELinuxOptions) && variables.p.allowedSELinuxOptions.exists(a, \
                       ['level', 'role', 'type', 'user'].all(f, !(f in o) || (f in a && a[f] == o[f])))))",
                    "seLinuxOptions not allowed",
                )],
            )
        }
        "K8sPSPAppArmor" => {
            create_only = true;
            let mut v = containers(ALL);
            v.push(var(
                "annotations",
                "has(object.metadata.annotations) ? object.metadata.annotations : {}",
            ));
            v.push(var(
                "podProfile",
                "has(variables.spec.securityContext) && has(variables.spec.securityContext.appArmorProfile) ? variables.spec.securityContext.appArmorProfile : null",
            ));
            v.push(var(
                "profiles",
                "variables.containers.map(c, \
                   ('container.apparmor.security.beta.kubernetes.io/' + c.name) in variables.annotations \
                   ? variables.annotations['container.apparmor.security.beta.kubernetes.io/' + c.name] \
                   : [has(c.securityContext) && has(c.securityContext.appArmorProfile) ? c.securityContext.appArmorProfile : variables.podProfile] \
                       .map(a, a == null ? '' : (a.type == 'RuntimeDefault' ? 'runtime/default' : (a.type == 'Unconfined' ? 'unconfined' : (a.type == 'Localhost' ? 'localhost/' + a.localhostProfile : ''))))[0])",
            ));
            (
                v,
                vec![cond(
                    &format!(
                        "variables.profiles.all(x, {})",
                        glob_in("variables.p.allowedProfiles", "x")
                    ),
                    "AppArmor profile not allowed",
                )],
            )
        }
        "K8sPSPSeccomp" => {
            create_only = true;
            let mut v = containers(ALL);
            v.push(var(
                "annotations",
                "has(object.metadata.annotations) ? object.metadata.annotations : {}",
            ));
            v.push(var(
                "podProfile",
                "'seccomp.security.alpha.kubernetes.io/pod' in variables.annotations ? variables.annotations['seccomp.security.alpha.kubernetes.io/pod'] \
                 : [has(variables.spec.securityContext) && has(variables.spec.securityContext.seccompProfile) ? variables.spec.securityContext.seccompProfile : null] \
                   .map(a, a == null ? '' : (a.type == 'RuntimeDefault' ? 'runtime/default' : (a.type == 'Unconfined' ? 'unconfined' : (a.type == 'Localhost' ? 'localhost/' + a.localhostProfile : ''))))[0]",
            ));
            v.push(var(
                "profiles",
                "variables.containers.map(c, \
                   ('container.seccomp.security.alpha.kubernetes.io/' + c.name) in variables.annotations \
                   ? variables.annotations['container.seccomp.security.alpha.kubernetes.io/' + c.name] \
                   : (has(c.securityContext) && has(c.securityContext.seccompProfile) \
                      ? [c.securityContext.seccompProfile].map(a, a.type == 'RuntimeDefault' ? 'runtime/default' : (a.type == 'Unconfined' ? 'unconfined' : (a.type == 'Localhost' ? 'localhost/' + a.localhostProfile : '')))[0] \
                      : variables.podProfile))",
            ));
            (
                v,
                vec![cond(
                    &format!(
                        "variables.profiles.all(x, {})",
                        glob_in("variables.p.allowedProfiles", "x")
                    ),
                    "seccomp profile not allowed",
                )],
            )
        }
        "K8sPSPSeccompV2" => {
            create_only = true;
            let mut v = containers(ALL);
            v.push(var(
                "podProfile",
                "has(variables.spec.securityContext) && has(variables.spec.securityContext.seccompProfile) ? variables.spec.securityContext.seccompProfile : null",
            ));
            v.push(var(
                "profiles",
                "variables.containers.map(c, has(c.securityContext) && has(c.securityContext.seccompProfile) ? c.securityContext.seccompProfile : variables.podProfile)",
            ));
            (
                v,
                vec![cond(
                    &format!(
                        "variables.profiles.all(a, a == null ? 'not configured' in variables.p.allowedProfiles \
                           : (a.type in variables.p.allowedProfiles && (a.type != 'Localhost' || (has(variables.p.allowedLocalhostFiles) && {}))))",
                        glob_in("variables.p.allowedLocalhostFiles", "a.localhostProfile")
                    ),
                    "seccomp profile not allowed",
                )],
            )
        }
        // Referential rules: what else the cluster holds, from `inventory`.
        "K8sUniqueIngressHost" => (
            vec![var(
                "others",
                "inventory.filter(o, o.kind == 'Ingress' && has(o.spec.rules) \
                 && !(o.metadata.name == object.metadata.name && (has(o.metadata.namespace) ? o.metadata.namespace : '') == (has(object.metadata.namespace) ? object.metadata.namespace : '')))",
            )],
            vec![cond(
                "!has(object.spec.rules) || !object.spec.rules.exists(r, has(r.host) \
                 && variables.others.exists(o, o.spec.rules.exists(x, has(x.host) && x.host == r.host)))",
                "an Ingress host must be unique in the cluster",
            )],
        ),
        "K8sUniqueServiceSelector" => (
            vec![],
            vec![cond(
                "!has(object.spec.selector) || !inventory.exists(o, o.kind == 'Service' && has(o.spec.selector) \
                 && o.metadata.namespace == object.metadata.namespace && o.metadata.name != object.metadata.name \
                 && size(o.spec.selector) == size(object.spec.selector) \
                 && o.spec.selector.all(k, k in object.spec.selector && object.spec.selector[k] == o.spec.selector[k]))",
                "a Service selector must be unique in its namespace",
            )],
        ),
        "K8sStorageClass" => (
            vec![
                var(
                    "classes",
                    "inventory.filter(o, o.kind == 'StorageClass').map(o, o.metadata.name)",
                ),
                var(
                    "claims",
                    "object.kind == 'PersistentVolumeClaim' ? [object.spec] \
                     : (has(object.spec.volumeClaimTemplates) ? object.spec.volumeClaimTemplates.map(t, t.spec) : [])",
                ),
            ],
            vec![cond(
                "variables.claims.all(c, has(c.storageClassName) && c.storageClassName in variables.classes \
                 && (!has(variables.p.allowedStorageClasses) || c.storageClassName in variables.p.allowedStorageClasses))",
                "the storage class must exist and be allowed",
            )],
        ),
        "K8sHorizontalPodAutoscaler" => (
            vec![var(
                "min",
                "has(object.spec.minReplicas) ? object.spec.minReplicas : 1",
            )],
            vec![
                cond(
                    "!has(variables.p.ranges) || variables.p.ranges.exists(r, variables.min >= r.min_replicas && object.spec.maxReplicas <= r.max_replicas)",
                    "replicas outside the allowed ranges",
                ),
                cond(
                    "!has(variables.p.minimumReplicaSpread) || object.spec.maxReplicas - variables.min >= variables.p.minimumReplicaSpread",
                    "the replica spread is too small",
                ),
                cond(
                    "!has(variables.p.enforceScaleTargetRef) || !variables.p.enforceScaleTargetRef \
                     || inventory.exists(o, o.kind == object.spec.scaleTargetRef.kind && o.apiVersion == object.spec.scaleTargetRef.apiVersion \
                          && o.metadata.name == object.spec.scaleTargetRef.name && o.metadata.namespace == object.metadata.namespace)",
                    "the scale target does not exist",
                ),
            ],
        ),
        other => return Err(format!("{other}: no CEL rule written")),
    };
    let inventory = match kind {
        "K8sUniqueIngressHost" => vec![ObjectKind::new("networking.k8s.io/v1", "Ingress")],
        "K8sUniqueServiceSelector" => vec![ObjectKind::new("v1", "Service")],
        "K8sStorageClass" => vec![ObjectKind::new("storage.k8s.io/v1", "StorageClass")],
        "K8sHorizontalPodAutoscaler" => ["Deployment", "StatefulSet", "ReplicaSet"]
            .map(|k| ObjectKind::new("apps/v1", k))
            .to_vec(),
        "K8sPodDisruptionBudget" => vec![ObjectKind::new("policy/v1", "PodDisruptionBudget")],
        _ => vec![],
    };
    let _ = p;
    let mut all = vec![var("p", "params")];
    all.extend(variables);
    Ok(CelRule {
        variables: all,
        conditions,
        create_only,
        inventory,
    })
}
