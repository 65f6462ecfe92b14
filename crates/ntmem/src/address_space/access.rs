//! The program's own accesses: reads, writes and instruction fetches through the MMU.
//!
//! The hot path is a TLB hit: one index, one compare, one copy; no allocation, no map, no lock
//! (`system::Memory` makes it without even finding the process). A miss inside one page walks
//! the tables (one PTE read when the paging-structure cache knows the page table) on the same
//! fast path (`read_fast`, `write_fast`); anything else takes the full path, which on a page
//! fault asks `fault.rs` to resolve it. An empty access touches nothing, wherever it is: no
//! walk, no accessed or dirty bit, no fault (a `memcpy` of 0 bytes touches no memory). An
//! access crossing a page boundary is an access to each page; a write is checked on every page
//! before any byte is written, so a failed access changes nothing.

use super::AddressSpace;
use crate::arch::x86_64::{self as hw, entry_frame};
use crate::machine::Machine;
use crate::paging::tlb::{EXEC, READ, WRITE};
use crate::paging::{AccessKind, Translation};
use crate::phys::PhysicalMemory;
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

/// How far the fast path (`AddressSpace::read_fast`, `AddressSpace::write_fast`) took an
/// access.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FastAccess {
    /// The TLB had the page: done, nothing changed but the bytes written.
    Hit,
    /// One walk of the page tables found the page: done; the PTE's accessed (and dirty) bit
    /// and the TLB changed, and perhaps the paging-structure cache.
    Walked,
    /// Neither: the access needs the full path (faults, crossings); nothing changed that the
    /// full path would not change the same way.
    Missed,
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
        match self.read_fast(&mut m.phys, addr, buf) {
            FastAccess::Hit | FastAccess::Walked => Ok(()),
            FastAccess::Missed => self.read_slow(m, addr, buf),
        }
    }

    /// Writes `data` at `addr`.
    #[inline]
    pub fn write(&mut self, m: &mut Machine, addr: u64, data: &[u8]) -> Result<(), AccessFault> {
        match self.write_fast(&mut m.phys, addr, data) {
            FastAccess::Hit | FastAccess::Walked => Ok(()),
            FastAccess::Missed => self.write_slow(m, addr, data),
        }
    }

    /// The read as the TLB, else one walk of the page tables, completes it: the bytes are in
    /// `buf` unless the result is [`FastAccess::Missed`] (a page fault, a page crossing, an
    /// address beyond user space), which has changed only what the full path's own walk
    /// changes too. A hit changes nothing (the walk that filled the entry set the accessed
    /// bit); a walk sets the PTE's accessed bit and fills the TLB, as [`Self::resolve`] does.
    ///
    /// The hit and the walk end in the same copy, so the hit is the straight path.
    #[inline(always)]
    pub(crate) fn read_fast(&mut self, phys: &mut PhysicalMemory, addr: u64, buf: &mut [u8]) -> FastAccess {
        // Below 4096.
        #[allow(clippy::cast_possible_truncation)]
        let off = (addr & OFFSET_MASK) as usize;
        // An empty access touches nothing: the slow path's loop does nothing for it. One
        // compare for both: `len - 1` wraps to usize::MAX for an empty access.
        if buf.len().wrapping_sub(1) >= PAGE_BYTES - off {
            return FastAccess::Missed;
        }
        let Some(frame) = self.tlb.lookup(addr >> PAGE_SHIFT, READ) else {
            return if self.read_walked(phys, addr, buf) { FastAccess::Walked } else { FastAccess::Missed };
        };
        phys.store().read_into(frame, off, buf);
        FastAccess::Hit
    }

    /// The read as one walk of the page tables completes it, for a read the TLB just missed:
    /// [`Self::read_fast`] without its TLB look-up.
    #[inline(always)]
    fn read_walked(&mut self, phys: &mut PhysicalMemory, addr: u64, buf: &mut [u8]) -> bool {
        // Below 4096.
        #[allow(clippy::cast_possible_truncation)]
        let off = (addr & OFFSET_MASK) as usize;
        if buf.len().wrapping_sub(1) >= PAGE_BYTES - off {
            return false;
        }
        match self.walk_one(phys, addr, AccessKind::Read) {
            Some(frame) => {
                phys.store().read_into(frame, off, buf);
                true
            }
            None => false,
        }
    }

    /// The read as one PTE read completes it, for a read the TLB just missed
    /// (`system::Memory` has looked) of a page whose page table the paging-structure cache
    /// knows and whose PTE is present and accessed already: true when the bytes are in `buf`
    /// and the TLB filled; false, having changed nothing, when the read needs the full path.
    /// No call, no walk from the root, no branch after the PTE's check: so short that the
    /// processor overlaps the memory waits of successive misses.
    #[inline(always)]
    pub(crate) fn read_through_cached_table(&mut self, phys: &PhysicalMemory, addr: u64, buf: &mut [u8]) -> bool {
        // Below 4096.
        #[allow(clippy::cast_possible_truncation)]
        let off = (addr & OFFSET_MASK) as usize;
        if buf.len().wrapping_sub(1) >= PAGE_BYTES - off {
            return false;
        }
        match self.ready_leaf(phys, addr, hw::P | hw::A) {
            Some((vpn, pte)) => {
                // The bytes before the fill: the fill's stores cannot alias RAM, but the
                // compiler, not knowing that, would load the frame store's address again.
                phys.store().read_into(entry_frame(pte).0, off, buf);
                self.tlb.fill_for_data(vpn, pte);
                true
            }
            None => false,
        }
    }

    /// The write as the TLB, else one walk, completes it (see [`Self::read_fast`]). A TLB
    /// entry takes writes only once the PTE is dirty; a walk sets the accessed and dirty bits.
    #[inline(always)]
    pub(crate) fn write_fast(&mut self, phys: &mut PhysicalMemory, addr: u64, data: &[u8]) -> FastAccess {
        #[allow(clippy::cast_possible_truncation)]
        let off = (addr & OFFSET_MASK) as usize;
        // An empty write touches nothing (see `read_fast`).
        if data.len().wrapping_sub(1) >= PAGE_BYTES - off {
            return FastAccess::Missed;
        }
        let Some(frame) = self.tlb.lookup(addr >> PAGE_SHIFT, WRITE) else {
            return if self.write_walked(phys, addr, data) { FastAccess::Walked } else { FastAccess::Missed };
        };
        phys.store_mut().write_from(frame, off, data);
        FastAccess::Hit
    }

    /// The write as one walk completes it, for a write the TLB just missed (see
    /// [`Self::read_walked`]).
    #[inline(always)]
    fn write_walked(&mut self, phys: &mut PhysicalMemory, addr: u64, data: &[u8]) -> bool {
        #[allow(clippy::cast_possible_truncation)]
        let off = (addr & OFFSET_MASK) as usize;
        if data.len().wrapping_sub(1) >= PAGE_BYTES - off {
            return false;
        }
        match self.walk_one(phys, addr, AccessKind::Write) {
            Some(frame) => {
                phys.store_mut().write_from(frame, off, data);
                true
            }
            None => false,
        }
    }

    /// The write as one PTE read completes it, when the PTE is writable, accessed and dirty
    /// already (see [`Self::read_through_cached_table`]).
    #[inline(always)]
    pub(crate) fn write_through_cached_table(&mut self, phys: &mut PhysicalMemory, addr: u64, data: &[u8]) -> bool {
        #[allow(clippy::cast_possible_truncation)]
        let off = (addr & OFFSET_MASK) as usize;
        if data.len().wrapping_sub(1) >= PAGE_BYTES - off {
            return false;
        }
        match self.ready_leaf(phys, addr, hw::P | hw::A | hw::RW | hw::D) {
            Some((vpn, pte)) => {
                phys.store_mut().write_from(entry_frame(pte).0, off, data);
                self.tlb.fill_for_data(vpn, pte);
                true
            }
            None => false,
        }
    }

    /// Fetches the instruction byte at `addr`.
    pub fn execute(&mut self, m: &mut Machine, addr: u64) -> Result<u8, AccessFault> {
        let frame = self.resolve(m, addr, AccessKind::Execute)?;
        #[allow(clippy::cast_possible_truncation)]
        let off = (addr & OFFSET_MASK) as usize;
        Ok(m.phys.store().slice(frame as usize, off, 1)[0])
    }

    /// Translates `addr` (a page of which the access does not leave) for `access`, filling
    /// the TLB: the frame; `None` for a page fault or a non-user address.
    #[inline(always)]
    fn walk_one(&mut self, phys: &mut PhysicalMemory, addr: u64, access: AccessKind) -> Option<u32> {
        if addr > MAX_USER_ADDRESS {
            return None;
        }
        let vpn = Vpn(addr >> PAGE_SHIFT);
        match self.tables.translate(phys, vpn, access) {
            Translation::Mapped { pfn, write_ready, executable } => {
                self.tlb.fill(vpn, pfn, perms(write_ready, executable));
                Some(pfn.0)
            }
            Translation::Fault(_) => None,
        }
    }

    /// The PTE of `addr`'s page for the shortest path of a TLB miss, with the page: when the
    /// paging-structure cache knows the page table and the PTE has every bit of `ready` set,
    /// so that a walk would change nothing ([`crate::paging::PageTables::ready_leaf`]); `None`,
    /// having changed nothing, otherwise. No host TLB needs telling of the fill: an address
    /// space with one (the native engine's, whose program reaches its pages through the
    /// host's MMU) caches no page tables (`Vm::set_host_tlb`). No range check either: the
    /// cache knows no table of a page beyond user space (`paging::table_cache`).
    #[inline(always)]
    fn ready_leaf(&self, phys: &PhysicalMemory, addr: u64, ready: u64) -> Option<(Vpn, u64)> {
        self.tables.ready_leaf(phys, addr, ready).map(|pte| (Vpn(addr >> PAGE_SHIFT), pte))
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
            m.phys.store().read_into(frame, off, &mut buf[done..done + n]);
            done += n;
        }
        Ok(())
    }

    #[inline(never)]
    fn write_slow(&mut self, m: &mut Machine, addr: u64, data: &[u8]) -> Result<(), AccessFault> {
        // First make sure every page can be written — bringing each in as a read would, and
        // reading its protection — and only then make them writable (copy-on-write copies
        // included) and copy: nothing changes that the program could see unless all of it
        // can be written.
        if data.len() > PAGE_BYTES - (addr & OFFSET_MASK) as usize {
            let mut done = 0;
            while done < data.len() {
                let at = piece_start(addr, done, AccessKind::Write)?;
                self.probe_write(m, at)?;
                #[allow(clippy::cast_possible_truncation)]
                let off = (at & OFFSET_MASK) as usize;
                done += PAGE_BYTES - off;
            }
        }
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
            m.phys.store_mut().write_from(frame, off, &data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Checks, with no change a program could see, that the page of `addr` can be written,
    /// from its protection: a page a write would copy (copy-on-write) passes, without its copy
    /// being made yet. A page whose protection forbids the write is an access violation, its
    /// guard left armed (F93); a writable guard page fires its guard here, before any other
    /// page of the write changed.
    fn probe_write(&mut self, m: &mut Machine, addr: u64) -> Result<(), AccessFault> {
        if addr > MAX_USER_ADDRESS {
            return Err(self.violation(addr, AccessKind::Write));
        }
        let vpn = Vpn(addr >> PAGE_SHIFT);
        let pte = self.tables.pte(&m.phys, vpn);
        let state =
            if self.view_at(vpn).is_some() { self.view_page_state(m, vpn, pte) } else { super::PageState::of(pte) };
        match state {
            super::PageState::Committed(p) if p.can_write() || p.is_copy_on_write() => {
                if p.is_guard() {
                    self.resolve(m, addr, AccessKind::Read)
                        .map_err(|f| AccessFault { access: AccessKind::Write, ..f })?;
                }
                Ok(())
            }
            _ => Err(self.violation(addr, AccessKind::Write)),
        }
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
                    self.tlb.fill(Vpn(vpn), pfn, perms(write_ready, executable));
                }
                Translation::Fault(pte) => {
                    m.phys.note_fault(addr, access, pte);
                    self.resolve_fault(m, Vpn(vpn), access, pte, addr)?;
                    self.enforce_hard_maximum(m, Vpn(vpn));
                }
            }
        }
        Err(self.violation(addr, access))
    }
}

/// The TLB permission bits of a translation (reads are always allowed).
#[inline(always)]
fn perms(write_ready: bool, executable: bool) -> u8 {
    READ | if write_ready { WRITE } else { 0 } | if executable { EXEC } else { 0 }
}

/// The address of the piece of an access that starts `done` bytes in.
fn piece_start(addr: u64, done: usize, access: AccessKind) -> Result<u64, AccessFault> {
    addr.checked_add(done as u64).ok_or(AccessFault { kind: FaultKind::AccessViolation, access, address: u64::MAX })
}
