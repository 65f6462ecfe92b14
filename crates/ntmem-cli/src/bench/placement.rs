//! Figures of the address-space index and of range operations at scale, each against the same
//! operation at a small scale in the same run (issue 6, items 2 and 9):
//!
//! - `placement_scaling`, `placement_top_down_scaling`: a 128 KiB `VirtualAlloc` (bottom-up,
//!   then `MEM_TOP_DOWN`) that must skip every 64 KiB gap between 100 000 live reservations,
//!   against the same among 100. A search that steps through the VADs grows with their number;
//!   one that skips the index's chunks whose largest gap is too small does not.
//! - `range_ops_1tib`: a failing `VirtualUnlock`, `GetWriteWatch`, `ResetWriteWatch`,
//!   `MEM_RESET` and `MEM_RESET_UNDO` over a 1 TiB write-watch reservation holding two touched
//!   pages, against the same over 64 KiB holding two: their cost must follow what the range
//!   holds, not its length.
//!
//! Driven through `Kernel32` only, like `figures.rs`, whose small helpers this file repeats
//! rather than shares, so that the two files change independently.

use super::calls::{alloc, release};
use super::timing::{ops_within, paired_medians, paired_medians_of, per_op, SHORT_SAMPLES};
use super::Figure;
use anyhow::{bail, Result};
use ntmem::{Config, ProcessId, System};
use ntmem_win32::{
    Kernel32, ERROR_NOT_LOCKED, MEM_COMMIT, MEM_RESERVE, MEM_RESET, MEM_RESET_UNDO, MEM_TOP_DOWN, MEM_WRITE_WATCH,
    PAGE_NOACCESS, PAGE_READWRITE,
};

const PAGE: u64 = 4096;
const GRANULE: u64 = 64 << 10;
const TIB: u64 = 1 << 40;
/// One past the highest user address (x64, F1).
const USER_END: u64 = 0x7FFF_FFFF_0000;
/// The most operations a calibrated sample holds.
const MAX_OPS: usize = 20_000;

/// About how long a calibrated sample takes: 0.2 s.
const SAMPLE_BUDGET_NS: f64 = 2e8;

/// Bottom-up placement among 100 000 live allocations against 100.
pub(super) fn placement_scaling() -> Result<Figure> {
    placement_figure(false, "placement_scaling", "ntmem 128 KiB VirtualAlloc + VirtualFree among 100 allocations")
}

/// `MEM_TOP_DOWN` placement among 100 000 live allocations against 100.
pub(super) fn placement_top_down_scaling() -> Result<Figure> {
    placement_figure(
        true,
        "placement_top_down_scaling",
        "ntmem 128 KiB MEM_TOP_DOWN VirtualAlloc + VirtualFree among 100 allocations",
    )
}

fn placement_figure(top_down: bool, name: &'static str, baseline: &'static str) -> Result<Figure> {
    let mut many = Crowd::new(100_000, top_down)?;
    let mut few = Crowd::new(100, top_down)?;
    // A linear search makes a fixed count take minutes: time one of each first.
    let many_ops = ops_within(many.placements(1)?, SAMPLE_BUDGET_NS, MAX_OPS);
    let few_ops = ops_within(few.placements(1)?, SAMPLE_BUDGET_NS, MAX_OPS);
    let (ntmem_ns, baseline_ns) = paired_medians(|| many.placements(many_ops), || few.placements(few_ops))?;
    Ok(Figure { name, ntmem_ns, baseline_ns, baseline, goal: 3.0 })
}

/// A process holding `live` 64 KiB reservations with a free 64 KiB granule beside each: from
/// 0x10000 up, or from the top of the user range down. No gap can hold 128 KiB, so a 128 KiB
/// placement lands past all of them.
struct Crowd {
    sys: System,
    pid: ProcessId,
    top_down: bool,
    /// The lowest (top-down) or highest (bottom-up) address the reservations take.
    edge: u64,
}

impl Crowd {
    fn new(live: u64, top_down: bool) -> Result<Crowd> {
        let (mut sys, pid) = super::calls::machine(Config::default())?;
        let mut k = Kernel32::new(&mut sys, pid);
        let mut edge = 0;
        for i in 0..live {
            // Odd granules bottom-up: the shared user data page's granule (0x7FFE0000) is even.
            let at = if top_down { USER_END - (2 * i + 2) * GRANULE } else { (2 * i + 1) * GRANULE };
            let base = alloc(&mut k, at, GRANULE, MEM_RESERVE, PAGE_READWRITE)?;
            if base != at {
                bail!("VirtualAlloc at {at:#x} gave {base:#x}");
            }
            edge = if top_down { at } else { at + GRANULE };
        }
        Ok(Crowd { sys, pid, top_down, edge })
    }

    /// One sample: `ops` times, a 128 KiB reservation placed by the system, then released.
    fn placements(&mut self, ops: usize) -> Result<f64> {
        let mut k = Kernel32::new(&mut self.sys, self.pid);
        let (flags, top_down, edge) =
            (MEM_RESERVE | if self.top_down { MEM_TOP_DOWN } else { 0 }, self.top_down, self.edge);
        per_op(ops, || {
            for _ in 0..ops {
                let base = alloc(&mut k, 0, 2 * GRANULE, flags, PAGE_READWRITE)?;
                let beyond = if top_down { base + 2 * GRANULE <= edge } else { base >= edge };
                if !beyond {
                    bail!("128 KiB placed at {base:#x}, inside the reservations (edge {edge:#x})");
                }
                release(&mut k, base)?;
            }
            Ok(())
        })
    }
}

/// The range operations over a 1 TiB write-watch reservation against 64 KiB.
pub(super) fn range_ops_1tib() -> Result<Figure> {
    let mut big = Watched::new(TIB)?;
    let mut small = Watched::new(GRANULE)?;
    let big_ops = ops_within(big.rounds(1)?, SAMPLE_BUDGET_NS, MAX_OPS);
    let small_ops = ops_within(small.rounds(1)?, SAMPLE_BUDGET_NS, MAX_OPS);
    let (ntmem_ns, baseline_ns) = paired_medians_of(SHORT_SAMPLES, || big.rounds(big_ops), || small.rounds(small_ops))?;
    Ok(Figure {
        name: "range_ops_1tib",
        ntmem_ns,
        baseline_ns,
        baseline: "ntmem unlock, write watch, reset over 64 KiB holding the same two pages",
        goal: 3.0,
    })
}

/// A `MEM_WRITE_WATCH` reservation of `size` bytes whose first and last pages are committed.
struct Watched {
    sys: System,
    pid: ProcessId,
    base: u64,
    size: u64,
}

impl Watched {
    fn new(size: u64) -> Result<Watched> {
        let (mut sys, pid) = super::calls::machine(Config::default())?;
        let mut k = Kernel32::new(&mut sys, pid);
        let base = alloc(&mut k, 0, size, MEM_RESERVE | MEM_WRITE_WATCH, PAGE_READWRITE)?;
        for page in [base, base + size - PAGE] {
            alloc(&mut k, page, PAGE, MEM_COMMIT, PAGE_READWRITE)?;
        }
        Ok(Watched { sys, pid, base, size })
    }

    /// One sample: `rounds` times, write both pages, then over the whole range: GetWriteWatch
    /// (two pages), ResetWriteWatch, MEM_RESET, MEM_RESET_UNDO, and a VirtualUnlock that fails
    /// (nothing is locked) and drops both pages from the working set (F105).
    fn rounds(&mut self, rounds: usize) -> Result<f64> {
        let mut k = Kernel32::new(&mut self.sys, self.pid);
        let (base, size) = (self.base, self.size);
        let last = base + size - PAGE;
        let mut found = [0u64; 4];
        per_op(rounds, || {
            for _ in 0..rounds {
                for page in [base, last] {
                    k.write(page, &[1]).map_err(|e| anyhow::anyhow!("write at {page:#x}: exception {:#x}", e.code))?;
                }
                let (mut count, mut granularity) = (found.len(), 0);
                if k.GetWriteWatch(0, base, size, &mut found, &mut count, &mut granularity) != 0 || count != 2 {
                    bail!("GetWriteWatch over {size:#x} bytes: {count} pages, error {}", k.GetLastError());
                }
                if k.ResetWriteWatch(base, size) != 0 {
                    bail!("ResetWriteWatch over {size:#x} bytes failed: error {}", k.GetLastError());
                }
                alloc(&mut k, base, size, MEM_RESET, PAGE_NOACCESS)?;
                alloc(&mut k, base, size, MEM_RESET_UNDO, PAGE_NOACCESS)?;
                if k.VirtualUnlock(base, size) != 0 || k.GetLastError() != ERROR_NOT_LOCKED {
                    bail!("VirtualUnlock over {size:#x} bytes: error {}, not ERROR_NOT_LOCKED", k.GetLastError());
                }
            }
            Ok(())
        })
    }
}
