//! What the engine shows: the dashboard's findings and chain gauges, and Kubernetes Events for
//! chains that appeared.

use std::collections::VecDeque;

use rampart_http::dashboard::{ChainLabels, DashboardState};
use rampart_report::{InputSummary, ScanReport};
use rampart_respond::engine::{ChangeReport, EngineCore};

use crate::infected::PodDecision;
use crate::levers::Levers;
use crate::signals::Signals;

/// Where the model's verdicts come from.
#[derive(Clone, Copy)]
pub(crate) enum Judging<'a> {
    /// No model.
    Off,
    /// The live task (handed every publish's chains).
    Live(&'a crate::judge::Judge),
    /// Verdicts made before (`rampart dashboard --model-url`), with the threshold.
    Offline(
        &'a std::collections::BTreeMap<String, rampart_judge::Judgement>,
        f64,
    ),
}

/// Publishes the latest analysis and report to the dashboard (findings and chain gauges).
pub(crate) fn publish(
    dashboard: &DashboardState,
    core: &EngineCore,
    report: &ChangeReport,
    levers: &Levers,
    signals: &Signals,
    responses: &VecDeque<PodDecision>,
    judging: Judging<'_>,
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
    let live = match judging {
        Judging::Off => None,
        Judging::Live(j) => {
            scan.judge(&j.judgements(), j.threshold());
            Some(j)
        }
        Judging::Offline(judgements, threshold) => {
            scan.judge(judgements, threshold);
            None
        }
    };
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
        /// Break-glass, at the top so that no reader misses it.
        break_glass: &'a crate::levers::BreakGlassShown,
        /// The arming ladder and what it held back.
        arming: &'a crate::levers::ArmingShown,
        levers: &'a Levers,
        /// Infected-pod decisions, newest last.
        responses: &'a VecDeque<PodDecision>,
    }
    let chains = scan.chains.len();
    // Shared with the judging task, never copied.
    let scan = std::sync::Arc::new(scan);
    let shown = (
        scan.clone(),
        report.clone(),
        levers.clone(),
        responses.clone(),
    );
    // Serialized when first asked for: most re-proofs of a busy cluster are never read.
    dashboard.set_findings_with(
        Box::new(move || {
            let (scan, report, levers, responses) = &shown;
            serde_json::to_vec(&Findings {
                scan,
                report,
                break_glass: &levers.break_glass,
                arming: &levers.arming,
                levers,
                responses,
            })
            .unwrap_or_default()
        }),
        report.generation,
        chains,
    );
    // The task works out the facts: the loop only hands the chains over.
    if let Some(j) = live {
        j.submit(scan);
    }
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

/// Most Events created in one round (a large change cannot flood the API server; the rest
/// follow in the next rounds).
const EVENTS_PER_ROUND: usize = 50;

/// Announces every proven chain once as an `AttackChainProven` Event on its entry object (with
/// the object's UID, so `kubectl describe` shows it). The Event's name is derived from the
/// chain id: a restart, or a second replica, re-announcing a chain gets `409 AlreadyExists`
/// and adds nothing.
pub(crate) struct Announcer {
    client: kube::Client,
    instance: String,
    /// Chains announced (or found announced), among those proven now.
    announced: std::collections::BTreeSet<String>,
    /// The API server refused an Event (403): not tried again before this (said once per
    /// refusal; RBAC may change, and a namespace being deleted refuses Events too).
    refused_until: Option<std::time::Instant>,
}

impl Announcer {
    pub(crate) fn new(client: kube::Client) -> Announcer {
        Announcer {
            client,
            instance: std::env::var("HOSTNAME").unwrap_or_else(|_| "rampart-engine".into()),
            announced: Default::default(),
            refused_until: None,
        }
    }

    /// Creates the Events of chains not announced yet (at most [`EVENTS_PER_ROUND`]).
    pub(crate) async fn announce(&mut self, core: &EngineCore) {
        let Some(a) = core.analysis() else { return };
        let proven: std::collections::BTreeSet<&str> =
            a.proof.chains.iter().map(|c| c.id.as_str()).collect();
        self.announced.retain(|id| proven.contains(id.as_str()));
        if self
            .refused_until
            .is_some_and(|t| std::time::Instant::now() < t)
        {
            return;
        }
        let mut budget = EVENTS_PER_ROUND;
        for c in &a.proof.chains {
            if budget == 0 {
                break;
            }
            if self.announced.contains(&c.id) {
                continue;
            }
            budget -= 1;
            let event = chain_event(core, a, c, &self.instance);
            let ns = event.metadata.namespace.clone().unwrap_or_default();
            let api: kube::Api<k8s_openapi::api::events::v1::Event> =
                kube::Api::namespaced(self.client.clone(), &ns);
            match api.create(&kube::api::PostParams::default(), &event).await {
                Ok(_) => {
                    self.announced.insert(c.id.clone());
                }
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    self.announced.insert(c.id.clone());
                }
                Err(kube::Error::Api(e)) if e.code == 403 => {
                    tracing::warn!(
                        "the API server refused an Event ({}): chains are shown on the dashboard \
                         only; trying again in 10 minutes",
                        e.message
                    );
                    self.refused_until =
                        Some(std::time::Instant::now() + std::time::Duration::from_secs(600));
                    return;
                }
                Err(e) => {
                    tracing::warn!(
                        chain = %c.id,
                        "event not recorded (retried next round): {}",
                        rampart_kube::sentence(&e)
                    );
                    return;
                }
            }
        }
    }
}

impl Announcer {
    /// Records a break-glass change as an Event on the BreakGlass object — in `default`: the
    /// API server keeps Events about cluster-scoped objects there (or in `kube-system`), as it
    /// does for Nodes. Named after the object and the version that changed, so every replica
    /// seeing the same change records it once.
    pub(crate) async fn announce_brake(&self, change: &rampart_respond::brake::BrakeChange) {
        let namespace = "default";
        use k8s_openapi::api::core::v1::ObjectReference;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
        use rampart_respond::brake::BrakeChange;
        let (hand, engaged) = match change {
            BrakeChange::Engaged(h) => (h, true),
            BrakeChange::Released(h) => (h, false),
        };
        let name: String = format!(
            "rampart.breakglass.{}.{}.{}",
            hand.name,
            if engaged { "on" } else { "off" },
            hand.version
        )
        .chars()
        .take(253)
        .collect();
        let mut note = change.note();
        if note.len() > 1000 {
            let mut end = 1000;
            while !note.is_char_boundary(end) {
                end -= 1;
            }
            note.truncate(end);
        }
        let event = k8s_openapi::api::events::v1::Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace.to_string()),
                ..ObjectMeta::default()
            },
            regarding: Some(ObjectReference {
                api_version: Some("rampart.dev/v1alpha1".into()),
                kind: Some("BreakGlass".into()),
                name: Some(hand.name.clone()),
                ..ObjectReference::default()
            }),
            reason: Some(change.reason().into()),
            note: Some(note),
            type_: Some(if engaged { "Warning" } else { "Normal" }.into()),
            action: Some("BreakGlass".into()),
            reporting_controller: Some("rampart.dev/engine".into()),
            reporting_instance: Some(self.instance.chars().take(128).collect()),
            event_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
            ..k8s_openapi::api::events::v1::Event::default()
        };
        let api: kube::Api<k8s_openapi::api::events::v1::Event> =
            kube::Api::namespaced(self.client.clone(), namespace);
        match api.create(&kube::api::PostParams::default(), &event).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => tracing::warn!(
                "break-glass Event not recorded: {}",
                rampart_kube::sentence(&e)
            ),
        }
    }
}

/// The UID of the object `r` names, from the model.
fn uid_of(core: &EngineCore, r: &rampart_graph::model::ObjRef) -> Option<String> {
    use rampart_model::Kind as K;
    let kind = [
        K::Service,
        K::Ingress,
        K::Route,
        K::Pod,
        K::Deployment,
        K::ReplicaSet,
        K::StatefulSet,
        K::DaemonSet,
        K::Job,
        K::CronJob,
        K::ReplicationController,
    ]
    .into_iter()
    .find(|k| k.as_str() == r.kind)?;
    let o = core.snapshot().get(kind, &r.namespace, &r.name)?;
    let uid = &o.object.meta().uid;
    (!uid.is_empty()).then(|| uid.clone())
}

/// A chain in one line: `chain-…: internet → entry → … → target (n steps); cheapest cut
/// costs c` (the Event's note, the notification's summary).
pub(crate) fn chain_line(a: &rampart_graph::Analysis, c: &rampart_graph::prove::Chain) -> String {
    let entry = a.graph.vertex_ref(c.entry);
    let target = a.graph.vertex_ref(c.target);
    let cut = a
        .plan
        .cheapest
        .get(&c.id)
        .map(|(_, cost)| format!("; cheapest cut costs {cost}"))
        .unwrap_or_default();
    format!(
        "{}: internet → {entry} → … → {target} ({} steps){cut}",
        c.id, c.length
    )
}

/// The Event announcing chain `c`, named after it.
fn chain_event(
    core: &EngineCore,
    a: &rampart_graph::Analysis,
    c: &rampart_graph::prove::Chain,
    instance: &str,
) -> k8s_openapi::api::events::v1::Event {
    use k8s_openapi::api::core::v1::ObjectReference;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
    let entry = a.graph.vertex_ref(c.entry);
    let namespace = if entry.namespace.is_empty() {
        "default".to_string()
    } else {
        entry.namespace.clone()
    };
    let mut note = chain_line(a, c);
    // The API server caps a note at 1 kB.
    if note.len() > 1000 {
        let mut end = 1000;
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
    }
    k8s_openapi::api::events::v1::Event {
        metadata: ObjectMeta {
            // One Event per chain, whoever creates it and however often.
            name: Some(format!("rampart.{}", c.id)),
            namespace: Some(namespace),
            ..ObjectMeta::default()
        },
        regarding: Some(ObjectReference {
            api_version: Some(api_version(&entry.kind).into()),
            kind: Some(entry.kind.clone()),
            namespace: (!entry.namespace.is_empty()).then(|| entry.namespace.clone()),
            name: Some(entry.name.clone()),
            uid: uid_of(core, &entry),
            ..ObjectReference::default()
        }),
        reason: Some("AttackChainProven".into()),
        note: Some(note),
        type_: Some("Warning".into()),
        action: Some("Prove".into()),
        reporting_controller: Some("rampart.dev/engine".into()),
        reporting_instance: Some(instance.chars().take(128).collect()),
        event_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
        ..k8s_openapi::api::events::v1::Event::default()
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
