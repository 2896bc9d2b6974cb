//! `watchlight demo`: a hub and four simulated cameras, and the story an owner should
//! see (see `watchlight_agent::demo`).

use super::UsageError;
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;
use watchlight_agent::demo::{self, DemoOptions};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Tell the story without pauses and end, for scripts (no staying up for the web app).
    /// `--once` is the same.
    #[arg(long, alias = "once")]
    headless: bool,
    /// With --headless: the story must end within this long (e.g. 3m, 90s, 1m30s), or the
    /// demo says so and fails.
    #[arg(long = "for", value_name = "DURATION", requires = "headless")]
    for_: Option<String>,
    /// With --headless: print one line of JSON on standard output (cameras, clips, events,
    /// lost, faults_detected, ...) counted from the hub's API at the end; the story goes to
    /// standard error. Exits non-zero if anything was lost.
    #[arg(long, requires = "headless")]
    json: bool,
    /// Keep the hub's and cameras' data here instead of a temporary folder.
    #[arg(long)]
    data: Option<PathBuf>,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let time_limit: Option<(String, Duration)> = match &args.for_ {
        Some(text) => Some((
            text.clone(),
            demo::parse_duration(text).map_err(|e| UsageError(format!("--for: {e}")))?,
        )),
        None => None,
    };
    let bin = std::env::current_exe().context("finding the watchlight binary")?;
    let summary = demo::run(DemoOptions {
        bin,
        data: args.data,
        keep_running: !args.headless,
        time_limit,
        story_to_stderr: args.json,
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&summary).context("the summary as JSON")?
        );
    }
    if summary.lost > 0 {
        anyhow::bail!(
            "{} event(s) the cameras recorded are not at the hub and were not reported dropped: {}",
            summary.lost,
            summary.lost_items.join(", ")
        );
    }
    if summary.faults_detected < summary.faults_played {
        anyhow::bail!(
            "the hub saw {} of the story's {} faults",
            summary.faults_detected,
            summary.faults_played
        );
    }
    Ok(())
}
