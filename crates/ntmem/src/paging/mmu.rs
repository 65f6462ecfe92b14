//! The MMU's walk on a TLB miss (Intel SDM vol. 3A, 4.5.4 and 4.8): from the paging-structure
//! cache when it knows the region's page table, else from the root, checking the leaf's
//! permissions and setting accessed and dirty bits as the processor does.

use super::page_table::PageTables;
use super::pte::{Pte, ValidPte};
use super::{AccessKind, Translation};
use crate::arch::x86_64::{self as hw, entry_address, entry_frame, table_index, Level};
use crate::phys::PhysicalMemory;
use crate::units::{Pfn, PhysAddr, Vpn, PAGES_PER_LARGE_PAGE, PAGE_SHIFT};

/// The byte offset of a PTE in its table: 512 entries of 8 bytes.
const PTE_OFFSET_MASK: u64 = 511 * 8;

impl PageTables {
    /// The MMU's walk for an access to `vpn`: sets accessed bits on the way and the dirty bit
    /// of the leaf on an allowed write, as the CPU does (SDM 4.8). A region whose page table
    /// is cached costs one PTE read.
    #[inline]
    pub(crate) fn translate(&mut self, phys: &mut PhysicalMemory, vpn: Vpn, access: AccessKind) -> Translation {
        match self.translate_cached(phys, vpn, access) {
            Some(translation) => translation,
            None => self.translate_from_root(phys, vpn, access),
        }
    }

    /// The walk of [`Self::translate`] when the paging-structure cache knows the page table
    /// of `vpn`: one PTE read, with its bits set as there; `None`, having read and changed
    /// nothing, when it does not. For the shortest path of a TLB miss, which leaves the walk
    /// from the root to the full path.
    #[inline(always)]
    pub(crate) fn translate_cached(
        &mut self,
        phys: &mut PhysicalMemory,
        vpn: Vpn,
        access: AccessKind,
    ) -> Option<Translation> {
        let table = self.cache.lookup(vpn)?;
        let at = entry_address(table, table_index(vpn.addr(), Level::Pt));
        Some(match use_leaf(phys, at, access) {
            Ok(e) => mapped(entry_frame(e), e),
            Err(fault) => fault,
        })
    }

    /// The leaf PTE of the page holding `addr` for the shortest path of a TLB miss, when the
    /// paging-structure cache knows its page table and the PTE has every bit of `ready` set
    /// already (present and accessed for a read; writable and dirty too for a write), so that
    /// a walk would change nothing; else `None`, having changed nothing, for
    /// [`Self::translate`]. One table-cache read and one PTE read: everything after them
    /// depends on the PTE, so the less there is, the more misses the processor overlaps
    /// (`system::memory`). It takes the address rather than its page number, and finds the
    /// PTE's offset in its table straight from the address's bits 20..12: so the TLB probe
    /// before it shares no page number with it, and the compiler computes the probe's slot
    /// the short way (two instructions fewer on every TLB hit).
    #[inline(always)]
    pub(crate) fn ready_leaf(&self, phys: &PhysicalMemory, addr: u64, ready: u64) -> Option<u64> {
        let table = self.cache.lookup(Vpn(addr >> PAGE_SHIFT))?;
        // The PTE's index in its table (bits 20..12) times its 8 bytes.
        let offset = (addr >> (PAGE_SHIFT - 3)) & PTE_OFFSET_MASK;
        let e = phys.store().read_u64(PhysAddr(table.phys().as_u64() + offset));
        (e & ready == ready).then_some(e)
    }

    /// The walk from the PML4; caches the page table it reaches.
    #[inline(never)]
    fn translate_from_root(&mut self, phys: &mut PhysicalMemory, vpn: Vpn, access: AccessKind) -> Translation {
        let va = vpn.addr();
        let mut table = self.root;
        for level in [Level::Pml4, Level::Pdpt, Level::Pd] {
            let at = entry_address(table, table_index(va, level));
            let e = phys.read_u64(at);
            if e & hw::P == 0 {
                return Translation::Fault(Pte::Zero);
            }
            if level == Level::Pd && e & hw::PS != 0 {
                return match use_leaf(phys, at, access) {
                    Ok(e) => {
                        let index = vpn.as_u64() % PAGES_PER_LARGE_PAGE;
                        mapped(Pfn(entry_frame(e).0 + u32::try_from(index).unwrap_or(0)), e)
                    }
                    Err(fault) => fault,
                };
            }
            if e & hw::A == 0 {
                phys.write_u64(at, e | hw::A);
            }
            table = entry_frame(e);
        }
        self.cache.insert(vpn, table);
        match use_leaf(phys, entry_address(table, table_index(va, Level::Pt)), access) {
            Ok(e) => mapped(entry_frame(e), e),
            Err(fault) => fault,
        }
    }
}

/// The leaf entry at `at` (a PTE, or a large PDE) used for `access`: its value with the
/// accessed bit, and on a write the dirty bit, set (in memory too); or the page fault.
#[inline(always)]
fn use_leaf(phys: &mut PhysicalMemory, at: PhysAddr, access: AccessKind) -> Result<u64, Translation> {
    let e = phys.store().read_u64(at);
    if e & hw::P == 0 {
        return Err(Translation::Fault(Pte::decode(e)));
    }
    let allowed = match access {
        AccessKind::Read => true,
        AccessKind::Write => e & hw::RW != 0,
        AccessKind::Execute => e & hw::NX == 0,
    };
    if !allowed {
        return Err(Translation::Fault(Pte::Valid(ValidPte(e))));
    }
    let set = hw::A | if access == AccessKind::Write { hw::D } else { 0 };
    if e & set != set {
        phys.store_mut().write_u64(at, e | set);
        if (set & !e) & hw::D != 0 {
            // The first write since the page was last clean marks its frame modified, as NT's
            // dirty-bit handling does (`MiSetDirtyBit`): a shared page written through one view
            // is then written back by a flush through any other (F161, F167).
            phys.pfn_mut(entry_frame(e)).mark_written();
        }
    }
    Ok(e | set)
}

/// The translation to `pfn` through the leaf entry `e` (accessed bits already set).
#[inline(always)]
fn mapped(pfn: Pfn, e: u64) -> Translation {
    Translation::Mapped { pfn, write_ready: e & hw::RW != 0 && e & hw::D != 0, executable: e & hw::NX == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::{Leaf, Protection};
    use crate::phys::FrameUse;
    use crate::units::PageRange;

    /// Page tables with one readable-writable page mapped at `vpn`; its frame.
    fn one_page(phys: &mut PhysicalMemory, vpn: Vpn) -> (PageTables, Pfn) {
        let mut tables = PageTables::create(phys).expect("frames");
        let at = tables.ensure(phys, vpn, false).expect("frames");
        let frame = phys.allocate(FrameUse::Private, Some(at)).expect("frames");
        let _ = tables.write(phys, at, vpn, Pte::Valid(ValidPte::new(frame, Protection::READ_WRITE)));
        (tables, frame)
    }

    #[test]
    fn a_cached_walk_sets_the_bits_a_full_walk_does() {
        let mut phys = PhysicalMemory::new(64).expect("a host mapping of 64 frames");
        let vpn = Vpn(0x12_3456);
        let (mut tables, frame) = one_page(&mut phys, vpn);
        let full = tables.translate(&mut phys, vpn, AccessKind::Read);
        assert_eq!(full, Translation::Mapped { pfn: frame, write_ready: false, executable: false });
        assert_eq!(tables.cached_tables().count(), 1, "the walk cached the page table");
        let cached = tables.translate(&mut phys, vpn, AccessKind::Write);
        assert_eq!(cached, Translation::Mapped { pfn: frame, write_ready: true, executable: false });
        let Pte::Valid(v) = tables.pte(&phys, vpn) else { panic!("still valid") };
        assert!(v.accessed() && v.dirty(), "accessed at the read, dirty at the write");
        let other = Vpn(vpn.as_u64() + 1);
        assert_eq!(tables.translate(&mut phys, other, AccessKind::Read), Translation::Fault(Pte::Zero));
    }

    #[test]
    fn freeing_a_page_table_forgets_it() {
        let mut phys = PhysicalMemory::new(64).expect("a host mapping of 64 frames");
        let vpn = Vpn(0x12_3456);
        let (mut tables, frame) = one_page(&mut phys, vpn);
        let _ = tables.translate(&mut phys, vpn, AccessKind::Read);
        let Leaf::Pte(at) = tables.leaf(&phys, vpn) else { panic!("mapped") };
        let _ = tables.write(&mut phys, at, vpn, Pte::Zero);
        phys.release(frame);
        assert_eq!(tables.prune(&mut phys, PageRange { start: vpn, end: vpn.add(1) }), 3, "PT, PD and PDPT");
        assert_eq!(tables.cached_tables().count(), 0);
        assert_eq!(tables.translate(&mut phys, vpn, AccessKind::Read), Translation::Fault(Pte::Zero));
    }
}
