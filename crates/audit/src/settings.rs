//! The values checks compare against, with kubescape's defaults (its
//! `default-config-inputs.json`), so that the same objects give the same findings. Operators
//! override them with a file in kubescape's own shape ([`Settings::from_posture_inputs`]).

use regex::Regex;
use serde_json::Value;

/// Settings of the checks that read any.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Capabilities a container must not add (`insecureCapabilities`).
    pub insecure_capabilities: Vec<String>,
    /// Key names that suggest a credential (`sensitiveKeyNames`), matched case-insensitively
    /// as substrings.
    pub sensitive_key_names: Vec<String>,
    /// Patterns of values that look like a credential (`sensitiveValues`).
    pub sensitive_values: Vec<Regex>,
    /// The same patterns, ignoring case (environment values: `bearer` is a `Bearer` token).
    pub sensitive_values_any_case: Vec<Regex>,
    /// Key names never reported (`sensitiveKeyNamesAllowed`), matched as substrings.
    pub sensitive_key_names_allowed: Vec<String>,
    /// Values never reported (`sensitiveValuesAllowed`), patterns.
    pub sensitive_values_allowed: Vec<Regex>,
}

const INSECURE_CAPABILITIES: &[&str] = &[
    "SETPCAP",
    "NET_ADMIN",
    "NET_RAW",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_PTRACE",
    "SYS_ADMIN",
    "SYS_BOOT",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "PERFMON",
    "ALL",
    "BPF",
];

const SENSITIVE_KEY_NAMES: &[&str] = &[
    "aws_secret_access_key",
    "azure_batchai_storage_key",
    "azure_batch_key",
    "secret",
    "key",
    "password",
    "pwd",
    "token",
    "jwt",
    "bearer",
    "credential",
];

const SENSITIVE_VALUES: &[&str] = &[
    r"BEGIN \w+ PRIVATE KEY",
    "PRIVATE KEY",
    "eyJhbGciO",
    "JWT",
    "Bearer",
    "_key_",
    "_secret_",
    "AKIA[0-9A-Z]{16}",
    "ghp_[0-9A-Za-z]{36}",
    r"AIza[0-9A-Za-z\-_]{35}",
    "xox[baprs]-[0-9A-Za-z]{10,48}",
];

/// A setting that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// Not a list of strings.
    #[error("setting {0} is not a list of strings")]
    NotStrings(String),
    /// A pattern that is not a regular expression.
    #[error("setting: {0:?} is not a regular expression: {1}")]
    BadPattern(String, String),
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn patterns(list: &[impl AsRef<str>], any_case: bool) -> Result<Vec<Regex>, SettingsError> {
    list.iter()
        .map(|p| {
            // Bounded: a hostile pattern cannot blow the compiled size up.
            regex::RegexBuilder::new(p.as_ref())
                .case_insensitive(any_case)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| SettingsError::BadPattern(p.as_ref().to_string(), e.to_string()))
        })
        .collect()
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            insecure_capabilities: strings(INSECURE_CAPABILITIES),
            sensitive_key_names: strings(SENSITIVE_KEY_NAMES),
            sensitive_values: patterns(SENSITIVE_VALUES, false)
                .expect("the default patterns compile"),
            sensitive_values_any_case: patterns(SENSITIVE_VALUES, true)
                .expect("the default patterns compile"),
            sensitive_key_names_allowed: Vec::new(),
            sensitive_values_allowed: Vec::new(),
        }
    }
}

impl Settings {
    /// The defaults with every key of `inputs` (kubescape's `postureControlInputs` object)
    /// replacing its default; unknown keys are ignored.
    pub fn from_posture_inputs(inputs: &Value) -> Result<Settings, SettingsError> {
        let mut s = Settings::default();
        let list = |key: &str| -> Result<Option<Vec<String>>, SettingsError> {
            let Some(v) = inputs.get(key) else {
                return Ok(None);
            };
            v.as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|x| x.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                })
                .map(Some)
                .ok_or_else(|| SettingsError::NotStrings(key.into()))
        };
        if let Some(v) = list("insecureCapabilities")? {
            s.insecure_capabilities = v;
        }
        if let Some(v) = list("sensitiveKeyNames")? {
            s.sensitive_key_names = v;
        }
        if let Some(v) = list("sensitiveValues")? {
            s.sensitive_values = patterns(&v, false)?;
            s.sensitive_values_any_case = patterns(&v, true)?;
        }
        if let Some(v) = list("sensitiveKeyNamesAllowed")? {
            s.sensitive_key_names_allowed = v;
        }
        if let Some(v) = list("sensitiveValuesAllowed")? {
            s.sensitive_values_allowed = patterns(&v, false)?;
        }
        Ok(s)
    }
}
