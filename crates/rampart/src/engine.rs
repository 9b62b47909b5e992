//! `rampart engine` and `rampart dashboard`: their flags, turned into the engine's
//! configuration, and one call into `rampart_engine` each. The engine itself (the loop,
//! actuation, the pod response, publishing) lives in the `rampart-engine` crate.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use rampart_engine::EngineConfig;

use crate::webhook::parse_duration;

/// Arguments of `rampart engine`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EngineArgs {
    /// Instead of running: operate the running engine (break-glass).
    #[command(subcommand)]
    pub command: Option<crate::break_glass::EngineCommand>,
    /// Action classes allowed to act (comma-separated: network, rbac, mount, identity, pod,
    /// judgement, netpol). Empty: shadow mode, nothing is written.
    #[arg(long, env = "RAMPART_ENGINE_ENABLE", value_delimiter = ',')]
    pub enable: Vec<String>,
    /// How actions are written: dryrun, networkpolicy, adminnetworkpolicy. Unknown or empty
    /// values fail safe to dryrun.
    #[arg(long, env = "RAMPART_ENGINE_ACTUATOR", default_value = "dryrun")]
    pub actuator: String,
    /// Let `network` act on proof alone (without runtime corroboration).
    #[arg(long, env = "RAMPART_ENGINE_ACT_ON_PROOF")]
    pub act_on_proof: bool,
    /// Objectives beyond secrets, nodes, cluster-admin and crown jewels that chains are proved
    /// to: `all`, `none`, or a comma-separated list of impact, exfiltration, collection,
    /// persistence.
    #[arg(long, env = "RAMPART_ENGINE_OBJECTIVES", default_value = "all")]
    pub objectives: rampart_graph::Objectives,
    /// Dashboard, findings and metrics address. Loopback by default: the dashboard shows the
    /// whole attack graph. Reach it with `kubectl port-forward`, or bind a wider address
    /// together with `--dashboard-token-file`.
    #[arg(
        long,
        env = "RAMPART_ENGINE_DASHBOARD_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub dashboard_addr: SocketAddr,
    /// File holding a token the dashboard requires (as `Authorization: Bearer`, or as the
    /// password of the browser's login prompt); `/healthz` stays open for probes.
    #[arg(long, env = "RAMPART_ENGINE_DASHBOARD_TOKEN_FILE")]
    pub dashboard_token_file: Option<PathBuf>,
    /// Connection limits and timeouts of the dashboard and ingest listeners.
    #[command(flatten)]
    pub serve: crate::serving::ServeArgs,
    /// A model that judges each proven chain beside the loop (captions, `judged`
    /// confidence; with the `judgement` class its affirmative verdict on a foothold may act).
    #[command(flatten)]
    pub model: crate::model::ModelArgs,
    /// How far back `/findings` shows what the engine would have done where the arming ladder
    /// (or `--enable`) held it back.
    #[arg(long, env = "RAMPART_ENGINE_SHADOW_WINDOW", default_value = "7d", value_parser = parse_duration)]
    pub shadow_window: Duration,
    /// A flow capture to follow for NetworkPolicies from observed traffic (Hubble JSON lines:
    /// `hubble observe -o json --follow`, the Hubble exporter's file; or Inspektor Gadget's);
    /// flows also arrive on the ingest listener's `POST /flows`. The plan is at `/netpol`.
    #[arg(long, env = "RAMPART_ENGINE_FLOWS_FILE")]
    pub flows_file: Option<PathBuf>,
    /// Least time between two NetworkPolicy plans (made only when flows or the cluster moved).
    #[arg(long, env = "RAMPART_ENGINE_NETPOL_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub netpol_interval: Duration,
    /// Plan a default-deny per namespace that gets policies, as the last step.
    #[arg(long, env = "RAMPART_ENGINE_NETPOL_DEFAULT_DENY")]
    pub netpol_default_deny: bool,
    /// Namespaces to plan NetworkPolicies for (comma-separated; default: all but kube-system,
    /// kube-public, kube-node-lease).
    #[arg(long, env = "RAMPART_ENGINE_NETPOL_NAMESPACES", value_delimiter = ',')]
    pub netpol_namespaces: Vec<String>,
    /// With the `netpol` action class (`--enable netpol`): how long a step of the plan stays
    /// applied, without traffic dropped under it, before the next step starts.
    #[arg(long, env = "RAMPART_ENGINE_NETPOL_SOAK", default_value = "10m", value_parser = parse_duration)]
    pub netpol_soak: Duration,
    /// Where to tell what happens (new and corroborated chains, mitigations, break-glass,
    /// guard blocks).
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// How long ended Mitigations (Reverted, Retired, Failed) stay in the ledger.
    #[arg(long, env = "RAMPART_ENGINE_LEDGER_RETENTION", default_value = "24h", value_parser = parse_duration)]
    pub ledger_retention: Duration,
    /// Lifetime of a mitigation before it reverts itself.
    #[arg(long, env = "RAMPART_ENGINE_MITIGATION_TTL", default_value = "1h", value_parser = parse_duration)]
    pub mitigation_ttl: Duration,
    /// After a mitigation expires, how long its cut stays proposed before the bar may act on
    /// it again (then it counts as a new action against the circuit breaker).
    #[arg(long, env = "RAMPART_ENGINE_REAPPLY_COOLDOWN", default_value = "30m", value_parser = parse_duration)]
    pub reapply_cooldown: Duration,
    /// Quiet time after a change before re-proving (changes in between are batched).
    #[arg(long, env = "RAMPART_ENGINE_DEBOUNCE", default_value = "500ms", value_parser = parse_duration)]
    pub debounce: Duration,
    /// Circuit breaker: most actions per window.
    #[arg(long, env = "RAMPART_ENGINE_MAX_ACTIONS", default_value_t = 5)]
    pub max_actions: usize,
    /// Circuit breaker window.
    #[arg(long, env = "RAMPART_ENGINE_ACTION_WINDOW", default_value = "10m", value_parser = parse_duration)]
    pub action_window: Duration,
    /// rampart's own namespace (never acted on, like kube-system; holds the leader Lease).
    #[arg(
        long,
        env = "RAMPART_ENGINE_NAMESPACE",
        default_value = "rampart-system"
    )]
    pub namespace: String,
    /// Lease duration for leader election, in seconds (only the leader writes).
    #[arg(long, env = "RAMPART_ENGINE_LEASE_SECONDS", default_value_t = 15)]
    pub lease_seconds: u64,
    /// This replica's identity in the Lease (default: the pod's hostname).
    #[arg(long, env = "RAMPART_ENGINE_IDENTITY")]
    pub identity: Option<String>,
    /// Address of the runtime-evidence ingest serving both `POST /falco` and `POST /audit`;
    /// off when unset.
    #[arg(long, env = "RAMPART_ENGINE_INGEST_ADDR")]
    pub ingest_addr: Option<SocketAddr>,
    /// Address serving only `POST /falco` (Falco's http_output, falcosidekick); off when unset.
    #[arg(long, env = "RAMPART_ENGINE_FALCO_ADDR")]
    pub falco_addr: Option<SocketAddr>,
    /// Address serving only `POST /audit` (the apiserver's audit webhook); off when unset.
    #[arg(long, env = "RAMPART_ENGINE_AUDIT_ADDR")]
    pub audit_addr: Option<SocketAddr>,
    /// File holding the bearer token ingest clients must send (required with
    /// `--ingest-addr` unless `--insecure-no-auth`).
    #[arg(long, env = "RAMPART_ENGINE_INGEST_TOKEN_FILE")]
    pub ingest_token_file: Option<PathBuf>,
    /// Accept ingest requests without a token (only for a trusted network).
    #[arg(long, env = "RAMPART_ENGINE_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// Ingest requests per second per peer address.
    #[arg(long, env = "RAMPART_ENGINE_INGEST_RATE", default_value_t = 1000)]
    pub ingest_rate: u32,
    /// Largest ingest request body, in bytes.
    #[arg(long, env = "RAMPART_ENGINE_INGEST_MAX_BODY", default_value_t = rampart_http::ingest::DEFAULT_MAX_BODY)]
    pub ingest_max_body: usize,
    /// How long an observation corroborates after it was last seen.
    #[arg(long, env = "RAMPART_ENGINE_OBSERVATION_TTL", default_value = "300s", value_parser = parse_duration)]
    pub observation_ttl: Duration,
    /// Most observations kept at once (keyed by behaviour and subject); when full, a new
    /// subject is refused until older ones expire (counted as `store_full`).
    #[arg(
        long,
        env = "RAMPART_ENGINE_MAX_OBSERVATIONS",
        default_value_t = 20_000
    )]
    pub max_observations: usize,
    /// Falco rule → behaviour mapping (YAML; default: the bundled mapping of Falco's rules).
    #[arg(long, env = "RAMPART_ENGINE_BEHAVIOURS")]
    pub behaviours: Option<PathBuf>,
    /// ServiceAccounts whose Secret reads are not evidence, `namespace:name` (`*` for any),
    /// comma-separated.
    #[arg(
        long,
        env = "RAMPART_ENGINE_AUDIT_ALLOW",
        default_value = rampart_signals::audit::DEFAULT_ALLOW
    )]
    pub audit_allow: String,
    /// CISA KEV catalogue (its JSON feed, or one CVE id per line).
    #[arg(long, env = "RAMPART_KEV_FILE")]
    pub kev_file: Option<PathBuf>,
    /// EPSS scores (`--epss-file`, `--epss-min`).
    #[command(flatten)]
    pub epss: crate::intel::EpssArgs,
    /// Watch trivy-operator VulnerabilityReports (needs its CRD and list/watch on them).
    #[arg(long, env = "RAMPART_ENGINE_WATCH_VULNERABILITY_REPORTS")]
    pub watch_vulnerability_reports: bool,
    /// Watch the request guard's Guardians for the dashboard's `/guard` pages (needs the
    /// Guardian CRD and list/watch on them).
    #[arg(long, env = "RAMPART_ENGINE_WATCH_GUARDIANS")]
    pub watch_guardians: bool,
    /// Live compliance audit: watch what `rampart audit` reads (Secrets as metadata only),
    /// audit every framework again after each change, and keep one PolicyReport per namespace
    /// (`wgpolicyk8s.io/v1alpha2`; needs its CRDs) written by the only replica or the leader.
    #[arg(long, env = "RAMPART_ENGINE_COMPLIANCE")]
    pub compliance: bool,
    /// Quiet time after a change before the live audit runs again (at most six times this
    /// under steady churn).
    #[arg(long, env = "RAMPART_ENGINE_COMPLIANCE_DEBOUNCE", default_value = "5s", value_parser = parse_duration)]
    pub compliance_debounce: Duration,
    /// Results listed per PolicyReport at most (the summary still counts every one).
    #[arg(
        long,
        env = "RAMPART_ENGINE_COMPLIANCE_REPORT_CAP",
        default_value_t = 500
    )]
    pub compliance_report_cap: usize,
    /// Observation → pod action mapping (YAML; default: the bundled one).
    #[arg(long, env = "RAMPART_ENGINE_RESPONSES")]
    pub responses: Option<PathBuf>,
    /// Pod actions per workload per `--action-window`.
    #[arg(long, env = "RAMPART_ENGINE_POD_MAX_PER_WORKLOAD", default_value_t = 2)]
    pub pod_max_per_workload: usize,
    /// Allow isolating or terminating pods no controller replaces.
    #[arg(long, env = "RAMPART_ENGINE_ALLOW_STANDALONE_PODS")]
    pub allow_standalone_pods: bool,
    /// Serve the ingest over TLS with this certificate (PEM; reloaded when it changes).
    #[arg(long, env = "RAMPART_ENGINE_INGEST_TLS_CERT")]
    pub ingest_tls_cert: Option<PathBuf>,
    /// The ingest certificate's key (PEM).
    #[arg(long, env = "RAMPART_ENGINE_INGEST_TLS_KEY")]
    pub ingest_tls_key: Option<PathBuf>,
    /// CA certificates (PEM) of ingest clients: a client certificate they signed authenticates
    /// like the token — what the API server's audit webhook kubeconfig presents (it sends no
    /// bearer token over plain HTTP). Needs --ingest-tls-cert.
    #[arg(long, env = "RAMPART_ENGINE_INGEST_CLIENT_CA")]
    pub ingest_client_ca: Option<PathBuf>,
}

impl EngineArgs {
    /// The engine's configuration (validated by the engine before it starts).
    pub fn config(&self) -> anyhow::Result<EngineConfig> {
        Ok(EngineConfig {
            enable: self.enable.clone(),
            actuator: self.actuator.clone(),
            act_on_proof: self.act_on_proof,
            objectives: self.objectives,
            dashboard_addr: self.dashboard_addr,
            dashboard_token_file: self.dashboard_token_file.clone(),
            limits: self.serve.limits(),
            ledger_retention: self.ledger_retention,
            mitigation_ttl: self.mitigation_ttl,
            reapply_cooldown: self.reapply_cooldown,
            debounce: self.debounce,
            max_actions: self.max_actions,
            action_window: self.action_window,
            namespace: self.namespace.clone(),
            lease_seconds: self.lease_seconds,
            identity: self.identity.clone(),
            ingest_addr: self.ingest_addr,
            falco_addr: self.falco_addr,
            audit_addr: self.audit_addr,
            ingest_token_file: self.ingest_token_file.clone(),
            insecure_no_auth: self.insecure_no_auth,
            ingest_rate: self.ingest_rate,
            ingest_max_body: self.ingest_max_body,
            observation_ttl: self.observation_ttl,
            max_observations: self.max_observations,
            behaviours: self.behaviours.clone(),
            audit_allow: self.audit_allow.clone(),
            kev_file: self.kev_file.clone(),
            epss_file: self.epss.epss_file.clone(),
            epss_min: self.epss.epss_min,
            watch_vulnerability_reports: self.watch_vulnerability_reports,
            watch_guardians: self.watch_guardians,
            compliance: self.compliance.then(|| rampart_engine::AuditSettings {
                debounce: self.compliance_debounce,
                report_cap: self.compliance_report_cap.max(1),
            }),
            model: self.model.settings()?,
            notify: self.notify.settings(),
            shadow_window: self.shadow_window,
            netpol: rampart_engine::NetpolConfig {
                flows_file: self.flows_file.clone(),
                interval: self.netpol_interval,
                settings: rampart_netpol::Settings {
                    default_deny: self.netpol_default_deny,
                    namespaces: self.netpol_namespaces.clone(),
                    ..rampart_netpol::Settings::default()
                },
                soak: self.netpol_soak,
            },
            responses: self.responses.clone(),
            pod_max_per_workload: self.pod_max_per_workload,
            allow_standalone_pods: self.allow_standalone_pods,
            ingest_tls_cert: self.ingest_tls_cert.clone(),
            ingest_tls_key: self.ingest_tls_key.clone(),
            ingest_client_ca: self.ingest_client_ca.clone(),
        })
    }
}

/// Notification flags of `rampart engine`.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// A destination: `webhook=URL` (JSON, HMAC-signed with --notify-secret-file),
    /// `slack=URL` (a Slack-compatible incoming webhook) or `cloudevents=URL` (CloudEvents 1.0,
    /// batched); `KIND=@FILE` reads the URL from a file (a Slack URL is a secret). Repeatable.
    #[arg(long = "notify", env = "RAMPART_ENGINE_NOTIFY")]
    pub sinks: Vec<String>,
    /// File holding the HMAC-SHA256 key (at least 16 bytes) that signs webhook bodies
    /// (`X-Rampart-Signature: t=<unix>,v1=<hex>` over `<t>.<body>`).
    #[arg(long, env = "RAMPART_ENGINE_NOTIFY_SECRET_FILE")]
    pub notify_secret_file: Option<PathBuf>,
    /// What to tell (comma-separated: chain-new, chain-corroborated, mitigation-applied,
    /// mitigation-reverted, mitigation-failed, break-glass, guard-block). Default: all.
    #[arg(long, env = "RAMPART_ENGINE_NOTIFY_ON", value_delimiter = ',')]
    pub notify_on: Vec<String>,
    /// How long a notice waits for others before its batch leaves (critical ones — a
    /// corroborated chain, break-glass engaged — leave at once).
    #[arg(long, env = "RAMPART_ENGINE_NOTIFY_WINDOW", default_value = "10s", value_parser = parse_duration)]
    pub notify_window: Duration,
    /// Most batches a minute, per destination (the rest wait).
    #[arg(long, env = "RAMPART_ENGINE_NOTIFY_PER_MINUTE", default_value_t = 12)]
    pub notify_per_minute: u32,
    /// CA that signed an `https://` receiver's certificate (default: the system's roots).
    #[arg(long, env = "RAMPART_ENGINE_NOTIFY_CA_FILE")]
    pub notify_ca_file: Option<PathBuf>,
    /// Deadline of one notification request.
    #[arg(long, env = "RAMPART_ENGINE_NOTIFY_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub notify_timeout: Duration,
}

impl NotifyArgs {
    /// The engine's settings; none without a destination.
    fn settings(&self) -> Option<rampart_engine::NotifySettings> {
        (!self.sinks.is_empty()).then(|| rampart_engine::NotifySettings {
            sinks: self.sinks.clone(),
            secret_file: self.notify_secret_file.clone(),
            on: self.notify_on.clone(),
            window: self.notify_window,
            per_minute: self.notify_per_minute,
            ca_file: self.notify_ca_file.clone(),
            timeout: self.notify_timeout,
        })
    }
}

/// Runs the engine.
pub fn run(args: &EngineArgs) -> anyhow::Result<ExitCode> {
    if let Some(crate::break_glass::EngineCommand::BreakGlass(b)) = &args.command {
        return crate::break_glass::run(b);
    }
    rampart_engine::run(&args.config()?)?;
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `rampart dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Files or directories of manifests or dumps (as for `scan`).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "RAMPART_DASHBOARD_ADDR")]
    pub addr: SocketAddr,
    /// Connection limits and timeouts.
    #[command(flatten)]
    pub serve: crate::serving::ServeArgs,
    /// A model that judges each chain before the page is served (captions).
    #[command(flatten)]
    pub model: crate::model::ModelArgs,
    /// Where the manifests can be browsed, as a URL template with `{file}` and `{line}` (e.g.
    /// `https://git.example.com/ops/cluster/blob/main/{file}#L{line}`): every `file:line` of
    /// the proof becomes a link. http(s) only.
    #[arg(long, env = "RAMPART_DASHBOARD_SOURCE_URL")]
    pub source_url: Option<String>,
}

/// `rampart dashboard`: the engine's dashboard over an offline scan (shadow mode).
pub fn dashboard(args: &DashboardArgs) -> anyhow::Result<ExitCode> {
    let loaded = rampart_files::load_paths(&args.paths, &rampart_files::LoadOptions::default());
    for e in &loaded.errors {
        eprintln!("rampart: warning: {e}");
    }
    // Guardians among the files feed the request-guard pages.
    let (raw, _) = rampart_files::load_raw(&args.paths, &rampart_files::LoadOptions::default());
    let guardians: Vec<rampart_api::Guardian> = raw
        .into_iter()
        .filter(|d| d.value["kind"] == "Guardian")
        .filter_map(|d| match serde_json::from_value(d.value) {
            Ok(g) => Some(g),
            Err(e) => {
                eprintln!(
                    "rampart: warning: {}: not a Guardian rampart reads: {e}",
                    d.source
                );
                None
            }
        })
        .collect();
    let model = args.model.settings()?;
    let source = args
        .source_url
        .as_deref()
        .map(rampart_http::dashboard::explorer::SourceLinks::parse)
        .transpose()?;
    rampart_engine::offline::serve(
        &loaded.snapshot,
        guardians,
        args.addr,
        args.serve.limits(),
        model.as_ref(),
        source,
    )?;
    Ok(ExitCode::SUCCESS)
}
