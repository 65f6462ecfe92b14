//! The paging-structure cache of one address space: for recently walked 2 MiB regions, the
//! frame of the page table that maps them, so that a TLB miss reads one PTE rather than
//! walking four levels from the root. x86 processors keep the same kind of cache of PDEs
//! (Intel SDM vol. 3A, 4.10.3). It is sized to the machine: one entry per 2 MiB of RAM
//! (a power of two, between 512 entries, 1 GiB, and 8 192, 16 GiB), so that a process
//! touching as much memory as the machine holds finds most of its page tables in it.
//!
//! Contract, kept by [`super::PageTables`]: an entry names the page table its region's PDE
//! points to now. A PDE stops pointing to a page table only when the table is freed
//! (`prune`), which forgets the entry; tables are created where no entry can exist. The
//! accessed bits of the PML4E, PDPTE and PDE were set by the walk that filled the entry and
//! nothing clears them (aging clears leaf bits only), so a walk that starts from the cache
//! changes exactly what a full walk would. `invariants::check` compares every entry with the
//! tables.
//!
//! The last region of user space, whose 2 MiB run past [`MAX_USER_ADDRESS`], is never cached:
//! so a page the cache knows the table of is a user page, and a TLB miss through the cache
//! needs no range check of its own. Its pages walk from the root.

use crate::units::{Pfn, Vpn, MAX_USER_ADDRESS, PAGE_SHIFT};

/// Entries at least: 512 regions of 2 MiB, 1 GiB of address space, in 4 KiB.
const MIN_ENTRIES: usize = 512;
/// Entries at most: 16 GiB of address space, in 64 KiB.
const MAX_ENTRIES: usize = 8192;
/// Pages in a region (mapped by one page table).
const REGION_SHIFT: u32 = 9;
/// The region that holds the last user page and the 64 KiB above it, which no user page
/// fills: never cached, nor any region above it.
const LAST_USER_REGION: u64 = (MAX_USER_ADDRESS >> PAGE_SHIFT) >> REGION_SHIFT;

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
    /// The slot mask: entries − 1.
    mask: u64,
    entries: Box<[Entry]>,
}

impl Default for TableCache {
    fn default() -> Self {
        TableCache::for_frames(0)
    }
}

/// The region of `vpn` plus one: never 0; above every `u32` for a page beyond user space, so
/// such a page never matches.
#[inline(always)]
const fn tag_of(vpn: Vpn) -> u64 {
    (vpn.as_u64() >> REGION_SHIFT) + 1
}

impl TableCache {
    /// An empty cache for a machine of `frames` frames of RAM.
    pub(crate) fn for_frames(frames: u32) -> TableCache {
        let regions = usize::try_from(frames >> REGION_SHIFT).unwrap_or(MAX_ENTRIES);
        let len = regions.next_power_of_two().clamp(MIN_ENTRIES, MAX_ENTRIES);
        TableCache { mask: len as u64 - 1, entries: vec![EMPTY; len].into_boxed_slice() }
    }

    #[inline(always)]
    fn slot_of(&self, vpn: Vpn) -> usize {
        // Masked below the entries' length, which is a `usize`.
        #[allow(clippy::cast_possible_truncation)]
        let slot = ((vpn.as_u64() >> REGION_SHIFT) & self.mask) as usize;
        slot
    }

    /// The page table mapping `vpn`, if cached.
    #[inline(always)]
    pub(crate) fn lookup(&self, vpn: Vpn) -> Option<Pfn> {
        // The slot is masked below the length: the bounds check never fails.
        let e = &self.entries[self.slot_of(vpn)];
        (u64::from(e.tag) == tag_of(vpn)).then_some(Pfn(e.table))
    }

    /// Remembers that `table` maps the region of `vpn` (a user page), unless that is the
    /// last user region, which is never cached (see the module's text).
    pub(crate) fn insert(&mut self, vpn: Vpn, table: Pfn) {
        if vpn.as_u64() >> REGION_SHIFT >= LAST_USER_REGION {
            debug_assert!(
                vpn.as_u64() << PAGE_SHIFT <= MAX_USER_ADDRESS,
                "a page table cached for a page beyond user space"
            );
            return;
        }
        match u32::try_from(tag_of(vpn)) {
            Ok(tag) => self.entries[self.slot_of(vpn)] = Entry { tag, table: table.0 },
            Err(_) => debug_assert!(false, "a region below the last user region whose tag is not a u32"),
        }
    }

    /// Forgets the region of `vpn` (its page table is being freed).
    pub(crate) fn forget(&mut self, vpn: Vpn) {
        let e = &mut self.entries[self.slot_of(vpn)];
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
        assert_eq!(cache.entries.len(), 512, "1 GiB at least");
        assert_eq!(TableCache::for_frames(3 << 20).entries.len(), 8192, "16 GiB at most");
        assert_eq!(TableCache::for_frames(1 << 20).entries.len(), 2048, "4 GiB of RAM, 4 GiB covered");
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

    #[test]
    fn never_caches_the_region_that_runs_past_user_space() {
        let mut cache = TableCache::default();
        let last_user_page = Vpn(MAX_USER_ADDRESS >> PAGE_SHIFT);
        cache.insert(last_user_page, Pfn(9));
        assert_eq!(cache.lookup(last_user_page), None, "the last user page walks from the root");
        assert_eq!(cache.lookup(Vpn(last_user_page.0 + 1)), None, "the page above user space");
        let below = Vpn((LAST_USER_REGION << REGION_SHIFT) - 1);
        cache.insert(below, Pfn(10));
        assert_eq!(cache.lookup(below), Some(Pfn(10)), "the region below is cached");
    }
}
