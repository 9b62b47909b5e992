//! Batching and rate limits, per destination: notices wait up to a window and leave together;
//! at most so many batches leave a minute; a queue that is full drops its oldest notice and
//! counts it (a receiver that is down cannot make the engine hold unbounded memory).

use std::collections::VecDeque;

use crate::notice::{Notice, Severity};

/// How a destination is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long the first notice of a batch waits for others (seconds; 0: at once).
    pub window: u64,
    /// Most notices in one batch.
    pub max_batch: usize,
    /// Most batches a minute.
    pub per_minute: u32,
    /// Most notices waiting.
    pub max_queue: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            window: 10,
            max_batch: 20,
            per_minute: 12,
            max_queue: 1000,
        }
    }
}

/// One destination's queue.
#[derive(Debug, Clone)]
pub struct Batcher {
    limits: Limits,
    /// Waiting notices with when each was queued.
    queue: VecDeque<(u64, Notice)>,
    /// When the batches of the last minute left.
    sent: VecDeque<u64>,
    /// Notices dropped because the queue was full.
    pub dropped: u64,
}

impl Batcher {
    /// An empty queue with `limits` (a zero `max_batch` or `per_minute` is taken as 1).
    pub fn new(limits: Limits) -> Batcher {
        Batcher {
            limits: Limits {
                max_batch: limits.max_batch.max(1),
                per_minute: limits.per_minute.max(1),
                max_queue: limits.max_queue.max(1),
                ..limits
            },
            queue: VecDeque::new(),
            sent: VecDeque::new(),
            dropped: 0,
        }
    }

    /// Queues a notice at `now`; whether it fit without dropping the oldest.
    pub fn push(&mut self, n: Notice, now: u64) -> bool {
        let mut fit = true;
        if self.queue.len() >= self.limits.max_queue {
            self.queue.pop_front();
            self.dropped += 1;
            fit = false;
        }
        self.queue.push_back((now, n));
        fit
    }

    /// Notices waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The next batch, if one is due at `now`: the window has passed since the oldest waiting
    /// notice, or a full batch (or a critical notice) waits — and the minute's budget allows.
    pub fn take(&mut self, now: u64) -> Option<Vec<Notice>> {
        let since = self.queue.front()?.0;
        while self
            .sent
            .front()
            .is_some_and(|t| now.saturating_sub(*t) >= 60)
        {
            self.sent.pop_front();
        }
        let due = now.saturating_sub(since) >= self.limits.window
            || self.queue.len() >= self.limits.max_batch
            || self
                .queue
                .iter()
                .any(|(_, n)| n.severity == Severity::Critical);
        let budget = self.sent.len() < self.limits.per_minute as usize;
        if !due || !budget {
            return None;
        }
        let n = self.queue.len().min(self.limits.max_batch);
        let batch: Vec<Notice> = self.queue.drain(..n).map(|(_, n)| n).collect();
        self.sent.push_back(now);
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::Kind;
    use proptest::prelude::*;

    fn n(i: u64, severity: Severity) -> Notice {
        Notice::new(Kind::ChainNew, severity, i, &format!("chain-{i}"), "s")
    }

    #[test]
    fn a_window_gathers_a_full_batch_leaves_and_the_minute_is_capped() {
        let mut b = Batcher::new(Limits {
            window: 10,
            max_batch: 3,
            per_minute: 2,
            max_queue: 100,
        });
        assert!(b.take(0).is_none(), "nothing waits");
        b.push(n(1, Severity::Info), 100);
        assert!(b.take(105).is_none(), "inside the window");
        assert_eq!(b.take(110).map(|x| x.len()), Some(1), "the window passed");
        for i in 0..7 {
            b.push(n(i, Severity::Info), 111);
        }
        assert_eq!(
            b.take(111).map(|x| x.len()),
            Some(3),
            "a full batch leaves at once"
        );
        assert!(b.take(111).is_none(), "two batches this minute already");
        assert_eq!(b.take(170).map(|x| x.len()), Some(3), "the next minute");
        assert_eq!(b.take(171).map(|x| x.len()), Some(1));
        assert!(b.is_empty());
    }

    #[test]
    fn critical_notices_do_not_wait_and_a_full_queue_drops_the_oldest() {
        let mut b = Batcher::new(Limits {
            window: 60,
            max_batch: 10,
            per_minute: 10,
            max_queue: 2,
        });
        b.push(n(1, Severity::Info), 0);
        b.push(n(2, Severity::Info), 0);
        assert!(!b.push(n(3, Severity::Critical), 0), "the oldest dropped");
        assert_eq!(b.dropped, 1);
        let batch = b.take(0).unwrap();
        assert_eq!(
            batch.iter().map(|x| x.at).collect::<Vec<_>>(),
            [2, 3],
            "oldest dropped, order kept"
        );
    }

    proptest! {
        /// Whatever arrives when: nothing is lost but what is counted as dropped, no batch is
        /// over the limit, no minute has more batches than allowed, order is kept.
        #[test]
        fn nothing_is_lost_silently(arrivals in proptest::collection::vec((0u64..5, any::<bool>()), 0..200)) {
            let limits = Limits { window: 3, max_batch: 4, per_minute: 5, max_queue: 16 };
            let mut b = Batcher::new(limits);
            let mut now = 0;
            let mut pushed = 0u64;
            let mut out: Vec<u64> = Vec::new();
            let mut sends: Vec<u64> = Vec::new();
            for (i, (step, critical)) in arrivals.iter().enumerate() {
                now += step;
                let sev = if *critical { Severity::Critical } else { Severity::Info };
                b.push(Notice::new(Kind::ChainNew, sev, i as u64, "c", ""), now);
                pushed += 1;
                while let Some(batch) = b.take(now) {
                    prop_assert!(batch.len() <= limits.max_batch);
                    sends.push(now);
                    out.extend(batch.iter().map(|x| x.at));
                }
            }
            for t in now..now + 600 {
                while let Some(batch) = b.take(t) {
                    sends.push(t);
                    out.extend(batch.iter().map(|x| x.at));
                }
            }
            prop_assert!(b.is_empty());
            prop_assert_eq!(out.len() as u64 + b.dropped, pushed);
            prop_assert!(out.windows(2).all(|w| w[0] < w[1]), "order kept");
            for (i, t) in sends.iter().enumerate() {
                let in_minute = sends[i..].iter().take_while(|u| **u < t + 60).count();
                prop_assert!(in_minute <= limits.per_minute as usize);
            }
        }
    }
}
