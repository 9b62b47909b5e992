//! The CISA Known Exploited Vulnerabilities catalogue: its JSON feed (schema
//! `known_exploited_vulnerabilities_schema.json`) or a plain list of CVE ids, one per line.
//!
//! The feed's `count` is not trusted (excerpts keep the full count); ids are validated against
//! the schema's pattern; unknown fields are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::bounded::{MAX_TEXT, MAX_TOKEN, truncate};

/// Largest catalogue accepted (the real one is ~1.3 MB).
pub const MAX_BYTES: usize = 32 << 20;
/// Most entries accepted.
pub const MAX_ENTRIES: usize = 200_000;

/// One known-exploited vulnerability.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KevEntry {
    /// `vulnerabilityName`.
    pub name: String,
    /// `dateAdded`.
    pub date_added: String,
    /// `knownRansomwareCampaignUse` is `Known`.
    pub ransomware: bool,
}

/// The catalogue, by CVE id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kev {
    /// `catalogVersion` (empty for a plain list).
    pub version: String,
    /// Entries by CVE id.
    pub entries: BTreeMap<String, KevEntry>,
}

/// A catalogue that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KevError {
    /// Larger than [`MAX_BYTES`] or more than [`MAX_ENTRIES`].
    #[error("KEV catalogue too large")]
    TooLarge,
    /// Not the feed's JSON.
    #[error("malformed KEV catalogue: {0}")]
    Malformed(String),
    /// A CVE id that does not match `CVE-YYYY-NNNN…`.
    #[error("line {line}: {id:?} is not a CVE id")]
    BadId {
        /// 1-based line (0 in the JSON feed).
        line: usize,
        /// The offending text, truncated.
        id: String,
    },
}

/// Whether `s` matches `^CVE-[0-9]{4}-[0-9]{4,19}$`.
pub fn is_cve_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, num)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && (4..=19).contains(&num.len())
        && num.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Feed {
    #[serde(default)]
    catalog_version: String,
    vulnerabilities: Vec<FeedEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeedEntry {
    #[serde(rename = "cveID")]
    cve_id: String,
    #[serde(default)]
    vulnerability_name: String,
    #[serde(default)]
    date_added: String,
    #[serde(default)]
    known_ransomware_campaign_use: String,
}

impl Kev {
    /// Reads the JSON feed, or a plain list of ids (`#` comments and blank lines ignored).
    pub fn parse(bytes: &[u8]) -> Result<Kev, KevError> {
        if bytes.len() > MAX_BYTES {
            return Err(KevError::TooLarge);
        }
        let trimmed = bytes.trim_ascii_start();
        if trimmed.first() == Some(&b'{') {
            let feed: Feed = serde_json::from_slice(trimmed)
                .map_err(|e| KevError::Malformed(truncate(&e.to_string(), MAX_TOKEN)))?;
            if feed.vulnerabilities.len() > MAX_ENTRIES {
                return Err(KevError::TooLarge);
            }
            let mut entries = BTreeMap::new();
            for v in feed.vulnerabilities {
                if !is_cve_id(&v.cve_id) {
                    return Err(KevError::BadId {
                        line: 0,
                        id: truncate(&v.cve_id, MAX_TOKEN),
                    });
                }
                entries.insert(
                    v.cve_id,
                    KevEntry {
                        name: truncate(&v.vulnerability_name, MAX_TEXT),
                        date_added: truncate(&v.date_added, MAX_TOKEN),
                        ransomware: v.known_ransomware_campaign_use == "Known",
                    },
                );
            }
            return Ok(Kev {
                version: truncate(&feed.catalog_version, MAX_TOKEN),
                entries,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| KevError::Malformed(e.to_string()))?;
        let mut entries = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let id = line.split('#').next().unwrap_or("").trim();
            if id.is_empty() {
                continue;
            }
            if !is_cve_id(id) {
                return Err(KevError::BadId {
                    line: i + 1,
                    id: truncate(id, MAX_TOKEN),
                });
            }
            if entries.len() == MAX_ENTRIES {
                return Err(KevError::TooLarge);
            }
            entries.insert(
                id.to_string(),
                KevEntry {
                    name: String::new(),
                    date_added: String::new(),
                    ransomware: false,
                },
            );
        }
        Ok(Kev {
            version: String::new(),
            entries,
        })
    }

    /// The entry for `cve`, if known exploited.
    pub fn get(&self, cve: &str) -> Option<&KevEntry> {
        self.entries.get(cve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert!(is_cve_id("CVE-2021-44228"));
        assert!(!is_cve_id("CVE-21-44228"));
        assert!(!is_cve_id("CVE-2021-123"));
        assert!(!is_cve_id("GHSA-xxxx"));
        assert!(matches!(
            Kev::parse(b"CVE-2021-44228\nnope\n"),
            Err(KevError::BadId { line: 2, .. })
        ));
        assert!(matches!(
            Kev::parse(b"{\"vulnerabilities\": 3}"),
            Err(KevError::Malformed(_))
        ));
    }
}
