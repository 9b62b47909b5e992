//! Cluster-supplied text made safe to show a person.
//!
//! Names, namespaces, images, alert summaries and error messages come from the cluster or from
//! manifests, so an attacker chooses them. Written raw to a terminal, an ESC sequence clears the
//! screen, retitles the window or hides the lines above it; a bidi override makes
//! `\u{202e}gnp.exe` read as `exe.png`. Every human (non-JSON) format passes such strings
//! through [`display_safe`] (or [`Safe`] for values that implement `Display`): those characters
//! become visible escapes. JSON needs nothing: serde escapes control characters, and a JSON
//! consumer is a program, not a terminal.

use std::borrow::Cow;
use std::fmt::{self, Write};

/// Whether a character must not reach a reader raw: C0 controls (tab and newline included —
/// in a name they are suspicious, and they break a table's lines), DEL, C1 controls, and the
/// Unicode bidirectional controls (embeddings, overrides, isolates, marks), zero-width
/// characters and the line and paragraph separators (they hide or split what is shown).
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2028}' | '\u{2029}'
        | '\u{202a}'..='\u{202e}'
        | '\u{feff}'
        | '\u{2066}'..='\u{2069}'
        | '\u{061c}')
}

/// Writes one unsafe character as a visible escape: `\n`, `\t`, `\r` as in Rust source, other
/// ASCII controls as `\x1b`, everything else as `\u{202e}`.
fn write_escape(out: &mut impl Write, c: char) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\t' => out.write_str("\\t"),
        '\r' => out.write_str("\\r"),
        c if u32::from(c) <= 0x7f => write!(out, "\\x{:02x}", u32::from(c)),
        c => write!(out, "\\u{{{:x}}}", u32::from(c)),
    }
}

/// HTML-escapes untrusted text for an element's content or a quoted attribute. Control and
/// bidi characters (the set of [`is_unsafe_char`]) become a visible `⟨U+202E⟩`: an override
/// would make `\u{202e}gnp.exe` read as `exe.png`; the dashboard's script marks graph labels the
/// same way.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_unsafe_char(c) => {
                let _ = write!(out, "⟨U+{:04X}⟩", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// `s` with every [unsafe character](is_unsafe_char) replaced by a visible escape; borrowed
/// when there is none (the common case costs a scan, no allocation).
///
/// A backslash is left as it is: the escapes are for a person reading, not a parser, and
/// doubling every backslash would garble the Windows paths and regular expressions that
/// messages legitimately hold.
pub fn display_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe_char(c) {
            // Writing to a String cannot fail.
            let _ = write_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A `Display` value shown through [`display_safe`]: `format!("{}", Safe(&obj_ref))` escapes
/// what the value's own `Display` writes, without building the string first;
/// `Safe(format_args!(…))` escapes a whole formatted line.
#[derive(Debug, Clone, Copy)]
pub struct Safe<T>(pub T);

impl<T: fmt::Display> fmt::Display for Safe<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.width().is_some() || f.precision().is_some() {
            // Padding counts the characters shown, so it applies to the escaped text.
            let shown = self.0.to_string();
            return f.pad(&display_safe(&shown));
        }
        write!(Escaping(f), "{}", self.0)
    }
}

/// A writer that escapes unsafe characters on their way to the formatter.
struct Escaping<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl Write for Escaping<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(i) = rest.find(is_unsafe_char) {
            self.0.write_str(&rest[..i])?;
            let Some(c) = rest[i..].chars().next() else {
                break;
            };
            write_escape(self.0, c)?;
            rest = &rest[i + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_untouched() {
        let s = "Deployment/app/web-1 → Secret/app/db (ünïcode, 日本, emoji 🦀, back\\slash)";
        assert!(matches!(display_safe(s), Cow::Borrowed(x) if x == s));
        assert_eq!(format!("{}", Safe(s)), s);
    }

    #[test]
    fn terminal_escapes_become_visible() {
        // Clear screen, set the window title (OSC 0 … BEL), a C1 CSI.
        let s = "web\x1b[2J\x1b]0;pwned\x07\u{9b}31m";
        assert_eq!(display_safe(s), "web\\x1b[2J\\x1b]0;pwned\\x07\\u{9b}31m");
        assert_eq!(display_safe("a\nb\tc\rd\x7f\0"), "a\\nb\\tc\\rd\\x7f\\x00");
    }

    #[test]
    fn bidi_controls_become_visible() {
        assert_eq!(display_safe("\u{202e}gnp.exe"), "\\u{202e}gnp.exe");
        for c in [
            '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}',
            '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{061c}',
        ] {
            let shown = display_safe(&format!("x{c}y")).into_owned();
            assert!(shown.chars().all(|c| !is_unsafe_char(c)), "{shown}");
            assert_eq!(shown, format!("x\\u{{{:x}}}y", u32::from(c)));
        }
    }

    #[test]
    fn safe_escapes_what_display_writes() {
        struct Name;
        impl fmt::Display for Name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("Pod/app/")?;
                f.write_str("x\x1b[31m\u{202e}y")
            }
        }
        assert_eq!(format!("{}", Safe(Name)), "Pod/app/x\\x1b[31m\\u{202e}y");
        assert_eq!(
            format!("{}", Safe("\x1b\x1b")),
            display_safe("\x1b\x1b").as_ref()
        );
        assert_eq!(format!("[{:<8}]", Safe("a\tb")), "[a\\tb    ]");
        assert_eq!(
            format!("{}", Safe(format_args!("{:<4}|{}", "\x07", 1))),
            "\\x07   |1"
        );
    }

    #[test]
    fn nothing_unsafe_survives() {
        // Every character of the Basic Multilingual Plane's control and format ranges, one
        // string: what comes out holds none of them.
        let all: String = (0u32..0x2100).filter_map(char::from_u32).collect();
        assert!(!display_safe(&all).chars().any(is_unsafe_char));
        assert!(!format!("{}", Safe(&all)).chars().any(is_unsafe_char));
    }
}
