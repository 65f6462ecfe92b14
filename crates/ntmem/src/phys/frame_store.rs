//! The bytes of the simulated RAM.
//!
//! One host allocation, zero-filled by the host allocator (`alloc_zeroed`): on Linux a large
//! zeroed allocation is an anonymous mapping whose pages cost host memory only when first
//! written, so a 1 GiB machine that touched ten frames costs about ten pages of host memory.
//! Frames are addressed by [`Pfn`]; nothing outside this type indexes the bytes.

use crate::units::{Pfn, PhysAddr, PAGE_BYTES};

/// RAM: `frames` frames of 4 KiB.
pub struct FrameStore {
    bytes: Vec<u8>,
    frames: u32,
}

const FRAME: usize = PAGE_BYTES;

impl FrameStore {
    pub(crate) fn new(frames: u32) -> FrameStore {
        FrameStore { bytes: vec![0u8; frames as usize * FRAME], frames }
    }

    /// Frames of RAM.
    #[must_use]
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// The bytes of one frame.
    #[must_use]
    pub fn frame(&self, pfn: Pfn) -> &[u8] {
        let start = pfn.index() * FRAME;
        &self.bytes[start..start + FRAME]
    }

    pub(crate) fn frame_mut(&mut self, pfn: Pfn) -> &mut [u8] {
        let start = pfn.index() * FRAME;
        &mut self.bytes[start..start + FRAME]
    }

    /// `len` bytes at byte `offset` of frame `frame`; the caller keeps them inside the frame.
    #[inline(always)]
    pub(crate) fn slice(&self, frame: usize, offset: usize, len: usize) -> &[u8] {
        let start = frame * FRAME + offset;
        &self.bytes[start..start + len]
    }

    #[inline(always)]
    pub(crate) fn slice_mut(&mut self, frame: usize, offset: usize, len: usize) -> &mut [u8] {
        let start = frame * FRAME + offset;
        &mut self.bytes[start..start + len]
    }

    pub(crate) fn read_u64(&self, pa: PhysAddr) -> u64 {
        let at = usize::try_from(pa.as_u64()).expect("RAM fits the host address space");
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&self.bytes[at..at + 8]);
        u64::from_le_bytes(raw)
    }

    pub(crate) fn write_u64(&mut self, pa: PhysAddr, value: u64) {
        let at = usize::try_from(pa.as_u64()).expect("RAM fits the host address space");
        self.bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }
}
