//! The live compliance audit (`--audit`): the kinds `rampart audit` reads are watched whole
//! (`rampart_kube::audit`), every framework is audited again a moment after the cluster
//! changes (debounced, off the async threads), and the PolicyReports are written in place
//! where their results changed — by the only replica, or the leader. Wiring only: the checks
//! are `rampart-audit`'s, the reports `rampart_report::audit::policy_report`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Client;
use rampart_api::SecurityPolicyStatus;
use rampart_audit::run::{Audit, Options, Status, audit_object};
use rampart_audit::{Inventory, Object, ObjectRef};
use rampart_http::dashboard::{AuditMetrics, FindingLabels, FrameworkLabels};
use rampart_kube::audit::{
    AuditEvent, audited_kinds, existing_reports, watch_audited, write_report, write_reports,
};
use rampart_report::audit::policy_report;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// How the live audit runs.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// Quiet time after a change before the cluster is audited again.
    pub debounce: Duration,
    /// Results listed per PolicyReport at most.
    pub report_cap: usize,
}

/// The objects as the watchers last saw them.
#[derive(Default)]
struct Store {
    objects: BTreeMap<ObjectRef, Arc<Object>>,
    synced: BTreeSet<&'static str>,
}

impl Store {
    fn key(kind: &str, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef::new(kind, namespace, name)
    }

    /// Stores an object; the one it replaced, and itself.
    fn upsert(&mut self, v: Value) -> Changed {
        let Some(o) = Object::new(v, None, 0) else {
            return Changed::Nothing;
        };
        let key = Store::key(o.kind(), o.namespace(), o.name());
        let new = Arc::new(o);
        let old = self.objects.insert(key, new.clone());
        Changed::One(old, Some(new))
    }

    /// Applies one event; what changed.
    fn apply(&mut self, e: AuditEvent) -> Changed {
        match e {
            AuditEvent::Upsert(v) => self.upsert(v),
            AuditEvent::Deleted(kind, ns, name) => {
                match self.objects.remove(&Store::key(kind, &ns, &name)) {
                    Some(old) => Changed::One(Some(old), None),
                    None => Changed::Nothing,
                }
            }
            AuditEvent::Relisted(kind, all) => {
                self.objects.retain(|k, _| k.kind != kind);
                for v in all {
                    self.upsert(v);
                }
                self.synced.insert(kind);
                Changed::Many
            }
            AuditEvent::Error(kind, e) => {
                tracing::warn!(kind, "audit watch failed, retrying: {e}");
                Changed::Nothing
            }
        }
    }
}

/// What one event changed.
enum Changed {
    Nothing,
    /// One object: before and after (none: it did not exist, or was deleted).
    One(Option<Arc<Object>>, Option<Arc<Object>>),
    /// A whole kind (a relist).
    Many,
}

/// rampart's reports as last written, by namespace (fingerprints); read from the cluster the
/// first time, so that reports of before a restart are rewritten or deleted.
async fn written<'a>(
    client: &Client,
    written: &'a mut Option<BTreeMap<String, u64>>,
) -> &'a mut BTreeMap<String, u64> {
    if written.is_none() {
        let mut before = BTreeMap::new();
        match existing_reports(client).await {
            Ok(namespaces) => {
                for ns in namespaces {
                    before.insert(ns, 0);
                }
            }
            Err(e) => tracing::warn!("listing PolicyReports: {e}"),
        }
        *written = Some(before);
    }
    written.get_or_insert_with(BTreeMap::new)
}

fn publish(metrics: &AuditMetrics, audit: &Audit, frameworks: &[rampart_audit::Framework]) {
    for f in frameworks {
        if let Some(s) = audit.score(*f, None) {
            metrics
                .score
                .get_or_create(&FrameworkLabels {
                    framework: f.as_str().into(),
                })
                .set(s);
        }
    }
    for (status, name) in [
        (Status::Fail, "fail"),
        (Status::Excepted, "excepted"),
        (Status::Error, "error"),
    ] {
        let n = audit.findings.iter().filter(|f| f.status == status).count();
        metrics
            .findings
            .get_or_create(&FindingLabels {
                status: name.into(),
            })
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
}

/// A status is rewritten when its counts changed, or at least this often (its time).
const STATUS_REFRESH: Duration = Duration::from_secs(300);

/// Sets every policy's status from the last full audit where its counts changed (or its time
/// is old); forgets the policies that are gone.
async fn write_statuses(
    client: &Client,
    store: &Store,
    audit: Option<&Audit>,
    written: &mut BTreeMap<ObjectRef, (SecurityPolicyStatus, Instant)>,
    metrics: &AuditMetrics,
) {
    let Some(audit) = audit else { return };
    let (violations, evaluated) = rampart_audit::checks::policies::violations(audit);
    let policies: Vec<&ObjectRef> = store
        .objects
        .keys()
        .filter(|k| matches!(k.kind.as_str(), "SecurityPolicy" | "ClusterSecurityPolicy"))
        .collect();
    written.retain(|k, _| policies.contains(&k));
    let now = crate::clock::rfc3339(u64::try_from(unix_now()).unwrap_or(0));
    for key in policies {
        let status = SecurityPolicyStatus {
            violations: violations.get(key).copied().unwrap_or(0),
            evaluated_objects: evaluated,
            last_evaluated: Some(now.clone()),
        };
        let fresh = written.get(key).is_some_and(|(s, at)| {
            s.violations == status.violations
                && s.evaluated_objects == status.evaluated_objects
                && at.elapsed() < STATUS_REFRESH
        });
        if fresh {
            continue;
        }
        match rampart_kube::audit::write_policy_status(
            client,
            &key.kind,
            &key.namespace,
            &key.name,
            &status,
        )
        .await
        {
            Ok(()) => {
                written.insert(key.clone(), (status, Instant::now()));
            }
            Err(e) => {
                metrics.report_errors.inc();
                tracing::warn!(policy = %key, "writing the policy's status: {e}");
            }
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Runs the live audit until `cancel`. `leading`: the leader election's state, when there is
/// one (reports are written by the leader only); none: this is the only replica.
pub(crate) async fn keep_audited(
    client: Client,
    settings: AuditSettings,
    leading: Option<watch::Receiver<bool>>,
    metrics: AuditMetrics,
    cancel: CancellationToken,
) {
    let (tx, mut rx) = mpsc::channel(4096);
    tokio::spawn(watch_audited(client.clone(), tx, cancel.clone()));
    let expected: BTreeSet<&'static str> = audited_kinds().collect();
    let mut store = Store::default();
    let mut reports_written: Option<BTreeMap<String, u64>> = None;
    // The last full audit, kept current object by object between full audits.
    let mut last: Option<Audit> = None;
    // Each policy's status as last written, and when.
    let mut statuses: BTreeMap<ObjectRef, (SecurityPolicyStatus, Instant)> = BTreeMap::new();
    // Since when the store changed without an audit, and when it last changed: an audit runs
    // after `debounce` of quiet, or after six times that under steady churn.
    let mut dirty: Option<(Instant, Instant)> = None;
    let options = Arc::new(Options::default());
    loop {
        let deadline = dirty
            .map(|(first, last)| (last + settings.debounce).min(first + settings.debounce * 6));
        let wait = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            e = rx.recv() => {
                let Some(e) = e else { return }; // the watchers ended
                let changed = store.apply(e);
                if matches!(changed, Changed::Nothing) {
                    continue;
                }
                let now = Instant::now();
                dirty = Some((dirty.map_or(now, |(first, _)| first), now));
                // One object: its own checks at once, and its namespace's report rewritten if
                // that changed it; the checks across objects wait for the full audit.
                if let (Changed::One(old, new), Some(last)) = (changed, last.as_mut()) {
                    let started = Instant::now();
                    let before = old.as_deref().map(|o| audit_object(o, &options)).unwrap_or_default();
                    let after = new.as_deref().map(|o| audit_object(o, &options)).unwrap_or_default();
                    last.apply_delta(&before, after);
                    let ns = new.as_ref().or(old.as_ref()).map(|o| o.namespace().to_string()).unwrap_or_default();
                    let report = policy_report::build_one(last, &ns, unix_now(), settings.report_cap);
                    metrics.object_duration.observe(started.elapsed().as_secs_f64());
                    if let Some(report) = report
                        && leading.as_ref().is_none_or(|l| *l.borrow())
                    {
                        let fingerprint = policy_report::fingerprint(&report);
                        let done = written(&client, &mut reports_written).await;
                        match write_report(&client, &ns, &report, fingerprint, done).await {
                            Ok(true) => {
                                metrics.reports_written.inc();
                            }
                            Ok(false) => {}
                            Err(e) => {
                                metrics.report_errors.inc();
                                tracing::warn!("writing the PolicyReport of {ns:?}: {e}");
                            }
                        }
                    }
                }
                continue;
            }
            () = wait => {}
        }
        // Audit once every kind has been listed.
        if !expected.is_subset(&store.synced) {
            let missing: Vec<_> = expected.difference(&store.synced).collect();
            tracing::debug!(?missing, "audit waits for every kind to be listed");
            dirty = Some((Instant::now(), Instant::now()));
            continue;
        }
        dirty = None;
        let objects: Vec<Arc<Object>> = store.objects.values().cloned().collect();
        let opts = options.clone();
        let cap = settings.report_cap;
        let started = Instant::now();
        let Ok((audit, reports)) = tokio::task::spawn_blocking(move || {
            let inventory = Inventory::shared(objects);
            let audit = rampart_audit::audit(&inventory, &opts);
            let reports = policy_report::build(&audit, unix_now(), cap);
            (audit, reports)
        })
        .await
        else {
            continue;
        };
        metrics.duration.observe(started.elapsed().as_secs_f64());
        publish(&metrics, &audit, &options.frameworks);
        tracing::info!(
            findings = audit.findings.len(),
            objects = store.objects.len(),
            seconds = started.elapsed().as_secs_f64(),
            "audited"
        );
        let writes = leading.as_ref().is_none_or(|l| *l.borrow());
        last = Some(audit);
        if !writes {
            continue;
        }
        write_statuses(&client, &store, last.as_ref(), &mut statuses, &metrics).await;
        let done = written(&client, &mut reports_written).await;
        let with_fingerprints: BTreeMap<String, (Value, u64)> = reports
            .by_namespace
            .into_iter()
            .map(|(ns, r)| {
                let f = policy_report::fingerprint(&r);
                (ns, (r, f))
            })
            .collect();
        match write_reports(&client, &with_fingerprints, done).await {
            Ok((w, d)) => {
                metrics.reports_written.inc_by(w as u64);
                metrics.reports_deleted.inc_by(d as u64);
                if w + d > 0 {
                    tracing::info!(written = w, deleted = d, "PolicyReports updated");
                }
            }
            Err(e) => {
                metrics.report_errors.inc();
                tracing::warn!("writing PolicyReports: {e}");
                // Retried at the next audit: nothing is assumed written.
                dirty = Some((Instant::now(), Instant::now()));
            }
        }
    }
}
