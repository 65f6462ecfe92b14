//! The page lists: doubly linked through the PFN entries, so a frame is removed from the
//! middle of a list in O(1) (needed to take the 512 frames of a large page).

use super::pfn::{PfnEntry, PfnState};
use crate::units::Pfn;

const NONE: u32 = u32::MAX;

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
}

impl ListKind {
    /// Every list.
    pub const ALL: [ListKind; 5] =
        [ListKind::Zeroed, ListKind::Free, ListKind::Standby, ListKind::Modified, ListKind::Bad];

    fn slot(self) -> usize {
        match self {
            ListKind::Zeroed => 0,
            ListKind::Free => 1,
            ListKind::Standby => 2,
            ListKind::Modified => 3,
            ListKind::Bad => 4,
        }
    }

    fn state(self) -> PfnState {
        match self {
            ListKind::Zeroed => PfnState::Zeroed,
            ListKind::Free => PfnState::Free,
            ListKind::Standby => PfnState::Standby,
            ListKind::Modified => PfnState::Modified,
            ListKind::Bad => PfnState::Bad,
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
    heads: [Head; 5],
}

impl PageLists {
    pub(super) fn len(&self, list: ListKind) -> u64 {
        self.heads[list.slot()].len
    }

    pub(super) fn push_back(&mut self, pfns: &mut [PfnEntry], list: ListKind, pfn: Pfn) {
        let head = &mut self.heads[list.slot()];
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
        let first = self.heads[list.slot()].first;
        if first == NONE {
            return None;
        }
        self.remove(pfns, list, Pfn(first));
        Some(Pfn(first))
    }

    pub(super) fn remove(&mut self, pfns: &mut [PfnEntry], list: ListKind, pfn: Pfn) {
        let head = &mut self.heads[list.slot()];
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
        let mut at = self.heads[list.slot()].first;
        let mut left = self.heads[list.slot()].len;
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
}
