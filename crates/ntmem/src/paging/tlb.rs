//! The software TLB: a direct-mapped cache of translations, one per address space, on the hot
//! path of every access. A hit is an index, a compare and a copy: no allocation, no map, no lock.
//!
//! Contract: every PTE change is followed by the [`TlbFlush`] it returned, so an entry never
//! grants more than its PTE does. An entry allows writes only once the PTE's dirty bit is set,
//! so the first write through a clean entry walks again and sets it, as the CPU does.

use crate::units::{PageRange, Pfn, Vpn};

/// Entries in each TLB.
pub const TLB_ENTRIES: usize = 1024;
const MASK: u64 = TLB_ENTRIES as u64 - 1;
/// The page-number bits the index stands for; the tag holds the rest.
const INDEX_BITS: u32 = TLB_ENTRIES.trailing_zeros();

/// Permission bits of an entry.
pub(crate) const READ: u8 = 1;
pub(crate) const WRITE: u8 = 2;
pub(crate) const EXEC: u8 = 4;

/// One cached translation. Each kind of access has its own tag, set only when the entry
/// allows that access, so a look-up is one compare whatever the access: no separate
/// permission test on the hot path.
#[derive(Clone, Copy, Debug)]
struct TlbEntry {
    /// [`tag_of`] the page when reads are allowed, else 0.
    read: u32,
    /// [`tag_of`] the page when writes are allowed (and the PTE is dirty), else 0.
    write: u32,
    /// [`tag_of`] the page when instruction fetches are allowed, else 0.
    exec: u32,
    frame: u32,
}

const EMPTY: TlbEntry = TlbEntry { read: 0, write: 0, exec: 0, frame: 0 };

/// The tag of page number `vpn`: the bits above the index, plus one so that 0 is no page.
/// Never 0; for a user page (below 2^35) it fits a `u32`, and a larger `vpn` (an address no
/// entry can hold) gives a tag above every `u32`, so it can never match.
#[inline(always)]
const fn tag_of(vpn: u64) -> u64 {
    (vpn >> INDEX_BITS) + 1
}

/// A software TLB.
pub struct Tlb {
    /// A fixed-size array, so that an index masked to `TLB_ENTRIES` needs no bounds check;
    /// held inline (16 KiB in the address space), so that reaching it is no pointer load.
    entries: [TlbEntry; TLB_ENTRIES],
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb { entries: [EMPTY; TLB_ENTRIES] }
    }
}

impl Tlb {
    /// Looks `vpn` up for one kind of access (`READ`, `WRITE` or `EXEC`): the frame if
    /// cached with that permission.
    #[inline(always)]
    pub(crate) fn lookup(&self, vpn: u64, need: u8) -> Option<u32> {
        // The mask keeps the index below TLB_ENTRIES.
        #[allow(clippy::cast_possible_truncation)]
        let e = &self.entries[(vpn & MASK) as usize];
        let tag = match need {
            READ => e.read,
            WRITE => e.write,
            _ => e.exec,
        };
        (u64::from(tag) == tag_of(vpn)).then_some(e.frame)
    }

    /// Caches `vpn` → `pfn` with the permission bits `perms`.
    pub(crate) fn fill(&mut self, vpn: Vpn, pfn: Pfn, perms: u8) {
        // A user page number is below 2^35, so its tag fits a u32 (see `tag_of`).
        #[allow(clippy::cast_possible_truncation)]
        let (slot, tag) = ((vpn.as_u64() & MASK) as usize, tag_of(vpn.as_u64()) as u32);
        debug_assert_eq!(u64::from(tag), tag_of(vpn.as_u64()), "a TLB entry for a page beyond user space");
        let when = |bit: u8| if perms & bit != 0 { tag } else { 0 };
        self.entries[slot] = TlbEntry { read: when(READ), write: when(WRITE), exec: when(EXEC), frame: pfn.0 };
    }

    fn invalidate(&mut self, vpn: Vpn) {
        #[allow(clippy::cast_possible_truncation)]
        let e = &mut self.entries[(vpn.as_u64() & MASK) as usize];
        if u64::from(e.read | e.write | e.exec) == tag_of(vpn.as_u64()) {
            *e = EMPTY;
        }
    }

    /// Drops every entry.
    pub fn flush_all(&mut self) {
        self.entries.fill(EMPTY);
    }

    /// The cached entries: (page, frame, permission bits: 1 read, 2 write-ready, 4 execute).
    pub fn entries(&self) -> impl Iterator<Item = (Vpn, Pfn, u8)> + '_ {
        self.entries.iter().zip(0u64..).filter_map(|(e, index)| {
            let tag = e.read | e.write | e.exec;
            let perms =
                [(e.read, READ), (e.write, WRITE), (e.exec, EXEC)]
                    .iter()
                    .fold(0, |p, &(t, bit)| if t != 0 { p | bit } else { p });
            (tag != 0).then(|| (Vpn(((u64::from(tag) - 1) << INDEX_BITS) | index), Pfn(e.frame), perms))
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

    /// Performs the invalidation.
    pub fn apply(self, tlb: &mut Tlb) {
        if self.0.len() > TLB_ENTRIES as u64 {
            tlb.flush_all();
        } else {
            for vpn in self.0.iter() {
                tlb.invalidate(vpn);
            }
        }
    }
}
