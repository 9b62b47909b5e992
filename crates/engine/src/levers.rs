//! Whether the engine can act: the ledger when the actuator writes and holds the permissions
//! acting needs (otherwise dry-run), and leader election (only the leader writes).

use kube::Client;
use rampart_kube::actuate::Ledger;
use rampart_respond::actuator::Actuator;
use tokio::sync::watch;

use crate::{EngineConfig, Error};

/// Whether the engine can act: its actuator and the permissions it lacks (shown in
/// `/findings`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct Levers {
    pub actuator: String,
    pub writes: bool,
    pub missing: Vec<String>,
}

/// The ledger, when the actuator writes and may; without the permissions acting needs, the
/// engine fails safe to dry-run.
pub(crate) async fn ledger(
    client: &Client,
    actuator: Actuator,
    config: &EngineConfig,
) -> (Option<Ledger>, Levers) {
    let mut ledger = actuator.writes().then(|| Ledger::new(client.clone()));
    let mut levers = Levers {
        actuator: format!("{actuator:?}"),
        writes: ledger.is_some(),
        missing: Vec::new(),
    };
    if let Some(l) = &ledger {
        match l
            .missing_permissions(
                config.enable.iter().any(|c| c.trim() == "pod"),
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
                tracing::warn!("cannot check the actuator's permissions ({e}): running dry-run");
                levers.missing = vec![format!("unknown: {e}")];
            }
        }
        if !levers.missing.is_empty() {
            levers.writes = false;
            ledger = None;
        }
    }
    (ledger, levers)
}

/// Leadership: absent when this replica never writes (followers prove and serve the
/// dashboard); otherwise whether it leads right now.
pub(crate) struct Leadership(Option<watch::Receiver<bool>>);

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
        let leading = rampart_kube::leader::elect(
            client.clone(),
            &config.namespace,
            "rampart-engine",
            &identity,
            config.lease_seconds,
        )
        .await
        .map_err(|e| Error::Leader(Box::new(e)))?;
        Ok(Leadership(Some(leading)))
    }

    /// Whether this replica leads now.
    pub(crate) fn leads(&self) -> bool {
        self.0.as_ref().is_some_and(|r| *r.borrow())
    }

    /// Whether this replica records Events: the only replica, or the leader.
    pub(crate) fn records_events(&self) -> bool {
        self.0.is_none() || self.leads()
    }
}
