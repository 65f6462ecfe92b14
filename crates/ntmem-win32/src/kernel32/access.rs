//! The program's own accesses — reads, writes, instruction fetches — and
//! `MmGetPhysicalAddress`. The hot path of `read`/`write` is the core's [`ntmem::system::Memory`]
//! handle: a TLB hit is a compare and a copy, tried before anything else; everything else (a
//! walk, a fault, a crossing, an empty access, a pending balance) takes the full path, after
//! which the invariants are checked (in tests).

use super::Kernel32;
use crate::Exception;

#[allow(non_snake_case)]
impl Kernel32<'_> {
    /// The program reads `buf.len()` bytes at `addr`. An empty read touches nothing and
    /// succeeds, wherever `addr` is.
    #[inline(always)]
    pub fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Exception> {
        // A TLB hit changes nothing: no Vm to build, no invariant to check afterwards.
        if let Ok(mut memory) = self.sys.memory(self.pid) {
            if memory.read_cached(addr, buf) {
                return Ok(());
            }
        }
        self.read_full(addr, buf)
    }

    /// The program writes `data` at `addr`. An empty write touches nothing and succeeds,
    /// wherever `addr` is.
    #[inline(always)]
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Exception> {
        if let Ok(mut memory) = self.sys.memory(self.pid) {
            if memory.write_cached(addr, data) {
                return Ok(());
            }
        }
        self.write_full(addr, data)
    }

    /// A read that needs the full path: walks, faults, balancing. Cold, so that the compiler
    /// lays the hit out as the straight path.
    #[cold]
    #[inline(never)]
    fn read_full(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Exception> {
        let r = match self.sys.memory(self.pid) {
            Ok(mut memory) => memory.read_full(addr, buf).map_err(Exception::from),
            Err(_) => Err(Exception::from(terminated(addr, ntmem::AccessKind::Read))),
        };
        self.finish(r)
    }

    /// A write that needs the full path (cold, as `read_full`).
    #[cold]
    #[inline(never)]
    fn write_full(&mut self, addr: u64, data: &[u8]) -> Result<(), Exception> {
        let r = match self.sys.memory(self.pid) {
            Ok(mut memory) => memory.write_full(addr, data).map_err(Exception::from),
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
