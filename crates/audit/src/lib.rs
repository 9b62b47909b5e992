//! rampart's compliance audit, pure: the CIS Kubernetes Benchmark (§5, and §1 flags read from
//! the control plane's static Pods), the NSA/CISA hardening guidance and the Pod Security
//! Standards, checked over API objects. Input is objects (from files or the live model), output
//! is findings and scores; reading files, printing reports and writing PolicyReports belong to
//! the callers.
//!
//! * [`object`] and [`inventory`]: the audited objects (a Secret's values are dropped when read);
//! * [`check`]: what a check is, and what it says ([`check::Hit`]);
//! * [`catalog`]: every check, with the framework ids it answers;
//! * [`checks`]: the implementations; [`pss`]: the Pod Security frameworks, evaluated by the
//!   admission code (`rampart_policy::pss`, one implementation);
//! * [`run`]: the audit itself, findings and tallies; [`exceptions`]: accepted failures;
//! * [`settings`]: the values checks compare against, kubescape's defaults;
//! * [`fix`]: fixes as JSON patches.
//!
//! Findings count failures as the upstream rules count alerts (one per failing container, per
//! granting binding, …), so the corpus of kubescape's own rule tests can judge them.

pub mod catalog;
pub mod check;
pub mod checks;
pub mod exceptions;
pub mod fix;
pub mod inventory;
pub mod object;
pub mod pss;
pub mod run;
pub mod settings;

pub use check::{Check, Fix, Framework, Severity};
pub use inventory::Inventory;
pub use object::{Object, ObjectRef};
pub use run::{Audit, Finding, Options, Status, audit};
