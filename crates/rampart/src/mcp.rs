//! `rampart mcp`: the read-only MCP server over manifests or a cluster dump, on stdio (an
//! assistant starts it) or streamable HTTP (`--http`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use rampart_audit::{Framework, Inventory, Object};
use rampart_files::{LoadOptions, load_raw};
use rampart_mcp::Knowledge;
use rampart_report::audit::{AuditInputs, AuditReport};

/// Arguments of `rampart mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Files or directories of manifests or a `kubectl get -o json` dump (as for `scan`);
    /// rampart.dev Mitigations among them are the ledger `list_mitigations` shows.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Serve streamable HTTP at `http://ADDR/mcp` instead of stdio.
    #[arg(long, env = "RAMPART_MCP_HTTP")]
    pub http: Option<SocketAddr>,
    /// File holding the bearer token HTTP clients must send; required unless `--http` is a
    /// loopback address (the answers hold the whole attack graph).
    #[arg(long, env = "RAMPART_MCP_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Vulnerability intel (as for `scan`).
    #[command(flatten)]
    pub intel: crate::intel::IntelArgs,
    /// Connection limits and timeouts of the HTTP listener.
    #[command(flatten)]
    pub serve: crate::serving::ServeArgs,
}

/// The inputs proved, reported and audited once.
fn knowledge(args: &McpArgs) -> anyhow::Result<Knowledge> {
    let proved = crate::scan::prove(
        &args.paths,
        1 << 30,
        rampart_graph::Options::default(),
        &args.intel,
    )?;
    let (docs, _) = load_raw(&args.paths, &LoadOptions::default());
    let mut mitigations = Vec::new();
    let mut objects = Vec::with_capacity(docs.len());
    for d in docs {
        if d.value["kind"] == "Mitigation"
            && d.value["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("rampart.dev/"))
        {
            mitigations.push(d.value.clone());
        }
        let file: Arc<str> = Arc::from(d.source.file.as_ref());
        if let Some(o) = Object::new(d.value, Some(file), d.source.line) {
            objects.push(o);
        }
    }
    let inventory = Inventory::new(objects);
    let audit = rampart_audit::audit(&inventory, &rampart_audit::run::Options::default());
    let audit = AuditReport::new(
        audit,
        AuditInputs {
            files: proved.loaded.files.len(),
            objects: inventory.objects().len(),
            frameworks: Framework::ALL.to_vec(),
            ..AuditInputs::default()
        },
    );
    Ok(Knowledge::new(
        proved.loaded.snapshot,
        proved.analysis,
        proved.options,
        proved.report,
        audit,
        mitigations,
    ))
}

/// Runs `rampart mcp`.
pub fn run(args: &McpArgs) -> anyhow::Result<ExitCode> {
    let token = match (&args.token_file, args.http) {
        (Some(f), _) => {
            let t = rampart_files::read_text_bounded(f, rampart_files::MAX_SECRET_FILE_BYTES)
                .with_context(|| format!("reading the MCP token {}", f.display()))?;
            let t = t.trim();
            anyhow::ensure!(!t.is_empty(), "the MCP token file {} is empty", f.display());
            Some(rampart_http::auth::Token::new(t))
        }
        (None, Some(a)) if !a.ip().is_loopback() => anyhow::bail!(
            "--http {a} is beyond loopback: the answers hold the whole attack graph, so set --token-file"
        ),
        (None, _) => None,
    };
    let knowledge = Arc::new(knowledge(args)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        match args.http {
            None => rampart_mcp::serve_stdio(knowledge)
                .await
                .map_err(anyhow::Error::from),
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding {addr}"))?;
                eprintln!(
                    "rampart mcp: listening on http://{} (MCP at /mcp)",
                    listener.local_addr()?
                );
                let server = rampart_http::serve::Server::for_process(
                    args.serve.limits(),
                    Default::default(),
                );
                let stop = tokio_util::sync::CancellationToken::new();
                let ctrl_c = stop.clone();
                tokio::spawn(async move {
                    let _ = tokio::signal::ctrl_c().await;
                    ctrl_c.cancel();
                });
                rampart_mcp::serve_http(knowledge, listener, token, server, stop).await;
                Ok::<(), anyhow::Error>(())
            }
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
