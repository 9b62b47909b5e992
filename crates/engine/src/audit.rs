//! The live compliance audit (`--audit`): the kinds `rampart audit` reads are watched whole
//! (`rampart_kube::audit`), every framework is audited again a moment after the cluster
//! changes (debounced, off the async threads), and the PolicyReports are written in place
//! where their results changed — by the only replica, or the leader. Wiring only: the checks
//! are `rampart-audit`'s, the reports `rampart_report::audit::policy_report`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Client;
use rampart_audit::run::{Audit, Options, Status};
use rampart_audit::{Inventory, Object, ObjectRef};
use rampart_http::dashboard::{AuditMetrics, FindingLabels, FrameworkLabels};
use rampart_kube::audit::{
    AuditEvent, audited_kinds, existing_reports, watch_audited, write_reports,
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

    fn upsert(&mut self, v: Value) {
        if let Some(o) = Object::new(v, None, 0) {
            let key = Store::key(o.kind(), o.namespace(), o.name());
            self.objects.insert(key, Arc::new(o));
        }
    }

    /// Applies one event; whether the objects changed.
    fn apply(&mut self, e: AuditEvent) -> bool {
        match e {
            AuditEvent::Upsert(v) => {
                self.upsert(v);
                true
            }
            AuditEvent::Deleted(kind, ns, name) => {
                self.objects.remove(&Store::key(kind, &ns, &name)).is_some()
            }
            AuditEvent::Relisted(kind, all) => {
                self.objects.retain(|k, _| k.kind != kind);
                for v in all {
                    self.upsert(v);
                }
                self.synced.insert(kind);
                true
            }
            AuditEvent::Error(kind, e) => {
                tracing::warn!(kind, "audit watch failed, retrying: {e}");
                false
            }
        }
    }
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
    let mut written: Option<BTreeMap<String, u64>> = None;
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
                if store.apply(e) {
                    let now = Instant::now();
                    dirty = Some((dirty.map_or(now, |(first, _)| first), now));
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
        if !writes {
            continue;
        }
        let done = written.get_or_insert_with(BTreeMap::new);
        if done.is_empty() {
            // After a restart: rampart's reports from before, to be rewritten or deleted.
            match existing_reports(&client).await {
                Ok(namespaces) => {
                    for ns in namespaces {
                        done.insert(ns, 0);
                    }
                }
                Err(e) => tracing::warn!("listing PolicyReports: {e}"),
            }
        }
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
