//! Serde helpers for the shapes real manifests take (explicit `null`s, int-or-string ports).

use serde::{Deserialize, Deserializer};

/// Deserializes `null` as the type's default, so `ports: null` or a bare `volumes:` in YAML is
/// an empty list rather than an error.
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A Kubernetes `IntOrString` (ports, `targetPort`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// A number.
    Int(i64),
    /// A name (or a percentage, for fields that allow one).
    Str(String),
}

impl std::fmt::Display for IntOrString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::Str(s) => f.write_str(s),
        }
    }
}

/// A whole document as JSON, read without `metadata.managedFields` (its own, and each `items`
/// element's when it is a list): server-side apply's bookkeeping is often half of a live
/// object, and no reader of rampart's needs it. Skipped while parsing, so it is never held.
#[derive(Debug)]
pub struct LeanDocument(pub serde_json::Value);

impl<'de> Deserialize<'de> for LeanDocument {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(lean::ValueVisitor {
            depth: lean::Depth::Document,
        })
        .map(LeanDocument)
    }
}

mod lean {
    use std::fmt;

    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer};
    use serde_json::{Map, Value};

    /// Where the value being read sits.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(super) enum Depth {
        /// A document (or a list's item): its `metadata` and `items` are special.
        Document,
        /// A document's `metadata`: `managedFields` is skipped.
        Metadata,
        /// A list's `items`: each element is a document.
        Items,
        /// Anything else: read as it is.
        Plain,
    }

    pub(super) struct ValueVisitor {
        pub(super) depth: Depth,
    }

    impl<'de> DeserializeSeed<'de> for ValueVisitor {
        type Value = Value;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            match self.depth {
                Depth::Plain => Value::deserialize(d),
                _ => d.deserialize_any(self),
            }
        }
    }

    impl<'de> Visitor<'de> for ValueVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_string()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            self.deserialize(d)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let element = match self.depth {
                Depth::Items => Depth::Document,
                _ => Depth::Plain,
            };
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(v) = seq.next_element_seed(ValueVisitor { depth: element })? {
                out.push(v);
            }
            Ok(Value::Array(out))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let depth = match (self.depth, key.as_str()) {
                    (Depth::Metadata, "managedFields") => {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                    (Depth::Document, "metadata") => Depth::Metadata,
                    (Depth::Document, "items") => Depth::Items,
                    _ => Depth::Plain,
                };
                let v = map.next_value_seed(ValueVisitor { depth })?;
                out.insert(key, v);
            }
            Ok(Value::Object(out))
        }
    }
}

#[cfg(test)]
mod lean_tests {
    use super::LeanDocument;

    #[test]
    fn managed_fields_are_never_read_and_everything_else_is_kept() {
        let text = r#"{"apiVersion":"v1","kind":"List","metadata":{"managedFields":[1]},
            "items":[{"kind":"Pod","metadata":{"name":"a","managedFields":[{"f":{"x":1}}],
            "labels":{"managedFields":"kept"}},"spec":{"metadata":{"managedFields":"kept"}}}]}"#;
        let LeanDocument(v) = serde_json::from_str(text).expect("parses");
        assert!(v.pointer("/metadata/managedFields").is_none());
        assert!(v.pointer("/items/0/metadata/managedFields").is_none());
        assert_eq!(v.pointer("/items/0/metadata/name"), Some(&"a".into()));
        assert_eq!(
            v.pointer("/items/0/metadata/labels/managedFields"),
            Some(&"kept".into())
        );
        assert_eq!(
            v.pointer("/items/0/spec/metadata/managedFields"),
            Some(&"kept".into())
        );
        let plain: serde_json::Value =
            serde_json::from_str(r#"[1, 2.5, "x", null, true, {"a": -1}]"#).expect("parses");
        let LeanDocument(lean) =
            serde_json::from_str(r#"[1, 2.5, "x", null, true, {"a": -1}]"#).expect("parses");
        assert_eq!(plain, lean);
    }
}
