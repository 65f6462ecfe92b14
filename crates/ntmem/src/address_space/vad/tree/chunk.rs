//! [`Chunk`]: a run of at most [`CHUNK`] consecutive VADs of the [`VadTree`](super::VadTree),
//! with what a look-up and `VirtualQuery` need of them copied into arrays of their own: their
//! first pages, and their *tails*: each VAD's end with its *head* (allocation protection,
//! kind less a view's details, and the state all its pages share if they do: `Vad::uniform`)
//! packed in one word. A look-up counts in the first pages and picks the found VAD's tail
//! reading every tail, with no address that depends on what the count found, so that the
//! chunk's four lines (two of first pages, two of tails) are fetched together: one cache miss
//! to wait for, not two in a row. A query of private memory reads no more of the chunk, and
//! never the VAD itself (96 bytes in a heap block of its own: with 100 000 VADs, a cache miss
//! and a host TLB miss per query). The free gaps placement looks at are read from the same
//! arrays.
//!
//! Contract: the arrays describe `vads` exactly ([`Chunk::restart`] after every change of
//! `vads`; a VAD changed in place through `VadTree::find_mut` keeps its range, its allocation
//! protection, its kind's variant and its `uniform`, which only [`Chunk::forget_uniform`]
//! changes in place). `VadTree::check` compares them.

use super::super::{Vad, VadKind};
use crate::address_space::PageState;
use crate::paging::Protection;
use crate::units::{PAGE_SHIFT, USER_END};

/// VADs a chunk holds at most.
pub(super) const CHUNK: usize = 16;

/// The start of an empty place in a chunk's [`Pages`]: above every page (a page number is
/// below 2^52), so never at or below (or below) the page a search looks for, and below 2^63,
/// as [`Pages::count_below`] needs.
pub(super) const NO_START: u64 = 1 << 62;

/// First pages of a chunk's VADs, in two whole cache lines.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct Pages(pub(super) [u64; CHUNK]);

/// Tails of a chunk's VADs, in two whole cache lines.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct Tails(pub(super) [Tail; CHUNK]);

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

impl Shape {
    const ALL: [Shape; 5] = [Shape::Private, Shape::LargePages, Shape::Physical, Shape::SharedUserData, Shape::Mapped];
}

/// What `VirtualQuery` reports of a VAD besides its range.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Head {
    pub(super) allocation_protection: Protection,
    pub(super) shape: Shape,
    pub(super) uniform: Option<PageState>,
}

impl Head {
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

/// Bits of a [`Tail`] that hold the end: every page number of the user range fits.
const END_BITS: u32 = 40;
const END_MASK: u64 = (1 << END_BITS) - 1;
const _: () = assert!(USER_END >> PAGE_SHIFT < END_MASK);
/// Where a [`Tail`]'s head fields lie: the allocation protection (5 bits), the shape (3),
/// the shared state's presence (1), whether it is committed (1), and its protection (5).
const PROTECTION_AT: u32 = END_BITS;
const SHAPE_AT: u32 = PROTECTION_AT + 5;
const UNIFORM_AT: u32 = SHAPE_AT + 3;
const COMMITTED_AT: u32 = UNIFORM_AT + 1;
const UNIFORM_PROTECTION_AT: u32 = COMMITTED_AT + 1;

/// A VAD's end (first page after it) and its [`Head`], in one word.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Tail(u64);

impl Tail {
    /// An empty place: its end is above every page, so it never counts as ended.
    const EMPTY: Tail = Tail(END_MASK);

    pub(super) fn of(vad: &Vad) -> Tail {
        let head = Head::of(vad);
        let uniform = match head.uniform {
            None => 0,
            Some(PageState::Reserved) => 1 << UNIFORM_AT,
            Some(PageState::Committed(p)) => {
                1 << UNIFORM_AT | 1 << COMMITTED_AT | u64::from(p.mask()) << UNIFORM_PROTECTION_AT
            }
        };
        Tail(
            vad.range.end.as_u64()
                | u64::from(head.allocation_protection.mask()) << PROTECTION_AT
                | (head.shape as u64) << SHAPE_AT
                | uniform,
        )
    }

    pub(super) fn end(self) -> u64 {
        self.0 & END_MASK
    }

    /// The five bits at `at`, as a protection.
    fn protection_at(self, at: u32) -> Protection {
        // Masked to 5 bits: `from_mask` takes them all.
        #[allow(clippy::cast_possible_truncation)]
        let mask = ((self.0 >> at) & 0x1f) as u8;
        Protection::from_mask(mask).unwrap_or(Protection::NONE)
    }

    pub(super) fn head(self) -> Head {
        let shape_bits = (self.0 >> SHAPE_AT) & 0x7;
        let shape = Shape::ALL.into_iter().find(|s| *s as u64 == shape_bits).unwrap_or(Shape::Mapped);
        let uniform = match (self.0 >> UNIFORM_AT & 1 != 0, self.0 >> COMMITTED_AT & 1 != 0) {
            (false, _) => None,
            (true, false) => Some(PageState::Reserved),
            (true, true) => Some(PageState::Committed(self.protection_at(UNIFORM_PROTECTION_AT))),
        };
        Head { allocation_protection: self.protection_at(PROTECTION_AT), shape, uniform }
    }
}

/// A run of consecutive VADs.
#[derive(Debug)]
#[repr(C)]
pub(super) struct Chunk {
    /// The first pages of `vads`, then [`NO_START`]: a search counts in these and reads one
    /// VAD, not all of them.
    pub(super) starts: Pages,
    /// The tails of `vads`, then empty ones.
    pub(super) tails: Tails,
    pub(super) vads: Vec<Vad>,
}

impl Chunk {
    pub(super) fn of(vads: Vec<Vad>) -> Chunk {
        let mut chunk = Chunk { starts: Pages([NO_START; CHUNK]), tails: Tails([Tail::EMPTY; CHUNK]), vads };
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
        self.len().checked_sub(1).map(|i| self.tails.0[i].end())
    }

    /// Rewrites the arrays after `vads` changed.
    pub(super) fn restart(&mut self) {
        for k in 0..CHUNK {
            let vad = self.vads.get(k);
            self.starts.0[k] = vad.map_or(NO_START, |v| v.range.start.as_u64());
            self.tails.0[k] = vad.map_or(Tail::EMPTY, Tail::of);
        }
    }

    /// True when the arrays describe `vads` (see the module's contract).
    pub(super) fn described(&self) -> bool {
        (0..CHUNK).all(|k| {
            let vad = self.vads.get(k);
            self.starts.0[k] == vad.map_or(NO_START, |v| v.range.start.as_u64())
                && self.tails.0[k] == vad.map_or(Tail::EMPTY, Tail::of)
                && vad.is_none_or(|v| {
                    self.tails.0[k].head() == Head::of(v) && self.tails.0[k].end() == v.range.end.as_u64()
                })
        })
    }

    /// Puts `vad` in place of the VAD at position `i`.
    pub(super) fn replace(&mut self, i: usize, vad: Vad) {
        self.vads[i] = vad;
        self.restart();
    }

    /// Forgets that the pages of the VAD at position `i` share one state, in the VAD and its
    /// tail; reads the VAD only when the tail says they do.
    pub(super) fn forget_uniform(&mut self, i: usize) {
        if self.tails.0.get(i).is_some_and(|t| t.head().uniform.is_some()) {
            if let Some(vad) = self.vads.get_mut(i) {
                vad.uniform = None;
                self.tails.0[i] = Tail::of(vad);
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

    /// The position of the last of its VADs starting at or below `vpn` (the first starts at
    /// or below it), and whether that VAD holds `vpn`. VADs are ordered and do not overlap, so
    /// every VAD before that one has ended at or below `vpn` and every one after it starts
    /// above: it holds `vpn` exactly when the VADs ended by `vpn` are fewer than those started.
    /// Both counts read every first page and every tail with no early exit and no branch, so
    /// the chunk's four lines are fetched together, and the found VAD's tail is then in the
    /// cache.
    #[inline]
    pub(super) fn holder_of(&self, vpn: u64) -> (usize, bool) {
        let started = self.count_at_or_below(vpn);
        let ended = self.tails.count_ended_by(vpn);
        (started.wrapping_sub(1), ended < started)
    }

    /// How many of its VADs start below `vpn`.
    pub(super) fn count_below(&self, vpn: u64) -> usize {
        self.starts.count_below(vpn)
    }
}

impl Tails {
    /// How many of the tails end at or below `vpn` (a page): as [`Pages::count_below`] does,
    /// every end read, with no early exit and no branch.
    #[inline(always)]
    fn count_ended_by(&self, vpn: u64) -> usize {
        let ended: u64 = self.0.iter().map(|t| t.end().wrapping_sub(vpn + 1) >> 63).sum();
        // At most CHUNK.
        #[allow(clippy::cast_possible_truncation)]
        let ended = ended as usize;
        ended
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
