//! The `rampart` binary: command-line parsing and wiring of the core crates. No analysis logic
//! lives here.

/// mimalloc settings for the long-running engine, which keeps a large model after a burst of
/// list traffic: return freed pages at once and commit arena memory only when used (10k pods:
/// ~134 MB resident instead of ~200 MB). mimalloc reads them from the environment when it
/// starts, before `main`, so the process re-executes itself once with them set (same PID; an
/// operator's own values win). If that fails, the engine runs with the defaults.
#[cfg(unix)]
fn lean_allocator() {
    use std::os::unix::process::CommandExt;
    const SETTINGS: [(&str, &str); 2] = [
        ("MIMALLOC_PURGE_DELAY", "0"),
        ("MIMALLOC_ARENA_EAGER_COMMIT", "0"),
    ];
    if SETTINGS.iter().any(|(k, _)| std::env::var_os(k).is_some()) {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .envs(SETTINGS)
        .exec();
    tracing::debug!("not re-executed with lean allocator settings: {err}");
}

#[cfg(not(unix))]
fn lean_allocator() {}

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod engine;
mod infected;
mod intel;
mod policy;
mod scan;
mod webhook;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// rampart: prove which attack chains an attacker on the internet could walk through a
/// Kubernetes cluster, and the least disruptive reversible cut.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Prove internet-to-crown-jewel attack chains and the minimal cut, offline, from manifests
    /// or `kubectl get -o json` dumps. Exit code: 0 no chains, 1 chains found, 2 input error.
    Scan(scan::ScanArgs),
    /// List which workloads may connect to which (and to/from external ranges) under the
    /// NetworkPolicies in the input, one `SRC => DST : PORTS` line per allowed pair.
    Connectivity(scan::ConnectivityArgs),
    /// Serve the admission webhook (AdmissionReview v1 over HTTPS): Pod Security Standards,
    /// SecurityPolicies, mutations.
    Webhook(webhook::WebhookArgs),
    /// Offline admission: check manifests, run policy tests.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Print the CustomResourceDefinitions rampart defines (generated from its Rust types).
    Crds,
    /// Watch the cluster, re-prove on every change and report; shadow-first (this build
    /// proposes, it writes nothing).
    Engine(Box<engine::EngineArgs>),
    /// Serve the engine's dashboard for manifests or a dump (offline, read-only).
    Dashboard(engine::DashboardArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RAMPART_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan::scan(&args),
        Command::Connectivity(args) => scan::connectivity(&args),
        Command::Webhook(args) => webhook::run(&args),
        Command::Policy(policy::PolicyCommand::Check(args)) => policy::check(&args),
        Command::Policy(policy::PolicyCommand::Test(args)) => policy::test(&args),
        Command::Crds => policy::crds(),
        Command::Engine(args) => {
            lean_allocator();
            engine::run(&args)
        }
        Command::Dashboard(args) => engine::dashboard(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rampart: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
