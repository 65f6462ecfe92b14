//! `MEM_RESET` and `MEM_RESET_UNDO`: the caller no longer needs a range's contents, or needs
//! them again.
//!
//! Reset marks resident pages clean and discardable (the PFN's reset flag, the modified bit and
//! the PTE's dirty bit cleared), so a page trimmed later goes to standby without being written
//! and its frame may be reused, the page then reading zero; until then the data is still there.
//! Both are what Windows allows (F41, V17). A write after the reset makes the page dirty and
//! so kept. Undo marks the pages modified again; it cannot tell a page whose contents were
//! dropped from one never written, and succeeds (F45 leaves that case undefined). The range
//! must lie in one allocation (F42, F43).
//!
//! Both visit only the PTEs of the tables that exist under the range, so their cost follows
//! what the range holds, not its length (issue 6, item 9).

use super::{AddressSpace, VadKind, VmError};
use crate::machine::Machine;
use crate::paging::{Leaf, Pte, TlbFlush};
use crate::phys::{ListKind, PfnFlags, PfnState, PhysicalMemory};
use crate::units::{PageRange, PhysAddr, Vpn};

impl AddressSpace {
    fn reset_range(&self, addr: u64, size: u64) -> Result<PageRange, VmError> {
        let range = PageRange::covering(addr, size).ok_or(VmError::InvalidParameter)?;
        match self.vads.find(range.start) {
            Some(vad) if vad.range.contains_range(&range) && vad.kind == VadKind::Private => Ok(range),
            _ => Err(VmError::ConflictingAddresses),
        }
    }

    /// The non-zero PTEs under `range` (a private allocation's: no large pages), lowest first.
    fn mapped_ptes(&self, phys: &PhysicalMemory, range: PageRange) -> Vec<(Vpn, PhysAddr, Pte)> {
        let mut ptes = Vec::new();
        self.tables.for_each_mapped(phys, range, |vpn, leaf, raw| {
            if let Leaf::Pte(at) = leaf {
                ptes.push((vpn, at, Pte::decode(raw)));
            }
        });
        ptes
    }

    /// `MEM_RESET` of `[addr, addr + size)`.
    pub fn reset(&mut self, m: &mut Machine, addr: u64, size: u64) -> Result<PageRange, VmError> {
        if let Some(range) = PageRange::covering(addr, size) {
            if self.view_at(range.start).is_some() {
                return self.reset_view(m, range);
            }
        }
        let range = self.reset_range(addr, size)?;
        // Every resident page is cleaned: one invalidation over them all, applied once.
        let mut owed: Option<TlbFlush> = None;
        for (vpn, at, pte) in self.mapped_ptes(&m.phys, range) {
            match pte {
                Pte::Valid(v) => {
                    self.capture_dirty(&mut m.phys, vpn, v);
                    let e = m.phys.pfn_mut(v.pfn());
                    e.flags.set(PfnFlags::RESET, true);
                    e.flags.set(PfnFlags::MODIFIED, false);
                    if let Some((file, slot)) = e.backing() {
                        e.set_backing(None);
                        m.files.free(file, slot);
                    }
                    owed = TlbFlush::join(owed, self.set_pte_owing(&mut m.phys, at, vpn, Pte::Valid(v.clean())));
                }
                Pte::Transition { pfn, .. } if m.phys.pfn(pfn).state() != PfnState::Active => {
                    let e = m.phys.pfn_mut(pfn);
                    e.flags.set(PfnFlags::RESET, true);
                    e.flags.set(PfnFlags::MODIFIED, false);
                    if let Some((file, slot)) = e.backing() {
                        e.set_backing(None);
                        m.files.free(file, slot);
                    }
                    m.phys.unpark(pfn);
                    m.phys.park(pfn, ListKind::Standby);
                }
                Pte::PageFile { file, slot, protection } => {
                    // NT gives the slot back: the page reads zero from now on.
                    m.files.free(file, slot);
                    self.set_pte(&mut m.phys, at, vpn, Pte::DemandZero(protection));
                }
                _ => {}
            }
        }
        TlbFlush::apply_owed(owed, &mut self.tlb);
        Ok(range)
    }

    /// `MEM_RESET_UNDO` of `[addr, addr + size)`.
    pub fn reset_undo(&mut self, m: &mut Machine, addr: u64, size: u64) -> Result<PageRange, VmError> {
        let range = self.reset_range(addr, size)?;
        for (_, _, pte) in self.mapped_ptes(&m.phys, range) {
            let Some(pfn) = pte.frame() else { continue };
            let e = m.phys.pfn_mut(pfn);
            if !e.flags.has(PfnFlags::RESET) {
                continue;
            }
            // Its contents matter again, as if just written.
            e.mark_written();
            // A reset page has no copy on disk (reset gave it back, and a write clears the
            // reset mark before the page can be written out); were there one, it would be
            // stale now.
            if let Some((file, slot)) = e.backing() {
                debug_assert!(false, "a reset page with a page-file copy");
                e.set_backing(None);
                m.files.free(file, slot);
            }
            if m.phys.pfn(pfn).state() == PfnState::Standby {
                m.phys.unpark(pfn);
                m.phys.park(pfn, ListKind::Modified);
            }
        }
        Ok(range)
    }
}
