//! Watches of the cluster objects policies read beyond the request — their params objects and
//! the kinds they declare as `inventory` — exactly the selections the policies in force declare
//! ([`rampart_policy::review::PolicySet::wanted`]): a selection no policy names any more stops
//! being watched, a new one starts. A params object is watched by name (a field selector), an
//! inventory kind whole. Kinds are resolved through discovery, so any served kind works (a CRD
//! installed later is found on the next retry).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::StreamExt;
use kube::Client;
use kube::api::{Api, DynamicObject, GroupVersionKind};
use kube::runtime::watcher;
use rampart_policy::store::Selection;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{Seen, each};

/// Where the objects of watched selections go (the webhook's store, a test recorder).
pub trait ObjectSink: Send + Sync + 'static {
    /// A (re)list of `selection` finished: these are all its objects.
    fn replace_objects(&self, selection: &Selection, all: Vec<Value>);
    /// An object was added or changed.
    fn apply_object(&self, selection: &Selection, object: Value);
    /// An object was deleted.
    fn delete_object(&self, selection: &Selection, namespace: &str, name: &str);
    /// The watch failed (or its kind is not served): what the sink holds of `selection` is
    /// stale until the next [`ObjectSink::replace_objects`].
    fn objects_error(&self, selection: &Selection, error: String);
}

/// Watches each selection in `wanted` while it is wanted, until `cancel`.
pub async fn watch_selections(
    client: Client,
    sink: Arc<dyn ObjectSink>,
    mut wanted: watch::Receiver<BTreeSet<Selection>>,
    cancel: CancellationToken,
) {
    let mut running: BTreeMap<Selection, CancellationToken> = BTreeMap::new();
    loop {
        let now = wanted.borrow_and_update().clone();
        running.retain(|sel, token| {
            let keep = now.contains(sel);
            if !keep {
                token.cancel();
            }
            keep
        });
        for sel in now {
            if running.contains_key(&sel) {
                continue;
            }
            let token = cancel.child_token();
            running.insert(sel.clone(), token.clone());
            tokio::spawn(watch_one(client.clone(), sink.clone(), sel, token));
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            changed = wanted.changed() => if changed.is_err() { return },
        }
    }
}

/// The name, namespace and `apiVersion`/`kind` of a watched object as plain JSON (watch items
/// of a list may come without kind and apiVersion).
fn object_json(o: &DynamicObject, sel: &Selection) -> Option<Value> {
    let mut v = serde_json::to_value(o).ok()?;
    let m = v.as_object_mut()?;
    m.insert("apiVersion".into(), sel.kind.api_version.clone().into());
    m.insert("kind".into(), sel.kind.kind.clone().into());
    Some(v)
}

async fn watch_one(
    client: Client,
    sink: Arc<dyn ObjectSink>,
    sel: Selection,
    cancel: CancellationToken,
) {
    let (group, version) = sel.kind.group_version();
    let gvk = GroupVersionKind::gvk(group, version, &sel.kind.kind);
    // Discovery first: until the kind is served, the selection stays not loaded.
    let mut wait = std::time::Duration::from_millis(500);
    let (ar, caps) = loop {
        match kube::discovery::pinned_kind(&client, &gvk).await {
            Ok(found) => break found,
            Err(e) => {
                sink.objects_error(&sel, format!("{} is not served: {e}", sel.kind));
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(std::time::Duration::from_secs(30));
            }
        }
    };
    let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
    // A namespace's selection of a namespaced kind watches that namespace only (RBAC may grant
    // no more); of a cluster-scoped kind, every object.
    let api: Api<DynamicObject> = match (&sel.namespace, namespaced) {
        (Some(ns), true) => Api::namespaced_with(client, ns, &ar),
        _ => Api::all_with(client, &ar),
    };
    let mut config = watcher::Config::default();
    if let Some(name) = &sel.name {
        config = config.fields(&format!("metadata.name={name}"));
    }
    let make = || watcher::watcher(api.clone(), config.clone()).boxed();
    each(make, cancel, |seen| match seen {
        Seen::Failed(e) => sink.objects_error(&sel, e),
        Seen::Relisted(all) => sink.replace_objects(
            &sel,
            all.iter().filter_map(|o| object_json(o, &sel)).collect(),
        ),
        Seen::Applied(o) => {
            if let Some(v) = object_json(&o, &sel) {
                sink.apply_object(&sel, v);
            }
        }
        Seen::Deleted(o) => sink.delete_object(
            &sel,
            o.metadata.namespace.as_deref().unwrap_or(""),
            o.metadata.name.as_deref().unwrap_or(""),
        ),
    })
    .await;
}
