//! Scenario tests through `Kernel32` for the paging part (issue 3): working-set limits
//! (SetProcessWorkingSetSize(Ex) / GetProcessWorkingSetSize(Ex)), hard working-set maxima,
//! locked pages under memory pressure, QueryWorkingSetEx, EmptyWorkingSet, the commit figures
//! (GlobalMemoryStatusEx, GetPerformanceInfo, GetProcessMemoryInfo) with a growing page file,
//! and MEM_RESET under pressure (F41, V17).
//!
//! Where a test checks a rule of the Microsoft documentation, the page is named in a comment
//! (DOC:"<function> function"). Tests with few calls run with the core's invariant checker on
//! after every call; pressure tests (thousands of accesses) build the system without it and
//! run the checker themselves every few hundred accesses and at the end.

#![allow(non_snake_case)]
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;

const P: u64 = 0x1000;
const MIB: u64 = 1 << 20;

/// QueryWorkingSetEx flag bits (DOC:"PSAPI_WORKING_SET_EX_BLOCK union").
const WS_VALID: usize = 1;
const WS_SHARED: usize = 1 << 15;
const WS_LOCKED: usize = 1 << 22;
const WS_LARGE_PAGE: usize = 1 << 23;

fn ws_protection(flags: usize) -> u32 {
    ((flags >> 4) & 0x7FF) as u32
}

fn system(cfg: Config) -> System {
    System::new(cfg).unwrap()
}

/// 64 MiB, no page file, invariant checks on (the checker's cost grows with RAM).
fn small_checked() -> System {
    system(Config::default().with_ram_bytes(64 * MIB).with_invariant_checks())
}

fn new_process(sys: &mut System) -> ProcessId {
    sys.create_process("test").unwrap()
}

fn check(sys: &System) {
    if let Err(v) = sys.check_invariants() {
        panic!("invariant violated: {v}");
    }
}

fn ok(r: Result<(), Exception>, what: &str) {
    if let Err(e) = r {
        panic!(
            "{what}: unexpected exception {:#x} at {:#x} info [{}, {:#x}]",
            e.code, e.address, e.information[0], e.information[1]
        );
    }
}

fn counters(k: &mut Kernel32) -> PROCESS_MEMORY_COUNTERS_EX {
    let mut c = PROCESS_MEMORY_COUNTERS_EX::default();
    let h = k.GetCurrentProcess();
    assert_eq!(k.GetProcessMemoryInfo(h, &mut c), TRUE, "GetProcessMemoryInfo: error {}", k.GetLastError());
    c
}

fn working_set_bytes(k: &mut Kernel32) -> u64 {
    counters(k).WorkingSetSize as u64
}

fn memory_status(k: &mut Kernel32) -> MEMORYSTATUSEX {
    let mut m = MEMORYSTATUSEX { dwLength: std::mem::size_of::<MEMORYSTATUSEX>() as u32, ..Default::default() };
    assert_eq!(k.GlobalMemoryStatusEx(&mut m), TRUE, "GlobalMemoryStatusEx: error {}", k.GetLastError());
    m
}

fn performance(k: &mut Kernel32) -> PERFORMANCE_INFORMATION {
    let mut pi = PERFORMANCE_INFORMATION::default();
    let cb = std::mem::size_of::<PERFORMANCE_INFORMATION>() as u32;
    assert_eq!(k.GetPerformanceInfo(&mut pi, cb), TRUE, "GetPerformanceInfo: error {}", k.GetLastError());
    pi
}

fn limits(k: &mut Kernel32) -> (u64, u64, u32) {
    let (mut min, mut max, mut flags) = (0u64, 0u64, 0u32);
    let h = k.GetCurrentProcess();
    assert_eq!(
        k.GetProcessWorkingSetSizeEx(h, &mut min, &mut max, &mut flags),
        TRUE,
        "GetProcessWorkingSetSizeEx: error {}",
        k.GetLastError()
    );
    (min, max, flags)
}

/// The QueryWorkingSetEx flags of each address, in one call.
fn ws_flags_of(k: &mut Kernel32, addrs: &[u64]) -> Vec<usize> {
    let mut entries: Vec<PSAPI_WORKING_SET_EX_INFORMATION> = addrs
        .iter()
        .map(|&a| PSAPI_WORKING_SET_EX_INFORMATION {
            VirtualAddress: a as usize as *mut core::ffi::c_void,
            VirtualAttributes: PSAPI_WORKING_SET_EX_BLOCK { Flags: 0x5A5A },
        })
        .collect();
    let h = k.GetCurrentProcess();
    assert_eq!(k.QueryWorkingSetEx(h, &mut entries), TRUE, "QueryWorkingSetEx: error {}", k.GetLastError());
    for (e, &a) in entries.iter().zip(addrs) {
        assert_eq!(e.VirtualAddress as usize as u64, a, "QueryWorkingSetEx keeps VirtualAddress");
    }
    entries.iter().map(working_set_ex_flags).collect()
}

fn ws_flags(k: &mut Kernel32, addr: u64) -> usize {
    ws_flags_of(k, &[addr])[0]
}

fn commit(k: &mut Kernel32, size: u64) -> u64 {
    let p = k.VirtualAlloc(0, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0, "VirtualAlloc({size:#x}) failed: error {}", k.GetLastError());
    p
}

/// A page's worth of bytes that names the page and a version.
fn pattern(page: u64, version: u8) -> Vec<u8> {
    let mut v = vec![version ^ (page as u8); P as usize];
    v[..8].copy_from_slice(&page.to_le_bytes());
    v[8] = version;
    v
}

fn write_tag(k: &mut Kernel32, addr: u64, tag: u64) {
    ok(k.write(addr, &tag.to_le_bytes()), "write");
}

fn read_tag(k: &mut Kernel32, addr: u64) -> u64 {
    let mut b = [0u8; 8];
    ok(k.read(addr, &mut b), "read");
    u64::from_le_bytes(b)
}

/// Another process writes `bytes` of fresh memory (and reads it all back), pushing every
/// other process's trimmable pages out. The system should be built without per-call checks;
/// the checker runs every 512 accesses and at the end.
fn apply_pressure(sys: &mut System, pid: ProcessId, bytes: u64) {
    let mut k = Kernel32::new(sys, pid);
    let p = commit(&mut k, bytes);
    let pages = bytes / P;
    for i in 0..pages {
        write_tag(&mut k, p + i * P, i ^ 0xC0FFEE);
        if i % 512 == 0 {
            check(k.system());
        }
    }
    for i in 0..pages {
        assert_eq!(read_tag(&mut k, p + i * P), i ^ 0xC0FFEE, "pressure page {i}");
        if i % 512 == 0 {
            check(k.system());
        }
    }
    check(k.system());
}

// ---------------------------------------------------------------------------------------------
// 1. Working-set limits
// ---------------------------------------------------------------------------------------------

/// DOC:"SetProcessWorkingSetSizeEx function": the default minimum is 50 pages and the default
/// maximum 345 pages; the limits are not hard by default (GetProcessWorkingSetSizeEx reports
/// QUOTA_LIMITS_HARDWS_MIN_DISABLE | QUOTA_LIMITS_HARDWS_MAX_DISABLE).
#[test]
fn working_set_limits_default_to_50_and_345_soft_pages() {
    let mut sys = small_checked();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let (mut min, mut max) = (0u64, 0u64);
    let h = k.GetCurrentProcess();
    assert_eq!(k.GetProcessWorkingSetSize(h, &mut min, &mut max), TRUE);
    assert_eq!((min, max), (50 * P, 345 * P));
    let (min, max, flags) = limits(&mut k);
    assert_eq!((min, max), (50 * P, 345 * P));
    assert_eq!(flags, QUOTA_LIMITS_HARDWS_MIN_DISABLE | QUOTA_LIMITS_HARDWS_MAX_DISABLE);
}

#[test]
fn set_working_set_size_round_trips_through_get() {
    let mut sys = small_checked();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let h = k.GetCurrentProcess();
    assert_eq!(k.SetProcessWorkingSetSize(h, 100 * P, 500 * P), TRUE, "error {}", k.GetLastError());
    let (min, max, flags) = limits(&mut k);
    assert_eq!((min, max), (100 * P, 500 * P));
    assert_eq!(flags, QUOTA_LIMITS_HARDWS_MIN_DISABLE | QUOTA_LIMITS_HARDWS_MAX_DISABLE);
    assert_eq!(k.SetProcessWorkingSetSize(h, 30 * P, 60 * P), TRUE, "error {}", k.GetLastError());
    let (mut min, mut max) = (0u64, 0u64);
    assert_eq!(k.GetProcessWorkingSetSize(h, &mut min, &mut max), TRUE);
    assert_eq!((min, max), (30 * P, 60 * P));
}

/// DOC:"SetProcessWorkingSetSizeEx function": a minimum below 20 pages is raised to 20 pages.
#[test]
fn minimum_below_20_pages_reads_back_as_20_pages() {
    let mut sys = small_checked();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let h = k.GetCurrentProcess();
    assert_eq!(k.SetProcessWorkingSetSize(h, P, 100 * P), TRUE, "error {}", k.GetLastError());
    assert_eq!(limits(&mut k).0, 20 * P);
    assert_eq!(k.SetProcessWorkingSetSize(h, 19 * P, 100 * P), TRUE, "error {}", k.GetLastError());
    assert_eq!(limits(&mut k).0, 20 * P);
    assert_eq!(k.SetProcessWorkingSetSize(h, 21 * P, 100 * P), TRUE, "error {}", k.GetLastError());
    assert_eq!(limits(&mut k).0, 21 * P);
}

/// Checks that a failing Set leaves the limits as they were.
fn assert_set_fails_87(k: &mut Kernel32, min: u64, max: u64, flags: u32, what: &str) {
    let before = limits(k);
    let h = k.GetCurrentProcess();
    k.SetLastError(0);
    assert_eq!(k.SetProcessWorkingSetSizeEx(h, min, max, flags), FALSE, "{what}: accepted");
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER, "{what}");
    assert_eq!(limits(k), before, "{what}: limits changed");
}

/// DOC:"SetProcessWorkingSetSizeEx function": the minimum must be greater than zero and not
/// above the maximum; the maximum must be at least 13 pages; MIN_ENABLE and MIN_DISABLE (or
/// MAX_ENABLE and MAX_DISABLE) together are invalid; other flag bits are invalid.
#[test]
fn invalid_working_set_limits_fail_with_87_and_change_nothing() {
    let mut sys = small_checked();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    assert_set_fails_87(&mut k, 0, 100 * P, 0, "minimum 0");
    assert_set_fails_87(&mut k, 0, 345 * P, QUOTA_LIMITS_HARDWS_MIN_DISABLE, "minimum 0, Ex");
    assert_set_fails_87(&mut k, P, 12 * P, 0, "maximum 12 pages");
    assert_set_fails_87(&mut k, P, 0, 0, "maximum 0");
    assert_set_fails_87(&mut k, 200 * P, 100 * P, 0, "minimum above maximum");
    assert_set_fails_87(&mut k, 101 * P, 100 * P, 0, "minimum one page above maximum");
    assert_set_fails_87(
        &mut k,
        30 * P,
        100 * P,
        QUOTA_LIMITS_HARDWS_MIN_ENABLE | QUOTA_LIMITS_HARDWS_MIN_DISABLE,
        "MIN_ENABLE|MIN_DISABLE",
    );
    assert_set_fails_87(
        &mut k,
        30 * P,
        100 * P,
        QUOTA_LIMITS_HARDWS_MAX_ENABLE | QUOTA_LIMITS_HARDWS_MAX_DISABLE,
        "MAX_ENABLE|MAX_DISABLE",
    );
    assert_set_fails_87(&mut k, 30 * P, 100 * P, 0x10, "unknown flag 0x10");
    assert_set_fails_87(&mut k, 30 * P, 100 * P, 0x8000_0000, "unknown flag 0x80000000");
    // The same limits without the bad flags are fine.
    let h = k.GetCurrentProcess();
    assert_eq!(k.SetProcessWorkingSetSizeEx(h, 30 * P, 100 * P, 0), TRUE, "error {}", k.GetLastError());
    assert_eq!(k.SetProcessWorkingSetSizeEx(h, 100 * P, 100 * P, 0), TRUE, "min = max: error {}", k.GetLastError());
}

/// DOC:"SetProcessWorkingSetSizeEx function": both sizes (SIZE_T)-1 remove as many pages as
/// possible from the working set (the limits stay as they were).
#[test]
fn both_sizes_minus_one_empty_the_working_set() {
    let mut sys = small_checked();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = commit(&mut k, 64 * P);
    for i in 0..64 {
        write_tag(&mut k, p + i * P, i + 1);
    }
    let empty = working_set_bytes(&mut k);
    assert!(empty >= 64 * P, "64 touched pages are in the working set: {empty:#x}");
    let before = limits(&mut k);
    let h = k.GetCurrentProcess();
    assert_eq!(k.SetProcessWorkingSetSize(h, u64::MAX, u64::MAX), TRUE, "error {}", k.GetLastError());
    // Only the shared user data page (which cannot be trimmed) stays.
    assert_eq!(working_set_bytes(&mut k), P);
    assert_eq!(limits(&mut k), before, "emptying keeps the limits");
    let flags = ws_flags_of(&mut k, &(0..64).map(|i| p + i * P).collect::<Vec<_>>());
    assert!(flags.iter().all(|f| f & WS_VALID == 0), "every page trimmed: {flags:x?}");
    for i in 0..64 {
        assert_eq!(read_tag(&mut k, p + i * P), i + 1, "page {i}");
    }
    // The same through the Ex form.
    assert_eq!(k.SetProcessWorkingSetSizeEx(h, u64::MAX, u64::MAX, 0), TRUE, "error {}", k.GetLastError());
    assert_eq!(working_set_bytes(&mut k), P);
}

/// DOC:"SetProcessWorkingSetSize function": the handle must have PROCESS_SET_QUOTA.
/// DOC:"GetProcessWorkingSetSize function": PROCESS_QUERY_INFORMATION or
/// PROCESS_QUERY_LIMITED_INFORMATION is enough to read them.
#[test]
fn setting_limits_needs_process_set_quota() {
    let mut sys = small_checked();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let me = k.GetCurrentProcessId();
    let h = k.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ, FALSE, me);
    assert!(!h.is_null(), "OpenProcess: error {}", k.GetLastError());
    k.SetLastError(0);
    assert_eq!(k.SetProcessWorkingSetSize(h, 100 * P, 500 * P), FALSE);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    k.SetLastError(0);
    assert_eq!(k.SetProcessWorkingSetSizeEx(h, 100 * P, 500 * P, QUOTA_LIMITS_HARDWS_MAX_ENABLE), FALSE);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    let (mut min, mut max, mut flags) = (0, 0, 0);
    assert_eq!(k.GetProcessWorkingSetSizeEx(h, &mut min, &mut max, &mut flags), TRUE, "error {}", k.GetLastError());
    assert_eq!((min, max), (50 * P, 345 * P), "the failed calls changed nothing");
    assert_eq!(k.CloseHandle(h), TRUE);

    let h = k.OpenProcess(PROCESS_SET_QUOTA | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, me);
    assert!(!h.is_null(), "OpenProcess: error {}", k.GetLastError());
    assert_eq!(k.SetProcessWorkingSetSize(h, 100 * P, 500 * P), TRUE, "error {}", k.GetLastError());
    assert_eq!(k.CloseHandle(h), TRUE);
    assert_eq!(limits(&mut k).0, 100 * P);
}

/// DOC:"GetProcessWorkingSetSize function": the handle must have PROCESS_QUERY_INFORMATION or
/// PROCESS_QUERY_LIMITED_INFORMATION (a PROCESS_QUERY_INFORMATION handle is granted the limited
/// right automatically, DOC:"Process Security and Access Rights").
#[test]
fn get_working_set_size_accepts_a_query_information_handle() {
    let mut sys = small_checked();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let me = k.GetCurrentProcessId();
    let h = k.OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, me);
    assert!(!h.is_null(), "OpenProcess: error {}", k.GetLastError());
    let (mut min, mut max) = (0, 0);
    k.SetLastError(0);
    assert_eq!(k.GetProcessWorkingSetSize(h, &mut min, &mut max), TRUE, "error {}", k.GetLastError());
    assert_eq!((min, max), (50 * P, 345 * P));
    let h2 = k.OpenProcess(PROCESS_VM_READ, FALSE, me);
    assert!(!h2.is_null());
    k.SetLastError(0);
    assert_eq!(k.GetProcessWorkingSetSize(h2, &mut min, &mut max), FALSE, "no query right");
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
}

/// DOC:"SetProcessWorkingSetSizeEx function" / "GetProcessWorkingSetSizeEx function": the
/// hard-limit flags set are the ones reported.
#[test]
fn hard_limit_flags_are_reported_back() {
    let mut sys = small_checked();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let h = k.GetCurrentProcess();
    assert_eq!(k.SetProcessWorkingSetSizeEx(h, 20 * P, 40 * P, QUOTA_LIMITS_HARDWS_MAX_ENABLE), TRUE);
    assert_eq!(limits(&mut k), (20 * P, 40 * P, QUOTA_LIMITS_HARDWS_MIN_DISABLE | QUOTA_LIMITS_HARDWS_MAX_ENABLE));
    assert_eq!(
        k.SetProcessWorkingSetSizeEx(
            h,
            30 * P,
            60 * P,
            QUOTA_LIMITS_HARDWS_MIN_ENABLE | QUOTA_LIMITS_HARDWS_MAX_ENABLE
        ),
        TRUE
    );
    assert_eq!(limits(&mut k), (30 * P, 60 * P, QUOTA_LIMITS_HARDWS_MIN_ENABLE | QUOTA_LIMITS_HARDWS_MAX_ENABLE));
    assert_eq!(
        k.SetProcessWorkingSetSizeEx(
            h,
            30 * P,
            60 * P,
            QUOTA_LIMITS_HARDWS_MIN_DISABLE | QUOTA_LIMITS_HARDWS_MAX_DISABLE
        ),
        TRUE
    );
    assert_eq!(limits(&mut k), (30 * P, 60 * P, QUOTA_LIMITS_HARDWS_MIN_DISABLE | QUOTA_LIMITS_HARDWS_MAX_DISABLE));
}

// ---------------------------------------------------------------------------------------------
// 2. A hard maximum is never exceeded
// ---------------------------------------------------------------------------------------------

/// DOC:"SetProcessWorkingSetSizeEx function", QUOTA_LIMITS_HARDWS_MAX_ENABLE: "The working set
/// will not exceed the maximum working set limit". WorkingSetSize counts the shared user data
/// page, and so does the limit (issue 6 item 4).
#[test]
fn hard_working_set_maximum_is_never_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::default()
        .with_ram_bytes(16 * MIB)
        .with_page_file(dir.path().join("pagefile.sys"), 8 * MIB, 32 * MIB)
        .with_invariant_checks();
    let mut sys = system(cfg);
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let h = k.GetCurrentProcess();
    assert_eq!(
        k.SetProcessWorkingSetSizeEx(h, 20 * P, 40 * P, QUOTA_LIMITS_HARDWS_MAX_ENABLE),
        TRUE,
        "error {}",
        k.GetLastError()
    );
    let cap = 40 * P;
    let pages = 400;
    let p = commit(&mut k, pages * P);
    for i in 0..pages {
        write_tag(&mut k, p + i * P, i * 7 + 1);
        let ws = working_set_bytes(&mut k);
        assert!(ws <= cap, "after writing page {i}: WorkingSetSize {} pages", ws / P);
        assert!(ws >= 2 * P, "the page just written is resident");
    }
    assert_eq!(working_set_bytes(&mut k), cap, "a full working set at its hard maximum");
    for i in 0..pages {
        assert_eq!(read_tag(&mut k, p + i * P), i * 7 + 1, "page {i}");
        let ws = working_set_bytes(&mut k);
        assert!(ws <= cap, "after reading page {i}: WorkingSetSize {} pages", ws / P);
    }
    let c = counters(&mut k);
    assert!(u64::from(c.PageFaultCount) >= 2 * pages - 40, "pages come back by faulting: {}", c.PageFaultCount);
    // Not even for a moment: the page trimmed to make room goes before the new one counts.
    assert!(
        c.PeakWorkingSetSize as u64 <= cap,
        "PeakWorkingSetSize {} pages above the hard maximum",
        c.PeakWorkingSetSize as u64 / P
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Locked pages keep their frame
// ---------------------------------------------------------------------------------------------

/// DOC:"VirtualLock function": locked pages stay in physical memory (here: the same frame)
/// whatever the pressure; EmptyWorkingSet trims everything else.
#[test]
fn locked_pages_keep_their_frame_under_pressure() {
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        Config::default().with_ram_bytes(16 * MIB).with_page_file(dir.path().join("pagefile.sys"), 32 * MIB, 64 * MIB);
    let mut sys = system(cfg);
    let locker = new_process(&mut sys);
    let hog = new_process(&mut sys);
    let total = 32;
    let locked = 16;
    let (p, frames) = {
        let mut k = Kernel32::new(&mut sys, locker);
        let p = commit(&mut k, total * P);
        for i in 0..total {
            write_tag(&mut k, p + i * P, 0xAB00 + i);
        }
        assert_eq!(k.VirtualLock(p, locked * P), TRUE, "VirtualLock: error {}", k.GetLastError());
        let frames: Vec<u64> = (0..locked).map(|i| k.MmGetPhysicalAddress(p + i * P)).collect();
        assert!(frames.iter().all(|&f| f != 0), "locked pages are resident: {frames:x?}");
        check(k.system());
        (p, frames)
    };
    let before = sys.stats();
    apply_pressure(&mut sys, hog, 32 * MIB);
    let after = sys.stats();
    assert!(
        after.pages_written > before.pages_written && after.hard_faults > before.hard_faults,
        "pressure: {after:?}"
    );
    let mut k = Kernel32::new(&mut sys, locker);
    let h = k.GetCurrentProcess();
    assert_eq!(k.EmptyWorkingSet(h), TRUE, "EmptyWorkingSet: error {}", k.GetLastError());
    check(k.system());
    let now: Vec<u64> = (0..locked).map(|i| k.MmGetPhysicalAddress(p + i * P)).collect();
    assert_eq!(now, frames, "locked pages moved");
    let flags = ws_flags_of(&mut k, &(0..total).map(|i| p + i * P).collect::<Vec<_>>());
    for (i, f) in flags.iter().enumerate() {
        if (i as u64) < locked {
            assert_eq!(f & (WS_VALID | WS_LOCKED), WS_VALID | WS_LOCKED, "locked page {i}: {f:#x}");
            assert_eq!(ws_protection(*f), PAGE_READWRITE, "locked page {i}: {f:#x}");
        } else {
            assert_eq!(f & WS_VALID, 0, "unlocked page {i} still in the working set: {f:#x}");
            assert_eq!(k.MmGetPhysicalAddress(p + i as u64 * P), 0, "unlocked page {i} still mapped");
        }
    }
    // What is left: the locked pages and the shared user data page.
    assert_eq!(working_set_bytes(&mut k), (locked + 1) * P);
    for i in 0..total {
        assert_eq!(read_tag(&mut k, p + i * P), 0xAB00 + i, "page {i}");
    }
    check(k.system());
}

// ---------------------------------------------------------------------------------------------
// 4. QueryWorkingSetEx
// ---------------------------------------------------------------------------------------------

/// DOC:"PSAPI_WORKING_SET_EX_BLOCK union": Valid, Win32Protection, Shared, Locked, LargePage;
/// a page not in the working set reports Valid = 0.
#[test]
fn query_working_set_ex_describes_each_page() {
    let mut sys = small_checked();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = commit(&mut k, 4 * P);
    let ro = k.VirtualAlloc(0, P, MEM_COMMIT | MEM_RESERVE, PAGE_READONLY);
    assert_ne!(ro, 0);
    write_tag(&mut k, p, 1);
    let mut b = [0u8; 1];
    ok(k.read(ro, &mut b), "read read-only page");
    let f = ws_flags_of(&mut k, &[p, p + P, 0x7FFE_0000, ro]);

    // A touched private read-write page.
    assert_eq!(f[0] & WS_VALID, WS_VALID, "touched page: {:#x}", f[0]);
    assert_eq!(ws_protection(f[0]), PAGE_READWRITE, "touched page: {:#x}", f[0]);
    assert_eq!(f[0] & (WS_SHARED | WS_LOCKED | WS_LARGE_PAGE), 0, "touched page: {:#x}", f[0]);
    // An untouched committed page is not in the working set.
    assert_eq!(f[1], 0, "untouched page: {:#x}", f[1]);
    // The shared user data page (F6): valid, shared, read-only.
    assert_eq!(f[2] & (WS_VALID | WS_SHARED), WS_VALID | WS_SHARED, "shared user data: {:#x}", f[2]);
    assert_eq!(ws_protection(f[2]), PAGE_READONLY, "shared user data: {:#x}", f[2]);
    assert_eq!(f[2] & (WS_LOCKED | WS_LARGE_PAGE), 0, "shared user data: {:#x}", f[2]);
    // A read page of a read-only allocation.
    assert_eq!(f[3] & WS_VALID, WS_VALID, "read-only page: {:#x}", f[3]);
    assert_eq!(ws_protection(f[3]), PAGE_READONLY, "read-only page: {:#x}", f[3]);
    assert_eq!(f[3] & (WS_SHARED | WS_LOCKED), 0, "read-only page: {:#x}", f[3]);

    // A trimmed page.
    let h = k.GetCurrentProcess();
    assert_eq!(k.EmptyWorkingSet(h), TRUE);
    let f = ws_flags_of(&mut k, &[p, 0x7FFE_0000]);
    assert_eq!(f[0] & WS_VALID, 0, "trimmed page: {:#x}", f[0]);
    assert_eq!(f[1] & (WS_VALID | WS_SHARED), WS_VALID | WS_SHARED, "shared user data stays: {:#x}", f[1]);
    // A page whose protection changed reports the new one once touched again.
    let mut old = 0;
    assert_eq!(k.VirtualProtect(p, P, PAGE_READONLY, Some(&mut old)), TRUE, "error {}", k.GetLastError());
    assert_eq!(old, PAGE_READWRITE);
    assert_eq!(read_tag(&mut k, p), 1);
    let f = ws_flags(&mut k, p);
    assert_eq!(f & WS_VALID, WS_VALID, "touched again: {f:#x}");
    assert_eq!(ws_protection(f), PAGE_READONLY, "after VirtualProtect: {f:#x}");
    // A locked page.
    assert_eq!(k.VirtualLock(p + 2 * P, P), TRUE, "VirtualLock: error {}", k.GetLastError());
    let f = ws_flags(&mut k, p + 2 * P);
    assert_eq!(f & (WS_VALID | WS_LOCKED), WS_VALID | WS_LOCKED, "locked page: {f:#x}");
    assert_eq!(ws_protection(f), PAGE_READWRITE, "locked page: {f:#x}");
    // An address that is not even reserved.
    assert_eq!(ws_flags(&mut k, 0x1000_0000), 0);
}

// ---------------------------------------------------------------------------------------------
// 5. EmptyWorkingSet and VirtualUnlock
// ---------------------------------------------------------------------------------------------

/// DOC:"EmptyWorkingSet function": removes as many pages as possible from the working set.
/// DOC:"GetProcessMemoryInfo" / "PROCESS_MEMORY_COUNTERS": PageFaultCount counts every page
/// fault, soft ones included.
#[test]
fn empty_working_set_trims_and_touching_again_soft_faults() {
    let mut sys = small_checked();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let n = 64;
    let p = commit(&mut k, n * P);
    for i in 0..n {
        write_tag(&mut k, p + i * P, 0x5000 + i);
    }
    let c0 = counters(&mut k);
    assert_eq!(c0.WorkingSetSize as u64, (n + 1) * P, "64 pages and the shared user data page");
    let h = k.GetCurrentProcess();
    assert_eq!(k.EmptyWorkingSet(h), TRUE, "error {}", k.GetLastError());
    let c1 = counters(&mut k);
    assert_eq!(c1.WorkingSetSize as u64, P, "only the untrimmable shared user data page stays");
    assert_eq!(c1.PageFaultCount, c0.PageFaultCount, "emptying is not a fault");
    assert_eq!(c1.PeakWorkingSetSize, c0.PeakWorkingSetSize, "the peak stays");
    let s0 = k.system().stats();
    for i in 0..n {
        assert_eq!(read_tag(&mut k, p + i * P), 0x5000 + i, "page {i}");
    }
    let s1 = k.system().stats();
    let c2 = counters(&mut k);
    assert_eq!(s1.soft_faults - s0.soft_faults, n, "each page comes back with a soft fault");
    assert_eq!(s1.hard_faults, s0.hard_faults, "no I/O: the frames were still in memory");
    assert_eq!(u64::from(c2.PageFaultCount - c1.PageFaultCount), n, "PageFaultCount counts soft faults");
    assert_eq!(c2.WorkingSetSize as u64, (n + 1) * P);
}

/// F105, DOC:"VirtualUnlock function": unlocking pages that are not locked fails with
/// ERROR_NOT_LOCKED and removes them from the working set.
#[test]
fn virtual_unlock_of_unlocked_pages_fails_and_drops_them_from_the_working_set() {
    let mut sys = small_checked();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = commit(&mut k, 8 * P);
    for i in 0..8 {
        write_tag(&mut k, p + i * P, 0x7700 + i);
    }
    let ws0 = working_set_bytes(&mut k);
    assert_eq!(ws0, 9 * P);
    k.SetLastError(0);
    assert_eq!(k.VirtualUnlock(p, 4 * P), FALSE);
    assert_eq!(k.GetLastError(), ERROR_NOT_LOCKED);
    assert_eq!(ERROR_NOT_LOCKED, 158);
    assert_eq!(working_set_bytes(&mut k), ws0 - 4 * P, "the four pages left the working set");
    let f = ws_flags_of(&mut k, &(0..8).map(|i| p + i * P).collect::<Vec<_>>());
    for (i, f) in f.iter().enumerate() {
        let expect = if i < 4 { 0 } else { WS_VALID };
        assert_eq!(f & WS_VALID, expect, "page {i}: {f:#x}");
    }
    // The region itself is untouched, and the data comes back.
    let mut mbi = MEMORY_BASIC_INFORMATION64::default();
    assert_ne!(k.VirtualQuery(p, &mut mbi), 0);
    assert_eq!((mbi.State, mbi.Protect, mbi.RegionSize), (MEM_COMMIT, PAGE_READWRITE, 8 * P));
    for i in 0..8 {
        assert_eq!(read_tag(&mut k, p + i * P), 0x7700 + i, "page {i}");
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Figures
// ---------------------------------------------------------------------------------------------

const RAM_PAGES: u64 = 4096; // 16 MiB
const PF_INITIAL_PAGES: u64 = 2048; // 8 MiB
const PF_MAXIMUM_PAGES: u64 = 6144; // 24 MiB

/// The commit limit for a page file of `pf_pages`: the RAM without the firmware's frame 0,
/// plus the page file without its slot 0 (never used for a page, as in Windows' paging files).
fn commit_limit_pages(pf_pages: u64) -> u64 {
    RAM_PAGES - 1 + pf_pages - 1
}

fn figures_system(dir: &tempfile::TempDir) -> System {
    let cfg = Config::default()
        .with_ram_bytes(RAM_PAGES * P)
        .with_page_file(dir.path().join("pagefile.sys"), PF_INITIAL_PAGES * P, PF_MAXIMUM_PAGES * P)
        .with_invariant_checks();
    system(cfg)
}

/// DOC:"MEMORYSTATUSEX structure": ullTotalPageFile is the current committed memory limit
/// (physical memory plus the page file), ullAvailPageFile what is left of it.
#[test]
fn total_page_file_is_the_commit_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = figures_system(&dir);
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let m = memory_status(&mut k);
    let s = k.system().stats();
    assert_eq!(m.ullTotalPhys, RAM_PAGES * P);
    assert_eq!(m.ullTotalPageFile, commit_limit_pages(PF_INITIAL_PAGES) * P);
    assert_eq!(m.ullTotalPageFile, s.commit_limit * P);
    assert_eq!(m.ullAvailPageFile, (s.commit_limit - s.commit_total) * P);
    assert!(m.ullAvailPageFile < m.ullTotalPageFile, "the system itself is charged");
}

/// Committing beyond RAM + the page file's initial size grows the page file toward its
/// maximum (ullTotalPageFile rises); beyond the maximum, ERROR_COMMITMENT_LIMIT.
#[test]
fn commit_beyond_the_initial_page_file_grows_it_up_to_its_maximum() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = figures_system(&dir);
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let m0 = memory_status(&mut k);
    // One allocation that does not fit under the initial limit.
    let first = m0.ullAvailPageFile + MIB;
    let p = k.VirtualAlloc(0, first, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0, "commit beyond the initial limit: error {}", k.GetLastError());
    let m1 = memory_status(&mut k);
    assert!(m1.ullTotalPageFile > m0.ullTotalPageFile, "the page file grew");
    assert!(m1.ullTotalPageFile - m0.ullTotalPageFile >= MIB, "by what the commit needed at least");
    assert!(m1.ullTotalPageFile <= commit_limit_pages(PF_MAXIMUM_PAGES) * P);
    assert_eq!(m1.ullTotalPageFile - m1.ullAvailPageFile, k.system().stats().commit_total * P);
    assert!(k.system().page_files().capacity() > PF_INITIAL_PAGES - 1);

    // Keep committing 1 MiB at a time until the maximum stops it.
    let mut last = m1;
    let mut failed = None;
    for round in 0..64 {
        let q = k.VirtualAlloc(0, MIB, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
        let m = memory_status(&mut k);
        if q == 0 {
            failed = Some((round, k.GetLastError()));
            assert_eq!(m.ullTotalPageFile, last.ullTotalPageFile, "a failed commit changes nothing");
            assert_eq!(m.ullAvailPageFile, last.ullAvailPageFile, "a failed commit changes nothing");
            break;
        }
        assert!(m.ullTotalPageFile >= last.ullTotalPageFile, "the limit never shrinks");
        last = m;
    }
    let (round, error) = failed.expect("commit stops at the page file's maximum");
    assert!(round > 0, "some 1 MiB commits fit after the first growth");
    assert_eq!(error, ERROR_COMMITMENT_LIMIT);
    assert_eq!(last.ullTotalPageFile, commit_limit_pages(PF_MAXIMUM_PAGES) * P, "grown to its maximum");
    assert!(last.ullAvailPageFile < MIB);
}

/// A commit that cannot fit even at the page file's maximum fails with
/// ERROR_COMMITMENT_LIMIT (1455) and changes nothing: no region, no charge, no growth.
#[test]
fn commit_beyond_the_maximum_fails_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = figures_system(&dir);
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let m0 = memory_status(&mut k);
    let c0 = counters(&mut k);
    let s0 = k.system().stats();
    k.SetLastError(0);
    let too_big = commit_limit_pages(PF_MAXIMUM_PAGES) * P + MIB;
    assert_eq!(k.VirtualAlloc(0, too_big, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE), 0);
    assert_eq!(k.GetLastError(), ERROR_COMMITMENT_LIMIT);
    assert_eq!(ERROR_COMMITMENT_LIMIT, 1455);
    let m1 = memory_status(&mut k);
    let c1 = counters(&mut k);
    let s1 = k.system().stats();
    assert_eq!(s1.commit_total, s0.commit_total, "no charge");
    assert_eq!(c1.PagefileUsage, c0.PagefileUsage, "no private commit");
    assert_eq!(m1.ullTotalPageFile - m1.ullAvailPageFile, m0.ullTotalPageFile - m0.ullAvailPageFile, "no charge");
    // A reservation of the same size needs no commit.
    let r = k.VirtualAlloc(0, too_big, MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(r, 0, "reserve: error {}", k.GetLastError());
    // Committing part of it that fits works.
    assert_eq!(k.VirtualAlloc(r, MIB, MEM_COMMIT, PAGE_READWRITE), r, "error {}", k.GetLastError());
    // Committing all of it does not, and leaves the first MiB committed, the rest reserved.
    k.SetLastError(0);
    assert_eq!(k.VirtualAlloc(r, too_big, MEM_COMMIT, PAGE_READWRITE), 0);
    assert_eq!(k.GetLastError(), ERROR_COMMITMENT_LIMIT);
    let mut mbi = MEMORY_BASIC_INFORMATION64::default();
    assert_ne!(k.VirtualQuery(r, &mut mbi), 0);
    assert_eq!((mbi.State, mbi.RegionSize), (MEM_COMMIT, MIB));
    assert_ne!(k.VirtualQuery(r + MIB, &mut mbi), 0);
    assert_eq!((mbi.State, mbi.RegionSize), (MEM_RESERVE, too_big - MIB));
    // Last, as it is the one that fails now: the failed commit did not grow the page file
    // (Windows does not extend paging files for a charge the maxima cannot satisfy).
    assert_eq!(m1.ullTotalPageFile, m0.ullTotalPageFile, "the page file grew for a commit that failed");
    assert_eq!(m1.ullAvailPageFile, m0.ullAvailPageFile, "the page file grew for a commit that failed");
    assert_eq!(s1.page_file_capacity, s0.page_file_capacity, "the page file grew for a commit that failed");
}

/// DOC:"GetPerformanceInfo function": cb must be the structure's size, else
/// ERROR_BAD_LENGTH; the figures are in pages and agree with GlobalMemoryStatusEx.
#[test]
fn performance_info_agrees_with_global_memory_status() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = figures_system(&dir);
    let pid = new_process(&mut sys);
    let other = new_process(&mut sys);
    let _third = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let size = std::mem::size_of::<PERFORMANCE_INFORMATION>() as u32;
    let mut pi = PERFORMANCE_INFORMATION::default();
    k.SetLastError(0);
    assert_eq!(k.GetPerformanceInfo(&mut pi, size - 1), FALSE);
    assert_eq!(k.GetLastError(), ERROR_BAD_LENGTH);
    assert_eq!(ERROR_BAD_LENGTH, 24);
    k.SetLastError(0);
    assert_eq!(k.GetPerformanceInfo(&mut pi, 0), FALSE);
    assert_eq!(k.GetLastError(), ERROR_BAD_LENGTH);

    let p = commit(&mut k, 100 * P);
    for i in 0..10 {
        write_tag(&mut k, p + i * P, i);
    }
    let pi = performance(&mut k);
    let m = memory_status(&mut k);
    assert_eq!(pi.cb, size);
    assert_eq!(pi.PageSize, 4096);
    assert_eq!(pi.CommitTotal as u64 * P, m.ullTotalPageFile - m.ullAvailPageFile);
    assert_eq!(pi.CommitLimit as u64 * P, m.ullTotalPageFile);
    assert!(pi.CommitPeak >= pi.CommitTotal);
    assert_eq!(pi.PhysicalTotal as u64 * P, m.ullTotalPhys);
    assert_eq!(pi.PhysicalAvailable as u64 * P, m.ullAvailPhys);
    assert!(pi.PhysicalAvailable < pi.PhysicalTotal);
    assert!(pi.SystemCache <= pi.PhysicalAvailable, "standby pages are available");
    assert_eq!(pi.ProcessCount, 3);

    // Commit shows in CommitTotal.
    let q = commit(&mut k, 200 * P);
    let pi2 = performance(&mut k);
    assert!(pi2.CommitTotal >= pi.CommitTotal + 200, "{} -> {}", pi.CommitTotal, pi2.CommitTotal);
    assert!(pi2.CommitPeak >= pi2.CommitTotal);
    assert_eq!(k.VirtualFree(q, 0, MEM_RELEASE), TRUE);
    let pi3 = performance(&mut k);
    assert!(pi3.CommitTotal + 200 <= pi2.CommitTotal, "release gives the charge back");
    assert_eq!(pi3.CommitPeak, pi2.CommitPeak, "the peak stays");

    // A terminated process is not counted.
    let h = k.OpenProcess(PROCESS_TERMINATE, FALSE, u32::from(other));
    assert!(!h.is_null());
    assert_eq!(k.TerminateProcess(h, 0), TRUE);
    assert_eq!(k.CloseHandle(h), TRUE);
    assert_eq!(performance(&mut k).ProcessCount, 2);
}

/// DOC:"PROCESS_MEMORY_COUNTERS_EX structure": PagefileUsage (= PrivateUsage) is the private
/// commit charge; PeakPagefileUsage its highest value.
#[test]
fn pagefile_usage_follows_commit_and_decommit() {
    let dir = tempfile::tempdir().unwrap();
    let mut sys = figures_system(&dir);
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let c0 = counters(&mut k);
    let base = c0.PagefileUsage as u64;
    let r = k.VirtualAlloc(0, MIB, MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(r, 0);
    assert_eq!(counters(&mut k).PagefileUsage as u64, base, "a reservation is not commit");
    assert_eq!(k.VirtualAlloc(r, 100 * P, MEM_COMMIT, PAGE_READWRITE), r);
    let c1 = counters(&mut k);
    assert_eq!(c1.PagefileUsage as u64, base + 100 * P);
    assert_eq!(c1.PrivateUsage, c1.PagefileUsage);
    assert_eq!(c1.PeakPagefileUsage as u64, base + 100 * P);
    // Touching does not change the charge.
    for i in 0..100 {
        write_tag(&mut k, r + i * P, i);
    }
    assert_eq!(counters(&mut k).PagefileUsage as u64, base + 100 * P);
    assert_eq!(k.VirtualFree(r + 60 * P, 40 * P, MEM_DECOMMIT), TRUE);
    let c2 = counters(&mut k);
    assert_eq!(c2.PagefileUsage as u64, base + 60 * P);
    assert_eq!(c2.PrivateUsage, c2.PagefileUsage);
    assert_eq!(c2.PeakPagefileUsage as u64, base + 100 * P, "the peak stays");
    // Committing an already committed page charges nothing.
    assert_eq!(k.VirtualAlloc(r, 10 * P, MEM_COMMIT, PAGE_READWRITE), r);
    assert_eq!(counters(&mut k).PagefileUsage as u64, base + 60 * P);
    assert_eq!(k.VirtualFree(r, 0, MEM_RELEASE), TRUE);
    let c3 = counters(&mut k);
    assert_eq!(c3.PagefileUsage as u64, base);
    assert_eq!(c3.PeakPagefileUsage as u64, base + 100 * P);
    let m = memory_status(&mut k);
    assert_eq!(m.ullTotalPageFile - m.ullAvailPageFile, k.system().stats().commit_total * P);
}

// ---------------------------------------------------------------------------------------------
// 7. MEM_RESET under pressure
// ---------------------------------------------------------------------------------------------

/// F41 / V17, DOC:"VirtualAlloc function" (MEM_RESET): the data of a reset page is either
/// kept or zero; pages written after the reset keep what was written.
#[test]
fn reset_pages_read_old_data_or_zero_and_later_writes_survive_pressure() {
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        Config::default().with_ram_bytes(16 * MIB).with_page_file(dir.path().join("pagefile.sys"), 32 * MIB, 64 * MIB);
    let mut sys = system(cfg);
    let owner = new_process(&mut sys);
    let hog = new_process(&mut sys);
    let n = 512;
    let p = {
        let mut k = Kernel32::new(&mut sys, owner);
        let p = commit(&mut k, n * P);
        for i in 0..n {
            ok(k.write(p + i * P, &pattern(i, 1)), "first write");
        }
        // Trimmed and pushed out by pressure, then the second half written again: the reset
        // finds pages resident, on the standby/modified lists, and on disk.
        let h = k.GetCurrentProcess();
        assert_eq!(k.EmptyWorkingSet(h), TRUE);
        check(k.system());
        p
    };
    apply_pressure(&mut sys, hog, 8 * MIB);
    {
        let mut k = Kernel32::new(&mut sys, owner);
        for i in n / 2..n {
            ok(k.write(p + i * P, &pattern(i, 1)), "rewrite");
        }
        // F41: MEM_RESET returns the address; flProtect is ignored but must be valid.
        assert_eq!(k.VirtualAlloc(p, n * P, MEM_RESET, PAGE_NOACCESS), p, "MEM_RESET: error {}", k.GetLastError());
        let mut mbi = MEMORY_BASIC_INFORMATION64::default();
        assert_ne!(k.VirtualQuery(p, &mut mbi), 0);
        assert_eq!(
            (mbi.State, mbi.Protect, mbi.RegionSize, mbi.Type),
            (MEM_COMMIT, PAGE_READWRITE, n * P, MEM_PRIVATE)
        );
        // Every third page is written again after the reset.
        for i in (0..n).step_by(3) {
            ok(k.write(p + i * P, &pattern(i, 2)), "write after reset");
        }
        let h = k.GetCurrentProcess();
        assert_eq!(k.EmptyWorkingSet(h), TRUE);
        check(k.system());
    }
    apply_pressure(&mut sys, hog, 32 * MIB);
    let mut k = Kernel32::new(&mut sys, owner);
    let zero = vec![0u8; P as usize];
    let (mut kept, mut zeroed) = (0, 0);
    for i in 0..n {
        let mut b = vec![0u8; P as usize];
        ok(k.read(p + i * P, &mut b), "read back");
        if i % 3 == 0 {
            assert!(b == pattern(i, 2), "page {i} written after the reset lost its data");
        } else if b == pattern(i, 1) {
            kept += 1;
        } else {
            assert!(b == zero, "reset page {i} is neither its old data nor zero: {:?}", &b[..16]);
            zeroed += 1;
        }
        if i % 128 == 0 {
            check(k.system());
        }
    }
    check(k.system());
    let mut mbi = MEMORY_BASIC_INFORMATION64::default();
    assert_ne!(k.VirtualQuery(p, &mut mbi), 0);
    assert_eq!((mbi.State, mbi.Protect, mbi.RegionSize), (MEM_COMMIT, PAGE_READWRITE, n * P));
    eprintln!("MEM_RESET under pressure: {kept} reset pages kept their data, {zeroed} read zero");
    assert!(k.system().stats().hard_faults > 0, "the pressure pushed pages to the page file");
}

/// ShareCount's bits (3..1).
const WS_SHARE_COUNT: usize = 0b1110;

/// Wine's `dlls/psapi/tests/psapi_main.c` `test_QueryWorkingSetEx`, step by step (F203).
#[test]
fn query_working_set_ex_marks_section_pages_shared_even_when_not_valid_f203() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f203.dll");
    std::fs::write(&path, ntmem::pe::PeBuilder::dll(0x1_8000_0000).build().unwrap().bytes()).unwrap();
    let mut sys = small_checked();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let mut byte = [0u8; 1];
    let mut old = 0;

    // An image page: valid and shared once read; shared, not valid, while no-access and after.
    let file = k.CreateFileW(path.to_str().unwrap(), GENERIC_READ | GENERIC_EXECUTE, FILE_SHARE_READ, OPEN_EXISTING, 0);
    assert_ne!(file, INVALID_HANDLE_VALUE);
    let image = k.CreateFileMappingW(file, None, SEC_IMAGE | PAGE_READONLY, 0, 0, None);
    let exe = k.MapViewOfFile(image, FILE_MAP_READ, 0, 0, 0);
    assert_ne!(exe, 0, "MapViewOfFile(SEC_IMAGE): {}", k.GetLastError());
    ok(k.read(exe, &mut byte), "read the image header");
    let f = ws_flags(&mut k, exe);
    assert_eq!(f & (WS_VALID | WS_SHARED), WS_VALID | WS_SHARED, "exe: {f:#x}");
    assert_eq!(ws_protection(f), PAGE_READONLY, "exe: {f:#x}");
    assert_ne!(f & WS_SHARE_COUNT, 0, "a valid shared page counts its sharers: {f:#x}");
    assert_eq!(k.VirtualProtect(exe, P, PAGE_NOACCESS, Some(&mut old)), TRUE);
    assert_eq!(ws_flags(&mut k, exe), WS_SHARED, "exe,noaccess");
    assert_eq!(k.VirtualProtect(exe, P, old, Some(&mut old)), TRUE);
    assert_eq!(ws_flags(&mut k, exe), WS_SHARED, "exe,readonly1: not valid until touched");
    ok(k.read(exe, &mut byte), "read the header again");
    let f = ws_flags(&mut k, exe);
    assert_eq!((f & (WS_VALID | WS_SHARED), ws_protection(f)), (WS_VALID | WS_SHARED, PAGE_READONLY), "exe,readonly2");

    // Private pages are never shared and count no sharers, valid or not.
    let p = commit(&mut k, 2 * P);
    assert_eq!(ws_flags(&mut k, p), 0, "valloc");
    ok(k.read(p, &mut byte), "read a private page");
    assert_eq!(ws_flags(&mut k, p) & (WS_VALID | WS_SHARE_COUNT | WS_SHARED), WS_VALID, "valloc,read");
    write_tag(&mut k, p, 7);
    assert_eq!(ws_flags(&mut k, p) & (WS_VALID | WS_SHARE_COUNT | WS_SHARED), WS_VALID, "valloc,write");
    assert_eq!(k.VirtualProtect(p, P, PAGE_NOACCESS, Some(&mut old)), TRUE);
    assert_eq!(ws_flags(&mut k, p), 0, "valloc,noaccess");
    assert_eq!(k.VirtualProtect(p, P, old, Some(&mut old)), TRUE);
    assert_eq!(ws_flags(&mut k, p), 0, "valloc,readwrite1");
    assert_eq!(read_tag(&mut k, p), 7);
    assert_eq!(ws_flags(&mut k, p) & (WS_VALID | WS_SHARE_COUNT | WS_SHARED), WS_VALID, "valloc,readwrite2");

    // A page-file section: its pages stay shared when trimmed; a copy-on-write view's written
    // page is the process's own copy, and its untouched page is still the section's.
    let section = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 2 * P as u32, None);
    let view = k.MapViewOfFile(section, FILE_MAP_WRITE, 0, 0, 0);
    let copy = k.MapViewOfFile(section, FILE_MAP_COPY, 0, 0, 0);
    assert!(view != 0 && copy != 0);
    write_tag(&mut k, view, 1);
    write_tag(&mut k, copy, 2);
    assert_eq!(ws_flags(&mut k, copy) & (WS_VALID | WS_SHARE_COUNT | WS_SHARED), WS_VALID, "the copied page");
    let me = k.GetCurrentProcess();
    assert_eq!(k.EmptyWorkingSet(me), TRUE);
    assert_eq!(ws_flags_of(&mut k, &[view, copy, copy + P]), [WS_SHARED, 0, WS_SHARED]);

    // Released memory reports nothing; no entries is a bad length; the handle needs
    // PROCESS_QUERY_INFORMATION (NtQueryVirtualMemory), not only the limited right.
    assert_eq!(k.VirtualFree(p, 0, MEM_RELEASE), TRUE);
    assert_eq!(ws_flags(&mut k, p), 0, "valloc,free");
    assert_eq!(k.QueryWorkingSetEx(me, &mut []), FALSE);
    assert_eq!(k.GetLastError(), ERROR_BAD_LENGTH);
    let id = k.GetCurrentProcessId();
    let mut entry = [PSAPI_WORKING_SET_EX_INFORMATION {
        VirtualAddress: exe as usize as *mut core::ffi::c_void,
        VirtualAttributes: PSAPI_WORKING_SET_EX_BLOCK { Flags: 0 },
    }];
    let limited = k.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, id);
    assert_eq!(k.QueryWorkingSetEx(limited, &mut entry), FALSE);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    let full = k.OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, id);
    assert_eq!(k.QueryWorkingSetEx(full, &mut entry), TRUE);
    check(&sys);
}

/// F204 (Microsoft Learn, "EmptyWorkingSet function"; Wine's psapi test opens its handle with
/// PROCESS_QUERY_INFORMATION | PROCESS_SET_QUOTA): the handle needs both rights.
#[test]
fn empty_working_set_needs_set_quota_and_a_query_right_f204() {
    let mut sys = small_checked();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = commit(&mut k, 4 * P);
    for page in 0..4 {
        write_tag(&mut k, p + page * P, page);
    }
    let me = k.GetCurrentProcessId();
    let before = working_set_bytes(&mut k);
    for rights in
        [PROCESS_SET_QUOTA, PROCESS_QUERY_INFORMATION, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_VM_OPERATION]
    {
        let h = k.OpenProcess(rights, FALSE, me);
        k.SetLastError(0);
        assert_eq!(k.EmptyWorkingSet(h), FALSE, "rights {rights:#x}");
        assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
        assert_eq!(working_set_bytes(&mut k), before, "rights {rights:#x}: nothing trimmed");
        assert_eq!(k.CloseHandle(h), TRUE);
    }
    for rights in [PROCESS_SET_QUOTA | PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SET_QUOTA | PROCESS_QUERY_INFORMATION]
    {
        for page in 0..4 {
            assert_eq!(read_tag(&mut k, p + page * P), page);
        }
        let h = k.OpenProcess(rights, FALSE, me);
        assert_eq!(k.EmptyWorkingSet(h), TRUE, "rights {rights:#x}: error {}", k.GetLastError());
        assert!(working_set_bytes(&mut k) < before, "rights {rights:#x}");
        assert_eq!(k.CloseHandle(h), TRUE);
    }
    assert_eq!(k.EmptyWorkingSet(std::ptr::null_mut()), FALSE);
    assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE);
}
