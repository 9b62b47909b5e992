//! Runs the catalog over an inventory: one [`Finding`] per (check, object) that failed, was
//! excepted or could not be evaluated, and a tally of every object each check judged, from
//! which the scores come.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog;
use crate::check::{Check, Eval, Fix, Framework, Hit, Ids, Outcome, Severity, Verdict};
use crate::exceptions::Exceptions;
use crate::inventory::Inventory;
use crate::object::{Object, ObjectRef};
use crate::pss;
use crate::settings::Settings;

/// What a finding says about its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The object fails the check.
    Fail,
    /// It fails, and an exception with a reason covers it.
    Excepted,
    /// The check could not evaluate it (the reason says why).
    Error,
}

/// One (check, object) that failed, was excepted, or could not be evaluated.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// rampart's check id.
    pub check: &'static str,
    /// The framework ids the check answers.
    pub ids: Ids,
    /// The check's title.
    pub title: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// What this finding is.
    pub status: Status,
    /// The object (or RBAC subject).
    pub object: ObjectRef,
    /// The first failing field (dotted path), empty for an error.
    pub field: String,
    /// Every failing field when there is more than one (one per container, rule, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it: one patch for every failing field when each has one, else the first
    /// instruction; `null` when neither is known.
    pub fix: Option<Fix>,
    /// Objects that make up the failure with it (a subject's bindings and roles).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<ObjectRef>,
    /// The exception's reason, or why the check could not evaluate the object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How many failures this finding gathers (one per container or per binding, as the
    /// upstream rule counts alerts).
    #[serde(skip)]
    pub count: usize,
}

/// How many objects a check judged, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Passed.
    pub passed: u32,
    /// Failed.
    pub failed: u32,
    /// Failed, excepted.
    pub excepted: u32,
    /// Could not be evaluated.
    pub errors: u32,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.excepted += other.excepted;
        self.errors += other.errors;
    }

    /// Objects judged (errors excluded).
    pub fn judged(&self) -> u32 {
        self.passed + self.failed + self.excepted
    }

    /// Percentage judged that did not fail (excepted objects count as passing), `None` when
    /// nothing was judged.
    pub fn score(&self) -> Option<f64> {
        let judged = self.judged();
        (judged > 0).then(|| f64::from(self.passed + self.excepted) * 100.0 / f64::from(judged))
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The frameworks whose checks run.
    pub frameworks: Vec<Framework>,
    /// The checks' settings.
    pub settings: Settings,
    /// Exceptions besides those annotated on objects.
    pub exceptions: Exceptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            frameworks: Framework::ALL.to_vec(),
            settings: Settings::default(),
            exceptions: Exceptions::default(),
        }
    }
}

/// The result of one audit.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// Findings, by check then object.
    pub findings: Vec<Finding>,
    /// Per check and namespace (`""`: cluster-scoped), what was judged.
    pub tallies: BTreeMap<&'static str, BTreeMap<String, Tally>>,
    /// The checks that ran.
    pub checks: Vec<Check>,
}

impl Audit {
    /// A check's tally over every namespace.
    pub fn tally(&self, check: &str) -> Tally {
        let mut t = Tally::default();
        for n in self.tallies.get(check).into_iter().flat_map(|m| m.values()) {
            t.add(*n);
        }
        t
    }

    /// The framework's score: the mean over its checks that judged anything of the share of
    /// objects that pass (kubescape's compliance score). `None` when no check judged anything.
    pub fn score(&self, framework: Framework, namespace: Option<&str>) -> Option<f64> {
        let scores: Vec<f64> = self
            .checks
            .iter()
            .filter(|c| c.frameworks.contains(&framework))
            .filter_map(|c| match namespace {
                None => self.tally(c.id).score(),
                Some(ns) => self.tallies.get(c.id)?.get(ns)?.score(),
            })
            .collect();
        (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
    }

    /// The namespaces anything was judged in (`""` for cluster-scoped objects).
    pub fn namespaces(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .tallies
            .values()
            .flat_map(|m| m.keys().map(String::as_str))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Runs every check of `options.frameworks` over `inventory`.
pub fn audit(inventory: &Inventory, options: &Options) -> Audit {
    let checks: Vec<Check> = catalog::checks()
        .into_iter()
        .filter(|c| c.in_any(&options.frameworks))
        .collect();
    audit_with(inventory, &checks, options)
}

/// Runs these checks over `inventory` (`options.frameworks` is not consulted).
pub fn audit_with(inventory: &Inventory, checks: &[Check], options: &Options) -> Audit {
    let mut out = Audit {
        checks: checks.to_vec(),
        ..Audit::default()
    };
    let pss_cache = pss::Cache::new(inventory);
    // The control plane's static Pods, found once for every flag check.
    let components = std::cell::OnceCell::new();
    let components = || {
        components.get_or_init(|| {
            inventory
                .of_kind("Pod")
                .filter_map(|o| Some((o, crate::checks::flags::component_of(o)?)))
                .collect::<Vec<_>>()
        })
    };
    for check in checks {
        let verdicts: Vec<Verdict> = match check.eval {
            Eval::Object { kinds, check: f } => inventory
                .of_kinds(kinds)
                .into_iter()
                .filter(|o| !o.controlled())
                .map(|o| Verdict {
                    target: o.at.clone(),
                    outcome: f(o, &options.settings),
                })
                .collect(),
            Eval::Cluster(f) => f(inventory, &options.settings),
            Eval::Flag(rule) => components()
                .iter()
                .filter(|(_, c)| *c == rule.component)
                .map(|(o, _)| Verdict {
                    target: o.at.clone(),
                    outcome: crate::checks::flags::judge(rule, o, &options.settings),
                })
                .collect(),
            Eval::PodSecurity { level, check: id } => pss_cache.verdicts(level, id),
        };
        for v in verdicts {
            record(&mut out, check, v, inventory, options);
        }
    }
    out
}

fn record(out: &mut Audit, check: &Check, v: Verdict, inventory: &Inventory, options: &Options) {
    let tally = out
        .tallies
        .entry(check.id)
        .or_default()
        .entry(v.target.namespace.clone())
        .or_default();
    let finding = |status, hits: &[Hit], reason: Option<String>, target: ObjectRef| Finding {
        check: check.id,
        ids: check.ids,
        title: check.title,
        severity: check.severity,
        status,
        field: hits.first().map(|h| h.field.clone()).unwrap_or_default(),
        fields: if hits.len() > 1 {
            let mut f: Vec<String> = hits.iter().map(|h| h.field.clone()).collect();
            f.dedup();
            f
        } else {
            Vec::new()
        },
        message: messages(hits),
        fix: merged_fix(hits),
        related: {
            let mut r: Vec<ObjectRef> = hits.iter().flat_map(|h| h.related.clone()).collect();
            r.sort();
            r.dedup();
            r
        },
        reason,
        count: hits.len().max(1),
        object: target,
    };
    match v.outcome {
        Ok(hits) if hits.is_empty() => tally.passed += 1,
        Ok(hits) => {
            let exception = options
                .exceptions
                .reason(check, &v.target, inventory)
                .map(str::to_string);
            match exception {
                Some(reason) => {
                    tally.excepted += 1;
                    out.findings
                        .push(finding(Status::Excepted, &hits, Some(reason), v.target));
                }
                None => {
                    tally.failed += 1;
                    out.findings
                        .push(finding(Status::Fail, &hits, None, v.target));
                }
            }
        }
        Err(e) => {
            tally.errors += 1;
            out.findings
                .push(finding(Status::Error, &[], Some(e.0), v.target));
        }
    }
}

fn messages(hits: &[Hit]) -> String {
    let mut m: Vec<&str> = hits.iter().map(|h| h.message.as_str()).collect();
    m.dedup();
    m.join("; ")
}

/// One patch when every hit has one (operations in hit order, repeats dropped), else the first
/// instruction, else none.
fn merged_fix(hits: &[Hit]) -> Option<Fix> {
    let mut ops: Vec<json_patch::PatchOperation> = Vec::new();
    let mut all_patches = !hits.is_empty();
    for h in hits {
        match &h.fix {
            Some(Fix::Patch(p)) => {
                for op in &p.0 {
                    if !ops.contains(op) {
                        ops.push(op.clone());
                    }
                }
            }
            _ => all_patches = false,
        }
    }
    if all_patches && !ops.is_empty() {
        return Some(Fix::Patch(json_patch::Patch(ops)));
    }
    hits.iter()
        .find_map(|h| match &h.fix {
            Some(Fix::Instruction(_)) => h.fix.clone(),
            _ => None,
        })
        .or_else(|| hits.iter().find_map(|h| h.fix.clone()))
}

/// Re-audits one object with every check of `options.frameworks` that judges objects one by
/// one (workload, namespace, flag and Pod Security checks): what the engine runs when an
/// object changes, before the next full audit refreshes the checks that look across objects.
/// Returns what [`audit`] would say about it from those checks: its findings and tallies.
pub fn audit_object(object: &Object, options: &Options) -> Audit {
    let mut out = Audit::default();
    if object.controlled() {
        return out;
    }
    let one = Inventory::new(vec![object.clone()]);
    let pss_cache = pss::Cache::new(&one);
    for check in catalog::checks()
        .iter()
        .filter(|c| c.in_any(&options.frameworks))
    {
        let outcome = match check.eval {
            Eval::PodSecurity { level, check: id } => pss_cache
                .verdicts(level, id)
                .into_iter()
                .next()
                .map(|v| v.outcome),
            _ => judge(check, object, &options.settings),
        };
        if let Some(outcome) = outcome {
            let v = Verdict {
                target: object.at.clone(),
                outcome,
            };
            record(&mut out, check, v, &one, options);
        }
    }
    out
}

impl Audit {
    /// Replaces what `old` (an object's [`audit_object`] before it changed; empty when it is
    /// new) said with what `new` says (empty when it was deleted): its findings and its share
    /// of the tallies. The checks that look across objects keep their last full audit's word.
    pub fn apply_delta(&mut self, old: &Audit, new: Audit) {
        let gone: std::collections::HashSet<(&str, &ObjectRef)> =
            old.findings.iter().map(|f| (f.check, &f.object)).collect();
        if !gone.is_empty() {
            self.findings
                .retain(|f| !gone.contains(&(f.check, &f.object)));
        }
        for (check, by_ns) in &old.tallies {
            for (ns, t) in by_ns {
                if let Some(mine) = self.tallies.get_mut(check).and_then(|m| m.get_mut(ns)) {
                    mine.passed = mine.passed.saturating_sub(t.passed);
                    mine.failed = mine.failed.saturating_sub(t.failed);
                    mine.excepted = mine.excepted.saturating_sub(t.excepted);
                    mine.errors = mine.errors.saturating_sub(t.errors);
                }
            }
        }
        for (check, by_ns) in new.tallies {
            for (ns, t) in by_ns {
                self.tallies
                    .entry(check)
                    .or_default()
                    .entry(ns)
                    .or_default()
                    .add(t);
            }
        }
        self.findings.extend(new.findings);
    }
}

/// The outcome of an object-level check, for callers that re-audit one object (the engine).
pub fn judge(check: &Check, object: &Object, settings: &Settings) -> Option<Outcome> {
    match check.eval {
        Eval::Object { kinds, check: f } if kinds.contains(&object.kind()) => {
            Some(f(object, settings))
        }
        Eval::Flag(rule) if crate::checks::flags::is_component(object, rule.component) => {
            Some(crate::checks::flags::judge(rule, object, settings))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, privileged: bool) -> Object {
        Object::new(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "a"},
                   "spec": {"containers": [{"name": "c", "image": "x",
                            "securityContext": {"privileged": privileged}}]}}),
            None,
            0,
        )
        .expect("object")
    }

    /// What the checks that judge one object at a time say (the checks across objects wait
    /// for the next full audit).
    type Summary = (Vec<(String, String, Status)>, BTreeMap<String, Tally>);

    fn summary(a: &Audit) -> Summary {
        let one_by_one =
            |id: &str| catalog::find(id).is_some_and(|c| !matches!(c.eval, Eval::Cluster(_)));
        let mut f: Vec<_> = a
            .findings
            .iter()
            .filter(|f| one_by_one(f.check))
            .map(|f| (f.check.to_string(), f.object.to_string(), f.status))
            .collect();
        f.sort();
        let t = a
            .tallies
            .keys()
            .filter(|c| one_by_one(c))
            .map(|c| (c.to_string(), a.tally(c)))
            .filter(|(_, t)| t.judged() + t.errors > 0)
            .collect();
        (f, t)
    }

    #[test]
    fn one_object_re_audited_equals_a_full_audit() {
        let options = Options::default();
        let before = Inventory::new(vec![pod("p", true), pod("q", false)]);
        let mut live = audit(&before, &options);
        // p is fixed, q turns privileged, r is added; then q is deleted.
        let steps: Vec<(Option<Object>, Option<Object>, Vec<Object>)> = vec![
            (
                Some(pod("p", true)),
                Some(pod("p", false)),
                vec![pod("p", false), pod("q", false)],
            ),
            (
                Some(pod("q", false)),
                Some(pod("q", true)),
                vec![pod("p", false), pod("q", true)],
            ),
            (
                None,
                Some(pod("r", true)),
                vec![pod("p", false), pod("q", true), pod("r", true)],
            ),
            (
                Some(pod("q", true)),
                None,
                vec![pod("p", false), pod("r", true)],
            ),
        ];
        for (old, new, now) in steps {
            let b = old
                .as_ref()
                .map(|o| audit_object(o, &options))
                .unwrap_or_default();
            let a = new
                .as_ref()
                .map(|o| audit_object(o, &options))
                .unwrap_or_default();
            live.apply_delta(&b, a);
            let full = audit(&Inventory::new(now), &options);
            assert_eq!(summary(&live), summary(&full));
        }
    }
}
