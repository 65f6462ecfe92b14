//! [`Chunk`]: a run of at most [`CHUNK`] consecutive VADs of the [`VadTree`](super::VadTree),
//! with what a look-up and `VirtualQuery` need of them copied into arrays of their own: their
//! first pages, their ends, and their *heads* (allocation protection, kind less a view's
//! details, and the state all their pages share if they do: `Vad::uniform`). A look-up counts in the first pages; a query of private memory then reads one end
//! and one head from the chunk and never the VAD itself (96 bytes in a heap block of its own:
//! with 100 000 VADs, a cache miss and a host TLB miss per query). The free gaps placement
//! looks at are read from the same arrays.
//!
//! Contract: the arrays describe `vads` exactly ([`Chunk::restart`] after every change of
//! `vads`; a VAD changed in place through `VadTree::find_mut` keeps its range, its allocation
//! protection, its kind's variant and its `uniform`, which only [`Chunk::forget_uniform`]
//! changes in place). `VadTree::check` compares them.

use super::super::{Vad, VadKind};
use crate::address_space::PageState;
use crate::paging::Protection;

/// VADs a chunk holds at most.
pub(super) const CHUNK: usize = 16;

/// The start of an empty place in a chunk's [`Pages`]: above every page (a page number is
/// below 2^52), so never at or below (or below) the page a search looks for, and below 2^63,
/// as [`Pages::count_below`] needs.
pub(super) const NO_START: u64 = 1 << 62;

/// Page numbers of a chunk's VADs (first pages, or ends), in two whole cache lines.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct Pages(pub(super) [u64; CHUNK]);

/// A VAD's kind without a view's details: all of the kind but for a view.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(super) enum Shape {
    Private,
    LargePages,
    Physical,
    SharedUserData,
    Mapped,
}

/// What `VirtualQuery` reports of a VAD besides its range, as far as four bytes hold it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Head {
    pub(super) allocation_protection: Protection,
    pub(super) shape: Shape,
    pub(super) uniform: Option<PageState>,
}

impl Head {
    const EMPTY: Head = Head { allocation_protection: Protection::NONE, shape: Shape::Private, uniform: None };

    pub(super) fn of(vad: &Vad) -> Head {
        let shape = match vad.kind {
            VadKind::Private => Shape::Private,
            VadKind::LargePages => Shape::LargePages,
            VadKind::Physical => Shape::Physical,
            VadKind::SharedUserData => Shape::SharedUserData,
            VadKind::Mapped(_) => Shape::Mapped,
        };
        Head { allocation_protection: vad.allocation_protection, shape, uniform: vad.uniform }
    }

    /// The kind, when it has no details beyond its variant (not a view).
    pub(super) fn bare_kind(self) -> Option<VadKind> {
        match self.shape {
            Shape::Private => Some(VadKind::Private),
            Shape::LargePages => Some(VadKind::LargePages),
            Shape::Physical => Some(VadKind::Physical),
            Shape::SharedUserData => Some(VadKind::SharedUserData),
            Shape::Mapped => None,
        }
    }
}

/// A run of consecutive VADs.
#[derive(Debug)]
#[repr(C)]
pub(super) struct Chunk {
    /// The first pages of `vads`, then [`NO_START`]: a search counts in these and reads one
    /// VAD, not all of them.
    pub(super) starts: Pages,
    /// The ends (first page after) of `vads`, then [`NO_START`].
    pub(super) ends: Pages,
    /// The heads of `vads`, then [`Head::EMPTY`].
    pub(super) heads: [Head; CHUNK],
    pub(super) vads: Vec<Vad>,
}

impl Chunk {
    pub(super) fn of(vads: Vec<Vad>) -> Chunk {
        let mut chunk = Chunk {
            starts: Pages([NO_START; CHUNK]),
            ends: Pages([NO_START; CHUNK]),
            heads: [Head::EMPTY; CHUNK],
            vads,
        };
        chunk.restart();
        chunk
    }

    pub(super) fn len(&self) -> usize {
        self.vads.len()
    }

    /// The first page of its first VAD.
    pub(super) fn first(&self) -> u64 {
        self.starts.0[0]
    }

    /// The end of its last VAD.
    pub(super) fn last_end(&self) -> Option<u64> {
        self.len().checked_sub(1).map(|i| self.ends.0[i])
    }

    /// Rewrites the arrays after `vads` changed.
    pub(super) fn restart(&mut self) {
        for k in 0..CHUNK {
            let vad = self.vads.get(k);
            self.starts.0[k] = vad.map_or(NO_START, |v| v.range.start.as_u64());
            self.ends.0[k] = vad.map_or(NO_START, |v| v.range.end.as_u64());
            self.heads[k] = vad.map_or(Head::EMPTY, Head::of);
        }
    }

    /// True when the arrays describe `vads` (see the module's contract).
    pub(super) fn described(&self) -> bool {
        (0..CHUNK).all(|k| {
            let vad = self.vads.get(k);
            self.starts.0[k] == vad.map_or(NO_START, |v| v.range.start.as_u64())
                && self.ends.0[k] == vad.map_or(NO_START, |v| v.range.end.as_u64())
                && self.heads[k] == vad.map_or(Head::EMPTY, Head::of)
        })
    }

    /// Puts `vad` in place of the VAD at position `i`.
    pub(super) fn replace(&mut self, i: usize, vad: Vad) {
        self.vads[i] = vad;
        self.restart();
    }

    /// Forgets that the pages of the VAD at position `i` share one state, in the VAD and its
    /// head; reads the VAD only when the head says they do.
    pub(super) fn forget_uniform(&mut self, i: usize) {
        if let Some(head) = self.heads.get_mut(i).filter(|h| h.uniform.is_some()) {
            head.uniform = None;
            if let Some(vad) = self.vads.get_mut(i) {
                vad.uniform = None;
            }
        }
    }

    /// Inserts `vad` at position `i` (the chunk is not full).
    pub(super) fn put(&mut self, i: usize, vad: Vad) {
        self.vads.insert(i, vad);
        self.restart();
    }

    /// Removes the VAD at position `i`.
    pub(super) fn take(&mut self, i: usize) -> Vad {
        let vad = self.vads.remove(i);
        self.restart();
        vad
    }

    /// The VADs from position `at` on, as a chunk of their own.
    pub(super) fn split_off(&mut self, at: usize) -> Chunk {
        let mut vads = Vec::with_capacity(CHUNK);
        vads.extend(self.vads.drain(at..));
        self.restart();
        Chunk::of(vads)
    }

    /// Appends the VADs of `next` (which follow this chunk's; the two fit in one).
    pub(super) fn append(&mut self, mut next: Chunk) {
        self.vads.append(&mut next.vads);
        self.restart();
    }

    /// How many of its VADs start at or below `vpn`.
    #[inline]
    pub(super) fn count_at_or_below(&self, vpn: u64) -> usize {
        self.starts.count_below(vpn + 1)
    }

    /// How many of its VADs start below `vpn`.
    pub(super) fn count_below(&self, vpn: u64) -> usize {
        self.starts.count_below(vpn)
    }
}

impl Pages {
    /// How many of the pages are below `page` (at most `NO_START`): each page's difference
    /// with `page` has its sign bit set exactly when the page is below, both being below
    /// 2^63. Every page is read with no early exit and no branch, so the two lines are
    /// fetched together and the sum is a few vector instructions.
    #[inline(always)]
    fn count_below(&self, page: u64) -> usize {
        let below: u64 = self.0.iter().map(|&s| s.wrapping_sub(page) >> 63).sum();
        // At most CHUNK.
        #[allow(clippy::cast_possible_truncation)]
        let below = below as usize;
        below
    }
}
