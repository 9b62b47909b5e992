//! Object metadata, reduced to what rampart reads.

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::de::null_default;

pub use crate::labels::Labels;

/// The metadata rampart keeps for every object.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    /// `metadata.name`; `generateName` is used when the name is absent.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// `metadata.generateName`.
    #[serde(deserialize_with = "null_default")]
    pub generate_name: String,
    /// `metadata.namespace`; empty for cluster-scoped objects and for manifests that omit it.
    #[serde(deserialize_with = "null_default")]
    pub namespace: String,
    /// `metadata.labels`.
    #[serde(deserialize_with = "null_default")]
    pub labels: Labels,
    /// Only the annotations rampart interprets (see [`KEPT_ANNOTATIONS`]); all others, including
    /// `kubectl.kubernetes.io/last-applied-configuration`, are discarded while parsing.
    #[serde(deserialize_with = "kept_annotations")]
    pub annotations: Labels,
    /// `metadata.ownerReferences`.
    #[serde(deserialize_with = "null_default")]
    pub owner_references: Vec<OwnerReference>,
    /// `metadata.uid`, when the input is a live dump.
    #[serde(deserialize_with = "null_default")]
    pub uid: String,
    /// `metadata.resourceVersion`, when the input is a live dump.
    #[serde(deserialize_with = "null_default")]
    pub resource_version: String,
    /// `metadata.deletionTimestamp`: set once deletion started (a terminating pod).
    #[serde(deserialize_with = "null_default")]
    pub deletion_timestamp: String,
}

impl ObjectMeta {
    /// The name, or `generateName` for objects created with one (Helm hooks, Jobs).
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.generate_name
        } else {
            &self.name
        }
    }
}

/// One `metadata.ownerReferences` entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct OwnerReference {
    /// Owner kind, e.g. `ReplicaSet`.
    #[serde(deserialize_with = "null_default")]
    pub kind: String,
    /// Owner name (same namespace as the owned object).
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Owner UID.
    #[serde(deserialize_with = "null_default")]
    pub uid: String,
    /// Whether this owner is the managing controller.
    pub controller: Option<bool>,
}

/// Annotation keys (exact) and prefixes (ending in `/`) kept by the parser.
pub const KEPT_ANNOTATIONS: &[&str] = &[
    "rampart.dev/",
    "kubernetes.io/service-account.name",
    "kubernetes.io/ingress.class",
    // Mesh membership and Linkerd's default inbound policy.
    "linkerd.io/inject",
    "config.linkerd.io/default-inbound-policy",
    "sidecar.istio.io/inject",
    "istio.io/dry-run",
    "traffic.sidecar.istio.io/excludeInboundPorts",
    "traffic.sidecar.istio.io/includeInboundPorts",
    "config.linkerd.io/skip-inbound-ports",
];

fn keep_annotation(key: &str) -> bool {
    KEPT_ANNOTATIONS.iter().any(|k| {
        if k.ends_with('/') {
            key.starts_with(k)
        } else {
            key == *k
        }
    })
}

fn kept_annotations<'de, D: Deserializer<'de>>(d: D) -> Result<Labels, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Labels;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of annotations")
        }
        fn visit_unit<E>(self) -> Result<Labels, E> {
            Ok(Labels::new())
        }
        fn visit_none<E>(self) -> Result<Labels, E> {
            Ok(Labels::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Labels, D::Error> {
            d.deserialize_map(V)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
            let mut out = Labels::new();
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if keep_annotation(&key) {
                    let value: Option<String> = map.next_value()?;
                    out.insert(key.into_owned(), value.unwrap_or_default());
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(out)
        }
    }
    d.deserialize_option(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_applied_configuration_is_dropped() {
        let m: ObjectMeta = serde_json::from_str(
            r#"{"name":"s","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"password\":\"aHVudGVyMg==\"}}","rampart.dev/crown-jewel":"true"}}"#,
        )
        .unwrap();
        assert_eq!(m.annotations.len(), 1);
        assert!(m.annotations.contains_key("rampart.dev/crown-jewel"));
    }

    #[test]
    fn null_fields_are_defaults() {
        let m: ObjectMeta =
            serde_json::from_str(r#"{"name":"a","labels":null,"annotations":null}"#).unwrap();
        assert!(m.labels.is_empty() && m.annotations.is_empty());
    }
}
