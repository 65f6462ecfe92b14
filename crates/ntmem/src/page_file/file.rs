//! One page file: a host file, its current and maximum size, and the map of its slots.

use super::slots::SlotMap;
use super::PageFileSpec;
use crate::units::{PAGE_BYTES, PAGE_SIZE};
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Grow at least this many slots at a time (4 MiB), as Windows grows page files in steps.
const GROWTH_STEP: u64 = 1024;

/// One page file.
pub struct PageFile {
    path: PathBuf,
    file: File,
    size: u64,
    maximum: u64,
    /// Its slots in use, sized for the maximum.
    slots: SlotMap,
    used: u64,
    hint: u32,
}

impl PageFile {
    pub(super) fn create(spec: &PageFileSpec) -> io::Result<PageFile> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&spec.path)?;
        let size = (spec.initial_bytes / PAGE_SIZE).max(1);
        let maximum = (spec.maximum_bytes / PAGE_SIZE).max(size);
        file.set_len(size * PAGE_SIZE)?;
        let mut slots = SlotMap::new(maximum);
        slots.set(0, true); // slot 0 is never used
        Ok(PageFile { path: spec.path.clone(), file, size, maximum, slots, used: 0, hint: 1 })
    }

    /// Its path on the host.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Current size in slots.
    #[must_use]
    pub fn size_slots(&self) -> u64 {
        self.size
    }

    /// Maximum size in slots.
    #[must_use]
    pub fn maximum_slots(&self) -> u64 {
        self.maximum
    }

    /// Slots that can hold pages now (slot 0 excluded).
    #[must_use]
    pub fn usable_slots(&self) -> u64 {
        self.size - 1
    }

    /// Slots in use.
    #[must_use]
    pub fn used_slots(&self) -> u64 {
        self.used
    }

    /// True when `slot` is allocated.
    #[must_use]
    pub fn is_allocated(&self, slot: u32) -> bool {
        slot != 0 && u64::from(slot) < self.size && self.slots.get(slot)
    }

    pub(super) fn grow(&mut self, pages: u64) -> u64 {
        let target = (self.size + pages.max(GROWTH_STEP)).min(self.maximum);
        if target <= self.size || self.file.set_len(target * PAGE_SIZE).is_err() {
            return 0;
        }
        let added = target - self.size;
        self.size = target;
        added
    }

    /// The first run of free slots from the hint on (wrapping once), up to `count` long.
    /// O(log n + count) for a file of n slots, however full (`slots.rs`).
    pub(super) fn allocate_run(&mut self, count: u32) -> Option<(u32, u32)> {
        let size = u32::try_from(self.size).unwrap_or(u32::MAX);
        let below = |limit: u32| move |slot: &u32| *slot < limit;
        let start = (self.slots.next_free(self.hint).filter(below(size)))
            .or_else(|| self.slots.next_free(1).filter(below(self.hint.min(size))))?;
        let mut n = 1;
        while n < count && start + n < size && !self.slots.get(start + n) {
            n += 1;
        }
        for s in start..start + n {
            self.slots.set(s, true);
        }
        self.used += u64::from(n);
        self.hint = start + n;
        Some((start, n))
    }

    pub(super) fn free(&mut self, slot: u32) {
        if self.is_allocated(slot) {
            self.slots.set(slot, false);
            self.used -= 1;
            self.hint = self.hint.min(slot);
        }
    }

    /// Writes `bufs` in turn from slot `first` on, with one vectored host write (more only
    /// when the host takes less).
    pub(super) fn write_vectored_at(&self, first: u32, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.vectored_at(first, len, io::ErrorKind::WriteZero, |mut file| {
            let n = file.write_vectored(bufs)?;
            IoSlice::advance_slices(&mut bufs, n);
            Ok(n)
        })
    }

    pub(super) fn read_at(&self, first: u32, data: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(data, u64::from(first) * PAGE_SIZE)
    }

    /// Fills `bufs` in turn from slot `first` on, with one vectored host read (more only when
    /// the host returns less).
    pub(super) fn read_vectored_at(&self, first: u32, mut bufs: &mut [IoSliceMut<'_>]) -> io::Result<()> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.vectored_at(first, len, io::ErrorKind::UnexpectedEof, |mut file| {
            let n = file.read_vectored(bufs)?;
            IoSliceMut::advance_slices(&mut bufs, n);
            Ok(n)
        })
    }

    /// Moves `len` bytes from slot `first` on by calls of `transfer` (one vectored read or
    /// write at the file's offset, which it advances past: the bytes it moved), each from
    /// where the last stopped; `short` when the host moves nothing. The page file's own
    /// offset is not used by anything else.
    fn vectored_at(
        &self,
        first: u32,
        mut len: usize,
        short: io::ErrorKind,
        mut transfer: impl FnMut(&File) -> io::Result<usize>,
    ) -> io::Result<()> {
        let mut at = u64::from(first) * PAGE_SIZE;
        while len > 0 {
            (&self.file).seek(SeekFrom::Start(at))?;
            match transfer(&self.file) {
                Ok(0) => return Err(short.into()),
                Ok(n) => {
                    at += n as u64;
                    len = len.saturating_sub(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Drop for PageFile {
    /// A page file's contents mean nothing once the machine is gone: remove it, as Windows
    /// may clear pagefile.sys at shutdown.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

const _: () = assert!(PAGE_BYTES as u64 == PAGE_SIZE);
