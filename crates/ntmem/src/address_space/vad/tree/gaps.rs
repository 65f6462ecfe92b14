//! The free gaps between the VADs of [`VadTree`], and their *room*: for placement (issue 6,
//! item 2). A gap is the free run of the user range below a VAD (down to the VAD before it, or
//! to the lowest user page), or above the last VAD; its room is the most pages an allocation
//! starting on a 64 KiB boundary can have there ([`room`]). The tree keeps each chunk's largest
//! room in [`Rooms`](super::super::rooms::Rooms), so the searches here skip whole chunks of
//! gaps too small.

use super::VadTree;
use crate::units::{PageRange, Vpn, ALLOCATION_GRANULARITY, MIN_USER_ADDRESS, PAGE_SHIFT, USER_END};
use std::ops::ControlFlow;

/// The lowest page an allocation may take (F1): no gap starts below it.
const FLOOR: u64 = MIN_USER_ADDRESS >> PAGE_SHIFT;

/// One past the highest user page (F1): no gap ends above it.
const CEILING: u64 = USER_END >> PAGE_SHIFT;

/// Pages of the allocation granularity, the alignment of every system-chosen base (F9).
const GRANULE: u64 = ALLOCATION_GRANULARITY >> PAGE_SHIFT;

/// The most pages an allocation starting on a 64 KiB boundary can have in the free gap `gap`:
/// it fits a `n`-page allocation so aligned exactly when `n <= room(gap)`, and one aligned to
/// a multiple of 64 KiB only if so.
#[must_use]
fn room(gap: PageRange) -> u64 {
    gap.end.as_u64().saturating_sub(gap.start.as_u64().div_ceil(GRANULE) * GRANULE)
}

/// `visit(gap)` when `gap` has room for `need` pages, as an `Option` of what it broke with.
fn offer<T>(need: u64, gap: PageRange, visit: &mut impl FnMut(PageRange) -> ControlFlow<T>) -> Option<T> {
    if room(gap) < need {
        return None;
    }
    match visit(gap) {
        ControlFlow::Break(t) => Some(t),
        ControlFlow::Continue(()) => None,
    }
}

impl VadTree {
    /// The largest room of the gaps that end at chunk `c`'s VADs.
    pub(super) fn chunk_room(&self, c: usize) -> u64 {
        (0..self.chunks[c].len()).map(|i| room(self.gap_before(c, i))).max().unwrap_or(0)
    }

    /// The free gap of the user range that ends where VAD `i` of chunk `c` starts.
    fn gap_before(&self, c: usize, i: usize) -> PageRange {
        let end = self.chunks[c].starts.0[i];
        let previous = match i.checked_sub(1) {
            Some(p) => Some(self.chunks[c].tails.0[p].end()),
            None => c.checked_sub(1).and_then(|p| self.chunks[p].last_end()),
        };
        let start = previous.unwrap_or(FLOOR).max(FLOOR).min(end);
        PageRange { start: Vpn(start), end: Vpn(end) }
    }

    /// The free gap of the user range above every VAD.
    fn gap_above_all(&self) -> PageRange {
        let last = self.chunks.last().and_then(|c| c.last_end());
        let start = last.unwrap_or(FLOOR).clamp(FLOOR, CEILING);
        PageRange { start: Vpn(start), end: Vpn(CEILING) }
    }

    /// The free gap above the VAD at chunk `c`, position `i`.
    fn gap_after(&self, c: usize, i: usize) -> PageRange {
        if i + 1 < self.chunks[c].len() {
            self.gap_before(c, i + 1)
        } else if c + 1 < self.chunks.len() {
            self.gap_before(c + 1, 0)
        } else {
            self.gap_above_all()
        }
    }

    /// Offers `visit` the free gaps of the user range whose [`room`] is at least `need`,
    /// lowest first, until it breaks; returns what it broke with. Chunks without such a gap
    /// are skipped whole, so a search costs O(log n) plus the chunks it is offered.
    pub(crate) fn gaps_up<T>(&self, need: u64, mut visit: impl FnMut(PageRange) -> ControlFlow<T>) -> Option<T> {
        let mut offer = |gap: PageRange| offer(need, gap, &mut visit);
        let mut from = 0;
        while let Some(c) = self.rooms.first_from(from, need) {
            if let Some(t) = (0..self.chunks[c].len()).find_map(|i| offer(self.gap_before(c, i))) {
                return Some(t);
            }
            from = c + 1;
        }
        offer(self.gap_above_all())
    }

    /// Offers `visit` the free gaps of the user range that start below `below` and whose
    /// [`room`] is at least `need`, highest first, until it breaks; returns what it broke
    /// with. The first gap offered may end above `below`. Chunks without such a gap are
    /// skipped whole, as in [`VadTree::gaps_up`].
    pub(crate) fn gaps_down<T>(
        &self,
        below: Vpn,
        need: u64,
        mut visit: impl FnMut(PageRange) -> ControlFlow<T>,
    ) -> Option<T> {
        let mut offer = |gap: PageRange| offer(need, gap, &mut visit);
        let Some((c, i)) = self.last_below(below.as_u64()) else {
            // No VAD starts below `below`: the one gap is the one under the lowest VAD.
            let gap = if self.chunks.is_empty() { self.gap_above_all() } else { self.gap_before(0, 0) };
            return (gap.start < below).then(|| offer(gap)).flatten();
        };
        let above = self.gap_after(c, i);
        if let Some(t) = (above.start < below).then(|| offer(above)).flatten() {
            return Some(t);
        }
        if let Some(t) = (0..=i).rev().find_map(|j| offer(self.gap_before(c, j))) {
            return Some(t);
        }
        let mut upto = c;
        while let Some(k) = upto.checked_sub(1).and_then(|u| self.rooms.last_upto(u, need)) {
            if let Some(t) = (0..self.chunks[k].len()).rev().find_map(|j| offer(self.gap_before(k, j))) {
                return Some(t);
            }
            upto = k;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address_space::Vad;

    fn vad(start: u64, pages: u64) -> Vad {
        Vad::private_for_test(start, pages)
    }

    /// The free gaps of the user range around the VADs of `model` (first page to end), lowest
    /// first.
    fn gaps_of(model: &std::collections::BTreeMap<u64, u64>) -> Vec<PageRange> {
        let mut gaps = Vec::new();
        let mut at = FLOOR;
        for (&start, &end) in model {
            gaps.push(PageRange { start: Vpn(at.min(start)), end: Vpn(start) });
            at = end.max(FLOOR);
        }
        gaps.push(PageRange { start: Vpn(at), end: Vpn(CEILING) });
        gaps
    }

    /// The gap searches offer exactly the gaps with enough room, in order, against a scan of
    /// every gap.
    #[test]
    fn gap_searches_agree_with_a_scan() {
        let mut tree = VadTree::default();
        let mut model = std::collections::BTreeMap::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for step in 0..3000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let start = 16 + (x % 700) * 7;
            let pages = 1 + (x >> 32) % 20;
            if step % 3 == 2 {
                tree.remove(Vpn(start));
                model.remove(&start);
            } else if !tree.overlaps(vad(start, pages).range) {
                tree.insert(vad(start, pages));
                model.insert(start, start + pages);
            }
            tree.check().expect("index invariants");
            let need = (x >> 20) % 40;
            let gaps = gaps_of(&model);
            let mut up = Vec::new();
            assert_eq!(
                tree.gaps_up(need, |g| -> ControlFlow<()> {
                    up.push(g);
                    ControlFlow::Continue(())
                }),
                None
            );
            let expected: Vec<_> = gaps.iter().copied().filter(|&g| room(g) >= need).collect();
            assert_eq!(up, expected, "gaps up with room {need}");
            let below = 16 + (x >> 40) % 6000;
            let mut down = Vec::new();
            tree.gaps_down(Vpn(below), need, |g| -> ControlFlow<()> {
                down.push(g);
                ControlFlow::Continue(())
            });
            let expected: Vec<_> =
                gaps.iter().rev().copied().filter(|g| g.start.as_u64() < below && room(*g) >= need).collect();
            assert_eq!(down, expected, "gaps down from {below} with room {need}");
            // Breaking stops the search with the value given.
            assert_eq!(tree.gaps_up(need, |g| ControlFlow::Break(g.start)), expected_first(&gaps, need));
        }
    }

    fn expected_first(gaps: &[PageRange], need: u64) -> Option<Vpn> {
        gaps.iter().find(|&&g| room(g) >= need).map(|g| g.start)
    }
}
