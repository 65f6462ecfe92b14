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

/// The object attributes NT's create services take, as far as ntmem's namespace has them:
/// the object's name, and the `OBJ_` flags, of which `OBJ_OPENIF` counts (F207: with it a
/// name in use opens the object that holds it; without it the name collides).
#[allow(non_snake_case, non_camel_case_types)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OBJECT_ATTRIBUTES<'a> {
    /// The name in the namespace (`None`: an unnamed object).
    pub ObjectName: Option<&'a str>,
    /// `OBJ_OPENIF`, …; other flags are accepted and have no effect in ntmem.
    pub Attributes: u32,
}

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

/// `SECTION_IMAGE_INFORMATION` (x64 layout: 64 bytes): what an image section's headers say
/// (F131). ntmem does no ASLR, so `ImageFlags` is 0 (never `ImageDynamicallyRelocated`).
#[allow(non_snake_case, non_camel_case_types)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SECTION_IMAGE_INFORMATION {
    /// The entry point at the preferred base: `ImageBase + AddressOfEntryPoint`.
    pub TransferAddress: u64,
    /// 0: NT keeps no zero bits for an image.
    pub ZeroBits: u32,
    /// `SizeOfStackReserve`.
    pub MaximumStackSize: u64,
    /// `SizeOfStackCommit`.
    pub CommittedStackSize: u64,
    /// `Subsystem`.
    pub SubSystemType: u32,
    /// `MinorSubsystemVersion`.
    pub SubSystemMinorVersion: u16,
    /// `MajorSubsystemVersion`.
    pub SubSystemMajorVersion: u16,
    /// `MajorOperatingSystemVersion`.
    pub MajorOperatingSystemVersion: u16,
    /// `MinorOperatingSystemVersion`.
    pub MinorOperatingSystemVersion: u16,
    /// The file header's `Characteristics`.
    pub ImageCharacteristics: u16,
    /// `DllCharacteristics`.
    pub DllCharacteristics: u16,
    /// `Machine`.
    pub Machine: u16,
    /// `SizeOfCode` or `AddressOfEntryPoint` is non-zero (a `BOOLEAN`).
    pub ImageContainsCode: u8,
    /// `ComPlusNativeReady`, `ImageDynamicallyRelocated`, ... bits: 0 here.
    pub ImageFlags: u8,
    /// `LoaderFlags` (with `IMAGE_LOADER_FLAGS_COMPLUS` for a .NET image).
    pub LoaderFlags: u32,
    /// The size of the file.
    pub ImageFileSize: u32,
    /// `CheckSum`.
    pub CheckSum: u32,
}

// NT's x64 layouts.
const _: () = assert!(std::mem::size_of::<SECTION_BASIC_INFORMATION>() == 24);
const _: () = assert!(std::mem::size_of::<SECTION_IMAGE_INFORMATION>() == 64);

/// A structure `NtQuerySection` fills: [`SECTION_BASIC_INFORMATION`] or
/// [`SECTION_IMAGE_INFORMATION`]. NT takes an untyped buffer and trusts the length it is told;
/// the façade takes one of the two structures and refuses, as too short
/// (`STATUS_INFO_LENGTH_MISMATCH`), a class whose structure is not the buffer's — which is
/// what NT says whenever the length told is the buffer's true size, except for a
/// `SECTION_IMAGE_INFORMATION` buffer asked for basic information, which NT would fill in
/// part.
pub trait SectionInformation: sealed::Sealed {
    /// The information class whose structure this is.
    const CLASS: u32;
}

impl SectionInformation for SECTION_BASIC_INFORMATION {
    const CLASS: u32 = SECTION_BASIC_INFORMATION_CLASS;
}

impl SectionInformation for SECTION_IMAGE_INFORMATION {
    const CLASS: u32 = SECTION_IMAGE_INFORMATION_CLASS;
}

/// The buffer types, closed to other crates.
mod sealed {
    use super::{SECTION_BASIC_INFORMATION, SECTION_IMAGE_INFORMATION};

    /// What one query reports.
    pub enum Reported {
        Basic(SECTION_BASIC_INFORMATION),
        Image(SECTION_IMAGE_INFORMATION),
    }

    pub trait Sealed {
        /// Stores `info` if it is this structure's class; false if not.
        fn store(&mut self, info: &Reported) -> bool;
    }

    impl Sealed for SECTION_BASIC_INFORMATION {
        fn store(&mut self, info: &Reported) -> bool {
            match info {
                Reported::Basic(b) => {
                    *self = *b;
                    true
                }
                Reported::Image(_) => false,
            }
        }
    }

    impl Sealed for SECTION_IMAGE_INFORMATION {
        fn store(&mut self, info: &Reported) -> bool {
            match info {
                Reported::Image(i) => {
                    *self = *i;
                    true
                }
                Reported::Basic(_) => false,
            }
        }
    }
}

/// The size of a structure, as NT's `ULONG` lengths count it (the structures are small).
#[allow(clippy::cast_possible_truncation)]
const fn length_of<T>() -> u32 {
    std::mem::size_of::<T>() as u32
}

/// What the headers of an image say, as `SectionImageInformation` reports it (F131).
fn image_information(layout: &ntmem::section::ImageLayout) -> SECTION_IMAGE_INFORMATION {
    let info = layout.information();
    SECTION_IMAGE_INFORMATION {
        TransferAddress: layout.preferred_base().wrapping_add(u64::from(info.entry_point)),
        ZeroBits: 0,
        MaximumStackSize: info.stack_reserve,
        CommittedStackSize: info.stack_commit,
        SubSystemType: u32::from(info.subsystem),
        SubSystemMinorVersion: info.subsystem_version.1,
        SubSystemMajorVersion: info.subsystem_version.0,
        MajorOperatingSystemVersion: info.os_version.0,
        MinorOperatingSystemVersion: info.os_version.1,
        ImageCharacteristics: info.characteristics,
        DllCharacteristics: info.dll_characteristics,
        Machine: layout.machine().raw(),
        ImageContainsCode: u8::from(info.contains_code),
        ImageFlags: 0,
        LoaderFlags: info.loader_flags,
        ImageFileSize: u32::try_from(info.file_size).unwrap_or(u32::MAX),
        CheckSum: info.checksum,
    }
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

/// `NtCreateSection`: `STATUS_SUCCESS` for a new section; for a name in use,
/// `STATUS_OBJECT_NAME_EXISTS` and the existing section with `OBJ_OPENIF` (F133), else
/// `STATUS_OBJECT_NAME_COLLISION` (F207).
#[allow(clippy::too_many_arguments)]
pub(crate) fn create_section(
    sys: &mut System,
    caller: ProcessId,
    section: &mut HANDLE,
    desired_access: u32,
    object_attributes: Option<&OBJECT_ATTRIBUTES<'_>>,
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
    let name = object_attributes.and_then(|a| a.ObjectName);
    let open_existing = object_attributes.is_some_and(|a| a.Attributes & OBJ_OPENIF != 0);
    let options = SectionOptions { file: None, size, protection, kind, caching, name, open_existing };
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

/// `NtQuerySection` (F131, F132), checked in NT's order: the class, the length against the
/// class's structure, the handle and its `SECTION_QUERY` right, then the section
/// (`STATUS_SECTION_NOT_IMAGE` for image information of a data section).
pub(crate) fn query_section<T: SectionInformation>(
    sys: &System,
    caller: ProcessId,
    section: HANDLE,
    class: u32,
    info: &mut T,
    length: u32,
    return_length: Option<&mut u32>,
) -> NTSTATUS {
    let size = match class {
        SECTION_BASIC_INFORMATION_CLASS => length_of::<SECTION_BASIC_INFORMATION>(),
        SECTION_IMAGE_INFORMATION_CLASS => length_of::<SECTION_IMAGE_INFORMATION>(),
        _ => return STATUS_INVALID_INFO_CLASS,
    };
    if length < size || class != T::CLASS {
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
    let reported = if class == SECTION_IMAGE_INFORMATION_CLASS {
        let layout = sys.segments().get(s.segment()).and_then(ntmem::section::Segment::image);
        match layout {
            Some(layout) if s.kind() == SectionKind::Image => sealed::Reported::Image(image_information(layout)),
            _ => return STATUS_SECTION_NOT_IMAGE,
        }
    } else {
        sealed::Reported::Basic(SECTION_BASIC_INFORMATION {
            BaseAddress: 0,
            AllocationAttributes: reported_attributes(s.kind(), s.caching()),
            MaximumSize: i64::try_from(s.maximum_size()).unwrap_or(i64::MAX),
        })
    };
    if !sealed::Sealed::store(info, &reported) {
        return STATUS_INFO_LENGTH_MISMATCH; // Unreachable: the class is the buffer's.
    }
    if let Some(r) = return_length {
        *r = size;
    }
    STATUS_SUCCESS
}
