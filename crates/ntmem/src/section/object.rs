//! [`Section`]: the section object (a file mapping) — its size, protection and attributes, and
//! the segment whose pages it shares.

use super::{FileIdentity, SegmentId};
use crate::paging::{Modifier, Protection};

/// A section object's number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub struct SectionId(pub(crate) u32);

/// An open file's number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub struct FileId(pub(crate) u32);

/// How a page-file-backed section commits, or what a file-backed one is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SectionKind {
    /// `SEC_COMMIT`: every page committed (and charged) at creation.
    Commit,
    /// `SEC_RESERVE`: pages committed later, through a view.
    Reserve,
    /// `SEC_FILE`: a data file (the commit / reserve choice is ignored, F130).
    File,
    /// `SEC_IMAGE`: an executable image.
    Image,
}

/// What to create.
#[derive(Clone, Copy, Debug)]
pub struct SectionOptions<'a> {
    /// The file, or `None` for a page-file-backed section.
    pub file: Option<FileId>,
    /// The maximum size in bytes; `None` (or 0) for a file's current size.
    pub size: Option<u64>,
    /// The section's protection (F127).
    pub protection: Protection,
    /// Commit, reserve or image (data files report `File`).
    pub kind: SectionKind,
    /// `SEC_NOCACHE` / `SEC_WRITECOMBINE`, as a protection modifier.
    pub caching: Modifier,
    /// The name in the system's namespace.
    pub name: Option<&'a str>,
    /// When the name is in use: open the section it stands for (`OBJ_OPENIF`, which
    /// `CreateFileMapping` always passes), or fail with [`SectionError::NameCollision`] (F207).
    ///
    /// [`SectionError::NameCollision`]: super::SectionError::NameCollision
    pub open_existing: bool,
}

/// A section object.
#[derive(Debug)]
pub struct Section {
    pub(crate) segment: SegmentId,
    pub(crate) size: u64,
    /// What `NtQuerySection` reports (NT's `SizeOfSection`); `size` but for an image made
    /// with a smaller MaximumSize (F206).
    pub(crate) maximum_size: u64,
    pub(crate) protection: Protection,
    pub(crate) kind: SectionKind,
    pub(crate) caching: Modifier,
    pub(crate) name: Option<String>,
    pub(crate) file: Option<FileIdentity>,
    /// Open handles; the name goes with the last one (F134).
    pub(crate) handles: u32,
    /// Views mapped.
    pub(crate) views: u32,
}

impl Section {
    /// The segment whose pages it maps.
    #[must_use]
    pub fn segment(&self) -> SegmentId {
        self.segment
    }

    /// The bytes its views can map: rounded to pages for page-file sections (F122), as asked
    /// for files (F123), the image's size (`SizeOfImage` in pages) for an image.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Its size as `NtQuerySection` reports it (NT's `SizeOfSection`): [`Section::size`], but
    /// for an image created with a MaximumSize, that size as asked, unrounded (F206). An image
    /// view still maps the whole image.
    #[must_use]
    pub fn maximum_size(&self) -> u64 {
        self.maximum_size
    }

    /// Its protection.
    #[must_use]
    pub fn protection(&self) -> Protection {
        self.protection
    }

    /// Commit, reserve, file or image.
    #[must_use]
    pub fn kind(&self) -> SectionKind {
        self.kind
    }

    /// No-cache or write-combine, or none.
    #[must_use]
    pub fn caching(&self) -> Modifier {
        self.caching
    }

    /// Its name, while a handle keeps it (F134).
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Open handles.
    #[must_use]
    pub fn handles(&self) -> u32 {
        self.handles
    }

    /// The host file it maps.
    #[must_use]
    pub fn file(&self) -> Option<FileIdentity> {
        self.file
    }

    /// Views mapped.
    #[must_use]
    pub fn views(&self) -> u32 {
        self.views
    }

    pub(crate) fn is_unreferenced(&self) -> bool {
        self.handles == 0 && self.views == 0
    }
}
