//! The tour's paging chapter: a small machine under pressure. A page goes valid → transition
//! (trimmed to the modified list) → standby (written by the modified page writer) → page file
//! (its frame repurposed) → valid again (a hard fault that reads its neighbours too).

use super::show::pte_of;
use anyhow::{anyhow, Result};
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
    let dir = std::env::temp_dir();
    let path = dir.join(format!("ntmem-tour-{}.sys", std::process::id()));
    let mut sys = System::new(Config::default().with_ram_bytes(RAM).with_page_file(&path, 16 << 20, 64 << 20))?;
    let s = sys.stats();
    writeln!(
        out,
        "  RAM 16 MiB ({} frames) and a page file of 16 MiB growing to 64 MiB (a real file in the\n  temp directory). Commit limit = RAM + page file = {} pages.",
        sys.phys().frame_count(),
        s.commit_limit
    )?;
    let app = sys.create_process("app")?;
    let hog = sys.create_process("hog")?;
    let mut k = Kernel32::new(&mut sys, app);
    let p = k.VirtualAlloc(0, REGION, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if p == 0 {
        return Err(anyhow!("VirtualAlloc failed with {}", k.GetLastError()));
    }
    for page in 0..REGION / 4096 {
        k.write(p + page * 4096, format!("page {page:3}").as_bytes()).map_err(|e| anyhow!("{e:?}"))?;
    }
    writeln!(out, "  \"app\" commits 1 MiB at {p:#x} and writes \"page N\" into each of its 256 pages.")?;
    writeln!(out, "    PTE of p:  {}", pte_of(k.system(), app, p))?;
    state(out, &k, app, p, "valid")?;

    let h = k.GetCurrentProcess();
    k.EmptyWorkingSet(h);
    writeln!(out, "\n  EmptyWorkingSet: every page leaves the working set. Each was written, and there is no")?;
    writeln!(out, "  copy anywhere, so each goes to the modified list; the PTE becomes a transition PTE.")?;
    writeln!(out, "    PTE of p:  {}", pte_of(k.system(), app, p))?;
    state(out, &k, app, p, "trimmed")?;

    let written = sys.write_modified_pages();
    let s = sys.stats();
    writeln!(
        out,
        "\n  The modified page writer writes {written} pages to the page file in {} writes (clusters of up to\n  64 contiguous slots); the frames move to the standby list, still holding the pages.",
        s.page_write_ios
    )?;
    let mut k = Kernel32::new(&mut sys, app);
    state(out, &k, app, p, "written")?;
    let (b, before, after) = observed_read(&mut k, p)?;
    writeln!(
        out,
        "  read(p) = {:?}: a soft fault ({} soft, {} page reads): the frame is taken back off standby.",
        String::from_utf8_lossy(&b),
        after.soft_faults - before.soft_faults,
        after.page_read_ios - before.page_read_ios
    )?;
    k.EmptyWorkingSet(h);
    let again = sys.write_modified_pages();
    writeln!(out, "  Trimmed again without a write: it goes straight to standby; the writer writes {again} pages")?;
    writeln!(out, "  (a clean page is never written twice).")?;

    let mut k = Kernel32::new(&mut sys, hog);
    let q = k.VirtualAlloc(0, PRESSURE, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    for page in 0..PRESSURE / 4096 {
        k.write(q + page * 4096, &[1]).map_err(|e| anyhow!("{e:?}"))?;
    }
    writeln!(
        out,
        "\n  \"hog\" commits and touches 24 MiB, more than the RAM. Frames run short: the balancer trims\n  working sets, the modified page writer writes, and standby frames are repurposed. The\n  standby frame of p is given to \"hog\"; p's PTE now says where its bytes are:"
    )?;
    let mut k = Kernel32::new(&mut sys, app);
    writeln!(out, "    PTE of p:  {}", pte_of(k.system(), app, p))?;
    let (b, before, after) = observed_read(&mut k, p)?;
    writeln!(
        out,
        "  read(p) = {:?}: a hard fault. One read of {} pages: p and the neighbours whose slots follow\n  on (the page-in cluster, 8 by default); the neighbours go to standby.",
        String::from_utf8_lossy(&b),
        after.pages_read - before.pages_read
    )?;
    writeln!(out, "    PTE of p:         {}", pte_of(k.system(), app, p))?;
    writeln!(out, "    PTE of p+0x1000:  {}", pte_of(k.system(), app, p + 0x1000))?;
    let (b, before, after) = observed_read(&mut k, p + 0x1000)?;
    writeln!(
        out,
        "  read(p+0x1000) = {:?}: {} soft fault, {} reads: it came in with p.",
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
    writeln!(out, "  Every one of the 256 pages still reads its own \"page N\": {}.", if ok { "yes" } else { "NO" })?;

    writeln!(out, "\n  Figures")?;
    let s = k.system().stats();
    writeln!(
        out,
        "    faults: {} demand-zero, {} soft, {} hard; page file: {} reads ({} pages), {} writes ({} pages)",
        s.demand_zero_faults,
        s.soft_faults,
        s.hard_faults,
        s.page_read_ios,
        s.pages_read,
        s.page_write_ios,
        s.pages_written
    )?;
    writeln!(
        out,
        "    lists: {} zeroed, {} free, {} standby, {} modified; {} active",
        s.zeroed_pages, s.free_pages, s.standby_pages, s.modified_pages, s.active_pages
    )?;
    writeln!(
        out,
        "    commit: {} of {} pages (page file now {} MiB, {} slots in use)",
        s.commit_total,
        s.commit_limit,
        k.system().page_files().bytes() >> 20,
        s.page_file_used
    )?;
    let mut pmc = PROCESS_MEMORY_COUNTERS_EX::default();
    k.GetProcessMemoryInfo(h, &mut pmc);
    writeln!(
        out,
        "    \"app\": PageFaultCount {}, WorkingSetSize {} KiB (peak {} KiB), PagefileUsage {} KiB",
        pmc.PageFaultCount,
        pmc.WorkingSetSize >> 10,
        pmc.PeakWorkingSetSize >> 10,
        pmc.PagefileUsage >> 10
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
