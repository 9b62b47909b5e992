//! Typed objects read from a tape: a serde `Deserializer` over a [`Doc`]'s nodes.
//!
//! An admission request's object is read once onto a tape for CEL; the built-in checks want it
//! as typed Kubernetes objects. Deserializing those from the tape rather than from the text
//! again skips the second scan of the text (escapes, whitespace, numbers) and reads every string
//! in place. The deserializer hands a type's visitor what serde_json's reader would — every
//! member in order, nulls and repeated keys included (the tape keeps them, marked absent for
//! CEL), positive integers as `u64`, negative ones as `i64`, the rest as `f64` — so a type reads
//! the same value from both, or fails on both (a test and the `cel` fuzz target hold it to that).

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Visitor};
use serde::forward_to_deserialize_any;

use crate::doc::{Doc, Kind};

/// The node `at` of `doc`, as a deserializer.
#[derive(Clone, Copy)]
pub(crate) struct At<'d> {
    pub(crate) doc: &'d Doc,
    pub(crate) at: u32,
}

type Error = serde_json::Error;

impl<'d> de::Deserializer<'d> for At<'d> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'d>>(self, v: V) -> Result<V::Value, Error> {
        match self.doc.kind(self.at) {
            Kind::Null => v.visit_unit(),
            Kind::Bool(b) => v.visit_bool(b),
            // serde_json hands a non-negative integer over as `u64`.
            Kind::Int(i) => match u64::try_from(i) {
                Ok(u) => v.visit_u64(u),
                Err(_) => v.visit_i64(i),
            },
            Kind::UInt(u) => v.visit_u64(u),
            Kind::Float(f) => v.visit_f64(f),
            Kind::Str(s, l) => v.visit_borrowed_str(self.doc.str(s, l)),
            // The value is returned as it is (a pod's container is kilobytes: each move shows).
            kind @ (Kind::List { live, .. } | Kind::Map { live, .. }) => {
                let list = matches!(kind, Kind::List { .. });
                let mut members = Members::new(self, live);
                let out = if list {
                    v.visit_seq(&mut members)?
                } else {
                    v.visit_map(&mut members)?
                };
                // What the type left unread is refused, as serde_json refuses it.
                if members.members.next().is_some() {
                    return Err(de::Error::custom(if list {
                        "fewer elements in array"
                    } else {
                        "fewer elements in map"
                    }));
                }
                Ok(out)
            }
        }
    }

    fn deserialize_option<V: Visitor<'d>>(self, v: V) -> Result<V::Value, Error> {
        match self.doc.kind(self.at) {
            Kind::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'d>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_bytes<V: Visitor<'d>>(self, v: V) -> Result<V::Value, Error> {
        match self.doc.kind(self.at) {
            Kind::Str(s, l) => v.visit_borrowed_bytes(self.doc.str(s, l).as_bytes()),
            _ => self.deserialize_any(v),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'d>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(v)
    }

    fn deserialize_enum<V: Visitor<'d>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match self.doc.kind(self.at) {
            Kind::Str(s, l) => {
                v.visit_enum(BorrowedStrDeserializer::<Error>::new(self.doc.str(s, l)))
            }
            Kind::Map { .. } => {
                let mut members = self.doc.all_members(self.at);
                match (members.next(), members.next()) {
                    (Some(m), None) => v.visit_enum(Variant(At {
                        doc: self.doc,
                        at: m,
                    })),
                    _ => Err(de::Error::invalid_value(
                        de::Unexpected::Map,
                        &"map with a single key",
                    )),
                }
            }
            _ => Err(de::Error::invalid_type(self.unexpected(), &"string or map")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'d>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }

    forward_to_deserialize_any! {
        <W: Visitor<'d>>
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

impl At<'_> {
    fn unexpected(&self) -> de::Unexpected<'_> {
        match self.doc.kind(self.at) {
            Kind::Null => de::Unexpected::Unit,
            Kind::Bool(b) => de::Unexpected::Bool(b),
            Kind::Int(i) => de::Unexpected::Signed(i),
            Kind::UInt(u) => de::Unexpected::Unsigned(u),
            Kind::Float(f) => de::Unexpected::Float(f),
            Kind::Str(s, l) => de::Unexpected::Str(self.doc.str(s, l)),
            Kind::List { .. } => de::Unexpected::Seq,
            Kind::Map { .. } => de::Unexpected::Map,
        }
    }
}

/// Every member of a list or map, in order (a map's absent ones too: serde_json's reader shows
/// a type every key it was given).
struct Members<'d> {
    doc: &'d Doc,
    members: crate::doc::AllMembers<'d>,
    /// A map's member whose key was read, its value not yet.
    value: Option<u32>,
    /// How many elements a list has (a vector of them is made at its size at once).
    live: u32,
}

impl<'d> Members<'d> {
    fn new(at: At<'d>, live: u32) -> Members<'d> {
        Members {
            doc: at.doc,
            members: at.doc.all_members(at.at),
            value: None,
            live,
        }
    }
}

impl<'d> de::SeqAccess<'d> for &mut Members<'d> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'d>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.members.next() {
            None => Ok(None),
            Some(at) => seed.deserialize(At { doc: self.doc, at }).map(Some),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.live as usize)
    }
}

impl<'d> de::MapAccess<'d> for &mut Members<'d> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'d>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(at) = self.members.next() else {
            return Ok(None);
        };
        self.value = Some(at);
        seed.deserialize(BorrowedStrDeserializer::new(self.doc.key(at)))
            .map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'d>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let at = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a map's value asked for before its key"))?;
        seed.deserialize(At { doc: self.doc, at })
    }
}

/// An enum given as a map of one member: the key names the variant.
struct Variant<'d>(At<'d>);

impl<'d> de::EnumAccess<'d> for Variant<'d> {
    type Error = Error;
    type Variant = At<'d>;
    fn variant_seed<V: DeserializeSeed<'d>>(self, seed: V) -> Result<(V::Value, At<'d>), Error> {
        let key = self.0.doc.key(self.0.at);
        let v = seed.deserialize(BorrowedStrDeserializer::<Error>::new(key))?;
        Ok((v, self.0))
    }
}

impl<'d> de::VariantAccess<'d> for At<'d> {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        de::Deserialize::deserialize(self)
    }
    fn newtype_variant_seed<T: DeserializeSeed<'d>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'d>>(self, _len: usize, v: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, v)
    }
    fn struct_variant<V: Visitor<'d>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_map(self, v)
    }
}
