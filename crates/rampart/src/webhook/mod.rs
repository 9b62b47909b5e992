//! `rampart webhook`: wiring only. Build everything that can fail first (certificate, policies,
//! configuration), then serve until SIGTERM / Ctrl-C, then drain. The admission state (files or
//! the cluster's watch) is built in `state`.

mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use rampart_http::admission::{AdmissionState, router};
use rampart_http::tls::{ReloadingCert, server_config};
use tokio_util::sync::CancellationToken;

/// Arguments of `rampart webhook`.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// PEM certificate (chain) to serve; reloaded when the file changes.
    #[arg(long, env = "RAMPART_WEBHOOK_TLS_CERT")]
    pub tls_cert: PathBuf,
    /// PEM private key; reloaded with the certificate.
    #[arg(long, env = "RAMPART_WEBHOOK_TLS_KEY")]
    pub tls_key: PathBuf,
    /// Listen address.
    #[arg(long, default_value = "0.0.0.0:8443", env = "RAMPART_WEBHOOK_ADDR")]
    pub addr: SocketAddr,
    /// SecurityPolicy / ClusterSecurityPolicy manifests (file or directory). With
    /// `--namespaces`, the webhook needs no cluster access at all; without both, it watches
    /// Namespaces and (Cluster)SecurityPolicies through the API server (read-only).
    #[arg(long, env = "RAMPART_WEBHOOK_POLICIES")]
    pub policies: Option<PathBuf>,
    /// Namespace manifests (their labels set Pod Security levels and match selectors).
    #[arg(long, env = "RAMPART_WEBHOOK_NAMESPACES")]
    pub namespaces: Option<PathBuf>,
    /// Pod Security defaults and exemptions, in upstream's `PodSecurityConfiguration` format.
    #[arg(long, env = "RAMPART_WEBHOOK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Decide Pod Security as an API server of this Kubernetes version (`1.36`): `latest`,
    /// and any newer `v1.N`, mean the newest policy version that server knows. Without it, a
    /// webhook that watches the cluster asks the API server its version at start-up; one
    /// that reads files uses the newest version rampart implements.
    #[arg(long, value_parser = crate::policy::parse_kube_version, value_name = "1.N", env = "RAMPART_WEBHOOK_KUBE_VERSION")]
    pub kube_version: Option<u32>,
    /// How often the certificate files are checked for changes.
    #[arg(long, default_value = "10s", value_parser = parse_duration, env = "RAMPART_WEBHOOK_CERT_RELOAD")]
    pub cert_reload_interval: Duration,
    /// Inject the request guard's gate into pods that ask for it (`rampart.dev/guard: enabled`),
    /// syncing with the learner at this URL (`https://rampart-learner.rampart-system.svc:8443/sync`).
    #[arg(long, env = "RAMPART_WEBHOOK_GUARD_LEARNER_URL", requires_all = ["guard_learner_ca", "guard_image"])]
    pub guard_learner_url: Option<String>,
    /// The CA of the learner's certificate (PEM file), handed to every injected gate.
    #[arg(
        long,
        env = "RAMPART_WEBHOOK_GUARD_LEARNER_CA",
        requires = "guard_learner_url"
    )]
    pub guard_learner_ca: Option<PathBuf>,
    /// The gate's image (rampart's own).
    #[arg(
        long,
        env = "RAMPART_WEBHOOK_GUARD_IMAGE",
        requires = "guard_learner_url"
    )]
    pub guard_image: Option<String>,
    /// The audience of the gates' projected tokens (the learner's --audience).
    #[arg(
        long,
        default_value = "rampart-learner",
        env = "RAMPART_WEBHOOK_GUARD_AUDIENCE"
    )]
    pub guard_audience: String,
    /// Image signature verification (`verifyImages` conditions).
    #[command(flatten)]
    pub images: ImageArgs,
    /// Connection limits and timeouts.
    #[command(flatten)]
    pub serve: crate::serving::ServeArgs,
}

/// How the webhook reaches registries and which sigstore roots it trusts.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// A trusted root for keyless signatures and transparency logs, as NAME=FILE (a sigstore
    /// `trusted_root.json`); repeatable. Policies name roots by NAME; `public-good` (the
    /// Sigstore public-good instance) is built in.
    #[arg(
        long = "trusted-root",
        value_name = "NAME=FILE",
        env = "RAMPART_WEBHOOK_TRUSTED_ROOTS",
        value_delimiter = ','
    )]
    pub trusted_roots: Vec<String>,
    /// Registry credentials: a docker `config.json` (a mounted `kubernetes.io/dockerconfigjson`
    /// Secret's `.dockerconfigjson`). Never logged.
    #[arg(long, env = "RAMPART_WEBHOOK_REGISTRY_CREDENTIALS")]
    pub registry_credentials: Option<PathBuf>,
    /// A CA (PEM) trusted for registries besides the system's roots.
    #[arg(long, env = "RAMPART_WEBHOOK_REGISTRY_CA")]
    pub registry_ca: Option<PathBuf>,
    /// Registries (`host:port`) reached over plain HTTP: local test registries only.
    #[arg(
        long = "insecure-registry",
        value_name = "HOST:PORT",
        env = "RAMPART_WEBHOOK_INSECURE_REGISTRIES",
        value_delimiter = ','
    )]
    pub insecure_registries: Vec<String>,
    /// Each registry call must answer within this.
    #[arg(long, default_value = "3s", value_parser = parse_duration, env = "RAMPART_WEBHOOK_REGISTRY_TIMEOUT")]
    pub registry_timeout: Duration,
    /// One review's image verification in all (tag lookups, signatures, every image): keep it
    /// below the webhook configuration's timeoutSeconds, or the API server gives up first.
    #[arg(long, default_value = "8s", value_parser = parse_duration, env = "RAMPART_WEBHOOK_IMAGE_VERIFICATION_TIMEOUT")]
    pub image_verification_timeout: Duration,
    /// Read registries with each pod's `imagePullSecrets` too: watches the cluster's
    /// `kubernetes.io/dockerconfigjson` Secrets (needs list/watch on Secrets; their credentials
    /// are kept parsed in memory, never logged).
    #[arg(long, env = "RAMPART_WEBHOOK_WATCH_PULL_SECRETS")]
    pub watch_pull_secrets: bool,
}

/// `10s`, `500ms`, `2m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 10s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
        "d" => Ok(Duration::from_secs(n.saturating_mul(86_400))),
        _ => Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, h, d)")),
    }
}

/// Runs the webhook.
pub fn run(args: &WebhookArgs) -> anyhow::Result<ExitCode> {
    let (mut state, from_files) = state::initial(args)?;
    if from_files && args.images.watch_pull_secrets {
        anyhow::bail!(
            "--watch-pull-secrets watches the cluster: it cannot go with --policies and --namespaces"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let client = if from_files {
        None
    } else {
        Some(state::connect(&runtime, args, &mut state)?)
    };
    serve(&runtime, args, state, client)?;
    Ok(ExitCode::SUCCESS)
}

/// Serves until SIGTERM / Ctrl-C, watching the cluster when there is a client.
fn serve(
    runtime: &tokio::runtime::Runtime,
    args: &WebhookArgs,
    state: AdmissionState,
    client: Option<kube::Client>,
) -> anyhow::Result<()> {
    let state = Arc::new(state);
    let cert = Arc::new(
        ReloadingCert::load(&args.tls_cert, &args.tls_key)
            .context("loading the serving certificate")?,
    );
    let config = server_config(cert.clone()).context("TLS configuration")?;
    runtime.block_on(async {
        let cancel = CancellationToken::new();
        if let Some(client) = client {
            let (sink, wanted) = state::StateSink::new(state.clone());
            let sink = Arc::new(sink);
            tokio::spawn(rampart_kube::referenced::watch_selections(
                client.clone(),
                sink.clone(),
                wanted,
                cancel.clone(),
            ));
            if let (true, Some(images)) = (args.images.watch_pull_secrets, &state.images) {
                tokio::spawn(rampart_kube::pull_secrets::watch_pull_secrets(
                    client.clone(),
                    Arc::new(state::PullSecretStore(images.clone())),
                    cancel.clone(),
                ));
            }
            tokio::spawn(rampart_kube::watch_admission_sources(
                client,
                sink,
                cancel.clone(),
            ));
        }
        let listener = crate::serving::bind(args.addr).await?;
        tracing::info!(
            addr = %args.addr,
            policies = state.policies.read().map(|p| p.len()).unwrap_or(0),
            "rampart webhook serving /validate, /mutate, /healthz, /readyz, /metrics"
        );
        eprintln!(
            "rampart webhook: listening on https://{}",
            listener.local_addr()?
        );
        tokio::spawn(cert.clone().watch(
            args.cert_reload_interval,
            state.metrics.clone(),
            cancel.clone(),
        ));
        let stop = cancel.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: draining connections");
            stop.cancel();
        });
        let server = args.serve.server(state.metrics.serve.clone());
        server
            .serve(listener, Some(config), router(state), cancel)
            .await;
        Ok::<_, anyhow::Error>(())
    })
}

/// Resolves on SIGTERM (how Kubernetes stops a pod) or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("ten").is_err());
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("5w").is_err());
        assert!(
            parse_duration("99999999999999999999d").is_err(),
            "too large to parse is an error, not a panic"
        );
        assert_eq!(
            parse_duration("18446744073709551615h"),
            Ok(Duration::from_secs(u64::MAX)),
            "saturates"
        );
    }
}
