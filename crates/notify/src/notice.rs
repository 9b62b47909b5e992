//! Notices: one thing that happened, said in one line, with a few structured fields.

use serde::Serialize;

/// Longest summary kept (characters).
pub const MAX_SUMMARY: usize = 300;
/// Longest subject kept (characters).
pub const MAX_SUBJECT: usize = 253;
/// Most detail fields kept.
pub const MAX_FIELDS: usize = 12;
/// Longest detail value kept (characters).
pub const MAX_FIELD: usize = 200;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A chain proven that was not before.
    ChainNew,
    /// Runtime evidence corroborates a chain.
    ChainCorroborated,
    /// A mitigation waits for a person's approval (its class is armed `actWithApproval`).
    MitigationPending,
    /// A mitigation is in the cluster.
    MitigationApplied,
    /// A mitigation was removed (expired, retired, withdrawn).
    MitigationReverted,
    /// Applying (or removing) a mitigation failed.
    MitigationFailed,
    /// Break-glass engaged or released.
    BreakGlass,
    /// A request guard blocked requests.
    GuardBlock,
}

impl Kind {
    /// Every kind, in order.
    pub const ALL: [Kind; 8] = [
        Kind::ChainNew,
        Kind::ChainCorroborated,
        Kind::MitigationPending,
        Kind::MitigationApplied,
        Kind::MitigationReverted,
        Kind::MitigationFailed,
        Kind::BreakGlass,
        Kind::GuardBlock,
    ];

    /// The kebab-case name (`--notify-on`, the JSON `kind`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::ChainNew => "chain-new",
            Kind::ChainCorroborated => "chain-corroborated",
            Kind::MitigationPending => "mitigation-pending",
            Kind::MitigationApplied => "mitigation-applied",
            Kind::MitigationReverted => "mitigation-reverted",
            Kind::MitigationFailed => "mitigation-failed",
            Kind::BreakGlass => "break-glass",
            Kind::GuardBlock => "guard-block",
        }
    }

    /// The kind a name means.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The CloudEvents `type` (reverse-DNS, as the spec recommends).
    pub fn event_type(self) -> String {
        format!("dev.rampart.{}", self.name().replace('-', "."))
    }
}

/// How loud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For the record.
    Info,
    /// Someone should look.
    Warning,
    /// Someone should look now.
    Critical,
}

/// One notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// Unique and stable for the same happening (receivers de-duplicate by it).
    pub id: String,
    pub kind: Kind,
    pub severity: Severity,
    /// When (Unix seconds).
    pub at: u64,
    /// What it is about: a chain id, `namespace/name` of a mitigation, a BreakGlass name.
    pub subject: String,
    /// One line for people.
    pub summary: String,
    /// A few fields for machines (bounded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<(String, String)>,
}

impl Notice {
    /// A notice with its text bounded and cleaned; the id is derived from the kind, subject
    /// and time, so the same happening seen twice has one id.
    pub fn new(kind: Kind, severity: Severity, at: u64, subject: &str, summary: &str) -> Notice {
        let subject = clean(subject, MAX_SUBJECT);
        Notice {
            id: id(kind, &subject, at),
            kind,
            severity,
            at,
            subject,
            summary: clean(summary, MAX_SUMMARY),
            fields: Vec::new(),
        }
    }

    /// Adds a field (beyond [`MAX_FIELDS`], ignored).
    #[must_use]
    pub fn field(mut self, name: &str, value: &str) -> Notice {
        if self.fields.len() < MAX_FIELDS {
            self.fields.push((clean(name, 64), clean(value, MAX_FIELD)));
        }
        self
    }
}

/// Text cut to `max` characters, control and bidi-override characters dropped.
pub fn clean(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .take(max)
        .collect()
}

/// A stable id: FNV-1a of kind, subject and time, as hex.
fn id(kind: Kind, subject: &str, at: u64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kind
        .name()
        .bytes()
        .chain([0])
        .chain(subject.bytes())
        .chain([0])
        .chain(at.to_le_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_bounded_clean_and_named_stably() {
        let long = "x".repeat(1000);
        let n = Notice::new(Kind::ChainNew, Severity::Warning, 7, "chain-1", &long);
        assert_eq!(n.summary.chars().count(), MAX_SUMMARY);
        let same = Notice::new(Kind::ChainNew, Severity::Warning, 7, "chain-1", "other");
        assert_eq!(n.id, same.id, "one happening, one id");
        let later = Notice::new(Kind::ChainNew, Severity::Warning, 8, "chain-1", "");
        assert_ne!(n.id, later.id);
        let dirty = Notice::new(
            Kind::GuardBlock,
            Severity::Info,
            1,
            "a\u{202e}b",
            "line\nbreak\u{1b}[31m",
        );
        assert_eq!(dirty.subject, "ab");
        assert_eq!(dirty.summary, "linebreak[31m");
        let mut n = n;
        for i in 0..20 {
            n = n.field(&format!("f{i}"), "v");
        }
        assert_eq!(n.fields.len(), MAX_FIELDS);
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.name()), Some(k));
        }
        assert_eq!(
            Kind::MitigationApplied.event_type(),
            "dev.rampart.mitigation.applied"
        );
    }
}
