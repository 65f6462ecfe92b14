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
//! - Every PTE write goes through [`AddressSpace::set_pte`], which keeps the working-set count
//!   and flushes the TLB.
//!
//! Neighbours: `paging` below (tables, TLB), `phys` (frames), `system` above (processes).

pub mod access;
mod commit;
mod decommit;
mod error;
mod fault;
mod lock;
mod placement;
mod protect;
mod query;
mod release;
mod reserve;
mod reset;
mod vad;
mod write_watch;

pub use access::AccessFault;
pub use error::VmError;
pub use placement::Placement;
pub use query::{Region, RegionState};
pub use reserve::{ReserveKind, ReserveOptions};
pub use vad::{Vad, VadKind, VadTree};

use crate::commit_charge::CommitCharge;
use crate::paging::{PageTables, Protection, Pte, Tlb};
use crate::phys::{FrameUse, PhysicalMemory};
use crate::units::{Pfn, PhysAddr, Vpn, MIN_USER_ADDRESS, PAGE_SHIFT};

/// Page faults of one process, by how they were resolved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// First touches of committed pages: a zeroed frame was taken.
    pub demand_zero: u64,
    /// The frame was still in memory (transition PTE): no I/O.
    pub soft: u64,
    /// Guard pages fired (F96).
    pub guard: u64,
    /// Access violations raised.
    pub access_violation: u64,
}

impl FaultCounts {
    /// Faults that were resolved by the memory manager (what `PageFaultCount` counts).
    #[must_use]
    pub fn resolved(&self) -> u64 {
        self.demand_zero + self.soft
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
    pub(crate) fn of(pte: Pte, phys: &PhysicalMemory) -> PageState {
        match pte {
            Pte::Zero => PageState::Reserved,
            Pte::DemandZero(p) | Pte::Transition { protection: p, .. } => PageState::Committed(p),
            Pte::Valid(v) => PageState::Committed(phys.pfn(v.pfn()).protection()),
        }
    }
}

/// The working-set minimum Windows gives a process by default, in pages; a process can lock
/// this many pages less the eight Windows keeps for itself (VirtualLock documentation).
pub const DEFAULT_WORKING_SET_MINIMUM: u64 = 50;
const LOCK_OVERHEAD_PAGES: u64 = 8;

/// One process's address space.
pub struct AddressSpace {
    pub(crate) tables: PageTables,
    pub(crate) tlb: Tlb,
    pub(crate) vads: VadTree,
    /// No free gap below this page can hold a granule-aligned allocation.
    bottom_up_hint: u64,
    pub(crate) counters: SpaceCounters,
    working_set_minimum: u64,
}

/// Where the shared user data page is mapped in every process (F6).
pub const SHARED_USER_DATA: u64 = 0x7FFE_0000;

impl AddressSpace {
    /// A new address space with the shared user data page mapped read-only. Charges its PML4
    /// and the tables of that mapping.
    pub(crate) fn create(
        phys: &mut PhysicalMemory,
        commit: &mut CommitCharge,
        shared_user_data: Pfn,
    ) -> Result<AddressSpace, VmError> {
        const TABLES: u64 = 4; // PML4, and the PDPT, PD and PT of 0x7FFE0000
        commit.charge(TABLES).map_err(|_| VmError::CommitLimit)?;
        let Some(tables) = PageTables::create(phys) else {
            commit.uncharge(TABLES);
            return Err(VmError::CommitLimit);
        };
        let mut space = AddressSpace {
            tables,
            tlb: Tlb::default(),
            vads: VadTree::default(),
            bottom_up_hint: MIN_USER_ADDRESS >> PAGE_SHIFT,
            counters: SpaceCounters::default(),
            working_set_minimum: DEFAULT_WORKING_SET_MINIMUM,
        };
        let vpn = Vpn(SHARED_USER_DATA >> PAGE_SHIFT);
        let at = space.tables.ensure(phys, vpn, false).ok_or(VmError::CommitLimit)?;
        let pte = crate::paging::ValidPte::new(shared_user_data, Protection::READ_ONLY);
        space.set_pte(phys, at, vpn, Pte::Valid(pte));
        phys.pfn_mut(shared_user_data).share_count += 1;
        space.vads.insert(Vad {
            range: crate::units::PageRange { start: vpn, end: vpn.add(1) },
            allocation_protection: Protection::READ_ONLY,
            kind: VadKind::SharedUserData,
            write_watch: None,
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

    /// Writes a leaf PTE: keeps the working-set count, flushes the TLB.
    pub(crate) fn set_pte(&mut self, phys: &mut PhysicalMemory, at: PhysAddr, vpn: Vpn, new: Pte) {
        let old = Pte::decode(phys.read_u64(at));
        let (was, is) = (matches!(old, Pte::Valid(_)), matches!(new, Pte::Valid(_)));
        if is && !was {
            self.counters.working_set += 1;
            self.counters.peak_working_set = self.counters.peak_working_set.max(self.counters.working_set);
        } else if was && !is {
            self.counters.working_set -= 1;
        }
        self.tables.write(phys, at, vpn, new).apply(&mut self.tlb);
    }

    /// Drops a committed page: its frame (if any) goes back, its PTE becomes zero. Returns 1
    /// when a committed page was dropped.
    pub(crate) fn drop_page(&mut self, phys: &mut PhysicalMemory, at: PhysAddr, vpn: Vpn) -> u64 {
        let pte = Pte::decode(phys.read_u64(at));
        if pte == Pte::Zero {
            return 0;
        }
        self.set_pte(phys, at, vpn, Pte::Zero);
        if let Some(pfn) = pte.frame() {
            let e = phys.pfn(pfn);
            match e.usage() {
                FrameUse::SharedUserData => {
                    phys.pfn_mut(pfn).share_count -= 1;
                    return 0;
                }
                _ => {
                    if e.flags().has(crate::phys::PfnFlags::LOCKED) {
                        self.counters.locked_pages -= 1;
                    }
                    phys.release(pfn);
                }
            }
        }
        1
    }

    pub(crate) fn add_committed(&mut self, pages: u64) {
        self.counters.committed_pages += pages;
        self.counters.peak_committed_pages = self.counters.peak_committed_pages.max(self.counters.committed_pages);
    }

    /// The pages a process may lock at most.
    #[must_use]
    pub fn lock_limit(&self) -> u64 {
        self.working_set_minimum.saturating_sub(LOCK_OVERHEAD_PAGES)
    }

    /// Tears the address space down: every page, frame and table goes back, and the commit
    /// charge of all of them is returned.
    pub(crate) fn destroy(mut self, phys: &mut PhysicalMemory, commit: &mut CommitCharge) {
        let starts: Vec<Vpn> = self.vads.iter().map(|v| v.range.start).collect();
        for start in starts {
            let released = self.release_vad(phys, start);
            commit.uncharge(released);
        }
        let tables = self.tables.table_count();
        let freed = self.tables.destroy(phys);
        debug_assert_eq!(tables, freed, "table count out of step with the tables");
        commit.uncharge(freed);
    }
}
