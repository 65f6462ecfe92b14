//! Walks of the page tables over a range of pages, for the operations on many pages at once
//! (commit, protect, decommit, release, lock, write watch, reset): visiting the leaves, and
//! freeing the tables left empty. They read only the tables that exist, skipping an absent
//! entry at every level whole, so their cost follows what is mapped under a range, not its
//! size (docs/design.md: a reservation of any size costs a VAD; issue 6, item 9). A walk that looks
//! for a page failing a check stops at the first ([`PageTables::try_for_each_mapped`]).

use super::page_table::{next, parent_span_pages, Leaf, PageTables};
use crate::arch::x86_64::{self as hw, entry_address, entry_frame, Level};
use crate::phys::PhysicalMemory;
use crate::units::{PageRange, Pfn, PhysAddr, Vpn, PAGES_PER_LARGE_PAGE, PAGE_SHIFT};
use std::ops::ControlFlow;

impl PageTables {
    /// Calls `f` with every leaf PTE address and page under `range` whose table exists,
    /// skipping missing tables whole. Large PDEs are reported through `large`.
    pub(crate) fn for_each_leaf(&self, phys: &PhysicalMemory, range: PageRange, mut f: impl FnMut(Vpn, PhysAddr, u64)) {
        let mut vpn = range.start;
        while vpn < range.end {
            match self.leaf(phys, vpn) {
                Leaf::Pte(at) => {
                    // Walk the rest of this PT directly.
                    let in_pt = vpn.as_u64() % 512;
                    let left = (512 - in_pt).min(range.end.as_u64() - vpn.as_u64());
                    for k in 0..left {
                        let slot = PhysAddr(at.as_u64() + k * hw::ENTRY_BYTES);
                        let raw = phys.read_u64(slot);
                        f(vpn.add(k), slot, raw);
                    }
                    vpn = vpn.add(left);
                }
                Leaf::Large { index, .. } => {
                    vpn = Vpn(vpn.as_u64() - index + PAGES_PER_LARGE_PAGE);
                }
                Leaf::Missing(level) => {
                    let span = parent_span_pages(level);
                    vpn = Vpn((vpn.as_u64() / span + 1) * span);
                }
            }
        }
    }

    /// Calls `f` with every non-zero leaf under `range`: a PTE (`Leaf::Pte`) with its page and
    /// raw value, or a large PDE (`Leaf::Large`, index 0) with its first page and raw value.
    /// Descends only into present entries and stops searching a table once all its entries
    /// have been seen, so the cost follows what is mapped, not the size of `range`.
    pub(crate) fn for_each_mapped(&self, phys: &PhysicalMemory, range: PageRange, mut f: impl FnMut(Vpn, Leaf, u64)) {
        let _ = self.try_for_each_mapped(phys, range, |vpn, leaf, raw| -> ControlFlow<()> {
            f(vpn, leaf, raw);
            ControlFlow::Continue(())
        });
    }

    /// As [`PageTables::for_each_mapped`], lowest page first, until `f` breaks; returns what
    /// it broke with. A check of every page of a range stops at the first page that fails it:
    /// a leaf that fails, or a page missing before the next leaf.
    pub(crate) fn try_for_each_mapped<T>(
        &self,
        phys: &PhysicalMemory,
        range: PageRange,
        mut f: impl FnMut(Vpn, Leaf, u64) -> ControlFlow<T>,
    ) -> ControlFlow<T> {
        if range.is_empty() {
            return ControlFlow::Continue(());
        }
        Self::mapped_under(phys, self.root, Level::Pml4, range, &mut f)
    }

    /// Calls `f` once for each page table under `range` that exists, with the first page of
    /// `range` it maps, that page's PTE (`Leaf::Pte`) and how many pages of `range` it maps;
    /// and once for each large PDE (`Leaf::Large`, index 0, its first page, 512 pages).
    /// Lowest first; missing tables are skipped whole at every level, so the cost follows the
    /// tables under `range`, not its size. The caller reads and writes the PTEs in place.
    pub(crate) fn for_each_table(&self, phys: &PhysicalMemory, range: PageRange, mut f: impl FnMut(Vpn, Leaf, u64)) {
        if !range.is_empty() {
            Self::tables_under(phys, self.root, Level::Pml4, range, &mut f);
        }
    }

    fn tables_under(
        phys: &PhysicalMemory,
        table: Pfn,
        level: Level,
        range: PageRange,
        f: &mut impl FnMut(Vpn, Leaf, u64),
    ) {
        let span = EntrySpan::of(level, range);
        if level == Level::Pt {
            f(range.start, Leaf::Pte(entry_address(table, span.first)), range.len());
            return;
        }
        for (index, e) in nonzero_entries(phys, table, span.first, span.last) {
            match level {
                Level::Pd if e & hw::PS != 0 => {
                    f(
                        span.page(index),
                        Leaf::Large { pde: entry_address(table, index), index: 0 },
                        PAGES_PER_LARGE_PAGE,
                    );
                }
                _ if e & hw::P == 0 => {}
                _ => Self::tables_under(phys, entry_frame(e), next(level), span.clamp(index, range), f),
            }
        }
    }

    fn mapped_under<T, F: FnMut(Vpn, Leaf, u64) -> ControlFlow<T>>(
        phys: &PhysicalMemory,
        table: Pfn,
        level: Level,
        range: PageRange,
        f: &mut F,
    ) -> ControlFlow<T> {
        let span = EntrySpan::of(level, range);
        for (index, e) in nonzero_entries(phys, table, span.first, span.last) {
            let at = entry_address(table, index);
            match level {
                Level::Pt => f(span.page(index), Leaf::Pte(at), e)?,
                Level::Pd if e & hw::PS != 0 => f(span.page(index), Leaf::Large { pde: at, index: 0 }, e)?,
                _ if e & hw::P == 0 => {}
                _ => Self::mapped_under(phys, entry_frame(e), next(level), span.clamp(index, range), f)?,
            }
        }
        ControlFlow::Continue(())
    }

    /// Frees every PT, PD and PDPT under `range` that maps nothing any more, and returns how
    /// many table frames were freed (their commit charge is the caller's to return).
    ///
    /// Only present entries are descended into, children before their parent, and a table's
    /// search stops once all its entries have been seen, so the cost follows the tables that
    /// exist, not the size of `range` (releasing a 1 TiB reservation that never had a table
    /// reads a handful of entries).
    pub(crate) fn prune(&mut self, phys: &mut PhysicalMemory, range: PageRange) -> u64 {
        if range.is_empty() {
            return 0;
        }
        self.prune_under(phys, self.root, Level::Pml4, range)
    }

    /// Prunes below the entries of `table` (a table at `level`) that overlap `range`, which
    /// lies inside the span of `table`.
    fn prune_under(&mut self, phys: &mut PhysicalMemory, table: Pfn, level: Level, range: PageRange) -> u64 {
        let span = EntrySpan::of(level, range);
        let total = phys.pfn(table).share_count;
        let mut seen = 0;
        let mut freed = 0;
        for index in span.first..=span.last {
            if seen == total {
                break;
            }
            let at = entry_address(table, index);
            let e = phys.read_u64(at);
            if e == 0 {
                continue;
            }
            seen += 1;
            if e & hw::P == 0 || e & hw::PS != 0 {
                continue;
            }
            let child = entry_frame(e);
            if level != Level::Pd {
                freed += self.prune_under(phys, child, next(level), span.clamp(index, range));
            }
            if phys.pfn(child).share_count == 0 {
                if level == Level::Pd {
                    self.cache.forget(span.page(index));
                }
                self.set_entry(phys, at, 0);
                // Every entry of it is clear (its count is 0): it is a zeroed frame already.
                phys.release_zeroed(child);
                self.tables -= 1;
                freed += 1;
            }
        }
        freed
    }
}

/// The entries of one table that a page range overlaps.
struct EntrySpan {
    /// The first page the table covers.
    base: u64,
    /// Pages one entry covers.
    per_entry: u64,
    /// First entry overlapped.
    first: usize,
    /// Last entry overlapped.
    last: usize,
}

impl EntrySpan {
    /// The entries of a table at `level` that `range` (non-empty, inside the table's span)
    /// overlaps.
    fn of(level: Level, range: PageRange) -> EntrySpan {
        let per_entry = level.entry_span() >> PAGE_SHIFT;
        let table_pages = per_entry * hw::ENTRIES_PER_TABLE as u64;
        let base = range.start.as_u64() / table_pages * table_pages;
        // Both quotients are below ENTRIES_PER_TABLE.
        #[allow(clippy::cast_possible_truncation)]
        let (first, last) = (
            ((range.start.as_u64() - base) / per_entry) as usize,
            ((range.end.as_u64() - 1 - base) / per_entry) as usize,
        );
        EntrySpan { base, per_entry, first, last }
    }

    /// The first page entry `index` covers.
    fn page(&self, index: usize) -> Vpn {
        Vpn(self.base + index as u64 * self.per_entry)
    }

    /// The part of `range` that entry `index` covers.
    fn clamp(&self, index: usize, range: PageRange) -> PageRange {
        let start = self.page(index);
        PageRange { start: start.max(range.start), end: start.add(self.per_entry).min(range.end) }
    }
}

/// Bytes of a page-table entry, as a slice length.
const ENTRY_BYTES: usize = std::mem::size_of::<u64>();

/// The non-zero entries of `table` at indices `first..=last`, lowest first, with their
/// values. The search ends once it has met as many as the table holds in all (its PFN share
/// count, see the module contract), and skips runs of eight zero entries (one cache line, one
/// vectorisable test) at a time, so a sparse table is cheap to search.
fn nonzero_entries(
    phys: &PhysicalMemory,
    table: Pfn,
    first: usize,
    last: usize,
) -> impl Iterator<Item = (usize, u64)> + '_ {
    let frame = phys.frame(table);
    let entry = move |i: usize| {
        let mut bytes = [0u8; ENTRY_BYTES];
        bytes.copy_from_slice(&frame[i * ENTRY_BYTES..(i + 1) * ENTRY_BYTES]);
        u64::from_le_bytes(bytes)
    };
    let mut left = usize::from(phys.pfn(table).share_count);
    let mut i = first;
    std::iter::from_fn(move || {
        while i <= last && left > 0 {
            if i.is_multiple_of(LINE)
                && i + LINE <= last + 1
                && frame[i * ENTRY_BYTES..(i + LINE) * ENTRY_BYTES].iter().fold(0, |any, b| any | b) == 0
            {
                i += LINE;
                continue;
            }
            let (index, e) = (i, entry(i));
            i += 1;
            if e != 0 {
                left -= 1;
                return Some((index, e));
            }
        }
        None
    })
}

/// Entries in a 64-byte cache line.
const LINE: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    /// A table (frame 1 of a small RAM) holding `entries` (index, value), its share count set
    /// as the page tables keep it.
    fn table(entries: &[(usize, u64)]) -> (PhysicalMemory, Pfn) {
        let mut phys = PhysicalMemory::new(4).expect("a host mapping of 4 frames");
        let table = Pfn(1);
        for &(index, value) in entries {
            phys.write_u64(PhysAddr(table.phys().as_u64() + (index * ENTRY_BYTES) as u64), value);
        }
        phys.pfn_mut(table).share_count = u16::try_from(entries.len()).expect("at most 512");
        (phys, table)
    }

    #[test]
    fn a_search_finds_the_non_zero_entries_in_its_range_and_no_others() {
        let entries = [(0, 0x11), (1, 0x22), (2, 0x33), (9, 0x44), (300, 0x55), (510, 0x66), (511, 0x77)];
        let (phys, table) = table(&entries);
        for (first, last) in
            [(0, 511), (2, 511), (3, 511), (0, 0), (1, 9), (10, 509), (300, 300), (509, 511), (200, 100)]
        {
            let want: Vec<(usize, u64)> =
                entries.iter().copied().filter(|&(i, _)| (first..=last).contains(&i)).collect();
            let got: Vec<(usize, u64)> = nonzero_entries(&phys, table, first, last).collect();
            assert_eq!(got, want, "entries {first}..={last}");
        }
    }
}
