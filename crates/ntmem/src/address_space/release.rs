//! Releasing address space (`MEM_RELEASE`): every page of the range becomes free.
//!
//! Size 0 releases the whole allocation from an address in its first page (F55, F57, F58).
//! With a size (NT level only; Win32 insists on 0, F54) the range must lie inside the
//! allocation (F61) and punches a hole, leaving the pieces on each side as allocations of their
//! own (F62, F63, F64).

use super::{AddressSpace, VadKind, VmError};
use crate::machine::Machine;
use crate::units::{PageRange, Vpn, PAGE_SHIFT};

impl AddressSpace {
    /// Releases `[addr, addr + size)`, or the whole allocation when `size` is 0.
    pub fn release(&mut self, m: &mut Machine, addr: u64, size: u64) -> Result<PageRange, VmError> {
        let page = Vpn(addr >> PAGE_SHIFT);
        let vad = self.vads.find(page).ok_or(VmError::NotAllocated)?;
        if vad.kind == VadKind::SharedUserData {
            return Err(VmError::UnableToFree);
        }
        if vad.view().is_some() {
            return Err(VmError::SectionMemory);
        }
        let whole = vad.range;
        let range = if size == 0 {
            if page != whole.start {
                return Err(VmError::FreeNotAtBase);
            }
            whole
        } else {
            let range = PageRange::covering(addr, size).ok_or(VmError::UnableToFree)?;
            if range.end > whole.end {
                return Err(VmError::UnableToFree);
            }
            if range != whole && vad.kind == VadKind::LargePages {
                return Err(VmError::UnableToFree);
            }
            range
        };
        if range == whole {
            let charge = self.release_vad(m, whole.start);
            m.commit.uncharge(charge);
            return Ok(range);
        }
        let mut middle = self.vads.remove(whole.start).ok_or(VmError::NotAllocated)?;
        let tail = (range.end < whole.end).then(|| middle.split_off(range.end));
        if range.start > whole.start {
            let hole = middle.split_off(range.start);
            self.vads.insert(middle);
            middle = hole;
        }
        debug_assert_eq!(middle.range, range);
        if let Some(tail) = tail {
            self.vads.insert(tail);
        }
        let charge = self.drop_range(m, range);
        m.commit.uncharge(charge);
        Ok(range)
    }

    /// Removes the VAD starting at `start` with all its pages; returns the charge freed.
    pub(crate) fn release_vad(&mut self, m: &mut Machine, start: Vpn) -> u64 {
        let Some(vad) = self.vads.remove(start) else { return 0 };
        self.drop_range(m, vad.range)
    }
}
