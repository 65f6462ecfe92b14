//! How the tour prints what it found: query results, PTEs, walks, figures.

use anyhow::{anyhow, Result};
use ntmem::paging::Pte;
use ntmem::units::Vpn;
use ntmem::{ProcessId, System};
use ntmem_win32::*;
use std::io::Write;

fn state_name(state: u32) -> &'static str {
    match state {
        MEM_COMMIT => "MEM_COMMIT",
        MEM_RESERVE => "MEM_RESERVE",
        MEM_FREE => "MEM_FREE",
        _ => "?",
    }
}

/// One line for a MEMORY_BASIC_INFORMATION64.
pub(super) fn mbi(m: &MEMORY_BASIC_INFORMATION64) -> String {
    format!(
        "{} base {:#x} size {:#x} protect {:#x} alloc-base {:#x} alloc-protect {:#x} type {:#x}",
        state_name(m.State),
        m.BaseAddress,
        m.RegionSize,
        m.Protect,
        m.AllocationBase,
        m.AllocationProtect,
        m.Type
    )
}

/// The PTE of `addr` in process `pid`, raw and decoded.
pub(super) fn pte_of(sys: &System, pid: ProcessId, addr: u64) -> String {
    let Some(space) = sys.process(pid).and_then(|p| p.space()) else { return "process gone".into() };
    let pte = space.pte(sys.phys(), Vpn::default().add(addr >> 12));
    let detail = match pte {
        Pte::Zero => String::new(),
        Pte::DemandZero(p) => format!(", protection mask {:#x}", p.mask()),
        Pte::Valid(v) => format!(
            ", frame {:#x}, {}{}{}",
            v.pfn().as_u64(),
            if v.writable() { "writable" } else { "read-only" },
            if v.accessed() { ", accessed" } else { "" },
            if v.dirty() { ", dirty" } else { "" }
        ),
        Pte::PageFile { file, slot, protection } => {
            format!(", page file {file}, slot {slot:#x}, protection mask {:#x}", protection.mask())
        }
        Pte::Transition { pfn, protection } => {
            format!(", frame {:#x}, protection mask {:#x}", pfn.as_u64(), protection.mask())
        }
    };
    format!("{:#018x} = {}{}", pte.encode(), pte.format_name(), detail)
}

/// The four steps of the MMU's walk for `addr`.
pub(super) fn walk(out: &mut impl Write, sys: &System, pid: ProcessId, addr: u64) -> Result<()> {
    let space = sys.process(pid).and_then(|p| p.space()).ok_or(anyhow!("process gone"))?;
    writeln!(
        out,
        "    {:#x} splits into PML4 index {}, PDPT index {}, PD index {}, PT index {}, offset {:#x}",
        addr,
        (addr >> 39) & 0x1FF,
        (addr >> 30) & 0x1FF,
        (addr >> 21) & 0x1FF,
        (addr >> 12) & 0x1FF,
        addr & 0xFFF
    )?;
    for step in space.page_tables().walk(sys.phys(), Vpn::default().add(addr >> 12)) {
        writeln!(
            out,
            "    {:<4} frame {:#07x} [{:>3}] at {:#012x} = {:#018x}",
            step.level.name(),
            step.table.as_u64(),
            step.index,
            step.entry_address.as_u64(),
            step.entry
        )?;
    }
    Ok(())
}

/// The process's and the system's figures.
pub(super) fn figures(out: &mut impl Write, sys: &mut System, pid: ProcessId) -> Result<()> {
    let mut k = Kernel32::new(sys, pid);
    let mut pmc = PROCESS_MEMORY_COUNTERS_EX::default();
    let h = k.GetCurrentProcess();
    k.GetProcessMemoryInfo(h, &mut pmc);
    writeln!(
        out,
        "  GetProcessMemoryInfo: PageFaultCount {}, WorkingSetSize {:#x} (peak {:#x}), PrivateUsage {:#x} (peak {:#x})",
        pmc.PageFaultCount, pmc.WorkingSetSize, pmc.PeakWorkingSetSize, pmc.PrivateUsage, pmc.PeakPagefileUsage
    )?;
    let length = u32::try_from(core::mem::size_of::<MEMORYSTATUSEX>()).expect("a small structure");
    let mut ms = MEMORYSTATUSEX { dwLength: length, ..Default::default() };
    k.GlobalMemoryStatusEx(&mut ms);
    writeln!(
        out,
        "  GlobalMemoryStatusEx: TotalPhys {} MiB, AvailPhys {} MiB, commit limit (TotalPageFile) {} MiB, available {} MiB",
        ms.ullTotalPhys >> 20,
        ms.ullAvailPhys >> 20,
        ms.ullTotalPageFile >> 20,
        ms.ullAvailPageFile >> 20
    )?;
    let s = k.system().stats();
    writeln!(
        out,
        "  Faults: {} demand-zero, {} soft, {} guard, {} access violations",
        s.demand_zero_faults, s.soft_faults, s.guard_faults, s.access_violations
    )?;
    writeln!(
        out,
        "  Page lists: {} zeroed, {} free, {} active; {} frames zeroed on the way out",
        s.zeroed_pages, s.free_pages, s.active_pages, s.pages_zeroed
    )?;
    writeln!(
        out,
        "  Commit: {} pages charged (peak {}) of a limit of {}",
        s.commit_total, s.commit_peak, s.commit_limit
    )?;
    Ok(())
}
