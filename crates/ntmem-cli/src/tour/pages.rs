//! The tour's own example, after the seed's: one reservation taken through its states —
//! reserved, committed with a guard page, touched, protected read-only, released.

use super::show::{bool_name, mbi, pte_of};
use anyhow::{anyhow, Result};
use ntmem::{ProcessId, System};
use ntmem_win32::*;
use std::io::Write;

pub(super) fn run(out: &mut impl Write, sys: &mut System, pid: ProcessId) -> Result<()> {
    writeln!(out, "Example 3 (the tour's own): reserved -> guard page -> touched -> read-only -> released")?;
    writeln!(out, "--------------------------------------------------------------------------------------")?;
    let mut k = Kernel32::new(sys, pid);
    let mut info = MEMORY_BASIC_INFORMATION64::default();
    let p = k.VirtualAlloc(0, 0x10000, MEM_RESERVE, PAGE_NOACCESS);
    if p == 0 {
        return Err(anyhow!("VirtualAlloc failed with {}", k.GetLastError()));
    }
    writeln!(out, "> VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_NOACCESS) = {p:#x}")?;
    k.VirtualQuery(p, &mut info);
    writeln!(out, "> VirtualQuery(p) -> {}", mbi(&info))?;
    writeln!(out, "    A reservation is a VAD only: no charge, nothing in the page tables; a reserved page")?;
    writeln!(out, "    reports Protect 0 (F82).")?;
    writeln!(out, "    PTE of p: {}", pte_of(k.system(), pid, p))?;
    let q = k.VirtualAlloc(p + 0x1000, 0x2000, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    writeln!(out, "> VirtualAlloc(p+0x1000, 0x2000, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD) = {q:#x}")?;
    k.VirtualQuery(p, &mut info);
    writeln!(out, "> VirtualQuery(p) -> {}", mbi(&info))?;
    k.VirtualQuery(q, &mut info);
    writeln!(out, "> VirtualQuery(p+0x1000) -> {}", mbi(&info))?;
    writeln!(out, "    PTE of p+0x1000: {}", pte_of(k.system(), pid, q))?;
    let first = k.write(q, &[1]);
    writeln!(
        out,
        "> write(p+0x1000, [1]) = {}",
        first.err().map_or("Ok (unexpected)".to_owned(), |e| format!(
            "exception {:#x} (STATUS_GUARD_PAGE_VIOLATION): the guard bit is cleared as it fires (F96)",
            e.code
        ))
    )?;
    let again = k.write(q, &[1]);
    writeln!(
        out,
        "> write(p+0x1000, [1]) = {} — the guard fires once per arming",
        if again.is_ok() { "Ok" } else { "exception (unexpected)" }
    )?;
    k.VirtualQuery(q, &mut info);
    writeln!(out, "> VirtualQuery(p+0x1000) -> {}", mbi(&info))?;
    writeln!(out, "    PTE of p+0x1000: {}", pte_of(k.system(), pid, q))?;
    let mut old = 0;
    let ok = k.VirtualProtect(q, 0x1000, PAGE_READONLY, Some(&mut old));
    writeln!(
        out,
        "> VirtualProtect(p+0x1000, 0x1000, PAGE_READONLY, &old) = {}, old = {} (F72)",
        bool_name(ok),
        protection_name(old)
    )?;
    writeln!(out, "    PTE of p+0x1000: {}", pte_of(k.system(), pid, q))?;
    let e = k.write(q, &[2]).err();
    writeln!(
        out,
        "> write(p+0x1000, [2]) = {}",
        e.map_or("Ok (unexpected)".to_owned(), |e| format!(
            "exception {:#x} (access violation), information [{} = write, {:#x}] (F93, F95)",
            e.code, e.information[0], e.information[1]
        ))
    )?;
    let ok = k.VirtualFree(p, 0, MEM_RELEASE);
    writeln!(out, "> VirtualFree(p, 0, MEM_RELEASE) = {}", bool_name(ok))?;
    k.VirtualQuery(p, &mut info);
    writeln!(out, "> VirtualQuery(p) -> {}\n", mbi(&info))?;
    Ok(())
}
