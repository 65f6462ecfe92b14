//! Range operations over huge reservations: `VirtualUnlock`, `GetWriteWatch`,
//! `ResetWriteWatch`, `MEM_RESET` and `MEM_RESET_UNDO` over 1 TiB, and `VirtualUnlock` over the
//! whole user range, give Windows' results and last errors (F41, F42, F104, F105, F108–F115).
//! Their cost follows what the range holds, not its length (issue 6, item 9): each of these
//! calls walked every page of its range before, which took seconds to minutes a call; now the
//! suite runs them in milliseconds. (How long they take is measured by `ntmem bench`,
//! `range_ops_1tib`, not asserted here.)
// Tests compute addresses on a 64-bit host; truncating casts cannot occur here.
#![allow(clippy::cast_possible_truncation)]

use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;

/// Page size (F1).
const P: u64 = 0x1000;
const TIB: u64 = 1 << 40;
/// One past the highest user address on x64 (F1).
const USER_END: u64 = 0x7FFF_FFFF_0000;
/// A value no call of ours sets, to see that a failing call does set the last error.
const STALE_ERROR: u32 = 0xDEAD;

fn boot() -> (System, ProcessId) {
    let mut sys = System::new(Config::default().with_ram_bytes(64 << 20).with_invariant_checks()).expect("boots");
    let pid = sys.create_process("test").expect("process is created");
    (sys, pid)
}

fn alloc(k: &mut Kernel32, addr: u64, size: u64, ty: u32, prot: u32) -> u64 {
    let p = k.VirtualAlloc(addr, size, ty, prot);
    assert_ne!(p, 0, "VirtualAlloc({addr:#x}, {size:#x}, {ty:#x}, {prot:#x}) failed, error {}", k.GetLastError());
    p
}

fn write(k: &mut Kernel32, addr: u64, data: &[u8]) {
    if let Err(e) = k.write(addr, data) {
        panic!("write at {addr:#x} raised {:#x}", e.code);
    }
}

fn read(k: &mut Kernel32, addr: u64) -> u8 {
    let mut b = [0u8];
    if let Err(e) = k.read(addr, &mut b) {
        panic!("read at {addr:#x} raised {:#x}", e.code);
    }
    b[0]
}

/// GetWriteWatch that must succeed: the addresses reported (F108: granularity one page).
fn watch(k: &mut Kernel32, flags: u32, base: u64, size: u64, cap: usize) -> Vec<u64> {
    let mut buf = vec![0u64; cap];
    let (mut count, mut granularity) = (cap, 0u32);
    let r = k.GetWriteWatch(flags, base, size, &mut buf, &mut count, &mut granularity);
    assert_eq!(r, 0, "GetWriteWatch({flags:#x}, {base:#x}, {size:#x}) failed, error {}", k.GetLastError());
    assert_eq!(granularity, 4096);
    buf.truncate(count);
    buf
}

/// Whether `addr`'s page is in the working set (QueryWorkingSetEx's Valid bit).
fn resident(k: &mut Kernel32, addr: u64) -> bool {
    let mut info = [PSAPI_WORKING_SET_EX_INFORMATION { VirtualAddress: addr as usize as *mut _, ..Default::default() }];
    let process = k.GetCurrentProcess();
    assert_ne!(k.QueryWorkingSetEx(process, &mut info), 0);
    working_set_ex_flags(&info[0]) & 1 != 0
}

/// A 1 TiB `MEM_WRITE_WATCH` reservation whose first and last pages are committed and written.
fn watched_tib(k: &mut Kernel32) -> (u64, u64) {
    let base = alloc(k, 0, TIB, MEM_RESERVE | MEM_WRITE_WATCH, PAGE_READWRITE);
    let last = base + TIB - P;
    for page in [base, last] {
        alloc(k, page, P, MEM_COMMIT, PAGE_READWRITE);
        write(k, page + 8, &[0x5A]);
    }
    (base, last)
}

/// F105 over 1 TiB: the unlock fails with ERROR_NOT_LOCKED and drops the range's resident
/// pages from the working set; a page locked elsewhere stays locked.
#[test]
fn failing_unlock_over_1_tib_fails_not_locked_and_trims_the_range_f105() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let (base, last) = watched_tib(&mut k);
    let other = alloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_ne!(k.VirtualLock(other, P), 0, "error {}", k.GetLastError());
    assert!(resident(&mut k, base) && resident(&mut k, last));
    k.SetLastError(STALE_ERROR);
    assert_eq!(k.VirtualUnlock(base, TIB), 0);
    assert_eq!(k.GetLastError(), ERROR_NOT_LOCKED);
    assert!(!resident(&mut k, base) && !resident(&mut k, last), "F105: the pages left the working set");
    assert_eq!((read(&mut k, base + 8), read(&mut k, last + 8)), (0x5A, 0x5A), "trimmed, not lost");
    assert_ne!(k.VirtualUnlock(other, P), 0, "the other page stayed locked: error {}", k.GetLastError());
}

/// F104, F105: an unlock whose first pages are locked fails at the first page that is not,
/// however far the range reaches; the whole user range fails likewise.
#[test]
fn unlock_of_locked_pages_then_a_huge_empty_range_fails_not_locked_f104_f105() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let (base, _) = watched_tib(&mut k);
    alloc(&mut k, base + P, P, MEM_COMMIT, PAGE_READWRITE);
    assert_ne!(k.VirtualLock(base, 2 * P), 0, "error {}", k.GetLastError());
    for (addr, size) in [(base, TIB), (base, 3 * P), (0x10000, USER_END - 0x10000)] {
        k.SetLastError(STALE_ERROR);
        assert_eq!(k.VirtualUnlock(addr, size), 0, "unlock {addr:#x} + {size:#x}");
        assert_eq!(k.GetLastError(), ERROR_NOT_LOCKED);
    }
    // F105 dropped locked pages? No: locked pages never leave the working set.
    assert!(resident(&mut k, base) && resident(&mut k, base + P));
    assert_ne!(k.VirtualUnlock(base, 2 * P), 0, "both pages are still locked: error {}", k.GetLastError());
    k.SetLastError(STALE_ERROR);
    assert_eq!(k.VirtualUnlock(base, 2 * P), 0, "F104: no lock count");
    assert_eq!(k.GetLastError(), ERROR_NOT_LOCKED);
}

/// F109–F114 over 1 TiB: both written pages are reported in order; with the reset flag and
/// room for one, only the first is reported and reset; ResetWriteWatch forgets the rest.
#[test]
fn write_watch_over_1_tib_reports_and_resets_the_written_pages_f109_f114() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let (base, last) = watched_tib(&mut k);
    assert_eq!(watch(&mut k, 0, base, TIB, 64), [base, last], "F109: ascending order");
    assert_eq!(watch(&mut k, WRITE_WATCH_FLAG_RESET, base, TIB, 1), [base], "F114: room for one");
    assert_eq!(watch(&mut k, 0, base, TIB, 64), [last], "F114: only the page reported was reset");
    assert_eq!(k.ResetWriteWatch(base, TIB), 0, "error {}", k.GetLastError());
    assert_eq!(watch(&mut k, 0, base, TIB, 64), [], "F112");
    write(&mut k, last, &[1]);
    assert_eq!(watch(&mut k, 0, base + P, TIB - P, 64), [last], "F111: a sub-range");
}

/// F115 and F62 over 1 TiB: a write captured by a protection change stays reported, and goes
/// with its page when an NT-level release splits the reservation.
#[test]
fn write_watch_marks_follow_their_pages_when_a_huge_reservation_splits_f62_f115() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let (base, last) = watched_tib(&mut k);
    let mut old = 0;
    assert_ne!(k.VirtualProtect(last, P, PAGE_READONLY, Some(&mut old)), 0, "error {}", k.GetLastError());
    let mut nt = Ntdll::new(&mut sys, pid);
    let (mut at, mut size) = (base + P, TIB / 2);
    assert_eq!(nt.NtFreeVirtualMemory(NtCurrentProcess(), &mut at, &mut size, MEM_RELEASE), STATUS_SUCCESS);
    let tail = base + P + TIB / 2;
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(watch(&mut k, 0, base, P, 64), [base], "the head keeps its page");
    assert_eq!(watch(&mut k, 0, tail, last + P - tail, 64), [last], "F115: the tail keeps its mark");
}

/// F41, F42 over 1 TiB: MEM_RESET and MEM_RESET_UNDO of the whole reservation return its base
/// and change nothing VirtualQuery shows; the written pages read their data or zero.
#[test]
fn reset_and_reset_undo_over_1_tib_keep_the_reservation_f41_f42() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let (base, last) = watched_tib(&mut k);
    assert_eq!(k.VirtualAlloc(base, TIB, MEM_RESET, PAGE_NOACCESS), base, "error {}", k.GetLastError());
    assert_eq!(k.VirtualAlloc(base, TIB, MEM_RESET_UNDO, PAGE_NOACCESS), base, "error {}", k.GetLastError());
    for page in [base, last] {
        assert!(matches!(read(&mut k, page + 8), 0x5A | 0), "F41: data or zero at {page:#x}");
        let mut mbi = MEMORY_BASIC_INFORMATION64::default();
        assert_ne!(k.VirtualQuery(page, &mut mbi), 0);
        assert_eq!((mbi.State, mbi.Protect, mbi.RegionSize), (MEM_COMMIT, PAGE_READWRITE, P), "F41 at {page:#x}");
    }
    let mut mbi = MEMORY_BASIC_INFORMATION64::default();
    assert_ne!(k.VirtualQuery(base + P, &mut mbi), 0);
    assert_eq!((mbi.State, mbi.RegionSize), (MEM_RESERVE, TIB - 2 * P), "F42: the reserved middle stays reserved");
}
