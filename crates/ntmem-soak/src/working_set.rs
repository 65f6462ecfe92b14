//! The working-set calls: `VirtualLock`/`VirtualUnlock` (a lock makes every page of its range
//! resident and locked: item 6), `QueryWorkingSetEx` (a valid page is a committed one; a locked
//! one is valid) and `SetProcessWorkingSetSizeEx` (the hard maximum then holds: item 4).

use ntmem_win32::*;

use crate::apply::{bad_handle_check, pages_of};
use crate::call::Target;
use crate::model::PAGE;
use crate::soak::{Allow, Soak, USER_END};

/// The most pages whose working-set entries a lock has checked.
const LOCK_CHECK_PAGES: usize = 512;

/// A user address as the `PVOID` of a `PSAPI_WORKING_SET_EX_INFORMATION` (x64: 64 bits).
#[allow(clippy::cast_possible_truncation)]
fn pvoid(addr: u64) -> *mut core::ffi::c_void {
    addr as usize as _
}

impl Soak {
    pub(crate) fn lock(&mut self, proc: usize, addr: u64, size: u64, lock: bool) -> Result<(), String> {
        let mut k = self.k(proc);
        let ok = if lock { k.VirtualLock(addr, size) } else { k.VirtualUnlock(addr, size) } == TRUE;
        let (lo, hi) = pages_of(addr, size);
        self.reconcile(proc, lo, hi, Allow::default())?;
        if ok && lock {
            // A lock makes every page of the range resident and locked (item 6).
            let mut entries: Vec<PSAPI_WORKING_SET_EX_INFORMATION> = (lo / PAGE..hi.div_ceil(PAGE))
                .take(LOCK_CHECK_PAGES)
                .map(|v| PSAPI_WORKING_SET_EX_INFORMATION { VirtualAddress: pvoid(v * PAGE), ..Default::default() })
                .collect();
            let mut k = self.k(proc);
            let h = k.GetCurrentProcess();
            if k.QueryWorkingSetEx(h, &mut entries) != TRUE {
                return Err(format!("QueryWorkingSetEx after a lock: error {}", k.GetLastError()));
            }
            for e in &entries {
                let ws = WorkingSetExBlock::of(e);
                // The shared user data page (the model's only page of unknown bytes) is the
                // system's: a lock of it succeeds without locking it in the process.
                let system_page = self.slots[proc]
                    .model
                    .pages
                    .get(&(e.VirtualAddress as usize as u64 / PAGE))
                    .is_some_and(|p| p.content == crate::model::Content::Any);
                if !(system_page || (ws.valid && ws.locked)) {
                    return Err(format!(
                        "VirtualLock({addr:#x}, {size:#x}) succeeded but page {:#x} is not resident and locked ({ws:?})",
                        e.VirtualAddress as usize
                    ));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn query_working_set(
        &mut self,
        proc: usize,
        target: Target,
        addr: u64,
        pages: u16,
    ) -> Result<(), String> {
        let (h, ts) = self.open(proc, target);
        let mut entries: Vec<PSAPI_WORKING_SET_EX_INFORMATION> = (0..u64::from(pages))
            .map(|i| PSAPI_WORKING_SET_EX_INFORMATION {
                VirtualAddress: pvoid(addr.wrapping_add(i * PAGE)),
                ..Default::default()
            })
            .collect();
        let ok = self.k(proc).QueryWorkingSetEx(h, &mut entries) == TRUE;
        self.close(proc, target, h)?;
        bad_handle_check("QueryWorkingSetEx", ok, ts)?;
        let Some(t) = ts.filter(|_| ok) else { return Ok(()) };
        for e in &entries {
            let a = e.VirtualAddress as usize as u64;
            let ws = WorkingSetExBlock::of(e);
            if ws.valid && a < USER_END && !self.slots[t].model.pages.contains_key(&(a / PAGE)) {
                return Err(format!("QueryWorkingSetEx: {a:#x} valid ({ws:?}) but not committed"));
            }
            if ws.locked && !ws.valid {
                return Err(format!("QueryWorkingSetEx: {a:#x} locked but not valid ({ws:?})"));
            }
        }
        Ok(())
    }

    pub(crate) fn set_working_set(
        &mut self,
        proc: usize,
        target: Target,
        min: u64,
        max: u64,
        flags: u32,
    ) -> Result<(), String> {
        let (h, ts) = self.open(proc, target);
        let ok = self.k(proc).SetProcessWorkingSetSizeEx(h, min, max, flags) == TRUE;
        let (mut lo, mut hi, mut f) = (0, 0, 0);
        let read = self.k(proc).GetProcessWorkingSetSizeEx(h, &mut lo, &mut hi, &mut f) == TRUE;
        self.close(proc, target, h)?;
        bad_handle_check("SetProcessWorkingSetSizeEx", ok, ts)?;
        if let (Some(t), true) = (ts, read) {
            self.slots[t].hard_max = (f & QUOTA_LIMITS_HARDWS_MAX_ENABLE != 0).then_some(hi / PAGE);
            self.check_hard_maximum(t)?;
        }
        Ok(())
    }
}
