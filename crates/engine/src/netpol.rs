//! NetworkPolicies from observed flows, live: flows arrive through the ingest's `POST /flows`
//! or a followed capture file; at most once per interval, when the flows or the cluster moved,
//! the plan is made again from the current model (off the loop, on a blocking thread) and
//! published on the dashboard (`GET /netpol`, the page's section) and in metrics.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rampart_http::dashboard::DashboardState;
use rampart_http::ingest::FlowSink;
use rampart_model::{Change, Kind, ObjectKey, Snapshot};
use rampart_respond::rollout::{PlanView, PlannedPolicy, PlannedStep, STEP_LABEL};
use tokio_util::sync::CancellationToken;

use crate::config::NetpolConfig;

/// Largest piece of a followed file read per poll.
const CHUNK: u64 = 16 << 20;

/// Makes the plan again when due.
pub(crate) struct Planner {
    sink: Arc<FlowSink>,
    config: NetpolConfig,
    /// The flows' generation and the model's moves when the last plan was made.
    planned: Option<(u64, u64)>,
    last: Option<Instant>,
    running: Arc<AtomicBool>,
    /// The latest plan as the `netpol` rollout follows it.
    view: Arc<std::sync::Mutex<Option<Arc<PlanView>>>>,
}

impl Planner {
    /// A planner over `sink`; follows the configured file, if any, until `cancel`.
    pub(crate) fn start(
        sink: Arc<FlowSink>,
        config: &NetpolConfig,
        cancel: &CancellationToken,
    ) -> Planner {
        if let Some(path) = config.flows_file.clone() {
            tokio::spawn(follow(path, sink.clone(), cancel.clone()));
        }
        Planner {
            sink,
            config: config.clone(),
            planned: None,
            last: None,
            running: Arc::new(AtomicBool::new(false)),
            view: Arc::default(),
        }
    }

    /// The latest plan, as the rollout follows it (none before the first).
    pub(crate) fn view(&self) -> Option<Arc<PlanView>> {
        self.view.lock().ok().and_then(|v| v.clone())
    }

    /// Where flows arrive (the rollout takes the policy drops from it).
    pub(crate) fn sink(&self) -> &Arc<FlowSink> {
        &self.sink
    }

    /// Plans again when flows exist, the interval has passed, no plan is being made, and the
    /// flows or the model (`model_moves`) changed since the last plan.
    pub(crate) fn maybe_plan(
        &mut self,
        snapshot: &Snapshot,
        model_moves: u64,
        dashboard: &Arc<DashboardState>,
    ) {
        let generation = self.sink.generation.load(Ordering::Relaxed);
        if generation == 0
            || self.planned == Some((generation, model_moves))
            || self
                .last
                .is_some_and(|t| t.elapsed() < self.config.interval)
            || self.running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.planned = Some((generation, model_moves));
        self.last = Some(Instant::now());
        let collected = match self.sink.collector.lock() {
            Ok(c) => c.clone(),
            Err(_) => {
                self.running.store(false, Ordering::Release);
                return;
            }
        };
        let snapshot = snapshot.clone();
        let settings = self.config.settings.clone();
        let dashboard = dashboard.clone();
        let running = self.running.clone();
        let view = self.view.clone();
        let malformed = self.sink.malformed.load(Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let snapshot = without_rollout(snapshot);
            let plan = rampart_netpol::plan(&snapshot, &collected, &settings, true);
            if let Ok(mut slot) = view.lock() {
                *slot = Some(Arc::new(view_of(&plan)));
            }
            let m = &dashboard.metrics;
            m.netpol_connections.set(plan.observed.connections as i64);
            m.netpol_policies.set(plan.policies.len() as i64);
            m.netpol_denied.set(plan.verification.broken.len() as i64);
            m.netpol_unobserved
                .set(plan.verification.unobserved_count as i64);
            m.netpol_flows.set(collected.tally.flows as i64);
            m.netpol_malformed.set(malformed as i64);
            tracing::info!(
                connections = plan.observed.connections,
                policies = plan.policies.len(),
                kept = plan.verification.kept,
                observed = plan.verification.observed,
                seconds = t.elapsed().as_secs_f64(),
                "NetworkPolicy plan from observed flows"
            );
            if let Ok(v) = serde_json::to_value(&plan)
                && let Ok(mut slot) = dashboard.netpol.write()
            {
                *slot = Some(Arc::new(v));
            }
            running.store(false, Ordering::Release);
        });
    }
}

/// The model without the policies the rollout applied: a plan is made as if none of its own
/// steps were in force, so it does not change because they are.
fn without_rollout(mut snapshot: Snapshot) -> Snapshot {
    let ours: Vec<ObjectKey> = snapshot
        .of_kind(Kind::NetworkPolicy)
        .filter(|o| o.object.meta().labels.contains_key(STEP_LABEL))
        .map(|o| ObjectKey::of(&o.object))
        .collect();
    for key in ours {
        snapshot.apply(Change::Delete(key));
    }
    snapshot
}

/// The plan as the rollout reads it: each step's policies with their manifests, and whether
/// the step keeps every observed connection. Steps are numbered by stage (1 ingress, 2 egress,
/// 3 default-deny), not by position: an applied default-deny stays step 3 when a later plan
/// gains an egress step, so what relies on what never changes with the plan.
fn view_of(plan: &rampart_netpol::Plan) -> PlanView {
    let manifests: std::collections::BTreeMap<(&str, &str), &serde_json::Value> = plan
        .suggested
        .iter()
        .map(|s| ((s.namespace.as_str(), s.name.as_str()), &s.manifest))
        .collect();
    PlanView {
        flows: plan.observed.collect.flows,
        steps: plan
            .steps
            .iter()
            .map(|s| PlannedStep {
                number: rampart_netpol::Stage::ALL
                    .iter()
                    .position(|x| *x == s.stage)
                    .map_or(s.number, |i| i + 1),
                verified: s.verification.keeps_every_flow(),
                policies: s
                    .policies
                    .iter()
                    .filter_map(|p| {
                        let m = manifests.get(&(p.namespace.as_str(), p.name.as_str()))?;
                        Some(PlannedPolicy {
                            namespace: p.namespace.clone(),
                            name: p.name.clone(),
                            manifest: (*m).clone(),
                        })
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Follows a capture file: what is appended is read a line at a time (a partial last line
/// waits for its end); a file that shrinks or is replaced is read again from its start.
async fn follow(path: PathBuf, sink: Arc<FlowSink>, cancel: CancellationToken) {
    let mut at: u64 = 0;
    let mut identity: Option<(u64, u64)> = None;
    let mut warned = false;
    loop {
        let p = path.clone();
        let s = sink.clone();
        let from = at;
        let seen = identity;
        let step = tokio::task::spawn_blocking(move || read_more(&p, &s, from, seen)).await;
        match step {
            Ok(Ok((next, id))) => {
                at = next;
                identity = Some(id);
                warned = false;
            }
            Ok(Err(e)) => {
                if !warned {
                    tracing::warn!(file = %path.display(), error = %e, "cannot read the flows file; trying again");
                    warned = true;
                }
            }
            Err(_) => {}
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Reads what follows `from` (from 0 when the file is another one or shorter) up to the last
/// complete line; returns the new offset and the file's identity (device, inode).
fn read_more(
    path: &std::path::Path,
    sink: &FlowSink,
    from: u64,
    seen: Option<(u64, u64)>,
) -> Result<(u64, (u64, u64)), String> {
    use std::os::unix::fs::MetadataExt;
    let mut file = rampart_files::open_regular(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    let id = (meta.dev(), meta.ino());
    let mut at = if seen == Some(id) && meta.len() >= from {
        from
    } else {
        0
    };
    while meta.len() > at {
        let want = (meta.len() - at).min(CHUNK);
        file.seek(SeekFrom::Start(at)).map_err(|e| e.to_string())?;
        let mut buf = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
        (&mut file)
            .take(want)
            .read_to_end(&mut buf)
            .map_err(|e| e.to_string())?;
        let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
            if want == CHUNK {
                // One line longer than a chunk: skipped (the reader bounds lines anyway).
                at += want;
                continue;
            }
            break;
        };
        // Bad records are counted by the sink; nothing in a file is refused as a whole.
        let _ = sink.take(&buf[..=end]);
        at += end as u64 + 1;
    }
    Ok((at, id))
}
