//! Page files: real files on the host disk where modified pages go when their frames are
//! needed, configured like pagefile.sys with an initial and a maximum size (up to 16).
//!
//! Key types: [`PageFiles`] (all of them, the I/O counters and the injected faults),
//! [`PageFile`] (one file and the map of its slots, `slots.rs`), [`SlotRun`] (contiguous
//! slots of one file), [`FaultPlan`]. Slot 0 of every file is never handed out, so an
//! all-zero page-file PTE can never be mistaken for a demand-zero one (NT reserves it too).
//!
//! Clustering: a run of contiguous slots is written or read with one I/O. Files grow toward
//! their maximum when commit needs it; the commit limit grows with them.

mod file;
mod slots;

pub use file::PageFile;

use crate::units::{PAGE_BYTES, PAGE_SIZE};
use std::io;
use std::path::PathBuf;

/// Most page files a machine may have (four bits in a page-file PTE).
pub const MAX_PAGE_FILES: usize = 16;

/// One configured page file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageFileSpec {
    /// Where on the host disk.
    pub path: PathBuf,
    /// Size at boot, in bytes.
    pub initial_bytes: u64,
    /// Size it may grow to, in bytes.
    pub maximum_bytes: u64,
}

/// Contiguous slots of one page file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotRun {
    /// Which file.
    pub file: u8,
    /// First slot.
    pub first: u32,
    /// Number of slots.
    pub count: u32,
}

/// Failures to inject into the page-file I/O layer (for tests): the next `fail_reads` reads
/// and the next `fail_writes` writes fail as a disk error would.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Reads still to fail.
    pub fail_reads: u32,
    /// Writes still to fail.
    pub fail_writes: u32,
}

/// Page-file I/O figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoCounters {
    /// Read operations.
    pub read_ios: u64,
    /// Pages read.
    pub pages_read: u64,
    /// Write operations.
    pub write_ios: u64,
    /// Pages written.
    pub pages_written: u64,
    /// Reads and writes that failed.
    pub failed_ios: u64,
}

/// Every page file of the machine.
#[derive(Default)]
pub struct PageFiles {
    files: Vec<PageFile>,
    faults: FaultPlan,
    counters: IoCounters,
}

impl PageFiles {
    /// Creates the files (truncated to their initial size); an error names the file it failed on.
    pub(crate) fn create(specs: &[PageFileSpec]) -> Result<PageFiles, (PathBuf, io::Error)> {
        let files = specs
            .iter()
            .map(|spec| PageFile::create(spec).map_err(|e| (spec.path.clone(), e)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PageFiles { files, ..PageFiles::default() })
    }

    /// The files.
    #[must_use]
    pub fn files(&self) -> &[PageFile] {
        &self.files
    }

    /// Slots all files hold now (their current sizes), slot 0 of each excluded.
    #[must_use]
    pub fn capacity(&self) -> u64 {
        self.files.iter().map(PageFile::usable_slots).sum()
    }

    /// Slots the files may still grow by, up to their maxima.
    #[must_use]
    pub fn room(&self) -> u64 {
        self.files.iter().map(|f| f.maximum_slots() - f.size_slots()).sum()
    }

    /// Slots in use.
    #[must_use]
    pub fn used(&self) -> u64 {
        self.files.iter().map(PageFile::used_slots).sum()
    }

    /// I/O figures.
    #[must_use]
    pub fn counters(&self) -> IoCounters {
        self.counters
    }

    /// Arms injected failures.
    pub fn set_fault_plan(&mut self, plan: FaultPlan) {
        self.faults = plan;
    }

    /// The failures still armed.
    #[must_use]
    pub fn fault_plan(&self) -> FaultPlan {
        self.faults
    }

    /// Grows files toward their maximum by at least `pages` slots in all; returns the slots
    /// added (possibly fewer, when every file is at its maximum).
    pub(crate) fn grow(&mut self, pages: u64) -> u64 {
        let mut added = 0;
        for f in &mut self.files {
            if added >= pages {
                break;
            }
            added += f.grow(pages - added);
        }
        added
    }

    /// Takes up to `count` contiguous free slots, from the first file that has any; `None`
    /// when every slot is taken.
    pub(crate) fn allocate(&mut self, count: u32) -> Option<SlotRun> {
        self.files.iter_mut().enumerate().find_map(|(i, f)| {
            let (first, n) = f.allocate_run(count)?;
            Some(SlotRun { file: u8::try_from(i).expect("at most 16 files"), first, count: n })
        })
    }

    /// Gives one slot back.
    pub(crate) fn free(&mut self, file: u8, slot: u32) {
        if let Some(f) = self.files.get_mut(usize::from(file)) {
            f.free(slot);
        }
    }

    /// True when the slot is allocated.
    #[must_use]
    pub fn is_allocated(&self, file: u8, slot: u32) -> bool {
        self.files.get(usize::from(file)).is_some_and(|f| f.is_allocated(slot))
    }

    /// Writes `pages` (one page each, in slot order) to the run with one vectored I/O: a
    /// cluster goes straight from its frames, wherever they lie.
    pub(crate) fn write(&mut self, run: SlotRun, pages: &[&[u8]]) -> io::Result<()> {
        debug_assert_eq!(pages.len(), run.count as usize);
        debug_assert!(pages.iter().all(|p| p.len() == PAGE_BYTES));
        if self.faults.fail_writes > 0 {
            self.faults.fail_writes -= 1;
            self.counters.failed_ios += 1;
            return Err(io::Error::other("injected page-file write failure"));
        }
        let f = self.files.get_mut(usize::from(run.file)).ok_or_else(|| io::Error::other("no such page file"))?;
        let mut bufs: Vec<io::IoSlice<'_>> = pages.iter().map(|p| io::IoSlice::new(p)).collect();
        f.write_vectored_at(run.first, &mut bufs).inspect_err(|_| self.counters.failed_ios += 1)?;
        self.counters.write_ios += 1;
        self.counters.pages_written += u64::from(run.count);
        Ok(())
    }

    /// Reads the run into `data` (whole pages) with one I/O.
    pub(crate) fn read(&mut self, run: SlotRun, data: &mut [u8]) -> io::Result<()> {
        debug_assert_eq!(data.len(), run.count as usize * PAGE_BYTES);
        self.counted_read(run, |f| f.read_at(run.first, data))
    }

    /// Reads the run into `pages` (one page each, in slot order) with one vectored I/O: a
    /// cluster goes straight into its frames wherever they lie.
    pub(crate) fn read_pages(&mut self, run: SlotRun, pages: Vec<&mut [u8]>) -> io::Result<()> {
        debug_assert_eq!(pages.len(), run.count as usize);
        let mut bufs: Vec<io::IoSliceMut<'_>> = pages.into_iter().map(io::IoSliceMut::new).collect();
        self.counted_read(run, |f| f.read_vectored_at(run.first, &mut bufs))
    }

    /// One read I/O of the run, through `read`, counted (or failed by an injected fault).
    fn counted_read(&mut self, run: SlotRun, read: impl FnOnce(&PageFile) -> io::Result<()>) -> io::Result<()> {
        if self.faults.fail_reads > 0 {
            self.faults.fail_reads -= 1;
            self.counters.failed_ios += 1;
            return Err(io::Error::other("injected page-file read failure"));
        }
        let f = self.files.get(usize::from(run.file)).ok_or_else(|| io::Error::other("no such page file"))?;
        read(f).inspect_err(|_| self.counters.failed_ios += 1)?;
        self.counters.read_ios += 1;
        self.counters.pages_read += u64::from(run.count);
        Ok(())
    }

    /// Bytes of every file on disk now.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size_slots() * PAGE_SIZE).sum()
    }
}
