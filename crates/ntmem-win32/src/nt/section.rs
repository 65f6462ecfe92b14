//! `NtCreateSection`, `NtOpenSection`, `NtQuerySection`: section attributes (F129–F131) and
//! protection (F127) checked in NT's order, the file handle referenced, then the core.
//!
//! Out parameters: the section handle is written only on success (including
//! `STATUS_OBJECT_NAME_EXISTS`, F133); `NtQuerySection` writes its buffer and return length
//! only on success.

use crate::errors::status_of_section;
use crate::protection::from_win32;
use ntmem::section::{Created, SectionKind, SectionOptions};
use ntmem::system::Handle;
use ntmem::{Modifier, ProcessId, System};
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::System::Memory::*;

/// `SectionBasicInformation`.
pub const SECTION_BASIC_INFORMATION_CLASS: u32 = 0;
/// `SectionImageInformation`.
pub const SECTION_IMAGE_INFORMATION_CLASS: u32 = 1;

/// `SECTION_BASIC_INFORMATION` (x64 layout: 24 bytes).
#[allow(non_snake_case, non_camel_case_types)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SECTION_BASIC_INFORMATION {
    /// Always NULL for a section (F132).
    pub BaseAddress: u64,
    /// `SEC_*` attributes.
    pub AllocationAttributes: u32,
    /// The section's size.
    pub MaximumSize: i64,
}

/// `SEC_FILE`: reported, never accepted (F129).
pub const SEC_FILE: u32 = 0x0080_0000;
const SEC_KNOWN: u32 = SEC_64K_PAGES
    | SEC_FILE
    | SEC_IMAGE
    | SEC_PROTECTED_IMAGE
    | SEC_RESERVE
    | SEC_COMMIT
    | SEC_NOCACHE
    | SEC_WRITECOMBINE
    | SEC_LARGE_PAGES;

/// F129, F131: the attribute combinations NT takes, as (kind, caching).
fn check_attributes(attributes: u32) -> Result<(SectionKind, Modifier), NTSTATUS> {
    let bad = Err(STATUS_INVALID_PARAMETER_6);
    if attributes & !SEC_KNOWN != 0 || attributes & (SEC_FILE | SEC_64K_PAGES | SEC_PROTECTED_IMAGE) != 0 {
        return bad;
    }
    let caching = match attributes & (SEC_NOCACHE | SEC_WRITECOMBINE) {
        0 => Modifier::None,
        SEC_NOCACHE => Modifier::NoCache,
        SEC_WRITECOMBINE => Modifier::WriteCombine,
        _ => return bad,
    };
    if attributes & SEC_IMAGE != 0 {
        // F131: SEC_NOCACHE is accepted and dropped; anything else with SEC_IMAGE is not.
        if attributes & !(SEC_IMAGE | SEC_NOCACHE) != 0 {
            return bad;
        }
        return Ok((SectionKind::Image, Modifier::None));
    }
    if attributes & SEC_LARGE_PAGES != 0 {
        // SEC_LARGE_PAGES alone or with SEC_RESERVE: 87 (F129). With SEC_COMMIT Windows
        // wants SeLockMemoryPrivilege and a large-page-able section; ntmem has no large-page
        // sections, so it refuses that too.
        return bad;
    }
    match attributes & (SEC_RESERVE | SEC_COMMIT) {
        SEC_COMMIT => Ok((SectionKind::Commit, caching)),
        SEC_RESERVE => Ok((SectionKind::Reserve, caching)),
        _ => bad,
    }
}

/// The attributes `NtQuerySection` reports (F129–F131, F151).
fn reported_attributes(kind: SectionKind, caching: Modifier) -> u32 {
    let base = match kind {
        SectionKind::Commit => SEC_COMMIT,
        SectionKind::Reserve => SEC_RESERVE,
        SectionKind::File => SEC_FILE,
        SectionKind::Image => SEC_FILE | SEC_IMAGE,
    };
    base | match caching {
        Modifier::NoCache => SEC_NOCACHE,
        Modifier::WriteCombine => SEC_WRITECOMBINE,
        _ => 0,
    }
}

pub(super) fn handle_of(h: HANDLE) -> Result<Handle, NTSTATUS> {
    if super::is_current_process(h) {
        // The current-process pseudo handle names a process, not a file or section (F169).
        return Err(STATUS_OBJECT_TYPE_MISMATCH);
    }
    Handle::from_raw(h as usize as u64).ok_or(STATUS_INVALID_HANDLE)
}

fn as_handle(h: Handle) -> HANDLE {
    h.raw() as usize as HANDLE
}

/// `NtCreateSection`: `STATUS_SUCCESS` for a new section, `STATUS_OBJECT_NAME_EXISTS` for the
/// existing one the name stands for (F133).
#[allow(clippy::too_many_arguments)]
pub(crate) fn create_section(
    sys: &mut System,
    caller: ProcessId,
    section: &mut HANDLE,
    desired_access: u32,
    name: Option<&str>,
    maximum_size: Option<&i64>,
    page_protection: u32,
    allocation_attributes: u32,
    file: HANDLE,
) -> NTSTATUS {
    let (kind, caching) = match check_attributes(allocation_attributes) {
        Ok(a) => a,
        Err(s) => return s,
    };
    let Some(protection) = from_win32(page_protection) else {
        return STATUS_INVALID_PAGE_PROTECTION;
    };
    // A negative LARGE_INTEGER is past every limit.
    let size = maximum_size.map(|&s| u64::try_from(s).unwrap_or(u64::MAX));
    let file = if file.is_null() {
        if size.is_none_or(|s| s == 0) && kind != SectionKind::Image {
            return STATUS_INVALID_PARAMETER_4; // F122: a page-file section needs a size.
        }
        None
    } else {
        match handle_of(file) {
            Ok(h) => Some(h),
            Err(s) => return s,
        }
    };
    let options = SectionOptions { file: None, size, protection, kind, caching, name };
    match sys.create_section(caller, file, options, desired_access) {
        Ok((h, created)) => {
            *section = as_handle(h);
            match created {
                Created::New => STATUS_SUCCESS,
                Created::Existing => STATUS_OBJECT_NAME_EXISTS,
            }
        }
        Err(e) => status_of_section(e),
    }
}

/// `NtOpenSection`: a handle to the section `name` stands for.
pub(crate) fn open_section(
    sys: &mut System,
    caller: ProcessId,
    section: &mut HANDLE,
    desired_access: u32,
    name: &str,
) -> NTSTATUS {
    match sys.open_section(caller, name, desired_access) {
        Ok(h) => {
            *section = as_handle(h);
            STATUS_SUCCESS
        }
        Err(e) => status_of_section(e),
    }
}

/// `NtQuerySection` (F132).
pub(crate) fn query_section(
    sys: &System,
    caller: ProcessId,
    section: HANDLE,
    class: u32,
    info: &mut SECTION_BASIC_INFORMATION,
    length: u32,
    return_length: Option<&mut u32>,
) -> NTSTATUS {
    // 24 bytes: the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation)]
    const SIZE: u32 = std::mem::size_of::<SECTION_BASIC_INFORMATION>() as u32;
    if class != SECTION_BASIC_INFORMATION_CLASS && class != SECTION_IMAGE_INFORMATION_CLASS {
        return STATUS_INVALID_INFO_CLASS;
    }
    if class == SECTION_BASIC_INFORMATION_CLASS && length < SIZE {
        return STATUS_INFO_LENGTH_MISMATCH;
    }
    let (id, access) = match handle_of(section).and_then(|h| sys.section_of(caller, h).map_err(status_of_section)) {
        Ok(x) => x,
        Err(s) => return s,
    };
    if access & SECTION_QUERY == 0 {
        return STATUS_ACCESS_DENIED;
    }
    let Some(s) = sys.sections().section(id) else { return STATUS_INVALID_HANDLE };
    if class == SECTION_IMAGE_INFORMATION_CLASS {
        // Image sections arrive with views; every section here is a data section.
        return STATUS_SECTION_NOT_IMAGE;
    }
    *info = SECTION_BASIC_INFORMATION {
        BaseAddress: 0,
        AllocationAttributes: reported_attributes(s.kind(), s.caching()),
        MaximumSize: i64::try_from(s.size()).unwrap_or(i64::MAX),
    };
    if let Some(r) = return_length {
        *r = SIZE;
    }
    STATUS_SUCCESS
}
