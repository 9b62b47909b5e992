//! One audited object: its identity, where it was read, and a read-only view of its JSON, with
//! the pod it runs (a Pod's own spec or a workload's template) and that pod's containers, each
//! with the dotted field path findings name (`spec.template.spec.containers[0]`).

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

/// `kind`, `namespace`, `name` of an object, and where it was read when it came from a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectRef {
    /// Its kind (`Deployment`, or a subject kind: `User`, `Group`, `ServiceAccount`).
    pub kind: String,
    /// Its namespace as written (empty: cluster-scoped, or none in the manifest).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The file it was read from (none for a subject synthesized from bindings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<Arc<str>>,
    /// The line its document starts on (0 when unknown).
    #[serde(skip_serializing_if = "is_zero")]
    pub line: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl ObjectRef {
    /// A reference with no file.
    pub fn new(kind: &str, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
            file: None,
            line: 0,
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// An API object as read. A Secret keeps its metadata only (its `data`, `stringData` and the
/// last-applied annotation are dropped when it is read: the audit never holds a Secret's value);
/// every object loses `metadata.managedFields`, which no check reads.
#[derive(Debug, Clone)]
pub struct Object {
    /// Identity and source.
    pub at: ObjectRef,
    /// `apiVersion`.
    pub api_version: String,
    /// The object.
    pub value: Value,
    /// Whether a controller owns it ([`Object::controlled`]), decided once when read.
    controlled: bool,
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

impl Object {
    /// The object of a document; `None` when it is not a JSON object with a string `kind`.
    pub fn new(mut value: Value, file: Option<Arc<str>>, line: u32) -> Option<Object> {
        let kind = value.get("kind")?.as_str()?.to_string();
        let api_version = str_at(&value, &["apiVersion"]).unwrap_or("").to_string();
        let name = str_at(&value, &["metadata", "name"])
            .unwrap_or("")
            .to_string();
        let namespace = str_at(&value, &["metadata", "namespace"])
            .unwrap_or("")
            .to_string();
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        if kind == "Secret" {
            if let Some(o) = value.as_object_mut() {
                o.remove("data");
                o.remove("stringData");
            }
            if let Some(a) = value
                .pointer_mut("/metadata/annotations")
                .and_then(Value::as_object_mut)
            {
                a.remove(LAST_APPLIED);
            }
        }
        let controlled = owned_by_controller(&value);
        Some(Object {
            at: ObjectRef {
                kind,
                namespace,
                name,
                file,
                line,
            },
            api_version,
            value,
            controlled,
        })
    }

    /// Whether a controller owns this object (a Deployment's ReplicaSet, a ReplicaSet's Pod):
    /// its owner is judged instead, so one template's failure is reported once.
    pub fn controlled(&self) -> bool {
        self.controlled
    }

    /// Its kind.
    pub fn kind(&self) -> &str {
        &self.at.kind
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.at.name
    }

    /// Its namespace as written (empty when none).
    pub fn namespace(&self) -> &str {
        &self.at.namespace
    }

    /// The API group (`""` for core).
    pub fn group(&self) -> &str {
        self.api_version
            .split_once('/')
            .map_or("", |(group, _)| group)
    }

    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        str_at(&self.value, &["metadata", "labels", key])
    }

    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        str_at(&self.value, &["metadata", "annotations", key])
    }

    /// The labels (empty when none).
    pub fn labels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.value
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
    }

    /// The pod this object runs: `Ok(None)` when its kind runs none, an error when its kind
    /// runs one but the pod spec is missing or not an object.
    pub fn pod_or_error(&self) -> Result<Option<Pod<'_>>, crate::check::CheckError> {
        let Some((_, _, prefix)) = pod_location(self.kind()) else {
            return Ok(None);
        };
        let pod = self.pod().ok_or_else(|| {
            crate::check::CheckError(format!(
                "{} has no pod spec object at {prefix}",
                self.kind()
            ))
        })?;
        for list in [
            "containers",
            "initContainers",
            "ephemeralContainers",
            "volumes",
        ] {
            if pod
                .spec
                .get(list)
                .is_some_and(|v| !v.is_array() && !v.is_null())
            {
                return Err(crate::check::CheckError(format!(
                    "{prefix}.{list} is not a list"
                )));
            }
        }
        Ok(Some(pod))
    }

    /// The pod this object runs, when its kind runs one.
    pub fn pod(&self) -> Option<Pod<'_>> {
        let (pointer, meta_pointer, prefix) = pod_location(self.kind())?;
        let spec = self.value.pointer(pointer)?.as_object()?;
        Some(Pod {
            spec,
            meta: self.value.pointer(meta_pointer).and_then(Value::as_object),
            prefix,
            spec_pointer: pointer,
        })
    }
}

/// Whether a workload kind (every one but Pod: a controller) owns the object.
fn owned_by_controller(value: &Value) -> bool {
    value
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|r| {
            r.get("controller").and_then(Value::as_bool) == Some(true)
                && r.get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k != "Pod" && WORKLOAD_KINDS.contains(&k))
        })
}

/// Where a kind keeps its pod: JSON pointer of the spec, of its metadata, and the dotted path.
pub fn pod_location(kind: &str) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match kind {
        "Pod" => ("/spec", "/metadata", "spec"),
        "Deployment"
        | "ReplicaSet"
        | "DaemonSet"
        | "StatefulSet"
        | "Job"
        | "ReplicationController"
        | "DeploymentConfig" => (
            "/spec/template/spec",
            "/spec/template/metadata",
            "spec.template.spec",
        ),
        "CronJob" => (
            "/spec/jobTemplate/spec/template/spec",
            "/spec/jobTemplate/spec/template/metadata",
            "spec.jobTemplate.spec.template.spec",
        ),
        "PodTemplate" => ("/template/spec", "/template/metadata", "template.spec"),
        _ => return None,
    })
}

/// Kinds that run pods (what [`Object::pod`] reads).
pub const WORKLOAD_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
    "ReplicationController",
    // OpenShift's Deployment.
    "DeploymentConfig",
];

/// The pod spec of an object and the dotted path it lives at.
#[derive(Debug, Clone, Copy)]
pub struct Pod<'a> {
    /// The pod spec.
    pub spec: &'a Map<String, Value>,
    /// The pod's metadata (a Pod's own, or the template's).
    pub meta: Option<&'a Map<String, Value>>,
    /// Dotted path of the spec (`spec`, `spec.template.spec`, …).
    pub prefix: &'static str,
    /// JSON pointer of the spec.
    spec_pointer: &'static str,
}

/// Which list of a pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerList {
    /// `containers`.
    Containers,
    /// `initContainers`.
    Init,
    /// `ephemeralContainers`.
    Ephemeral,
}

impl ContainerList {
    /// The field name.
    pub fn field(self) -> &'static str {
        match self {
            ContainerList::Containers => "containers",
            ContainerList::Init => "initContainers",
            ContainerList::Ephemeral => "ephemeralContainers",
        }
    }
}

/// One container of a pod.
#[derive(Debug, Clone, Copy)]
pub struct Container<'a> {
    /// Its list.
    pub list: ContainerList,
    /// Its index in that list.
    pub index: usize,
    /// The container.
    pub value: &'a Map<String, Value>,
    /// Dotted path of the pod spec.
    prefix: &'static str,
}

impl<'a> Container<'a> {
    /// Its name.
    pub fn name(&self) -> &'a str {
        self.value.get("name").and_then(Value::as_str).unwrap_or("")
    }

    /// Dotted path of a field of this container (`spec.containers[0].securityContext`).
    pub fn path(&self, rest: &str) -> String {
        let base = format!("{}.{}[{}]", self.prefix, self.list.field(), self.index);
        if rest.is_empty() {
            base
        } else {
            format!("{base}.{rest}")
        }
    }

    /// JSON pointer of a field of this container, relative to the pod spec.
    pub fn pointer(&self, rest: &str) -> String {
        let base = format!("/{}/{}", self.list.field(), self.index);
        if rest.is_empty() {
            base
        } else {
            format!("{base}/{rest}")
        }
    }

    /// A field of the container's `securityContext`.
    pub fn security(&self, field: &str) -> Option<&'a Value> {
        self.value.get("securityContext")?.as_object()?.get(field)
    }

    /// The indices of `envFrom` entries that pour a whole Secret into the environment.
    pub fn env_from_secrets(&self) -> Vec<usize> {
        self.value
            .get("envFrom")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(_, e)| e.get("secretRef").is_some_and(|v| !v.is_null()))
            .map(|(k, _)| k)
            .collect()
    }

    /// A value below the container (`["resources", "limits", "cpu"]`).
    pub fn at(&self, path: &[&str]) -> Option<&'a Value> {
        let mut v = self.value.get(*path.first()?)?;
        for p in &path[1..] {
            v = v.get(p)?;
        }
        Some(v)
    }
}

impl<'a> Pod<'a> {
    /// Dotted path of a pod-spec field (`spec.template.spec.hostPID`).
    pub fn path(&self, rest: &str) -> String {
        if rest.is_empty() {
            self.prefix.to_string()
        } else {
            format!("{}.{rest}", self.prefix)
        }
    }

    /// JSON pointer of the pod spec inside the object (`/spec/template/spec`).
    pub fn pointer(&self) -> &'static str {
        self.spec_pointer
    }

    /// A pod-spec field.
    pub fn field(&self, name: &str) -> Option<&'a Value> {
        self.spec.get(name)
    }

    /// A boolean pod-spec field, `false` when unset or not a boolean.
    pub fn flag(&self, name: &str) -> bool {
        self.spec
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// A field of the pod's `securityContext`.
    pub fn security(&self, field: &str) -> Option<&'a Value> {
        self.spec.get("securityContext")?.as_object()?.get(field)
    }

    /// The containers of the given lists, in spec order per list.
    pub fn containers_of(&self, lists: &[ContainerList]) -> Vec<Container<'a>> {
        let mut out = Vec::new();
        for &list in lists {
            let Some(items) = self.spec.get(list.field()).and_then(Value::as_array) else {
                continue;
            };
            for (index, c) in items.iter().enumerate() {
                if let Some(value) = c.as_object() {
                    out.push(Container {
                        list,
                        index,
                        value,
                        prefix: self.prefix,
                    });
                }
            }
        }
        out
    }

    /// `containers` and `initContainers`.
    pub fn containers(&self) -> Vec<Container<'a>> {
        self.containers_of(&[ContainerList::Containers, ContainerList::Init])
    }

    /// Every container, ephemeral ones included.
    pub fn all_containers(&self) -> Vec<Container<'a>> {
        self.containers_of(&[
            ContainerList::Containers,
            ContainerList::Init,
            ContainerList::Ephemeral,
        ])
    }

    /// The volumes, with their index.
    pub fn volumes(&self) -> impl Iterator<Item = (usize, &'a Map<String, Value>)> {
        self.spec
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, v)| Some((i, v.as_object()?)))
    }

    /// An annotation of the pod.
    pub fn annotation(&self, key: &str) -> Option<&'a str> {
        self.meta?.get("annotations")?.get(key)?.as_str()
    }
}

/// The string at a path of object keys.
pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}
