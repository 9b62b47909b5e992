//! The `rampart` binary: command-line parsing and wiring of the core crates. No analysis logic
//! lives here.

/// mimalloc settings for the long-running engine, which keeps a large model after a burst of
/// list traffic: return freed pages at once and commit arena memory only when used (10k pods:
/// ~134 MB resident instead of ~200 MB). mimalloc reads them from the environment when it
/// starts, before `main`, so the process re-executes itself once with them set (same PID; an
/// operator's own values win). If that fails, the engine runs with the defaults. The webhook
/// uses the same settings, so a burst of large reviews does not stay resident, and so does a
/// scan, whose dump text and parsed objects are freed as the analysis grows (10k pods: 114 MiB
/// peak instead of 167 MiB; 100k: 1.24 GiB instead of 1.42 GiB).
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

mod audit;
mod break_glass;
#[cfg(test)]
mod chart_tests;
mod engine;
mod gate;
mod guard;
mod intel;
mod learner;
mod mcp;
mod model;
mod netpol;
mod permissions;
mod policy;
mod scan;
mod serving;
mod webhook;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rampart_report::Safe;
use tracing_subscriber::field::MakeExt;

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
    /// Compliance against the CIS Kubernetes Benchmark, NSA/CISA hardening, Pod Security
    /// Standards and the cluster's own SecurityPolicies, offline, from manifests or dumps:
    /// scores, findings with their fixes. Exit code: 0 nothing fails, 1 failures, 2 input error.
    Audit(audit::AuditArgs),
    /// List which workloads may connect to which (and to/from external ranges) under the
    /// NetworkPolicies in the input, one `SRC => DST : PORTS` line per allowed pair.
    Connectivity(scan::ConnectivityArgs),
    /// Least-privilege NetworkPolicies from observed traffic (Hubble, Inspektor Gadget),
    /// proven by rampart's reachability before they are shown.
    #[command(subcommand)]
    Netpol(netpol::NetpolCommand),
    /// Serve the admission webhook (AdmissionReview v1 over HTTPS): Pod Security Standards,
    /// SecurityPolicies, mutations.
    Webhook(Box<webhook::WebhookArgs>),
    /// Offline admission: check manifests, run policy tests.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Print the CustomResourceDefinitions rampart defines (generated from its Rust types).
    Crds,
    /// Print what a component asks of the API server with the given settings (JSON): the
    /// verbs and resources its RBAC must allow, nothing more.
    #[command(subcommand)]
    Permissions(permissions::PermissionsCommand),
    /// Watch the cluster, re-prove on every change and report; shadow-first: it proposes, and
    /// writes only the action classes enabled with --enable.
    Engine(Box<engine::EngineArgs>),
    /// Serve the engine's dashboard for manifests or a dump (offline, read-only).
    Dashboard(engine::DashboardArgs),
    /// Ask a model (any OpenAI-compatible Chat Completions server) whether one chain is
    /// exploitable, and print its verdict; `--show-prompt` prints what it was told. Exit code:
    /// 0 answered, 1 no verdict, 2 no such chain or bad input.
    Judge(Box<model::JudgeArgs>),
    /// A read-only Model Context Protocol server over manifests or a dump, for an operator's AI
    /// assistant: list chains, explain one with its evidence, what-if a cut, mitigations, audit
    /// findings. On stdio, or streamable HTTP with --http.
    Mcp(Box<mcp::McpArgs>),
    /// The request guard: a learning reverse proxy in front of one service (`rampart guard
    /// --upstream 8080 --mode learn|alert|block`), and `rampart guard replay` to learn from and
    /// judge recorded traffic offline.
    Guard(Box<guard::GuardArgs>),
    /// The request guard's learner: gates sync their piles here; it verifies each gate
    /// (TokenReview), learns every service's criteria from all its replicas, keeps them in the
    /// Guardians' status, and hands gates' alerts to the engine.
    Learner(Box<learner::LearnerArgs>),
}

/// How log fields are written: as the default formatter does (`message`, then `name=value`),
/// but every value through [`Safe`]. The default escapes only some control characters of the
/// message; pod names, namespaces and alert text logged as fields (`pod = %name`) would reach
/// the operator's terminal raw.
fn log_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static {
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        if field.name() == "message" {
            write!(w, "{}", Safe(format_args!("{value:?}")))
        } else {
            write!(w, "{}={}", field.name(), Safe(format_args!("{value:?}")))
        }
    })
    .delimited(" ")
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .fmt_fields(log_fields())
        // Colours for a person at a terminal only: a log collector keeps the codes as text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RAMPART_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => {
            lean_allocator();
            scan::scan(&args)
        }
        Command::Audit(args) => {
            lean_allocator();
            audit::audit(&args)
        }
        Command::Connectivity(args) => scan::connectivity(&args),
        Command::Netpol(command) => {
            lean_allocator();
            netpol::run(&command)
        }
        Command::Webhook(args) => {
            // A large review's memory goes back to the system at once, not minutes later.
            lean_allocator();
            webhook::run(&args)
        }
        Command::Policy(policy::PolicyCommand::Check(args)) => policy::check(&args),
        Command::Policy(policy::PolicyCommand::Test(args)) => policy::test(&args),
        Command::Policy(policy::PolicyCommand::Convert(args)) => policy::convert(&args),
        Command::Crds => policy::crds(),
        Command::Permissions(c) => permissions::run(&c),
        Command::Engine(args) => {
            lean_allocator();
            engine::run(&args)
        }
        Command::Dashboard(args) => engine::dashboard(&args),
        Command::Judge(args) => model::judge(&args),
        Command::Mcp(args) => mcp::run(&args),
        Command::Guard(args) => guard::run(&args),
        Command::Learner(args) => learner::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Errors quote input (file names, object names, API server messages).
            eprintln!("rampart: error: {}", Safe(format_args!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A log writer into memory.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn log_fields_cannot_drive_the_terminal() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(super::log_fields())
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let evil = "web\x1b]0;owned\x07\x1b[2J\u{202e}gnp.exe\nFAKE";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(pod = %evil, namespace = evil, reason = ?evil, "infected pod {evil}");
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(
            !out.trim_end_matches('\n')
                .chars()
                .any(rampart_report::is_unsafe_char),
            "{out:?}"
        );
        assert!(
            out.contains("infected pod web\\x1b]0;owned")
                && out.contains("pod=web\\x1b]0;owned\\x07\\x1b[2J\\u{202e}gnp.exe\\nFAKE"),
            "{out}"
        );
    }
}
