//! One PFN database entry per frame: its state, what it is used for, how many PTEs share it
//! and which PTE maps it (Windows Internals, 7th ed., ch. 5, "PFN data structures").
//!
//! The entry is 32 bytes: 0.8% of RAM, the size docs/design.md aims at (the page priority took
//! one byte of its padding).

use crate::paging::Protection;
use crate::units::PhysAddr;

/// Where a frame is in its life. A frame on a list is in the state of that list.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(u8)]
pub enum PfnState {
    /// On the zeroed list: all bytes are zero, ready to hand out as is.
    #[default]
    Zeroed,
    /// On the free list: released, holding old bytes, zeroed before reuse.
    Free,
    /// On the standby list: a trimmed page, still the page's, its contents safe.
    Standby,
    /// On the modified list: a trimmed page waiting to be written to a page file.
    Modified,
    /// On the bad list.
    Bad,
    /// On the modified no-write list: modified, and not to be written until allowed.
    ModifiedNoWrite,
    /// In use: mapped by a PTE, a page table, or kept by the firmware.
    Active,
}

impl PfnState {
    /// The list a frame in this state is on.
    #[must_use]
    pub fn list(self) -> Option<super::ListKind> {
        match self {
            PfnState::Zeroed => Some(super::ListKind::Zeroed),
            PfnState::Free => Some(super::ListKind::Free),
            PfnState::Standby => Some(super::ListKind::Standby),
            PfnState::Modified => Some(super::ListKind::Modified),
            PfnState::Bad => Some(super::ListKind::Bad),
            PfnState::ModifiedNoWrite => Some(super::ListKind::ModifiedNoWrite),
            PfnState::Active => None,
        }
    }
}

/// What an active frame holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(u8)]
pub enum FrameUse {
    /// Nothing (the frame is on a list).
    #[default]
    Unused,
    /// Kept by the firmware (frame 0).
    Firmware,
    /// A page-map table of some process (PML4, PDPT, PD or PT).
    PageTable,
    /// A private page of one process.
    Private,
    /// One of the 512 frames of a 2 MiB large page.
    LargePage,
    /// The shared user data page (KUSER_SHARED_DATA), mapped by every process (F6).
    SharedUserData,
    /// A page of a section's segment, shared by every view that maps it: its entry names the
    /// prototype PTE (segment and page) instead of a process PTE, and its share count is the
    /// valid process PTEs mapping it (0 on the standby and modified lists).
    Section,
}

/// Per-frame flags.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PfnFlags(u8);

impl PfnFlags {
    /// The page is locked in its working set (VirtualLock).
    pub const LOCKED: u8 = 1 << 0;
    /// The page was MEM_RESET: its contents may be discarded instead of written out.
    pub const RESET: u8 = 1 << 1;
    /// The page's contents differ from its page-file copy, or it has none: it must be written
    /// before its frame is reused (NT's PFN `Modified` bit).
    pub const MODIFIED: u8 = 1 << 2;

    /// True when `flag` is set.
    #[must_use]
    pub fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    pub(crate) fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.0 |= flag;
        } else {
            self.0 &= !flag;
        }
    }
}

/// The page priority a frame has unless a process of another memory priority mapped it
/// (`MEMORY_PRIORITY_NORMAL`, Windows Internals, 7th ed., ch. 5, "Page priority").
pub const DEFAULT_PRIORITY: u8 = 5;

/// Page priorities run from 0 to this.
pub const MAX_PRIORITY: u8 = 7;

/// A PFN database entry.
#[derive(Clone, Copy, Debug)]
pub struct PfnEntry {
    pub(crate) pte: u64,
    pub(crate) prev: u32,
    pub(crate) next: u32,
    /// Valid PTEs that map the frame; for a page-table frame, its non-zero entries (NT's
    /// `UsedPageTableEntries`).
    pub(crate) share_count: u16,
    /// Where the frame is in its life.
    pub(crate) state: PfnState,
    /// What the frame holds.
    pub(crate) usage: FrameUse,
    /// The protection the mapping was made with (NT keeps it in `OriginalPte`).
    pub(crate) protection: Protection,
    /// Locked, reset, modified.
    pub(crate) flags: PfnFlags,
    /// The page file holding a copy of this page (with `backing_slot`).
    pub(crate) backing_file: u8,
    /// The slot holding a copy of this page; [`NO_SLOT`] when none.
    pub(crate) backing_slot: u32,
    /// The page priority (0–7, NT's `MMPFN.u3.e1.Priority`): the memory priority of the
    /// process that last mapped the frame. A standby frame sits on the standby list of its
    /// priority, and repurposing takes the lowest priority first; it never changes while the
    /// frame is on a list (the list is found by it).
    pub(crate) priority: u8,
}

impl Default for PfnEntry {
    fn default() -> PfnEntry {
        PfnEntry {
            pte: 0,
            prev: 0,
            next: 0,
            share_count: 0,
            state: PfnState::default(),
            usage: FrameUse::default(),
            protection: Protection::default(),
            flags: PfnFlags::default(),
            backing_file: 0,
            backing_slot: NO_SLOT,
            priority: DEFAULT_PRIORITY,
        }
    }
}

const PROTOTYPE_SEGMENT_SHIFT: u32 = 40;
const PROTOTYPE_PAGE_MASK: u64 = (1 << PROTOTYPE_SEGMENT_SHIFT) - 1;

/// No page-file copy.
pub const NO_SLOT: u32 = 0;

const _: () = assert!(core::mem::size_of::<PfnEntry>() <= 32);

impl PfnEntry {
    /// The page was written since it was last clean, or since `MEM_RESET`: its contents
    /// matter, so the frame is modified and no longer discardable. Every place that learns of
    /// a write (a dirty bit set or folded in) marks it so, and only so.
    pub(crate) fn mark_written(&mut self) {
        self.flags.set(PfnFlags::MODIFIED, true);
        self.flags.set(PfnFlags::RESET, false);
    }

    /// Where the frame is in its life.
    #[must_use]
    pub fn state(&self) -> PfnState {
        self.state
    }

    /// What the frame holds.
    #[must_use]
    pub fn usage(&self) -> FrameUse {
        self.usage
    }

    /// Valid PTEs mapping it, or non-zero entries of a page table.
    #[must_use]
    pub fn share_count(&self) -> u16 {
        self.share_count
    }

    /// The physical address of the PTE that maps this frame, if one PTE does.
    #[must_use]
    pub fn pte(&self) -> Option<PhysAddr> {
        (self.pte != 0).then_some(PhysAddr(self.pte))
    }

    /// The prototype PTE describing a section frame: (segment number, page).
    #[must_use]
    pub fn prototype(&self) -> Option<(u32, u64)> {
        // The segment number sits above bit 40, one more than itself so the field is never 0.
        #[allow(clippy::cast_possible_truncation)]
        (self.usage == FrameUse::Section && self.pte != 0)
            .then(|| (((self.pte >> PROTOTYPE_SEGMENT_SHIFT) - 1) as u32, self.pte & PROTOTYPE_PAGE_MASK))
    }

    pub(crate) fn set_prototype(&mut self, segment: u32, page: u64) {
        self.pte = ((u64::from(segment) + 1) << PROTOTYPE_SEGMENT_SHIFT) | (page & PROTOTYPE_PAGE_MASK);
    }

    pub(crate) fn set_pte(&mut self, pte: Option<PhysAddr>) {
        self.pte = pte.map_or(0, |p| p.as_u64());
    }

    /// The protection of the page this frame holds.
    #[must_use]
    pub fn protection(&self) -> Protection {
        self.protection
    }

    /// The page priority (0–7).
    #[must_use]
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// Locked, reset, modified.
    #[must_use]
    pub fn flags(&self) -> PfnFlags {
        self.flags
    }

    /// The page-file copy of this page (file, slot), if it has one.
    #[must_use]
    pub fn backing(&self) -> Option<(u8, u32)> {
        (self.backing_slot != NO_SLOT).then_some((self.backing_file, self.backing_slot))
    }

    pub(crate) fn set_backing(&mut self, backing: Option<(u8, u32)>) {
        let (file, slot) = backing.unwrap_or((0, NO_SLOT));
        self.backing_file = file;
        self.backing_slot = slot;
    }
}
