//! JSON objects as CEL values, bound once per request.

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;
use cel::objects::{Key, Map};

use crate::Sizes;

/// The variables of one evaluation and the sizes that bound its cost.
#[derive(Debug, Clone, Default)]
pub struct Activation {
    pub(crate) vars: Vec<(String, Value)>,
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

    /// Binds `name` to a JSON document's value, read straight into CEL values (no JSON tree in
    /// between: an admission request's object is read once, for this).
    pub fn bind_json_str(&mut self, name: &str, json: &str) -> Result<(), serde_json::Error> {
        let mut sizes = Sizes::default();
        let mut de = serde_json::Deserializer::from_str(json);
        let value = serde::de::DeserializeSeed::deserialize(Seed(&mut sizes), &mut de)?;
        de.end()?;
        self.bind_prepared(name, &Prepared { value, sizes });
        Ok(())
    }

    /// Binds `name` to a value read once for many activations (an inventory every request of a
    /// run shares): its values are shared, not copied.
    pub fn bind_prepared(&mut self, name: &str, p: &Prepared) {
        self.sizes.absorb(p.sizes);
        self.bind(name, p.value.clone());
    }

    /// Binds `name` to a value (one bound already is replaced).
    pub fn bind(&mut self, name: &str, value: Value) {
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.to_string(), value)),
        }
    }

    /// Blanks the values under the keys `fields` of the map bound as `name` (`data` and
    /// `stringData` of a Secret), keeping the keys: a rule may ask which keys a Secret holds,
    /// never read — or print in a message — what they hold.
    pub fn redact(&mut self, name: &str, fields: &[&str]) {
        let Some((_, Value::Map(object))) = self.vars.iter_mut().find(|(n, _)| n == name) else {
            return;
        };
        let object = Arc::make_mut(&mut object.map);
        for f in fields {
            if let Some(Value::Map(m)) = object.get_mut(&Key::String(Arc::new((*f).to_string()))) {
                for v in Arc::make_mut(&mut m.map).values_mut() {
                    *v = Value::String(Arc::new(String::new()));
                }
            }
        }
    }

    /// The sizes of what is bound.
    pub fn sizes(&self) -> Sizes {
        self.sizes
    }
}

/// A JSON value read into a CEL value once, with its sizes.
#[derive(Debug, Clone)]
pub struct Prepared {
    value: Value,
    sizes: Sizes,
}

impl Prepared {
    /// A JSON value (a tree: reading it cannot fail).
    pub fn json(json: &serde_json::Value) -> Prepared {
        let mut sizes = Sizes::default();
        let value =
            serde::de::DeserializeSeed::deserialize(Seed(&mut sizes), json).unwrap_or(Value::Null);
        Prepared { value, sizes }
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
        let value = items
            .map(|p| {
                sizes.absorb(p.sizes);
                p.value.clone()
            })
            .collect();
        Prepared {
            value: Value::List(Arc::new(value)),
            sizes,
        }
    }

    /// The elements of lists read before, as one list (an inventory of several kinds).
    pub fn flatten(lists: &[&Prepared]) -> Prepared {
        let mut sizes = Sizes::default();
        let mut value = Vec::new();
        for p in lists {
            sizes.absorb(p.sizes);
            if let Value::List(items) = &p.value {
                value.extend(items.iter().cloned());
            }
        }
        sizes.largest = sizes.largest.max(value.len() as u64);
        Prepared {
            value: Value::List(Arc::new(value)),
            sizes,
        }
    }

    /// JSON null.
    pub fn null() -> Prepared {
        Prepared {
            value: Value::Null,
            sizes: Sizes::default(),
        }
    }

    /// The sizes that bound what evaluating over it costs.
    pub fn sizes(&self) -> Sizes {
        self.sizes
    }

    pub(crate) fn value(&self) -> &Value {
        &self.value
    }
}

impl Default for Prepared {
    /// The empty list.
    fn default() -> Prepared {
        Prepared::list(&[])
    }
}

/// Reads a JSON value — text, or a JSON tree — as a CEL value, counting sizes: numbers as `int`
/// where they are integers (as the API server's CEL sees them), a field set to null absent.
struct Seed<'s>(&'s mut Sizes);

impl<'de> serde::de::DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Seed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::UInt(v), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        self.0.longest_string = self.0.longest_string.max(v.len() as u64);
        Ok(Value::String(Arc::new(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        self.0.longest_string = self.0.longest_string.max(v.len() as u64);
        Ok(Value::String(Arc::new(v)))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = a.next_element_seed(Seed(&mut *self.0))? {
            out.push(v);
        }
        self.0.largest = self.0.largest.max(out.len() as u64);
        self.0.total = self.0.total.saturating_add(out.len() as u64);
        Ok(Value::List(Arc::new(out)))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut map: HashMap<Key, Value> = HashMap::with_capacity(a.size_hint().unwrap_or(0));
        while let Some(k) = a.next_key::<String>()? {
            let v = a.next_value_seed(Seed(&mut *self.0))?;
            // A field set to null is absent, as in the API server's typed objects (`has(x.f)`
            // is false; `creationTimestamp: null` is no timestamp).
            if v != Value::Null {
                map.insert(Key::String(Arc::new(k)), v);
            }
        }
        self.0.largest = self.0.largest.max(map.len() as u64);
        self.0.total = self.0.total.saturating_add(map.len() as u64);
        Ok(Value::Map(Map { map: Arc::new(map) }))
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
        assert_eq!(a.vars, b.vars);
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
    fn numbers_are_ints_and_sizes_are_kept() {
        let mut a = Activation::new();
        a.bind_json(
            "object",
            &serde_json::json!({"n": 3, "big": u64::MAX, "f": 1.5, "l": [1, 2, 3, 4], "s": "abcdef", "gone": null}),
        );
        let Value::Map(m) = &a.vars[0].1 else {
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
