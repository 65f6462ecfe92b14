//! The ntmem measurements, each beside its baseline: one function per figure builds a simulated
//! machine, drives it through the public API only — `Kernel32` for calls, the process's
//! `Memory` handle for its loads and stores (no invariant checks: they are for tests) — and
//! takes its samples in turn with the host baseline's from `native.rs`, or, for the scaling
//! figures, with the same operation at a small scale. The TLB-miss figures take theirs in
//! turn too when the host has memory free for both sides' 4 GiB at once, else each side's in
//! a run of its own ([`MissSamples`]).

use super::calls::{alloc, demand_zero_touches, machine, release, touch, warm_machine};
use super::native::{self, ProtectTarget};
use super::timing::{median_of, ops_within, paired_medians, paired_medians_of, per_op, XorShift, SHORT_SAMPLES};
use super::Figure;
use anyhow::{anyhow, bail, Context, Result};
use ntmem::{AccessFault, Config, Memory, ProcessId, System};
use ntmem_win32::{Kernel32, MEMORY_BASIC_INFORMATION64, MEM_COMMIT, MEM_RESERVE, PAGE_READONLY, PAGE_READWRITE};
use std::hint::black_box;

const PAGE: u64 = 4096;
const GRANULE: u64 = 64 << 10;
const TIB: u64 = 1 << 40;

/// An access the memory manager could not complete, as an error.
fn fault(f: AccessFault) -> anyhow::Error {
    anyhow!("access at {:#x} faulted: {:?}", f.address, f.kind)
}

/// 8-byte reads that hit the TLB, through the process's `Memory` handle (obtained once, as a
/// program's loads would use it): four touched pages, 64 offsets spread over them.
pub(super) fn tlb_hit_read() -> Result<Figure> {
    const PAGES: u64 = 4;
    const READS: usize = 5_000_000;
    let (mut sys, pid) = machine(Config::default())?;
    let mut k = Kernel32::new(&mut sys, pid);
    let base = alloc(&mut k, 0, PAGES * PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE)?;
    for page in 0..PAGES {
        touch(&mut k, base + page * PAGE)?;
    }
    let span = usize::try_from(PAGES * PAGE)?;
    let host = vec![1u8; span];
    let mut rng = XorShift::new();
    // Below PAGES * PAGE = 16 KiB.
    #[allow(clippy::cast_possible_truncation)]
    let offsets: [usize; 64] = std::array::from_fn(|_| ((rng.next_u64() % (PAGES * PAGE)) & !7) as usize);
    let mut memory = sys.memory(pid)?;
    let (ntmem_ns, baseline_ns) = paired_medians_of(
        SHORT_SAMPLES,
        || {
            per_op(READS, || {
                // The program's buffer, as a program reuses it.
                let mut b = [0u8; 8];
                for i in 0..READS {
                    let off = offsets[i % offsets.len()];
                    memory.read(base + off as u64, &mut b).map_err(fault)?;
                    black_box(u64::from_ne_bytes(b));
                }
                Ok(())
            })
        },
        || native::loads_at(&host, &offsets, READS),
    )?;
    Ok(Figure {
        name: "tlb_hit_read",
        ntmem_ns,
        baseline_ns,
        baseline: "host 8-byte load from a Vec, same offsets and loop",
        goal: 2.5,
    })
}

/// The span of the TLB-miss figures: 4 GiB of touched memory, a thousand times what ntmem's
/// TLB covers (1024 entries, 4 MiB), so that almost every read misses it. The
/// paging-structure cache is sized to the machine (`paging/table_cache.rs`): for
/// [`miss_machine`]'s 5 GiB of RAM it holds 4096 page tables, 8 GiB, so a miss reads one PTE
/// (as a processor's PDE cache lets it), and the host pays a page walk of its own on its side.
const MISS_SPAN: u64 = 4 << 30;
/// Reads per sample of the TLB-miss figures.
const MISS_READS: usize = 2_000_000;

/// A machine of 5 GiB of RAM (a host allocation that costs only what is touched) whose process
/// has touched `MISS_SPAN` bytes from `base`: one write of 1 at the start of every page, so
/// that every page is resident with its own frame and no balancing is wanted (a quarter of RAM
/// stays free, far above the low-water mark).
fn miss_machine() -> Result<(System, ProcessId, u64)> {
    let (mut sys, pid) = machine(Config::default().with_ram_bytes(MISS_SPAN + MISS_SPAN / 4))?;
    let mut k = Kernel32::new(&mut sys, pid);
    let base = alloc(&mut k, 0, MISS_SPAN, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE)?;
    let mut memory = sys.memory(pid)?;
    for page in 0..MISS_SPAN / PAGE {
        memory.write(base + page * PAGE, &[1]).map_err(fault)?;
    }
    Ok((sys, pid, base))
}

/// A host buffer as `miss_machine`'s memory: `MISS_SPAN` bytes of an anonymous mapping, 1 at
/// the start of every page (so every host page is backed), 0 elsewhere. On 4 KiB host pages
/// (`MADV_NOHUGEPAGE`), so that the host's loads miss its TLB as ntmem's reads miss ntmem's,
/// whatever the host's transparent-huge-page setting; or, with `huge`, on 2 MiB host pages
/// (`MADV_HUGEPAGE`), whose 4 GiB the host's TLB almost covers (the context row).
fn miss_host(huge: bool) -> Result<memmap2::MmapMut> {
    let mut host = memmap2::MmapOptions::new().len(usize::try_from(MISS_SPAN)?).map_anon()?;
    let advice = if huge { memmap2::Advice::HugePage } else { memmap2::Advice::NoHugePage };
    host.advise(advice).context("madvise of the host's buffer")?;
    for byte in host.iter_mut().step_by(usize::try_from(PAGE)?) {
        *byte = 1;
    }
    Ok(host)
}

/// Samples per side of each TLB-miss figure: more than [`super::timing::SAMPLES`], because
/// building the machine and the host's buffer (4 GiB each) costs far more than a sample (a
/// fraction of a second), and the host's memory latency moves from one moment to the next.
const MISS_SAMPLES: usize = 9;

/// Samples per side of [`tlb_miss_read`], whose goal leaves the least room: on a shared host,
/// one sample of either side can take twice as long as the next (ntmem's 56–125 ns in one run
/// of 9), so the median of 9 moves by a tenth from run to run. 21 pairs cost about 12 s.
const MISS_READ_SAMPLES: usize = 21;

/// Host memory the TLB-miss figures want free before they hold both sides at once: ntmem's
/// 4 GiB of touched RAM, the host's 4 GiB, and 2 GiB to spare.
const PAIRED_MISS_BYTES: u64 = 2 * MISS_SPAN + (2 << 30);

/// How a TLB-miss figure takes its samples.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum MissSamples {
    /// In turn, ntmem's and the host's, both sides' 4 GiB held at once: noise from the rest
    /// of the machine falls on both alike, as in every other figure.
    InTurn,
    /// Each side's in a run of its own, ntmem's first, the machine freed before the host's
    /// buffer is touched: for a host with too little memory free to hold both.
    Apart,
}

/// In turn when the host has [`PAIRED_MISS_BYTES`] available (Linux's `MemAvailable`), else
/// apart.
fn miss_samples() -> MissSamples {
    miss_samples_for(std::fs::read_to_string("/proc/meminfo").ok().as_deref())
}

/// [`miss_samples`] for the text of `/proc/meminfo`, if there is one.
fn miss_samples_for(meminfo: Option<&str>) -> MissSamples {
    let available = meminfo.and_then(|info| {
        let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    });
    match available {
        Some(bytes) if bytes >= PAIRED_MISS_BYTES => MissSamples::InTurn,
        _ => MissSamples::Apart,
    }
}

/// A TLB-miss figure's medians of `samples` samples a side: ntmem's reads (`ntmem`, one
/// sample over `miss_machine`'s memory from its base) beside the host's loads (`host`, one
/// sample over [`miss_host`]`(huge)`), with how the samples were taken.
fn miss_medians(
    samples: usize,
    huge: bool,
    mut ntmem: impl FnMut(&mut Memory<'_>, u64) -> Result<f64>,
    mut host: impl FnMut(&[u8]) -> Result<f64>,
) -> Result<(f64, f64, MissSamples)> {
    let how = miss_samples();
    let (mut sys, pid, base) = miss_machine()?;
    let mut memory = sys.memory(pid)?;
    if how == MissSamples::InTurn {
        let buffer = miss_host(huge)?;
        // Each timed sample right after an untimed one of its own side, so that neither
        // starts in the caches the other side's sample has just filled (the host's page
        // tables; ntmem's TLB, paging-structure cache and page tables): warm against warm,
        // as the samples of a side taken apart are.
        let (ntmem_ns, host_ns) = paired_medians_of(
            samples,
            || {
                ntmem(&mut memory, base)?;
                ntmem(&mut memory, base)
            },
            || {
                host(&buffer)?;
                host(&buffer)
            },
        )?;
        return Ok((ntmem_ns, host_ns, how));
    }
    let ntmem_ns = median_of(samples, || ntmem(&mut memory, base))?;
    // The machine's RAM freed before the host's buffer is touched.
    drop(sys);
    let buffer = miss_host(huge)?;
    let host_ns = median_of(samples, || host(&buffer))?;
    Ok((ntmem_ns, host_ns, how))
}

/// One sample of ntmem's random independent 8-byte reads over `MISS_SPAN` bytes from `base`,
/// nanoseconds per read.
fn miss_reads(memory: &mut Memory<'_>, base: u64) -> Result<f64> {
    per_op(MISS_READS, || {
        // The loop's state in locals of its own, as in the host's loop: state reached
        // through the closure's captures would be loaded and stored each read, because
        // the full path's call (never made here) might change it.
        let (memory, base) = (&mut *memory, base);
        let mut rng = XorShift::new();
        let mut sum = 0u64;
        // The program's buffer, as a program reuses it.
        let mut b = [0u8; 8];
        for _ in 0..MISS_READS {
            let off = rng.next_u64() & (MISS_SPAN - 1) & !7;
            memory.read(base + off, &mut b).map_err(fault)?;
            sum = sum.wrapping_add(u64::from_ne_bytes(b));
        }
        black_box(sum);
        Ok::<(), anyhow::Error>(())
    })
}

/// Random 8-byte reads over 4 GiB of touched memory (see [`MISS_SPAN`]), each independent of
/// the one before, against the host's independent loads at the same offsets over 4 KiB host
/// pages: a simulated TLB miss beside a real one.
pub(super) fn tlb_miss_read() -> Result<Figure> {
    let (ntmem_ns, baseline_ns, how) = miss_medians(MISS_READ_SAMPLES, false, miss_reads, |host| {
        native::random_loads(host, XorShift::new(), MISS_READS)
    })?;
    let baseline = match how {
        MissSamples::InTurn => {
            "host independent 8-byte loads over a touched 4 GiB mapping on 4 KiB host pages, same random offsets, \
             samples in turn with ntmem's (ntmem's own RAM asks the host for 2 MiB pages: phys/frame_store.rs)"
        }
        MissSamples::Apart => {
            "host independent 8-byte loads over a touched 4 GiB mapping on 4 KiB host pages, same random offsets, \
             samples apart from ntmem's (too little host memory free to hold both at once; ntmem's own RAM asks the \
             host for 2 MiB pages: phys/frame_store.rs)"
        }
    };
    Ok(Figure { name: "tlb_miss_read", ntmem_ns, baseline_ns, baseline, goal: 3.0 })
}

/// The same reads as [`tlb_miss_read`] beside the host's loads over 2 MiB host pages, whose
/// 4 GiB the host's TLB almost covers: what simulating the translation costs against a host
/// that hardly translates. For context: no goal.
pub(super) fn tlb_miss_read_vs_huge_pages() -> Result<Figure> {
    let (ntmem_ns, baseline_ns, how) =
        miss_medians(MISS_SAMPLES, true, miss_reads, |host| native::random_loads(host, XorShift::new(), MISS_READS))?;
    let baseline = match how {
        MissSamples::InTurn => {
            "tlb_miss_read's reads beside host independent 8-byte loads over a touched 4 GiB mapping on 2 MiB host \
             pages (MADV_HUGEPAGE), same offsets, samples in turn: for context, no goal"
        }
        MissSamples::Apart => {
            "tlb_miss_read's reads beside host independent 8-byte loads over a touched 4 GiB mapping on 2 MiB host \
             pages (MADV_HUGEPAGE), same offsets, samples apart (too little host memory free to hold both at once): \
             for context, no goal"
        }
    };
    Ok(Figure { name: "tlb_miss_read_vs_huge_pages", ntmem_ns, baseline_ns, baseline, goal: 0.0 })
}

/// As [`tlb_miss_read`], but each read's offset depends on the value the one before read, on
/// both sides: the host's loads wait for each other as ntmem's walk and load do, so this is
/// latency against latency, where `tlb_miss_read` lets the host overlap its misses.
pub(super) fn tlb_miss_read_dependent() -> Result<Figure> {
    let reads = |memory: &mut Memory<'_>, base: u64| {
        per_op(MISS_READS, || {
            // Locals of the loop's own, as in `miss_reads`.
            let (memory, base) = (&mut *memory, base);
            let mut rng = XorShift::new();
            let mut last = 0u64;
            let mut b = [0u8; 8];
            for _ in 0..MISS_READS {
                let off = rng.next_u64().wrapping_add(last) & (MISS_SPAN - 1) & !7;
                memory.read(base + off, &mut b).map_err(fault)?;
                last = u64::from_ne_bytes(b);
            }
            black_box(last);
            Ok::<(), anyhow::Error>(())
        })
    };
    let (ntmem_ns, baseline_ns, how) =
        miss_medians(MISS_SAMPLES, false, reads, |host| native::dependent_loads(host, XorShift::new(), MISS_READS))?;
    let baseline = match how {
        MissSamples::InTurn => {
            "host dependent 8-byte loads over a touched 4 GiB mapping on 4 KiB host pages (each offset adds the value \
             last read), ntmem's reads likewise, samples in turn"
        }
        MissSamples::Apart => {
            "host dependent 8-byte loads over a touched 4 GiB mapping on 4 KiB host pages (each offset adds the value \
             last read), ntmem's reads likewise, samples apart (too little host memory free to hold both at once)"
        }
    };
    Ok(Figure { name: "tlb_miss_read_dependent", ntmem_ns, baseline_ns, baseline, goal: 3.0 })
}

/// The first touch of a committed page: a demand-zero fault, in the steady state (see
/// [`warm_machine`]): frames come from the free list and are zeroed in the fault.
pub(super) fn demand_zero_fault() -> Result<Figure> {
    const PAGES: u64 = 16 * 1024;
    let (mut sys, pid) = warm_machine(256 << 20)?;
    let mut k = Kernel32::new(&mut sys, pid);
    let pages = usize::try_from(PAGES)?;
    let (ntmem_ns, baseline_ns) =
        paired_medians_of(SHORT_SAMPLES, || demand_zero_touches(&mut k, PAGES), || native::first_touches(pages))?;
    Ok(Figure {
        name: "demand_zero_fault",
        ntmem_ns,
        baseline_ns,
        baseline: "Linux first touch of an anonymous mmap page (4 KiB pages: MADV_NOHUGEPAGE)",
        goal: 0.5,
    })
}

/// `VirtualAlloc` of 64 KiB committed, then `VirtualFree` of it, in the steady state (see
/// [`warm_machine`]): the page-table pages the commit needs come from the free list.
pub(super) fn alloc_free_pair() -> Result<Figure> {
    const PAIRS: usize = 20_000;
    let (mut sys, pid) = warm_machine(64 << 20)?;
    let mut k = Kernel32::new(&mut sys, pid);
    let (ntmem_ns, baseline_ns) = paired_medians(
        || {
            per_op(PAIRS, || {
                for _ in 0..PAIRS {
                    let base = alloc(&mut k, 0, GRANULE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE)?;
                    release(&mut k, base)?;
                }
                Ok(())
            })
        },
        || native::map_unmap_pairs(PAIRS),
    )?;
    Ok(Figure { name: "alloc_free_pair", ntmem_ns, baseline_ns, baseline: "Linux mmap + munmap of 64 KiB", goal: 0.5 })
}

/// `VirtualProtect` of one touched committed page, alternately read-only and read-write.
pub(super) fn protect_page() -> Result<Figure> {
    const CALLS: usize = 100_000;
    let (mut sys, pid) = machine(Config::default())?;
    let mut k = Kernel32::new(&mut sys, pid);
    let base = alloc(&mut k, 0, PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE)?;
    touch(&mut k, base)?;
    let mut host = ProtectTarget::new()?;
    let (ntmem_ns, baseline_ns) = paired_medians(
        || {
            per_op(CALLS, || {
                for i in 0..CALLS {
                    let new = if i % 2 == 0 { PAGE_READONLY } else { PAGE_READWRITE };
                    let mut old = 0;
                    if k.VirtualProtect(base, PAGE, new, Some(&mut old)) == 0 {
                        bail!("VirtualProtect({base:#x}) failed: error {}", k.GetLastError());
                    }
                }
                Ok(())
            })
        },
        || host.flips(CALLS),
    )?;
    Ok(Figure { name: "protect_page", ntmem_ns, baseline_ns, baseline: "Linux mprotect of one page", goal: 0.5 })
}

/// `VirtualQuery` at random pages of a process holding 100 000 allocations of committed,
/// touched memory, against one holding 100: what a real process's queries look at.
pub(super) fn query_scaling() -> Result<Figure> {
    let mut many = QueryTarget::new(100_000)?;
    let mut few = QueryTarget::new(100)?;
    let (ntmem_ns, baseline_ns) = paired_medians_of(SHORT_SAMPLES, || many.queries(), || few.queries())?;
    Ok(Figure {
        name: "query_scaling",
        ntmem_ns,
        baseline_ns,
        baseline: "ntmem VirtualQuery among 100 allocations (each 2 pages committed and touched)",
        goal: 3.0,
    })
}

/// A process with `count` allocations side by side from 4 GiB up, one per 64 KiB granule, each
/// of [`QueryTarget::PAGES`] pages committed read-write and touched (written), so resident.
struct QueryTarget {
    sys: System,
    pid: ProcessId,
    count: u64,
}

impl QueryTarget {
    const FIRST: u64 = 1 << 32;
    const PAGES: u64 = 2;
    const QUERIES: usize = 200_000;

    fn new(count: u64) -> Result<QueryTarget> {
        // 100 000 allocations hold 800 MiB of pages and 25 MiB of page tables: 2 GiB of RAM
        // leaves them all resident, with no balancing.
        let (mut sys, pid) = machine(Config::default().with_ram_bytes(2 << 30))?;
        let mut k = Kernel32::new(&mut sys, pid);
        for i in 0..count {
            let at = Self::FIRST + i * GRANULE;
            let base = alloc(&mut k, at, Self::PAGES * PAGE, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)?;
            if base != at {
                bail!("VirtualAlloc at {at:#x} gave {base:#x}");
            }
            for page in 0..Self::PAGES {
                touch(&mut k, base + page * PAGE)?;
            }
        }
        Ok(QueryTarget { sys, pid, count })
    }

    /// One sample: queries at pages of the allocations drawn from a fixed sequence.
    fn queries(&mut self) -> Result<f64> {
        let mut k = Kernel32::new(&mut self.sys, self.pid);
        let mut rng = XorShift::new();
        let count = self.count;
        per_op(Self::QUERIES, || {
            for _ in 0..Self::QUERIES {
                let r = rng.next_u64();
                let addr = Self::FIRST + (r % count) * GRANULE + (r >> 63) * PAGE;
                let mut mbi = MEMORY_BASIC_INFORMATION64::default();
                if k.VirtualQuery(addr, &mut mbi) == 0 {
                    bail!("VirtualQuery({addr:#x}) failed: error {}", k.GetLastError());
                }
                black_box(&mbi);
            }
            Ok(())
        })
    }
}

/// Reserving (and releasing) 1 TiB against 64 KiB: a reservation costs a VAD, whatever its
/// size. Each figure is the median of many short samples (a few milliseconds each), so that a
/// preemption spoils one sample, not the figure; the pairs a sample holds come from the median
/// of several single pairs, after a warm-up.
pub(super) fn reserve_scaling() -> Result<Figure> {
    const MAX_PAIRS: usize = 2_000;
    const SAMPLE_NS: f64 = 2e6;
    const PAIR_SAMPLES: usize = 101;
    let (mut big_sys, big_pid) = machine(Config::default())?;
    let (mut small_sys, small_pid) = machine(Config::default())?;
    let mut big = Kernel32::new(&mut big_sys, big_pid);
    let mut small = Kernel32::new(&mut small_sys, small_pid);
    // A slow reservation would make a fixed count take minutes: time single pairs first.
    let big_pairs = ops_within(median_of(9, || reserve_release(&mut big, TIB, 1))?, SAMPLE_NS, MAX_PAIRS);
    let small_pairs = ops_within(median_of(9, || reserve_release(&mut small, GRANULE, 1))?, SAMPLE_NS, MAX_PAIRS);
    let (ntmem_ns, baseline_ns) = paired_medians_of(
        PAIR_SAMPLES,
        || reserve_release(&mut big, TIB, big_pairs),
        || reserve_release(&mut small, GRANULE, small_pairs),
    )?;
    Ok(Figure {
        name: "reserve_scaling",
        ntmem_ns,
        baseline_ns,
        baseline: "ntmem MEM_RESERVE + MEM_RELEASE of 64 KiB (median of 101 samples of ~2 ms)",
        goal: 2.0,
    })
}

/// `pairs` times: reserve `size` bytes anywhere, release them.
fn reserve_release(k: &mut Kernel32<'_>, size: u64, pairs: usize) -> Result<f64> {
    per_op(pairs, || {
        for _ in 0..pairs {
            let base = alloc(k, 0, size, MEM_RESERVE, PAGE_READWRITE)?;
            release(k, base)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tlb_miss_rows_hold_both_sides_only_with_10_gib_available() {
        let info =
            |kib: u64| format!("MemTotal:       24000000 kB\nMemFree:        1000 kB\nMemAvailable:   {kib} kB\n");
        assert_eq!(miss_samples_for(Some(&info(10 << 20))), MissSamples::InTurn, "10 GiB");
        assert_eq!(miss_samples_for(Some(&info((10 << 20) - 1))), MissSamples::Apart, "a KiB short");
        assert_eq!(miss_samples_for(Some("MemTotal: 24000000 kB\n")), MissSamples::Apart, "no MemAvailable line");
        assert_eq!(miss_samples_for(None), MissSamples::Apart, "no /proc/meminfo");
    }
}
