//! Scenario tests through `Kernel32` / `Ntdll` for section views (issue 7): facts F134–F161,
//! F164–F171 and F209 (sections N and O of the facts; the image facts F162 and F163 are not here).
//!
//! Each test asserts what Windows shows — VirtualQuery fields, last errors, NTSTATUS values,
//! bytes, host-file contents read with `std::fs`, commit figures — and that refused calls
//! change nothing (the whole address space, the commit total and the section count compared
//! before and after). Every test runs with the core's invariant checker on.

#![allow(non_snake_case)]
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use ntmem::{ProcessId, System};
use ntmem_win32::*;
use support::*;

mod support;

const G: u64 = 0x10000;
const PAGE: u64 = 0x1000;
const MIB: u64 = 0x10_0000;
const BASIC_LEN: u32 = std::mem::size_of::<SECTION_BASIC_INFORMATION>() as u32;

/// A page-file section of `size` bytes with `protect` (SEC flags included).
fn pagefile(k: &mut Kernel32, protect: u32, size: u64, name: Option<&str>) -> HANDLE {
    let h = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, protect, (size >> 32) as u32, size as u32, name);
    assert!(!h.is_null(), "CreateFileMappingW: {}", k.GetLastError());
    h
}

fn map(k: &mut Kernel32, h: HANDLE, access: u32, size: u64) -> u64 {
    let v = k.MapViewOfFile(h, access, 0, 0, size);
    assert_ne!(v, 0, "MapViewOfFile({access:#x}): {}", k.GetLastError());
    v
}

/// (BaseAddress, AllocationBase, AllocationProtect, RegionSize, State, Protect, Type).
type Mbi = (u64, u64, u32, u64, u32, u32, u32);

fn q(k: &mut Kernel32, addr: u64) -> Mbi {
    let mut i = MEMORY_BASIC_INFORMATION64::default();
    assert_ne!(k.VirtualQuery(addr, &mut i), 0, "VirtualQuery({addr:#x}): {}", k.GetLastError());
    (i.BaseAddress, i.AllocationBase, i.AllocationProtect, i.RegionSize, i.State, i.Protect, i.Type)
}

/// Every region of the address space, in order.
fn layout(k: &mut Kernel32) -> Vec<Mbi> {
    let mut out = Vec::new();
    let mut addr = 0;
    loop {
        let mut i = MEMORY_BASIC_INFORMATION64::default();
        if k.VirtualQuery(addr, &mut i) == 0 {
            return out;
        }
        out.push((i.BaseAddress, i.AllocationBase, i.AllocationProtect, i.RegionSize, i.State, i.Protect, i.Type));
        addr = i.BaseAddress + i.RegionSize;
    }
}

/// What a refused call must leave as it was.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    layout: Vec<Mbi>,
    commit: u64,
    sections: usize,
}

fn snapshot(k: &mut Kernel32) -> Snapshot {
    let layout = layout(k);
    let commit = k.system().stats().commit_total;
    let sections = k.system().sections().sections().count();
    Snapshot { layout, commit, sections }
}

fn read_u32(k: &mut Kernel32, addr: u64) -> u32 {
    let mut b = [0u8; 4];
    k.read(addr, &mut b).unwrap();
    u32::from_le_bytes(b)
}

fn read_vec(k: &mut Kernel32, addr: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    k.read(addr, &mut b).unwrap();
    b
}

fn private_usage(k: &mut Kernel32) -> usize {
    let mut c = PROCESS_MEMORY_COUNTERS_EX::default();
    assert_eq!(k.GetProcessMemoryInfo(k.GetCurrentProcess(), &mut c), TRUE);
    c.PrivateUsage
}

#[allow(clippy::too_many_arguments)]
fn nt_map(
    sys: &mut System,
    pid: ProcessId,
    section: HANDLE,
    base: &mut u64,
    commit: u64,
    offset: Option<i64>,
    size: &mut u64,
    alloc: u32,
    protect: u32,
) -> NTSTATUS {
    let mut off = offset;
    Ntdll::new(sys, pid).NtMapViewOfSection(
        section,
        NtCurrentProcess(),
        base,
        0,
        commit,
        off.as_mut(),
        size,
        VIEW_SHARE,
        alloc,
        protect,
    )
}

fn nt_section(sys: &mut System, pid: ProcessId, size: Option<i64>, prot: u32, attrs: u32, file: HANDLE) -> HANDLE {
    let mut h = null();
    let s = Ntdll::new(sys, pid).NtCreateSection(&mut h, SECTION_ALL_ACCESS, None, size.as_ref(), prot, attrs, file);
    assert_eq!(s, STATUS_SUCCESS, "{}", status_name(s).unwrap_or("?"));
    h
}

// ---------------------------------------------------------------------------------------------
// N. Section objects as views see them (F134–F139)

#[test]
fn view_keeps_a_pagefile_section_alive_but_not_its_name_f134() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x2000, Some("f134"));
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    k.write(v + 0x1000, &0xfeed_f00du32.to_le_bytes()).unwrap();
    let before = q(&mut k, v);
    assert_eq!(k.CloseHandle(h), TRUE);
    assert_eq!(q(&mut k, v), before, "VirtualQuery unchanged");
    assert_eq!(read_u32(&mut k, v + 0x1000), 0xfeed_f00d, "the view stays readable");
    k.write(v, b"still").unwrap();
    assert!(k.OpenFileMappingW(FILE_MAP_READ, FALSE, "f134").is_null());
    assert_eq!(k.GetLastError(), ERROR_FILE_NOT_FOUND);
    k.SetLastError(77);
    let fresh = pagefile(&mut k, PAGE_READWRITE, 0x2000, Some("f134"));
    assert_eq!(k.GetLastError(), 0, "a fresh object");
    let w = map(&mut k, fresh, FILE_MAP_READ, 0);
    assert_eq!(read_u32(&mut k, w + 0x1000), 0, "not the old section's bytes");
    assert_eq!(k.system().sections().sections().count(), 2);
    assert_eq!(k.UnmapViewOfFile(v), TRUE);
    assert_eq!(k.system().sections().sections().count(), 1, "the old section goes with its last view");
}

#[test]
fn view_keeps_a_file_section_alive_but_not_its_name_f134() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f134", 0x3000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let h = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, Some("f134 file"));
    assert!(!h.is_null());
    let v = map(&mut k, h, FILE_MAP_READ, 0);
    let before = q(&mut k, v);
    assert_eq!(k.CloseHandle(h), TRUE);
    assert_eq!(k.CloseHandle(f), TRUE);
    assert_eq!(q(&mut k, v), before);
    assert_eq!(read_vec(&mut k, v, 0x3000), pattern(0x3000));
    assert!(k.OpenFileMappingW(FILE_MAP_READ, FALSE, "f134 file").is_null());
    assert_eq!(k.GetLastError(), ERROR_FILE_NOT_FOUND);
    let f2 = open(&mut k, &path, GENERIC_READ);
    k.SetLastError(77);
    let h2 = k.CreateFileMappingW(f2, None, PAGE_READONLY, 0, 0, Some("f134 file"));
    assert!(!h2.is_null());
    assert_eq!(k.GetLastError(), 0);
}

#[test]
fn handle_rights_limit_views_f135() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let _owner = pagefile(&mut k, PAGE_READWRITE, 0x1000, Some("f135"));
    let read = k.OpenFileMappingW(FILE_MAP_READ, FALSE, "f135");
    assert!(!read.is_null());
    let before = snapshot(&mut k);
    assert_eq!(k.MapViewOfFile(read, FILE_MAP_WRITE, 0, 0, 0), 0);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    assert_eq!(snapshot(&mut k), before);
    let v = map(&mut k, read, FILE_MAP_READ, 0);
    let (_, _, ap, size, state, prot, ty) = q(&mut k, v);
    assert_eq!((ap, prot, size, state, ty), (PAGE_READONLY, PAGE_READONLY, P, MEM_COMMIT, MEM_MAPPED));

    let write = k.OpenFileMappingW(FILE_MAP_WRITE, FALSE, "f135");
    assert!(!write.is_null());
    let before = snapshot(&mut k);
    assert_eq!(k.MapViewOfFile(write, FILE_MAP_READ, 0, 0, 0), 0, "FILE_MAP_WRITE holds no map-read right");
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    assert_eq!(snapshot(&mut k), before);
    let w = map(&mut k, write, FILE_MAP_WRITE, 0);
    let (_, _, ap, _, _, prot, _) = q(&mut k, w);
    assert_eq!((ap, prot), (PAGE_READWRITE, PAGE_READWRITE));
}

#[test]
fn duplicated_handle_rights_limit_views_f136() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x1000, None);
    let me = k.GetCurrentProcess();
    let dup = |k: &mut Kernel32, access: u32| {
        let mut d = null();
        assert_eq!(k.DuplicateHandle(me, h, me, &mut d, access, FALSE, 0), TRUE);
        d
    };
    let rw = dup(&mut k, FILE_MAP_READ | FILE_MAP_WRITE);
    map(&mut k, rw, FILE_MAP_WRITE, 0);

    let r = dup(&mut k, FILE_MAP_READ);
    let before = snapshot(&mut k);
    assert_eq!(k.MapViewOfFile(r, FILE_MAP_WRITE, 0, 0, 0), 0);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    assert_eq!(snapshot(&mut k), before);
    let v = map(&mut k, r, 0, 0);
    let (_, _, ap, _, state, prot, _) = q(&mut k, v);
    assert_eq!((ap, state, prot), (PAGE_NOACCESS, MEM_COMMIT, PAGE_NOACCESS));

    let none = dup(&mut k, 0);
    let before = snapshot(&mut k);
    assert_eq!(k.MapViewOfFile(none, 0, 0, 0, 0), 0);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    assert_eq!(snapshot(&mut k), before);
}

#[test]
fn name_of_an_event_cannot_name_a_section_f137() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let e = k.CreateEventW(None, TRUE, FALSE, Some("f137"));
    assert!(!e.is_null());
    let before = snapshot(&mut k);
    assert!(k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, Some("f137")).is_null());
    assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE);
    assert!(k.OpenFileMappingW(FILE_MAP_READ, FALSE, "f137").is_null());
    assert_eq!(snapshot(&mut k), before);
}

#[test]
fn sec_reserve_of_8_gib_maps_whole_with_size_0_f138_f143() {
    let (mut sys, pid) = setup();
    let h = nt_section(&mut sys, pid, Some(8 << 30), PAGE_READWRITE, SEC_RESERVE, null());
    let before = sys.stats().commit_total;
    let (mut base, mut size) = (0, 0);
    let s = nt_map(&mut sys, pid, h, &mut base, 0, None, &mut size, 0, PAGE_READWRITE);
    assert_eq!(s, STATUS_SUCCESS);
    assert_eq!(size, 0x2_0000_0000);
    assert_eq!(base % G, 0);
    assert_eq!(sys.stats().commit_total, before, "a reserved view charges no commit");
    let mut k = Kernel32::new(&mut sys, pid);
    let (b, ab, ap, rs, state, prot, ty) = q(&mut k, base);
    assert_eq!((b, ab, ap, rs, state, prot, ty), (base, base, PAGE_READWRITE, 8 << 30, MEM_RESERVE, 0, MEM_MAPPED));
}

#[test]
fn file_cannot_shrink_below_a_mapped_view_f139() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f139", 0x3000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let h = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    let before = snapshot(&mut k);
    for end in [0, 0x1000, 0x2fff] {
        assert_eq!(k.SetFilePointerEx(f, end, None, FILE_BEGIN), TRUE);
        assert_eq!(k.SetEndOfFile(f), FALSE);
        assert_eq!(k.GetLastError(), ERROR_USER_MAPPED_FILE);
    }
    assert_eq!(snapshot(&mut k), before);
    let mut size = 0;
    assert_eq!(k.GetFileSizeEx(f, &mut size), TRUE);
    assert_eq!(size, 0x3000);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0x3000);
    assert_eq!(read_vec(&mut k, v, 0x3000), pattern(0x3000), "view content unchanged");
    // Closing the section handle is not enough while the view lives.
    assert_eq!(k.CloseHandle(h), TRUE);
    assert_eq!(k.SetEndOfFile(f), FALSE);
    assert_eq!(k.GetLastError(), ERROR_USER_MAPPED_FILE);
    assert_eq!(k.UnmapViewOfFile(v), TRUE);
    assert_eq!(k.SetFilePointerEx(f, 0x1000, None, FILE_BEGIN), TRUE);
    assert_eq!(k.SetEndOfFile(f), TRUE);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0x1000);
    assert_eq!(std::fs::read(&path).unwrap(), pattern(0x1000));
}

// ---------------------------------------------------------------------------------------------
// O. Views

#[test]
fn offset_must_be_a_multiple_of_64_kib_f140() {
    let (mut sys, pid) = setup();
    let h = nt_section(&mut sys, pid, Some(0x5_0000), PAGE_READWRITE, SEC_COMMIT, null());
    let before = snapshot(&mut Kernel32::new(&mut sys, pid));
    for off in [1i64, 0x40211, 0x1000, -1] {
        let (mut base, mut size) = (0, 0);
        let s = nt_map(&mut sys, pid, h, &mut base, 0, Some(off), &mut size, 0, PAGE_READWRITE);
        assert_eq!(s, STATUS_MAPPED_ALIGNMENT, "offset {off:#x}");
        assert_eq!((base, size), (0, 0), "out parameters untouched");
    }
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 1, 0), 0);
    assert_eq!(k.GetLastError(), ERROR_MAPPED_ALIGNMENT);
    assert_eq!(k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 0x1000, 0x1000), 0, "not silently aligned");
    assert_eq!(k.GetLastError(), ERROR_MAPPED_ALIGNMENT);
    assert_eq!(snapshot(&mut k), before);
    // Offset 0x10000 at base 0x40080000.
    let (mut base, mut size) = (0x4008_0000, 0);
    let s = nt_map(&mut sys, pid, h, &mut base, 0, Some(0x10000), &mut size, 0, PAGE_READWRITE);
    assert_eq!(s, STATUS_SUCCESS);
    assert_eq!((base, size), (0x4008_0000, 4 * G));
    let mut k = Kernel32::new(&mut sys, pid);
    let v = k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 0x20000, 0x1000);
    assert_ne!(v, 0);
    k.write(v, b"third").unwrap();
    assert_eq!(read_vec(&mut k, 0x4008_0000 + G, 5), b"third", "the offset is where the bytes are");
}

#[test]
fn view_base_must_be_64_kib_aligned_and_free_f141() {
    let (mut sys, pid) = setup();
    let h = nt_section(&mut sys, pid, Some(0x3000), PAGE_READWRITE, SEC_COMMIT, null());
    let mut k = Kernel32::new(&mut sys, pid);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    let a = k.VirtualAlloc(0, 0x3000, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(a, 0);
    let before = snapshot(&mut k);
    for base in [v + 42, v + 0x1000, 0x3000_1000, 0x0056_7A20] {
        assert_eq!(k.MapViewOfFileEx(h, FILE_MAP_WRITE, 0, 0, 0, base), 0, "{base:#x}");
        assert_eq!(k.GetLastError(), ERROR_MAPPED_ALIGNMENT);
    }
    for base in [v, a] {
        assert_eq!(k.MapViewOfFileEx(h, FILE_MAP_WRITE, 0, 0, 0, base), 0, "{base:#x}");
        assert_eq!(k.GetLastError(), ERROR_INVALID_ADDRESS);
    }
    assert_eq!(snapshot(&mut k), before);
    for base in [v + 42, v + 0x1000, 0x3000_1000] {
        let (mut b, mut size) = (base, 0);
        let s = nt_map(&mut sys, pid, h, &mut b, 0, None, &mut size, 0, PAGE_READWRITE);
        assert_eq!(s, STATUS_MAPPED_ALIGNMENT);
        assert_eq!((b, size), (base, 0));
    }
    let (mut b, mut size) = (a, 0);
    let s = nt_map(&mut sys, pid, h, &mut b, 0, None, &mut size, 0, PAGE_READWRITE);
    assert_eq!(s, STATUS_CONFLICTING_ADDRESSES);
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(snapshot(&mut k), before);
    // An aligned free base is taken as given.
    let w = k.MapViewOfFileEx(h, FILE_MAP_READ, 0, 0, 0, 0x3000_0000);
    assert_eq!(w, 0x3000_0000);
}

#[test]
fn at_round_to_page_is_refused_on_x64_f142() {
    let (mut sys, pid) = setup();
    let h = nt_section(&mut sys, pid, Some(0x3000), PAGE_READWRITE, SEC_COMMIT, null());
    let before = snapshot(&mut Kernel32::new(&mut sys, pid));
    for base in [0, 0x3000_1000] {
        let (mut b, mut size) = (base, 0);
        let s = nt_map(&mut sys, pid, h, &mut b, 0, None, &mut size, AT_ROUND_TO_PAGE, PAGE_READWRITE);
        assert!(s == STATUS_INVALID_PARAMETER_9 || s == STATUS_INVALID_PARAMETER, "{}", status_name(s).unwrap_or("?"));
        assert_eq!((b, size), (base, 0));
    }
    assert_eq!(snapshot(&mut Kernel32::new(&mut sys, pid)), before);
}

#[test]
fn view_size_past_the_section_is_refused_f143() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x3000, None);
    let before = snapshot(&mut k);
    assert_eq!(k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0x3001), 0);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    assert_eq!(k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 0x10000, 0), 0, "offset past the end");
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    assert_eq!(snapshot(&mut k), before);
    for size in [0x3000, 0x2fff, 0x1000, 0] {
        let v = map(&mut k, h, FILE_MAP_WRITE, size);
        let want = if size == 0 { 0x3000 } else { size.div_ceil(P) * P };
        assert_eq!(q(&mut k, v).3, want, "size {size:#x}");
    }
    let (mut b, mut size) = (0, 0x3001);
    assert_eq!(nt_map(&mut sys, pid, h, &mut b, 0, None, &mut size, 0, PAGE_READWRITE), STATUS_INVALID_VIEW_SIZE);
    assert_eq!((b, size), (0, 0x3001));
    let (mut b, mut size) = (0, u64::MAX);
    assert_eq!(nt_map(&mut sys, pid, h, &mut b, 0, None, &mut size, 0, PAGE_READWRITE), STATUS_INVALID_PARAMETER_3);
    let (mut b, mut size) = (0, 0);
    assert_eq!(nt_map(&mut sys, pid, h, &mut b, 0, None, &mut size, 0, PAGE_READWRITE), STATUS_SUCCESS);
    assert_eq!(size, 0x3000);
}

#[test]
fn file_view_size_past_the_file_section_is_refused_f143() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f143", 0x3456);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ);
    let h = k.CreateFileMappingW(f, None, PAGE_READONLY, 0, 0, None);
    let before = snapshot(&mut k);
    assert_eq!(k.MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0x3457), 0);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    assert_eq!(snapshot(&mut k), before);
    let v = map(&mut k, h, FILE_MAP_READ, 0x3456);
    assert_eq!(q(&mut k, v).3, 0x4000);
    let v = map(&mut k, h, FILE_MAP_READ, 0);
    assert_eq!(q(&mut k, v).3, 0x4000);
    // The tail of the last page past the file's end reads zero.
    let bytes = read_vec(&mut k, v, 0x4000);
    assert_eq!(&bytes[..0x3456], &pattern(0x3456)[..]);
    assert!(bytes[0x3456..].iter().all(|&b| b == 0));
}

#[test]
fn two_views_of_a_section_get_two_addresses_f144() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x1000, None);
    let a = map(&mut k, h, FILE_MAP_WRITE, 0);
    let b = map(&mut k, h, FILE_MAP_WRITE, 0);
    assert_ne!(a, b);
    assert_eq!(q(&mut k, b).1, b, "each its own allocation");
}

#[test]
fn pagefile_sec_commit_view_query_f145() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, MIB, None);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    assert_eq!(v % G, 0);
    assert_eq!(q(&mut k, v), (v, v, PAGE_READWRITE, MIB, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED));
    assert_eq!(
        q(&mut k, v + 0x5_4321),
        (v + 0x5_4000, v, PAGE_READWRITE, MIB - 0x5_4000, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED)
    );
}

#[test]
fn read_view_of_a_4090_byte_section_is_one_page_f146() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, 4090, None);
    let v = map(&mut k, h, FILE_MAP_READ, 0);
    assert_eq!(q(&mut k, v), (v, v, PAGE_READONLY, 4096, MEM_COMMIT, PAGE_READONLY, MEM_MAPPED));
    assert_eq!(q(&mut k, v + P).4, MEM_FREE, "nothing past the page");
}

#[test]
fn pagefile_sec_reserve_view_query_f147() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE | SEC_RESERVE, MIB, None);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    assert_eq!(q(&mut k, v), (v, v, PAGE_READWRITE, MIB, MEM_RESERVE, 0, MEM_MAPPED));
    let e = k.read(v, &mut [0u8; 1]).unwrap_err();
    assert_eq!(e.code, STATUS_ACCESS_VIOLATION, "a reserved page is not there");
}

#[test]
fn commit_through_one_view_is_section_wide_protection_per_view_f148() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE | SEC_RESERVE, MIB, None);
    let v1 = map(&mut k, h, FILE_MAP_WRITE, 0);
    let v2 = map(&mut k, h, FILE_MAP_WRITE, 0);
    assert_eq!(k.system().segments().commit(), 0);
    assert_eq!(k.VirtualAlloc(v1, 0x10000, MEM_COMMIT, PAGE_READONLY), v1);
    assert_eq!(k.system().segments().commit(), 16, "the section is charged for its pages");
    assert_eq!(q(&mut k, v1), (v1, v1, PAGE_READWRITE, 0x10000, MEM_COMMIT, PAGE_READONLY, MEM_MAPPED));
    assert_eq!(q(&mut k, v1 + 0x10000), (v1 + 0x10000, v1, PAGE_READWRITE, MIB - 0x10000, MEM_RESERVE, 0, MEM_MAPPED));
    assert_eq!(q(&mut k, v2), (v2, v2, PAGE_READWRITE, 0x10000, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED));
    assert_eq!(q(&mut k, v2 + 0x10000), (v2 + 0x10000, v2, PAGE_READWRITE, MIB - 0x10000, MEM_RESERVE, 0, MEM_MAPPED));
    k.write(v2 + 0x20, b"via v2").unwrap();
    assert_eq!(read_vec(&mut k, v1 + 0x20, 6), b"via v2");
    assert!(k.write(v1, b"x").is_err(), "v1's pages are read-only");
}

#[test]
fn nt_commit_size_commits_the_first_pages_f149() {
    let (mut sys, pid) = setup();
    let h = nt_section(&mut sys, pid, Some(0x2000), PAGE_READWRITE, SEC_RESERVE, null());
    let (mut v1, mut size) = (0, 0x2000);
    assert_eq!(nt_map(&mut sys, pid, h, &mut v1, P, None, &mut size, 0, PAGE_READWRITE), STATUS_SUCCESS);
    let mut k = Kernel32::new(&mut sys, pid);
    k.write(v1, b"page 0").unwrap();
    let e = k.read(v1 + P, &mut [0u8; 1]).unwrap_err();
    assert_eq!((e.code, e.address), (STATUS_ACCESS_VIOLATION, v1 + P));
    let (mut v2, mut size) = (0, 0);
    assert_eq!(nt_map(&mut sys, pid, h, &mut v2, 0, None, &mut size, 0, PAGE_READWRITE), STATUS_SUCCESS);
    for _ in 0..2 {
        let (mut b, mut s) = (v2 + P, P);
        let st = Ntdll::new(&mut sys, pid).NtAllocateVirtualMemory(
            NtCurrentProcess(),
            &mut b,
            0,
            &mut s,
            MEM_COMMIT,
            PAGE_READWRITE,
        );
        assert_eq!(st, STATUS_SUCCESS, "committing again is still a success");
        assert_eq!((b, s), (v2 + P, P));
    }
    let mut k = Kernel32::new(&mut sys, pid);
    k.write(v1 + P, b"page 1").unwrap();
    assert_eq!(read_vec(&mut k, v2 + P, 6), b"page 1");
    assert_eq!(read_vec(&mut k, v2, 6), b"page 0");
    let before = snapshot(&mut k);
    for alloc in [MEM_RESERVE, MEM_COMMIT] {
        let (mut b, mut s) = (0, 0);
        assert_eq!(
            nt_map(&mut sys, pid, h, &mut b, 0, None, &mut s, alloc, PAGE_READWRITE),
            STATUS_INVALID_PARAMETER_9
        );
    }
    assert_eq!(snapshot(&mut Kernel32::new(&mut sys, pid)), before);
}

#[test]
fn commit_with_readonly_on_a_sec_commit_view_changes_protection_f150() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, MIB, None);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    assert_eq!(k.system().segments().commit(), 256);
    assert_eq!(k.VirtualAlloc(v, 0x10000, MEM_COMMIT, PAGE_READONLY), v);
    assert_eq!(k.system().segments().commit(), 256, "already committed");
    assert_eq!(q(&mut k, v), (v, v, PAGE_READWRITE, 0x10000, MEM_COMMIT, PAGE_READONLY, MEM_MAPPED));
    assert_eq!(
        q(&mut k, v + 0x10000),
        (v + 0x10000, v, PAGE_READWRITE, MIB - 0x10000, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED)
    );
}

#[test]
fn sec_nocache_view_carries_page_nocache_f151() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE | SEC_COMMIT | SEC_NOCACHE, MIB, None);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    assert_eq!(q(&mut k, v), (v, v, 0x204, MIB, MEM_COMMIT, 0x204, MEM_MAPPED));
    assert_eq!(k.VirtualAlloc(v, 0x10000, MEM_COMMIT, PAGE_READONLY), v);
    assert_eq!(q(&mut k, v), (v, v, 0x204, 0x10000, MEM_COMMIT, 0x202, MEM_MAPPED));
    let mut info = SECTION_BASIC_INFORMATION::default();
    let s = Ntdll::new(&mut sys, pid).NtQuerySection(h, SECTION_BASIC_INFORMATION_CLASS, &mut info, BASIC_LEN, None);
    assert_eq!(s, STATUS_SUCCESS);
    assert_eq!(info.AllocationAttributes, SEC_COMMIT | SEC_NOCACHE);
}

#[test]
fn desired_access_chooses_the_view_protection_f152() {
    const EX: u32 = FILE_MAP_EXECUTE;
    let table = [
        (0, PAGE_NOACCESS),
        (FILE_MAP_COPY, PAGE_WRITECOPY),
        (FILE_MAP_WRITE, PAGE_READWRITE),
        (FILE_MAP_WRITE | FILE_MAP_READ, PAGE_READWRITE),
        (FILE_MAP_WRITE | FILE_MAP_COPY, PAGE_READWRITE),
        (FILE_MAP_WRITE | FILE_MAP_READ | FILE_MAP_COPY, PAGE_READWRITE),
        (FILE_MAP_READ, PAGE_READONLY),
        (FILE_MAP_READ | FILE_MAP_COPY, PAGE_READONLY),
        (SECTION_MAP_EXECUTE, PAGE_NOACCESS),
        (SECTION_MAP_EXECUTE | FILE_MAP_READ, PAGE_READONLY),
        // COPY asks for copy-on-write only alone (FILE_MAP_EXECUTE aside): with another bit,
        // and neither READ nor WRITE, the view is no-access.
        (SECTION_MAP_EXECUTE | FILE_MAP_COPY, PAGE_NOACCESS),
        (EX | SECTION_MAP_EXECUTE | FILE_MAP_COPY, PAGE_NOACCESS),
        (EX, PAGE_NOACCESS),
        (EX | FILE_MAP_COPY, PAGE_EXECUTE_WRITECOPY),
        (EX | FILE_MAP_WRITE, PAGE_EXECUTE_READWRITE),
        (EX | FILE_MAP_WRITE | FILE_MAP_READ, PAGE_EXECUTE_READWRITE),
        (EX | FILE_MAP_WRITE | FILE_MAP_COPY, PAGE_EXECUTE_READWRITE),
        (EX | FILE_MAP_READ, PAGE_EXECUTE_READ),
        (EX | FILE_MAP_READ | FILE_MAP_COPY, PAGE_EXECUTE_READ),
        (FILE_MAP_ALL_ACCESS, PAGE_READWRITE),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f152", 0x2000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, ALL_FILE);
    let file = k.CreateFileMappingW(f, None, PAGE_EXECUTE_READWRITE, 0, 0, None);
    let paged = pagefile(&mut k, PAGE_EXECUTE_READWRITE, 0x2000, None);
    for h in [file, paged] {
        for (access, prot) in table {
            let v = map(&mut k, h, access, 0);
            assert_eq!(q(&mut k, v), (v, v, prot, 0x2000, MEM_COMMIT, prot, MEM_MAPPED), "access {access:#x}");
            assert_eq!(view_protection(access), prot);
            assert_eq!(k.UnmapViewOfFile(v), TRUE);
        }
    }
}

#[test]
fn copy_with_another_bit_maps_no_access_on_any_readable_section_f152() {
    const ODD_COPY: [u32; 2] =
        [SECTION_MAP_EXECUTE | FILE_MAP_COPY, FILE_MAP_EXECUTE | SECTION_MAP_EXECUTE | FILE_MAP_COPY];
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f152-odd-copy", 0x2000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ);
    let sections = [
        k.CreateFileMappingW(f, None, PAGE_READONLY, 0, 0, None),
        k.CreateFileMappingW(f, None, PAGE_WRITECOPY, 0, 0, None),
        pagefile(&mut k, PAGE_READWRITE, 0x2000, None),
        pagefile(&mut k, PAGE_EXECUTE_READWRITE, 0x2000, None),
    ];
    for h in sections {
        assert!(!h.is_null());
        for access in ODD_COPY {
            // A no-access view needs only read access to the section: even 0x29, with
            // FILE_MAP_EXECUTE, maps where the section grants no execute.
            let v = map(&mut k, h, access, 0);
            assert_eq!(
                q(&mut k, v),
                (v, v, PAGE_NOACCESS, 0x2000, MEM_COMMIT, PAGE_NOACCESS, MEM_MAPPED),
                "{access:#x}"
            );
            // Nothing on it can be raised above no-access (F155, F157), and no byte is readable.
            let before = snapshot(&mut k);
            let mut old = 0;
            assert_eq!(k.VirtualProtect(v, P, PAGE_READONLY, Some(&mut old)), 0, "{access:#x}");
            assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
            assert_eq!(snapshot(&mut k), before);
            assert!(k.read(v, &mut [0u8; 1]).is_err());
            assert_eq!(k.UnmapViewOfFile(v), TRUE);
        }
    }
    let paged = sections[2];
    let v = map(&mut k, paged, ODD_COPY[0], 0);
    for prot in [PAGE_READONLY, PAGE_WRITECOPY, PAGE_READWRITE] {
        assert_eq!(k.VirtualAlloc(v, P, MEM_COMMIT, prot), 0, "{prot:#x}");
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
    }
}

#[test]
fn section_protection_decides_which_views_it_allows_f153() {
    const EX: u32 = FILE_MAP_EXECUTE;
    const Y: bool = true;
    const N: bool = false;
    // Per section protection, whether it allows FILE_MAP_READ, FILE_MAP_WRITE, FILE_MAP_COPY,
    // EX|READ, EX|WRITE, EX|COPY views.
    let rows = [
        (PAGE_READONLY, [Y, N, Y, N, N, N]),
        (PAGE_READWRITE, [Y, Y, Y, N, N, N]),
        (PAGE_WRITECOPY, [Y, N, Y, N, N, N]),
        (PAGE_EXECUTE_READ, [Y, N, Y, Y, N, Y]),
        (PAGE_EXECUTE_READWRITE, [Y, Y, Y, Y, Y, Y]),
        (PAGE_EXECUTE_WRITECOPY, [Y, N, Y, Y, N, Y]),
    ];
    let accesses =
        [FILE_MAP_READ, FILE_MAP_WRITE, FILE_MAP_COPY, EX | FILE_MAP_READ, EX | FILE_MAP_WRITE, EX | FILE_MAP_COPY];
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f153", 0x1000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, ALL_FILE);
    for (section, allowed) in rows {
        let h = k.CreateFileMappingW(f, None, section, 0, 0, None);
        assert!(!h.is_null(), "section {section:#x}");
        for (access, ok) in accesses.into_iter().zip(allowed) {
            let before = snapshot(&mut k);
            let v = k.MapViewOfFile(h, access, 0, 0, 0);
            if ok {
                assert_ne!(v, 0, "section {section:#x} access {access:#x}: {}", k.GetLastError());
                assert_eq!(q(&mut k, v).5, view_protection(access));
                assert_eq!(k.UnmapViewOfFile(v), TRUE);
            } else {
                assert_eq!(v, 0, "section {section:#x} access {access:#x}");
                assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
                assert_eq!(snapshot(&mut k), before);
            }
        }
        assert_eq!(k.CloseHandle(h), TRUE);
    }
}

#[test]
fn nt_view_protection_must_fit_the_section_f154() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f154", 0x2000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let rw_file = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let ro_file = open(&mut k, &path, GENERIC_READ);
    let paged = nt_section(&mut sys, pid, Some(0x2000), PAGE_READWRITE, SEC_COMMIT, null());
    let rw = nt_section(&mut sys, pid, None, PAGE_READWRITE, SEC_COMMIT, rw_file);
    let ro = nt_section(&mut sys, pid, None, PAGE_READONLY, SEC_COMMIT, ro_file);
    let before = snapshot(&mut Kernel32::new(&mut sys, pid));
    let refused = [
        (paged, PAGE_EXECUTE_READWRITE),
        (rw, PAGE_EXECUTE_READWRITE),
        (ro, PAGE_READWRITE),
        (ro, PAGE_EXECUTE_READ),
        (ro, PAGE_EXECUTE),
        (rw, PAGE_EXECUTE_WRITECOPY),
    ];
    for (h, prot) in refused {
        let (mut b, mut s) = (0, 0);
        let st = nt_map(&mut sys, pid, h, &mut b, 0, None, &mut s, 0, prot);
        assert_eq!(st, STATUS_SECTION_PROTECTION, "view {prot:#x}");
        assert_eq!((b, s), (0, 0));
    }
    assert_eq!(snapshot(&mut Kernel32::new(&mut sys, pid)), before);
    for (h, prot) in [(ro, PAGE_WRITECOPY), (rw, PAGE_NOACCESS), (ro, PAGE_READONLY), (rw, PAGE_WRITECOPY)] {
        let (mut b, mut s) = (0, 0);
        assert_eq!(nt_map(&mut sys, pid, h, &mut b, 0, None, &mut s, 0, prot), STATUS_SUCCESS, "view {prot:#x}");
        let mut k = Kernel32::new(&mut sys, pid);
        assert_eq!(q(&mut k, b), (b, b, prot, 0x2000, MEM_COMMIT, prot, MEM_MAPPED));
    }
}

/// `NtMapViewOfSection` of `size` bytes at `base` with `zero_bits`: (status, base, size out).
fn nt_map_zero_bits(
    sys: &mut System,
    pid: ProcessId,
    h: HANDLE,
    base: u64,
    size: u64,
    zero_bits: u64,
) -> (NTSTATUS, u64, u64) {
    let (mut b, mut s, mut off) = (base, size, 0i64);
    let st = Ntdll::new(sys, pid).NtMapViewOfSection(
        h,
        NtCurrentProcess(),
        &mut b,
        zero_bits,
        0,
        Some(&mut off),
        &mut s,
        VIEW_SHARE,
        0,
        PAGE_READWRITE,
    );
    (st, b, s)
}

#[test]
fn nt_map_at_a_base_above_the_zero_bits_limit_is_parameter_4_f200() {
    let (mut sys, pid) = setup();
    let h = nt_section(&mut sys, pid, Some(0x2_0000), PAGE_READWRITE, SEC_COMMIT, null());
    let before = snapshot(&mut Kernel32::new(&mut sys, pid));
    // ReactOS Test_PageFileSection: 3 zero bits leave addresses below 2^29, so 0x30000000 is
    // out; Wine test_NtMapViewOfSection: the zero-bits check comes before the alignment one.
    // A mask (above 31) counts its leading zeros: 0x0FFFFFFF leaves addresses below 2^28.
    // The view's end counts (WRK: base + view size against the limit), for a base the
    // system would choose too.
    let refused = [
        (0x3000_0000, P, 3),
        (0x3000_1000, P, 3),
        (0x3000_0000, P, 0x0FFF_FFFF),
        (0x1_0000_0000, P, 1),
        (0x1FFF_0000, 0x1_0000, 3),
        (0, 0x2000_0000, 3),
    ];
    for (base, size, zero_bits) in refused {
        let got = nt_map_zero_bits(&mut sys, pid, h, base, size, zero_bits);
        assert_eq!(
            got,
            (STATUS_INVALID_PARAMETER_4, base, size),
            "base {base:#x} size {size:#x} zero bits {zero_bits:#x}"
        );
    }
    assert_eq!(snapshot(&mut Kernel32::new(&mut sys, pid)), before);
    // Zero bits the base satisfies: the alignment decides, then the view maps there.
    assert_eq!(nt_map_zero_bits(&mut sys, pid, h, 0x3000_1000, P, 2).0, STATUS_MAPPED_ALIGNMENT);
    assert_eq!(nt_map_zero_bits(&mut sys, pid, h, 0x3000_0000, P, 2), (STATUS_SUCCESS, 0x3000_0000, P));
    assert_eq!(nt_map_zero_bits(&mut sys, pid, h, 0x3800_0000, P, 0x3FFF_FFFF), (STATUS_SUCCESS, 0x3800_0000, P));
    // A mask with bit 63 set (-1 among them) has no leading zeros: no limit (ReactOS kmtest
    // ZwMapViewOfSection, x64: ZeroBits -1 maps).
    for zero_bits in [u64::MAX, 1 << 63] {
        let (st, b, s) = nt_map_zero_bits(&mut sys, pid, h, 0, P, zero_bits);
        assert_eq!((st, s), (STATUS_SUCCESS, P), "zero bits {zero_bits:#x}");
        assert_ne!(b, 0);
    }
}

#[test]
fn nt_map_checks_alignment_then_protection_then_reserve_then_sizes_f205() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f205", 200);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let rw_file = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let ro_file = open(&mut k, &path, GENERIC_READ);
    let rw = nt_section(&mut sys, pid, None, PAGE_READWRITE, SEC_COMMIT, rw_file);
    let ro = nt_section(&mut sys, pid, None, PAGE_READONLY, SEC_COMMIT, ro_file);
    let before = snapshot(&mut Kernel32::new(&mut sys, pid));
    // (section, base, offset, view size, allocation type, protection, status): each call is
    // wrong in two ways, and the check NT makes first decides.
    let refused = [
        // Alignment before the view size (offset 200 with one byte is past the end too).
        (rw, 0, Some(200), 1, 0, PAGE_READWRITE, STATUS_MAPPED_ALIGNMENT),
        (rw, 0x3000_1000, None, P, 0, PAGE_READWRITE, STATUS_MAPPED_ALIGNMENT),
        // The protection against the section before the view size.
        (ro, 0, None, P, 0, PAGE_READWRITE, STATUS_SECTION_PROTECTION),
        // MEM_RESERVE wants a writable section, whatever view is asked.
        (ro, 0, None, 0, MEM_RESERVE, PAGE_READONLY, STATUS_SECTION_PROTECTION),
        (ro, 0, None, 0, MEM_RESERVE, PAGE_WRITECOPY, STATUS_SECTION_PROTECTION),
        // Past the end without MEM_RESERVE.
        (rw, 0, None, 201, 0, PAGE_READWRITE, STATUS_INVALID_VIEW_SIZE),
    ];
    for (h, base, offset, size, alloc, prot, want) in refused {
        let (mut b, mut s) = (base, size);
        let st = nt_map(&mut sys, pid, h, &mut b, 0, offset, &mut s, alloc, prot);
        assert_eq!(
            (st, b, s),
            (want, base, size),
            "base {base:#x} offset {offset:?} size {size} type {alloc:#x} {prot:#x}"
        );
    }
    assert_eq!(snapshot(&mut Kernel32::new(&mut sys, pid)), before);
    // With MEM_RESERVE a view of a writable file section may reach past its end (within its
    // last page in ntmem): one page, the file's 200 bytes in it.
    let (mut b, mut s) = (0, 201);
    assert_eq!(nt_map(&mut sys, pid, rw, &mut b, 0, None, &mut s, MEM_RESERVE, PAGE_READWRITE), STATUS_SUCCESS);
    assert_eq!(s, P);
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(read_vec(&mut k, b, 200), pattern(200));
}

#[test]
fn nt_protect_beyond_the_view_is_section_protection_with_old_protect_0_f201() {
    let (mut sys, pid) = setup();
    // ReactOS Test_PageFileSection: a SEC_RESERVE section's view mapped no-access.
    let reserved = nt_section(&mut sys, pid, Some(0x2_0000), PAGE_READWRITE, SEC_RESERVE, null());
    let (mut none, mut size) = (0, 0);
    assert_eq!(nt_map(&mut sys, pid, reserved, &mut none, 0, None, &mut size, 0, PAGE_NOACCESS), STATUS_SUCCESS);
    // And a committed read-only view of a read-write section.
    let committed = nt_section(&mut sys, pid, Some(0x2_0000), PAGE_READWRITE, SEC_COMMIT, null());
    let (mut ro, mut size) = (0, 0);
    assert_eq!(nt_map(&mut sys, pid, committed, &mut ro, 0, None, &mut size, 0, PAGE_READONLY), STATUS_SUCCESS);
    let before = snapshot(&mut Kernel32::new(&mut sys, pid));
    for (view, prot) in [(none, PAGE_READWRITE), (none, PAGE_READONLY), (ro, PAGE_READWRITE), (ro, PAGE_EXECUTE_READ)] {
        let (mut b, mut s, mut old) = (view, P, 0xFFFF_FFFF);
        let st =
            Ntdll::new(&mut sys, pid).NtProtectVirtualMemory(NtCurrentProcess(), &mut b, &mut s, prot, Some(&mut old));
        assert_eq!((st, b, s, old), (STATUS_SECTION_PROTECTION, view, P, 0), "view {view:#x} {prot:#x}");
    }
    // Through VirtualProtect: ERROR_INVALID_PARAMETER (F155), and the 0 reaches lpflOldProtect.
    let mut k = Kernel32::new(&mut sys, pid);
    let mut old = 0xFFFF_FFFF;
    assert_eq!(k.VirtualProtect(ro, P, PAGE_READWRITE, Some(&mut old)), FALSE);
    assert_eq!((k.GetLastError(), old), (ERROR_INVALID_PARAMETER, 0));
    assert_eq!(snapshot(&mut k), before);
    // A protection the view allows on its reserved pages is refused for them (F186).
    let (mut b, mut s, mut old) = (none, P, 0xFFFF_FFFF);
    let st = Ntdll::new(&mut sys, pid).NtProtectVirtualMemory(
        NtCurrentProcess(),
        &mut b,
        &mut s,
        PAGE_NOACCESS,
        Some(&mut old),
    );
    assert_eq!((st, old), (STATUS_NOT_COMMITTED, PAGE_NOACCESS));
}

#[test]
fn virtual_protect_on_a_view_grants_no_more_than_the_view_f155() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_EXECUTE_READWRITE, 0x3000, None);
    let ro = map(&mut k, h, FILE_MAP_READ, 0);
    for prot in [PAGE_READWRITE, PAGE_EXECUTE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE, PAGE_EXECUTE_WRITECOPY] {
        let before = snapshot(&mut k);
        let mut old = 0xdead;
        assert_eq!(k.VirtualProtect(ro, P, prot, Some(&mut old)), FALSE, "{prot:#x}");
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
        assert_eq!(snapshot(&mut k), before);
    }
    for (prot, was) in
        [(PAGE_WRITECOPY, PAGE_READONLY), (PAGE_NOACCESS, PAGE_WRITECOPY), (PAGE_READONLY, PAGE_NOACCESS)]
    {
        let mut old = 0;
        assert_eq!(k.VirtualProtect(ro, P, prot, Some(&mut old)), TRUE, "{prot:#x}");
        assert_eq!(old, was);
        // Back at the view's own protection, the page joins its neighbours' region again.
        let size = if prot == PAGE_READONLY { 0x3000 } else { P };
        assert_eq!(q(&mut k, ro), (ro, ro, PAGE_READONLY, size, MEM_COMMIT, prot, MEM_MAPPED));
    }
    let rw = map(&mut k, h, FILE_MAP_WRITE, 0);
    for prot in [PAGE_EXECUTE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE] {
        let mut old = 0;
        assert_eq!(k.VirtualProtect(rw, P, prot, Some(&mut old)), FALSE, "{prot:#x}");
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
    }
    let mut old = 0;
    assert_eq!(k.VirtualProtect(rw + P, P, PAGE_WRITECOPY, Some(&mut old)), TRUE);
    assert_eq!(old, PAGE_READWRITE);
    assert_eq!(q(&mut k, rw + P), (rw + P, rw, PAGE_READWRITE, P, MEM_COMMIT, PAGE_WRITECOPY, MEM_MAPPED));
    let exec = map(&mut k, h, FILE_MAP_EXECUTE | FILE_MAP_READ, 0);
    assert_eq!(k.VirtualProtect(exec, P, PAGE_EXECUTE, Some(&mut old)), TRUE);
    assert_eq!(k.VirtualProtect(exec, P, PAGE_EXECUTE_WRITECOPY, Some(&mut old)), TRUE);
    assert_eq!(k.VirtualProtect(exec, P, PAGE_READWRITE, Some(&mut old)), FALSE);
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
}

#[test]
fn commit_on_a_data_file_view_is_access_denied_f156() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f156", 0x3000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let h = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    let r = map(&mut k, h, FILE_MAP_READ, 0);
    let before = snapshot(&mut k);
    let all = [
        PAGE_NOACCESS,
        PAGE_READONLY,
        PAGE_READWRITE,
        PAGE_WRITECOPY,
        PAGE_EXECUTE_READ,
        PAGE_EXECUTE_READWRITE,
        PAGE_EXECUTE_WRITECOPY,
    ];
    for (v, prot) in all.iter().flat_map(|&p| [(v, p), (r, p)]) {
        assert_eq!(k.VirtualAlloc(v, P, MEM_COMMIT, prot), 0, "{prot:#x}");
        assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED, "{prot:#x}");
    }
    assert_eq!(snapshot(&mut k), before);
}

#[test]
fn commit_on_a_pagefile_view_follows_the_view_protection_f157() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x4000, None);
    let ro = map(&mut k, h, FILE_MAP_READ, 0);
    let before = snapshot(&mut k);
    for prot in [PAGE_READWRITE, PAGE_EXECUTE_READ, PAGE_EXECUTE] {
        assert_eq!(k.VirtualAlloc(ro, P, MEM_COMMIT, prot), 0, "{prot:#x}");
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
    }
    assert_eq!(snapshot(&mut k), before);
    assert_eq!(k.VirtualAlloc(ro, P, MEM_COMMIT, PAGE_NOACCESS), ro, "{}", k.GetLastError());
    assert_eq!(q(&mut k, ro), (ro, ro, PAGE_READONLY, P, MEM_COMMIT, PAGE_NOACCESS, MEM_MAPPED));
    let rw = map(&mut k, h, FILE_MAP_WRITE, 0);
    assert_eq!(k.VirtualAlloc(rw + P, P, MEM_COMMIT, PAGE_WRITECOPY), rw + P);
    assert_eq!(q(&mut k, rw + P), (rw + P, rw, PAGE_READWRITE, P, MEM_COMMIT, PAGE_WRITECOPY, MEM_MAPPED));
}

#[test]
fn copy_on_write_splits_the_written_page_f158() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f158", 0x4000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let h = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    let c = map(&mut k, h, FILE_MAP_COPY, 0);
    let other = map(&mut k, h, FILE_MAP_READ, 0);
    assert_eq!(q(&mut k, c), (c, c, PAGE_WRITECOPY, 0x4000, MEM_COMMIT, PAGE_WRITECOPY, MEM_MAPPED));
    k.write(c + 0x1010, b"private").unwrap();
    assert_eq!(q(&mut k, c), (c, c, PAGE_WRITECOPY, P, MEM_COMMIT, PAGE_WRITECOPY, MEM_MAPPED));
    assert_eq!(q(&mut k, c + P), (c + P, c, PAGE_WRITECOPY, P, MEM_COMMIT, PAGE_READWRITE, MEM_MAPPED));
    assert_eq!(q(&mut k, c + 2 * P), (c + 2 * P, c, PAGE_WRITECOPY, 2 * P, MEM_COMMIT, PAGE_WRITECOPY, MEM_MAPPED));
    assert_eq!(read_vec(&mut k, c + 0x1010, 7), b"private");
    assert_eq!(read_vec(&mut k, other + 0x1010, 7), &pattern(0x1017)[0x1010..], "other views never see it");
    assert_eq!(k.FlushViewOfFile(c, 0), TRUE);
    assert_eq!(std::fs::read(&path).unwrap(), pattern(0x4000), "nor the file");
    // Writing again to the copied page changes nothing more.
    k.write(c + 0x1020, b"again").unwrap();
    assert_eq!(q(&mut k, c + P).3, P);
    assert_eq!(k.UnmapViewOfFile(c), TRUE);
    assert_eq!(k.UnmapViewOfFile(other), TRUE);
    assert_eq!(k.CloseHandle(h), TRUE);
    assert_eq!(k.CloseHandle(f), TRUE);
    assert_eq!(std::fs::read(&path).unwrap(), pattern(0x4000), "not after the last unmap and close either");
}

#[test]
fn execute_writecopy_becomes_execute_readwrite_f158() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f158x", 0x3000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, ALL_FILE);
    let h = k.CreateFileMappingW(f, None, PAGE_EXECUTE_READWRITE, 0, 0, None);
    let c = map(&mut k, h, FILE_MAP_COPY | FILE_MAP_EXECUTE, 0);
    assert_eq!(q(&mut k, c).5, PAGE_EXECUTE_WRITECOPY);
    k.write(c + 2 * P, b"x").unwrap();
    assert_eq!(q(&mut k, c), (c, c, PAGE_EXECUTE_WRITECOPY, 2 * P, MEM_COMMIT, PAGE_EXECUTE_WRITECOPY, MEM_MAPPED));
    assert_eq!(
        q(&mut k, c + 2 * P),
        (c + 2 * P, c, PAGE_EXECUTE_WRITECOPY, P, MEM_COMMIT, PAGE_EXECUTE_READWRITE, MEM_MAPPED)
    );
    assert_eq!(std::fs::read(&path).unwrap(), pattern(0x3000));
}

#[test]
fn copy_view_is_charged_for_its_whole_size_and_its_pages_vanish_on_unmap_f159() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f159", 0x10000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let h = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    let (commit, private) = (k.system().stats().commit_total, private_usage(&mut k));
    let shared = map(&mut k, h, FILE_MAP_WRITE, 0);
    assert_eq!(k.system().stats().commit_total, commit, "a shared file view charges nothing");
    assert_eq!(private_usage(&mut k), private);
    let c = map(&mut k, h, FILE_MAP_COPY, 0);
    assert_eq!(k.system().stats().commit_total, commit + 16);
    assert_eq!(private_usage(&mut k), private + 0x10000);
    k.write(c, b"copy").unwrap();
    k.write(c + 0x8000, b"copy").unwrap();
    assert_eq!(private_usage(&mut k), private + 0x10000, "copies were charged up front");
    assert_eq!(k.UnmapViewOfFile(c + 0x8000), TRUE);
    assert_eq!(k.system().stats().commit_total, commit);
    assert_eq!(private_usage(&mut k), private);
    let c = map(&mut k, h, FILE_MAP_COPY, 0);
    assert_eq!(read_vec(&mut k, c, 4), &pattern(4)[..], "the private pages are gone");
    assert_eq!(read_vec(&mut k, shared + 0x8000, 4), &pattern(0x8004)[0x8000..]);
}

/// Protecting shared view pages copy-on-write charges each page that could now become a copy
/// (NT's `MiSetProtectionOnSection`), range by range; protecting an unwritten one back gives
/// its charge back; a copy keeps it until the view goes.
#[test]
fn making_view_pages_copy_on_write_charges_each_page_f209() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, 4 * PAGE, None);
    let unmapped = k.system().stats().commit_total;
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    k.write(v + PAGE, b"shared").unwrap();
    let (commit, private) = (k.system().stats().commit_total, private_usage(&mut k));
    let charged = |k: &mut Kernel32| (k.system().stats().commit_total - commit, private_usage(k) - private);
    let mut old = 0;
    // Page 0, then page 1 (resident, shared), each charged when it becomes copy-on-write.
    assert_eq!(k.VirtualProtect(v, PAGE, PAGE_WRITECOPY, Some(&mut old)), TRUE);
    assert_eq!((old, charged(&mut k)), (PAGE_READWRITE, (1, 0x1000)));
    assert_eq!(k.VirtualProtect(v + PAGE, PAGE, PAGE_WRITECOPY, Some(&mut old)), TRUE);
    assert_eq!(charged(&mut k), (2, 0x2000), "the second range is charged too");
    // Already copy-on-write: nothing more.
    assert_eq!(k.VirtualProtect(v, 2 * PAGE, PAGE_WRITECOPY, Some(&mut old)), TRUE);
    assert_eq!(charged(&mut k), (2, 0x2000));
    // Both written: two copies, as charged.
    k.write(v, b"copy 0").unwrap();
    k.write(v + PAGE, b"copy 1").unwrap();
    assert_eq!(charged(&mut k), (2, 0x2000));
    assert_eq!(q(&mut k, v + PAGE).5, PAGE_READWRITE, "a copy (F158)");
    // Pages 2 and 3 made copy-on-write and back, unwritten: their charge comes back; the
    // copies keep theirs.
    assert_eq!(k.VirtualProtect(v + 2 * PAGE, 2 * PAGE, PAGE_WRITECOPY, Some(&mut old)), TRUE);
    assert_eq!(charged(&mut k), (4, 0x4000));
    assert_eq!(k.VirtualProtect(v, 4 * PAGE, PAGE_READONLY, Some(&mut old)), TRUE);
    assert_eq!(charged(&mut k), (2, 0x2000));
    assert_eq!(read_vec(&mut k, v + PAGE, 6), b"copy 1");
    assert_eq!(k.UnmapViewOfFile(v), TRUE);
    assert_eq!(private_usage(&mut k), private, "the copies' charge goes with the view");
    assert_eq!(k.system().stats().commit_total, unmapped, "and so do the view's page tables");
}

/// A protection whose copies the commit limit cannot cover is refused with
/// `ERROR_COMMITMENT_LIMIT`, and nothing changes (F209: NT charges before it changes a PTE).
#[test]
fn copy_on_write_past_the_commit_limit_is_refused_and_changes_nothing_f209() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, 16 * PAGE, None);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    k.write(v, b"shared").unwrap();
    // Leave fewer than 16 pages of commit (the allocation's page tables are charged too):
    // 16 copy-on-write pages need 16.
    let commit_left = |k: &mut Kernel32| {
        let s = k.system().stats();
        s.commit_limit - s.commit_total
    };
    let bulk = commit_left(&mut k) - commit_left(&mut k) / 256 - 64;
    assert_ne!(k.VirtualAlloc(0, bulk * PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE), 0, "{}", k.GetLastError());
    let rest = commit_left(&mut k) - 12;
    assert_ne!(k.VirtualAlloc(0, rest * PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE), 0, "{}", k.GetLastError());
    let s = k.system().stats();
    let left = s.commit_limit - s.commit_total;
    assert!((1..16).contains(&left), "{left} pages of commit left");
    let before = (s.commit_total, private_usage(&mut k), layout(&mut k));
    let mut old = 0;
    assert_eq!(k.VirtualProtect(v, 16 * PAGE, PAGE_WRITECOPY, Some(&mut old)), FALSE);
    assert_eq!(k.GetLastError(), ERROR_COMMITMENT_LIMIT);
    assert_eq!((k.system().stats().commit_total, private_usage(&mut k), layout(&mut k)), before);
    // As many as are left fit.
    assert_eq!(k.VirtualProtect(v, left * PAGE, PAGE_WRITECOPY, Some(&mut old)), TRUE, "{}", k.GetLastError());
    assert_eq!(k.system().stats().commit_total, before.0 + left);
}

#[test]
fn copy_view_in_another_process_stays_private_f159() {
    let (mut sys, parent) = setup();
    let child = sys.create_process("child").unwrap();
    let mut k = Kernel32::new(&mut sys, parent);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x1000, Some("f159"));
    let pv = map(&mut k, h, FILE_MAP_READ, 0);
    let mut k = Kernel32::new(&mut sys, child);
    let ch = k.OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, "f159");
    assert!(!ch.is_null());
    let copy = map(&mut k, ch, FILE_MAP_COPY, 0);
    k.write(copy, &0x1234_5678u32.to_le_bytes()).unwrap();
    assert_eq!(read_u32(&mut k, copy), 0x1234_5678);
    let mut k = Kernel32::new(&mut sys, parent);
    assert_eq!(read_u32(&mut k, pv), 0, "the parent's view stays 0");
    for access in [FILE_MAP_COPY | FILE_MAP_WRITE, FILE_MAP_READ | FILE_MAP_WRITE] {
        let mut k = Kernel32::new(&mut sys, child);
        let v = map(&mut k, ch, access, 0);
        assert_eq!(q(&mut k, v).5, PAGE_READWRITE);
        k.write(v + 4 * u64::from(access & 0xf), &access.to_le_bytes()).unwrap();
        let mut k = Kernel32::new(&mut sys, parent);
        assert_eq!(read_u32(&mut k, pv + 4 * u64::from(access & 0xf)), access, "a shared view: the parent sees it");
    }
}

#[test]
fn views_share_bytes_across_processes_f160() {
    let (mut sys, parent) = setup();
    let child = sys.create_process("child").unwrap();
    let mut k = Kernel32::new(&mut sys, parent);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x1000, Some("f160"));
    assert_eq!(k.GetLastError(), 0);
    let pv = map(&mut k, h, FILE_MAP_READ | FILE_MAP_WRITE, 0);
    k.write(pv, &0x1a2b_3c4du32.to_le_bytes()).unwrap();
    let mut k = Kernel32::new(&mut sys, child);
    let ch = pagefile(&mut k, PAGE_READWRITE, 0x1000, Some("f160"));
    assert_eq!(k.GetLastError(), ERROR_ALREADY_EXISTS);
    let cv = map(&mut k, ch, FILE_MAP_READ | FILE_MAP_WRITE, 0);
    assert_eq!(read_u32(&mut k, cv), 0x1a2b_3c4d);
    k.write(cv + 0x800, b"child").unwrap();
    let mut k = Kernel32::new(&mut sys, parent);
    assert_eq!(read_vec(&mut k, pv + 0x800, 5), b"child");
    // One frame serves both.
    let pa = k.MmGetPhysicalAddress(pv);
    let mut k = Kernel32::new(&mut sys, child);
    assert_eq!(k.MmGetPhysicalAddress(cv), pa);
}

#[test]
fn terminated_process_views_go_while_the_section_lives_on_f160_f168() {
    let (mut sys, parent) = setup();
    let child = sys.create_process("child").unwrap();
    let mut k = Kernel32::new(&mut sys, parent);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x2000, Some("f168"));
    let pv = map(&mut k, h, FILE_MAP_WRITE, 0);
    let process = k.OpenProcess(PROCESS_ALL_ACCESS, FALSE, u32::from(child));
    let mut k = Kernel32::new(&mut sys, child);
    let ch = k.OpenFileMappingW(FILE_MAP_WRITE, FALSE, "f168");
    let cv = map(&mut k, ch, FILE_MAP_WRITE, 0);
    k.write(cv + 0x1000, b"last words").unwrap();
    let _second = map(&mut k, ch, FILE_MAP_WRITE, 0);
    let mut k = Kernel32::new(&mut sys, parent);
    assert_eq!(k.TerminateProcess(process, 3), TRUE);
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    assert_eq!(k.VirtualQueryEx(process, cv, &mut info), 0, "the child's space is gone");
    assert_eq!(read_vec(&mut k, pv + 0x1000, 10), b"last words");
    assert_eq!(k.system().sections().sections().count(), 1);
    let again = k.OpenFileMappingW(FILE_MAP_READ, FALSE, "f168");
    assert!(!again.is_null(), "the name lives with the parent's handle");
    assert_eq!(k.CloseHandle(again), TRUE);
    // Now the other way round: the parent's handle goes first, its view keeps the section.
    assert_eq!(k.CloseHandle(h), TRUE);
    assert_eq!(k.system().sections().sections().count(), 1);
    assert_eq!(k.UnmapViewOfFile(pv), TRUE);
    assert_eq!(k.system().sections().sections().count(), 0);
    assert_eq!(k.system().segments().commit(), 0, "the section's pages went with it");
}

#[test]
fn pagefile_section_bytes_go_with_the_last_close_f160_f171() {
    let (mut sys, pid) = setup();
    let other = sys.create_process("other").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x3000, Some("gone"));
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    assert!(read_vec(&mut k, v, 0x3000).iter().all(|&b| b == 0), "pages start as zero");
    k.write(v + 0x2000, b"remember me").unwrap();
    assert_eq!(k.UnmapViewOfFile(v), TRUE);
    assert_eq!(k.CloseHandle(h), TRUE);
    let mut k = Kernel32::new(&mut sys, other);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x3000, Some("gone"));
    assert_eq!(k.GetLastError(), 0, "a new object");
    let v = map(&mut k, h, FILE_MAP_READ, 0);
    assert!(read_vec(&mut k, v, 0x3000).iter().all(|&b| b == 0));
}

#[test]
fn views_of_two_sections_on_one_file_are_coherent_f161() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f161", 0x4000);
    let (mut sys, pid) = setup();
    let other = sys.create_process("other").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    let f1 = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let f2 = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let s1 = k.CreateFileMappingW(f1, None, PAGE_READWRITE, 0, 0, None);
    let s2 = k.CreateFileMappingW(f2, None, PAGE_READWRITE, 0, 0, None);
    assert!(!s1.is_null() && !s2.is_null() && s1 != s2);
    let v1 = map(&mut k, s1, FILE_MAP_WRITE, 0);
    let v2 = map(&mut k, s2, FILE_MAP_WRITE, 0x2000);
    k.write(v1 + 0x100, b"one").unwrap();
    assert_eq!(read_vec(&mut k, v2 + 0x100, 3), b"one");
    k.write(v2 + 0x1100, b"two").unwrap();
    assert_eq!(read_vec(&mut k, v1 + 0x1100, 3), b"two");
    // A third process opens the file on its own and sees the same bytes.
    let mut k = Kernel32::new(&mut sys, other);
    let f3 = open(&mut k, &path, GENERIC_READ);
    let s3 = k.CreateFileMappingW(f3, None, PAGE_READONLY, 0, 0, None);
    let v3 = map(&mut k, s3, FILE_MAP_READ, 0);
    assert_eq!(read_vec(&mut k, v3 + 0x1100, 3), b"two");
    assert_eq!(read_vec(&mut k, v3 + 0x100, 3), b"one");
}

#[test]
fn views_and_read_file_write_file_agree_f161() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f161rw", 0x3000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let h = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    // A view's write is what ReadFile reads, before any write-back.
    k.write(v + 0x1ffe, b"span").unwrap();
    assert_eq!(k.SetFilePointerEx(f, 0x1ffe, None, FILE_BEGIN), TRUE);
    let mut buf = [0u8; 4];
    let mut n = 0;
    assert_eq!(k.ReadFile(f, &mut buf, &mut n), TRUE);
    assert_eq!((n, &buf), (4, b"span"));
    // WriteFile's bytes are what the view reads.
    assert_eq!(k.SetFilePointerEx(f, 0x2ffc, None, FILE_BEGIN), TRUE);
    assert_eq!(k.WriteFile(f, b"tail", &mut n), TRUE);
    assert_eq!(read_vec(&mut k, v + 0x2ffc, 4), b"tail");
    assert_eq!(k.SetFilePointerEx(f, 0x10, None, FILE_BEGIN), TRUE);
    assert_eq!(k.WriteFile(f, b"head", &mut n), TRUE);
    assert_eq!(read_vec(&mut k, v + 0x10, 4), b"head");
    // A second file handle sees the view's bytes too.
    let g = open(&mut k, &path, GENERIC_READ);
    assert_eq!(k.SetFilePointerEx(g, 0x1ffe, None, FILE_BEGIN), TRUE);
    assert_eq!(k.ReadFile(g, &mut buf, &mut n), TRUE);
    assert_eq!(&buf, b"span");
    assert_eq!(k.FlushViewOfFile(v, 0), TRUE);
    let disk = std::fs::read(&path).unwrap();
    assert_eq!((&disk[0x10..0x14], &disk[0x1ffe..0x2002], &disk[0x2ffc..]), (&b"head"[..], &b"span"[..], &b"tail"[..]));
}

#[test]
fn unmap_of_what_is_not_a_view_is_invalid_address_f164() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let a = k.VirtualAlloc(0, 0x10000, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x1000, None);
    let _v = map(&mut k, h, FILE_MAP_WRITE, 0);
    let before = snapshot(&mut k);
    for addr in [a, a + 0x3000, 0xdead_beef, 0, u64::MAX] {
        assert_eq!(k.UnmapViewOfFile(addr), FALSE, "{addr:#x}");
        assert_eq!(k.GetLastError(), ERROR_INVALID_ADDRESS);
    }
    assert_eq!(snapshot(&mut k), before);
    let s = Ntdll::new(&mut sys, pid).NtUnmapViewOfSection(NtCurrentProcess(), a + 0x3000);
    assert_eq!(s, STATUS_NOT_MAPPED_VIEW);
    assert_eq!(snapshot(&mut Kernel32::new(&mut sys, pid)), before);
}

#[test]
fn any_address_inside_a_view_unmaps_it_f165() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x3000, None);
    for off in [100, 4096, 4196, 0x2fff] {
        let v = map(&mut k, h, FILE_MAP_WRITE, 0);
        assert_eq!(k.UnmapViewOfFile(v + off), TRUE, "view+{off}");
        assert_eq!(q(&mut k, v).4, MEM_FREE);
    }
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    assert_eq!(k.UnmapViewOfFile2(k.GetCurrentProcess(), v + 0x1234, 0), TRUE);
    assert_eq!(q(&mut k, v).4, MEM_FREE);
}

#[test]
fn unmapped_range_is_free_and_unreadable_f166() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x3000, None);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    k.write(v, b"x").unwrap();
    assert_eq!(k.UnmapViewOfFile(v), TRUE);
    let (b, ab, ap, _, state, prot, ty) = q(&mut k, v);
    assert_eq!((b, ab, ap, state, prot, ty), (v, 0, 0, MEM_FREE, PAGE_NOACCESS, 0));
    let e = k.read(v, &mut [0u8; 1]).unwrap_err();
    assert_eq!(e.code, STATUS_ACCESS_VIOLATION);
    assert_eq!(k.UnmapViewOfFile(v), FALSE, "once only");
    assert_eq!(k.GetLastError(), ERROR_INVALID_ADDRESS);
    assert_eq!(k.system().segments().commit(), 3, "the section keeps its charge");
    // The section's bytes are still there for a new view.
    let w = map(&mut k, h, FILE_MAP_READ, 0);
    assert_eq!(read_vec(&mut k, w, 1), b"x");
}

#[test]
fn flush_writes_a_view_back_to_its_file_f167() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f167", 0x5000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let h = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    k.write(v + 0x1000, b"page one").unwrap();
    k.write(v + 0x4ff8, b"the end!").unwrap();
    // A range flush writes its pages.
    assert_eq!(k.FlushViewOfFile(v + 0x1004, 4), TRUE);
    assert_eq!(&std::fs::read(&path).unwrap()[0x1000..0x1008], b"page one");
    // Size 0 flushes from the address to the end of the view.
    assert_eq!(k.FlushViewOfFile(v + 0x2000, 0), TRUE);
    let mut want = pattern(0x5000);
    want[0x1000..0x1008].copy_from_slice(b"page one");
    want[0x4ff8..].copy_from_slice(b"the end!");
    assert_eq!(std::fs::read(&path).unwrap(), want);
    // NT: the range flushed is returned, page aligned.
    k.write(v + 0x3000, b"nt").unwrap();
    let (mut base, mut size) = (v + 0x3010, 0x1000);
    let mut io = IO_STATUS_BLOCK::default();
    let s = Ntdll::new(&mut sys, pid).NtFlushVirtualMemory(NtCurrentProcess(), &mut base, &mut size, &mut io);
    assert_eq!(s, STATUS_SUCCESS);
    assert_eq!((base, size), (v + 0x3000, 0x2000));
    assert_eq!(io.Status, STATUS_SUCCESS);
    want[0x3000..0x3002].copy_from_slice(b"nt");
    assert_eq!(std::fs::read(&path).unwrap(), want);
    let (mut base, mut size) = (v, 0x1000);
    let s = Ntdll::new(&mut sys, pid).NtFlushVirtualMemory(NtCurrentProcess(), &mut base, &mut size, &mut io);
    assert_eq!(s, STATUS_SUCCESS);
    assert_eq!((base, size), (v, 0x1000));
}

#[test]
fn flush_of_what_is_not_a_view_fails_and_changes_nothing_f167() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let a = k.VirtualAlloc(0, 0x10000, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    let before = snapshot(&mut k);
    for addr in [a, 0x7000_0000] {
        assert_eq!(k.FlushViewOfFile(addr, 0), FALSE, "{addr:#x}");
        assert_eq!(k.GetLastError(), ERROR_INVALID_ADDRESS);
    }
    assert_eq!(snapshot(&mut k), before);
}

#[test]
fn last_unmap_and_close_write_back_in_either_order_f167_f168() {
    let dir = tempfile::tempdir().unwrap();
    for (name, unmap_first) in [("unmap first", true), ("close first", false)] {
        let path = host_file(&dir, name, 0x3000);
        let (mut sys, pid) = setup();
        let mut k = Kernel32::new(&mut sys, pid);
        let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
        let h = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
        let v = map(&mut k, h, FILE_MAP_WRITE, 0);
        k.write(v + 0x2000, name.as_bytes()).unwrap();
        if unmap_first {
            assert_eq!(k.UnmapViewOfFile(v), TRUE);
            assert_eq!(k.system().sections().sections().count(), 1, "the handle holds it");
            assert_eq!(k.CloseHandle(h), TRUE);
            assert_eq!(k.CloseHandle(f), TRUE);
        } else {
            assert_eq!(k.CloseHandle(f), TRUE);
            assert_eq!(k.CloseHandle(h), TRUE);
            assert_eq!(k.system().sections().sections().count(), 1, "the view holds it");
            // The view still works and its file stays open without sharing restrictions.
            k.write(v, b"late").unwrap();
            let exclusive = k.CreateFileW(path.to_str().unwrap(), GENERIC_READ, 0, OPEN_EXISTING, 0);
            assert_ne!(exclusive, INVALID_HANDLE_VALUE, "{}", k.GetLastError());
            assert_eq!(k.CloseHandle(exclusive), TRUE);
            assert_eq!(k.UnmapViewOfFile(v), TRUE);
        }
        assert_eq!(k.system().sections().sections().count(), 0);
        let disk = std::fs::read(&path).unwrap();
        assert_eq!(&disk[0x2000..0x2000 + name.len()], name.as_bytes(), "{name}");
        if !unmap_first {
            assert_eq!(&disk[..4], b"late");
        }
    }
}

#[test]
fn nt_map_handle_errors_f169() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f169", 0x1000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ);
    let h = pagefile(&mut k, PAGE_READWRITE, 0x1000, None);
    let closed = pagefile(&mut k, PAGE_READWRITE, 0x1000, None);
    assert_eq!(k.CloseHandle(closed), TRUE);
    let before = snapshot(&mut k);
    let cases = [
        (h, null(), STATUS_INVALID_HANDLE),
        (h, 0xdead_beefusize as HANDLE, STATUS_INVALID_HANDLE),
        (null(), NtCurrentProcess(), STATUS_INVALID_HANDLE),
        (0xdead_beefusize as HANDLE, NtCurrentProcess(), STATUS_INVALID_HANDLE),
        (closed, NtCurrentProcess(), STATUS_INVALID_HANDLE),
        (INVALID_HANDLE_VALUE, NtCurrentProcess(), STATUS_OBJECT_TYPE_MISMATCH),
        (f, NtCurrentProcess(), STATUS_OBJECT_TYPE_MISMATCH),
    ];
    for (section, process, want) in cases {
        let (mut b, mut s) = (0, 0);
        let st = Ntdll::new(&mut sys, pid).NtMapViewOfSection(
            section,
            process,
            &mut b,
            0,
            0,
            None,
            &mut s,
            VIEW_SHARE,
            0,
            PAGE_READWRITE,
        );
        assert_eq!(st, want, "{section:?} in {process:?}: {}", status_name(st).unwrap_or("?"));
        assert_eq!((b, s), (0, 0));
    }
    let mut k = Kernel32::new(&mut sys, pid);
    for section in [null(), 0xdead_beefusize as HANDLE, closed, INVALID_HANDLE_VALUE, f] {
        assert_eq!(k.MapViewOfFile(section, FILE_MAP_READ, 0, 0, 0), 0);
        assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE, "{section:?}");
    }
    assert_eq!(snapshot(&mut k), before);
}

#[test]
fn nt_commit_size_rules_f170() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f170", 0x3000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let file = nt_section(&mut sys, pid, None, PAGE_READWRITE, SEC_COMMIT, f);
    let paged = nt_section(&mut sys, pid, Some(0x5_0000), PAGE_READWRITE, SEC_COMMIT, null());
    let before = snapshot(&mut Kernel32::new(&mut sys, pid));
    for (h, commit) in [(file, 500), (paged, u64::MAX), (paged, 0x1000_0000), (paged, 5 * G + 1)] {
        let (mut b, mut s) = (0, 0);
        let st = nt_map(&mut sys, pid, h, &mut b, commit, None, &mut s, 0, PAGE_READWRITE);
        assert_eq!(st, STATUS_INVALID_PARAMETER_5, "commit {commit:#x}");
        assert_eq!((b, s), (0, 0));
    }
    assert_eq!(snapshot(&mut Kernel32::new(&mut sys, pid)), before);
    let (mut b, mut s) = (0, 0);
    assert_eq!(nt_map(&mut sys, pid, file, &mut b, 500, None, &mut s, MEM_RESERVE, PAGE_READWRITE), STATUS_SUCCESS);
    assert_eq!(s, 0x3000);
    let (mut b, mut s) = (0, 0);
    assert_eq!(nt_map(&mut sys, pid, paged, &mut b, 500, None, &mut s, 0, PAGE_READWRITE), STATUS_SUCCESS);
    assert_eq!(s, 5 * G);
}

#[test]
fn copy_view_the_paging_file_cannot_hold_is_refused_f171() {
    let (mut sys, pid) = setup();
    let h = nt_section(&mut sys, pid, Some(8 << 30), PAGE_READWRITE, SEC_RESERVE, null());
    let mut k = Kernel32::new(&mut sys, pid);
    let stats = k.system().stats();
    assert!(stats.commit_limit - stats.commit_total < (8 << 30) / P, "the test needs a limit below 8 GiB");
    let before = snapshot(&mut k);
    assert_eq!(k.MapViewOfFile(h, FILE_MAP_COPY, 0, 0, 0), 0);
    assert_eq!(k.GetLastError(), ERROR_COMMITMENT_LIMIT);
    assert_eq!(snapshot(&mut k), before);
    // A shared view of the same section needs no commit.
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    assert_eq!(q(&mut k, v).4, MEM_RESERVE);
}

#[test]
fn bad_input_changes_nothing() {
    // F140, F141, F143, F164, F169 together, with views and allocations in place.
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "bad", 0x3000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let fs = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    let ps = pagefile(&mut k, PAGE_READWRITE, 0x20000, Some("bad"));
    let v = map(&mut k, fs, FILE_MAP_WRITE, 0);
    let w = map(&mut k, ps, FILE_MAP_WRITE, 0);
    k.write(v, b"keep").unwrap();
    let a = k.VirtualAlloc(0, 0x20000, MEM_RESERVE, PAGE_READWRITE);
    let event = k.CreateEventW(None, TRUE, FALSE, None);
    let before = snapshot(&mut k);
    let calls: [(HANDLE, u32, u32, u64, u64, u32); 10] = [
        (null(), FILE_MAP_READ, 0, 0, 0, ERROR_INVALID_HANDLE),
        (event, FILE_MAP_READ, 0, 0, 0, ERROR_INVALID_HANDLE),
        (f, FILE_MAP_READ, 0, 0, 0, ERROR_INVALID_HANDLE),
        (fs, FILE_MAP_READ, 0, 0x3001, 0, ERROR_ACCESS_DENIED),
        (ps, FILE_MAP_READ, 0x10000, 0x10001, 0, ERROR_ACCESS_DENIED),
        (ps, FILE_MAP_READ, 0x1000, 0, 0, ERROR_MAPPED_ALIGNMENT),
        (ps, FILE_MAP_READ, 0, 0, 0x3000_8000, ERROR_MAPPED_ALIGNMENT),
        (ps, FILE_MAP_READ, 0, 0, w, ERROR_INVALID_ADDRESS),
        (ps, FILE_MAP_READ, 0, 0, a + 0x10000, ERROR_INVALID_ADDRESS),
        (ps, FILE_MAP_WRITE | FILE_MAP_EXECUTE, 0, 0, 0, ERROR_ACCESS_DENIED),
    ];
    for (h, access, offset, size, base, err) in calls {
        assert_eq!(k.MapViewOfFileEx(h, access, 0, offset, size, base), 0, "{h:?} {access:#x} {offset:#x}");
        assert_eq!(k.GetLastError(), err, "{h:?} {access:#x} {offset:#x} {size:#x} {base:#x}");
        assert_eq!(snapshot(&mut k), before);
    }
    assert_eq!(k.UnmapViewOfFile(a), FALSE);
    assert_eq!(k.UnmapViewOfFile2(k.GetCurrentProcess(), v, MEM_PRESERVE_PLACEHOLDER), FALSE);
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
    assert_eq!(k.UnmapViewOfFile2(0xdead_beefusize as HANDLE, v, 0), FALSE);
    assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE);
    assert_eq!(snapshot(&mut k), before);
    assert_eq!(read_vec(&mut k, v, 4), b"keep");
    assert_eq!(std::fs::read(&path).unwrap(), pattern(0x3000), "nothing written back yet");
}

#[test]
fn mem_reset_over_a_pagefile_view_returns_its_base_f44() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE | SEC_COMMIT, MIB, None);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    k.write(v, b"old").unwrap();
    assert_eq!(k.VirtualAlloc(v, MIB, MEM_RESET, PAGE_NOACCESS), v);
    // SEC_RESERVE with only its first 64 KiB committed: the same.
    let r = pagefile(&mut k, PAGE_READWRITE | SEC_RESERVE, MIB, None);
    let w = map(&mut k, r, FILE_MAP_WRITE, 0);
    assert_eq!(k.VirtualAlloc(w, G, MEM_COMMIT, PAGE_READWRITE), w);
    assert_eq!(k.VirtualAlloc(w, MIB, MEM_RESET, PAGE_NOACCESS), w);
    // The contents are no longer needed: after the working set is emptied and memory is
    // squeezed the page may read zero, but it is never anything else.
    assert_eq!(k.EmptyWorkingSet(k.GetCurrentProcess()), TRUE);
    assert_eq!(k.system().stats().modified_pages, 0, "a reset page is trimmed clean, not to be written");
    let got = read_vec(&mut k, v, 3);
    assert!(got == b"old" || got == [0, 0, 0], "{got:?}");
    // A data file's view cannot be reset.
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f.bin", 0x2000);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let fh = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    let fv = map(&mut k, fh, FILE_MAP_WRITE, 0);
    let before = snapshot(&mut k);
    assert_eq!(k.VirtualAlloc(fv, 0x1000, MEM_RESET, PAGE_NOACCESS), 0);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    assert_eq!(snapshot(&mut k), before);
}

#[test]
fn mem_reset_over_a_copied_page_leaves_the_sections_page_to_the_other_views_f44() {
    // Found by the soak (seed 135, 6 processes): a MEM_RESET over a FILE_MAP_COPY view reset the
    // section's page under a page the process had copied, so that once squeezed out of memory
    // the page read zero through every other view, where nothing had reset it. The reset acts
    // on what the process's own PTEs map: its copy, which it may keep or drop (V17).
    let dir = tempfile::tempdir().unwrap();
    let cfg = ntmem::Config::default().with_invariant_checks().with_ram_bytes(4 * MIB).with_page_file(
        dir.path().join("pagefile.sys"),
        4 * MIB,
        16 * MIB,
    );
    let mut sys = System::new(cfg).unwrap();
    let pid = sys.create_process("test").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE | SEC_COMMIT, G, None);
    let shared = map(&mut k, h, FILE_MAP_WRITE, 0);
    let copy = map(&mut k, h, FILE_MAP_COPY, 0);
    k.write(shared, b"kept").unwrap();
    // The section's page clean, with its copy in the page file, and mapped again.
    assert_eq!(k.EmptyWorkingSet(k.GetCurrentProcess()), TRUE);
    assert!(sys.write_modified_pages() >= 1, "the modified page writer wrote the page");
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(read_vec(&mut k, shared, 4), b"kept");
    // The copy view's page becomes the process's own, then is reset.
    k.write(copy, b"mine").unwrap();
    assert_eq!(k.VirtualAlloc(copy, G, MEM_RESET, PAGE_NOACCESS), copy);
    // Squeezed: every standby frame is reused.
    assert_eq!(k.EmptyWorkingSet(k.GetCurrentProcess()), TRUE);
    let squeeze = k.VirtualAlloc(0, 8 * MIB, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(squeeze, 0, "{}", k.GetLastError());
    for page in 0..8 * MIB / P {
        k.write(squeeze + page * P, &[1]).unwrap();
    }
    assert_eq!(k.VirtualFree(squeeze, 0, MEM_RELEASE), TRUE);
    assert_eq!(read_vec(&mut k, shared, 4), b"kept", "the section's page, which nothing reset");
    let mine = read_vec(&mut k, copy, 4);
    assert!(mine == b"mine" || mine == [0; 4], "the reset copy reads its bytes or zero: {mine:?}");
}

#[test]
fn virtual_free_cannot_decommit_or_release_a_view_f68() {
    let (mut sys, pid) = setup();
    for sec in [SEC_COMMIT, SEC_RESERVE] {
        let mut k = Kernel32::new(&mut sys, pid);
        let h = pagefile(&mut k, PAGE_READWRITE | sec, MIB, None);
        let v = map(&mut k, h, FILE_MAP_WRITE, 0);
        if sec == SEC_RESERVE {
            assert_eq!(k.VirtualAlloc(v, G, MEM_COMMIT, PAGE_READWRITE), v);
        }
        let before = snapshot(&mut k);
        assert_eq!(k.VirtualFree(v, G, MEM_DECOMMIT), FALSE);
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
        assert_eq!(k.VirtualFree(v, 0, MEM_RELEASE), FALSE);
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
        assert_eq!(snapshot(&mut k), before);
        let mut nt = Ntdll::new(&mut sys, pid);
        let (mut base, mut size) = (v, P);
        assert_eq!(
            nt.NtFreeVirtualMemory(NtCurrentProcess(), &mut base, &mut size, MEM_DECOMMIT),
            STATUS_UNABLE_TO_DELETE_SECTION
        );
        let (mut base, mut size) = (v, 0);
        assert_eq!(
            nt.NtFreeVirtualMemory(NtCurrentProcess(), &mut base, &mut size, MEM_RELEASE),
            STATUS_UNABLE_TO_DELETE_SECTION
        );
    }
}

#[test]
fn view_commit_refused_at_the_commit_limit_changes_nothing_f157() {
    // Found by the soak (seed 45): committing a SEC_RESERVE page through a view with a
    // protection of its own needs the PTE's page table, which is charged too. When that charge
    // meets the commit limit, the call fails and the section page stays reserved: the commit
    // taken for it first is given back.
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE | SEC_RESERVE, MIB, None);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    // Fill commit to one page below the limit: a SEC_COMMIT section is charged exactly its
    // pages, with no page tables.
    let stats = k.system().stats();
    let filler = pagefile(&mut k, PAGE_READWRITE, (stats.commit_limit - stats.commit_total - 1) * P, None);
    assert_eq!(k.system().stats().commit_limit - k.system().stats().commit_total, 1);
    let before = snapshot(&mut k);
    assert_eq!(k.VirtualAlloc(v + 0x2000, 3303, MEM_COMMIT, PAGE_NOACCESS), 0);
    assert_eq!(k.GetLastError(), ERROR_COMMITMENT_LIMIT);
    assert_eq!(snapshot(&mut k), before);
    let e = k.read(v + 0x2000, &mut [0u8; 1]).unwrap_err();
    assert_eq!(e.code, STATUS_ACCESS_VIOLATION, "the page is still reserved");
    // With room for the table as well, the same call commits the page.
    assert_eq!(k.CloseHandle(filler), TRUE);
    assert_eq!(k.VirtualAlloc(v + 0x2000, 3303, MEM_COMMIT, PAGE_NOACCESS), v + 0x2000);
    assert_eq!(q(&mut k, v + 0x2000), (v + 0x2000, v, PAGE_READWRITE, P, MEM_COMMIT, PAGE_NOACCESS, MEM_MAPPED));
    assert_eq!(k.system().segments().commit(), 1);
}

#[test]
fn touching_a_view_at_the_commit_limit_succeeds_f138() {
    // A committed view page is there to be touched whatever the commit charge: the page table
    // the first touch needs is a must-succeed charge, as NT's page-table pages are. Found by
    // the soak (seed 2): this raised STATUS_NO_MEMORY.
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = pagefile(&mut k, PAGE_READWRITE, MIB, None);
    let v = map(&mut k, h, FILE_MAP_WRITE, 0);
    let stats = k.system().stats();
    let _filler = pagefile(&mut k, PAGE_READWRITE, (stats.commit_limit - stats.commit_total) * P, None);
    assert_eq!(k.system().stats().commit_total, k.system().stats().commit_limit);
    k.write(v + 0x3000, b"at the limit").unwrap();
    assert_eq!(read_vec(&mut k, v + 0x3000, 12), b"at the limit");
    let stats = k.system().stats();
    assert!(stats.commit_total > stats.commit_limit, "the page table was charged past the limit");
    // What is over the limit is room no refusable charge gets.
    assert_eq!(k.VirtualAlloc(0, P, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE), 0);
    assert_eq!(k.GetLastError(), ERROR_COMMITMENT_LIMIT);
    let mut m = MEMORYSTATUSEX { dwLength: std::mem::size_of::<MEMORYSTATUSEX>() as u32, ..Default::default() };
    assert_eq!(k.GlobalMemoryStatusEx(&mut m), TRUE);
    assert_eq!(m.ullAvailPageFile, 0);
}
