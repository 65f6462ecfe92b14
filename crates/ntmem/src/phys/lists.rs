//! The page lists: doubly linked through the PFN entries, so a frame is removed from the
//! middle of a list in O(1) (needed to take the 512 frames of a large page).
//!
//! The standby list is eight lists, one per page priority (NT's `MmStandbyPageListByPriority`):
//! a frame goes on the list of its PFN's priority, [`PageLists::pop_front`] of the standby list
//! takes the oldest frame of the lowest priority that has one, and the standby list's length
//! and iteration cover all eight, lowest priority first.

use super::pfn::{PfnEntry, PfnState, MAX_PRIORITY};
use crate::units::Pfn;

const NONE: u32 = u32::MAX;
/// The first standby head; the eight priorities follow it.
const STANDBY: usize = 5;
const PRIORITIES: usize = MAX_PRIORITY as usize + 1;

/// The page lists.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ListKind {
    /// Frames known to be zero.
    Zeroed,
    /// Released frames, zeroed on their next use.
    Free,
    /// Trimmed pages whose contents are safe in a page file (or need not be kept): a soft
    /// fault takes them back, a new use repurposes them.
    Standby,
    /// Trimmed pages that must be written to a page file before their frame can be reused.
    Modified,
    /// Frames that failed (kept out of use).
    Bad,
    /// Modified pages that must not be written yet (NT's modified no-write list): pages of a
    /// segment whose writes are deferred (`System::set_section_write_deferred`). The modified
    /// page writer leaves them; they move to the modified list when writes are allowed again.
    ModifiedNoWrite,
}

impl ListKind {
    /// Every list.
    pub const ALL: [ListKind; 6] = [
        ListKind::Zeroed,
        ListKind::Free,
        ListKind::Standby,
        ListKind::Modified,
        ListKind::Bad,
        ListKind::ModifiedNoWrite,
    ];

    /// The head of this list for a frame of `priority` (the standby list has one per priority).
    fn slot(self, priority: u8) -> usize {
        match self {
            ListKind::Zeroed => 0,
            ListKind::Free => 1,
            ListKind::Modified => 2,
            ListKind::Bad => 3,
            ListKind::ModifiedNoWrite => 4,
            ListKind::Standby => STANDBY + usize::from(priority.min(MAX_PRIORITY)),
        }
    }

    /// The heads of this list, in the order they are taken from.
    fn slots(self) -> core::ops::Range<usize> {
        match self {
            ListKind::Standby => STANDBY..STANDBY + PRIORITIES,
            _ => {
                let s = self.slot(0);
                s..s + 1
            }
        }
    }

    fn state(self) -> PfnState {
        match self {
            ListKind::Zeroed => PfnState::Zeroed,
            ListKind::Free => PfnState::Free,
            ListKind::Standby => PfnState::Standby,
            ListKind::Modified => PfnState::Modified,
            ListKind::Bad => PfnState::Bad,
            ListKind::ModifiedNoWrite => PfnState::ModifiedNoWrite,
        }
    }

    /// The list's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ListKind::Zeroed => "zeroed",
            ListKind::Free => "free",
            ListKind::Standby => "standby",
            ListKind::Modified => "modified",
            ListKind::Bad => "bad",
            ListKind::ModifiedNoWrite => "modified no-write",
        }
    }
}

#[derive(Clone, Copy)]
struct Head {
    first: u32,
    last: u32,
    len: u64,
}

impl Default for Head {
    fn default() -> Self {
        Head { first: NONE, last: NONE, len: 0 }
    }
}

#[derive(Default)]
pub(super) struct PageLists {
    heads: [Head; STANDBY + PRIORITIES],
}

impl PageLists {
    pub(super) fn len(&self, list: ListKind) -> u64 {
        list.slots().map(|s| self.heads[s].len).sum()
    }

    /// Standby frames of `priority`.
    pub(super) fn standby_len(&self, priority: u8) -> u64 {
        self.heads[ListKind::Standby.slot(priority)].len
    }

    pub(super) fn push_back(&mut self, pfns: &mut [PfnEntry], list: ListKind, pfn: Pfn) {
        let head = &mut self.heads[list.slot(pfns[pfn.index()].priority)];
        let e = &mut pfns[pfn.index()];
        e.state = list.state();
        e.prev = head.last;
        e.next = NONE;
        if head.last == NONE {
            head.first = pfn.0;
        } else {
            pfns[head.last as usize].next = pfn.0;
        }
        head.last = pfn.0;
        head.len += 1;
    }

    pub(super) fn pop_front(&mut self, pfns: &mut [PfnEntry], list: ListKind) -> Option<Pfn> {
        let first = list.slots().map(|s| self.heads[s].first).find(|&f| f != NONE)?;
        self.remove(pfns, list, Pfn(first));
        Some(Pfn(first))
    }

    pub(super) fn remove(&mut self, pfns: &mut [PfnEntry], list: ListKind, pfn: Pfn) {
        let head = &mut self.heads[list.slot(pfns[pfn.index()].priority)];
        let (prev, next) = {
            let e = &pfns[pfn.index()];
            (e.prev, e.next)
        };
        if prev == NONE {
            head.first = next;
        } else {
            pfns[prev as usize].next = next;
        }
        if next == NONE {
            head.last = prev;
        } else {
            pfns[next as usize].prev = prev;
        }
        head.len -= 1;
        let e = &mut pfns[pfn.index()];
        e.prev = NONE;
        e.next = NONE;
    }

    pub(super) fn iter<'a>(&self, pfns: &'a [PfnEntry], list: ListKind) -> impl Iterator<Item = Pfn> + 'a {
        let heads: Vec<Head> = list.slots().map(|s| self.heads[s]).collect();
        heads.into_iter().flat_map(move |h| chain(pfns, h))
    }

    /// The standby frames of `priority`, oldest first.
    pub(super) fn standby_iter<'a>(&self, pfns: &'a [PfnEntry], priority: u8) -> impl Iterator<Item = Pfn> + 'a {
        chain(pfns, self.heads[ListKind::Standby.slot(priority)])
    }
}

/// The frames linked from `head`, first to last.
fn chain(pfns: &[PfnEntry], head: Head) -> impl Iterator<Item = Pfn> + '_ {
    let mut at = head.first;
    let mut left = head.len;
    core::iter::from_fn(move || {
        if at == NONE || left == 0 {
            return None;
        }
        let here = at;
        at = pfns[here as usize].next;
        left -= 1;
        Some(Pfn(here))
    })
}
