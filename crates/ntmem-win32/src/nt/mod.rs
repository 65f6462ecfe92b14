//! The NT system services of the memory manager, as `ntoskrnl` validates them: parameter
//! checks in NT's order and with its `STATUS_INVALID_PARAMETER_n` numbering, process handles
//! and their access rights, then the core. `Ntdll` and `Kernel32` both call these.
//!
//! Out parameters follow NT: a success writes every one (ranges rounded to pages); a call the
//! parameter checks reject writes none; the few that NT writes on a failure are said at the
//! service (`NtProtectVirtualMemory`'s old protection, the copy count of
//! `NtReadVirtualMemory` / `NtWriteVirtualMemory`).

mod copy;
mod section;
mod view;
mod virtual_memory;

pub(crate) use copy::{read_virtual_memory, write_virtual_memory};
pub(crate) use section::{create_section, open_section, query_section};
pub use section::{
    SectionInformation, OBJECT_ATTRIBUTES, SECTION_BASIC_INFORMATION, SECTION_BASIC_INFORMATION_CLASS,
    SECTION_IMAGE_INFORMATION, SECTION_IMAGE_INFORMATION_CLASS, SEC_FILE,
};
pub(crate) use view::{flush_virtual_memory, map_view_of_section, unmap_view_of_section};
pub use view::{IO_STATUS_BLOCK, VIEW_SHARE, VIEW_UNMAP};
pub(crate) use virtual_memory::{
    allocate_virtual_memory, free_virtual_memory, get_write_watch, lock_virtual_memory, protect_virtual_memory,
    query_virtual_memory, reset_write_watch, unlock_virtual_memory,
};
pub use virtual_memory::{MAP_PROCESS, MAP_SYSTEM};

use ntmem::system::{Handle, Object};
use ntmem::units::USER_END;
use ntmem::{ProcessId, System, Vm};
use windows_sys::Win32::Foundation::*;

/// The pseudo handle of the current process, `(HANDLE)-1`.
#[must_use]
#[allow(non_snake_case)]
pub fn NtCurrentProcess() -> HANDLE {
    usize::MAX as HANDLE
}

/// True for the current-process pseudo handle.
pub(crate) fn is_current_process(h: HANDLE) -> bool {
    h as usize == usize::MAX
}

/// Resolves a process handle of `caller` to the process it names, checking that the handle
/// grants every right in `access` (ObReferenceObjectByHandle).
pub(crate) fn reference_process(
    sys: &System,
    caller: ProcessId,
    h: HANDLE,
    access: u32,
) -> Result<ProcessId, NTSTATUS> {
    if is_current_process(h) {
        return Ok(caller);
    }
    let handle = Handle::from_raw(h as usize as u64).ok_or(STATUS_INVALID_HANDLE)?;
    let entry = sys.process(caller).and_then(|p| p.handles().get(handle)).ok_or(STATUS_INVALID_HANDLE)?;
    match entry.object {
        Object::Process(pid) if entry.access & access == access => Ok(pid),
        Object::Process(_) => Err(STATUS_ACCESS_DENIED),
        Object::File(_) | Object::Section(_) | Object::Event(_) => Err(STATUS_OBJECT_TYPE_MISMATCH),
    }
}

/// The memory manager as the process behind `h` sees it, when `h` grants `access`
/// ([`reference_process`], then the process must still run).
pub(crate) fn vm_of<'s>(sys: &'s mut System, caller: ProcessId, h: HANDLE, access: u32) -> Result<Vm<'s>, NTSTATUS> {
    let pid = reference_process(sys, caller, h, access)?;
    sys.vm(pid).map_err(crate::errors::status_of_system)
}

/// The end below which `ZeroBits` keep what the system places (F47, F188): 0 sets no limit;
/// 1 to 21 count from bit 31; a larger value is a mask whose leading zeros alone count, and a
/// mask with none (bit 63 set) sets no limit. `None` for 22 to 31, which NT refuses (each
/// service with its own status).
pub(crate) fn zero_bits_limit(zero_bits: u64) -> Option<u64> {
    match zero_bits {
        0 => Some(USER_END),
        1..=21 => Some(1 << (32 - zero_bits)),
        22..=31 => None,
        mask => Some(1u64.checked_shl(64 - mask.leading_zeros()).map_or(USER_END, |l| l.min(USER_END))),
    }
}

/// True for a status of the error class (`NT_ERROR`) or warning class.
pub(crate) fn failed(status: NTSTATUS) -> bool {
    status < 0
}
