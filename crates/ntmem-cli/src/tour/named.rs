//! The sections chapter's non-persisted section: named, backed by the page file, passing a
//! message from one process to another, and gone with its last handle and view.

use super::mapped::{faults, observed_read};
use super::show::{bool_name, pages};
use anyhow::{anyhow, Result};
use ntmem::{ProcessId, System};
use ntmem_win32::*;
use std::io::Write;

const NAME: &str = "tour-message";

pub(super) fn run(out: &mut impl Write, sys: &mut System, a: ProcessId, b: ProcessId) -> Result<()> {
    writeln!(out, "A non-persisted section: a message between two processes")?;
    let mut k = Kernel32::new(sys, a);
    let commit = k.system().commit().total();
    let ha = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, Some(NAME));
    if ha.is_null() {
        return Err(anyhow!("CreateFileMappingW failed with {}", k.GetLastError()));
    }
    writeln!(
        out,
        "a> CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x1000, \"{NAME}\")\n     = handle {:#x}, GetLastError() = {}",
        ha as usize,
        error_name(k.GetLastError())
    )?;
    writeln!(
        out,
        "    No file: the section's pages live in memory and, if trimmed, in the page file. It is\n    charged commit at once for all of them (SEC_COMMIT, the default): +{}.",
        pages(k.system().commit().total() - commit)
    )?;
    let va = k.MapViewOfFile(ha, FILE_MAP_WRITE, 0, 0, 0);
    writeln!(out, "a> MapViewOfFile(section, FILE_MAP_WRITE, 0, 0, 0) = {va:#x}")?;
    let before = k.system().stats();
    k.write(va, b"hi b, from a").map_err(|e| anyhow!("write faulted: {e:?}"))?;
    let after = k.system().stats();
    writeln!(out, "a> write(va, \"hi b, from a\") = Ok: {}", faults(&before, &after))?;

    let mut k = Kernel32::new(sys, b);
    let hb = k.OpenFileMappingW(FILE_MAP_READ, FALSE, NAME);
    if hb.is_null() {
        return Err(anyhow!("OpenFileMappingW failed with {}", k.GetLastError()));
    }
    writeln!(out, "b> OpenFileMappingW(FILE_MAP_READ, FALSE, \"{NAME}\") = handle {:#x}", hb as usize)?;
    let vb = k.MapViewOfFile(hb, FILE_MAP_READ, 0, 0, 0);
    writeln!(out, "b> MapViewOfFile(section, FILE_MAP_READ, 0, 0, 0) = {vb:#x}")?;
    let (text, _, _) = observed_read(&mut k, vb, 12)?;
    writeln!(out, "b> read(vb, 12) = {text:?}: the name found a's section, and the view its page (F160).")?;

    let mut k = Kernel32::new(sys, a);
    let unmapped = k.UnmapViewOfFile(va);
    let closed = k.CloseHandle(ha);
    writeln!(out, "a> UnmapViewOfFile(va) = {}, CloseHandle(section) = {}", bool_name(unmapped), bool_name(closed))?;
    writeln!(out, "    a is done with it, but b still has a handle and a view: the section lives on.")?;
    let mut k = Kernel32::new(sys, b);
    let commit = k.system().commit().total();
    let unmapped = k.UnmapViewOfFile(vb);
    let closed = k.CloseHandle(hb);
    writeln!(out, "b> UnmapViewOfFile(vb) = {}, CloseHandle(section) = {}", bool_name(unmapped), bool_name(closed))?;
    writeln!(
        out,
        "    The last view and the last handle are gone, so is the section (F168): its page and its\n    name with it, and its charge comes back ({} less commit).",
        pages(commit - k.system().commit().total())
    )?;
    let h = k.OpenFileMappingW(FILE_MAP_READ, FALSE, NAME);
    writeln!(
        out,
        "b> OpenFileMappingW(FILE_MAP_READ, FALSE, \"{NAME}\") = {}, GetLastError() = {}",
        if h.is_null() { "NULL".to_owned() } else { format!("handle {:#x} (unexpected)", h as usize) },
        error_name(k.GetLastError())
    )?;
    let hn = k.CreateFileMappingW(INVALID_HANDLE_VALUE, None, PAGE_READWRITE, 0, 0x1000, Some(NAME));
    if hn.is_null() {
        return Err(anyhow!("CreateFileMappingW failed with {}", k.GetLastError()));
    }
    writeln!(
        out,
        "b> CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x1000, \"{NAME}\")\n     = handle {:#x}, GetLastError() = {}",
        hn as usize,
        error_name(k.GetLastError())
    )?;
    let vn = k.MapViewOfFile(hn, FILE_MAP_READ, 0, 0, 0);
    writeln!(out, "b> MapViewOfFile(section, FILE_MAP_READ, 0, 0, 0) = {vn:#x}")?;
    let mut buf = [0u8; 12];
    let before = k.system().stats();
    k.read(vn, &mut buf).map_err(|e| anyhow!("read faulted: {e:?}"))?;
    let after = k.system().stats();
    writeln!(out, "b> read(vn, 12) = {buf:?}: {}", faults(&before, &after))?;
    writeln!(out, "    A new section of the same name, not the old one: it starts as zeros (F171).")?;
    let unmapped = k.UnmapViewOfFile(vn);
    let closed = k.CloseHandle(hn);
    writeln!(out, "b> UnmapViewOfFile(vn) = {}, CloseHandle(section) = {}\n", bool_name(unmapped), bool_name(closed))?;
    Ok(())
}

/// A Win32 error code by its name, for the few this chapter meets.
fn error_name(code: u32) -> String {
    match code {
        ERROR_SUCCESS => "0 (ERROR_SUCCESS: a new object)".into(),
        ERROR_FILE_NOT_FOUND => "2 (ERROR_FILE_NOT_FOUND)".into(),
        ERROR_ALREADY_EXISTS => "183 (ERROR_ALREADY_EXISTS)".into(),
        n => n.to_string(),
    }
}
