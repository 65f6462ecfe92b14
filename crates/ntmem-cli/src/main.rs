//! `ntmem`: the tour of the Windows memory manager on a simulated machine, and its benchmarks.
//!
//! Thin: it calls the public API of `ntmem` and `ntmem-win32` only.

mod bench;
mod soak;
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
    Bench {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Random calls of every kind against a byte model, with invariant checks; exits non-zero
    /// on a panic, a violated invariant or a lost byte.
    Soak {
        /// Calls to make.
        #[arg(long, default_value_t = 1_000_000)]
        calls: u64,
        /// Seed of the calls (the same seed makes the same calls).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Process slots.
        #[arg(long, default_value_t = 4)]
        processes: u8,
        /// Run the invariant checker every this many calls (and at the end).
        #[arg(long, default_value_t = 1000)]
        check_every: u64,
        /// Print every call.
        #[arg(long)]
        trace: bool,
        /// Check these known open bugs too (issue 6 item numbers, e.g. `4,6`; `all`): make
        /// their triggers and assert their fixes (see ntmem_soak::KNOWN_OPEN_BUGS).
        #[arg(long, value_delimiter = ',')]
        check_known: Vec<String>,
        /// On a failure, shrink the calls to a short sequence that fails the same way and
        /// print it as Rust (for a pinned regression test).
        #[arg(long)]
        shrink: bool,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Tour => tour::run(&mut std::io::stdout().lock()),
        Command::Bench { json } => bench::run(json),
        Command::Soak { calls, seed, processes, check_every, trace, check_known, shrink } => {
            soak::run(&soak::Args { calls, seed, processes, check_every, trace, check_known, shrink })
        }
    }
}
