//! Verdicts kept for a while, so a Deployment scaling from 1 to 100 pods costs one
//! verification: bounded in entries, each with its own expiry (failures expire sooner), time
//! passed in.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::{Digest, Rejection, Verified};

/// What a verdict is kept under: the image digest and the rule that judged it (a policy's
/// rule, identified by whatever the caller chooses — its name and generation).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub digest: Digest,
    pub rule: String,
}

type Verdict = Result<Vec<Verified>, Rejection>;

/// A bounded, expiring map of verdicts. Oldest entries leave first when it is full.
#[derive(Debug)]
pub struct VerdictCache {
    entries: HashMap<CacheKey, (Verdict, Instant)>,
    order: VecDeque<CacheKey>,
    capacity: usize,
    ttl: Duration,
    negative_ttl: Duration,
}

impl VerdictCache {
    pub fn new(capacity: usize, ttl: Duration, negative_ttl: Duration) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            ttl,
            negative_ttl,
        }
    }

    /// The verdict for `key`, if one is kept and has not expired at `now`.
    pub fn get(&self, key: &CacheKey, now: Instant) -> Option<&Verdict> {
        self.entries
            .get(key)
            .filter(|(_, expires)| *expires > now)
            .map(|(verdict, _)| verdict)
    }

    pub fn insert(&mut self, key: CacheKey, verdict: Verdict, now: Instant) {
        let ttl = if verdict.is_ok() {
            self.ttl
        } else {
            self.negative_ttl
        };
        if self
            .entries
            .insert(key.clone(), (verdict, now + ttl))
            .is_none()
        {
            self.order.push_back(key);
        }
        while self.entries.len() > self.capacity {
            // Each key is in `order` once; an expired one may already be gone from `entries`.
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
        if self.order.len() > 2 * self.capacity {
            self.order.retain(|k| self.entries.contains_key(k));
        }
    }

    /// Drops what has expired at `now`.
    pub fn purge(&mut self, now: Instant) {
        self.entries.retain(|_, (_, expires)| *expires > now);
        self.order.retain(|k| self.entries.contains_key(k));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Signer;

    fn key(n: u8) -> CacheKey {
        CacheKey {
            digest: Digest::sha256_of(&[n]),
            rule: "p/r".into(),
        }
    }

    #[test]
    fn verdicts_expire_and_failures_sooner() {
        let t0 = Instant::now();
        let mut cache = VerdictCache::new(10, Duration::from_secs(600), Duration::from_secs(30));
        let ok = Ok(vec![Verified {
            digest: key(1).digest,
            signer: Signer::Key,
        }]);
        cache.insert(key(1), ok, t0);
        cache.insert(key(2), Err(Rejection::NoSignature), t0);
        let later = t0 + Duration::from_secs(60);
        assert!(cache.get(&key(1), later).is_some());
        assert!(cache.get(&key(2), later).is_none());
        assert!(cache.get(&key(1), t0 + Duration::from_secs(601)).is_none());
        cache.purge(later);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn bounded_oldest_first() {
        let t0 = Instant::now();
        let mut cache = VerdictCache::new(3, Duration::from_secs(600), Duration::from_secs(30));
        for n in 0..10 {
            cache.insert(key(n), Err(Rejection::NoSignature), t0);
            assert!(cache.len() <= 3);
        }
        assert!(cache.get(&key(9), t0).is_some());
        assert!(cache.get(&key(0), t0).is_none());
        // Re-inserting a kept key does not grow the order queue without bound.
        for _ in 0..100 {
            cache.insert(key(9), Err(Rejection::NoSignature), t0);
        }
        assert!(cache.order.len() <= 6);
    }
}
