//! The explain hook: an optional record of what the memory manager does, for tools that show
//! it as it happens (`ntmem script`'s `explain(true)`).
//!
//! Key types: [`Event`] (a page fault, or a frame moving between the page lists and use),
//! [`MoveReason`]. The record lives in [`super::PhysicalMemory`] and is off by default: each
//! place that records costs one predictable branch on an `Option` when it is off, and none of
//! them is on the TLB-hit path (faults are recorded where the MMU's walk fails; moves where a
//! frame changes list). The record only grows while on; its owner drains it between calls.

use super::{FrameUse, ListKind};
use crate::paging::{AccessKind, Pte};
use crate::units::Pfn;

/// Where a frame is: on a page list, or in use (`None` in [`Event::ListMove`]).
pub type Place = Option<ListKind>;

/// Why a frame moved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MoveReason {
    /// Taken from the zeroed or free list for a new use (zeroed first if it came off the free
    /// list).
    Allocated(FrameUse),
    /// Taken for a page about to be read in whole from a page file or a mapped file.
    ReadIn(FrameUse),
    /// The oldest standby page given up: its old page now lives only in its page file or
    /// file, and the frame is taken for a new use.
    Repurposed,
    /// Taken out of a working set (trim, unmap, reset): a dirty page goes to the modified list,
    /// a clean one to standby; its PTE becomes a transition PTE.
    Parked,
    /// Taken back off the standby or modified list into use (a soft fault, or on its way to
    /// another list).
    TakenBack,
    /// Given back: its page is gone (release, decommit, process exit).
    Released,
}

impl MoveReason {
    /// A few words for people.
    #[must_use]
    pub fn describe(self) -> String {
        match self {
            MoveReason::Allocated(usage) => format!("taken for a {}", use_name(usage)),
            MoveReason::ReadIn(usage) => format!("taken for a {} read in from disk", use_name(usage)),
            MoveReason::Repurposed => "repurposed: the oldest standby page gives up its frame".to_owned(),
            MoveReason::Parked => "left a working set".to_owned(),
            MoveReason::TakenBack => "taken back into use (soft fault)".to_owned(),
            MoveReason::Released => "released: its page is gone".to_owned(),
        }
    }
}

/// The name of a frame's use, in words.
#[must_use]
pub fn use_name(usage: FrameUse) -> &'static str {
    match usage {
        FrameUse::Unused => "nothing",
        FrameUse::Firmware => "firmware page",
        FrameUse::PageTable => "page table",
        FrameUse::Private => "private page",
        FrameUse::LargePage => "large page",
        FrameUse::SharedUserData => "shared user data page",
        FrameUse::Section => "section page",
    }
}

/// One thing the memory manager did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// The MMU's walk for `va` failed: a page fault the memory manager now resolves (or
    /// raises as an exception). `pte` is the PTE it found.
    Fault {
        /// The faulting address.
        va: u64,
        /// Read, write or execute.
        access: AccessKind,
        /// The PTE the walk found (zero when no table covers the address yet).
        pte: Pte,
    },
    /// A frame changed place.
    ListMove {
        /// The frame.
        pfn: Pfn,
        /// Where it was (`None`: in use).
        from: Place,
        /// Where it is now (`None`: in use).
        to: Place,
        /// Why.
        reason: MoveReason,
    },
}
