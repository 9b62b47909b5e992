//! Labels (or a selector's `matchLabels`): sorted, so output is deterministic, and flat — a few
//! labels in one vector, where a `BTreeMap` spends a 540-byte node on them, which adds up at tens
//! of thousands of objects. On the wire they are always a JSON/YAML map, as Kubernetes has them
//! (empty included: `{}`), and print as a map.

use std::fmt;
use std::ops::{Deref, DerefMut};

use litemap::LiteMap;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Label keys to values, sorted by key.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(LiteMap<String, String>);

impl Labels {
    /// No labels.
    pub const fn new() -> Labels {
        Labels(LiteMap::new())
    }

    /// Whether there are none (a path for `skip_serializing_if`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Deref for Labels {
    type Target = LiteMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Labels {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl FromIterator<(String, String)> for Labels {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Labels {
        Labels(LiteMap::from_iter(iter))
    }
}

impl Extend<(String, String)> for Labels {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl IntoIterator for Labels {
    type Item = (String, String);
    type IntoIter = <LiteMap<String, String> as IntoIterator>::IntoIter;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = (&'a String, &'a String);
    type IntoIter = <&'a LiteMap<String, String> as IntoIterator>::IntoIter;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Serialize for Labels {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Labels, D::Error> {
        struct Map;
        impl<'de> Visitor<'de> for Map {
            type Value = Labels;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of label keys to string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Labels, A::Error> {
                let mut out = LiteMap::with_capacity(m.size_hint().unwrap_or(0).min(64));
                // A repeated key keeps its last value, as a map does.
                while let Some((k, v)) = m.next_entry::<String, String>()? {
                    out.insert(k, v);
                }
                Ok(Labels(out))
            }
        }
        d.deserialize_map(Map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_on_the_wire_and_in_debug_output() {
        let l: Labels = serde_json::from_str(r#"{"b": "2", "a": "1", "b": "3"}"#).unwrap();
        assert_eq!(
            l.iter().collect::<Vec<_>>(),
            [(&"a".into(), &"1".into()), (&"b".into(), &"3".into())]
        );
        assert_eq!(serde_json::to_string(&l).unwrap(), r#"{"a":"1","b":"3"}"#);
        assert_eq!(serde_json::to_string(&Labels::new()).unwrap(), "{}");
        assert_eq!(format!("{l:?}"), r#"{"a": "1", "b": "3"}"#);
        // Kubernetes has no list form of labels.
        assert!(serde_json::from_str::<Labels>(r#"[["a", "1"]]"#).is_err());
        assert!(serde_json::from_str::<Labels>(r#"{"a": 1}"#).is_err());
    }
}
