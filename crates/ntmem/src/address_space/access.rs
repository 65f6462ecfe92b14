//! The program's own accesses: reads, writes and instruction fetches through the MMU.
//!
//! The hot path is a TLB hit: one index, one compare, one copy; no allocation, no map, no lock.
//! Anything else walks the tables and, on a page fault, asks `fault.rs` to resolve it. An
//! access crossing a page boundary is an access to each page; a write is checked on every page
//! before any byte is written, so a failed access changes nothing.

use super::AddressSpace;
use crate::machine::Machine;
use crate::paging::tlb::{EXEC, READ, WRITE};
use crate::paging::{AccessKind, Translation};
use crate::units::{Vpn, MAX_USER_ADDRESS, PAGE_BYTES, PAGE_SHIFT, PAGE_SIZE};

/// Why an access did not complete.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FaultKind {
    /// The page may not be accessed this way (F91–F95).
    AccessViolation,
    /// A guard page fired; the guard is gone, a retry proceeds (F96).
    GuardPage,
    /// The page could not be read from its page file; it stays there, a retry may succeed.
    InPageError,
    /// No frame could be had; `Vm` balances memory and retries, so this reaches a caller only
    /// when nothing can be trimmed or written.
    OutOfFrames,
}

/// An access the memory manager could not complete: what, how, and the first byte it could
/// not touch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AccessFault {
    /// Access violation or guard page.
    pub kind: FaultKind,
    /// Read, write or execute.
    pub access: AccessKind,
    /// The first byte that faulted.
    pub address: u64,
}

const OFFSET_MASK: u64 = PAGE_SIZE - 1;

impl AddressSpace {
    /// Reads `buf.len()` bytes at `addr`.
    #[inline]
    pub fn read(&mut self, m: &mut Machine, addr: u64, buf: &mut [u8]) -> Result<(), AccessFault> {
        // Both values are below 4096 here and in the slow path's pieces.
        #[allow(clippy::cast_possible_truncation)]
        let off = (addr & OFFSET_MASK) as usize;
        if off + buf.len() <= PAGE_BYTES {
            if let Some(frame) = self.tlb.lookup(addr >> PAGE_SHIFT, READ) {
                buf.copy_from_slice(m.phys.store().slice(frame as usize, off, buf.len()));
                return Ok(());
            }
        }
        self.read_slow(m, addr, buf)
    }

    /// Writes `data` at `addr`.
    #[inline]
    pub fn write(&mut self, m: &mut Machine, addr: u64, data: &[u8]) -> Result<(), AccessFault> {
        #[allow(clippy::cast_possible_truncation)]
        let off = (addr & OFFSET_MASK) as usize;
        if off + data.len() <= PAGE_BYTES {
            if let Some(frame) = self.tlb.lookup(addr >> PAGE_SHIFT, WRITE) {
                m.phys.store_mut().slice_mut(frame as usize, off, data.len()).copy_from_slice(data);
                return Ok(());
            }
        }
        self.write_slow(m, addr, data)
    }

    /// Fetches the instruction byte at `addr`.
    pub fn execute(&mut self, m: &mut Machine, addr: u64) -> Result<u8, AccessFault> {
        let frame = self.resolve(m, addr, AccessKind::Execute)?;
        #[allow(clippy::cast_possible_truncation)]
        let off = (addr & OFFSET_MASK) as usize;
        Ok(m.phys.store().slice(frame as usize, off, 1)[0])
    }

    #[inline(never)]
    fn read_slow(&mut self, m: &mut Machine, addr: u64, buf: &mut [u8]) -> Result<(), AccessFault> {
        let mut done = 0;
        while done < buf.len() {
            let at = piece_start(addr, done, AccessKind::Read)?;
            #[allow(clippy::cast_possible_truncation)]
            let off = (at & OFFSET_MASK) as usize;
            let n = (PAGE_BYTES - off).min(buf.len() - done);
            let frame = self.resolve(m, at, AccessKind::Read)?;
            buf[done..done + n].copy_from_slice(m.phys.store().slice(frame as usize, off, n));
            done += n;
        }
        Ok(())
    }

    #[inline(never)]
    fn write_slow(&mut self, m: &mut Machine, addr: u64, data: &[u8]) -> Result<(), AccessFault> {
        // First make every page writable, then copy: nothing is written unless all of it can be.
        let mut done = 0;
        while done < data.len() {
            let at = piece_start(addr, done, AccessKind::Write)?;
            self.resolve(m, at, AccessKind::Write)?;
            #[allow(clippy::cast_possible_truncation)]
            let off = (at & OFFSET_MASK) as usize;
            done += PAGE_BYTES - off;
        }
        let mut done = 0;
        while done < data.len() {
            let at = piece_start(addr, done, AccessKind::Write)?;
            #[allow(clippy::cast_possible_truncation)]
            let off = (at & OFFSET_MASK) as usize;
            let n = (PAGE_BYTES - off).min(data.len() - done);
            let frame = self.resolve(m, at, AccessKind::Write)?;
            m.phys.store_mut().slice_mut(frame as usize, off, n).copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// The frame behind `addr` for `access`, resolving page faults on the way. Fills the TLB.
    pub(crate) fn resolve(&mut self, m: &mut Machine, addr: u64, access: AccessKind) -> Result<u32, AccessFault> {
        let need = match access {
            AccessKind::Read => READ,
            AccessKind::Write => WRITE,
            AccessKind::Execute => EXEC,
        };
        let vpn = addr >> PAGE_SHIFT;
        // A resolved fault makes the next walk succeed; the bound only guards against a bug.
        for _ in 0..4 {
            if let Some(frame) = self.tlb.lookup(vpn, need) {
                return Ok(frame);
            }
            if addr > MAX_USER_ADDRESS {
                return Err(self.violation(addr, access));
            }
            match self.tables.translate(&mut m.phys, Vpn(vpn), access) {
                Translation::Mapped { pfn, write_ready, executable } => {
                    let perms = READ | if write_ready { WRITE } else { 0 } | if executable { EXEC } else { 0 };
                    self.tlb.fill(Vpn(vpn), pfn, perms);
                }
                Translation::Fault(pte) => {
                    self.resolve_fault(m, Vpn(vpn), access, pte, addr)?;
                    self.enforce_hard_maximum(m, Vpn(vpn));
                }
            }
        }
        Err(self.violation(addr, access))
    }
}

/// The address of the piece of an access that starts `done` bytes in.
fn piece_start(addr: u64, done: usize, access: AccessKind) -> Result<u64, AccessFault> {
    addr.checked_add(done as u64).ok_or(AccessFault { kind: FaultKind::AccessViolation, access, address: u64::MAX })
}
