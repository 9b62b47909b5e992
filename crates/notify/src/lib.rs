//! rampart's notifications, pure (no I/O, no clock: time is passed in as Unix seconds).
//!
//! * [`notice`]: what is worth telling — a new chain, a corroborated chain, a mitigation
//!   applied / reverted / failed, a break-glass change, a request-guard block — bounded and
//!   stripped of control characters (cluster-supplied text goes to chat rooms).
//! * [`batch`]: per destination, notices gathered for a window and sent together, at most so
//!   many batches a minute; a full queue drops the oldest and counts it.
//! * [`render`]: the three wire formats — a generic JSON webhook signed with HMAC-SHA256, a
//!   Slack-compatible incoming webhook, CloudEvents 1.0 over HTTP (batched content mode) —
//!   and the signature receivers verify.

pub mod batch;
pub mod notice;
pub mod render;

pub use batch::{Batcher, Limits};
pub use notice::{Kind, Notice, Severity};
pub use render::{Format, Rendered, Sink, SinkError, Target, redact, render, sign, verify};
