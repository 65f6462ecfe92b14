//! `OpenProcess`, `CloseHandle`, `DuplicateHandle`, `TerminateProcess`, `ReadProcessMemory`,
//! `WriteProcessMemory`.

use super::Kernel32;
use crate::errors::{status_of_section, status_of_system, win32_error_of};
use crate::nt::{self, failed, is_current_process, reference_process};
use ntmem::system::{Handle, HandleEntry, Object};
use ntmem::ProcessId;
use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::System::Memory::*;
use windows_sys::Win32::System::Threading::{
    PROCESS_ALL_ACCESS, PROCESS_DUP_HANDLE, PROCESS_QUERY_INFORMATION, PROCESS_QUERY_LIMITED_INFORMATION,
    PROCESS_TERMINATE, PROCESS_VM_OPERATION, PROCESS_VM_WRITE,
};

#[allow(non_snake_case)]
impl Kernel32<'_> {
    /// Opens a handle to a process; NULL with ERROR_INVALID_PARAMETER for an unknown id.
    pub fn OpenProcess(&mut self, dwDesiredAccess: u32, bInheritHandle: BOOL, dwProcessId: u32) -> HANDLE {
        let _ = bInheritHandle; // No child processes inherit here.
        let target = ProcessId::from_raw(dwProcessId);
        let exists = match self.sys.process(target) {
            Some(p) => p.space().is_some() || self.sys.is_referenced(target),
            None => false,
        };
        if !exists {
            // An unknown id, or a process that exited and whose last handle is closed.
            return self.fail(ERROR_INVALID_PARAMETER, core::ptr::null_mut());
        }
        let access = if dwDesiredAccess == PROCESS_ALL_ACCESS {
            u32::MAX
        } else if dwDesiredAccess & PROCESS_QUERY_INFORMATION != 0 {
            // "Process Security and Access Rights": a handle with PROCESS_QUERY_INFORMATION is
            // granted PROCESS_QUERY_LIMITED_INFORMATION too.
            dwDesiredAccess | PROCESS_QUERY_LIMITED_INFORMATION
        } else {
            dwDesiredAccess
        };
        let entry = HandleEntry { object: Object::Process(target), access };
        let handle = match self.sys.process_mut(self.pid) {
            Some(me) => me.handles_mut().insert(entry),
            None => return self.fail(ERROR_INVALID_HANDLE, core::ptr::null_mut()),
        };
        self.finish(handle.raw() as usize as HANDLE)
    }

    /// Closes a handle of any type; the object goes with its last reference (a section also
    /// needs its views gone, F168). The current-process pseudo handle closes successfully and
    /// stays.
    pub fn CloseHandle(&mut self, hObject: HANDLE) -> BOOL {
        if is_current_process(hObject) {
            return self.finish(TRUE);
        }
        let closed = Handle::from_raw(hObject as usize as u64).map(|h| self.sys.close_handle(self.pid, h));
        match closed {
            Some(Ok(_)) => self.finish(TRUE),
            Some(Err(_)) | None => self.fail(ERROR_INVALID_HANDLE, FALSE),
        }
    }

    /// Duplicates a handle into a process (both process handles need PROCESS_DUP_HANDLE).
    /// `DUPLICATE_SAME_ACCESS` keeps the source's rights, else the handle grants
    /// `dwDesiredAccess` (F136); `DUPLICATE_CLOSE_SOURCE` closes the source handle whatever
    /// the outcome, as documented. `*lpTargetHandle` is written only on success.
    #[allow(clippy::too_many_arguments)]
    pub fn DuplicateHandle(
        &mut self,
        hSourceProcessHandle: HANDLE,
        hSourceHandle: HANDLE,
        hTargetProcessHandle: HANDLE,
        lpTargetHandle: &mut HANDLE,
        dwDesiredAccess: u32,
        bInheritHandle: BOOL,
        dwOptions: u32,
    ) -> BOOL {
        let _ = bInheritHandle; // No child processes inherit here.
        let source = match reference_process(self.sys, self.pid, hSourceProcessHandle, PROCESS_DUP_HANDLE) {
            Ok(pid) => pid,
            Err(s) => return self.fail(win32_error_of(s), FALSE),
        };
        let close_source = dwOptions & DUPLICATE_CLOSE_SOURCE != 0;
        let target = match reference_process(self.sys, self.pid, hTargetProcessHandle, PROCESS_DUP_HANDLE) {
            Ok(pid) => pid,
            Err(s) => {
                if close_source {
                    if let Some(h) = Handle::from_raw(hSourceHandle as usize as u64) {
                        let _ = self.sys.close_handle(source, h);
                    }
                }
                return self.fail(win32_error_of(s), FALSE);
            }
        };
        let access = (dwOptions & DUPLICATE_SAME_ACCESS == 0).then_some(dwDesiredAccess);
        if is_current_process(hSourceHandle) {
            // The pseudo handle duplicates into a real handle to the source process.
            let entry = HandleEntry { object: Object::Process(source), access: access.unwrap_or(u32::MAX) };
            return match self.sys.process_mut(target).filter(|p| p.space().is_some()) {
                Some(p) => {
                    *lpTargetHandle = p.handles_mut().insert(entry).raw() as usize as HANDLE;
                    self.finish(TRUE)
                }
                None => self.fail(ERROR_INVALID_HANDLE, FALSE),
            };
        }
        let Some(h) = Handle::from_raw(hSourceHandle as usize as u64) else {
            return self.fail(ERROR_INVALID_HANDLE, FALSE);
        };
        match self.sys.duplicate_handle(source, h, target, access, close_source) {
            Ok(new) => {
                *lpTargetHandle = new.raw() as usize as HANDLE;
                self.finish(TRUE)
            }
            Err(e) => {
                if close_source {
                    let _ = self.sys.close_handle(source, h);
                }
                self.fail(win32_error_of(status_of_section(e)), FALSE)
            }
        }
    }

    /// Terminates a process: every page it held goes back.
    pub fn TerminateProcess(&mut self, hProcess: HANDLE, uExitCode: u32) -> BOOL {
        let status = match reference_process(self.sys, self.pid, hProcess, PROCESS_TERMINATE) {
            Ok(pid) => match self.sys.terminate_process(pid, uExitCode) {
                Ok(()) => STATUS_SUCCESS,
                Err(e) => status_of_system(e),
            },
            Err(s) => s,
        };
        self.finish_status(status)
    }

    /// Copies from another process's memory (F173, F175).
    pub fn ReadProcessMemory(
        &mut self,
        hProcess: HANDLE,
        lpBaseAddress: u64,
        lpBuffer: &mut [u8],
        lpNumberOfBytesRead: Option<&mut usize>,
    ) -> BOOL {
        let (status, n) = nt::read_virtual_memory(self.sys, self.pid, hProcess, lpBaseAddress, lpBuffer);
        if let Some(r) = lpNumberOfBytesRead {
            // kernelbase passes its in/out size variable as NT's count: what NT does not
            // write stays the size asked.
            *r = n.unwrap_or(lpBuffer.len());
        }
        self.finish_status(status)
    }

    /// Copies into another process's memory, as Windows 10's kernelbase does: a writable
    /// target is written directly, stopping where a later page is not writable (V15); an
    /// execute-only or execute-read target is made writable for the copy and restored (F176);
    /// read-only and no-access targets fail with ERROR_NOACCESS and report nothing.
    pub fn WriteProcessMemory(
        &mut self,
        hProcess: HANDLE,
        lpBaseAddress: u64,
        lpBuffer: &[u8],
        lpNumberOfBytesWritten: Option<&mut usize>,
    ) -> BOOL {
        if lpBuffer.is_empty() {
            // V13: a zero-byte write succeeds.
            let (status, n) = nt::write_virtual_memory(self.sys, self.pid, hProcess, lpBaseAddress, lpBuffer);
            if let Some(w) = lpNumberOfBytesWritten {
                *w = n.unwrap_or(0);
            }
            return self.finish_status(status);
        }
        // "The handle must have PROCESS_VM_WRITE and PROCESS_VM_OPERATION access."
        if let Err(s) = reference_process(self.sys, self.pid, hProcess, PROCESS_VM_WRITE | PROCESS_VM_OPERATION) {
            return self.fail(win32_error_of(s), FALSE);
        }
        let mut info = MEMORY_BASIC_INFORMATION64::default();
        let status = nt::query_virtual_memory(self.sys, self.pid, hProcess, lpBaseAddress, &mut info);
        if failed(status) {
            return self.fail(win32_error_of(status), FALSE);
        }
        let writable = PAGE_READWRITE | PAGE_WRITECOPY | PAGE_EXECUTE_READWRITE | PAGE_EXECUTE_WRITECOPY;
        if info.State != MEM_COMMIT
            || info.Protect & (PAGE_NOACCESS | PAGE_READONLY) != 0
            || info.Protect & PAGE_GUARD != 0
        {
            return self.fail(ERROR_NOACCESS, FALSE);
        }
        let writable = info.Protect & writable != 0;
        // Execute-only and execute-read targets are made writable for the copy (code patching).
        let (mut base, mut size, mut old) = (lpBaseAddress, lpBuffer.len() as u64, 0);
        if !writable {
            let status = nt::protect_virtual_memory(
                self.sys,
                self.pid,
                hProcess,
                &mut base,
                &mut size,
                PAGE_EXECUTE_READWRITE,
                Some(&mut old),
            );
            if failed(status) {
                return self.fail(win32_error_of(status), FALSE);
            }
        }
        let restore = |k: &mut Self| {
            let (mut b, mut s, mut ignored) = (base, size, 0);
            let _ = nt::protect_virtual_memory(k.sys, k.pid, hProcess, &mut b, &mut s, old, Some(&mut ignored));
        };
        let (status, n) = nt::write_virtual_memory(self.sys, self.pid, hProcess, lpBaseAddress, lpBuffer);
        if !writable {
            restore(self);
        }
        if let Some(w) = lpNumberOfBytesWritten {
            // As for ReadProcessMemory: a count NT does not write stays the size asked.
            *w = n.unwrap_or(lpBuffer.len());
        }
        self.finish_status(status)
    }
}
