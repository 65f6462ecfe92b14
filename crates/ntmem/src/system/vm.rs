//! [`Vm`]: the memory manager as one process sees it — its address space together with the
//! machine, for the length of one call.
//!
//! Every operation that may need frames is retried once memory has been balanced across all
//! processes when the first try found none; and when an operation leaves memory low or the
//! modified list long, the balancer runs before the call returns. A TLB hit does neither.

use super::process::Process;
use crate::address_space::access::FaultKind;
use crate::address_space::{AccessFault, AddressSpace, PageState, Region, ReserveOptions, SpaceCounters, VmError};
use crate::balancer;
use crate::machine::Machine;
use crate::paging::{Protection, Pte};
use crate::phys::{FrameUse, PfnFlags, PhysicalMemory};
use crate::units::{PageRange, PhysAddr, Vpn, MAX_USER_ADDRESS, PAGE_SHIFT, PAGE_SIZE};

/// One process's view of the memory manager.
pub struct Vm<'a> {
    space: &'a mut AddressSpace,
    machine: &'a mut Machine,
    /// The processes created before this one, and after it, and the slots of the running
    /// ones (this one's among them): the balancer trims every running process, and walks
    /// only those.
    before: &'a mut [Process],
    after: &'a mut [Process],
    running: &'a [u32],
    lock_memory_privilege: bool,
}

type VmResult<T> = Result<T, VmError>;

/// A host fault the memory manager resolved ([`Vm::resolve_access`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The frame behind the page.
    pub pfn: crate::units::Pfn,
    /// Writes may go straight through now (the PTE allows them and is dirty).
    pub writable: bool,
}

/// A resident page as `QueryWorkingSetEx` describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkingSetEntry {
    /// Its protection.
    pub protection: Protection,
    /// Processes mapping its frame.
    pub share_count: u16,
    /// Shared between processes.
    pub shared: bool,
    /// Locked with VirtualLock.
    pub locked: bool,
    /// Part of a large page.
    pub large_page: bool,
}

impl<'a> Vm<'a> {
    /// The memory manager as `processes[slot]` sees it; `None` when that process has ended.
    /// The process's address space is found once, here: every operation reaches it directly.
    #[inline(always)]
    pub(crate) fn new(
        machine: &'a mut Machine,
        processes: &'a mut [Process],
        running: &'a [u32],
        slot: usize,
        lock_memory_privilege: bool,
    ) -> Option<Vm<'a>> {
        let (before, rest) = processes.split_at_mut(slot);
        let (Process { space: Some(space), .. }, after) = rest.split_first_mut()? else {
            return None;
        };
        Some(Vm { space, machine, before, after, running, lock_memory_privilege })
    }

    #[inline(always)]
    fn parts(&mut self) -> (&mut AddressSpace, &mut Machine) {
        (self.space, self.machine)
    }

    fn space_ref(&self) -> &AddressSpace {
        self.space
    }

    /// The machine: RAM, commit and page files.
    pub(super) fn machine_ref(&self) -> &Machine {
        self.machine
    }

    /// The address space and the machine, for the hot path of [`super::Memory`].
    #[inline(always)]
    pub(super) fn hot_parts(&mut self) -> (&mut AddressSpace, &mut Machine) {
        (self.space, self.machine)
    }

    /// Balances memory across every running process; true when `needed` frames are available.
    fn balance(&mut self, needed: u64) -> bool {
        // In creation order, as [`super::System::balance`] does: the running processes
        // before this one, this one, those after it.
        let own = self.before.len();
        let (earlier, later) = self.running.split_at(self.running.partition_point(|&s| (s as usize) < own));
        let mut spaces = super::running_spaces(self.before, earlier, 0);
        spaces.push(&mut *self.space);
        spaces.extend(super::running_spaces(self.after, later, own + 1));
        balancer::balance(self.machine, &mut spaces, needed)
    }

    /// Runs `op`; when it found no frames, balances and runs it again; balances afterwards
    /// when memory is low.
    fn with_frames<T>(&mut self, mut op: impl FnMut(&mut AddressSpace, &mut Machine) -> VmResult<T>) -> VmResult<T> {
        let mut result = {
            let (space, m) = self.parts();
            op(space, m)
        };
        if let Err(VmError::OutOfFrames(n)) = result {
            if self.balance(n) {
                let (space, m) = self.parts();
                result = op(space, m);
            }
        }
        self.settle();
        result
    }

    /// Maps a view (`System::map_view` decided what it is; `opts.kind` is the view).
    pub(crate) fn map_view(
        &mut self,
        at: Option<u64>,
        pages: u64,
        opts: &crate::address_space::ReserveOptions,
    ) -> VmResult<PageRange> {
        self.with_frames(|s, m| s.map_view(m, at, pages, opts))
    }

    /// Records how far an image view lies from its image's base.
    pub(crate) fn set_view_relocation(&mut self, start: Vpn, delta: i64) {
        self.space.set_view_relocation(start, delta);
    }

    /// Commits the section pages behind `range` of a view.
    pub(crate) fn commit_section_pages(
        &mut self,
        view: crate::address_space::View,
        start: Vpn,
        range: PageRange,
        protection: Protection,
    ) -> VmResult<()> {
        let (space, m) = self.parts();
        // A view committed at map time is unmapped whole if this fails, so nothing to give back.
        space.commit_section_pages(m, view, start, range, protection).map(drop)
    }

    /// Unmaps the view holding `addr`: the view and its range.
    pub(crate) fn unmap_view(&mut self, addr: u64) -> Option<(crate::address_space::View, PageRange)> {
        let vpn = Vpn(addr >> PAGE_SHIFT);
        let (space, m) = self.parts();
        let (_, range, _) = space.view_at(vpn)?;
        let view = space.unmap_view(m, vpn)?;
        self.settle();
        Some((view, range))
    }

    /// Balances when memory is low or the modified list is long.
    fn settle(&mut self) {
        if balancer::wanted(self.machine) {
            self.balance(0);
        }
    }

    /// True when the process holds SeLockMemoryPrivilege (large pages).
    #[must_use]
    pub fn has_lock_memory_privilege(&self) -> bool {
        self.lock_memory_privilege
    }

    /// Reserves (and optionally commits) address space. See [`AddressSpace::reserve`].
    pub fn reserve(&mut self, at: Option<u64>, size: u64, opts: &ReserveOptions) -> VmResult<PageRange> {
        self.with_frames(|s, m| s.reserve(m, at, size, opts))
    }

    /// Commits pages of a reservation.
    pub fn commit(&mut self, addr: u64, size: u64, protection: Protection) -> VmResult<PageRange> {
        self.with_frames(|s, m| s.commit(m, addr, size, protection))
    }

    /// Decommits pages.
    pub fn decommit(&mut self, addr: u64, size: u64) -> VmResult<PageRange> {
        let (space, m) = self.parts();
        space.decommit(m, addr, size)
    }

    /// Releases address space.
    pub fn release(&mut self, addr: u64, size: u64) -> VmResult<PageRange> {
        let (space, m) = self.parts();
        space.release(m, addr, size)
    }

    /// Changes protection; returns the first page's old protection.
    pub fn protect(&mut self, addr: u64, size: u64, protection: Protection) -> VmResult<(PageRange, Protection)> {
        let (space, m) = self.parts();
        space.protect(m, addr, size, protection)
    }

    /// Describes the region holding `addr`.
    #[must_use]
    pub fn query(&self, addr: u64) -> Region {
        self.space_ref().query(self.machine, addr)
    }

    /// Locks pages in the working set.
    pub fn lock(&mut self, addr: u64, size: u64) -> VmResult<PageRange> {
        self.with_frames(|s, m| s.lock(m, addr, size))
    }

    /// Unlocks pages.
    pub fn unlock(&mut self, addr: u64, size: u64) -> VmResult<PageRange> {
        let (space, m) = self.parts();
        space.unlock(m, addr, size)
    }

    /// `MEM_RESET`.
    pub fn reset(&mut self, addr: u64, size: u64) -> VmResult<PageRange> {
        let (space, m) = self.parts();
        space.reset(m, addr, size)
    }

    /// `MEM_RESET_UNDO`.
    pub fn reset_undo(&mut self, addr: u64, size: u64) -> VmResult<PageRange> {
        let (space, m) = self.parts();
        space.reset_undo(m, addr, size)
    }

    /// Written pages of a write-watch range.
    pub fn get_write_watch(&mut self, addr: u64, size: u64, out: &mut [u64], reset: bool) -> VmResult<usize> {
        let (space, m) = self.parts();
        space.get_write_watch(&mut m.phys, addr, size, out, reset)
    }

    /// Forgets the writes to a write-watch range.
    pub fn reset_write_watch(&mut self, addr: u64, size: u64) -> VmResult<()> {
        let (space, m) = self.parts();
        space.reset_write_watch(&mut m.phys, addr, size)
    }

    /// Trims every page it can from the working set (EmptyWorkingSet); returns how many.
    pub fn empty_working_set(&mut self) -> u64 {
        let (space, m) = self.parts();
        let n = space.empty(m);
        self.settle();
        n
    }

    /// Sets the memory priority of the process (0–7; `MEMORY_PRIORITY_NORMAL` is 5): the page
    /// priority its pages take from now on, as they are mapped (faulted in, or soft-faulted
    /// back). Pages already resident keep theirs until they are mapped again, as on Windows.
    /// Values above 7 are clamped (the Win32 layer refuses them first).
    pub fn set_memory_priority(&mut self, priority: u8) {
        self.space.priority = priority.min(crate::phys::MAX_PRIORITY);
    }

    /// Sets the working-set limits (already validated by the caller).
    pub fn set_working_set_limits(&mut self, limits: crate::address_space::WorkingSetLimits) {
        let (space, m) = self.parts();
        space.ws.set_limits(limits);
        if limits.hard_maximum && space.counters.working_set > limits.maximum {
            let all = space.ws.len();
            space.age_some(m, all);
            space.trim_working_set_to(m, None, limits.maximum);
        }
        self.settle();
    }

    /// Sets the working set's eviction policy (which page it gives up first; NT's aging by
    /// default). The pages resident now enter the new order lowest address first.
    pub fn set_eviction_policy(&mut self, policy: crate::address_space::EvictionPolicy) {
        self.space.ws.set_policy(policy);
    }

    /// Tells the eviction policy that the program referenced `addr`, next referencing its page
    /// at `next_use` (a reference count; `u64::MAX`: never). LRU, CLOCK and OPT follow every
    /// reference this way; NT's aging ignores it (it reads the accessed bits).
    #[inline]
    pub fn note_reference(&mut self, addr: u64, next_use: u64) {
        self.space.ws.referenced(Vpn(addr >> PAGE_SHIFT), next_use);
    }

    /// The program reads `buf.len()` bytes at `addr`.
    #[inline]
    pub fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), AccessFault> {
        let (space, m) = self.parts();
        let r = space.read(m, addr, buf);
        if m.wants_balance || matches!(r, Err(AccessFault { kind: FaultKind::OutOfFrames, .. })) {
            return self.after_access(r, |s, m| s.read(m, addr, buf));
        }
        r
    }

    /// The program writes `data` at `addr`.
    #[inline]
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), AccessFault> {
        let (space, m) = self.parts();
        let r = space.write(m, addr, data);
        if m.wants_balance || matches!(r, Err(AccessFault { kind: FaultKind::OutOfFrames, .. })) {
            return self.after_access(r, |s, m| s.write(m, addr, data));
        }
        r
    }

    /// The program fetches the instruction byte at `addr`.
    pub fn execute(&mut self, addr: u64) -> Result<u8, AccessFault> {
        let (space, m) = self.parts();
        let r = space.execute(m, addr);
        if m.wants_balance || matches!(r, Err(AccessFault { kind: FaultKind::OutOfFrames, .. })) {
            return self.after_access(r, |s, m| s.execute(m, addr));
        }
        r
    }

    /// Resolves a host fault of the native engine: the access of kind `access` at `addr` as
    /// the program's own access does it up to the TLB fill (demand-zero, soft, hard with its
    /// cluster, prototype, copy-on-write, guard, the dirty bit on the first write), the balancer
    /// after it as after any access. The fill tells the host TLB; the result is the frame and
    /// whether the page may be written now, or the exception to raise.
    pub fn resolve_access(&mut self, addr: u64, access: crate::paging::AccessKind) -> Result<Resolved, AccessFault> {
        let vpn = Vpn(addr.min(MAX_USER_ADDRESS) >> PAGE_SHIFT);
        // The host's entry is gone (that is why it faulted): make the software one go too, so
        // that the walk fills both again.
        self.space.tlb.forget(vpn);
        let (space, m) = self.parts();
        let r = space.resolve(m, addr, access);
        let r = if m.wants_balance || matches!(r, Err(AccessFault { kind: FaultKind::OutOfFrames, .. })) {
            self.after_access(r, |s, m| s.resolve(m, addr, access))
        } else {
            r
        };
        let frame = r?;
        let writable = self.space.tlb.lookup(vpn.as_u64(), crate::paging::tlb::WRITE).is_some();
        Ok(Resolved { pfn: crate::units::Pfn(frame), writable })
    }

    /// Installs the host TLB of the native engine on this process (see [`crate::paging::HostTlb`]).
    /// The paging-structure cache stops with it, so that no TLB miss takes the shortest walk
    /// (`system::memory`), which fills the software TLB alone: every fill is then told to the
    /// host.
    pub fn set_host_tlb(&mut self, host: Box<dyn crate::paging::HostTlb>) {
        self.space.tables.stop_caching();
        self.space.tlb.set_host(host);
    }

    #[inline(never)]
    fn after_access<T>(
        &mut self,
        first: Result<T, AccessFault>,
        mut again: impl FnMut(&mut AddressSpace, &mut Machine) -> Result<T, AccessFault>,
    ) -> Result<T, AccessFault> {
        let mut r = first;
        // Each retry makes progress (a page came in); the bound is the number of pages an
        // access can touch plus the balancing rounds.
        for _ in 0..64 {
            match r {
                Err(AccessFault { kind: FaultKind::OutOfFrames, .. }) => {
                    if !self.balance(2) {
                        break;
                    }
                    let (space, m) = self.parts();
                    r = again(space, m);
                }
                _ => break,
            }
        }
        self.machine.wants_balance = false;
        self.settle();
        r
    }

    /// The physical address `addr` maps to now, if its page is resident (never faults).
    #[must_use]
    pub fn physical_address(&self, addr: u64) -> Option<PhysAddr> {
        if addr > MAX_USER_ADDRESS {
            return None;
        }
        match self.space_ref().pte(&self.machine.phys, Vpn(addr >> PAGE_SHIFT)) {
            Pte::Valid(v) => Some(PhysAddr(v.pfn().phys().as_u64() + (addr & (PAGE_SIZE - 1)))),
            _ => None,
        }
    }

    /// What `QueryWorkingSetEx` reports of a resident page; `None` when `addr` is not resident.
    #[must_use]
    pub fn working_set_entry(&self, addr: u64) -> Option<WorkingSetEntry> {
        let Pte::Valid(v) = self.space_ref().pte(&self.machine.phys, Vpn(addr.min(MAX_USER_ADDRESS) >> PAGE_SHIFT))
        else {
            return None;
        };
        if addr > MAX_USER_ADDRESS {
            return None;
        }
        let e = self.machine.phys.pfn(v.pfn());
        // A view page's lock is this working set's (a shared frame may be locked by one process
        // and not by another), not its frame's.
        let vpn = Vpn(addr >> PAGE_SHIFT);
        let locked = e.flags().has(PfnFlags::LOCKED)
            || (e.usage() == FrameUse::Section && self.space_ref().is_view_page_locked(vpn));
        Some(WorkingSetEntry {
            // This process's protection of the page (a section frame's PFN holds the section's).
            protection: v.protection(),
            share_count: e.share_count(),
            shared: matches!(e.usage(), FrameUse::SharedUserData | FrameUse::Section),
            locked,
            large_page: e.usage() == FrameUse::LargePage,
        })
    }

    /// Whether the page at `addr`, not in the working set, is a committed page of a section
    /// that this process has not made a private copy of: `QueryWorkingSetEx` reports such a
    /// page Shared though not Valid (F203).
    #[must_use]
    pub fn is_shared_section_page(&self, addr: u64) -> bool {
        if addr > MAX_USER_ADDRESS {
            return false;
        }
        let vpn = Vpn(addr >> PAGE_SHIFT);
        let space = self.space_ref();
        if space.view_at(vpn).is_none() {
            return false;
        }
        let phys = &self.machine.phys;
        let pte = space.pte(phys, vpn);
        if !matches!(space.view_page_state(self.machine, vpn, pte), PageState::Committed(_)) {
            return false;
        }
        match pte {
            // Not yet mapped by this process, or mapped through the section's prototype.
            Pte::Zero | Pte::Prototype { .. } => true,
            // A frame of the section's or a private copy of one: mapped (valid), or not (a
            // transition PTE: trimmed, or kept invalid by a no-access protection).
            Pte::Valid(v) => phys.pfn(v.pfn()).usage() == FrameUse::Section,
            Pte::Transition { pfn, .. } => phys.pfn(pfn).usage() == FrameUse::Section,
            Pte::DemandZero(_) | Pte::PageFile { .. } => false,
        }
    }

    /// The address space's figures.
    #[must_use]
    pub fn counters(&self) -> SpaceCounters {
        self.space_ref().counters()
    }

    /// The address space.
    #[must_use]
    pub fn space(&self) -> &AddressSpace {
        self.space_ref()
    }

    /// RAM.
    #[must_use]
    pub fn phys(&self) -> &PhysicalMemory {
        &self.machine.phys
    }
}
