//! [`PeBuilder`]: the project's minimal PE writer — real PE32+ x64 DLLs, written with the
//! `object` crate's `object::write::pe::Writer`, for the tests and the tour to map with
//! `SEC_IMAGE`.
//!
//! A DLL has, in this order after one page of headers: `.text` (code, execute/read), `.rdata`
//! (read-only data), `.data` (read/write, whose raw data can be shorter than its virtual size
//! so that its tail is demand-zero), optionally `.shared` (read/write with
//! `IMAGE_SCN_MEM_SHARED`: truly shared between processes), and, when it holds absolute
//! addresses, `.reloc` with one `IMAGE_REL_BASED_DIR64` entry per address. Sections are
//! aligned to a page in memory and 512 bytes in the file, as a linker does; every size is a
//! choice, so a test can make a 1 MiB image. Raw bytes are a known pattern ([`pattern`]),
//! except where [`PeBuilder::pointer`] or [`PeBuilder::write`] put something else.
//!
//! It writes what Windows loads; it does not try to write every PE (no imports, exports,
//! resources or code that runs). [`PeBuilder::pe32`] and [`PeBuilder::machine`] make the other
//! images the tests need: a WoW64 DLL, one for another machine.

use crate::section::{ImageMachine, PeFormat};
use object::pe;
use object::write::pe::{NtHeaders, SectionRange, Writer};

/// A section of the DLL.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum PeSection {
    /// `.text`: code, `IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_MEM_READ`.
    Text,
    /// `.rdata`: read-only data.
    Rdata,
    /// `.data`: read/write data, copy-on-write when mapped.
    Data,
    /// `.shared`: read/write data with `IMAGE_SCN_MEM_SHARED`.
    Shared,
}

impl PeSection {
    const ALL: [PeSection; 4] = [PeSection::Text, PeSection::Rdata, PeSection::Data, PeSection::Shared];

    fn slot(self) -> usize {
        match self {
            PeSection::Text => 0,
            PeSection::Rdata => 1,
            PeSection::Data => 2,
            PeSection::Shared => 3,
        }
    }
}

/// The byte the builder puts at `offset` of `section`'s raw data.
#[must_use]
pub fn pattern(section: PeSection, offset: u32) -> u8 {
    let tag: u8 = match section {
        PeSection::Text => 0x10,
        PeSection::Rdata => 0x20,
        PeSection::Data => 0x30,
        PeSection::Shared => 0x40,
    };
    // The low byte of a mix of the offset: varies within a page and from page to page.
    (offset ^ (offset >> 8) ^ (offset >> 16)).to_le_bytes()[0] ^ tag
}

/// Why the builder cannot write the DLL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeBuildError {
    /// A section size is 0 (a raw size of 0 is allowed for `.data`) or above 256 MiB.
    #[error("a section size is out of range")]
    SectionSize,
    /// A pointer or write names `.shared` and the DLL has none.
    #[error("the DLL has no .shared section")]
    NoSharedSection,
    /// A pointer or write falls outside its section's raw data, or a pointer's target outside
    /// its section.
    #[error("outside the section")]
    OutsideSection,
    /// An alignment that is not a power of two up to 64 KiB.
    #[error("an alignment is not a power of two up to 64 KiB")]
    Alignment,
    /// A PE32 image base above 4 GiB.
    #[error("the image base does not fit the format")]
    BaseTooHigh,
    /// The `object` writer refused.
    #[error("the PE writer failed")]
    Writer,
}

/// An absolute address stored in the DLL, and the base relocation that fixes it up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Pointer {
    at: PeSection,
    offset: u32,
    target: PeSection,
    target_offset: u32,
}

/// What to write where.
#[derive(Clone, Debug)]
struct Patch {
    at: PeSection,
    offset: u32,
    bytes: Vec<u8>,
}

/// Sizes, in bytes, of one section: in memory, and in the file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Size {
    virtual_size: u32,
    raw: u32,
}

/// The largest section the builder writes.
const MAX_SECTION: u32 = 256 << 20;

/// Builds a PE DLL; see the module documentation.
#[derive(Clone, Debug)]
pub struct PeBuilder {
    base: u64,
    format: PeFormat,
    machine: ImageMachine,
    section_alignment: u32,
    file_alignment: u32,
    sizes: [Option<Size>; 4],
    pointers: Vec<Pointer>,
    patches: Vec<Patch>,
}

/// What the builder wrote.
#[derive(Clone, Debug)]
pub struct BuiltPe {
    bytes: Vec<u8>,
    rvas: [Option<u32>; 4],
    pointers: Vec<(u32, u64)>,
}

impl BuiltPe {
    /// The file's bytes.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The file's bytes, owned.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Where a section starts in the image (`None` for a `.shared` the DLL does not have).
    #[must_use]
    pub fn rva(&self, section: PeSection) -> Option<u32> {
        self.rvas[section.slot()]
    }

    /// Each stored address: its RVA and the value written there (an address at the preferred
    /// base), in the order they were added.
    #[must_use]
    pub fn pointers(&self) -> &[(u32, u64)] {
        &self.pointers
    }
}

impl PeBuilder {
    /// A PE32+ AMD64 DLL preferring `base`: one page each of `.text` and `.rdata`, and a
    /// `.data` of two pages whose first 512 bytes are in the file.
    #[must_use]
    pub fn dll(base: u64) -> PeBuilder {
        let page = Size { virtual_size: 0x1000, raw: 0x1000 };
        PeBuilder {
            base,
            format: PeFormat::Pe32Plus,
            machine: ImageMachine::AMD64,
            section_alignment: 0x1000,
            file_alignment: 0x200,
            sizes: [Some(page), Some(page), Some(Size { virtual_size: 0x2000, raw: 0x200 }), None],
            pointers: Vec::new(),
            patches: Vec::new(),
        }
    }

    /// `.text` of `bytes` bytes, all in the file.
    #[must_use]
    pub fn text_size(mut self, bytes: u32) -> PeBuilder {
        self.sizes[PeSection::Text.slot()] = Some(Size { virtual_size: bytes, raw: bytes });
        self
    }

    /// `.rdata` of `bytes` bytes, all in the file.
    #[must_use]
    pub fn rdata_size(mut self, bytes: u32) -> PeBuilder {
        self.sizes[PeSection::Rdata.slot()] = Some(Size { virtual_size: bytes, raw: bytes });
        self
    }

    /// `.data` of `virtual_size` bytes in memory, the first `raw` of them in the file (rounded
    /// up to 512 there); the rest is demand-zero.
    #[must_use]
    pub fn data_size(mut self, raw: u32, virtual_size: u32) -> PeBuilder {
        self.sizes[PeSection::Data.slot()] = Some(Size { virtual_size, raw });
        self
    }

    /// Adds a `.shared` section of `bytes` bytes, all in the file.
    #[must_use]
    pub fn shared_section(mut self, bytes: u32) -> PeBuilder {
        self.sizes[PeSection::Shared.slot()] = Some(Size { virtual_size: bytes, raw: bytes });
        self
    }

    /// A PE32 image instead (`IMAGE_NT_OPTIONAL_HDR32_MAGIC`), machine i386: a WoW64 DLL,
    /// whose pointers are 4 bytes with `IMAGE_REL_BASED_HIGHLOW` relocations.
    #[must_use]
    pub fn pe32(mut self) -> PeBuilder {
        self.format = PeFormat::Pe32;
        self.machine = ImageMachine::I386;
        self
    }

    /// The `Machine` field (written as given, even one Windows refuses for the format).
    #[must_use]
    pub fn machine(mut self, machine: ImageMachine) -> PeBuilder {
        self.machine = machine;
        self
    }

    /// `SectionAlignment` and `FileAlignment`: powers of two up to 64 KiB, in any relation
    /// (so a test can write one Windows refuses).
    #[must_use]
    pub fn alignment(mut self, section: u32, file: u32) -> PeBuilder {
        self.section_alignment = section;
        self.file_alignment = file;
        self
    }

    /// Stores at `offset` of `at`'s raw data the address of `target_offset` in `target` (at the
    /// preferred base), with a base relocation for it. The value may straddle a page boundary.
    #[must_use]
    pub fn pointer(mut self, at: PeSection, offset: u32, target: PeSection, target_offset: u32) -> PeBuilder {
        self.pointers.push(Pointer { at, offset, target, target_offset });
        self
    }

    /// Writes `bytes` at `offset` of `section`'s raw data, over the pattern.
    #[must_use]
    pub fn write(mut self, section: PeSection, offset: u32, bytes: &[u8]) -> PeBuilder {
        self.patches.push(Patch { at: section, offset, bytes: bytes.to_vec() });
        self
    }

    /// Writes the DLL.
    pub fn build(&self) -> Result<BuiltPe, PeBuildError> {
        let is_64 = self.format == PeFormat::Pe32Plus;
        if !is_64 && self.base > u64::from(u32::MAX) {
            return Err(PeBuildError::BaseTooHigh);
        }
        let alignment_ok = |a: u32| a.is_power_of_two() && a <= 0x1_0000;
        if !alignment_ok(self.section_alignment) || !alignment_ok(self.file_alignment) {
            return Err(PeBuildError::Alignment);
        }
        for (slot, size) in self.sizes.iter().enumerate() {
            let Some(size) = size else { continue };
            let raw_ok = size.raw <= MAX_SECTION && (size.raw > 0 || slot == PeSection::Data.slot());
            if size.virtual_size == 0 || size.virtual_size > MAX_SECTION || !raw_ok {
                return Err(PeBuildError::SectionSize);
            }
        }
        let mut out = Vec::new();
        let mut writer = Writer::new(is_64, self.section_alignment, self.file_alignment, &mut out);
        writer.reserve_dos_header_and_stub();
        writer.reserve_nt_headers(pe::IMAGE_NUMBEROF_DIRECTORY_ENTRIES);
        let has_relocs = !self.pointers.is_empty();
        let present = self.sizes.iter().flatten().count();
        writer.reserve_section_headers(u16::try_from(present + usize::from(has_relocs)).unwrap_or(u16::MAX));

        // Reserve in file order, remembering each section's ranges.
        let mut ranges: [Option<SectionRange>; 4] = [None; 4];
        for section in PeSection::ALL {
            let Some(size) = self.sizes[section.slot()] else { continue };
            ranges[section.slot()] = Some(match section {
                PeSection::Text => writer.reserve_text_section(size.virtual_size),
                PeSection::Rdata => writer.reserve_rdata_section(size.virtual_size),
                PeSection::Data => writer.reserve_data_section(size.virtual_size, size.raw),
                PeSection::Shared => writer.reserve_section(
                    *b".shared\0",
                    pe::IMAGE_SCN_CNT_INITIALIZED_DATA
                        | pe::IMAGE_SCN_MEM_READ
                        | pe::IMAGE_SCN_MEM_WRITE
                        | pe::IMAGE_SCN_MEM_SHARED,
                    size.virtual_size,
                    size.raw,
                ),
            });
        }
        let mut bodies = self.bodies()?;
        let pointers = self.place_pointers(&ranges, &mut bodies)?;
        let mut rvas: Vec<u32> = pointers.iter().map(|(rva, _)| *rva).collect();
        rvas.sort_unstable();
        let kind = if is_64 { pe::IMAGE_REL_BASED_DIR64 } else { pe::IMAGE_REL_BASED_HIGHLOW };
        for rva in rvas {
            writer.add_reloc(rva, kind);
        }
        if has_relocs {
            writer.reserve_reloc_section();
        }

        writer.write_dos_header_and_stub().map_err(|_| PeBuildError::Writer)?;
        writer.write_nt_headers(self.nt_headers(is_64));
        writer.write_section_headers();
        for section in PeSection::ALL {
            if let Some(range) = ranges[section.slot()] {
                writer.write_section(range.file_offset, &bodies[section.slot()]);
            }
        }
        if has_relocs {
            writer.write_reloc_section();
        }
        Ok(BuiltPe { bytes: out, rvas: ranges.map(|r| r.map(|r| r.virtual_address)), pointers })
    }

    /// Each section's raw data: the pattern, then the patches.
    fn bodies(&self) -> Result<[Vec<u8>; 4], PeBuildError> {
        let mut bodies: [Vec<u8>; 4] = Default::default();
        for section in PeSection::ALL {
            if let Some(size) = self.sizes[section.slot()] {
                bodies[section.slot()] = (0..size.raw).map(|i| pattern(section, i)).collect();
            }
        }
        for patch in &self.patches {
            let body = &mut bodies[patch.at.slot()];
            put(body, patch.at, patch.offset, &patch.bytes, self.sizes[patch.at.slot()].is_some())?;
        }
        Ok(bodies)
    }

    /// Writes each pointer's value into its section's body; the RVA and value of each.
    fn place_pointers(
        &self,
        ranges: &[Option<SectionRange>; 4],
        bodies: &mut [Vec<u8>; 4],
    ) -> Result<Vec<(u32, u64)>, PeBuildError> {
        let mut placed = Vec::with_capacity(self.pointers.len());
        for p in &self.pointers {
            let (Some(at), Some(target)) = (ranges[p.at.slot()], ranges[p.target.slot()]) else {
                return Err(PeBuildError::NoSharedSection);
            };
            if p.target_offset > target.virtual_size {
                return Err(PeBuildError::OutsideSection);
            }
            let value = self.base.wrapping_add(u64::from(target.virtual_address) + u64::from(p.target_offset));
            let bytes = value.to_le_bytes();
            let width = if self.format == PeFormat::Pe32Plus { 8 } else { 4 };
            put(&mut bodies[p.at.slot()], p.at, p.offset, &bytes[..width], true)?;
            let rva = at.virtual_address.checked_add(p.offset).ok_or(PeBuildError::OutsideSection)?;
            let value = if width == 8 { value } else { value & 0xFFFF_FFFF };
            placed.push((rva, value));
        }
        Ok(placed)
    }

    fn nt_headers(&self, is_64: bool) -> NtHeaders {
        let width_flag = if is_64 { pe::IMAGE_FILE_LARGE_ADDRESS_AWARE } else { pe::IMAGE_FILE_32BIT_MACHINE };
        let entropy = if is_64 { pe::IMAGE_DLLCHARACTERISTICS_HIGH_ENTROPY_VA } else { 0 };
        NtHeaders {
            machine: self.machine.raw(),
            time_date_stamp: 0,
            characteristics: pe::IMAGE_FILE_EXECUTABLE_IMAGE | pe::IMAGE_FILE_DLL | width_flag,
            major_linker_version: 14,
            minor_linker_version: 0,
            // No DllMain: the DLL has nothing to run.
            address_of_entry_point: 0,
            image_base: self.base,
            major_operating_system_version: 6,
            minor_operating_system_version: 0,
            major_image_version: 0,
            minor_image_version: 0,
            major_subsystem_version: 6,
            minor_subsystem_version: 0,
            subsystem: pe::IMAGE_SUBSYSTEM_WINDOWS_GUI,
            dll_characteristics: pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE
                | pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT
                | entropy,
            size_of_stack_reserve: 0x10_0000,
            size_of_stack_commit: 0x1000,
            size_of_heap_reserve: 0x10_0000,
            size_of_heap_commit: 0x1000,
        }
    }
}

/// Copies `bytes` to `offset` of a section's raw data.
fn put(body: &mut [u8], section: PeSection, offset: u32, bytes: &[u8], exists: bool) -> Result<(), PeBuildError> {
    if !exists {
        return Err(if section == PeSection::Shared {
            PeBuildError::NoSharedSection
        } else {
            PeBuildError::OutsideSection
        });
    }
    let start = usize::try_from(offset).map_err(|_| PeBuildError::OutsideSection)?;
    let target = start.checked_add(bytes.len()).and_then(|end| body.get_mut(start..end));
    target.ok_or(PeBuildError::OutsideSection)?.copy_from_slice(bytes);
    Ok(())
}
