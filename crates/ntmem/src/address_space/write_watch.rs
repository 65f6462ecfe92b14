//! Write watch (`GetWriteWatch`, `ResetWriteWatch`): which pages of a `MEM_WRITE_WATCH`
//! allocation were written since the last reset.
//!
//! A page is written when its allocation marks it so or its valid PTE is dirty: NT moves
//! dirty bits into the allocation's marks whenever it rewrites a valid PTE (`protect.rs`), and
//! resetting clears both, so the next write walks again and sets the dirty bit (F108–F118).
//!
//! The marks are a sparse set and the PTEs are read by a walk of the tables that exist, so a
//! query or reset costs what the range holds, not its length: over a 1 TiB reservation it
//! reads a handful of entries (issue 6, item 9).

use super::{AddressSpace, VmError};
use crate::paging::{FlushRuns, Leaf, Pte, TlbFlush};
use crate::phys::PhysicalMemory;
use crate::units::{PageRange, Vpn, PAGES_PER_LARGE_PAGE};
use std::ops::ControlFlow;

impl AddressSpace {
    fn watched_range(&self, addr: u64, size: u64) -> Result<PageRange, VmError> {
        let range = PageRange::covering(addr, size).ok_or(VmError::NotWriteWatch)?;
        match self.vads.find(range.start) {
            Some(vad) if vad.has_write_watch() && vad.range.contains_range(&range) => Ok(range),
            _ => Err(VmError::NotWriteWatch),
        }
    }

    /// The pages of `range` whose valid PTE is dirty, lowest first, `most` at most.
    fn dirty_pages(&self, phys: &PhysicalMemory, range: PageRange, most: usize) -> Vec<Vpn> {
        let mut dirty = Vec::new();
        let _ = self.tables.try_for_each_mapped(phys, range, |vpn, leaf, raw| {
            match leaf {
                Leaf::Pte(_) if matches!(Pte::decode(raw), Pte::Valid(v) if v.dirty()) => dirty.push(vpn),
                Leaf::Large { .. } => {
                    let pages = PageRange { start: vpn, end: vpn.add(PAGES_PER_LARGE_PAGE) };
                    let inside = pages.iter().filter(|&p| range.start <= p && p < range.end);
                    dirty.extend(inside.filter(|&p| matches!(self.tables.pte(phys, p), Pte::Valid(v) if v.dirty())));
                }
                _ => {}
            }
            if dirty.len() >= most {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        dirty.truncate(most);
        dirty
    }

    /// Forgets that each of `pages` (ascending, no repeats) was written: its mark, and its PTE's
    /// dirty bit. The invalidations of a run of consecutive cleaned pages are applied at once:
    /// the native engine unmaps the run with one system call.
    fn clear_written(&mut self, phys: &mut PhysicalMemory, pages: &[Vpn]) {
        let mut runs = FlushRuns::default();
        for &vpn in pages {
            let owed = self.clear_written_owing(phys, vpn);
            runs.note(&mut self.tlb, vpn, owed);
        }
        runs.finish(&mut self.tlb);
    }

    /// Forgets that `vpn` was written; returns the invalidation owed when its PTE was cleaned.
    fn clear_written_owing(&mut self, phys: &mut PhysicalMemory, vpn: Vpn) -> Option<TlbFlush> {
        if let Some(vad) = self.vads.find_mut(vpn) {
            vad.set_watch_bit(vpn, false);
        }
        let Leaf::Pte(at) = self.tables.leaf(phys, vpn) else { return None };
        let Pte::Valid(v) = Pte::decode(phys.read_u64(at)) else { return None };
        if !v.dirty() {
            return None;
        }
        // The write still has to reach the page file: keep it in the frame.
        phys.pfn_mut(v.pfn()).mark_written();
        self.set_pte_owing(phys, at, vpn, Pte::Valid(v.clean()))
    }

    /// Fills `out` with the written pages of `[addr, addr + size)`, lowest first, and returns
    /// how many; with `reset`, clears exactly the pages reported (F110, F114).
    pub fn get_write_watch(
        &mut self,
        phys: &mut PhysicalMemory,
        addr: u64,
        size: u64,
        out: &mut [u64],
        reset: bool,
    ) -> Result<usize, VmError> {
        let range = self.watched_range(addr, size)?;
        // The first `out.len()` written pages are among the first `out.len()` of each kind.
        let dirty = self.dirty_pages(phys, range, out.len());
        let mut written: Vec<Vpn> =
            self.vads.find(range.start).map_or_else(Vec::new, |vad| vad.watched_in(range).take(out.len()).collect());
        written.extend(dirty);
        written.sort_unstable();
        written.dedup();
        written.truncate(out.len());
        for (slot, &vpn) in out.iter_mut().zip(&written) {
            *slot = vpn.addr().as_u64();
        }
        if reset {
            self.clear_written(phys, &written);
        }
        Ok(written.len())
    }

    /// Forgets every write to `[addr, addr + size)` (F112).
    pub fn reset_write_watch(&mut self, phys: &mut PhysicalMemory, addr: u64, size: u64) -> Result<(), VmError> {
        let range = self.watched_range(addr, size)?;
        let mut written: Vec<Vpn> =
            self.vads.find(range.start).map_or_else(Vec::new, |vad| vad.watched_in(range).collect());
        written.extend(self.dirty_pages(phys, range, usize::MAX));
        written.sort_unstable();
        written.dedup();
        self.clear_written(phys, &written);
        Ok(())
    }
}
