//! Checks of one workload's pod: privileges, host namespaces, capabilities, users, file
//! systems, seccomp, resources. A check that judges containers reports one [`Hit`] per failing
//! container (as kubescape counts alerts); the finding gathers them.

use serde_json::{Value, json};

use crate::check::{Hit, Outcome};
use crate::fix::{patch, remove, set};
use crate::object::{Container, ContainerList, Object, Pod};
use crate::settings::Settings;

/// The hits on a workload's pod; an error when the workload has no pod spec to judge.
fn with_pod(o: &Object, f: impl FnOnce(&Pod<'_>) -> Vec<Hit>) -> Outcome {
    Ok(o.pod_or_error()?.map(|p| f(&p)).unwrap_or_default())
}

fn is_true(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool) == Some(true)
}

/// JSON pointer of a container field inside the object.
fn ptr(pod: &Pod<'_>, c: &Container<'_>, rest: &str) -> String {
    format!("{}{}", pod.pointer(), c.pointer(rest))
}

fn pod_ptr(pod: &Pod<'_>, rest: &str) -> String {
    format!("{}/{rest}", pod.pointer())
}

/// The indices of `securityContext.capabilities.add` entries in `names`.
fn added_caps(c: &Container<'_>, names: &[String]) -> Vec<usize> {
    c.security("capabilities")
        .and_then(|caps| caps.get("add"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, v)| v.as_str().is_some_and(|s| names.iter().any(|n| n == s)))
        .map(|(i, _)| i)
        .collect()
}

/// Removes the listed entries of a container's added capabilities, last first (so the
/// indices stay valid).
fn drop_caps(
    pod: &Pod<'_>,
    c: &Container<'_>,
    idx: &[usize],
) -> Vec<Option<json_patch::PatchOperation>> {
    idx.iter()
        .rev()
        .map(|i| {
            remove(&ptr(
                pod,
                c,
                &format!("securityContext/capabilities/add/{i}"),
            ))
        })
        .collect()
}

/// `privileged: true`, or `SYS_ADMIN` added (which is as good as privileged).
pub fn privileged(o: &Object, _: &Settings) -> Outcome {
    let sys_admin = ["SYS_ADMIN".to_string()];
    with_pod(o, |pod| {
        pod.all_containers()
            .into_iter()
            .filter_map(|c| {
                let caps = added_caps(&c, &sys_admin);
                let privileged = is_true(c.security("privileged"));
                if caps.is_empty() && !privileged {
                    return None;
                }
                let field = if privileged {
                    c.path("securityContext.privileged")
                } else {
                    c.path(&format!("securityContext.capabilities.add[{}]", caps[0]))
                };
                let mut ops = drop_caps(pod, &c, &caps);
                if privileged {
                    ops.push(set(
                        &o.value,
                        &ptr(pod, &c, "securityContext/privileged"),
                        json!(false),
                    ));
                }
                Some(
                    Hit::new(field, format!("container {:?} is privileged", c.name()))
                        .fix(patch(ops)),
                )
            })
            .collect()
    })
}

/// `allowPrivilegeEscalation` not set to `false` (unset allows it).
pub fn privilege_escalation(o: &Object, _: &Settings) -> Outcome {
    with_pod(o, |pod| {
        pod.containers_of(&[ContainerList::Containers])
            .into_iter()
            .filter(|c| {
                c.security("allowPrivilegeEscalation")
                    .and_then(Value::as_bool)
                    != Some(false)
            })
            .map(|c| {
                Hit::new(
                    c.path("securityContext.allowPrivilegeEscalation"),
                    format!("container {:?} allows privilege escalation", c.name()),
                )
                .fix(patch([set(
                    &o.value,
                    &ptr(pod, &c, "securityContext/allowPrivilegeEscalation"),
                    json!(false),
                )]))
            })
            .collect()
    })
}

/// The container's value of a security field, else the pod's, and whether the container set
/// it.
fn effective<'a>(pod: &Pod<'a>, c: &Container<'a>, field: &str) -> (Option<&'a Value>, bool) {
    match c.security(field) {
        Some(v) => (Some(v), true),
        None => (pod.security(field), false),
    }
}

/// May run as root: neither `runAsNonRoot: true` nor a non-zero `runAsUser`, or no non-zero
/// `runAsGroup` (container first, then pod).
pub fn non_root(o: &Object, _: &Settings) -> Outcome {
    with_pod(o, |pod| {
        let lists: &[ContainerList] = if o.kind() == "Pod" {
            &[
                ContainerList::Containers,
                ContainerList::Init,
                ContainerList::Ephemeral,
            ]
        } else {
            &[ContainerList::Containers, ContainerList::Init]
        };
        pod.containers_of(lists)
            .into_iter()
            .filter_map(|c| {
                let (non_root, _) = effective(pod, &c, "runAsNonRoot");
                let (user, user_here) = effective(pod, &c, "runAsUser");
                let (group, group_here) = effective(pod, &c, "runAsGroup");
                let non_root_false = non_root.is_none() || non_root == Some(&json!(false));
                let user_zero = user.is_none() || user == Some(&json!(0));
                let group_zero = group.is_none() || group == Some(&json!(0));
                let root_user = non_root_false && user_zero;
                if !root_user && !group_zero {
                    return None;
                }
                let mut ops = Vec::new();
                let mut field = String::new();
                if root_user {
                    if user.is_some() && user_here {
                        field = c.path("securityContext.runAsUser");
                        ops.push(set(
                            &o.value,
                            &ptr(pod, &c, "securityContext/runAsUser"),
                            json!(1000),
                        ));
                    } else if user.is_some() {
                        field = pod.path("securityContext.runAsUser");
                        ops.push(set(
                            &o.value,
                            &pod_ptr(pod, "securityContext/runAsUser"),
                            json!(1000),
                        ));
                    } else {
                        field = c.path("securityContext.runAsNonRoot");
                        ops.push(set(
                            &o.value,
                            &ptr(pod, &c, "securityContext/runAsNonRoot"),
                            json!(true),
                        ));
                    }
                }
                if group_zero {
                    let (f, op) = if group.is_some() && !group_here {
                        (
                            pod.path("securityContext.runAsGroup"),
                            set(
                                &o.value,
                                &pod_ptr(pod, "securityContext/runAsGroup"),
                                json!(1000),
                            ),
                        )
                    } else {
                        (
                            c.path("securityContext.runAsGroup"),
                            set(
                                &o.value,
                                &ptr(pod, &c, "securityContext/runAsGroup"),
                                json!(1000),
                            ),
                        )
                    };
                    if field.is_empty() {
                        field = f;
                    }
                    ops.push(op);
                }
                let what = match (root_user, group_zero) {
                    (true, true) => "may run as root user and group",
                    (true, false) => "may run as the root user",
                    _ => "may run with the root group",
                };
                // An ephemeral container cannot be changed once added: no patch.
                let fix = (c.list != ContainerList::Ephemeral)
                    .then(|| patch(ops))
                    .flatten();
                Some(Hit::new(field, format!("container {:?} {what}", c.name())).fix(fix))
            })
            .collect()
    })
}

fn lists_for(o: &Object) -> &'static [ContainerList] {
    if o.kind() == "Pod" {
        &[
            ContainerList::Containers,
            ContainerList::Init,
            ContainerList::Ephemeral,
        ]
    } else {
        &[ContainerList::Containers, ContainerList::Init]
    }
}

/// `readOnlyRootFilesystem` not `true`.
pub fn immutable_filesystem(o: &Object, _: &Settings) -> Outcome {
    with_pod(o, |pod| {
        pod.containers_of(lists_for(o))
            .into_iter()
            .filter(|c| !is_true(c.security("readOnlyRootFilesystem")))
            .map(|c| {
                let fix = (c.list != ContainerList::Ephemeral)
                    .then(|| {
                        patch([set(
                            &o.value,
                            &ptr(pod, &c, "securityContext/readOnlyRootFilesystem"),
                            json!(true),
                        )])
                    })
                    .flatten();
                Hit::new(
                    c.path("securityContext.readOnlyRootFilesystem"),
                    format!("container {:?} has a writable root file system", c.name()),
                )
                .fix(fix)
            })
            .collect()
    })
}

/// Capabilities from the insecure list added.
pub fn insecure_capabilities(o: &Object, s: &Settings) -> Outcome {
    with_pod(o, |pod| {
        pod.containers_of(lists_for(o))
            .into_iter()
            .filter_map(|c| {
                let idx = added_caps(&c, &s.insecure_capabilities);
                let first = *idx.first()?;
                let names: Vec<&str> = idx
                    .iter()
                    .filter_map(|i| c.security("capabilities")?.get("add")?.get(i)?.as_str())
                    .collect();
                let fix = (c.list != ContainerList::Ephemeral)
                    .then(|| patch(drop_caps(pod, &c, &idx)))
                    .flatten();
                Some(
                    Hit::new(
                        c.path(&format!("securityContext.capabilities.add[{first}]")),
                        format!(
                            "container {:?} adds dangerous capabilities: {}",
                            c.name(),
                            names.join(", ")
                        ),
                    )
                    .fix(fix),
                )
            })
            .collect()
    })
}

/// No seccomp profile on the container or the pod.
pub fn linux_hardening(o: &Object, _: &Settings) -> Outcome {
    with_pod(o, |pod| {
        if pod
            .security("seccompProfile")
            .is_some_and(|v| v != &json!(false))
        {
            return Vec::new();
        }
        pod.containers()
            .into_iter()
            .filter(|c| {
                c.security("seccompProfile")
                    .is_none_or(|v| v == &json!(false))
            })
            .map(|c| {
                Hit::new(
                    c.path("securityContext.seccompProfile"),
                    format!("container {:?} runs without a seccomp profile", c.name()),
                )
                .fix(patch([set(
                    &o.value,
                    &ptr(pod, &c, "securityContext/seccompProfile"),
                    json!({"type": "RuntimeDefault"}),
                )]))
            })
            .collect()
    })
}

fn host_flag(o: &Object, field: &'static str, what: &str) -> Outcome {
    with_pod(o, |pod| {
        if !is_true(pod.field(field)) {
            return Vec::new();
        }
        vec![
            Hit::new(pod.path(field), format!("the pod {what}"))
                .fix(patch([remove(&pod_ptr(pod, field))])),
        ]
    })
}

/// `hostPID: true`.
pub fn host_pid(o: &Object, _: &Settings) -> Outcome {
    host_flag(o, "hostPID", "shares the host's process namespace")
}

/// `hostIPC: true`.
pub fn host_ipc(o: &Object, _: &Settings) -> Outcome {
    host_flag(o, "hostIPC", "shares the host's IPC namespace")
}

/// `hostPID` or `hostIPC` (one hit each).
pub fn host_pid_ipc(o: &Object, s: &Settings) -> Outcome {
    let mut hits = host_pid(o, s)?;
    hits.extend(host_ipc(o, s)?);
    Ok(hits)
}

/// `hostNetwork: true`.
pub fn host_network(o: &Object, _: &Settings) -> Outcome {
    host_flag(o, "hostNetwork", "uses the host's network namespace")
}

/// A container port bound on the host.
pub fn host_port(o: &Object, _: &Settings) -> Outcome {
    with_pod(o, |pod| {
        pod.containers_of(&[ContainerList::Containers])
            .into_iter()
            .filter_map(|c| {
                let ports: Vec<usize> = c
                    .value
                    .get("ports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .filter(|(_, p)| {
                        p.get("hostPort")
                            .is_some_and(|h| !h.is_null() && h != &json!(false))
                    })
                    .map(|(j, _)| j)
                    .collect();
                let first = *ports.first()?;
                Some(
                    Hit::new(
                        c.path(&format!("ports[{first}].hostPort")),
                        format!("container {:?} binds a port on the host", c.name()),
                    )
                    .fix(patch(
                        ports
                            .iter()
                            .map(|j| remove(&ptr(pod, &c, &format!("ports/{j}/hostPort")))),
                    )),
                )
            })
            .collect()
    })
}

/// Seccomp not `RuntimeDefault` (container type first, then the pod's).
pub fn seccomp_runtime_default(o: &Object, _: &Settings) -> Outcome {
    with_pod(o, |pod| {
        let pod_type = pod
            .security("seccompProfile")
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str);
        let mut hits: Vec<Hit> = Vec::new();
        for c in pod.containers_of(&[ContainerList::Containers]) {
            let own = c
                .security("seccompProfile")
                .and_then(|p| p.get("type"))
                .and_then(Value::as_str);
            let fix_here = || {
                patch([set(
                    &o.value,
                    &ptr(pod, &c, "securityContext/seccompProfile"),
                    json!({"type": "RuntimeDefault"}),
                )])
            };
            let hit = match (own, pod_type) {
                (Some("RuntimeDefault"), _) | (None, Some("RuntimeDefault")) => continue,
                (Some(t), _) => Hit::new(
                    c.path("securityContext.seccompProfile.type"),
                    format!("container {:?} has seccomp profile {t:?}", c.name()),
                )
                .fix(fix_here()),
                (None, Some(t)) => Hit::new(
                    pod.path("securityContext.seccompProfile.type"),
                    format!("the pod's seccomp profile is {t:?}"),
                )
                .fix(patch([set(
                    &o.value,
                    &pod_ptr(pod, "securityContext/seccompProfile"),
                    json!({"type": "RuntimeDefault"}),
                )])),
                (None, None) => Hit::new(
                    c.path("securityContext.seccompProfile.type"),
                    format!("container {:?} has no seccomp profile", c.name()),
                )
                .fix(fix_here()),
            };
            // The pod's profile fails once, however many containers inherit it.
            if !hits.contains(&hit) {
                hits.push(hit);
            }
        }
        hits
    })
}

fn limit(o: &Object, resource: &str, what: &str) -> Outcome {
    with_pod(o, |pod| {
        pod.containers_of(&[ContainerList::Containers])
            .into_iter()
            .filter(|c| {
                c.at(&["resources", "limits", resource])
                    .is_none_or(|v| v == &json!(false))
            })
            .map(|c| {
                Hit::new(
                    c.path(&format!("resources.limits.{resource}")),
                    format!("container {:?} has no {what} limit", c.name()),
                )
                .instruct(format!(
                    "set {} to the most the container needs",
                    c.path(&format!("resources.limits.{resource}"))
                ))
            })
            .collect()
    })
}

/// No CPU limit.
pub fn cpu_limits(o: &Object, _: &Settings) -> Outcome {
    limit(o, "cpu", "CPU")
}

/// No memory limit.
pub fn memory_limits(o: &Object, _: &Settings) -> Outcome {
    limit(o, "memory", "memory")
}

/// Secrets handed to containers as environment variables (`secretKeyRef`, `envFrom.secretRef`).
pub fn secrets_in_env(o: &Object, _: &Settings) -> Outcome {
    with_pod(o, |pod| {
        let mut hits = Vec::new();
        for c in pod.containers() {
            for (j, e) in c
                .value
                .get("env")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if e.pointer("/valueFrom/secretKeyRef")
                    .is_some_and(|v| !v.is_null())
                {
                    hits.push(
                        Hit::new(
                            c.path(&format!("env[{j}].name")),
                            format!(
                                "container {:?} reads a secret into environment variable {:?}",
                                c.name(),
                                e.get("name").and_then(Value::as_str).unwrap_or("")
                            ),
                        )
                        .instruct("mount the secret as a file (a secret volume) instead"),
                    );
                }
            }
            hits.extend(
                c.env_from_secrets()
                    .into_iter()
                    .map(|k| env_from_secret(&c, k)),
            );
        }
        hits
    })
}

/// A whole Secret poured into a container's environment (`envFrom[k].secretRef`).
pub(crate) fn env_from_secret(c: &Container<'_>, k: usize) -> Hit {
    Hit::new(
        c.path(&format!("envFrom[{k}].secretRef")),
        format!(
            "container {:?} pours a whole secret into its environment",
            c.name()
        ),
    )
    .instruct("mount the secret as a file (a secret volume) instead")
}

/// Whether a kubelet version is open to CVE-2021-25741 (symlink exchange through `subPath`):
/// fixed in 1.19.15, 1.20.11, 1.21.5 and 1.22.2.
pub fn kubelet_vulnerable_to_subpath_exchange(version: &str) -> bool {
    let v = version.trim_start_matches('v');
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    let mut num = || parts.next().and_then(|p| p.parse::<u64>().ok());
    let (Some(major), Some(minor), Some(patch)) = (num(), num(), num()) else {
        return false;
    };
    if major != 1 {
        return false;
    }
    match minor {
        0..=19 => minor < 19 || patch < 15,
        20 => patch < 11,
        21 => patch < 5,
        22 => patch < 2,
        _ => false,
    }
}

/// Containers mounting with `subPath` while a node runs a kubelet open to CVE-2021-25741.
pub fn subpath_symlink(
    inv: &crate::inventory::Inventory,
    _: &Settings,
) -> Vec<crate::check::Verdict> {
    let vulnerable: Vec<&Object> = inv
        .of_kind("Node")
        .filter(|n| {
            n.value
                .pointer("/status/nodeInfo/kubeletVersion")
                .and_then(Value::as_str)
                .is_some_and(kubelet_vulnerable_to_subpath_exchange)
        })
        .collect();
    inv.of_kinds(crate::object::WORKLOAD_KINDS)
        .into_iter()
        .filter(|o| !o.controlled())
        .map(|o| crate::check::Verdict {
            target: o.at.clone(),
            outcome: with_pod(o, |pod| {
                if vulnerable.is_empty() {
                    return Vec::new();
                }
                pod.containers_of(&[ContainerList::Containers])
                    .into_iter()
                    .filter_map(|c| {
                        let j = c
                            .value
                            .get("volumeMounts")
                            .and_then(Value::as_array)?
                            .iter()
                            .position(|m| m.get("subPath").is_some_and(|s| !s.is_null()))?;
                        Some(
                            Hit::new(
                                c.path(&format!("volumeMounts[{j}].subPath")),
                                format!(
                                    "container {:?} mounts with subPath while node {} runs a kubelet open to CVE-2021-25741",
                                    c.name(),
                                    vulnerable[0].name()
                                ),
                            )
                            .instruct("upgrade the kubelets (1.19.15, 1.20.11, 1.21.5, 1.22.2 or later)")
                            .related(vulnerable.iter().map(|n| n.at.clone()).collect()),
                        )
                    })
                    .collect()
            }),
        })
        .collect()
}

/// Pods that mount a service account token they may not need: `automountServiceAccountToken`
/// true on the pod, or unset while the service account does not turn it off.
pub fn automount_token(
    inv: &crate::inventory::Inventory,
    _: &Settings,
) -> Vec<crate::check::Verdict> {
    let accounts: std::collections::HashMap<(&str, &str), Option<bool>> = inv
        .of_kind("ServiceAccount")
        .filter(|sa| !sa.namespace().is_empty())
        .map(|sa| {
            (
                (sa.namespace(), sa.name()),
                sa.value
                    .get("automountServiceAccountToken")
                    .and_then(Value::as_bool),
            )
        })
        .collect();
    inv.of_kinds(crate::object::WORKLOAD_KINDS)
        .into_iter()
        .filter(|o| !o.controlled())
        .map(|o| crate::check::Verdict {
            target: o.at.clone(),
            outcome: with_pod(o, |pod| {
                let field = pod.path("automountServiceAccountToken");
                let fix = || {
                    patch([set(
                        &o.value,
                        &pod_ptr(pod, "automountServiceAccountToken"),
                        json!(false),
                    )])
                };
                let account = pod
                    .field("serviceAccountName")
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                match pod
                    .field("automountServiceAccountToken")
                    .and_then(Value::as_bool)
                {
                    Some(false) => Vec::new(),
                    Some(true) => {
                        vec![Hit::new(field, "the pod mounts its service account token").fix(fix())]
                    }
                    None => match accounts.get(&(super::cluster::namespace_of(o), account)) {
                        Some(Some(false)) => Vec::new(),
                        found => {
                            let why = if found.is_some() {
                                format!("service account {account:?} does not turn it off")
                            } else {
                                format!("service account {account:?} is not among the objects")
                            };
                            vec![
                                Hit::new(
                                    field,
                                    format!("the pod mounts its service account token: {why}"),
                                )
                                .fix(fix()),
                            ]
                        }
                    },
                }
            }),
        })
        .collect()
}

/// A namespace's `default` ServiceAccount that lets pods mount its token.
pub fn default_account_automount(o: &Object, _: &Settings) -> Outcome {
    if o.name() != "default" {
        return Ok(Vec::new());
    }
    Ok(
        match o
            .value
            .get("automountServiceAccountToken")
            .and_then(Value::as_bool)
        {
            Some(false) => Vec::new(),
            _ => vec![
                Hit::new(
                    "automountServiceAccountToken",
                    "the default service account lets pods mount its token",
                )
                .fix(patch([set(
                    &o.value,
                    "/automountServiceAccountToken",
                    json!(false),
                )])),
            ],
        },
    )
}
