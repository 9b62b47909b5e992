//! Learning off the request path. A request to learn from is queued (bounded) and piled by one
//! background thread, so a request never waits for the pile; a per-second budget keeps what
//! learning costs flat however busy the service is (support counts sessions and clients, which
//! a sample of a busy service still shows).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use rampart_guard::exchange::{Extracted, ExtractedResponse};
use rampart_guard::{Origin, ServicePile};

/// Requests waiting to be piled; past this, a request is not learned (counted).
const QUEUE: usize = 4096;

/// One request (and its response) to learn from.
pub(crate) struct Observation {
    pub request: Extracted,
    pub response: Option<ExtractedResponse>,
    pub client: Option<IpAddr>,
    pub origin: Origin,
}

/// Why a request that could have been learned was not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skipped {
    /// Over the per-second budget.
    Budget,
    /// The learner is behind.
    QueueFull,
}

pub(crate) struct Learner {
    queue: Mutex<Vec<Observation>>,
    wake: Condvar,
    pile: Mutex<ServicePile>,
    /// Requests learned per second at most; 0: every request.
    budget: u64,
    window: AtomicU64,
    used: AtomicU64,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while piling leaves a summary that is still well-formed; keep going.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Learner {
    /// A learner and its thread (which ends when [`Learner::stop`] is called).
    pub fn start(budget: u64) -> std::io::Result<Arc<Learner>> {
        let l = Arc::new(Learner {
            queue: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            pile: Mutex::new(ServicePile::default()),
            budget,
            window: AtomicU64::new(0),
            used: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let worker = l.clone();
        std::thread::Builder::new()
            .name("rampart-learner".into())
            .spawn(move || worker.run())?;
        Ok(l)
    }

    /// Whether one more request may be learned in the second `now_ms / 1000` (time is passed
    /// in). Lock-free; two requests racing at a window's edge may both get in.
    pub fn admit(&self, now_ms: u64) -> Result<(), Skipped> {
        if self.budget == 0 {
            return Ok(());
        }
        let second = now_ms / 1000;
        // Read first: every request writing the window would bounce its cache line between
        // the cores; only the first request of a second writes it.
        if self.window.load(Ordering::Relaxed) != second
            && self.window.swap(second, Ordering::Relaxed) != second
        {
            self.used.store(0, Ordering::Relaxed);
        }
        if self.used.fetch_add(1, Ordering::Relaxed) < self.budget {
            Ok(())
        } else {
            Err(Skipped::Budget)
        }
    }

    pub fn push(&self, o: Observation) -> Result<(), Skipped> {
        let mut q = lock(&self.queue);
        if q.len() >= QUEUE {
            return Err(Skipped::QueueFull);
        }
        q.push(o);
        if q.len() == 1 {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// The pile with everything queued so far in it (what [`Learner::push`] accepted before
    /// this call is never missed).
    pub fn pile(&self) -> MutexGuard<'_, ServicePile> {
        let mut pile = lock(&self.pile);
        let batch = std::mem::take(&mut *lock(&self.queue));
        observe(&mut pile, batch);
        pile
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _q = lock(&self.queue);
        self.wake.notify_all();
    }

    fn run(&self) {
        loop {
            {
                let mut q = lock(&self.queue);
                while q.is_empty() && !self.stop.load(Ordering::Relaxed) {
                    q = self.wake.wait(q).unwrap_or_else(PoisonError::into_inner);
                }
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
            }
            // The pile first, then the batch: a reader of the pile never misses a batch
            // this thread holds.
            let mut pile = lock(&self.pile);
            let batch = std::mem::take(&mut *lock(&self.queue));
            observe(&mut pile, batch);
        }
    }
}

fn observe(pile: &mut ServicePile, batch: Vec<Observation>) {
    for o in batch {
        pile.observe(&o.request, o.response.as_ref(), o.client, o.origin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_admits_so_many_per_second() -> Result<(), std::io::Error> {
        let l = Learner::start(3)?;
        let admitted = (0..10).filter(|_| l.admit(1_500).is_ok()).count();
        assert_eq!(admitted, 3);
        assert_eq!(l.admit(1_999), Err(Skipped::Budget));
        assert!(l.admit(2_000).is_ok(), "a new second, a new budget");
        let unlimited = Learner::start(0)?;
        assert!((0..10_000).all(|_| unlimited.admit(5).is_ok()));
        l.stop();
        unlimited.stop();
        Ok(())
    }

    #[test]
    fn what_was_queued_is_in_the_pile() -> Result<(), std::io::Error> {
        let l = Learner::start(0)?;
        for i in 0..100u64 {
            let request = Extracted {
                method: "GET".into(),
                segments: vec!["items".into()],
                content_type: "none".into(),
                ..Extracted::default()
            };
            let o = Observation {
                request,
                response: None,
                client: None,
                origin: Origin {
                    session: i,
                    client: i % 7,
                    request: i,
                },
            };
            assert!(l.push(o).is_ok());
        }
        assert_eq!(rampart_guard::learn::samples(&l.pile()), 100);
        l.stop();
        Ok(())
    }
}
