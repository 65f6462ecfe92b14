//! The one place errors become Windows codes: the core's typed errors to NTSTATUS, NTSTATUS
//! to Win32 errors as `RtlNtStatusToDosError` does (docs/windows-behaviour.md, "NTSTATUS codes
//! and the Win32 error each becomes"), and NTSTATUS to its `ntstatus.h` name for messages.

use ntmem::section::{ImageError, ImageMapStatus, SectionError};
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
        VmError::SectionProtection => STATUS_SECTION_PROTECTION,
        VmError::InvalidParameter | VmError::NotWriteWatch => STATUS_INVALID_PARAMETER,
        VmError::NotLocked => STATUS_NOT_LOCKED,
        VmError::WorkingSetQuota => STATUS_WORKING_SET_QUOTA,
        VmError::GuardPage(_) => STATUS_GUARD_PAGE_VIOLATION,
        VmError::OutOfFrames(_) => STATUS_INSUFFICIENT_RESOURCES,
        VmError::InPageError(_) => STATUS_IN_PAGE_ERROR,
        VmError::AccessViolation(..) => STATUS_ACCESS_VIOLATION,
        VmError::AccessDenied => STATUS_ACCESS_DENIED,
        VmError::NotMappedView => STATUS_NOT_MAPPED_VIEW,
        VmError::SectionMemory => STATUS_UNABLE_TO_DELETE_SECTION,
        VmError::WriteBackFailed(_) => STATUS_IO_DEVICE_ERROR,
    }
}

/// The NTSTATUS for a failure to reach a process.
#[must_use]
pub(crate) fn status_of_system(e: SystemError) -> NTSTATUS {
    match e {
        SystemError::NoSuchProcess => STATUS_INVALID_HANDLE,
        SystemError::ProcessTerminated => STATUS_PROCESS_IS_TERMINATING,
        SystemError::CommitLimit => STATUS_COMMITMENT_LIMIT,
        SystemError::Config(_) | SystemError::PageFileCreation { .. } => STATUS_INVALID_PARAMETER,
        SystemError::RamMapping { .. } => STATUS_NO_MEMORY,
    }
}

/// The NTSTATUS NT returns for a file or section error.
#[must_use]
pub(crate) fn status_of_section(e: SectionError) -> NTSTATUS {
    match e {
        SectionError::InvalidHandle => STATUS_INVALID_HANDLE,
        SectionError::ObjectTypeMismatch => STATUS_OBJECT_TYPE_MISMATCH,
        SectionError::AccessDenied => STATUS_ACCESS_DENIED,
        SectionError::InvalidParameter | SectionError::NegativeSeek => STATUS_INVALID_PARAMETER,
        SectionError::NameNotFound => STATUS_OBJECT_NAME_NOT_FOUND,
        SectionError::PathNotFound => STATUS_OBJECT_PATH_NOT_FOUND,
        SectionError::NameCollision => STATUS_OBJECT_NAME_COLLISION,
        SectionError::SharingViolation => STATUS_SHARING_VIOLATION,
        SectionError::SectionTooBig => STATUS_SECTION_TOO_BIG,
        SectionError::SectionNotExtended => STATUS_SECTION_NOT_EXTENDED,
        SectionError::MappedFileSizeZero => STATUS_MAPPED_FILE_SIZE_ZERO,
        SectionError::DiskFull => STATUS_DISK_FULL,
        SectionError::CommitLimit => STATUS_COMMITMENT_LIMIT,
        SectionError::InsufficientResources => STATUS_INSUFFICIENT_RESOURCES,
        SectionError::InvalidProtection => STATUS_INVALID_PAGE_PROTECTION,
        SectionError::InvalidFileForSection => STATUS_INVALID_FILE_FOR_SECTION,
        SectionError::InvalidImageNotMz => STATUS_INVALID_IMAGE_NOT_MZ,
        SectionError::NotSupported => STATUS_NOT_SUPPORTED,
        SectionError::Io(_) => STATUS_IO_DEVICE_ERROR,
        SectionError::InvalidViewSize => STATUS_INVALID_VIEW_SIZE,
        SectionError::UserMappedFile => STATUS_USER_MAPPED_FILE,
        SectionError::View(e) => status_of(e),
        SectionError::Image(e) => status_of_image(e),
    }
}

/// The NTSTATUS NT's `MiCreateImageFileMap` returns for a file that is not an image `SEC_IMAGE`
/// can map (F130); each becomes `ERROR_BAD_EXE_FORMAT`.
#[must_use]
pub fn status_of_image(e: ImageError) -> NTSTATUS {
    match e {
        ImageError::NotMz => STATUS_INVALID_IMAGE_NOT_MZ,
        ImageError::NeFormat => STATUS_INVALID_IMAGE_NE_FORMAT,
        ImageError::NotPe => STATUS_INVALID_IMAGE_PROTECT,
        ImageError::BadExeFormat => STATUS_INVALID_IMAGE_FORMAT,
    }
}

/// The status of mapping an image view (F163): success codes all three, the view is mapped.
#[must_use]
pub fn status_of_image_map(s: ImageMapStatus) -> NTSTATUS {
    match s {
        ImageMapStatus::AtBase => STATUS_SUCCESS,
        ImageMapStatus::NotAtBase => STATUS_IMAGE_NOT_AT_BASE,
        ImageMapStatus::MachineMismatch => STATUS_IMAGE_MACHINE_TYPE_MISMATCH,
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
        STATUS_SECTION_NOT_EXTENDED => ERROR_OUTOFMEMORY,
        STATUS_CONFLICTING_ADDRESSES
        | STATUS_NOT_MAPPED_VIEW
        | STATUS_FREE_VM_NOT_AT_BASE
        | STATUS_MEMORY_NOT_ALLOCATED
        | STATUS_NOT_COMMITTED => ERROR_INVALID_ADDRESS,
        STATUS_INVALID_VIEW_SIZE | STATUS_ALREADY_COMMITTED | STATUS_ACCESS_DENIED | STATUS_PROCESS_IS_TERMINATING => {
            ERROR_ACCESS_DENIED
        }
        STATUS_INVALID_FILE_FOR_SECTION
        | STATUS_INVALID_IMAGE_NOT_MZ
        | STATUS_INVALID_IMAGE_NE_FORMAT
        | STATUS_INVALID_IMAGE_PROTECT
        | STATUS_INVALID_IMAGE_FORMAT => ERROR_BAD_EXE_FORMAT,
        STATUS_IMAGE_NOT_AT_BASE => ERROR_IMAGE_NOT_AT_BASE,
        STATUS_IMAGE_MACHINE_TYPE_MISMATCH => ERROR_IMAGE_MACHINE_TYPE_MISMATCH,
        STATUS_NOT_LOCKED => ERROR_NOT_LOCKED,
        STATUS_OBJECT_NAME_NOT_FOUND => ERROR_FILE_NOT_FOUND,
        STATUS_OBJECT_PATH_NOT_FOUND => ERROR_PATH_NOT_FOUND,
        STATUS_SHARING_VIOLATION => ERROR_SHARING_VIOLATION,
        STATUS_DISK_FULL => ERROR_DISK_FULL,
        STATUS_USER_MAPPED_FILE => ERROR_USER_MAPPED_FILE,
        STATUS_IO_DEVICE_ERROR => ERROR_IO_DEVICE,
        STATUS_OBJECT_NAME_EXISTS => ERROR_ALREADY_EXISTS,
        STATUS_INVALID_INFO_CLASS => ERROR_INVALID_PARAMETER,
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

/// The name of an NTSTATUS the memory manager returns or raises, as `ntstatus.h` spells it.
#[must_use]
pub fn status_name(status: NTSTATUS) -> Option<&'static str> {
    const NAMES: &[(NTSTATUS, &str)] = &[
        (STATUS_SUCCESS, "STATUS_SUCCESS"),
        (STATUS_GUARD_PAGE_VIOLATION, "STATUS_GUARD_PAGE_VIOLATION"),
        (STATUS_PARTIAL_COPY, "STATUS_PARTIAL_COPY"),
        (STATUS_INFO_LENGTH_MISMATCH, "STATUS_INFO_LENGTH_MISMATCH"),
        (STATUS_ACCESS_VIOLATION, "STATUS_ACCESS_VIOLATION"),
        (STATUS_IN_PAGE_ERROR, "STATUS_IN_PAGE_ERROR"),
        (STATUS_PAGEFILE_QUOTA, "STATUS_PAGEFILE_QUOTA"),
        (STATUS_INVALID_HANDLE, "STATUS_INVALID_HANDLE"),
        (STATUS_INVALID_PARAMETER, "STATUS_INVALID_PARAMETER"),
        (STATUS_NO_MEMORY, "STATUS_NO_MEMORY"),
        (STATUS_CONFLICTING_ADDRESSES, "STATUS_CONFLICTING_ADDRESSES"),
        (STATUS_NOT_MAPPED_VIEW, "STATUS_NOT_MAPPED_VIEW"),
        (STATUS_UNABLE_TO_FREE_VM, "STATUS_UNABLE_TO_FREE_VM"),
        (STATUS_UNABLE_TO_DELETE_SECTION, "STATUS_UNABLE_TO_DELETE_SECTION"),
        (STATUS_INVALID_VIEW_SIZE, "STATUS_INVALID_VIEW_SIZE"),
        (STATUS_ALREADY_COMMITTED, "STATUS_ALREADY_COMMITTED"),
        (STATUS_ACCESS_DENIED, "STATUS_ACCESS_DENIED"),
        (STATUS_OBJECT_TYPE_MISMATCH, "STATUS_OBJECT_TYPE_MISMATCH"),
        (STATUS_NOT_LOCKED, "STATUS_NOT_LOCKED"),
        (STATUS_NOT_COMMITTED, "STATUS_NOT_COMMITTED"),
        (STATUS_INVALID_PAGE_PROTECTION, "STATUS_INVALID_PAGE_PROTECTION"),
        (STATUS_PRIVILEGE_NOT_HELD, "STATUS_PRIVILEGE_NOT_HELD"),
        (STATUS_INSUFFICIENT_RESOURCES, "STATUS_INSUFFICIENT_RESOURCES"),
        (STATUS_FREE_VM_NOT_AT_BASE, "STATUS_FREE_VM_NOT_AT_BASE"),
        (STATUS_MEMORY_NOT_ALLOCATED, "STATUS_MEMORY_NOT_ALLOCATED"),
        (STATUS_WORKING_SET_QUOTA, "STATUS_WORKING_SET_QUOTA"),
        (STATUS_NOT_SUPPORTED, "STATUS_NOT_SUPPORTED"),
        (STATUS_PROCESS_IS_TERMINATING, "STATUS_PROCESS_IS_TERMINATING"),
        (STATUS_INVALID_PARAMETER_1, "STATUS_INVALID_PARAMETER_1"),
        (STATUS_INVALID_PARAMETER_2, "STATUS_INVALID_PARAMETER_2"),
        (STATUS_INVALID_PARAMETER_3, "STATUS_INVALID_PARAMETER_3"),
        (STATUS_INVALID_PARAMETER_4, "STATUS_INVALID_PARAMETER_4"),
        (STATUS_INVALID_PARAMETER_5, "STATUS_INVALID_PARAMETER_5"),
        (STATUS_INVALID_PARAMETER_6, "STATUS_INVALID_PARAMETER_6"),
        (STATUS_INVALID_PARAMETER_7, "STATUS_INVALID_PARAMETER_7"),
        (STATUS_INVALID_PARAMETER_8, "STATUS_INVALID_PARAMETER_8"),
        (STATUS_INVALID_PARAMETER_9, "STATUS_INVALID_PARAMETER_9"),
        (STATUS_INVALID_PARAMETER_10, "STATUS_INVALID_PARAMETER_10"),
        (STATUS_INVALID_PARAMETER_11, "STATUS_INVALID_PARAMETER_11"),
        (STATUS_INVALID_PARAMETER_12, "STATUS_INVALID_PARAMETER_12"),
        (STATUS_COMMITMENT_LIMIT, "STATUS_COMMITMENT_LIMIT"),
        (STATUS_OBJECT_NAME_NOT_FOUND, "STATUS_OBJECT_NAME_NOT_FOUND"),
        (STATUS_OBJECT_NAME_EXISTS, "STATUS_OBJECT_NAME_EXISTS"),
        (STATUS_OBJECT_NAME_COLLISION, "STATUS_OBJECT_NAME_COLLISION"),
        (STATUS_OBJECT_PATH_NOT_FOUND, "STATUS_OBJECT_PATH_NOT_FOUND"),
        (STATUS_SHARING_VIOLATION, "STATUS_SHARING_VIOLATION"),
        (STATUS_SECTION_TOO_BIG, "STATUS_SECTION_TOO_BIG"),
        (STATUS_SECTION_NOT_EXTENDED, "STATUS_SECTION_NOT_EXTENDED"),
        (STATUS_MAPPED_FILE_SIZE_ZERO, "STATUS_MAPPED_FILE_SIZE_ZERO"),
        (STATUS_DISK_FULL, "STATUS_DISK_FULL"),
        (STATUS_INVALID_FILE_FOR_SECTION, "STATUS_INVALID_FILE_FOR_SECTION"),
        (STATUS_INVALID_IMAGE_NOT_MZ, "STATUS_INVALID_IMAGE_NOT_MZ"),
        (STATUS_INVALID_IMAGE_NE_FORMAT, "STATUS_INVALID_IMAGE_NE_FORMAT"),
        (STATUS_INVALID_IMAGE_PROTECT, "STATUS_INVALID_IMAGE_PROTECT"),
        (STATUS_INVALID_IMAGE_FORMAT, "STATUS_INVALID_IMAGE_FORMAT"),
        (STATUS_IMAGE_NOT_AT_BASE, "STATUS_IMAGE_NOT_AT_BASE"),
        (STATUS_IMAGE_MACHINE_TYPE_MISMATCH, "STATUS_IMAGE_MACHINE_TYPE_MISMATCH"),
        (STATUS_SECTION_NOT_IMAGE, "STATUS_SECTION_NOT_IMAGE"),
        (STATUS_INVALID_INFO_CLASS, "STATUS_INVALID_INFO_CLASS"),
        (STATUS_IO_DEVICE_ERROR, "STATUS_IO_DEVICE_ERROR"),
        (STATUS_USER_MAPPED_FILE, "STATUS_USER_MAPPED_FILE"),
        (STATUS_MAPPED_ALIGNMENT, "STATUS_MAPPED_ALIGNMENT"),
        (STATUS_SECTION_PROTECTION, "STATUS_SECTION_PROTECTION"),
    ];
    NAMES.iter().find(|(s, _)| *s == status).map(|(_, name)| *name)
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

    #[test]
    fn every_status_the_table_maps_has_a_name() {
        for s in [STATUS_ACCESS_VIOLATION, STATUS_NOT_COMMITTED, STATUS_INVALID_PARAMETER_12, STATUS_COMMITMENT_LIMIT] {
            assert!(status_name(s).is_some_and(|n| n.starts_with("STATUS_")), "{s:#x}");
        }
        assert_eq!(status_name(STATUS_GUARD_PAGE_VIOLATION), Some("STATUS_GUARD_PAGE_VIOLATION"));
        assert_eq!(status_name(0x1234), None);
    }

    #[test]
    fn every_image_error_is_bad_exe_format_f130() {
        for e in [ImageError::NotMz, ImageError::NeFormat, ImageError::NotPe, ImageError::BadExeFormat] {
            let status = status_of_image(e);
            assert!(status < 0, "{e:?} is a failure");
            assert_eq!(win32_error_of(status), ERROR_BAD_EXE_FORMAT, "{e:?}");
            assert!(status_name(status).is_some(), "{e:?}");
        }
    }

    #[test]
    fn image_map_statuses_are_success_codes_f163() {
        let statuses = [ImageMapStatus::AtBase, ImageMapStatus::NotAtBase, ImageMapStatus::MachineMismatch]
            .map(status_of_image_map);
        assert_eq!(statuses, [STATUS_SUCCESS, 0x4000_0003, 0x4000_000E]);
        assert!(statuses.iter().all(|&s| s >= 0), "NT_SUCCESS");
        assert_eq!(win32_error_of(STATUS_IMAGE_NOT_AT_BASE), ERROR_IMAGE_NOT_AT_BASE);
        assert_eq!(win32_error_of(STATUS_IMAGE_MACHINE_TYPE_MISMATCH), ERROR_IMAGE_MACHINE_TYPE_MISMATCH);
    }
}
