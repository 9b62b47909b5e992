//! Break-glass, decided: which hands are on the switch, whether acting stops, whether every
//! active mitigation is withdrawn, and what changed since the last look (for the Event).
//!
//! Fail safe in both directions that matter: a BreakGlass object with an empty spec engages,
//! and until the objects have been read once the engine does not act at all
//! ([`BrakeView::Unknown`]).

use rampart_api::BreakGlass;
use serde::Serialize;

/// One engaged BreakGlass object, as the dashboard and the Event show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hand {
    /// The object's name.
    pub name: String,
    /// Who set it, as written in `spec.setBy` (may be empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub set_by: String,
    /// The field manager of the last write (the API server records it: `kubectl`,
    /// `rampart-break-glass`, …).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field_manager: String,
    /// When it was last written (RFC 3339, the API server's clock).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub since: String,
    /// Why.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Whether it asks for every active mitigation to be withdrawn.
    pub revert_all: bool,
    /// The object's resourceVersion (names the Event of this very setting).
    #[serde(skip)]
    pub version: String,
}

impl Hand {
    /// The hand an object is, whether engaged or not.
    fn of(b: &BreakGlass) -> Hand {
        let last = b
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .filter(|f| f.subresource.as_deref().is_none_or(str::is_empty))
            .max_by_key(|f| f.time.as_ref().map(|t| t.0));
        let since = last
            .and_then(|f| f.time.as_ref())
            .or(b.metadata.creation_timestamp.as_ref())
            .map(|t| t.0.to_string())
            .unwrap_or_default();
        Hand {
            name: b.metadata.name.clone().unwrap_or_default(),
            set_by: clean(&b.spec.set_by, 128),
            field_manager: clean(
                last.and_then(|f| f.manager.as_deref()).unwrap_or_default(),
                128,
            ),
            since,
            reason: clean(&b.spec.reason, 512),
            revert_all: b.spec.revert_all,
            version: b.metadata.resource_version.clone().unwrap_or_default(),
        }
    }
}

/// Cluster-supplied text cut to `max` characters, control characters dropped (it reaches logs,
/// the dashboard and Event notes).
fn clean(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// The switch as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BrakeView {
    /// Not read yet (or never: a replica that does not write). Acting waits.
    #[default]
    Unknown,
    /// Read: the engaged hands (none: acting may go on).
    Read(Vec<Hand>),
}

impl BrakeView {
    /// The view of the BreakGlass objects as listed: the engaged ones, by name.
    pub fn of(objects: &[BreakGlass]) -> BrakeView {
        let mut hands: Vec<Hand> = objects
            .iter()
            .filter(|b| b.spec.engaged)
            .map(Hand::of)
            .collect();
        hands.sort_by(|a, b| a.name.cmp(&b.name));
        BrakeView::Read(hands)
    }

    /// Whether acting is stopped: engaged, or not known yet.
    pub fn stops_acting(&self) -> bool {
        match self {
            BrakeView::Unknown => true,
            BrakeView::Read(h) => !h.is_empty(),
        }
    }

    /// Whether every active mitigation must be withdrawn.
    pub fn reverts_all(&self) -> bool {
        matches!(self, BrakeView::Read(h) if h.iter().any(|h| h.revert_all))
    }

    /// Whether someone engaged it (as opposed to not known yet).
    pub fn engaged(&self) -> bool {
        matches!(self, BrakeView::Read(h) if !h.is_empty())
    }

    /// The engaged hands.
    pub fn hands(&self) -> &[Hand] {
        match self {
            BrakeView::Unknown => &[],
            BrakeView::Read(h) => h,
        }
    }

    /// What changed from `before` to `self`: hands newly engaged or re-set (a new
    /// resourceVersion), and hands released.
    pub fn changes(&self, before: &BrakeView) -> Vec<BrakeChange> {
        let mut out = Vec::new();
        for h in self.hands() {
            let old = before.hands().iter().find(|o| o.name == h.name);
            if old.is_none_or(|o| o.version != h.version) {
                out.push(BrakeChange::Engaged(h.clone()));
            }
        }
        if matches!(before, BrakeView::Read(_)) {
            for o in before.hands() {
                if !self.hands().iter().any(|h| h.name == o.name) {
                    out.push(BrakeChange::Released(o.clone()));
                }
            }
        }
        out
    }
}

/// A change of the switch, for the Event and the notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrakeChange {
    /// Engaged (or engaged again with other settings).
    Engaged(Hand),
    /// Released (disengaged or deleted); the hand as it was.
    Released(Hand),
}

impl BrakeChange {
    /// The Event's reason.
    pub fn reason(&self) -> &'static str {
        match self {
            BrakeChange::Engaged(_) => "BreakGlassEngaged",
            BrakeChange::Released(_) => "BreakGlassReleased",
        }
    }

    /// The Event's note: who, when, why, what it does.
    pub fn note(&self) -> String {
        match self {
            BrakeChange::Engaged(h) => format!(
                "break-glass {} engaged by {} at {}{}: rampart writes nothing but reverts{}",
                h.name,
                who(h),
                if h.since.is_empty() { "?" } else { &h.since },
                if h.reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", h.reason)
                },
                if h.revert_all {
                    " and withdraws every active mitigation"
                } else {
                    ""
                }
            ),
            BrakeChange::Released(h) => format!(
                "break-glass {} released (set by {}): acting resumes unless another is engaged",
                h.name,
                who(h)
            ),
        }
    }
}

fn who(h: &Hand) -> String {
    match (h.set_by.is_empty(), h.field_manager.is_empty()) {
        (false, false) => format!("{} via {}", h.set_by, h.field_manager),
        (false, true) => h.set_by.clone(),
        (true, false) => format!("an unnamed user via {}", h.field_manager),
        (true, true) => "an unnamed user".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_api::BreakGlassSpec;

    fn object(name: &str, spec: BreakGlassSpec, rv: &str) -> BreakGlass {
        let mut b = BreakGlass::new(name, spec);
        b.metadata.resource_version = Some(rv.into());
        b
    }

    #[test]
    fn any_engaged_object_stops_acting_and_unknown_stops_too() {
        assert!(BrakeView::Unknown.stops_acting(), "not read yet: wait");
        assert!(!BrakeView::Unknown.engaged());
        assert!(!BrakeView::of(&[]).stops_acting());
        let off = object(
            "a",
            BreakGlassSpec {
                engaged: false,
                ..BreakGlassSpec::default()
            },
            "1",
        );
        assert!(!BrakeView::of(std::slice::from_ref(&off)).stops_acting());
        let empty: BreakGlassSpec = serde_json::from_str("{}").unwrap();
        assert!(empty.engaged, "an empty spec engages");
        let on = object("b", empty, "2");
        let view = BrakeView::of(&[off.clone(), on.clone()]);
        assert!(view.stops_acting() && view.engaged() && !view.reverts_all());
        let all = object(
            "c",
            BreakGlassSpec {
                revert_all: true,
                reason: "incident\u{1b}[31m 42".into(),
                ..BreakGlassSpec::default()
            },
            "3",
        );
        let view = BrakeView::of(&[off, on, all]);
        assert!(view.reverts_all());
        assert_eq!(view.hands().len(), 2);
        assert_eq!(
            view.hands()[1].reason,
            "incident[31m 42",
            "no control characters"
        );
    }

    #[test]
    fn changes_name_what_was_engaged_and_released() {
        let a = object("a", BreakGlassSpec::default(), "1");
        let one = BrakeView::of(std::slice::from_ref(&a));
        let first = one.changes(&BrakeView::Unknown);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].reason(), "BreakGlassEngaged");
        assert!(first[0].note().contains("engaged by an unnamed user"));
        assert!(one.changes(&one).is_empty(), "nothing new");
        let mut again = a.clone();
        again.spec.revert_all = true;
        again.spec.set_by = "alice".into();
        again.metadata.resource_version = Some("2".into());
        let changed = BrakeView::of(&[again]).changes(&one);
        assert!(matches!(&changed[..], [BrakeChange::Engaged(h)] if h.revert_all));
        assert!(changed[0].note().contains("alice"));
        let none = BrakeView::of(&[]);
        let released = none.changes(&one);
        assert!(matches!(&released[..], [BrakeChange::Released(h)] if h.name == "a"));
        assert!(
            BrakeView::of(&[]).changes(&BrakeView::Unknown).is_empty(),
            "nothing was engaged"
        );
    }
}
