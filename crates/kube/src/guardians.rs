//! What `rampart learner` reads and writes: gate identities (a TokenReview of the gate's
//! projected ServiceAccount token, then its pod's labels), the Guardians (watched into a
//! cache), and the learned criteria (a patch of a Guardian's `status` only — the spec is the
//! operator's).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use futures_util::StreamExt;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use rampart_api::{Guardian, GuardianSpec, GuardianStatus};
use tokio_util::sync::CancellationToken;

use crate::{Seen, each, sentence};

/// The API server's extra field naming the pod a bound token belongs to.
const POD_NAME: &str = "authentication.kubernetes.io/pod-name";
const POD_UID: &str = "authentication.kubernetes.io/pod-uid";

/// A gate, as the API server vouches for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateIdentity {
    pub namespace: String,
    pub service_account: String,
    pub pod: String,
    pub pod_uid: Option<String>,
}

/// Why a gate's token does not identify it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("the token is not valid for audience {audience:?}{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Unauthenticated {
        audience: String,
        reason: Option<String>,
    },
    #[error("the token is not a pod's ServiceAccount token ({0})")]
    NotAPod(String),
    #[error("the token's pod {0} is gone or was replaced")]
    PodGone(String),
    #[error("asking the API server: {0}")]
    Api(String),
}

/// Reviews `token` for `audience`: who it belongs to, down to the pod (a bound, projected
/// token names its pod; a legacy Secret token does not and is refused).
pub async fn review_token(
    client: &Client,
    token: &str,
    audience: &str,
) -> Result<GateIdentity, ReviewError> {
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: token.to_string(),
            audiences: Some(vec![audience.to_string()]),
        },
        ..TokenReview::default()
    };
    let api: Api<TokenReview> = Api::all(client.clone());
    let out = api
        .create(&PostParams::default(), &review)
        .await
        .map_err(|e| ReviewError::Api(sentence(&e)))?;
    let status = out.status.unwrap_or_default();
    let for_us = status
        .audiences
        .as_ref()
        .is_none_or(|a| a.iter().any(|x| x == audience));
    if status.authenticated != Some(true) || !for_us {
        return Err(ReviewError::Unauthenticated {
            audience: audience.into(),
            reason: status.error.filter(|e| !e.is_empty()),
        });
    }
    let user = status.user.unwrap_or_default();
    let name = user.username.unwrap_or_default();
    let Some(rest) = name.strip_prefix("system:serviceaccount:") else {
        return Err(ReviewError::NotAPod(name));
    };
    let Some((namespace, sa)) = rest.split_once(':') else {
        return Err(ReviewError::NotAPod(name));
    };
    let extra = user.extra.unwrap_or_default();
    let first = |k: &str| extra.get(k).and_then(|v| v.first()).cloned();
    let Some(pod) = first(POD_NAME) else {
        return Err(ReviewError::NotAPod(format!(
            "{name} without a bound pod: use a projected token"
        )));
    };
    Ok(GateIdentity {
        namespace: namespace.into(),
        service_account: sa.into(),
        pod,
        pod_uid: first(POD_UID),
    })
}

/// The labels of the gate's pod, checked to be the pod the token was bound to (same UID).
pub async fn pod_labels(
    client: &Client,
    id: &GateIdentity,
) -> Result<BTreeMap<String, String>, ReviewError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &id.namespace);
    let gone = || ReviewError::PodGone(format!("{}/{}", id.namespace, id.pod));
    let pod = match api.get_opt(&id.pod).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(gone()),
        Err(e) => return Err(ReviewError::Api(sentence(&e))),
    };
    if let Some(uid) = &id.pod_uid
        && pod.metadata.uid.as_ref() != Some(uid)
    {
        return Err(gone());
    }
    Ok(pod.metadata.labels.unwrap_or_default())
}

/// Every Guardian in the cluster, kept current by a watch.
#[derive(Clone, Default)]
pub struct GuardianCache {
    all: Arc<RwLock<BTreeMap<(String, String), Guardian>>>,
    ready: Arc<AtomicBool>,
    /// Bumped on every change, so a reader copies only what changed.
    generation: Arc<std::sync::atomic::AtomicU64>,
}

impl GuardianCache {
    /// Whether the first list finished (and no watch failure since).
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The Guardians of `namespace`.
    pub fn in_namespace(&self, namespace: &str) -> Vec<Guardian> {
        let all = self.all.read().unwrap_or_else(|e| e.into_inner());
        all.range((namespace.to_string(), String::new())..)
            .take_while(|((ns, _), _)| ns == namespace)
            .map(|(_, g)| g.clone())
            .collect()
    }

    /// One Guardian.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Guardian> {
        let all = self.all.read().unwrap_or_else(|e| e.into_inner());
        all.get(&(namespace.to_string(), name.to_string())).cloned()
    }

    /// How many changes the cache has seen.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Every cached Guardian, by namespace and name.
    pub fn all(&self) -> Vec<Guardian> {
        self.all
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// How many are cached.
    pub fn len(&self) -> usize {
        self.all.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn key(g: &Guardian) -> Option<(String, String)> {
        Some((g.metadata.namespace.clone()?, g.metadata.name.clone()?))
    }

    fn put(&self, g: Guardian) {
        if let Some(k) = Self::key(&g) {
            self.all
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(k, g);
            self.changed();
        }
    }

    fn remove(&self, g: &Guardian) {
        if let Some(k) = Self::key(g) {
            self.all
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&k);
            self.changed();
        }
    }
}

/// A stored Guardian as the Rust type, or `None` when it no longer fits (skipped, logged).
fn guardian(o: &DynamicObject) -> Option<Guardian> {
    let v = serde_json::to_value(o).ok()?;
    match serde_json::from_value::<Guardian>(v) {
        Ok(g) => Some(g),
        Err(e) => {
            tracing::warn!(
                namespace = o.metadata.namespace.as_deref().unwrap_or(""),
                name = o.metadata.name.as_deref().unwrap_or(""),
                "a stored Guardian does not fit rampart's type and is ignored: {e}"
            );
            None
        }
    }
}

/// Watches every Guardian into `cache` until `cancel` (relisting after a failure; the cache
/// is not ready while a watch is down).
pub async fn watch_guardians(client: Client, cache: GuardianCache, cancel: CancellationToken) {
    let ar = ApiResource::erase::<Guardian>(&());
    let api: Api<DynamicObject> = Api::all_with(client, &ar);
    let make = || watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    each(make, cancel, |seen| match seen {
        Seen::Failed(e) => {
            cache.ready.store(false, Ordering::Relaxed);
            tracing::warn!("watching Guardians: {e}");
        }
        Seen::Relisted(all) => {
            let fresh: BTreeMap<_, _> = all
                .iter()
                .filter_map(guardian)
                .filter_map(|g| Some((GuardianCache::key(&g)?, g)))
                .collect();
            *cache.all.write().unwrap_or_else(|e| e.into_inner()) = fresh;
            cache.changed();
            cache.ready.store(true, Ordering::Relaxed);
        }
        Seen::Applied(o) => {
            if let Some(g) = guardian(&o) {
                cache.put(g);
            }
        }
        Seen::Deleted(o) => {
            if let Some(g) = guardian(&o) {
                cache.remove(&g);
            }
        }
    })
    .await;
}

/// The field manager of the learner's writes.
pub const LEARNER_MANAGER: &str = "rampart-learner";

/// Writes `status` to the Guardian `namespace/name` (the status subresource: the spec is
/// never touched). A service without a Guardian gets one with an empty spec first (it then
/// follows its namespace's default), labelled as the learner's.
pub async fn write_status(
    client: &Client,
    namespace: &str,
    name: &str,
    status: &GuardianStatus,
) -> Result<(), String> {
    let api: Api<Guardian> = Api::namespaced(client.clone(), namespace);
    let patch = serde_json::json!({"status": status});
    let params = PatchParams::default();
    match api.patch_status(name, &params, &Patch::Merge(&patch)).await {
        Ok(_) => return Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(sentence(&e)),
    }
    let mut g = Guardian::new(name, GuardianSpec::default());
    g.metadata.namespace = Some(namespace.into());
    g.metadata.labels = Some(BTreeMap::from([(
        "app.kubernetes.io/managed-by".to_string(),
        LEARNER_MANAGER.to_string(),
    )]));
    let pp = PostParams {
        field_manager: Some(LEARNER_MANAGER.into()),
        ..PostParams::default()
    };
    match api.create(&pp, &g).await {
        Ok(_) => {}
        // Made meanwhile (another learner replica, an operator): patch it.
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(sentence(&e)),
    }
    api.patch_status(name, &params, &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| sentence(&e))
}
