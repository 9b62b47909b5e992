//! `rampart engine`: wiring only. Cluster watchers feed the pure engine core; after each
//! debounced batch of changes the core re-proves and reports; the dashboard serves the latest
//! findings. This build runs shadow-first and writes nothing to the cluster.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use rampart_graph::Options;
use rampart_http::dashboard::{ChainLabels, DashboardState, KindLabels, router};
use rampart_kube::cluster::{ClusterEvent, WATCHED, watch_cluster};
use rampart_model::{Change, Kind};
use rampart_report::{InputSummary, ScanReport};
use rampart_respond::actuator::Actuator;
use rampart_respond::bar::{ActionClass, BarConfig, CircuitBreaker};
use rampart_respond::engine::EngineCore;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::webhook::parse_duration;

/// Arguments of `rampart engine`.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Action classes allowed to act (comma-separated: network, rbac, mount, identity, pod,
    /// judgement). Empty: shadow mode, nothing is written.
    #[arg(long, env = "RAMPART_ENGINE_ENABLE", value_delimiter = ',')]
    pub enable: Vec<String>,
    /// How actions are written: dryrun, networkpolicy, adminnetworkpolicy. Unknown or empty
    /// values fail safe to dryrun.
    #[arg(long, env = "RAMPART_ENGINE_ACTUATOR", default_value = "dryrun")]
    pub actuator: String,
    /// Let `network` act on proof alone (without runtime corroboration).
    #[arg(long, env = "RAMPART_ENGINE_ACT_ON_PROOF")]
    pub act_on_proof: bool,
    /// Dashboard, findings and metrics address.
    #[arg(
        long,
        env = "RAMPART_ENGINE_DASHBOARD_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    pub dashboard_addr: SocketAddr,
    /// Lifetime of a mitigation before it reverts itself.
    #[arg(long, env = "RAMPART_ENGINE_MITIGATION_TTL", default_value = "1h", value_parser = parse_duration)]
    pub mitigation_ttl: Duration,
    /// Quiet time after a change before re-proving (changes in between are batched).
    #[arg(long, env = "RAMPART_ENGINE_DEBOUNCE", default_value = "500ms", value_parser = parse_duration)]
    pub debounce: Duration,
    /// Circuit breaker: most actions per window.
    #[arg(long, env = "RAMPART_ENGINE_MAX_ACTIONS", default_value_t = 5)]
    pub max_actions: usize,
    /// Circuit breaker window.
    #[arg(long, env = "RAMPART_ENGINE_ACTION_WINDOW", default_value = "10m", value_parser = parse_duration)]
    pub action_window: Duration,
    /// rampart's own namespace (never acted on, like kube-system).
    #[arg(
        long,
        env = "RAMPART_ENGINE_NAMESPACE",
        default_value = "rampart-system"
    )]
    pub namespace: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Builds the core from the flags (all validation happens here, before anything runs).
fn core(args: &EngineArgs) -> anyhow::Result<EngineCore> {
    let enabled: BTreeSet<ActionClass> = args
        .enable
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| ActionClass::parse(s).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<_>>()?;
    let (mut actuator, warning) = Actuator::parse(&args.actuator);
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
    if actuator.writes() {
        tracing::warn!(
            "actuator {:?} is not available in this build: running dry-run (proposals only)",
            args.actuator
        );
        actuator = Actuator::DryRun;
    }
    let bar = BarConfig {
        enabled,
        act_on_proof: args.act_on_proof,
        protected_namespaces: ["kube-system".to_string(), args.namespace.clone()].into(),
        min_ready: 1,
    };
    Ok(EngineCore::new(
        Options::default(),
        bar,
        CircuitBreaker::new(args.max_actions, args.action_window.as_secs().max(1)),
        actuator,
    ))
}

/// Runs the engine.
pub fn run(args: &EngineArgs) -> anyhow::Result<ExitCode> {
    let mut core = core(args)?;
    let _ = args.mitigation_ttl;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let client = kube::Client::try_default()
            .await
            .context("connecting to the API server")?;
        let dashboard = Arc::new(DashboardState::default());
        let listener = tokio::net::TcpListener::bind(args.dashboard_addr)
            .await
            .with_context(|| format!("binding {}", args.dashboard_addr))?;
        eprintln!(
            "rampart engine: dashboard on http://{}",
            listener.local_addr()?
        );
        let cancel = CancellationToken::new();
        let app = router(dashboard.clone());
        let stop = cancel.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        let (tx, mut rx) = mpsc::channel::<ClusterEvent>(8192);
        tokio::spawn(watch_cluster(client, tx, cancel.clone()));
        let signal = cancel.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            signal.cancel();
        });
        let expected: BTreeSet<Kind> = WATCHED.iter().map(|w| w.0).chain([Kind::Secret]).collect();
        let mut synced: BTreeSet<Kind> = BTreeSet::new();
        loop {
            // Wait for a change, then batch everything that arrives within the debounce time.
            let first = tokio::select! {
                () = cancel.cancelled() => break,
                e = rx.recv() => e,
            };
            let Some(first) = first else { break };
            let mut batch = vec![first];
            while let Ok(Some(e)) = tokio::time::timeout(args.debounce, rx.recv()).await {
                batch.push(e);
            }
            for e in batch {
                match e {
                    ClusterEvent::Upsert(o) => core.apply(Change::Upsert(o)),
                    ClusterEvent::Delete(k) => core.apply(Change::Delete(k)),
                    ClusterEvent::Relisted(kind, objects) => {
                        synced.insert(kind);
                        core.replace_kind(kind, objects);
                    }
                    ClusterEvent::Error(kind, e) => {
                        dashboard
                            .metrics
                            .watch_errors
                            .get_or_create(&KindLabels {
                                kind: format!("{kind:?}"),
                            })
                            .inc();
                        tracing::warn!(kind = ?kind, "watch failed, retrying: {e}");
                    }
                }
            }
            if !expected.is_subset(&synced) {
                continue; // first findings only once every kind is listed
            }
            let t = Instant::now();
            let report = core.reprove(now());
            dashboard
                .metrics
                .loop_latency
                .observe(t.elapsed().as_secs_f64());
            dashboard.metrics.reproofs.inc();
            if let Some(a) = core.analysis() {
                let inputs = InputSummary {
                    files: 0,
                    objects: core.snapshot().len(),
                    ..InputSummary::default()
                };
                let scan = ScanReport::new(a, inputs);
                dashboard.metrics.chains.clear();
                for c in &scan.chains {
                    dashboard
                        .metrics
                        .chains
                        .get_or_create(&ChainLabels {
                            target: c.target.kind.to_string(),
                            confidence: "proven".into(),
                        })
                        .inc();
                }
                let mut v = serde_json::to_value(&scan).unwrap_or_default();
                v["report"] = serde_json::to_value(&report).unwrap_or_default();
                if let Ok(mut f) = dashboard.findings.write() {
                    *f = v;
                }
            }
            tracing::info!(
                generation = report.generation,
                chains = report.chains,
                added = report.diff.chains_added.len(),
                removed = report.diff.chains_removed.len(),
                decisions = report.decisions.len(),
                "re-proved"
            );
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
