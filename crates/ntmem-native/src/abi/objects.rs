//! Files, file mappings and views: `CreateFileA/W`, `ReadFile`, `WriteFile`, `CloseHandle`,
//! `CreateFileMappingA/W`, `OpenFileMappingA/W`, `MapViewOfFile(Ex)`, `UnmapViewOfFile`,
//! `FlushViewOfFile`. Names are read from the program's memory (`user.rs`); the ANSI
//! functions take their names as UTF-8, as a program using the UTF-8 code page does.
//!
//! `ReadFile` and `WriteFile` check what NtReadFile / NtWriteFile check, in their order: the
//! handle and its access, then the buffer, then the I/O. Kernel32 asked to move no bytes
//! checks the handle alone: in ntmem such a call has no effect (no byte moves, the position
//! stays, the host file is not written), so the wrappers make it first.

use super::{call, Bool, Ctx};
use libc::c_void;

type Handle = *mut c_void;
const INVALID_HANDLE_VALUE: Handle = usize::MAX as Handle;
const ERROR_INVALID_ADDRESS: u32 = 487;

/// The name at `addr` (NULL is `None`); `Err` after setting the fault's error
/// (ERROR_NOACCESS, or a guard page's STATUS_GUARD_PAGE_VIOLATION, F98).
fn name(ctx: &mut Ctx<'_>, addr: usize, wide: bool) -> Result<Option<String>, ()> {
    if addr == 0 {
        return Ok(None);
    }
    match ctx.rt.read_string(addr as u64, wide) {
        Ok(s) => Ok(Some(s)),
        Err(f) => {
            ctx.fault(f);
            Err(())
        }
    }
}

fn create_file(name_at: usize, wide: bool, access: u32, share: u32, disposition: u32, flags: u32) -> Handle {
    call(if wide { "CreateFileW" } else { "CreateFileA" }, INVALID_HANDLE_VALUE, |ctx| {
        let Ok(Some(path)) = name(ctx, name_at, wide) else {
            if name_at == 0 {
                return ctx.fail(3, INVALID_HANDLE_VALUE); // ERROR_PATH_NOT_FOUND
            }
            return INVALID_HANDLE_VALUE;
        };
        ctx.k32(|k| k.CreateFileW(&path, access, share, disposition, flags))
    })
}

/// `CreateFileA`.
#[no_mangle]
pub extern "C" fn CreateFileA(
    lpFileName: *const u8,
    dwDesiredAccess: u32,
    dwShareMode: u32,
    _lpSecurityAttributes: *mut c_void,
    dwCreationDisposition: u32,
    dwFlagsAndAttributes: u32,
    _hTemplateFile: Handle,
) -> Handle {
    create_file(lpFileName as usize, false, dwDesiredAccess, dwShareMode, dwCreationDisposition, dwFlagsAndAttributes)
}

/// `CreateFileW`.
#[no_mangle]
pub extern "C" fn CreateFileW(
    lpFileName: *const u16,
    dwDesiredAccess: u32,
    dwShareMode: u32,
    _lpSecurityAttributes: *mut c_void,
    dwCreationDisposition: u32,
    dwFlagsAndAttributes: u32,
    _hTemplateFile: Handle,
) -> Handle {
    create_file(lpFileName as usize, true, dwDesiredAccess, dwShareMode, dwCreationDisposition, dwFlagsAndAttributes)
}

/// `ReadFile` (synchronous; `lpOverlapped` must be NULL). In Windows' order: the count is
/// zeroed first (F202); then NtReadFile looks up the handle and checks its access; then it
/// probes the buffer (ERROR_NOACCESS; a guard page: STATUS_GUARD_PAGE_VIOLATION, its guard
/// consumed, F98); only then does it read, so a failed check leaves the file position alone.
#[no_mangle]
pub extern "C" fn ReadFile(
    hFile: Handle,
    lpBuffer: *mut c_void,
    nNumberOfBytesToRead: u32,
    lpNumberOfBytesRead: *mut u32,
    _lpOverlapped: *mut c_void,
) -> Bool {
    call("ReadFile", 0, |ctx| {
        // F202: the count is zeroed before any other check.
        if !lpNumberOfBytesRead.is_null() && !ctx.put(lpNumberOfBytesRead as usize, &0u32.to_le_bytes()) {
            return 0;
        }
        // A read of no bytes checks the handle and its read access and does nothing else: it
        // reads nothing and leaves the position where it was.
        if ctx.k32(|k| k.ReadFile(hFile, &mut [], &mut 0)) == 0 {
            return 0;
        }
        if !ctx.probe(lpBuffer as usize, nNumberOfBytesToRead as usize) {
            return 0;
        }
        let mut buf = vec![0u8; nNumberOfBytesToRead as usize];
        let mut n = 0u32;
        let ok = ctx.k32(|k| k.ReadFile(hFile, &mut buf, &mut n));
        if ok != 0 {
            if !ctx.put(lpBuffer as usize, &buf[..n as usize]) {
                return 0;
            }
            if !lpNumberOfBytesRead.is_null() && !ctx.put(lpNumberOfBytesRead as usize, &n.to_le_bytes()) {
                return 0;
            }
        }
        ok
    })
}

/// `WriteFile` (synchronous; `lpOverlapped` must be NULL). In Windows' order, as `ReadFile`:
/// the count zeroed (F202), the handle and its write access, then the buffer read (a guard
/// page: STATUS_GUARD_PAGE_VIOLATION, F98), then the write; a failed check writes nothing.
#[no_mangle]
pub extern "C" fn WriteFile(
    hFile: Handle,
    lpBuffer: *const c_void,
    nNumberOfBytesToWrite: u32,
    lpNumberOfBytesWritten: *mut u32,
    _lpOverlapped: *mut c_void,
) -> Bool {
    call("WriteFile", 0, |ctx| {
        // F202: the count is zeroed before any other check.
        if !lpNumberOfBytesWritten.is_null() && !ctx.put(lpNumberOfBytesWritten as usize, &0u32.to_le_bytes()) {
            return 0;
        }
        // A write of no bytes checks the handle and its write access and does nothing else:
        // the file and its position stay as they were.
        if ctx.k32(|k| k.WriteFile(hFile, &[], &mut 0)) == 0 {
            return 0;
        }
        let mut buf = vec![0u8; nNumberOfBytesToWrite as usize];
        if !ctx.read(lpBuffer as usize, &mut buf) {
            return 0;
        }
        let mut n = 0u32;
        let ok = ctx.k32(|k| k.WriteFile(hFile, &buf, &mut n));
        if ok != 0 && !lpNumberOfBytesWritten.is_null() && !ctx.put(lpNumberOfBytesWritten as usize, &n.to_le_bytes()) {
            return 0;
        }
        ok
    })
}

/// `CloseHandle`.
#[no_mangle]
pub extern "C" fn CloseHandle(hObject: Handle) -> Bool {
    call("CloseHandle", 0, |ctx| ctx.k32(|k| k.CloseHandle(hObject)))
}

fn create_mapping(hFile: Handle, protect: u32, high: u32, low: u32, name_at: usize, wide: bool) -> Handle {
    call(if wide { "CreateFileMappingW" } else { "CreateFileMappingA" }, std::ptr::null_mut(), |ctx| {
        let Ok(name) = name(ctx, name_at, wide) else { return std::ptr::null_mut() };
        ctx.k32(|k| k.CreateFileMappingW(hFile, None, protect, high, low, name.as_deref()))
    })
}

/// `CreateFileMappingA` (no security attributes: there are no security descriptors here).
#[no_mangle]
pub extern "C" fn CreateFileMappingA(
    hFile: Handle,
    _lpFileMappingAttributes: *mut c_void,
    flProtect: u32,
    dwMaximumSizeHigh: u32,
    dwMaximumSizeLow: u32,
    lpName: *const u8,
) -> Handle {
    create_mapping(hFile, flProtect, dwMaximumSizeHigh, dwMaximumSizeLow, lpName as usize, false)
}

/// `CreateFileMappingW`.
#[no_mangle]
pub extern "C" fn CreateFileMappingW(
    hFile: Handle,
    _lpFileMappingAttributes: *mut c_void,
    flProtect: u32,
    dwMaximumSizeHigh: u32,
    dwMaximumSizeLow: u32,
    lpName: *const u16,
) -> Handle {
    create_mapping(hFile, flProtect, dwMaximumSizeHigh, dwMaximumSizeLow, lpName as usize, true)
}

fn open_mapping(access: u32, inherit: Bool, name_at: usize, wide: bool) -> Handle {
    call(if wide { "OpenFileMappingW" } else { "OpenFileMappingA" }, std::ptr::null_mut(), |ctx| {
        let Ok(name) = name(ctx, name_at, wide) else { return std::ptr::null_mut() };
        let Some(name) = name else { return ctx.fail(87, std::ptr::null_mut()) };
        ctx.k32(|k| k.OpenFileMappingW(access, inherit, &name))
    })
}

/// `OpenFileMappingA`.
#[no_mangle]
pub extern "C" fn OpenFileMappingA(dwDesiredAccess: u32, bInheritHandle: Bool, lpName: *const u8) -> Handle {
    open_mapping(dwDesiredAccess, bInheritHandle, lpName as usize, false)
}

/// `OpenFileMappingW`.
#[no_mangle]
pub extern "C" fn OpenFileMappingW(dwDesiredAccess: u32, bInheritHandle: Bool, lpName: *const u16) -> Handle {
    open_mapping(dwDesiredAccess, bInheritHandle, lpName as usize, true)
}

/// `MapViewOfFile`.
#[no_mangle]
pub extern "C" fn MapViewOfFile(
    hFileMappingObject: Handle,
    dwDesiredAccess: u32,
    dwFileOffsetHigh: u32,
    dwFileOffsetLow: u32,
    dwNumberOfBytesToMap: usize,
) -> *mut c_void {
    MapViewOfFileEx(
        hFileMappingObject,
        dwDesiredAccess,
        dwFileOffsetHigh,
        dwFileOffsetLow,
        dwNumberOfBytesToMap,
        std::ptr::null_mut(),
    )
}

/// `MapViewOfFileEx`: the view is taken on the host as an allocation is (`memory.rs`).
#[no_mangle]
pub extern "C" fn MapViewOfFileEx(
    hFileMappingObject: Handle,
    dwDesiredAccess: u32,
    dwFileOffsetHigh: u32,
    dwFileOffsetLow: u32,
    dwNumberOfBytesToMap: usize,
    lpBaseAddress: *mut c_void,
) -> *mut c_void {
    call("MapViewOfFile", std::ptr::null_mut(), |ctx| {
        for _ in 0..2 {
            let base = ctx.k32(|k| {
                k.MapViewOfFileEx(
                    hFileMappingObject,
                    dwDesiredAccess,
                    dwFileOffsetHigh,
                    dwFileOffsetLow,
                    dwNumberOfBytesToMap as u64,
                    lpBaseAddress as u64,
                )
            });
            if base == 0 {
                return std::ptr::null_mut();
            }
            if ctx.rt.own_allocation(base) {
                return base as usize as *mut c_void;
            }
            ctx.k32(|k| k.UnmapViewOfFile(base));
            ctx.rt.reserve_host_ranges();
            if !lpBaseAddress.is_null() {
                break;
            }
        }
        ctx.fail(ERROR_INVALID_ADDRESS, std::ptr::null_mut())
    })
}

/// `UnmapViewOfFile`.
#[no_mangle]
pub extern "C" fn UnmapViewOfFile(lpBaseAddress: *const c_void) -> Bool {
    call("UnmapViewOfFile", 0, |ctx| ctx.k32(|k| k.UnmapViewOfFile(lpBaseAddress as u64)))
}

/// `FlushViewOfFile`.
#[no_mangle]
pub extern "C" fn FlushViewOfFile(lpBaseAddress: *const c_void, dwNumberOfBytesToFlush: usize) -> Bool {
    call("FlushViewOfFile", 0, |ctx| {
        ctx.k32(|k| k.FlushViewOfFile(lpBaseAddress as u64, dwNumberOfBytesToFlush as u64))
    })
}
