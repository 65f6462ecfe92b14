//! The tour's paging chapter: a small machine under pressure. A page goes valid → transition
//! (trimmed to the modified list) → standby (written by the modified page writer) → page file
//! (its frame repurposed) → valid again (a hard fault that reads its neighbours too).

use super::show::{bool_name, kib, pages, pte_of};
use anyhow::{anyhow, Context, Result};
use ntmem::paging::Pte;
use ntmem::units::Vpn;
use ntmem::{Config, ProcessId, System, SystemStats};
use ntmem_win32::*;
use std::io::Write;

const RAM: u64 = 16 << 20;
const REGION: u64 = 1 << 20;
const PRESSURE: u64 = 24 << 20;

pub(super) fn run(out: &mut impl Write) -> Result<()> {
    writeln!(out, "Paging: a 16 MiB machine under pressure")?;
    writeln!(out, "---------------------------------------")?;
    let path = std::env::temp_dir().join(format!("ntmem-tour-{}.sys", std::process::id()));
    let config = Config::default().with_ram_bytes(RAM).with_page_file(&path, 16 << 20, 64 << 20);
    let mut sys = System::new(config).with_context(|| format!("cannot boot with the page file {}", path.display()))?;
    writeln!(out, "> System::new(RAM 16 MiB, a page file of 16 MiB that may grow to 64 MiB)")?;
    let s = sys.stats();
    writeln!(
        out,
        "    {} frames. The page file is a real file in the host's temp directory (removed at the end).\n    Its slot 0 is never used, as on NT: a page-file PTE then never reads as all zero but\n    for its protection, which would look like a demand-zero PTE. So 16 MiB hold {} slots, and\n    the commit limit is {} RAM frames (all but frame 0) + {} slots = {}.",
        sys.phys().frame_count(),
        s.page_file_capacity,
        sys.phys().frame_count() - 1,
        s.page_file_capacity,
        pages(s.commit_limit)
    )?;
    let app = sys.create_process("app")?;
    writeln!(out, "> System::create_process(\"app\") = pid {:#x}", u32::from(app))?;
    let hog = sys.create_process("hog")?;
    writeln!(out, "> System::create_process(\"hog\") = pid {:#x}", u32::from(hog))?;
    let mut k = Kernel32::new(&mut sys, app);
    let p = k.VirtualAlloc(0, REGION, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if p == 0 {
        return Err(anyhow!("VirtualAlloc failed with {}", k.GetLastError()));
    }
    writeln!(out, "app> VirtualAlloc(NULL, 0x100000, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE) = {p:#x}")?;
    for page in 0..REGION / 4096 {
        k.write(p + page * 4096, format!("page {page:3}").as_bytes()).map_err(|e| anyhow!("{e:?}"))?;
    }
    writeln!(out, "app> for N in 0..256: write(p + N * 0x1000, \"page N\") = Ok")?;
    writeln!(out, "    PTE of p: {}", pte_of(k.system(), app, p))?;
    state(out, &k, app, p, "valid")?;

    let h = k.GetCurrentProcess();
    let ok = k.EmptyWorkingSet(h);
    writeln!(out, "\napp> EmptyWorkingSet(GetCurrentProcess()) = {}", bool_name(ok))?;
    writeln!(out, "    Every page leaves the working set. Each was written and has no copy anywhere, so each")?;
    writeln!(out, "    goes to the modified list; the PTE becomes a transition PTE.")?;
    writeln!(out, "    PTE of p: {}", pte_of(k.system(), app, p))?;
    state(out, &k, app, p, "trimmed")?;

    let written = sys.write_modified_pages();
    let s = sys.stats();
    writeln!(out, "\n> System::write_modified_pages() = {written}   (the modified page writer, run by hand here)")?;
    writeln!(
        out,
        "    {written} pages go to the page file in {} writes (clusters of up to 64 contiguous slots,\n    from slot 1); the frames move to the standby list, still holding the pages.",
        s.page_write_ios
    )?;
    let mut k = Kernel32::new(&mut sys, app);
    state(out, &k, app, p, "written")?;
    let (b, before, after) = observed_read(&mut k, p)?;
    writeln!(
        out,
        "app> read(p, 8) = {:?}: a soft fault ({} soft, {} page-file reads): the frame is taken\n    back off the standby list.",
        String::from_utf8_lossy(&b),
        after.soft_faults - before.soft_faults,
        after.page_read_ios - before.page_read_ios
    )?;
    let ok = k.EmptyWorkingSet(h);
    writeln!(out, "app> EmptyWorkingSet(GetCurrentProcess()) = {}", bool_name(ok))?;
    let again = sys.write_modified_pages();
    writeln!(out, "> System::write_modified_pages() = {again}")?;
    writeln!(out, "    p was only read since its copy was written: trimmed, it goes straight to standby, and")?;
    writeln!(out, "    nothing is written again (a clean page keeps its page-file copy).")?;

    let mut k = Kernel32::new(&mut sys, hog);
    let q = k.VirtualAlloc(0, PRESSURE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if q == 0 {
        return Err(anyhow!("VirtualAlloc failed with {}", k.GetLastError()));
    }
    writeln!(out, "\nhog> VirtualAlloc(NULL, 0x1800000, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE) = {q:#x}")?;
    for page in 0..PRESSURE / 4096 {
        k.write(q + page * 4096, &[1]).map_err(|e| anyhow!("{e:?}"))?;
    }
    writeln!(out, "hog> for N in 0..6144: write(q + N * 0x1000, [1]) = Ok")?;
    writeln!(
        out,
        "    \"hog\" touches 24 MiB, more than the RAM. Frames run short: the balancer trims working\n    sets, the modified page writer writes, and standby frames are repurposed. The standby\n    frame of p is given to \"hog\"; p's PTE now says where its bytes are:"
    )?;
    let mut k = Kernel32::new(&mut sys, app);
    writeln!(out, "    PTE of p: {}", pte_of(k.system(), app, p))?;
    let (b, before, after) = observed_read(&mut k, p)?;
    writeln!(
        out,
        "app> read(p, 8) = {:?}: a hard fault. One read of {} pages: p and the neighbours whose\n    slots follow on (the page-in cluster, 8 by default); the neighbours go to standby.",
        String::from_utf8_lossy(&b),
        after.pages_read - before.pages_read
    )?;
    writeln!(out, "    PTE of p:        {}", pte_of(k.system(), app, p))?;
    writeln!(out, "    PTE of p+0x1000: {}", pte_of(k.system(), app, p + 0x1000))?;
    let (b, before, after) = observed_read(&mut k, p + 0x1000)?;
    writeln!(
        out,
        "app> read(p+0x1000, 8) = {:?}: {} soft fault, {} page-file reads: it came in with p.",
        String::from_utf8_lossy(&b),
        after.soft_faults - before.soft_faults,
        after.page_read_ios - before.page_read_ios
    )?;
    let mut ok = true;
    let mut b = [0u8; 8];
    for page in 0..REGION / 4096 {
        k.read(p + page * 4096, &mut b).map_err(|e| anyhow!("{e:?}"))?;
        ok &= b == *format!("page {page:3}").as_bytes();
    }
    writeln!(
        out,
        "app> for N in 0..256: read(p + N * 0x1000, 8) = \"page N\"? {}",
        if ok { "yes, every one" } else { "NO" }
    )?;
    figures(out, &mut k, app, h)
}

/// The figures at the end of the chapter, and why the page file kept its size.
fn figures(out: &mut impl Write, k: &mut Kernel32, app: ProcessId, h: HANDLE) -> Result<()> {
    writeln!(out, "\n  Figures (System::stats)")?;
    let s = k.system().stats();
    writeln!(
        out,
        "    faults: {} demand-zero, {} soft, {} hard; page file: {} reads ({}), {} writes ({})",
        s.demand_zero_faults,
        s.soft_faults,
        s.hard_faults,
        s.page_read_ios,
        pages(s.pages_read),
        s.page_write_ios,
        pages(s.pages_written)
    )?;
    writeln!(
        out,
        "    lists: {} zeroed, {} free, {} standby, {} modified; {} active",
        pages(s.zeroed_pages),
        pages(s.free_pages),
        pages(s.standby_pages),
        pages(s.modified_pages),
        pages(s.active_pages)
    )?;
    writeln!(
        out,
        "    commit: {} of a limit of {}; page file {}, {} of it in use",
        pages(s.commit_total),
        pages(s.commit_limit),
        kib(k.system().page_files().bytes()),
        pages(s.page_file_used)
    )?;
    writeln!(
        out,
        "    The page file did not grow: as on Windows, a page file grows when a commit charge would\n    not fit under the commit limit, not when pages are written to it. The charge peaked at {},\n    under the limit of {}, and the {} written fit in its {} of slots.",
        pages(s.commit_peak),
        pages(s.commit_limit),
        pages(s.pages_written),
        pages(s.page_file_capacity)
    )?;
    let mut pmc = PROCESS_MEMORY_COUNTERS_EX::default();
    let ok = k.GetProcessMemoryInfo(h, &mut pmc);
    writeln!(out, "app> GetProcessMemoryInfo(GetCurrentProcess(), &pmc) = {}", bool_name(ok))?;
    writeln!(
        out,
        "    PageFaultCount {}, WorkingSetSize {} (peak {}), PagefileUsage {}",
        pmc.PageFaultCount,
        kib(pmc.WorkingSetSize as u64),
        kib(pmc.PeakWorkingSetSize as u64),
        kib(pmc.PagefileUsage as u64)
    )?;
    let f = k.system().process(app).map(|p| p.counters().faults).unwrap_or_default();
    writeln!(
        out,
        "    PageFaultCount = app's resolved faults: {} demand-zero + {} soft + {} hard.",
        f.demand_zero, f.soft, f.hard
    )?;
    writeln!(out)?;
    Ok(())
}

/// Reads 8 bytes at `addr`, with the system's figures just before and just after.
fn observed_read(k: &mut Kernel32, addr: u64) -> Result<([u8; 8], SystemStats, SystemStats)> {
    let before = k.system().stats();
    let mut b = [0u8; 8];
    k.read(addr, &mut b).map_err(|e| anyhow!("{e:?}"))?;
    Ok((b, before, k.system().stats()))
}

/// Where the page's frame is: its PFN state and page-file copy.
fn state(out: &mut impl Write, k: &Kernel32, pid: ProcessId, addr: u64, label: &str) -> Result<()> {
    let sys = k.system();
    let space = sys.process(pid).and_then(|p| p.space()).ok_or(anyhow!("process gone"))?;
    let pte = space.pte(sys.phys(), Vpn::default().add(addr >> 12));
    let line = match pte.frame() {
        Some(pfn) => {
            let e = sys.phys().pfn(pfn);
            let copy = e
                .backing()
                .map_or("no page-file copy".to_owned(), |(f, s)| format!("copy in page file {f} slot {s:#x}"));
            format!("frame {:#x}: {:?}, {copy}", pfn.as_u64(), e.state())
        }
        None => match pte {
            Pte::PageFile { .. } => "no frame: on disk".to_owned(),
            _ => "no frame".to_owned(),
        },
    };
    writeln!(out, "    ({label}) {line}")?;
    Ok(())
}
