//! Where the memory manager puts an allocation whose address the caller left to it: the lowest
//! free range (bottom-up) or, with `MEM_TOP_DOWN`, the highest (F46), its start on a 64 KiB
//! boundary (F9). First fit, deterministic.
//!
//! A hint keeps bottom-up placement from rescanning the many sub-granule gaps small
//! allocations leave behind: no gap below it can hold a granule-aligned allocation.

use super::AddressSpace;
use crate::units::{align_down, Vpn, MIN_USER_ADDRESS, PAGE_SHIFT, USER_END};

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
    pub(crate) fn find_free(&mut self, pages: u64, align: u64, placement: Placement, limit: u64) -> Option<Vpn> {
        let limit = limit.min(USER_END >> PAGE_SHIFT);
        match placement {
            Placement::BottomUp => self.find_bottom_up(pages, align, limit),
            Placement::TopDown => self.find_top_down(pages, align, limit),
        }
    }

    fn find_bottom_up(&mut self, pages: u64, align: u64, limit: u64) -> Option<Vpn> {
        let mut cursor = self.bottom_up_hint.max(MIN_USER_ADDRESS >> PAGE_SHIFT);
        let mut at_hint = true;
        loop {
            if let Some(v) = self.vads.find(Vpn(cursor)) {
                cursor = v.range.end.as_u64();
                if at_hint {
                    self.bottom_up_hint = cursor;
                }
                continue;
            }
            let next = self.vads.next_from(Vpn(cursor));
            let gap_end = next.map_or(USER_END >> PAGE_SHIFT, |v| v.range.start.as_u64());
            let candidate = cursor.div_ceil(align) * align;
            if candidate.checked_add(pages)? <= gap_end.min(limit) {
                return Some(Vpn(candidate));
            }
            let granule_fits = cursor.div_ceil(GRANULE_PAGES) * GRANULE_PAGES + GRANULE_PAGES <= gap_end;
            let next_end = next.map(|v| v.range.end.as_u64());
            if at_hint && !granule_fits {
                if let Some(end) = next_end {
                    self.bottom_up_hint = end;
                }
            } else {
                at_hint = false;
            }
            match next_end {
                Some(end) if gap_end < limit => cursor = end,
                _ => return None,
            }
        }
    }

    fn find_top_down(&self, pages: u64, align: u64, limit: u64) -> Option<Vpn> {
        let floor = MIN_USER_ADDRESS >> PAGE_SHIFT;
        let mut top = limit;
        loop {
            if top <= floor {
                return None;
            }
            if let Some(v) = self.vads.find(Vpn(top - 1)) {
                top = v.range.start.as_u64();
                continue;
            }
            let prev = self.vads.prev_before(Vpn(top));
            let gap_start = prev.map_or(floor, |v| v.range.end.as_u64()).max(floor);
            if top >= pages {
                let candidate = align_down(top - pages, align);
                if candidate >= gap_start {
                    return Some(Vpn(candidate));
                }
            }
            top = prev?.range.start.as_u64();
        }
    }

    /// Pages from `start` on may be free again: move the hint down.
    pub(crate) fn note_freed(&mut self, start: Vpn) {
        self.bottom_up_hint = self.bottom_up_hint.min(start.as_u64());
    }
}
