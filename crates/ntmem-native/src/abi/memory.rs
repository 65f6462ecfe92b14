//! `VirtualAlloc`, `VirtualFree`, `VirtualProtect`, `VirtualQuery`, `VirtualLock`,
//! `VirtualUnlock`, `GetWriteWatch`, `ResetWriteWatch`.
//!
//! An allocation the memory manager places is then taken on the host (its whole VAD, `host.rs`);
//! should the host have mapped something there since the machine started, the allocation is
//! undone, what the host now uses is reserved in the process, and a call that let the system
//! choose is placed again (once).

use super::{call, Bool, Bytes, Ctx, ERROR_NOACCESS};
use libc::c_void;

const MEM_RELEASE: u32 = 0x8000;
const ERROR_INVALID_ADDRESS: u32 = 487;
const ERROR_BAD_LENGTH: u32 = 24;
const ERROR_INVALID_PARAMETER: u32 = 87;
const WRITE_WATCH_FLAG_RESET: u32 = 1;
/// `sizeof(MEMORY_BASIC_INFORMATION)` on x64.
const MBI_SIZE: usize = 48;

const MEM_RESERVE: u32 = 0x2000;
const MEM_DECOMMIT: u32 = 0x4000;

/// Takes the allocation at `base` on the host; on a collision undoes it and returns false:
/// a new reservation is released, a commit inside a range the host uses (which the process
/// holds reserved for it) is decommitted.
fn own(ctx: &mut Ctx<'_>, base: u64, size: u64, fresh: bool) -> bool {
    if ctx.rt.own_allocation(base) {
        return true;
    }
    if fresh {
        ctx.k32(|k| k.VirtualFree(base, 0, MEM_RELEASE));
        ctx.rt.reserve_host_ranges();
    } else {
        ctx.k32(|k| k.VirtualFree(base, size, MEM_DECOMMIT));
    }
    false
}

/// `VirtualAlloc`.
#[no_mangle]
pub extern "C" fn VirtualAlloc(
    lpAddress: *mut c_void,
    dwSize: usize,
    flAllocationType: u32,
    flProtect: u32,
) -> *mut c_void {
    call("VirtualAlloc", std::ptr::null_mut(), |ctx| {
        for _ in 0..2 {
            let base = ctx.k32(|k| k.VirtualAlloc(lpAddress as u64, dwSize as u64, flAllocationType, flProtect));
            if base == 0 {
                return std::ptr::null_mut();
            }
            let fresh = flAllocationType & MEM_RESERVE != 0;
            if own(ctx, base, dwSize as u64, fresh) {
                return base as usize as *mut c_void;
            }
            if !lpAddress.is_null() || !fresh {
                break;
            }
        }
        ctx.fail(ERROR_INVALID_ADDRESS, std::ptr::null_mut())
    })
}

/// `VirtualFree`.
#[no_mangle]
pub extern "C" fn VirtualFree(lpAddress: *mut c_void, dwSize: usize, dwFreeType: u32) -> Bool {
    call("VirtualFree", 0, |ctx| ctx.k32(|k| k.VirtualFree(lpAddress as u64, dwSize as u64, dwFreeType)))
}

/// `VirtualProtect`: the old protection is written to `lpflOldProtect`, which must be
/// writable before anything changes. NT checks the new protection before it probes that
/// pointer (F187): a bad protection is ERROR_INVALID_PARAMETER whatever the pointer; with a
/// good one, a pointer that cannot be written is ERROR_NOACCESS (a guard page:
/// STATUS_GUARD_PAGE_VIOLATION, its guard consumed, F98), nothing changed.
#[no_mangle]
pub extern "C" fn VirtualProtect(
    lpAddress: *mut c_void,
    dwSize: usize,
    flNewProtect: u32,
    lpflOldProtect: *mut u32,
) -> Bool {
    call("VirtualProtect", 0, |ctx| {
        let out = lpflOldProtect as usize;
        if ctx.rt.check_user(out as u64, 4).is_err() {
            // Kernel32 given no pointer decides, changing nothing: a bad protection is
            // STATUS_INVALID_PAGE_PROTECTION (87), any other the pointer's access violation.
            let r = ctx.k32(|k| k.VirtualProtect(lpAddress as u64, dwSize as u64, flNewProtect, None));
            if r == 0 && ctx.error == ERROR_NOACCESS {
                // The probe NT makes now: it fails, consuming a guard it meets.
                ctx.probe(out, 4);
            }
            return 0;
        }
        // Kernel32 writes the old protection on success and on the failures NT reports one
        // for (F186, F201). It starts as the caller's own value, so a call that writes
        // nothing (a parameter refused) leaves the caller's variable as it was.
        let Some(was) = ctx.get::<4>(out) else { return 0 };
        let mut old = u32::from_le_bytes(was);
        let ok = ctx.k32(|k| k.VirtualProtect(lpAddress as u64, dwSize as u64, flNewProtect, Some(&mut old)));
        // The pointer was probed, so only the call itself can have made it unwritable (the
        // variable inside the range just made read-only). NT writes the old protection under
        // a handler: a fault there changes neither the result nor the last error.
        if old.to_le_bytes() != was {
            let error = ctx.error;
            if !ctx.put(out, &old.to_le_bytes()) {
                ctx.error = error;
            }
        }
        ok
    })
}

/// `VirtualQuery`: the MEMORY_BASIC_INFORMATION of the region at `lpAddress`; its size (48)
/// or 0. In NtQueryVirtualMemory's order (WRK): a length under 48 is ERROR_BAD_LENGTH; then
/// all `dwLength` bytes of the buffer are probed for write, aligned to 8 (ERROR_NOACCESS;
/// a guard page: STATUS_GUARD_PAGE_VIOLATION, F98); then the address is looked at (a kernel
/// address is ERROR_INVALID_PARAMETER). Only the 48 bytes of the structure are written.
#[no_mangle]
pub extern "C" fn VirtualQuery(lpAddress: *const c_void, lpBuffer: *mut c_void, dwLength: usize) -> usize {
    call("VirtualQuery", 0, |ctx| {
        if dwLength < MBI_SIZE {
            return ctx.fail(ERROR_BAD_LENGTH, 0);
        }
        if !ctx.probe_aligned(lpBuffer as usize, dwLength, 8) {
            return 0;
        }
        let mut mbi = ntmem_win32::MEMORY_BASIC_INFORMATION64 {
            BaseAddress: 0,
            AllocationBase: 0,
            AllocationProtect: 0,
            __alignment1: 0,
            RegionSize: 0,
            State: 0,
            Protect: 0,
            Type: 0,
            __alignment2: 0,
        };
        let n = ctx.k32(|k| k.VirtualQuery(lpAddress as u64, &mut mbi));
        if n == 0 {
            return 0;
        }
        let bytes = Bytes::default()
            .u64(mbi.BaseAddress)
            .u64(mbi.AllocationBase)
            .u32(mbi.AllocationProtect)
            .u32(0)
            .u64(mbi.RegionSize)
            .u32(mbi.State)
            .u32(mbi.Protect)
            .u32(mbi.Type)
            .u32(0);
        if !ctx.put(lpBuffer as usize, &bytes.0) {
            return 0;
        }
        MBI_SIZE
    })
}

/// `VirtualLock`.
#[no_mangle]
pub extern "C" fn VirtualLock(lpAddress: *mut c_void, dwSize: usize) -> Bool {
    call("VirtualLock", 0, |ctx| ctx.k32(|k| k.VirtualLock(lpAddress as u64, dwSize as u64)))
}

/// `VirtualUnlock`.
#[no_mangle]
pub extern "C" fn VirtualUnlock(lpAddress: *mut c_void, dwSize: usize) -> Bool {
    call("VirtualUnlock", 0, |ctx| ctx.k32(|k| k.VirtualUnlock(lpAddress as u64, dwSize as u64)))
}

/// `GetWriteWatch`: 0, or `(UINT)-1` with the last error set. The checks come in
/// Kernel32's order (F121): the flags and the size; then the count, probed for write and
/// read (NtGetWriteWatch's `ProbeForWriteUlong_ptr`), which must not be 0 nor so large that
/// `count * 8` overflows (WRK: STATUS_INVALID_PARAMETER_5, 87); then `count * 8` bytes of
/// results, aligned to 8, and the granularity, probed for write. Only then does Kernel32 run,
/// so a pointer that cannot be written (ERROR_NOACCESS; a guard page:
/// STATUS_GUARD_PAGE_VIOLATION, its guard consumed, F98) fails the call before a RESET has
/// forgotten any write.
#[no_mangle]
pub extern "C" fn GetWriteWatch(
    dwFlags: u32,
    lpBaseAddress: *mut c_void,
    dwRegionSize: usize,
    lpAddresses: *mut *mut c_void,
    lpdwCount: *mut usize,
    lpdwGranularity: *mut u32,
) -> u32 {
    call("GetWriteWatch", u32::MAX, |ctx| {
        if dwFlags & !WRITE_WATCH_FLAG_RESET != 0 || dwRegionSize == 0 {
            return ctx.fail(ERROR_INVALID_PARAMETER, u32::MAX);
        }
        if !ctx.probe(lpdwCount as usize, 8) {
            return u32::MAX;
        }
        let Some(count) = ctx.get::<8>(lpdwCount as usize).map(u64::from_le_bytes) else { return u32::MAX };
        let Some(bytes) = count.checked_mul(8).and_then(|b| usize::try_from(b).ok()) else {
            return ctx.fail(ERROR_INVALID_PARAMETER, u32::MAX);
        };
        if count == 0 {
            return ctx.fail(ERROR_INVALID_PARAMETER, u32::MAX);
        }
        if !ctx.probe_aligned(lpAddresses as usize, bytes, 8) || !ctx.probe(lpdwGranularity as usize, 4) {
            return u32::MAX;
        }
        // No more than the region's pages can be reported: Kernel32 is given a buffer (and a
        // capacity) that size when the caller's is larger.
        let room = count.min(dwRegionSize as u64 / 4096 + 2) as usize;
        let mut out = vec![0u64; room];
        let mut n = room;
        let mut granularity = 0u32;
        let r = ctx.k32(|k| {
            k.GetWriteWatch(dwFlags, lpBaseAddress as u64, dwRegionSize as u64, &mut out, &mut n, &mut granularity)
        });
        if r != 0 {
            return r;
        }
        // Every pointer was probed: these writes land (each all or nothing).
        let list: Vec<u8> = out[..n].iter().flat_map(|a| a.to_le_bytes()).collect();
        if !ctx.put(lpAddresses as usize, &list)
            || !ctx.put(lpdwCount as usize, &(n as u64).to_le_bytes())
            || !ctx.put(lpdwGranularity as usize, &granularity.to_le_bytes())
        {
            return u32::MAX;
        }
        0
    })
}

/// `ResetWriteWatch`.
#[no_mangle]
pub extern "C" fn ResetWriteWatch(lpBaseAddress: *mut c_void, dwRegionSize: usize) -> u32 {
    call("ResetWriteWatch", u32::MAX, |ctx| ctx.k32(|k| k.ResetWriteWatch(lpBaseAddress as u64, dwRegionSize as u64)))
}
