//! Windows-conformance scenarios for freeing, protecting and querying private memory:
//! facts F51–F88 of `docs/windows-behaviour.md` (sections H, I, J), plus F5 and F6.
//!
//! Facts stated at NT level (NTSTATUS, in/out base and size) go through `Ntdll`; Win32 facts go
//! through `Kernel32`. Version choices: Windows 10 1803+ (V1–V24 of docs/windows-behaviour.md).
// Tests compute addresses and sizes on a 64-bit host; truncating casts cannot occur here.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
#![allow(clippy::unwrap_used)]
#![allow(non_snake_case)]

use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;

const P: u64 = 0x1000;
const G: u64 = 0x10000;
/// sizeof(MEMORY_BASIC_INFORMATION) on x64 (F81).
const MBI_LEN: usize = 48;
const SENTINEL: u32 = 0xDEAD_BEEF;

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

fn setup() -> (System, ProcessId) {
    let mut sys = System::new(Config::default().with_ram_bytes(64 << 20).with_invariant_checks()).unwrap();
    let pid = sys.create_process("test").unwrap();
    (sys, pid)
}

/// The interesting fields of a MEMORY_BASIC_INFORMATION64, comparable and printable in hex.
#[derive(PartialEq, Eq, Clone, Copy)]
struct Mbi {
    base: u64,
    alloc_base: u64,
    alloc_protect: u32,
    size: u64,
    state: u32,
    protect: u32,
    ty: u32,
}

impl std::fmt::Debug for Mbi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Mbi {{ BaseAddress: {:#x}, AllocationBase: {:#x}, AllocationProtect: {:#x}, \
             RegionSize: {:#x}, State: {:#x}, Protect: {:#x}, Type: {:#x} }}",
            self.base, self.alloc_base, self.alloc_protect, self.size, self.state, self.protect, self.ty
        )
    }
}

impl From<&MEMORY_BASIC_INFORMATION64> for Mbi {
    fn from(m: &MEMORY_BASIC_INFORMATION64) -> Self {
        Mbi {
            base: m.BaseAddress,
            alloc_base: m.AllocationBase,
            alloc_protect: m.AllocationProtect,
            size: m.RegionSize,
            state: m.State,
            protect: m.Protect,
            ty: m.Type,
        }
    }
}

/// F83: what Windows reports for free pages.
fn free(base: u64, size: u64) -> Mbi {
    Mbi { base, alloc_base: 0, alloc_protect: 0, size, state: MEM_FREE, protect: PAGE_NOACCESS, ty: 0 }
}

/// F82: reserved private pages (Protect 0).
fn reserved(base: u64, alloc_base: u64, alloc_protect: u32, size: u64) -> Mbi {
    Mbi { base, alloc_base, alloc_protect, size, state: MEM_RESERVE, protect: 0, ty: MEM_PRIVATE }
}

/// Committed private pages.
fn committed(base: u64, alloc_base: u64, alloc_protect: u32, size: u64, protect: u32) -> Mbi {
    Mbi { base, alloc_base, alloc_protect, size, state: MEM_COMMIT, protect, ty: MEM_PRIVATE }
}

/// VirtualQuery that must succeed and return sizeof(MEMORY_BASIC_INFORMATION) (F81).
fn vq(k: &mut Kernel32, addr: u64) -> Mbi {
    let mut m = MEMORY_BASIC_INFORMATION64::default();
    let n = k.VirtualQuery(addr, &mut m);
    assert_eq!(n, MBI_LEN, "VirtualQuery({addr:#x}) returned {n}, last error {}", k.GetLastError());
    Mbi::from(&m)
}

/// NtQueryVirtualMemory that must succeed.
fn ntq(nt: &mut Ntdll, addr: u64) -> Mbi {
    let mut m = MEMORY_BASIC_INFORMATION64::default();
    let st = nt.NtQueryVirtualMemory(NtCurrentProcess(), addr, &mut m);
    assert_eq!(st, STATUS_SUCCESS, "NtQueryVirtualMemory({addr:#x}) -> {st:#x}");
    Mbi::from(&m)
}

/// VirtualAlloc that must succeed.
fn valloc(k: &mut Kernel32, addr: u64, size: u64, ty: u32, prot: u32) -> u64 {
    let p = k.VirtualAlloc(addr, size, ty, prot);
    assert_ne!(p, 0, "VirtualAlloc({addr:#x}, {size:#x}, {ty:#x}, {prot:#x}) failed, last error {}", k.GetLastError());
    p
}

/// VirtualFree that must succeed.
fn vfree(k: &mut Kernel32, addr: u64, size: u64, ty: u32) {
    let ok = k.VirtualFree(addr, size, ty);
    assert_ne!(ok, 0, "VirtualFree({addr:#x}, {size:#x}, {ty:#x}) failed, last error {}", k.GetLastError());
}

/// VirtualProtect that must succeed; returns the old protection.
fn vprotect(k: &mut Kernel32, addr: u64, size: u64, prot: u32) -> u32 {
    let mut old = SENTINEL;
    let ok = k.VirtualProtect(addr, size, prot, Some(&mut old));
    assert_ne!(ok, 0, "VirtualProtect({addr:#x}, {size:#x}, {prot:#x}) failed, last error {}", k.GetLastError());
    old
}

/// A Win32 call that must fail (return 0) and set the given last error.
macro_rules! fails_with {
    ($k:ident, $call:expr, $err:expr) => {{
        $k.SetLastError(SENTINEL);
        let r = $call;
        assert_eq!(r, 0, "`{}` should fail", stringify!($call));
        assert_eq!($k.GetLastError(), $err, "`{}`: last error", stringify!($call));
    }};
}

/// NtAllocateVirtualMemory at a system-chosen address that must succeed.
fn nt_alloc(nt: &mut Ntdll, size: u64, ty: u32, prot: u32) -> u64 {
    let mut base = 0u64;
    let mut sz = size;
    let st = nt.NtAllocateVirtualMemory(NtCurrentProcess(), &mut base, 0, &mut sz, ty, prot);
    assert_eq!(st, STATUS_SUCCESS, "NtAllocateVirtualMemory(0, {size:#x}) -> {st:#x}");
    assert_ne!(base, 0);
    base
}

/// NtAllocateVirtualMemory at a given address (commit inside an existing reservation, ...).
fn nt_alloc_at(nt: &mut Ntdll, addr: u64, size: u64, ty: u32, prot: u32) {
    let mut base = addr;
    let mut sz = size;
    let st = nt.NtAllocateVirtualMemory(NtCurrentProcess(), &mut base, 0, &mut sz, ty, prot);
    assert_eq!(st, STATUS_SUCCESS, "NtAllocateVirtualMemory({addr:#x}, {size:#x}) -> {st:#x}");
}

/// NtFreeVirtualMemory: returns (status, base out, size out).
fn nt_free(nt: &mut Ntdll, addr: u64, size: u64, ty: u32) -> (NTSTATUS, u64, u64) {
    let mut base = addr;
    let mut sz = size;
    let st = nt.NtFreeVirtualMemory(NtCurrentProcess(), &mut base, &mut sz, ty);
    (st, base, sz)
}

/// Returns b such that [b, b + round_up(size, G)) is free and both neighbouring granules are
/// reserved (so a free query there has an exact RegionSize).
fn fenced_free_block(k: &mut Kernel32, size: u64) -> u64 {
    let inner = size.div_ceil(G) * G;
    let q = valloc(k, 0, G + inner + G, MEM_RESERVE, PAGE_NOACCESS);
    vfree(k, q, 0, MEM_RELEASE);
    assert_eq!(valloc(k, q, G, MEM_RESERVE, PAGE_NOACCESS), q);
    let hi = q + G + inner;
    assert_eq!(valloc(k, hi, G, MEM_RESERVE, PAGE_NOACCESS), hi);
    q + G
}

fn must_read(k: &mut Kernel32, addr: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    if let Err(e) = k.read(addr, &mut buf) {
        panic!("read {len} bytes at {addr:#x} faulted: code {:#x} at {:#x}", e.code, e.address);
    }
    buf
}

fn must_write(k: &mut Kernel32, addr: u64, data: &[u8]) {
    if let Err(e) = k.write(addr, data) {
        panic!("write at {addr:#x} faulted: code {:#x} at {:#x}", e.code, e.address);
    }
}

/// An access-violation record for `addr` with ExceptionInformation[0] = kind (F95).
fn assert_av(r: Result<(), Exception>, addr: u64, kind: u64) {
    match r {
        Ok(()) => panic!("access at {addr:#x} should raise STATUS_ACCESS_VIOLATION"),
        Err(e) => {
            assert_eq!(e.code, STATUS_ACCESS_VIOLATION, "exception code at {addr:#x}");
            assert_eq!(e.address, addr, "faulting address");
            assert_eq!(e.number_parameters, 2);
            assert_eq!(e.information[0], kind, "ExceptionInformation[0]");
            assert_eq!(e.information[1], addr, "ExceptionInformation[1]");
        }
    }
}

const READ: u64 = 0;
const WRITE: u64 = 1;

// ------------------------------------------------------------------------------------------
// H. VirtualFree / NtFreeVirtualMemory
// ------------------------------------------------------------------------------------------

#[test]
fn virtualfree_zero_free_type_is_invalid_parameter_F51() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    fails_with!(k, k.VirtualFree(p, 0x10000, 0), ERROR_INVALID_PARAMETER);
    fails_with!(k, k.VirtualFree(p, 0, 0), ERROR_INVALID_PARAMETER);
    // Nothing changed.
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, G, PAGE_READWRITE));
}

#[test]
fn virtualfree_mem_free_is_not_a_free_type_F52() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    fails_with!(k, k.VirtualFree(p, 0, MEM_FREE), ERROR_INVALID_PARAMETER);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, G, PAGE_READWRITE));
}

#[test]
fn decommit_partly_committed_reservation_leaves_it_reserved_F53() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE, PAGE_NOACCESS);
    assert_eq!(valloc(&mut k, p, P, MEM_COMMIT, PAGE_READWRITE), p);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_NOACCESS, P, PAGE_READWRITE));
    // Decommitting never-committed pages is not an error.
    vfree(&mut k, p, 0x10000, MEM_DECOMMIT);
    assert_eq!(vq(&mut k, p), reserved(p, p, PAGE_NOACCESS, G));
    // Decommit is idempotent.
    vfree(&mut k, p, 0x10000, MEM_DECOMMIT);
    assert_eq!(vq(&mut k, p), reserved(p, p, PAGE_NOACCESS, G));
    // The reservation is still there and can be released.
    vfree(&mut k, p, 0, MEM_RELEASE);
}

#[test]
fn decommit_size_zero_at_base_decommits_whole_allocation_F53() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, 0x4000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    vfree(&mut k, p, 0, MEM_DECOMMIT);
    assert_eq!(vq(&mut k, p), reserved(p, p, PAGE_READWRITE, 0x4000));
}

#[test]
fn nt_decommit_including_uncommitted_pages_succeeds_F53() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc(&mut nt, 0x3000, MEM_RESERVE, PAGE_READWRITE);
    nt_alloc_at(&mut nt, p + P, P, MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(ntq(&mut nt, p + P), committed(p + P, p, PAGE_READWRITE, P, PAGE_READWRITE));

    assert_eq!(nt_free(&mut nt, p, 0x3000, MEM_DECOMMIT), (STATUS_SUCCESS, p, 0x3000));
    assert_eq!(ntq(&mut nt, p), reserved(p, p, PAGE_READWRITE, 0x3000));

    // Decommit of a reserve-only page.
    assert_eq!(nt_free(&mut nt, p + 0x2000, P, MEM_DECOMMIT), (STATUS_SUCCESS, p + 0x2000, P));
    assert_eq!(ntq(&mut nt, p), reserved(p, p, PAGE_READWRITE, 0x3000));
}

#[test]
fn virtualfree_release_requires_size_zero_F54() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    fails_with!(k, k.VirtualFree(p, 1, MEM_RELEASE), ERROR_INVALID_PARAMETER);
    // Even the exact size of the allocation is refused at the Win32 layer.
    fails_with!(k, k.VirtualFree(p, G, MEM_RELEASE), ERROR_INVALID_PARAMETER);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, G, PAGE_READWRITE));
}

#[test]
fn virtualfree_release_frees_every_page_of_reservation_F55() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let b = fenced_free_block(&mut k, G);
    let p = valloc(&mut k, b, G, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(p, b);
    // Mixed: some pages committed, some only reserved.
    assert_eq!(valloc(&mut k, p + 0x3000, 0x2000, MEM_COMMIT, PAGE_READONLY), p + 0x3000);
    assert_eq!(vq(&mut k, p), reserved(p, p, PAGE_READWRITE, 0x3000));

    assert_ne!(k.VirtualFree(p, 0, MEM_RELEASE), 0);
    assert_eq!(vq(&mut k, p), free(p, G));
    assert_eq!(vq(&mut k, p + 0x3000), free(p + 0x3000, G - 0x3000));
    assert_eq!(vq(&mut k, p + 0xF000), free(p + 0xF000, P));
}

#[test]
fn virtualfree_release_and_decommit_together_is_invalid_F56() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    fails_with!(k, k.VirtualFree(p, 0, MEM_RELEASE | MEM_DECOMMIT), ERROR_INVALID_PARAMETER);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, G, PAGE_READWRITE));
}

#[test]
fn nt_free_neither_or_both_free_types_is_invalid_parameter_4_F56() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc(&mut nt, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    let (st, _, _) = nt_free(&mut nt, p, 0, MEM_RELEASE | MEM_DECOMMIT);
    assert_eq!(st, STATUS_INVALID_PARAMETER_4);
    let (st, _, _) = nt_free(&mut nt, p, 0, 0);
    assert_eq!(st, STATUS_INVALID_PARAMETER_4);
    assert_eq!(ntq(&mut nt, p), committed(p, p, PAGE_READWRITE, G, PAGE_READWRITE));
}

#[test]
fn nt_release_size_zero_anywhere_in_first_page_releases_all_F57() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc(&mut nt, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(nt_free(&mut nt, p + 0xFFF, 0, MEM_RELEASE), (STATUS_SUCCESS, p, 0x10000));
    let m = ntq(&mut nt, p);
    assert_eq!(m.state, MEM_FREE, "{m:?}");
    assert!(m.size >= G, "{m:?}");

    // Same with a larger, partly committed reservation.
    let p = nt_alloc(&mut nt, 0x30000, MEM_RESERVE, PAGE_READWRITE);
    nt_alloc_at(&mut nt, p + 0x12000, 0x3000, MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(nt_free(&mut nt, p + 0x800, 0, MEM_RELEASE), (STATUS_SUCCESS, p, 0x30000));
    for a in [p, p + 0x12000, p + 0x2F000] {
        assert_eq!(ntq(&mut nt, a).state, MEM_FREE, "{a:#x}");
    }
}

#[test]
fn nt_release_size_zero_beyond_first_page_is_not_at_base_F58() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc(&mut nt, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(nt_free(&mut nt, p + 0x1000, 0, MEM_RELEASE), (STATUS_FREE_VM_NOT_AT_BASE, p + 0x1000, 0));
    assert_eq!(nt_free(&mut nt, p + 0x1001, 0, MEM_RELEASE), (STATUS_FREE_VM_NOT_AT_BASE, p + 0x1001, 0));
    assert_eq!(ntq(&mut nt, p), committed(p, p, PAGE_READWRITE, G, PAGE_READWRITE));
}

#[test]
fn virtualfree_release_not_at_base_is_invalid_address_F58() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    fails_with!(k, k.VirtualFree(p + 0x1000, 0, MEM_RELEASE), ERROR_INVALID_ADDRESS);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, G, PAGE_READWRITE));
    vfree(&mut k, p, 0, MEM_RELEASE);
}

#[test]
fn nt_decommit_size_zero_not_in_first_page_is_not_at_base_F59() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc(&mut nt, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(nt_free(&mut nt, p + 0x1001, 0, MEM_DECOMMIT), (STATUS_FREE_VM_NOT_AT_BASE, p + 0x1001, 0));
    assert_eq!(ntq(&mut nt, p), committed(p, p, PAGE_READWRITE, G, PAGE_READWRITE));
}

#[test]
fn nt_decommit_size_zero_in_first_page_decommits_all_size_out_zero_F59() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc(&mut nt, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    // V6: size out is 0 on Windows 10 1803+.
    assert_eq!(nt_free(&mut nt, p + 0xFFE, 0, MEM_DECOMMIT), (STATUS_SUCCESS, p, 0));
    assert_eq!(ntq(&mut nt, p), reserved(p, p, PAGE_READWRITE, G));
    // The reservation is intact: releasing it works.
    assert_eq!(nt_free(&mut nt, p, 0, MEM_RELEASE), (STATUS_SUCCESS, p, G));
}

#[test]
fn nt_decommit_covers_every_touched_page_F60() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc(&mut nt, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(nt_free(&mut nt, p + 0x1FFF, 2, MEM_DECOMMIT), (STATUS_SUCCESS, p + 0x1000, 0x2000));
    assert_eq!(ntq(&mut nt, p), committed(p, p, PAGE_READWRITE, P, PAGE_READWRITE));
    assert_eq!(ntq(&mut nt, p + 0x1000), reserved(p + 0x1000, p, PAGE_READWRITE, 0x2000));
    assert_eq!(ntq(&mut nt, p + 0x3000), committed(p + 0x3000, p, PAGE_READWRITE, 0xD000, PAGE_READWRITE));

    // (Buffer+1, PAGE_SIZE-1) -> address out Buffer, size out PAGE_SIZE.
    let b = nt_alloc(&mut nt, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(nt_free(&mut nt, b + 1, P - 1, MEM_DECOMMIT), (STATUS_SUCCESS, b, P));
    assert_eq!(ntq(&mut nt, b), reserved(b, b, PAGE_READWRITE, P));
}

#[test]
fn virtualfree_decommit_covers_every_touched_page_F60() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    vfree(&mut k, p + 0x1FFF, 2, MEM_DECOMMIT);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, P, PAGE_READWRITE));
    assert_eq!(vq(&mut k, p + 0x1000), reserved(p + 0x1000, p, PAGE_READWRITE, 0x2000));
    assert_eq!(vq(&mut k, p + 0x3000), committed(p + 0x3000, p, PAGE_READWRITE, 0xD000, PAGE_READWRITE));
    vfree(&mut k, p + 0x5001, P - 1, MEM_DECOMMIT);
    assert_eq!(vq(&mut k, p + 0x5000), reserved(p + 0x5000, p, PAGE_READWRITE, P));
}

#[test]
fn nt_free_range_exceeding_allocation_is_unable_to_free_vm_F61() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc(&mut nt, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(nt_free(&mut nt, p, 0x11000, MEM_RELEASE), (STATUS_UNABLE_TO_FREE_VM, p, 0x11000));
    assert_eq!(nt_free(&mut nt, p + 0x1001, 0xFFFF, MEM_RELEASE), (STATUS_UNABLE_TO_FREE_VM, p + 0x1001, 0xFFFF));
    assert_eq!(ntq(&mut nt, p), committed(p, p, PAGE_READWRITE, G, PAGE_READWRITE));

    // 1-page reservation, size 0x1001 (either free type), and (Buffer+1, PAGE_SIZE).
    let b = nt_alloc(&mut nt, P, MEM_RESERVE, PAGE_READWRITE);
    for ty in [MEM_DECOMMIT, MEM_RELEASE] {
        assert_eq!(nt_free(&mut nt, b, 0x1001, ty), (STATUS_UNABLE_TO_FREE_VM, b, 0x1001), "{ty:#x}");
        assert_eq!(nt_free(&mut nt, b + 1, P, ty), (STATUS_UNABLE_TO_FREE_VM, b + 1, P), "{ty:#x}");
    }
    assert_eq!(ntq(&mut nt, b), reserved(b, b, PAGE_READWRITE, P));

    // (base, 0x4000) on a 0x3000 allocation.
    let c = nt_alloc(&mut nt, 0x3000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    for ty in [MEM_DECOMMIT, MEM_RELEASE] {
        assert_eq!(nt_free(&mut nt, c, 0x4000, ty), (STATUS_UNABLE_TO_FREE_VM, c, 0x4000), "{ty:#x}");
    }
    assert_eq!(ntq(&mut nt, c), committed(c, c, PAGE_READWRITE, 0x3000, PAGE_READWRITE));
}

#[test]
fn virtualfree_decommit_beyond_allocation_is_invalid_parameter_F61() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    // STATUS_UNABLE_TO_FREE_VM -> 87 (derived).
    fails_with!(k, k.VirtualFree(p, 0x11000, MEM_DECOMMIT), ERROR_INVALID_PARAMETER);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, G, PAGE_READWRITE));
}

#[test]
fn nt_partial_release_punches_a_hole_F62() {
    let (mut sys, pid) = setup();
    let p;
    {
        let mut k = Kernel32::new(&mut sys, pid);
        p = valloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        must_write(&mut k, p, &[0x11]);
        must_write(&mut k, p + 0x1000, &[0x22]);
        must_write(&mut k, p + 0x2000, &[0x33]);
    }
    {
        let mut nt = Ntdll::new(&mut sys, pid);
        assert_eq!(nt_free(&mut nt, p + 0x1001, 0xFFF, MEM_RELEASE), (STATUS_SUCCESS, p + 0x1000, 0x1000));
        assert_eq!(ntq(&mut nt, p), committed(p, p, PAGE_READWRITE, P, PAGE_READWRITE));
        assert_eq!(ntq(&mut nt, p + 0x1000), free(p + 0x1000, P));
        // The part above the hole is now an allocation of its own (F63).
        assert_eq!(ntq(&mut nt, p + 0x2000), committed(p + 0x2000, p + 0x2000, PAGE_READWRITE, 0xE000, PAGE_READWRITE));
    }
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(must_read(&mut k, p, 1), [0x11]);
    assert_eq!(must_read(&mut k, p + 0x2000, 1), [0x33]);
    let mut b = [0u8; 1];
    assert_av(k.read(p + 0x1000, &mut b), p + 0x1000, READ);
}

#[test]
fn nt_two_page_reservation_released_page_by_page_either_order_F62() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);

    let b = nt_alloc(&mut nt, 0x2000, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(nt_free(&mut nt, b, P, MEM_RELEASE), (STATUS_SUCCESS, b, P));
    assert_eq!(ntq(&mut nt, b).state, MEM_FREE);
    assert_eq!(ntq(&mut nt, b + P), reserved(b + P, b + P, PAGE_READWRITE, P));
    assert_eq!(nt_free(&mut nt, b + P, P, MEM_RELEASE), (STATUS_SUCCESS, b + P, P));
    assert_eq!(ntq(&mut nt, b + P).state, MEM_FREE);

    let b = nt_alloc(&mut nt, 0x2000, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(nt_free(&mut nt, b + P, P, MEM_RELEASE), (STATUS_SUCCESS, b + P, P));
    assert_eq!(ntq(&mut nt, b), reserved(b, b, PAGE_READWRITE, P));
    assert_eq!(nt_free(&mut nt, b, P, MEM_RELEASE), (STATUS_SUCCESS, b, P));
    assert_eq!(ntq(&mut nt, b).state, MEM_FREE);

    // (Buffer+1, PAGE_SIZE) touches both pages and releases both.
    let b = nt_alloc(&mut nt, 0x2000, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(nt_free(&mut nt, b + 1, P, MEM_RELEASE), (STATUS_SUCCESS, b, 0x2000));
    assert_eq!(ntq(&mut nt, b).state, MEM_FREE);
    assert_eq!(ntq(&mut nt, b + P).state, MEM_FREE);
}

#[test]
fn nt_hole_and_parts_after_partial_release_F63() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc(&mut nt, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(nt_free(&mut nt, p + 0x1001, 0xFFF, MEM_RELEASE), (STATUS_SUCCESS, p + 0x1000, 0x1000));
    // The hole.
    assert_eq!(nt_free(&mut nt, p + 0x1000, 0, MEM_RELEASE), (STATUS_MEMORY_NOT_ALLOCATED, p + 0x1000, 0));
    assert_eq!(nt_free(&mut nt, p + 0x1000, 0x1000, MEM_DECOMMIT), (STATUS_MEMORY_NOT_ALLOCATED, p + 0x1000, 0x1000));
    // A range spanning the hole.
    for ty in [MEM_DECOMMIT, MEM_RELEASE] {
        assert_eq!(nt_free(&mut nt, p, G, ty), (STATUS_UNABLE_TO_FREE_VM, p, G), "{ty:#x}");
    }
    assert_eq!(ntq(&mut nt, p), committed(p, p, PAGE_READWRITE, P, PAGE_READWRITE));
    assert_eq!(ntq(&mut nt, p + 0x2000), committed(p + 0x2000, p + 0x2000, PAGE_READWRITE, 0xE000, PAGE_READWRITE));
    // The part above the hole is released as an allocation of its own.
    assert_eq!(nt_free(&mut nt, p + 0x2000, 0, MEM_RELEASE), (STATUS_SUCCESS, p + 0x2000, 0xE000));
    assert_eq!(ntq(&mut nt, p + 0x2000).state, MEM_FREE);
    // And the part below.
    assert_eq!(nt_free(&mut nt, p, 0, MEM_RELEASE), (STATUS_SUCCESS, p, P));
    assert_eq!(ntq(&mut nt, p).state, MEM_FREE);
}

#[test]
fn nt_release_middle_granule_of_reservation_F64() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc(&mut nt, 0x30000, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(nt_free(&mut nt, p + 0x10000, 0x10000, MEM_RELEASE), (STATUS_SUCCESS, p + 0x10000, 0x10000));
    assert_eq!(ntq(&mut nt, p), reserved(p, p, PAGE_READWRITE, G));
    assert_eq!(ntq(&mut nt, p + 0x18000), free(p + 0x18000, 0x8000));
    assert_eq!(ntq(&mut nt, p + 0x20000), reserved(p + 0x20000, p + 0x20000, PAGE_READWRITE, G));
}

#[test]
fn nt_release_of_unallocated_address_is_memory_not_allocated_F65() {
    let (mut sys, pid) = setup();
    let (q, p);
    {
        let mut k = Kernel32::new(&mut sys, pid);
        q = fenced_free_block(&mut k, 2 * G);
        // 1-page reservation at q; q+0x8000 is in its granule but unallocated; q+G is free.
        p = valloc(&mut k, q, P, MEM_RESERVE, PAGE_READWRITE);
        assert_eq!(p, q);
    }
    let mut nt = Ntdll::new(&mut sys, pid);
    assert_eq!(nt_free(&mut nt, q + G, 0, MEM_RELEASE), (STATUS_MEMORY_NOT_ALLOCATED, q + G, 0));
    assert_eq!(nt_free(&mut nt, q + 0x8000, 0, MEM_RELEASE), (STATUS_MEMORY_NOT_ALLOCATED, q + 0x8000, 0));
    assert_eq!(ntq(&mut nt, p), reserved(p, p, PAGE_READWRITE, P));
}

#[test]
fn virtualfree_release_twice_is_invalid_address_F65() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    vfree(&mut k, p, 0, MEM_RELEASE);
    fails_with!(k, k.VirtualFree(p, 0, MEM_RELEASE), ERROR_INVALID_ADDRESS);
}

#[test]
fn nt_release_spanning_two_allocations_and_gap_is_unable_to_free_vm_F66() {
    let (mut sys, pid) = setup();
    let q;
    {
        let mut k = Kernel32::new(&mut sys, pid);
        q = fenced_free_block(&mut k, 3 * G);
        assert_eq!(valloc(&mut k, q, G, MEM_RESERVE, PAGE_READWRITE), q);
        assert_eq!(valloc(&mut k, q + 2 * G, G, MEM_RESERVE, PAGE_READWRITE), q + 2 * G);
    }
    let mut nt = Ntdll::new(&mut sys, pid);
    assert_eq!(nt_free(&mut nt, q, 0x30000, MEM_RELEASE), (STATUS_UNABLE_TO_FREE_VM, q, 0x30000));
    assert_eq!(ntq(&mut nt, q), reserved(q, q, PAGE_READWRITE, G));
    assert_eq!(ntq(&mut nt, q + 2 * G), reserved(q + 2 * G, q + 2 * G, PAGE_READWRITE, G));
    assert_eq!(nt_free(&mut nt, q, G, MEM_RELEASE), (STATUS_SUCCESS, q, G));
    assert_eq!(nt_free(&mut nt, q + 2 * G, G, MEM_RELEASE), (STATUS_SUCCESS, q + 2 * G, G));
}

#[test]
fn nt_release_spanning_three_adjacent_allocations_is_unable_to_free_vm_F66() {
    let (mut sys, pid) = setup();
    let q;
    {
        let mut k = Kernel32::new(&mut sys, pid);
        q = fenced_free_block(&mut k, 3 * G);
        for i in 0..3 {
            assert_eq!(valloc(&mut k, q + i * G, G, MEM_RESERVE, PAGE_READWRITE), q + i * G);
        }
    }
    let mut nt = Ntdll::new(&mut sys, pid);
    assert_eq!(nt_free(&mut nt, q, 0x30000, MEM_RELEASE), (STATUS_UNABLE_TO_FREE_VM, q, 0x30000));
    for i in 0..3 {
        let a = q + i * G;
        assert_eq!(ntq(&mut nt, a), reserved(a, a, PAGE_READWRITE, G));
    }
    for i in 0..3 {
        let a = q + i * G;
        assert_eq!(nt_free(&mut nt, a, 0, MEM_RELEASE), (STATUS_SUCCESS, a, G));
    }
    assert_eq!(ntq(&mut nt, q), free(q, 3 * G));
}

#[test]
fn virtualfreeex_null_handle_is_invalid_handle_F67() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    fails_with!(k, k.VirtualFreeEx(std::ptr::null_mut(), p, 0, MEM_RELEASE), ERROR_INVALID_HANDLE);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, G, PAGE_READWRITE));
    let h = k.GetCurrentProcess();
    assert_ne!(k.VirtualFreeEx(h, p, 0, MEM_RELEASE), 0);
}

#[test]
fn nt_free_null_handle_is_invalid_handle_F67() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc(&mut nt, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    let mut base = p;
    let mut size = 0u64;
    let st = nt.NtFreeVirtualMemory(std::ptr::null_mut(), &mut base, &mut size, MEM_RELEASE);
    assert_eq!(st, STATUS_INVALID_HANDLE);
    assert_eq!(ntq(&mut nt, p), committed(p, p, PAGE_READWRITE, G, PAGE_READWRITE));
}

#[test]
fn access_after_decommit_faults_and_recommit_reads_zero_F69() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, 0x2000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    must_write(&mut k, p + 0x10, &[0xAB; 16]);
    must_write(&mut k, p + 0x1010, &[0xCD; 16]);
    vfree(&mut k, p, P, MEM_DECOMMIT);

    let mut b = [0u8; 4];
    assert_av(k.read(p + 0x10, &mut b), p + 0x10, READ);
    assert_av(k.write(p + 0x20, &[1]), p + 0x20, WRITE);
    // The other page is untouched.
    assert_eq!(must_read(&mut k, p + 0x1010, 16), [0xCD; 16]);

    assert_eq!(valloc(&mut k, p, P, MEM_COMMIT, PAGE_READWRITE), p);
    assert_eq!(must_read(&mut k, p, P as usize), vec![0u8; P as usize]);
}

#[test]
fn access_after_release_faults_F69() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    must_write(&mut k, p + 0x5000, &[0x5A; 8]);
    vfree(&mut k, p, 0, MEM_RELEASE);
    let mut b = [0u8; 8];
    assert_av(k.read(p + 0x5000, &mut b), p + 0x5000, READ);
    assert_av(k.write(p, &[1]), p, WRITE);
    // Reallocated at the same address (F11), the memory reads as zero again.
    assert_eq!(valloc(&mut k, p, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE), p);
    assert_eq!(must_read(&mut k, p + 0x5000, 8), [0u8; 8]);
}

// ------------------------------------------------------------------------------------------
// I. VirtualProtect / NtProtectVirtualMemory
// ------------------------------------------------------------------------------------------

#[test]
fn virtualprotect_null_old_protect_is_noaccess_error_F70() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    fails_with!(k, k.VirtualProtect(p, P, PAGE_READONLY, None), ERROR_NOACCESS);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, P, PAGE_READWRITE));
    // Still writable.
    must_write(&mut k, p, &[1]);
}

#[test]
fn nt_protect_null_old_protect_is_access_violation_F70() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc(&mut nt, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    let mut base = p;
    let mut size = P;
    let st = nt.NtProtectVirtualMemory(NtCurrentProcess(), &mut base, &mut size, PAGE_READONLY, None);
    assert_eq!(st, STATUS_ACCESS_VIOLATION);
    assert_eq!(ntq(&mut nt, p), committed(p, p, PAGE_READWRITE, P, PAGE_READWRITE));
}

#[test]
fn virtualprotect_same_protection_is_fine_F71() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_NOACCESS);
    assert_eq!(vprotect(&mut k, p, P, PAGE_NOACCESS), PAGE_NOACCESS);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_NOACCESS, P, PAGE_NOACCESS));
}

#[test]
fn virtualprotect_old_protect_is_previous_value_F72() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_NOACCESS);
    assert_eq!(vprotect(&mut k, p, P, PAGE_READONLY), PAGE_NOACCESS);
    assert_eq!(vprotect(&mut k, p, P, PAGE_READWRITE), PAGE_READONLY);
    assert_eq!(vprotect(&mut k, p, P, PAGE_EXECUTE_READ), PAGE_READWRITE);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_NOACCESS, P, PAGE_EXECUTE_READ));
}

#[test]
fn virtualprotect_old_protect_is_that_of_first_page_F72() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, 0x3000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(vprotect(&mut k, p, P, PAGE_READONLY), PAGE_READWRITE);
    assert_eq!(vprotect(&mut k, p + 0x2000, P, PAGE_EXECUTE), PAGE_READWRITE);
    // Range starting in the RO page, covering RW and X pages: old = RO (first page).
    assert_eq!(vprotect(&mut k, p, 0x3000, PAGE_NOACCESS), PAGE_READONLY);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, 0x3000, PAGE_NOACCESS));
    // Restore differing protections, then start in the middle page.
    assert_eq!(vprotect(&mut k, p + 0x1000, P, PAGE_READWRITE), PAGE_NOACCESS);
    assert_eq!(vprotect(&mut k, p + 0x1000, 0x2000, PAGE_READONLY), PAGE_READWRITE);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, P, PAGE_NOACCESS));
    assert_eq!(vq(&mut k, p + P), committed(p + P, p, PAGE_READWRITE, 0x2000, PAGE_READONLY));
}

#[test]
fn virtualprotect_on_reserved_range_is_invalid_address_F73() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE, PAGE_NOACCESS);
    let mut old = SENTINEL;
    fails_with!(k, k.VirtualProtect(p, P, PAGE_READONLY, Some(&mut old)), ERROR_INVALID_ADDRESS);
    assert_eq!(vq(&mut k, p), reserved(p, p, PAGE_NOACCESS, G));
}

#[test]
fn virtualprotect_on_partly_committed_range_changes_nothing_F73() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE, PAGE_NOACCESS);
    assert_eq!(valloc(&mut k, p, P, MEM_COMMIT, PAGE_READWRITE), p);
    let mut old = SENTINEL;
    fails_with!(k, k.VirtualProtect(p, 0xFFFC, PAGE_READONLY, Some(&mut old)), ERROR_INVALID_ADDRESS);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_NOACCESS, P, PAGE_READWRITE));
    assert_eq!(vq(&mut k, p + P), reserved(p + P, p, PAGE_NOACCESS, G - P));
    must_write(&mut k, p, &[7]);
}

#[test]
fn virtualprotect_on_free_memory_is_invalid_address_F73() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let b = fenced_free_block(&mut k, G);
    let mut old = SENTINEL;
    fails_with!(k, k.VirtualProtect(b, P, PAGE_READONLY, Some(&mut old)), ERROR_INVALID_ADDRESS);
    assert_eq!(vq(&mut k, b), free(b, G));
}

const BASE_PROTECTIONS: [u32; 8] = [
    PAGE_NOACCESS,
    PAGE_READONLY,
    PAGE_READWRITE,
    PAGE_WRITECOPY,
    PAGE_EXECUTE,
    PAGE_EXECUTE_READ,
    PAGE_EXECUTE_READWRITE,
    PAGE_EXECUTE_WRITECOPY,
];

#[test]
fn virtualprotect_accepts_exactly_the_private_protections_F74() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_NOACCESS);
    for v in 0u32..=0xFF {
        let valid = v.count_ones() == 1 && v != PAGE_WRITECOPY && v != PAGE_EXECUTE_WRITECOPY;
        let mut old = SENTINEL;
        k.SetLastError(SENTINEL);
        let ok = k.VirtualProtect(p, P, v, Some(&mut old));
        if valid {
            assert_ne!(ok, 0, "VirtualProtect({v:#x}) failed, last error {}", k.GetLastError());
            assert_eq!(old, PAGE_NOACCESS, "old protect for {v:#x}");
            assert_eq!(vq(&mut k, p), committed(p, p, PAGE_NOACCESS, P, v), "after {v:#x}");
            assert_eq!(vprotect(&mut k, p, P, PAGE_NOACCESS), v, "restoring after {v:#x}");
        } else {
            assert_eq!(ok, 0, "VirtualProtect({v:#x}) should fail");
            assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER, "last error for {v:#x}");
            assert_eq!(vq(&mut k, p), committed(p, p, PAGE_NOACCESS, P, PAGE_NOACCESS), "{v:#x}");
        }
    }
}

#[test]
fn virtualprotect_accepts_guard_modifier_on_accessible_protections_F74() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    for b in [PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE] {
        assert_eq!(vprotect(&mut k, p, P, b | PAGE_GUARD), PAGE_READWRITE, "{b:#x}|GUARD");
        assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, P, b | PAGE_GUARD));
        assert_eq!(vprotect(&mut k, p, P, PAGE_READWRITE), b | PAGE_GUARD);
    }
}

#[test]
fn virtualprotect_nocache_on_plain_block_reports_plain_protection_F74_V5() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(vprotect(&mut k, p, P, PAGE_READONLY | PAGE_NOCACHE), PAGE_READWRITE);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, P, PAGE_READONLY));
}

#[test]
fn virtualprotect_rejects_combinations_of_base_protections_F74() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    for (i, &a) in BASE_PROTECTIONS.iter().enumerate() {
        for &b in &BASE_PROTECTIONS[i + 1..] {
            let mut old = SENTINEL;
            fails_with!(k, k.VirtualProtect(p, P, a | b, Some(&mut old)), ERROR_INVALID_PARAMETER);
        }
    }
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, P, PAGE_READWRITE));
}

#[test]
fn virtualprotect_rejects_writecopy_with_rw_and_zero_F75() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    let mut old = SENTINEL;
    fails_with!(
        k,
        k.VirtualProtect(p, 0x1000, PAGE_READWRITE | PAGE_EXECUTE_WRITECOPY, Some(&mut old)),
        ERROR_INVALID_PARAMETER
    );
    fails_with!(k, k.VirtualProtect(p, 0x1000, 0, Some(&mut old)), ERROR_INVALID_PARAMETER);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_READWRITE, P, PAGE_READWRITE));
}

#[test]
fn partial_protect_splits_region_and_restore_merges_F76() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let b = valloc(&mut k, 0, 16 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(vprotect(&mut k, b, 3 * P, PAGE_READONLY), PAGE_READWRITE);
    assert_eq!(vq(&mut k, b), committed(b, b, PAGE_READWRITE, 3 * P, PAGE_READONLY));
    assert_eq!(vq(&mut k, b + 3 * P), committed(b + 3 * P, b, PAGE_READWRITE, 13 * P, PAGE_READWRITE));
    assert_eq!(vprotect(&mut k, b, 3 * P, PAGE_READWRITE), PAGE_READONLY);
    assert_eq!(vq(&mut k, b), committed(b, b, PAGE_READWRITE, 0x10000, PAGE_READWRITE));
}

#[test]
fn protect_in_middle_makes_three_regions_and_restore_merges_F76() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let b = valloc(&mut k, 0, 16 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(vprotect(&mut k, b + 5 * P, 2 * P, PAGE_EXECUTE_READ), PAGE_READWRITE);
    assert_eq!(vq(&mut k, b), committed(b, b, PAGE_READWRITE, 5 * P, PAGE_READWRITE));
    assert_eq!(vq(&mut k, b + 5 * P + 0x123), committed(b + 5 * P, b, PAGE_READWRITE, 2 * P, PAGE_EXECUTE_READ));
    assert_eq!(vq(&mut k, b + 7 * P), committed(b + 7 * P, b, PAGE_READWRITE, 9 * P, PAGE_READWRITE));
    assert_eq!(vprotect(&mut k, b + 5 * P, 2 * P, PAGE_READWRITE), PAGE_EXECUTE_READ);
    assert_eq!(vq(&mut k, b), committed(b, b, PAGE_READWRITE, 16 * P, PAGE_READWRITE));
}

#[test]
fn data_survives_protection_changes_F77() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    must_write(&mut k, p, &[0xFF]);

    assert_eq!(vprotect(&mut k, p, P, PAGE_READONLY), PAGE_READWRITE);
    assert_av(k.write(p, &[0x00]), p, WRITE);
    assert_eq!(must_read(&mut k, p, 1), [0xFF]);

    assert_eq!(vprotect(&mut k, p, P, PAGE_NOACCESS), PAGE_READONLY);
    let mut b = [0u8; 1];
    assert_av(k.read(p, &mut b), p, READ);

    assert_eq!(vprotect(&mut k, p, P, PAGE_READONLY), PAGE_NOACCESS);
    assert_eq!(must_read(&mut k, p, 1), [0xFF]);

    assert_eq!(vprotect(&mut k, p, P, PAGE_READWRITE), PAGE_READONLY);
    must_write(&mut k, p + 1, &[0xEE]);
    assert_eq!(must_read(&mut k, p, 2), [0xFF, 0xEE]);
}

#[test]
fn virtualprotect_reports_and_sets_guard_bit_F78() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    assert_eq!(vq(&mut k, p), committed(p, p, 0x104, P, 0x104));
    assert_eq!(vprotect(&mut k, p, P, PAGE_READWRITE), 0x104);
    assert_eq!(vq(&mut k, p), committed(p, p, 0x104, P, PAGE_READWRITE));
    // Guard cleared: a read succeeds without an exception.
    must_read(&mut k, p, 1);
    assert_eq!(vprotect(&mut k, p, P, PAGE_READWRITE | PAGE_GUARD), PAGE_READWRITE);
    assert_eq!(vq(&mut k, p), committed(p, p, 0x104, P, 0x104));
    // Re-armed: the next access raises the guard exception.
    let mut b = [0u8; 1];
    match k.read(p, &mut b) {
        Ok(()) => panic!("read of a re-armed guard page should raise a guard-page exception"),
        Err(e) => assert_eq!(e.code, STATUS_GUARD_PAGE_VIOLATION),
    }
}

#[test]
fn virtualprotect_may_not_span_separate_allocations_F79() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let q = fenced_free_block(&mut k, 3 * G);
    assert_eq!(valloc(&mut k, q, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE), q);
    assert_eq!(valloc(&mut k, q + G, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE), q + G);
    let mut old = SENTINEL;
    // Two adjacent, fully committed allocations (STATUS_CONFLICTING_ADDRESSES -> 487).
    fails_with!(k, k.VirtualProtect(q, 2 * G, PAGE_READONLY, Some(&mut old)), ERROR_INVALID_ADDRESS);
    fails_with!(k, k.VirtualProtect(q + G - P, 2 * P, PAGE_READONLY, Some(&mut old)), ERROR_INVALID_ADDRESS);
    // From an allocation into the free space after it.
    fails_with!(k, k.VirtualProtect(q + G, G + P, PAGE_READONLY, Some(&mut old)), ERROR_INVALID_ADDRESS);
    assert_eq!(vq(&mut k, q), committed(q, q, PAGE_READWRITE, G, PAGE_READWRITE));
    assert_eq!(vq(&mut k, q + G), committed(q + G, q + G, PAGE_READWRITE, G, PAGE_READWRITE));
    // Each one alone is fine.
    assert_eq!(vprotect(&mut k, q, G, PAGE_READONLY), PAGE_READWRITE);
    assert_eq!(vprotect(&mut k, q + G, G, PAGE_READONLY), PAGE_READWRITE);
}

#[test]
fn noaccess_block_can_be_released_F80() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let b = fenced_free_block(&mut k, G);
    let p = valloc(&mut k, b, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    must_write(&mut k, p, &[1, 2, 3]);
    assert_eq!(vprotect(&mut k, p, G, PAGE_NOACCESS), PAGE_READWRITE);
    assert_ne!(k.VirtualFree(p, 0, MEM_RELEASE), 0);
    assert_eq!(vq(&mut k, p), free(p, G));
}

// ------------------------------------------------------------------------------------------
// J. VirtualQuery / MEMORY_BASIC_INFORMATION
// ------------------------------------------------------------------------------------------

#[test]
fn virtualquery_returns_sizeof_mbi_F81() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE, PAGE_READWRITE);
    let mut m = MEMORY_BASIC_INFORMATION64::default();
    assert_eq!(k.VirtualQuery(p, &mut m), 48);
    assert_eq!(std::mem::size_of::<MEMORY_BASIC_INFORMATION64>(), 48);
    // On failure 0 (see F5).
    let mut m = MEMORY_BASIC_INFORMATION64::default();
    assert_eq!(k.VirtualQuery(0x8000_0000_0000, &mut m), 0);
}

#[test]
fn query_reserved_pages_reports_protect_zero_F82() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    for prot in [PAGE_NOACCESS, PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE_READWRITE] {
        let p = valloc(&mut k, 0, 0xFFFC, MEM_RESERVE, prot);
        assert_eq!(vq(&mut k, p), reserved(p, p, prot, G), "reserved with {prot:#x}");
        assert_eq!(vq(&mut k, p + 0x7ABC), reserved(p + 0x7000, p, prot, 0x9000));
    }
}

#[test]
fn query_free_pages_exact_fields_F83() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let b = fenced_free_block(&mut k, G);
    assert_eq!(vq(&mut k, b), free(b, G));
    // BaseAddress = the queried page, RegionSize = rest of the free run (F84).
    assert_eq!(vq(&mut k, b + 0x1234), free(b + 0x1000, G - 0x1000));
    assert_eq!(vq(&mut k, b + G - 1), free(b + G - P, P));

    // The same after a release.
    let p = valloc(&mut k, b, G, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READWRITE);
    vfree(&mut k, p, 0, MEM_RELEASE);
    assert_eq!(vq(&mut k, b + 0x4000), free(b + 0x4000, G - 0x4000));
}

#[test]
fn query_rounds_base_down_and_region_runs_to_end_F84() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(vq(&mut k, p + 0xF700), committed(p + 0xF000, p, PAGE_READWRITE, P, PAGE_READWRITE));
    assert_eq!(vq(&mut k, p + 0x5123), committed(p + 0x5000, p, PAGE_READWRITE, 0xB000, PAGE_READWRITE));
}

#[test]
fn query_into_large_free_block_returns_rest_of_block_F84() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    const MB: u64 = 1 << 20;
    let b = fenced_free_block(&mut k, 40 * MB);
    assert_eq!(vq(&mut k, b + 10 * MB), free(b + 10 * MB, 30 * MB));
    assert_eq!(vq(&mut k, b), free(b, 40 * MB));
}

#[test]
fn adjacent_allocations_are_separate_regions_F84() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let q = fenced_free_block(&mut k, 2 * G);
    assert_eq!(valloc(&mut k, q, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE), q);
    assert_eq!(valloc(&mut k, q + G, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE), q + G);
    assert_eq!(vq(&mut k, q), committed(q, q, PAGE_READWRITE, G, PAGE_READWRITE));
    assert_eq!(vq(&mut k, q + G), committed(q + G, q + G, PAGE_READWRITE, G, PAGE_READWRITE));
    // Same for reserved neighbours.
    let r = fenced_free_block(&mut k, 2 * G);
    assert_eq!(valloc(&mut k, r, G, MEM_RESERVE, PAGE_READWRITE), r);
    assert_eq!(valloc(&mut k, r + G, G, MEM_RESERVE, PAGE_READWRITE), r + G);
    assert_eq!(vq(&mut k, r + 0x8000), reserved(r + 0x8000, r, PAGE_READWRITE, 0x8000));
}

#[test]
fn allocation_base_is_reservation_base_for_every_page_F85() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE, PAGE_NOACCESS);
    assert_eq!(valloc(&mut k, p + 0x3000, 0x2000, MEM_COMMIT, PAGE_READWRITE), p + 0x3000);
    assert_eq!(valloc(&mut k, p + 0x9000, P, MEM_COMMIT, PAGE_EXECUTE_READ), p + 0x9000);
    for page in 0..16 {
        let a = p + page * P + 0x10;
        let m = vq(&mut k, a);
        assert_eq!(m.alloc_base, p, "page {page}: {m:?}");
        assert_eq!(m.base, p + page * P, "page {page}: {m:?}");
        assert_eq!(m.alloc_protect, PAGE_NOACCESS, "page {page}: {m:?}");
        assert_eq!(m.ty, MEM_PRIVATE, "page {page}: {m:?}");
    }
}

#[test]
fn allocation_base_of_unaligned_reservation_is_rounded_base_F85() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let q = fenced_free_block(&mut k, G);
    // F14: start rounds down to 64 KiB, end up to a page -> [q, q+0x6000).
    assert_eq!(valloc(&mut k, q + 0x3456, 0x2000, MEM_RESERVE, PAGE_READWRITE), q);
    assert_eq!(vq(&mut k, q + 0x5FFF), reserved(q + 0x5000, q, PAGE_READWRITE, P));
    assert_eq!(vq(&mut k, q), reserved(q, q, PAGE_READWRITE, 0x6000));
}

#[test]
fn allocation_protect_never_changes_F86() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, 0x4000, MEM_RESERVE, PAGE_NOACCESS);
    assert_eq!(valloc(&mut k, p, 0x4000, MEM_COMMIT, PAGE_READWRITE), p);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_NOACCESS, 0x4000, PAGE_READWRITE));
    assert_eq!(vprotect(&mut k, p, 0x2000, PAGE_READONLY), PAGE_READWRITE);
    assert_eq!(vprotect(&mut k, p + 0x2000, 0x1000, PAGE_EXECUTE_READ), PAGE_READWRITE);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_NOACCESS, 0x2000, PAGE_READONLY));
    assert_eq!(vq(&mut k, p + 0x2000), committed(p + 0x2000, p, PAGE_NOACCESS, P, PAGE_EXECUTE_READ));
    assert_eq!(vq(&mut k, p + 0x3000), committed(p + 0x3000, p, PAGE_NOACCESS, P, PAGE_READWRITE));
    // Recommitting with yet another protection, and decommitting.
    assert_eq!(valloc(&mut k, p + 0x3000, P, MEM_COMMIT, PAGE_EXECUTE_READWRITE), p + 0x3000);
    assert_eq!(vq(&mut k, p + 0x3000), committed(p + 0x3000, p, PAGE_NOACCESS, P, PAGE_EXECUTE_READWRITE));
    vfree(&mut k, p, 0x2000, MEM_DECOMMIT);
    assert_eq!(vq(&mut k, p), reserved(p, p, PAGE_NOACCESS, 0x2000));
}

#[test]
fn committing_one_page_makes_commit_then_reserve_regions_F87() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, G, MEM_RESERVE, PAGE_NOACCESS);
    assert_eq!(valloc(&mut k, p, P, MEM_COMMIT, PAGE_READWRITE), p);
    assert_eq!(vq(&mut k, p), committed(p, p, PAGE_NOACCESS, P, PAGE_READWRITE));
    assert_eq!(vq(&mut k, p + P), reserved(p + P, p, PAGE_NOACCESS, G - P));
    // A page committed in the middle splits the reserved run.
    assert_eq!(valloc(&mut k, p + 0x5000, P, MEM_COMMIT, PAGE_READONLY), p + 0x5000);
    assert_eq!(vq(&mut k, p + P), reserved(p + P, p, PAGE_NOACCESS, 0x4000));
    assert_eq!(vq(&mut k, p + 0x5000), committed(p + 0x5000, p, PAGE_NOACCESS, P, PAGE_READONLY));
    assert_eq!(vq(&mut k, p + 0x6000), reserved(p + 0x6000, p, PAGE_NOACCESS, 0xA000));
    // Same protection next to each other but different state: separate regions.
    assert_eq!(valloc(&mut k, p + 0x6000, P, MEM_COMMIT, PAGE_READONLY), p + 0x6000);
    assert_eq!(vq(&mut k, p + 0x5000), committed(p + 0x5000, p, PAGE_NOACCESS, 0x2000, PAGE_READONLY));
}

#[test]
fn type_is_private_for_virtualalloc_memory_F88() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = valloc(&mut k, 0, 0x2000, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(vq(&mut k, p).ty, MEM_PRIVATE);
    assert_eq!(valloc(&mut k, p, P, MEM_COMMIT, PAGE_READWRITE), p);
    assert_eq!(vq(&mut k, p).ty, MEM_PRIVATE);
    assert_eq!(vq(&mut k, p + P).ty, MEM_PRIVATE);
    let c = valloc(&mut k, 0, P, MEM_COMMIT, PAGE_READONLY);
    assert_eq!(vq(&mut k, c).ty, MEM_PRIVATE);
    assert_eq!(MEM_PRIVATE, 0x20000);
}

#[test]
fn nt_query_matches_virtualquery_fields_F82_F87() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc(&mut nt, G, MEM_RESERVE, PAGE_EXECUTE_READWRITE);
    nt_alloc_at(&mut nt, p, P, MEM_COMMIT, PAGE_READONLY);
    assert_eq!(ntq(&mut nt, p), committed(p, p, PAGE_EXECUTE_READWRITE, P, PAGE_READONLY));
    assert_eq!(ntq(&mut nt, p + P), reserved(p + P, p, PAGE_EXECUTE_READWRITE, G - P));
}

// ------------------------------------------------------------------------------------------
// A. Geometry: F5, F6
// ------------------------------------------------------------------------------------------

#[test]
fn virtualquery_above_highest_user_address_is_invalid_parameter_F5() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    for addr in [0x7FFF_FFFF_0000u64, 0x7FFF_FFFF_FFFF, 0x8000_0000_0000, 0xFFFF_8000_0000_0000, u64::MAX] {
        let mut m = MEMORY_BASIC_INFORMATION64::default();
        k.SetLastError(SENTINEL);
        assert_eq!(k.VirtualQuery(addr, &mut m), 0, "VirtualQuery({addr:#x})");
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER, "VirtualQuery({addr:#x})");
    }
}

/// The last 64 KiB of user space (its 2 MiB page-table region runs past the end of user space,
/// so its pages are walked from the root, never through the paging-structure cache) reads and
/// writes like any other memory, TLB miss after TLB miss; the byte above it faults.
#[test]
fn the_highest_user_pages_read_and_write_and_the_byte_above_faults_F5() {
    const HIGHEST: u64 = 0x7FFF_FFFE_FFFF;
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let top = k.VirtualAlloc(0, G, MEM_COMMIT | MEM_RESERVE | MEM_TOP_DOWN, PAGE_READWRITE);
    assert_eq!(top, HIGHEST + 1 - G, "the highest 64 KiB of user space");
    // A page 4 MiB below: the same slot of the 1 024-entry TLB, so alternating evicts.
    let below = top - (4 << 20);
    assert_eq!(k.VirtualAlloc(below, P, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE), below);
    for round in 0..3u8 {
        for page in 0..G / P {
            must_write(&mut k, top + page * P + 8, &[round, 0xA5]);
            must_write(&mut k, below + 8, &[round]);
        }
        for page in 0..G / P {
            assert_eq!(must_read(&mut k, top + page * P + 8, 2), [round, 0xA5], "page {page}, round {round}");
            assert_eq!(must_read(&mut k, below + 8, 1), [round]);
        }
    }
    assert_eq!(must_read(&mut k, HIGHEST - 7, 8), [0; 8], "the last 8 bytes of user space");
    assert_av(k.read(HIGHEST + 1, &mut [0u8; 1]), HIGHEST + 1, READ);
    assert_av(k.write(HIGHEST + 1, &[1]), HIGHEST + 1, WRITE);
}

const KUSER_SHARED_DATA: u64 = 0x7FFE_0000;

#[test]
fn shared_user_data_page_is_committed_read_only_F6() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let m = vq(&mut k, KUSER_SHARED_DATA);
    assert_eq!(m.base, KUSER_SHARED_DATA, "{m:?}");
    assert_eq!(m.state, MEM_COMMIT, "{m:?}");
    assert_eq!(m.protect, PAGE_READONLY, "{m:?}");
    assert!(m.size >= P, "{m:?}");
    assert_ne!(m.alloc_base, 0, "{m:?}");
    // Same through an unaligned address inside the page.
    let m2 = vq(&mut k, KUSER_SHARED_DATA + 0x2D0);
    assert_eq!((m2.base, m2.state, m2.protect), (KUSER_SHARED_DATA, MEM_COMMIT, PAGE_READONLY));
}

#[test]
fn shared_user_data_page_reads_but_write_faults_F6() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    must_read(&mut k, KUSER_SHARED_DATA, P as usize);
    assert_av(k.write(KUSER_SHARED_DATA + 0x30, &[0x41]), KUSER_SHARED_DATA + 0x30, WRITE);
    // The page is still there and unchanged in state.
    let m = vq(&mut k, KUSER_SHARED_DATA);
    assert_eq!((m.state, m.protect), (MEM_COMMIT, PAGE_READONLY));
}

#[test]
fn shared_user_data_page_exists_in_every_process_F6() {
    let (mut sys, _pid) = setup();
    let other = sys.create_process("other").unwrap();
    let mut k = Kernel32::new(&mut sys, other);
    let m = vq(&mut k, KUSER_SHARED_DATA);
    assert_eq!((m.base, m.state, m.protect), (KUSER_SHARED_DATA, MEM_COMMIT, PAGE_READONLY));
    must_read(&mut k, KUSER_SHARED_DATA, 8);
}
