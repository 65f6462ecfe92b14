//! The balancer's figures under memory pressure (issue 6 item 3): no single access stalls
//! while the balancer trims and writes, and touching memory costs the same per page whether
//! it is spread over 16 processes or 2 048.
//!
//! - `pressure_worst_access`: 1 GiB written page by page through a 64 MiB machine with a page
//!   file (16× its RAM); the slowest single 4 KiB write beside the fixed 20 ms bar.
//! - `pressure_write_per_page`: the same run's total per page, beside the host writing the
//!   same bytes to a file 4 KiB at a time (through the page cache, no `fsync`, as ntmem's
//!   page-file writes).
//! - `processes_2048_vs_16`: per page, 2 048 processes × 2 MiB through a 1 GiB machine beside
//!   16 processes × 256 MiB through the same machine — the same 4 GiB, 4× overcommitted, the
//!   same page-file traffic, only the number of processes differs; each process commits its
//!   memory and writes every page once, one process after another.
//! - `exited_processes_10000_vs_0`: the same kind of run (16 processes × 4 MiB through a
//!   32 MiB machine, 2× overcommitted, `GetPerformanceInfo` after every 16 pages, as a monitor
//!   polls) on a machine that created and ended 10 000 processes first, beside one that did
//!   not: the process table keeps every process ever created for its id, and what the balancer
//!   and the figures walk must be the running ones only.
//!
//! The runs are long (seconds; each run of `processes_2048_vs_16` holds 1 GiB of simulated RAM
//! and writes 3 GiB of page file), so a figure is the median of three runs (fifteen for the
//! short `exited_processes_10000_vs_0`, whose timed part lasts tens of milliseconds). A worst
//! access is wall time: on a loaded host it includes preemption (multiples of the scheduler's
//! tick), which the median of three runs damps.

use super::calls::Scratch;
use super::timing::{median_of, paired_medians_of, per_op, SHORT_SAMPLES};
use super::Figure;
use anyhow::{anyhow, bail, Context, Result};
use ntmem::{Config, System};
use ntmem_win32::{Kernel32, MEM_COMMIT, MEM_RESERVE, PAGE_READWRITE, PERFORMANCE_INFORMATION};
use std::os::unix::fs::FileExt;
use std::time::Instant;

const PAGE: u64 = 4096;
const MIB: u64 = 1 << 20;
const PAGE_BYTES: usize = 4096;

/// The stall bar: no single access under pressure may take longer.
const STALL_BAR_NS: f64 = 20e6;

/// A machine of `ram` bytes whose page file starts at 64 MiB and may grow to `pf_max`.
fn machine(scratch: &Scratch, ram: u64, pf_max: u64) -> Result<System> {
    let cfg = Config::default().with_ram_bytes(ram).with_page_file(scratch.file("pagefile.sys"), 64 * MIB, pf_max);
    System::new(cfg).map_err(|e| anyhow!("booting a {} MiB machine: {e}", ram / MIB))
}

/// What one pressure run measured.
struct Run {
    /// The slowest single access, nanoseconds.
    worst_ns: f64,
    /// Everything (process creation, commit, every access), nanoseconds per page.
    per_page_ns: f64,
}

/// A new process `name` with `bytes` committed read-write: its id and where they start.
fn process_with(sys: &mut System, name: &str, bytes: u64) -> Result<(ntmem::ProcessId, u64)> {
    let pid = sys.create_process(name).map_err(|e| anyhow!("creating {name}: {e}"))?;
    let mut k = Kernel32::new(sys, pid);
    let base = k.VirtualAlloc(0, bytes, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if base == 0 {
        bail!("{name}: VirtualAlloc of {bytes:#x} failed: error {}", k.GetLastError());
    }
    Ok((pid, base))
}

/// `processes` processes each commit `bytes` and write every page once, one after another,
/// on a machine of `ram` bytes; each access is timed.
fn touch(figure: &str, ram: u64, processes: u32, bytes: u64) -> Result<Run> {
    let scratch = Scratch::new(figure)?;
    let total = u64::from(processes) * bytes;
    let mut sys = machine(&scratch, ram, total + 256 * MIB)?;
    let page = [0x5Au8; PAGE_BYTES];
    let mut worst = 0f64;
    let start = Instant::now();
    for n in 0..processes {
        let (pid, base) = process_with(&mut sys, &format!("process {n}"), bytes)?;
        let mut k = Kernel32::new(&mut sys, pid);
        for i in 0..bytes / PAGE {
            let t = Instant::now();
            k.write(base + i * PAGE, &page).map_err(|e| anyhow!("process {n} page {i}: exception {:#x}", e.code))?;
            worst = worst.max(t.elapsed().as_secs_f64() * 1e9);
        }
    }
    let elapsed = start.elapsed().as_secs_f64() * 1e9;
    #[allow(clippy::cast_precision_loss)] // page counts far below 2^52
    let per_page_ns = elapsed / (total / PAGE) as f64;
    Ok(Run { worst_ns: worst, per_page_ns })
}

/// 1 GiB through a 64 MiB machine, three runs measured once for both of its figures: the
/// medians of their worst accesses and of their costs per page.
fn one_gib_run() -> Result<&'static Run> {
    static RUN: std::sync::OnceLock<Run> = std::sync::OnceLock::new();
    if let Some(run) = RUN.get() {
        return Ok(run);
    }
    let runs = (0..3).map(|_| touch("stall", 64 * MIB, 1, 1024 * MIB)).collect::<Result<Vec<Run>>>()?;
    let mut worst: Vec<f64> = runs.iter().map(|r| r.worst_ns).collect();
    let mut per_page: Vec<f64> = runs.iter().map(|r| r.per_page_ns).collect();
    worst.sort_by(f64::total_cmp);
    per_page.sort_by(f64::total_cmp);
    Ok(RUN.get_or_init(|| Run { worst_ns: worst[1], per_page_ns: per_page[1] }))
}

/// The slowest single access of 1 GiB written through a 64 MiB machine, beside the 20 ms bar.
pub(super) fn pressure_worst_access() -> Result<Figure> {
    let run = one_gib_run()?;
    Ok(Figure {
        name: "pressure_worst_access",
        ntmem_ns: run.worst_ns,
        baseline_ns: STALL_BAR_NS,
        baseline: "the 20 ms stall bar (fixed, not measured); ntmem: the slowest 4 KiB write of 1 GiB through a \
                   64 MiB machine with a page file (wall time, host preemption included), median of 3 runs",
        goal: 1.0,
    })
}

/// The same run per page, beside the host writing 1 GiB to a file in 4 KiB `pwrite`s.
pub(super) fn pressure_write_per_page() -> Result<Figure> {
    let run = one_gib_run()?;
    let scratch = Scratch::new("hostwrite")?;
    let path = scratch.file("host.bin");
    let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let page = [0x5Au8; PAGE_BYTES];
    let pages = 1024 * MIB / PAGE;
    let host = || -> Result<f64> {
        #[allow(clippy::cast_possible_truncation)] // 2^18 pages
        per_op(pages as usize, || -> Result<()> {
            for i in 0..pages {
                file.write_all_at(&page, i * PAGE).with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(())
        })
    };
    let baseline = median_of(3, host)?;
    Ok(Figure {
        name: "pressure_write_per_page",
        ntmem_ns: run.per_page_ns,
        baseline_ns: baseline,
        baseline: "host: 1 GiB written to a file in 4 KiB pwrites (page cache, no fsync); ntmem: the same 1 GiB \
                   through a 64 MiB machine, total per page, median of 3 runs",
        goal: 4.0,
    })
}

/// 2 048 processes × 2 MiB through 1 GiB beside 16 × 256 MiB through 1 GiB, per page.
pub(super) fn processes_2048_vs_16() -> Result<Figure> {
    // Alternately, so that the host's drift over the seconds a run takes falls on both sides.
    let (many, few) = paired_medians_of(
        3,
        || Ok(touch("many", 1024 * MIB, 2048, 2 * MIB)?.per_page_ns),
        || Ok(touch("few", 1024 * MIB, 16, 256 * MIB)?.per_page_ns),
    )?;
    Ok(Figure {
        name: "processes_2048_vs_16",
        ntmem_ns: many,
        baseline_ns: few,
        baseline: "ntmem: 16 processes x 256 MiB through a 1 GiB machine; measured: 2048 x 2 MiB through 1 GiB; \
                   the same bytes and page-file traffic, per page, each the median of 3 runs taken alternately",
        goal: 2.0,
    })
}

/// Processes a monitored run ends before it starts.
const EXITED: u32 = 10_000;

/// 16 processes × 4 MiB written through a 32 MiB machine with `GetPerformanceInfo` after every
/// 16 pages, on a machine that first created and ended `exited` processes (not timed); per
/// page.
///
/// Before them, on either machine, one process writes 40 MiB and ends (not timed either), so
/// that every frame has been used and waits on the free list to be zeroed: ended processes
/// leave their page-table frames there, and a fresh machine's frames are all zeroed already,
/// which would make the fresh run cheaper for a reason that is not the process table.
fn monitored_touch(exited: u32) -> Result<f64> {
    const PROCESSES: u32 = 16;
    const BYTES: u64 = 4 * MIB;
    let scratch = Scratch::new("exited")?;
    let mut sys = machine(&scratch, 32 * MIB, 256 * MIB)?;
    {
        let (pid, base) = process_with(&mut sys, "the warming process", 40 * MIB)?;
        let mut k = Kernel32::new(&mut sys, pid);
        for i in 0..40 * MIB / PAGE {
            k.write(base + i * PAGE, &[1])
                .map_err(|e| anyhow!("the warming process, page {i}: exception {:#x}", e.code))?;
        }
        sys.terminate_process(pid, 0).map_err(|e| anyhow!("ending the warming process: {e}"))?;
    }
    for n in 0..exited {
        let pid = sys.create_process(&format!("gone{n}")).map_err(|e| anyhow!("exited process {n}: {e}"))?;
        sys.terminate_process(pid, 0).map_err(|e| anyhow!("ending process {n}: {e}"))?;
    }
    let page = [0x5Au8; PAGE_BYTES];
    let size = u32::try_from(std::mem::size_of::<PERFORMANCE_INFORMATION>()).context("a small structure")?;
    let mut info = PERFORMANCE_INFORMATION::default();
    let start = Instant::now();
    for n in 0..PROCESSES {
        let (pid, base) = process_with(&mut sys, &format!("process {n}"), BYTES)?;
        let mut k = Kernel32::new(&mut sys, pid);
        for i in 0..BYTES / PAGE {
            k.write(base + i * PAGE, &page).map_err(|e| anyhow!("process {n} page {i}: exception {:#x}", e.code))?;
            if i % 16 == 15 && k.GetPerformanceInfo(&mut info, size) == 0 {
                bail!("process {n}: GetPerformanceInfo failed: error {}", k.GetLastError());
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64() * 1e9;
    anyhow::ensure!(info.ProcessCount == PROCESSES, "{} processes counted, {PROCESSES} running", info.ProcessCount);
    #[allow(clippy::cast_precision_loss)] // 16 384 pages
    Ok(elapsed / (u64::from(PROCESSES) * BYTES / PAGE) as f64)
}

/// A monitored run after 10 000 processes came and went, beside the same run without them,
/// per page.
pub(super) fn exited_processes_10000_vs_0() -> Result<Figure> {
    let (after_exits, without) = paired_medians_of(SHORT_SAMPLES, || monitored_touch(EXITED), || monitored_touch(0))?;
    Ok(Figure {
        name: "exited_processes_10000_vs_0",
        ntmem_ns: after_exits,
        baseline_ns: without,
        baseline: "ntmem: 16 processes x 4 MiB through a 32 MiB machine, GetPerformanceInfo every 16 pages, after \
                   one process wrote 40 MiB and ended; measured: the same with 10000 more processes created and \
                   ended first; per page, medians of 15",
        goal: 1.2,
    })
}
