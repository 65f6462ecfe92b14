//! The machine-wide state the memory manager works on for every process: RAM and its PFN
//! database, the commit charge, and the page files.
//!
//! Key type: [`Machine`]. It also holds the two policies that span processes but need no
//! process: charging commit (growing page files toward their maximum when the limit is
//! reached, so the limit is RAM + page files), and taking a frame (zeroed list, free list,
//! then repurposing the oldest standby page — whose owner's PTE, found through the PFN's PTE
//! address, becomes a page-file PTE, or demand-zero when its contents were discardable; a
//! section frame's prototype PTE goes back to its file or slot, section/frames.rs).

use crate::commit_charge::{CommitCharge, CommitLimitExceeded};
use crate::page_file::PageFiles;
use crate::paging::Pte;
use crate::phys::{FrameUse, ListKind, PfnFlags, PhysicalMemory};
use crate::section::{MappedIo, Segments};
use crate::units::{Pfn, PhysAddr};

/// RAM, commit and page files.
pub struct Machine {
    pub(crate) phys: PhysicalMemory,
    pub(crate) commit: CommitCharge,
    pub(crate) files: PageFiles,
    /// Pages a hard fault reads at most, the faulting one included.
    pub(crate) cluster: u32,
    /// Set when a frame was taken and available memory fell below the low-water mark: the
    /// balancer should run before the call returns.
    pub(crate) wants_balance: bool,
    /// The buffer clustered page-file reads land in, kept between faults.
    pub(crate) io_buffer: Vec<u8>,
    /// Where the balancer goes on from (its rotating cursor over the processes).
    pub(crate) balance_cursor: crate::balancer::Cursor,
    /// Every segment: the prototype PTEs of the shared pages (section/segments.rs).
    pub(crate) segments: Segments,
    /// The I/O of mapped files.
    pub(crate) mapped: MappedIo,
}

/// Low-water mark: below this many available pages the balancer trims.
#[must_use]
pub fn low_water(frames: u64) -> u64 {
    (frames / 64).max(32)
}

/// How a frame will be filled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Fill {
    /// The page must read as zero.
    Zero,
    /// The page is about to be overwritten whole (a page-file read).
    Overwrite,
}

impl Machine {
    pub(crate) fn new(phys: PhysicalMemory, files: PageFiles, cluster: u32) -> Machine {
        let limit = u64::from(phys.frame_count()) - 1 + files.capacity();
        Machine {
            phys,
            commit: CommitCharge::new(limit),
            files,
            cluster,
            wants_balance: false,
            io_buffer: Vec::new(),
            balance_cursor: crate::balancer::Cursor::default(),
            segments: Segments::default(),
            mapped: MappedIo::default(),
        }
    }

    /// RAM and the PFN database.
    #[must_use]
    pub fn phys(&self) -> &PhysicalMemory {
        &self.phys
    }

    /// The commit charge.
    #[must_use]
    pub fn commit(&self) -> &CommitCharge {
        &self.commit
    }

    /// The page files.
    #[must_use]
    pub fn page_files(&self) -> &PageFiles {
        &self.files
    }

    /// The segments of every section.
    #[must_use]
    pub fn segments(&self) -> &Segments {
        &self.segments
    }

    /// The I/O of mapped files.
    #[must_use]
    pub fn mapped_io(&self) -> MappedIo {
        self.mapped
    }

    /// Arms failures of mapped-file reads and writes (for tests).
    pub fn inject_mapped_faults(&mut self, plan: crate::page_file::FaultPlan) {
        self.mapped.faults = plan;
    }

    /// Charges `pages` of commit, growing the page files when the limit is in the way — but
    /// only when growing them to their maxima would make the charge fit: a charge that fails
    /// changes nothing.
    pub(crate) fn charge(&mut self, pages: u64) -> Result<(), CommitLimitExceeded> {
        let short = pages.saturating_sub(self.commit.available());
        if short > 0 && short <= self.files.room() {
            self.grow_files(short);
        }
        self.commit.charge(pages)
    }

    /// Charges `pages` that cannot be refused: grows the page files toward them if it can, and
    /// past the limit otherwise (see [`CommitCharge::charge_must_succeed`]).
    pub(crate) fn charge_must_succeed(&mut self, pages: u64) {
        if self.charge(pages).is_err() {
            self.commit.charge_must_succeed(pages);
        }
    }

    /// Grows the page files by about `pages` slots; the commit limit rises with them.
    pub(crate) fn grow_files(&mut self, pages: u64) -> u64 {
        let grown = self.files.grow(pages);
        self.commit.raise_limit(grown);
        grown
    }

    /// Makes sure `n` frames are on the zeroed and free lists, repurposing standby pages as
    /// needed (page tables are built from those lists). False when there are not enough.
    pub(crate) fn make_free(&mut self, n: u64) -> bool {
        while self.phys.list_len(ListKind::Zeroed) + self.phys.list_len(ListKind::Free) < n {
            let Some(pfn) = self.phys.take_standby() else { return false };
            self.evict(pfn);
            self.phys.release(pfn);
        }
        true
    }

    /// Takes a frame for `usage`, mapped from `pte`, filled as `fill` says. `None` when no
    /// frame can be had without writing pages out (the balancer's job).
    #[must_use]
    pub(crate) fn allocate(&mut self, usage: FrameUse, pte: Option<PhysAddr>, fill: Fill) -> Option<Pfn> {
        let direct = match fill {
            Fill::Zero => self.phys.allocate(usage, pte),
            Fill::Overwrite => self.phys.allocate_for_read(usage, pte),
        };
        let pfn = match direct {
            Some(pfn) => pfn,
            None => {
                let pfn = self.phys.take_standby()?;
                self.evict(pfn);
                self.phys.reuse(pfn, usage, pte, fill == Fill::Zero);
                pfn
            }
        };
        if self.phys.available() < low_water(u64::from(self.phys.frame_count())) {
            self.wants_balance = true;
        }
        Some(pfn)
    }

    /// Cuts a standby frame loose from the page it held: that page's PTE now says where its
    /// contents are — a page-file slot, or nowhere (demand-zero) for a page MEM_RESET made
    /// discardable.
    fn evict(&mut self, pfn: Pfn) {
        let e = *self.phys.pfn(pfn);
        if e.usage() == FrameUse::Section {
            self.evict_section_frame(pfn);
            return;
        }
        let Some(at) = e.pte() else { return };
        let protection = match Pte::decode(self.phys.read_u64(at)) {
            Pte::Transition { protection, .. } => protection,
            other => {
                debug_assert!(false, "standby frame {pfn:?} mapped by {other:?}");
                return;
            }
        };
        let next = match e.backing() {
            Some((file, slot)) => Pte::PageFile { file, slot, protection },
            None => {
                debug_assert!(e.flags().has(PfnFlags::RESET), "a standby page without a copy must be discardable");
                Pte::DemandZero(protection)
            }
        };
        // Transition and page-file PTEs are both non-zero: the table's entry count holds.
        self.phys.write_u64(at, next.encode());
    }
}
