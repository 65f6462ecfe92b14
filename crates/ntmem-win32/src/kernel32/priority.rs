//! `SetProcessInformation` / `GetProcessInformation` for `ProcessMemoryPriority`: the memory
//! priority a process gives the pages it maps (F197).
//!
//! The page priority decides which standby pages are repurposed first: the lowest priority's,
//! oldest first (F196). A process's pages take its memory priority as they are mapped; pages
//! already resident keep theirs until they are mapped again.
//!
//! Checks, in NtSetInformationProcess's order: the information class (only
//! `ProcessMemoryPriority`: anything else `STATUS_INVALID_INFO_CLASS`, Win32 87), the size
//! (`sizeof(MEMORY_PRIORITY_INFORMATION)`, else `STATUS_INFO_LENGTH_MISMATCH`, Win32 24), the
//! handle (`PROCESS_SET_INFORMATION`; `PROCESS_QUERY_LIMITED_INFORMATION` to read), then the
//! value (at most `MEMORY_PRIORITY_NORMAL`, else `STATUS_INVALID_PARAMETER`, Win32 87).

use super::Kernel32;
use crate::errors::status_of_system;
use crate::nt::reference_process;
use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::System::Threading::{
    ProcessMemoryPriority, MEMORY_PRIORITY_INFORMATION, MEMORY_PRIORITY_NORMAL, PROCESS_INFORMATION_CLASS,
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SET_INFORMATION,
};

// A four-byte structure.
#[allow(clippy::cast_possible_truncation)]
const INFO_SIZE: u32 = core::mem::size_of::<MEMORY_PRIORITY_INFORMATION>() as u32;

#[allow(non_snake_case)]
impl Kernel32<'_> {
    /// Sets a process's memory priority (`ProcessMemoryPriority` only).
    pub fn SetProcessInformation(
        &mut self,
        hProcess: HANDLE,
        ProcessInformationClass: PROCESS_INFORMATION_CLASS,
        ProcessInformation: &MEMORY_PRIORITY_INFORMATION,
        ProcessInformationSize: u32,
    ) -> BOOL {
        if ProcessInformationClass != ProcessMemoryPriority {
            return self.finish_status(STATUS_INVALID_INFO_CLASS);
        }
        if ProcessInformationSize != INFO_SIZE {
            return self.finish_status(STATUS_INFO_LENGTH_MISMATCH);
        }
        let pid = match reference_process(self.sys, self.pid, hProcess, PROCESS_SET_INFORMATION) {
            Ok(p) => p,
            Err(s) => return self.finish_status(s),
        };
        let Ok(priority) = u8::try_from(ProcessInformation.MemoryPriority) else {
            return self.finish_status(STATUS_INVALID_PARAMETER);
        };
        if u32::from(priority) > MEMORY_PRIORITY_NORMAL {
            return self.finish_status(STATUS_INVALID_PARAMETER);
        }
        match self.sys.vm(pid) {
            Ok(mut vm) => {
                vm.set_memory_priority(priority);
                self.finish(TRUE)
            }
            Err(e) => self.finish_status(status_of_system(e)),
        }
    }

    /// Reads a process's memory priority (`ProcessMemoryPriority` only).
    pub fn GetProcessInformation(
        &mut self,
        hProcess: HANDLE,
        ProcessInformationClass: PROCESS_INFORMATION_CLASS,
        ProcessInformation: &mut MEMORY_PRIORITY_INFORMATION,
        ProcessInformationSize: u32,
    ) -> BOOL {
        if ProcessInformationClass != ProcessMemoryPriority {
            return self.finish_status(STATUS_INVALID_INFO_CLASS);
        }
        if ProcessInformationSize != INFO_SIZE {
            return self.finish_status(STATUS_INFO_LENGTH_MISMATCH);
        }
        let pid = match reference_process(self.sys, self.pid, hProcess, PROCESS_QUERY_LIMITED_INFORMATION) {
            Ok(p) => p,
            Err(s) => return self.finish_status(s),
        };
        match self.sys.process(pid).and_then(ntmem::system::Process::space) {
            Some(space) => {
                ProcessInformation.MemoryPriority = u32::from(space.memory_priority());
                self.finish(TRUE)
            }
            None => self.finish_status(status_of_system(ntmem::SystemError::ProcessTerminated)),
        }
    }
}
