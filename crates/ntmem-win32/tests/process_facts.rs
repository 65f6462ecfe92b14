//! Scenario tests through `Kernel32` / `Ntdll`: cross-process operations (facts F31, F67,
//! F172–F176 and V13–V15), process handles, process termination, and the memory figures of
//! `GetProcessMemoryInfo`, `GlobalMemoryStatusEx` and `GetSystemInfo` (F1).
//!
//! Every test runs with the core's invariant checker on. Not representable here: F174 and the
//! first half of F175 (a *local* buffer with PAGE_NOACCESS pages — local buffers are Rust slices).

#![allow(non_snake_case)]
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;

const P: u64 = 0x1000;
const G: u64 = 0x10000;
const MBI_SIZE: usize = std::mem::size_of::<MEMORY_BASIC_INFORMATION64>();

fn new_system() -> System {
    System::new(Config::default().with_invariant_checks()).unwrap()
}

fn small_system() -> System {
    System::new(Config::default().with_ram_bytes(64 << 20).with_invariant_checks()).unwrap()
}

fn null_handle() -> HANDLE {
    std::ptr::null_mut()
}

fn garbage_handle() -> HANDLE {
    0x1234usize as HANDLE
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

fn query(k: &mut Kernel32, addr: u64) -> MEMORY_BASIC_INFORMATION64 {
    let mut mbi = MEMORY_BASIC_INFORMATION64::default();
    assert_eq!(k.VirtualQuery(addr, &mut mbi), MBI_SIZE, "VirtualQuery({addr:#x}), last error {}", k.GetLastError());
    mbi
}

fn query_ex(k: &mut Kernel32, h: HANDLE, addr: u64) -> MEMORY_BASIC_INFORMATION64 {
    let mut mbi = MEMORY_BASIC_INFORMATION64::default();
    assert_eq!(
        k.VirtualQueryEx(h, addr, &mut mbi),
        MBI_SIZE,
        "VirtualQueryEx({addr:#x}), last error {}",
        k.GetLastError()
    );
    mbi
}

fn open(k: &mut Kernel32, access: u32, pid: ProcessId) -> HANDLE {
    let h = k.OpenProcess(access, 0, u32::from(pid));
    assert!(!h.is_null(), "OpenProcess({access:#x}, {}) failed, last error {}", u32::from(pid), k.GetLastError());
    h
}

fn ok(r: Result<(), Exception>, what: &str) {
    if let Err(e) = r {
        panic!("{what}: unexpected exception {:#x} at {:#x}", e.code, e.address);
    }
}

fn read_vec(k: &mut Kernel32, addr: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0xCCu8; len];
    ok(k.read(addr, &mut buf), "read");
    buf
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i & 0xFF) as u8).collect()
}

fn memory_status(k: &mut Kernel32) -> MEMORYSTATUSEX {
    let mut ms = MEMORYSTATUSEX { dwLength: std::mem::size_of::<MEMORYSTATUSEX>() as u32, ..Default::default() };
    assert_ne!(k.GlobalMemoryStatusEx(&mut ms), 0, "GlobalMemoryStatusEx, last error {}", k.GetLastError());
    ms
}

fn commit_in_use(ms: &MEMORYSTATUSEX) -> u64 {
    ms.ullTotalPageFile - ms.ullAvailPageFile
}

fn process_memory(k: &mut Kernel32, h: HANDLE) -> PROCESS_MEMORY_COUNTERS_EX {
    let mut pmc = PROCESS_MEMORY_COUNTERS_EX {
        cb: std::mem::size_of::<PROCESS_MEMORY_COUNTERS_EX>() as u32,
        ..Default::default()
    };
    assert_ne!(k.GetProcessMemoryInfo(h, &mut pmc), 0, "GetProcessMemoryInfo, last error {}", k.GetLastError());
    pmc
}

// ------------------------------------------------------------------------------------------
// F31, F67: bad process handles
// ------------------------------------------------------------------------------------------

#[test]
fn virtual_alloc_ex_with_bad_handle_fails_invalid_handle_f31() {
    let mut sys = new_system();
    let pid = sys.create_process("test").unwrap();
    {
        let mut k = Kernel32::new(&mut sys, pid);
        for h in [null_handle(), garbage_handle()] {
            k.SetLastError(0xdead_beef);
            assert_eq!(k.VirtualAllocEx(h, 0, 0x8000, MEM_COMMIT, PAGE_EXECUTE_READWRITE), 0);
            assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE);
        }
    }
    let mut nt = Ntdll::new(&mut sys, pid);
    for h in [null_handle(), garbage_handle()] {
        let mut base = 0u64;
        let mut size = 0x8000u64;
        let st = nt.NtAllocateVirtualMemory(h, &mut base, 0, &mut size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        assert_eq!(st, STATUS_INVALID_HANDLE);
    }
}

#[test]
fn virtual_alloc_ex_on_current_process_works_like_virtual_alloc_f31() {
    let mut sys = new_system();
    let pid = sys.create_process("test").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    let me = k.GetCurrentProcess();
    let p = k.VirtualAllocEx(me, 0, 0x8000, MEM_COMMIT, PAGE_EXECUTE_READWRITE);
    assert_ne!(p, 0, "last error {}", k.GetLastError());
    assert_eq!(p & 0xFFFF, 0);
    assert_region(
        &query(&mut k, p),
        p,
        p,
        PAGE_EXECUTE_READWRITE,
        0x8000,
        MEM_COMMIT,
        PAGE_EXECUTE_READWRITE,
        MEM_PRIVATE,
    );
    ok(k.write(p + 0x7FFF, &[1]), "write to the last byte");
}

#[test]
fn virtual_free_ex_with_bad_handle_fails_invalid_handle_f67() {
    let mut sys = new_system();
    let pid = sys.create_process("test").unwrap();
    let p = {
        let mut k = Kernel32::new(&mut sys, pid);
        let p = k.VirtualAlloc(0, G, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        assert_ne!(p, 0);
        k.SetLastError(0xdead_beef);
        assert_eq!(k.VirtualFreeEx(null_handle(), p, 0, MEM_RELEASE), 0);
        assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE);
        p
    };
    {
        let mut nt = Ntdll::new(&mut sys, pid);
        let mut base = p;
        let mut size = 0u64;
        assert_eq!(nt.NtFreeVirtualMemory(null_handle(), &mut base, &mut size, MEM_RELEASE), STATUS_INVALID_HANDLE);
    }
    let mut k = Kernel32::new(&mut sys, pid);
    assert_region(&query(&mut k, p), p, p, PAGE_READWRITE, G, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
}

// ------------------------------------------------------------------------------------------
// F172: the VirtualAlloc sequence on another process
// ------------------------------------------------------------------------------------------

#[test]
fn remote_alloc_query_protect_free_sequence_matches_local_f172() {
    let mut sys = new_system();
    let me = sys.create_process("caller").unwrap();
    let target = sys.create_process("target").unwrap();
    let mut k = Kernel32::new(&mut sys, me);
    let h = open(&mut k, PROCESS_ALL_ACCESS, target);

    // F7
    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualAllocEx(h, 0, 0, MEM_RESERVE, PAGE_NOACCESS), 0);
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);

    // F8
    let a = k.VirtualAllocEx(h, 0, 0xFFFC, MEM_RESERVE, PAGE_NOACCESS);
    assert_ne!(a, 0, "last error {}", k.GetLastError());
    assert_region(&query_ex(&mut k, h, a), a, a, PAGE_NOACCESS, 0x10000, MEM_RESERVE, 0, MEM_PRIVATE);
    // The reservation is in the target, not in the caller.
    assert_eq!(query(&mut k, a).State, MEM_FREE);

    // F73 on reserved memory
    let mut old = 0u32;
    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualProtectEx(h, a, 0xFFFC, PAGE_READONLY, Some(&mut old)), 0);
    assert_eq!(k.GetLastError(), ERROR_INVALID_ADDRESS);

    // F20
    assert_eq!(k.VirtualAllocEx(h, a, 0x1000, MEM_COMMIT, PAGE_NOACCESS), a);
    assert_region(&query_ex(&mut k, h, a), a, a, PAGE_NOACCESS, 0x1000, MEM_COMMIT, PAGE_NOACCESS, MEM_PRIVATE);
    assert_region(&query_ex(&mut k, h, a + P), a + P, a, PAGE_NOACCESS, 0xF000, MEM_RESERVE, 0, MEM_PRIVATE);

    // F73 on a partly committed range
    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualProtectEx(h, a, 0xFFFC, PAGE_READONLY, Some(&mut old)), 0);
    assert_eq!(k.GetLastError(), ERROR_INVALID_ADDRESS);
    assert_eq!(query_ex(&mut k, h, a).Protect, PAGE_NOACCESS, "failed protect changed nothing");

    // F72
    old = 0;
    assert_ne!(k.VirtualProtectEx(h, a, 0x1000, PAGE_READONLY, Some(&mut old)), 0);
    assert_eq!(old, PAGE_NOACCESS);
    old = 0;
    assert_ne!(k.VirtualProtectEx(h, a, 0x1000, PAGE_READWRITE, Some(&mut old)), 0);
    assert_eq!(old, PAGE_READONLY);
    assert_region(&query_ex(&mut k, h, a), a, a, PAGE_NOACCESS, 0x1000, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);

    // F51
    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualFreeEx(h, a, 0x10000, 0), 0);
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);

    // F53
    assert_ne!(k.VirtualFreeEx(h, a, 0x10000, MEM_DECOMMIT), 0, "last error {}", k.GetLastError());
    assert_region(&query_ex(&mut k, h, a), a, a, PAGE_NOACCESS, 0x10000, MEM_RESERVE, 0, MEM_PRIVATE);

    // F54
    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualFreeEx(h, a, 1, MEM_RELEASE), 0);
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);

    // F55 + F83
    assert_ne!(k.VirtualFreeEx(h, a, 0, MEM_RELEASE), 0, "last error {}", k.GetLastError());
    let m = query_ex(&mut k, h, a);
    assert_eq!(m.BaseAddress, a);
    assert_eq!(m.AllocationBase, 0);
    assert_eq!(m.AllocationProtect, 0);
    assert_eq!(m.State, MEM_FREE);
    assert_eq!(m.Protect, PAGE_NOACCESS);
    assert_eq!(m.Type, 0);
    assert_ne!(k.CloseHandle(h), 0);
}

#[test]
fn remote_allocation_is_visible_to_the_target_itself_f172() {
    let mut sys = new_system();
    let me = sys.create_process("caller").unwrap();
    let target = sys.create_process("target").unwrap();
    let a = {
        let mut k = Kernel32::new(&mut sys, me);
        let h = open(&mut k, PROCESS_ALL_ACCESS, target);
        let a = k.VirtualAllocEx(h, 0, 2 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        assert_ne!(a, 0, "last error {}", k.GetLastError());
        assert_eq!(query(&mut k, a).State, MEM_FREE, "not in the caller");
        assert_ne!(k.CloseHandle(h), 0);
        a
    };
    let mut k = Kernel32::new(&mut sys, target);
    assert_region(&query(&mut k, a), a, a, PAGE_READWRITE, 2 * P, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE);
    ok(k.write(a + P, b"mine"), "target writes its own memory");
}

// ------------------------------------------------------------------------------------------
// F173–F176: ReadProcessMemory / WriteProcessMemory
// ------------------------------------------------------------------------------------------

#[test]
fn remote_write_and_read_round_trip_f173() {
    let mut sys = new_system();
    let me = sys.create_process("caller").unwrap();
    let target = sys.create_process("target").unwrap();
    let src = pattern(0x8000);
    let a = {
        let mut k = Kernel32::new(&mut sys, me);
        let h = open(&mut k, PROCESS_ALL_ACCESS, target);
        let a = k.VirtualAllocEx(h, 0, 0x8000, MEM_COMMIT, PAGE_EXECUTE_READWRITE);
        assert_ne!(a, 0, "last error {}", k.GetLastError());

        let mut written = 0usize;
        assert_ne!(k.WriteProcessMemory(h, a, &src, Some(&mut written)), 0, "last error {}", k.GetLastError());
        assert_eq!(written, 0x8000);
        let mut dst = vec![0u8; 0x8000];
        let mut read = 0usize;
        assert_ne!(k.ReadProcessMemory(h, a, &mut dst, Some(&mut read)), 0, "last error {}", k.GetLastError());
        assert_eq!(read, 0x8000);
        assert!(dst == src, "data differs after the round trip");

        // Without the optional count.
        assert_ne!(k.WriteProcessMemory(h, a + 0x10, b"xyz", None), 0);
        let mut three = [0u8; 3];
        assert_ne!(k.ReadProcessMemory(h, a + 0x10, &mut three, None), 0);
        assert_eq!(&three, b"xyz");
        assert_ne!(k.CloseHandle(h), 0);
        a
    };
    // The bytes are in the target.
    let mut k = Kernel32::new(&mut sys, target);
    let mut expected = src[..0x40].to_vec();
    expected[0x10..0x13].copy_from_slice(b"xyz");
    assert_eq!(read_vec(&mut k, a, 0x40), expected);
    assert_eq!(read_vec(&mut k, a + 0x7FC0, 0x40), src[0x7FC0..]);
}

#[test]
fn zero_byte_remote_read_and_write_succeed_with_count_zero_f173_v13() {
    let mut sys = new_system();
    let me = sys.create_process("caller").unwrap();
    let target = sys.create_process("target").unwrap();
    let mut k = Kernel32::new(&mut sys, me);
    let h = open(&mut k, PROCESS_ALL_ACCESS, target);
    let a = k.VirtualAllocEx(h, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_ne!(a, 0);

    let mut n = 0xdead_beef_usize;
    assert_ne!(k.WriteProcessMemory(h, a, &[], Some(&mut n)), 0, "last error {}", k.GetLastError());
    assert_eq!(n, 0);
    n = 0xdead_beef;
    let mut empty: [u8; 0] = [];
    assert_ne!(k.ReadProcessMemory(h, a, &mut empty, Some(&mut n)), 0, "last error {}", k.GetLastError());
    assert_eq!(n, 0);
}

#[test]
fn remote_write_into_readonly_fails_noaccess_and_leaves_count_untouched_f176() {
    let mut sys = new_system();
    let me = sys.create_process("caller").unwrap();
    let target = sys.create_process("target").unwrap();
    let mut k = Kernel32::new(&mut sys, me);
    let h = open(&mut k, PROCESS_ALL_ACCESS, target);
    let a = k.VirtualAllocEx(h, 0, 2 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READONLY);
    assert_ne!(a, 0);

    let mut written = 0x5a5a_usize;
    k.SetLastError(0xdead_beef);
    assert_eq!(k.WriteProcessMemory(h, a, &[0x77; 0x100], Some(&mut written)), 0);
    assert_eq!(k.GetLastError(), ERROR_NOACCESS);
    assert_eq!(written, 0x5a5a, "bytes-written is left untouched");

    let mut back = [0xCCu8; 0x100];
    assert_ne!(k.ReadProcessMemory(h, a, &mut back, None), 0);
    assert_eq!(back, [0u8; 0x100], "nothing was written");
    assert_region(&query_ex(&mut k, h, a), a, a, PAGE_READONLY, 2 * P, MEM_COMMIT, PAGE_READONLY, MEM_PRIVATE);
}

#[test]
fn remote_write_into_execute_read_succeeds_and_keeps_protection_f176() {
    let mut sys = new_system();
    let me = sys.create_process("caller").unwrap();
    let target = sys.create_process("target").unwrap();
    let mut k = Kernel32::new(&mut sys, me);
    let h = open(&mut k, PROCESS_ALL_ACCESS, target);
    let a = k.VirtualAllocEx(h, 0, 2 * P, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READ);
    assert_ne!(a, 0);

    let data = pattern(0x1800);
    let mut written = 0usize;
    assert_ne!(k.WriteProcessMemory(h, a + 0x400, &data, Some(&mut written)), 0, "last error {}", k.GetLastError());
    assert_eq!(written, 0x1800);
    let mut back = vec![0u8; 0x1800];
    assert_ne!(k.ReadProcessMemory(h, a + 0x400, &mut back, None), 0);
    assert!(back == data, "data differs");
    assert_region(&query_ex(&mut k, h, a), a, a, PAGE_EXECUTE_READ, 2 * P, MEM_COMMIT, PAGE_EXECUTE_READ, MEM_PRIVATE);
}

#[test]
fn remote_write_across_rwx_then_execute_read_stops_after_the_first_part_v15() {
    let mut sys = new_system();
    let me = sys.create_process("caller").unwrap();
    let target = sys.create_process("target").unwrap();
    let mut k = Kernel32::new(&mut sys, me);
    let h = open(&mut k, PROCESS_ALL_ACCESS, target);
    let a = k.VirtualAllocEx(h, 0, 0x4000, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READWRITE);
    assert_ne!(a, 0);
    let mut old = 0u32;
    assert_ne!(k.VirtualProtectEx(h, a + 0x2000, 0x2000, PAGE_EXECUTE_READ, Some(&mut old)), 0);
    assert_eq!(old, PAGE_EXECUTE_READWRITE);

    let mut written = 0usize;
    k.SetLastError(0xdead_beef);
    assert_eq!(k.WriteProcessMemory(h, a, &[0x66; 0x4000], Some(&mut written)), 0);
    assert_eq!(k.GetLastError(), ERROR_PARTIAL_COPY);
    assert_eq!(written, 0x2000);
    let mut back = vec![0u8; 0x4000];
    assert_ne!(k.ReadProcessMemory(h, a, &mut back, None), 0);
    assert!(back[..0x2000].iter().all(|&b| b == 0x66), "first part written");
    assert!(back[0x2000..].iter().all(|&b| b == 0), "second part untouched");
    // Both protections are as they were.
    assert_region(
        &query_ex(&mut k, h, a),
        a,
        a,
        PAGE_EXECUTE_READWRITE,
        0x2000,
        MEM_COMMIT,
        PAGE_EXECUTE_READWRITE,
        MEM_PRIVATE,
    );
    assert_region(
        &query_ex(&mut k, h, a + 0x2000),
        a + 0x2000,
        a,
        PAGE_EXECUTE_READWRITE,
        0x2000,
        MEM_COMMIT,
        PAGE_EXECUTE_READ,
        MEM_PRIVATE,
    );
}

#[test]
fn nt_read_and_write_virtual_memory_f173_v16() {
    let mut sys = new_system();
    let me = sys.create_process("caller").unwrap();
    let target = sys.create_process("target").unwrap();
    let (h, a, ro) = {
        let mut k = Kernel32::new(&mut sys, me);
        let h = open(&mut k, PROCESS_ALL_ACCESS, target);
        let a = k.VirtualAllocEx(h, 0, 0x8000, MEM_COMMIT, PAGE_EXECUTE_READWRITE);
        assert_ne!(a, 0);
        let ro = k.VirtualAllocEx(h, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READONLY);
        assert_ne!(ro, 0);
        (h, a, ro)
    };
    let mut nt = Ntdll::new(&mut sys, me);
    let src = pattern(0x8000);
    let mut n = 0usize;
    assert_eq!(nt.NtWriteVirtualMemory(h, a, &src, Some(&mut n)), STATUS_SUCCESS);
    assert_eq!(n, 0x8000);
    let mut dst = vec![0u8; 0x8000];
    n = 0;
    assert_eq!(nt.NtReadVirtualMemory(h, a, &mut dst, Some(&mut n)), STATUS_SUCCESS);
    assert_eq!(n, 0x8000);
    assert!(dst == src, "data differs");
    n = 0xdead_beef;
    assert_eq!(nt.NtWriteVirtualMemory(h, a, &[], Some(&mut n)), STATUS_SUCCESS);
    assert_eq!(n, 0);

    // V16: NtWriteVirtualMemory into read-only memory → STATUS_PARTIAL_COPY, 0 written.
    n = 0xdead_beef;
    assert_eq!(nt.NtWriteVirtualMemory(h, ro, &[1; 16], Some(&mut n)), STATUS_PARTIAL_COPY);
    assert_eq!(n, 0);
}

#[test]
fn read_process_memory_source_with_noaccess_second_page_f175() {
    let mut sys = new_system();
    let pid = sys.create_process("test").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    let me = k.GetCurrentProcess();
    let src = k.VirtualAlloc(0, 2 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_ne!(src, 0);
    ok(k.write(src, &[0x42; 0x1000]), "fill the first page");
    let mut old = 0u32;
    assert_ne!(k.VirtualProtect(src + P, P, PAGE_NOACCESS, Some(&mut old)), 0);

    let mut buf = vec![0u8; 0x2000];
    let mut copied = 0x5a5a_usize;
    k.SetLastError(0xdead_beef);
    assert_eq!(k.ReadProcessMemory(me, src, &mut buf, Some(&mut copied)), 0);
    assert_eq!(k.GetLastError(), ERROR_PARTIAL_COPY);
    assert_eq!(copied, 0);

    let mut buf = vec![0u8; 0x1000];
    copied = 0x5a5a;
    assert_ne!(k.ReadProcessMemory(me, src, &mut buf, Some(&mut copied)), 0, "last error {}", k.GetLastError());
    assert_eq!(copied, 0x1000);
    assert!(buf.iter().all(|&b| b == 0x42));
}

// ------------------------------------------------------------------------------------------
// Process handles
// ------------------------------------------------------------------------------------------

#[test]
fn open_process_of_a_nonexistent_pid_fails_invalid_parameter() {
    let mut sys = new_system();
    let pid = sys.create_process("test").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    for bogus in [0u32, 0x7FFF_FFFC, u32::from(pid) + 4000] {
        k.SetLastError(0xdead_beef);
        assert!(k.OpenProcess(PROCESS_ALL_ACCESS, 0, bogus).is_null(), "pid {bogus}");
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER, "pid {bogus}");
    }
}

#[test]
fn open_process_of_self_gives_a_working_handle() {
    let mut sys = new_system();
    let pid = sys.create_process("test").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(k.GetCurrentProcessId(), u32::from(pid));
    assert_eq!(k.GetCurrentProcess() as isize, -1, "pseudo handle");
    let h = open(&mut k, PROCESS_ALL_ACCESS, pid);
    assert_ne!(h as isize, -1, "a real handle, not the pseudo handle");
    let a = k.VirtualAllocEx(h, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_ne!(a, 0);
    assert_eq!(query(&mut k, a).State, MEM_COMMIT);
    assert_ne!(k.CloseHandle(h), 0);
}

#[test]
fn close_handle_of_a_bad_handle_fails_invalid_handle() {
    let mut sys = new_system();
    let me = sys.create_process("caller").unwrap();
    let target = sys.create_process("target").unwrap();
    let mut k = Kernel32::new(&mut sys, me);
    for h in [null_handle(), garbage_handle()] {
        k.SetLastError(0xdead_beef);
        assert_eq!(k.CloseHandle(h), 0);
        assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE);
    }

    // A closed handle is a bad handle.
    let h = open(&mut k, PROCESS_ALL_ACCESS, target);
    assert_ne!(k.CloseHandle(h), 0);
    k.SetLastError(0xdead_beef);
    assert_eq!(k.CloseHandle(h), 0);
    assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE);
    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualAllocEx(h, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE), 0);
    assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE);
}

#[test]
fn vm_read_handle_can_read_but_not_allocate_write_or_terminate() {
    let mut sys = new_system();
    let me = sys.create_process("caller").unwrap();
    let target = sys.create_process("target").unwrap();
    let a = {
        let mut k = Kernel32::new(&mut sys, target);
        let a = k.VirtualAlloc(0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        assert_ne!(a, 0);
        ok(k.write(a, b"secret"), "target writes");
        a
    };
    let mut k = Kernel32::new(&mut sys, me);
    let h = open(&mut k, PROCESS_VM_READ, target);

    let mut buf = [0u8; 6];
    let mut n = 0usize;
    assert_ne!(k.ReadProcessMemory(h, a, &mut buf, Some(&mut n)), 0, "last error {}", k.GetLastError());
    assert_eq!((&buf, n), (b"secret", 6));

    k.SetLastError(0xdead_beef);
    assert_eq!(k.VirtualAllocEx(h, 0, P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE), 0);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);

    k.SetLastError(0xdead_beef);
    assert_eq!(k.WriteProcessMemory(h, a, b"public", None), 0);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);

    k.SetLastError(0xdead_beef);
    assert_eq!(k.TerminateProcess(h, 1), 0);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);

    assert_ne!(k.ReadProcessMemory(h, a, &mut buf, None), 0, "target still alive, bytes unchanged");
    assert_eq!(&buf, b"secret");
    assert_ne!(k.CloseHandle(h), 0);
}

// ------------------------------------------------------------------------------------------
// TerminateProcess
// ------------------------------------------------------------------------------------------

#[test]
fn terminate_process_returns_every_frame_and_the_commit_charge() {
    let mut sys = small_system();
    let me = sys.create_process("caller").unwrap();
    let before = {
        let mut k = Kernel32::new(&mut sys, me);
        memory_status(&mut k)
    };

    let target = sys.create_process("target").unwrap();
    {
        let mut k = Kernel32::new(&mut sys, target);
        let a = k.VirtualAlloc(0, 64 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        assert_ne!(a, 0);
        for i in 0..64 {
            ok(k.write(a + i * P, &[0x5a; 8]), "touch");
        }
        // A second, far-away allocation so that more page tables exist.
        let b = k.VirtualAlloc(0x7_0000_0000, 4 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        assert_eq!(b, 0x7_0000_0000, "last error {}", k.GetLastError());
        ok(k.write(b, &[1]), "touch far page");
        // Reserved-only memory charges nothing but must go too.
        assert_ne!(k.VirtualAlloc(0, 16 * G, MEM_RESERVE, PAGE_READWRITE), 0);
    }

    let mut k = Kernel32::new(&mut sys, me);
    let during = memory_status(&mut k);
    assert!(during.ullAvailPhys + 65 * P <= before.ullAvailPhys, "touched pages take frames");
    assert!(commit_in_use(&during) >= commit_in_use(&before) + 68 * P, "committed pages are charged");

    let h = open(&mut k, PROCESS_ALL_ACCESS, target);
    assert_ne!(k.TerminateProcess(h, 7), 0, "last error {}", k.GetLastError());
    assert_ne!(k.CloseHandle(h), 0);

    let after = memory_status(&mut k);
    assert_eq!(after.ullAvailPhys, before.ullAvailPhys, "every frame returned");
    assert_eq!(commit_in_use(&after), commit_in_use(&before), "commit charge returned");
    assert_eq!(after.ullTotalPhys, before.ullTotalPhys);
    assert_eq!(after.ullTotalPageFile, before.ullTotalPageFile);
}

#[test]
fn terminated_process_cannot_be_opened_after_its_last_handle_closes() {
    let mut sys = new_system();
    let me = sys.create_process("caller").unwrap();
    let target = sys.create_process("target").unwrap();
    let mut k = Kernel32::new(&mut sys, me);
    let h = open(&mut k, PROCESS_ALL_ACCESS, target);
    assert_ne!(k.TerminateProcess(h, 0), 0);
    assert_ne!(k.CloseHandle(h), 0);
    k.SetLastError(0xdead_beef);
    assert!(k.OpenProcess(PROCESS_ALL_ACCESS, 0, u32::from(target)).is_null());
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
}

// ------------------------------------------------------------------------------------------
// GetProcessMemoryInfo
// ------------------------------------------------------------------------------------------

#[test]
fn process_memory_counters_follow_commit_touch_and_decommit() {
    let mut sys = new_system();
    let pid = sys.create_process("test").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    let me = k.GetCurrentProcess();

    // Reserve 16 pages, commit and touch page 0 so the page tables already exist.
    let p = k.VirtualAlloc(0, 16 * P, MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0);
    assert_eq!(k.VirtualAlloc(p, P, MEM_COMMIT, PAGE_READWRITE), p);
    ok(k.write(p, &[1]), "touch page 0");

    let m0 = process_memory(&mut k, me);
    assert_eq!(m0.PrivateUsage, m0.PagefileUsage, "PrivateUsage == PagefileUsage");

    // Committing charges commit but takes no frames and causes no faults.
    assert_eq!(k.VirtualAlloc(p + P, 10 * P, MEM_COMMIT, PAGE_READWRITE), p + P);
    let m1 = process_memory(&mut k, me);
    assert_eq!(m1.PrivateUsage, m0.PrivateUsage + 10 * 0x1000);
    assert_eq!(m1.PagefileUsage, m0.PagefileUsage + 10 * 0x1000);
    assert_eq!(m1.PageFaultCount, m0.PageFaultCount);
    assert_eq!(m1.WorkingSetSize, m0.WorkingSetSize);
    assert!(m1.PeakPagefileUsage >= m1.PagefileUsage);

    // Touching 10 pages: 10 demand-zero faults, 10 more resident pages.
    for i in 1..=10 {
        ok(k.write(p + i * P + 8, &[2]), "touch");
    }
    let m2 = process_memory(&mut k, me);
    assert_eq!(m2.PageFaultCount, m0.PageFaultCount + 10);
    assert_eq!(m2.WorkingSetSize, m0.WorkingSetSize + 10 * 0x1000);
    assert!(m2.PeakWorkingSetSize >= m2.WorkingSetSize);
    assert_eq!(m2.PrivateUsage, m1.PrivateUsage, "touching does not charge commit");

    // Touching them again faults no more.
    for i in 1..=10 {
        ok(k.write(p + i * P + 16, &[3]), "second touch");
    }
    let m2b = process_memory(&mut k, me);
    assert_eq!(m2b.PageFaultCount, m2.PageFaultCount);

    // Decommit: usage goes back down, the peaks stay.
    assert_ne!(k.VirtualFree(p + P, 10 * P, MEM_DECOMMIT), 0);
    let m3 = process_memory(&mut k, me);
    assert_eq!(m3.PrivateUsage, m0.PrivateUsage);
    assert_eq!(m3.PagefileUsage, m0.PagefileUsage);
    assert_eq!(m3.WorkingSetSize, m0.WorkingSetSize);
    assert_eq!(m3.PeakWorkingSetSize, m2b.PeakWorkingSetSize);
    assert_eq!(m3.PeakPagefileUsage, m2b.PeakPagefileUsage);
    assert!(m3.PeakPagefileUsage >= m1.PagefileUsage);
    assert!(m3.PeakWorkingSetSize >= m2.WorkingSetSize);
}

#[test]
fn process_memory_counters_of_another_process() {
    let mut sys = new_system();
    let me = sys.create_process("caller").unwrap();
    let target = sys.create_process("target").unwrap();
    let mut k = Kernel32::new(&mut sys, me);
    let h = open(&mut k, PROCESS_ALL_ACCESS, target);
    let cur = k.GetCurrentProcess();
    let t0 = process_memory(&mut k, h);
    let mine0 = process_memory(&mut k, cur);

    let a = k.VirtualAllocEx(h, 0, 8 * P, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    assert_ne!(a, 0);
    let t1 = process_memory(&mut k, h);
    let mine1 = process_memory(&mut k, cur);
    assert_eq!(t1.PrivateUsage, t0.PrivateUsage + 8 * 0x1000, "charged to the target");
    assert_eq!(mine1.PrivateUsage, mine0.PrivateUsage, "not charged to the caller");

    k.SetLastError(0xdead_beef);
    let mut pmc = PROCESS_MEMORY_COUNTERS_EX {
        cb: std::mem::size_of::<PROCESS_MEMORY_COUNTERS_EX>() as u32,
        ..Default::default()
    };
    assert_eq!(k.GetProcessMemoryInfo(garbage_handle(), &mut pmc), 0);
    assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE);
}

// ------------------------------------------------------------------------------------------
// GlobalMemoryStatusEx, GetSystemInfo
// ------------------------------------------------------------------------------------------

#[test]
fn global_memory_status_reports_configured_ram_and_commit_limit() {
    for (config, ram) in [
        (Config::default().with_invariant_checks(), 1u64 << 30),
        (Config::default().with_ram_bytes(64 << 20).with_invariant_checks(), 64 << 20),
    ] {
        let mut sys = System::new(config).unwrap();
        let pid = sys.create_process("test").unwrap();
        let mut k = Kernel32::new(&mut sys, pid);
        let ms = memory_status(&mut k);
        assert_eq!(ms.dwLength, std::mem::size_of::<MEMORYSTATUSEX>() as u32);
        assert_eq!(ms.ullTotalPhys, ram, "ullTotalPhys = configured RAM");
        assert!(ms.ullAvailPhys > 0 && ms.ullAvailPhys <= ms.ullTotalPhys);
        assert!(ms.ullTotalPageFile > 0, "commit limit");
        assert!(ms.ullTotalPageFile <= ram, "no page file: commit limit <= RAM");
        assert!(ms.ullAvailPageFile <= ms.ullTotalPageFile);
        assert!(ms.dwMemoryLoad <= 100);
    }
}

#[test]
fn global_memory_status_reports_the_user_address_space() {
    let mut sys = new_system();
    let pid = sys.create_process("test").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    let ms = memory_status(&mut k);
    // lpMaximumApplicationAddress + 1 - lpMinimumApplicationAddress (F1).
    assert_eq!(ms.ullTotalVirtual, 0x7FFF_FFFE_0000);
    assert!(ms.ullAvailVirtual <= ms.ullTotalVirtual);
    let before = ms.ullAvailVirtual;
    assert_ne!(k.VirtualAlloc(0, 16 * G, MEM_RESERVE, PAGE_NOACCESS), 0);
    assert_eq!(memory_status(&mut k).ullAvailVirtual, before - 16 * G, "reserving takes address space");
}

#[test]
fn commit_charges_commit_but_touch_takes_frames() {
    let mut sys = small_system();
    let pid = sys.create_process("test").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    // Make the page tables of the region exist first.
    let p = k.VirtualAlloc(0, 32 * P, MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0);
    assert_eq!(k.VirtualAlloc(p, P, MEM_COMMIT, PAGE_READWRITE), p);
    ok(k.write(p, &[1]), "touch page 0");

    let s0 = memory_status(&mut k);
    assert_eq!(k.VirtualAlloc(p + P, 16 * P, MEM_COMMIT, PAGE_READWRITE), p + P);
    let s1 = memory_status(&mut k);
    assert_eq!(commit_in_use(&s1), commit_in_use(&s0) + 16 * P, "commit is charged at commit time");
    assert_eq!(s1.ullAvailPhys, s0.ullAvailPhys, "no frame is taken before the first touch");

    for i in 1..=16 {
        ok(k.write(p + i * P, &[2]), "touch");
    }
    let s2 = memory_status(&mut k);
    assert_eq!(s2.ullAvailPhys, s0.ullAvailPhys - 16 * P, "one frame per touched page");
    assert_eq!(commit_in_use(&s2), commit_in_use(&s1));

    assert_ne!(k.VirtualFree(p + P, 16 * P, MEM_DECOMMIT), 0);
    let s3 = memory_status(&mut k);
    assert_eq!(commit_in_use(&s3), commit_in_use(&s0));
    assert_eq!(s3.ullAvailPhys, s0.ullAvailPhys);
}

#[test]
fn global_memory_status_with_wrong_length_fails_invalid_parameter() {
    let mut sys = new_system();
    let pid = sys.create_process("test").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    let right = std::mem::size_of::<MEMORYSTATUSEX>() as u32;
    for len in [0, right - 1, right + 1] {
        let mut ms = MEMORYSTATUSEX { dwLength: len, ..Default::default() };
        k.SetLastError(0xdead_beef);
        assert_eq!(k.GlobalMemoryStatusEx(&mut ms), 0, "dwLength {len}");
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER, "dwLength {len}");
    }
}

#[test]
fn get_system_info_reports_x64_geometry_f1() {
    let mut sys = new_system();
    let pid = sys.create_process("test").unwrap();
    let k = Kernel32::new(&mut sys, pid);
    let mut si = SYSTEM_INFO::default();
    k.GetSystemInfo(&mut si);
    assert_eq!(si.dwPageSize, 0x1000);
    assert_eq!(si.dwAllocationGranularity, 0x10000);
    assert_eq!(si.lpMinimumApplicationAddress as usize, 0x10000);
    assert_eq!(si.lpMaximumApplicationAddress as usize, 0x7FFF_FFFE_FFFF);
    assert!(si.dwNumberOfProcessors >= 1);
}
