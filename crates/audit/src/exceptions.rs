//! Exceptions: a failure someone accepted, with a reason. An exception never hides a finding:
//! it is reported as `excepted`, with its reason, and counts as passing in the scores.
//!
//! Two sources:
//! * an annotation on the object, `exception.audit.rampart.dev/<check-id>: <reason>`;
//! * a list ([`Exceptions`]), read from a file: `{"exceptions": [{"check", "kind",
//!   "namespace", "name", "reason"}]}` where `kind`, `namespace` and `name` may be omitted
//!   (any) and `name` may end in `*` (a prefix).
//!
//! An exception without a reason is not one: the finding stays a failure.

use serde::Deserialize;

use crate::check::Check;
use crate::inventory::Inventory;
use crate::object::ObjectRef;

/// The annotation prefix of an exception on an object.
pub const ANNOTATION_PREFIX: &str = "exception.audit.rampart.dev/";

/// One listed exception.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// rampart's check id, or any framework id the check answers (`5.2.2`, `C-0057`).
    pub check: String,
    /// The object's kind (any when omitted).
    #[serde(default)]
    pub kind: Option<String>,
    /// Its namespace (any when omitted).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Its name, or a prefix ending in `*` (any when omitted).
    #[serde(default)]
    pub name: Option<String>,
    /// Why the failure is accepted.
    pub reason: String,
}

/// A list of exceptions.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Exceptions {
    /// The exceptions.
    #[serde(default)]
    pub exceptions: Vec<Exception>,
}

/// A list that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExceptionsError {
    /// Not the expected shape.
    #[error("not an exception list: {0}")]
    Shape(String),
    /// An exception without a reason.
    #[error("exception {0} for check {1:?} has no reason")]
    NoReason(usize, String),
}

impl Exceptions {
    /// Reads a list from its JSON value, refusing exceptions without a reason.
    pub fn from_value(v: serde_json::Value) -> Result<Exceptions, ExceptionsError> {
        let e: Exceptions =
            serde_json::from_value(v).map_err(|e| ExceptionsError::Shape(e.to_string()))?;
        for (i, x) in e.exceptions.iter().enumerate() {
            if x.reason.trim().is_empty() {
                return Err(ExceptionsError::NoReason(i + 1, x.check.clone()));
            }
        }
        Ok(e)
    }

    /// The reason `target` is excepted from `check`, if it is: its own annotation first, then
    /// the list.
    pub fn reason<'a>(
        &'a self,
        check: &Check,
        target: &ObjectRef,
        inventory: &'a Inventory,
    ) -> Option<&'a str> {
        let key = format!("{ANNOTATION_PREFIX}{}", check.id);
        let annotated = inventory
            .get(target)
            .and_then(|o| o.annotation(&key))
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if annotated.is_some() {
            return annotated;
        }
        self.exceptions
            .iter()
            .find(|x| names(check, &x.check) && covers(x, target))
            .map(|x| x.reason.as_str())
    }
}

fn names(check: &Check, id: &str) -> bool {
    check.id == id
        || check.ids.cis.contains(&id)
        || check.ids.nsa == Some(id)
        || check.ids.pss == Some(id)
        || check.ids.kubescape.contains(&id)
}

fn covers(x: &Exception, t: &ObjectRef) -> bool {
    x.kind.as_deref().is_none_or(|k| k == t.kind)
        && x.namespace.as_deref().is_none_or(|n| n == t.namespace)
        && x.name.as_deref().is_none_or(|n| match n.strip_suffix('*') {
            Some(prefix) => t.name.starts_with(prefix),
            None => n == t.name,
        })
}
