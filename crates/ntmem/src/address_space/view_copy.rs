//! Copy-on-write of view pages: the private copy a write makes of a section page (F158), the
//! relocated copy an image view away from its base keeps of a page holding addresses (F163),
//! and `VirtualProtect` on view pages, which charges commit for the copies a protection may
//! cause (F155, F162, F201, F209).
//!
//! Contract: every page a write may copy is charged before the write, when the view is mapped
//! or when its protection becomes copy-on-write, as NT's `MiSetProtectionOnSection` reckons
//! (F209); so a copy-on-write fault charges nothing and cannot fail for commit. A page whose
//! protection stops being copy-on-write before it was copied gives its charge back; a copy,
//! once made, is an ordinary private page and keeps its charge.

use super::access::{AccessFault, FaultKind};
use super::view::{prototype_pointer, view_allows};
use super::{AddressSpace, PageState, VadKind, View, VmError};
use crate::machine::{Fill, Machine};
use crate::paging::{Access, AccessKind, Protection, Pte, ValidPte};
use crate::phys::{FrameUse, PfnFlags};
use crate::units::{PageRange, Pfn, PhysAddr, Vpn, PAGE_SIZE};

impl AddressSpace {
    /// A write to a resident copy-on-write page of a view: the copy replaces the shared frame
    /// in this process.
    pub(crate) fn copy_on_write_valid(
        &mut self,
        m: &mut Machine,
        vpn: Vpn,
        at: PhysAddr,
        v: ValidPte,
        addr: u64,
    ) -> Result<(), AccessFault> {
        self.make_room_in_working_set(m, vpn);
        self.copy_on_write(m, vpn, at, v.pfn(), v.protection()).map_err(|kind| AccessFault {
            kind,
            access: AccessKind::Write,
            address: addr,
        })?;
        m.unshare(v.pfn());
        Ok(())
    }

    /// Copies section frame `source` into a new private frame mapped at `vpn` with the
    /// written protection (F158). The caller gives up this process's share of `source`.
    pub(super) fn copy_on_write(
        &mut self,
        m: &mut Machine,
        vpn: Vpn,
        at: PhysAddr,
        source: Pfn,
        protection: Protection,
    ) -> Result<(), FaultKind> {
        // Its charge was taken when the page became copy-on-write (F209).
        let copy = private_copy(m, at, source)?;
        let written = protection.after_copy();
        let locked = self.locked_views.remove(&vpn);
        let e = m.phys.pfn_mut(copy);
        e.protection = written;
        // The copy exists nowhere else: it must be written out before its frame is reused.
        e.flags.set(PfnFlags::MODIFIED, true);
        // A locked page stays locked: the lock moves to the copy's frame.
        e.flags.set(PfnFlags::LOCKED, locked);
        // Valid to valid keeps the page in the working set, which holds section and private
        // pages alike.
        self.set_pte(&mut m.phys, at, vpn, Pte::Valid(ValidPte::new(copy, written)));
        self.counters.faults.copy_on_write += 1;
        Ok(())
    }

    /// The first touch of an image page holding relocated values in a view away from the
    /// image's base: this process's own copy of the page, relocated (F163), with the page's
    /// own protection. Its charge was taken with the view. A later write to it, if its
    /// protection is copy-on-write, needs no second copy (`fault.rs`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn relocated_copy(
        &mut self,
        m: &mut Machine,
        vpn: Vpn,
        at: PhysAddr,
        source: Pfn,
        protection: Protection,
        view: View,
        page: u64,
    ) -> Result<(), FaultKind> {
        let copy = private_copy(m, at, source)?;
        if let Some(layout) = m.segments.get(view.segment).and_then(crate::section::Segment::image) {
            let rva = u32::try_from(page * PAGE_SIZE).unwrap_or(u32::MAX);
            layout.apply_relocations(rva, m.phys.frame_mut(copy), view.relocation);
        }
        let e = m.phys.pfn_mut(copy);
        e.protection = protection;
        e.flags.set(PfnFlags::MODIFIED, true);
        self.set_pte(&mut m.phys, at, vpn, Pte::Valid(ValidPte::new(copy, protection)));
        Ok(())
    }

    /// A write to a private copy-on-write page of a view (a relocated image page): the page is
    /// this process's already, so the write only turns it writable (F158), counted as the
    /// copy-on-write fault it is.
    pub(crate) fn write_own_copy(&mut self, m: &mut Machine, vpn: Vpn, at: PhysAddr, v: ValidPte) {
        let written = v.protection().after_copy();
        m.phys.pfn_mut(v.pfn()).protection = written;
        let kept = v.0 & crate::arch::x86_64::A;
        self.set_pte(&mut m.phys, at, vpn, Pte::Valid(ValidPte(ValidPte::new(v.pfn(), written).0 | kept)));
        self.counters.faults.copy_on_write += 1;
    }

    /// Records how far an image view lies from its image's base (F163).
    pub(crate) fn set_view_relocation(&mut self, start: Vpn, delta: i64) {
        if let Some(vad) = self.vads.find_mut(start) {
            if let VadKind::Mapped(view) = &mut vad.kind {
                view.relocation = delta;
            }
        }
    }

    /// `VirtualProtect` on view pages (F155, F162): the new protection must grant no more
    /// than the view's (checked first, F201); every page must be committed. Returns the first
    /// page's old protection.
    pub(crate) fn protect_view(
        &mut self,
        m: &mut Machine,
        range: PageRange,
        protection: Protection,
    ) -> Result<Protection, VmError> {
        let (view, whole, allocation) = self.view_at(range.start).ok_or(VmError::ConflictingAddresses)?;
        if !whole.contains_range(&range) {
            return Err(VmError::ConflictingAddresses);
        }
        // F162: an image view turns a request to write into copy-on-write.
        let protection = if view.image { to_copy_on_write(protection) } else { protection };
        if !view_allows(allocation, protection) {
            return Err(VmError::SectionProtection); // F201
        }
        let protection = protection.with_caching_of(allocation).ok_or(VmError::InvalidProtection)?;
        // F209: the pages that may now become copies are charged before anything changes, and
        // an unwritten page leaving copy-on-write gives its charge back, as NT's
        // `MiSetProtectionOnSection` reckons them.
        let becomes_copy_on_write = protection.is_copy_on_write();
        let (mut copy_charge, mut copy_return) = (0, 0);
        let mut old = None;
        for vpn in range.iter() {
            let pte = self.tables.pte(&m.phys, vpn);
            match self.view_page_state(m, vpn, pte) {
                PageState::Reserved => return Err(VmError::NotCommitted),
                PageState::Committed(p) => {
                    old.get_or_insert(p);
                }
            }
            match (copy_standing(m, pte), becomes_copy_on_write) {
                (CopyStanding::Untouched | CopyStanding::Shared { copy_on_write: false }, true) => copy_charge += 1,
                (CopyStanding::Shared { copy_on_write: true }, false) => copy_return += 1,
                _ => {}
            }
        }
        let tables = self.tables.missing_tables(&m.phys, range);
        m.charge(tables + copy_charge).map_err(|_| VmError::CommitLimit)?;
        if !m.make_free(tables) {
            m.commit.uncharge(tables + copy_charge);
            return Err(VmError::OutOfFrames(tables));
        }
        // Charged and given back before the PTEs change: the loop below cannot fail for
        // frames (`make_free` reserved the tables'), and the view's charge goes at unmap.
        if copy_charge + copy_return > 0 {
            if let Some(VadKind::Mapped(v)) = self.vads.find_mut(range.start).map(|vad| &mut vad.kind) {
                debug_assert!(copy_return <= v.charged + copy_charge, "a view gives back more than it was charged");
                // Never more than it holds, so the view, the process and the machine agree.
                copy_return = copy_return.min(v.charged + copy_charge);
                v.charged = v.charged + copy_charge - copy_return;
            }
            self.add_committed(copy_charge);
            self.counters.committed_pages -= copy_return;
            m.commit.uncharge(copy_return);
        }
        for vpn in range.iter() {
            let at = self.tables.ensure(&mut m.phys, vpn, false).ok_or(VmError::OutOfFrames(tables))?;
            let pte = Pte::decode(m.phys.read_u64(at));
            let page = view.page_of(whole.start, vpn);
            match pte {
                Pte::Zero | Pte::Prototype { .. } => {
                    self.set_pte(&mut m.phys, at, vpn, prototype_pointer(view, page, protection));
                }
                Pte::Valid(v) if m.phys.pfn(v.pfn()).usage() == FrameUse::Section => {
                    self.capture_dirty(&mut m.phys, vpn, v);
                    if protection.maps_present() {
                        let kept = v.0 & crate::arch::x86_64::A;
                        self.set_pte(
                            &mut m.phys,
                            at,
                            vpn,
                            Pte::Valid(ValidPte(ValidPte::new(v.pfn(), protection).0 | kept)),
                        );
                    } else {
                        // No longer resident here: its lock in this working set goes.
                        if self.locked_views.remove(&vpn) {
                            self.counters.locked_pages -= 1;
                        }
                        self.set_pte(&mut m.phys, at, vpn, prototype_pointer(view, page, protection));
                        m.unshare(v.pfn());
                    }
                }
                // A private copy stays one: a copy-on-write protection is already spent.
                other => self.reprotect(&mut m.phys, at, vpn, other, protection.after_copy()),
            }
        }
        Ok(old.unwrap_or(Protection::NO_ACCESS))
    }
}

/// A new private frame for the PTE at `at`, holding a copy of frame `source`'s bytes.
fn private_copy(m: &mut Machine, at: PhysAddr, source: Pfn) -> Result<Pfn, FaultKind> {
    let copy = m.allocate(FrameUse::Private, Some(at), Fill::Overwrite).ok_or(FaultKind::OutOfFrames)?;
    m.phys.copy_frame(source, copy);
    Ok(copy)
}

/// Where a view page stands for the commit a copy of it needs (F209), from its PTE.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CopyStanding {
    /// No PTE yet: NT charges it when its protection becomes copy-on-write, whatever the
    /// section says (a page an image makes copy-on-write was charged with the view too).
    Untouched,
    /// The section's page, through a prototype pointer or a valid PTE, with this view's
    /// protection of it.
    Shared { copy_on_write: bool },
    /// The process's own copy: charged when it was made, and for good.
    Private,
}

fn copy_standing(m: &Machine, pte: Pte) -> CopyStanding {
    match pte {
        Pte::Zero => CopyStanding::Untouched,
        Pte::Prototype { protection, .. } => CopyStanding::Shared { copy_on_write: protection.is_copy_on_write() },
        Pte::Valid(v) if m.phys.pfn(v.pfn()).usage() == FrameUse::Section => {
            CopyStanding::Shared { copy_on_write: v.protection().is_copy_on_write() }
        }
        _ => CopyStanding::Private,
    }
}

/// F162: on an image view a protection that writes becomes copy-on-write.
fn to_copy_on_write(p: Protection) -> Protection {
    let access = match p.access() {
        Access::ReadWrite => Access::WriteCopy,
        Access::ExecuteReadWrite => Access::ExecuteWriteCopy,
        _ => return p,
    };
    Protection::new(access, p.modifier()).unwrap_or(p)
}
