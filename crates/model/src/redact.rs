//! Redaction of input text quoted in error messages.
//!
//! Parser errors quote the input they trip over (`invalid type: string "…", expected a
//! sequence`), and a manifest misread in the wrong place can put a token, a password or a
//! certificate exactly there. Error messages end up in terminals, CI logs, JSON reports and the
//! dashboard, so every message the loader builds goes through [`redact_excerpt`] first: it keeps
//! what locates and explains the problem (field names, kinds, line and column numbers, short
//! values) and cuts what looks like a credential.

/// Longest message kept, in characters; the rest is cut and marked with `…`.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// A run of token characters at least this long is redacted when it looks random.
const MIN_SECRET_RUN: usize = 16;

/// A long segment with at least this many digits is redacted: names carry one or two (`K8s`,
/// `v1beta1`), hex and base64 carry them throughout.
const MIN_SECRET_DIGITS: usize = 3;

/// A segment (between `.`, `_` and `-`) at least this long is redacted whatever it holds.
/// Kubernetes identifiers run past 32 letters (`ValidatingAdmissionPolicyBinding`,
/// `persistentVolumeClaimRetentionPolicy`) but not past 64; a random string this long without a
/// digit, `+` or `=` is rare, so this only catches what the digit rule misses.
const ALWAYS_SECRET_SEGMENT: usize = 64;

/// A quoted excerpt longer than this is cut to its first characters.
const MAX_QUOTED_CHARS: usize = 24;

/// Characters kept at the start of a redacted run, so the reader can still tell which value
/// was meant.
const KEEP_CHARS: usize = 4;

/// Key names whose value is redacted whatever it looks like (`token: x`, `password=x`).
const SECRET_KEYS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "secret",
    "apikey",
    "api_key",
    "api-key",
    "credential",
    "credentials",
    "bearer",
    "privatekey",
    "private_key",
];

/// Returns `msg` with secret-looking excerpts replaced, capped at [`MAX_MESSAGE_CHARS`].
///
/// * a run of `[A-Za-z0-9+/=_.-]` of 16 or more characters is replaced by its first 4 characters
///   and `…(N chars redacted)` when it looks random: one of its segments (split at `.`, `_`,
///   `-`) is 16 or more characters and holds 3 or more digits or is less than half lower-case
///   words (stretches of 3 or more lower-case letters), or is 64 or more characters. Names
///   (`serviceAccountName`, `K8sPSPPrivilegedContainer`, `rbac.authorization.k8s.io/v1`) are
///   kept;
/// * a quoted excerpt (`"…"` or `` `…` ``) longer than 24 characters that is more than one such
///   run (free text) is cut the same way;
/// * the value after a secret-like key (`token:`, `password=`, `"secret": "…"`) is replaced
///   whole, whatever its length.
pub fn redact_excerpt(msg: &str) -> String {
    let mut out = Redacted::default();
    let bytes = msg.as_bytes();
    let mut i = 0;
    while i < bytes.len() && !out.full() {
        let b = bytes[i];
        if is_run_byte(b) {
            let start = i;
            while i < bytes.len() && is_run_byte(bytes[i]) {
                i += 1;
            }
            let run = &msg[start..i];
            // `=` is a token character (base64 padding), so `password=x` is one run.
            match run.split_once('=') {
                Some((key, value)) if is_secret_key(key) => {
                    out.push_str(key);
                    out.push_char('=');
                    if value.is_empty() {
                        // `token= hunter2`: the value is the next word.
                        i = redact_value(msg, i, &mut out);
                        continue;
                    }
                    out.hidden(value);
                }
                _ if looks_secret(run) => out.redacted(run),
                _ => out.push_str(run),
            }
            if is_secret_key(run) && assigns(&bytes[i..]) {
                i = redact_value(msg, i, &mut out);
            }
            continue;
        }
        if (b == b'"' || b == b'`')
            && let Some(len) = bytes[i + 1..].iter().position(|c| *c == b)
        {
            // Quote characters are ASCII, so both ends are character boundaries.
            let inner = &msg[i + 1..i + 1 + len];
            // One word is left to the run rule (a long field name in backticks is fine);
            // free text is what a misread value looks like.
            if inner.chars().count() > MAX_QUOTED_CHARS && !inner.bytes().all(is_run_byte) {
                out.push_char(char::from(b));
                out.redacted(inner);
                out.push_char(char::from(b));
                i += len + 2;
                continue;
            }
        }
        // Any other character, multi-byte ones whole (run bytes and quotes are ASCII, so `i` is
        // always on a character boundary here).
        let Some(c) = msg[i..].chars().next() else {
            break;
        };
        out.push_char(c);
        i += c.len_utf8();
    }
    if i < bytes.len() {
        out.text.push('…');
    }
    out.text
}

/// Copies the separator after a secret-like key (`: `, `=`, `": "`) and redacts the value that
/// follows: up to the closing quote when it is quoted, else one run of token characters.
/// Returns where the text goes on.
fn redact_value(msg: &str, mut i: usize, out: &mut Redacted) -> usize {
    let bytes = msg.as_bytes();
    let separator = i;
    // `[` too: `"token": ["x"]` is a value in a list.
    while i < bytes.len()
        && matches!(
            bytes[i],
            b' ' | b'\t' | b':' | b'=' | b'"' | b'\'' | b'`' | b'['
        )
    {
        out.push_char(char::from(bytes[i]));
        i += 1;
    }
    match (i > separator).then(|| bytes[i - 1]) {
        Some(q @ (b'"' | b'\'' | b'`')) => {
            let end = bytes[i..]
                .iter()
                .position(|c| *c == q)
                .map_or(bytes.len(), |p| i + p);
            out.hidden(&msg[i..end]);
            // The closing quote is this value's: left for the main loop it would pair with
            // the next opening quote and shift every quoted excerpt after it.
            if end < bytes.len() {
                out.push_char(char::from(q));
                end + 1
            } else {
                end
            }
        }
        _ => {
            let start = i;
            while i < bytes.len() && is_run_byte(bytes[i]) {
                i += 1;
            }
            out.hidden(&msg[start..i]);
            i
        }
    }
}

/// The output, counting characters so the cap is exact.
#[derive(Default)]
struct Redacted {
    text: String,
    chars: usize,
}

impl Redacted {
    fn full(&self) -> bool {
        self.chars >= MAX_MESSAGE_CHARS
    }
    fn push_char(&mut self, c: char) {
        if !self.full() {
            self.text.push(c);
            self.chars += 1;
        }
    }
    fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            self.push_char(c);
        }
    }
    /// Keeps the first few characters, so the reader can still tell which value was meant.
    fn redacted(&mut self, s: &str) {
        self.cut(s, KEEP_CHARS);
    }
    /// Keeps nothing: the value of a secret-like key may be short enough that its first
    /// characters are most of it.
    fn hidden(&mut self, s: &str) {
        self.cut(s, 0);
    }
    fn cut(&mut self, s: &str, keep: usize) {
        if s.is_empty() {
            return;
        }
        let total = s.chars().count();
        let kept: String = s.chars().take(keep).collect();
        self.push_str(&kept);
        self.push_str(&format!("…({} chars redacted)", total.saturating_sub(keep)));
    }
}

fn is_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'.' | b'-')
}

/// Whether a run looks random rather than like a name. Names (`serviceAccountName`,
/// `K8sBlockLoadBalancer`, `ValidatingAdmissionPolicyBinding`) are mostly lower-case words of
/// three letters or more, with a digit or two at most; encoded secrets mix upper case, lower
/// case and digits throughout, so lower-case stretches that long cover little of them.
fn looks_secret(run: &str) -> bool {
    run.len() >= MIN_SECRET_RUN
        && run.split(['.', '_', '-']).any(|seg| {
            let len = seg.len();
            if len >= ALWAYS_SECRET_SEGMENT {
                return true;
            }
            if len < MIN_SECRET_RUN {
                return false;
            }
            let digits = seg.bytes().filter(u8::is_ascii_digit).count();
            digits >= MIN_SECRET_DIGITS || word_letters(seg) * 2 < len
        })
}

/// How many characters of `seg` are in lower-case stretches of three letters or more.
fn word_letters(seg: &str) -> usize {
    seg.split(|c: char| !c.is_ascii_lowercase())
        .map(str::len)
        .filter(|n| *n >= 3)
        .sum()
}

/// Whether a word names a secret (`token`, `clientSecret`, `db_password`, …).
fn is_secret_key(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|k| lower.ends_with(k))
}

/// Whether what follows a word assigns it a value (`: `, `=`, `": "`).
fn assigns(rest: &[u8]) -> bool {
    rest.iter()
        .find(|c| !matches!(c, b' ' | b'\t' | b'"' | b'\'' | b'`'))
        .is_some_and(|c| matches!(c, b':' | b'='))
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.abcdefghijklmnop";

    #[test]
    fn tokens_in_serde_messages_are_cut() {
        let m = redact_excerpt(&format!(
            "invalid Pod: invalid type: string \"{JWT}\", expected a sequence at line 1 column 132"
        ));
        assert!(!m.contains("hbGciOiJSUzI1NiIs"), "{m}");
        assert!(
            m.starts_with("invalid Pod: invalid type: string \"eyJh…("),
            "{m}"
        );
        assert!(
            m.ends_with("expected a sequence at line 1 column 132"),
            "{m}"
        );
    }

    #[test]
    fn identifiers_and_numbers_are_kept() {
        for m in [
            "invalid ClusterRoleBinding: missing field `serviceAccountName`",
            "ClusterRoleBinding (rbac.authorization.k8s.io/v1)",
            "ValidatingAdmissionPolicyBinding (admissionregistration.k8s.io/v1)",
            "K8sRequiredLabels (constraints.gatekeeper.sh/v1beta1)",
            "K8sBlockLoadBalancer, K8sBlockEndpointEditDefaultRole",
            "K8sPSPHostNetworkingPorts, K8sPSPPrivilegedContainer",
            "mountPath /var/run/secrets/kubernetes.io/serviceaccount",
            "unknown field `persistentVolumeClaimRetentionPolicy`",
            "kubectl.kubernetes.io/last-applied-configuration",
            "more than 1000000 documents; the rest of the file is skipped",
            "owner 8c800470-d85f-11e8-88b6-080027728ac4",
            "invalid type: string \"80\", expected i64",
            "invalid JSON: expected `,` or `}` at line 1 column 67",
        ] {
            assert_eq!(redact_excerpt(m), m);
        }
    }

    #[test]
    fn long_runs_hex_and_base64_are_redacted() {
        for secret in [
            "c2VjcmV0LXZhbHVlLWZvci10ZXN0aW5n",
            "0123456789abcdef0123456789abcdef",
            "Zr4Tq9mXv2LpW8nB0cYh/7KsD3fGj6aE1uQoNiR5w",
            "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
            "AKIAIOSFODNNXEXAMPLE",
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmn",
        ] {
            let m = redact_excerpt(&format!("value {secret} here"));
            assert!(!m.contains(secret), "{m}");
            assert!(m.contains("chars redacted)"), "{m}");
            assert!(m.ends_with(" here"), "{m}");
        }
    }

    #[test]
    fn values_after_secret_keys_are_redacted_whatever_their_length() {
        for (m, hidden) in [
            ("token: hunter2 at line 3", "hunter2"),
            ("password=swordfish", "swordfish"),
            ("\"clientSecret\": \"short one\" x", "short one"),
            ("db_password: `abc`", "abc"),
            ("env API_TOKEN=abc def", "abc"),
            ("token= hunter2", "hunter2"),
            ("\"token\": [\"xyzzy\"]", "xyzzy"),
        ] {
            let r = redact_excerpt(m);
            assert!(!r.contains(hidden), "{m} → {r}");
        }
        // The value's closing quote ends it: the quoted excerpt after it is judged on its own.
        let r = redact_excerpt(r#"password: "pw" and "a few words of free text here""#);
        assert!(!r.contains("pw\"") && !r.contains("free text"), "{r}");
        // A key named without a value is kept.
        assert_eq!(
            redact_excerpt("missing field `token`"),
            "missing field `token`"
        );
    }

    #[test]
    fn long_quotes_are_cut_and_the_message_is_capped() {
        let m = redact_excerpt("invalid type: string \"a few words of free text here\", x");
        assert_eq!(
            m, "invalid type: string \"a fe…(25 chars redacted)\", x",
            "{m}"
        );
        let long = "word ".repeat(1000);
        let m = redact_excerpt(&long);
        assert_eq!(m.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(m.ends_with('…'));
    }

    #[test]
    fn any_text_is_handled() {
        for m in [
            "",
            "\"",
            "`unterminated",
            "ünïcödé ✓ \"ünïcödé ✓ ünïcödé ✓ ünïcödé ✓ ünïcödé\"",
            "token:",
            "token: \"",
        ] {
            let _ = redact_excerpt(m);
        }
    }
}
