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
use rampart_http::dashboard::{ChainLabels, DashboardState, KindLabels, PathLabels, router};
use rampart_kube::cluster::{ClusterEvent, WATCHED, watch_cluster};
use rampart_model::{Change, Kind};
use rampart_report::{InputSummary, ScanReport};
use rampart_respond::actuator::Actuator;
use rampart_respond::bar::{ActionClass, BarConfig, CircuitBreaker};
use rampart_respond::engine::{EngineCore, ReproofPath};
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
    pub dashboard_token_file: Option<std::path::PathBuf>,
    /// Connection limits and timeouts of the dashboard and ingest listeners.
    #[command(flatten)]
    pub serve: crate::serving::ServeArgs,
    /// How long ended Mitigations (Reverted, Retired, Failed) stay in the ledger.
    #[arg(long, env = "RAMPART_ENGINE_LEDGER_RETENTION", default_value = "24h", value_parser = parse_duration)]
    pub ledger_retention: Duration,
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
    pub ingest_token_file: Option<std::path::PathBuf>,
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
    pub behaviours: Option<std::path::PathBuf>,
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
    pub kev_file: Option<std::path::PathBuf>,
    /// Watch trivy-operator VulnerabilityReports (needs its CRD and list/watch on them).
    #[arg(long, env = "RAMPART_ENGINE_WATCH_VULNERABILITY_REPORTS")]
    pub watch_vulnerability_reports: bool,
    /// Observation → pod action mapping (YAML; default: the bundled one).
    #[arg(long, env = "RAMPART_ENGINE_RESPONSES")]
    pub responses: Option<std::path::PathBuf>,
    /// Pod actions per workload per `--action-window`.
    #[arg(long, env = "RAMPART_ENGINE_POD_MAX_PER_WORKLOAD", default_value_t = 2)]
    pub pod_max_per_workload: usize,
    /// Allow isolating or terminating pods no controller replaces.
    #[arg(long, env = "RAMPART_ENGINE_ALLOW_STANDALONE_PODS")]
    pub allow_standalone_pods: bool,
    /// Serve the ingest over TLS with this certificate (PEM; reloaded when it changes).
    #[arg(long, env = "RAMPART_ENGINE_INGEST_TLS_CERT")]
    pub ingest_tls_cert: Option<std::path::PathBuf>,
    /// The ingest certificate's key (PEM).
    #[arg(long, env = "RAMPART_ENGINE_INGEST_TLS_KEY")]
    pub ingest_tls_key: Option<std::path::PathBuf>,
}

/// VulnerabilityReports seen live, by namespace and name.
#[derive(Default)]
struct LiveReports(
    std::collections::BTreeMap<(String, String), rampart_signals::vulns::ImageVulns>,
);

impl LiveReports {
    fn key(v: &serde_json::Value) -> (String, String) {
        let m = &v["metadata"];
        (
            m["namespace"].as_str().unwrap_or("").to_string(),
            m["name"].as_str().unwrap_or("").to_string(),
        )
    }

    /// Stores a report; whether anything changed.
    fn upsert(&mut self, v: &serde_json::Value) -> bool {
        match rampart_signals::vulns::from_value(v) {
            Ok(r) => {
                let k = Self::key(v);
                if self.0.get(&k) == Some(&r) {
                    return false;
                }
                self.0.insert(k, r);
                true
            }
            Err(e) => {
                // An unreadable new version replaces the old one: stale CVEs must not linger.
                tracing::debug!("skipping a VulnerabilityReport: {e}");
                self.0.remove(&Self::key(v)).is_some()
            }
        }
    }

    fn remove(&mut self, ns: &str, name: &str) -> bool {
        self.0.remove(&(ns.to_string(), name.to_string())).is_some()
    }

    fn replace(&mut self, all: &[serde_json::Value]) {
        self.0.clear();
        for v in all {
            self.upsert(v);
        }
    }
}

type Evidence =
    std::collections::BTreeMap<String, Vec<rampart_signals::corroborate::Corroboration>>;

/// Runtime evidence and footholds on the current chains.
#[derive(Default)]
struct Signals {
    evidence: Evidence,
    footholds: std::collections::BTreeMap<String, rampart_signals::foothold::Foothold>,
}

impl Signals {
    /// Computes them, and tells the core which chains are corroborated or judged.
    fn refresh(
        core: &mut EngineCore,
        ingest: Option<&rampart_http::ingest::Ingest>,
        intel: &crate::intel::Intel,
        live: &LiveReports,
    ) -> Signals {
        let evidence = evidence(core, ingest);
        let footholds = match core.analysis() {
            Some(a) if !intel.reports.is_empty() || !live.0.is_empty() => {
                let reports: Vec<&rampart_signals::vulns::ImageVulns> =
                    intel.reports.iter().chain(live.0.values()).collect();
                rampart_signals::foothold::footholds(a, core.snapshot(), &reports, &intel.kev)
            }
            _ => Default::default(),
        };
        let mut confirmations = std::collections::BTreeMap::new();
        for (id, f) in &footholds {
            if f.judged {
                confirmations.insert(id.clone(), rampart_respond::bar::Confidence::Judged);
            }
        }
        for id in evidence.keys() {
            confirmations.insert(id.clone(), rampart_respond::bar::Confidence::Corroborated);
        }
        core.set_confirmations(confirmations);
        Signals {
            evidence,
            footholds,
        }
    }
}

/// The ingest configuration from the flags (validated before anything runs).
/// A configuration file (mapping, responses), bounded like every file rampart reads.
fn read_config(f: &std::path::Path) -> anyhow::Result<String> {
    rampart_files::read_text_bounded(f, rampart_files::MAX_CONFIG_FILE_BYTES)
        .with_context(|| format!("reading {}", f.display()))
}

/// The dashboard's token, if any; a dashboard reachable beyond loopback without one is
/// allowed (an operator may front it with their own proxy) but said loudly.
fn dashboard_token(args: &EngineArgs) -> anyhow::Result<Option<rampart_http::auth::Token>> {
    let Some(f) = &args.dashboard_token_file else {
        if !args.dashboard_addr.ip().is_loopback() {
            tracing::warn!(
                addr = %args.dashboard_addr,
                "the dashboard (the whole attack graph) is served beyond loopback without a token: set --dashboard-token-file"
            );
        }
        return Ok(None);
    };
    let t = rampart_files::read_text_bounded(f, rampart_files::MAX_SECRET_FILE_BYTES)
        .with_context(|| format!("reading the dashboard token {}", f.display()))?;
    anyhow::ensure!(
        !t.trim().is_empty(),
        "the dashboard token file {} is empty",
        f.display()
    );
    warn_if_weak(&t, "dashboard");
    Ok(Some(rampart_http::auth::Token::new(&t)))
}

/// Tokens are compared in constant time but not rate-limited everywhere: a short one can be
/// guessed.
fn warn_if_weak(token: &str, what: &str) {
    if token.trim().chars().count() < 16 {
        tracing::warn!(
            "the {what} token is shorter than 16 characters: use a random one (e.g. openssl rand -hex 32)"
        );
    }
}

fn ingest_config(args: &EngineArgs) -> anyhow::Result<Option<rampart_http::ingest::IngestConfig>> {
    if args.ingest_addr.is_none() && args.falco_addr.is_none() && args.audit_addr.is_none() {
        return Ok(None);
    }
    let token = match (&args.ingest_token_file, args.insecure_no_auth) {
        (Some(f), _) => {
            let t = rampart_files::read_text_bounded(f, rampart_files::MAX_SECRET_FILE_BYTES)
                .with_context(|| format!("reading the ingest token {}", f.display()))?;
            let t = t.trim().to_string();
            anyhow::ensure!(
                !t.is_empty(),
                "the ingest token file {} is empty",
                f.display()
            );
            warn_if_weak(&t, "ingest");
            Some(t)
        }
        (None, true) => {
            tracing::warn!("ingest accepts requests without a token (--insecure-no-auth)");
            None
        }
        (None, false) => anyhow::bail!(
            "an ingest address (--ingest-addr, --falco-addr, --audit-addr) needs --ingest-token-file (or --insecure-no-auth, explicitly)"
        ),
    };
    let mapping = match &args.behaviours {
        Some(f) => rampart_signals::behaviour::Mapping::from_yaml(&read_config(f)?)?,
        None => rampart_signals::behaviour::Mapping::default(),
    };
    Ok(Some(rampart_http::ingest::IngestConfig {
        token,
        rate_per_peer: std::num::NonZeroU32::new(args.ingest_rate)
            .context("--ingest-rate must be at least 1")?,
        max_body: args.ingest_max_body,
        mapping,
        allow: rampart_signals::audit::AllowList::parse(&args.audit_allow)?,
    }))
}

/// Runtime evidence on the current chains.
fn evidence(core: &EngineCore, ingest: Option<&rampart_http::ingest::Ingest>) -> Evidence {
    let (Some(i), Some(a)) = (ingest, core.analysis()) else {
        return Default::default();
    };
    // Copied out: the proof walk must not hold up ingest.
    let entries: Vec<rampart_signals::observe::Entry> = {
        let store = i.store.lock().unwrap_or_else(|e| e.into_inner());
        store.active(now()).into_iter().cloned().collect()
    };
    let refs: Vec<&rampart_signals::observe::Entry> = entries.iter().collect();
    rampart_signals::corroborate::corroborate(a, core.snapshot(), &refs)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Builds the core from the flags (all validation happens here, before anything runs).
fn core(args: &EngineArgs) -> anyhow::Result<(EngineCore, Actuator, BarConfig)> {
    let enabled: BTreeSet<ActionClass> = args
        .enable
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| ActionClass::parse(s).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<_>>()?;
    let (actuator, warning) = Actuator::parse(&args.actuator);
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
    let bar = BarConfig {
        enabled,
        act_on_proof: args.act_on_proof,
        protected_namespaces: ["kube-system".to_string(), args.namespace.clone()].into(),
        min_ready: 1,
    };
    Ok((
        EngineCore::new(
            Options::default(),
            bar.clone(),
            CircuitBreaker::new(args.max_actions, args.action_window.as_secs().max(1)),
            actuator,
        ),
        actuator,
        bar,
    ))
}

/// RFC 3339 UTC text of Unix seconds (the Mitigation's timestamps).
fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| k8s_openapi::jiff::Timestamp::from_second(s).ok())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Unix seconds of an RFC 3339 timestamp.
pub(crate) fn parse_rfc3339(s: &str) -> Option<u64> {
    let t: k8s_openapi::jiff::Timestamp = s.parse().ok()?;
    u64::try_from(t.as_second()).ok()
}

/// Start-up reconciliation: every applied object has an Applied Mitigation and every Applied
/// Mitigation has its object, whatever a crash left behind.
async fn reconcile(ledger: &rampart_kube::actuate::Ledger) {
    use rampart_respond::ledger::{End, LedgerEvent, step};
    use rampart_respond::reconcile::{Record, Repair, reconcile};
    let (Ok(mitigations), Ok(objects)) =
        (ledger.mitigations().await, ledger.managed_objects().await)
    else {
        tracing::warn!("cannot read the ledger; reconciliation skipped");
        return;
    };
    let now_s = now();
    let stamp = rfc3339(now_s);
    let records: Vec<Record> = mitigations
        .iter()
        // A terminated pod leaves no object to reconcile.
        .filter(|m| m.spec.action != rampart_api::ActionKind::Terminate)
        .map(|m| {
            let status = m.status.clone().unwrap_or_default();
            Record {
                name: m.metadata.name.clone().unwrap_or_default(),
                phase: status.phase,
                expired: parse_rfc3339(&m.spec.expires_at).is_some_and(|t| t <= now_s),
                ending: status.message.starts_with("ending"),
                // The applied object's own key (`/name` when cluster-scoped).
                object_key: format!(
                    "{}/{}",
                    m.spec.object["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or(""),
                    m.spec.object["metadata"]["name"].as_str().unwrap_or("")
                ),
            }
        })
        .collect();
    let by_name = |n: &str| {
        mitigations
            .iter()
            .find(|m| m.metadata.name.as_deref() == Some(n))
    };
    for repair in reconcile(&objects, &records) {
        tracing::info!(?repair, "reconciling the ledger");
        let (name, drop_object) = match &repair {
            Repair::DeleteOrphan(key) => {
                let (ns, name) = key.split_once('/').unwrap_or(("", key));
                if let Err(e) = ledger.remove_object(ns, name).await {
                    tracing::warn!("{e}");
                }
                continue;
            }
            Repair::Adopt(n) | Repair::Reapply(n) | Repair::Resume(n) | Repair::Abandon(n) => {
                (n, false)
            }
            Repair::Finish(n) | Repair::Remove(n) => (n, true),
        };
        let Some(m) = by_name(name) else { continue };
        let ns = m.metadata.namespace.clone().unwrap_or_default();
        let status = m.status.clone().unwrap_or_default();
        match repair {
            // Applied (maybe partly: an isolation's policy without its pod patch) before a
            // crash, status never written: apply again (idempotent), then record it.
            Repair::Adopt(_) | Repair::Resume(_) => {
                let event = match ledger.apply(m).await {
                    Ok(()) => LedgerEvent::Applied,
                    Err(e) => {
                        tracing::warn!("{e}");
                        LedgerEvent::ApplyFailed(e.to_string())
                    }
                };
                if let Ok((s, _)) = step(&status, event, &stamp) {
                    let _ = ledger.set_status(&ns, name, &s).await;
                }
            }
            Repair::Abandon(_) => {
                if let Ok((s, _)) = step(
                    &status,
                    LedgerEvent::ApplyFailed("never applied before its expiry".into()),
                    &stamp,
                ) {
                    let _ = ledger.set_status(&ns, name, &s).await;
                }
            }
            Repair::Reapply(_) => {
                if let Err(e) = ledger.apply(m).await {
                    tracing::warn!("{e}");
                }
            }
            _ if drop_object => {
                // Expired, or an end that a crash interrupted: finish it.
                let ending = if status.message.starts_with("ending") {
                    status.clone()
                } else {
                    step(&status, LedgerEvent::End(End::Expired), &stamp)
                        .map(|x| x.0)
                        .unwrap_or(status.clone())
                };
                let _ = ledger.set_status(&ns, name, &ending).await;
                if ledger.remove(m).await.is_ok()
                    && let Ok((done, _)) = step(&ending, LedgerEvent::Removed, &stamp)
                {
                    let _ = ledger.set_status(&ns, name, &done).await;
                }
            }
            _ => {}
        }
    }
}

/// Acts on the cuts the bar approved, expires and retires what is applied.
async fn actuate(
    ledger: &rampart_kube::actuate::Ledger,
    core: &EngineCore,
    report: &rampart_respond::engine::ChangeReport,
    ttl: Duration,
    metrics: &rampart_http::dashboard::EngineMetrics,
    model_changed: bool,
    retention: Duration,
) {
    use rampart_api::{ActionKind, Mitigation, MitigationSpec, TargetRef};
    use rampart_respond::ledger::{End, LedgerEvent, step};
    let now_s = now();
    let stamp = rfc3339(now_s);
    let existing = match ledger.mitigations().await {
        Ok(m) => m,
        Err(e) => {
            metrics.actuator_errors.inc();
            tracing::warn!("cannot list mitigations, not acting: {e}");
            return;
        }
    };
    metrics.mitigations.clear();
    for m in &existing {
        let phase = m.status.as_ref().map(|s| s.phase).unwrap_or_default();
        metrics
            .mitigations
            .get_or_create(&rampart_http::dashboard::PhaseLabels {
                phase: format!("{phase:?}"),
            })
            .inc();
    }
    let active = |cut: &str| {
        existing.iter().any(|m| {
            m.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("rampart.dev/cut"))
                .map(String::as_str)
                == Some(cut)
                && m.status.as_ref().is_none_or(|s| {
                    matches!(
                        s.phase,
                        rampart_api::MitigationPhase::Proposed
                            | rampart_api::MitigationPhase::Applied
                    )
                })
        })
    };
    let Some(analysis) = core.analysis() else {
        return;
    };
    for d in report.decisions.iter().filter(|d| d.decision == "act") {
        if active(&d.cut) {
            continue;
        }
        let Some(cut) = analysis.plan.cuts.iter().find(|c| c.id == d.cut) else {
            continue;
        };
        let objects: Vec<serde_json::Value> = cut
            .fixes
            .iter()
            .filter_map(|f| f.manifest())
            .flat_map(|np| core.actuator().realise(np))
            .collect();
        for (i, object) in objects.iter().enumerate() {
            // The Mitigation lives in the workload's namespace (a NetworkPolicy's own).
            let ns = object["metadata"]["namespace"]
                .as_str()
                .or_else(|| {
                    cut.fixes
                        .iter()
                        .find_map(|f| f.manifest())
                        .and_then(|m| m["metadata"]["namespace"].as_str())
                })
                .unwrap_or("default")
                .to_string();
            let kind = object["kind"]
                .as_str()
                .unwrap_or("NetworkPolicy")
                .to_string();
            let name = format!("{}-{i}-{now_s}", d.cut.replace("cut-", "rampart-"));
            let mut m = Mitigation::new(
                &name,
                MitigationSpec {
                    chains: cut.breaks.clone(),
                    action: if kind == "AdminNetworkPolicy" {
                        ActionKind::AdminNetworkPolicy
                    } else {
                        ActionKind::NetworkPolicy
                    },
                    target: TargetRef {
                        kind,
                        namespace: object["metadata"]["namespace"]
                            .as_str()
                            .unwrap_or("")
                            .into(),
                        name: object["metadata"]["name"].as_str().unwrap_or("").into(),
                        uid: String::new(),
                    },
                    object: object.clone(),
                    reason: format!("{} ({})", d.fix, cut.to),
                    expires_at: rfc3339(now_s + ttl.as_secs()),
                },
            );
            m.metadata.namespace = Some(ns.clone());
            m.metadata.labels = Some([("rampart.dev/cut".to_string(), d.cut.clone())].into());
            enact(ledger, &m, metrics).await;
        }
    }
    // Ended records are history; kept for `retention`, then forgotten (the ledger must not
    // grow for ever: the leader lists it every second).
    for m in &existing {
        let Some(status) = &m.status else { continue };
        let ended = matches!(
            status.phase,
            rampart_api::MitigationPhase::Reverted
                | rampart_api::MitigationPhase::Retired
                | rampart_api::MitigationPhase::Failed
        );
        let old = status
            .ended_at
            .as_deref()
            .and_then(parse_rfc3339)
            .is_some_and(|t| t.saturating_add(retention.as_secs()) <= now_s);
        if ended && old {
            let ns = m.metadata.namespace.clone().unwrap_or_default();
            let name = m.metadata.name.clone().unwrap_or_default();
            if let Err(e) = ledger.forget(&ns, &name).await {
                tracing::warn!("{e}");
            }
        }
    }
    // Expire and retire applied mitigations.
    let mut proving: Option<std::collections::BTreeSet<String>> = None;
    for m in existing {
        let Some(status) = m.status.clone() else {
            continue;
        };
        if status.phase != rampart_api::MitigationPhase::Applied {
            continue;
        }
        let ns = m.metadata.namespace.clone().unwrap_or_default();
        let name = m.metadata.name.clone().unwrap_or_default();
        let expired = parse_rfc3339(&m.spec.expires_at).is_some_and(|t| t <= now_s);
        let pod_action = matches!(
            m.spec.action,
            rampart_api::ActionKind::Isolate | rampart_api::ActionKind::Terminate
        );
        let end = if expired {
            Some(End::Expired)
        } else if pod_action || !model_changed {
            // An infected pod's mitigation ends on expiry only; and retirement (a re-proof
            // without the mitigation) can only change when the model did.
            None
        } else {
            let proving = proving.get_or_insert_with(|| {
                // Every object rampart applied, taken out at once.
                let ours: Vec<rampart_model::ObjectKey> = core
                    .snapshot()
                    .of_kind(rampart_model::Kind::NetworkPolicy)
                    .filter(|o| {
                        let m = o.object.meta();
                        m.labels.contains_key(rampart_respond::MANAGED_BY_LABEL)
                            && m.owner_references.iter().any(|r| r.kind == "Mitigation")
                    })
                    .map(|o| rampart_model::ObjectKey::of(&o.object))
                    .collect();
                rampart_respond::retire::proving_without(core.snapshot(), &ours)
            });
            (!m.spec.chains.iter().any(|c| proving.contains(c))).then_some(End::Retired)
        };
        let Some(end) = end else { continue };
        let Ok((ending, _)) = step(&status, LedgerEvent::End(end), &stamp) else {
            continue;
        };
        let _ = ledger.set_status(&ns, &name, &ending).await;
        let event = match ledger.remove(&m).await {
            Ok(()) => LedgerEvent::Removed,
            Err(e) => LedgerEvent::RemoveFailed(e.to_string()),
        };
        if let Ok((done, _)) = step(&ending, event, &stamp) {
            let _ = ledger.set_status(&ns, &name, &done).await;
            tracing::info!(mitigation = %name, namespace = %ns, phase = ?done.phase, "mitigation ended");
        }
    }
}

/// One round of the pod response: fresh observations and held ones judged, the Mitigations
/// the bar allows written, then the availability gauges and recreation clocks updated.
async fn pod_round(
    pods: &mut crate::infected::PodResponse,
    ingest: Option<&rampart_http::ingest::Ingest>,
    core: &EngineCore,
    bar: &BarConfig,
    ledger: Option<&rampart_kube::actuate::Ledger>,
    args: &EngineArgs,
    metrics: &rampart_http::dashboard::EngineMetrics,
) {
    let Some(a) = core.analysis() else { return };
    let fresh = ingest.map(|i| i.take_fresh()).unwrap_or_default();
    respond_to_pods(pods, &fresh, core, bar, ledger, args, metrics).await;
    pods.track(core.snapshot(), &a.graph.workloads.list, &metrics.pods);
}

/// Decides on pod observations and writes the Mitigations the bar allows.
async fn respond_to_pods(
    pods: &mut crate::infected::PodResponse,
    fresh: &[rampart_signals::observe::Observation],
    core: &EngineCore,
    bar: &BarConfig,
    ledger: Option<&rampart_kube::actuate::Ledger>,
    args: &EngineArgs,
    metrics: &rampart_http::dashboard::EngineMetrics,
) {
    let Some(a) = core.analysis() else { return };
    let now_s = now();
    let acts = pods.decide(
        fresh,
        core.snapshot(),
        &a.graph.workloads.list,
        bar,
        ledger.is_some(),
        &args.namespace,
        &metrics.pods,
        now_s,
        args.observation_ttl.as_secs().max(1),
    );
    for mut d in acts {
        let Some(ledger) = ledger else { break };
        let m = crate::infected::PodResponse::mitigation(
            &d,
            now_s,
            rfc3339(now_s + args.mitigation_ttl.as_secs()),
        );
        if enact(ledger, &m, metrics).await {
            pods.reaped(&d, &metrics.pods);
        }
        d.mitigation = m.metadata.name.clone();
        pods.remember(d);
    }
}

/// Records a mitigation, applies it, then records the outcome — in that order, so a crash at
/// any point leaves something start-up reconciliation repairs. Whether it was applied.
pub(crate) async fn enact(
    ledger: &rampart_kube::actuate::Ledger,
    m: &rampart_api::Mitigation,
    metrics: &rampart_http::dashboard::EngineMetrics,
) -> bool {
    use rampart_respond::ledger::{LedgerEvent, step};
    let stamp = rfc3339(now());
    let ns = m.metadata.namespace.clone().unwrap_or_default();
    let name = m.metadata.name.clone().unwrap_or_default();
    let recorded = match ledger.record(m).await {
        Ok(r) => r,
        Err(e) => {
            metrics.actuator_errors.inc();
            tracing::warn!("{e}");
            return false;
        }
    };
    let proposed = rampart_api::MitigationStatus {
        proposed_at: Some(stamp.clone()),
        ..Default::default()
    };
    let (status, _) = match ledger.apply(&recorded).await {
        Ok(()) => step(&proposed, LedgerEvent::Applied, &stamp).unwrap_or((proposed, None)),
        Err(e) => {
            metrics.actuator_errors.inc();
            tracing::warn!("{e}");
            step(&proposed, LedgerEvent::ApplyFailed(e.to_string()), &stamp)
                .unwrap_or((proposed, None))
        }
    };
    if let Err(e) = ledger.set_status(&ns, &name, &status).await {
        tracing::warn!("{e}");
    }
    tracing::info!(mitigation = %name, namespace = %ns, phase = ?status.phase, "mitigation");
    status.phase == rampart_api::MitigationPhase::Applied
}

/// Kubernetes Events for chains that appeared or went away, on their entry objects (at most 20
/// per batch, so a large change cannot flood the API server).
async fn publish_events(
    recorder: &kube::runtime::events::Recorder,
    core: &EngineCore,
    report: &rampart_respond::engine::ChangeReport,
) {
    use k8s_openapi::api::core::v1::ObjectReference;
    use kube::runtime::events::{Event, EventType};
    let Some(a) = core.analysis() else { return };
    let api_version = |kind: &str| match kind {
        "Ingress" | "NetworkPolicy" => "networking.k8s.io/v1",
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => "apps/v1",
        "Job" | "CronJob" => "batch/v1",
        "Route" => "route.openshift.io/v1",
        _ => "v1",
    };
    for id in report.diff.chains_added.iter().take(20) {
        let Some(c) = a.proof.chains.iter().find(|c| &c.id == id) else {
            continue;
        };
        let entry = a.graph.vertex_ref(c.entry);
        let target = a.graph.vertex_ref(c.target);
        let cut = a
            .plan
            .cheapest
            .get(id)
            .map(|(_, cost)| format!("; cheapest cut costs {cost}"))
            .unwrap_or_default();
        let reference = ObjectReference {
            api_version: Some(api_version(&entry.kind).into()),
            kind: Some(entry.kind.clone()),
            namespace: (!entry.namespace.is_empty()).then(|| entry.namespace.clone()),
            name: Some(entry.name.clone()),
            ..ObjectReference::default()
        };
        let event = Event {
            type_: EventType::Warning,
            reason: "AttackChainProven".into(),
            note: Some(format!(
                "{id}: internet → {entry} → … → {target} ({} steps){cut}",
                c.length
            )),
            action: "Prove".into(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&event, &reference).await {
            tracing::debug!("event not recorded: {e}");
        }
    }
}

/// Whether the engine can act: its actuator and the permissions it lacks.
#[derive(Debug, Clone, Default, serde::Serialize)]
struct Levers {
    actuator: String,
    writes: bool,
    missing: Vec<String>,
}

/// Publishes the latest analysis and report to the dashboard (findings and chain gauges).
fn publish(
    dashboard: &DashboardState,
    core: &EngineCore,
    report: &rampart_respond::engine::ChangeReport,
    levers: &Levers,
    signals: &Signals,
    responses: &std::collections::VecDeque<crate::infected::PodDecision>,
) {
    let Some(a) = core.analysis() else { return };
    let inputs = InputSummary {
        files: 0,
        objects: core.snapshot().len(),
        ..InputSummary::default()
    };
    let mut scan = ScanReport::new(a, inputs);
    scan.with_footholds(&signals.footholds);
    scan.corroborate(&signals.evidence);
    dashboard.metrics.chains.clear();
    for c in &scan.chains {
        dashboard
            .metrics
            .chains
            .get_or_create(&ChainLabels {
                target: c.target.kind.to_string(),
                confidence: serde_json::to_value(c.confidence)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
            })
            .inc();
    }
    /// The scan contract with the change report beside it, serialized in one pass.
    #[derive(serde::Serialize)]
    struct Findings<'a> {
        #[serde(flatten)]
        scan: &'a ScanReport,
        report: &'a rampart_respond::engine::ChangeReport,
        levers: &'a Levers,
        /// Infected-pod decisions, newest last.
        responses: &'a std::collections::VecDeque<crate::infected::PodDecision>,
    }
    let json = serde_json::to_vec(&Findings {
        scan: &scan,
        report,
        levers,
        responses,
    })
    .unwrap_or_default();
    dashboard.set_findings(json, report.generation, scan.chains.len());
}

/// Arguments of `rampart dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Files or directories of manifests or dumps (as for `scan`).
    #[arg(required = true)]
    pub paths: Vec<std::path::PathBuf>,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "RAMPART_DASHBOARD_ADDR")]
    pub addr: SocketAddr,
    /// Connection limits and timeouts.
    #[command(flatten)]
    pub serve: crate::serving::ServeArgs,
}

/// `rampart dashboard`: the engine's dashboard over an offline scan (shadow mode).
pub fn dashboard(args: &DashboardArgs) -> anyhow::Result<ExitCode> {
    let loaded = rampart_files::load_paths(&args.paths, &rampart_files::LoadOptions::default());
    for e in &loaded.errors {
        eprintln!("rampart: warning: {e}");
    }
    let mut core = EngineCore::shadow(Options::default());
    for o in loaded.snapshot.iter() {
        core.apply(Change::Upsert(Box::new(o.clone())));
    }
    let report = core.reprove(now());
    let state = Arc::new(DashboardState::default());
    publish(
        &state,
        &core,
        &report,
        &Levers::default(),
        &Signals::default(),
        &Default::default(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("binding {}", args.addr))?;
        eprintln!("rampart dashboard: http://{}", listener.local_addr()?);
        let server = args.serve.server(state.metrics.serve.clone());
        let stop = CancellationToken::new();
        let ctrl_c = stop.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            ctrl_c.cancel();
        });
        server.serve(listener, None, router(state), stop).await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the engine.
pub fn run(args: &EngineArgs) -> anyhow::Result<ExitCode> {
    let (mut core, actuator, bar) = core(args)?;
    let ingest_config = ingest_config(args)?;
    let dashboard_token = dashboard_token(args)?;
    let ingest_tls = match (&args.ingest_tls_cert, &args.ingest_tls_key) {
        (Some(c), Some(k)) => {
            let cert = Arc::new(
                rampart_http::tls::ReloadingCert::load(c, k)
                    .context("loading the ingest certificate")?,
            );
            let config = rampart_http::tls::server_config(cert.clone())
                .context("ingest TLS configuration")?;
            Some((cert, config))
        }
        (None, None) => None,
        _ => anyhow::bail!("--ingest-tls-cert and --ingest-tls-key go together"),
    };
    let mut pods = crate::infected::PodResponse::new(
        match &args.responses {
            Some(f) => rampart_respond::infected::ResponseMapping::from_yaml(&read_config(f)?)?,
            None => rampart_respond::infected::ResponseMapping::default(),
        },
        rampart_respond::infected::Responder::new(
            args.max_actions,
            args.pod_max_per_workload,
            args.action_window.as_secs().max(1),
            args.allow_standalone_pods,
        ),
    );
    let pod_class = bar.enabled.contains(&ActionClass::Pod);
    let intel = crate::intel::load(&[], args.kev_file.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let client = kube::Client::try_default()
            .await
            .context("connecting to the API server")?;
        let dashboard = Arc::new(DashboardState::default());
        // One serving layer for every listener: one connection cap, one set of timeouts.
        let server = args.serve.server(dashboard.metrics.serve.clone());
        let listener = tokio::net::TcpListener::bind(args.dashboard_addr)
            .await
            .with_context(|| format!("binding {}", args.dashboard_addr))?;
        let cancel = CancellationToken::new();
        // Where each endpoint is served: both on --ingest-addr, or each on its own address.
        let mut binds: Vec<(SocketAddr, &'static [&'static str])> = Vec::new();
        if let Some(a) = args.ingest_addr {
            binds.push((a, &["falco", "audit"]));
        }
        if let Some(a) = args.falco_addr {
            binds.push((a, &["falco"]));
        }
        if let Some(a) = args.audit_addr {
            binds.push((a, &["audit"]));
        }
        let ingest = match ingest_config {
            Some(config) if !binds.is_empty() => {
                let ingest = Arc::new(rampart_http::ingest::Ingest::new(
                    config,
                    rampart_signals::observe::Store::new(
                        args.observation_ttl.as_secs().max(1),
                        args.max_observations.max(1),
                    ),
                    dashboard.metrics.ingest.clone(),
                ));
                if let Some((cert, _)) = &ingest_tls {
                    tokio::spawn(cert.clone().watch(
                        Duration::from_secs(60),
                        Arc::new(rampart_http::metrics::Metrics::default()),
                        cancel.clone(),
                    ));
                }
                for (addr, endpoints) in binds {
                    let listener = tokio::net::TcpListener::bind(addr)
                        .await
                        .with_context(|| format!("binding {addr}"))?;
                    let app = rampart_http::ingest::router(ingest.clone(), endpoints);
                    let stop = cancel.clone();
                    let scheme = if ingest_tls.is_some() {
                        "https"
                    } else {
                        "http"
                    };
                    eprintln!(
                        "rampart engine: ingest on {scheme}://{} ({})",
                        listener.local_addr()?,
                        endpoints.join(", ")
                    );
                    let tls = ingest_tls.as_ref().map(|(_, config)| config.clone());
                    let server = server.clone();
                    tokio::spawn(async move { server.serve(listener, tls, app, stop).await });
                }
                Some(ingest)
            }
            _ => None,
        };
        let fresh_evidence = || async {
            match &ingest {
                Some(i) => i.wake.notified().await,
                None => std::future::pending().await,
            }
        };
        let mut last_report = rampart_respond::engine::ChangeReport::default();
        let mut live_reports = LiveReports::default();
        eprintln!(
            "rampart engine: dashboard on http://{}",
            listener.local_addr()?
        );
        let app = match &dashboard_token {
            Some(t) => rampart_http::auth::protect(router(dashboard.clone()), t.clone()),
            None => router(dashboard.clone()),
        };
        let stop = cancel.clone();
        let dashboard_server = server.clone();
        tokio::spawn(async move { dashboard_server.serve(listener, None, app, stop).await });
        let mut ledger = actuator
            .writes()
            .then(|| rampart_kube::actuate::Ledger::new(client.clone()));
        // Can the levers be trusted? Without the permissions acting needs, fail safe to dry-run.
        let mut levers = Levers {
            actuator: format!("{actuator:?}"),
            writes: ledger.is_some(),
            missing: Vec::new(),
        };
        if let Some(l) = &ledger {
            match l
                .missing_permissions(
                    args.enable.iter().any(|c| c.trim() == "pod"),
                    actuator == Actuator::AdminNetworkPolicy,
                )
                .await
            {
                Ok(m) if m.is_empty() => {}
                Ok(m) => {
                    tracing::warn!(missing = ?m, "the actuator lacks permissions: running dry-run");
                    levers.missing = m;
                }
                Err(e) => {
                    tracing::warn!(
                        "cannot check the actuator's permissions ({e}): running dry-run"
                    );
                    levers.missing = vec![format!("unknown: {e}")];
                }
            }
            if !levers.missing.is_empty() {
                levers.writes = false;
                ledger = None;
            }
        }
        // Only the leader writes: followers prove and serve the dashboard.
        let leading = match &ledger {
            Some(_) => {
                let identity = args
                    .identity
                    .clone()
                    .or_else(|| std::env::var("HOSTNAME").ok())
                    .unwrap_or_else(|| format!("rampart-{}", std::process::id()));
                Some(
                    rampart_kube::leader::elect(
                        client.clone(),
                        &args.namespace,
                        "rampart-engine",
                        &identity,
                        args.lease_seconds,
                    )
                    .await
                    .context("starting leader election")?,
                )
            }
            None => None,
        };
        let is_leader = |l: &Option<tokio::sync::watch::Receiver<bool>>| {
            l.as_ref().is_some_and(|r| *r.borrow())
        };
        let mut reconciled = false;
        let recorder = kube::runtime::events::Recorder::new(
            client.clone(),
            kube::runtime::events::Reporter {
                controller: "rampart-engine".into(),
                instance: std::env::var("HOSTNAME").ok(),
            },
        );
        let (tx, mut rx) = mpsc::channel::<ClusterEvent>(8192);
        if pod_class {
            pods.expect_pdbs();
            tokio::spawn(rampart_kube::cluster::watch_extra(
                client.clone(),
                "PodDisruptionBudget",
                tx.clone(),
                cancel.clone(),
            ));
        }
        if args.watch_vulnerability_reports {
            tokio::spawn(rampart_kube::cluster::watch_extra(
                client.clone(),
                "VulnerabilityReport",
                tx.clone(),
                cancel.clone(),
            ));
        }
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
            // A quiet cluster still gets a tick, so expiries happen on time. New runtime
            // evidence or intel changes confidence, not the proof: no re-proof for it.
            let mut intel_changed = false;
            let first = tokio::select! {
                () = cancel.cancelled() => break,
                e = rx.recv() => e.map(Some),
                () = tokio::time::sleep(Duration::from_secs(1)) => Some(None),
                () = fresh_evidence() => {
                    intel_changed = true;
                    Some(None)
                }
            };
            let Some(first) = first else { break };
            let mut batch: Vec<ClusterEvent> = first.into_iter().collect();
            while let Ok(Some(e)) = tokio::time::timeout(args.debounce, rx.recv()).await {
                batch.push(e);
            }
            let batch_was_empty = batch.is_empty();
            for e in batch {
                match e {
                    ClusterEvent::Upsert(o) => {
                        if !core.apply(Change::Upsert(o)) {
                            dashboard.metrics.unchanged_updates.inc();
                        }
                    }
                    ClusterEvent::Delete(k) => {
                        core.apply(Change::Delete(k));
                    }
                    ClusterEvent::Relisted(kind, objects) => {
                        synced.insert(kind);
                        core.replace_kind(kind, objects);
                    }
                    ClusterEvent::Error(kind, e) => {
                        dashboard
                            .metrics
                            .watch_errors
                            .get_or_create(&KindLabels { kind: kind.clone() })
                            .inc();
                        tracing::warn!(kind = %kind, "watch failed, retrying: {e}");
                    }
                    ClusterEvent::ExtraUpsert("VulnerabilityReport", v) => {
                        intel_changed |= live_reports.upsert(&v);
                    }
                    ClusterEvent::ExtraDeleted("VulnerabilityReport", ns, name) => {
                        intel_changed |= live_reports.remove(&ns, &name);
                    }
                    ClusterEvent::ExtraRelisted("VulnerabilityReport", all) => {
                        live_reports.replace(&all);
                        intel_changed = true;
                    }
                    ClusterEvent::ExtraUpsert(_, v) => pods.pdb_upsert(&v),
                    ClusterEvent::ExtraDeleted(_, ns, name) => pods.pdb_delete(&ns, &name),
                    ClusterEvent::ExtraRelisted(_, all) => pods.pdb_replace(&all),
                }
            }
            if !expected.is_subset(&synced) {
                continue; // first findings only once every kind is listed
            }
            if let Some(i) = &ingest {
                i.housekeeping();
                let mut store = i.store.lock().unwrap_or_else(|e| e.into_inner());
                intel_changed |= store.expire(now()) > 0;
                i.metrics
                    .observations
                    .set(i64::try_from(store.len()).unwrap_or(i64::MAX));
            }
            if batch_was_empty || !core.is_dirty() {
                // A tick, new evidence, or updates the model does not read (status,
                // resourceVersion): only confidence, expiries and retirements can change.
                pod_round(
                    &mut pods,
                    ingest.as_deref(),
                    &core,
                    &bar,
                    ledger.as_ref().filter(|_| is_leader(&leading)),
                    args,
                    &dashboard.metrics,
                )
                .await;
                if intel_changed {
                    let signals =
                        Signals::refresh(&mut core, ingest.as_deref(), &intel, &live_reports);
                    last_report.decisions = core.redecide(now());
                    publish(
                        &dashboard,
                        &core,
                        &last_report,
                        &levers,
                        &signals,
                        &pods.decisions,
                    );
                    tracing::info!(
                        corroborated = signals.evidence.len(),
                        footholds = signals.footholds.len(),
                        "runtime evidence or intel changed"
                    );
                }
                if let Some(ledger) = ledger.as_ref().filter(|_| is_leader(&leading)) {
                    if !reconciled {
                        reconcile(ledger).await;
                        reconciled = true;
                    }
                    let none = rampart_respond::engine::ChangeReport::default();
                    actuate(
                        ledger,
                        &core,
                        if intel_changed { &last_report } else { &none },
                        args.mitigation_ttl,
                        &dashboard.metrics,
                        false,
                        args.ledger_retention,
                    )
                    .await;
                }
                continue;
            }
            let t = Instant::now();
            let mut report = core.reprove(now());
            let signals = Signals::refresh(&mut core, ingest.as_deref(), &intel, &live_reports);
            report.decisions = core.redecide(now());
            dashboard
                .metrics
                .loop_latency
                .observe(t.elapsed().as_secs_f64());
            dashboard
                .metrics
                .reproofs
                .get_or_create(&PathLabels {
                    path: match report.path {
                        ReproofPath::Full => "full",
                        ReproofPath::Relabel => "relabel",
                        ReproofPath::Reclass => "reclass",
                    }
                    .into(),
                })
                .inc();
            publish(
                &dashboard,
                &core,
                &report,
                &levers,
                &signals,
                &pods.decisions,
            );
            // A busy cluster (a re-proof every batch) must not starve the pod response.
            pod_round(
                &mut pods,
                ingest.as_deref(),
                &core,
                &bar,
                ledger.as_ref().filter(|_| is_leader(&leading)),
                args,
                &dashboard.metrics,
            )
            .await;
            // Events are proposals made visible, allowed in shadow mode; with several replicas
            // only the leader records them.
            if leading.is_none() || is_leader(&leading) {
                publish_events(&recorder, &core, &report).await;
            }
            if let Some(ledger) = ledger.as_ref().filter(|_| is_leader(&leading)) {
                // A new leader first repairs whatever the previous one left.
                if !reconciled {
                    reconcile(ledger).await;
                    reconciled = true;
                }
                actuate(
                    ledger,
                    &core,
                    &report,
                    args.mitigation_ttl,
                    &dashboard.metrics,
                    true,
                    args.ledger_retention,
                )
                .await;
            } else if !is_leader(&leading) {
                reconciled = false;
            }
            tracing::info!(
                generation = report.generation,
                chains = report.chains,
                added = report.diff.chains_added.len(),
                removed = report.diff.chains_removed.len(),
                decisions = report.decisions.len(),
                "re-proved"
            );
            last_report = report;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
