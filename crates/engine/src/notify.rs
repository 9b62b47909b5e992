//! Notifications out of the engine: what happened (new and corroborated chains, mitigations
//! applied / reverted / failed, break-glass, request-guard blocks) told to generic webhooks
//! (HMAC-signed), Slack-compatible incoming webhooks and CloudEvents receivers. Each
//! destination has its own task and queue ([`rampart_notify::Batcher`]): batched, rate-limited,
//! retried with backoff; what cannot be delivered is counted as a dead letter, never held
//! without bound. The loop only hands notices over (a `try_send`): a slow receiver never slows
//! it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use rampart_http::client::{Poster, read_ca};
use rampart_http::dashboard::{NotifyMetrics, SinkLabels};
use rampart_notify::{Batcher, Format, Kind, Limits, Notice, Sink, Target, redact, render};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::clock::now;

/// Largest URL or secret file read.
const MAX_FILE: u64 = 64 * 1024;
/// Largest answer read from a receiver.
const MAX_REPLY: usize = 16 * 1024;
/// Notices waiting in a destination's channel before `try_send` drops them.
const CHANNEL: usize = 1024;
/// Attempts per batch (the first and three retries: 1 s, 2 s, 4 s apart, or `Retry-After`).
const ATTEMPTS: u32 = 4;
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Notifications as configured (`--notify…`).
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// Destinations: `KIND=URL` or `KIND=@FILE` (KIND: webhook, slack, cloudevents).
    pub sinks: Vec<String>,
    /// File holding the HMAC key that signs webhook bodies.
    pub secret_file: Option<PathBuf>,
    /// What to tell (empty: everything).
    pub on: Vec<String>,
    /// How long a notice waits for others before its batch leaves.
    pub window: Duration,
    /// Most batches a minute, per destination.
    pub per_minute: u32,
    /// CA that signed an `https://` receiver's certificate (default: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// Deadline of one request.
    pub timeout: Duration,
}

/// One destination, ready.
struct Destination {
    label: String,
    format: Format,
    poster: Poster,
    secret: Option<Vec<u8>>,
    host: String,
}

/// Validated settings: the destinations built, the kinds chosen.
pub(crate) struct PreparedNotify {
    destinations: Vec<Destination>,
    on: BTreeSet<Kind>,
    limits: Limits,
}

impl NotifySettings {
    /// Parses every destination, reads every file and builds every client.
    pub(crate) fn prepare(&self) -> Result<PreparedNotify, Error> {
        let read = |what: &'static str, path: &PathBuf| {
            rampart_files::read_bounded(path, MAX_FILE).map_err(|source| Error::Read {
                what,
                path: path.clone(),
                source,
            })
        };
        let secret = match &self.secret_file {
            Some(p) => {
                let key = read("the notification secret ", p)?;
                let key = String::from_utf8_lossy(&key).trim().as_bytes().to_vec();
                if key.len() < 16 {
                    return Err(Error::Config(format!(
                        "--notify-secret-file {}: the key must be at least 16 bytes",
                        p.display()
                    )));
                }
                Some(key)
            }
            None => None,
        };
        let ca = match &self.ca_file {
            Some(p) => {
                Some(read_ca(p).map_err(|e| Error::Config(format!("--notify-ca-file: {e}")))?)
            }
            None => None,
        };
        if self.per_minute == 0 {
            return Err(Error::Config(
                "--notify-per-minute must be at least 1".into(),
            ));
        }
        let mut on = BTreeSet::new();
        for name in self.on.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            on.insert(Kind::parse(name).ok_or_else(|| {
                Error::Config(format!(
                    "--notify-on {name:?}: unknown (one of: {})",
                    Kind::ALL.map(Kind::name).join(", ")
                ))
            })?);
        }
        if on.is_empty() {
            on.extend(Kind::ALL);
        }
        let mut destinations = Vec::new();
        for spec in &self.sinks {
            let sink = Sink::parse(spec).map_err(|e| Error::Config(format!("--notify {e}")))?;
            let url = match &sink.target {
                Target::Url(u) => u.clone(),
                Target::File(f) => {
                    let path = PathBuf::from(f);
                    let text = read("the notification URL ", &path)?;
                    let url = String::from_utf8_lossy(&text).trim().to_string();
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(Error::Config(format!(
                            "--notify {}=@{f}: the file does not hold an http(s) URL",
                            sink.format.name()
                        )));
                    }
                    url
                }
            };
            let poster = Poster::new_external(&url, ca.as_deref(), None, self.timeout)
                .map_err(|e| Error::Config(format!("--notify {}: {e}", redact(&url))))?;
            let n = destinations
                .iter()
                .filter(|d: &&Destination| d.format == sink.format)
                .count();
            destinations.push(Destination {
                label: if n == 0 {
                    sink.format.name().to_string()
                } else {
                    format!("{}-{}", sink.format.name(), n + 1)
                },
                format: sink.format,
                poster,
                secret: (sink.format == Format::Webhook)
                    .then(|| secret.clone())
                    .flatten(),
                host: redact(&url),
            });
        }
        if secret.is_some() && !destinations.iter().any(|d| d.format == Format::Webhook) {
            tracing::warn!(
                "--notify-secret-file signs webhook bodies only, and no --notify webhook=… is set"
            );
        }
        Ok(PreparedNotify {
            destinations,
            on,
            limits: Limits {
                window: self.window.as_secs(),
                per_minute: self.per_minute,
                ..Limits::default()
            },
        })
    }
}

/// Hands notices to every destination's task; cheap to clone. Without destinations it
/// tells no one.
#[derive(Clone, Default)]
pub(crate) struct Notifier {
    senders: Vec<(String, mpsc::Sender<Notice>)>,
    on: BTreeSet<Kind>,
    metrics: NotifyMetrics,
}

impl Notifier {
    /// Starts one task per destination (until `cancel`); `source` names this engine.
    pub(crate) fn start(
        prepared: PreparedNotify,
        source: String,
        metrics: NotifyMetrics,
        cancel: &CancellationToken,
    ) -> Notifier {
        let mut senders = Vec::new();
        for d in prepared.destinations {
            let (tx, rx) = mpsc::channel(CHANNEL);
            tracing::info!(destination = %d.label, host = %d.host, "notifications on");
            senders.push((d.label.clone(), tx));
            tokio::spawn(deliver(
                d,
                rx,
                prepared.limits,
                source.clone(),
                metrics.clone(),
                cancel.clone(),
            ));
        }
        Notifier {
            senders,
            on: prepared.on,
            metrics,
        }
    }

    /// Tells every destination, if the notice's kind is chosen. Never waits: a destination
    /// whose channel is full loses the notice (counted).
    pub(crate) fn tell(&self, n: Notice) {
        if !self.on.contains(&n.kind) {
            return;
        }
        for (label, tx) in &self.senders {
            if tx.try_send(n.clone()).is_err() {
                self.metrics
                    .dead_letters
                    .get_or_create(&SinkLabels {
                        sink: label.clone(),
                        outcome: "queue-full",
                    })
                    .inc();
            }
        }
    }
}

/// One destination's task: queue, batch, send with retries.
async fn deliver(
    d: Destination,
    mut rx: mpsc::Receiver<Notice>,
    limits: Limits,
    source: String,
    metrics: NotifyMetrics,
    cancel: CancellationToken,
) {
    let mut queue = Batcher::new(limits);
    let mut dropped = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let count = |outcome: &'static str| SinkLabels {
        sink: d.label.clone(),
        outcome,
    };
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            n = rx.recv() => match n {
                Some(n) => { queue.push(n, now()); }
                None => return,
            },
            _ = tick.tick() => {}
        }
        if queue.dropped > dropped {
            metrics
                .dead_letters
                .get_or_create(&count("queue-full"))
                .inc_by(queue.dropped - dropped);
            dropped = queue.dropped;
        }
        while let Some(batch) = queue.take(now()) {
            if send(&d, &batch, &source, &metrics).await {
                metrics
                    .delivered
                    .get_or_create(&count("sent"))
                    .inc_by(batch.len() as u64);
            } else {
                metrics
                    .dead_letters
                    .get_or_create(&count("undeliverable"))
                    .inc_by(batch.len() as u64);
                tracing::warn!(
                    destination = %d.label,
                    host = %d.host,
                    notices = batch.len(),
                    "notifications undeliverable after {ATTEMPTS} attempts (dead letter)"
                );
            }
        }
    }
}

/// Sends one batch, retrying transport failures, timeouts, 429 and 5xx; whether a receiver
/// took it (2xx).
async fn send(d: &Destination, batch: &[Notice], source: &str, metrics: &NotifyMetrics) -> bool {
    let count = |outcome: &'static str| SinkLabels {
        sink: d.label.clone(),
        outcome,
    };
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=ATTEMPTS {
        // Rendered (and signed) per attempt: the signature's time is the send's.
        let r = render(d.format, batch, source, d.secret.as_deref(), now());
        let outcome = d
            .poster
            .send(r.body, r.content_type, &r.headers, MAX_REPLY)
            .await;
        let (retry, after) = match outcome {
            Ok(reply) if reply.status.is_success() => {
                metrics.requests.get_or_create(&count("sent")).inc();
                return true;
            }
            Ok(reply) => {
                let s = reply.status.as_u16();
                tracing::debug!(destination = %d.label, status = s, "notification refused");
                (s == 429 || s >= 500, reply.retry_after)
            }
            Err(e) => {
                tracing::debug!(destination = %d.label, "notification failed: {e}");
                (true, None)
            }
        };
        if !retry || attempt == ATTEMPTS {
            metrics.requests.get_or_create(&count("failed")).inc();
            return false;
        }
        metrics.requests.get_or_create(&count("retried")).inc();
        tokio::time::sleep(after.map_or(wait, |a| a.min(MAX_RETRY_AFTER))).await;
        wait *= 2;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(sinks: &[&str]) -> NotifySettings {
        NotifySettings {
            sinks: sinks.iter().map(ToString::to_string).collect(),
            secret_file: None,
            on: Vec::new(),
            window: Duration::from_secs(10),
            per_minute: 12,
            ca_file: None,
            timeout: Duration::from_secs(5),
        }
    }

    fn error(s: &NotifySettings) -> String {
        s.prepare().err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn every_mistake_names_its_flag() {
        let ok = settings(&["webhook=http://127.0.0.1:9/x", "slack=http://127.0.0.1:9/y"]);
        let p = ok.prepare().unwrap();
        assert_eq!(p.on.len(), Kind::ALL.len(), "everything by default");
        assert_eq!(p.destinations.len(), 2);
        assert!(error(&settings(&["pager=http://x"])).contains("--notify"));
        assert!(error(&settings(&["webhook=ftp://x"])).contains("not an http"));
        let mut on = ok.clone();
        on.on = vec!["chain-new".into(), "chain-gone".into()];
        assert!(error(&on).contains("--notify-on \"chain-gone\""));
        let dir = std::env::temp_dir().join(format!("rampart-notify-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("short"), "tiny").unwrap();
        std::fs::write(dir.join("url"), "not a url").unwrap();
        let mut short = ok.clone();
        short.secret_file = Some(dir.join("short"));
        assert!(error(&short).contains("at least 16 bytes"));
        let file = format!("slack=@{}", dir.join("url").display());
        assert!(error(&settings(&[&file])).contains("does not hold an http(s) URL"));
        let mut zero = ok;
        zero.per_minute = 0;
        assert!(error(&zero).contains("--notify-per-minute"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
