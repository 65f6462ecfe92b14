//! Views as the system sees them: a section (named by a handle of one process) mapped into a
//! process (perhaps another, `MapViewOfFile2`), unmapped, flushed; and the files' reads and
//! writes kept coherent with the views through the segment's frames (F161).
//!
//! The façade (`ntmem-win32`) checks what the handle's rights and the section's protection
//! allow (F135, F136, F152–F154) and the alignments (F140, F141); the core checks sizes
//! against the section (F143) and places the view. A view holds a reference on its section
//! object and segment; the last unmap (and close) lets them go (F134, F168), writing the
//! file's modified pages back first.

use super::{Handle, ProcessId, System};
use crate::address_space::{Placement, ReserveKind, ReserveOptions, View, VmError};
use crate::paging::Protection;
use crate::section::{SectionError, SectionKind};
use crate::units::{PageRange, Vpn, PAGE_SHIFT, PAGE_SIZE};

/// What a view is to be.
#[derive(Clone, Copy, Debug)]
pub struct ViewRequest {
    /// Bytes into the section (a multiple of 64 KiB: the façade checks, F140).
    pub offset: u64,
    /// Bytes to map; 0 maps from `offset` to the end of the section (F143).
    pub size: u64,
    /// Where; `None` lets placement choose.
    pub base: Option<u64>,
    /// The view's protection (`AllocationProtect`, F152).
    pub protection: Protection,
    /// Bottom-up or top-down when placement chooses.
    pub placement: Placement,
    /// The view must end at or below this address (zero bits).
    pub limit: u64,
    /// A copy-on-write view (`FILE_MAP_COPY`): charged for its whole size (F159).
    pub copy: bool,
    /// Bytes to commit from the view's start, for a `SEC_RESERVE` section (NT's CommitSize,
    /// F149).
    pub commit: u64,
}

impl System {
    /// Maps a view of the section `section` (a handle of `caller`) into `target`; the range
    /// mapped.
    pub fn map_view(
        &mut self,
        caller: ProcessId,
        section: Handle,
        target: ProcessId,
        req: &ViewRequest,
    ) -> Result<PageRange, SectionError> {
        let (id, _) = self.section_of(caller, section)?;
        let s = self.sections.section(id).ok_or(SectionError::InvalidHandle)?;
        let (segment, size, image) = (s.segment(), s.size(), s.kind() == SectionKind::Image);
        if req.offset >= size.max(1) && !(req.offset == 0 && size == 0) {
            return Err(SectionError::InvalidViewSize);
        }
        let left = size - req.offset;
        let bytes = match req.size {
            0 => left,
            n if n > left => return Err(SectionError::InvalidViewSize),
            n => n,
        };
        let pages = bytes.div_ceil(PAGE_SIZE);
        let mut view = View {
            section: id,
            segment,
            first_page: req.offset >> PAGE_SHIFT,
            image,
            charged: if req.copy { pages } else { 0 },
            relocation: 0,
        };
        // An image: its copy-on-write pages are charged with each view (NT's
        // ImageCommitment), and it goes at its preferred base when that is free (F163).
        let image_layout = self
            .machine
            .segments
            .get(segment)
            .and_then(|s| s.image())
            .map(|l| (l.preferred_base(), l.image_commitment(), l.relocated_pages().len() as u64));
        let mut base = req.base;
        if let Some((preferred, commitment, _)) = image_layout {
            view.charged = commitment;
            if base.is_none() && preferred.checked_add(bytes).is_some_and(|end| end <= req.limit) {
                let free = self
                    .process(target)
                    .and_then(|p| p.space())
                    .is_some_and(|s| PageRange::covering(preferred, bytes).is_some_and(|r| !s.vads().overlaps(r)));
                if free && preferred % crate::units::ALLOCATION_GRANULARITY == 0 {
                    base = Some(preferred);
                }
            }
            if base != Some(preferred) {
                // Away from its base, the pages holding relocated values become private.
                view.charged += image_layout.map_or(0, |(_, _, relocated)| relocated);
            }
        }
        let opts = ReserveOptions {
            placement: req.placement,
            limit: req.limit,
            kind: ReserveKind::View(view),
            ..ReserveOptions::new(req.protection)
        };
        let mut vm = self.vm(target).map_err(|_| SectionError::InvalidHandle)?;
        let range = vm.map_view(base, pages, &opts).map_err(SectionError::View)?;
        if let Some((preferred, _, _)) = image_layout {
            let delta = range.start_addr().wrapping_sub(preferred).cast_signed();
            if delta != 0 {
                vm.set_view_relocation(range.start, delta);
            }
        }
        if req.commit > 0 {
            let commit = PageRange::covering(range.start_addr(), req.commit.min(range.bytes()));
            if let Some(commit) = commit {
                if let Err(e) = vm.commit_section_pages(view, range.start, commit, req.protection) {
                    vm.unmap_view(range.start_addr());
                    return Err(SectionError::View(e));
                }
            }
        }
        self.sections.view_mapped(&mut self.machine, id);
        Ok(range)
    }

    /// Unmaps the view of `target` holding `addr` (any address in it, F165); its section and
    /// segment go when nothing else holds them.
    pub fn unmap_view(&mut self, target: ProcessId, addr: u64) -> Result<PageRange, SectionError> {
        let mut vm = self.vm(target).map_err(|_| SectionError::InvalidHandle)?;
        let (view, range) = vm.unmap_view(addr).ok_or(SectionError::View(VmError::NotMappedView))?;
        self.sections.view_unmapped(&mut self.machine, view.section);
        Ok(range)
    }

    /// Unmaps every view of a process that is ending.
    pub(super) fn unmap_all_views(&mut self, target: ProcessId) {
        let starts: Vec<u64> = match self.process(target).and_then(|p| p.space()) {
            Some(space) => space.vads().iter().filter(|v| v.view().is_some()).map(|v| v.range.start_addr()).collect(),
            None => return,
        };
        for start in starts {
            // Views found just above: each unmaps.
            let _ = self.unmap_view(target, start);
        }
    }

    /// Reads a file at its position, the bytes of pages its data segment holds in memory
    /// taken from there: a view's writes are seen before they are written back (F161).
    pub fn read_file(&mut self, pid: ProcessId, handle: Handle, buf: &mut [u8]) -> Result<usize, SectionError> {
        let (start, identity) = self.file_position(pid, handle)?;
        let n = self.file_mut(pid, handle)?.read(buf)?;
        if let Some(segment) = self.machine.segments.data_segment(identity) {
            self.machine.copy_cached(segment, start, &mut buf[..n]);
        }
        Ok(n)
    }

    /// Writes a file at its position, and into the pages its data segment holds in memory,
    /// so that every view sees the bytes (F161).
    pub fn write_file(&mut self, pid: ProcessId, handle: Handle, data: &[u8]) -> Result<usize, SectionError> {
        let (start, identity) = self.file_position(pid, handle)?;
        let n = self.file_mut(pid, handle)?.write(data)?;
        if let Some(segment) = self.machine.segments.data_segment(identity) {
            self.machine.update_cached(segment, start, &data[..n]);
        }
        Ok(n)
    }

    /// Sets a file's end at its position; a file cannot end inside a mapped view of it
    /// (F139: `STATUS_USER_MAPPED_FILE`).
    pub fn set_end_of_file(&mut self, pid: ProcessId, handle: Handle) -> Result<(), SectionError> {
        let (position, identity) = self.file_position(pid, handle)?;
        if let Some(segment) = self.machine.segments.data_segment(identity).and_then(|id| self.machine.segments.get(id))
        {
            if segment.refs().views > 0 && position < segment.bytes() {
                return Err(SectionError::UserMappedFile);
            }
        }
        self.file_mut(pid, handle)?.set_end()
    }

    fn file_position(
        &mut self,
        pid: ProcessId,
        handle: Handle,
    ) -> Result<(u64, crate::section::FileIdentity), SectionError> {
        let file = self.file_mut(pid, handle)?;
        Ok((file.position(), file.identity()))
    }
}

impl super::Vm<'_> {
    /// Flushes the view pages of `[addr, addr + size)` to their file; size 0 flushes to the
    /// end of the view (F167). Returns the range flushed.
    pub fn flush_view(&mut self, addr: u64, size: u64) -> Result<PageRange, VmError> {
        let vpn = Vpn(addr >> PAGE_SHIFT);
        let (space, m) = self.hot_parts();
        let (_, whole, _) = space.view_at(vpn).ok_or(VmError::NotMappedView)?;
        let end = if size == 0 { whole.end_addr() } else { addr.saturating_add(size).min(whole.end_addr()) };
        let range = PageRange::covering(addr, end - addr).unwrap_or(PageRange { start: vpn, end: vpn.add(1) });
        space.flush_view(m, range)?;
        Ok(range)
    }
}
