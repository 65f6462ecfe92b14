//! [`VmMap`]: one process's address space as Sysinternals VMMap shows it — the type summary
//! (one row per memory type, and the total) and the details list (one entry per allocation,
//! with its blocks).
//!
//! Definitions (VMMap's, from its documentation: *Windows Sysinternals Administrator's
//! Reference*, ch. 7, "Memory types" and "Memory information"):
//! - Types: **Image** (views of `SEC_IMAGE` sections, `MEM_IMAGE`), **Mapped File** (data views
//!   of file-backed sections), **Shareable** (views of page-file-backed sections, and the shared
//!   user data page, which VMMap also shows as Shareable), **Private Data** (`VirtualAlloc`
//!   memory, large pages and AWE reservations; ntmem has no heaps or stacks of its own, which
//!   VMMap splits out of Private Data), **Page Table** (the process's page-table pages, kernel
//!   memory charged to it), **Unusable** (the tail between the end of an allocation that does
//!   not end on a 64 KiB boundary and that boundary: no allocation can start there, as
//!   allocation bases are 64 KiB aligned — a 100 KiB reservation leaves 28 KiB), **Free** (the
//!   rest of the user range not allocated).
//! - Columns: **Size** (reserved + committed), **Committed**, **Private** (bytes no other
//!   process can share: all committed bytes of private memory; a view's copy-on-write and
//!   relocated copies), **Total WS** (resident pages of the working set), **Private WS**,
//!   **Shareable WS** (resident pages that could be shared: section pages, the shared user data
//!   page), **Shared WS** (those of them another process maps too: share count above one),
//!   **Locked WS** (locked with `VirtualLock` by this process), **Blocks** (the `VirtualQuery`
//!   regions: runs of one state and protection inside an allocation; a free or unusable range
//!   is one block), **Largest** (the largest allocation, or free range, of the type).
//! - The **Total** row sums every type but Free (as VMMap's does). The Page Table row shows the
//!   table bytes under Size, Committed, Private, Total WS and Private WS, with no blocks; the
//!   process's `WorkingSetSize` does not count them, so the working-set columns of the total
//!   exceed it by the page tables.
//!
//! A capture reads the PTEs of every allocation once (missing tables skipped whole) and asks
//! `VirtualQuery` ([`crate::address_space::AddressSpace::query`]) for each block.

use super::walk::{bytes, for_each_pte, table_frames};
use crate::address_space::{AddressSpace, RegionState, VadKind};
use crate::paging::{Protection, Pte};
use crate::phys::{FrameUse, PfnFlags};
use crate::section::Backing;
use crate::system::{ProcessId, System, SystemError};
use crate::units::{PageRange, Vpn, ALLOCATION_GRANULARITY, PAGE_SHIFT, USER_END};

/// A memory type of VMMap's summary.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub enum MemoryType {
    /// Views of image sections.
    Image,
    /// Data views of file-backed sections.
    MappedFile,
    /// Views of page-file-backed sections; the shared user data page.
    Shareable,
    /// Private memory (`VirtualAlloc`, large pages, AWE).
    PrivateData,
    /// The process's page tables.
    PageTable,
    /// The tail of an allocation up to the next 64 KiB boundary.
    Unusable,
    /// Not allocated.
    Free,
}

impl MemoryType {
    /// Every type, in VMMap's order.
    pub const ALL: [MemoryType; 7] = [
        MemoryType::Image,
        MemoryType::MappedFile,
        MemoryType::Shareable,
        MemoryType::PrivateData,
        MemoryType::PageTable,
        MemoryType::Unusable,
        MemoryType::Free,
    ];

    /// VMMap's name for it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            MemoryType::Image => "Image",
            MemoryType::MappedFile => "Mapped File",
            MemoryType::Shareable => "Shareable",
            MemoryType::PrivateData => "Private Data",
            MemoryType::PageTable => "Page Table",
            MemoryType::Unusable => "Unusable",
            MemoryType::Free => "Free",
        }
    }
}

/// The columns of one row (a type, an allocation or a block). Sizes are in bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Figures {
    /// Reserved and committed bytes.
    pub size: u64,
    /// Committed bytes.
    pub committed: u64,
    /// Bytes no other process can share.
    pub private: u64,
    /// Resident bytes in the working set.
    pub total_ws: u64,
    /// Resident private bytes.
    pub private_ws: u64,
    /// Resident bytes that can be shared.
    pub shareable_ws: u64,
    /// Resident shareable bytes another process maps too.
    pub shared_ws: u64,
    /// Resident bytes this process locked.
    pub locked_ws: u64,
    /// `VirtualQuery` regions.
    pub blocks: u64,
    /// The largest allocation (or free range).
    pub largest: u64,
}

impl Figures {
    fn add(&mut self, other: &Figures) {
        self.size += other.size;
        self.committed += other.committed;
        self.private += other.private;
        self.total_ws += other.total_ws;
        self.private_ws += other.private_ws;
        self.shareable_ws += other.shareable_ws;
        self.shared_ws += other.shared_ws;
        self.locked_ws += other.locked_ws;
        self.blocks += other.blocks;
        self.largest = self.largest.max(other.largest);
    }
}

/// A block of an allocation: one `VirtualQuery` region.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Block {
    /// Its first byte.
    pub address: u64,
    /// Reserved or committed (free and unusable ranges have no blocks listed).
    pub state: RegionState,
    /// The protection of its pages (`NONE` when reserved).
    pub protection: Protection,
    /// Its figures (`blocks` 1, `largest` its size).
    pub figures: Figures,
}

/// An entry of the details list: an allocation (or a free or unusable range).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Allocation {
    /// Its first byte.
    pub address: u64,
    /// Its type.
    pub kind: MemoryType,
    /// The protection it was allocated with (`NONE` for free and unusable ranges).
    pub protection: Protection,
    /// Its figures: the sums of its blocks.
    pub figures: Figures,
    /// Its blocks, lowest first.
    pub blocks: Vec<Block>,
    /// What VMMap's Details column shows: the file of a view, the name of a named section,
    /// or what kind of private memory it is.
    pub details: String,
}

/// One process's address space, VMMap's way.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VmMap {
    /// The process.
    pub pid: ProcessId,
    /// Its name.
    pub process: String,
    /// One row per type, in [`MemoryType::ALL`]'s order.
    pub summary: Vec<(MemoryType, Figures)>,
    /// The sum of every type but Free.
    pub total: Figures,
    /// Every allocation, free and unusable range of the user range, lowest first.
    pub allocations: Vec<Allocation>,
}

impl VmMap {
    /// Captures the address space of process `pid`. Changes nothing.
    pub fn capture(sys: &System, pid: ProcessId) -> Result<VmMap, SystemError> {
        let process = sys.process(pid).ok_or(SystemError::NoSuchProcess)?;
        let space = process.space().ok_or(SystemError::ProcessTerminated)?;
        let mut allocations = Vec::new();
        let mut at = 0u64;
        let vads: Vec<(PageRange, Protection, VadKind)> =
            space.vads().iter().map(|v| (v.range, v.allocation_protection, v.kind)).collect();
        for (range, protection, kind) in vads {
            gap(&mut allocations, at, range.start_addr());
            allocations.push(allocation(sys, space, range, protection, kind));
            at = range.end_addr();
            let boundary = at.next_multiple_of(ALLOCATION_GRANULARITY);
            if boundary > at {
                allocations.push(empty(at, boundary - at, MemoryType::Unusable));
                at = boundary;
            }
        }
        gap(&mut allocations, at, USER_END);
        let mut rows: Vec<(MemoryType, Figures)> = MemoryType::ALL.iter().map(|&t| (t, Figures::default())).collect();
        for a in &allocations {
            if let Some(row) = rows.iter_mut().find(|(t, _)| *t == a.kind) {
                row.1.add(&a.figures);
            }
        }
        let tables = bytes(table_frames(space, sys.phys()).len() as u64);
        if let Some(row) = rows.iter_mut().find(|(t, _)| *t == MemoryType::PageTable) {
            row.1 = Figures {
                size: tables,
                committed: tables,
                private: tables,
                total_ws: tables,
                private_ws: tables,
                ..Figures::default()
            };
        }
        let mut total = Figures::default();
        for (_, f) in rows.iter().filter(|(t, _)| *t != MemoryType::Free) {
            total.add(f);
        }
        Ok(VmMap { pid, process: process.name().to_owned(), summary: rows, total, allocations })
    }

    /// The summary row of `kind`.
    #[must_use]
    pub fn row(&self, kind: MemoryType) -> Figures {
        self.summary.iter().find(|(t, _)| *t == kind).map(|(_, f)| *f).unwrap_or_default()
    }

    /// The allocation whose range holds `address`, if any (free and unusable ranges included).
    #[must_use]
    pub fn allocation_at(&self, address: u64) -> Option<&Allocation> {
        self.allocations.iter().find(|a| a.address <= address && address - a.address < a.figures.size)
    }
}

/// A free range of the details list, if `[from, to)` holds any bytes.
fn gap(out: &mut Vec<Allocation>, from: u64, to: u64) {
    if to > from {
        out.push(empty(from, to - from, MemoryType::Free));
    }
}

/// A free or unusable range: one block, nothing committed.
fn empty(address: u64, size: u64, kind: MemoryType) -> Allocation {
    Allocation {
        address,
        kind,
        protection: Protection::NONE,
        figures: Figures { size, blocks: 1, largest: size, ..Figures::default() },
        blocks: Vec::new(),
        details: String::new(),
    }
}

/// The type VMMap gives an allocation of this kind.
fn memory_type(sys: &System, kind: VadKind) -> MemoryType {
    match kind {
        VadKind::Private | VadKind::LargePages | VadKind::Physical => MemoryType::PrivateData,
        VadKind::SharedUserData => MemoryType::Shareable,
        VadKind::Mapped(view) if view.image => MemoryType::Image,
        VadKind::Mapped(view) => match sys.segments().get(view.segment).map(crate::section::Segment::backing) {
            Some(Backing::File(_) | Backing::Image(_)) => MemoryType::MappedFile,
            _ => MemoryType::Shareable,
        },
    }
}

/// VMMap's Details column for an allocation.
fn details(sys: &System, kind: VadKind, write_watch: bool) -> String {
    let text = match kind {
        VadKind::Private if write_watch => "Write watch".to_owned(),
        VadKind::Private => String::new(),
        VadKind::LargePages => "Large pages".to_owned(),
        VadKind::Physical => "AWE".to_owned(),
        VadKind::SharedUserData => "Shared user data".to_owned(),
        VadKind::Mapped(view) => {
            let file = match sys.segments().get(view.segment).map(crate::section::Segment::backing) {
                Some(Backing::File(id) | Backing::Image(id)) => {
                    sys.sections().path_of(id).map(|p| p.display().to_string())
                }
                _ => None,
            };
            let name = sys.sections().section(view.section).and_then(|s| s.name()).map(str::to_owned);
            file.or(name).unwrap_or_default()
        }
    };
    text
}

/// One allocation with its blocks.
fn allocation(
    sys: &System,
    space: &AddressSpace,
    range: PageRange,
    protection: Protection,
    kind: VadKind,
) -> Allocation {
    let mtype = memory_type(sys, kind);
    let write_watch = space.vads().find(range.start).is_some_and(crate::address_space::Vad::has_write_watch);
    let mut blocks = Vec::new();
    let mut figures = Figures::default();
    let mut addr = range.start_addr();
    while addr < range.end_addr() {
        let region = space.query(sys.machine(), addr);
        let size = region.size.min(range.end_addr() - addr).max(crate::units::PAGE_SIZE);
        let mut f = Figures { size, blocks: 1, largest: size, ..Figures::default() };
        if region.state == RegionState::Committed {
            f.committed = size;
            if mtype == MemoryType::PrivateData {
                f.private = size;
            }
        }
        let first = Vpn(addr >> PAGE_SHIFT);
        resident(sys, space, kind, first, first.add(size >> PAGE_SHIFT), &mut f);
        figures.add(&f);
        blocks.push(Block { address: addr, state: region.state, protection: region.protection, figures: f });
        addr += size;
    }
    figures.largest = figures.size;
    Allocation {
        address: range.start_addr(),
        kind: mtype,
        protection,
        figures,
        blocks,
        details: details(sys, kind, write_watch),
    }
}

/// Adds the working-set figures of pages `[start, end)` of an allocation of `kind`, and a
/// view's private copies to Private.
fn resident(sys: &System, space: &AddressSpace, kind: VadKind, start: Vpn, end: Vpn, f: &mut Figures) {
    let phys = sys.phys();
    let view = matches!(kind, VadKind::Mapped(_));
    let page = bytes(1);
    for_each_pte(space, phys, start, end, |vpn, pte, _| match pte {
        Pte::Valid(v) => {
            let e = phys.pfn(v.pfn());
            f.total_ws += page;
            let locked =
                e.flags().has(PfnFlags::LOCKED) || (e.usage() == FrameUse::Section && space.is_view_page_locked(vpn));
            if locked {
                f.locked_ws += page;
            }
            if matches!(e.usage(), FrameUse::Section | FrameUse::SharedUserData) {
                f.shareable_ws += page;
                if e.share_count() > 1 {
                    f.shared_ws += page;
                }
            } else {
                f.private_ws += page;
                if view {
                    f.private += page;
                }
            }
        }
        // A view page that is not the prototype's: a private copy, trimmed.
        Pte::Transition { .. } | Pte::PageFile { .. } | Pte::DemandZero(_) if view => f.private += page,
        _ => {}
    });
}
