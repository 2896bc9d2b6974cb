//! `watchlight sim`: the fleet simulator (see `watchlight_sim` and docs/sim.md).

use super::UsageError;
use anyhow::Context;
use std::path::PathBuf;
use watchlight_sim::scenario::BrokerKind;
use watchlight_sim::{Options, Scenario};

#[derive(clap::Args)]
pub struct SimArgs {
    /// The scenario (TOML): the fleet and its timed faults (docs/sim.md).
    #[arg(long, value_name = "FILE")]
    scenario: PathBuf,
    /// Print the report as one JSON object instead of a summary for people.
    #[arg(long)]
    json: bool,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the scenario's camera counts: every group scaled so the fleet has this many.
    #[arg(long)]
    cameras: Option<usize>,
    /// Override the scenario's broker: the hub's embedded one, or a Mosquitto beside it.
    #[arg(long, value_parser = ["embedded", "mosquitto"])]
    broker: Option<String>,
    /// Override the scenario's pairings started per second.
    #[arg(long, value_name = "RATE")]
    pair_per_s: Option<f64>,
    /// Keep the hub's data and log (`DIR/hub.log`) here instead of a temporary folder.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.scenario)
        .with_context(|| format!("reading {}", args.scenario.display()))?;
    let mut scenario = Scenario::parse(&text).map_err(|e| UsageError(e.to_string()))?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(broker) = &args.broker {
        scenario.broker = match broker.as_str() {
            "mosquitto" => BrokerKind::Mosquitto,
            _ => BrokerKind::Embedded,
        };
    }
    if let Some(rate) = args.pair_per_s {
        scenario.pair_per_s = Some(rate);
    }
    scenario.check().map_err(|e| UsageError(e.to_string()))?;
    if let Some(n) = args.cameras {
        scenario = scenario
            .scaled_to(n)
            .map_err(|e| UsageError(e.to_string()))?;
    }
    let bin = std::env::current_exe().context("finding the watchlight binary")?;
    let report = watchlight_sim::run_blocking(Options {
        bin,
        scenario,
        data: args.data,
        progress: true,
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.summary());
    }
    if report.lost_silently {
        anyhow::bail!(
            "{} events were recorded and never reached the hub, and no camera reported them dropped",
            report.events.lost
        );
    }
    Ok(())
}
