//! The native engine's figures (issue 9): C-ABI calls and real loads and stores on pointers
//! the engine manages, each against the host doing the same itself. The engine starts in this
//! process on the first row's first call and stays (one machine a process).
//!
//! - `native_read_resident`: random 8-byte loads over 64 MiB of committed, touched memory
//!   against the same loads over a touched anonymous mapping (4 KiB pages both): a resident
//!   page is mapped on the host, so a load is the host's own.
//! - `native_demand_zero_fault`: first touches of committed pages (a SIGSEGV, the memory
//!   manager's demand-zero fault, a memfd page mapped) against Linux's first touch.
//! - `native_demand_zero_fault_vs_floor`: the same first touches against the host's floor
//!   under any user-space fault (`fault_floor.rs`): a minimal handler that clears a frame and
//!   maps it, doing none of the memory manager's work. The ratio is what the manager adds; the
//!   floor's own ratio to Linux's first touch is why `native_demand_zero_fault` sits near its
//!   goal on a host whose traps are slow.
//! - `native_alloc_free_pair`: `VirtualAlloc` 64 KiB committed + `VirtualFree` through the C
//!   ABI against `mmap` + `munmap`.

use super::fault_floor;
use super::native;
use super::timing::{paired_medians, paired_medians_of, per_op, XorShift, SHORT_SAMPLES};
use super::Figure;
use anyhow::{anyhow, Result};

const MEM_COMMIT: u32 = 0x1000;
const MEM_RESERVE: u32 = 0x2000;
const MEM_RELEASE: u32 = 0x8000;
const PAGE_READWRITE: u32 = 4;
const PAGE: usize = 4096;
/// Goal of `native_demand_zero_fault_vs_floor`: the memory manager's own work on a fault (its
/// look-ups, PTE, working-set and list updates) may add at most a quarter to the host's floor.
/// On a 2-core VM whose fault floor is 8–10 µs the ratio measured 0.93–1.10.
const GOAL_OVER_FLOOR: f64 = 1.25;

/// Commits `len` bytes read-write through the C ABI.
fn commit(len: usize) -> Result<usize> {
    let p = ntmem_native::VirtualAlloc(std::ptr::null_mut(), len, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if p.is_null() {
        return Err(anyhow!("VirtualAlloc failed with {}", ntmem_native::GetLastError()));
    }
    Ok(p as usize)
}

fn free(base: usize) -> Result<()> {
    if ntmem_native::VirtualFree(base as *mut libc::c_void, 0, MEM_RELEASE) == 0 {
        return Err(anyhow!("VirtualFree failed with {}", ntmem_native::GetLastError()));
    }
    Ok(())
}

pub(super) fn native_read_resident() -> Result<Figure> {
    const LEN: usize = 64 << 20;
    const READS: usize = 4 << 20;
    let base = commit(LEN)?;
    native::touch_arena_pages(base, LEN / PAGE)?;
    let arena = native::arena_bytes(base, LEN);
    let host = native::touched_mapping(LEN)?;
    let (ntmem_ns, baseline_ns) = paired_medians_of(
        SHORT_SAMPLES,
        || native::random_loads(arena, XorShift::new(), READS),
        || native::random_loads(host.bytes(), XorShift::new(), READS),
    )?;
    free(base)?;
    Ok(Figure {
        name: "native_read_resident",
        ntmem_ns,
        baseline_ns,
        baseline: "host random 8-byte loads over a touched 64 MiB anonymous mapping (4 KiB pages)",
        goal: 1.1,
    })
}

/// Pages first-touched in one sample of the demand-zero figures.
const FIRST_TOUCHES: usize = 4096;

/// One sample of the engine's demand-zero faults: `FIRST_TOUCHES` pages committed, each
/// touched once (timed), released.
fn engine_first_touches() -> Result<f64> {
    let base = commit(FIRST_TOUCHES * PAGE)?;
    let ns = native::touch_arena_pages(base, FIRST_TOUCHES)?;
    free(base)?;
    Ok(ns)
}

pub(super) fn native_demand_zero_fault() -> Result<Figure> {
    let (ntmem_ns, baseline_ns) = paired_medians(engine_first_touches, || native::first_touches(FIRST_TOUCHES))?;
    Ok(Figure {
        name: "native_demand_zero_fault",
        ntmem_ns,
        baseline_ns,
        baseline: "Linux first touch of an anonymous mmap page (4 KiB pages: MADV_NOHUGEPAGE)",
        goal: 5.0,
    })
}

pub(super) fn native_demand_zero_fault_vs_floor() -> Result<Figure> {
    let (ntmem_ns, baseline_ns) =
        paired_medians(engine_first_touches, || fault_floor::signal_and_map_touches(FIRST_TOUCHES))?;
    Ok(Figure {
        name: "native_demand_zero_fault_vs_floor",
        ntmem_ns,
        baseline_ns,
        baseline: "a minimal SIGSEGV handler doing only the host's part of the fault: the signal, a 4 KiB \
                   clear, one memfd mmap, the retried minor fault",
        goal: GOAL_OVER_FLOOR,
    })
}

pub(super) fn native_alloc_free_pair() -> Result<Figure> {
    const PAIRS: usize = 20_000;
    let (ntmem_ns, baseline_ns) = paired_medians(
        || {
            per_op(PAIRS, || {
                for _ in 0..PAIRS {
                    free(commit(16 * PAGE)?)?;
                }
                Ok(())
            })
        },
        || native::map_unmap_pairs(PAIRS),
    )?;
    Ok(Figure {
        name: "native_alloc_free_pair",
        ntmem_ns,
        baseline_ns,
        baseline: "Linux mmap + munmap of 64 KiB",
        goal: 2.0,
    })
}
