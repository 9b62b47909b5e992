//! The live engine: start-up (client, listeners, levers, leadership, watchers), then the loop —
//! wait for a change, batch what arrives within the debounce time, re-prove (or only refresh
//! confidence), publish, respond to infected pods, and, as the leader, act.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Client;
use rampart_http::dashboard::{DashboardState, KindLabels, PathLabels};
use rampart_http::ingest::Ingest;
use rampart_http::serve::Server;
use rampart_kube::actuate::Ledger;
use rampart_kube::cluster::{ClusterEvent, OPTIONAL, WATCHED, watch_cluster};
use rampart_model::{Change, Kind};
use rampart_respond::bar::{ActionClass, BarConfig};
use rampart_respond::brake::BrakeView;
use rampart_respond::engine::{ChangeReport, EngineCore, ReproofPath};
use rampart_signals::foothold::ExploitIntel;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::clock::now;
use crate::config::Prepared;
use crate::infected::PodResponse;
use crate::ledger::{Actuation, actuate, reconcile};
use crate::levers::{Leadership, Levers};
use crate::listen::{bind, serve_dashboard, serve_ingest};
use crate::pods::pod_round;
use crate::publish::publish;
use crate::signals::{LiveReports, Signals};
use crate::{EngineConfig, Error};

/// Runs the engine until Ctrl-C (or the cluster's event stream ends). Every setting is
/// validated and every named file read before anything connects.
pub fn run(config: &EngineConfig) -> Result<(), Error> {
    let prepared = config.prepare()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(start(config, prepared))
}

/// Connects, starts the listeners, the levers and the watchers, then loops.
async fn start(config: &EngineConfig, p: Prepared) -> Result<(), Error> {
    let client = Client::try_default().await.map_err(Error::Connect)?;
    let dashboard = Arc::new(DashboardState::default());
    let server = Server::for_process(config.limits, dashboard.metrics.serve.clone());
    let listener = bind(config.dashboard_addr).await?;
    let cancel = CancellationToken::new();
    let ingest = serve_ingest(
        config,
        p.ingest_config,
        p.ingest_tls.as_ref(),
        &dashboard,
        &server,
        &cancel,
    )
    .await?;
    let dashboard_has_token = p.dashboard_token.is_some();
    serve_dashboard(listener, &dashboard, p.dashboard_token, &server, &cancel)?;
    let mut guard_view = None;
    if config.watch_guardians || ingest.is_some() {
        let cache = config.watch_guardians.then(|| {
            let cache = rampart_kube::guardians::GuardianCache::default();
            tokio::spawn(rampart_kube::guardians::watch_guardians(
                client.clone(),
                cache.clone(),
                cancel.clone(),
            ));
            cache
        });
        guard_view = Some((cache, ingest.clone()));
    }
    let (ledger, levers) = crate::levers::ledger(&client, p.actuator, config).await;
    // The ledger is read from a watch, not listed every round.
    let ledger = ledger.map(|l| l.watch(cancel.clone()));
    let leadership = Leadership::start(&client, ledger.as_ref(), config).await?;
    // Approving from the dashboard: only behind its token, only where this replica writes.
    if dashboard_has_token && ledger.is_some() {
        let client = client.clone();
        let _ = dashboard
            .approver
            .set(rampart_http::dashboard::Approver(Arc::new(move |a| {
                let client = client.clone();
                Box::pin(async move {
                    tracing::warn!(mitigation = %a.name, namespace = %a.namespace, "approved from the dashboard");
                    rampart_kube::controls::approve(
                        &client,
                        &a.namespace,
                        &a.name,
                        &a.uid,
                        "rampart-dashboard",
                    )
                    .await
                    .map_err(|e| e.to_string())
                })
            })));
    }
    // Every replica that may write watches the brake; until it is read, nothing is acted on.
    let (brake_tx, brake) = tokio::sync::watch::channel(BrakeView::Unknown);
    // So does it the arming ladder.
    let (arming_tx, arming) = tokio::sync::watch::channel(None);
    if ledger.is_some() {
        tokio::spawn(rampart_kube::controls::watch_break_glass(
            client.clone(),
            brake_tx.clone(),
            cancel.clone(),
        ));
        tokio::spawn(rampart_kube::controls::watch_arming(
            client.clone(),
            arming_tx.clone(),
            cancel.clone(),
        ));
    }
    if let Some(settings) = &config.compliance {
        tokio::spawn(crate::audit::keep_audited(
            client.clone(),
            settings.clone(),
            leadership.watch(),
            dashboard.metrics.audit.clone(),
            cancel.clone(),
        ));
    }
    let judge = match &config.model {
        Some(m) => Some(crate::judge::Judge::start(
            m,
            dashboard.metrics.judge.clone(),
            cancel.clone(),
        )?),
        None => None,
    };
    let announcer = crate::publish::Announcer::new(client.clone());
    let notifier = match p.notify {
        Some(n) => crate::notify::Notifier::start(
            n,
            std::env::var("HOSTNAME").unwrap_or_else(|_| "rampart-engine".into()),
            dashboard.metrics.notify.clone(),
            &cancel,
        ),
        None => crate::notify::Notifier::default(),
    };
    if let Some((cache, ingest)) = guard_view {
        tokio::spawn(crate::guard::keep_view(
            cache,
            ingest,
            dashboard.clone(),
            notifier.clone(),
            cancel.clone(),
        ));
    }
    let mut pods = p.pods;
    let rx = watch(client, config, &p.bar, &mut pods, &cancel);
    let flows = ingest.as_ref().map_or_else(
        || Arc::new(rampart_http::ingest::FlowSink::default()),
        |i| i.flows.clone(),
    );
    let netpol = crate::netpol::Planner::start(flows, &config.netpol, &cancel);
    let mut engine = Engine {
        netpol,
        model_moves: 0,
        config,
        core: p.core,
        bar: p.bar,
        pods,
        intel: p.intel,
        ingest,
        judge,
        dashboard,
        levers,
        ledger,
        leadership,
        announcer,
        notifier,
        corroborated: BTreeSet::new(),
        phases: None,
        brake,
        _brake_tx: brake_tx,
        arming,
        _arming_tx: arming_tx,
        brake_seen: BrakeView::Unknown,
        reconciled: false,
        last_report: ChangeReport::default(),
        live_reports: LiveReports::default(),
        synced: BTreeSet::new(),
        unreadable: BTreeMap::new(),
        failed: std::sync::Mutex::default(),
    };
    engine.run(rx, &cancel).await;
    // Hand the Lease over at once rather than after its duration.
    engine.leadership.release().await;
    Ok(())
}

/// Starts the watchers (every modelled kind; PodDisruptionBudgets when pods may be acted on;
/// VulnerabilityReports when asked) and the Ctrl-C handler; the stream of their events.
fn watch(
    client: Client,
    config: &EngineConfig,
    bar: &BarConfig,
    pods: &mut PodResponse,
    cancel: &CancellationToken,
) -> mpsc::Receiver<ClusterEvent> {
    let (tx, rx) = mpsc::channel::<ClusterEvent>(8192);
    if bar.enabled.contains(&ActionClass::Pod) {
        pods.expect_pdbs();
        tokio::spawn(rampart_kube::cluster::watch_extra(
            client.clone(),
            "PodDisruptionBudget",
            tx.clone(),
            cancel.clone(),
        ));
    }
    if config.watch_vulnerability_reports {
        tokio::spawn(rampart_kube::cluster::watch_extra(
            client.clone(),
            "VulnerabilityReport",
            tx.clone(),
            cancel.clone(),
        ));
    }
    tokio::spawn(watch_cluster(client, tx, cancel.clone()));
    let signal = cancel.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        signal.cancel();
    });
    rx
}

/// Ctrl-C, or SIGTERM (what the kubelet sends a pod being stopped).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Resolves when the model's verdicts changed; never without a model.
async fn new_verdicts(judge: Option<&crate::judge::Judge>) {
    match judge {
        Some(j) => j.changed().await,
        None => std::future::pending().await,
    }
}

/// Resolves when the ingest has fresh evidence; never without an ingest.
async fn fresh_evidence(ingest: Option<&Ingest>) {
    match ingest {
        Some(i) => i.wake.notified().await,
        None => std::future::pending().await,
    }
}

/// The running engine's state.
struct Engine<'a> {
    config: &'a EngineConfig,
    core: EngineCore,
    bar: BarConfig,
    pods: PodResponse,
    intel: ExploitIntel,
    ingest: Option<Arc<Ingest>>,
    /// NetworkPolicies from observed flows, planned again when due.
    netpol: crate::netpol::Planner,
    /// Re-proofs so far (the NetworkPolicy plan is made again when the model moved).
    model_moves: u64,
    /// Model adjudication, when a model is configured.
    judge: Option<crate::judge::Judge>,
    dashboard: Arc<DashboardState>,
    levers: Levers,
    /// The ledger, when this replica may write (see [`Engine::acting`]).
    ledger: Option<Ledger>,
    leadership: Leadership,
    announcer: crate::publish::Announcer,
    /// Where notices go (nowhere without `--notify`).
    notifier: crate::notify::Notifier,
    /// Chains corroborated at the last look (a notice for each new one).
    corroborated: BTreeSet<String>,
    /// The ledger's phases at the last look, by `namespace/name` (none: not looked yet — the
    /// first look after start-up or a takeover tells nothing, it only learns).
    phases: Option<BTreeMap<String, rampart_api::MitigationPhase>>,
    /// Break-glass as last read (see [`rampart_kube::controls::watch_break_glass`]).
    brake: tokio::sync::watch::Receiver<BrakeView>,
    /// Kept so that `brake` never reports a closed channel (a replica that does not write
    /// never watches the brake).
    _brake_tx: tokio::sync::watch::Sender<BrakeView>,
    /// The view the last change was reported against (Events, logs).
    brake_seen: BrakeView,
    /// The ArmingPolicies as last read (none: not read yet — acting waits).
    arming: tokio::sync::watch::Receiver<Option<Vec<rampart_api::ArmingPolicy>>>,
    /// Kept so that `arming` never reports a closed channel.
    _arming_tx: tokio::sync::watch::Sender<Option<Vec<rampart_api::ArmingPolicy>>>,
    /// Whether this leader has reconciled the ledger since it took over.
    reconciled: bool,
    last_report: ChangeReport,
    live_reports: LiveReports,
    /// Kinds listed at least once.
    synced: BTreeSet<Kind>,
    /// Kinds the API server refuses to list, with its answer.
    unreadable: BTreeMap<String, String>,
    /// Cuts whose last attempt failed, with when to try again.
    failed: std::sync::Mutex<BTreeMap<String, u64>>,
}

impl Engine<'_> {
    /// The loop: until cancelled or the event stream ends.
    async fn run(&mut self, mut rx: mpsc::Receiver<ClusterEvent>, cancel: &CancellationToken) {
        let expected: BTreeSet<Kind> = WATCHED
            .iter()
            .chain(OPTIONAL)
            .map(|w| w.0)
            .chain([Kind::Secret])
            .collect();
        loop {
            // Wait for a change, then batch everything that arrives within the debounce time.
            // A quiet cluster still gets a tick, so expiries happen on time. New runtime
            // evidence or intel changes confidence, not the proof: no re-proof for it.
            let mut intel_changed = false;
            let first = tokio::select! {
                () = cancel.cancelled() => break,
                e = rx.recv() => e.map(Some),
                () = tokio::time::sleep(Duration::from_secs(1)) => Some(None),
                () = fresh_evidence(self.ingest.as_deref()) => {
                    intel_changed = true;
                    Some(None)
                }
                // Traffic dropped: the rollout's policies it is blamed on revert this round.
                () = self.netpol.sink().dropped.notified() => Some(None),
                // A verdict changes confidence, like evidence: re-decided, never re-proved.
                () = new_verdicts(self.judge.as_ref()) => {
                    intel_changed = true;
                    Some(None)
                }
                // Break-glass: shown at once; acting stops (or resumes) this very round.
                _ = self.brake.changed() => {
                    self.brake_changed().await;
                    intel_changed = true;
                    Some(None)
                }
                // A new ladder: decided again at once (it changes decisions, not the proof).
                _ = self.arming.changed() => {
                    // `changed` marked it seen: put it in force now.
                    self.sync_ladder(true);
                    intel_changed = true;
                    Some(None)
                }
                // A new leader acts at once: reconciliation, then the pending decisions.
                () = self.leadership.changed() => {
                    let leads = self.leadership.leads();
                    tracing::info!(leader = leads, "leadership changed");
                    self.dashboard.metrics.leader.set(i64::from(leads));
                    // Even a quick loss and return: another leader may have written meanwhile.
                    self.reconciled = false;
                    intel_changed = true;
                    Some(None)
                }
            };
            let Some(first) = first else { break };
            let mut batch: Vec<ClusterEvent> = first.into_iter().collect();
            while let Ok(Some(e)) = tokio::time::timeout(self.config.debounce, rx.recv()).await {
                batch.push(e);
            }
            let batch_was_empty = batch.is_empty();
            // The ladder and the brake as read now, before anything is decided or shown this
            // round (the select may have woken for something else first).
            intel_changed |= self.sync_ladder(false);
            if self.brake.has_changed().unwrap_or(false) {
                self.brake_changed().await;
                intel_changed = true;
            }
            for e in batch {
                intel_changed |= self.apply(e);
            }
            self.say_what_is_missing(&expected);
            if !expected.is_subset(&self.synced) {
                continue; // first findings only once every kind is listed
            }
            intel_changed |= self.refresh_cooling().await;
            intel_changed |= self.expire_observations();
            if batch_was_empty || !self.core.is_dirty() {
                self.quiet_round(intel_changed).await;
            } else {
                self.reprove_round().await;
                self.model_moves += 1;
            }
            self.netpol
                .maybe_plan(self.core.snapshot(), self.model_moves, &self.dashboard);
            self.rollout_round().await;
        }
    }

    /// The `netpol` rollout's round: as the leader, once the ledger is reconciled and the
    /// brake and the ladder are read (as for every other action); without a writer (dry-run),
    /// decided and shown only.
    async fn rollout_round(&mut self) {
        let ledger = match &self.ledger {
            Some(l) if self.leadership.leads() => Some(l),
            Some(_) => return,
            None => None,
        };
        if ledger.is_some()
            && (!self.reconciled
                || self.arming.borrow().is_none()
                || matches!(&*self.brake.borrow(), BrakeView::Unknown))
        {
            return;
        }
        let plan = self.netpol.view();
        let round = crate::rollout::Round {
            plan: plan.as_deref(),
            sink: self.netpol.sink(),
            ttl: self.config.mitigation_ttl,
            timing: rampart_respond::rollout::Timing {
                soak: self.config.netpol.soak.as_secs(),
                cooldown: self.config.reapply_cooldown.as_secs(),
                retry: crate::ledger::RETRY_AFTER_FAILURE.as_secs(),
            },
            brake: &self.brake,
            dashboard: &self.dashboard,
        };
        let started = self.core.shadow_started();
        crate::rollout::roll_out(ledger, &mut self.core, round).await;
        if self.core.shadow_started() != started {
            // A new would-be step: the shadow history in `/findings` shows it now.
            let signals = self.refresh_signals();
            self.publish(&self.last_report, &signals);
        }
    }

    /// Applies one cluster event to the model, the live reports or the PDBs; whether intel
    /// changed.
    fn apply(&mut self, e: ClusterEvent) -> bool {
        match e {
            ClusterEvent::Upsert(o) => {
                if !self.core.apply(Change::Upsert(o)) {
                    self.dashboard.metrics.unchanged_updates.inc();
                }
            }
            ClusterEvent::Delete(k) => {
                self.core.apply(Change::Delete(k));
            }
            ClusterEvent::Relisted(kind, objects) => {
                self.synced.insert(kind);
                if self.unreadable.remove(&format!("{kind:?}")).is_some() {
                    tracing::info!(kind = ?kind, "readable again");
                }
                self.core.replace_kind(kind, objects);
            }
            ClusterEvent::Error {
                kind,
                message: e,
                forbidden,
            } => {
                self.dashboard
                    .metrics
                    .watch_errors
                    .get_or_create(&KindLabels { kind: kind.clone() })
                    .inc();
                if forbidden {
                    // Said once per kind (the watcher retries with a growing backoff).
                    if self.unreadable.insert(kind.clone(), e.clone()).is_none() {
                        tracing::warn!(kind = %kind, "the engine may not read {kind}: {e}");
                    }
                } else {
                    tracing::warn!(kind = %kind, "watch failed, retrying: {e}");
                }
            }
            ClusterEvent::ExtraUpsert("VulnerabilityReport", v) => {
                return self.live_reports.upsert(&v);
            }
            ClusterEvent::ExtraDeleted("VulnerabilityReport", ns, name) => {
                return self.live_reports.remove(&ns, &name);
            }
            ClusterEvent::ExtraRelisted("VulnerabilityReport", all) => {
                self.unreadable.remove("VulnerabilityReport");
                self.live_reports.replace(&all);
                return true;
            }
            ClusterEvent::ExtraUpsert(_, v) => self.pods.pdb_upsert(&v),
            ClusterEvent::ExtraDeleted(_, ns, name) => self.pods.pdb_delete(&ns, &name),
            ClusterEvent::ExtraRelisted(kind, all) => {
                self.unreadable.remove(kind);
                self.pods.pdb_replace(&all);
            }
        }
        false
    }

    /// Ingest housekeeping and expired observations; whether any expired.
    fn expire_observations(&self) -> bool {
        let Some(i) = &self.ingest else { return false };
        i.housekeeping();
        let mut store = i.store.lock().unwrap_or_else(|e| e.into_inner());
        let expired = store.expire(now()) > 0;
        i.metrics
            .observations
            .set(i64::try_from(store.len()).unwrap_or(i64::MAX));
        expired
    }

    /// The ledger, when this replica may write and leads now.
    fn acting(&self) -> Option<&Ledger> {
        self.ledger.as_ref().filter(|_| self.leadership.leads())
    }

    /// The pod response's round.
    async fn pod_round(&mut self) {
        let writer = self
            .ledger
            .as_ref()
            .filter(|_| self.leadership.leads())
            .map(|l| (l, &self.brake));
        pod_round(
            &mut self.pods,
            self.ingest.as_deref(),
            &self.core,
            &self.bar,
            writer,
            self.config,
            &self.dashboard.metrics,
        )
        .await;
    }

    /// Puts the ArmingPolicies read since the last round (or, `now`, the latest) in force;
    /// whether that changed anything.
    fn sync_ladder(&mut self, now: bool) -> bool {
        if !now && !self.arming.has_changed().unwrap_or(false) {
            return false;
        }
        let policies = self.arming.borrow_and_update().clone();
        let Some(p) = policies else { return false };
        let ladder = rampart_respond::arming::Ladder::of(&p);
        tracing::info!(policies = ladder.policies, "arming ladder in force");
        self.core.set_ladder(ladder);
        true
    }

    /// The brake moved: the gauge, a log line and (where this replica records Events) an
    /// Event per hand engaged or released.
    async fn brake_changed(&mut self) {
        let now = self.brake.borrow_and_update().clone();
        self.dashboard
            .metrics
            .break_glass
            .set(i64::from(now.engaged()));
        for change in now.changes(&self.brake_seen) {
            tracing::warn!(reason = change.reason(), "{}", change.note());
            let (severity, hand) = match &change {
                rampart_respond::brake::BrakeChange::Engaged(h) => {
                    (rampart_notify::Severity::Critical, h)
                }
                rampart_respond::brake::BrakeChange::Released(h) => {
                    (rampart_notify::Severity::Warning, h)
                }
            };
            self.notifier.tell(
                rampart_notify::Notice::new(
                    rampart_notify::Kind::BreakGlass,
                    severity,
                    crate::clock::now(),
                    &hand.name,
                    &change.note(),
                )
                .field("event", change.reason())
                .field("set_by", &hand.set_by)
                .field("revert_all", &hand.revert_all.to_string()),
            );
            if self.leadership.records_events() {
                self.announcer.announce_brake(&change).await;
            }
        }
        self.brake_seen = now;
    }

    /// A tick, new evidence, or updates the model does not read (status, resourceVersion):
    /// only confidence, expiries and retirements can change.
    async fn quiet_round(&mut self, intel_changed: bool) {
        self.pod_round().await;
        // Chains not announced yet (more than a round's budget, a failed create, a new leader).
        if self.leadership.records_events() {
            self.announcer.announce(&self.core).await;
        }
        if intel_changed {
            let signals = self.refresh_signals();
            self.last_report.decisions = self.core.redecide(now());
            self.publish(&self.last_report, &signals);
            tracing::info!(
                corroborated = signals.evidence.len(),
                footholds = signals.footholds.len(),
                "runtime evidence or intel changed"
            );
        }
        // Level-triggered: the standing decisions are acted on every round (a cut already
        // carried, cooling down or just failed is skipped), so a new leader, a lost record or
        // an ended cool-down needs no change in the cluster to be acted on.
        self.learn_ledger().await;
        if self.act(&self.last_report, false).await {
            self.reconciled = true;
        }
        self.notice_ledger().await;
    }

    /// A notice per chain the report adds.
    fn notice_new_chains(&self, report: &ChangeReport) {
        let Some(a) = self.core.analysis() else {
            return;
        };
        let at = now();
        for id in &report.diff.chains_added {
            let Some(c) = a.proof.chains.iter().find(|c| &c.id == id) else {
                continue;
            };
            let target = a.graph.vertex_ref(c.target);
            self.notifier.tell(
                rampart_notify::Notice::new(
                    rampart_notify::Kind::ChainNew,
                    rampart_notify::Severity::Warning,
                    at,
                    id,
                    &crate::publish::chain_line(a, c),
                )
                .field("target", &target.to_string())
                .field("entry", &a.graph.vertex_ref(c.entry).to_string())
                .field("steps", &c.length.to_string()),
            );
        }
    }

    /// A notice per chain newly corroborated by runtime evidence.
    fn notice_corroborated(&mut self, signals: &Signals) {
        let now_set: BTreeSet<String> = signals.evidence.keys().cloned().collect();
        if self.leadership.records_events() {
            let at = now();
            for (id, evidence) in &signals.evidence {
                if self.corroborated.contains(id) {
                    continue;
                }
                let first = evidence.first();
                let mut n = rampart_notify::Notice::new(
                    rampart_notify::Kind::ChainCorroborated,
                    rampart_notify::Severity::Critical,
                    at,
                    id,
                    &format!(
                        "{id} corroborated by runtime evidence: {}",
                        first
                            .map(|e| format!("{} by {}: {}", e.behaviour, e.subject, e.summary))
                            .unwrap_or_default()
                    ),
                );
                if let Some(e) = first {
                    n = n
                        .field("behaviour", e.behaviour)
                        .field("subject", &e.subject);
                }
                self.notifier.tell(n);
            }
        }
        self.corroborated = now_set;
    }

    /// After start-up or a takeover, learns the ledger as it stands before acting, so that
    /// the look after acting tells only what acting changed (every later round compares with
    /// the previous round's look).
    async fn learn_ledger(&mut self) {
        if self.phases.is_none() {
            self.notice_ledger().await;
        }
    }

    /// Notices for the ledger's moves since the last look (Applied, ended, Failed), read from
    /// its watch; only where this replica acts.
    async fn notice_ledger(&mut self) {
        use rampart_api::MitigationPhase as P;
        let Some(ledger) = self.acting() else {
            self.phases = None;
            // Another replica leads: its dashboard shows the ledger, this one shows none.
            if let Ok(mut l) = self.dashboard.ledger.write() {
                l.clear();
            }
            return;
        };
        let Ok(all) = ledger.mitigations().await else {
            return;
        };
        let at = now();
        let mut next = BTreeMap::new();
        let pending: Vec<serde_json::Value> = all
            .iter()
            .filter(|m| {
                m.status
                    .as_ref()
                    .is_some_and(|s| s.phase == rampart_api::MitigationPhase::Pending)
            })
            .map(|m| {
                serde_json::json!({
                    "namespace": m.metadata.namespace,
                    "name": m.metadata.name,
                    "uid": m.metadata.uid,
                    "reason": m.spec.reason,
                    "expires_at": m.spec.expires_at,
                    "approved": m.spec.approved,
                })
            })
            .collect();
        if let Ok(mut p) = self.dashboard.pending.write() {
            *p = pending;
        }
        if let Ok(mut l) = self.dashboard.ledger.write() {
            *l = all.iter().map(ledger_row).collect();
        }
        for m in &all {
            let key = format!(
                "{}/{}",
                m.metadata.namespace.as_deref().unwrap_or(""),
                m.metadata.name.as_deref().unwrap_or("")
            );
            let phase = m.status.as_ref().map(|s| s.phase).unwrap_or_default();
            let before = self.phases.as_ref().map(|p| p.get(&key).copied());
            next.insert(key.clone(), phase);
            // Not looked before: learn only. Same phase: nothing new.
            let Some(before) = before else { continue };
            if before == Some(phase) {
                continue;
            }
            let (kind, severity) = match phase {
                P::Applied => (
                    rampart_notify::Kind::MitigationApplied,
                    rampart_notify::Severity::Warning,
                ),
                P::Reverted | P::Retired => (
                    rampart_notify::Kind::MitigationReverted,
                    rampart_notify::Severity::Info,
                ),
                P::Failed => (
                    rampart_notify::Kind::MitigationFailed,
                    rampart_notify::Severity::Warning,
                ),
                P::Pending => (
                    rampart_notify::Kind::MitigationPending,
                    rampart_notify::Severity::Warning,
                ),
                P::Proposed => continue,
            };
            let target = &m.spec.target;
            self.notifier.tell(
                rampart_notify::Notice::new(
                    kind,
                    severity,
                    at,
                    &key,
                    &format!(
                        "{key} {:?}: {} {}/{} — {}",
                        phase,
                        target.kind,
                        target.namespace,
                        target.name,
                        m.status.as_ref().map(|s| s.message.as_str()).unwrap_or("")
                    ),
                )
                .field("action", &format!("{:?}", m.spec.action))
                .field("reason", &m.spec.reason)
                .field("chains", &m.spec.chains.len().to_string()),
            );
        }
        self.phases = Some(next);
    }

    /// The model changed: re-prove, publish, respond, record Events, act.
    async fn reprove_round(&mut self) {
        let t = Instant::now();
        let mut report = self.core.reprove(now());
        let signals = self.refresh_signals();
        report.decisions = self.core.redecide(now());
        let metrics = &self.dashboard.metrics;
        metrics.loop_latency.observe(t.elapsed().as_secs_f64());
        metrics
            .reproofs
            .get_or_create(&PathLabels {
                path: match report.path {
                    ReproofPath::Full => "full",
                    ReproofPath::Relabel => "relabel",
                    ReproofPath::Reclass => "reclass",
                    ReproofPath::Workloads => "workloads",
                    ReproofPath::Patched => "patched",
                }
                .into(),
            })
            .inc();
        self.publish(&report, &signals);
        // Freed once the report is out: a large graph takes milliseconds to drop.
        drop(self.core.take_retired());
        // A busy cluster (a re-proof every batch) must not starve the pod response.
        self.pod_round().await;
        // Events are proposals made visible, allowed in shadow mode; with several replicas
        // only the leader records them.
        if self.leadership.records_events() {
            self.announcer.announce(&self.core).await;
        }
        self.learn_ledger().await;
        if self.act(&report, true).await {
            self.reconciled = true;
        }
        self.notice_ledger().await;
        // The first proof after start-up is the state, not news.
        if self.last_report.generation > 0 && self.leadership.records_events() {
            self.notice_new_chains(&report);
        }
        tracing::info!(
            generation = report.generation,
            chains = report.chains,
            added = report.diff.chains_added.len(),
            removed = report.diff.chains_removed.len(),
            decisions = report.decisions.len(),
            "re-proved"
        );
        self.last_report = report;
    }

    /// Runtime evidence and footholds, told to the core.
    fn refresh_signals(&mut self) -> Signals {
        let signals = Signals::refresh(
            &mut self.core,
            self.ingest.as_deref(),
            &self.intel,
            &self.live_reports,
            self.judge.as_ref(),
        );
        self.notice_corroborated(&signals);
        signals
    }

    /// Publishes to the dashboard.
    fn publish(&self, report: &ChangeReport, signals: &Signals) {
        let mut levers = self.levers.now(&self.leadership);
        // As last reported (gauge, Events, log), so that every view of it agrees; acting reads
        // the live value.
        levers.break_glass =
            crate::levers::BreakGlassShown::of(&self.brake_seen, self.ledger.is_some());
        levers.arming = crate::levers::ArmingShown::of(
            &self.core,
            self.ledger.is_some(),
            self.arming.borrow().is_some(),
            self.config.shadow_window,
        );
        self.dashboard
            .metrics
            .leader
            .set(i64::from(levers.role == "leader"));
        publish(
            &self.dashboard,
            &self.core,
            report,
            &levers,
            signals,
            &self.pods.decisions,
            match &self.judge {
                Some(j) => crate::publish::Judging::Live(j),
                None => crate::publish::Judging::Off,
            },
        );
    }

    /// Tells the dashboard (`/readyz`, `/status`, `/findings`) what keeps the findings from
    /// being whole: kinds the API server refuses to list, kinds not listed yet.
    fn say_what_is_missing(&self, expected: &BTreeSet<Kind>) {
        let mut reasons: Vec<String> = self
            .unreadable
            .iter()
            .map(|(kind, e)| format!("cannot read {kind}: {e}"))
            .collect();
        let pending: Vec<String> = expected
            .difference(&self.synced)
            .map(|k| format!("{k:?}"))
            .filter(|k| !self.unreadable.contains_key(k))
            .collect();
        if !pending.is_empty() && !reasons.is_empty() {
            reasons.push(format!("not listed yet: {}", pending.join(", ")));
        }
        self.dashboard
            .metrics
            .unreadable_kinds
            .set(i64::try_from(self.unreadable.len()).unwrap_or(i64::MAX));
        self.dashboard.set_waiting(reasons);
    }

    /// Reads which cuts are cooling down (their mitigation expired, or applying failed) from
    /// the ledger and tells the core; whether that changed.
    async fn refresh_cooling(&mut self) -> bool {
        let Some(ledger) = self.acting() else {
            return false;
        };
        let Ok(existing) = ledger.mitigations().await else {
            return false;
        };
        let cooling = crate::ledger::cooling(&existing, self.config.reapply_cooldown, now());
        self.core.set_cooling(cooling)
    }

    /// As the leader (a new leader first repairs whatever the previous one left): acts on
    /// `report`. Whether this replica acted (and so has reconciled).
    async fn act(&self, report: &ChangeReport, model_changed: bool) -> bool {
        let Some(ledger) = self.acting() else {
            return false;
        };
        // The brake or the ladder not read yet: neither act nor reconcile (which would adopt
        // what the brake may be withdrawing, or act where the ladder may say shadow).
        // … or changed since this round decided (the next round decides with it).
        if self.arming.borrow().is_none() || self.arming.has_changed().unwrap_or(true) {
            return false;
        }
        let engaged = match &*self.brake.borrow() {
            BrakeView::Unknown => return false,
            v => v.engaged(),
        };
        if !self.reconciled {
            reconcile(ledger, engaged, &self.dashboard.metrics).await;
        }
        let cooling = self.core.cooling().clone();
        let how = Actuation {
            ttl: self.config.mitigation_ttl,
            retention: self.config.ledger_retention,
            cooling: &cooling,
            failed: &self.failed,
            model_changed,
            metrics: &self.dashboard.metrics,
            brake: &self.brake,
        };
        actuate(ledger, &self.core, report, &how).await;
        true
    }
}

/// One Mitigation as the dashboard's ledger shows it (the applied object by kind and name
/// only: its manifest is in the Mitigation).
fn ledger_row(m: &rampart_api::Mitigation) -> serde_json::Value {
    let status = m.status.clone().unwrap_or_default();
    let owned = &m.spec.object["metadata"];
    serde_json::json!({
        "namespace": m.metadata.namespace,
        "name": m.metadata.name,
        "uid": m.metadata.uid,
        "phase": status.phase,
        "action": m.spec.action,
        "target": m.spec.target,
        "chains": m.spec.chains,
        "reason": m.spec.reason,
        "expires_at": m.spec.expires_at,
        "approved": m.spec.approved,
        "proposed_at": status.proposed_at,
        "applied_at": status.applied_at,
        "ended_at": status.ended_at,
        "message": status.message,
        "owns": m.spec.object["kind"].as_str().map(|kind| serde_json::json!({
            "kind": kind,
            "namespace": owned["namespace"],
            "name": owned["name"],
        })),
    })
}
