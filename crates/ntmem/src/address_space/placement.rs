//! Where the memory manager puts an allocation whose address the caller left to it: the lowest
//! free range (bottom-up) or, with `MEM_TOP_DOWN`, the highest (F46), its start on a 64 KiB
//! boundary (F9), its end at or below the zero-bits limit (F47). First fit, deterministic.
//!
//! The search asks the VAD index only for the gaps whose room for a 64 KiB-aligned start (see
//! `vad/tree.rs`) is at least the size: the index skips whole chunks of smaller gaps, so a
//! placement costs O(log n) in the number of allocations however many small gaps lie below
//! (issue 6, item 2). Each gap offered is then checked exactly, with the alignment asked for
//! (64 KiB, or 2 MiB for large pages) and the limit. There is no hint to keep: a gap that
//! opens anywhere, even mid-granule after an NT-level partial release (F62), is found the next
//! time (issue 6, item 7).

use super::AddressSpace;
use crate::units::{align_down, Vpn, PAGE_SHIFT, USER_END};
use std::ops::ControlFlow;

/// Which end of the address space to place from.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Placement {
    /// Lowest free range first.
    #[default]
    BottomUp,
    /// Highest free range first (`MEM_TOP_DOWN`).
    TopDown,
}

const GRANULE_PAGES: u64 = crate::units::ALLOCATION_GRANULARITY >> PAGE_SHIFT;

impl AddressSpace {
    /// A free run of `pages` pages starting on a multiple of `align` pages and ending at or
    /// below `limit` (a page number, exclusive).
    pub(crate) fn find_free(&self, pages: u64, align: u64, placement: Placement, limit: u64) -> Option<Vpn> {
        let limit = limit.min(USER_END >> PAGE_SHIFT);
        let align = align.max(1);
        // A gap's room counts from its first 64 KiB boundary: a start aligned to a multiple of
        // 64 KiB needs at least `pages` of it. Another alignment (none the callers use) gets
        // every gap offered.
        let need = if align.is_multiple_of(GRANULE_PAGES) { pages } else { 0 };
        let found = match placement {
            Placement::BottomUp => self.vads.gaps_up(need, |gap| {
                let start = gap.start.as_u64().div_ceil(align) * align;
                match start.checked_add(pages) {
                    // Every later gap starts higher: none can end below the limit either.
                    Some(end) if end > limit => ControlFlow::Break(None),
                    Some(end) if end <= gap.end.as_u64() => ControlFlow::Break(Some(Vpn(start))),
                    Some(_) => ControlFlow::Continue(()),
                    None => ControlFlow::Break(None),
                }
            }),
            Placement::TopDown => self.vads.gaps_down(Vpn(limit), need, |gap| {
                let top = gap.end.as_u64().min(limit);
                match top.checked_sub(pages).map(|s| align_down(s, align)) {
                    Some(start) if start >= gap.start.as_u64() => ControlFlow::Break(Some(Vpn(start))),
                    _ => ControlFlow::Continue(()),
                }
            }),
        };
        found.flatten()
    }
}
