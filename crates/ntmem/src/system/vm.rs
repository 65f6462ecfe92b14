//! [`Vm`]: the memory manager as one process sees it — its address space together with the
//! machine's RAM and commit charge, for the length of one call.

use crate::address_space::{AccessFault, AddressSpace, Region, ReserveKind, ReserveOptions, SpaceCounters, VmError};
use crate::commit_charge::CommitCharge;
use crate::paging::{Protection, Pte};
use crate::phys::PhysicalMemory;
use crate::units::{PageRange, PhysAddr, Vpn, PAGE_SHIFT, PAGE_SIZE};

/// One process's view of the memory manager.
pub struct Vm<'a> {
    space: &'a mut AddressSpace,
    phys: &'a mut PhysicalMemory,
    commit: &'a mut CommitCharge,
    lock_memory_privilege: bool,
}

/// The result of a `Vm` operation.
type VmResult<T> = Result<T, VmError>;

impl<'a> Vm<'a> {
    pub(crate) fn new(
        space: &'a mut AddressSpace,
        phys: &'a mut PhysicalMemory,
        commit: &'a mut CommitCharge,
        lock_memory_privilege: bool,
    ) -> Vm<'a> {
        Vm { space, phys, commit, lock_memory_privilege }
    }

    /// True when the process holds SeLockMemoryPrivilege (large pages).
    #[must_use]
    pub fn has_lock_memory_privilege(&self) -> bool {
        self.lock_memory_privilege
    }

    /// Reserves (and optionally commits) address space. See [`AddressSpace::reserve`].
    pub fn reserve(&mut self, at: Option<u64>, size: u64, opts: &ReserveOptions) -> VmResult<PageRange> {
        debug_assert!(opts.kind != ReserveKind::LargePages || self.lock_memory_privilege);
        self.space.reserve(self.phys, self.commit, at, size, opts)
    }

    /// Commits pages of a reservation.
    pub fn commit(&mut self, addr: u64, size: u64, protection: Protection) -> VmResult<PageRange> {
        self.space.commit(self.phys, self.commit, addr, size, protection)
    }

    /// Decommits pages.
    pub fn decommit(&mut self, addr: u64, size: u64) -> VmResult<PageRange> {
        self.space.decommit(self.phys, self.commit, addr, size)
    }

    /// Releases address space.
    pub fn release(&mut self, addr: u64, size: u64) -> VmResult<PageRange> {
        self.space.release(self.phys, self.commit, addr, size)
    }

    /// Changes protection; returns the first page's old protection.
    pub fn protect(&mut self, addr: u64, size: u64, protection: Protection) -> VmResult<(PageRange, Protection)> {
        self.space.protect(self.phys, addr, size, protection)
    }

    /// Describes the region holding `addr`.
    #[must_use]
    pub fn query(&self, addr: u64) -> Region {
        self.space.query(self.phys, addr)
    }

    /// Locks pages in the working set.
    pub fn lock(&mut self, addr: u64, size: u64) -> VmResult<PageRange> {
        self.space.lock(self.phys, addr, size)
    }

    /// Unlocks pages.
    pub fn unlock(&mut self, addr: u64, size: u64) -> VmResult<PageRange> {
        self.space.unlock(self.phys, addr, size)
    }

    /// `MEM_RESET`.
    pub fn reset(&mut self, addr: u64, size: u64) -> VmResult<PageRange> {
        self.space.reset(self.phys, addr, size)
    }

    /// `MEM_RESET_UNDO`.
    pub fn reset_undo(&mut self, addr: u64, size: u64) -> VmResult<PageRange> {
        self.space.reset_undo(self.phys, addr, size)
    }

    /// Written pages of a write-watch range.
    pub fn get_write_watch(&mut self, addr: u64, size: u64, out: &mut [u64], reset: bool) -> VmResult<usize> {
        self.space.get_write_watch(self.phys, addr, size, out, reset)
    }

    /// Forgets the writes to a write-watch range.
    pub fn reset_write_watch(&mut self, addr: u64, size: u64) -> VmResult<()> {
        self.space.reset_write_watch(self.phys, addr, size)
    }

    /// The program reads `buf.len()` bytes at `addr`.
    #[inline]
    pub fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), AccessFault> {
        self.space.read(self.phys, addr, buf)
    }

    /// The program writes `data` at `addr`.
    #[inline]
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), AccessFault> {
        self.space.write(self.phys, addr, data)
    }

    /// The program fetches the instruction byte at `addr`.
    pub fn execute(&mut self, addr: u64) -> Result<u8, AccessFault> {
        self.space.execute(self.phys, addr)
    }

    /// The physical address `addr` maps to now, if its page is resident (never faults).
    #[must_use]
    pub fn physical_address(&self, addr: u64) -> Option<PhysAddr> {
        if addr > crate::units::MAX_USER_ADDRESS {
            return None;
        }
        match self.space.pte(self.phys, Vpn(addr >> PAGE_SHIFT)) {
            Pte::Valid(v) => Some(PhysAddr(v.pfn().phys().as_u64() + (addr & (PAGE_SIZE - 1)))),
            _ => None,
        }
    }

    /// The address space's figures.
    #[must_use]
    pub fn counters(&self) -> SpaceCounters {
        self.space.counters()
    }

    /// The address space.
    #[must_use]
    pub fn space(&self) -> &AddressSpace {
        self.space
    }

    /// RAM.
    #[must_use]
    pub fn phys(&self) -> &PhysicalMemory {
        self.phys
    }
}
