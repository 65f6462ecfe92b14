//! The byte model: what every committed page of every process must read as.
//!
//! A page's [`Content`] is the set of page images it may hold. A page committed reads zero
//! (F13); a write applies to every image; `MEM_RESET` adds the zero image and makes the page
//! *unstable* (each read may see its old bytes or zeros, page by page, and differently from one
//! read to the next: F41, V17) until a write makes it dirty again, after which it holds one of
//! its images for good and a read that tells them apart keeps only the ones it matched.
//! `MEM_RESET_UNDO` makes the page stable without choosing (F45: success means intact, but
//! ntmem cannot tell a dropped page from one never written and always succeeds).
//!
//! The model knows nothing of protections beyond what `VirtualQuery` last reported for the page
//! (the soak learns them; the property tests own the rules): it exists to catch lost bytes.

use std::collections::BTreeMap;

/// Bytes in a page.
pub(crate) const PAGE: u64 = 4096;
/// Bytes in a page, as a length.
pub(crate) const PAGE_BYTES: usize = 4096;
/// More images than this and the page is given up as "any bytes" until wholly written.
const MAX_IMAGES: usize = 4;

/// One page image; `None` is all zeros (most pages, and no allocation for them).
type Image = Option<Box<[u8; PAGE_BYTES]>>;

fn byte(img: &Image, at: usize) -> u8 {
    img.as_ref().map_or(0, |b| b[at])
}

fn matches(img: &Image, off: usize, got: &[u8]) -> bool {
    match img {
        None => got.iter().all(|b| *b == 0),
        Some(b) => b[off..off + got.len()] == *got,
    }
}

/// What a committed page may hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Content {
    /// One of these images (deduplicated, never empty); `stable` false after a reset not
    /// followed by a write: then each read may see any image.
    Images { images: Vec<Image>, stable: bool },
    /// Too many possibilities to follow: anything, until a write covers the whole page.
    Any,
}

impl Content {
    /// A page just committed: zeros.
    #[must_use]
    pub(crate) fn zero() -> Content {
        Content::Images { images: vec![None], stable: true }
    }

    /// A page holding `bytes` (a page long) for sure.
    pub(crate) fn of(bytes: &[u8]) -> Content {
        let mut c = Content::zero();
        if bytes.iter().any(|&b| b != 0) {
            c.write(0, bytes);
        }
        c
    }

    /// Checks bytes read at `off` of this page; on a stable page, keeps only the images they
    /// match. `Err` holds the offset of a byte no image explains, and the byte each image has.
    pub(crate) fn check_read(&mut self, off: usize, got: &[u8]) -> Result<(), (usize, Vec<u8>)> {
        let Content::Images { images, stable } = self else { return Ok(()) };
        let fits: Vec<bool> = images.iter().map(|i| matches(i, off, got)).collect();
        if !fits.contains(&true) {
            let first_bad = (0..got.len()).find(|k| images.iter().all(|i| byte(i, off + k) != got[*k])).unwrap_or(0);
            return Err((off + first_bad, images.iter().map(|i| byte(i, off + first_bad)).collect()));
        }
        if *stable {
            let mut k = 0;
            images.retain(|_| {
                k += 1;
                fits[k - 1]
            });
        }
        Ok(())
    }

    /// `data` was written at `off`.
    pub(crate) fn write(&mut self, off: usize, data: &[u8]) {
        if let Content::Any = self {
            if data.len() != PAGE_BYTES {
                return;
            }
            *self = Content::zero();
        }
        let Content::Images { images, stable } = self else { return };
        for img in images.iter_mut() {
            let b = img.get_or_insert_with(|| Box::new([0; PAGE_BYTES]));
            b[off..off + data.len()].copy_from_slice(data);
        }
        dedup(images);
        *stable = true;
    }

    /// `data` may have been written at `off`, or not: a write that failed part-way (an
    /// in-page error on a later page) leaves the pages before that page written.
    pub(crate) fn maybe_write(&mut self, off: usize, data: &[u8]) {
        let mut written = self.clone();
        written.write(off, data);
        match (&mut *self, written) {
            (Content::Images { images, .. }, Content::Images { images: more, .. }) => {
                images.extend(more);
                dedup(images);
                if images.len() > MAX_IMAGES {
                    *self = Content::Any;
                }
            }
            _ => *self = Content::Any,
        }
    }

    /// `MEM_RESET`: the page may now read zero, or still its bytes, until written.
    pub(crate) fn reset(&mut self) {
        if let Content::Images { images, stable } = self {
            images.push(None);
            dedup(images);
            *stable = false;
            if images.len() > MAX_IMAGES {
                *self = Content::Any;
            }
        }
    }

    /// `MEM_RESET_UNDO`: whatever the page holds now, it keeps.
    pub(crate) fn reset_undo(&mut self) {
        if let Content::Images { stable, .. } = self {
            *stable = true;
        }
    }
}

fn dedup(images: &mut Vec<Image>) {
    let mut kept: Vec<Image> = Vec::with_capacity(images.len());
    for img in images.drain(..) {
        if !kept.contains(&img) {
            kept.push(img);
        }
    }
    *images = kept;
}

/// A committed page: its protection as last queried (with `PAGE_GUARD`), and its bytes.
#[derive(Clone, Debug)]
pub(crate) struct Page {
    /// `Protect` of `VirtualQuery`.
    pub(crate) protect: u32,
    /// What it may hold (a private page's; unused while `shared`).
    pub(crate) content: Content,
    /// A view page not copied on write: its bytes are the section page's (`sections.rs`).
    pub(crate) shared: Option<SharedPage>,
}

impl Page {
    /// A private page just committed: zeros.
    pub(crate) fn private(protect: u32) -> Page {
        Page { protect, content: Content::zero(), shared: None }
    }
}

/// Where the bytes of a shared view page live: a page of a file, or of a page-file segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SharedPage {
    pub(crate) backing: Backing,
    /// The page's number in the file or segment.
    pub(crate) page: u64,
}

/// The bytes behind a section: a host file's (one data segment per file), a page-file
/// segment's (one per page-file section; indices into `Soak::files` / `Soak::segments`), or
/// the soak image's (one image segment for every section of it: `images.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backing {
    File(usize),
    Segment(usize),
    Image,
}

/// The model of one process: its committed pages by page number.
#[derive(Default, Debug)]
pub(crate) struct SpaceModel {
    /// Committed pages, by page number.
    pub(crate) pages: BTreeMap<u64, Page>,
}

impl SpaceModel {
    /// The committed pages of `[lo, hi)` (page numbers), in order.
    pub(crate) fn committed_in(&self, lo: u64, hi: u64) -> impl Iterator<Item = (&u64, &Page)> {
        self.pages.range(lo..hi.max(lo))
    }

    /// Applies a write of `data` at `addr` to every page it covers (all committed; private:
    /// the soak's own writes go through `Soak::model_write`, which knows views).
    #[cfg(test)]
    pub(crate) fn write(&mut self, addr: u64, data: &[u8]) {
        for_pages(addr, data.len(), |vpn, off, range| {
            if let Some(p) = self.pages.get_mut(&vpn) {
                p.content.write(off, &data[range]);
            }
        });
    }

    /// Checks `got`, read at `addr`: `Err` names the first byte no image explains (private
    /// pages; see `Soak::model_check_read`).
    #[cfg(test)]
    pub(crate) fn check_read(&mut self, addr: u64, got: &[u8]) -> Result<(), String> {
        let mut err = None;
        for_pages(addr, got.len(), |vpn, off, range| {
            if err.is_some() {
                return;
            }
            match self.pages.get_mut(&vpn) {
                None => err = Some(format!("page {:#x} read but not in the model", vpn * PAGE)),
                Some(p) => {
                    if let Err((at, want)) = p.content.check_read(off, &got[range.clone()]) {
                        err = Some(format!(
                            "lost byte at {:#x}: read {:#04x}, the model allows {:02x?}",
                            vpn * PAGE + at as u64,
                            got[range.start + at - off],
                            want
                        ));
                    }
                }
            }
        });
        err.map_or(Ok(()), Err)
    }
}

/// Calls `f(page number, offset in page, range in the buffer)` for each page of an access.
pub(crate) fn for_pages(addr: u64, len: usize, mut f: impl FnMut(u64, usize, std::ops::Range<usize>)) {
    let mut done = 0usize;
    while done < len {
        let at = addr + done as u64;
        // Below 4096.
        #[allow(clippy::cast_possible_truncation)]
        let off = (at % PAGE) as usize;
        let n = (PAGE_BYTES - off).min(len - done);
        f(at / PAGE, off, done..done + n);
        done += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_page_reads_old_or_zero_until_written() {
        let mut c = Content::zero();
        c.write(0, &[7; 8]);
        c.reset();
        assert!(c.check_read(0, &[7; 8]).is_ok());
        assert!(c.check_read(0, &[0; 8]).is_ok());
        assert!(c.check_read(0, &[7; 8]).is_ok(), "unstable: old bytes again after zeros");
        assert!(c.check_read(0, &[1; 8]).is_err());
        c.write(8, &[9]);
        assert!(c.check_read(0, &[0; 8]).is_ok());
        assert!(c.check_read(0, &[7; 8]).is_err(), "stable once written: it was the zero image");
    }

    #[test]
    fn a_lost_byte_is_reported_with_what_was_expected() {
        let mut m = SpaceModel::default();
        m.pages.insert(1, Page::private(4));
        m.pages.insert(2, Page::private(4));
        m.write(0x1FFE, &[1, 2, 3, 4]);
        assert!(m.check_read(0x1FFE, &[1, 2, 3, 4]).is_ok());
        let e = m.check_read(0x1FFE, &[1, 2, 3, 5]).unwrap_err();
        assert!(e.contains("0x2001"), "{e}");
    }
}
