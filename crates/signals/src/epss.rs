//! FIRST's Exploit Prediction Scoring System: the daily CSV feed (`epss_scores-YYYY-MM-DD.csv`,
//! plain or gzip-compressed as published), the probability that a CVE is exploited in the next
//! 30 days and its percentile.
//!
//! The feed's first line is a comment (`#model_version:…,score_date:…`), then the header
//! `cve,epss,percentile`, then one row per CVE. Ids are validated like KEV's, scores must be
//! numbers in 0..=1; the first bad line is the error, with its number.

use std::collections::HashMap;
use std::io::Read;

use crate::bounded::{MAX_TOKEN, truncate};
use crate::kev::is_cve_id;

/// Largest feed accepted, after decompression (the real one is ~10 MB for ~300k CVEs).
pub const MAX_BYTES: usize = 64 << 20;
/// Most rows accepted.
pub const MAX_ROWS: usize = 2_000_000;

/// One CVE's score.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Score {
    /// Probability of exploitation in the next 30 days, 0..=1.
    pub epss: f64,
    /// Its percentile among all scored CVEs, 0..=1.
    pub percentile: f64,
}

/// The feed, by CVE id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Epss {
    /// `model_version` from the comment line (empty when absent).
    pub model_version: String,
    /// `score_date` from the comment line (empty when absent).
    pub score_date: String,
    /// Scores by CVE id.
    pub scores: HashMap<String, Score>,
}

/// A feed that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpssError {
    /// Larger than [`MAX_BYTES`] (decompressed) or more than [`MAX_ROWS`] rows.
    #[error("EPSS feed too large")]
    TooLarge,
    /// Not gzip, or not UTF-8 text.
    #[error("malformed EPSS feed: {0}")]
    Malformed(String),
    /// No `cve,epss,percentile` header.
    #[error("no `cve,epss,percentile` header line")]
    NoHeader,
    /// A bad row.
    #[error("line {line}: {why}")]
    BadRow {
        /// 1-based line.
        line: usize,
        /// Why, with the offending text truncated.
        why: String,
    },
}

/// `bytes` decompressed when gzip, within [`MAX_BYTES`].
fn text(bytes: &[u8]) -> Result<String, EpssError> {
    let raw = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_BYTES as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| EpssError::Malformed(truncate(&e.to_string(), MAX_TOKEN)))?;
        out
    } else {
        bytes.to_vec()
    };
    if raw.len() > MAX_BYTES {
        return Err(EpssError::TooLarge);
    }
    String::from_utf8(raw).map_err(|e| EpssError::Malformed(e.to_string()))
}

fn score(field: Option<&str>, what: &str, line: usize) -> Result<f64, EpssError> {
    let f = field.unwrap_or("").trim();
    match f.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(EpssError::BadRow {
            line,
            why: format!(
                "{what} {:?} is not a number in 0..1",
                truncate(f, MAX_TOKEN)
            ),
        }),
    }
}

impl Epss {
    /// Reads the feed.
    pub fn parse(bytes: &[u8]) -> Result<Epss, EpssError> {
        if bytes.len() > MAX_BYTES {
            return Err(EpssError::TooLarge);
        }
        let text = text(bytes)?;
        let mut epss = Epss::default();
        let mut header = false;
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim_start_matches('\u{feff}').trim();
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                for kv in comment.split(',') {
                    match kv.split_once(':') {
                        Some(("model_version", v)) => epss.model_version = truncate(v, MAX_TOKEN),
                        Some(("score_date", v)) => epss.score_date = truncate(v, MAX_TOKEN),
                        _ => {}
                    }
                }
                continue;
            }
            if !header {
                let cols: Vec<&str> = line.split(',').map(str::trim).collect();
                if cols.len() < 3 || cols[..3] != ["cve", "epss", "percentile"] {
                    return Err(EpssError::NoHeader);
                }
                header = true;
                continue;
            }
            let mut fields = line.split(',');
            let id = fields.next().unwrap_or("").trim();
            if !is_cve_id(id) {
                return Err(EpssError::BadRow {
                    line: line_no,
                    why: format!("{:?} is not a CVE id", truncate(id, MAX_TOKEN)),
                });
            }
            let e = score(fields.next(), "epss", line_no)?;
            let p = score(fields.next(), "percentile", line_no)?;
            if epss.scores.len() == MAX_ROWS {
                return Err(EpssError::TooLarge);
            }
            epss.scores.insert(
                id.to_string(),
                Score {
                    epss: e,
                    percentile: p,
                },
            );
        }
        if !header {
            return Err(EpssError::NoHeader);
        }
        Ok(epss)
    }

    /// The score of `cve`, if scored.
    pub fn get(&self, cve: &str) -> Option<Score> {
        self.scores.get(cve).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = "#model_version:v2025.03.14,score_date:2026-12-05T12:55:00Z\n\
cve,epss,percentile\nCVE-2021-44228,0.94358,0.99958\nCVE-1999-0001,0.01076,0.77122\n";

    #[test]
    fn the_feed_reads_plain_and_gzipped() {
        let e = Epss::parse(FEED.as_bytes()).unwrap();
        assert_eq!(e.model_version, "v2025.03.14");
        assert_eq!(e.score_date, "2026-12-05T12:55:00Z");
        assert_eq!(e.get("CVE-2021-44228").unwrap().epss, 0.94358);
        assert_eq!(e.scores.len(), 2);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, FEED.as_bytes()).unwrap();
        assert_eq!(Epss::parse(&gz.finish().unwrap()).unwrap(), e);
    }

    #[test]
    fn bad_feeds_say_where() {
        assert_eq!(
            Epss::parse(b"CVE-2021-44228,0.9,0.9\n"),
            Err(EpssError::NoHeader)
        );
        assert_eq!(Epss::parse(b""), Err(EpssError::NoHeader));
        assert!(matches!(
            Epss::parse(b"cve,epss,percentile\nCVE-2021-44228,1.5,0.9\n"),
            Err(EpssError::BadRow { line: 2, .. })
        ));
        assert!(matches!(
            Epss::parse(b"cve,epss,percentile\nCVE-2021-44228,0.5,0.9\nnope,0.1,0.1\n"),
            Err(EpssError::BadRow { line: 3, .. })
        ));
        assert!(matches!(
            Epss::parse(b"cve,epss,percentile\nCVE-2021-44228,NaN,0.9\n"),
            Err(EpssError::BadRow { .. })
        ));
        assert!(matches!(
            Epss::parse(&[0x1f, 0x8b, 0, 1, 2]),
            Err(EpssError::Malformed(_))
        ));
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_bound() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b'0'; 1 << 20];
        for _ in 0..(MAX_BYTES >> 20) + 2 {
            std::io::Write::write_all(&mut gz, &zeros).unwrap();
        }
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
        assert_eq!(Epss::parse(&bomb), Err(EpssError::TooLarge));
    }
}
