//! Background audit of the cluster's own SecurityPolicies and ClusterSecurityPolicies: every
//! existing object judged as the webhook would judge its creation (`rampart_policy::offline`,
//! one implementation), whatever the policy's mode, so a policy in `audit` or `warn` shows
//! what it would deny before anyone sets it to `enforce`. Pod Security's own checks are the
//! Pod Security frameworks' business and are left out here.

use std::collections::BTreeMap;

use rampart_policy::offline::{Against, check};
use rampart_policy::review::PolicySet;
use rampart_policy::source::{namespace_from_value, policy_from_value};

use crate::check::{CheckError, Hit, Verdict};
use crate::inventory::Inventory;
use crate::object::ObjectRef;
use crate::run::{Audit, Status};
use crate::settings::Settings;

const POLICY_KINDS: &[&str] = &["SecurityPolicy", "ClusterSecurityPolicy"];

/// The policies among the objects (invalid ones are skipped: the webhook refuses them), and
/// how many there are. A policy reading params or an inventory of a kind the objects hold none
/// of is left out: whether the kind was never collected (the engine's audit does not watch
/// PolicyParams) or is empty cannot be told here, and a missing params object would be a false
/// violation.
pub fn policy_set(inv: &Inventory) -> (PolicySet, usize) {
    let held: std::collections::BTreeSet<(&str, &str)> = inv
        .objects()
        .iter()
        .filter_map(|o| {
            Some((
                o.value.get("apiVersion")?.as_str()?,
                o.value.get("kind")?.as_str()?,
            ))
        })
        .collect();
    let mut set = PolicySet::default();
    let mut n = 0;
    for o in inv.of_kinds(POLICY_KINDS) {
        if let Some(Ok(p)) = policy_from_value(&o.value, "default") {
            let reads = p.spec.params.iter().filter_map(|p| p.object_kind());
            let collected = reads
                .chain(p.spec.inventory.iter().cloned())
                .all(|k| held.contains(&(k.api_version.as_str(), k.kind.as_str())));
            if collected && set.upsert(p).is_ok() {
                n += 1;
            }
        }
    }
    (set, n)
}

fn policy_ref(policy: &str) -> Option<ObjectRef> {
    let (kind, name) = policy.split_once(' ')?;
    if !POLICY_KINDS.contains(&kind) {
        return None;
    }
    Some(match name.split_once('/') {
        Some((ns, n)) => ObjectRef::new(kind, ns, n),
        None => ObjectRef::new(kind, "", name),
    })
}

/// Every object a policy could target, judged against every policy.
pub fn security_policies(inv: &Inventory, _: &Settings) -> Vec<Verdict> {
    let (policies, n) = policy_set(inv);
    if n == 0 {
        return Vec::new();
    }
    let namespaces: BTreeMap<String, BTreeMap<String, String>> = inv
        .of_kind("Namespace")
        .filter_map(|o| namespace_from_value(&o.value))
        .map(|(name, mut labels)| {
            // Pod Security is judged by its own frameworks, not twice.
            labels.retain(|k, _| !k.starts_with("pod-security.kubernetes.io/"));
            (name, labels)
        })
        .collect();
    // The whole cluster is here: params objects and inventories come from it.
    let objects = rampart_policy::store::ObjectStore::from_objects(
        inv.objects().iter().map(|o| &o.value),
        &policies.wanted(),
    );
    let against = Against {
        policies: &policies,
        namespaces: &namespaces,
        pss: None,
        newest: rampart_policy::pss::NEWEST_MINOR,
        objects: &objects,
        vaps: &rampart_policy::vap::VapSet::default(),
    };
    inv.objects()
        .iter()
        .filter(|o| {
            let (group, version) = rampart_policy::offline::group_version_of(&o.value);
            (rampart_api::TARGET_KINDS.contains(&o.kind())
                || (!POLICY_KINDS.contains(&o.kind())
                    && policies.targets(&group, &version, o.kind())))
                && !o.controlled()
        })
        .map(|o| {
            let file = o.at.file.as_deref().unwrap_or("");
            let outcome = check(&o.value, file, o.at.line, &against)
                .map_err(|e| CheckError(e.to_string()))
                .map(|(_, all)| {
                    all.into_iter()
                        .filter(|v| !v.policy.starts_with("PodSecurity"))
                        .map(|v| {
                            // The admission code names the field at the end of its message.
                            let field = v
                                .message
                                .rsplit_once("(field ")
                                .and_then(|(_, f)| f.strip_suffix(')'))
                                .unwrap_or("")
                                .to_string();
                            Hit::new(
                                field,
                                format!(
                                    "{} rule {:?} ({}): {}",
                                    v.policy, v.rule, v.mode, v.message
                                ),
                            )
                            .instruct(format!(
                                "change the object to meet rule {:?} of {}",
                                v.rule, v.policy
                            ))
                            .related(policy_ref(&v.policy).into_iter().collect())
                        })
                        .collect()
                });
            Verdict {
                target: o.at.clone(),
                outcome,
            }
        })
        .collect()
}

/// What an audit found of each policy: the objects violating it (failed or excepted findings
/// of the `security-policies` check that name it), and how many objects were judged.
pub fn violations(audit: &Audit) -> (BTreeMap<ObjectRef, u32>, u32) {
    let mut out: BTreeMap<ObjectRef, u32> = BTreeMap::new();
    for f in audit
        .findings
        .iter()
        .filter(|f| f.check == "security-policies" && f.status != Status::Error)
    {
        for r in &f.related {
            *out.entry(r.clone()).or_default() += 1;
        }
    }
    (out, audit.tally("security-policies").judged())
}
