//! Reserving address space (`MEM_RESERVE`), optionally committing it in the same step.
//!
//! Rounding (F14): an explicit start rounds down to 64 KiB, the end rounds up to a page;
//! conflicts are decided on the rounded range (F15, F16) by overlap, not granule ownership
//! (F17). A system-chosen base is 64 KiB aligned and the size rounds to pages (F9, F10).

use super::{AddressSpace, PageState, Placement, Vad, VadKind, VmError};
use crate::machine::Machine;
use crate::paging::{Leaf, Protection, Pte, ValidPte};
use crate::phys::PhysicalMemory;
use crate::units::{
    align_down, align_up, PageRange, PhysAddr, Vpn, ALLOCATION_GRANULARITY, LARGE_PAGE_SIZE, PAGES_PER_LARGE_PAGE,
    PAGE_SHIFT, PAGE_SIZE, USER_END,
};

/// What a reservation is for.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ReserveKind {
    /// Ordinary private memory.
    #[default]
    Normal,
    /// 2 MiB large pages, committed at once (`MEM_LARGE_PAGES`, F48).
    LargePages,
    /// An AWE reservation (`MEM_PHYSICAL`, F50).
    Physical,
    /// A view of a section: nothing is committed or written, its pages are the segment's.
    View(super::View),
}

/// How to reserve.
#[derive(Clone, Copy, Debug)]
pub struct ReserveOptions {
    /// The allocation protection (and the commit protection when committing).
    pub protection: Protection,
    /// Which end to place from when no address is given.
    pub placement: Placement,
    /// The allocation must end at or below this address (zero bits, F47).
    pub limit: u64,
    /// Commit every page too (`MEM_RESERVE | MEM_COMMIT`).
    pub commit: bool,
    /// Keep a write-watch bitmap (`MEM_WRITE_WATCH`).
    pub write_watch: bool,
    /// Normal, large pages or AWE.
    pub kind: ReserveKind,
}

impl ReserveOptions {
    /// A plain reservation with `protection`.
    #[must_use]
    pub fn new(protection: Protection) -> ReserveOptions {
        ReserveOptions {
            protection,
            placement: Placement::BottomUp,
            limit: USER_END,
            commit: false,
            write_watch: false,
            kind: ReserveKind::Normal,
        }
    }
}

impl AddressSpace {
    /// Reserves `size` bytes at `at` (rounded, F14) or where the system chooses, and commits
    /// them too when asked. Returns the range reserved.
    pub fn reserve(
        &mut self,
        m: &mut Machine,
        at: Option<u64>,
        size: u64,
        opts: &ReserveOptions,
    ) -> Result<PageRange, VmError> {
        let large = opts.kind == ReserveKind::LargePages;
        let range = match at {
            Some(addr) => {
                let start = align_down(addr, ALLOCATION_GRANULARITY);
                let end =
                    addr.checked_add(size).and_then(|e| align_up(e, PAGE_SIZE)).ok_or(VmError::InvalidParameter)?;
                if end > USER_END || end > opts.limit {
                    return Err(VmError::InvalidParameter);
                }
                let range = PageRange::from_bytes(start, end);
                if self.vads.overlaps(range) {
                    return Err(VmError::ConflictingAddresses);
                }
                range
            }
            None => {
                let bytes = align_up(size, PAGE_SIZE).ok_or(VmError::InvalidParameter)?;
                let align = if large { LARGE_PAGE_SIZE } else { ALLOCATION_GRANULARITY } >> PAGE_SHIFT;
                let pages = bytes >> PAGE_SHIFT;
                let start = self
                    .find_free(pages, align, opts.placement, opts.limit >> PAGE_SHIFT)
                    .ok_or(VmError::NoFreeSpace)?;
                PageRange { start, end: start.add(pages) }
            }
        };
        if large && (range.start_addr() % LARGE_PAGE_SIZE != 0 || range.bytes() % LARGE_PAGE_SIZE != 0) {
            return Err(VmError::InvalidParameter);
        }
        let kind = match opts.kind {
            ReserveKind::Normal => VadKind::Private,
            ReserveKind::LargePages => VadKind::LargePages,
            ReserveKind::Physical => VadKind::Physical,
            ReserveKind::View(view) => VadKind::Mapped(view),
        };
        if large {
            self.commit_large(m, range, opts.protection)?;
        } else if opts.commit {
            let tables = self.tables.missing_tables(&m.phys, range);
            m.charge(range.len() + tables).map_err(|_| VmError::CommitLimit)?;
            if !m.make_free(tables) {
                m.commit.uncharge(range.len() + tables);
                return Err(VmError::OutOfFrames(tables));
            }
            // One walk per page table, whose run of entries (zero: the range was free) is
            // written in one go.
            let mut vpn = range.start;
            while vpn < range.end {
                let at = self.tables.ensure(&mut m.phys, vpn, false).ok_or(VmError::OutOfFrames(tables))?;
                let end = vpn.next_table_start().min(range.end);
                self.tables.fill_empty(&mut m.phys, at, end.as_u64() - vpn.as_u64(), Pte::DemandZero(opts.protection));
                vpn = end;
            }
            self.add_committed(range.len());
        }
        let write_watch = opts.write_watch.then(std::collections::BTreeSet::new);
        // Every page was just committed with the allocation protection, or none: no VAD held
        // them, and releasing one leaves its pages' PTEs zero.
        let uniform = (kind == VadKind::Private).then_some(if opts.commit {
            PageState::Committed(opts.protection)
        } else {
            PageState::Reserved
        });
        self.vads.insert(Vad { range, allocation_protection: opts.protection, kind, write_watch, uniform });
        Ok(range)
    }

    /// Commits a large-page range whole: contiguous, zeroed, resident frames (F48).
    fn commit_large(&mut self, m: &mut Machine, range: PageRange, protection: Protection) -> Result<(), VmError> {
        let chunks = range.len() / PAGES_PER_LARGE_PAGE;
        // The range is free, so no page table exists under it; only PDPTs and PDs may be new.
        let tables = self.tables.missing_tables(&m.phys, range) - chunks;
        m.charge(range.len() + tables).map_err(|_| VmError::CommitLimit)?;
        if !m.make_free(tables) {
            m.commit.uncharge(range.len() + tables);
            return Err(VmError::OutOfFrames(tables));
        }
        let phys = &mut m.phys;
        let mut done = 0;
        for c in 0..chunks {
            let vpn = range.start.add(c * PAGES_PER_LARGE_PAGE);
            let Some(pde) = self.tables.ensure(phys, vpn, true) else { break };
            let Some(first) = phys.allocate_large(pde) else { break };
            for i in 0..PAGES_PER_LARGE_PAGE {
                let pfn = crate::units::Pfn(first.0 + u32::try_from(i).unwrap_or(0));
                phys.pfn_mut(pfn).protection = protection;
            }
            let entry = ValidPte::new(first, protection);
            self.tables.write_large(phys, pde, vpn, Some(entry)).apply(&mut self.tlb);
            self.counters.working_set += PAGES_PER_LARGE_PAGE;
            done += 1;
        }
        if done < chunks {
            let built = PageRange { start: range.start, end: range.start.add(done * PAGES_PER_LARGE_PAGE) };
            if !built.is_empty() {
                self.drop_large(phys, built);
            }
            let freed = self.tables.prune(phys, range);
            m.commit.uncharge(range.len() + tables);
            debug_assert!(freed <= tables);
            return Err(VmError::InsufficientResources);
        }
        self.counters.peak_working_set = self.counters.peak_working_set.max(self.counters.working_set);
        self.add_committed(range.len());
        Ok(())
    }

    /// Unmaps and frees the large pages of `range`; returns the pages dropped. Skips missing
    /// tables whole, so a range without large pages costs what its tables do, not its size.
    pub(crate) fn drop_large(&mut self, phys: &mut PhysicalMemory, range: PageRange) -> u64 {
        let mut large = Vec::new();
        self.tables.for_each_mapped(phys, range, |vpn, leaf, _| {
            if let Leaf::Large { pde, .. } = leaf {
                large.push((vpn, pde));
            }
        });
        large.into_iter().map(|(vpn, pde)| self.drop_large_page(phys, vpn, pde)).sum()
    }

    /// Unmaps and frees the large page at `vpn`, mapped by the PDE at `pde`; returns the pages
    /// dropped.
    pub(crate) fn drop_large_page(&mut self, phys: &mut PhysicalMemory, vpn: Vpn, pde: PhysAddr) -> u64 {
        let first = crate::arch::x86_64::entry_frame(phys.read_u64(pde));
        self.tables.write_large(phys, pde, vpn, None).apply(&mut self.tlb);
        for i in 0..PAGES_PER_LARGE_PAGE {
            let pfn = crate::units::Pfn(first.0 + u32::try_from(i).unwrap_or(0));
            if phys.pfn(pfn).flags().has(crate::phys::PfnFlags::LOCKED) {
                self.counters.locked_pages -= 1;
            }
            phys.release(pfn);
        }
        self.counters.working_set -= PAGES_PER_LARGE_PAGE;
        PAGES_PER_LARGE_PAGE
    }
}
