//! Kubernetes object names: which names the API server accepts, and names rampart generates.
//!
//! rampart writes objects named after the cluster's (`rampart-ingress-<workload>`). Names read
//! from manifests or dumps were never validated by an API server, so `<script>`, `Web.App` or a
//! 300-character name reach those templates; [`dns_subdomain`] and [`dns_label`] turn any text
//! into a name the API server accepts, and [`is_valid_name`] tells which input names it would
//! have rejected (`rampart scan` warns about them).

use std::borrow::Cow;

/// Longest DNS-1123 label (Namespaces, Services, and rampart's own NetworkPolicy names).
pub const LABEL_MAX: usize = 63;
/// Longest DNS-1123 subdomain (most other objects).
pub const SUBDOMAIN_MAX: usize = 253;

/// One DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns_label(s: &str) -> bool {
    s.len() <= LABEL_MAX && label_shape(s)
}

/// A DNS-1123 subdomain: labels joined by dots, at most 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= SUBDOMAIN_MAX && s.split('.').all(label_shape)
}

fn label_shape(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && b.iter().all(|c| alnum(c) || *c == b'-')
        }
        _ => false,
    }
}

/// Whether the API server would accept `name` as the name of an object of `kind` (a Kubernetes
/// kind name, e.g. `Deployment`). Namespaces and Services are DNS labels; RBAC objects may hold
/// any path segment (`system:controller:…`); everything else is a DNS subdomain. An empty name
/// counts as valid here: a missing name is the loader's error, not a naming one.
pub fn is_valid_name(kind: &str, name: &str) -> bool {
    if name.is_empty() {
        return true;
    }
    match kind {
        "Namespace" | "Service" => is_dns_label(name),
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => {
            name != "." && name != ".." && !name.contains(['/', '%'])
        }
        _ => is_dns_subdomain(name),
    }
}

/// `raw` as a DNS-1123 subdomain of at most `max` characters (clamped to 1..=253), for a name
/// rampart generates from cluster text. A name already valid is returned as it is. Otherwise
/// it is lowercased, every other character becomes `-`, dots are kept only between labels,
/// and a hash of `raw` is appended (the text cut to make room): two different inputs do not end
/// up with the same name because their invalid characters were replaced alike or because they
/// share a long prefix.
pub fn dns_subdomain(raw: &str, max: usize) -> Cow<'_, str> {
    generated(raw, max.clamp(1, SUBDOMAIN_MAX), true)
}

/// `raw` as a DNS-1123 label (no dots) of at most 63 characters; see [`dns_subdomain`].
pub fn dns_label(raw: &str) -> Cow<'_, str> {
    generated(raw, LABEL_MAX, false)
}

fn generated(raw: &str, max: usize, dots: bool) -> Cow<'_, str> {
    let valid = if dots {
        is_dns_subdomain(raw)
    } else {
        is_dns_label(raw)
    };
    if valid && raw.len() <= max {
        return Cow::Borrowed(raw);
    }
    // Map every character to one of `[a-z0-9.-]`: ASCII only from here on.
    let mapped: Vec<u8> = raw
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-') => c as u8,
            '.' if dots => b'.',
            _ => b'-',
        })
        .collect();
    // A dot must sit between two alphanumerics; elsewhere it becomes a dash.
    let alnum = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let mut cleaned = String::with_capacity(mapped.len());
    for (i, &c) in mapped.iter().enumerate() {
        let dot_ok = c != b'.' || (i > 0 && alnum(mapped.get(i - 1)) && alnum(mapped.get(i + 1)));
        cleaned.push(if dot_ok { char::from(c) } else { '-' });
    }
    let hash = fnv_hex(raw);
    // Room for `-<hash>`; what is left of the text keeps alphanumeric ends.
    let room = max.saturating_sub(hash.len() + 1);
    let mut body = cleaned.trim_start_matches(['-', '.']);
    body = &body[..body.len().min(room)];
    body = body.trim_end_matches(['-', '.']);
    let name = if body.is_empty() {
        // Nothing usable in `raw` (or no room): the hash alone, cut to `max`.
        hash[..hash.len().min(max)].to_string()
    } else {
        format!("{body}-{hash}")
    };
    Cow::Owned(name)
}

/// 12 hex digits of FNV-1a 64 over `s` and a zero byte, the top 48 bits: the same hash as
/// `rampart_graph::prove::stable_id`, so that names rampart generated before for too long
/// (but otherwise valid) inputs keep their hash suffix.
fn fnv_hex(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes().chain(std::iter::once(0u8)) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:012x}", h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_follow_the_api_server() {
        assert!(is_dns_label("web-1") && is_dns_label("1a") && is_dns_label(&"a".repeat(63)));
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", "é", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
        assert!(is_dns_subdomain("web.v2") && is_dns_subdomain("a.b-c.d"));
        for bad in ["a..b", ".a", "a.", "a.-b", "<script>", &"a".repeat(254)] {
            assert!(!is_dns_subdomain(bad), "{bad}");
        }
        assert!(is_valid_name("Deployment", "web.v2"));
        assert!(!is_valid_name("Service", "web.v2"));
        assert!(!is_valid_name("Pod", "Web"));
        assert!(is_valid_name(
            "ClusterRole",
            "system:controller:job-controller"
        ));
        assert!(!is_valid_name("ClusterRole", "a/b"));
        assert!(!is_valid_name("Deployment", "web\u{1b}[2J"));
        assert!(is_valid_name("Pod", ""));
    }

    #[test]
    fn valid_names_are_kept() {
        assert!(matches!(dns_label("rampart-ingress-web"), Cow::Borrowed(_)));
        assert!(matches!(
            dns_subdomain("rampart-ingress-web.v2", 63),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn any_text_gives_a_valid_name() {
        let long = "x".repeat(300);
        for raw in [
            "rampart-ingress-<script>alert(1)</script>",
            "rampart-ingress-Web_App",
            "rampart-ingress-web.",
            "rampart-ingress-.web..v2-.x",
            "rampart-ingress-\u{202e}gnp.exe",
            "rampart-ingress-日本語",
            "",
            "---",
            "...",
            long.as_str(),
        ] {
            let l = dns_label(raw);
            assert!(is_dns_label(&l), "{raw:?} -> {l:?}");
            for max in [1, 13, 14, 20, 63, 253, 1000] {
                let s = dns_subdomain(raw, max);
                assert!(
                    is_dns_subdomain(&s) && s.len() <= max.max(1),
                    "{raw:?} ({max}) -> {s:?}"
                );
            }
        }
        let s = dns_label("rampart-ingress-<script>alert(1)</script>");
        assert!(
            s.starts_with("rampart-ingress--script-alert-1---script-"),
            "{s}"
        );
    }

    #[test]
    fn different_inputs_get_different_names() {
        // Replaced alike, or the same first 50 characters.
        let pairs = [
            ("rampart-ingress-web_app", "rampart-ingress-web-app"),
            ("rampart-ingress-web_app", "rampart-ingress-web.app"),
            ("rampart-ingress-Web", "rampart-ingress-web"),
            (
                &*format!("rampart-ingress-{}a", "x".repeat(60)),
                &*format!("rampart-ingress-{}b", "x".repeat(60)),
            ),
        ];
        for (a, b) in pairs {
            assert_ne!(dns_label(a), dns_label(b), "{a} / {b}");
        }
        // And the same input always the same name.
        assert_eq!(
            dns_label("rampart-ingress-Web"),
            dns_label("rampart-ingress-Web")
        );
    }
}
