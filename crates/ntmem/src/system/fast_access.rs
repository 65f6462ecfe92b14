//! The program's accesses that need no page fault, taken straight from [`System`] before any
//! [`super::Vm`] is built: a TLB hit (the hot path of docs/design.md: "a handful of instructions:
//! no allocation, no map look-up, no locking"), and a TLB miss that one walk of the page
//! tables resolves.
//!
//! Contract: [`FastAccess::Missed`] means "take the full path" ([`super::Vm::read`],
//! [`super::Vm::write`]), which decides what a fault, a page crossing, an unknown or
//! terminated process or a pending balance means; it comes back having changed nothing the
//! full path would not change the same way. A hit changes nothing but the bytes written, so
//! there is nothing for the balancer or the invariant checker to look at afterwards; a walk
//! changes what the full path's walk does (accessed and dirty bits, the TLB, the
//! paging-structure cache) and no frame, so the balancer has nothing to do either, but the
//! invariant checker has.

use super::{ProcessId, System};
pub use crate::address_space::access::FastAccess;

impl System {
    /// Reads `buf.len()` bytes at `addr` for process `pid` through the TLB, else one walk of
    /// the page tables (which fills the TLB).
    #[inline(always)]
    #[must_use]
    pub fn read_fast(&mut self, pid: ProcessId, addr: u64, buf: &mut [u8]) -> FastAccess {
        if self.machine.wants_balance {
            return FastAccess::Missed;
        }
        match self.slot(pid).and_then(|s| self.processes[s].space.as_mut()) {
            Some(space) => space.read_fast(&mut self.machine.phys, addr, buf),
            None => FastAccess::Missed,
        }
    }

    /// Writes `data` at `addr` for process `pid` through the TLB (a page cached as writable
    /// and dirty), else one walk (which sets the dirty bit and fills the TLB).
    #[inline(always)]
    #[must_use]
    pub fn write_fast(&mut self, pid: ProcessId, addr: u64, data: &[u8]) -> FastAccess {
        if self.machine.wants_balance {
            return FastAccess::Missed;
        }
        match self.slot(pid).and_then(|s| self.processes[s].space.as_mut()) {
            Some(space) => space.write_fast(&mut self.machine.phys, addr, data),
            None => FastAccess::Missed,
        }
    }
}
