//! Windows-conformance scenario tests for private-memory allocation: `VirtualAlloc`,
//! `VirtualAllocEx` and `NtAllocateVirtualMemory` (facts F1–F50 of `docs/windows-behaviour.md`,
//! sections A–G), plus commit charge and commit limit.
//!
//! Facts stated at NT level (NTSTATUS, in/out base and size) go through `Ntdll`; Win32 facts
//! through `Kernel32`. Facts purely about sections, views and files (F19's view part, F44, F49)
//! are out of scope here. Where docs/windows-behaviour.md lists several accepted results
//! (V1–V24) the test accepts exactly that set; otherwise it asserts the one result Windows shows.
// Tests compute addresses and sizes on a 64-bit host; truncating casts cannot occur here.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
#![allow(non_snake_case)]

use std::fmt;

use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;

// ---------------------------------------------------------------------------------------------
// Geometry and constants

/// Page size (F1).
const P: u64 = 0x1000;
/// Allocation granularity (F1).
const G: u64 = 0x1_0000;
/// `lpMaximumApplicationAddress` on x64 (F1).
const MAX_APP: u64 = 0x7FFF_FFFE_FFFF;
/// Start of the kernel half on x64 (F4).
const SYSTEM_RANGE_START: u64 = 0xFFFF_8000_0000_0000;
/// NT map-view flag, not in windows-sys (docs/windows-behaviour.md, "Constants"); not an allocation flag (F29).
const AT_ROUND_TO_PAGE_FLAG: u32 = 0x4000_0000;
/// The base protections VirtualAlloc accepts (F32).
const VALID_BASE_PROTECTIONS: [u32; 6] =
    [PAGE_NOACCESS, PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE];
/// Every combination of the three protection modifiers (F35).
const MODIFIER_SETS: [u32; 8] = [
    0,
    PAGE_GUARD,
    PAGE_NOCACHE,
    PAGE_WRITECOMBINE,
    PAGE_GUARD | PAGE_NOCACHE,
    PAGE_GUARD | PAGE_WRITECOMBINE,
    PAGE_NOCACHE | PAGE_WRITECOMBINE,
    PAGE_GUARD | PAGE_NOCACHE | PAGE_WRITECOMBINE,
];
/// What `VirtualQuery` returns on success (F81).
const MBI_SIZE: usize = std::mem::size_of::<MEMORY_BASIC_INFORMATION64>();
/// A value no call of ours sets, to see that a failing call does set the last error.
const STALE_ERROR: u32 = 0xDEAD;

// ---------------------------------------------------------------------------------------------
// Set-up

fn boot() -> (System, ProcessId) {
    boot_with(Config::default())
}

/// A smaller machine for the long exhaustive loops (the invariant checker walks every frame).
fn boot_small() -> (System, ProcessId) {
    boot_with(Config::default().with_ram_bytes(64 << 20))
}

fn boot_with(cfg: Config) -> (System, ProcessId) {
    let mut sys = System::new(cfg.with_invariant_checks()).expect("system boots");
    let pid = sys.create_process("test").expect("process is created");
    (sys, pid)
}

// ---------------------------------------------------------------------------------------------
// Query helpers

/// The fields of MEMORY_BASIC_INFORMATION64 that Windows defines, printed in hex.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Region {
    base: u64,
    alloc_base: u64,
    alloc_protect: u32,
    size: u64,
    state: u32,
    protect: u32,
    ty: u32,
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Region {{ base: {:#x}, alloc_base: {:#x}, alloc_protect: {:#x}, size: {:#x}, \
             state: {:#x}, protect: {:#x}, type: {:#x} }}",
            self.base, self.alloc_base, self.alloc_protect, self.size, self.state, self.protect, self.ty
        )
    }
}

impl From<MEMORY_BASIC_INFORMATION64> for Region {
    fn from(m: MEMORY_BASIC_INFORMATION64) -> Self {
        Region {
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

/// A committed private region (F20, F32).
fn committed(base: u64, alloc_base: u64, alloc_protect: u32, size: u64, protect: u32) -> Region {
    Region { base, alloc_base, alloc_protect, size, state: MEM_COMMIT, protect, ty: MEM_PRIVATE }
}

/// A reserved private region: Protect 0 (F8, F82).
fn reserved(base: u64, alloc_base: u64, alloc_protect: u32, size: u64) -> Region {
    Region { base, alloc_base, alloc_protect, size, state: MEM_RESERVE, protect: 0, ty: MEM_PRIVATE }
}

fn query(k: &mut Kernel32, addr: u64) -> Region {
    let mut mbi = MEMORY_BASIC_INFORMATION64::default();
    let n = k.VirtualQuery(addr, &mut mbi);
    assert_eq!(n, MBI_SIZE, "VirtualQuery({addr:#x}) failed, error {}", k.GetLastError());
    Region::from(mbi)
}

fn nt_query(nt: &mut Ntdll, addr: u64) -> Region {
    let mut mbi = MEMORY_BASIC_INFORMATION64::default();
    let st = nt.NtQueryVirtualMemory(NtCurrentProcess(), addr, &mut mbi);
    assert_eq!(st, STATUS_SUCCESS, "NtQueryVirtualMemory({addr:#x}) failed: {st:#x}");
    Region::from(mbi)
}

/// F83: a free page reports MEM_FREE, AllocationBase 0, AllocationProtect 0, Protect
/// PAGE_NOACCESS, Type 0; BaseAddress is the page. RegionSize is left to the caller.
fn assert_free(k: &mut Kernel32, addr: u64) -> Region {
    let r = query(k, addr);
    assert_eq!(
        (r.base, r.alloc_base, r.alloc_protect, r.state, r.protect, r.ty),
        (addr & !(P - 1), 0, 0, MEM_FREE, PAGE_NOACCESS, 0),
        "page {addr:#x} should be free: {r:?}"
    );
    r
}

fn nt_assert_free(nt: &mut Ntdll, addr: u64) {
    let r = nt_query(nt, addr);
    assert_eq!(
        (r.base, r.alloc_base, r.alloc_protect, r.state, r.protect, r.ty),
        (addr & !(P - 1), 0, 0, MEM_FREE, PAGE_NOACCESS, 0),
        "page {addr:#x} should be free: {r:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Call helpers

fn alloc_ok(k: &mut Kernel32, addr: u64, size: u64, ty: u32, prot: u32) -> u64 {
    let p = k.VirtualAlloc(addr, size, ty, prot);
    assert_ne!(p, 0, "VirtualAlloc({addr:#x}, {size:#x}, {ty:#x}, {prot:#x}) failed, error {}", k.GetLastError());
    p
}

fn alloc_fails(k: &mut Kernel32, addr: u64, size: u64, ty: u32, prot: u32, error: u32) {
    k.SetLastError(STALE_ERROR);
    let p = k.VirtualAlloc(addr, size, ty, prot);
    let e = k.GetLastError();
    assert_eq!((p, e), (0, error), "VirtualAlloc({addr:#x}, {size:#x}, {ty:#x}, {prot:#x}) should fail with {error}");
}

fn release(k: &mut Kernel32, p: u64) {
    let ok = k.VirtualFree(p, 0, MEM_RELEASE);
    assert_ne!(ok, 0, "VirtualFree({p:#x}, 0, MEM_RELEASE) failed, error {}", k.GetLastError());
}

/// NtAllocateVirtualMemory on the current process: (status, base out, size out).
fn nt_alloc(nt: &mut Ntdll, base: u64, zero_bits: u64, size: u64, ty: u32, prot: u32) -> (NTSTATUS, u64, u64) {
    let mut b = base;
    let mut s = size;
    let st = nt.NtAllocateVirtualMemory(NtCurrentProcess(), &mut b, zero_bits, &mut s, ty, prot);
    (st, b, s)
}

fn nt_alloc_ok(nt: &mut Ntdll, base: u64, size: u64, ty: u32, prot: u32) -> (u64, u64) {
    let (st, b, s) = nt_alloc(nt, base, 0, size, ty, prot);
    assert_eq!(st, STATUS_SUCCESS, "NtAllocateVirtualMemory({base:#x}, {size:#x}, {ty:#x}, {prot:#x}) failed: {st:#x}");
    (b, s)
}

fn nt_release(nt: &mut Ntdll, base: u64) {
    let mut b = base;
    let mut s = 0;
    let st = nt.NtFreeVirtualMemory(NtCurrentProcess(), &mut b, &mut s, MEM_RELEASE);
    assert_eq!(st, STATUS_SUCCESS, "NtFreeVirtualMemory({base:#x}, MEM_RELEASE) failed: {st:#x}");
}

fn exc(e: &Exception) -> String {
    format!("code {:#x} at {:#x}, {} parameters {:#x?}", e.code, e.address, e.number_parameters, e.information)
}

fn write_ok(k: &mut Kernel32, addr: u64, data: &[u8]) {
    if let Err(e) = k.write(addr, data) {
        panic!("write of {} bytes at {addr:#x} faulted: {}", data.len(), exc(&e));
    }
}

fn read_vec(k: &mut Kernel32, addr: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0xEE_u8; len];
    if let Err(e) = k.read(addr, &mut buf) {
        panic!("read of {len} bytes at {addr:#x} faulted: {}", exc(&e));
    }
    buf
}

fn assert_zero(k: &mut Kernel32, addr: u64, len: usize) {
    let data = read_vec(k, addr, len);
    if let Some(i) = data.iter().position(|&b| b != 0) {
        panic!("byte at {:#x} reads {:#x}, expected zero-filled memory", addr + i as u64, data[i]);
    }
}

/// F93/F95: a write that raises an access violation and changes nothing.
fn assert_write_faults(k: &mut Kernel32, addr: u64) {
    let before = read_or_none(k, addr);
    match k.write(addr, &[0x5A]) {
        Ok(()) => panic!("write at {addr:#x} should raise an access violation"),
        Err(e) => {
            assert_eq!(e.code, STATUS_ACCESS_VIOLATION, "{}", exc(&e));
            assert_eq!(e.number_parameters, 2, "{}", exc(&e));
            assert_eq!(e.information, [1, addr], "{}", exc(&e));
        }
    }
    assert_eq!(read_or_none(k, addr), before, "failed write at {addr:#x} changed memory");
}

/// F91/F95: a read that raises an access violation.
fn assert_read_faults(k: &mut Kernel32, addr: u64) {
    let mut b = [0_u8; 1];
    match k.read(addr, &mut b) {
        Ok(()) => panic!("read at {addr:#x} should raise an access violation"),
        Err(e) => {
            assert_eq!(e.code, STATUS_ACCESS_VIOLATION, "{}", exc(&e));
            assert_eq!(e.number_parameters, 2, "{}", exc(&e));
            assert_eq!(e.information, [0, addr], "{}", exc(&e));
        }
    }
}

fn read_or_none(k: &mut Kernel32, addr: u64) -> Option<u8> {
    let mut b = [0_u8; 1];
    k.read(addr, &mut b).ok().map(|()| b[0])
}

/// A recognisable, nowhere-zero byte pattern.
fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i % 251) as u8).wrapping_add(seed) | 1).collect()
}

fn memory_status(k: &mut Kernel32) -> MEMORYSTATUSEX {
    let mut ms = MEMORYSTATUSEX { dwLength: std::mem::size_of::<MEMORYSTATUSEX>() as u32, ..Default::default() };
    let ok = k.GlobalMemoryStatusEx(&mut ms);
    assert_ne!(ok, 0, "GlobalMemoryStatusEx failed, error {}", k.GetLastError());
    ms
}

fn private_usage(k: &mut Kernel32) -> u64 {
    let mut pmc = PROCESS_MEMORY_COUNTERS_EX {
        cb: std::mem::size_of::<PROCESS_MEMORY_COUNTERS_EX>() as u32,
        ..Default::default()
    };
    let h = k.GetCurrentProcess();
    let ok = k.GetProcessMemoryInfo(h, &mut pmc);
    assert_ne!(ok, 0, "GetProcessMemoryInfo failed, error {}", k.GetLastError());
    pmc.PrivateUsage as u64
}

fn round_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

// =============================================================================================
// A. Address-space geometry and limits

#[test]
fn f1_system_info_reports_x64_geometry() {
    let (mut sys, pid) = boot();
    let k = Kernel32::new(&mut sys, pid);
    let mut si = SYSTEM_INFO::default();
    k.GetSystemInfo(&mut si);
    assert_eq!(si.dwPageSize, 0x1000);
    assert_eq!(si.dwAllocationGranularity, 0x1_0000);
    assert_eq!(si.lpMinimumApplicationAddress as u64, 0x1_0000);
    assert_eq!(si.lpMaximumApplicationAddress as u64, MAX_APP);
}

#[test]
fn f2_top_down_allocations_end_at_or_below_maximum_application_address() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    for size in [P, G, 0x10_0000] {
        let (b, s) = nt_alloc_ok(&mut nt, 0, size, MEM_RESERVE | MEM_TOP_DOWN, PAGE_READWRITE);
        assert_eq!(s, size);
        assert!(b + s - 1 <= MAX_APP, "top-down allocation [{b:#x}, +{s:#x}) ends above {MAX_APP:#x}");
    }
}

#[test]
fn f2_explicit_reservation_ending_above_maximum_application_address_fails() {
    let (mut sys, pid) = boot();
    {
        let mut nt = Ntdll::new(&mut sys, pid);
        // Base above the highest user address: a bad base, like F3/F4.
        for base in [MAX_APP + 1, 0x8000_0000_0000] {
            let (st, _, _) = nt_alloc(&mut nt, base, 0, P, MEM_RESERVE, PAGE_READWRITE);
            assert_eq!(st, STATUS_INVALID_PARAMETER_2, "reserve at {base:#x}");
        }
        // Base valid, end above the highest user address: a bad size (F2 says
        // STATUS_INVALID_PARAMETER for the Ex form; the plain form reports parameter 4).
        let base = 0x7FFF_FFF0_0000;
        let (st, _, _) = nt_alloc(&mut nt, base, 0, 0x20_0000, MEM_RESERVE, PAGE_READWRITE);
        assert!(
            st == STATUS_INVALID_PARAMETER_4 || st == STATUS_INVALID_PARAMETER,
            "reserve [{base:#x}, +0x200000) crossing the top: {st:#x}"
        );
        nt_assert_free(&mut nt, base);
    }
    let mut k = Kernel32::new(&mut sys, pid);
    alloc_fails(&mut k, 0x7FFF_FFF0_0000, 0x20_0000, MEM_RESERVE, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    alloc_fails(&mut k, MAX_APP + 1, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    assert_free(&mut k, 0x7FFF_FFF0_0000);
}

#[test]
fn f3_reserve_below_64k_is_invalid_parameter_2() {
    let (mut sys, pid) = boot();
    {
        let mut nt = Ntdll::new(&mut sys, pid);
        let (st, _, _) = nt_alloc(&mut nt, 0xF000, 0, 0x1000, MEM_RESERVE, PAGE_READWRITE);
        assert_eq!(st, STATUS_INVALID_PARAMETER_2);
    }
    let mut k = Kernel32::new(&mut sys, pid);
    alloc_fails(&mut k, 0xF000, 0x1000, MEM_RESERVE, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    alloc_fails(&mut k, 0x1000, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
}

#[test]
fn f4_reserve_in_kernel_half_is_invalid_parameter_2() {
    let (mut sys, pid) = boot();
    let base = SYSTEM_RANGE_START + 200;
    {
        let mut nt = Ntdll::new(&mut sys, pid);
        let (st, _, _) = nt_alloc(&mut nt, base, 0, 0x1000, MEM_RESERVE, PAGE_READWRITE);
        assert_eq!(st, STATUS_INVALID_PARAMETER_2);
        let (st, _, _) = nt_alloc(&mut nt, base, 0, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        assert_eq!(st, STATUS_INVALID_PARAMETER_2);
    }
    let mut k = Kernel32::new(&mut sys, pid);
    alloc_fails(&mut k, base, 0x1000, MEM_RESERVE, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
}

#[test]
fn f5_query_above_highest_user_address_fails_87() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    for addr in [MAX_APP + 1, 0x8000_0000_0000, SYSTEM_RANGE_START, u64::MAX] {
        let mut mbi = MEMORY_BASIC_INFORMATION64::default();
        k.SetLastError(STALE_ERROR);
        let n = k.VirtualQuery(addr, &mut mbi);
        assert_eq!((n, k.GetLastError()), (0, ERROR_INVALID_PARAMETER), "VirtualQuery({addr:#x})");
    }
    // The last user page itself can be queried.
    let mut mbi = MEMORY_BASIC_INFORMATION64::default();
    assert_eq!(k.VirtualQuery(MAX_APP, &mut mbi), MBI_SIZE);
    assert_eq!(mbi.BaseAddress, MAX_APP & !(P - 1));
}

#[test]
fn f6_shared_user_data_page_is_readable_in_every_process() {
    let (mut sys, pid) = boot();
    let pid2 = sys.create_process("second").expect("second process");
    for p in [pid, pid2] {
        let mut k = Kernel32::new(&mut sys, p);
        let data = read_vec(&mut k, 0x7FFE_0000, 0x1000);
        assert_eq!(data.len(), 0x1000);
    }
}

// =============================================================================================
// B. VirtualAlloc — size, rounding, placement

#[test]
fn f7_zero_size_allocation_fails_87() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let before = memory_status(&mut k).ullAvailVirtual;
    alloc_fails(&mut k, 0, 0, MEM_RESERVE, PAGE_NOACCESS, ERROR_INVALID_PARAMETER);
    alloc_fails(&mut k, 0, 0, MEM_COMMIT, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    alloc_fails(&mut k, 0, 0, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    assert_eq!(memory_status(&mut k).ullAvailVirtual, before, "a failed VirtualAlloc reserved address space");
}

#[test]
fn f7_nt_region_size_zero_or_all_ones_is_invalid_parameter_4() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    for size in [0, u64::MAX] {
        for ty in [MEM_RESERVE, MEM_COMMIT, MEM_RESERVE | MEM_COMMIT] {
            let (st, _, _) = nt_alloc(&mut nt, 0, 0, size, ty, PAGE_READWRITE);
            assert_eq!(st, STATUS_INVALID_PARAMETER_4, "size {size:#x}, type {ty:#x}");
        }
    }
}

#[test]
fn f8_reserve_0xfffc_reports_one_64k_reserved_region() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0xFFFC, MEM_RESERVE, PAGE_NOACCESS);
    assert_eq!(query(&mut k, p), reserved(p, p, PAGE_NOACCESS, 0x1_0000));
    // F91: the reserved pages cannot be touched.
    assert_read_faults(&mut k, p);
    assert_write_faults(&mut k, p + 0xFFFB);
}

#[test]
fn f9_system_chosen_bases_are_64k_aligned() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let mut seen = Vec::new();
    for i in 0..32_u64 {
        let size = 0x1000 * (1 + i % 5);
        let p = alloc_ok(&mut k, 0, size, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READWRITE);
        assert_eq!(p & 0xFFFF, 0, "allocation {i} at {p:#x} is not 64 KiB aligned");
        assert!(!seen.contains(&p), "address {p:#x} handed out twice");
        seen.push(p);
    }
}

#[test]
fn f10_nt_null_base_size_rounds_to_page_not_granule() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    let (b, s) = nt_alloc_ok(&mut nt, 0, 200, MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(s, 0x1000);
    assert_eq!(b & 0xFFFF, 0);
    assert_eq!(nt_query(&mut nt, b), committed(b, b, PAGE_READWRITE, 0x1000, PAGE_READWRITE));
    nt_assert_free(&mut nt, b + 0x1000);
}

#[test]
fn f10_commit_0x2000_leaves_rest_of_granule_free_but_unusable() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x2000, MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(query(&mut k, p), committed(p, p, PAGE_READWRITE, 0x2000, PAGE_READWRITE));
    let rest = assert_free(&mut k, p + 0x2000);
    assert!(rest.size >= 0xE000, "free tail of the granule: {rest:?}");
    // An explicit reservation there rounds down to p and overlaps (F14, F15).
    alloc_fails(&mut k, p + 0x2000, 0x1000, MEM_RESERVE, PAGE_READWRITE, ERROR_INVALID_ADDRESS);
    // The system never places a new allocation in the granule.
    for _ in 0..8 {
        let q = alloc_ok(&mut k, 0, 0x1000, MEM_RESERVE, PAGE_READWRITE);
        assert!(q >= p + G || q + 0x1000 <= p, "new allocation {q:#x} inside granule {p:#x}");
    }
}

#[test]
fn f11_released_address_is_reused_exactly() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READWRITE);
    release(&mut k, p);
    assert_free(&mut k, p);
    let q = k.VirtualAlloc(p, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READWRITE);
    assert_eq!(q, p, "error {}", k.GetLastError());
    assert_eq!(query(&mut k, p), committed(p, p, PAGE_EXECUTE_READWRITE, 0x1000, PAGE_EXECUTE_READWRITE));
}

#[test]
fn f12_commit_without_reserve_reserves_and_commits() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x1_0000, MEM_COMMIT, PAGE_READONLY);
    assert_eq!(query(&mut k, p), committed(p, p, PAGE_READONLY, 0x1_0000, PAGE_READONLY));
    assert_zero(&mut k, p, 0x1_0000);
    // F93: read-only.
    assert_write_faults(&mut k, p + 0x1234);
}

#[test]
fn f12_nt_commit_200_bytes_gives_one_zeroed_writable_page() {
    let (mut sys, pid) = boot();
    let b = {
        let mut nt = Ntdll::new(&mut sys, pid);
        let (b, s) = nt_alloc_ok(&mut nt, 0, 200, MEM_COMMIT, PAGE_READWRITE);
        assert_eq!(s, 0x1000);
        b
    };
    let mut k = Kernel32::new(&mut sys, pid);
    assert_zero(&mut k, b, 0x1000);
    let data = pattern(7, 0x1000);
    write_ok(&mut k, b, &data);
    assert_eq!(read_vec(&mut k, b, 0x1000), data);
}

#[test]
fn f13_newly_committed_memory_reads_zero() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x10_0000, MEM_RESERVE, PAGE_READWRITE);
    alloc_ok(&mut k, p + 0x3000, 0x5000, MEM_COMMIT, PAGE_READWRITE);
    assert_zero(&mut k, p + 0x3000, 0x5000);
    let q = alloc_ok(&mut k, 0, 0x4_0000, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READ);
    assert_zero(&mut k, q, 0x4_0000);
}

#[test]
fn f13_page_released_and_reallocated_reads_zero_after_holding_data() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    let data = pattern(0x40, 0x1000);
    write_ok(&mut k, p, &data);
    assert_eq!(read_vec(&mut k, p, 0x1000), data);
    release(&mut k, p);
    let q = k.VirtualAlloc(p, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(q, p, "re-allocation at the released address, error {}", k.GetLastError());
    assert_zero(&mut k, p, 0x1000);
}

#[test]
fn f13_decommitted_and_recommitted_page_reads_zero() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x3000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    write_ok(&mut k, p, &pattern(1, 0x3000));
    assert_ne!(k.VirtualFree(p + 0x1000, 0x1000, MEM_DECOMMIT), 0);
    assert_eq!(alloc_ok(&mut k, p + 0x1000, 0x1000, MEM_COMMIT, PAGE_READWRITE), p + 0x1000);
    assert_zero(&mut k, p + 0x1000, 0x1000);
    // The neighbours kept their data.
    let d = pattern(1, 0x3000);
    assert_eq!(read_vec(&mut k, p, 0x1000), d[..0x1000]);
    assert_eq!(read_vec(&mut k, p + 0x2000, 0x1000), d[0x2000..]);
}

#[test]
fn f13_repeated_alloc_free_rounds_on_small_machine_always_read_zero() {
    // 16 MiB of RAM: 4 MiB rounds must reuse frames that held data.
    let (mut sys, pid) = boot_with(Config::default().with_ram_bytes(16 << 20));
    let mut k = Kernel32::new(&mut sys, pid);
    let size = 4_u64 << 20;
    for round in 0..6_u8 {
        let p = alloc_ok(&mut k, 0, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        let mut page = 0;
        while page < size {
            assert_zero(&mut k, p + page, 0x1000);
            write_ok(&mut k, p + page, &pattern(round.wrapping_mul(37), 0x1000));
            page += 0x1000;
        }
        release(&mut k, p);
    }
}

// F14 table: (request base, size, type) → (returned base, size).
const F14_TABLE: [(u64, u64, u32, u64, u64); 9] = [
    (0x5000_0000, 1, MEM_RESERVE, 0x5000_0000, 0x1000),
    (0x5000_8000, 1, MEM_RESERVE, 0x5000_0000, 0x9000),
    (0x5000_0010, 0x1000, MEM_RESERVE, 0x5000_0000, 0x2000),
    (0x5001_0000, 0x2000, MEM_RESERVE, 0x5001_0000, 0x2000),
    (0x5000_FFFF, 0x3000, MEM_RESERVE, 0x5000_0000, 0x1_3000),
    (0x5000_1010, 0x7000, MEM_RESERVE, 0x5000_0000, 0x9000),
    (0x5000_1010, 0xC000, MEM_RESERVE, 0x5000_0000, 0xE000),
    (0x5000_1010, 0x1000, MEM_RESERVE, 0x5000_0000, 0x3000),
    (0x6002_5000, 200, MEM_RESERVE | MEM_COMMIT, 0x6002_0000, 0x6000),
];

fn f14_expected(ty: u32, base: u64, size: u64) -> Region {
    if ty & MEM_COMMIT != 0 {
        committed(base, base, PAGE_READWRITE, size, PAGE_READWRITE)
    } else {
        reserved(base, base, PAGE_READWRITE, size)
    }
}

#[test]
fn f14_nt_explicit_reservation_rounding_table() {
    let (mut sys, _) = boot();
    for (i, &(req, size, ty, want_base, want_size)) in F14_TABLE.iter().enumerate() {
        let pid = sys.create_process("row").expect("process");
        let mut nt = Ntdll::new(&mut sys, pid);
        let (st, b, s) = nt_alloc(&mut nt, req, 0, size, ty, PAGE_READWRITE);
        assert_eq!(st, STATUS_SUCCESS, "row {i}: ({req:#x}, {size:#x})");
        assert_eq!((b, s), (want_base, want_size), "row {i}: ({req:#x}, {size:#x}) → ({b:#x}, {s:#x})");
        assert_eq!(nt_query(&mut nt, b), f14_expected(ty, b, s), "row {i}");
        // The end is rounded up to a page only: the next page is free.
        nt_assert_free(&mut nt, b + s);
    }
}

#[test]
fn f14_win32_explicit_reservation_returns_rounded_base() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    for (i, &(req, size, ty, want_base, want_size)) in F14_TABLE.iter().enumerate() {
        let p = k.VirtualAlloc(req, size, ty, PAGE_READWRITE);
        assert_eq!(p, want_base, "row {i}: VirtualAlloc({req:#x}, {size:#x}), error {}", k.GetLastError());
        assert_eq!(query(&mut k, p), f14_expected(ty, want_base, want_size), "row {i}");
        assert_free(&mut k, want_base + want_size);
        release(&mut k, p);
        assert_free(&mut k, want_base);
    }
}

#[test]
fn f14_whole_rounded_commit_range_is_zeroed_and_writable() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0x6002_5000, 200, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(p, 0x6002_0000);
    assert_zero(&mut k, p, 0x6000);
    write_ok(&mut k, p, &[1]);
    write_ok(&mut k, p + 0x5FFF, &[2]);
    assert_read_faults(&mut k, p + 0x6000);
}

#[test]
fn f15_reserve_conflict_is_decided_on_rounded_range() {
    let (mut sys, pid) = boot();
    {
        let mut nt = Ntdll::new(&mut sys, pid);
        assert_eq!(nt_alloc_ok(&mut nt, 0x5000_0000, 0x3000, MEM_RESERVE, PAGE_READWRITE), (0x5000_0000, 0x3000));
        let (st, _, _) = nt_alloc(&mut nt, 0x5000_8000, 0, 0x1000, MEM_RESERVE, PAGE_READWRITE);
        assert_eq!(st, STATUS_CONFLICTING_ADDRESSES);
        let (st, _, _) = nt_alloc(&mut nt, 0x5000_8000, 0, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        assert_eq!(st, STATUS_CONFLICTING_ADDRESSES);
    }
    let mut k = Kernel32::new(&mut sys, pid);
    alloc_fails(&mut k, 0x5000_8000, 0x1000, MEM_RESERVE, PAGE_READWRITE, ERROR_INVALID_ADDRESS);
    // Nothing changed.
    assert_eq!(query(&mut k, 0x5000_0000), reserved(0x5000_0000, 0x5000_0000, PAGE_READWRITE, 0x3000));
    assert_free(&mut k, 0x5000_8000);
    // The next granule is not in conflict.
    assert_eq!(alloc_ok(&mut k, 0x5001_0000, 0x1000, MEM_RESERVE, PAGE_READWRITE), 0x5001_0000);
}

#[test]
fn f16_overlapping_allocation_conflicts_with_and_without_zero_bits() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    let (p, s) = nt_alloc_ok(&mut nt, 0, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(s, 0x1000);
    for zero_bits in [0, 12] {
        let (st, _, _) = nt_alloc(&mut nt, p + 0x1000, zero_bits, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        assert_eq!(st, STATUS_CONFLICTING_ADDRESSES, "zero_bits {zero_bits}");
    }
    assert_eq!(nt_query(&mut nt, p), committed(p, p, PAGE_READWRITE, 0x1000, PAGE_READWRITE));
    nt_assert_free(&mut nt, p + 0x1000);
}

#[test]
fn f17_partially_released_granule_accepts_new_allocation_at_freed_page() {
    let (mut sys, pid) = boot();
    let a = {
        let mut nt = Ntdll::new(&mut sys, pid);
        let (a, _) = nt_alloc_ok(&mut nt, 0, 0x1_0000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        a
    };
    {
        let mut k = Kernel32::new(&mut sys, pid);
        write_ok(&mut k, a, &pattern(3, 0x1000));
    }
    let mut nt = Ntdll::new(&mut sys, pid);
    let mut b = a;
    let mut s = 0x1000;
    let st = nt.NtFreeVirtualMemory(NtCurrentProcess(), &mut b, &mut s, MEM_RELEASE);
    assert_eq!(st, STATUS_SUCCESS);
    assert_eq!((b, s), (a, 0x1000));
    nt_assert_free(&mut nt, a);
    let (st, b, s) = nt_alloc(&mut nt, a, 0, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(st, STATUS_SUCCESS);
    assert_eq!((b, s), (a, 0x1000));
    assert_eq!(nt_query(&mut nt, a), committed(a, a, PAGE_READWRITE, 0x1000, PAGE_READWRITE));
    let mut k = Kernel32::new(&mut sys, pid);
    // F13: the new page is zero although the old one held data.
    assert_zero(&mut k, a, 0x1000);
}

#[test]
fn f18_unaligned_reserve_commit_commits_whole_rounded_range() {
    let (mut sys, pid) = boot();
    {
        let mut nt = Ntdll::new(&mut sys, pid);
        let (st, b, s) = nt_alloc(&mut nt, 0x5000_4080, 0, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        assert_eq!(st, STATUS_SUCCESS);
        assert_eq!((b, s), (0x5000_0000, 0x6000));
        assert_eq!(
            nt_query(&mut nt, 0x5000_0000),
            committed(0x5000_0000, 0x5000_0000, PAGE_READWRITE, 0x6000, PAGE_READWRITE)
        );
    }
    let mut k = Kernel32::new(&mut sys, pid);
    write_ok(&mut k, 0x5000_0000, &[0x11]);
    write_ok(&mut k, 0x5000_4080, &[0x22]);
    write_ok(&mut k, 0x5000_5FFF, &[0x33]);
    assert_eq!(read_vec(&mut k, 0x5000_0000, 1), [0x11]);
    assert_eq!(read_vec(&mut k, 0x5000_4080, 1), [0x22]);
    assert_free(&mut k, 0x5000_6000);
}

#[test]
fn f19_reserving_an_already_reserved_or_committed_page_fails_487() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x1_0000, MEM_RESERVE, PAGE_READWRITE);
    alloc_ok(&mut k, p + 0x4000, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    for at in [p, p + 0x4000, p + 0xF000] {
        alloc_fails(&mut k, at, 0x1000, MEM_RESERVE, PAGE_READWRITE, ERROR_INVALID_ADDRESS);
        alloc_fails(&mut k, at, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, ERROR_INVALID_ADDRESS);
    }
    assert_eq!(query(&mut k, p), reserved(p, p, PAGE_READWRITE, 0x4000));
    assert_eq!(query(&mut k, p + 0x4000), committed(p + 0x4000, p, PAGE_READWRITE, 0x1000, PAGE_READWRITE));
    assert_eq!(query(&mut k, p + 0x5000), reserved(p + 0x5000, p, PAGE_READWRITE, 0xB000));
}

// =============================================================================================
// C. VirtualAlloc — committing

#[test]
fn f20_commit_noaccess_page_in_reservation() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x1_0000, MEM_RESERVE, PAGE_NOACCESS);
    let q = k.VirtualAlloc(p, 0x1000, MEM_COMMIT, PAGE_NOACCESS);
    assert_eq!(q, p, "error {}", k.GetLastError());
    assert_eq!(query(&mut k, p), committed(p, p, PAGE_NOACCESS, 0x1000, PAGE_NOACCESS));
    assert_eq!(query(&mut k, p + 0x1000), reserved(p + 0x1000, p, PAGE_NOACCESS, 0xF000));
    // F92: a committed NOACCESS page can be neither read nor written.
    assert_read_faults(&mut k, p);
    assert_write_faults(&mut k, p);
}

#[test]
fn f21_commit_inside_reservation_is_page_granular() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    nt_alloc_ok(&mut nt, 0x5000_0000, 0x1_0000, MEM_RESERVE, PAGE_NOACCESS);
    assert_eq!(nt_alloc_ok(&mut nt, 0x5000_F000, 0x1000, MEM_COMMIT, PAGE_READWRITE), (0x5000_F000, 0x1000));
    assert_eq!(
        nt_query(&mut nt, 0x5000_F700),
        committed(0x5000_F000, 0x5000_0000, PAGE_NOACCESS, 0x1000, PAGE_READWRITE)
    );
    assert_eq!(nt_query(&mut nt, 0x5000_0000), reserved(0x5000_0000, 0x5000_0000, PAGE_NOACCESS, 0xF000));
}

#[test]
fn f21_unaligned_commit_returns_page_rounded_range() {
    let (mut sys, pid) = boot();
    {
        let mut nt = Ntdll::new(&mut sys, pid);
        nt_alloc_ok(&mut nt, 0x5000_0000, 0x1_0000, MEM_RESERVE, PAGE_NOACCESS);
        let (st, b, s) = nt_alloc(&mut nt, 0x5000_F700, 0, 0x100, MEM_COMMIT, PAGE_READWRITE);
        assert_eq!(st, STATUS_SUCCESS);
        assert_eq!((b, s), (0x5000_F000, 0x1000));
        let (st, b, s) = nt_alloc(&mut nt, 0x5000_1FF0, 0, 0x20, MEM_COMMIT, PAGE_READONLY);
        assert_eq!(st, STATUS_SUCCESS);
        assert_eq!((b, s), (0x5000_1000, 0x2000));
    }
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(query(&mut k, 0x5000_1000), committed(0x5000_1000, 0x5000_0000, PAGE_NOACCESS, 0x2000, PAGE_READONLY));
    // Win32 returns the page-rounded base.
    let q = k.VirtualAlloc(0x5000_5234, 0x10, MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(q, 0x5000_5000, "error {}", k.GetLastError());
    assert_eq!(query(&mut k, 0x5000_5000), committed(0x5000_5000, 0x5000_0000, PAGE_NOACCESS, 0x1000, PAGE_READWRITE));
}

#[test]
fn f22_nt_recommitting_committed_page_succeeds_unchanged() {
    let (mut sys, pid) = boot();
    {
        let mut nt = Ntdll::new(&mut sys, pid);
        nt_alloc_ok(&mut nt, 0x5000_0000, 0x1_0000, MEM_RESERVE, PAGE_READWRITE);
        assert_eq!(nt_alloc_ok(&mut nt, 0x5000_2000, 0x1000, MEM_COMMIT, PAGE_READWRITE), (0x5000_2000, 0x1000));
    }
    let data = pattern(9, 0x1000);
    {
        let mut k = Kernel32::new(&mut sys, pid);
        write_ok(&mut k, 0x5000_2000, &data);
    }
    let mut nt = Ntdll::new(&mut sys, pid);
    let (st, b, s) = nt_alloc(&mut nt, 0x5000_2000, 0, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(st, STATUS_SUCCESS);
    assert_eq!((b, s), (0x5000_2000, 0x1000));
    assert_eq!(
        nt_query(&mut nt, 0x5000_2000),
        committed(0x5000_2000, 0x5000_0000, PAGE_READWRITE, 0x1000, PAGE_READWRITE)
    );
    let mut k = Kernel32::new(&mut sys, pid);
    // F22: commit is idempotent — the data is still there.
    assert_eq!(read_vec(&mut k, 0x5000_2000, 0x1000), data);
}

#[test]
fn f22_win32_recommit_with_same_protection_returns_base() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    for prot in VALID_BASE_PROTECTIONS {
        let p = alloc_ok(&mut k, 0, 0x3000, MEM_RESERVE | MEM_COMMIT, prot);
        assert_eq!(k.VirtualAlloc(p, 0x1000, MEM_COMMIT, prot), p, "prot {prot:#x}");
        assert_eq!(k.VirtualAlloc(p, 0x3000, MEM_COMMIT, prot), p, "prot {prot:#x}");
        assert_eq!(query(&mut k, p), committed(p, p, prot, 0x3000, prot), "prot {prot:#x}");
        release(&mut k, p);
    }
}

#[test]
fn f23_recommit_with_readonly_replaces_protection() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x1_0000, MEM_RESERVE, PAGE_NOACCESS);
    alloc_ok(&mut k, p, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    alloc_ok(&mut k, p + 0x1000, 0x1000, MEM_COMMIT, PAGE_NOACCESS);
    let data = pattern(5, 0x1000);
    write_ok(&mut k, p, &data);
    assert_eq!(k.VirtualAlloc(p, 0x3000, MEM_COMMIT, PAGE_READONLY), p, "error {}", k.GetLastError());
    assert_eq!(query(&mut k, p), committed(p, p, PAGE_NOACCESS, 0x3000, PAGE_READONLY));
    assert_eq!(query(&mut k, p + 0x3000), reserved(p + 0x3000, p, PAGE_NOACCESS, 0xD000));
    assert_write_faults(&mut k, p);
    assert_eq!(read_vec(&mut k, p, 0x1000), data);
    assert_zero(&mut k, p + 0x1000, 0x2000);
}

#[test]
fn f24_commit_past_end_of_reservation_conflicts_and_commits_nothing() {
    let (mut sys, pid) = boot();
    {
        let mut nt = Ntdll::new(&mut sys, pid);
        nt_alloc_ok(&mut nt, 0x5000_0000, 0x3000, MEM_RESERVE, PAGE_READWRITE);
        let (st, _, _) = nt_alloc(&mut nt, 0x5000_3000, 0, 0x1000, MEM_COMMIT, PAGE_READWRITE);
        assert_eq!(st, STATUS_CONFLICTING_ADDRESSES);
        // Starting inside and running past the end: all-or-nothing.
        let (st, _, _) = nt_alloc(&mut nt, 0x5000_2000, 0, 0x2000, MEM_COMMIT, PAGE_READWRITE);
        assert_eq!(st, STATUS_CONFLICTING_ADDRESSES);
        assert_eq!(nt_query(&mut nt, 0x5000_0000), reserved(0x5000_0000, 0x5000_0000, PAGE_READWRITE, 0x3000));
        nt_assert_free(&mut nt, 0x5000_3000);
    }
    let mut k = Kernel32::new(&mut sys, pid);
    alloc_fails(&mut k, 0x5000_3000, 0x1000, MEM_COMMIT, PAGE_READWRITE, ERROR_INVALID_ADDRESS);
    alloc_fails(&mut k, 0x5000_2000, 0x2000, MEM_COMMIT, PAGE_READWRITE, ERROR_INVALID_ADDRESS);
    assert_eq!(query(&mut k, 0x5000_0000), reserved(0x5000_0000, 0x5000_0000, PAGE_READWRITE, 0x3000));
    assert_free(&mut k, 0x5000_3000);
}

#[test]
fn f25_commit_across_two_reservations_conflicts_and_commits_nothing() {
    let (mut sys, pid) = boot();
    {
        let mut nt = Ntdll::new(&mut sys, pid);
        nt_alloc_ok(&mut nt, 0x5000_0000, 0x1_0000, MEM_RESERVE, PAGE_READWRITE);
        nt_alloc_ok(&mut nt, 0x5001_0000, 0x1_0000, MEM_RESERVE, PAGE_READWRITE);
        let (st, _, _) = nt_alloc(&mut nt, 0x5000_4000, 0, 0x1_0000, MEM_COMMIT, PAGE_READWRITE);
        assert_eq!(st, STATUS_CONFLICTING_ADDRESSES);
    }
    let mut k = Kernel32::new(&mut sys, pid);
    alloc_fails(&mut k, 0x5000_4000, 0x1_0000, MEM_COMMIT, PAGE_READWRITE, ERROR_INVALID_ADDRESS);
    assert_eq!(query(&mut k, 0x5000_0000), reserved(0x5000_0000, 0x5000_0000, PAGE_READWRITE, 0x1_0000));
    assert_eq!(query(&mut k, 0x5001_0000), reserved(0x5001_0000, 0x5001_0000, PAGE_READWRITE, 0x1_0000));
}

#[test]
fn f26_commit_in_unreserved_range_fails_487() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let before = memory_status(&mut k);
    // Entirely free.
    alloc_fails(&mut k, 0x5000_0000, 0x1000, MEM_COMMIT, PAGE_READWRITE, ERROR_INVALID_ADDRESS);
    assert_free(&mut k, 0x5000_0000);
    // Partly reserved: starts in free space and runs into a reservation.
    alloc_ok(&mut k, 0x5002_0000, 0x1_0000, MEM_RESERVE, PAGE_READWRITE);
    alloc_fails(&mut k, 0x5001_F000, 0x2000, MEM_COMMIT, PAGE_READWRITE, ERROR_INVALID_ADDRESS);
    assert_eq!(query(&mut k, 0x5002_0000), reserved(0x5002_0000, 0x5002_0000, PAGE_READWRITE, 0x1_0000));
    assert_free(&mut k, 0x5001_F000);
    let after = memory_status(&mut k);
    assert_eq!(after.ullAvailPageFile, before.ullAvailPageFile, "failed commits charged commit");
}

// =============================================================================================
// D. VirtualAlloc — flag validation

#[test]
fn f27_nt_invalid_allocation_types_are_invalid_parameter_5() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    for ty in [
        0,
        MEM_TOP_DOWN,
        MEM_PHYSICAL,
        MEM_PHYSICAL | MEM_COMMIT,
        MEM_TOP_DOWN | MEM_RESET,
        MEM_COMMIT | MEM_RESET,
        MEM_RESET | MEM_COMMIT | MEM_RESERVE,
        0xFFFF_FFFF,
    ] {
        let (st, _, _) = nt_alloc(&mut nt, 0, 0, 0x1000, ty, PAGE_READWRITE);
        assert_eq!(st, STATUS_INVALID_PARAMETER_5, "type {ty:#x}");
    }
}

#[test]
fn f27_nt_accepted_allocation_types() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    for ty in [MEM_COMMIT, MEM_RESERVE, MEM_TOP_DOWN | MEM_COMMIT, MEM_PHYSICAL | MEM_RESERVE] {
        let (st, b, s) = nt_alloc(&mut nt, 0, 0, 0x1000, ty, PAGE_READWRITE);
        assert_eq!(st, STATUS_SUCCESS, "type {ty:#x}");
        assert_eq!(s, 0x1000, "type {ty:#x}");
        let r = nt_query(&mut nt, b);
        let state = if ty & MEM_COMMIT != 0 { MEM_COMMIT } else { MEM_RESERVE };
        assert_eq!((r.base, r.alloc_base, r.state, r.ty), (b, b, state, MEM_PRIVATE), "type {ty:#x}: {r:?}");
        nt_release(&mut nt, b);
    }
}

#[test]
fn f27_win32_every_lone_allocation_bit_other_than_commit_or_reserve_fails_87() {
    let (mut sys, pid) = boot_small();
    let mut k = Kernel32::new(&mut sys, pid);
    let before = memory_status(&mut k).ullAvailVirtual;
    for bit in 0..32 {
        let ty = 1_u32 << bit;
        // MEM_RESET / MEM_RESET_UNDO alone are valid types (F41–F45, tested there).
        if ty == MEM_COMMIT || ty == MEM_RESERVE || ty == MEM_RESET || ty == MEM_RESET_UNDO {
            continue;
        }
        alloc_fails(&mut k, 0, 0x1000, ty, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    }
    alloc_fails(&mut k, 0, 0x1000, 0, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    alloc_fails(&mut k, 0, 0x1000, 0xFFFF_FFFF, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    assert_eq!(memory_status(&mut k).ullAvailVirtual, before);
}

#[test]
fn f27_win32_reserve_commit_with_each_extra_bit() {
    let (mut sys, pid) = boot_small();
    let mut k = Kernel32::new(&mut sys, pid);
    let before = memory_status(&mut k).ullAvailVirtual;
    for bit in 0..32 {
        let extra = 1_u32 << bit;
        if extra == MEM_COMMIT || extra == MEM_RESERVE {
            continue;
        }
        // MEM_LARGE_PAGES has its own tests (F48); MEM_REPLACE_PLACEHOLDER belongs to the
        // placeholder facts (section Q).
        if extra == MEM_LARGE_PAGES || extra == MEM_REPLACE_PLACEHOLDER {
            continue;
        }
        let ty = MEM_RESERVE | MEM_COMMIT | extra;
        if extra == MEM_TOP_DOWN || extra == MEM_WRITE_WATCH {
            let p = alloc_ok(&mut k, 0, 0x1000, ty, PAGE_READWRITE);
            assert_eq!(query(&mut k, p), committed(p, p, PAGE_READWRITE, 0x1000, PAGE_READWRITE));
            release(&mut k, p);
        } else {
            // F27 (RESET, PHYSICAL, unknown bits), F29 (AT_ROUND_TO_PAGE), F30
            // (RESERVE_PLACEHOLDER), F45 (RESET_UNDO), F50 (PHYSICAL).
            alloc_fails(&mut k, 0, 0x1000, ty, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
        }
    }
    assert_eq!(memory_status(&mut k).ullAvailVirtual, before);
}

#[test]
fn f28_write_watch_requires_reserve() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    alloc_fails(&mut k, 0, 0x1_0000, MEM_WRITE_WATCH, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    alloc_fails(&mut k, 0, 0x1_0000, MEM_WRITE_WATCH | MEM_COMMIT, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    let p = alloc_ok(&mut k, 0, 0x1_0000, MEM_RESERVE | MEM_WRITE_WATCH, PAGE_READWRITE);
    assert_eq!(query(&mut k, p), reserved(p, p, PAGE_READWRITE, 0x1_0000));
    let q = alloc_ok(&mut k, 0, 0x1_0000, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    assert_eq!(query(&mut k, q), committed(q, q, PAGE_READWRITE, 0x1_0000, PAGE_READWRITE));
}

#[test]
fn f29_at_round_to_page_is_not_an_allocation_flag() {
    let (mut sys, pid) = boot();
    let p = {
        let mut k = Kernel32::new(&mut sys, pid);
        let p = alloc_ok(&mut k, 0, 0x1000, MEM_RESERVE, PAGE_READWRITE);
        release(&mut k, p);
        let ty = MEM_RESERVE | MEM_COMMIT | AT_ROUND_TO_PAGE_FLAG;
        alloc_fails(&mut k, p, 0x1000, ty, PAGE_EXECUTE_READWRITE, ERROR_INVALID_PARAMETER);
        alloc_fails(&mut k, 0, 0x1000, ty, PAGE_EXECUTE_READWRITE, ERROR_INVALID_PARAMETER);
        assert_free(&mut k, p);
        p
    };
    let mut nt = Ntdll::new(&mut sys, pid);
    for base in [p, 0] {
        let ty = MEM_RESERVE | MEM_COMMIT | AT_ROUND_TO_PAGE_FLAG;
        let (st, _, _) = nt_alloc(&mut nt, base, 0, 0x1000, ty, PAGE_EXECUTE_READWRITE);
        // V8: _5, _9 or STATUS_INVALID_PARAMETER.
        assert!(
            st == STATUS_INVALID_PARAMETER_5 || st == STATUS_INVALID_PARAMETER_9 || st == STATUS_INVALID_PARAMETER,
            "base {base:#x}: {st:#x}"
        );
    }
}

#[test]
fn f30_reserve_placeholder_via_plain_nt_allocate_is_invalid_parameter() {
    let (mut sys, pid) = boot();
    {
        let mut nt = Ntdll::new(&mut sys, pid);
        let (st, _, _) = nt_alloc(&mut nt, 0, 0, 0x1_0000, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS);
        assert_eq!(st, STATUS_INVALID_PARAMETER);
    }
    let mut k = Kernel32::new(&mut sys, pid);
    alloc_fails(&mut k, 0, 0x1_0000, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS, ERROR_INVALID_PARAMETER);
}

#[test]
fn f31_bad_process_handle_fails_invalid_handle() {
    let (mut sys, pid) = boot();
    {
        let mut k = Kernel32::new(&mut sys, pid);
        k.SetLastError(STALE_ERROR);
        let p = k.VirtualAllocEx(std::ptr::null_mut(), 0, 0x8000, MEM_COMMIT, PAGE_EXECUTE_READWRITE);
        assert_eq!((p, k.GetLastError()), (0, ERROR_INVALID_HANDLE));
        k.SetLastError(STALE_ERROR);
        let p = k.VirtualAllocEx(0x12340_usize as HANDLE, 0, 0x8000, MEM_COMMIT, PAGE_EXECUTE_READWRITE);
        assert_eq!((p, k.GetLastError()), (0, ERROR_INVALID_HANDLE));
    }
    let mut nt = Ntdll::new(&mut sys, pid);
    for h in [std::ptr::null_mut(), 0x12340_usize as HANDLE] {
        let mut b = 0;
        let mut s = 0x8000;
        let st = nt.NtAllocateVirtualMemory(h, &mut b, 0, &mut s, MEM_COMMIT, PAGE_EXECUTE_READWRITE);
        assert_eq!(st, STATUS_INVALID_HANDLE, "handle {h:?}");
    }
}

#[test]
fn f31_virtual_alloc_ex_on_current_process_works_like_virtual_alloc() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = k.GetCurrentProcess();
    let p = k.VirtualAllocEx(h, 0, 0x8000, MEM_COMMIT, PAGE_EXECUTE_READWRITE);
    assert_ne!(p, 0, "error {}", k.GetLastError());
    assert_eq!(p & 0xFFFF, 0);
    assert_eq!(query(&mut k, p), committed(p, p, PAGE_EXECUTE_READWRITE, 0x8000, PAGE_EXECUTE_READWRITE));
    write_ok(&mut k, p + 0x7FFF, &[1]);
    // Same validation as VirtualAlloc.
    k.SetLastError(STALE_ERROR);
    let q = k.VirtualAllocEx(h, 0, 0, MEM_COMMIT, PAGE_READWRITE);
    assert_eq!((q, k.GetLastError()), (0, ERROR_INVALID_PARAMETER));
}

// =============================================================================================
// E. VirtualAlloc — protection validation

#[test]
fn f32_commit_protection_exhaustive() {
    let (mut sys, pid) = boot_small();
    let mut k = Kernel32::new(&mut sys, pid);
    let before = memory_status(&mut k).ullAvailVirtual;
    for ty in [MEM_COMMIT, MEM_RESERVE | MEM_COMMIT] {
        for prot in 0..=0xFF_u32 {
            if VALID_BASE_PROTECTIONS.contains(&prot) {
                let p = alloc_ok(&mut k, 0, P, ty, prot);
                assert_eq!(query(&mut k, p), committed(p, p, prot, P, prot), "type {ty:#x} prot {prot:#x}");
                release(&mut k, p);
            } else {
                alloc_fails(&mut k, 0, P, ty, prot, ERROR_INVALID_PARAMETER);
            }
        }
    }
    assert_eq!(memory_status(&mut k).ullAvailVirtual, before);
}

#[test]
fn f33_reserve_protection_exhaustive() {
    let (mut sys, pid) = boot_small();
    let mut k = Kernel32::new(&mut sys, pid);
    let before = memory_status(&mut k).ullAvailVirtual;
    for prot in 0..=0xFF_u32 {
        if VALID_BASE_PROTECTIONS.contains(&prot) {
            let p = alloc_ok(&mut k, 0, 0x1000, MEM_RESERVE, prot);
            assert_eq!(query(&mut k, p), reserved(p, p, prot, 0x1000), "prot {prot:#x}");
            release(&mut k, p);
        } else {
            alloc_fails(&mut k, 0, 0x1000, MEM_RESERVE, prot, ERROR_INVALID_PARAMETER);
        }
    }
    assert_eq!(memory_status(&mut k).ullAvailVirtual, before);
}

#[test]
fn f33_nt_reserve_writecopy_is_invalid_page_protection() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    for prot in [PAGE_WRITECOPY, PAGE_EXECUTE_WRITECOPY, 0] {
        let (st, _, _) = nt_alloc(&mut nt, 0, 0, 0x1000, MEM_RESERVE, prot);
        assert_eq!(st, STATUS_INVALID_PAGE_PROTECTION, "prot {prot:#x}");
    }
}

#[test]
fn f34_nt_protection_exhaustive_is_invalid_page_protection() {
    let (mut sys, pid) = boot_small();
    let mut nt = Ntdll::new(&mut sys, pid);
    for ty in [MEM_RESERVE, MEM_COMMIT, MEM_RESERVE | MEM_COMMIT] {
        for prot in (0..=0xFF_u32).chain([0xFFFF_FFFF]) {
            let (st, b, _) = nt_alloc(&mut nt, 0, 0, 0x1000, ty, prot);
            if VALID_BASE_PROTECTIONS.contains(&prot) {
                assert_eq!(st, STATUS_SUCCESS, "type {ty:#x} prot {prot:#x}");
                nt_release(&mut nt, b);
            } else {
                assert_eq!(st, STATUS_INVALID_PAGE_PROTECTION, "type {ty:#x} prot {prot:#x}");
            }
        }
    }
}

#[test]
fn f34_commit_into_reservation_with_bad_protection_fails_87_and_commits_nothing() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x1_0000, MEM_RESERVE, PAGE_READWRITE);
    alloc_fails(&mut k, p, 0x1000, MEM_COMMIT, PAGE_READONLY | PAGE_EXECUTE, ERROR_INVALID_PARAMETER);
    alloc_fails(&mut k, p, 0x1000, MEM_COMMIT, 0, ERROR_INVALID_PARAMETER);
    alloc_fails(&mut k, p, 0x1000, MEM_COMMIT, PAGE_WRITECOPY, ERROR_INVALID_PARAMETER);
    alloc_fails(&mut k, p, 0x1000, MEM_COMMIT, PAGE_EXECUTE_WRITECOPY, ERROR_INVALID_PARAMETER);
    alloc_fails(&mut k, 0, 0x1000, MEM_COMMIT, 0, ERROR_INVALID_PARAMETER);
    assert_eq!(query(&mut k, p), reserved(p, p, PAGE_READWRITE, 0x1_0000));
}

/// F35: the documented modifier rules.
fn modifier_combination_valid(base: u32, mods: u32) -> bool {
    VALID_BASE_PROTECTIONS.contains(&base) && (mods == 0 || (mods.count_ones() == 1 && base != PAGE_NOACCESS))
}

#[test]
fn f35_modifier_combinations_exhaustive() {
    let (mut sys, pid) = boot_small();
    let mut k = Kernel32::new(&mut sys, pid);
    let before = memory_status(&mut k).ullAvailVirtual;
    for mods in MODIFIER_SETS {
        for base in 0..=0xFF_u32 {
            let prot = base | mods;
            if modifier_combination_valid(base, mods) {
                let p = alloc_ok(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, prot);
                assert_eq!(query(&mut k, p), committed(p, p, prot, P, prot), "prot {prot:#x}");
                release(&mut k, p);
            } else {
                alloc_fails(&mut k, 0, P, MEM_RESERVE | MEM_COMMIT, prot, ERROR_INVALID_PARAMETER);
            }
        }
    }
    assert_eq!(memory_status(&mut k).ullAvailVirtual, before);
}

#[test]
fn f35_nt_modifier_rules() {
    let (mut sys, pid) = boot_small();
    let mut nt = Ntdll::new(&mut sys, pid);
    let ty = MEM_RESERVE | MEM_COMMIT;
    for prot in [PAGE_NOACCESS | PAGE_GUARD, PAGE_NOACCESS | PAGE_WRITECOMBINE] {
        let (st, _, _) = nt_alloc(&mut nt, 0, 0, 0x1000, ty, prot);
        assert_eq!(st, STATUS_INVALID_PAGE_PROTECTION, "prot {prot:#x}");
    }
    let (b, _) = nt_alloc_ok(&mut nt, 0, 0x1000, ty, PAGE_READONLY | PAGE_WRITECOMBINE);
    let wc = PAGE_READONLY | PAGE_WRITECOMBINE;
    assert_eq!(nt_query(&mut nt, b), committed(b, b, wc, 0x1000, wc));
    for mods in MODIFIER_SETS {
        for base in VALID_BASE_PROTECTIONS {
            let prot = base | mods;
            let (st, b, _) = nt_alloc(&mut nt, 0, 0, 0x1000, ty, prot);
            if modifier_combination_valid(base, mods) {
                assert_eq!(st, STATUS_SUCCESS, "prot {prot:#x}");
                nt_release(&mut nt, b);
            } else {
                assert_eq!(st, STATUS_INVALID_PAGE_PROTECTION, "prot {prot:#x}");
            }
        }
    }
}

#[test]
fn f36_writing_does_not_change_reported_protection() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    for prot in [PAGE_READWRITE, PAGE_EXECUTE_READWRITE] {
        let p = alloc_ok(&mut k, 0, 0x2000, MEM_RESERVE | MEM_COMMIT, prot);
        write_ok(&mut k, p, &pattern(2, 0x1800));
        assert_eq!(query(&mut k, p), committed(p, p, prot, 0x2000, prot), "prot {prot:#x}");
    }
}

#[test]
fn f37_guard_page_allocation_reports_0x104() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    assert_eq!(query(&mut k, p), committed(p, p, 0x104, 0x1000, 0x104));
}

#[test]
fn f38_nocache_allocation_reports_0x204() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x2000, MEM_COMMIT, PAGE_READWRITE | PAGE_NOCACHE);
    assert_eq!(query(&mut k, p), committed(p, p, 0x204, 0x2000, 0x204));
    write_ok(&mut k, p + 0x1FFF, &[9]);
    assert_eq!(read_vec(&mut k, p + 0x1FFF, 1), [9]);
}

#[test]
fn f39_nocache_is_sticky_across_virtual_protect() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x2000, MEM_COMMIT, PAGE_READWRITE | PAGE_NOCACHE);
    let mut old = 0xDEAD_BEEF_u32;
    assert_ne!(k.VirtualProtect(p, 0x1000, PAGE_READWRITE, Some(&mut old)), 0, "error {}", k.GetLastError());
    assert_eq!(old, 0x204);
    // V4 (bold): still 0x204 and no split.
    assert_eq!(query(&mut k, p), committed(p, p, 0x204, 0x2000, 0x204));
    let mut old = 0xDEAD_BEEF_u32;
    assert_ne!(k.VirtualProtect(p, 0x1000, PAGE_READONLY, Some(&mut old)), 0, "error {}", k.GetLastError());
    assert_eq!(old, 0x204);
    assert_eq!(query(&mut k, p), committed(p, p, 0x204, 0x1000, 0x202));
    assert_eq!(query(&mut k, p + 0x1000), committed(p + 0x1000, p, 0x204, 0x1000, 0x204));
    assert_write_faults(&mut k, p);
}

#[test]
fn f40_nocache_cannot_be_added_by_virtual_protect() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x2000, MEM_COMMIT, PAGE_READWRITE);
    let mut old = 0xDEAD_BEEF_u32;
    let ok = k.VirtualProtect(p, 0x1000, PAGE_READONLY | PAGE_NOCACHE, Some(&mut old));
    assert_ne!(ok, 0, "error {}", k.GetLastError());
    assert_eq!(old, PAGE_READWRITE);
    // V5 (bold): PAGE_READONLY without 0x200.
    assert_eq!(query(&mut k, p), committed(p, p, PAGE_READWRITE, 0x1000, PAGE_READONLY));
    assert_eq!(query(&mut k, p + 0x1000), committed(p + 0x1000, p, PAGE_READWRITE, 0x1000, PAGE_READWRITE));
}

// =============================================================================================
// F. MEM_RESET / MEM_RESET_UNDO

#[test]
fn f41_reset_committed_page_keeps_state_and_data_is_intact_or_zero() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    let data = pattern(0x21, 0x1000);
    write_ok(&mut k, p, &data);
    assert_eq!(k.VirtualAlloc(p, 0x1000, MEM_RESET, PAGE_NOACCESS), p, "error {}", k.GetLastError());
    assert_eq!(query(&mut k, p), committed(p, p, PAGE_READWRITE, 0x1000, PAGE_READWRITE));
    // V17: preserved or zero, page as a whole.
    let now = read_vec(&mut k, p, 0x1000);
    assert!(now == data || now.iter().all(|&b| b == 0), "after MEM_RESET the page is neither intact nor zero");
    // The page stays usable.
    let fresh = pattern(0x77, 0x1000);
    write_ok(&mut k, p, &fresh);
    assert_eq!(read_vec(&mut k, p, 0x1000), fresh);
}

#[test]
fn f41_reset_requires_a_valid_protection_value() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    let data = pattern(0x31, 0x1000);
    write_ok(&mut k, p, &data);
    // 0 and combined base protections are invalid everywhere (F32–F34). (Whether PAGE_WRITECOPY
    // counts as "a valid value" for MEM_RESET the facts do not say, so it is not tested.)
    for prot in [0, PAGE_READONLY | PAGE_READWRITE, PAGE_READONLY | PAGE_EXECUTE, 0xFF] {
        alloc_fails(&mut k, p, 0x1000, MEM_RESET, prot, ERROR_INVALID_PARAMETER);
    }
    // A failed call changed nothing.
    assert_eq!(read_vec(&mut k, p, 0x1000), data);
    // Any valid protection is accepted and ignored.
    for prot in VALID_BASE_PROTECTIONS {
        assert_eq!(k.VirtualAlloc(p, 0x1000, MEM_RESET, prot), p, "prot {prot:#x}");
        assert_eq!(query(&mut k, p), committed(p, p, PAGE_READWRITE, 0x1000, PAGE_READWRITE));
    }
}

#[test]
fn f42_reset_reserved_page_succeeds_and_stays_reserved() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x1_0000, MEM_RESERVE, PAGE_NOACCESS);
    alloc_ok(&mut k, p, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    let q = k.VirtualAlloc(p + 0x1000, 0x1000, MEM_RESET, PAGE_NOACCESS);
    assert_eq!(q, p + 0x1000, "error {}", k.GetLastError());
    assert_eq!(query(&mut k, p + 0x1000), reserved(p + 0x1000, p, PAGE_NOACCESS, 0xF000));
    assert_eq!(query(&mut k, p), committed(p, p, PAGE_NOACCESS, 0x1000, PAGE_READWRITE));
}

#[test]
fn f43_reset_past_end_of_reservation_fails_487_and_changes_nothing() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x1_0000, MEM_RESERVE, PAGE_NOACCESS);
    alloc_fails(&mut k, p + 0xF000, 0x2000, MEM_RESET, PAGE_NOACCESS, ERROR_INVALID_ADDRESS);
    alloc_ok(&mut k, p + 0xF000, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    let data = pattern(0x51, 0x1000);
    write_ok(&mut k, p + 0xF000, &data);
    alloc_fails(&mut k, p + 0xF000, 0x2000, MEM_RESET, PAGE_NOACCESS, ERROR_INVALID_ADDRESS);
    assert_eq!(read_vec(&mut k, p + 0xF000, 0x1000), data);
    assert_eq!(query(&mut k, p + 0xF000), committed(p + 0xF000, p, PAGE_NOACCESS, 0x1000, PAGE_READWRITE));
    assert_free(&mut k, p + 0x1_0000);
}

#[test]
fn f45_reset_combined_with_any_other_flag_fails() {
    let (mut sys, pid) = boot();
    let p = {
        let mut k = Kernel32::new(&mut sys, pid);
        let p = alloc_ok(&mut k, 0, 0x2000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        write_ok(&mut k, p, &pattern(0x61, 0x2000));
        for extra in [
            MEM_COMMIT,
            MEM_RESERVE,
            MEM_RESERVE | MEM_COMMIT,
            MEM_TOP_DOWN,
            MEM_WRITE_WATCH,
            MEM_PHYSICAL,
            MEM_LARGE_PAGES,
            MEM_RESET_UNDO,
        ] {
            alloc_fails(&mut k, p, 0x2000, MEM_RESET | extra, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
        }
        assert_eq!(read_vec(&mut k, p, 0x2000), pattern(0x61, 0x2000));
        p
    };
    let mut nt = Ntdll::new(&mut sys, pid);
    for ty in [MEM_TOP_DOWN | MEM_RESET, MEM_COMMIT | MEM_RESET, MEM_RESET | MEM_COMMIT | MEM_RESERVE] {
        let (st, _, _) = nt_alloc(&mut nt, p, 0, 0x2000, ty, PAGE_READWRITE);
        assert_eq!(st, STATUS_INVALID_PARAMETER_5, "type {ty:#x}");
    }
}

#[test]
fn f45_reset_undo_combined_with_other_flags_fails_87() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x2000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(k.VirtualAlloc(p, 0x2000, MEM_RESET, PAGE_NOACCESS), p);
    for extra in [MEM_COMMIT, MEM_RESERVE, MEM_RESERVE | MEM_COMMIT, MEM_TOP_DOWN, MEM_WRITE_WATCH, MEM_RESET] {
        alloc_fails(&mut k, p, 0x2000, MEM_RESET_UNDO | extra, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    }
    assert_eq!(query(&mut k, p), committed(p, p, PAGE_READWRITE, 0x2000, PAGE_READWRITE));
}

#[test]
fn f45_reset_undo_after_reset_reports_whether_data_survived() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x4000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    let data = pattern(0x71, 0x4000);
    write_ok(&mut k, p, &data);
    assert_eq!(k.VirtualAlloc(p, 0x4000, MEM_RESET, PAGE_NOACCESS), p, "error {}", k.GetLastError());
    let r = k.VirtualAlloc(p, 0x4000, MEM_RESET_UNDO, PAGE_READWRITE);
    let now = read_vec(&mut k, p, 0x4000);
    if r == p {
        assert_eq!(now, data, "MEM_RESET_UNDO succeeded but the data is not intact");
    } else {
        assert_eq!(r, 0);
        let some_page_zeroed = now.chunks(0x1000).any(|pg| pg.iter().all(|&b| b == 0));
        assert!(some_page_zeroed, "MEM_RESET_UNDO failed but no page was zeroed");
    }
    assert_eq!(query(&mut k, p), committed(p, p, PAGE_READWRITE, 0x4000, PAGE_READWRITE));
}

// =============================================================================================
// G. MEM_TOP_DOWN, zero bits, large pages, physical

#[test]
fn f46_top_down_allocation_is_above_bottom_up() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let bottom = alloc_ok(&mut k, 0, 0x1_0000, MEM_RESERVE, PAGE_READWRITE);
    let top = alloc_ok(&mut k, 0, 0x1_0000, MEM_RESERVE | MEM_TOP_DOWN, PAGE_READWRITE);
    assert!(top > bottom, "top-down {top:#x} is not above bottom-up {bottom:#x}");
    assert_eq!(top & 0xFFFF, 0);
    assert!(top + 0x1_0000 - 1 <= MAX_APP);
    // "the highest possible address": in a fresh process that is in the upper half of user space.
    assert!(top >= 0x4000_0000_0000, "top-down allocation {top:#x} is not high");
    assert_eq!(query(&mut k, top), reserved(top, top, PAGE_READWRITE, 0x1_0000));
    let c = alloc_ok(&mut k, 0, 0x3000, MEM_COMMIT | MEM_TOP_DOWN, PAGE_READWRITE);
    assert!(c > bottom);
    assert_eq!(query(&mut k, c), committed(c, c, PAGE_READWRITE, 0x3000, PAGE_READWRITE));
    // A later bottom-up allocation is still below.
    let bottom2 = alloc_ok(&mut k, 0, 0x1_0000, MEM_RESERVE, PAGE_READWRITE);
    assert!(bottom2 < top && bottom2 < c);
}

#[test]
fn f46_successive_top_down_allocations_descend() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    let (bottom, _) = nt_alloc_ok(&mut nt, 0, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    let mut prev = u64::MAX;
    for _ in 0..8 {
        let (t, s) = nt_alloc_ok(&mut nt, 0, 0x1000, MEM_RESERVE | MEM_COMMIT | MEM_TOP_DOWN, PAGE_READWRITE);
        assert_eq!(s, 0x1000);
        assert!(t > bottom, "top-down {t:#x} not above bottom-up {bottom:#x}");
        assert!(t < prev, "top-down {t:#x} not below the previous top-down {prev:#x}");
        prev = t;
    }
}

#[test]
fn f47_zero_bits_1_to_20_constrain_the_address() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    for zero_bits in 1..=20_u64 {
        let ty = MEM_RESERVE | MEM_COMMIT | MEM_TOP_DOWN;
        let (st, b, s) = nt_alloc(&mut nt, 0, zero_bits, 0x1000, ty, PAGE_READWRITE);
        if st == STATUS_SUCCESS {
            assert_eq!(b >> (32 - zero_bits), 0, "zero_bits {zero_bits}: base {b:#x}");
            assert_eq!((b + s - 1) >> (32 - zero_bits), 0, "zero_bits {zero_bits}: end {:#x}", b + s);
            nt_release(&mut nt, b);
        } else {
            // V7: 20 may be STATUS_CONFLICTING_ADDRESSES.
            assert!(
                st == STATUS_NO_MEMORY || (zero_bits == 20 && st == STATUS_CONFLICTING_ADDRESSES),
                "zero_bits {zero_bits}: {st:#x}"
            );
        }
    }
}

#[test]
fn f47_zero_bits_3_succeeds() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    for ty in [MEM_RESERVE | MEM_COMMIT, MEM_RESERVE | MEM_COMMIT | MEM_TOP_DOWN] {
        let (st, b, s) = nt_alloc(&mut nt, 0, 3, 0x1000, ty, PAGE_READWRITE);
        assert_eq!(st, STATUS_SUCCESS, "type {ty:#x}");
        assert_eq!(s, 0x1000);
        assert_eq!((b + s - 1) >> 29, 0, "base {b:#x}");
        assert_eq!(nt_query(&mut nt, b), committed(b, b, PAGE_READWRITE, 0x1000, PAGE_READWRITE));
    }
}

#[test]
fn f47_zero_bits_21_22_and_all_ones_fail() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    let ty = MEM_RESERVE | MEM_COMMIT | MEM_TOP_DOWN;
    let (st, _, _) = nt_alloc(&mut nt, 0, 21, 0x1000, ty, PAGE_READWRITE);
    assert!(st == STATUS_NO_MEMORY || st == STATUS_INVALID_PARAMETER, "21: {st:#x}");
    let (st, _, _) = nt_alloc(&mut nt, 0, 22, 0x1000, ty, PAGE_READWRITE);
    // F47: _3; V7 also lists _4 and STATUS_INVALID_PARAMETER.
    assert!(
        st == STATUS_INVALID_PARAMETER_3 || st == STATUS_INVALID_PARAMETER_4 || st == STATUS_INVALID_PARAMETER,
        "22: {st:#x}"
    );
    let (st, _, _) = nt_alloc(&mut nt, 0, u64::MAX, 0x1000, ty, PAGE_READWRITE);
    assert_eq!(st, STATUS_INVALID_PARAMETER_3, "(ULONG_PTR)-1");
}

#[test]
fn f47_zero_bits_above_31_are_a_leading_zero_mask() {
    let (mut sys, pid) = boot();
    let mut nt = Ntdll::new(&mut sys, pid);
    // (mask, highest allowed end): 0x7FFFFFFF has 33 leading zeros → below 2^31;
    // 0x1AAAAAAA has 35 → below 2^29; 0x3FFFFFFFF has 30 → below 2^34.
    for (mask, limit) in [(0x7FFF_FFFF_u64, 1_u64 << 31), (0x1AAA_AAAA, 1 << 29), (0x3_FFFF_FFFF, 1 << 34)] {
        for ty in [MEM_RESERVE | MEM_COMMIT | MEM_TOP_DOWN, MEM_RESERVE | MEM_COMMIT] {
            let (st, b, s) = nt_alloc(&mut nt, 0, mask, 0x1000, ty, PAGE_READWRITE);
            assert_eq!(st, STATUS_SUCCESS, "mask {mask:#x}, type {ty:#x}");
            assert!(b + s <= limit, "mask {mask:#x}, type {ty:#x}: [{b:#x}, +{s:#x}) above {limit:#x}");
            nt_release(&mut nt, b);
        }
    }
}

#[test]
fn f48_large_page_minimum_is_2mib() {
    let (mut sys, pid) = boot_with(Config::default().with_lock_memory_privilege());
    let k = Kernel32::new(&mut sys, pid);
    assert_eq!(k.GetLargePageMinimum(), 0x20_0000);
}

#[test]
fn f48_large_page_allocation_with_privilege() {
    let (mut sys, pid) = boot_with(Config::default().with_lock_memory_privilege());
    let mut k = Kernel32::new(&mut sys, pid);
    let l = k.GetLargePageMinimum();
    assert!(l >= 0x20_0000 && l.is_power_of_two(), "large page minimum {l:#x}");
    for n in [1, 2] {
        let size = n * l;
        let p = alloc_ok(&mut k, 0, size, MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES, PAGE_READWRITE);
        assert_eq!(p % l, 0, "large-page allocation {p:#x} not aligned to {l:#x}");
        assert_eq!(query(&mut k, p), committed(p, p, PAGE_READWRITE, size, PAGE_READWRITE));
        // Non-pageable: resident before any touch, backed by large-page-aligned contiguous frames.
        for chunk in 0..n {
            let va = p + chunk * l;
            let pa = k.MmGetPhysicalAddress(va);
            assert_ne!(pa, 0, "large page at {va:#x} is not resident");
            assert_eq!(pa % l, 0, "large page at {va:#x} maps physical {pa:#x}");
            assert_eq!(k.MmGetPhysicalAddress(va + 0x1234), pa + 0x1234);
            assert_eq!(k.MmGetPhysicalAddress(va + l - 1), pa + l - 1);
        }
        assert_zero(&mut k, p, 0x1000);
        write_ok(&mut k, p + size - 1, &[0xAA]);
        assert_eq!(read_vec(&mut k, p + size - 1, 1), [0xAA]);
        release(&mut k, p);
        assert_free(&mut k, p);
    }
}

#[test]
fn f48_large_page_shape_errors_fail_87() {
    let (mut sys, pid) = boot_with(Config::default().with_lock_memory_privilege());
    let mut k = Kernel32::new(&mut sys, pid);
    let l = k.GetLargePageMinimum();
    let rc = MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES;
    // Size must be a multiple of the minimum.
    for size in [0x1000, l + 0x1000, l / 2] {
        alloc_fails(&mut k, 0, size, rc, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    }
    // Alignment must be a multiple of the minimum.
    alloc_fails(&mut k, 0x1_0001_0000, l, rc, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    assert_free(&mut k, 0x1_0001_0000);
    // Must be MEM_RESERVE|MEM_COMMIT in one call.
    alloc_fails(&mut k, 0, l, MEM_LARGE_PAGES, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    alloc_fails(&mut k, 0, l, MEM_RESERVE | MEM_LARGE_PAGES, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    // Large pages cannot commit an existing reservation.
    let r = alloc_ok(&mut k, 0x1_0000_0000, l, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(r, 0x1_0000_0000);
    alloc_fails(&mut k, r, l, MEM_COMMIT | MEM_LARGE_PAGES, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    assert_eq!(query(&mut k, r), reserved(r, r, PAGE_READWRITE, l));
}

#[test]
fn f48_large_pages_without_privilege_fail_1314() {
    let (mut sys, pid) = boot();
    let l = {
        let mut k = Kernel32::new(&mut sys, pid);
        let l = k.GetLargePageMinimum();
        assert_ne!(l, 0);
        let before = memory_status(&mut k);
        alloc_fails(&mut k, 0, l, MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES, PAGE_READWRITE, ERROR_PRIVILEGE_NOT_HELD);
        let after = memory_status(&mut k);
        assert_eq!(after.ullAvailVirtual, before.ullAvailVirtual);
        assert_eq!(after.ullAvailPageFile, before.ullAvailPageFile);
        l
    };
    let mut nt = Ntdll::new(&mut sys, pid);
    let (st, _, _) = nt_alloc(&mut nt, 0, 0, l, MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES, PAGE_READWRITE);
    assert_eq!(st, STATUS_PRIVILEGE_NOT_HELD);
}

#[test]
fn f50_physical_only_as_reserve_with_readwrite() {
    let (mut sys, pid) = boot();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = alloc_ok(&mut k, 0, 0x1_0000, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE);
    let r = query(&mut k, p);
    assert_eq!((r.base, r.alloc_base, r.state, r.ty), (p, p, MEM_RESERVE, MEM_PRIVATE), "{r:?}");
    for prot in VALID_BASE_PROTECTIONS {
        if prot != PAGE_READWRITE {
            alloc_fails(&mut k, 0, 0x1_0000, MEM_RESERVE | MEM_PHYSICAL, prot, ERROR_INVALID_PARAMETER);
        }
    }
    for ty in [
        MEM_PHYSICAL,
        MEM_PHYSICAL | MEM_COMMIT,
        MEM_PHYSICAL | MEM_RESERVE | MEM_COMMIT,
        MEM_PHYSICAL | MEM_RESERVE | MEM_WRITE_WATCH,
    ] {
        alloc_fails(&mut k, 0, 0x1_0000, ty, PAGE_READWRITE, ERROR_INVALID_PARAMETER);
    }
}

// =============================================================================================
// Commit charge and commit limit (docs/design.md, "Figures the system keeps"; STATUS_COMMITMENT_LIMIT)

fn boot_16mib() -> (System, ProcessId) {
    boot_with(Config::default().with_ram_bytes(16 << 20))
}

#[test]
fn commit_beyond_commit_limit_fails_1455_and_commits_nothing() {
    let (mut sys, pid) = boot_16mib();
    let mut k = Kernel32::new(&mut sys, pid);
    let ms = memory_status(&mut k);
    assert!(ms.ullTotalPageFile >= ms.ullAvailPageFile, "commit limit below available commit");
    let size = round_up(ms.ullAvailPageFile + 0x10_0000, G);
    let p = alloc_ok(&mut k, 0, size, MEM_RESERVE, PAGE_READWRITE);
    // One page committed beforehand must survive the failed call.
    alloc_ok(&mut k, p, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    write_ok(&mut k, p, &[0x42]);
    let before = memory_status(&mut k);
    let usage = private_usage(&mut k);
    alloc_fails(&mut k, p, size, MEM_COMMIT, PAGE_READWRITE, ERROR_COMMITMENT_LIMIT);
    let after = memory_status(&mut k);
    assert_eq!(after.ullAvailPageFile, before.ullAvailPageFile, "failed commit charged commit");
    assert_eq!(private_usage(&mut k), usage, "failed commit changed PrivateUsage");
    assert_eq!(query(&mut k, p), committed(p, p, PAGE_READWRITE, 0x1000, PAGE_READWRITE));
    assert_eq!(query(&mut k, p + 0x1000), reserved(p + 0x1000, p, PAGE_READWRITE, size - 0x1000));
    assert_eq!(read_vec(&mut k, p, 1), [0x42]);
    assert_read_faults(&mut k, p + 0x1000);
    // Within the limit, committing still works.
    assert_eq!(alloc_ok(&mut k, p + 0x1000, 0x1000, MEM_COMMIT, PAGE_READWRITE), p + 0x1000);
}

#[test]
fn commit_beyond_limit_with_null_base_leaves_no_reservation() {
    let (mut sys, pid) = boot_16mib();
    let mut k = Kernel32::new(&mut sys, pid);
    let before = memory_status(&mut k);
    let size = round_up(before.ullAvailPageFile + 0x10_0000, G);
    for ty in [MEM_COMMIT, MEM_RESERVE | MEM_COMMIT, MEM_RESERVE | MEM_COMMIT | MEM_TOP_DOWN] {
        alloc_fails(&mut k, 0, size, ty, PAGE_READWRITE, ERROR_COMMITMENT_LIMIT);
    }
    // 1 TiB can be reserved but not committed on a 16 MiB machine.
    alloc_fails(&mut k, 0, 1 << 40, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, ERROR_COMMITMENT_LIMIT);
    let after = memory_status(&mut k);
    assert_eq!(after.ullAvailVirtual, before.ullAvailVirtual, "failed commit left address space reserved");
    assert_eq!(after.ullAvailPageFile, before.ullAvailPageFile, "failed commit charged commit");
}

#[test]
fn nt_commit_beyond_limit_is_status_commitment_limit() {
    let (mut sys, pid) = boot_16mib();
    let avail = {
        let mut k = Kernel32::new(&mut sys, pid);
        memory_status(&mut k).ullAvailPageFile
    };
    let size = round_up(avail + 0x10_0000, G);
    let mut nt = Ntdll::new(&mut sys, pid);
    let (st, _, _) = nt_alloc(&mut nt, 0, 0, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(st, STATUS_COMMITMENT_LIMIT);
    let (b, _) = nt_alloc_ok(&mut nt, 0, size, MEM_RESERVE, PAGE_READWRITE);
    let (st, _, _) = nt_alloc(&mut nt, b, 0, size, MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(st, STATUS_COMMITMENT_LIMIT);
    assert_eq!(nt_query(&mut nt, b), reserved(b, b, PAGE_READWRITE, size));
}

#[test]
fn one_tib_reservation_succeeds_on_16mib_machine() {
    let (mut sys, pid) = boot_16mib();
    let mut k = Kernel32::new(&mut sys, pid);
    let tib = 1_u64 << 40;
    let before = memory_status(&mut k);
    let p = alloc_ok(&mut k, 0, tib, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(p & 0xFFFF, 0);
    assert_eq!(query(&mut k, p), reserved(p, p, PAGE_READWRITE, tib));
    let after = memory_status(&mut k);
    // A reservation costs address space only: no commit, no physical memory.
    assert_eq!(after.ullAvailVirtual, before.ullAvailVirtual - tib);
    assert_eq!(after.ullAvailPageFile, before.ullAvailPageFile);
    assert_eq!(after.ullAvailPhys, before.ullAvailPhys);
    // A second one, and a page committed in the middle of the first.
    let q = alloc_ok(&mut k, 0, tib, MEM_RESERVE, PAGE_NOACCESS);
    assert!(q >= p + tib || q + tib <= p);
    let mid = p + tib / 2 + 0x5000;
    assert_eq!(alloc_ok(&mut k, mid, 0x1000, MEM_COMMIT, PAGE_READWRITE), mid);
    assert_eq!(query(&mut k, mid), committed(mid, p, PAGE_READWRITE, 0x1000, PAGE_READWRITE));
    assert_eq!(query(&mut k, p), reserved(p, p, PAGE_READWRITE, tib / 2 + 0x5000));
    assert_eq!(query(&mut k, mid + 0x1000), reserved(mid + 0x1000, p, PAGE_READWRITE, tib / 2 - 0x6000));
    write_ok(&mut k, mid + 0xFFF, &[7]);
    assert_eq!(read_vec(&mut k, mid + 0xFFF, 1), [7]);
    release(&mut k, p);
    release(&mut k, q);
    assert_free(&mut k, mid);
    let end = memory_status(&mut k);
    assert_eq!(end.ullAvailVirtual, before.ullAvailVirtual);
}

#[test]
fn commit_charge_counts_each_committed_page_once() {
    // PrivateUsage is the process's committed private memory: exact. The system total also
    // counts page-table pages (Windows Internals, "Commit charge"), so for it the private pages
    // are a lower bound, and calls that create no page and no table leave it exactly unchanged.
    let (mut sys, pid) = boot_16mib();
    let mut k = Kernel32::new(&mut sys, pid);
    let start = memory_status(&mut k).ullAvailPageFile;
    let start_usage = private_usage(&mut k);
    let p = alloc_ok(&mut k, 0x4000_0000, 0x10_0000, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(p, 0x4000_0000);
    assert_eq!(memory_status(&mut k).ullAvailPageFile, start, "reservation charged commit");
    assert_eq!(private_usage(&mut k), start_usage, "reservation charged PrivateUsage");
    alloc_ok(&mut k, p, 0x1_0000, MEM_COMMIT, PAGE_READWRITE);
    let after_commit = memory_status(&mut k).ullAvailPageFile;
    assert!(start - after_commit >= 0x1_0000, "commit of 0x10000 charged only {:#x}", start - after_commit);
    assert_eq!(private_usage(&mut k), start_usage + 0x1_0000);
    // F22: re-committing is free.
    alloc_ok(&mut k, p, 0x1_0000, MEM_COMMIT, PAGE_READONLY);
    assert_eq!(memory_status(&mut k).ullAvailPageFile, after_commit, "re-commit charged commit");
    assert_eq!(private_usage(&mut k), start_usage + 0x1_0000, "re-commit charged PrivateUsage");
    // An overlapping commit charges only the new pages (same page table: 0x40000000 is 2 MiB aligned).
    alloc_ok(&mut k, p + 0x8000, 0x1_0000, MEM_COMMIT, PAGE_READWRITE);
    let after_overlap = memory_status(&mut k).ullAvailPageFile;
    assert_eq!(after_commit - after_overlap, 0x8000, "overlapping commit charge");
    assert_eq!(private_usage(&mut k), start_usage + 0x1_8000);
    // MEM_RESET does not change commit (F41: the pages stay committed).
    assert_eq!(k.VirtualAlloc(p + 0x8000, 0x1_0000, MEM_RESET, PAGE_NOACCESS), p + 0x8000);
    assert_eq!(memory_status(&mut k).ullAvailPageFile, after_overlap);
    assert_eq!(private_usage(&mut k), start_usage + 0x1_8000);
    release(&mut k, p);
    let end = memory_status(&mut k).ullAvailPageFile;
    assert!(end - after_overlap >= 0x1_8000, "release returned only {:#x}", end - after_overlap);
    assert!(end <= start);
    assert_eq!(private_usage(&mut k), start_usage);
}
