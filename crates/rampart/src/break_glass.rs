//! `rampart engine break-glass on|off`: writes the BreakGlass object every engine replica
//! watches, naming the user the API server authenticated, and (with `--wait`) waits until
//! revert-all has left no active Mitigation.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use rampart_api::BreakGlassSpec;
use rampart_kube::controls::{active_mitigations, list_switches, set_switch, whoami};

use crate::webhook::parse_duration;

/// What `rampart engine` can do besides running.
#[derive(Debug, Subcommand)]
pub enum EngineCommand {
    /// Stop all acting at once (`on`; with `--revert-all` also withdraw every active
    /// Mitigation), or release the switch (`off`). Writes the cluster-scoped BreakGlass object
    /// every engine replica watches. Exit code: 0 done, 1 `--wait` ran out, 2 not written.
    BreakGlass(BreakGlassArgs),
}

/// The switch's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Position {
    /// Engage: the engine writes nothing but reverts.
    On,
    /// Release this switch (acting resumes once no other BreakGlass is engaged).
    Off,
}

/// Arguments of `rampart engine break-glass`.
#[derive(Debug, Args)]
pub struct BreakGlassArgs {
    /// on or off.
    #[arg(value_enum)]
    pub position: Position,
    /// With `on`: also withdraw (revert) every Proposed and Applied Mitigation.
    #[arg(long)]
    pub revert_all: bool,
    /// Why (shown on the dashboard and in the Event).
    #[arg(long)]
    pub reason: Option<String>,
    /// The BreakGlass object's name (several people may each hold their own).
    #[arg(long, default_value = "rampart")]
    pub name: String,
    /// With `--revert-all`: wait up to this long until no Mitigation is active, printing
    /// what remains (0: do not wait).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub wait: Duration,
}

/// Writes the switch.
pub fn run(args: &BreakGlassArgs) -> anyhow::Result<ExitCode> {
    if args.revert_all && args.position == Position::Off {
        anyhow::bail!("--revert-all goes with `on` (releasing the switch reverts nothing)");
    }
    if args
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > 512)
    {
        anyhow::bail!("--reason is longer than 512 characters");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(write(args))
}

async fn write(args: &BreakGlassArgs) -> anyhow::Result<ExitCode> {
    let client = kube::Client::try_default()
        .await
        .map_err(|e| anyhow::anyhow!("connecting to the cluster: {e}"))?;
    let who = whoami(&client).await.unwrap_or_default();
    let spec = BreakGlassSpec {
        engaged: args.position == Position::On,
        revert_all: args.revert_all,
        reason: args.reason.clone().unwrap_or_default(),
        set_by: who.clone(),
    };
    if let Err(e) = set_switch(&client, &args.name, spec).await {
        eprintln!("rampart: {e}");
        return Ok(ExitCode::from(2));
    }
    let by = if who.is_empty() {
        String::new()
    } else {
        format!(" by {who}")
    };
    match args.position {
        Position::On => println!(
            "break-glass {} engaged{by}: the engine writes nothing but reverts{}",
            args.name,
            if args.revert_all {
                ", and withdraws every active mitigation"
            } else {
                ""
            }
        ),
        Position::Off => {
            println!("break-glass {} released{by}", args.name);
            let others: Vec<String> = list_switches(&client)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|b| b.spec.engaged)
                .filter_map(|b| b.metadata.name)
                .collect();
            if others.is_empty() {
                println!("no BreakGlass is engaged: acting resumes");
            } else {
                println!(
                    "still engaged: {} (acting stays stopped)",
                    others.join(", ")
                );
            }
        }
    }
    if !args.revert_all || args.wait.is_zero() {
        return Ok(ExitCode::SUCCESS);
    }
    let deadline = Instant::now() + args.wait;
    loop {
        match active_mitigations(&client).await {
            Ok(left) if left.is_empty() => {
                println!("no active mitigation is left");
                return Ok(ExitCode::SUCCESS);
            }
            Ok(left) if Instant::now() >= deadline => {
                println!("still active after {:?}: {}", args.wait, left.join(", "));
                return Ok(ExitCode::from(1));
            }
            Err(e) if Instant::now() >= deadline => {
                eprintln!("rampart: {e}");
                return Ok(ExitCode::from(1));
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
