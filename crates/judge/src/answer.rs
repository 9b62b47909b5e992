//! The model's answer, accepted only if it parses strictly.
//!
//! The Chat Completions envelope is read leniently (servers add their own fields); the verdict
//! inside it is not: exactly the four fields, a known verdict, a confidence in 0..=1, a reason
//! of at most [`MAX_REASON`] characters without control characters, and only step ids the
//! chain has. One surrounding Markdown code fence is tolerated (small local models add it
//! even when asked not to); nothing else is.

use serde::Deserialize;

use crate::prompt::MAX_REASON;
use crate::{Judgement, Verdict};

/// Longest error text kept (serde's messages quote the input).
const MAX_ERROR: usize = 200;
/// Most step ids a verdict may cite.
const MAX_STEPS: usize = 64;

/// Why an answer was not accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnswerError {
    /// Not a Chat Completions response.
    #[error("not a chat completion: {0}")]
    Envelope(String),
    /// No choice, or a choice without a message.
    #[error("the answer has no message")]
    NoMessage,
    /// The model refused.
    #[error("the model refused: {0}")]
    Refusal(String),
    /// Cut off at the token limit.
    #[error("the answer was cut off at the token limit")]
    Truncated,
    /// The content is not the verdict object.
    #[error("the verdict does not parse: {0}")]
    Verdict(String),
    /// Confidence outside 0..=1 (or not finite).
    #[error("confidence {0} is outside 0..1")]
    Confidence(f64),
    /// The reason is too long.
    #[error("the reason has {0} characters (at most {MAX_REASON})")]
    ReasonTooLong(usize),
    /// The reason has control or invisible characters.
    #[error("the reason has control or invisible characters")]
    ReasonCharacters,
    /// A step id the chain does not have.
    #[error("the answer cites step {0:?}, which the chain does not have")]
    UnknownStep(String),
    /// Too many step ids.
    #[error("the answer cites more than {MAX_STEPS} steps")]
    TooManySteps,
}

impl AnswerError {
    /// A label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            AnswerError::Envelope(_) => "envelope",
            AnswerError::NoMessage => "no_message",
            AnswerError::Refusal(_) => "refusal",
            AnswerError::Truncated => "truncated",
            AnswerError::Verdict(_) => "verdict",
            AnswerError::Confidence(_) => "confidence",
            AnswerError::ReasonTooLong(_) | AnswerError::ReasonCharacters => "reason",
            AnswerError::UnknownStep(_) | AnswerError::TooManySteps => "steps",
        }
    }
}

fn cut(s: &str) -> String {
    crate::facts::bounded(&s.chars().take(MAX_ERROR).collect::<String>())
}

#[derive(Deserialize)]
struct Envelope {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<Message>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
    refusal: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    verdict: Verdict,
    confidence: f64,
    reason: String,
    steps: Vec<String>,
}

/// The content without one surrounding Markdown code fence.
fn unfenced(content: &str) -> &str {
    let t = content.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    match rest.strip_suffix("```") {
        Some(inner) => inner.trim(),
        None => t,
    }
}

/// The verdict in a Chat Completions response `body`, for a chain with `step_ids`, answered
/// by `model`.
pub fn parse_reply(
    body: &[u8],
    step_ids: &[String],
    model: &str,
) -> Result<Judgement, AnswerError> {
    let env: Envelope =
        serde_json::from_slice(body).map_err(|e| AnswerError::Envelope(cut(&e.to_string())))?;
    let choice = env
        .choices
        .into_iter()
        .next()
        .ok_or(AnswerError::NoMessage)?;
    let msg = choice.message.ok_or(AnswerError::NoMessage)?;
    if let Some(r) = msg.refusal.filter(|r| !r.trim().is_empty()) {
        return Err(AnswerError::Refusal(cut(&r)));
    }
    if choice.finish_reason.as_deref() == Some("length") {
        return Err(AnswerError::Truncated);
    }
    let content = msg.content.ok_or(AnswerError::NoMessage)?;
    parse_verdict(unfenced(&content), step_ids, model)
}

/// The verdict object itself (the message content).
pub fn parse_verdict(
    content: &str,
    step_ids: &[String],
    model: &str,
) -> Result<Judgement, AnswerError> {
    let raw: Raw =
        serde_json::from_str(content).map_err(|e| AnswerError::Verdict(cut(&e.to_string())))?;
    if !raw.confidence.is_finite() || !(0.0..=1.0).contains(&raw.confidence) {
        return Err(AnswerError::Confidence(raw.confidence));
    }
    let n = raw.reason.chars().count();
    if n > MAX_REASON {
        return Err(AnswerError::ReasonTooLong(n));
    }
    // Line breaks are how models wrap text; every other control or invisible character is
    // refused (it could hide or reorder what an operator reads).
    let reason: String = raw
        .reason
        .chars()
        .map(|c| {
            if matches!(c, '\n' | '\r' | '\t') {
                ' '
            } else {
                c
            }
        })
        .collect();
    if reason.chars().any(rampart_report::is_unsafe_char) {
        return Err(AnswerError::ReasonCharacters);
    }
    if raw.steps.len() > MAX_STEPS {
        return Err(AnswerError::TooManySteps);
    }
    let mut steps: Vec<String> = Vec::with_capacity(raw.steps.len());
    for s in raw.steps {
        if !step_ids.contains(&s) {
            return Err(AnswerError::UnknownStep(cut(&s)));
        }
        if !steps.contains(&s) {
            steps.push(s);
        }
    }
    Ok(Judgement {
        verdict: raw.verdict,
        confidence: raw.confidence,
        reason: reason.trim().to_string(),
        steps,
        model: model.to_string(),
        error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        ["s0", "s1", "s2"].iter().map(|s| s.to_string()).collect()
    }

    fn reply(content: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "id": "x", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                "finish_reason": "stop"}],
            "usage": {"total_tokens": 3}
        }))
        .unwrap()
    }

    #[test]
    fn a_well_formed_verdict_is_accepted() {
        let j = parse_reply(
            &reply(r#"{"verdict":"exploitable","confidence":0.8,"reason":"log4j logs the\nheader","steps":["s0","s1","s0"]}"#),
            &ids(),
            "m",
        )
        .unwrap();
        assert_eq!(j.verdict, Verdict::Exploitable);
        assert_eq!(j.reason, "log4j logs the header");
        assert_eq!(j.steps, ["s0", "s1"]);
        // One code fence is tolerated.
        let fenced =
            "```json\n{\"verdict\":\"unknown\",\"confidence\":0,\"reason\":\"\",\"steps\":[]}\n```";
        assert_eq!(
            parse_reply(&reply(fenced), &ids(), "m").unwrap().verdict,
            Verdict::Unknown
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"verdict":"exploitable","confidence":0.8,"reason":"x","steps":[],"act":true}"#,
                "verdict",
            ),
            (
                r#"{"verdict":"exploitable","confidence":0.8,"reason":"x"}"#,
                "verdict",
            ),
            (
                r#"{"verdict":"yes","confidence":0.8,"reason":"x","steps":[]}"#,
                "verdict",
            ),
            (
                r#"{"verdict":"Exploitable","confidence":0.8,"reason":"x","steps":[]}"#,
                "verdict",
            ),
            (
                r#"{"verdict":"exploitable","verdict":"unknown","confidence":0.8,"reason":"x","steps":[]}"#,
                "verdict",
            ),
            (
                r#"{"verdict":"exploitable","confidence":1.5,"reason":"x","steps":[]}"#,
                "confidence",
            ),
            (
                r#"{"verdict":"exploitable","confidence":-0.1,"reason":"x","steps":[]}"#,
                "confidence",
            ),
            (
                r#"{"verdict":"exploitable","confidence":"high","reason":"x","steps":[]}"#,
                "verdict",
            ),
            (
                r#"{"verdict":"exploitable","confidence":0.8,"reason":"x","steps":["s9"]}"#,
                "steps",
            ),
            (
                r#"{"verdict":"exploitable","confidence":0.8,"reason":"a\u202eb","steps":[]}"#,
                "reason",
            ),
            (
                r#"Sure! {"verdict":"exploitable","confidence":0.8,"reason":"x","steps":[]}"#,
                "verdict",
            ),
            ("", "verdict"),
        ];
        for (content, label) in cases {
            let e = parse_reply(&reply(content), &ids(), "m").unwrap_err();
            assert_eq!(e.label(), *label, "{content}: {e}");
        }
        let long = format!(
            r#"{{"verdict":"exploitable","confidence":0.8,"reason":"{}","steps":[]}}"#,
            "a".repeat(401)
        );
        assert_eq!(
            parse_reply(&reply(&long), &ids(), "m").unwrap_err(),
            AnswerError::ReasonTooLong(401)
        );
    }

    #[test]
    fn envelopes_that_carry_no_verdict_are_refused() {
        for (body, label) in [
            (&b"not json"[..], "envelope"),
            (br#"{"error":{"message":"overloaded"}}"#, "envelope"),
            (br#"{"choices":[]}"#, "no_message"),
            (
                br#"{"choices":[{"message":{"content":null}}]}"#,
                "no_message",
            ),
            (
                br#"{"choices":[{"message":{"content":"","refusal":"I can't help"}}]}"#,
                "refusal",
            ),
            (
                br#"{"choices":[{"message":{"content":"{\"verdict\""},"finish_reason":"length"}]}"#,
                "truncated",
            ),
        ] {
            let e = parse_reply(body, &ids(), "m").unwrap_err();
            assert_eq!(e.label(), label, "{}: {e}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn error_texts_are_bounded() {
        let content = format!(
            r#"{{"verdict":"{}","confidence":0,"reason":"","steps":[]}}"#,
            "x".repeat(5000)
        );
        let e = parse_reply(&reply(&content), &ids(), "m").unwrap_err();
        assert!(e.to_string().len() < 400, "{e}");
    }
}
