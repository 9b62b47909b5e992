//! Least-privilege NetworkPolicies from observed traffic, proven by rampart's own
//! reachability.
//!
//! The crate owns the whole path from a capture to a plan, as pure functions:
//! * [`read`]: flow files streamed with bounded lines, the format told from the first record —
//!   Cilium Hubble ([`hubble`]) and Inspektor Gadget ([`gadget`]) — every bad record counted;
//! * [`collect`]: flows reduced to distinct records as they arrive (endpoints interned);
//! * [`attribute`]: records → connections between workloads and external addresses through the
//!   cluster model (pod name, workload name, pod IP, Service, labels), replies folded;
//! * [`suggest`]: connections → per-workload ingress and egress allow-lists and optional
//!   namespace default-denies, with stable selectors;
//! * [`verify`]: the policies added to rampart's NetworkPolicy model — every observed connection
//!   must still pass, every other allowed one is listed with its reason, and what is closed;
//! * [`infer`]: a cluster model read off the flows, for captures without a dump;
//! * [`plan`]: the staged rollout (ingress, egress, default-deny), each step verified, and the
//!   attack chains each step breaks; its JSON contract `rampart.dev/netpol-plan/v1`;
//! * [`drops`]: a dropped flow blamed on the rollout's policies that select its pod;
//! * [`falco`]: Falco's connection events (socket fields of an alert about a pod) as flows.

pub mod attribute;
pub mod collect;
pub mod drops;
pub mod falco;
pub mod flow;
pub mod gadget;
pub mod hubble;
pub mod infer;
pub mod plan;
pub mod read;
pub mod suggest;
pub mod verify;

pub use attribute::{Cluster, Connection, Observed, Peer};
pub use collect::Collector;
pub use flow::{Direction, Endpoint, Entity, Flow, Format, Verdict};
pub use plan::{Plan, plan};
pub use read::{FlowError, ReadTally, read_flows};
pub use suggest::{Settings, Stage, Suggestion, suggest};
pub use verify::Verification;
