//! The pod inside an admitted object: a Pod's own metadata and spec, or the pod template of a
//! workload, with the JSON pointer where that spec lives (for patches and field paths).

use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;

/// Kinds whose pods rampart evaluates (core and apps/batch groups only): the kinds a policy
/// may target.
pub const POD_KINDS: &[&str] = rampart_api::TARGET_KINDS;

/// An object whose shape is not what its kind promises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} does not have the shape of a Kubernetes {kind}: {reason}")]
pub struct ShapeError {
    /// The kind.
    pub kind: String,
    /// What did not parse.
    pub reason: String,
}

/// The pod of an admitted object.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSource {
    /// Kind of the admitted object.
    pub kind: String,
    /// The admitted object's own metadata (for a Pod, the pod's).
    pub object_meta: ObjectMeta,
    /// The pod's metadata (a Pod's own, or the template's).
    pub meta: ObjectMeta,
    /// The pod spec.
    pub spec: PodSpec,
    /// JSON pointer of the pod spec inside the object (`/spec`, `/spec/template/spec`, …).
    pub spec_pointer: &'static str,
    /// Whether the object as sent has a pod spec at `spec_pointer` (patches add below it).
    pub spec_present: bool,
}

impl PodSource {
    /// Whether this is a Pod (enforced by Pod Security) rather than a template (warned).
    pub fn is_pod(&self) -> bool {
        self.kind == "Pod"
    }
    /// The dotted field path of a pod-spec field, for messages (`spec.template.spec.containers[0]`).
    pub fn field(&self, rest: &str) -> String {
        let base = self.spec_pointer.trim_start_matches('/').replace('/', ".");
        if rest.is_empty() {
            base
        } else {
            format!("{base}.{rest}")
        }
    }
}

/// An admitted object as JSON: a parsed value, or the raw text of the review (parsed straight
/// into typed objects, which is what keeps a review in tens of microseconds).
#[derive(Debug, Clone, Copy)]
pub enum ObjectJson<'a> {
    /// Already parsed.
    Value(&'a serde_json::Value),
    /// Raw JSON text.
    Raw(&'a serde_json::value::RawValue),
    /// Raw JSON text read onto a tape once (alone, or as a node of the whole review's tape):
    /// typed objects and CEL expressions read the tape.
    Read(&'a str, &'a rampart_cel::Document),
}

impl<'a> From<&'a serde_json::Value> for ObjectJson<'a> {
    fn from(v: &'a serde_json::Value) -> Self {
        ObjectJson::Value(v)
    }
}

impl<'a> From<&'a serde_json::value::RawValue> for ObjectJson<'a> {
    fn from(v: &'a serde_json::value::RawValue) -> Self {
        ObjectJson::Raw(v)
    }
}

impl<'a> ObjectJson<'a> {
    /// Deserializes into `T`.
    pub fn typed<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        match self {
            ObjectJson::Value(v) => T::deserialize(*v),
            ObjectJson::Raw(r) => serde_json::from_str(r.get()),
            // A refusal is worded from the text (with its line and column).
            ObjectJson::Read(text, d) => d.typed().or_else(|_| serde_json::from_str(text)),
        }
    }

    /// Raw text read onto a tape (`None` for a value parsed already, or text that is not
    /// JSON a tape holds).
    pub fn read(&self) -> Option<rampart_cel::Document> {
        match self {
            ObjectJson::Raw(r) => rampart_cel::Document::parse(r.get()).ok(),
            ObjectJson::Value(_) | ObjectJson::Read(..) => None,
        }
    }

    /// This object read from `doc` (what [`ObjectJson::read`] gave for it).
    pub fn with<'b>(self, doc: Option<&'b rampart_cel::Document>) -> ObjectJson<'b>
    where
        'a: 'b,
    {
        match (self, doc) {
            (ObjectJson::Raw(r), Some(d)) => ObjectJson::Read(r.get(), d),
            (o, _) => o,
        }
    }
}

fn typed<T: DeserializeOwned>(kind: &str, v: ObjectJson<'_>) -> Result<T, ShapeError> {
    v.typed().map_err(|e| ShapeError {
        kind: kind.to_string(),
        reason: e.to_string(),
    })
}

fn template(
    kind: &str,
    object_meta: ObjectMeta,
    t: Option<PodTemplateSpec>,
    spec_pointer: &'static str,
) -> PodSource {
    let spec_present = t.as_ref().is_some_and(|t| t.spec.is_some());
    let t = t.unwrap_or_default();
    PodSource {
        kind: kind.to_string(),
        object_meta,
        meta: t.metadata.unwrap_or_default(),
        spec: t.spec.unwrap_or_default(),
        spec_pointer,
        spec_present,
    }
}

/// The pod of `object` if `kind` is one of [`POD_KINDS`]; `Ok(None)` for other kinds.
pub fn pod_source<'a>(
    kind: &str,
    object: impl Into<ObjectJson<'a>>,
) -> Result<Option<PodSource>, ShapeError> {
    let object = object.into();
    use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
    use k8s_openapi::api::batch::v1::{CronJob, Job};
    use k8s_openapi::api::core::v1::{Pod, ReplicationController};
    const TEMPLATE: &str = "/spec/template/spec";
    Ok(Some(match kind {
        "Pod" => {
            let p: Pod = typed(kind, object)?;
            PodSource {
                kind: kind.to_string(),
                object_meta: p.metadata.clone(),
                meta: p.metadata,
                spec_present: p.spec.is_some(),
                spec: p.spec.unwrap_or_default(),
                spec_pointer: "/spec",
            }
        }
        "Deployment" => {
            let d: Deployment = typed(kind, object)?;
            template(kind, d.metadata, Some(d.spec.template), TEMPLATE)
        }
        "ReplicaSet" => {
            let d: ReplicaSet = typed(kind, object)?;
            template(kind, d.metadata, d.spec.template, TEMPLATE)
        }
        "StatefulSet" => {
            let d: StatefulSet = typed(kind, object)?;
            template(kind, d.metadata, Some(d.spec.template), TEMPLATE)
        }
        "DaemonSet" => {
            let d: DaemonSet = typed(kind, object)?;
            template(kind, d.metadata, Some(d.spec.template), TEMPLATE)
        }
        "Job" => {
            let d: Job = typed(kind, object)?;
            template(kind, d.metadata, d.spec.map(|s| s.template), TEMPLATE)
        }
        "ReplicationController" => {
            let d: ReplicationController = typed(kind, object)?;
            template(kind, d.metadata, d.spec.and_then(|s| s.template), TEMPLATE)
        }
        "CronJob" => {
            let d: CronJob = typed(kind, object)?;
            template(
                kind,
                d.metadata,
                d.spec.job_template.spec.map(|s| s.template),
                "/spec/jobTemplate/spec/template/spec",
            )
        }
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_and_pointers() {
        let cj = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {
                "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "x"}]}}}}}});
        let p = pod_source("CronJob", &cj).unwrap().unwrap();
        assert_eq!(p.spec.containers[0].name, "x");
        assert_eq!(p.meta.labels.as_ref().unwrap()["a"], "b");
        assert_eq!(
            p.field("containers[0]"),
            "spec.jobTemplate.spec.template.spec.containers[0]"
        );
        assert!(!p.is_pod());
        assert_eq!(pod_source("ConfigMap", &json!({})).unwrap(), None);
    }

    #[test]
    fn wrong_shapes_are_errors() {
        let e = pod_source("Pod", &json!({"spec": {"containers": "nope"}})).unwrap_err();
        assert!(e.to_string().contains("Pod"), "{e}");
        assert!(pod_source("Deployment", &json!([1, 2])).is_err());
    }
}
