//! The engine's settings as plain data ([`EngineConfig`]), and their validation: everything is
//! checked and every named file read before the engine touches the cluster.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rampart_graph::Options;
use rampart_http::ingest::IngestConfig;
use rampart_http::serve::Limits;
use rampart_http::tls::ReloadingCert;
use rampart_respond::actuator::Actuator;
use rampart_respond::bar::{ActionClass, BarConfig, CircuitBreaker};
use rampart_respond::engine::EngineCore;
use rampart_signals::epss::Epss;
use rampart_signals::foothold::ExploitIntel;
use rampart_signals::kev::Kev;

use crate::Error;
use crate::infected::PodResponse;

/// NetworkPolicies from observed flows, as the engine makes them.
#[derive(Debug, Clone)]
pub struct NetpolConfig {
    /// A Hubble (or Inspektor Gadget) JSON-lines file to follow as it grows (`hubble observe
    /// -o json --follow > FILE`, the Hubble exporter's file); read from its start, re-read
    /// from the start when it is truncated or replaced.
    pub flows_file: Option<PathBuf>,
    /// Least time between two plans (a plan is made only when flows or the cluster moved).
    pub interval: Duration,
    /// How policies are suggested.
    pub settings: rampart_netpol::Settings,
    /// With the `netpol` action class: how long a step stays applied without a drop before
    /// the next one starts.
    pub soak: Duration,
}

impl Default for NetpolConfig {
    fn default() -> Self {
        NetpolConfig {
            flows_file: None,
            interval: Duration::from_secs(60),
            settings: rampart_netpol::Settings::default(),
            soak: Duration::from_secs(600),
        }
    }
}

/// Everything `rampart engine` is told (the binary builds it from its flags; see its `--help`
/// for each setting's meaning and default).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Action classes allowed to act (network, rbac, mount, identity, pod, judgement); empty:
    /// shadow mode.
    pub enable: Vec<String>,
    /// How actions are written: dryrun, networkpolicy, adminnetworkpolicy (unknown: dryrun).
    pub actuator: String,
    /// Let `network` act on proof alone.
    pub act_on_proof: bool,
    /// Objectives beyond the classic targets that chains are proved to (Impact, Exfiltration,
    /// Collection, Persistence).
    pub objectives: rampart_graph::Objectives,
    /// Dashboard, findings and metrics address.
    pub dashboard_addr: SocketAddr,
    /// File holding the dashboard's token.
    pub dashboard_token_file: Option<PathBuf>,
    /// Connection limits and timeouts of the dashboard and ingest listeners.
    pub limits: Limits,
    /// How long ended Mitigations stay in the ledger.
    pub ledger_retention: Duration,
    /// Lifetime of a mitigation before it reverts itself.
    pub mitigation_ttl: Duration,
    /// After a mitigation expires, how long its cut stays proposed before it may be acted on
    /// again.
    pub reapply_cooldown: Duration,
    /// Quiet time after a change before re-proving.
    pub debounce: Duration,
    /// Circuit breaker: most actions per window.
    pub max_actions: usize,
    /// Circuit breaker window.
    pub action_window: Duration,
    /// rampart's own namespace (never acted on; holds the leader Lease).
    pub namespace: String,
    /// Lease duration for leader election, in seconds.
    pub lease_seconds: u64,
    /// This replica's identity in the Lease (default: `$HOSTNAME`).
    pub identity: Option<String>,
    /// Address serving both `POST /falco` and `POST /audit`.
    pub ingest_addr: Option<SocketAddr>,
    /// Address serving only `POST /falco`.
    pub falco_addr: Option<SocketAddr>,
    /// Address serving only `POST /audit`.
    pub audit_addr: Option<SocketAddr>,
    /// File holding the ingest clients' bearer token.
    pub ingest_token_file: Option<PathBuf>,
    /// Accept ingest requests without a token.
    pub insecure_no_auth: bool,
    /// Ingest requests per second per peer address.
    pub ingest_rate: u32,
    /// Largest ingest request body, in bytes.
    pub ingest_max_body: usize,
    /// How long an observation corroborates after it was last seen.
    pub observation_ttl: Duration,
    /// Most observations kept at once.
    pub max_observations: usize,
    /// Falco rule → behaviour mapping file (default: the bundled mapping).
    pub behaviours: Option<PathBuf>,
    /// ServiceAccounts whose Secret reads are not evidence (`namespace:name`, comma-separated).
    pub audit_allow: String,
    /// CISA KEV catalogue file.
    pub kev_file: Option<PathBuf>,
    /// FIRST EPSS scores file (CSV, plain or gzip).
    pub epss_file: Option<PathBuf>,
    /// EPSS probability from which a CVE at an exposed entry is a foothold.
    pub epss_min: Option<f64>,
    /// Watch trivy-operator VulnerabilityReports.
    pub watch_vulnerability_reports: bool,
    /// Watch Guardians for the dashboard's request-guard pages.
    pub watch_guardians: bool,
    /// The live compliance audit and its PolicyReports, when on.
    pub compliance: Option<crate::audit::AuditSettings>,
    /// Model adjudication, when a model is configured.
    pub model: Option<crate::judge::ModelSettings>,
    /// Notifications, when a destination is configured.
    pub notify: Option<crate::notify::NotifySettings>,
    /// How far back the arming ladder's evidence (what the engine would have done while
    /// held back) is shown.
    pub shadow_window: Duration,
    /// NetworkPolicies from observed flows: where flows come from besides `POST /flows`, how
    /// often the plan is made again, and how it is made.
    pub netpol: NetpolConfig,
    /// Observation → pod action mapping file (default: the bundled one).
    pub responses: Option<PathBuf>,
    /// Pod actions per workload per action window.
    pub pod_max_per_workload: usize,
    /// Allow isolating or terminating pods no controller replaces.
    pub allow_standalone_pods: bool,
    /// The ingest's TLS certificate (PEM; reloaded when it changes).
    pub ingest_tls_cert: Option<PathBuf>,
    /// The ingest certificate's key (PEM).
    pub ingest_tls_key: Option<PathBuf>,
    /// CA certificates (PEM) whose client certificates authenticate ingest requests.
    pub ingest_client_ca: Option<PathBuf>,
}

/// The ingest's reloading certificate and the TLS configuration over it.
pub(crate) type IngestTls = (Arc<ReloadingCert>, Arc<rustls::ServerConfig>);

/// A validated configuration: the core, the pod responder and what the listeners need.
pub(crate) struct Prepared {
    pub core: EngineCore,
    pub actuator: Actuator,
    pub bar: BarConfig,
    pub ingest_config: Option<IngestConfig>,
    pub dashboard_token: Option<rampart_http::auth::Token>,
    pub ingest_tls: Option<IngestTls>,
    pub pods: PodResponse,
    pub intel: ExploitIntel,
    pub notify: Option<crate::notify::PreparedNotify>,
}

impl EngineConfig {
    /// Validates every setting and reads every file, in the order the operator sees errors.
    pub(crate) fn prepare(&self) -> Result<Prepared, Error> {
        let (core, actuator, bar) = self.core()?;
        let ingest_config = self.ingest_config()?;
        let dashboard_token = self.dashboard_token()?;
        let ingest_tls = self.ingest_tls()?;
        if let Some(w) = self.audit_warning() {
            tracing::warn!("{w}");
        }
        let pods = self.pod_response()?;
        let intel = ExploitIntel {
            kev: self.kev()?,
            epss: self.epss()?,
            epss_min: self.epss_min,
        };
        if let Some(m) = &self.model {
            // Validated and its files read now; the task builds its own client at start.
            crate::judge::ModelClient::new(m)?;
            if !self.enable.iter().any(|c| c.trim() == "judgement") {
                tracing::info!(
                    "the model captions chains; without the judgement class its verdicts never make rampart act"
                );
            }
        }
        // Every step of the rollout expires with the first (a default-deny never outlives its
        // allow-lists): the last step must start while the first is in force.
        if self.enable.iter().any(|c| c.trim() == "netpol")
            && self.netpol.soak.saturating_mul(2) >= self.mitigation_ttl
        {
            return Err(Error::Config(format!(
                "--netpol-soak ({}s) must be less than half of --mitigation-ttl ({}s): the rollout's three steps start a soak apart and all expire with the first",
                self.netpol.soak.as_secs(),
                self.mitigation_ttl.as_secs()
            )));
        }
        let notify = self.notify.as_ref().map(|n| n.prepare()).transpose()?;
        Ok(Prepared {
            notify,
            core,
            actuator,
            bar,
            ingest_config,
            dashboard_token,
            ingest_tls,
            pods,
            intel,
        })
    }

    /// Builds the core from the settings.
    fn core(&self) -> Result<(EngineCore, Actuator, BarConfig), Error> {
        let enabled: BTreeSet<ActionClass> = self
            .enable
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| ActionClass::parse(s).map_err(Error::Config))
            .collect::<Result<_, _>>()?;
        let (actuator, warning) = Actuator::parse(&self.actuator);
        if let Some(w) = warning {
            tracing::warn!("{w}");
        }
        let bar = BarConfig {
            enabled,
            act_on_proof: self.act_on_proof,
            protected_namespaces: ["kube-system".to_string(), self.namespace.clone()].into(),
            min_ready: 1,
        };
        let mut core = EngineCore::new(
            Options {
                objectives: self.objectives,
                ..Options::default()
            },
            bar.clone(),
            CircuitBreaker::new(self.max_actions, self.action_window.as_secs().max(1)),
            actuator,
        );
        // A would-be action lives as long as a real one would have.
        core.set_shadow_ttl(self.mitigation_ttl.as_secs());
        Ok((core, actuator, bar))
    }

    /// The dashboard's token, if any; a dashboard reachable beyond loopback without one is
    /// allowed (an operator may front it with their own proxy) but said loudly.
    fn dashboard_token(&self) -> Result<Option<rampart_http::auth::Token>, Error> {
        let Some(f) = &self.dashboard_token_file else {
            if !self.dashboard_addr.ip().is_loopback() {
                tracing::warn!(
                    addr = %self.dashboard_addr,
                    "the dashboard (the whole attack graph) is served beyond loopback without a token: set --dashboard-token-file"
                );
            }
            return Ok(None);
        };
        let t = read_token(f, "dashboard", "the dashboard token ")?;
        Ok(Some(rampart_http::auth::Token::new(&t)))
    }

    /// The ingest configuration, when an ingest address is set.
    fn ingest_config(&self) -> Result<Option<IngestConfig>, Error> {
        if self.ingest_addr.is_none() && self.falco_addr.is_none() && self.audit_addr.is_none() {
            return Ok(None);
        }
        let token = match (&self.ingest_token_file, self.insecure_no_auth) {
            (Some(f), _) => Some(read_token(f, "ingest", "the ingest token ")?),
            (None, true) => {
                tracing::warn!("ingest accepts requests without a token (--insecure-no-auth)");
                None
            }
            (None, false) => {
                return Err(Error::Config(
                    "an ingest address (--ingest-addr, --falco-addr, --audit-addr) needs --ingest-token-file (or --insecure-no-auth, explicitly)".into(),
                ));
            }
        };
        let mapping = match &self.behaviours {
            Some(f) => rampart_signals::behaviour::Mapping::from_yaml(&read_config(f)?)?,
            None => rampart_signals::behaviour::Mapping::default(),
        };
        Ok(Some(IngestConfig {
            token,
            rate_per_peer: std::num::NonZeroU32::new(self.ingest_rate)
                .ok_or_else(|| Error::Config("--ingest-rate must be at least 1".into()))?,
            max_body: self.ingest_max_body,
            mapping,
            allow: rampart_signals::audit::AllowList::parse(&self.audit_allow)?,
        }))
    }

    /// What an operator must hear at start-up about how `/audit` authenticates: the API
    /// server's audit webhook sends no bearer token over plain HTTP, so a token-protected
    /// `/audit` without TLS refuses every batch.
    pub fn audit_warning(&self) -> Option<String> {
        let serves_audit = self.ingest_addr.is_some() || self.audit_addr.is_some();
        let tls = self.ingest_tls_cert.is_some();
        (serves_audit && !tls && !self.insecure_no_auth).then(|| {
            "/audit is served over plain HTTP: the API server's audit webhook sends no bearer \
             token over http://, so every batch will be refused (401). Serve the ingest over \
             HTTPS (--ingest-tls-cert, --ingest-tls-key) with the token in the webhook \
             kubeconfig, or a client certificate signed by --ingest-client-ca"
                .to_string()
        })
    }

    /// The ingest's certificate and TLS configuration, when both files are set.
    fn ingest_tls(&self) -> Result<Option<IngestTls>, Error> {
        match (&self.ingest_tls_cert, &self.ingest_tls_key) {
            (Some(c), Some(k)) => {
                let cert = Arc::new(ReloadingCert::load(c, k).map_err(Error::IngestCert)?);
                let ca = match &self.ingest_client_ca {
                    Some(f) => Some(read_config(f)?),
                    None => None,
                };
                let config = rampart_http::tls::server_config_with_clients(
                    cert.clone(),
                    ca.as_deref().map(str::as_bytes),
                )
                .map_err(Error::IngestTls)?;
                Ok(Some((cert, config)))
            }
            (None, None) if self.ingest_client_ca.is_some() => Err(Error::Config(
                "--ingest-client-ca needs --ingest-tls-cert and --ingest-tls-key (client \
                 certificates are a TLS feature)"
                    .into(),
            )),
            (None, None) => Ok(None),
            _ => Err(Error::Config(
                "--ingest-tls-cert and --ingest-tls-key go together".into(),
            )),
        }
    }

    /// The infected-pod responder with its mapping and breakers.
    fn pod_response(&self) -> Result<PodResponse, Error> {
        Ok(PodResponse::new(
            match &self.responses {
                Some(f) => rampart_respond::infected::ResponseMapping::from_yaml(&read_config(f)?)?,
                None => rampart_respond::infected::ResponseMapping::default(),
            },
            rampart_respond::infected::Responder::new(
                self.max_actions,
                self.pod_max_per_workload,
                self.action_window.as_secs().max(1),
                self.allow_standalone_pods,
            ),
        ))
    }

    /// The KEV catalogue, if one is named. Bounded: the path is a flag or an environment
    /// variable, and a FIFO or `/dev/zero` there must fail, not hang or exhaust memory.
    fn kev(&self) -> Result<Kev, Error> {
        let Some(k) = &self.kev_file else {
            return Ok(Kev::default());
        };
        let bytes = rampart_files::read_bounded(k, rampart_signals::kev::MAX_BYTES as u64)
            .map_err(|source| Error::Read {
                what: "",
                path: k.clone(),
                source,
            })?;
        Kev::parse(&bytes).map_err(|source| Error::Kev {
            path: k.clone(),
            source,
        })
    }
}

impl EngineConfig {
    /// The EPSS scores, if a feed is named (bounded like the KEV catalogue).
    fn epss(&self) -> Result<Epss, Error> {
        if let Some(m) = self.epss_min
            && !(0.0..=1.0).contains(&m)
        {
            return Err(Error::Config(format!("--epss-min {m} is outside 0..1")));
        }
        let Some(f) = &self.epss_file else {
            if self.epss_min.is_some() {
                return Err(Error::Config("--epss-min needs --epss-file".into()));
            }
            return Ok(Epss::default());
        };
        let bytes = rampart_files::read_bounded(f, rampart_signals::epss::MAX_BYTES as u64)
            .map_err(|source| Error::Read {
                what: "the EPSS feed ",
                path: f.clone(),
                source,
            })?;
        Epss::parse(&bytes).map_err(|e| Error::Config(format!("{}: {e}", f.display())))
    }
}

/// A configuration file (mapping, responses), bounded like every file rampart reads.
fn read_config(f: &Path) -> Result<String, Error> {
    rampart_files::read_text_bounded(f, rampart_files::MAX_CONFIG_FILE_BYTES).map_err(|source| {
        Error::Read {
            what: "",
            path: f.to_path_buf(),
            source,
        }
    })
}

/// The token in file `f` (`what`: `dashboard` or `ingest`; `reading` names it in a read
/// error), trimmed; an empty one is an error, and a short one is warned about: tokens are
/// compared in constant time but not rate-limited everywhere, so a short one can be guessed.
fn read_token(f: &Path, what: &str, reading: &'static str) -> Result<String, Error> {
    let t = rampart_files::read_text_bounded(f, rampart_files::MAX_SECRET_FILE_BYTES)
        .map_err(|source| Error::Read {
            what: reading,
            path: f.to_path_buf(),
            source,
        })?
        .trim()
        .to_string();
    if t.is_empty() {
        return Err(Error::Config(format!(
            "the {what} token file {} is empty",
            f.display()
        )));
    }
    if t.chars().count() < 16 {
        tracing::warn!(
            "the {what} token is shorter than 16 characters: use a random one (e.g. openssl rand -hex 32)"
        );
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CLI's defaults.
    fn config() -> EngineConfig {
        EngineConfig {
            enable: Vec::new(),
            actuator: "dryrun".into(),
            act_on_proof: false,
            objectives: rampart_graph::Objectives::all(),
            dashboard_addr: "127.0.0.1:8080".parse().expect("address"),
            dashboard_token_file: None,
            limits: Limits::default(),
            ledger_retention: Duration::from_secs(86_400),
            mitigation_ttl: Duration::from_secs(3600),
            reapply_cooldown: Duration::from_secs(1800),
            debounce: Duration::from_millis(500),
            max_actions: 5,
            action_window: Duration::from_secs(600),
            namespace: "rampart-system".into(),
            lease_seconds: 15,
            identity: None,
            ingest_addr: None,
            falco_addr: None,
            audit_addr: None,
            ingest_token_file: None,
            insecure_no_auth: false,
            ingest_rate: 1000,
            ingest_max_body: rampart_http::ingest::DEFAULT_MAX_BODY,
            observation_ttl: Duration::from_secs(300),
            max_observations: 20_000,
            behaviours: None,
            audit_allow: rampart_signals::audit::DEFAULT_ALLOW.into(),
            kev_file: None,
            epss_file: None,
            epss_min: None,
            watch_vulnerability_reports: false,
            watch_guardians: false,
            compliance: None,
            model: None,
            notify: None,
            shadow_window: Duration::from_secs(7 * 86_400),
            netpol: NetpolConfig::default(),
            responses: None,
            pod_max_per_workload: 2,
            allow_standalone_pods: false,
            ingest_tls_cert: None,
            ingest_tls_key: None,
            ingest_client_ca: None,
        }
    }

    fn error(c: &EngineConfig) -> String {
        match c.prepare() {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults_prepare_a_shadow_engine() {
        let p = config().prepare().expect("the defaults are valid");
        assert!(p.bar.enabled.is_empty());
        assert!(p.ingest_config.is_none() && p.dashboard_token.is_none());
        assert!(p.bar.protected_namespaces.contains("rampart-system"));
    }

    /// The rollout's last step must start before its first expires.
    #[test]
    fn a_soak_too_long_for_the_mitigation_ttl_is_refused() {
        let mut c = config();
        c.enable = vec!["netpol".into()];
        c.netpol.soak = Duration::from_secs(1800);
        assert!(error(&c).contains("--netpol-soak"), "{}", error(&c));
        c.mitigation_ttl = Duration::from_secs(86_400);
        assert!(c.prepare().is_ok());
        c.enable.clear();
        c.mitigation_ttl = Duration::from_secs(60);
        assert!(c.prepare().is_ok(), "only with the class");
    }

    #[test]
    fn invalid_settings_fail_before_anything_runs() {
        let mut c = config();
        c.enable = vec!["network".into(), "everything".into()];
        assert!(!error(&c).is_empty());
        let mut c = config();
        c.ingest_addr = Some("127.0.0.1:0".parse().expect("address"));
        let e = error(&c);
        assert!(
            e.contains("--ingest-token-file") && e.contains("--insecure-no-auth"),
            "{e}"
        );
        c.insecure_no_auth = true;
        c.ingest_rate = 0;
        assert_eq!(error(&c), "--ingest-rate must be at least 1");
        let mut c = config();
        c.ingest_tls_cert = Some("cert.pem".into());
        assert_eq!(
            error(&c),
            "--ingest-tls-cert and --ingest-tls-key go together"
        );
        let mut c = config();
        c.ingest_client_ca = Some("ca.pem".into());
        assert!(
            error(&c).contains("--ingest-client-ca needs"),
            "{}",
            error(&c)
        );
        let mut c = config();
        c.kev_file = Some("/nonexistent/kev.json".into());
        assert!(
            error(&c).starts_with("reading /nonexistent/kev.json"),
            "{}",
            error(&c)
        );
    }

    /// Issue 14 item 9: a token-protected `/audit` over plain HTTP is said at start-up.
    #[test]
    fn audit_over_plain_http_is_warned_about() {
        let mut c = config();
        assert_eq!(c.audit_warning(), None, "no ingest");
        c.audit_addr = Some("127.0.0.1:0".parse().expect("address"));
        let w = c.audit_warning().expect("a warning");
        assert!(
            w.contains("no bearer") && w.contains("--ingest-client-ca"),
            "{w}"
        );
        c.ingest_tls_cert = Some("cert.pem".into());
        assert_eq!(c.audit_warning(), None, "over TLS");
        c.ingest_tls_cert = None;
        c.audit_addr = None;
        c.falco_addr = Some("127.0.0.1:0".parse().expect("address"));
        assert_eq!(c.audit_warning(), None, "only /falco");
    }
}
