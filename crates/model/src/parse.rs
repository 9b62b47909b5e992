//! The loader: the text of one file → located objects and per-document errors.
//!
//! YAML (multi-document, `---`/`...` markers) and JSON (one value, a top-level array, or a
//! stream of values) are accepted, as are `kind: List` and typed lists (`PodList`, …) whose items
//! may omit `kind`. A bad document is reported with its file, document number and line, and the
//! rest of the file is still read. Sizes are bounded by [`ParseLimits`]; nothing here panics on
//! any input (a fuzz target holds it to that).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::objects::{
    AdminNetworkPolicy, BindingRaw, CiliumNetworkPolicy, ControllerRaw, Ingress,
    IstioAuthorizationPolicy, Kind, LinkerdAuthorizationPolicy, LinkerdServer, MeshPolicy,
    MeshTlsAuthentication, Namespace, NetworkAuthentication, NetworkPolicy, Node, Object,
    PeerAuthentication, Pod, RoleRaw, Route, Secret, ServerAuthorization, Service, ServiceAccount,
};
use crate::redact::redact_excerpt;

/// Where an object came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source {
    /// File path as given by the caller.
    pub file: Arc<str>,
    /// 1-based document number within the file (JSON values count as documents).
    pub doc: u32,
    /// 1-based line where the object starts.
    pub line: u32,
    /// 0-based index within a `List`, when the object is a list item.
    pub item: Option<u32>,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} (document {}", self.file, self.line, self.doc)?;
        if let Some(i) = self.item {
            write!(f, ", item {i}")?;
        }
        f.write_str(")")
    }
}

/// An object with its source.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    /// Where it was read.
    pub source: Source,
    /// The object.
    pub object: T,
}

/// A document that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct LoadError {
    /// Where.
    pub location: Source,
    /// Why, in words (never contains a secret value: secret payloads are not parsed, and what
    /// the message quotes of the input goes through [`redact_excerpt`]).
    pub message: String,
}

/// Bounds on what one file may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest accepted text, in bytes.
    pub max_bytes: usize,
    /// Most documents read from one file.
    pub max_documents: usize,
    /// Most items read from one `List`.
    pub max_list_items: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bytes: 1 << 30,
            max_documents: 1_000_000,
            max_list_items: 5_000_000,
        }
    }
}

/// Everything read from one file.
#[derive(Debug, Default)]
pub struct ParsedSource {
    /// Recognised objects, in file order.
    pub objects: Vec<Located<Object>>,
    /// Documents that failed.
    pub errors: Vec<LoadError>,
    /// Objects of kinds rampart does not model, counted by `Kind (apiVersion)`.
    pub ignored: BTreeMap<String, usize>,
}

/// Parses one file's text. Never panics; every failure is a [`LoadError`].
pub fn parse_source(file: &str, text: &str, limits: &ParseLimits) -> ParsedSource {
    let mut p = Parser {
        file: Arc::from(file),
        out: ParsedSource::default(),
        limits: *limits,
    };
    if text.len() > limits.max_bytes {
        p.error(
            1,
            1,
            None,
            format!(
                "file is {} bytes, over the limit of {} bytes",
                text.len(),
                limits.max_bytes
            ),
        );
        return p.out;
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.trim_start().chars().next();
    if matches!(first, Some('{') | Some('[')) {
        if !p.parse_json(text) {
            // A flow-style YAML document also starts with `{`; give YAML a chance before
            // reporting the JSON error.
            let json_errors = std::mem::take(&mut p.out.errors);
            let before = p.out.objects.len();
            p.parse_yaml(text);
            if !p.out.errors.is_empty() || p.out.objects.len() == before {
                p.out.errors = json_errors;
            }
        }
    } else {
        p.parse_yaml(text);
    }
    p.out
}

struct Parser {
    file: Arc<str>,
    out: ParsedSource,
    limits: ParseLimits,
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    /// Any JSON value: whether it is a list is checked only for `*List` kinds, as the YAML
    /// path does, so both report a malformed `List` the same way.
    #[serde(default, borrow)]
    items: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct HeadOwned {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

/// Counts lines while walking forward through one text.
struct LineCounter<'a> {
    text: &'a str,
    offset: usize,
    line: u32,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            text,
            offset: 0,
            line: 1,
        }
    }
    fn line_at(&mut self, offset: usize) -> u32 {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        let n = self.text.as_bytes()[self.offset..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.line = self
            .line
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        self.offset = offset;
        self.line
    }
}

fn offset_in(outer: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

impl Parser {
    fn error(&mut self, doc: u32, line: u32, item: Option<u32>, message: String) {
        self.out.errors.push(LoadError {
            location: Source {
                file: self.file.clone(),
                doc,
                line,
                item,
            },
            // Parser messages quote the input (`invalid type: string "…"`), which can be a
            // misplaced secret.
            message: redact_excerpt(&message),
        });
    }

    /// Returns false when not even the first value parsed.
    fn parse_json(&mut self, text: &str) -> bool {
        let mut lines = LineCounter::new(text);
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
        let mut doc = 0u32;
        loop {
            let next = stream.next();
            let Some(next) = next else { return true };
            doc = doc.saturating_add(1);
            match next {
                Ok(raw) => {
                    if doc as usize > self.limits.max_documents {
                        let line = lines.line_at(offset_in(text, raw.get()));
                        self.error(
                            doc,
                            line,
                            None,
                            format!(
                                "more than {} documents; the rest of the file is skipped",
                                self.limits.max_documents
                            ),
                        );
                        return true;
                    }
                    let line = lines.line_at(offset_in(text, raw.get()));
                    let trimmed = raw.get().trim_start();
                    if trimmed.starts_with('[') {
                        // A top-level array of objects.
                        match serde_json::from_str::<Vec<&RawValue>>(raw.get()) {
                            Ok(items) => self.json_items(text, &mut lines, doc, None, &items),
                            Err(e) => self.error(doc, line, None, format!("invalid JSON: {e}")),
                        }
                    } else {
                        self.json_object(text, &mut lines, doc, line, None, None, raw.get());
                    }
                }
                Err(e) => {
                    if doc == 1 {
                        self.error(
                            doc,
                            u32::try_from(e.line()).unwrap_or(u32::MAX),
                            None,
                            format!("invalid JSON: {e}"),
                        );
                        return false;
                    }
                    self.error(
                        doc,
                        u32::try_from(e.line()).unwrap_or(u32::MAX),
                        None,
                        format!("invalid JSON: {e}; the rest of the file is skipped"),
                    );
                    return true;
                }
            }
        }
    }

    fn json_items(
        &mut self,
        text: &str,
        lines: &mut LineCounter<'_>,
        doc: u32,
        default: Option<(String, String)>,
        items: &[&RawValue],
    ) {
        for (i, item) in items.iter().enumerate() {
            if i >= self.limits.max_list_items {
                let line = lines.line_at(offset_in(text, item.get()));
                self.error(
                    doc,
                    line,
                    u32::try_from(i).ok(),
                    format!(
                        "more than {} list items; the rest are skipped",
                        self.limits.max_list_items
                    ),
                );
                return;
            }
            let line = lines.line_at(offset_in(text, item.get()));
            self.json_object(
                text,
                lines,
                doc,
                line,
                u32::try_from(i).ok(),
                default.clone(),
                item.get(),
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn json_object(
        &mut self,
        text: &str,
        lines: &mut LineCounter<'_>,
        doc: u32,
        line: u32,
        item: Option<u32>,
        default: Option<(String, String)>,
        raw: &str,
    ) {
        let head: Head<'_> = match serde_json::from_str(raw) {
            Ok(h) => h,
            Err(e) => return self.error(doc, line, item, format!("not a Kubernetes object: {e}")),
        };
        let (api_version, kind) = match (head.api_version, head.kind, default) {
            (a, Some(k), d) => (a.or(d.map(|d| d.0)).unwrap_or_default(), k),
            (a, None, Some((da, dk))) => (a.unwrap_or(da), dk),
            (_, None, None) => return self.error(doc, line, item, "document has no `kind`".into()),
        };
        if let Some(items) = head
            .items
            .filter(|i| kind.ends_with("List") && i.get().trim() != "null")
        {
            let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(items.get()) else {
                return self.error(doc, line, item, list_items_error(&kind));
            };
            if item.is_some() {
                return self.error(
                    doc,
                    line,
                    item,
                    "a List nested inside a List is not supported".into(),
                );
            }
            let element = kind.trim_end_matches("List");
            let default = (!element.is_empty()).then(|| (api_version.clone(), element.to_string()));
            return self.json_items(text, lines, doc, default, &items);
        }
        let Some(k) = Kind::from_type(&api_version, &kind) else {
            *self
                .out
                .ignored
                .entry(kind_label(&api_version, &kind))
                .or_default() += 1;
            return;
        };
        let mut de = serde_json::Deserializer::from_str(raw);
        match decode(k, &mut de) {
            Ok(obj) => self.push(obj, doc, line, item),
            Err(e) => self.error(doc, line, item, format!("invalid {kind}: {e}")),
        }
    }

    fn parse_yaml(&mut self, text: &str) {
        let mut doc = 0u32;
        for (start_line, chunk) in split_yaml_documents(text) {
            if !has_content(chunk) {
                continue;
            }
            doc = doc.saturating_add(1);
            if doc as usize > self.limits.max_documents {
                self.error(
                    doc,
                    start_line,
                    None,
                    format!(
                        "more than {} documents; the rest of the file is skipped",
                        self.limits.max_documents
                    ),
                );
                return;
            }
            let options = serde_saphyr::options! { with_snippet: false };
            let value: serde_json::Value = match serde_saphyr::from_str_with_options(chunk, options)
            {
                Ok(v) => v,
                Err(e) => {
                    self.error(
                        doc,
                        start_line,
                        None,
                        format!("invalid YAML: {}", one_line(&e.to_string())),
                    );
                    continue;
                }
            };
            self.value_object(doc, start_line, None, None, &value);
        }
    }

    fn value_object(
        &mut self,
        doc: u32,
        line: u32,
        item: Option<u32>,
        default: Option<(String, String)>,
        value: &serde_json::Value,
    ) {
        if value.is_null() {
            return;
        }
        let head = match HeadOwned::deserialize(value) {
            Ok(h) => h,
            Err(e) => return self.error(doc, line, item, format!("not a Kubernetes object: {e}")),
        };
        let (api_version, kind) = match (head.api_version, head.kind, default) {
            (a, Some(k), d) => (a.or(d.map(|d| d.0)).unwrap_or_default(), k),
            (a, None, Some((da, dk))) => (a.unwrap_or(da), dk),
            (_, None, None) => return self.error(doc, line, item, "document has no `kind`".into()),
        };
        if kind.ends_with("List")
            && let Some(items) = value.get("items").filter(|i| !i.is_null())
        {
            let Some(items) = items.as_array() else {
                return self.error(doc, line, item, list_items_error(&kind));
            };
            if item.is_some() {
                return self.error(
                    doc,
                    line,
                    item,
                    "a List nested inside a List is not supported".into(),
                );
            }
            let element = kind.trim_end_matches("List");
            let default = (!element.is_empty()).then(|| (api_version.clone(), element.to_string()));
            for (i, it) in items.iter().enumerate() {
                if i >= self.limits.max_list_items {
                    self.error(
                        doc,
                        line,
                        u32::try_from(i).ok(),
                        format!(
                            "more than {} list items; the rest are skipped",
                            self.limits.max_list_items
                        ),
                    );
                    return;
                }
                self.value_object(doc, line, u32::try_from(i).ok(), default.clone(), it);
            }
            return;
        }
        let Some(k) = Kind::from_type(&api_version, &kind) else {
            *self
                .out
                .ignored
                .entry(kind_label(&api_version, &kind))
                .or_default() += 1;
            return;
        };
        match decode(k, value) {
            Ok(obj) => self.push(obj, doc, line, item),
            Err(e) => self.error(doc, line, item, format!("invalid {kind}: {e}")),
        }
    }

    fn push(&mut self, mut object: Object, doc: u32, line: u32, item: Option<u32>) {
        let kind = object.kind();
        let meta = object.meta_mut();
        if meta.display_name().is_empty() {
            return self.error(doc, line, item, format!("{kind} has no metadata.name"));
        }
        if kind.is_namespaced() {
            if meta.namespace.is_empty() {
                meta.namespace = "default".to_string();
            }
        } else {
            meta.namespace.clear();
        }
        self.out.objects.push(Located {
            source: Source {
                file: self.file.clone(),
                doc,
                line,
                item,
            },
            object,
        });
    }
}

/// One object from the API (a watch event): the lean model object, `Ok(None)` for kinds rampart
/// does not model, or why it does not parse. `origin` names where it came from (`watch`).
pub fn object_from_value(
    origin: impl Into<Arc<str>>,
    value: &serde_json::Value,
) -> Result<Option<Located<Object>>, String> {
    let mut p = Parser {
        file: origin.into(),
        out: ParsedSource::default(),
        limits: ParseLimits::default(),
    };
    p.value_object(0, 0, None, None, value);
    if let Some(e) = p.out.errors.pop() {
        return Err(e.message);
    }
    Ok(p.out.objects.pop())
}

/// One document of a file as plain JSON, for readers that need whole objects (admission
/// policies, objects to check) rather than the lean model.
#[derive(Debug, Clone)]
pub struct RawDocument {
    /// Where it was found.
    pub source: Source,
    /// The object (`List` items are expanded, each inheriting the list's element kind).
    pub value: serde_json::Value,
}

/// Splits a file into raw objects: multi-document YAML, a JSON value or stream, `List`s
/// expanded. Same limits and error reporting as [`parse_source`]; never panics.
pub fn raw_documents(
    file: &str,
    text: &str,
    limits: &ParseLimits,
) -> (Vec<RawDocument>, Vec<LoadError>) {
    let file: Arc<str> = Arc::from(file);
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    let err = |doc: u32, line: u32, message: String| LoadError {
        location: Source {
            file: file.clone(),
            doc,
            line,
            item: None,
        },
        // As in `Parser::error`: parser messages can quote a misplaced secret.
        message: redact_excerpt(&message),
    };
    if text.len() > limits.max_bytes {
        errors.push(err(
            1,
            1,
            format!(
                "file is {} bytes, over the limit of {} bytes",
                text.len(),
                limits.max_bytes
            ),
        ));
        return (docs, errors);
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut values: Vec<(u32, u32, serde_json::Value)> = Vec::new();
    let json_first = matches!(text.trim_start().chars().next(), Some('{') | Some('['));
    let json: Option<Vec<serde_json::Value>> = json_first
        .then(|| {
            serde_json::Deserializer::from_str(text)
                .into_iter::<crate::de::LeanDocument>()
                .map(|d| d.map(|d| d.0))
                .collect::<Result<Vec<_>, _>>()
                .ok()
        })
        .flatten();
    match json {
        Some(vs) => {
            for (i, v) in vs.into_iter().enumerate() {
                let doc = u32::try_from(i + 1).unwrap_or(u32::MAX);
                match v {
                    serde_json::Value::Array(items) => {
                        values.extend(items.into_iter().map(|v| (doc, 1, v)))
                    }
                    v => values.push((doc, 1, v)),
                }
            }
        }
        None => {
            let mut doc = 0u32;
            for (line, chunk) in split_yaml_documents(text) {
                if !has_content(chunk) {
                    continue;
                }
                doc = doc.saturating_add(1);
                if doc as usize > limits.max_documents {
                    errors.push(err(
                        doc,
                        line,
                        format!(
                            "more than {} documents; the rest of the file is skipped",
                            limits.max_documents
                        ),
                    ));
                    break;
                }
                let options = serde_saphyr::options! { with_snippet: false };
                match serde_saphyr::from_str_with_options::<serde_json::Value>(chunk, options) {
                    Ok(serde_json::Value::Null) => {}
                    Ok(v) => values.push((doc, line, v)),
                    Err(e) => errors.push(err(
                        doc,
                        line,
                        format!("invalid YAML: {}", one_line(&e.to_string())),
                    )),
                }
            }
        }
    }
    for (doc, line, mut v) in values {
        let kind = v
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        // The items are moved out of the list, not copied: a 10,000-pod dump would otherwise
        // be held twice.
        let items = v
            .get_mut("items")
            .filter(|i| kind.ends_with("List") && !i.is_null())
            .map(serde_json::Value::take);
        if items.as_ref().is_some_and(|i| !i.is_array()) {
            errors.push(err(doc, line, list_items_error(&kind)));
            continue;
        }
        match items {
            Some(serde_json::Value::Array(items)) => {
                let element = kind.trim_end_matches("List").to_string();
                let api_version = v.get("apiVersion").cloned();
                let total = items.len();
                for (i, mut item) in items.into_iter().take(limits.max_list_items).enumerate() {
                    if let Some(o) = item.as_object_mut()
                        && !element.is_empty()
                        && !o.contains_key("kind")
                    {
                        o.insert("kind".into(), element.clone().into());
                        if let Some(a) = &api_version {
                            o.entry("apiVersion").or_insert(a.clone());
                        }
                    }
                    docs.push(RawDocument {
                        source: Source {
                            file: file.clone(),
                            doc,
                            line,
                            item: u32::try_from(i).ok(),
                        },
                        value: item,
                    });
                }
                if total > limits.max_list_items {
                    errors.push(err(
                        doc,
                        line,
                        format!(
                            "more than {} list items; the rest are skipped",
                            limits.max_list_items
                        ),
                    ));
                }
            }
            Some(_) => {}
            None if v.is_object() => docs.push(RawDocument {
                source: Source {
                    file: file.clone(),
                    doc,
                    line,
                    item: None,
                },
                value: v,
            }),
            None => errors.push(err(
                doc,
                line,
                "not a Kubernetes object (expected a mapping)".into(),
            )),
        }
    }
    (docs, errors)
}

/// The key of an unmodelled kind in [`ParsedSource::ignored`]. Redacted like a message: it is
/// printed in reports ("not modelled: …"), and `kind:` is input text like any other.
fn kind_label(api_version: &str, kind: &str) -> String {
    if api_version.is_empty() {
        redact_excerpt(kind)
    } else {
        redact_excerpt(&format!("{kind} ({api_version})"))
    }
}

/// The error for a `kind: List` (or typed `*List`) whose `items` is not a list, the same for
/// JSON, YAML and raw documents.
fn list_items_error(kind: &str) -> String {
    format!("the `items` of a {kind} must be a list")
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn decode<'de, D: Deserializer<'de>>(kind: Kind, d: D) -> Result<Object, D::Error> {
    Ok(match kind {
        Kind::Namespace => Object::Namespace(Box::new(Namespace::deserialize(d)?)),
        Kind::Node => Object::Node(Box::new(Node::deserialize(d)?)),
        Kind::Pod => Object::Pod(Box::new(Pod::deserialize(d)?)),
        Kind::Deployment
        | Kind::ReplicaSet
        | Kind::StatefulSet
        | Kind::DaemonSet
        | Kind::Job
        | Kind::CronJob
        | Kind::ReplicationController => Object::Controller(Box::new(
            ControllerRaw::deserialize(d)?.into_controller(kind),
        )),
        Kind::Service => Object::Service(Box::new(Service::deserialize(d)?)),
        Kind::Ingress => Object::Ingress(Box::new(Ingress::deserialize(d)?)),
        Kind::Route => Object::Route(Box::new(Route::deserialize(d)?)),
        Kind::ServiceAccount => Object::ServiceAccount(Box::new(ServiceAccount::deserialize(d)?)),
        Kind::Secret => Object::Secret(Box::new(Secret::deserialize(d)?)),
        Kind::Role => Object::Role(Box::new(RoleRaw::deserialize(d)?.into_role(false))),
        Kind::ClusterRole => Object::Role(Box::new(RoleRaw::deserialize(d)?.into_role(true))),
        Kind::RoleBinding => {
            Object::Binding(Box::new(BindingRaw::deserialize(d)?.into_binding(false)))
        }
        Kind::ClusterRoleBinding => {
            Object::Binding(Box::new(BindingRaw::deserialize(d)?.into_binding(true)))
        }
        Kind::NetworkPolicy => Object::NetworkPolicy(Box::new(NetworkPolicy::deserialize(d)?)),
        Kind::AdminNetworkPolicy | Kind::BaselineAdminNetworkPolicy => {
            let mut p = AdminNetworkPolicy::deserialize(d)?;
            p.baseline = kind == Kind::BaselineAdminNetworkPolicy;
            Object::AdminNetworkPolicy(Box::new(p))
        }
        Kind::CiliumNetworkPolicy | Kind::CiliumClusterwideNetworkPolicy => {
            let mut p = CiliumNetworkPolicy::deserialize(d)?;
            p.clusterwide = kind == Kind::CiliumClusterwideNetworkPolicy;
            Object::CiliumNetworkPolicy(Box::new(p))
        }
        Kind::IstioAuthorizationPolicy => Object::Mesh(Box::new(MeshPolicy::IstioAuthorization(
            IstioAuthorizationPolicy::deserialize(d)?,
        ))),
        Kind::PeerAuthentication => Object::Mesh(Box::new(MeshPolicy::PeerAuthentication(
            PeerAuthentication::deserialize(d)?,
        ))),
        Kind::LinkerdServer => {
            Object::Mesh(Box::new(MeshPolicy::Server(LinkerdServer::deserialize(d)?)))
        }
        Kind::ServerAuthorization => Object::Mesh(Box::new(MeshPolicy::ServerAuthorization(
            ServerAuthorization::deserialize(d)?,
        ))),
        Kind::LinkerdAuthorizationPolicy => Object::Mesh(Box::new(
            MeshPolicy::LinkerdAuthorization(LinkerdAuthorizationPolicy::deserialize(d)?),
        )),
        Kind::MeshTlsAuthentication => Object::Mesh(Box::new(MeshPolicy::MeshTlsAuthentication(
            MeshTlsAuthentication::deserialize(d)?,
        ))),
        Kind::NetworkAuthentication => Object::Mesh(Box::new(MeshPolicy::NetworkAuthentication(
            NetworkAuthentication::deserialize(d)?,
        ))),
    })
}

/// Splits YAML text at document markers, keeping each chunk's 1-based start line.
fn split_yaml_documents(text: &str) -> Vec<(u32, &str)> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1u32;
    let mut offset = 0usize;
    let mut line_no = 1u32;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_start = bare.starts_with("---")
            && bare[3..]
                .chars()
                .next()
                .is_none_or(|c| c == ' ' || c == '\t');
        let is_end = bare.starts_with("...") && bare[3..].trim().is_empty();
        if is_start {
            out.push((start_line, &text[start..offset]));
            start = offset;
            start_line = line_no;
        } else if is_end {
            out.push((start_line, &text[start..offset]));
            start = offset + line.len();
            start_line = line_no.saturating_add(1);
        }
        offset += line.len();
        line_no = line_no.saturating_add(1);
    }
    out.push((start_line, &text[start..]));
    out
}

fn has_content(chunk: &str) -> bool {
    chunk.lines().any(|l| {
        let t = l.trim();
        !(t.is_empty() || t.starts_with('#') || t == "---" || t.starts_with("--- #"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ParsedSource {
        parse_source("t.yaml", text, &ParseLimits::default())
    }

    #[test]
    fn a_pod_keeps_only_its_ready_condition() {
        let pod = |containers_ready: &str| {
            let text = format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: shop}}\nspec: {{containers: [{{name: c}}]}}\nstatus:\n  phase: Running\n  conditions:\n  - {{type: PodScheduled, status: \"True\"}}\n  - {{type: ContainersReady, status: \"{containers_ready}\"}}\n  - {{type: Ready, status: \"True\"}}\n"
            );
            let mut parsed = parse(&text);
            assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
            match parsed.objects.remove(0).object {
                Object::Pod(p) => p,
                other => panic!("{other:?}"),
            }
        };
        let (a, b) = (pod("True"), pod("False"));
        assert_eq!(a.status.conditions.len(), 1);
        assert!(a.is_ready());
        // A flip of a condition rampart does not read is no change.
        assert_eq!(a.status, b.status);
    }

    #[test]
    fn multi_document_yaml_with_lines() {
        let p = parse(
            "# c\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n",
        );
        assert_eq!(p.errors, vec![]);
        assert_eq!(p.objects.len(), 2);
        assert_eq!(p.objects[0].source.line, 1);
        assert_eq!(p.objects[1].source.line, 6);
        assert_eq!(p.objects[1].source.doc, 2);
        assert_eq!(p.objects[1].object.meta().namespace, "default");
    }

    #[test]
    fn bad_document_does_not_stop_the_file() {
        let p = parse(
            "kind: Pod\napiVersion: v1\nmetadata: {name: a}\nspec: {containers: 3}\n---\nkind: Namespace\napiVersion: v1\nmetadata: {name: b}\n",
        );
        assert_eq!(p.objects.len(), 1);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].location.doc, 1);
        assert!(
            p.errors[0].message.contains("invalid Pod"),
            "{}",
            p.errors[0].message
        );
    }

    #[test]
    fn json_list_items_get_lines_and_kinds() {
        let text = "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":[\n{\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"}},\n{\"metadata\":{\"name\":\"b\"}}]}";
        let p = parse_source("d.json", text, &ParseLimits::default());
        assert_eq!(p.errors, vec![]);
        assert_eq!(p.objects.len(), 2);
        assert_eq!(p.objects[1].source.line, 3);
        assert_eq!(p.objects[1].source.item, Some(1));
        assert!(matches!(p.objects[0].object, Object::Pod(_)));
    }

    #[test]
    fn unknown_kinds_are_counted() {
        let p = parse(
            "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
        );
        assert!(p.objects.is_empty());
        assert_eq!(
            p.ignored.get("NetworkPolicy (projectcalico.org/v3)"),
            Some(&1)
        );
        assert_eq!(p.ignored.get("ConfigMap (v1)"), Some(&1));
    }

    #[test]
    fn secret_values_are_never_parsed_into_the_model() {
        let p = parse(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{\"data\":{\"k\":\"c2VjcmV0\"}}'\ndata:\n  k: c2VjcmV0\nstringData:\n  p: hunter2\n",
        );
        assert_eq!(p.objects.len(), 1);
        let dbg = format!("{:?}", p.objects[0]);
        assert!(
            !dbg.contains("c2VjcmV0") && !dbg.contains("hunter2"),
            "{dbg}"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for text in [
            "{",
            "[1,2",
            "\u{0}\u{1}",
            ": : :",
            "kind: [",
            "- a\n- b",
            "{\"kind\":1}",
            "[{\"kind\":\"List\",\"items\":[{\"kind\":\"List\",\"items\":[]}]}]",
        ] {
            let p = parse(text);
            assert!(p.objects.is_empty(), "{text}");
        }
    }

    const JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.abcdefghijklmnop";

    #[test]
    fn a_misplaced_token_is_not_echoed_in_errors() {
        for (file, text) in [
            (
                "t.yaml",
                format!(
                    "apiVersion: v1\nkind: Pod\nmetadata: {{name: a}}\nspec:\n  containers: {JWT}\n"
                ),
            ),
            (
                "t.yaml",
                format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: a, labels: {JWT}}}\n"),
            ),
            (
                "t.json",
                format!(
                    "{{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{{\"name\":\"a\"}},\"spec\":{{\"containers\":\"{JWT}\"}}}}"
                ),
            ),
            (
                "t.yaml",
                format!(
                    "apiVersion: v1\nkind: Secret\nmetadata: {{name: s, annotations: {{token: {JWT}, x: [}}}}\n"
                ),
            ),
            (
                "t.yaml",
                format!("apiVersion: v1\nkind: {JWT}\nmetadata: {{name: a}}\n"),
            ),
        ] {
            let p = parse_source(file, &text, &ParseLimits::default());
            let (_, raw_errors) = raw_documents(file, &text, &ParseLimits::default());
            let shown = format!("{:?} {:?} {:?}", p.errors, p.ignored, raw_errors);
            assert!(!shown.contains("hbGciOiJSUzI1NiIs"), "{shown}");
            assert!(
                !p.errors.is_empty() || !p.ignored.is_empty(),
                "{text}: something is reported"
            );
        }
        // What locates the problem survives.
        let p = parse(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: a}}\nspec:\n  containers: {JWT}\n"
        ));
        assert!(
            p.errors[0]
                .message
                .starts_with("invalid Pod: invalid type: string \"eyJh…("),
            "{}",
            p.errors[0].message
        );
        assert!(p.errors[0].message.ends_with("expected a sequence"));
    }

    #[test]
    fn a_list_whose_items_is_not_a_list_is_an_error_in_yaml_and_json() {
        let expected = "the `items` of a List must be a list";
        for (file, text) in [
            ("l.yaml", "apiVersion: v1\nkind: List\nitems: {a: 1}\n"),
            ("l.yaml", "apiVersion: v1\nkind: List\nitems: oops\n"),
            (
                "l.json",
                "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":\"oops\"}",
            ),
            (
                "l.json",
                "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":{\"a\":1}}",
            ),
        ] {
            let p = parse_source(file, text, &ParseLimits::default());
            assert!(p.ignored.is_empty(), "{text}: {:?}", p.ignored);
            assert_eq!(p.errors.len(), 1, "{text}");
            assert_eq!(p.errors[0].message, expected, "{text}");
            let (docs, errors) = raw_documents(file, text, &ParseLimits::default());
            assert!(docs.is_empty(), "{text}");
            assert_eq!(errors.len(), 1, "{text}");
            assert_eq!(errors[0].message, expected, "{text}");
        }
        // Typed lists say which list.
        let p = parse("apiVersion: v1\nkind: PodList\nitems: 3\n");
        assert_eq!(
            p.errors[0].message,
            "the `items` of a PodList must be a list"
        );
        // An empty list, written either way, is no error.
        for text in [
            "apiVersion: v1\nkind: List\nitems: []\n",
            "apiVersion: v1\nkind: List\nitems:\n",
            "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":null}",
        ] {
            assert!(parse(text).errors.is_empty(), "{text}");
            assert!(
                raw_documents("l", text, &ParseLimits::default())
                    .1
                    .is_empty()
            );
        }
    }

    #[test]
    fn empty_files_are_fine() {
        assert!(parse("").errors.is_empty());
        assert!(parse("# only a comment\n---\n").errors.is_empty());
    }
}
