//! What an image's headers say: the machine and format ([`ImageMachine`], [`PeFormat`]), the
//! fields `NtQuerySection(SectionImageInformation)` reports ([`ImageInformation`]), and each
//! section as NT reads its header ([`ImageSection`]).

use super::protection;
use crate::paging::Protection;

/// The machine an image is built for (`IMAGE_FILE_HEADER.Machine`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct ImageMachine(u16);

impl ImageMachine {
    /// `IMAGE_FILE_MACHINE_AMD64`: the one machine ntmem runs.
    pub const AMD64: ImageMachine = ImageMachine(0x8664);
    /// `IMAGE_FILE_MACHINE_I386`: PE32 images (WoW64).
    pub const I386: ImageMachine = ImageMachine(0x014C);
    /// `IMAGE_FILE_MACHINE_IA64`: the other machine NT accepts in a PE32+.
    pub const IA64: ImageMachine = ImageMachine(0x0200);
    /// `IMAGE_FILE_MACHINE_ARM64`.
    pub const ARM64: ImageMachine = ImageMachine(0xAA64);

    /// A machine from its raw value.
    #[must_use]
    pub const fn new(raw: u16) -> ImageMachine {
        ImageMachine(raw)
    }

    /// The raw value.
    #[must_use]
    pub const fn raw(self) -> u16 {
        self.0
    }

    /// True for AMD64, whose images run in ntmem's processes without `MACHINE_TYPE_MISMATCH`.
    #[must_use]
    pub const fn is_native(self) -> bool {
        self.0 == Self::AMD64.0
    }
}

/// The PE flavour, from the optional header's magic.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum PeFormat {
    /// `IMAGE_NT_OPTIONAL_HDR32_MAGIC` (0x10B): 32-bit.
    Pe32,
    /// `IMAGE_NT_OPTIONAL_HDR64_MAGIC` (0x20B): 64-bit.
    Pe32Plus,
}

/// What `NtQuerySection(SectionImageInformation)` reports of an image, from its headers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ImageInformation {
    /// `AddressOfEntryPoint` (an RVA; 0 for none).
    pub entry_point: u32,
    /// `SizeOfStackReserve`.
    pub stack_reserve: u64,
    /// `SizeOfStackCommit`.
    pub stack_commit: u64,
    /// `Subsystem`.
    pub subsystem: u16,
    /// `MajorSubsystemVersion`, `MinorSubsystemVersion`.
    pub subsystem_version: (u16, u16),
    /// `MajorOperatingSystemVersion`, `MinorOperatingSystemVersion`.
    pub os_version: (u16, u16),
    /// The file header's `Characteristics` (`IMAGE_FILE_DLL`, `IMAGE_FILE_RELOCS_STRIPPED`, ...).
    pub characteristics: u16,
    /// `DllCharacteristics` (`IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE`, ...).
    pub dll_characteristics: u16,
    /// `LoaderFlags`, with `IMAGE_LOADER_FLAGS_COMPLUS` (1) added for a .NET image, as NT does.
    pub loader_flags: u32,
    /// `CheckSum`.
    pub checksum: u32,
    /// NT's `ImageContainsCode`: `SizeOfCode` or `AddressOfEntryPoint` is non-zero.
    pub contains_code: bool,
    /// The size of the file (NT's `ImageFileSize`).
    pub file_size: u64,
}

/// One section of an image, as NT reads its header.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ImageSection {
    pub(super) name: [u8; 8],
    pub(super) rva: u32,
    pub(super) virtual_size: u32,
    pub(super) raw_offset: u32,
    pub(super) raw_size: u32,
    pub(super) characteristics: u32,
    pub(super) protection: Protection,
    pub(super) first_page: u32,
    pub(super) page_count: u32,
    /// The file bytes the section's pages are read from: NT reads from the sector (512
    /// bytes) holding `PointerToRawData` to the raw data's end rounded up to `FileAlignment`.
    pub(super) file_start: u64,
    pub(super) file_end: u64,
}

impl ImageSection {
    /// The name, without its trailing NULs.
    #[must_use]
    pub fn name(&self) -> &[u8] {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(self.name.len());
        &self.name[..end]
    }

    /// `VirtualAddress`.
    #[must_use]
    pub fn rva(&self) -> u32 {
        self.rva
    }

    /// The size in memory: `VirtualSize`, or `SizeOfRawData` where `VirtualSize` is 0 (as NT).
    #[must_use]
    pub fn virtual_size(&self) -> u32 {
        self.virtual_size
    }

    /// `PointerToRawData`: the raw data's file offset (0 when there is none; NT clears it
    /// when `SizeOfRawData` is 0).
    #[must_use]
    pub fn raw_offset(&self) -> u32 {
        self.raw_offset
    }

    /// `SizeOfRawData`: bytes in the file; the rest of the virtual size is demand-zero.
    #[must_use]
    pub fn raw_size(&self) -> u32 {
        self.raw_size
    }

    /// `Characteristics`.
    #[must_use]
    pub fn characteristics(&self) -> u32 {
        self.characteristics
    }

    /// The protection of the section's pages ([`image_protection`](super::image_protection);
    /// `PAGE_EXECUTE_WRITECOPY` for every section of a flat image).
    #[must_use]
    pub fn protection(&self) -> Protection {
        self.protection
    }

    /// True when the section has `IMAGE_SCN_MEM_SHARED`: if it is also writable, its pages
    /// are shared by every process that maps the image, never copied.
    #[must_use]
    pub fn is_shared(&self) -> bool {
        self.characteristics & protection::SCN_MEM_SHARED != 0
    }

    /// The image pages the section spans (its virtual size rounded up to `SectionAlignment`).
    #[must_use]
    pub fn pages(&self) -> std::ops::Range<u32> {
        self.first_page..self.first_page.saturating_add(self.page_count)
    }
}
