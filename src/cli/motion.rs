//! `watchlight motion`.

#[derive(clap::Args)]
pub struct MotionArgs {}

pub fn run(_args: MotionArgs) -> anyhow::Result<()> {
    anyhow::bail!("'watchlight motion' is not built yet")
}
