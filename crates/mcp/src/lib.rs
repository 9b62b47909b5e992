//! rampart's read-only Model Context Protocol server (`rampart mcp`): an operator's AI
//! assistant asks rampart's proof — "why is payments at risk?" — instead of guessing.
//!
//! * [`knowledge`]: the inputs proved, reported and audited once, and the tools' answers as
//!   JSON (pure, synchronous; every answer says its strings are the cluster's data);
//! * [`server`]: the five tools (`list_chains`, `explain_chain`, `what_if_cut`,
//!   `list_mitigations`, `audit_findings`), all read-only, on rmcp;
//! * [`serve_stdio`] and [`serve_http`]: the two transports; HTTP runs on rampart-http's
//!   serving layer (connection caps, timeouts), stateless, JSON answers, behind a bearer token
//!   unless it listens on loopback only.

pub mod knowledge;
pub mod server;

use std::sync::Arc;

use rampart_http::serve::Server;
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use knowledge::Knowledge;
pub use server::RampartMcp;

/// Why serving stopped.
#[derive(Debug, thiserror::Error)]
pub enum McpServeError {
    /// The client never completed the handshake, or the transport failed.
    #[error("MCP over stdio: {0}")]
    Stdio(String),
}

/// Serves on stdin/stdout until the client goes away (logs go to stderr).
pub async fn serve_stdio(knowledge: Arc<Knowledge>) -> Result<(), McpServeError> {
    let running = RampartMcp::new(knowledge)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| McpServeError::Stdio(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| McpServeError::Stdio(e.to_string()))?;
    Ok(())
}

/// Serves streamable HTTP at `/mcp` on `listener` until `cancel`. Without `token` the listener
/// must be loopback (the caller checks), and the Host header must name loopback too (no DNS
/// rebinding from a browser); with one, every request needs it as a bearer token.
pub async fn serve_http(
    knowledge: Arc<Knowledge>,
    listener: TcpListener,
    token: Option<rampart_http::auth::Token>,
    server: Server,
    cancel: CancellationToken,
) {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_cancellation_token(cancel.child_token());
    if token.is_some() {
        // Reached by whatever name the operator gives it; the token is the check.
        config = config.disable_allowed_hosts();
    }
    let mcp = RampartMcp::new(knowledge);
    let service: StreamableHttpService<RampartMcp, NeverSessionManager> =
        StreamableHttpService::new(move || Ok(mcp.clone()), Default::default(), config);
    let app = axum::Router::new()
        .nest_service("/mcp", service)
        .route("/healthz", axum::routing::get(|| async { "ok" }));
    let app = match token {
        Some(t) => rampart_http::auth::protect(app, t),
        None => app,
    };
    server.serve(listener, None, app, cancel).await;
}
