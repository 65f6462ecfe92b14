//! `ntmem`: the tour of the Windows memory manager on a simulated machine, and its benchmarks.
//!
//! Thin: it calls the public API of `ntmem` and `ntmem-win32` only.

mod bench;
mod run;
#[cfg(feature = "script")]
mod script;
mod soak;
mod tour;
mod trace;
mod views;

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
    /// Takes about two and a half minutes and up to about 8.5 GB of host memory at its peak:
    /// the TLB-miss rows touch 4 GiB of simulated RAM and hold the host baseline's 4 GiB
    /// beside it, taking the two sides' samples in turn. A host with less than 10 GiB available
    /// gets them apart instead (the machine freed before the baseline's 4 GiB are touched:
    /// about 4.3 GB), and the rows say so. Plus 32 MiB files in the temp directory.
    Bench {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Measure only these figures (names as printed, comma-separated), without the
        /// cluster sweeps.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
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
    /// A short scenario shown as Sysinternals VMMap and RAMMap show a process and RAM, with
    /// the diffs of emptying its working set.
    Views {
        /// Print JSON lines instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Compile a C program written for Windows with the system C compiler against ntmem's
    /// native engine, run it, then print what the memory manager did for it.
    Run {
        /// The C file.
        file: std::path::PathBuf,
        /// Arguments for the program.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
        /// Print each page fault as the memory manager resolves it.
        #[arg(long)]
        trace: bool,
        /// RAM of the machine (bytes, or with K, M or G).
        #[arg(long)]
        ram: Option<String>,
        /// A page file of this size (bytes, or with K, M or G).
        #[arg(long)]
        page_file: Option<String>,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Memory traces through the memory manager (`ntmem trace replay TRACE`).
    #[command(subcommand)]
    Trace(TraceCommand),
    /// A trace under each policy and memory size: a CSV and an SVG miss-ratio curve.
    Sweep(trace::sweep::SweepArgs),
    /// Run a scenario script (Rhai): Win32 calls by name, accesses, and views of the inside.
    #[cfg(feature = "script")]
    Script {
        /// The script (`.rhai`); relative file names in it are taken from its directory.
        file: std::path::PathBuf,
        /// Write every view the script asks for (and its prints) as JSON lines.
        #[arg(long)]
        json: bool,
        /// Each vmmap()/rammap() after the first also shows what changed since the last one.
        #[arg(long)]
        diff: bool,
        /// Run the invariant checker after every call (slow; for tests).
        #[arg(long)]
        check_invariants: bool,
    },
}

#[derive(Subcommand)]
enum TraceCommand {
    /// Replay a valgrind lackey or page-number trace (plain or gzip) as one process's accesses.
    Replay(trace::replay::ReplayArgs),
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Tour => tour::run(&mut std::io::stdout().lock()),
        Command::Bench { json, only } => bench::run(json, &only),
        Command::Soak { calls, seed, processes, check_every, trace, check_known, shrink } => {
            soak::run(&soak::Args { calls, seed, processes, check_every, trace, check_known, shrink })
        }
        Command::Views { json } => views::demo::run(json, &mut std::io::stdout().lock()),
        Command::Run { file, args, trace, ram, page_file, json } => {
            return match run::run(&run::Args { file, args, trace, ram, page_file, json }) {
                Ok(code) => std::process::ExitCode::from(code),
                Err(e) => {
                    eprintln!("ntmem: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            };
        }
        Command::Trace(TraceCommand::Replay(args)) => trace::replay::run(&args),
        Command::Sweep(args) => trace::sweep::run(&args),
        #[cfg(feature = "script")]
        Command::Script { file, json, diff, check_invariants } => {
            script::run(&script::Args { file: &file, json, diff, check_invariants })
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // `ntmem tour | head`: the reader has all it wanted. Not an error.
        Err(e) if is_broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ntmem: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Whether the error is, at its root, a write to a pipe whose reader has gone.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::is_broken_pipe;
    use anyhow::Context;
    use std::io::{Error, ErrorKind};

    #[test]
    fn a_closed_pipe_is_recognised_through_context() {
        let e = anyhow::Error::new(Error::from(ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&e));
        let wrapped: anyhow::Result<()> = Err(Error::from(ErrorKind::BrokenPipe)).context("writing the tour");
        assert!(is_broken_pipe(&wrapped.unwrap_err()));
    }

    #[test]
    fn other_errors_are_errors() {
        assert!(!is_broken_pipe(&anyhow::Error::new(Error::from(ErrorKind::PermissionDenied))));
        assert!(!is_broken_pipe(&anyhow::anyhow!("VirtualAlloc failed with 8")));
    }
}
