//! The engine's operating controls at the API: the BreakGlass objects watched into a
//! [`BrakeView`] every engine replica acts on, the switch written (`rampart engine break-glass
//! on|off`) with the user the API server authenticated, the ArmingPolicies watched, and a
//! Pending Mitigation approved.

use futures_util::StreamExt;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use rampart_api::{BreakGlass, BreakGlassSpec};
use rampart_respond::brake::BrakeView;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::sentence;

/// The field manager the CLI writes the switch with.
pub const FIELD_MANAGER: &str = "rampart-break-glass";

/// Watches every BreakGlass object until `cancel`, sending the view after each change. The
/// view stays [`BrakeView::Unknown`] (acting waits) until the first list succeeds; a watch
/// that fails later keeps the last view it read (and retries with backoff).
pub async fn watch_break_glass(
    client: Client,
    view: watch::Sender<BrakeView>,
    cancel: CancellationToken,
) {
    watch_all::<BreakGlass>(
        client,
        move |objects| {
            let next = BrakeView::of(objects);
            view.send_if_modified(|v| {
                let changed = *v != next;
                *v = next;
                changed
            });
        },
        cancel,
    )
    .await;
}

/// Watches every ArmingPolicy until `cancel`, sending them after each change (none until the
/// first list succeeds: the engine does not act before it knows the ladder).
pub async fn watch_arming(
    client: Client,
    policies: watch::Sender<Option<Vec<rampart_api::ArmingPolicy>>>,
    cancel: CancellationToken,
) {
    watch_all::<rampart_api::ArmingPolicy>(
        client,
        move |objects| {
            policies.send_replace(Some(objects.to_vec()));
        },
        cancel,
    )
    .await;
}

/// Watches every object of a cluster-scoped kind (with [`crate::each`]'s relists and
/// backoff), calling `changed` with all of them once listed and after every change; a failing
/// watch keeps the last state until it is current again.
async fn watch_all<K>(client: Client, changed: impl Fn(&[K]), cancel: CancellationToken)
where
    K: kube::Resource<Scope = kube::core::ClusterResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + 'static,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::all(client);
    let make = || watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    let name = |o: &K| o.meta().name.clone().unwrap_or_default();
    let mut all: std::collections::BTreeMap<String, K> = std::collections::BTreeMap::new();
    let mut listed = false;
    let mut said = false;
    crate::each(make, cancel, |seen| {
        match seen {
            crate::Seen::Failed(e) => {
                if !said {
                    tracing::warn!(
                        "watching {} failed, retrying (acting waits until it is read): {e}",
                        K::kind(&K::DynamicType::default())
                    );
                    said = true;
                }
                return;
            }
            crate::Seen::Relisted(objects) => {
                all = objects.into_iter().map(|o| (name(&o), o)).collect();
                listed = true;
                said = false;
            }
            crate::Seen::Applied(o) => {
                all.insert(name(&o), o);
            }
            crate::Seen::Deleted(o) => {
                all.remove(&name(&o));
            }
        }
        if listed {
            let objects: Vec<K> = all.values().cloned().collect();
            changed(&objects);
        }
    })
    .await;
}

/// Why the switch could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SwitchError(String);

/// The user the API server authenticates this client as (a SelfSubjectReview); none when the
/// API server does not say.
pub async fn whoami(client: &Client) -> Option<String> {
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    let review = api
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .ok()?;
    review.status?.user_info?.username.filter(|u| !u.is_empty())
}

/// Writes BreakGlass `name` (server-side apply, forced: the switch is whoever set it last).
pub async fn set_switch(
    client: &Client,
    name: &str,
    spec: BreakGlassSpec,
) -> Result<BreakGlass, SwitchError> {
    let api: Api<BreakGlass> = Api::all(client.clone());
    let value = serde_json::json!({
        "apiVersion": "rampart.dev/v1alpha1",
        "kind": "BreakGlass",
        "metadata": {"name": name},
        "spec": spec,
    });
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&value),
    )
    .await
    .map_err(|e| SwitchError(format!("writing BreakGlass {name}: {}", sentence(&e))))
}

/// Approves a Pending Mitigation (`spec.approved: true`), only if it is still the object
/// `uid` names (a same-named successor is never approved by mistake).
pub async fn approve(
    client: &Client,
    namespace: &str,
    name: &str,
    uid: &str,
    field_manager: &str,
) -> Result<(), SwitchError> {
    use rampart_api::{Mitigation, MitigationPhase};
    let api: Api<Mitigation> = Api::namespaced(client.clone(), namespace);
    let m = api.get(name).await.map_err(|e| {
        SwitchError(format!(
            "reading Mitigation {namespace}/{name}: {}",
            sentence(&e)
        ))
    })?;
    if m.metadata.uid.as_deref() != Some(uid) {
        return Err(SwitchError(format!(
            "Mitigation {namespace}/{name} is not the one shown (it was replaced)"
        )));
    }
    if m.status.as_ref().map(|s| s.phase) != Some(MitigationPhase::Pending) {
        return Err(SwitchError(format!(
            "Mitigation {namespace}/{name} is not waiting for approval"
        )));
    }
    let patch = serde_json::json!({"metadata": {"uid": uid}, "spec": {"approved": true}});
    let params = PatchParams {
        field_manager: Some(field_manager.to_string()),
        ..PatchParams::default()
    };
    api.patch(name, &params, &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| {
            SwitchError(format!(
                "approving Mitigation {namespace}/{name}: {}",
                sentence(&e)
            ))
        })
}

/// Every BreakGlass object.
pub async fn list_switches(client: &Client) -> Result<Vec<BreakGlass>, SwitchError> {
    let api: Api<BreakGlass> = Api::all(client.clone());
    api.list(&Default::default())
        .await
        .map(|l| l.items)
        .map_err(|e| SwitchError(format!("listing BreakGlass: {}", sentence(&e))))
}

/// Mitigations still Proposed, Pending or Applied, as `namespace/name`: what revert-all must
/// end.
pub async fn active_mitigations(client: &Client) -> Result<Vec<String>, SwitchError> {
    use rampart_api::{Mitigation, MitigationPhase};
    let api: Api<Mitigation> = Api::all(client.clone());
    let all = api
        .list(&Default::default())
        .await
        .map_err(|e| SwitchError(format!("listing Mitigations: {}", sentence(&e))))?;
    Ok(all
        .items
        .iter()
        .filter(|m| {
            m.status.as_ref().is_none_or(|s| {
                matches!(
                    s.phase,
                    MitigationPhase::Proposed | MitigationPhase::Pending | MitigationPhase::Applied
                )
            })
        })
        .map(|m| {
            format!(
                "{}/{}",
                m.metadata.namespace.as_deref().unwrap_or(""),
                m.metadata.name.as_deref().unwrap_or("")
            )
        })
        .collect())
}
