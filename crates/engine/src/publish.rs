//! What the engine shows: the dashboard's findings and chain gauges, and Kubernetes Events for
//! chains that appeared.

use std::collections::VecDeque;

use rampart_http::dashboard::{ChainLabels, DashboardState};
use rampart_report::{InputSummary, ScanReport};
use rampart_respond::engine::{ChangeReport, EngineCore};

use crate::infected::PodDecision;
use crate::levers::Levers;
use crate::signals::Signals;

/// Publishes the latest analysis and report to the dashboard (findings and chain gauges).
pub(crate) fn publish(
    dashboard: &DashboardState,
    core: &EngineCore,
    report: &ChangeReport,
    levers: &Levers,
    signals: &Signals,
    responses: &VecDeque<PodDecision>,
) {
    let Some(a) = core.analysis() else { return };
    let inputs = InputSummary {
        files: 0,
        objects: core.snapshot().len(),
        ..InputSummary::default()
    };
    let mut scan = ScanReport::new(a, inputs);
    scan.with_footholds(&signals.footholds);
    scan.corroborate(&signals.evidence);
    dashboard.metrics.chains.clear();
    for c in &scan.chains {
        dashboard
            .metrics
            .chains
            .get_or_create(&ChainLabels {
                target: c.target.kind.to_string(),
                confidence: serde_json::to_value(c.confidence)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
            })
            .inc();
    }
    /// The scan contract with the change report beside it, serialized in one pass.
    #[derive(serde::Serialize)]
    struct Findings<'a> {
        #[serde(flatten)]
        scan: &'a ScanReport,
        report: &'a ChangeReport,
        levers: &'a Levers,
        /// Infected-pod decisions, newest last.
        responses: &'a VecDeque<PodDecision>,
    }
    let json = serde_json::to_vec(&Findings {
        scan: &scan,
        report,
        levers,
        responses,
    })
    .unwrap_or_default();
    dashboard.set_findings(json, report.generation, scan.chains.len());
}

/// The apiVersion of a kind an Event may point at.
fn api_version(kind: &str) -> &'static str {
    match kind {
        "Ingress" | "NetworkPolicy" => "networking.k8s.io/v1",
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => "apps/v1",
        "Job" | "CronJob" => "batch/v1",
        "Route" => "route.openshift.io/v1",
        _ => "v1",
    }
}

/// Kubernetes Events for chains that appeared or went away, on their entry objects (at most 20
/// per batch, so a large change cannot flood the API server).
pub(crate) async fn publish_events(
    recorder: &kube::runtime::events::Recorder,
    core: &EngineCore,
    report: &ChangeReport,
) {
    use k8s_openapi::api::core::v1::ObjectReference;
    use kube::runtime::events::{Event, EventType};
    let Some(a) = core.analysis() else { return };
    for id in report.diff.chains_added.iter().take(20) {
        let Some(c) = a.proof.chains.iter().find(|c| &c.id == id) else {
            continue;
        };
        let entry = a.graph.vertex_ref(c.entry);
        let target = a.graph.vertex_ref(c.target);
        let cut = a
            .plan
            .cheapest
            .get(id)
            .map(|(_, cost)| format!("; cheapest cut costs {cost}"))
            .unwrap_or_default();
        let reference = ObjectReference {
            api_version: Some(api_version(&entry.kind).into()),
            kind: Some(entry.kind.clone()),
            namespace: (!entry.namespace.is_empty()).then(|| entry.namespace.clone()),
            name: Some(entry.name.clone()),
            ..ObjectReference::default()
        };
        let event = Event {
            type_: EventType::Warning,
            reason: "AttackChainProven".into(),
            note: Some(format!(
                "{id}: internet → {entry} → … → {target} ({} steps){cut}",
                c.length
            )),
            action: "Prove".into(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&event, &reference).await {
            tracing::debug!("event not recorded: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_point_at_the_right_api_group() {
        assert_eq!(api_version("Deployment"), "apps/v1");
        assert_eq!(api_version("Ingress"), "networking.k8s.io/v1");
        assert_eq!(api_version("Service"), "v1");
    }
}
