//! `watchlight camera [--sim] ...`: the camera agent.

#[derive(clap::Args)]
pub struct AgentArgs {}

pub fn run(_args: AgentArgs) -> anyhow::Result<()> {
    anyhow::bail!("the camera agent is not built yet")
}
