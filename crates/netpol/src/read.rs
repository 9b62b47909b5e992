//! Streaming flow files: bounded lines, the format told from the first record, every bad
//! record counted (and the first few kept with their line numbers), never a panic.
//!
//! The reader takes any [`BufRead`]: a file of any size is read a line at a time, and a line
//! longer than the limit is skipped without being held in memory.

use std::io::BufRead;

use serde::Serialize;

use crate::flow::{Flow, Format};
use crate::{gadget, hubble};

/// Longest flow line read (a Hubble flow with many labels is a few KiB).
pub const MAX_LINE: usize = 64 * 1024;
/// Most labels on one endpoint.
pub const MAX_LABELS: usize = 256;
/// Longest string field (names, label keys and values, reasons).
pub const MAX_FIELD: usize = 4096;
/// Largest advisor event array (read whole: it is one JSON document).
pub const MAX_ARRAY: usize = 64 * 1024 * 1024;
/// How many bad records are kept with their line numbers.
const KEPT_ERRORS: usize = 10;

/// Why one record was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("not a flow record: {0}")]
    Json(String),
    /// An address that does not parse.
    #[error("not an IP address: {0:?}")]
    Address(String),
    /// A port over 65535.
    #[error("port {0} is out of range")]
    Port(u64),
    /// A protocol NetworkPolicy cannot name.
    #[error("protocol {0:?} is not TCP, UDP or SCTP")]
    Protocol(String),
    /// More labels than [`MAX_LABELS`].
    #[error("{0} labels on one endpoint (at most {MAX_LABELS} are read)")]
    TooManyLabels(usize),
    /// A field longer than [`MAX_FIELD`].
    #[error("a field of {0} bytes (at most {MAX_FIELD} are read)")]
    FieldTooLong(usize),
    /// A line longer than [`MAX_LINE`].
    #[error("a line of more than {MAX_LINE} bytes")]
    LineTooLong,
}

impl FlowError {
    pub(crate) fn json(e: impl std::fmt::Display) -> FlowError {
        // serde_json's messages quote at most a token of the input.
        FlowError::Json(excerpt(&e.to_string()))
    }
}

/// `s` cut to a length fit for an error message.
pub(crate) fn excerpt(s: &str) -> String {
    let mut end = s.len().min(120);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// `s`, refused when longer than [`MAX_FIELD`].
pub(crate) fn bounded(s: &str) -> Result<&str, FlowError> {
    if s.len() > MAX_FIELD {
        Err(FlowError::FieldTooLong(s.len()))
    } else {
        Ok(s)
    }
}

/// A bad record and where it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRecord {
    /// The input's name.
    pub input: String,
    /// 1-based line (for the advisor's array: the element's index + 1).
    pub line: u64,
    /// What was wrong.
    pub error: String,
}

/// What reading flow inputs met.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReadTally {
    /// Records seen (lines that were not blank, or array elements).
    pub records: u64,
    /// Records that were flows.
    pub flows: u64,
    /// Records that were well formed but not flows (node status, lost events, debug lines).
    pub not_flows: u64,
    /// Records that could not be read.
    pub malformed: u64,
    /// The first bad records.
    pub errors: Vec<BadRecord>,
}

impl ReadTally {
    fn bad(&mut self, input: &str, line: u64, e: &FlowError) {
        self.malformed += 1;
        if self.errors.len() < KEPT_ERRORS {
            self.errors.push(BadRecord {
                input: input.to_owned(),
                line,
                error: e.to_string(),
            });
        }
    }

    /// Adds another tally (the first bad records of both, up to the limit).
    pub fn merge(&mut self, other: ReadTally) {
        self.records += other.records;
        self.flows += other.flows;
        self.not_flows += other.not_flows;
        self.malformed += other.malformed;
        let room = KEPT_ERRORS.saturating_sub(self.errors.len());
        self.errors.extend(other.errors.into_iter().take(room));
    }
}

/// Why an input could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The reader failed.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// An advisor event array over [`MAX_ARRAY`] bytes.
    #[error("a JSON array of more than {MAX_ARRAY} bytes (convert it to JSON lines)")]
    ArrayTooLarge,
    /// The advisor array is not valid JSON.
    #[error("not a JSON array of events: {0}")]
    Array(String),
}

/// Tells the format from a record: a `[` starts the advisor's array, a record with `pktType`
/// is a gadget event, anything else is read as Hubble.
pub fn sniff(first: &[u8]) -> Format {
    let t = first.trim_ascii_start();
    if t.starts_with(b"[") {
        Format::GadgetAdvisor
    } else if memfind(t, b"\"pktType\"") {
        Format::GadgetTrace
    } else {
        Format::Hubble
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Parses one JSON line of a known line format.
pub fn parse_line(format: Format, line: &[u8]) -> Result<Option<Flow>, FlowError> {
    match format {
        Format::Hubble => hubble::parse_line(line),
        Format::GadgetTrace => gadget::parse_trace_line(line),
        Format::GadgetAdvisor => {
            let v: serde_json::Value = serde_json::from_slice(line).map_err(FlowError::json)?;
            gadget::parse_advisor_event(&v)
        }
    }
}

/// Reads every flow of `input` (named `name` in reports), calling `each` per flow. The format
/// is `format`, or told from the first record. Returns the format read and the tally.
pub fn read_flows(
    name: &str,
    mut input: impl BufRead,
    format: Option<Format>,
    mut each: impl FnMut(Flow),
) -> Result<(Option<Format>, ReadTally), InputError> {
    let mut tally = ReadTally::default();
    let mut lines = Lines::new(&mut input);
    let mut format = format;
    let mut number = 0u64;
    while let Some(line) = lines.next_line()? {
        number += 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                tally.records += 1;
                tally.bad(name, number, &e);
                continue;
            }
        };
        if line.trim_ascii().is_empty() {
            continue;
        }
        let f = *format.get_or_insert_with(|| sniff(line));
        if f == Format::GadgetAdvisor {
            // One JSON document: the rest of the input with this line.
            let mut doc = line.to_vec();
            lines.rest(&mut doc)?;
            read_array(name, &doc, &mut tally, &mut each)?;
            return Ok((format, tally));
        }
        tally.records += 1;
        match parse_line(f, line) {
            Ok(Some(flow)) => {
                tally.flows += 1;
                each(flow);
            }
            Ok(None) => tally.not_flows += 1,
            Err(e) => tally.bad(name, number, &e),
        }
    }
    Ok((format, tally))
}

fn read_array(
    name: &str,
    doc: &[u8],
    tally: &mut ReadTally,
    each: &mut impl FnMut(Flow),
) -> Result<(), InputError> {
    let events: Vec<serde_json::Value> =
        serde_json::from_slice(doc).map_err(|e| InputError::Array(excerpt(&e.to_string())))?;
    for (i, v) in events.iter().enumerate() {
        tally.records += 1;
        match gadget::parse_advisor_event(v) {
            Ok(Some(flow)) => {
                tally.flows += 1;
                each(flow);
            }
            Ok(None) => tally.not_flows += 1,
            Err(e) => tally.bad(name, i as u64 + 1, &e),
        }
    }
    Ok(())
}

/// Lines of at most [`MAX_LINE`] bytes; a longer one is skipped as it streams past.
struct Lines<'r, R: BufRead> {
    reader: &'r mut R,
    buf: Vec<u8>,
}

impl<'r, R: BufRead> Lines<'r, R> {
    fn new(reader: &'r mut R) -> Self {
        Lines {
            reader,
            buf: Vec::with_capacity(4096),
        }
    }

    /// The next line without its newline; `Some(Err)` for one over the limit; `None` at the end.
    #[allow(clippy::type_complexity)]
    fn next_line(&mut self) -> Result<Option<Result<&[u8], FlowError>>, std::io::Error> {
        self.buf.clear();
        let mut overlong = false;
        let mut any = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let body = if done { &chunk[..take - 1] } else { chunk };
            if !overlong {
                if self.buf.len() + body.len() > MAX_LINE {
                    overlong = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(body);
                }
            }
            self.reader.consume(take);
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        if overlong {
            return Ok(Some(Err(FlowError::LineTooLong)));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(Ok(&self.buf)))
    }

    /// Appends the rest of the input to `out`, at most [`MAX_ARRAY`] bytes in all.
    fn rest(&mut self, out: &mut Vec<u8>) -> Result<(), InputError> {
        out.push(b'\n');
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return Ok(());
            }
            if out.len() + chunk.len() > MAX_ARRAY {
                return Err(InputError::ArrayTooLarge);
            }
            out.extend_from_slice(chunk);
            let n = chunk.len();
            self.reader.consume(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> (Vec<Flow>, ReadTally) {
        let mut flows = Vec::new();
        let (_, tally) = read_flows("t", text, None, |f| flows.push(f)).unwrap();
        (flows, tally)
    }

    #[test]
    fn truncated_and_overlong_lines_are_counted() {
        let mut text =
            br#"{"flow":{"verdict":"FORWARDED","l4":{"TCP":{"destination_port":80}}}}"#.to_vec();
        text.extend_from_slice(b"\n{\"flow\":{\"verd\n\n");
        text.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        text.extend_from_slice(b"\n{\"time\":\"x\"}\r\n");
        let (flows, tally) = read(&text);
        assert_eq!(flows.len(), 1);
        assert_eq!(tally.records, 4);
        assert_eq!((tally.flows, tally.malformed, tally.not_flows), (1, 2, 1));
        assert_eq!(tally.errors[0].line, 2);
        assert_eq!(tally.errors[1].error, FlowError::LineTooLong.to_string());
    }

    #[test]
    fn the_format_is_told_from_the_first_record() {
        assert_eq!(sniff(b"  [ {"), Format::GadgetAdvisor);
        assert_eq!(
            sniff(br#"{"type":"normal","pktType":"HOST"}"#),
            Format::GadgetTrace
        );
        assert_eq!(sniff(br#"{"flow":{}}"#), Format::Hubble);
        let (flows, tally) =
            read(b"\n[{\"type\":\"connect\",\"remote_kind\":\"pod\",\"port\":1},\n 7]");
        assert_eq!(flows.len(), 1);
        assert_eq!(tally.malformed, 1);
    }
}
