//! `rampart netpol suggest`: least-privilege NetworkPolicies from observed flows, verified by
//! rampart's own reachability before they are shown.

use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use rampart_files::{LoadOptions, load_paths};
use rampart_model::ParseLimits;
use rampart_netpol::{Collector, Format as FlowFormat, Plan, ReadTally, Settings};
use rampart_report::Safe;

/// `rampart netpol …`.
#[derive(Debug, Subcommand)]
pub enum NetpolCommand {
    /// Suggest ingress and egress NetworkPolicies per workload from observed flows (Cilium
    /// Hubble JSON, Inspektor Gadget), verified against rampart's reachability: every observed
    /// flow still passes, what else stays open is listed, and the attack chains the plan breaks.
    /// Exit code: 0 verified, 1 an observed flow would be denied, 2 input error.
    Suggest(SuggestArgs),
}

/// Output formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Output {
    /// The policies as a YAML stream `kubectl apply -f` takes (the summary goes to stderr).
    Yaml,
    /// The plan: the `rampart.dev/netpol-plan/v1` JSON contract (docs/netpol.md).
    Json,
    /// A human summary of the plan: steps, verification, what closes, chains.
    Text,
}

/// Flow file formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FlowFormatArg {
    /// Told from each file's first record.
    Auto,
    /// Cilium Hubble JSON lines (`hubble observe -o json`, the exporter).
    Hubble,
    /// Inspektor Gadget `trace network` JSON lines.
    Gadget,
    /// Inspektor Gadget's old advisor event array.
    GadgetAdvisor,
}

/// Which directions get allow-lists.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Direction {
    /// Ingress and egress.
    Both,
    /// Ingress only.
    Ingress,
    /// Egress only.
    Egress,
}

/// Arguments of `rampart netpol suggest`.
#[derive(Debug, Args)]
pub struct SuggestArgs {
    /// Flow files (`-` for standard input); repeat the flag or separate with commas.
    #[arg(long = "flows", required = true, value_delimiter = ',')]
    pub flows: Vec<PathBuf>,
    /// The cluster: files or directories of manifests or `kubectl get -o json` dumps (pods
    /// with their status give the addresses flows are attributed by).
    #[arg(required_unless_present = "infer_cluster")]
    pub paths: Vec<PathBuf>,
    /// Add the pods, namespaces and Services the flows name that the inputs lack (labels and
    /// addresses as the capture gives them, owners guessed from pod names): for a capture
    /// without a dump, or a dump older than the capture.
    #[arg(long)]
    pub infer_cluster: bool,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Output::Yaml)]
    pub format: Output,
    /// The flow files' format.
    #[arg(long, value_enum, default_value_t = FlowFormatArg::Auto)]
    pub flow_format: FlowFormatArg,
    /// Which directions get allow-lists.
    #[arg(long, value_enum, default_value_t = Direction::Both)]
    pub direction: Direction,
    /// Add a default-deny per namespace that gets policies (its last step).
    #[arg(long)]
    pub default_deny: bool,
    /// Do not add DNS egress (UDP and TCP 53 to the cluster DNS) to egress allow-lists.
    #[arg(long)]
    pub no_dns: bool,
    /// Widen external IPv4 peers to this prefix length.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u8).range(0..=32))]
    pub v4_prefix: u8,
    /// Widen external IPv6 peers to this prefix length.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u8).range(0..=128))]
    pub v6_prefix: u8,
    /// More distinct external peers than this on one workload, direction and port: admit the
    /// whole internet on that port.
    #[arg(long, default_value_t = 16)]
    pub world_after: usize,
    /// Namespaces to suggest policies for (repeatable; default: all but kube-system,
    /// kube-public, kube-node-lease).
    #[arg(long = "namespace", short = 'n')]
    pub namespaces: Vec<String>,
    /// Skip proving the attack chains before and after each step.
    #[arg(long)]
    pub no_chains: bool,
    /// Largest cluster input file accepted, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub max_file_size: usize,
    /// Print phase timings to stderr.
    #[arg(long)]
    pub timings: bool,
}

/// Runs `rampart netpol …`.
pub fn run(command: &NetpolCommand) -> anyhow::Result<ExitCode> {
    match command {
        NetpolCommand::Suggest(args) => suggest(args),
    }
}

fn suggest(args: &SuggestArgs) -> anyhow::Result<ExitCode> {
    let t0 = Instant::now();
    let loaded = load_paths(
        &args.paths,
        &LoadOptions {
            limits: ParseLimits {
                max_bytes: args.max_file_size,
                ..ParseLimits::default()
            },
        },
    );
    for e in &loaded.errors {
        eprintln!("rampart: warning: {}", Safe(e));
    }
    let t_load = t0.elapsed();
    let t1 = Instant::now();
    let mut collector = Collector::default();
    let mut tally = ReadTally::default();
    let format = match args.flow_format {
        FlowFormatArg::Auto => None,
        FlowFormatArg::Hubble => Some(FlowFormat::Hubble),
        FlowFormatArg::Gadget => Some(FlowFormat::GadgetTrace),
        FlowFormatArg::GadgetAdvisor => Some(FlowFormat::GadgetAdvisor),
    };
    let mut input_errors = 0;
    for path in &args.flows {
        let name = path.display().to_string();
        let result = if name == "-" {
            rampart_netpol::read_flows(&name, std::io::stdin().lock(), format, |f| {
                collector.add(f);
            })
        } else {
            match rampart_files::open_regular(path) {
                Ok(file) => rampart_netpol::read_flows(
                    &name,
                    BufReader::with_capacity(1 << 16, file),
                    format,
                    |f| collector.add(f),
                ),
                Err(e) => {
                    eprintln!("rampart: error: {}: {}", Safe(&name), Safe(&e));
                    input_errors += 1;
                    continue;
                }
            }
        };
        match result {
            Ok((_, t)) => tally.merge(t),
            Err(e) => {
                eprintln!("rampart: error: {}: {}", Safe(&name), Safe(&e));
                input_errors += 1;
            }
        }
    }
    let t_read = t1.elapsed();
    let settings = Settings {
        ingress: args.direction != Direction::Egress,
        egress: args.direction != Direction::Ingress,
        default_deny: args.default_deny,
        dns: !args.no_dns,
        v4_prefix: args.v4_prefix,
        v6_prefix: args.v6_prefix,
        world_after: args.world_after,
        namespaces: args.namespaces.clone(),
    };
    let t2 = Instant::now();
    let mut snapshot = loaded.snapshot;
    if args.infer_cluster {
        let added = rampart_netpol::infer::complete(&mut snapshot, &collector);
        eprintln!("inferred from the flows: {added} objects the inputs lack");
    }
    let plan = rampart_netpol::plan(&snapshot, &collector, &settings, !args.no_chains);
    let t_plan = t2.elapsed();
    let mut out = std::io::stdout().lock();
    match args.format {
        Output::Yaml => {
            let mut text = String::new();
            for p in &plan.policies {
                text.push_str("---\n");
                text.push_str(&serde_saphyr::to_string(p).context("serializing a policy")?);
            }
            out.write_all(text.as_bytes()).context("writing")?;
            let mut err = std::io::stderr().lock();
            summary(&mut err, &plan, &tally).context("writing")?;
        }
        Output::Json => {
            let mut v = serde_json::to_value(&plan).context("serializing the plan")?;
            v["input"] = serde_json::to_value(&tally).context("serializing the tally")?;
            serde_json::to_writer_pretty(&mut out, &v).context("writing")?;
            writeln!(out).context("writing")?;
        }
        Output::Text => summary(&mut out, &plan, &tally).context("writing")?,
    }
    if args.timings {
        eprintln!(
            "timings: load {:.2}s, flows {:.2}s ({} flows), plan {:.2}s (peak RSS {})",
            t_load.as_secs_f64(),
            t_read.as_secs_f64(),
            tally.flows,
            t_plan.as_secs_f64(),
            crate::scan::peak_rss()
        );
    }
    Ok(if input_errors > 0 || !loaded.errors.is_empty() {
        ExitCode::from(2)
    } else if !plan.verification.keeps_every_flow() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn summary(w: &mut impl Write, plan: &Plan, tally: &ReadTally) -> std::io::Result<()> {
    let o = &plan.observed;
    writeln!(
        w,
        "flows: {} records, {} flows ({} malformed, {} not flows); {} passed, {} dropped, {} not TCP/UDP/SCTP",
        tally.records,
        tally.flows,
        tally.malformed,
        tally.not_flows,
        o.collect.forwarded,
        o.collect.dropped,
        o.collect.not_l4
    )?;
    for e in &tally.errors {
        writeln!(w, "  {}:{}: {}", Safe(&e.input), e.line, Safe(&e.error))?;
    }
    let a = &o.attribution;
    writeln!(
        w,
        "attributed: {} connections ({} dropped); {} flows from nodes, {} naming pods not in the cluster model{}, {} unattributed",
        o.connections,
        o.dropped,
        a.from_nodes,
        a.unknown_pod_flows,
        if a.unknown_pods.is_empty() {
            String::new()
        } else {
            format!(" (e.g. {})", Safe(a.unknown_pods.join(", ")))
        },
        a.unattributed_flows
    )?;
    for s in &plan.skipped {
        writeln!(w, "skipped {}: {}", Safe(&s.workload), Safe(&s.reason))?;
    }
    for (who, others) in &plan.shared_selectors {
        writeln!(
            w,
            "note: the selector of {} also selects {}",
            Safe(who),
            Safe(others.join(", "))
        )?;
    }
    for s in &plan.steps {
        let v = &s.verification;
        writeln!(
            w,
            "step {} ({}): {} policies; observed connections kept {}/{}; closes {} workload pairs{}",
            s.number,
            s.stage.as_str(),
            s.policies.len(),
            v.kept,
            v.observed,
            v.closed_pairs,
            if s.chains_broken.is_empty() {
                String::new()
            } else {
                format!("; breaks {} chains", s.chains_broken.len())
            }
        )?;
        for b in &v.broken {
            writeln!(
                w,
                "  DENIED {} -> {} {}",
                Safe(&b.from),
                Safe(&b.to),
                b.port
            )?;
        }
    }
    let v = &plan.verification;
    let mut reasons: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for u in &v.unobserved_allowed {
        *reasons.entry(u.reason).or_default() += 1;
    }
    writeln!(
        w,
        "verified: {}/{} observed connections still allowed; {} allowed connections not observed{}",
        v.kept,
        v.observed,
        v.unobserved_count,
        if reasons.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                reasons
                    .iter()
                    .map(|(r, n)| format!("{r} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    )?;
    // DNS is the declared exception: the others are worth reading one by one.
    let listed: Vec<_> = v
        .unobserved_allowed
        .iter()
        .filter(|u| u.reason != "dns")
        .collect();
    for u in listed.iter().take(20) {
        writeln!(
            w,
            "  also allowed {} -> {} {} ({})",
            Safe(&u.connection.from),
            Safe(&u.connection.to),
            u.connection.port,
            u.reason
        )?;
    }
    if listed.len() > 20 {
        writeln!(
            w,
            "  … {} more (--format json lists up to 500)",
            listed.len() - 20
        )?;
    }
    if let Some(c) = &plan.chains {
        writeln!(
            w,
            "chains: {} before, {} after; the plan breaks {}",
            c.before,
            c.after,
            c.broken.len()
        )?;
        for r in c.broken.iter().take(10) {
            writeln!(
                w,
                "  breaks {} {} -> {}",
                r.id,
                Safe(&r.entry),
                Safe(&r.target)
            )?;
        }
        if c.broken.len() > 10 {
            writeln!(
                w,
                "  … {} more broken (--format json lists every chain)",
                c.broken.len() - 10
            )?;
        }
    }
    Ok(())
}
