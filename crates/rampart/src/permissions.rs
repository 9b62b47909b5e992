//! `rampart permissions`: what each component asks of the API server with the given settings,
//! from the same table the engine's SelfSubjectAccessReviews use — to check RBAC against.

use std::process::ExitCode;

use clap::Subcommand;
use rampart_kube::access::{self, Access};
use rampart_respond::actuator::Actuator;

use crate::engine::EngineArgs;

/// Which component.
#[derive(Debug, Subcommand)]
pub enum PermissionsCommand {
    /// `rampart engine` with these settings (its own flags and environment; those that change
    /// what it asks for: --enable, --actuator, --namespace, --watch-vulnerability-reports,
    /// --watch-guardians).
    Engine(Box<EngineArgs>),
    /// `rampart webhook` watching the cluster (with `--policies` and `--namespaces` it needs
    /// nothing).
    Webhook {
        /// With `--watch-pull-secrets` (list/watch on Secrets).
        #[arg(long)]
        watch_pull_secrets: bool,
    },
    /// `rampart learner`.
    Learner,
}

/// What the engine asks for with `args`.
pub fn engine_access(args: &EngineArgs) -> Vec<Access> {
    let (actuator, _) = Actuator::parse(&args.actuator);
    // PodDisruptionBudgets are read whenever the `pod` class is on (dry-run verdicts weigh them
    // too); pods are written only with a writing actuator.
    let pod_class = args.enable.iter().any(|c| c.trim() == "pod");
    let pods = actuator.writes() && pod_class;
    let mut out = access::engine_reads(pod_class, args.watch_vulnerability_reports);
    if args.watch_guardians {
        out.extend(access::engine_guard_reads());
    }
    if args.compliance {
        out.extend(access::engine_audit_access());
    }
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
        PermissionsCommand::Webhook { watch_pull_secrets } => {
            let mut list = access::webhook_reads();
            if *watch_pull_secrets {
                list.extend(access::webhook_pull_secrets());
            }
            list
        }
        PermissionsCommand::Learner => access::learner_access(),
    };
    println!("{}", serde_json::to_string_pretty(&list)?);
    Ok(ExitCode::SUCCESS)
}
