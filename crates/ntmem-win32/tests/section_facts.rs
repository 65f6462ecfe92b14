//! Scenario tests through `Kernel32` / `Ntdll`: host files and section objects (facts
//! F122–F133 and F138 of section N, the parts that need no view), and bad input — bad, closed
//! and wrong-type handles, names in use, sizes past the limits — each giving Windows' error and
//! changing nothing.
//!
//! Every test runs with the core's invariant checker on. Elsewhere: F131's accepted `SEC_IMAGE`
//! and its `SectionImageInformation` (`image_facts.rs`, with real PE files), and the view facts
//! (F134's views, F135, F136's views, F139 and section O: `view_facts.rs`).

#![allow(non_snake_case)]
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]

use ntmem::{ProcessId, System};
use ntmem_win32::*;
use support::*;

mod support;

const BASIC_LEN: u32 = std::mem::size_of::<SECTION_BASIC_INFORMATION>() as u32;

fn query(sys: &mut System, pid: ProcessId, h: HANDLE) -> SECTION_BASIC_INFORMATION {
    let mut info = SECTION_BASIC_INFORMATION::default();
    let s = Ntdll::new(sys, pid).NtQuerySection(h, SECTION_BASIC_INFORMATION_CLASS, &mut info, BASIC_LEN, None);
    assert_eq!(s, STATUS_SUCCESS);
    info
}

fn nt_create(
    sys: &mut System,
    pid: ProcessId,
    size: Option<i64>,
    prot: u32,
    attrs: u32,
    file: HANDLE,
) -> (NTSTATUS, HANDLE) {
    let mut h = null();
    let s = Ntdll::new(sys, pid).NtCreateSection(&mut h, SECTION_ALL_ACCESS, None, size.as_ref(), prot, attrs, file);
    (s, h)
}

/// `NtCreateSection` of a page-file `SEC_COMMIT`, `PAGE_READWRITE` section of `size` bytes
/// named `name`, with the `OBJ_` flags `attributes`.
fn nt_create_named(nt: &mut Ntdll, name: &str, attributes: u32, size: i64) -> (NTSTATUS, HANDLE) {
    let mut h = null();
    let attrs = OBJECT_ATTRIBUTES { ObjectName: Some(name), Attributes: attributes };
    let s =
        nt.NtCreateSection(&mut h, SECTION_ALL_ACCESS, Some(&attrs), Some(&size), PAGE_READWRITE, SEC_COMMIT, null());
    (s, h)
}

fn commit_total(sys: &System) -> u64 {
    sys.stats().commit_total
}

#[test]
fn pagefile_section_size_rounds_up_to_a_page() {
    // F122
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 4090, Some("f122"));
    assert!(!h.is_null());
    assert_eq!(k.GetLastError(), 0);
    let info = query(&mut sys, pid, h);
    assert_eq!((info.BaseAddress, info.MaximumSize, info.AllocationAttributes), (0, 4096, SEC_COMMIT));
    let (s, h2) = nt_create(&mut sys, pid, Some(0x3452), PAGE_READONLY, SEC_COMMIT, null());
    assert_eq!(s, STATUS_SUCCESS);
    assert_eq!(query(&mut sys, pid, h2).MaximumSize, 0x4000);
}

#[test]
fn pagefile_section_needs_an_explicit_size() {
    // F122
    let (mut sys, pid) = setup();
    let before = commit_total(&sys);
    let mut k = Kernel32::new(&mut sys, pid);
    assert!(k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0, None).is_null());
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
    let (s, h) = nt_create(&mut sys, pid, None, PAGE_READWRITE, SEC_COMMIT, null());
    assert_eq!((s, h), (STATUS_INVALID_PARAMETER_4, null()));
    assert_eq!(sys.sections().sections().count(), 0);
    assert_eq!(commit_total(&sys), before);
}

#[test]
fn sec_commit_charges_the_whole_section_until_the_last_handle_closes() {
    // F122, F134: the charge is the section's, returned when it dies.
    let (mut sys, pid) = setup();
    let before = commit_total(&sys);
    let mut k = Kernel32::new(&mut sys, pid);
    let h = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x10_0000, Some("charged"));
    let h2 = k.OpenFileMappingW(FILE_MAP_READ, FALSE, "charged");
    assert!(!h.is_null() && !h2.is_null());
    assert_eq!(commit_total(k.system()), before + 256);
    assert_eq!(k.CloseHandle(h), TRUE);
    assert_eq!(commit_total(k.system()), before + 256);
    assert_eq!(k.CloseHandle(h2), TRUE);
    assert_eq!(commit_total(k.system()), before);
    // SEC_RESERVE charges nothing at creation.
    let r = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE | SEC_RESERVE, 0, 0x10_0000, None);
    assert!(!r.is_null());
    assert_eq!(commit_total(k.system()), before);
}

#[test]
fn file_section_size_is_not_rounded() {
    // F123
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f123", 0x3456);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ);
    let h36 = k.CreateFileMappingW(f, None, PAGE_READONLY, 0, 36, None);
    let h0 = k.CreateFileMappingW(f, None, PAGE_READONLY, 0, 0, None);
    assert!(!h36.is_null() && !h0.is_null());
    let i36 = query(&mut sys, pid, h36);
    assert_eq!((i36.MaximumSize, i36.AllocationAttributes), (36, SEC_FILE));
    assert_eq!(query(&mut sys, pid, h0).MaximumSize, 0x3456);
}

#[test]
fn sections_of_one_file_share_its_data_segment() {
    // The design's one data segment per host file, whatever the handle it came through.
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "shared", 3 * P as usize);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f1 = open(&mut k, &path, GENERIC_READ);
    let f2 = open(&mut k, &path, GENERIC_READ);
    let a = k.CreateFileMappingW(f1, None, PAGE_READONLY, 0, 0, None);
    let b = k.CreateFileMappingW(f2, None, PAGE_READONLY, 0, 100, None);
    assert!(!a.is_null() && !b.is_null());
    let objects = k.system().segments();
    assert_eq!(objects.iter().count(), 1);
    let (_, segment) = objects.iter().next().unwrap();
    assert_eq!((segment.refs().sections, segment.pages()), (2, 3));
    assert_eq!(segment.prototype(0), Some(ntmem::paging::PrototypePte::InFile(ntmem::Protection::READ_ONLY)));
    // Closing the file handles keeps the segment (and its host file) for the sections.
    assert_eq!(k.CloseHandle(f1), TRUE);
    assert_eq!(k.CloseHandle(f2), TRUE);
    assert_eq!(k.system().segments().iter().count(), 1);
    assert_eq!(k.CloseHandle(a), TRUE);
    assert_eq!(k.CloseHandle(b), TRUE);
    assert_eq!(k.system().segments().iter().count(), 0);
}

#[test]
fn read_only_section_bigger_than_its_file_is_too_big() {
    // F124
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f124", 0x3456);
    let (mut sys, pid) = setup();
    let f = open(&mut Kernel32::new(&mut sys, pid), &path, GENERIC_READ);
    let (s, h) = nt_create(&mut sys, pid, Some(0x3457), PAGE_READONLY, SEC_COMMIT, f);
    assert_eq!((s, h), (STATUS_SECTION_TOO_BIG, null()));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0x3456);
    let (s, h) = nt_create(&mut sys, pid, Some(0x3452), PAGE_READONLY, SEC_COMMIT, f);
    assert_eq!(s, STATUS_SUCCESS);
    assert_eq!(query(&mut sys, pid, h).MaximumSize, 0x3452);
    let mut k = Kernel32::new(&mut sys, pid);
    assert!(k.CreateFileMappingW(f, None, PAGE_READONLY, 0, 0x3457, None).is_null());
    assert_eq!(k.GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
}

#[test]
fn writable_section_bigger_than_its_file_extends_the_file() {
    // F125
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f125", 4096);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let h = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0x10_0000, Some("f125"));
    assert!(!h.is_null());
    let mut size = 0;
    assert_eq!(k.GetFileSizeEx(f, &mut size), TRUE);
    assert_eq!(size, 0x10_0000);
    let info = query(&mut sys, pid, h);
    assert_eq!((info.MaximumSize, info.AllocationAttributes), (0x10_0000, SEC_FILE));
    // The first page is the file's as it was.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes[4095], (4095 % 251) as u8);
}

#[test]
fn empty_file_cannot_back_a_section_of_its_size() {
    // F126
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "empty", 0);
    let (mut sys, pid) = setup();
    let f = open(&mut Kernel32::new(&mut sys, pid), &path, ALL_FILE);
    let (s, _) = nt_create(&mut sys, pid, None, PAGE_READONLY, SEC_COMMIT, f);
    assert_eq!(s, STATUS_MAPPED_FILE_SIZE_ZERO);
    let (s, _) = nt_create(&mut sys, pid, None, PAGE_READONLY, SEC_IMAGE, f);
    assert_eq!(s, STATUS_INVALID_FILE_FOR_SECTION);
    let mut k = Kernel32::new(&mut sys, pid);
    assert!(k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None).is_null());
    assert_eq!(k.GetLastError(), ERROR_FILE_INVALID);
    assert_eq!(k.system().segments().iter().count(), 0);
}

#[test]
fn section_protections_are_the_six_data_protections() {
    // F127
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f127", 0x2000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, ALL_FILE);
    for prot in [
        PAGE_READONLY,
        PAGE_READWRITE,
        PAGE_WRITECOPY,
        PAGE_EXECUTE_READ,
        PAGE_EXECUTE_READWRITE,
        PAGE_EXECUTE_WRITECOPY,
    ] {
        let h = k.CreateFileMappingW(f, None, prot, 0, 0, None);
        assert!(!h.is_null(), "{prot:#x}");
        assert_eq!(k.CloseHandle(h), TRUE);
    }
    let bases = [1u32, 2, 4, 8, 0x10, 0x20, 0x40, 0x80];
    let mut rejected = vec![0, PAGE_NOACCESS, PAGE_EXECUTE];
    for (i, a) in bases.iter().enumerate() {
        rejected.extend(bases[i + 1..].iter().map(|b| a | b));
    }
    for prot in rejected {
        assert!(k.CreateFileMappingW(f, None, prot, 0, 0, None).is_null(), "{prot:#x}");
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER, "{prot:#x}");
    }
    assert_eq!(k.system().sections().sections().count(), 0);
    let (s, _) = nt_create(&mut sys, pid, Some(0x1000), PAGE_NOACCESS, SEC_COMMIT, null());
    assert_eq!(s, STATUS_INVALID_PAGE_PROTECTION);
}

#[test]
fn file_handle_rights_must_cover_the_section_protection() {
    // F128
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f128", 0x2000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let read_only = open(&mut k, &path, GENERIC_READ);
    for prot in [PAGE_READWRITE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE, PAGE_EXECUTE_WRITECOPY] {
        assert!(k.CreateFileMappingW(read_only, None, prot, 0, 0, None).is_null(), "{prot:#x}");
        assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED, "{prot:#x}");
    }
    for prot in [PAGE_READONLY, PAGE_WRITECOPY] {
        assert!(!k.CreateFileMappingW(read_only, None, prot, 0, 0, None).is_null(), "{prot:#x}");
    }
    let no_access = open(&mut k, &path, 0);
    for prot in [PAGE_READWRITE, PAGE_WRITECOPY, PAGE_READONLY] {
        assert!(k.CreateFileMappingW(no_access, None, prot, 0, 0, None).is_null(), "{prot:#x}");
        assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED, "{prot:#x}");
    }
    // A refused writable section does not extend the file.
    assert!(k.CreateFileMappingW(read_only, None, PAGE_READWRITE, 0, 0x10_0000, None).is_null());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0x2000);
}

#[test]
fn pagefile_sec_flags_are_validated() {
    // F129
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let accepted = [
        (SEC_RESERVE, SEC_RESERVE),
        (SEC_RESERVE | SEC_NOCACHE, SEC_RESERVE | SEC_NOCACHE),
        (SEC_RESERVE | SEC_WRITECOMBINE, SEC_RESERVE | SEC_WRITECOMBINE),
        (SEC_COMMIT, SEC_COMMIT),
        (SEC_COMMIT | SEC_NOCACHE, SEC_COMMIT | SEC_NOCACHE),
        (SEC_COMMIT | SEC_WRITECOMBINE, SEC_COMMIT | SEC_WRITECOMBINE),
        (0, SEC_COMMIT),
    ];
    let mut handles = Vec::new();
    for (flags, reported) in accepted {
        let h = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE | flags, 0, 0x1000, None);
        assert!(!h.is_null(), "{flags:#x}: {}", k.GetLastError());
        handles.push((h, reported));
    }
    for flags in [
        SEC_RESERVE | SEC_COMMIT,
        SEC_NOCACHE,
        SEC_LARGE_PAGES,
        SEC_WRITECOMBINE,
        SEC_FILE,
        SEC_FILE | SEC_RESERVE,
        SEC_FILE | SEC_COMMIT,
        SEC_IMAGE | SEC_RESERVE,
        SEC_IMAGE | SEC_COMMIT,
        SEC_RESERVE | SEC_LARGE_PAGES,
    ] {
        assert!(k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE | flags, 0, 0x1000, None).is_null());
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER, "{flags:#x}");
    }
    assert!(k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READONLY | SEC_IMAGE, 0, 0x1000, None).is_null());
    assert_eq!(k.GetLastError(), ERROR_BAD_EXE_FORMAT);
    assert_eq!(k.system().sections().sections().count(), handles.len());
    for (h, reported) in handles {
        assert_eq!(query(&mut sys, pid, h).AllocationAttributes, reported);
    }
}

#[test]
fn data_file_sec_flags_report_sec_file() {
    // F130, and F131's refusals (attributes are checked before the file is looked at).
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f130", 0x3000);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, ALL_FILE);
    let mut handles = Vec::new();
    for (flags, reported) in [
        (SEC_RESERVE, SEC_FILE),
        (SEC_COMMIT, SEC_FILE),
        (0, SEC_FILE),
        (SEC_COMMIT | SEC_NOCACHE, SEC_FILE | SEC_NOCACHE),
        (SEC_COMMIT | SEC_WRITECOMBINE, SEC_FILE | SEC_WRITECOMBINE),
    ] {
        let h = k.CreateFileMappingW(f, None, PAGE_READONLY | flags, 0, 0, None);
        assert!(!h.is_null(), "{flags:#x}");
        handles.push((h, reported));
    }
    for flags in [SEC_RESERVE | SEC_COMMIT, SEC_NOCACHE, SEC_FILE, SEC_IMAGE | SEC_RESERVE, SEC_IMAGE | SEC_COMMIT] {
        assert!(k.CreateFileMappingW(f, None, PAGE_READONLY | flags, 0, 0, None).is_null());
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER, "{flags:#x}");
    }
    for flags in [SEC_IMAGE | SEC_FILE, SEC_IMAGE | SEC_LARGE_PAGES, SEC_IMAGE | SEC_WRITECOMBINE] {
        assert!(k.CreateFileMappingW(f, None, PAGE_READONLY | flags, 0, 0, None).is_null());
        assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER, "{flags:#x}");
    }
    // Not a PE file.
    assert!(k.CreateFileMappingW(f, None, PAGE_READONLY | SEC_IMAGE, 0, 0, None).is_null());
    assert_eq!(k.GetLastError(), ERROR_BAD_EXE_FORMAT);
    let (s, _) = nt_create(&mut sys, pid, None, PAGE_READONLY, SEC_IMAGE, f);
    assert_eq!(s, STATUS_INVALID_IMAGE_NOT_MZ);
    for (h, reported) in handles {
        assert_eq!(query(&mut sys, pid, h).AllocationAttributes, reported);
    }
}

#[test]
fn query_section_checks_rights_class_and_length() {
    // F132
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let h = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, Some("f132"));
    let read_only = k.OpenFileMappingW(FILE_MAP_READ, FALSE, "f132");
    assert!(!h.is_null() && !read_only.is_null());
    let mut nt = Ntdll::new(&mut sys, pid);
    let mut info = SECTION_BASIC_INFORMATION { BaseAddress: 7, AllocationAttributes: 7, MaximumSize: 7 };
    let untouched = info;
    let class = SECTION_BASIC_INFORMATION_CLASS;
    assert_eq!(nt.NtQuerySection(read_only, class, &mut info, BASIC_LEN, None), STATUS_ACCESS_DENIED);
    assert_eq!(nt.NtQuerySection(h, class, &mut info, BASIC_LEN - 1, None), STATUS_INFO_LENGTH_MISMATCH);
    assert_eq!(info, untouched);
    let mut len = 0;
    assert_eq!(nt.NtQuerySection(h, class, &mut info, BASIC_LEN + 1, Some(&mut len)), STATUS_SUCCESS);
    assert_eq!((info.BaseAddress, info.MaximumSize, len), (0, 0x1000, BASIC_LEN));
    // Image information: a buffer of the image structure's size passes the length check, and a
    // data section has none; a basic-sized buffer fails the length check first (NT checks the
    // length against the class before it looks at the handle).
    let mut image = SECTION_IMAGE_INFORMATION::default();
    let image_len = std::mem::size_of::<SECTION_IMAGE_INFORMATION>() as u32;
    assert_eq!(
        nt.NtQuerySection(h, SECTION_IMAGE_INFORMATION_CLASS, &mut image, image_len, None),
        STATUS_SECTION_NOT_IMAGE
    );
    assert_eq!(
        nt.NtQuerySection(h, SECTION_IMAGE_INFORMATION_CLASS, &mut image, image_len - 1, None),
        STATUS_INFO_LENGTH_MISMATCH
    );
    assert_eq!(image, SECTION_IMAGE_INFORMATION::default());
}

#[test]
fn second_create_of_a_name_returns_the_existing_section() {
    // F133
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    k.SetLastError(0xdead);
    let a = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, Some("Wine Test Mapping"));
    assert_eq!(k.GetLastError(), 0);
    let b = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x8000, Some("Wine Test Mapping"));
    assert_eq!(k.GetLastError(), ERROR_ALREADY_EXISTS);
    assert!(!a.is_null() && !b.is_null() && a != b);
    assert_eq!(k.system().sections().sections().count(), 1);
    assert_eq!(query(&mut sys, pid, b).MaximumSize, 0x1000);
    let mut k = Kernel32::new(&mut sys, pid);
    k.SetLastError(0xdead);
    let c = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, Some("WINE TEST MAPPING"));
    assert_eq!(k.GetLastError(), 0);
    assert_eq!(k.system().sections().sections().count(), 2);
    assert!(k.OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, "wine test mapping").is_null());
    assert_eq!(k.GetLastError(), ERROR_FILE_NOT_FOUND);
    assert!(!c.is_null());
    let mut nt = Ntdll::new(&mut sys, pid);
    let mut h = null();
    let size = 0x1000;
    let open_if = OBJECT_ATTRIBUTES { ObjectName: Some("WINE TEST MAPPING"), Attributes: OBJ_OPENIF };
    let s =
        nt.NtCreateSection(&mut h, SECTION_ALL_ACCESS, Some(&open_if), Some(&size), PAGE_READWRITE, SEC_COMMIT, null());
    assert_eq!(s, STATUS_OBJECT_NAME_EXISTS);
    assert!(!h.is_null());
}

#[test]
fn nt_create_of_a_name_in_use_collides_without_obj_openif_f207() {
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let mapping = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, Some("om.c-test"));
    assert!(!mapping.is_null());
    assert!(!k.CreateEventW(None, FALSE, FALSE, Some("an event")).is_null());
    let before = k.system().sections().sections().count();
    let commit = k.system().stats().commit_total;
    let mut nt = Ntdll::new(&mut sys, pid);
    let create = |nt: &mut Ntdll, name: &str, attributes: u32| nt_create_named(nt, name, attributes, 0x1000);
    // Wine om.c test_name_collisions: without OBJ_OPENIF a name in use collides (whatever
    // object holds it), and nothing is created; with it, a section opens, another type is a
    // mismatch.
    assert_eq!(create(&mut nt, "om.c-test", 0), (STATUS_OBJECT_NAME_COLLISION, null()));
    assert_eq!(create(&mut nt, "an event", 0), (STATUS_OBJECT_NAME_COLLISION, null()));
    assert_eq!(create(&mut nt, "an event", OBJ_OPENIF), (STATUS_OBJECT_TYPE_MISMATCH, null()));
    let (s, h) = create(&mut nt, "om.c-test", OBJ_OPENIF);
    assert_eq!(s, STATUS_OBJECT_NAME_EXISTS);
    assert!(!h.is_null());
    // A new name is created with or without the flag.
    assert_eq!(create(&mut nt, "fresh", 0).0, STATUS_SUCCESS);
    assert_eq!(create(&mut nt, "fresh too", OBJ_OPENIF).0, STATUS_SUCCESS);
    assert_eq!(sys.sections().sections().count(), before + 2);
    assert_eq!(sys.stats().commit_total, commit + 2, "only the two new sections are charged");
    // CreateFileMapping passes OBJ_OPENIF: the name opens, with ERROR_ALREADY_EXISTS (F133).
    let mut k = Kernel32::new(&mut sys, pid);
    assert!(!k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, Some("fresh")).is_null());
    assert_eq!(k.GetLastError(), ERROR_ALREADY_EXISTS);
}

#[test]
fn a_name_in_use_opens_only_once_the_new_section_could_be_built_f208() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "f208", 4096);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let existing = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, Some("f208"));
    assert!(!existing.is_null());
    let stats = k.system().stats();
    let too_big = (stats.commit_limit - stats.commit_total + 1) * 0x1000;
    let sections = k.system().sections().sections().count();
    // The new section's commit is charged before its name is looked at: more than the limit
    // leaves fails, name or no name.
    let (high, low) = ((too_big >> 32) as u32, too_big as u32);
    k.SetLastError(0xdead);
    assert!(k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, high, low, Some("f208")).is_null());
    assert_eq!(k.GetLastError(), ERROR_COMMITMENT_LIMIT);
    // SEC_RESERVE charges nothing: the same size opens the existing section, with its size.
    let reserve = PAGE_READWRITE | SEC_RESERVE;
    let opened = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, reserve, high, low, Some("f208"));
    assert!(!opened.is_null());
    assert_eq!(k.GetLastError(), ERROR_ALREADY_EXISTS);
    assert_eq!(query(&mut sys, pid, opened).MaximumSize, 0x1000);
    // A size that fits is charged, then given back when the name opens the existing section.
    let mut k = Kernel32::new(&mut sys, pid);
    let fits = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x8_0000, Some("f208"));
    assert!(!fits.is_null());
    assert_eq!(k.GetLastError(), ERROR_ALREADY_EXISTS);
    assert_eq!(k.system().stats().commit_total, stats.commit_total, "the dropped section's charge is returned");
    // Through NT, with or without OBJ_OPENIF: the charge fails before the name collides.
    let mut nt = Ntdll::new(&mut sys, pid);
    for attributes in [0, OBJ_OPENIF] {
        assert_eq!(nt_create_named(&mut nt, "f208", attributes, too_big as i64), (STATUS_COMMITMENT_LIMIT, null()));
    }
    assert_eq!(nt_create_named(&mut nt, "f208", 0, 0x8_0000), (STATUS_OBJECT_NAME_COLLISION, null()));
    assert_eq!(sys.sections().sections().count(), sections);
    assert_eq!(sys.stats().commit_total, stats.commit_total, "nothing stays charged");
    // A file section bigger than its file grows the file (F125) before the name is looked
    // at: the name in use then opens its section, with its own size, and the file stays grown.
    let mut k = Kernel32::new(&mut sys, pid);
    let f = open(&mut k, &path, GENERIC_READ | GENERIC_WRITE);
    let file_section = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, Some("f208 file"));
    assert_eq!(k.GetLastError(), 0);
    let again = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0x3000, Some("f208 file"));
    assert_eq!(k.GetLastError(), ERROR_ALREADY_EXISTS);
    let mut file_size = 0;
    assert_eq!(k.GetFileSizeEx(f, &mut file_size), TRUE);
    assert_eq!(file_size, 0x3000);
    assert_eq!(query(&mut sys, pid, again).MaximumSize, 0x1000);
    assert_eq!(query(&mut sys, pid, file_section).MaximumSize, 0x1000);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0x3000);
    // A collision (NT without OBJ_OPENIF) comes after the growth too: the file stays grown.
    let mut h = null();
    let attrs = OBJECT_ATTRIBUTES { ObjectName: Some("f208 file"), Attributes: 0 };
    let s = Ntdll::new(&mut sys, pid).NtCreateSection(
        &mut h,
        SECTION_ALL_ACCESS,
        Some(&attrs),
        Some(&0x5000),
        PAGE_READWRITE,
        SEC_COMMIT,
        f,
    );
    assert_eq!((s, h), (STATUS_OBJECT_NAME_COLLISION, null()));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0x5000);
}

#[test]
fn name_goes_with_the_last_handle() {
    // F134 (without views: the name and the object go together)
    let (mut sys, pid) = setup();
    let other = sys.create_process("other").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    let a = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, Some("f134"));
    let mut k2 = Kernel32::new(&mut sys, other);
    let b = k2.OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, "f134");
    assert!(!b.is_null());
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(k.CloseHandle(a), TRUE);
    let reopened = k.OpenFileMappingW(FILE_MAP_READ, FALSE, "f134");
    assert!(!reopened.is_null(), "the other process's handle keeps it");
    let mut k2 = Kernel32::new(&mut sys, other);
    assert_eq!(k2.CloseHandle(b), TRUE);
    let mut k = Kernel32::new(&mut sys, pid);
    assert_eq!(k.system().sections().sections().count(), 1);
    assert_eq!(k.CloseHandle(reopened), TRUE);
    assert!(k.OpenFileMappingW(FILE_MAP_READ, FALSE, "f134").is_null());
    assert_eq!(k.GetLastError(), ERROR_FILE_NOT_FOUND);
    k.SetLastError(0xdead);
    let fresh = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x2000, Some("f134"));
    assert!(!fresh.is_null());
    assert_eq!(k.GetLastError(), 0);
}

#[test]
fn terminating_a_process_closes_its_section_handles() {
    let (mut sys, pid) = setup();
    let other = sys.create_process("other").unwrap();
    let mut k = Kernel32::new(&mut sys, other);
    let h = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x4000, Some("dies"));
    assert!(!h.is_null());
    assert_eq!(k.system().segments().commit(), 4);
    sys.terminate_process(other, 0).unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    assert!(k.OpenFileMappingW(FILE_MAP_READ, FALSE, "dies").is_null());
    assert_eq!(k.system().sections().sections().count(), 0);
    // The section's 4 pages of commit went with it (the checker balances the rest).
    assert_eq!(k.system().segments().commit(), 0);
    k.system().check_invariants().unwrap();
}

#[test]
fn section_limits() {
    // F138
    let (mut sys, pid) = setup();
    let before = commit_total(&sys);
    let (s, _) = nt_create(&mut sys, pid, Some(512 << 30), PAGE_READWRITE, SEC_COMMIT, null());
    assert_eq!(s, STATUS_COMMITMENT_LIMIT);
    let (s, _) = nt_create(&mut sys, pid, Some(0x1000), PAGE_NOACCESS, SEC_RESERVE, null());
    assert_eq!(s, STATUS_INVALID_PAGE_PROTECTION);
    let (s, _) = nt_create(&mut sys, pid, Some(8 << 40), PAGE_READWRITE, SEC_RESERVE, null());
    assert_eq!(s, STATUS_INSUFFICIENT_RESOURCES);
    let (s, _) = nt_create(&mut sys, pid, Some(128 << 40), PAGE_READWRITE, SEC_RESERVE, null());
    assert_eq!(s, STATUS_SECTION_TOO_BIG);
    let (s, _) = nt_create(&mut sys, pid, Some(-1), PAGE_READWRITE, SEC_RESERVE, null());
    assert_eq!(s, STATUS_SECTION_TOO_BIG);
    assert_eq!(sys.sections().sections().count(), 0);
    assert_eq!(commit_total(&sys), before);
    let (s, h) = nt_create(&mut sys, pid, Some(8 << 30), PAGE_READWRITE, SEC_RESERVE, null());
    assert_eq!(s, STATUS_SUCCESS);
    assert_eq!(query(&mut sys, pid, h).MaximumSize, 8 << 30);
    assert_eq!(commit_total(&sys), before);
}

#[test]
fn bad_handles_get_windows_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "bad", 0x2000);
    let (mut sys, pid) = setup();
    let other = sys.create_process("other").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    let process = k.OpenProcess(PROCESS_ALL_ACCESS, FALSE, u32::from(other));
    let f = open(&mut k, &path, ALL_FILE);
    let section = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, None);
    let closed = open(&mut k, &path, ALL_FILE);
    assert_eq!(k.CloseHandle(closed), TRUE);
    let before = commit_total(k.system());
    // Not a file: a process handle, a section handle, a closed handle, garbage.
    for (h, err) in [
        (process, ERROR_INVALID_HANDLE),
        (section, ERROR_INVALID_HANDLE),
        (closed, ERROR_INVALID_HANDLE),
        (0x1234usize as HANDLE, ERROR_INVALID_HANDLE),
    ] {
        assert!(k.CreateFileMappingW(h, None, PAGE_READONLY, 0, 0x1000, None).is_null());
        assert_eq!(k.GetLastError(), err);
        let mut buf = [0u8; 4];
        // F202: the count is zeroed before the handle is looked at.
        let mut n = 99;
        assert_eq!(k.ReadFile(h, &mut buf, &mut n), FALSE);
        assert_eq!((k.GetLastError(), n), (ERROR_INVALID_HANDLE, 0));
        let mut n = 99;
        assert_eq!(k.WriteFile(h, &buf, &mut n), FALSE);
        assert_eq!((k.GetLastError(), n), (ERROR_INVALID_HANDLE, 0));
        let mut size = -1;
        assert_eq!(k.GetFileSizeEx(h, &mut size), FALSE);
        assert_eq!(size, -1);
    }
    assert_eq!(k.CloseHandle(closed), FALSE);
    assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE);
    assert_eq!(k.system().sections().sections().count(), 1);
    assert_eq!(commit_total(k.system()), before);
    // NT: the current-process pseudo handle is a process, not a file (F169's rule).
    let (s, _) = nt_create(&mut sys, pid, Some(0x1000), PAGE_READONLY, SEC_COMMIT, NtCurrentProcess());
    assert_eq!(s, STATUS_OBJECT_TYPE_MISMATCH);
    let (s, _) = nt_create(&mut sys, pid, Some(0x1000), PAGE_READONLY, SEC_COMMIT, 0xDEADBEEFusize as HANDLE);
    assert_eq!(s, STATUS_INVALID_HANDLE);
    let mut info = SECTION_BASIC_INFORMATION::default();
    let mut nt = Ntdll::new(&mut sys, pid);
    assert_eq!(nt.NtQuerySection(f, 0, &mut info, BASIC_LEN, None), STATUS_OBJECT_TYPE_MISMATCH);
    assert_eq!(nt.NtQuerySection(null(), 0, &mut info, BASIC_LEN, None), STATUS_INVALID_HANDLE);
    assert_eq!(nt.NtQuerySection(section, 9, &mut info, BASIC_LEN, None), STATUS_INVALID_INFO_CLASS);
    let mut h = null();
    assert_eq!(nt.NtOpenSection(&mut h, SECTION_QUERY, "nothing"), STATUS_OBJECT_NAME_NOT_FOUND);
    assert!(h.is_null());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0x2000);
}

#[test]
fn files_read_write_seek_and_truncate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rw");
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = path.to_str().unwrap();
    assert_eq!(k.CreateFileW(p, GENERIC_READ, 0, OPEN_EXISTING, 0), INVALID_HANDLE_VALUE);
    assert_eq!(k.GetLastError(), ERROR_FILE_NOT_FOUND);
    let missing_dir = dir.path().join("no-such-dir").join("f");
    assert_eq!(k.CreateFileW(missing_dir.to_str().unwrap(), GENERIC_READ, 0, OPEN_EXISTING, 0), INVALID_HANDLE_VALUE);
    assert_eq!(k.GetLastError(), ERROR_PATH_NOT_FOUND);
    assert_eq!(k.CreateFileW(dir.path().to_str().unwrap(), GENERIC_READ, 0, OPEN_EXISTING, 0), INVALID_HANDLE_VALUE);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    let f = k.CreateFileW(p, GENERIC_READ | GENERIC_WRITE, SHARE_RW, CREATE_NEW, 0);
    assert_ne!(f, INVALID_HANDLE_VALUE);
    assert_eq!(k.GetLastError(), 0);
    assert_eq!(k.CreateFileW(p, GENERIC_READ, SHARE_RW, CREATE_NEW, 0), INVALID_HANDLE_VALUE);
    assert_eq!(k.GetLastError(), ERROR_FILE_EXISTS);
    let mut n = 0;
    assert_eq!(k.WriteFile(f, b"hello, sections", &mut n), TRUE);
    assert_eq!(n, 15);
    let mut pos = 0;
    assert_eq!(k.SetFilePointerEx(f, 7, Some(&mut pos), FILE_BEGIN), TRUE);
    assert_eq!(pos, 7);
    let mut buf = [0u8; 32];
    assert_eq!(k.ReadFile(f, &mut buf, &mut n), TRUE);
    assert_eq!(&buf[..n as usize], b"sections");
    assert_eq!(k.ReadFile(f, &mut buf, &mut n), TRUE);
    assert_eq!(n, 0, "at the end a read succeeds with nothing");
    assert_eq!(k.SetFilePointerEx(f, -100, Some(&mut pos), FILE_CURRENT), FALSE);
    assert_eq!(k.GetLastError(), ERROR_NEGATIVE_SEEK);
    assert_eq!(k.SetFilePointerEx(f, 0, Some(&mut pos), 3), FALSE);
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
    assert_eq!(k.SetFilePointerEx(f, -10, Some(&mut pos), FILE_END), TRUE);
    assert_eq!(pos, 5);
    assert_eq!(k.SetEndOfFile(f), TRUE);
    assert_eq!(k.FlushFileBuffers(f), TRUE);
    let mut size = 0;
    assert_eq!(k.GetFileSizeEx(f, &mut size), TRUE);
    assert_eq!(size, 5);
    assert_eq!(std::fs::read(&path).unwrap(), b"hello");
    // OPEN_ALWAYS on an existing file: success with ERROR_ALREADY_EXISTS.
    let g = k.CreateFileW(p, GENERIC_READ, SHARE_RW, OPEN_ALWAYS, 0);
    assert_ne!(g, INVALID_HANDLE_VALUE);
    assert_eq!(k.GetLastError(), ERROR_ALREADY_EXISTS);
    // A read-only handle cannot write, truncate or flush; it reads from its own position.
    assert_eq!(k.WriteFile(g, b"x", &mut n), FALSE);
    assert_eq!((k.GetLastError(), n), (ERROR_ACCESS_DENIED, 0));
    assert_eq!(k.SetEndOfFile(g), FALSE);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    assert_eq!(k.FlushFileBuffers(g), FALSE);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    assert_eq!(k.ReadFile(g, &mut buf, &mut n), TRUE);
    assert_eq!(&buf[..n as usize], b"hello");
    // A write-only handle cannot read.
    let w = k.CreateFileW(p, GENERIC_WRITE, SHARE_RW, OPEN_EXISTING, 0);
    assert_eq!(k.ReadFile(w, &mut buf, &mut n), FALSE);
    assert_eq!(k.GetLastError(), ERROR_ACCESS_DENIED);
    assert_eq!(std::fs::read(&path).unwrap(), b"hello");
}

#[test]
fn opens_that_do_not_share_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = host_file(&dir, "share", 100);
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let p = path.to_str().unwrap();
    let exclusive = k.CreateFileW(p, GENERIC_READ, 0, OPEN_EXISTING, 0);
    assert_ne!(exclusive, INVALID_HANDLE_VALUE);
    assert_eq!(k.CreateFileW(p, GENERIC_READ | GENERIC_WRITE, SHARE_RW, CREATE_ALWAYS, 0), INVALID_HANDLE_VALUE);
    assert_eq!(k.GetLastError(), ERROR_SHARING_VIOLATION);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 100, "the refused CREATE_ALWAYS truncated nothing");
    assert_eq!(k.CloseHandle(exclusive), TRUE);
    let reader = k.CreateFileW(p, GENERIC_READ, FILE_SHARE_READ, OPEN_EXISTING, 0);
    assert_ne!(reader, INVALID_HANDLE_VALUE);
    assert_eq!(k.CreateFileW(p, GENERIC_WRITE, SHARE_RW, OPEN_EXISTING, 0), INVALID_HANDLE_VALUE);
    assert_eq!(k.GetLastError(), ERROR_SHARING_VIOLATION);
    assert_ne!(k.CreateFileW(p, GENERIC_READ, SHARE_RW, OPEN_EXISTING, 0), INVALID_HANDLE_VALUE);
    // An open for no data access takes no part in sharing.
    assert_ne!(k.CreateFileW(p, 0, 0, OPEN_EXISTING, 0), INVALID_HANDLE_VALUE);
    assert_eq!(k.CreateFileW(p, GENERIC_READ, SHARE_RW, 0, 0), INVALID_HANDLE_VALUE);
    assert_eq!(k.GetLastError(), ERROR_INVALID_PARAMETER);
}

#[test]
fn duplicated_section_handles_carry_their_own_rights() {
    // F136's handle side: the duplicate grants what was asked, SAME_ACCESS what the source had.
    let (mut sys, pid) = setup();
    let other = sys.create_process("other").unwrap();
    let mut k = Kernel32::new(&mut sys, pid);
    let target = k.OpenProcess(PROCESS_DUP_HANDLE, FALSE, u32::from(other));
    let me = k.GetCurrentProcess();
    let h = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, None);
    let mut no_query = null();
    assert_eq!(k.DuplicateHandle(me, h, me, &mut no_query, FILE_MAP_READ, FALSE, 0), TRUE);
    let mut same = null();
    assert_eq!(
        k.DuplicateHandle(me, h, target, &mut same, 0, FALSE, DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE),
        TRUE
    );
    assert_eq!(k.CloseHandle(h), FALSE, "the source was closed");
    let mut bad = null();
    assert_eq!(k.DuplicateHandle(me, 0x1234usize as HANDLE, me, &mut bad, 0, FALSE, DUPLICATE_SAME_ACCESS), FALSE);
    assert_eq!((k.GetLastError(), bad), (ERROR_INVALID_HANDLE, null()));
    let mut info = SECTION_BASIC_INFORMATION::default();
    let class = SECTION_BASIC_INFORMATION_CLASS;
    assert_eq!(
        Ntdll::new(&mut sys, pid).NtQuerySection(no_query, class, &mut info, BASIC_LEN, None),
        STATUS_ACCESS_DENIED
    );
    assert_eq!(Ntdll::new(&mut sys, other).NtQuerySection(same, class, &mut info, BASIC_LEN, None), STATUS_SUCCESS);
    assert_eq!(info.MaximumSize, 0x1000);
    assert_eq!(sys.sections().sections().next().unwrap().handles(), 2);
}

#[test]
fn name_used_by_another_object_type_is_an_invalid_handle() {
    // F137 (with an event, the one other named type here)
    let (mut sys, pid) = setup();
    let mut k = Kernel32::new(&mut sys, pid);
    let event = k.CreateEventW(None, TRUE, FALSE, Some("taken"));
    assert!(!event.is_null());
    assert_eq!(k.GetLastError(), 0);
    let before = commit_total(k.system());
    assert!(k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, Some("taken")).is_null());
    assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE);
    assert!(k.OpenFileMappingW(FILE_MAP_READ, FALSE, "taken").is_null());
    assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE);
    assert_eq!(k.system().sections().sections().count(), 0);
    assert_eq!(commit_total(k.system()), before);
    // The other way round, and a second event of the name is the first.
    let section = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, Some("mapping"));
    assert!(!section.is_null());
    assert!(k.CreateEventW(None, FALSE, FALSE, Some("mapping")).is_null());
    assert_eq!(k.GetLastError(), ERROR_INVALID_HANDLE);
    let again = k.CreateEventW(None, FALSE, FALSE, Some("taken"));
    assert_eq!(k.GetLastError(), ERROR_ALREADY_EXISTS);
    assert_eq!(k.system().sections().events().count(), 1);
    // The name is free once the event's handles are closed.
    assert_eq!(k.CloseHandle(event), TRUE);
    assert_eq!(k.CloseHandle(again), TRUE);
    assert!(!k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, Some("taken")).is_null());
    assert_eq!(k.GetLastError(), 0);
}
