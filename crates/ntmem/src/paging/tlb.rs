//! The software TLB: a direct-mapped cache of translations, one per address space, on the hot
//! path of every access. A hit is an index, a compare and a copy: no allocation, no map, no lock.
//!
//! Contract: every PTE change is followed by the [`TlbFlush`] it returned, so an entry never
//! grants more than its PTE does. An entry allows writes only once the PTE's dirty bit is set,
//! so the first write through a clean entry walks again and sets it, as the CPU does.
//!
//! A second TLB may stand beside this one ([`HostTlb`], the native engine's host MMU): it is
//! told of every fill, and of every [`TlbFlush`] applied, whether or not this TLB held the
//! page, so that it never grants more than the PTEs do either. The simulated engine installs
//! none; the hit path does not look at it.

use crate::arch::x86_64 as hw;
use crate::units::{PageRange, Pfn, Vpn, PAGE_BYTES, PAGE_SHIFT, PAGE_SIZE};

/// Entries in each TLB.
pub const TLB_ENTRIES: usize = 1024;
const MASK: u64 = TLB_ENTRIES as u64 - 1;
/// The offset bits of an address.
const OFFSET_MASK: u64 = PAGE_SIZE - 1;

/// Permission bits of an entry.
pub(crate) const READ: u8 = 1;
pub(crate) const WRITE: u8 = 2;
pub(crate) const EXEC: u8 = 4;

/// One cached translation, 32 bytes: half a cache line, so that the tag a hit compares and
/// the frame it uses come from one line. Each kind of access has its own tag, set only when
/// the entry allows that access, so a look-up is one compare whatever the access: no separate
/// permission test on the hot path.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(32))]
struct TlbEntry {
    /// The page's address when reads are allowed, else a refused tag (see [`NO_PAGE`]).
    read: u64,
    /// The page's address when writes are allowed (and the PTE is dirty), else a refused tag.
    write: u64,
    /// The page's address when instruction fetches are allowed, else a refused tag.
    exec: u64,
    frame: u32,
}

/// A tag no access matches: the address of a page is a multiple of 4096, this is not, nor is
/// any tag with a bit below 4096 set (a refused tag). So any address, user or not, can be
/// compared with any tag: no range check on the hot path.
const NO_PAGE: u64 = 1;

/// True when `tag` allows its access: it is a page's address, not a refused tag.
fn allows(tag: u64) -> bool {
    tag & OFFSET_MASK == 0
}

const EMPTY: TlbEntry = TlbEntry { read: NO_PAGE, write: NO_PAGE, exec: NO_PAGE, frame: 0 };

/// The slot of page `vpn`.
#[inline(always)]
fn slot_of(vpn: u64) -> usize {
    // The mask keeps the index below TLB_ENTRIES.
    #[allow(clippy::cast_possible_truncation)]
    let slot = (vpn & MASK) as usize;
    slot
}

/// A TLB outside the simulated machine that mirrors its translations: the native engine's
/// host mappings. Contract: after `fill(p, f, ..)` the host may let the program reach frame
/// `f` at page `p` (writes only when `writable`); after `flush(range)` no page of `range` is
/// reachable until it is filled again.
pub trait HostTlb: Send {
    /// Page `vpn` translates to frame `pfn`; writable when the PTE allows writes and is dirty.
    fn fill(&mut self, vpn: Vpn, pfn: Pfn, writable: bool, executable: bool);
    /// No page of `range` may be reached any more.
    fn flush(&mut self, range: PageRange);
}

/// A software TLB.
pub struct Tlb {
    /// A fixed-size array, so that an index masked to `TLB_ENTRIES` needs no bounds check;
    /// held inline (32 KiB in the address space), so that reaching it is no pointer load.
    entries: [TlbEntry; TLB_ENTRIES],
    /// The host TLB told of fills and flushes, if any.
    host: Option<Box<dyn HostTlb>>,
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb { entries: [EMPTY; TLB_ENTRIES], host: None }
    }
}

impl Tlb {
    /// Looks `vpn` up for one kind of access (`READ`, `WRITE` or `EXEC`): the frame if
    /// cached with that permission.
    #[inline(always)]
    pub(crate) fn lookup(&self, vpn: u64, need: u8) -> Option<u32> {
        self.lookup_page(vpn << PAGE_SHIFT, need)
    }

    /// Looks up the page at `page` (a multiple of 4096, or anything else, which never
    /// matches) for one kind of access.
    #[inline(always)]
    fn lookup_page(&self, page: u64, need: u8) -> Option<u32> {
        let e = &self.entries[slot_of(page >> PAGE_SHIFT)];
        let tag = match need {
            READ => e.read,
            WRITE => e.write,
            _ => e.exec,
        };
        (tag == page).then_some(e.frame)
    }

    /// The TLB hit of an access of `len` bytes at `addr` (`READ` or `WRITE`): the frame and
    /// the byte offset in it, when the access is not empty, stays inside one page, and the
    /// page is cached with that permission. Anything else (an empty access, which touches
    /// nothing, a page crossing, a miss) is `None`, for the full path.
    #[inline(always)]
    pub(crate) fn hit(&self, addr: u64, len: usize, need: u8) -> Option<(u32, usize)> {
        // Below PAGE_BYTES.
        #[allow(clippy::cast_possible_truncation)]
        let off = (addr & OFFSET_MASK) as usize;
        // One compare for both: `len - 1` wraps to usize::MAX for an empty access.
        if len.wrapping_sub(1) >= PAGE_BYTES - off {
            return None;
        }
        self.lookup_page(addr & !OFFSET_MASK, need).map(|frame| (frame, off))
    }

    /// Caches `vpn` → `pfn` with the permission bits `perms`, and tells the host TLB if any.
    pub(crate) fn fill(&mut self, vpn: Vpn, pfn: Pfn, perms: u8) {
        let page = vpn.as_u64() << PAGE_SHIFT;
        let when = |bit: u8| if perms & bit != 0 { page } else { NO_PAGE };
        self.entries[slot_of(vpn.as_u64())] =
            TlbEntry { read: when(READ), write: when(WRITE), exec: when(EXEC), frame: pfn.0 };
        if let Some(host) = &mut self.host {
            host.fill(vpn, pfn, perms & WRITE != 0, perms & EXEC != 0);
        }
    }

    /// Caches `vpn` → the frame of `pte`, a present x86 PTE, for the data access that walked
    /// to it, allowing what the PTE allows data: reads, and writes once it is writable and
    /// dirty. An instruction fetch finds no entry and walks for itself, as a processor's
    /// loads and stores fill its data TLB and its fetches the instruction TLB. For the shortest
    /// walk of a TLB miss, which an address space with a host TLB never takes (its
    /// paging-structure cache has stopped: `Vm::set_host_tlb`): no call and no branch, so
    /// that the walk stays short. Every instruction it saves lets the processor overlap more
    /// misses' memory waits: a run of misses is bound by how many of them fit in its
    /// out-of-order window. A refused write's tag is the page with one of the PTE's low bits
    /// set: never the address of a page, so no access matches it.
    #[inline(always)]
    pub(crate) fn fill_for_data(&mut self, vpn: Vpn, pte: u64) {
        debug_assert!(self.host.is_none(), "a fill no host TLB hears of");
        let page = vpn.as_u64() << PAGE_SHIFT;
        let write_ready = hw::RW | hw::D;
        self.entries[slot_of(vpn.as_u64())] = TlbEntry {
            read: page,
            write: page | ((pte & write_ready) ^ write_ready),
            exec: NO_PAGE,
            frame: hw::entry_frame(pte).0,
        };
    }

    /// Installs the host TLB (replacing any), dropping every software entry so that each
    /// page the program reaches from now on is filled, and so told to the host, again. The
    /// caller stops the paging-structure cache too (`Vm::set_host_tlb`): a fill by
    /// [`Self::fill_for_data`] tells no host.
    pub(crate) fn set_host(&mut self, host: Box<dyn HostTlb>) {
        self.flush_all();
        self.host = Some(host);
    }

    /// Drops the software entry of `vpn` without telling the host (whose own entry is gone
    /// already: the native engine asks again after a host fault), so that the next access
    /// walks and fills both.
    pub(crate) fn forget(&mut self, vpn: Vpn) {
        self.invalidate(vpn);
    }

    fn invalidate(&mut self, vpn: Vpn) {
        let page = vpn.as_u64() << PAGE_SHIFT;
        let e = &mut self.entries[slot_of(vpn.as_u64())];
        if e.read == page || e.write == page || e.exec == page {
            *e = EMPTY;
        }
    }

    /// Drops every entry.
    pub fn flush_all(&mut self) {
        self.entries.fill(EMPTY);
    }

    /// The cached entries: (page, frame, permission bits: 1 read, 2 write-ready, 4 execute).
    pub fn entries(&self) -> impl Iterator<Item = (Vpn, Pfn, u8)> + '_ {
        self.entries.iter().filter_map(|e| {
            let tags = [(e.read, READ), (e.write, WRITE), (e.exec, EXEC)];
            let perms = tags.iter().filter(|&&(t, _)| allows(t)).fold(0, |p, &(_, bit)| p | bit);
            let page = tags.iter().map(|&(t, _)| t).find(|&t| allows(t))?;
            Some((Vpn(page >> PAGE_SHIFT), Pfn(e.frame), perms))
        })
    }
}

/// A TLB invalidation owed after a PTE change.
#[must_use = "a changed PTE leaves a stale TLB entry until the flush is applied"]
#[derive(Clone, Copy, Debug)]
pub struct TlbFlush(PageRange);

impl TlbFlush {
    /// Invalidate one page.
    pub(crate) fn page(vpn: Vpn) -> TlbFlush {
        TlbFlush(PageRange { start: vpn, end: vpn.add(1) })
    }

    /// Invalidate a range.
    pub(crate) fn range(range: PageRange) -> TlbFlush {
        TlbFlush(range)
    }

    /// What is owed after `owed` and then `next`: one invalidation covering both and the pages
    /// between, for a caller that changes many PTEs under one call and owes their
    /// invalidations at once, as NT's flush list gathers a deletion's. Invalidating a page no
    /// TLB holds changes nothing, so the pages between cost only the look.
    pub(crate) fn join(owed: Option<TlbFlush>, next: Option<TlbFlush>) -> Option<TlbFlush> {
        match (owed, next) {
            (Some(a), Some(b)) => {
                Some(TlbFlush(PageRange { start: a.0.start.min(b.0.start), end: a.0.end.max(b.0.end) }))
            }
            (a, b) => a.or(b),
        }
    }

    /// Performs the invalidation owed, if any.
    pub(crate) fn apply_owed(owed: Option<TlbFlush>, tlb: &mut Tlb) {
        if let Some(flush) = owed {
            flush.apply(tlb);
        }
    }

    /// Performs the invalidation, in the host TLB too.
    pub fn apply(self, tlb: &mut Tlb) {
        if let Some(host) = &mut tlb.host {
            host.flush(self.0);
        }
        if self.0.len() > TLB_ENTRIES as u64 {
            tlb.flush_all();
        } else {
            for vpn in self.0.iter() {
                tlb.invalidate(vpn);
            }
        }
    }
}

/// The invalidations owed by a walk that rewrites some of the pages it visits: gathered while
/// each rewritten page is the one after the last, applied when that run ends, so a run costs
/// one flush (one host call in the native engine) and no page outside the runs is flushed. A
/// walk in address order makes the longest runs. The last run is owed until
/// [`FlushRuns::finish`].
#[derive(Debug, Default)]
pub(crate) struct FlushRuns {
    run: Option<TlbFlush>,
    /// One past the run's last page.
    end: Option<Vpn>,
}

impl FlushRuns {
    /// Notes `vpn`, the walk's next page, and what rewriting it owed (`None`: left alone,
    /// which ends the run).
    pub(crate) fn note(&mut self, tlb: &mut Tlb, vpn: Vpn, owed: Option<TlbFlush>) {
        if owed.is_none() || self.end != Some(vpn) {
            TlbFlush::apply_owed(self.run.take(), tlb);
        }
        if owed.is_some() {
            self.run = TlbFlush::join(self.run, owed);
            self.end = Some(vpn.add(1));
        }
    }

    /// Applies the last run.
    pub(crate) fn finish(self, tlb: &mut Tlb) {
        TlbFlush::apply_owed(self.run, tlb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_needs_the_page_the_permission_and_one_page_of_bytes() {
        let mut tlb = Tlb::default();
        let vpn = Vpn(0x12_3456);
        let addr = vpn.as_u64() << PAGE_SHIFT;
        tlb.fill(vpn, Pfn(77), READ);
        assert_eq!(tlb.hit(addr + 8, 8, READ), Some((77, 8)));
        assert_eq!(tlb.hit(addr + 4088, 8, READ), Some((77, 4088)), "the last 8 bytes of the page");
        assert_eq!(tlb.hit(addr + 4089, 8, READ), None, "crosses into the next page");
        assert_eq!(tlb.hit(addr + 8, 0, READ), None, "an empty access is not a hit: it touches nothing");
        assert_eq!(tlb.hit(addr + 8, 8, WRITE), None, "not cached for writing");
        assert_eq!(tlb.hit(addr + 8 + (TLB_ENTRIES as u64 * PAGE_SIZE), 8, READ), None, "the same slot, another page");
        tlb.fill(vpn, Pfn(78), READ | WRITE);
        assert_eq!(tlb.hit(addr, 4096, WRITE), Some((78, 0)), "a whole page");
        assert_eq!(tlb.entries().collect::<Vec<_>>(), vec![(vpn, Pfn(78), READ | WRITE)]);
        TlbFlush::page(vpn).apply(&mut tlb);
        assert_eq!(tlb.hit(addr, 8, READ), None);
        assert_eq!(tlb.entries().count(), 0);
    }

    #[test]
    fn no_address_matches_an_empty_entry() {
        let tlb = Tlb::default();
        for addr in [0, 1, 0x1000, u64::MAX, u64::MAX - 4095, 1 << 63] {
            assert_eq!(tlb.hit(addr & !7, 8, READ), None, "{addr:#x}");
            assert_eq!(tlb.lookup(addr >> PAGE_SHIFT, EXEC), None, "{addr:#x}");
        }
    }

    #[test]
    fn a_data_fill_allows_the_data_accesses_the_pte_allows() {
        let vpn = Vpn(0x12_3456);
        let addr = vpn.as_u64() << PAGE_SHIFT;
        let frame = Pfn(77).phys().as_u64();
        let cases = [
            (hw::P | hw::A | hw::NX, READ),
            (hw::P | hw::A | hw::RW | hw::NX, READ),
            (hw::P | hw::A | hw::D | hw::NX, READ),
            (hw::P | hw::A | hw::RW | hw::D | hw::NX, READ | WRITE),
            (hw::P | hw::A, READ),
            (hw::P | hw::A | hw::RW | hw::D, READ | WRITE),
        ];
        for (bits, perms) in cases {
            let mut tlb = Tlb::default();
            tlb.fill_for_data(vpn, frame | bits);
            assert_eq!(tlb.entries().collect::<Vec<_>>(), vec![(vpn, Pfn(77), perms)], "PTE bits {bits:#x}");
            assert_eq!(tlb.hit(addr + 8, 8, READ), Some((77, 8)));
            assert_eq!(tlb.hit(addr + 8, 8, WRITE).is_some(), perms & WRITE != 0, "PTE bits {bits:#x}");
            assert_eq!(tlb.lookup(vpn.as_u64(), EXEC), None, "a fetch walks for itself: PTE bits {bits:#x}");
            TlbFlush::page(vpn).apply(&mut tlb);
            assert_eq!(tlb.entries().count(), 0, "a flush drops the entry, refused tags and all");
        }
    }
}
