//! The store: every modelled object keyed by kind, namespace and name.
//!
//! [`Snapshot::apply`] is the only way objects change, so the offline `scan` (which applies
//! every parsed object once) and the live engine (which applies watch events) share one path.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::objects::{
    AdminNetworkPolicy, Binding, CiliumNetworkPolicy, Controller, Ingress, Kind, MeshPolicy,
    Namespace, NetworkPolicy, Node, Object, Pod, Role, Route, Secret, Service, ServiceAccount,
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

/// A key's parts, borrowed: what the store's map is searched by, so that a lookup builds no
/// key (two strings) to find one.
trait KeyParts {
    fn parts(&self) -> (Kind, &str, &str);
}

impl KeyParts for ObjectKey {
    fn parts(&self) -> (Kind, &str, &str) {
        (self.kind, &self.namespace, &self.name)
    }
}

impl KeyParts for (Kind, &str, &str) {
    fn parts(&self) -> (Kind, &str, &str) {
        *self
    }
}

impl<'a> Borrow<dyn KeyParts + 'a> for ObjectKey {
    fn borrow(&self) -> &(dyn KeyParts + 'a) {
        self
    }
}

// Ordered as `ObjectKey`'s derived order (kind, namespace, name), as `Borrow` requires.
impl Ord for dyn KeyParts + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts().cmp(&other.parts())
    }
}

impl PartialOrd for dyn KeyParts + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for dyn KeyParts + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn KeyParts + '_ {}

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
    /// How many objects each namespace holds (namespaced objects only): which namespaces
    /// exist without a walk over every object.
    in_namespace: BTreeMap<String, usize>,
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
                if old.is_none() {
                    self.count_in(&key.namespace, true);
                }
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
            Change::Delete(key) => {
                let old = self.objects.remove(&key);
                if old.is_some() {
                    self.count_in(&key.namespace, false);
                }
                old
            }
        }
    }

    /// One object more (`added`) or less in `namespace`.
    fn count_in(&mut self, namespace: &str, added: bool) {
        if namespace.is_empty() {
            return;
        }
        if added {
            match self.in_namespace.get_mut(namespace) {
                Some(n) => *n += 1,
                None => {
                    self.in_namespace.insert(namespace.to_string(), 1);
                }
            }
        } else if let Some(n) = self.in_namespace.get_mut(namespace) {
            *n -= 1;
            if *n == 0 {
                self.in_namespace.remove(namespace);
            }
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
        self.objects.get(&(kind, namespace, name) as &dyn KeyParts)
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
    typed_iter!(/// AdminNetworkPolicies and the BaselineAdminNetworkPolicy.
        admin_network_policies, AdminNetworkPolicy, AdminNetworkPolicy,
        Kind::AdminNetworkPolicy, Kind::BaselineAdminNetworkPolicy);
    typed_iter!(/// CiliumNetworkPolicies and CiliumClusterwideNetworkPolicies.
        cilium_network_policies, CiliumNetworkPolicy, CiliumNetworkPolicy,
        Kind::CiliumNetworkPolicy, Kind::CiliumClusterwideNetworkPolicy);
    typed_iter!(/// Service-mesh authorization objects (Istio, Linkerd).
        mesh_policies, Mesh, MeshPolicy,
        Kind::IstioAuthorizationPolicy, Kind::PeerAuthentication, Kind::LinkerdServer,
        Kind::ServerAuthorization, Kind::LinkerdAuthorizationPolicy,
        Kind::MeshTlsAuthentication, Kind::NetworkAuthentication);

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
        for ns in self.in_namespace.keys() {
            if !names.contains(ns) {
                names.insert(ns.clone());
            }
        }
        names.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{ParseLimits, parse_source};

    fn snapshot(yaml: &str) -> Snapshot {
        Snapshot::from_objects(parse_source("t.yaml", yaml, &ParseLimits::default()).objects)
    }

    const OBJECTS: &str = "\
apiVersion: v1\nkind: Namespace\nmetadata: {name: empty}\n---\n\
apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: app}\n---\n\
apiVersion: v1\nkind: Secret\nmetadata: {name: t, namespace: app}\n---\n\
apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s, namespace: ops}\n";

    #[test]
    fn lookups_find_exactly_the_key_asked_for() {
        let s = snapshot(OBJECTS);
        assert!(s.get(Kind::Secret, "app", "s").is_some());
        assert!(s.get(Kind::Secret, "app", "t").is_some());
        assert!(s.get(Kind::Secret, "ops", "s").is_none());
        assert!(s.get(Kind::ServiceAccount, "app", "s").is_none());
        assert!(s.get(Kind::ServiceAccount, "ops", "s").is_some());
        assert!(s.get(Kind::Namespace, "", "empty").is_some());
        assert!(s.get(Kind::Namespace, "", "app").is_none());
    }

    #[test]
    fn a_namespace_exists_while_an_object_is_in_it_or_it_is_stored() {
        let mut s = snapshot(OBJECTS);
        assert_eq!(s.namespace_names(), ["app", "empty", "ops"]);
        let key = |kind, ns: &str, name: &str| ObjectKey {
            kind,
            namespace: ns.into(),
            name: name.into(),
        };
        s.apply(Change::Delete(key(Kind::Secret, "app", "s")));
        assert_eq!(s.namespace_names(), ["app", "empty", "ops"]);
        // Deleting what is not there counts nothing.
        s.apply(Change::Delete(key(Kind::Secret, "app", "s")));
        s.apply(Change::Delete(key(Kind::Secret, "app", "t")));
        assert_eq!(s.namespace_names(), ["empty", "ops"]);
        // Replacing an object counts it once.
        let again = snapshot(OBJECTS);
        for o in again.iter() {
            s.apply(Change::Upsert(Box::new(o.clone())));
            s.apply(Change::Upsert(Box::new(o.clone())));
        }
        s.apply(Change::Delete(key(Kind::ServiceAccount, "ops", "s")));
        assert_eq!(s.namespace_names(), ["app", "empty"]);
        s.apply(Change::Delete(key(Kind::Namespace, "", "empty")));
        assert_eq!(s.namespace_names(), ["app"]);
    }
}
