//! [`ImageLayout`]: an image as a `SEC_IMAGE` section maps it — headers, sections, pages,
//! relocations — and what mapping it at a base gives ([`ImageMapStatus`], F163) and costs in
//! commit. `parse.rs` builds it, `page.rs` says what each page is, `relocation.rs` relocates.

use super::{ImageInformation, ImageMachine, ImagePage, ImagePart, ImageSection, PeFormat, Relocation};
use crate::paging::{Access, Protection};
use crate::units::PAGE_SIZE;

/// `IMAGE_FILE_RELOCS_STRIPPED`.
const FILE_RELOCS_STRIPPED: u16 = 0x0001;

/// How the pages of an image are laid out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Arrangement {
    /// `SectionAlignment` of a page or more: the headers, then each section at its RVA.
    Sections { header_pages: u32 },
    /// `SectionAlignment` below a page: the file as it is, every page copy-on-write.
    Flat,
}

/// The success status of mapping an image view (F163).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum ImageMapStatus {
    /// At its preferred base: `STATUS_SUCCESS`.
    AtBase,
    /// Elsewhere, relocated: `STATUS_IMAGE_NOT_AT_BASE`.
    NotAtBase,
    /// Code for another machine: `STATUS_IMAGE_MACHINE_TYPE_MISMATCH`. The view is mapped all
    /// the same; NT checks this before the base, so it wins over `NotAtBase`.
    MachineMismatch,
}

/// An image file as a `SEC_IMAGE` section maps it: headers, sections, pages, relocations.
#[derive(Clone, Debug)]
pub struct ImageLayout {
    pub(super) format: PeFormat,
    pub(super) machine: ImageMachine,
    pub(super) preferred_base: u64,
    pub(super) size_of_image: u32,
    pub(super) size_of_headers: u32,
    pub(super) section_alignment: u32,
    pub(super) file_alignment: u32,
    pub(super) info: ImageInformation,
    pub(super) arrangement: Arrangement,
    pub(super) sections: Vec<ImageSection>,
    /// Sorted by RVA (stable: entries at one RVA keep the file's order).
    pub(super) relocations: Vec<Relocation>,
    /// The unrelocated value under each relocation, read from the image at parse time.
    pub(super) originals: Vec<u64>,
}

impl ImageLayout {
    /// PE32 or PE32+.
    #[must_use]
    pub fn format(&self) -> PeFormat {
        self.format
    }

    /// The machine the image is for.
    #[must_use]
    pub fn machine(&self) -> ImageMachine {
        self.machine
    }

    /// `ImageBase`: where the image wants to be mapped (64 KiB aligned; not necessarily a
    /// user address).
    #[must_use]
    pub fn preferred_base(&self) -> u64 {
        self.preferred_base
    }

    /// `SizeOfImage` in bytes, as the header says it.
    #[must_use]
    pub fn size_of_image(&self) -> u32 {
        self.size_of_image
    }

    /// The image's pages: `SizeOfImage` rounded up to a page. A view of the image is this big.
    #[must_use]
    pub fn page_count(&self) -> u32 {
        // SizeOfImage <= 0x7700_0000 (checked by parse), so the sum cannot overflow.
        (self.size_of_image.saturating_add(0xFFF)) >> 12
    }

    /// The view size in bytes (`page_count` pages).
    #[must_use]
    pub fn view_size(&self) -> u64 {
        u64::from(self.page_count()) * PAGE_SIZE
    }

    /// `SizeOfHeaders`.
    #[must_use]
    pub fn size_of_headers(&self) -> u32 {
        self.size_of_headers
    }

    /// `SectionAlignment`.
    #[must_use]
    pub fn section_alignment(&self) -> u32 {
        self.section_alignment
    }

    /// `FileAlignment`.
    #[must_use]
    pub fn file_alignment(&self) -> u32 {
        self.file_alignment
    }

    /// True when the image is mapped flat (`SectionAlignment` below a page).
    #[must_use]
    pub fn is_flat(&self) -> bool {
        self.arrangement == Arrangement::Flat
    }

    /// The pages of the headers' region (0 for a flat image).
    #[must_use]
    pub fn header_pages(&self) -> u32 {
        match self.arrangement {
            Arrangement::Sections { header_pages } => header_pages,
            Arrangement::Flat => 0,
        }
    }

    /// What the headers say for `NtQuerySection(SectionImageInformation)`.
    #[must_use]
    pub fn information(&self) -> &ImageInformation {
        &self.info
    }

    /// The sections, in the order of the section table (which is RVA order).
    #[must_use]
    pub fn sections(&self) -> &[ImageSection] {
        &self.sections
    }

    /// The base relocations, sorted by RVA.
    #[must_use]
    pub fn relocations(&self) -> &[Relocation] {
        &self.relocations
    }

    /// True when the file header says `IMAGE_FILE_RELOCS_STRIPPED`: the image cannot be
    /// relocated (it has no relocation information to apply).
    #[must_use]
    pub fn relocs_stripped(&self) -> bool {
        self.info.characteristics & FILE_RELOCS_STRIPPED != 0
    }

    /// What adding the image at `base` adds to each relocated value (wrapping, as the
    /// hardware adds addresses).
    #[must_use]
    pub fn delta(&self, base: u64) -> i64 {
        base.wrapping_sub(self.preferred_base).cast_signed()
    }

    /// The success status of a view of the image at `base` (F163): NT's
    /// `MiMapViewOfImageSection` checks the machine first (only for an image with code,
    /// `ImageContainsCode`), then the base.
    #[must_use]
    pub fn map_status(&self, base: u64) -> ImageMapStatus {
        if self.info.contains_code && !self.machine.is_native() {
            ImageMapStatus::MachineMismatch
        } else if base == self.preferred_base {
            ImageMapStatus::AtBase
        } else {
            ImageMapStatus::NotAtBase
        }
    }

    /// Pages charged to commit for each view (NT's `ImageCommitment`): the copy-on-write
    /// pages, any of which a write may turn private. For a flat image, every page.
    #[must_use]
    pub fn image_commitment(&self) -> u64 {
        self.committed_pages(|p| matches!(p.access(), Access::WriteCopy | Access::ExecuteWriteCopy))
    }

    /// Pages charged to commit once, when the section is created (NT's
    /// `NumberOfCommittedPages`): those of writable shared sections, which live in the page
    /// file when trimmed since they can never go back to the image file.
    #[must_use]
    pub fn shared_commit(&self) -> u64 {
        self.committed_pages(Protection::can_write)
    }

    fn committed_pages(&self, counts: impl Fn(Protection) -> bool) -> u64 {
        self.pages()
            .filter(|p| matches!(p, ImagePage::Committed { part: ImagePart::Section(_) | ImagePart::Flat, .. }))
            .filter(|p| counts(p.protection()))
            .count() as u64
    }
}
