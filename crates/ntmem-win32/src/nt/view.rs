//! `NtMapViewOfSection`, `NtUnmapViewOfSection`, `NtFlushVirtualMemory` (facts F140–F171), as
//! NT validates them (ReactOS `NtMapViewOfSection` / `MmMapViewOfSection`): the inherit
//! disposition, the allocation type, the protection, the base and size against user space, the
//! zero bits, the process handle, the section handle with the rights the protection needs, then
//! sizes, alignments and the protection against the section's, then the core.
//!
//! Out parameters: `base`, `view_size` (and `offset`) are written only on success — including
//! `STATUS_IMAGE_NOT_AT_BASE`, a success code (F163).

use super::section::handle_of;
use super::{failed, reference_process, vm_of, zero_bits_limit};
use crate::errors::{status_of, status_of_section};
use crate::protection::from_win32;
use ntmem::address_space::Placement;
use ntmem::section::SectionKind;
use ntmem::system::ViewRequest;
use ntmem::units::{ALLOCATION_GRANULARITY, MAX_USER_ADDRESS, PAGE_SIZE, USER_END};
use ntmem::{Access, Modifier, ProcessId, Protection, System};
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::System::Memory::*;
use windows_sys::Win32::System::SystemServices::MEM_TOP_DOWN;
use windows_sys::Win32::System::Threading::PROCESS_VM_OPERATION;

/// `ViewShare`: the view is mapped into child processes too.
pub const VIEW_SHARE: u32 = 1;
/// `ViewUnmap`: the view is not mapped into child processes.
pub const VIEW_UNMAP: u32 = 2;

/// `IO_STATUS_BLOCK`: the result of an I/O request.
#[allow(non_snake_case, non_camel_case_types)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct IO_STATUS_BLOCK {
    /// The request's status.
    pub Status: NTSTATUS,
    /// Request-specific: bytes flushed for `NtFlushVirtualMemory`.
    pub Information: u64,
}

/// `AT_ROUND_TO_PAGE`: rejected on x64 (F142).
const AT_ROUND_TO_PAGE: u32 = 0x4000_0000;
/// `SEC_NO_CHANGE`.
const SEC_NO_CHANGE: u32 = 0x0040_0000;
/// `MEM_DOS_LIM` (x86 only; harmless here).
const MEM_DOS_LIM: u32 = 0x4000_0000;

/// The section rights a view of `protection` needs (NT's `MmMakeSectionAccess`, F135, F136).
fn rights_for(protection: Protection) -> u32 {
    match protection.access() {
        Access::NoAccess | Access::ReadOnly | Access::WriteCopy => SECTION_MAP_READ,
        Access::ReadWrite => SECTION_MAP_WRITE,
        Access::Execute => SECTION_MAP_EXECUTE,
        Access::ExecuteRead | Access::ExecuteWriteCopy => SECTION_MAP_EXECUTE | SECTION_MAP_READ,
        Access::ExecuteReadWrite => SECTION_MAP_EXECUTE | SECTION_MAP_WRITE,
    }
}

/// True when a section made with `section` allows a view of `view` (F153, F154): writing
/// views need a writable section, executable views an executable one; reading is always
/// allowed.
pub(crate) fn section_allows(section: Protection, view: Protection) -> bool {
    let (write, execute) = match section.access() {
        Access::ReadWrite => (true, false),
        Access::ExecuteReadWrite => (true, true),
        Access::Execute | Access::ExecuteRead | Access::ExecuteWriteCopy => (false, true),
        _ => (false, false),
    };
    let needs_write = matches!(view.access(), Access::ReadWrite | Access::ExecuteReadWrite);
    let needs_execute = matches!(
        view.access(),
        Access::Execute | Access::ExecuteRead | Access::ExecuteReadWrite | Access::ExecuteWriteCopy
    );
    (!needs_write || write) && (!needs_execute || execute)
}

/// `NtMapViewOfSection`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn map_view_of_section(
    sys: &mut System,
    caller: ProcessId,
    section: HANDLE,
    process: HANDLE,
    base: &mut u64,
    zero_bits: u64,
    commit_size: u64,
    offset: Option<&mut i64>,
    view_size: &mut u64,
    inherit: u32,
    allocation_type: u32,
    protect: u32,
) -> NTSTATUS {
    if !(VIEW_SHARE..=VIEW_UNMAP).contains(&inherit) {
        return STATUS_INVALID_PARAMETER_8;
    }
    // F142: AT_ROUND_TO_PAGE exists for 32-bit processes only (its bit is MEM_DOS_LIM's).
    if allocation_type & AT_ROUND_TO_PAGE != 0
        || allocation_type & !(MEM_TOP_DOWN | MEM_LARGE_PAGES | MEM_DOS_LIM | SEC_NO_CHANGE | MEM_RESERVE) != 0
    {
        return STATUS_INVALID_PARAMETER_9;
    }
    let Some(protection) = from_win32(protect) else { return STATUS_INVALID_PAGE_PROTECTION };
    let (addr, size) = (*base, *view_size);
    if addr > MAX_USER_ADDRESS || size > USER_END - addr.max(1) {
        return STATUS_INVALID_PARAMETER_3; // F143: a size of (SIZE_T)-1
    }
    // F188, F205: a mask with bit 63 set (-1 among them) sets no limit.
    let Some(limit) = zero_bits_limit(zero_bits) else { return STATUS_INVALID_PARAMETER_4 };
    // F200: unlike NtAllocateVirtualMemory's (F189), the view asked for must end under the
    // ZeroBits limit (WRK: base + view size against the limit, before anything else).
    if zero_bits != 0 && addr + size >= limit {
        return STATUS_INVALID_PARAMETER_4;
    }
    let target = match reference_process(sys, caller, process, PROCESS_VM_OPERATION) {
        Ok(p) => p,
        Err(s) => return s,
    };
    let (id, rights) = match handle_of(section).and_then(|h| sys.section_of(caller, h).map_err(status_of_section)) {
        Ok(x) => x,
        Err(s) => return s,
    };
    if rights & rights_for(protection) != rights_for(protection) {
        return STATUS_ACCESS_DENIED; // F135, F136
    }
    let Some(s) = sys.sections().section(id) else { return STATUS_INVALID_HANDLE };
    let (kind, section_protection, section_size, caching) = (s.kind(), s.protection(), s.size(), s.caching());
    let file_backed = s.file().is_some();
    // F205: NtMapViewOfSection checks the alignments; MmMapViewOfSection then the protection
    // against the section, MEM_RESERVE on a page-file section, the view and commit sizes, and
    // last that a reserved view's section is writable.
    let start = offset.as_deref().copied().unwrap_or(0);
    let Ok(start) = u64::try_from(start) else { return STATUS_MAPPED_ALIGNMENT }; // F140: offset -1
    if addr % ALLOCATION_GRANULARITY != 0 || start % ALLOCATION_GRANULARITY != 0 {
        return STATUS_MAPPED_ALIGNMENT; // F140, F141
    }
    let reserve = allocation_type & MEM_RESERVE != 0;
    if kind != SectionKind::Image {
        if !section_allows(section_protection, protection) {
            return STATUS_SECTION_PROTECTION; // F154
        }
        if reserve && !file_backed {
            return STATUS_INVALID_PARAMETER_9; // F149
        }
    }
    // F143. F205: a reserved view of a data section may reach past the section's end; ntmem
    // lets it do so within the section's last page (what the peer test asks), and maps the
    // bytes the section has.
    let end = start.checked_add(size);
    let past_end = end.is_none_or(|end| end > section_size);
    let within_last_page = end.is_some_and(|end| end <= section_size.next_multiple_of(PAGE_SIZE));
    if past_end && !(reserve && kind != SectionKind::Image && within_last_page && start < section_size) {
        return STATUS_INVALID_VIEW_SIZE;
    }
    let size = if past_end { section_size - start } else { size };
    if kind != SectionKind::Image && commit_size > 0 && ((file_backed && !reserve) || commit_size > section_size) {
        return STATUS_INVALID_PARAMETER_5; // F170
    }
    // F205: a reserved view may reach past the section, so only a writable section's may be.
    let writable = matches!(section_protection.access(), Access::ReadWrite | Access::ExecuteReadWrite);
    if reserve && kind != SectionKind::Image && !writable {
        return STATUS_SECTION_PROTECTION;
    }
    // F151: a view of a SEC_NOCACHE (SEC_WRITECOMBINE) section carries PAGE_NOCACHE
    // (PAGE_WRITECOMBINE) in its protection, as NT adds the section's caching to the view's.
    let protection = match protection.modifier() {
        Modifier::None if kind != SectionKind::Image => {
            Protection::new(protection.access(), caching).unwrap_or(protection)
        }
        _ => protection,
    };
    // F162: an image view's protection is the image's, whatever was asked.
    let protection = if kind == SectionKind::Image {
        Protection::new(Access::ExecuteWriteCopy, ntmem::Modifier::None).unwrap_or(protection)
    } else {
        protection
    };
    let req = ViewRequest {
        offset: start,
        size,
        base: (addr != 0).then_some(addr),
        protection,
        placement: if allocation_type & MEM_TOP_DOWN != 0 { Placement::TopDown } else { Placement::BottomUp },
        limit: if addr == 0 { limit } else { USER_END },
        copy: protection.is_copy_on_write() && kind != SectionKind::Image,
        commit: if kind == SectionKind::Reserve { commit_size } else { 0 },
    };
    let Ok(handle) = handle_of(section) else { return STATUS_INVALID_HANDLE };
    match sys.map_view(caller, handle, target, &req) {
        Ok(range) => {
            *base = range.start_addr();
            *view_size = range.bytes();
            if let Some(o) = offset {
                *o = i64::try_from(start).unwrap_or(i64::MAX);
            }
            // F163: an image away from its base, or for another machine, maps with a
            // success code that says so.
            let segment = sys.sections().section(id).map(ntmem::section::Section::segment);
            match segment.and_then(|s| sys.segments().get(s)).and_then(ntmem::section::Segment::image) {
                Some(layout) => crate::errors::status_of_image_map(layout.map_status(range.start_addr())),
                None => STATUS_SUCCESS,
            }
        }
        Err(e) => status_of_section(e),
    }
}

/// `NtUnmapViewOfSection`: any address inside the view names it (F165); anything else is
/// `STATUS_NOT_MAPPED_VIEW` (F164).
pub(crate) fn unmap_view_of_section(sys: &mut System, caller: ProcessId, process: HANDLE, base: u64) -> NTSTATUS {
    let target = match reference_process(sys, caller, process, PROCESS_VM_OPERATION) {
        Ok(p) => p,
        Err(s) => return s,
    };
    if base > MAX_USER_ADDRESS {
        return STATUS_NOT_MAPPED_VIEW;
    }
    match sys.unmap_view(target, base) {
        Ok(_) => STATUS_SUCCESS,
        Err(e) => status_of_section(e),
    }
}

/// `NtFlushVirtualMemory`: writes the modified pages of a view's range to its file; size 0
/// flushes to the end of the view (F167). `base` and `size` return the range flushed.
pub(crate) fn flush_virtual_memory(
    sys: &mut System,
    caller: ProcessId,
    process: HANDLE,
    base: &mut u64,
    size: &mut u64,
    io: &mut IO_STATUS_BLOCK,
) -> NTSTATUS {
    if *base > MAX_USER_ADDRESS {
        return STATUS_INVALID_PARAMETER_2;
    }
    let mut vm = match vm_of(sys, caller, process, PROCESS_VM_OPERATION) {
        Ok(vm) => vm,
        Err(s) => return s,
    };
    match vm.flush_view(*base, *size) {
        Ok(range) => {
            *base = range.start_addr();
            *size = range.bytes();
            *io = IO_STATUS_BLOCK { Status: STATUS_SUCCESS, Information: range.bytes() };
            STATUS_SUCCESS
        }
        Err(ntmem::VmError::NotMappedView) => STATUS_NOT_MAPPED_VIEW,
        Err(e) => {
            let s = status_of(e);
            debug_assert!(failed(s));
            s
        }
    }
}
