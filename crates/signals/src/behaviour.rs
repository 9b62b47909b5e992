//! Alerts normalised to behaviours. The default mapping covers Falco's standard rules by name
//! and falls back on their tags; an operator's mapping (YAML) replaces it.

use serde::Deserialize;

use crate::falco::Alert;

/// Where a Secret was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretSource {
    /// A mounted file (a Secret volume, a ServiceAccount token), seen by Falco.
    Mounted,
    /// The Kubernetes API, seen in the audit log.
    Api,
}

/// What a workload or identity was seen doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// An interactive or unexpected shell in a container.
    ShellInContainer,
    /// A read of a sensitive host or credential file.
    SensitiveFileRead,
    /// A Secret read.
    SecretRead(SecretSource),
    /// An outbound connection that should not happen (C2, reverse shell, odd destination).
    UnexpectedOutbound,
    /// Privilege escalation or an escape attempt (setuid, ptrace, modules, privileged mounts).
    PrivilegeEscalation,
    /// Drift from the image: package managers, new binaries, fileless execution.
    Drift,
    /// Crypto-mining.
    CryptoMining,
    /// A container talking to the Kubernetes API server unexpectedly.
    ApiServerContact,
    /// Requests to the workload that broke what the request guard learned (an exploit
    /// attempt in progress, alerted or blocked).
    RequestAnomaly,
}

impl Behaviour {
    /// Name used in configuration, metrics and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Behaviour::ShellInContainer => "shell_in_container",
            Behaviour::SensitiveFileRead => "sensitive_file_read",
            Behaviour::SecretRead(SecretSource::Mounted) => "secret_read_mounted",
            Behaviour::SecretRead(SecretSource::Api) => "secret_read_api",
            Behaviour::UnexpectedOutbound => "unexpected_outbound",
            Behaviour::PrivilegeEscalation => "privilege_escalation",
            Behaviour::Drift => "drift",
            Behaviour::CryptoMining => "crypto_mining",
            Behaviour::ApiServerContact => "k8s_api_contact",
            Behaviour::RequestAnomaly => "request_anomaly",
        }
    }

    /// Parses a configured name.
    pub fn parse(s: &str) -> Option<Behaviour> {
        Some(match s {
            "shell_in_container" => Behaviour::ShellInContainer,
            "sensitive_file_read" => Behaviour::SensitiveFileRead,
            "secret_read" | "secret_read_mounted" => Behaviour::SecretRead(SecretSource::Mounted),
            "secret_read_api" => Behaviour::SecretRead(SecretSource::Api),
            "unexpected_outbound" => Behaviour::UnexpectedOutbound,
            "privilege_escalation" => Behaviour::PrivilegeEscalation,
            "drift" => Behaviour::Drift,
            "crypto_mining" => Behaviour::CryptoMining,
            "k8s_api_contact" => Behaviour::ApiServerContact,
            "request_anomaly" => Behaviour::RequestAnomaly,
            _ => return None,
        })
    }
}

/// A bad mapping file.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// Not YAML of the expected shape.
    #[error("behaviour mapping: {0}")]
    Syntax(String),
    /// A behaviour name rampart does not know.
    #[error("behaviour mapping: unknown behaviour {0:?}")]
    UnknownBehaviour(String),
}

/// Rule names and tag sets to behaviours.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Rule names (lowercase) and their behaviour; `None` for rules explicitly ignored.
    rules: Vec<(String, Option<Behaviour>)>,
    tags: Vec<(Vec<String>, Behaviour)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rules: Vec<RuleEntry>,
    #[serde(default)]
    tags: Vec<TagEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    rule: String,
    behaviour: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagEntry {
    tags: Vec<String>,
    behaviour: String,
}

/// The default mapping, in the configuration format (also documentation of it).
pub const DEFAULT_MAPPING: &str = include_str!("default-behaviours.yaml");

impl Default for Mapping {
    fn default() -> Self {
        // The bundled file is tested to parse.
        Mapping::from_yaml(DEFAULT_MAPPING).unwrap_or(Mapping {
            rules: Vec::new(),
            tags: Vec::new(),
        })
    }
}

impl Mapping {
    /// Reads a mapping: `rules: [{rule, behaviour}]` matched by name (ignoring case), then
    /// `tags: [{tags: [...], behaviour}]`, the first entry whose tags the alert all carries.
    pub fn from_yaml(text: &str) -> Result<Mapping, MappingError> {
        let f: File =
            serde_saphyr::from_str(text).map_err(|e| MappingError::Syntax(e.to_string()))?;
        let b = |s: String| Behaviour::parse(&s).ok_or(MappingError::UnknownBehaviour(s));
        Ok(Mapping {
            rules: f
                .rules
                .into_iter()
                .map(|r| {
                    let behaviour = if r.behaviour == "ignore" {
                        None
                    } else {
                        Some(b(r.behaviour)?)
                    };
                    Ok((r.rule.to_ascii_lowercase(), behaviour))
                })
                .collect::<Result<_, MappingError>>()?,
            tags: f
                .tags
                .into_iter()
                .map(|t| Ok((t.tags, b(t.behaviour)?)))
                .collect::<Result<_, MappingError>>()?,
        })
    }

    /// The behaviour an alert shows, if any. A sensitive read of a Secret mount or a
    /// ServiceAccount token is a Secret read.
    pub fn classify(&self, a: &Alert) -> Option<Behaviour> {
        let by_rule = self
            .rules
            .iter()
            .find(|(r, _)| r.eq_ignore_ascii_case(&a.rule))
            .map(|(_, b)| *b);
        // A rule listed as `ignore` is irrelevant, whatever its tags say.
        let b = by_rule.unwrap_or_else(|| {
            self.tags
                .iter()
                .find(|(tags, _)| tags.iter().all(|t| a.tags.iter().any(|x| x == t)))
                .map(|(_, b)| *b)
        })?;
        if b == Behaviour::SensitiveFileRead
            && a.fields.fd_name.as_deref().is_some_and(is_secret_path)
        {
            return Some(Behaviour::SecretRead(SecretSource::Mounted));
        }
        Some(b)
    }
}

/// Where Kubernetes mounts ServiceAccount tokens and, by convention, Secrets.
fn is_secret_path(p: &str) -> bool {
    p.starts_with("/var/run/secrets/") || p.starts_with("/run/secrets/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::falco::parse_alert;

    #[test]
    fn the_default_mapping_parses_and_classifies() {
        let m = Mapping::from_yaml(DEFAULT_MAPPING).unwrap();
        let a =
            parse_alert(br#"{"rule":"Terminal shell in container","priority":"Notice"}"#).unwrap();
        assert_eq!(m.classify(&a), Some(Behaviour::ShellInContainer));
        let token = parse_alert(
            br#"{"rule":"Read sensitive file untrusted","priority":"Warning","output_fields":{"fd.name":"/var/run/secrets/kubernetes.io/serviceaccount/token"}}"#,
        )
        .unwrap();
        assert_eq!(
            m.classify(&token),
            Some(Behaviour::SecretRead(SecretSource::Mounted))
        );
        let shadow = parse_alert(
            br#"{"rule":"Read sensitive file untrusted","priority":"Warning","output_fields":{"fd.name":"/etc/shadow"}}"#,
        )
        .unwrap();
        assert_eq!(m.classify(&shadow), Some(Behaviour::SensitiveFileRead));
        let unknown =
            parse_alert(br#"{"rule":"My own rule","priority":"Notice","tags":["x"]}"#).unwrap();
        assert_eq!(m.classify(&unknown), None);
    }

    #[test]
    fn operators_can_map_their_own_rules() {
        let m = Mapping::from_yaml("rules:\n  - rule: My own rule\n    behaviour: crypto_mining\ntags:\n  - tags: [mine]\n    behaviour: drift\n").unwrap();
        let a = parse_alert(br#"{"rule":"my OWN rule","priority":"Notice"}"#).unwrap();
        assert_eq!(m.classify(&a), Some(Behaviour::CryptoMining));
        let t = parse_alert(br#"{"rule":"x","priority":"Notice","tags":["mine","y"]}"#).unwrap();
        assert_eq!(m.classify(&t), Some(Behaviour::Drift));
        assert!(matches!(
            Mapping::from_yaml("rules:\n  - rule: r\n    behaviour: nope\n"),
            Err(MappingError::UnknownBehaviour(_))
        ));
        assert!(matches!(
            Mapping::from_yaml("rulez: []"),
            Err(MappingError::Syntax(_))
        ));
    }
}
