//! Percent-encoding of cluster-supplied text put into the pages' URLs (RFC 3986: unreserved
//! characters pass, every other byte is `%XX`).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// As [`COMPONENT`], keeping `/` (a path of segments).
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

/// One query value or path segment.
pub(crate) fn component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// A path, its `/` kept.
pub(crate) fn path(s: &str) -> String {
    utf8_percent_encode(s, PATH).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreserved_characters_pass() {
        assert_eq!(
            component("a b/<c>~_.-\u{202e}"),
            "a%20b%2F%3Cc%3E~_.-%E2%80%AE"
        );
        assert_eq!(path("dir x/f.yaml"), "dir%20x/f.yaml");
    }
}
