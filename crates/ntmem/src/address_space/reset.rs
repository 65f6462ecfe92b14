//! `MEM_RESET` and `MEM_RESET_UNDO`: the caller no longer needs a range's contents, or needs
//! them again.
//!
//! Reset marks resident pages clean and discardable (the PFN's reset flag), so a page trimmed
//! later may be dropped instead of written; until then the data is still there, which Windows
//! allows (F41, V17). Undo clears the mark; it succeeds when no
//! page lost its contents, which holds while nothing is paged out (F45). The range must lie in
//! one allocation (F42, F43).

use super::{AddressSpace, VadKind, VmError};
use crate::paging::{Leaf, Pte};
use crate::phys::{PfnFlags, PhysicalMemory};
use crate::units::PageRange;

impl AddressSpace {
    fn reset_range(&self, addr: u64, size: u64) -> Result<PageRange, VmError> {
        let range = PageRange::covering(addr, size).ok_or(VmError::InvalidParameter)?;
        match self.vads.find(range.start) {
            Some(vad) if vad.range.contains_range(&range) && vad.kind == VadKind::Private => Ok(range),
            _ => Err(VmError::ConflictingAddresses),
        }
    }

    /// `MEM_RESET` of `[addr, addr + size)`.
    pub fn reset(&mut self, phys: &mut PhysicalMemory, addr: u64, size: u64) -> Result<PageRange, VmError> {
        let range = self.reset_range(addr, size)?;
        for vpn in range.iter() {
            let Leaf::Pte(at) = self.tables.leaf(phys, vpn) else { continue };
            if let Pte::Valid(v) = Pte::decode(phys.read_u64(at)) {
                self.capture_dirty(vpn, v);
                phys.pfn_mut(v.pfn()).flags.set(PfnFlags::RESET, true);
                self.set_pte(phys, at, vpn, Pte::Valid(v.clean()));
            }
        }
        Ok(range)
    }

    /// `MEM_RESET_UNDO` of `[addr, addr + size)`.
    pub fn reset_undo(&mut self, phys: &mut PhysicalMemory, addr: u64, size: u64) -> Result<PageRange, VmError> {
        let range = self.reset_range(addr, size)?;
        for vpn in range.iter() {
            let Leaf::Pte(at) = self.tables.leaf(phys, vpn) else { continue };
            if let Pte::Valid(v) = Pte::decode(phys.read_u64(at)) {
                phys.pfn_mut(v.pfn()).flags.set(PfnFlags::RESET, false);
            }
        }
        Ok(range)
    }
}
