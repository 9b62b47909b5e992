//! Leader election on a coordination.k8s.io Lease (kube-lease-manager): several engine replicas
//! may run and prove; only the leader writes.

use kube::Client;
use kube_lease_manager::{LeaseCreateMode, LeaseManagerBuilder};
use tokio::sync::watch;

/// Starts competing for the lease `name` in `namespace` as `identity`; the receiver says whether
/// this replica leads right now (it starts as a follower).
pub async fn elect(
    client: Client,
    namespace: &str,
    name: &str,
    identity: &str,
    duration_secs: u64,
) -> Result<watch::Receiver<bool>, kube_lease_manager::LeaseManagerError> {
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
    tokio::spawn(async move {
        if let Ok(Err(e)) = task.await {
            tracing::warn!("leader election ended: {e}");
        }
    });
    Ok(leading)
}
