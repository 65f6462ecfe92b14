//! Describing the address space (`VirtualQuery`): the region around an address.
//!
//! A region is the run of pages from the queried page on that share state and protection
//! inside one allocation (F84, F87); a free region runs to the next allocation (F83).
//! Reserved pages have no protection (F82); the allocation fields never change (F86).

use super::{AddressSpace, PageState, VadKind};
use crate::machine::Machine;
use crate::paging::{Leaf, Protection, Pte};
use crate::phys::PhysicalMemory;
use crate::units::{PhysAddr, Vpn, PAGE_SHIFT, USER_END};

/// The state of a region's pages.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RegionState {
    /// Not allocated.
    Free,
    /// Reserved, not committed.
    Reserved,
    /// Committed.
    Committed,
}

/// A region, as `VirtualQuery` reports it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Region {
    /// First byte (the queried address rounded down to a page).
    pub base: u64,
    /// The allocation's base; 0 when free.
    pub allocation_base: u64,
    /// The allocation's protection; `NONE` when free.
    pub allocation_protection: Protection,
    /// Bytes in the region.
    pub size: u64,
    /// State of every page of it.
    pub state: RegionState,
    /// Protection of every page (`NONE` for reserved and free pages).
    pub protection: Protection,
    /// The allocation's kind; `None` when free.
    pub kind: Option<VadKind>,
}

impl AddressSpace {
    /// The region holding `addr` (which must be below the end of the user range).
    #[must_use]
    pub fn query(&self, m: &Machine, addr: u64) -> Region {
        let phys = &m.phys;
        let vpn = Vpn(addr >> PAGE_SHIFT);
        // The index answers for the VAD (`vad/tree/chunk.rs`): a query of private memory reads
        // no VAD, and no PTE either when the VAD's pages share one state (`Vad::uniform`).
        let Some(vad) = self.vads.locate(vpn) else {
            let end = self.vads.next_start_from(vpn).map_or(USER_END, |v| v.as_u64() << PAGE_SHIFT);
            return Region {
                base: vpn.as_u64() << PAGE_SHIFT,
                allocation_base: 0,
                allocation_protection: Protection::NONE,
                size: end - (vpn.as_u64() << PAGE_SHIFT),
                state: RegionState::Free,
                protection: Protection::NONE,
                kind: None,
            };
        };
        let end = vad.range.end.as_u64();
        let kind = vad.kind;
        let (first, run_end) = match kind {
            VadKind::Physical => (PageState::Reserved, end),
            VadKind::Private => match vad.uniform {
                Some(state) => (state, end),
                None => self.run(phys, vpn, end),
            },
            VadKind::Mapped(_) => self.view_run(m, vpn, end),
            _ => (PageState::of(self.tables.pte(phys, vpn)), end),
        };
        let (state, protection) = match first {
            PageState::Reserved => (RegionState::Reserved, Protection::NONE),
            PageState::Committed(p) => (RegionState::Committed, p),
        };
        Region {
            base: vpn.as_u64() << PAGE_SHIFT,
            allocation_base: vad.range.start_addr(),
            allocation_protection: vad.allocation_protection,
            size: (run_end - vpn.as_u64()) << PAGE_SHIFT,
            state,
            protection,
            kind: Some(kind),
        }
    }

    /// The state of `vpn` and the first page after it (below `end`) whose state differs: one
    /// walk finds the PTE of `vpn` (from the paging-structure cache when it knows the table),
    /// and the run is read on from there in the same table; a further table costs a further
    /// walk. Missing tables are skipped whole when the run is of reserved pages.
    fn run(&self, phys: &PhysicalMemory, vpn: Vpn, end: u64) -> (PageState, u64) {
        let leaf = self.tables.leaf(phys, vpn);
        let (first, mut v) = match leaf {
            Leaf::Pte(at) => {
                let first = PageState::of(Pte::decode(phys.read_u64(at)));
                let next = vpn.as_u64() + 1;
                if next.is_multiple_of(512) {
                    // The table ends here: the run goes on in the next one.
                    (first, next)
                } else {
                    match scan(phys, PhysAddr(at.as_u64() + 8), next, end, first) {
                        Ok(next) => (first, next),
                        Err(differs) => return (first, differs),
                    }
                }
            }
            Leaf::Large { .. } => return (PageState::of(self.tables.pte(phys, vpn)), vpn.as_u64() + 1),
            Leaf::Missing(level) => (PageState::Reserved, skip(level, vpn.as_u64())),
        };
        while v < end {
            match self.tables.leaf(phys, Vpn(v)) {
                Leaf::Missing(level) => {
                    if first != PageState::Reserved {
                        return (first, v);
                    }
                    v = skip(level, v);
                }
                Leaf::Large { .. } => return (first, v),
                Leaf::Pte(at) => match scan(phys, at, v, end, first) {
                    Ok(next) => v = next,
                    Err(differs) => return (first, differs),
                },
            }
        }
        (first, end)
    }
}

/// Reads the PTEs of pages `v`.. to the end of their table (whose PTE of `v` is at `at`) or
/// to `end`: `Err` with the first page whose state is not `first`, or `Ok` with the page after
/// the last one read. The run is read from the table's bytes as one slice.
fn scan(phys: &PhysicalMemory, at: PhysAddr, v: u64, end: u64, first: PageState) -> Result<u64, u64> {
    // At most 512.
    #[allow(clippy::cast_possible_truncation)]
    let left = (512 - v % 512).min(end.saturating_sub(v)) as usize;
    let from = at.frame_offset();
    let run = phys.frame(at.pfn()).get(from..from + left * 8).unwrap_or_default();
    for (k, raw) in (0u64..).zip(run.chunks_exact(8)) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(raw);
        if PageState::of(Pte::decode(u64::from_le_bytes(bytes))) != first {
            return Err(v + k);
        }
    }
    Ok(v + left as u64)
}

/// The first page after `v` not under the missing table at `level`.
fn skip(level: crate::arch::x86_64::Level, v: u64) -> u64 {
    let span = crate::arch::x86_64::Level::entry_span(parent(level)) >> PAGE_SHIFT;
    ((v / span) + 1) * span
}

/// The level whose one entry spans a whole missing table at `level`.
fn parent(level: crate::arch::x86_64::Level) -> crate::arch::x86_64::Level {
    use crate::arch::x86_64::Level;
    match level {
        Level::Pml4 | Level::Pdpt => Level::Pml4,
        Level::Pd => Level::Pdpt,
        Level::Pt => Level::Pd,
    }
}
