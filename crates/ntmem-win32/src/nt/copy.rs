//! `NtReadVirtualMemory` and `NtWriteVirtualMemory`: copies between another process's address
//! space and a caller's buffer, as `MmCopyVirtualMemory` does.
//!
//! The copy goes in chunks of 64 KiB through a kernel buffer (`MiDoPoolCopy`): a fault reading
//! the source loses the chunk it happened in, so the count is the chunks completed before it
//! (F175: a two-page read whose second page is no-access copies 0); a fault writing the target
//! stops at the exact byte (V15). Either way the status is `STATUS_PARTIAL_COPY` (V14, V16).

use super::reference_process;
use crate::errors::status_of_system;
use ntmem::{ProcessId, System};
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::System::Threading::{PROCESS_VM_READ, PROCESS_VM_WRITE};

const CHUNK: usize = 0x1_0000;
const PAGE: u64 = ntmem::units::PAGE_SIZE;

/// Reads `buf.len()` bytes at `addr` of the process behind `process`; returns the status and
/// the bytes copied.
pub(crate) fn read_virtual_memory(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    addr: u64,
    buf: &mut [u8],
) -> (NTSTATUS, usize) {
    let pid = match reference_process(sys, caller, process, PROCESS_VM_READ) {
        Ok(p) => p,
        Err(s) => return (s, 0),
    };
    let mut vm = match sys.vm(pid) {
        Ok(vm) => vm,
        Err(e) => return (status_of_system(e), 0),
    };
    let mut chunk = vec![0u8; CHUNK.min(buf.len())];
    let mut done = 0;
    while done < buf.len() {
        let n = CHUNK.min(buf.len() - done);
        let Some(at) = addr.checked_add(done as u64) else { return (STATUS_PARTIAL_COPY, done) };
        if vm.read(at, &mut chunk[..n]).is_err() {
            return (STATUS_PARTIAL_COPY, done);
        }
        buf[done..done + n].copy_from_slice(&chunk[..n]);
        done += n;
    }
    (STATUS_SUCCESS, done)
}

/// Writes `data` at `addr` of the process behind `process`; returns the status and the bytes
/// written.
pub(crate) fn write_virtual_memory(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    addr: u64,
    data: &[u8],
) -> (NTSTATUS, usize) {
    let access = PROCESS_VM_WRITE | windows_sys::Win32::System::Threading::PROCESS_VM_OPERATION;
    let pid = match reference_process(sys, caller, process, access) {
        Ok(p) => p,
        Err(s) => return (s, 0),
    };
    let mut vm = match sys.vm(pid) {
        Ok(vm) => vm,
        Err(e) => return (status_of_system(e), 0),
    };
    let mut done = 0;
    while done < data.len() {
        let Some(at) = addr.checked_add(done as u64) else { return (STATUS_PARTIAL_COPY, done) };
        let in_page = usize::try_from(PAGE - at % PAGE).unwrap_or(usize::MAX);
        let n = in_page.min(data.len() - done);
        if vm.write(at, &data[done..done + n]).is_err() {
            return (STATUS_PARTIAL_COPY, done);
        }
        done += n;
    }
    (STATUS_SUCCESS, done)
}
