//! When a gate sends its pile to the learner, when the learner learns, and when it persists:
//! the original system's policies, exactly, as pure functions of counts and elapsed time
//! (time is passed in, so the policies are tested with injected time).
//!
//! * a gate syncs at ≥ 1,000 pending samples or ≥ 1,000 alerts; every minute when pending
//!   samples are ≥ 10 % of what the criteria were learned from, or alerts exist; at least every
//!   5 minutes; never more often than every 5 s; and once more on shutdown;
//! * the learner learns when it has > 1,000 new samples, > 10 % new, or 30 s passed since it
//!   last learned (and something is new);
//! * it persists at most every 5 minutes, and only when something changed (and on shutdown).

use std::time::Duration;

/// A gate's cadence of syncs with the learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncCadence {
    /// Never sooner than this after the last sync.
    pub min_gap: Duration,
    /// Pending samples or alerts that make a sync due at once.
    pub batch: u64,
    /// How often a sync is considered when some samples (a share of what was learned) or
    /// alerts are pending.
    pub check: Duration,
    /// The share of learned samples, in percent, that pending samples must reach for a
    /// [`SyncCadence::check`] sync.
    pub share_percent: u64,
    /// Never longer than this without a sync (a heartbeat that also fetches new criteria).
    pub max_gap: Duration,
}

impl Default for SyncCadence {
    fn default() -> Self {
        SyncCadence {
            min_gap: Duration::from_secs(5),
            batch: 1000,
            check: Duration::from_secs(60),
            share_percent: 10,
            max_gap: Duration::from_secs(300),
        }
    }
}

/// What a gate has to tell the learner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pending {
    /// Samples piled since the last sync.
    pub samples: u64,
    /// Alerts raised since the last sync.
    pub alerts: u64,
    /// Samples the criteria in force were learned from.
    pub learned: u64,
}

impl SyncCadence {
    /// Whether a gate should sync now, `since` the last sync (or its start).
    pub fn due(&self, since: Duration, p: Pending) -> bool {
        if since < self.min_gap {
            return false;
        }
        if p.samples >= self.batch || p.alerts >= self.batch {
            return true;
        }
        let share = p.samples > 0 && p.samples * 100 >= p.learned * self.share_percent;
        if since >= self.check && (share || p.alerts > 0) {
            return true;
        }
        since >= self.max_gap
    }

    /// Whether a stopping gate syncs once more.
    pub fn due_on_shutdown(&self, p: Pending) -> bool {
        p.samples > 0 || p.alerts > 0
    }
}

/// The learner's cadence of learning and persisting one service's criteria.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnCadence {
    /// New samples above which learning is due at once.
    pub batch: u64,
    /// New samples, in percent of what was learned before, above which learning is due.
    pub share_percent: u64,
    /// Learn at least this often while anything is new.
    pub every: Duration,
    /// Persist (write the Guardian's status) at most this often.
    pub persist_every: Duration,
}

impl Default for LearnCadence {
    fn default() -> Self {
        LearnCadence {
            batch: 1000,
            share_percent: 10,
            every: Duration::from_secs(30),
            persist_every: Duration::from_secs(300),
        }
    }
}

impl LearnCadence {
    /// Whether to learn now: `fresh` samples arrived since the last learning, which used
    /// `learned` samples, `since` ago.
    pub fn learn_due(&self, since: Duration, fresh: u64, learned: u64) -> bool {
        fresh > 0
            && (fresh > self.batch
                || fresh * 100 > learned * self.share_percent
                || since >= self.every)
    }

    /// Whether to persist now, `since` the last persist, when the criteria `changed` since.
    pub fn persist_due(&self, since: Duration, changed: bool) -> bool {
        changed && since >= self.persist_every
    }
}

/// A learning window (`30m`, `72h`, `14d`): digits and one unit of `s`, `m`, `h`, `d`.
pub fn parse_window(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 72h or 14d"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: the unit is one of s, m, h, d")),
    };
    if n == 0 {
        return Err(format!("{s:?}: a window of zero would never learn"));
    }
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

/// Whether learning is frozen: `window` passed since learning started (`since`, `now`: Unix
/// seconds, passed in).
pub fn frozen(window: Duration, since: i64, now: i64) -> bool {
    now.saturating_sub(since) >= i64::try_from(window.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn pending(samples: u64, alerts: u64, learned: u64) -> Pending {
        Pending {
            samples,
            alerts,
            learned,
        }
    }

    #[test]
    fn a_learning_window_freezes_after_it_passed() {
        assert_eq!(parse_window("72h"), Ok(S(72 * 3600)));
        assert_eq!(parse_window("14d"), Ok(S(14 * 86_400)));
        assert!(parse_window("0h").is_err() && parse_window("1w").is_err());
        assert!(parse_window("h").is_err() && parse_window("99999999999999999999d").is_err());
        let w = S(3600);
        assert!(!frozen(w, 1_000, 1_000 + 3599));
        assert!(frozen(w, 1_000, 1_000 + 3600));
    }

    #[test]
    fn a_gate_syncs_by_the_originals_rules() {
        let c = SyncCadence::default();
        // Never more often than every 5 s, whatever is pending.
        assert!(!c.due(S(4), pending(50_000, 50_000, 0)));
        // A full batch of samples or alerts: at once (after the 5 s).
        assert!(c.due(S(5), pending(1000, 0, 1_000_000)));
        assert!(c.due(S(5), pending(0, 1000, 1_000_000)));
        assert!(!c.due(S(5), pending(999, 999, 1_000_000)));
        // Every minute when pending is ≥ 10 % of what was learned, or alerts exist.
        assert!(!c.due(S(59), pending(100, 0, 1000)));
        assert!(c.due(S(60), pending(100, 0, 1000)));
        assert!(!c.due(S(60), pending(99, 0, 1000)));
        assert!(c.due(S(60), pending(0, 1, 1000)));
        // Nothing learned yet: any pending sample is a share.
        assert!(c.due(S(60), pending(1, 0, 0)));
        // At least every 5 minutes, even with nothing pending (criteria are fetched then).
        assert!(!c.due(S(299), pending(0, 0, 1000)));
        assert!(c.due(S(300), pending(0, 0, 1000)));
        // Once more on shutdown, when there is anything to say.
        assert!(c.due_on_shutdown(pending(1, 0, 0)));
        assert!(c.due_on_shutdown(pending(0, 1, 0)));
        assert!(!c.due_on_shutdown(pending(0, 0, 5)));
    }

    #[test]
    fn the_learner_learns_and_persists_by_the_originals_rules() {
        let c = LearnCadence::default();
        assert!(
            !c.learn_due(S(3600), 0, 10),
            "nothing new, nothing to learn"
        );
        assert!(c.learn_due(S(1), 1001, 1_000_000), "more than 1,000 new");
        assert!(!c.learn_due(S(1), 1000, 1_000_000));
        assert!(c.learn_due(S(1), 101, 1000), "more than 10 % new");
        assert!(!c.learn_due(S(1), 100, 1000));
        assert!(
            c.learn_due(S(30), 1, 1_000_000),
            "30 s since the last learning"
        );
        assert!(!c.learn_due(S(29), 1, 1_000_000));
        assert!(!c.persist_due(S(299), true), "at most every 5 minutes");
        assert!(c.persist_due(S(300), true));
        assert!(
            !c.persist_due(S(3600), false),
            "only when something changed"
        );
    }

    #[test]
    fn over_a_day_of_steady_traffic_a_gate_syncs_neither_too_often_nor_too_rarely() {
        // 10 requests/s, one alert every 5 s, the criteria learned from 50,000 samples: simulate a
        // gate checking every second with injected time.
        let c = SyncCadence::default();
        let (mut since, mut p, mut syncs, mut longest) = (S(0), pending(0, 0, 50_000), 0, S(0));
        for second in 0..86_400u64 {
            since += S(1);
            p.samples += 10;
            p.alerts += u64::from(second % 5 == 0);
            if c.due(since, p) {
                syncs += 1;
                longest = longest.max(since);
                p.learned += p.samples;
                (since, p.samples, p.alerts) = (S(0), 0, 0);
            }
        }
        // Alerts every 5 s: a sync every minute, never more often.
        assert_eq!(longest, S(60));
        assert_eq!(syncs, 86_400 / 60);
    }
}
