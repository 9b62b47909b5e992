//! The Pod Security Standards frameworks: every check of the admission code
//! (`rampart_policy::pss`, one implementation), run over each workload's pod at the level the
//! check belongs to. A workload is evaluated once per level, however many checks read it.

use std::cell::OnceCell;

use rampart_api::Mutations;
use rampart_policy::pss::{self, Level, LevelVersion, Version, Violation};

use crate::check::{CheckError, Fix, Hit, Verdict};
use crate::inventory::Inventory;
use crate::object::{Object, WORKLOAD_KINDS};

/// One Pod Security check as the catalog lists it.
#[derive(Debug, Clone, Copy)]
pub struct PssCheck {
    /// rampart's id.
    pub id: &'static str,
    /// Upstream's check id.
    pub check: &'static str,
    /// Its level.
    pub level: Level,
    /// What it ensures.
    pub title: &'static str,
}

const fn c(id: &'static str, check: &'static str, level: Level, title: &'static str) -> PssCheck {
    PssCheck {
        id,
        check,
        level,
        title,
    }
}

/// Every Pod Security check (the admission code's list; a unit test keeps them equal).
pub const CHECKS: &[PssCheck] = &[
    c(
        "pss-apparmor",
        "appArmorProfile",
        Level::Baseline,
        "AppArmor is not disabled",
    ),
    c(
        "pss-capabilities-baseline",
        "capabilities_baseline",
        Level::Baseline,
        "No capabilities beyond the default set are added",
    ),
    c(
        "pss-host-namespaces",
        "hostNamespaces",
        Level::Baseline,
        "Host namespaces are not shared",
    ),
    c(
        "pss-host-path-volumes",
        "hostPathVolumes",
        Level::Baseline,
        "No hostPath volumes",
    ),
    c(
        "pss-host-ports",
        "hostPorts",
        Level::Baseline,
        "No host ports",
    ),
    c(
        "pss-host-probes",
        "hostProbesAndHostLifecycle",
        Level::Baseline,
        "Probes and lifecycle hooks do not target other hosts",
    ),
    c(
        "pss-privileged",
        "privileged",
        Level::Baseline,
        "No privileged containers",
    ),
    c(
        "pss-proc-mount",
        "procMount",
        Level::Baseline,
        "The default /proc mount",
    ),
    c(
        "pss-selinux",
        "seLinuxOptions",
        Level::Baseline,
        "No custom SELinux user or role, only allowed types",
    ),
    c(
        "pss-seccomp-baseline",
        "seccompProfile_baseline",
        Level::Baseline,
        "Seccomp is not disabled",
    ),
    c(
        "pss-sysctls",
        "sysctls",
        Level::Baseline,
        "Only safe sysctls",
    ),
    c(
        "pss-windows-host-process",
        "windowsHostProcess",
        Level::Baseline,
        "No Windows HostProcess containers",
    ),
    c(
        "pss-privilege-escalation",
        "allowPrivilegeEscalation",
        Level::Restricted,
        "Privilege escalation is disallowed",
    ),
    c(
        "pss-capabilities-restricted",
        "capabilities_restricted",
        Level::Restricted,
        "Capabilities are dropped (ALL); only NET_BIND_SERVICE is added",
    ),
    c(
        "pss-proc-mount-restricted",
        "procMount_restricted",
        Level::Restricted,
        "The default /proc mount (restricted)",
    ),
    c(
        "pss-restricted-volumes",
        "restrictedVolumes",
        Level::Restricted,
        "Only restricted volume types",
    ),
    c(
        "pss-run-as-non-root",
        "runAsNonRoot",
        Level::Restricted,
        "Containers must run as non-root",
    ),
    c(
        "pss-run-as-user",
        "runAsUser",
        Level::Restricted,
        "Containers do not run as UID 0",
    ),
    c(
        "pss-seccomp-restricted",
        "seccompProfile_restricted",
        Level::Restricted,
        "Seccomp is RuntimeDefault or Localhost",
    ),
];

/// The mutation that fixes a check, when the admission code has one.
fn mutation(check: &str) -> Option<Mutations> {
    let mut m = Mutations::default();
    match check {
        "allowPrivilegeEscalation" => m.disallow_privilege_escalation = true,
        "capabilities_restricted" => m.drop_all_capabilities = true,
        "runAsNonRoot" => m.run_as_non_root = true,
        "seccompProfile_restricted" => m.seccomp_runtime_default = true,
        _ => return None,
    }
    Some(m)
}

type Evaluated = Vec<(usize, Result<Vec<Violation>, CheckError>)>;

/// Each workload's violations per level, evaluated on first use.
pub struct Cache<'a> {
    inventory: &'a Inventory,
    baseline: OnceCell<Evaluated>,
    restricted: OnceCell<Evaluated>,
}

impl<'a> Cache<'a> {
    /// Nothing evaluated yet.
    pub fn new(inventory: &'a Inventory) -> Cache<'a> {
        Cache {
            inventory,
            baseline: OnceCell::new(),
            restricted: OnceCell::new(),
        }
    }

    fn evaluated(&self, level: Level) -> &Evaluated {
        let cell = match level {
            Level::Restricted => &self.restricted,
            _ => &self.baseline,
        };
        cell.get_or_init(|| {
            self.inventory
                .objects()
                .iter()
                .enumerate()
                .filter(|(_, o)| WORKLOAD_KINDS.contains(&o.kind()) && !o.controlled())
                .map(|(i, o)| (i, evaluate(o, level)))
                .collect()
        })
    }

    /// The verdicts of one check on every workload.
    pub fn verdicts(&self, level: Level, check: &str) -> Vec<Verdict> {
        let objects = self.inventory.objects();
        self.evaluated(level)
            .iter()
            .map(|(i, r)| {
                let o = &objects[*i];
                Verdict {
                    target: o.at.clone(),
                    outcome: match r {
                        Ok(vs) => Ok(vs
                            .iter()
                            .filter(|v| v.check == check)
                            .map(|v| hit(o, v))
                            .collect()),
                        Err(e) => Err(e.clone()),
                    },
                }
            })
            .collect()
    }
}

fn evaluate(o: &Object, level: Level) -> Result<Vec<Violation>, CheckError> {
    let pod = rampart_policy::object::pod_source(o.kind(), &o.value)
        .map_err(|e| CheckError(e.to_string()))?
        .ok_or_else(|| CheckError(format!("{} has no pod", o.kind())))?;
    Ok(pss::evaluate(
        LevelVersion {
            level,
            version: Version::Latest,
        },
        &pod.meta,
        &pod.spec,
    ))
}

fn hit(o: &Object, v: &Violation) -> Hit {
    let field = crate::object::pod_location(o.kind())
        .map(|(_, _, p)| p.to_string())
        .unwrap_or_default();
    let fix = mutation(v.check).and_then(|m| {
        let pod = rampart_policy::object::pod_source(o.kind(), &o.value).ok()??;
        let p = rampart_policy::mutate::patch(&pod, &m);
        (!p.0.is_empty()).then_some(Fix::Patch(p))
    });
    let fix = fix.or_else(|| {
        Some(Fix::Instruction(if v.detail.is_empty() {
            format!("change the pod so that it no longer has {}", v.reason)
        } else {
            format!("change {}", v.detail)
        }))
    });
    Hit::new(field, v.to_string()).fix(fix)
}

/// Whether [`CHECKS`] lists exactly the admission code's checks.
pub fn matches_admission() -> bool {
    let ours: Vec<(&str, Level)> = CHECKS.iter().map(|c| (c.check, c.level)).collect();
    let theirs: Vec<(&str, Level)> = pss::check_ids().collect();
    ours == theirs
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_catalog_lists_every_admission_check() {
        assert!(super::matches_admission());
    }
}
