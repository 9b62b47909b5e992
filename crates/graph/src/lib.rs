//! rampart's security graph.
pub mod connectivity;
pub mod ipset;
pub mod netpol;
pub mod ports;
pub mod rbac;
