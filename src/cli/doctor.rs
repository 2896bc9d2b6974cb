//! `watchlight doctor`.

#[derive(clap::Args)]
pub struct DoctorArgs {}

pub fn run(_args: DoctorArgs) -> anyhow::Result<()> {
    anyhow::bail!("'watchlight doctor' is not built yet")
}
