//! The paging-structure cache of one address space: for recently walked 2 MiB regions, the
//! frame of the page table that maps them, so that a TLB miss reads one PTE rather than
//! walking four levels from the root. x86 processors keep the same kind of cache of PDEs
//! (Intel SDM vol. 3A, 4.10.3). It has 2048 entries, direct-mapped by region: 4 GiB of address
//! space, 16 KiB a process. A fixed size, so that the index the shortest walk of a TLB miss
//! computes needs no bounds check (`system::memory`); a process touching more than 4 GiB
//! walks from the root where its regions meet in a slot.
//!
//! Contract, kept by [`super::PageTables`]: an entry names the page table its region's PDE
//! points to now. A PDE stops pointing to a page table only when the table is freed
//! (`prune`), which forgets the entry; tables are created where no entry can exist. The
//! accessed bits of the PML4E, PDPTE and PDE were set by the walk that filled the entry and
//! nothing clears them (aging clears leaf bits only), so a walk that starts from the cache
//! changes exactly what a full walk would. `invariants::check` compares every entry with the
//! tables. A cache that has stopped (the native engine's, whose TLB misses the host's MMU
//! takes: [`TableCache::stop`]) holds nothing and is never filled, so the shortest walk finds
//! nothing there and takes the full path, which tells the host TLB of its fill.
//!
//! The last region of user space, whose 2 MiB run past [`MAX_USER_ADDRESS`], is never cached:
//! so a page the cache knows the table of is a user page, and a TLB miss through the cache
//! needs no range check of its own. Its pages walk from the root.

use crate::units::{Pfn, Vpn, MAX_USER_ADDRESS, PAGE_SHIFT};

/// Entries: 2048 regions of 2 MiB, 4 GiB of address space.
const ENTRIES: usize = 2048;
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
    /// A fixed-size array, so that an index masked to [`ENTRIES`] needs no bounds check;
    /// held inline (16 KiB in the address space), so that reaching it is no pointer load.
    entries: [Entry; ENTRIES],
    /// False once [`Self::stop`]ped: nothing is cached any more.
    caching: bool,
}

impl Default for TableCache {
    fn default() -> Self {
        TableCache { entries: [EMPTY; ENTRIES], caching: true }
    }
}

/// The region of `vpn` plus one: never 0; above every `u32` for a page beyond user space, so
/// such a page never matches.
#[inline(always)]
const fn tag_of(vpn: Vpn) -> u64 {
    (vpn.as_u64() >> REGION_SHIFT) + 1
}

/// The slot of `vpn`'s region.
#[inline(always)]
const fn slot_of(vpn: Vpn) -> usize {
    // Masked below ENTRIES, a usize.
    #[allow(clippy::cast_possible_truncation)]
    let slot = ((vpn.as_u64() >> REGION_SHIFT) & (ENTRIES as u64 - 1)) as usize;
    slot
}

impl TableCache {
    /// The page table mapping `vpn`, if cached.
    #[inline(always)]
    pub(crate) fn lookup(&self, vpn: Vpn) -> Option<Pfn> {
        let e = &self.entries[slot_of(vpn)];
        (u64::from(e.tag) == tag_of(vpn)).then_some(Pfn(e.table))
    }

    /// Remembers that `table` maps the region of `vpn` (a user page), unless that is the
    /// last user region, which is never cached (see the module's text).
    pub(crate) fn insert(&mut self, vpn: Vpn, table: Pfn) {
        if !self.caching {
            return;
        }
        if vpn.as_u64() >> REGION_SHIFT >= LAST_USER_REGION {
            debug_assert!(
                vpn.as_u64() << PAGE_SHIFT <= MAX_USER_ADDRESS,
                "a page table cached for a page beyond user space"
            );
            return;
        }
        match u32::try_from(tag_of(vpn)) {
            Ok(tag) => self.entries[slot_of(vpn)] = Entry { tag, table: table.0 },
            Err(_) => debug_assert!(false, "a region below the last user region whose tag is not a u32"),
        }
    }

    /// Forgets the region of `vpn` (its page table is being freed).
    pub(crate) fn forget(&mut self, vpn: Vpn) {
        let e = &mut self.entries[slot_of(vpn)];
        if u64::from(e.tag) == tag_of(vpn) {
            *e = EMPTY;
        }
    }

    /// Empties the cache and caches nothing from now on: for an address space whose TLB
    /// fills a host TLB must hear of (see the module's text).
    pub(crate) fn stop(&mut self) {
        self.entries.fill(EMPTY);
        self.caching = false;
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
        assert_eq!(cache.lookup(Vpn(0x12_3456 + 512 * 2048)), None, "the same slot, another region");
        assert_eq!(cache.lookup(Vpn(u64::MAX >> 12)), None, "beyond user space");
        assert_eq!(cache.iter().collect::<Vec<_>>(), vec![(Vpn(0x12_3400), Pfn(77))]);
        cache.forget(Vpn(0x12_3456 + 512 * 2048));
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

    #[test]
    fn a_stopped_cache_holds_nothing_and_caches_nothing() {
        let mut cache = TableCache::default();
        cache.insert(Vpn(0x12_3456), Pfn(77));
        cache.stop();
        assert_eq!(cache.lookup(Vpn(0x12_3456)), None, "emptied");
        cache.insert(Vpn(0x12_3456), Pfn(78));
        assert_eq!(cache.lookup(Vpn(0x12_3456)), None, "nothing cached any more");
        assert_eq!(cache.iter().count(), 0);
    }
}
