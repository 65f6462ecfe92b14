//! Scenario tests through `Kernel32` / `Ntdll`: access faults and guard pages (facts F91–F102),
//! VirtualLock / VirtualUnlock (F104–F106), write watch (F107–F121) and demand-zero pages.
//!
//! Every test runs with the core's invariant checker on. Facts are cited from
//! `docs/windows-behaviour.md`; where it lists several Windows results (V1–V24), ntmem's is asserted.
//! Not tested here: F101 (thread stacks), F103 (IsBad*Ptr), F119 (ReadFile into watched memory).

#![allow(non_snake_case)]
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;

const P: u64 = 0x1000;
const G: u64 = 0x10000;
const MBI_SIZE: usize = std::mem::size_of::<MEMORY_BASIC_INFORMATION64>();

/// ExceptionInformation[0] values (docs/windows-behaviour.md, "Constants").
const READ_FAULT: u64 = 0;
const WRITE_FAULT: u64 = 1;
const EXECUTE_FAULT: u64 = 8;

/// STATUS_GUARD_PAGE_VIOLATION as GetLastError reports it (passed through unchanged, F98).
const GUARD_AS_LAST_ERROR: u32 = 0x8000_0001;

fn new_system() -> System {
    System::new(Config::default().with_invariant_checks()).unwrap()
}

fn small_system() -> System {
    System::new(Config::default().with_ram_bytes(64 << 20).with_invariant_checks()).unwrap()
}

fn new_process(sys: &mut System) -> ProcessId {
    sys.create_process("test").unwrap()
}

fn query(k: &mut Kernel32, addr: u64) -> MEMORY_BASIC_INFORMATION64 {
    let mut mbi = MEMORY_BASIC_INFORMATION64::default();
    let n = k.VirtualQuery(addr, &mut mbi);
    assert_eq!(n, MBI_SIZE, "VirtualQuery({addr:#x}) failed, last error {}", k.GetLastError());
    mbi
}

#[allow(clippy::too_many_arguments)]
fn assert_region(
    m: &MEMORY_BASIC_INFORMATION64,
    base: u64,
    allocation_base: u64,
    allocation_protect: u32,
    region_size: u64,
    state: u32,
    protect: u32,
    ty: u32,
) {
    assert_eq!(m.BaseAddress, base, "BaseAddress");
    assert_eq!(m.AllocationBase, allocation_base, "AllocationBase of {base:#x}");
    assert_eq!(m.AllocationProtect, allocation_protect, "AllocationProtect of {base:#x}");
    assert_eq!(m.RegionSize, region_size, "RegionSize of {base:#x}");
    assert_eq!(m.State, state, "State of {base:#x}");
    assert_eq!(m.Protect, protect, "Protect of {base:#x}");
    assert_eq!(m.Type, ty, "Type of {base:#x}");
}

fn ok(r: Result<(), Exception>, what: &str) {
    if let Err(e) = r {
        panic!(
            "{what}: unexpected exception {:#x} at {:#x} info [{}, {:#x}]",
            e.code, e.address, e.information[0], e.information[1]
        );
    }
}

fn fault(r: Result<(), Exception>, what: &str) -> Exception {
    match r {
        Ok(()) => panic!("{what}: access succeeded, expected an exception"),
        Err(e) => e,
    }
}

/// F95: the exception record of an access fault.
fn assert_exception(e: &Exception, code: NTSTATUS, addr: u64, kind: u64) {
    assert_eq!(e.code, code, "exception code");
    assert_eq!(e.address, addr, "first faulting byte");
    assert_eq!(e.number_parameters, 2, "NumberParameters");
    assert_eq!(e.information[0], kind, "ExceptionInformation[0] (0 read, 1 write, 8 execute)");
    assert_eq!(e.information[1], addr, "ExceptionInformation[1] (faulting address)");
}

fn read_vec(k: &mut Kernel32, addr: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0xCCu8; len];
    ok(k.read(addr, &mut buf), "read");
    buf
}

fn alloc(k: &mut Kernel32, addr: u64, size: u64, ty: u32, prot: u32) -> u64 {
    let p = k.VirtualAlloc(addr, size, ty, prot);
    assert_ne!(p, 0, "VirtualAlloc({addr:#x}, {size:#x}, {ty:#x}, {prot:#x}) failed, last error {}", k.GetLastError());
    p
}

fn protect(k: &mut Kernel32, addr: u64, size: u64, prot: u32) -> u32 {
    let mut old = 0u32;
    let r = k.VirtualProtect(addr, size, prot, Some(&mut old));
    assert_ne!(r, 0, "VirtualProtect({addr:#x}, {size:#x}, {prot:#x}) failed, last error {}", k.GetLastError());
    old
}

// ------------------------------------------------------------------------------------------
// K. Access faults
// ------------------------------------------------------------------------------------------

#[test]
fn reserved_page_access_violates_until_committed_f91() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, G, MEM_RESERVE, PAGE_READWRITE);

    let mut buf = [0xCCu8; 4];
    let e = fault(k.read(p, &mut buf), "read of reserved page");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p, READ_FAULT);
    let e = fault(k.write(p + 0x10, &[1, 2, 3, 4]), "write of reserved page");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p + 0x10, WRITE_FAULT);
    let e = fault(k.execute(p + 0x20), "execute of reserved page");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p + 0x20, EXECUTE_FAULT);

    assert_eq!(alloc(&mut k, p, P, MEM_COMMIT, PAGE_READWRITE), p);
    ok(k.write(p + 0x10, &[1, 2, 3, 4]), "write after commit");
    assert_eq!(read_vec(&mut k, p + 0x10, 4), [1, 2, 3, 4]);
    // The page after it is still only reserved.
    let e = fault(k.read(p + P, &mut buf), "read of the next, reserved page");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p + P, READ_FAULT);
}

#[test]
fn noaccess_page_faults_on_read_write_and_execute_f92() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_NOACCESS);
    let a = p + 0x123;

    let mut buf = [0xCCu8; 8];
    let e = fault(k.read(a, &mut buf), "read of NOACCESS");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, a, READ_FAULT);
    let e = fault(k.write(a, &[0x55; 8]), "write of NOACCESS");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, a, WRITE_FAULT);
    let e = fault(k.execute(a), "execute of NOACCESS");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, a, EXECUTE_FAULT);

    // The failed write changed nothing.
    assert_eq!(protect(&mut k, p, P, PAGE_READWRITE), PAGE_NOACCESS);
    assert_eq!(read_vec(&mut k, a, 8), [0u8; 8]);
}

#[test]
fn readonly_page_rejects_writes_and_keeps_its_bytes_f93() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    ok(k.write(p + 0x40, b"original"), "initial write");
    assert_eq!(protect(&mut k, p, P, PAGE_READONLY), PAGE_READWRITE);

    let e = fault(k.write(p + 0x40, b"CHANGED!"), "write of READONLY");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p + 0x40, WRITE_FAULT);
    assert_eq!(read_vec(&mut k, p + 0x40, 8), b"original");
    // DEP: a READONLY page is not executable either (F95).
    let e = fault(k.execute(p + 0x40), "execute of READONLY");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p + 0x40, EXECUTE_FAULT);
}

#[test]
fn released_page_access_violates_f94() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    ok(k.write(p + 0x800, &[7; 16]), "write before release");
    assert_ne!(k.VirtualFree(p, 0, MEM_RELEASE), 0);

    let mut buf = [0xCCu8; 16];
    let e = fault(k.read(p + 0x800, &mut buf), "read of free page");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p + 0x800, READ_FAULT);
    let e = fault(k.write(p + 0x800, &[1]), "write of free page");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p + 0x800, WRITE_FAULT);
}

#[test]
fn execute_needs_an_execute_protection_f95() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, 4 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);

    // DEP: executing on a PAGE_READWRITE page is an access violation with [0] = 8.
    let e = fault(k.execute(p + 0x10), "execute of READWRITE");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p + 0x10, EXECUTE_FAULT);

    assert_eq!(protect(&mut k, p + P, P, PAGE_EXECUTE_READ), PAGE_READWRITE);
    assert_eq!(protect(&mut k, p + 2 * P, P, PAGE_EXECUTE_READWRITE), PAGE_READWRITE);
    assert_eq!(protect(&mut k, p + 3 * P, P, PAGE_EXECUTE), PAGE_READWRITE);
    ok(k.execute(p + P + 0x10), "execute of EXECUTE_READ");
    ok(k.execute(p + 2 * P + 0x10), "execute of EXECUTE_READWRITE");
    ok(k.execute(p + 3 * P + 0x10), "execute of EXECUTE");

    // PAGE_EXECUTE_READ still refuses writes.
    let e = fault(k.write(p + P + 0x10, &[0x90]), "write of EXECUTE_READ");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p + P + 0x10, WRITE_FAULT);
}

#[test]
fn write_crossing_into_reserved_page_faults_at_page_start_and_changes_nothing() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, G, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(alloc(&mut k, p, P, MEM_COMMIT, PAGE_READWRITE), p);
    ok(k.write(p + P - 8, &[0x11; 8]), "write of the last 8 bytes of the good page");

    let e = fault(k.write(p + P - 8, &[0x22; 16]), "write crossing into reserved page");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p + P, WRITE_FAULT);
    assert_eq!(read_vec(&mut k, p + P - 8, 8), [0x11; 8], "first page bytes must be unchanged");

    let mut buf = [0xCCu8; 16];
    let e = fault(k.read(p + P - 8, &mut buf), "read crossing into reserved page");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p + P, READ_FAULT);
}

#[test]
fn write_crossing_into_readonly_or_noaccess_page_faults_at_page_start_and_changes_nothing() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, 3 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    ok(k.write(p + P - 4, &[0x33; 8]), "seed bytes across pages 0 and 1");
    ok(k.write(p + 2 * P - 4, &[0x44; 4]), "seed last bytes of page 1");
    assert_eq!(protect(&mut k, p + P, P, PAGE_READONLY), PAGE_READWRITE);
    assert_eq!(protect(&mut k, p + 2 * P, P, PAGE_NOACCESS), PAGE_READWRITE);

    // RW → READONLY boundary: write fails at the start of the read-only page.
    let e = fault(k.write(p + P - 4, &[0x99; 8]), "write crossing into READONLY");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p + P, WRITE_FAULT);
    assert_eq!(read_vec(&mut k, p + P - 4, 8), [0x33; 8]);

    // READONLY → NOACCESS boundary: a read fails at the start of the NOACCESS page.
    let mut buf = [0xCCu8; 8];
    let e = fault(k.read(p + 2 * P - 4, &mut buf), "read crossing into NOACCESS");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, p + 2 * P, READ_FAULT);
    assert_eq!(read_vec(&mut k, p + 2 * P - 4, 4), [0x44; 4]);
}

// ------------------------------------------------------------------------------------------
// K. Guard pages
// ------------------------------------------------------------------------------------------

#[test]
fn guard_page_read_raises_once_then_guard_is_cleared_f96() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    let q = query(&mut k, p);
    assert_region(&q, p, p, 0x104, P, MEM_COMMIT, 0x104, MEM_PRIVATE);

    let mut buf = [0xCCu8; 4];
    let e = fault(k.read(p + 4, &mut buf), "first touch of guard page");
    assert_exception(&e, STATUS_GUARD_PAGE_VIOLATION, p + 4, READ_FAULT);

    // The guard bit is gone; AllocationProtect keeps it.
    let q = query(&mut k, p);
    assert_region(&q, p, p, 0x104, P, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);

    // Retried access completes, no second exception.
    ok(k.read(p + 4, &mut buf), "retried read");
    assert_eq!(buf, [0; 4]);
    ok(k.read(p + 4, &mut buf), "second read");
}

#[test]
fn guard_page_write_raises_once_and_the_retry_lands_f96() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);

    let e = fault(k.write(p + 8, &[1, 2, 3, 4]), "first write of guard page");
    assert_exception(&e, STATUS_GUARD_PAGE_VIOLATION, p + 8, WRITE_FAULT);
    // The faulting write did not happen.
    assert_eq!(read_vec(&mut k, p + 8, 4), [0; 4]);
    ok(k.write(p + 8, &[1, 2, 3, 4]), "retried write");
    assert_eq!(read_vec(&mut k, p + 8, 4), [1, 2, 3, 4]);
    assert_eq!(query(&mut k, p).Protect, PAGE_READWRITE);
}

#[test]
fn rearmed_guard_fires_again_exactly_once_f97() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);

    // Old protection of a guarded page includes the guard bit.
    assert_eq!(protect(&mut k, p, P, PAGE_READWRITE), 0x104);
    ok(k.write(p, &[1, 0, 0, 0, 2, 0, 0, 0]), "seed");
    assert_eq!(protect(&mut k, p, P, PAGE_READWRITE | PAGE_GUARD), PAGE_READWRITE);
    assert_eq!(query(&mut k, p).Protect, 0x104);

    for round in 0..2 {
        let mut buf = [0u8; 4];
        let e = fault(k.read(p + 4, &mut buf), "read of re-armed guard page");
        assert_exception(&e, STATUS_GUARD_PAGE_VIOLATION, p + 4, READ_FAULT);
        ok(k.read(p + 4, &mut buf), "retried read");
        assert_eq!(buf, [2, 0, 0, 0], "round {round}");
        ok(k.write(p, &[9]), "write after the guard fired");
        assert_eq!(protect(&mut k, p, P, PAGE_READWRITE | PAGE_GUARD), PAGE_READWRITE);
    }
}

#[test]
fn guard_page_in_virtual_lock_fails_the_call_and_clears_the_guard_f98_f106() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    ok(k.write(p, &[1, 0, 0, 0]), "seed");
    assert_eq!(protect(&mut k, p, P, PAGE_READWRITE | PAGE_GUARD), PAGE_READWRITE);

    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualLock(p, P), 0, "VirtualLock on a guarded page must fail");
    assert_eq!(k.GetLastError(), GUARD_AS_LAST_ERROR);
    let q = query(&mut k, p);
    assert_region(&q, p, p, PAGE_READWRITE, P, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);

    // F106: consumed guard: lock and unlock both succeed, data intact.
    assert_ne!(k.VirtualLock(p, P), 0, "second VirtualLock, last error {}", k.GetLastError());
    assert_eq!(read_vec(&mut k, p, 4), [1, 0, 0, 0]);
    assert_ne!(k.VirtualUnlock(p, P), 0, "VirtualUnlock, last error {}", k.GetLastError());
    assert_eq!(protect(&mut k, p, P, PAGE_READWRITE | PAGE_GUARD), PAGE_READWRITE);
}

#[test]
fn executing_a_guard_page_reports_execute_then_dep_f99() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, 2 * P, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READ | PAGE_GUARD);
    assert_eq!(protect(&mut k, p + P, P, PAGE_READWRITE | PAGE_GUARD), PAGE_EXECUTE_READ | PAGE_GUARD);

    // Executable guarded page: guard exception with [0] = 8, then execution proceeds.
    let e = fault(k.execute(p + 0x10), "execute of guarded EXECUTE_READ page");
    assert_exception(&e, STATUS_GUARD_PAGE_VIOLATION, p + 0x10, EXECUTE_FAULT);
    ok(k.execute(p + 0x10), "retried execute");

    // Non-executable guarded page: guard exception, then DEP access violation on the retry.
    let a = p + P + 0x10;
    let e = fault(k.execute(a), "execute of guarded READWRITE page");
    assert_exception(&e, STATUS_GUARD_PAGE_VIOLATION, a, EXECUTE_FAULT);
    let e = fault(k.execute(a), "retried execute of READWRITE page");
    assert_exception(&e, STATUS_ACCESS_VIOLATION, a, EXECUTE_FAULT);
    assert_eq!(query(&mut k, p + P).Protect, PAGE_READWRITE);
}

#[test]
fn guard_page_crossing_write_faults_at_the_guarded_page_and_retry_completes_f96() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, 2 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    ok(k.write(p + P - 4, &[0x11; 4]), "seed");
    assert_eq!(protect(&mut k, p + P, P, PAGE_READWRITE | PAGE_GUARD), PAGE_READWRITE);

    let e = fault(k.write(p + P - 4, &[0x77; 8]), "write crossing into guard page");
    assert_exception(&e, STATUS_GUARD_PAGE_VIOLATION, p + P, WRITE_FAULT);
    assert_eq!(read_vec(&mut k, p + P - 4, 4), [0x11; 4], "nothing written by the failed access");
    ok(k.write(p + P - 4, &[0x77; 8]), "retried crossing write");
    assert_eq!(read_vec(&mut k, p + P - 4, 8), [0x77; 8]);
}

#[test]
fn guard_and_write_watch_f100() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE | PAGE_GUARD);
    let q = query(&mut k, p);
    assert_region(&q, p, p, 0x104, P, MEM_COMMIT, 0x104, MEM_PRIVATE);
    assert_eq!(watch(&mut k, 0, p, P, 64), []);

    // A write raises the guard exception once; after the retry the write lands and is watched.
    let e = fault(k.write(p, &[1, 0, 0, 0, 2, 0, 0, 0]), "write of guarded watched page");
    assert_exception(&e, STATUS_GUARD_PAGE_VIOLATION, p, WRITE_FAULT);
    ok(k.write(p, &[1, 0, 0, 0, 2, 0, 0, 0]), "retried write");
    assert_eq!(watch(&mut k, WRITE_WATCH_FLAG_RESET, p, P, 64), [p]);

    // A read of a guarded page does not mark it.
    assert_eq!(protect(&mut k, p, P, PAGE_READWRITE | PAGE_GUARD), PAGE_READWRITE);
    let mut buf = [0u8; 4];
    let e = fault(k.read(p + 4, &mut buf), "read of guarded watched page");
    assert_exception(&e, STATUS_GUARD_PAGE_VIOLATION, p + 4, READ_FAULT);
    ok(k.read(p + 4, &mut buf), "retried read");
    assert_eq!(buf, [2, 0, 0, 0]);
    assert_eq!(watch(&mut k, 0, p, P, 64), []);

    // A VirtualLock that fails on the guard marks nothing; the one that succeeds marks (V18).
    assert_eq!(protect(&mut k, p, P, PAGE_READWRITE | PAGE_GUARD), PAGE_READWRITE);
    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualLock(p, P), 0);
    assert_eq!(k.GetLastError(), GUARD_AS_LAST_ERROR);
    assert_eq!(watch(&mut k, 0, p, P, 64), []);
    assert_ne!(k.VirtualLock(p, P), 0, "second VirtualLock, last error {}", k.GetLastError());
    assert_eq!(read_vec(&mut k, p, 4), [1, 0, 0, 0]);
    assert_ne!(k.VirtualUnlock(p, P), 0);
    assert_eq!(watch(&mut k, WRITE_WATCH_FLAG_RESET, p, P, 64), [p]);
}

#[test]
fn nt_commit_of_one_guard_page_splits_a_committed_run_f102() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let p = {
        let mut k = Kernel32::new(&mut sys, pid);
        alloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE)
    };
    {
        let mut nt = Ntdll::new(&mut sys, pid);
        let mut base = p + 0x2000;
        let mut size = 0x1000;
        let st = nt.NtAllocateVirtualMemory(
            NtCurrentProcess(),
            &mut base,
            0,
            &mut size,
            MEM_COMMIT,
            PAGE_READWRITE | PAGE_GUARD,
        );
        assert_eq!(st, STATUS_SUCCESS);
        assert_eq!(base, p + 0x2000);
        assert_eq!(size, 0x1000);
    }
    let mut k = Kernel32::new(&mut sys, pid);
    assert_region(&query(&mut k, p), p, p, PAGE_READWRITE, 0x2000, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    assert_region(&query(&mut k, p + 0x2000), p + 0x2000, p, PAGE_READWRITE, 0x1000, MEM_COMMIT, 0x104, MEM_PRIVATE);
    assert_region(
        &query(&mut k, p + 0x3000),
        p + 0x3000,
        p,
        PAGE_READWRITE,
        0xD000,
        MEM_COMMIT,
        PAGE_READWRITE,
        MEM_PRIVATE,
    );

    // Touching the guard page consumes it and the run is whole again.
    let mut buf = [0u8; 1];
    let e = fault(k.read(p + 0x2000, &mut buf), "read of the guard page");
    assert_exception(&e, STATUS_GUARD_PAGE_VIOLATION, p + 0x2000, READ_FAULT);
    assert_region(&query(&mut k, p), p, p, PAGE_READWRITE, G, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
}

// ------------------------------------------------------------------------------------------
// L. VirtualLock / VirtualUnlock
// ------------------------------------------------------------------------------------------

#[test]
fn virtual_lock_needs_committed_accessible_pages_f104() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, G, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(alloc(&mut k, p, P, MEM_COMMIT, PAGE_READWRITE), p);
    assert_eq!(alloc(&mut k, p + 2 * P, P, MEM_COMMIT, PAGE_NOACCESS), p + 2 * P);

    // NtLockVirtualMemory touches every page of the range (a read) before locking any; the
    // access violation is its status, ERRMAP gives ERROR_NOACCESS (derived).
    for (addr, size, what) in [
        (p + P, P, "a reserved page"),
        (p + 2 * P, P, "a NOACCESS page"),
        (p, 2 * P, "a committed page then a reserved one"),
    ] {
        k.SetLastError(0xdead_beef);
        assert_eq!(k.VirtualLock(addr, size), 0, "VirtualLock of {what} must fail");
        assert_eq!(k.GetLastError(), ERROR_NOACCESS, "VirtualLock of {what}");
    }

    // The failed calls locked nothing (all-or-nothing).
    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualUnlock(p, P), 0);
    assert_eq!(k.GetLastError(), ERROR_NOT_LOCKED);
}

#[test]
fn virtual_lock_covers_every_touched_page_and_makes_it_resident_f104() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, 4 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(k.MmGetPhysicalAddress(p), 0);
    assert_eq!(k.MmGetPhysicalAddress(p + P), 0);

    // Two bytes straddling pages 0 and 1 lock both pages.
    assert_ne!(k.VirtualLock(p + P - 1, 2), 0, "VirtualLock, last error {}", k.GetLastError());
    assert_ne!(k.MmGetPhysicalAddress(p), 0, "locked page 0 must be resident");
    assert_ne!(k.MmGetPhysicalAddress(p + P), 0, "locked page 1 must be resident");
    assert_eq!(read_vec(&mut k, p + P - 1, 2), [0, 0]);
    assert_ne!(k.VirtualUnlock(p, P), 0, "page 0 was locked");
    assert_ne!(k.VirtualUnlock(p + P, P), 0, "page 1 was locked");
    // Page 2 was never locked.
    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualUnlock(p + 2 * P, P), 0);
    assert_eq!(k.GetLastError(), ERROR_NOT_LOCKED);
}

#[test]
fn virtual_lock_has_no_lock_count_f104() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, 2 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_ne!(k.VirtualLock(p, 2 * P), 0);
    assert_ne!(k.VirtualLock(p, 2 * P), 0);
    assert_ne!(k.VirtualLock(p, 2 * P), 0);
    assert_ne!(k.VirtualUnlock(p, 2 * P), 0, "one unlock undoes any number of locks");
    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualUnlock(p, 2 * P), 0);
    assert_eq!(k.GetLastError(), ERROR_NOT_LOCKED);
}

#[test]
fn virtual_unlock_of_a_range_with_unlocked_pages_fails_not_locked_f105() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, 2 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);

    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualUnlock(p, P), 0, "never locked");
    assert_eq!(k.GetLastError(), ERROR_NOT_LOCKED);

    assert_ne!(k.VirtualLock(p, P), 0);
    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualUnlock(p, 2 * P), 0, "page 1 is not locked");
    assert_eq!(k.GetLastError(), ERROR_NOT_LOCKED);
}

#[test]
fn virtual_lock_is_bounded_by_the_minimum_working_set() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, 1000 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);

    // A few pages fit in the default minimum working set (50 pages).
    assert_ne!(k.VirtualLock(p, 8 * P), 0, "locking 8 pages, last error {}", k.GetLastError());
    assert_ne!(k.VirtualUnlock(p, 8 * P), 0);

    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualLock(p, 1000 * P), 0, "locking 1000 pages must exceed the quota");
    assert_eq!(k.GetLastError(), ERROR_WORKING_SET_QUOTA);
}

// ------------------------------------------------------------------------------------------
// M. Write watch
// ------------------------------------------------------------------------------------------

/// GetWriteWatch that must succeed; returns the reported addresses (granularity checked, F108).
fn watch(k: &mut Kernel32, flags: u32, base: u64, size: u64, cap: usize) -> Vec<u64> {
    let mut buf = vec![0u64; cap];
    let mut count = cap;
    let mut gran = 0u32;
    let r = k.GetWriteWatch(flags, base, size, &mut buf, &mut count, &mut gran);
    assert_eq!(r, 0, "GetWriteWatch({flags:#x}, {base:#x}, {size:#x}) failed, last error {}", k.GetLastError());
    assert_eq!(gran, 4096, "granularity");
    assert!(count <= cap, "count {count} above capacity {cap}");
    buf.truncate(count);
    buf
}

/// GetWriteWatch that must fail with (UINT)-1; returns GetLastError.
fn watch_error(k: &mut Kernel32, flags: u32, base: u64, size: u64, buf_len: usize, count: usize) -> u32 {
    let mut buf = vec![0u64; buf_len];
    let mut count = count;
    let mut gran = 0u32;
    k.SetLastError(0xdead_beef);
    let r = k.GetWriteWatch(flags, base, size, &mut buf, &mut count, &mut gran);
    assert_eq!(r, u32::MAX, "GetWriteWatch({flags:#x}, {base:#x}, {size:#x}) must fail");
    k.GetLastError()
}

fn watched_block(k: &mut Kernel32) -> u64 {
    alloc(k, 0, G, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE)
}

#[test]
fn write_watch_block_queries_like_private_memory_f107() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = watched_block(&mut k);
    assert_region(&query(&mut k, p), p, p, PAGE_READWRITE, G, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
}

#[test]
fn untouched_watched_block_reports_nothing_f108() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = watched_block(&mut k);
    let mut buf = [0xAAu64; 64];
    let mut count = 64usize;
    let mut gran = 0u32;
    assert_eq!(k.GetWriteWatch(0, p, G, &mut buf, &mut count, &mut gran), 0);
    assert_eq!(count, 0);
    assert_eq!(gran, 4096);
    // Reading does not mark.
    let _ = read_vec(&mut k, p + 3 * P, 16);
    assert_eq!(watch(&mut k, 0, p, G, 64), []);
}

#[test]
fn one_written_byte_reports_its_page_f109_f110() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = watched_block(&mut k);
    ok(k.write(p + P + 1, &[0x44]), "write");
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + P], "F109: page-aligned address");
    // Without the flag the state stays.
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + P]);
    // F110: FLAG_RESET returns then clears.
    assert_eq!(watch(&mut k, WRITE_WATCH_FLAG_RESET, p, G, 64), [p + P]);
    assert_eq!(watch(&mut k, 0, p, G, 64), []);
}

#[test]
fn sub_range_reset_and_unaligned_writes_f111_f112_f113_f114() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = watched_block(&mut k);
    ok(k.write(p + 2 * P + 3, &[0x11]), "write page 2");
    ok(k.write(p + 4 * P + 8, &[0x11]), "write page 4");
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + 2 * P, p + 4 * P], "ascending order");

    // F111: the range is honoured.
    assert_eq!(watch(&mut k, 0, p + 3 * P, 2 * P, 64), [p + 4 * P]);

    // F112: ResetWriteWatch clears only the given pages.
    assert_eq!(k.ResetWriteWatch(p, 3 * P), 0);
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + 4 * P]);

    // F113: a 4-byte write straddling pages 1 and 2 marks both.
    ok(k.write(p + 2 * P - 2, &0xdead_beef_u32.to_le_bytes()), "unaligned write");
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + P, p + 2 * P, p + 4 * P]);

    // F114: FLAG_RESET with room for one entry resets only the reported page.
    assert_eq!(watch(&mut k, WRITE_WATCH_FLAG_RESET, p, G, 1), [p + P]);
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + 2 * P, p + 4 * P]);
}

#[test]
fn protection_changes_neither_set_nor_clear_write_watch_f115() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = watched_block(&mut k);
    ok(k.write(p + 2 * P, &[1]), "write page 2");
    ok(k.write(p + 4 * P, &[1]), "write page 4");

    assert_eq!(protect(&mut k, p, 3 * P, PAGE_READONLY), PAGE_READWRITE);
    assert_region(&query(&mut k, p), p, p, PAGE_READWRITE, 3 * P, MEM_COMMIT, PAGE_READONLY, MEM_PRIVATE);
    assert_eq!(protect(&mut k, p, 3 * P, PAGE_READWRITE), PAGE_READONLY);
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + 2 * P, p + 4 * P]);
    assert_region(&query(&mut k, p), p, p, PAGE_READWRITE, G, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);

    // A written page stays reported after becoming NOACCESS.
    assert_eq!(protect(&mut k, p + 4 * P, P, PAGE_NOACCESS), PAGE_READWRITE);
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + 2 * P, p + 4 * P]);
}

#[test]
fn write_watch_on_reserved_memory_f116_f115() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    // Initial protection is irrelevant.
    let p = alloc(&mut k, 0, G, MEM_RESERVE | MEM_WRITE_WATCH, PAGE_NOACCESS);
    assert_eq!(watch(&mut k, 0, p, G, 64), []);
    assert_eq!(k.ResetWriteWatch(p, G), 0, "ResetWriteWatch over reserved pages");

    // Committing with PAGE_NOACCESS marks nothing.
    assert_eq!(alloc(&mut k, p, G, MEM_COMMIT, PAGE_NOACCESS), p);
    assert_eq!(watch(&mut k, 0, p, G, 64), []);

    // F115: VirtualProtect to RW does not mark.
    assert_eq!(protect(&mut k, p, 6 * P, PAGE_READWRITE), PAGE_NOACCESS);
    assert_eq!(watch(&mut k, 0, p, G, 64), []);
    ok(k.write(p + 5 * P + 200, &[3]), "write page 5");
    assert_eq!(protect(&mut k, p, 6 * P, PAGE_NOACCESS), PAGE_READWRITE);
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + 5 * P]);
}

#[test]
fn decommit_clears_write_watch_state_f117() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = watched_block(&mut k);
    ok(k.write(p + P, &[1]), "write page 1");
    ok(k.write(p + 3 * P, &[1]), "write page 3");
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + P, p + 3 * P]);

    assert_ne!(k.VirtualFree(p, G, MEM_DECOMMIT), 0);
    assert_eq!(watch(&mut k, 0, p, G, 64), []);
    assert_eq!(alloc(&mut k, p, G, MEM_COMMIT, PAGE_READWRITE), p);
    assert_eq!(watch(&mut k, 0, p, G, 64), []);
    assert_eq!(read_vec(&mut k, p + P, 1), [0], "recommitted page is demand-zero");
}

#[test]
fn page_dirtied_before_a_protect_survives_decommit_f118() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, G, MEM_RESERVE | MEM_WRITE_WATCH, PAGE_NOACCESS);
    assert_eq!(alloc(&mut k, p, G, MEM_COMMIT, PAGE_NOACCESS), p);
    assert_eq!(protect(&mut k, p, 6 * P, PAGE_READWRITE), PAGE_NOACCESS);
    ok(k.write(p + 5 * P + 200, &[3]), "write page 5");
    // This VirtualProtect covers page 5 while it is dirty.
    assert_eq!(protect(&mut k, p, 6 * P, PAGE_NOACCESS), PAGE_READWRITE);
    // Page 8 is protected while clean, then dirtied.
    assert_eq!(protect(&mut k, p + 8 * P, P, PAGE_READWRITE), PAGE_NOACCESS);
    ok(k.write(p + 8 * P, &[4]), "write page 8");
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + 5 * P, p + 8 * P]);

    assert_ne!(k.VirtualFree(p, G, MEM_DECOMMIT), 0);
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + 5 * P], "only the page dirtied before a protect stays");
    assert_eq!(alloc(&mut k, p, G, MEM_COMMIT, PAGE_READWRITE), p);
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + 5 * P], "still reported after recommit");
}

#[test]
fn long_range_every_other_page_f120() {
    let mut sys = small_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let size = 2048 * P;
    let p = alloc(&mut k, 0, size, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    for i in (0..2048u64).step_by(2) {
        ok(k.write(p + i * P, &[1]), "write");
    }
    assert_eq!(protect(&mut k, p, size / 2, PAGE_READONLY), PAGE_READWRITE);

    let expected: Vec<u64> = (0..1024u64).map(|i| p + 2 * i * P).collect();
    assert_eq!(watch(&mut k, 0, p, size, 2048), expected);
    assert_eq!(watch(&mut k, WRITE_WATCH_FLAG_RESET, p, size, 2048), expected);
    assert_eq!(watch(&mut k, 0, p, size, 2048), []);
}

#[test]
fn write_watch_parameter_errors_f121() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = watched_block(&mut k);
    let plain = alloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    ok(k.write(p + P, &[1]), "dirty one page");

    assert_eq!(watch_error(&mut k, 0, 0, G, 64, 64), ERROR_INVALID_PARAMETER, "base NULL");
    assert_eq!(watch_error(&mut k, 0, plain, G, 64, 64), ERROR_INVALID_PARAMETER, "not a write-watch region");
    assert_eq!(watch_error(&mut k, 0, p, G, 64, 0), ERROR_INVALID_PARAMETER, "count 0");
    assert_eq!(watch_error(&mut k, 0, p, G, 0, 0), ERROR_INVALID_PARAMETER, "no results, count 0");
    assert_eq!(watch_error(&mut k, 0, p, G, 0, 64), ERROR_NOACCESS, "no results, count 64");
    assert_eq!(watch_error(&mut k, 0, p, G, 4, 64), ERROR_NOACCESS, "results shorter than the count");
    assert_eq!(watch_error(&mut k, 0xdead_beef, p, G, 64, 64), ERROR_INVALID_PARAMETER, "bad flags");
    assert_eq!(watch_error(&mut k, 0, p, 0, 64, 64), ERROR_INVALID_PARAMETER, "size 0");
    assert_eq!(watch_error(&mut k, 0, p, 2 * G, 64, 64), ERROR_INVALID_PARAMETER, "size past the region");
    assert_eq!(watch_error(&mut k, 0, p + G - P, P + 1, 64, 64), ERROR_INVALID_PARAMETER, "one byte past the end");

    k.SetLastError(0xdead_beef);
    assert_eq!(k.ResetWriteWatch(p, 0), u32::MAX, "ResetWriteWatch(base, 0)");
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
    k.SetLastError(0xdead_beef);
    assert_eq!(k.ResetWriteWatch(plain, G), u32::MAX, "ResetWriteWatch outside a watch region");
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);

    // None of the failures touched the state (a failed FLAG_RESET call would have).
    assert_eq!(watch_error(&mut k, WRITE_WATCH_FLAG_RESET, p, 0, 64, 64), ERROR_INVALID_PARAMETER);
    assert_eq!(watch(&mut k, 0, p, G, 64), [p + P]);
}

// ------------------------------------------------------------------------------------------
// Demand-zero pages and physical frames
// ------------------------------------------------------------------------------------------

#[test]
fn first_touch_reads_zero_and_gets_a_frame() {
    let mut sys = new_system();
    let pid = new_process(&mut sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0, 2 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(k.MmGetPhysicalAddress(p), 0, "committed, untouched: not resident");
    assert_eq!(k.MmGetPhysicalAddress(p + 0x123), 0);

    assert_eq!(read_vec(&mut k, p + 0x123, 64), [0u8; 64], "demand-zero");
    let pa = k.MmGetPhysicalAddress(p + 0x123);
    assert_ne!(pa, 0, "resident after the first touch");
    assert_eq!(pa & 0xFFF, 0x123, "frame + offset");
    assert_eq!(k.MmGetPhysicalAddress(p), pa - 0x123);
    assert_eq!(k.MmGetPhysicalAddress(p + P), 0, "the other page is still untouched");

    // Writing keeps the same frame.
    ok(k.write(p + 0x123, b"hello"), "write");
    assert_eq!(k.MmGetPhysicalAddress(p + 0x123), pa);
    assert_eq!(read_vec(&mut k, p + 0x123, 5), b"hello");

    // Reserved and free addresses have no physical address either.
    let r = alloc(&mut k, 0, G, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(k.MmGetPhysicalAddress(r), 0);
}

#[test]
fn two_processes_same_address_see_their_own_bytes_in_different_frames() {
    let mut sys = new_system();
    let a = new_process(&mut sys);
    let b = new_process(&mut sys);

    let (p, pa_a) = {
        let mut k = Kernel32::new(&mut sys, a);
        let p = alloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        ok(k.write(p, b"AAAA"), "write in a");
        (p, k.MmGetPhysicalAddress(p))
    };
    let pa_b = {
        let mut k = Kernel32::new(&mut sys, b);
        assert_eq!(alloc(&mut k, p, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE), p);
        assert_eq!(read_vec(&mut k, p, 4), [0; 4], "b sees a fresh zero page");
        ok(k.write(p, b"BBBB"), "write in b");
        assert_eq!(read_vec(&mut k, p, 4), b"BBBB");
        k.MmGetPhysicalAddress(p)
    };
    let mut k = Kernel32::new(&mut sys, a);
    assert_eq!(read_vec(&mut k, p, 4), b"AAAA");
    assert_eq!(k.MmGetPhysicalAddress(p), pa_a);
    assert_ne!(pa_a, 0);
    assert_ne!(pa_b, 0);
    assert_ne!(pa_a & !0xFFF, pa_b & !0xFFF, "different frames");
}
