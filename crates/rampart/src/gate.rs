//! `rampart guard`: serve the gate in front of one service (flags, files, loops); the proxy
//! itself is `rampart-gate`'s, the decisions `rampart-guard`'s.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::routing::{get, post};
use clap::{Args, ValueEnum};
use prometheus_client::registry::Registry;
use rampart_api::{GuardMode, Guardian, GuardianSpec};
use rampart_gate::{Config, Gate, GateMetrics};
use rampart_http::serve::ServeMetrics;
use rampart_http::tls::{ReloadingCert, server_config};
use tokio_util::sync::CancellationToken;

use crate::serving::ServeArgs;
use crate::webhook::parse_duration;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ModeArg {
    Learn,
    Alert,
    Block,
}

/// Flags of the gate.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// Where clients connect.
    #[arg(long, default_value = "0.0.0.0:8000", env = "RAMPART_GUARD_LISTEN")]
    pub listen: SocketAddr,
    /// The app: a port on 127.0.0.1, or an address.
    #[arg(long, default_value = "8080", value_parser = parse_upstream, env = "RAMPART_GUARD_UPSTREAM")]
    pub upstream: SocketAddr,
    /// `/healthz`, `/readyz`, `/metrics`, and `POST /reset-pod-alert`.
    #[arg(long, default_value = "127.0.0.1:9901", env = "RAMPART_GUARD_ADMIN")]
    pub admin: SocketAddr,
    /// Also serve `/metrics`, `/healthz` and `/readyz` (read-only, no `/reset-pod-alert`) here:
    /// for Prometheus and probes from outside the pod while the admin port stays on loopback.
    #[arg(long, env = "RAMPART_GUARD_METRICS")]
    pub metrics: Option<SocketAddr>,
    /// The service's name in metrics, logs and a written Guardian.
    #[arg(long, default_value = "service", env = "RAMPART_GUARD_SERVICE")]
    pub service: String,
    /// `learn` (profile only), `alert` (pass and record) or `block` (refuse with 403);
    /// overrides the Guardian's mode.
    #[arg(long, value_enum, env = "RAMPART_GUARD_MODE")]
    pub mode: Option<ModeArg>,
    /// Start from this Guardian (YAML or JSON).
    #[arg(long)]
    pub guardian: Option<PathBuf>,
    /// Write what was learned here (YAML), every learn interval and on shutdown.
    #[arg(long, conflicts_with = "learner")]
    pub write_guardian: Option<PathBuf>,
    /// In a cluster: sync with `rampart learner` here (`https://rampart-learner.rampart-system.svc:8443/sync`)
    /// instead of learning alone; the criteria in force are then the learner's, learned from
    /// every replica of the service.
    #[arg(long, env = "RAMPART_GUARD_LEARNER")]
    pub learner: Option<String>,
    /// The CA of the learner's certificate (a PEM file).
    #[arg(
        long,
        env = "RAMPART_GUARD_LEARNER_CA",
        requires = "learner",
        conflicts_with = "learner_ca_pem"
    )]
    pub learner_ca: Option<PathBuf>,
    /// The CA of the learner's certificate, as PEM text (what the injecting webhook passes).
    #[arg(
        long,
        env = "RAMPART_GUARD_LEARNER_CA_PEM",
        requires = "learner",
        hide_env_values = true
    )]
    pub learner_ca_pem: Option<String>,
    /// The pod's projected ServiceAccount token for the learner (read at every sync: the
    /// kubelet rotates it).
    #[arg(
        long,
        default_value = "/var/run/secrets/rampart/token",
        env = "RAMPART_GUARD_TOKEN_FILE"
    )]
    pub token_file: PathBuf,
    /// Send no token (a learner started with --insecure-no-auth, local demos).
    #[arg(long, requires = "learner")]
    pub no_token: bool,
    /// With pending samples (≥ 10 % of what was learned) or alerts, sync this often (the
    /// original: 1 minute).
    #[arg(long, default_value = "60s", value_parser = parse_duration, requires = "learner")]
    pub sync_check: Duration,
    /// Sync at least this often, also to fetch the criteria and control in force (the
    /// original: 5 minutes; never below the 5 s minimum gap).
    #[arg(long, default_value = "5m", value_parser = parse_duration, requires = "learner")]
    pub sync_max_gap: Duration,
    /// Bytes of each request body inspected (the rest is forwarded uninspected, and the
    /// request carries the `too-large` fault).
    #[arg(long, default_value_t = 1 << 20)]
    pub body_cap: usize,
    /// Requests learned per second at most: a busy service learns from a sample, so
    /// learning costs the same at 100 and at 100,000 requests/s (0: learn every request).
    #[arg(long, default_value_t = 1000, env = "RAMPART_GUARD_LEARN_RATE")]
    pub learn_rate: u64,
    /// How often criteria are re-learned from what passed.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub learn_interval: Duration,
    /// How often the pod's outbound peers are read (0s: never).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub peers_interval: Duration,
    /// Where the shared network namespace's socket tables are.
    #[arg(long, default_value = "/proc/net")]
    pub proc_net: PathBuf,
    /// Serve TLS with this certificate (PEM; with --tls-key). Without it, cleartext HTTP/1.1
    /// and HTTP/2 (h2c).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

fn parse_upstream(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse()
        .map_err(|_| format!("{s:?}: a port or an address like 127.0.0.1:8080"))
}

pub fn run(a: &GateArgs) -> anyhow::Result<ExitCode> {
    let mut guardian = match &a.guardian {
        Some(p) => crate::guard::read_guardian(p)?,
        None => Guardian::new(&a.service, GuardianSpec::default()),
    };
    if let Some(m) = a.mode {
        guardian.spec.control_mut().mode = match m {
            ModeArg::Learn => GuardMode::Learn,
            ModeArg::Alert => GuardMode::Alert,
            ModeArg::Block => GuardMode::Block,
        };
    }
    let mode = guardian.spec.control().mode;
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => Some(server_config(Arc::new(
            ReloadingCert::load(c, k).context("loading the serving certificate")?,
        ))?),
        _ => None,
    };
    let mut registry = Registry::default();
    let serve_metrics = ServeMetrics::register(&mut registry);
    let metrics = GateMetrics::default();
    metrics.register(&mut registry);
    let registry = Arc::new(registry);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()).rotate_left(32);
    let gate = Gate::new(
        Config {
            service: a.service.clone(),
            upstream: a.upstream,
            body_cap: a.body_cap.max(1),
            guardian,
            learn_rate: a.learn_rate,
            mode_override: a.mode.map(|m| match m {
                ModeArg::Learn => GuardMode::Learn,
                ModeArg::Alert => GuardMode::Alert,
                ModeArg::Block => GuardMode::Block,
            }),
        },
        metrics,
        seed,
    )
    .context("starting the learner")?;
    let ca = match (&a.learner_ca, &a.learner_ca_pem) {
        (Some(p), _) => Some(rampart_http::client::read_ca(p)?),
        (None, Some(pem)) => Some(pem.clone().into_bytes()),
        (None, None) => None,
    };
    let learner = match &a.learner {
        Some(url) => Some(
            rampart_http::client::Poster::new(
                url,
                ca.as_deref(),
                (!a.no_token).then_some(a.token_file.as_path()),
                Duration::from_secs(10),
            )
            .with_context(|| format!("--learner {url}"))?,
        ),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let cancel = CancellationToken::new();
        let listener = crate::serving::bind(a.listen).await?;
        let admin = crate::serving::bind(a.admin).await?;
        eprintln!(
            "rampart guard: {} on {}://{} → {}, admin on http://{}",
            mode.as_str(),
            if tls.is_some() { "https" } else { "http" },
            listener.local_addr()?,
            a.upstream,
            admin.local_addr()?
        );
        let syncing = match learner {
            Some(poster) => Some(tokio::spawn(rampart_gate::sync::sync_loop(
                gate.clone(),
                poster,
                rampart_guard::cadence::SyncCadence {
                    check: a.sync_check,
                    max_gap: a.sync_max_gap,
                    ..rampart_guard::cadence::SyncCadence::default()
                },
                cancel.clone(),
            ))),
            None => {
                tokio::spawn(relearn_loop(
                    gate.clone(),
                    a.learn_interval,
                    a.write_guardian.clone(),
                    cancel.clone(),
                ));
                None
            }
        };
        if !a.peers_interval.is_zero() {
            tokio::spawn(peers_loop(
                gate.clone(),
                a.peers_interval,
                a.proc_net.clone(),
                cancel.clone(),
            ));
        }
        let stop = cancel.clone();
        tokio::spawn(async move {
            crate::webhook::shutdown_signal().await;
            stop.cancel();
        });
        let server = a.serve.server(serve_metrics);
        let metrics_listener = match a.metrics {
            Some(addr) => Some(crate::serving::bind(addr).await?),
            None => None,
        };
        if let Some(l) = metrics_listener {
            eprintln!("rampart guard: metrics on http://{}", l.local_addr()?);
            let server = server.clone();
            let router = read_only_router(registry.clone());
            let stop = cancel.clone();
            tokio::spawn(async move { server.serve(l, None, router, stop).await });
        }
        let admin_router = admin_router(gate.clone(), registry);
        tokio::join!(
            server.serve(
                listener,
                tls,
                rampart_gate::router(gate.clone()),
                cancel.clone()
            ),
            server.serve(admin, None, admin_router, cancel.clone()),
        );
        if let Some(s) = syncing {
            // The last sync, on shutdown.
            let _ = s.await;
        }
        if let Some(p) = &a.write_guardian {
            let g = gate.relearn_at(Some(crate::guard::now_rfc3339()));
            crate::guard::write_guardian(p, &g)?;
            eprintln!(
                "rampart guard: wrote {} ({} routes)",
                p.display(),
                g.learned().map_or(0, |c| c.routes.len())
            );
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `/healthz`, `/readyz` and `/metrics`: what may be reached from outside the pod.
fn read_only_router(registry: Arc<Registry>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ok\n" }))
        .route("/metrics", get(move || metrics_text(registry.clone())))
}

fn admin_router(gate: Arc<Gate>, registry: Arc<Registry>) -> axum::Router {
    let g = gate.clone();
    read_only_router(registry).route(
        "/reset-pod-alert",
        post(move || {
            let g = g.clone();
            async move {
                g.reset_pod_alert();
                "pod alert cleared\n"
            }
        }),
    )
}

/// A registry in the OpenMetrics text format (the gate's and the learner's admin `/metrics`).
pub(crate) async fn metrics_text(registry: Arc<Registry>) -> impl axum::response::IntoResponse {
    let mut text = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

async fn relearn_loop(
    gate: Arc<Gate>,
    every: Duration,
    write: Option<PathBuf>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    tick.tick().await;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        if gate.pending() == 0 {
            continue;
        }
        let g = gate.relearn_at(Some(crate::guard::now_rfc3339()));
        if let Some(p) = &write
            && let Err(e) = crate::guard::write_guardian(p, &g)
        {
            tracing::warn!("writing the Guardian: {e:#}");
        }
    }
}

async fn peers_loop(gate: Arc<Gate>, every: Duration, dir: PathBuf, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let mut peers = Vec::new();
        for table in ["tcp", "tcp6", "udp", "udp6"] {
            // A table is at most a few MB even on a busy node; cap what is read anyway.
            if let Ok(text) = tokio::fs::read_to_string(dir.join(table)).await {
                let text = text.get(..text.len().min(16 << 20)).unwrap_or("");
                for p in rampart_guard::peers::parse(text) {
                    if !peers.contains(&p) {
                        peers.push(p);
                    }
                }
            }
        }
        gate.observe_peers(&peers);
    }
}
