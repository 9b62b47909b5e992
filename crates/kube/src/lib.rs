//! rampart's only door to the Kubernetes API (kube-rs). Watchers turn list/watch streams into
//! plain events for the pure core; nothing here decides anything.
//!
//! [`watch_admission_sources`] keeps the webhook's inputs current: Namespace labels and
//! SecurityPolicy / ClusterSecurityPolicy objects, read-only. kube-runtime's watcher relists on
//! `410 Gone` and after errors (with backoff); a relist *replaces* what the sink holds, so the
//! sink converges on the cluster's state whatever was missed.

pub mod access;
pub mod actuate;
pub mod audit;
pub mod cluster;
pub mod controls;
pub mod guardians;
pub mod leader;
pub mod pull_secrets;
pub mod referenced;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::watcher::{self, Event};
use rampart_api::{ClusterSecurityPolicy, SecurityPolicy};
use rampart_policy::review::NamedPolicy;
use rampart_policy::source::{PolicyError, policy_from_value};
use tokio_util::sync::CancellationToken;

/// A kube error as a sentence: the API server's own message, its reason and HTTP code (never a
/// `Status { .. }` debug dump), or the client's error.
pub fn sentence(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => {
            let message = if s.message.is_empty() {
                "the API server refused the request"
            } else {
                s.message.as_str()
            };
            match (s.reason.is_empty(), s.code) {
                (false, code) if code > 0 => format!("{message} ({}, HTTP {code})", s.reason),
                (false, _) => format!("{message} ({})", s.reason),
                (true, code) if code > 0 => format!("{message} (HTTP {code})"),
                _ => message.to_string(),
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod sentence_tests {
    #[test]
    fn api_errors_read_as_sentences() {
        let e = kube::Error::Api(
            kube::core::Status::failure("networkpolicies \"x\" already exists", "AlreadyExists")
                .with_code(409)
                .boxed(),
        );
        let s = super::sentence(&e);
        assert_eq!(
            s,
            "networkpolicies \"x\" already exists (AlreadyExists, HTTP 409)"
        );
        assert!(!s.contains("Status {"));
    }
}

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
    /// A list of `source` is complete (the first, or the one after a failure): what the sink
    /// holds of it is current.
    fn synced(&self, source: Source);
    /// The watch failed: what the sink holds of `source` may be stale until the next
    /// [`AdmissionSink::synced`] (it starts over with a list after a backoff).
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
/// `InitDone` become one `Relisted` with every object.
/// After a failure the watch starts over with a list, so `Relisted` also says "current again".
pub(crate) enum Seen<K> {
    Relisted(Vec<K>),
    Applied(K),
    Deleted(K),
    Failed(String),
}

/// First and longest wait before a failed admission watch starts over. Short: while it waits,
/// the webhook is not ready (a policy created meanwhile is not enforced yet).
const RETRY_MIN: std::time::Duration = std::time::Duration::from_millis(250);
const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a watch must have run for its next failure to start the backoff afresh.
const HEALTHY_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs watch streams made by `make` until `cancel`, handing each [`Seen`] to `f`. After a
/// failure the stream is dropped and, after a backoff, a new one starts with a fresh list:
/// resuming from the last resourceVersion would give no sign of being current again, and
/// whatever changed during the gap (an API server restart) must be known before the sink is
/// ready again.
pub(crate) async fn each<K, S>(
    make: impl Fn() -> S,
    cancel: CancellationToken,
    mut f: impl FnMut(Seen<K>),
) where
    S: futures_util::Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
{
    let mut wait = RETRY_MIN;
    loop {
        let started = std::time::Instant::now();
        let mut stream = make();
        let mut relist: Option<Vec<K>> = None;
        loop {
            let event = tokio::select! {
                () = cancel.cancelled() => return,
                e = stream.next() => e,
            };
            match event {
                None => return,
                Some(Err(e)) => {
                    f(Seen::Failed(e.to_string()));
                    break;
                }
                Some(Ok(Event::Init)) => relist = Some(Vec::new()),
                Some(Ok(Event::InitApply(o))) => relist.get_or_insert_with(Vec::new).push(o),
                Some(Ok(Event::InitDone)) => {
                    f(Seen::Relisted(relist.take().unwrap_or_default()));
                }
                Some(Ok(Event::Apply(o))) => f(Seen::Applied(o)),
                Some(Ok(Event::Delete(o))) => f(Seen::Deleted(o)),
            }
        }
        // A stream that ran well for a while starts the backoff afresh; one that fails right
        // after listing (list allowed, watch not) keeps doubling it rather than relist hot.
        if started.elapsed() >= HEALTHY_FOR {
            wait = RETRY_MIN;
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(RETRY_MAX);
    }
}

async fn watch_namespaces(client: Client, sink: Arc<dyn AdmissionSink>, cancel: CancellationToken) {
    let api: Api<Namespace> = Api::all(client);
    let make = || watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    each(make, cancel, |seen| match seen {
        Seen::Failed(e) => sink.watch_error(Source::Namespaces, e),
        Seen::Relisted(all) => {
            sink.replace_namespaces(all.iter().map(namespace_labels).collect());
            sink.synced(Source::Namespaces);
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
    let make = || watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    let delete = |o: &DynamicObject| {
        sink.delete_policy(
            kind,
            o.metadata.namespace.as_deref(),
            o.metadata.name.as_deref().unwrap_or(""),
        )
    };
    each(make, cancel, |seen| match seen {
        Seen::Failed(e) => sink.watch_error(source, e),
        Seen::Relisted(all) => {
            let mut valid = Vec::new();
            for o in &all {
                match policy(o, kind) {
                    Some(Ok(p)) => valid.push(p),
                    Some(Err(e)) => sink.invalid_policy(e),
                    None => {}
                }
            }
            sink.replace_policies(kind, valid);
            sink.synced(source);
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
