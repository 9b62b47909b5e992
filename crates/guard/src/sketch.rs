//! Fixed-size summaries whose merge is associative, commutative and idempotent, so a pile
//! sent twice, or merged in any order, learns the same thing (the original's raw sample lists
//! counted a re-sent pile twice).
//!
//! Both keep the entries with the *smallest hashes*: "the k smallest of a union" is a
//! semilattice join, and hashing makes the kept entries a uniform sample.

use serde::{Deserialize, Serialize};

/// At most `K` distinct hashes: the smallest seen. `len()` is exact below `K`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashSet<const K: usize> {
    hashes: Vec<u64>,
}

impl<const K: usize> HashSet<K> {
    pub fn insert(&mut self, h: u64) {
        match self.hashes.binary_search(&h) {
            Ok(_) => {}
            Err(i) if i < K => {
                self.hashes.insert(i, h);
                self.hashes.truncate(K);
            }
            Err(_) => {}
        }
    }

    pub fn merge(&mut self, other: &Self) {
        for h in &other.hashes {
            self.insert(*h);
        }
    }

    /// The set rebuilt through [`HashSet::insert`]: sorted, distinct, at most `K` — what a
    /// set read from outside (a gate's sync) must be before it is merged.
    pub fn normalized(&self) -> Self {
        let mut out = Self::default();
        out.merge(self);
        out
    }

    /// Distinct hashes seen, saturating at `K`.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// How many distinct hashes were inserted: exact below `K`, above it the k-minimum-values
    /// estimate `(K − 1) / (the K-th smallest hash as a fraction of 2⁶⁴)` (standard error
    /// about 1/√(K − 2), 6 % for 256). Hashes must be uniform (they are hashed ids).
    pub fn estimate(&self) -> u64 {
        match self.hashes.last() {
            Some(&kth) if self.hashes.len() >= K && K > 1 => {
                let scaled = ((K as u128 - 1) << 64) / (u128::from(kth) + 1);
                u64::try_from(scaled).unwrap_or(u64::MAX)
            }
            _ => self.hashes.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// How many sessions and clients showed something: a shape counts as normal only with enough
/// of both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Support {
    pub sessions: HashSet<8>,
    pub clients: HashSet<8>,
}

impl Support {
    pub fn note(&mut self, session: u64, client: u64) {
        self.sessions.insert(session);
        self.clients.insert(client);
    }

    pub fn merge(&mut self, other: &Self) {
        self.sessions.merge(&other.sessions);
        self.clients.merge(&other.clients);
    }

    pub fn normalized(&self) -> Self {
        Self {
            sessions: self.sessions.normalized(),
            clients: self.clients.normalized(),
        }
    }

    /// Seen in at least `sessions` sessions from at least `clients` clients.
    pub fn holds(&self, sessions: u32, clients: u32) -> bool {
        self.sessions.len() >= sessions as usize && self.clients.len() >= clients as usize
    }
}

/// A uniform sample of at most `K` entries, each keyed by the hash of what it came from
/// (the request and location), so the same observation merged twice is kept once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample<T, const K: usize> {
    entries: Vec<(u64, T)>,
}

impl<T, const K: usize> Default for Sample<T, K> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<T: Clone + Ord, const K: usize> Sample<T, K> {
    pub fn insert(&mut self, key: u64, value: T) {
        // Entries are ordered by (key, value): two observations colliding on a key still
        // merge the same way in any order.
        let probe = (key, value);
        match self.entries.binary_search(&probe) {
            Ok(_) => {}
            Err(i) if i < K => {
                self.entries.insert(i, probe);
                self.entries.truncate(K);
            }
            Err(_) => {}
        }
    }

    pub fn merge(&mut self, other: &Self) {
        for (k, v) in &other.entries {
            self.insert(*k, v.clone());
        }
    }

    /// The sample rebuilt through [`Sample::insert`] (see [`HashSet::normalized`]).
    pub fn normalized(&self) -> Self {
        let mut out = Self::default();
        out.merge(self);
        out
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_exact_below_k_and_close_above_it() {
        let mut s = HashSet::<256>::default();
        for i in 0..200u64 {
            s.insert(crate::hash::stable(&i.to_le_bytes()));
        }
        assert_eq!(s.estimate(), 200);
        for n in [1_000u64, 10_000, 100_000] {
            let mut s = HashSet::<256>::default();
            for i in 0..n {
                s.insert(crate::hash::stable(&i.to_le_bytes()));
            }
            let e = s.estimate() as f64;
            let err = (e - n as f64).abs() / n as f64;
            // Three standard errors (1/√254 ≈ 6.3 %).
            assert!(err < 0.19, "{n} estimated as {e}");
            // Inserting the same hashes again changes nothing.
            let before = s.estimate();
            for i in 0..n {
                s.insert(crate::hash::stable(&i.to_le_bytes()));
            }
            assert_eq!(s.estimate(), before);
        }
    }
}
