//! How the tour prints what it found: sizes, query results, PTEs and prototype PTEs,
//! working-set entries, walks, figures.
//!
//! One unit for every size: KiB (`kib`). Protections, states and types by their Windows names
//! (`ntmem_win32::protection_name` and friends).

use anyhow::{anyhow, Result};
use ntmem::paging::{Leaf, PrototypePte, Pte};
use ntmem::units::Vpn;
use ntmem::{ProcessId, System};
use ntmem_win32::*;
use std::io::Write;

/// A size in bytes, in the tour's one unit.
pub(super) fn kib(bytes: u64) -> String {
    format!("{} KiB", bytes >> 10)
}

/// A size in pages, in the tour's one unit.
pub(super) fn pages(n: u64) -> String {
    kib(n << 12)
}

/// One line for a MEMORY_BASIC_INFORMATION64.
pub(super) fn mbi(m: &MEMORY_BASIC_INFORMATION64) -> String {
    let mut s = format!("{} at {:#x}, {}", state_name(m.State), m.BaseAddress, kib(m.RegionSize));
    if m.State != MEM_FREE {
        s += &format!(
            ", {}, allocation {:#x} made {}",
            type_name(m.Type),
            m.AllocationBase,
            protection_name(m.AllocationProtect)
        );
    }
    s + format!(", Protect {}", protection_name(m.Protect)).as_str()
}

/// The PTE of `addr` in process `pid`, raw and decoded; or which table is missing, so that
/// there is no PTE at all.
pub(super) fn pte_of(sys: &System, pid: ProcessId, addr: u64) -> String {
    let Some(space) = sys.process(pid).and_then(|p| p.space()) else { return "process gone".into() };
    let vpn = Vpn::default().add(addr >> 12);
    if let Leaf::Missing(level) = space.page_tables().leaf(sys.phys(), vpn) {
        return format!("none: no {} covers this address yet, so there is no PTE to read", level.name());
    }
    let pte = space.pte(sys.phys(), vpn);
    let protection = |p: ntmem::Protection| protection_name(protection_to_win32(p));
    let detail = match pte {
        Pte::Zero => String::new(),
        Pte::DemandZero(p) => format!(", {}", protection(p)),
        Pte::Valid(v) => format!(
            ", frame {:#x}, {}{}{}; {} in bits 52-56, which the MMU ignores",
            v.pfn().as_u64(),
            if v.writable() { "writable" } else { "read-only" },
            if v.accessed() { ", accessed" } else { "" },
            if v.dirty() { ", dirty" } else { "" },
            protection(v.protection())
        ),
        Pte::PageFile { file, slot, protection: p } => {
            format!(", page file {file}, slot {slot:#x}, {}", protection(p))
        }
        Pte::Transition { pfn, protection: p } => format!(", frame {:#x}, {}", pfn.as_u64(), protection(p)),
        Pte::Prototype { at, protection: p } => {
            format!(", prototype PTE {} of segment {}, {}", at.page, at.segment, protection(p))
        }
    };
    format!("{:#018x} = {}{}", pte.encode(), pte.format_name(), detail)
}

/// One `QueryWorkingSetEx` entry, decoded: Valid, Shared, ShareCount, Win32Protection.
pub(super) fn working_set(k: &mut Kernel32, addr: u64) -> String {
    let mut pv = [PSAPI_WORKING_SET_EX_INFORMATION {
        VirtualAddress: std::ptr::without_provenance_mut(usize::try_from(addr).unwrap_or(usize::MAX)),
        ..Default::default()
    }];
    let h = k.GetCurrentProcess();
    if k.QueryWorkingSetEx(h, &mut pv) == 0 {
        return format!("FALSE ({})", k.GetLastError());
    }
    let ws = WorkingSetExBlock::of(&pv[0]);
    if !ws.valid {
        // F203: a section's page keeps its Shared bit out of the working set.
        return if ws.shared {
            "not Valid: not in the working set; Shared: a section's page".into()
        } else {
            "not Valid: not in the working set".into()
        };
    }
    format!(
        "Valid, {}ShareCount {}, Win32Protection {}",
        if ws.shared { "Shared, " } else { "" },
        ws.share_count,
        protection_name(ws.win32_protection)
    )
}

/// The prototype PTE that `addr`'s process PTE points at, raw and decoded.
pub(super) fn prototype_behind(sys: &System, pid: ProcessId, addr: u64) -> String {
    let Some(space) = sys.process(pid).and_then(|p| p.space()) else { return "process gone".into() };
    match space.pte(sys.phys(), Vpn::default().add(addr >> 12)) {
        Pte::Prototype { at, .. } => prototype_line(sys, at.segment, at.page),
        Pte::Valid(v) => match sys.phys().pfn(v.pfn()).prototype() {
            Some((segment, page)) => prototype_line(sys, segment, u32::try_from(page).unwrap_or(u32::MAX)),
            None => "(the frame has no prototype PTE)".into(),
        },
        _ => "(the PTE leads to no prototype PTE)".into(),
    }
}

/// Prototype PTE `page` of segment `segment`, raw and decoded, with its frame's state.
pub(super) fn prototype_line(sys: &System, segment: u32, page: u32) -> String {
    let found = sys.segments().iter().find(|(id, _)| id.raw() == segment).map(|(_, s)| s);
    let Some(pte) = found.and_then(|s| s.prototype(u64::from(page))) else {
        return format!("segment {segment} has no page {page}");
    };
    let protection = |p: ntmem::Protection| protection_name(protection_to_win32(p));
    let detail = match pte {
        PrototypePte::Reserved => "reserved (not committed)".to_owned(),
        PrototypePte::DemandZero(p) => format!("demand-zero, {}", protection(p)),
        PrototypePte::InFile(p) => format!("in the file, not read yet, {}", protection(p)),
        PrototypePte::PageFile { file, slot, protection: p } => {
            format!("page file {file}, slot {slot:#x}, {}", protection(p))
        }
        PrototypePte::Valid(v) => format!(
            "valid, frame {:#x}, {}; the frame's share count is {}",
            v.pfn().as_u64(),
            protection(v.protection()),
            sys.phys().pfn(v.pfn()).share_count()
        ),
        PrototypePte::Transition { pfn, protection: p } => {
            format!("transition, frame {:#x} ({:?}), {}", pfn.as_u64(), sys.phys().pfn(pfn).state(), protection(p))
        }
    };
    format!("Prototype PTE {page} of segment {segment}: {:#018x} = {detail}", pte.encode())
}

/// Page-table frames of the process, the PML4 included.
pub(super) fn table_count(sys: &System, pid: ProcessId) -> u64 {
    sys.process(pid).and_then(|p| p.space()).map_or(0, |s| s.page_tables().table_count())
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

/// The process's and the system's figures, with the calls that read them.
pub(super) fn figures(out: &mut impl Write, sys: &mut System, pid: ProcessId) -> Result<()> {
    let mut k = Kernel32::new(sys, pid);
    let mut pmc = PROCESS_MEMORY_COUNTERS_EX::default();
    let h = k.GetCurrentProcess();
    let ok = k.GetProcessMemoryInfo(h, &mut pmc);
    writeln!(out, "> GetProcessMemoryInfo(GetCurrentProcess(), &pmc) = {}", bool_name(ok))?;
    writeln!(
        out,
        "    PageFaultCount {}, WorkingSetSize {} (peak {}), PrivateUsage {} (PeakPagefileUsage {})",
        pmc.PageFaultCount,
        kib(pmc.WorkingSetSize as u64),
        kib(pmc.PeakWorkingSetSize as u64),
        kib(pmc.PrivateUsage as u64),
        kib(pmc.PeakPagefileUsage as u64)
    )?;
    writeln!(out, "    PageFaultCount counts the faults the memory manager resolved: demand-zero, soft and")?;
    writeln!(out, "    hard. A guard-page exception or an access violation is raised, not resolved: not counted.")?;
    let length = u32::try_from(core::mem::size_of::<MEMORYSTATUSEX>())?;
    let mut ms = MEMORYSTATUSEX { dwLength: length, ..Default::default() };
    let ok = k.GlobalMemoryStatusEx(&mut ms);
    writeln!(out, "> GlobalMemoryStatusEx(&ms) = {}", bool_name(ok))?;
    writeln!(
        out,
        "    TotalPhys {}, AvailPhys {}, TotalPageFile (the commit limit) {}, AvailPageFile {}",
        kib(ms.ullTotalPhys),
        kib(ms.ullAvailPhys),
        kib(ms.ullTotalPageFile),
        kib(ms.ullAvailPageFile)
    )?;
    let s = k.system().stats();
    writeln!(out, "  Inside (System::stats):")?;
    writeln!(
        out,
        "    faults: {} demand-zero, {} soft, {} hard; exceptions: {} guard, {} access violations",
        s.demand_zero_faults, s.soft_faults, s.hard_faults, s.guard_faults, s.access_violations
    )?;
    writeln!(
        out,
        "    page lists: {} zeroed, {} free, {} active; {} zeroed on the way out",
        pages(s.zeroed_pages),
        pages(s.free_pages),
        pages(s.active_pages),
        pages(s.pages_zeroed)
    )?;
    writeln!(
        out,
        "    commit: {} charged (peak {}) of a limit of {}",
        pages(s.commit_total),
        pages(s.commit_peak),
        pages(s.commit_limit)
    )?;
    Ok(())
}

/// `TRUE` or `FALSE`, as a Win32 BOOL reads.
pub(super) fn bool_name(b: BOOL) -> &'static str {
    if b == 0 {
        "FALSE"
    } else {
        "TRUE"
    }
}
