//! Whether the engine can act: the ledger when the actuator writes and holds every permission
//! acting needs (otherwise dry-run), and leader election (only the leader writes).

use std::time::Duration;

use kube::Client;
use rampart_kube::actuate::Ledger;
use rampart_kube::leader::Election;
use rampart_respond::actuator::Actuator;

use crate::{EngineConfig, Error};

/// Whether the engine can act, as `/findings` shows it: the actuator, whether this replica
/// writes now, its part in leader election and what permissions it lacks.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct Levers {
    pub actuator: String,
    /// Whether this replica writes right now (an actuator that writes, every permission, and
    /// the Lease).
    pub writes: bool,
    /// `leader`, `follower` (another replica writes), or `none` (this replica never writes:
    /// dry-run, or permissions missing).
    pub role: &'static str,
    /// Permissions acting needs that are missing (the engine runs dry-run).
    pub missing: Vec<String>,
    /// Permissions recording Events needs that are missing (acting is not blocked).
    pub missing_for_events: Vec<String>,
    /// Break-glass, shown at the top level of `/findings` (not under `levers`).
    #[serde(skip)]
    pub break_glass: BreakGlassShown,
    /// The arming ladder, shown at the top level of `/findings`.
    #[serde(skip)]
    pub arming: ArmingShown,
}

/// The arming ladder as `/findings` shows it: whether policies are in force and what the
/// engine would have done where it was held back.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct ArmingShown {
    /// `in-force` (policies decide), `none` (no ArmingPolicy: `--enable` alone decides),
    /// `unknown` (not read yet: acting waits) or `not-watched` (this replica never writes).
    pub state: &'static str,
    /// ArmingPolicies in force.
    pub policies: usize,
    /// The window of `history`, in seconds.
    pub window_seconds: u64,
    /// Per class: would-be actions in the window, by outcome, with examples.
    pub history: std::collections::BTreeMap<
        rampart_respond::bar::ActionClass,
        rampart_respond::arming::ClassHistory,
    >,
}

impl ArmingShown {
    /// The ladder and its evidence; `watched`: whether this replica watches the ladder,
    /// `read`: whether it has been read.
    pub(crate) fn of(
        core: &rampart_respond::engine::EngineCore,
        watched: bool,
        read: bool,
        window: Duration,
    ) -> ArmingShown {
        let ladder = core.ladder();
        ArmingShown {
            state: match (watched, read) {
                (false, _) => "not-watched",
                (true, false) => "unknown",
                (true, true) if ladder.is_empty() => "none",
                _ => "in-force",
            },
            policies: ladder.policies,
            window_seconds: window.as_secs(),
            history: core.shadow_history(window.as_secs(), crate::clock::now()),
        }
    }
}

/// Break-glass as `/findings` shows it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct BreakGlassShown {
    /// `off`, `engaged`, `unknown` (watched, not read yet: acting waits) or `not-watched`
    /// (this replica never writes).
    pub state: &'static str,
    /// Whether acting is stopped by an engaged BreakGlass.
    pub engaged: bool,
    /// Whether every active mitigation is being withdrawn.
    pub revert_all: bool,
    /// The engaged objects.
    pub hands: Vec<rampart_respond::brake::Hand>,
}

impl BreakGlassShown {
    /// The view shown; `watched`: whether this replica watches the brake at all.
    pub(crate) fn of(view: &rampart_respond::brake::BrakeView, watched: bool) -> BreakGlassShown {
        use rampart_respond::brake::BrakeView;
        BreakGlassShown {
            state: match (watched, view) {
                (false, _) => "not-watched",
                (true, BrakeView::Unknown) => "unknown",
                (true, v) if v.engaged() => "engaged",
                _ => "off",
            },
            engaged: view.engaged(),
            revert_all: view.reverts_all(),
            hands: view.hands().to_vec(),
        }
    }
}

impl Levers {
    /// The levers as they stand with leadership `leads`.
    pub(crate) fn now(&self, leadership: &Leadership) -> Levers {
        let mut l = self.clone();
        if leadership.0.is_some() {
            l.writes = leadership.leads();
            l.role = if l.writes { "leader" } else { "follower" };
        }
        l
    }
}

/// The ledger, when the actuator writes and may; without the permissions acting needs, the
/// engine fails safe to dry-run and says what is missing.
pub(crate) async fn ledger(
    client: &Client,
    actuator: Actuator,
    config: &EngineConfig,
) -> (Option<Ledger>, Levers) {
    let mut ledger = actuator
        .writes()
        .then(|| Ledger::new(client.clone(), actuator == Actuator::AdminNetworkPolicy));
    let mut levers = Levers {
        actuator: format!("{actuator:?}"),
        writes: false,
        role: "none",
        missing: Vec::new(),
        missing_for_events: Vec::new(),
        break_glass: BreakGlassShown::default(),
        arming: ArmingShown::default(),
    };
    if let Some(l) = &ledger {
        match l
            .missing_permissions(
                config.enable.iter().any(|c| c.trim() == "pod"),
                actuator == Actuator::AdminNetworkPolicy,
                &config.namespace,
            )
            .await
        {
            Ok(p) => {
                if !p.acting.is_empty() {
                    tracing::warn!(
                        "the engine lacks permissions acting needs ({}): running dry-run",
                        p.acting.join(", ")
                    );
                }
                if !p.events.is_empty() {
                    tracing::warn!(
                        "the engine may not record Events ({}): chains are shown on the dashboard only",
                        p.events.join(", ")
                    );
                }
                levers.missing = p.acting;
                levers.missing_for_events = p.events;
            }
            Err(e) => {
                tracing::warn!("cannot check the actuator's permissions ({e}): running dry-run");
                levers.missing = vec![format!("unknown: {e}")];
            }
        }
        if !levers.missing.is_empty() {
            ledger = None;
        }
    }
    (ledger, levers)
}

/// Leadership: absent when this replica never writes (followers prove and serve the
/// dashboard); otherwise the election.
pub(crate) struct Leadership(Option<Election>);

impl Leadership {
    /// Competes for the Lease when there is a ledger to write.
    pub(crate) async fn start(
        client: &Client,
        ledger: Option<&Ledger>,
        config: &EngineConfig,
    ) -> Result<Leadership, Error> {
        if ledger.is_none() {
            return Ok(Leadership(None));
        }
        let identity = config
            .identity
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| format!("rampart-{}", std::process::id()));
        let election = rampart_kube::leader::elect(
            client.clone(),
            &config.namespace,
            "rampart-engine",
            &identity,
            config.lease_seconds,
        )
        .await
        .map_err(|e| Error::Leader(Box::new(e)))?;
        Ok(Leadership(Some(election)))
    }

    /// Whether this replica leads now.
    /// The election's state, for tasks that write only while leading; none: no election
    /// (this is the only replica that writes).
    pub(crate) fn watch(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
        self.0.as_ref().map(|e| e.leading.clone())
    }

    pub(crate) fn leads(&self) -> bool {
        self.0.as_ref().is_some_and(|e| *e.leading.borrow())
    }

    /// Whether this replica records Events: the only replica, or the leader.
    pub(crate) fn records_events(&self) -> bool {
        self.0.is_none() || self.leads()
    }

    /// Resolves when leadership changes (never without an election).
    pub(crate) async fn changed(&mut self) {
        match self.0.as_mut() {
            Some(e) => {
                if e.leading.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    }

    /// Gives the Lease up on shutdown, so another replica leads at once.
    pub(crate) async fn release(self) {
        if let Some(e) = self.0 {
            e.release(Duration::from_secs(5)).await;
        }
    }
}
