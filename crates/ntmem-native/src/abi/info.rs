//! Figures and the process: `GetSystemInfo`, `GlobalMemoryStatusEx`, `GetProcessMemoryInfo`
//! (`K32GetProcessMemoryInfo`), `GetCurrentProcess`, `GetCurrentProcessId`,
//! `SetProcessWorkingSetSize(Ex)`, `EmptyWorkingSet`, `QueryWorkingSetEx`, `GetLastError`,
//! `SetLastError`, and the vectored exception handlers' registration.

use super::{call, last_error, set_last_error, Bool, Bytes};
use libc::c_void;

type Handle = *mut c_void;
const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
const ERROR_BAD_LENGTH: u32 = 24;

/// `GetSystemInfo`: a buffer that cannot be written is left alone (Windows would raise).
#[no_mangle]
pub extern "C" fn GetSystemInfo(lpSystemInfo: *mut c_void) {
    call("GetSystemInfo", (), |ctx| {
        // SAFETY: SYSTEM_INFO is plain data (integers and raw pointers): all zeroes is valid.
        let mut si: ntmem_win32::SYSTEM_INFO = unsafe { std::mem::zeroed() };
        ctx.k32(|k| k.GetSystemInfo(&mut si));
        // SAFETY: every variant of the union is a plain integer of the same 4 bytes.
        let oem = unsafe { si.Anonymous.dwOemId };
        let bytes = Bytes::default()
            .u32(oem)
            .u32(si.dwPageSize)
            .u64(si.lpMinimumApplicationAddress as u64)
            .u64(si.lpMaximumApplicationAddress as u64)
            .u64(si.dwActiveProcessorMask as u64)
            .u32(si.dwNumberOfProcessors)
            .u32(si.dwProcessorType)
            .u32(si.dwAllocationGranularity)
            .u16(si.wProcessorLevel)
            .u16(si.wProcessorRevision);
        let error = ctx.error;
        let _ = ctx.put(lpSystemInfo as usize, &bytes.0);
        ctx.error = error;
    })
}

/// `GlobalMemoryStatusEx`: `dwLength` is read first (unreadable: ERROR_NOACCESS) and must be
/// 64 (Kernel32 checks it: ERROR_INVALID_PARAMETER), before the structure is probed and
/// written (all 64 bytes or none).
#[no_mangle]
pub extern "C" fn GlobalMemoryStatusEx(lpBuffer: *mut c_void) -> Bool {
    call("GlobalMemoryStatusEx", 0, |ctx| {
        let Some(length) = ctx.get::<4>(lpBuffer as usize).map(u32::from_le_bytes) else { return 0 };
        // SAFETY: MEMORYSTATUSEX is plain integers: all zeroes is valid.
        let mut m: ntmem_win32::MEMORYSTATUSEX = unsafe { std::mem::zeroed() };
        m.dwLength = length;
        if ctx.k32(|k| k.GlobalMemoryStatusEx(&mut m)) == 0 {
            return 0;
        }
        let bytes = Bytes::default()
            .u32(m.dwLength)
            .u32(m.dwMemoryLoad)
            .u64(m.ullTotalPhys)
            .u64(m.ullAvailPhys)
            .u64(m.ullTotalPageFile)
            .u64(m.ullAvailPageFile)
            .u64(m.ullTotalVirtual)
            .u64(m.ullAvailVirtual)
            .u64(m.ullAvailExtendedVirtual);
        Bool::from(ctx.put(lpBuffer as usize, &bytes.0))
    })
}

/// `GetProcessMemoryInfo`: PROCESS_MEMORY_COUNTERS (`cb` 72) or its `_EX` (80).
#[no_mangle]
pub extern "C" fn GetProcessMemoryInfo(Process: Handle, ppsmemCounters: *mut c_void, cb: u32) -> Bool {
    call("GetProcessMemoryInfo", 0, |ctx| {
        if cb < 72 {
            return ctx.fail(ERROR_INSUFFICIENT_BUFFER, 0);
        }
        let size = if cb >= 80 { 80 } else { 72 };
        if !ctx.probe(ppsmemCounters as usize, size) {
            return 0;
        }
        // SAFETY: PROCESS_MEMORY_COUNTERS_EX is plain integers: all zeroes is valid.
        let mut c: ntmem_win32::PROCESS_MEMORY_COUNTERS_EX = unsafe { std::mem::zeroed() };
        if ctx.k32(|k| k.GetProcessMemoryInfo(Process, &mut c)) == 0 {
            return 0;
        }
        let bytes = Bytes::default()
            .u32(size as u32)
            .u32(c.PageFaultCount)
            .u64(c.PeakWorkingSetSize as u64)
            .u64(c.WorkingSetSize as u64)
            .u64(c.QuotaPeakPagedPoolUsage as u64)
            .u64(c.QuotaPagedPoolUsage as u64)
            .u64(c.QuotaPeakNonPagedPoolUsage as u64)
            .u64(c.QuotaNonPagedPoolUsage as u64)
            .u64(c.PagefileUsage as u64)
            .u64(c.PeakPagefileUsage as u64)
            .u64(c.PrivateUsage as u64);
        Bool::from(ctx.put(ppsmemCounters as usize, &bytes.0[..size]))
    })
}

/// `K32GetProcessMemoryInfo`, the name psapi.h maps `GetProcessMemoryInfo` to.
#[no_mangle]
pub extern "C" fn K32GetProcessMemoryInfo(Process: Handle, ppsmemCounters: *mut c_void, cb: u32) -> Bool {
    GetProcessMemoryInfo(Process, ppsmemCounters, cb)
}

/// `GetCurrentProcess`: the pseudo handle `(HANDLE)-1`.
#[no_mangle]
pub extern "C" fn GetCurrentProcess() -> Handle {
    usize::MAX as Handle
}

/// `GetCurrentProcessId`: the process's id in the machine.
#[no_mangle]
pub extern "C" fn GetCurrentProcessId() -> u32 {
    call("GetCurrentProcessId", 0, |ctx| ctx.k32(|k| k.GetCurrentProcessId()))
}

/// `SetProcessWorkingSetSize`.
#[no_mangle]
pub extern "C" fn SetProcessWorkingSetSize(
    hProcess: Handle,
    dwMinimumWorkingSetSize: usize,
    dwMaximumWorkingSetSize: usize,
) -> Bool {
    SetProcessWorkingSetSizeEx(hProcess, dwMinimumWorkingSetSize, dwMaximumWorkingSetSize, 0)
}

/// `SetProcessWorkingSetSizeEx`.
#[no_mangle]
pub extern "C" fn SetProcessWorkingSetSizeEx(
    hProcess: Handle,
    dwMinimumWorkingSetSize: usize,
    dwMaximumWorkingSetSize: usize,
    Flags: u32,
) -> Bool {
    call("SetProcessWorkingSetSizeEx", 0, |ctx| {
        ctx.k32(|k| {
            k.SetProcessWorkingSetSizeEx(
                hProcess,
                dwMinimumWorkingSetSize as u64,
                dwMaximumWorkingSetSize as u64,
                Flags,
            )
        })
    })
}

/// `EmptyWorkingSet`.
#[no_mangle]
pub extern "C" fn EmptyWorkingSet(hProcess: Handle) -> Bool {
    call("EmptyWorkingSet", 0, |ctx| ctx.k32(|k| k.EmptyWorkingSet(hProcess)))
}

/// `K32EmptyWorkingSet`.
#[no_mangle]
pub extern "C" fn K32EmptyWorkingSet(hProcess: Handle) -> Bool {
    EmptyWorkingSet(hProcess)
}

/// `QueryWorkingSetEx`: `cb` bytes of PSAPI_WORKING_SET_EX_INFORMATION (16 each). A `cb`
/// under 16 is ERROR_BAD_LENGTH, checked before anything else, the handle included (WRK
/// NtQueryVirtualMemory: STATUS_INFO_LENGTH_MISMATCH); then the entries are probed and read;
/// then Kernel32 checks the handle.
#[no_mangle]
pub extern "C" fn QueryWorkingSetEx(hProcess: Handle, pv: *mut c_void, cb: u32) -> Bool {
    call("QueryWorkingSetEx", 0, |ctx| {
        let n = cb as usize / 16;
        if n == 0 {
            return ctx.fail(ERROR_BAD_LENGTH, 0);
        }
        // NtQueryVirtualMemory probes all `cb` bytes, aligned to 8, as for VirtualQuery.
        if !ctx.probe_aligned(pv as usize, cb as usize, 8) {
            return 0;
        }
        let mut raw = vec![0u8; n * 16];
        if !ctx.read(pv as usize, &mut raw) {
            return 0;
        }
        let mut entries: Vec<ntmem_win32::PSAPI_WORKING_SET_EX_INFORMATION> = raw
            .chunks_exact(16)
            .map(|e| {
                let mut va = [0u8; 8];
                va.copy_from_slice(&e[..8]);
                ntmem_win32::PSAPI_WORKING_SET_EX_INFORMATION {
                    VirtualAddress: u64::from_le_bytes(va) as usize as *mut c_void,
                    VirtualAttributes: ntmem_win32::PSAPI_WORKING_SET_EX_BLOCK { Flags: 0 },
                }
            })
            .collect();
        if ctx.k32(|k| k.QueryWorkingSetEx(hProcess, &mut entries)) == 0 {
            return 0;
        }
        let mut out = Bytes::default();
        for e in &entries {
            out = out.u64(e.VirtualAddress as u64).u64(ntmem_win32::working_set_ex_flags(e) as u64);
        }
        Bool::from(ctx.put(pv as usize, &out.0))
    })
}

/// `K32QueryWorkingSetEx`.
#[no_mangle]
pub extern "C" fn K32QueryWorkingSetEx(hProcess: Handle, pv: *mut c_void, cb: u32) -> Bool {
    QueryWorkingSetEx(hProcess, pv, cb)
}

/// `GetLastError`.
#[no_mangle]
pub extern "C" fn GetLastError() -> u32 {
    last_error()
}

/// `SetLastError`.
#[no_mangle]
pub extern "C" fn SetLastError(dwErrCode: u32) {
    set_last_error(dwErrCode);
}

/// `AddVectoredExceptionHandler`: the handle, or NULL.
#[no_mangle]
pub extern "C" fn AddVectoredExceptionHandler(First: u32, Handler: *mut c_void) -> *mut c_void {
    if Handler.is_null() {
        return std::ptr::null_mut();
    }
    // The machine starts now, so that the handler's faults are the engine's from here on.
    call("AddVectoredExceptionHandler", (), |_| ());
    crate::veh::add(First != 0, Handler as usize) as *mut c_void
}

/// `RemoveVectoredExceptionHandler`: nonzero when the handler was registered.
#[no_mangle]
pub extern "C" fn RemoveVectoredExceptionHandler(Handle: *mut c_void) -> u32 {
    u32::from(crate::veh::remove(Handle as usize))
}
