//! Label selectors (`matchLabels` + `matchExpressions`) with Kubernetes semantics.

use serde::{Deserialize, Serialize};

use crate::de::null_default;
use crate::meta::Labels;

/// A `metav1.LabelSelector`. The empty selector matches everything.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase", default)]
pub struct LabelSelector {
    /// Every pair must be present.
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "Labels::is_empty"
    )]
    pub match_labels: Labels,
    /// Every requirement must hold.
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_expressions: Vec<Requirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// How `values` are used.
    pub operator: Operator,
    /// Values for `In` / `NotIn`; must be empty for `Exists` / `DoesNotExist`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub values: Vec<String>,
}

/// Selector operators. Cilium's selectors take them in any case (its examples write `in`);
/// the API server refuses those spellings on Kubernetes objects, so accepting them is
/// harmless there.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
pub enum Operator {
    /// Key present with one of the values.
    #[serde(alias = "in")]
    In,
    /// Key absent, or present with none of the values.
    #[serde(alias = "notin", alias = "notIn")]
    NotIn,
    /// Key present.
    #[serde(alias = "exists")]
    Exists,
    /// Key absent.
    #[serde(alias = "doesnotexist", alias = "doesNotExist")]
    DoesNotExist,
}

/// Why a selector is invalid (the API server would reject the object).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// `In`/`NotIn` need at least one value.
    #[error("matchExpressions key {key:?}: operator {op:?} needs at least one value")]
    MissingValues {
        /// The key.
        key: String,
        /// The operator.
        op: Operator,
    },
    /// `Exists`/`DoesNotExist` take no values.
    #[error("matchExpressions key {key:?}: operator {op:?} takes no values")]
    UnexpectedValues {
        /// The key.
        key: String,
        /// The operator.
        op: Operator,
    },
    /// Empty key.
    #[error("matchExpressions has an empty key")]
    EmptyKey,
    /// A key no label can have (`:` is not allowed in label keys; rampart's own pseudo-labels
    /// use it, so no policy may select by them).
    #[error("label key {0:?} is invalid (':' is not allowed)")]
    InvalidKey(String),
}

impl LabelSelector {
    /// A selector that matches exactly these labels.
    pub fn from_labels(labels: Labels) -> Self {
        LabelSelector {
            match_labels: labels,
            match_expressions: Vec::new(),
        }
    }

    /// True when the selector has no terms and so matches every object.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Checks the selector the way the API server validates it.
    pub fn validate(&self) -> Result<(), SelectorError> {
        if let Some(k) = self
            .match_labels
            .keys()
            .chain(self.match_expressions.iter().map(|r| &r.key))
            .find(|k| k.contains(':'))
        {
            return Err(SelectorError::InvalidKey(k.clone()));
        }
        for r in &self.match_expressions {
            if r.key.is_empty() {
                return Err(SelectorError::EmptyKey);
            }
            match r.operator {
                Operator::In | Operator::NotIn if r.values.is_empty() => {
                    return Err(SelectorError::MissingValues {
                        key: r.key.clone(),
                        op: r.operator,
                    });
                }
                Operator::Exists | Operator::DoesNotExist if !r.values.is_empty() => {
                    return Err(SelectorError::UnexpectedValues {
                        key: r.key.clone(),
                        op: r.operator,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether `labels` satisfy every term.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }
}

impl Requirement {
    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.key);
        match self.operator {
            Operator::In => v.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Operator::NotIn => v.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            Operator::Exists => v.is_some(),
            Operator::DoesNotExist => v.is_none(),
        }
    }
}

impl std::fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return f.write_str("{}");
        }
        let mut first = true;
        let mut sep = |f: &mut std::fmt::Formatter<'_>| {
            if first {
                first = false;
                Ok(())
            } else {
                f.write_str(",")
            }
        };
        for (k, v) in &self.match_labels {
            sep(f)?;
            write!(f, "{k}={v}")?;
        }
        for r in &self.match_expressions {
            sep(f)?;
            match r.operator {
                Operator::In => write!(f, "{} in ({})", r.key, r.values.join(","))?,
                Operator::NotIn => write!(f, "{} notin ({})", r.key, r.values.join(","))?,
                Operator::Exists => write!(f, "{}", r.key)?,
                Operator::DoesNotExist => write!(f, "!{}", r.key)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sel(json: &str) -> LabelSelector {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn empty_matches_everything() {
        assert!(sel("{}").matches(&labels(&[])));
        assert!(sel("{}").matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn operators() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        assert!(
            sel(r#"{"matchExpressions":[{"key":"app","operator":"In","values":["web","db"]}]}"#)
                .matches(&l)
        );
        assert!(
            !sel(r#"{"matchExpressions":[{"key":"app","operator":"NotIn","values":["web"]}]}"#)
                .matches(&l)
        );
        assert!(
            sel(r#"{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["a"]}]}"#)
                .matches(&l)
        );
        assert!(sel(r#"{"matchExpressions":[{"key":"tier","operator":"Exists"}]}"#).matches(&l));
        assert!(
            !sel(r#"{"matchExpressions":[{"key":"tier","operator":"DoesNotExist"}]}"#).matches(&l)
        );
        assert!(!sel(r#"{"matchLabels":{"app":"web","x":"y"}}"#).matches(&l));
    }

    #[test]
    fn validation() {
        assert!(
            sel(r#"{"matchExpressions":[{"key":"a","operator":"In"}]}"#)
                .validate()
                .is_err()
        );
        assert!(
            sel(r#"{"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]}"#)
                .validate()
                .is_err()
        );
        assert!(
            serde_json::from_str::<LabelSelector>(
                r#"{"matchExpressions":[{"key":"a","operator":"Like"}]}"#
            )
            .is_err()
        );
    }
}
