//! `bench`: runs a benchmark scenario end to end (servers, generator, runs, medians, table).
//! The hidden `loadgen` and `baseline` subcommands are how the driver starts its children.

use clap::{Parser, Subcommand};
use roomcast_bench::baseline::{self, BaselineArgs};
use roomcast_bench::driver::{self, RunOpts};
use roomcast_bench::loadgen::{self, LoadgenCmd};

#[derive(Parser)]
#[command(about = "roomcast benchmarks: fanout, memory, connections, ingest, all")]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct Cli {
    #[command(flatten)]
    run: Option<RunOpts>,
    #[command(subcommand)]
    child: Option<Child>,
}

#[derive(Subcommand)]
enum Child {
    #[command(hide = true)]
    Loadgen {
        #[command(subcommand)]
        cmd: LoadgenCmd,
    },
    #[command(hide = true)]
    Baseline(BaselineArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match (cli.child, cli.run) {
        (Some(Child::Loadgen { cmd }), _) => loadgen::run(cmd),
        (Some(Child::Baseline(args)), _) => baseline::run(args),
        (None, Some(run)) => driver::run(run),
        (None, None) => anyhow::bail!("name a scenario: fanout, memory, connections, ingest, all"),
    }
}
