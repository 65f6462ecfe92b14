//! `GetSystemInfo`, `GetLargePageMinimum`, `GetProcessMemoryInfo`, `GlobalMemoryStatusEx`.

use super::Kernel32;
use crate::nt::reference_process;
use ntmem::units::{ALLOCATION_GRANULARITY, LARGE_PAGE_SIZE, MAX_USER_ADDRESS, MIN_USER_ADDRESS, PAGE_SIZE, USER_END};
use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::System::ProcessStatus::PROCESS_MEMORY_COUNTERS_EX;
use windows_sys::Win32::System::SystemInformation::{MEMORYSTATUSEX, PROCESSOR_ARCHITECTURE_AMD64, SYSTEM_INFO};
use windows_sys::Win32::System::Threading::PROCESS_QUERY_LIMITED_INFORMATION;

/// `PROCESSOR_AMD_X8664`.
const PROCESSOR_AMD_X8664: u32 = 8664;

fn bytes(pages: u64) -> usize {
    usize::try_from(pages * PAGE_SIZE).unwrap_or(usize::MAX)
}

#[allow(non_snake_case)]
impl Kernel32<'_> {
    /// The machine's geometry (F1): one x64 processor, 4 KiB pages, 64 KiB granularity.
    // The geometry constants fit their 32-bit fields; user addresses fit a 64-bit host's usize.
    #[allow(clippy::cast_possible_truncation)]
    pub fn GetSystemInfo(&self, lpSystemInfo: &mut SYSTEM_INFO) {
        let mut si = SYSTEM_INFO::default();
        si.Anonymous.Anonymous.wProcessorArchitecture = PROCESSOR_ARCHITECTURE_AMD64;
        si.dwPageSize = PAGE_SIZE as u32;
        si.lpMinimumApplicationAddress = MIN_USER_ADDRESS as usize as *mut core::ffi::c_void;
        si.lpMaximumApplicationAddress = MAX_USER_ADDRESS as usize as *mut core::ffi::c_void;
        si.dwActiveProcessorMask = 1;
        si.dwNumberOfProcessors = 1;
        si.dwProcessorType = PROCESSOR_AMD_X8664;
        si.dwAllocationGranularity = ALLOCATION_GRANULARITY as u32;
        si.wProcessorLevel = 6;
        *lpSystemInfo = si;
    }

    /// The large-page size: 2 MiB.
    pub fn GetLargePageMinimum(&self) -> u64 {
        LARGE_PAGE_SIZE
    }

    /// A process's memory figures: faults, working set, private commit (PagefileUsage equals
    /// PrivateUsage, as on Windows).
    pub fn GetProcessMemoryInfo(&mut self, Process: HANDLE, ppsmemCounters: &mut PROCESS_MEMORY_COUNTERS_EX) -> BOOL {
        let pid = match reference_process(self.sys, self.pid, Process, PROCESS_QUERY_LIMITED_INFORMATION) {
            Ok(p) => p,
            Err(s) => return self.finish_status(s),
        };
        let Some(process) = self.sys.process(pid) else { return self.fail(ERROR_INVALID_HANDLE, FALSE) };
        let c = process.counters();
        let running = process.space().is_some();
        *ppsmemCounters = PROCESS_MEMORY_COUNTERS_EX {
            cb: u32::try_from(core::mem::size_of::<PROCESS_MEMORY_COUNTERS_EX>()).expect("a small structure"),
            PageFaultCount: u32::try_from(c.faults.resolved()).unwrap_or(u32::MAX),
            PeakWorkingSetSize: bytes(c.peak_working_set),
            WorkingSetSize: if running { bytes(c.working_set) } else { 0 },
            QuotaPeakPagedPoolUsage: 0,
            QuotaPagedPoolUsage: 0,
            QuotaPeakNonPagedPoolUsage: 0,
            QuotaNonPagedPoolUsage: 0,
            PagefileUsage: if running { bytes(c.committed_pages) } else { 0 },
            PeakPagefileUsage: bytes(c.peak_committed_pages),
            PrivateUsage: if running { bytes(c.committed_pages) } else { 0 },
        };
        self.finish(TRUE)
    }

    /// The system's memory figures. The "page file" figures are the commit limit and what is
    /// left of it, as on Windows.
    pub fn GlobalMemoryStatusEx(&mut self, lpBuffer: &mut MEMORYSTATUSEX) -> BOOL {
        if lpBuffer.dwLength as usize != core::mem::size_of::<MEMORYSTATUSEX>() {
            return self.fail(ERROR_INVALID_PARAMETER, FALSE);
        }
        let stats = self.sys.stats();
        let total = self.sys.config().ram_bytes();
        let avail = stats.available_pages * PAGE_SIZE;
        let reserved: u64 = self
            .sys
            .process(self.pid)
            .and_then(|p| p.space())
            .map_or(0, |s| s.vads().iter().map(|v| v.range.bytes()).sum());
        let virtual_total = USER_END - MIN_USER_ADDRESS;
        *lpBuffer = MEMORYSTATUSEX {
            dwLength: lpBuffer.dwLength,
            dwMemoryLoad: u32::try_from((total - avail.min(total)) * 100 / total).unwrap_or(100),
            ullTotalPhys: total,
            ullAvailPhys: avail,
            ullTotalPageFile: stats.commit_limit * PAGE_SIZE,
            ullAvailPageFile: stats.commit_limit.saturating_sub(stats.commit_total) * PAGE_SIZE,
            ullTotalVirtual: virtual_total,
            ullAvailVirtual: virtual_total - reserved.min(virtual_total),
            ullAvailExtendedVirtual: 0,
        };
        self.finish(TRUE)
    }
}
