//! The Helm chart (`charts/rampart`) kept in step with the binary: every flag of a component
//! is passed by its template, and the chart's CRDs are what `rampart crds` prints.

use clap::CommandFactory;

fn chart(path: &str) -> String {
    let full = format!("{}/../../charts/rampart/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Flags of `rampart <sub>` the chart's `template` does not pass (as `--flag` or by its
/// environment variable).
fn missing_flags(sub: &str, template: &str) -> Vec<String> {
    let cli = super::Cli::command();
    let cmd = cli
        .find_subcommand(sub)
        .unwrap_or_else(|| panic!("no subcommand {sub}"));
    let text = chart(template);
    let mut missing = Vec::new();
    let mut seen = 0;
    for arg in cmd.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version") {
            continue;
        }
        seen += 1;
        let by_env = arg
            .get_env()
            .and_then(|e| e.to_str())
            .is_some_and(|e| text.contains(e));
        // `"max-connections"` as an argument of the chart's flag helper, or `--max-connections`.
        if !(text.contains(&format!("--{long}")) || text.contains(&format!("\"{long}\"")) || by_env)
        {
            missing.push(long.to_string());
        }
    }
    assert!(seen > 5, "{sub}: only {seen} flags found");
    // The serving limits are passed by a helper every component shares.
    let helpers = chart("templates/_helpers.tpl");
    missing.retain(|f| !helpers.contains(&format!("\"{f}\"")));
    missing
}

#[test]
fn every_engine_flag_has_a_value_in_the_chart() {
    let missing = missing_flags("engine", "templates/engine-deployment.yaml");
    assert!(
        missing.is_empty(),
        "engine flags the chart cannot set: {missing:?}"
    );
}

#[test]
fn every_webhook_flag_has_a_value_in_the_chart() {
    let missing = missing_flags("webhook", "templates/webhook-deployment.yaml");
    assert!(
        missing.is_empty(),
        "webhook flags the chart cannot set: {missing:?}"
    );
}

#[test]
fn every_learner_flag_has_a_value_in_the_chart() {
    let missing = missing_flags("learner", "templates/learner.yaml");
    assert!(
        missing.is_empty(),
        "learner flags the chart cannot set: {missing:?}"
    );
}

#[test]
fn the_chart_ships_the_crds_rampart_generates() {
    let generated = crate::policy::crds_yaml().expect("the CRDs serialize");
    assert!(
        chart("files/crds.yaml") == generated,
        "charts/rampart/files/crds.yaml is stale: run `cargo run -- crds > charts/rampart/files/crds.yaml`"
    );
}
