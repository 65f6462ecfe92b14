//! Where the system places an allocation whose address the caller leaves to it: the lowest free
//! 64 KiB-aligned range that holds it (F9, F10), the highest with `MEM_TOP_DOWN` (F46), below
//! the zero-bits limit (F47). Scenario tests through `Kernel32` and `Ntdll`; the property test
//! `placement_proptest.rs` compares placement with a linear first-fit reference.
// Tests compute addresses and sizes on a 64-bit host; truncating casts cannot occur here.
#![allow(clippy::cast_possible_truncation)]

use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;

/// Allocation granularity (F1).
const G: u64 = 0x1_0000;
/// Page size (F1).
const P: u64 = 0x1000;
/// One past the highest user address on x64 (F1).
const USER_END: u64 = 0x7FFF_FFFF_0000;

fn boot() -> (System, ProcessId) {
    let mut sys = System::new(Config::default().with_invariant_checks()).expect("system boots");
    let pid = sys.create_process("test").expect("process is created");
    (sys, pid)
}

/// `NtAllocateVirtualMemory(MEM_RESERVE)` at `base` (0: the system chooses): the base out.
fn nt_reserve(nt: &mut Ntdll, base: u64, zero_bits: u64, size: u64, extra: u32) -> Result<u64, NTSTATUS> {
    let (mut b, mut s) = (base, size);
    match nt.NtAllocateVirtualMemory(NtCurrentProcess(), &mut b, zero_bits, &mut s, MEM_RESERVE | extra, PAGE_READWRITE)
    {
        STATUS_SUCCESS => Ok(b),
        status => Err(status),
    }
}

/// `NtFreeVirtualMemory(MEM_RELEASE)` of `[base, base + size)` (size 0: the whole allocation).
fn nt_release(nt: &mut Ntdll, base: u64, size: u64) {
    let (mut b, mut s) = (base, size);
    let status = nt.NtFreeVirtualMemory(NtCurrentProcess(), &mut b, &mut s, MEM_RELEASE);
    assert_eq!(status, STATUS_SUCCESS, "NtFreeVirtualMemory({base:#x}, {size:#x}, MEM_RELEASE)");
}

/// Issue 6, item 7: after an NT-level partial release frees the first page of an allocation
/// (F62), that page is a free, 64 KiB-aligned spot, and the lowest one that holds a page: the
/// next one-page reservation goes there. Placement used to skip it, having once moved its
/// search hint past gaps that cannot hold a whole 64 KiB unit.
#[test]
fn a_page_freed_at_the_start_of_an_allocation_is_placed_into_f9_f62() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    assert_eq!(nt_reserve(&mut nt, 0x10000, 0, P, 0), Ok(0x10000));
    assert_eq!(nt_reserve(&mut nt, 0x20000, 0, 2 * G, 0), Ok(0x20000));
    nt_release(&mut nt, 0x20000, P);
    let mut k = Kernel32::new(&mut sys, pid);
    // Two pages: the 0x20000 gap is one page, the rest of 0x10000's granule is not aligned.
    assert_eq!(k.VirtualAlloc(0, 2 * P, MEM_RESERVE, PAGE_READWRITE), 0x40000, "F9: first aligned fit");
    assert_eq!(k.VirtualAlloc(0, P, MEM_RESERVE, PAGE_READWRITE), 0x20000, "F9: the freed page is the lowest fit");
}

/// A reservation that no gap between the allocations can hold goes above them all, however
/// many gaps lie below; a smaller one goes into the lowest gap.
#[test]
fn placement_skips_every_gap_too_small_f9() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    // 600 reservations of 64 KiB with a 64 KiB gap above each: many chunks of the VAD index.
    for i in 0..600 {
        let at = (2 * i + 1) * G;
        assert_eq!(k.VirtualAlloc(at, G, MEM_RESERVE, PAGE_READWRITE), at);
    }
    let top = 1200 * G;
    let big = k.VirtualAlloc(0, 2 * G, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(big, top, "128 KiB fits no gap below {top:#x}");
    assert_eq!(k.VirtualAlloc(0, G, MEM_RESERVE, PAGE_READWRITE), 2 * G, "64 KiB fits the lowest gap");
    // The same from the top down.
    for i in 0..600 {
        let at = USER_END - (2 * i + 2) * G;
        assert_eq!(k.VirtualAlloc(at, G, MEM_RESERVE, PAGE_READWRITE), at);
    }
    let below_all = USER_END - 1202 * G;
    assert_eq!(k.VirtualAlloc(0, 2 * G, MEM_RESERVE | MEM_TOP_DOWN, PAGE_READWRITE), below_all, "F46");
    assert_eq!(k.VirtualAlloc(0, G, MEM_RESERVE | MEM_TOP_DOWN, PAGE_READWRITE), USER_END - G, "F46: highest gap");
}

/// A gap large enough but above the zero-bits limit is not used: the call fails with
/// STATUS_NO_MEMORY (F47), bottom-up and top-down alike, and a gap below the limit is found.
#[test]
fn placement_stays_under_the_zero_bits_limit_f47() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    // ZeroBits 12: the allocation must end at or below 1 MiB. Fill 0x10000..1 MiB but for a
    // one-page hole at 0x80000.
    let limit = 1u64 << 20;
    assert_eq!(nt_reserve(&mut nt, 0x10000, 0, limit - 0x10000, 0), Ok(0x10000));
    nt_release(&mut nt, 0x80000, P);
    for extra in [0, MEM_TOP_DOWN] {
        assert_eq!(nt_reserve(&mut nt, 0, 12, 2 * P, extra), Err(STATUS_NO_MEMORY), "F47, {extra:#x}");
        assert_eq!(nt_reserve(&mut nt, 0, 0, 2 * P, extra).map(|b| b >= limit), Ok(true), "no limit, {extra:#x}");
    }
    assert_eq!(nt_reserve(&mut nt, 0, 12, P, MEM_TOP_DOWN), Ok(0x80000), "F47: the hole is under the limit");
}
