//! The profile of one string value: character-class counts, which punctuation and which
//! character sequences it uses, its Unicode blocks and the formats it matches. Computed in one
//! pass; judging compares profiles, never values.

/// The 32 ASCII punctuation characters, one bit each in [`Profile::specials`].
pub const SPECIALS: &[u8; 32] = b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

const fn special_table() -> [u8; 128] {
    let mut t = [u8::MAX; 128];
    let mut i = 0;
    while i < SPECIALS.len() {
        t[SPECIALS[i] as usize] = i as u8;
        i += 1;
    }
    t
}
static SPECIAL_INDEX: [u8; 128] = special_table();

/// The bit of an ASCII punctuation character, if it is one.
pub fn special_bit(b: u8) -> Option<u32> {
    match SPECIAL_INDEX.get(usize::from(b)) {
        Some(&i) if i != u8::MAX => Some(1 << i),
        _ => None,
    }
}

/// Character sequences that matter more than their characters.
pub mod seq {
    /// `/*`, `*/`, `--`
    pub const COMMENT: u8 = 1;
    /// `0x`
    pub const HEX: u8 = 2;
    /// `../` or `..\`
    pub const DOTDOT: u8 = 4;
    /// `${`, `#{`, `{{`, `<%`
    pub const EXPRESSION: u8 = 8;
    /// `://`
    pub const SCHEME: u8 = 16;
    /// a control character (other than tab)
    pub const CONTROL: u8 = 32;
    pub const NAMES: [(u8, &str); 6] = [
        (COMMENT, "comment"),
        (HEX, "hex"),
        (DOTDOT, "dotdot"),
        (EXPRESSION, "expression"),
        (SCHEME, "scheme"),
        (CONTROL, "control"),
    ];
}

/// Formats a whole value can match.
pub mod format {
    pub const INTEGER: u16 = 1;
    pub const DECIMAL: u16 = 2;
    pub const UUID: u16 = 4;
    pub const HEX: u16 = 8;
    pub const BASE64: u16 = 16;
    pub const EMAIL: u16 = 32;
    pub const DATE: u16 = 64;
    pub const URL: u16 = 128;
    /// Letters, digits, `_` and `-` only.
    pub const WORD: u16 = 256;
    pub const NAMES: [(u16, &str); 9] = [
        (INTEGER, "integer"),
        (DECIMAL, "decimal"),
        (UUID, "uuid"),
        (HEX, "hex"),
        (BASE64, "base64"),
        (EMAIL, "email"),
        (DATE, "date"),
        (URL, "url"),
        (WORD, "word"),
    ];
}

/// Counts kept per value; the order of [`Counts::NAMES`].
pub type Counts = [u32; 7];
pub const LENGTH: usize = 0;
pub const LETTERS: usize = 1;
pub const DIGITS: usize = 2;
pub const SPACES: usize = 3;
pub const PUNCTUATION: usize = 4;
pub const NON_ASCII: usize = 5;
pub const RUNS: usize = 6;
pub const COUNT_NAMES: [&str; 7] = [
    "length",
    "letters",
    "digits",
    "spaces",
    "punctuation",
    "non-ascii",
    "runs",
];

/// At most this many distinct non-ASCII blocks are kept per value; a value with more is
/// judged on the first ones (any of them unknown is an alert already).
pub const MAX_BLOCKS: usize = 8;

/// One string value, profiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub counts: Counts,
    pub specials: u32,
    pub sequences: u8,
    /// Non-ASCII 128-code-point blocks, sorted, at most [`MAX_BLOCKS`].
    pub blocks: Vec<u32>,
    pub formats: u16,
    /// The value as an integer, when it is one.
    pub integer: Option<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    Space,
    Punct,
    Other,
}

/// ASCII byte classes, one table lookup per byte: 0 letter, 1 digit, 2 space, 3 punctuation,
/// 4 control.
const fn ascii_classes() -> [u8; 128] {
    let mut t = [4u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() {
            0
        } else if c.is_ascii_digit() {
            1
        } else if c == b' ' || c == b'\t' {
            2
        } else if c.is_ascii_punctuation() {
            3
        } else {
            4
        };
        b += 1;
    }
    t
}
static ASCII_CLASS: [u8; 128] = ascii_classes();
const CLASSES: [Class; 8] = [
    Class::Letter,
    Class::Digit,
    Class::Space,
    Class::Punct,
    Class::Other,
    Class::Other,
    Class::Other,
    Class::Other,
];
const fn special_masks() -> [u32; 128] {
    let mut t = [0u32; 128];
    let mut i = 0;
    while i < SPECIALS.len() {
        t[SPECIALS[i] as usize] = 1 << i;
        i += 1;
    }
    t
}
static SPECIAL_MASK: [u32; 128] = special_masks();

impl Profile {
    pub fn of(value: &str) -> Self {
        let mut p = Profile::default();
        let mut last: Option<Class> = None;
        let mut prev: char = '\0';
        let mut prev2: char = '\0';
        let bytes = value.as_bytes();
        let mut i = 0;
        let (mut len, mut letters, mut digits, mut spaces, mut punct, mut runs) =
            (0u32, 0u32, 0u32, 0u32, 0u32, 0u32);
        let mut specials = 0u32;
        let mut control = false;
        while i < bytes.len() {
            let b = bytes.get(i).copied().unwrap_or(0);
            let (c, class, width) = if b < 0x80 {
                // Branch-free on the common path: one table lookup per byte.
                let k = ASCII_CLASS.get(usize::from(b)).copied().unwrap_or(4);
                // Counters in registers: a loop-carried add through memory costs a store
                // forwarding per byte.
                letters += u32::from(k == 0);
                digits += u32::from(k == 1);
                spaces += u32::from(k == 2);
                punct += u32::from(k == 3);
                specials |= SPECIAL_MASK.get(usize::from(b)).copied().unwrap_or(0);
                control |= k == 4;
                (char::from(b), CLASSES[usize::from(k & 7)], 1)
            } else {
                let Some(c) = value.get(i..).and_then(|r| r.chars().next()) else {
                    break;
                };
                p.counts[NON_ASCII] += 1;
                if c.is_control() {
                    p.sequences |= seq::CONTROL;
                }
                let block = u32::from(c) >> 7;
                if let Err(at) = p.blocks.binary_search(&block)
                    && p.blocks.len() < MAX_BLOCKS
                {
                    p.blocks.insert(at, block);
                }
                let class = if c.is_alphabetic() {
                    Class::Letter
                } else if c.is_whitespace() {
                    Class::Space
                } else {
                    Class::Other
                };
                (c, class, c.len_utf8())
            };
            len += 1;
            // Every sequence ends in punctuation or in the `x` of `0x`.
            if class == Class::Punct || c == 'x' || c == 'X' {
                p.sequences |= sequence(prev2, prev, c);
            }
            runs += u32::from(last != Some(class));
            last = Some(class);
            prev2 = prev;
            prev = c;
            i += width;
        }
        p.counts[LENGTH] = len;
        p.counts[LETTERS] += letters;
        p.counts[DIGITS] = digits;
        p.counts[SPACES] += spaces;
        p.counts[PUNCTUATION] = punct;
        p.counts[RUNS] = runs;
        p.specials = specials;
        if control {
            p.sequences |= seq::CONTROL;
        }
        p.formats = formats(value, &p);
        if p.formats & format::INTEGER != 0 {
            p.integer = value.parse().ok();
        }
        p
    }
}

fn sequence(a: char, b: char, c: char) -> u8 {
    match (b, c) {
        ('/', '*') | ('*', '/') | ('-', '-') => seq::COMMENT,
        ('0', 'x' | 'X') => seq::HEX,
        ('.', '/' | '\\') if a == '.' => seq::DOTDOT,
        ('$' | '#' | '{', '{') | ('<', '%') => seq::EXPRESSION,
        ('/', '/') if a == ':' => seq::SCHEME,
        _ => 0,
    }
}

fn formats(v: &str, p: &Profile) -> u16 {
    let n = p.counts[LENGTH] as usize;
    if n == 0 || p.counts[NON_ASCII] > 0 || p.counts[SPACES] > 0 {
        return 0;
    }
    let b = v.as_bytes();
    let mut f = 0;
    let digits = p.counts[DIGITS] as usize;
    let unsigned = b.strip_prefix(b"-").unwrap_or(b);
    if !unsigned.is_empty() && unsigned.len() <= 18 && unsigned.iter().all(u8::is_ascii_digit) {
        f |= format::INTEGER;
    }
    if digits + 1 == unsigned.len()
        && unsigned.iter().filter(|c| **c == b'.').count() == 1
        && unsigned.first().is_some_and(u8::is_ascii_digit)
        && unsigned.last().is_some_and(u8::is_ascii_digit)
    {
        f |= format::DECIMAL;
    }
    let has = |ch: u8| p.specials & special_bit(ch).unwrap_or(0) != 0;
    if b.len() == 36 && is_uuid(b) {
        f |= format::UUID;
    }
    if b.len() >= 4 && b.iter().all(u8::is_ascii_hexdigit) {
        f |= format::HEX;
    }
    if b.len() >= 8 && is_base64(b) {
        f |= format::BASE64;
    }
    if has(b'@') && is_email(v) {
        f |= format::EMAIL;
    }
    if digits >= 8 && is_date(b) {
        f |= format::DATE;
    }
    if has(b':') && is_url(v) {
        f |= format::URL;
    }
    if b.iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
    {
        f |= format::WORD;
    }
    f
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_base64(b: &[u8]) -> bool {
    let body = b
        .iter()
        .rposition(|c| *c != b'=')
        .map_or(&b[..0], |i| b.get(..=i).unwrap_or(b));
    let pad = b.len() - body.len();
    pad <= 2
        && body
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_'))
        && (pad == 0 || b.len().is_multiple_of(4))
}

fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-'))
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'))
}

fn is_date(b: &[u8]) -> bool {
    let day = |s: &[u8]| {
        s.len() == 10
            && s.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            })
    };
    match b.len() {
        10 => day(b),
        n if n > 10 => {
            day(b.get(..10).unwrap_or(b))
                && b.get(10) == Some(&b'T')
                && b.get(11..).is_some_and(|t| {
                    t.iter().all(|c| {
                        c.is_ascii_digit() || matches!(c, b':' | b'.' | b'Z' | b'+' | b'-')
                    })
                })
        }
        _ => false,
    }
}

fn is_url(v: &str) -> bool {
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty()
            && host
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b':'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_classes_specials_sequences_and_blocks() {
        let p = Profile::of("O'Brien -- 0x1f ../ Zoë");
        assert_eq!(p.counts[LENGTH], 23);
        assert_eq!(p.counts[NON_ASCII], 1);
        assert_ne!(p.specials & special_bit(b'\'').unwrap_or(0), 0);
        assert_eq!(
            p.sequences & (seq::COMMENT | seq::HEX | seq::DOTDOT),
            seq::COMMENT | seq::HEX | seq::DOTDOT
        );
        assert_eq!(p.blocks, vec![1]);
        assert_eq!(p.formats, 0);
    }

    #[test]
    fn recognises_formats() {
        let f = |v: &str| Profile::of(v).formats;
        assert_ne!(f("12345") & format::INTEGER, 0);
        assert_eq!(Profile::of("-42").integer, Some(-42));
        assert_ne!(f("3.25") & format::DECIMAL, 0);
        assert_ne!(f("123e4567-e89b-12d3-a456-426614174000") & format::UUID, 0);
        assert_ne!(f("ann.lee+x@example.co.uk") & format::EMAIL, 0);
        assert_ne!(f("2026-12-05T10:11:12Z") & format::DATE, 0);
        assert_ne!(f("https://example.com/a?b=1") & format::URL, 0);
        assert_ne!(f("dGVzdGluZzE=") & format::BASE64, 0);
        assert_eq!(f("1 OR 1=1") & format::INTEGER, 0);
        assert_eq!(f("a@b") & format::EMAIL, 0);
    }
}
