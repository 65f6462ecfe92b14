//! `SetProcessWorkingSetSize(Ex)`, `GetProcessWorkingSetSize(Ex)`, `EmptyWorkingSet`,
//! `QueryWorkingSetEx`, `GetPerformanceInfo`.
//!
//! Limits as the SetProcessWorkingSetSizeEx documentation gives them: the minimum must be
//! above zero and at most the maximum, and is raised to 20 pages when smaller; the maximum
//! must be 13 pages or more and below the available pages less 512; both `(SIZE_T)-1` empty
//! the working set; the ENABLE and DISABLE flag of a pair exclude each other. Flags left out
//! keep the current hard-limit setting.

use super::Kernel32;
use crate::errors::status_of_system;
use crate::nt::reference_process;
use ntmem::address_space::{WorkingSetLimits, SMALLEST_MAXIMUM, SMALLEST_MINIMUM};
use ntmem::units::PAGE_SIZE;
use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::System::Memory::*;
use windows_sys::Win32::System::ProcessStatus::{
    PERFORMANCE_INFORMATION, PSAPI_WORKING_SET_EX_BLOCK, PSAPI_WORKING_SET_EX_INFORMATION,
};
use windows_sys::Win32::System::Threading::{
    PROCESS_QUERY_INFORMATION, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SET_QUOTA,
};

/// Pages the system keeps for itself above any working-set maximum.
const SYSTEM_RESERVE_PAGES: u64 = 512;

fn to_usize(bytes: u64) -> usize {
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

/// Pages a working set keeps free to move beside its locked pages (NT's `MM_FLUID_WORKING_SET`).
const FLUID_WORKING_SET: u64 = 8;

#[allow(non_snake_case)]
impl Kernel32<'_> {
    /// Sets the working-set limits of a process (hard-limit settings unchanged).
    pub fn SetProcessWorkingSetSize(
        &mut self,
        hProcess: HANDLE,
        dwMinimumWorkingSetSize: u64,
        dwMaximumWorkingSetSize: u64,
    ) -> BOOL {
        self.SetProcessWorkingSetSizeEx(hProcess, dwMinimumWorkingSetSize, dwMaximumWorkingSetSize, 0)
    }

    /// Sets the working-set limits of a process and whether they are hard.
    pub fn SetProcessWorkingSetSizeEx(
        &mut self,
        hProcess: HANDLE,
        dwMinimumWorkingSetSize: u64,
        dwMaximumWorkingSetSize: u64,
        Flags: u32,
    ) -> BOOL {
        let pid = match reference_process(self.sys, self.pid, hProcess, PROCESS_SET_QUOTA) {
            Ok(p) => p,
            Err(s) => return self.finish_status(s),
        };
        let known = QUOTA_LIMITS_HARDWS_MIN_ENABLE
            | QUOTA_LIMITS_HARDWS_MIN_DISABLE
            | QUOTA_LIMITS_HARDWS_MAX_ENABLE
            | QUOTA_LIMITS_HARDWS_MAX_DISABLE;
        let both = |on, off| Flags & on != 0 && Flags & off != 0;
        if Flags & !known != 0
            || both(QUOTA_LIMITS_HARDWS_MIN_ENABLE, QUOTA_LIMITS_HARDWS_MIN_DISABLE)
            || both(QUOTA_LIMITS_HARDWS_MAX_ENABLE, QUOTA_LIMITS_HARDWS_MAX_DISABLE)
        {
            return self.fail(ERROR_INVALID_PARAMETER, FALSE);
        }
        let available = self.sys.stats().available_pages;
        let mut vm = match self.sys.vm(pid) {
            Ok(vm) => vm,
            Err(e) => return self.finish_status(status_of_system(e)),
        };
        if dwMinimumWorkingSetSize == u64::MAX && dwMaximumWorkingSetSize == u64::MAX {
            vm.empty_working_set();
            return self.finish(TRUE);
        }
        let old = vm.space().working_set().limits();
        let minimum = (dwMinimumWorkingSetSize / PAGE_SIZE).max(SMALLEST_MINIMUM);
        let maximum = dwMaximumWorkingSetSize / PAGE_SIZE;
        if dwMinimumWorkingSetSize == 0
            || maximum < SMALLEST_MAXIMUM
            || minimum > maximum
            || maximum >= available.saturating_sub(SYSTEM_RESERVE_PAGES).max(SMALLEST_MAXIMUM + 1)
        {
            return self.fail(ERROR_INVALID_PARAMETER, FALSE);
        }
        // F194: the locked pages, the shared user data page and a fluid margin must stay below
        // the maximum, or the working set could not move (STATUS_BAD_WORKING_SET_LIMIT, 87).
        if vm.space().counters().locked_pages + 1 + FLUID_WORKING_SET >= maximum {
            return self.fail(ERROR_INVALID_PARAMETER, FALSE);
        }
        let pick = |on, off, current| {
            if Flags & on != 0 {
                true
            } else if Flags & off != 0 {
                false
            } else {
                current
            }
        };
        let limits = WorkingSetLimits {
            minimum,
            maximum,
            hard_minimum: pick(QUOTA_LIMITS_HARDWS_MIN_ENABLE, QUOTA_LIMITS_HARDWS_MIN_DISABLE, old.hard_minimum),
            hard_maximum: pick(QUOTA_LIMITS_HARDWS_MAX_ENABLE, QUOTA_LIMITS_HARDWS_MAX_DISABLE, old.hard_maximum),
        };
        // F195: with both limits hard, the working set needs a fluid margin between them to make
        // progress (STATUS_BAD_WORKING_SET_LIMIT, 87).
        if limits.hard_minimum && limits.hard_maximum && minimum + FLUID_WORKING_SET >= maximum {
            return self.fail(ERROR_INVALID_PARAMETER, FALSE);
        }
        vm.set_working_set_limits(limits);
        self.finish(TRUE)
    }

    /// The working-set limits of a process, in bytes.
    pub fn GetProcessWorkingSetSize(
        &mut self,
        hProcess: HANDLE,
        lpMinimumWorkingSetSize: &mut u64,
        lpMaximumWorkingSetSize: &mut u64,
    ) -> BOOL {
        let mut flags = 0;
        self.GetProcessWorkingSetSizeEx(hProcess, lpMinimumWorkingSetSize, lpMaximumWorkingSetSize, &mut flags)
    }

    /// The working-set limits of a process, in bytes, and whether they are hard.
    pub fn GetProcessWorkingSetSizeEx(
        &mut self,
        hProcess: HANDLE,
        lpMinimumWorkingSetSize: &mut u64,
        lpMaximumWorkingSetSize: &mut u64,
        Flags: &mut u32,
    ) -> BOOL {
        let pid = match reference_process(self.sys, self.pid, hProcess, PROCESS_QUERY_LIMITED_INFORMATION) {
            Ok(p) => p,
            Err(s) => return self.finish_status(s),
        };
        let limits = match self.sys.process(pid).and_then(|p| p.space()) {
            Some(space) => space.working_set().limits(),
            None => return self.finish_status(STATUS_PROCESS_IS_TERMINATING),
        };
        *lpMinimumWorkingSetSize = limits.minimum * PAGE_SIZE;
        *lpMaximumWorkingSetSize = limits.maximum * PAGE_SIZE;
        *Flags = if limits.hard_minimum { QUOTA_LIMITS_HARDWS_MIN_ENABLE } else { QUOTA_LIMITS_HARDWS_MIN_DISABLE }
            | if limits.hard_maximum { QUOTA_LIMITS_HARDWS_MAX_ENABLE } else { QUOTA_LIMITS_HARDWS_MAX_DISABLE };
        self.finish(TRUE)
    }

    /// Removes every page it can from a process's working set (locked pages stay). The handle
    /// needs PROCESS_SET_QUOTA and a query right (F204; a PROCESS_QUERY_INFORMATION handle
    /// holds the limited one too).
    pub fn EmptyWorkingSet(&mut self, hProcess: HANDLE) -> BOOL {
        let rights = PROCESS_SET_QUOTA | PROCESS_QUERY_LIMITED_INFORMATION;
        let pid = match reference_process(self.sys, self.pid, hProcess, rights) {
            Ok(p) => p,
            Err(s) => return self.finish_status(s),
        };
        match self.sys.vm(pid) {
            Ok(mut vm) => {
                vm.empty_working_set();
                self.finish(TRUE)
            }
            Err(e) => self.finish_status(status_of_system(e)),
        }
    }

    /// For each entry's `VirtualAddress`, whether the page is in the working set and how
    /// (F203): Valid (bit 0), ShareCount (3..1, of a shared page only), Win32Protection
    /// (14..4), Shared (15), Locked (22), LargePage (23). A page not in the working set reports
    /// only Shared, when it is a section's page the process has not copied. No entries is
    /// `ERROR_BAD_LENGTH`; the handle needs `PROCESS_QUERY_INFORMATION`.
    pub fn QueryWorkingSetEx(&mut self, hProcess: HANDLE, pv: &mut [PSAPI_WORKING_SET_EX_INFORMATION]) -> BOOL {
        // NtQueryVirtualMemory checks the length before the handle.
        if pv.is_empty() {
            return self.fail(ERROR_BAD_LENGTH, FALSE);
        }
        let pid = match reference_process(self.sys, self.pid, hProcess, PROCESS_QUERY_INFORMATION) {
            Ok(p) => p,
            Err(s) => return self.finish_status(s),
        };
        let vm = match self.sys.vm(pid) {
            Ok(vm) => vm,
            Err(e) => return self.finish_status(status_of_system(e)),
        };
        for entry in pv.iter_mut() {
            let addr = entry.VirtualAddress as usize as u64;
            let flags = match vm.working_set_entry(addr) {
                Some(e) => {
                    let share_count = if e.shared { usize::from(e.share_count.min(7)) } else { 0 };
                    1 | (share_count << 1)
                        | ((crate::protection::to_win32(e.protection) as usize & 0x7FF) << 4)
                        | (usize::from(e.shared) << 15)
                        | (usize::from(e.locked) << 22)
                        | (usize::from(e.large_page) << 23)
                }
                None => usize::from(vm.is_shared_section_page(addr)) << 15,
            };
            entry.VirtualAttributes = PSAPI_WORKING_SET_EX_BLOCK { Flags: flags };
        }
        self.finish(TRUE)
    }

    /// System-wide figures in pages: commit, physical memory, the standby list as the system
    /// cache, the page tables and PFN database as kernel memory, processes and handles.
    pub fn GetPerformanceInfo(&mut self, pPerformanceInformation: &mut PERFORMANCE_INFORMATION, cb: u32) -> BOOL {
        let size = core::mem::size_of::<PERFORMANCE_INFORMATION>();
        if (cb as usize) < size {
            return self.fail(ERROR_BAD_LENGTH, FALSE);
        }
        let s = self.sys.stats();
        let frames = u64::from(self.sys.phys().frame_count());
        let tables: u64 =
            self.sys.running_processes().filter_map(|p| p.space()).map(|sp| sp.page_tables().table_count()).sum();
        let pfn_db_pages = (frames * core::mem::size_of::<ntmem::phys::PfnEntry>() as u64).div_ceil(PAGE_SIZE);
        let handles: usize = self.sys.running_processes().map(|p| p.handles().iter().count()).sum();
        let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        *pPerformanceInformation = PERFORMANCE_INFORMATION {
            cb: u32::try_from(size).expect("a small structure"),
            CommitTotal: to_usize(s.commit_total),
            CommitLimit: to_usize(s.commit_limit),
            CommitPeak: to_usize(s.commit_peak),
            PhysicalTotal: to_usize(frames),
            PhysicalAvailable: to_usize(s.available_pages),
            SystemCache: to_usize(s.standby_pages),
            KernelTotal: to_usize(tables + pfn_db_pages),
            KernelPaged: 0,
            KernelNonpaged: to_usize(tables + pfn_db_pages),
            PageSize: to_usize(PAGE_SIZE),
            HandleCount: count(handles as u64),
            ProcessCount: count(s.processes),
            ThreadCount: count(s.processes),
        };
        self.finish(TRUE)
    }
}
