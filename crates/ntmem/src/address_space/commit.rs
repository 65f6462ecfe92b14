//! Committing pages of a reservation (`MEM_COMMIT`).
//!
//! The range is every page the bytes touch, rounded to pages (F21), and must lie inside one
//! private reservation (F24, F25, F26). Committing is idempotent and re-commits replace the
//! protection of already committed pages (F22, F23). The charge — new pages plus the page-table
//! pages they need — is taken before anything changes; over the limit nothing is committed.

use super::{AddressSpace, VadKind, VmError};
use crate::machine::Machine;
use crate::paging::{Protection, Pte, TlbFlush};
use crate::units::PageRange;

impl AddressSpace {
    /// Commits the pages of `[addr, addr + size)` with `protection`. Returns the page range.
    pub fn commit(
        &mut self,
        m: &mut Machine,
        addr: u64,
        size: u64,
        protection: Protection,
    ) -> Result<PageRange, VmError> {
        let range = PageRange::covering(addr, size).ok_or(VmError::ConflictingAddresses)?;
        let vad = self.vads.find(range.start).ok_or(VmError::ConflictingAddresses)?;
        if vad.view().is_some() {
            self.commit_view(m, range, protection)?;
            return Ok(range);
        }
        if !vad.range.contains_range(&range) || vad.kind != VadKind::Private {
            return Err(VmError::ConflictingAddresses);
        }
        let mut committed = 0;
        self.tables.for_each_leaf(&m.phys, range, |_, _, raw| committed += u64::from(raw != 0));
        let new_pages = range.len() - committed;
        let tables = self.tables.missing_tables(&m.phys, range);
        m.charge(new_pages + tables).map_err(|_| VmError::CommitLimit)?;
        if !m.make_free(tables) {
            m.commit.uncharge(new_pages + tables);
            return Err(VmError::OutOfFrames(tables));
        }
        // One walk per page table: the run's next PTE is the next slot.
        let mut previous = None;
        // The invalidations owed by committed pages given the new protection, applied once.
        let mut owed: Option<TlbFlush> = None;
        for vpn in range.iter() {
            let Some(at) = self.tables.ensure_next(&mut m.phys, vpn, previous) else {
                TlbFlush::apply_owed(owed, &mut self.tlb);
                return Err(VmError::OutOfFrames(tables));
            };
            previous = Some(at);
            match Pte::decode(m.phys.read_u64(at)) {
                Pte::Zero => self.set_pte(&mut m.phys, at, vpn, Pte::DemandZero(protection)),
                old => owed = TlbFlush::join(owed, self.reprotect_owing(&mut m.phys, at, vpn, old, protection)),
            }
        }
        TlbFlush::apply_owed(owed, &mut self.tlb);
        self.add_committed(new_pages);
        Ok(range)
    }
}
