//! `ntmem soak`: millions of random calls against the byte model (crates/ntmem-soak), with a
//! progress bar and the calls per second.

use std::time::Instant;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use ntmem_soak::{Options, Soak, SplitMix64};

/// What `ntmem soak` was asked.
pub(crate) struct Args {
    pub(crate) calls: u64,
    pub(crate) seed: u64,
    pub(crate) processes: u8,
    pub(crate) check_every: u64,
    pub(crate) trace: bool,
    pub(crate) check_known: Vec<String>,
    pub(crate) shrink: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let mut opts = Options { processes: args.processes, check_every: args.check_every, ..Options::default() };
    let all = args.check_known.iter().any(|k| k == "all");
    opts.known_open_bugs.retain(|b| !all && !args.check_known.iter().any(|k| *k == b.item().to_string()));
    println!(
        "soak: {} calls from seed {}, {} processes, {} MiB of RAM, a page file of up to {} MiB, \
         invariants every {} calls; known open bugs held back: {:?}",
        args.calls,
        args.seed,
        opts.processes,
        opts.ram_bytes >> 20,
        opts.page_file_bytes >> 20,
        opts.check_every,
        opts.known_open_bugs
    );
    let bar = ProgressBar::new(args.calls);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} calls, {per_sec}, {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if args.trace {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let started = Instant::now();
    let mut soak = Soak::new(opts.clone()).map_err(anyhow::Error::msg)?;
    let mut made = Vec::new();
    let mut rng = SplitMix64::new(args.seed);
    for i in 0..args.calls {
        let call = soak.next_call(&mut rng);
        if args.trace {
            println!("#{i}: {call}");
        }
        if args.shrink {
            made.push(call.clone());
        }
        if let Err(f) = soak.step(&call) {
            bar.abandon();
            if args.shrink {
                // "slot 1: lost byte at 0x…" shrinks toward "lost byte at ", not any "slot ".
                let what =
                    f.what.split_once(": ").filter(|(slot, _)| slot.starts_with("slot ")).map_or(&*f.what, |(_, w)| w);
                let symptom: String = what.chars().take_while(|c| !c.is_ascii_digit()).collect();
                println!("shrinking {} calls (symptom {symptom:?}) …", made.len());
                let small = ntmem_soak::shrink(&opts, made, &symptom);
                println!("the shortest sequence found ({} calls), for ntmem_soak::replay:", small.len());
                for c in &small {
                    println!("    Call::{c},");
                }
                if let Err(g) = ntmem_soak::replay(&opts, &small) {
                    println!("it fails with:\n{g}");
                }
            }
            bail!(
                "soak seed {} failed at call #{i} (rerun: ntmem soak --seed {} --calls {} --processes {} \
                 --check-every {} --trace):\n{f}",
                args.seed,
                args.seed,
                i + 1,
                args.processes,
                args.check_every
            );
        }
        if i % 1024 == 0 {
            bar.set_position(i);
        }
    }
    let calls = soak.calls();
    if let Err(f) = soak.finish() {
        bar.abandon();
        bail!("soak seed {} failed in its final checks:\n{f}", args.seed);
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    // A count of calls as a float, for a rate.
    #[allow(clippy::cast_precision_loss)]
    let rate = calls as f64 / secs;
    println!("soak passed: {calls} calls in {secs:.1} s, {rate:.0} calls/s");
    Ok(())
}
