//! The program's own accesses — reads, writes, instruction fetches — and
//! `MmGetPhysicalAddress`. The hot path of `read`/`write` is the core's fast path
//! (`System::read_fast`, `System::write_fast`): a TLB hit, else one walk of the page tables,
//! tried before anything else.

use super::Kernel32;
use crate::Exception;
use ntmem::system::FastAccess;

#[allow(non_snake_case)]
impl Kernel32<'_> {
    /// The program reads `buf.len()` bytes at `addr`.
    #[inline(always)]
    pub fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Exception> {
        match self.sys.read_fast(self.pid, addr, buf) {
            // A TLB hit changes nothing: no Vm to build, no invariant to check afterwards.
            FastAccess::Hit => Ok(()),
            // A walk changes accessed bits and the TLB, no frame: nothing to balance.
            FastAccess::Walked => self.finish(Ok(())),
            FastAccess::Missed => self.read_full(addr, buf),
        }
    }

    /// The program writes `data` at `addr`.
    #[inline(always)]
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Exception> {
        match self.sys.write_fast(self.pid, addr, data) {
            FastAccess::Hit => Ok(()),
            FastAccess::Walked => self.finish(Ok(())),
            FastAccess::Missed => self.write_full(addr, data),
        }
    }

    /// A read that needs the full path: faults, balancing. Cold, so that the compiler lays
    /// the fast path out as the straight one.
    #[cold]
    #[inline(never)]
    fn read_full(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Exception> {
        let r = match self.sys.vm(self.pid) {
            Ok(mut vm) => vm.read(addr, buf).map_err(Exception::from),
            Err(_) => Err(Exception::from(terminated(addr, ntmem::AccessKind::Read))),
        };
        self.finish(r)
    }

    /// A write that needs the full path: faults, balancing (cold, as `read_full`).
    #[cold]
    #[inline(never)]
    fn write_full(&mut self, addr: u64, data: &[u8]) -> Result<(), Exception> {
        let r = match self.sys.vm(self.pid) {
            Ok(mut vm) => vm.write(addr, data).map_err(Exception::from),
            Err(_) => Err(Exception::from(terminated(addr, ntmem::AccessKind::Write))),
        };
        self.finish(r)
    }

    /// The program fetches the instruction byte at `addr` (DEP on: no-execute pages fault).
    pub fn execute(&mut self, addr: u64) -> Result<(), Exception> {
        let r = match self.sys.vm(self.pid) {
            Ok(mut vm) => vm.execute(addr).map(|_| ()).map_err(Exception::from),
            Err(_) => Err(Exception::from(terminated(addr, ntmem::AccessKind::Execute))),
        };
        self.finish(r)
    }

    /// The physical address `addr` maps to if its page is resident, else 0. Never faults.
    pub fn MmGetPhysicalAddress(&mut self, addr: u64) -> u64 {
        self.sys.vm(self.pid).ok().and_then(|vm| vm.physical_address(addr)).map_or(0, |pa| pa.as_u64())
    }
}

/// A terminated process has no memory: every access violates.
fn terminated(address: u64, access: ntmem::AccessKind) -> ntmem::AccessFault {
    ntmem::AccessFault { kind: ntmem::address_space::access::FaultKind::AccessViolation, access, address }
}
