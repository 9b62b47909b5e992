//! `rampart permissions`: what each component asks of the API server with the given settings,
//! from the same table the engine's SelfSubjectAccessReviews use — to check RBAC against.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use rampart_kube::access::{self, Access};
use rampart_respond::actuator::Actuator;

/// Which component.
#[derive(Debug, Subcommand)]
pub enum PermissionsCommand {
    /// `rampart engine` with these settings (the same flags and environment).
    Engine(EngineAccessArgs),
    /// `rampart webhook` watching the cluster (with `--policies` and `--namespaces` it needs
    /// nothing).
    Webhook,
}

/// The engine settings that change what it asks for.
#[derive(Debug, Args)]
pub struct EngineAccessArgs {
    /// As `rampart engine --enable`.
    #[arg(long, env = "RAMPART_ENGINE_ENABLE", value_delimiter = ',')]
    pub enable: Vec<String>,
    /// As `rampart engine --actuator`.
    #[arg(long, env = "RAMPART_ENGINE_ACTUATOR", default_value = "dryrun")]
    pub actuator: String,
    /// As `rampart engine --namespace` (where the leader Lease lives).
    #[arg(
        long,
        env = "RAMPART_ENGINE_NAMESPACE",
        default_value = "rampart-system"
    )]
    pub namespace: String,
    /// As `rampart engine --watch-vulnerability-reports`.
    #[arg(long, env = "RAMPART_ENGINE_WATCH_VULNERABILITY_REPORTS")]
    pub watch_vulnerability_reports: bool,
}

/// What the engine asks for with `args`.
pub fn engine_access(args: &EngineAccessArgs) -> Vec<Access> {
    let (actuator, _) = Actuator::parse(&args.actuator);
    // PodDisruptionBudgets are read whenever the `pod` class is on (dry-run verdicts weigh them
    // too); pods are written only with a writing actuator.
    let pod_class = args.enable.iter().any(|c| c.trim() == "pod");
    let pods = actuator.writes() && pod_class;
    let mut out = access::engine_reads(pod_class, args.watch_vulnerability_reports);
    out.extend(access::engine_events());
    if actuator.writes() {
        out.extend(access::engine_acting(
            pods,
            actuator == Actuator::AdminNetworkPolicy,
            &args.namespace,
        ));
    }
    out.sort();
    out.dedup_by(|a, b| {
        a.group == b.group
            && a.resource == b.resource
            && a.subresource == b.subresource
            && a.verb == b.verb
            && a.namespace == b.namespace
    });
    out
}

/// Prints the list as JSON.
pub fn run(command: &PermissionsCommand) -> anyhow::Result<ExitCode> {
    let list = match command {
        PermissionsCommand::Engine(args) => engine_access(args),
        PermissionsCommand::Webhook => access::webhook_reads(),
    };
    println!("{}", serde_json::to_string_pretty(&list)?);
    Ok(ExitCode::SUCCESS)
}
