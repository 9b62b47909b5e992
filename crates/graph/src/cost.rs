//! The disruption-cost scale of cuts (DESIGN.md "Proof, chains and the minimal cut").
//!
//! Costs are relative: the minimal cut minimises their sum. Live network denies on flows nobody
//! declared are cheapest; denying what a Service declares as its purpose is dear; identity and
//! RBAC narrowing sit in the middle; container escapes and what a node holds are never cut live.

/// Deny in-cluster ingress to a workload that no Service fronts (no declared clients).
pub const ISOLATE_UNSERVED: u32 = 2;
/// Deny in-cluster ingress to a workload that a Service fronts (declared clients exist).
pub const ISOLATE_SERVED: u32 = 6;
/// Contain a foothold's in-cluster egress (keep DNS and the internet).
pub const CONTAIN_EGRESS: u32 = 5;
/// Deny a workload's egress to the internet (keep DNS and the cluster): a flow nobody declared,
/// as cheap as isolating an unserved workload (hardened clusters deny it by default and
/// allow-list the exceptions).
pub const DENY_INTERNET_EGRESS: u32 = 2;
/// Turn off the ServiceAccount token automount (the ServiceAccount holds no permissions).
pub const AUTOMOUNT_OFF: u32 = 4;
/// Turn off the token automount of a pod whose ServiceAccount holds permissions (it probably
/// talks to the API server: narrowing the binding usually hurts less).
pub const AUTOMOUNT_OFF_USED: u32 = 7;
/// Narrow a NetworkPolicy rule that explicitly admits the flow.
pub const NARROW_POLICY: u32 = 6;
/// Deny, in an AdminNetworkPolicy ahead of the ones that judge the flow, what the step's
/// sources send a workload: as narrow as narrowing the rule that admits it, but it overrides
/// what the platform's admin policies decided.
pub const ADMIN_DENY: u32 = 6;
/// Narrow an RBAC binding.
pub const NARROW_BINDING: u32 = 5;
/// Delete a legacy ServiceAccount token Secret.
pub const DELETE_TOKEN_SECRET: u32 = 5;
/// Remove a Secret mount or reference.
pub const REMOVE_MOUNT: u32 = 6;
/// Deny external sources at the workload (the exposure is the service's purpose).
pub const EXTERNAL_DENY: u32 = 10;
/// Remove the exposure itself (Service type, Ingress rule, hostPort).
pub const EXPOSURE_DURABLE: u32 = 12;
