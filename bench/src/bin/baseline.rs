//! `baseline`: the minimal broadcast server roomcast is compared against.

use clap::Parser;
use roomcast_bench::baseline::{self, BaselineArgs};

#[derive(Parser)]
#[command(about = "Minimal graphql-transport-ws broadcast server (benchmark ceiling)")]
struct Cli {
    #[command(flatten)]
    args: BaselineArgs,
}

fn main() -> anyhow::Result<()> {
    baseline::run(Cli::parse().args)
}
