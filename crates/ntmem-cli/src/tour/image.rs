//! The sections chapter's image: a PE32+ DLL written by `ntmem::pe`, mapped with `SEC_IMAGE`
//! into three processes that share its frames (F162), a write to its data page making one
//! process a private copy, and a second view away from the preferred base, relocated (F163).
//!
//! The DLL is a real file in the host's temp directory, removed at the end; the output calls
//! it `dll.path`, never by its host path.

use super::mapped::{faults, TempFile};
use super::show::{bool_name, mbi, table_count, working_set};
use anyhow::{anyhow, Context, Result};
use ntmem::pe::{BuiltPe, PeBuilder, PeSection};
use ntmem::{ProcessId, System, SystemStats};
use ntmem_win32::*;
use std::io::Write;

/// Where the DLL prefers to be, as a linker's default for a 64-bit DLL.
const BASE: u64 = 0x1_8000_0000;

/// What `.data` starts with in the file.
const ORIGINAL: &[u8] = b"the DLL's data";

/// Where `.data` holds the address of `.rdata` + `RDATA_TARGET`, with its base relocation.
const POINTER_AT: u32 = 0x10;
/// See [`POINTER_AT`].
const RDATA_TARGET: u32 = 0x20;

pub(super) fn run(out: &mut impl Write, sys: &mut System, a: ProcessId, b: ProcessId) -> Result<()> {
    writeln!(out, "A DLL mapped into three processes")?;
    let built = PeBuilder::dll(BASE)
        .write(PeSection::Data, 0, ORIGINAL)
        .pointer(PeSection::Data, POINTER_AT, PeSection::Rdata, RDATA_TARGET)
        .build()
        .map_err(|e| anyhow!("the PE builder failed: {e}"))?;
    let file = TempFile(std::env::temp_dir().join(format!("ntmem-tour-{}.dll", std::process::id())));
    std::fs::write(&file.0, built.bytes()).with_context(|| format!("cannot write {}", file.0.display()))?;
    let path = file.0.to_str().ok_or_else(|| anyhow!("the temp directory {} is not UTF-8", file.0.display()))?;
    let rva = |s: PeSection| built.rva(s).map(u64::from).ok_or_else(|| anyhow!("the DLL has no {s:?}"));
    let (text, data) = (rva(PeSection::Text)?, rva(PeSection::Data)?);
    writeln!(
        out,
        "> PeBuilder::dll({BASE:#x}).write(.data, 0, {:?}).pointer(.data+{POINTER_AT:#x}, .rdata+{RDATA_TARGET:#x})",
        String::from_utf8_lossy(ORIGINAL)
    )?;
    writeln!(
        out,
        "    A PE32+ DLL of {} bytes, written with the `object` crate to dll.path in the host's temp\n    directory: a page of headers, then .text at +{text:#x}, .rdata, .data at +{data:#x} (two pages, only\n    the first in the file) and .reloc, which lists the one absolute address, in .data.",
        built.bytes().len()
    )?;
    let c = sys.create_process("c")?;
    writeln!(out, "> System::create_process(\"c\") = pid {:#x}", u32::from(c))?;
    let active = sys.stats().active_pages;
    let tables = tables(sys, &[a, b, c]);

    let mut k = Kernel32::new(sys, a);
    let (f, section, va) = map_image(&mut k, path)?;
    writeln!(
        out,
        "a> CreateFileW(dll.path, GENERIC_READ | GENERIC_EXECUTE, FILE_SHARE_READ, OPEN_EXISTING, 0)\n     = handle {:#x}",
        f as usize
    )?;
    writeln!(
        out,
        "a> CreateFileMappingW(file, NULL, SEC_IMAGE | PAGE_READONLY, 0, 0, NULL) = handle {:#x}",
        section as usize
    )?;
    writeln!(out, "a> MapViewOfFile(section, FILE_MAP_READ, 0, 0, 0) = {va:#x}")?;
    writeln!(out, "a> CloseHandle(file) = {}: the section keeps the file", bool_name(k.CloseHandle(f)))?;
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    for (offset, name) in [(0, "dll"), (text, "dll+.text"), (data, "dll+.data")] {
        k.VirtualQuery(va + offset, &mut info);
        writeln!(out, "a> VirtualQuery({name}) -> {}", mbi(&info))?;
    }
    writeln!(out, "    At its preferred base. The view follows the PE's section table, not the file's layout:")?;
    writeln!(out, "    each section at its RVA with the protection its characteristics give, in one allocation")?;
    writeln!(out, "    made PAGE_EXECUTE_WRITECOPY (F162).")?;
    let (before, after, n) = touch(&mut k, va)?;
    writeln!(out, "a> read 1 byte of each of its {n} pages = Ok: {}", faults(&before, &after))?;
    writeln!(out, "    A hard fault reads its page with its neighbours in the file (a cluster), so the faults")?;
    writeln!(out, "    on those are soft; .data's second page, past its raw data, is demand-zero.")?;
    for (pid, name) in [(b, 'b'), (c, 'c')] {
        let mut k = Kernel32::new(sys, pid);
        let (f, section, v) = map_image(&mut k, path)?;
        let (file_closed, section_closed) = (k.CloseHandle(f), k.CloseHandle(section));
        writeln!(
            out,
            "{name}> the same three calls = {v:#x}; CloseHandle(file) = {}, CloseHandle(section) = {}",
            bool_name(file_closed),
            bool_name(section_closed)
        )?;
        let (before, after, _) = touch(&mut k, v)?;
        writeln!(out, "{name}> read 1 byte of each page = Ok: {}", faults(&before, &after))?;
    }
    let segments = sys.segments().iter().filter(|(_, s)| s.image().is_some()).count();
    writeln!(
        out,
        "    Three section objects, but an image file has one image segment ({segments} in the system): b\n    and c find the pages a's faults brought in, and nothing more is read from the file."
    )?;
    let mut k = Kernel32::new(sys, c);
    writeln!(out, "c> QueryWorkingSetEx(GetCurrentProcess(), [dll+.text]) -> {}", working_set(&mut k, va + text))?;
    let (pages, frames, low, high) = image_frames(k.system());
    let shares =
        if low == high { format!("each with share count {low}") } else { format!("share counts {low} to {high}") };
    let tables = self::tables(k.system(), &[a, b, c]) - tables;
    let grown = k.system().stats().active_pages - active;
    writeln!(
        out,
        "    The image's segment has {pages} pages; its prototype PTEs hold {frames} frames, {shares}. The\n    machine's active frames grew by {grown} for the three views: {} for the image, counted once, and\n    {tables} for the page tables that map it at {BASE:#x} in each process.",
        grown.saturating_sub(tables)
    )?;

    copy_on_write(out, sys, a, b, c, va + data)?;
    relocated(out, sys, a, section, &built)?;
    writeln!(out)?;
    Ok(())
}

/// b writes to the DLL's data page: a private copy, for b alone.
fn copy_on_write(
    out: &mut impl Write,
    sys: &mut System,
    a: ProcessId,
    b: ProcessId,
    c: ProcessId,
    at: u64,
) -> Result<()> {
    let mut k = Kernel32::new(sys, b);
    let before = k.system().stats();
    k.write(at, b"b's own data").map_err(|e| anyhow!("write faulted: {e:?}"))?;
    let after = k.system().stats();
    writeln!(
        out,
        "b> write(dll+.data, \"b's own data\") = Ok: {} copy-on-write fault",
        after.copy_on_write_faults - before.copy_on_write_faults
    )?;
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    k.VirtualQuery(at, &mut info);
    writeln!(out, "b> VirtualQuery(dll+.data) -> {}", mbi(&info))?;
    writeln!(out, "b> QueryWorkingSetEx(GetCurrentProcess(), [dll+.data]) -> {}", working_set(&mut k, at))?;
    let mut k = Kernel32::new(sys, a);
    k.VirtualQuery(at, &mut info);
    writeln!(out, "a> VirtualQuery(dll+.data) -> {}", mbi(&info))?;
    writeln!(out, "a> QueryWorkingSetEx(GetCurrentProcess(), [dll+.data]) -> {}", working_set(&mut k, at))?;
    for (pid, name) in [(a, 'a'), (c, 'c')] {
        let mut k = Kernel32::new(sys, pid);
        let mut buf = vec![0u8; ORIGINAL.len()];
        k.read(at, &mut buf).map_err(|e| anyhow!("read faulted: {e:?}"))?;
        writeln!(out, "{name}> read(dll+.data, {}) = {:?}", buf.len(), String::from_utf8_lossy(&buf))?;
    }
    writeln!(out, "    The write copied the page into a frame of b's own; a and c still share the original.")?;
    Ok(())
}

/// A second view of the image in a, whose preferred base its first view holds: relocated.
fn relocated(out: &mut impl Write, sys: &mut System, a: ProcessId, section: HANDLE, built: &BuiltPe) -> Result<()> {
    let mut nt = Ntdll::new(sys, a);
    let (mut base, mut size) = (0u64, 0u64);
    let status = nt.NtMapViewOfSection(
        section,
        NtCurrentProcess(),
        &mut base,
        0,
        0,
        None,
        &mut size,
        VIEW_SHARE,
        0,
        PAGE_READONLY,
    );
    if status < 0 {
        return Err(anyhow!("NtMapViewOfSection failed with {status:#x}"));
    }
    writeln!(
        out,
        "a> NtMapViewOfSection(section, NtCurrentProcess(), &base (0), ..) = {}, base {base:#x}",
        status_name(status).unwrap_or("an unnamed status")
    )?;
    let rva = |s: PeSection| built.rva(s).map(u64::from).ok_or_else(|| anyhow!("the DLL has no {s:?}"));
    let &(at, target) = built.pointers().first().ok_or_else(|| anyhow!("the DLL holds no address"))?;
    let (text, data) = (base + rva(PeSection::Text)?, base + rva(PeSection::Data)?);
    let mut k = Kernel32::new(sys, a);
    let mut b = [0u8; 8];
    k.read(base + u64::from(at), &mut b).map_err(|e| anyhow!("read faulted: {e:?}"))?;
    writeln!(
        out,
        "a> read(base+.data+{POINTER_AT:#x}, 8) = {:#x}, where the file holds {target:#x}: a's first view\n    holds the preferred base, so this one is elsewhere, and the fault relocated the page as it\n    filled it (F163).",
        u64::from_le_bytes(b)
    )?;
    k.read(text, &mut b[..1]).map_err(|e| anyhow!("read faulted: {e:?}"))?;
    writeln!(out, "a> read(base+.text, 1) = Ok")?;
    writeln!(out, "a> QueryWorkingSetEx(GetCurrentProcess(), [base+.data]) -> {}", working_set(&mut k, data))?;
    writeln!(out, "a> QueryWorkingSetEx(GetCurrentProcess(), [base+.text]) -> {}", working_set(&mut k, text))?;
    writeln!(out, "    The page holding an address is this view's own copy; the others share the image's frames.")?;
    let closed = k.CloseHandle(section);
    writeln!(out, "a> CloseHandle(section) = {}: the views keep the section", bool_name(closed))?;
    Ok(())
}

/// `CreateFileW`, `CreateFileMappingW(SEC_IMAGE | PAGE_READONLY)` and `MapViewOfFile` of the
/// DLL at `path`: the file's handle, the section's, and the view.
fn map_image(k: &mut Kernel32, path: &str) -> Result<(HANDLE, HANDLE, u64)> {
    let f = k.CreateFileW(path, GENERIC_READ | GENERIC_EXECUTE, FILE_SHARE_READ, OPEN_EXISTING, 0);
    if f == INVALID_HANDLE_VALUE {
        return Err(anyhow!("CreateFileW(dll.path) failed with {}", k.GetLastError()));
    }
    let h = k.CreateFileMappingW(f, None, SEC_IMAGE | PAGE_READONLY, 0, 0, None);
    if h.is_null() {
        return Err(anyhow!("CreateFileMappingW(SEC_IMAGE) failed with {}", k.GetLastError()));
    }
    let v = k.MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    if v == 0 {
        return Err(anyhow!("MapViewOfFile(image) failed with {}", k.GetLastError()));
    }
    Ok((f, h, v))
}

/// Reads one byte of every committed page of the view at `base`: the system's figures before
/// and after, and the pages read.
fn touch(k: &mut Kernel32, base: u64) -> Result<(SystemStats, SystemStats, u64)> {
    let before = k.system().stats();
    let (mut offset, mut n) = (0, 0);
    loop {
        let mut q = MEMORY_BASIC_INFORMATION64::default();
        if k.VirtualQuery(base + offset, &mut q) == 0 || q.AllocationBase != base || q.RegionSize == 0 {
            break;
        }
        if q.State == MEM_COMMIT {
            for page in (0..q.RegionSize).step_by(0x1000) {
                let mut b = [0u8; 1];
                k.read(base + offset + page, &mut b).map_err(|e| anyhow!("read faulted: {e:?}"))?;
                n += 1;
            }
        }
        offset += q.RegionSize;
    }
    Ok((before, k.system().stats(), n))
}

/// The system's image segment: its pages, the frames its prototype PTEs hold, and the
/// lowest and highest share count of those frames.
fn image_frames(sys: &System) -> (u64, u64, u16, u16) {
    let Some((_, s)) = sys.segments().iter().find(|(_, s)| s.image().is_some()) else { return (0, 0, 0, 0) };
    let shares: Vec<u16> = (0..s.pages())
        .filter_map(|p| s.prototype(p).and_then(|p| p.frame()))
        .map(|f| sys.phys().pfn(f).share_count())
        .collect();
    let (low, high) = (shares.iter().min().copied().unwrap_or(0), shares.iter().max().copied().unwrap_or(0));
    (s.pages(), shares.len() as u64, low, high)
}

/// Page-table frames of these processes together.
fn tables(sys: &System, pids: &[ProcessId]) -> u64 {
    pids.iter().map(|&p| table_count(sys, p)).sum()
}
