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

/// Permission bits of an entry.
pub(crate) const READ: u8 = 1;
pub(crate) const WRITE: u8 = 2;
pub(crate) const EXEC: u8 = 4;

#[derive(Clone, Copy, Debug)]
pub(crate) struct TlbEntry {
    /// vpn + 1; 0 means empty.
    pub(crate) tag: u64,
    pub(crate) frame: u32,
    pub(crate) perms: u8,
}

const EMPTY: TlbEntry = TlbEntry { tag: 0, frame: 0, perms: 0 };

/// A software TLB.
pub struct Tlb {
    entries: Box<[TlbEntry]>,
}

impl Default for Tlb {
    fn default() -> Self {
        Tlb { entries: vec![EMPTY; TLB_ENTRIES].into_boxed_slice() }
    }
}

impl Tlb {
    /// Looks `vpn` up: the frame if cached with every bit of `need`.
    #[inline(always)]
    pub(crate) fn lookup(&self, vpn: u64, need: u8) -> Option<u32> {
        // The mask keeps the index below TLB_ENTRIES.
        #[allow(clippy::cast_possible_truncation)]
        let e = &self.entries[(vpn & MASK) as usize];
        if e.tag == vpn + 1 && e.perms & need == need {
            Some(e.frame)
        } else {
            None
        }
    }

    pub(crate) fn fill(&mut self, vpn: Vpn, pfn: Pfn, perms: u8) {
        #[allow(clippy::cast_possible_truncation)]
        let slot = (vpn.as_u64() & MASK) as usize;
        self.entries[slot] = TlbEntry { tag: vpn.as_u64() + 1, frame: pfn.0, perms };
    }

    fn invalidate(&mut self, vpn: Vpn) {
        #[allow(clippy::cast_possible_truncation)]
        let e = &mut self.entries[(vpn.as_u64() & MASK) as usize];
        if e.tag == vpn.as_u64() + 1 {
            *e = EMPTY;
        }
    }

    /// Drops every entry.
    pub fn flush_all(&mut self) {
        self.entries.fill(EMPTY);
    }

    /// The cached entries: (page, frame, readable, write-ready, executable).
    pub fn entries(&self) -> impl Iterator<Item = (Vpn, Pfn, u8)> + '_ {
        self.entries.iter().filter(|e| e.tag != 0).map(|e| (Vpn(e.tag - 1), Pfn(e.frame), e.perms))
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
