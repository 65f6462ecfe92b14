//! VADs: one per allocation, holding what is the same for all its pages (base, size,
//! allocation protection, kind). Per-page state lives in the PTEs, NT-style, so a reservation of
//! any size costs one VAD (DESIGN.md, "Determinism and scale"). [`VadTree`] (`vad/tree.rs`)
//! holds them in address order.

mod rooms;
mod tree;

use crate::paging::Protection;
use crate::units::{PageRange, Vpn};
pub use tree::VadTree;

/// What kind of memory a VAD describes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VadKind {
    /// `VirtualAlloc` memory: pages reserved, committed, touched one by one.
    Private,
    /// `MEM_LARGE_PAGES`: committed whole at allocation, 2 MiB pages, never paged.
    LargePages,
    /// `MEM_PHYSICAL` (AWE): a reservation for physical pages mapped by other calls.
    Physical,
    /// The shared user data page (F6), the same frame in every process.
    SharedUserData,
}

/// One allocation.
#[derive(Clone, Debug)]
pub struct Vad {
    /// Its pages.
    pub range: PageRange,
    /// The protection given at allocation (F86: never changes).
    pub allocation_protection: Protection,
    /// What it is.
    pub kind: VadKind,
    /// For `MEM_WRITE_WATCH` allocations: pages written, as captured from the PTEs' dirty bits.
    pub(crate) write_watch: Option<Vec<u64>>,
}

impl Vad {
    /// True for `MEM_WRITE_WATCH` allocations.
    #[must_use]
    pub fn has_write_watch(&self) -> bool {
        self.write_watch.is_some()
    }

    pub(crate) fn watch_bit(&self, vpn: Vpn) -> bool {
        self.write_watch.as_ref().is_some_and(|bits| {
            let i = vpn.as_u64() - self.range.start.as_u64();
            bits[usize::try_from(i / 64).unwrap_or(0)] & (1 << (i % 64)) != 0
        })
    }

    pub(crate) fn set_watch_bit(&mut self, vpn: Vpn, on: bool) {
        let start = self.range.start.as_u64();
        if let Some(bits) = self.write_watch.as_mut() {
            let i = vpn.as_u64() - start;
            let word = &mut bits[usize::try_from(i / 64).unwrap_or(0)];
            if on {
                *word |= 1 << (i % 64);
            } else {
                *word &= !(1 << (i % 64));
            }
        }
    }

    /// Splits off the pages from `at` on into a new VAD (the write-watch bits go with them).
    pub(crate) fn split_off(&mut self, at: Vpn) -> Vad {
        let tail_range = PageRange { start: at, end: self.range.end };
        let write_watch = self.write_watch.as_ref().map(|_| vec![0u64; words(tail_range.len())]);
        let mut tail = Vad { range: tail_range, write_watch, ..self.clone() };
        for vpn in tail_range.iter() {
            let bit = self.watch_bit(vpn);
            tail.set_watch_bit(vpn, bit);
        }
        self.range.end = at;
        if let Some(bits) = self.write_watch.as_mut() {
            bits.truncate(words(self.range.len()));
        }
        tail
    }
}

/// Words of a write-watch bitmap for `pages` pages.
pub(crate) fn words(pages: u64) -> usize {
    usize::try_from(pages.div_ceil(64)).unwrap_or(usize::MAX)
}
