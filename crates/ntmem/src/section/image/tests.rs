//! The image layout against DLLs written by [`crate::pe::PeBuilder`], and against bytes that
//! are not images at all.

use super::*;
use crate::paging::{Access, Protection};
use crate::pe::{pattern, BuiltPe, PeBuilder, PeSection};
use crate::units::PAGE_BYTES;
use proptest::prelude::*;

const BASE: u64 = 0x1_8000_0000;

fn build(builder: PeBuilder) -> BuiltPe {
    builder.build().expect("the builder writes this DLL")
}

fn parse(pe: &BuiltPe) -> ImageLayout {
    ImageLayout::parse(pe.bytes()).expect("a DLL the builder wrote is an image")
}

fn page_of(layout: &ImageLayout, rva: u32) -> ImagePage {
    layout.page(rva >> 12).expect("inside the image")
}

fn filled(layout: &ImageLayout, file: &[u8], index: u32) -> Vec<u8> {
    let mut page = vec![0xEE; PAGE_BYTES];
    assert!(layout.fill_page(file, index, &mut page));
    page
}

fn read_u64(image: &[u8], rva: u32) -> u64 {
    let at = rva as usize;
    u64::from_le_bytes(image[at..at + 8].try_into().expect("8 bytes"))
}

/// The DLL most tests use: every section, a demand-zero tail, and two relocated pointers, one
/// of them straddling the boundary between `.text`'s two pages.
fn full_dll() -> BuiltPe {
    build(
        PeBuilder::dll(BASE)
            .text_size(0x2000)
            .data_size(0x200, 0x3000)
            .shared_section(0x1000)
            .pointer(PeSection::Data, 0x10, PeSection::Text, 0x20)
            .pointer(PeSection::Text, 0xFFC, PeSection::Rdata, 0x8),
    )
}

#[test]
fn builder_output_parses_back_as_written() {
    let pe = build(PeBuilder::dll(BASE));
    let layout = parse(&pe);
    assert_eq!(layout.format(), PeFormat::Pe32Plus);
    assert_eq!(layout.machine(), ImageMachine::AMD64);
    assert_eq!(layout.preferred_base(), BASE);
    assert!(!layout.is_flat());
    assert_eq!(layout.header_pages(), 1);
    // Headers, .text, .rdata, two pages of .data.
    assert_eq!(layout.page_count(), 5);
    assert_eq!(layout.view_size(), 5 * 4096);
    assert!(layout.size_of_headers() > 0 && layout.size_of_headers() <= 0x1000);
    let names: Vec<&[u8]> = layout.sections().iter().map(ImageSection::name).collect();
    assert_eq!(names, [&b".text"[..], b".rdata", b".data"]);
    for (section, which) in layout.sections().iter().zip([PeSection::Text, PeSection::Rdata, PeSection::Data]) {
        assert_eq!(Some(section.rva()), pe.rva(which));
    }
    let data = &layout.sections()[2];
    assert_eq!((data.virtual_size(), data.raw_size()), (0x2000, 0x200));
    assert_eq!(data.pages(), 3..5);
    assert!(layout.relocations().is_empty());
    assert!(layout.information().contains_code);
    assert!(!layout.relocs_stripped());
}

#[test]
fn each_page_has_the_protection_its_section_characteristics_give_f162() {
    let pe = full_dll();
    let layout = parse(&pe);
    let access = |rva| page_of(&layout, rva).protection().access();
    assert_eq!(layout.page(0).map(|p| p.protection()), Some(Protection::READ_ONLY));
    let rva = |s| pe.rva(s).expect("present");
    assert_eq!(access(rva(PeSection::Text)), Access::ExecuteRead);
    assert_eq!(access(rva(PeSection::Text) + 0x1000), Access::ExecuteRead);
    assert_eq!(access(rva(PeSection::Rdata)), Access::ReadOnly);
    assert_eq!(access(rva(PeSection::Data)), Access::WriteCopy);
    assert_eq!(access(rva(PeSection::Shared)), Access::ReadWrite);
    let shared: Vec<bool> = layout.sections().iter().map(ImageSection::is_shared).collect();
    assert_eq!(shared, [false, false, false, true, false]);
    // The .reloc section is read-only data.
    let reloc = &layout.sections()[4];
    assert_eq!(reloc.name(), b".reloc");
    assert_eq!(reloc.protection().access(), Access::ReadOnly);
}

#[test]
fn header_page_is_the_files_headers_then_zeros_f162() {
    let pe = build(PeBuilder::dll(BASE));
    let layout = parse(&pe);
    let headers = layout.size_of_headers();
    assert_eq!(
        layout.page(0),
        Some(ImagePage::Committed {
            part: ImagePart::Headers,
            protection: Protection::READ_ONLY,
            content: PageContent::File { offset: 0, len: headers },
        })
    );
    let page = filled(&layout, pe.bytes(), 0);
    let headers = headers as usize;
    assert_eq!(&page[..headers], &pe.bytes()[..headers]);
    assert!(page[headers..].iter().all(|&b| b == 0), "the rest of the header page is zero");
}

#[test]
fn section_pages_are_filled_from_their_raw_data() {
    let pe = build(PeBuilder::dll(BASE).text_size(0x2000));
    let layout = parse(&pe);
    let text = &layout.sections()[0];
    let page = page_of(&layout, text.rva() + 0x1000);
    assert_eq!(page.content(), Some(PageContent::File { offset: u64::from(text.raw_offset()) + 0x1000, len: 0x1000 }));
    let bytes = filled(&layout, pe.bytes(), (text.rva() >> 12) + 1);
    assert!((0x1000..).zip(&bytes).all(|(i, &b)| b == pattern(PeSection::Text, i)));
}

#[test]
fn data_past_its_raw_size_is_a_demand_zero_tail() {
    let pe = build(PeBuilder::dll(BASE).data_size(0x200, 0x3000));
    let layout = parse(&pe);
    let data = layout.sections()[2];
    let first = data.rva() >> 12;
    assert_eq!(
        layout.page(first).and_then(|p| p.content()),
        Some(PageContent::File { offset: u64::from(data.raw_offset()), len: 0x200 })
    );
    let bytes = filled(&layout, pe.bytes(), first);
    assert!((0..).zip(&bytes[..0x200]).all(|(i, &b)| b == pattern(PeSection::Data, i)));
    assert!(bytes[0x200..].iter().all(|&b| b == 0), "past the raw data the page is zero");
    for index in first + 1..first + 3 {
        let page = layout.page(index).expect("inside");
        assert_eq!(page.content(), Some(PageContent::Zero), "page {index} is demand-zero");
        assert_eq!(page.protection().access(), Access::WriteCopy);
        assert!(filled(&layout, pe.bytes(), index).iter().all(|&b| b == 0));
    }
}

#[test]
fn commit_counts_copy_on_write_pages_per_view_and_shared_pages_once() {
    let layout = parse(&full_dll());
    // .data: three pages, copy-on-write; .shared: one page, shared.
    assert_eq!(layout.image_commitment(), 3);
    assert_eq!(layout.shared_commit(), 1);
}

#[test]
fn relocated_pointers_hold_value_plus_delta_f163() {
    let pe = full_dll();
    let layout = parse(&pe);
    assert_eq!(layout.relocations().len(), 2);
    assert!(layout.relocations().iter().all(|r| r.kind == RelocationKind::Dir64));
    assert!(layout.relocations().windows(2).all(|w| w[0].rva <= w[1].rva));
    let base = 0x7FF6_1234_0000;
    let delta = layout.delta(base);
    assert_eq!(delta, (base - BASE).cast_signed());
    let image = layout.load(pe.bytes(), delta);
    for &(rva, value) in pe.pointers() {
        assert_eq!(read_u64(&image, rva), base + (value - BASE), "pointer at {rva:#x}");
    }
    // At the preferred base nothing moves.
    let unrelocated = layout.load(pe.bytes(), 0);
    for &(rva, value) in pe.pointers() {
        assert_eq!(read_u64(&unrelocated, rva), value);
    }
}

#[test]
fn a_value_straddling_two_pages_is_relocated_page_by_page() {
    let pe = full_dll();
    let layout = parse(&pe);
    let text = pe.rva(PeSection::Text).expect("present");
    let straddler = text + 0xFFC;
    assert!(layout.relocations().iter().any(|r| r.rva == straddler));
    let delta = 0x1234_5678_9ABC_0000_i64;
    let expected = layout.load(pe.bytes(), delta);
    // Each page alone, the second before the first.
    let first = text >> 12;
    let mut second = filled(&layout, pe.bytes(), first + 1);
    layout.apply_relocations(text + 0x1000, &mut second, delta);
    let mut first_page = filled(&layout, pe.bytes(), first);
    layout.apply_relocations(text, &mut first_page, delta);
    let at = straddler as usize;
    assert_eq!(&first_page[0xFFC..], &expected[at..at + 4]);
    assert_eq!(&second[..4], &expected[at + 4..at + 8]);
    let (_, value) = pe.pointers().iter().find(|(rva, _)| *rva == straddler).copied().expect("placed");
    assert_eq!(read_u64(&expected, straddler), value.wrapping_add(delta.cast_unsigned()));
}

#[test]
fn relocating_page_by_page_equals_relocating_the_image() {
    let pe = full_dll();
    let layout = parse(&pe);
    for delta in [1_i64 << 16, -(1_i64 << 32), i64::MIN, 0x10_0000_0000] {
        let whole = layout.load(pe.bytes(), delta);
        for index in 0..layout.page_count() {
            let mut page = filled(&layout, pe.bytes(), index);
            layout.apply_relocations(index << 12, &mut page, delta);
            let at = index as usize * PAGE_BYTES;
            assert_eq!(page, whole[at..at + PAGE_BYTES], "page {index}, delta {delta:#x}");
        }
    }
}

#[test]
fn map_status_is_success_at_base_and_not_at_base_elsewhere_f163() {
    let layout = parse(&build(PeBuilder::dll(BASE)));
    assert_eq!(layout.map_status(BASE), ImageMapStatus::AtBase);
    assert_eq!(layout.map_status(BASE + 0x10000), ImageMapStatus::NotAtBase);
}

#[test]
fn a_wow64_dll_is_an_image_that_maps_with_machine_mismatch_f163() {
    let base = 0x1000_0000;
    let pe = build(PeBuilder::dll(base).pe32().pointer(PeSection::Data, 0x8, PeSection::Text, 0x40));
    let layout = parse(&pe);
    assert_eq!(layout.format(), PeFormat::Pe32);
    assert_eq!(layout.machine(), ImageMachine::I386);
    assert_eq!(layout.map_status(base), ImageMapStatus::MachineMismatch, "checked before the base");
    assert_eq!(layout.relocations()[0].kind, RelocationKind::HighLow);
    let (rva, value) = pe.pointers()[0];
    let image = layout.load(pe.bytes(), 0x20_0000);
    let at = rva as usize;
    let relocated = u32::from_le_bytes(image[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!(u64::from(relocated), value + 0x20_0000);
    // The byte after a 4-byte value is untouched.
    assert_eq!(image[at + 4], pattern(PeSection::Data, 0xC));
}

#[test]
fn an_ia64_dll_maps_with_machine_mismatch_f163() {
    let layout = parse(&build(PeBuilder::dll(BASE).machine(ImageMachine::IA64)));
    assert_eq!(layout.map_status(BASE), ImageMapStatus::MachineMismatch);
}

#[test]
fn a_machine_that_does_not_go_with_the_format_is_bad_exe_format_f130() {
    for builder in [
        PeBuilder::dll(BASE).machine(ImageMachine::I386),
        PeBuilder::dll(BASE).machine(ImageMachine::ARM64),
        PeBuilder::dll(BASE).machine(ImageMachine::new(0xDEAD)),
        PeBuilder::dll(BASE).machine(ImageMachine::new(0)),
        PeBuilder::dll(0x1000_0000).pe32().machine(ImageMachine::AMD64),
    ] {
        assert_eq!(ImageLayout::parse(build(builder).bytes()).err(), Some(ImageError::BadExeFormat));
    }
}

#[test]
fn bytes_that_are_not_mz_are_not_mz_f130() {
    assert_eq!(ImageLayout::parse(b"").err(), Some(ImageError::NotMz));
    assert_eq!(ImageLayout::parse(b"hello, world").err(), Some(ImageError::NotMz));
    assert_eq!(ImageLayout::parse(&[0u8; 8192]).err(), Some(ImageError::NotMz));
    // "MZ" but shorter than a DOS header.
    let mut short = vec![0u8; 63];
    short[..2].copy_from_slice(b"MZ");
    assert_eq!(ImageLayout::parse(&short).err(), Some(ImageError::NotMz));
}

#[test]
fn a_dos_program_is_not_pe_and_an_ne_image_is_ne_f130() {
    let mut dos = vec![0u8; 4096];
    dos[..2].copy_from_slice(b"MZ");
    // e_lfanew 0: the "PE header" is the MZ header.
    assert_eq!(ImageLayout::parse(&dos).err(), Some(ImageError::NotPe));
    let pe = build(PeBuilder::dll(BASE));
    let e = u32::from_le_bytes(pe.bytes()[0x3C..0x40].try_into().expect("4 bytes"));
    let e_lfanew = e as usize;
    let mut ne = pe.bytes().to_vec();
    ne[e_lfanew..e_lfanew + 4].copy_from_slice(b"NE\0\0");
    assert_eq!(ImageLayout::parse(&ne).err(), Some(ImageError::NeFormat));
    let mut other = pe.bytes().to_vec();
    other[e_lfanew..e_lfanew + 4].copy_from_slice(&0xDEAD_BEEF_u32.to_le_bytes());
    assert_eq!(ImageLayout::parse(&other).err(), Some(ImageError::NotPe));
    // e_lfanew not 4-byte aligned, or past the end of the file.
    for e in [e + 2, 0x10_0000] {
        let mut moved = pe.bytes().to_vec();
        moved[0x3C..0x40].copy_from_slice(&e.to_le_bytes());
        assert_eq!(ImageLayout::parse(&moved).err(), Some(ImageError::NotPe));
    }
}

#[test]
fn bad_headers_are_bad_exe_format_f130() {
    let pe = build(PeBuilder::dll(BASE));
    let bytes = pe.bytes();
    let e_lfanew = u32::from_le_bytes(bytes[0x3C..0x40].try_into().expect("4 bytes")) as usize;
    let mutate = |at: usize, with: &[u8]| {
        let mut b = bytes.to_vec();
        b[at..at + with.len()].copy_from_slice(with);
        ImageLayout::parse(&b).err()
    };
    let optional = e_lfanew + 24;
    let first_section = optional + 240; // PE32+ optional header with 16 directories
    for (what, at, with) in [
        ("optional header magic", optional, &0xDEAD_u16.to_le_bytes()[..]),
        ("not an executable image", e_lfanew + 22, &0x2000_u16.to_le_bytes()[..]),
        ("file alignment 0x100", optional + 36, &0x100_u32.to_le_bytes()[..]),
        ("section alignment below file alignment", optional + 32, &0x100_u32.to_le_bytes()[..]),
        ("SizeOfImage 0", optional + 56, &0_u32.to_le_bytes()[..]),
        ("SizeOfHeaders past SizeOfImage", optional + 60, &0x10_0000_u32.to_le_bytes()[..]),
        ("a hole before .text", first_section + 12, &0x2000_u32.to_le_bytes()[..]),
        ("raw data past the end of the file", first_section + 40 * 2 + 20, &0x10_0000_u32.to_le_bytes()[..]),
    ] {
        assert_eq!(mutate(at, with), Some(ImageError::BadExeFormat), "{what}");
    }
    assert_eq!(ImageLayout::parse(build(PeBuilder::dll(BASE + 0x1000)).bytes()).err(), Some(ImageError::BadExeFormat));
}

#[test]
fn a_truncated_file_is_refused() {
    let pe = full_dll();
    let bytes = pe.bytes();
    assert!(ImageLayout::parse(bytes).is_ok());
    assert_eq!(ImageLayout::parse(&bytes[..bytes.len() - 1]).err(), Some(ImageError::BadExeFormat));
    assert_eq!(ImageLayout::parse(&bytes[..0x100]).err(), Some(ImageError::NotPe));
    assert_eq!(ImageLayout::parse(&bytes[..0x30]).err(), Some(ImageError::NotMz));
}

#[test]
fn an_image_aligned_below_a_page_maps_flat_and_copy_on_write() {
    let pe = build(PeBuilder::dll(BASE).alignment(0x200, 0x200).data_size(0x200, 0x200));
    let layout = parse(&pe);
    assert!(layout.is_flat());
    assert_eq!(layout.header_pages(), 0);
    let file_pages = u32::try_from(pe.bytes().len().div_ceil(PAGE_BYTES)).expect("small");
    for (index, page) in (0..).zip(layout.pages()) {
        let ImagePage::Committed { part, protection, content } = page else { panic!("page {index} is a gap") };
        assert_eq!((part, protection.access()), (ImagePart::Flat, Access::ExecuteWriteCopy));
        if index < file_pages {
            assert!(matches!(content, PageContent::File { offset, .. } if offset == u64::from(index) * 4096));
        }
    }
    assert_eq!(layout.image_commitment(), u64::from(layout.page_count()));
    // Byte i of the file is byte i of the image.
    let image = layout.load(pe.bytes(), 0);
    assert_eq!(&image[..pe.bytes().len()], pe.bytes());
}

#[test]
fn a_64k_aligned_image_has_gaps_past_each_sections_virtual_size() {
    let pe = build(PeBuilder::dll(BASE).alignment(0x1_0000, 0x200));
    let layout = parse(&pe);
    assert_eq!(layout.header_pages(), 16);
    assert_eq!(layout.page(1), Some(ImagePage::Gap), "headers' region past SizeOfHeaders");
    let text = layout.sections()[0];
    assert_eq!(text.rva(), 0x1_0000);
    assert_eq!(text.pages(), 16..32);
    assert!(matches!(layout.page(16), Some(ImagePage::Committed { .. })));
    assert_eq!(layout.page(17), Some(ImagePage::Gap));
    assert_eq!(layout.page(17).map(|p| p.protection()), Some(Protection::NONE));
    assert_eq!(layout.page(layout.page_count()), None);
}

#[test]
fn a_one_mebibyte_image_has_256_pages() {
    // Headers, .text, .rdata and two pages of .data.
    let layout = parse(&build(PeBuilder::dll(BASE).text_size(252 * 0x1000)));
    assert_eq!(layout.page_count(), 256);
    assert_eq!(layout.view_size(), 1 << 20);
    assert_eq!(layout.pages().count(), 256);
}

/// A valid DLL with `mutations` bytes replaced.
fn mutated(mutations: &[(usize, u8)]) -> Vec<u8> {
    let mut bytes = full_dll().into_bytes();
    let len = bytes.len();
    for &(at, value) in mutations {
        bytes[at % len] = value;
    }
    bytes
}

/// Everything a caller can do with a layout, to show none of it panics.
fn exercise(layout: &ImageLayout, file: &[u8]) {
    let mut page = vec![0u8; PAGE_BYTES];
    for index in 0..layout.page_count().min(512) {
        let described = layout.page(index).expect("inside the image");
        assert!(layout.fill_page(file, index, &mut page));
        if let ImagePage::Gap = described {
            assert!(page.iter().all(|&b| b == 0));
        }
        layout.apply_relocations(index << 12, &mut page, 0x7654_3210_0000);
    }
    let _ = (layout.image_commitment(), layout.shared_commit(), layout.map_status(0x10000));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(layout) = ImageLayout::parse(&bytes) {
            exercise(&layout, &bytes);
        }
    }

    #[test]
    fn mz_headed_bytes_never_panic(e_lfanew in 0u32..0x400, body in prop::collection::vec(any::<u8>(), 0..4096)) {
        let mut bytes = vec![0u8; 64];
        bytes[..2].copy_from_slice(b"MZ");
        bytes[0x3C..0x40].copy_from_slice(&e_lfanew.to_le_bytes());
        bytes.extend_from_slice(&body);
        if let Ok(layout) = ImageLayout::parse(&bytes) {
            exercise(&layout, &bytes);
        }
    }

    #[test]
    fn mutated_dlls_never_panic(mutations in prop::collection::vec((0usize..0x600, any::<u8>()), 1..8)) {
        let bytes = mutated(&mutations);
        if let Ok(layout) = ImageLayout::parse(&bytes) {
            exercise(&layout, &bytes);
        }
    }

    #[test]
    fn mutations_anywhere_never_panic(mutations in prop::collection::vec((any::<usize>(), any::<u8>()), 1..16)) {
        let bytes = mutated(&mutations);
        if let Ok(layout) = ImageLayout::parse(&bytes) {
            exercise(&layout, &bytes);
        }
    }

    #[test]
    fn every_truncation_is_refused(cut in 0usize..0x10000) {
        let bytes = full_dll().into_bytes();
        let cut = cut % bytes.len();
        prop_assert!(ImageLayout::parse(&bytes[..cut]).is_err());
    }

    #[test]
    fn page_by_page_relocation_agrees_with_the_whole_image(delta in any::<i64>()) {
        let pe = full_dll();
        let layout = parse(&pe);
        let whole = layout.load(pe.bytes(), delta);
        for index in 0..layout.page_count() {
            let mut page = filled(&layout, pe.bytes(), index);
            layout.apply_relocations(index << 12, &mut page, delta);
            let at = index as usize * PAGE_BYTES;
            prop_assert_eq!(&page[..], &whole[at..at + PAGE_BYTES]);
        }
    }
}
