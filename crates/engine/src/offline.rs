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

use crate::Error;
use crate::clock::now;
use crate::levers::Levers;
use crate::listen::bind;
use crate::publish::publish;
use crate::signals::Signals;

/// The dashboard's state after one shadow-mode proof of `snapshot`.
pub fn findings(snapshot: &Snapshot) -> Arc<DashboardState> {
    let mut core = EngineCore::shadow(Options::default());
    for o in snapshot.iter() {
        core.apply(Change::Upsert(Box::new(o.clone())));
    }
    let report = core.reprove(now());
    let state = Arc::new(DashboardState::default());
    publish(
        &state,
        &core,
        &report,
        &Levers::default(),
        &Signals::default(),
        &Default::default(),
    );
    state
}

/// Proves `snapshot` once and serves its dashboard on `addr` until Ctrl-C.
/// `guardians` are shown on the request-guard pages (`/guard`).
pub fn serve(
    snapshot: &Snapshot,
    guardians: Vec<rampart_api::Guardian>,
    addr: SocketAddr,
    limits: Limits,
) -> Result<(), Error> {
    let state = findings(snapshot);
    state
        .guard
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .guardians = guardians;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(async {
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
