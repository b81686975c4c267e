//! `keepwell bench NAME`: the project's own benchmarks, printing figures and the machine.

use crate::config::Config;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// import or accounts-api.
    name: String,
}

pub async fn run(_config: &Config, args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("unknown benchmark {:?}", args.name)
}
