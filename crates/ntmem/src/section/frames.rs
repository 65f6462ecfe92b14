//! Section pages in memory: bringing a segment page into a frame, sharing that frame among the
//! views that map it, giving it up, and writing it back — the machine-wide half of NT's
//! prototype-PTE paging (Windows Internals, 7th ed., ch. 5, "Prototype PTEs", "Mapped page
//! writer"). The process half (process PTEs, faults, views) is `address_space/view.rs`.
//!
//! Contracts:
//! - A section frame's PFN entry names its prototype PTE (segment, page) and its share count
//!   is the valid process PTEs that map it. While that count is above zero the prototype PTE
//!   is valid and the frame is on no list; at zero the prototype turns transition and the
//!   frame goes to the modified list (if written since it was last written back) or standby.
//! - A frame repurposed from standby rewrites the prototype PTE, never a process PTE: a clean
//!   file page goes back to "in file", a page-file page to its slot.
//! - Pages of a file-backed segment are written to *their file* (the mapped page writer),
//!   never to a page file, in clusters of contiguous file pages; what lies past the file's end
//!   is not written. A failed write leaves the pages modified, to be tried again.
//! - A segment's last reference gone, its modified file pages are written, its frames and
//!   page-file slots go back.

use super::segment::SegmentId;
use crate::address_space::access::FaultKind;
use crate::balancer::WRITE_CLUSTER;
use crate::machine::{Fill, Machine};
use crate::page_file::{FaultPlan, IoCounters, SlotRun};
use crate::paging::{PrototypePte, ValidPte};
use crate::phys::{FrameUse, ListKind, PfnFlags, PfnState};
use crate::system::MAX_PAGE_IN_CLUSTER;
use crate::units::{Pfn, PAGE_BYTES};

/// The most pages one page-in cluster reads, as an array length.
const CLUSTER_MAX: usize = MAX_PAGE_IN_CLUSTER as usize;

/// The most runs of physically contiguous frames a cluster is read into directly, one host
/// read a run; a cluster in more pieces goes through the I/O buffer.
const DIRECT_RUNS: usize = 2;

/// How a segment page came to be in a frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PageIn {
    /// It already was, mapped by another view: no I/O.
    Shared,
    /// Its frame was on the standby or modified list: no I/O (a soft fault).
    Soft,
    /// It was read from its file or the page file (a hard fault).
    Hard,
    /// It was committed and never touched: a zeroed frame.
    DemandZero,
}

/// The I/O of mapped files, and failures to inject into it (for tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MappedIo {
    /// Reads and writes of host files on behalf of segments.
    pub counters: IoCounters,
    /// Reads and writes still to fail.
    pub faults: FaultPlan,
}

impl MappedIo {
    fn read_fails(&mut self) -> bool {
        let fail = self.faults.fail_reads > 0;
        self.faults.fail_reads = self.faults.fail_reads.saturating_sub(1);
        fail
    }

    fn write_fails(&mut self) -> bool {
        let fail = self.faults.fail_writes > 0;
        self.faults.fail_writes = self.faults.fail_writes.saturating_sub(1);
        fail
    }
}

impl Machine {
    /// Brings page `page` of `segment` into a frame and makes its prototype PTE valid; the
    /// frame's share count is unchanged (the caller maps it, or gives it up). A file page is
    /// read with the pages after it that are also still in the file, below `cluster_end`, up
    /// to the cluster size; those go to standby.
    pub(crate) fn section_frame(
        &mut self,
        segment: SegmentId,
        page: u64,
        cluster_end: u64,
    ) -> Result<(Pfn, PageIn), FaultKind> {
        let proto = self.segments.get(segment).and_then(|s| s.prototype(page)).ok_or(FaultKind::AccessViolation)?;
        match proto {
            PrototypePte::Reserved => Err(FaultKind::AccessViolation),
            PrototypePte::Valid(v) => Ok((v.pfn(), PageIn::Shared)),
            PrototypePte::Transition { pfn, protection } => {
                self.phys.unpark(pfn);
                self.set_prototype(segment, page, PrototypePte::Valid(ValidPte::new(pfn, protection)));
                Ok((pfn, PageIn::Soft))
            }
            PrototypePte::DemandZero(protection) => {
                let pfn = self.take_section_frame(segment, page, protection, Fill::Zero)?;
                // No copy exists anywhere: it must be written before its frame is reused — but
                // for an image's zero page nobody can write to (copy-on-write or read-only),
                // which the layout gives again.
                let regenerable =
                    !protection.can_write() && self.segments.get(segment).is_some_and(|s| s.image().is_some());
                self.phys.pfn_mut(pfn).flags.set(PfnFlags::MODIFIED, !regenerable);
                self.set_prototype(segment, page, PrototypePte::Valid(ValidPte::new(pfn, protection)));
                Ok((pfn, PageIn::DemandZero))
            }
            PrototypePte::PageFile { file, slot, protection } => {
                let pfn = self.take_section_frame(segment, page, protection, Fill::Overwrite)?;
                let run = SlotRun { file, first: slot, count: 1 };
                if self.files.read(run, self.phys.frame_mut(pfn)).is_err() {
                    self.phys.release(pfn);
                    return Err(FaultKind::InPageError);
                }
                self.phys.pfn_mut(pfn).set_backing(Some((file, slot)));
                self.set_prototype(segment, page, PrototypePte::Valid(ValidPte::new(pfn, protection)));
                Ok((pfn, PageIn::Hard))
            }
            PrototypePte::InFile(protection) => {
                self.read_file_cluster(segment, page, protection, cluster_end)?;
                Ok((self.prototype_frame(segment, page).ok_or(FaultKind::InPageError)?, PageIn::Hard))
            }
        }
    }

    /// Reads file page `page` and the following pages still in the file (below `end`, the
    /// cluster size at most) as one I/O; `page` becomes valid, the others standby. A read
    /// that fails changes nothing: every frame taken goes back.
    fn read_file_cluster(
        &mut self,
        segment: SegmentId,
        page: u64,
        protection: crate::paging::Protection,
        end: u64,
    ) -> Result<(), FaultKind> {
        let seg = self.segments.get(segment).ok_or(FaultKind::AccessViolation)?;
        // The cluster is at most MAX_PAGE_IN_CLUSTER pages: its protections and frames fit
        // on the stack, so a fault allocates nothing on the host.
        let mut protections = [protection; CLUSTER_MAX];
        let limit = end.min(seg.pages()).min(page + u64::from(self.cluster.clamp(1, MAX_PAGE_IN_CLUSTER)));
        let mut wanted = 1;
        for p in page + 1..limit {
            match seg.prototype(p) {
                Some(PrototypePte::InFile(prot)) => {
                    protections[wanted] = prot;
                    wanted += 1;
                }
                _ => break,
            }
        }
        let mut frames = [Pfn(0); CLUSTER_MAX];
        let mut n = 0;
        for (i, &prot) in protections[..wanted].iter().enumerate() {
            match self.take_section_frame(segment, page + i as u64, prot, Fill::Overwrite) {
                Ok(pfn) => {
                    frames[n] = pfn;
                    n += 1;
                }
                Err(e) if n == 0 => return Err(e),
                Err(_) => break,
            }
        }
        let frames = &frames[..n];
        let read = if self.mapped.read_fails() {
            Err(std::io::Error::other("injected mapped-file read failure"))
        } else {
            self.read_into_frames(segment, page, frames)
        };
        if read.is_err() {
            for &pfn in frames {
                self.phys.release(pfn);
            }
            return Err(FaultKind::InPageError);
        }
        self.mapped.counters.read_ios += 1;
        self.mapped.counters.pages_read += n as u64;
        for (i, (&prot, &pfn)) in protections.iter().zip(frames).enumerate() {
            let p = page + i as u64;
            if i == 0 {
                self.set_prototype(segment, p, PrototypePte::Valid(ValidPte::new(pfn, prot)));
            } else {
                self.set_prototype(segment, p, PrototypePte::Transition { pfn, protection: prot });
                self.phys.park(pfn, ListKind::Standby);
            }
        }
        Ok(())
    }

    /// Reads segment pages `page..` into `frames`, one frame a page. Frames are mostly taken
    /// in runs of consecutive PFNs (the free list hands them out in the order they came back):
    /// each run is read straight into its frames with one host read. A cluster broken into
    /// more runs than [`DIRECT_RUNS`] is read with one read into the I/O buffer and copied
    /// frame by frame instead, a copy being cheaper than a read.
    fn read_into_frames(&mut self, segment: SegmentId, page: u64, frames: &[Pfn]) -> std::io::Result<()> {
        let seg = self.segments.get(segment).ok_or(std::io::ErrorKind::NotFound)?;
        let breaks = frames.windows(2).filter(|w| w[1].0 != w[0].0.wrapping_add(1)).count();
        if breaks < DIRECT_RUNS {
            let mut first = 0;
            while first < frames.len() {
                let mut next = first + 1;
                while next < frames.len() && frames[next].0 == frames[next - 1].0.wrapping_add(1) {
                    next += 1;
                }
                seg.read_pages(page + first as u64, self.phys.run_mut(frames[first], next - first))?;
                first = next;
            }
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.io_buffer);
        buf.resize(frames.len() * PAGE_BYTES, 0);
        let read = seg.read_pages(page, &mut buf);
        if read.is_ok() {
            for (pfn, bytes) in frames.iter().zip(buf.chunks_exact(PAGE_BYTES)) {
                self.phys.frame_mut(*pfn).copy_from_slice(bytes);
            }
        }
        self.io_buffer = buf;
        read
    }

    /// A frame for page `page` of `segment`, named by its PFN entry, share count 0.
    fn take_section_frame(
        &mut self,
        segment: SegmentId,
        page: u64,
        protection: crate::paging::Protection,
        fill: Fill,
    ) -> Result<Pfn, FaultKind> {
        let pfn = self.allocate(FrameUse::Section, None, fill).ok_or(FaultKind::OutOfFrames)?;
        let e = self.phys.pfn_mut(pfn);
        e.set_prototype(segment.raw(), page);
        e.protection = protection;
        e.share_count = 0;
        Ok(pfn)
    }

    /// The frame a prototype PTE holds (valid or transition).
    pub(crate) fn prototype_frame(&self, segment: SegmentId, page: u64) -> Option<Pfn> {
        self.segments.get(segment).and_then(|s| s.prototype(page)).and_then(PrototypePte::frame)
    }

    pub(crate) fn set_prototype(&mut self, segment: SegmentId, page: u64, pte: PrototypePte) {
        if let Some(seg) = self.segments.get_mut(segment) {
            seg.set_prototype(page, pte);
        }
    }

    /// One more valid process PTE maps section frame `pfn`.
    pub(crate) fn share(&mut self, pfn: Pfn) {
        let e = self.phys.pfn_mut(pfn);
        e.share_count = e.share_count.saturating_add(1);
    }

    /// One valid process PTE no longer maps section frame `pfn`; at zero the frame leaves
    /// use (see [`Machine::release_unshared`]).
    pub(crate) fn unshare(&mut self, pfn: Pfn) {
        let e = self.phys.pfn_mut(pfn);
        e.share_count = e.share_count.saturating_sub(1);
        if e.share_count == 0 {
            self.release_unshared(pfn);
        }
    }

    /// A section frame no PTE maps goes to the modified list (written since it was last
    /// clean: its page-file copy, if any, is stale) or to standby; its prototype turns
    /// transition.
    pub(crate) fn release_unshared(&mut self, pfn: Pfn) {
        let e = *self.phys.pfn(pfn);
        debug_assert_eq!(e.state(), PfnState::Active);
        let Some((segment, page)) = e.prototype() else { return };
        let segment = SegmentId(segment);
        self.set_prototype(segment, page, PrototypePte::Transition { pfn, protection: e.protection() });
        let modified = e.flags().has(PfnFlags::MODIFIED);
        if modified {
            if let Some((file, slot)) = e.backing() {
                self.phys.pfn_mut(pfn).set_backing(None);
                self.files.free(file, slot);
            }
        }
        let list = match (modified, self.segments.get(segment).is_some_and(super::Segment::is_write_deferred)) {
            (false, _) => ListKind::Standby,
            (true, false) => ListKind::Modified,
            (true, true) => ListKind::ModifiedNoWrite,
        };
        self.phys.park(pfn, list);
    }

    /// Defers (or allows again) the modified page writer's writes of a file-backed data
    /// segment (`MmDisableModifiedWriteOfSection` / `MmEnableModifiedWriteOfSection`): its
    /// modified pages on the modified list move to the modified no-write list, or back.
    /// `false` for a segment that is not a file's data segment, or is dying.
    pub(crate) fn defer_segment_writes(&mut self, segment: SegmentId, deferred: bool) -> bool {
        let Some(seg) = self.segments.get_mut(segment) else { return false };
        if !matches!(seg.backing, super::Backing::File(_)) || seg.dying {
            return false;
        }
        seg.write_deferred = deferred;
        let (from, to) = if deferred {
            (PfnState::Modified, ListKind::ModifiedNoWrite)
        } else {
            (PfnState::ModifiedNoWrite, ListKind::Modified)
        };
        for page in 0..seg.pages() {
            let Some(pfn) = self.prototype_frame(segment, page) else { continue };
            if self.phys.pfn(pfn).state() == from {
                self.phys.unpark(pfn);
                self.phys.park(pfn, to);
            }
        }
        true
    }

    /// Marks a page-file section frame's contents discardable (`MEM_RESET`): clean, reset, its
    /// page-file copy given back; off the modified list if it was on it.
    pub(crate) fn discard_section_frame(&mut self, pfn: Pfn) {
        let e = self.phys.pfn_mut(pfn);
        e.flags.set(PfnFlags::RESET, true);
        e.flags.set(PfnFlags::MODIFIED, false);
        if let Some((file, slot)) = e.backing() {
            e.set_backing(None);
            self.files.free(file, slot);
        }
        if matches!(self.phys.pfn(pfn).state(), PfnState::Modified | PfnState::ModifiedNoWrite) {
            self.phys.unpark(pfn);
            self.phys.park(pfn, ListKind::Standby);
        }
    }

    /// Cuts a standby section frame loose from its page: the prototype PTE says where the
    /// page is now (its file, or its page-file slot).
    pub(crate) fn evict_section_frame(&mut self, pfn: Pfn) {
        let e = *self.phys.pfn(pfn);
        let Some((segment, page)) = e.prototype() else { return };
        let segment = SegmentId(segment);
        let protection = e.protection();
        let file_backed = self.segments.get(segment).is_some_and(super::Segment::reads_file);
        let next = match e.backing() {
            Some((file, slot)) => PrototypePte::PageFile { file, slot, protection },
            None if file_backed => PrototypePte::InFile(protection),
            None => PrototypePte::DemandZero(protection),
        };
        self.set_prototype(segment, page, next);
    }

    /// True when `pfn` is a modified frame of a file-backed segment: the mapped page writer's,
    /// not the modified page writer's.
    pub(crate) fn is_file_page(&self, pfn: Pfn) -> bool {
        let e = self.phys.pfn(pfn);
        e.prototype().is_some_and(|(s, _)| self.segments.get(SegmentId(s)).is_some_and(super::Segment::is_file))
    }

    /// The mapped page writer: writes the modified file page in `pfn` with the modified pages
    /// of the same file around it (contiguous, on the modified list, a cluster at most) in one
    /// write, and moves them to standby. Returns the pages written; 0 when the write failed
    /// (the pages stay modified).
    pub(crate) fn write_file_pages(&mut self, pfn: Pfn) -> u64 {
        let Some((segment, page)) = self.phys.pfn(pfn).prototype() else { return 0 };
        let segment = SegmentId(segment);
        let on_modified = |m: &Machine, p: u64| {
            m.prototype_frame(segment, p).filter(|f| m.phys.pfn(*f).state() == PfnState::Modified)
        };
        let mut first = page;
        while first > 0 && page - first + 1 < WRITE_CLUSTER as u64 && on_modified(self, first - 1).is_some() {
            first -= 1;
        }
        let mut frames = Vec::new();
        let mut p = first;
        while frames.len() < WRITE_CLUSTER {
            match on_modified(self, p) {
                Some(f) => frames.push(f),
                None => break,
            }
            p += 1;
        }
        if self.write_back(segment, first, &frames).is_err() {
            return 0;
        }
        for f in &frames {
            self.phys.unpark(*f);
            self.phys.park(*f, ListKind::Standby);
        }
        if self.segments.get(segment).is_some_and(super::Segment::is_dying) && !self.has_modified_pages(segment) {
            self.delete_segment(segment);
        }
        frames.len() as u64
    }

    /// True when a frame of the segment holds a page modified since it was last written.
    fn has_modified_pages(&self, segment: SegmentId) -> bool {
        let pages = self.segments.get(segment).map_or(0, super::Segment::pages);
        (0..pages)
            .any(|p| self.prototype_frame(segment, p).is_some_and(|f| self.phys.pfn(f).flags().has(PfnFlags::MODIFIED)))
    }

    /// Writes the frames of segment pages `first..` to the segment's file and marks them
    /// clean.
    fn write_back(&mut self, segment: SegmentId, first: u64, frames: &[Pfn]) -> std::io::Result<()> {
        if frames.is_empty() {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.io_buffer);
        buf.clear();
        for f in frames {
            buf.extend_from_slice(self.phys.frame(*f));
        }
        let result = if self.mapped.write_fails() {
            Err(std::io::Error::other("injected mapped-file write failure"))
        } else {
            match self.segments.get(segment) {
                Some(seg) => seg.write_pages(first, &buf),
                None => Err(std::io::ErrorKind::NotFound.into()),
            }
        };
        self.io_buffer = buf;
        result?;
        self.mapped.counters.write_ios += 1;
        self.mapped.counters.pages_written += frames.len() as u64;
        for f in frames {
            self.phys.pfn_mut(*f).flags.set(PfnFlags::MODIFIED, false);
        }
        Ok(())
    }

    /// Writes the modified pages among segment pages `pages` to their file (`FlushViewOfFile`),
    /// in runs of contiguous pages; those on the modified list move to standby. A page-file
    /// segment has nothing to flush.
    pub(crate) fn flush_segment(&mut self, segment: SegmentId, pages: std::ops::Range<u64>) -> std::io::Result<()> {
        if !self.segments.get(segment).is_some_and(super::Segment::is_file) {
            return Ok(());
        }
        let mut run: Vec<Pfn> = Vec::new();
        let mut run_first = pages.start;
        for p in pages.clone() {
            let dirty = self.prototype_frame(segment, p).filter(|f| self.phys.pfn(*f).flags().has(PfnFlags::MODIFIED));
            match dirty {
                Some(f) if run.len() < WRITE_CLUSTER => {
                    if run.is_empty() {
                        run_first = p;
                    }
                    run.push(f);
                }
                other => {
                    self.flush_run(segment, run_first, &run)?;
                    run.clear();
                    if let Some(f) = other {
                        run_first = p;
                        run.push(f);
                    }
                }
            }
        }
        self.flush_run(segment, run_first, &run)
    }

    fn flush_run(&mut self, segment: SegmentId, first: u64, frames: &[Pfn]) -> std::io::Result<()> {
        self.write_back(segment, first, frames)?;
        for f in frames {
            if matches!(self.phys.pfn(*f).state(), PfnState::Modified | PfnState::ModifiedNoWrite) {
                self.phys.unpark(*f);
                self.phys.park(*f, ListKind::Standby);
            }
        }
        Ok(())
    }

    /// Deletes a segment nothing refers to: its modified file pages are written, its frames
    /// and page-file slots go back, and its commit charge. When a write fails the segment
    /// stays, dying, until the mapped page writer has written the rest
    /// ([`Machine::write_file_pages`] deletes it then): nothing written through a view is
    /// lost.
    pub(crate) fn delete_segment(&mut self, id: SegmentId) {
        let Some(pages) = self.segments.get(id).map(super::Segment::pages) else { return };
        if self.flush_segment(id, 0..pages).is_err() {
            // Its modified pages must reach the file in the end: no more deferring.
            self.defer_segment_writes(id, false);
            if let Some(seg) = self.segments.get_mut(id) {
                seg.dying = true;
            }
            return;
        }
        let Some(seg) = self.segments.remove(id) else { return };
        for page in 0..pages {
            let Some(proto) = seg.prototype(page) else { break };
            if let Some(pfn) = proto.frame() {
                // No view is left, so no frame is valid: each is on a list.
                if let Some((file, slot)) = self.phys.pfn(pfn).backing() {
                    self.files.free(file, slot);
                }
                self.phys.release(pfn);
            } else if let PrototypePte::PageFile { file, slot, .. } = proto {
                self.files.free(file, slot);
            }
        }
        self.commit.uncharge(seg.commit);
    }
}

impl Machine {
    /// Copies into `buf` (file bytes from `start`) the bytes of the segment pages held in
    /// frames: they are newer than the file's while modified.
    pub(crate) fn copy_cached(&self, segment: SegmentId, start: u64, buf: &mut [u8]) {
        self.for_cached(segment, start, buf.len(), |m, pfn, in_page, at, n| {
            buf[at..at + n].copy_from_slice(&m.phys.frame(pfn)[in_page..in_page + n]);
        });
    }

    /// Writes `data` (file bytes from `start`) into the segment pages held in frames, after
    /// it was written to the file: frame and file agree on those bytes.
    pub(crate) fn update_cached(&mut self, segment: SegmentId, start: u64, data: &[u8]) {
        let mut pieces = Vec::new();
        self.for_cached(segment, start, data.len(), |_, pfn, in_page, at, n| pieces.push((pfn, in_page, at, n)));
        for (pfn, in_page, at, n) in pieces {
            self.phys.frame_mut(pfn)[in_page..in_page + n].copy_from_slice(&data[at..at + n]);
        }
    }

    /// Calls `f(machine, frame, offset in page, offset in the buffer, length)` for each piece
    /// of the `len` file bytes from `start` that lies in a page held in a frame.
    fn for_cached(
        &self,
        segment: SegmentId,
        start: u64,
        len: usize,
        mut f: impl FnMut(&Machine, Pfn, usize, usize, usize),
    ) {
        let page_bytes = PAGE_BYTES as u64;
        let mut at = 0usize;
        while at < len {
            let pos = start + at as u64;
            #[allow(clippy::cast_possible_truncation)]
            let in_page = (pos % page_bytes) as usize;
            let n = (PAGE_BYTES - in_page).min(len - at);
            if let Some(pfn) = self.prototype_frame(segment, pos / page_bytes) {
                f(self, pfn, in_page, at, n);
            }
            at += n;
        }
    }
}
