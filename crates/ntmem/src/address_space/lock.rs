//! Locking pages in the working set (`VirtualLock`, `VirtualUnlock`).
//!
//! Locking touches every page of the range as a read would (F104): uncommitted and no-access
//! pages fail with an access violation, a guard page fails the call and loses its guard (F98,
//! F106). Locked pages stay resident; there is no lock count (F104). A lock either leaves
//! every page of its range resident and locked or fails and changes no page's lock: under a
//! hard working-set maximum each page is locked as soon as it is brought in, so bringing in
//! the next cannot trim it; a range that cannot be held within the hard maximum fails with the
//! working-set quota error (STATUS_WORKING_SET_QUOTA, ERROR_WORKING_SET_QUOTA). A process may lock its
//! working-set minimum less eight pages (VirtualLock documentation); more fails with the
//! working-set quota error. Unlocking needs every page locked (F105); a failed unlock still
//! drops the range's unlocked pages from the working set, as the documentation says.

use super::access::FaultKind;
use super::AccessFault;
use super::{AddressSpace, VmError};
use crate::machine::Machine;
use crate::paging::{AccessKind, Leaf, Pte};
use crate::phys::{FrameUse, PfnFlags, PhysicalMemory};
use crate::units::{PageRange, Pfn, VirtAddr, Vpn, PAGES_PER_LARGE_PAGE};
use std::ops::ControlFlow;

/// The error a lock reports for a page it could not touch.
fn lock_error(f: AccessFault) -> VmError {
    let at = VirtAddr::user(f.address);
    match f.kind {
        FaultKind::GuardPage => VmError::GuardPage(at),
        FaultKind::AccessViolation => VmError::AccessViolation(at, AccessKind::Read),
        FaultKind::InPageError => VmError::InPageError(at),
        FaultKind::OutOfFrames => VmError::OutOfFrames(1),
    }
}

impl AddressSpace {
    /// Locks the pages of `[addr, addr + size)`: every page ends resident and locked, or the
    /// call fails and no page's lock changes.
    pub fn lock(&mut self, m: &mut Machine, addr: u64, size: u64) -> Result<PageRange, VmError> {
        let range = PageRange::covering(addr, size).ok_or(VmError::InvalidParameter)?;
        // Every page must be lockable: touch each as a read would (F104).
        for vpn in range.iter() {
            self.resolve(m, vpn.addr().as_u64(), AccessKind::Read).map_err(lock_error)?;
        }
        // Under a hard maximum, touching a page may have trimmed an earlier one of the range:
        // count by frame, resident or not. Locked pages are always resident.
        let newly = range.iter().filter(|&vpn| !self.is_locked(&m.phys, vpn)).count() as u64;
        if self.counters.locked_pages + newly > self.lock_limit() || !self.lock_fits_hard_maximum(newly) {
            return Err(VmError::WorkingSetQuota);
        }
        // Bring each page in again if it was trimmed meanwhile, and lock it at once, so that
        // making room for the next page can never trim it (issue 6 item 6).
        let mut locked_now: Vec<Pfn> = Vec::new();
        let mut locked_views_now: Vec<Vpn> = Vec::new();
        for vpn in range.iter() {
            let frame = match self.resolve(m, vpn.addr().as_u64(), AccessKind::Read) {
                Ok(frame) => Pfn(frame),
                Err(f) => {
                    for pfn in locked_now {
                        m.phys.pfn_mut(pfn).flags.set(PfnFlags::LOCKED, false);
                    }
                    for vpn in locked_views_now {
                        self.locked_views.remove(&vpn);
                    }
                    return Err(lock_error(f));
                }
            };
            if self.page_locked(&m.phys, vpn, frame) {
                continue;
            }
            if m.phys.pfn(frame).usage() == FrameUse::Section {
                self.locked_views.insert(vpn);
                locked_views_now.push(vpn);
            } else {
                m.phys.pfn_mut(frame).flags.set(PfnFlags::LOCKED, true);
                locked_now.push(frame);
            }
        }
        self.counters.locked_pages += (locked_now.len() + locked_views_now.len()) as u64;
        for vpn in range.iter() {
            let Some(pfn) = self.pte(&m.phys, vpn).frame() else { continue };
            // V18: a successful lock of a writable page counts as a write for write watch.
            if m.phys.pfn(pfn).usage() != FrameUse::SharedUserData && m.phys.pfn(pfn).protection.can_write() {
                if let Some(vad) = self.vads.find_mut(vpn) {
                    vad.set_watch_bit(vpn, true);
                }
            }
        }
        Ok(range)
    }

    /// True when `vpn` is resident and locked (or is the always-resident shared user data page).
    fn is_locked(&self, phys: &PhysicalMemory, vpn: Vpn) -> bool {
        match self.pte(phys, vpn) {
            Pte::Valid(v) => self.page_locked(phys, vpn, v.pfn()),
            _ => false,
        }
    }

    /// With a hard maximum, the pages that cannot leave the working set once `newly` more are
    /// locked (resident pages that are not private — the shared user data page — and locked
    /// ones) must leave room within it, or the lock could not be held resident.
    fn lock_fits_hard_maximum(&self, newly: u64) -> bool {
        let limits = self.ws.limits();
        let pinned = self.counters.working_set.saturating_sub(self.ws.len()) + self.counters.locked_pages;
        !limits.hard_maximum || pinned + newly <= limits.maximum
    }

    /// Unlocks the pages of `[addr, addr + size)`; every one must be locked.
    pub fn unlock(&mut self, m: &mut Machine, addr: u64, size: u64) -> Result<PageRange, VmError> {
        let range = PageRange::covering(addr, size).ok_or(VmError::InvalidParameter)?;
        if !self.all_locked(&m.phys, range) {
            // F105: the pages are also dropped from the working set. Only valid PTEs can be.
            let mut resident = Vec::new();
            self.tables.for_each_mapped(&m.phys, range, |vpn, leaf, raw| {
                if matches!(leaf, Leaf::Pte(_)) && matches!(Pte::decode(raw), Pte::Valid(_)) {
                    resident.push(vpn);
                }
            });
            for vpn in resident {
                self.trim_page(m, vpn);
            }
            return Err(VmError::NotLocked);
        }
        for vpn in range.iter() {
            if let Some(pfn) = self.pte(&m.phys, vpn).frame() {
                match m.phys.pfn(pfn).usage() {
                    FrameUse::SharedUserData => {}
                    FrameUse::Section => {
                        self.locked_views.remove(&vpn);
                        self.counters.locked_pages -= 1;
                    }
                    _ => {
                        m.phys.pfn_mut(pfn).flags.set(PfnFlags::LOCKED, false);
                        self.counters.locked_pages -= 1;
                    }
                }
            }
        }
        Ok(range)
    }

    /// True when every page of `range` is locked (the shared user data page, always
    /// resident, counts as locked). Walks only the tables that exist and stops at the first
    /// page that is not: a page with no PTE before the next one found, or one not locked; so
    /// a failing check over a huge empty range costs a few entries (issue 6, item 9).
    fn all_locked(&self, phys: &PhysicalMemory, range: PageRange) -> bool {
        let locked = |vpn: Vpn, pte: Pte| match pte {
            Pte::Valid(v) => self.page_locked(phys, vpn, v.pfn()),
            other => other.frame().is_some_and(|pfn| phys.pfn(pfn).flags().has(PfnFlags::LOCKED)),
        };
        let mut next = range.start;
        let walk = self.tables.try_for_each_mapped(phys, range, |vpn, leaf, raw| {
            let pages = match leaf {
                Leaf::Large { .. } => PageRange { start: vpn.max(range.start), end: vpn.add(PAGES_PER_LARGE_PAGE) },
                _ => PageRange { start: vpn, end: vpn.add(1) },
            };
            let whole = match leaf {
                Leaf::Large { .. } => pages.iter().take_while(|&p| p < range.end).all(|p| locked(p, self.pte(phys, p))),
                _ => locked(vpn, Pte::decode(raw)),
            };
            if pages.start != next || !whole {
                return ControlFlow::Break(());
            }
            next = pages.end;
            ControlFlow::Continue(())
        });
        walk.is_continue() && next >= range.end
    }
}
