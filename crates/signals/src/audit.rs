//! kube-apiserver audit events (`audit.k8s.io/v1`, also `v1beta1`): what the audit webhook
//! backend POSTs (an `EventList`), a bare `Event`, or the log backend's one event per line.
//!
//! Only one kind of event is evidence here: a ServiceAccount allowed to `get`, `list` or
//! `watch` core `secrets`. Everything else is dropped on the cheapest test that rules it out,
//! and counted. Request and response bodies are never read (they may hold secret values); the
//! read keeps names only.

use std::borrow::Cow;

use serde::Deserialize;

use crate::bounded::{MAX_NAME, MAX_TOKEN, truncate};

/// Most events accepted in one request.
pub const MAX_EVENTS: usize = 100_000;

/// How a Secret was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    /// One Secret.
    Get,
    /// A namespace's (or every) Secrets.
    List,
    /// A stream of them.
    Watch,
}

/// A ServiceAccount read Secrets through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRead {
    /// `auditID`.
    pub audit_id: String,
    /// The ServiceAccount's namespace.
    pub sa_namespace: String,
    /// The ServiceAccount.
    pub sa_name: String,
    /// The pod whose bound token made the request (`user.extra`
    /// `authentication.kubernetes.io/pod-name`), when the apiserver says.
    pub pod: Option<String>,
    /// How.
    pub verb: Verb,
    /// The Secrets' namespace; `None` for a cluster-wide list or watch.
    pub namespace: Option<String>,
    /// The Secret; `None` for a list or watch.
    pub name: Option<String>,
    /// `stageTimestamp`.
    pub time: String,
}

/// Why an event was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Drop {
    /// Not about core `secrets` (or about a subresource).
    NotSecrets,
    /// Not `get`, `list` or `watch`.
    NotARead,
    /// Made by someone other than a ServiceAccount.
    NotAServiceAccount,
    /// A stage that does not say the read happened (`RequestReceived`, `Panic`).
    Stage,
    /// Refused or failed (`responseStatus.code` not 2xx).
    Failed,
    /// A ServiceAccount on the allow-list (infrastructure that reads Secrets by design).
    Allowed,
    /// Not an audit event, or a name longer than any valid one.
    Malformed,
    /// Made through impersonation: not a workload's own token (and the impersonator chooses
    /// the identity and its `extra`).
    Impersonated,
}

impl Drop {
    /// Every reason, for metrics.
    pub const ALL: [Drop; 8] = [
        Drop::NotSecrets,
        Drop::NotARead,
        Drop::NotAServiceAccount,
        Drop::Stage,
        Drop::Failed,
        Drop::Allowed,
        Drop::Malformed,
        Drop::Impersonated,
    ];

    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Drop::NotSecrets => "not_secrets",
            Drop::NotARead => "not_a_read",
            Drop::NotAServiceAccount => "not_a_serviceaccount",
            Drop::Stage => "stage",
            Drop::Failed => "failed",
            Drop::Allowed => "allowed",
            Drop::Malformed => "malformed",
            Drop::Impersonated => "impersonated",
        }
    }
}

/// ServiceAccounts whose Secret reads are not evidence: `namespace` and `name`, where `*`
/// matches any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList(pub Vec<(String, String)>);

/// The default allow-list: `kube-system`'s controllers and the usual operators that read
/// Secrets by design, in their default namespaces.
pub const DEFAULT_ALLOW: &str = "kube-system:*,cert-manager:cert-manager,external-secrets:external-secrets,argocd:argocd-application-controller,argocd:argocd-server,argocd:argocd-repo-server,flux-system:kustomize-controller,flux-system:helm-controller,flux-system:source-controller";

impl Default for AllowList {
    fn default() -> Self {
        AllowList::parse(DEFAULT_ALLOW)
            .unwrap_or(AllowList(vec![("kube-system".into(), "*".into())]))
    }
}

impl AllowList {
    /// Parses `ns:sa` entries (`*` for any), comma-separated.
    pub fn parse(s: &str) -> Result<AllowList, AuditError> {
        let mut out = Vec::new();
        for e in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (ns, sa) = e
                .split_once(':')
                .filter(|(n, a)| !n.is_empty() && !a.is_empty())
                .ok_or_else(|| AuditError::AllowList(truncate(e, MAX_TOKEN)))?;
            out.push((ns.to_string(), sa.to_string()));
        }
        Ok(AllowList(out))
    }

    fn allows(&self, ns: &str, sa: &str) -> bool {
        self.0
            .iter()
            .any(|(n, a)| (n == "*" || n == ns) && (a == "*" || a == sa))
    }
}

/// A body that could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// Not JSON or not audit events.
    #[error("malformed audit payload: {0}")]
    Malformed(String),
    /// More than [`MAX_EVENTS`].
    #[error("more than {MAX_EVENTS} events in one request")]
    TooMany,
    /// An allow-list entry that is not `namespace:serviceaccount`.
    #[error("allow-list entry {0:?} is not namespace:serviceaccount")]
    AllowList(String),
}

/// What one request held.
#[derive(Debug, Default)]
pub struct AuditBatch {
    /// Secret reads by ServiceAccounts: the evidence.
    pub reads: Vec<SecretRead>,
    /// Events seen.
    pub events: usize,
    /// Events dropped, by reason (in [`Drop::ALL`] order).
    pub dropped: [usize; Drop::ALL.len()],
}

impl AuditBatch {
    /// Events dropped for `reason`.
    pub fn dropped(&self, reason: Drop) -> usize {
        self.dropped[reason as usize]
    }

    fn take(&mut self, e: &RawEvent<'_>, allow: &AllowList) {
        self.events += 1;
        match judge(e, allow) {
            Ok(r) => self.reads.push(r),
            Err(d) => self.dropped[d as usize] += 1,
        }
    }
}

/// Parses and filters a request body: an `EventList`, one `Event`, or one event per line.
pub fn parse_body(body: &[u8], allow: &AllowList) -> Result<AuditBatch, AuditError> {
    let trimmed = body.trim_ascii();
    let mut batch = AuditBatch::default();
    let malformed =
        |e: serde_json::Error| AuditError::Malformed(truncate(&e.to_string(), MAX_TOKEN));
    // One document (a list or an event) unless there are several lines of JSON.
    let one: Result<RawEvent<'_>, _> = serde_json::from_slice(trimmed);
    match one {
        Ok(doc) => {
            if let Some(items) = &doc.items {
                if items.len() > MAX_EVENTS {
                    return Err(AuditError::TooMany);
                }
                for e in items {
                    batch.take(e, allow);
                }
            } else if doc.kind.as_deref() == Some("Event") || doc.audit_id.is_some() {
                batch.take(&doc, allow);
            } else {
                return Err(AuditError::Malformed(
                    "neither an EventList nor an Event".into(),
                ));
            }
        }
        Err(first) => {
            let mut lines = trimmed
                .split(|b| *b == b'\n')
                .map(<[u8]>::trim_ascii)
                .filter(|l| !l.is_empty())
                .peekable();
            if lines.peek().is_none() {
                return Err(malformed(first));
            }
            let mut any = false;
            for line in lines {
                if batch.events >= MAX_EVENTS {
                    return Err(AuditError::TooMany);
                }
                match serde_json::from_slice::<RawEvent<'_>>(line) {
                    Ok(e) => {
                        any = true;
                        batch.take(&e, allow);
                    }
                    Err(_) => {
                        batch.events += 1;
                        batch.dropped[Drop::Malformed as usize] += 1;
                    }
                }
            }
            if !any {
                return Err(malformed(first));
            }
        }
    }
    Ok(batch)
}

fn judge(e: &RawEvent<'_>, allow: &AllowList) -> Result<SecretRead, Drop> {
    let Some(r) = &e.object_ref else {
        return Err(Drop::NotSecrets);
    };
    if r.resource.as_deref() != Some("secrets")
        || r.subresource.as_deref().is_some_and(|s| !s.is_empty())
        || r.api_group.as_deref().is_some_and(|g| !g.is_empty())
    {
        return Err(Drop::NotSecrets);
    }
    let verb = match e.verb.as_deref() {
        Some("get") => Verb::Get,
        Some("list") => Verb::List,
        Some("watch") => Verb::Watch,
        _ => return Err(Drop::NotARead),
    };
    // A workload reads with its own token; an impersonated request is someone else's choice
    // of identity (and of `user.extra`), so it proves nothing about a workload.
    if e.impersonated_user.is_some() {
        return Err(Drop::Impersonated);
    }
    let user = &e.user;
    let Some((sa_namespace, sa_name)) = user
        .username
        .as_deref()
        .and_then(|u| u.strip_prefix("system:serviceaccount:"))
        .and_then(|u| u.split_once(':'))
    else {
        return Err(Drop::NotAServiceAccount);
    };
    match (e.stage.as_deref(), verb) {
        (Some("ResponseComplete"), _) | (Some("ResponseStarted"), Verb::Watch) => {}
        _ => return Err(Drop::Stage),
    }
    if !e
        .response_status
        .as_ref()
        .and_then(|s| s.code)
        .is_some_and(|c| (200..300).contains(&c))
    {
        return Err(Drop::Failed);
    }
    let names = [
        Some(sa_namespace),
        Some(sa_name),
        r.namespace.as_deref(),
        r.name.as_deref(),
    ];
    if sa_namespace.is_empty()
        || sa_name.is_empty()
        || names.iter().flatten().any(|n| n.len() > MAX_NAME)
    {
        return Err(Drop::Malformed);
    }
    if allow.allows(sa_namespace, sa_name) {
        return Err(Drop::Allowed);
    }
    let pod = user
        .extra
        .as_ref()
        .and_then(|x| x.pod_name.as_ref())
        .and_then(|p| p.first())
        .filter(|p| !p.is_empty() && p.len() <= MAX_NAME)
        .map(|p| p.to_string());
    let non_empty =
        |s: &Option<Cow<'_, str>>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    Ok(SecretRead {
        audit_id: e
            .audit_id
            .as_deref()
            .map(|s| truncate(s, MAX_TOKEN))
            .unwrap_or_default(),
        sa_namespace: sa_namespace.to_string(),
        sa_name: sa_name.to_string(),
        pod,
        verb,
        namespace: non_empty(&r.namespace),
        name: if verb == Verb::Get {
            non_empty(&r.name)
        } else {
            None
        },
        time: e
            .stage_timestamp
            .as_deref()
            .map(|s| truncate(s, MAX_TOKEN))
            .unwrap_or_default(),
    })
}

// The wire shapes: only the fields read; serde skips the rest (bodies included) unparsed.

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawEvent<'a> {
    /// An `EventList`'s events (a list is read as an event with items).
    #[serde(borrow)]
    items: Option<Vec<RawEvent<'a>>>,
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "auditID", borrow)]
    audit_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    stage: Option<Cow<'a, str>>,
    #[serde(borrow)]
    verb: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user: RawUser<'a>,
    #[serde(borrow)]
    impersonated_user: Option<RawUser<'a>>,
    #[serde(borrow)]
    object_ref: Option<RawRef<'a>>,
    response_status: Option<RawStatus>,
    #[serde(borrow)]
    stage_timestamp: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawUser<'a> {
    #[serde(borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(borrow)]
    extra: Option<RawExtra<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawExtra<'a> {
    #[serde(rename = "authentication.kubernetes.io/pod-name", borrow)]
    pod_name: Option<Vec<Cow<'a, str>>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawRef<'a> {
    #[serde(borrow)]
    resource: Option<Cow<'a, str>>,
    #[serde(borrow)]
    subresource: Option<Cow<'a, str>>,
    #[serde(borrow)]
    api_group: Option<Cow<'a, str>>,
    #[serde(borrow)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawStatus {
    code: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(user: &str, verb: &str, resource: &str, stage: &str, code: i64) -> String {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"{stage}","verb":"{verb}",
            "user":{{"username":"{user}"}},"objectRef":{{"resource":"{resource}","namespace":"ns","name":"s"}},
            "responseStatus":{{"code":{code}}},"requestObject":{{"data":{{"k":"c2VjcmV0"}}}}}}"#
        )
    }

    #[test]
    fn filter_keeps_only_completed_secret_reads_by_service_accounts() {
        let allow = AllowList::default();
        let sa = "system:serviceaccount:shop:web";
        let one = |e: String| parse_body(e.as_bytes(), &allow).unwrap();
        let b = one(event(sa, "get", "secrets", "ResponseComplete", 200));
        assert_eq!(b.reads.len(), 1);
        assert_eq!(b.reads[0].name.as_deref(), Some("s"));
        assert_eq!(
            (
                b.reads[0].sa_namespace.as_str(),
                b.reads[0].sa_name.as_str()
            ),
            ("shop", "web")
        );
        for (e, why) in [
            (
                event(sa, "get", "pods", "ResponseComplete", 200),
                Drop::NotSecrets,
            ),
            (
                event(sa, "create", "secrets", "ResponseComplete", 201),
                Drop::NotARead,
            ),
            (
                event("alice", "get", "secrets", "ResponseComplete", 200),
                Drop::NotAServiceAccount,
            ),
            (
                event(sa, "get", "secrets", "RequestReceived", 200),
                Drop::Stage,
            ),
            (
                event(sa, "get", "secrets", "ResponseComplete", 403),
                Drop::Failed,
            ),
            (
                event(
                    "system:serviceaccount:kube-system:x",
                    "list",
                    "secrets",
                    "ResponseComplete",
                    200,
                ),
                Drop::Allowed,
            ),
        ] {
            let b = one(e);
            assert!(b.reads.is_empty());
            assert_eq!(b.dropped(why), 1, "{why:?}");
        }
        // Impersonated: someone else chose the identity (and its extra).
        let imp = event("admin", "get", "secrets", "ResponseComplete", 200).replace(
            r#""user":{"username":"admin"}"#,
            r#""user":{"username":"admin"},"impersonatedUser":{"username":"system:serviceaccount:shop:web","extra":{"authentication.kubernetes.io/pod-name":["web-1"]}}"#,
        );
        let b = one(imp);
        assert!(b.reads.is_empty());
        assert_eq!(b.dropped(Drop::Impersonated), 1);
        let w = one(event(sa, "watch", "secrets", "ResponseStarted", 200));
        assert_eq!(w.reads[0].verb, Verb::Watch);
        assert_eq!(w.reads[0].name, None, "a watch names no single secret");
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let allow = AllowList::default();
        assert!(parse_body(b"", &allow).is_err());
        assert!(parse_body(b"{\"kind\": 0}", &allow).is_err());
        assert!(parse_body(b"[1,2]", &allow).is_err());
        assert!(parse_body(b"{\"foo\": 1}", &allow).is_err());
    }

    #[test]
    fn allow_list_parses() {
        assert_eq!(
            AllowList::parse("kube-system:*, cert-manager:cert-manager")
                .unwrap()
                .0
                .len(),
            2
        );
        assert!(AllowList::parse("nocolon").is_err());
        assert!(AllowList::parse(":x").is_err());
    }
}
