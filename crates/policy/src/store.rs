//! The cluster's objects that policies read beyond the request: their params objects and the
//! kinds they declare as `inventory`. Each [`Selection`] is what one watch holds (the webhook
//! watches exactly the selections its policies declare, [`crate::review::PolicySet::wanted`]);
//! offline, the selections are filled from files ([`ObjectStore::from_objects`]). Objects are
//! read into CEL values once, when they arrive, never per request.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use rampart_api::ObjectKind;
use rampart_cel::Prepared;
use serde_json::Value;

/// The objects one watch holds: every object of a kind, or the objects of one name (a params
/// object), in one namespace or all.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Selection {
    /// The kind.
    pub kind: ObjectKind,
    /// Only this namespace (`None`: every namespace, or the kind is cluster-scoped).
    pub namespace: Option<String>,
    /// Only objects of this name.
    pub name: Option<String>,
}

impl Selection {
    /// Every object of `kind`.
    pub fn all(kind: ObjectKind) -> Selection {
        Selection {
            kind,
            namespace: None,
            name: None,
        }
    }

    /// Whether `object` belongs to it.
    pub fn holds(&self, object: &Value) -> bool {
        let (ns, name) = key_of(object);
        let api = object.get("apiVersion").and_then(Value::as_str);
        let kind = object.get("kind").and_then(Value::as_str);
        api == Some(self.kind.api_version.as_str())
            && kind == Some(self.kind.kind.as_str())
            // A cluster-scoped object (no namespace) belongs to every namespace's selection.
            && self.namespace.as_ref().is_none_or(|n| *n == ns || ns.is_empty())
            && self.name.as_ref().is_none_or(|n| *n == name)
    }
}

impl std::fmt::Display for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(ns) = &self.namespace {
            write!(f, " in {ns}")?;
        }
        if let Some(n) = &self.name {
            write!(f, " named {n}")?;
        }
        Ok(())
    }
}

/// Why a selection's objects cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// Its watch has not listed yet, or failed and has not listed again.
    #[error("{0} is not loaded yet")]
    NotLoaded(String),
}

/// The objects of one selection.
#[derive(Debug, Default)]
struct Held {
    /// Current: listed, and not failed since.
    synced: bool,
    /// By namespace and name.
    objects: BTreeMap<(String, String), Prepared>,
    /// All of them as one CEL list, made on first use after a change.
    list: OnceLock<Prepared>,
}

/// The objects policies read, by selection.
#[derive(Debug, Default)]
pub struct ObjectStore {
    held: BTreeMap<Selection, Held>,
}

/// An object's namespace (`""` for a cluster-scoped one) and name.
fn key_of(object: &Value) -> (String, String) {
    let s = |f: &str| {
        object
            .get("metadata")
            .and_then(|m| m.get(f))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("namespace"), s("name"))
}

impl ObjectStore {
    /// No objects; no selection loaded.
    pub fn new() -> ObjectStore {
        ObjectStore::default()
    }

    /// The selections `wanted`, each filled with the `objects` it holds and loaded (offline:
    /// files are the whole cluster). A Secret is never held.
    pub fn from_objects<'a>(
        objects: impl IntoIterator<Item = &'a Value>,
        wanted: &BTreeSet<Selection>,
    ) -> ObjectStore {
        let objects: Vec<&Value> = objects.into_iter().collect();
        let mut store = ObjectStore::new();
        for sel in wanted {
            store.replace(sel, objects.iter().copied().filter(|o| sel.holds(o)));
        }
        store
    }

    /// A (re)list of `sel` finished: these are all its objects, and it is loaded.
    pub fn replace<'a>(&mut self, sel: &Selection, objects: impl IntoIterator<Item = &'a Value>) {
        if sel.kind.is_secret() {
            return;
        }
        let held = self.held.entry(sel.clone()).or_default();
        held.objects = objects
            .into_iter()
            .map(|o| (key_of(o), Prepared::json(o)))
            .collect();
        held.list = OnceLock::new();
        held.synced = true;
    }

    /// An object of `sel` was added or changed.
    pub fn apply(&mut self, sel: &Selection, object: &Value) {
        if sel.kind.is_secret() {
            return;
        }
        let held = self.held.entry(sel.clone()).or_default();
        held.objects.insert(key_of(object), Prepared::json(object));
        held.list = OnceLock::new();
    }

    /// An object of `sel` was deleted.
    pub fn delete(&mut self, sel: &Selection, namespace: &str, name: &str) {
        if let Some(held) = self.held.get_mut(sel) {
            held.objects
                .remove(&(namespace.to_string(), name.to_string()));
            held.list = OnceLock::new();
        }
    }

    /// The watch of `sel` failed: its objects may be stale until the next
    /// [`ObjectStore::replace`].
    pub fn stale(&mut self, sel: &Selection) {
        if let Some(held) = self.held.get_mut(sel) {
            held.synced = false;
        }
    }

    /// Forgets the selections no policy declares any more.
    pub fn retain(&mut self, wanted: &BTreeSet<Selection>) {
        self.held.retain(|s, _| wanted.contains(s));
    }

    /// Whether every selection in `wanted` is loaded.
    pub fn loaded(&self, wanted: &BTreeSet<Selection>) -> bool {
        wanted
            .iter()
            .all(|s| self.held.get(s).is_some_and(|h| h.synced))
    }

    fn held(&self, sel: &Selection) -> Result<&Held, Unavailable> {
        self.held
            .get(sel)
            .filter(|h| h.synced)
            .ok_or_else(|| Unavailable::NotLoaded(sel.to_string()))
    }

    /// The object of `sel` in `namespace` named `name`, if there is one.
    pub fn get(
        &self,
        sel: &Selection,
        namespace: &str,
        name: &str,
    ) -> Result<Option<&Prepared>, Unavailable> {
        Ok(self
            .held(sel)?
            .objects
            .get(&(namespace.to_string(), name.to_string())))
    }

    /// Every object of `sel`, as one CEL list.
    pub fn list(&self, sel: &Selection) -> Result<&Prepared, Unavailable> {
        let held = self.held(sel)?;
        Ok(held
            .list
            .get_or_init(|| Prepared::concat(held.objects.values())))
    }

    /// Number of objects held, over every selection.
    pub fn len(&self) -> usize {
        self.held.values().map(|h| h.objects.len()).sum()
    }

    /// Whether it holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(ns: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": ns, "name": name}, "data": {"k": name}})
    }

    #[test]
    fn selections_hold_their_objects_and_say_when_they_are_not_loaded() {
        let kind = ObjectKind::new("v1", "ConfigMap");
        let all = Selection::all(kind.clone());
        let named = Selection {
            kind: kind.clone(),
            namespace: None,
            name: Some("b".into()),
        };
        let objects = [
            cm("x", "a"),
            cm("y", "b"),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": "x", "name": "b"}}),
        ];
        let mut store =
            ObjectStore::from_objects(&objects, &BTreeSet::from([all.clone(), named.clone()]));
        assert_eq!(store.len(), 3);
        assert!(store.get(&named, "y", "b").unwrap().is_some());
        assert!(store.get(&named, "x", "a").unwrap().is_none());
        // A change drops the cached list.
        let before = format!("{:?}", store.list(&all).unwrap());
        store.delete(&all, "x", "a");
        assert_ne!(before, format!("{:?}", store.list(&all).unwrap()));
        // A failed watch: not loaded until listed again.
        store.stale(&named);
        assert_eq!(
            store.get(&named, "y", "b").err(),
            Some(Unavailable::NotLoaded("v1/ConfigMap named b".into()))
        );
        assert!(!store.loaded(&BTreeSet::from([named.clone()])));
        store.replace(&named, [&cm("y", "b")]);
        assert!(store.loaded(&BTreeSet::from([named.clone()])));
        // Secrets are never held.
        let secrets = Selection::all(ObjectKind::new("v1", "Secret"));
        store.replace(&secrets, &objects);
        assert!(store.list(&secrets).is_err());
        store.retain(&BTreeSet::from([named]));
        assert!(store.list(&all).is_err());
    }
}
