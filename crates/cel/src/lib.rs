//! rampart's CEL: the expressions users write in SecurityPolicy rules (and ValidatingAdmissionPolicy
//! users in theirs), compiled once when a policy changes and evaluated per request.
//!
//! The crate owns three things and no I/O:
//! * **compiling** ([`Expression::compile`]): parsing with the `cel` crate, then a static check
//!   of what the evaluator could not bear — an expression too long, too many terms,
//!   comprehensions nested too deep, a variable nothing binds, constructs the evaluator does not
//!   support — each refused with its position and reason;
//!   Each expression is also lowered once into a **plan** (`plan`): variables resolved to
//!   slots, fields to keys, the common functions to direct calls, calls on literals worked out;
//!   what a plan cannot express runs in the `cel` crate's interpreter, and a plan answers
//!   exactly as the interpreter does (a differential test, the `cel` fuzz target, and the
//!   `cross-check` feature the policy crate's tests turn on);
//! * **binding** ([`Activation`]): JSON objects (the admitted object, the old one, the request,
//!   the namespace, parameters) read once per request onto a flat tape (`doc`) that plans read
//!   in place, with the size of the largest collection they hold; the interpreter's values are
//!   made from it only when an expression without a plan needs them. A [`Document`] is such a
//!   tape on its own, and a member of one is a document too ([`Document::member`], with its own
//!   text and sizes): the webhook reads a whole AdmissionReview once, its objects nodes of that
//!   tape, and the policy crate deserializes typed objects from them (`typed`: a serde
//!   `Deserializer` that shows a type what serde_json's reader would);
//! * **evaluating** ([`Scope`]): with Kubernetes' CEL libraries (`quantity`, `url`, `ip`/`cidr`,
//!   regular expressions, `lists`, `sets`, `format`, …, from `kube-cel`), under a cost budget
//!   checked before anything runs: an expression's worst case over the sizes of this request's
//!   inputs ([`Expression::cost_bound`]: every comprehension's body once per element of what it
//!   walks) must stay within [`COST_LIMIT`] (the API server's per-expression limit), so a huge
//!   list in a request can never make an evaluation run away.

mod compile;
mod cost;
mod doc;
mod eval;
mod plan;
mod typed;
mod val;
mod value;

pub use cel::Value;
pub use cel::objects::{Key, Map};
pub use compile::{CompileError, Expression};
pub use cost::Sizes;
pub use eval::{EvalError, Scope, agree, env};
pub use value::{Activation, Document, Prepared};

/// The variables a request binds once, the same for every rule and policy; a policy adds
/// `variables`, and `params` or `inventory` when it declares them.
pub const REQUEST_VARIABLES: &[&str] = &["object", "oldObject", "request", "namespaceObject"];

/// Every variable an admission expression may name (a SecurityPolicy rule's, a
/// ValidatingAdmissionPolicy's).
pub const ADMISSION_VARIABLES: &[&str] = &[
    "object",
    "oldObject",
    "request",
    "namespaceObject",
    "params",
    "variables",
    "inventory",
];

/// The longest expression accepted, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 10 * 1024;
/// The most terms (AST nodes) an expression may have.
pub const MAX_TERMS: u32 = 4_000;
/// The deepest nesting of comprehensions (`all`, `exists`, `map`, `filter`, …).
pub const MAX_NESTING: u32 = 3;
/// The worst-case cost an evaluation may have ([`Expression::cost_bound`]): the API server's
/// per-expression runtime cost limit.
pub const COST_LIMIT: u64 = 1_000_000;
