//! `ntmem`: the tour of the Windows memory manager on a simulated machine, and its benchmarks.
//!
//! Thin: it calls the public API of `ntmem` and `ntmem-win32` only.

mod bench;
mod tour;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "ntmem", version, about = "The Windows virtual memory manager, re-implemented")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Walk through what the memory manager does for a small program, step by step.
    Tour,
    /// Measure the hot paths against native baselines measured in the same run.
    ///
    /// Takes a few minutes and up to about 4.3 GB of host memory at its peak (tlb_miss_read
    /// touches 4 GiB of simulated RAM; its host baseline's 4 GiB is allocated only after the
    /// simulated machine is freed), plus 32 MiB files in the temp directory.
    Bench {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Tour => tour::run(&mut std::io::stdout().lock()),
        Command::Bench { json } => bench::run(json),
    }
}
