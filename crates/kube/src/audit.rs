//! The engine's live compliance audit, at the API: the whole objects `rampart audit` reads,
//! watched (Secrets as metadata only: their values never leave the API server), and the
//! PolicyReports it keeps, written in place by server-side apply only when their results
//! changed. Nothing here decides anything: the checks are `rampart-audit`'s.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PartialObjectMeta,
    Patch, PatchParams,
};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the audit reads: (kind, group, version). Secrets are watched besides, metadata only.
pub const AUDITED: &[(&str, &str, &str)] = &[
    ("Namespace", "", "v1"),
    ("Node", "", "v1"),
    ("Pod", "", "v1"),
    ("Service", "", "v1"),
    ("ConfigMap", "", "v1"),
    ("ServiceAccount", "", "v1"),
    ("ReplicationController", "", "v1"),
    ("PersistentVolumeClaim", "", "v1"),
    ("Deployment", "apps", "v1"),
    ("ReplicaSet", "apps", "v1"),
    ("DaemonSet", "apps", "v1"),
    ("StatefulSet", "apps", "v1"),
    ("Job", "batch", "v1"),
    ("CronJob", "batch", "v1"),
    ("Role", "rbac.authorization.k8s.io", "v1"),
    ("RoleBinding", "rbac.authorization.k8s.io", "v1"),
    ("ClusterRole", "rbac.authorization.k8s.io", "v1"),
    ("ClusterRoleBinding", "rbac.authorization.k8s.io", "v1"),
    ("NetworkPolicy", "networking.k8s.io", "v1"),
    ("Ingress", "networking.k8s.io", "v1"),
    ("HorizontalPodAutoscaler", "autoscaling", "v2"),
    ("PodDisruptionBudget", "policy", "v1"),
    (
        "ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io",
        "v1",
    ),
    (
        "MutatingWebhookConfiguration",
        "admissionregistration.k8s.io",
        "v1",
    ),
    ("SecurityPolicy", "rampart.dev", "v1alpha1"),
    ("ClusterSecurityPolicy", "rampart.dev", "v1alpha1"),
];

/// The PolicyReport API: (group, version).
pub const REPORTS: (&str, &str) = ("wgpolicyk8s.io", "v1alpha2");

/// What the audit's watchers saw.
#[derive(Debug, Clone)]
pub enum AuditEvent {
    /// An object was added or changed (the whole object, its `kind` set).
    Upsert(Value),
    /// An object was deleted: kind, namespace, name.
    Deleted(&'static str, String, String),
    /// A (re)list of one kind completed: all of its objects.
    Relisted(&'static str, Vec<Value>),
    /// A watch failed; it retries with backoff.
    Error(&'static str, String),
}

/// Sets the kind and drops what no check reads and what can be large: the status of everything
/// but Nodes (whose kubelet version a check reads). (`rampart_audit::Object` drops
/// `managedFields` itself.)
fn lean(kind: &str, mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("kind".into(), kind.into());
        if kind != "Node" {
            o.remove("status");
        }
    }
    v
}

/// One kind's watch as audit events until `cancel` (the cluster watchers' loop).
async fn pump<K, S>(
    kind: &'static str,
    stream: S,
    convert: impl Fn(K) -> Option<Value>,
    tx: mpsc::Sender<AuditEvent>,
    cancel: CancellationToken,
) where
    S: futures_util::Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
    K: kube::Resource,
{
    crate::cluster::pump_events(
        stream,
        convert,
        |all| AuditEvent::Relisted(kind, all),
        AuditEvent::Upsert,
        |o: &K| {
            let m = o.meta();
            Some(AuditEvent::Deleted(
                kind,
                m.namespace.clone().unwrap_or_default(),
                m.name.clone().unwrap_or_default(),
            ))
        },
        |e| AuditEvent::Error(kind, e.to_string()),
        tx,
        cancel,
    )
    .await;
}

/// Watches every kind of [`AUDITED`] (whole objects, lean) and Secrets (metadata only) until
/// `cancel`. A kind the cluster does not serve (rampart's CRDs not installed) or may not be
/// read is reported and retried with backoff.
pub async fn watch_audited(
    client: Client,
    tx: mpsc::Sender<AuditEvent>,
    cancel: CancellationToken,
) {
    let config = || watcher::Config::default().page_size(100);
    let mut tasks = Vec::new();
    for &(kind, group, version) in AUDITED {
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let stream = watcher::watcher(api, config()).default_backoff().boxed();
        let convert = move |o: DynamicObject| serde_json::to_value(o).ok().map(|v| lean(kind, v));
        tasks.push(tokio::spawn(pump(
            kind,
            stream,
            convert,
            tx.clone(),
            cancel.clone(),
        )));
    }
    // `Api<PartialObjectMeta<_>>` makes metadata-only requests.
    let secrets: Api<PartialObjectMeta<k8s_openapi::api::core::v1::Secret>> = Api::all(client);
    let stream = watcher::watcher(secrets, config())
        .default_backoff()
        .boxed();
    let convert = |o: PartialObjectMeta<k8s_openapi::api::core::v1::Secret>| {
        let metadata = serde_json::to_value(&o.metadata).ok()?;
        Some(lean(
            "Secret",
            serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": metadata}),
        ))
    };
    tasks.push(tokio::spawn(pump("Secret", stream, convert, tx, cancel)));
    for t in tasks {
        let _ = t.await;
    }
}

/// Every kind the audit watches, Secrets included.
pub fn audited_kinds() -> impl Iterator<Item = &'static str> {
    AUDITED.iter().map(|a| a.0).chain(["Secret"])
}

fn reports_api(client: &Client, namespace: &str) -> Api<DynamicObject> {
    let (group, version) = REPORTS;
    if namespace.is_empty() {
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
            group,
            version,
            "ClusterPolicyReport",
        ));
        Api::all_with(client.clone(), &ar)
    } else {
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, "PolicyReport"));
        Api::namespaced_with(client.clone(), namespace, &ar)
    }
}

/// The field manager of rampart's writes of reports.
pub const MANAGER: &str = "rampart-audit";

/// Writes the reports whose fingerprint differs from the one last written (`written`, by
/// namespace; updated), and deletes rampart's reports of namespaces that have none now.
/// Returns how many were written and deleted.
pub async fn write_reports(
    client: &Client,
    reports: &BTreeMap<String, (Value, u64)>,
    written: &mut BTreeMap<String, u64>,
) -> Result<(usize, usize), kube::Error> {
    let mut n = 0;
    for (ns, (report, fingerprint)) in reports {
        n += usize::from(write_report(client, ns, report, *fingerprint, written).await?);
    }
    let gone: Vec<String> = written
        .keys()
        .filter(|ns| !reports.contains_key(*ns))
        .cloned()
        .collect();
    let mut d = 0;
    for ns in gone {
        match reports_api(client, &ns)
            .delete("rampart-audit", &DeleteParams::default())
            .await
        {
            Ok(_) => d += 1,
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
        written.remove(&ns);
    }
    Ok((n, d))
}

/// Writes one namespace's report (`""`: the cluster-scoped one) unless `written` says this
/// fingerprint is already there; whether it wrote.
pub async fn write_report(
    client: &Client,
    namespace: &str,
    report: &Value,
    fingerprint: u64,
    written: &mut BTreeMap<String, u64>,
) -> Result<bool, kube::Error> {
    if written.get(namespace) == Some(&fingerprint) {
        return Ok(false);
    }
    let name = report
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("rampart-audit")
        .to_string();
    reports_api(client, namespace)
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(report),
        )
        .await?;
    written.insert(namespace.to_string(), fingerprint);
    Ok(true)
}

/// The reports rampart wrote before (after a restart: their namespaces), so that stale ones
/// are deleted and unchanged ones are not rewritten blindly.
pub async fn existing_reports(client: &Client) -> Result<Vec<String>, kube::Error> {
    let lp = ListParams::default().labels("app.kubernetes.io/managed-by=rampart");
    let mut out = Vec::new();
    for r in reports_api(client, "").list(&lp).await?.items {
        if r.metadata.name.as_deref() == Some("rampart-audit") {
            out.push(String::new());
        }
    }
    let (group, version) = REPORTS;
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, "PolicyReport"));
    let all: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    for r in all.list(&lp).await?.items {
        if r.metadata.name.as_deref() == Some("rampart-audit") {
            out.push(r.metadata.namespace.unwrap_or_default());
        }
    }
    Ok(out)
}

/// Sets a SecurityPolicy's or ClusterSecurityPolicy's `status` (a merge patch of the status
/// subresource).
pub async fn write_policy_status(
    client: &Client,
    kind: &str,
    namespace: &str,
    name: &str,
    status: &rampart_api::SecurityPolicyStatus,
) -> Result<(), kube::Error> {
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("rampart.dev", "v1alpha1", kind));
    let api: Api<DynamicObject> = if namespace.is_empty() {
        Api::all_with(client.clone(), &ar)
    } else {
        Api::namespaced_with(client.clone(), namespace, &ar)
    };
    let patch = serde_json::json!({"status": status});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}
