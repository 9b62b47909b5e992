//! The store: every modelled object keyed by kind, namespace and name.
//!
//! [`Snapshot::apply`] is the only way objects change, so the offline `scan` (which applies
//! every parsed object once) and the live engine (which applies watch events) share one path.

use std::collections::BTreeMap;

use crate::objects::{
    Binding, Controller, Ingress, Kind, Namespace, NetworkPolicy, Node, Object, Pod, Role, Route,
    Secret, Service, ServiceAccount,
};
use crate::parse::{Located, Source};

/// Identity of an object in the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// Kind.
    pub kind: Kind,
    /// Namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// The key of an object.
    pub fn of(object: &Object) -> ObjectKey {
        let m = object.meta();
        ObjectKey {
            kind: object.kind(),
            namespace: m.namespace.clone(),
            name: m.display_name().to_string(),
        }
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// One change to the store.
#[derive(Debug, Clone)]
pub enum Change {
    /// Insert or replace an object.
    Upsert(Box<Located<Object>>),
    /// Remove an object.
    Delete(ObjectKey),
}

/// A second definition of an object already in the store (the later one wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The object.
    pub key: ObjectKey,
    /// The definition that was replaced.
    pub first: Source,
    /// The definition kept.
    pub second: Source,
}

/// All modelled objects of one cluster (or one set of manifests).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    objects: BTreeMap<ObjectKey, Located<Object>>,
    duplicates: Vec<Duplicate>,
}

macro_rules! typed_iter {
    ($(#[$doc:meta])* $fn:ident, $variant:ident, $ty:ty, $($kind:expr),+) => {
        $(#[$doc])*
        pub fn $fn(&self) -> impl Iterator<Item = (&Source, &$ty)> + '_ {
            [$($kind),+].into_iter().flat_map(move |k| self.of_kind(k)).filter_map(|l| match &l.object {
                Object::$variant(o) => {
                    // Large kinds are boxed: the reference coerces either way.
                    let o: &$ty = o;
                    Some((&l.source, o))
                }
                _ => None,
            })
        }
    };
}

impl Snapshot {
    /// An empty snapshot.
    pub fn new() -> Self {
        Snapshot::default()
    }

    /// Builds a snapshot from parsed objects, in order (later definitions win).
    pub fn from_objects(objects: impl IntoIterator<Item = Located<Object>>) -> Self {
        let mut s = Snapshot::new();
        for o in objects {
            s.apply(Change::Upsert(Box::new(o)));
        }
        s
    }

    /// Applies one change and returns the object it replaced or removed.
    pub fn apply(&mut self, change: Change) -> Option<Located<Object>> {
        match change {
            Change::Upsert(obj) => {
                let key = ObjectKey::of(&obj.object);
                let second = obj.source.clone();
                let old = self.objects.insert(key.clone(), *obj);
                if let Some(old) = &old
                    && (old.source.file != second.file
                        || old.source.doc != second.doc
                        || old.source.item != second.item)
                {
                    self.duplicates.push(Duplicate {
                        key,
                        first: old.source.clone(),
                        second,
                    });
                }
                old
            }
            Change::Delete(key) => self.objects.remove(&key),
        }
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Objects defined more than once while building the snapshot.
    pub fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }

    /// Looks an object up.
    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<&Located<Object>> {
        self.objects.get(&ObjectKey {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    /// All objects, ordered by kind, namespace and name.
    pub fn iter(&self) -> impl Iterator<Item = &Located<Object>> + '_ {
        self.objects.values()
    }

    /// All objects of one kind, ordered by namespace and name.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Located<Object>> + '_ {
        let start = ObjectKey {
            kind,
            namespace: String::new(),
            name: String::new(),
        };
        self.objects
            .range(start..)
            .take_while(move |(k, _)| k.kind == kind)
            .map(|(_, v)| v)
    }

    typed_iter!(/// Namespaces.
        namespaces, Namespace, Namespace, Kind::Namespace);
    typed_iter!(/// Nodes.
        nodes, Node, Node, Kind::Node);
    typed_iter!(/// Pods.
        pods, Pod, Pod, Kind::Pod);
    typed_iter!(/// Pod controllers of every kind.
        controllers, Controller, Controller, Kind::Deployment, Kind::ReplicaSet, Kind::StatefulSet,
        Kind::DaemonSet, Kind::Job, Kind::CronJob, Kind::ReplicationController);
    typed_iter!(/// Services.
        services, Service, Service, Kind::Service);
    typed_iter!(/// Ingresses.
        ingresses, Ingress, Ingress, Kind::Ingress);
    typed_iter!(/// OpenShift Routes.
        routes, Route, Route, Kind::Route);
    typed_iter!(/// ServiceAccounts.
        service_accounts, ServiceAccount, ServiceAccount, Kind::ServiceAccount);
    typed_iter!(/// Secrets (metadata only).
        secrets, Secret, Secret, Kind::Secret);
    typed_iter!(/// Roles and ClusterRoles.
        roles, Role, Role, Kind::Role, Kind::ClusterRole);
    typed_iter!(/// RoleBindings and ClusterRoleBindings.
        bindings, Binding, Binding, Kind::RoleBinding, Kind::ClusterRoleBinding);
    typed_iter!(/// NetworkPolicies.
        network_policies, NetworkPolicy, NetworkPolicy, Kind::NetworkPolicy);

    /// Labels of a namespace, including the automatic `kubernetes.io/metadata.name`, whether or
    /// not the Namespace object is in the snapshot.
    pub fn namespace_labels(&self, name: &str) -> crate::Labels {
        let mut labels = match self.get(Kind::Namespace, "", name).map(|l| &l.object) {
            Some(Object::Namespace(ns)) => ns.metadata.labels.clone(),
            _ => crate::Labels::new(),
        };
        labels.insert("kubernetes.io/metadata.name".to_string(), name.to_string());
        labels
    }

    /// Every namespace that is defined or that any namespaced object lives in, sorted.
    pub fn namespace_names(&self) -> Vec<String> {
        let mut names: std::collections::BTreeSet<String> = self
            .namespaces()
            .map(|(_, n)| n.metadata.name.clone())
            .collect();
        // Keys are sorted by kind, then namespace: a namespace repeats in runs.
        let mut last = "";
        for key in self.objects.keys() {
            if key.namespace != last {
                last = &key.namespace;
                if !last.is_empty() && !names.contains(last) {
                    names.insert(last.to_string());
                }
            }
        }
        names.into_iter().collect()
    }
}
