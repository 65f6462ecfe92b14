//! An access of no bytes touches nothing (issue 6, item 8): no page fault, no accessed or
//! dirty bit, no TLB fill, no exception. On Windows a `memcpy` of 0 bytes touches no memory, so
//! an empty read or write at any address — resident, untouched, reserved, free, beyond user
//! space — succeeds and changes nothing.

#![allow(clippy::unwrap_used)]

use ntmem::paging::Pte;
use ntmem::units::Vpn;
use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;

const P: u64 = 0x1000;

fn system() -> (System, ProcessId) {
    let mut sys = System::new(Config::default().with_invariant_checks()).unwrap();
    let pid = sys.create_process("test").unwrap();
    (sys, pid)
}

fn alloc(k: &mut Kernel32, size: u64, ty: u32) -> u64 {
    let p = k.VirtualAlloc(0, size, ty, PAGE_READWRITE);
    assert_ne!(p, 0, "VirtualAlloc failed: {}", k.GetLastError());
    p
}

/// The pages GetWriteWatch reports in `[base, base + size)` (without resetting).
fn watched(k: &mut Kernel32, base: u64, size: u64, flags: u32) -> Vec<u64> {
    let mut buf = [0u64; 16];
    let (mut count, mut gran) = (buf.len(), 0u32);
    assert_eq!(k.GetWriteWatch(flags, base, size, &mut buf, &mut count, &mut gran), 0);
    buf[..count].to_vec()
}

/// The PTE of `addr` in process `pid`.
fn pte(sys: &System, pid: ProcessId, addr: u64) -> Pte {
    sys.process(pid).unwrap().space().unwrap().pte(sys.phys(), Vpn::default().add(addr >> 12))
}

/// F108–F110: an empty write to a clean resident write-watched page does not mark it; a
/// one-byte write does. The empty write used to walk the page tables for writing and set the
/// PTE's dirty bit, so GetWriteWatch reported the page.
#[test]
fn empty_write_does_not_mark_a_watched_page() {
    let (mut sys, pid) = system();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 0x10000, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH);
    k.write(p, &[1]).unwrap();
    assert_eq!(watched(&mut k, p, 0x10000, WRITE_WATCH_FLAG_RESET), vec![p], "F109: the written page");
    assert!(watched(&mut k, p, 0x10000, 0).is_empty(), "F110: reset, and still resident");
    k.write(p, &[]).unwrap();
    k.write(p + 0x234, &[]).unwrap();
    assert!(watched(&mut k, p, 0x10000, 0).is_empty(), "an empty write marks nothing");
    let Pte::Valid(v) = pte(&sys, pid, p) else { panic!("page 0 stays resident") };
    assert!(!v.dirty(), "an empty write leaves the PTE clean");
    let mut k = Kernel32::new(&mut sys, pid);
    k.write(p + 0x234, &[2]).unwrap();
    assert_eq!(watched(&mut k, p, 0x10000, 0), vec![p], "a one-byte write still marks it");
}

/// An empty read leaves a resident page's accessed bit clear (the working-set manager's aging
/// cleared it). It used to walk the page tables and set it, making the page look recently used.
#[test]
fn empty_read_does_not_set_the_accessed_bit() {
    let (mut sys, pid) = system();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc(&mut k, 64 * P, MEM_RESERVE | MEM_COMMIT);
    for i in 0..32 {
        k.write(p + i * P, &[1]).unwrap();
    }
    // A hard maximum below the working set ages it (clearing every accessed bit) and trims
    // the excess: the pages left are resident with their accessed bits clear.
    let h = k.GetCurrentProcess();
    assert_ne!(k.SetProcessWorkingSetSizeEx(h, 20 * P, 24 * P, QUOTA_LIMITS_HARDWS_MAX_ENABLE), 0);
    let aged: Vec<u64> =
        (0..32).map(|i| p + i * P).filter(|&a| matches!(pte(&sys, pid, a), Pte::Valid(v) if !v.accessed())).collect();
    assert!(!aged.is_empty(), "setup: some page is resident with its accessed bit clear");
    let mut k = Kernel32::new(&mut sys, pid);
    for &a in &aged {
        k.read(a + 8, &mut []).unwrap();
    }
    for &a in &aged {
        let Pte::Valid(v) = pte(&sys, pid, a) else { panic!("{a:#x} stays resident") };
        assert!(!v.accessed(), "an empty read at {a:#x} leaves the accessed bit clear");
    }
    let mut k = Kernel32::new(&mut sys, pid);
    k.read(aged[0], &mut [0u8; 1]).unwrap();
    let Pte::Valid(v) = pte(&sys, pid, aged[0]) else { panic!("resident") };
    assert!(v.accessed(), "a one-byte read still sets it");
}

/// An empty access anywhere succeeds and faults nothing in: untouched committed memory stays
/// untouched, and reserved, free, guard and beyond-user-space addresses raise nothing (a
/// `memcpy` of 0 bytes touches no memory).
#[test]
fn empty_access_anywhere_succeeds_and_touches_nothing() {
    let (mut sys, pid) = system();
    let mut k = Kernel32::new(&mut sys, pid);
    let committed = alloc(&mut k, 0x10000, MEM_RESERVE | MEM_COMMIT);
    let reserved = alloc(&mut k, 0x10000, MEM_RESERVE);
    let guard = k.VirtualAlloc(0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    assert_ne!(guard, 0);
    let before = sys.stats();
    let mut k = Kernel32::new(&mut sys, pid);
    for addr in [committed, committed + P - 1, reserved, guard, 0, 0x7FFF_FFFF_0000, u64::MAX, 1 << 63] {
        assert_eq!(k.read(addr, &mut []), Ok(()), "empty read at {addr:#x}");
        assert_eq!(k.write(addr, &[]), Ok(()), "empty write at {addr:#x}");
    }
    assert_eq!(sys.stats(), before, "no fault, no frame, no exception");
    assert!(matches!(pte(&sys, pid, committed), Pte::Zero | Pte::DemandZero(_)), "still untouched");
    // The guard is still armed: the first real access raises it.
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(k.read(guard, &mut [0u8; 1]).unwrap_err().code, STATUS_GUARD_PAGE_VIOLATION);
}
