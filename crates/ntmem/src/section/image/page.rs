//! [`ImagePage`]: what each page of an image is — the prototype PTE NT's `MiCreateImageFileMap`
//! writes for it — and the bytes that fill it.
//!
//! A committed page is either read from the file ([`PageContent::File`]: some bytes, zeros
//! after them) or demand-zero; a [`ImagePage::Gap`] has no access and no content. Pages are
//! computed from the section table on demand, so a layout costs nothing per page.

use super::{Arrangement, ImageLayout, ImageSection};
use crate::paging::{Access, Modifier, Protection};
use crate::units::{PAGE_BYTES, PAGE_SIZE};

/// Which part of the image a committed page belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum ImagePart {
    /// The headers (`PAGE_READONLY`).
    Headers,
    /// The section of this index in [`ImageLayout::sections`].
    Section(usize),
    /// A flat image's page (`PAGE_EXECUTE_WRITECOPY`).
    Flat,
}

/// Where a committed page's bytes come from.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum PageContent {
    /// `len` bytes of the image file from `offset` (1 to 4096, all inside the file), then
    /// zeros to the end of the page.
    File {
        /// The file offset of the page's first byte.
        offset: u64,
        /// How many bytes of the page the file supplies.
        len: u32,
    },
    /// Zeros: demand-zero, past the raw data of a section or of the file.
    Zero,
}

/// One page of an image.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum ImagePage {
    /// A committed page: its prototype PTE starts "in file" or demand-zero.
    Committed {
        /// Headers, a section, or a flat image.
        part: ImagePart,
        /// Its protection.
        protection: Protection,
        /// Its bytes.
        content: PageContent,
    },
    /// No access and no content (a zero prototype PTE): past a section's virtual size within
    /// its alignment, the headers' region past `SizeOfHeaders`, or the end of the image.
    Gap,
}

impl ImagePage {
    /// The page's protection; `Protection::NONE` for a gap.
    #[must_use]
    pub fn protection(&self) -> Protection {
        match self {
            ImagePage::Committed { protection, .. } => *protection,
            ImagePage::Gap => Protection::NONE,
        }
    }

    /// The page's content; `None` for a gap.
    #[must_use]
    pub fn content(&self) -> Option<PageContent> {
        match self {
            ImagePage::Committed { content, .. } => Some(*content),
            ImagePage::Gap => None,
        }
    }
}

/// `len` file bytes from `offset`, cut to a page and to the end of the file; `Zero` if none.
fn file_bytes(offset: u64, len: u64, file_size: u64) -> PageContent {
    let len = len.min(PAGE_SIZE).min(file_size.saturating_sub(offset));
    match u32::try_from(len) {
        Ok(len) if len > 0 => PageContent::File { offset, len },
        _ => PageContent::Zero,
    }
}

impl ImageLayout {
    /// The page at `index` (0 is the image's first page); `None` past the image.
    #[must_use]
    pub fn page(&self, index: u32) -> Option<ImagePage> {
        if index >= self.page_count() {
            return None;
        }
        let offset = u64::from(index) * PAGE_SIZE;
        let file_size = self.info.file_size;
        let header_pages = match self.arrangement {
            Arrangement::Flat => {
                let protection = Protection::new(Access::ExecuteWriteCopy, Modifier::None).unwrap_or(Protection::NONE);
                let content = file_bytes(offset, PAGE_SIZE, file_size);
                return Some(ImagePage::Committed { part: ImagePart::Flat, protection, content });
            }
            Arrangement::Sections { header_pages } => header_pages,
        };
        if index < header_pages {
            let headers = u64::from(self.size_of_headers);
            if offset >= headers {
                return Some(ImagePage::Gap);
            }
            let content = file_bytes(offset, headers - offset, file_size);
            return Some(ImagePage::Committed { part: ImagePart::Headers, protection: Protection::READ_ONLY, content });
        }
        // The sections tile the image from the headers on; what is past the last is a gap.
        let Some(i) = self.sections.partition_point(|s| s.first_page <= index).checked_sub(1) else {
            return Some(ImagePage::Gap);
        };
        let section = &self.sections[i];
        let k = index - section.first_page;
        if k >= section.page_count {
            return Some(ImagePage::Gap);
        }
        Some(section_page(section, i, k, file_size))
    }

    /// Every page of the image, in order.
    pub fn pages(&self) -> impl Iterator<Item = ImagePage> + '_ {
        (0..self.page_count()).filter_map(|i| self.page(i))
    }

    /// Writes the unrelocated bytes of page `index` of the image into `page` (its first 4096
    /// bytes; zeros where the page has none), reading them from `file`, the image file's bytes.
    /// False past the image.
    pub fn fill_page(&self, file: &[u8], index: u32, page: &mut [u8]) -> bool {
        let Some(image_page) = self.page(index) else { return false };
        let n = page.len().min(PAGE_BYTES);
        let page = &mut page[..n];
        page.fill(0);
        if let Some(PageContent::File { offset, len }) = image_page.content() {
            let from = usize::try_from(offset).unwrap_or(usize::MAX);
            let len = usize::try_from(len).unwrap_or(0).min(page.len());
            if let Some(bytes) = file.get(from..).map(|rest| &rest[..len.min(rest.len())]) {
                page[..bytes.len()].copy_from_slice(bytes);
            }
        }
        true
    }

    /// The whole image as a view shows it, relocated by `delta` ([`ImageLayout::delta`]),
    /// built from `file`, the image file's bytes. Gaps read as zeros. Meant for tests and
    /// tools: it allocates the whole `SizeOfImage`.
    #[must_use]
    pub fn load(&self, file: &[u8], delta: i64) -> Vec<u8> {
        let mut image = vec![0u8; usize::try_from(self.view_size()).unwrap_or(0)];
        for (index, page) in (0..self.page_count()).zip(image.chunks_mut(PAGE_BYTES)) {
            self.fill_page(file, index, page);
        }
        self.apply_relocations(0, &mut image, delta);
        image
    }
}

/// Page `k` of `section` (index `i`): NT's loop over a subsection's prototype PTEs.
fn section_page(section: &ImageSection, i: usize, k: u32, file_size: u64) -> ImagePage {
    let offset = u64::from(k) * PAGE_SIZE;
    if offset >= u64::from(section.virtual_size) {
        return ImagePage::Gap;
    }
    let content = if section.raw_offset != 0 && offset < u64::from(section.raw_size) {
        let from = section.file_start + offset;
        file_bytes(from, section.file_end.saturating_sub(from), file_size)
    } else {
        PageContent::Zero
    };
    ImagePage::Committed { part: ImagePart::Section(i), protection: section.protection, content }
}
