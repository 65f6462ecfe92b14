//! The invariant checker: walks the PFN database, the page lists, every process's page tables,
//! VADs and TLB, and the commit charge, and reports the first inconsistency. Tests run it after
//! every API call (`Config::with_invariant_checks`), as Zircon's PMM checker does.
//!
//! What must hold:
//! - every frame on a list is in that list's state, and the list lengths count them all;
//! - every table frame is an active page table whose share count is its non-zero entries and
//!   whose back-pointer is the entry that maps it;
//! - every valid or transition PTE maps a frame that points back at it (valid: in use;
//!   transition: on the standby or modified list, or a resident guard / no-access page); every
//!   private frame is mapped exactly once; the shared user data frame once per process;
//! - a frame on the modified list is modified and has no page-file copy; one on standby is
//!   clean and has a copy (or was MEM_RESET); no frame is parked without a PTE pointing at it;
//! - every allocated page-file slot belongs to exactly one page (a page-file PTE, or the copy
//!   of a frame), and every slot a page names is allocated;
//! - the working set holds exactly the valid private pages; a locked page's frame is in use; a hard
//!   maximum holds (but when every private page left is locked);
//! - non-zero PTEs lie only inside allocations; committed pages, working set and locked pages
//!   match the counters;
//! - every TLB entry agrees with its PTE and grants nothing more;
//! - the VAD index is well formed, and the paging-structure cache names the page tables the
//!   PDEs point to;
//! - VADs do not overlap and stay in the user range;
//! - commit total = the shared page + every process's committed pages and table pages + the
//!   commit of `SEC_COMMIT` segments, and frames in use never exceed it;
//! - sections: each segment's section count is the sections referring to it, a host file has
//!   at most one data segment (and the index names it), a `SEC_COMMIT` page-file segment is
//!   charged for all its pages and any other for none, each object's handle count is the
//!   handles naming it, every handle names a live object, every name stands for a live
//!   object that bears it (sections and events share the namespace).

use crate::address_space::{AddressSpace, PageState, VadKind};
use crate::arch::x86_64::{self as hw, entry_address, entry_frame, ENTRIES_PER_TABLE};
use crate::paging::Pte;
use crate::phys::{FrameUse, ListKind, PfnFlags, PfnState, PhysicalMemory, MAX_PRIORITY};
use crate::system::System;
use crate::units::{Pfn, PhysAddr, Vpn, MIN_USER_ADDRESS, PAGES_PER_LARGE_PAGE, USER_END};
use std::collections::HashMap;

/// An inconsistency the checker found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invariant violated: {0}")]
pub struct InvariantViolation(pub String);

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(InvariantViolation(format!($($fmt)+)));
        }
    };
}

// After the macro, which it uses.
mod sections;

/// Checks every invariant of the system.
pub fn check(sys: &System) -> Result<(), InvariantViolation> {
    let phys = sys.phys();
    check_lists(phys)?;
    let mut mapped: HashMap<Pfn, u32> = HashMap::new();
    let mut slots: HashMap<(u8, u32), u32> = HashMap::new();
    // The shared user data page, and the segments' pages.
    let mut expected_commit = 1 + sys.segments().iter().map(|(_, s)| s.commit()).sum::<u64>();
    sections::check(sys)?;
    // The running list is the processes with an address space, in creation order; a
    // terminated process holds no handles.
    let running: Vec<_> = sys.running_processes().map(crate::system::Process::id).collect();
    let with_space: Vec<_> = sys.processes().filter(|p| p.space().is_some()).map(crate::system::Process::id).collect();
    ensure!(running == with_space, "running list {running:x?}, processes with an address space {with_space:x?}");
    if let Some(p) = sys.processes().find(|p| p.space().is_none() && p.handles().iter().next().is_some()) {
        return Err(InvariantViolation(format!("terminated process {:#x} holds handles", u32::from(p.id()))));
    }
    let mut live = 0;
    for process in sys.processes() {
        let Some(space) = process.space() else { continue };
        live += 1;
        expected_commit += check_space(sys, space, &mut mapped, &mut slots)
            .map_err(|e| InvariantViolation(format!("process {:#x}: {}", u32::from(process.id()), e.0)))?;
    }
    let shared = sys.shared_user_data();
    ensure!(
        mapped.get(&shared).copied().unwrap_or(0) == live && u32::from(phys.pfn(shared).share_count()) == live,
        "shared user data frame mapped {:?} times, share count {}, {} processes",
        mapped.get(&shared),
        phys.pfn(shared).share_count(),
        live
    );
    for (pfn, n) in &mapped {
        let e = phys.pfn(*pfn);
        if e.usage() == FrameUse::Private || e.usage() == FrameUse::LargePage {
            ensure!(*n == 1, "private frame {pfn:?} mapped {n} times");
        }
    }
    let section_frames = sections::check_segments(sys, &mapped, &mut slots)?;
    for list in [ListKind::Standby, ListKind::Modified, ListKind::ModifiedNoWrite] {
        for pfn in phys.list_iter(list) {
            let e = phys.pfn(pfn);
            let file_page = e.usage() == FrameUse::Section && section_frames.file.contains(&pfn);
            ensure!(
                mapped.contains_key(&pfn) || section_frames.parked.contains(&pfn),
                "frame {pfn:?} on the {} list belongs to no PTE",
                list.name()
            );
            let modified = e.flags().has(PfnFlags::MODIFIED);
            match list {
                ListKind::Modified => {
                    ensure!(modified && e.backing().is_none(), "modified-list frame {pfn:?} is {e:?}")
                }
                // Deferred writes are a file section's (system/objects.rs).
                ListKind::ModifiedNoWrite => {
                    ensure!(modified && e.backing().is_none() && file_page, "modified no-write frame {pfn:?} is {e:?}")
                }
                // A clean file page's copy is its file.
                _ => ensure!(
                    !modified && (e.backing().is_some() || e.flags().has(PfnFlags::RESET) || file_page),
                    "standby frame {pfn:?} is {e:?}"
                ),
            }
        }
    }
    let files = sys.page_files();
    for (&(file, slot), &owners) in &slots {
        ensure!(owners == 1, "page-file slot {file}:{slot} belongs to {owners} pages");
        ensure!(files.is_allocated(file, slot), "page-file slot {file}:{slot} is named but not allocated");
    }
    ensure!(slots.len() as u64 == files.used(), "{} slots in use but {} belong to pages", files.used(), slots.len());
    let limit = u64::from(phys.frame_count()) - 1 + files.capacity();
    ensure!(sys.commit().limit() == limit, "commit limit {} but RAM and page files make {limit}", sys.commit().limit());
    let commit = sys.commit();
    ensure!(
        commit.total() == expected_commit,
        "commit total {} but pages and tables add up to {}",
        commit.total(),
        expected_commit
    );
    // Only must-succeed charges pass the limit, and only page tables are charged so.
    let tables: u64 = sys.processes().filter_map(|p| p.space()).map(|s| s.page_tables().table_count()).sum();
    ensure!(
        commit.total() <= commit.limit() + tables,
        "commit total {} over the limit {} by more than the {tables} page tables",
        commit.total(),
        commit.limit()
    );
    // File pages are backed by their files, not charged.
    ensure!(
        phys.active_count() - 1 - section_frames.active_file <= commit.total(),
        "{} frames in use but only {} charged",
        phys.active_count() - 1 - section_frames.active_file,
        commit.total()
    );
    for process in sys.processes() {
        let Some(space) = process.space() else { continue };
        check_lookup_structures(phys, space)
            .map_err(|e| InvariantViolation(format!("process {:#x}: {}", u32::from(process.id()), e.0)))?;
    }
    Ok(())
}

fn check_lists(phys: &PhysicalMemory) -> Result<(), InvariantViolation> {
    let mut on_lists = 0;
    for list in ListKind::ALL {
        let mut n = 0;
        for pfn in phys.list_iter(list) {
            let state = phys.pfn(pfn).state();
            ensure!(state.list() == Some(list), "frame {pfn:?} on the {} list is {state:?}", list.name());
            n += 1;
        }
        ensure!(
            n == phys.list_len(list),
            "{} list holds {n} frames, its length says {}",
            list.name(),
            phys.list_len(list)
        );
        on_lists += n;
    }
    // The standby list is one list per page priority: each frame on the list of its own.
    let mut standby = 0;
    for priority in 0..=MAX_PRIORITY {
        for pfn in phys.standby_iter(priority) {
            let e = phys.pfn(pfn);
            ensure!(
                e.state() == PfnState::Standby && e.priority() == priority,
                "frame {pfn:?} on the priority-{priority} standby list is {e:?}"
            );
            standby += 1;
        }
        ensure!(
            phys.standby_iter(priority).count() as u64 == phys.standby_len(priority),
            "priority-{priority} standby list length out of step"
        );
    }
    ensure!(standby == phys.list_len(ListKind::Standby), "standby lists hold {standby}, the length says otherwise");
    for raw in 0..phys.frame_count() {
        let p = phys.pfn(Pfn(raw)).priority();
        ensure!(p <= MAX_PRIORITY, "frame {raw} has page priority {p}");
    }
    let mut active = 0;
    for raw in 0..phys.frame_count() {
        active += u64::from(phys.pfn(Pfn(raw)).state() == PfnState::Active);
    }
    ensure!(active == phys.active_count(), "{active} active frames, counter says {}", phys.active_count());
    ensure!(
        active + on_lists == u64::from(phys.frame_count()),
        "{active} active + {on_lists} on lists != {} frames",
        phys.frame_count()
    );
    Ok(())
}

/// Checks one address space; returns its commit charge (committed pages + tables).
fn check_space(
    sys: &System,
    space: &AddressSpace,
    mapped: &mut HashMap<Pfn, u32>,
    slots: &mut HashMap<(u8, u32), u32>,
) -> Result<u64, InvariantViolation> {
    let phys = sys.phys();
    let shared = sys.shared_user_data();
    let mut prev_end = MIN_USER_ADDRESS;
    // A process's private copies in views are covered by its views' charges, summed (a view
    // may be charged for more than it copies, F209, so this is not checked view by view).
    let mut view_charges = 0;
    for vad in space.vads().iter() {
        if let Some(view) = vad.view() {
            view_charges += view.charged;
            ensure!(sys.segments().get(view.segment).is_some(), "view at {:?} of a dead segment", vad.range);
            ensure!(sys.sections().section(view.section).is_some(), "view at {:?} of a dead section", vad.range);
        }
        ensure!(vad.range.start_addr() >= prev_end, "VAD at {:#x} overlaps the one before", vad.range.start_addr());
        ensure!(
            vad.range.end_addr() <= USER_END && !vad.range.is_empty(),
            "VAD {:?} outside the user range",
            vad.range
        );
        prev_end = vad.range.end_addr();
        if let Some(state) = vad.uniform {
            ensure!(
                vad.kind == VadKind::Private,
                "a {:?} VAD at {:?} says its pages share a state",
                vad.kind,
                vad.range
            );
            // A zero PTE (or a missing table) is a reserved page: only the others are read.
            let mut sharing = 0;
            let mut differs = None;
            space.page_tables().for_each_mapped(phys, vad.range, |vpn, _, raw| {
                let page = PageState::of(Pte::decode(raw));
                if page == state {
                    sharing += 1;
                } else {
                    differs = differs.or(Some((vpn, page)));
                }
            });
            ensure!(differs.is_none(), "VAD {:?} says its pages are all {state:?}, page {differs:?}", vad.range);
            ensure!(
                sharing == if state == PageState::Reserved { 0 } else { vad.range.len() },
                "VAD {:?} says its pages are all {state:?}, {sharing} are",
                vad.range
            );
        }
    }
    let mut walk = Walk {
        phys,
        segments: sys.segments(),
        space,
        shared,
        mapped,
        slots,
        tables: 0,
        committed: view_charges,
        copies: 0,
        valid: 0,
        locked: 0,
        private_valid: 0,
    };
    walk.table(space.page_tables().root(), None, 0, 0)?;
    let counters = space.counters();
    ensure!(
        walk.tables == space.page_tables().table_count(),
        "{} tables found, {} counted",
        walk.tables,
        space.page_tables().table_count()
    );
    ensure!(
        walk.committed == counters.committed_pages,
        "{} committed pages found, {} counted",
        walk.committed,
        counters.committed_pages
    );
    ensure!(walk.valid == counters.working_set, "{} valid PTEs, working set says {}", walk.valid, counters.working_set);
    ensure!(
        walk.locked == counters.locked_pages,
        "{} locked pages found, {} counted",
        walk.locked,
        counters.locked_pages
    );
    ensure!(
        walk.private_valid == space.working_set().len(),
        "{} valid private pages, the working set lists {}",
        walk.private_valid,
        space.working_set().len()
    );
    let limits = space.working_set().limits();
    ensure!(
        !limits.hard_maximum || counters.working_set <= limits.maximum || walk.private_valid <= counters.locked_pages,
        "working set of {} pages over its hard maximum of {} with pages to trim",
        counters.working_set,
        limits.maximum
    );
    for (vpn, pfn, perms) in space.tlb().entries() {
        let pte = space.pte(phys, vpn);
        let Pte::Valid(v) = pte else {
            return Err(InvariantViolation(format!("TLB caches {vpn:?} but its PTE is {pte:?}")));
        };
        ensure!(v.pfn() == pfn, "TLB maps {vpn:?} to {pfn:?}, PTE to {:?}", v.pfn());
        ensure!(perms & 2 == 0 || (v.writable() && v.dirty()), "TLB allows writes to {vpn:?} beyond its PTE");
        ensure!(perms & 4 == 0 || v.executable(), "TLB allows execution of {vpn:?} beyond its PTE");
    }
    ensure!(walk.copies <= view_charges, "{} private copies in views charged {view_charges}", walk.copies);
    for vpn in space.locked_view_pages() {
        let pte = space.pte(phys, vpn);
        ensure!(
            matches!(pte, Pte::Valid(v) if phys.pfn(v.pfn()).usage() == FrameUse::Section),
            "locked view page {vpn:?} is {pte:?}"
        );
    }
    Ok(walk.committed + walk.tables)
}

struct Walk<'a> {
    phys: &'a PhysicalMemory,
    segments: &'a crate::section::Segments,
    /// Private copies made by copy-on-write in views.
    copies: u64,
    space: &'a AddressSpace,
    shared: Pfn,
    mapped: &'a mut HashMap<Pfn, u32>,
    slots: &'a mut HashMap<(u8, u32), u32>,
    tables: u64,
    private_valid: u64,
    committed: u64,
    valid: u64,
    locked: u64,
}

impl Walk<'_> {
    fn table(
        &mut self,
        table: Pfn,
        parent: Option<PhysAddr>,
        depth: usize,
        base: u64,
    ) -> Result<(), InvariantViolation> {
        let e = self.phys.pfn(table);
        ensure!(
            e.state() == PfnState::Active && e.usage() == FrameUse::PageTable,
            "table frame {table:?} is {:?}/{:?}",
            e.state(),
            e.usage()
        );
        ensure!(e.pte() == parent, "table frame {table:?} points back at {:?}, mapped from {parent:?}", e.pte());
        self.tables += 1;
        let mut nonzero = 0;
        let span_pages = 1u64 << (9 * (3 - depth));
        for i in 0..ENTRIES_PER_TABLE {
            let at = entry_address(table, i);
            let raw = self.phys.read_u64(at);
            if raw == 0 {
                continue;
            }
            nonzero += 1;
            let vpn = Vpn(base + i as u64 * span_pages);
            if depth < 3 {
                ensure!(raw & hw::P != 0, "non-leaf entry {at:?} is not present: {raw:#x}");
                if depth == 2 && raw & hw::PS != 0 {
                    self.large(vpn, at, raw)?;
                } else {
                    self.table(entry_frame(raw), Some(at), depth + 1, vpn.as_u64())?;
                }
            } else {
                self.leaf(vpn, at, raw)?;
            }
        }
        ensure!(
            u64::from(e.share_count()) == nonzero,
            "table {table:?} has {nonzero} entries, share count {}",
            e.share_count()
        );
        Ok(())
    }

    fn large(&mut self, vpn: Vpn, at: PhysAddr, raw: u64) -> Result<(), InvariantViolation> {
        let vad = self.space.vads().find(vpn);
        ensure!(vad.is_some_and(|v| v.kind == VadKind::LargePages), "large PDE at {vpn:?} outside a large-page VAD");
        let first = entry_frame(raw);
        for i in 0..PAGES_PER_LARGE_PAGE {
            let pfn = Pfn(first.0 + u32::try_from(i).unwrap_or(0));
            let e = self.phys.pfn(pfn);
            ensure!(
                e.state() == PfnState::Active && e.usage() == FrameUse::LargePage && e.pte() == Some(at),
                "large-page frame {pfn:?} is {e:?}"
            );
            *self.mapped.entry(pfn).or_default() += 1;
            self.locked += u64::from(e.flags().has(PfnFlags::LOCKED));
        }
        self.committed += PAGES_PER_LARGE_PAGE;
        self.valid += PAGES_PER_LARGE_PAGE;
        Ok(())
    }

    fn leaf(&mut self, vpn: Vpn, at: PhysAddr, raw: u64) -> Result<(), InvariantViolation> {
        let vad = self.space.vads().find(vpn);
        let Some(vad) = vad else {
            return Err(InvariantViolation(format!("PTE {raw:#x} for {vpn:?} outside every allocation")));
        };
        let pte = Pte::decode(raw);
        if vad.kind == VadKind::SharedUserData {
            ensure!(pte.frame() == Some(self.shared), "shared user data PTE is {pte:?}");
            *self.mapped.entry(self.shared).or_default() += 1;
            self.valid += 1;
            return Ok(());
        }
        if let Some(view) = vad.view() {
            let page = view.page_of(vad.range.start, vpn);
            match pte {
                Pte::Prototype { at: p, .. } => {
                    ensure!(
                        p.segment == view.segment.raw() && u64::from(p.page) == page,
                        "{vpn:?} points at prototype {p:?}, its view maps page {page}"
                    );
                    let proto = self.segments.get(view.segment).and_then(|s| s.prototype(page));
                    ensure!(
                        proto.is_some_and(|p| p != crate::paging::PrototypePte::Reserved),
                        "{vpn:?} points at the uncommitted prototype {proto:?}"
                    );
                    return Ok(());
                }
                Pte::Valid(v) if self.phys.pfn(v.pfn()).usage() == FrameUse::Section => {
                    let pfn = v.pfn();
                    let e = self.phys.pfn(pfn);
                    ensure!(
                        e.state() == PfnState::Active && e.prototype() == Some((view.segment.raw(), page)),
                        "{vpn:?} maps section frame {pfn:?} which is {e:?}, not page {page} of its view's segment"
                    );
                    *self.mapped.entry(pfn).or_default() += 1;
                    ensure!(!e.flags().has(PfnFlags::LOCKED), "section frame {pfn:?} carries a frame lock");
                    self.locked += u64::from(self.space.is_view_page_locked(vpn));
                    self.valid += 1;
                    self.private_valid += 1;
                    ensure!(self.space.working_set().contains(vpn), "valid {vpn:?} is not in the working set");
                    ensure!(v.protection().maps_present(), "{vpn:?} is valid with protection {:?}", v.protection());
                    ensure!(
                        v.writable() == v.protection().can_write(),
                        "{vpn:?}: write bit disagrees with {:?}",
                        v.protection()
                    );
                    return Ok(());
                }
                // Any other format is the page's private copy (F158).
                _ => {
                    self.copies += 1;
                    self.committed -= 1;
                }
            }
        } else {
            ensure!(vad.kind == VadKind::Private, "PTE for {vpn:?} in a {:?} VAD", vad.kind);
        }
        self.committed += 1;
        match pte {
            Pte::Zero => unreachable!("zero entries are skipped"),
            Pte::Prototype { .. } => {
                return Err(InvariantViolation(format!("prototype pointer {pte:?} at {vpn:?} outside a view")))
            }
            Pte::DemandZero(p) => ensure!(!p.is_none(), "demand-zero PTE for {vpn:?} without protection"),
            Pte::PageFile { file, slot, protection } => {
                ensure!(!protection.is_none(), "page-file PTE for {vpn:?} without protection");
                *self.slots.entry((file, slot)).or_default() += 1;
            }
            Pte::Valid(_) | Pte::Transition { .. } => {
                let pfn = pte.frame().expect("valid and transition PTEs hold a frame");
                let e = self.phys.pfn(pfn);
                let state_ok = match pte {
                    Pte::Valid(_) => e.state() == PfnState::Active,
                    _ => matches!(
                        e.state(),
                        PfnState::Active | PfnState::Standby | PfnState::Modified | PfnState::ModifiedNoWrite
                    ),
                };
                ensure!(
                    state_ok && e.usage() == FrameUse::Private,
                    "{vpn:?} ({pte:?}) maps frame {pfn:?} which is {:?}/{:?}",
                    e.state(),
                    e.usage()
                );
                if let Some(backing) = e.backing() {
                    *self.slots.entry(backing).or_default() += 1;
                    // A reset page gave its copy back; one written again is no longer reset.
                    ensure!(!e.flags().has(PfnFlags::RESET), "frame {pfn:?} has a page-file copy and is reset: {e:?}");
                }
                ensure!(e.pte() == Some(at), "frame {pfn:?} points back at {:?}, mapped from {at:?}", e.pte());
                ensure!(e.share_count() == 1, "private frame {pfn:?} share count {}", e.share_count());
                *self.mapped.entry(pfn).or_default() += 1;
                self.locked += u64::from(e.flags().has(PfnFlags::LOCKED));
                if let Pte::Valid(v) = pte {
                    self.valid += 1;
                    self.private_valid += 1;
                    ensure!(self.space.working_set().contains(vpn), "valid {vpn:?} is not in the working set");
                    ensure!(e.protection().maps_present(), "{vpn:?} is valid with protection {:?}", e.protection());
                    ensure!(
                        v.protection() == e.protection(),
                        "{vpn:?}: the PTE's protection {:?} disagrees with its frame's {:?}",
                        v.protection(),
                        e.protection()
                    );
                    ensure!(
                        v.writable() == e.protection().can_write(),
                        "{vpn:?}: write bit disagrees with {:?}",
                        e.protection()
                    );
                } else if let Pte::Transition { protection, .. } = pte {
                    // A locked page made no-access or guard keeps its frame in use; one on a
                    // list could be repurposed.
                    ensure!(
                        !e.flags().has(PfnFlags::LOCKED) || e.state() == PfnState::Active,
                        "locked {vpn:?} is not resident: its frame is {:?}",
                        e.state()
                    );
                    ensure!(
                        protection == e.protection(),
                        "transition PTE of {vpn:?} disagrees with its frame's protection"
                    );
                }
            }
        }
        Ok(())
    }
}

/// The structures that speed look-ups up agree with what they stand for: the VAD index is
/// well formed, and every entry of the paging-structure cache names the page table its
/// region's PDE points to.
fn check_lookup_structures(phys: &PhysicalMemory, space: &AddressSpace) -> Result<(), InvariantViolation> {
    space.vads().check().map_err(|e| InvariantViolation(format!("VAD index: {e}")))?;
    for (vpn, table) in space.page_tables().cached_tables() {
        let leaf = space.page_tables().leaf(phys, vpn);
        ensure!(
            matches!(leaf, crate::paging::Leaf::Pte(at) if at.pfn() == table),
            "the paging-structure cache maps {vpn:?} to table {table:?}, the tables say {leaf:?}"
        );
    }
    Ok(())
}
