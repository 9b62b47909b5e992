//! `rampart dashboard`: the engine's dashboard over an offline snapshot (shadow mode,
//! read-only).

use std::net::SocketAddr;
use std::sync::Arc;

use rampart_graph::Options;
use rampart_http::dashboard::{DashboardState, router};
use rampart_http::serve::{Limits, Server};
use rampart_model::{Change, Snapshot};
use rampart_respond::engine::EngineCore;
use tokio_util::sync::CancellationToken;

use rampart_report::ScanReport;
use rampart_respond::engine::ChangeReport;

use crate::Error;
use crate::clock::now;
use crate::judge::{ModelClient, ModelSettings, judge_all};
use crate::levers::Levers;
use crate::listen::bind;
use crate::publish::Judging;
use crate::publish::publish;
use crate::signals::Signals;

/// One shadow-mode proof of `snapshot`.
fn prove(snapshot: &Snapshot) -> (EngineCore, ChangeReport) {
    let mut core = EngineCore::shadow(Options::default());
    for o in snapshot.iter() {
        core.apply(Change::Upsert(Box::new(o.clone())));
    }
    let report = core.reprove(now());
    (core, report)
}

fn shown(core: &EngineCore, report: &ChangeReport, judging: Judging<'_>) -> Arc<DashboardState> {
    let state = Arc::new(DashboardState::default());
    publish(
        &state,
        core,
        report,
        &Levers::default(),
        &Signals::default(),
        &Default::default(),
        judging,
    );
    state
}

/// The dashboard's state after one shadow-mode proof of `snapshot`.
pub fn findings(snapshot: &Snapshot) -> Arc<DashboardState> {
    let (core, report) = prove(snapshot);
    shown(&core, &report, Judging::Off)
}

/// Like [`findings`], every chain judged by the model first (its captions on the page).
pub async fn judged_findings(
    snapshot: &Snapshot,
    model: &ModelSettings,
) -> Result<Arc<DashboardState>, Error> {
    let (core, report) = prove(snapshot);
    let client = Arc::new(ModelClient::new(model)?);
    let chains = match core.analysis() {
        Some(a) => ScanReport::new(a, Default::default()).chains,
        None => Vec::new(),
    };
    let metrics = rampart_http::dashboard::JudgeMetrics::default();
    let verdicts = judge_all(&client, &chains, model.concurrency, &metrics).await;
    Ok(shown(
        &core,
        &report,
        Judging::Offline(&verdicts, model.threshold),
    ))
}

/// Proves `snapshot` once and serves its dashboard on `addr` until Ctrl-C.
/// `guardians` are shown on the request-guard pages (`/guard`); with a `model`, every chain is
/// judged before the page is served.
pub fn serve(
    snapshot: &Snapshot,
    guardians: Vec<rampart_api::Guardian>,
    addr: SocketAddr,
    limits: Limits,
    model: Option<&ModelSettings>,
    source: Option<rampart_http::dashboard::explorer::SourceLinks>,
) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async {
        let state = match model {
            Some(m) => judged_findings(snapshot, m).await?,
            None => findings(snapshot),
        };
        state
            .guard
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .guardians = guardians;
        if let Some(s) = source {
            let _ = state.source_links.set(s);
        }
        let listener = bind(addr).await?;
        eprintln!("rampart dashboard: http://{}", listener.local_addr()?);
        let server = Server::for_process(limits, state.metrics.serve.clone());
        let stop = CancellationToken::new();
        let ctrl_c = stop.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            ctrl_c.cancel();
        });
        server.serve(listener, None, router(state), stop).await;
        Ok(())
    })
}
