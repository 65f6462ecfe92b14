//! Decommitting pages (`MEM_DECOMMIT`): they go back to reserved, their frames to the free
//! list and their charge to the commit limit.
//!
//! Size 0 means the whole allocation and needs an address in its first page (F59); otherwise
//! the range is every page touched (F60) and must not run past the allocation (F61).
//! Decommitting reserved pages is not an error (F53). The PTEs' dirty bits go with the pages
//! (F117); write-watch bits already captured stay (F118).

use super::{AddressSpace, VadKind, VmError};
use crate::machine::Machine;
use crate::paging::{Leaf, TlbFlush};
use crate::units::{PageRange, PhysAddr, Vpn, PAGE_SHIFT};

impl AddressSpace {
    /// Decommits `[addr, addr + size)`, or the whole allocation when `size` is 0.
    pub fn decommit(&mut self, m: &mut Machine, addr: u64, size: u64) -> Result<PageRange, VmError> {
        let page = Vpn(addr >> PAGE_SHIFT);
        let vad = self.vads.find(page).ok_or(VmError::NotAllocated)?;
        let range = if size == 0 {
            if page != vad.range.start {
                return Err(VmError::FreeNotAtBase);
            }
            vad.range
        } else {
            let range = PageRange::covering(addr, size).ok_or(VmError::UnableToFree)?;
            if range.end > vad.range.end {
                return Err(VmError::UnableToFree);
            }
            range
        };
        match vad.kind {
            VadKind::Private => {}
            VadKind::Physical => return Ok(range),
            VadKind::LargePages | VadKind::SharedUserData => return Err(VmError::UnableToFree),
            VadKind::Mapped(_) => return Err(VmError::SectionMemory),
        }
        let charge = self.drop_range(m, range);
        m.commit.uncharge(charge);
        Ok(range)
    }

    /// Drops every committed page of `range` and prunes the tables that map nothing any more.
    /// Returns the commit charge freed (pages and tables). Costs what is mapped under `range`,
    /// not its size (docs/design.md: a reservation of any size costs a VAD): the tables under
    /// it are found skipping missing ones whole at every level, and each page table's entries
    /// are read in place until as many in use as it holds have been met.
    ///
    /// The range lies in one VAD (a decommit's or a release's), which forgets its pages' one
    /// state here, once, rather than page by page.
    pub(crate) fn drop_range(&mut self, m: &mut Machine, range: PageRange) -> u64 {
        self.vads.forget_uniform(range.start);
        // A 64 KiB release has one table; a large one, one per 2 MiB mapped.
        let mut tables = Vec::with_capacity(1);
        self.tables.for_each_table(&m.phys, range, |first, leaf, pages| tables.push((first, leaf, pages)));
        let mut dropped = 0;
        // The invalidations owed, applied once: one host call a run of mapped pages.
        let mut owed: Option<TlbFlush> = None;
        for (first, leaf, pages) in tables {
            match leaf {
                Leaf::Pte(at) => {
                    // Once this many entries in use are met, the rest of the table is zero.
                    let mut in_use = m.phys.pfn(at.pfn()).share_count;
                    let (mut page, mut slot, end) = (first, at, first.add(pages));
                    while page < end && in_use > 0 {
                        let raw = m.phys.read_u64(slot);
                        if raw != 0 {
                            in_use -= 1;
                            let (count, flush) = self.drop_page_owing(m, slot, page, raw);
                            dropped += count;
                            owed = TlbFlush::join(owed, flush);
                        }
                        page = page.add(1);
                        slot = PhysAddr(slot.as_u64() + crate::arch::x86_64::ENTRY_BYTES);
                    }
                }
                Leaf::Large { pde, .. } => dropped += self.drop_large_page(&mut m.phys, first, pde),
                Leaf::Missing(_) => {}
            }
        }
        TlbFlush::apply_owed(owed, &mut self.tlb);
        self.counters.committed_pages -= dropped;
        dropped + self.tables.prune(&mut m.phys, range)
    }
}
