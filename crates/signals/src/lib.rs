//! rampart's *detect* layer, pure: outside runtime data turned into evidence.
//!
//! * [`falco`]: Falco alerts (Falco's JSON output, falcosidekick's webhook), bounded;
//! * [`guard`]: request-guard events (a gate's alerts and pod alert, from `rampart learner`);
//! * [`audit`]: kube-apiserver audit events (`audit.k8s.io/v1`, `v1beta1`), filtered to the
//!   one kind of event that is evidence here: a ServiceAccount reading Secrets;
//! * [`behaviour`]: alerts normalised to behaviours by rule name and tags (configurable);
//! * [`observe`]: observations — a behaviour, who showed it, when — attributed to workloads
//!   and kept in an expiring store;
//! * [`corroborate`]: which proven chains an observation corroborates;
//! * [`kev`], [`epss`] and [`vulns`]: the CISA KEV catalogue, FIRST's EPSS scores and
//!   trivy-operator VulnerabilityReports, joined into [`foothold`]s.
//!
//! No I/O, no clock (`now` is passed in), no async. Every parser bounds what it keeps, returns
//! an error instead of panicking, and never keeps a Secret's value (audit events carry names;
//! request and response bodies are skipped unread).

pub mod audit;
pub mod behaviour;
pub mod bounded;
pub mod corroborate;
pub mod epss;
pub mod falco;
pub mod foothold;
pub mod guard;
pub mod kev;
pub mod observe;
pub mod vulns;
