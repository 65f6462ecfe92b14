//! Injected mapped-file I/O failures (issue 7, "Injected faults"), through Kernel32:
//!
//! - a failed read of a file page raises STATUS_IN_PAGE_ERROR to the access, at the byte that
//!   faulted, and changes nothing: a retry succeeds with the right bytes (also for a page that
//!   was written, written back and left memory);
//! - a failed write-back keeps the page dirty, and it is written later: by `FlushViewOfFile`
//!   (which reports the failure), by the mapped page writer under memory pressure, and by the
//!   last unmap and close;
//! - nothing written through a view is ever lost;
//! - a cluster read into frames scattered over RAM (one host read a run of contiguous frames,
//!   or through the I/O buffer) reads the file's bytes, and a failed one changes nothing.
//!
//! The failures are armed with `System::inject_mapped_faults` (section/frames.rs); each armed
//! failure is spent by one read or write of a host file.

#![allow(non_snake_case)]
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap, clippy::unwrap_used)]

use ntmem::{Config, FaultPlan, ProcessId, System};
use ntmem_win32::*;
use support::*;

mod support;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const PAGE: u64 = 4096;
const PAGE_BYTES: usize = 4096;
const MIB: u64 = 1 << 20;

/// A system, its directory (page file and host files) and one process. `sys` is declared
/// first so it drops (and removes its page file) before the directory goes.
struct Machine {
    sys: System,
    pid: ProcessId,
    dir: TempDir,
}

fn machine(ram: u64, checks: bool) -> Machine {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg =
        Config::default().with_ram_bytes(ram).with_page_file(dir.path().join("pagefile.sys"), 16 * MIB, 64 * MIB);
    if checks {
        cfg = cfg.with_invariant_checks();
    }
    let mut sys = System::new(cfg).unwrap();
    let pid = sys.create_process("p").unwrap();
    Machine { sys, pid, dir }
}

/// A host file of `pages` pages of version-0 patterns.
fn host_file(dir: &Path, name: &str, pages: u64) -> PathBuf {
    let path = dir.join(name);
    let data: Vec<u8> = (0..pages).flat_map(|p| page_pattern(p, 0)).collect();
    std::fs::write(&path, data).unwrap();
    path
}

/// Opens `path`, makes an unnamed read-write section of it and maps all of it with `access`:
/// (file, section, view).
fn map_file(sys: &mut System, pid: ProcessId, path: &Path, access: u32) -> (HANDLE, HANDLE, u64) {
    let mut k = Kernel32::new(sys, pid);
    let f = k.CreateFileW(
        path.to_str().unwrap(),
        GENERIC_READ | GENERIC_WRITE,
        FILE_SHARE_READ | FILE_SHARE_WRITE,
        OPEN_EXISTING,
        0,
    );
    assert_ne!(f, INVALID_HANDLE_VALUE, "error {}", k.GetLastError());
    let h = k.CreateFileMappingW(f, None, PAGE_READWRITE, 0, 0, None);
    assert!(!h.is_null(), "error {}", k.GetLastError());
    let v = k.MapViewOfFile(h, access, 0, 0, 0);
    assert_ne!(v, 0, "error {}", k.GetLastError());
    (f, h, v)
}

fn unmap_and_close(sys: &mut System, pid: ProcessId, (f, h, v): (HANDLE, HANDLE, u64)) {
    let mut k = Kernel32::new(sys, pid);
    assert_eq!(k.UnmapViewOfFile(v), TRUE);
    assert_eq!(k.CloseHandle(h), TRUE);
    assert_eq!(k.CloseHandle(f), TRUE);
}

fn read_page(sys: &mut System, pid: ProcessId, addr: u64) -> [u8; PAGE_BYTES] {
    let mut buf = [0u8; PAGE_BYTES];
    Kernel32::new(sys, pid).read(addr, &mut buf).unwrap_or_else(|e| panic!("read {addr:#x}: {e:?}"));
    buf
}

fn disk_page(path: &Path, page: u64) -> Vec<u8> {
    std::fs::read(path).unwrap()[(page * PAGE) as usize..((page + 1) * PAGE) as usize].to_vec()
}

fn assert_page(got: &[u8], want: &[u8; PAGE_BYTES], what: &str) {
    if let Some(d) = got.iter().zip(want.iter()).position(|(a, b)| a != b) {
        panic!("{what}: byte {d}: got {:#04x}, want {:#04x}", got[d], want[d]);
    }
}

/// Another process commits `bytes`, touches every page, and releases it: the standby pages of
/// everybody else are repurposed.
fn squeeze(sys: &mut System, bytes: u64) {
    let pid = sys.create_process("squeezer").unwrap();
    let mut k = Kernel32::new(sys, pid);
    let p = k.VirtualAlloc(0, bytes, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    assert_ne!(p, 0, "squeeze: error {}", k.GetLastError());
    for i in 0..bytes / PAGE {
        k.write(p + i * PAGE, &i.to_le_bytes()).unwrap_or_else(|e| panic!("squeeze write {i}: {e:?}"));
    }
    assert_eq!(k.VirtualFree(p, 0, MEM_RELEASE), TRUE);
    assert_eq!(k.TerminateProcess(k.GetCurrentProcess(), 0), TRUE);
}

#[test]
fn failed_file_read_raises_in_page_error_and_a_retry_reads_the_page() {
    const N: u64 = 32;
    let mut m = machine(8 * MIB, true);
    let path = host_file(m.dir.path(), "f.bin", N);
    let (sys, pid) = (&mut m.sys, m.pid);
    let mapping = map_file(sys, pid, &path, FILE_MAP_WRITE);
    let v = mapping.2;

    // A read of page 5, never touched: the file read fails.
    let before = sys.mapped_io();
    sys.inject_mapped_faults(FaultPlan { fail_reads: 1, fail_writes: 0 });
    let addr = v + 5 * PAGE + 100;
    {
        let mut k = Kernel32::new(sys, pid);
        let mut b = [0u8; 16];
        let e = k.read(addr, &mut b).expect_err("the file read fails");
        assert_eq!(e.code, STATUS_IN_PAGE_ERROR);
        assert_eq!(e.address, addr, "the faulting byte");
        assert_eq!(e.information, [0, addr], "a read");
        assert_eq!(b, [0u8; 16], "nothing was read into the buffer");
    }
    check(sys, "after the failed read");
    assert_eq!(sys.mapped_io().faults, FaultPlan::default(), "the plan is spent");
    assert_eq!(sys.mapped_io().counters.pages_read, before.counters.pages_read, "nothing was read");
    // The retry reads the page (and its cluster).
    assert_page(&read_page(sys, pid, v + 5 * PAGE), &page_pattern(5, 0), "the retry of page 5");

    // A write into page 20, never touched: the read under the write fails; nothing is written.
    sys.inject_mapped_faults(FaultPlan { fail_reads: 1, fail_writes: 0 });
    let addr = v + 20 * PAGE + 8;
    {
        let mut k = Kernel32::new(sys, pid);
        let e = k.write(addr, &[0xEE; 8]).expect_err("the file read under the write fails");
        assert_eq!(e.code, STATUS_IN_PAGE_ERROR);
        assert_eq!(e.address, addr, "the faulting byte");
        assert_eq!(e.information, [1, addr], "a write");
    }
    check(sys, "after the failed write access");
    assert_page(&read_page(sys, pid, v + 20 * PAGE), &page_pattern(20, 0), "a failed write access wrote nothing");
    Kernel32::new(sys, pid).write(addr, &[0xEE; 8]).expect("the retry writes");
    let mut want = page_pattern(20, 0);
    want[8..16].copy_from_slice(&[0xEE; 8]);
    assert_page(&read_page(sys, pid, v + 20 * PAGE), &want, "the retried write");

    // A page written, flushed, trimmed and gone from memory: a failed read loses nothing.
    let page27 = page_pattern(27, 1);
    Kernel32::new(sys, pid).write(v + 27 * PAGE, &page27).unwrap();
    {
        let mut k = Kernel32::new(sys, pid);
        assert_eq!(k.FlushViewOfFile(v, 0), TRUE, "error {}", k.GetLastError());
        let h = k.GetCurrentProcess();
        assert_eq!(k.EmptyWorkingSet(h), TRUE);
    }
    assert_page(&disk_page(&path, 27), &page27, "the flushed page on disk");
    squeeze(sys, 12 * MIB);
    assert!(
        sys.segments().iter().all(|(_, s)| s.prototype(27).and_then(|p| p.frame()).is_none()),
        "page 27 left memory"
    );
    sys.inject_mapped_faults(FaultPlan { fail_reads: 1, fail_writes: 0 });
    {
        let mut k = Kernel32::new(sys, pid);
        let mut b = [0u8; 4];
        let e = k.read(v + 27 * PAGE, &mut b).expect_err("the file read fails");
        assert_eq!(e.code, STATUS_IN_PAGE_ERROR);
    }
    assert_page(&read_page(sys, pid, v + 27 * PAGE), &page27, "the retry reads the written bytes back");
    check(sys, "at the end");
    unmap_and_close(sys, pid, mapping);
    assert_page(&disk_page(&path, 20), &want, "the retried write reached the file");
}

#[test]
fn failed_flush_keeps_the_page_dirty_and_the_next_flush_writes_it_f167() {
    const N: u64 = 16;
    let mut m = machine(8 * MIB, true);
    let path = host_file(m.dir.path(), "f.bin", N);
    let (sys, pid) = (&mut m.sys, m.pid);
    let mapping = map_file(sys, pid, &path, FILE_MAP_WRITE);
    let v = mapping.2;
    Kernel32::new(sys, pid).write(v + 3 * PAGE, &page_pattern(3, 1)).unwrap();
    Kernel32::new(sys, pid).write(v + 4 * PAGE, &page_pattern(4, 1)).unwrap();

    sys.inject_mapped_faults(FaultPlan { fail_reads: 0, fail_writes: 1 });
    {
        let mut k = Kernel32::new(sys, pid);
        assert_eq!(k.FlushViewOfFile(v, 0), FALSE, "the write-back fails");
        assert_eq!(k.GetLastError(), ERROR_IO_DEVICE);
    }
    check(sys, "after the failed flush");
    assert_eq!(sys.mapped_io().faults, FaultPlan::default(), "the plan is spent");
    assert_page(&disk_page(&path, 3), &page_pattern(3, 0), "the file is as it was");
    assert_page(&read_page(sys, pid, v + 3 * PAGE), &page_pattern(3, 1), "the view keeps the bytes");

    // Trimmed, the pages are still dirty: on the modified list, not standby.
    {
        let mut k = Kernel32::new(sys, pid);
        let h = k.GetCurrentProcess();
        assert_eq!(k.EmptyWorkingSet(h), TRUE);
    }
    assert!(sys.stats().modified_pages >= 2, "the written pages stay modified: {:?}", sys.stats());

    let written = sys.mapped_io().counters.pages_written;
    {
        let mut k = Kernel32::new(sys, pid);
        assert_eq!(k.FlushViewOfFile(v + 3 * PAGE, 2 * PAGE), TRUE, "error {}", k.GetLastError());
    }
    assert_eq!(sys.mapped_io().counters.pages_written, written + 2, "both pages written, once");
    assert_page(&disk_page(&path, 3), &page_pattern(3, 1), "page 3 on disk");
    assert_page(&disk_page(&path, 4), &page_pattern(4, 1), "page 4 on disk");
    assert_eq!(sys.stats().modified_pages, 0, "clean now: {:?}", sys.stats());
    check(sys, "at the end");
    unmap_and_close(sys, pid, mapping);
}

#[test]
fn failed_mapped_page_writes_under_pressure_lose_nothing() {
    // 8 MiB of file on a 4 MiB machine, every page written while the mapped page writer's
    // first writes fail.
    const N: u64 = 2048;
    let mut m = machine(4 * MIB, false);
    let path = host_file(m.dir.path(), "f.bin", N);
    let (sys, pid) = (&mut m.sys, m.pid);
    let mapping = map_file(sys, pid, &path, FILE_MAP_WRITE);
    let v = mapping.2;
    sys.inject_mapped_faults(FaultPlan { fail_reads: 0, fail_writes: 5 });
    for i in 0..N {
        Kernel32::new(sys, pid)
            .write(v + i * PAGE, &page_pattern(i, 1))
            .unwrap_or_else(|e| panic!("write page {i}: {e:?}"));
    }
    check(sys, "after the writes");
    assert_eq!(sys.mapped_io().faults.fail_writes, 0, "the mapped page writer met the failures");
    let written = sys.mapped_io().counters.pages_written;
    assert!(written > 0, "the mapped page writer wrote pages under pressure");
    // Reads fail now and then too; every page reads back as written.
    sys.inject_mapped_faults(FaultPlan { fail_reads: 3, fail_writes: 0 });
    let mut in_page_errors = 0;
    for i in 0..N {
        let mut buf = [0u8; PAGE_BYTES];
        let mut attempts = 0;
        while let Err(e) = Kernel32::new(sys, pid).read(v + i * PAGE, &mut buf) {
            assert_eq!(e.code, STATUS_IN_PAGE_ERROR, "page {i}: {e:?}");
            in_page_errors += 1;
            attempts += 1;
            assert!(attempts <= 3, "page {i} still failing after the plan was spent");
        }
        assert_page(&buf, &page_pattern(i, 1), &format!("page {i}"));
    }
    assert_eq!(in_page_errors, 3, "each armed read failure was met once");
    check(sys, "after the reads");
    unmap_and_close(sys, pid, mapping);
    let disk = std::fs::read(&path).unwrap();
    for i in 0..N {
        assert_page(
            &disk[(i * PAGE) as usize..((i + 1) * PAGE) as usize],
            &page_pattern(i, 1),
            &format!("host page {i}"),
        );
    }
    check(sys, "at the end");
}

#[test]
fn failed_read_under_a_copy_on_write_fault_makes_no_copy_f158() {
    const N: u64 = 16;
    let mut m = machine(8 * MIB, true);
    let path = host_file(m.dir.path(), "f.bin", N);
    let (sys, pid) = (&mut m.sys, m.pid);
    let mapping = map_file(sys, pid, &path, FILE_MAP_COPY);
    let v = mapping.2;
    sys.inject_mapped_faults(FaultPlan { fail_reads: 1, fail_writes: 0 });
    let addr = v + 9 * PAGE;
    {
        let mut k = Kernel32::new(sys, pid);
        let e = k.write(addr, b"mine").expect_err("the file read under the copy fails");
        assert_eq!((e.code, e.address, e.information), (STATUS_IN_PAGE_ERROR, addr, [1, addr]));
        let mut info = MEMORY_BASIC_INFORMATION64::default();
        assert_ne!(k.VirtualQuery(addr, &mut info), 0);
        assert_eq!(info.Protect, PAGE_WRITECOPY, "no copy was made: the page is still copy-on-write");
    }
    check(sys, "after the failed copy-on-write fault");
    Kernel32::new(sys, pid).write(addr, b"mine").expect("the retry copies the page");
    let mut want = page_pattern(9, 0);
    want[..4].copy_from_slice(b"mine");
    assert_page(&read_page(sys, pid, addr), &want, "the private copy");
    unmap_and_close(sys, pid, mapping);
    assert_page(&disk_page(&path, 9), &page_pattern(9, 0), "the copy never reaches the file");
    check(sys, "at the end");
}

/// When every write-back of the last close fails, the written page is not dropped with its
/// segment: as NT keeps a control area whose pages are still modified, the segment stays
/// (dying) until the mapped page writer has written them, so the data reaches the file once
/// the disk works again.
#[test]
fn failed_write_backs_at_the_last_close_lose_nothing_f168() {
    const N: u64 = 16;
    let mut m = machine(8 * MIB, true);
    let path = host_file(m.dir.path(), "f.bin", N);
    let (sys, pid) = (&mut m.sys, m.pid);
    let mapping = map_file(sys, pid, &path, FILE_MAP_WRITE);
    let v = mapping.2;
    Kernel32::new(sys, pid).write(v + 7 * PAGE, &page_pattern(7, 1)).unwrap();
    sys.inject_mapped_faults(FaultPlan { fail_reads: 0, fail_writes: 3 });
    unmap_and_close(sys, pid, mapping);
    check(sys, "after the last close");
    assert_eq!(sys.segments().iter().count(), 1, "the segment outlives its last reference while a page waits");
    assert!(sys.segments().iter().all(|(_, s)| s.is_dying()));
    assert_page(&disk_page(&path, 7), &page_pattern(7, 0), "not written yet");
    // The writers try again each time they run; the disk works again after two more failures.
    for _ in 0..3 {
        sys.write_modified_pages();
        check(sys, "after the writers ran");
    }
    assert_eq!(sys.mapped_io().faults, FaultPlan::default(), "the plan is spent");
    assert_page(&disk_page(&path, 7), &page_pattern(7, 1), "the page reached the file after all");
    assert_eq!(sys.segments().iter().count(), 0, "then the segment goes");
}

/// The frames holding segment pages `pages` of the only file segment.
fn cluster_frames(sys: &System, pages: std::ops::Range<u64>) -> Vec<u64> {
    let (_, seg) = sys.segments().iter().find(|(_, s)| s.is_file()).expect("the file's segment");
    pages.map(|p| seg.prototype(p).and_then(|pte| pte.frame()).expect("in memory").as_u64()).collect()
}

/// Runs of consecutive frame numbers in `frames`.
fn runs(frames: &[u64]) -> usize {
    1 + frames.windows(2).filter(|w| w[1] != w[0] + 1).count()
}

#[test]
fn a_cluster_read_into_scattered_frames_reads_the_file() {
    const N: u64 = 32;
    let mut m = machine(8 * MIB, true);
    let path = host_file(m.dir.path(), "f.bin", N);
    let (sys, pid) = (&mut m.sys, m.pid);
    let mapping = map_file(sys, pid, &path, FILE_MAP_READ);
    let v = mapping.2;
    // A private block whose frames, decommitted in a chosen order, go to the free list in that
    // order: the next cluster's frames.
    let block = {
        let mut k = Kernel32::new(sys, pid);
        let p = k.VirtualAlloc(0, 64 * PAGE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
        assert_ne!(p, 0, "error {}", k.GetLastError());
        (0..64).for_each(|i| k.write(p + i * PAGE, &[1]).unwrap());
        p
    };
    let decommit = |sys: &mut System, pages: &[u64]| {
        let mut k = Kernel32::new(sys, pid);
        for &i in pages {
            assert_eq!(k.VirtualFree(block + i * PAGE, PAGE, MEM_DECOMMIT), TRUE, "error {}", k.GetLastError());
        }
    };
    let read_cluster = |sys: &mut System, first: u64, what: &str| {
        for page in first..first + 8 {
            assert_page(&read_page(sys, pid, v + page * PAGE), &page_pattern(page, 0), what);
        }
    };

    // Pages 0..8 into every other frame: eight pieces. The first read fails and changes nothing.
    decommit(sys, &[0, 2, 4, 6, 8, 10, 12, 14]);
    sys.inject_mapped_faults(FaultPlan { fail_reads: 1, fail_writes: 0 });
    let e = Kernel32::new(sys, pid).read(v, &mut [0u8; 8]).expect_err("the file read fails");
    assert_eq!(e.code, STATUS_IN_PAGE_ERROR);
    check(sys, "after the failed read of a scattered cluster");
    read_cluster(sys, 0, "a cluster in eight pieces");
    assert_eq!(runs(&cluster_frames(sys, 0..8)), 8, "the cluster's frames are scattered");
    // Pages 8..16 into two runs of four frames.
    decommit(sys, &[20, 21, 22, 23, 30, 31, 32, 33]);
    read_cluster(sys, 8, "a cluster in two pieces");
    assert_eq!(runs(&cluster_frames(sys, 8..16)), 2, "two runs of frames");
    // Pages 16..24 into one run.
    decommit(sys, &(40..48).collect::<Vec<_>>());
    read_cluster(sys, 16, "a cluster in one piece");
    assert_eq!(runs(&cluster_frames(sys, 16..24)), 1, "one run of frames");
    assert_eq!(sys.mapped_io().counters.read_ios, 3, "one I/O a cluster");
    check(sys, "after the reads");
    unmap_and_close(sys, pid, mapping);
}
