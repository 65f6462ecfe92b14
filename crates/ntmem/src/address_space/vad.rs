//! VADs: one per allocation, holding what is the same for all its pages (base, size,
//! allocation protection, kind). Per-page state lives in the PTEs, NT-style, so a reservation of
//! any size costs one VAD (docs/design.md, "Determinism and scale"). [`VadTree`] (`vad/tree.rs`)
//! holds them in address order.

mod rooms;
mod tree;

use super::PageState;
use crate::paging::Protection;
use crate::section::{SectionId, SegmentId};
use crate::units::{PageRange, Vpn};
use std::collections::BTreeSet;
pub use tree::{Located, VadTree};

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
    /// A view of a section (`MapViewOfFile`, `NtMapViewOfSection`): its pages are the
    /// segment's, through prototype PTEs (`view.rs`).
    Mapped(View),
}

/// What the VAD of a view holds: which section, which of its segment's pages, and the commit
/// its private copies are charged.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct View {
    /// The section object the view keeps alive (F134, F168).
    pub section: SectionId,
    /// The segment whose pages it maps.
    pub segment: SegmentId,
    /// The segment page its first page maps.
    pub first_page: u64,
    /// An image view (`MEM_IMAGE`) rather than a data view (`MEM_MAPPED`).
    pub image: bool,
    /// Commit charged to the process for this view, in pages, for the copies its writes may
    /// make: what mapping charged (a `FILE_MAP_COPY` view's whole size, F159; an image's
    /// copy-on-write and relocated pages), plus what `VirtualProtect` charged making pages
    /// copy-on-write, less what it gave back (F209). Returned at unmap.
    pub charged: u64,
    /// For an image view away from its preferred base: how far (F163). Pages holding
    /// relocated values become private, relocated copies at their first touch.
    pub relocation: i64,
}

impl View {
    /// The segment page behind `vpn` of a view whose first page is `start`.
    #[must_use]
    pub fn page_of(&self, start: Vpn, vpn: Vpn) -> u64 {
        self.first_page + (vpn.as_u64() - start.as_u64())
    }
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
    /// For `MEM_WRITE_WATCH` allocations: the pages written, as captured from the PTEs' dirty
    /// bits. Sparse, so that a watched reservation of any size costs what was written, not its
    /// length (issue 6, item 9).
    pub(crate) write_watch: Option<BTreeSet<Vpn>>,
    /// For a private VAD, the state every one of its pages has, when they all share one, so
    /// that `VirtualQuery` reads no PTE (with 100 000 allocations, the PTE is a host cache and
    /// TLB miss per query): set at reservation (all reserved, or all committed with the
    /// allocation protection), forgotten by the first PTE write that changes a page's state
    /// (`AddressSpace::set_pte`), never set again. `None`: the PTEs tell. `invariants::check`
    /// compares it with the PTEs.
    pub(crate) uniform: Option<PageState>,
}

impl Vad {
    /// A private VAD of `pages` pages from page `start`, for the unit tests of the index.
    #[cfg(test)]
    pub(crate) fn private_for_test(start: u64, pages: u64) -> Vad {
        Vad {
            range: PageRange { start: Vpn(start), end: Vpn(start + pages) },
            allocation_protection: Protection::NONE,
            kind: VadKind::Private,
            write_watch: None,
            uniform: None,
        }
    }

    /// True for `MEM_WRITE_WATCH` allocations.
    #[must_use]
    pub fn has_write_watch(&self) -> bool {
        self.write_watch.is_some()
    }

    /// Marks `vpn` written (`on`) or not, in a write-watch allocation.
    pub(crate) fn set_watch_bit(&mut self, vpn: Vpn, on: bool) {
        if let Some(written) = self.write_watch.as_mut() {
            if on {
                written.insert(vpn);
            } else {
                written.remove(&vpn);
            }
        }
    }

    /// The pages of `range` marked written, lowest first.
    pub(crate) fn watched_in(&self, range: PageRange) -> impl Iterator<Item = Vpn> + '_ {
        self.write_watch.iter().flat_map(move |written| written.range(range.start..range.end).copied())
    }

    /// Splits off the pages from `at` on into a new VAD (the write-watch marks go with them).
    pub(crate) fn split_off(&mut self, at: Vpn) -> Vad {
        let write_watch = self.write_watch.as_mut().map(|written| written.split_off(&at));
        let tail = Vad {
            range: PageRange { start: at, end: self.range.end },
            allocation_protection: self.allocation_protection,
            kind: self.kind,
            write_watch,
            // Pages of one state, split, are still of that state.
            uniform: self.uniform,
        };
        self.range.end = at;
        tail
    }
}
