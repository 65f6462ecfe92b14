//! Base relocations: the places in an image that hold absolute addresses, and adding the
//! difference between where the image is and where it wanted to be (F163).
//!
//! NT has relocated images in the kernel since Vista, as their pages are read (Windows
//! Internals, 7th ed., ch. 5, "ASLR"); ntmem does the same: the fault path fills a page and
//! calls [`ImageLayout::apply_relocations`] on it. An 8-byte value may straddle two pages: each
//! page gets its own bytes of the relocated value, computed from the unrelocated value the
//! layout read from the file when it parsed it. So pages can be filled and relocated one at a
//! time, in any order, and agree with relocating the whole image at once.

use super::ImageLayout;

/// How a relocation patches the image.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum RelocationKind {
    /// `IMAGE_REL_BASED_HIGHLOW`: a 32-bit address gets the low 32 bits of the delta.
    HighLow,
    /// `IMAGE_REL_BASED_DIR64`: a 64-bit address gets the delta.
    Dir64,
}

impl RelocationKind {
    /// The bytes it patches.
    #[must_use]
    pub const fn width(self) -> u32 {
        match self {
            RelocationKind::HighLow => 4,
            RelocationKind::Dir64 => 8,
        }
    }

    fn mask(self) -> u64 {
        match self {
            RelocationKind::HighLow => 0xFFFF_FFFF,
            RelocationKind::Dir64 => u64::MAX,
        }
    }
}

/// One base relocation.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct Relocation {
    /// The RVA of the value to patch (the whole value lies inside `SizeOfImage`).
    pub rva: u32,
    /// Its width and how it is patched.
    pub kind: RelocationKind,
}

/// The widest relocation, in bytes.
const MAX_WIDTH: u64 = 8;

impl ImageLayout {
    /// True when a relocated value has bytes in image page `page` (a value may straddle
    /// into it from the page before).
    #[must_use]
    pub fn page_has_relocations(&self, page: u64) -> bool {
        let start = page.saturating_mul(4096);
        let first = self.relocations.partition_point(|r| u64::from(r.rva) + MAX_WIDTH <= start);
        self.relocations.get(first).is_some_and(|r| u64::from(r.rva) < start + 4096)
    }

    /// The pages of the image that hold relocated values.
    #[must_use]
    pub fn relocated_pages(&self) -> std::collections::BTreeSet<u64> {
        let mut pages = std::collections::BTreeSet::new();
        for r in &self.relocations {
            let first = u64::from(r.rva) / 4096;
            let last = (u64::from(r.rva) + MAX_WIDTH - 1) / 4096;
            pages.extend(first..=last.min(u64::from(self.page_count()).saturating_sub(1)));
        }
        pages
    }

    /// Adds `delta` to every relocated value that has bytes in `buffer`, which holds the
    /// unrelocated image bytes from RVA `rva` on (a page, several, or the whole image). A value
    /// wholly inside `buffer` is read from it; one cut by the buffer's edge (an 8-byte value
    /// straddling two pages) gets the bytes of its relocated value that fall inside, computed
    /// from the unrelocated value kept at parse time. Call it once per filled buffer: a second
    /// call adds the delta again. Entries at one place apply in RVA order, wrapping as
    /// addresses do.
    pub fn apply_relocations(&self, rva: u32, buffer: &mut [u8], delta: i64) {
        if delta == 0 || buffer.is_empty() {
            return;
        }
        let start = u64::from(rva);
        let end = start.saturating_add(buffer.len() as u64);
        let delta = delta.cast_unsigned();
        let first = self.relocations.partition_point(|r| u64::from(r.rva) + MAX_WIDTH <= start);
        for (reloc, original) in self.relocations[first..].iter().zip(&self.originals[first..]) {
            let at = u64::from(reloc.rva);
            if at >= end {
                break;
            }
            let width = u64::from(reloc.kind.width());
            if at + width <= start {
                continue;
            }
            let inside = at >= start && at + width <= end;
            let value = if inside {
                let mut bytes = [0u8; 8];
                let from = index(at - start);
                bytes[..index(width)].copy_from_slice(&buffer[from..from + index(width)]);
                u64::from_le_bytes(bytes)
            } else {
                *original
            };
            let patched = (value.wrapping_add(delta) & reloc.kind.mask()).to_le_bytes();
            for k in 0..width {
                let byte = at + k;
                if (start..end).contains(&byte) {
                    buffer[index(byte - start)] = patched[index(k)];
                }
            }
        }
    }
}

/// A byte offset inside a buffer (below its length, so it fits a `usize`).
fn index(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}
