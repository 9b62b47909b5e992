//! rampart's output contracts and renderers.
//!
//! [`scan::ScanReport`] is the machine contract of `rampart scan --format json`
//! (`schema: rampart.dev/scan/v1`); the engine serves the same document. [`table`] renders it
//! for people, [`sarif`] for code-scanning tools. [`audit::AuditReport`] is the contract of
//! `rampart audit --format json` (`schema: rampart.dev/audit/v1`), with its table, SARIF,
//! JUnit and HTML renderers. Renderers are pure: they return strings.
//!
//! Human text carries attacker-chosen names: [`text::display_safe`] (and [`text::Safe`]) is
//! the one place that decides how control and bidi characters are shown, for every human
//! format here and in the binary.

pub mod audit;
pub mod sarif;
pub mod scan;
pub mod table;
pub mod text;

pub use scan::{InputSummary, ScanReport};
pub use text::{Safe, display_safe, is_unsafe_char};
