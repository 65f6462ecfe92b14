//! `NtReadVirtualMemory` and `NtWriteVirtualMemory`: copies between another process's address
//! space and a caller's buffer, as `MmCopyVirtualMemory` does.
//!
//! The copy goes in chunks of 64 KiB through a kernel buffer (`MiDoPoolCopy`): a fault reading
//! the source loses the chunk it happened in, so the count is the chunks completed before it
//! (F175: a two-page read whose second page is no-access copies 0); a fault writing the target
//! stops at the exact byte (V15). Either way the status is `STATUS_PARTIAL_COPY` (V14, V16).
//!
//! Before any of that, in NT's order (ReactOS `NtReadVirtualMemory`): a range that wraps or
//! ends above the user address space is `STATUS_ACCESS_VIOLATION` and no count is written;
//! a copy of no bytes succeeds without looking at the handle.

use super::reference_process;
use crate::errors::status_of_system;
use ntmem::units::USER_END;
use ntmem::{ProcessId, System};
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::System::Threading::{PROCESS_VM_READ, PROCESS_VM_WRITE};

const CHUNK: usize = 0x1_0000;
const PAGE: u64 = ntmem::units::PAGE_SIZE;

/// The checks NT makes before it references the process: `Err` with the status and the count
/// to report (`None`: the count is not written), or `Ok` when there are bytes to copy.
fn precheck(addr: u64, len: usize) -> Result<(), (NTSTATUS, Option<usize>)> {
    match addr.checked_add(len as u64) {
        Some(end) if end <= USER_END => {}
        // The range wraps, or ends above MmUserProbeAddress.
        _ => return Err((STATUS_ACCESS_VIOLATION, None)),
    }
    if len == 0 {
        return Err((STATUS_SUCCESS, Some(0))); // "Don't do zero-byte transfers."
    }
    Ok(())
}

/// Reads `buf.len()` bytes at `addr` of the process behind `process`; returns the status and
/// the bytes copied (`None`: NT writes no count).
pub(crate) fn read_virtual_memory(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    addr: u64,
    buf: &mut [u8],
) -> (NTSTATUS, Option<usize>) {
    if let Err(early) = precheck(addr, buf.len()) {
        return early;
    }
    let (status, n) = read_checked(sys, caller, process, addr, buf);
    (status, Some(n))
}

fn read_checked(sys: &mut System, caller: ProcessId, process: HANDLE, addr: u64, buf: &mut [u8]) -> (NTSTATUS, usize) {
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
/// written (`None`: NT writes no count).
pub(crate) fn write_virtual_memory(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    addr: u64,
    data: &[u8],
) -> (NTSTATUS, Option<usize>) {
    if let Err(early) = precheck(addr, data.len()) {
        return early;
    }
    let (status, n) = write_checked(sys, caller, process, addr, data);
    (status, Some(n))
}

fn write_checked(sys: &mut System, caller: ProcessId, process: HANDLE, addr: u64, data: &[u8]) -> (NTSTATUS, usize) {
    // NT asks PROCESS_VM_WRITE alone (ReactOS `NtWriteVirtualMemory`); WriteProcessMemory's
    // PROCESS_VM_OPERATION is for the protection change kernelbase makes around the copy.
    let pid = match reference_process(sys, caller, process, PROCESS_VM_WRITE) {
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
