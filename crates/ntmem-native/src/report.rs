//! What the engine says: trace lines and the unhandled-exception report, written with
//! `write(2)` from a buffer on the stack (safe in the fault handler: no stdio, no allocation),
//! and the figures written at exit for `ntmem run` (`NTMEM_REPORT`).

use crate::runtime;
use ntmem::address_space::FaultCounts;
use ntmem::AccessKind;
use ntmem_win32::Exception;

/// One line of output, built on the stack.
pub(crate) struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Line {
    pub(crate) fn new() -> Line {
        Line { buf: [0; 256], len: 0 }
    }

    /// Appends text (cut at the buffer's end).
    pub(crate) fn text(mut self, s: &str) -> Line {
        for &b in s.as_bytes() {
            if self.len < self.buf.len() {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
        self
    }

    /// Appends `0x` and 16 hex digits.
    pub(crate) fn hex(self, v: u64) -> Line {
        let mut digits = [0u8; 18];
        digits[0] = b'0';
        digits[1] = b'x';
        for i in 0..16 {
            let nibble = (v >> ((15 - i) * 4)) & 0xF;
            digits[2 + i] = b"0123456789ABCDEF"[nibble as usize];
        }
        self.text(std::str::from_utf8(&digits).unwrap_or(""))
    }

    /// Appends `0x` and 8 hex digits.
    pub(crate) fn hex32(self, v: u32) -> Line {
        let mut digits = [0u8; 10];
        digits[0] = b'0';
        digits[1] = b'x';
        for i in 0..8 {
            let nibble = (v >> ((7 - i) * 4)) & 0xF;
            digits[2 + i] = b"0123456789ABCDEF"[nibble as usize];
        }
        self.text(std::str::from_utf8(&digits).unwrap_or(""))
    }

    /// Writes the line and a newline to standard error.
    pub(crate) fn emit(self) {
        let line = self.text("\n");
        let mut at = 0;
        while at < line.len {
            // SAFETY: writes initialised bytes of the buffer to fd 2; write(2) is
            // async-signal-safe.
            let n = unsafe { libc::write(2, line.buf[at..].as_ptr().cast(), line.len - at) };
            if n <= 0 {
                break;
            }
            at += n as usize;
        }
    }
}

/// Says `line` and ends the program at once.
pub(crate) fn fatal(line: Line) -> ! {
    line.emit();
    // SAFETY: _exit ends the process without running anything of the program.
    unsafe { libc::_exit(134) }
}

/// The name of a fault kind the counters moved by.
fn kind_of(before: &FaultCounts, after: &FaultCounts) -> &'static str {
    if after.copy_on_write > before.copy_on_write {
        "copy-on-write"
    } else if after.hard > before.hard {
        "hard"
    } else if after.soft > before.soft {
        "soft"
    } else if after.demand_zero > before.demand_zero {
        "demand-zero"
    } else if after.guard > before.guard {
        "guard-page"
    } else if after.access_violation > before.access_violation {
        "access-violation"
    } else {
        "tlb-miss"
    }
}

fn access_name(access: AccessKind) -> &'static str {
    match access {
        AccessKind::Read => "read",
        AccessKind::Write => "write",
        AccessKind::Execute => "execute",
    }
}

/// One `--trace` line: the page, the access, and what the memory manager did.
pub(crate) fn trace_fault(addr: u64, access: AccessKind, before: &FaultCounts, after: &FaultCounts, resolved: bool) {
    let proto = if after.prototype > before.prototype { " (prototype)" } else { "" };
    Line::new()
        .text("[ntmem] fault ")
        .hex(addr)
        .text(" ")
        .text(access_name(access))
        .text(": ")
        .text(kind_of(before, after))
        .text(proto)
        .text(if resolved { "" } else { ", raised" })
        .emit();
}

/// Windows' report of an unhandled exception, then exit with its code (as the process exit
/// code; the host keeps its low 8 bits).
pub(crate) fn unhandled(e: &Exception, rip: u64) -> ! {
    let what = match e.code as u32 {
        0xC000_0005 => "Access violation",
        0x8000_0001 => "Guard page violation",
        0xC000_0006 => "In-page error",
        _ => "Exception",
    };
    let verb = match e.information[0] {
        1 => " writing location ",
        8 => " executing location ",
        _ => " reading location ",
    };
    Line::new()
        .text("Unhandled exception at ")
        .hex(rip)
        .text(": ")
        .hex32(e.code as u32)
        .text(": ")
        .text(what)
        .text(verb)
        .hex(e.information[1])
        .text(".")
        .emit();
    write_figures(e.code as u32);
    // SAFETY: ends the process, as Windows ends a process whose exception nobody handled.
    unsafe { libc::_exit(e.code) }
}

extern "C" fn on_exit() {
    write_figures(0);
}

/// Writes the figures when the program exits normally.
pub(crate) fn at_exit() {
    // SAFETY: registers a function with no arguments, valid for the program's life.
    unsafe { libc::atexit(on_exit) };
}

/// The figures as JSON, to the path in `NTMEM_REPORT` (nothing when unset).
fn write_figures(exception: u32) {
    let Some(path) = std::env::var_os("NTMEM_REPORT") else { return };
    let Some(json) = runtime::with(|rt| figures(rt, exception)) else { return };
    let _ = std::fs::write(path, json);
}

/// The figures of the process and the machine.
fn figures(rt: &mut runtime::Runtime, exception: u32) -> String {
    let stats = rt.sys.stats();
    let (faults, ws, ws_peak, commit, commit_peak, pf) = match rt.sys.vm(rt.pid) {
        Ok(vm) => {
            let c = vm.counters();
            (
                c.faults,
                c.working_set,
                c.peak_working_set,
                c.committed_pages,
                c.peak_committed_pages,
                rt.sys.stats().page_file_used,
            )
        }
        Err(_) => (FaultCounts::default(), 0, 0, 0, 0, 0),
    };
    let calls: Vec<String> = rt.calls.iter().map(|(n, c)| format!("\"{n}\": {c}")).collect();
    format!(
        "{{\"exception\": {exception}, \"calls\": {{{}}}, \"faults\": {{\"demand_zero\": {}, \"soft\": {}, \"hard\": {}, \"copy_on_write\": {}, \"prototype\": {}, \"guard\": {}, \"access_violation\": {}}}, \"working_set_pages\": {ws}, \"peak_working_set_pages\": {ws_peak}, \"private_commit_pages\": {commit}, \"peak_private_commit_pages\": {commit_peak}, \"page_file_pages\": {pf}, \"page_reads\": {}, \"pages_read\": {}, \"page_writes\": {}, \"pages_written\": {}, \"commit_total_pages\": {}, \"commit_limit_pages\": {}, \"commit_peak_pages\": {}}}\n",
        calls.join(", "),
        faults.demand_zero,
        faults.soft,
        faults.hard,
        faults.copy_on_write,
        faults.prototype,
        faults.guard,
        faults.access_violation,
        stats.page_read_ios,
        stats.pages_read,
        stats.page_write_ios,
        stats.pages_written,
        stats.commit_total,
        stats.commit_limit,
        stats.commit_peak,
    )
}
