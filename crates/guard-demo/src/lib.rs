//! The guard's detection harness, as data: a demo API's routes ([`api`]), seeded realistic
//! benign traffic for them ([`traffic`]), and the OWASP CRS regression payloads ([`crs`])
//! placed in every string-typed location of those routes. Everything comes out as HAR 1.2, so
//! `rampart guard replay` and any other WAF (nginx + ModSecurity + CRS) judge the same
//! requests.

pub mod api;
pub mod crs;
pub mod har;
pub mod harness;
pub mod remote;
pub mod rng;
pub mod traffic;
