//! Views of sections in one address space: mapping and unmapping them, the faults that resolve
//! through prototype PTEs, and the commit, query and flush of view pages (facts F140–F171;
//! docs/design.md, "Sections"). Copy-on-write, and the protection of view pages that charges
//! for it, are `view_copy.rs`'s.
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
use crate::machine::Machine;
use crate::paging::{Access, AccessKind, Leaf, Protection, PrototypePointer, PrototypePte, Pte, ValidPte};
use crate::phys::FrameUse;
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
    pub(super) fn view_page(
        &self,
        m: &Machine,
        vpn: Vpn,
        pte: Pte,
    ) -> Option<(View, PageRange, u64, PrototypePte, Protection)> {
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
pub(super) fn prototype_pointer(view: View, page: u64, protection: Protection) -> Pte {
    // Segments hold at most MAX_SEGMENT_PAGES pages, so the page fits 32 bits.
    let page = u32::try_from(page).unwrap_or(u32::MAX);
    Pte::Prototype { at: PrototypePointer { segment: view.segment.raw(), page }, protection }
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
