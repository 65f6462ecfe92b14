//! Sections under pressure (issue 7, "Integrity under pressure"): a 16 MiB machine maps a
//! 64 MiB file into two processes; both write and re-read its pages in a seeded random order
//! while a third process squeezes memory (commits and touches private memory, then lets it
//! go). Every byte read is the last written through either view (F160, F161), and once both
//! views are unmapped and the handles closed the host file holds every byte written (F168,
//! issue 7 item 5: the mapped page writer wrote pages back under pressure, and the last close
//! wrote the rest).
//!
//! The test builds its `System` without `with_invariant_checks()` (the checker after every
//! call is too slow for tens of thousands of faults, as in `paging_pressure.rs`) and runs
//! `sys.check_invariants()` itself periodically and at the end.

#![allow(non_snake_case)]
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap, clippy::unwrap_used)]

use ntmem::{Config, System};
use ntmem_win32::*;
use support::*;

mod support;

const PAGE: u64 = 4096;
const PAGE_BYTES: usize = 4096;
const MIB: u64 = 1 << 20;
/// The file: 64 MiB.
const FILE_PAGES: u64 = 64 * MIB / PAGE;
/// Random accesses by the two processes.
const OPS: u64 = 24_000;
/// The squeezer runs every this many accesses.
const SQUEEZE_EVERY: u64 = 3_000;
/// Invariants are checked every this many accesses.
const CHECK_EVERY: u64 = 6_000;

fn first_difference(got: &[u8], want: &[u8]) -> Option<usize> {
    got.iter().zip(want).position(|(a, b)| a != b)
}

/// A third process commits `bytes` of private memory, touches every page, and releases it.
fn squeeze(sys: &mut System, pid: ntmem::ProcessId, bytes: u64) {
    let mut k = Kernel32::new(sys, pid);
    let p = k.VirtualAlloc(0, bytes, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0, "squeeze commit failed: error {}", k.GetLastError());
    for i in 0..bytes / PAGE {
        k.write(p + i * PAGE, &i.to_le_bytes()).unwrap_or_else(|e| panic!("squeeze write {i}: {e:?}"));
    }
    assert_eq!(k.VirtualFree(p, 0, MEM_RELEASE), TRUE, "error {}", k.GetLastError());
}

#[test]
fn file_view_in_two_processes_keeps_every_byte_under_pressure_f160_f161_f168() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let initial: Vec<u8> = (0..FILE_PAGES).flat_map(|p| page_pattern(p, 0)).collect();
    std::fs::write(&path, &initial).unwrap();
    drop(initial);
    let cfg =
        Config::default().with_ram_bytes(16 * MIB).with_page_file(dir.path().join("pagefile.sys"), 32 * MIB, 128 * MIB);
    let mut sys = System::new(cfg).unwrap();
    let a = sys.create_process("a").unwrap();
    let b = sys.create_process("b").unwrap();
    let squeezer = sys.create_process("squeezer").unwrap();

    let (file, section_a, view_a) = {
        let mut k = Kernel32::new(&mut sys, a);
        let f = k.CreateFileW(
            path.to_str().unwrap(),
            GENERIC_READ | GENERIC_WRITE,
            FILE_SHARE_READ | FILE_SHARE_WRITE,
            OPEN_EXISTING,
            0,
        );
        assert_ne!(f, INVALID_HANDLE_VALUE, "error {}", k.GetLastError());
        let h = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, Some("Local\\big"));
        assert!(!h.is_null(), "error {}", k.GetLastError());
        let v = k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
        assert_ne!(v, 0, "error {}", k.GetLastError());
        (f, h, v)
    };
    let (section_b, view_b) = {
        let mut k = Kernel32::new(&mut sys, b);
        let h = k.OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, "Local\\big");
        assert!(!h.is_null(), "error {}", k.GetLastError());
        let v = k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
        assert_ne!(v, 0, "error {}", k.GetLastError());
        (h, v)
    };

    let mut versions = vec![0u32; FILE_PAGES as usize];
    let mut rng = XorShift::new(0x5EC7_10A5);
    let mut buf = [0u8; PAGE_BYTES];
    let (mut writes, mut reads) = (0u64, 0u64);
    for op in 0..OPS {
        let (pid, view) = if rng.below(2) == 0 { (a, view_a) } else { (b, view_b) };
        let page = rng.below(FILE_PAGES);
        let addr = view + page * PAGE;
        let mut k = Kernel32::new(&mut sys, pid);
        if rng.below(5) < 3 {
            let v = versions[page as usize] + 1;
            k.write(addr, &page_pattern(page, v)).unwrap_or_else(|e| panic!("op {op}: write page {page}: {e:?}"));
            versions[page as usize] = v;
            writes += 1;
        } else {
            k.read(addr, &mut buf).unwrap_or_else(|e| panic!("op {op}: read page {page}: {e:?}"));
            let want = page_pattern(page, versions[page as usize]);
            if let Some(d) = first_difference(&buf, &want) {
                panic!(
                    "op {op}: page {page} byte {d}: got {:#04x}, want {:#04x} (version {})",
                    buf[d], want[d], versions[page as usize]
                );
            }
            reads += 1;
        }
        if op % SQUEEZE_EVERY == SQUEEZE_EVERY - 1 {
            squeeze(&mut sys, squeezer, 12 * MIB);
        }
        if op % CHECK_EVERY == CHECK_EVERY - 1 {
            check(&sys, &format!("after op {op}"));
        }
    }
    let during = sys.mapped_io().counters;
    assert!(writes > 0 && reads > 0);
    assert!(during.pages_written > 0, "the mapped page writer wrote file pages under pressure: {during:?}");
    assert!(during.pages_read > FILE_PAGES / 2, "pages were read back from the file: {during:?}");

    // Every page, once more, each through the view that did not write it last... or either.
    for page in 0..FILE_PAGES {
        let (pid, view) = if page % 2 == 0 { (a, view_a) } else { (b, view_b) };
        Kernel32::new(&mut sys, pid)
            .read(view + page * PAGE, &mut buf)
            .unwrap_or_else(|e| panic!("final read page {page}: {e:?}"));
        let want = page_pattern(page, versions[page as usize]);
        if let Some(d) = first_difference(&buf, &want) {
            panic!("final read: page {page} byte {d}: got {:#04x}, want {:#04x}", buf[d], want[d]);
        }
    }
    check(&sys, "before unmapping");

    {
        let mut k = Kernel32::new(&mut sys, b);
        assert_eq!(k.UnmapViewOfFile(view_b), TRUE);
        assert_eq!(k.CloseHandle(section_b), TRUE);
    }
    {
        let mut k = Kernel32::new(&mut sys, a);
        assert_eq!(k.UnmapViewOfFile(view_a), TRUE);
        assert_eq!(k.CloseHandle(section_a), TRUE);
        assert_eq!(k.CloseHandle(file), TRUE);
    }
    check(&sys, "at the end");
    assert!(sys.segments().iter().next().is_none(), "the file's data segment went with its last view");
    let disk = std::fs::read(&path).unwrap();
    assert_eq!(disk.len() as u64, FILE_PAGES * PAGE);
    for page in 0..FILE_PAGES {
        let on_disk = &disk[(page * PAGE) as usize..((page + 1) * PAGE) as usize];
        let want = page_pattern(page, versions[page as usize]);
        if let Some(d) = first_difference(on_disk, &want) {
            panic!(
                "host file page {page} byte {d}: {:#04x} on disk, {:#04x} written (version {})",
                on_disk[d], want[d], versions[page as usize]
            );
        }
    }
    let s = sys.stats();
    assert_eq!(s.page_file_used, 0, "no page of a file-backed section went to the page file: {s:?}");
    eprintln!(
        "writes {writes}, reads {reads}, mapped I/O during the run {during:?}, at the end {:?}",
        sys.mapped_io().counters
    );
}

#[test]
fn memory_held_by_two_views_of_one_section_in_one_process_can_be_trimmed() {
    // Found by the soak (seed 18): a process maps a section twice and touches its pages through
    // both views, so each frame has two working-set entries. When memory runs out, trimming the
    // first entries frees no frame (the other view still maps it); the balancer must go on to
    // the second ones rather than give up and fail the fault with STATUS_NO_MEMORY.
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::default()
        .with_ram_bytes(4 * MIB)
        .with_page_file(dir.path().join("pagefile.sys"), 16 * MIB, 16 * MIB)
        .with_invariant_checks();
    let mut sys = System::new(cfg).unwrap();
    let a = sys.create_process("a").unwrap();
    let mut k = Kernel32::new(&mut sys, a);
    let size = 3 * MIB;
    let h = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, size as u32, None);
    assert!(!h.is_null(), "error {}", k.GetLastError());
    let v1 = k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    let v2 = k.MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
    assert!(v1 != 0 && v2 != 0, "error {}", k.GetLastError());
    for i in 0..size / PAGE {
        k.write(v1 + i * PAGE, &i.to_le_bytes()).unwrap();
        let mut b = [0u8; 8];
        k.read(v2 + i * PAGE, &mut b).unwrap();
        assert_eq!(u64::from_le_bytes(b), i);
    }
    // Private memory now needs the frames the views hold.
    let p = k.VirtualAlloc(0, 2 * MIB, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0, "error {}", k.GetLastError());
    for i in 0..2 * MIB / PAGE {
        k.write(p + i * PAGE, &i.to_le_bytes()).unwrap_or_else(|e| panic!("private page {i}: {e:?}"));
    }
    for i in 0..size / PAGE {
        let mut b = [0u8; 8];
        k.read(v1 + i * PAGE, &mut b).unwrap();
        assert_eq!(u64::from_le_bytes(b), i, "section page {i}");
    }
}
