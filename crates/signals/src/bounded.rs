//! Length bounds for untrusted strings, shared by every parser of this crate.

/// Longest Kubernetes name or namespace (DNS subdomain); longer is never valid.
pub const MAX_NAME: usize = 253;
/// Longest free-text field kept (alert output, command lines); longer is truncated.
pub const MAX_TEXT: usize = 1024;
/// Longest short token kept (rule names, tags, priorities, verbs).
pub const MAX_TOKEN: usize = 256;
/// Most tags kept per alert.
pub const MAX_TAGS: usize = 32;

/// `s` cut to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("aé", 2), "a");
    }
}
