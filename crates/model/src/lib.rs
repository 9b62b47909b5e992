//! rampart's normalized cluster inventory.
//!
//! This crate owns three things, all pure (no I/O, no clock, no async):
//!
//! * **Lean object types** ([`objects`]): the subset of each Kubernetes kind that rampart reasons
//!   about. They deserialize straight from manifests, `kubectl get -o json` dumps and API
//!   objects; every other field is skipped while parsing. A `Secret` keeps its metadata only: its
//!   `data` and `stringData` are never materialised, and annotations are filtered so that
//!   `kubectl.kubernetes.io/last-applied-configuration` (which can embed a secret value) is
//!   dropped too.
//! * **The loader** ([`parse`]): text of one file → located objects plus per-document errors.
//!   YAML (multi-document) and JSON, `kind: List` and typed `*List`s, bounded sizes, never panics.
//!   Its error messages quote the input only through [`redact_excerpt`], so a token misplaced in
//!   a manifest does not end up in a log or a report.
//! * **The store** ([`Snapshot`]): objects keyed by kind/namespace/name, changed only through
//!   [`Snapshot::apply`], and the derived view of [`Workload`]s (pods grouped under their top
//!   controller, or pod templates when only manifests are given).
//!
//! Invariant: nothing in this crate stores a secret value; a workload is counted once whether
//! the input holds its controller, its pods, or both.

pub mod de;
pub mod errors;
pub mod labels;
pub mod meta;
pub mod names;
pub mod objects;
pub mod parse;
pub mod redact;
pub mod selector;
pub mod snapshot;
pub mod workload;

pub use errors::error_chain;
pub use meta::{Labels, ObjectMeta, OwnerReference};
pub use objects::{Kind, Object};
pub use parse::{
    LoadError, Located, ParseLimits, ParsedSource, RawDocument, Source, object_from_value,
    parse_source, raw_documents,
};
pub use redact::redact_excerpt;
pub use selector::{LabelSelector, Operator, Requirement, SelectorError};
pub use snapshot::{Change, ObjectKey, Snapshot};
pub use workload::{PodGroup, Workload, WorkloadId, WorkloadKind, Workloads};

/// The label that marks any object as a crown jewel (a sink of attack chains).
pub const CROWN_JEWEL_LABEL: &str = "rampart.dev/crown-jewel";
/// Annotation that declares a workload or Service reachable from outside the cluster even when
/// nothing in its spec says so (port-forwards, external load balancers managed elsewhere).
pub const EXPOSED_ANNOTATION: &str = "rampart.dev/exposed";

/// Pod-template label marking an ingress controller that the conventional names do not cover
/// (value `"true"`).
pub const INGRESS_CONTROLLER_LABEL: &str = "rampart.dev/ingress-controller";
