//! JSON documents read once into a flat tape that plans read in place.
//!
//! Reading an admission request's object into the `cel` crate's values allocates twice per key
//! and per string and hashes every key; most of it is never read, all of it is dropped after the
//! request. A [`Doc`] is one vector of nodes and one string of their text: a container's
//! members follow it, each node knows where its subtree ends, a map's member carries its key.
//! The values it stands for are exactly those the interpreter would see ([`Doc::value`]):
//! integers as `int` where they fit (else `uint`, else `double`), a member set to null absent,
//! a repeated key's last value.

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;
use cel::objects::{Key, Map};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::Sizes;

/// A JSON document on a tape.
#[derive(Debug, Clone, Default)]
pub(crate) struct Doc {
    nodes: Vec<Node>,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// `text[start..start + len]`.
    Str(u32, u32),
    /// Its members follow it; `live` of them count (a map's absent members do not).
    List {
        live: u32,
    },
    Map {
        live: u32,
    },
}

#[derive(Debug, Clone, Copy)]
struct Node {
    kind: Kind,
    /// A map's member: its key in `text`.
    key: (u32, u32),
    /// A map's member that does not count: set to null, or its key given again later.
    absent: bool,
    /// The index after its subtree.
    end: u32,
}

/// The most text and nodes a document holds (an admission request is far smaller; the
/// positions are `u32`).
const MAX_LEN: usize = u32::MAX as usize / 2;

impl Doc {
    /// Reads a JSON value from `d`, counting its sizes.
    pub(crate) fn read<'de, D: serde::Deserializer<'de>>(
        d: D,
        sizes: &mut Sizes,
    ) -> Result<Doc, D::Error> {
        Doc::read_sized(d, sizes, 0)
    }

    /// [`Doc::read`] from a text of `len` bytes (room made for its nodes and strings at once).
    pub(crate) fn read_sized<'de, D: serde::Deserializer<'de>>(
        d: D,
        sizes: &mut Sizes,
        len: usize,
    ) -> Result<Doc, D::Error> {
        let mut doc = Doc {
            nodes: Vec::with_capacity(len.min(MAX_LEN) / 12),
            text: String::with_capacity(len.min(MAX_LEN) / 2),
        };
        Seed {
            doc: &mut doc,
            sizes,
            members: &mut Vec::new(),
        }
        .deserialize(d)?;
        Ok(doc)
    }

    /// The root node.
    pub(crate) const ROOT: u32 = 0;

    pub(crate) fn kind(&self, at: u32) -> Kind {
        self.nodes.get(at as usize).map_or(Kind::Null, |n| n.kind)
    }

    pub(crate) fn str(&self, start: u32, len: u32) -> &str {
        self.text
            .get(start as usize..(start + len) as usize)
            .unwrap_or_default()
    }

    /// The members of the container at `at` that count (for a map: its members, whose keys
    /// [`Doc::key`] gives).
    pub(crate) fn members(&self, at: u32) -> impl Iterator<Item = u32> + '_ {
        let end = self.nodes.get(at as usize).map_or(at, |n| n.end);
        let mut i = at + 1;
        std::iter::from_fn(move || {
            while i < end {
                let here = i;
                let n = &self.nodes[here as usize];
                i = n.end;
                if !n.absent {
                    return Some(here);
                }
            }
            None
        })
    }

    pub(crate) fn key(&self, at: u32) -> &str {
        let (s, l) = self.nodes.get(at as usize).map_or((0, 0), |n| n.key);
        self.str(s, l)
    }

    /// The member `key` of the map at `at`.
    pub(crate) fn get(&self, at: u32, key: &str) -> Option<u32> {
        self.members(at).find(|m| self.key(*m) == key)
    }

    /// The `i`-th element of the list at `at`.
    pub(crate) fn nth(&self, at: u32, i: usize) -> Option<u32> {
        self.members(at).nth(i)
    }

    /// Blanks every value under the members `fields` of the root map (a Secret's `data`),
    /// keeping the keys.
    pub(crate) fn redact(&mut self, fields: &[&str]) {
        let Kind::Map { .. } = self.kind(Self::ROOT) else {
            return;
        };
        for f in fields {
            let Some(at) = self.get(Self::ROOT, f) else {
                continue;
            };
            if let Kind::Map { .. } = self.kind(at) {
                let members: Vec<u32> = self.members(at).collect();
                for m in members {
                    // The text it held is overwritten too (a Debug print shows none of it).
                    for i in m..self.nodes[m as usize].end {
                        if let Kind::Str(s, l) = self.nodes[i as usize].kind {
                            let range = s as usize..(s + l) as usize;
                            self.text.replace_range(range, &"*".repeat(l as usize));
                        }
                    }
                    // The subtree's end stays: what it held is skipped.
                    self.nodes[m as usize].kind = Kind::Str(0, 0);
                }
            }
        }
    }

    /// The value at `at`, as the interpreter's.
    pub(crate) fn value(&self, at: u32) -> Value {
        match self.kind(at) {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(b),
            Kind::Int(i) => Value::Int(i),
            Kind::UInt(u) => Value::UInt(u),
            Kind::Float(f) => Value::Float(f),
            Kind::Str(s, l) => Value::String(Arc::new(self.str(s, l).to_string())),
            Kind::List { .. } => {
                Value::List(Arc::new(self.members(at).map(|m| self.value(m)).collect()))
            }
            Kind::Map { live } => {
                let mut map: HashMap<Key, Value> = HashMap::with_capacity(live as usize);
                for m in self.members(at) {
                    map.insert(
                        Key::String(Arc::new(self.key(m).to_string())),
                        self.value(m),
                    );
                }
                Value::Map(Map { map: Arc::new(map) })
            }
        }
    }

    fn push_text(&mut self, s: &str) -> Result<(u32, u32), String> {
        if self.text.len() + s.len() > MAX_LEN {
            return Err("the document is too large".into());
        }
        let start = self.text.len() as u32;
        self.text.push_str(s);
        Ok((start, s.len() as u32))
    }

    fn push(&mut self, kind: Kind) -> Result<u32, String> {
        if self.nodes.len() >= MAX_LEN {
            return Err("the document is too large".into());
        }
        let at = self.nodes.len() as u32;
        self.nodes.push(Node {
            kind,
            key: (0, 0),
            absent: false,
            end: at + 1,
        });
        Ok(at)
    }
}

struct Seed<'s> {
    doc: &'s mut Doc,
    sizes: &'s mut Sizes,
    /// The members of the maps being read, innermost last (one buffer for the document).
    members: &'s mut Vec<u32>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = u32;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<u32, D::Error> {
        d.deserialize_any(self)
    }
}

fn too_large<E: serde::de::Error>(m: String) -> E {
    E::custom(m)
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = u32;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<u32, E> {
        self.doc.push(Kind::Bool(v)).map_err(too_large)
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u32, E> {
        self.doc.push(Kind::Int(v)).map_err(too_large)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u32, E> {
        let kind = i64::try_from(v).map_or(Kind::UInt(v), Kind::Int);
        self.doc.push(kind).map_err(too_large)
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u32, E> {
        self.doc.push(Kind::Float(v)).map_err(too_large)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u32, E> {
        self.sizes.longest_string = self.sizes.longest_string.max(v.len() as u64);
        let (s, l) = self.doc.push_text(v).map_err(too_large)?;
        self.doc.push(Kind::Str(s, l)).map_err(too_large)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<u32, E> {
        self.doc.push(Kind::Null).map_err(too_large)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<u32, E> {
        self.visit_unit()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<u32, A::Error> {
        let at = self.doc.push(Kind::List { live: 0 }).map_err(too_large)?;
        let mut n = 0u32;
        while a
            .next_element_seed(Seed {
                doc: &mut *self.doc,
                sizes: &mut *self.sizes,
                members: &mut *self.members,
            })?
            .is_some()
        {
            n += 1;
        }
        self.sizes.largest = self.sizes.largest.max(u64::from(n));
        self.sizes.total = self.sizes.total.saturating_add(u64::from(n));
        let end = self.doc.nodes.len() as u32;
        self.doc.nodes[at as usize].kind = Kind::List { live: n };
        self.doc.nodes[at as usize].end = end;
        Ok(at)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<u32, A::Error> {
        let at = self.doc.push(Kind::Map { live: 0 }).map_err(too_large)?;
        let base = self.members.len();
        while let Some(key) = a.next_key_seed(KeySeed(&mut *self.doc))? {
            let m = a.next_value_seed(Seed {
                doc: &mut *self.doc,
                sizes: &mut *self.sizes,
                members: &mut *self.members,
            })?;
            let node = &mut self.doc.nodes[m as usize];
            node.key = key;
            // A member set to null is absent, as in the API server's typed objects.
            node.absent = node.kind == Kind::Null;
            self.members.push(m);
        }
        let members = &self.members[base..];
        // A key given twice: the last one counts (small maps compared pairwise, large ones
        // through a set).
        let mut repeated = Vec::new();
        if members.len() <= 16 {
            for (i, m) in members.iter().enumerate() {
                let key = self.doc.key(*m);
                if members[i + 1..].iter().any(|l| self.doc.key(*l) == key) {
                    repeated.push(*m);
                }
            }
        } else {
            let mut seen = std::collections::HashSet::new();
            for m in members.iter().rev() {
                if !seen.insert(self.doc.key(*m)) {
                    repeated.push(*m);
                }
            }
        }
        for m in repeated {
            self.doc.nodes[m as usize].absent = true;
        }
        let live = members
            .iter()
            .filter(|m| !self.doc.nodes[**m as usize].absent)
            .count() as u32;
        self.members.truncate(base);
        self.sizes.largest = self.sizes.largest.max(u64::from(live));
        self.sizes.total = self.sizes.total.saturating_add(u64::from(live));
        let end = self.doc.nodes.len() as u32;
        self.doc.nodes[at as usize].kind = Kind::Map { live };
        self.doc.nodes[at as usize].end = end;
        Ok(at)
    }
}

/// A map's key, into the document's text.
struct KeySeed<'s>(&'s mut Doc);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = (u32, u32);
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(u32, u32), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = (u32, u32);
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string key")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(u32, u32), E> {
        self.0.push_text(v).map_err(too_large)
    }
}
