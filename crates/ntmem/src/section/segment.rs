//! [`Segment`]: the pages of a section, described once by one prototype PTE per page, and the
//! control area's reference counts that decide how long they live (F134, F168).
//!
//! A file has one data segment however many sections map it; a page-file-backed section has
//! its own. NT keeps prototype PTEs in paged pool; ntmem keeps them in a `Vec` of the segment
//! and gives that "pool" [`MAX_SEGMENT_PAGES`] pages a segment at most.
//!
//! Lifetime: a segment lives while a section object or a view refers to it; its commit charge
//! (`SEC_COMMIT` page-file sections) goes back when it dies.

use crate::paging::{Protection, PrototypePte};
use crate::units::PAGE_SIZE;

/// The most pages one segment describes: 128 MiB of prototype PTEs (64 GiB of section).
/// Beyond it: `STATUS_INSUFFICIENT_RESOURCES`, as Windows says for an 8 TiB `SEC_RESERVE`
/// section whose prototype PTEs do not fit in paged pool (F138).
pub const MAX_SEGMENT_PAGES: u64 = 16 << 20;

/// A segment's number (the prototype-pointer PTE format names it).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub struct SegmentId(pub(crate) u32);

impl SegmentId {
    /// The raw number.
    #[must_use]
    pub fn raw(self) -> u32 {
        self.0
    }
}

/// Where a segment's pages live when not in memory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Backing {
    /// The page file (a non-persisted section): pages start demand-zero (or reserved).
    PageFile,
    /// A host file: pages start "in file".
    File(super::FileIdentity),
    /// An executable image (`SEC_IMAGE`), laid out from a host file: its pages are read from
    /// the file where the layout says, never written back to it; a modified page (of a shared
    /// writable section) goes to the page file.
    Image(super::FileIdentity),
}

/// The control area's reference counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SegmentRefs {
    /// Section objects referring to the segment (`NumberOfSectionReferences`).
    pub sections: u32,
    /// Views mapped (`NumberOfMappedViews`).
    pub views: u32,
}

impl SegmentRefs {
    /// True when nothing refers to the segment any more.
    #[must_use]
    pub fn is_unreferenced(self) -> bool {
        self.sections == 0 && self.views == 0
    }
}

/// One segment.
#[derive(Debug)]
pub struct Segment {
    pub(crate) backing: Backing,
    /// One encoded [`PrototypePte`] per page.
    prototypes: Vec<u64>,
    /// Commit charged for the segment's pages (all of them for `SEC_COMMIT`), in pages.
    pub(crate) commit: u64,
    pub(crate) refs: SegmentRefs,
    /// The host file, for reading and writing back pages (file-backed segments). It stays
    /// open while the segment lives, even after every handle to the file is closed (F168).
    pub(crate) host: Option<std::fs::File>,
    /// The layout of an image segment: which file bytes fill each page.
    pub(crate) image: Option<Box<super::ImageLayout>>,
    /// Nothing refers to it any more, but some of its modified pages could not be written to
    /// its file yet: it stays until the mapped page writer has written them (nothing written
    /// through a view is lost), or until a new section of the file takes it up again.
    pub(crate) dying: bool,
    /// The modified page writer must not write its pages yet (NT's control-area flag
    /// `NoModifiedWriting`, set by `MmDisableModifiedWriteOfSection`): its modified pages that
    /// leave every working set go to the modified no-write list. File-backed data segments
    /// only; cleared when the segment starts dying, so nothing stays unwritten.
    pub(crate) write_deferred: bool,
}

impl Segment {
    /// A segment of `pages` pages, each starting as `initial`.
    pub(crate) fn new(backing: Backing, pages: u64, initial: PrototypePte, host: Option<std::fs::File>) -> Segment {
        // Callers bound `pages` by MAX_SEGMENT_PAGES, which fits a usize.
        let n = usize::try_from(pages).unwrap_or(usize::MAX);
        // Reserved pages encode as zero: a large SEC_RESERVE segment costs the host nothing
        // until its pages are committed.
        Segment {
            backing,
            prototypes: vec![initial.encode(); n],
            commit: 0,
            refs: SegmentRefs::default(),
            host,
            image: None,
            dying: false,
            write_deferred: false,
        }
    }

    /// Its backing.
    #[must_use]
    pub fn backing(&self) -> Backing {
        self.backing
    }

    /// Pages it describes.
    #[must_use]
    pub fn pages(&self) -> u64 {
        self.prototypes.len() as u64
    }

    /// Bytes it describes.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.pages() * PAGE_SIZE
    }

    /// The prototype PTE of page `page`.
    #[must_use]
    pub fn prototype(&self, page: u64) -> Option<PrototypePte> {
        let i = usize::try_from(page).ok()?;
        self.prototypes.get(i).map(|raw| PrototypePte::decode(*raw))
    }

    pub(crate) fn set_prototype(&mut self, page: u64, pte: PrototypePte) {
        if let Some(raw) = usize::try_from(page).ok().and_then(|i| self.prototypes.get_mut(i)) {
            *raw = pte.encode();
        }
    }

    /// True for a segment backed by a host file (its pages are written back to it).
    #[must_use]
    pub fn is_file(&self) -> bool {
        matches!(self.backing, Backing::File(_))
    }

    /// True when its clean pages can be read again from a host file (a data file or an
    /// image): a clean frame of it needs no page-file copy.
    #[must_use]
    pub fn reads_file(&self) -> bool {
        matches!(self.backing, Backing::File(_) | Backing::Image(_))
    }

    /// The image layout of an image segment.
    #[must_use]
    pub fn image(&self) -> Option<&super::ImageLayout> {
        self.image.as_deref()
    }

    /// Reads file page `page` into `buf` (whole pages); what lies past the end of the file
    /// reads as zero, as NT's in-page of a file's last page does.
    pub(crate) fn read_pages(&self, page: u64, buf: &mut [u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let Some(host) = &self.host else { return Err(std::io::ErrorKind::NotFound.into()) };
        if let Some(layout) = &self.image {
            // Each page from where the layout says, the rest zero (F162).
            for (i, out) in buf.chunks_mut(crate::units::PAGE_BYTES).enumerate() {
                out.fill(0);
                let index = u32::try_from(page + i as u64).unwrap_or(u32::MAX);
                if let Some(super::PageContent::File { offset, len }) = layout.page(index).and_then(|p| p.content()) {
                    let n = (len as usize).min(out.len());
                    host.read_exact_at(&mut out[..n], offset)?;
                }
            }
            return Ok(());
        }
        // Read until the buffer is full or the file ends (a read of 0 bytes): no separate
        // look at the file's length, which would cost a host call of its own every cluster.
        let at = page * PAGE_SIZE;
        let mut have = 0;
        while have < buf.len() {
            match host.read_at(&mut buf[have..], at + have as u64) {
                Ok(0) => break,
                Ok(n) => have += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf[have..].fill(0);
        Ok(())
    }

    /// Writes whole pages from `page` on back to the file, but nothing past its end: a
    /// file made shorter while its section lived does not grow back (NT's mapped page writer
    /// clips to the valid data length).
    pub(crate) fn write_pages(&self, page: u64, data: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let Some(host) = &self.host else { return Err(std::io::ErrorKind::NotFound.into()) };
        let len = host.metadata()?.len();
        let at = page * PAGE_SIZE;
        let n = usize::try_from(len.saturating_sub(at)).unwrap_or(usize::MAX).min(data.len());
        host.write_all_at(&data[..n], at)
    }

    /// Commit charged for it, in pages.
    #[must_use]
    pub fn commit(&self) -> u64 {
        self.commit
    }

    /// True when it holds its host file open (file-backed segments).
    #[must_use]
    pub fn holds_file(&self) -> bool {
        self.host.is_some()
    }

    /// True while the modified page writer must leave its pages (modified no-write).
    #[must_use]
    pub fn is_write_deferred(&self) -> bool {
        self.write_deferred
    }

    /// True while it outlives its last reference to write its modified pages.
    #[must_use]
    pub fn is_dying(&self) -> bool {
        self.dying
    }

    /// Its reference counts.
    #[must_use]
    pub fn refs(&self) -> SegmentRefs {
        self.refs
    }

    /// Grows a file segment to `pages`, the new pages in the file (a bigger section of the
    /// same file: `MiExtendSection`).
    pub(crate) fn grow(&mut self, pages: u64, protection: Protection) {
        let n = usize::try_from(pages).unwrap_or(usize::MAX);
        if n > self.prototypes.len() {
            self.prototypes.resize(n, PrototypePte::InFile(protection).encode());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_pages_encode_as_zero_and_grow_keeps_pages() {
        let seg = Segment::new(Backing::PageFile, 4, PrototypePte::Reserved, None);
        assert_eq!(seg.prototypes, vec![0; 4]);
        assert_eq!(seg.bytes(), 4 * PAGE_SIZE);
        assert_eq!(seg.prototype(4), None);
        let mut file = Segment::new(Backing::PageFile, 1, PrototypePte::DemandZero(Protection::READ_WRITE), None);
        file.grow(3, Protection::READ_ONLY);
        assert_eq!(file.prototype(0), Some(PrototypePte::DemandZero(Protection::READ_WRITE)));
        assert_eq!(file.prototype(2), Some(PrototypePte::InFile(Protection::READ_ONLY)));
        file.grow(2, Protection::READ_ONLY);
        assert_eq!(file.pages(), 3, "a smaller section never shrinks the segment");
    }
}
