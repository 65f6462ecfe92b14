//! Decommitting pages (`MEM_DECOMMIT`): they go back to reserved, their frames to the free
//! list and their charge to the commit limit.
//!
//! Size 0 means the whole allocation and needs an address in its first page (F59); otherwise
//! the range is every page touched (F60) and must not run past the allocation (F61).
//! Decommitting reserved pages is not an error (F53). The PTEs' dirty bits go with the pages
//! (F117); write-watch bits already captured stay (F118).

use super::{AddressSpace, VadKind, VmError};
use crate::machine::Machine;
use crate::paging::{parent_span_pages, Leaf};
use crate::units::{PageRange, PhysAddr, Vpn, PAGES_PER_LARGE_PAGE, PAGE_SHIFT};

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
    /// not its size (docs/design.md: a reservation of any size costs a VAD): one walk per page
    /// table that exists, whose entries are read in place until as many in use as the table
    /// holds have been met; a missing table is skipped whole at every level.
    pub(crate) fn drop_range(&mut self, m: &mut Machine, range: PageRange) -> u64 {
        let mut dropped = 0;
        let mut vpn = range.start;
        while vpn < range.end {
            vpn = match self.tables.leaf(&m.phys, vpn) {
                Leaf::Pte(at) => {
                    let end = vpn.next_table_start().min(range.end);
                    // Once this many entries in use are met, the rest of the table is zero.
                    let mut in_use = m.phys.pfn(at.pfn()).share_count;
                    let (mut page, mut slot) = (vpn, at);
                    while page < end && in_use > 0 {
                        let raw = m.phys.read_u64(slot);
                        if raw != 0 {
                            in_use -= 1;
                            dropped += self.drop_page_raw(m, slot, page, raw);
                        }
                        page = page.add(1);
                        slot = PhysAddr(slot.as_u64() + ENTRY_BYTES);
                    }
                    end
                }
                Leaf::Large { pde, index } => {
                    let first = Vpn(vpn.as_u64() - index);
                    dropped += self.drop_large_page(&mut m.phys, first, pde);
                    first.add(PAGES_PER_LARGE_PAGE)
                }
                Leaf::Missing(level) => {
                    let span = parent_span_pages(level);
                    Vpn((vpn.as_u64() / span + 1) * span)
                }
            };
        }
        self.counters.committed_pages -= dropped;
        dropped + self.tables.prune(&mut m.phys, range)
    }
}

/// Bytes of a page-table entry.
const ENTRY_BYTES: u64 = crate::arch::x86_64::ENTRY_BYTES;
