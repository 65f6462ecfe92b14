//! `ntmem trace replay TRACE`: the trace through the real memory manager, one simulated
//! process, and what it cost: faults by kind, page-file I/O, the working set over time.
//!
//! Streaming (constant memory) for every policy but OPT, which needs each reference's next
//! use and so loads the trace's page references (16 bytes each) first.

use super::load::{self, ReadReport};
use super::{MachineArgs, PolicyName, TraceArgs};
use anyhow::Context;
use ntmem::address_space::EvictionPolicy;
use ntmem_trace::sim::next_uses;
use ntmem_trace::{ReplayFigures, Replayer};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

/// What `ntmem trace replay` was asked.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct ReplayArgs {
    /// The trace (plain or gzip).
    pub(crate) trace: PathBuf,
    #[command(flatten)]
    pub(crate) input: TraceArgs,
    #[command(flatten)]
    pub(crate) machine: MachineArgs,
    /// Working-set minimum, in pages (SetProcessWorkingSetSizeEx).
    #[arg(long)]
    pub(crate) ws_min: Option<u64>,
    /// Working-set maximum, in pages.
    #[arg(long)]
    pub(crate) ws_max: Option<u64>,
    /// Make the maximum hard (QUOTA_LIMITS_HARDWS_MAX_ENABLE): the working set never exceeds it.
    #[arg(long)]
    pub(crate) hard_max: bool,
    /// At most this many of the trace's pages resident at once: a hard working-set maximum of
    /// this plus the pages that are not the trace's (the shared user data page).
    #[arg(long, conflicts_with_all = ["ws_min", "ws_max", "hard_max"])]
    pub(crate) frames: Option<u64>,
    /// Which page the working set gives up first: nt (aging), lru, fifo, clock, opt.
    #[arg(long, default_value = "nt", value_parser = super::args::parse_policy)]
    pub(crate) policy: PolicyName,
    /// Declare a region START:SIZE (hex start, size with units, e.g. 0x400000:1MiB) instead of
    /// committing 64 KiB regions on first sight; repeatable. Pages outside are refused.
    #[arg(long)]
    pub(crate) region: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: &ReplayArgs) -> anyhow::Result<()> {
    let dir = super::args::scratch()?;
    let opts = args.machine.options(dir.path());
    let mut replayer = Replayer::new(&opts, args.policy.0)?;
    if let Some(frames) = args.frames {
        replayer.limit_frames(frames)?;
    } else if args.ws_min.is_some() || args.ws_max.is_some() {
        let d = ntmem::address_space::WorkingSetLimits::default();
        replayer.set_limits(args.ws_min.unwrap_or(d.minimum), args.ws_max.unwrap_or(d.maximum), args.hard_max)?;
    }
    for r in &args.region {
        let (start, size) = parse_region(r)?;
        replayer.declare(start, size)?;
    }
    let started = Instant::now();
    let report = if args.policy.0 == EvictionPolicy::Opt {
        let (refs, report) = load::load(&args.trace, &args.input)?;
        let pages: Vec<u64> = refs.iter().map(|p| p.page).collect();
        let next = next_uses(&pages);
        replayer.run(&refs, |i| usize::try_from(i).ok().and_then(|i| next.get(i).copied()).unwrap_or(u64::MAX))?;
        report
    } else {
        load::stream(&args.trace, &args.input, |batch| Ok(replayer.run(batch, |_| u64::MAX)?))?
    };
    let seconds = started.elapsed().as_secs_f64();
    let f = replayer.figures();
    load::report_bad(&report);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&to_json(args, &report, &f, seconds))?);
    } else {
        print_text(args, &report, &f, seconds);
    }
    Ok(())
}

fn parse_region(s: &str) -> anyhow::Result<(u64, u64)> {
    let (start, size) = s.split_once(':').with_context(|| format!("a region is START:SIZE, not {s:?}"))?;
    let start = u64::from_str_radix(start.trim_start_matches("0x"), 16)
        .with_context(|| format!("bad region start {start:?} (hexadecimal)"))?;
    let size = super::args::parse_size(size).map_err(anyhow::Error::msg)?;
    Ok((start, size))
}

fn per_thousand(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 * 1000.0 / of as f64
    }
}

fn to_json(args: &ReplayArgs, report: &ReadReport, f: &ReplayFigures, seconds: f64) -> serde_json::Value {
    json!({
        "trace": args.trace.display().to_string(),
        "format": report.format,
        "lines": report.lines,
        "bad_lines": report.bad_count,
        "policy": args.policy.name(),
        "ram_bytes": args.machine.ram,
        "page_file_bytes": args.machine.page_file,
        "references": f.references,
        "page_references": f.page_refs,
        "refused": f.refused,
        "exceptions": f.exceptions,
        "faults": {
            "demand_zero": f.demand_zero,
            "soft": f.soft,
            "hard": f.hard,
            "total": f.faults(),
            "per_1000_references": per_thousand(f.faults(), f.references),
        },
        "page_file": {
            "read_ios": f.page_read_ios,
            "pages_read": f.pages_read,
            "write_ios": f.page_write_ios,
            "pages_written": f.pages_written,
        },
        "working_set": {
            "pages": f.working_set,
            "peak": f.peak_working_set,
            "samples": f.samples.iter().map(|&(r, ws)| json!([r, ws])).collect::<Vec<_>>(),
        },
        "regions_committed": f.regions,
        "seconds": seconds,
        "references_per_second": if seconds > 0.0 { f.references as f64 / seconds } else { 0.0 },
    })
}

fn print_text(args: &ReplayArgs, report: &ReadReport, f: &ReplayFigures, seconds: f64) {
    println!(
        "trace        {} ({}, {} lines, {} bad)",
        args.trace.display(),
        report.format,
        report.lines,
        report.bad_count
    );
    let pf = args.machine.page_file.map_or_else(|| "none".to_string(), |b| format!("{} MiB", b >> 20));
    println!(
        "machine      RAM {} MiB, page file {pf}, cluster {}, policy {}",
        args.machine.ram >> 20,
        args.machine.cluster,
        args.policy.name()
    );
    println!(
        "references   {} ({} after merging repeats to one page; {} refused, {} raised exceptions)",
        f.references, f.page_refs, f.refused, f.exceptions
    );
    println!(
        "faults       {} = {} demand-zero + {} soft + {} hard ({:.3} per 1000 references)",
        f.faults(),
        f.demand_zero,
        f.soft,
        f.hard,
        per_thousand(f.faults(), f.references)
    );
    println!(
        "page file    {} reads ({} pages), {} writes ({} pages)",
        f.page_read_ios, f.pages_read, f.page_write_ios, f.pages_written
    );
    println!(
        "working set  {} pages now, {} at peak; {} regions of 64 KiB committed",
        f.working_set, f.peak_working_set, f.regions
    );
    println!("             {} (0 .. {} references)", sparkline(&f.samples, 64), f.references);
    let rate = if seconds > 0.0 { f.references as f64 / seconds } else { 0.0 };
    println!("time         {seconds:.3} s, {:.2} million references per second", rate / 1e6);
}

/// The working set over time in at most `width` block characters, scaled to its peak.
fn sparkline(samples: &[(u64, u64)], width: usize) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0).max(1);
    let n = samples.len();
    (0..width.min(n))
        .map(|c| {
            let (a, b) = (c * n / width.min(n), ((c + 1) * n / width.min(n)).max(c * n / width.min(n) + 1));
            let v = samples[a..b.min(n)].iter().map(|s| s.1).max().unwrap_or(0);
            let k = usize::try_from(v * 7 / peak).unwrap_or(7).min(7);
            BLOCKS[k]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_peak() {
        assert_eq!(sparkline(&[(1, 0), (2, 4), (3, 8)], 64), "▁▄█");
        assert_eq!(sparkline(&[], 64), "");
        assert_eq!(sparkline(&(0..200).map(|i| (i, i)).collect::<Vec<_>>(), 10).chars().count(), 10);
    }

    #[test]
    fn regions_are_hex_start_and_size() {
        assert_eq!(parse_region("0x400000:1MiB").expect("ok"), (0x40_0000, 1 << 20));
        assert!(parse_region("400000").is_err());
    }
}
