//! What the NT services write to their out parameters when they fail, and the order of their
//! checks (issue 6, item 5): `NtProtectVirtualMemory`'s old protection, `ZeroBits` masks,
//! `NtAllocateVirtualMemory`'s base and size, and the counts of `NtReadVirtualMemory` /
//! `NtWriteVirtualMemory`.
//!
//! Each test names its source: a fact of `docs/windows-behaviour.md`, or the peer test or reference
//! implementation it comes from (Wine `dlls/ntdll/tests/virtual.c`, ReactOS
//! `ntoskrnl/mm/ARM3/virtual.c`, which follows NT's order of checks).
// Tests compute addresses and sizes on a 64-bit host; truncating casts cannot occur here.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
#![allow(clippy::unwrap_used)]

use ntmem::units::USER_END;
use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;

const P: u64 = 0x1000;
const G: u64 = 0x10000;
/// What the caller's variables hold before a call, so a write is seen.
const SENTINEL: u32 = 0xDEAD_BEEF;

fn setup() -> (System, ProcessId) {
    let mut sys = System::new(Config::default().with_ram_bytes(64 << 20).with_invariant_checks()).unwrap();
    let pid = sys.create_process("test").unwrap();
    (sys, pid)
}

/// NtAllocateVirtualMemory on the current process: (status, base out, size out).
fn nt_alloc(nt: &mut Ntdll, base: u64, zero_bits: u64, size: u64, ty: u32, prot: u32) -> (NTSTATUS, u64, u64) {
    let (mut b, mut s) = (base, size);
    let st = nt.NtAllocateVirtualMemory(NtCurrentProcess(), &mut b, zero_bits, &mut s, ty, prot);
    (st, b, s)
}

fn nt_alloc_ok(nt: &mut Ntdll, size: u64, ty: u32, prot: u32) -> u64 {
    let (st, b, _) = nt_alloc(nt, 0, 0, size, ty, prot);
    assert_eq!(st, STATUS_SUCCESS, "NtAllocateVirtualMemory({size:#x}, {ty:#x}, {prot:#x})");
    b
}

/// NtProtectVirtualMemory on the current process with every out parameter preset:
/// (status, base out, size out, old protection out).
fn nt_protect(nt: &mut Ntdll, base: u64, size: u64, prot: u32) -> (NTSTATUS, u64, u64, u32) {
    let (mut b, mut s, mut old) = (base, size, SENTINEL);
    let st = nt.NtProtectVirtualMemory(NtCurrentProcess(), &mut b, &mut s, prot, Some(&mut old));
    (st, b, s, old)
}

fn protection_of(nt: &mut Ntdll, addr: u64) -> (u32, u32) {
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    assert_eq!(nt.NtQueryVirtualMemory(NtCurrentProcess(), addr, &mut info), STATUS_SUCCESS);
    (info.State, info.Protect)
}

// ------------------------------------------------------------------------------------------
// NtProtectVirtualMemory
// ------------------------------------------------------------------------------------------

/// A protection change that fails on the free page at 0 still writes the old protection,
/// PAGE_NOACCESS (issue 6, item 5: what Windows reports; ReactOS `NtProtectVirtualMemory`
/// writes the old protection back whatever `MiProtectVirtualMemory` returned). Base and size
/// keep the caller's values (they are written back unrounded).
#[test]
fn nt_protect_failing_on_the_free_page_at_zero_reports_noaccess() {
    // F186 (docs/windows-behaviour.md).
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    for size in [P, 1, 0x2345] {
        let (st, b, s, old) = nt_protect(&mut nt, 0, size, PAGE_READWRITE);
        assert_eq!(win32_error_of(st), ERROR_INVALID_ADDRESS, "size {size:#x}: status {st:#x}");
        assert_eq!((b, s, old), (0, size, PAGE_NOACCESS), "size {size:#x}");
    }
}

/// The same on reserved memory and on a range only partly committed (F73 gives the status).
#[test]
fn nt_protect_failing_on_reserved_memory_reports_noaccess_and_changes_nothing() {
    // F186 (docs/windows-behaviour.md).
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc_ok(&mut nt, G, MEM_RESERVE, PAGE_READWRITE);
    let (st, b, s, old) = nt_protect(&mut nt, p + 0x10, P, PAGE_READONLY);
    assert_eq!(win32_error_of(st), ERROR_INVALID_ADDRESS, "status {st:#x}");
    assert_eq!((b, s, old), (p + 0x10, P, PAGE_NOACCESS));

    // First page committed read/write, the second reserved: nothing changes.
    let (st, _, _) = nt_alloc(&mut nt, p, 0, P, MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(st, STATUS_SUCCESS);
    let (st, b, s, old) = nt_protect(&mut nt, p, 2 * P, PAGE_READONLY);
    assert_eq!(win32_error_of(st), ERROR_INVALID_ADDRESS, "status {st:#x}");
    assert_eq!((b, s, old), (p, 2 * P, PAGE_NOACCESS));
    assert_eq!(protection_of(&mut nt, p), (MEM_COMMIT, PAGE_READWRITE));
}

/// `VirtualProtect` passes the caller's variable to NT, so it sees the same value (F73).
#[test]
fn virtualprotect_failing_on_free_or_reserved_memory_reports_noaccess() {
    // F186 (docs/windows-behaviour.md).
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = k.VirtualAlloc(0, G, MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0);
    for addr in [0, p] {
        let mut old = SENTINEL;
        assert_eq!(k.VirtualProtect(addr, P, PAGE_READONLY, Some(&mut old)), FALSE, "{addr:#x}");
        assert_eq!(k.GetLastError(), ERROR_INVALID_ADDRESS, "{addr:#x}");
        assert_eq!(old, PAGE_NOACCESS, "{addr:#x}");
    }
}

/// Parameter checks come before the address space is looked at, and a call they reject
/// writes nothing (ReactOS `NtProtectVirtualMemory`: the protection mask, the base and the
/// size are checked before `MiProtectVirtualMemory`; F70, F74).
#[test]
fn nt_protect_parameter_errors_write_no_out_parameter() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc_ok(&mut nt, P, MEM_COMMIT, PAGE_READWRITE);
    let cases = [
        (p, P, 0, STATUS_INVALID_PAGE_PROTECTION),
        (p, P, PAGE_READONLY | PAGE_EXECUTE, STATUS_INVALID_PAGE_PROTECTION),
        (USER_END, P, PAGE_READONLY, STATUS_INVALID_PARAMETER_2),
        (p, 0, PAGE_READONLY, STATUS_INVALID_PARAMETER_3),
        (p, u64::MAX - p, PAGE_READONLY, STATUS_INVALID_PARAMETER_3),
    ];
    for (base, size, prot, status) in cases {
        let got = nt_protect(&mut nt, base, size, prot);
        assert_eq!(got, (status, base, size, SENTINEL), "({base:#x}, {size:#x}, {prot:#x})");
    }
    assert_eq!(protection_of(&mut nt, p), (MEM_COMMIT, PAGE_READWRITE));
}

/// The protection is checked before the old-protection pointer is probed, and the pointer
/// before the base and size (ReactOS `NtProtectVirtualMemory`: MiMakeProtectionMask, then the
/// probes, then the base and size checks; F70 for a good protection).
#[test]
fn nt_protect_checks_the_protection_before_the_old_protect_pointer() {
    // F187 (docs/windows-behaviour.md).
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc_ok(&mut nt, P, MEM_COMMIT, PAGE_READWRITE);
    let h = NtCurrentProcess();
    let mut call = |base: u64, size: u64, prot: u32| {
        let (mut b, mut s) = (base, size);
        nt.NtProtectVirtualMemory(h, &mut b, &mut s, prot, None)
    };
    assert_eq!(call(p, P, 0), STATUS_INVALID_PAGE_PROTECTION);
    assert_eq!(call(p, P, PAGE_WRITECOPY | PAGE_READONLY), STATUS_INVALID_PAGE_PROTECTION);
    assert_eq!(call(p, P, PAGE_READONLY), STATUS_ACCESS_VIOLATION);
    assert_eq!(call(USER_END, P, PAGE_READONLY), STATUS_ACCESS_VIOLATION);
    assert_eq!(call(p, 0, PAGE_READONLY), STATUS_ACCESS_VIOLATION);
    // So VirtualProtect with a bad protection and no variable is a parameter error (F74).
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(k.VirtualProtect(p, P, 0, None), FALSE);
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
    assert_eq!(k.VirtualProtect(p, P, PAGE_READONLY, None), FALSE);
    assert_eq!(k.GetLastError(), ERROR_NOACCESS);
}

/// On success every out parameter is written: the range rounded to pages and the first
/// page's previous protection (F72).
#[test]
fn nt_protect_success_rounds_the_range_and_reports_the_first_page() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc_ok(&mut nt, 3 * P, MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(nt_protect(&mut nt, p + 0xFFF, 2, PAGE_READONLY), (STATUS_SUCCESS, p, 2 * P, PAGE_READWRITE));
}

// ------------------------------------------------------------------------------------------
// NtAllocateVirtualMemory
// ------------------------------------------------------------------------------------------

/// A `ZeroBits` above 31 is a mask whose leading zeros alone count (F47; Wine
/// `test_NtAllocateVirtualMemory`: with 0x1aaaaaaa and MEM_TOP_DOWN the address is below
/// 2^29 and has bits outside the mask set, so the mask is not read as a limit).
#[test]
fn zero_bits_mask_counts_only_its_leading_zeros() {
    // F188 (docs/windows-behaviour.md).
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let mask = 0x1AAA_AAAA_u64;
    let (st, b, s) = nt_alloc(&mut nt, 0, mask, P, MEM_RESERVE | MEM_COMMIT | MEM_TOP_DOWN, PAGE_READWRITE);
    assert_eq!(st, STATUS_SUCCESS);
    assert_eq!(s, P);
    assert_eq!(b & !0x1FFF_FFFF, 0, "{b:#x} is not below 2^29");
    assert_ne!(b & !mask, 0, "{b:#x} lies under the mask read as a limit");
    // Top-down fills from the highest spot the leading zeros allow.
    assert_eq!(b, (1 << 29) - G, "{b:#x}");

    // A mask with more leading zeros than the smallest ZeroBits allows nothing above it.
    for (mask, limit) in [(0x7FFF_FFFF_u64, 1_u64 << 31), (0x3_0000_0000, 1 << 34), (0x4000_0000_0000, USER_END)] {
        let (st, b, s) = nt_alloc(&mut nt, 0, mask, P, MEM_RESERVE | MEM_TOP_DOWN, PAGE_READWRITE);
        assert_eq!(st, STATUS_SUCCESS, "mask {mask:#x}");
        assert!(b + s <= limit, "mask {mask:#x}: {b:#x} + {s:#x} above {limit:#x}");
        assert!(b + s > limit - 0x10_0000, "mask {mask:#x}: top-down {b:#x} is far below {limit:#x}");
    }
}

/// ZeroBits bound only an address the system chooses. At a given base the range is checked
/// for conflicts alone: ZeroBits 12 next to an allocation above 1 MiB is
/// STATUS_CONFLICTING_ADDRESSES (F16; Wine `test_NtAllocateVirtualMemory`, where the first
/// allocation lies above 2^20 on Windows x64), and at a free base it succeeds (Wine's and
/// ReactOS's NtAllocateVirtualMemory apply ZeroBits only when the base is NULL).
#[test]
fn zero_bits_do_not_bound_a_given_base() {
    // F189 (docs/windows-behaviour.md).
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let ty = MEM_RESERVE | MEM_COMMIT;
    let (st, p, _) = nt_alloc(&mut nt, 0x2_0000_0000, 0, P, ty, PAGE_READWRITE);
    assert_eq!(st, STATUS_SUCCESS);
    let got = nt_alloc(&mut nt, p + 0x1000, 12, P, ty, PAGE_READWRITE);
    assert_eq!(got, (STATUS_CONFLICTING_ADDRESSES, p + 0x1000, P));
    let got = nt_alloc(&mut nt, 0x3_0000_0000, 12, P, ty, PAGE_READWRITE);
    assert_eq!(got, (STATUS_SUCCESS, 0x3_0000_0000, P));
    // Without a base the bound holds: 12 zero bits leave the first MiB.
    let (st, b, s) = nt_alloc(&mut nt, 0, 12, P, ty, PAGE_READWRITE);
    assert_eq!(st, STATUS_SUCCESS);
    assert!(b + s <= 1 << 20, "{b:#x}");
}

/// The base is checked before the size: a base above user space is _2 even with a size of 0
/// (ReactOS `NtAllocateVirtualMemory`: the base against MM_HIGHEST_VAD_ADDRESS, then the size
/// against the room left, then a size of 0; F4, F7).
#[test]
fn nt_allocate_checks_the_base_before_the_size() {
    // F190 (docs/windows-behaviour.md).
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    for size in [0, P, u64::MAX] {
        let got = nt_alloc(&mut nt, USER_END, 0, size, MEM_RESERVE, PAGE_READWRITE);
        assert_eq!(got, (STATUS_INVALID_PARAMETER_2, USER_END, size), "size {size:#x}");
    }
    let got = nt_alloc(&mut nt, 0x1000_0000, 0, u64::MAX, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(got, (STATUS_INVALID_PARAMETER_4, 0x1000_0000, u64::MAX));
    let got = nt_alloc(&mut nt, 0x1000_0000, 0, 0, MEM_RESERVE, PAGE_READWRITE);
    assert_eq!(got, (STATUS_INVALID_PARAMETER_4, 0x1000_0000, 0));
}

/// A failed allocation writes neither base nor size (ROS-KAVM `SimpleErrorChecks`: after every
/// failing call the base is still the one passed, NULL or not; ReactOS `NtAllocateVirtualMemory`
/// returns the captured values only on success; F15, F24, F47).
#[test]
fn nt_allocate_failures_write_no_out_parameter() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc_ok(&mut nt, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    let cases = [
        // Conflicting (F16), committing past the reservation (F24), too many zero bits (F47),
        // a bad type (F27), a bad protection (F34), a size of 0 (F7), below 64 KiB (F3).
        (p + 0x1000, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, STATUS_CONFLICTING_ADDRESSES),
        (p + 0x10, 0, 2 * P, MEM_COMMIT, PAGE_READWRITE, STATUS_CONFLICTING_ADDRESSES),
        (0, 22, P, MEM_RESERVE, PAGE_READWRITE, STATUS_INVALID_PARAMETER_3),
        (0, 0, P, MEM_TOP_DOWN, PAGE_READWRITE, STATUS_INVALID_PARAMETER_5),
        (0, 0, P, MEM_RESERVE, 0, STATUS_INVALID_PAGE_PROTECTION),
        (0x1234, 0, 0, MEM_RESERVE, PAGE_READWRITE, STATUS_INVALID_PARAMETER_4),
        (0xF000, 0, P, MEM_RESERVE, PAGE_READWRITE, STATUS_INVALID_PARAMETER_2),
    ];
    for (base, zero_bits, size, ty, prot, status) in cases {
        let got = nt_alloc(&mut nt, base, zero_bits, size, ty, prot);
        assert_eq!(got, (status, base, size), "({base:#x}, {zero_bits}, {size:#x}, {ty:#x}, {prot:#x})");
    }
}

// ------------------------------------------------------------------------------------------
// NtReadVirtualMemory / NtWriteVirtualMemory
// ------------------------------------------------------------------------------------------

fn nt_read(nt: &mut Ntdll, h: HANDLE, addr: u64, len: usize) -> (NTSTATUS, usize) {
    let mut buf = vec![0u8; len];
    let mut n = SENTINEL as usize;
    let st = nt.NtReadVirtualMemory(h, addr, &mut buf, Some(&mut n));
    (st, n)
}

fn nt_write(nt: &mut Ntdll, h: HANDLE, addr: u64, len: usize) -> (NTSTATUS, usize) {
    let data = vec![0x5Au8; len];
    let mut n = SENTINEL as usize;
    let st = nt.NtWriteVirtualMemory(h, addr, &data, Some(&mut n));
    (st, n)
}

/// A range that wraps or ends above the user address space is refused with
/// STATUS_ACCESS_VIOLATION before the handle is looked at, and the count is not written
/// (ReactOS `NtReadVirtualMemory` / `NtWriteVirtualMemory`: the range check against
/// `MmUserProbeAddress` precedes the probe of the count and the handle reference).
#[test]
fn nt_copy_of_a_range_above_user_space_is_an_access_violation_and_writes_no_count() {
    // F191 (docs/windows-behaviour.md).
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let bad = core::ptr::null_mut();
    for h in [NtCurrentProcess(), bad] {
        for (addr, len) in [(USER_END - 8, 16), (USER_END, 1), (u64::MAX - 3, 8)] {
            assert_eq!(nt_read(&mut nt, h, addr, len), (STATUS_ACCESS_VIOLATION, SENTINEL as usize), "read {addr:#x}");
            assert_eq!(
                nt_write(&mut nt, h, addr, len),
                (STATUS_ACCESS_VIOLATION, SENTINEL as usize),
                "write {addr:#x}"
            );
        }
    }
    // A range ending exactly at the end of user space is checked page by page instead.
    assert_eq!(nt_read(&mut nt, NtCurrentProcess(), USER_END - 8, 8), (STATUS_PARTIAL_COPY, 0));
}

/// An unallocated remote address inside user space is a partial copy of 0 bytes, and a NULL
/// handle is STATUS_INVALID_HANDLE with the count written as 0 (Wine `dlls/ntdll/tests/info.c`,
/// `test_readvirtualmemory`).
#[test]
fn nt_read_of_an_unallocated_address_or_with_a_null_handle_counts_zero() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    assert_eq!(nt_read(&mut nt, NtCurrentProcess(), 0x1234, 12), (STATUS_PARTIAL_COPY, 0));
    assert_eq!(nt_write(&mut nt, NtCurrentProcess(), 0x1234, 12), (STATUS_PARTIAL_COPY, 0));
    let p = nt_alloc_ok(&mut nt, P, MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(nt_read(&mut nt, core::ptr::null_mut(), p, 12), (STATUS_INVALID_HANDLE, 0));
    assert_eq!(nt_read(&mut nt, NtCurrentProcess(), p, 12), (STATUS_SUCCESS, 12));
}

/// A copy of no bytes does not reference the process: it succeeds with a count of 0 even for a
/// bad handle (ReactOS `NtReadVirtualMemory` / `NtWriteVirtualMemory`: "don't do zero-byte
/// transfers"; F173 for a good handle).
#[test]
fn nt_copy_of_no_bytes_succeeds_without_looking_at_the_handle() {
    // F191 (docs/windows-behaviour.md).
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    for h in [NtCurrentProcess(), core::ptr::null_mut(), 0x1234 as HANDLE] {
        assert_eq!(nt_read(&mut nt, h, 0x10000, 0), (STATUS_SUCCESS, 0));
        assert_eq!(nt_write(&mut nt, h, 0x10000, 0), (STATUS_SUCCESS, 0));
    }
    // With bytes to copy the handle is checked, and the count is written (0).
    assert_eq!(nt_read(&mut nt, core::ptr::null_mut(), 0x10000, 1), (STATUS_INVALID_HANDLE, 0));
    assert_eq!(nt_write(&mut nt, core::ptr::null_mut(), 0x10000, 1), (STATUS_INVALID_HANDLE, 0));
}

/// A partial copy counts what was copied: a write stops at the first byte it cannot write
/// (V15), a read loses the 64 KiB chunk the fault is in (F175).
#[test]
fn nt_partial_copies_report_what_was_copied() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc_ok(&mut nt, 3 * G, MEM_RESERVE, PAGE_READWRITE);
    let (st, _, _) = nt_alloc(&mut nt, p, 0, G + 0x3000, MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(st, STATUS_SUCCESS);
    let len = 2 * G as usize;
    assert_eq!(
        nt_write(&mut nt, NtCurrentProcess(), p + 0x10, len),
        (STATUS_PARTIAL_COPY, (G + 0x3000 - 0x10) as usize)
    );
    assert_eq!(nt_read(&mut nt, NtCurrentProcess(), p + 0x10, len), (STATUS_PARTIAL_COPY, G as usize));
}

// ------------------------------------------------------------------------------------------
// NtLockVirtualMemory / NtUnlockVirtualMemory
// ------------------------------------------------------------------------------------------

type LockFn = fn(&mut Ntdll<'_>, HANDLE, &mut u64, &mut u64, u32) -> NTSTATUS;

fn lock(nt: &mut Ntdll, h: HANDLE, base: &mut u64, size: &mut u64, map: u32) -> NTSTATUS {
    nt.NtLockVirtualMemory(h, base, size, map)
}

fn unlock(nt: &mut Ntdll, h: HANDLE, base: &mut u64, size: &mut u64, map: u32) -> NTSTATUS {
    nt.NtUnlockVirtualMemory(h, base, size, map)
}

const LOCK_FNS: [(&str, LockFn); 2] = [("lock", lock), ("unlock", unlock)];

fn nt_lock_call(nt: &mut Ntdll, f: LockFn, h: HANDLE, base: u64, size: u64, map: u32) -> (NTSTATUS, u64, u64) {
    let (mut b, mut s) = (base, size);
    let st = f(nt, h, &mut b, &mut s, map);
    (st, b, s)
}

/// The map type, the base and the size are checked before the handle, each with
/// STATUS_INVALID_PARAMETER, and a rejected call writes nothing (ReactOS
/// `NtLockVirtualMemory` / `NtUnlockVirtualMemory`, which follow NT's order).
#[test]
fn nt_lock_checks_map_type_base_and_size_before_the_handle() {
    // F193 (docs/windows-behaviour.md).
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc_ok(&mut nt, P, MEM_COMMIT, PAGE_READWRITE);
    for (name, f) in LOCK_FNS {
        for h in [NtCurrentProcess(), core::ptr::null_mut()] {
            let cases = [
                (p, P, 0),
                (p, P, 4),
                (p, P, MAP_PROCESS | 4),
                (USER_END, P, MAP_PROCESS),
                (p, USER_END - p + 1, MAP_PROCESS),
                (p, u64::MAX, MAP_PROCESS),
                (p, 0, MAP_PROCESS),
            ];
            for (base, size, map) in cases {
                let got = nt_lock_call(&mut nt, f, h, base, size, map);
                assert_eq!(got, (STATUS_INVALID_PARAMETER, base, size), "{name} ({base:#x}, {size:#x}, {map})");
            }
        }
        let got = nt_lock_call(&mut nt, f, core::ptr::null_mut(), p, P, MAP_PROCESS);
        assert_eq!(got, (STATUS_INVALID_HANDLE, p, P), "{name} with a NULL handle");
        // MAP_SYSTEM needs SeLockMemoryPrivilege (checked after the handle).
        let got = nt_lock_call(&mut nt, f, NtCurrentProcess(), p, P, MAP_SYSTEM);
        assert_eq!(got, (STATUS_PRIVILEGE_NOT_HELD, p, P), "{name} MAP_SYSTEM");
    }
}

/// On success base and size report every page touched by the range (F104); a lock that fails
/// on the address space writes nothing.
#[test]
fn nt_lock_and_unlock_report_the_pages_on_success_only() {
    // F193 (docs/windows-behaviour.md).
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc_ok(&mut nt, G, MEM_RESERVE, PAGE_READWRITE);
    let (st, _, _) = nt_alloc(&mut nt, p, 0, 2 * P, MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(st, STATUS_SUCCESS);
    let h = NtCurrentProcess();
    assert_eq!(nt_lock_call(&mut nt, lock, h, p + 0xFFF, 2, MAP_PROCESS), (STATUS_SUCCESS, p, 2 * P));
    assert_eq!(nt_lock_call(&mut nt, unlock, h, p + 0x10, 0x1000, MAP_PROCESS), (STATUS_SUCCESS, p, 2 * P));
    // The third page is only reserved: nothing is locked, nothing written.
    let (st, b, s) = nt_lock_call(&mut nt, lock, h, p + 0x1800, 0x1000, MAP_PROCESS);
    assert!(st < 0, "lock over a reserved page: {st:#x}");
    assert_eq!((b, s), (p + 0x1800, 0x1000));
    // Nothing is locked any more: an unlock fails (F105) and writes nothing.
    let (st, b, s) = nt_lock_call(&mut nt, unlock, h, p, P, MAP_PROCESS);
    assert_eq!(st, STATUS_NOT_LOCKED);
    assert_eq!((b, s), (p, P));
}

/// `VirtualLock` inherits the order: a size running past user space is
/// ERROR_INVALID_PARAMETER, not an address error.
#[test]
fn virtuallock_with_a_size_past_user_space_is_invalid_parameter() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = k.VirtualAlloc(0, P, MEM_COMMIT, PAGE_READWRITE);
    assert_ne!(p, 0);
    for size in [USER_END - p + 1, u64::MAX] {
        assert_eq!(k.VirtualLock(p, size), FALSE);
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER, "lock {size:#x}");
        assert_eq!(k.VirtualUnlock(p, size), FALSE);
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER, "unlock {size:#x}");
    }
}

/// NtWriteVirtualMemory asks the handle for PROCESS_VM_WRITE alone (ReactOS
/// `NtWriteVirtualMemory`); WriteProcessMemory also needs PROCESS_VM_OPERATION for the
/// protection change around the copy (DOC:"WriteProcessMemory function").
#[test]
fn nt_write_needs_vm_write_alone_and_writeprocessmemory_vm_operation_too() {
    // F192 (docs/windows-behaviour.md).
    let (mut sys, pid) = setup();
    let other = sys.create_process("target").unwrap();
    let mut k = Kernel32::new(&mut sys, other);
    let p = k.VirtualAlloc(0, P, MEM_COMMIT, PAGE_READWRITE);
    assert_ne!(p, 0);
    let mut k = Kernel32::new(&mut sys, pid);
    let h = k.OpenProcess(PROCESS_VM_WRITE | PROCESS_QUERY_INFORMATION, FALSE, u32::from(other));
    assert!(!h.is_null());
    let mut n = SENTINEL as usize;
    assert_eq!(k.WriteProcessMemory(h, p, b"abc", Some(&mut n)), FALSE);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    assert_eq!(n, SENTINEL as usize);
    let mut nt = Ntdll::new(&mut sys, pid);
    assert_eq!(nt_write(&mut nt, h, p, 3), (STATUS_SUCCESS, 3));
    // A handle with PROCESS_VM_READ alone may not write.
    let mut k = Kernel32::new(&mut sys, pid);
    let r = k.OpenProcess(PROCESS_VM_READ, FALSE, u32::from(other));
    let mut nt = Ntdll::new(&mut sys, pid);
    assert_eq!(nt_write(&mut nt, r, p, 3), (STATUS_ACCESS_DENIED, 0));
    assert_eq!(nt_read(&mut nt, r, p, 3), (STATUS_SUCCESS, 3));
}

// ------------------------------------------------------------------------------------------
// NtFreeVirtualMemory / NtQueryVirtualMemory
// ------------------------------------------------------------------------------------------

/// Every failure of NtFreeVirtualMemory leaves base and size as given (F58 and F61 state it for
/// two statuses; Wine `test_NtFreeVirtualMemory`, `test_NtAllocateVirtualMemory`).
#[test]
fn nt_free_failures_write_no_out_parameter() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let p = nt_alloc_ok(&mut nt, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    let h = NtCurrentProcess();
    let cases = [
        (h, p, 0, 0, STATUS_INVALID_PARAMETER_4),
        (h, p, 0, MEM_RELEASE | MEM_DECOMMIT, STATUS_INVALID_PARAMETER_4),
        (h, USER_END, 0, MEM_RELEASE, STATUS_INVALID_PARAMETER_2),
        (h, p, u64::MAX - p, MEM_RELEASE, STATUS_INVALID_PARAMETER_3),
        (core::ptr::null_mut(), p, 0, MEM_RELEASE, STATUS_INVALID_HANDLE),
        (h, p + G, 0, MEM_RELEASE, STATUS_MEMORY_NOT_ALLOCATED),
        (h, p + 0x1001, 0, MEM_DECOMMIT, STATUS_FREE_VM_NOT_AT_BASE),
        (h, p + 0x10, G, MEM_DECOMMIT, STATUS_UNABLE_TO_FREE_VM),
    ];
    for (h, base, size, ty, status) in cases {
        let (mut b, mut s) = (base, size);
        let st = nt.NtFreeVirtualMemory(h, &mut b, &mut s, ty);
        assert_eq!((st, b, s), (status, base, size), "({base:#x}, {size:#x}, {ty:#x})");
    }
    assert_eq!(protection_of(&mut nt, p), (MEM_COMMIT, PAGE_READWRITE));
}

/// Releasing at a NULL base, as a caller does after an allocation that failed and left its base
/// NULL, is STATUS_MEMORY_NOT_ALLOCATED (ROS-KAVM `SimpleErrorChecks`, the release after each
/// failing allocation).
#[test]
fn nt_release_at_a_null_base_is_memory_not_allocated() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let got = nt_alloc(&mut nt, 0, 22, 200, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_eq!(got, (STATUS_INVALID_PARAMETER_3, 0, 200));
    let (mut b, mut s) = (0, 0);
    let st = nt.NtFreeVirtualMemory(NtCurrentProcess(), &mut b, &mut s, MEM_RELEASE);
    assert_eq!((st, b, s), (STATUS_MEMORY_NOT_ALLOCATED, 0, 0));
}

/// A failed query writes nothing into the caller's buffer; the address is checked before the
/// handle (F5; ReactOS `NtQueryVirtualMemory`).
#[test]
fn nt_query_failures_write_nothing() {
    let (mut sys, pid) = setup();
    let mut nt = Ntdll::new(&mut sys, pid);
    let marked = MEMORY_BASIC_INFORMATION64 { RegionSize: 0x5A5A, State: SENTINEL, ..Default::default() };
    for (h, addr, status) in [
        (NtCurrentProcess(), USER_END, STATUS_INVALID_PARAMETER),
        (core::ptr::null_mut(), USER_END, STATUS_INVALID_PARAMETER),
        (core::ptr::null_mut(), 0x10000, STATUS_INVALID_HANDLE),
    ] {
        let mut info = marked;
        assert_eq!(nt.NtQueryVirtualMemory(h, addr, &mut info), status, "{addr:#x}");
        assert_eq!((info.RegionSize, info.State), (0x5A5A, SENTINEL), "{addr:#x}");
    }
}
