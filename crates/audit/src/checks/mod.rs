//! The checks' implementations, by what they read: one workload's pod ([`workload`]), RBAC
//! subjects ([`rbac`]), namespaces and cluster-wide objects ([`cluster`]) and credentials in
//! configuration ([`credentials`]) the control plane's flags ([`flags`]) and the cluster's own
//! SecurityPolicies ([`policies`]).

pub mod cluster;
pub mod credentials;
pub mod flags;
pub mod policies;
pub mod rbac;
pub mod workload;
