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
        span: Span,
    },
    Map {
        live: u32,
        span: Span,
    },
}

impl Kind {
    /// A list or map just opened: its members and span are set when it closes.
    const OPEN_LIST: Kind = Kind::List {
        live: 0,
        span: Span { from: 0, to: 0 },
    };
    const OPEN_MAP: Kind = Kind::Map {
        live: 0,
        span: Span { from: 0, to: 0 },
    };
}

/// Where a container stands in the text it was read from: `from..to`, empty for one read from
/// something else (a tree, serde_json's reader).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Span {
    from: u32,
    to: u32,
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
        let mut doc = Doc::default();
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

    #[inline]
    pub(crate) fn kind(&self, at: u32) -> Kind {
        self.nodes.get(at as usize).map_or(Kind::Null, |n| n.kind)
    }

    #[inline]
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

    /// Every member of the container at `at`, a map's absent ones too (typed readers see
    /// what the text gave).
    pub(crate) fn all_members(&self, at: u32) -> AllMembers<'_> {
        AllMembers {
            doc: self,
            next: at + 1,
            end: self.nodes.get(at as usize).map_or(at, |n| n.end),
        }
    }

    #[inline]
    pub(crate) fn key(&self, at: u32) -> &str {
        let (s, l) = self.nodes.get(at as usize).map_or((0, 0), |n| n.key);
        self.str(s, l)
    }

    /// The member `key` of the map at `at`.
    #[inline]
    pub(crate) fn get(&self, at: u32, key: &str) -> Option<u32> {
        self.members(at).find(|m| self.key(*m) == key)
    }

    /// The `i`-th element of the list at `at`.
    pub(crate) fn nth(&self, at: u32, i: usize) -> Option<u32> {
        self.members(at).nth(i)
    }

    /// The sizes of the subtree at `at`, as reading it alone would have counted them.
    pub(crate) fn sizes_of(&self, at: u32) -> Sizes {
        let end = self.nodes.get(at as usize).map_or(at, |n| n.end);
        let mut sizes = Sizes::default();
        for node in self
            .nodes
            .get(at as usize..end as usize)
            .unwrap_or_default()
        {
            match node.kind {
                Kind::List { live, .. } | Kind::Map { live, .. } => {
                    sizes.largest = sizes.largest.max(u64::from(live));
                    sizes.total = sizes.total.saturating_add(u64::from(live));
                }
                Kind::Str(_, l) => {
                    sizes.longest_string = sizes.longest_string.max(u64::from(l));
                }
                _ => {}
            }
        }
        sizes
    }

    /// Where the container at `at` stands in the text it was read from.
    pub(crate) fn span(&self, at: u32) -> Option<std::ops::Range<usize>> {
        match self.kind(at) {
            Kind::List { span, .. } | Kind::Map { span, .. } if span.to > span.from => {
                Some(span.from as usize..span.to as usize)
            }
            _ => None,
        }
    }

    /// Blanks the text of everything but the subtree at `at`, keeping positions: a copy made
    /// to be changed holds only that part's keys and strings.
    pub(crate) fn confine(&mut self, at: u32) {
        let end = self.nodes.get(at as usize).map_or(at, |n| n.end);
        let mut kept = " ".repeat(self.text.len());
        for i in at..end {
            let node = &self.nodes[i as usize];
            let strings = [
                (i > at).then_some(node.key),
                match node.kind {
                    Kind::Str(s, l) => Some((s, l)),
                    _ => None,
                },
            ];
            for (s, l) in strings.into_iter().flatten() {
                let range = s as usize..(s + l) as usize;
                if let Some(text) = self.text.get(range.clone()) {
                    kept.replace_range(range, text);
                }
            }
        }
        self.text = kept;
    }

    /// Blanks every value under the members `fields` of the map at `object` (a Secret's
    /// `data`), keeping the keys.
    pub(crate) fn redact(&mut self, object: u32, fields: &[&str]) {
        let Kind::Map { .. } = self.kind(object) else {
            return;
        };
        for f in fields {
            let Some(at) = self.get(object, f) else {
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
            Kind::Map { live, .. } => {
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

    /// The list at `at` is complete with its `n` elements.
    fn close_list(&mut self, at: u32, n: u32, span: Span, sizes: &mut Sizes) {
        sizes.largest = sizes.largest.max(u64::from(n));
        sizes.total = sizes.total.saturating_add(u64::from(n));
        let end = self.nodes.len() as u32;
        self.nodes[at as usize].kind = Kind::List { live: n, span };
        self.nodes[at as usize].end = end;
    }

    /// The node `m` is a map's member under `key`.
    fn member(&mut self, m: u32, key: (u32, u32)) {
        let node = &mut self.nodes[m as usize];
        node.key = key;
        // A member set to null is absent, as in the API server's typed objects.
        node.absent = node.kind == Kind::Null;
    }

    /// The map at `at` is complete with its `members`.
    fn close_map(&mut self, at: u32, members: &[u32], span: Span, sizes: &mut Sizes) {
        // A key given twice: the last one counts (small maps compared pairwise, large ones
        // through a set).
        let mut repeated = Vec::new();
        if members.len() <= 16 {
            let key = |m: u32| self.nodes[m as usize].key;
            for (i, m) in members.iter().enumerate() {
                let (start, len) = key(*m);
                let repeats = members[i + 1..].iter().any(|l| {
                    let (s, l) = key(*l);
                    l == len && self.str(s, l) == self.str(start, len)
                });
                if repeats {
                    repeated.push(*m);
                }
            }
        } else {
            let mut seen = std::collections::HashSet::new();
            for m in members.iter().rev() {
                if !seen.insert(self.key(*m)) {
                    repeated.push(*m);
                }
            }
        }
        for m in repeated {
            self.nodes[m as usize].absent = true;
        }
        let live = members
            .iter()
            .filter(|m| !self.nodes[**m as usize].absent)
            .count() as u32;
        sizes.largest = sizes.largest.max(u64::from(live));
        sizes.total = sizes.total.saturating_add(u64::from(live));
        let end = self.nodes.len() as u32;
        self.nodes[at as usize].kind = Kind::Map { live, span };
        self.nodes[at as usize].end = end;
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

/// [`Doc::all_members`].
pub(crate) struct AllMembers<'d> {
    doc: &'d Doc,
    next: u32,
    end: u32,
}

impl Iterator for AllMembers<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.next >= self.end {
            return None;
        }
        let here = self.next;
        // A node's `end` is past it; `max` keeps a malformed tape from looping.
        self.next = self.doc.nodes[here as usize].end.max(here + 1);
        Some(here)
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
        let at = self.doc.push(Kind::OPEN_LIST).map_err(too_large)?;
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
        self.doc.close_list(at, n, Span::default(), self.sizes);
        Ok(at)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<u32, A::Error> {
        let at = self.doc.push(Kind::OPEN_MAP).map_err(too_large)?;
        let base = self.members.len();
        while let Some(key) = a.next_key_seed(KeySeed(&mut *self.doc))? {
            let m = a.next_value_seed(Seed {
                doc: &mut *self.doc,
                sizes: &mut *self.sizes,
                members: &mut *self.members,
            })?;
            self.doc.member(m, key);
            self.members.push(m);
        }
        self.doc
            .close_map(at, &self.members[base..], Span::default(), self.sizes);
        self.members.truncate(base);
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

/// Why a JSON text was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {at}")]
pub(crate) struct TextError {
    what: &'static str,
    at: usize,
}

/// One more than the deepest a text may nest (serde_json's limit, which the tree reader keeps).
const MAX_DEPTH: usize = 128;

impl Doc {
    /// Reads JSON text straight onto a tape: what [`Doc::read`] gives from serde_json's reader
    /// (the same values, the same texts refused), without its per-value calls.
    pub(crate) fn parse(json: &str, sizes: &mut Sizes) -> Result<Doc, TextError> {
        if json.len() > MAX_LEN {
            return Err(TextError {
                what: "the document is too large",
                at: 0,
            });
        }
        // The text is the document's at first: a string without escapes is where it stands in
        // it (no copy per string); one with escapes is written after it.
        let mut text = String::with_capacity(json.len() + json.len() / 8);
        text.push_str(json);
        let mut p = Text {
            b: json.as_bytes(),
            src: json,
            i: 0,
            doc: Doc {
                nodes: Vec::with_capacity(json.len() / 12),
                text,
            },
            sizes,
            members: Vec::new(),
            scratch: String::new(),
        };
        p.value(0)?;
        p.ws();
        if p.i != p.b.len() {
            return Err(p.err("trailing characters"));
        }
        Ok(p.doc)
    }
}

struct Text<'a> {
    b: &'a [u8],
    src: &'a str,
    i: usize,
    doc: Doc,
    sizes: &'a mut Sizes,
    members: Vec<u32>,
    scratch: String,
}

impl Text<'_> {
    fn err(&self, what: &'static str) -> TextError {
        TextError { what, at: self.i }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn push(&mut self, kind: Kind) -> Result<u32, TextError> {
        self.doc
            .push(kind)
            .map_err(|_| self.err("the document is too large"))
    }

    fn literal(&mut self, word: &'static [u8], kind: Kind) -> Result<u32, TextError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            self.push(kind)
        } else {
            Err(self.err("expected a value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<u32, TextError> {
        self.ws();
        match self.b.get(self.i) {
            None => Err(self.err("EOF while parsing a value")),
            Some(b'{') => self.map(depth + 1),
            Some(b'[') => self.list(depth + 1),
            Some(b'"') => {
                let (s, l) = self.string()?;
                self.sizes.longest_string = self.sizes.longest_string.max(u64::from(l));
                self.push(Kind::Str(s, l))
            }
            Some(b't') => self.literal(b"true", Kind::Bool(true)),
            Some(b'f') => self.literal(b"false", Kind::Bool(false)),
            Some(b'n') => self.literal(b"null", Kind::Null),
            Some(b'-' | b'0'..=b'9') => {
                let kind = self.number()?;
                self.push(kind)
            }
            Some(_) => Err(self.err("expected a value")),
        }
    }

    fn list(&mut self, depth: usize) -> Result<u32, TextError> {
        if depth >= MAX_DEPTH {
            return Err(self.err("recursion limit exceeded"));
        }
        let from = self.i as u32;
        self.i += 1;
        let at = self.push(Kind::OPEN_LIST)?;
        let mut n = 0u32;
        if !self.closed(b']') {
            loop {
                self.value(depth)?;
                n += 1;
                if !self.another(b']')? {
                    break;
                }
            }
        }
        let span = self.span(from);
        self.doc.close_list(at, n, span, self.sizes);
        Ok(at)
    }

    /// From `from` to the cursor (`parse` bounds the text's length: both fit).
    fn span(&self, from: u32) -> Span {
        Span {
            from,
            to: self.i as u32,
        }
    }

    fn map(&mut self, depth: usize) -> Result<u32, TextError> {
        if depth >= MAX_DEPTH {
            return Err(self.err("recursion limit exceeded"));
        }
        let from = self.i as u32;
        self.i += 1;
        let at = self.push(Kind::OPEN_MAP)?;
        let base = self.members.len();
        if !self.closed(b'}') {
            loop {
                self.ws();
                if self.b.get(self.i) != Some(&b'"') {
                    return Err(self.err("key must be a string"));
                }
                let key = self.string()?;
                self.ws();
                if self.b.get(self.i) != Some(&b':') {
                    return Err(self.err("expected `:`"));
                }
                self.i += 1;
                let m = self.value(depth)?;
                self.doc.member(m, key);
                self.members.push(m);
                if !self.another(b'}')? {
                    break;
                }
            }
        }
        let span = self.span(from);
        self.doc
            .close_map(at, &self.members[base..], span, self.sizes);
        self.members.truncate(base);
        Ok(at)
    }

    /// Whether a container ends at once (`[]`, `{}`): its `close` is then consumed.
    fn closed(&mut self, close: u8) -> bool {
        self.ws();
        let empty = self.b.get(self.i) == Some(&close);
        if empty {
            self.i += 1;
        }
        empty
    }

    /// After an element: `true` on a `,` (another follows), `false` on `close` (consumed).
    fn another(&mut self, close: u8) -> Result<bool, TextError> {
        self.ws();
        let more = match self.b.get(self.i) {
            Some(b',') => true,
            Some(c) if *c == close => false,
            _ => return Err(self.err("expected `,` or the container's end")),
        };
        self.i += 1;
        Ok(more)
    }

    /// A string (the cursor on its opening quote), into the document's text.
    fn string(&mut self) -> Result<(u32, u32), TextError> {
        self.i += 1;
        let start = self.i;
        // The common case: no escape, read where it stands in the text.
        self.skip_plain();
        match self.b.get(self.i) {
            Some(b'"') => {
                let len = self.i - start;
                self.i += 1;
                // `parse` bounds the text's length: both fit.
                return Ok((start as u32, len as u32));
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.err("control character in a string")),
            None => return Err(self.err("EOF while parsing a string")),
        }
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        out.push_str(&self.src[start..self.i]);
        let r = self.escaped(&mut out).and_then(|()| {
            // Unescaped, a string is shorter than its text: it is written where the text stood
            // and the rest blanked (so blanking a Secret's value leaves none of it behind).
            let raw = start..self.i - 1;
            let len = out.len();
            if len > raw.len() {
                return self
                    .doc
                    .push_text(&out)
                    .map_err(|_| self.err("the document is too large"));
            }
            out.extend(std::iter::repeat_n(' ', raw.len() - len));
            self.doc.text.replace_range(raw, &out);
            Ok((start as u32, len as u32))
        });
        self.scratch = out;
        r
    }

    /// Moves the cursor to the next quote, backslash or control character (or the end): eight
    /// bytes a step where it can.
    fn skip_plain(&mut self) {
        const ONES: u64 = u64::from_ne_bytes([1; 8]);
        const HIGH: u64 = ONES * 0x80;
        // The lowest byte of `x` that is zero has its high bit set in the result (higher ones
        // may be wrong, the lowest is exact).
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        while let Some(chunk) = self.b.get(self.i..self.i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            let w = u64::from_le_bytes(w);
            let stop = zero(w ^ (ONES * u64::from(b'"')))
                | zero(w ^ (ONES * u64::from(b'\\')))
                | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
            if stop != 0 {
                self.i += (stop.trailing_zeros() / 8) as usize;
                return;
            }
            self.i += 8;
        }
        while let Some(&c) = self.b.get(self.i) {
            if c == b'"' || c == b'\\' || c < 0x20 {
                return;
            }
            self.i += 1;
        }
    }

    /// The rest of a string with escapes, after `out`; the cursor past its closing quote.
    fn escaped(&mut self, out: &mut String) -> Result<(), TextError> {
        loop {
            let run = self.i;
            while let Some(&c) = self.b.get(self.i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(&self.src[run..self.i]);
            match self.b.get(self.i) {
                None => return Err(self.err("EOF while parsing a string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.b.get(self.i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let c = self.unicode()?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.err("invalid escape")),
                    };
                    self.i += 1;
                    out.push(c);
                }
                Some(_) => return Err(self.err("control character in a string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u16, TextError> {
        let digits = self
            .b
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("EOF while parsing a string"))?;
        let mut n = 0u16;
        for d in digits {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(self.err("invalid escape")),
            };
            n = n * 16 + u16::from(v);
        }
        self.i += 4;
        Ok(n)
    }

    /// `\uXXXX` (the cursor past the `u`), a surrogate pair joined.
    fn unicode(&mut self) -> Result<char, TextError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                    return Err(self.err("lone leading surrogate in hex escape"));
                }
                self.i += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.err("lone leading surrogate in hex escape"));
                }
                0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.err("lone trailing surrogate in hex escape")),
            c => u32::from(c),
        };
        char::from_u32(code).ok_or_else(|| self.err("invalid unicode code point"))
    }

    /// Skips decimal digits: how many.
    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.b.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    /// A number, as serde_json reads it: an integer as `u64` or `i64` where it fits, else (or
    /// with a fraction or an exponent) a finite `f64`.
    fn number(&mut self) -> Result<Kind, TextError> {
        let start = self.i;
        let negative = self.b[self.i] == b'-';
        if negative {
            self.i += 1;
        }
        let digits = self.i;
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        let mut float = false;
        if self.b.get(self.i) == Some(&b'.') {
            float = true;
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            float = true;
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if !float && let Ok(u) = self.src[digits..self.i].parse::<u64>() {
            if !negative {
                return Ok(i64::try_from(u).map_or(Kind::UInt(u), Kind::Int));
            }
            // serde_json's rule: `-0` and magnitudes past `i64::MIN` are doubles.
            let neg = (u as i64).wrapping_neg();
            if neg < 0 {
                return Ok(Kind::Int(neg));
            }
        }
        // Doubles exactly as serde_json rounds them (its reader, not the standard library's).
        serde_json::from_str::<f64>(&self.src[start..self.i])
            .map(Kind::Float)
            .map_err(|_| self.err("number out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text reader and serde_json's agree: the same values and sizes, the same texts
    /// refused.
    #[test]
    fn reading_text_agrees_with_serde_json() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let cases: Vec<String> = [
            r#"{"a": 1, "b": [true, false, null], "c": {"d": "e"}, "n": null}"#,
            r#"  {"s": "tab\tq\"uote\\back\/slash\b\f\n\r", "u": "\u00e9\u4e2d\ud83d\ude00"}  "#,
            r#"[0, -0, 1, -1, 9223372036854775807, 9223372036854775808, -9223372036854775808,
                -9223372036854775809, 18446744073709551615, 18446744073709551616, 1.5, -2.25e3,
                1E2, 1e-7, 0.1, 123456789012345678901234567890, 2.2250738585072014e-308]"#,
            r#"{"a": 1, "a": 2, "b": null, "b": 3, "c": 4, "c": null}"#,
            r#""just a string""#,
            "3",
            "null",
            "{}",
            "[]",
            r#"{"k": "\ud800"}"#,
            r#"{"k": "\udc00"}"#,
            r#"{"k": "\ud800\u0041"}"#,
            r#"{"k": "\x"}"#,
            "{\"k\": \"a\u{1}b\"}",
            r#"{"k": 1e400}"#,
            r#"{"k": -1e400}"#,
            r#"{"k": 01}"#,
            r#"{"k": 1.}"#,
            r#"{"k": .5}"#,
            r#"{"k": 1e}"#,
            r#"{"k": -}"#,
            r#"{"k": tru}"#,
            r#"{"k": 1,}"#,
            r#"[1,]"#,
            r#"{"k" 1}"#,
            r#"{1: 2}"#,
            r#"{"k": 1} x"#,
            r#"{"k": "unterminated"#,
            "",
            "   ",
            "[1 2]",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([deep(128), deep(129), format!("{{\"k\": {}}}", deep(127))])
        .chain(
            [(0..40)
                .map(|i| format!("\"k{}\": {i}", i % 23))
                .collect::<Vec<_>>()
                .join(",")]
            .map(|m| format!("{{{m}}}")),
        )
        .collect();
        for json in &cases {
            let mut a = Sizes::default();
            let text = Doc::parse(json, &mut a);
            let mut b = Sizes::default();
            let mut de = serde_json::Deserializer::from_str(json);
            let serde = Doc::read(&mut de, &mut b).and_then(|d| de.end().map(|()| d));
            match (&text, &serde) {
                (Ok(x), Ok(y)) => {
                    assert!(x.value(Doc::ROOT) == y.value(Doc::ROOT), "{json}");
                    assert_eq!(a, b, "{json}");
                }
                (Err(_), Err(_)) => {}
                _ => panic!("{json}: the text reader gave {text:?}, serde_json {serde:?}"),
            }
        }
    }
}
