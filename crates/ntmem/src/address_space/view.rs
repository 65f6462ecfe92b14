//! Views of sections in one address space: mapping and unmapping them, the faults that resolve
//! through prototype PTEs, copy-on-write, and the protection, commit, query and flush of view
//! pages (facts F140–F171; docs/design.md, "Sections").
//!
//! A view is a VAD of kind [`VadKind::Mapped`] naming its segment and first segment page. Its
//! process PTEs are filled lazily, as NT fills them from the VAD:
//! - zero: untouched; the page is as its prototype PTE says, with the view's protection (an
//!   image view's pages take their prototype's own protection, F162);
//! - a prototype pointer: the same, with this view's protection of the page (set by
//!   `VirtualProtect`, or left behind when the page was trimmed);
//! - valid, mapping the segment's frame (a section frame, whose share count it holds);
//! - valid, transition or page file for the page's private copy once copy-on-write made one
//!   (F158): such pages are ordinary private pages from then on.
//!
//! Contracts: mapping commits nothing and writes no PTE (a `FILE_MAP_COPY` view is charged
//! for its whole size, F159; an image view for its copy-on-write and relocated pages); page
//! tables under a view are created, and charged, at the first fault or protection change that
//! needs them, and go back at unmap. Every page a write may copy is charged before the write:
//! at mapping, or when `VirtualProtect` makes it copy-on-write (F209), so a copy-on-write
//! fault charges nothing and cannot fail for commit. Unmapping folds the
//! process's dirty bits into the frames, gives up its share of each, drops its private copies
//! and returns the view's charge. A view's pages are committed exactly when their prototype
//! PTEs are (commit is section-wide, protection per view: F148).

use super::access::{AccessFault, FaultKind};
use super::{AddressSpace, PageState, ReserveKind, ReserveOptions, Vad, VadKind, View, VmError};
use crate::machine::{Fill, Machine};
use crate::paging::{Access, AccessKind, Leaf, Protection, PrototypePointer, PrototypePte, Pte, ValidPte};
use crate::phys::{FrameUse, PfnFlags};
use crate::section::PageIn;
use crate::units::{PageRange, PhysAddr, Vpn, PAGE_SIZE};

/// The accesses a protection grants a view page, for the subset rule of F155 and F157:
/// read, write, execute. Copy-on-write counts as read (its write makes a copy).
fn grants(p: Protection) -> (bool, bool, bool) {
    match p.access() {
        Access::NoAccess => (false, false, false),
        Access::ReadOnly | Access::WriteCopy => (true, false, false),
        Access::ReadWrite => (true, true, false),
        Access::Execute | Access::ExecuteRead | Access::ExecuteWriteCopy => (true, false, true),
        Access::ExecuteReadWrite => (true, true, true),
    }
}

/// True when a view mapped with `allocation` may take `wanted` (F155, F157).
#[must_use]
pub(crate) fn view_allows(allocation: Protection, wanted: Protection) -> bool {
    let (ar, aw, ax) = grants(allocation);
    let (wr, ww, wx) = grants(wanted);
    (!wr || ar) && (!ww || aw) && (!wx || ax)
}

impl AddressSpace {
    /// Maps a view of `pages` pages at `at` (already checked to be 64 KiB aligned, F141) or
    /// where `opts` places it; `opts.kind` is the view, whose `charged` pages (its copies
    /// charged up front) are charged to the process.
    pub(crate) fn map_view(
        &mut self,
        m: &mut Machine,
        at: Option<u64>,
        pages: u64,
        opts: &ReserveOptions,
    ) -> Result<PageRange, VmError> {
        let ReserveKind::View(view) = opts.kind else { return Err(VmError::InvalidParameter) };
        let charge = view.charged;
        m.charge(charge).map_err(|_| VmError::CommitLimit)?;
        let opts = ReserveOptions { commit: false, write_watch: false, kind: ReserveKind::View(view), ..*opts };
        match self.reserve(m, at, pages.saturating_mul(PAGE_SIZE), &opts) {
            Ok(range) => {
                self.add_committed(charge);
                Ok(range)
            }
            Err(e) => {
                m.commit.uncharge(charge);
                Err(e)
            }
        }
    }

    /// The view holding `vpn`, with its VAD's range and allocation protection.
    pub(crate) fn view_at(&self, vpn: Vpn) -> Option<(View, PageRange, Protection)> {
        let vad = self.vads.find(vpn)?;
        match vad.kind {
            VadKind::Mapped(view) => Some((view, vad.range, vad.allocation_protection)),
            _ => None,
        }
    }

    /// Unmaps the view holding `vpn` (any address inside it identifies it, F165): every page
    /// goes, the tables under it that map nothing else go, and the view's charge. Returns the
    /// view, whose section the caller dereferences; `None` when no view holds `vpn`.
    pub(crate) fn unmap_view(&mut self, m: &mut Machine, vpn: Vpn) -> Option<View> {
        let (view, range, _) = self.view_at(vpn)?;
        let mut leaves = Vec::new();
        self.tables.for_each_leaf(&m.phys, range, |v, at, raw| {
            if raw != 0 {
                leaves.push((v, at));
            }
        });
        for (v, at) in leaves {
            self.unmap_page(m, at, v);
        }
        self.vads.remove(range.start);
        let tables = self.tables.prune(&mut m.phys, range);
        m.commit.uncharge(tables + view.charged);
        self.counters.committed_pages -= view.charged;
        Some(view)
    }

    /// Takes one view page out of the address space.
    fn unmap_page(&mut self, m: &mut Machine, at: PhysAddr, vpn: Vpn) {
        match Pte::decode(m.phys.read_u64(at)) {
            Pte::Valid(v) if m.phys.pfn(v.pfn()).usage() == FrameUse::Section => {
                self.capture_dirty(&mut m.phys, vpn, v);
                if self.locked_views.remove(&vpn) {
                    self.counters.locked_pages -= 1;
                }
                self.set_pte(&mut m.phys, at, vpn, Pte::Zero);
                m.unshare(v.pfn());
            }
            Pte::Prototype { .. } => self.set_pte(&mut m.phys, at, vpn, Pte::Zero),
            // A private copy: its charge is the view's, returned with it.
            _ => {
                self.drop_page(m, at, vpn);
            }
        }
    }

    /// The prototype PTE a view page refers to, and the protection this view gives the page,
    /// when its process PTE is zero or a prototype pointer; `None` for the other formats. With
    /// the view, its range and the segment page.
    fn view_page(&self, m: &Machine, vpn: Vpn, pte: Pte) -> Option<(View, PageRange, u64, PrototypePte, Protection)> {
        view_page_in(m, self.vads.find(vpn)?, vpn, pte)
    }
}

/// [`AddressSpace::view_page`] within a VAD already found.
fn view_page_in(
    m: &Machine,
    vad: &Vad,
    vpn: Vpn,
    pte: Pte,
) -> Option<(View, PageRange, u64, PrototypePte, Protection)> {
    let VadKind::Mapped(view) = vad.kind else { return None };
    let (page, explicit) = match pte {
        Pte::Zero => (view.page_of(vad.range.start, vpn), None),
        Pte::Prototype { at, protection } => (u64::from(at.page), Some(protection)),
        _ => return None,
    };
    let proto = m.segments.get(view.segment).and_then(|s| s.prototype(page))?;
    let protection = match explicit {
        Some(p) => p,
        None if view.image => proto.protection(),
        None => vad.allocation_protection,
    };
    Some((view, vad.range, page, proto, protection))
}

/// The state of view page `vpn` (in `vad`) as `VirtualQuery` shows it.
fn page_state_in(m: &Machine, vad: &Vad, vpn: Vpn, pte: Pte) -> PageState {
    match view_page_in(m, vad, vpn, pte) {
        Some((_, _, _, PrototypePte::Reserved, _)) => PageState::Reserved,
        Some((_, _, _, _, protection)) => PageState::Committed(protection),
        None if pte == Pte::Zero => PageState::Reserved,
        None => PageState::of(pte),
    }
}

impl AddressSpace {
    /// The state of view page `vpn` as `VirtualQuery` shows it.
    pub(crate) fn view_page_state(&self, m: &Machine, vpn: Vpn, pte: Pte) -> PageState {
        match self.vads.find(vpn) {
            Some(vad) => page_state_in(m, vad, vpn, pte),
            None => PageState::Reserved,
        }
    }

    /// The state of view page `vpn` and the first page after it (below `end`) whose state
    /// differs. One walk per page table: the PTEs of a table are read in a row, and where a
    /// table is missing every PTE is zero, so only the prototypes are read.
    pub(crate) fn view_run(&self, m: &Machine, vpn: Vpn, end: u64) -> (PageState, u64) {
        let Some(vad) = self.vads.find(vpn) else { return (PageState::Reserved, vpn.as_u64() + 1) };
        let first = page_state_in(m, vad, vpn, self.tables.pte(&m.phys, vpn));
        let mut v = vpn.as_u64() + 1;
        while v < end {
            let table_end = ((v / 512) + 1) * 512;
            let stop = table_end.min(end);
            match self.tables.leaf(&m.phys, Vpn(v)) {
                Leaf::Pte(at) => {
                    for k in 0..stop - v {
                        let raw = m.phys.read_u64(PhysAddr(at.as_u64() + k * 8));
                        if page_state_in(m, vad, Vpn(v + k), Pte::decode(raw)) != first {
                            return (first, v + k);
                        }
                    }
                }
                _ => {
                    for page in v..stop {
                        if page_state_in(m, vad, Vpn(page), Pte::Zero) != first {
                            return (first, page);
                        }
                    }
                }
            }
            v = stop;
        }
        (first, end)
    }

    /// The PTE slot of `vpn`, creating (and charging) the page tables it needs. A fault cannot
    /// be refused for commit: the tables are a must-succeed charge, as NT's page-table pages
    /// are, and may take the total past the limit.
    fn view_pte(&mut self, m: &mut Machine, vpn: Vpn) -> Result<PhysAddr, FaultKind> {
        if let Leaf::Pte(at) = self.tables.leaf(&m.phys, vpn) {
            return Ok(at);
        }
        let tables = self.tables.missing_tables(&m.phys, PageRange { start: vpn, end: vpn.add(1) });
        m.charge_must_succeed(tables);
        if !m.make_free(tables) {
            m.commit.uncharge(tables);
            return Err(FaultKind::OutOfFrames);
        }
        self.tables.ensure(&mut m.phys, vpn, false).ok_or(FaultKind::OutOfFrames)
    }

    /// Resolves a fault on a view page whose PTE is zero or a prototype pointer: through the
    /// prototype PTE (a frame already valid is shared with no I/O; one in transition is a soft
    /// fault; one in its file or the page file a hard fault; a committed, untouched page a
    /// zeroed frame). A write to a copy-on-write page makes this process's own copy.
    pub(crate) fn view_fault(
        &mut self,
        m: &mut Machine,
        vpn: Vpn,
        access: AccessKind,
        pte: Pte,
        addr: u64,
    ) -> Result<(), AccessFault> {
        let Some((view, range, page, proto, protection)) = self.view_page(m, vpn, pte) else {
            return Err(self.violation(addr, access));
        };
        let fail = |kind| AccessFault { kind, access, address: addr };
        // F149: a page of a SEC_RESERVE section not committed through any view.
        if proto == PrototypePte::Reserved {
            return Err(self.violation(addr, access));
        }
        let copy = access == AccessKind::Write && protection.is_copy_on_write();
        if access == AccessKind::Write && !protection.can_write() && !copy {
            return Err(self.violation(addr, access));
        }
        let at = self.view_pte(m, vpn).map_err(fail)?;
        if protection.is_guard() {
            let pointer = prototype_pointer(view, page, protection.without_guard());
            self.set_pte(&mut m.phys, at, vpn, pointer);
            self.counters.faults.guard += 1;
            return Err(fail(FaultKind::GuardPage));
        }
        let allowed = match access {
            AccessKind::Read => protection.can_read(),
            AccessKind::Write => protection.can_write() || copy,
            AccessKind::Execute => protection.can_execute(),
        };
        if !allowed {
            return Err(self.violation(addr, access));
        }
        self.make_room_in_working_set(m, vpn);
        let cluster_end = view.page_of(range.start, range.end);
        let (pfn, how) = m.section_frame(view.segment, page, cluster_end).map_err(fail)?;
        m.share(pfn);
        let relocated = view.relocation != 0
            && m.segments
                .get(view.segment)
                .and_then(crate::section::Segment::image)
                .is_some_and(|l| l.page_has_relocations(page));
        if copy || relocated {
            let made = if relocated {
                self.relocated_copy(m, vpn, at, pfn, protection, view, page)
            } else {
                self.copy_on_write(m, vpn, at, pfn, protection)
            };
            m.unshare(pfn);
            made.map_err(fail)?;
        } else {
            self.set_pte(&mut m.phys, at, vpn, Pte::Valid(ValidPte::new(pfn, protection)));
        }
        let faults = &mut self.counters.faults;
        faults.prototype += 1;
        // A copy counted itself; any other fault counts by how the page came in.
        if !copy || relocated {
            match how {
                PageIn::Shared | PageIn::Soft => faults.soft += 1,
                PageIn::Hard => faults.hard += 1,
                PageIn::DemandZero => faults.demand_zero += 1,
            }
        }
        Ok(())
    }

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
    fn copy_on_write(
        &mut self,
        m: &mut Machine,
        vpn: Vpn,
        at: PhysAddr,
        source: crate::units::Pfn,
        protection: Protection,
    ) -> Result<(), FaultKind> {
        // Its charge was taken when the page became copy-on-write (F209).
        let Some(copy) = m.allocate(FrameUse::Private, Some(at), Fill::Overwrite) else {
            return Err(FaultKind::OutOfFrames);
        };
        m.phys.copy_frame(source, copy);
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
    fn relocated_copy(
        &mut self,
        m: &mut Machine,
        vpn: Vpn,
        at: PhysAddr,
        source: crate::units::Pfn,
        protection: Protection,
        view: View,
        page: u64,
    ) -> Result<(), FaultKind> {
        let Some(copy) = m.allocate(FrameUse::Private, Some(at), Fill::Overwrite) else {
            return Err(FaultKind::OutOfFrames);
        };
        m.phys.copy_frame(source, copy);
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

    /// `VirtualAlloc(MEM_COMMIT)` on view pages: commits the section's pages (section-wide,
    /// F148) and gives this view's pages `protection` (F150, F157). A view of a data file
    /// cannot commit (F156).
    pub(crate) fn commit_view(
        &mut self,
        m: &mut Machine,
        range: PageRange,
        protection: Protection,
    ) -> Result<(), VmError> {
        let (view, whole, allocation) = self.view_at(range.start).ok_or(VmError::ConflictingAddresses)?;
        if !whole.contains_range(&range) {
            return Err(VmError::ConflictingAddresses);
        }
        if view.image || m.segments.get(view.segment).is_none_or(crate::section::Segment::is_file) {
            return Err(VmError::AccessDenied);
        }
        if !view_allows(allocation, protection) {
            return Err(VmError::InvalidParameter);
        }
        let committed = self.commit_section_pages(m, view, whole.start, range, allocation)?;
        match self.protect_view(m, range, protection) {
            Ok(_) => Ok(()),
            Err(e) => {
                // All-or-nothing: the protection could not be set (say its page tables met the
                // commit limit), so the pages committed for it are reserved again.
                uncommit_section_pages(m, view, &committed);
                Err(e)
            }
        }
    }

    /// Commits the reserved prototype PTEs behind `range` of a page-file view, charging the
    /// segment for them. Returns the segment pages it committed (those already committed are
    /// left alone), so a caller that fails later can give them back.
    #[must_use = "a caller that fails after this must give the pages back"]
    pub(crate) fn commit_section_pages(
        &mut self,
        m: &mut Machine,
        view: View,
        start: Vpn,
        range: PageRange,
        protection: Protection,
    ) -> Result<Vec<u64>, VmError> {
        let pages = view.page_of(start, range.start)..view.page_of(start, range.end);
        let seg = m.segments.get(view.segment).ok_or(VmError::NotAllocated)?;
        let reserved: Vec<u64> = pages.filter(|&p| seg.prototype(p) == Some(PrototypePte::Reserved)).collect();
        let n = reserved.len() as u64;
        m.charge(n).map_err(|_| VmError::CommitLimit)?;
        let seg = m.segments.get_mut(view.segment).ok_or(VmError::NotAllocated)?;
        for &p in &reserved {
            seg.set_prototype(p, PrototypePte::DemandZero(protection));
        }
        seg.commit += n;
        Ok(reserved)
    }

    /// `MEM_RESET` over a view of a page-file section (F44): the section's pages there are no
    /// longer needed — this process's dirty bits and the frames' modified bits are cleared and
    /// page-file copies given back, so a frame trimmed later is reused without being written
    /// and the page then reads zero. Only page-file-backed shared memory may be reset: a view
    /// of a data file or an image is refused (as committing is, F156).
    ///
    /// A page this process holds as its own copy (copy-on-write: a private frame, in memory,
    /// in transition or in the page file) no longer maps the section's page, so the reset
    /// leaves the section's page alone, as NT's reset acts on the pages the process's PTEs
    /// map: other views still read it. The copy itself is kept as it is, which a reset allows
    /// (V17).
    pub(crate) fn reset_view(&mut self, m: &mut Machine, range: PageRange) -> Result<PageRange, VmError> {
        let (view, whole, _) = self.view_at(range.start).ok_or(VmError::ConflictingAddresses)?;
        if !whole.contains_range(&range) {
            return Err(VmError::ConflictingAddresses);
        }
        if view.image || m.segments.get(view.segment).is_none_or(crate::section::Segment::reads_file) {
            return Err(VmError::AccessDenied);
        }
        let mut dirty = Vec::new();
        let mut copies = std::collections::BTreeSet::new();
        self.tables.for_each_leaf(&m.phys, range, |vpn, at, raw| match Pte::decode(raw) {
            Pte::Valid(v) if m.phys.pfn(v.pfn()).usage() == FrameUse::Section => dirty.push((vpn, at, v)),
            Pte::Transition { pfn, .. } if m.phys.pfn(pfn).usage() == FrameUse::Section => {}
            Pte::Valid(_) | Pte::Transition { .. } | Pte::PageFile { .. } => {
                copies.insert(vpn);
            }
            _ => {}
        });
        for (vpn, at, v) in dirty {
            if v.dirty() {
                self.set_pte(&mut m.phys, at, vpn, Pte::Valid(v.clean()));
            }
        }
        for vpn in range.iter().filter(|vpn| !copies.contains(vpn)) {
            let page = view.page_of(whole.start, vpn);
            match m.segments.get(view.segment).and_then(|s| s.prototype(page)) {
                Some(PrototypePte::PageFile { file, slot, protection }) => {
                    m.files.free(file, slot);
                    m.set_prototype(view.segment, page, PrototypePte::DemandZero(protection));
                }
                Some(p) => {
                    if let Some(pfn) = p.frame() {
                        m.discard_section_frame(pfn);
                    }
                }
                None => {}
            }
        }
        Ok(range)
    }

    /// `FlushViewOfFile`: folds this process's dirty bits over `range` into the frames and
    /// writes the section's modified pages there to the file (F167).
    pub(crate) fn flush_view(&mut self, m: &mut Machine, range: PageRange) -> Result<(), VmError> {
        let (view, whole, _) = self.view_at(range.start).ok_or(VmError::NotAllocated)?;
        let range = PageRange { start: range.start, end: range.end.min(whole.end) };
        let mut dirty = Vec::new();
        self.tables.for_each_leaf(&m.phys, range, |vpn, at, raw| {
            if let Pte::Valid(v) = Pte::decode(raw) {
                if v.dirty() {
                    dirty.push((vpn, at, v));
                }
            }
        });
        for (vpn, at, v) in dirty {
            if m.phys.pfn(v.pfn()).usage() == FrameUse::Section {
                self.capture_dirty(&mut m.phys, vpn, v);
                self.set_pte(&mut m.phys, at, vpn, Pte::Valid(v.clean()));
            }
        }
        let pages = view.page_of(whole.start, range.start)..view.page_of(whole.start, range.end);
        m.flush_segment(view.segment, pages).map_err(|_| VmError::WriteBackFailed(range.start.addr()))
    }
}

/// A process PTE pointing at page `page` of the view's segment with `protection`.
fn prototype_pointer(view: View, page: u64, protection: Protection) -> Pte {
    // Segments hold at most MAX_SEGMENT_PAGES pages, so the page fits 32 bits.
    let page = u32::try_from(page).unwrap_or(u32::MAX);
    Pte::Prototype { at: PrototypePointer { segment: view.segment.raw(), page }, protection }
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

impl Vad {
    /// The view this VAD is, if it is one.
    #[must_use]
    pub fn view(&self) -> Option<View> {
        match self.kind {
            VadKind::Mapped(view) => Some(view),
            _ => None,
        }
    }
}

/// Undoes [`AddressSpace::commit_section_pages`]: `pages` of the view's segment, committed by it
/// and not touched since (no frame, no page-file copy), are reserved again and their charge
/// returned.
fn uncommit_section_pages(m: &mut Machine, view: View, pages: &[u64]) {
    let Some(seg) = m.segments.get_mut(view.segment) else { return };
    for &p in pages {
        seg.set_prototype(p, PrototypePte::Reserved);
    }
    let n = pages.len() as u64;
    seg.commit -= n;
    m.commit.uncharge(n);
}
