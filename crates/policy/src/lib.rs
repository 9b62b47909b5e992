//! rampart's admission decisions, pure: Pod Security Standards ([`pss`]) check for check as
//! upstream Pod Security Admission, SecurityPolicy conditions, and mutations as RFC 6902
//! patches; request-guard injection ([`inject`]); rules written in CEL ([`cel_rules`]), on any
//! kind, with their params and the cluster objects they read ([`store`]); image signature rules
//! ([`images`]: which images need verifying, what the verdicts mean). Input is data
//! (objects, namespace labels, policies); output is a decision. No I/O.

pub mod cel_rules;
pub mod conditions;
pub mod defaults;
pub mod gatekeeper;
pub mod images;
pub mod inject;
pub mod mutate;
pub mod object;
pub mod offline;
pub mod pss;
pub mod review;
pub mod source;
pub mod store;
pub mod vap;
