//! [`VadTree`]: the VADs of an address space in address order, searched by page in
//! O(log n) (docs/design.md, "Determinism and scale").
//!
//! A two-level sorted index laid out for the cache. The VADs lie in chunks of at most
//! [`CHUNK`], in address order; each chunk keeps its VADs' first pages in an array of their
//! own (two cache lines), the tree keeps every chunk's first page in one array, and a summary
//! holds the first page of every [`STRIDE`]-th chunk. A look-up binary-searches the summary
//! (a few KiB even at 100 000 VADs: it stays in the L1 cache), counts in one block of
//! `STRIDE` chunks' first pages (two cache lines), counts in one chunk's first pages (two
//! more), and checks the found VAD's end in the chunk's tails (two more, read together with
//! the first pages). Counting reads every entry with no early exit, so the reads of a block,
//! then of a chunk, go to memory together: a look-up waits for about two cache misses of a
//! few lines each, where scanning a chunk's VADs themselves (96 bytes each) read 24 lines. [`VadTree::locate`] answers `VirtualQuery` from
//! the chunk's arrays (`tree/chunk.rs`) without reading the VAD, but for a view's details.
//!
//! VADs added at either end of a full chunk (allocations placed bottom-up or top-down) open a
//! chunk of their own rather than splitting it, so such chunks stay full. Inserting or
//! removing moves at most a chunk's VADs and, when a chunk splits, merges or empties, the
//! chunks after it (one small header each) and the summary after it.
//!
//! For placement the index also keeps, per chunk, its largest *room*: over the free gaps that
//! end at one of its VADs, the most pages an allocation starting on a 64 KiB boundary could
//! have there. A max-tree over the chunks ([`Rooms`], `rooms.rs`) finds the first or last
//! chunk with enough room in O(log n), and [`VadTree::gaps_up`] / [`VadTree::gaps_down`]
//! (`tree/gaps.rs`) offer placement only the gaps that could hold it. Every change to a chunk
//! recomputes the rooms of that chunk and the next (whose first gap starts at this one's last
//! VAD).

mod chunk;
mod gaps;

use super::rooms::Rooms;
use super::{Vad, VadKind};
use crate::address_space::PageState;
use crate::paging::Protection;
use crate::units::{PageRange, Vpn};
use chunk::{Chunk, Tail, CHUNK};

/// Chunks per summary entry.
const STRIDE: usize = 16;

/// The VAD holding a page, as [`VadTree::locate`] finds it in the index.
#[derive(Clone, Copy, Debug)]
pub struct Located {
    /// Its pages.
    pub range: PageRange,
    /// The protection given at allocation.
    pub allocation_protection: Protection,
    /// Its kind (for a view, read from the VAD).
    pub kind: VadKind,
    /// The state all its pages share, if they do (`Vad::uniform`).
    pub(crate) uniform: Option<PageState>,
}

/// The VADs of an address space, by first page.
///
/// Invariants (checked by [`VadTree::check`]): no chunk is empty or holds more than
/// `CHUNK`; a chunk's arrays describe its VADs (`tree/chunk.rs`); `firsts[c]` is
/// chunk `c`'s first page; first pages increase strictly across the whole tree; `summary[k]`
/// is `firsts[k * STRIDE]`; `rooms` holds each chunk's largest room.
#[derive(Default, Debug)]
pub struct VadTree {
    chunks: Vec<Chunk>,
    /// The first page of every chunk: a block of `STRIDE` of them is two cache lines.
    firsts: Vec<u64>,
    summary: Vec<u64>,
    rooms: Rooms,
    len: usize,
}

/// How many of `pages` satisfy `before` (which holds for a prefix of them): every page is
/// read, with no early exit, so that the reads do not wait for each other.
#[inline(always)]
fn count(pages: impl Iterator<Item = u64>, before: impl Fn(u64) -> bool) -> usize {
    pages.map(|p| usize::from(before(p))).sum()
}

impl VadTree {
    /// The index of the last chunk whose first page satisfies `before` (which holds for a
    /// prefix of the chunks).
    #[inline]
    fn last_chunk_where(&self, before: impl Fn(u64) -> bool) -> Option<usize> {
        let block = self.summary.partition_point(|&p| before(p)).checked_sub(1)?;
        let from = block * STRIDE;
        let to = (from + STRIDE).min(self.firsts.len());
        // The block's first chunk is its summary entry, for which `before` holds.
        Some(from + count(self.firsts[from..to].iter().copied(), &before) - 1)
    }

    /// The chunk and position of the last VAD starting at or below `vpn`.
    #[inline]
    fn last_at_or_below(&self, vpn: u64) -> Option<(usize, usize)> {
        let c = self.last_chunk_where(|p| p <= vpn)?;
        // The chunk's first page is at or below `vpn`, so the count is at least 1.
        Some((c, self.chunks[c].count_at_or_below(vpn) - 1))
    }

    /// The chunk and position of the last VAD starting below `vpn`.
    fn last_below(&self, vpn: u64) -> Option<(usize, usize)> {
        let c = self.last_chunk_where(|p| p < vpn)?;
        Some((c, self.chunks[c].count_below(vpn) - 1))
    }

    /// The chunk and position of the VAD holding `vpn`, with its tail, from the chunk's arrays
    /// alone.
    #[inline]
    fn holder(&self, vpn: u64) -> Option<(usize, usize, Tail)> {
        let c = self.last_chunk_where(|p| p <= vpn)?;
        // The chunk's first page is at or below `vpn`.
        let chunk = &self.chunks[c];
        let (i, holds) = chunk.holder_of(vpn);
        // Read after the count, which brought the tails' lines in.
        holds.then(|| chunk.tails.0.get(i).map(|&tail| (c, i, tail))).flatten()
    }

    /// The VAD holding `vpn`.
    #[must_use]
    #[inline]
    pub fn find(&self, vpn: Vpn) -> Option<&Vad> {
        let (c, i, _) = self.holder(vpn.as_u64())?;
        self.chunks[c].vads.get(i)
    }

    /// The VAD holding `vpn` as the index describes it ([`Located`]), for `VirtualQuery`: the
    /// VAD itself (and the chunk's list of them) is read only for a view's details.
    #[must_use]
    #[inline]
    pub fn locate(&self, vpn: Vpn) -> Option<Located> {
        let (c, i, tail) = self.holder(vpn.as_u64())?;
        let chunk = &self.chunks[c];
        let head = tail.head();
        let kind = match head.bare_kind() {
            Some(kind) => kind,
            None => chunk.vads.get(i)?.kind,
        };
        Some(Located {
            range: PageRange { start: Vpn(chunk.starts.0[i]), end: Vpn(tail.end()) },
            allocation_protection: head.allocation_protection,
            kind,
            uniform: head.uniform,
        })
    }

    /// Forgets that the pages of the VAD holding `vpn` share one state (`Vad::uniform`): one
    /// of them is changing state.
    pub(crate) fn forget_uniform(&mut self, vpn: Vpn) {
        if let Some((c, i, _)) = self.holder(vpn.as_u64()) {
            self.chunks[c].forget_uniform(i);
        }
    }

    /// The VAD holding `vpn`, to change what is not its range, allocation protection or kind's
    /// variant (the index files it by range and copies those: `tree/chunk.rs`).
    pub(crate) fn find_mut(&mut self, vpn: Vpn) -> Option<&mut Vad> {
        let (c, i, _) = self.holder(vpn.as_u64())?;
        self.chunks[c].vads.get_mut(i)
    }

    /// The first page of the first VAD starting at or after `vpn`, from the index alone.
    #[must_use]
    pub fn next_start_from(&self, vpn: Vpn) -> Option<Vpn> {
        let (c, i) = self.last_below(vpn.as_u64()).map_or((0, 0), |(c, i)| (c, i + 1));
        match self.chunks.get(c) {
            Some(chunk) if i < chunk.len() => Some(Vpn(chunk.starts.0[i])),
            _ => self.chunks.get(c + 1).map(|chunk| Vpn(chunk.first())),
        }
    }

    /// The first VAD starting at or after `vpn`.
    #[must_use]
    pub fn next_from(&self, vpn: Vpn) -> Option<&Vad> {
        let (c, i) = self.last_below(vpn.as_u64()).map_or((0, 0), |(c, i)| (c, i + 1));
        match self.chunks.get(c) {
            Some(chunk) if i < chunk.len() => Some(&chunk.vads[i]),
            _ => self.chunks.get(c + 1).map(|chunk| &chunk.vads[0]),
        }
    }

    /// The last VAD starting before `vpn`.
    #[must_use]
    pub fn prev_before(&self, vpn: Vpn) -> Option<&Vad> {
        let (c, i) = self.last_below(vpn.as_u64())?;
        Some(&self.chunks[c].vads[i])
    }

    /// True when any VAD overlaps `range`.
    #[must_use]
    pub fn overlaps(&self, range: PageRange) -> bool {
        self.find(range.start).is_some() || self.next_from(range.start).is_some_and(|v| v.range.start < range.end)
    }

    /// Inserts `vad`, replacing a VAD with the same first page.
    pub(crate) fn insert(&mut self, vad: Vad) {
        let start = vad.range.start;
        if self.chunks.is_empty() {
            self.open_chunk(0, vad);
            return;
        }
        // Before every VAD, it goes to the front of the first chunk.
        let c = self.last_chunk_where(|p| p <= start.as_u64()).unwrap_or(0);
        let i = self.chunks[c].count_below(start.as_u64());
        if self.chunks[c].vads.get(i).is_some_and(|v| v.range.start == start) {
            // The same first page: `firsts` and the summary stay as they are.
            self.chunks[c].replace(i, vad);
            self.refresh(c, 2);
            return;
        }
        if self.chunks[c].len() < CHUNK {
            self.chunks[c].put(i, vad);
            self.first_changed(c);
        } else if i == 0 {
            self.open_chunk(c, vad);
            return;
        } else if i == CHUNK {
            match self.chunks.get_mut(c + 1) {
                Some(next) if next.len() < CHUNK => {
                    next.put(0, vad);
                    self.first_changed(c + 1);
                }
                _ => {
                    self.open_chunk(c + 1, vad);
                    return;
                }
            }
        } else {
            let upper = self.chunks[c].split_off(CHUNK / 2);
            self.firsts.insert(c + 1, upper.first());
            self.chunks.insert(c + 1, upper);
            self.rooms.insert(c + 1, 0);
            let (c, i) = if i <= CHUNK / 2 { (c, i) } else { (c + 1, i - CHUNK / 2) };
            self.chunks[c].put(i, vad);
            self.firsts[c] = self.chunks[c].first();
            self.resummarise(c);
        }
        self.len += 1;
        self.refresh(c, 3);
    }

    /// Inserts a chunk holding only `vad` at position `c`.
    fn open_chunk(&mut self, c: usize, vad: Vad) {
        let mut vads = Vec::with_capacity(CHUNK);
        vads.push(vad);
        let chunk = Chunk::of(vads);
        self.firsts.insert(c, chunk.first());
        self.chunks.insert(c, chunk);
        self.rooms.insert(c, 0);
        self.resummarise(c);
        self.len += 1;
        self.refresh(c, 2);
    }

    /// Removes the VAD starting at `start`.
    pub(crate) fn remove(&mut self, start: Vpn) -> Option<Vad> {
        let (c, i) = self.last_at_or_below(start.as_u64())?;
        if self.chunks[c].starts.0[i] != start.as_u64() {
            return None;
        }
        let vad = self.chunks[c].take(i);
        self.len -= 1;
        if self.chunks[c].vads.is_empty() {
            self.chunks.remove(c);
            self.firsts.remove(c);
            self.rooms.remove(c);
            self.resummarise(c);
            self.refresh(c, 1);
        } else {
            self.first_changed(c);
            let c = self.merge_small(c);
            self.refresh(c, 2);
        }
        Some(vad)
    }

    /// Merges chunk `c` with its predecessor or successor when the two fit in half a chunk,
    /// so that removals do not leave the index a list of tiny chunks. Returns where chunk
    /// `c`'s VADs are now.
    fn merge_small(&mut self, c: usize) -> usize {
        let fits = |a: &Chunk, b: &Chunk| a.len() + b.len() <= CHUNK / 2;
        let into = if c > 0 && fits(&self.chunks[c - 1], &self.chunks[c]) {
            c - 1
        } else if c + 1 < self.chunks.len() && fits(&self.chunks[c], &self.chunks[c + 1]) {
            c
        } else {
            return c;
        };
        let next = self.chunks.remove(into + 1);
        self.firsts.remove(into + 1);
        self.rooms.remove(into + 1);
        self.chunks[into].append(next);
        self.resummarise(into + 1);
        into
    }

    /// Recomputes the rooms of the `count` chunks from `c` on (those that exist).
    fn refresh(&mut self, c: usize, count: usize) {
        for k in c..(c + count).min(self.chunks.len()) {
            let room = self.chunk_room(k);
            self.rooms.set(k, room);
        }
    }

    /// Keeps `firsts` and the summary after chunk `c`'s first page changed.
    fn first_changed(&mut self, c: usize) {
        self.firsts[c] = self.chunks[c].first();
        if c.is_multiple_of(STRIDE) {
            self.summary[c / STRIDE] = self.firsts[c];
        }
    }

    /// Rebuilds the summary from the block holding chunk `c` on, after the chunks from `c` on
    /// moved.
    fn resummarise(&mut self, c: usize) {
        let block = c / STRIDE;
        self.summary.truncate(block);
        self.summary.extend(self.firsts.iter().skip(block * STRIDE).step_by(STRIDE).copied());
    }

    /// Every VAD, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = &Vad> {
        self.chunks.iter().flat_map(|c| c.vads.iter())
    }

    /// Number of VADs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Checks the index's invariants (see the type's documentation); the first broken one, as
    /// text, for `invariants::check`.
    pub fn check(&self) -> Result<(), String> {
        let mut previous = None;
        let mut count = 0;
        if self.firsts.len() != self.chunks.len() {
            return Err(format!("{} chunks, {} first pages", self.chunks.len(), self.firsts.len()));
        }
        for (c, chunk) in self.chunks.iter().enumerate() {
            if chunk.vads.is_empty() || chunk.len() > CHUNK {
                return Err(format!("chunk {c} holds {} VADs", chunk.len()));
            }
            if !chunk.described() {
                return Err(format!(
                    "chunk {c} lists first pages {:x?}, tails {:x?} for its VADs",
                    chunk.starts.0, chunk.tails.0
                ));
            }
            if self.firsts[c] != chunk.first() {
                return Err(format!(
                    "chunk {c} is filed under page {:#x}, starts at {:?}",
                    self.firsts[c], chunk.vads[0].range.start
                ));
            }
            for v in &chunk.vads {
                let s = v.range.start.as_u64();
                if previous.is_some_and(|p| p >= s) {
                    return Err(format!("VAD at page {s:#x} out of order"));
                }
                previous = Some(s);
            }
            count += chunk.len();
        }
        if count != self.len {
            return Err(format!("{count} VADs counted as {}", self.len));
        }
        if !self.summary.iter().copied().eq(self.firsts.iter().step_by(STRIDE).copied()) {
            return Err("the summary of the chunks is stale".to_owned());
        }
        self.rooms.check((0..self.chunks.len()).map(|c| self.chunk_room(c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vad(start: u64, pages: u64) -> Vad {
        Vad::private_for_test(start, pages)
    }

    /// The tree against a BTreeMap, over inserts and removals in a scrambled order.
    #[test]
    fn agrees_with_a_sorted_map() {
        let mut tree = VadTree::default();
        let mut model = std::collections::BTreeMap::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for step in 0..4000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let start = (x % 500) * 16;
            if step % 3 == 2 {
                assert_eq!(tree.remove(Vpn(start)).map(|v| v.range.start), model.remove(&start).map(Vpn));
            } else if !tree.overlaps(vad(start, 8).range) {
                tree.insert(vad(start, 8));
                model.insert(start, start);
            }
            tree.check().expect("index invariants");
            assert_eq!(tree.len(), model.len());
            let probe = x % 8200;
            let holder = model.range(..=probe).next_back().filter(|&(&s, _)| s + 8 > probe).map(|(&s, _)| s);
            assert_eq!(tree.find(Vpn(probe)).map(|v| v.range.start.as_u64()), holder);
            let located = tree.locate(Vpn(probe));
            assert_eq!(located.map(|l| l.range.start.as_u64()), holder, "located from the chunk's arrays");
            assert_eq!(located.map(|l| l.range.len()), holder.map(|_| 8));
            assert_eq!(located.map(|l| l.kind), holder.map(|_| VadKind::Private));
            assert_eq!(tree.next_start_from(Vpn(probe)).map(Vpn::as_u64), model.range(probe..).next().map(|(&s, _)| s));
            assert_eq!(
                tree.next_from(Vpn(probe)).map(|v| v.range.start.as_u64()),
                model.range(probe..).next().map(|(&s, _)| s)
            );
            assert_eq!(
                tree.prev_before(Vpn(probe)).map(|v| v.range.start.as_u64()),
                model.range(..probe).next_back().map(|(&s, _)| s)
            );
        }
        assert!(tree.iter().map(|v| v.range.start.as_u64()).eq(model.keys().copied()));
    }

    /// Allocations placed bottom-up or top-down arrive in address order: the chunks they fill
    /// stay full, and every VAD is found.
    #[test]
    fn ordered_inserts_fill_their_chunks() {
        for descending in [false, true] {
            let mut tree = VadTree::default();
            for k in 0..100u64 {
                let start = if descending { (200 - k) * 16 } else { (100 + k) * 16 };
                tree.insert(vad(start, 16));
                tree.check().expect("index invariants");
            }
            assert_eq!(tree.chunks.len(), 100usize.div_ceil(CHUNK), "descending: {descending}");
            for k in 100..=200u64 {
                let present = if descending { k > 100 } else { k < 200 };
                assert_eq!(tree.find(Vpn(k * 16 + 3)).map(|v| v.range.start), present.then_some(Vpn(k * 16)));
            }
            // A VAD between two full chunks, then one inside a full chunk (which splits).
            tree.remove(Vpn(150 * 16)).expect("present");
            tree.insert(vad(150 * 16, 16));
            tree.insert(vad(150 * 16 + 1, 4));
            tree.check().expect("index invariants");
            assert_eq!(tree.len(), 101);
        }
    }

    /// The binary search in a chunk's starts counts as a scan of them does, for every
    /// number of VADs a chunk can hold and every page around them.
    #[test]
    fn starts_count_as_a_scan_does() {
        for held in 1..=CHUNK as u64 {
            let chunk = Chunk::of((0..held).map(|k| vad(10 + 10 * k, 4)).collect());
            for probe in 0..10 * (held + 2) {
                let scanned = chunk.vads.iter().filter(|v| v.range.start.as_u64() <= probe).count();
                assert_eq!(chunk.count_at_or_below(probe), scanned, "{held} VADs, page {probe}");
                let below = chunk.vads.iter().filter(|v| v.range.start.as_u64() < probe).count();
                assert_eq!(chunk.count_below(probe), below, "{held} VADs, page {probe}");
            }
        }
    }

    /// A summary of many blocks: VADs inserted in a scrambled order, then removed, every VAD
    /// found while present and the index checked on the way.
    #[test]
    fn many_vads_in_a_scrambled_order() {
        let mut tree = VadTree::default();
        let n = 20_000u64;
        // 7919 is prime to n: the scrambled order visits every slot once.
        let order: Vec<u64> = (0..n).map(|k| (k * 7919) % n).collect();
        for (step, &k) in order.iter().enumerate() {
            tree.insert(vad(k * 16, 8));
            if step % 997 == 0 {
                tree.check().expect("index invariants");
            }
        }
        tree.check().expect("index invariants");
        assert!(tree.summary.len() > STRIDE, "{} summary entries", tree.summary.len());
        for k in 0..n {
            assert_eq!(tree.find(Vpn(k * 16 + 7)).map(|v| v.range.start), Some(Vpn(k * 16)));
            assert!(tree.find(Vpn(k * 16 + 8)).is_none());
        }
        for (step, &k) in order.iter().rev().enumerate() {
            assert_eq!(tree.remove(Vpn(k * 16)).map(|v| v.range.start), Some(Vpn(k * 16)));
            if step % 997 == 0 {
                tree.check().expect("index invariants");
                assert_eq!(tree.locate(Vpn(order[0] * 16)).map(|l| l.range.start), Some(Vpn(order[0] * 16)));
            }
        }
        tree.check().expect("index invariants");
        assert!(tree.is_empty() && tree.summary.is_empty());
    }

    /// A tail gives back the end and the head it packs, up to the top of the user range, for
    /// every shape without a view's details, allocation protection and shared state.
    #[test]
    fn tails_give_back_what_they_pack() {
        let top = crate::units::USER_END >> crate::units::PAGE_SHIFT;
        let kinds = [VadKind::Private, VadKind::LargePages, VadKind::Physical, VadKind::SharedUserData];
        for (mask, kind) in (0..32u8).zip(kinds.into_iter().cycle()) {
            let p = Protection::from_mask(mask).expect("5 bits");
            let q = Protection::from_mask(31 - mask).expect("5 bits");
            for uniform in [None, Some(PageState::Reserved), Some(PageState::Committed(q))] {
                let mut v = vad(top - 16, 16);
                v.allocation_protection = p;
                v.kind = kind;
                v.uniform = uniform;
                let tail = Tail::of(&v);
                assert_eq!(tail.end(), top);
                assert_eq!(tail.head(), chunk::Head::of(&v), "{v:?}");
            }
        }
    }

    #[test]
    fn insert_replaces_the_vad_at_the_same_start() {
        let mut tree = VadTree::default();
        tree.insert(vad(16, 4));
        tree.insert(vad(16, 8));
        assert_eq!(tree.len(), 1);
        assert_eq!(tree.find(Vpn(20)).map(|v| v.range.len()), Some(8));
    }
}
