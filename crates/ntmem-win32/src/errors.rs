//! The one place errors become Windows codes: the core's typed errors to NTSTATUS, and NTSTATUS
//! to Win32 errors as `RtlNtStatusToDosError` does (docs/windows-behaviour.md, "NTSTATUS codes
//! and the Win32 error each becomes").

use ntmem::{SystemError, VmError};
use windows_sys::Win32::Foundation::*;

/// The NTSTATUS NT returns for a memory-manager error.
#[must_use]
pub fn status_of(e: VmError) -> NTSTATUS {
    match e {
        VmError::ConflictingAddresses => STATUS_CONFLICTING_ADDRESSES,
        VmError::NotAllocated => STATUS_MEMORY_NOT_ALLOCATED,
        VmError::FreeNotAtBase => STATUS_FREE_VM_NOT_AT_BASE,
        VmError::UnableToFree => STATUS_UNABLE_TO_FREE_VM,
        VmError::NotCommitted => STATUS_NOT_COMMITTED,
        VmError::CommitLimit => STATUS_COMMITMENT_LIMIT,
        VmError::NoFreeSpace => STATUS_NO_MEMORY,
        VmError::InsufficientResources => STATUS_INSUFFICIENT_RESOURCES,
        VmError::InvalidProtection => STATUS_INVALID_PAGE_PROTECTION,
        VmError::InvalidParameter | VmError::NotWriteWatch => STATUS_INVALID_PARAMETER,
        VmError::NotLocked => STATUS_NOT_LOCKED,
        VmError::WorkingSetQuota => STATUS_WORKING_SET_QUOTA,
        VmError::GuardPage(_) => STATUS_GUARD_PAGE_VIOLATION,
        VmError::OutOfFrames(_) => STATUS_INSUFFICIENT_RESOURCES,
        VmError::InPageError(_) => STATUS_IN_PAGE_ERROR,
        VmError::AccessViolation(..) => STATUS_ACCESS_VIOLATION,
    }
}

/// The NTSTATUS for a failure to reach a process.
#[must_use]
pub(crate) fn status_of_system(e: SystemError) -> NTSTATUS {
    match e {
        SystemError::NoSuchProcess => STATUS_INVALID_HANDLE,
        SystemError::ProcessTerminated => STATUS_PROCESS_IS_TERMINATING,
        SystemError::CommitLimit => STATUS_COMMITMENT_LIMIT,
        SystemError::Config(_) | SystemError::PageFileCreation(_) => STATUS_INVALID_PARAMETER,
    }
}

/// `RtlNtStatusToDosError` for the statuses the memory manager returns.
#[must_use]
pub fn win32_error_of(status: NTSTATUS) -> u32 {
    match status {
        STATUS_SUCCESS => ERROR_SUCCESS,
        // Passed through unchanged (F98).
        STATUS_GUARD_PAGE_VIOLATION => STATUS_GUARD_PAGE_VIOLATION.cast_unsigned(),
        STATUS_PARTIAL_COPY => ERROR_PARTIAL_COPY,
        STATUS_INFO_LENGTH_MISMATCH => ERROR_BAD_LENGTH,
        STATUS_ACCESS_VIOLATION => ERROR_NOACCESS,
        STATUS_IN_PAGE_ERROR => ERROR_SWAPERROR,
        STATUS_PAGEFILE_QUOTA => ERROR_PAGEFILE_QUOTA,
        STATUS_INVALID_HANDLE | STATUS_OBJECT_TYPE_MISMATCH => ERROR_INVALID_HANDLE,
        STATUS_NO_MEMORY | STATUS_SECTION_TOO_BIG => ERROR_NOT_ENOUGH_MEMORY,
        STATUS_CONFLICTING_ADDRESSES
        | STATUS_NOT_MAPPED_VIEW
        | STATUS_FREE_VM_NOT_AT_BASE
        | STATUS_MEMORY_NOT_ALLOCATED
        | STATUS_NOT_COMMITTED => ERROR_INVALID_ADDRESS,
        STATUS_INVALID_VIEW_SIZE | STATUS_ALREADY_COMMITTED | STATUS_ACCESS_DENIED | STATUS_PROCESS_IS_TERMINATING => {
            ERROR_ACCESS_DENIED
        }
        STATUS_INVALID_FILE_FOR_SECTION | STATUS_INVALID_IMAGE_NOT_MZ => ERROR_BAD_EXE_FORMAT,
        STATUS_NOT_LOCKED => ERROR_NOT_LOCKED,
        STATUS_OBJECT_NAME_NOT_FOUND => ERROR_FILE_NOT_FOUND,
        STATUS_OBJECT_NAME_COLLISION => ERROR_ALREADY_EXISTS,
        STATUS_PRIVILEGE_NOT_HELD => ERROR_PRIVILEGE_NOT_HELD,
        STATUS_INSUFFICIENT_RESOURCES => ERROR_NO_SYSTEM_RESOURCES,
        STATUS_WORKING_SET_QUOTA => ERROR_WORKING_SET_QUOTA,
        STATUS_NOT_SUPPORTED => ERROR_NOT_SUPPORTED,
        STATUS_MAPPED_FILE_SIZE_ZERO => ERROR_FILE_INVALID,
        STATUS_COMMITMENT_LIMIT => ERROR_COMMITMENT_LIMIT,
        STATUS_MAPPED_ALIGNMENT => ERROR_MAPPED_ALIGNMENT,
        STATUS_UNABLE_TO_FREE_VM
        | STATUS_UNABLE_TO_DELETE_SECTION
        | STATUS_INVALID_PAGE_PROTECTION
        | STATUS_SECTION_NOT_IMAGE
        | STATUS_SECTION_PROTECTION
        | STATUS_INVALID_PARAMETER => ERROR_INVALID_PARAMETER,
        s if (STATUS_INVALID_PARAMETER_1..=STATUS_INVALID_PARAMETER_12).contains(&s) => ERROR_INVALID_PARAMETER,
        _ => ERROR_MR_MID_NOT_FOUND,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_shaped_failures_are_487_and_range_shaped_are_87() {
        // docs/windows-behaviour.md, "What the table implies".
        for s in [
            STATUS_CONFLICTING_ADDRESSES,
            STATUS_MEMORY_NOT_ALLOCATED,
            STATUS_FREE_VM_NOT_AT_BASE,
            STATUS_NOT_COMMITTED,
        ] {
            assert_eq!(win32_error_of(s), ERROR_INVALID_ADDRESS);
        }
        for s in [STATUS_UNABLE_TO_FREE_VM, STATUS_INVALID_PAGE_PROTECTION, STATUS_INVALID_PARAMETER_4] {
            assert_eq!(win32_error_of(s), ERROR_INVALID_PARAMETER);
        }
        assert_eq!(win32_error_of(STATUS_GUARD_PAGE_VIOLATION), 0x8000_0001);
    }
}
