//! The address space of one process: its VADs, page tables and TLB, and every operation on
//! them, one per file (reserve, commit, decommit, release, protect, query, lock, write watch,
//! reset, fault, access), as Asterinas splits its VMAR.
//!
//! Contracts:
//! - Per-page state lives in the PTEs (zero = reserved, demand-zero / valid / transition =
//!   committed); a VAD holds what all its pages share.
//! - Every operation is all-or-nothing: it validates and charges before it changes anything.
//! - Committing charges the pages and the page-table pages they need; page tables are created
//!   at commit and freed (and uncharged) when they map nothing.
//! - Every PTE write goes through [`AddressSpace::set_pte`], which keeps the working set and
//!   flushes the TLB.
//! - A page is resident (valid PTE, in the working set), trimmed (transition PTE, its frame on
//!   the standby or modified list), or on disk (page-file PTE); every move between them goes
//!   through `trim.rs` and `fault.rs`.
//!
//! Neighbours: `paging` below (tables, TLB), `phys` (frames), `system` above (processes).

pub mod access;
mod commit;
mod decommit;
mod error;
mod eviction;
mod fault;
mod lock;
mod placement;
mod protect;
mod query;
mod release;
mod reserve;
mod reset;
mod trim;
mod vad;
mod view;
mod view_copy;
mod working_set;
mod write_watch;

pub use access::AccessFault;
pub use error::VmError;
pub use eviction::EvictionPolicy;
pub use placement::Placement;
pub use query::{Region, RegionState};
pub use reserve::{ReserveKind, ReserveOptions};
pub use vad::{Located, Vad, VadKind, VadTree, View};
pub use working_set::{
    WorkingSet, WorkingSetLimits, DEFAULT_MAXIMUM, DEFAULT_MINIMUM, SMALLEST_MAXIMUM, SMALLEST_MINIMUM,
};

use crate::machine::Machine;
use crate::paging::{PageTables, Protection, Pte, Tlb, TlbFlush};
use crate::phys::{FrameUse, PfnFlags, PhysicalMemory};
use crate::units::{Pfn, PhysAddr, Vpn, PAGE_SHIFT};

/// Page faults of one process, by how they were resolved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// First touches of committed pages: a zeroed frame was taken.
    pub demand_zero: u64,
    /// The frame was still in memory (transition PTE): no I/O.
    pub soft: u64,
    /// The page was read from a page file.
    pub hard: u64,
    /// Guard pages fired (F96).
    pub guard: u64,
    /// Access violations raised.
    pub access_violation: u64,
    /// Writes to copy-on-write pages that made a private copy (F158).
    pub copy_on_write: u64,
    /// Faults on view pages resolved through their prototype PTE (also counted as the
    /// demand-zero, soft or hard fault each was, or as the copy it made).
    pub prototype: u64,
}

impl FaultCounts {
    /// Faults that were resolved by the memory manager (what `PageFaultCount` counts).
    #[must_use]
    pub fn resolved(&self) -> u64 {
        self.demand_zero + self.soft + self.hard + self.copy_on_write
    }

    /// Adds another's counts to these.
    pub fn add(&mut self, other: &FaultCounts) {
        self.demand_zero += other.demand_zero;
        self.soft += other.soft;
        self.hard += other.hard;
        self.guard += other.guard;
        self.access_violation += other.access_violation;
        self.copy_on_write += other.copy_on_write;
        self.prototype += other.prototype;
    }
}

/// The figures of one address space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpaceCounters {
    /// Committed private pages (the process's commit charge, `PrivateUsage`).
    pub committed_pages: u64,
    /// Highest `committed_pages` seen.
    pub peak_committed_pages: u64,
    /// Resident pages mapped by valid PTEs (the working set).
    pub working_set: u64,
    /// Highest working set seen.
    pub peak_working_set: u64,
    /// Pages locked with VirtualLock.
    pub locked_pages: u64,
    /// Page faults by kind.
    pub faults: FaultCounts,
}

/// The state of a page inside an allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PageState {
    Reserved,
    Committed(Protection),
}

impl PageState {
    /// The state a PTE gives its page: a valid PTE carries its protection (no PFN read).
    pub(crate) fn of(pte: Pte) -> PageState {
        match pte {
            Pte::Zero => PageState::Reserved,
            Pte::DemandZero(p) | Pte::Transition { protection: p, .. } | Pte::PageFile { protection: p, .. } => {
                PageState::Committed(p)
            }
            Pte::Valid(v) => PageState::Committed(v.protection()),
            // A view page's state is its prototype's: `view.rs` reads it.
            Pte::Prototype { protection, .. } => PageState::Committed(protection),
        }
    }
}

/// A process can lock its working-set minimum less the eight pages Windows keeps for itself
/// (VirtualLock documentation).
const LOCK_OVERHEAD_PAGES: u64 = 8;

/// One process's address space.
pub struct AddressSpace {
    pub(crate) tables: PageTables,
    pub(crate) tlb: Tlb,
    pub(crate) vads: VadTree,
    pub(crate) counters: SpaceCounters,
    pub(crate) ws: WorkingSet,
    /// View pages this process locked: a shared frame's lock belongs to the working set that
    /// took it, not to the frame (NT keeps it in the working-set list entry), so another
    /// process mapping the frame neither holds nor counts it.
    pub(crate) locked_views: std::collections::BTreeSet<Vpn>,
    /// The memory priority its pages get (0–7, default 5): the page priority a frame takes
    /// when this process maps it (`SetProcessInformation(ProcessMemoryPriority)`).
    pub(crate) priority: u8,
}

/// Where the shared user data page is mapped in every process (F6).
pub const SHARED_USER_DATA: u64 = 0x7FFE_0000;

impl AddressSpace {
    /// A new address space with the shared user data page mapped read-only. Charges its PML4
    /// and the tables of that mapping.
    pub(crate) fn create(m: &mut Machine, shared_user_data: Pfn) -> Result<AddressSpace, VmError> {
        const TABLES: u64 = 4; // PML4, and the PDPT, PD and PT of 0x7FFE0000
        m.charge(TABLES).map_err(|_| VmError::CommitLimit)?;
        // Page tables come from the zeroed and free lists: repurpose standby pages onto them
        // first, as a demand-zero fault would take one (issue 6 item 1).
        if !m.make_free(TABLES) {
            m.commit.uncharge(TABLES);
            return Err(VmError::OutOfFrames(TABLES));
        }
        let phys = &mut m.phys;
        let Some(tables) = PageTables::create(phys) else {
            m.commit.uncharge(TABLES);
            return Err(VmError::OutOfFrames(TABLES));
        };
        let mut space = AddressSpace {
            tables,
            tlb: Tlb::default(),
            vads: VadTree::default(),
            counters: SpaceCounters::default(),
            ws: WorkingSet::default(),
            locked_views: std::collections::BTreeSet::new(),
            priority: crate::phys::DEFAULT_PRIORITY,
        };
        let vpn = Vpn(SHARED_USER_DATA >> PAGE_SHIFT);
        let Some(at) = space.tables.ensure(phys, vpn, false) else {
            // All-or-nothing: the tables made so far go back, and with them the whole charge.
            space.tables.destroy(phys);
            m.commit.uncharge(TABLES);
            return Err(VmError::OutOfFrames(TABLES));
        };
        let pte = crate::paging::ValidPte::new(shared_user_data, Protection::READ_ONLY);
        space.set_pte(phys, at, vpn, Pte::Valid(pte));
        phys.pfn_mut(shared_user_data).share_count += 1;
        space.vads.insert(Vad {
            range: crate::units::PageRange { start: vpn, end: vpn.add(1) },
            allocation_protection: Protection::READ_ONLY,
            kind: VadKind::SharedUserData,
            write_watch: None,
            uniform: None,
        });
        Ok(space)
    }

    /// The VADs.
    #[must_use]
    pub fn vads(&self) -> &VadTree {
        &self.vads
    }

    /// The page tables.
    #[must_use]
    pub fn page_tables(&self) -> &PageTables {
        &self.tables
    }

    /// The TLB.
    #[must_use]
    pub fn tlb(&self) -> &Tlb {
        &self.tlb
    }

    /// The figures.
    #[must_use]
    pub fn counters(&self) -> SpaceCounters {
        self.counters
    }

    /// The PTE of a page as it is now.
    #[must_use]
    pub fn pte(&self, phys: &PhysicalMemory, vpn: Vpn) -> Pte {
        self.tables.pte(phys, vpn)
    }

    /// Writes a leaf PTE: keeps the working set (its count and its trimmable private pages)
    /// and flushes the TLB. A write that changes the page's state (reserved or committed, and
    /// with which protection) makes its VAD forget that its pages share one (`Vad::uniform`).
    pub(crate) fn set_pte(&mut self, phys: &mut PhysicalMemory, at: PhysAddr, vpn: Vpn, new: Pte) {
        TlbFlush::apply_owed(self.set_pte_owing(phys, at, vpn, new), &mut self.tlb);
    }

    /// [`Self::set_pte`], returning the TLB invalidation it owes (when the old PTE was valid)
    /// rather than applying it: for a caller that rewrites a range and applies one
    /// invalidation over it before it returns (see [`TlbFlush::join`]).
    pub(crate) fn set_pte_owing(
        &mut self,
        phys: &mut PhysicalMemory,
        at: PhysAddr,
        vpn: Vpn,
        new: Pte,
    ) -> Option<TlbFlush> {
        let old = Pte::decode(phys.read_u64(at));
        if PageState::of(old) != PageState::of(new) {
            self.vads.forget_uniform(vpn);
        }
        self.replace_pte_owing(phys, at, vpn, old, new)
    }

    /// [`Self::set_pte_owing`] where the caller has already read the PTE there (`old`) and
    /// made the VAD forget its pages' one state if this write changes it. The TLB can hold a
    /// page only while its PTE is valid, so only a valid PTE's change owes an invalidation.
    fn replace_pte_owing(
        &mut self,
        phys: &mut PhysicalMemory,
        at: PhysAddr,
        vpn: Vpn,
        old: Pte,
        new: Pte,
    ) -> Option<TlbFlush> {
        match (old, new) {
            (Pte::Valid(_), Pte::Valid(_)) => {}
            (_, Pte::Valid(v)) => {
                phys.set_priority(v.pfn(), self.priority);
                self.counters.working_set += 1;
                self.counters.peak_working_set = self.counters.peak_working_set.max(self.counters.working_set);
                if matches!(phys.pfn(v.pfn()).usage(), FrameUse::Private | FrameUse::Section) {
                    self.ws.insert(vpn);
                }
            }
            (Pte::Valid(_), _) => {
                self.counters.working_set -= 1;
                self.ws.remove(vpn);
            }
            _ => {}
        }
        let flush = self.tables.write(phys, at, vpn, new);
        matches!(old, Pte::Valid(_)).then_some(flush)
    }

    /// Drops a committed page: its frame (in use or parked on a list) and its page-file slot
    /// go back, its PTE becomes zero. Returns 1 when a committed page was dropped.
    pub(crate) fn drop_page(&mut self, m: &mut Machine, at: PhysAddr, vpn: Vpn) -> u64 {
        self.vads.forget_uniform(vpn);
        let raw = m.phys.read_u64(at);
        let (dropped, flush) = self.drop_page_owing(m, at, vpn, raw);
        TlbFlush::apply_owed(flush, &mut self.tlb);
        dropped
    }

    /// [`Self::drop_page`] where the caller has already read the PTE's value there (`raw`)
    /// and made the page's VAD forget its pages' one state (`Vad::uniform`). Returns the
    /// TLB invalidation owed beside the count, for the caller to apply once for a whole range
    /// (a native-engine host flush is a system call; one call unmaps a run of pages). Until it
    /// is applied the frame may still be reachable through a TLB entry: it is on the free
    /// list, zeroed before any reuse, and nothing reuses it within the caller's call.
    pub(crate) fn drop_page_owing(
        &mut self,
        m: &mut Machine,
        at: PhysAddr,
        vpn: Vpn,
        raw: u64,
    ) -> (u64, Option<TlbFlush>) {
        let pte = Pte::decode(raw);
        if pte == Pte::Zero {
            return (0, None);
        }
        let flush = self.replace_pte_owing(&mut m.phys, at, vpn, pte, Pte::Zero);
        if let Pte::PageFile { file, slot, .. } = pte {
            m.files.free(file, slot);
        }
        if let Some(pfn) = pte.frame() {
            let e = *m.phys.pfn(pfn);
            if e.usage() == FrameUse::SharedUserData {
                m.phys.pfn_mut(pfn).share_count -= 1;
                return (0, flush);
            }
            if e.flags().has(PfnFlags::LOCKED) {
                self.counters.locked_pages -= 1;
            }
            if let Some((file, slot)) = e.backing() {
                m.files.free(file, slot);
            }
            m.phys.release(pfn);
        }
        (1, flush)
    }

    pub(crate) fn add_committed(&mut self, pages: u64) {
        self.counters.committed_pages += pages;
        self.counters.peak_committed_pages = self.counters.peak_committed_pages.max(self.counters.committed_pages);
    }

    /// The pages a process may lock at most.
    #[must_use]
    pub fn lock_limit(&self) -> u64 {
        self.ws.limits().minimum.saturating_sub(LOCK_OVERHEAD_PAGES)
    }

    /// The memory priority its pages get (0–7).
    #[must_use]
    pub fn memory_priority(&self) -> u8 {
        self.priority
    }

    /// The working set.
    #[must_use]
    pub fn working_set(&self) -> &WorkingSet {
        &self.ws
    }

    /// True when the page at `vpn`, mapping frame `pfn`, is locked in this working set.
    pub(crate) fn page_locked(&self, phys: &PhysicalMemory, vpn: Vpn, pfn: Pfn) -> bool {
        let e = phys.pfn(pfn);
        match e.usage() {
            FrameUse::Section => self.locked_views.contains(&vpn),
            FrameUse::SharedUserData => true,
            _ => e.flags().has(PfnFlags::LOCKED),
        }
    }

    /// View pages locked by this process.
    pub fn locked_view_pages(&self) -> impl Iterator<Item = Vpn> + '_ {
        self.locked_views.iter().copied()
    }

    /// True when this process locked view page `vpn`.
    #[must_use]
    pub fn is_view_page_locked(&self, vpn: Vpn) -> bool {
        self.locked_views.contains(&vpn)
    }

    /// Tears the address space down: every page, frame, slot and table goes back, and the
    /// commit charge of all of them is returned.
    pub(crate) fn destroy(mut self, m: &mut Machine) {
        let starts: Vec<Vpn> = self.vads.iter().map(|v| v.range.start).collect();
        for start in starts {
            let released = self.release_vad(m, start);
            m.commit.uncharge(released);
        }
        let tables = self.tables.table_count();
        let freed = self.tables.destroy(&mut m.phys);
        debug_assert_eq!(tables, freed, "table count out of step with the tables");
        m.commit.uncharge(freed);
    }
}
