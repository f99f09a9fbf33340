//! `loadgen`: the load generator on its own (the driver runs the same code as `bench loadgen`).

use clap::Parser;
use roomcast_bench::loadgen::{self, LoadgenCmd};

#[derive(Parser)]
#[command(about = "graphql-transport-ws load generator for roomcast and the baseline")]
struct Cli {
    #[command(subcommand)]
    cmd: LoadgenCmd,
}

fn main() -> anyhow::Result<()> {
    loadgen::run(Cli::parse().cmd)
}
