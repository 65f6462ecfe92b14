//! Reading an address space's PTEs and page tables without changing them: the page-by-page
//! walk both pictures share. Missing tables are skipped whole, so a reservation of any size
//! costs what its tables hold, not its length.

use crate::address_space::AddressSpace;
use crate::arch::x86_64::{entry_frame, Level, P, PS};
use crate::paging::{Leaf, Pte};
use crate::phys::PhysicalMemory;
use crate::units::{Pfn, PhysAddr, Vpn, PAGE_SIZE};

/// Pages spanned by one whole table at `level`.
const fn table_span(level: Level) -> u64 {
    match level {
        Level::Pml4 => 1 << 36,
        Level::Pdpt => 1 << 27,
        Level::Pd => 1 << 18,
        Level::Pt => 1 << 9,
    }
}

/// Calls `f` with every page of `[start, end)` whose PTE is not zero, with that PTE (a large
/// page's 4 KiB pieces each as a valid PTE) and, for a 4 KiB PTE, where it is.
pub(super) fn for_each_pte(
    space: &AddressSpace,
    phys: &PhysicalMemory,
    start: Vpn,
    end: Vpn,
    mut f: impl FnMut(Vpn, Pte, Option<PhysAddr>),
) {
    let tables = space.page_tables();
    let mut v = start.as_u64();
    let end = end.as_u64();
    while v < end {
        match tables.leaf(phys, Vpn(v)) {
            Leaf::Missing(level) => {
                let span = table_span(level);
                v = (v / span + 1) * span;
            }
            Leaf::Large { .. } => {
                f(Vpn(v), tables.pte(phys, Vpn(v)), None);
                v += 1;
            }
            Leaf::Pte(at) => {
                // The rest of this table in one go.
                let left = (512 - v % 512).min(end - v);
                for k in 0..left {
                    let here = PhysAddr(at.as_u64() + k * 8);
                    let pte = Pte::decode(phys.read_u64(here));
                    if pte != Pte::Zero {
                        f(Vpn(v + k), pte, Some(here));
                    }
                }
                v += left;
            }
        }
    }
}

/// Every page-table frame of an address space, the PML4 first (walked from the root through
/// present, non-large entries).
pub(super) fn table_frames(space: &AddressSpace, phys: &PhysicalMemory) -> Vec<Pfn> {
    fn walk(phys: &PhysicalMemory, table: Pfn, depth: u8, out: &mut Vec<Pfn>) {
        out.push(table);
        if depth == 3 {
            return;
        }
        for i in 0..512u64 {
            let e = phys.read_u64(PhysAddr(table.phys().as_u64() + i * 8));
            if e & P != 0 && !(depth == 2 && e & PS != 0) {
                walk(phys, entry_frame(e), depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(phys, space.page_tables().root(), 0, &mut out);
    out
}

/// Bytes in `pages` pages.
pub(super) const fn bytes(pages: u64) -> u64 {
    pages * PAGE_SIZE
}
