//! Describing the address space (`VirtualQuery`): the region around an address.
//!
//! A region is the run of pages from the queried page on that share state and protection
//! inside one allocation (F84, F87); a free region runs to the next allocation (F83).
//! Reserved pages have no protection (F82); the allocation fields never change (F86).

use super::{AddressSpace, PageState, VadKind};
use crate::paging::{Leaf, Protection, Pte};
use crate::phys::PhysicalMemory;
use crate::units::{Vpn, PAGE_SHIFT, USER_END};

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
    pub fn query(&self, phys: &PhysicalMemory, addr: u64) -> Region {
        let vpn = Vpn(addr >> PAGE_SHIFT);
        let Some(vad) = self.vads.find(vpn) else {
            let end = self.vads.next_from(vpn).map_or(USER_END, |v| v.range.start_addr());
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
        let first = match vad.kind {
            VadKind::Physical => PageState::Reserved,
            _ => PageState::of(self.tables.pte(phys, vpn), phys),
        };
        let run_end = match vad.kind {
            VadKind::Private => self.run_end(phys, vpn, end, first),
            _ => end,
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
            kind: Some(vad.kind),
        }
    }

    /// The first page after `vpn` (below `end`) whose state differs from `first`; skips
    /// missing tables whole when the run is of reserved pages.
    fn run_end(&self, phys: &PhysicalMemory, vpn: Vpn, end: u64, first: PageState) -> u64 {
        let mut v = vpn.as_u64() + 1;
        while v < end {
            match self.tables.leaf(phys, Vpn(v)) {
                Leaf::Missing(level) => {
                    if first != PageState::Reserved {
                        return v;
                    }
                    let span = crate::arch::x86_64::Level::entry_span(parent(level)) >> PAGE_SHIFT;
                    v = ((v / span) + 1) * span;
                }
                Leaf::Large { .. } => return v,
                Leaf::Pte(at) => {
                    let left = (512 - v % 512).min(end - v);
                    for k in 0..left {
                        let raw = phys.read_u64(crate::units::PhysAddr(at.as_u64() + k * 8));
                        if PageState::of(Pte::decode(raw), phys) != first {
                            return v + k;
                        }
                    }
                    v += left;
                }
            }
        }
        end
    }
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
