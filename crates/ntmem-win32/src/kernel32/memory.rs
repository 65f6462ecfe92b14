//! `VirtualAlloc(Ex)`, `VirtualFree(Ex)`, `VirtualProtect(Ex)`, `VirtualQuery(Ex)`,
//! `VirtualLock`/`VirtualUnlock`, `GetWriteWatch`, `ResetWriteWatch`.

use super::Kernel32;
use crate::errors::win32_error_of;
use crate::nt::{self, failed};
use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::System::Memory::{MEMORY_BASIC_INFORMATION64, MEM_RELEASE};
use windows_sys::Win32::System::SystemServices::WRITE_WATCH_FLAG_RESET;

#[allow(non_snake_case)]
impl Kernel32<'_> {
    /// Reserves, commits, resets memory of this process; returns the base or 0.
    pub fn VirtualAlloc(&mut self, lpAddress: u64, dwSize: u64, flAllocationType: u32, flProtect: u32) -> u64 {
        self.VirtualAllocEx(self.GetCurrentProcess(), lpAddress, dwSize, flAllocationType, flProtect)
    }

    /// Reserves, commits, resets memory of the process behind `hProcess`; returns the base or 0.
    pub fn VirtualAllocEx(
        &mut self,
        hProcess: HANDLE,
        lpAddress: u64,
        dwSize: u64,
        flAllocationType: u32,
        flProtect: u32,
    ) -> u64 {
        // kernelbase rejects an address below the allocation granularity itself (F3).
        if lpAddress != 0 && lpAddress < ntmem::units::ALLOCATION_GRANULARITY {
            return self.fail(ERROR_INVALID_PARAMETER, 0);
        }
        let (mut base, mut size) = (lpAddress, dwSize);
        let status = nt::allocate_virtual_memory(
            self.sys,
            self.pid,
            hProcess,
            &mut base,
            0,
            &mut size,
            flAllocationType,
            flProtect,
        );
        if failed(status) {
            return self.fail(win32_error_of(status), 0);
        }
        self.finish(base)
    }

    /// Decommits or releases memory of this process.
    pub fn VirtualFree(&mut self, lpAddress: u64, dwSize: u64, dwFreeType: u32) -> BOOL {
        self.VirtualFreeEx(self.GetCurrentProcess(), lpAddress, dwSize, dwFreeType)
    }

    /// Decommits or releases memory of the process behind `hProcess`.
    pub fn VirtualFreeEx(&mut self, hProcess: HANDLE, lpAddress: u64, dwSize: u64, dwFreeType: u32) -> BOOL {
        // F54: kernelbase insists on a zero size with MEM_RELEASE.
        if dwFreeType & MEM_RELEASE != 0 && dwSize != 0 {
            return self.fail(ERROR_INVALID_PARAMETER, FALSE);
        }
        let (mut base, mut size) = (lpAddress, dwSize);
        let status = nt::free_virtual_memory(self.sys, self.pid, hProcess, &mut base, &mut size, dwFreeType);
        self.finish_status(status)
    }

    /// Changes the protection of committed pages of this process.
    pub fn VirtualProtect(
        &mut self,
        lpAddress: u64,
        dwSize: u64,
        flNewProtect: u32,
        lpflOldProtect: Option<&mut u32>,
    ) -> BOOL {
        self.VirtualProtectEx(self.GetCurrentProcess(), lpAddress, dwSize, flNewProtect, lpflOldProtect)
    }

    /// Changes the protection of committed pages of the process behind `hProcess`.
    pub fn VirtualProtectEx(
        &mut self,
        hProcess: HANDLE,
        lpAddress: u64,
        dwSize: u64,
        flNewProtect: u32,
        lpflOldProtect: Option<&mut u32>,
    ) -> BOOL {
        let (mut base, mut size) = (lpAddress, dwSize);
        let status = nt::protect_virtual_memory(
            self.sys,
            self.pid,
            hProcess,
            &mut base,
            &mut size,
            flNewProtect,
            lpflOldProtect,
        );
        self.finish_status(status)
    }

    /// Describes the region holding `lpAddress` in this process; returns 48 or 0.
    pub fn VirtualQuery(&mut self, lpAddress: u64, lpBuffer: &mut MEMORY_BASIC_INFORMATION64) -> usize {
        self.VirtualQueryEx(self.GetCurrentProcess(), lpAddress, lpBuffer)
    }

    /// Describes the region holding `lpAddress` in the process behind `hProcess`.
    pub fn VirtualQueryEx(
        &mut self,
        hProcess: HANDLE,
        lpAddress: u64,
        lpBuffer: &mut MEMORY_BASIC_INFORMATION64,
    ) -> usize {
        let status = nt::query_virtual_memory(self.sys, self.pid, hProcess, lpAddress, lpBuffer);
        if failed(status) {
            return self.fail(win32_error_of(status), 0);
        }
        self.finish(core::mem::size_of::<MEMORY_BASIC_INFORMATION64>())
    }

    /// Locks pages of this process in its working set.
    pub fn VirtualLock(&mut self, lpAddress: u64, dwSize: u64) -> BOOL {
        let (mut base, mut size) = (lpAddress, dwSize);
        let process = self.GetCurrentProcess();
        let status = nt::lock_virtual_memory(self.sys, self.pid, process, &mut base, &mut size, nt::MAP_PROCESS);
        self.finish_status(status)
    }

    /// Unlocks pages of this process.
    pub fn VirtualUnlock(&mut self, lpAddress: u64, dwSize: u64) -> BOOL {
        let (mut base, mut size) = (lpAddress, dwSize);
        let process = self.GetCurrentProcess();
        let status = nt::unlock_virtual_memory(self.sys, self.pid, process, &mut base, &mut size, nt::MAP_PROCESS);
        self.finish_status(status)
    }

    /// The pages of a write-watch range written since the last reset; returns 0 or
    /// `u32::MAX`. `lpdwCount` is the capacity on entry and the count on return.
    pub fn GetWriteWatch(
        &mut self,
        dwFlags: u32,
        lpBaseAddress: u64,
        dwRegionSize: u64,
        lpAddresses: &mut [u64],
        lpdwCount: &mut usize,
        lpdwGranularity: &mut u32,
    ) -> u32 {
        // F121: flags, size and count are checked before the buffers.
        if dwFlags & !WRITE_WATCH_FLAG_RESET != 0 || dwRegionSize == 0 || *lpdwCount == 0 {
            return self.fail(ERROR_INVALID_PARAMETER, u32::MAX);
        }
        if lpAddresses.len() < *lpdwCount {
            // A results buffer smaller than the count claims faults in the kernel's probe.
            return self.fail(ERROR_NOACCESS, u32::MAX);
        }
        let reset = dwFlags & WRITE_WATCH_FLAG_RESET != 0;
        let out = &mut lpAddresses[..*lpdwCount];
        match nt::get_write_watch(self.sys, self.pid, self.GetCurrentProcess(), reset, lpBaseAddress, dwRegionSize, out)
        {
            Ok(n) => {
                *lpdwCount = n;
                *lpdwGranularity = 0x1000;
                self.finish(0)
            }
            Err(s) => self.fail(win32_error_of(s), u32::MAX),
        }
    }

    /// Forgets the writes to a write-watch range; returns 0 or `u32::MAX`.
    pub fn ResetWriteWatch(&mut self, lpBaseAddress: u64, dwRegionSize: u64) -> u32 {
        let status = nt::reset_write_watch(self.sys, self.pid, self.GetCurrentProcess(), lpBaseAddress, dwRegionSize);
        if failed(status) {
            return self.fail(win32_error_of(status), u32::MAX);
        }
        self.finish(0)
    }
}
