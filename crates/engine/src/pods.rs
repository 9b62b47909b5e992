//! One round of the infected-pod response inside the loop: observations judged, the
//! Mitigations the bar allows enacted, availability tracked.

use rampart_http::dashboard::EngineMetrics;
use rampart_http::ingest::Ingest;
use rampart_kube::actuate::Ledger;
use rampart_respond::bar::BarConfig;
use rampart_respond::brake::BrakeView;
use rampart_respond::engine::EngineCore;
use rampart_signals::observe::Observation;

use crate::EngineConfig;
use crate::clock::{now, rfc3339};
use crate::infected::PodResponse;
use crate::ledger::enact;

/// One round of the pod response: fresh observations and held ones judged, the Mitigations
/// the bar allows written, then the availability gauges and recreation clocks updated.
pub(crate) async fn pod_round(
    pods: &mut PodResponse,
    ingest: Option<&Ingest>,
    core: &EngineCore,
    bar: &BarConfig,
    writer: Option<(&Ledger, &tokio::sync::watch::Receiver<BrakeView>)>,
    config: &EngineConfig,
    metrics: &EngineMetrics,
) {
    let Some(a) = core.analysis() else { return };
    let fresh = ingest.map(|i| i.take_fresh()).unwrap_or_default();
    // Under break-glass the pod response decides (and shows) but never writes.
    let writer = writer.filter(|(_, brake)| !brake.borrow().stops_acting());
    respond_to_pods(pods, &fresh, core, bar, writer, config, metrics).await;
    pods.track(core.snapshot(), &a.graph.workloads.list, &metrics.pods);
}

/// Decides on pod observations and writes the Mitigations the bar allows.
async fn respond_to_pods(
    pods: &mut PodResponse,
    fresh: &[Observation],
    core: &EngineCore,
    bar: &BarConfig,
    writer: Option<(&Ledger, &tokio::sync::watch::Receiver<BrakeView>)>,
    config: &EngineConfig,
    metrics: &EngineMetrics,
) {
    let Some(a) = core.analysis() else { return };
    let now_s = now();
    let acts = pods.decide(
        fresh,
        core.snapshot(),
        &a.graph.workloads.list,
        bar,
        writer.is_some(),
        &config.namespace,
        &metrics.pods,
        now_s,
        config.observation_ttl.as_secs().max(1),
        &|ns: &str| core.stage(rampart_respond::bar::ActionClass::Pod, ns),
    );
    for mut d in acts {
        let Some((ledger, brake)) = writer else { break };
        let m =
            PodResponse::mitigation(&d, now_s, rfc3339(now_s + config.mitigation_ttl.as_secs()));
        let approval = d.decision.starts_with("act-with-approval");
        match enact(ledger, &m, metrics, brake, approval).await {
            crate::ledger::Enacted::Applied => pods.reaped(&d, &metrics.pods),
            crate::ledger::Enacted::Pending => pods.awaiting(&d),
            _ => {}
        }
        d.mitigation = m.metadata.name.clone();
        pods.remember(d);
    }
}
