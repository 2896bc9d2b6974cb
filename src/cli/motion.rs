//! `watchlight motion`: tools for the motion detector.

use std::path::PathBuf;

use anyhow::Context;

use super::UsageError;

#[derive(clap::Args)]
pub struct MotionArgs {
    #[command(subcommand)]
    command: MotionCommand,
}

#[derive(clap::Subcommand)]
enum MotionCommand {
    /// Score the detector on a CDnet sequence folder (CDnet protocol, default parameters).
    Eval(EvalArgs),
}

#[derive(clap::Args)]
struct EvalArgs {
    /// The sequence folder (input/, groundtruth/, ROI.bmp, temporalROI.txt).
    #[arg(long)]
    cdnet: PathBuf,
    /// Learn on frames up to N and score the frames after it (instead of temporalROI.txt).
    #[arg(long, value_name = "N")]
    learn_until: Option<u32>,
    /// Print {"frames_scored","precision","recall","f_measure","fps"} as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: MotionArgs) -> anyhow::Result<()> {
    match args.command {
        MotionCommand::Eval(eval) => run_eval(eval),
    }
}

fn run_eval(args: EvalArgs) -> anyhow::Result<()> {
    if !args.cdnet.is_dir() {
        return Err(UsageError(format!(
            "--cdnet {}: not a folder (expected a CDnet sequence with input/ and groundtruth/)",
            args.cdnet.display()
        ))
        .into());
    }
    let report = watchlight_motion::evaluate_cdnet(&args.cdnet, args.learn_until)
        .with_context(|| format!("evaluating {}", args.cdnet.display()))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{}: {} frames scored, precision {:.3}, recall {:.3}, F-measure {:.3}, {:.0} fps (detector only, one thread)",
            args.cdnet.display(),
            report.frames_scored,
            report.precision,
            report.recall,
            report.f_measure,
            report.fps
        );
    }
    Ok(())
}
