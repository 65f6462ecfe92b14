//! [`Kernel32`]: the Win32 memory API as one process calls it. Each function does what
//! kernelbase does: its own parameter checks, the NT service, and the NTSTATUS turned into the
//! thread's last error through the one table in `errors.rs`.
//!
//! Split by concern: `memory.rs` (Virtual*), `process.rs` (handles, processes, cross-process
//! copies), `info.rs` (figures), `access.rs` (the program's own accesses), `working_set.rs`
//! (working-set limits, trimming and queries), `file.rs` (host files), `section.rs` (file
//! mappings), `view.rs` (views of them).

mod access;
mod file;
mod info;
mod memory;
mod priority;
mod process;
mod section;
mod view;
mod working_set;

use crate::errors::win32_error_of;
use ntmem::{ProcessId, System};
pub use view::view_protection;
use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::{FALSE, HANDLE, NTSTATUS, TRUE};

/// `kernel32.dll` as seen from one thread of one process.
pub struct Kernel32<'a> {
    sys: &'a mut System,
    pid: ProcessId,
    last_error: u32,
}

#[allow(non_snake_case)]
impl<'a> Kernel32<'a> {
    /// The API as process `pid` calls it.
    pub fn new(sys: &'a mut System, pid: ProcessId) -> Kernel32<'a> {
        Kernel32 { sys, pid, last_error: 0 }
    }

    /// The calling thread's last error.
    pub fn GetLastError(&self) -> u32 {
        self.last_error
    }

    /// Sets the calling thread's last error.
    pub fn SetLastError(&mut self, code: u32) {
        self.last_error = code;
    }

    /// The pseudo handle of the current process, `(HANDLE)-1`.
    pub fn GetCurrentProcess(&self) -> HANDLE {
        crate::NtCurrentProcess()
    }

    /// The current process's id.
    pub fn GetCurrentProcessId(&self) -> u32 {
        u32::from(self.pid)
    }

    /// The system, for looking inside (figures, page tables) between calls.
    pub fn system(&self) -> &System {
        self.sys
    }

    /// Ends a call: runs the invariant checker when configured, passes `value` through.
    fn finish<T>(&mut self, value: T) -> T {
        crate::check_invariants(self.sys);
        value
    }

    /// Ends a BOOL call from an NT status: TRUE, or FALSE with the last error set.
    fn finish_status(&mut self, status: NTSTATUS) -> BOOL {
        let ok = if crate::nt::failed(status) {
            self.last_error = win32_error_of(status);
            FALSE
        } else {
            TRUE
        };
        self.finish(ok)
    }

    /// Ends a call that failed with a Win32 error.
    fn fail<T>(&mut self, error: u32, value: T) -> T {
        self.last_error = error;
        self.finish(value)
    }
}
