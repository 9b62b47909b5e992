//! What a check is (its ids, title, severity, frameworks and how it evaluates) and what it
//! says about one object: [`Hit`]s, each a failing field with its fix.

use std::fmt;

use serde::Serialize;

use crate::inventory::Inventory;
use crate::object::{Object, ObjectRef};
use crate::settings::Settings;

/// A compliance framework `rampart audit` reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framework {
    /// CIS Kubernetes Benchmark (§5 policies; §1 control-plane flags from static Pods).
    Cis,
    /// NSA/CISA Kubernetes Hardening Guidance, as kubescape's `NSA` framework names it.
    Nsa,
    /// Pod Security Standards, baseline level.
    PssBaseline,
    /// Pod Security Standards, restricted level (baseline's checks included).
    PssRestricted,
    /// The cluster's own SecurityPolicies and ClusterSecurityPolicies, on existing objects.
    Policies,
}

impl Framework {
    /// Every framework, in report order.
    pub const ALL: [Framework; 5] = [
        Framework::Cis,
        Framework::Nsa,
        Framework::PssBaseline,
        Framework::PssRestricted,
        Framework::Policies,
    ];

    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Framework::Cis => "cis",
            Framework::Nsa => "nsa",
            Framework::PssBaseline => "pss-baseline",
            Framework::PssRestricted => "pss-restricted",
            Framework::Policies => "policies",
        }
    }

    /// Parses [`Framework::as_str`].
    pub fn parse(s: &str) -> Option<Framework> {
        Framework::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a failure is (kubescape's scale: a control's base score ≥ 9 is critical, ≥ 7 high,
/// ≥ 4 medium, else low).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Hygiene.
    Low,
    /// Weakens a defence.
    Medium,
    /// Opens a known path to privilege.
    High,
    /// Gives the cluster or a node away.
    Critical,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// The framework ids one check answers.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Ids {
    /// CIS Kubernetes Benchmark v1.12 numbers, as kube-bench numbers them (`5.2.2`); one check
    /// can answer several (the namespace's Pod Security level answers 5.2.2, 5.2.8, …).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub cis: &'static [&'static str],
    /// The NSA/CISA guidance control, as kubescape's NSA framework names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nsa: Option<&'static str>,
    /// kubescape control ids (`C-0057`); one rule can answer several controls.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub kubescape: &'static [&'static str],
    /// Pod Security Standards check (`privileged`, `runAsNonRoot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pss: Option<&'static str>,
}

/// How to fix one failure.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fix {
    /// An RFC 6902 patch of the object.
    Patch(json_patch::Patch),
    /// What to do, in words (no patch can decide it).
    Instruction(String),
}

/// One failing field of one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Dotted path of the failing field (`spec.containers[0].securityContext.privileged`).
    pub field: String,
    /// What is wrong, in words (never a value read from the object: it may be a secret).
    pub message: String,
    /// How to fix it, when known.
    pub fix: Option<Fix>,
    /// Other objects that make up the failure (the binding and role of a subject, the Service
    /// that exposes a workload).
    pub related: Vec<ObjectRef>,
}

impl Hit {
    /// A hit with a message and no fix.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Hit {
        Hit {
            field: field.into(),
            message: message.into(),
            fix: None,
            related: Vec::new(),
        }
    }

    /// With a fix.
    pub fn fix(mut self, fix: Option<Fix>) -> Hit {
        self.fix = fix;
        self
    }

    /// With an instruction as its fix.
    pub fn instruct(self, text: impl Into<String>) -> Hit {
        self.fix(Some(Fix::Instruction(text.into())))
    }

    /// With related objects.
    pub fn related(mut self, related: Vec<ObjectRef>) -> Hit {
        self.related = related;
        self
    }
}

/// Why a check could not evaluate an object (its shape is not what its kind promises).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckError(pub String);

/// A check's verdict on one object it applies to: its failures (empty: passed).
pub type Outcome = Result<Vec<Hit>, CheckError>;

/// A verdict on one target of a cluster-wide check.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The object (or synthesized subject) judged.
    pub target: ObjectRef,
    /// Its failures (empty: passed) or why it could not be judged.
    pub outcome: Outcome,
}

/// How a check evaluates.
#[derive(Clone, Copy)]
pub enum Eval {
    /// Each object of these kinds on its own.
    Object {
        /// The kinds it applies to.
        kinds: &'static [&'static str],
        /// The check.
        check: fn(&Object, &Settings) -> Outcome,
    },
    /// Sees every object; returns a verdict per target it applies to.
    Cluster(fn(&Inventory, &Settings) -> Vec<Verdict>),
    /// One control-plane flag rule, on the component's static Pod.
    Flag(&'static crate::checks::flags::FlagRule),
    /// One Pod Security Standards check, evaluated by the admission code at its level.
    PodSecurity {
        /// The level whose evaluation reports it.
        level: rampart_policy::pss::Level,
        /// The upstream check id (`privileged`).
        check: &'static str,
    },
}

impl fmt::Debug for Eval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Eval::Object { kinds, .. } => write!(f, "Object({kinds:?})"),
            Eval::Cluster(_) => f.write_str("Cluster"),
            Eval::Flag(r) => write!(f, "Flag({})", r.flag),
            Eval::PodSecurity { level, check } => {
                write!(f, "PodSecurity({}, {check})", level.as_str())
            }
        }
    }
}

/// One check of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// rampart's id (`privileged-container`).
    pub id: &'static str,
    /// What it ensures.
    pub title: &'static str,
    /// How bad a failure is.
    pub severity: Severity,
    /// The framework ids it answers.
    pub ids: Ids,
    /// The frameworks it belongs to.
    pub frameworks: &'static [Framework],
    /// How it evaluates.
    pub eval: Eval,
}

impl Check {
    /// Whether it belongs to any of `frameworks`.
    pub fn in_any(&self, frameworks: &[Framework]) -> bool {
        self.frameworks.iter().any(|f| frameworks.contains(f))
    }
}
