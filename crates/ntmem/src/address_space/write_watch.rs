//! Write watch (`GetWriteWatch`, `ResetWriteWatch`): which pages of a `MEM_WRITE_WATCH`
//! allocation were written since the last reset.
//!
//! A page is written when its allocation's bitmap says so or its valid PTE is dirty: NT moves
//! dirty bits into the bitmap whenever it rewrites a valid PTE (`protect.rs`), and resetting
//! clears both, so the next write walks again and sets the dirty bit (F108–F118).

use super::{AddressSpace, VmError};
use crate::paging::{Leaf, Pte};
use crate::phys::{PfnFlags, PhysicalMemory};
use crate::units::{PageRange, Vpn};

impl AddressSpace {
    fn watched_range(&self, addr: u64, size: u64) -> Result<PageRange, VmError> {
        let range = PageRange::covering(addr, size).ok_or(VmError::NotWriteWatch)?;
        match self.vads.find(range.start) {
            Some(vad) if vad.has_write_watch() && vad.range.contains_range(&range) => Ok(range),
            _ => Err(VmError::NotWriteWatch),
        }
    }

    fn page_written(&self, phys: &PhysicalMemory, vpn: Vpn) -> bool {
        let bit = self.vads.find(vpn).is_some_and(|v| v.watch_bit(vpn));
        bit || matches!(self.tables.pte(phys, vpn), Pte::Valid(v) if v.dirty())
    }

    fn clear_written(&mut self, phys: &mut PhysicalMemory, vpn: Vpn) {
        if let Some(vad) = self.vads.find_mut(vpn) {
            vad.set_watch_bit(vpn, false);
        }
        if let Leaf::Pte(at) = self.tables.leaf(phys, vpn) {
            if let Pte::Valid(v) = Pte::decode(phys.read_u64(at)) {
                if v.dirty() {
                    // The write still has to reach the page file: keep it in the frame.
                    phys.pfn_mut(v.pfn()).flags.set(PfnFlags::MODIFIED, true);
                    self.set_pte(phys, at, vpn, Pte::Valid(v.clean()));
                }
            }
        }
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
        let mut count = 0;
        for vpn in range.iter() {
            if count == out.len() {
                break;
            }
            if self.page_written(phys, vpn) {
                out[count] = vpn.addr().as_u64();
                count += 1;
                if reset {
                    self.clear_written(phys, vpn);
                }
            }
        }
        Ok(count)
    }

    /// Forgets every write to `[addr, addr + size)` (F112).
    pub fn reset_write_watch(&mut self, phys: &mut PhysicalMemory, addr: u64, size: u64) -> Result<(), VmError> {
        let range = self.watched_range(addr, size)?;
        for vpn in range.iter() {
            self.clear_written(phys, vpn);
        }
        Ok(())
    }
}
