//! The seed's two programs, as they are written, with what the memory manager did for each call.
//!
//! Example 1: `p = VirtualAlloc(NULL, 8, MEM_COMMIT, PAGE_READWRITE)`, then
//! `printf("The base address of allocated memory is: %x\n", p)`.
//! Example 2: the same allocation, `memmove(p, "1337", 4)`,
//! `printf("The data which is stored in the memory is %s\n", p)`, then `VirtualFree`.

use super::show::{bool_name, mbi, pages, pte_of, table_count, walk};
use anyhow::{anyhow, Result};
use ntmem::{ProcessId, System};
use ntmem_win32::*;
use std::io::Write;

/// The seed's first program, then the release the tour's process needs before the second.
pub(super) fn example_one(out: &mut impl Write, sys: &mut System, pid: ProcessId) -> Result<()> {
    writeln!(out, "Example 1 (the seed's first program): allocate 8 bytes, print the address")?;
    writeln!(out, "--------------------------------------------------------------------------")?;
    let mut k = Kernel32::new(sys, pid);
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    k.VirtualQuery(0x10000, &mut info);
    writeln!(out, "> VirtualQuery(0x10000) -> {}", mbi(&info))?;
    let (commit0, tables0) = (k.system().commit().total(), table_count(k.system(), pid));
    let p = k.VirtualAlloc(0, 8, MEM_COMMIT, PAGE_READWRITE);
    if p == 0 {
        return Err(anyhow!("VirtualAlloc failed with {}", k.GetLastError()));
    }
    writeln!(out, "> VirtualAlloc(NULL, 8, MEM_COMMIT, PAGE_READWRITE) = {p:#x}")?;
    writeln!(out, "| The base address of allocated memory is: {p:x}")?;
    writeln!(out, "    With no address, MEM_COMMIT alone reserves and commits in one call (F12). The system")?;
    writeln!(out, "    picks the lowest free address on a 64 KiB boundary (F9), and 8 bytes round up to one")?;
    writeln!(out, "    4 KiB page (F10); the rest of the 64 KiB stays free but no other allocation can start")?;
    writeln!(out, "    there.")?;
    k.VirtualQuery(p, &mut info);
    writeln!(out, "> VirtualQuery(p) -> {}", mbi(&info))?;
    writeln!(out, "    PTE of p: {}", pte_of(k.system(), pid, p))?;
    writeln!(
        out,
        "    Committed but never touched: no frame yet, only a demand-zero PTE. Committing charged {}:\n    the page and the {} page-table frames it needed (a PD and a PT; {} table frames now).",
        pages(k.system().commit().total() - commit0),
        table_count(k.system(), pid) - tables0,
        table_count(k.system(), pid)
    )?;
    writeln!(out, "> MmGetPhysicalAddress(p) = {:#x} (no frame)", k.MmGetPhysicalAddress(p))?;
    writeln!(out, "    The seed's program ends here; when a Windows process exits, all its memory goes with it.")?;
    writeln!(out, "    The tour's process lives on into example 2, so it releases p itself:")?;
    let ok = k.VirtualFree(p, 0, MEM_RELEASE);
    writeln!(out, "> VirtualFree(p, 0, MEM_RELEASE) = {}", bool_name(ok))?;
    k.VirtualQuery(p, &mut info);
    writeln!(out, "> VirtualQuery(p) -> {}", mbi(&info))?;
    writeln!(out, "    0x10000 is free again: that is why example 2 gets the same address.\n")?;
    Ok(())
}

/// The seed's second program: allocate, write "1337", print it, free.
pub(super) fn example_two(out: &mut impl Write, sys: &mut System, pid: ProcessId) -> Result<()> {
    writeln!(out, "Example 2 (the seed's second program): allocate, write \"1337\", print it, free")?;
    writeln!(out, "------------------------------------------------------------------------------")?;
    let mut k = Kernel32::new(sys, pid);
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    let p = k.VirtualAlloc(0, 8, MEM_COMMIT, PAGE_READWRITE);
    if p == 0 {
        return Err(anyhow!("VirtualAlloc failed with {}", k.GetLastError()));
    }
    writeln!(out, "> VirtualAlloc(NULL, 8, MEM_COMMIT, PAGE_READWRITE) = {p:#x}")?;
    writeln!(out, "| The base address of allocated memory is: {p:x}")?;
    writeln!(out, "    PTE of p: {}", pte_of(k.system(), pid, p))?;
    let before = k.system().stats();
    k.write(p, b"1337").map_err(|e| anyhow!("write faulted: {e:?}"))?;
    let after = k.system().stats();
    writeln!(out, "> memmove(p, \"1337\", 4)   (ntmem: write(p, b\"1337\")) = Ok")?;
    writeln!(
        out,
        "    The MMU finds the PTE not present and raises a page fault; the memory manager sees a\n    demand-zero PTE, takes a frame from the zeroed list, fills the PTE and retries the write\n    ({} demand-zero fault). The frame was zeroed before it was handed out (F13).",
        after.demand_zero_faults - before.demand_zero_faults
    )?;
    writeln!(out, "    PTE of p: {}", pte_of(k.system(), pid, p))?;
    writeln!(out, "    The walk the MMU made for p:")?;
    walk(out, k.system(), pid, p)?;
    writeln!(out, "> MmGetPhysicalAddress(p) = {:#x}", k.MmGetPhysicalAddress(p))?;
    let mut data = [0u8; 8];
    k.read(p, &mut data).map_err(|e| anyhow!("read faulted: {e:?}"))?;
    writeln!(out, "> printf's %s reads p   (ntmem: read(p, 8)) = {data:?}")?;
    let text = String::from_utf8_lossy(data.split(|b| *b == 0).next().unwrap_or(&[]));
    writeln!(out, "| The data which is stored in the memory is {text}")?;
    writeln!(out, "    The other four of the 8 bytes are still zero, so %s stops after \"1337\". The read takes")?;
    writeln!(out, "    no fault: the PTE is valid now.")?;
    let commit_before = k.system().commit().total();
    let tables_before = table_count(k.system(), pid);
    let ok = k.VirtualFree(p, 0, MEM_RELEASE);
    writeln!(out, "> VirtualFree(p, 0, MEM_RELEASE) = {}", bool_name(ok))?;
    writeln!(
        out,
        "    The frame goes to the free list (it is zeroed again before its next use); {} of commit\n    comes back: the page, and the {} page-table frames that mapped nothing else ({} -> {}).",
        pages(commit_before - k.system().commit().total()),
        tables_before - table_count(k.system(), pid),
        tables_before,
        table_count(k.system(), pid)
    )?;
    k.VirtualQuery(p, &mut info);
    writeln!(out, "> VirtualQuery(p) -> {}", mbi(&info))?;
    let e = k.read(p, &mut data).err();
    writeln!(
        out,
        "> read(p, 8) = {}\n",
        e.map_or("Ok (unexpected)".to_owned(), |e| format!(
            "exception {:#x} (access violation) reading {:#x}: released memory is gone (F69)",
            e.code, e.address
        ))
    )?;
    Ok(())
}
