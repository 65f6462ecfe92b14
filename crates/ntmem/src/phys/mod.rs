//! Physical memory: the bytes of RAM and the PFN database that describes every frame.
//!
//! Key types: [`PhysicalMemory`] (owns RAM, the PFN entries and the page lists), [`PfnEntry`]
//! and [`PfnState`]. Every frame is in exactly one state; a frame on a list is linked through
//! its PFN entry, as NT's are (Windows Internals, 7th ed., ch. 5 "Page frame number database").
//! A frame is zeroed before it is handed out: taken from the zeroed list first, else from the
//! free list and zeroed on the spot.
//!
//! Neighbours: `paging` reads and writes page-table entries through [`PhysicalMemory`];
//! `address_space` allocates and releases frames.

pub mod events;
mod frame_store;
mod lists;
mod pfn;

pub use frame_store::FrameStore;
pub use lists::ListKind;
pub use pfn::{FrameUse, PfnEntry, PfnFlags, PfnState, DEFAULT_PRIORITY, MAX_PRIORITY, NO_SLOT};

use crate::units::{Pfn, PhysAddr, PAGES_PER_LARGE_PAGE, PAGE_SIZE};
use events::MoveReason;
use lists::PageLists;

/// Counters kept by the physical layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysStats {
    /// Frames zeroed before being handed out (the demand-zero path's cost).
    pub pages_zeroed: u64,
    /// Standby pages repurposed (taken from the page they held for another use), by page
    /// priority: NT's `MmStandbyRePurposed` per priority (`SYSTEM_MEMORY_LIST_INFORMATION`'s
    /// `RepurposedPagesByPriority`).
    pub repurposed: [u64; 8],
}

/// RAM and its PFN database.
pub struct PhysicalMemory {
    store: FrameStore,
    pfns: Vec<PfnEntry>,
    lists: PageLists,
    active: u64,
    stats: PhysStats,
    /// The explain hook's record, when on (events.rs).
    events: Option<Vec<events::Event>>,
}

impl PhysicalMemory {
    /// A machine with `frames` frames, all zeroed. Frame 0 is kept back, as firmware keeps it on
    /// a PC, so physical address 0 never maps a page.
    pub(crate) fn new(frames: u32) -> std::io::Result<PhysicalMemory> {
        FrameStore::new(frames).map(PhysicalMemory::over)
    }

    /// A machine whose RAM is `store`, every frame of which reads as zero.
    pub(crate) fn over(store: FrameStore) -> PhysicalMemory {
        let frames = store.frames();
        let mut pm = PhysicalMemory {
            store,
            pfns: vec![PfnEntry::default(); frames as usize],
            lists: PageLists::default(),
            active: 0,
            stats: PhysStats::default(),
            events: None,
        };
        for raw in 1..frames {
            pm.lists.push_back(&mut pm.pfns, ListKind::Zeroed, Pfn(raw));
        }
        if frames > 0 {
            let e = &mut pm.pfns[0];
            e.state = PfnState::Active;
            e.usage = FrameUse::Firmware;
            pm.active = 1;
        }
        pm
    }

    /// Number of frames of RAM.
    #[must_use]
    pub fn frame_count(&self) -> u32 {
        self.store.frames()
    }

    /// The PFN entry of a frame.
    #[must_use]
    pub fn pfn(&self, pfn: Pfn) -> &PfnEntry {
        &self.pfns[pfn.index()]
    }

    pub(crate) fn pfn_mut(&mut self, pfn: Pfn) -> &mut PfnEntry {
        &mut self.pfns[pfn.index()]
    }

    /// Frames on a list.
    #[must_use]
    pub fn list_len(&self, list: ListKind) -> u64 {
        self.lists.len(list)
    }

    /// Standby frames of page priority `priority` (0–7).
    #[must_use]
    pub fn standby_len(&self, priority: u8) -> u64 {
        self.lists.standby_len(priority)
    }

    /// The standby frames of page priority `priority`, oldest first.
    pub fn standby_iter(&self, priority: u8) -> impl Iterator<Item = Pfn> + '_ {
        self.lists.standby_iter(&self.pfns, priority)
    }

    /// Gives an in-use frame the page priority of the process mapping it (a frame on a list
    /// keeps its own: its list is found by it).
    pub(crate) fn set_priority(&mut self, pfn: Pfn, priority: u8) {
        let e = &mut self.pfns[pfn.index()];
        if e.state == PfnState::Active {
            e.priority = priority.min(MAX_PRIORITY);
        }
    }

    /// The frames of a list, head first.
    pub fn list_iter(&self, list: ListKind) -> impl Iterator<Item = Pfn> + '_ {
        self.lists.iter(&self.pfns, list)
    }

    /// Frames in use (not on any list).
    #[must_use]
    pub fn active_count(&self) -> u64 {
        self.active
    }

    /// Frames that can be handed out without writing anything: the zeroed, free and standby
    /// lists (Windows' "available" memory).
    #[must_use]
    pub fn available(&self) -> u64 {
        self.lists.len(ListKind::Zeroed) + self.lists.len(ListKind::Free) + self.lists.len(ListKind::Standby)
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> PhysStats {
        self.stats
    }

    /// Takes a zeroed frame for `usage`, mapped by the entry at `pte` (if any). `None` when RAM
    /// is exhausted; commit accounting makes that unreachable for committed memory.
    #[must_use]
    pub(crate) fn allocate(&mut self, usage: FrameUse, pte: Option<PhysAddr>) -> Option<Pfn> {
        let (pfn, from) = if let Some(pfn) = self.lists.pop_front(&mut self.pfns, ListKind::Zeroed) {
            (pfn, ListKind::Zeroed)
        } else {
            let pfn = self.lists.pop_front(&mut self.pfns, ListKind::Free)?;
            self.zero(pfn);
            (pfn, ListKind::Free)
        };
        self.note_move(pfn, Some(from), None, MoveReason::Allocated(usage));
        self.activate(pfn, usage, pte);
        Some(pfn)
    }

    /// Takes 512 physically contiguous, 2 MiB-aligned frames for a large page, zeroed. Searches
    /// from the top of RAM down, away from where small pages are taken. `None` when no such run
    /// is free (fragmentation), as `STATUS_INSUFFICIENT_RESOURCES` on Windows.
    #[must_use]
    pub(crate) fn allocate_large(&mut self, pde: PhysAddr) -> Option<Pfn> {
        let per = u32::try_from(PAGES_PER_LARGE_PAGE).expect("512 fits");
        let blocks = self.frame_count() / per;
        let first = (0..blocks).rev().map(|b| b * per).find(|&start| {
            (start..start + per).all(|f| matches!(self.pfns[f as usize].state, PfnState::Zeroed | PfnState::Free))
        })?;
        for raw in first..first + per {
            let pfn = Pfn(raw);
            let list = self.pfns[pfn.index()].state.list().expect("checked above: on a list");
            self.lists.remove(&mut self.pfns, list, pfn);
            if list == ListKind::Free {
                self.zero(pfn);
            }
            self.activate(pfn, FrameUse::LargePage, Some(pde));
        }
        Some(Pfn(first))
    }

    fn activate(&mut self, pfn: Pfn, usage: FrameUse, pte: Option<PhysAddr>) {
        let e = &mut self.pfns[pfn.index()];
        *e = PfnEntry { state: PfnState::Active, usage, share_count: 1, ..PfnEntry::default() };
        e.set_pte(pte);
        self.active += 1;
    }

    /// Takes a frame for a page that is about to be read in whole: no zeroing needed. Free
    /// frames first (their old bytes are about to be overwritten), then zeroed ones.
    #[must_use]
    pub(crate) fn allocate_for_read(&mut self, usage: FrameUse, pte: Option<PhysAddr>) -> Option<Pfn> {
        let pfn = self
            .lists
            .pop_front(&mut self.pfns, ListKind::Free)
            .or_else(|| self.lists.pop_front(&mut self.pfns, ListKind::Zeroed))?;
        if self.events.is_some() {
            let from = if self.pfns[pfn.index()].state == PfnState::Free { ListKind::Free } else { ListKind::Zeroed };
            self.note_move(pfn, Some(from), None, MoveReason::ReadIn(usage));
        }
        self.activate(pfn, usage, pte);
        Some(pfn)
    }

    /// The oldest standby frame of the lowest page priority, taken off its list but still
    /// describing its old page: the caller rewrites that page's PTE, then
    /// [`PhysicalMemory::reuse`]s (or releases) the frame. Counted as repurposed at its priority.
    #[must_use]
    pub(crate) fn take_standby(&mut self) -> Option<Pfn> {
        let pfn = self.lists.pop_front(&mut self.pfns, ListKind::Standby)?;
        self.note_move(pfn, Some(ListKind::Standby), None, MoveReason::Repurposed);
        let priority = usize::from(self.pfns[pfn.index()].priority.min(MAX_PRIORITY));
        self.stats.repurposed[priority] += 1;
        self.pfns[pfn.index()].state = PfnState::Active;
        self.active += 1;
        Some(pfn)
    }

    /// Gives a frame taken with [`PhysicalMemory::take_standby`] its new use, zeroed if asked.
    pub(crate) fn reuse(&mut self, pfn: Pfn, usage: FrameUse, pte: Option<PhysAddr>, zero: bool) {
        if zero {
            self.zero(pfn);
        }
        self.active -= 1;
        self.activate(pfn, usage, pte);
    }

    /// Puts an in-use frame on the standby, modified or modified no-write list; it stays the
    /// page's. A standby frame goes on the list of its page priority.
    pub(crate) fn park(&mut self, pfn: Pfn, list: ListKind) {
        debug_assert_eq!(self.pfns[pfn.index()].state, PfnState::Active);
        self.active -= 1;
        self.lists.push_back(&mut self.pfns, list, pfn);
        self.note_move(pfn, None, Some(list), MoveReason::Parked);
    }

    /// Takes a parked frame back off its list into use (a soft fault).
    pub(crate) fn unpark(&mut self, pfn: Pfn) {
        if let Some(list) = self.pfns[pfn.index()].state.list() {
            self.lists.remove(&mut self.pfns, list, pfn);
            self.pfns[pfn.index()].state = PfnState::Active;
            self.active += 1;
            self.note_move(pfn, Some(list), None, MoveReason::TakenBack);
        }
    }

    /// The frames of a list, head first, up to `n` of them (for the modified page writer).
    pub(crate) fn list_head(&self, list: ListKind, n: usize) -> Vec<Pfn> {
        self.lists.iter(&self.pfns, list).take(n).collect()
    }

    /// Gives a frame back — in use or parked on a list: it goes to the free list, to be zeroed
    /// before its next use.
    pub(crate) fn release(&mut self, pfn: Pfn) {
        self.release_to(pfn, ListKind::Free);
    }

    fn release_to(&mut self, pfn: Pfn, list: ListKind) {
        self.unpark(pfn);
        let e = &mut self.pfns[pfn.index()];
        debug_assert_eq!(e.state, PfnState::Active, "releasing a frame that is not in use");
        *e = PfnEntry::default();
        e.state = PfnState::Free;
        self.active -= 1;
        self.lists.push_back(&mut self.pfns, list, pfn);
        self.note_move(pfn, None, Some(list), MoveReason::Released);
    }

    /// Gives back a frame whose bytes are all zero (a page table whose entries are all
    /// clear): it goes to the zeroed list, so that its next use need not zero it again.
    pub(crate) fn release_zeroed(&mut self, pfn: Pfn) {
        debug_assert!(self.store.frame(pfn).iter().all(|&b| b == 0), "a frame released as zeroed holds data");
        self.release_to(pfn, ListKind::Zeroed);
    }

    /// Turns the explain hook's record on (an empty one) or off (dropping what it held).
    pub fn set_recording(&mut self, on: bool) {
        self.events = on.then(Vec::new);
    }

    /// What was recorded since the last call, oldest first (empty when recording is off).
    pub fn take_events(&mut self) -> Vec<events::Event> {
        self.events.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Records a page fault, when recording.
    pub(crate) fn note_fault(&mut self, va: u64, access: crate::paging::AccessKind, pte: crate::paging::Pte) {
        if let Some(log) = &mut self.events {
            log.push(events::Event::Fault { va, access, pte });
        }
    }

    /// Records a frame's move, when recording.
    #[inline]
    fn note_move(&mut self, pfn: Pfn, from: events::Place, to: events::Place, reason: MoveReason) {
        if let Some(log) = &mut self.events {
            log.push(events::Event::ListMove { pfn, from, to, reason });
        }
    }

    fn zero(&mut self, pfn: Pfn) {
        self.store.frame_mut(pfn).fill(0);
        self.stats.pages_zeroed += 1;
    }

    /// The bytes of a frame.
    #[must_use]
    pub fn frame(&self, pfn: Pfn) -> &[u8] {
        self.store.frame(pfn)
    }

    pub(crate) fn frame_mut(&mut self, pfn: Pfn) -> &mut [u8] {
        self.store.frame_mut(pfn)
    }

    /// The bytes of each of `pfns`, in the order named (`None` when one is named twice).
    pub(crate) fn frames_mut(&mut self, pfns: &[Pfn]) -> Option<Vec<&mut [u8]>> {
        self.store.frames_mut(pfns)
    }

    /// The bytes of `count` physically contiguous frames from `first` on, as one slice.
    pub(crate) fn run_mut(&mut self, first: Pfn, count: usize) -> &mut [u8] {
        self.store.run_mut(first, count)
    }

    /// Copies frame `from` into frame `to` (a copy-on-write fault's copy).
    pub(crate) fn copy_frame(&mut self, from: Pfn, to: Pfn) {
        self.store.copy_frame(from, to);
    }

    /// Reads the little-endian u64 at `pa` (a page-table entry).
    #[must_use]
    pub fn read_u64(&self, pa: PhysAddr) -> u64 {
        self.store.read_u64(pa)
    }

    pub(crate) fn write_u64(&mut self, pa: PhysAddr, value: u64) {
        self.store.write_u64(pa, value);
    }

    /// Host bytes of RAM behind the simulated machine (for the figures).
    #[must_use]
    pub fn ram_bytes(&self) -> u64 {
        u64::from(self.store.frames()) * PAGE_SIZE
    }

    /// The raw store, for the access hot path.
    pub(crate) fn store(&self) -> &FrameStore {
        &self.store
    }

    pub(crate) fn store_mut(&mut self) -> &mut FrameStore {
        &mut self.store
    }
}
