//! Verdicts kept by chain and evidence: bounded in size, each with a time to live.
//!
//! The key is the chain id *and* the hash of its facts, so a changed step, CVE or runtime
//! behaviour misses and asks again. An `unknown` without an answer (the model down, slow or
//! talking nonsense) is kept briefly, so a broken model is not asked again every round. When
//! full, the oldest entry goes. Time is passed in (Unix seconds).

use std::collections::{HashMap, VecDeque};

use crate::Judgement;

/// What a verdict is cached under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CacheKey {
    /// Chain id.
    pub chain: String,
    /// [`crate::Facts::hash`] of what the model was shown.
    pub facts: u64,
}

#[derive(Debug)]
struct Slot {
    judgement: Judgement,
    expires: u64,
    /// Insertion number, to tell the live entry from older queue positions of the same key.
    seq: u64,
}

/// The cache.
#[derive(Debug)]
pub struct Cache {
    slots: HashMap<CacheKey, Slot>,
    order: VecDeque<(CacheKey, u64)>,
    seq: u64,
    capacity: usize,
    ttl: u64,
    unanswered_ttl: u64,
    hits: u64,
    misses: u64,
}

impl Cache {
    /// At most `capacity` verdicts, answers kept `ttl` seconds, non-answers `unanswered_ttl`.
    pub fn new(capacity: usize, ttl: u64, unanswered_ttl: u64) -> Cache {
        Cache {
            slots: HashMap::new(),
            order: VecDeque::new(),
            seq: 0,
            capacity: capacity.max(1),
            ttl,
            unanswered_ttl,
            hits: 0,
            misses: 0,
        }
    }

    /// The live verdict for `key` at `now`, counted as a hit or a miss.
    pub fn get(&mut self, key: &CacheKey, now: u64) -> Option<&Judgement> {
        let live = self.slots.get(key).is_some_and(|s| s.expires > now);
        if live {
            self.hits += 1;
            return self.slots.get(key).map(|s| &s.judgement);
        }
        self.misses += 1;
        self.slots.remove(key);
        None
    }

    /// Keeps `j` for `key` from `now`.
    pub fn insert(&mut self, key: CacheKey, j: Judgement, now: u64) {
        let ttl = if j.error.is_some() {
            self.unanswered_ttl
        } else {
            self.ttl
        };
        self.seq += 1;
        self.order.push_back((key.clone(), self.seq));
        self.slots.insert(
            key,
            Slot {
                judgement: j,
                expires: now.saturating_add(ttl),
                seq: self.seq,
            },
        );
        while self.slots.len() > self.capacity {
            let Some((k, seq)) = self.order.pop_front() else {
                break;
            };
            if self.slots.get(&k).is_some_and(|s| s.seq == seq) {
                self.slots.remove(&k);
            }
        }
        // Re-inserted keys leave stale queue positions behind: compact when they dominate.
        if self.order.len() > 2 * self.capacity {
            let slots = &self.slots;
            self.order
                .retain(|(k, seq)| slots.get(k).is_some_and(|s| s.seq == *seq));
        }
    }

    /// Verdicts held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Lookups answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Lookups that were not.
    pub fn misses(&self) -> u64 {
        self.misses
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Verdict, unanswered};

    fn key(chain: &str, facts: u64) -> CacheKey {
        CacheKey {
            chain: chain.into(),
            facts,
        }
    }

    fn answer() -> Judgement {
        Judgement {
            verdict: Verdict::NotExploitable,
            confidence: 0.7,
            reason: "internal only".into(),
            steps: vec![],
            model: "m".into(),
            error: None,
        }
    }

    #[test]
    fn a_changed_fact_misses_and_answers_expire() {
        let mut c = Cache::new(10, 100, 5);
        c.insert(key("a", 1), answer(), 0);
        assert!(c.get(&key("a", 1), 50).is_some());
        assert!(
            c.get(&key("a", 2), 50).is_none(),
            "a changed step asks again"
        );
        assert!(c.get(&key("a", 1), 100).is_none(), "expired");
        c.insert(key("b", 1), unanswered("m", "timed out"), 0);
        assert!(c.get(&key("b", 1), 4).is_some());
        assert!(
            c.get(&key("b", 1), 5).is_none(),
            "a non-answer is kept briefly"
        );
        assert_eq!((c.hits(), c.misses()), (2, 3));
    }

    #[test]
    fn the_oldest_goes_when_full_and_re_inserts_do_not_grow_it() {
        let mut c = Cache::new(3, 100, 5);
        for i in 0..5 {
            c.insert(key(&i.to_string(), 0), answer(), 0);
        }
        assert_eq!(c.len(), 3);
        assert!(c.get(&key("0", 0), 1).is_none() && c.get(&key("4", 0), 1).is_some());
        for _ in 0..1000 {
            c.insert(key("4", 0), answer(), 0);
        }
        assert_eq!(c.len(), 3);
        assert!(c.order.len() <= 6);
        assert!(
            c.get(&key("2", 0), 1).is_some(),
            "re-inserting one key evicts no other"
        );
    }
}
