//! The paging-structure cache of one address space: for recently walked 2 MiB regions, the
//! frame of the page table that maps them, so that a TLB miss reads one PTE rather than
//! walking four levels from the root. x86 processors keep the same kind of cache of PDEs
//! (Intel SDM vol. 3A, 4.10.3).
//!
//! Contract, kept by [`super::PageTables`]: an entry names the page table its region's PDE
//! points to now. A PDE stops pointing to a page table only when the table is freed
//! (`prune`), which forgets the entry; tables are created where no entry can exist. The
//! accessed bits of the PML4E, PDPTE and PDE were set by the walk that filled the entry and
//! nothing clears them (aging clears leaf bits only), so a walk that starts from the cache
//! changes exactly what a full walk would. `invariants::check` compares every entry with the
//! tables.

use crate::units::{Pfn, Vpn};

/// Entries: 512 regions of 2 MiB, 1 GiB of address space, in 4 KiB.
const ENTRIES: usize = 512;
const MASK: u64 = ENTRIES as u64 - 1;
/// Pages in a region (mapped by one page table).
const REGION_SHIFT: u32 = 9;

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The region number plus one (0: empty). A user region number is below 2^26.
    tag: u32,
    /// The page table's frame.
    table: u32,
}

const EMPTY: Entry = Entry { tag: 0, table: 0 };

/// A direct-mapped cache: region → page-table frame.
#[derive(Debug)]
pub(crate) struct TableCache {
    entries: [Entry; ENTRIES],
}

impl Default for TableCache {
    fn default() -> Self {
        TableCache { entries: [EMPTY; ENTRIES] }
    }
}

/// The region of `vpn` plus one: never 0; above every `u32` for a page beyond user space, so
/// such a page never matches.
#[inline(always)]
const fn tag_of(vpn: Vpn) -> u64 {
    (vpn.as_u64() >> REGION_SHIFT) + 1
}

#[inline(always)]
fn slot_of(vpn: Vpn) -> usize {
    // Masked below ENTRIES.
    #[allow(clippy::cast_possible_truncation)]
    let slot = ((vpn.as_u64() >> REGION_SHIFT) & MASK) as usize;
    slot
}

impl TableCache {
    /// The page table mapping `vpn`, if cached.
    #[inline(always)]
    pub(crate) fn lookup(&self, vpn: Vpn) -> Option<Pfn> {
        let e = &self.entries[slot_of(vpn)];
        (u64::from(e.tag) == tag_of(vpn)).then_some(Pfn(e.table))
    }

    /// Remembers that `table` maps the region of `vpn` (a user page).
    pub(crate) fn insert(&mut self, vpn: Vpn, table: Pfn) {
        match u32::try_from(tag_of(vpn)) {
            Ok(tag) => self.entries[slot_of(vpn)] = Entry { tag, table: table.0 },
            Err(_) => debug_assert!(false, "a page table cached for a page beyond user space"),
        }
    }

    /// Forgets the region of `vpn` (its page table is being freed).
    pub(crate) fn forget(&mut self, vpn: Vpn) {
        let e = &mut self.entries[slot_of(vpn)];
        if u64::from(e.tag) == tag_of(vpn) {
            *e = EMPTY;
        }
    }

    /// The cached regions: (first page, page-table frame).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Vpn, Pfn)> + '_ {
        self.entries.iter().filter(|e| e.tag != 0).map(|e| (Vpn((u64::from(e.tag) - 1) << REGION_SHIFT), Pfn(e.table)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets_regions() {
        let mut cache = TableCache::default();
        let vpn = Vpn(0x12_3456);
        assert_eq!(cache.lookup(vpn), None);
        cache.insert(vpn, Pfn(77));
        assert_eq!(cache.lookup(Vpn(0x12_3400)), Some(Pfn(77)), "the same 2 MiB");
        assert_eq!(cache.lookup(Vpn(0x12_3456 + 512 * 512)), None, "the same slot, another region");
        assert_eq!(cache.lookup(Vpn(u64::MAX >> 12)), None, "beyond user space");
        assert_eq!(cache.iter().collect::<Vec<_>>(), vec![(Vpn(0x12_3400), Pfn(77))]);
        cache.forget(Vpn(0x12_3456 + 512 * 512));
        assert_eq!(cache.lookup(vpn), Some(Pfn(77)), "forgetting another region keeps it");
        cache.forget(vpn);
        assert_eq!(cache.lookup(vpn), None);
    }
}
