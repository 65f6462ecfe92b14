//! [`ImageLayout::parse`]: NT's checks of an image file, in NT's order (`MiCreateImageFileMap`
//! and `MiVerifyImageHeader`, WRK `creasect.c`), with the `object` crate reading every
//! structure.
//!
//! NT reads the headers from the first pages of the file; ntmem has the whole file, which
//! gives the same answers: a header that NT would find outside what it read is outside the
//! file here too. Where ntmem is stricter than NT it says so: `object` refuses an optional
//! header too short for its fields or its `NumberOfRvaAndSizes` directories, and ntmem refuses
//! a relocation directory it cannot read, an unknown relocation type, or a relocation outside
//! `SizeOfImage` (NT's loader would fail on those later, when it relocates).

use super::protection::image_protection;
use super::{Arrangement, ImageError, ImageInformation, ImageLayout, ImageMachine, ImageSection, PeFormat};
use super::{PageContent, Relocation, RelocationKind};
use crate::paging::{Access, Modifier, Protection};
use crate::units::{PAGE_SHIFT, PAGE_SIZE};
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, SectionTable};
use object::{LittleEndian as LE, ReadRef, U16, U32};

/// NT's `sizeof(IMAGE_NT_HEADERS64)`: signature, file header, optional header with 16 data
/// directories. NT needs this much of the file at `e_lfanew` whatever the image's format.
const NT_HEADERS_BYTES: u64 = 264;
/// `MM_SIZE_OF_LARGEST_IMAGE`.
const MAX_IMAGE_BYTES: u32 = 0x7700_0000;
/// `MM_MAXIMUM_IMAGE_SECTIONS`: section headers that fit the two pages NT reads, after a page
/// and the NT headers: (8192 - (4096 + 264)) / 40.
const MAX_IMAGE_SECTIONS: u16 = 95;
/// `MMSECTOR_SHIFT`: NT reads section data from 512-byte sectors.
const SECTOR_MASK: u64 = 511;
/// Offset of the optional header's magic from `e_lfanew`: the signature and the file header.
const MAGIC_OFFSET: u64 = 4 + 20;

impl ImageLayout {
    /// Reads an image file (`bytes`: all of it) as NT's `MiCreateImageFileMap` does, or says
    /// which NTSTATUS NT would refuse it with. Never panics, whatever the bytes.
    pub fn parse(bytes: &[u8]) -> Result<ImageLayout, ImageError> {
        let file_size = bytes.len() as u64;
        // A file shorter than a DOS header, or without "MZ" (NT reads page 0 first).
        let dos = pe::ImageDosHeader::parse(bytes).map_err(|_| ImageError::NotMz)?;
        let nt = u64::from(dos.nt_headers_offset());
        if nt & 3 != 0 || nt > file_size || nt + NT_HEADERS_BYTES > file_size {
            return Err(ImageError::NotPe);
        }
        // MiVerifyImageHeader.
        let signature = bytes.read_at::<U32<LE>>(nt).map_err(|_| ImageError::NotPe)?.get(LE);
        if signature != pe::IMAGE_NT_SIGNATURE {
            return Err(if signature & 0xFFFF == u32::from(pe::IMAGE_OS2_SIGNATURE) {
                ImageError::NeFormat
            } else {
                ImageError::NotPe
            });
        }
        let file_header = bytes.read_at::<pe::ImageFileHeader>(nt + 4).map_err(|_| ImageError::NotPe)?;
        if file_header.machine.get(LE) == 0 && file_header.size_of_optional_header.get(LE) == 0 {
            return Err(ImageError::NotPe); // a DOS program with a 32-bit part posing as a PE
        }
        if file_header.characteristics.get(LE) & pe::IMAGE_FILE_EXECUTABLE_IMAGE == 0 {
            return Err(ImageError::BadExeFormat);
        }
        let magic = bytes.read_at::<U16<LE>>(nt + MAGIC_OFFSET).map_err(|_| ImageError::NotPe)?.get(LE);
        match magic {
            pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC => parse_as::<pe::ImageNtHeaders64>(bytes, nt, PeFormat::Pe32Plus),
            pe::IMAGE_NT_OPTIONAL_HDR32_MAGIC => parse_as::<pe::ImageNtHeaders32>(bytes, nt, PeFormat::Pe32),
            _ => Err(ImageError::BadExeFormat),
        }
    }
}

/// The rest of the checks, for one format, and the layout.
fn parse_as<Pe: ImageNtHeaders>(bytes: &[u8], nt: u64, format: PeFormat) -> Result<ImageLayout, ImageError> {
    let bad = |_| ImageError::BadExeFormat;
    let mut offset = nt;
    let (headers, directories) = Pe::parse(bytes, &mut offset).map_err(bad)?;
    let file_header = headers.file_header();
    let optional = headers.optional_header();
    let machine = ImageMachine::new(file_header.machine.get(LE));
    let section_count = file_header.number_of_sections.get(LE);
    let section_alignment = optional.section_alignment();
    let file_alignment = optional.file_alignment();
    let size_of_image = optional.size_of_image();
    let size_of_headers = optional.size_of_headers();
    let preferred_base = optional.image_base();

    // VALIDATE_NTHEADER.
    let aligned = |a: u32| a & a.wrapping_sub(1) == 0; // a power of two (or 0, as NT lets it be)
    let fits_format = match format {
        PeFormat::Pe32 => machine == ImageMachine::I386,
        PeFormat::Pe32Plus => machine == ImageMachine::AMD64 || machine == ImageMachine::IA64,
    };
    if (file_alignment & 511 != 0 && file_alignment != section_alignment)
        || file_alignment == 0
        || !aligned(section_alignment)
        || !aligned(file_alignment)
        || section_alignment < file_alignment
        || size_of_image > MAX_IMAGE_BYTES
        || section_count > MAX_IMAGE_SECTIONS
        || !fits_format
    {
        return Err(ImageError::BadExeFormat);
    }
    // MiCreateImageFileMap: the header checks, then the section table.
    let page_count =
        u32::try_from(u64::from(size_of_image).div_ceil(PAGE_SIZE)).map_err(|_| ImageError::BadExeFormat)?;
    if file_header.size_of_optional_header.get(LE) & 7 != 0
        || page_count == 0
        || preferred_base & 0xFFFF != 0
        || size_of_headers >= size_of_image
    {
        return Err(ImageError::BadExeFormat);
    }
    let table = headers.sections(bytes, offset).map_err(bad)?;
    let (arrangement, sections) = if u64::from(section_alignment) >= PAGE_SIZE {
        tile(&table, bytes.len() as u64, size_of_headers, section_alignment, file_alignment, page_count)?
    } else {
        (Arrangement::Flat, flat(&table)?)
    };

    let com = directories.get(pe::IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR).is_some_and(|d| d.size.get(LE) != 0);
    let info = ImageInformation {
        entry_point: optional.address_of_entry_point(),
        stack_reserve: optional.size_of_stack_reserve(),
        stack_commit: optional.size_of_stack_commit(),
        subsystem: optional.subsystem(),
        subsystem_version: (optional.major_subsystem_version(), optional.minor_subsystem_version()),
        os_version: (optional.major_operating_system_version(), optional.minor_operating_system_version()),
        characteristics: file_header.characteristics.get(LE),
        dll_characteristics: optional.dll_characteristics(),
        loader_flags: optional.loader_flags() | u32::from(com),
        checksum: optional.check_sum(),
        contains_code: optional.size_of_code() != 0 || optional.address_of_entry_point() != 0,
        file_size: bytes.len() as u64,
    };
    let mut layout = ImageLayout {
        format,
        machine,
        preferred_base,
        size_of_image,
        size_of_headers,
        section_alignment,
        file_alignment,
        info,
        arrangement,
        sections,
        relocations: Vec::new(),
        originals: Vec::new(),
    };
    let relocations = read_relocations(bytes, &directories, &table, size_of_image)?;
    layout.originals = relocations.iter().map(|r| original_value(&layout, bytes, r)).collect();
    layout.relocations = relocations;
    Ok(layout)
}

/// NT's loop over the section table for an image of page alignment or more: the headers, then
/// sections that follow one another exactly, each rounded up to `SectionAlignment`.
fn tile(
    table: &SectionTable<'_>,
    file_size: u64,
    size_of_headers: u32,
    section_alignment: u32,
    file_alignment: u32,
    page_count: u32,
) -> Result<(Arrangement, Vec<ImageSection>), ImageError> {
    let round = |n: u32| -> Result<u32, ImageError> {
        // MI_ROUND_TO_SIZE, refusing what would wrap (MI_ROUND_WOULD_WRAP).
        let rounded = (u64::from(n) + u64::from(section_alignment) - 1) & !(u64::from(section_alignment) - 1);
        u32::try_from(rounded >> PAGE_SHIFT).map_err(|_| ImageError::BadExeFormat)
    };
    if size_of_headers == 0 {
        return Err(ImageError::BadExeFormat);
    }
    let header_pages = round(size_of_headers)?;
    let mut left = page_count.checked_sub(header_pages).ok_or(ImageError::BadExeFormat)?;
    let mut next_page = header_pages;
    // NT checks the end of the last section's raw data against the file: with no section,
    // its starting value (one past the end of the file) fails.
    let mut image_file_size = file_size + 1;
    let mut sections = Vec::with_capacity(table.len());
    for header in table.iter() {
        let raw_size = header.size_of_raw_data.get(LE);
        // The Borland linker fix: no raw data, no raw pointer.
        let raw_offset = if raw_size == 0 { 0 } else { header.pointer_to_raw_data.get(LE) };
        let virtual_size = match header.virtual_size.get(LE) {
            0 => raw_size,
            v => v,
        };
        let raw_end = raw_offset.checked_add(raw_size).ok_or(ImageError::BadExeFormat)?;
        let rva = header.virtual_address.get(LE);
        if u64::from(next_page) * PAGE_SIZE != u64::from(rva) || virtual_size == 0 {
            return Err(ImageError::BadExeFormat); // a hole, an overlap, or an empty section
        }
        let pages = round(virtual_size)?;
        left = left.checked_sub(pages).ok_or(ImageError::BadExeFormat)?;
        let mask = u64::from(file_alignment) - 1;
        let file_end = (u64::from(raw_end) + mask) & !mask;
        if file_end > u64::from(u32::MAX) {
            return Err(ImageError::BadExeFormat);
        }
        image_file_size = u64::from(raw_end);
        let characteristics = header.characteristics.get(LE);
        sections.push(ImageSection {
            name: header.name,
            rva,
            virtual_size,
            raw_offset,
            raw_size,
            characteristics,
            protection: image_protection(characteristics),
            first_page: next_page,
            page_count: pages,
            file_start: u64::from(raw_offset) & !SECTOR_MASK,
            file_end,
        });
        next_page += pages;
    }
    // The last raw data must be in the file, and the sections must fill SizeOfImage to within
    // one SectionAlignment.
    if image_file_size > file_size || left >= section_alignment >> PAGE_SHIFT {
        return Err(ImageError::BadExeFormat);
    }
    Ok((Arrangement::Sections { header_pages }, sections))
}

/// NT's checks for an image aligned below a page, mapped as the file is: each section's raw
/// data must sit at its RVA and hold all of its virtual size.
fn flat(table: &SectionTable<'_>) -> Result<Vec<ImageSection>, ImageError> {
    let protection = Protection::new(Access::ExecuteWriteCopy, Modifier::None).unwrap_or(Protection::NONE);
    let mut sections = Vec::with_capacity(table.len());
    for header in table.iter() {
        let raw_size = header.size_of_raw_data.get(LE);
        let raw_offset = header.pointer_to_raw_data.get(LE);
        let virtual_size = match header.virtual_size.get(LE) {
            0 => raw_size,
            v => v,
        };
        let rva = header.virtual_address.get(LE);
        let raw_end = raw_offset.checked_add(raw_size).ok_or(ImageError::BadExeFormat)?;
        if raw_offset != rva || virtual_size > raw_size {
            return Err(ImageError::BadExeFormat);
        }
        let first_page = rva >> PAGE_SHIFT;
        let last_page = u64::from(rva) + u64::from(virtual_size).max(1) - 1;
        sections.push(ImageSection {
            name: header.name,
            rva,
            virtual_size,
            raw_offset,
            raw_size,
            characteristics: header.characteristics.get(LE),
            protection,
            first_page,
            page_count: u32::try_from((last_page >> PAGE_SHIFT) + 1 - u64::from(first_page)).unwrap_or(0),
            file_start: u64::from(raw_offset),
            file_end: u64::from(raw_end),
        });
    }
    Ok(sections)
}

/// The base relocations, sorted by RVA. `ABSOLUTE` entries are padding.
fn read_relocations(
    bytes: &[u8],
    directories: &object::read::pe::DataDirectories<'_>,
    table: &SectionTable<'_>,
    size_of_image: u32,
) -> Result<Vec<Relocation>, ImageError> {
    let bad = |_| ImageError::BadExeFormat;
    let mut relocations = Vec::new();
    let Some(blocks) = directories.relocation_blocks(bytes, table).map_err(bad)? else {
        return Ok(relocations);
    };
    for block in blocks {
        for entry in block.map_err(bad)? {
            let kind = match entry.typ {
                pe::IMAGE_REL_BASED_ABSOLUTE => continue,
                pe::IMAGE_REL_BASED_HIGHLOW => RelocationKind::HighLow,
                pe::IMAGE_REL_BASED_DIR64 => RelocationKind::Dir64,
                _ => return Err(ImageError::BadExeFormat),
            };
            if u64::from(entry.virtual_address) + u64::from(kind.width()) > u64::from(size_of_image) {
                return Err(ImageError::BadExeFormat);
            }
            relocations.push(Relocation { rva: entry.virtual_address, kind });
        }
    }
    relocations.sort_by_key(|r| r.rva);
    Ok(relocations)
}

/// The unrelocated value under a relocation, as the image's pages hold it.
fn original_value(layout: &ImageLayout, bytes: &[u8], relocation: &Relocation) -> u64 {
    let mut value = [0u8; 8];
    for (k, byte) in (0u64..).zip(value.iter_mut().take(relocation.kind.width() as usize)) {
        *byte = image_byte(layout, bytes, u64::from(relocation.rva) + k);
    }
    u64::from_le_bytes(value)
}

/// The byte at `rva` of the unrelocated image (zero where no file byte fills it).
fn image_byte(layout: &ImageLayout, bytes: &[u8], rva: u64) -> u8 {
    let page = u32::try_from(rva >> PAGE_SHIFT).ok().and_then(|index| layout.page(index));
    match page.and_then(|p| p.content()) {
        Some(PageContent::File { offset, len }) if rva & (PAGE_SIZE - 1) < u64::from(len) => {
            let at = offset + (rva & (PAGE_SIZE - 1));
            usize::try_from(at).ok().and_then(|at| bytes.get(at)).copied().unwrap_or(0)
        }
        _ => 0,
    }
}
