//! Model adjudication beside the loop: an OpenAI-compatible Chat Completions client and the
//! task that asks it about each proven chain.
//!
//! The loop never waits on the model. After each publish it hands the chains over
//! ([`Judge::submit`]) and goes on; the task works out each chain's facts, answers from the
//! cache what it can, asks the model for the rest — at most `concurrency` at once and
//! `per_minute` a minute, chains with a foothold first — and wakes the loop when a verdict
//! arrives, which then re-decides without re-proving (like new runtime evidence). A model that
//! is down, slow or answering nonsense yields `unknown`, counted, and is asked again only
//! after a short while.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rampart_http::client::{ClientError, Poster};
use rampart_http::dashboard::{JudgeMetrics, OutcomeLabels};
use rampart_judge::{AnswerError, Cache, CacheKey, Facts, Judgement, Prompt};
use rampart_report::ScanReport;
use rampart_report::scan::ChainOut;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::clock::now;

/// Largest answer read: a verdict is a few hundred bytes; a 10 MB answer is refused unread.
pub const MAX_REPLY: usize = 256 << 10;
/// Most attempts of one request (429 and 5xx are retried, honouring `Retry-After`).
const MAX_ATTEMPTS: u32 = 3;
/// How long a non-answer is cached before the chain is asked about again.
const UNANSWERED_TTL: u64 = 60;
/// Least time between two rebuilds of the queue.
const REBUILD_INTERVAL: Duration = Duration::from_millis(500);

/// How to reach and use the model.
#[derive(Debug, Clone)]
pub struct ModelSettings {
    /// The Chat Completions endpoint's base URL (`http://127.0.0.1:8081/v1`) or the full
    /// `…/chat/completions` URL.
    pub url: String,
    /// The model's name, as the server knows it.
    pub name: String,
    /// Whole-request deadline, retries included.
    pub timeout: Duration,
    /// File holding the API key (sent as a bearer token, read fresh on every request).
    pub api_key_file: Option<PathBuf>,
    /// CA that signed an `https://` server's certificate (default: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// Requests at once.
    pub concurrency: usize,
    /// Requests per minute.
    pub per_minute: u32,
    /// Confidence from which an `exploitable` verdict makes a chain `judged`.
    pub threshold: f64,
    /// Verdicts cached.
    pub cache_size: usize,
    /// How long a verdict is cached.
    pub cache_ttl: Duration,
    /// Most tokens of an answer.
    pub max_tokens: u32,
}

impl ModelSettings {
    /// The settings' own errors (ranges), before anything connects.
    pub fn validate(&self) -> Result<(), Error> {
        if self.name.trim().is_empty() {
            return Err(Error::Config("--model-name must name the model".into()));
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(Error::Config(format!(
                "--model-threshold {} is outside 0..1",
                self.threshold
            )));
        }
        if self.concurrency == 0 || self.per_minute == 0 {
            return Err(Error::Config(
                "--model-concurrency and --model-per-minute must be at least 1".into(),
            ));
        }
        if self.timeout.is_zero() {
            return Err(Error::Config("--model-timeout must be above zero".into()));
        }
        Ok(())
    }

    /// The Chat Completions URL: a base URL gets `/chat/completions` appended.
    pub fn endpoint(&self) -> String {
        let u = self.url.trim_end_matches('/');
        if u.ends_with("/chat/completions") {
            u.to_string()
        } else {
            format!("{u}/chat/completions")
        }
    }
}

/// Why a request gave no verdict.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Could not talk to the server.
    #[error("{0}")]
    Transport(String),
    /// An HTTP error status.
    #[error("the model server answered HTTP {0}")]
    Status(u16),
    /// The answer is too large.
    #[error("the answer is over {MAX_REPLY} bytes")]
    TooLarge,
    /// The answer is not a valid verdict.
    #[error(transparent)]
    Answer(#[from] AnswerError),
}

impl AskError {
    /// A label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            AskError::Timeout(_) => "timeout",
            AskError::Transport(_) => "transport",
            AskError::Status(_) => "status",
            AskError::TooLarge => "too_large",
            AskError::Answer(_) => "invalid",
        }
    }
}

/// The Chat Completions client.
#[derive(Debug)]
pub struct ModelClient {
    poster: Poster,
    name: String,
    timeout: Duration,
    max_tokens: u32,
    /// Whether to send `response_format`; cleared once a server refuses it.
    structured: AtomicBool,
}

impl ModelClient {
    /// A client for `s` (files are read on each request, not here).
    pub fn new(s: &ModelSettings) -> Result<ModelClient, Error> {
        s.validate()?;
        let ca = match &s.ca_file {
            Some(p) => Some(
                rampart_http::client::read_ca(p)
                    .map_err(|e| Error::Config(format!("--model-ca-file: {e}")))?,
            ),
            None => None,
        };
        let poster = Poster::new_external(
            &s.endpoint(),
            ca.as_deref(),
            s.api_key_file.as_deref(),
            s.timeout,
        )
        .map_err(|e| Error::Config(format!("--model-url: {e}")))?;
        Ok(ModelClient {
            poster,
            name: s.name.clone(),
            timeout: s.timeout,
            max_tokens: s.max_tokens,
            structured: AtomicBool::new(true),
        })
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Asks about one chain; the verdict, or why there is none. Never longer than the
    /// timeout, retries and `Retry-After` waits included.
    pub async fn ask(&self, facts: &Facts) -> Result<Judgement, AskError> {
        let prompt = Prompt::new(facts);
        let ids = facts.step_ids();
        let deadline = Instant::now() + self.timeout;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let structured = self.structured.load(Ordering::Relaxed);
            let body =
                rampart_judge::request_body(&self.name, &prompt, structured, self.max_tokens);
            let left = deadline.saturating_duration_since(Instant::now());
            let reply =
                match tokio::time::timeout(left, self.poster.exchange(body, MAX_REPLY)).await {
                    Err(_) | Ok(Err(ClientError::Timeout(_))) => {
                        return Err(AskError::Timeout(self.timeout));
                    }
                    Ok(Err(ClientError::TooLarge(_))) => return Err(AskError::TooLarge),
                    Ok(Err(e)) => return Err(AskError::Transport(e.to_string())),
                    Ok(Ok(r)) => r,
                };
            let status = reply.status.as_u16();
            match status {
                200 => return Ok(rampart_judge::parse_reply(&reply.body, &ids, &self.name)?),
                // A server that does not take `response_format` says so with a 400 (llama.cpp
                // builds without grammar support, older vLLM): asked again without, for good.
                400 | 422 if structured => {
                    tracing::info!(
                        status,
                        "the model server refused response_format; asking without it"
                    );
                    self.structured.store(false, Ordering::Relaxed);
                }
                429 | 500 | 502 | 503 | 504 if attempt < MAX_ATTEMPTS => {
                    let wait = reply
                        .retry_after
                        .unwrap_or(Duration::from_millis(500 * u64::from(attempt)));
                    let left = deadline.saturating_duration_since(Instant::now());
                    if wait >= left {
                        return Err(AskError::Status(status));
                    }
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(AskError::Status(status)),
            }
        }
    }
}

/// Counts a request's outcome and turns a failure into an `unknown` verdict.
fn settle(
    metrics: &JudgeMetrics,
    model: &str,
    result: Result<Judgement, AskError>,
    took: Duration,
) -> Judgement {
    metrics.latency.observe(took.as_secs_f64());
    let outcome = match &result {
        Ok(_) => "answered",
        Err(e) => e.label(),
    };
    metrics
        .requests
        .get_or_create(&OutcomeLabels { outcome })
        .inc();
    let j = match result {
        Ok(j) => j,
        Err(e) => {
            if let AskError::Answer(a) = &e {
                metrics
                    .parse_failures
                    .get_or_create(&OutcomeLabels { outcome: a.label() })
                    .inc();
            }
            tracing::debug!("the model gave no verdict: {e}");
            rampart_judge::unanswered(model, e.to_string())
        }
    };
    metrics
        .verdicts
        .get_or_create(&OutcomeLabels {
            outcome: j.verdict.as_str(),
        })
        .inc();
    j
}

/// Judges every chain once (offline: `rampart scan --model-url`), at most `concurrency` at
/// once; verdicts by chain id.
pub async fn judge_all(
    client: &Arc<ModelClient>,
    chains: &[ChainOut],
    concurrency: usize,
    metrics: &JudgeMetrics,
) -> BTreeMap<String, Judgement> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for c in chains {
        let facts = Facts::of(c);
        let (client, permits) = (client.clone(), permits.clone());
        let id = c.id.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let t = Instant::now();
            let r = client.ask(&facts).await;
            (id, r, t.elapsed())
        });
    }
    let mut out = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok((id, r, took)) = done {
            out.insert(id, settle(metrics, client.name(), r, took));
        }
    }
    out
}

/// One chain as the task sees it.
struct Queued {
    id: String,
    facts: Facts,
    hash: u64,
}

#[derive(Default)]
struct State {
    /// Chains handed over and not yet read.
    next: Option<Arc<ScanReport>>,
    /// The latest chains, foothold first.
    queue: Vec<Queued>,
    /// The verdict on each current chain, with the facts hash it was given on.
    current: BTreeMap<String, (u64, Judgement)>,
    in_flight: BTreeSet<CacheKey>,
    /// When the last minute's requests were sent.
    sent: VecDeque<Instant>,
}

struct Inner {
    client: ModelClient,
    threshold: f64,
    per_minute: usize,
    metrics: JudgeMetrics,
    state: Mutex<State>,
    cache: Mutex<Cache>,
    permits: Arc<Semaphore>,
    /// Wakes the task (new chains, a finished request).
    work: Notify,
    /// Wakes the loop (a verdict changed).
    changed: Notify,
}

/// The judging task's handle.
#[derive(Clone)]
pub struct Judge(Arc<Inner>);

impl Judge {
    /// Starts the task.
    pub fn start(
        s: &ModelSettings,
        metrics: JudgeMetrics,
        cancel: CancellationToken,
    ) -> Result<Judge, Error> {
        let client = ModelClient::new(s)?;
        let judge = Judge(Arc::new(Inner {
            client,
            threshold: s.threshold,
            per_minute: s.per_minute as usize,
            metrics,
            state: Mutex::default(),
            cache: Mutex::new(Cache::new(
                s.cache_size,
                s.cache_ttl.as_secs().max(1),
                UNANSWERED_TTL,
            )),
            permits: Arc::new(Semaphore::new(s.concurrency)),
            work: Notify::new(),
            changed: Notify::new(),
        }));
        tokio::spawn(judge.clone().work(cancel));
        Ok(judge)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands over the latest report's chains (replacing any not yet read); returns at once.
    pub fn submit(&self, chains: Arc<ScanReport>) {
        self.state().next = Some(chains);
        self.0.work.notify_one();
    }

    /// Resolves when a verdict changed.
    pub async fn changed(&self) {
        self.0.changed.notified().await;
    }

    /// The confidence from which `exploitable` makes a chain `judged`.
    pub fn threshold(&self) -> f64 {
        self.0.threshold
    }

    /// The verdicts on the current chains.
    pub fn judgements(&self) -> BTreeMap<String, Judgement> {
        self.state()
            .current
            .iter()
            .map(|(id, (_, j))| (id.clone(), j.clone()))
            .collect()
    }

    /// The chains judged `exploitable` at the threshold, with the facts hash each verdict was
    /// given on (the loop checks it against the chain as it is now before the bar sees it).
    pub fn affirmed(&self) -> BTreeMap<String, u64> {
        self.state()
            .current
            .iter()
            .filter(|(_, (_, j))| j.affirms(self.0.threshold))
            .map(|(id, (h, _))| (id.clone(), *h))
            .collect()
    }

    async fn work(self, cancel: CancellationToken) {
        let mut rebuilt: Option<Instant> = None;
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = self.0.work.notified() => {}
                // Chains left by the per-minute limit are picked up again.
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            // A busy cluster publishes every few milliseconds: the queue is rebuilt at most
            // once per interval, from the latest report (the loop checks a verdict against
            // the chain as it is before acting on it, so a late rebuild cannot mislead it).
            let due = rebuilt.is_none_or(|t| t.elapsed() >= REBUILD_INTERVAL);
            let next = if due { self.state().next.take() } else { None };
            if let Some(report) = next {
                rebuilt = Some(Instant::now());
                // Facts of thousands of chains take milliseconds: off the async workers.
                let queue = tokio::task::spawn_blocking(move || queue(&report.chains))
                    .await
                    .unwrap_or_default();
                let mut st = self.state();
                let before = st.current.len();
                let live: BTreeMap<&str, u64> =
                    queue.iter().map(|q| (q.id.as_str(), q.hash)).collect();
                // A chain that is gone, or whose facts changed, loses its verdict at once.
                st.current
                    .retain(|id, (h, _)| live.get(id.as_str()) == Some(h));
                let dropped = st.current.len() != before;
                st.queue = queue;
                drop(st);
                if dropped {
                    self.0.changed.notify_one();
                }
            }
            self.schedule();
        }
    }

    /// Answers what the cache can and sends what the limits allow.
    fn schedule(&self) {
        let mut from_cache = false;
        let mut st = self.state();
        let now_s = now();
        let minute_ago = Instant::now().checked_sub(Duration::from_secs(60));
        while let (Some(t), Some(m)) = (st.sent.front(), minute_ago) {
            if *t >= m {
                break;
            }
            st.sent.pop_front();
        }
        let mut ask: Vec<(CacheKey, Facts)> = Vec::new();
        let mut pending = 0i64;
        let State {
            queue,
            current,
            in_flight,
            sent,
            ..
        } = &mut *st;
        let mut cache = self.0.cache.lock().unwrap_or_else(|e| e.into_inner());
        let mut blocked = false;
        for q in queue.iter() {
            if current.get(&q.id).is_some_and(|(h, _)| *h == q.hash) {
                continue;
            }
            let key = CacheKey {
                chain: q.id.clone(),
                facts: q.hash,
            };
            if in_flight.contains(&key) {
                pending += 1;
                continue;
            }
            if blocked {
                pending += 1;
                continue;
            }
            if let Some(j) = cache.get(&key, now_s) {
                self.0.metrics.cache_hits.inc();
                current.insert(q.id.clone(), (q.hash, j.clone()));
                from_cache = true;
                continue;
            }
            self.0.metrics.cache_misses.inc();
            if sent.len() >= self.0.per_minute {
                self.0.metrics.rate_limited.inc();
                blocked = true;
                pending += 1;
                continue;
            }
            if self.0.permits.available_permits() <= ask.len() {
                blocked = true;
                pending += 1;
                continue;
            }
            sent.push_back(Instant::now());
            in_flight.insert(key.clone());
            pending += 1;
            ask.push((key, q.facts.clone()));
        }
        drop(cache);
        drop(st);
        self.0.metrics.pending.set(pending);
        for (key, facts) in ask {
            let judge = self.clone();
            let permits = self.0.permits.clone();
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                let t = Instant::now();
                let r = judge.0.client.ask(&facts).await;
                let j = settle(&judge.0.metrics, judge.0.client.name(), r, t.elapsed());
                judge.record(key, j);
            });
        }
        if from_cache {
            self.0.changed.notify_one();
        }
    }

    /// Keeps a verdict and wakes the loop and the task.
    fn record(&self, key: CacheKey, j: Judgement) {
        self.0
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), j.clone(), now());
        let mut st = self.state();
        st.in_flight.remove(&key);
        let still = st
            .queue
            .iter()
            .any(|q| q.id == key.chain && q.hash == key.facts);
        if still {
            st.current.insert(key.chain, (key.facts, j));
        }
        drop(st);
        self.0.changed.notify_one();
        self.0.work.notify_one();
    }
}

/// Each chain's facts and hash, foothold first (only those may ever be acted on), then in the
/// report's order (per entry, shortest first).
fn queue(chains: &[ChainOut]) -> Vec<Queued> {
    let mut q: Vec<Queued> = chains
        .iter()
        .map(|c| {
            let facts = Facts::of(c);
            Queued {
                id: c.id.clone(),
                hash: facts.hash(),
                facts,
            }
        })
        .collect();
    q.sort_by_key(|x| !x.facts.has_foothold());
    q
}

/// Whether a verdict on a chain is current: the chain's facts as the loop sees them now hash
/// to what the verdict was given on.
pub(crate) fn still_holds(chain: &ChainOut, hash: u64) -> bool {
    Facts::of(chain).hash() == hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_get_the_chat_completions_path() {
        let mut s = ModelSettings {
            url: "http://127.0.0.1:8081/v1/".into(),
            name: "m".into(),
            timeout: Duration::from_secs(1),
            api_key_file: None,
            ca_file: None,
            concurrency: 1,
            per_minute: 1,
            threshold: 0.8,
            cache_size: 1,
            cache_ttl: Duration::from_secs(1),
            max_tokens: 1,
        };
        assert_eq!(s.endpoint(), "http://127.0.0.1:8081/v1/chat/completions");
        s.url = "https://api.example/v1/chat/completions".into();
        assert_eq!(s.endpoint(), "https://api.example/v1/chat/completions");
        s.threshold = 1.5;
        assert!(s.validate().is_err());
    }
}
