//! JSON objects as CEL values, bound once per request.

use std::sync::Arc;

use cel::Value;
use cel::objects::Key;

use crate::Sizes;
use crate::doc::{Doc, Kind};
use crate::typed::At;
use crate::val::Val;

/// The variables of one evaluation and the sizes that bound its cost.
#[derive(Debug, Clone, Default)]
pub struct Activation {
    pub(crate) vars: Vec<(String, Val)>,
    /// Their collections' and strings' sizes.
    pub(crate) sizes: Sizes,
}

impl Activation {
    /// No variables.
    pub fn new() -> Activation {
        Activation::default()
    }

    /// Binds `name` to a JSON value (`null` for an absent one: an `oldObject` on create).
    pub fn bind_json(&mut self, name: &str, json: &serde_json::Value) {
        self.bind_prepared(name, &Prepared::json(json));
    }

    /// Binds `name` to a JSON document's value, read once onto a tape that expressions read in
    /// place (an admission request's object is read once, for this).
    pub fn bind_json_str(&mut self, name: &str, json: &str) -> Result<(), serde_json::Error> {
        self.bind_document(name, &Document::parse(json)?);
        Ok(())
    }

    /// Binds `name` to a document read before (the object the built-in checks read too).
    pub fn bind_document(&mut self, name: &str, d: &Document) {
        self.sizes.absorb(d.sizes());
        self.bind_val(name, Val::Doc(d.doc.clone(), d.root));
    }

    /// Binds `name` to a value read once for many activations (an inventory every request of a
    /// run shares): its values are shared, not copied.
    pub fn bind_prepared(&mut self, name: &str, p: &Prepared) {
        self.sizes.absorb(p.sizes);
        self.bind_val(name, p.val.clone());
    }

    /// Binds `name` to a value (one bound already is replaced).
    pub fn bind(&mut self, name: &str, value: Value) {
        self.bind_val(name, Val::Cel(value));
    }

    fn bind_val(&mut self, name: &str, value: Val) {
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.to_string(), value)),
        }
    }

    /// Blanks the values under the keys `fields` of the map bound as `name` (`data` and
    /// `stringData` of a Secret), keeping the keys: a rule may ask which keys a Secret holds,
    /// never read — or print in a message — what they hold.
    pub fn redact(&mut self, name: &str, fields: &[&str]) {
        let Some((_, bound)) = self.vars.iter_mut().find(|(n, _)| n == name) else {
            return;
        };
        match bound {
            Val::Doc(doc, at) => {
                let doc = Arc::make_mut(doc);
                if *at != Doc::ROOT {
                    // A member of a larger document (the object of a whole review): the copy
                    // keeps this part's text only.
                    doc.confine(*at);
                }
                doc.redact(*at, fields);
            }
            Val::Cel(Value::Map(object)) => {
                let object = Arc::make_mut(&mut object.map);
                for f in fields {
                    if let Some(Value::Map(m)) =
                        object.get_mut(&Key::String(Arc::new((*f).to_string())))
                    {
                        for v in Arc::make_mut(&mut m.map).values_mut() {
                            *v = Value::String(Arc::new(String::new()));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// The sizes of what is bound.
    pub fn sizes(&self) -> Sizes {
        self.sizes
    }

    /// The value bound as `name`.
    pub fn get(&self, name: &str) -> Option<Value> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.to_value())
    }
}

/// A JSON text read once onto a tape: CEL expressions read it in place
/// ([`Activation::bind_document`]), typed objects are deserialized from it ([`Document::typed`])
/// without reading the text again. A member of a document ([`Document::member`]) is a document
/// too, sharing the tape: an AdmissionReview is read once, its object read where it stands.
#[derive(Debug, Clone)]
pub struct Document {
    doc: Arc<Doc>,
    /// The node this document is.
    root: u32,
    /// Its sizes, as reading it alone would count them (a member's are counted when asked:
    /// most members are only passed through on the way to another).
    sizes: Option<Sizes>,
}

impl Document {
    /// Reads a JSON text (serde_json's values, and its refusals in its words).
    pub fn parse(json: &str) -> Result<Document, serde_json::Error> {
        let mut sizes = Sizes::default();
        let doc = match Doc::parse(json, &mut sizes) {
            Ok(doc) => doc,
            // serde_json's own words for what is wrong.
            Err(_) => {
                sizes = Sizes::default();
                let mut de = serde_json::Deserializer::from_str(json);
                let doc = Doc::read(&mut de, &mut sizes)?;
                de.end()?;
                doc
            }
        };
        Ok(Document {
            doc: Arc::new(doc),
            root: Doc::ROOT,
            sizes: Some(sizes),
        })
    }

    /// The document as a `T`: what `serde_json::from_str` gives for its text, or an error where
    /// that fails (in words of its own: no line and column).
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(At {
            doc: &self.doc,
            at: self.root,
        })
    }

    /// The member `key` of this map (the last one given, as serde_json's readers take it);
    /// `None` for another kind of value, a missing key or one set to `null`.
    pub fn member(&self, key: &str) -> Option<Document> {
        let Kind::Map { .. } = self.doc.kind(self.root) else {
            return None;
        };
        let at = self.doc.get(self.root, key)?;
        Some(Document {
            doc: self.doc.clone(),
            root: at,
            sizes: None,
        })
    }

    /// The sizes that bound what evaluating over it costs.
    fn sizes(&self) -> Sizes {
        self.sizes.unwrap_or_else(|| self.doc.sizes_of(self.root))
    }

    /// This document's own text, from `text`, the text it was read from by
    /// [`Document::parse`]: for an object or array read that way, `None` otherwise.
    pub fn source<'t>(&self, text: &'t str) -> Option<&'t str> {
        text.get(self.doc.span(self.root)?)
    }
}

/// A JSON value read once, with its sizes.
#[derive(Debug, Clone)]
pub struct Prepared {
    val: Val,
    sizes: Sizes,
}

impl Prepared {
    /// A JSON value (a tree: reading it cannot fail).
    pub fn json(json: &serde_json::Value) -> Prepared {
        let mut sizes = Sizes::default();
        let val = Doc::read(json, &mut sizes)
            .map_or(Val::Cel(Value::Null), |d| Val::Doc(Arc::new(d), Doc::ROOT));
        Prepared { val, sizes }
    }

    /// A list of JSON values (the objects of an inventory).
    pub fn list(items: &[serde_json::Value]) -> Prepared {
        Prepared::concat(items.iter().map(Prepared::json).collect::<Vec<_>>().iter())
    }

    /// A list of values read before (objects a watch keeps): shared, not copied.
    pub fn concat<'a>(items: impl ExactSizeIterator<Item = &'a Prepared>) -> Prepared {
        let n = items.len() as u64;
        let mut sizes = Sizes {
            largest: n,
            total: n,
            longest_string: 0,
        };
        let val = items
            .map(|p| {
                sizes.absorb(p.sizes);
                p.val.clone()
            })
            .collect();
        Prepared {
            val: Val::List(Arc::new(val)),
            sizes,
        }
    }

    /// The elements of lists read before, as one list (an inventory of several kinds).
    pub fn flatten(lists: &[&Prepared]) -> Prepared {
        let mut sizes = Sizes::default();
        let mut val = Vec::new();
        for p in lists {
            sizes.absorb(p.sizes);
            val.extend(p.val.elements().unwrap_or_default());
        }
        sizes.largest = sizes.largest.max(val.len() as u64);
        Prepared {
            val: Val::List(Arc::new(val)),
            sizes,
        }
    }

    /// JSON null.
    pub fn null() -> Prepared {
        Prepared {
            val: Val::Cel(Value::Null),
            sizes: Sizes::default(),
        }
    }

    /// The sizes that bound what evaluating over it costs.
    pub fn sizes(&self) -> Sizes {
        self.sizes
    }

    pub(crate) fn val(&self) -> &Val {
        &self.val
    }
}

impl Default for Prepared {
    /// The empty list.
    fn default() -> Prepared {
        Prepared::list(&[])
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_text_and_converting_a_tree_agree() {
        let json = r#"{"n": 3, "big": 18446744073709551615, "f": 1.5, "l": [1, 2, {"x": null}], "s": "abc\u00e9", "gone": null}"#;
        let (mut a, mut b) = (Activation::new(), Activation::new());
        a.bind_json_str("o", json).unwrap_or_else(|e| panic!("{e}"));
        b.bind_json("o", &serde_json::from_str(json).unwrap_or_default());
        assert_eq!(a.get("o"), b.get("o"));
        assert_eq!(a.sizes(), b.sizes());
        assert!(a.bind_json_str("o", "{\"a\": ").is_err());
        assert!(a.bind_json_str("o", "{} trailing").is_err());
    }

    #[test]
    fn redacted_values_are_blank_and_keys_stay() {
        let mut a = Activation::new();
        a.bind_json_str(
            "object",
            r#"{"kind": "Secret", "data": {"password": "c2VjcmV0"}, "stringData": {"token": "t0p"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        a.redact("object", &["data", "stringData"]);
        let shown = format!("{:?}", a.vars);
        assert!(
            !shown.contains("c2VjcmV0") && !shown.contains("t0p"),
            "{shown}"
        );
        assert!(
            shown.contains("password") && shown.contains("token"),
            "{shown}"
        );
    }

    #[test]
    fn a_member_is_the_document_its_text_would_be() {
        let texts = [
            r#"{"kind": "Pod", "spec": {"containers": [{"name": "a", "args": ["x", "yy"]}], "n": 1}}"#,
            r#"[1, "two", {"three": [3, 3, 3]}, null, []]"#,
            r#"{"escaped": "a\"b\u00e9\n", "gone": null, "twice": 1, "twice": {"last": "wins"}}"#,
            r#"{}"#,
        ];
        for (i, object) in texts.iter().enumerate() {
            let whole = format!(
                r#"{{"before": {{"k": ["a longer string than any"]}}, "object" : {object} , "after": [1,2,3,4,5,6,7]}}"#
            );
            let d = Document::parse(&whole).unwrap_or_else(|e| panic!("{e}"));
            let alone = Document::parse(object).unwrap_or_else(|e| panic!("{e}"));
            let m = d
                .member("object")
                .unwrap_or_else(|| panic!("case {i}: a member"));
            assert_eq!(m.source(&whole), Some(*object), "case {i}");
            assert_eq!(m.sizes(), alone.sizes(), "case {i}");
            let (mut a, mut b) = (Activation::new(), Activation::new());
            a.bind_document("o", &m);
            b.bind_document("o", &alone);
            assert_eq!(a.get("o"), b.get("o"), "case {i}");
            assert_eq!(
                m.typed::<serde_json::Value>().ok(),
                serde_json::from_str::<serde_json::Value>(object).ok(),
                "case {i}"
            );
        }
        let d = Document::parse(r#"{"a": null, "b": "text", "c": {"d": 1}}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(d.member("a").is_none(), "null is no member");
        assert!(d.member("missing").is_none());
        let b = d.member("b").unwrap_or_else(|| panic!("b"));
        assert_eq!(b.source("…"), None, "a string has no text of its own here");
        assert!(b.member("x").is_none(), "a string has no members");
        let nested = d.member("c").and_then(|c| c.member("d"));
        assert_eq!(nested.and_then(|d| d.typed::<u8>().ok()), Some(1));
    }

    #[test]
    fn a_redacted_member_keeps_nothing_of_the_rest() {
        let whole = r#"{"request": {"oldObject": {"kind": "Secret", "data": {"old": "b2xkc2VjcmV0"}}, "object": {"kind": "Secret", "data": {"password": "c2VjcmV0"}, "stringData": {"token": "t0p"}}}}"#;
        let d = Document::parse(whole).unwrap_or_else(|e| panic!("{e}"));
        let object = d
            .member("request")
            .and_then(|r| r.member("object"))
            .unwrap_or_else(|| panic!("the object"));
        let mut a = Activation::new();
        a.bind_document("object", &object);
        a.redact("object", &["data", "stringData"]);
        let shown = format!("{:?}", a.vars);
        for secret in ["c2VjcmV0", "t0p", "b2xkc2VjcmV0", "oldObject"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("password") && shown.contains("token"),
            "{shown}"
        );
        let Some(Value::Map(m)) = a.get("object") else {
            panic!("a map")
        };
        assert_eq!(m.map.len(), 3, "kind, data and stringData");
        // The document the member came from is left as it was.
        assert!(format!("{d:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn numbers_are_ints_and_sizes_are_kept() {
        let mut a = Activation::new();
        a.bind_json(
            "object",
            &serde_json::json!({"n": 3, "big": u64::MAX, "f": 1.5, "l": [1, 2, 3, 4], "s": "abcdef", "gone": null}),
        );
        let Some(Value::Map(m)) = a.get("object") else {
            panic!("a map")
        };
        let get = |k: &str| m.map.get(&Key::String(Arc::new(k.into()))).cloned();
        assert_eq!(get("n"), Some(Value::Int(3)));
        assert_eq!(get("big"), Some(Value::UInt(u64::MAX)));
        assert_eq!(get("f"), Some(Value::Float(1.5)));
        assert_eq!(get("gone"), None, "a null field is absent");
        assert_eq!(
            a.sizes(),
            Sizes {
                largest: 5,
                total: 9,
                longest_string: 6
            },
            "the object's five keys (the null one is absent) and the list's four items"
        );
    }
}
