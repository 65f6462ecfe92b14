//! The bytes of the simulated RAM.
//!
//! One host allocation of 4 KiB arrays, zero-filled by the host allocator (`alloc_zeroed`): on Linux a large
//! zeroed allocation is an anonymous mapping whose pages cost host memory only when first
//! written, so a 1 GiB machine that touched ten frames costs about ten pages of host memory.
//! Frames are addressed by [`Pfn`]; nothing outside this type indexes the bytes.
//!
//! Or RAM the caller supplies ([`FrameStore::supplied`]): the native engine hands over a
//! shared mapping of its `memfd`, which it keeps for the life of the program, so that frame
//! *f* is also bytes *f*·4096 of a file it can map at any address. Both are a slice of
//! frames; which one is decided once, and the access path reads the slice the same way.

use crate::units::{Pfn, PhysAddr, PAGE_BYTES};

const FRAME: usize = PAGE_BYTES;

/// RAM: `frames` frames of 4 KiB.
pub struct FrameStore {
    /// One array a frame, so that an offset already checked to lie inside a frame needs no
    /// second bounds check: indexing by frame is the only one left on the access path.
    frames: Frames,
    count: u32,
}

/// Where the bytes of RAM live. Both variants are a pointer and a length at the same place,
/// so that the compiler folds the `match` of every access into the same two loads.
enum Frames {
    /// An allocation of the store's own.
    Owned(Box<[[u8; FRAME]]>),
    /// Memory the caller supplied and keeps for the life of the program.
    Supplied(&'static mut [[u8; FRAME]]),
}

impl std::ops::Deref for Frames {
    type Target = [[u8; FRAME]];
    #[inline(always)]
    fn deref(&self) -> &[[u8; FRAME]] {
        match self {
            Frames::Owned(v) => v,
            Frames::Supplied(s) => s,
        }
    }
}

impl std::ops::DerefMut for Frames {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [[u8; FRAME]] {
        match self {
            Frames::Owned(v) => v,
            Frames::Supplied(s) => s,
        }
    }
}

impl FrameStore {
    pub(crate) fn new(frames: u32) -> FrameStore {
        // `vec![0u8; n]` is always `alloc_zeroed` (lazy host pages); `vec![[0u8; FRAME]; n]` is
        // only when optimised, and a 1 GiB memset otherwise. So allocate bytes and view them as
        // frames: same alignment (1), and the length is a whole number of frames.
        let bytes = vec![0u8; frames as usize * FRAME];
        let frames_vec: Vec<[u8; FRAME]> = bytemuck::allocation::cast_vec(bytes);
        FrameStore { frames: Frames::Owned(frames_vec.into_boxed_slice()), count: frames }
    }

    /// RAM over `bytes`, which the caller supplies zeroed and never touches as RAM itself
    /// (another mapping of the same file may): its length in whole frames; `None` when it is
    /// not a whole number of frames or has more than `u32::MAX` of them.
    pub(crate) fn supplied(bytes: &'static mut [u8]) -> Option<FrameStore> {
        if !bytes.len().is_multiple_of(FRAME) {
            return None;
        }
        let count = u32::try_from(bytes.len() / FRAME).ok()?;
        let frames: &'static mut [[u8; FRAME]] = bytemuck::cast_slice_mut(bytes);
        Some(FrameStore { frames: Frames::Supplied(frames), count })
    }

    /// Frames of RAM.
    #[must_use]
    pub fn frames(&self) -> u32 {
        self.count
    }

    /// The bytes of one frame.
    #[must_use]
    pub fn frame(&self, pfn: Pfn) -> &[u8] {
        &self.frames[pfn.index()]
    }

    pub(crate) fn frame_mut(&mut self, pfn: Pfn) -> &mut [u8] {
        &mut self.frames[pfn.index()]
    }

    /// The bytes of each of `pfns`, in the order named, as slices of their own: one vectored
    /// host read fills them all wherever they lie. `None` when a frame is named twice or lies
    /// outside RAM. Costs O(k log k) for k frames, whatever RAM's size.
    pub(crate) fn frames_mut(&mut self, pfns: &[Pfn]) -> Option<Vec<&mut [u8]>> {
        let mut by_frame: Vec<(usize, usize)> = pfns.iter().enumerate().map(|(at, pfn)| (pfn.index(), at)).collect();
        by_frame.sort_unstable();
        let mut out: Vec<Option<&mut [u8]>> = pfns.iter().map(|_| None).collect();
        // The frames not handed out yet, from frame `next` on.
        let mut rest: &mut [[u8; FRAME]] = &mut self.frames;
        let mut next = 0;
        for (index, at) in by_frame {
            let skip = index.checked_sub(next)?;
            let (frame, tail) = std::mem::take(&mut rest).get_mut(skip..)?.split_first_mut()?;
            out[at] = Some(frame);
            rest = tail;
            next = index + 1;
        }
        out.into_iter().collect()
    }

    /// The bytes of the `count` physically contiguous frames from `first` on, as one slice:
    /// one host read fills them all.
    pub(crate) fn run_mut(&mut self, first: Pfn, count: usize) -> &mut [u8] {
        self.frames[first.index()..first.index() + count].as_flattened_mut()
    }

    /// Copies frame `from` into frame `to`, with no copy in between.
    pub(crate) fn copy_frame(&mut self, from: Pfn, to: Pfn) {
        self.frames.copy_within(from.index()..=from.index(), to.index());
    }

    /// `len` bytes at byte `offset` of frame `frame`; the caller keeps them inside the frame.
    #[inline(always)]
    pub(crate) fn slice(&self, frame: usize, offset: usize, len: usize) -> &[u8] {
        &self.frames[frame][offset..offset + len]
    }

    #[inline(always)]
    pub(crate) fn slice_mut(&mut self, frame: usize, offset: usize, len: usize) -> &mut [u8] {
        &mut self.frames[frame][offset..offset + len]
    }

    /// Copies the bytes at byte `offset` of frame `frame` into `buf`; the caller keeps them
    /// inside the frame. The program's loads are mostly of 1, 2, 4 or 8 bytes: those are
    /// copied as one move each rather than through a call to `memcpy`.
    #[inline(always)]
    pub(crate) fn read_into(&self, frame: u32, offset: usize, buf: &mut [u8]) {
        copy_small(buf, self.slice(frame as usize, offset, buf.len()));
    }

    /// Copies `data` to byte `offset` of frame `frame`; the caller keeps it inside the frame.
    #[inline(always)]
    pub(crate) fn write_from(&mut self, frame: u32, offset: usize, data: &[u8]) {
        copy_small(self.slice_mut(frame as usize, offset, data.len()), data);
    }

    /// The little-endian u64 at `pa` (8-aligned: a page-table entry).
    #[inline]
    pub(crate) fn read_u64(&self, pa: PhysAddr) -> u64 {
        let (frame, offset) = split(pa);
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&self.frames[frame][offset..offset + 8]);
        u64::from_le_bytes(raw)
    }

    /// Writes the little-endian u64 at `pa` (8-aligned).
    #[inline]
    pub(crate) fn write_u64(&mut self, pa: PhysAddr, value: u64) {
        let (frame, offset) = split(pa);
        self.frames[frame][offset..offset + 8].copy_from_slice(&value.to_le_bytes());
    }
}

/// The frame and the offset in it of an 8-aligned physical address.
#[inline(always)]
fn split(pa: PhysAddr) -> (usize, usize) {
    debug_assert_eq!(pa.as_u64() % 8, 0, "page-table entries are 8-aligned");
    let at = usize::try_from(pa.as_u64()).expect("RAM fits the host address space");
    // Masked to an 8-aligned offset at most FRAME - 8, so that `offset + 8` stays in the frame.
    (at / FRAME, (at % FRAME) & !7)
}

/// `dst.copy_from_slice(src)` (the two are as long), with the lengths of the program's usual
/// accesses made constants so that each compiles to a move.
#[inline(always)]
fn copy_small(dst: &mut [u8], src: &[u8]) {
    match dst.len() {
        1 => dst.copy_from_slice(&src[..1]),
        2 => dst.copy_from_slice(&src[..2]),
        4 => dst.copy_from_slice(&src[..4]),
        8 => dst.copy_from_slice(&src[..8]),
        16 => dst.copy_from_slice(&src[..16]),
        _ => dst.copy_from_slice(src),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_mut_hands_out_each_frame_named_in_the_order_named() {
        let mut store = FrameStore::new(8);
        {
            let mut pages = store.frames_mut(&[Pfn(5), Pfn(1), Pfn(7)]).expect("distinct frames inside RAM");
            for (value, page) in (1u8..).zip(pages.iter_mut()) {
                page.fill(value);
            }
        }
        assert!(store.frame(Pfn(5)).iter().all(|&b| b == 1));
        assert!(store.frame(Pfn(1)).iter().all(|&b| b == 2));
        assert!(store.frame(Pfn(7)).iter().all(|&b| b == 3));
        assert!(store.frame(Pfn(0)).iter().chain(store.frame(Pfn(6))).all(|&b| b == 0));
    }

    #[test]
    fn frames_mut_refuses_a_frame_named_twice_or_outside_ram() {
        let mut store = FrameStore::new(8);
        assert!(store.frames_mut(&[Pfn(2), Pfn(3), Pfn(2)]).is_none());
        assert!(store.frames_mut(&[Pfn(8)]).is_none());
        assert!(store.frames_mut(&[]).is_some_and(|pages| pages.is_empty()));
    }
}
