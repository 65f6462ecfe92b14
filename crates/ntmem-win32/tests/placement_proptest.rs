//! Property test of placement: random sequences of reservations at chosen addresses, NT-level
//! partial releases (F62–F64), whole releases and reservations placed by the system
//! (bottom-up and `MEM_TOP_DOWN`, with and without a zero-bits limit) are replayed against a
//! naive reference: a sorted list of allocations searched gap by gap, lowest first (F9) or
//! highest first (F46), for the first 64 KiB-aligned start whose allocation fits below the
//! limit (F47). After every step the status, the address placed and a `VirtualQuery` walk of
//! the whole address space must match the reference (issue 6, items 2 and 7).
//!
//! `PROPTEST_CASES` sets the number of cases (default 256).

#![allow(clippy::cast_possible_truncation)]

use std::collections::BTreeMap;

use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;
use proptest::collection::vec;
use proptest::prelude::*;

/// Page size and allocation granularity (F1).
const P: u64 = 0x1000;
const G: u64 = 0x1_0000;
/// The lowest address and one past the highest address an allocation may take (F1).
const MIN_APP: u64 = 0x1_0000;
const USER_END: u64 = 0x7FFF_FFFF_0000;

/// Where explicit reservations go: the bottom of the address space, where bottom-up placement
/// looks first; just under 1 MiB, the limit of `ZeroBits` 12; and the top, where top-down
/// placement looks first.
const WINDOWS: [u64; 3] = [MIN_APP, (1 << 20) - 8 * G, USER_END - 128 * G];

/// `ZeroBits` values the test uses, with the end address each allows (F47): none, 2 GiB (just
/// above the shared user data page), 1 MiB and 512 KiB.
const ZERO_BITS: [(u64, u64); 4] = [(0, USER_END), (1, 1 << 31), (12, 1 << 20), (13, 1 << 19)];

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

#[derive(Clone, Debug)]
enum Op {
    /// Reserve `pages` at granule `granule` of window `window`.
    ReserveAt { window: u8, granule: u8, pages: u8 },
    /// Reserve `count` allocations of `pages` side by side from granule `granule` of window
    /// `window`, one per granule: many small gaps, many chunks of the VAD index.
    ReserveRun { window: u8, granule: u8, count: u8, pages: u8 },
    /// Reserve `pages` where the system chooses.
    Place { pages: u16, top_down: bool, zero_bits: u8 },
    /// Release `pages` from page `page` of allocation `nth` (NT level, F62).
    ReleasePart { nth: u8, page: u16, pages: u16 },
    /// Release allocation `nth` whole.
    Release { nth: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..3, any::<u8>(), 1u8..=24).prop_map(|(window, granule, pages)| Op::ReserveAt { window, granule, pages }),
        1 => (0u8..3, any::<u8>(), 1u8..=40, 1u8..=16)
            .prop_map(|(window, granule, count, pages)| Op::ReserveRun { window, granule, count, pages }),
        6 => (prop_oneof![3 => 1u16..=16, 2 => 17u16..=48, 1 => 1u16..=600], any::<bool>(), 0u8..4)
            .prop_map(|(pages, top_down, zero_bits)| Op::Place { pages, top_down, zero_bits }),
        3 => (any::<u8>(), any::<u16>(), 1u16..=24).prop_map(|(nth, page, pages)| Op::ReleasePart { nth, page, pages }),
        1 => any::<u8>().prop_map(|nth| Op::Release { nth }),
    ]
}

/// The reference: every allocation, by start address, with its end; the gaps between them are
/// free.
struct Reference {
    allocs: BTreeMap<u64, u64>,
}

impl Reference {
    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.allocs.range(..end).next_back().is_some_and(|(_, &e)| e > start)
    }

    /// The free gaps, lowest first, from the lowest address an allocation may take.
    fn gaps(&self) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut at = MIN_APP;
        for (&start, &end) in &self.allocs {
            if start > at {
                gaps.push((at, start));
            }
            at = at.max(end);
        }
        gaps.push((at, USER_END));
        gaps
    }

    /// Where the system places `size` bytes: first fit, 64 KiB aligned (F9), the allocation
    /// ending at or below `limit` (F47).
    fn place(&self, size: u64, top_down: bool, limit: u64) -> Option<u64> {
        let gaps = self.gaps();
        if top_down {
            gaps.iter().rev().find_map(|&(start, end)| {
                let top = end.min(limit);
                let base = top.checked_sub(size)? / G * G;
                (base >= start).then_some(base)
            })
        } else {
            gaps.iter().find_map(|&(start, end)| {
                let base = start.div_ceil(G) * G;
                (base + size <= end.min(limit)).then_some(base)
            })
        }
    }

    /// The user allocations (not the shared user data page), lowest first.
    fn nth(&self, nth: u8) -> Option<(u64, u64)> {
        let user: Vec<(u64, u64)> =
            self.allocs.iter().map(|(&s, &e)| (s, e)).filter(|&(s, _)| s != SHARED_USER_DATA).collect();
        (!user.is_empty()).then(|| user[usize::from(nth) % user.len()])
    }
}

/// Where the shared user data page is (F6): an allocation of every process.
const SHARED_USER_DATA: u64 = 0x7FFE_0000;

/// The allocations of the process as `VirtualQuery` walks them: (allocation base, end).
fn walk(k: &mut Kernel32) -> BTreeMap<u64, u64> {
    let mut allocs = BTreeMap::new();
    let mut addr = 0;
    while addr < USER_END {
        let mut mbi = MEMORY_BASIC_INFORMATION64::default();
        assert_ne!(k.VirtualQuery(addr, &mut mbi), 0, "VirtualQuery({addr:#x}) failed: {}", k.GetLastError());
        if mbi.State != MEM_FREE {
            let end = allocs.entry(mbi.AllocationBase).or_insert(0);
            *end = (*end).max(mbi.BaseAddress + mbi.RegionSize);
        }
        addr = mbi.BaseAddress + mbi.RegionSize;
    }
    allocs
}

fn nt_reserve(sys: &mut System, pid: ProcessId, base: u64, zero_bits: u64, size: u64, ty: u32) -> Result<u64, i32> {
    let (mut b, mut s) = (base, size);
    let mut nt = Ntdll::new(sys, pid);
    match nt.NtAllocateVirtualMemory(NtCurrentProcess(), &mut b, zero_bits, &mut s, ty, PAGE_READWRITE) {
        STATUS_SUCCESS => Ok(b),
        status => Err(status),
    }
}

fn nt_release(sys: &mut System, pid: ProcessId, base: u64, size: u64) -> i32 {
    let (mut b, mut s) = (base, size);
    Ntdll::new(sys, pid).NtFreeVirtualMemory(NtCurrentProcess(), &mut b, &mut s, MEM_RELEASE)
}

/// Reserves `pages` at `at` in both the system and the reference, if the reference says it
/// is free and in the user range (conflicts are the business of alloc_facts.rs).
fn reserve_at(sys: &mut System, pid: ProcessId, model: &mut Reference, at: u64, pages: u64) {
    if at + pages * P > USER_END || model.overlaps(at, at + pages * P) {
        return;
    }
    assert_eq!(nt_reserve(sys, pid, at, 0, pages * P, MEM_RESERVE), Ok(at), "reserve {pages} pages at {at:#x}");
    model.allocs.insert(at, at + pages * P);
}

fn run(ops: &[Op]) {
    // The invariant checker (which verifies the VAD index's rooms) runs after every step rather
    // than every call: a step may make forty calls.
    let mut sys = System::new(Config::default().with_ram_bytes(16 << 20)).expect("system boots");
    let pid = sys.create_process("placement").expect("process is created");
    let mut model = Reference { allocs: walk(&mut Kernel32::new(&mut sys, pid)) };
    assert_eq!(model.allocs.keys().copied().collect::<Vec<_>>(), [SHARED_USER_DATA], "a new process holds F6 only");
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::ReserveAt { window, granule, pages } => {
                let at = WINDOWS[usize::from(window)] + u64::from(granule % 128) * G;
                reserve_at(&mut sys, pid, &mut model, at, u64::from(pages));
            }
            Op::ReserveRun { window, granule, count, pages } => {
                for i in 0..u64::from(count) {
                    let at = WINDOWS[usize::from(window)] + (u64::from(granule % 128) + i) * G;
                    reserve_at(&mut sys, pid, &mut model, at, u64::from(pages));
                }
            }
            Op::Place { pages, top_down, zero_bits } => {
                let (zero_bits, limit) = ZERO_BITS[usize::from(zero_bits)];
                let size = u64::from(pages) * P;
                let ty = MEM_RESERVE | if top_down { MEM_TOP_DOWN } else { 0 };
                let expected = model.place(size, top_down, limit);
                let got = nt_reserve(&mut sys, pid, 0, zero_bits, size, ty);
                assert_eq!(
                    got,
                    expected.ok_or(STATUS_NO_MEMORY),
                    "step {step}: {op:?} (limit {limit:#x}) among {:x?}",
                    model.allocs
                );
                if let Some(base) = expected {
                    model.allocs.insert(base, base + size);
                }
            }
            Op::ReleasePart { nth, page, pages } => {
                let Some((start, end)) = model.nth(nth) else { continue };
                let len = (end - start) / P;
                let first = start + u64::from(page) % len * P;
                let size = (u64::from(pages) * P).min(end - first);
                assert_eq!(nt_release(&mut sys, pid, first, size), STATUS_SUCCESS, "step {step}: {op:?}");
                // F62, F63: the pieces on each side become allocations of their own.
                model.allocs.remove(&start);
                if first > start {
                    model.allocs.insert(start, first);
                }
                if first + size < end {
                    model.allocs.insert(first + size, end);
                }
            }
            Op::Release { nth } => {
                let Some((start, _)) = model.nth(nth) else { continue };
                assert_eq!(nt_release(&mut sys, pid, start, 0), STATUS_SUCCESS, "step {step}: {op:?}");
                model.allocs.remove(&start);
            }
        }
        if let Err(v) = sys.check_invariants() {
            panic!("step {step}: {op:?}: {v}");
        }
        assert_eq!(walk(&mut Kernel32::new(&mut sys, pid)), model.allocs, "step {step}: {op:?}");
    }
}

proptest! {
    #![proptest_config(config())]

    /// F9, F46, F47, F62–F64: placement against a linear first-fit reference.
    #[test]
    fn placement_matches_a_linear_first_fit(ops in vec(op(), 1..=80)) {
        run(&ops);
    }
}
