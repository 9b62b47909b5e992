//! Every audited object, indexed by kind, for checks that look across objects (RBAC subjects,
//! namespaces without a NetworkPolicy, the API server's static Pod).

use std::collections::HashMap;
use std::sync::Arc;

use crate::object::{Object, ObjectRef};

/// The objects of one audit.
#[derive(Debug, Default)]
pub struct Inventory {
    objects: Vec<Arc<Object>>,
    by_kind: HashMap<String, Vec<usize>>,
    by_ref: HashMap<ObjectRef, usize>,
}

impl Inventory {
    /// Indexes `objects` (kept in their order).
    pub fn new(objects: Vec<Object>) -> Inventory {
        Inventory::shared(objects.into_iter().map(Arc::new).collect())
    }

    /// Indexes shared objects (a live store's, audited without copying them).
    pub fn shared(objects: Vec<Arc<Object>>) -> Inventory {
        let mut by_kind: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_ref = HashMap::with_capacity(objects.len());
        for (i, o) in objects.iter().enumerate() {
            by_kind.entry(o.kind().to_string()).or_default().push(i);
            by_ref.entry(o.at.clone()).or_insert(i);
        }
        Inventory {
            objects,
            by_kind,
            by_ref,
        }
    }

    /// Every object.
    pub fn objects(&self) -> &[Arc<Object>] {
        &self.objects
    }

    /// The object a reference names (the first, when two documents are the same object).
    pub fn get(&self, r: &ObjectRef) -> Option<&Object> {
        self.by_ref.get(r).map(|&i| &*self.objects[i])
    }

    /// The objects of one kind, in input order.
    pub fn of_kind<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Object> + 'a {
        self.by_kind
            .get(kind)
            .into_iter()
            .flatten()
            .map(|&i| &*self.objects[i])
    }

    /// The objects of any of these kinds, in input order.
    pub fn of_kinds<'a>(&'a self, kinds: &[&str]) -> Vec<&'a Object> {
        let mut idx: Vec<usize> = kinds
            .iter()
            .filter_map(|k| self.by_kind.get(*k))
            .flatten()
            .copied()
            .collect();
        idx.sort_unstable();
        idx.into_iter().map(|i| &*self.objects[i]).collect()
    }
}
