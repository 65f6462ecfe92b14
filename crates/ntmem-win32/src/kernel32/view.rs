//! `MapViewOfFile`, `MapViewOfFileEx`, `MapViewOfFile2`, `UnmapViewOfFile`, `UnmapViewOfFile2`,
//! `FlushViewOfFile`: kernelbase turns the desired access into a protection (F152), then calls
//! `NtMapViewOfSection` / `NtUnmapViewOfSection` / `NtFlushVirtualMemory`.

use super::Kernel32;
use crate::errors::win32_error_of;
use crate::nt;
use windows_sys::core::BOOL;
use windows_sys::Win32::Foundation::*;
use windows_sys::Win32::System::Memory::*;

/// The protection of a view asked for with `access` (kernelbase; F152). `FILE_MAP_EXECUTE` is
/// set aside first and makes the result its executable twin. Then FILE_MAP_COPY *alone* asks
/// for copy-on-write; otherwise write wins over read; anything else (COPY with another bit such
/// as `SECTION_MAP_EXECUTE`, or nothing) gives a no-access view, which has no executable twin.
#[must_use]
pub fn view_protection(access: u32) -> u32 {
    let execute = access & FILE_MAP_EXECUTE != 0;
    let access = access & !FILE_MAP_EXECUTE;
    let base = if access == FILE_MAP_COPY {
        PAGE_WRITECOPY
    } else if access & FILE_MAP_WRITE != 0 {
        PAGE_READWRITE
    } else if access & FILE_MAP_READ != 0 {
        PAGE_READONLY
    } else {
        return PAGE_NOACCESS;
    };
    if execute {
        base << 4
    } else {
        base
    }
}

#[allow(non_snake_case)]
impl Kernel32<'_> {
    /// Maps a view of a file mapping into this process where the system chooses; 0 on
    /// failure.
    pub fn MapViewOfFile(
        &mut self,
        hFileMappingObject: HANDLE,
        dwDesiredAccess: u32,
        dwFileOffsetHigh: u32,
        dwFileOffsetLow: u32,
        dwNumberOfBytesToMap: u64,
    ) -> u64 {
        self.MapViewOfFileEx(
            hFileMappingObject,
            dwDesiredAccess,
            dwFileOffsetHigh,
            dwFileOffsetLow,
            dwNumberOfBytesToMap,
            0,
        )
    }

    /// Maps a view at `lpBaseAddress` (64 KiB aligned, F141) or, for 0, where the system
    /// chooses; 0 on failure.
    pub fn MapViewOfFileEx(
        &mut self,
        hFileMappingObject: HANDLE,
        dwDesiredAccess: u32,
        dwFileOffsetHigh: u32,
        dwFileOffsetLow: u32,
        dwNumberOfBytesToMap: u64,
        lpBaseAddress: u64,
    ) -> u64 {
        let offset = (u64::from(dwFileOffsetHigh) << 32) | u64::from(dwFileOffsetLow);
        self.map(
            hFileMappingObject,
            crate::NtCurrentProcess(),
            offset,
            lpBaseAddress,
            dwNumberOfBytesToMap,
            0,
            view_protection(dwDesiredAccess),
        )
    }

    /// Maps a view into the process `ProcessHandle` names, with the page protection given
    /// (`MEM_RESERVE` for a file-backed view that commits nothing, `MEM_TOP_DOWN`); 0 on
    /// failure.
    #[allow(clippy::too_many_arguments)]
    pub fn MapViewOfFile2(
        &mut self,
        FileMappingHandle: HANDLE,
        ProcessHandle: HANDLE,
        Offset: u64,
        BaseAddress: u64,
        ViewSize: u64,
        AllocationType: u32,
        PageProtection: u32,
    ) -> u64 {
        self.map(FileMappingHandle, ProcessHandle, Offset, BaseAddress, ViewSize, AllocationType, PageProtection)
    }

    #[allow(clippy::too_many_arguments)]
    fn map(
        &mut self,
        section: HANDLE,
        process: HANDLE,
        offset: u64,
        base: u64,
        size: u64,
        allocation_type: u32,
        protect: u32,
    ) -> u64 {
        let mut base = base;
        let mut size = size;
        let mut offset = i64::try_from(offset).unwrap_or(-1);
        let status = nt::map_view_of_section(
            self.sys,
            self.pid,
            section,
            process,
            &mut base,
            0,
            0,
            Some(&mut offset),
            &mut size,
            nt::VIEW_SHARE,
            allocation_type,
            protect,
        );
        if nt::failed(status) {
            return self.fail(win32_error_of(status), 0);
        }
        self.last_error = ERROR_SUCCESS;
        self.finish(base)
    }

    /// Unmaps the view holding `lpBaseAddress` (any address inside it, F165).
    pub fn UnmapViewOfFile(&mut self, lpBaseAddress: u64) -> BOOL {
        self.UnmapViewOfFile2(crate::NtCurrentProcess(), lpBaseAddress, 0)
    }

    /// Unmaps a view of the process `Process` names. `UnmapFlags` may hold
    /// `MEM_UNMAP_WITH_TRANSIENT_BOOST` and `MEM_PRESERVE_PLACEHOLDER`; placeholders do not
    /// exist here, so the latter is refused.
    pub fn UnmapViewOfFile2(&mut self, Process: HANDLE, BaseAddress: u64, UnmapFlags: u32) -> BOOL {
        if UnmapFlags & !MEM_UNMAP_WITH_TRANSIENT_BOOST != 0 {
            return self.fail(ERROR_INVALID_PARAMETER, FALSE);
        }
        let status = nt::unmap_view_of_section(self.sys, self.pid, Process, BaseAddress);
        self.finish_status(status)
    }

    /// Writes the modified pages of `[lpBaseAddress, + dwNumberOfBytesToFlush)` of a view to
    /// its file; 0 bytes flushes to the end of the view (F167).
    pub fn FlushViewOfFile(&mut self, lpBaseAddress: u64, dwNumberOfBytesToFlush: u64) -> BOOL {
        let (mut base, mut size) = (lpBaseAddress, dwNumberOfBytesToFlush);
        let mut io = nt::IO_STATUS_BLOCK::default();
        let status =
            nt::flush_virtual_memory(self.sys, self.pid, crate::NtCurrentProcess(), &mut base, &mut size, &mut io);
        self.finish_status(status)
    }
}
