//! rampart's live engine: the edge crate that owns the watch → re-prove → act loop against a
//! cluster. It wires the adapters and the pure core together — `rampart-kube` (watchers, the
//! Mitigation ledger, leader election), `rampart-respond` (the engine core, the bar, the
//! infected-pod response), `rampart-signals` (runtime evidence, vulnerability intel) and
//! `rampart-http` (dashboard, ingest, serving limits) — and decides nothing itself.
//!
//! * [`run`] runs the engine from an [`EngineConfig`] (plain data; the binary builds it from
//!   its flags): validation, listeners, levers and leadership, the loop.
//! * [`offline`] serves the engine's dashboard over a snapshot (`rampart dashboard`).
//!
//! Modules: `config` (settings, validation), `run` (start-up and the loop), `ledger`
//! (reconciliation, actuation, expiry and retirement), `levers` (permissions, leadership),
//! `infected` and `pods` (the infected-pod response), `signals` (evidence and intel),
//! `publish` (dashboard findings, Kubernetes Events), `listen` (listeners), `clock`, `audit`
//! (the live compliance audit and its PolicyReports), `guard` (the request guard's pages),
//! [`judge`] (model adjudication: the Chat Completions client and the task beside the loop),
//! `notify` (notifications: one task per destination, batched, rate-limited, retried),
//! `netpol` (flows collected, the plan made again when due) and `rollout` (the `netpol` action
//! class: the plan applied step by step, reverted on drops).

mod audit;
mod clock;
mod config;
mod error;
mod guard;
mod infected;
pub mod judge;
mod ledger;
mod levers;
mod listen;
mod netpol;
mod notify;
pub mod offline;
mod pods;
mod publish;
mod rollout;
mod run;
mod signals;

pub use audit::AuditSettings;
pub use config::{EngineConfig, NetpolConfig};
pub use error::Error;
pub use judge::ModelSettings;
pub use notify::NotifySettings;
pub use run::run;
