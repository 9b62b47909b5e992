//! The learner's state, pure: every gate's pile merged per service, criteria learned and
//! persisted by [`crate::cadence::LearnCadence`], and what a gate's sync asks of the respond
//! layer. Time is passed in (a monotonic [`Duration`] since the learner started), so the
//! cadence and a restart are tested with injected time; `rampart learner` owns the I/O.
//!
//! * A gate sends its whole pile every time; merging is idempotent, so a re-sent pile (a retry,
//!   a learner restart mid-sync) cannot count twice, and nothing a gate saw is lost while it
//!   lives.
//! * The identity (namespace, service, pod) is the learner's, verified from the gate's token
//!   and pod labels; the message's own claim must match it ([`crate::sync::SyncMessage::check_claim`]).
//! * After a restart, a service's state is rebuilt from its Guardian's status; its criteria are
//!   re-learned only once the gates re-sent at least as many samples as they were learned from,
//!   or after [`Hub::rebuild_grace`] (the gates' longest sync gap, so every live gate has
//!   synced): a learner restart never narrows criteria to the first gate that synced.

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_api::{Criteria, GuardControl, GuardianStatus};

use crate::cadence::LearnCadence;
use crate::sync::{SyncError, SyncMessage};
use crate::{ServicePile, learn};

/// `(namespace, service)`.
pub type Key = (String, String);

/// Who a gate is, as the learner verified it — never as the gate claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub namespace: String,
    pub service: String,
    pub pod: String,
    /// False only under `--insecure-no-auth`: such a gate's compromise reports are refused.
    pub verified: bool,
}

/// What became of a sync's pod alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodAlert {
    /// The gate raised none.
    None,
    /// A verified gate reports its pod compromised: the respond layer decides what to do.
    Report,
    /// Raised by a gate whose identity was not verified: never acted on.
    RefusedUnverified,
}

/// A sync taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Samples the merge added to the service's pile (0 for a re-sent pile).
    pub fresh: u64,
    /// Samples the service's pile holds now.
    pub samples: u64,
    /// Alerts the gate raised since its last sync, by reason class.
    pub alerts: BTreeMap<String, u64>,
    /// The latest of them: route, locations, reasons.
    pub last_alert: Option<String>,
    pub pod_alert: PodAlert,
}

/// Why a sync was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Message(#[from] SyncError),
    #[error("the learner already keeps {0} services; refusing a new one")]
    TooManyServices(usize),
}

#[derive(Debug, Clone)]
struct Service {
    pile: ServicePile,
    /// Samples the criteria in force were learned from (the Guardian's count when restored).
    learned_from: u64,
    /// When the criteria were last learned (or the state was made).
    last_learned: Duration,
    last_persisted: Duration,
    criteria: Option<Criteria>,
    last_learned_at: Option<String>,
    /// Criteria or their sample count changed since the last persist.
    unpersisted: bool,
    /// Rebuilt from a Guardian at this time and not learned since.
    restored_at: Option<Duration>,
    /// When the criteria were first learned (RFC 3339): where a learning window starts.
    learning_since: Option<String>,
    /// The learning window passed: nothing more is learned.
    frozen: bool,
}

/// Every service's learning state.
#[derive(Debug, Clone)]
pub struct Hub {
    services: BTreeMap<Key, Service>,
    pub cadence: LearnCadence,
    /// How long after a restart a service's criteria wait for its gates to re-send.
    pub rebuild_grace: Duration,
    /// Services kept at most (a verified identity is needed for each, so this is a backstop).
    pub max_services: usize,
}

/// The default [`Hub::rebuild_grace`]: a gate's longest sync gap, plus a margin.
pub const REBUILD_GRACE: Duration = Duration::from_secs(330);

impl Default for Hub {
    fn default() -> Self {
        Hub::new(LearnCadence::default())
    }
}

impl Hub {
    pub fn new(cadence: LearnCadence) -> Hub {
        Hub {
            services: BTreeMap::new(),
            cadence,
            rebuild_grace: REBUILD_GRACE,
            max_services: 10_000,
        }
    }

    /// Merges a gate's sync into its service's pile. `restored` is the service's Guardian
    /// status as persisted, read the first time the service syncs after the learner started.
    pub fn accept(
        &mut self,
        id: &Identity,
        msg: &SyncMessage,
        restored: Option<&GuardianStatus>,
        now: Duration,
    ) -> Result<Accepted, Refused> {
        msg.check_claim(&id.service)?;
        let key = (id.namespace.clone(), id.service.clone());
        if !self.services.contains_key(&key) && self.services.len() >= self.max_services {
            return Err(Refused::TooManyServices(self.services.len()));
        }
        let s = self.services.entry(key).or_insert_with(|| {
            let learned = restored.and_then(|r| r.learned.clone());
            Service {
                pile: ServicePile::default(),
                learned_from: restored.map_or(0, |r| r.samples),
                last_learned: now,
                last_persisted: now,
                restored_at: learned.is_some().then_some(now),
                last_learned_at: restored.and_then(|r| r.last_learned.clone()),
                learning_since: restored.and_then(|r| r.learning_since.clone()),
                criteria: learned,
                unpersisted: false,
                frozen: false,
            }
        });
        let before = learn::samples(&s.pile);
        s.pile.merge(&msg.pile);
        let samples = learn::samples(&s.pile);
        let pod_alert = match (msg.pod_alert, id.verified) {
            (false, _) => PodAlert::None,
            (true, true) => PodAlert::Report,
            (true, false) => PodAlert::RefusedUnverified,
        };
        Ok(Accepted {
            fresh: samples.saturating_sub(before),
            samples,
            alerts: msg.alerts.clone(),
            last_alert: msg.last_alert.clone(),
            pod_alert,
        })
    }

    /// Samples the criteria in force count from, for `s` at `now`: after the rebuild grace a
    /// restored count no longer holds learning back.
    fn baseline(&self, s: &Service, now: Duration) -> u64 {
        match s.restored_at {
            Some(t)
                if now.saturating_sub(t) >= self.rebuild_grace
                    && learn::samples(&s.pile) < s.learned_from =>
            {
                0
            }
            _ => s.learned_from,
        }
    }

    /// Services whose criteria are due to be learned at `now`.
    pub fn learn_due(&self, now: Duration) -> Vec<Key> {
        self.services
            .iter()
            .filter(|(_, s)| !s.frozen)
            .filter(|(_, s)| {
                let base = self.baseline(s, now);
                let fresh = learn::samples(&s.pile).saturating_sub(base);
                self.cadence
                    .learn_due(now.saturating_sub(s.last_learned), fresh, base)
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Learns `key`'s criteria from its merged pile under `control` (the service's Guardian
    /// in force); `at` is the time in RFC 3339, for the status.
    pub fn learn(
        &mut self,
        key: &Key,
        control: &GuardControl,
        now: Duration,
        at: String,
    ) -> Option<&Criteria> {
        let s = self.services.get_mut(key)?;
        let criteria = learn::learn(&s.pile, control);
        let samples = learn::samples(&s.pile);
        if samples != s.learned_from {
            s.unpersisted = true;
        }
        s.learned_from = samples;
        s.last_learned = now;
        s.restored_at = None;
        if s.learning_since.is_none() {
            s.learning_since = Some(at.clone());
            s.unpersisted = true;
        }
        s.last_learned_at = Some(at);
        if s.criteria.as_ref() != Some(&criteria) {
            s.unpersisted = true;
        }
        s.criteria = Some(criteria);
        s.criteria.as_ref()
    }

    /// The status to write for `key`: what is in force now.
    pub fn status(&self, key: &Key) -> Option<GuardianStatus> {
        let s = self.services.get(key)?;
        Some(GuardianStatus {
            learned: s.criteria.clone(),
            samples: s.learned_from,
            last_learned: s.last_learned_at.clone(),
            learning_since: s.learning_since.clone(),
        })
    }

    /// When `key`'s criteria were first learned (RFC 3339).
    pub fn learning_since(&self, key: &Key) -> Option<&str> {
        self.services.get(key)?.learning_since.as_deref()
    }

    /// Freezes `key`'s criteria (its learning window passed: it is not due to learn while
    /// frozen) or thaws them (the window was raised or removed). Whether that changed anything.
    pub fn set_frozen(&mut self, key: &Key, frozen: bool) -> bool {
        match self.services.get_mut(key) {
            Some(s) if s.frozen != frozen => {
                s.frozen = frozen;
                true
            }
            _ => false,
        }
    }

    /// The services frozen now.
    pub fn frozen(&self) -> Vec<Key> {
        self.services
            .iter()
            .filter(|(_, s)| s.frozen)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Services whose status is due to be persisted at `now` (changed, and the persist interval
    /// passed); `all` for a shutdown (changed, whenever).
    pub fn persist_due(&self, now: Duration, all: bool) -> Vec<Key> {
        self.services
            .iter()
            .filter(|(_, s)| {
                s.unpersisted
                    && (all
                        || self
                            .cadence
                            .persist_due(now.saturating_sub(s.last_persisted), true))
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// `key`'s status was written at `now`.
    pub fn persisted(&mut self, key: &Key, now: Duration) {
        if let Some(s) = self.services.get_mut(key) {
            s.unpersisted = false;
            s.last_persisted = now;
        }
    }

    /// Services kept, and the samples of all their piles.
    pub fn size(&self) -> (usize, u64) {
        let samples = self
            .services
            .values()
            .map(|s| learn::samples(&s.pile))
            .fold(0u64, u64::saturating_add);
        (self.services.len(), samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn id(service: &str) -> Identity {
        Identity {
            namespace: "shop".into(),
            service: service.into(),
            pod: "api-1".into(),
            verified: true,
        }
    }

    /// `n` requests numbered from `from`, from 10 clients in `n` sessions.
    fn traffic(from: u64, n: u64) -> SyncMessage {
        SyncMessage::new("api", crate::shop_pile(from, n, 10), n)
    }

    fn key() -> Key {
        ("shop".into(), "api".into())
    }

    #[test]
    fn a_resent_pile_adds_nothing_and_two_gates_add_up() {
        let mut h = Hub::default();
        let a = traffic(0, 100);
        let first = h.accept(&id("api"), &a, None, S(0)).expect("accepted");
        assert_eq!((first.fresh, first.samples), (100, 100));
        let again = h.accept(&id("api"), &a, None, S(1)).expect("accepted");
        assert_eq!((again.fresh, again.samples), (0, 100), "idempotent");
        let b = traffic(100, 50);
        let other = h.accept(&id("api"), &b, None, S(2)).expect("accepted");
        assert_eq!((other.fresh, other.samples), (50, 150));
    }

    #[test]
    fn a_claim_for_another_service_is_refused_and_piles_nothing() {
        let mut h = Hub::default();
        let e = h.accept(&id("payments"), &traffic(0, 10), None, S(0));
        assert!(matches!(
            e,
            Err(Refused::Message(SyncError::WrongService { .. }))
        ));
        assert_eq!(h.size(), (0, 0));
    }

    #[test]
    fn an_unverified_gate_cannot_report_a_compromise() {
        let mut h = Hub::default();
        let mut m = traffic(0, 10);
        m.pod_alert = true;
        let mut anon = id("api");
        anon.verified = false;
        let a = h.accept(&anon, &m, None, S(0)).expect("accepted");
        assert_eq!(a.pod_alert, PodAlert::RefusedUnverified);
        let a = h.accept(&id("api"), &m, None, S(0)).expect("accepted");
        assert_eq!(a.pod_alert, PodAlert::Report);
    }

    #[test]
    fn learning_and_persisting_follow_the_cadence() {
        let mut h = Hub::default();
        let control = GuardControl::default();
        h.accept(&id("api"), &traffic(0, 500), None, S(0))
            .expect("accepted");
        // New state, everything new: > 10 % new of nothing learned.
        assert_eq!(h.learn_due(S(0)), vec![key()]);
        h.learn(&key(), &control, S(0), "t0".into())
            .expect("learned");
        assert!(h.learn_due(S(1)).is_empty());
        // 20 new of 500 (4 %): not yet; after 30 s, yes.
        h.accept(&id("api"), &traffic(500, 20), None, S(1))
            .expect("accepted");
        assert!(h.learn_due(S(29)).is_empty());
        assert_eq!(h.learn_due(S(30)), vec![key()]);
        // Persisting waits 5 minutes from the state's start, then holds the criteria.
        assert!(h.persist_due(S(299), false).is_empty());
        assert_eq!(h.persist_due(S(300), false), vec![key()]);
        assert_eq!(h.persist_due(S(10), true), vec![key()], "shutdown: at once");
        let status = h.status(&key()).expect("status");
        assert!(status.learned.is_some());
        assert_eq!(status.last_learned.as_deref(), Some("t0"));
        h.persisted(&key(), S(300));
        assert!(h.persist_due(S(900), false).is_empty(), "nothing changed");
    }

    #[test]
    fn a_restart_waits_for_the_gates_before_learning_again() {
        // Persisted: criteria from 1,000 samples.
        let mut before = Hub::default();
        let control = GuardControl::default();
        before
            .accept(&id("api"), &traffic(0, 1000), None, S(0))
            .expect("accepted");
        before.learn(&key(), &control, S(0), "t0".into());
        let status = before.status(&key()).expect("status");
        let samples = status.samples;
        // Restarted: one gate re-sends a part of what was learned.
        let mut h = Hub::default();
        h.accept(&id("api"), &traffic(0, 300), Some(&status), S(0))
            .expect("accepted");
        for t in [0, 30, 120, 329] {
            assert!(h.learn_due(S(t)).is_empty(), "criteria kept at {t}s");
        }
        assert_eq!(h.status(&key()).expect("kept").learned, status.learned);
        // The other gates re-send; learning resumes once past what was learned.
        h.accept(&id("api"), &traffic(0, 1200), None, S(40))
            .expect("accepted");
        assert!(learn::samples(&h.services[&key()].pile) > samples);
        assert_eq!(h.learn_due(S(40)), vec![key()]);
        // Or, when those gates are gone, after the grace.
        let mut h = Hub::default();
        h.accept(&id("api"), &traffic(0, 300), Some(&status), S(0))
            .expect("accepted");
        assert_eq!(h.learn_due(S(330)), vec![key()]);
    }

    #[test]
    fn a_poisoning_client_is_one_client_however_many_replicas_it_reaches() {
        use crate::exchange::{Exchange, extract};
        let attacker = crate::hash::stable(b"203.0.113.9");
        let mut h = Hub::default();
        // Three replicas: ordinary traffic from 10 clients each, and the same injection sent
        // by one client through every replica, in several sessions each.
        for gate in 0..3u64 {
            let mut p = crate::shop_pile(gate * 1000, 200, 10);
            for s in 0..5u64 {
                let x = Exchange {
                    method: "GET".into(),
                    target: "/items/7?q=1%27+or+%271%27%3D%271".into(),
                    headers: vec![("user-agent".into(), "curl/8".into())],
                    ..Exchange::default()
                };
                p.observe(
                    &extract(&x),
                    None,
                    None,
                    crate::Origin {
                        session: crate::hash::combine(attacker, gate * 100 + s),
                        client: attacker,
                        request: crate::hash::combine(attacker, gate * 1000 + s),
                    },
                );
            }
            let mut m = SyncMessage::new("api", p, 205);
            m.service = "api".into();
            h.accept(&id("api"), &m, None, S(gate)).expect("accepted");
        }
        let c = h
            .learn(&key(), &GuardControl::default(), S(10), "t".into())
            .expect("learned")
            .clone();
        let judge = crate::Judge::new(Some(&c), None);
        let attack = extract(&Exchange {
            method: "GET".into(),
            target: "/items/8?q=1%27+or+%271%27%3D%271".into(),
            headers: vec![("user-agent".into(), "curl/8".into())],
            ..Exchange::default()
        });
        assert!(
            !judge.request(&attack, None).passed(),
            "the injection was not learned"
        );
        let normal = extract(&Exchange {
            method: "GET".into(),
            target: "/items/9?q=red+shoes".into(),
            headers: vec![("user-agent".into(), "curl/8".into())],
            ..Exchange::default()
        });
        assert!(judge.request(&normal, None).passed());
        // It is the client threshold that holds it out: with one client enough, the
        // injection's punctuation would be learned.
        let specials = |c: &Criteria| {
            c.routes
                .iter()
                .find(|r| r.template == "/items/{int}")
                .and_then(|r| r.values.get("query.q"))
                .map(|v| v.specials.clone())
                .unwrap_or_default()
        };
        assert!(!specials(&c).contains('\''));
        let lax = GuardControl {
            min_clients: 1,
            ..GuardControl::default()
        };
        let c = h.learn(&key(), &lax, S(11), "t".into()).expect("learned");
        assert!(specials(c).contains('\''), "{c:?}");
    }

    #[test]
    fn a_frozen_service_is_never_due_again() {
        let mut h = Hub::default();
        h.accept(&id("api"), &traffic(0, 100), None, S(0))
            .expect("accepted");
        h.learn(&key(), &GuardControl::default(), S(0), "t0".into());
        assert_eq!(h.learning_since(&key()), Some("t0"));
        h.learn(&key(), &GuardControl::default(), S(5), "t1".into());
        assert_eq!(
            h.learning_since(&key()),
            Some("t0"),
            "where learning started"
        );
        h.accept(&id("api"), &traffic(100, 500), None, S(6))
            .expect("accepted");
        assert_eq!(h.learn_due(S(6)), vec![key()]);
        assert!(h.set_frozen(&key(), true));
        assert!(!h.set_frozen(&key(), true), "already");
        assert!(h.learn_due(S(600)).is_empty());
        assert_eq!(h.frozen(), vec![key()]);
        assert!(h.set_frozen(&key(), false));
        assert_eq!(h.learn_due(S(600)), vec![key()], "thawed");
    }

    #[test]
    fn services_are_bounded() {
        let mut h = Hub {
            max_services: 1,
            ..Hub::default()
        };
        h.accept(&id("api"), &traffic(0, 1), None, S(0))
            .expect("first");
        let mut other = traffic(0, 1);
        other.service = "web".into();
        assert_eq!(
            h.accept(&id("web"), &other, None, S(0)),
            Err(Refused::TooManyServices(1))
        );
    }
}
