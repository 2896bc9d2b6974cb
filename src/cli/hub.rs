//! `watchlight hub`.

#[derive(clap::Args)]
pub struct HubArgs {}

pub fn run(_args: HubArgs) -> anyhow::Result<()> {
    anyhow::bail!("'watchlight hub' is not built yet")
}
