//! The bytes of the simulated RAM.
//!
//! One host mapping ([`memmap2::MmapMut`]), viewed as 4 KiB frames. The store's own RAM
//! ([`FrameStore::new`]) is an anonymous mapping: its pages read as zero and cost host memory
//! only when first written, so a machine that touched ten frames costs little host memory
//! whatever its size. On Linux it asks the host for transparent huge pages (`MADV_HUGEPAGE`),
//! as an emulator's guest RAM does: a program's random accesses over gigabytes of simulated
//! RAM would otherwise miss the host's TLB twice each (the page table's frame, then the data's),
//! and a host TLB miss costs more than the whole simulated translation. The simulated machine
//! still has 4 KiB pages; only the host's mapping of its RAM is coarser. The cost is host
//! memory in 2 MiB steps: a machine's RAM is touched 2 MiB at a time where the host grants
//! huge pages.
//!
//! Or RAM the caller supplies ([`FrameStore::supplied`]): the native engine hands over a
//! shared mapping of its `memfd`, so that frame *f* is also bytes *f*·4096 of a file it can map
//! at any address. Either way the store owns one mapping, and the access path reads it the
//! same way. Frames are addressed by [`Pfn`]; nothing outside this type indexes the bytes.

use crate::units::{Pfn, PhysAddr, PAGE_BYTES};

const FRAME: usize = PAGE_BYTES;

/// RAM: `frames` frames of 4 KiB.
pub struct FrameStore {
    /// The bytes, a whole number of frames. Viewed as one array a frame, so that an offset
    /// already checked to lie inside a frame needs no second bounds check: indexing by frame
    /// is the only one left on the access path.
    map: memmap2::MmapMut,
    count: u32,
}

impl FrameStore {
    /// RAM of `frames` frames, all zero: an anonymous host mapping, with host huge pages asked
    /// for on Linux (see the module's text).
    pub(crate) fn new(frames: u32) -> std::io::Result<FrameStore> {
        let map = memmap2::MmapOptions::new().len(frames as usize * FRAME).map_anon()?;
        // Advice only: where the host has no huge pages to give, RAM keeps 4 KiB host pages.
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::HugePage);
        Ok(FrameStore { map, count: frames })
    }

    /// RAM over `map`, which the caller supplies reading as zero and never touches as RAM
    /// itself (another mapping of the same file may): its length in whole frames; `None` when
    /// it is not a whole number of frames or has more than `u32::MAX` of them.
    pub(crate) fn supplied(map: memmap2::MmapMut) -> Option<FrameStore> {
        if !map.len().is_multiple_of(FRAME) {
            return None;
        }
        let count = u32::try_from(map.len() / FRAME).ok()?;
        Some(FrameStore { map, count })
    }

    /// The frames, as arrays.
    #[inline(always)]
    fn all(&self) -> &[[u8; FRAME]] {
        self.map.as_chunks::<FRAME>().0
    }

    #[inline(always)]
    fn all_mut(&mut self) -> &mut [[u8; FRAME]] {
        self.map.as_chunks_mut::<FRAME>().0
    }

    /// Frames of RAM.
    #[must_use]
    pub fn frames(&self) -> u32 {
        self.count
    }

    /// The bytes of one frame.
    #[must_use]
    pub fn frame(&self, pfn: Pfn) -> &[u8] {
        &self.all()[pfn.index()]
    }

    pub(crate) fn frame_mut(&mut self, pfn: Pfn) -> &mut [u8] {
        &mut self.all_mut()[pfn.index()]
    }

    /// The bytes of each of `pfns`, in the order named, as slices of their own: one vectored
    /// host read fills them all wherever they lie. `None` when a frame is named twice or lies
    /// outside RAM. Costs O(k log k) for k frames, whatever RAM's size.
    pub(crate) fn frames_mut(&mut self, pfns: &[Pfn]) -> Option<Vec<&mut [u8]>> {
        let mut by_frame: Vec<(usize, usize)> = pfns.iter().enumerate().map(|(at, pfn)| (pfn.index(), at)).collect();
        by_frame.sort_unstable();
        let mut out: Vec<Option<&mut [u8]>> = pfns.iter().map(|_| None).collect();
        // The frames not handed out yet, from frame `next` on.
        let mut rest: &mut [[u8; FRAME]] = self.all_mut();
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
        self.all_mut()[first.index()..first.index() + count].as_flattened_mut()
    }

    /// Copies frame `from` into frame `to`, with no copy in between.
    pub(crate) fn copy_frame(&mut self, from: Pfn, to: Pfn) {
        self.all_mut().copy_within(from.index()..=from.index(), to.index());
    }

    /// `len` bytes at byte `offset` of frame `frame`; the caller keeps them inside the frame.
    #[inline(always)]
    pub(crate) fn slice(&self, frame: usize, offset: usize, len: usize) -> &[u8] {
        &self.all()[frame][offset..offset + len]
    }

    #[inline(always)]
    pub(crate) fn slice_mut(&mut self, frame: usize, offset: usize, len: usize) -> &mut [u8] {
        &mut self.all_mut()[frame][offset..offset + len]
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
        raw.copy_from_slice(&self.all()[frame][offset..offset + 8]);
        u64::from_le_bytes(raw)
    }

    /// Writes the little-endian u64 at `pa` (8-aligned).
    #[inline]
    pub(crate) fn write_u64(&mut self, pa: PhysAddr, value: u64) {
        let (frame, offset) = split(pa);
        self.all_mut()[frame][offset..offset + 8].copy_from_slice(&value.to_le_bytes());
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
        let mut store = FrameStore::new(8).expect("a host mapping of 8 frames");
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
        let mut store = FrameStore::new(8).expect("a host mapping of 8 frames");
        assert!(store.frames_mut(&[Pfn(2), Pfn(3), Pfn(2)]).is_none());
        assert!(store.frames_mut(&[Pfn(8)]).is_none());
        assert!(store.frames_mut(&[]).is_some_and(|pages| pages.is_empty()));
    }
}
