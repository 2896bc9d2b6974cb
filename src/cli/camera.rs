//! `watchlight camera`.

#[derive(clap::Args)]
pub struct CameraArgs {}

pub fn run(_args: CameraArgs) -> anyhow::Result<()> {
    anyhow::bail!("'watchlight camera' is not built yet")
}
