//! Watches every kind the model knows and turns the streams into [`ClusterEvent`]s for the
//! engine, read-only. Secrets are watched as metadata only (their values never leave the API
//! server).

use futures_util::StreamExt;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PartialObjectMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use rampart_model::{Kind, Located, Object, ObjectKey, object_from_value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Something the cluster watchers saw.
#[derive(Debug, Clone)]
pub enum ClusterEvent {
    /// An object was added or changed.
    Upsert(Box<Located<Object>>),
    /// An object was deleted.
    Delete(ObjectKey),
    /// A (re)list of one kind completed: these are all its objects (replace what is held).
    Relisted(Kind, Vec<Located<Object>>),
    /// A watch failed (kind, message); it retries with backoff (a relist follows an expired
    /// version). `forbidden`: the API server refused access (403), so retrying will not help
    /// until RBAC changes.
    Error {
        /// The kind (or extra kind) watched.
        kind: String,
        /// What failed, as a sentence.
        message: String,
        /// A 403 from the API server.
        forbidden: bool,
    },
    /// An object of an extra kind ([`EXTRA`]: read by the respond layer or as intel, not part
    /// of the model) was added or changed (the whole object).
    ExtraUpsert(&'static str, serde_json::Value),
    /// An extra object was deleted: kind, namespace and name.
    ExtraDeleted(&'static str, String, String),
    /// The extra kind was (re)listed: all of its objects.
    ExtraRelisted(&'static str, Vec<serde_json::Value>),
}

/// Extra kinds: (kind, group, version).
pub const EXTRA: &[(&str, &str, &str)] = &[
    ("VulnerabilityReport", "aquasecurity.github.io", "v1alpha1"),
    ("PodDisruptionBudget", "policy", "v1"),
];

/// Watches one extra kind (whole objects) until `cancel`. Errors (a CRD not installed, no
/// permission) are reported and retried with backoff, as for every other watch.
pub async fn watch_extra(
    client: Client,
    kind: &'static str,
    tx: mpsc::Sender<ClusterEvent>,
    cancel: CancellationToken,
) {
    let Some(&(_, group, version)) = EXTRA.iter().find(|e| e.0 == kind) else {
        return;
    };
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let api: Api<DynamicObject> = Api::all_with(client, &ar);
    let stream = watcher::watcher(api, watcher::Config::default().page_size(LIST_PAGE))
        .default_backoff()
        .boxed();
    let value = |o: DynamicObject| {
        let mut v = serde_json::to_value(o).ok()?;
        if let Some(m) = v.as_object_mut() {
            m.insert("kind".into(), kind.into());
        }
        Some(v)
    };
    pump(
        kind.to_string(),
        stream,
        value,
        |all| ClusterEvent::ExtraRelisted(kind, all),
        |v| ClusterEvent::ExtraUpsert(kind, v),
        |o: &DynamicObject| {
            Some(ClusterEvent::ExtraDeleted(
                kind,
                o.metadata.namespace.clone().unwrap_or_default(),
                o.metadata.name.clone().unwrap_or_default(),
            ))
        },
        tx,
        cancel,
    )
    .await;
}

/// The kinds watched, with their API group/version.
pub const WATCHED: &[(Kind, &str, &str, &str)] = &[
    (Kind::Namespace, "", "v1", "Namespace"),
    (Kind::Node, "", "v1", "Node"),
    (Kind::Pod, "", "v1", "Pod"),
    (Kind::Service, "", "v1", "Service"),
    (Kind::ServiceAccount, "", "v1", "ServiceAccount"),
    (
        Kind::ReplicationController,
        "",
        "v1",
        "ReplicationController",
    ),
    (Kind::Deployment, "apps", "v1", "Deployment"),
    (Kind::ReplicaSet, "apps", "v1", "ReplicaSet"),
    (Kind::StatefulSet, "apps", "v1", "StatefulSet"),
    (Kind::DaemonSet, "apps", "v1", "DaemonSet"),
    (Kind::Job, "batch", "v1", "Job"),
    (Kind::CronJob, "batch", "v1", "CronJob"),
    (Kind::Ingress, "networking.k8s.io", "v1", "Ingress"),
    (
        Kind::NetworkPolicy,
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
    ),
    (Kind::Role, "rbac.authorization.k8s.io", "v1", "Role"),
    (
        Kind::ClusterRole,
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
    ),
    (
        Kind::RoleBinding,
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
    ),
    (
        Kind::ClusterRoleBinding,
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
    ),
];

/// Modelled kinds whose API a cluster may not serve (CRDs, alpha APIs): probed once at start
/// with a one-item list; watched like [`WATCHED`] when served, and taken as having no objects
/// (an empty relist) when the API server answers 404. An API installed later is picked up at
/// the next restart.
pub const OPTIONAL: &[(Kind, &str, &str, &str)] = &[
    (
        Kind::AdminNetworkPolicy,
        "policy.networking.k8s.io",
        "v1alpha1",
        "AdminNetworkPolicy",
    ),
    (
        Kind::BaselineAdminNetworkPolicy,
        "policy.networking.k8s.io",
        "v1alpha1",
        "BaselineAdminNetworkPolicy",
    ),
    (
        Kind::CiliumNetworkPolicy,
        "cilium.io",
        "v2",
        "CiliumNetworkPolicy",
    ),
    (
        Kind::CiliumClusterwideNetworkPolicy,
        "cilium.io",
        "v2",
        "CiliumClusterwideNetworkPolicy",
    ),
    (
        Kind::IstioAuthorizationPolicy,
        "security.istio.io",
        "v1",
        "AuthorizationPolicy",
    ),
    (
        Kind::PeerAuthentication,
        "security.istio.io",
        "v1",
        "PeerAuthentication",
    ),
    (
        Kind::LinkerdServer,
        "policy.linkerd.io",
        "v1beta3",
        "Server",
    ),
    (
        Kind::ServerAuthorization,
        "policy.linkerd.io",
        "v1beta1",
        "ServerAuthorization",
    ),
    (
        Kind::LinkerdAuthorizationPolicy,
        "policy.linkerd.io",
        "v1alpha1",
        "AuthorizationPolicy",
    ),
    (
        Kind::MeshTlsAuthentication,
        "policy.linkerd.io",
        "v1alpha1",
        "MeshTLSAuthentication",
    ),
    (
        Kind::NetworkAuthentication,
        "policy.linkerd.io",
        "v1alpha1",
        "NetworkAuthentication",
    ),
];

fn to_model(
    mut v: serde_json::Value,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<Located<Object>> {
    if let Some(o) = v.as_object_mut() {
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        o.insert("apiVersion".into(), api_version.into());
        o.insert("kind".into(), kind.into());
    }
    // One origin shared by every watched object (an own copy was a heap block per object).
    static WATCH: std::sync::LazyLock<std::sync::Arc<str>> =
        std::sync::LazyLock::new(|| std::sync::Arc::from("watch"));
    match object_from_value(WATCH.clone(), &v) {
        Ok(o) => o,
        Err(e) => {
            tracing::debug!("skipping an unparsable {kind}: {e}");
            None
        }
    }
}

async fn forward<K, S>(
    kind: Kind,
    stream: S,
    convert: impl Fn(K) -> Option<Located<Object>>,
    key: impl Fn(&K) -> Option<ObjectKey>,
    tx: mpsc::Sender<ClusterEvent>,
    cancel: CancellationToken,
) where
    S: futures_util::Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
{
    pump(
        format!("{kind:?}"),
        stream,
        convert,
        |all| ClusterEvent::Relisted(kind, all),
        |m| ClusterEvent::Upsert(Box::new(m)),
        |o| key(o).map(ClusterEvent::Delete),
        tx,
        cancel,
    )
    .await;
}

/// One watch stream turned into cluster events until `cancel`: the initial list (and every
/// relist) gathered into one event, then each change; errors reported (the watcher retries).
#[allow(clippy::too_many_arguments)]
async fn pump<K, T, S>(
    label: String,
    stream: S,
    convert: impl Fn(K) -> Option<T>,
    relisted: impl Fn(Vec<T>) -> ClusterEvent,
    applied: impl Fn(T) -> ClusterEvent,
    deleted: impl Fn(&K) -> Option<ClusterEvent>,
    tx: mpsc::Sender<ClusterEvent>,
    cancel: CancellationToken,
) where
    S: futures_util::Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
{
    let failed = move |e: &watcher::Error| ClusterEvent::Error {
        kind: label.clone(),
        forbidden: is_forbidden(e),
        message: e.to_string(),
    };
    pump_events(
        stream, convert, relisted, applied, deleted, failed, tx, cancel,
    )
    .await;
}

/// The loop of [`pump`], for any kind of event (the live audit's too).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn pump_events<K, T, E, S>(
    mut stream: S,
    convert: impl Fn(K) -> Option<T>,
    relisted: impl Fn(Vec<T>) -> E,
    applied: impl Fn(T) -> E,
    deleted: impl Fn(&K) -> Option<E>,
    failed: impl Fn(&watcher::Error) -> E,
    tx: mpsc::Sender<E>,
    cancel: CancellationToken,
) where
    S: futures_util::Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
{
    let mut relist: Vec<T> = Vec::new();
    loop {
        let event = tokio::select! {
            () = cancel.cancelled() => return,
            e = stream.next() => e,
        };
        let out = match event {
            None => return,
            Some(Err(e)) => Some(failed(&e)),
            Some(Ok(Event::Init)) => {
                relist.clear();
                None
            }
            Some(Ok(Event::InitApply(o))) => {
                relist.extend(convert(o));
                None
            }
            Some(Ok(Event::InitDone)) => Some(relisted(std::mem::take(&mut relist))),
            Some(Ok(Event::Apply(o))) => convert(o).map(&applied),
            Some(Ok(Event::Delete(o))) => deleted(&o),
        };
        if let Some(ev) = out
            && tx.send(ev).await.is_err()
        {
            return;
        }
    }
}

/// Objects per page of the initial lists. A connection keeps the read buffer its largest
/// response grew, and the watch that follows a list keeps its connection: pages of kube's
/// default 500 pods left ~1 MB buffers behind on each (engine RSS at 10k pods 97 → 91 MiB with
/// 100). A hundred pods a page costs a request per hundred objects, a few ms each.
const LIST_PAGE: u32 = 100;

/// Watches one modelled kind until `cancel`.
async fn watch_kind(
    client: Client,
    (kind, group, version, name): (Kind, &'static str, &'static str, &'static str),
    tx: mpsc::Sender<ClusterEvent>,
    cancel: CancellationToken,
) {
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, name));
    let api: Api<DynamicObject> = Api::all_with(client, &ar);
    let stream = watcher::watcher(api, watcher::Config::default().page_size(LIST_PAGE))
        .default_backoff()
        .boxed();
    forward(
        kind,
        stream,
        move |o: DynamicObject| to_model(serde_json::to_value(o).ok()?, group, version, name),
        move |o: &DynamicObject| {
            Some(ObjectKey {
                kind,
                namespace: o.metadata.namespace.clone().unwrap_or_default(),
                name: o.metadata.name.clone()?,
            })
        },
        tx,
        cancel,
    )
    .await;
}

/// Watches an [`OPTIONAL`] kind when the API server serves it; otherwise reports it listed
/// with no objects.
async fn watch_optional(
    client: Client,
    kind: (Kind, &'static str, &'static str, &'static str),
    tx: mpsc::Sender<ClusterEvent>,
    cancel: CancellationToken,
) {
    let (k, group, version, name) = kind;
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, name));
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let one = kube::api::ListParams::default().limit(1);
    let probe = tokio::select! {
        () = cancel.cancelled() => return,
        r = api.list_metadata(&one) => r,
    };
    if let Err(kube::Error::Api(status)) = &probe
        && status.code == 404
    {
        tracing::info!(
            kind = name,
            api = %format!("{group}/{version}"),
            "not served by this API server: none modelled (restart rampart once it is)"
        );
        let _ = tx.send(ClusterEvent::Relisted(k, Vec::new())).await;
        return;
    }
    // Served (or failing otherwise: the watch reports and retries like every other).
    watch_kind(client, kind, tx, cancel).await;
}

/// Watches every kind in [`WATCHED`] and [`OPTIONAL`] plus Secrets (metadata only) until
/// `cancel`.
pub async fn watch_cluster(
    client: Client,
    tx: mpsc::Sender<ClusterEvent>,
    cancel: CancellationToken,
) {
    let mut tasks = Vec::new();
    for &kind in WATCHED {
        let (client, tx, cancel) = (client.clone(), tx.clone(), cancel.clone());
        tasks.push(tokio::spawn(watch_kind(client, kind, tx, cancel)));
    }
    for &kind in OPTIONAL {
        let (client, tx, cancel) = (client.clone(), tx.clone(), cancel.clone());
        tasks.push(tokio::spawn(watch_optional(client, kind, tx, cancel)));
    }
    // Secrets: metadata only.
    {
        // `Api<PartialObjectMeta<_>>` makes metadata-only requests.
        let api: Api<PartialObjectMeta<k8s_openapi::api::core::v1::Secret>> = Api::all(client);
        let stream = watcher::watcher(api, watcher::Config::default().page_size(LIST_PAGE))
            .default_backoff()
            .boxed();
        let (tx, cancel) = (tx.clone(), cancel.clone());
        tasks.push(tokio::spawn(async move {
            forward(
                Kind::Secret,
                stream,
                |o: PartialObjectMeta<k8s_openapi::api::core::v1::Secret>| {
                    to_model(
                        serde_json::json!({"metadata": o.metadata}),
                        "",
                        "v1",
                        "Secret",
                    )
                },
                |o: &PartialObjectMeta<k8s_openapi::api::core::v1::Secret>| {
                    Some(ObjectKey {
                        kind: Kind::Secret,
                        namespace: o.metadata.namespace.clone().unwrap_or_default(),
                        name: o.metadata.name.clone()?,
                    })
                },
                tx,
                cancel,
            )
            .await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Whether a watch error is the API server refusing access (HTTP 403), read from the status,
/// never from the message's text.
fn is_forbidden(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(k)
        | watcher::Error::WatchStartFailed(k)
        | watcher::Error::WatchFailed(k) => matches!(k, kube::Error::Api(s) if s.code == 403),
        watcher::Error::WatchError(s) => s.code == 403,
        watcher::Error::NoResourceVersion => false,
    }
}
