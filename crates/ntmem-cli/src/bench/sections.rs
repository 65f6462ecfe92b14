//! The section figures: faults through prototype PTEs and the calls of views, each beside its
//! baseline measured in the same run, like with like.
//!
//! - `shared_page_fault`: a second process's first read of a page already resident through
//!   another process's view, against ntmem's own demand-zero fault (`demand_zero_fault`'s
//!   operation: `calls::demand_zero_touches`, warm 256 MiB machine, 16 Ki pages a sample).
//! - `file_view_sweep`: a cold sweep of a 64 MiB file-backed view against `pread` of the same
//!   file, 1 MiB a call (a throughput). "Cold" means the same on both sides: the bytes are in
//!   the host's page cache (the file was just written, as for every paging figure) and not in
//!   the reader's memory — every sample maps a fresh section of the file, whose segment the
//!   last sample's close deleted, so each page is a hard fault reading the file (counted).
//!   Dropping the host's cache (`posix_fadvise(DONTNEED)`) would time the disk of a shared
//!   machine, on both sides alike, and hide the memory manager's own cost.
//! - `cow_fault`: the first write to each page of a `FILE_MAP_COPY` view of a page-file
//!   section whose pages are resident, against a host 4 KiB `memcpy` into a touched page.
//! - `map_unmap_view`: `MapViewOfFile` + `UnmapViewOfFile` of 1 MiB of a file-backed section
//!   against `mmap` + `munmap` of 1 MiB of a host file.
//!
//! Every figure drives `Kernel32`, as the other call and fault figures do, and checks through
//! `System::stats` that the faults it timed are the kind it names.

use super::calls::{demand_zero_touches, machine, raised, touch, warm_machine, Scratch};
use super::native::{self, HostFile};
use super::timing::{paired_medians, per_op};
use super::Figure;
use anyhow::{bail, ensure, Context, Result};
use ntmem::{Config, SystemStats};
use ntmem_win32::{
    Kernel32, FILE_MAP_COPY, FILE_MAP_READ, FILE_MAP_WRITE, FILE_SHARE_READ, FILE_SHARE_WRITE, GENERIC_READ, HANDLE,
    INVALID_HANDLE_VALUE, OPEN_EXISTING, PAGE_READONLY, PAGE_READWRITE,
};
use std::path::Path;

const PAGE: u64 = 4096;
const MIB: u64 = 1 << 20;

/// The fault figures' machines: 256 MiB, warm (see `calls::warm_machine`), as
/// `demand_zero_fault`'s.
const RAM: u64 = 256 * MIB;
/// Pages faulted per sample of the fault figures: 64 MiB, `demand_zero_fault`'s count.
const FAULT_PAGES: u64 = 16 * 1024;

/// `CreateFileMappingW`, failing with the last error. `file` is `INVALID_HANDLE_VALUE` for a
/// page-file section; `size` 0 takes the file's.
fn create_section(k: &mut Kernel32<'_>, file: HANDLE, protect: u32, size: u64, name: Option<&str>) -> Result<HANDLE> {
    #[allow(clippy::cast_possible_truncation)]
    let (high, low) = ((size >> 32) as u32, size as u32);
    let h = k.CreateFileMappingW(file, None, protect, high, low, name);
    if h.is_null() {
        bail!("CreateFileMappingW({protect:#x}, {size:#x}) failed: error {}", k.GetLastError());
    }
    Ok(h)
}

/// `MapViewOfFile` of `size` bytes from offset 0 (0: the whole section), failing with the
/// last error.
fn map(k: &mut Kernel32<'_>, section: HANDLE, access: u32, size: u64) -> Result<u64> {
    match k.MapViewOfFile(section, access, 0, 0, size) {
        0 => bail!("MapViewOfFile({access:#x}, {size:#x}) failed: error {}", k.GetLastError()),
        base => Ok(base),
    }
}

/// `UnmapViewOfFile`, failing with the last error.
fn unmap(k: &mut Kernel32<'_>, base: u64) -> Result<()> {
    if k.UnmapViewOfFile(base) == 0 {
        bail!("UnmapViewOfFile({base:#x}) failed: error {}", k.GetLastError());
    }
    Ok(())
}

/// `CloseHandle`, failing with the last error.
fn close(k: &mut Kernel32<'_>, h: HANDLE) -> Result<()> {
    if k.CloseHandle(h) == 0 {
        bail!("CloseHandle failed: error {}", k.GetLastError());
    }
    Ok(())
}

/// `CreateFileW(path, GENERIC_READ, share read and write, OPEN_EXISTING)`.
fn open_for_reading(k: &mut Kernel32<'_>, path: &Path) -> Result<HANDLE> {
    let name = path.to_str().context("a scratch path that is not UTF-8")?;
    let h = k.CreateFileW(name, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, OPEN_EXISTING, 0);
    if h == INVALID_HANDLE_VALUE {
        bail!("CreateFileW({name}) failed: error {}", k.GetLastError());
    }
    Ok(h)
}

/// The 8 bytes the program reads at `addr`.
fn read_u64(k: &mut Kernel32<'_>, addr: u64) -> Result<u64> {
    let mut b = [0u8; 8];
    k.read(addr, &mut b).map_err(raised)?;
    Ok(u64::from_ne_bytes(b))
}

/// What a timed section changed in one figure of `System::stats`.
fn delta(before: &SystemStats, after: &SystemStats, field: fn(&SystemStats) -> u64) -> u64 {
    field(after) - field(before)
}

/// The first read, by a second process, of each page of a 64 MiB page-file section that a
/// first process has written (so every page is resident, valid in the first process's view):
/// each read is a prototype-PTE fault that finds the frame valid and only raises its share
/// count. Against `demand_zero_fault`'s operation on a machine of its own.
pub(super) fn shared_page_fault() -> Result<Figure> {
    const NAME: &str = "bench-shared";
    let size = FAULT_PAGES * PAGE;
    let (mut sys, writer) = warm_machine(RAM)?;
    let reader = sys.create_process("reader").context("creating the reader")?;
    {
        let mut k = Kernel32::new(&mut sys, writer);
        let h = create_section(&mut k, INVALID_HANDLE_VALUE, PAGE_READWRITE, size, Some(NAME))?;
        let view = map(&mut k, h, FILE_MAP_WRITE, 0)?;
        (0..FAULT_PAGES).try_for_each(|page| touch(&mut k, view + page * PAGE))?;
    }
    let section = {
        let mut k = Kernel32::new(&mut sys, reader);
        let h = k.OpenFileMappingW(FILE_MAP_READ, 0, NAME);
        ensure!(!h.is_null(), "OpenFileMappingW({NAME}) failed: error {}", k.GetLastError());
        h
    };
    let (mut zero_sys, zero_pid) = warm_machine(RAM)?;
    let (ntmem_ns, baseline_ns) = paired_medians(
        || {
            let before = sys.stats();
            let mut k = Kernel32::new(&mut sys, reader);
            let view = map(&mut k, section, FILE_MAP_READ, 0)?;
            let mut sum = 0u64;
            let ns = per_op(usize::try_from(FAULT_PAGES)?, || {
                for page in 0..FAULT_PAGES {
                    sum = sum.wrapping_add(read_u64(&mut k, view + page * PAGE)?);
                }
                Ok::<(), anyhow::Error>(())
            })?;
            // The writer wrote 1 at the start of every page.
            ensure!(sum == FAULT_PAGES, "the reader does not see the writer's bytes");
            unmap(&mut k, view)?;
            let after = sys.stats();
            let prototype = delta(&before, &after, |s| s.prototype_faults);
            let other = delta(&before, &after, |s| s.hard_faults + s.demand_zero_faults + s.mapped_pages_read);
            ensure!(
                prototype == FAULT_PAGES && other == 0,
                "{prototype} prototype-PTE faults and {other} others reading {FAULT_PAGES} shared pages"
            );
            Ok(ns)
        },
        || demand_zero_touches(&mut Kernel32::new(&mut zero_sys, zero_pid), FAULT_PAGES),
    )?;
    Ok(Figure {
        name: "shared_page_fault",
        ntmem_ns,
        baseline_ns,
        baseline: "ntmem demand-zero fault (first touch of a committed page, warm 256 MiB machine, 16 Ki pages: \
                   demand_zero_fault's operation)",
        goal: 1.0,
    })
}

/// The size of `file_view_sweep`'s file.
const SWEEP_BYTES: u64 = 64 * MIB;
/// The host's reads of it: 1 MiB a call.
const SWEEP_CHUNK: u64 = MIB;

/// A sweep, one 8-byte read per page, over a 64 MiB read-only view of a file not in the
/// reader's memory (each page a hard fault; page-in clusters of 8), against `pread` of the
/// same file front to back, 1 MiB a call, each into its place in a touched 64 MiB buffer (the
/// view's pages stay, each in a frame of its own, so the host's bytes land in memory of their
/// own too). Both read the host's page cache (see the module's doc for what "cold" means here).
pub(super) fn file_view_sweep() -> Result<Figure> {
    let scratch = Scratch::new("file-view")?;
    let path = scratch.file("mapped.bin");
    let host = HostFile::create(&path, usize::try_from(SWEEP_BYTES)?)?;
    let (mut sys, pid) = warm_machine(RAM)?;
    let pages = SWEEP_BYTES / PAGE;
    let (ntmem_ns, baseline_ns) = paired_medians(
        || {
            let before = sys.stats();
            let mut k = Kernel32::new(&mut sys, pid);
            // A fresh section each sample: the last one's close deleted its segment.
            let file = open_for_reading(&mut k, &path)?;
            let section = create_section(&mut k, file, PAGE_READONLY, 0, None)?;
            let view = map(&mut k, section, FILE_MAP_READ, 0)?;
            let mut sum = 0u64;
            let ns = per_op(usize::try_from(pages)?, || {
                for page in 0..pages {
                    sum = sum.wrapping_add(read_u64(&mut k, view + page * PAGE)?);
                }
                Ok::<(), anyhow::Error>(())
            })?;
            ensure!(sum == pages * (pages - 1) / 2, "a page of the view does not hold its index");
            unmap(&mut k, view)?;
            close(&mut k, section)?;
            close(&mut k, file)?;
            let read = delta(&before, &sys.stats(), |s| s.mapped_pages_read);
            ensure!(read == pages, "the sweep read {read} of {pages} pages from the file: not cold");
            Ok(ns)
        },
        || host.read_sequential(usize::try_from(SWEEP_CHUNK)?),
    )?;
    Ok(Figure {
        name: "file_view_sweep",
        ntmem_ns,
        baseline_ns,
        baseline: "host pread of the same 64 MiB file front to back, 1 MiB a call, each into its place in a \
                   touched 64 MiB buffer, one 8-byte load per 4 KiB; both sides from the host page cache, ntmem's \
                   view a fresh section each sample",
        goal: 0.5,
    })
}

/// The first write (1 byte) to each page of a 64 MiB `FILE_MAP_COPY` view of a page-file
/// section whose pages are resident (written through a read-write view of the same process):
/// each write is a copy-on-write fault that copies the shared frame into a new private one.
/// Against a host 4 KiB `memcpy` into each page of a freshly touched mapping, from as many
/// distinct source pages.
pub(super) fn cow_fault() -> Result<Figure> {
    let size = FAULT_PAGES * PAGE;
    let (mut sys, pid) = warm_machine(RAM)?;
    let mut k = Kernel32::new(&mut sys, pid);
    let section = create_section(&mut k, INVALID_HANDLE_VALUE, PAGE_READWRITE, size, None)?;
    let shared = map(&mut k, section, FILE_MAP_WRITE, 0)?;
    (0..FAULT_PAGES).try_for_each(|page| touch(&mut k, shared + page * PAGE))?;
    let source = vec![1u8; usize::try_from(size)?];
    let (ntmem_ns, baseline_ns) = paired_medians(
        || {
            let copies = k.system().stats().copy_on_write_faults;
            let view = map(&mut k, section, FILE_MAP_COPY, 0)?;
            let ns = per_op(usize::try_from(FAULT_PAGES)?, || {
                (0..FAULT_PAGES).try_for_each(|page| touch(&mut k, view + page * PAGE))
            })?;
            unmap(&mut k, view)?;
            let copies = k.system().stats().copy_on_write_faults - copies;
            ensure!(copies == FAULT_PAGES, "{copies} copy-on-write faults writing {FAULT_PAGES} pages");
            Ok(ns)
        },
        || native::copies_into_touched_pages(&source),
    )?;
    Ok(Figure {
        name: "cow_fault",
        ntmem_ns,
        baseline_ns,
        baseline: "host 4 KiB memcpy into each page of a freshly touched anonymous mapping (4 KiB pages), \
                   64 MiB of distinct source pages",
        goal: 3.0,
    })
}

/// `MapViewOfFile` + `UnmapViewOfFile` of a 1 MiB read-only view of a file-backed section
/// (nothing touched), against `mmap` + `munmap` of 1 MiB of a host file, shared read-only.
pub(super) fn map_unmap_view() -> Result<Figure> {
    const PAIRS: usize = 20_000;
    const VIEW: u64 = MIB;
    let scratch = Scratch::new("map-view")?;
    let path = scratch.file("view.bin");
    let host = HostFile::create(&path, usize::try_from(VIEW)?)?;
    let (mut sys, pid) = machine(Config::default())?;
    let mut k = Kernel32::new(&mut sys, pid);
    let file = open_for_reading(&mut k, &path)?;
    let section = create_section(&mut k, file, PAGE_READONLY, 0, None)?;
    let (ntmem_ns, baseline_ns) = paired_medians(
        || {
            per_op(PAIRS, || {
                for _ in 0..PAIRS {
                    let view = map(&mut k, section, FILE_MAP_READ, VIEW)?;
                    unmap(&mut k, view)?;
                }
                Ok(())
            })
        },
        || host.map_unmap_pairs(usize::try_from(VIEW)?, PAIRS),
    )?;
    Ok(Figure {
        name: "map_unmap_view",
        ntmem_ns,
        baseline_ns,
        baseline: "Linux mmap (PROT_READ, MAP_SHARED) + munmap of 1 MiB of a file",
        goal: 1.0,
    })
}
