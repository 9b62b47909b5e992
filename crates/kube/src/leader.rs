//! Leader election on a coordination.k8s.io Lease (kube-lease-manager): several engine replicas
//! may run and prove; only the leader writes.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseCreateMode, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// This replica's part in the election: whether it leads now, and the task renewing the Lease.
pub struct Election {
    /// Whether this replica leads right now (it starts as a follower).
    pub leading: watch::Receiver<bool>,
    task:
        JoinHandle<Result<kube_lease_manager::LeaseManager, kube_lease_manager::LeaseManagerError>>,
}

impl Election {
    /// Gives the Lease up (when held) so that another replica takes over at once instead of
    /// after the lease duration: the manager releases it when its channel closes. Waits at most
    /// `grace`.
    pub async fn release(self, grace: Duration) {
        let Election { leading, task } = self;
        drop(leading);
        match tokio::time::timeout(grace, task).await {
            Ok(Ok(Ok(_))) => tracing::info!("leader election: the Lease is released"),
            Ok(Ok(Err(e))) => tracing::warn!("leader election: releasing the Lease failed: {e}"),
            Ok(Err(e)) => tracing::warn!("leader election: the lease task failed: {e}"),
            Err(_) => tracing::warn!("leader election: the Lease was not released in {grace:?}"),
        }
    }
}

/// Starts competing for the lease `name` in `namespace` as `identity`.
pub async fn elect(
    client: Client,
    namespace: &str,
    name: &str,
    identity: &str,
    duration_secs: u64,
) -> Result<Election, kube_lease_manager::LeaseManagerError> {
    let manager = LeaseManagerBuilder::new(client, name)
        .with_namespace(namespace)
        .with_identity(identity)
        .with_field_manager(format!("rampart-engine-{identity}"))
        .with_create_mode(LeaseCreateMode::AutoCreate)
        .with_duration(duration_secs)
        .with_grace(duration_secs.div_ceil(3).max(1))
        .build()
        .await?;
    let (leading, task) = manager.watch().await;
    Ok(Election { leading, task })
}
