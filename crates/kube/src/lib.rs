//! rampart's only door to the Kubernetes API (kube-rs). Watchers turn list/watch streams into
//! plain events for the pure core; nothing here decides anything.
//!
//! [`watch_admission_sources`] keeps the webhook's inputs current: Namespace labels and
//! SecurityPolicy / ClusterSecurityPolicy objects, read-only. kube-runtime's watcher relists on
//! `410 Gone` and after errors (with backoff); a relist *replaces* what the sink holds, so the
//! sink converges on the cluster's state whatever was missed.

pub mod actuate;
pub mod cluster;
pub mod leader;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use rampart_api::{ClusterSecurityPolicy, SecurityPolicy};
use rampart_policy::review::NamedPolicy;
use rampart_policy::source::{PolicyError, policy_from_value};
use tokio_util::sync::CancellationToken;

/// Labels of a namespace.
pub type Labels = BTreeMap<String, String>;

/// Which watch an event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Namespaces.
    Namespaces,
    /// SecurityPolicies (all namespaces).
    SecurityPolicies,
    /// ClusterSecurityPolicies.
    ClusterSecurityPolicies,
}

impl Source {
    /// Name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Namespaces => "namespaces",
            Source::SecurityPolicies => "securitypolicies",
            Source::ClusterSecurityPolicies => "clustersecuritypolicies",
        }
    }
    fn policy_kind(self) -> &'static str {
        match self {
            Source::ClusterSecurityPolicies => "ClusterSecurityPolicy",
            _ => "SecurityPolicy",
        }
    }
}

/// Where watch events go (the webhook's state, a test recorder).
pub trait AdmissionSink: Send + Sync + 'static {
    /// A (re)list finished: these are all the namespaces.
    fn replace_namespaces(&self, all: BTreeMap<String, Labels>);
    /// A namespace was added or changed.
    fn apply_namespace(&self, name: String, labels: Labels);
    /// A namespace was deleted.
    fn delete_namespace(&self, name: &str);
    /// A (re)list finished: these are all the valid policies of `kind`.
    fn replace_policies(&self, kind: &'static str, all: Vec<NamedPolicy>);
    /// A policy was added or changed.
    fn apply_policy(&self, policy: NamedPolicy);
    /// A policy was deleted (or became invalid).
    fn delete_policy(&self, kind: &'static str, namespace: Option<&str>, name: &str);
    /// A stored policy is invalid (the webhook should have refused it; it is ignored).
    fn invalid_policy(&self, error: PolicyError);
    /// The first list of `source` is complete.
    fn synced(&self, source: Source);
    /// The watch failed; it retries with backoff.
    fn watch_error(&self, source: Source, error: String);
}

fn namespace_labels(ns: &Namespace) -> (String, Labels) {
    let name = ns.metadata.name.clone().unwrap_or_default();
    let mut labels = ns.metadata.labels.clone().unwrap_or_default();
    labels.insert("kubernetes.io/metadata.name".into(), name.clone());
    (name, labels)
}

fn policy(obj: &DynamicObject, kind: &'static str) -> Option<Result<NamedPolicy, PolicyError>> {
    let mut v = serde_json::to_value(obj).ok()?;
    // Watch items of a typed list may come without kind/apiVersion.
    if let Some(o) = v.as_object_mut() {
        o.insert("apiVersion".into(), "rampart.dev/v1alpha1".into());
        o.insert("kind".into(), kind.into());
    }
    policy_from_value(&v, "default")
}

/// A watch's events once relists are gathered: kube-runtime's `Init`, `InitApply`…,
/// `InitDone` become one `Relisted` with every object (and whether it is the first list).
enum Seen<K> {
    Relisted(Vec<K>, bool),
    Applied(K),
    Deleted(K),
    Failed(String),
}

/// Runs a watch stream until `cancel` or its end, handing each [`Seen`] to `f`.
async fn each<K, S>(mut stream: S, cancel: CancellationToken, mut f: impl FnMut(Seen<K>))
where
    S: futures_util::Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
{
    let mut relist: Option<Vec<K>> = None;
    let mut first = true;
    loop {
        let event = tokio::select! {
            () = cancel.cancelled() => return,
            e = stream.next() => e,
        };
        match event {
            None => return,
            Some(Err(e)) => f(Seen::Failed(e.to_string())),
            Some(Ok(Event::Init)) => relist = Some(Vec::new()),
            Some(Ok(Event::InitApply(o))) => relist.get_or_insert_with(Vec::new).push(o),
            Some(Ok(Event::InitDone)) => {
                f(Seen::Relisted(relist.take().unwrap_or_default(), first));
                first = false;
            }
            Some(Ok(Event::Apply(o))) => f(Seen::Applied(o)),
            Some(Ok(Event::Delete(o))) => f(Seen::Deleted(o)),
        }
    }
}

async fn watch_namespaces(client: Client, sink: Arc<dyn AdmissionSink>, cancel: CancellationToken) {
    let api: Api<Namespace> = Api::all(client);
    let stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    each(stream, cancel, |seen| match seen {
        Seen::Failed(e) => sink.watch_error(Source::Namespaces, e),
        Seen::Relisted(all, first) => {
            sink.replace_namespaces(all.iter().map(namespace_labels).collect());
            if first {
                sink.synced(Source::Namespaces);
            }
        }
        Seen::Applied(ns) => {
            let (name, labels) = namespace_labels(&ns);
            sink.apply_namespace(name, labels);
        }
        Seen::Deleted(ns) => sink.delete_namespace(&namespace_labels(&ns).0),
    })
    .await;
}

async fn watch_policies(
    client: Client,
    source: Source,
    sink: Arc<dyn AdmissionSink>,
    cancel: CancellationToken,
) {
    // Dynamic objects: a stored policy that no longer fits the Rust type must not stop the
    // watch; it is reported and skipped.
    let kind = source.policy_kind();
    let ar = match source {
        Source::ClusterSecurityPolicies => ApiResource::erase::<ClusterSecurityPolicy>(&()),
        _ => ApiResource::erase::<SecurityPolicy>(&()),
    };
    let api: Api<DynamicObject> = Api::all_with(client, &ar);
    let stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let delete = |o: &DynamicObject| {
        sink.delete_policy(
            kind,
            o.metadata.namespace.as_deref(),
            o.metadata.name.as_deref().unwrap_or(""),
        )
    };
    each(stream, cancel, |seen| match seen {
        Seen::Failed(e) => sink.watch_error(source, e),
        Seen::Relisted(all, first) => {
            let mut valid = Vec::new();
            for o in &all {
                match policy(o, kind) {
                    Some(Ok(p)) => valid.push(p),
                    Some(Err(e)) => sink.invalid_policy(e),
                    None => {}
                }
            }
            sink.replace_policies(kind, valid);
            if first {
                sink.synced(source);
            }
        }
        Seen::Applied(o) => match policy(&o, kind) {
            Some(Ok(p)) => sink.apply_policy(p),
            Some(Err(e)) => {
                delete(&o);
                sink.invalid_policy(e);
            }
            None => {}
        },
        Seen::Deleted(o) => delete(&o),
    })
    .await;
}

/// Watches Namespaces, SecurityPolicies and ClusterSecurityPolicies until `cancel`.
pub async fn watch_admission_sources(
    client: Client,
    sink: Arc<dyn AdmissionSink>,
    cancel: CancellationToken,
) {
    let tasks = [
        tokio::spawn(watch_namespaces(
            client.clone(),
            sink.clone(),
            cancel.clone(),
        )),
        tokio::spawn(watch_policies(
            client.clone(),
            Source::SecurityPolicies,
            sink.clone(),
            cancel.clone(),
        )),
        tokio::spawn(watch_policies(
            client,
            Source::ClusterSecurityPolicies,
            sink,
            cancel.clone(),
        )),
    ];
    for t in tasks {
        if let Err(e) = t.await {
            tracing::error!("watch task ended abnormally: {e}");
        }
    }
}
