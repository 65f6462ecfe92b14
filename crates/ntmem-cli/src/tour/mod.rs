//! `ntmem tour`: the seed's two examples run on the simulated machine, then what happened
//! inside — `VirtualQuery` before and after, the page going free → reserved → committed, the
//! demand-zero fault of the first touch, the page-table walk of the address, and the figures —
//! and a chapter on paging: a small machine under pressure, a page going valid → transition →
//! page file → valid.
//!
//! Plain text, deterministic: the same run prints the same addresses, frames and figures.

mod paging;
mod show;

use anyhow::{anyhow, Result};
use ntmem::{Config, System};
use ntmem_win32::*;
use show::{figures, mbi, pte_of, walk};
use std::io::Write;

pub(crate) fn run(out: &mut impl Write) -> Result<()> {
    let mut sys = System::new(Config::default())?;
    writeln!(out, "ntmem tour: the Windows memory manager on a simulated x86-64 machine")?;
    writeln!(out, "=====================================================================\n")?;
    machine(out, &sys)?;
    let pid = sys.create_process("seed")?;
    writeln!(out, "A process, \"seed\", is created: pid {:#x}.", u32::from(pid))?;
    {
        let space = sys.process(pid).and_then(|p| p.space()).ok_or(anyhow!("process gone"))?;
        writeln!(
            out,
            "  Its PML4 (the root table, what CR3 would hold) is frame {:#x}. Mapping the shared user\n  data page read-only at 0x7FFE0000 (F6) took a PDPT, a PD and a PT: {} table frames in all,\n  each charged to commit. Commit charge is now {} pages.\n",
            space.page_tables().root().as_u64(),
            space.page_tables().table_count(),
            sys.commit().total()
        )?;
    }
    example_one(out, &mut sys, pid)?;
    example_two(out, &mut sys, pid)?;
    writeln!(out, "Figures of the 1 GiB machine")?;
    writeln!(out, "----------------------------")?;
    figures(out, &mut sys, pid)?;
    writeln!(out)?;
    paging::run(out)?;
    Ok(())
}

fn machine(out: &mut impl Write, sys: &System) -> Result<()> {
    let phys = sys.phys();
    let frames = u64::from(phys.frame_count());
    writeln!(out, "The machine")?;
    writeln!(out, "-----------")?;
    writeln!(
        out,
        "  RAM: {} MiB = {} frames of 4 KiB. Host memory is taken only as frames are used.",
        phys.ram_bytes() >> 20,
        frames
    )?;
    writeln!(
        out,
        "  PFN database: one {}-byte entry per frame ({} KiB). Frame 0 is kept by the firmware;\n  one frame holds the shared user data page; the other {} are on the zeroed list.",
        core::mem::size_of::<ntmem::phys::PfnEntry>(),
        (frames * core::mem::size_of::<ntmem::phys::PfnEntry>() as u64) >> 10,
        sys.stats().zeroed_pages
    )?;
    writeln!(
        out,
        "  Commit limit: {} pages (the RAM; there is no page file). Charged so far: {}.\n",
        sys.commit().limit(),
        sys.commit().total()
    )?;
    Ok(())
}

/// Example 1, as the seed writes it: commit 8 bytes read/write, print the base, write "1337",
/// print the data, decommit.
fn example_one(out: &mut impl Write, sys: &mut System, pid: ntmem::ProcessId) -> Result<()> {
    writeln!(out, "Example 1: commit 8 bytes, write \"1337\", read it back, decommit")?;
    writeln!(out, "----------------------------------------------------------------")?;
    let mut k = Kernel32::new(sys, pid);
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    k.VirtualQuery(0x10000, &mut info);
    writeln!(out, "  VirtualQuery(0x10000) before:  {}", mbi(&info))?;
    let p = k.VirtualAlloc(0, 8, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if p == 0 {
        return Err(anyhow!("VirtualAlloc failed with {}", k.GetLastError()));
    }
    writeln!(out, "  p = VirtualAlloc(NULL, 8, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE) = {p:#x}")?;
    writeln!(out, "    (a system-chosen base is 64 KiB aligned, F9; the size rounds up to one page, F10)")?;
    k.VirtualQuery(p, &mut info);
    writeln!(out, "  VirtualQuery(p) after:         {}", mbi(&info))?;
    writeln!(out, "  PTE of p now:  {}", pte_of(k.system(), pid, p))?;
    writeln!(
        out,
        "    Committed but not touched: no frame yet, MmGetPhysicalAddress(p) = {:#x}.",
        k.MmGetPhysicalAddress(p)
    )?;
    let before = k.system().stats().demand_zero_faults;
    k.write(p, b"1337").map_err(|e| anyhow!("write faulted: {e:?}"))?;
    writeln!(out, "  write(p, \"1337\"): the MMU finds the PTE invalid and raises a page fault; the memory")?;
    writeln!(
        out,
        "    manager sees a demand-zero PTE, takes a zeroed frame, and retries ({} demand-zero fault).",
        k.system().stats().demand_zero_faults - before
    )?;
    let mut data = [0u8; 8];
    k.read(p, &mut data).map_err(|e| anyhow!("read faulted: {e:?}"))?;
    writeln!(out, "  read(p, 8) = {:?} -> \"{}\"", data, String::from_utf8_lossy(&data[..4]))?;
    writeln!(out, "  PTE of p now:  {}", pte_of(k.system(), pid, p))?;
    writeln!(out, "\n  The walk the MMU made for p:")?;
    walk(out, k.system(), pid, p)?;
    writeln!(out, "  MmGetPhysicalAddress(p) = {:#x}\n", k.MmGetPhysicalAddress(p))?;
    let ok = k.VirtualFree(p, 8, MEM_DECOMMIT);
    writeln!(out, "  VirtualFree(p, 8, MEM_DECOMMIT) = {ok}: the frame goes to the free list, the charge back.")?;
    k.VirtualQuery(p, &mut info);
    writeln!(out, "  VirtualQuery(p):               {}", mbi(&info))?;
    let e = k.read(p, &mut data).err();
    writeln!(
        out,
        "  read(p) now raises {}\n",
        e.map_or("nothing (unexpected)".to_owned(), |e| format!(
            "{:#x} at {:#x} (access violation, F69)",
            e.code, e.address
        ))
    )?;
    k.VirtualFree(p, 0, MEM_RELEASE);
    Ok(())
}

/// Example 2: the same page, one state at a time, with a guard page and a protection change.
fn example_two(out: &mut impl Write, sys: &mut System, pid: ntmem::ProcessId) -> Result<()> {
    writeln!(out, "Example 2: free -> reserved -> committed -> touched -> protected -> released")?;
    writeln!(out, "--------------------------------------------------------------------------")?;
    let mut k = Kernel32::new(sys, pid);
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    let p = k.VirtualAlloc(0, 0x10000, MEM_RESERVE, PAGE_NOACCESS);
    writeln!(out, "  p = VirtualAlloc(NULL, 64 KiB, MEM_RESERVE, PAGE_NOACCESS) = {p:#x}")?;
    k.VirtualQuery(p, &mut info);
    writeln!(out, "    reserved:   {}", mbi(&info))?;
    writeln!(
        out,
        "    a reservation is a VAD only: no PTE, no page table, no charge ({})",
        pte_of(k.system(), pid, p)
    )?;
    let q = k.VirtualAlloc(p + 0x1000, 0x2000, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    writeln!(out, "  VirtualAlloc(p+0x1000, 0x2000, MEM_COMMIT, PAGE_READWRITE|PAGE_GUARD) = {q:#x}")?;
    k.VirtualQuery(p, &mut info);
    writeln!(out, "    at p:       {}", mbi(&info))?;
    k.VirtualQuery(q, &mut info);
    writeln!(out, "    at p+0x1000:{}", mbi(&info))?;
    writeln!(out, "    PTE:        {}", pte_of(k.system(), pid, q))?;
    let first = k.write(q, &[1]);
    writeln!(
        out,
        "  write(p+0x1000): {}",
        first
            .err()
            .map_or("no exception (unexpected)".to_owned(), |e| format!("guard page exception {:#x} (F96)", e.code))
    )?;
    let again = k.write(q, &[1]);
    writeln!(
        out,
        "  the same write again: {} — the guard fires once",
        if again.is_ok() { "succeeds" } else { "faults" }
    )?;
    k.VirtualQuery(q, &mut info);
    writeln!(out, "    now:        {}", mbi(&info))?;
    writeln!(out, "    PTE:        {}", pte_of(k.system(), pid, q))?;
    let mut old = 0;
    k.VirtualProtect(q, 0x1000, PAGE_READONLY, Some(&mut old));
    writeln!(out, "  VirtualProtect(p+0x1000, 4 KiB, PAGE_READONLY) -> old {old:#x} (F72)")?;
    writeln!(out, "    PTE:        {}", pte_of(k.system(), pid, q))?;
    let e = k.write(q, &[2]).err();
    writeln!(
        out,
        "  write(p+0x1000) now: {}",
        e.map_or("succeeds (unexpected)".to_owned(), |e| format!(
            "access violation {:#x}, information [{}, {:#x}] (F93, F95)",
            e.code, e.information[0], e.information[1]
        ))
    )?;
    let ok = k.VirtualFree(p, 0, MEM_RELEASE);
    k.VirtualQuery(p, &mut info);
    writeln!(out, "  VirtualFree(p, 0, MEM_RELEASE) = {ok}")?;
    writeln!(out, "    free again: {}\n", mbi(&info))?;
    Ok(())
}
