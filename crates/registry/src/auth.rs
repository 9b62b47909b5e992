//! Registry credentials (a `dockerconfigjson`, as a pull secret holds it) and the token
//! handshake of the distribution spec: a `401` names a realm, the realm hands out a bearer
//! token for the repository's `pull` scope.

use std::collections::BTreeMap;

use base64::Engine;

/// The largest credentials file or `WWW-Authenticate` header read.
pub const MAX_CONFIG_LEN: usize = 1024 * 1024;
const MAX_CHALLENGE_LEN: usize = 4096;

/// Why credentials could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("registry credentials are {0} bytes; at most {MAX_CONFIG_LEN} are read")]
    TooLarge(usize),
    #[error("registry credentials are not a docker config.json: {0}")]
    Parse(String),
    #[error("registry credentials for {0}: `auth` is not base64 of user:password")]
    Auth(String),
}

/// User and password per registry host. Never printed: `Debug` shows the hosts only.
#[derive(Clone, Default)]
pub struct Credentials {
    by_registry: BTreeMap<String, (String, String)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.by_registry.keys()).finish()
    }
}

#[derive(serde::Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
}

#[derive(serde::Deserialize)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl Credentials {
    pub fn none() -> Self {
        Self::default()
    }

    /// A `~/.docker/config.json` or a `kubernetes.io/dockerconfigjson` Secret's
    /// `.dockerconfigjson`: `{"auths": {"ghcr.io": {"auth": base64(user:password)}}}`.
    pub fn from_docker_config(json: &[u8]) -> Result<Self, CredentialsError> {
        if json.len() > MAX_CONFIG_LEN {
            return Err(CredentialsError::TooLarge(json.len()));
        }
        // The error names the position only: serde's message could quote a password.
        let config: DockerConfig = serde_json::from_slice(json).map_err(|e| {
            CredentialsError::Parse(format!("line {}, column {}", e.line(), e.column()))
        })?;
        let mut by_registry = BTreeMap::new();
        for (server, auth) in config.auths {
            let host = host_of(&server);
            let pair = match (auth.auth, auth.username, auth.password) {
                (Some(b64), _, _) => {
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(b64.trim())
                        .map_err(|_| CredentialsError::Auth(host.clone()))?;
                    let text =
                        String::from_utf8(raw).map_err(|_| CredentialsError::Auth(host.clone()))?;
                    let (user, password) = text
                        .split_once(':')
                        .ok_or_else(|| CredentialsError::Auth(host.clone()))?;
                    (user.to_string(), password.to_string())
                }
                (None, Some(user), Some(password)) => (user, password),
                _ => continue,
            };
            by_registry.insert(host, pair);
        }
        Ok(Self { by_registry })
    }

    /// Adds `other`'s registries (a namespace's pull secrets over the webhook's own).
    pub fn merged(&self, other: &Credentials) -> Credentials {
        let mut by_registry = self.by_registry.clone();
        by_registry.extend(other.by_registry.clone());
        Credentials { by_registry }
    }

    pub fn is_empty(&self) -> bool {
        self.by_registry.is_empty()
    }

    /// The `Basic` header value for `registry` (`docker.io` also under Docker Hub's old
    /// names).
    pub(crate) fn basic(&self, registry: &str) -> Option<String> {
        let pair = self.by_registry.get(registry).or_else(|| {
            (registry == "docker.io")
                .then(|| {
                    self.by_registry
                        .get("index.docker.io")
                        .or_else(|| self.by_registry.get("registry-1.docker.io"))
                })
                .flatten()
        })?;
        let raw = format!("{}:{}", pair.0, pair.1);
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
    }
}

/// `https://index.docker.io/v1/` → `index.docker.io`; `ghcr.io` → `ghcr.io`.
fn host_of(server: &str) -> String {
    let s = server
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    s.split('/').next().unwrap_or(s).to_string()
}

/// A `WWW-Authenticate` challenge: its scheme (`bearer`, `basic`) and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parses `Bearer realm="https://auth.example/token",service="x",scope="repository:a:pull"`
/// (quoted values may hold commas). `None` when it is too long or no challenge.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    if header.len() > MAX_CHALLENGE_LEN {
        return None;
    }
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.is_empty() {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut escaped = false;
            for c in chars.by_ref() {
                match (escaped, c) {
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    _ => {
                        value.push(c);
                        escaped = false;
                    }
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_configs() {
        let json = br#"{"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
                                   "ghcr.io": {"username": "bot", "password": "p:w"},
                                   "empty.io": {}}}"#;
        let c = Credentials::from_docker_config(json).unwrap();
        assert_eq!(c.basic("docker.io").as_deref(), Some("Basic dXNlcjpwYXNz"));
        assert_eq!(
            c.basic("ghcr.io").as_deref(),
            Some(
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode("bot:p:w")
                )
                .as_str()
            )
        );
        assert!(c.basic("empty.io").is_none());
        // Debug never shows a password.
        assert!(!format!("{c:?}").contains("pass"));
        let bad = br#"{"auths": {"x.io": {"auth": "not base64!"}}}"#;
        assert!(matches!(
            Credentials::from_docker_config(bad),
            Err(CredentialsError::Auth(_))
        ));
        let err = Credentials::from_docker_config(br#"{"auths": {"x.io": {"password": "hunter2"#)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["scope"], "repository:library/nginx:pull,push");
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert!(parse_challenge(&"x".repeat(10_000)).is_none());
        assert!(parse_challenge("").is_none());
        // Garbage parses to something or nothing, never panics.
        for g in [
            "Bearer ====",
            "Bearer realm=\"unterminated",
            "Bearer ,,,,",
            "\u{0}\u{1}",
        ] {
            let _ = parse_challenge(g);
        }
        assert_eq!(encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }
}
