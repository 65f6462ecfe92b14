//! What each [`Call`] must do: the call made through `Kernel32` or `Ntdll`, then its effect
//! checked and applied to the model (memory calls; the accesses are in `access.rs`).

use ntmem::FaultPlan;
use ntmem_win32::*;

use crate::call::{Call, Target, Via};
use crate::model::PAGE;
use crate::soak::{Allow, Soak, USER_END};
use crate::KnownBug;

const G: u64 = 0x1_0000;
/// `[page_down(addr), page_up(addr + size))`, saturating at the end of user space.
pub(crate) fn pages_of(addr: u64, size: u64) -> (u64, u64) {
    let end = addr.saturating_add(size).min(USER_END);
    (addr / PAGE * PAGE, end.div_ceil(PAGE) * PAGE)
}

fn target_of(via: Via) -> Target {
    match via {
        Via::Kernel32 => Target::Current,
        Via::Ex(t) | Via::Nt(t) => t,
    }
}

impl Soak {
    pub(crate) fn apply(&mut self, call: &Call) -> Result<(), String> {
        if let Some(p) = call.caller() {
            if self.pid(usize::from(p)).is_none() {
                return Ok(()); // Replayed sequences may name a slot that is empty now.
            }
        }
        match *call {
            Call::Alloc { proc, via, addr, size, flags, protect, zero_bits } => {
                self.alloc(usize::from(proc), via, addr, size, flags, protect, zero_bits)
            }
            Call::Free { proc, via, addr, size, free_type } => self.free(usize::from(proc), via, addr, size, free_type),
            Call::Protect { proc, via, addr, size, protect } => {
                self.protect(usize::from(proc), via, addr, size, protect)
            }
            Call::Query { proc, via, addr } => self.query_call(usize::from(proc), via, addr),
            Call::Lock { proc, addr, size } => self.lock(usize::from(proc), addr, size, true),
            Call::Unlock { proc, addr, size } => self.lock(usize::from(proc), addr, size, false),
            Call::GetWriteWatch { proc, addr, size, reset, capacity } => {
                self.get_write_watch(usize::from(proc), addr, size, reset, capacity)
            }
            Call::ResetWriteWatch { proc, addr, size } => {
                let _ = self.k(usize::from(proc)).ResetWriteWatch(addr, size);
                Ok(())
            }
            Call::Read { proc, addr, len } => self.access(usize::from(proc), addr, len, None),
            Call::Write { proc, addr, len, seed } => self.access(usize::from(proc), addr, len, Some(seed)),
            Call::ReadProcess { proc, target, addr, len } => self.copy(usize::from(proc), target, addr, len, None),
            Call::WriteProcess { proc, target, addr, len, seed } => {
                self.copy(usize::from(proc), target, addr, len, Some(seed))
            }
            Call::SetWorkingSet { proc, target, minimum, maximum, flags } => {
                self.set_working_set(usize::from(proc), target, minimum, maximum, flags)
            }
            Call::EmptyWorkingSet { proc, target } => {
                let proc = usize::from(proc);
                let (h, ts) = self.open(proc, target);
                let ok = self.k(proc).EmptyWorkingSet(h) == TRUE;
                self.close(proc, target, h)?;
                bad_handle_check("EmptyWorkingSet", ok, ts)
            }
            Call::QueryWorkingSet { proc, target, addr, pages } => {
                self.query_working_set(usize::from(proc), target, addr, pages)
            }
            Call::CreateProcess { slot } => {
                let s = usize::from(slot) % self.slots.len();
                if self.slots[s].pid.is_none() {
                    if let Ok(pid) = self.sys.create_process(&format!("soak{s}")) {
                        self.slots[s] = crate::soak::SlotState { pid: Some(pid), ..Default::default() };
                        self.adopt(s)?;
                    }
                }
                Ok(())
            }
            Call::TerminateProcess { proc, target } => self.terminate(usize::from(proc), target),
            Call::InjectFaults { reads, writes } => {
                self.sys
                    .set_page_file_faults(FaultPlan { fail_reads: u32::from(reads), fail_writes: u32::from(writes) });
                Ok(())
            }
            Call::WriteModified => {
                let _ = self.sys.write_modified_pages();
                Ok(())
            }
            Call::CreateSection { proc, source, file_write, protect, size, name, route } => {
                self.create_section(usize::from(proc), source, file_write, protect, size, name, route)
            }
            Call::OpenSection { proc, name, access } => self.open_section(usize::from(proc), name, access),
            Call::CloseSection { proc, handle } => self.close_section(usize::from(proc), handle),
            Call::MapView { proc, handle, target, access, offset, size, base, zero_bits } => {
                self.map_view(usize::from(proc), handle, target, access, (offset, size, base), zero_bits)
            }
            Call::UnmapView { proc, target, addr } => self.unmap_view(usize::from(proc), target, addr),
            Call::FlushView { proc, addr, size } => self.flush_view(usize::from(proc), addr, size),
            Call::FileIo { proc, file, offset, len, write } => {
                self.file_io(usize::from(proc), file, offset, len, write)
            }
            Call::InjectMappedFaults { reads, writes } => {
                self.inject_mapped_faults(reads, writes);
                Ok(())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn alloc(
        &mut self,
        proc: usize,
        via: Via,
        addr: u64,
        size: u64,
        flags: u32,
        protect: u32,
        zero_bits: u8,
    ) -> Result<(), String> {
        let target = target_of(via);
        let (h, ts) = self.open(proc, target);
        let top_down = flags & MEM_TOP_DOWN != 0;
        let placed_by_system = addr == 0 && flags & MEM_RESERVE != 0 && zero_bits == 0;
        let expect_at = match ts {
            Some(t) if placed_by_system && !self.known(KnownBug::Item7PlacementAfterPartialRelease) => {
                self.first_fit(t, size.div_ceil(PAGE).saturating_mul(PAGE), top_down)
            }
            _ => None,
        };
        let (ok, range) = match via {
            Via::Kernel32 | Via::Ex(_) => {
                let mut k = self.k(proc);
                let r = if via == Via::Kernel32 {
                    k.VirtualAlloc(addr, size, flags, protect)
                } else {
                    k.VirtualAllocEx(h, addr, size, flags, protect)
                };
                let start = if flags & MEM_RESERVE != 0 && addr != 0 { addr / G * G } else { r };
                let range = if addr == 0 { pages_of(r, size) } else { (start, pages_of(addr, size).1) };
                (r != 0, range)
            }
            Via::Nt(_) => {
                let (mut b, mut s) = (addr, size);
                let st = self.nt(proc).NtAllocateVirtualMemory(h, &mut b, u64::from(zero_bits), &mut s, flags, protect);
                (st >= 0, (b, b.saturating_add(s)))
            }
        };
        self.close(proc, target, h)?;
        bad_handle_check("VirtualAlloc", ok, ts)?;
        let Some(t) = ts else { return Ok(()) };
        if !ok {
            let (lo, hi) = pages_of(addr, size);
            return self.reconcile(t, lo, hi, Allow::default());
        }
        let (lo, hi) = range;
        if flags & (MEM_RESET | MEM_RESET_UNDO) != 0 {
            let (lo, hi) = if matches!(via, Via::Nt(_)) { range } else { pages_of(addr, size) };
            let undo = flags & MEM_RESET_UNDO != 0;
            let pages: Vec<u64> = self.slots[t].model.committed_in(lo / PAGE, hi / PAGE).map(|(v, _)| *v).collect();
            for vpn in pages {
                self.model_reset(t, vpn, undo);
            }
            return self.reconcile(t, lo, hi, Allow::default());
        }
        if flags & MEM_RESERVE != 0 {
            if let Some(want) = expect_at {
                if want != lo {
                    return Err(format!("placed at {lo:#x}; the lowest (or highest) free aligned spot is {want:#x}"));
                }
            }
            let slot = &mut self.slots[t];
            push_recent(&mut slot.allocs, (lo, hi - lo));
            if flags & MEM_WRITE_WATCH != 0 {
                push_recent(&mut slot.watched, (lo, hi - lo));
            }
        }
        let commit = flags & MEM_COMMIT != 0;
        self.reconcile(t, lo, hi, Allow { add: commit, remove: false })?;
        if commit {
            self.sync_views(t, lo, hi)?;
            let model = &self.slots[t].model;
            if let Some(v) = (lo / PAGE..hi / PAGE).find(|v| !model.pages.contains_key(v)) {
                return Err(format!("commit of [{lo:#x}, {hi:#x}) succeeded but {:#x} is not committed", v * PAGE));
            }
        }
        Ok(())
    }

    /// Where a system-placed allocation of `size` bytes must go (F46, F9: first fit on a 64 KiB
    /// boundary from the bottom, or from the top with `MEM_TOP_DOWN`), from a `VirtualQuery`
    /// walk of the free regions.
    pub(crate) fn first_fit(&mut self, slot: usize, size: u64, top_down: bool) -> Option<u64> {
        let mut free = Vec::new();
        let mut at = G;
        while at < USER_END {
            let Some(m) = self.query(slot, at) else { break };
            let end = m.BaseAddress.saturating_add(m.RegionSize);
            if m.State == MEM_FREE {
                free.push((m.BaseAddress.max(G), end.min(USER_END)));
            }
            at = end.max(at + PAGE);
        }
        let fits = |&(s, e): &(u64, u64)| {
            if top_down {
                let a = e.checked_sub(size)? / G * G;
                (a >= s).then_some(a)
            } else {
                let a = s.div_ceil(G) * G;
                (a.checked_add(size)? <= e).then_some(a)
            }
        };
        if top_down {
            free.iter().rev().find_map(fits)
        } else {
            free.iter().find_map(fits)
        }
    }

    fn free(&mut self, proc: usize, via: Via, addr: u64, size: u64, free_type: u32) -> Result<(), String> {
        let target = target_of(via);
        let (h, ts) = self.open(proc, target);
        let extent = match ts {
            Some(t) => self.allocation_extent(t, addr),
            None => None,
        };
        let (ok, exact) = match via {
            Via::Kernel32 => (self.k(proc).VirtualFree(addr, size, free_type) == TRUE, None),
            Via::Ex(_) => (self.k(proc).VirtualFreeEx(h, addr, size, free_type) == TRUE, None),
            Via::Nt(_) => {
                let (mut b, mut s) = (addr, size);
                let st = self.nt(proc).NtFreeVirtualMemory(h, &mut b, &mut s, free_type);
                (st >= 0, Some((b, b.saturating_add(s))))
            }
        };
        self.close(proc, target, h)?;
        bad_handle_check("VirtualFree", ok, ts)?;
        let Some(t) = ts else { return Ok(()) };
        let named = pages_of(addr, size);
        let (lo, hi) = extent.map_or(named, |(s, e)| (s.min(named.0), e.max(named.1)));
        self.reconcile(t, lo, hi, Allow { add: false, remove: ok })?;
        let must_go = match exact {
            Some(r) => Some(r),
            None if ok && size != 0 => Some(named),
            None => None,
        };
        if let Some((lo, hi)) = must_go.filter(|_| ok) {
            if let Some((v, _)) = self.slots[t].model.committed_in(lo / PAGE, hi.div_ceil(PAGE)).next() {
                return Err(format!("free of [{lo:#x}, {hi:#x}) succeeded but {:#x} is still committed", v * PAGE));
            }
        }
        Ok(())
    }

    fn protect(&mut self, proc: usize, via: Via, addr: u64, size: u64, protect: u32) -> Result<(), String> {
        let target = target_of(via);
        let (h, ts) = self.open(proc, target);
        let mut old = 0u32;
        let ok = match via {
            Via::Kernel32 => self.k(proc).VirtualProtect(addr, size, protect, Some(&mut old)) == TRUE,
            Via::Ex(_) => self.k(proc).VirtualProtectEx(h, addr, size, protect, Some(&mut old)) == TRUE,
            Via::Nt(_) => {
                let (mut b, mut s) = (addr, size);
                self.nt(proc).NtProtectVirtualMemory(h, &mut b, &mut s, protect, Some(&mut old)) >= 0
            }
        };
        self.close(proc, target, h)?;
        bad_handle_check("VirtualProtect", ok, ts)?;
        match ts {
            Some(t) => {
                let (lo, hi) = pages_of(addr, size);
                self.reconcile(t, lo, hi, Allow::default())
            }
            None => Ok(()),
        }
    }

    fn query_call(&mut self, proc: usize, via: Via, addr: u64) -> Result<(), String> {
        let target = target_of(via);
        let (h, ts) = self.open(proc, target);
        let mut m = MEMORY_BASIC_INFORMATION64::default();
        let ok = match via {
            Via::Kernel32 => self.k(proc).VirtualQuery(addr, &mut m) != 0,
            Via::Ex(_) => self.k(proc).VirtualQueryEx(h, addr, &mut m) != 0,
            Via::Nt(_) => self.nt(proc).NtQueryVirtualMemory(h, addr, &mut m) >= 0,
        };
        self.close(proc, target, h)?;
        bad_handle_check("VirtualQuery", ok, ts)?;
        if let (true, Some(t)) = (ok, ts) {
            let modelled = self.slots[t].model.pages.contains_key(&(addr / PAGE));
            if modelled != (m.State == MEM_COMMIT) {
                return Err(format!(
                    "VirtualQuery({addr:#x}) says State {:#x}; committed in the model: {modelled}",
                    m.State
                ));
            }
        }
        Ok(())
    }

    fn get_write_watch(&mut self, proc: usize, addr: u64, size: u64, reset: bool, capacity: u16) -> Result<(), String> {
        let mut buf = vec![0u64; usize::from(capacity)];
        let mut count = buf.len();
        let mut gran = 0u32;
        let flags = if reset { WRITE_WATCH_FLAG_RESET } else { 0 };
        let r = self.k(proc).GetWriteWatch(flags, addr, size, &mut buf, &mut count, &mut gran);
        if r == 0 {
            // A page written and then decommitted may still be reported (F118), so a reported
            // page need only be reserved, in the range, and page-aligned.
            let (lo, hi) = pages_of(addr, size);
            for &a in &buf[..count] {
                let reserved = self.query(proc, a).is_some_and(|m| m.State != MEM_FREE);
                if a % PAGE != 0 || a < lo || a >= hi || !reserved {
                    return Err(format!("GetWriteWatch reported {a:#x}: not a reserved page of [{lo:#x}, {hi:#x})"));
                }
            }
        }
        Ok(())
    }

    fn terminate(&mut self, proc: usize, target: Target) -> Result<(), String> {
        let (h, ts) = self.open(proc, target);
        let ok = self.k(proc).TerminateProcess(h, 0) == TRUE;
        if ts != Some(proc) {
            self.close(proc, target, h)?;
        }
        bad_handle_check("TerminateProcess", ok, ts)?;
        if let (true, Some(t)) = (ok, ts) {
            let pid = self.slots[t].pid;
            if pid.and_then(|p| self.sys.process(p)).is_some_and(|p| p.space().is_some()) {
                return Err("TerminateProcess succeeded but the address space lives on".into());
            }
            self.forget_slot_sections(t)?;
            self.slots[t] = crate::soak::SlotState::default();
        }
        Ok(())
    }
}

/// A call through a handle that reaches no process must fail.
pub(crate) fn bad_handle_check(what: &str, ok: bool, reached: Option<usize>) -> Result<(), String> {
    if ok && reached.is_none() {
        return Err(format!("{what} through a handle to no live process succeeded"));
    }
    Ok(())
}

pub(crate) fn push_recent(v: &mut Vec<(u64, u64)>, item: (u64, u64)) {
    if v.len() == 16 {
        v.remove(0);
    }
    v.push(item);
}
