//! Model adjudication, pure: proof winnows, a model judges.
//!
//! A proven chain becomes [`Facts`] — its entry, steps, evidence, CVEs and runtime behaviours,
//! every cluster-supplied string bounded and quoted — and a [`Prompt`] that carries them as a
//! data block the model is told never to obey. The answer is accepted only if it
//! [parses strictly](answer::parse_reply) into a verdict; anything else is an error the caller
//! counts and turns into `unknown`. Verdicts are kept in a [`Cache`] keyed by chain id and the
//! hash of the facts, so a changed step asks again.
//!
//! Nothing here talks to a model or reads a clock: the HTTP client lives in the engine crate
//! and time is passed in.

pub mod answer;
pub mod cache;
pub mod facts;
pub mod prompt;

pub use answer::{AnswerError, parse_reply};
pub use cache::{Cache, CacheKey};
pub use facts::Facts;
pub use prompt::{Prompt, request_body};
pub use rampart_report::scan::{Judgement, Verdict};

/// A judgement standing in for an answer that never came (`unknown`, with why).
pub fn unanswered(model: &str, why: impl Into<String>) -> Judgement {
    Judgement {
        verdict: Verdict::Unknown,
        confidence: 0.0,
        reason: String::new(),
        steps: Vec::new(),
        model: model.to_string(),
        error: Some(why.into()),
    }
}
