//! Decommitting pages (`MEM_DECOMMIT`): they go back to reserved, their frames to the free
//! list and their charge to the commit limit.
//!
//! Size 0 means the whole allocation and needs an address in its first page (F59); otherwise
//! the range is every page touched (F60) and must not run past the allocation (F61).
//! Decommitting reserved pages is not an error (F53). The PTEs' dirty bits go with the pages
//! (F117); write-watch bits already captured stay (F118).

use super::{AddressSpace, VadKind, VmError};
use crate::machine::Machine;
use crate::paging::Leaf;
use crate::units::{PageRange, Vpn, PAGE_SHIFT};

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
    /// not its size (docs/design.md: a reservation of any size costs a VAD).
    pub(crate) fn drop_range(&mut self, m: &mut Machine, range: PageRange) -> u64 {
        // Sized for the range (up to a table's worth) up front: a 64 KiB release would
        // otherwise grow it four times.
        let mut leaves = Vec::with_capacity(usize::try_from(range.len()).map_or(512, |pages| pages.min(512)));
        self.tables.for_each_mapped(&m.phys, range, |vpn, leaf, _| leaves.push((vpn, leaf)));
        let mut dropped = 0;
        for (vpn, leaf) in leaves {
            dropped += match leaf {
                Leaf::Pte(at) => self.drop_page(m, at, vpn),
                Leaf::Large { pde, .. } => self.drop_large_page(&mut m.phys, vpn, pde),
                Leaf::Missing(_) => 0,
            };
        }
        self.counters.committed_pages -= dropped;
        dropped + self.tables.prune(&mut m.phys, range)
    }
}
