//! [`Memory`]: one process's memory as its program reads and writes it, a handle obtained once
//! ([`System::memory`]) and used for many accesses.
//!
//! The hot path of docs/design.md ("a handful of instructions: no allocation, no map look-up, no
//! locking") is [`Memory::read`] and [`Memory::write`] on a TLB hit: one compare of the access
//! against the page (not empty, not crossing), the TLB tag compare, and the copy. The handle has
//! found the process once (its address space and the machine are borrowed directly), so an
//! access neither looks it up by id nor checks that it runs. A TLB miss whose PTE needs no
//! change takes the shortest walk (one PTE read through the paging-structure cache, inline
//! for an 8-byte access). Anything else — a walk that sets a bit, a page fault, a page
//! crossing, an empty access — takes the full path out of line, with every semantic of
//! [`super::Vm::read`] and [`super::Vm::write`], which it is: the handle holds the process's
//! [`super::Vm`], whose address space and machine are borrowed directly.
//!
//! Balancing: a frame allocation that leaves memory low raises a flag, and the access or call
//! that raised it balances before it returns. A flag the last call left raised is settled when
//! the handle is made (the balance it owed runs then, before any access); while the handle
//! lives only its own full path can raise the flag, and that path settles it before returning.
//! So a hit never has a balance to run, and does not check for one.
//!
//! Contract: a hit changes nothing but the bytes written (a write hits only a page whose PTE is
//! already dirty), so there is nothing for the balancer or the invariant checker to look at
//! afterwards; callers that check invariants after each call (`Kernel32` in tests) use
//! [`Memory::read_cached`] / [`Memory::write_cached`] to learn whether the access was a hit.

use super::{ProcessId, System, SystemError, Vm};
use crate::address_space::AccessFault;
use crate::balancer;
use crate::machine::Machine;
use crate::paging::tlb::{READ, WRITE};

/// One running process's memory, borrowed from the [`System`] for a run of accesses: its
/// [`Vm`], found once when the handle is made, which holds its address space and the machine
/// directly (and the other processes beside them for the balancer).
pub struct Memory<'a> {
    vm: Vm<'a>,
}

impl System {
    /// The memory of process `pid`, for accesses by its program: [`Memory::read`] and
    /// [`Memory::write`].
    #[inline]
    pub fn memory(&mut self, pid: ProcessId) -> Result<Memory<'_>, SystemError> {
        let slot = self.slot(pid).ok_or(SystemError::NoSuchProcess)?;
        if self.machine.wants_balance && self.processes[slot].space.is_some() {
            self.settle_pending_balance();
        }
        Vm::new(&mut self.machine, &mut self.processes, &self.running, slot, self.config.lock_memory_privilege)
            .map(|vm| Memory { vm })
            .ok_or(SystemError::ProcessTerminated)
    }

    /// Runs the balance the last call left pending, as the full path of an access does after
    /// it: the flag lowered, the balancer run if memory is low or the modified list long.
    #[cold]
    #[inline(never)]
    fn settle_pending_balance(&mut self) {
        self.machine.wants_balance = false;
        if balancer::wanted(&self.machine) {
            self.balance(0);
        }
    }
}

impl Memory<'_> {
    /// The program reads `buf.len()` bytes at `addr`: the TLB hit inline, anything else the
    /// full path ([`Vm::read`]). An empty read touches nothing and succeeds, wherever `addr` is.
    /// A read that faults leaves an 8-byte `buf` as it was; a longer one that crosses into a
    /// page it cannot read may have filled the part before that page.
    #[inline(always)]
    pub fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), AccessFault> {
        if self.read_cached(addr, buf) {
            return Ok(());
        }
        self.read_full(addr, buf)
    }

    /// The program writes `data` at `addr`: the TLB hit inline (a page cached as writable and
    /// dirty), anything else the full path ([`Vm::write`]). An empty write touches nothing and
    /// succeeds, wherever `addr` is.
    #[inline(always)]
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), AccessFault> {
        if self.write_cached(addr, data) {
            return Ok(());
        }
        self.write_full(addr, data)
    }

    /// The read as a TLB hit alone completes it: true when done, having changed nothing;
    /// false when it needs the full path ([`Self::read_full`]), having touched nothing.
    #[inline(always)]
    #[must_use]
    pub fn read_cached(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        let (space, machine) = self.vm.hot_parts();
        debug_assert!(!machine.wants_balance, "a balance pending while a Memory handle lives");
        match space.tlb.hit(addr, buf.len(), READ) {
            Some((frame, off)) => {
                machine.phys.store().read_into(frame, off, buf);
                true
            }
            None => false,
        }
    }

    /// The write as a TLB hit alone completes it (see [`Self::read_cached`]).
    #[inline(always)]
    #[must_use]
    pub fn write_cached(&mut self, addr: u64, data: &[u8]) -> bool {
        let (space, machine) = self.vm.hot_parts();
        debug_assert!(!machine.wants_balance, "a balance pending while a Memory handle lives");
        match space.tlb.hit(addr, data.len(), WRITE) {
            Some((frame, off)) => {
                machine.phys.store_mut().write_from(frame, off, data);
                true
            }
            None => false,
        }
    }

    /// The read by the full path: a walk, faults, crossings, and the balancer when it found
    /// no frame or left memory low ([`Vm::read`]). A walk through the paging-structure cache
    /// comes first and alone ([`Self::read_walked_word`], [`Self::read_walked_any`]), so that
    /// a TLB miss on a mapped page costs a few dozen instructions: a run of independent misses
    /// is bound by how many of them fit in the processor's out-of-order window, so every
    /// instruction saved lets it overlap more of their memory waits. An 8-byte read, the
    /// program's usual load, has a walk of its own inline, with no call: its length is a
    /// constant, so its checks fold with the TLB look-up's and its copy is one move.
    ///
    /// The 8-byte read's rest of the full path fills a buffer of its own and returns it, so
    /// that the caller's buffer is never handed to a call: the compiler keeps it in a register,
    /// not in memory (no store and reload of it on a TLB miss; 69.1 -> 67.9 instructions a
    /// miss under callgrind, `tlb_hit_count N miss 64`). A read that faults leaves an 8-byte
    /// `buf` as it was, as a faulting load leaves its register.
    #[inline(always)]
    pub fn read_full(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), AccessFault> {
        if let Ok(word) = <&mut [u8; 8]>::try_from(&mut *buf) {
            if !self.read_walked_word(addr, word) {
                *word = self.read_faulting_word(addr)?;
            }
            return Ok(());
        }
        if self.read_walked_any(addr, buf) {
            return Ok(());
        }
        self.read_faulting(addr, buf)
    }

    /// The write by the full path ([`Vm::write`]), the walk first (see [`Self::read_full`]).
    #[inline(always)]
    pub fn write_full(&mut self, addr: u64, data: &[u8]) -> Result<(), AccessFault> {
        let walked = match <&[u8; 8]>::try_from(data) {
            Ok(word) => self.write_walked_word(addr, word),
            Err(_) => self.write_walked_any(addr, data),
        };
        if walked {
            return Ok(());
        }
        self.write_faulting(addr, data)
    }

    /// The read of 8 bytes as one PTE read, through the paging-structure cache, completes
    /// it: true when the bytes are in `word`; false, having changed nothing, when it needs the
    /// full path. Inline, about 55 instructions: a call would cost a dozen more per miss
    /// (`ntmem bench`'s `tlb_miss_read`).
    #[inline(always)]
    fn read_walked_word(&mut self, addr: u64, word: &mut [u8; 8]) -> bool {
        let (space, machine) = self.vm.hot_parts();
        space.read_through_cached_table(&machine.phys, addr, word)
    }

    /// [`Self::read_walked_word`] for a read of any length.
    #[cold]
    #[inline(never)]
    fn read_walked_any(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        let (space, machine) = self.vm.hot_parts();
        space.read_through_cached_table(&machine.phys, addr, buf)
    }

    /// The write of 8 bytes as one PTE read completes it (see [`Self::read_walked_word`]).
    #[inline(always)]
    fn write_walked_word(&mut self, addr: u64, word: &[u8; 8]) -> bool {
        let (space, machine) = self.vm.hot_parts();
        space.write_through_cached_table(&mut machine.phys, addr, word)
    }

    /// [`Self::write_walked_word`] for a write of any length.
    #[cold]
    #[inline(never)]
    fn write_walked_any(&mut self, addr: u64, data: &[u8]) -> bool {
        let (space, machine) = self.vm.hot_parts();
        space.write_through_cached_table(&mut machine.phys, addr, data)
    }

    /// The rest of the full path of a read: faults, crossings, the balancer.
    #[cold]
    #[inline(never)]
    fn read_faulting(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), AccessFault> {
        self.vm.read(addr, buf)
    }

    /// The rest of the full path of an 8-byte read (see [`Self::read_full`]).
    #[cold]
    #[inline(never)]
    fn read_faulting_word(&mut self, addr: u64) -> Result<[u8; 8], AccessFault> {
        let mut word = [0u8; 8];
        self.vm.read(addr, &mut word)?;
        Ok(word)
    }

    /// The rest of the full path of a write.
    #[cold]
    #[inline(never)]
    fn write_faulting(&mut self, addr: u64, data: &[u8]) -> Result<(), AccessFault> {
        self.vm.write(addr, data)
    }

    /// The system's machine: RAM, commit and page files, between accesses.
    #[must_use]
    pub fn machine(&self) -> &Machine {
        self.vm.machine_ref()
    }

    /// Tells the eviction policy of a reference ([`Vm::note_reference`]).
    #[inline]
    pub fn note_reference(&mut self, addr: u64, next_use: u64) {
        self.vm.note_reference(addr, next_use);
    }

    /// The program fetches the instruction byte at `addr` ([`Vm::execute`]).
    pub fn execute(&mut self, addr: u64) -> Result<u8, AccessFault> {
        self.vm.execute(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address_space::access::FaultKind;
    use crate::address_space::ReserveOptions;
    use crate::paging::{AccessKind, Protection, Pte, ValidPte};
    use crate::system::Config;
    use crate::units::{Vpn, PAGE_SHIFT};

    fn system() -> (System, ProcessId, u64) {
        let mut sys = System::new(Config::default().with_ram_bytes(16 << 20)).expect("a small machine");
        let pid = sys.create_process("p").expect("a process");
        let mut vm = sys.vm(pid).expect("running");
        let range = vm.reserve(None, 0x10000, &ReserveOptions::new(Protection::READ_WRITE)).expect("reserve");
        let base = range.start_addr();
        vm.commit(base, 0x2000, Protection::READ_WRITE).expect("commit");
        (sys, pid, base)
    }

    #[test]
    fn reads_and_writes_through_the_handle_as_through_the_vm() {
        let (mut sys, pid, base) = system();
        let mut memory = sys.memory(pid).expect("running");
        memory.write(base + 0xFFE, &[1, 2, 3, 4]).expect("a write across two committed pages");
        let mut b = [0u8; 4];
        assert!(memory.read_cached(base + 0xFFC, &mut b), "the write's walk cached page 0");
        assert_eq!(b, [0, 0, 1, 2]);
        memory.read(base + 0xFFE, &mut b).expect("a read across the pages");
        assert_eq!(b, [1, 2, 3, 4]);
        let fault = memory.read(base + 0x2000, &mut b).expect_err("reserved");
        assert_eq!(
            (fault.kind, fault.access, fault.address),
            (FaultKind::AccessViolation, AccessKind::Read, base + 0x2000)
        );
        assert!(!memory.write_cached(base + 0x2000, &[1]), "no hit on a reserved page");
        let mut vm = sys.vm(pid).expect("running");
        let mut again = [0u8; 4];
        vm.read(base + 0xFFE, &mut again).expect("read");
        assert_eq!(again, [1, 2, 3, 4]);
    }

    /// The PTE of `addr` in `pid`'s page tables, resident.
    fn valid_pte(sys: &System, pid: ProcessId, addr: u64) -> ValidPte {
        let space = sys.processes[sys.slot(pid).expect("a process")].space.as_ref().expect("running");
        match space.pte(&sys.machine.phys, Vpn(addr >> PAGE_SHIFT)) {
            Pte::Valid(v) => v,
            other => panic!("{addr:#x} is not resident: {other:?}"),
        }
    }

    #[test]
    fn an_eight_byte_read_that_faults_leaves_the_buffer_as_it_was() {
        let (mut sys, pid, base) = system();
        let mut memory = sys.memory(pid).expect("running");
        memory.write(base + 0x1FF8, &[5; 8]).expect("a write to a committed page");
        let mut b = [9u8; 8];
        // Its first half on committed page 1, its second on reserved page 2: the fault comes
        // after the first half was read.
        let fault = memory.read(base + 0x1FFC, &mut b).expect_err("page 2 is reserved");
        assert_eq!(fault.address, base + 0x2000);
        assert_eq!(b, [9; 8], "a faulting load leaves its register as it was");
        memory.read(base + 0x1FF8, &mut b).expect("committed");
        assert_eq!(b, [5; 8]);
    }

    #[test]
    fn a_miss_on_a_page_aging_made_young_walks_in_full_and_sets_its_accessed_bit() {
        let (mut sys, pid, base) = system();
        sys.memory(pid).expect("running").write(base, &[7; 8]).expect("a write to a committed page");
        let slot = sys.slot(pid).expect("a process");
        let space = sys.processes[slot].space.as_mut().expect("running");
        let pages = space.ws.len();
        space.age_some(&mut sys.machine, pages);
        assert!(!valid_pte(&sys, pid, base).accessed(), "aging cleared the accessed bit");
        let mut memory = sys.memory(pid).expect("running");
        let mut word = [0u8; 8];
        assert!(!memory.read_cached(base, &mut word), "aging dropped the TLB entry");
        memory.read(base, &mut word).expect("a read of a resident page");
        assert_eq!(word, [7; 8]);
        assert!(memory.read_cached(base, &mut word), "the walk filled the TLB");
        assert!(valid_pte(&sys, pid, base).accessed(), "the read's walk set the accessed bit again");
    }

    #[test]
    fn the_first_write_to_a_clean_page_walks_in_full_and_sets_its_dirty_bit() {
        let (mut sys, pid, base) = system();
        let mut memory = sys.memory(pid).expect("running");
        let mut word = [0u8; 8];
        memory.read(base, &mut word).expect("a read of a committed page");
        assert!(!memory.write_cached(base, &[1; 8]), "a clean page's TLB entry takes no writes");
        memory.write(base, &[1; 8]).expect("a write to a committed page");
        assert!(memory.write_cached(base, &[2; 8]), "the walk filled the TLB for writes");
        let pte = valid_pte(&sys, pid, base);
        assert!(pte.accessed() && pte.dirty(), "the write's walk set the dirty bit");
    }

    #[test]
    fn no_handle_for_a_missing_or_terminated_process() {
        let (mut sys, pid, _) = system();
        assert_eq!(sys.memory(ProcessId(3)).err(), Some(SystemError::NoSuchProcess));
        sys.terminate_process(pid, 0).expect("terminate");
        assert_eq!(sys.memory(pid).err(), Some(SystemError::ProcessTerminated));
    }

    #[test]
    fn making_the_handle_settles_a_pending_balance() {
        let (mut sys, pid, _) = system();
        sys.machine.wants_balance = true;
        let memory = sys.memory(pid).expect("running");
        assert!(!memory.machine().wants_balance, "settled before any access");
    }
}
