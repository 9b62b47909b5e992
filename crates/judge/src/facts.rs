//! What the model is told about a chain: the proof's facts only, every string bounded.
//!
//! Names, labels, image names, CVE titles and Falco output are written by whoever controls the
//! cluster objects or the workload — an attacker included. They are kept as JSON string values
//! (never spliced into instructions), cut to [`MAX_STRING`] characters, with invisible and
//! control characters replaced, and lists are capped; what the caps leave out is counted in
//! `omitted`. Secret values never reach a chain, so they cannot reach a prompt.

use std::hash::{Hash, Hasher};

use rampart_report::scan::ChainOut;
use serde::Serialize;

/// Longest cluster-supplied string kept, in characters.
pub const MAX_STRING: usize = 160;
/// Most steps kept (real chains are a handful long).
pub const MAX_STEPS: usize = 24;
/// Most evidence items kept per step.
pub const MAX_EVIDENCE: usize = 6;
/// Most vulnerabilities kept.
pub const MAX_VULNERABILITIES: usize = 8;
/// Most runtime behaviours kept.
pub const MAX_RUNTIME: usize = 8;

/// One chain's facts, in the order and shape the model reads them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    /// The chain's id (rampart's own, not cluster text).
    pub chain: String,
    /// Where the internet gets in.
    pub entry: EntryFact,
    /// What the chain ends at.
    pub target: String,
    /// The steps after the entry.
    pub steps: Vec<StepFact>,
    /// Vulnerabilities of the entry workload (trivy-operator reports, CISA KEV).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vulnerabilities: Vec<VulnerabilityFact>,
    /// Runtime behaviours seen on the chain (Falco, audit events, the request guard).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runtime: Vec<RuntimeFact>,
    /// Items left out by the caps.
    #[serde(skip_serializing_if = "is_zero")]
    pub omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The entry step (`s0`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryFact {
    /// Step id.
    pub id: &'static str,
    /// The exposing object.
    pub object: String,
    /// How it is exposed (`LoadBalancer`, `Ingress`, …).
    pub exposed_as: String,
    /// Port, host and path.
    pub detail: String,
}

/// One step (`s1`, `s2`, …).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepFact {
    /// Step id.
    pub id: String,
    /// Relation (`routes-to`, `network`, `reads-secret`, …).
    pub relation: String,
    /// From.
    pub from: String,
    /// To.
    pub to: String,
    /// Ports, for network steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<String>,
    /// The objects and fields that prove it.
    pub evidence: Vec<String>,
}

/// One vulnerability at the entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VulnerabilityFact {
    /// CVE id.
    pub cve: String,
    /// Severity.
    pub severity: String,
    /// Listed in CISA's Known Exploited Vulnerabilities catalogue.
    pub known_exploited: bool,
    /// FIRST's EPSS probability of exploitation in the next 30 days, when scored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epss: Option<f64>,
    /// Package and version.
    pub package: String,
    /// Image.
    pub image: String,
    /// Why it is a foothold.
    pub note: String,
}

/// One runtime behaviour seen on the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuntimeFact {
    /// Behaviour.
    pub behaviour: String,
    /// Who showed it.
    pub subject: String,
    /// The step's object it was seen at.
    pub at: String,
    /// What was seen (alert text: attacker-influenced).
    pub summary: String,
    /// Times seen.
    pub count: u64,
}

/// `s` bounded to [`MAX_STRING`] characters, invisible and control characters replaced by
/// U+FFFD (they could hide text from a human reading the prompt, or reorder it).
pub fn bounded(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_STRING * 4));
    for (i, c) in s.chars().enumerate() {
        if i == MAX_STRING {
            out.push('…');
            break;
        }
        out.push(if rampart_report::is_unsafe_char(c) {
            '\u{fffd}'
        } else {
            c
        });
    }
    out
}

/// The first `max` items, counting the rest in `omitted`.
fn capped<T, U>(items: &[T], max: usize, omitted: &mut usize, f: impl FnMut(&T) -> U) -> Vec<U> {
    *omitted += items.len().saturating_sub(max);
    items.iter().take(max).map(f).collect()
}

impl Facts {
    /// The facts of one chain of the scan contract.
    pub fn of(c: &ChainOut) -> Facts {
        let mut omitted = 0;
        let entry = EntryFact {
            id: "s0",
            object: bounded(&c.entry.object.object.to_string()),
            exposed_as: bounded(&c.entry.endpoint),
            detail: bounded(&c.entry.detail),
        };
        let mut steps = Vec::with_capacity(c.steps.len().min(MAX_STEPS));
        for (i, s) in c.steps.iter().enumerate() {
            if i == MAX_STEPS {
                omitted += c.steps.len() - MAX_STEPS;
                break;
            }
            steps.push(StepFact {
                id: format!("s{}", i + 1),
                relation: bounded(&s.edge),
                from: bounded(&s.from.to_string()),
                to: bounded(&s.to.to_string()),
                ports: s.ports.as_deref().map(bounded),
                evidence: capped(&s.evidence, MAX_EVIDENCE, &mut omitted, |e| {
                    bounded(&format!("{} {}", e.object, e.field))
                }),
            });
        }
        let vulnerabilities = match &c.foothold {
            Some(f) => capped(&f.exploits, MAX_VULNERABILITIES, &mut omitted, |e| {
                VulnerabilityFact {
                    cve: bounded(&e.cve),
                    severity: format!("{:?}", e.severity),
                    known_exploited: e.kev,
                    epss: e.epss.map(|s| s.epss),
                    package: bounded(&e.package),
                    image: bounded(&e.image),
                    note: bounded(&e.why),
                }
            }),
            None => Vec::new(),
        };
        let runtime = capped(&c.evidence, MAX_RUNTIME, &mut omitted, |e| RuntimeFact {
            behaviour: bounded(e.behaviour),
            subject: bounded(&e.subject),
            at: bounded(&e.at),
            summary: bounded(&e.summary),
            count: e.count,
        });
        Facts {
            chain: bounded(&c.id),
            entry,
            target: bounded(&c.target.to_string()),
            steps,
            vulnerabilities,
            runtime,
            omitted,
        }
    }

    /// The step ids a verdict may cite: `s0` (the entry), `s1`, ….
    pub fn step_ids(&self) -> Vec<String> {
        std::iter::once(self.entry.id.to_string())
            .chain(self.steps.iter().map(|s| s.id.clone()))
            .collect()
    }

    /// Whether the entry has a vulnerability (a foothold): the only chains a judgement may
    /// ever be acted on for.
    pub fn has_foothold(&self) -> bool {
        !self.vulnerabilities.is_empty()
    }

    /// A hash of everything the model is shown: a changed step, CVE or behaviour changes it,
    /// so the cached verdict no longer applies. Stable within a process (the cache is never
    /// persisted).
    pub fn hash(&self) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        self.to_json().hash(&mut h);
        h.finish()
    }

    /// The facts as JSON, with `<` and `>` escaped (`\u003c`, `\u003e`) so no string can
    /// close the prompt's data block. They only ever occur inside string values, where the
    /// escape is the same text to a JSON reader.
    pub fn to_json(&self) -> String {
        let json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.replace('<', "\\u003c").replace('>', "\\u003e")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_bounded_and_invisible_characters_replaced() {
        let long = "a".repeat(10_000);
        let b = bounded(&long);
        assert_eq!(b.chars().count(), MAX_STRING + 1);
        assert!(b.ends_with('…'));
        assert_eq!(
            bounded("x\u{202e}y\nz\u{1b}"),
            "x\u{fffd}y\u{fffd}z\u{fffd}"
        );
        assert_eq!(bounded("ünïcode ok"), "ünïcode ok");
    }
}
