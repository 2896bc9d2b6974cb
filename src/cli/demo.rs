//! `watchlight demo`: a hub and three simulated cameras, and a short story (see
//! `watchlight_agent::demo`).

use anyhow::Context;
use std::path::PathBuf;
use watchlight_agent::demo::{self, DemoOptions};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// End after the story instead of staying up (until Ctrl-C) for the web app.
    #[arg(long)]
    once: bool,
    /// Keep the hub's and cameras' data here instead of a temporary folder.
    #[arg(long)]
    data: Option<PathBuf>,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let bin = std::env::current_exe().context("finding the watchlight binary")?;
    demo::run(DemoOptions {
        bin,
        data: args.data,
        keep_running: !args.once,
    })?;
    Ok(())
}
