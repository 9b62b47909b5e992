//! SecurityPolicy conditions evaluated on one pod: each unmet requirement becomes a
//! [`Finding`] naming the container and the field.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec, SecurityContext};
use rampart_api::{Condition, Mesh, Rule, glob_match};

use crate::object::PodSource;

/// One unmet requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Container name, when the finding is about one.
    pub container: Option<String>,
    /// Field path in the admitted object.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A container of a pod: borrowed from the spec, or an ephemeral container converted to the
/// common shape. Boxed when converted, so a borrowed one costs a pointer rather than the
/// 2.3 KB of a `Container` (a `Cow<Container>` is that large even when borrowed: 10,000
/// containers cost 38 MB).
#[derive(Debug)]
pub enum PodContainer<'a> {
    /// A regular or init container.
    Spec(&'a Container),
    /// An ephemeral container, converted.
    Converted(Box<Container>),
}

impl AsRef<Container> for PodContainer<'_> {
    fn as_ref(&self) -> &Container {
        match self {
            PodContainer::Spec(c) => c,
            PodContainer::Converted(c) => c,
        }
    }
}

/// Every container of a pod with its field path (`containers[0]`, `initContainers[1]`,
/// `ephemeralContainers[0]`). Compute once per review and pass to [`evaluate_rule_with`].
pub fn pod_containers(spec: &PodSpec) -> Vec<(String, PodContainer<'_>)> {
    let count = spec.init_containers.as_ref().map_or(0, Vec::len)
        + spec.containers.len()
        + spec.ephemeral_containers.as_ref().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(count);
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        out.push((format!("initContainers[{i}]"), PodContainer::Spec(c)));
    }
    for (i, c) in spec.containers.iter().enumerate() {
        out.push((format!("containers[{i}]"), PodContainer::Spec(c)));
    }
    for (i, c) in spec.ephemeral_containers.iter().flatten().enumerate() {
        out.push((
            format!("ephemeralContainers[{i}]"),
            PodContainer::Converted(Box::new(Container {
                name: c.name.clone(),
                image: c.image.clone(),
                env: c.env.clone(),
                env_from: c.env_from.clone(),
                ports: c.ports.clone(),
                resources: c.resources.clone(),
                security_context: c.security_context.clone(),
                stdin: c.stdin,
                tty: c.tty,
                liveness_probe: c.liveness_probe.clone(),
                readiness_probe: c.readiness_probe.clone(),
                startup_probe: c.startup_probe.clone(),
                volume_mounts: c.volume_mounts.clone(),
                ..Container::default()
            })),
        ));
    }
    out
}

/// An image reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (`docker.io` when none is given).
    pub registry: String,
    /// Repository path (`library/nginx` for `nginx`).
    pub repository: String,
    /// Tag, if any.
    pub tag: Option<String>,
    /// Digest, if any.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `[registry/]repo[:tag][@digest]` as the container runtime does.
    pub fn parse(image: &str) -> ImageRef {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (image, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        // Docker Hub's aliases and its implicit `library/` namespace.
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
            _ => registry,
        };
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        ImageRef {
            registry,
            repository,
            tag,
            digest,
        }
    }
    /// `registry/repository`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

/// Whether an image matches a pattern: a `*` suffix glob (against the image as written and
/// as normalised), or an image reference compared after normalisation (`nginx`,
/// `docker.io/nginx` and `index.docker.io/library/nginx` are one image); a pattern without tag
/// or digest matches every tag and digest.
fn image_matches(pattern: &str, image: &str) -> bool {
    let r = ImageRef::parse(image);
    if pattern.ends_with('*') {
        return glob_match(pattern, image)
            || glob_match(pattern, &format!("{}{}", r.name(), tag_suffix(&r)));
    }
    let p = ImageRef::parse(pattern);
    p.name() == r.name()
        && (p.tag.is_none() || p.tag == r.tag)
        && (p.digest.is_none() || p.digest == r.digest)
}

/// Whether `image` comes from `registry` (a host, `host/path` prefix): the prefix must end at
/// a path boundary, so `registry.corp` does not admit `registry.corp.evil.io/x` and
/// `ghcr.io/acme` does not admit `ghcr.io/acme-evil/x`.
fn from_registry(registry: &str, image: &str) -> bool {
    let prefix = registry.trim_end_matches('/');
    let full = ImageRef::parse(image).name();
    [image, full.as_str()].iter().any(|i| {
        i.strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/') || (prefix.is_empty()))
    })
}

fn tag_suffix(r: &ImageRef) -> String {
    match (&r.tag, &r.digest) {
        (_, Some(d)) => format!("@{d}"),
        (Some(t), None) => format!(":{t}"),
        (None, None) => String::new(),
    }
}

fn sc(c: &Container) -> Option<&SecurityContext> {
    c.security_context.as_ref()
}

/// Evaluates one rule; `ns_labels` are the namespace's labels (mesh injection).
pub fn evaluate_rule(
    rule: &Rule,
    pod: &PodSource,
    ns_labels: &BTreeMap<String, String>,
) -> Vec<Finding> {
    evaluate_rule_with(rule, pod, ns_labels, &pod_containers(&pod.spec))
}

/// [`evaluate_rule`] with the pod's containers computed once by [`pod_containers`].
pub fn evaluate_rule_with(
    rule: &Rule,
    pod: &PodSource,
    ns_labels: &BTreeMap<String, String>,
    all: &[(String, PodContainer<'_>)],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let considered: Vec<(&String, &Container)> = all
        .iter()
        .map(|(p, c)| (p, c.as_ref()))
        .filter(|(_, c)| {
            let image = c.image.as_deref().unwrap_or("");
            !rule.exempt_images.iter().any(|p| image_matches(p, image))
        })
        .collect();
    for cond in &rule.conditions {
        evaluate_condition(cond, pod, &considered, ns_labels, &mut out);
        evaluate_more(cond, pod, &considered, &mut out);
    }
    out
}

fn per_container(
    out: &mut Vec<Finding>,
    pod: &PodSource,
    containers: &[(&String, &Container)],
    test: &dyn Fn(&Container) -> Option<(String, String)>,
) {
    for (path, c) in containers {
        if let Some((field, message)) = test(c) {
            out.push(Finding {
                container: Some(c.name.clone()),
                field: pod.field(&if field.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}.{field}")
                }),
                message,
            });
        }
    }
}

/// Like [`per_container`] for requirements ephemeral containers cannot meet (the API gives
/// them no resources or probes), which therefore skip them.
fn per_regular_container(
    out: &mut Vec<Finding>,
    pod: &PodSource,
    containers: &[(&String, &Container)],
    test: &dyn Fn(&Container) -> Option<(String, String)>,
) {
    let regular: Vec<(&String, &Container)> = containers
        .iter()
        .copied()
        .filter(|(p, _)| !p.starts_with("ephemeralContainers"))
        .collect();
    per_container(out, pod, &regular, test);
}

fn evaluate_condition(
    cond: &Condition,
    pod: &PodSource,
    containers: &[(&String, &Container)],
    ns_labels: &BTreeMap<String, String>,
    out: &mut Vec<Finding>,
) {
    let spec = &pod.spec;
    let pod_sc = spec.security_context.as_ref();
    if let Some(registries) = &cond.allowed_registries {
        per_container(out, pod, containers, &|c| {
            let image = c.image.as_deref().unwrap_or("");
            let full = ImageRef::parse(image).name();
            let _ = &full;
            (!registries.iter().any(|r| from_registry(r, image))).then(|| {
                (
                    "image".into(),
                    format!(
                        "image {image:?} is not from an allowed registry ({})",
                        registries.join(", ")
                    ),
                )
            })
        });
    }
    if let Some(allowed) = &cond.allowed_images {
        per_container(out, pod, containers, &|c| {
            let image = c.image.as_deref().unwrap_or("");
            (!allowed.iter().any(|p| glob_match(p, image))).then(|| {
                (
                    "image".into(),
                    format!(
                        "image {image:?} is not in the allowed images ({})",
                        allowed.join(", ")
                    ),
                )
            })
        });
    }
    if let Some(images) = &cond.forbidden_images {
        per_container(out, pod, containers, &|c| {
            let image = c.image.as_deref().unwrap_or("");
            images.iter().find(|p| image_matches(p, image)).map(|p| {
                (
                    "image".into(),
                    format!("image {image:?} is forbidden ({p})"),
                )
            })
        });
    }
    if cond.disallow_latest_tag == Some(true) {
        per_container(out, pod, containers, &|c| {
            let image = c.image.as_deref().unwrap_or("");
            let r = ImageRef::parse(image);
            match (&r.tag, &r.digest) {
                (_, Some(_)) => None,
                (Some(t), None) if t != "latest" => None,
                (Some(_), None) => Some((
                    "image".into(),
                    format!(
                        "image {image:?} uses the mutable tag \"latest\": pin a version or digest"
                    ),
                )),
                (None, None) => Some((
                    "image".into(),
                    format!(
                        "image {image:?} has no tag (means \"latest\"): pin a version or digest"
                    ),
                )),
            }
        });
    }
    if let Some(tags) = &cond.forbidden_tags {
        per_container(out, pod, containers, &|c| {
            let image = c.image.as_deref().unwrap_or("");
            let r = ImageRef::parse(image);
            r.tag.as_ref().filter(|t| tags.contains(t)).map(|t| {
                (
                    "image".into(),
                    format!("image {image:?} uses forbidden tag {t:?}"),
                )
            })
        });
    }
    if cond.disallow_root == Some(true) {
        per_container(out, pod, containers, &|c| {
            let non_root = sc(c)
                .and_then(|s| s.run_as_non_root)
                .or(pod_sc.and_then(|s| s.run_as_non_root));
            let uid = sc(c)
                .and_then(|s| s.run_as_user)
                .or(pod_sc.and_then(|s| s.run_as_user));
            match (uid, non_root) {
                (Some(0), _) => Some((
                    "securityContext.runAsUser".into(),
                    "runs as root (runAsUser=0)".into(),
                )),
                (Some(_), _) | (None, Some(true)) => None,
                (None, _) => Some((
                    "securityContext.runAsNonRoot".into(),
                    "may run as root: set runAsNonRoot=true or a non-zero runAsUser (pod or container)".into(),
                )),
            }
        });
    }
    if cond.disallow_privileged == Some(true) {
        per_container(out, pod, containers, &|c| {
            (sc(c).and_then(|s| s.privileged) == Some(true))
                .then(|| ("securityContext.privileged".into(), "is privileged".into()))
        });
    }
    if cond.disallow_host_namespaces == Some(true) {
        for (field, on) in [
            ("hostNetwork", spec.host_network),
            ("hostPID", spec.host_pid),
            ("hostIPC", spec.host_ipc),
        ] {
            if on == Some(true) {
                out.push(Finding {
                    container: None,
                    field: pod.field(field),
                    message: format!("shares the host's namespace ({field}=true)"),
                });
            }
        }
    }
    if let Some(allowed) = &cond.allowed_host_paths {
        for (i, v) in spec.volumes.iter().flatten().enumerate() {
            let Some(hp) = &v.host_path else { continue };
            let rule = allowed
                .iter()
                .find(|a| path_within(&hp.path, &a.path_prefix));
            let message = match rule {
                None => Some(format!("hostPath {:?} is not allowed", hp.path)),
                Some(a) if a.read_only => {
                    let writable: Vec<&str> = containers
                        .iter()
                        .filter(|(_, c)| {
                            c.volume_mounts
                                .iter()
                                .flatten()
                                .any(|m| m.name == v.name && m.read_only != Some(true))
                        })
                        .map(|(_, c)| c.name.as_str())
                        .collect();
                    (!writable.is_empty()).then(|| {
                        format!(
                            "hostPath {:?} must be mounted read-only (mounted writable by {})",
                            hp.path,
                            crate::pss::listed(&writable)
                        )
                    })
                }
                Some(_) => None,
            };
            if let Some(message) = message {
                out.push(Finding {
                    container: None,
                    field: pod.field(&format!("volumes[{i}].hostPath")),
                    message,
                });
            }
        }
    }
    if let Some(range) = cond.allowed_host_ports {
        per_container(out, pod, containers, &|c| {
            c.ports.iter().flatten().enumerate().find_map(|(pi, p)| {
                let h = p.host_port.filter(|h| *h != 0)?;
                (h < i32::from(range.min) || h > i32::from(range.max)).then(|| {
                    (
                        format!("ports[{pi}].hostPort"),
                        format!(
                            "hostPort {h} is outside the allowed range {}-{}",
                            range.min, range.max
                        ),
                    )
                })
            })
        });
    }
    if cond.require_security_context == Some(true) {
        let pod_has = pod_sc.is_some_and(|s| *s != Default::default());
        per_container(out, pod, containers, &|c| {
            (!pod_has && sc(c).is_none_or(|s| *s == SecurityContext::default())).then(|| {
                (
                    "securityContext".into(),
                    "has no securityContext (neither the container nor the pod sets one)".into(),
                )
            })
        });
    }
    if cond.disallow_privilege_escalation == Some(true) {
        per_container(out, pod, containers, &|c| {
            (sc(c).and_then(|s| s.allow_privilege_escalation) != Some(false)).then(|| {
                (
                    "securityContext.allowPrivilegeEscalation".into(),
                    "must set allowPrivilegeEscalation=false".into(),
                )
            })
        });
    }
    if let Some(allowed) = &cond.allowed_capabilities {
        per_container(out, pod, containers, &|c| {
            let added: Vec<&String> = sc(c)
                .and_then(|s| s.capabilities.as_ref())
                .and_then(|k| k.add.as_ref())
                .into_iter()
                .flatten()
                .filter(|a| {
                    !allowed.iter().any(|x| {
                        x == "*"
                            || x.eq_ignore_ascii_case(a.trim_start_matches("CAP_"))
                            || x.eq_ignore_ascii_case(a)
                    })
                })
                .collect();
            (!added.is_empty()).then(|| {
                (
                    "securityContext.capabilities.add".into(),
                    format!(
                        "adds capabilities {} outside the allowed [{}]",
                        crate::pss::listed(&added.iter().map(|a| a.as_str()).collect::<Vec<_>>()),
                        allowed.join(", ")
                    ),
                )
            })
        });
    }
    if let Some(required) = &cond.required_drop_capabilities {
        per_container(out, pod, containers, &|c| {
            let dropped: Vec<String> = sc(c)
                .and_then(|s| s.capabilities.as_ref())
                .and_then(|k| k.drop.as_ref())
                .into_iter()
                .flatten()
                .map(|d| d.to_ascii_uppercase())
                .collect();
            if dropped.iter().any(|d| d == "ALL") {
                return None;
            }
            let missing: Vec<&String> = required
                .iter()
                .filter(|r| !dropped.contains(&r.to_ascii_uppercase()))
                .collect();
            (!missing.is_empty()).then(|| {
                (
                    "securityContext.capabilities.drop".into(),
                    format!(
                        "must drop {}",
                        missing
                            .iter()
                            .map(|m| m.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
        });
    }
    if let Some(req) = &cond.require_resources {
        per_regular_container(out, pod, containers, &|c| {
            let res = c.resources.as_ref();
            let mut missing = Vec::new();
            for r in &req.requests {
                if res
                    .and_then(|x| x.requests.as_ref())
                    .is_none_or(|m| !m.contains_key(r))
                {
                    missing.push(format!("requests.{r}"));
                }
            }
            for r in &req.limits {
                if res
                    .and_then(|x| x.limits.as_ref())
                    .is_none_or(|m| !m.contains_key(r))
                {
                    missing.push(format!("limits.{r}"));
                }
            }
            (!missing.is_empty()).then(|| {
                (
                    "resources".into(),
                    format!("must set resources {}", missing.join(", ")),
                )
            })
        });
    }
    if cond.disallow_secret_env == Some(true) {
        per_container(out, pod, containers, &|c| {
            if let Some((i, e)) = c.env.iter().flatten().enumerate().find(|(_, e)| {
                e.value_from
                    .as_ref()
                    .is_some_and(|v| v.secret_key_ref.is_some())
            }) {
                let secret = e
                    .value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref())
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                return Some((
                    format!("env[{i}].valueFrom.secretKeyRef"),
                    format!(
                        "exposes Secret {secret:?} as environment variable {:?}: mount it as a file instead",
                        e.name
                    ),
                ));
            }
            c.env_from.iter().flatten().enumerate().find(|(_, e)| e.secret_ref.is_some()).map(|(i, e)| {
                let secret = e.secret_ref.as_ref().map(|s| s.name.clone()).unwrap_or_default();
                (
                    format!("envFrom[{i}].secretRef"),
                    format!("exposes Secret {secret:?} as environment variables: mount it as a file instead"),
                )
            })
        });
    }
    if let Some(labels) = &cond.required_labels {
        let have = pod.object_meta.labels.clone().unwrap_or_default();
        for l in labels {
            let message = match have.get(&l.key) {
                None => Some(format!("missing required label {:?}", l.key)),
                Some(v) if !l.allowed_values.is_empty() && !l.allowed_values.contains(v) => {
                    Some(format!(
                        "label {:?}={v:?} is not one of [{}]",
                        l.key,
                        l.allowed_values.join(", ")
                    ))
                }
                Some(_) => None,
            };
            if let Some(message) = message {
                out.push(Finding {
                    container: None,
                    field: format!("metadata.labels.{}", l.key),
                    message,
                });
            }
        }
    }
    if let Some(mesh) = cond.require_mesh_sidecar {
        let ok = match mesh {
            Mesh::Istio => istio_injected(pod, containers, ns_labels),
            Mesh::Linkerd => linkerd_injected(pod, containers, ns_labels),
            Mesh::Any => {
                istio_injected(pod, containers, ns_labels)
                    || linkerd_injected(pod, containers, ns_labels)
            }
        };
        if !ok {
            out.push(Finding {
                container: None,
                field: "metadata.annotations".into(),
                message: format!(
                    "no {} sidecar will be injected: label the namespace or annotate the pod for injection",
                    match mesh {
                        Mesh::Istio => "Istio",
                        Mesh::Linkerd => "Linkerd",
                        Mesh::Any => "service-mesh",
                    }
                ),
            });
        }
    }
    if cond.require_read_only_root_filesystem == Some(true) {
        per_container(out, pod, containers, &|c| {
            (sc(c).and_then(|s| s.read_only_root_filesystem) != Some(true)).then(|| {
                (
                    "securityContext.readOnlyRootFilesystem".into(),
                    "must set readOnlyRootFilesystem=true".into(),
                )
            })
        });
    }
}

fn evaluate_more(
    cond: &Condition,
    pod: &PodSource,
    containers: &[(&String, &Container)],
    out: &mut Vec<Finding>,
) {
    if cond.require_image_digest == Some(true) {
        per_container(out, pod, containers, &|c| {
            let image = c.image.as_deref().unwrap_or("");
            ImageRef::parse(image).digest.is_none().then(|| {
                (
                    "image".into(),
                    format!("image {image:?} is not pinned by digest (@sha256:…)"),
                )
            })
        });
    }
    if cond.disallow_interactive_tty == Some(true) {
        per_container(out, pod, containers, &|c| {
            (c.stdin == Some(true) || c.tty == Some(true)).then(|| {
                (
                    if c.tty == Some(true) { "tty" } else { "stdin" }.into(),
                    "keeps an interactive terminal (stdin/tty)".into(),
                )
            })
        });
    }
    if let Some(probes) = &cond.required_probes {
        per_regular_container(out, pod, containers, &|c| {
            let has = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
                p.as_ref().is_some_and(|p| {
                    p.exec.is_some()
                        || p.http_get.is_some()
                        || p.tcp_socket.is_some()
                        || p.grpc.is_some()
                })
            };
            let missing: Vec<&str> = probes
                .iter()
                .map(String::as_str)
                .filter(|p| match *p {
                    "livenessProbe" => !has(&c.liveness_probe),
                    "readinessProbe" => !has(&c.readiness_probe),
                    "startupProbe" => !has(&c.startup_probe),
                    _ => false,
                })
                .collect();
            (!missing.is_empty()).then(|| {
                (
                    missing[0].to_string(),
                    format!("must define {}", missing.join(", ")),
                )
            })
        });
    }
    if cond.disallow_token_automount == Some(true)
        && pod.spec.automount_service_account_token != Some(false)
    {
        out.push(Finding {
            container: None,
            field: pod.field("automountServiceAccountToken"),
            message: "mounts a ServiceAccount token: set automountServiceAccountToken=false".into(),
        });
    }
    if cond.disallow_host_process == Some(true) {
        let host = |w: Option<&k8s_openapi::api::core::v1::WindowsSecurityContextOptions>| {
            w.and_then(|w| w.host_process) == Some(true)
        };
        if host(
            pod.spec
                .security_context
                .as_ref()
                .and_then(|s| s.windows_options.as_ref()),
        ) {
            out.push(Finding {
                container: None,
                field: pod.field("securityContext.windowsOptions.hostProcess"),
                message: "runs as a Windows hostProcess pod".into(),
            });
        }
        per_container(out, pod, containers, &|c| {
            host(sc(c).and_then(|s| s.windows_options.as_ref())).then(|| {
                (
                    "securityContext.windowsOptions.hostProcess".into(),
                    "runs as a Windows hostProcess container".into(),
                )
            })
        });
    }
}

/// Whether `path` is `prefix` or below it, component-wise (`/var/log` covers `/var/log/x`, not
/// `/var/logs`).
pub fn path_within(path: &str, prefix: &str) -> bool {
    let p = path.trim_end_matches('/');
    let pre = prefix.trim_end_matches('/');
    pre.is_empty() || p == pre || p.starts_with(&format!("{pre}/"))
}

fn annotation<'a>(pod: &'a PodSource, key: &str) -> Option<&'a str> {
    pod.meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .or_else(|| pod.meta.labels.as_ref().and_then(|l| l.get(key)))
        .map(String::as_str)
}

fn istio_injected(
    pod: &PodSource,
    containers: &[(&String, &Container)],
    ns: &BTreeMap<String, String>,
) -> bool {
    if containers.iter().any(|(_, c)| c.name == "istio-proxy") {
        return true;
    }
    match annotation(pod, "sidecar.istio.io/inject") {
        Some("false") => false,
        Some("true") => true,
        _ => {
            ns.get("istio-injection").map(String::as_str) == Some("enabled")
                || ns.contains_key("istio.io/rev")
        }
    }
}

fn linkerd_injected(
    pod: &PodSource,
    containers: &[(&String, &Container)],
    ns: &BTreeMap<String, String>,
) -> bool {
    if containers.iter().any(|(_, c)| c.name == "linkerd-proxy") {
        return true;
    }
    match annotation(pod, "linkerd.io/inject") {
        Some("disabled") => false,
        Some("enabled" | "ingress") => true,
        _ => matches!(
            ns.get("linkerd.io/inject").map(String::as_str),
            Some("enabled" | "ingress")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_refs() {
        let r = ImageRef::parse("nginx");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag),
            ("docker.io", "library/nginx", None)
        );
        let r = ImageRef::parse("localhost:5000/a/b:1.2@sha256:abc");
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "a/b");
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        assert_eq!(r.digest.as_deref(), Some("sha256:abc"));
        let r = ImageRef::parse("ghcr.io/acme/api:latest");
        assert_eq!(r.name(), "ghcr.io/acme/api");
        assert!(image_matches("nginx", "docker.io/library/nginx:1.25"));
        assert!(image_matches("ghcr.io/acme/*", "ghcr.io/acme/api:1"));
    }

    #[test]
    fn paths() {
        assert!(path_within("/var/log/pods", "/var/log"));
        assert!(path_within("/var/log/", "/var/log"));
        assert!(!path_within("/var/logs", "/var/log"));
    }
}
