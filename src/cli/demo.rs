//! `watchlight demo`.

#[derive(clap::Args)]
pub struct DemoArgs {}

pub fn run(_args: DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("'watchlight demo' is not built yet")
}
