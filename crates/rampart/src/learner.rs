//! `rampart learner`: serve the request guard's learner (flags, TLS, the Guardian watch, the
//! learning and event loops); the learner itself is `rampart-learner`'s.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::routing::get;
use clap::Args;
use prometheus_client::registry::Registry;
use rampart_guard::cadence::LearnCadence;
use rampart_http::serve::ServeMetrics;
use rampart_http::tls::{ReloadingCert, server_config};
use rampart_kube::guardians::{GuardianCache, watch_guardians};
use rampart_learner::{Config, Learner, LearnerMetrics};
use tokio_util::sync::CancellationToken;

use crate::serving::ServeArgs;
use crate::webhook::parse_duration;

/// Flags of the learner.
#[derive(Debug, Args)]
pub struct LearnerArgs {
    /// Where gates sync (`POST /sync`, HTTPS).
    #[arg(long, default_value = "0.0.0.0:8443", env = "RAMPART_LEARNER_LISTEN")]
    pub listen: SocketAddr,
    /// `/healthz`, `/readyz` (the Guardians are cached) and `/metrics`, plain HTTP.
    #[arg(long, default_value = "0.0.0.0:9902", env = "RAMPART_LEARNER_ADMIN")]
    pub admin: SocketAddr,
    /// The serving certificate gates verify (PEM; with --tls-key; reloaded when it changes).
    #[arg(long, requires = "tls_key", env = "RAMPART_LEARNER_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert", env = "RAMPART_LEARNER_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// The audience gates' projected ServiceAccount tokens are made for.
    #[arg(long, default_value = rampart_learner::AUDIENCE, env = "RAMPART_LEARNER_AUDIENCE")]
    pub audience: String,
    /// Local demos only: gates are not authenticated (the service is taken from the message,
    /// the namespace from --insecure-namespace), TLS is optional, and no gate's compromise
    /// report is ever acted on.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// The namespace of every gate under --insecure-no-auth.
    #[arg(long, default_value = "default", requires = "insecure_no_auth")]
    pub insecure_namespace: String,
    /// The engine's ingest (`https://rampart-engine:8444/guard`), where gates' alerts and
    /// compromise reports go.
    #[arg(long, env = "RAMPART_LEARNER_ENGINE_URL")]
    pub engine_url: Option<String>,
    /// The CA of the engine's ingest certificate (PEM).
    #[arg(long, env = "RAMPART_LEARNER_ENGINE_CA")]
    pub engine_ca: Option<PathBuf>,
    /// The engine's ingest token.
    #[arg(long, env = "RAMPART_LEARNER_ENGINE_TOKEN_FILE")]
    pub engine_token_file: Option<PathBuf>,
    /// Learn at least this often while something is new (the original: 30 s).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub learn_every: Duration,
    /// Write a Guardian's status at most this often (the original: 5 min).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub persist_every: Duration,
    /// After a start, how long a service's criteria wait for its gates to re-send their piles
    /// before they may be learned from less than they were.
    #[arg(long, default_value = "330s", value_parser = parse_duration)]
    pub rebuild_grace: Duration,
    #[command(flatten)]
    pub serve: ServeArgs,
}

pub fn run(a: &LearnerArgs) -> anyhow::Result<ExitCode> {
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => Some(server_config(Arc::new(
            ReloadingCert::load(c, k).context("loading the serving certificate")?,
        ))?),
        _ if a.insecure_no_auth => None,
        _ => bail!(
            "the learner needs --tls-cert and --tls-key: gates send it their tokens (--insecure-no-auth serves plain HTTP, for local demos only)"
        ),
    };
    let engine_ca = match &a.engine_ca {
        Some(p) => Some(rampart_http::client::read_ca(p)?),
        None => None,
    };
    let engine = match &a.engine_url {
        Some(url) => Some(
            rampart_http::client::Poster::new(
                url,
                engine_ca.as_deref(),
                a.engine_token_file.as_deref(),
                Duration::from_secs(10),
            )
            .with_context(|| format!("--engine-url {url}"))?,
        ),
        None => None,
    };
    let config = Config {
        audience: a.audience.clone(),
        insecure_namespace: a.insecure_no_auth.then(|| a.insecure_namespace.clone()),
        cadence: LearnCadence {
            every: a.learn_every,
            persist_every: a.persist_every,
            ..LearnCadence::default()
        },
        rebuild_grace: a.rebuild_grace,
        ..Config::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(a, config, tls, engine))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    a: &LearnerArgs,
    config: Config,
    tls: Option<Arc<rustls::ServerConfig>>,
    engine: Option<rampart_http::client::Poster>,
) -> anyhow::Result<()> {
    let client = kube::Client::try_default()
        .await
        .context("connecting to the API server (in-cluster config or KUBECONFIG)")?;
    let cancel = CancellationToken::new();
    let cache = GuardianCache::default();
    tokio::spawn(watch_guardians(
        client.clone(),
        cache.clone(),
        cancel.clone(),
    ));
    let mut registry = Registry::default();
    let serve_metrics = ServeMetrics::register(&mut registry);
    let metrics = LearnerMetrics::default();
    metrics.register(&mut registry);
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let events = engine.as_ref().map(|_| tx);
    if a.insecure_no_auth {
        tracing::warn!(
            "--insecure-no-auth: gates are not authenticated and their compromise reports are refused"
        );
    }
    let learner = Learner::new(config, client, cache, events, metrics.clone());
    if let Some(engine) = engine {
        tokio::spawn(rampart_learner::forward(
            rx,
            engine,
            metrics.clone(),
            cancel.clone(),
        ));
    }
    let listener = crate::serving::bind(a.listen).await?;
    let admin = crate::serving::bind(a.admin).await?;
    eprintln!(
        "rampart learner: sync on {}://{}, admin on http://{}",
        if tls.is_some() { "https" } else { "http" },
        listener.local_addr()?,
        admin.local_addr()?
    );
    let stop = cancel.clone();
    tokio::spawn(async move {
        crate::webhook::shutdown_signal().await;
        stop.cancel();
    });
    let ticks = tokio::spawn(rampart_learner::run(
        learner.clone(),
        Duration::from_secs(1),
        crate::guard::now_rfc3339,
        cancel.clone(),
    ));
    let server = a.serve.server(serve_metrics);
    let admin_router = admin_router(learner.clone(), Arc::new(registry));
    tokio::join!(
        server.serve(
            listener,
            tls,
            rampart_learner::router(learner.clone()),
            cancel.clone()
        ),
        server.serve(admin, None, admin_router, cancel.clone()),
    );
    // The last learning and the shutdown persist.
    let _ = ticks.await;
    Ok(())
}

fn admin_router(learner: Arc<Learner>, registry: Arc<Registry>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let ready = learner.ready();
                async move {
                    if ready {
                        (axum::http::StatusCode::OK, "ok\n")
                    } else {
                        (
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            "reading the Guardians\n",
                        )
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || crate::gate::metrics_text(registry.clone())),
        )
}
