//! The 4-level page tables of one address space, stored in frames of the simulated RAM and
//! walked as the MMU walks them (Intel SDM vol. 3A, 4.5.4): PML4 → PDPT → PD → PT.
//!
//! Contracts:
//! - Intermediate entries are present, writable and user-accessible; permissions live in the
//!   leaf (NT does the same for user space).
//! - A table frame's PFN `share_count` is the number of its non-zero entries; a table whose
//!   count drops to zero is freed by [`PageTables::prune`], never by a plain PTE write.
//! - Creating tables takes frames: the caller has charged commit for them first
//!   ([`PageTables::missing_tables`] says how many).

use super::pte::{Pte, ValidPte};
use super::table_cache::TableCache;
use super::tlb::TlbFlush;
use crate::arch::x86_64::{self as hw, entry_address, entry_frame, table_index, Level};
use crate::phys::{FrameUse, PhysicalMemory};
use crate::units::{PageRange, Pfn, PhysAddr, Vpn, PAGES_PER_LARGE_PAGE};

/// Where the leaf entry of a page is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Leaf {
    /// A 4 KiB PTE at this physical address.
    Pte(PhysAddr),
    /// A 2 MiB PDE (PS set) at this physical address; the page is `index` pages into it.
    Large {
        /// The PDE's address.
        pde: PhysAddr,
        /// Page index inside the large page.
        index: u64,
    },
    /// No table at this level yet.
    Missing(Level),
}

/// What the MMU's walk found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Translation {
    /// The access is allowed.
    Mapped {
        /// The frame.
        pfn: Pfn,
        /// Writes allowed, and the dirty bit is set (a TLB entry may take writes).
        write_ready: bool,
        /// Instruction fetches allowed.
        executable: bool,
    },
    /// A page fault: the leaf entry (or `Pte::Zero` where a table is missing).
    Fault(Pte),
}

/// One step of a walk, as the tour shows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WalkStep {
    /// The table's level.
    pub level: Level,
    /// The table's frame.
    pub table: Pfn,
    /// The index used.
    pub index: usize,
    /// The entry's address.
    pub entry_address: PhysAddr,
    /// The entry's raw value.
    pub entry: u64,
}

/// The page tables of one address space.
#[derive(Debug)]
pub struct PageTables {
    pub(super) root: Pfn,
    pub(super) tables: u64,
    /// The paging-structure cache (see `table_cache.rs`); `prune` forgets the tables it frees.
    pub(super) cache: TableCache,
}

const TABLE_ENTRY: u64 = hw::P | hw::RW | hw::US;

impl PageTables {
    /// New tables: an empty PML4. `None` when RAM is exhausted.
    #[must_use]
    pub(crate) fn create(phys: &mut PhysicalMemory) -> Option<PageTables> {
        let root = phys.allocate(FrameUse::PageTable, None)?;
        phys.pfn_mut(root).share_count = 0;
        Some(PageTables { root, tables: 1, cache: TableCache::default() })
    }

    /// The PML4's frame (CR3).
    #[must_use]
    pub fn root(&self) -> Pfn {
        self.root
    }

    /// Table frames in use, the PML4 included.
    #[must_use]
    pub fn table_count(&self) -> u64 {
        self.tables
    }

    /// Finds the leaf entry of `vpn` without changing anything: one look-up in the
    /// paging-structure cache when it knows the region's page table, else a walk from the root.
    #[must_use]
    pub fn leaf(&self, phys: &PhysicalMemory, vpn: Vpn) -> Leaf {
        let va = vpn.addr();
        if let Some(table) = self.cache.lookup(vpn) {
            return Leaf::Pte(entry_address(table, table_index(va, Level::Pt)));
        }
        let mut table = self.root;
        for level in [Level::Pml4, Level::Pdpt, Level::Pd] {
            let at = entry_address(table, table_index(va, level));
            let e = phys.read_u64(at);
            if e & hw::P == 0 {
                return Leaf::Missing(next(level));
            }
            if level == Level::Pd && e & hw::PS != 0 {
                return Leaf::Large { pde: at, index: vpn.as_u64() % PAGES_PER_LARGE_PAGE };
            }
            table = entry_frame(e);
        }
        Leaf::Pte(entry_address(table, table_index(va, Level::Pt)))
    }

    /// The PTE of `vpn`: `Pte::Zero` where no table exists; for a large page, a valid PTE
    /// standing for the 4 KiB piece.
    #[must_use]
    pub fn pte(&self, phys: &PhysicalMemory, vpn: Vpn) -> Pte {
        match self.leaf(phys, vpn) {
            Leaf::Pte(at) => Pte::decode(phys.read_u64(at)),
            Leaf::Large { pde, index } => {
                let e = phys.read_u64(pde);
                let pfn = Pfn(entry_frame(e).0 + u32::try_from(index).unwrap_or(0));
                Pte::Valid(ValidPte((e & !hw::PS & !hw::FRAME_MASK) | pfn.phys().as_u64()))
            }
            Leaf::Missing(_) => Pte::Zero,
        }
    }

    /// The walk of `vpn` step by step, stopping at the first non-present entry.
    #[must_use]
    pub fn walk(&self, phys: &PhysicalMemory, vpn: Vpn) -> Vec<WalkStep> {
        let va = vpn.addr();
        let mut steps = Vec::with_capacity(4);
        let mut table = self.root;
        for level in Level::WALK {
            let index = table_index(va, level);
            let at = entry_address(table, index);
            let entry = phys.read_u64(at);
            steps.push(WalkStep { level, table, index, entry_address: at, entry });
            let leaf = level == Level::Pt || (level == Level::Pd && entry & hw::PS != 0);
            if entry & hw::P == 0 || leaf {
                break;
            }
            table = entry_frame(entry);
        }
        steps
    }

    /// Table frames that [`PageTables::ensure`] would create for every page of `range`.
    #[must_use]
    pub fn missing_tables(&self, phys: &PhysicalMemory, range: PageRange) -> u64 {
        let mut missing = 0;
        for level in [Level::Pdpt, Level::Pd, Level::Pt] {
            // One table at `level` serves the span of one entry of the level above it.
            let span_pages = parent_span_pages(level);
            let first = range.start.as_u64() / span_pages;
            let last = (range.end.as_u64() - 1) / span_pages;
            for chunk in first..=last {
                if !self.table_exists(phys, Vpn(chunk * span_pages), level) {
                    missing += 1;
                }
            }
        }
        missing
    }

    fn table_exists(&self, phys: &PhysicalMemory, vpn: Vpn, level: Level) -> bool {
        let va = vpn.addr();
        let mut table = self.root;
        for parent in [Level::Pml4, Level::Pdpt, Level::Pd] {
            let e = phys.read_u64(entry_address(table, table_index(va, parent)));
            if e & hw::P == 0 || e & hw::PS != 0 {
                return false;
            }
            if next(parent) == level {
                return true;
            }
            table = entry_frame(e);
        }
        true
    }

    /// Creates the missing tables down to the PT of `vpn` and returns its PTE's address; with
    /// `stop_at_pd`, stops at the PD and returns the PDE's address (for a large page). `None`
    /// only when RAM is exhausted, which commit charging rules out.
    #[must_use]
    pub(crate) fn ensure(&mut self, phys: &mut PhysicalMemory, vpn: Vpn, stop_at_pd: bool) -> Option<PhysAddr> {
        let va = vpn.addr();
        let mut table = self.root;
        let last = if stop_at_pd { Level::Pd } else { Level::Pt };
        for level in [Level::Pml4, Level::Pdpt, Level::Pd] {
            let at = entry_address(table, table_index(va, level));
            if level == last {
                return Some(at);
            }
            let e = phys.read_u64(at);
            table = if e & hw::P != 0 {
                entry_frame(e)
            } else {
                let fresh = phys.allocate(FrameUse::PageTable, Some(at))?;
                phys.pfn_mut(fresh).share_count = 0;
                self.tables += 1;
                self.set_entry(phys, at, TABLE_ENTRY | fresh.phys().as_u64());
                fresh
            };
        }
        Some(entry_address(table, table_index(va, Level::Pt)))
    }

    /// [`Self::ensure`] for `vpn` in a run of consecutive pages whose PTE before it is at
    /// `previous`: the next slot of the same table, with no walk, unless `vpn` opens a table
    /// (or there is no previous PTE).
    #[inline]
    pub(crate) fn ensure_next(
        &mut self,
        phys: &mut PhysicalMemory,
        vpn: Vpn,
        previous: Option<PhysAddr>,
    ) -> Option<PhysAddr> {
        match previous {
            Some(at) if !vpn.as_u64().is_multiple_of(hw::ENTRIES_PER_TABLE as u64) => {
                Some(PhysAddr(at.as_u64() + hw::ENTRY_BYTES))
            }
            _ => self.ensure(phys, vpn, false),
        }
    }

    /// Writes a leaf entry (PTE or large PDE) and keeps its table's entry count. Returns the
    /// TLB invalidation the caller owes.
    pub(crate) fn write(&mut self, phys: &mut PhysicalMemory, at: PhysAddr, vpn: Vpn, pte: Pte) -> TlbFlush {
        self.set_entry(phys, at, pte.encode());
        TlbFlush::page(vpn)
    }

    /// Writes a large-page PDE mapping `first` (512 frames) for the 2 MiB at `vpn`.
    pub(crate) fn write_large(
        &mut self,
        phys: &mut PhysicalMemory,
        pde: PhysAddr,
        vpn: Vpn,
        entry: Option<ValidPte>,
    ) -> TlbFlush {
        self.set_entry(phys, pde, entry.map_or(0, |e| e.0 | hw::PS));
        TlbFlush::range(PageRange { start: vpn, end: vpn.add(PAGES_PER_LARGE_PAGE) })
    }

    /// Writes `pte`, which no TLB can hold (not valid), into the `count` consecutive leaf
    /// entries from `at` (one table's): a fresh commit of free pages, with one update of the
    /// table's count of entries in use. The entries must be zero, as every PTE of a page no
    /// VAD holds is (the invariant checker's "PTE outside every allocation").
    pub(crate) fn fill_empty(&mut self, phys: &mut PhysicalMemory, at: PhysAddr, count: u64, pte: Pte) {
        debug_assert!(!matches!(pte, Pte::Valid(_)) && count <= hw::ENTRIES_PER_TABLE as u64);
        let raw = pte.encode();
        for k in 0..count {
            let slot = PhysAddr(at.as_u64() + k * hw::ENTRY_BYTES);
            debug_assert_eq!(phys.read_u64(slot), 0, "a PTE of a free page");
            phys.write_u64(slot, raw);
        }
        // At most a table's worth of entries.
        #[allow(clippy::cast_possible_truncation)]
        let added = count as u16;
        if raw != 0 {
            phys.pfn_mut(at.pfn()).share_count += added;
        }
    }

    pub(super) fn set_entry(&mut self, phys: &mut PhysicalMemory, at: PhysAddr, raw: u64) {
        let old = phys.read_u64(at);
        let table = at.pfn();
        match (old == 0, raw == 0) {
            (true, false) => phys.pfn_mut(table).share_count += 1,
            (false, true) => phys.pfn_mut(table).share_count -= 1,
            _ => {}
        }
        phys.write_u64(at, raw);
    }

    /// Frees every table, the PML4 last; the tables must map nothing but `keep`-less leaves
    /// already settled by the caller. Returns the frames freed.
    pub(crate) fn destroy(self, phys: &mut PhysicalMemory) -> u64 {
        fn free_level(phys: &mut PhysicalMemory, table: Pfn, depth: usize) -> u64 {
            let mut freed = 0;
            if depth < 3 {
                for i in 0..hw::ENTRIES_PER_TABLE {
                    let at = entry_address(table, i);
                    let e = phys.read_u64(at);
                    if e & hw::P != 0 && !(depth == 2 && e & hw::PS != 0) {
                        freed += free_level(phys, entry_frame(e), depth + 1);
                    }
                    if e != 0 {
                        phys.write_u64(at, 0);
                    }
                }
            } else {
                phys.frame_mut(table).fill(0);
            }
            phys.release(table);
            freed + 1
        }
        free_level(phys, self.root, 0)
    }

    /// Stops the paging-structure cache (see `table_cache.rs`): for an address space whose
    /// TLB fills a host TLB must hear of, so that every miss walks by the full path.
    pub(crate) fn stop_caching(&mut self) {
        self.cache.stop();
    }

    /// The paging-structure cache's entries: (first page of a 2 MiB region, the page table
    /// cached for it), for `invariants::check`, which compares them with the tables.
    pub fn cached_tables(&self) -> impl Iterator<Item = (Vpn, Pfn)> + '_ {
        self.cache.iter()
    }
}

/// Pages covered by one entry of the table above `level` (so by one whole table at `level`).
pub(super) const fn parent_span_pages(level: Level) -> u64 {
    match level {
        Level::Pml4 => 1 << 36,
        Level::Pdpt => 1 << 27,
        Level::Pd => 1 << 18,
        Level::Pt => 1 << 9,
    }
}

pub(super) const fn next(level: Level) -> Level {
    match level {
        Level::Pml4 => Level::Pdpt,
        Level::Pdpt => Level::Pd,
        Level::Pd | Level::Pt => Level::Pt,
    }
}
