//! Image files: what a `SEC_IMAGE` section is made of, read from a PE file the way NT's
//! `MiCreateImageFileMap` reads it (WRK `creasect.c`; F130, F131, F162, F163).
//!
//! [`ImageLayout::parse`] takes the bytes of the file and checks them in NT's order, with the
//! `object` crate reading the structures; what fails is an [`ImageError`], one variant per
//! NTSTATUS NT returns (all `ERROR_BAD_EXE_FORMAT` at the Win32 level). What passes is the
//! layout a segment is built from, one [`ImagePage`] per page of `SizeOfImage`:
//!
//! - the **headers**: `PAGE_READONLY`, the file's first `SizeOfHeaders` bytes then zeros (a
//!   one-page region for the usual image, F162);
//! - each **section** at its RVA, with the protection its characteristics give
//!   ([`image_protection`]): code `PAGE_EXECUTE_READ`, read-only data `PAGE_READONLY`, writable
//!   data `PAGE_WRITECOPY` (`PAGE_EXECUTE_WRITECOPY` if executable), and a writable
//!   `IMAGE_SCN_MEM_SHARED` section truly shared `PAGE_READWRITE`. A page within the raw data is
//!   filled from the file ([`PageContent::File`], zeros after the bytes it names); a page past
//!   the raw data but within the virtual size is demand-zero ([`PageContent::Zero`]);
//! - **gaps** ([`ImagePage::Gap`]): pages of a section's alignment past its virtual size, and
//!   the end of `SizeOfImage` past the last section. NT gives them a zero prototype PTE.
//! - An image whose `SectionAlignment` is below a page is mapped **flat**, as NT does: every
//!   page `PAGE_EXECUTE_WRITECOPY`, file byte `i` at RVA `i` ([`ImagePart::Flat`]).
//!
//! Mapping (F163): at the preferred base the view's status is `STATUS_SUCCESS`, elsewhere the
//! success code `STATUS_IMAGE_NOT_AT_BASE`, and an image with code for a machine other than
//! AMD64 maps with the success code `STATUS_IMAGE_MACHINE_TYPE_MISMATCH` — the view exists,
//! the caller decides ([`ImageLayout::map_status`]). So an i386 PE32 image (a WoW64 DLL) is a
//! valid image here as on 64-bit Windows; a PE32 that is not i386, or a PE32+ that is neither
//! AMD64 nor IA64, is `BadExeFormat` at creation.
//!
//! Relocations: the base relocations (`IMAGE_REL_BASED_DIR64`, `HIGHLOW`; `ABSOLUTE` is
//! padding) are kept sorted by RVA. A page mapped away from the preferred base is relocated as
//! it is filled, as NT has done in the kernel since Vista: [`ImageLayout::apply_relocations`]
//! adds the delta to every entry that touches the bytes it is given — one page, several, or the
//! whole image — including an entry that straddles the buffer's edge, whose unrelocated value
//! the layout keeps from when it parsed the file (NT keeps the image file unwritable while an
//! image section exists, so those bytes cannot change).
//!
//! Neighbours: `section::create` builds a segment from the layout; the fault path reads
//! [`PageContent::File`] bytes from the host file and relocates them. [`crate::pe::PeBuilder`]
//! writes the PE32+ DLLs the tests and the tour map.

mod error;
mod headers;
mod layout;
mod page;
mod parse;
mod protection;
mod relocation;
#[cfg(test)]
mod tests;

pub use error::ImageError;
pub use headers::{ImageInformation, ImageMachine, ImageSection, PeFormat};
pub use layout::{ImageLayout, ImageMapStatus};
pub use page::{ImagePage, ImagePart, PageContent};
pub use protection::image_protection;
pub use relocation::{Relocation, RelocationKind};

use layout::Arrangement;
