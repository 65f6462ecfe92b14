//! The tour's chapter on sections: a real file mapped into two processes (a write in one is
//! read in the other, then flushed and read back from the disk), the process PTE that points
//! at its prototype PTE once the page is trimmed, a copy-on-write view making a private copy,
//! (in `named.rs`) a non-persisted section passing a message and gone after its last close, and
//! (in `image.rs`) a DLL mapped into three processes that share its frames.
//!
//! The file is a real one in the host's temp directory, removed at the end; the output names
//! it `path`, never by its host path, so the golden test sees the same text everywhere.

use super::show::{bool_name, kib, mbi, pages, prototype_behind, prototype_line, pte_of, working_set};
use super::{image, named};
use anyhow::{anyhow, Context, Result};
use ntmem::{Config, ProcessId, System, SystemStats};
use ntmem_win32::*;
use std::io::Write;
use std::path::PathBuf;

/// The section's size: three pages, so that a page written in the middle has a neighbour on
/// each side.
const SIZE: u32 = 0x3000;

/// A temporary file, removed however the chapter ends.
pub(super) struct TempFile(pub(super) PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(super) fn run(out: &mut impl Write) -> Result<()> {
    writeln!(out, "Memory-mapped files and shared pages")?;
    writeln!(out, "------------------------------------")?;
    let mut sys = System::new(Config::default())?;
    writeln!(out, "> System::new(Config::default())   (a fresh 1 GiB machine for this chapter)")?;
    let a = sys.create_process("a")?;
    let b = sys.create_process("b")?;
    writeln!(
        out,
        "> System::create_process(\"a\") = pid {:#x}, System::create_process(\"b\") = pid {:#x}",
        u32::from(a),
        u32::from(b)
    )?;
    writeln!(out, "    A section object stands for pages that views map into address spaces. Its segment")?;
    writeln!(out, "    holds one prototype PTE per page: the page's one true state, however many processes")?;
    writeln!(out, "    map it. A view's own PTEs only point at it, or copy its frame when valid.\n")?;
    let file = TempFile(std::env::temp_dir().join(format!("ntmem-tour-{}.dat", std::process::id())));
    let path = file.0.to_str().ok_or_else(|| anyhow!("the temp directory {} is not UTF-8", file.0.display()))?;
    let views = persisted(out, &mut sys, a, b, path)?;
    prototype(out, &mut sys, a, b, &views)?;
    copy_on_write(out, &mut sys, a, &views, path)?;
    named::run(out, &mut sys, a, b)?;
    image::run(out, &mut sys, a, b)?;
    let s = sys.stats();
    writeln!(out, "  Figures (System::stats)")?;
    writeln!(
        out,
        "    faults: {} soft, {} hard, {} demand-zero, {} copy-on-write; {} of them through a\n    prototype PTE. Mapped-file I/O: reads {} ({}), writes {} ({})\n",
        s.soft_faults,
        s.hard_faults,
        s.demand_zero_faults,
        s.copy_on_write_faults,
        s.prototype_faults,
        s.mapped_read_ios,
        pages(s.mapped_pages_read),
        s.mapped_write_ios,
        pages(s.mapped_pages_written)
    )?;
    Ok(())
}

/// What the first part leaves for the next ones.
struct Views {
    /// a's handle to its section of the file.
    section: HANDLE,
    /// a's read/write view.
    va: u64,
    /// b's read-only view.
    vb: u64,
}

/// A file on disk, mapped into two processes; a write in one is read in the other, flushed,
/// and read back from the disk.
fn persisted(out: &mut impl Write, sys: &mut System, a: ProcessId, b: ProcessId, path: &str) -> Result<Views> {
    writeln!(out, "A file on disk, mapped into two processes")?;
    let mut k = Kernel32::new(sys, a);
    let rw = GENERIC_READ | GENERIC_WRITE;
    let share = FILE_SHARE_READ | FILE_SHARE_WRITE;
    let f = k.CreateFileW(path, rw, share, CREATE_ALWAYS, 0);
    if f == INVALID_HANDLE_VALUE {
        return Err(anyhow!("CreateFileW({path}) failed with {}", k.GetLastError()));
    }
    writeln!(
        out,
        "a> CreateFileW(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,\n              CREATE_ALWAYS, 0) = handle {:#x}",
        f as usize
    )?;
    writeln!(out, "    path: a new, empty file in the host's temp directory (removed at the end).")?;
    let section = file_section(&mut k, f, PAGE_READWRITE, SIZE)?;
    writeln!(
        out,
        "a> CreateFileMappingW(file, NULL, PAGE_READWRITE, 0, {SIZE:#x}, NULL) = handle {:#x}",
        section as usize
    )?;
    let len = std::fs::metadata(path).with_context(|| format!("cannot read the size of {path}"))?.len();
    writeln!(
        out,
        "    A section bigger than its file grows the file (F125): it is {} on disk now. The file's\n    segment has {} prototype PTEs; nothing is read yet:",
        kib(len),
        segment_pages(k.system())
    )?;
    writeln!(out, "    {}", prototype_line(k.system(), file_segment(k.system()), 0))?;
    let va = k.MapViewOfFile(section, FILE_MAP_WRITE, 0, 0, 0);
    if va == 0 {
        return Err(anyhow!("MapViewOfFile failed with {}", k.GetLastError()));
    }
    writeln!(out, "a> MapViewOfFile(section, FILE_MAP_WRITE, 0, 0, 0) = {va:#x}")?;
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    k.VirtualQuery(va, &mut info);
    writeln!(out, "a> VirtualQuery(va) -> {}", mbi(&info))?;
    let before = k.system().stats();
    k.write(va, b"hello from a").map_err(|e| anyhow!("write faulted: {e:?}"))?;
    let after = k.system().stats();
    writeln!(out, "a> write(va, \"hello from a\") = Ok: {}", faults(&before, &after))?;
    writeln!(out, "    The first touch finds the page in the file: the fault reads it, with its neighbours")?;
    writeln!(out, "    (a cluster), into frames the prototype PTEs now hold. a's PTE copies the frame:")?;
    writeln!(out, "    PTE of va: {}", pte_of(k.system(), a, va))?;

    let mut k = Kernel32::new(sys, b);
    let fb = k.CreateFileW(path, GENERIC_READ, share, OPEN_EXISTING, 0);
    if fb == INVALID_HANDLE_VALUE {
        return Err(anyhow!("CreateFileW({path}) failed with {}", k.GetLastError()));
    }
    writeln!(
        out,
        "b> CreateFileW(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, OPEN_EXISTING, 0)\n     = handle {:#x}",
        fb as usize
    )?;
    let sb = file_section(&mut k, fb, PAGE_READONLY, 0)?;
    writeln!(out, "b> CreateFileMappingW(file, NULL, PAGE_READONLY, 0, 0, NULL) = handle {:#x}", sb as usize)?;
    writeln!(
        out,
        "    b's own section object, but a file has one data segment, whoever maps it: still {} in\n    the system, so both processes see the same pages (F161).",
        k.system().segments().iter().count()
    )?;
    let vb = k.MapViewOfFile(sb, FILE_MAP_READ, 0, 0, 0);
    if vb == 0 {
        return Err(anyhow!("MapViewOfFile failed with {}", k.GetLastError()));
    }
    writeln!(out, "b> MapViewOfFile(section, FILE_MAP_READ, 0, 0, 0) = {vb:#x}")?;
    let (text, before, after) = observed_read(&mut k, vb, 12)?;
    writeln!(out, "b> read(vb, 12) = {text:?}: {}", faults(&before, &after))?;
    writeln!(
        out,
        "    The prototype PTE is valid: b's PTE takes the same frame, and the frame's share count goes to 2."
    )?;
    writeln!(out, "    PTE of vb: {}", pte_of(k.system(), b, vb))?;

    let mut k = Kernel32::new(sys, a);
    let before = k.system().stats();
    let ok = k.FlushViewOfFile(va, 0);
    let after = k.system().stats();
    writeln!(
        out,
        "a> FlushViewOfFile(va, 0) = {}: {} write of {} to the file (the one dirty page)",
        bool_name(ok),
        after.mapped_write_ios - before.mapped_write_ios,
        pages(after.mapped_pages_written - before.mapped_pages_written)
    )?;
    let disk = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
    writeln!(
        out,
        "> std::fs::read(path) = {} bytes, starting {:?}",
        disk.len(),
        String::from_utf8_lossy(disk.get(..12).unwrap_or_default())
    )?;
    writeln!(out, "    Read by the host, behind the memory manager's back: the bytes are in the file.\n")?;
    Ok(Views { section, va, vb })
}

/// The PTEs behind the shared page: each process's, and the prototype PTE they lead to, as
/// the page leaves one working set, then the other, then comes back.
fn prototype(out: &mut impl Write, sys: &mut System, a: ProcessId, b: ProcessId, v: &Views) -> Result<()> {
    writeln!(out, "The PTEs behind a shared page")?;
    let mut k = Kernel32::new(sys, a);
    writeln!(out, "a> QueryWorkingSetEx(GetCurrentProcess(), [va]) -> {}", working_set(&mut k, v.va))?;
    let mut k = Kernel32::new(sys, b);
    writeln!(out, "b> QueryWorkingSetEx(GetCurrentProcess(), [vb]) -> {}", working_set(&mut k, v.vb))?;
    writeln!(out, "    One frame in two working sets; each process keeps its own protection of it.")?;
    let h = k.GetCurrentProcess();
    let ok = k.EmptyWorkingSet(h);
    writeln!(out, "b> EmptyWorkingSet(GetCurrentProcess()) = {}", bool_name(ok))?;
    writeln!(out, "    PTE of vb: {}", pte_of(k.system(), b, v.vb))?;
    writeln!(out, "    {}", prototype_behind(k.system(), b, v.vb))?;
    writeln!(out, "    b's PTE no longer holds the frame: it says where to look instead, the prototype PTE,")?;
    writeln!(out, "    still valid because a maps the page. Trimming a shared page lowers its share count.")?;
    let mut k = Kernel32::new(sys, a);
    let h = k.GetCurrentProcess();
    let ok = k.EmptyWorkingSet(h);
    writeln!(out, "a> EmptyWorkingSet(GetCurrentProcess()) = {}", bool_name(ok))?;
    writeln!(out, "    PTE of va: {}", pte_of(k.system(), a, v.va))?;
    writeln!(out, "    {}", prototype_behind(k.system(), a, v.va))?;
    writeln!(out, "    At share count 0 the frame is in no working set: the prototype PTE turns transition, and")?;
    writeln!(out, "    the frame, clean since the flush, waits on the standby list, still holding the page.")?;
    let mut k = Kernel32::new(sys, b);
    let (text, before, after) = observed_read(&mut k, v.vb, 12)?;
    writeln!(out, "b> read(vb, 12) = {text:?}: {}", faults(&before, &after))?;
    writeln!(out, "    The frame is taken back off the standby list; nothing is read.")?;
    writeln!(out, "    {}\n", prototype_behind(k.system(), b, v.vb).replace("Prototype PTE", "Now prototype PTE"))?;
    Ok(())
}

/// A copy-on-write view of the same file: a write makes a private copy of one page.
fn copy_on_write(out: &mut impl Write, sys: &mut System, a: ProcessId, v: &Views, path: &str) -> Result<()> {
    writeln!(out, "Copy-on-write: a private copy of one page")?;
    let mut k = Kernel32::new(sys, a);
    let commit = k.system().commit().total();
    let c = k.MapViewOfFile(v.section, FILE_MAP_COPY, 0, 0, 0);
    if c == 0 {
        return Err(anyhow!("MapViewOfFile failed with {}", k.GetLastError()));
    }
    writeln!(out, "a> MapViewOfFile(section, FILE_MAP_COPY, 0, 0, 0) = {c:#x}")?;
    writeln!(
        out,
        "    Commit charge +{}: a copy view is charged for its whole size, since any page of it may\n    become private (F159).",
        pages(k.system().commit().total() - commit)
    )?;
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    k.VirtualQuery(c, &mut info);
    writeln!(out, "a> VirtualQuery(c) -> {}", mbi(&info))?;
    let before = k.system().stats();
    k.write(c + 0x1000, b"a's own").map_err(|e| anyhow!("write faulted: {e:?}"))?;
    let after = k.system().stats();
    writeln!(
        out,
        "a> write(c+0x1000, \"a's own\") = Ok: {} copy-on-write fault",
        after.copy_on_write_faults - before.copy_on_write_faults
    )?;
    writeln!(out, "    The page is copied into a new frame that only this view maps, and becomes")?;
    writeln!(out, "    PAGE_READWRITE in a region of its own; its neighbours stay copy-on-write (F158):")?;
    for (offset, name) in [(0, "c"), (0x1000, "c+0x1000"), (0x2000, "c+0x2000")] {
        k.VirtualQuery(c + offset, &mut info);
        writeln!(out, "a> VirtualQuery({name}) -> {}", mbi(&info))?;
    }
    writeln!(out, "    PTE of c+0x1000:  {}", pte_of(k.system(), a, c + 0x1000))?;
    writeln!(out, "    {}", prototype_line(k.system(), file_segment(k.system()), 1))?;
    let mut buf = [0u8; 7];
    k.read(v.va + 0x1000, &mut buf).map_err(|e| anyhow!("read faulted: {e:?}"))?;
    writeln!(out, "a> read(va+0x1000, 7) = {buf:?}: the shared view does not see the copy")?;
    let ok = k.FlushViewOfFile(c, 0);
    writeln!(out, "a> FlushViewOfFile(c, 0) = {}", bool_name(ok))?;
    let disk = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
    let at = disk.get(0x1000..0x1007).unwrap_or_default();
    writeln!(out, "> std::fs::read(path)[0x1000..0x1007] = {at:?}: nor does the file; a private page is")?;
    writeln!(out, "    never written back, and it goes when the view is unmapped.")?;
    let commit = k.system().commit().total();
    let ok = k.UnmapViewOfFile(c);
    writeln!(
        out,
        "a> UnmapViewOfFile(c) = {}: the copy is gone, and {} of commit comes back.\n",
        bool_name(ok),
        pages(commit - k.system().commit().total())
    )?;
    Ok(())
}

/// `CreateFileMappingW(file, NULL, protect, 0, size, NULL)`, or its last error.
fn file_section(k: &mut Kernel32, file: HANDLE, protect: u32, size: u32) -> Result<HANDLE> {
    let h = k.CreateFileMappingW(file, None, protect, 0, size, None);
    if h.is_null() {
        return Err(anyhow!("CreateFileMappingW failed with {}", k.GetLastError()));
    }
    Ok(h)
}

/// Pages of the system's only segment (the file's).
fn segment_pages(sys: &System) -> u64 {
    sys.segments().iter().map(|(_, s)| s.pages()).sum()
}

/// Reads `n` bytes at `addr`, with the system's figures just before and just after.
pub(super) fn observed_read(k: &mut Kernel32, addr: u64, n: usize) -> Result<(String, SystemStats, SystemStats)> {
    let before = k.system().stats();
    let mut b = vec![0u8; n];
    k.read(addr, &mut b).map_err(|e| anyhow!("read faulted: {e:?}"))?;
    Ok((String::from_utf8_lossy(&b).into_owned(), before, k.system().stats()))
}

/// The faults between two readings of the figures: how many went through a prototype PTE,
/// and how each was resolved.
pub(super) fn faults(before: &SystemStats, after: &SystemStats) -> String {
    let mut how = Vec::new();
    let hard = after.hard_faults - before.hard_faults;
    if hard > 0 {
        let reads = after.mapped_read_ios - before.mapped_read_ios;
        how.push(format!(
            "{hard} hard ({reads} {} of {} from the file)",
            plural(reads, "read", "reads"),
            pages(after.mapped_pages_read - before.mapped_pages_read)
        ));
    }
    let soft = after.soft_faults - before.soft_faults;
    if soft > 0 {
        how.push(format!("{soft} soft (no I/O)"));
    }
    let zero = after.demand_zero_faults - before.demand_zero_faults;
    if zero > 0 {
        how.push(format!("{zero} demand-zero"));
    }
    let n = after.prototype_faults - before.prototype_faults;
    format!("{n} prototype-PTE {}: {}", plural(n, "fault", "faults"), how.join(", "))
}

/// `one` for 1, `many` for any other count.
fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// The number of the file's data segment.
fn file_segment(sys: &System) -> u32 {
    sys.segments().iter().find(|(_, s)| s.is_file()).map_or(u32::MAX, |(id, _)| id.raw())
}
