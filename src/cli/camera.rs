//! `watchlight camera`: with a subcommand, an offline tool for the camera core;
//! without one, the camera agent itself (see `agent.rs`).

use super::UsageError;
use super::agent::AgentArgs;
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use watchlight_camera::replay::Script;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CameraArgs {
    #[command(subcommand)]
    command: Option<CameraCommand>,
    #[command(flatten)]
    agent: AgentArgs,
}

#[derive(clap::Subcommand)]
enum CameraCommand {
    /// Run the camera core on a virtual clock from a script and print its timeline.
    Replay(ReplayArgs),
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The script (JSON): {"v":1,"profile":"outdoor","steps":[{"t_ms":0,"input":"power_on"},...]}.
    #[arg(long, value_name = "FILE")]
    script: PathBuf,
    /// One JSON object per line instead of the timeline for people.
    #[arg(long)]
    json: bool,
}

pub fn run(args: CameraArgs) -> anyhow::Result<()> {
    match args.command {
        Some(CameraCommand::Replay(replay)) => run_replay(replay),
        None => super::agent::run(args.agent),
    }
}

fn run_replay(args: ReplayArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.script)
        .map_err(|e| UsageError(format!("cannot read script {}: {e}", args.script.display())))?;
    let script = Script::parse(&text)
        .map_err(|e| UsageError(format!("script {}: {e}", args.script.display())))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for entry in script.run() {
        let line = if args.json {
            entry.to_json()
        } else {
            entry.to_human()
        };
        writeln!(out, "{line}").context("writing the timeline")?;
    }
    out.flush().context("writing the timeline")?;
    Ok(())
}
