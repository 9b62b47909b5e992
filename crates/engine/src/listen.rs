//! The engine's listeners: the dashboard (findings, metrics, health) and the runtime-evidence
//! ingest (`/falco`, `/audit`, `/guard`), all on one serving layer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rampart_http::dashboard::{DashboardState, router};
use rampart_http::ingest::{Ingest, IngestConfig};
use rampart_http::serve::Server;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::IngestTls;
use crate::{EngineConfig, Error};

/// Binds `addr`.
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// Serves the dashboard on `listener` (behind the token, when there is one) until `cancel`.
pub(crate) fn serve_dashboard(
    listener: TcpListener,
    dashboard: &Arc<DashboardState>,
    token: Option<rampart_http::auth::Token>,
    server: &Server,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    eprintln!(
        "rampart engine: dashboard on http://{}",
        listener.local_addr()?
    );
    let app = match token {
        Some(t) => rampart_http::auth::protect(router(dashboard.clone()), t),
        None => router(dashboard.clone()),
    };
    let stop = cancel.clone();
    let server = server.clone();
    tokio::spawn(async move { server.serve(listener, None, app, stop).await });
    Ok(())
}

/// Where each ingest endpoint is served: both on `ingest_addr`, or each on its own address.
fn ingest_binds(config: &EngineConfig) -> Vec<(SocketAddr, &'static [&'static str])> {
    let mut binds: Vec<(SocketAddr, &'static [&'static str])> = Vec::new();
    if let Some(a) = config.ingest_addr {
        binds.push((a, &["falco", "audit", "guard", "flows"]));
    }
    if let Some(a) = config.falco_addr {
        binds.push((a, &["falco"]));
    }
    if let Some(a) = config.audit_addr {
        binds.push((a, &["audit"]));
    }
    binds
}

/// Starts the ingest listeners, when configured; the ingest they feed.
pub(crate) async fn serve_ingest(
    config: &EngineConfig,
    ingest_config: Option<IngestConfig>,
    tls: Option<&IngestTls>,
    dashboard: &DashboardState,
    server: &Server,
    cancel: &CancellationToken,
) -> Result<Option<Arc<Ingest>>, Error> {
    let binds = ingest_binds(config);
    let Some(ingest_config) = ingest_config.filter(|_| !binds.is_empty()) else {
        return Ok(None);
    };
    let ingest = Arc::new(Ingest::new(
        ingest_config,
        rampart_signals::observe::Store::new(
            config.observation_ttl.as_secs().max(1),
            config.max_observations.max(1),
        ),
        dashboard.metrics.ingest.clone(),
    ));
    if let Some((cert, _)) = tls {
        tokio::spawn(cert.clone().watch(
            Duration::from_secs(60),
            Arc::new(rampart_http::metrics::Metrics::default()),
            cancel.clone(),
        ));
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    for (addr, endpoints) in binds {
        let listener = bind(addr).await?;
        let app = rampart_http::ingest::router(ingest.clone(), endpoints);
        let stop = cancel.clone();
        eprintln!(
            "rampart engine: ingest on {scheme}://{} ({})",
            listener.local_addr()?,
            endpoints.join(", ")
        );
        let tls = tls.map(|(_, config)| config.clone());
        let server = server.clone();
        tokio::spawn(async move { server.serve(listener, tls, app, stop).await });
    }
    Ok(Some(ingest))
}
