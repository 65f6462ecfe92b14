//! Scenario tests through `Kernel32` / `Ntdll` for image sections (issue 7, items 7 and 8):
//! facts F130, F131, F132, F162, F163 and F209, with real PE files written by `ntmem::pe::PeBuilder`.
//!
//! What each test asserts is what Windows shows, checked against Wine's
//! `dlls/kernel32/tests/virtual.c` (`test_mapping` with `SEC_IMAGE`, `test_CreateFileMapping`),
//! `dlls/kernel32/tests/loader.c` (the section queries of its images),
//! `dlls/ntdll/tests/virtual.c` (`test_NtMapViewOfSection`) and ReactOS
//! `apitests/ntdll/NtMapViewOfSection.c` (`Test_ImageSection`). Bad input changes nothing:
//! the tests compare the machine's figures before and after.
//!
//! Every test runs with the core's invariant checker on.

#![allow(non_snake_case)]
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use ntmem::pe::{pattern, BuiltPe, PeBuilder, PeSection};
use ntmem::section::ImageMachine;
use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;
use std::path::{Path, PathBuf};

const BASE: u64 = 0x1_8000_0000;
const P: u64 = 0x1000;
const BASIC_LEN: u32 = std::mem::size_of::<SECTION_BASIC_INFORMATION>() as u32;
const IMAGE_LEN: u32 = std::mem::size_of::<SECTION_IMAGE_INFORMATION>() as u32;

fn setup(processes: usize) -> (System, Vec<ProcessId>) {
    let mut sys = System::new(Config::default().with_invariant_checks()).unwrap();
    let pids = (0..processes).map(|i| sys.create_process(&format!("p{i}")).unwrap()).collect();
    (sys, pids)
}

fn null() -> HANDLE {
    std::ptr::null_mut()
}

fn file(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn dll(dir: &tempfile::TempDir, builder: &PeBuilder) -> (PathBuf, BuiltPe) {
    let built = builder.build().unwrap();
    (file(dir, "test.dll", built.bytes()), built)
}

fn open(k: &mut Kernel32, path: &Path, access: u32) -> HANDLE {
    let f = k.CreateFileW(path.to_str().unwrap(), access, FILE_SHARE_READ | FILE_SHARE_WRITE, OPEN_EXISTING, 0);
    assert_ne!(f, INVALID_HANDLE_VALUE, "CreateFileW: {}", k.GetLastError());
    f
}

/// `CreateFileMappingW(SEC_IMAGE | PAGE_READONLY)` of the file at `path`; the file handle closed.
fn image_section(sys: &mut System, pid: ProcessId, path: &Path) -> HANDLE {
    let mut k = Kernel32::new(sys, pid);
    let f = open(&mut k, path, GENERIC_READ | GENERIC_EXECUTE);
    let h = k.CreateFileMappingW(f, None, SEC_IMAGE | PAGE_READONLY, 0, 0, None);
    assert!(!h.is_null(), "CreateFileMappingW(SEC_IMAGE): {}", k.GetLastError());
    assert_eq!(k.CloseHandle(f), TRUE);
    h
}

/// `NtMapViewOfSection` into `process` (as seen from `pid`) at `base` (0: anywhere).
fn nt_map(sys: &mut System, pid: ProcessId, section: HANDLE, process: HANDLE, base: u64) -> (NTSTATUS, u64, u64) {
    let (mut base, mut size) = (base, 0u64);
    let s = Ntdll::new(sys, pid).NtMapViewOfSection(
        section,
        process,
        &mut base,
        0,
        0,
        None,
        &mut size,
        VIEW_SHARE,
        0,
        PAGE_READONLY,
    );
    (s, base, size)
}

fn query(sys: &mut System, pid: ProcessId, addr: u64) -> MEMORY_BASIC_INFORMATION64 {
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    assert_ne!(Kernel32::new(sys, pid).VirtualQuery(addr, &mut info), 0);
    info
}

fn read_u64(sys: &mut System, pid: ProcessId, addr: u64) -> u64 {
    let mut b = [0u8; 8];
    Kernel32::new(sys, pid).read(addr, &mut b).unwrap();
    u64::from_le_bytes(b)
}

fn read_byte(sys: &mut System, pid: ProcessId, addr: u64) -> u8 {
    let mut b = [0u8; 1];
    Kernel32::new(sys, pid).read(addr, &mut b).unwrap();
    b[0]
}

/// What bad input must leave as it was.
#[derive(Debug, PartialEq, Eq)]
struct Figures {
    segments: usize,
    commit: u64,
    active: u64,
    free: u64,
}

fn figures(sys: &System) -> Figures {
    let s = sys.stats();
    Figures {
        segments: sys.segments().iter().count(),
        commit: s.commit_total,
        active: s.active_pages,
        free: s.free_pages,
    }
}

/// The image's frames: those its segment's prototype PTEs hold.
fn image_frames(sys: &System) -> Vec<ntmem::units::Pfn> {
    let (_, segment) = sys.segments().iter().find(|(_, s)| s.image().is_some()).unwrap();
    (0..segment.pages()).filter_map(|p| segment.prototype(p).and_then(|p| p.frame())).collect()
}

/// Reads one byte of every committed page of the view at `base`; the pages read.
fn touch_all(sys: &mut System, pid: ProcessId, base: u64) -> u64 {
    let (mut at, mut pages) = (base, 0);
    loop {
        let mut q = MEMORY_BASIC_INFORMATION64::default();
        if Kernel32::new(sys, pid).VirtualQuery(at, &mut q) == 0 || q.AllocationBase != base {
            return pages;
        }
        if q.State == MEM_COMMIT {
            for p in (0..q.RegionSize).step_by(P as usize) {
                read_byte(sys, pid, at + p);
                pages += 1;
            }
        }
        at += q.RegionSize;
    }
}

// ---------------------------------------------------------------------------------------------
// F130, F131, F163: what is an image, and what is not

#[test]
fn not_mz_not_pe_and_truncated_files_are_bad_exe_format_and_change_nothing_f130() {
    let dir = tempfile::tempdir().unwrap();
    let good = PeBuilder::dll(BASE).build().unwrap();
    let mut dos = vec![0u8; 4096];
    dos[..2].copy_from_slice(b"MZ"); // e_lfanew 0: no PE header where it points
    let truncated = &good.bytes()[..good.bytes().len() - 1];
    let pe32_amd64 = PeBuilder::dll(0x1000_0000).pe32().machine(ImageMachine::AMD64).build().unwrap();
    let pe32plus_i386 = PeBuilder::dll(BASE).machine(ImageMachine::I386).build().unwrap();
    let cases: [(&str, &[u8], NTSTATUS); 5] = [
        ("text", b"hello, world, this is not an executable", STATUS_INVALID_IMAGE_NOT_MZ),
        ("dos", &dos, STATUS_INVALID_IMAGE_PROTECT),
        ("truncated", truncated, STATUS_INVALID_IMAGE_FORMAT),
        ("pe32 amd64", pe32_amd64.bytes(), STATUS_INVALID_IMAGE_FORMAT),
        ("pe32+ i386", pe32plus_i386.bytes(), STATUS_INVALID_IMAGE_FORMAT),
    ];
    let (mut sys, pids) = setup(1);
    let pid = pids[0];
    for (i, (what, bytes, status)) in cases.into_iter().enumerate() {
        let path = file(&dir, &format!("bad{i}.dll"), bytes);
        let mut k = Kernel32::new(&mut sys, pid);
        let f = open(&mut k, &path, GENERIC_READ | GENERIC_EXECUTE);
        let before = figures(&sys);
        let mut k = Kernel32::new(&mut sys, pid);
        k.SetLastError(0xdead_beef);
        let h = k.CreateFileMappingW(f, None, SEC_IMAGE | PAGE_READONLY, 0, 0, None);
        assert!(h.is_null(), "{what}");
        assert_eq!(k.GetLastError(), ERROR_BAD_EXE_FORMAT, "{what}");
        let mut section = 7usize as HANDLE;
        let s = Ntdll::new(&mut sys, pid).NtCreateSection(
            &mut section,
            SECTION_ALL_ACCESS,
            None,
            None,
            PAGE_READONLY,
            SEC_IMAGE,
            f,
        );
        assert_eq!(s, status, "{what}: {}", status_name(s).unwrap_or("?"));
        assert_eq!(section, 7usize as HANDLE, "{what}: the handle is written on success only");
        assert_eq!(figures(&sys), before, "{what}: nothing changes");
        // The same file as data maps as ever (F130: only SEC_IMAGE parses it).
        let mut k = Kernel32::new(&mut sys, pid);
        let data = k.CreateFileMappingW(f, None, PAGE_READONLY, 0, 0, None);
        assert!(!data.is_null(), "{what}: as data");
        assert_eq!(k.CloseHandle(data), TRUE);
        assert_eq!(k.CloseHandle(f), TRUE);
    }
}

#[test]
fn sec_image_flags_with_a_pe_file_f131() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = dll(&dir, &PeBuilder::dll(BASE));
    let (mut sys, pids) = setup(1);
    let pid = pids[0];
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_EXECUTE);
    let before = figures(&sys);
    let mut k = Kernel32::new(&mut sys, pid);
    for flags in [SEC_FILE, SEC_LARGE_PAGES, SEC_WRITECOMBINE, SEC_RESERVE, SEC_COMMIT] {
        k.SetLastError(0xdead_beef);
        let h = k.CreateFileMappingW(f, None, SEC_IMAGE | flags | PAGE_READONLY, 0, 0, None);
        assert!(h.is_null(), "SEC_IMAGE | {flags:#x}");
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER, "SEC_IMAGE | {flags:#x}");
    }
    assert_eq!(figures(&sys), before);
    // SEC_IMAGE, and SEC_IMAGE | SEC_NOCACHE with NOCACHE dropped: SEC_FILE | SEC_IMAGE.
    for flags in [SEC_IMAGE, SEC_IMAGE | SEC_NOCACHE] {
        let mut k = Kernel32::new(&mut sys, pid);
        let h = k.CreateFileMappingW(f, None, flags | PAGE_READONLY, 0, 0, None);
        assert!(!h.is_null(), "{flags:#x}: {}", k.GetLastError());
        let mut info = SECTION_BASIC_INFORMATION::default();
        let s =
            Ntdll::new(&mut sys, pid).NtQuerySection(h, SECTION_BASIC_INFORMATION_CLASS, &mut info, BASIC_LEN, None);
        assert_eq!(s, STATUS_SUCCESS);
        assert_eq!(info.AllocationAttributes, SEC_FILE | SEC_IMAGE, "{flags:#x}");
        assert_eq!(Kernel32::new(&mut sys, pid).CloseHandle(h), TRUE);
    }
}

#[test]
fn section_queries_of_an_image_report_its_headers_f131_f132() {
    let dir = tempfile::tempdir().unwrap();
    // 1 + 3 + 1 + 2 pages and a .reloc page: SizeOfImage 0x8000.
    let (path, built) =
        dll(&dir, &PeBuilder::dll(BASE).text_size(0x2800).pointer(PeSection::Data, 0, PeSection::Text, 0));
    let (mut sys, pids) = setup(1);
    let pid = pids[0];
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_EXECUTE);
    let h = k.CreateFileMappingW(f, None, SEC_IMAGE | PAGE_READONLY, 0, 0, Some("image"));
    assert!(!h.is_null());
    let no_query = k.OpenFileMappingW(FILE_MAP_READ, FALSE, "image");
    assert!(!no_query.is_null());
    let mut nt = Ntdll::new(&mut sys, pid);

    // F132: basic information — no base, SEC_FILE | SEC_IMAGE, the image's size in pages.
    let mut basic = SECTION_BASIC_INFORMATION { BaseAddress: 7, AllocationAttributes: 7, MaximumSize: 7 };
    let mut len = 0;
    let s = nt.NtQuerySection(h, SECTION_BASIC_INFORMATION_CLASS, &mut basic, BASIC_LEN, Some(&mut len));
    assert_eq!(s, STATUS_SUCCESS);
    assert_eq!(
        basic,
        SECTION_BASIC_INFORMATION { BaseAddress: 0, AllocationAttributes: SEC_FILE | SEC_IMAGE, MaximumSize: 0x8000 }
    );
    assert_eq!(len, BASIC_LEN);

    // F131: image information, from the headers PeBuilder writes.
    let mut image = SECTION_IMAGE_INFORMATION { TransferAddress: 7, ..Default::default() };
    let untouched = image;
    let class = SECTION_IMAGE_INFORMATION_CLASS;
    assert_eq!(nt.NtQuerySection(h, class, &mut image, IMAGE_LEN - 1, None), STATUS_INFO_LENGTH_MISMATCH);
    assert_eq!(nt.NtQuerySection(no_query, class, &mut image, IMAGE_LEN, None), STATUS_ACCESS_DENIED);
    assert_eq!(nt.NtQuerySection(null(), class, &mut image, IMAGE_LEN, None), STATUS_INVALID_HANDLE);
    assert_eq!(image, untouched, "nothing written on failure");
    // A basic structure is too short for image information, whatever length is claimed.
    assert_eq!(nt.NtQuerySection(h, class, &mut basic, IMAGE_LEN, None), STATUS_INFO_LENGTH_MISMATCH);
    let mut len = 0;
    assert_eq!(nt.NtQuerySection(h, class, &mut image, IMAGE_LEN + 1, Some(&mut len)), STATUS_SUCCESS);
    assert_eq!(len, IMAGE_LEN);
    assert_eq!(
        image,
        SECTION_IMAGE_INFORMATION {
            TransferAddress: BASE, // no entry point: ImageBase + 0
            ZeroBits: 0,
            MaximumStackSize: 0x10_0000,
            CommittedStackSize: 0x1000,
            SubSystemType: 2, // IMAGE_SUBSYSTEM_WINDOWS_GUI
            SubSystemMinorVersion: 0,
            SubSystemMajorVersion: 6,
            MajorOperatingSystemVersion: 6,
            MinorOperatingSystemVersion: 0,
            // IMAGE_FILE_EXECUTABLE_IMAGE | IMAGE_FILE_LARGE_ADDRESS_AWARE | IMAGE_FILE_DLL
            ImageCharacteristics: 0x2022,
            // DYNAMIC_BASE | NX_COMPAT | HIGH_ENTROPY_VA
            DllCharacteristics: 0x0160,
            Machine: 0x8664,
            ImageContainsCode: 1,
            ImageFlags: 0,
            LoaderFlags: 0,
            ImageFileSize: built.bytes().len() as u32,
            CheckSum: 0,
        }
    );
    // A WoW64 DLL reports its machine.
    let wow = PeBuilder::dll(0x1000_0000).pe32().build().unwrap();
    let wow_path = file(&dir, "wow.dll", wow.bytes());
    let wow_section = image_section(&mut sys, pid, &wow_path);
    let mut image = SECTION_IMAGE_INFORMATION::default();
    let s = Ntdll::new(&mut sys, pid).NtQuerySection(wow_section, class, &mut image, IMAGE_LEN, None);
    assert_eq!(s, STATUS_SUCCESS);
    assert_eq!(
        (image.Machine, image.TransferAddress, image.ImageFileSize),
        (0x014C, 0x1000_0000, wow.bytes().len() as u32)
    );
    assert_eq!(image.ImageCharacteristics & 0x0100, 0x0100, "IMAGE_FILE_32BIT_MACHINE");
}

// ---------------------------------------------------------------------------------------------
// F162: image views

#[test]
fn an_image_section_keeps_the_size_asked_up_to_the_image_s_and_still_maps_it_whole_f206() {
    let dir = tempfile::tempdir().unwrap();
    // SizeOfImage 0x8000, as in the test above.
    let (path, _) = dll(&dir, &PeBuilder::dll(BASE).text_size(0x2800).pointer(PeSection::Data, 0, PeSection::Text, 0));
    let (mut sys, pids) = setup(1);
    let pid = pids[0];
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE);
    let create = |nt: &mut Ntdll, size: Option<i64>, protect: u32| {
        let mut h = null();
        let s = nt.NtCreateSection(&mut h, SECTION_ALL_ACCESS, None, size.as_ref(), protect, SEC_IMAGE, f);
        (s, h)
    };
    let size_of = |nt: &mut Ntdll, h: HANDLE| {
        let mut basic = SECTION_BASIC_INFORMATION::default();
        assert_eq!(nt.NtQuerySection(h, SECTION_BASIC_INFORMATION_CLASS, &mut basic, BASIC_LEN, None), STATUS_SUCCESS);
        assert_eq!(basic.AllocationAttributes, SEC_FILE | SEC_IMAGE);
        basic.MaximumSize
    };
    // ReactOS NtQuerySection.c: 42 reports 42; MmSection.c: 1 reports 1; no size (or 0) the
    // image's size; the image's own size is accepted as it is.
    for (asked, reported) in [(Some(42), 42), (Some(1), 1), (None, 0x8000), (Some(0), 0x8000), (Some(0x8000), 0x8000)] {
        let mut nt = Ntdll::new(&mut sys, pid);
        let (s, h) = create(&mut nt, asked, PAGE_EXECUTE_READ);
        assert_eq!(s, STATUS_SUCCESS, "{asked:?}");
        assert_eq!(size_of(&mut nt, h), reported, "{asked:?}");
        assert_eq!(Kernel32::new(&mut sys, pid).CloseHandle(h), TRUE);
    }
    // An image view maps the whole image whatever size the section keeps.
    let (s, h) = create(&mut Ntdll::new(&mut sys, pid), Some(42), PAGE_EXECUTE_READ);
    assert_eq!(s, STATUS_SUCCESS);
    let (s, base, view) = nt_map(&mut sys, pid, h, NtCurrentProcess(), 0);
    assert_eq!((s, base, view), (STATUS_SUCCESS, BASE, 0x8000));
    assert_eq!(query(&mut sys, pid, BASE + 0x7000).AllocationBase, BASE);

    // Larger than the image: WRK MmCreateSection refuses it with STATUS_SECTION_TOO_BIG
    // (ReactOS ZwCreateSection.c: MaximumSize -1, PAGE_EXECUTE_READ), unless the protection is
    // read-write, when NT makes the section and then cannot extend an image. Nothing changes.
    let before = figures(&sys);
    let mut nt = Ntdll::new(&mut sys, pid);
    for (asked, protect, status) in [
        (0x8001, PAGE_EXECUTE_READ, STATUS_SECTION_TOO_BIG),
        (-1, PAGE_EXECUTE_READ, STATUS_SECTION_TOO_BIG),
        (0x8001, PAGE_READONLY, STATUS_SECTION_TOO_BIG),
        (0x8001, PAGE_WRITECOPY, STATUS_SECTION_TOO_BIG),
        (0x8001, PAGE_EXECUTE_WRITECOPY, STATUS_SECTION_TOO_BIG),
        (0x8001, PAGE_READWRITE, STATUS_SECTION_NOT_EXTENDED),
        (0x1_0000, PAGE_EXECUTE_READWRITE, STATUS_SECTION_NOT_EXTENDED),
    ] {
        let (s, h) = create(&mut nt, Some(asked), protect);
        assert_eq!((s, h), (status, null()), "{asked:#x} {protect:#x}");
    }
    // Through CreateFileMapping: ERROR_NOT_ENOUGH_MEMORY and ERROR_OUTOFMEMORY.
    let mut k = Kernel32::new(&mut sys, pid);
    assert!(k.CreateFileMappingW(f, None, SEC_IMAGE | PAGE_READONLY, 0, 0x8001, None).is_null());
    assert_eq!(k.GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    assert!(k.CreateFileMappingW(f, None, SEC_IMAGE | PAGE_READWRITE, 0, 0x8001, None).is_null());
    assert_eq!(k.GetLastError(), ERROR_OUTOFMEMORY);
    let h = k.CreateFileMappingW(f, None, SEC_IMAGE | PAGE_READONLY, 0, 0x2345, None);
    assert!(!h.is_null());
    assert_eq!(size_of(&mut Ntdll::new(&mut sys, pid), h), 0x2345);
    assert_eq!(Kernel32::new(&mut sys, pid).CloseHandle(h), TRUE);
    assert_eq!(figures(&sys), before);
}

#[test]
fn an_image_view_is_mem_image_with_each_section_s_protection_whatever_access_is_asked_f162() {
    let dir = tempfile::tempdir().unwrap();
    let builder = PeBuilder::dll(BASE).text_size(0x3000).pointer(PeSection::Rdata, 0x10, PeSection::Data, 0);
    let (path, built) = dll(&dir, &builder);
    let (mut sys, pids) = setup(1);
    let pid = pids[0];
    // Through kernelbase: the handle's rights follow the section's protection (F135), and
    // every view it allows is the image's.
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_EXECUTE);
    let h = k.CreateFileMappingW(f, None, SEC_IMAGE | PAGE_EXECUTE_READ, 0, 0, None);
    assert!(!h.is_null());
    assert_eq!(k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0), 0, "no SECTION_MAP_WRITE in the handle");
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    // Through ntdll with every right: any protection asked, the image's protections.
    let mut all = null();
    let s = Ntdll::new(&mut sys, pid).NtCreateSection(
        &mut all,
        SECTION_ALL_ACCESS,
        None,
        None,
        PAGE_READONLY,
        SEC_IMAGE,
        f,
    );
    assert_eq!(s, STATUS_SUCCESS);
    let rva = |s| BASE + u64::from(built.rva(s).unwrap());
    let kernel32 = [FILE_MAP_READ, FILE_MAP_COPY, FILE_MAP_READ | FILE_MAP_EXECUTE];
    let ntdll = [PAGE_READWRITE, PAGE_EXECUTE_READWRITE, PAGE_NOACCESS, PAGE_EXECUTE];
    for case in 0..kernel32.len() + ntdll.len() {
        let (v, access) = if let Some(&access) = kernel32.get(case) {
            let mut k = Kernel32::new(&mut sys, pid);
            let v = k.MapViewOfFile(h, access, 0, 0, 0);
            assert_eq!(v, BASE, "FILE_MAP {access:#x}: {}", k.GetLastError());
            (v, access)
        } else {
            let protect = ntdll[case - kernel32.len()];
            let (mut v, mut size) = (0, 0);
            let s = Ntdll::new(&mut sys, pid).NtMapViewOfSection(
                all,
                NtCurrentProcess(),
                &mut v,
                0,
                0,
                None,
                &mut size,
                VIEW_SHARE,
                0,
                protect,
            );
            assert_eq!((s, v), (STATUS_SUCCESS, BASE), "PAGE {protect:#x}");
            (v, protect)
        };
        let region = |sys: &mut System, addr| {
            let q = query(sys, pid, addr);
            assert_eq!(
                (q.AllocationBase, q.AllocationProtect, q.Type, q.State),
                (BASE, PAGE_EXECUTE_WRITECOPY, MEM_IMAGE, MEM_COMMIT)
            );
            (q.BaseAddress, q.Protect, q.RegionSize)
        };
        assert_eq!(region(&mut sys, v + 0x10), (BASE, PAGE_READONLY, P), "{access:#x}: headers, one page");
        assert_eq!(region(&mut sys, rva(PeSection::Text)), (rva(PeSection::Text), PAGE_EXECUTE_READ, 3 * P));
        // VirtualQuery's region starts at the page asked about.
        let mid = rva(PeSection::Text) + 0x2000;
        assert_eq!(region(&mut sys, mid + 0x10), (mid, PAGE_EXECUTE_READ, P));
        assert_eq!(region(&mut sys, rva(PeSection::Rdata)), (rva(PeSection::Rdata), PAGE_READONLY, P));
        assert_eq!(region(&mut sys, rva(PeSection::Data)), (rva(PeSection::Data), PAGE_WRITECOPY, 2 * P));
        // .reloc: read-only data after .data, the image's last page.
        let reloc = rva(PeSection::Data) + 2 * P;
        assert_eq!(region(&mut sys, reloc), (reloc, PAGE_READONLY, P));
        let after = query(&mut sys, pid, reloc + P);
        assert_ne!(after.AllocationBase, BASE, "the view ends with the image");
        // The bytes are the file's, section by section.
        assert_eq!(read_u64(&mut sys, pid, v) & 0xFFFF, 0x5A4D, "MZ");
        assert_eq!(read_byte(&mut sys, pid, rva(PeSection::Text) + 0x1234), pattern(PeSection::Text, 0x1234));
        assert_eq!(read_u64(&mut sys, pid, rva(PeSection::Rdata) + 0x10), rva(PeSection::Data));
        assert_eq!(Kernel32::new(&mut sys, pid).UnmapViewOfFile(v), TRUE);
    }
}

#[test]
fn virtual_protect_with_write_gives_copy_on_write_f162() {
    let dir = tempfile::tempdir().unwrap();
    let (path, built) = dll(&dir, &PeBuilder::dll(BASE));
    let (mut sys, pids) = setup(1);
    let pid = pids[0];
    let h = image_section(&mut sys, pid, &path);
    let v = Kernel32::new(&mut sys, pid).MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    assert_eq!(v, BASE);
    let rva = |s| BASE + u64::from(built.rva(s).unwrap());
    let mut k = Kernel32::new(&mut sys, pid);
    for (addr, was, asked, becomes) in [
        (v, PAGE_READONLY, PAGE_READWRITE, PAGE_WRITECOPY),
        (rva(PeSection::Rdata), PAGE_READONLY, PAGE_READWRITE, PAGE_WRITECOPY),
        (rva(PeSection::Text), PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE, PAGE_EXECUTE_WRITECOPY),
        (rva(PeSection::Data), PAGE_WRITECOPY, PAGE_READWRITE, PAGE_WRITECOPY),
    ] {
        let mut old = 0;
        assert_eq!(k.VirtualProtect(addr, P, asked, Some(&mut old)), TRUE, "{addr:#x}: {}", k.GetLastError());
        assert_eq!(old, was, "{addr:#x}");
        let mut q = MEMORY_BASIC_INFORMATION64::default();
        k.VirtualQuery(addr, &mut q);
        assert_eq!((q.Protect, q.Type, q.AllocationProtect), (becomes, MEM_IMAGE, PAGE_EXECUTE_WRITECOPY), "{addr:#x}");
    }
    // A write then makes the page private: read/write, no longer copy-on-write.
    let text = rva(PeSection::Text);
    k.write(text, &[0xC3]).unwrap();
    let mut q = MEMORY_BASIC_INFORMATION64::default();
    k.VirtualQuery(text, &mut q);
    assert_eq!((q.Protect, q.RegionSize), (PAGE_EXECUTE_READWRITE, P));
    assert_eq!(sys.stats().copy_on_write_faults, 1);
    // The file and a second view keep the original code.
    let mut k = Kernel32::new(&mut sys, pid);
    let second = k.MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    assert!(second != 0 && second != BASE);
    assert_eq!(read_byte(&mut sys, pid, second + (text - BASE)), pattern(PeSection::Text, 0));
    assert_eq!(std::fs::read(&path).unwrap(), built.bytes());
}

/// Code and read-only pages made copy-on-write by `VirtualProtect` (F162) are charged then,
/// one page each, beyond the image's own copy-on-write pages (charged with the view), so every
/// copy a write makes is charged however it came; `WriteProcessMemory` patching code does
/// the same through its protection change (F176). Protected back unwritten, a page's charge
/// comes back (NT's `MiSetProtectionOnSection`).
#[test]
fn making_image_pages_copy_on_write_charges_each_page_f209() {
    let dir = tempfile::tempdir().unwrap();
    let (path, built) = dll(&dir, &PeBuilder::dll(BASE).text_size(0x2000));
    let (mut sys, pids) = setup(1);
    let pid = pids[0];
    let h = image_section(&mut sys, pid, &path);
    let before = sys.stats().commit_total;
    let v = Kernel32::new(&mut sys, pid).MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    assert_eq!(v, BASE);
    let with_view = sys.stats().commit_total;
    assert_eq!(with_view - before, 2, "the image's copy-on-write pages: .data's two");
    let rva = |s| BASE + u64::from(built.rva(s).unwrap());
    let (text, rdata, data) = (rva(PeSection::Text), rva(PeSection::Rdata), rva(PeSection::Data));
    // A resident code page (its first touch makes, and charges, the view's paging structures).
    assert_eq!(read_byte(&mut sys, pid, text), pattern(PeSection::Text, 0));
    let touched = sys.stats().commit_total;
    let mut k = Kernel32::new(&mut sys, pid);
    let charged = |k: &mut Kernel32| k.system().stats().commit_total - touched;
    let mut old = 0;
    // Charged at the protection, and given back unwritten.
    assert_eq!(k.VirtualProtect(text, P, PAGE_EXECUTE_READWRITE, Some(&mut old)), TRUE);
    assert_eq!((old, charged(&mut k)), (PAGE_EXECUTE_READ, 1));
    assert_eq!(k.VirtualProtect(text, P, PAGE_EXECUTE_READ, Some(&mut old)), TRUE);
    assert_eq!((old, charged(&mut k)), (PAGE_EXECUTE_WRITECOPY, 0));
    // Both code pages and the read-only page, then written: three copies, three charges.
    assert_eq!(k.VirtualProtect(text, 2 * P, PAGE_EXECUTE_READWRITE, Some(&mut old)), TRUE);
    assert_eq!(k.VirtualProtect(rdata, P, PAGE_READWRITE, Some(&mut old)), TRUE);
    assert_eq!(charged(&mut k), 3);
    for page in [text, text + P, rdata] {
        k.write(page, &[0xCC]).unwrap();
    }
    // .data's pages, charged with the view, copied too: five copies in all.
    k.write(data, &[1]).unwrap();
    k.write(data + P, &[2]).unwrap();
    assert_eq!(charged(&mut k), 3);
    assert_eq!(sys.stats().copy_on_write_faults, 5);
    // WriteProcessMemory into a second view's code: made writable, copied, restored.
    let mut k = Kernel32::new(&mut sys, pid);
    let second = k.MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    assert_eq!(read_byte(&mut sys, pid, second + (text - BASE)), pattern(PeSection::Text, 0));
    let second_charge = sys.stats().commit_total;
    let mut k = Kernel32::new(&mut sys, pid);
    let me = k.GetCurrentProcess();
    let at = second + (text - BASE);
    assert_eq!(k.WriteProcessMemory(me, at, &[0x90], None), TRUE, "{}", k.GetLastError());
    let mut q = MEMORY_BASIC_INFORMATION64::default();
    k.VirtualQuery(at, &mut q);
    assert_eq!(q.Protect, PAGE_EXECUTE_READ, "restored");
    assert_eq!(k.system().stats().commit_total - second_charge, 1, "the copy is charged");
    assert_eq!(k.UnmapViewOfFile(second), TRUE);
    assert_eq!(k.UnmapViewOfFile(v), TRUE);
    assert_eq!(sys.stats().commit_total, before, "every charge goes with its view");
}

#[test]
fn a_data_view_s_writes_stay_out_of_an_image_view_even_flushed_f162() {
    let dir = tempfile::tempdir().unwrap();
    let (path, built) = dll(&dir, &PeBuilder::dll(BASE));
    let (mut sys, pids) = setup(1);
    let pid = pids[0];
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE);
    let data_section = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    assert!(!data_section.is_null());
    let data = k.MapViewOfFile(data_section, FILE_MAP_WRITE, 0, 0, 0);
    assert_ne!(data, 0);
    let image_section = k.CreateFileMappingW(f, None, SEC_IMAGE | PAGE_READONLY, 0, 0, None);
    assert!(!image_section.is_null());
    let image = k.MapViewOfFile(image_section, FILE_MAP_READ, 0, 0, 0);
    assert_eq!(image, BASE);
    let rdata = u64::from(built.rva(PeSection::Rdata).unwrap());
    let layout = ntmem::section::ImageLayout::parse(built.bytes()).unwrap();
    let rdata_in_file = u64::from(layout.sections().iter().find(|s| s.name() == b".rdata").unwrap().raw_offset());
    assert_ne!(rdata_in_file, rdata, "the file is aligned to 512 bytes, the image to pages");
    assert_eq!(read_byte(&mut sys, pid, data + rdata_in_file), pattern(PeSection::Rdata, 0));
    assert_eq!(read_byte(&mut sys, pid, image + rdata), pattern(PeSection::Rdata, 0));
    // Writes through the data view (not flushed): the image view keeps the image's copy.
    let mut k = Kernel32::new(&mut sys, pid);
    k.write(data, b"XX").unwrap();
    k.write(data + rdata_in_file, &[0xEE]).unwrap();
    assert_eq!(read_u64(&mut sys, pid, image) & 0xFFFF, 0x5A4D);
    assert_eq!(read_byte(&mut sys, pid, image + rdata), pattern(PeSection::Rdata, 0));
    // Flushed to the file: still not in the image view.
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(k.FlushViewOfFile(data, 0), TRUE);
    assert_eq!(&std::fs::read(&path).unwrap()[..2], b"XX");
    assert_eq!(read_u64(&mut sys, pid, image) & 0xFFFF, 0x5A4D);
    assert_eq!(read_byte(&mut sys, pid, image + rdata), pattern(PeSection::Rdata, 0));
}

#[test]
fn creating_an_image_section_reads_the_data_view_s_unflushed_header_f162() {
    // ReactOS Test_ImageSection: with "MZ" overwritten through a data view and not flushed,
    // NtCreateSection(SEC_IMAGE) sees the cached page and refuses with
    // STATUS_INVALID_IMAGE_NOT_MZ; with the header restored (still unflushed) it succeeds.
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = dll(&dir, &PeBuilder::dll(BASE));
    let (mut sys, pids) = setup(1);
    let pid = pids[0];
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE);
    let data_section = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    let data = k.MapViewOfFile(data_section, FILE_MAP_WRITE, 0, 0, 0);
    assert_ne!(data, 0);
    k.write(data, b"XX").unwrap();
    let mut section = null();
    let s = Ntdll::new(&mut sys, pid).NtCreateSection(
        &mut section,
        SECTION_ALL_ACCESS,
        None,
        None,
        PAGE_READONLY,
        SEC_IMAGE,
        f,
    );
    assert_eq!(s, STATUS_INVALID_IMAGE_NOT_MZ, "{}", status_name(s).unwrap_or("?"));
    Kernel32::new(&mut sys, pid).write(data, b"MZ").unwrap();
    let s = Ntdll::new(&mut sys, pid).NtCreateSection(
        &mut section,
        SECTION_ALL_ACCESS,
        None,
        None,
        PAGE_READONLY,
        SEC_IMAGE,
        f,
    );
    assert_eq!(s, STATUS_SUCCESS, "{}", status_name(s).unwrap_or("?"));
}

#[test]
fn reserving_or_committing_inside_an_image_view_conflicts_and_changes_nothing_f162() {
    let dir = tempfile::tempdir().unwrap();
    let (path, built) = dll(&dir, &PeBuilder::dll(BASE).text_size(0x20000));
    let (mut sys, pids) = setup(1);
    let pid = pids[0];
    let h = image_section(&mut sys, pid, &path);
    let (s, v, _) = nt_map(&mut sys, pid, h, NtCurrentProcess(), 0);
    assert_eq!((s, v), (STATUS_SUCCESS, BASE));
    let text = BASE + u64::from(built.rva(PeSection::Text).unwrap());
    let before = figures(&sys);
    let region = query(&mut sys, pid, BASE + 0x10000);
    let mut nt = Ntdll::new(&mut sys, pid);
    for (addr, kind) in [(BASE + 0x10000, MEM_RESERVE), (BASE, MEM_RESERVE), (BASE + 0x10000, MEM_RESERVE | MEM_COMMIT)]
    {
        let (mut base, mut size) = (addr, 0x1000u64);
        let s = nt.NtAllocateVirtualMemory(NtCurrentProcess(), &mut base, 0, &mut size, kind, PAGE_READWRITE);
        assert_eq!(s, STATUS_CONFLICTING_ADDRESSES, "{addr:#x} {kind:#x}: {}", status_name(s).unwrap_or("?"));
        assert_eq!((base, size), (addr, 0x1000), "out parameters untouched");
    }
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(k.VirtualAlloc(BASE + 0x10000, P, MEM_RESERVE, PAGE_READWRITE), 0);
    assert_eq!(k.GetLastError(), ERROR_INVALID_ADDRESS);
    // Committing in it is refused as in a view of a data file (F156): the image's pages are
    // all committed already.
    for protect in [PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE_READ] {
        assert_eq!(k.VirtualAlloc(text, P, MEM_COMMIT, protect), 0);
        assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED, "{protect:#x}");
    }
    assert_eq!(figures(&sys), before);
    let after = query(&mut sys, pid, BASE + 0x10000);
    assert_eq!(
        (after.BaseAddress, after.RegionSize, after.Protect, after.Type, after.State),
        (region.BaseAddress, region.RegionSize, region.Protect, region.Type, region.State)
    );
}

// ---------------------------------------------------------------------------------------------
// F163: away from the base, another machine

#[test]
fn an_image_away_from_its_base_maps_relocated_also_into_another_process_f163() {
    let dir = tempfile::tempdir().unwrap();
    // One pointer inside a page, one straddling the boundary between .rdata's two pages.
    let builder = PeBuilder::dll(BASE)
        .rdata_size(0x2000)
        .pointer(PeSection::Data, 0x10, PeSection::Rdata, 0x20)
        .pointer(PeSection::Rdata, 0xFFC, PeSection::Text, 0x40);
    let (path, built) = dll(&dir, &builder);
    let (mut sys, pids) = setup(2);
    let (me, other) = (pids[0], pids[1]);
    let h = image_section(&mut sys, me, &path);

    // In this process: the first view at the base, a second one elsewhere.
    let (s, first, size) = nt_map(&mut sys, me, h, NtCurrentProcess(), 0);
    assert_eq!((s, first), (STATUS_SUCCESS, BASE));
    let (s, second, second_size) = nt_map(&mut sys, me, h, NtCurrentProcess(), 0);
    assert_eq!(s, STATUS_IMAGE_NOT_AT_BASE, "{}", status_name(s).unwrap_or("?"));
    assert!(second != BASE && second % 0x10000 == 0);
    assert_eq!(second_size, size);
    for &(at, value) in built.pointers() {
        assert_eq!(read_u64(&mut sys, me, first + u64::from(at)), value, "at the base: as written");
        assert_eq!(read_u64(&mut sys, me, second + u64::from(at)), value - BASE + second, "relocated");
    }
    // Bytes around the pointers are not touched by relocation.
    let rdata = u64::from(built.rva(PeSection::Rdata).unwrap());
    assert_eq!(read_byte(&mut sys, me, second + rdata + 0xFFB), pattern(PeSection::Rdata, 0xFFB));
    assert_eq!(read_byte(&mut sys, me, second + rdata + 0x1004), pattern(PeSection::Rdata, 0x1004));
    // A relocated view is an image view like any other.
    let q = query(&mut sys, me, second);
    assert_eq!(
        (q.Type, q.AllocationProtect, q.Protect, q.RegionSize),
        (MEM_IMAGE, PAGE_EXECUTE_WRITECOPY, PAGE_READONLY, P)
    );
    // At an explicit base: the preferred one is taken, another is away from it.
    let (s, _, _) = nt_map(&mut sys, me, h, NtCurrentProcess(), BASE);
    assert_eq!(s, STATUS_CONFLICTING_ADDRESSES);
    let (s, third, _) = nt_map(&mut sys, me, h, NtCurrentProcess(), 0x2_0000_0000);
    assert_eq!((s, third), (STATUS_IMAGE_NOT_AT_BASE, 0x2_0000_0000));

    // MapViewOfFile2 into another process whose preferred base is taken.
    let blocker = Kernel32::new(&mut sys, other).VirtualAlloc(BASE, P, MEM_RESERVE, PAGE_NOACCESS);
    assert_eq!(blocker, BASE);
    let mut k = Kernel32::new(&mut sys, me);
    let process =
        k.OpenProcess(PROCESS_VM_OPERATION | PROCESS_VM_READ | PROCESS_QUERY_INFORMATION, FALSE, u32::from(other));
    assert!(!process.is_null());
    let remote = k.MapViewOfFile2(h, process, 0, 0, 0, 0, PAGE_READONLY);
    assert!(remote != 0 && remote != BASE, "MapViewOfFile2: {remote:#x} {}", k.GetLastError());
    for &(at, value) in built.pointers() {
        let mut b = [0u8; 8];
        assert_eq!(k.ReadProcessMemory(process, remote + u64::from(at), &mut b, None), TRUE);
        assert_eq!(u64::from_le_bytes(b), value - BASE + remote, "relocated in the other process");
    }
    let mut q = MEMORY_BASIC_INFORMATION64::default();
    assert_ne!(k.VirtualQueryEx(process, remote, &mut q), 0);
    assert_eq!((q.Type, q.AllocationBase), (MEM_IMAGE, remote));
    // Relocated pages are private to their view: the view at the base still reads the original.
    for &(at, value) in built.pointers() {
        assert_eq!(read_u64(&mut sys, me, first + u64::from(at)), value);
    }
}

#[test]
fn an_image_for_another_machine_maps_with_machine_type_mismatch_f163() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sys, pids) = setup(1);
    let pid = pids[0];
    for (name, builder, base) in [
        ("wow64.dll", PeBuilder::dll(0x1000_0000).pe32(), 0x1000_0000u64),
        ("ia64.dll", PeBuilder::dll(BASE).machine(ImageMachine::IA64), BASE),
    ] {
        let built = builder.build().unwrap();
        let path = file(&dir, name, built.bytes());
        let h = image_section(&mut sys, pid, &path);
        // At its base, and away from it: the machine is checked first and wins.
        let (s, v, _) = nt_map(&mut sys, pid, h, NtCurrentProcess(), 0);
        assert_eq!((s, v), (STATUS_IMAGE_MACHINE_TYPE_MISMATCH, base), "{name}: {}", status_name(s).unwrap_or("?"));
        let q = query(&mut sys, pid, v);
        assert_eq!(
            (q.Type, q.AllocationProtect, q.Protect),
            (MEM_IMAGE, PAGE_EXECUTE_WRITECOPY, PAGE_READONLY),
            "{name}: mapped"
        );
        let (s, w, _) = nt_map(&mut sys, pid, h, NtCurrentProcess(), 0);
        assert_eq!(s, STATUS_IMAGE_MACHINE_TYPE_MISMATCH, "{name}");
        assert_ne!(w, base);
        // kernelbase takes the success code as success: MapViewOfFile returns the view.
        let mut k = Kernel32::new(&mut sys, pid);
        let x = k.MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
        assert_ne!(x, 0, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Sharing (issue 7 items 7 and 8)

#[test]
fn a_shared_section_is_one_page_for_every_process_f162() {
    let dir = tempfile::tempdir().unwrap();
    let (path, built) = dll(&dir, &PeBuilder::dll(BASE).shared_section(0x1000));
    let (mut sys, pids) = setup(3);
    let shared = BASE + u64::from(built.rva(PeSection::Shared).unwrap());
    for &pid in &pids {
        let h = image_section(&mut sys, pid, &path);
        let (s, v, _) = nt_map(&mut sys, pid, h, NtCurrentProcess(), 0);
        assert_eq!((s, v), (STATUS_SUCCESS, BASE));
        let q = query(&mut sys, pid, shared);
        assert_eq!(
            (q.Protect, q.Type, q.RegionSize),
            (PAGE_READWRITE, MEM_IMAGE, P),
            "IMAGE_SCN_MEM_SHARED: truly shared"
        );
    }
    assert_eq!(read_byte(&mut sys, pids[2], shared + 8), pattern(PeSection::Shared, 8));
    Kernel32::new(&mut sys, pids[0]).write(shared + 8, b"hello").unwrap();
    let mut b = [0u8; 5];
    for &pid in &pids[1..] {
        Kernel32::new(&mut sys, pid).read(shared + 8, &mut b).unwrap();
        assert_eq!(&b, b"hello", "seen by every process");
    }
    assert_eq!(sys.stats().copy_on_write_faults, 0, "no copy");
    Kernel32::new(&mut sys, pids[2]).write(shared + 8, b"world").unwrap();
    Kernel32::new(&mut sys, pids[0]).read(shared + 8, &mut b).unwrap();
    assert_eq!(&b, b"world");
    let q = query(&mut sys, pids[0], shared);
    assert_eq!(q.Protect, PAGE_READWRITE);
}

#[test]
fn the_demand_zero_tail_of_data_reads_zero_f162() {
    let dir = tempfile::tempdir().unwrap();
    // .data: 0x300 bytes in the file (0x400 with file alignment), four pages in memory.
    let (path, built) = dll(&dir, &PeBuilder::dll(BASE).data_size(0x300, 0x4000));
    let (mut sys, pids) = setup(2);
    let data = BASE + u64::from(built.rva(PeSection::Data).unwrap());
    for &pid in &pids {
        let h = image_section(&mut sys, pid, &path);
        assert_eq!(nt_map(&mut sys, pid, h, NtCurrentProcess(), 0).0, STATUS_SUCCESS);
    }
    let pid = pids[0];
    let q = query(&mut sys, pid, data);
    assert_eq!((q.Protect, q.RegionSize, q.State), (PAGE_WRITECOPY, 4 * P, MEM_COMMIT));
    let mut page = vec![0u8; P as usize];
    Kernel32::new(&mut sys, pid).read(data, &mut page).unwrap();
    for (i, &b) in page.iter().enumerate().take(0x300) {
        assert_eq!(b, pattern(PeSection::Data, i as u32), "raw data at {i:#x}");
    }
    assert!(page[0x400..].iter().all(|&b| b == 0), "past the raw data: zero");
    for p in 1..4 {
        Kernel32::new(&mut sys, pid).read(data + p * P, &mut page).unwrap();
        assert!(page.iter().all(|&b| b == 0), "page {p}: demand-zero");
    }
    // Written in one process, the tail stays zero in the other.
    Kernel32::new(&mut sys, pid).write(data + 2 * P, b"mine").unwrap();
    Kernel32::new(&mut sys, pids[1]).read(data + 2 * P, &mut page).unwrap();
    assert!(page.iter().all(|&b| b == 0));
    let q = query(&mut sys, pid, data + 2 * P);
    assert_eq!((q.Protect, q.RegionSize), (PAGE_READWRITE, P));
}

#[test]
fn eight_processes_count_a_one_mebibyte_image_s_frames_once_f162() {
    let dir = tempfile::tempdir().unwrap();
    // 1 + 252 + 1 + 2 pages: 1 MiB exactly.
    let (path, built) = dll(&dir, &PeBuilder::dll(BASE).text_size(252 * 0x1000));
    let (mut sys, pids) = setup(8);
    let mut rises = Vec::new();
    for &pid in &pids {
        let h = image_section(&mut sys, pid, &path);
        let mut k = Kernel32::new(&mut sys, pid);
        let mut before = PROCESS_MEMORY_COUNTERS_EX::default();
        assert_eq!(k.GetProcessMemoryInfo(k.GetCurrentProcess(), &mut before), TRUE);
        let active = sys.stats().active_pages;
        let (s, v, size) = nt_map(&mut sys, pid, h, NtCurrentProcess(), 0);
        assert_eq!((s, v, size), (STATUS_SUCCESS, BASE, 0x10_0000));
        assert_eq!(touch_all(&mut sys, pid, v), 256);
        let mut k = Kernel32::new(&mut sys, pid);
        let mut after = PROCESS_MEMORY_COUNTERS_EX::default();
        assert_eq!(k.GetProcessMemoryInfo(k.GetCurrentProcess(), &mut after), TRUE);
        assert_eq!(after.WorkingSetSize - before.WorkingSetSize, 0x10_0000, "the image is in every working set");
        rises.push(sys.stats().active_pages - active);
    }
    // The first process brings the 256 frames in (and its page tables); the others only
    // their page tables.
    let tables = rises[1];
    assert!(tables <= 3, "page tables only: {rises:?}");
    assert!(rises[1..].iter().all(|&r| r == tables), "{rises:?}");
    assert_eq!(rises[0], 256 + tables, "{rises:?}");
    let frames = image_frames(&sys);
    assert_eq!(frames.len(), 256);
    assert!(frames.iter().all(|&f| sys.phys().pfn(f).share_count() == 8));
    // QueryWorkingSetEx: shared, share count 8.
    let mut k = Kernel32::new(&mut sys, pids[3]);
    let mut ws = [PSAPI_WORKING_SET_EX_INFORMATION {
        VirtualAddress: (BASE + 0x5000) as usize as *mut core::ffi::c_void,
        VirtualAttributes: PSAPI_WORKING_SET_EX_BLOCK { Flags: 0 },
    }];
    assert_eq!(k.QueryWorkingSetEx(k.GetCurrentProcess(), &mut ws), TRUE);
    let attrs = working_set_ex_flags(&ws[0]);
    assert_eq!(attrs & 1, 1, "valid");
    assert_eq!((attrs >> 15) & 1, 1, "shared");
    assert_eq!((attrs >> 1) & 7, 7, "ShareCount saturates at 7");

    // A write to the data page copies it for that process alone.
    let data = BASE + u64::from(built.rva(PeSection::Data).unwrap());
    let active = sys.stats().active_pages;
    Kernel32::new(&mut sys, pids[0]).write(data, b"mine").unwrap();
    assert_eq!(sys.stats().copy_on_write_faults, 1);
    assert_eq!(sys.stats().active_pages, active + 1, "one private copy");
    let q = query(&mut sys, pids[0], data);
    assert_eq!((q.Protect, q.RegionSize), (PAGE_READWRITE, P));
    for &pid in &pids[1..] {
        assert_eq!(read_byte(&mut sys, pid, data), pattern(PeSection::Data, 0));
        let q = query(&mut sys, pid, data);
        assert_eq!(q.Protect, PAGE_WRITECOPY);
    }
    let frames = image_frames(&sys);
    let data_page = u64::from(built.rva(PeSection::Data).unwrap()) / P;
    let (_, segment) = sys.segments().iter().find(|(_, s)| s.image().is_some()).unwrap();
    let original = segment.prototype(data_page).unwrap().frame().unwrap();
    assert_eq!(sys.phys().pfn(original).share_count(), 7, "seven processes still share the original");
    assert_eq!(frames.len(), 256);
}

#[test]
fn a_terminated_process_s_image_views_go_f162() {
    let dir = tempfile::tempdir().unwrap();
    let (path, built) = dll(&dir, &PeBuilder::dll(BASE));
    let (mut sys, pids) = setup(3);
    for &pid in &pids {
        let h = image_section(&mut sys, pid, &path);
        assert_eq!(nt_map(&mut sys, pid, h, NtCurrentProcess(), 0).0, STATUS_SUCCESS);
        touch_all(&mut sys, pid, BASE);
    }
    let data = BASE + u64::from(built.rva(PeSection::Data).unwrap());
    Kernel32::new(&mut sys, pids[1]).write(data, b"mine").unwrap();
    let frames = image_frames(&sys);
    let shares = |sys: &System| frames.iter().map(|&f| sys.phys().pfn(f).share_count()).collect::<Vec<_>>();
    let data_page = (data - BASE) / P;
    assert_eq!(sys.stats().copy_on_write_faults, 1);
    let active = sys.stats().active_pages;
    let mut k = Kernel32::new(&mut sys, pids[0]);
    let victim = k.OpenProcess(PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, u32::from(pids[1]));
    assert_eq!(k.TerminateProcess(victim, 0), TRUE);
    // Its share of each frame goes, and its private copy of the data page.
    let (_, segment) = sys.segments().iter().find(|(_, s)| s.image().is_some()).unwrap();
    let original = segment.prototype(data_page).unwrap().frame().unwrap();
    for (f, s) in frames.iter().zip(shares(&sys)) {
        assert_eq!(s, 2, "{f:?}");
    }
    assert_eq!(sys.phys().pfn(original).share_count(), 2);
    assert!(sys.stats().active_pages < active, "its copy and page tables are gone");
    let mut k = Kernel32::new(&mut sys, pids[0]);
    let mut c = PROCESS_MEMORY_COUNTERS_EX::default();
    assert_eq!(k.GetProcessMemoryInfo(victim, &mut c), TRUE);
    assert_eq!(c.WorkingSetSize, 0);
    // The others still read the image.
    assert_eq!(read_byte(&mut sys, pids[2], data), pattern(PeSection::Data, 0));
    // Their views unmapped, nobody maps the frames.
    for &pid in &[pids[0], pids[2]] {
        assert_eq!(Kernel32::new(&mut sys, pid).UnmapViewOfFile(BASE), TRUE);
    }
    assert!(shares(&sys).iter().all(|&s| s == 0));
}
