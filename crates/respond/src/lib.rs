//! rampart's respond layer, pure (no I/O, no clock: time is passed in as Unix seconds).
//!
//! * [`arming`]: the arming ladder (a class's stage per namespace) and the shadow history.
//! * [`actuator`]: which writer realises actions; anything unknown fails safe to dry-run.
//! * [`engine`]: the model kept current by changes, re-proof and the change report.
//! * [`brake`]: break-glass — whether acting stops, whether everything is withdrawn.
//! * [`bar`]: the asymmetric action bar of DESIGN.md and its circuit breaker.
//! * [`ledger`]: the `Mitigation` lifecycle as one step function over events.
//! * [`reconcile`]: start-up drift repair between applied objects and ledger records.
//! * [`retire`]: whether a mitigation is still needed (re-prove without it).
//! * [`rollout`]: the `netpol` class — a proven NetworkPolicy plan applied step by step, rolled
//!   back when traffic is dropped under it.

pub mod actuator;
pub mod arming;
pub mod bar;
pub mod brake;
pub mod engine;
pub mod infected;
pub mod ledger;
pub mod reconcile;
pub mod retire;
pub mod rollout;

/// Label on every object rampart applies; its value is the owning Mitigation's name.
pub const MANAGED_BY_LABEL: &str = "rampart.dev/mitigation";
