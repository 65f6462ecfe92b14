//! ntmem-win32: the Win32 and NT faces of the ntmem memory manager.
//!
//! [`Kernel32`] is the Win32 API as a process calls it (`VirtualAlloc` ... with Windows' names,
//! parameter order, rounding, validation order and last-error codes); [`Ntdll`] the NT system
//! services beneath it (NTSTATUS, in/out base and size). `errors.rs` holds the one mapping of
//! the core's errors to NTSTATUS and of NTSTATUS to Win32 errors.
//!
//! `use ntmem_win32::*` brings both façades, [`Exception`], and the `windows-sys` constants and
//! structures the functions use.
//!
//! Unsafe code is denied but for one fenced read of a Win32 union ([`working_set_ex_flags`]).
#![deny(unsafe_code)]

mod errors;
mod exception;
mod kernel32;
mod names;
mod nt;
mod ntdll;
mod protection;

pub use errors::{status_name, status_of, status_of_image, status_of_image_map, win32_error_of};
pub use exception::Exception;
pub use kernel32::{view_protection, Kernel32};
pub use names::{allocation_type_name, protection_name, state_name, type_name};
pub use nt::{
    NtCurrentProcess, SectionInformation, IO_STATUS_BLOCK, MAP_PROCESS, MAP_SYSTEM, SECTION_BASIC_INFORMATION,
    SECTION_BASIC_INFORMATION_CLASS, SECTION_IMAGE_INFORMATION, SECTION_IMAGE_INFORMATION_CLASS, SEC_FILE, VIEW_SHARE,
    VIEW_UNMAP,
};
pub use ntdll::Ntdll;
pub use protection::{from_win32 as protection_from_win32, to_win32 as protection_to_win32};

pub use windows_sys::core::BOOL;
pub use windows_sys::Win32::Foundation::*;
pub use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
pub use windows_sys::Win32::Storage::FileSystem::*;
pub use windows_sys::Win32::System::Memory::*;
pub use windows_sys::Win32::System::ProcessStatus::*;
pub use windows_sys::Win32::System::SystemInformation::*;
pub use windows_sys::Win32::System::SystemServices::*;
pub use windows_sys::Win32::System::Threading::*;

/// `AT_ROUND_TO_PAGE`: not an allocation flag on x64 (F29).
pub const AT_ROUND_TO_PAGE: u32 = 0x4000_0000;

/// The `Flags` of a `QueryWorkingSetEx` result (the union's one integer view).
#[must_use]
#[allow(unsafe_code)]
pub fn working_set_ex_flags(info: &PSAPI_WORKING_SET_EX_INFORMATION) -> usize {
    // SAFETY: PSAPI_WORKING_SET_EX_BLOCK is a #[repr(C)] union of `Flags: usize` and a struct
    // holding a single usize bitfield; both views are a plain usize, every bit pattern is
    // valid for it, and the value is always initialised (Default zeroes it).
    unsafe { info.VirtualAttributes.Flags }
}

/// The README's Rust snippets, compiled and run by `cargo test --doc` so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}

/// Runs the invariant checker when the system was configured for it; a violation is a bug in
/// ntmem, so it panics with the report (tests only turn this on).
pub(crate) fn check_invariants(sys: &ntmem::System) {
    if sys.config().invariant_checks() {
        if let Err(v) = sys.check_invariants() {
            panic!("{v}");
        }
    }
}
