//! `watchlight camera`: with a subcommand, an offline tool for the camera core;
//! without one, the camera agent itself (see `agent.rs`).

use super::agent::AgentArgs;

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
struct ReplayArgs {}

pub fn run(args: CameraArgs) -> anyhow::Result<()> {
    match args.command {
        Some(CameraCommand::Replay(_)) => anyhow::bail!("'watchlight camera replay' is not built yet"),
        None => super::agent::run(args.agent),
    }
}
