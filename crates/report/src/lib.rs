//! rampart's output contracts and renderers.
//!
//! [`scan::ScanReport`] is the machine contract of `rampart scan --format json`
//! (`schema: rampart.dev/scan/v1`); the engine serves the same document. [`table`] renders it
//! for people, [`sarif`] for code-scanning tools. Renderers are pure: they return strings.

pub mod sarif;
pub mod scan;
pub mod table;

pub use scan::{InputSummary, ScanReport};
