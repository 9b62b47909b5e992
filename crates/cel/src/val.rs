//! Values as plans hold them: the `cel` crate's values, nodes of documents read in place, and
//! the lists and named values plans make — each the same CEL value as its [`Val::to_value`].

use std::sync::Arc;

use cel::Value;
use cel::objects::Key;

use crate::doc::{Doc, Kind};

/// A value a plan holds.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// A value of the `cel` crate.
    Cel(Value),
    /// A node of a document, read in place.
    Doc(Arc<Doc>, u32),
    /// A list a plan made (a literal, a concatenation, a `map` or `filter`).
    List(Arc<Vec<Val>>),
    /// Named values in order (a rule's `variables`).
    Named(Arc<Vec<(Arc<String>, Val)>>),
}

/// What a value is, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum View<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(&'a str),
    /// A list of this many elements.
    List(usize),
    /// A map of this many entries.
    Map(usize),
    Other,
}

impl From<Value> for Val {
    fn from(v: Value) -> Val {
        Val::Cel(v)
    }
}

impl Val {
    pub(crate) const TRUE: Val = Val::Cel(Value::Bool(true));
    pub(crate) const FALSE: Val = Val::Cel(Value::Bool(false));

    #[inline]
    pub(crate) fn bool(b: bool) -> Val {
        Val::Cel(Value::Bool(b))
    }

    #[inline]
    pub(crate) fn view(&self) -> View<'_> {
        match self {
            Val::Cel(v) => match v {
                Value::Null => View::Null,
                Value::Bool(b) => View::Bool(*b),
                Value::Int(i) => View::Int(*i),
                Value::UInt(u) => View::UInt(*u),
                Value::Float(f) => View::Float(*f),
                Value::String(s) => View::Str(s),
                Value::List(l) => View::List(l.len()),
                Value::Map(m) => View::Map(m.map.len()),
                _ => View::Other,
            },
            Val::Doc(d, at) => match d.kind(*at) {
                Kind::Null => View::Null,
                Kind::Bool(b) => View::Bool(b),
                Kind::Int(i) => View::Int(i),
                Kind::UInt(u) => View::UInt(u),
                Kind::Float(f) => View::Float(f),
                Kind::Str(s, l) => View::Str(d.str(s, l)),
                Kind::List { live, .. } => View::List(live as usize),
                Kind::Map { live, .. } => View::Map(live as usize),
            },
            Val::List(l) => View::List(l.len()),
            Val::Named(n) => View::Map(n.len()),
        }
    }

    /// The `cel` crate's value.
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Val::Cel(v) => v.clone(),
            Val::Doc(d, at) => d.value(*at),
            Val::List(l) => Value::List(Arc::new(l.iter().map(Val::to_value).collect())),
            Val::Named(n) => Value::Map(cel::objects::Map {
                map: Arc::new(
                    n.iter()
                        .map(|(k, v)| (Key::String(k.clone()), v.to_value()))
                        .collect(),
                ),
            }),
        }
    }

    /// A map's entry: `None` if this is no map, `Some(None)` if it has no such key.
    #[inline]
    pub(crate) fn field(&self, key: &Key) -> Option<Option<Val>> {
        match self {
            Val::Cel(Value::Map(m)) => Some(m.map.get(key).cloned().map(Val::Cel)),
            Val::Doc(..) | Val::Named(_) => match key {
                Key::String(k) => self.field_str(k),
                // Read in place, their keys are strings.
                _ => matches!(self.view(), View::Map(_)).then_some(None),
            },
            _ => None,
        }
    }

    /// [`Val::field`] under a string key (no key made where the map is read in place).
    pub(crate) fn field_str(&self, k: &str) -> Option<Option<Val>> {
        match self {
            Val::Doc(d, at) => match d.kind(*at) {
                Kind::Map { .. } => Some(d.get(*at, k).map(|m| Val::Doc(d.clone(), m))),
                _ => None,
            },
            Val::Named(n) => Some(
                n.iter()
                    .find(|(name, _)| name.as_str() == k)
                    .map(|(_, v)| v.clone()),
            ),
            _ => self.field(&Key::String(Arc::new(k.to_string()))),
        }
    }

    /// A list's elements or a map's keys, as a comprehension walks them (`None`: neither).
    pub(crate) fn walk(&self) -> Option<Vec<Val>> {
        Some(match self {
            Val::Cel(Value::List(l)) => l.iter().cloned().map(Val::Cel).collect(),
            Val::Cel(Value::Map(m)) => m.map.keys().map(|k| Val::Cel(k.clone().into())).collect(),
            Val::Doc(d, at) => match d.kind(*at) {
                Kind::List { .. } => d.members(*at).map(|m| Val::Doc(d.clone(), m)).collect(),
                Kind::Map { .. } => d
                    .members(*at)
                    .map(|m| Val::Cel(Value::String(Arc::new(d.key(m).to_string()))))
                    .collect(),
                _ => return None,
            },
            Val::List(l) => l.to_vec(),
            Val::Named(n) => n
                .iter()
                .map(|(k, _)| Val::Cel(Value::String(k.clone())))
                .collect(),
            Val::Cel(_) => return None,
        })
    }

    /// A list's elements (`None`: no list).
    pub(crate) fn elements(&self) -> Option<Vec<Val>> {
        match self.view() {
            View::List(_) => self.walk(),
            _ => None,
        }
    }

    /// The `i`-th element of a list (`None`: no list, or out of range).
    pub(crate) fn nth(&self, i: usize) -> Option<Val> {
        match self {
            Val::Cel(Value::List(l)) => l.get(i).cloned().map(Val::Cel),
            Val::Doc(d, at) => match d.kind(*at) {
                Kind::List { .. } => d.nth(*at, i).map(|m| Val::Doc(d.clone(), m)),
                _ => None,
            },
            Val::List(l) => l.get(i).cloned(),
            _ => None,
        }
    }
}

/// `a == b` as the interpreter decides it.
#[inline]
pub(crate) fn equal(a: &Val, b: &Val) -> bool {
    match (a.view(), b.view()) {
        (View::Null, View::Null) => true,
        (View::Bool(x), View::Bool(y)) => x == y,
        (View::Int(x), View::Int(y)) => x == y,
        (View::UInt(x), View::UInt(y)) => x == y,
        (View::Str(x), View::Str(y)) => x == y,
        _ => a.to_value() == b.to_value(),
    }
}
