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
    NtCurrentProcess, SectionInformation, IO_STATUS_BLOCK, MAP_PROCESS, MAP_SYSTEM, OBJECT_ATTRIBUTES,
    SECTION_BASIC_INFORMATION, SECTION_BASIC_INFORMATION_CLASS, SECTION_IMAGE_INFORMATION,
    SECTION_IMAGE_INFORMATION_CLASS, SEC_FILE, VIEW_SHARE, VIEW_UNMAP,
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

/// A `QueryWorkingSetEx` entry's attributes, its `PSAPI_WORKING_SET_EX_BLOCK` bit fields by
/// name. `share_count`, `win32_protection`, `node`, `locked` and `large_page` describe a page
/// in the working set (`valid`); out of it, only `shared` and `bad` are set (F203).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkingSetExBlock {
    /// Bit 0: the page is in the working set.
    pub valid: bool,
    /// Bits 1–3: how many processes share the page (0 for a private page), at most 7.
    pub share_count: u8,
    /// Bits 4–14: the page's protection (`PAGE_*`).
    pub win32_protection: u32,
    /// Bit 15: the page can be shared (a section's page).
    pub shared: bool,
    /// Bits 16–21: the NUMA node.
    pub node: u8,
    /// Bit 22: the page is locked (`VirtualLock`).
    pub locked: bool,
    /// Bit 23: the page is part of a large page.
    pub large_page: bool,
    /// Bit 31: the page has been reported bad.
    pub bad: bool,
}

impl WorkingSetExBlock {
    /// The attributes of `info`, decoded.
    #[must_use]
    // Each field is masked to its width before its cast, so the casts lose nothing.
    #[allow(clippy::cast_possible_truncation)]
    pub fn of(info: &PSAPI_WORKING_SET_EX_INFORMATION) -> WorkingSetExBlock {
        let flags = working_set_ex_flags(info);
        let bit = |n: u32| flags >> n & 1 != 0;
        WorkingSetExBlock {
            valid: bit(0),
            share_count: (flags >> 1 & 0x7) as u8,
            win32_protection: (flags >> 4 & 0x7FF) as u32,
            shared: bit(15),
            node: (flags >> 16 & 0x3F) as u8,
            locked: bit(22),
            large_page: bit(23),
            bad: bit(31),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(flags: usize) -> PSAPI_WORKING_SET_EX_INFORMATION {
        PSAPI_WORKING_SET_EX_INFORMATION {
            VirtualAttributes: PSAPI_WORKING_SET_EX_BLOCK { Flags: flags },
            ..Default::default()
        }
    }

    #[test]
    fn working_set_ex_block_names_each_bit_field() {
        // Valid, ShareCount 3, PAGE_EXECUTE_READ (0x20), Shared, Node 5, Locked, LargePage, Bad.
        let flags = 1 | 3 << 1 | 0x20 << 4 | 1 << 15 | 5 << 16 | 1 << 22 | 1 << 23 | 1 << 31;
        assert_eq!(
            WorkingSetExBlock::of(&entry(flags)),
            WorkingSetExBlock {
                valid: true,
                share_count: 3,
                win32_protection: 0x20,
                shared: true,
                node: 5,
                locked: true,
                large_page: true,
                bad: true,
            }
        );
        // Each field is exactly its bits: all ones in it read as all ones, and every other bit
        // set reads as zero in it.
        for (bits, field) in [
            (0x7_usize << 1, (|b: WorkingSetExBlock| u32::from(b.share_count)) as fn(WorkingSetExBlock) -> u32),
            (0x7FF << 4, |b| b.win32_protection),
            (0x3F << 16, |b| u32::from(b.node)),
        ] {
            let width_ones = u32::try_from(bits >> bits.trailing_zeros()).unwrap();
            assert_eq!(field(WorkingSetExBlock::of(&entry(bits))), width_ones, "{bits:#x}");
            assert_eq!(field(WorkingSetExBlock::of(&entry(!bits))), 0, "{bits:#x}");
        }
        // A page out of the working set: only Shared (F203).
        let out = WorkingSetExBlock::of(&entry(1 << 15));
        assert_eq!(out, WorkingSetExBlock { shared: true, ..WorkingSetExBlock::default() });
    }
}
