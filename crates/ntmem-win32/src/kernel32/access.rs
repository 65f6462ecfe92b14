//! The program's own accesses — reads, writes, instruction fetches — and
//! `MmGetPhysicalAddress`. The hot path of `read`/`write` is the core's TLB hit.

use super::Kernel32;
use crate::Exception;

#[allow(non_snake_case)]
impl Kernel32<'_> {
    /// The program reads `buf.len()` bytes at `addr`.
    #[inline]
    pub fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Exception> {
        let r = match self.sys.vm(self.pid) {
            Ok(mut vm) => vm.read(addr, buf).map_err(Exception::from),
            Err(_) => Err(Exception::from(terminated(addr, ntmem::AccessKind::Read))),
        };
        if self.sys.config().invariant_checks() {
            crate::check_invariants(self.sys);
        }
        r
    }

    /// The program writes `data` at `addr`.
    #[inline]
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Exception> {
        let r = match self.sys.vm(self.pid) {
            Ok(mut vm) => vm.write(addr, data).map_err(Exception::from),
            Err(_) => Err(Exception::from(terminated(addr, ntmem::AccessKind::Write))),
        };
        if self.sys.config().invariant_checks() {
            crate::check_invariants(self.sys);
        }
        r
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
