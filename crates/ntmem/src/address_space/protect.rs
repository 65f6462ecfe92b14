//! Changing the protection of committed pages (`VirtualProtect`).
//!
//! The range must lie in one allocation (F79) and be committed throughout (F73); the old
//! protection reported is the first page's (F72). The caching attribute comes from the
//! allocation, not the request: NOCACHE given at allocation stays, and cannot be added later
//! (F39, F40). A resident page that becomes guard or no-access gets a transition PTE: NT keeps
//! such pages invalid so the first touch faults.

use super::{AddressSpace, PageState, VadKind, VmError};
use crate::machine::Machine;
use crate::paging::{Access, Protection, Pte, TlbFlush, ValidPte};
use crate::phys::PhysicalMemory;
use crate::units::{PageRange, PhysAddr, Vpn};

impl AddressSpace {
    /// Sets `protection` on the committed pages of `[addr, addr + size)`; returns the range and
    /// the first page's previous protection.
    pub fn protect(
        &mut self,
        m: &mut Machine,
        addr: u64,
        size: u64,
        protection: Protection,
    ) -> Result<(PageRange, Protection), VmError> {
        let range = PageRange::covering(addr, size).ok_or(VmError::ConflictingAddresses)?;
        let vad = self.vads.find(range.start).ok_or(VmError::ConflictingAddresses)?;
        if !vad.range.contains_range(&range) {
            return Err(VmError::ConflictingAddresses);
        }
        match vad.kind {
            VadKind::Private => {}
            VadKind::Mapped(_) => return Ok((range, self.protect_view(m, range, protection)?)),
            VadKind::Physical => return Err(VmError::NotCommitted),
            VadKind::LargePages | VadKind::SharedUserData => return Err(VmError::InvalidProtection),
        }
        if matches!(protection.access(), Access::WriteCopy | Access::ExecuteWriteCopy) {
            return Err(VmError::InvalidProtection);
        }
        let effective = protection.with_caching_of(vad.allocation_protection).ok_or(VmError::InvalidProtection)?;
        let phys = &mut m.phys;
        let mut first = None;
        let mut all_committed = true;
        let mut seen = 0;
        self.tables.for_each_leaf(phys, range, |_, _, raw| {
            seen += 1;
            match PageState::of(Pte::decode(raw)) {
                PageState::Committed(p) => {
                    first.get_or_insert(p);
                }
                PageState::Reserved => all_committed = false,
            }
        });
        let old = match first {
            Some(p) if all_committed && seen == range.len() => p,
            _ => return Err(VmError::NotCommitted),
        };
        let mut leaves = Vec::with_capacity(usize::try_from(range.len()).unwrap_or(0));
        self.tables.for_each_leaf(phys, range, |vpn, at, raw| leaves.push((vpn, at, raw)));
        let mut owed: Option<TlbFlush> = None;
        for (vpn, at, raw) in leaves {
            owed = TlbFlush::join(owed, self.reprotect_owing(phys, at, vpn, Pte::decode(raw), effective));
        }
        TlbFlush::apply_owed(owed, &mut self.tlb);
        Ok((range, old))
    }

    /// Gives one committed page a new protection, keeping its frame and bytes.
    pub(crate) fn reprotect(&mut self, phys: &mut PhysicalMemory, at: PhysAddr, vpn: Vpn, old: Pte, new: Protection) {
        TlbFlush::apply_owed(self.reprotect_owing(phys, at, vpn, old, new), &mut self.tlb);
    }

    /// [`Self::reprotect`], returning the TLB invalidation it owes rather than applying it.
    pub(crate) fn reprotect_owing(
        &mut self,
        phys: &mut PhysicalMemory,
        at: PhysAddr,
        vpn: Vpn,
        old: Pte,
        new: Protection,
    ) -> Option<TlbFlush> {
        let next = match old {
            Pte::Zero => return None,
            Pte::DemandZero(_) => Pte::DemandZero(new),
            Pte::Valid(v) => {
                self.capture_dirty(phys, vpn, v);
                let pfn = v.pfn();
                phys.pfn_mut(pfn).protection = new;
                if new.maps_present() {
                    Pte::Valid(ValidPte(ValidPte::new(pfn, new).0 | (v.0 & crate::arch::x86_64::A)))
                } else {
                    Pte::Transition { pfn, protection: new }
                }
            }
            Pte::Transition { pfn, .. } => {
                phys.pfn_mut(pfn).protection = new;
                Pte::Transition { pfn, protection: new }
            }
            Pte::PageFile { file, slot, .. } => Pte::PageFile { file, slot, protection: new },
            Pte::Prototype { at, .. } => Pte::Prototype { at, protection: new },
        };
        self.set_pte_owing(phys, at, vpn, next)
    }

    /// Captures a valid PTE's dirty bit before the PTE is rewritten without it, as NT does
    /// whenever it rewrites a valid PTE: into the frame's modified bit (so the write is not
    /// lost when the page is next trimmed, its page-file copy being stale now) and into the
    /// allocation's write-watch bitmap (F115, F118).
    pub(crate) fn capture_dirty(&mut self, phys: &mut PhysicalMemory, vpn: Vpn, pte: ValidPte) {
        if pte.dirty() {
            phys.pfn_mut(pte.pfn()).mark_written();
            if let Some(vad) = self.vads.find_mut(vpn) {
                vad.set_watch_bit(vpn, true);
            }
        }
    }
}
