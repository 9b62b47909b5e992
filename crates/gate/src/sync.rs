//! The gate's side of the learner: on the original's cadence ([`SyncCadence`]: at once at
//! start, then at 1,000 pending samples or alerts, every minute with enough pending, at least
//! every 5 minutes, never more often than every 5 s, and once more on shutdown) the gate posts
//! its pile to `rampart learner` and puts the Guardian it answers in force. A failed sync
//! keeps everything pending and is retried (backing off up to a minute); the gate goes on
//! judging with the criteria it has.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use rampart_guard::cadence::SyncCadence;
use rampart_guard::sync::{MAX_BYTES, decode_reply};
use rampart_http::client::Poster;
use tokio_util::sync::CancellationToken;

use crate::Gate;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SyncLabels {
    /// `ok`, `refused` (the learner answered with an error), `failed` (no answer).
    pub outcome: &'static str,
}

/// Longest wait between retries of a failing sync.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Syncs `gate` with the learner behind `learner` until `cancel`, then once more.
pub async fn sync_loop(
    gate: Arc<Gate>,
    learner: Poster,
    cadence: SyncCadence,
    cancel: CancellationToken,
) {
    let mut last: Option<Instant> = None;
    let mut backoff = cadence.min_gap;
    let mut retry_at: Option<Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        let due = match (last, retry_at) {
            (_, Some(r)) => now >= r,
            (None, None) => true,
            (Some(l), None) => cadence.due(now.duration_since(l), gate.sync_pending()),
        };
        if !due {
            continue;
        }
        match once(&gate, &learner).await {
            Ok(()) => {
                last = Some(Instant::now());
                retry_at = None;
                backoff = cadence.min_gap;
            }
            Err(e) => {
                tracing::warn!(service = %gate.config.service, "syncing with the learner: {e} (retrying in {backoff:?})");
                retry_at = Some(Instant::now() + backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    if cadence.due_on_shutdown(gate.sync_pending())
        && let Err(e) = once(&gate, &learner).await
    {
        tracing::warn!(service = %gate.config.service, "the last sync with the learner failed: {e}");
    }
}

/// One sync.
pub async fn once(gate: &Gate, learner: &Poster) -> Result<(), String> {
    let m = gate.sync_message();
    let count = |outcome| {
        gate.metrics
            .syncs
            .get_or_create(&SyncLabels { outcome })
            .inc()
    };
    let (status, body) = match learner.post(m.encode(), MAX_BYTES).await {
        Ok(r) => r,
        Err(e) => {
            count("failed");
            return Err(e.to_string());
        }
    };
    if !status.is_success() {
        count("refused");
        let text = String::from_utf8_lossy(&body);
        return Err(format!(
            "{status}: {}",
            text.trim().chars().take(300).collect::<String>()
        ));
    }
    let reply = decode_reply(&body, MAX_BYTES).map_err(|e| {
        count("refused");
        e.to_string()
    })?;
    count("ok");
    gate.synced(&m);
    gate.apply(reply.guardian);
    Ok(())
}
