//! The dashboard's request-guard pages kept current: the Guardians (when watched) and the
//! gates' events the ingest took. Wiring only: the pages are `rampart_http::guard_page`'s.

use std::sync::Arc;
use std::time::Duration;

use rampart_http::dashboard::DashboardState;
use rampart_http::ingest::Ingest;
use rampart_kube::guardians::GuardianCache;
use tokio_util::sync::CancellationToken;

/// How often the pages' view is refreshed.
const EVERY: Duration = Duration::from_secs(2);

/// Copies Guardians and new guard events into the dashboard until `cancel`.
pub(crate) async fn keep_view(
    cache: Option<GuardianCache>,
    ingest: Option<Arc<Ingest>>,
    dashboard: Arc<DashboardState>,
    notifier: crate::notify::Notifier,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(EVERY);
    let mut copied = None;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let events = ingest
            .as_ref()
            .map(|i| i.take_guard_events())
            .unwrap_or_default();
        // Guardians carry whole criteria: copied only when the cache changed.
        let guardians = cache
            .as_ref()
            .filter(|c| copied != Some(c.generation()))
            .map(|c| {
                copied = Some(c.generation());
                c.all()
            });
        for (at, e) in events.iter().filter(|(_, e)| e.mode == "block") {
            let requests: u64 = e.reasons.values().sum();
            notifier.tell(
                rampart_notify::Notice::new(
                    rampart_notify::Kind::GuardBlock,
                    rampart_notify::Severity::Warning,
                    *at,
                    &format!("{}/{}", e.namespace, e.pod),
                    &format!(
                        "the request guard of {}/{} blocked {requests} request(s) at pod {}: {}",
                        e.namespace, e.service, e.pod, e.summary
                    ),
                )
                .field("service", &e.service)
                .field("kind", e.kind.rule()),
            );
        }
        if guardians.is_none() && events.is_empty() {
            continue;
        }
        let mut v = dashboard.guard.write().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = guardians {
            v.guardians = g;
        }
        v.push_timed(events);
    }
}
