//! [`Soak`]: one simulated machine under random calls, with the byte model of every process
//! beside it; the checks made after each call and every `check_every` calls.
//!
//! After each call the model of the process the call touched is reconciled with a
//! `VirtualQuery` walk of the range the call named: a page may become committed only through a
//! successful commit, and stop being committed only through a successful decommit, release or
//! termination; anything else is a lost (or conjured) page. Every `check_every` calls the
//! invariant checker runs, and every thousand calls one process (in turn) has every readable
//! committed byte read back and compared with the model.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};

use ntmem::{Config, ProcessId, System};
use ntmem_win32::*;

use crate::call::{Call, Target};
use crate::files::{make_files, FileModel};
use crate::images::{make_image, ImageFile};
use crate::model::{Content, Page, SpaceModel, PAGE};
use crate::sections::{SectionHandle, SectionModel, SegmentModel, ViewModel};
use crate::{Failure, KnownBug, Options};

pub(crate) const USER_END: u64 = ntmem::units::USER_END;
/// One process's bytes are all read back every this many calls. Fixed, not `check_every`:
/// reading changes the machine (pages come back in), so the calls a seed makes would depend on
/// it; the invariant checker changes nothing and may run as often as asked.
const VERIFY_EVERY: u64 = 1000;
/// How many recent calls a failure report shows.
const HISTORY: usize = 12;

/// What a slot holds: a process (or none), its model, and what the generator aims at.
#[derive(Default)]
pub(crate) struct SlotState {
    pub(crate) pid: Option<ProcessId>,
    pub(crate) model: SpaceModel,
    /// Recent reservations `(base, size)`, newest last (may be stale: good bad addresses).
    pub(crate) allocs: Vec<(u64, u64)>,
    /// Recent write-watch reservations.
    pub(crate) watched: Vec<(u64, u64)>,
    /// The hard working-set maximum in pages, when enabled.
    pub(crate) hard_max: Option<u64>,
    /// Its section handles, oldest first.
    pub(crate) handles: Vec<SectionHandle>,
    /// Its views.
    pub(crate) views: Vec<ViewModel>,
}

/// Which changes of the committed set a call may make (see the module doc).
#[derive(Clone, Copy, Default)]
pub(crate) struct Allow {
    pub(crate) add: bool,
    pub(crate) remove: bool,
}

/// A machine, its processes, and their models.
pub struct Soak {
    pub(crate) sys: System,
    pub(crate) slots: Vec<SlotState>,
    pub(crate) opts: Options,
    baseline_commit: u64,
    calls: u64,
    checks: u64,
    history: VecDeque<(u64, Call)>,
    /// The host files sections map.
    pub(crate) files: Vec<FileModel>,
    /// The PE image `SEC_IMAGE` sections map.
    pub(crate) image: ImageFile,
    /// Page-file segments by model id (`None`: gone with its section).
    pub(crate) segments: Vec<Option<SegmentModel>>,
    /// Section objects by model id (`None`: gone).
    pub(crate) sections: Vec<Option<SectionModel>>,
    _dir: tempfile::TempDir,
}

impl Soak {
    /// A machine with `opts.processes` processes, its page file in a new temporary directory.
    ///
    /// # Errors
    /// When the directory or the machine cannot be made.
    pub fn new(opts: Options) -> Result<Soak, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let cfg = Config::default().with_ram_bytes(opts.ram_bytes).with_page_file(
            dir.path().join("pagefile.sys"),
            opts.page_file_bytes / 4,
            opts.page_file_bytes,
        );
        let mut sys = System::new(cfg).map_err(|e| format!("boot: {e}"))?;
        let baseline_commit = sys.stats().commit_total;
        let mut slots = Vec::new();
        for i in 0..opts.processes.max(1) {
            let pid = sys.create_process(&format!("soak{i}")).map_err(|e| format!("create_process: {e}"))?;
            slots.push(SlotState { pid: Some(pid), ..SlotState::default() });
        }
        let files = make_files(dir.path())?;
        let image = make_image(dir.path())?;
        let mut soak = Soak {
            sys,
            slots,
            opts,
            baseline_commit,
            calls: 0,
            checks: 0,
            history: VecDeque::new(),
            files,
            image,
            segments: Vec::new(),
            sections: Vec::new(),
            _dir: dir,
        };
        for slot in 0..soak.slots.len() {
            soak.adopt(slot)?;
        }
        Ok(soak)
    }

    /// Learns what a new process holds before its first call (the shared user data page, F6):
    /// committed, with bytes the model does not follow.
    pub(crate) fn adopt(&mut self, slot: usize) -> Result<(), String> {
        self.reconcile(slot, 0, USER_END, Allow { add: true, remove: false })?;
        for p in self.slots[slot].model.pages.values_mut() {
            p.content = Content::Any;
        }
        Ok(())
    }

    /// Calls made so far.
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// The machine.
    #[must_use]
    pub fn system(&self) -> &System {
        &self.sys
    }

    pub(crate) fn known(&self, bug: KnownBug) -> bool {
        self.opts.known_open_bugs.contains(&bug)
    }

    /// Makes `call`, checks what it did, and every `check_every` calls checks everything.
    ///
    /// # Errors
    /// A panic, a violated invariant, a lost byte or a result Windows would not give.
    pub fn step(&mut self, call: &Call) -> Result<(), Failure> {
        let index = self.calls;
        self.calls += 1;
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back((index, call.clone()));
        let r = catch_unwind(AssertUnwindSafe(|| self.apply(call)))
            .unwrap_or_else(|p| Err(format!("panic: {}", panic_text(p.as_ref()))));
        r.map_err(|what| self.failure(index, what))?;
        let every = self.opts.check_every;
        if every > 0 && self.calls.is_multiple_of(every) {
            self.guarded(|s| s.sys.check_invariants().map_err(|v| format!("invariant violated: {v}")))
                .map_err(|what| self.failure(index, what))?;
        }
        if self.calls.is_multiple_of(VERIFY_EVERY) {
            self.verify_next().map_err(|what| self.failure(index, what))?;
        }
        Ok(())
    }

    /// Every byte of one process read back (each in turn).
    fn verify_next(&mut self) -> Result<(), String> {
        self.guarded(|s| {
            let slot = usize::try_from(s.checks % s.slots.len() as u64).unwrap_or(0);
            s.checks += 1;
            s.verify_slot(slot)
        })
    }

    /// The end of a run: every process checked, then terminated; nothing may be left behind.
    ///
    /// # Errors
    /// As [`Soak::step`].
    pub fn finish(mut self) -> Result<ntmem::SystemStats, Failure> {
        let index = self.calls;
        let r = self.guarded(|s| {
            s.sys.check_invariants().map_err(|v| format!("invariant violated: {v}"))?;
            for slot in 0..s.slots.len() {
                s.verify_slot(slot)?;
            }
            let stats = s.sys.stats();
            for slot in &mut s.slots {
                if let Some(pid) = slot.pid.take() {
                    s.sys.terminate_process(pid, 0).map_err(|e| format!("terminate at the end: {e}"))?;
                }
            }
            s.sys.check_invariants().map_err(|v| format!("invariant violated after the last exit: {v}"))?;
            s.settle_files()?;
            s.settle_image()?;
            let after = s.sys.stats();
            if after.commit_total != s.baseline_commit || after.page_file_used != 0 {
                return Err(format!(
                    "leak: with every process gone, commit {} pages (at boot {}), page file {} pages used",
                    after.commit_total, s.baseline_commit, after.page_file_used
                ));
            }
            Ok(stats)
        });
        r.map_err(|what| self.failure(index, what))
    }

    fn guarded<T>(&mut self, f: impl FnOnce(&mut Soak) -> Result<T, String>) -> Result<T, String> {
        catch_unwind(AssertUnwindSafe(|| f(self))).unwrap_or_else(|p| Err(format!("panic: {}", panic_text(p.as_ref()))))
    }

    fn failure(&self, index: u64, what: String) -> Failure {
        let recent = self.history.iter().map(|(i, c)| format!("  #{i}: {c}")).collect::<Vec<_>>().join("\n");
        let procs = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "  slot {i}: {:?}, {} committed pages modelled, hard WS max {:?}",
                    s.pid,
                    s.model.pages.len(),
                    s.hard_max
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        Failure {
            call_index: index,
            call: self.history.back().filter(|(i, _)| *i == index).map(|(_, c)| c.clone()),
            what,
            state: format!("{:?}\nprocesses:\n{procs}\nlast calls:\n{recent}", self.sys.stats()),
        }
    }

    // --------------------------------------------------------------------------------------
    // Helpers the calls share.

    pub(crate) fn pid(&self, slot: usize) -> Option<ProcessId> {
        self.slots.get(slot).and_then(|s| s.pid)
    }

    /// Kernel32 of the process in `slot` (a dead one answers as Windows does for a gone
    /// process; the generator calls from live ones).
    pub(crate) fn k(&mut self, slot: usize) -> Kernel32<'_> {
        let pid = self.pid(slot).unwrap_or(ProcessId::from_raw(u32::MAX));
        Kernel32::new(&mut self.sys, pid)
    }

    pub(crate) fn nt(&mut self, slot: usize) -> Ntdll<'_> {
        let pid = self.pid(slot).unwrap_or(ProcessId::from_raw(u32::MAX));
        Ntdll::new(&mut self.sys, pid)
    }

    /// The handle `proc` passes for `t`, and the slot it reaches (none for a bad handle).
    pub(crate) fn open(&mut self, proc: usize, t: Target) -> (HANDLE, Option<usize>) {
        match t {
            Target::Current => (self.k(proc).GetCurrentProcess(), Some(proc)),
            // An integer passed where a handle goes: the raw bits are the point.
            Target::Bad(v) => (usize::try_from(v).unwrap_or(usize::MAX) as HANDLE, None),
            Target::Slot(s) => {
                let s = usize::from(s) % self.slots.len();
                if s == proc {
                    return (self.k(proc).GetCurrentProcess(), Some(s));
                }
                match self.pid(s) {
                    None => (core::ptr::null_mut(), None),
                    Some(pid) => {
                        let h = self.k(proc).OpenProcess(PROCESS_ALL_ACCESS, FALSE, u32::from(pid));
                        (h, (!h.is_null()).then_some(s))
                    }
                }
            }
        }
    }

    /// Closes what [`Soak::open`] opened.
    pub(crate) fn close(&mut self, proc: usize, t: Target, h: HANDLE) -> Result<(), String> {
        if matches!(t, Target::Slot(s) if usize::from(s) % self.slots.len() != proc) && !h.is_null() {
            let mut k = self.k(proc);
            if k.CloseHandle(h) != TRUE {
                return Err(format!("CloseHandle of an opened process handle: error {}", k.GetLastError()));
            }
        }
        Ok(())
    }

    /// `VirtualQuery` in the process of `slot`.
    pub(crate) fn query(&mut self, slot: usize, addr: u64) -> Option<MEMORY_BASIC_INFORMATION64> {
        let mut mbi = MEMORY_BASIC_INFORMATION64::default();
        (self.k(slot).VirtualQuery(addr, &mut mbi) != 0).then_some(mbi)
    }

    /// The allocation holding `addr`: `[AllocationBase, end)`.
    pub(crate) fn allocation_extent(&mut self, slot: usize, addr: u64) -> Option<(u64, u64)> {
        let first = self.query(slot, addr).filter(|m| m.State != MEM_FREE)?;
        let base = first.AllocationBase;
        let mut end = base;
        while let Some(m) = self.query(slot, end).filter(|m| m.State != MEM_FREE && m.AllocationBase == base) {
            end = m.BaseAddress + m.RegionSize;
        }
        Some((base, end))
    }

    /// Brings the model of `slot` over `[lo, hi)` in line with `VirtualQuery`, allowing only
    /// the changes `allow` names.
    pub(crate) fn reconcile(&mut self, slot: usize, lo: u64, hi: u64, allow: Allow) -> Result<(), String> {
        if self.pid(slot).is_none() {
            return Ok(());
        }
        let (lo, hi) = (lo.min(USER_END) / PAGE * PAGE, hi.min(USER_END));
        let mut at = lo;
        while at < hi {
            let Some(m) = self.query(slot, at) else { break };
            let end = m.BaseAddress.saturating_add(m.RegionSize).max(at + PAGE);
            let (first, last) = (at / PAGE, end.min(hi).div_ceil(PAGE));
            if m.Type == MEM_MAPPED || m.Type == MEM_IMAGE {
                self.reconcile_view(slot, first, last, m.State, m.Protect, allow)?;
                at = end;
                continue;
            }
            let model = &mut self.slots[slot].model;
            if let Some((v, _)) = model.committed_in(first, last).find(|(_, p)| p.shared.is_some()) {
                return Err(format!("view page {:#x} is now {:#x} of type {:#x}", v * PAGE, m.State, m.Type));
            }
            if m.State == MEM_COMMIT {
                for vpn in first..last {
                    match model.pages.get_mut(&vpn) {
                        Some(p) => p.protect = m.Protect,
                        None if allow.add => {
                            model.pages.insert(vpn, Page::private(m.Protect));
                        }
                        None => return Err(format!("page {:#x} became committed", vpn * PAGE)),
                    }
                }
            } else {
                let gone: Vec<u64> = model.committed_in(first, last).map(|(v, _)| *v).collect();
                if let Some(v) = gone.first() {
                    if !allow.remove {
                        return Err(format!("committed page {:#x} is now {:#x} (MEM_RESERVE/FREE)", v * PAGE, m.State));
                    }
                }
                for v in gone {
                    model.pages.remove(&v);
                }
            }
            at = end;
        }
        Ok(())
    }

    /// Every region of `slot` reconciled, then every readable committed byte read and checked.
    fn verify_slot(&mut self, slot: usize) -> Result<(), String> {
        if self.pid(slot).is_none() {
            return Ok(());
        }
        self.reconcile(slot, 0, USER_END, Allow::default()).map_err(|e| format!("slot {slot}: {e}"))?;
        let pages: Vec<(u64, u32)> = self.slots[slot].model.pages.iter().map(|(v, p)| (*v, p.protect)).collect();
        let mut buf = vec![0u8; 4096];
        for (vpn, protect) in pages {
            if !readable(protect) {
                continue;
            }
            let stats = self.sys.stats();
            let no_memory_known =
                self.known(crate::KnownBug::ViewWriteNoMemory) && stats.commit_total + 16 >= stats.commit_limit;
            match self.k(slot).read(vpn * PAGE, &mut buf) {
                Ok(()) => self.model_check_read(slot, vpn * PAGE, &buf).map_err(|e| format!("slot {slot}: {e}"))?,
                Err(e) if e.code == STATUS_IN_PAGE_ERROR => {}
                Err(e) if e.code == ntmem_win32::STATUS_NO_MEMORY && no_memory_known => {}
                Err(e) => {
                    return Err(format!(
                        "slot {slot}: reading committed page {:#x} ({protect:#x}) raised {e:?}",
                        vpn * PAGE
                    ))
                }
            }
        }
        self.check_hard_maximum(slot)
    }

    /// The working set under a hard maximum stays within it (item 4 while it is open).
    pub(crate) fn check_hard_maximum(&mut self, slot: usize) -> Result<(), String> {
        let Some(max) = self.slots.get(slot).and_then(|s| s.hard_max) else { return Ok(()) };
        if self.known(KnownBug::Item4HardMaximumPlusOne) || self.pid(slot).is_none() {
            return Ok(());
        }
        let mut k = self.k(slot);
        let mut c = PROCESS_MEMORY_COUNTERS_EX::default();
        let h = k.GetCurrentProcess();
        if k.GetProcessMemoryInfo(h, &mut c) == TRUE && c.WorkingSetSize as u64 > max * PAGE {
            return Err(format!(
                "slot {slot}: working set {} pages above its hard maximum {max}",
                c.WorkingSetSize as u64 / PAGE
            ));
        }
        Ok(())
    }
}

/// A protection whose pages a read may touch without changing anything.
pub(crate) fn readable(protect: u32) -> bool {
    protect & PAGE_GUARD == 0
        && matches!(
            protect & 0xFF,
            PAGE_READONLY
                | PAGE_READWRITE
                | PAGE_WRITECOPY
                | PAGE_EXECUTE_READ
                | PAGE_EXECUTE_READWRITE
                | PAGE_EXECUTE_WRITECOPY
        )
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}
