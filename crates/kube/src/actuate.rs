//! The `networkpolicy` actuator and the ledger's storage: Mitigation custom resources and the
//! NetworkPolicies they own. The Mitigation lives in the namespace of the object it applies, so
//! its ownerReference is valid (owners must share the namespace) and garbage collection removes
//! the object if the record is ever deleted: nothing rampart applies is orphaned.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use rampart_api::{Mitigation, MitigationStatus};
use rampart_respond::MANAGED_BY_LABEL;
use rampart_respond::reconcile::ManagedObject;
use tokio_util::sync::CancellationToken;

use crate::access::Access;

/// What the engine may not do: what blocks acting, and what only keeps Events from being
/// recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Missing for acting (the engine runs dry-run without them).
    pub acting: Vec<String>,
    /// Missing for recording Events.
    pub events: Vec<String>,
}

/// A failed write, with the API's reason as a sentence.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", crate::sentence(source))]
pub struct WriteError {
    /// What was being written.
    pub what: String,
    /// The API error.
    #[source]
    pub source: kube::Error,
}

fn err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> WriteError {
    let what = what.into();
    move |source| WriteError { what, source }
}

/// Creates a mitigation's object. Already there (applied before a crash) is applied — but only
/// if it is this mitigation's: a same-named object someone else owns is never taken over (nor
/// later deleted).
async fn create_owned<K>(
    api: &Api<K>,
    obj: &K,
    what: &str,
    mitigation: &str,
) -> Result<(), WriteError>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    match api.create(&PostParams::default(), obj).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let existing = api
                .get(&name)
                .await
                .map_err(err(format!("reading {what}")))?;
            let ours = existing
                .meta()
                .labels
                .as_ref()
                .and_then(|l| l.get(MANAGED_BY_LABEL))
                .is_some_and(|v| v == mitigation);
            if ours {
                Ok(())
            } else {
                Err(WriteError {
                    what: format!("{what} exists and is not this mitigation's; not overwriting it"),
                    source: kube::Error::Api(e),
                })
            }
        }
        Err(e) => Err(err(format!("applying {what}"))(e)),
    }
}

/// The longest the ledger keeps one of its own writes over the watch's copy (bounds the
/// overlay if the watch never delivers it).
const OWN_WRITE_WINDOW: Duration = Duration::from_secs(600);

/// After a watch failure, how long reads list the ledger instead of trusting the watch's copy.
const STALE_AFTER_ERROR: Duration = Duration::from_secs(30);

/// One of the engine's own writes the watch has not delivered yet: when it was made, the
/// resourceVersions older than it (the watch's copy when the first of a run of writes was made
/// — `None`: absent — and the earlier writes of the run), and the object written (`None`: a
/// deletion).
struct OwnWrite {
    at: Instant,
    older: Vec<Option<String>>,
    written: Option<Mitigation>,
}

type Overlay = BTreeMap<(String, String), OwnWrite>;

/// Writes mitigations and their objects, and reads the ledger from a watch (after a
/// [`Ledger::watch`]) instead of listing it every round.
#[derive(Clone)]
pub struct Ledger {
    client: Client,
    store: Option<Store<Mitigation>>,
    own: Arc<Mutex<Overlay>>,
    /// When the watch last failed (its copy may be stale for a while).
    failed_at: Arc<Mutex<Option<Instant>>>,
    /// Whether the actuator writes AdminNetworkPolicies: only then are they listed (and
    /// permission to list them asked for).
    admin_network_policies: bool,
}

impl Ledger {
    /// Over a client; `admin_network_policies` when the actuator writes AdminNetworkPolicies.
    pub fn new(client: Client, admin_network_policies: bool) -> Ledger {
        Ledger {
            client,
            store: None,
            own: Arc::default(),
            failed_at: Arc::default(),
            admin_network_policies,
        }
    }

    /// Starts watching the Mitigations (a reflector) until `cancel`; reads come from it.
    pub fn watch(mut self, cancel: CancellationToken) -> Ledger {
        let api: Api<Mitigation> = Api::all(self.client.clone());
        let (reader, writer) = reflector::store();
        let stream = reflector::reflector(
            writer,
            watcher::watcher(api, watcher::Config::default()).default_backoff(),
        );
        let failed_at = self.failed_at.clone();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    e = stream.next() => match e {
                        None => return,
                        Some(Err(e)) => {
                            *failed_at.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(Instant::now());
                            tracing::warn!("watching Mitigations failed, retrying: {e}");
                        }
                        Some(Ok(_)) => {}
                    },
                }
            }
        });
        self.store = Some(reader);
        self
    }

    fn remember(&self, ns: &str, name: &str, written: Option<Mitigation>) {
        let Some(store) = &self.store else { return };
        let key = kube::runtime::reflector::ObjectRef::<Mitigation>::new(name).within(ns);
        let seen = store
            .get(&key)
            .and_then(|m| m.metadata.resource_version.clone());
        let mut own = self.own.lock().unwrap_or_else(|e| e.into_inner());
        // A write before the watch delivered the previous one: everything up to that one is
        // older.
        let older = match own.get(&(ns.to_string(), name.to_string())) {
            Some(earlier) => {
                let mut o = earlier.older.clone();
                o.push(
                    earlier
                        .written
                        .as_ref()
                        .and_then(|m| m.metadata.resource_version.clone()),
                );
                o
            }
            None => vec![seen],
        };
        own.insert(
            (ns.to_string(), name.to_string()),
            OwnWrite {
                at: Instant::now(),
                older,
                written,
            },
        );
    }

    /// Records a new mitigation (before anything is applied).
    pub async fn record(&self, m: &Mitigation) -> Result<Mitigation, WriteError> {
        let ns = m.metadata.namespace.clone().unwrap_or_default();
        let name = m.metadata.name.clone().unwrap_or_default();
        let api: Api<Mitigation> = Api::namespaced(self.client.clone(), &ns);
        let created = api
            .create(&PostParams::default(), m)
            .await
            .map_err(err(format!("recording Mitigation {ns}/{name}")))?;
        self.remember(&ns, &name, Some(created.clone()));
        Ok(created)
    }

    /// Writes a mitigation's status.
    pub async fn set_status(
        &self,
        ns: &str,
        name: &str,
        status: &MitigationStatus,
    ) -> Result<(), WriteError> {
        let api: Api<Mitigation> = Api::namespaced(self.client.clone(), ns);
        let patched = api
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({ "status": status })),
            )
            .await
            .map_err(err(format!(
                "updating the status of Mitigation {ns}/{name}"
            )))?;
        self.remember(ns, name, Some(patched));
        Ok(())
    }

    /// Applies the mitigation's NetworkPolicy, labelled and owned by the mitigation.
    pub async fn apply(&self, m: &Mitigation) -> Result<(), WriteError> {
        let ns = m.metadata.namespace.clone().unwrap_or_default();
        let name = m.metadata.name.clone().unwrap_or_default();
        if m.spec.action == rampart_api::ActionKind::Terminate {
            return self
                .delete_pod(&ns, &m.spec.target.name, &m.spec.target.uid)
                .await;
        }
        if m.spec.action == rampart_api::ActionKind::AdminNetworkPolicy {
            return self.apply_anp(m, &ns, &name).await;
        }
        let mut np: NetworkPolicy =
            serde_json::from_value(m.spec.object.clone()).map_err(|e| WriteError {
                what: format!("Mitigation {ns}/{name}: its object is not a NetworkPolicy"),
                source: kube::Error::SerdeError(e),
            })?;
        np.metadata.namespace = Some(ns.clone());
        np.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(MANAGED_BY_LABEL.into(), name.clone());
        np.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "rampart.dev/v1alpha1".into(),
            kind: "Mitigation".into(),
            name: name.clone(),
            uid: m.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
        let api: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), &ns);
        let np_name = np.metadata.name.clone().unwrap_or_default();
        create_owned(&api, &np, &format!("NetworkPolicy {ns}/{np_name}"), &name).await?;
        if m.spec.action == rampart_api::ActionKind::Isolate {
            let uid = m.metadata.uid.clone().unwrap_or_default();
            self.quarantine_pod(&ns, &m.spec.target.name, &m.spec.target.uid, &name, &uid)
                .await?;
        }
        Ok(())
    }

    fn anp_api(&self) -> Api<kube::api::DynamicObject> {
        let ar = kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "policy.networking.k8s.io",
            "v1alpha1",
            "AdminNetworkPolicy",
        ));
        Api::all_with(self.client.clone(), &ar)
    }

    /// Applies a cluster-scoped AdminNetworkPolicy. A cluster-scoped object cannot be owned by
    /// a namespaced Mitigation, so it is tracked by its label (and the Mitigation's namespace
    /// in an annotation) and by start-up reconciliation.
    async fn apply_anp(&self, m: &Mitigation, ns: &str, name: &str) -> Result<(), WriteError> {
        let mut obj = m.spec.object.clone();
        obj["metadata"]["labels"][MANAGED_BY_LABEL] = name.into();
        obj["metadata"]["annotations"]["rampart.dev/mitigation-namespace"] = ns.into();
        let anp_name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        let dynamic: kube::api::DynamicObject =
            serde_json::from_value(obj).map_err(|e| WriteError {
                what: format!("Mitigation {ns}/{name}: its object is not an AdminNetworkPolicy"),
                source: kube::Error::SerdeError(e),
            })?;
        create_owned(
            &self.anp_api(),
            &dynamic,
            &format!("AdminNetworkPolicy {anp_name}"),
            name,
        )
        .await
    }

    /// Moves a pod's labels aside (see `rampart_respond::infected::quarantine_patch`).
    async fn quarantine_pod(
        &self,
        ns: &str,
        pod: &str,
        pod_uid: &str,
        mitigation: &str,
        mitigation_uid: &str,
    ) -> Result<(), WriteError> {
        use k8s_openapi::api::core::v1::Pod;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let current = api
            .get(pod)
            .await
            .map_err(err(format!("reading Pod {ns}/{pod}")))?;
        if !pod_uid.is_empty() && current.metadata.uid.as_deref() != Some(pod_uid) {
            return Err(WriteError {
                what: format!("Pod {ns}/{pod} is not the infected pod any more (another UID)"),
                source: kube::Error::Api(
                    kube::core::Status::failure("uid changed", "Conflict")
                        .with_code(409)
                        .boxed(),
                ),
            });
        }
        let labels = current.metadata.labels.unwrap_or_default();
        if labels
            .get(rampart_respond::infected::QUARANTINE_LABEL)
            .map(String::as_str)
            == Some(mitigation)
        {
            return Ok(()); // quarantined before a crash
        }
        let controller = current
            .metadata
            .owner_references
            .unwrap_or_default()
            .into_iter()
            .find(|o| o.controller == Some(true))
            .map(|o| format!("{}/{}", o.kind, o.name));
        let patch = rampart_respond::infected::quarantine_patch(
            &labels,
            controller.as_deref(),
            mitigation,
            mitigation_uid,
        );
        api.patch(pod, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(err(format!("quarantining Pod {ns}/{pod}")))
    }

    /// Deletes a pod — only the instance with `uid` when given (a same-named successor is
    /// never touched); absent is deleted.
    pub async fn delete_pod(&self, ns: &str, pod: &str, uid: &str) -> Result<(), WriteError> {
        use k8s_openapi::api::core::v1::Pod;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let mut params = DeleteParams::default();
        if !uid.is_empty() {
            params.preconditions = Some(kube::api::Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            });
        }
        match api.delete(pod, &params).await {
            Ok(_) => Ok(()),
            // Gone, or a successor with another UID (the precondition failed): nothing of ours.
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
            Err(e) => Err(err(format!("deleting Pod {ns}/{pod}"))(e)),
        }
    }

    /// Ends the mitigation in the cluster: its NetworkPolicy removed (absent is removed); an
    /// isolated pod deleted (its replacement serves); nothing for a terminated pod.
    pub async fn remove(&self, m: &Mitigation) -> Result<(), WriteError> {
        let ns = m.metadata.namespace.clone().unwrap_or_default();
        if m.spec.action == rampart_api::ActionKind::Isolate {
            self.delete_pod(&ns, &m.spec.target.name, &m.spec.target.uid)
                .await?;
        }
        if m.spec.action == rampart_api::ActionKind::Terminate {
            return Ok(());
        }
        let name = m.spec.object["metadata"]["name"].as_str().unwrap_or("");
        if m.spec.action == rampart_api::ActionKind::AdminNetworkPolicy {
            return self.remove_object("", name).await;
        }
        self.remove_object(&ns, name).await
    }

    /// Removes one object rampart applied (an orphan, or a mitigation's object): a
    /// NetworkPolicy, or with an empty namespace the cluster-scoped AdminNetworkPolicy.
    pub async fn remove_object(&self, ns: &str, name: &str) -> Result<(), WriteError> {
        if ns.is_empty() {
            return match self.anp_api().delete(name, &DeleteParams::default()).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
                Err(e) => Err(err(format!("removing AdminNetworkPolicy {name}"))(e)),
            };
        }
        let api: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), ns);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(err(format!("removing NetworkPolicy {ns}/{name}"))(e)),
        }
    }

    /// What rampart may not do of what acting needs, asked with SelfSubjectAccessReviews for
    /// every verb the engine uses: the ledger (Mitigations and their status, listed and
    /// watched), the objects it applies and removes, the pods it isolates, and the Lease in
    /// `lease_namespace` it must hold to lead. The levers can be trusted only when nothing is
    /// missing. Events are asked for too but do not block acting: they are listed apart.
    pub async fn missing_permissions(
        &self,
        pods: bool,
        anp: bool,
        lease_namespace: &str,
    ) -> Result<Permissions, WriteError> {
        let acting = crate::access::engine_acting(pods, anp, lease_namespace);
        let events = crate::access::engine_events();
        Ok(Permissions {
            acting: self.denied(&acting).await?,
            events: self.denied(&events).await?,
        })
    }

    /// Which of `needed` the API server denies (`verb resource[/sub][ in ns]`).
    async fn denied(&self, needed: &[Access]) -> Result<Vec<String>, WriteError> {
        use k8s_openapi::api::authorization::v1::{
            ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let mut missing = Vec::new();
        for a in needed {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        group: Some(a.group.clone()),
                        resource: Some(a.resource.clone()),
                        subresource: a.subresource.clone(),
                        verb: Some(a.verb.clone()),
                        namespace: a.namespace.clone(),
                        ..ResourceAttributes::default()
                    }),
                    ..SelfSubjectAccessReviewSpec::default()
                },
                ..SelfSubjectAccessReview::default()
            };
            let answer = api
                .create(&PostParams::default(), &review)
                .await
                .map_err(err("asking for permissions"))?;
            if !answer.status.is_some_and(|s| s.allowed) {
                missing.push(a.describe());
            }
        }
        Ok(missing)
    }

    /// Deletes an ended record (absent is deleted).
    pub async fn forget(&self, ns: &str, name: &str) -> Result<(), WriteError> {
        let api: Api<Mitigation> = Api::namespaced(self.client.clone(), ns);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(err(format!("deleting Mitigation {ns}/{name}"))(e)),
        }
        self.remember(ns, name, None);
        Ok(())
    }

    /// Every mitigation, all namespaces: from the watch once it has listed (with this
    /// engine's own writes it has not delivered yet); listed while there is no watch, it has
    /// not listed yet, or it failed in the last [`STALE_AFTER_ERROR`].
    pub async fn mitigations(&self) -> Result<Vec<Mitigation>, WriteError> {
        let stale = self
            .failed_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|t| t.elapsed() < STALE_AFTER_ERROR);
        if let Some(store) = &self.store
            && !stale
            && tokio::time::timeout(Duration::from_secs(5), store.wait_until_ready())
                .await
                .is_ok_and(|r| r.is_ok())
        {
            return Ok(self.with_own_writes(store));
        }
        self.list_mitigations().await
    }

    /// Every mitigation, all namespaces, listed from the API server (what start-up
    /// reconciliation reads: it must not take a record the watch has not delivered for an
    /// orphan's absence).
    pub async fn list_mitigations(&self) -> Result<Vec<Mitigation>, WriteError> {
        let api: Api<Mitigation> = Api::all(self.client.clone());
        api.list(&ListParams::default())
            .await
            .map(|l| l.items)
            .map_err(err("listing Mitigations"))
    }

    /// The watch's copy with this engine's newer writes laid over it. A write stays laid over
    /// until the watch's copy has moved on from what it was when the write was made (the
    /// watch delivered it, or something newer); a deletion, until the copy is gone.
    fn with_own_writes(&self, store: &Store<Mitigation>) -> Vec<Mitigation> {
        let key = |m: &Mitigation| {
            (
                m.metadata.namespace.clone().unwrap_or_default(),
                m.metadata.name.clone().unwrap_or_default(),
            )
        };
        let mut all: BTreeMap<(String, String), Mitigation> = store
            .state()
            .into_iter()
            .map(|m| (key(&m), (*m).clone()))
            .collect();
        let mut own = self.own.lock().unwrap_or_else(|e| e.into_inner());
        own.retain(|k, w| {
            if w.at.elapsed() > OWN_WRITE_WINDOW {
                return false;
            }
            let now_seen = all.get(k).and_then(|m| m.metadata.resource_version.clone());
            let delivered = match &w.written {
                None => now_seen.is_none(),
                Some(m) => {
                    now_seen.is_some()
                        && (now_seen == m.metadata.resource_version || !w.older.contains(&now_seen))
                }
            };
            if delivered {
                return false;
            }
            match &w.written {
                Some(m) => {
                    all.insert(k.clone(), m.clone());
                }
                None => {
                    all.remove(k);
                }
            }
            true
        });
        all.into_values().collect()
    }

    /// Every NetworkPolicy and, when the actuator writes them, AdminNetworkPolicy (key
    /// `/name`) carrying rampart's label (filtered here too: the label is the contract). A
    /// cluster without the AdminNetworkPolicy CRD simply has none. Listing them otherwise would
    /// need a permission the actuator does not (and, refused, would stop reconciliation).
    pub async fn managed_objects(&self) -> Result<Vec<ManagedObject>, WriteError> {
        let mut out = self.managed_network_policies().await?;
        if !self.admin_network_policies {
            return Ok(out);
        }
        match self
            .anp_api()
            .list(&ListParams::default().labels(MANAGED_BY_LABEL))
            .await
        {
            Ok(list) => out.extend(list.items.into_iter().filter_map(|o| {
                // Only what rampart applied: it records the Mitigation's namespace.
                o.metadata
                    .annotations
                    .as_ref()?
                    .get("rampart.dev/mitigation-namespace")?;
                let m = o.metadata.labels.as_ref()?.get(MANAGED_BY_LABEL)?.clone();
                Some(ManagedObject {
                    key: format!("/{}", o.metadata.name.unwrap_or_default()),
                    mitigation: m,
                })
            })),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(err("listing AdminNetworkPolicies")(e)),
        }
        Ok(out)
    }

    async fn managed_network_policies(&self) -> Result<Vec<ManagedObject>, WriteError> {
        let api: Api<NetworkPolicy> = Api::all(self.client.clone());
        let list = api
            .list(&ListParams::default().labels(MANAGED_BY_LABEL))
            .await
            .map_err(err("listing NetworkPolicies"))?;
        Ok(list
            .items
            .into_iter()
            // Only what rampart applied: owned by a Mitigation. An operator's copy of a
            // proposal (or anything else carrying the label) is never rampart's to delete.
            .filter(|np| {
                np.metadata.owner_references.as_ref().is_some_and(|o| {
                    o.iter().any(|r| {
                        r.kind == "Mitigation" && r.api_version.starts_with("rampart.dev/")
                    })
                })
            })
            .filter_map(|np| {
                let m = np.metadata.labels.as_ref()?.get(MANAGED_BY_LABEL)?.clone();
                Some(ManagedObject {
                    key: format!(
                        "{}/{}",
                        np.metadata.namespace.unwrap_or_default(),
                        np.metadata.name.unwrap_or_default()
                    ),
                    mitigation: m,
                })
            })
            .collect())
    }
}
