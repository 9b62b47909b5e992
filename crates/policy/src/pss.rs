//! Pod Security Standards, check for check and version for version as upstream Pod Security
//! Admission (`k8s.io/pod-security-admission/policy`) evaluates them.
//!
//! A check has one implementation per minimum version; a namespace enforcing `level:v1.N` runs,
//! for every check of that level, the implementation with the greatest minimum version ≤ N.
//! Restricted checks may *override* a baseline check (`capabilities_restricted` replaces
//! `capabilities_baseline`, …), exactly as upstream. `latest` is the newest version the
//! conformance fixtures cover, unless the caller names an older API server
//! ([`evaluate_at`]); messages follow upstream's wording and check order.

use std::fmt;

use k8s_openapi::api::core::v1::{
    Capabilities, ContainerPort, EphemeralContainer, Lifecycle, LifecycleHandler, PodSpec, Probe,
    SecurityContext,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The newest minor version whose behaviour is implemented (`latest` means this one).
pub const NEWEST_MINOR: u32 = 37;

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// No restriction.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Hardened best practice.
    Restricted,
}

impl Level {
    /// `privileged`, `baseline`, `restricted`.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// A policy version: `latest` or `v1.N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// The newest behaviour.
    Latest,
    /// `v1.<minor>`.
    Minor(u32),
}

impl Version {
    /// `latest` or `v1.N` (N ≥ 0). Versions newer than [`NEWEST_MINOR`] behave as `latest`.
    pub fn parse(s: &str) -> Option<Version> {
        if s == "latest" {
            return Some(Version::Latest);
        }
        let minor = s.strip_prefix("v1.")?;
        // Upstream: decimal digits without a leading zero (`v1.0` is fine, `v1.01` is not).
        if minor.is_empty()
            || minor.len() > 9
            || !minor.bytes().all(|b| b.is_ascii_digit())
            || (minor.len() > 1 && minor.starts_with('0'))
        {
            return None;
        }
        minor.parse().ok().map(Version::Minor)
    }
    /// The minor version whose checks run when the newest policy version known is `newest`
    /// (capped at [`NEWEST_MINOR`]): upstream clamps `latest` and every newer `v1.N` to the
    /// newest version its registry knows (`registry.go`, `EvaluatePod`).
    pub fn resolve(self, newest: u32) -> u32 {
        let newest = newest.min(NEWEST_MINOR);
        match self {
            Version::Latest => newest,
            Version::Minor(m) => m.min(newest),
        }
    }
}

/// The policy version `latest` stands for on an API server of minor version `kube_minor`:
/// upstream's `maxVersion`, the newest minimum version of any check that binary registers
/// (`v1.36` → 35, since no check changed in 1.36; `v1.37` → 37). Minors past
/// [`NEWEST_MINOR`] give [`NEWEST_MINOR`].
pub fn latest_minor_for(kube_minor: u32) -> u32 {
    let cap = kube_minor.min(NEWEST_MINOR);
    CHECKS
        .iter()
        .flat_map(|c| c.versions)
        .map(|v| v.min_minor)
        .filter(|m| *m <= cap)
        .max()
        .unwrap_or(0)
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::Minor(m) => write!(f, "v1.{m}"),
        }
    }
}

/// A level at a version, as in `restricted:v1.30`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    /// Level.
    pub level: Level,
    /// Version.
    pub version: Version,
}

impl LevelVersion {
    /// `LEVEL[:VERSION]`, the version defaulting to `latest`.
    pub fn parse(s: &str) -> Option<LevelVersion> {
        let (l, v) = s.split_once(':').unwrap_or((s, "latest"));
        Some(LevelVersion {
            level: Level::parse(l)?,
            version: Version::parse(v)?,
        })
    }
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level.as_str(), self.version)
    }
}

/// One failed check, in upstream's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Check id (`allowPrivilegeEscalation`, `capabilities_restricted`, …).
    pub check: &'static str,
    /// Short reason (`unrestricted capabilities`).
    pub reason: String,
    /// What to change, naming containers and fields.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{} ({})", self.reason, self.detail)
        }
    }
}

/// Evaluates a pod's metadata and spec against a level and version; empty when allowed.
/// Violations come in upstream's order (see [`CHECKS`]).
pub fn evaluate(lv: LevelVersion, meta: &ObjectMeta, spec: &PodSpec) -> Vec<Violation> {
    evaluate_at(lv, NEWEST_MINOR, meta, spec)
}

/// [`evaluate`] as an API server whose newest policy version is `v1.<newest>` decides it:
/// `latest`, and any version past `newest`, evaluate as `v1.<newest>`.
pub fn evaluate_at(
    lv: LevelVersion,
    newest: u32,
    meta: &ObjectMeta,
    spec: &PodSpec,
) -> Vec<Violation> {
    if lv.level == Level::Privileged {
        return Vec::new();
    }
    let minor = lv.version.resolve(newest);
    let chosen: Vec<(&Check, &Versioned)> = CHECKS
        .iter()
        .filter(|c| c.level <= lv.level)
        .filter_map(|c| {
            c.versions
                .iter()
                .rev()
                .find(|v| v.min_minor <= minor)
                .map(|v| (c, v))
        })
        .collect();
    let overridden: Vec<&str> = chosen
        .iter()
        .flat_map(|(_, v)| v.overrides.iter().copied())
        .collect();
    let pod = PodView::new(meta, spec);
    chosen
        .into_iter()
        .filter(|(c, _)| !overridden.contains(&c.id))
        .filter_map(|(c, v)| {
            (v.check)(&pod).map(|(reason, detail)| Violation {
                check: c.id,
                reason,
                detail,
            })
        })
        .collect()
}

/// Every check's id and level, in upstream's order (for catalogs that list them, such as
/// `rampart audit`'s Pod Security frameworks).
pub fn check_ids() -> impl Iterator<Item = (&'static str, Level)> {
    CHECKS.iter().map(|c| (c.id, c.level))
}

type Outcome = Option<(String, String)>;

struct Check {
    id: &'static str,
    level: Level,
    versions: &'static [Versioned],
}

struct Versioned {
    min_minor: u32,
    check: fn(&PodView<'_>) -> Outcome,
    overrides: &'static [&'static str],
}

const fn v(min_minor: u32, check: fn(&PodView<'_>) -> Outcome) -> Versioned {
    Versioned {
        min_minor,
        check,
        overrides: &[],
    }
}

const fn v_over(
    min_minor: u32,
    check: fn(&PodView<'_>) -> Outcome,
    overrides: &'static [&'static str],
) -> Versioned {
    Versioned {
        min_minor,
        check,
        overrides,
    }
}

/// Every check, in upstream's evaluation (and reporting) order: baseline checks sorted by id,
/// then restricted checks sorted by id (`registry.go`, `populate`). Go sorts strings byte-wise,
/// as `str`'s `Ord` does; a unit test keeps the order.
static CHECKS: &[Check] = &[
    Check {
        id: "appArmorProfile",
        level: Level::Baseline,
        versions: &[v(0, app_armor)],
    },
    Check {
        id: "capabilities_baseline",
        level: Level::Baseline,
        versions: &[v(0, capabilities_baseline)],
    },
    Check {
        id: "hostNamespaces",
        level: Level::Baseline,
        versions: &[v(0, host_namespaces)],
    },
    Check {
        id: "hostPathVolumes",
        level: Level::Baseline,
        versions: &[v(0, host_path_volumes)],
    },
    Check {
        id: "hostPorts",
        level: Level::Baseline,
        versions: &[v(0, host_ports)],
    },
    Check {
        id: "hostProbesAndHostLifecycle",
        level: Level::Baseline,
        versions: &[v(34, host_probes_and_lifecycle)],
    },
    Check {
        id: "privileged",
        level: Level::Baseline,
        versions: &[v(0, privileged)],
    },
    Check {
        id: "procMount",
        level: Level::Baseline,
        versions: &[v(0, proc_mount_1_0), v(35, proc_mount_1_35)],
    },
    Check {
        id: "seLinuxOptions",
        level: Level::Baseline,
        versions: &[v(0, selinux_1_0), v(31, selinux_1_31)],
    },
    Check {
        id: "seccompProfile_baseline",
        level: Level::Baseline,
        versions: &[v(0, seccomp_baseline_1_0), v(19, seccomp_baseline_1_19)],
    },
    Check {
        id: "sysctls",
        level: Level::Baseline,
        versions: &[
            v(0, sysctls_1_0),
            v(27, sysctls_1_27),
            v(29, sysctls_1_29),
            v(32, sysctls_1_32),
            v(37, sysctls_1_37),
        ],
    },
    Check {
        id: "windowsHostProcess",
        level: Level::Baseline,
        versions: &[v(0, windows_host_process)],
    },
    Check {
        id: "allowPrivilegeEscalation",
        level: Level::Restricted,
        versions: &[
            v(8, allow_privilege_escalation_1_8),
            v(25, allow_privilege_escalation_1_25),
        ],
    },
    Check {
        id: "capabilities_restricted",
        level: Level::Restricted,
        versions: &[
            v_over(22, capabilities_restricted_1_22, &["capabilities_baseline"]),
            v_over(25, capabilities_restricted_1_25, &["capabilities_baseline"]),
        ],
    },
    Check {
        id: "procMount_restricted",
        level: Level::Restricted,
        versions: &[v_over(35, proc_mount_restricted, &["procMount"])],
    },
    Check {
        id: "restrictedVolumes",
        level: Level::Restricted,
        versions: &[v_over(0, restricted_volumes, &["hostPathVolumes"])],
    },
    Check {
        id: "runAsNonRoot",
        level: Level::Restricted,
        versions: &[v(0, run_as_non_root), v(35, run_as_non_root_1_35)],
    },
    Check {
        id: "runAsUser",
        level: Level::Restricted,
        versions: &[v(23, run_as_user), v(35, run_as_user_1_35)],
    },
    Check {
        id: "seccompProfile_restricted",
        level: Level::Restricted,
        versions: &[
            v_over(19, seccomp_restricted_1_19, &["seccompProfile_baseline"]),
            v_over(25, seccomp_restricted_1_25, &["seccompProfile_baseline"]),
        ],
    },
];

/// Every container of a pod (init, regular, ephemeral), with the fields the checks read.
struct Ctr<'a> {
    name: &'a str,
    sc: Option<&'a SecurityContext>,
    ports: &'a [ContainerPort],
    probes: [Option<&'a Probe>; 3],
    lifecycle: Option<&'a Lifecycle>,
}

struct PodView<'a> {
    meta: &'a ObjectMeta,
    spec: &'a PodSpec,
    containers: Vec<Ctr<'a>>,
}

impl<'a> PodView<'a> {
    fn new(meta: &'a ObjectMeta, spec: &'a PodSpec) -> PodView<'a> {
        let mut containers = Vec::new();
        for c in spec
            .init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
        {
            containers.push(Ctr {
                name: &c.name,
                sc: c.security_context.as_ref(),
                ports: c.ports.as_deref().unwrap_or_default(),
                probes: [
                    c.liveness_probe.as_ref(),
                    c.readiness_probe.as_ref(),
                    c.startup_probe.as_ref(),
                ],
                lifecycle: c.lifecycle.as_ref(),
            });
        }
        for c in spec.ephemeral_containers.iter().flatten() {
            containers.push(ephemeral(c));
        }
        PodView {
            meta,
            spec,
            containers,
        }
    }
    fn pod_sc(&self) -> Option<&'a k8s_openapi::api::core::v1::PodSecurityContext> {
        self.spec.security_context.as_ref()
    }
    fn is_windows(&self) -> bool {
        self.spec.os.as_ref().is_some_and(|o| o.name == "windows")
    }
    /// Names of containers matching `bad`.
    fn bad(&self, bad: impl Fn(&Ctr<'a>) -> bool) -> Vec<&'a str> {
        self.containers
            .iter()
            .filter(|c| bad(c))
            .map(|c| c.name)
            .collect()
    }
}

fn ephemeral(c: &EphemeralContainer) -> Ctr<'_> {
    Ctr {
        name: &c.name,
        sc: c.security_context.as_ref(),
        ports: c.ports.as_deref().unwrap_or_default(),
        probes: [
            c.liveness_probe.as_ref(),
            c.readiness_probe.as_ref(),
            c.startup_probe.as_ref(),
        ],
        lifecycle: c.lifecycle.as_ref(),
    }
}

/// Items a message lists at most: a pod of 10,000 privileged containers must not produce a
/// denial of megabytes (the rest are counted).
pub const MAX_LISTED: usize = 16;

/// `a, b, c`; past [`MAX_LISTED`] items, `…, and N more`.
pub(crate) fn listed<S: AsRef<str>>(items: &[S]) -> String {
    let shown: Vec<&str> = items.iter().take(MAX_LISTED).map(AsRef::as_ref).collect();
    shown.join(", ") + &more(items.len())
}

/// The `, and N more` of a list of `total` items cut at [`MAX_LISTED`].
fn more(total: usize) -> String {
    match total.checked_sub(MAX_LISTED) {
        Some(n) if n > 0 => format!(", and {n} more"),
        _ => String::new(),
    }
}

/// Upstream's `joinQuote`: each item in double quotes, joined `", "`, with no escaping; past
/// [`MAX_LISTED`] items, `…, and N more`.
fn quoted<S: AsRef<str>>(items: &[S]) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(MAX_LISTED)
        .map(|n| format!("\"{}\"", n.as_ref()))
        .collect();
    shown.join(", ") + &more(items.len())
}

/// Upstream's `pluralize`: `one` for a count of 1, `many` otherwise.
fn plural<'s>(one: &'s str, many: &'s str, n: usize) -> &'s str {
    if n == 1 { one } else { many }
}

fn containers_phrase<S: AsRef<str>>(names: &[S]) -> String {
    format!(
        "{} {}",
        plural("container", "containers", names.len()),
        quoted(names)
    )
}

fn must(names: &[&str], what: &str) -> String {
    format!("{} must {what}", containers_phrase(names))
}

fn sorted_unique(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

// ---- baseline ---------------------------------------------------------------------------

fn privileged(p: &PodView<'_>) -> Outcome {
    let bad = p.bad(|c| c.sc.and_then(|s| s.privileged) == Some(true));
    (!bad.is_empty()).then(|| {
        (
            "privileged".into(),
            must(&bad, "not set securityContext.privileged=true"),
        )
    })
}

fn host_namespaces(p: &PodView<'_>) -> Outcome {
    let mut set = Vec::new();
    if p.spec.host_network == Some(true) {
        set.push("hostNetwork=true");
    }
    if p.spec.host_pid == Some(true) {
        set.push("hostPID=true");
    }
    if p.spec.host_ipc == Some(true) {
        set.push("hostIPC=true");
    }
    (!set.is_empty()).then(|| ("host namespaces".into(), listed(&set)))
}

/// `check_hostPorts.go`: ports as a sorted set of decimal strings, verbs by container count.
fn host_ports(p: &PodView<'_>) -> Outcome {
    let host = |c: &Ctr<'_>| -> Vec<i32> {
        c.ports
            .iter()
            .filter_map(|x| x.host_port.filter(|h| *h != 0))
            .collect()
    };
    let bad = p.bad(|c| !host(c).is_empty());
    let ports = sorted_unique(
        p.containers
            .iter()
            .flat_map(host)
            .map(|h| h.to_string())
            .collect(),
    );
    (!bad.is_empty()).then(|| {
        (
            "hostPort".into(),
            format!(
                "{} {} {} {}",
                containers_phrase(&bad),
                plural("uses", "use", bad.len()),
                plural("hostPort", "hostPorts", ports.len()),
                listed(&ports)
            ),
        )
    })
}

fn host_path_volumes(p: &PodView<'_>) -> Outcome {
    let bad: Vec<&str> = p
        .spec
        .volumes
        .iter()
        .flatten()
        .filter(|v| v.host_path.is_some())
        .map(|v| v.name.as_str())
        .collect();
    (!bad.is_empty()).then(|| {
        (
            "hostPath volumes".into(),
            format!(
                "{} {}",
                plural("volume", "volumes", bad.len()),
                quoted(&bad)
            ),
        )
    })
}

const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn caps<'a>(c: &Ctr<'a>) -> Option<&'a Capabilities> {
    c.sc.and_then(|s| s.capabilities.as_ref())
}

fn capabilities_baseline(p: &PodView<'_>) -> Outcome {
    let mut added = Vec::new();
    let bad = p.bad(|c| {
        caps(c)
            .and_then(|k| k.add.as_ref())
            .into_iter()
            .flatten()
            .any(|a| !BASELINE_CAPABILITIES.contains(&a.as_str()))
    });
    for c in &p.containers {
        for a in caps(c).and_then(|k| k.add.as_ref()).into_iter().flatten() {
            if !BASELINE_CAPABILITIES.contains(&a.as_str()) {
                added.push(a.clone());
            }
        }
    }
    (!bad.is_empty()).then(|| {
        (
            "non-default capabilities".into(),
            format!(
                "{} must not include {} in securityContext.capabilities.add",
                containers_phrase(&bad),
                quoted(&sorted_unique(added))
            ),
        )
    })
}

const APPARMOR_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// `check_appArmorProfile.go` (1.30+): field types and beta annotations, one sentence.
fn app_armor(p: &PodView<'_>) -> Outcome {
    let allowed_type = |t: &str| matches!(t, "RuntimeDefault" | "Localhost");
    let mut setters = Vec::new();
    let mut values = Vec::new();
    if let Some(a) = p.pod_sc().and_then(|s| s.app_armor_profile.as_ref())
        && !allowed_type(&a.type_)
    {
        setters.push("pod".to_string());
        values.push(a.type_.clone());
    }
    let bad = p.bad(|c| {
        c.sc.and_then(|s| s.app_armor_profile.as_ref())
            .is_some_and(|a| !allowed_type(&a.type_))
    });
    for c in &p.containers {
        if let Some(a) = c.sc.and_then(|s| s.app_armor_profile.as_ref())
            && !allowed_type(&a.type_)
        {
            values.push(a.type_.clone());
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    let mut values = sorted_unique(values);
    let mut annotations = Vec::new();
    for (k, v) in p.meta.annotations.iter().flatten() {
        if k.starts_with(APPARMOR_PREFIX)
            && !(v.is_empty() || v == "runtime/default" || v.starts_with("localhost/"))
        {
            annotations.push(format!("{k}={v:?}"));
        }
    }
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(plural("annotation", "annotations", annotations.len()).to_string());
        values.extend(annotations);
    }
    if setters.is_empty() {
        return None;
    }
    Some((
        plural(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            values.len(),
        )
        .into(),
        format!(
            "{} must not set AppArmor profile type to {}",
            setters.join(" and "),
            quoted(&values)
        ),
    ))
}

/// `check_seLinuxOptions.go`: the forbidden types, then whether a user or role was set.
fn selinux(p: &PodView<'_>, types: &[&str]) -> Outcome {
    use k8s_openapi::api::core::v1::SELinuxOptions;
    let mut bad_types = Vec::new();
    let (mut set_user, mut set_role) = (false, false);
    let mut valid = |o: &SELinuxOptions| {
        let mut ok = true;
        let t = o.type_.as_deref().unwrap_or("");
        if !types.contains(&t) {
            ok = false;
            bad_types.push(t.to_string());
        }
        if !o.user.as_deref().unwrap_or("").is_empty() {
            ok = false;
            set_user = true;
        }
        if !o.role.as_deref().unwrap_or("").is_empty() {
            ok = false;
            set_role = true;
        }
        ok
    };
    let mut setters = Vec::new();
    if let Some(o) = p.pod_sc().and_then(|s| s.se_linux_options.as_ref())
        && !valid(o)
    {
        setters.push("pod".to_string());
    }
    let mut bad = Vec::new();
    for c in &p.containers {
        if let Some(o) = c.sc.and_then(|s| s.se_linux_options.as_ref())
            && !valid(o)
        {
            bad.push(c.name);
        }
    }
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    if setters.is_empty() {
        return None;
    }
    let bad_types = sorted_unique(bad_types);
    let mut data = Vec::new();
    if !bad_types.is_empty() {
        data.push(format!(
            "{} {}",
            plural("type", "types", bad_types.len()),
            quoted(&bad_types)
        ));
    }
    if set_user {
        data.push("user may not be set".to_string());
    }
    if set_role {
        data.push("role may not be set".to_string());
    }
    Some((
        "seLinuxOptions".into(),
        format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
        ),
    ))
}

fn selinux_1_0(p: &PodView<'_>) -> Outcome {
    selinux(
        p,
        &["", "container_t", "container_init_t", "container_kvm_t"],
    )
}

fn selinux_1_31(p: &PodView<'_>) -> Outcome {
    selinux(
        p,
        &[
            "",
            "container_t",
            "container_init_t",
            "container_kvm_t",
            "container_engine_t",
        ],
    )
}

fn proc_mount_of<'a>(c: &Ctr<'a>) -> Option<&'a str> {
    c.sc.and_then(|s| s.proc_mount.as_deref())
}

/// `check_procMount_baseline.go`: containers with a procMount other than `Default`, and the
/// sorted set of those values.
fn proc_mount_violation(p: &PodView<'_>) -> Outcome {
    fn bad_value<'a>(c: &Ctr<'a>) -> Option<&'a str> {
        proc_mount_of(c).filter(|m| *m != "Default")
    }
    let bad = p.bad(|c| bad_value(c).is_some());
    (!bad.is_empty()).then(|| {
        let values = sorted_unique(
            p.containers
                .iter()
                .filter_map(|c| bad_value(c).map(str::to_string))
                .collect(),
        );
        (
            "procMount".into(),
            format!(
                "{} must not set securityContext.procMount to {}",
                containers_phrase(&bad),
                quoted(&values)
            ),
        )
    })
}

fn proc_mount_1_0(p: &PodView<'_>) -> Outcome {
    proc_mount_violation(p)
}

/// From v1.35, baseline allows any procMount in pods with their own user namespace
/// (`hostUsers: false`), where it cannot expose the host's /proc (`procMount1_35baseline`).
fn proc_mount_1_35(p: &PodView<'_>) -> Outcome {
    if user_namespace(p) {
        return None;
    }
    proc_mount_1_0(p)
}

/// Upstream's `relaxPolicyForUserNamespacePod` (unconditional from policy v1.35): the pod
/// sets `hostUsers: false`; unset means the host's user namespace.
fn user_namespace(p: &PodView<'_>) -> bool {
    p.spec.host_users == Some(false)
}

fn proc_mount_restricted(p: &PodView<'_>) -> Outcome {
    proc_mount_1_0(p)
}

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

/// `seccompProfileBaseline_1_0`: the pod annotation and the annotation of each container
/// that exists; valid values are `runtime/default`, `docker/default` and `localhost/*`.
fn seccomp_baseline_1_0(p: &PodView<'_>) -> Outcome {
    let valid =
        |v: &str| v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/");
    let annotations = p.meta.annotations.as_ref();
    let get = |k: &str| annotations.and_then(|a| a.get(k));
    let mut bad = Vec::new();
    if let Some(v) = get(SECCOMP_POD_ANNOTATION)
        && !valid(v)
    {
        bad.push(format!("{SECCOMP_POD_ANNOTATION}={v:?}"));
    }
    for c in &p.containers {
        let k = format!("{SECCOMP_CONTAINER_PREFIX}{}", c.name);
        if let Some(v) = get(&k)
            && !valid(v)
        {
            bad.push(format!("{k}={v:?}"));
        }
    }
    let bad = sorted_unique(bad);
    (!bad.is_empty()).then(|| {
        (
            "seccompProfile".into(),
            format!(
                "forbidden {} {}",
                plural("annotation", "annotations", bad.len()),
                listed(&bad)
            ),
        )
    })
}

fn seccomp_type(sc: Option<&SecurityContext>) -> Option<&str> {
    sc.and_then(|s| s.seccomp_profile.as_ref())
        .map(|s| s.type_.as_str())
}

fn valid_seccomp(t: &str) -> bool {
    matches!(t, "RuntimeDefault" | "Localhost")
}

/// `seccompProfileBaseline_1_19`: fields only; a type other than `RuntimeDefault` or
/// `Localhost` is forbidden wherever it is set.
fn seccomp_baseline_1_19(p: &PodView<'_>) -> Outcome {
    let mut setters = Vec::new();
    let mut values = Vec::new();
    if let Some(sp) = p.pod_sc().and_then(|s| s.seccomp_profile.as_ref())
        && !valid_seccomp(&sp.type_)
    {
        setters.push("pod".to_string());
        values.push(sp.type_.clone());
    }
    let bad = p.bad(|c| seccomp_type(c.sc).is_some_and(|t| !valid_seccomp(t)));
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    values.extend(
        p.containers
            .iter()
            .filter_map(|c| seccomp_type(c.sc))
            .filter(|t| !valid_seccomp(t))
            .map(str::to_string),
    );
    (!setters.is_empty()).then(|| {
        (
            "seccompProfile".into(),
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                quoted(&sorted_unique(values))
            ),
        )
    })
}

const SYSCTLS_1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
const SYSCTLS_1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
const SYSCTLS_1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SYSCTLS_1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];
const SYSCTLS_1_37: &[&str] = &[
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

/// `check_sysctls.go`: the forbidden names unquoted, in spec order.
fn sysctls(p: &PodView<'_>, allowed: &[&[&str]]) -> Outcome {
    let bad: Vec<&str> = p
        .pod_sc()
        .and_then(|s| s.sysctls.as_ref())
        .into_iter()
        .flatten()
        .filter(|s| !allowed.iter().any(|set| set.contains(&s.name.as_str())))
        .map(|s| s.name.as_str())
        .collect();
    (!bad.is_empty()).then(|| ("forbidden sysctls".into(), listed(&bad)))
}

fn sysctls_1_0(p: &PodView<'_>) -> Outcome {
    sysctls(p, &[SYSCTLS_1_0])
}

fn sysctls_1_27(p: &PodView<'_>) -> Outcome {
    sysctls(p, &[SYSCTLS_1_0, SYSCTLS_1_27])
}

fn sysctls_1_29(p: &PodView<'_>) -> Outcome {
    sysctls(p, &[SYSCTLS_1_0, SYSCTLS_1_27, SYSCTLS_1_29])
}

fn sysctls_1_32(p: &PodView<'_>) -> Outcome {
    sysctls(p, &[SYSCTLS_1_0, SYSCTLS_1_27, SYSCTLS_1_29, SYSCTLS_1_32])
}

fn sysctls_1_37(p: &PodView<'_>) -> Outcome {
    sysctls(
        p,
        &[
            SYSCTLS_1_0,
            SYSCTLS_1_27,
            SYSCTLS_1_29,
            SYSCTLS_1_32,
            SYSCTLS_1_37,
        ],
    )
}

fn windows_host_process(p: &PodView<'_>) -> Outcome {
    let host_process = |w: Option<&k8s_openapi::api::core::v1::WindowsSecurityContextOptions>| {
        w.and_then(|w| w.host_process) == Some(true)
    };
    let pod = host_process(p.pod_sc().and_then(|s| s.windows_options.as_ref()));
    let bad = p.bad(|c| host_process(c.sc.and_then(|s| s.windows_options.as_ref())));
    (pod || !bad.is_empty()).then(|| {
        let mut who = Vec::new();
        if pod {
            who.push("pod".to_string());
        }
        if !bad.is_empty() {
            who.push(containers_phrase(&bad));
        }
        (
            "hostProcess".into(),
            format!(
                "{} must not set securityContext.windowsOptions.hostProcess=true",
                who.join(" and ")
            ),
        )
    })
}

fn handler_hosts(h: &LifecycleHandler) -> impl Iterator<Item = &str> {
    let http = h.http_get.as_ref().and_then(|g| g.host.as_deref());
    let tcp = h.tcp_socket.as_ref().and_then(|t| t.host.as_deref());
    http.into_iter().chain(tcp).filter(|s| !s.is_empty())
}

fn probe_hosts(pr: &Probe) -> impl Iterator<Item = &str> {
    let http = pr.http_get.as_ref().and_then(|g| g.host.as_deref());
    let tcp = pr.tcp_socket.as_ref().and_then(|t| t.host.as_deref());
    http.into_iter().chain(tcp).filter(|s| !s.is_empty())
}

/// Every non-empty host a container's probes and lifecycle handlers name.
fn container_hosts<'a>(c: &Ctr<'a>) -> Vec<&'a str> {
    let mut hosts: Vec<&str> = c
        .probes
        .iter()
        .flatten()
        .flat_map(|pr| probe_hosts(pr))
        .collect();
    if let Some(l) = c.lifecycle {
        for h in [l.post_start.as_ref(), l.pre_stop.as_ref()]
            .into_iter()
            .flatten()
        {
            hosts.extend(handler_hosts(h));
        }
    }
    hosts
}

/// `hostProbesAndHostLifecycleV1Dot34`: sorted sets of containers and hosts.
fn host_probes_and_lifecycle(p: &PodView<'_>) -> Outcome {
    let mut bad = Vec::new();
    let mut hosts = Vec::new();
    for c in &p.containers {
        let h = container_hosts(c);
        if !h.is_empty() {
            bad.push(c.name.to_string());
            hosts.extend(h.into_iter().map(str::to_string));
        }
    }
    let (bad, hosts) = (sorted_unique(bad), sorted_unique(hosts));
    (!bad.is_empty()).then(|| {
        (
            "probe or lifecycle host".into(),
            format!(
                "{} {} {} {}",
                containers_phrase(&bad),
                plural("uses", "use", bad.len()),
                plural(
                    "probe or lifecycle host",
                    "probe or lifecycle hosts",
                    hosts.len()
                ),
                quoted(&hosts)
            ),
        )
    })
}

// ---- restricted -------------------------------------------------------------------------

/// The type upstream names for a volume outside the allowed set: the first source set, in
/// `check_restrictedVolumes.go`'s switch order, else `unknown`.
fn restricted_volume_type(v: &k8s_openapi::api::core::v1::Volume) -> &'static str {
    let set = [
        (v.host_path.is_some(), "hostPath"),
        (v.gce_persistent_disk.is_some(), "gcePersistentDisk"),
        (v.aws_elastic_block_store.is_some(), "awsElasticBlockStore"),
        (v.git_repo.is_some(), "gitRepo"),
        (v.nfs.is_some(), "nfs"),
        (v.iscsi.is_some(), "iscsi"),
        (v.glusterfs.is_some(), "glusterfs"),
        (v.rbd.is_some(), "rbd"),
        (v.flex_volume.is_some(), "flexVolume"),
        (v.cinder.is_some(), "cinder"),
        (v.cephfs.is_some(), "cephfs"),
        (v.flocker.is_some(), "flocker"),
        (v.fc.is_some(), "fc"),
        (v.azure_file.is_some(), "azureFile"),
        (v.vsphere_volume.is_some(), "vsphereVolume"),
        (v.quobyte.is_some(), "quobyte"),
        (v.azure_disk.is_some(), "azureDisk"),
        (v.photon_persistent_disk.is_some(), "photonPersistentDisk"),
        (v.portworx_volume.is_some(), "portworxVolume"),
        (v.scale_io.is_some(), "scaleIO"),
        (v.storageos.is_some(), "storageos"),
    ];
    set.iter()
        .find(|(is, _)| *is)
        .map_or("unknown", |(_, name)| name)
}

/// `restrictedVolumes_1_0`: the allowed sources, `image` (KEP-4639) among them at every
/// version (kubernetes/kubernetes#130394, v1.33); anything else (or no source at all) is
/// reported with one type per volume, the type noun counted by distinct types.
fn restricted_volumes(p: &PodView<'_>) -> Outcome {
    let mut bad = Vec::new();
    let mut kinds = Vec::new();
    for vol in p.spec.volumes.iter().flatten() {
        let allowed = vol.config_map.is_some()
            || vol.csi.is_some()
            || vol.downward_api.is_some()
            || vol.empty_dir.is_some()
            || vol.ephemeral.is_some()
            || vol.persistent_volume_claim.is_some()
            || vol.projected.is_some()
            || vol.secret.is_some()
            || vol.image.is_some();
        if !allowed {
            bad.push(vol.name.as_str());
            kinds.push(restricted_volume_type(vol).to_string());
        }
    }
    (!bad.is_empty()).then(|| {
        let kinds = sorted_unique(kinds);
        (
            "restricted volume types".into(),
            format!(
                "{} {} {} {} {}",
                plural("volume", "volumes", bad.len()),
                quoted(&bad),
                plural("uses", "use", bad.len()),
                plural(
                    "restricted volume type",
                    "restricted volume types",
                    kinds.len()
                ),
                quoted(&kinds)
            ),
        )
    })
}

/// `runAsNonRoot_1_0`: explicit `false` settings first (and alone); otherwise the
/// containers that neither set it nor inherit `true` from the pod.
fn run_as_non_root(p: &PodView<'_>) -> Outcome {
    let mut setters = Vec::new();
    let pod = p.pod_sc().and_then(|s| s.run_as_non_root);
    if pod == Some(false) {
        setters.push("pod".to_string());
    }
    let explicit = p.bad(|c| c.sc.and_then(|s| s.run_as_non_root) == Some(false));
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
    }
    if !setters.is_empty() {
        return Some((
            "runAsNonRoot != true".into(),
            format!(
                "{} must not set securityContext.runAsNonRoot=false",
                setters.join(" and ")
            ),
        ));
    }
    let implicit = if pod == Some(true) {
        Vec::new()
    } else {
        p.bad(|c| c.sc.and_then(|s| s.run_as_non_root).is_none())
    };
    (!implicit.is_empty()).then(|| {
        (
            "runAsNonRoot != true".into(),
            format!(
                "pod or {} must set securityContext.runAsNonRoot=true",
                containers_phrase(&implicit)
            ),
        )
    })
}

/// `runAsNonRoot1_35`: pods with their own user namespace are exempt.
fn run_as_non_root_1_35(p: &PodView<'_>) -> Outcome {
    if user_namespace(p) {
        return None;
    }
    run_as_non_root(p)
}

fn run_as_user(p: &PodView<'_>) -> Outcome {
    let mut setters = Vec::new();
    if p.pod_sc().and_then(|s| s.run_as_user) == Some(0) {
        setters.push("pod".to_string());
    }
    let bad = p.bad(|c| c.sc.and_then(|s| s.run_as_user) == Some(0));
    if !bad.is_empty() {
        setters.push(containers_phrase(&bad));
    }
    (!setters.is_empty()).then(|| {
        (
            "runAsUser=0".into(),
            format!("{} must not set runAsUser=0", setters.join(" and ")),
        )
    })
}

/// `runAsUser1_35`: pods with their own user namespace are exempt.
fn run_as_user_1_35(p: &PodView<'_>) -> Outcome {
    if user_namespace(p) {
        return None;
    }
    run_as_user(p)
}

fn allow_privilege_escalation_1_8(p: &PodView<'_>) -> Outcome {
    let bad = p.bad(|c| c.sc.and_then(|s| s.allow_privilege_escalation) != Some(false));
    (!bad.is_empty()).then(|| {
        (
            "allowPrivilegeEscalation != false".into(),
            must(&bad, "set securityContext.allowPrivilegeEscalation=false"),
        )
    })
}

/// From v1.25, Linux-only controls do not apply to Windows pods.
fn allow_privilege_escalation_1_25(p: &PodView<'_>) -> Outcome {
    if p.is_windows() {
        return None;
    }
    allow_privilege_escalation_1_8(p)
}

/// `seccompProfileRestricted_1_19`: explicit bad values (pod or containers) are reported
/// alone; otherwise the containers left without a profile.
fn seccomp_restricted_1_19(p: &PodView<'_>) -> Outcome {
    let mut setters = Vec::new();
    let mut values = Vec::new();
    let mut pod_set = false;
    if let Some(sp) = p.pod_sc().and_then(|s| s.seccomp_profile.as_ref()) {
        if valid_seccomp(&sp.type_) {
            pod_set = true;
        } else {
            setters.push("pod".to_string());
            values.push(sp.type_.clone());
        }
    }
    let explicit = p.bad(|c| seccomp_type(c.sc).is_some_and(|t| !valid_seccomp(t)));
    if !explicit.is_empty() {
        setters.push(containers_phrase(&explicit));
        values.extend(
            p.containers
                .iter()
                .filter_map(|c| seccomp_type(c.sc))
                .filter(|t| !valid_seccomp(t))
                .map(str::to_string),
        );
    }
    if !setters.is_empty() {
        return Some((
            "seccompProfile".into(),
            format!(
                "{} must not set securityContext.seccompProfile.type to {}",
                setters.join(" and "),
                quoted(&sorted_unique(values))
            ),
        ));
    }
    let implicit = if pod_set {
        Vec::new()
    } else {
        p.bad(|c| seccomp_type(c.sc).is_none())
    };
    (!implicit.is_empty()).then(|| {
        (
            "seccompProfile".into(),
            format!(
                "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                containers_phrase(&implicit)
            ),
        )
    })
}

fn seccomp_restricted_1_25(p: &PodView<'_>) -> Outcome {
    if p.is_windows() {
        return None;
    }
    seccomp_restricted_1_19(p)
}

fn capabilities_restricted_1_22(p: &PodView<'_>) -> Outcome {
    let no_drop_all = p.bad(|c| {
        !caps(c)
            .and_then(|k| k.drop.as_ref())
            .is_some_and(|d| d.iter().any(|x| x == "ALL"))
    });
    let mut added = Vec::new();
    let bad_add = p.bad(|c| {
        caps(c)
            .and_then(|k| k.add.as_ref())
            .is_some_and(|a| a.iter().any(|x| x != "NET_BIND_SERVICE"))
    });
    for c in &p.containers {
        for a in caps(c).and_then(|k| k.add.as_ref()).into_iter().flatten() {
            if a != "NET_BIND_SERVICE" {
                added.push(a.clone());
            }
        }
    }
    let mut parts = Vec::new();
    if !no_drop_all.is_empty() {
        parts.push(must(
            &no_drop_all,
            "set securityContext.capabilities.drop=[\"ALL\"]",
        ));
    }
    if !bad_add.is_empty() {
        parts.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&bad_add),
            quoted(&sorted_unique(added))
        ));
    }
    (!parts.is_empty()).then(|| ("unrestricted capabilities".into(), parts.join("; ")))
}

fn capabilities_restricted_1_25(p: &PodView<'_>) -> Outcome {
    if p.is_windows() {
        return None;
    }
    capabilities_restricted_1_22(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_in_upstream_order() {
        // registry.go `populate`: baseline ids sorted, then restricted ids sorted (byte-wise).
        let keys: Vec<(Level, &str)> = CHECKS.iter().map(|c| (c.level, c.id)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn versions_parse() {
        assert_eq!(Version::parse("latest"), Some(Version::Latest));
        assert_eq!(Version::parse("v1.30"), Some(Version::Minor(30)));
        assert_eq!(Version::parse("v1.10000"), Some(Version::Minor(10000)));
        for bad in [
            "",
            "1.30",
            "v2.1",
            "v1.",
            "v1.x",
            "v1.-1",
            "v1.01",
            "v1.9999999999",
        ] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
        assert_eq!(
            LevelVersion::parse("restricted"),
            Some(LevelVersion {
                level: Level::Restricted,
                version: Version::Latest
            })
        );
        assert_eq!(
            LevelVersion::parse("restricted:v1.30").map(|l| l.to_string()),
            Some("restricted:v1.30".into())
        );
        assert_eq!(LevelVersion::parse("strict:v1.30"), None);
    }
}
